package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.graph.Precision;
import org.nfnet.zoo.preprocess.EvalPreprocessing;

/** Issue 18: the Markdown card is a real table and names the command that works. */
class ModelCardTest {
  @TempDir
  Path tmp;

  /** Cells of a Markdown table row, splitting on unescaped pipes. */
  static int cells(String row) {
    int n = 0;
    for (int i = 0; i < row.length(); i++) {
      if (row.charAt(i) == '\\') {
        i++;
      } else if (row.charAt(i) == '|') {
        n++;
      }
    }
    return n - 1;
  }

  @Test
  void everyRowHasTwoCellsAndTheServeCommandWorks() throws Exception {
    var config = TestModels.t0();
    ModelCard.write(tmp, config, new EvalPreprocessing(config.testImsize(), EvalPreprocessing.CROP_PADDING), true,
        Precision.FLOAT32, 5, 123, 456, Map.of("note", "a|b\nc", "list", List.of(1, 2)));
    List<String> lines = Files.readAllLines(tmp.resolve(ModelCard.MARKDOWN));
    int rows = 0;
    for (String l : lines) {
      if (l.startsWith("|")) {
        assertEquals(2, cells(l), l);
        assertTrue(!l.contains("{\"") && !l.contains("[\""), "no JSON in a cell: " + l);
        rows++;
      }
    }
    String md = String.join("\n", lines);
    assertTrue(md.contains("| architecture.width | "), md);
    assertTrue(md.contains("| preprocessing.mean_rgb | "), md);
    assertTrue(md.contains("| list | 1, 2 |"), md);
    assertTrue(md.contains("`./nfnet serve --model <dir>`"), md);
    assertTrue(rows > 20, "rows: " + rows);
  }
}
