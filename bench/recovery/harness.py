# SPDX-License-Identifier: GPL-3.0-or-later
"""The moving parts of the recovery benchmark: a real `systemd --user` manager, the demo units, the harness's
own probes, and the two supervisors under test (Monit and homeostatd), each started and stopped by PID.

The user manager runs in a private mount namespace (/work/shared/recipes/real-peers.md). Its console is a
pseudo-terminal owned by the harness: inside the namespace a bind mount puts the pty's slave over
/dev/console, and systemd --user (SYSTEMD_LOG_TARGET=console) writes its log there, so every line —
"Watchdog timeout", "Main process exited", "Scheduled restart job" — arrives with the time the harness read
it. Nothing outside the namespace sees these mounts.

Everything here talks only to 127.0.0.1 and unix sockets, and every wait is bounded.
"""

import http.client
import json
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import tty
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

from analysis import MemSample, Probe

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class HarnessError(Exception):
    pass


def fill_template(path: str, values: Dict[str, str]) -> str:
    """Replace every @KEY@ of the template; a key left over (or one we do not know) is an error."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.search(r"@[A-Z_]+@", text)
    if left:
        raise HarnessError("%s: no value for %s" % (path, left.group(0)))
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def stop_pid(proc: subprocess.Popen, timeout: float = 10.0) -> Optional[int]:
    """SIGTERM, a bounded wait, then SIGKILL; returns the exit status."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


class LineLog:
    """Lines with the wall-clock time at which the harness got them; thread-safe append, snapshot read."""

    def __init__(self, path: Optional[str] = None):
        self._lines: List[Tuple[float, str]] = []
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8") if path else None

    def add(self, t: float, text: str) -> None:
        with self._lock:
            self._lines.append((t, text))
            if self._file:
                self._file.write("%.3f %s\n" % (t, text))
                self._file.flush()

    def since(self, t0: float) -> List[Tuple[float, str]]:
        with self._lock:
            return [x for x in self._lines if x[0] >= t0]

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None


# ---- systemd --user ----


class UserManager:
    def __init__(self, workdir: str):
        self.dir = os.path.join(workdir, "um")
        self.runtime = os.path.join(self.dir, "run")
        self.proc: Optional[subprocess.Popen] = None
        self.log = LineLog(os.path.join(workdir, "user-manager.console.log"))
        self._pty_master = -1
        self._pty_slave = -1
        self._reader: Optional[threading.Thread] = None
        self.cgroup_root: Optional[str] = None

    @property
    def env(self) -> Dict[str, str]:
        return dict(os.environ, XDG_RUNTIME_DIR=self.runtime)

    def start(self) -> None:
        if not os.path.exists("/lib/systemd/systemd"):
            raise HarnessError("/lib/systemd/systemd is not installed")
        if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"]).returncode != 0:
            raise HarnessError("unshare --mount is not permitted here (the benchmark runs as root)")
        os.makedirs(os.path.join(self.dir, "home"), exist_ok=True)
        os.makedirs(self.runtime, mode=0o700, exist_ok=True)
        # The slave stays open in the harness for the manager's whole life: when the last slave descriptor
        # closes, reads on the master fail with EIO.
        self._pty_master, self._pty_slave = pty.openpty()
        tty.setraw(self._pty_slave)
        env = dict(os.environ, SYSTEMD_LOG_TARGET="console", SYSTEMD_LOG_LEVEL="info")
        script = (
            'mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && '
            'mount --bind "/proc/self/fd/$1" /dev/console && eval "exec $1>&-" && '
            'HOME="$0/home" XDG_RUNTIME_DIR="$0/run" exec /lib/systemd/systemd --user'
        )
        with open(os.path.join(self.dir, "manager.log"), "ab") as out:
            # setsid and unshare (without --fork) exec in place: self.proc.pid is the manager's PID.
            self.proc = subprocess.Popen(
                ["setsid", "unshare", "--mount", "--propagation", "private", "sh", "-c", script, self.dir,
                 str(self._pty_slave)],
                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                pass_fds=(self._pty_slave,),
            )
        self._reader = threading.Thread(target=self._read_console, name="um-console", daemon=True)
        self._reader.start()
        private = os.path.join(self.runtime, "systemd", "private")
        if not wait_until(lambda: os.path.exists(private) or self.proc.poll() is not None, 15):
            raise HarnessError("the user manager did not come up within 15 s")
        if self.proc.poll() is not None:
            raise HarnessError("the user manager exited (%d); see %s/manager.log" % (self.proc.returncode, self.dir))
        if not wait_until(lambda: self.systemctl("show", "-p", "Version", "--value", check=False).returncode == 0, 15):
            raise HarnessError("the user manager does not answer")
        os.makedirs(os.path.join(self.runtime, "systemd", "user"), exist_ok=True)

    def _read_console(self) -> None:
        buf = b""
        while True:
            try:
                data = os.read(self._pty_master, 65536)
            except OSError:
                return
            if not data:
                return
            now = time.time()
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.log.add(now, line.decode("utf-8", "replace").rstrip("\r"))

    def systemctl(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        r = subprocess.run(["systemctl", "--user", "--no-pager", *args], env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise HarnessError("systemctl --user %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
        return r

    def show(self, unit: str, *props: str) -> Dict[str, str]:
        r = self.systemctl("show", unit, *("-p" + p for p in props))
        out = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out

    def install_unit(self, name: str, text: str) -> None:
        with open(os.path.join(self.runtime, "systemd", "user", name), "w", encoding="utf-8") as f:
            f.write(text)
        self.systemctl("daemon-reload")

    def cgroup_procs_path(self, unit: str) -> str:
        cg = self.show(unit, "ControlGroup")["ControlGroup"]
        if not cg:
            raise HarnessError("%s has no control group (not running?)" % unit)
        for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup"):
            p = root + cg + "/cgroup.procs"
            if os.path.exists(p):
                return p
        raise HarnessError("cannot find cgroup.procs of %s (%s)" % (unit, cg))

    def memory_usage_path(self, unit: str) -> Optional[str]:
        """The file MemoryCurrent= comes from: memory.current (cgroup v2) or the v1 memory controller's
        memory.usage_in_bytes (hybrid); None if neither is there."""
        cg = self.show(unit, "ControlGroup")["ControlGroup"]
        for p in ("/sys/fs/cgroup/unified" + cg + "/memory.current", "/sys/fs/cgroup" + cg + "/memory.current",
                  "/sys/fs/cgroup/memory" + cg + "/memory.usage_in_bytes"):
            if cg and os.path.exists(p):
                return p
        return None

    def stop(self) -> None:
        if self.proc:
            stop_pid(self.proc, 20)
            self.proc = None
        for fd in (self._pty_slave, self._pty_master):
            if fd >= 0:
                os.close(fd)
        self._pty_slave = self._pty_master = -1
        self.log.close()


# ---- one demo unit and the harness's view of it ----


class DemoUnit:
    """The demo service as a unit of the user manager, probed by the harness (GET /healthz at `rate` per
    second, each in its own connection) and sampled (the unit's processes and their resident memory, 10 per
    second)."""

    def __init__(self, um: UserManager, contender: str, unit: str, port: int, demo_bin: str, template: str,
                 workdir: str, watchdog: str, slice_: str):
        self.um = um
        self.contender = contender
        self.unit = unit
        self.port = port
        self.log_path = os.path.join(workdir, unit + ".log")
        self.text = fill_template(template, {
            "CONTENDER": contender, "DEMO": demo_bin, "PORT": port, "WATCHDOG": watchdog, "LOG": self.log_path,
            "SLICE": slice_,
        })
        self.probes: List[Probe] = []
        self.mem: List[MemSample] = []
        self.cgroup = ""
        self._procs_path: Optional[str] = None
        self._memcg_path: Optional[str] = None
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._pool: Optional[ThreadPoolExecutor] = None

    def install_and_start(self) -> None:
        self.um.install_unit(self.unit, self.text)
        self.um.systemctl("start", self.unit)
        self.cgroup = self.um.show(self.unit, "ControlGroup")["ControlGroup"]
        self._procs_path = self.um.cgroup_procs_path(self.unit)
        self._memcg_path = self.um.memory_usage_path(self.unit)
        if not wait_until(lambda: self.get("/metrics", 1.0)[0] == 200, 15):
            raise HarnessError("%s does not serve /metrics" % self.unit)

    def get(self, path: str, timeout: float) -> Tuple[int, bytes]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            return 0, b""
        finally:
            c.close()

    def post_fault(self, query: str, timeout: float = 2.0) -> str:
        """POST /fault?QUERY. A crash fault never answers: the connection error is the expected outcome."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("POST", "/fault?" + query)
            r = c.getresponse()
            return "%d %s" % (r.status, r.read().decode(errors="replace").strip())
        except (OSError, http.client.HTTPException) as e:
            return "no answer (%s)" % type(e).__name__
        finally:
            c.close()

    def start_watching(self, rate: float, timeout: float) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(4, int(rate * timeout * 2) + 4),
                                        thread_name_prefix="probe-" + self.contender)
        self._threads = [
            threading.Thread(target=self._probe_loop, args=(rate, timeout), daemon=True),
            threading.Thread(target=self._mem_loop, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop_watching(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _probe_loop(self, rate: float, timeout: float) -> None:
        period = 1.0 / rate
        nxt = time.monotonic()
        while not self._stop.is_set():
            self._pool.submit(self._probe_once, timeout)
            nxt += period
            delay = nxt - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                nxt = time.monotonic()

    def _probe_once(self, timeout: float) -> None:
        t = time.time()
        m = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            self.probes.append(Probe(t, time.monotonic() - m, r.status))
        except socket.timeout:
            self.probes.append(Probe(t, None, 0, "timeout"))
        except (OSError, http.client.HTTPException) as e:
            self.probes.append(Probe(t, None, 0, type(e).__name__))
        finally:
            c.close()

    def pids(self) -> Tuple[int, ...]:
        try:
            with open(self._procs_path, encoding="ascii") as f:
                return tuple(int(x) for x in f.read().split())
        except OSError:
            return ()

    def _mem_loop(self) -> None:
        while not self._stop.is_set():
            t = time.time()
            pids = self.pids()
            rss = 0
            for p in pids:
                try:
                    with open("/proc/%d/statm" % p, encoding="ascii") as f:
                        rss += int(f.read().split()[1]) * PAGE_SIZE
                except (OSError, IndexError, ValueError):
                    pass
            cg = None
            if self._memcg_path:
                try:
                    with open(self._memcg_path, encoding="ascii") as f:
                        cg = int(f.read())
                except (OSError, ValueError):
                    pass
            self.mem.append(MemSample(t, pids, rss, cg))
            self._stop.wait(0.1)

    def main_pid(self) -> int:
        return int(self.um.show(self.unit, "MainPID")["MainPID"] or 0)

    def uptime(self) -> float:
        """Seconds since the unit's current main process started (0 when none runs)."""
        p = self.um.show(self.unit, "ExecMainStartTimestampMonotonic", "ActiveState")
        if p.get("ActiveState") != "active":
            return 0.0
        start = int(p.get("ExecMainStartTimestampMonotonic") or 0) / 1e6
        return max(0.0, time.monotonic() - start) if start > 0 else 0.0


# ---- Monit ----


class Monit:
    """`monit -I` as a child of the harness with its own control file; its log file is tailed (every 50 ms)
    and each line is stamped with the time the harness read it. Restarted with a fresh state file before each
    trial, so no trial inherits another's restart counters."""

    def __init__(self, workdir: str, template: str, values: Dict[str, str]):
        self.dir = os.path.join(workdir, "monit")
        os.makedirs(self.dir, exist_ok=True)
        self.template = template
        self.values = dict(values)
        self.logfile = os.path.join(self.dir, "monit.log")
        self.rc = os.path.join(self.dir, "monitrc")
        self.proc: Optional[subprocess.Popen] = None
        self.log = LineLog()
        self.generation = 0
        self._stop = threading.Event()
        self._tail = threading.Thread(target=self._tail_loop, daemon=True)
        self._tail.start()

    def write_config(self, **extra: str) -> str:
        self.generation += 1
        v = dict(self.values, **extra, DIR=self.dir, LOG=self.logfile,
                 STATEFILE=os.path.join(self.dir, "monit.state.%d" % self.generation))
        text = fill_template(self.template, v)
        with open(self.rc, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(self.rc, 0o600)  # monit refuses a control file others can read
        r = subprocess.run(["monit", "-t", "-c", self.rc], capture_output=True, text=True)
        if r.returncode != 0:
            raise HarnessError("monit -t: %s" % (r.stdout + r.stderr).strip())
        return text

    def start(self) -> None:
        with open(os.path.join(self.dir, "monit.stdout"), "ab") as out:
            self.proc = subprocess.Popen(["monit", "-I", "-c", self.rc], stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc:
            stop_pid(self.proc, 10)
            self.proc = None

    def restart(self, **extra: str) -> None:
        self.stop()
        self.write_config(**extra)
        self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _tail_loop(self) -> None:
        pos = 0
        partial = ""
        while not self._stop.is_set():
            try:
                with open(self.logfile, encoding="utf-8", errors="replace") as f:
                    f.seek(pos)
                    data = f.read()
                    pos = f.tell()
            except FileNotFoundError:
                data = ""
            if data:
                now = time.time()
                partial += data
                while "\n" in partial:
                    line, partial = partial.split("\n", 1)
                    self.log.add(now, line)
            self._stop.wait(0.05)

    def close(self) -> None:
        self.stop()
        self._stop.set()
        self._tail.join(2)


# ---- homeostatd ----


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 5.0):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


class Homeostat:
    """homeostatd --user as a child of the harness, talking to the benchmark's user manager. Before each
    trial it is stopped (SIGTERM: it saves its state) and started again on a fresh state directory that holds
    only learned detector state (evaluator.state): guards, incidents and silences start empty, as on a host
    whose incidents are far apart. Without that, the host-wide budget (10 actions per hour, not configurable)
    would stop it after ten trials — the guard doing its job. Which learned state a trial starts from is
    the caller's choice: the snapshot taken after the warm-up (healthy data only, the default: in production
    faults are rare) or the previous trial's (the detectors have then seen every earlier fault)."""

    EVALUATOR_STATE = "evaluator.state"

    def __init__(self, workdir: str, homeostatd: str, homeostatctl: str, config_text: str, env: Dict[str, str]):
        self.dir = os.path.join(workdir, "homeostat")
        os.makedirs(self.dir, exist_ok=True)
        self.homeostatd = homeostatd
        self.homeostatctl = homeostatctl
        self.config = os.path.join(self.dir, "homeostat.yaml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(config_text)
        self.env = env
        self.api = os.path.join(self.dir, "api.sock")
        self.proc: Optional[subprocess.Popen] = None
        self.generation = 0
        self.state_dir = ""
        self.restored_state = False
        self.snapshot = os.path.join(self.dir, "evaluator.state.warm")
        self.from_snapshot = False  # start from the warm-up snapshot instead of the previous state

    def check(self) -> str:
        r = subprocess.run([self.homeostatctl, "check", self.config], capture_output=True, text=True)
        if r.returncode != 0:
            raise HarnessError("homeostatctl check failed:\n%s%s" % (r.stdout, r.stderr))
        return (r.stdout + r.stderr).strip()

    def start(self) -> None:
        self.generation += 1
        prev = self.state_dir
        self.state_dir = os.path.join(self.dir, "state.%d" % self.generation)
        os.makedirs(self.state_dir)
        self.restored_state = False
        src = self.snapshot if self.from_snapshot else (os.path.join(prev, self.EVALUATOR_STATE) if prev else "")
        if src and os.path.exists(src):
            shutil.copy2(src, os.path.join(self.state_dir, self.EVALUATOR_STATE))
            self.restored_state = True
        with open(os.path.join(self.dir, "homeostatd.log"), "ab") as out:
            self.proc = subprocess.Popen(
                [self.homeostatd, "--config", self.config, "--state-dir", self.state_dir, "--api",
                 "unix:" + self.api, "--user"],
                env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        if not wait_until(lambda: self.proc.poll() is not None or self._status_ok(), 20, 0.1):
            raise HarnessError("homeostatd does not answer on %s" % self.api)
        if self.proc.poll() is not None:
            raise HarnessError("homeostatd exited with %d; see %s/homeostatd.log" % (self.proc.returncode, self.dir))

    def _status_ok(self) -> bool:
        try:
            return self.get("/api/v1/status") is not None
        except (OSError, http.client.HTTPException, ValueError):
            return False

    def get(self, path: str, timeout: float = 5.0):
        c = UnixHTTPConnection(self.api, timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise HarnessError("GET %s: HTTP %d" % (path, r.status))
            return json.loads(body)
        finally:
            c.close()

    def stop(self) -> None:
        if self.proc:
            rc = stop_pid(self.proc, 15)
            self.proc = None
            if rc not in (0, None):
                raise HarnessError("homeostatd exited with %s on SIGTERM; see %s/homeostatd.log" % (rc, self.dir))

    def restart(self) -> None:
        self.stop()
        self.start()

    def take_snapshot(self) -> None:
        """Stop (the daemon saves its learned state), keep that state as the snapshot, start again from it."""
        self.stop()
        saved = os.path.join(self.state_dir, self.EVALUATOR_STATE)
        if not os.path.exists(saved):
            raise HarnessError("homeostatd saved no %s in %s" % (self.EVALUATOR_STATE, self.state_dir))
        shutil.copy2(saved, self.snapshot)
        self.from_snapshot = True
        self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rule_states(self, rules: Sequence[str]) -> Dict[str, Optional[dict]]:
        """The newest verdict of each rule (None when it has none yet)."""
        v = self.get("/api/v1/verdicts")
        last: Dict[str, Optional[dict]] = {r: None for r in rules}
        for row in v.get("verdicts", []):
            if row.get("rule") in last:
                last[row["rule"]] = row
        return last
