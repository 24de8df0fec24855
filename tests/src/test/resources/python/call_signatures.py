"""Loads a SavedModel with Python TensorFlow and calls signatures on inputs described by a manifest.

usage: call_signatures.py EXPORT_DIR IO_DIR

IO_DIR/inputs.json maps signature -> input name -> {"dtype", "shape", "file"} (raw little-endian
array) or {"dtype": "string", "files": [...]} (one encoded image per file). Prints JSON to stdout:
{"tf_version", "signatures": [every signature key], "outputs": {signature: {output: {"dtype",
"shape", "values"}}}} with float values widened to double and strings decoded as UTF-8.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def read_input(io_dir, d):
    if d["dtype"] == "string":
        data = []
        for name in d["files"]:
            with open(os.path.join(io_dir, name), "rb") as f:
                data.append(f.read())
        return tf.constant(data, dtype=tf.string)
    dtype = np.dtype(d["dtype"]).newbyteorder("<")
    a = np.fromfile(os.path.join(io_dir, d["file"]), dtype=dtype).reshape(d["shape"])
    return tf.constant(a.astype(a.dtype.newbyteorder("=")))


def main(export_dir, io_dir):
    with open(os.path.join(io_dir, "inputs.json")) as f:
        spec = json.load(f)
    model = tf.saved_model.load(export_dir)
    result = {"tf_version": tf.__version__, "signatures": sorted(model.signatures.keys()), "outputs": {}}
    for key, inputs in spec.items():
        fn = model.signatures[key]
        outputs = fn(**{name: read_input(io_dir, d) for name, d in inputs.items()})
        out = {}
        for name, t in outputs.items():
            a = t.numpy()
            if a.dtype.kind in "OSU":
                values = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in a.ravel()]
            else:
                values = a.astype(np.float64).ravel().tolist()
            out[name] = {"dtype": t.dtype.name, "shape": list(a.shape), "values": values}
        result["outputs"][key] = out
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
