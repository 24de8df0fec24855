package org.nfnet.training.distributed;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tensorflow.DeviceSpec;
import org.tensorflow.proto.ConfigProto;

/**
 * How a {@link org.nfnet.training.TrainStep} is replicated for synchronous data parallelism: over
 * the tasks of a cluster (one {@link WorkerServer} per process), over several devices of this
 * process ("towers": virtual CPUs or GPUs), or both. Every replica computes gradients on its
 * shard of the global batch; the step sums them with {@link CollectiveAllReduce}
 * ({@code CollectiveReduceV2}), divides by {@link #replicas()} and only then clips (AGC) and
 * updates, identically on every replica.
 *
 * @param server this process's task of the cluster, or null for a single process
 * @param devices replicas (towers) in this process, {@code >= 1}
 * @param deviceType CPU (virtual CPU devices via {@code device_count} when {@code devices > 1})
 *     or GPU (one tower per GPU, NCCL hint)
 * @param timeoutSeconds collective timeout: a step waiting longer for a peer fails (0 = never);
 *     must exceed the slowest replica's forward+backward pass and the first step's setup
 * @param packSmallerThan gradients with fewer elements are packed into one collective
 */
public record DataParallel(WorkerServer server, int devices, DeviceSpec.DeviceType deviceType,
    float timeoutSeconds, long packSmallerThan) {

  /** Default collective timeout (seconds). */
  public static final float DEFAULT_TIMEOUT_SECONDS = 300f;
  /** Default packing threshold (elements), see {@link CollectiveAllReduce.Options}. */
  public static final long DEFAULT_PACK_BELOW = 1L << 20;

  public DataParallel {
    if (devices < 1) {
      throw new IllegalArgumentException("devices must be >= 1: " + devices);
    }
    if (deviceType == null) {
      deviceType = DeviceSpec.DeviceType.CPU;
    }
  }

  /** {@code n} towers in this process, no cluster. */
  public static DataParallel local(int n, DeviceSpec.DeviceType type) {
    return new DataParallel(null, n, type, DEFAULT_TIMEOUT_SECONDS, DEFAULT_PACK_BELOW);
  }

  /** One replica per task of {@code server}'s cluster ({@code devicesPerTask} towers each). */
  public static DataParallel cluster(WorkerServer server, int devicesPerTask,
      DeviceSpec.DeviceType type) {
    return new DataParallel(server, devicesPerTask, type, DEFAULT_TIMEOUT_SECONDS,
        DEFAULT_PACK_BELOW);
  }

  public DataParallel withTimeoutSeconds(float s) {
    return new DataParallel(server, devices, deviceType, s, packSmallerThan);
  }

  public DataParallel withPackSmallerThan(long n) {
    return new DataParallel(server, devices, deviceType, timeoutSeconds, n);
  }

  /** The cluster, or null without one. */
  public ClusterSpec cluster() {
    return server == null ? null : server.cluster();
  }

  public int numTasks() {
    return server == null ? 1 : server.cluster().numTasks();
  }

  public int taskIndex() {
    return server == null ? 0 : server.cluster().taskIndex();
  }

  public boolean isChief() {
    return taskIndex() == 0;
  }

  /** Total replicas = collective group size: tasks x towers per task. */
  public int replicas() {
    return numTasks() * devices;
  }

  /** Global index of tower {@code d} of this task. */
  public int replicaIndex(int d) {
    return taskIndex() * devices + d;
  }

  /** The devices of this process's towers (task-qualified in a cluster). */
  public List<DeviceSpec> towerDevices() {
    List<DeviceSpec> out = new ArrayList<>(devices);
    for (int d = 0; d < devices; d++) {
      out.add(server == null
          ? DeviceSpec.newBuilder().deviceType(deviceType).deviceIndex(d).build()
          : ClusterSpec.device(taskIndex(), deviceType, d));
    }
    return out;
  }

  /** {@code "nccl"} for GPU towers, {@code "auto"} (ring) otherwise. */
  public String communicationHint() {
    return deviceType == DeviceSpec.DeviceType.GPU ? "nccl" : "auto";
  }

  /** Collective options of the step. */
  public CollectiveAllReduce.Options collectiveOptions() {
    return CollectiveAllReduce.Options.defaults().timeoutSeconds(timeoutSeconds)
        .packSmallerThan(packSmallerThan).communicationHint(communicationHint());
  }

  /**
   * Session config: {@code base} plus virtual CPU devices when there are several CPU towers, plus
   * (in a cluster) the group leader and device filter of {@link ClusterSpec#sessionConfig}.
   */
  public ConfigProto sessionConfig(ConfigProto base) {
    ConfigProto c = base == null ? ConfigProto.getDefaultInstance() : base;
    c = baseServerConfig(c, devices, deviceType);
    return server == null ? c : server.cluster().sessionConfig(c);
  }

  /** {@code base} with {@code device_count {CPU: n}} for several CPU towers (server start too). */
  public static ConfigProto baseServerConfig(ConfigProto base, int devices,
      DeviceSpec.DeviceType type) {
    ConfigProto c = base == null ? ConfigProto.getDefaultInstance() : base;
    return devices > 1 && type == DeviceSpec.DeviceType.CPU
        ? LocalDevices.virtualCpuConfig(devices, c) : c;
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "%d replica(s): %s x %d %s", replicas(),
        server == null ? "1 process" : numTasks() + " tasks (this is task " + taskIndex() + ")",
        devices, deviceType);
  }
}
