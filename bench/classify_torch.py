#!/usr/bin/python3
"""The `ser classify` job in PyTorch, one thread: torchaudio MFCC (SPEC
section 3 reference), normalisation, windows of WINDOW s every INTERVAL s
(the frames fully inside each window, as the analyzer takes them), the same
network (bench/make_bench_model.py's .pt), windows batched 32 at a time,
softmax. Writes one line per window (start, top, scores) to OUT and prints
the CPU seconds of the network alone and of MFCC + network.
Usage: classify_torch.py SPEECH.wav MODEL.pt OUT.txt [WINDOW [INTERVAL]]"""
import os
import sys
import time
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

SR, NFFT, HOP = 16000, 512, 160
_ms = None


def mfcc(x):
    global _ms
    if _ms is None:
        _ms = torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=NFFT, win_length=400, hop_length=HOP,
                                                   n_mels=40, center=False, power=2.0, mel_scale="htk", norm=None)
    with torch.no_grad():
        mel = _ms(x)
        return torch.matmul((10.0 * torch.log10(torch.clamp(mel, min=1e-10))).T, F.create_dct(40, 40, "ortho"))


def main():
    import torch_export as te
    torch.set_num_threads(1)
    wav, model, out = sys.argv[1:4]
    window = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
    interval = float(sys.argv[5]) if len(sys.argv) > 5 else 0.5
    with wave.open(wav, "rb") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    ck = torch.load(model)
    net = te.temporal_net()
    net.load_state_dict(ck["state"])
    net.eval()
    t0 = time.process_time()
    feats = (mfcc(torch.from_numpy(x)) - ck["mean"]) / ck["std"]  # (T, 40)
    t1 = time.process_time()
    W, I, n = round(window * SR), round(interval * SR), len(x)
    starts = list(range(0, n - W + 1, I))
    idx = [((s + HOP - 1) // HOP, (s + W - NFFT) // HOP + 1) for s in starts]
    nf = idx[0][1] - idx[0][0]
    xt = feats.T.contiguous()  # (40, T)
    probs = []
    t2 = time.process_time()
    with torch.no_grad():
        for b in range(0, len(idx), 32):
            batch = torch.stack([xt[:, a:a + nf] for a, _ in idx[b:b + 32]])
            probs.append(net(batch))
    t3 = time.process_time()
    p = torch.cat(probs).numpy()
    with open(out, "w") as f:
        for s, row in zip(starts, p):
            f.write(f"{s / SR:.3f} {int(row.argmax())} " + " ".join(f"{v:.6f}" for v in row) + "\n")
    print(f"{t3 - t2:.6f} {t3 - t2 + t1 - t0:.6f} {len(starts)}")


if __name__ == "__main__":
    main()
