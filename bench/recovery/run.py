#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Recovery benchmark (docs/benchmarks.md, "Recovery"): faults injected into the demo service running as a unit
of a real `systemd --user`, side by side for three contenders in the same run:

  systemd    the unit alone: Restart=on-failure + WatchdogSec= (sees crashes and hangs only)
  monit      the same unit plus Monit (1 s cycle, HTTP response-time and memory checks, restart via systemctl)
  homeostat  the same unit plus homeostatd (1 s scrape and probe, learned baselines, restart via D-Bus)

Each contender has its own instance of the demo service; every trial injects the same fault into all of them
at once (latency x10, error burst, memory leak, hang, crash) and measures, per contender: whether and when it
reacted (time to detect), and when the harness's own probing (GET /healthz, 10 per second) saw the service
healthy again after the faulty process was gone (time to recover). For homeostat it also reads the
sample-to-decision and decision-to-action latencies from its incident timeline.

Needs root (a mount namespace for the user manager), Debian's monit, and a build of homeostat
(`meson setup build && ninja -C build`). Run it with scripts/bench-recovery. Exit status: 0 when every trial
ran, 1 when some could not run (listed), 2 for a usage or setup error.
"""

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import analysis as A  # noqa: E402
from harness import DemoUnit, HarnessError, Homeostat, Monit, UserManager, fill_template, free_port  # noqa: E402

SRC = os.path.dirname(os.path.dirname(HERE))

FAULTS = {
    "latency": ("latency x10", "kind=latency&factor=10"),
    "errors": ("error burst (50 % of requests)", "kind=errors&rate=0.5"),
    "leak": ("memory leak (20 MB/s)", "kind=leak&mb_per_s=20"),
    "hang": ("hang (no progress, connections accepted)", "kind=hang"),
    "crash": ("crash (abort)", "kind=crash"),
}
CONTENDERS = ("systemd", "monit", "homeostat")
LABELS = {"systemd": "systemd alone", "monit": "systemd + Monit", "homeostat": "systemd + homeostat"}
HOMEOSTAT_RULES = ("demo-latency", "demo-errors", "demo-memory", "demo-probe")


def log(msg: str) -> None:
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", "-n", type=int, default=3, help="trials per fault (default 3)")
    p.add_argument("--faults", default=",".join(FAULTS), help="comma-separated subset of %s" % ",".join(FAULTS))
    p.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated subset of %s" % ",".join(CONTENDERS))
    p.add_argument("--deadline", type=float, default=20.0, help="seconds after injection after which a trial counts as not recovered (default 20)")
    p.add_argument("--probe-rate", type=float, default=10.0, help="harness probes per second per service (default 10)")
    p.add_argument("--probe-timeout", type=float, default=1.0, help="a probe without an answer after this many seconds failed (default 1)")
    p.add_argument("--window", type=float, default=2.0, help="seconds of healthy probing that make a recovery (default 2)")
    p.add_argument("--latency-quantile", type=float, default=0.9, help="quantile of a window's probe latencies that must stay under the limit (default 0.9)")
    p.add_argument("--latency-limit", type=float, default=None, help="seconds; default max(0.1, 3 x the warm-up p99 of the probes)")
    p.add_argument("--mem-margin-mb", type=float, default=32.0, help="memory limit = warm-up resident memory + this (default 32 MiB)")
    p.add_argument("--warmup", type=float, default=40.0, help="seconds of healthy operation before the first trial: baselines, homeostat's detector warm-up (default 40)")
    p.add_argument("--min-uptime", type=float, default=6.0, help="a fault is injected only into a process that has run this long (default 6 s)")
    p.add_argument("--calm", type=float, default=3.0, help="seconds of healthy probing required before an injection (default 3)")
    p.add_argument("--calm-timeout", type=float, default=45.0, help="give up on a trial when the services are not calm after this long (default 45)")
    p.add_argument("--watchdog", default="5s", help="WatchdogSec= of the units (default 5s)")
    p.add_argument("--homeostat-state", choices=("warm", "carry"), default="warm",
                   help="learned state homeostat starts each trial from: warm = the snapshot after the warm-up "
                        "(healthy data only; default), carry = the previous trial's (it has seen every earlier fault)")
    p.add_argument("--monit-cycle", type=int, default=1, help="Monit's poll cycle in seconds (default 1; Debian's default is 30)")
    p.add_argument("--build-dir", default=os.path.join(SRC, "build"), help="homeostat build directory (default build/)")
    p.add_argument("--workdir", default=None, help="logs, configurations and raw observations (default BUILD/bench-recovery)")
    p.add_argument("--json", default=None, help="write every figure and per-trial record as JSON to this file")
    p.add_argument("--seed", type=int, default=None, help="seed of the injection order within a trial (default: time)")
    a = p.parse_args(argv)
    a.faults = [f for f in a.faults.split(",") if f]
    a.contenders = [c for c in a.contenders.split(",") if c]
    bad = [f for f in a.faults if f not in FAULTS] + [c for c in a.contenders if c not in CONTENDERS]
    if bad:
        p.error("unknown fault or contender: %s" % ", ".join(bad))
    if a.trials < 1 or a.deadline <= 0 or a.probe_rate <= 0 or a.window <= 0 or not (0 < a.latency_quantile <= 1):
        p.error("--trials, --deadline, --probe-rate, --window must be positive and --latency-quantile in (0, 1]")
    if a.monit_cycle < 1:
        p.error("--monit-cycle must be at least 1")
    return a


def git_commit() -> str:
    r = subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", SRC, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    return (r.stdout.strip() or "unknown") + ("-dirty" if dirty.stdout.strip() else "")


def tool_version(argv: List[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine_info() -> dict:
    hybrid = os.path.isdir("/sys/fs/cgroup/unified")
    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "cgroup": "v1 hybrid (unified hierarchy at /sys/fs/cgroup/unified)" if hybrid else
        ("v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"),
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
    }


def memory_cgroup_of(pid: int) -> Optional[str]:
    """The v1 memory controller's cgroup of PID (or the unified one), for the raw record."""
    try:
        with open("/proc/%d/cgroup" % pid, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, ctrl, path = line.split(":", 2)
        if "memory" in ctrl.split(","):
            return path
    return next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)


class Bench:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed if args.seed is not None else time.time_ns())
        self.workdir = args.workdir or os.path.join(args.build_dir, "bench-recovery")
        self.um: Optional[UserManager] = None
        self.units: Dict[str, DemoUnit] = {}
        self.monit: Optional[Monit] = None
        self.hs: Optional[Homeostat] = None
        self.hs_started_at = 0.0
        self.health: Optional[A.Health] = None
        self.status: Dict[str, str] = {}
        self.trials: List[dict] = []
        self.baseline: dict = {}
        self.runid = "%06x" % self.rng.getrandbits(24)
        self.failures: List[str] = []

    # ---- setup ----

    def preflight(self) -> None:
        if os.geteuid() != 0:
            raise HarnessError("the benchmark needs root (a mount namespace for systemd --user)")
        self.demo_bin = os.path.join(self.a.build_dir, "demo", "homeostat-demo-service")
        if not os.access(self.demo_bin, os.X_OK):
            raise HarnessError("%s is not built (meson setup build && ninja -C build)" % self.demo_bin)
        for c in CONTENDERS:
            self.status[c] = "ran" if c in self.a.contenders else "not selected"
        if "monit" in self.a.contenders and not shutil.which("monit"):
            raise HarnessError("monit is not installed (apt-get install monit)")
        self.homeostatd = os.path.join(self.a.build_dir, "supervisor", "homeostatd")
        self.homeostatctl = os.path.join(self.a.build_dir, "ctl", "homeostatctl")
        if "homeostat" in self.a.contenders:
            missing = [p for p in (self.homeostatd, self.homeostatctl) if not os.access(p, os.X_OK)]
            if missing:
                # The contender is reported as pending, never estimated.
                self.status["homeostat"] = "pending: %s not built" % ", ".join(missing)
                self.a.contenders.remove("homeostat")
                log("homeostat is PENDING: %s not built" % ", ".join(missing))
        if not self.a.contenders:
            raise HarnessError("no contender can run")

    def setup(self) -> None:
        if os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir)
        os.makedirs(self.workdir)
        log("workdir %s" % self.workdir)
        self.um = UserManager(self.workdir)
        self.um.start()
        for c in self.a.contenders:
            u = DemoUnit(self.um, LABELS[c], "rb%s-%s.service" % (self.runid, c), free_port(), self.demo_bin,
                         os.path.join(HERE, "demo.service.in"), self.workdir, self.a.watchdog,
                         "rb%s.slice" % self.runid)
            u.install_and_start()
            u.start_watching(self.a.probe_rate, self.a.probe_timeout)
            self.units[c] = u
            log("%s: %s on 127.0.0.1:%d" % (LABELS[c], u.unit, u.port))
        if "homeostat" in self.units:
            u = self.units["homeostat"]
            text = fill_template(os.path.join(HERE, "homeostat.yaml.in"), {"PORT": u.port, "UNIT": u.unit})
            self.hs = Homeostat(self.workdir, self.homeostatd, self.homeostatctl, text, self.um.env)
            log("homeostatctl check: %s" % self.hs.check().replace("\n", " | "))
            self.hs.start()
            self.hs_started_at = time.time()
        if "monit" in self.units:
            u = self.units["monit"]
            self.monit = Monit(self.workdir, os.path.join(HERE, "monitrc.in"), {
                "CYCLE": self.a.monit_cycle, "SERVICE": "demo", "PORT": u.port, "UNIT": u.unit,
                "XDG": self.um.runtime, "TIMEOUT": max(1, int(round(self.a.probe_timeout))),
            })

    def warmup(self) -> None:
        t_start = time.time()
        log("warm-up: %.0f s of healthy operation" % self.a.warmup)
        time.sleep(self.a.warmup)
        if self.hs:
            ok = self._wait(lambda: self._homeostat_calm(t_start)[0], 60)
            if not ok:
                raise HarnessError("homeostat's rules are not warm after the warm-up: %s" % self._homeostat_calm(t_start)[1])
            if self.a.homeostat_state == "warm":
                self.hs.take_snapshot()
                self.hs_started_at = time.time()
                log("homeostat: learned state after the warm-up kept; every trial starts from it")
        t_end = time.time()
        lat, fails, n, rss = [], 0, 0, {}
        for c, u in self.units.items():
            ps = [p for p in u.probes if t_start + 2 <= p.t <= t_end - self.a.probe_timeout]
            n += len(ps)
            fails += sum(1 for p in ps if not p.ok)
            lat += [p.latency for p in ps if p.ok]
            rss[c] = max((m.rss_bytes for m in u.mem if t_start + 2 <= m.t <= t_end), default=0)
        if n == 0 or not lat:
            raise HarnessError("no successful probe during the warm-up")
        p99 = A.quantile(lat, 0.99)
        limit = self.a.latency_limit if self.a.latency_limit else max(0.1, 3 * p99)
        mem_limit = int(max(rss.values()) + self.a.mem_margin_mb * 1024 * 1024)
        self.health = A.Health(limit, self.a.latency_quantile, mem_limit, self.a.window,
                               max(3, int(self.a.window * self.a.probe_rate * 0.5)))
        self.baseline = {
            "probes": n, "failed": fails, "latency_p50": A.quantile(lat, 0.5), "latency_p99": p99,
            "latency_max": max(lat), "rss_bytes": rss, "latency_limit": limit, "mem_limit_bytes": mem_limit,
        }
        log("baseline: %d probes, %d failed, latency p50 %.1f ms p99 %.1f ms max %.1f ms; limits: latency %.0f ms "
            "(q%.2f of a %.0f s window), memory %.1f MiB" % (
                n, fails, 1e3 * self.baseline["latency_p50"], 1e3 * p99, 1e3 * max(lat), 1e3 * limit,
                self.a.latency_quantile, self.a.window, mem_limit / 1048576))
        if fails:
            self.failures.append("%d probes failed during the warm-up (healthy services)" % fails)

    # ---- calm ----

    def _wait(self, pred, timeout: float, step: float = 0.25) -> bool:
        end = time.monotonic() + timeout
        while True:
            if pred():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(step)

    def _homeostat_calm(self, since: float):
        if not self.hs.alive():
            return False, "homeostatd is not running"
        try:
            states = self.hs.rule_states(HOMEOSTAT_RULES)
            inc = self.hs.get("/api/v1/incidents")
        except Exception as e:  # noqa: BLE001 — any API failure means "not calm yet", with the reason
            return False, "API: %s" % e
        for r, row in states.items():
            if row is None or row.get("t", 0) < since:
                return False, "no fresh verdict for %s" % r
            if row.get("warming_up"):
                return False, "%s is warming up" % r
            if row.get("firing"):
                return False, "%s is firing" % r
            if row.get("anomalous"):
                return False, "%s has an anomalous sample" % r
        open_ = [i["id"][:8] for i in inc.get("incidents", []) if i.get("state") != "resolved"]
        if open_:
            return False, "open incidents %s" % ", ".join(open_)
        return True, ""

    def calm_state(self, since: float):
        """(calm?, reasons) — every unit has run long enough and probes healthy; the supervisors are ready."""
        h = self.health
        now = time.time()
        reasons = []
        for c, u in self.units.items():
            up = u.uptime()
            if up < self.a.min_uptime:
                reasons.append("%s up %.1f s" % (c, up))
                continue
            start = now - self.a.probe_timeout - self.a.calm
            calm_h = A.Health(h.latency_limit, h.latency_quantile, h.mem_limit_bytes, self.a.calm,
                              max(3, int(self.a.calm * self.a.probe_rate * 0.5)))
            if not A.window_is_healthy(u.probes, u.mem, start, calm_h):
                reasons.append("%s not healthy" % c)
        if self.monit and not self.monit.alive():
            reasons.append("monit is not running")
        if self.hs:
            ok, why = self._homeostat_calm(since)
            if not ok:
                reasons.append("homeostat: " + why)
        return not reasons, reasons

    # ---- one trial ----

    def reset_unit(self, c: str) -> None:
        u = self.units[c]
        u.post_fault("kind=clear", 1.0)
        self.um.systemctl("restart", u.unit, timeout=30)

    def run_trial(self, fault: str, k: int, needs_reset: set) -> set:
        a, h = self.a, self.health
        label, query = FAULTS[fault]
        for c in sorted(needs_reset):
            log("  reset %s (harness restart)" % c)
            self.reset_unit(c)
        # Fresh supervisors: no trial inherits another's restart counters or guard budget.
        if self.monit:
            self.monit.restart(LATENCY_MS=int(round(h.latency_limit * 1000)),
                               MEM_MB=int(h.mem_limit_bytes // 1048576))
        if self.hs:
            self.hs.restart()
            self.hs_started_at = time.time()
        calm_since = time.time()
        ok = self._wait(lambda: self.calm_state(self.hs_started_at)[0], a.calm_timeout, 0.5)
        rec = {"fault": fault, "trial": k, "contenders": {}}
        if self.hs:
            rec["homeostat_state_restored"] = self.hs.restored_state
        if not ok:
            why = self.calm_state(self.hs_started_at)[1]
            log("  trial skipped: not calm after %.0f s: %s" % (a.calm_timeout, "; ".join(why)))
            rec["skipped"] = "not calm after %.0f s: %s" % (a.calm_timeout, "; ".join(why))
            self.failures.append("%s #%d: %s" % (fault, k + 1, rec["skipped"]))
            self.trials.append(rec)
            return set(self.units)

        order = list(self.units)
        self.rng.shuffle(order)
        inj = {}
        for c in order:
            u = self.units[c]
            pids = u.pids()
            t0 = time.time()
            answer = u.post_fault(query)
            inj[c] = {"t0": t0, "pid": pids[0] if len(pids) == 1 else None, "pids": pids, "answer": answer,
                      "memory_cgroup": memory_cgroup_of(pids[0]) if pids else None}
        rec["order"] = order
        for c, v in inj.items():
            v["memory_cgroup_is_units"] = v["memory_cgroup"] == self.units[c].cgroup
        t_last = max(v["t0"] for v in inj.values())
        deadline = t_last + a.deadline
        hard_end = deadline + a.window + a.probe_timeout + 1.0
        done: Dict[str, Optional[float]] = {}
        while time.time() < hard_end and len(done) < len(self.units):
            observed = time.time() - a.probe_timeout - 0.1
            for c, u in self.units.items():
                if c in done or inj[c]["pid"] is None:
                    continue
                t0 = inj[c]["t0"]
                mem = [m for m in u.mem[-int(20 * (a.deadline + 30)):] if m.t >= t0]
                probes = [p for p in u.probes[-int(2 * a.probe_rate * (a.deadline + 30)):] if p.t >= t0]
                cur = A.cured_at(mem, t0, inj[c]["pid"])
                r = A.recovered_at(probes, mem, cur, t0 + a.deadline, observed, h)
                if r is not None:
                    done[c] = r
            time.sleep(0.2)
        t_end = time.time()

        # Collect every contender's view.
        hs_inc = hs_verdicts = None
        if self.hs:
            try:
                hs_inc = self.hs.get("/api/v1/incidents")
                hs_verdicts = self.hs.get("/api/v1/verdicts")
            except Exception as e:  # noqa: BLE001
                self.failures.append("%s #%d: cannot read homeostat's API: %s" % (fault, k + 1, e))
        um_lines = self.um.log.since(calm_since)
        monit_lines = self.monit.log.since(calm_since) if self.monit else []
        needs = set()
        for c, u in self.units.items():
            t0, pid = inj[c]["t0"], inj[c]["pid"]
            r = self.contender_record(c, u, t0, pid, calm_since, t_end, um_lines, monit_lines, hs_inc, hs_verdicts)
            r["answer"] = inj[c]["answer"]
            rec["contenders"][c] = r
            r["memory_cgroup_is_units"] = inj[c]["memory_cgroup_is_units"]
            if not r["recovered"] or pid is None or pid in u.pids():
                needs.add(c)
            log("  %-20s detect %s s (%s)  recover %s s%s" % (
                LABELS[c], A.fmt_seconds(r["detect_s"]), r["detected_by"] or "nobody",
                A.fmt_seconds(r["mttr_s"]), "" if r["recovered"] else "  NOT RECOVERED"))
        self.trials.append(rec)
        self.save_raw(rec, inj, calm_since, t_end, um_lines, monit_lines, hs_inc, hs_verdicts)
        return needs

    def contender_record(self, c, u, t0, pid, calm_since, t_end, um_lines, monit_lines, hs_inc, hs_verdicts) -> dict:
        h = self.health
        rel = lambda t: None if t is None else round(t - t0, 3)  # noqa: E731
        cured = A.cured_at(u.mem, t0, pid) if pid else None
        observed = t_end - self.a.probe_timeout - 0.1
        recovered = A.recovered_at(u.probes, u.mem, cured, t0 + self.a.deadline, observed, h)
        seen = A.first_fault_seen(u.probes, u.mem, t0, h)
        reactions = []  # (t, by, kind, text)
        calm_alarms = []
        for t, kind, text in A.systemd_events(um_lines, u.unit):
            if t >= t0:
                reactions.append((t, "systemd", kind, text))
            else:
                calm_alarms.append(("systemd", kind, text))
        r = {"unit": u.unit, "faulty_pid": pid, "fault_seen_s": rel(seen), "cured_s": rel(cured),
             "recovered": recovered is not None, "mttr_s": rel(recovered)}
        # Memory as the harness sees it (resident, of the faulty process while it ran) and as the service
        # manager accounts it (MemoryCurrent); on cgroup v1 hybrid the two can part ways.
        during = [m for m in u.mem if t0 <= m.t <= (cured or t_end) and pid in m.pids]
        r["max_rss_bytes"] = max((m.rss_bytes for m in during), default=None)
        r["max_memory_current_bytes"] = max((m.cgroup_bytes for m in during if m.cgroup_bytes is not None), default=None)
        if c == "monit":
            for t, kind, text in A.monit_events(monit_lines, "demo"):
                if t >= t0:
                    reactions.append((t, "monit", kind, text))
                elif kind == "detect":
                    calm_alarms.append(("monit", kind, text))
        if c == "homeostat" and hs_inc is not None:
            hr = A.homeostat_reactions(hs_inc, t0)
            calm_alarms += [("homeostat", "incident", x) for x in A.homeostat_alarms_before(hs_inc, t0)]
            for x in hr:
                # When the data first showed the fault: the first anomalous sample of the rule after the
                # injection (the incident's detected event, unless its run began with a noisy sample just
                # before the injection).
                first = A.first_anomalous_sample(hs_verdicts or {}, x.rule, t0, x.firing or t_end)
                x.first_anomalous = first
                reactions.append((first if first is not None else x.detected, "homeostat", "detect",
                                  "%s detected (%s)" % (x.rule, " ".join(x.kinds))))
                if x.action_started is not None:
                    reactions.append((x.action_started, "homeostat", "action", "%s: restart" % x.rule))
            r["homeostat"] = self.homeostat_detail(hr, hs_verdicts, rel)
        reactions.sort(key=lambda x: x[0])
        detects = [x for x in reactions if x[2] != "restart" and x[2] != "action"]
        actions = [x for x in reactions if x[2] in ("restart", "action")]
        own = [x for x in reactions if x[1] == c]
        first = detects[0] if detects else (actions[0] if actions else None)
        r.update({
            "detected": first is not None,
            "detect_s": rel(first[0]) if first else None,
            "detected_by": first[1] if first else None,
            "own_detect_s": rel(own[0][0]) if own else None,
            "action_s": rel(actions[0][0]) if actions else None,
            "action_by": actions[0][1] if actions else None,
            "actions": len(actions),
            "reactions": [(rel(t), by, kind, text) for t, by, kind, text in reactions],
            "calm_alarms": calm_alarms,
        })
        return r

    @staticmethod
    def homeostat_detail(hr, verdicts, rel) -> dict:
        if not hr:
            return {"incidents": 0}
        fired = [x for x in hr if x.firing is not None]
        prim = min((x for x in hr if x.action_started is not None), key=lambda x: x.action_started, default=None) \
            or (min(fired, key=lambda x: x.firing) if fired else hr[0])
        sample_t = A.firing_sample_time(verdicts or {}, prim.rule, prim.firing) if prim.firing else None
        d = {
            "incidents": len(hr),
            "rules": [x.rule for x in hr],
            "rule": prim.rule,
            "incident": prim.incident,
            "detected_s": rel(prim.detected),
            "first_anomalous_sample_s": rel(prim.first_anomalous),
            "firing_s": rel(prim.firing),
            "action_started_s": rel(prim.action_started),
            "action_done_s": rel(prim.action_done),
            "action_result": prim.action_result,
            "resolved_s": rel(prim.resolved),
            "homeostat_mttr_s": prim.mttr_seconds,
            "detected_to_firing_s": None if prim.firing is None else round(prim.firing - prim.detected, 3),
            "run_began_before_injection": rel(prim.detected) is not None and rel(prim.detected) < 0,
            "sample_to_decision_s": None if sample_t is None or prim.firing is None else round(prim.firing - sample_t, 3),
            "decision_to_action_s": None if prim.action_started is None or prim.firing is None else round(prim.action_started - prim.firing, 3),
            "action_duration_s": None if prim.action_done is None or prim.action_started is None else round(prim.action_done - prim.action_started, 3),
            "skipped": [m for x in hr for m in x.skipped],
            "timeline": prim.kinds,
        }
        return d

    def save_raw(self, rec, inj, t_from, t_to, um_lines, monit_lines, hs_inc, hs_verdicts) -> None:
        """Everything a trial's figures were computed from, one JSON file per trial in the workdir."""
        raw = {"record": rec, "injections": inj, "units": {}, "user_manager": um_lines, "monit": monit_lines,
               "homeostat_incidents": hs_inc, "homeostat_verdicts": hs_verdicts}
        for c, u in self.units.items():
            raw["units"][c] = {
                "probes": [(p.t, p.latency, p.status, p.detail) for p in u.probes if t_from - 5 <= p.t <= t_to],
                "mem": [(m.t, list(m.pids), m.rss_bytes, m.cgroup_bytes) for m in u.mem if t_from - 5 <= m.t <= t_to],
            }
        path = os.path.join(self.workdir, "trial-%s-%d.json" % (rec["fault"], rec["trial"] + 1))
        with open(path, "w", encoding="utf-8") as f:
            json.dump(raw, f)

    # ---- run ----

    def run(self) -> None:
        self.preflight()
        self.meta = {
            "commit": git_commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine_info(),
            "versions": {"systemd": tool_version(["/lib/systemd/systemd", "--version"]),
                         "monit": tool_version(["monit", "-V"]) if shutil.which("monit") else None},
            "args": {k: v for k, v in vars(self.a).items()},
        }
        self.setup()
        self.warmup()
        needs: set = set()
        total = self.a.trials * len(self.a.faults)
        i = 0
        for k in range(self.a.trials):
            for fault in self.a.faults:
                i += 1
                log("trial %d/%d: %s #%d" % (i, total, FAULTS[fault][0], k + 1))
                needs = self.run_trial(fault, k, needs)

    def cleanup(self) -> None:
        for u in self.units.values():
            u.stop_watching()
        if self.monit:
            self.monit.close()
        if self.hs:
            try:
                self.hs.stop()
            except HarnessError as e:
                self.failures.append(str(e))
        if self.um:
            self.um.stop()

    # ---- results ----

    def results(self) -> dict:
        faults = {}
        for fault in self.a.faults:
            per = {}
            for c in self.a.contenders:
                rs = [t["contenders"][c] for t in self.trials if t["fault"] == fault and "skipped" not in t]
                by: Dict[str, int] = {}
                for r in rs:
                    if r["detected_by"]:
                        by[r["detected_by"]] = by.get(r["detected_by"], 0) + 1
                e = {
                    "trials": len(rs),
                    "detected": sum(r["detected"] for r in rs),
                    "detect": A.summarize([r["detect_s"] for r in rs]),
                    "own_detect": A.summarize([r["own_detect_s"] for r in rs]),
                    "action": A.summarize([r["action_s"] for r in rs]),
                    "recovered": sum(r["recovered"] for r in rs),
                    "mttr": A.summarize([r["mttr_s"] for r in rs]),
                    "detected_by": by,
                    "fault_seen": A.summarize([r["fault_seen_s"] for r in rs]),
                    "extra_actions": sum(max(0, r["actions"] - 1) for r in rs),
                }
                if c == "homeostat":
                    hd = [r.get("homeostat", {}) for r in rs]
                    for key in ("sample_to_decision_s", "decision_to_action_s", "action_duration_s", "firing_s",
                                "detected_to_firing_s"):
                        e[key] = A.summarize([d.get(key) for d in hd])
                per[c] = e
            faults[fault] = per
        calm = {c: sum(len(t["contenders"][c]["calm_alarms"]) for t in self.trials if "skipped" not in t)
                for c in self.a.contenders}
        moved = sum(1 for t in self.trials if "skipped" not in t for r in t["contenders"].values()
                    if not r["memory_cgroup_is_units"])
        injections = sum(len(t["contenders"]) for t in self.trials if "skipped" not in t)
        return {
            "benchmark": "recovery", "version": 1, "meta": self.meta,
            "contenders": {c: {"label": LABELS[c], "status": self.status[c]} for c in CONTENDERS},
            "baseline": self.baseline, "faults": faults, "alarms_before_injection": calm,
            "memory_current": {"injections": injections, "process_outside_units_memory_cgroup": moved},
            "trials": self.trials, "failures": self.failures,
        }

    def report(self, res: dict) -> str:
        out = []
        m = res["meta"]
        out.append("Recovery benchmark — commit %s, %s, %d CPUs, cgroup %s" % (
            m["commit"], m["date"], m["machine"]["cpus"], m["machine"]["cgroup"]))
        out.append("trials per fault %d, deadline %.0f s, probes %.0f/s (timeout %.1f s), healthy window %.1f s" % (
            self.a.trials, self.a.deadline, self.a.probe_rate, self.a.probe_timeout, self.a.window))
        b = res["baseline"]
        if b:
            out.append("baseline (warm-up): probe latency p50 %.1f ms, p99 %.1f ms; latency limit %.0f ms, memory limit %.1f MiB" % (
                1e3 * b["latency_p50"], 1e3 * b["latency_p99"], 1e3 * b["latency_limit"], b["mem_limit_bytes"] / 1048576))
        for c, s in res["contenders"].items():
            if s["status"] != "ran":
                st = s["status"]
                out.append("%s: %s" % (s["label"], "PENDING (%s)" % st.split(": ", 1)[1] if st.startswith("pending: ") else st))
        out.append("times in seconds from injection; medians and p90 over the trials where the event happened")
        for fault, per in res["faults"].items():
            rows = []
            for c, e in per.items():
                rows.append({"contender": LABELS[c], "trials": e["trials"], "detected": e["detected"],
                             "detect": e["detect"], "action": e["action"], "recovered": e["recovered"],
                             "mttr": e["mttr"],
                             "by": ", ".join("%s %d" % kv for kv in sorted(e["detected_by"].items()))})
            out.append("")
            out.append(A.fault_table("%s:" % FAULTS[fault][0], rows))
        if any("homeostat" in per for per in res["faults"].values()):
            out.append("")
            out.append("homeostat's timeline (medians): firing = injection -> firing event; for = detected -> firing (the "
                       "rule's for:); sample -> decision (collection start "
                       "of the sample that made the rule fire -> firing event), decision -> action (firing -> action_started), "
                       "restart job (action_started -> action_succeeded)")
            for fault, per in res["faults"].items():
                e = per.get("homeostat")
                if not e:
                    continue
                ms = lambda v: "-" if v is None else "%.0f ms" % (1e3 * v)  # noqa: E731
                out.append("  %-8s firing %s s  for %s s  sample->decision %s  decision->action %s  restart job %s  (n=%d)" % (
                    fault, A.fmt_seconds(e["firing_s"]["median"]), A.fmt_seconds(e["detected_to_firing_s"]["median"]), ms(e["sample_to_decision_s"]["median"]),
                    ms(e["decision_to_action_s"]["median"]), ms(e["action_duration_s"]["median"]),
                    e["sample_to_decision_s"]["n"]))
        out.append("")
        out.append("reactions before any injection (false alarms while calm): " + ", ".join(
            "%s %d" % (LABELS[c], n) for c, n in res["alarms_before_injection"].items()))
        extra = {c: sum(per[c]["extra_actions"] for per in res["faults"].values()) for c in self.a.contenders}
        out.append("restarts beyond the first within a trial: " + ", ".join("%s %d" % (LABELS[c], n) for c, n in extra.items()))
        mc = res["memory_current"]
        out.append("MemoryCurrent (not used by any contender): at %d of %d injections the process was outside its unit's "
                   "memory cgroup" % (mc["process_outside_units_memory_cgroup"], mc["injections"]))
        if "homeostat" in self.a.contenders:
            out.append("")
            out.append("issue 5 targets (1 s sampling): detect a latency or error fault within 5 s, recover within 10 s (median)")
            for fault in ("latency", "errors"):
                e = res["faults"].get(fault, {}).get("homeostat")
                if not e:
                    continue
                d, r = e["detect"]["median"], e["mttr"]["median"]
                ok = d is not None and r is not None and d <= 5 and r <= 10 and e["recovered"] == e["trials"]
                out.append("  %-8s detect %s s, recover %s s, recovered %d/%d: %s" % (
                    fault, A.fmt_seconds(d), A.fmt_seconds(r), e["recovered"], e["trials"], "met" if ok else "NOT met"))
        if res["failures"]:
            out.append("")
            out.append("problems:")
            out += ["  " + f for f in res["failures"]]
        return "\n".join(out)


def main(argv=None) -> int:
    a = parse_args(argv if argv is not None else sys.argv[1:])
    b = Bench(a)

    def on_signal(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    rc = 0
    try:
        b.run()
    except HarnessError as e:
        print("bench-recovery: error: %s" % e, file=sys.stderr)
        rc = 2
    except KeyboardInterrupt:
        print("bench-recovery: interrupted", file=sys.stderr)
        rc = 2
    finally:
        b.cleanup()
    if rc == 0 or b.trials:
        res = b.results()
        print(b.report(res))
        if a.json:
            with open(a.json, "w", encoding="utf-8") as f:
                json.dump(res, f, indent=1)
            print("\nJSON: %s" % a.json)
        if rc == 0 and b.failures:
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
