package org.nfnet.training.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

/** Two logical CPU devices in this process, collectives between them (test 6b). */
class LocalDevicesTest {

  @Test
  @Timeout(60)
  void twoVirtualCpusHoldExactSum() {
    for (long packBelow : new long[] {0, Long.MAX_VALUE, 6}) {
      List<DeviceSpec> devices = LocalDevices.cpus(2);
      try (Graph g = new Graph()) {
        Ops tf = Ops.create(g);
        List<List<Operand<TFloat32>>> grads = new ArrayList<>();
        for (int d = 0; d < 2; d++) {
          Ops dev = tf.withDevice(devices.get(d));
          grads.add(
              List.of(
                  dev.constant(Shape.of(2, 3), DataBuffers.of(WorkerProcessMain.gradient(d, 6, 0))),
                  dev.constant(WorkerProcessMain.gradient(d, 5, 0.5f)),
                  dev.constant(WorkerProcessMain.gradient(d, 1, 0))));
        }
        List<List<Operand<TFloat32>>> sums =
            LocalDevices.sum(tf, devices, grads, 7, 10,
                CollectiveAllReduce.Options.defaults().timeoutSeconds(20).packSmallerThan(packBelow));
        long collectives = 0;
        for (var it = g.operations(); it.hasNext(); ) {
          if (it.next().type().equals("CollectiveReduceV2")) {
            collectives++;
          }
        }
        // Per device: 3 separate, 1 packed, or 1 large + 1 packed pair.
        assertEquals(packBelow == 0 ? 6 : packBelow == 6 ? 4 : 2, collectives);
        try (Session s = new Session(g, LocalDevices.virtualCpuConfig(2, null))) {
          Session.Runner r =
              s.runner().setOptions(RunOptions.newBuilder().setTimeoutInMs(30_000).build());
          sums.forEach(l -> l.forEach(r::fetch));
          try (Result res = r.run()) {
            float[] sum0 = {3, 6, 9, 12, 15, 18};
            float[] sum1 = {3, 7, 11, 15, 19};
            for (int d = 0; d < 2; d++) {
              TFloat32 a = (TFloat32) res.get(3 * d);
              String what = "packBelow=" + packBelow + " device " + d;
              assertEquals(Shape.of(2, 3), a.shape(), what);
              assertArrayEquals(sum0, read(a), 0f, what);
              assertArrayEquals(sum1, read((TFloat32) res.get(3 * d + 1)), 0f, what);
              assertArrayEquals(new float[] {3}, read((TFloat32) res.get(3 * d + 2)), 0f, what);
            }
          }
        }
      }
    }
  }

  static float[] read(TFloat32 t) {
    float[] v = new float[(int) t.size()];
    t.copyTo(DataBuffers.of(v, false, false));
    return v;
  }
}
