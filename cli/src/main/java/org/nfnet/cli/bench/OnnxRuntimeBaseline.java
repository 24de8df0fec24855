package org.nfnet.cli.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * ONNX Runtime (CPU, Java API) as a float32 baseline: the PyTorch baseline's F0 exported to ONNX
 * (opset 17, standardized weights as constants; {@code export_onnx} in the script), loaded with
 * intra-op threads = cores, inter-op 1, sequential execution and every graph optimization. Before
 * it is timed, its logits on the export's check batch are compared here with PyTorch's.
 */
final class OnnxRuntimeBaseline implements AutoCloseable {
  /** Largest accepted |ORT logit - PyTorch logit|, relative to the largest |logit|. */
  static final double PARITY_TOLERANCE = 1e-4;

  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final OrtSession session;
  private final double parity;
  private final JsonNode export;

  OnnxRuntimeBaseline(Path model, int threads, JsonNode export)
      throws OrtException, IOException {
    this.export = export;
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setIntraOpNumThreads(threads);
      o.setInterOpNumThreads(1);
      o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      if (passiveWaiting()) {
        o.addConfigEntry("session.intra_op.allow_spinning", "0");
      }
      session = env.createSession(model.toString(), o);
    }
    parity = checkParity(model);
  }

  /**
   * Exports the F0 (through the PyTorch process, so it is the model timed there) into the work
   * directory, loads it and checks its logits against PyTorch's.
   */
  static OnnxRuntimeBaseline load(PyTorchProcess pt, Path workDir, int threads)
      throws IOException, OrtException {
    Path model = java.nio.file.Files.createDirectories(workDir).resolve("f0_pytorch_opset17.onnx");
    return new OnnxRuntimeBaseline(model, threads, pt.exportOnnx(model));
  }

  /**
   * Whether the anchors' worker threads should sleep rather than spin while they wait: asked for
   * with {@code OMP_WAIT_POLICY=PASSIVE}, which PyTorch's OpenMP reads itself. On a machine shared
   * with other jobs, spinning runtimes lose most of their speed (PyTorch 1.13 F0 batch 1 ran 8x
   * slower with OpenMP's default spinning than with passive waiting, BENCHMARKS.md); on a quiet
   * machine spinning is the faster default, so it stays the default.
   */
  static boolean passiveWaiting() {
    return "PASSIVE".equalsIgnoreCase(System.getenv("OMP_WAIT_POLICY"));
  }

  /** Max |ORT - PyTorch| over the check batch's logits, relative to PyTorch's max |logit|. */
  double parity() {
    return parity;
  }

  /** The script's account of the export (opset, shapes, its own onnxruntime check if any). */
  JsonNode export() {
    return export;
  }

  /** A float32 NCHW input of {@code batch} random images, for {@link #run}. */
  OnnxTensor input(int batch, int res) throws OrtException {
    SplittableRandom rnd = new SplittableRandom(3);
    float[] x = new float[batch * 3 * res * res];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    return OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {batch, 3, res, res});
  }

  /** One inference call (the result is freed at once). */
  void run(OnnxTensor input) throws IOException {
    try (OrtSession.Result out = session.run(Map.of("input", input))) {
      // timed call; parity was checked at load
    } catch (OrtException e) {
      throw new IOException("ONNX Runtime call failed", e);
    }
  }

  private double checkParity(Path model) throws IOException, OrtException {
    float[] x = floats(Path.of(model + ".input.f32"));
    float[] want = floats(Path.of(model + ".logits.f32"));
    int res = (int) Math.round(Math.sqrt(x.length / 2.0 / 3));
    float[] got;
    try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {2, 3, res, res});
        OrtSession.Result out = session.run(Map.of("input", in))) {
      float[][] l = (float[][]) out.get(0).getValue();
      got = new float[want.length];
      for (int i = 0; i < l.length; i++) {
        System.arraycopy(l[i], 0, got, i * l[i].length, l[i].length);
      }
    }
    double diff = 0;
    double scale = 0;
    for (int i = 0; i < want.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    if (!(diff <= PARITY_TOLERANCE * scale)) {
      throw new IllegalStateException(String.format(java.util.Locale.ROOT, "ONNX Runtime logits "
          + "of %s differ from PyTorch's by %.3g (max |logit| %.3g): the export is not the same "
          + "network", model, diff, scale));
    }
    return diff / scale;
  }

  private static float[] floats(Path p) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
    float[] f = new float[b.remaining() / 4];
    b.asFloatBuffer().get(f);
    return f;
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }
}
