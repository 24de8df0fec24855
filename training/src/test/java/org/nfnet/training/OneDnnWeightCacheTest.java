package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The environment check against TensorFlow's own parsing of {@code TF_ONEDNN_ASSUME_FROZEN_WEIGHTS}
 * ({@code ReadBoolFromEnvVar}: "0"/"false" and "1"/"true" in any case; anything else, the empty
 * string included, is an error that aborts the process).
 */
class OneDnnWeightCacheTest {
  private static Map<String, String> env(String value) {
    return Map.of(OneDnnWeightCache.VARIABLE, value);
  }

  @Test
  void readsTheValuesTensorFlowAccepts() {
    assertFalse(OneDnnWeightCache.on(Map.of()));
    for (String v : new String[] {"1", "true", "TRUE", "True"}) {
      assertTrue(OneDnnWeightCache.on(env(v)), v);
    }
    for (String v : new String[] {"0", "false", "FALSE"}) {
      assertFalse(OneDnnWeightCache.on(env(v)), v);
    }
  }

  @Test
  void refusesValuesTensorFlowWouldAbortOn() {
    for (String v : new String[] {"", "yes", "on", "2", " 1"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> OneDnnWeightCache.on(env(v)), v);
      assertTrue(e.getMessage().startsWith(OneDnnWeightCache.VARIABLE + "=\"" + v + "\""),
          e.getMessage());
    }
  }

  @Test
  void trainingRefusesTheCacheAndSaysWhy() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OneDnnWeightCache.refuseForTraining(env("true")));
    assertTrue(e.getMessage().startsWith("TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=true is set"),
        e.getMessage());
    assertTrue(e.getMessage().contains("never see its own updates"), e.getMessage());
    assertDoesNotThrow(() -> OneDnnWeightCache.refuseForTraining(env("0")));
    assertDoesNotThrow(() -> OneDnnWeightCache.refuseForTraining(Map.of()));
    assertEquals("TF_ONEDNN_ASSUME_FROZEN_WEIGHTS", OneDnnWeightCache.VARIABLE);
  }
}
