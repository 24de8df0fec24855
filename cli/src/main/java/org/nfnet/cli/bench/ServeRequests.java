package org.nfnet.cli.bench;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import javax.imageio.ImageIO;
import org.nfnet.zoo.preprocess.EvalPreprocessing;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TUint8;

/**
 * The TF Serving {@code :predict} bodies a client sends for one image, in row format
 * ({@code "instances"}) with the signature named, as TF Serving requires: the float32
 * {@code [1,H,W,3]} array of normalised pixels ({@code logits_from_normalized}), the uint8
 * {@code [1,H,W,3]} array of pixels ({@code serving_default}) and the encoded image as
 * {@code {"b64": ...}} ({@code encoded}). Floats are written as Java (and Jackson) write a float:
 * the shortest decimal that reads back to the same float.
 */
final class ServeRequests {
  private ServeRequests() {}

  /** One test image: RGB pixels (HWC), the same normalised as the model expects, and as a JPEG. */
  record Image(int height, int width, byte[] rgb, float[] normalized, byte[] jpeg) {
    /** A smooth synthetic picture (gradients and waves), so that its JPEG has a photo-like size. */
    static Image synthetic(int h, int w) {
      BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          int r = (int) (127 + 120 * Math.sin(x / 17.0) * Math.cos(y / 23.0));
          int g = 255 * y / h;
          int b = (int) (127 + 100 * Math.sin((x + y) / 9.0));
          im.setRGB(x, y, (r << 16) | (g << 8) | b);
        }
      }
      return of(im);
    }

    static Image of(BufferedImage im) {
      int h = im.getHeight();
      int w = im.getWidth();
      byte[] rgb = new byte[h * w * 3];
      float[] norm = new float[rgb.length];
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          int p = im.getRGB(x, y);
          for (int c = 0; c < 3; c++) {
            int v = (p >> (16 - 8 * c)) & 0xff;
            int i = (y * w + x) * 3 + c;
            rgb[i] = (byte) v;
            norm[i] = (v - EvalPreprocessing.MEAN_RGB[c]) / EvalPreprocessing.STDDEV_RGB[c];
          }
        }
      }
      ByteArrayOutputStream jpeg = new ByteArrayOutputStream();
      try {
        ImageIO.write(im, "jpeg", jpeg);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return new Image(h, w, rgb, norm, jpeg.toByteArray());
    }

    /** The pixels as a uint8 [1,H,W,3] tensor; the caller closes it. */
    TUint8 tensor() {
      return TUint8.tensorOf(Shape.of(1, height, width, 3), DataBuffers.of(rgb, true, false));
    }
  }

  static byte[] floatBody(float[] nhwc, int h, int w) {
    StringBuilder sb = new StringBuilder(nhwc.length * 12 + 100);
    sb.append("{\"signature_name\": \"logits_from_normalized\", \"instances\": [");
    image(sb, h, w, i -> sb.append(nhwc[i]));
    return sb.append("]}").toString().getBytes(StandardCharsets.US_ASCII);
  }

  static byte[] uint8Body(byte[] rgb, int h, int w) {
    StringBuilder sb = new StringBuilder(rgb.length * 4 + 100);
    sb.append("{\"signature_name\": \"serving_default\", \"instances\": [");
    image(sb, h, w, i -> sb.append(rgb[i] & 0xff));
    return sb.append("]}").toString().getBytes(StandardCharsets.US_ASCII);
  }

  static byte[] jpegBody(byte[] jpeg) {
    return ("{\"signature_name\": \"encoded\", \"instances\": [{\"b64\": \""
        + Base64.getEncoder().encodeToString(jpeg) + "\"}]}").getBytes(StandardCharsets.US_ASCII);
  }

  /** One [H][W][3] nested list; {@code value} appends element i of the HWC array. */
  private static void image(StringBuilder sb, int h, int w, java.util.function.IntConsumer value) {
    sb.append('[');
    for (int y = 0; y < h; y++) {
      sb.append(y > 0 ? ",[" : "[");
      for (int x = 0; x < w; x++) {
        sb.append(x > 0 ? ",[" : "[");
        for (int c = 0; c < 3; c++) {
          if (c > 0) {
            sb.append(',');
          }
          value.accept((y * w + x) * 3 + c);
        }
        sb.append(']');
      }
      sb.append(']');
    }
    sb.append(']');
  }
}
