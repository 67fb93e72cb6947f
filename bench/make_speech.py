#!/usr/bin/python3
"""Concatenate EMO-DB clips (16 kHz mono s16) into one WAV of SECONDS seconds.
Usage: make_speech.py DATASETS OUT.wav [SECONDS]"""
import os
import sys
import wave

ds, out = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
need = int(seconds * 16000) * 2
files = sorted(os.listdir(os.path.join(ds, "emodb", "wav")))
data = bytearray()
while len(data) < need:
    for f in files:
        with wave.open(os.path.join(ds, "emodb", "wav", f), "rb") as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
            data += w.readframes(w.getnframes())
        if len(data) >= need:
            break
with wave.open(out, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(16000)
    w.writeframes(bytes(data[:need]))
