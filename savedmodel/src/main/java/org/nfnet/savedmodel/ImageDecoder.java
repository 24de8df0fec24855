package org.nfnet.savedmodel;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.nfnet.zoo.preprocess.EvalPreprocessing;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * Reads and checks encoded images before anything large is allocated, and decodes them exactly
 * as the exported {@code encoded} signature does (TF's DecodeImage, channels=3).
 *
 * <p>Order of checks for a file: it must be a regular file (FIFOs, devices such as
 * {@code /dev/zero} and directories are refused without opening them), its size must be at most
 * {@link Limits#maxImageBytes()} (a sparse 3 GB file is refused by its length), at most that many
 * bytes are ever read (a file that grows while read is cut off and refused), and the image header
 * (read by an ImageIO {@link ImageReader}, which parses only the header for the dimensions) must
 * give a supported format and a pixel count of at most {@link Limits#maxPixels()} before any
 * pixel buffer exists. Every refusal is a {@link BadImageException} naming the source and reason.
 *
 * <p>Thread-safe; holds a small private TF graph for {@link #decode}, freed by {@link #close()}.
 */
public final class ImageDecoder implements AutoCloseable {
  /** Default cap on the bytes of one encoded image. */
  public static final long DEFAULT_MAX_IMAGE_BYTES = 64L << 20;
  /** Default cap on decoded pixels (width x height); guards against decompression bombs. */
  public static final long DEFAULT_MAX_PIXELS = 40_000_000L;
  /** Default smallest image side: below this an image carries no content at the network's stride. */
  public static final int DEFAULT_MIN_SIDE = 8;

  /** Bounds applied to every image. */
  public record Limits(long maxImageBytes, long maxPixels, int minSide) {
    public Limits {
      if (maxImageBytes < 1 || maxPixels < 1 || minSide < 1) {
        throw new IllegalArgumentException("image limits must be positive: maxImageBytes="
            + maxImageBytes + ", maxPixels=" + maxPixels + ", minSide=" + minSide);
      }
    }

    public static Limits defaults() {
      return new Limits(DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE);
    }

    public Limits withMaxImageBytes(long b) {
      return new Limits(b, maxPixels, minSide);
    }

    public Limits withMaxPixels(long p) {
      return new Limits(maxImageBytes, p, minSide);
    }
  }

  /** What the header says: lower-case format name and dimensions. */
  public record Header(String format, int width, int height) {}

  private final Limits limits;
  private final Graph graph = new Graph();
  private final Session session = new Session(graph);
  private final Placeholder<TString> in;
  private final Operand<TUint8> out;

  public ImageDecoder(Limits limits) {
    this.limits = limits;
    Ops tf = Ops.create(graph);
    in = tf.placeholder(TString.class, Placeholder.shape(Shape.scalar()));
    out = EvalPreprocessing.decodeRgb(tf, in);
  }

  public Limits limits() {
    return limits;
  }

  /**
   * The bytes of an image file after every check above (header included); never reads more than
   * {@code maxImageBytes + 1} bytes.
   *
   * @throws BadImageException naming the file and the reason (also for I/O errors)
   */
  public byte[] read(Path file) {
    byte[] bytes = readBounded(file, limits.maxImageBytes());
    check(bytes, file.toString());
    return bytes;
  }

  /** A regular file's bytes, refusing non-regular files and files over {@code maxBytes}. */
  public static byte[] readBounded(Path file, long maxBytes) {
    String src = file.toString();
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(file, BasicFileAttributes.class);
    } catch (IOException e) {
      throw new BadImageException(src, "cannot read: " + describe(e), e);
    }
    if (!a.isRegularFile()) {
      String kind = a.isDirectory() ? "a directory" : a.isOther() ? "a device, FIFO or socket"
          : "not a regular file";
      throw new BadImageException(src, "is " + kind + ", not an image file");
    }
    if (a.size() > maxBytes) {
      throw new BadImageException(src, "file has " + a.size() + " bytes, more than the limit of "
          + maxBytes + " bytes per image");
    }
    try (InputStream s = Files.newInputStream(file)) {
      // readNBytes allocates as it goes, so a file that grew after the size check stops here
      byte[] b = s.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
      if (b.length > maxBytes) {
        throw new BadImageException(src, "file grew past the limit of " + maxBytes + " bytes per image");
      }
      return b;
    } catch (IOException e) {
      throw new BadImageException(src, "cannot read: " + describe(e), e);
    }
  }

  private static String describe(IOException e) {
    String m = e.getMessage();
    return e.getClass().getSimpleName() + (m == null ? "" : " (" + m + ")");
  }

  /**
   * Checks bytes from a request or file: size, format and dimensions from the header only.
   *
   * @param source what to name in errors ("instance 2", a path); may be empty
   */
  public Header check(byte[] bytes, String source) {
    if (bytes == null || bytes.length == 0) {
      throw new BadImageException(source, "empty image bytes");
    }
    if (bytes.length > limits.maxImageBytes()) {
      throw new BadImageException(source, bytes.length + " bytes, more than the limit of "
          + limits.maxImageBytes() + " bytes per image");
    }
    try (ImageInputStream s = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
      Iterator<ImageReader> readers = ImageIO.getImageReaders(s);
      if (!readers.hasNext()) {
        throw new BadImageException(source, "not a JPEG/PNG/GIF/BMP image (" + bytes.length
            + " bytes, starting " + hexPrefix(bytes) + ")");
      }
      ImageReader r = readers.next();
      try {
        r.setInput(s, true, true);
        String fmt = r.getFormatName().toLowerCase(Locale.ROOT);
        if (!(fmt.contains("jpeg") || fmt.contains("jpg") || fmt.contains("png") || fmt.contains("gif")
            || fmt.contains("bmp"))) {
          throw new BadImageException(source, "unsupported image format " + fmt);
        }
        int w = r.getWidth(0);
        int h = r.getHeight(0);
        checkSize(source, h, w);
        return new Header(fmt, w, h);
      } finally {
        r.dispose();
      }
    } catch (IOException e) {
      throw new BadImageException(source, "unreadable image header: " + e.getMessage(), e);
    } catch (BadImageException e) {
      throw e;
    } catch (RuntimeException e) {
      // ImageIO plugins throw unchecked exceptions on some malformed headers
      throw new BadImageException(source, "malformed image header: " + e, e);
    }
  }

  /** Refuses images smaller than {@code minSide} or with more than {@code maxPixels} pixels. */
  public void checkSize(String source, long h, long w) {
    if (h < limits.minSide() || w < limits.minSide()) {
      throw new BadImageException(source, "image " + w + "x" + h + " (WxH) is too small: needs at least "
          + limits.minSide() + "x" + limits.minSide() + " pixels");
    }
    if (h > limits.maxPixels() || w > limits.maxPixels() || h * w > limits.maxPixels()) {
      throw new BadImageException(source, "image " + w + "x" + h + " has " + h * w
          + " pixels, more than the limit of " + limits.maxPixels());
    }
  }

  /** Decodes (after {@link #check}) with TF's DecodeImage (channels=3), as the {@code encoded} signature does. */
  public TUint8 decode(byte[] encoded, String source) {
    check(encoded, source);
    try (TString t = TString.tensorOfBytes(NdArrays.scalarOfObject(encoded))) {
      return (TUint8) session.runner().feed(in, t).fetch(out).run().get(0);
    }
  }

  /** RGB uint8 [N,H,W,3] from same-sized images (alpha dropped, grey replicated). */
  public static TUint8 toTensor(List<BufferedImage> images) {
    if (images.isEmpty()) {
      throw new IllegalArgumentException("empty batch");
    }
    int h = images.get(0).getHeight();
    int w = images.get(0).getWidth();
    byte[] px = new byte[Math.multiplyExact(images.size(), Math.multiplyExact(h, w * 3))];
    int[] row = new int[w];
    int o = 0;
    for (BufferedImage img : images) {
      if (img.getHeight() != h || img.getWidth() != w) {
        throw new IllegalArgumentException("all images in a batch must have the same size: "
            + w + "x" + h + " vs " + img.getWidth() + "x" + img.getHeight());
      }
      boolean grey = img.getType() == BufferedImage.TYPE_BYTE_GRAY;
      for (int y = 0; y < h; y++) {
        if (!grey) {
          img.getRGB(0, y, w, 1, row, 0, w);
        }
        for (int x = 0; x < w; x++) {
          int v = grey ? img.getRaster().getSample(x, y, 0) * 0x010101 : row[x];
          px[o++] = (byte) (v >> 16);
          px[o++] = (byte) (v >> 8);
          px[o++] = (byte) v;
        }
      }
    }
    return TUint8.tensorOf(Shape.of(images.size(), h, w, 3), DataBuffers.of(px, true, false));
  }

  static String hexPrefix(byte[] b) {
    StringBuilder sb = new StringBuilder("0x");
    for (int i = 0; i < Math.min(4, b.length); i++) {
      sb.append(String.format("%02x", b[i] & 0xff));
    }
    return sb.toString();
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
