package org.nfnet.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A run's {@code curves.png}: training loss (left axis) and train / eval top-1 (right axis) per
 * step, read from the run's {@code metrics.csv} and {@code evals.csv}, so the plot covers the whole
 * run across resumes.
 */
final class CurvePlot {
  private CurvePlot() {}

  /** Writes the plot of {@code runDir}'s metrics to {@code png}; returns the number of series. */
  static int save(Path runDir, String title, Path png) throws IOException {
    List<double[]> steps = MetricsLog.read(runDir.resolve(MetricsLog.STEPS_FILE));
    List<double[]> evals = MetricsLog.read(runDir.resolve(MetricsLog.EVALS_FILE));
    XYChart chart = new XYChartBuilder().width(1000).height(600).title(title)
        .xAxisTitle("step").yAxisTitle("loss").build();
    chart.getStyler().setYAxisGroupPosition(1, org.knowm.xchart.style.Styler.YAxisPosition.Right);
    chart.setYAxisGroupTitle(1, "top-1 accuracy");
    if (!steps.isEmpty()) {
      double[] x = steps.stream().mapToDouble(r -> r[0]).toArray();
      XYSeries loss = chart.addSeries("train loss", x, steps.stream().mapToDouble(r -> r[1]).toArray());
      loss.setMarker(SeriesMarkers.NONE);
      XYSeries acc = chart.addSeries("train top-1 (batch, smoothed)", x,
          smooth(steps.stream().mapToDouble(r -> r[2]).toArray()));
      acc.setMarker(SeriesMarkers.NONE);
      acc.setYAxisGroup(1);
    }
    if (!evals.isEmpty()) {
      XYSeries ev = chart.addSeries("eval top-1 (EMA)", evals.stream().mapToDouble(r -> r[0]).toArray(),
          evals.stream().mapToDouble(r -> r[3]).toArray());
      ev.setYAxisGroup(1);
    }
    String file = png.toString();
    BitmapEncoder.saveBitmap(chart, file.endsWith(".png") ? file.substring(0, file.length() - 4)
        : file, BitmapEncoder.BitmapFormat.PNG);
    return chart.getSeriesMap().size();
  }

  /** Exponential smoothing (0.9) so per-batch accuracy is readable. */
  static double[] smooth(double[] v) {
    double[] out = new double[v.length];
    double s = v.length > 0 ? v[0] : 0;
    for (int i = 0; i < v.length; i++) {
      s = 0.9 * s + 0.1 * v[i];
      out[i] = i == 0 ? v[0] : s;
    }
    return out;
  }
}
