package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.DataInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.nio.FloatBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.preprocess.EvalPreprocessing;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TUint8;

public class ExportRoundTripTest {
  static final int N = 2;
  static final int H = 80;
  static final int W = 61;

  @TempDir
  static Path tmp;
  static NFNetConfig config;
  static Path folded;
  static Path unfolded;
  static NFNetExporter.Result foldedResult;
  static NFNetModel model;
  static byte[] pixels;

  @BeforeAll
  static void export() throws Exception {
    config = TestModels.t0();
    folded = tmp.resolve("t0");
    unfolded = tmp.resolve("t0_unfolded");
    foldedResult = new NFNetExporter(config).parameters(TestModels.randomValues(31))
        .modelCard(Map.of("source_file", "random(seed=31)", "md5", "n/a")).export(folded);
    new NFNetExporter(config).parameters(TestModels.randomValues(31)).fold(false).export(unfolded);
    model = NFNetModel.load(folded);
    pixels = TestModels.randomPixels(5, N * H * W * 3);
  }

  @AfterAll
  static void close() {
    if (model != null) {
      model.close();
    }
  }

  static float[][] logitsOf(NFNetModel m) {
    try (TUint8 t = TUint8.tensorOf(Shape.of(N, H, W, 3), DataBuffers.of(pixels, true, false))) {
      return m.predictUint8(t).logits();
    }
  }

  static float maxAbs(float[][] a) {
    float m = 0;
    for (float[] r : a) {
      for (float v : r) {
        m = Math.max(m, Math.abs(v));
      }
    }
    return m;
  }

  static float maxDiff(float[][] a, float[][] b) {
    float m = 0;
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[i].length; j++) {
        m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
      }
    }
    return m;
  }

  @Test
  void exportWroteModelCardLabelsAndVariables() throws Exception {
    assertTrue(Files.isRegularFile(folded.resolve("saved_model.pb")));
    assertTrue(Files.isRegularFile(folded.resolve("variables/variables.index")));
    assertTrue(Files.isRegularFile(folded.resolve(ModelCard.MARKDOWN)));
    Map<String, Object> card = ModelCard.read(folded);
    assertEquals(10, card.get("num_classes"));
    assertEquals(72, card.get("test_imsize"));
    assertEquals(true, card.get("folded_weight_standardization"));
    assertEquals("random(seed=31)", card.get("source_file"));
    assertEquals(Labels.generic(10), Files.readAllLines(folded.resolve(NFNetExporter.LABELS_FILE)));
    // no temp dirs left beside the export
    try (var s = Files.list(tmp)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".")));
    }
    System.out.printf("T0 export: %d ms, %d bytes, %d params, %d stored values%n",
        foldedResult.millis(), foldedResult.bytes(), foldedResult.parameterCount(),
        foldedResult.storedValues());
  }

  @Test
  void metaGraphHasFourSignaturesWithDynamicShapesAndSaverDef() {
    MetaGraphDef mg = model.metaGraphDef();
    assertTrue(mg.getMetaInfoDef().getTagsList().contains("serve"));
    assertTrue(mg.hasSaverDef());
    assertFalse(mg.getSaverDef().getFilenameTensorName().isEmpty());
    assertFalse(mg.getSaverDef().getRestoreOpName().isEmpty());
    Map<String, SignatureDef> sigs = mg.getSignatureDefMap();
    assertEquals(java.util.Set.of("serving_default", "encoded", "logits_from_normalized", "features"),
        sigs.keySet());
    for (SignatureDef s : sigs.values()) {
      assertEquals("tensorflow/serving/predict", s.getMethodName());
    }
    check(sigs.get("serving_default").getInputsOrThrow("images"), DataType.DT_UINT8, -1, -1, -1, 3);
    check(sigs.get("encoded").getInputsOrThrow("image_bytes"), DataType.DT_STRING, -1);
    check(sigs.get("logits_from_normalized").getInputsOrThrow("normalized"), DataType.DT_FLOAT, -1, -1, -1, 3);
    check(sigs.get("features").getInputsOrThrow("images"), DataType.DT_UINT8, -1, -1, -1, 3);
    for (String k : List.of("serving_default", "encoded")) {
      SignatureDef s = sigs.get(k);
      check(s.getOutputsOrThrow("logits"), DataType.DT_FLOAT, -1, 10);
      check(s.getOutputsOrThrow("probabilities"), DataType.DT_FLOAT, -1, 10);
      check(s.getOutputsOrThrow("top_k_indices"), DataType.DT_INT32, -1, 5);
      check(s.getOutputsOrThrow("top_k_probabilities"), DataType.DT_FLOAT, -1, 5);
      check(s.getOutputsOrThrow("top_k_labels"), DataType.DT_STRING, -1, 5);
    }
    check(sigs.get("logits_from_normalized").getOutputsOrThrow("logits"), DataType.DT_FLOAT, -1, 10);
    check(sigs.get("logits_from_normalized").getOutputsOrThrow("pooled"), DataType.DT_FLOAT, -1,
        config.finalChannels());
    check(sigs.get("features").getOutputsOrThrow("features"), DataType.DT_FLOAT, -1, config.finalChannels());
    // Inference-only graph: exactly one variable per stored tensor, derived from the architecture
    // (each weight-standardized conv keeps its folded kernel w_hat and its bias, not w and gain;
    // everything else as named by ParameterNames), so no optimizer slot, step counter or EMA copy.
    Set<String> wsConvs = new HashSet<>();
    for (ParameterSpec p : NFNetStructure.parameters(config)) {
      if (p.name().equals("gain")) {
        wsConvs.add(p.module());
      }
    }
    Map<String, Long> expected = new TreeMap<>();
    for (ParameterSpec p : NFNetStructure.parameters(config)) {
      boolean ws = wsConvs.contains(p.module());
      if (ws && p.name().equals("gain")) {
        continue;
      }
      expected.put(ws && p.name().equals("w") ? p.tfName() + "_hat" : p.tfName(), p.size());
    }
    Map<String, Long> variables = new TreeMap<>();
    for (NodeDef n : mg.getGraphDef().getNodeList()) {
      if (n.getOp().equals("VariableV2")) {
        long size = 1;
        for (var d : n.getAttrOrThrow("shape").getShape().getDimList()) {
          size *= d.getSize();
        }
        variables.put(n.getName(), size);
      }
    }
    assertEquals(expected, variables);
    assertEquals(expected.values().stream().mapToLong(Long::longValue).sum(), foldedResult.storedValues());
  }

  static void check(TensorInfo t, DataType type, long... dims) {
    assertEquals(type, t.getDtype(), t.toString());
    long[] got = t.getTensorShape().getDimList().stream().mapToLong(d -> d.getSize()).toArray();
    assertArrayEquals(dims, got, t.toString());
  }

  @Test
  void foldedMatchesUnfoldedWithin1e5OfMaxLogit() throws Exception {
    float[][] a = logitsOf(model);
    float[][] b;
    try (NFNetModel u = NFNetModel.load(unfolded)) {
      b = logitsOf(u);
    }
    float scale = maxAbs(b);
    assertTrue(scale > 0.1f, "logits should be non-trivial, max " + scale);
    float d = maxDiff(a, b);
    System.out.printf("folded vs unfolded: max|diff| %.3g, max|logit| %.3g, ratio %.3g%n", d, scale, d / scale);
    assertTrue(d <= 1e-5f * scale, "max diff " + d + " vs max logit " + scale);
  }

  @Test
  void servingDefaultEqualsLogitsFromNormalizedOnIndependentPreprocessing() {
    EvalPreprocessing p = EvalPreprocessing.of(config);
    float[] norm = new float[N * 72 * 72 * 3];
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> out = p.apply(tf, tf.constant(Shape.of(N, H, W, 3), DataBuffers.of(pixels, true, false)));
      try (TFloat32 t = (TFloat32) s.runner().fetch(out).run().get(0)) {
        t.copyTo(DataBuffers.of(norm, false, false));
      }
    }
    float[][] viaNorm = model.logitsFromNormalized(FloatBuffer.wrap(norm), N, 72, 72);
    float[][] viaImages = logitsOf(model);
    float d = maxDiff(viaNorm, viaImages);
    assertTrue(d <= 1e-6f * maxAbs(viaImages), "diff " + d);
  }

  @Test
  void freshProcessReproducesLogitsBitForBit() throws Exception {
    float[][] here = logitsOf(model);
    Path px = tmp.resolve("pixels.bin");
    Path out = tmp.resolve("logits.bin");
    Files.write(px, pixels);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        RoundTripMain.class.getName(), folded.toString(), px.toString(), "" + N, "" + H, "" + W,
        out.toString());
    pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
    pb.redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile());
    Process proc = pb.start();
    assertTrue(proc.waitFor(120, TimeUnit.SECONDS), "child timed out");
    assertEquals(0, proc.exitValue(), Files.readString(tmp.resolve("child.log")));
    try (DataInputStream in = new DataInputStream(new FileInputStream(out.toFile()))) {
      assertEquals(N, in.readInt());
      assertEquals(10, in.readInt());
      for (int i = 0; i < N; i++) {
        for (int j = 0; j < 10; j++) {
          assertEquals(Float.floatToRawIntBits(here[i][j]), in.readInt(), "logit [" + i + "][" + j + "]");
        }
      }
    }
  }

  public static BufferedImage testImage(int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    byte[] px = TestModels.randomPixels(11, w * h * 3);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int i = (y * w + x) * 3;
        img.setRGB(x, y, ((px[i] & 0xff) << 16) | ((px[i + 1] & 0xff) << 8) | (px[i + 2] & 0xff));
      }
    }
    return img;
  }

  @Test
  void predictsPngAndJpegFiles() throws Exception {
    BufferedImage img = testImage(90, 70);
    File png = tmp.resolve("a.png").toFile();
    File jpg = tmp.resolve("a.jpg").toFile();
    assertTrue(ImageIO.write(img, "png", png));
    assertTrue(ImageIO.write(img, "jpg", jpg));
    List<NFNetModel.Prediction> p = model.predict(png.toPath());
    assertEquals(5, p.size());
    float sum = 0;
    for (int i = 0; i < p.size(); i++) {
      assertEquals("class_" + p.get(i).index(), p.get(i).label());
      if (i > 0) {
        assertTrue(p.get(i - 1).probability() >= p.get(i).probability());
      }
      sum += p.get(i).probability();
    }
    assertTrue(sum > 0 && sum <= 1.0001f);
    // PNG is lossless: in-graph decoding gives the same logits as the decoded pixels
    float[][] viaBytes = model.logits(Files.readAllBytes(png.toPath()));
    float[][] viaImage = model.logits(img);
    assertTrue(maxDiff(viaBytes, viaImage) <= 1e-6f * maxAbs(viaImage));
    assertEquals(p, model.predict(img));
    List<NFNetModel.Prediction> j = model.predict(jpg.toPath());
    assertEquals(5, j.size());
    // JPEG via TF's decoder, both routes (in-graph loop vs host-side TF decode) agree exactly
    float[][] f1 = model.features(Files.readAllBytes(jpg.toPath()));
    assertEquals(config.finalChannels(), f1[0].length);
    float[][] enc = model.logits(Files.readAllBytes(jpg.toPath()), Files.readAllBytes(png.toPath()));
    assertEquals(2, enc.length);
    assertTrue(maxDiff(new float[][] {enc[1]}, viaImage) <= 1e-6f * maxAbs(viaImage));
  }

  @Test
  void rejectsTooSmallAndNonImagesBeforeRunning() throws Exception {
    BufferedImage small = testImage(6, 5);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.predict(small));
    assertTrue(e.getMessage().contains("6x5"), e.getMessage());
    File png = tmp.resolve("small.png").toFile();
    ImageIO.write(small, "png", png);
    e = assertThrows(IllegalArgumentException.class, () -> model.predict(png.toPath()));
    assertTrue(e.getMessage().contains("6x5") && e.getMessage().contains("too small"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> model.predict("hello".getBytes()));
    assertTrue(e.getMessage().contains("not a JPEG/PNG/GIF/BMP"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> model.logitsFromNormalized(FloatBuffer.allocate(3 * 16 * 16 * 3), 3, 16, 16));
    assertTrue(e.getMessage().contains("16x16"), e.getMessage());
  }

  @Test
  void refusesToOverwriteUnlessForced() throws Exception {
    Path d = tmp.resolve("again");
    NFNetExporter ex = new NFNetExporter(config).parameters(TestModels.randomValues(1));
    ex.export(d);
    assertThrows(FileAlreadyExistsException.class, () -> ex.export(d));
    ex.force(true).export(d);
    assertTrue(Files.isRegularFile(d.resolve("saved_model.pb")));
    try (var s = Files.list(tmp)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".again")));
    }
  }
}
