package org.nfnet.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class VariantValidationTest {
  private static final String T0 = "{\"width\":[32,64,128,128],\"depth\":[1,2,2,1],"
      + "\"group_width\":[16,16,16,16],\"train_imsize\":64,\"test_imsize\":72,\"drop_rate\":0.2";

  private static String error(String json) {
    return assertThrows(IllegalArgumentException.class, () -> VariantJson.parse(json, "v")).getMessage();
  }

  @Test
  void unknownVariantListsValidNames() {
    String m = assertThrows(IllegalArgumentException.class, () -> Variants.get("F8")).getMessage();
    assertTrue(m.contains("'F8'") && m.contains("F0, F1") && m.contains("F7+"), m);
  }

  @Test
  void namedVariantsAreCaseInsensitiveAndComplete() {
    assertEquals(16, Variants.names().size());
    assertEquals("F3+", Variants.get("f3+").name());
    assertEquals(384, Variants.get("F4").trainImsize());
    assertEquals("415", Variants.get("F4").raLevel());
    assertEquals(0.3, Variants.get("F1").dropRate());
  }

  @Test
  void jsonVariantParsesWithOptionalNumClasses() {
    NFNetConfig c = VariantJson.parse(T0 + ",\"num_classes\":10}", "t0");
    assertEquals(10, c.numClasses());
    assertEquals(289_872, NFNetStructure.parameterCount(c));
    assertEquals(1000, VariantJson.parse(T0 + "}", "t0").numClasses());
  }

  @Test
  void nestedVariantTakesNumClassesBesideItAndNothingElse() {
    assertEquals(10, VariantJson.parse("{\"variant\":" + T0 + "},\"num_classes\":10}", "t0").numClasses());
    assertTrue(error("{\"variant\":" + T0 + "},\"num_classes\":10,\"shapes\":{}}")
        .contains("unknown key 'shapes' beside 'variant'"));
  }

  @Test
  void inconsistentJsonNamesKeyAndValue() {
    assertTrue(error(T0.replace("[16,16,16,16]", "[16,24,16,16]") + "}")
        .contains("'group_width'[1] = 24 does not divide the bottleneck width 32"));
    assertTrue(error(T0.replace("[1,2,2,1]", "[1,0,2,1]") + "}").contains("'depth'[1] = 0 is out of range [1, 256]"));
    assertTrue(error(T0.replace(",\"drop_rate\":0.2", "") + "}").contains("missing required variant key 'drop_rate'"));
    assertTrue(error(T0 + ",\"widht\":1}").contains("unknown variant key 'widht'"));
    assertTrue(error(T0.replace("[32,64,128,128]", "[32,64,128]") + "}").contains("'width'"));
    assertTrue(error(T0.replace("64,\"test", "\"big\",\"test") + "}").contains("'train_imsize'"));
    assertTrue(error(T0.replace("[16,16,16,16]", "[64,16,16,16]") + "}")
        .contains("group_width[0] = 64 is larger than the bottleneck width 16"));
  }
}
