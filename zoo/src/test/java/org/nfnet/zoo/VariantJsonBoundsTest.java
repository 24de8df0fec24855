package org.nfnet.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Issue 14 bug 5: absurd variant files are refused, naming the field, before anything is sized. */
class VariantJsonBoundsTest {
  private static final String OK = "\"width\":[32,64,128,128],\"depth\":[1,1,1,1],"
      + "\"train_imsize\":32,\"test_imsize\":32,\"drop_rate\":0.1";

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "\"depth\":[1000000,1,1,1]|'depth'[0] = 1000000 is out of range [1, 256]",
      "\"depth\":[1,0,1,1]|'depth'[1] = 0 is out of range [1, 256]",
      "\"width\":[32,64,128,-5]|'width'[3] = -5 is out of range [1, 16384]",
      "\"width\":[32,64,128,100000]|'width'[3] = 100000 is out of range [1, 16384]",
      "\"train_imsize\":100000|'train_imsize' = 100000 is out of range [1, 4096]",
      "\"test_imsize\":0|'test_imsize' = 0 is out of range [1, 4096]",
      "\"num_classes\":0|'num_classes' = 0 is out of range [1, 1000000]",
      "\"num_classes\":2000000000|'num_classes' = 2000000000 is out of range [1, 1000000]",
      "\"drop_rate\":1.5|'drop_rate' = 1.5 is out of range [0, 1)",
      "\"group_width\":[0,16,16,16]|'group_width'[0] = 0 is out of range [1, 16384]",
      "\"expansion\":[0.5,0.5,0.5,100]|'expansion'[3] = 100.0 is out of range (0, 16]",
      "\"width\":[32,64.5,128,128]|'width'[1] = 64.5 is not an integer",
      "\"depth\":\"two\"|'depth'[0] = \"two\" is not an integer",
      "\"width\":[32,64,128]|'width' = [32,64,128] must have 4 entries (one per stage)",
      "\"expansion\":[0.5,0.5,\"x\",0.5]|'expansion'[2] = \"x\" is not a number",
      "\"big_width\":[true,true,1,true]|'big_width'[2] = 1 is not true/false",
      "\"width\":[16384,16384,16384,16384],\"depth\":[256,256,256,256],\"group_width\":[128,128,128,128]|"
          + "parameters, over the limit of 4000000000"})
  void absurdValueIsRefusedNamingTheField(String override, String message) {
    // Later keys replace earlier ones in Jackson's tree: the override wins.
    String json = "{" + OK + "," + override + "}";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> VariantJson.parse(json, "absurd"));
    assertEquals(true, e.getMessage().contains(message), e.getMessage());
  }
}
