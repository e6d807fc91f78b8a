# it_config.sh — sourced by the shell integration tests: writes a cluster
# config on free loopback ports.
#
#   it_config FILE NAME DIR PARTITIONS [pg]
#
# writes 1 replica x PARTITIONS slots with data under DIR/data, plus with
# `pg` one sqlfront (id 0) whose PostgreSQL listener port it leaves in
# IT_PG_PORT.
it_config() {
    local file=$1 name=$2 dir=$3 parts=$4 pg=${5:-}
    local n=$((parts * 3 + 2))
    local ports
    ports=($(python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
[s.bind(("127.0.0.1", 0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$n"))
    {
        printf 'cluster\n    name = %s\n    replicas = 1\n    partitions = %d\n' "$name" "$parts"
        printf '    data_dir = %s/data\n' "$dir"
        for ((p = 0; p < parts; p++)); do
            printf 'slot\n    replica = 0\n    partition = %d\n' $p
            printf '    sequencer = tcp://127.0.0.1:%s\n' "${ports[$((p * 3))]}"
            printf '    scheduler = tcp://127.0.0.1:%s\n' "${ports[$((p * 3 + 1))]}"
            printf '    storage = tcp://127.0.0.1:%s\n' "${ports[$((p * 3 + 2))]}"
        done
        if [ -n "$pg" ]; then
            printf 'sqlfront\n    id = 0\n    replica = 0\n    endpoint = tcp://127.0.0.1:%s\n' \
                "${ports[$((n - 2))]}"
            printf '    pg_listen = 127.0.0.1:%s\n' "${ports[$((n - 1))]}"
        fi
    } > "$file"
    IT_PG_PORT=${ports[$((n - 1))]}
}
