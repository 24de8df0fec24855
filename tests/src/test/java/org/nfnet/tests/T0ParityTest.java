package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.FloatBuffer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.WeightFileReader;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.NFNetOutputs;
import org.nfnet.zoo.graph.VariableParameters;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * The zoo's forward graph against DeepMind's JAX outputs, on weights read by the converters' safe
 * reader in both layouts (DeepMind's release layout and the plain one). Tolerance 2e-5 of max |ref|: exact-erf GELU would be off by ~3e-4, a
 * wrong WS epsilon by ~5e-4.
 */
class T0ParityTest {
  static final double TOLERANCE = 2e-5;

  /**
   * DeepMind's cases, each also through the release-layout file holding the same arrays where
   * there is one ({@code t0_seed5_release.pkl} for {@code t0_seed5_p3.pkl}).
   */
  static Stream<Arguments> cases() {
    JsonNode cases = SharedFixtures.reference().get("cases");
    return java.util.stream.StreamSupport.stream(cases.spliterator(), false).flatMap(c -> {
      String plain = c.get("weights").asText();
      String release = plain.replace("_p3.pkl", "_release.pkl");
      Stream<String> files = java.nio.file.Files.isRegularFile(SharedFixtures.t0().resolve(release)) && !release.equals(plain)
          ? Stream.of(release, plain) : Stream.of(plain);
      return files.map(w -> Arguments.of(w + " @" + c.get("res").asInt(), w, c));
    });
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void logitsAndPooledFeaturesMatchDeepMind(String name, String weightsFile, JsonNode c) throws Exception {
    NFNetConfig t0 = SharedFixtures.t0Config();
    int n = c.get("batch").asInt();
    int res = c.get("res").asInt();
    FloatBuffer input = SharedFixtures.readF32(SharedFixtures.t0().resolve(c.get("input").asText()));
    assertEquals((long) n * res * res * 3, input.remaining());
    try (HaikuParams weights = WeightFileReader.read(SharedFixtures.t0().resolve(weightsFile));
        Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, -1, -1, 3)));
      VariableParameters params = new VariableParameters();
      NFNetOutputs out = new NFNet(t0).build(tf, x, params, ForwardOptions.inference());
      params.load(s, spec -> TFloat32.tensorOf(Shape.of(spec.shape()),
          DataBuffers.of(weights.get(spec.haikuKey()).toFloatBuffer())), null);
      try (TFloat32 images = TFloat32.tensorOf(Shape.of(n, res, res, 3), DataBuffers.of(input));
          Result r = s.runner().feed(x, images).fetch(out.logits()).fetch(out.pooled()).run()) {
        float[] logits = values((TFloat32) r.get(0));
        float[] pooled = values((TFloat32) r.get(1));
        assertEquals(n * t0.numClasses(), logits.length);
        assertEquals(n * t0.finalChannels(), pooled.length);
        double eLogits = SharedFixtures.relativeMaxError(c.get("logits"), logits, t0.numClasses());
        double ePool = SharedFixtures.relativeMaxError(c.get("pool"), pooled, t0.finalChannels());
        assertTrue(eLogits <= TOLERANCE, name + ": logits off by " + eLogits + " of max |ref|");
        assertTrue(ePool <= TOLERANCE, name + ": pooled off by " + ePool + " of max |ref|");
      }
    }
  }

  static float[] values(TFloat32 t) {
    float[] v = new float[(int) t.shape().size()];
    t.asRawTensor().data().asFloats().read(v);
    return v;
  }
}
