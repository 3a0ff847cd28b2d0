#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the recovery benchmark's definitions (analysis.py) and template filling (harness.py), on
hand-made observations and on log lines copied from real runs of systemd 252 --user and Monit 5.33.
Registered as the meson test `bench-recovery-analysis` (suite unit); needs nothing but Python 3."""

import calendar
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import analysis as A  # noqa: E402
from harness import HarnessError, fill_template  # noqa: E402

H = A.Health(latency_limit=0.1, latency_quantile=0.9, mem_limit_bytes=40 << 20, window=2.0, min_probes=10)


def probes(start, end, latency, status=200, rate=10):
    out, t = [], start
    while t < end - 1e-9:
        out.append(A.Probe(t, latency, status))
        t = round(t + 1.0 / rate, 6)
    return out


def mem(start, end, pid, rss, rate=10):
    out, t = [], start
    while t < end - 1e-9:
        out.append(A.MemSample(t, (pid,), rss))
        t = round(t + 1.0 / rate, 6)
    return out


class Quantiles(unittest.TestCase):
    def test_linear_interpolation(self):
        self.assertEqual(A.quantile([3, 1, 2], 0.5), 2)
        self.assertAlmostEqual(A.quantile([1, 2, 3, 4], 0.9), 3.7)
        self.assertEqual(A.quantile([5], 0.99), 5)
        self.assertTrue(A.quantile([], 0.5) != A.quantile([], 0.5))  # NaN

    def test_summarize_skips_missing(self):
        s = A.summarize([None, 1.0, 3.0, None])
        self.assertEqual(s, {"n": 2, "median": 2.0, "p90": 2.8})
        self.assertEqual(A.summarize([None]), {"n": 0, "median": None, "p90": None})


class Recovery(unittest.TestCase):
    def test_latency_fault_cured_by_restart(self):
        # healthy until 100, slow from the injection, the process replaced at 103.05, healthy after 103.1
        ps = probes(95, 100, 0.02) + probes(100, 103.1, 0.2) + probes(103.1, 110, 0.02)
        ms = mem(95, 103.05, 1, 6 << 20) + mem(103.05, 110, 2, 6 << 20)
        self.assertAlmostEqual(A.first_fault_seen(ps, ms, 100, H), 100)
        cured = A.cured_at(ms, 100, 1)
        self.assertAlmostEqual(cured, 103.05)
        self.assertAlmostEqual(A.recovered_at(ps, ms, cured, 130, 110, H), 103.1)

    def test_not_cured_never_recovers(self):
        ps = probes(100, 110, 0.02)  # the fault does not show in probes (a leak, say)
        ms = mem(100, 110, 1, 100 << 20)
        self.assertIsNone(A.cured_at(ms, 100, 1))
        self.assertIsNone(A.recovered_at(ps, ms, None, 130, 110, H))
        self.assertAlmostEqual(A.first_fault_seen(ps, ms, 100, H), 100)

    def test_window_must_be_observed_and_start_before_deadline(self):
        ps = probes(100, 101, 0.2) + probes(101, 104, 0.02)
        ms = mem(100, 100.95, 1, 1) + mem(100.95, 104, 2, 1)
        # a healthy window starting at 101 ends at 103: not yet observed at 102.5, observed at 103.5
        self.assertIsNone(A.recovered_at(ps, ms, 100.95, 130, 102.5, H))
        self.assertAlmostEqual(A.recovered_at(ps, ms, 100.95, 130, 103.5, H), 101)
        # a deadline before the first probe after the cure: not recovered
        self.assertIsNone(A.recovered_at(ps, ms, 100.95, 100.97, 103.5, H))

    def test_quantile_tolerates_one_slow_probe_in_a_window_but_not_three(self):
        base = probes(100, 104, 0.02)
        one = [A.Probe(p.t, 0.5 if abs(p.t - 100.5) < 1e-6 else p.latency, 200) for p in base]
        ms = mem(99, 104, 2, 1)
        self.assertAlmostEqual(A.recovered_at(one, ms, 99.5, 130, 104, H), 100)
        three = [A.Probe(p.t, 0.5 if p.t in (100.3, 100.5, 100.7) else p.latency, 200) for p in base]
        # windows containing all three slow probes fail; the first window past them starts at 100.8
        self.assertAlmostEqual(A.recovered_at(three, ms, 99.5, 130, 104, H), 100.4)

    def test_a_failed_probe_or_memory_breaks_a_window(self):
        ps = probes(100, 104, 0.02)
        ps[5] = A.Probe(ps[5].t, None, 0, "timeout")  # at 100.5
        ms = mem(99, 104, 2, 1)
        self.assertAlmostEqual(A.recovered_at(ps, ms, 99.5, 130, 104, H), 100.6)
        ps = probes(100, 104, 0.02)
        ms = mem(99, 101, 2, 100 << 20) + mem(101, 104, 2, 1)
        self.assertAlmostEqual(A.recovered_at(ps, ms, 99.5, 130, 104, H), 101)

    def test_lucky_window_before_the_cure_does_not_count(self):
        # error fault: an unlucky-for-us stretch of successes before the restart must not count
        ps = probes(100, 105, 0.02) + probes(105, 110, 0.02)
        ms = mem(100, 104.95, 1, 1) + mem(104.95, 110, 2, 1)
        self.assertAlmostEqual(A.recovered_at(ps, ms, A.cured_at(ms, 100, 1), 130, 110, H), 105)

    def test_starved_prober_is_not_healthy(self):
        ps = probes(100, 104, 0.02, rate=2)  # 4 probes per 2 s window, fewer than min_probes
        self.assertIsNone(A.recovered_at(ps, mem(99, 104, 2, 1), 99.5, 130, 104, H))


SYSTEMD_LINES = [
    (1.0, "Reloading."),
    (2.283, "rbx-systemd.service: Main process exited, code=killed, status=6/ABRT"),
    (2.283, "rbx-systemd.service: Failed with result 'signal'."),
    (2.582, "rbx-systemd.service: Scheduled restart job, restart counter is at 1."),
    (7.340, "rbx-monit.service: Watchdog timeout (limit 3s)!"),
    (7.340, "rbx-monit.service: Killing process 740 (homeostat-demo-) with signal SIGABRT."),
    (7.346, "rbx-monit.service: Main process exited, code=killed, status=6/ABRT"),
]

MONIT_LINES = [
    (1.0, "[2026-11-28T03:52:12+0000] info     : 'vm' Monit 5.33.0 started"),
    (2.0, "[2026-11-28T03:52:23+0000] warning  : 'demo' response time 180.006 ms doesn't match limit [time < 100 ms]"),
    (3.0, "[2026-11-28T03:52:24+0000] error    : 'demo' response time 251.073 ms doesn't match limit [time < 100 ms]"),
    (3.0, "[2026-11-28T03:52:24+0000] info     : 'demo' trying to restart"),
    (3.0, "[2026-11-28T03:52:24+0000] info     : 'demo' restart: '/usr/bin/env XDG_RUNTIME_DIR=/x /usr/bin/systemctl --user restart d.service'"),
    (4.0, "[2026-11-28T03:52:33+0000] info     : 'demo' total mem amount check succeeded [current total mem amount = 6.2 MB]"),
    (5.0, "[2026-11-28T03:52:30+0000] error    : 'other' total mem amount of 92.4 MB matches resource limit [total mem amount > 64 MB]"),
]


class Logs(unittest.TestCase):
    def test_systemd_reactions_of_one_unit(self):
        ev = A.systemd_events(SYSTEMD_LINES, "rbx-systemd.service")
        self.assertEqual([(t, k) for t, k, _ in ev], [(2.283, "exited"), (2.582, "restart")])
        ev = A.systemd_events(SYSTEMD_LINES, "rbx-monit.service")
        self.assertEqual([(t, k) for t, k, _ in ev], [(7.340, "watchdog"), (7.346, "exited")])
        self.assertEqual(A.systemd_events(SYSTEMD_LINES, "rbx-homeostat.service"), [])

    def test_monit_detections_and_actions(self):
        ev = A.monit_events(MONIT_LINES, "demo")
        self.assertEqual([(t, k) for t, k, _ in ev], [(2.0, "detect"), (3.0, "detect"), (3.0, "action")])
        self.assertTrue(ev[0][2].startswith("response time 180.006 ms"))
        self.assertEqual([k for _, k, _ in A.monit_events(MONIT_LINES, "other")], ["detect"])


def ts(y, mo, d, h, mi, s, ms=0):
    return calendar.timegm((y, mo, d, h, mi, s)) + ms / 1000


INCIDENTS = {
    "incidents": [
        {
            "id": "old", "rule": "demo-probe", "state": "resolved", "detected_at": "2024-06-01T11:59:00.000Z", "mttr_seconds": 3.0,
            "events": [{"seq": 1, "at": "2024-06-01T11:59:00.000Z", "kind": "detected"}],
        },
        {
            "id": "abc", "rule": "demo-latency", "detected_at": "2024-06-01T12:00:00.750Z", "mttr_seconds": 3.07,
            "events": [
                {"seq": 1, "at": "2024-06-01T12:00:00.750Z", "kind": "detected"},
                {"seq": 2, "at": "2024-06-01T12:00:02.814Z", "kind": "firing"},
                {"seq": 3, "at": "2024-06-01T12:00:02.819Z", "kind": "action_started"},
                {"seq": 4, "at": "2024-06-01T12:00:02.904Z", "kind": "action_succeeded"},
                {"seq": 5, "at": "2024-06-01T12:00:05.000Z", "kind": "verify_passed"},
                {"seq": 6, "at": "2024-06-01T12:00:06.841Z", "kind": "resolved"},
            ],
        },
    ]
}


class Homeostat(unittest.TestCase):
    def test_rfc3339(self):
        self.assertAlmostEqual(A.parse_rfc3339_utc("2024-06-01T12:00:00.750Z"), ts(2024, 6, 1, 12, 0, 0, 750))
        self.assertEqual(A.parse_rfc3339_utc("2000-02-29T00:00:00Z"), ts(2000, 2, 29, 0, 0, 0))
        self.assertEqual(A.parse_rfc3339_utc("1970-01-01T00:00:00Z"), 0)
        for bad in ("", "2024-06-01 12:00:00", "2024-06-01T12:00:00+02:00", None):
            with self.assertRaises(ValueError):
                A.parse_rfc3339_utc(bad)

    def test_reactions_after_the_injection(self):
        t0 = ts(2024, 6, 1, 12, 0, 0)
        rs = A.homeostat_reactions(INCIDENTS, t0)
        self.assertEqual([r.incident for r in rs], ["abc"])
        r = rs[0]
        self.assertAlmostEqual(r.detected - t0, 0.75, places=3)
        self.assertAlmostEqual(r.firing - t0, 2.814, places=3)
        self.assertAlmostEqual(r.action_started - t0, 2.819, places=3)
        self.assertAlmostEqual(r.action_done - t0, 2.904, places=3)
        self.assertEqual(r.action_result, "action_succeeded")
        self.assertAlmostEqual(r.resolved - t0, 6.841, places=3)
        self.assertEqual(r.kinds[0], "detected")
        # an incident that fired long before the injection belongs to the calm phase
        self.assertEqual(A.homeostat_alarms_before(INCIDENTS, t0), ["demo-probe resolved"])
        self.assertEqual(len(A.homeostat_reactions(INCIDENTS, t0 - 120)), 2)
        self.assertEqual(A.homeostat_alarms_before(INCIDENTS, t0 - 120), [])

    def test_run_begun_by_noise_before_the_injection_counts_when_it_fired_after(self):
        t0 = ts(2024, 6, 1, 12, 0, 2)  # detected 1.25 s before, fired 0.814 s after
        rs = A.homeostat_reactions(INCIDENTS, t0)
        self.assertEqual([r.incident for r in rs], ["abc"])
        self.assertEqual(A.homeostat_alarms_before(INCIDENTS, t0), ["demo-probe resolved"])
        v = {"verdicts": [
            {"rule": "demo-latency", "t": t0 - 1.25, "anomalous": True},
            {"rule": "demo-latency", "t": t0 + 0.1, "anomalous": False},
            {"rule": "demo-latency", "t": t0 + 0.2, "anomalous": True},
            {"rule": "demo-errors", "t": t0 + 0.15, "anomalous": True},
        ]}
        self.assertAlmostEqual(A.first_anomalous_sample(v, "demo-latency", t0, t0 + 1), t0 + 0.2)
        self.assertIsNone(A.first_anomalous_sample(v, "demo-latency", t0, t0 + 0.15))

    def test_firing_sample(self):
        firing = ts(2024, 6, 1, 12, 0, 2, 814)
        v = {"verdicts": [
            {"rule": "demo-latency", "t": firing - 1.0, "transition": "pending"},
            {"rule": "demo-latency", "t": firing - 0.004, "transition": "firing"},
            {"rule": "demo-errors", "t": firing - 0.001, "transition": "firing"},
            {"rule": "demo-latency", "t": firing + 30, "transition": "firing"},
        ]}
        self.assertAlmostEqual(A.firing_sample_time(v, "demo-latency", firing), firing - 0.004)
        self.assertIsNone(A.firing_sample_time(v, "demo-memory", firing))


class Output(unittest.TestCase):
    def test_table(self):
        s = A.summarize([1.0, 2.0])
        txt = A.fault_table("latency x10:", [
            {"contender": "systemd alone", "trials": 2, "detected": 0, "detect": A.summarize([]),
             "action": A.summarize([]), "recovered": 0, "mttr": A.summarize([])},
            {"contender": "systemd + Monit", "trials": 2, "detected": 2, "detect": s, "action": s,
             "recovered": 2, "mttr": s, "by": "monit 2"},
        ])
        lines = txt.splitlines()
        self.assertEqual(lines[0], "latency x10:")
        self.assertIn("0/2", lines[2])
        self.assertIn("1.50", lines[3])
        self.assertTrue(lines[3].endswith("monit 2"))


class Templates(unittest.TestCase):
    def test_fill_and_missing(self):
        with tempfile.NamedTemporaryFile("w", suffix=".in", delete=False) as f:
            f.write("# (fills in @…@)\nport @PORT@ unit @UNIT@\n")
        try:
            self.assertEqual(fill_template(f.name, {"PORT": 1, "UNIT": "u"}), "# (fills in @…@)\nport 1 unit u\n")
            with self.assertRaises(HarnessError):
                fill_template(f.name, {"PORT": 1})
        finally:
            os.unlink(f.name)

    def test_shipped_templates_have_only_known_keys(self):
        here = os.path.dirname(os.path.abspath(__file__))
        keys = {
            "demo.service.in": {"CONTENDER", "DEMO", "PORT", "WATCHDOG", "LOG", "SLICE"},
            "monitrc.in": {"CYCLE", "SERVICE", "PORT", "UNIT", "XDG", "TIMEOUT", "LATENCY_MS", "MEM_MB", "DIR",
                           "LOG", "STATEFILE"},
            "homeostat.yaml.in": {"PORT", "UNIT"},
        }
        for name, ks in keys.items():
            text = fill_template(os.path.join(here, name), {k: "x" for k in ks})
            self.assertNotIn("@", text.replace("@…@", ""), name)


if __name__ == "__main__":
    unittest.main()
