#!/usr/bin/python3
"""PyTorch <-> .sermodel: the layers of seremotion's network as torch
modules, builders for both architectures, and an exporter that writes the
.sermodel format (docs/model-format.md) byte by byte.

This is how a model trained in PyTorch reaches the plugin:

    import torch_export as te
    net = te.temporal_net(in_ch=40, channels=(64, 128, 256, 256))
    ... train net (a te.SerNet, input (batch, in_ch, frames)) ...
    net.eval()
    te.export(net, "my.sermodel", arch="temporal", feat=te.default_features(),
              labels=te.DEFAULT_LABELS, in_len=300, meta={"name": "mine"})

Also a script:
    tests/torch_export.py placeholder OUT.sermodel   (random-weight default model)
    tests/torch_export.py dump MODEL.sermodel        (print what a file holds)

Python is for reference and conversion only; the product never runs it.
"""
import struct
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

# layer kinds (ser/model.h)
CONV1D, BATCHNORM, RELU, MAXPOOL, AVGPOOL, CHANNEL_ATT, SPATIAL_ATT = 1, 2, 3, 4, 5, 6, 7
GLOBAL_POOL, FLATTEN, DENSE, DROPOUT, SOFTMAX = 8, 9, 10, 11, 12
ARCH = {"temporal": 0, "paper": 1}
DEFAULT_LABELS = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
FORMAT_VERSION = 1

FEAT_FIELDS = [  # (name, struct code) in file order
    ("sample_rate", "I"), ("win_length", "I"), ("hop_length", "I"), ("n_fft", "I"),
    ("window", "I"), ("n_mels", "I"), ("fmin", "f"), ("fmax", "f"), ("mel_scale", "I"),
    ("mel_norm", "I"), ("log", "I"), ("n_mfcc", "I"), ("preemph", "f"), ("deltas", "I"),
    ("delta_width", "I"), ("center", "I"), ("top_db", "f"), ("zcr_rms", "I")]


def default_features(**kw):
    """SPEC section 3 defaults: 16 kHz, 400/160, FFT 512, hann, 40 htk mels, dB, 40 MFCC."""
    f = dict(sample_rate=16000, win_length=400, hop_length=160, n_fft=512, window=0, n_mels=40,
             fmin=0.0, fmax=0.0, mel_scale=0, mel_norm=0, log=0, n_mfcc=40, preemph=0.0,
             deltas=0, delta_width=9, center=0, top_db=0.0, zcr_rms=0)
    f.update(kw)
    return f


def paper_features(**kw):
    """The paper's librosa-style preset (ser_feature_params_paper)."""
    f = dict(sample_rate=22050, win_length=2048, hop_length=512, n_fft=2048, window=0, n_mels=128,
             fmin=0.0, fmax=0.0, mel_scale=1, mel_norm=1, log=0, n_mfcc=20, preemph=0.0,
             deltas=0, delta_width=9, center=1, top_db=80.0, zcr_rms=1)
    f.update(kw)
    return f


def feature_dim(f):
    return f["n_mfcc"] * (1 + f["deltas"]) + (2 if f["zcr_rms"] else 0)


# ---------------------------------------------------------------- layers
class ChannelAttention(nn.Module):
    """CBAM channel attention: sigmoid(mlp(avg_t x) + mlp(max_t x)) * x."""

    def __init__(self, c, reduction=16):
        super().__init__()
        h = max(1, c // reduction)
        self.c, self.reduction = c, reduction
        self.fc1 = nn.Linear(c, h)
        self.fc2 = nn.Linear(h, c)

    def mlp(self, v):
        return self.fc2(F.relu(self.fc1(v)))

    def forward(self, x):  # (B, C, T)
        a = self.mlp(x.mean(dim=2)) + self.mlp(x.amax(dim=2))
        return x * torch.sigmoid(a).unsqueeze(2)


class SpatialAttention(nn.Module):
    """CBAM spatial attention over time: channel mean and max, conv1d(2->1, k, pad k//2)."""

    def __init__(self, kernel=7):
        super().__init__()
        assert kernel % 2 == 1
        self.kernel = kernel
        self.conv = nn.Conv1d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x):
        m = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(m))


class GlobalPool(nn.Module):
    """mode 0 avg, 1 max, 2 avg||max over time -> (B, C or 2C)."""

    def __init__(self, mode=0):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        if self.mode == 0:
            return x.mean(dim=2)
        if self.mode == 1:
            return x.amax(dim=2)
        return torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)


class Flatten(nn.Module):
    def forward(self, x):
        return torch.flatten(x, 1)


class Softmax(nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=1)


class SerNet(nn.Sequential):
    """A sequence of the modules above and nn.Conv1d, nn.BatchNorm1d, nn.ReLU,
    nn.MaxPool1d, nn.AvgPool1d, nn.Linear, nn.Dropout. Input (B, C, T)."""

    def logits(self, x):
        for m in self:
            if not isinstance(m, Softmax):
                x = m(x)
        return x


# ---------------------------------------------------------------- builders
def temporal_net(in_ch=40, channels=(64, 128, 256, 256), kernel=5, n_labels=7, cbam_from=2,
                 pool_every=True, reduction=16, sa_kernel=7, global_mode=2, dropout=0.3):
    """Conv blocks over time (conv 'same' + BN + ReLU [+ CBAM] + maxpool 2),
    CBAM after blocks >= cbam_from, global avg||max pooling, dense, softmax.
    The last block has no pooling."""
    mods = []
    c = in_ch
    for i, oc in enumerate(channels):
        mods += [nn.Conv1d(c, oc, kernel, padding=kernel // 2), nn.BatchNorm1d(oc), nn.ReLU()]
        if i >= cbam_from:
            mods += [ChannelAttention(oc, reduction), SpatialAttention(sa_kernel)]
        if pool_every and i < len(channels) - 1:
            mods += [nn.MaxPool1d(2, 2)]
        c = oc
    g = GlobalPool(global_mode)
    mods += [g, nn.Dropout(dropout), nn.Linear(2 * c if global_mode == 2 else c, n_labels), Softmax()]
    return SerNet(*mods)


def paper_net(in_len, n_labels=7, filters=256, kernel=7, dense=64):
    """The paper's network (docs/model-format.md, "paper architecture"):
    Conv1D(256,k7,same,relu)+BN, Conv1D(256,k7,same,relu)+BN, Dropout 0.2,
    ChannelAttention r=16, SpatialAttention k=7, Flatten, Dense(64,relu)+BN,
    Dense(7) softmax. Keras puts BN after the ReLU; so do we."""
    return SerNet(
        nn.Conv1d(1, filters, kernel, padding=kernel // 2), nn.ReLU(), nn.BatchNorm1d(filters, eps=1e-3),
        nn.Conv1d(filters, filters, kernel, padding=kernel // 2), nn.ReLU(), nn.BatchNorm1d(filters, eps=1e-3),
        nn.Dropout(0.2), ChannelAttention(filters, 16), SpatialAttention(7), Flatten(),
        nn.Linear(filters * in_len, dense), nn.ReLU(), nn.BatchNorm1d(dense, eps=1e-3),
        nn.Linear(dense, n_labels), Softmax())


def randomize(net, seed=0, bn_stats=True):
    """Random weights (Kaiming-ish) and non-trivial batch-norm statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm1d) and bn_stats:
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_var.copy_(0.3 + 2 * torch.rand(n, generator=g))
    net.eval()
    return net


# ---------------------------------------------------------------- export
def _f32(t):
    return t.detach().to(torch.float32).contiguous().reshape(-1).tolist()


def layer_records(net):
    """[(kind, in_ch, out_ch, kernel, stride, padding, dilation, reduction, mode, eps, p, params)]"""
    out = []
    for m in net:
        z = dict(in_ch=0, out_ch=0, kernel=0, stride=0, padding=0, dilation=0, reduction=0, mode=0,
                 eps=0.0, p=0.0, params=[])
        if isinstance(m, nn.Conv1d):
            assert m.groups == 1 and m.padding_mode == "zeros" and isinstance(m.padding, tuple)
            z.update(kind=CONV1D, in_ch=m.in_channels, out_ch=m.out_channels, kernel=m.kernel_size[0],
                     stride=m.stride[0], padding=m.padding[0], dilation=m.dilation[0],
                     params=_f32(m.weight) + (_f32(m.bias) if m.bias is not None else [0.0] * m.out_channels))
        elif isinstance(m, nn.BatchNorm1d):
            z.update(kind=BATCHNORM, in_ch=m.num_features, eps=float(m.eps),
                     params=_f32(m.weight) + _f32(m.bias) + _f32(m.running_mean) + _f32(m.running_var))
        elif isinstance(m, nn.ReLU):
            z.update(kind=RELU)
        elif isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            p = m.padding if isinstance(m.padding, int) else m.padding[0]
            assert not m.ceil_mode
            if isinstance(m, nn.MaxPool1d):
                assert m.dilation == 1
            else:
                assert m.count_include_pad
            z.update(kind=MAXPOOL if isinstance(m, nn.MaxPool1d) else AVGPOOL, kernel=k, stride=s, padding=p)
        elif isinstance(m, ChannelAttention):
            z.update(kind=CHANNEL_ATT, in_ch=m.c, reduction=m.reduction,
                     params=_f32(m.fc1.weight) + _f32(m.fc1.bias) + _f32(m.fc2.weight) + _f32(m.fc2.bias))
        elif isinstance(m, SpatialAttention):
            z.update(kind=SPATIAL_ATT, kernel=m.kernel, params=_f32(m.conv.weight) + _f32(m.conv.bias))
        elif isinstance(m, GlobalPool):
            z.update(kind=GLOBAL_POOL, mode=m.mode)
        elif isinstance(m, Flatten):
            z.update(kind=FLATTEN)
        elif isinstance(m, nn.Linear):
            z.update(kind=DENSE, in_ch=m.in_features, out_ch=m.out_features,
                     params=_f32(m.weight) + (_f32(m.bias) if m.bias is not None else [0.0] * m.out_features))
        elif isinstance(m, nn.Dropout):
            z.update(kind=DROPOUT, p=float(m.p))
        elif isinstance(m, Softmax):
            z.update(kind=SOFTMAX)
        else:
            raise ValueError("no .sermodel layer for %r" % (m,))
        out.append(z)
    return out


def _section(tag, body):
    assert len(tag) == 4
    return tag.encode("ascii") + struct.pack("<Q", len(body)) + body


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def to_bytes(net, arch, feat, labels, in_ch=None, in_len=300, clip_samples=0, norm=None, meta=None):
    """The .sermodel bytes for `net`. norm: (mean, std) sequences or None."""
    arch_id = ARCH[arch] if isinstance(arch, str) else int(arch)
    if in_ch is None:
        in_ch = feature_dim(feat) if arch_id == 0 else 1
    out = b"SERMODEL" + struct.pack("<I", FORMAT_VERSION)
    out += _section("ARCH", struct.pack("<4I", arch_id, in_ch, in_len, clip_samples))
    out += _section("FEAT", b"".join(struct.pack("<" + code, feat[name]) for name, code in FEAT_FIELDS))
    out += _section("LABL", struct.pack("<I", len(labels)) + b"".join(_str(s) for s in labels))
    if norm is not None:
        mean, std = [list(map(float, v)) for v in norm]
        out += _section("NORM", struct.pack("<I", len(mean)) + struct.pack("<%df" % len(mean), *mean)
                        + struct.pack("<%df" % len(std), *std))
    recs = layer_records(net)
    body = struct.pack("<I", len(recs))
    for z in recs:
        body += struct.pack("<9I2fI", z["kind"], z["in_ch"], z["out_ch"], z["kernel"], z["stride"],
                            z["padding"], z["dilation"], z["reduction"], z["mode"], z["eps"], z["p"],
                            len(z["params"]))
        body += struct.pack("<%df" % len(z["params"]), *z["params"])
    out += _section("LAYR", body)
    if meta:
        out += _section("META", struct.pack("<I", len(meta)) +
                        b"".join(_str(k) + _str(str(v)) for k, v in meta.items()))
    return out + _section("END ", struct.pack("<I", zlib.crc32(out) & 0xFFFFFFFF))


def export(net, path, **kw):
    data = to_bytes(net, **kw)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def dump(path):
    """Print the sections of a .sermodel file (a reader in ~30 lines)."""
    data = open(path, "rb").read()
    assert data[:8] == b"SERMODEL", "bad magic"
    print("version", struct.unpack_from("<I", data, 8)[0])
    off = 12
    while off < len(data):
        tag = data[off:off + 4].decode("ascii", "replace")
        (n,) = struct.unpack_from("<Q", data, off + 4)
        body = data[off + 12: off + 12 + n]
        if tag == "LAYR":
            (cnt,) = struct.unpack_from("<I", body, 0)
            o = 4
            print("LAYR", cnt, "layers")
            for i in range(cnt):
                rec = struct.unpack_from("<9I2fI", body, o)
                print("  ", i, rec)
                o += 48 + 4 * rec[-1]
        elif tag == "END ":
            ok = struct.unpack("<I", body)[0] == zlib.crc32(data[:off]) & 0xFFFFFFFF
            print("END  crc", "ok" if ok else "MISMATCH")
        else:
            print(tag, n, "bytes")
        off += 12 + n


def placeholder(path):
    torch.manual_seed(0)
    net = randomize(temporal_net(), seed=2026, bn_stats=False)
    meta = {
        "name": "seremotion default (placeholder)",
        "description": "UNTRAINED random weights - placeholder. Replaced by the trained default model; "
                       "its scores mean nothing.",
        "training": "none",
        "architecture": "temporal: 4 conv blocks (k5; 64,128,256,256 channels; BN; ReLU; maxpool 2 "
                        "after blocks 1-3), CBAM after blocks 3 and 4, global avg||max pool, dense 512->7",
        "created_by": "tests/torch_export.py placeholder",
    }
    return export(net, path, arch="temporal", feat=default_features(), labels=DEFAULT_LABELS,
                  in_len=300, meta=meta)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "placeholder":
        print(sys.argv[2], placeholder(sys.argv[2]), "bytes")
    elif len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(1)
