#!/usr/bin/env python3
"""timm's own dm_nfnet_f0 beside nfnet_torch.py's F0, interleaved call by call (one-off check of the
PyTorch baseline; BENCHMARKS.md). Needs timm: a venv made with Debian's interpreter so that it sees
python3-torch, e.g.
  /usr/bin/python3 -m venv --system-site-packages .venv-bench && .venv-bench/bin/pip install --no-deps timm
(plus `apt-get install python3-torchvision`, which timm imports), then
  .venv-bench/bin/python bench/pytorch/timm_compare.py --rounds 3
Prints one JSON object: per key, both models' median seconds and the median of per-round ratios
(timm images/s over ours)."""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfnet_torch as nt  # noqa: E402

KEYS = "infer_torchscript_channels_last_b1,infer_torchscript_channels_last_b8,train_plain_nchw_b8"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keys", default=KEYS, help="nfnet_torch.py keys, comma separated")
    a = ap.parse_args()
    import timm
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ours = nt.NFNet(nt.variant_shapes(nt.F0), nt.F0["stochdepth_rate"], nt.F0["drop_rate"])
    theirs = timm.create_model("dm_nfnet_f0", pretrained=False)
    out = {"torch": torch.__version__, "timm": timm.__version__, "threads": a.threads,
           "params_ours": sum(p.numel() for p in ours.parameters()),
           "params_timm": sum(p.numel() for p in theirs.parameters())}
    for key in a.keys.split(","):
        batch = int(key.rsplit("_b", 1)[1])
        fns = [nt.make(m, key, 256, 192) for m in (ours, theirs)]
        t = [[], []]
        for r in range(a.rounds + 1):  # first round: warm-up
            for i, fn in enumerate(fns):
                fn()
                s = time.perf_counter()
                fn()
                if r:
                    t[i].append(time.perf_counter() - s)
        out[key] = {"ours_images_per_s": batch / statistics.median(t[0]),
                    "timm_images_per_s": batch / statistics.median(t[1]),
                    "timm_over_ours": statistics.median(o / m for o, m in zip(*t))}
        print(json.dumps({key: out[key]}), file=sys.stderr, flush=True)
        del fns
    print(json.dumps(out))


if __name__ == "__main__":
    main()
