package org.nfnet.training.distributed;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;

/**
 * Data parallelism over several devices of one process (one replica per device, "towers") with the
 * same {@link CollectiveAllReduce} ops as across processes; runs in an ordinary local
 * {@code Session} (DirectSession, whose local collective executor needs no group leader).
 *
 * <p>On CPU the devices are logical: {@link #virtualCpuConfig} asks for N CPU devices through
 * {@code ConfigProto.device_count}, which is how the collective ops are tested without GPUs. On a
 * multi-GPU host use {@link #gpus(int)} and {@code communicationHint("nccl")}: with a CUDA build of
 * TF the collective executor then runs NCCL all-reduce between the GPUs; with
 * {@code "auto"} TF picks NCCL for GPU tensors when it is available and ring otherwise. Both
 * can be combined with processes (one process per host, each with its GPUs, group size = total
 * number of devices) by using task-qualified devices ({@link ClusterSpec#device}).
 */
public final class LocalDevices {

  private LocalDevices() {}

  /** {@code base} (may be null) with {@code device_count { key: "CPU" value: n }}. */
  public static ConfigProto virtualCpuConfig(int n, ConfigProto base) {
    if (n < 1) {
      throw new IllegalArgumentException("need at least one CPU device: " + n);
    }
    ConfigProto.Builder b = base == null ? ConfigProto.newBuilder() : base.toBuilder();
    return b.putDeviceCount("CPU", n).build();
  }

  /** {@code /device:CPU:0 .. /device:CPU:n-1} (no job: the process's own devices). */
  public static List<DeviceSpec> cpus(int n) {
    return devices(DeviceSpec.DeviceType.CPU, n);
  }

  /** {@code /device:GPU:0 .. /device:GPU:n-1}. */
  public static List<DeviceSpec> gpus(int n) {
    return devices(DeviceSpec.DeviceType.GPU, n);
  }

  private static List<DeviceSpec> devices(DeviceSpec.DeviceType type, int n) {
    List<DeviceSpec> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(DeviceSpec.newBuilder().deviceType(type).deviceIndex(i).build());
    }
    return out;
  }

  /**
   * Sums per-device gradient lists across devices: {@code perDevice.get(d)} are the gradients
   * computed on {@code devices.get(d)}; the result's element d holds the sums placed on device d.
   * Group size is {@code devices.size()}.
   */
  public static List<List<Operand<TFloat32>>> sum(
      Ops tf,
      List<DeviceSpec> devices,
      List<List<Operand<TFloat32>>> perDevice,
      int groupKey,
      int instanceKeyBase,
      CollectiveAllReduce.Options options) {
    if (devices.size() != perDevice.size()) {
      throw new IllegalArgumentException(
          devices.size() + " devices but " + perDevice.size() + " gradient lists");
    }
    List<List<Operand<TFloat32>>> out = new ArrayList<>(devices.size());
    for (int d = 0; d < devices.size(); d++) {
      out.add(
          CollectiveAllReduce.sum(
              tf.withDevice(devices.get(d)).withSubScope("replica_" + d),
              perDevice.get(d),
              devices.size(),
              groupKey,
              instanceKeyBase,
              options));
    }
    return out;
  }
}
