package org.nfnet.training;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The end-of-run PNG: training loss (left axis) and train / eval top-1 (right axis) per step. */
public final class CurvePlot {
  private CurvePlot() {}

  public static void save(List<TrainStep.StepMetrics> steps, List<TrainStep.EvalMetrics> evals,
      String title, Path png) throws IOException {
    XYChart chart = new XYChartBuilder().width(1000).height(600).title(title)
        .xAxisTitle("step").yAxisTitle("loss").build();
    chart.getStyler().setYAxisGroupPosition(1, org.knowm.xchart.style.Styler.YAxisPosition.Right);
    chart.setYAxisGroupTitle(1, "top-1 accuracy");
    if (!steps.isEmpty()) {
      double[] x = steps.stream().mapToDouble(TrainStep.StepMetrics::step).toArray();
      XYSeries loss = chart.addSeries("train loss", x,
          steps.stream().mapToDouble(TrainStep.StepMetrics::loss).toArray());
      loss.setMarker(SeriesMarkers.NONE);
      XYSeries acc = chart.addSeries("train top-1 (batch, smoothed)", x,
          smooth(steps.stream().mapToDouble(TrainStep.StepMetrics::top1).toArray()));
      acc.setMarker(SeriesMarkers.NONE);
      acc.setYAxisGroup(1);
    }
    if (!evals.isEmpty()) {
      XYSeries ev = chart.addSeries("eval top-1 (EMA)",
          evals.stream().mapToDouble(TrainStep.EvalMetrics::step).toArray(),
          evals.stream().mapToDouble(TrainStep.EvalMetrics::top1).toArray());
      ev.setYAxisGroup(1);
    }
    String file = png.toString();
    BitmapEncoder.saveBitmap(chart, file.endsWith(".png") ? file.substring(0, file.length() - 4)
        : file, BitmapEncoder.BitmapFormat.PNG);
  }

  /** Exponential smoothing (0.9) so per-batch accuracy is readable. */
  public static double[] smooth(double[] v) {
    double[] out = new double[v.length];
    double s = v.length > 0 ? v[0] : 0;
    for (int i = 0; i < v.length; i++) {
      s = 0.9 * s + 0.1 * v[i];
      out[i] = i == 0 ? v[0] : s;
    }
    return out;
  }
}
