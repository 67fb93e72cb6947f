#!/usr/bin/env python3
"""Scores of `ser eval --predictions` files, one by one and combined.

Usage: scripts/ensemble.py PRED.csv[@N] [PRED.csv[@N] ...]

Each file is one `ser eval --predictions` run of the same protocol on the same
clips (for example the same recipe with other --seed values). For every file,
and for the ensemble that averages the files' scores clip by clip, it prints
WA, UA and macro F1 (as `ser eval` computes them) and the 95 % interval of a
bootstrap by speaker (2000 resamples, as `ser eval` prints it; the draws differ,
so the bounds agree to within a point or so). Then the mean and standard
deviation of the files' scores. A file written by an ensemble of N networks
(`ser eval --members N`) is given as PRED.csv@N: its scores count N times, so
that the combined scores are the mean over all networks (a --members 2 run of
--seed 1 and a one-network run of --seed 3 make an ensemble of 3 networks; not
quite --members 3's, whose networks 2 and 3 take their normalisation
statistics from network 1's training speakers). A check on finished runs, standard library only:
nothing of the product depends on it.
"""
import csv
import random
import statistics
import sys


def read(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        head = next(r)
        labels = head[6:]
        rows = {}
        for row in r:
            key = (row[1], row[2])  # path, copy
            rows[key] = (row[3], row[4], [float(x) for x in row[6:]])
    return labels, rows


def confusion(items, labels):
    """items: (speaker, truth, scores) -> {speaker: {(truth, predicted): count}}"""
    per = {}
    for spk, truth, sc in items:
        pred = labels[max(range(len(sc)), key=lambda k: sc[k])]
        m = per.setdefault(spk, {})
        m[(truth, pred)] = m.get((truth, pred), 0) + 1
    return per


def scores(mats, labels):
    tot = {}
    for m in mats:
        for k, v in m.items():
            tot[k] = tot.get(k, 0) + v
    n = sum(tot.values())
    correct = sum(v for (t, p), v in tot.items() if t == p)
    rec, f1 = [], []
    for c in labels:
        row = sum(v for (t, p), v in tot.items() if t == c)
        col = sum(v for (t, p), v in tot.items() if p == c)
        tp = tot.get((c, c), 0)
        r = tp / row if row else 0.0
        pr = tp / col if col else 0.0
        if row:
            rec.append(r)
        if row or col:
            f1.append(2 * pr * r / (pr + r) if pr + r > 0 else 0.0)
    return (correct / n if n else 0.0, sum(rec) / len(rec) if rec else 0.0,
            sum(f1) / len(f1) if f1 else 0.0)


def bootstrap(per, labels, resamples=2000, seed=1):
    spk = sorted(per)
    rng = random.Random(seed)
    draws = [scores([per[rng.choice(spk)] for _ in spk], labels) for _ in range(resamples)]
    out = []
    for i in range(3):
        v = sorted(d[i] for d in draws)
        lo = v[int(0.025 * (resamples - 1))]
        hb = 0.975 * (resamples - 1)
        hi = v[min(int(hb) + (int(hb) < hb), resamples - 1)]
        out.append((lo, hi))
    return out


def line(name, per, labels):
    wa, ua, f1 = scores(per.values(), labels)
    (wl, wh), (ul, uh), (fl, fh) = bootstrap(per, labels)
    print(f"{name:<28} WA {100 * wa:5.1f} [{100 * wl:4.1f}-{100 * wh:4.1f}]  "
          f"UA {100 * ua:5.1f} [{100 * ul:4.1f}-{100 * uh:4.1f}]  F1 {100 * f1:5.1f} [{100 * fl:4.1f}-{100 * fh:4.1f}]")
    return wa, ua, f1


def weight(arg):
    path, at, n = arg.rpartition("@")
    if not at or not n.isdigit() or int(n) < 1:
        return arg, 1
    return path, int(n)


def main(args):
    if not args:
        sys.exit(__doc__)
    paths, weights = zip(*(weight(a) for a in args))
    runs = [read(p) for p in paths]
    labels, keys = runs[0][0], set(runs[0][1])
    for p, (lab, rows) in zip(paths, runs):
        if lab != labels or set(rows) != keys:
            sys.exit(f"{p}: other labels or clips than {paths[0]}")
    print(f"{len(keys)} clips, {len(paths)} runs of {sum(weights)} networks; 95 % intervals by speaker (2000 resamples)")
    single = []
    for p, (_, rows) in zip(paths, runs):
        single.append(line(p.rsplit("/", 1)[-1], confusion(rows.values(), labels), labels))
    if len(runs) > 1:
        items = []
        for k in sorted(keys):
            spk, truth, _ = runs[0][1][k]
            avg = [sum(w * r[1][k][2][j] for w, r in zip(weights, runs)) / sum(weights)
                   for j in range(len(labels))]
            items.append((spk, truth, avg))
        line(f"ensemble of {sum(weights)} (mean scores)", confusion(items, labels), labels)
        m = [statistics.mean(s[i] for s in single) for i in range(3)]
        sd = [statistics.stdev(s[i] for s in single) for i in range(3)]
        print(f"{'the runs: mean (sd)':<28} WA {100 * m[0]:5.1f} ({100 * sd[0]:.1f})        "
              f"UA {100 * m[1]:5.1f} ({100 * sd[1]:.1f})        F1 {100 * m[2]:5.1f} ({100 * sd[2]:.1f})")


if __name__ == "__main__":
    main(sys.argv[1:])
