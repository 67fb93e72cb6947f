#!/usr/bin/python3
"""Writes tests/fixtures/net/: small .sermodel files built and exported with
tests/torch_export.py (random weights, non-trivial batch-norm statistics,
eval mode), network inputs and PyTorch's outputs (computed in float64).

    /usr/bin/python3 tests/make_net_fixtures.py

Files per case NAME and input length T:
    NAME.sermodel          the model
    NAME.T.in.f32          input, little-endian float32; temporal: T rows of in_ch (time-major);
                           paper: in_len values
    NAME.T.out.f32         PyTorch's softmax outputs (n_labels float32)
cases.txt lists "NAME T" lines; "NAME T min" when T is the smallest length
PyTorch accepts (ser_model_min_frames must agree). tests/net/test_torch.c checks them.
"""
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_export as te  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "net")


def tame_logits(net, x):
    """Rescale the last dense layer so logits have std ~1.5: softmax outputs
    then stay away from 0 and 1 and a relative comparison means something."""
    last = [m for m in net if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        z = net.logits(x)
        s = float(z.std())
        if s > 0:
            last.weight.mul_(1.5 / s)
            last.bias.mul_(1.5 / s)


def min_frames(net, c):
    """Smallest input length the torch net accepts (what ser_model_min_frames must say)."""
    net.eval()
    for T in range(1, 4096):
        try:
            with torch.no_grad():
                net(torch.zeros(1, c, T))
            return T
        except RuntimeError:
            pass
    raise ValueError("no length works")


def write_f32(path, t):
    v = t.detach().to(torch.float32).reshape(-1).tolist()
    with open(path, "wb") as f:
        f.write(struct.pack("<%df" % len(v), *v))


def case(name, net, arch, feat, lengths, in_len, seed, labels=None, in_ch=None, clip_samples=0, cases=None,
         norm=None):
    g = torch.Generator().manual_seed(seed + 1000)
    te.randomize(net, seed=seed)
    c = in_ch if in_ch is not None else (te.feature_dim(feat) if arch == "temporal" else 1)
    n_labels = [m for m in net if isinstance(m, nn.Linear)][-1].out_features
    labels = labels or ["class%d" % i for i in range(n_labels)]
    mins = set()
    if "min" in lengths:
        mins.add(min_frames(net, c))
        lengths = [min_frames(net, c) if T == "min" else T for T in lengths]
    inputs = {T: torch.randn(1, c, T, generator=g, dtype=torch.float64) for T in lengths}
    net = net.double().eval()
    tame_logits(net, inputs[max(lengths)])
    te.export(net.float(), os.path.join(OUT, name + ".sermodel"), arch=arch, feat=feat, labels=labels,
              in_ch=c, in_len=in_len, clip_samples=clip_samples, norm=norm,
              meta={"name": name, "created_by": "tests/make_net_fixtures.py"})
    net = net.double()
    for T, x in inputs.items():
        x = x.float().double()  # exactly the float32 values the C test reads
        with torch.no_grad():
            y = net(x)
        # time-major (T, C) for temporal; flat for paper
        write_f32(os.path.join(OUT, "%s.%d.in.f32" % (name, T)), x[0].t() if arch == "temporal" else x[0, 0])
        write_f32(os.path.join(OUT, "%s.%d.out.f32" % (name, T)), y[0])
        cases.append("%s %d%s" % (name, T, " min" if T in mins else ""))


def fuzz_seeds():
    """Tiny models for tests/fuzz/corpus: every section and layer kind in a few hundred bytes."""
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "corpus")
    os.makedirs(d, exist_ok=True)
    f4 = te.default_features(n_mfcc=4, n_mels=8)
    net = te.randomize(te.SerNet(te.GlobalPool(0), nn.Linear(4, 3), te.Softmax()), seed=7)
    te.export(net, os.path.join(d, "tiny_dense.sermodel"), arch="temporal", feat=f4, labels=["a", "b", "c"],
              in_len=1, norm=([0.0] * 4, [1.0] * 4), meta={"k": "v", "empty": ""})
    net = te.randomize(te.SerNet(
        nn.Conv1d(4, 4, 3, stride=2, padding=1, dilation=2), nn.BatchNorm1d(4), nn.ReLU(), nn.MaxPool1d(2, 2),
        nn.AvgPool1d(3, 1, 1), te.ChannelAttention(4, 2), te.SpatialAttention(3), nn.Dropout(0.1),
        te.GlobalPool(2), nn.Linear(8, 2), nn.BatchNorm1d(2), te.Softmax()), seed=8)
    te.export(net, os.path.join(d, "tiny_all_layers.sermodel"), arch="temporal", feat=f4, labels=["x", "y"],
              in_len=12)
    fp = te.paper_features(n_mfcc=2, n_mels=8)
    net = te.randomize(te.paper_net(in_len=6, n_labels=2, filters=4, kernel=3, dense=3), seed=9)
    te.export(net, os.path.join(d, "tiny_paper.sermodel"), arch="paper", feat=fp, labels=["p", "q"], in_len=6,
              clip_samples=55125)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    cases = []
    f13 = te.default_features(n_mfcc=13)
    # the temporal architecture (smaller channels), at its minimum length (8), an odd and a long length
    case("temporal", te.temporal_net(in_ch=13, channels=(16, 24, 32, 40), kernel=5, n_labels=7, cbam_from=2,
                                     reduction=4), "temporal", f13, ["min", 37, 300], 300, 1,
         labels=te.DEFAULT_LABELS, cases=cases)
    # temporal with deltas (in_ch 24 = 8 x 3), global max pool, no pooling between blocks
    fd = te.default_features(n_mfcc=8, deltas=2)
    case("temporal_maxpool", te.temporal_net(in_ch=24, channels=(20, 20), kernel=3, n_labels=4, cbam_from=0,
                                             reduction=8, pool_every=False, global_mode=1, sa_kernel=5),
         "temporal", fd, ["min", 50], 100, 2, cases=cases,
         norm=([0.25 * i - 3 for i in range(24)], [0.5 + 0.1 * i for i in range(24)]))
    f8 = te.default_features(n_mfcc=8)
    # conv stride / padding / dilation; avg pool with padding; 1x1 conv (direct sgemm path)
    case("conv", te.SerNet(
        nn.Conv1d(8, 12, 3, stride=2, padding=3, dilation=2), nn.BatchNorm1d(12), nn.ReLU(),
        nn.Conv1d(12, 10, 4, stride=3, padding=0), nn.AvgPool1d(3, 2, 1),
        nn.Conv1d(10, 9, 1), nn.BatchNorm1d(9), nn.MaxPool1d(3, 1, 1),
        nn.Conv1d(9, 6, 2, stride=1, padding=2, dilation=3),
        te.GlobalPool(0), nn.Linear(6, 5), te.Softmax()), "temporal", f8, ["min", 25, 64], 64, 3, cases=cases)
    # pools on their own, batch norm not after a conv (kept as an affine op), dropout
    case("pools", te.SerNet(
        nn.BatchNorm1d(8), nn.MaxPool1d(3, 1, 1), nn.AvgPool1d(4, 3, 2), nn.ReLU(), nn.BatchNorm1d(8),
        nn.Dropout(0.5), nn.MaxPool1d(5, 2, 2), te.GlobalPool(2), nn.Linear(16, 6), nn.BatchNorm1d(6),
        te.Softmax()), "temporal", f8, ["min", 40], 40, 4, cases=cases)
    # attention blocks: reduction leaving 1 hidden unit, even sizes, kernel 1 and 9
    case("attention", te.SerNet(
        nn.Conv1d(8, 32, 3, padding=1), te.ChannelAttention(32, 4), te.SpatialAttention(9),
        nn.ReLU(), te.ChannelAttention(32, 64), te.SpatialAttention(1),
        te.GlobalPool(2), nn.Linear(64, 3), te.Softmax()), "temporal", f8, ["min", 5, 33], 33, 5, cases=cases)
    # the paper architecture at a short input length
    fp = te.paper_features()
    case("paper", te.paper_net(in_len=16), "paper", fp, [16], 16, 6, labels=te.DEFAULT_LABELS,
         clip_samples=0, cases=cases)
    fuzz_seeds()
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")
    print("\n".join(cases))


if __name__ == "__main__":
    main()
