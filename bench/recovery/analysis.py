# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure analysis for the recovery benchmark: no processes, no clock, no I/O.

run.py records raw observations during a trial — the harness's own probe results, memory and PID samples
of the unit, the user manager's log lines, Monit's log lines, homeostat's incident JSON — and this module
turns them into the figures the benchmark reports: when the fault was first visible, when the faulty
process was gone, when the service was healthy again, and each contender's first reaction. Keeping this
apart from the harness makes every definition in docs/benchmarks.md testable (test_analysis.py) on
hand-made inputs.

All times are seconds since the epoch (floats); results are relative to the injection time.
"""

import math
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple


@dataclass
class Probe:
    """One harness probe: GET /healthz sent at t; latency None when it failed (timeout, refused, reset)."""

    t: float
    latency: Optional[float]
    status: int  # HTTP status, 0 when there was no response
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.latency is not None and self.status == 200


@dataclass
class MemSample:
    """The unit's processes (cgroup.procs) and their summed resident memory at time t; cgroup_bytes is the
    unit's memory as the service manager accounts it (MemoryCurrent: the memory controller's usage), None
    where the harness cannot read it."""

    t: float
    pids: Tuple[int, ...]
    rss_bytes: int
    cgroup_bytes: Optional[int] = None


@dataclass
class Health:
    """What "healthy" means for the harness, fixed for the whole run from the warm-up baseline."""

    latency_limit: float  # seconds; a probe slower than this is slow
    latency_quantile: float  # the quantile of a window's latencies that must stay under latency_limit
    mem_limit_bytes: int  # resident memory of the unit's processes must stay under this
    window: float  # seconds of consecutive healthy probing that make a recovery
    min_probes: int  # a window needs at least this many probes (else the prober was starved)


def quantile(xs: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for an empty input."""
    if not xs:
        return math.nan
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def probe_is_bad(p: Probe, h: Health) -> bool:
    return not p.ok or p.latency > h.latency_limit


def first_fault_seen(probes: Sequence[Probe], mem: Sequence[MemSample], t0: float, h: Health) -> Optional[float]:
    """The first time after t0 at which the harness saw the fault: a failed or slow probe, or memory over the
    limit. None if it never did (a fault cured before it showed)."""
    ts = [p.t for p in probes if p.t >= t0 and probe_is_bad(p, h)]
    ts += [m.t for m in mem if m.t >= t0 and m.rss_bytes > h.mem_limit_bytes]
    return min(ts) if ts else None


def cured_at(mem: Sequence[MemSample], t0: float, faulty_pid: int) -> Optional[float]:
    """The first sample after t0 in which the process that received the fault is no longer in the unit.
    The faults live in the process's memory, so this is when the fault is gone (whoever removed it)."""
    for m in mem:
        if m.t >= t0 and faulty_pid not in m.pids:
            return m.t
    return None


def window_is_healthy(
    probes: Sequence[Probe], mem: Sequence[MemSample], start: float, h: Health
) -> bool:
    """Probes sent in [start, start + window): every one answered 200, the latency quantile under the limit,
    enough of them; memory samples in the same span under the limit."""
    end = start + h.window
    ps = [p for p in probes if start <= p.t < end]
    if len(ps) < h.min_probes or not all(p.ok for p in ps):
        return False
    if quantile([p.latency for p in ps], h.latency_quantile) > h.latency_limit:
        return False
    return all(m.rss_bytes <= h.mem_limit_bytes for m in mem if start <= m.t < end)


def recovered_at(
    probes: Sequence[Probe],
    mem: Sequence[MemSample],
    cured: Optional[float],
    deadline: float,
    observed_until: float,
    h: Health,
) -> Optional[float]:
    """The send time of the first probe, at or after the cure and no later than the deadline, that starts a
    healthy window which was fully observed (observed_until >= its end). None: not recovered (yet)."""
    if cured is None:
        return None
    for p in sorted(probes, key=lambda x: x.t):
        if p.t < cured:
            continue
        if p.t > deadline or p.t + h.window > observed_until:
            return None
        if window_is_healthy(probes, mem, p.t, h):
            return p.t
    return None


# ---- the user manager's log (systemd --user writing to its console) ----

SYSTEMD_PATTERNS = (
    ("watchdog", re.compile(r"Watchdog timeout")),
    ("exited", re.compile(r"Main process exited, code=")),
    ("restart", re.compile(r"Scheduled restart job")),
)


def systemd_events(lines: Sequence[Tuple[float, str]], unit: str) -> List[Tuple[float, str, str]]:
    """(t, kind, text) for the manager's lines about UNIT that are systemd's own reactions: a watchdog
    timeout, a main process that exited on its own (a stop job that we or a supervisor asked for is not
    logged this way), and the automatic restart it schedules."""
    out = []
    prefix = unit + ": "
    for t, text in lines:
        if not text.startswith(prefix):
            continue
        for kind, rx in SYSTEMD_PATTERNS:
            if rx.search(text):
                out.append((t, kind, text[len(prefix):]))
                break
    return out


# ---- Monit's log ----

MONIT_LINE = re.compile(r"^\[[^\]]*\]\s+(?P<level>\w+)\s*:\s*'(?P<service>[^']+)'\s+(?P<msg>.*)$")
MONIT_ACTION = re.compile(r"^trying to (re)?start")


def monit_events(lines: Sequence[Tuple[float, str]], service: str) -> List[Tuple[float, str, str]]:
    """(t, kind, message) for Monit's lines about SERVICE: kind "detect" for a failed test (warning or error
    level, Monit's first reaction; with "for N times within M cycles" the first failures are warnings),
    "action" for a start or restart it carries out."""
    out = []
    for t, text in lines:
        m = MONIT_LINE.match(text)
        if not m or m.group("service") != service:
            continue
        level, msg = m.group("level").lower(), m.group("msg")
        if MONIT_ACTION.match(msg):
            out.append((t, "action", msg))
        elif level in ("warning", "error"):
            out.append((t, "detect", msg))
    return out


# ---- homeostat's incidents ----

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$")


def parse_rfc3339_utc(s: str) -> float:
    """homeostat writes UTC with milliseconds ("2024-06-01T12:00:00.123Z")."""
    m = _RFC3339.match(s or "")
    if not m:
        raise ValueError("not an RFC 3339 UTC timestamp: %r" % (s,))
    y, mo, d, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
    frac = float(m.group(7)) if m.group(7) else 0.0
    # days from civil (proleptic Gregorian), no time zone database involved
    y2 = y - (mo <= 2)
    era = y2 // 400
    yoe = y2 - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + hh * 3600 + mm * 60 + ss + frac


@dataclass
class HomeostatReaction:
    incident: str
    rule: str
    detected: float  # the detected event: the first anomalous sample of the run that fired
    firing: Optional[float] = None  # the decision
    action_started: Optional[float] = None
    action_done: Optional[float] = None  # action_succeeded or action_failed
    action_result: Optional[str] = None
    resolved: Optional[float] = None
    mttr_seconds: Optional[float] = None  # homeostat's own MTTR (resolved_at - detected_at)
    kinds: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)  # action_skipped messages
    first_anomalous: Optional[float] = None  # filled in by the caller from the verdicts (first_anomalous_sample)


def homeostat_reactions(incidents_json: dict, t0: float, slack: float = 1.0) -> List[HomeostatReaction]:
    """Incidents that belong to a fault injected at t0: detected at or after t0 - slack, or fired then (an
    anomalous run may have begun with a noisy sample just before the injection and been carried on by the
    fault; the decision was still made on data that shows it). Oldest detection first. The slack only
    absorbs the millisecond rounding of homeostat's timestamps."""
    out = []
    for inc in incidents_json.get("incidents", []):
        try:
            det = parse_rfc3339_utc(inc["detected_at"])
        except (KeyError, ValueError):
            continue
        r = HomeostatReaction(incident=inc.get("id", ""), rule=inc.get("rule", ""), detected=det)
        r.mttr_seconds = inc.get("mttr_seconds")
        for ev in inc.get("events", []):
            kind = ev.get("kind", "")
            r.kinds.append(kind)
            try:
                at = parse_rfc3339_utc(ev.get("at", ""))
            except ValueError:
                continue
            if kind == "firing" and r.firing is None:
                r.firing = at
            elif kind == "action_started" and r.action_started is None:
                r.action_started = at
            elif kind in ("action_succeeded", "action_failed") and r.action_done is None:
                r.action_done = at
                r.action_result = kind
            elif kind == "action_skipped":
                r.skipped.append(ev.get("message", ""))
            elif kind == "resolved":
                r.resolved = at
        if det >= t0 - slack or (r.firing is not None and r.firing >= t0 - slack):
            out.append(r)
    out.sort(key=lambda r: r.detected)
    return out


def homeostat_alarms_before(incidents_json: dict, t0: float, slack: float = 1.0) -> List[str]:
    """Incidents that fired (or were detected, when they never fired) before t0 - slack: false alarms while
    the services were calm."""
    out = []
    for inc in incidents_json.get("incidents", []):
        fired = [e.get("at") for e in inc.get("events", []) if e.get("kind") == "firing"]
        try:
            when = parse_rfc3339_utc(fired[0] if fired else inc["detected_at"])
        except (KeyError, ValueError):
            continue
        if when < t0 - slack:
            out.append("%s %s" % (inc.get("rule", ""), inc.get("state", "")))
    return out


def first_anomalous_sample(verdicts_json: dict, rule: str, t0: float, until: float) -> Optional[float]:
    """The timestamp of RULE's first anomalous verdict in [t0, until]: when homeostat's data first showed
    the fault (None if the verdict ring no longer holds it)."""
    ts = [
        float(row["t"])
        for row in verdicts_json.get("verdicts", [])
        if row.get("rule") == rule and row.get("anomalous") and isinstance(row.get("t"), (int, float))
        and t0 <= row["t"] <= until
    ]
    return min(ts) if ts else None


def firing_sample_time(verdicts_json: dict, rule: str, firing_at: float, slack: float = 0.5) -> Optional[float]:
    """The timestamp of the sample that made RULE fire: the newest verdict row with transition "firing" not
    after the firing event (plus slack for the millisecond rounding of event times)."""
    best = None
    for row in verdicts_json.get("verdicts", []):
        if row.get("rule") != rule or row.get("transition") != "firing":
            continue
        t = row.get("t")
        if isinstance(t, (int, float)) and t <= firing_at + slack and (best is None or t > best):
            best = float(t)
    return best


# ---- summaries ----


def summarize(values: Sequence[Optional[float]]) -> dict:
    """n, median and p90 over the values that exist (None = the event did not happen)."""
    xs = [v for v in values if v is not None]
    return {
        "n": len(xs),
        "median": quantile(xs, 0.5) if xs else None,
        "p90": quantile(xs, 0.9) if xs else None,
    }


def fmt_seconds(v: Optional[float]) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return "%.2f" % v


def fault_table(title: str, rows: Sequence[dict]) -> str:
    """One table per fault; rows are dicts with contender, trials, detected, detect and action and mttr
    (summaries), recovered, by (attribution text)."""
    head = ("contender", "detected", "detect med", "p90", "act med", "recovered", "MTTR med", "p90",
            "first reaction by")
    body = []
    for r in rows:
        body.append(
            (
                r["contender"],
                "%d/%d" % (r["detected"], r["trials"]),
                fmt_seconds(r["detect"]["median"]),
                fmt_seconds(r["detect"]["p90"]),
                fmt_seconds(r["action"]["median"]),
                "%d/%d" % (r["recovered"], r["trials"]),
                fmt_seconds(r["mttr"]["median"]),
                fmt_seconds(r["mttr"]["p90"]),
                r.get("by", ""),
            )
        )
    widths = [max([len(head[i])] + [len(b[i]) for b in body]) for i in range(len(head))]
    lines = [title]
    lines.append("  " + "  ".join(h.ljust(widths[i]) for i, h in enumerate(head)).rstrip())
    for b in body:
        lines.append("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(b)).rstrip())
    return "\n".join(lines)
