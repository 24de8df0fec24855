package org.nfnet.cli;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.nfnet.savedmodel.ImageDecoder;

/**
 * The images named on a command line: files, directories (their images; all levels with
 * {@code recursive}) and glob patterns ({@code 'photos/*.jpg'}, {@code 'data/**.png'}, quoted so
 * the shell leaves them to us). Each argument that names nothing usable becomes an {@link Input}
 * with an error, so the caller reports it by name and carries on with the rest.
 */
final class ImageInputs {
  static final List<String> EXTENSIONS = List.of(".jpg", ".jpeg", ".png", ".gif", ".bmp");

  /** One image to classify, or an argument that failed ({@code error} non-null). */
  record Input(Path path, String error) {}

  private ImageInputs() {}

  static List<Input> expand(List<String> args, boolean recursive) {
    List<Input> out = new ArrayList<>();
    for (String a : args) {
      Path p = Path.of(a);
      if (Files.isDirectory(p)) {
        List<Path> found = list(p, recursive ? Integer.MAX_VALUE : 1, q -> isImageName(q));
        if (found.isEmpty()) {
          out.add(new Input(p, "no images (JPEG/PNG/GIF/BMP) in directory " + p
              + (recursive ? "" : " (use --recursive for sub-directories)")));
        }
        found.forEach(f -> out.add(new Input(f, null)));
      } else if (Files.exists(p) || !isGlob(a)) {
        out.add(new Input(p, null)); // missing and non-regular files are reported when read
      } else {
        glob(a, recursive, out);
      }
    }
    return out;
  }

  private static void glob(String pattern, boolean recursive, List<Input> out) {
    int cut = firstGlobChar(pattern);
    int slash = pattern.lastIndexOf('/', cut);
    Path base = slash < 0 ? Path.of(".") : Path.of(pattern.substring(0, slash + 1));
    String rest = slash < 0 ? pattern : pattern.substring(slash + 1);
    PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + rest);
    int depth = recursive || rest.contains("**") ? Integer.MAX_VALUE : rest.split("/").length;
    List<Path> found = Files.isDirectory(base)
        ? list(base, depth, q -> m.matches(base.relativize(q))) : List.of();
    if (found.isEmpty()) {
      out.add(new Input(Path.of(pattern), "no file matches " + pattern));
    }
    found.forEach(f -> out.add(new Input(slash < 0 ? base.relativize(f) : f, null)));
  }

  private static List<Path> list(Path dir, int depth, java.util.function.Predicate<Path> keep) {
    try (Stream<Path> s = Files.walk(dir, depth)) {
      return s.filter(Files::isRegularFile).filter(keep).sorted().toList();
    } catch (IOException | java.io.UncheckedIOException e) {
      return List.of();
    }
  }

  static boolean isImageName(Path p) {
    String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
    return EXTENSIONS.stream().anyMatch(n::endsWith);
  }

  private static boolean isGlob(String s) {
    return firstGlobChar(s) < s.length();
  }

  private static int firstGlobChar(String s) {
    for (int i = 0; i < s.length(); i++) {
      if ("*?[{".indexOf(s.charAt(i)) >= 0) {
        return i;
      }
    }
    return s.length();
  }

  /**
   * The bytes of one image: a missing path is {@link NoSuchFileException}; everything else (a
   * non-regular file, over {@code maxBytes}, a file that grows while read) is refused by the
   * model's bounded reader ({@link ImageDecoder#readBounded}) before anything large is read.
   */
  static byte[] read(Path p, long maxBytes) throws NoSuchFileException {
    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS) && !Files.exists(p)) {
      throw new NoSuchFileException(p.toString(), null, "no such file");
    }
    return ImageDecoder.readBounded(p, maxBytes);
  }
}
