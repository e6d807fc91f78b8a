# it_config.sh — sourced by the shell integration tests: writes a cluster
# config on free loopback ports.
#
#   it_config FILE NAME DIR PARTITIONS [pg]
#
# writes $IT_REPLICAS (default 1) replicas x PARTITIONS slots with data
# under DIR/data, plus with `pg` one sqlfront (id 0) whose PostgreSQL
# listener port it leaves in IT_PG_PORT.
it_config() {
    local file=$1 name=$2 dir=$3 parts=$4 pg=${5:-}
    local reps=${IT_REPLICAS:-1}
    local n=$((reps * parts * 3 + 2))
    local ports
    ports=($(python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
[s.bind(("127.0.0.1", 0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$n"))
    {
        printf 'cluster\n    name = %s\n    replicas = %d\n    partitions = %d\n' "$name" "$reps" "$parts"
        printf '    data_dir = %s/data\n' "$dir"
        for ((r = 0; r < reps; r++)); do
            for ((p = 0; p < parts; p++)); do
                local b=$(((r * parts + p) * 3))
                printf 'slot\n    replica = %d\n    partition = %d\n' $r $p
                printf '    sequencer = tcp://127.0.0.1:%s\n' "${ports[$b]}"
                printf '    scheduler = tcp://127.0.0.1:%s\n' "${ports[$((b + 1))]}"
                printf '    storage = tcp://127.0.0.1:%s\n' "${ports[$((b + 2))]}"
            done
        done
        if [ -n "$pg" ]; then
            printf 'sqlfront\n    id = 0\n    replica = 0\n    endpoint = tcp://127.0.0.1:%s\n' \
                "${ports[$((n - 2))]}"
            printf '    pg_listen = 127.0.0.1:%s\n' "${ports[$((n - 1))]}"
        fi
    } > "$file"
    IT_PG_PORT=${ports[$((n - 1))]}
}
