#!/usr/bin/env python3
"""PyTorch baseline for `./nfnet bench --sections pytorch`: the same NFNet, timed on the same machine.

Issues #6 and #19 measure this toolkit against PyTorch + timm's `dm_nfnet_f0`. This file is a small,
independent PyTorch NFNet for Debian's `python3-torch` (1.13), written with the op choices timm makes
for its `dm_nfnet_*` models, so that its speed stands for timm's (timm's own model, timed beside it
by timm_compare.py, ran at 0.92x of it: BENCHMARKS.md); it needs no timm:
  - NCHW tensors (timm's default); channels-last is timed too, and inference also through
    TorchScript's optimize_for_inference (frozen, oneDNN layouts), as `timm`'s benchmark script
    can, in float32 and under bf16 autocast: the Java side compares against the fastest of them;
  - `export_onnx`: the same F0 as ONNX (opset 17, standardized weights as constants) for the ONNX
    Runtime baseline;
  - scaled weight standardization through `F.batch_norm` over the [1, O, I*H*W] weight, recomputed
    on every forward pass (timm's ScaledStdConv2d);
  - SAME padding as `F.pad` for strided convs, symmetric conv padding otherwise;
  - activation then an in-place multiply by gamma (timm's GammaAct), SE from 1x1 convs with ReLU and
    sigmoid, skipinit gain, attention gain 2, alpha;
  - training: stochastic depth and dropout as in DeepMind's F0, label-smoothed cross-entropy,
    unit-wise AGC (timm's per-parameter loop), SGD with Nesterov momentum and weight decay, and an
    EMA of the weights (timm's ModelEmaV2 loop). A `plain` step (forward, backward, SGD only) is
    timed as well, as the cheapest step a PyTorch user could run.
The network is built from the Haiku parameter shapes (the same structure the Java zoo uses), and
`--check-fixture DIR` runs DeepMind's T0 fixture through it: with DeepMind's standardization
formula its logits equal the JAX logits (1.6e-6), so the baseline computes the same function (and
so the same FLOPs) as ours.

Modes: `--serve` answers one-call requests for the bench, which interleaves them with ours; without
it, every form is timed here and one JSON object is printed (images/s, median/min/max over
--repeats; `--forms` times only the forms named, so that the process's peak RSS is theirs);
`--check-fixture` is what `PyTorchBaselineParityTest` runs.
Needs only python3-torch (and numpy, which it pulls in).
"""
import argparse
import copy
import json
import math
import os
import pickle
import resource
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

GELU_GAMMA = 1.7015043497085571  # DeepMind's gamma for GELU (tanh form)
ALPHA = 0.2
STEM_CHANNELS = (16, 32, 64)
STEM_STRIDES = (2, 1, 1, 2)
STAGE_STRIDES = (1, 2, 2, 2)

# DeepMind's F0 (base.py): widths, depths, group width, 0.5 bottleneck on the output width,
# SE ratio 0.5, stochastic depth 0.25, dropout 0.2, 256 px test / 192 px train.
F0 = dict(width=(256, 512, 1536, 1536), depth=(1, 2, 6, 3), group_width=(128,) * 4,
          expansion=0.5, se_ratio=0.5, stochdepth_rate=0.25, drop_rate=0.2, num_classes=1000)


def variant_shapes(v):
    """Haiku parameter shapes {module: {name: shape}} of an NFNet variant, as DeepMind's code makes them."""
    p, ch = {}, 3
    stem = list(STEM_CHANNELS) + [v["width"][0] // 2]
    for i, out in enumerate(stem):
        p[f"NFNet/~/stem_conv{i}"] = conv_shapes(3, ch, out)
        ch = out
    index = 0
    for stage, depth in enumerate(v["depth"]):
        out, gw = v["width"][stage], v["group_width"][stage]
        for i in range(depth):
            m = "NFNet/~/nf_block" + ("" if index == 0 else f"_{index}")
            bottleneck = int(out * v["expansion"]) // gw * gw
            hidden = max(1, int(out * v["se_ratio"]))
            p[m] = {"skip_gain": []}
            p[m + "/~/conv0"] = conv_shapes(1, ch, bottleneck)
            p[m + "/~/conv1"] = conv_shapes(3, gw, bottleneck)
            p[m + "/~/conv1b"] = conv_shapes(3, gw, bottleneck)
            p[m + "/~/conv2"] = conv_shapes(1, bottleneck, out)
            if i == 0:
                p[m + "/~/conv_shortcut"] = conv_shapes(1, ch, out)
            p[m + "/~/squeeze_excite/~/linear"] = {"w": [out, hidden], "b": [hidden]}
            p[m + "/~/squeeze_excite/~/linear_1"] = {"w": [hidden, out], "b": [out]}
            ch, index = out, index + 1
    p["NFNet/~/final_conv"] = conv_shapes(1, ch, 2 * ch)
    p["NFNet/~/linear"] = {"w": [2 * ch, v["num_classes"]], "b": [v["num_classes"]]}
    return p


def conv_shapes(k, cin, cout):
    return {"w": [k, k, cin, cout], "gain": [cout], "bias": [cout]}


class WSConv2d(nn.Conv2d):
    """Conv2d with scaled weight standardization (timm's ScaledStdConv2d recipe, DeepMind's epsilon)."""

    def __init__(self, cin, cout, k, stride=1, groups=1):
        super().__init__(cin, cout, k, stride=stride, groups=groups,
                         padding=k // 2 if stride == 1 else 0)
        self.gain = nn.Parameter(torch.ones(cout))
        fan_in = cin // groups * k * k
        self.scale = fan_in ** -0.5
        # DeepMind divides by sqrt(max(var * fan_in, 1e-4)); batch_norm divides by
        # sqrt(var + eps), which is close to it when var * fan_in >> 1e-4 (the fixture's T0 kernels
        # move logits by 8.1e-4; --check-fixture reports both forms). Speed is the same.
        self.eps = 1e-4 / fan_in
        # Stride 1: symmetric padding inside the conv; strided: timm's dynamic F.pad (SAME).
        self.pad_dynamically = stride > 1

    # True: DeepMind's formula verbatim (used by --check-fixture); False: timm's F.batch_norm form,
    # which is what the timings use.
    exact = False

    def standardize(self):
        if self.exact:
            w = self.weight
            mean = w.mean((1, 2, 3), keepdim=True)
            var = w.var((1, 2, 3), keepdim=True, unbiased=False)
            w = (w - mean) * self.gain.view(-1, 1, 1, 1) * torch.rsqrt(
                torch.clamp(var * w[0].numel(), min=1e-4))
        else:
            w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                             weight=(self.gain * self.scale).view(-1), training=True,
                             momentum=0.0, eps=self.eps).reshape_as(self.weight)
        return w

    def forward(self, x):
        # export_onnx registers the standardized weight as a buffer, so that the exported graph
        # holds it as a constant instead of recomputing it on every call.
        w = getattr(self, "standardized", None)
        w = self.standardize() if w is None else w
        if self.pad_dynamically:
            x = pad_same(x, self.kernel_size[0], self.stride[0])
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


def pad_same(x, k, s):
    def amount(size):
        return max((math.ceil(size / s) - 1) * s + k - size, 0)
    ph, pw = amount(x.shape[-2]), amount(x.shape[-1])
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


# timm's dm_nfnet models use the exact (erf) GELU; DeepMind's code, and so the fixture, the tanh
# form. Timings use timm's choice (--gelu), the fixture check DeepMind's.
GELU_APPROXIMATE = "none"


def gamma_gelu(x):
    return F.gelu(x, approximate=GELU_APPROXIMATE).mul_(GELU_GAMMA)


class SqueezeExcite(nn.Module):
    def __init__(self, ch, hidden):
        super().__init__()
        self.fc1 = nn.Conv2d(ch, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, ch, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class NFBlock(nn.Module):
    def __init__(self, cin, cout, bottleneck, gw, stride, beta, hidden, sd_rate):
        super().__init__()
        self.beta, self.sd_rate = beta, sd_rate
        self.stride = stride
        self.conv_shortcut = WSConv2d(cin, cout, 1) if (cin != cout or stride > 1) else None
        self.conv0 = WSConv2d(cin, bottleneck, 1)
        self.conv1 = WSConv2d(bottleneck, bottleneck, 3, stride, bottleneck // gw)
        self.conv1b = WSConv2d(bottleneck, bottleneck, 3, 1, bottleneck // gw)
        self.conv2 = WSConv2d(bottleneck, cout, 1)
        self.se = SqueezeExcite(cout, hidden)
        self.skip_gain = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        h = gamma_gelu(x) * self.beta
        shortcut = x
        if self.conv_shortcut is not None:
            sc_in = h
            if self.stride > 1:
                # SAME 2x2 pool: ceil_mode windows past the edge average their in-bounds part only
                sc_in = F.avg_pool2d(h, 2, 2, ceil_mode=True)
            shortcut = self.conv_shortcut(sc_in)
        out = self.conv0(h)
        out = self.conv1(gamma_gelu(out))
        out = self.conv1b(gamma_gelu(out))
        out = self.conv2(gamma_gelu(out))
        out = 2.0 * self.se(out) * out
        if self.training and self.sd_rate > 0:
            keep = 1.0 - self.sd_rate
            mask = torch.empty(out.shape[0], 1, 1, 1, dtype=out.dtype).bernoulli_(keep)
            out = out * mask / keep
        return out * self.skip_gain * ALPHA + shortcut


class NFNet(nn.Module):
    """NFNet built from Haiku parameter shapes; module order follows DeepMind's."""

    def __init__(self, shapes, stochdepth_rate=0.0, drop_rate=0.0):
        super().__init__()
        self.haiku = []  # (haiku module, torch module) pairs, for loading release-format weights
        stem, ch = [], 3
        for i in range(4):
            w = shapes[f"NFNet/~/stem_conv{i}"]["w"]
            stem.append(self._track(f"NFNet/~/stem_conv{i}", WSConv2d(ch, w[3], 3, STEM_STRIDES[i])))
            ch = w[3]
        self.stem = nn.ModuleList(stem)
        blocks, index, expected_std, stage = [], 0, 1.0, -1
        n_blocks = sum(1 for m in shapes if m.rsplit("/", 1)[-1].startswith("nf_block"))
        while True:
            m = "NFNet/~/nf_block" + ("" if index == 0 else f"_{index}")
            if m not in shapes:
                break
            transition = (m + "/~/conv_shortcut") in shapes
            stage += 1 if transition else 0
            stride = STAGE_STRIDES[stage] if transition else 1
            c1 = shapes[m + "/~/conv1"]["w"]
            cout = shapes[m + "/~/conv2"]["w"][3]
            hidden = shapes[m + "/~/squeeze_excite/~/linear"]["w"][1]
            b = NFBlock(ch, cout, c1[3], c1[2], stride, 1.0 / expected_std, hidden,
                        stochdepth_rate * index / n_blocks)
            for part in ("conv0", "conv1", "conv1b", "conv2", "conv_shortcut"):
                if getattr(b, part) is not None:
                    self._track(m + "/~/" + part, getattr(b, part))
            self._track(m + "/~/squeeze_excite/~/linear", b.se.fc1)
            self._track(m + "/~/squeeze_excite/~/linear_1", b.se.fc2)
            self._track(m, b)
            blocks.append(b)
            if transition:
                expected_std = 1.0
            expected_std = math.sqrt(expected_std ** 2 + ALPHA ** 2)
            ch, index = cout, index + 1
        self.blocks = nn.Sequential(*blocks)
        fw = shapes["NFNet/~/final_conv"]["w"]
        self.final_conv = self._track("NFNet/~/final_conv", WSConv2d(ch, fw[3], 1))
        self.dropout = nn.Dropout(drop_rate)
        lw = shapes["NFNet/~/linear"]["w"]
        self.fc = self._track("NFNet/~/linear", nn.Linear(lw[0], lw[1]))
        self.reset_parameters()

    def _track(self, name, module):
        self.haiku.append((name, module))
        return module

    def reset_parameters(self):
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, m in self.haiku:
                if isinstance(m, NFBlock):
                    m.skip_gain.zero_()
                    continue
                # nn.init.normal_ takes no generator in torch 1.13
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / math.sqrt(m.weight[0].numel()))
                m.bias.zero_()

    def forward(self, x):
        for i, conv in enumerate(self.stem):
            x = conv(x if i == 0 else gamma_gelu(x))
        x = self.blocks(x)
        x = gamma_gelu(self.final_conv(x))
        pooled = x.mean((2, 3))
        return self.fc(self.dropout(pooled))

    def load_haiku(self, params):
        """Copies a release-format parameter tree into the network (HWIO -> OIHW, [in,out] -> [out,in])."""
        seen = set()
        with torch.no_grad():
            for name, m in self.haiku:
                p = params[name]
                seen.add(name)
                if isinstance(m, NFBlock):
                    m.skip_gain.copy_(torch.from_numpy(np.asarray(p["skip_gain"])))
                elif isinstance(m, WSConv2d):
                    m.weight.copy_(torch.from_numpy(np.ascontiguousarray(p["w"].transpose(3, 2, 0, 1))))
                    m.gain.copy_(torch.from_numpy(p["gain"]))
                    m.bias.copy_(torch.from_numpy(p["bias"]))
                else:  # nn.Linear or the SE's 1x1 nn.Conv2d
                    w = torch.from_numpy(np.ascontiguousarray(p["w"].T))
                    m.weight.copy_(w.reshape(m.weight.shape))
                    m.bias.copy_(torch.from_numpy(p["b"]))
        missing = set(params) - seen
        if missing:
            raise ValueError(f"parameters not used by the network: {sorted(missing)[:5]}")


class _ReleaseUnpickler(pickle.Unpickler):
    """Reads DeepMind's release format (a dill pickle of Haiku FlatMappings) without haiku or dill:
    FlatMapping becomes dict, numpy arrays are rebuilt by numpy itself. Anything else is refused."""

    def find_class(self, module, name):
        if module == "haiku._src.data_structures" and name == "FlatMapping":
            return dict
        if module in ("numpy.core.multiarray", "numpy") and name in ("_reconstruct", "ndarray", "dtype"):
            return getattr(np.core.multiarray if name == "_reconstruct" else np, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a release file")


def load_release(path):
    with open(path, "rb") as f:
        return _ReleaseUnpickler(f).load()


def check_fixture(directory):
    """Max |logit - DeepMind logit| over the T0 fixture cases, for DeepMind's standardization
    formula and for timm's batch_norm form (which differs where var * fan_in < 1e-4)."""
    global GELU_APPROXIMATE
    GELU_APPROXIMATE = "tanh"
    ref = json.load(open(f"{directory}/reference.json"))
    model = NFNet(ref["shapes"]).eval()
    result = {"cases": len(ref["cases"])}
    for form, exact in (("deepmind_ws", True), ("timm_ws", False)):
        WSConv2d.exact = exact
        worst, scale = 0.0, 0.0
        for case in ref["cases"]:
            model.load_haiku(load_release(f"{directory}/{case['weights']}"))
            x = np.fromfile(f"{directory}/{case['input']}", dtype="<f4")
            x = torch.from_numpy(x.reshape(case["batch"], case["res"], case["res"], 3))
            with torch.no_grad():
                got = model(x.permute(0, 3, 1, 2).contiguous()).numpy()
            want = np.asarray(case["logits"], dtype=np.float32)
            worst = max(worst, float(np.abs(got - want).max()))
            scale = max(scale, float(np.abs(want).max()))
        result[form + "_max_abs_logit_diff"] = worst
        result["max_abs_logit"] = scale
    WSConv2d.exact = False
    return result


def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(repeats):
        a = time.perf_counter()
        fn()
        t.append(time.perf_counter() - a)
    return t


def stats(seconds, batch):
    med = statistics.median(seconds)
    return {"images_per_s": batch / med, "seconds_median": med, "seconds_min": min(seconds),
            "seconds_max": max(seconds), "n": len(seconds)}


def make_inference(model, res, batch, channels_last, torchscript, bf16=False):
    """One inference call as a function: eager eval, or TorchScript's optimize_for_inference (trace,
    freeze: the standardized weights become constants; oneDNN blocked layouts and conv fusions),
    the fastest PyTorch 1.13 offers. bf16: under torch.autocast("cpu", dtype=torch.bfloat16), the
    form PyTorch documents for CPU mixed precision (for TorchScript the trace records autocast's
    casts, and freezing folds the weights' casts into bf16 constants). Works on its own copy."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    m = copy.deepcopy(model).eval().to(memory_format=fmt)
    x = torch.randn(batch, 3, res, res).to(memory_format=fmt)
    with torch.no_grad(), autocast(bf16):
        if torchscript:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python ints in pad_same
                traced = torch.jit.trace(m, x, check_trace=False).eval()
            m = torch.jit.optimize_for_inference(traced) if not bf16 else torch.jit.freeze(traced)

    def call():
        with torch.no_grad(), autocast(bf16):
            return m(x)
    return call


def autocast(bf16):
    """CPU bf16 autocast when bf16, else a no-op context."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def unitwise_norm(p):
    # Torch layouts: conv OIHW and linear [out, in] -> norm per output unit over the rest;
    # vectors and scalars as a whole (DeepMind's rule, in torch axis order).
    if p.ndim <= 1:
        return p.norm(2)
    return p.norm(2, dim=tuple(range(1, p.ndim)), keepdim=True)


def agc_(params, clipping=0.01, eps=1e-3):
    for p in params:  # timm's adaptive_clip_grad is this per-parameter loop
        if p.grad is None:
            continue
        max_norm = unitwise_norm(p.detach()).clamp_(min=eps).mul_(clipping)
        g_norm = unitwise_norm(p.grad.detach())
        clipped = p.grad.detach() * (max_norm / g_norm.clamp(min=1e-6))
        p.grad.detach().copy_(torch.where(g_norm < max_norm, p.grad.detach(), clipped))


def make_training(model, res, batch, channels_last, full, bf16=False):
    """One training step as a function, on its own copy of the model (ours or timm's: the
    classifier, which AGC leaves unclipped, is the last nn.Linear). bf16: forward and loss under
    autocast, as PyTorch's CPU mixed-precision recipe does (weights and optimizer stay float32)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    m = copy.deepcopy(model).train().to(memory_format=fmt)
    fc = [mod for mod in m.modules() if isinstance(mod, nn.Linear)][-1]
    x = torch.randn(batch, 3, res, res).to(memory_format=fmt)
    y = torch.randint(0, fc.out_features, (batch,))
    decay = [p for n, p in m.named_parameters() if n.endswith("weight") and p.ndim > 1]
    no_decay = [p for n, p in m.named_parameters() if not (n.endswith("weight") and p.ndim > 1)]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 2e-5},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=0.1, momentum=0.9, nesterov=True)
    head = {id(p) for p in fc.parameters()}
    clipped = [p for p in m.parameters() if id(p) not in head]
    ema = [p.detach().clone() for p in m.parameters()] if full else None

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast(bf16):
            loss = F.cross_entropy(m(x), y, label_smoothing=0.1)
        loss.backward()
        if full:
            agc_(clipped)
        opt.step()
        if full:
            with torch.no_grad():
                for e, p in zip(ema, m.parameters()):
                    e.lerp_(p.detach(), 1.0 - 0.99999)

    return step


def make(model, key, infer_res, train_res):
    """The function a key names: infer_{eager|torchscript}_{nchw|channels_last}[_bf16]_b{N} or
    train_{plain|full}_{nchw|channels_last}[_bf16]_b{N}."""
    kind, mode, rest = key.split("_", 2)
    layout, batch = rest.rsplit("_b", 1)
    bf16 = layout.endswith("_bf16")
    layout = layout[:-len("_bf16")] if bf16 else layout
    if layout not in ("nchw", "channels_last") or not batch.isdigit():
        raise ValueError(f"bad key {key!r}")
    cl, batch = layout == "channels_last", int(batch)
    if kind == "infer" and mode in ("eager", "torchscript"):
        return make_inference(model, infer_res, batch, cl, mode == "torchscript", bf16)
    if kind == "train" and mode in ("plain", "full"):
        return make_training(model, train_res, batch, cl, mode == "full", bf16)
    raise ValueError(f"bad key {key!r}")


ALL_KEYS = [f"{kind}_{mode}_{layout}{precision}_b{b}"
            for precision in ("", "_bf16")
            for layout in ("nchw", "channels_last")
            for kind, mode, b in (("infer", "eager", 1), ("infer", "eager", 8),
                                  ("infer", "torchscript", 1), ("infer", "torchscript", 8),
                                  ("train", "plain", 8), ("train", "full", 8))]


def export_onnx(model, path, res):
    """F0 as ONNX (opset 17) for ONNX Runtime, with the standardized weights precomputed as
    constants and a dynamic batch axis, plus a parity check: a batch of 2 and its PyTorch logits are
    written beside it (PATH.input.f32, PATH.logits.f32: raw little-endian float32) for the Java side
    to compare ONNX Runtime's logits with, and compared here too when onnxruntime is importable.
    Skip gains are set to 1 first (the random init zeroes them, which would leave every residual
    branch out of the check)."""
    m = copy.deepcopy(model).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, NFBlock):
                mod.skip_gain.fill_(1.0)
        x = torch.randn(2, 3, res, res, generator=torch.Generator().manual_seed(1))
        want = m(x)
        for mod in m.modules():
            if isinstance(mod, WSConv2d):
                mod.register_buffer("standardized", mod.standardize().detach().clone())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints in pad_same
            torch.onnx.export(m, x, path + ".tmp", opset_version=17, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch"},
                                                                     "logits": {0: "batch"}})
    os.replace(path + ".tmp", path)
    x.numpy().astype("<f4").tofile(path + ".input.f32")
    want.numpy().astype("<f4").tofile(path + ".logits.f32")
    out = {"path": path, "opset": 17, "input_shape": list(x.shape), "logits_shape": list(want.shape),
           "max_abs_logit": float(want.abs().max())}
    try:
        import onnxruntime as ort
    except ImportError:
        out["python_onnxruntime_check"] = None
        return out
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()})[0]
    out["python_onnxruntime_check"] = {"onnxruntime": ort.__version__,
                                       "max_abs_logit_diff": float(np.abs(got - want.numpy()).max())}
    return out


def serve(model, infer_res, train_res):
    """Line protocol for `./nfnet bench --sections pytorch`, which interleaves our calls with these
    so that both see the same machine state (this VM's speed drifts by up to 2x over minutes).
    Requests (one JSON object per line): {"op": "prepare"|"run"|"drop", "key": K},
    {"op": "export_onnx", "key": PATH}, {"op": "quit"}.
    Replies: {"ok": true} or {"seconds": s} for run, or {"error": message}."""
    fns = {}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        op, key = req.get("op"), req.get("key")
        try:
            if op == "quit":
                break
            if op == "prepare":
                fns[key] = make(model, key, infer_res, train_res)
                reply = {"ok": True}
            elif op == "export_onnx":  # key: the .onnx path to write
                reply = export_onnx(model, key, infer_res)
            elif op == "drop":
                fns.pop(key, None)
                reply = {"ok": True}
            elif op == "run":
                a = time.perf_counter()
                fns[key]()
                reply = {"seconds": time.perf_counter() - a}
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as e:  # reported to the Java side, which names the key
            reply = {"error": f"{type(e).__name__}: {e}"}
        reply["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        print(json.dumps(reply), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--infer-res", type=int, default=256)
    ap.add_argument("--train-res", type=int, default=192)
    ap.add_argument("--sections", default="infer,train",
                    help="comma list of infer, train (timed on F0)")
    ap.add_argument("--forms", metavar="KEYS",
                    help="only these forms (e.g. train_plain_nchw_b8): the printed peak_rss_mb is "
                         "then that form's own")
    ap.add_argument("--gelu", choices=("erf", "tanh"), default="erf",
                    help="GELU form for the timings: erf (timm's dm_nfnet) or tanh (DeepMind's)")
    ap.add_argument("--serve", action="store_true",
                    help="answer prepare/run requests on stdin (used by ./nfnet bench)")
    ap.add_argument("--export-onnx", metavar="PATH",
                    help="write F0 (random weights) as ONNX with a parity check, print it, exit")
    ap.add_argument("--check-fixture", metavar="DIR",
                    help="DeepMind's T0 fixture directory: report logits deviation and exit")
    ap.add_argument("--structure", metavar="JSON",
                    help="structures.json: check that the built-in F0 shapes equal its F0 entry")
    a = ap.parse_args(argv)
    global GELU_APPROXIMATE
    GELU_APPROXIMATE = "none" if a.gelu == "erf" else "tanh"
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "gelu": a.gelu,
           "mkldnn": torch.backends.mkldnn.is_available()}
    shapes = variant_shapes(F0)
    if a.structure:
        want = json.load(open(a.structure))["F0"]["shapes"]
        out["f0_shapes_match_structures_json"] = want == shapes
        if want != shapes:
            raise SystemExit("built-in F0 shapes differ from " + a.structure)
    if a.check_fixture:
        out["gelu"] = "tanh"  # the fixture is DeepMind's, whatever --gelu says
        out["fixture"] = check_fixture(a.check_fixture)
        print(json.dumps(out))
        return 0
    model = NFNet(shapes, F0["stochdepth_rate"], F0["drop_rate"])
    out["params"] = sum(p.numel() for p in model.parameters())
    if a.export_onnx:
        out["onnx"] = export_onnx(model, a.export_onnx, a.infer_res)
        print(json.dumps(out))
        return 0
    if a.serve:
        serve(model, a.infer_res, a.train_res)
        return 0
    sections = set(a.sections.split(","))
    forms = set(a.forms.split(",")) if a.forms else None
    if forms and not forms <= set(ALL_KEYS):
        raise SystemExit("--forms: unknown %s; known: %s"
                         % (",".join(sorted(forms - set(ALL_KEYS))), ",".join(ALL_KEYS)))
    for key in ALL_KEYS:
        if (key in forms) if forms else key.split("_")[0] in sections:
            fn = make(model, key, a.infer_res, a.train_res)
            out[key] = stats(timed(fn, a.warmup, a.repeats), int(key.rsplit("_b", 1)[1]))
            del fn
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
