# SPDX-License-Identifier: GPL-3.0-or-later
"""Event-level scoring of alarm episodes against labelled anomaly windows.

This is the view of an SRE who deploys a rule: what matters is whether each incident raised an alarm,
how many alarms were raised for nothing, and how long detection took. Definitions (docs/benchmarks.md
repeats them):

  * An alarm episode is a maximal run of consecutive output rows with anomaly = 1 (the rule firing).
    It starts at its first row and ends at its last row.
  * Episodes that start before the file's evaluation start (the warm-up) are ignored entirely.
  * A window [start, end] is detected when an episode starts in [start, end + tolerance]. The first such
    episode gives the detection delay: its start minus the window start, in seconds and in samples
    (rows of the input between the two).
  * An episode that overlaps no extended window [start, end + tolerance] is a false alarm.
  * TP = detected windows, FN = missed windows, FP = false alarms; precision = TP / (TP + FP),
    recall = TP / (TP + FN), F1 their harmonic mean. Several episodes inside one window count once
    (they are reported as redundant episodes, not as false alarms).
  * False alarms per series per day = FP / (days between evaluation start and the last sample).
"""

import bisect
import statistics
from collections import namedtuple

Window = namedtuple("Window", ["start", "end", "category"])

FileEvents = namedtuple(
    "FileEvents",
    [
        "windows",  # number of labelled windows evaluated
        "detected",  # list of (category, delay_seconds, delay_samples) for detected windows
        "missed",  # list of categories of missed windows
        "false_alarms",  # number of false-alarm episodes
        "episodes",  # number of episodes after warm-up
        "days",  # days of data after warm-up
    ],
)


def episodes(anomaly):
    """Runs of 1 in a bytearray of 0/1 per row, as (first, last) row index pairs."""
    out = []
    n = len(anomaly)
    i = anomaly.find(1)
    while i >= 0:
        j = anomaly.find(0, i)
        if j < 0:
            j = n
        out.append((i, j - 1))
        i = anomaly.find(1, j)
    return out


def rising_edges(anomaly):
    """Row indices where an episode starts (anomaly goes 0 -> 1)."""
    return [first for first, _ in episodes(anomaly)]


def score_file(timestamps, anomaly, windows, eval_start, tolerance):
    """Match the alarm episodes of one file to its windows.

    timestamps: epoch seconds per row (sorted); anomaly: 0/1 per row (bytes-like); windows: [Window];
    eval_start: epoch seconds before which episodes are ignored; tolerance: seconds after a window's end
    in which a starting episode still counts as a detection. Returns FileEvents."""
    eps = [(a, b) for a, b in episodes(anomaly) if timestamps[a] >= eval_start]
    starts = [timestamps[a] for a, _ in eps]
    wins = sorted(w for w in windows if w.end >= eval_start)
    detected, missed = [], []
    for w in wins:
        k = bisect.bisect_left(starts, w.start)
        if k < len(starts) and starts[k] <= w.end + tolerance:
            first_row = bisect.bisect_left(timestamps, w.start)
            detected.append((w.category, starts[k] - w.start, eps[k][0] - first_row))
        else:
            missed.append(w.category)
    false_alarms = 0
    for a, b in eps:
        ts_a, ts_b = timestamps[a], timestamps[b]
        if not any(ts_a <= w.end + tolerance and ts_b >= w.start for w in wins):
            false_alarms += 1
    last = timestamps[-1] if len(timestamps) else eval_start
    days = max(0.0, last - eval_start) / 86400.0
    return FileEvents(len(wins), detected, missed, false_alarms, len(eps), days)


class Tally:
    """Sums FileEvents over a group of files (a category, or everything) and derives the metrics."""

    def __init__(self):
        self.windows = 0
        self.tp = 0
        self.fp = 0
        self.episodes = 0
        self.days = 0.0
        self.files = 0
        self.delays_s = []
        self.delays_n = []

    def add(self, fe, windows=True, alarms=True):
        """Count the windows of fe (windows=True) and/or its alarms and time (alarms=True)."""
        if windows:
            self.windows += fe.windows
            self.tp += len(fe.detected)
            self.delays_s.extend(d[1] for d in fe.detected)
            self.delays_n.extend(d[2] for d in fe.detected)
        if alarms:
            self.fp += fe.false_alarms
            self.episodes += fe.episodes
            self.days += fe.days
            self.files += 1

    def metrics(self):
        """A dict of the published figures (None where undefined, e.g. recall without windows)."""
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        recall = self.tp / self.windows if self.windows else None
        if precision is None or recall is None:
            f1 = None
        elif precision + recall == 0:
            f1 = 0.0
        else:
            f1 = 2 * precision * recall / (precision + recall)
        return {
            "files": self.files,
            "windows": self.windows,
            "detected": self.tp,
            "false_alarms": self.fp,
            "episodes": self.episodes,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "false_alarms_per_series_day": self.fp / self.days if self.days > 0 else None,
            "series_days": self.days,
            "median_delay_seconds": statistics.median(self.delays_s) if self.delays_s else None,
            "median_delay_samples": statistics.median(self.delays_n) if self.delays_n else None,
        }
