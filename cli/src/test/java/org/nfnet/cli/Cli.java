package org.nfnet.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/** Runs the real CLI in-process (picocli, the same handler as {@link Main}) or as a child JVM. */
final class Cli {
  /** Exit code and everything printed. */
  record Run(int code, String out, String err) {
    String all() {
      return out + err;
    }
  }

  private Cli() {}

  /** In-process, capturing the command's stdout / stderr writers. */
  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    System.out.print(out);
    System.out.print(err);
    return new Run(code, out.toString(), err.toString());
  }

  /** The nano variant of the repository (tests run in cli/). */
  static String nano() {
    return Path.of("..", "variants", "nano.json").toAbsolutePath().normalize().toString();
  }

  /** A child JVM running {@code nfnet args} in {@code cwd}, stdout and stderr merged (a pipe). */
  static Process child(Path cwd, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString(), "-Xmx2g", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true);
    pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
    return pb.start();
  }

  /** Reads {@code p}'s output into {@code seen} until a line containing {@code text}. */
  static String await(Process p, BufferedReader r, StringBuilder seen, String text) throws Exception {
    String line;
    while ((line = r.readLine()) != null) {
      seen.append(line).append('\n');
      if (line.contains(text)) {
        return line;
      }
    }
    throw new AssertionError("child ended (exit " + p.waitFor() + ") before '" + text + "':\n" + seen);
  }

  static BufferedReader reader(Process p) {
    return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
  }
}
