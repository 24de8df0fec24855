package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The PyTorch baseline ({@code bench/pytorch/nfnet_torch.py --serve}) as a child process that
 * times one call per request, so that the bench can interleave PyTorch calls with ours. Between
 * requests it blocks on stdin and takes no CPU.
 */
final class PyTorchProcess implements AutoCloseable {
  /** Environment variable naming the Python interpreter that has torch. */
  static final String PYTHON_ENV = "NFNET_PYTHON";
  static final String SCRIPT_PROPERTY = "nfnet.bench.pytorch.script";

  private final Process process;
  private final BufferedReader out;
  private final Writer in;
  private final String command;
  private double peakRssMb;

  private PyTorchProcess(List<String> cmd) throws IOException {
    this.command = String.join(" ", cmd);
    this.process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    this.in = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
  }

  static PyTorchProcess start(int threads) throws IOException, InterruptedException {
    Path script = Path.of(System.getProperty(SCRIPT_PROPERTY, "bench/pytorch/nfnet_torch.py"));
    if (!Files.isRegularFile(script)) {
      throw new IllegalArgumentException("PyTorch baseline script not found: " + script.toAbsolutePath()
          + " (run from the repository root, or set -D" + SCRIPT_PROPERTY + ")");
    }
    PyTorchProcess p = new PyTorchProcess(List.of(python(), script.toString(), "--serve",
        "--threads", String.valueOf(threads)));
    JsonNode hello = p.read();
    if (!hello.path("ready").asBoolean()) {
      p.close();
      throw new IllegalStateException(p.command + " did not start: " + hello);
    }
    return p;
  }

  /** Builds the function a key names (see {@code make} in the script). */
  void prepare(String key) throws IOException {
    request("prepare", key);
  }

  /**
   * Writes the script's F0 as ONNX to {@code model} (plus a check batch and PyTorch's logits for
   * it beside the file); returns the script's account of the export.
   */
  JsonNode exportOnnx(Path model) throws IOException {
    return request("export_onnx", model.toAbsolutePath().toString());
  }

  void drop(String key) throws IOException {
    request("drop", key);
  }

  /** Runs the key's function once; wall seconds as timed inside the Python process. */
  double run(String key) throws IOException {
    return request("run", key).path("seconds").asDouble();
  }

  double peakRssMb() {
    return peakRssMb;
  }

  private JsonNode request(String op, String key) throws IOException {
    in.write(BenchSections.JSON.writeValueAsString(Map.of("op", op, "key", key)) + "\n");
    in.flush();
    JsonNode reply = read();
    if (reply.has("error")) {
      throw new IllegalStateException("PyTorch baseline, " + op + " " + key + ": "
          + reply.get("error").asText());
    }
    peakRssMb = Math.max(peakRssMb, reply.path("peak_rss_mb").asDouble());
    return reply;
  }

  private JsonNode read() throws IOException {
    String line = out.readLine();
    if (line == null) {
      throw new IllegalStateException(command + " exited early (see its messages above)");
    }
    return BenchSections.JSON.readTree(line);
  }

  private static String python() throws IOException, InterruptedException {
    String env = System.getenv(PYTHON_ENV);
    String python = env != null ? env : Files.isExecutable(Path.of("/usr/bin/python3"))
        ? "/usr/bin/python3" : "python3";
    Process p = new ProcessBuilder(python, "-c", "import torch").redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    if (p.waitFor() != 0) {
      throw new IllegalStateException(python + " cannot import torch: install Debian's PyTorch "
          + "(apt-get install python3-torch) or point " + PYTHON_ENV + " at a Python that has it");
    }
    return python;
  }

  @Override
  public void close() {
    try {
      in.write("{\"op\": \"quit\"}\n");
      in.flush();
      in.close();
    } catch (IOException e) {
      // Already gone: nothing to tell it.
    }
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
