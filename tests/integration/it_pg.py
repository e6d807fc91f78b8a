#!/usr/bin/python3
"""it_pg.py — the PostgreSQL wire protocol against a real cluster, with real
clients: psql, psycopg2 (libpq), and a raw socket client for the extended
protocol details (binary formats, row limits) and a corpus of malformed
messages, which must each get an error or a close, never a crash or a hang.

Four gateways share one 1 x 2 cluster: trust (0), scram-sha-256 with at most
3 connections and a 700 ms start-up timeout (1), md5 (2), password (3).

usage: it_pg.py BUILD_ROOT
"""
import decimal
import datetime
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import psycopg2

BUILD = sys.argv[1]
DIR = tempfile.mkdtemp(prefix="hobbes-pg-")
CFG = os.path.join(DIR, "cluster.cfg")
CTL = os.path.join(BUILD, "tools", "hobbesctl")
SEED = int(os.environ.get("HOBBES_SEED", "0") or 0) or random.randrange(1, 1 << 30)
checks = 0


def free_ports(n):
    ss = [socket.socket() for _ in range(n)]
    for s in ss:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in ss]
    for s in ss:
        s.close()
    return ports


def fail(msg):
    sys.stderr.write("FAIL: %s (seed %d)\n" % (msg, SEED))
    for root, _, files in os.walk(DIR):
        for f in files:
            if f.endswith(".log") and not f[0].isdigit() and f != "LOG":
                sys.stderr.write("== %s\n" % os.path.join(root, f))
                with open(os.path.join(root, f), errors="replace") as fh:
                    sys.stderr.write("".join(fh.readlines()[-30:]))
    down()
    sys.exit(1)


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        fail(msg)


def down():
    subprocess.run([CTL, "down", "--config", CFG], capture_output=True)


p = free_ports(13)
PG = p[9:13]
with open(CFG, "w") as f:
    f.write("cluster\n    name = pg\n    replicas = 1\n    partitions = 2\n"
            "    data_dir = %s/data\n" % DIR)
    for part in range(2):
        f.write("slot\n    replica = 0\n    partition = %d\n"
                "    sequencer = tcp://127.0.0.1:%d\n    scheduler = tcp://127.0.0.1:%d\n"
                "    storage = tcp://127.0.0.1:%d\n" % (part, p[3 * part], p[3 * part + 1],
                                                       p[3 * part + 2]))
    users = "alice:secret bob:md5%s carol:pw%%1" % __import__("hashlib").md5(
        b"hunter2bob").hexdigest()
    extra = ["pg_auth = trust",
             "pg_auth = scram-sha-256\n    pg_users = %s\n    pg_max_connections = 3\n"
             "    pg_auth_timeout_ms = 700" % users,
             "pg_auth = md5\n    pg_users = %s" % users,
             "pg_auth = password\n    pg_users = %s" % users]
    eps = free_ports(4)
    for i in range(4):
        f.write("sqlfront\n    id = %d\n    replica = 0\n    endpoint = tcp://127.0.0.1:%d\n"
                "    pg_listen = 127.0.0.1:%d\n    %s\n" % (i, eps[i], PG[i], extra[i]))

__import__("atexit").register(down)  # also when a client raises
r = subprocess.run([CTL, "up", "--config", CFG], capture_output=True, text=True)
if r.returncode != 0:
    fail("hobbesctl up: " + r.stdout + r.stderr)


def conn(i=0, **kw):
    kw.setdefault("user", "tester")
    return psycopg2.connect(host="127.0.0.1", port=PG[i], dbname="hobbes",
                            connect_timeout=10, **kw)


def psql(*args, port=None, check_rc=True):
    cmd = ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(port or PG[0]), "-U", "tester",
           "-d", "hobbes", "-v", "ON_ERROR_STOP=1"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check_rc and r.returncode != 0:
        fail("psql %s: %s" % (args, r.stderr))
    return r


# ---------------------------------------------------------------- psql
psql("-c", "CREATE TABLE kv (k int PRIMARY KEY, v text, n numeric(10,2), d date)")
psql("-c", "INSERT INTO kv VALUES (1, 'one', 1.50, '2024-01-02'), (2, NULL, -3.25, NULL)")
r = psql("-At", "-F", "|", "-c", "SELECT k, v, n, d FROM kv ORDER BY k")
check(r.stdout == "1|one|1.50|2024-01-02\n2||-3.25|\n", "psql select: %r" % r.stdout)
r = psql("-c", "\\timing on", "-c", "SELECT count(*) FROM kv")
check("Time:" in r.stdout and " 2\n" in r.stdout, "psql \\timing: %r" % r.stdout)
r = psql("-c", "\\conninfo")
check("port \"%d\"" % PG[0] in r.stdout and "tester" in r.stdout, "\\conninfo: %r" % r.stdout)
psql("-c", "CREATE INDEX kv_v ON kv (v)")
r = psql("-c", "\\dt")
check("public | kv   | table | tester" in r.stdout, "\\dt: %r" % r.stdout)
r = psql("-c", "\\d kv")
check('Table "public.kv"' in r.stdout and "numeric(10,2)" in r.stdout and
      "| not null |" in r.stdout and '"kv_pkey" PRIMARY KEY, btree (k)' in r.stdout and
      '"kv_v" btree (v)' in r.stdout, "\\d kv: %r" % r.stdout)
r = psql("-c", "\\d nosuch", check_rc=False)
check(r.returncode != 0, "\\d nosuch succeeded: %r" % r.stdout)
r = psql("-c", "SELECT * FROM nosuch", check_rc=False)
check(r.returncode != 0 and "does not exist" in r.stderr, "psql error: %r" % r.stderr)
# Several statements in one simple query, one failing: the ones before it ran.
r = psql("-At", "-c", "INSERT INTO kv (k, v) VALUES (3, 'three'); SELECT 1/0; ", check_rc=False)
check("division by zero" in r.stderr, "psql multi-statement error: %r" % r.stderr)
r = psql("-At", "-c", "SELECT v FROM kv WHERE k = 3")
check(r.stdout == "three\n", "statement before the failing one ran: %r" % r.stdout)

# COPY FROM STDIN through psql's \copy: escapes, NULL, a last line without \n.
data = os.path.join(DIR, "rows.txt")
with open(data, "w") as f:
    for k in range(100, 2600):
        f.write("%d\tv\\t%d\\\\x\t%d.25\t\\N\n" % (k, k, k))
    f.write("2600\tlast\t0\t2025-12-31")
psql("-c", "\\copy kv FROM '%s'" % data)
r = psql("-At", "-c", "SELECT count(*), sum(n) FROM kv WHERE k >= 100")
want_sum = sum(k + 0.25 for k in range(100, 2600))
check(r.stdout.strip() == "2501|%.2f" % want_sum, "COPY FROM: %r" % r.stdout)
r = psql("-At", "-c", "SELECT v, d FROM kv WHERE k = 100")
check(r.stdout == "v\t100\\x|\n", "COPY escapes: %r" % r.stdout)
r = psql("-At", "-c", "SELECT v, d FROM kv WHERE k = 2600")
check(r.stdout == "last|2025-12-31\n", "COPY last line: %r" % r.stdout)
bad = os.path.join(DIR, "bad.txt")
with open(bad, "w") as f:
    f.write("5000\tx\t1\t\\N\n5001\tonly-two\n")
r = psql("-c", "\\copy kv FROM '%s'" % bad, check_rc=False)
check(r.returncode != 0 and "missing data" in r.stderr, "COPY short row: %r" % r.stderr)
out = os.path.join(DIR, "out.txt")
psql("-c", "\\copy kv TO '%s'" % out)
with open(out) as f:
    lines = f.read().splitlines()
check(len(lines) >= 2503 and "100\tv\\t100\\\\x\t100.25\t\\N" in lines,
      "COPY TO: %d lines" % len(lines))

# ---------------------------------------------------------------- psycopg2
c = conn()
c.autocommit = True
cur = c.cursor()
cur.execute("CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, owner text, "
            "f float8, ok boolean, b bytea, born date, at timestamp, amt numeric(12,3))")
row = (7, 10 ** 12, "o'Brien \"q\" \\ ü", 0.1, True, b"\x00\xff", datetime.date(1999, 12, 31),
       datetime.datetime(2024, 2, 29, 23, 59, 58, 123456), decimal.Decimal("-12.345"))
cur.execute("INSERT INTO acct VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
cur.execute("SELECT id, bal, owner, f, ok, b, born, at, amt FROM acct WHERE id = %s", (7,))
got = cur.fetchone()
got = got[:5] + (bytes(got[5]),) + got[6:]
check(got == row, "psycopg2 round trip: %r != %r" % (got, row))
cur.execute("SELECT owner FROM acct WHERE id = %s AND owner = %s", (7, row[2]))
check(cur.fetchone() == (row[2],), "psycopg2 text parameter")
cur.execute("SHOW transaction_isolation")
check(cur.fetchone() == ("serializable",), "SHOW transaction_isolation")
check(c.server_version == 150000, "server_version %d" % c.server_version)
cur.execute("INSERT INTO acct (id, bal) VALUES (%s, %s), (%s, %s)", (1, 100, 2, 100))
check(cur.rowcount == 2, "rowcount %d" % cur.rowcount)

# COPY through psycopg2, then the same session reads all of it at once.
import io
cur.execute("CREATE TABLE bulk (k int PRIMARY KEY, v text)")
cur.copy_expert("COPY bulk FROM STDIN", io.StringIO("".join("%d\tx%d\n" % (k, k) for k in range(5000))))
cur.execute("SELECT count(*), sum(k) FROM bulk")
check(cur.fetchone() == (5000, sum(range(5000))), "read after COPY in the same session")

# Errors carry their SQLSTATE.
for sql, code in [("SELECT * FROM nosuch", "42P01"), ("SELECT 1/0", "22012"),
                  ("INSERT INTO acct (id, bal) VALUES (1, 5)", "23505"),
                  ("INSERT INTO acct (id) VALUES (9)", "23502"), ("SELEKT 1", "42601"),
                  ("SELECT nosuchcol FROM acct", "42703"), ("SHOW nosuch", "42704")]:
    try:
        cur.execute(sql)
        fail("%s succeeded" % sql)
    except psycopg2.Error as e:
        check(e.pgcode == code, "%s: SQLSTATE %s, want %s" % (sql, e.pgcode, code))

# Transactions: psycopg2 opens a block with the first statement.
t1, t2 = conn(), conn()
a, b = t1.cursor(), t2.cursor()
a.execute("UPDATE acct SET bal = bal - 30 WHERE id = 1")
a.execute("UPDATE acct SET bal = bal + 30 WHERE id = 2")
a.execute("SELECT bal FROM acct WHERE id = 1")
check(a.fetchone() == (70,), "a block reads its own writes")
b.execute("SELECT bal FROM acct WHERE id = 1")
check(b.fetchone() == (100,), "another session does not see uncommitted writes")
t2.rollback()
t1.commit()
b.execute("SELECT sum(bal) FROM acct WHERE id IN (1, 2)")
check(b.fetchone() == (200,), "committed transfer keeps the total")
b.execute("SELECT bal FROM acct WHERE id = 1")
check(b.fetchone() == (70,), "committed write visible")
t2.rollback()
# ROLLBACK discards.
a.execute("UPDATE acct SET bal = 0 WHERE id = 1")
t1.rollback()
a.execute("SELECT bal FROM acct WHERE id = 1")
check(a.fetchone() == (70,), "rollback discarded the write")
t1.rollback()
# A failed block answers 25P02 until ROLLBACK.
try:
    a.execute("SELECT 1/0")
except psycopg2.Error as e:
    check(e.pgcode == "22012", "22012 in a block")
try:
    a.execute("SELECT 1")
    fail("statement in a failed block succeeded")
except psycopg2.Error as e:
    check(e.pgcode == "25P02", "25P02 in a failed block, got %s" % e.pgcode)
t1.rollback()
a.execute("SELECT 1")
check(a.fetchone() == (1,), "after ROLLBACK the session works")
t1.rollback()
# Blind increments of one row from two open blocks: neither conflicts.
a.execute("UPDATE acct SET bal = bal + 1 WHERE id = 2")
b.execute("UPDATE acct SET bal = bal + 10 WHERE id = 2")
check(a.rowcount == 1 and b.rowcount == 1, "blind increment row counts")
t1.commit()
t2.commit()
a.execute("SELECT bal FROM acct WHERE id = 2")
check(a.fetchone() == (141,), "both blind increments applied")
t1.rollback()
# Read-modify-write of one row from two blocks: the second COMMIT is 40001.
a.execute("SELECT bal FROM acct WHERE id = 2")
b.execute("SELECT bal FROM acct WHERE id = 2")
a.execute("UPDATE acct SET bal = %s WHERE id = 2", (a.fetchone()[0] + 1,))
b.execute("UPDATE acct SET bal = %s WHERE id = 2", (b.fetchone()[0] + 1,))
t1.commit()
try:
    t2.commit()
    fail("a lost update committed")
except psycopg2.Error as e:
    check(e.pgcode == "40001", "conflicting COMMIT: SQLSTATE %s" % e.pgcode)
a.execute("SELECT bal FROM acct WHERE id = 2")
check(a.fetchone() == (142,), "one of the two read-modify-writes")
t1.rollback()
t1.close()
t2.close()
c.close()

# ---------------------------------------------------------------- authentication
for i, method in [(1, "scram"), (2, "md5"), (3, "password")]:
    # bob's secret is an md5 hash: it cannot answer SCRAM (as in PostgreSQL).
    for user, pw, ok in [("alice", "secret", True), ("bob", "hunter2", method != "scram"),
                         ("carol", "pw%1", True), ("alice", "wrong", False),
                         ("mallory", "secret", False)]:
        try:
            x = conn(i, user=user, password=pw)
            x.autocommit = True
            y = x.cursor()
            y.execute("SELECT v FROM kv WHERE k = 1")
            check(y.fetchone() == ("one",), "%s as %s: query" % (method, user))
            x.close()
            check(ok, "%s accepted %s/%s" % (method, user, pw))
        except psycopg2.OperationalError as e:
            check(not ok and "password authentication failed" in str(e),
                  "%s refused %s/%s: %s" % (method, user, pw, e))

# ---------------------------------------------------------------- limits
held = [conn(1, user="alice", password="secret") for _ in range(3)]
try:
    conn(1, user="alice", password="secret")
    fail("a 4th connection was accepted (pg_max_connections = 3)")
except psycopg2.OperationalError as e:
    check("too many clients" in str(e), "53300: %s" % e)
for h in held:
    h.close()
time.sleep(0.3)
x = conn(1, user="alice", password="secret")  # the slots came back
x.close()
s = socket.create_connection(("127.0.0.1", PG[1]), timeout=5)
t0 = time.time()
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    fail("a silent connection was not closed by the start-up timeout")
check(time.time() - t0 < 4 and b"08006" in data, "start-up timeout: %r" % data)
s.close()


# ---------------------------------------------------------------- raw protocol
def startup(user="tester"):
    body = struct.pack("!i", 196608) + b"user\0" + user.encode() + b"\0database\0hobbes\0\0"
    return struct.pack("!i", len(body) + 4) + body


def msg(t, body=b""):
    return t + struct.pack("!i", len(body) + 4) + body


LEFTOVER = {}


def read_msgs(s, until=b"Z", limit=5.0):
    """Reads messages until one of type `until` (or close); returns [(type, body)]."""
    s.settimeout(limit)
    buf, out = LEFTOVER.pop(s.fileno(), b""), []
    while True:
        while len(buf) >= 5:
            n = struct.unpack("!i", buf[1:5])[0]
            if len(buf) < 1 + n:
                break
            out.append((buf[:1], buf[5:1 + n]))
            buf = buf[1 + n:]
            if out[-1][0] == until:
                LEFTOVER[s.fileno()] = buf  # what came after, for the next call
                return out
        chunk = s.recv(65536)
        if not chunk:
            return out
        buf += chunk


def raw():
    s = socket.create_connection(("127.0.0.1", PG[0]), timeout=5)
    LEFTOVER.pop(s.fileno(), None)
    s.sendall(startup())
    got = read_msgs(s)
    check(got and got[-1] == (b"Z", b"I"), "raw start-up: %r" % got[-3:])
    return s


s = raw()
# Extended protocol: binary int4 parameter, binary results, row limits.
q = b"SELECT k, v, n, d FROM kv WHERE k >= $1 ORDER BY k\0"
s.sendall(msg(b"P", b"q1\0" + q + struct.pack("!hi", 1, 23)) +
          msg(b"D", b"Sq1\0") +
          msg(b"B", b"\0q1\0" + struct.pack("!hhhii", 1, 1, 1, 4, 1) + struct.pack("!hh", 1, 1)) +
          msg(b"E", b"\0" + struct.pack("!i", 2)) +
          msg(b"E", b"\0" + struct.pack("!i", 1)) +
          msg(b"S"))
got = read_msgs(s)
types = b"".join(t for t, _ in got)
check(types == b"1tT2DDsDsZ", "extended protocol messages: %r" % got)
pd = got[1][1]
check(struct.unpack("!hi", pd) == (1, 23), "ParameterDescription: %r" % pd)
rd = got[2][1]
check(rd.startswith(struct.pack("!h", 4) + b"k\0"), "RowDescription: %r" % rd)
d1 = got[4][1]
# first row k = 1 (binary int4), v = 'one', n = 1.50 numeric binary, d = 2024-01-02 binary
f = struct.unpack("!hi", d1[:6])
check(f == (4, 4) and struct.unpack("!i", d1[6:10])[0] == 1, "binary int4 cell: %r" % d1)
off = 10
vl = struct.unpack("!i", d1[off:off + 4])[0]
check(d1[off + 4:off + 4 + vl] == b"one", "binary text cell: %r" % d1)
off += 4 + vl
nl = struct.unpack("!i", d1[off:off + 4])[0]
num = d1[off + 4:off + 4 + nl]
check(num == struct.pack("!hhhhhh", 2, 0, 0, 2, 1, 5000), "binary numeric 1.50: %r" % num)
off += 4 + nl
dl = struct.unpack("!i", d1[off:off + 4])[0]
days = (datetime.date(2024, 1, 2) - datetime.date(2000, 1, 1)).days
check(d1[off + 4:off + 4 + dl] == struct.pack("!i", days), "binary date: %r" % d1)
# Errors skip to Sync; the unnamed statement; a simple query after.
s.sendall(msg(b"B", b"\0nosuch\0" + struct.pack("!hhh", 0, 0, 0)) +
          msg(b"E", b"\0" + struct.pack("!i", 0)) + msg(b"S") +
          msg(b"Q", b"SELECT 41 + 1\0"))
got = read_msgs(s)
check(got[0][0] == b"E" and b"26000" in got[0][1] and got[1] == (b"Z", b"I"),
      "Bind to a missing statement: %r" % got)
got = read_msgs(s)
check([t for t, _ in got] == [b"T", b"D", b"C", b"Z"] and got[1][1].endswith(b"42"),
      "simple query after an error: %r" % got)

# A result larger than the output buffer's pause mark, pipelined with its
# Sync in one write (as PQexecParams sends it): ReadyForQuery still comes.
q = b"SELECT g, g FROM generate_series(1, 300000) AS g\0"
s.sendall(msg(b"P", b"\0" + q + b"\0\0") + msg(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0)) +
          msg(b"E", b"\0" + struct.pack("!i", 0)) + msg(b"S"))
got = read_msgs(s, limit=60)
check(len(got) == 300004 and got[-2][1].startswith(b"SELECT 300000") and got[-1][0] == b"Z",
      "a 300,000-row pipelined result: %d messages, last %r" % (len(got), got[-2:]))
# Text longer than limits/max_value_bytes: an error, not a hang.
s.sendall(msg(b"Q", b"SELECT '" + b"x" * 1500000 + b"'\0"))
got = read_msgs(s, limit=30)
check(got[0][0] == b"E" and b"54000" in got[0][1] and got[-1][0] == b"Z",
      "an oversized statement: %r" % [(t, b[:60]) for t, b in got])
# An error the gateway raises inside a block (a bad binary parameter) fails
# the block: COMMIT rolls back, as in PostgreSQL.
s.sendall(msg(b"Q", b"BEGIN; INSERT INTO kv (k, v) VALUES (7001, 'x')\0"))
got = read_msgs(s)
check(got[-1] == (b"Z", b"T"), "BEGIN + INSERT: %r" % got)
s.sendall(msg(b"P", b"\0SELECT v FROM kv WHERE k = $1\0" + struct.pack("!hi", 1, 23)) +
          msg(b"B", b"\0\0" + struct.pack("!hhhih", 1, 1, 1, 2, 7) + struct.pack("!h", 0)) +
          msg(b"E", b"\0" + struct.pack("!i", 0)) + msg(b"S"))
got = read_msgs(s)
check(any(t == b"E" and b"22P03" in b for t, b in got) and got[-1] == (b"Z", b"E"),
      "a bad binary parameter in a block: %r" % got)
s.sendall(msg(b"Q", b"SELECT 1\0"))
got = read_msgs(s)
check(b"25P02" in got[0][1] and got[-1] == (b"Z", b"E"), "25P02 after it: %r" % got)
s.sendall(msg(b"Q", b"COMMIT\0"))
got = read_msgs(s)
check(got[0] == (b"C", b"ROLLBACK\0") and got[-1] == (b"Z", b"I"), "COMMIT rolls back: %r" % got)
# Describe of a write's portal does not run it; only Execute does.
s.sendall(msg(b"P", b"\0INSERT INTO kv (k, v) VALUES (7002, 'y')\0\0\0") +
          msg(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0)) + msg(b"D", b"P\0") + msg(b"S"))
got = read_msgs(s)
check([t for t, _ in got] == [b"1", b"2", b"n", b"Z"], "Describe of an INSERT: %r" % got)
s.sendall(msg(b"Q", b"SELECT count(*) FROM kv WHERE k IN (7001, 7002)\0"))
got = read_msgs(s)
check(got[1][1].endswith(b"0"), "neither the rolled-back nor the described row exists: %r" % got)
s.close()

# A COPY line longer than a value can be: 54000, and the gateway goes on.
s = raw()
s.sendall(msg(b"Q", b"COPY kv (k, v) FROM STDIN\0"))
got = read_msgs(s, until=b"G")
check(got[-1][0] == b"G", "CopyInResponse: %r" % got)
for _ in range(3):
    s.sendall(msg(b"d", b"9\t" + b"y" * 600000))
s.sendall(msg(b"c"))
got = read_msgs(s, limit=30)
check(any(t == b"E" and b"54000" in b for t, b in got) and got[-1][0] == b"Z",
      "an endless COPY line: %r" % [(t, b[:60]) for t, b in got])
s.close()

# Connections that end inside a block give their engine session back.
def sessions():
    r = subprocess.run([CTL, "status", "--config", CFG], capture_output=True, text=True)
    import re
    return sum(int(x) for x in re.findall(r"sql_sessions=(\d+)", r.stdout))


def open_blocks(k):
    for _ in range(k):
        x = conn()
        y = x.cursor()
        y.execute("UPDATE kv SET v = 'z' WHERE k = 1")  # psycopg2 opened a block
        x.close()  # Terminate, block open


open_blocks(40)
time.sleep(0.5)
first = sessions()
open_blocks(40)
time.sleep(0.5)
check(sessions() <= first + 4, "engine sessions grew from %d to %d" % (first, sessions()))
s.close()


def alive():
    x = conn()
    x.autocommit = True
    y = x.cursor()
    y.execute("SELECT count(*) FROM kv WHERE k < 100")
    v = y.fetchone()
    x.close()
    return v == (3,)


rnd = random.Random(SEED)
ready = startup()
corpus = [
    ("truncated start-up", b"\x00\x00\x00\x10\x00\x03", None),
    ("start-up length 3", struct.pack("!i", 3) + b"\0" * 8, b"08P01"),
    ("start-up length 2^31-1", struct.pack("!ii", 0x7fffffff, 196608), b"08P01"),
    ("start-up negative length", struct.pack("!ii", -8, 196608), b"08P01"),
    ("protocol 2.0", struct.pack("!ii", 8, 131072), b"0A000"),
    ("bytes after SSLRequest", struct.pack("!ii", 8, 80877103) + ready, b"08P01"),
    ("no user", struct.pack("!i", 9 + 4) + struct.pack("!i", 196608) + b"a\0b\0\0", b"28000"),
    ("unterminated parameters", struct.pack("!i", 8 + 6) + struct.pack("!i", 196608) +
     b"user\0x", b"08P01"),
    ("message length 2", ready + b"Q\x00\x00\x00\x02", b"08P01"),
    ("message length 2^31-1", ready + b"Q\x7f\xff\xff\xff", b"08P01"),
    ("negative message length", ready + b"Q\xff\xff\xff\xf0", b"08P01"),
    ("unknown message type", ready + msg(b"\x01", b"xyz"), b"08P01"),
    ("query without NUL", ready + msg(b"Q", b"SELECT 1"), b"08P01"),
    ("truncated Parse", ready + msg(b"P", b"s\0SELECT"), b"08P01"),
    ("Bind with too many values", ready + msg(b"P", b"s\0SELECT $1\0\0\0") +
     msg(b"B", b"\0s\0\0\0\x7f\xff"), b"08P01"),
    ("Execute of a missing portal", ready + msg(b"E", b"nope\0\0\0\0\0") + msg(b"S"),
     b"34000"),
    ("Describe of a bad kind", ready + msg(b"D", b"Xs\0") + msg(b"S"), b"08P01"),
    ("password message without auth", ready + msg(b"p", b"pw\0"), b"08P01"),
    ("CopyData outside COPY", ready + msg(b"d", b"1\t2\n") + msg(b"Q", b"SELECT 1\0"), None),
    ("SSLRequest then GSSENCRequest then start-up",
     struct.pack("!ii", 8, 80877103), b"N"),
]
for i in range(30):
    junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
    corpus.append(("random bytes %d" % i, junk, None))
    corpus.append(("random message %d" % i,
                   ready + bytes([rnd.choice(b"QPBDECSHFdcfpX")]) + junk, None))
for name, payload, want in corpus:
    s = socket.create_connection(("127.0.0.1", PG[0]), timeout=5)
    try:
        s.sendall(payload)
    except OSError:
        pass
    data = b""
    s.settimeout(5)
    t0 = time.time()
    try:
        while time.time() - t0 < 5:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if want and want in data:
                break
            if not want and data.endswith(b"Z\x00\x00\x00\x05I"):
                break
    except socket.timeout:
        # A partial message waits for more bytes (as PostgreSQL does); the
        # start-up timeout ends it. Only a hang after a complete message is a bug.
        if want:
            fail("%s: no answer in 5 s (got %r)" % (name, data[:80]))
    except ConnectionResetError:
        pass
    if want:
        check(want in data, "%s: want %r in %r" % (name, want, data[:120]))
    s.close()
check(alive(), "the gateway still answers after the corpus")

# The counters saw it.
r = subprocess.run([CTL, "status", "--config", CFG], capture_output=True, text=True)
check(r.returncode == 0, "hobbesctl status after the corpus")

down()
shutil.rmtree(DIR, ignore_errors=True)
print("it_pg: %d checks passed (seed %d)" % (checks, SEED))
