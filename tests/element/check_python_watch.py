#!/usr/bin/python3
"""Runs pipelines/python/seremotion_watch.py (PyGObject only) on a real clip
and checks what it read: bus messages, SerEmotionMeta on buffers, tags and
the summary agree with each other."""
import json
import os
import subprocess
import sys

root = os.environ["SER_SOURCE_ROOT"]
clip = os.path.join(os.environ["SER_DATASETS"], "ravdess16k", "Actor_05", "03-01-05-02-01-01-05.flac")
if not os.path.exists(clip):
    clip = os.path.join(root, "data", "speech-emodb-03.wav")
script = os.path.join(root, "pipelines", "python", "seremotion_watch.py")
# a short window so the ~4 s clip gives several windows
cmd = [os.path.join(os.path.dirname(__file__), "with-plugin.sh"), "/usr/bin/python3", script,
       "--window", "1500", "--interval", "250", clip]
p = subprocess.run(cmd, capture_output=True, text=True, timeout=50)
if p.returncode != 0:
    sys.exit("watcher failed (%d): %s" % (p.returncode, p.stderr))
lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
msgs = [l for l in lines if l["kind"] == "message"]
metas = [l for l in lines if l["kind"] == "meta"]
tags = [l for l in lines if l["kind"] == "tags"]
summ = [l for l in lines if l["kind"] == "summary"]
fail = []
if len(msgs) < 8:
    fail.append("only %d messages" % len(msgs))
if len(summ) != 1:
    fail.append("%d summaries" % len(summ))
starts = [m["start"] for m in msgs]
if starts != sorted(starts) or any(abs((b - a) - 0.25) > 1e-6 for a, b in zip(starts, starts[1:-1])):
    fail.append("message starts not every 250 ms: %s" % starts)
if any(abs(m["end"] - m["start"] - 1.5) > 1e-3 for m in msgs[:-1]):
    fail.append("window length is not 1.5 s")
labels = None
for m in msgs:
    if labels is None:
        labels = list(m["scores"])
    if list(m["scores"]) != labels or len(labels) < 2:
        fail.append("scores structure differs")
    if m["speech"] and (m["emotion"] not in labels or abs(m["scores"][m["emotion"]] - m["confidence"]) > 1e-3):
        fail.append("emotion/confidence not the top score: %s" % m)
    if not m["speech"] and (m["emotion"] != "none" or m["confidence"] != 0):
        fail.append("no-speech window with an emotion: %s" % m)
if sum(m["speech"] for m in msgs) < len(msgs) // 2:
    fail.append("speech found in too few windows")
# every full window's result also arrives as meta on a buffer (the EOS tail has none)
meta_keys = {(m["start"], m["emotion"], m["confidence"]) for m in metas}
for m in msgs[:-1]:
    if (m["start"], m["emotion"], m["confidence"]) not in meta_keys:
        fail.append("no meta for window at %.3f" % m["start"])
for m in metas:
    if not (m["buffer_pts"] <= m["end"] + 0.002):
        fail.append("meta on a buffer before its window ended: %s" % m)
if summ:
    s = summ[0]
    if s["windows"] != len(msgs):
        fail.append("summary windows %d != %d messages" % (s["windows"], len(msgs)))
    if set(s["speech_time"]) != set(labels or []):
        fail.append("summary labels differ")
    if not tags or tags[-1]["emotion"] != s["emotion"]:
        fail.append("last tag %s is not the summary's emotion %s" % (tags[-1] if tags else None, s["emotion"]))
if fail:
    print("\n".join(fail[:20]))
    sys.exit(1)
print("ok: %d messages, %d metas, %d tag events, summary %s" % (len(msgs), len(metas), len(tags), summ[0]["emotion"]))
