#!/bin/bash
# it_pgbench.sh — unmodified pgbench against a real 1 x 2 cluster through the
# PostgreSQL wire protocol: `pgbench -i -s 1` (default steps dtgvp: DROP,
# CREATE ... WITH (fillfactor), COPY, VACUUM, ALTER TABLE ADD PRIMARY KEY),
# `-I dtGvp` (server-side generate_series), then a 10-second run of each
# built-in script (tpcb-like, select-only, simple-update) in each query mode
# (simple, extended, prepared), and the pgbench invariants after each phase:
# sum(abalance) = sum(bbalance) = sum(tbalance) = sum(history.delta) after
# tpcb-like, nothing changed by select-only, and after simple-update (which
# leaves branches and tellers alone) sum(abalance) = sum(delta).
set -u
BUILD=$1
DUR=${HOBBES_PGBENCH_SECONDS:-10}
DIR=$(mktemp -d /tmp/hobbes-pgbench-XXXXXX)
CFG=$DIR/cluster.cfg
. "$(dirname "$0")/it_config.sh"
it_config "$CFG" pgbench "$DIR" 2 pg
CTL="$BUILD/tools/hobbesctl"
PGPORT=$IT_PG_PORT
export PGHOST=127.0.0.1 PGPORT PGUSER=bench PGDATABASE=bench PGCONNECT_TIMEOUT=10
trap '"$CTL" down --config "$CFG" >/dev/null 2>&1; [ -n "${HOBBES_KEEP:-}" ] || rm -rf "$DIR"' EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$DIR"/data/*/*.log; do
        case $f in *[0-9].log) continue ;; esac
        echo "== $f"; tail -n 20 "$f"
    done >&2
    exit 1
}
q() { psql -X -At -v ON_ERROR_STOP=1 -c "$1" 2>&1 || fail "psql: $1"; }
"$CTL" up --config "$CFG" >/dev/null || fail "hobbesctl up"

# ---- pgbench -i: client-side generation (COPY), then server-side.
for steps in ${HOBBES_PGBENCH_STEPS:-dtgvp dtGvp}; do
    out=$(timeout 300 pgbench -i -s 1 -I "$steps" 2>&1) || fail "pgbench -i -I $steps: $out"
    echo "pgbench -i -I $steps: $(echo "$out" | tail -1)"
    [ "$(q 'select count(*) from pgbench_accounts')" = 100000 ] || fail "$steps: accounts"
    [ "$(q 'select count(*) from pgbench_tellers')" = 10 ] || fail "$steps: tellers"
    [ "$(q 'select count(*) from pgbench_branches')" = 1 ] || fail "$steps: branches"
    [ "$(q 'select count(*) from pgbench_history')" = 0 ] || fail "$steps: history"
    [ "$(q 'select aid, bid, abalance from pgbench_accounts where aid = 100000')" = "100000|1|0" ] ||
        fail "$steps: account 100000"
done
# The primary key is real now: a duplicate is refused.
err=$(psql -X -c "insert into pgbench_accounts (aid, bid, abalance) values (1, 1, 0)" 2>&1) &&
    fail "duplicate aid accepted"
echo "$err" | grep -q "duplicate key" || fail "duplicate aid: $err"

sums() {
    echo "$(q 'select coalesce(sum(abalance),0) from pgbench_accounts')" \
         "$(q 'select coalesce(sum(bbalance),0) from pgbench_branches')" \
         "$(q 'select coalesce(sum(tbalance),0) from pgbench_tellers')" \
         "$(q 'select coalesce(sum(delta),0) from pgbench_history')" \
         "$(q 'select count(*) from pgbench_history')"
}

run() { # run SCRIPT MODE
    local out
    out=$(timeout $((DUR + 60)) pgbench -n -b "$1" -M "$2" -c 8 -j 2 -T "$DUR" --max-tries=50 2>&1) ||
        fail "pgbench -b $1 -M $2: $out"
    local tps txns failed
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    txns=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
    failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
    echo "pgbench -b $1 -M $2: tps $tps, $txns transactions, ${failed:-0} failed"
    [ -n "$txns" ] && [ "$txns" -gt 0 ] || fail "-b $1 -M $2 processed nothing: $out"
    # Retried 40001s are fine; a transaction that failed 50 times is not.
    [ "${failed:-0}" -le $((txns / 100)) ] || fail "-b $1 -M $2: $failed of $txns failed"
}

for m in simple extended prepared; do run tpcb-like $m; done
read -r a b t d n <<<"$(sums)"
echo "after tpcb-like: abalance $a bbalance $b tbalance $t delta $d ($n history rows)"
[ "$n" -gt 0 ] || fail "no history rows"
[ "$a" = "$d" ] && [ "$b" = "$d" ] && [ "$t" = "$d" ] || fail "invariant broken: $a $b $t $d"

for m in simple extended prepared; do run select-only $m; done
[ "$(sums)" = "$a $b $t $d $n" ] || fail "select-only changed data: $(sums)"

for m in simple extended prepared; do run simple-update $m; done
read -r a2 b2 t2 d2 n2 <<<"$(sums)"
echo "after simple-update: abalance $a2 bbalance $b2 tbalance $t2 delta $d2 ($n2 history rows)"
[ "$n2" -gt "$n" ] || fail "simple-update added no history"
[ "$a2" = "$d2" ] && [ "$b2" = "$b" ] && [ "$t2" = "$t" ] || fail "simple-update: $a2 $b2 $t2 $d2"
echo "it_pgbench: ok"
