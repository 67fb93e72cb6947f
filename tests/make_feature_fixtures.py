#!/usr/bin/python3
"""Reference MFCC fixtures for ser-core's feature tests (suite 'features').

Run with Debian's Python (torch, torchaudio, numpy):
    /usr/bin/python3 tests/make_feature_fixtures.py [DATASETS]
DATASETS defaults to ../shared/datasets next to the repository.

For every configuration and clip it writes tests/fixtures/features/<name>.npy
(float32, frames x values) computed with torchaudio (MelSpectrogram,
create_dct, compute_deltas) and, for ZCR and RMS, numpy versions of librosa's
zero_crossing_rate and rms. tests/fixtures/features/manifest.txt lists each
fixture: its name, its input, and the ser_feature_params it was made with.
The input is either a dataset file (read by the C test through SER_DATASETS;
16-bit WAV scaled by 1/32768, exactly as the reader here does) or, where the
configuration needs another sample rate, a float32 .npy of the very samples
used here (resampled by torchaudio), so the C test compares features, not
resamplers.
"""
import os
import sys
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.functional as F

torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "features")
DATASETS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "datasets")

CLIPS = ["emodb/wav/12a02Ac.wav", "emodb/wav/03a01Fa.wav"]

DEFAULT = dict(sample_rate=16000, win_length=400, hop_length=160, n_fft=512, window="hann",
               n_mels=40, fmin=0.0, fmax=0.0, mel_scale="htk", mel_norm="none", log="db",
               n_mfcc=40, preemph=0.0, deltas=0, delta_width=9, center=0, top_db=0.0, zcr_rms=0)

CONFIGS = {
    "default": {},
    "slaney": dict(mel_scale="slaney", mel_norm="slaney"),
    "hamming": dict(window="hamming"),
    "mels64": dict(n_mels=64, n_mfcc=30, fmin=20.0, fmax=7600.0),
    "nfft1024": dict(n_fft=1024, win_length=400, hop_length=200, n_mels=48, n_mfcc=24),
    "deltas": dict(deltas=1, delta_width=5, n_mfcc=13),
    "deltas2": dict(deltas=2, delta_width=9, n_mfcc=20),
    "preemph": dict(preemph=0.97),
    "ln": dict(log="ln"),
    "paper": dict(sample_rate=22050, win_length=2048, hop_length=512, n_fft=2048, n_mels=128,
                  mel_scale="slaney", mel_norm="slaney", n_mfcc=20, center=1, top_db=80.0,
                  zcr_rms=1),
}


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.astype(np.float32) / np.float32(32768.0), w.getframerate()


def zcr_rms(x, frame_length, hop, center, frames, n_fft):
    """librosa.feature.zero_crossing_rate / rms: centred frames pad ZCR with
    the edge samples ('edge') and RMS with zeros ('constant')."""
    L = frame_length
    if center:
        xz = np.pad(x, L // 2, mode="edge")
        xr = np.pad(x, L // 2, mode="constant")
        start = 0
    else:
        xz = xr = x
        start = (n_fft - L) // 2
    z = np.zeros(frames, np.float32)
    r = np.zeros(frames, np.float32)
    for t in range(frames):
        a = start + t * hop
        fz = xz[a:a + L].copy()
        fz[np.abs(fz) <= 1e-10] = 0
        s = np.signbit(fz)
        z[t] = np.float32(np.count_nonzero(s[1:] != s[:-1])) / np.float32(L)
        fr = xr[a:a + L].astype(np.float32)
        r[t] = np.sqrt(np.mean(fr * fr))
    return z, r


def features(x, c):
    y = x.copy()
    if c["preemph"]:
        y[1:] = x[1:] - np.float32(c["preemph"]) * x[:-1]
    wf = torch.hann_window if c["window"] == "hann" else torch.hamming_window
    ms = torchaudio.transforms.MelSpectrogram(
        sample_rate=c["sample_rate"], n_fft=c["n_fft"], win_length=c["win_length"],
        hop_length=c["hop_length"], f_min=c["fmin"],
        f_max=c["fmax"] if c["fmax"] > 0 else None, n_mels=c["n_mels"], window_fn=wf,
        power=2.0, center=bool(c["center"]), pad_mode="constant",
        norm="slaney" if c["mel_norm"] == "slaney" else None, mel_scale=c["mel_scale"])
    mel = ms(torch.from_numpy(y))  # (n_mels, frames)
    if c["log"] == "db":
        lm = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        if c["top_db"] > 0:  # librosa.power_to_db(ref=1.0, amin=1e-10, top_db)
            lm = torch.clamp(lm, min=float(lm.max()) - c["top_db"])
    else:
        lm = torch.log(mel + 1e-6)
    dct = F.create_dct(c["n_mfcc"], c["n_mels"], "ortho")  # (n_mels, n_mfcc)
    mf = torch.matmul(lm.transpose(0, 1), dct).transpose(0, 1)  # (n_mfcc, frames)
    cols = [mf]
    if c["deltas"] >= 1:
        d = F.compute_deltas(mf, win_length=c["delta_width"], mode="replicate")
        cols.append(d)
        if c["deltas"] == 2:
            cols.append(F.compute_deltas(d, win_length=c["delta_width"], mode="replicate"))
    out = torch.cat(cols, 0).transpose(0, 1).numpy().astype(np.float32)
    if c["zcr_rms"]:
        z, r = zcr_rms(x, c["win_length"], c["hop_length"], c["center"], out.shape[0], c["n_fft"])
        out = np.concatenate([out, z[:, None], r[:, None]], axis=1)
    return np.ascontiguousarray(out, dtype=np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = ["# name input key=value... (made by tests/make_feature_fixtures.py; see docs/features.md)"]
    for name, over in CONFIGS.items():
        c = dict(DEFAULT, **over)
        for clip in CLIPS:
            x, sr = read_wav(os.path.join(DATASETS, clip))
            stem = os.path.splitext(os.path.basename(clip))[0]
            fname = f"{name}_{stem}"
            src = "dataset:" + clip
            if c["sample_rate"] != sr:
                x = F.resample(torch.from_numpy(x), sr, c["sample_rate"]).numpy().astype(np.float32)
                np.save(os.path.join(OUT, fname + "_in.npy"), x)
                src = "samples:" + fname + "_in.npy"
            out = features(x, c)
            np.save(os.path.join(OUT, fname + ".npy"), out)
            kv = " ".join(f"{k}={v}" for k, v in c.items())
            lines.append(f"{fname} {src} {kv}")
            print(f"{fname}: {out.shape}")
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
