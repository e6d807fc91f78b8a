#!/bin/bash
# it_bench_pg.sh — `hobbes-bench ycsb --target postgres://...` against a
# throwaway PostgreSQL 15 (tools/pg-local) and `hobbes-bench plot` on its
# results next to a Hobbes one: YCSB A (reads, updates) and E (scans,
# inserts) on PostgreSQL must do work with no errors and leave usertable
# with the loaded record count (A; E adds its inserts); ycsb A on a 1 x 2
# Hobbes cluster likewise; the JSONs carry timeline, latency_cdf and
# headline; plot writes PNGs (PNG signature) and SVGs (<svg) from them and
# refuses a malformed file with exit 2 and the byte offset.
# Skips (77) when PostgreSQL 15 is not installed.
set -u
BUILD=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/postgres" ] || { echo "SKIP: no PostgreSQL 15 in $PGBIN"; exit 77; }
BENCH="$BUILD/tools/hobbes-bench"
CTL="$BUILD/tools/hobbesctl"
PGLOCAL="$SRC/tools/pg-local"
DIR=$(mktemp -d /tmp/hobbes-bench-pg-it-XXXXXX)
PGDIR=$(mktemp -d /tmp/hobbes-bench-pg-it-pg-XXXXXX)
CFG=$DIR/cluster.cfg
. "$(dirname "$0")/it_config.sh"
cleanup() {
    "$PGLOCAL" stop "$PGDIR" >/dev/null 2>&1
    "$CTL" down --config "$CFG" >/dev/null 2>&1
    [ -n "${HOBBES_KEEP:-}" ] || rm -rf "$DIR" "$PGDIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ ! -f "$PGDIR/postgres.log" ] || { echo "== postgres.log"; tail -n 20 "$PGDIR/postgres.log"; } >&2
    for f in "$DIR"/data/r*p*/*.log; do
        [ -f "$f" ] && { echo "== $f"; tail -n 10 "$f"; } >&2
    done
    exit 1
}
jq_() { # jq_ FILE EXPR: a Python expression over the document d
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
check() { # check FILE: work done, nothing failed, the plot fields present
    [ -s "$1" ] || fail "$1 missing"
    local ok
    ok=$(jq_ "$1" 'd["ok"]') || fail "$1: unreadable"
    [ "$ok" -gt 0 ] || fail "$1: ok = $ok"
    [ "$(jq_ "$1" 'd["errors"]')" = 0 ] || fail "$1: $(jq_ "$1" 'd["errors"]') errors"
    [ "$(jq_ "$1" 'd["aborted"]')" = 0 ] || fail "$1: $(jq_ "$1" 'd["aborted"]') aborted"
    [ "$(jq_ "$1" 'len(d["timeline"]) == d["params"]["duration_s"] and d["timeline"][0][0] == 1')" = True ] ||
        fail "$1: timeline"
    [ "$(jq_ "$1" 'all(len(c) > 0 and c[-1][1] == 1 and all(a[0] < b[0] for a, b in zip(c, c[1:])) for c in d["latency_cdf"].values()) and sorted(d["latency_cdf"]) == sorted(d["ops"])')" = True ] ||
        fail "$1: latency_cdf"
    [ "$(jq_ "$1" 'd["headline"]["name"] == "ops/s" and d["headline"]["value"] == d["throughput_ops"]')" = True ] ||
        fail "$1: headline"
    echo "$(basename "$1"): $(jq_ "$1" 'd["target"]') $(jq_ "$1" 'd["workload"]') $(jq_ "$1" 'd["throughput_ops"]') ops/s, $ok ok, 0 errors"
}
count() { psql -X -At -v ON_ERROR_STOP=1 "$URL" -c 'select count(*) from usertable' 2>&1; }

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=$("$PGLOCAL" start "$PGDIR" "$PORT" -c fsync=off) || fail "pg-local start"
[ "$URL" = "postgres://postgres@127.0.0.1:$PORT/postgres" ] || fail "pg-local printed $URL"

YCSB=(--records 2000 --clients 4 --duration 3 --warmup 0)
"$BENCH" ycsb --target "$URL" --workload a "${YCSB[@]}" --json "$DIR/pg-a.json" \
    >"$DIR/pg-a.out" 2>&1 || fail "ycsb a on postgres: $(tail -5 "$DIR/pg-a.out")"
check "$DIR/pg-a.json"
[ "$(jq_ "$DIR/pg-a.json" 'd["target"]')" = postgres ] || fail "pg-a: target"
[ "$(count)" = 2000 ] || fail "usertable after ycsb a: $(count) rows, 2000 loaded"
"$BENCH" ycsb --target "$URL" --workload e "${YCSB[@]}" --json "$DIR/pg-e.json" \
    >"$DIR/pg-e.out" 2>&1 || fail "ycsb e on postgres: $(tail -5 "$DIR/pg-e.out")"
check "$DIR/pg-e.json"
[ "$(jq_ "$DIR/pg-e.json" 'd["ops"]["scan"]["ok"] > 0')" = True ] || fail "ycsb e ran no scans"
# Inserts finishing after the measured phase are not counted: at least.
ins=$(jq_ "$DIR/pg-e.json" 'd["ops"]["insert"]["ok"]')
n=$(count)
[ "$n" -ge $((2000 + ins)) ] && [ "$n" -le $((2000 + ins + 8)) ] ||
    fail "usertable after ycsb e: $n rows, 2000 loaded + $ins inserted"

# Errors are reported, not crashed on.
out=$("$BENCH" ycsb --target "postgres://postgres@127.0.0.1:1/postgres" --workload a \
    --records 10 --duration 1 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "cannot connect to PostgreSQL" || fail "refused connection: $out"
out=$("$BENCH" ycsb --target "postgres://[bad" --workload a 2>&1)
[ $? = 2 ] && echo "$out" | grep -q "bad connection string" || fail "bad URL: $out"

it_config "$CFG" benchpg "$DIR" 2
"$CTL" up --config "$CFG" >/dev/null || fail "hobbesctl up"
"$BENCH" ycsb --config "$CFG" --workload a "${YCSB[@]}" --window 8 --json "$DIR/hb-a.json" \
    >"$DIR/hb-a.out" 2>&1 || fail "ycsb a on hobbes: $(tail -5 "$DIR/hb-a.out")"
check "$DIR/hb-a.json"

"$BENCH" plot --out "$DIR/cmp" --title "it_bench_pg" --labels "pg a,,pg e" "$DIR/pg-a.json" \
    "$DIR/hb-a.json" "$DIR/pg-e.json" >"$DIR/plot.out" 2>&1 || fail "plot: $(cat "$DIR/plot.out")"
for c in throughput latency compare; do
    grep -qx "wrote $DIR/cmp-$c.png" "$DIR/plot.out" || fail "plot did not report cmp-$c.png"
    [ "$(head -c 8 "$DIR/cmp-$c.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        fail "cmp-$c.png is not a PNG"
    grep -q '<svg' "$DIR/cmp-$c.svg" || fail "cmp-$c.svg is not an SVG"
done
grep -q 'ycsb-a hobbes' "$DIR/cmp-latency.svg" || fail "default label missing in the latency chart"
grep -q 'pg e' "$DIR/cmp-throughput.svg" || fail "--labels not used"
echo "plot: $(grep -c '^wrote' "$DIR/plot.out") files"

printf '{"workload": "ycsb-a", "timeline": [[1, 2.0], [2 ' >"$DIR/bad.json"
out=$("$BENCH" plot --out "$DIR/bad" "$DIR/bad.json" 2>&1)
[ $? = 2 ] || fail "plot of a malformed file: exit not 2: $out"
echo "$out" | grep -q "bad.json: byte [0-9]" || fail "plot of a malformed file: $out"
[ ! -e "$DIR/bad-throughput.png" ] || fail "plot wrote a chart for a malformed file"
echo PASS
