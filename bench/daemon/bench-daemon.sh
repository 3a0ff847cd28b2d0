#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# homeostatd's footprint with 10 000 series scraped every second: a local exporter (exporter.py) serves
# 10 000 gauges on 127.0.0.1; homeostatd scrapes it every second with one ewma rule over every series
# (10 000 verdicts a second). CPU is the daemon's utime+stime from /proc/PID/stat over the measurement
# window, as % of one core; RSS is VmRSS at the end (and VmHWM, the peak). Two baselines come from the
# same run: the same daemon with no source (idle: timers, watchdog, loop lag), and with the source but no
# rule (scrape and parse only), so the cost of each layer shows.
#
# Targets (issue 4): <= 1 % of one core and <= 32 MB RSS. For context, Netdata's agent is documented at
# 1-5 % CPU and 100-350 MB. Nothing here is asserted: the script prints figures.
# Environment: BENCH_SECONDS (default 60) for the main window, BENCH_BASELINE_SECONDS (default 20),
# BENCH_SERIES (default 10000).
set -eu
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:?}
. "$HS_SRC/tests/integration/lib.sh"
hs_init bench-daemon
T=$HS_TMP
SECONDS_MAIN=${BENCH_SECONDS:-60}
SECONDS_BASE=${BENCH_BASELINE_SECONDS:-20}
N=${BENCH_SERIES:-10000}
TCK=$(getconf CLK_TCK)

PORT=$(hs_free_port)
python3 "$HS_SRC/bench/daemon/exporter.py" "$PORT" "$N" &
EXP=$!
hs_track_pid "$EXP"
hs_wait 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" || hs_fail "the exporter did not start"

# cpu_ticks PID: utime + stime (fields 14 and 15 of /proc/PID/stat; the name in field 2 has no spaces here)
cpu_ticks() {
        awk '{ print $14 + $15 }' "/proc/$1/stat"
}

rss_kb() {
        awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

# measure NAME CONFIG-DIR WARMUP SECONDS: start homeostatd, wait, measure, stop; prints one line
measure() {
        _name=$1
        _cfg=$2
        "$HOMEOSTATD" --config "$_cfg" --state-dir "$T/state-$_name" --api "unix:$T/$_name.sock" \
                >"$T/$_name.log" 2>&1 &
        _pid=$!
        hs_track_pid "$_pid"
        hs_wait 10 "$HOMEOSTATCTL" --api "unix:$T/$_name.sock" status || hs_fail "homeostatd ($_name) did not start"
        sleep "$3"
        _c0=$(cpu_ticks "$_pid")
        _t0=$(date +%s%N)
        sleep "$4"
        _c1=$(cpu_ticks "$_pid")
        _t1=$(date +%s%N)
        _rss=$(rss_kb "$_pid" VmRSS)
        _hwm=$(rss_kb "$_pid" VmHWM)
        _series=$("$HOMEOSTATCTL" --api "unix:$T/$_name.sock" status --json | hs_json 'j["series_count"]')
        _verdicts=$("$HOMEOSTATCTL" --api "unix:$T/$_name.sock" status --json | hs_json 'j["samples"]["verdicts"]')
        _lagmax=$("$HOMEOSTATCTL" --api "unix:$T/$_name.sock" status --json |
                hs_json '"%.1f" % (j["loop_lag"]["max_ever_seconds"] * 1000)')
        hs_stop_pid "$_pid" 30 || true
        awk -v n="$_name" -v c0="$_c0" -v c1="$_c1" -v t0="$_t0" -v t1="$_t1" -v tck="$TCK" \
            -v rss="$_rss" -v hwm="$_hwm" -v s="$_series" -v v="$_verdicts" -v lag="$_lagmax" 'BEGIN {
                secs = (t1 - t0) / 1e9
                cpu = (c1 - c0) / tck / secs * 100
                printf "  %-22s CPU %5.2f %% of one core   RSS %6.1f MB (peak %6.1f MB)   %6d series   %9d verdicts   max loop lag %s ms\n",
                        n, cpu, rss / 1024, hwm / 1024, s, v, lag
        }'
}

mkdir -p "$T/idle" "$T/scrape" "$T/full"
printf 'rules: []\n' >"$T/idle/homeostat.yaml"
cat >"$T/scrape/homeostat.yaml" <<EOF2
sources:
  - name: bench
    prometheus: http://127.0.0.1:$PORT/metrics
    interval: 1s
    max_series: 20000
rules: []
EOF2
cat >"$T/full/homeostat.yaml" <<EOF2
sources:
  - name: bench
    prometheus: http://127.0.0.1:$PORT/metrics
    interval: 1s
    max_series: 20000
rules:
  - name: bench-ewma
    series: 'bench_value{source="bench"}'
    detector: {kind: ewma, halflife: 10m}
EOF2
chmod 644 "$T"/*/homeostat.yaml

echo "homeostatd with $N series scraped every 1 s ($(nproc) cores, $(uname -r))"
measure idle "$T/idle" 3 "$SECONDS_BASE"
measure scrape-only "$T/scrape" 5 "$SECONDS_BASE"
measure "scrape+ewma" "$T/full" 10 "$SECONDS_MAIN"
echo "  targets: <= 1 % of one core, <= 32 MB RSS (Netdata's agent for context: 1-5 % CPU, 100-350 MB)"
