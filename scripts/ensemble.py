#!/usr/bin/env python3
"""Scores of `ser eval --predictions` files, one by one and combined.

Usage: scripts/ensemble.py [-o OUT.csv] PRED.csv[@N] [PRED.csv[@N] ...]

Each file is one `ser eval --predictions` run of the same protocol on the same
clips (for example the same recipe with other --seed values). For every file,
and for the ensemble that averages the files' scores clip by clip, it prints
WA, UA and macro F1 (as `ser eval` computes them) and the 95 % interval of a
bootstrap by speaker (2000 resamples, as `ser eval` prints it; the draws differ,
so the bounds agree to within a point or so). Then the mean and standard
deviation of the files' scores, and the full report of the ensemble (of the
file, when there is one): UA of every fold, per-class recall, precision, F1
and support and the confusion matrix, in `ser eval`'s format. With -o, the
ensemble's predictions are written to OUT.csv in the --predictions format
(predicted = the label of the highest mean score). A file written by an ensemble of N networks
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
    try:
        with open(path, newline="") as f:
            r = csv.reader(f)
            head = next(r, [])
            if head[:6] != ["fold", "path", "copy", "speaker", "label", "predicted"] or len(head) < 7:
                sys.exit(f"{path}: not a ser eval --predictions file (header: {','.join(head)[:80]})")
            labels = head[6:]
            rows = {}
            for row in r:
                if len(row) != len(head):
                    sys.exit(f"{path}: line {r.line_num}: {len(row)} fields, the header has {len(head)}")
                try:
                    sc = [float(x) for x in row[6:]]
                except ValueError:
                    sys.exit(f"{path}: line {r.line_num}: a score is not a number")
                rows[(row[1], row[2])] = (row[3], row[4], sc, row[0])  # key: path, copy
    except OSError as e:
        sys.exit(f"{path}: cannot read: {e.strerror}")
    return labels, rows


def argmax(sc, labels):
    return labels[max(range(len(sc)), key=lambda k: sc[k])]


def confusion(items, labels):
    """items: (speaker, truth, scores) -> {speaker: {(truth, predicted): count}}"""
    per = {}
    for spk, truth, sc, *_ in items:
        pred = argmax(sc, labels)
        m = per.setdefault(spk, {})
        m[(truth, pred)] = m.get((truth, pred), 0) + 1
    return per


def total(mats):
    """the sum of confusion matrices {(truth, predicted): count}"""
    tot = {}
    for m in mats:
        for k, v in m.items():
            tot[k] = tot.get(k, 0) + v
    return tot


def per_class(tot, labels):
    """(label, recall, precision, f1, support) of every label, as ser eval computes them"""
    out = []
    for c in labels:
        row = sum(v for (t, p), v in tot.items() if t == c)
        col = sum(v for (t, p), v in tot.items() if p == c)
        tp = tot.get((c, c), 0)
        r = tp / row if row else 0.0
        pr = tp / col if col else 0.0
        out.append((c, r, pr, 2 * pr * r / (pr + r) if pr + r > 0 else 0.0, row, col))
    return out


def scores(mats, labels):
    tot = total(mats)
    n = sum(tot.values())
    correct = sum(v for (t, p), v in tot.items() if t == p)
    cls = per_class(tot, labels)
    rec = [r for _, r, _, _, row, _ in cls if row]
    f1 = [f for _, _, _, f, row, col in cls if row or col]
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


def report(items, labels):
    """ser eval's text report (metrics.c, ser_report_text) of (speaker, truth, scores, fold) items"""
    folds = {}
    for it in items:
        folds.setdefault(it[3], []).append(it)
    for f in sorted(folds, key=lambda x: (len(x), x)):
        _, ua, _ = scores(confusion(folds[f], labels).values(), labels)
        print(f"fold {f}: UA {100 * ua:.1f} % ({len(folds[f])} clips)")
    m = total(confusion(items, labels).values())
    lw = max([9] + [len(c) for c in labels])
    cw = max([5] + [len(c) for c in labels] + [len(str(v)) for v in m.values()])
    lw, cw = min(lw, 40), min(cw, 24)
    print(f"{'label':<{lw}}  {'recall':>9}  {'precision':>9}  {'f1':>9}  {'support':>7}")
    for c, r, pr, f1, row, _ in per_class(m, labels):
        print(f"{c[:lw]:<{lw}}  {r:9.3f}  {pr:9.3f}  {f1:9.3f}  {row:7d}")
    print("\nconfusion matrix (rows: true, columns: predicted)")
    print(f"{'true' + chr(92) + 'pred':<{lw}}" + "".join(f"  {c[:cw]:>{cw}}" for c in labels))
    for t in labels:
        print(f"{t[:lw]:<{lw}}" + "".join(f"  {m.get((t, p), 0):>{cw}d}" for p in labels))
    wa, ua, f1 = scores([m], labels)
    present = sum(1 for c in labels if any(t == c for (t, _) in m))
    print(f"\nWA {wa:.4f}  UA {ua:.4f}  macro-F1 {f1:.4f}  ({len(items)} examples, {len(labels)} classes, "
          f"{present} with examples)")


def write(path, items, keys, labels):
    try:
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["fold", "path", "copy", "speaker", "label", "predicted"] + labels)
            for (p, copy), (spk, truth, sc, fold) in zip(keys, items):
                w.writerow([fold, p, copy, spk, truth, argmax(sc, labels)] + [f"{x:.6f}" for x in sc])
    except OSError as e:
        sys.exit(f"{path}: cannot write: {e.strerror}")


def weight(arg):
    path, at, n = arg.rpartition("@")
    if not at or not n.isdigit() or int(n) < 1:
        return arg, 1
    return path, int(n)


def main(args):
    out = None
    if args[:1] in (["-o"], ["--output"]) and len(args) > 1:
        out, args = args[1], args[2:]
    if not args or args[0].startswith("-"):
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
    order = sorted(keys)
    items = []
    for k in order:
        spk, truth, _, fold = runs[0][1][k]
        avg = [sum(w * r[1][k][2][j] for w, r in zip(weights, runs)) / sum(weights)
               for j in range(len(labels))]
        items.append((spk, truth, avg, fold))
    if len(runs) > 1:
        line(f"ensemble of {sum(weights)} (mean scores)", confusion(items, labels), labels)
        m = [statistics.mean(s[i] for s in single) for i in range(3)]
        sd = [statistics.stdev(s[i] for s in single) for i in range(3)]
        print(f"{'the runs: mean (sd)':<28} WA {100 * m[0]:5.1f} ({100 * sd[0]:.1f})        "
              f"UA {100 * m[1]:5.1f} ({100 * sd[1]:.1f})        F1 {100 * m[2]:5.1f} ({100 * sd[2]:.1f})")
    print(f"\nreport of {'the ensemble' if len(runs) > 1 else paths[0]}")
    report(items, labels)
    if out:
        write(out, items, order, labels)


if __name__ == "__main__":
    main(sys.argv[1:])
