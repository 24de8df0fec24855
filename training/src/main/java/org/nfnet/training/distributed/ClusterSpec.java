package org.nfnet.training.distributed;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.DeviceSpec;
import org.tensorflow.proto.ClusterDef;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.JobDef;
import org.tensorflow.proto.ServerDef;

/**
 * A data-parallel cluster: one TensorFlow job named {@value #JOB} with N tasks, and the index of
 * the task this process runs. Parsed from the trainer flags {@code --cluster host:port,host:port
 * --task-index i}; task {@code i} is the i-th entry, task 0 is the collective group leader.
 *
 * <p>All tasks must be given the same list in the same order.
 */
public final class ClusterSpec {

  /** The only job of the cluster. */
  public static final String JOB = "worker";

  private final List<String> workers;
  private final int taskIndex;

  private ClusterSpec(List<String> workers, int taskIndex) {
    this.workers = List.copyOf(workers);
    this.taskIndex = taskIndex;
  }

  /**
   * Parses {@code host:port[,host:port...]} (IPv6 hosts in brackets: {@code [::1]:2222}).
   *
   * @throws IllegalArgumentException on an empty list, a malformed entry, a bad port, a duplicate
   *     address or a task index out of range
   */
  public static ClusterSpec parse(String hostPorts, int taskIndex) {
    if (hostPorts == null || hostPorts.isBlank()) {
      throw new IllegalArgumentException("--cluster is empty; expected host:port[,host:port...]");
    }
    List<String> list = new ArrayList<>();
    for (String raw : hostPorts.split(",", -1)) {
      list.add(raw.trim());
    }
    return of(list, taskIndex);
  }

  /** Same as {@link #parse} from an already split list. */
  public static ClusterSpec of(List<String> hostPorts, int taskIndex) {
    Set<String> seen = new HashSet<>();
    for (String hp : hostPorts) {
      validate(hp);
      if (!seen.add(hp)) {
        throw new IllegalArgumentException("duplicate cluster address '" + hp + "'");
      }
    }
    if (hostPorts.isEmpty()) {
      throw new IllegalArgumentException("cluster has no task");
    }
    if (taskIndex < 0 || taskIndex >= hostPorts.size()) {
      throw new IllegalArgumentException(
          "--task-index " + taskIndex + " out of range [0, " + hostPorts.size() + ")");
    }
    return new ClusterSpec(hostPorts, taskIndex);
  }

  private static void validate(String hp) {
    int colon = hp.lastIndexOf(':');
    if (hp.isEmpty() || colon <= 0 || colon == hp.length() - 1) {
      throw new IllegalArgumentException("cluster address '" + hp + "' is not host:port");
    }
    String host = hp.substring(0, colon);
    if (host.contains(":") && !(host.startsWith("[") && host.endsWith("]"))) {
      throw new IllegalArgumentException("IPv6 host must be bracketed in '" + hp + "'");
    }
    if (host.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("cluster address '" + hp + "' contains whitespace");
    }
    int port;
    try {
      port = Integer.parseInt(hp.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad port in cluster address '" + hp + "'");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port out of range in cluster address '" + hp + "'");
    }
  }

  /** Addresses of all tasks, task 0 first. */
  public List<String> workers() {
    return workers;
  }

  public int numTasks() {
    return workers.size();
  }

  public int taskIndex() {
    return taskIndex;
  }

  public boolean isChief() {
    return taskIndex == 0;
  }

  /** Port of this task's address. */
  public int localPort() {
    String hp = workers.get(taskIndex);
    return Integer.parseInt(hp.substring(hp.lastIndexOf(':') + 1));
  }

  /** {@code /job:worker/replica:0/task:i}. */
  public static String taskName(int task) {
    return "/job:" + JOB + "/replica:0/task:" + task;
  }

  /** Collective group leader: task 0. */
  public String groupLeader() {
    return taskName(0);
  }

  /** {@code /job:worker/replica:0/task:<task>/device:CPU:0}, for {@code tf.withDevice}. */
  public static DeviceSpec cpu(int task) {
    return device(task, DeviceSpec.DeviceType.CPU, 0);
  }

  /** A device of a task, for {@code tf.withDevice}. */
  public static DeviceSpec device(int task, DeviceSpec.DeviceType type, int index) {
    return DeviceSpec.newBuilder()
        .job(JOB)
        .replica(0)
        .task(task)
        .deviceType(type)
        .deviceIndex(index)
        .build();
  }

  /** This task's CPU:0. */
  public DeviceSpec localCpu() {
    return cpu(taskIndex);
  }

  public ClusterDef toClusterDef() {
    JobDef.Builder job = JobDef.newBuilder().setName(JOB);
    for (int i = 0; i < workers.size(); i++) {
      job.putTasks(i, workers.get(i));
    }
    return ClusterDef.newBuilder().addJob(job).build();
  }

  /**
   * The {@link ServerDef} of this task. {@code sessionConfig} becomes the server's default session
   * config; the workers' collective executor reads the group leader from it, so it should come
   * from {@link #sessionConfig(ConfigProto)}.
   */
  public ServerDef toServerDef(ConfigProto sessionConfig) {
    return ServerDef.newBuilder()
        .setCluster(toClusterDef())
        .setJobName(JOB)
        .setTaskIndex(taskIndex)
        .setProtocol("grpc")
        .setDefaultSessionConfig(sessionConfig)
        .build();
  }

  /**
   * Session config for this task: {@code base} (may be null) plus the collective group leader
   * (task 0) and a device filter restricting the session to this task's devices, so a session can
   * be created before the peers are up and never places ops on a peer; the peers only meet inside
   * the collectives. This is what MultiWorkerMirroredStrategy does in TF1-style graph mode.
   */
  public ConfigProto sessionConfig(ConfigProto base) {
    ConfigProto.Builder b = base == null ? ConfigProto.newBuilder() : base.toBuilder();
    b.setExperimental(b.getExperimental().toBuilder().setCollectiveGroupLeader(groupLeader()));
    b.clearDeviceFilters();
    b.addDeviceFilters("/job:" + JOB + "/task:" + taskIndex);
    return b.build();
  }

  @Override
  public String toString() {
    return "ClusterSpec{" + String.join(",", workers) + " task=" + taskIndex + "}";
  }
}
