"""Reads a TensorBoard log directory with TensorBoard's own event reader and prints, as JSON,
every scalar and image tag with its steps: {"scalars": {tag: [steps]}, "images": {tag: [steps]}}."""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator

acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={
    event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0, event_accumulator.TENSORS: 0})
acc.Reload()
tags = acc.Tags()
out = {"scalars": {}, "images": {}}
for t in tags.get("scalars", []):
    out["scalars"][t] = [e.step for e in acc.Scalars(t)]
for t in tags.get("images", []):
    out["images"][t] = [e.step for e in acc.Images(t)]
# TF2-style summaries arrive as tensors; classify them by their plugin.
for t in tags.get("tensors", []):
    plugin = acc.SummaryMetadata(t).plugin_data.plugin_name
    kind = "images" if plugin == "images" else "scalars"
    out[kind][t] = [e.step for e in acc.Tensors(t)]
print(json.dumps(out))
