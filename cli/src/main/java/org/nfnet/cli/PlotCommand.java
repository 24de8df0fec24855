package org.nfnet.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code nfnet plot}: training loss and eval top-1 of several runs in one PNG (e.g. AGC vs none). */
@Command(name = "plot", mixinStandardHelpOptions = true,
    description = "Overlay the curves of several run directories (metrics.csv, evals.csv) in one PNG.")
final class PlotCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "RUN_DIR[=LABEL]", description = "Run directories.")
  List<String> runs;

  @Option(names = "--out", required = true, description = "PNG file to write.")
  Path out;

  @Option(names = "--title", defaultValue = "training curves", description = "Chart title.")
  String title;

  @Override
  public Integer call() throws Exception {
    XYChart chart = new XYChartBuilder().width(1100).height(650).title(title)
        .xAxisTitle("step").yAxisTitle("train loss (smoothed)").build();
    chart.getStyler().setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
    chart.setYAxisGroupTitle(1, "eval top-1");
    for (String spec : runs) {
      int eq = spec.indexOf('=');
      Path dir = Path.of(eq < 0 ? spec : spec.substring(0, eq));
      if (!Files.isDirectory(dir)) {
        throw new UserException("no such run directory: " + dir);
      }
      if (!Files.isRegularFile(dir.resolve(MetricsLog.STEPS_FILE))) {
        throw new UserException(dir + " has no " + MetricsLog.STEPS_FILE + " (not a training run directory)");
      }
      String label = eq < 0 ? dir.toAbsolutePath().normalize().getFileName().toString() : spec.substring(eq + 1);
      List<double[]> steps = MetricsLog.read(dir.resolve(MetricsLog.STEPS_FILE));
      if (!steps.isEmpty()) {
        double[] x = steps.stream().mapToDouble(r -> r[0]).toArray();
        double[] loss = CurvePlot.smooth(steps.stream().mapToDouble(r -> r[1]).toArray());
        // Clip non-finite or huge losses so a diverged run does not flatten the others.
        for (int i = 0; i < loss.length; i++) {
          loss[i] = Double.isFinite(loss[i]) ? Math.min(loss[i], 10) : 10;
        }
        XYSeries l = chart.addSeries(label + ": train loss", x, loss);
        l.setMarker(SeriesMarkers.NONE);
      }
      List<double[]> evals = MetricsLog.read(dir.resolve(MetricsLog.EVALS_FILE));
      if (!evals.isEmpty()) {
        XYSeries e = chart.addSeries(label + ": eval top-1",
            evals.stream().mapToDouble(r -> r[0]).toArray(),
            evals.stream().mapToDouble(r -> r[3]).toArray());
        e.setYAxisGroup(1);
      }
    }
    Path abs = out.toAbsolutePath();
    Files.createDirectories(abs.getParent());
    String f = abs.toString();
    BitmapEncoder.saveBitmap(chart, f.endsWith(".png") ? f.substring(0, f.length() - 4) : f,
        BitmapEncoder.BitmapFormat.PNG);
    spec.commandLine().getOut().println("wrote " + abs);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
