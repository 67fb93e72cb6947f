#!/usr/bin/env python3
"""`ser classify` on real speech: jsonl, csv and vtt outputs parse and agree,
--utterance, silence, exit codes for missing/corrupt files, bad options and a
bad --model. Standard library only. Env: SER, SER_SOURCE_ROOT, SER_DATASETS."""
import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave

SER = os.environ["SER"]
ROOT = os.environ["SER_SOURCE_ROOT"]
DS = os.environ["SER_DATASETS"]
SPEECH = os.path.join(ROOT, "data", "speech-emodb-03.wav")  # 10.1 s, EMO-DB speaker 03
FLAC = os.path.join(DS, "ravdess16k", "Actor_01", "03-01-05-01-01-01-01.flac")
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def ser(*args, timeout=120):
    p = subprocess.run([SER, "classify", *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def vtt_seconds(t):
    h, m, s = t.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def main():
    tmp = tempfile.mkdtemp(prefix="ser-classify-")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp)
    print("failures:", failures)
    return 1 if failures else 0


def run(tmp):
    # --help
    rc, out, _ = ser("--help")
    check(rc == 0 and "--utterance" in out and "--speech-threshold" in out, "--help")

    # jsonl
    rc, out, err = ser("--window", "3", "--interval", "0.5", SPEECH)
    check(rc == 0, f"jsonl exit {rc}: {err}")
    rows = [json.loads(l) for l in out.splitlines()]
    n = len(rows)
    with wave.open(SPEECH) as w:
        dur = w.getnframes() / w.getframerate()
    full = int((dur - 3.0) / 0.5 + 1e-9) + 1
    tail = 1 if dur - full * 0.5 >= 1.0 else 0
    check(n == full + tail, f"{n} windows for {dur:.3f} s, expected {full} + {tail} tail")
    labels = None
    info = subprocess.run([SER, "info", "--builtin"], capture_output=True, text=True, timeout=60).stdout
    spk = "speaker normalisation: running" in info  # the built-in model has a speaker normaliser
    base = {"file", "start", "end", "emotion", "confidence", "speech", "scores"}
    for i, r in enumerate(rows):
        check(set(r) == base | ({"speaker_adapted"} if spk else set()), f"fields {set(r)}")
        check(r["file"] == SPEECH, "file name")
        check(abs(r["start"] - 0.5 * i) < 1e-3, f"start {r['start']} of window {i}")
        if i < full:
            check(abs(r["end"] - r["start"] - 3.0) < 1e-3, f"window length {r['end'] - r['start']}")
        else:
            check(abs(r["end"] - dur) < 1e-3, f"tail end {r['end']} vs {dur}")
        labels = labels or list(r["scores"])
        check(list(r["scores"]) == labels and len(labels) >= 2, "labels")
        check(abs(sum(r["scores"].values()) - 1) < 1e-3, "scores sum to 1")
        if r["speech"]:
            top = max(labels, key=lambda k: r["scores"][k])
            check(r["emotion"] == top and abs(r["confidence"] - r["scores"][top]) < 1e-6, "top label")
        else:
            check(r["emotion"] == "none" and r["confidence"] == 0, "no speech")
    check(sum(r["speech"] for r in rows) == n, "continuous speech is speech")

    # csv agrees with jsonl
    rc, out, err = ser("--window", "3", "--format", "csv", SPEECH)
    check(rc == 0, f"csv exit {rc}: {err}")
    c = list(csv.reader(io.StringIO(out)))
    extra = ["speaker_adapted"] if spk else []
    check(c[0] == ["file", "start", "end", "emotion", "confidence", "speech"] + extra + labels, f"csv header {c[0]}")
    check(len(c) == n + 1, "csv rows")
    for r, j in zip(c[1:], rows):
        check(r[0] == SPEECH and abs(float(r[1]) - j["start"]) < 1e-6 and abs(float(r[2]) - j["end"]) < 1e-6
              and r[3] == j["emotion"] and abs(float(r[4]) - j["confidence"]) < 1e-6
              and int(r[5]) == int(j["speech"]), f"csv row {r}")
        if spk:
            check(abs(float(r[6]) - j["speaker_adapted"]) < 1e-6, "csv speaker_adapted")
        for k, lab in enumerate(labels):
            check(abs(float(r[6 + len(extra) + k]) - j["scores"][lab]) < 1e-6, "csv scores")

    # vtt: cues in order, merged runs of the jsonl emotions
    rc, out, err = ser("--window", "3", "--format", "vtt", SPEECH)
    check(rc == 0 and out.startswith("WEBVTT\n"), f"vtt exit {rc}: {err}")
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n(\S+) \(([0-9.]+)\)", out)
    runs = []
    for r in rows:
        if r["speech"] and (not runs or runs[-1] != r["emotion"]):
            runs.append(r["emotion"])
    check([q[2] for q in cues] == runs, f"vtt cues {[q[2] for q in cues]} vs runs {runs}")
    prev = 0.0
    for a, b, _, _ in cues:
        check(vtt_seconds(a) >= prev - 1e-9 and vtt_seconds(b) > vtt_seconds(a), f"cue {a} --> {b}")
        prev = vtt_seconds(b)
    check(cues and vtt_seconds(cues[0][0]) == 0 and abs(prev - dur) < 1e-3, "vtt covers the file")

    # cues never overlap, also where a (shorter) tail window changes the emotion: every EMO-DB clip
    import glob
    clips = sorted(glob.glob(os.path.join(DS, "emodb", "wav", "*.wav")))
    # (535 clips: about 85 s under ASan on a 2-core machine without AVX-512)
    rc, out, err = ser("--format", "vtt", *clips, timeout=600)
    check(rc == 0 and out.count("NOTE file: ") == len(clips) > 500, f"vtt of EMO-DB: exit {rc} {err[:200]!r}")
    overlaps = 0
    for block in out.split("NOTE file: ")[1:]:
        prev = 0.0
        for a, b in re.findall(r"(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)", block):
            overlaps += vtt_seconds(a) < prev - 1e-9 or vtt_seconds(b) <= vtt_seconds(a)
            prev = vtt_seconds(b)
    check(overlaps == 0, f"{overlaps} overlapping or empty vtt cues over {len(clips)} EMO-DB clips")

    # --utterance, two files (WAV and FLAC through GStreamer)
    rc, out, err = ser("--utterance", SPEECH, FLAC)
    check(rc == 0, f"utterance exit {rc}: {err}")
    u = [json.loads(l) for l in out.splitlines()]
    check(len(u) == 2 and set(u[0]) == {"file", "duration", "emotion", "confidence", "scores"}, "utterance fields")
    check(abs(u[0]["duration"] - dur) < 1e-3 and u[1]["file"] == FLAC and 2 < u[1]["duration"] < 6,
          f"durations {[x['duration'] for x in u]}")
    for x in u:
        check(abs(sum(x["scores"].values()) - 1) < 1e-3 and x["emotion"] in labels
              and abs(x["confidence"] - max(x["scores"].values())) < 1e-6, "utterance scores")
    rc, out, _ = ser("--utterance", "--format", "csv", SPEECH)
    c = list(csv.reader(io.StringIO(out)))
    check(rc == 0 and c[0][:4] == ["file", "duration", "emotion", "confidence"] and len(c) == 2
          and c[1][2] == u[0]["emotion"], "utterance csv")

    # silence: no speech, emotion none
    sil = os.path.join(tmp, "silence.wav")
    with wave.open(sil, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000 * 5)
    rc, out, _ = ser(sil)
    s = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and len(s) >= 4 and all(not r["speech"] and r["emotion"] == "none" and r["confidence"] == 0
                                          for r in s), "silence")
    rc, out, _ = ser("--utterance", sil)
    check(rc == 0 and json.loads(out)["emotion"] == "none", "silent utterance")
    # --utterance on a file longer than 30 s: averaged 30 s windows, one line, speech found
    longf = os.path.join(tmp, "long.wav")
    with wave.open(SPEECH) as r, wave.open(longf, "wb") as w:
        w.setparams(r.getparams())
        frames = r.readframes(r.getnframes())
        for _ in range(int(75 * r.getframerate() / r.getnframes()) + 1):
            w.writeframes(frames)
    rc, out, err = ser("--utterance", longf)
    lu = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and len(lu) == 1 and lu[0]["duration"] > 70 and lu[0]["emotion"] != "none"
          and abs(sum(lu[0]["scores"].values()) - 1) < 1e-3, f"75 s utterance: exit {rc} {err!r} {out[:200]!r}")
    rc, out, _ = ser("--format", "vtt", sil)
    check(rc == 0 and "-->" not in out, "no cue for silence")

    # smoothing changes scores but not the timing
    rc, out, _ = ser("--window", "3", "--smoothing", "0.8", SPEECH)
    sm = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and len(sm) == n and sm[0]["scores"] == rows[0]["scores"]
          and any(a["scores"] != b["scores"] for a, b in zip(sm[1:], rows[1:])), "smoothing")
    # a speech threshold above the speech level: nothing is speech
    rc, out, _ = ser("--speech-threshold", "0", SPEECH)
    check(rc == 0 and all(not json.loads(l)["speech"] for l in out.splitlines()), "speech threshold")

    # bad inputs: missing and corrupt files are reported, the others classified, exit 2
    bad = os.path.join(tmp, "corrupt.wav")
    with open(bad, "wb") as f:
        f.write(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(300))
    missing = os.path.join(tmp, "missing.wav")
    empty = os.path.join(tmp, "empty.wav")
    with wave.open(empty, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    rc, out, err = ser(empty)
    check(rc == 2 and empty in err and "no audio" in err and not out, f"empty file: exit {rc} {err!r}")
    short = os.path.join(tmp, "short.wav")
    with wave.open(short, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\1\0" * 8000)
    rc, out, err = ser(short)
    check(rc == 0 and not out and "too short" in err and short in err, f"short file: {rc} {err!r}")
    rc, out, err = ser("--min-tail", "0.4", short)
    check(rc == 0 and len(out.splitlines()) == 1 and abs(json.loads(out)["end"] - 0.5) < 1e-3, "--min-tail")
    # --min-tail 0: the model's minimum (about 0.1 s), not the 1 s default
    rc, out, err = ser("--min-tail", "0", short)
    check(rc == 0 and len(out.splitlines()) == 1 and abs(json.loads(out)["end"] - 0.5) < 1e-3,
          f"--min-tail 0: {rc} {out!r} {err!r}")
    # --utterance on a file shorter than the model's minimum (10 ms): padded, classified
    tiny = os.path.join(tmp, "tiny.wav")
    with wave.open(tiny, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\x10" * 160)
    rc, out, err = ser("--utterance", tiny)
    check(rc == 0 and len(out.splitlines()) == 1 and abs(json.loads(out)["duration"] - 0.01) < 1e-3,
          f"10 ms utterance: exit {rc} {err!r}")
    rc, out, err = ser("--window", "3", missing, SPEECH, bad)
    check(rc == 2, f"bad files exit {rc}")
    check(missing in err and bad in err, f"errors name the files: {err!r}")
    check(len(out.splitlines()) == n and all(json.loads(l)["file"] == SPEECH for l in out.splitlines()),
          "good file still classified")

    # a file GStreamer reads but that holds no audio: named as such (not "internal data stream error")
    img = os.path.join(tmp, "picture.png")
    genv = {k: v for k, v in os.environ.items() if k not in ("GST_PLUGIN_PATH", "LD_PRELOAD")}
    genv["GST_REGISTRY"] = os.path.join(tmp, "gen-registry.bin")  # our plugin is not loaded here
    gl = shutil.which("gst-launch-1.0")
    if gl and subprocess.run([gl, "-q", "videotestsrc", "num-buffers=1", "!", "pngenc", "!", "filesink",
                              "location=" + img], env=genv, capture_output=True, timeout=60).returncode == 0:
        rc, out, err = ser(img)
        check(rc == 2 and not out and "picture.png: no audio stream" in err, f"image file: exit {rc} {err!r}")
    else:
        print("note: could not make a PNG with gst-launch-1.0; image case skipped")

    # results that cannot be written (disk full) are an error, not a silent success
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            p = subprocess.run([SER, "classify", SPEECH], stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=120)
        check(p.returncode == 2 and "write error" in p.stderr, f"/dev/full: exit {p.returncode} {p.stderr!r}")

    # usage errors: exit 1
    for args in (["--format", "xml", SPEECH], ["--window", "-1", SPEECH], ["--interval", "abc", SPEECH],
                 ["--smoothing", "1.5", SPEECH], ["--bogus", SPEECH], [], ["--utterance", "--format", "vtt", SPEECH],
                 ["--window", "0.02", SPEECH], ["--model"]):
        rc, out, err = ser(*args)
        check(rc == 1 and err.strip() and not out.strip(), f"usage error {args}: exit {rc}")

    # bad models: exit 2 and the model file named
    trunc = os.path.join(tmp, "truncated.sermodel")
    with open(os.path.join(ROOT, "models", "default.sermodel"), "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 2])
    flipped = os.path.join(tmp, "flipped.sermodel")
    with open(flipped, "wb") as f:
        f.write(data[:5000] + bytes([data[5000] ^ 0x55]) + data[5001:])
    for m in (trunc, flipped, os.path.join(tmp, "nope.sermodel"), SPEECH):
        rc, out, err = ser("--model", m, SPEECH)
        check(rc == 2 and m in err and not out, f"bad model {m}: exit {rc}, {err!r}")
    # the shipped model file itself works
    rc, out, _ = ser("--window", "3", "--model", os.path.join(ROOT, "models", "default.sermodel"), SPEECH)
    check(rc == 0 and len(out.splitlines()) == n, "--model file")

    speaker_checks(tmp)


# 16 EMO-DB clips of speakers 03 and 09 (neutral/angry): tiny models train in a second
TINY_CLIPS = ["03a01Nc", "03a01Wa", "03a02Nc", "03a02Wb", "03a04Nc", "03a04Wc", "03a05Nd", "03a02Wc",
              "09a01Nb", "09a01Wb", "09a02Wb", "09a04Nb", "09a04Wa", "09a05Nb", "09a05Wb", "09a05Wc"]


def train_tiny(tmp, norm):
    """A tiny model trained by `ser train --norm NORM` (running: with a speaker normaliser)."""
    manifest = os.path.join(tmp, "tiny.csv")
    with open(manifest, "w") as f:
        f.write("path,speaker,label\n")
        for c in TINY_CLIPS:
            f.write(f"{os.path.join(DS, 'emodb', 'wav', c + '.wav')},{c[:2]},{'angry' if c[5] == 'W' else 'neutral'}\n")
    out = os.path.join(tmp, f"tiny-{norm}.sermodel")
    p = subprocess.run([SER, "train", "--labels", "neutral,angry", "--channels", "8,8", "--cbam-from", "1",
                        "--epochs", "2", "--batch", "4", "--val-speakers", "0", "--threads", "1", "--seed", "3",
                        "--norm", norm, "-q", "-o", out, manifest], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and os.path.exists(out), f"ser train --norm {norm}: exit {p.returncode} {p.stderr[-300:]!r}")
    return out


def rows_of(out, path):
    return [r for r in (json.loads(l) for l in out.splitlines()) if r["file"] == path]


def max_diff(a, b):
    """Largest score difference between two runs' rows (same windows)."""
    if len(a) != len(b) or not a:
        return None
    return max(abs(x["scores"][k] - y["scores"][k]) for x, y in zip(a, b) for k in x["scores"])


def speaker_checks(tmp):
    """--no-speaker-norm, --speaker-memory, --same-speaker on a model with a
    running speaker normaliser (and no effect on one without)."""
    rc, out, _ = ser("--help")
    check(rc == 0 and all(o in out for o in ("--no-speaker-norm", "--speaker-memory", "--same-speaker")),
          "--help lacks the speaker options")
    for bad in (["--speaker-memory", "-1"], ["--speaker-memory", "abc"], ["--speaker-memory", "2e6"],
                ["--speaker-memory"]):
        rc, out, err = ser(*bad, SPEECH)
        check(rc == 1 and "--speaker-memory" in err and not out, f"usage error {bad}: exit {rc} {err!r}")

    run_m = train_tiny(tmp, "running")
    glob_m = train_tiny(tmp, "global")
    info = subprocess.run([SER, "info", run_m], capture_output=True, text=True, timeout=60).stdout
    mem = re.search(r"speaker normalisation: running, memory ([0-9.]+) s", info)
    check(mem is not None, f"ser info shows no speaker normaliser: {info[:400]!r}")
    a = os.path.join(DS, "emodb", "wav", "08b03Tc.wav")  # 9 s, speaker 08 (unseen by the tiny models)
    b = os.path.join(DS, "emodb", "wav", "08a01Fd.wav")  # 2 s, the same speaker

    for mode in ([], ["--utterance"]):
        what = "utterance" if mode else "windows"
        rc, ab, err = ser(*mode, "--model", run_m, a, b)
        check(rc == 0 and rows_of(ab, a) and rows_of(ab, b), f"{what}: exit {rc} {err!r}")
        # each file is a new voice: B after A is B alone
        _, b_alone, _ = ser(*mode, "--model", run_m, b)
        check(rows_of(ab, b) == rows_of(b_alone, b), f"{what}: the second file is not reset to the prior")
        # --no-speaker-norm: the prior throughout, other scores
        rc, off, _ = ser(*mode, "--no-speaker-norm", "--model", run_m, a, b)
        d = max_diff(rows_of(ab, a), rows_of(off, a))
        check(rc == 0 and d is not None and d > 1e-3, f"{what}: --no-speaker-norm changes nothing ({d})")
        # --same-speaker: A as before, B goes on from A's statistics
        rc, same, _ = ser(*mode, "--same-speaker", "--model", run_m, a, b)
        check(rc == 0 and rows_of(same, a) == rows_of(ab, a), f"{what}: --same-speaker changed the first file")
        d = max_diff(rows_of(same, b), rows_of(ab, b))
        check(d is not None and d > 1e-3, f"{what}: --same-speaker: the second file is as if reset ({d})")
        # --speaker-memory: the model's own value changes nothing, a short one does
        if mem:
            _, same_mem, _ = ser(*mode, "--speaker-memory", mem.group(1), "--model", run_m, a, b)
            check(same_mem == ab, f"{what}: --speaker-memory {mem.group(1)} (the model's) changed the scores")
        _, short, _ = ser(*mode, "--speaker-memory", "0.5", "--model", run_m, a, b)
        d = max_diff(rows_of(short, a), rows_of(ab, a))
        check(d is not None and d > 1e-4, f"{what}: --speaker-memory 0.5 changes nothing ({d})")

        if not mode:  # speaker_adapted: grows through A, starts over for B, goes on with --same-speaker
            sa = [r.get("speaker_adapted") for r in rows_of(ab, a)]
            sb = [r.get("speaker_adapted") for r in rows_of(ab, b)]
            check(None not in sa + sb and sa == sorted(sa) and 4.0 < sa[-1] < 9.5 and sb[0] < 2.1,
                  f"speaker_adapted: A {sa}, B {sb}")
            sb2 = [r.get("speaker_adapted") for r in rows_of(same, b)]
            check(None not in sb2 and sb2[0] >= sa[-1] - 1e-3, f"--same-speaker: B's speaker_adapted {sb2}")
            check(all(r.get("speaker_adapted") == 0 for r in rows_of(off, a)),
                  "--no-speaker-norm: speaker_adapted is not 0")
            _, csv_out, _ = ser("--format", "csv", "--model", run_m, a)
            check(csv_out.splitlines()[0].split(",")[6] == "speaker_adapted", "csv lacks speaker_adapted")

        # a model without a speaker normaliser: the options change nothing
        rc, plain, _ = ser(*mode, "--model", glob_m, a, b)
        check(rc == 0 and plain.strip(), f"{what}: global model: exit {rc}")
        check(not any("speaker_adapted" in r for r in (json.loads(l) for l in plain.splitlines())),
              f"{what}: speaker_adapted from a model without a normaliser")
        for opts in (["--no-speaker-norm"], ["--same-speaker"], ["--speaker-memory", "0.5"]):
            _, o, _ = ser(*mode, *opts, "--model", glob_m, a, b)
            check(o == plain, f"{what}: {opts} changed a model without a speaker normaliser")


if __name__ == "__main__":
    sys.exit(main())
