#!/bin/bash
# it_bench.sh — hobbes-bench end to end on a real 1 x 3 cluster: micro with
# single- and multi-partition transactions, the ceiling, and YCSB A (reads
# and updates), E (snapshot scans merged across partitions, inserts) and F
# (read-modify-write) with --mp. Each run's JSON must report work done and
# no errors; micro must not abort (it has no logical aborts); micro's per-stage
# breakdown (JSON and status --verbose) must show every stage.
set -u
BUILD=$1
DIR=$(mktemp -d /tmp/hobbes-bench-it-XXXXXX)
CFG=$DIR/cluster.cfg
. "$(dirname "$0")/it_config.sh"
it_config "$CFG" bench "$DIR" 3
CTL="$BUILD/tools/hobbesctl"
BENCH="$BUILD/tools/hobbes-bench"
trap '"$CTL" down --config "$CFG" >/dev/null 2>&1' EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$DIR"/data/r*p*/*.log; do echo "== $f"; tail -n 10 "$f"; done >&2
    exit 1
}
field() { # field FILE NAME -> the first top-level numeric value of NAME
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
check() { # check FILE THROUGHPUT_KEY [no-aborts]
    [ -s "$1" ] || fail "$1 missing"
    local t e
    t=$(field "$1" "$2") || fail "$1: no $2"
    e=$(field "$1" errors)
    python3 -c "import sys; sys.exit(0 if float('$t') > 0 else 1)" || fail "$1: $2 = $t"
    [ "$e" = 0 ] || fail "$1: $e errors"
    if [ "${3:-}" = no-aborts ]; then
        [ "$(field "$1" aborted)" = 0 ] || fail "$1: aborts"
    fi
    echo "$(basename "$1"): $2 $t, errors $e"
}
"$CTL" up --config "$CFG" >/dev/null || fail "hobbesctl up"
"$BENCH" micro --config "$CFG" --clients 4 --window 8 --duration 2 --warmup 0 --records 20000 \
    --json "$DIR/micro.json" >/dev/null || fail "micro"
check "$DIR/micro.json" throughput_tps no-aborts
# The per-stage breakdown: every stage seen, with p50 <= p99, in the JSON
# and in hobbesctl status --verbose.
python3 - "$DIR/micro.json" <<'PY' || fail "micro: stages"
import json, sys
st = json.load(open(sys.argv[1]))["stages"]
want = ["seq_epoch_wait", "seq_durable", "seq_log_fsync", "sched_merge_wait",
        "sched_lock_wait", "stor_rread_wait", "stor_exec", "stor_apply", "stor_reply",
        "stor_flush", "client_total"]
for name in want:
    s = st.get(name)
    if not s or s["count"] <= 0 or s["p50_us"] > s["p99_us"]:
        sys.exit("stage %s: %r" % (name, s))
PY
"$CTL" status --verbose --config "$CFG" | python3 -c '
import re, sys
v = dict(re.findall(r"^\s+(stage_\w+)=(\d+)$", sys.stdin.read(), re.M))
names = {k[6:-6] for k in v if k.endswith("_count")}
ok = len(names) >= 10 and all(int(v["stage_%s_count" % n]) > 0 and
    int(v["stage_%s_p50_us" % n]) <= int(v["stage_%s_p99_us" % n]) for n in names)
sys.exit(0 if ok else "status --verbose stages: %r" % sorted(names))' || fail "status --verbose: stages"
"$BENCH" micro --config "$CFG" --clients 4 --window 8 --duration 2 --warmup 0 --records 20000 \
    --mp 50 --json "$DIR/micro-mp.json" >/dev/null || fail "micro --mp 50"
check "$DIR/micro-mp.json" throughput_tps no-aborts
"$BENCH" micro --ceiling --config "$CFG" --clients 2 --duration 1 --warmup 0 --records 20000 \
    --data "$DIR/ceiling" --json "$DIR/ceiling.json" >/dev/null || fail "ceiling"
check "$DIR/ceiling.json" throughput_tps
"$BENCH" ycsb --config "$CFG" --workload a --records 3000 --clients 4 --window 8 --duration 2 \
    --warmup 0 --mp 20 --json "$DIR/ycsb-a.json" >/dev/null 2>&1 || fail "ycsb a"
check "$DIR/ycsb-a.json" throughput_ops no-aborts
"$BENCH" ycsb --config "$CFG" --workload e --records 3000 --clients 4 --window 8 --duration 2 \
    --warmup 0 --run-only --json "$DIR/ycsb-e.json" >/dev/null 2>&1 || fail "ycsb e"
check "$DIR/ycsb-e.json" throughput_ops
"$BENCH" ycsb --config "$CFG" --workload f --records 3000 --clients 4 --window 8 --duration 2 \
    --warmup 0 --run-only --mp 20 --json "$DIR/ycsb-f.json" >/dev/null 2>&1 || fail "ycsb f"
check "$DIR/ycsb-f.json" throughput_ops no-aborts
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["ops"]["scan"]["ok"] > 0 else 1)' \
    "$DIR/ycsb-e.json" || fail "ycsb e ran no scans"
"$CTL" down --config "$CFG" >/dev/null
[ -n "${HOBBES_KEEP:-}" ] || rm -rf "$DIR"
echo PASS
