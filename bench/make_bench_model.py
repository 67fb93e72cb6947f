#!/usr/bin/python3
"""The classify benchmark's model: the temporal architecture (4 conv blocks of
64, 128, 256, 256 channels, kernel 5, conv + BN + ReLU + maxpool 2 (not after
the last), CBAM after the last two, global avg||max pool, dense to 7),
random weights with non-trivial batch-norm statistics, and normalisation
statistics measured on the benchmark's speech (so activations have a trained
model's scale). Writes OUT.sermodel (B's exporter, tests/torch_export.py) and
OUT.pt (the same torch module's state) for bench/classify_torch.py.
Usage: make_bench_model.py SPEECH.wav OUT (without extension)"""
import os
import sys
import wave

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import torch_export as te  # noqa: E402
from classify_torch import mfcc  # noqa: E402

torch.set_num_threads(1)
wav, out = sys.argv[1], sys.argv[2]
with wave.open(wav, "rb") as w:
    x = np.frombuffer(w.readframes(min(w.getnframes(), 16000 * 120)), dtype="<i2").astype(np.float32) / 32768.0
feats = mfcc(torch.from_numpy(x))  # (T, 40)
mean, std = feats.mean(0), feats.std(0) + 1e-3
net = te.randomize(te.temporal_net(), seed=11, bn_stats=True)
params = sum(p.numel() for p in net.parameters())
te.export(net, out + ".sermodel", arch="temporal", feat=te.default_features(), labels=te.DEFAULT_LABELS,
          in_len=300, norm=(mean.tolist(), std.tolist()),
          meta={"name": "classify benchmark (random weights)", "created_by": "bench/make_bench_model.py"})
torch.save({"state": net.state_dict(), "mean": mean, "std": std}, out + ".pt")
print(f"{out}.sermodel: {params} parameters")
