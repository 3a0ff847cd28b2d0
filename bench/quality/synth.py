#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Deterministic generator of a labelled set of synthetic service metrics for the detection benchmark.

Each file is one series as a service would expose it: request counters (`_total`, with a counter reset),
CPU, p99 latency (log-normal), error ratio (Poisson counts over requests), memory with a GC sawtooth,
open connections. They share a load model with daily and weekly seasonality of realistic shape
(business-hours or consumer-evening profiles, night trough, weekend dip, day-to-day variation, slow
growth), heavy-tailed noise (Student-t), occasional normal oddities (GC pauses, a nightly batch job)
and mostly 1-minute sampling; some files are sampled every 10 s or 5 min with irregular jitter, and
scrapes go missing now and then. Into this the generator injects labelled anomalies, one category per
file: spikes, level shifts (up/down, lasting hours), variance bursts, slow memory leaks towards a limit,
phase anomalies (daytime load at night, night-level load at noon) and error-budget burns over two
counters; "gaps" files have long scrape gaps and no anomaly (missing data is not an anomaly), "clean"
files have nothing, for the false-alarm rate.

Output per file: NAME.csv (`timestamp,value` with epoch seconds, or `timestamp,series,value` for the
two-counter SLO files) and NAME.json with the labels: category, metric, sampling, warm-up end, anomaly
windows [start, end] (epoch seconds, inclusive) with their category and parameters, gaps, counter resets.
A manifest.json lists the set. Everything derives from the set's seed: the same seed gives the same bytes.

Two seeds are fixed: "dev" (for development and tuning) and "heldout" (for reporting; never tune on it).
"""

import argparse
import json
import math
import os
import random
import sys
from datetime import datetime, timezone

GENERATOR_VERSION = 2
SEEDS = {"dev": 20240601, "heldout": 90210417}
START_EPOCH = 1709510400  # 2024-03-04 00:00:00 UTC, a Monday
DAY = 86400
HOUR = 3600

# Parameters the benchmark sets once for a whole category (run.py reads them; derive nothing per file).
LEAK_LIMIT_BYTES = 4 * 1024**3  # every leaking service has a 4 GiB memory limit
SLO_OBJECTIVE_PERCENT = 99.9  # every SLO file's availability objective
SLO_ERRORS_SERIES = "app_errors_total"
SLO_TOTAL_SERIES = "app_requests_total"

# category -> (number of files, metrics it may use)
LAYOUT = [
    ("clean", 8, ["requests", "cpu", "latency", "error_ratio", "memory", "connections"]),
    ("gaps", 4, ["requests", "cpu", "latency", "connections"]),
    ("spike", 6, ["requests", "cpu", "latency", "error_ratio", "connections"]),
    ("level_shift", 6, ["requests", "cpu", "latency", "connections", "memory"]),
    ("variance_burst", 5, ["requests", "cpu", "latency", "connections"]),
    ("leak", 5, ["memory"]),
    ("phase", 6, ["requests", "cpu", "connections"]),
    ("slo_burn", 4, ["slo"]),
]

METRIC_NAMES = {
    "requests": "http_requests_total",
    "cpu": "process_cpu_percent",
    "latency": "http_request_duration_p99_seconds",
    "error_ratio": "http_error_ratio",
    "memory": "process_resident_memory_bytes",
    "connections": "open_connections",
    "slo": "app_requests_total,app_errors_total",
}


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def student_t(rng, nu):
    """A Student-t variate with nu degrees of freedom (heavy tails for nu <= 5)."""
    return rng.gauss(0.0, 1.0) / math.sqrt(rng.gammavariate(nu / 2.0, 2.0) / nu)


def poisson(rng, lam):
    """Poisson variate: Knuth's product method for small means, a rounded normal for large ones."""
    if lam <= 0:
        return 0
    if lam < 30:
        limit = math.exp(-lam)
        k, p = 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(round(lam + math.sqrt(lam) * rng.gauss(0.0, 1.0))))


def _logistic(x):
    if x < -40:
        return 0.0
    if x > 40:
        return 1.0
    return 1.0 / (1.0 + math.exp(-x))


class LoadModel:
    """Relative load (about 0.1 .. 1.2) as a function of time: the shared seasonal shape of a service.

    A business service ramps up 07-10 h, dips at lunch and winds down 18-22 h; a consumer service rises
    through the day to an evening peak. Weekends are lower (business) or flatter (consumer). Each day has
    its own small factor, and the load grows slowly over the weeks."""

    def __init__(self, rng, start, days):
        self.shape = rng.choice(["business", "business", "consumer"])
        self.night = rng.uniform(0.12, 0.35)
        self.weekend = rng.uniform(0.45, 0.8)
        self.tz = rng.randint(-8, 9) * HOUR  # where the users live; detectors work in UTC
        self.growth = rng.uniform(0.0, 0.03) / (7 * DAY)
        self.start = start
        self.day_factor = [1.0 + 0.04 * rng.gauss(0.0, 1.0) for _ in range(days + 2)]

    def shape_at(self, hour, weekend):
        night = self.night
        if self.shape == "business":
            shift = 1.5 if weekend else 0.0
            day = _logistic((hour - 8.5 - shift) / 0.7) * _logistic((19.5 - hour) / 1.0)
            day *= 1.0 - 0.08 * math.exp(-(((hour - 12.75) / 0.6) ** 2))
            level = night + (1.0 - night) * day
            if weekend:
                level = night + (level - night) * self.weekend
        else:
            day = _logistic((hour - 7.5) / 1.2) * _logistic((23.5 - hour) / 0.8)
            day *= 0.55 + 0.45 * math.exp(-(((hour - 20.5) / 2.5) ** 2))
            level = night + (1.0 - night) * day / 1.0
            if weekend:
                level = night + (level - night) * (0.5 + 0.5 * self.weekend) * 1.1
        return level

    def local(self, t):
        lt = t + self.tz
        hour = (lt % DAY) / HOUR
        weekday = int(lt // DAY + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        return hour, weekday >= 5, int((t - self.start) // DAY)

    def at(self, t, hour_override=None):
        hour, weekend, day = self.local(t)
        if hour_override is not None:
            hour = hour_override
        factor = self.day_factor[min(max(day, 0), len(self.day_factor) - 1)]
        return self.shape_at(hour, weekend) * factor * (1.0 + self.growth * (t - self.start))

    def local_hour_start(self, day_start, hour):
        """Epoch seconds of local `hour` on the local day that begins nearest after day_start."""
        return day_start - self.tz + int(hour * HOUR)


class Effects:
    """Per-sample modifications from injected anomalies, stored sparsely as index ranges."""

    def __init__(self, n):
        self.n = n
        self.mult = {}  # index -> multiplicative factor on the metric level
        self.add = {}  # index -> additive offset on the metric level
        self.noise = {}  # index -> factor on the noise scale
        self.hour = {}  # index -> local hour whose load replaces the real one (phase anomalies)
        self.extra = {}  # index -> metric specific (leak bytes, error probability)

    def set_range(self, table, lo, hi, value):
        for k in range(lo, hi + 1):
            table[k] = value


def sampling_plan(rng, category, index):
    """(step seconds, duration days, warm-up days, jitter seconds) for file `index` of a category."""
    if index == 1 and category != "slo_burn":
        return 10, 8, 3, 2  # a freshly deployed rule: 10 s scrapes, days of history
    if index == 2:
        return 300, 35, 7, 20
    return 60, 21, 7, 3


def make_timestamps(rng, start, step, days, jitter):
    """Nominal grid start + k*step with non-negative jitter (scrapes are late, never early), strictly
    increasing."""
    out = []
    n = days * DAY // step
    last = start - 1
    for k in range(n):
        t = start + k * step
        if jitter:
            if rng.random() < 0.02:
                t += rng.randint(0, jitter * 3)
            else:
                t += rng.randint(0, jitter)
        if t <= last:
            t = last + 1
        out.append(t)
        last = t
    return out


def place_events(rng, ts, first_t, count, min_len, max_len, gap=12 * HOUR):
    """Non-overlapping (start, end) epoch intervals after first_t, separated by at least `gap`."""
    end_limit = ts[-1] - 12 * HOUR
    events = []
    tries = 0
    while len(events) < count and tries < 2000:
        tries += 1
        length = rng.uniform(min_len, max_len)
        start = rng.uniform(first_t, end_limit - length)
        end = start + length
        if start < first_t:
            continue
        if any(start < e + gap and end + gap > s for s, e in events):
            continue
        events.append((start, end))
    events.sort()
    return events


def index_range(ts, start, end):
    """Indices of samples with start <= t <= end (bisect by hand to stay dependency-free)."""
    import bisect

    lo = bisect.bisect_left(ts, start)
    hi = bisect.bisect_right(ts, end) - 1
    return lo, hi


def generate_file(seed, category, index, metric):
    """Generate one file: returns (rows, labels) where rows are CSV lines without the header."""
    rng = random.Random(f"homeostat-synth:{seed}:{category}:{index}")
    step, days, warm_days, jitter = sampling_plan(rng, category, index)
    start = START_EPOCH + rng.randint(0, 6) * DAY + rng.randint(0, step - 1)
    ts = make_timestamps(rng, start, step, days, jitter)
    n = len(ts)
    load = LoadModel(rng, start, days)
    warmup_end = start + warm_days * DAY
    fx = Effects(n)
    windows = []

    first_anomaly = warmup_end + 6 * HOUR
    if category == "spike":
        for s, _ in place_events(rng, ts, first_anomaly, rng.randint(3, 5), 0, 0):
            lo, _ = index_range(ts, s, s + step)
            length = rng.randint(2, 6) if step >= 60 else rng.randint(3, 12)
            hi = min(lo + length - 1, n - 1)
            mag = {
                "requests": rng.uniform(1.5, 4.0),
                "cpu": rng.uniform(25.0, 50.0),
                "latency": rng.uniform(3.0, 8.0),
                "error_ratio": rng.uniform(10.0, 40.0),
                "connections": rng.uniform(1.0, 3.0),
            }[metric]
            if metric == "cpu":
                fx.set_range(fx.add, lo, hi, mag)
            elif metric in ("requests", "connections"):
                fx.set_range(fx.mult, lo, hi, 1.0 + mag)
            else:
                fx.set_range(fx.mult, lo, hi, mag)
            windows.append({"start": ts[lo], "end": ts[hi], "category": "spike", "magnitude": round(mag, 3)})
    elif category == "level_shift":
        for s, e in place_events(rng, ts, first_anomaly, rng.randint(2, 3), 2 * HOUR, 36 * HOUR):
            lo, hi = index_range(ts, s, e)
            up = rng.random() < 0.5
            if metric == "cpu":
                fx.set_range(fx.add, lo, hi, rng.uniform(15.0, 30.0) if up else 0.0)
                if not up:
                    fx.set_range(fx.mult, lo, hi, rng.uniform(0.35, 0.55))
            elif metric == "latency":
                fx.set_range(fx.mult, lo, hi, rng.uniform(1.8, 3.0) if up else rng.uniform(0.45, 0.6))
            elif metric == "memory":
                fx.set_range(fx.mult, lo, hi, rng.uniform(1.3, 1.6) if up else rng.uniform(0.55, 0.7))
            else:
                fx.set_range(fx.mult, lo, hi, rng.uniform(1.6, 2.5) if up else rng.uniform(0.3, 0.6))
            windows.append({"start": ts[lo], "end": ts[hi], "category": "level_shift",
                            "direction": "up" if up else "down"})
    elif category == "variance_burst":
        for s, e in place_events(rng, ts, first_anomaly, rng.randint(2, 4), 30 * 60, 4 * HOUR):
            lo, hi = index_range(ts, s, e)
            factor = rng.uniform(4.0, 8.0)
            fx.set_range(fx.noise, lo, hi, factor)
            windows.append({"start": ts[lo], "end": ts[hi], "category": "variance_burst",
                            "noise_factor": round(factor, 3)})
    elif category == "phase":
        # Daytime load at night, or night-level load at noon on a weekday.
        day0 = (first_anomaly - start) // DAY + 1
        chosen = sorted(rng.sample(range(int(day0), days - 1), rng.randint(2, 3)))
        for d in chosen:
            day_start = start - (start % DAY) + d * DAY
            length = rng.uniform(1.0, 3.0) * HOUR
            if rng.random() < 0.5:
                s = load.local_hour_start(day_start, rng.uniform(1.0, 3.0))
                target, kind = 14.0, "day_at_night"
            else:
                s = load.local_hour_start(day_start, rng.uniform(11.0, 13.0))
                _, weekend, _ = load.local(s)
                if weekend:
                    s += 2 * DAY if load.local(s + 2 * DAY)[1] is False else 3 * DAY
                target, kind = 3.5, "night_at_noon"
            if s + length > ts[-1] - 6 * HOUR or s < first_anomaly:
                continue
            if any(s < w["end"] + 12 * HOUR and s + length + 12 * HOUR > w["start"] for w in windows):
                continue
            lo, hi = index_range(ts, s, s + length)
            fx.set_range(fx.hour, lo, hi, target)
            windows.append({"start": ts[lo], "end": ts[hi], "category": "phase", "kind": kind})
    elif category == "leak":
        # Leaks are placed below, by the memory generator (their end is where the limit is reached).
        pass

    leak_plan = []
    if category == "leak":
        for s, _ in place_events(rng, ts, first_anomaly, rng.randint(2, 3), 50 * HOUR, 50 * HOUR, gap=DAY):
            leak_plan.append((s, rng.uniform(6.0, 48.0) * HOUR, rng.choice([1.0, 1.5])))

    slo_plan = []
    if category == "slo_burn":
        for s, e in place_events(rng, ts, first_anomaly, rng.randint(3, 4), 5 * 60, 40 * 60):
            slo_plan.append(("fast", s, e, rng.uniform(0.01, 0.08)))
        for s, e in place_events(rng, ts, first_anomaly, 1, 2 * HOUR, 6 * HOUR, gap=DAY):
            if not any(s < e2 + 12 * HOUR and e + 12 * HOUR > s2 for _, s2, e2, _ in slo_plan):
                slo_plan.append(("slow", s, e, rng.uniform(0.006, 0.012)))
        for kind, s, e, p in slo_plan:
            lo, hi = index_range(ts, s, e)
            fx.set_range(fx.extra, lo, hi, p)
            windows.append({"start": ts[lo], "end": ts[hi], "category": "slo_burn", "kind": kind,
                            "error_ratio": round(p, 5)})

    gen = METRICS[metric]
    values, resets, leak_windows = gen(rng, ts, load, fx, leak_plan, warmup_end)
    windows.extend(leak_windows)
    windows.sort(key=lambda w: w["start"])

    # Scrape gaps, kept 30 min away from anomalies and resets (a gap may not hide what is labelled):
    # long ones define the "gaps" category, short ones happen everywhere.
    present = bytearray([1]) * n
    gaps = []
    if category == "gaps":
        spans = place_events(rng, ts, start + DAY, rng.randint(4, 8), 5 * 60, 3 * HOUR, gap=6 * HOUR)
    else:
        spans = place_events(rng, ts, start + DAY, rng.randint(0, 2), 2 * 60, 20 * 60, gap=DAY)
    keep_clear = [(w["start"], w["end"]) for w in windows] + [(r, r) for r in resets]
    for s, e in spans:
        if any(s < b + 30 * 60 and e + 30 * 60 > a for a, b in keep_clear):
            continue
        lo, hi = index_range(ts, s, e)
        if hi - lo < 1:
            continue
        for k in range(lo, hi + 1):
            present[k] = 0
        gaps.append([ts[lo], ts[hi]])
    rows = [v for k, v in enumerate(values) if present[k]]
    for w in windows:
        w["start_utc"] = iso(w["start"])
        w["end_utc"] = iso(w["end"])

    name = f"{category}-{index:02d}-{metric}"
    labels = {
        "file": name + ".csv",
        "category": category,
        "metric": METRIC_NAMES[metric],
        "type": "counter" if metric in ("requests", "slo") else "gauge",
        "format": "timestamp,series,value" if metric == "slo" else "timestamp,value",
        "replay_series": None if metric == "slo" else ("bench_total" if metric == "requests" else "bench"),
        "step_seconds": step,
        "jitter_seconds": jitter,
        "start": ts[0],
        "end": ts[-1],
        "warmup_end": warmup_end,
        "warmup_end_utc": iso(warmup_end),
        "load_shape": load.shape,
        "timezone_offset_hours": load.tz // HOUR,
        "windows": windows,
        "gaps": gaps,
        "counter_resets": resets,
    }
    return name, rows, labels


def _level_noise(rng, fx, k, base_sigma, nu=5):
    return base_sigma * fx.noise.get(k, 1.0) * student_t(rng, nu)


def _load_at(load, fx, t, k):
    h = fx.hour.get(k)
    return load.at(t, h)


def gen_requests(rng, ts, load, fx, leak_plan, warmup_end):
    """A request counter: increments are rate * dt with overdispersed, heavy-tailed traffic noise and
    Poisson counting noise. One process restart resets the counter to 0 after warm-up."""
    base = rng.uniform(20.0, 500.0)
    rows = []  # one entry per sample, gaps included
    counter = float(rng.randint(10**6, 10**8))
    reset_at = rng.uniform(warmup_end, ts[-1] - DAY)
    resets = []
    prev = ts[0] - (ts[1] - ts[0])
    for k, t in enumerate(ts):
        dt = t - prev
        prev = t
        rate = base * _load_at(load, fx, t, k) * fx.mult.get(k, 1.0)
        rate *= max(0.0, 1.0 + _level_noise(rng, fx, k, 0.025))
        counter += poisson(rng, rate * dt)
        if reset_at is not None and t >= reset_at and k not in fx.mult and k not in fx.noise:
            counter = float(poisson(rng, rate * dt / 2))
            resets.append(t)
            reset_at = None
        rows.append(f"{t},{int(counter)}")
    return rows, resets, []


def gen_cpu(rng, ts, load, fx, leak_plan, warmup_end):
    """CPU percent: idle floor plus a load-proportional part, heavy-tailed noise, and on some hosts a
    nightly batch job (20-40 min at 02:00 local) that is part of normal life."""
    idle = rng.uniform(2.0, 8.0)
    peak = rng.uniform(35.0, 75.0)
    batch = rng.random() < 0.5
    batch_len = rng.uniform(20, 40) * 60
    batch_add = rng.uniform(10.0, 25.0)
    rows = []  # one entry per sample, gaps included
    for k, t in enumerate(ts):
        v = idle + (peak - idle) * _load_at(load, fx, t, k)
        if batch:
            hour, _, _ = load.local(t)
            if 2.0 <= hour < 2.0 + batch_len / HOUR:
                v += batch_add
        v = v * fx.mult.get(k, 1.0) + fx.add.get(k, 0.0)
        v += _level_noise(rng, fx, k, 1.2)
        v = min(100.0, max(0.0, v))
        rows.append(f"{t},{v:.2f}")
    return rows, [], []


def gen_latency(rng, ts, load, fx, leak_plan, warmup_end):
    """p99 latency in seconds: log-normal around a base that rises with load, heavy-tailed in log space,
    with rare GC pauses (x1.5-2.2 for one sample, 1.5 a day whatever the sampling) that are normal."""
    base = rng.uniform(0.05, 0.6)
    sens = rng.uniform(0.2, 0.5)
    pause_p = 1.5 * (ts[1] - ts[0]) / DAY
    rows = []  # one entry per sample, gaps included
    for k, t in enumerate(ts):
        lv = math.log(base) + sens * _load_at(load, fx, t, k)
        lv += _level_noise(rng, fx, k, 0.08, nu=5)
        v = math.exp(lv) * fx.mult.get(k, 1.0)
        if rng.random() < pause_p:
            v *= rng.uniform(1.5, 2.2)
        rows.append(f"{t},{v:.6g}")
    return rows, [], []


def gen_error_ratio(rng, ts, load, fx, leak_plan, warmup_end):
    """Errors / requests per scrape interval: Poisson error counts over the requests seen, so quiet
    nights give noisy ratios and many zeros."""
    base_rate = rng.uniform(5.0, 200.0)
    p0 = rng.uniform(0.001, 0.01)
    rows = []  # one entry per sample, gaps included
    prev = ts[0] - (ts[1] - ts[0])
    for k, t in enumerate(ts):
        dt = t - prev
        prev = t
        reqs = max(1, poisson(rng, base_rate * _load_at(load, fx, t, k) * dt))
        p = min(0.9, p0 * fx.mult.get(k, 1.0) * math.exp(0.3 * student_t(rng, 5) * fx.noise.get(k, 1.0)))
        errs = poisson(rng, reqs * p)
        rows.append(f"{t},{min(1.0, errs / reqs):.6g}")
    return rows, [], []


def gen_memory(rng, ts, load, fx, leak_plan, warmup_end):
    """Resident memory in bytes: a base, a GC sawtooth, a little load dependence. A leak grows on top
    (linearly or accelerating) until it reaches the limit; then the process is OOM-killed and memory
    falls back to the base. Each leak is one window [leak start, limit reached]."""
    base = rng.uniform(0.8, 2.0) * 1024**3
    saw_period = rng.uniform(8, 25) * 60
    saw_amp = rng.uniform(0.03, 0.06)
    phase = rng.uniform(0, saw_period)
    rows = []  # one entry per sample, gaps included
    windows = []
    plan = list(leak_plan)
    active = None
    for k, t in enumerate(ts):
        v = base * (1.0 + 0.08 * _load_at(load, fx, t, k))
        v *= 1.0 + saw_amp * (((t + phase) % saw_period) / saw_period)
        v *= fx.mult.get(k, 1.0)
        v *= 1.0 + _level_noise(rng, fx, k, 0.004)
        if active is None and plan and t >= plan[0][0]:
            s, duration, gamma = plan.pop(0)
            active = [t, duration, gamma, k]
        if active is not None:
            s, duration, gamma, k0 = active
            headroom = LEAK_LIMIT_BYTES * 1.02 - base * 1.1
            v += headroom * ((t - s) / duration) ** gamma
            if v >= LEAK_LIMIT_BYTES:
                windows.append({"start": s, "end": t, "category": "leak", "growth": "linear" if gamma == 1.0
                                else "accelerating", "hours_to_limit": round((t - s) / HOUR, 2)})
                active = None
                v = base * (1.0 + 0.08 * _load_at(load, fx, t, k))
        rows.append(f"{t},{int(v)}")
    return rows, [], windows


def gen_connections(rng, ts, load, fx, leak_plan, warmup_end):
    """Open connections: an overdispersed count proportional to load."""
    scale = rng.uniform(40.0, 400.0)
    rows = []  # one entry per sample, gaps included
    for k, t in enumerate(ts):
        lam = scale * _load_at(load, fx, t, k) * fx.mult.get(k, 1.0)
        lam *= max(0.0, 1.0 + _level_noise(rng, fx, k, 0.03))
        rows.append(f"{t},{poisson(rng, lam)}")
    return rows, [], []


def gen_slo(rng, ts, load, fx, leak_plan, warmup_end):
    """Two counters for burn-rate rules: requests and the errors among them. The normal error ratio
    stays well inside a 99.9 % objective; labelled burns raise it to 0.6-8 %."""
    base = rng.uniform(20.0, 300.0)
    p0 = rng.uniform(0.0001, 0.0004)
    total = float(rng.randint(10**6, 10**7))
    errors = float(int(total * p0))
    rows = []  # one entry per sample, gaps included
    prev = ts[0] - (ts[1] - ts[0])
    for k, t in enumerate(ts):
        dt = t - prev
        prev = t
        rate = base * load.at(t) * max(0.0, 1.0 + 0.025 * student_t(rng, 5))
        reqs = poisson(rng, rate * dt)
        p = fx.extra.get(k, p0)
        errs = poisson(rng, reqs * p)
        total += reqs
        errors += errs
        rows.append(f"{t},{SLO_TOTAL_SERIES},{int(total)}\n{t},{SLO_ERRORS_SERIES},{int(errors)}")
    return rows, [], []


METRICS = {
    "requests": gen_requests,
    "cpu": gen_cpu,
    "latency": gen_latency,
    "error_ratio": gen_error_ratio,
    "memory": gen_memory,
    "connections": gen_connections,
    "slo": gen_slo,
}


def plan_set(seed):
    """The (category, index, metric) list of a set; metrics cycle through the category's list in a
    seed-dependent order so every metric type appears."""
    rng = random.Random(f"homeostat-synth-plan:{seed}")
    plan = []
    for category, count, metrics in LAYOUT:
        order = list(metrics)
        rng.shuffle(order)
        for i in range(count):
            plan.append((category, i, order[i % len(order)]))
    return plan


def write_file(outdir, seed, category, index, metric):
    name, rows, labels = generate_file(seed, category, index, metric)
    header = labels["format"]
    tmp = os.path.join(outdir, name + ".csv.tmp")
    with open(tmp, "w") as f:
        f.write(header + "\n")
        f.write("\n".join(rows))
        f.write("\n")
    os.replace(tmp, os.path.join(outdir, name + ".csv"))
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(labels, f, indent=1)
        f.write("\n")
    return name, len(rows), len(labels["windows"])


def generate_set(outdir, seed, set_name, jobs=1, log=None):
    """Write every file of the set into outdir (created), then manifest.json last (its presence means
    the set is complete)."""
    os.makedirs(outdir, exist_ok=True)
    plan = plan_set(seed)
    if jobs > 1:
        import multiprocessing

        with multiprocessing.Pool(jobs) as pool:
            results = pool.starmap(write_file, [(outdir, seed, c, i, m) for c, i, m in plan])
    else:
        results = [write_file(outdir, seed, c, i, m) for c, i, m in plan]
    manifest = {
        "generator": "bench/quality/synth.py",
        "generator_version": GENERATOR_VERSION,
        "set": set_name,
        "seed": seed,
        "leak_limit_bytes": LEAK_LIMIT_BYTES,
        "slo_objective_percent": SLO_OBJECTIVE_PERCENT,
        "files": [{"name": n, "rows": r, "windows": w} for n, r, w in results],
    }
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    if log:
        rows = sum(r for _, r, _ in results)
        wins = sum(w for _, _, w in results)
        log(f"synthetic set '{set_name}' (seed {seed}): {len(results)} files, {rows} rows, {wins} windows "
            f"in {outdir}")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate the labelled synthetic benchmark set.")
    ap.add_argument("--set", choices=sorted(SEEDS), default="dev",
                    help="dev (tune on it) or heldout (report on it, never tune on it)")
    ap.add_argument("--seed", type=int, help="override the set's seed (a custom set)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else SEEDS[args.set]
    name = args.set if args.seed is None else f"custom-{seed}"
    generate_set(args.out, seed, name, args.jobs, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
