package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14 bug 4: huge, endless and hostile image files are refused before any large allocation. */
class ImageDecoderTest {
  @TempDir
  static Path tmp;
  static ImageDecoder decoder;

  @BeforeAll
  static void open() {
    decoder = new ImageDecoder(ImageDecoder.Limits.defaults());
  }

  @AfterAll
  static void close() {
    decoder.close();
  }

  static byte[] png(int w, int h) throws Exception {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    ImageIO.write(new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB), "png", bos);
    return bos.toByteArray();
  }

  /** A PNG signature + IHDR chunk (with a correct CRC, per the PNG spec) declaring w x h RGB8. */
  static byte[] pngHeader(int w, int h) {
    ByteBuffer ihdr = ByteBuffer.allocate(17);
    ihdr.put("IHDR".getBytes()).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0)
        .put((byte) 0).put((byte) 0);
    CRC32 crc = new CRC32();
    crc.update(ihdr.array());
    ByteBuffer b = ByteBuffer.allocate(8 + 4 + 17 + 4);
    b.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
    b.putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
    return b.array();
  }

  @Test
  void readsAValidImage() throws Exception {
    Path f = tmp.resolve("ok.png");
    Files.write(f, png(40, 30));
    assertArrayEquals(Files.readAllBytes(f), decoder.read(f));
    assertEquals(new ImageDecoder.Header("png", 40, 30), decoder.check(Files.readAllBytes(f), "x"));
  }

  @Test
  void devZeroIsRefusedWithoutReading() {
    Path z = Path.of("/dev/zero");
    assumeTrue(Files.exists(z));
    BadImageException e = assertThrows(BadImageException.class, () -> decoder.read(z));
    assertEquals("/dev/zero", e.source());
    assertTrue(e.getMessage().contains("device, FIFO or socket"), e.getMessage());
  }

  @Test
  void fifoIsRefusedWithoutOpening() throws Exception {
    Path fifo = tmp.resolve("pipe.jpg");
    Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assumeTrue(p.waitFor() == 0);
    // opening a FIFO with no writer would block forever: the test would hang, not fail
    BadImageException e = assertThrows(BadImageException.class, () -> decoder.read(fifo));
    assertTrue(e.getMessage().startsWith(fifo.toString()), e.getMessage());
  }

  @Test
  void sparse3GbFileIsRefusedByItsLength() throws Exception {
    Path f = tmp.resolve("sparse.jpg");
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(3L << 30);
    }
    BadImageException e = assertThrows(BadImageException.class, () -> decoder.read(f));
    assertTrue(e.getMessage().contains("3221225472 bytes") && e.getMessage().contains("67108864"),
        e.getMessage());
    Files.delete(f);
  }

  @Test
  void largeFileWithValidPngHeaderIsRefused() throws Exception {
    Path f = tmp.resolve("big.png");
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.write(pngHeader(1000, 1000));
      raf.setLength(1536L << 20);
    }
    BadImageException e = assertThrows(BadImageException.class, () -> decoder.read(f));
    assertTrue(e.getMessage().contains("more than the limit"), e.getMessage());
    Files.delete(f);
  }

  @Test
  void byteCapIsConfigurable() throws Exception {
    Path f = tmp.resolve("ok2.png");
    byte[] b = png(64, 64);
    Files.write(f, b);
    try (ImageDecoder small = new ImageDecoder(ImageDecoder.Limits.defaults().withMaxImageBytes(b.length - 1))) {
      BadImageException e = assertThrows(BadImageException.class, () -> small.read(f));
      assertTrue(e.getMessage().contains(b.length + " bytes"), e.getMessage());
    }
  }

  @Test
  void pixelBombIsRefusedFromTheHeader() throws Exception {
    // 100000 x 100000 declared in a 45-byte file: decoding would need 30 GB
    Path f = tmp.resolve("bomb.png");
    Files.write(f, pngHeader(100_000, 100_000));
    BadImageException e = assertThrows(BadImageException.class, () -> decoder.read(f));
    assertTrue(e.getMessage().contains("10000000000 pixels"), e.getMessage());
    assertThrows(BadImageException.class, () -> decoder.decode(Files.readAllBytes(f), "bomb"));
  }

  @Test
  void mutatedHeadersGiveAHeaderOrBadImageExceptionOnly() throws Exception {
    java.util.Random r = new java.util.Random(14);
    for (String fmt : new String[] {"png", "jpg", "gif", "bmp"}) {
      ByteArrayOutputStream bos = new ByteArrayOutputStream();
      ImageIO.write(new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB), fmt, bos);
      byte[] good = bos.toByteArray();
      for (int i = 0; i < 300; i++) {
        byte[] b = java.util.Arrays.copyOf(good, 8 + r.nextInt(Math.min(good.length, 200)));
        for (int k = 0; k < 3; k++) {
          b[r.nextInt(b.length)] = (byte) r.nextInt(256);
        }
        try {
          decoder.check(b, fmt + " #" + i);
        } catch (BadImageException expected) {
          assertTrue(expected.getMessage().startsWith(fmt + " #" + i + ": "), expected.getMessage());
        }
      }
    }
  }

  @Test
  void directoryAndMissingFileNameTheFile() {
    BadImageException e = assertThrows(BadImageException.class, () -> decoder.read(tmp));
    assertTrue(e.getMessage().contains("directory"), e.getMessage());
    Path missing = tmp.resolve("nope.jpg");
    e = assertThrows(BadImageException.class, () -> decoder.read(missing));
    assertEquals(missing.toString(), e.source());
  }
}
