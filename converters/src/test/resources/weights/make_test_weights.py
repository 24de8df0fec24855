#!/usr/bin/env python3
"""Regenerates the small weight files next to this script (run from this directory).

tiny_p{2,3,4,5}.pkl  : /work/shared/tools/haiku_pickle.py --structure tiny_structure.json
                       --variant tiny --protocol N --layout plain  (plain layout, pattern fill)
tiny_release_p{2,3,4,5}.pkl : the same with --layout release (dill 0.3.x / numpy <= 1.18, the
                       byte layout of DeepMind's F0-F6 files)
numpy_p{2,4,5}.pkl   : real numpy (2.x) arrays in plain dicts, pickled by the stdlib pickler:
                       float32, float16, float64, big-endian float32 ('>f4'); protocol 5 takes
                       numpy's _frombuffer + BYTEARRAY8 path
dill_create_array_p4.pkl : numpy arrays wrapped like newer dill does:
                       dill._dill._create_array(_reconstruct, args, state, None)
tiny_stored.npz / tiny_deflated.npz : np.savez / np.savez_compressed of the tiny structure,
                       same pattern values, keys 'module/param'
Needs numpy; the tests themselves never run Python.
"""
import math, pickle, subprocess, sys, types, json
import numpy as np

TOOL = "/work/shared/tools/haiku_pickle.py"
for p in (2, 3, 4, 5):
    subprocess.check_call([sys.executable, TOOL, "--structure", "tiny_structure.json", "--variant", "tiny",
                           "--out", f"tiny_p{p}.pkl", "--protocol", str(p), "--layout", "plain"])
    subprocess.check_call([sys.executable, TOOL, "--structure", "tiny_structure.json", "--variant", "tiny",
                           "--out", f"tiny_release_p{p}.pkl", "--protocol", str(p), "--layout", "release"])

sys.path.insert(0, "/work/shared/tools")
import haiku_pickle  # noqa: E402  (only for pattern_bytes)

shapes = json.load(open("tiny_structure.json"))["tiny"]["shapes"]
flat = {}
for salt, mod in enumerate(sorted(shapes)):
    for name, shape in sorted(shapes[mod].items()):
        flat[f"{mod}/{name}"] = np.frombuffer(haiku_pickle.pattern_bytes(tuple(shape), salt), "<f4").reshape(shape)
np.savez("tiny_stored.npz", **flat)
np.savez_compressed("tiny_deflated.npz", **flat)

vals = np.array([[0.5, -1.25, 3.0], [65504.0, -0.0, 1e-3]])
mixed = {
    "m/f32": vals.astype("<f4"),
    "m/f16": vals.astype("<f2"),
    "m/f64": vals.astype("<f8"),
    "m/be32": vals.astype(">f4"),
}
tree = {"m": {k.split("/")[1]: v for k, v in mixed.items()}}
for p in (2, 4, 5):
    with open(f"numpy_p{p}.pkl", "wb") as fh:
        pickle.dump(tree, fh, protocol=p)

dill_mod = types.ModuleType("dill._dill")
sys.modules.setdefault("dill", types.ModuleType("dill"))
sys.modules["dill._dill"] = dill_mod
def _create_array(f, args, state, npdict=None):
    raise NotImplementedError
_create_array.__module__ = "dill._dill"
dill_mod._create_array = _create_array

class DillArray:
    def __init__(self, a):
        self.a = a
    def __reduce__(self):
        f, args, state = self.a.__reduce__()
        return _create_array, (f, args, state, None)

with open("dill_create_array_p4.pkl", "wb") as fh:
    pickle._Pickler(fh, protocol=4).dump({"m": {"f32": DillArray(mixed["m/f32"]), "f64": DillArray(mixed["m/f64"])}})
