package org.nfnet.converters.download;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nfnet.zoo.NFNetConfig;

/** Release names, URLs and cache locations, against the values in the issue and paper_numbers.md. */
class ReleaseCatalogTest {
  @Test
  void deepMindsReleaseUrlsAndMd5s() {
    ReleaseCatalog c = ReleaseCatalog.of(ReleaseCatalog.baseUrl(Map.of()), ReleaseCatalog.deepMind().releases());
    assertEquals(List.of("F0", "F1", "F2", "F3", "F4", "F5", "F6"), c.releases().stream().map(Release::name).toList());
    Release f0 = c.find("f0");
    assertEquals(URI.create("https://storage.googleapis.com/dm-nfnets/F0_haiku.npz"), c.uri(f0));
    assertEquals("0a41039da1cb43adf47f1b7d86ddfe0f", f0.md5());
    assertEquals("b16cca40ac1ecec2bd5e3273866da0c1", c.find("F6").md5());
    assertEquals(NFNetConfig.variant("F3"), c.find("F3").variant());
  }

  @Test
  void theEnvironmentNamesAMirrorDirectory() {
    String base = ReleaseCatalog.baseUrl(Map.of(ReleaseCatalog.ENV_URL, "http://host:8080/dir"));
    ReleaseCatalog c = ReleaseCatalog.deepMind().withBaseUrl(base);
    assertEquals(URI.create("http://host:8080/dir/F0_haiku.npz"), c.uri(c.find("F0")));
    // a trailing slash means the same directory
    c = c.withBaseUrl("http://host:8080/dir/");
    assertEquals(URI.create("http://host:8080/dir/F2_haiku.npz"), c.uri(c.find("F2")));
    assertEquals("https://storage.googleapis.com/dm-nfnets/", ReleaseCatalog.baseUrl(Map.of(ReleaseCatalog.ENV_URL, " ")));
  }

  @Test
  void badUrlsAndNamesAreRefusedWithTheValue() {
    ReleaseCatalog c = ReleaseCatalog.deepMind();
    for (String bad : List.of("file:///tmp/x", "host:8080/dir", "http://", "http://h/d?x=1")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.withBaseUrl(bad));
      assertTrue(e.getMessage().contains(bad), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.find("F7"));
    assertTrue(e.getMessage().contains("'F7'") && e.getMessage().contains("F0, F1, F2, F3, F4, F5, F6"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> new Release("X", "../x.npz", "0a41039da1cb43adf47f1b7d86ddfe0f", NFNetConfig.variant("F0")));
    assertThrows(IllegalArgumentException.class, () -> new Release("X", "x.npz", "abc", NFNetConfig.variant("F0")));
  }

  @Test
  void cacheDirectoryFromTheEnvironment() {
    assertEquals(Path.of("/home/u/.cache/nfnet"), WeightCache.defaultDir(Map.of(), "/home/u"));
    assertEquals(Path.of("/data/nf"), WeightCache.defaultDir(Map.of(WeightCache.ENV_DIR, "/data/nf"), "/home/u"));
    WeightCache cache = new WeightCache(Path.of("/c"));
    Release f0 = ReleaseCatalog.deepMind().find("F0");
    assertEquals(Path.of("/c/F0_haiku.npz"), cache.weights(f0));
    assertEquals(Path.of("/c/F0_haiku.npz.part"), WeightCache.part(cache.weights(f0)));
    assertEquals(Path.of("/c/models/F0"), cache.model(f0));
  }
}
