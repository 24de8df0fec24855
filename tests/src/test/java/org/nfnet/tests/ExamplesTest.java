package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.testing.SharedFixtures;
import org.w3c.dom.Document;

/**
 * The standalone {@code examples/} project compiles against this build's library classes (the
 * test class path: the reactor's artifacts, no install), declares this build's version, and its
 * two programs work: {@code Convert} turns the T0 fixture weights into
 * a SavedModel and {@code Classify} prints the same top-5 as {@link NFNetModel} on that export.
 */
class ExamplesTest {
  private static final Path EXAMPLES = Path.of("..", "examples").toAbsolutePath().normalize();

  @TempDir Path tmp;

  @Test
  void examplesPomTracksThisBuild() throws Exception {
    Document examples = xml(EXAMPLES.resolve("pom.xml"));
    Document root = xml(EXAMPLES.resolve("../pom.xml"));
    String version = root.getDocumentElement().getElementsByTagName("version").item(0).getTextContent();
    assertEquals(version, examples.getElementsByTagName("nfnet.version").item(0).getTextContent(),
        "examples/pom.xml nfnet.version");
    assertEquals(text(root, "tensorflow.version"), text(examples, "tensorflow.version"));
    List<String> modules = new ArrayList<>();
    var m = root.getElementsByTagName("module");
    for (int i = 0; i < m.getLength(); i++) {
      modules.add("nfnet-" + m.item(i).getTextContent());
    }
    var deps = examples.getElementsByTagName("artifactId");
    for (int i = 0; i < deps.getLength(); i++) {
      String a = deps.item(i).getTextContent();
      if (a.startsWith("nfnet-") && !a.equals("nfnet-examples")) {
        assertTrue(modules.contains(a), a + " is not a module of this build: " + modules);
      }
    }
  }

  @Test
  void examplesCompileAndRun() throws Exception {
    Path classes = Files.createDirectories(tmp.resolve("classes"));
    compile(classes);

    Path export = tmp.resolve("t0");
    Path image = tmp.resolve("image.png");
    var img = new java.awt.image.BufferedImage(96, 80, java.awt.image.BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 80; y++) {
      for (int x = 0; x < 96; x++) {
        img.setRGB(x, y, (x * 255 / 95) << 16 | (y * 255 / 79) << 8 | ((x * y) & 0xff));
      }
    }
    ImageIO.write(img, "png", image.toFile());

    try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()},
        getClass().getClassLoader())) {
      String converted = runMain(loader, "org.nfnet.examples.Convert",
          SharedFixtures.t0().resolve("t0_seed5_release.pkl").toString(), export.toString(),
          Path.of("..", "variants", "t0.json").toAbsolutePath().toString());
      assertTrue(converted.startsWith("T0: 289,872 parameters"), converted);
      assertTrue(Files.isRegularFile(export.resolve("saved_model.pb")), converted);

      String classified = runMain(loader, "org.nfnet.examples.Classify", export.toString(), image.toString());
      List<NFNetModel.Prediction> expected;
      try (NFNetModel model = NFNetModel.load(export)) {
        expected = model.predict(image);
      }
      List<String> lines = classified.lines().toList();
      assertEquals(1 + expected.size(), lines.size(), classified);
      assertEquals(image.toString(), lines.get(0));
      Pattern row = Pattern.compile("\\s+(.+?)\\s+([0-9.]+)");
      for (int i = 0; i < expected.size(); i++) {
        Matcher r = row.matcher(lines.get(i + 1));
        assertTrue(r.matches(), lines.get(i + 1));
        assertEquals(expected.get(i).label(), r.group(1));
        assertEquals(expected.get(i).probability(), Double.parseDouble(r.group(2)), 5e-5);
      }
    }
  }

  private static void compile(Path out) throws Exception {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertTrue(javac != null, "no system Java compiler (a JRE instead of a JDK?)");
    List<String> args = new ArrayList<>(List.of("--release", "17", "-Xlint:all,-path", "-Werror",
        "-classpath", testClassPath(), "-d", out.toString()));
    try (Stream<Path> files = Files.walk(EXAMPLES.resolve("src/main/java"))) {
      files.filter(p -> p.toString().endsWith(".java")).map(Path::toString).forEach(args::add);
    }
    StringWriter errors = new StringWriter();
    int code;
    try (var err = new PrintStream(new java.io.OutputStream() {
      @Override
      public void write(int b) {
        errors.write(b);
      }
    }, true, StandardCharsets.UTF_8)) {
      code = javac.run(null, err, err, args.toArray(new String[0]));
    }
    assertEquals(0, code, "examples/ does not compile against this build:\n" + errors);
  }

  /**
   * Surefire's test class path (the JVM's own may be a manifest-only booter jar) without this
   * module's own classes: the examples see the libraries and their dependencies only.
   */
  private static String testClassPath() {
    String cp = System.getProperty("surefire.test.class.path");
    cp = cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    Path own = Path.of("target").toAbsolutePath().normalize();
    return Stream.of(cp.split(java.io.File.pathSeparator))
        .filter(e -> !Path.of(e).toAbsolutePath().normalize().startsWith(own))
        .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
  }

  private static String runMain(ClassLoader loader, String cls, String... args) throws Exception {
    Method main = loader.loadClass(cls).getMethod("main", String[].class);
    PrintStream saved = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      main.invoke(null, (Object) args);
    } finally {
      System.setOut(saved);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  private static Document xml(Path file) throws Exception {
    return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file.toFile());
  }

  private static String text(Document d, String tag) {
    return d.getElementsByTagName(tag).item(0).getTextContent();
  }
}
