package org.nfnet.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.nfnet.converters.InspectionReport;
import org.nfnet.converters.Inspector;
import org.nfnet.converters.ReadOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code nfnet inspect}: what a weight file holds, without building any graph; safe on hostile files. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Describe a weight file (pickle or .npz) without executing or converting it: format, byte layout "
        + "(DeepMind's dill/numpy<=1.18 release layout or plain), structure, variant. Exit 1 if refused.")
final class InspectCommand implements Callable<Integer> {
  @Parameters(paramLabel = "FILE", description = "F0_haiku.npz-style pickle, or a numpy .npz archive.")
  Path file;

  @Option(names = "--no-verify", description = "Skip the md5 check of known release files.")
  boolean noVerify;

  @Override
  public Integer call() {
    InputFiles.requireRegularFile(file, "FILE");
    ReadOptions opts = noVerify ? ReadOptions.defaults().withoutChecksum() : ReadOptions.defaults();
    InspectionReport r = Inspector.inspect(file, opts);
    System.out.print(r.toText());
    return r.refused() ? 1 : 0;
  }
}
