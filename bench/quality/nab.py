#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Numenta Anomaly Benchmark (NAB v1.1) scoring, reimplemented from the published algorithm.

Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms - the Numenta Anomaly Benchmark"
(ICMLA 2015), and the NAB repository's scorer (nab/sweeper.py, nab/optimizer.py, nab/runner.py's
normalisation, config/profiles.json). Written from the description, not copied; the unit test
(test_quality.py) checks it against hand-computed cases and the expectations published in NAB's own tests.

The rules, as NAB applies them to one data file of n rows:
  * Probationary period: rows i < min(floor(0.15 n), 0.15 * 5000) are not scored at all. Note the cap:
    it is 15 % of 5000 = 750 rows, not 5000 rows.
  * Labelled windows [left, right] (row indices, inclusive, width w = right - left + 1). A detection at
    row i inside a window is worth  tpWeight * sigma(-(right - i + 1) / w) / sigma(-1), with the scaled
    sigmoid sigma(x) = 2 / (1 + exp(5 x)) - 1 (and -1 for x >= 3): 1.0 at the window's first row, about
    0.25 at its last row of a 10-row window. Only the best (= earliest) detection in a window counts.
  * A window without any detection costs -fnWeight (a window with no scorable row counts for nothing).
  * Every detection outside all windows (every row, not every alarm episode) costs
    fpWeight * sigma((i - right_prev) / (w_prev - 1)), measured from the closest preceding window
    (slightly negative right after it, -fpWeight far from it), or -fpWeight if no window precedes it.
  * Profiles (config/profiles.json): standard (tp 1, fp 0.11, fn 1), reward_low_FP_rate (tp 1, fp 0.22,
    fn 1), reward_low_FN_rate (tp 1, fp 0.11, fn 2).
  * Normalised score = 100 (S - S_null) / (S_perfect - S_null), S_null = the null detector's score
    (no detections: -fnWeight per scorable window), S_perfect = tpWeight * number of labelled windows.
  * NAB's leaderboard scores a detector's anomaly_score column: one threshold for the whole corpus is
    chosen by sweeping all values (a row is a detection when score >= threshold) to maximise the total
    raw score (sweep()).

Rows are referred to by index; timestamps only serve to place windows (LabelledFile).
"""

import argparse
import bisect
import csv
import json
import math
import os
import sys
from collections import namedtuple

PROBATION_PERCENT = 0.15

Profile = namedtuple("Profile", ["tp", "fp", "fn"])

PROFILES = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


def probation_length(n_rows, percent=PROBATION_PERCENT):
    """Number of leading rows NAB does not score: NAB compares i >= min(floor(p n), p * 5000)."""
    return math.ceil(min(math.floor(percent * n_rows), percent * 5000))


def scaled_sigmoid(x):
    """NAB's 2*sigmoid(-5x) - 1, clamped to -1 from x >= 3 (sweeper.py's form)."""
    if x >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


class LabelledFile:
    """One data file as NAB sees it: its row count, windows as row-index pairs, its probationary rows.

    Windows are mapped from timestamps to rows like NAB's labeller: the rows with t1 <= t <= t2. A window
    that covers no row is an error (NAB would fail on it too)."""

    __slots__ = ("name", "category", "n", "windows", "lefts", "probation")

    def __init__(self, name, n_rows, windows, category="", probation=None):
        self.name = name
        self.category = category
        self.n = n_rows
        self.windows = sorted(windows)
        for k, (left, right) in enumerate(self.windows):
            if not (0 <= left <= right < n_rows):
                raise ValueError(f"{name}: window {k} [{left}, {right}] outside rows 0..{n_rows - 1}")
            if k > 0 and left <= self.windows[k - 1][1]:
                raise ValueError(f"{name}: windows {k - 1} and {k} overlap")
        self.lefts = [w[0] for w in self.windows]
        self.probation = probation_length(n_rows) if probation is None else probation

    @classmethod
    def from_timestamps(cls, name, timestamps, window_limits, category=""):
        """timestamps: epoch seconds of the rows in file order (NAB files have duplicate timestamps and
        one backward jump, so not necessarily sorted); window_limits: [(t1, t2), ...] epoch seconds.

        Like NAB's sweeper, a window runs from the first row at t1 to the first row at t2 (NAB requires
        both to be row timestamps). Limits between rows are accepted: the window then starts at the first
        row at or after t1 and ends at the last row before the first row after t2."""
        rows = []
        n = len(timestamps)
        for t1, t2 in window_limits:
            left = 0
            while left < n and timestamps[left] < t1:
                left += 1
            right = left
            while right < n and timestamps[right] < t2:
                right += 1
            if right == n or timestamps[right] > t2:
                right -= 1
            if left >= n or right < left:
                raise ValueError(f"{name}: labelled window [{t1}, {t2}] contains no row")
            rows.append((left, right))
        return cls(name, n, rows, category)

    def scorable_windows(self):
        """Windows with at least one row after the probationary period (the only ones NAB scores)."""
        return sum(1 for _, right in self.windows if right >= self.probation)

    def locate(self, i):
        """(k, inside): the window containing row i (inside=True), else the closest window that ended
        before i (inside=False), k = -1 when none."""
        k = bisect.bisect_right(self.lefts, i) - 1
        if k >= 0 and i <= self.windows[k][1]:
            return k, True
        return k, False

    def unweighted(self, i):
        """(k, u): the profile-independent value of a detection at row i. k >= 0 with u > 0 is a true
        positive in window k (weight tp * u); k < 0 is a false positive (weight fp * u, u < 0)."""
        k, inside = self.locate(i)
        if inside:
            left, right = self.windows[k]
            return k, scaled_sigmoid(-(right - i + 1) / (right - left + 1)) / MAX_TP
        if k < 0:
            return -1, -1.0
        left, right = self.windows[k]
        # NAB divides by (width - 1); a one-row window would divide by zero there. Treat it as width 2.
        return -1, scaled_sigmoid((i - right) / max(right - left, 1))


FileScore = namedtuple("FileScore", ["raw", "tp_windows", "fn_windows", "fp_rows", "fp_cost"])


def score_detections(lf, detections, profile):
    """Raw NAB score of one file for a set of detected rows (any iterable of row indices, e.g. the rows
    where a binary detector output 1). Returns FileScore; fp_cost is the (negative) sum of FP terms."""
    best = {}
    fp_rows = 0
    fp_cost = 0.0
    for i in detections:
        if i < lf.probation:
            continue
        k, u = lf.unweighted(i)
        if k >= 0:
            if u > best.get(k, -math.inf):
                best[k] = u
        else:
            fp_rows += 1
            fp_cost += profile.fp * u
    raw = fp_cost
    tp = fn = 0
    for k, (_, right) in enumerate(lf.windows):
        if right < lf.probation:
            continue
        if k in best:
            tp += 1
            raw += profile.tp * best[k]
        else:
            fn += 1
            raw -= profile.fn
    return FileScore(raw, tp, fn, fp_rows, fp_cost)


def null_score(files, profile):
    """What NAB's null detector scores: its best threshold detects nothing, so -fnWeight per window."""
    return -profile.fn * sum(lf.scorable_windows() for lf in files)


def perfect_score(files, profile):
    """NAB's normaliser: tpWeight for every labelled window (runner.normalize's tpCount)."""
    return profile.tp * sum(len(lf.windows) for lf in files)


def normalise(raw, null, perfect):
    """100 (raw - null) / (perfect - null); None when the files have no window (undefined)."""
    if perfect == null:
        return None
    return 100.0 * (raw - null) / (perfect - null)


SweepResult = namedtuple("SweepResult", ["threshold", "raw", "curve"])


class SweepInput:
    """Scorable rows of a corpus, prepared once for sweeps under several profiles.

    Holds three flat lists (score, window key, unweighted value) and the row order by descending score,
    so a corpus of 365k rows costs a few MB and one sort."""

    def __init__(self):
        self.scores = []
        self.keys = []  # global window number, or -1 for rows outside every window
        self.values = []
        self.n_windows = 0
        self.n_scorable_windows = 0
        self._order = None

    def add_file(self, lf, scores):
        """scores: one anomaly score per row of lf (a sequence of floats)."""
        if len(scores) != lf.n:
            raise ValueError(f"{lf.name}: {len(scores)} scores for {lf.n} rows")
        base = self.n_windows
        for i in range(lf.probation, lf.n):
            k, u = lf.unweighted(i)
            self.scores.append(scores[i])
            self.keys.append(base + k if k >= 0 else -1)
            self.values.append(u)
        self.n_windows += len(lf.windows)
        self.n_scorable_windows += lf.scorable_windows()
        self._order = None

    def sweep(self, profile):
        """NAB's threshold sweep: the raw corpus score for every distinct threshold (detections are rows
        with score >= threshold, starting from 1.1 = nothing detected), and the best of them. Ties go to
        the higher threshold, as NAB's stable sort does."""
        if self._order is None:
            self._order = sorted(range(len(self.scores)), key=self.scores.__getitem__, reverse=True)
        scores, keys, values = self.scores, self.keys, self.values
        tp_w, fp_w = profile.tp, profile.fp
        best = {}
        total = -profile.fn * self.n_scorable_windows
        cur = 1.1
        curve = []
        for idx in self._order:
            s = scores[idx]
            if s != cur:
                curve.append((cur, total))
                cur = s
            k = keys[idx]
            if k < 0:
                total += fp_w * values[idx]
            else:
                v = tp_w * values[idx]
                old = best.get(k)
                if old is None:
                    best[k] = v
                    total += v + profile.fn
                elif v > old:
                    best[k] = v
                    total += v - old
        curve.append((cur, total))
        top = curve[0]
        for point in curve[1:]:
            if point[1] > top[1]:
                top = point
        return SweepResult(top[0], top[1], curve)


def detections_at(scores, threshold):
    """Rows NAB counts as detections at this threshold."""
    return [i for i, s in enumerate(scores) if s >= threshold]


# --- command line: score NAB-format results files (timestamp,value,anomaly_score,...) -------------------


def parse_nab_time(s):
    """NAB timestamps 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) to epoch seconds."""
    from datetime import datetime, timezone

    return datetime.fromisoformat(s.strip()).replace(tzinfo=timezone.utc).timestamp()


def _load_results_file(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        try:
            its = header.index("timestamp")
            isc = header.index("anomaly_score")
        except ValueError:
            raise ValueError(f"{path}: needs timestamp and anomaly_score columns") from None
        ts, scores = [], []
        for row in reader:
            ts.append(parse_nab_time(row[its]))
            scores.append(float(row[isc]))
    return ts, scores


def main(argv=None):
    """Score a detector's NAB results directory (results/DETECTOR/CATEGORY/DETECTOR_FILE.csv, as the NAB
    repository stores them) with the threshold sweep, to compare with NAB's published numbers."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--windows", required=True, help="NAB combined_windows.json / windows.json")
    ap.add_argument("--results", required=True, help="directory results/DETECTOR")
    ap.add_argument("--detector", required=True, help="detector name (file prefix)")
    ap.add_argument("--threshold", type=float, help="score at this threshold instead of sweeping")
    args = ap.parse_args(argv)

    with open(args.windows) as f:
        windows = json.load(f)
    files = []
    per_file = []
    for rel in sorted(windows):
        cat, fname = rel.split("/", 1)
        path = os.path.join(args.results, cat, f"{args.detector}_{fname}")
        if not os.path.exists(path):
            continue
        ts, scores = _load_results_file(path)
        limits = [(parse_nab_time(a), parse_nab_time(b)) for a, b in windows[rel]]
        lf = LabelledFile.from_timestamps(rel, ts, limits, cat)
        files.append(lf)
        per_file.append(scores)
    if not files:
        print(f"error: no results files for {args.detector} under {args.results}", file=sys.stderr)
        return 1
    sweep_input = SweepInput()
    for lf, scores in zip(files, per_file):
        sweep_input.add_file(lf, scores)
    print(f"{len(files)} files, {sweep_input.n_windows} windows")
    for name, profile in PROFILES.items():
        if args.threshold is None:
            res = sweep_input.sweep(profile)
            thr, raw = res.threshold, res.raw
        else:
            thr = args.threshold
            raw = sum(score_detections(lf, detections_at(s, thr), profile).raw for lf, s in zip(files, per_file))
        norm = normalise(raw, null_score(files, profile), perfect_score(files, profile))
        print(f"{name:20s} threshold {thr:.6g}  raw {raw:.6f}  normalised {norm:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
