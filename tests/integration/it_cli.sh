#!/bin/bash
# it_cli.sh — the README's promise on real processes: hobbesctl up, then
# hobbes-cli kv.put a 41 / kv.add a 1 / kv.get a prints 42; errors exit
# non-zero with a message; status shows every process; down stops them.
set -u
BUILD=$1
DIR=$(mktemp -d /tmp/hobbes-cli-XXXXXX)
CFG=$DIR/cluster.cfg
. "$(dirname "$0")/it_config.sh"
it_config "$CFG" cli "$DIR" 2
CTL="$BUILD/tools/hobbesctl"
CLI="$BUILD/tools/hobbes-cli"
trap '"$CTL" down --config "$CFG" >/dev/null 2>&1' EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$DIR"/data/r*p*/*.log; do echo "== $f"; tail -n 20 "$f"; done >&2
    "$CTL" down --config "$CFG" >/dev/null 2>&1
    exit 1
}
expect() { # expect WANT CMD...
    local want=$1; shift
    local got; got=$("$@" 2>&1) || fail "'$*' exited $? ($got)"
    [ "$got" = "$want" ] || fail "'$*' printed '$got', want '$want'"
}
"$CTL" up --config "$CFG" || fail "hobbesctl up"
expect OK "$CLI" --config "$CFG" call kv.put a 41
expect 42 "$CLI" --config "$CFG" call kv.add a 1
expect 42 "$CLI" --config "$CFG" call kv.get a
expect OK "$CLI" --config "$CFG" call kv.put name "hello world"
expect "hello world" "$CLI" --config "$CFG" call kv.get name
expect OK "$CLI" --config "$CFG" call kv.put b 5
# Missing key: non-zero exit, message on stderr, nothing on stdout.
out=$("$CLI" --config "$CFG" call kv.get nosuchkey 2>/dev/null) && fail "kv.get of a missing key succeeded"
[ -z "$out" ] || fail "missing key printed '$out'"
# Errors: unknown procedure, bad arguments, a logical abort.
err=$("$CLI" --config "$CFG" call kv.nope 1 2>&1) && fail "unknown procedure succeeded"
echo "$err" | grep -q "unknown procedure" || fail "unknown procedure message: $err"
err=$("$CLI" --config "$CFG" call kv.add a notanumber 2>&1) && fail "bad delta succeeded"
echo "$err" | grep -qi "integer" || fail "bad delta message: $err"
"$CLI" --config "$CFG" call kv.add a 2>/dev/null && fail "missing argument succeeded"
# status lists 6 processes, all up, with a state hash per storage.
st=$("$CTL" status --config "$CFG") || fail "status: $st"
[ "$(echo "$st" | grep -c ' up ')" = 6 ] || fail "status: $st"
# verify: every partition reports its state hash at one applied epoch.
v=$("$CTL" verify --config "$CFG") || fail "verify: $v"
[ "$(echo "$v" | grep -c 'state hash [0-9a-f]\{16\}')" = 2 ] || fail "verify: $v"
# Restart keeps data.
"$CTL" down --config "$CFG" >/dev/null || fail "down"
"$CTL" up --config "$CFG" >/dev/null || fail "up again"
expect 42 "$CLI" --config "$CFG" call kv.get a
expect "hello world" "$CLI" --config "$CFG" call kv.get name
"$CTL" down --config "$CFG" >/dev/null
[ -n "${HOBBES_KEEP:-}" ] || rm -rf "$DIR"
echo PASS
