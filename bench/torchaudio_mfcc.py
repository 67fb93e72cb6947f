#!/usr/bin/python3
"""The SPEC section 3 reference MFCC in torchaudio, one thread, for the
benchmark. Usage: torchaudio_mfcc.py IN.wav OUT.npy
Prints the compute-only CPU seconds (time.process_time around the transform)."""
import sys
import time
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.functional as F

torch.set_num_threads(1)
with wave.open(sys.argv[1], "rb") as w:
    x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
ms = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=512, win_length=400,
                                          hop_length=160, n_mels=40, center=False, power=2.0,
                                          mel_scale="htk", norm=None)
dct = F.create_dct(40, 40, "ortho")
t0 = time.process_time()
with torch.no_grad():
    mel = ms(torch.from_numpy(x))
    out = torch.matmul((10.0 * torch.log10(torch.clamp(mel, min=1e-10))).T, dct)
t1 = time.process_time()
np.save(sys.argv[2], out.numpy())
print(f"{t1 - t0:.6f}")
