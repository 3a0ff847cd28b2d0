#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit test of the detection-quality scorers (nab.py, events.py) and the synthetic generator's
determinism. Registered as a meson test in suite `unit` (tests/unit/meson.build); runs in a second.

The NAB cases are of three kinds: values computed by hand from the published formulas, the expectations
in NAB's own tests (tests/integration/sweeper_test.py, false_positive_test.py, normalize_test.py), and
one real file: NAB's published results for windowedGaussian on realAWSCloudwatch/ec2_cpu_utilization_53ea38
(results/windowedGaussian/..., one version of it), whose per-row S(t) columns give every contribution.
"""

import math
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import events  # noqa: E402
import nab  # noqa: E402
import synth  # noqa: E402

STD = nab.PROFILES["standard"]
LOW_FP = nab.PROFILES["reward_low_FP_rate"]
LOW_FN = nab.PROFILES["reward_low_FN_rate"]


def sig(x):
    """2 / (1 + e^(5x)) - 1 written out again, independently of nab.scaled_sigmoid."""
    return math.tanh(-2.5 * x)


class ScaledSigmoid(unittest.TestCase):
    def test_published_points(self):
        # Values quoted in NAB's scorer docstring.
        self.assertAlmostEqual(nab.scaled_sigmoid(-1.0), 0.98661, places=5)
        self.assertAlmostEqual(nab.scaled_sigmoid(-0.5), 0.84828, places=5)
        self.assertAlmostEqual(nab.scaled_sigmoid(0.0), 0.0, places=12)
        self.assertAlmostEqual(nab.scaled_sigmoid(1.0), -0.98661, places=5)
        self.assertEqual(nab.scaled_sigmoid(3.0), -1.0)
        self.assertEqual(nab.scaled_sigmoid(50.0), -1.0)
        self.assertAlmostEqual(nab.scaled_sigmoid(-200.0), 1.0, places=12)


class Probation(unittest.TestCase):
    def test_lengths(self):
        # NAB's sweeper_test: (rows, percent, expected), including the cap at percent * 5000.
        for n, p, want in [(100, 0.0, 0), (100, 1.0, 100), (100, 0.1, 10), (100, 0.15, 15), (5000, 0.1, 500),
                           (6000, 0.1, 500)]:
            self.assertEqual(nab.probation_length(n, p), want, (n, p))
        # The default 15 %: a 4032-row NAB file has 604 probationary rows; the cap is 750 rows, not 5000.
        self.assertEqual(nab.probation_length(4032), 604)
        self.assertEqual(nab.probation_length(5000), 750)
        self.assertEqual(nab.probation_length(22695), 750)

    def test_detections_in_probation_are_ignored(self):
        lf = nab.LabelledFile("f", 1000, [(400, 409)])  # probation 150
        self.assertEqual(lf.probation, 150)
        self.assertAlmostEqual(nab.score_detections(lf, [0, 10, 149], STD).raw, -1.0)
        self.assertAlmostEqual(nab.score_detections(lf, [150], STD).raw, -1.0 - 0.11)


class FileScoring(unittest.TestCase):
    def setUp(self):
        # 1000 rows, no probation, one 10-row window [100, 109].
        self.lf = nab.LabelledFile("f", 1000, [(100, 109)], probation=0)

    def test_window_start_scores_full_tp(self):
        self.assertAlmostEqual(nab.score_detections(self.lf, [100], STD).raw, 1.0, places=12)

    def test_window_end_scores_little(self):
        # Position -(109 - 109 + 1) / 10 = -0.1: tanh(0.25) / sigma(-1) = 0.2482...
        want = sig(-0.1) / sig(-1.0)
        self.assertAlmostEqual(want, 0.248242, places=6)
        self.assertAlmostEqual(nab.score_detections(self.lf, [109], STD).raw, want, places=12)

    def test_middle_of_window(self):
        want = sig(-0.5) / sig(-1.0)  # row 105: -(109 - 105 + 1) / 10 = -0.5
        self.assertAlmostEqual(nab.score_detections(self.lf, [105], STD).raw, want, places=12)

    def test_only_first_detection_in_window_counts(self):
        one = nab.score_detections(self.lf, [102], STD)
        many = nab.score_detections(self.lf, [102, 103, 104, 108, 109], STD)
        self.assertAlmostEqual(one.raw, many.raw, places=12)
        self.assertEqual((many.tp_windows, many.fn_windows, many.fp_rows), (1, 0, 0))

    def test_missed_window_costs_fn_weight(self):
        self.assertAlmostEqual(nab.score_detections(self.lf, [], STD).raw, -1.0)
        self.assertAlmostEqual(nab.score_detections(self.lf, [], LOW_FN).raw, -2.0)

    def test_fp_right_after_window_costs_little(self):
        # Row 110: (110 - 109) / (10 - 1) past the window: 0.11 * sigma(1/9) = -0.11 tanh(5/18) = -0.029793
        want = -1.0 + 0.11 * sig(1 / 9)
        got = nab.score_detections(self.lf, [110], STD)
        self.assertAlmostEqual(got.raw, want, places=12)
        self.assertAlmostEqual(got.fp_cost, -0.029793, places=6)

    def test_fp_far_after_window_costs_full_weight(self):
        # Row 500 is (500 - 109) / 9 >= 3 window widths away: -fpWeight.
        self.assertAlmostEqual(nab.score_detections(self.lf, [500], STD).raw, -1.11, places=12)
        self.assertAlmostEqual(nab.score_detections(self.lf, [500], LOW_FP).raw, -1.22, places=12)

    def test_fp_before_any_window_costs_full_weight(self):
        self.assertAlmostEqual(nab.score_detections(self.lf, [50], STD).raw, -1.11, places=12)

    def test_earlier_fp_after_window_is_better(self):
        # NAB false_positive_test.testEarlierFalsePositiveAfterWindowIsBetter
        a = nab.score_detections(self.lf, [110], STD).raw
        b = nab.score_detections(self.lf, [111], STD).raw
        self.assertGreater(a, b)

    def test_every_fp_row_counts(self):
        # NAB scores rows: a 5-row alarm far from any window costs 5 * 0.11.
        got = nab.score_detections(self.lf, range(600, 605), STD)
        self.assertEqual(got.fp_rows, 5)
        self.assertAlmostEqual(got.raw, -1.0 - 5 * 0.11, places=12)

    def test_fp_without_window(self):
        # NAB false_positive_test.testOneFalsePositiveNoWindow, with fpWeight 1
        lf = nab.LabelledFile("f", 1000, [], probation=0)
        self.assertAlmostEqual(nab.score_detections(lf, [0], nab.Profile(1.0, 1.0, 1.0)).raw, -1.0)


class Normalisation(unittest.TestCase):
    def files(self):
        return [nab.LabelledFile("a", 1000, [(300, 309), (600, 619)]),
                nab.LabelledFile("b", 500, [(200, 249)]),
                nab.LabelledFile("c", 800, [])]

    def test_perfect_detector_scores_100(self):
        fs = self.files()
        for prof in nab.PROFILES.values():
            raw = sum(nab.score_detections(lf, [w[0] for w in lf.windows], prof).raw for lf in fs)
            norm = nab.normalise(raw, nab.null_score(fs, prof), nab.perfect_score(fs, prof))
            self.assertAlmostEqual(norm, 100.0, places=9)

    def test_null_detector_scores_0(self):
        fs = self.files()
        for prof in nab.PROFILES.values():
            raw = sum(nab.score_detections(lf, [], prof).raw for lf in fs)
            self.assertAlmostEqual(nab.normalise(raw, nab.null_score(fs, prof), nab.perfect_score(fs, prof)), 0.0)

    def test_formula(self):
        # NAB normalize_test: baseline 4, score 8, perfect 44 -> 10
        self.assertAlmostEqual(nab.normalise(8.0, 4.0, 44.0), 10.0)
        self.assertIsNone(nab.normalise(-0.33, 0.0, 0.0))

    def test_hand_computed_corpus(self):
        fs = self.files()
        # a: window 1 at its start (1.0), window 2 missed (-1); b: at row 224 (-(249-224+1)/50 = -0.52);
        # c: one FP (-0.11). Null = -3, perfect = 3.
        raw = (nab.score_detections(fs[0], [300], STD).raw + nab.score_detections(fs[1], [224], STD).raw
               + nab.score_detections(fs[2], [700], STD).raw)
        want_raw = 1.0 - 1.0 + sig(-0.52) / sig(-1.0) - 0.11
        self.assertAlmostEqual(raw, want_raw, places=12)
        self.assertAlmostEqual(nab.normalise(raw, -3.0, 3.0), 100 * (want_raw + 3) / 6, places=9)


class Sweep(unittest.TestCase):
    def test_nab_published_threshold_table(self):
        # NAB sweeper_test.testCalcScoreByThresholdReturnsExpectedScores, fed through the same state
        # SweepInput builds from files: (score, window key, value); fnWeight 5, tp/fp weights 1.
        s = nab.SweepInput()
        s.scores = [0.0, 0.2, 0.3, 0.5, 0.5]
        s.keys = [-1, 0, 0, 1, -1]
        s.values = [-3.0, 20.0, 10.0, 5.0, -3.0]
        s.n_windows = s.n_scorable_windows = 2
        res = s.sweep(nab.Profile(tp=1.0, fp=1.0, fn=5.0))
        self.assertEqual(res.curve, [(1.1, -10.0), (0.5, -3.0), (0.3, 12.0), (0.2, 22.0), (0.0, 19.0)])
        self.assertEqual((res.threshold, res.raw), (0.2, 22.0))

    def test_sweep_agrees_with_fixed_threshold(self):
        lf = nab.LabelledFile("f", 400, [(200, 219)])  # probation 60
        scores = [0.1] * 400
        scores[30] = 0.95  # in probation: ignored
        scores[100] = 0.7  # FP before the window
        scores[205] = 0.8  # TP
        scores[300] = 0.9  # FP far after
        s = nab.SweepInput()
        s.add_file(lf, scores)
        res = s.sweep(STD)
        self.assertEqual(res.threshold, 0.8)  # 0.9 adds an FP first; 0.8 adds the TP; 0.7 another FP
        want = nab.score_detections(lf, nab.detections_at(scores, 0.8), STD).raw
        self.assertAlmostEqual(res.raw, want, places=12)
        self.assertAlmostEqual(want, sig(-(219 - 205 + 1) / 20) / sig(-1.0) - 0.11, places=12)

    def test_ties_go_to_higher_threshold(self):
        lf = nab.LabelledFile("f", 100, [], probation=0)
        s = nab.SweepInput()
        s.add_file(lf, [0.5] * 100)
        self.assertEqual(s.sweep(STD).threshold, 1.1)


class RealNabFile(unittest.TestCase):
    """NAB's published windowedGaussian results for realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv:
    4032 rows every 5 min from 2014-02-14 14:30, windows [2014-02-19 10:50, 2014-02-20 03:30] and
    [2014-02-23 11:45, 2014-02-24 04:25]; at that results version's threshold the detector fired at
    the rows below. Each nonzero S(t) value NAB wrote for them is listed; their sum is the file score."""

    START = 1392388200  # 2014-02-14 14:30:00 UTC
    DETECTED = {  # timestamp -> S(t)_standard as published (None: in probation, or not first in window)
        "2014-02-16 03:40:00": None,
        "2014-02-17 03:45:00": -0.11,
        "2014-02-19 03:25:00": -0.11,
        "2014-02-20 03:10:00": 0.0629516590854,
        "2014-02-21 03:25:00": -0.109831721956,
        "2014-02-22 03:10:00": -0.109999864478,
        "2014-02-23 03:10:00": -0.11,
        "2014-02-23 21:10:00": 0.809358444382,
        "2014-02-24 03:40:00": None,
        "2014-02-25 03:40:00": -0.109794499535,
        "2014-02-26 03:15:00": -0.109999825986,
        "2014-02-27 03:15:00": -0.11,
        "2014-02-28 03:35:00": -0.11,
    }
    LOW_FP_SUM = (0.0629516590854 + 0.809358444382 - 0.22 - 0.22 - 0.219663443913 - 0.219999728955 - 0.22
                  - 0.21958899907 - 0.219999651971 - 0.22 - 0.22)

    def test_matches_published_contributions(self):
        ts = [self.START + 300 * i for i in range(4032)]
        limits = [(nab.parse_nab_time(a), nab.parse_nab_time(b))
                  for a, b in (("2014-02-19 10:50:00.000000", "2014-02-20 03:30:00.000000"),
                               ("2014-02-23 11:45:00.000000", "2014-02-24 04:25:00.000000"))]
        lf = nab.LabelledFile.from_timestamps("ec2_cpu_utilization_53ea38", ts, limits)
        self.assertEqual(lf.windows, [(1396, 1596), (2559, 2759)])
        self.assertEqual(lf.probation, 604)
        rows = sorted(ts.index(nab.parse_nab_time(t)) for t in self.DETECTED)
        total = 0.0
        for t, published in self.DETECTED.items():
            if published is None:
                continue
            total += published
            k, u = lf.unweighted(ts.index(nab.parse_nab_time(t)))
            mine = STD.tp * u if k >= 0 else STD.fp * u
            self.assertAlmostEqual(mine, published, places=11, msg=t)
        got = nab.score_detections(lf, rows, STD)
        self.assertAlmostEqual(got.raw, total, places=10)
        self.assertAlmostEqual(got.raw, -0.117315808488, places=10)
        self.assertEqual((got.tp_windows, got.fn_windows, got.fp_rows), (2, 0, 9))
        self.assertAlmostEqual(nab.score_detections(lf, rows, LOW_FP).raw, self.LOW_FP_SUM, places=10)

    def test_unsorted_timestamps_map_like_nab(self):
        # NAB files have repeated timestamps (12 rows at 2014-03-09 03:00) and one backward jump; windows
        # run from the first row at t1 to the first row at t2.
        ts = [0, 300, 600, 600, 600, 900, 1200, 300, 600, 1500, 1800]
        lf = nab.LabelledFile.from_timestamps("dup", ts, [(600, 1200)])
        self.assertEqual(lf.windows, [(2, 6)])


class Events(unittest.TestCase):
    def test_episodes(self):
        self.assertEqual(events.episodes(bytearray([0, 1, 1, 0, 1, 0, 0, 1])), [(1, 2), (4, 4), (7, 7)])
        self.assertEqual(events.episodes(bytearray([1, 1, 1])), [(0, 2)])
        self.assertEqual(events.episodes(bytearray(5)), [])
        self.assertEqual(events.rising_edges(bytearray([1, 0, 1, 1])), [0, 2])

    def test_matching(self):
        ts = [float(60 * i) for i in range(1000)]
        a = bytearray(1000)
        for i in (5, 6,  # warm-up: ignored
                  205, 206, 207,  # inside window 1, delay 5 rows
                  260,  # 1 min after window 1 ends: within tolerance, not a false alarm, not counted twice
                  500,  # nowhere: false alarm
                  703):  # 3 rows after window 2 ended (tolerance 5 min): detects it
            a[i] = 1
        wins = [events.Window(ts[200], ts[259], "spike"), events.Window(ts[690], ts[700], "spike"),
                events.Window(ts[800], ts[810], "spike")]
        fe = events.score_file(ts, a, wins, eval_start=ts[100], tolerance=300.0)
        self.assertEqual(fe.windows, 3)
        self.assertEqual(fe.detected, [("spike", 300.0, 5), ("spike", 780.0, 13)])
        self.assertEqual(fe.missed, ["spike"])
        self.assertEqual(fe.false_alarms, 1)
        self.assertEqual(fe.episodes, 4)
        self.assertAlmostEqual(fe.days, (ts[-1] - ts[100]) / 86400)
        t = events.Tally()
        t.add(fe)
        m = t.metrics()
        self.assertAlmostEqual(m["precision"], 2 / 3)
        self.assertAlmostEqual(m["recall"], 2 / 3)
        self.assertAlmostEqual(m["f1"], 2 / 3)
        self.assertEqual(m["median_delay_seconds"], 540.0)
        self.assertEqual(m["median_delay_samples"], 9.0)
        self.assertAlmostEqual(m["false_alarms_per_series_day"], 1 / fe.days)

    def test_episode_started_before_window_is_neither(self):
        ts = [float(60 * i) for i in range(100)]
        a = bytearray(100)
        for i in range(40, 60):
            a[i] = 1
        fe = events.score_file(ts, a, [events.Window(ts[50], ts[55], "x")], eval_start=0.0, tolerance=0.0)
        self.assertEqual((len(fe.detected), fe.false_alarms), (0, 0))


class Synthetic(unittest.TestCase):
    def test_deterministic_and_labelled(self):
        a = synth.generate_file(123, "spike", 2, "latency")
        b = synth.generate_file(123, "spike", 2, "latency")
        c = synth.generate_file(124, "spike", 2, "latency")
        self.assertEqual(a, b)
        self.assertNotEqual(a[1], c[1])
        name, rows, labels = a
        self.assertEqual(labels["step_seconds"], 300)
        self.assertGreater(len(labels["windows"]), 0)
        times = [int(r.split(",", 1)[0]) for r in rows]
        self.assertEqual(times, sorted(set(times)))
        for w in labels["windows"]:
            self.assertGreaterEqual(w["start"], labels["warmup_end"])
            self.assertLessEqual(w["start"], w["end"])
            self.assertTrue(any(w["start"] <= t <= w["end"] for t in times), "window without a sample")

    def test_sets_differ_and_write(self):
        self.assertNotEqual(synth.SEEDS["dev"], synth.SEEDS["heldout"])
        with tempfile.TemporaryDirectory() as d:
            name, n, w = synth.write_file(d, 7, "leak", 2, "memory")
            with open(os.path.join(d, name + ".csv")) as f:
                self.assertEqual(f.readline().strip(), "timestamp,value")
            self.assertTrue(os.path.exists(os.path.join(d, name + ".json")))
            self.assertGreater(w, 0)


if __name__ == "__main__":
    unittest.main()
