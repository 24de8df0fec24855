package org.nfnet.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The allocator line of the bench, from hand-written {@code /proc/self/maps} lines. */
class NativeAllocatorTest {
  private static final String LIBC =
      "7f1c2a000000-7f1c2a028000 r--p 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libc.so.6";
  private static final String TCMALLOC = "7f1c2b000000-7f1c2b008000 r-xp 00008000 08:01 5678 "
      + "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.9";
  private static final String JEMALLOC = "7f1c2c000000-7f1c2c010000 r-xp 00000000 08:01 9012 "
      + "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

  @Test
  void namesTheMappedMallocNotTheRequestedOne() {
    // LD_PRELOAD alone says nothing: the loader ignores a preload it cannot open.
    assertEquals("glibc malloc; oneDNN's buffers from TensorFlow's own pool",
        NativeAllocator.describe(List.of(LIBC), Map.of("LD_PRELOAD", "/nowhere/libtcmalloc.so")));
    assertEquals("tcmalloc; oneDNN's buffers from TensorFlow's own pool",
        NativeAllocator.describe(List.of(LIBC, TCMALLOC), Map.of()));
    assertEquals("jemalloc; oneDNN's buffers from TensorFlow's own pool",
        NativeAllocator.describe(List.of(JEMALLOC, LIBC), Map.of()));
  }

  @Test
  void readsTheSystemAllocatorSwitchAsTensorFlowDoes() {
    for (String on : new String[] {"1", "true", "TRUE"}) {
      assertEquals("tcmalloc; oneDNN's buffers from it (TF_ONEDNN_USE_SYSTEM_ALLOCATOR=" + on + ")",
          NativeAllocator.describe(List.of(TCMALLOC),
              Map.of(NativeAllocator.SYSTEM_ALLOCATOR, on)));
    }
    for (String off : new String[] {"0", "false"}) {
      assertEquals("tcmalloc; oneDNN's buffers from TensorFlow's own pool",
          NativeAllocator.describe(List.of(TCMALLOC),
              Map.of(NativeAllocator.SYSTEM_ALLOCATOR, off)));
    }
  }
}
