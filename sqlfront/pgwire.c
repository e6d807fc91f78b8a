/* pgwire.c — the PostgreSQL wire protocol thread: connections, buffers, loop.
 *
 * One thread (pgwire.h) owns the listener and every connection. Each
 * connection is a state machine fed by its input buffer: s_process takes
 * messages one at a time and hands them to the file of their concern
 * (pgwire_startup.c, pgwire_query.c, pgwire_ext.c, pgwire_copy.c); a
 * message that needs the engine sends one request (sqlf_pg_request) and
 * stops the machine until the RESULT comes back on the worker's PAIR
 * (s_on_result), since the engine runs one request per session at a time
 * and so keeps the order of a connection's statements. Output is buffered
 * (sqlf_pg_put*, sqlf_pg_begin/_end) and written at ReadyForQuery, Flush,
 * or when it grows large.
 *
 * Entry points: sqlf_pg_start / sqlf_pg_stop / sqlf_pg_stats (pgwire.h);
 * for the other pgwire files, the buffer and message helpers and the
 * request functions of pgwire_int.h.
 */
#include "pgwire.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "hb_alloc.h"
#include "hb_hash.h"
#include "hb_sqlstate.h"
#include "pgwire_int.h"

#define S_STARTUP_MAX 10000      /* longest start-up packet (as PostgreSQL) */
#define S_OUT_PAUSE   (4u << 20) /* unread output that stops reading input */
#define S_IN_AHEAD    (1u << 20) /* input read ahead while a connection waits */
#define S_HARD_CONNS  4          /* sockets kept open: this many times max_connections */

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Buffers and output messages                                          */
/* ------------------------------------------------------------------ */

void
sqlf_pg_reserve(sqlf_pg_buf_t *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
        if (n <= b->cap)
            return;
    }
    HB_GROW(b->p, b->cap, b->len + n, 256);
}

void
sqlf_pg_put(sqlf_pg_buf_t *b, const void *p, size_t n)
{
    sqlf_pg_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void
sqlf_pg_put8(sqlf_pg_buf_t *b, uint8_t v)
{
    sqlf_pg_put(b, &v, 1);
}

void
sqlf_pg_put16(sqlf_pg_buf_t *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    sqlf_pg_put(b, x, 2);
}

void
sqlf_pg_put32(sqlf_pg_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    sqlf_pg_put(b, x, 4);
}

void
sqlf_pg_put64(sqlf_pg_buf_t *b, uint64_t v)
{
    sqlf_pg_put32(b, (uint32_t)(v >> 32));
    sqlf_pg_put32(b, (uint32_t)v);
}

void
sqlf_pg_putz(sqlf_pg_buf_t *b, const char *s)
{
    sqlf_pg_put(b, s, strlen(s) + 1);
}

/* Starts a message of type t; returns where its length goes. */
size_t
sqlf_pg_begin(sqlf_pg_buf_t *b, char t)
{
    sqlf_pg_put8(b, (uint8_t)t);
    size_t at = b->len;
    sqlf_pg_put32(b, 0);
    return at;
}

void
sqlf_pg_end(sqlf_pg_buf_t *b, size_t at)
{
    uint32_t n = (uint32_t)(b->len - at);
    b->p[at] = (uint8_t)(n >> 24);
    b->p[at + 1] = (uint8_t)(n >> 16);
    b->p[at + 2] = (uint8_t)(n >> 8);
    b->p[at + 3] = (uint8_t)n;
}

void
sqlf_pg_simple_msg(sqlf_pg_conn_t *c, char t)
{
    sqlf_pg_end(&c->out, sqlf_pg_begin(&c->out, t));
}

void
sqlf_pg_error(sqlf_pg_conn_t *c, const char *severity, const char *sqlstate,
              const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t at = sqlf_pg_begin(&c->out, 'E');
    sqlf_pg_put8(&c->out, 'S');
    sqlf_pg_putz(&c->out, severity);
    sqlf_pg_put8(&c->out, 'V');
    sqlf_pg_putz(&c->out, severity);
    sqlf_pg_put8(&c->out, 'C');
    sqlf_pg_putz(&c->out, sqlstate);
    sqlf_pg_put8(&c->out, 'M');
    sqlf_pg_putz(&c->out, msg);
    sqlf_pg_put8(&c->out, 0);
    sqlf_pg_end(&c->out, at);
}

void
sqlf_pg_engine_error(sqlf_pg_conn_t *c, const char *msg, uint32_t len)
{
    char state[6];
    const char *text;
    size_t tl;
    /* Five characters alone are text here, not a code. */
    if (len < 6 || !hb_sqlstate_split(msg, len, state, &text, &tl)) {
        memcpy(state, "XX000", 6);
        text = msg;
        tl = len;
    }
    /* A plan made for another catalog version (storage's XXCAT) that got
     * this far: the client may retry it, as a serialization failure. */
    if (strcmp(state, "XXCAT") == 0)
        memcpy(state, "40001", 6);
    sqlf_pg_error(c, "ERROR", state, "%.*s", (int)tl, text);
}

void
sqlf_pg_ready(sqlf_pg_conn_t *c)
{
    size_t at = sqlf_pg_begin(&c->out, 'Z');
    sqlf_pg_put8(&c->out, (uint8_t)c->txn);
    sqlf_pg_end(&c->out, at);
}

/* ------------------------------------------------------------------ */
/* Requests to the engine                                               */
/* ------------------------------------------------------------------ */

static void
s_peer(uint64_t id, uint8_t out[SQLF_PG_PEER_LEN])
{
    out[0] = 0;
    out[1] = 'P';
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(id >> (56 - 8 * i));
}

uint64_t
sqlf_pg_submit(sqlf_pg_t *self, sqlf_pg_conn_t *c, uint32_t sub, const char *proc,
               const hb_val_t *args, uint32_t nargs)
{
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = ++self->next_req;
    m.u.submit.proc = proc;
    m.u.submit.proc_len = (uint32_t)strlen(proc);
    m.u.submit.nargs = nargs;
    m.u.submit.args = (hb_val_t *)args;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint64_t id = 0;
    if (hb_msg_encode(&m, &sb) == HB_OK && sb.size <= self->lim.max_frame_bytes) {
        uint8_t peer[SQLF_PG_PEER_LEN];
        s_peer(c->id | ((uint64_t)sub << 56), peer);
        void *pair =
            self->pairs[hb_hash64(peer, sizeof peer, 0) % (uint64_t)self->nworkers];
        if (zmq_send(pair, peer, sizeof peer, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
            zmq_send(pair, sb.data, sb.size, ZMQ_DONTWAIT) >= 0)
            id = m.u.submit.req_id;
    }
    msgpack_sbuffer_destroy(&sb);
    return id;
}

bool
sqlf_pg_request(sqlf_pg_t *self, sqlf_pg_conn_t *c, const char *proc, const char *text,
                size_t len, const hb_val_t *params, uint32_t nparams, int cont)
{
    if (len > self->lim.max_value_bytes) {
        sqlf_pg_error(c, "ERROR", "54000",
                      "the statement text is %zu bytes, longer than "
                      "limits/max_value_bytes (%u)",
                      len, self->lim.max_value_bytes);
        return false;
    }
    if (nparams + 1 > self->lim.max_args) {
        sqlf_pg_error(c, "ERROR", "54023",
                      "%u parameters: at most %u fit in one statement", nparams,
                      self->lim.max_args - 1);
        return false;
    }
    hb_val_t *args = hb_malloc((nparams + 1) * sizeof *args);
    args[0] = hb_val_str(text, (uint32_t)len);
    for (uint32_t i = 0; i < nparams; i++)
        args[i + 1] = params[i];
    c->req = sqlf_pg_submit(self, c, 0, proc, args, nparams + 1);
    hb_free(args);
    if (!c->req) {
        sqlf_pg_error(c, "ERROR", "54000", "the statement does not fit in one request");
        return false;
    }
    c->waiting = true;
    c->cont = cont;
    return true;
}

void
sqlf_pg_close_session(sqlf_pg_t *self, uint64_t id, uint32_t sub)
{
    sqlf_pg_conn_t gone = {.id = id};
    (void)sqlf_pg_submit(self, &gone, sub, "sql.close", NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

/* Closes c's socket and frees it. */
static void
s_close(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    /* The sessions (and an open block) go away with the connection; one
     * still running a request is closed when it answers. */
    for (uint32_t sub = 0; c->session && sub <= SQLF_PG_SUBS; sub++) {
        if (sub && !c->copy.sub_used[sub])
            continue;
        bool busy = sub ? c->copy.sub_busy[sub] : c->waiting;
        if (!busy) {
            sqlf_pg_close_session(self, c->id, sub);
            continue;
        }
        HB_GROW(self->orphans, self->caporphans, self->norphans + 1, 64);
        self->orphans[self->norphans++] = c->id | (uint64_t)sub << 56;
    }
    close(c->fd);
    if (c->counted)
        self->nconns--;
    sqlf_pg_ext_free(c);
    sqlf_pg_copy_free(c);
    hb_free(c->in.p);
    hb_free(c->out.p);
    self->conns[c->id & 0xffff] = NULL;
    hb_free(c);
}

/* Writes what it can of c's output; returns false when the peer is gone. */
static bool
s_flush(sqlf_pg_conn_t *c)
{
    while (c->out.off < c->out.len) {
        ssize_t n =
            send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            return false;
        }
        c->out.off += (size_t)n;
    }
    c->out.off = c->out.len = 0;
    return true;
}

static size_t
s_conn_mem(const sqlf_pg_conn_t *c)
{
    return c->in.cap + c->out.cap + c->copy.line.cap + c->copy.cells.cap + c->held;
}

/* ------------------------------------------------------------------ */
/* Engine answers                                                       */
/* ------------------------------------------------------------------ */

/* Decodes an engine answer into *m, over a copy of the frame (*owned,
 * which m borrows). An answer that cannot be read still ends what waits
 * for it (a connection has one request out per session): it becomes a
 * failure of that request. Returns false when nothing waits for it. */
static bool
s_decode_result(sqlf_pg_t *self, sqlf_pg_conn_t *c, uint32_t sub, const uint8_t *frame,
                size_t len, hb_msg_t *m, uint8_t **owned)
{
    hb_limits_t rlim = self->lim;
    rlim.max_args = len < UINT32_MAX ? (uint32_t)len : UINT32_MAX;
    rlim.max_value_bytes = rlim.max_args; /* a cell may be as large as the frame */
    uint8_t *copy = hb_malloc(len ? len : 1);
    memcpy(copy, frame, len);
    if (hb_msg_decode(copy, len, &rlim, m) == HB_OK && m->type == HB_MSG_RESULT) {
        *owned = copy;
        return true;
    }
    hb_free(copy);
    static const char bad[] = "XX000 unreadable result from the engine";
    memset(m, 0, sizeof *m);
    m->type = HB_MSG_RESULT;
    m->u.result.rc = HB_PROTO;
    m->u.result.msg = bad;
    m->u.result.msg_len = sizeof bad - 1;
    if (sub && sub <= SQLF_PG_SUBS && c->copy.sub_busy[sub])
        m->u.result.req_id = c->copy.sub_req[sub];
    else if (!sub && c->waiting)
        m->u.result.req_id = c->req;
    else
        return false;
    *owned = hb_malloc(1);
    return true;
}

/* An engine answer for session sub of c: a COPY chunk's (sub > 0), or the
 * one c waits for, handed to the continuation its request named. */
static void
s_on_result(sqlf_pg_t *self, sqlf_pg_conn_t *c, uint32_t sub, const uint8_t *frame,
            size_t len)
{
    hb_msg_t m;
    uint8_t *owned;
    if (!s_decode_result(self, c, sub, frame, len, &m, &owned))
        return;
    bool keep = false; /* the portal keeps m and its frame */
    if (sub) {
        sqlf_pg_copy_on_chunk(self, c, sub, &m);
    } else if (c->waiting && m.u.result.req_id == c->req) {
        c->waiting = false;
        bool failed = m.u.result.rc != 0;
        if (failed)
            SQLF_PG_COUNT(self, c_errors);
        switch (c->cont) {
        case SQLF_PG_K_SIMPLE:
            sqlf_pg_on_simple(c, &m, failed);
            break;
        case SQLF_PG_K_RUN:
            keep = sqlf_pg_ext_on_run(c, &m, owned, len, failed);
            break;
        case SQLF_PG_K_DESCRIBE:
        case SQLF_PG_K_DESCRIBE_P:
            sqlf_pg_ext_on_describe(c, &m, failed);
            break;
        case SQLF_PG_K_COPY_COLS:
        case SQLF_PG_K_COPY_OUT:
        case SQLF_PG_K_COPY_FIN:
            sqlf_pg_copy_on_result(self, c, &m, failed);
            break;
        default:
            break;
        }
    }
    if (!keep) {
        hb_msg_clear(&m);
        hb_free(owned);
    }
}

/* ------------------------------------------------------------------ */
/* The message loop of one connection                                   */
/* ------------------------------------------------------------------ */

static bool
s_paused(const sqlf_pg_conn_t *c)
{
    return c->waiting || c->copy.end || (c->copy.in && sqlf_pg_copy_full(c)) ||
           c->out.len - c->out.off > S_OUT_PAUSE;
}

/* Ends a connection that holds more than pg_session_memory (53200). */
static bool
s_over_memory(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    if (s_conn_mem(c) <= self->cfg.pg_session_memory)
        return false;
    SQLF_PG_COUNT(self, c_mem_kills);
    sqlf_pg_error(
        c, "FATAL", "53200",
        "out of memory: the session holds more than pg_session_memory (%llu bytes)",
        (unsigned long long)self->cfg.pg_session_memory);
    c->phase = SQLF_PG_CLOSING;
    return true;
}

/* Takes the start-up packet (or SSLRequest, CancelRequest) from c's input;
 * returns false when the loop stops: the packet is not all there, or its
 * length is wrong (c closes). */
static bool
s_take_startup(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    size_t avail = c->in.len - c->in.off;
    const uint8_t *h = c->in.p + c->in.off;
    if (avail < 4)
        return false;
    uint32_t len = sqlf_pg_get32(h);
    if (len < 8 || len > S_STARTUP_MAX) {
        SQLF_PG_COUNT(self, c_proto_err);
        sqlf_pg_error(c, "FATAL", "08P01", "invalid length of startup packet");
        c->phase = SQLF_PG_CLOSING;
        return false;
    }
    if (avail < len)
        return false;
    c->in.off += len;
    sqlf_pg_startup(self, c, h + 4, len - 4);
    return true;
}

/* Takes one message from c's input: its type, and its body of *blen bytes
 * (valid until the next read). Returns false when the loop stops: the
 * message is not all there, or its length is wrong (c closes). */
static bool
s_take_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, char *type, const uint8_t **body,
           uint32_t *blen)
{
    size_t avail = c->in.len - c->in.off;
    const uint8_t *h = c->in.p + c->in.off;
    if (avail < 5)
        return false;
    char t = (char)h[0];
    uint32_t len = sqlf_pg_get32(h + 1);
    uint64_t cap = self->cfg.pg_session_memory < self->lim.max_frame_bytes
                       ? self->cfg.pg_session_memory
                       : self->lim.max_frame_bytes;
    if (len < 4 || len > cap) {
        SQLF_PG_COUNT(self, c_proto_err);
        sqlf_pg_error(c, "FATAL", "08P01",
                      "invalid message length %u for message type '%c'", len,
                      t >= 32 && t < 127 ? t : '?');
        c->phase = SQLF_PG_CLOSING;
        return false;
    }
    if (avail < (size_t)len + 1)
        return false;
    *type = t;
    *body = h + 5;
    *blen = len - 4;
    c->in.off += (size_t)len + 1;
    return true;
}

/* Hands a message of an authenticated connection to its handler; returns
 * false when the loop stops (Terminate, or a type that does not exist). */
static bool
s_dispatch(sqlf_pg_t *self, sqlf_pg_conn_t *c, char type, const uint8_t *body,
           uint32_t blen)
{
    switch (type) {
    case 'Q':
        sqlf_pg_query(self, c, body, blen);
        break;
    case 'P':
        sqlf_pg_parse_msg(c, body, blen);
        break;
    case 'B':
        sqlf_pg_bind_msg(c, body, blen);
        break;
    case 'D':
        sqlf_pg_describe_msg(self, c, body, blen);
        break;
    case 'E':
        sqlf_pg_execute_msg(self, c, body, blen);
        break;
    case 'C':
        sqlf_pg_close_msg(c, body, blen);
        break;
    case 'S':
        sqlf_pg_sync(c);
        break;
    case 'H':
        break; /* the loop flushes */
    case 'X':
        c->phase = SQLF_PG_CLOSING;
        return false;
    case 'd':
    case 'c':
    case 'f':
        break; /* after a failed COPY: ignored, as PostgreSQL */
    case 'F':
        sqlf_pg_error(c, "ERROR", "0A000", "the function call protocol is not supported");
        sqlf_pg_ext_error(c);
        break;
    default:
        SQLF_PG_COUNT(self, c_proto_err);
        sqlf_pg_error(c, "FATAL", "08P01", "invalid frontend message type %d",
                      (int)(uint8_t)type);
        c->phase = SQLF_PG_CLOSING;
        return false;
    }
    return true;
}

/* Handles the complete messages in c's input, as far as it can go. */
static void
s_process(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    while (c->phase != SQLF_PG_CLOSING && !s_paused(c)) {
        if (c->phase == SQLF_PG_READY && s_over_memory(self, c))
            return; /* also after COPY messages and engine answers */
        if (c->phase == SQLF_PG_STARTUP) {
            if (!s_take_startup(self, c))
                return;
            continue;
        }
        char type;
        const uint8_t *body;
        uint32_t blen;
        if (!s_take_msg(self, c, &type, &body, &blen))
            return;
        if (c->phase == SQLF_PG_AUTH) {
            if (type != 'p' || self->cfg.pg_auth == HB_PG_AUTH_TRUST) {
                SQLF_PG_COUNT(self, c_proto_err);
                sqlf_pg_error(c, "FATAL", "08P01",
                              "expected a password message, got '%c'",
                              type >= 32 && type < 127 ? type : '?');
                c->phase = SQLF_PG_CLOSING;
                return;
            }
            sqlf_pg_auth_msg(self, c, body, blen);
            continue;
        }
        if (c->copy.in) {
            sqlf_pg_copy_msg(self, c, type, body, blen);
            continue;
        }
        if (c->skip_to_sync && type != 'S' && type != 'X')
            continue;
        if (!s_dispatch(self, c, type, body, blen) || s_over_memory(self, c))
            return;
    }
}

/* Reads what the socket has; returns false when the peer is gone. */
static bool
s_read(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        if (c->in.off == c->in.len)
            c->in.off = c->in.len = 0;
        else if (c->in.off > 0 && c->in.off > c->in.cap / 2) {
            memmove(c->in.p, c->in.p + c->in.off, c->in.len - c->in.off);
            c->in.len -= c->in.off;
            c->in.off = 0;
        }
        /* Grow toward the message being read, never past the cap. */
        size_t want = 16384;
        size_t avail = c->in.len - c->in.off;
        if (c->phase != SQLF_PG_STARTUP && avail >= 5) {
            uint32_t l = sqlf_pg_get32(c->in.p + c->in.off + 1);
            if ((uint64_t)l + 1 > avail && l <= self->cfg.pg_session_memory &&
                l <= self->lim.max_frame_bytes)
                want = (size_t)l + 1 - avail;
        }
        if (want > 1u << 20)
            want = 1u << 20;
        sqlf_pg_reserve(&c->in, want);
        ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
        if (n == 0)
            return false;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            return false;
        }
        c->in.len += (size_t)n;
        if ((size_t)n < want)
            return true;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The thread                                                           */
/* ------------------------------------------------------------------ */

static void
s_accept(sqlf_pg_t *self)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(self->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                self->accept_resume_ms = s_now_ms() + 100;
            return;
        }
        uint32_t slot = 0;
        while (slot < self->nslots && self->conns[slot])
            slot++;
        if (slot == self->nslots) {
            close(fd); /* beyond even the rejection allowance */
            SQLF_PG_COUNT(self, c_rejected);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sqlf_pg_conn_t *c = hb_calloc(1, sizeof *c);
        c->fd = fd;
        c->id = (++self->serial << 16) | slot;
        c->phase = SQLF_PG_STARTUP;
        c->txn = 'I';
        c->deadline_ms = s_now_ms() + self->cfg.pg_auth_timeout_ms;
        c->key_pid = (int32_t)(c->id & 0x7fffffff);
        if (RAND_bytes((unsigned char *)&c->key_secret, sizeof c->key_secret) != 1)
            c->key_secret = (int32_t)c->id;
        if (self->nconns >= self->cfg.pg_max_connections)
            c->reject = true;
        else
            c->counted = true;
        self->nconns += c->counted;
        self->conns[slot] = c;
        SQLF_PG_COUNT(self, c_accepted);
    }
}

static void
s_pair_in(sqlf_pg_t *self, void *pair)
{
    for (int k = 0; k < 4096; k++) {
        zmq_msg_t peer, frame;
        zmq_msg_init(&peer);
        if (zmq_msg_recv(&peer, pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&peer);
            return;
        }
        zmq_msg_init(&frame);
        bool ok = zmq_msg_more(&peer) && zmq_msg_recv(&frame, pair, 0) >= 0;
        while (ok && zmq_msg_more(&frame)) { /* drain anything unexpected */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, pair, 0);
            bool more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            if (!more)
                break;
        }
        const uint8_t *pp = zmq_msg_data(&peer);
        if (ok && sqlf_pg_is_peer(pp, zmq_msg_size(&peer))) {
            uint64_t id = 0;
            for (int i = 0; i < 8; i++)
                id = id << 8 | pp[2 + i];
            uint32_t sub = (uint32_t)(id >> 56);
            id &= 0x00ffffffffffffffULL;
            sqlf_pg_conn_t *c = self->conns[id & 0xffff];
            if (c && c->id == id && c->phase == SQLF_PG_READY) {
                s_on_result(self, c, sub, zmq_msg_data(&frame), zmq_msg_size(&frame));
                s_process(self, c);
            } else {
                uint64_t full = id | (uint64_t)sub << 56;
                for (uint32_t i = 0; i < self->norphans; i++) {
                    if (self->orphans[i] != full)
                        continue;
                    sqlf_pg_close_session(self, id, sub);
                    self->orphans[i] = self->orphans[--self->norphans];
                    break;
                }
            }
        }
        zmq_msg_close(&frame);
        zmq_msg_close(&peer);
    }
}

static void *
s_main(void *arg)
{
    sqlf_pg_t *self = arg;
    uint32_t fixed = (uint32_t)self->nworkers + 1;
    zmq_pollitem_t *items = hb_calloc(self->nslots + fixed, sizeof *items);
    sqlf_pg_conn_t **which = hb_calloc(self->nslots + fixed, sizeof *which);
    while (!atomic_load(&self->stop)) {
        uint32_t n = 0;
        for (int i = 0; i < self->nworkers; i++)
            items[n++] = (zmq_pollitem_t){self->pairs[i], 0, ZMQ_POLLIN, 0};
        /* Out of file descriptors: leave the listener alone for a while. */
        bool listen = s_now_ms() >= self->accept_resume_ms;
        items[n++] = (zmq_pollitem_t){NULL, self->lfd, listen ? ZMQ_POLLIN : 0, 0};
        for (uint32_t i = 0; i < self->nslots; i++) {
            sqlf_pg_conn_t *c = self->conns[i];
            if (!c)
                continue;
            short ev = 0;
            /* A waiting connection still reads ahead (bounded), so that a
             * client that went away is noticed. */
            if (!s_paused(c) || c->phase == SQLF_PG_CLOSING ||
                c->in.len - c->in.off < S_IN_AHEAD)
                ev |= ZMQ_POLLIN;
            if (c->out.len > c->out.off)
                ev |= ZMQ_POLLOUT;
            which[n] = c;
            items[n++] = (zmq_pollitem_t){NULL, c->fd, ev, 0};
        }
        if (zmq_poll(items, (int)n, 50) < 0 && zmq_errno() != EINTR)
            break;
        for (int i = 0; i < self->nworkers; i++)
            if (items[i].revents & ZMQ_POLLIN)
                s_pair_in(self, self->pairs[i]);
        if (items[fixed - 1].revents & ZMQ_POLLIN)
            s_accept(self);
        int64_t now = s_now_ms();
        for (uint32_t i = fixed; i < n; i++) {
            sqlf_pg_conn_t *c = which[i];
            if (!c || self->conns[c->id & 0xffff] != c)
                continue;
            bool alive = true;
            if (items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
                alive = s_read(self, c);
                if (alive)
                    s_process(self, c);
            }
            if (alive && c->phase != SQLF_PG_READY && c->phase != SQLF_PG_CLOSING &&
                now > c->deadline_ms) {
                SQLF_PG_COUNT(self, c_timeouts);
                sqlf_pg_error(c, "FATAL", "08006",
                              "start-up and authentication did not finish "
                              "within %u ms",
                              self->cfg.pg_auth_timeout_ms);
                c->phase = SQLF_PG_CLOSING;
            }
            if (alive)
                alive = s_flush(c);
            if (!alive || (c->phase == SQLF_PG_CLOSING && c->out.len == c->out.off))
                s_close(self, c);
        }
        /* Connections moved on by engine answers flush here too, and one
         * whose output drained takes up the input it had put aside. */
        for (uint32_t i = 0; i < self->nslots; i++) {
            sqlf_pg_conn_t *c = self->conns[i];
            if (!c)
                continue;
            if (c->out.len > c->out.off && !s_flush(c)) {
                s_close(self, c);
                continue;
            }
            if (c->phase != SQLF_PG_CLOSING && c->in.len > c->in.off && !s_paused(c)) {
                s_process(self, c);
                if (!s_flush(c)) {
                    s_close(self, c);
                    continue;
                }
            }
            if (c->phase == SQLF_PG_CLOSING && c->out.len == c->out.off)
                s_close(self, c);
        }
    }
    hb_free(items);
    hb_free(which);
    for (uint32_t i = 0; i < self->nslots; i++)
        if (self->conns[i])
            s_close(self, self->conns[i]);
    return NULL;
}

sqlf_pg_t *
sqlf_pg_start(void *zctx, int nworkers, const hb_config_t *cluster,
              const hb_sqlfront_cfg_t *cfg, const hb_limits_t *lim, char *err,
              size_t errlen)
{
    sqlf_pg_t *self = hb_calloc(1, sizeof *self);
    self->cluster = cluster;
    self->cfg = *cfg;
    self->lim = *lim;
    self->zctx = zctx;
    self->lfd = -1;
    pthread_mutex_init(&self->mu, NULL);
    if (sqlf_pgauth_users(cfg->pg_users, &self->users, &self->nusers, err, errlen) !=
        HB_OK)
        goto fail;
    char host[HB_ENDPOINT_MAX];
    snprintf(host, sizeof host, "%s", cfg->pg_listen);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "pg_listen %s: %s", cfg->pg_listen, gai_strerror(gai));
        goto fail;
    }
    self->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (self->lfd >= 0)
        setsockopt(self->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (self->lfd < 0 || bind(self->lfd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        listen(self->lfd, 512) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->pg_listen, strerror(errno));
        freeaddrinfo(ai);
        goto fail;
    }
    freeaddrinfo(ai);
    self->nslots = cfg->pg_max_connections * S_HARD_CONNS;
    if (self->nslots > 65535)
        self->nslots = 65535;
    self->conns = hb_calloc(self->nslots, sizeof *self->conns);
    self->nworkers = nworkers;
    self->pairs = hb_calloc((size_t)nworkers, sizeof *self->pairs);
    int zero = 0;
    for (int i = 0; i < nworkers; i++) {
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://sqlf-pg-%d", i);
        self->pairs[i] = zmq_socket(zctx, ZMQ_PAIR);
        zmq_setsockopt(self->pairs[i], ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_bind(self->pairs[i], ep) < 0) {
            snprintf(err, errlen, "cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        snprintf(err, errlen, "cannot start the wire protocol thread");
        goto fail;
    }
    return self;
fail:
    for (int i = 0; self->pairs && i < nworkers; i++)
        if (self->pairs[i])
            zmq_close(self->pairs[i]);
    hb_free(self->pairs);
    if (self->lfd >= 0)
        close(self->lfd);
    hb_free(self->conns);
    free(self->users);
    pthread_mutex_destroy(&self->mu);
    hb_free(self);
    return NULL;
}

void
sqlf_pg_stop(sqlf_pg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sqlf_pg_t *self = *self_p;
    atomic_store(&self->stop, 1);
    pthread_join(self->thread, NULL);
    for (int i = 0; i < self->nworkers; i++)
        zmq_close(self->pairs[i]);
    hb_free(self->pairs);
    close(self->lfd);
    sqlf_catalog_destroy(&self->cat);
    hb_client_destroy(&self->cli);
    hb_free(self->orphans);
    hb_free(self->conns);
    free(self->users);
    pthread_mutex_destroy(&self->mu);
    hb_free(self);
    *self_p = NULL;
}

uint32_t
sqlf_pg_stats(sqlf_pg_t *self, hb_wire_stat_t *out, uint32_t cap)
{
    pthread_mutex_lock(&self->mu);
    const struct {
        const char *name;
        uint64_t v;
    } s[] = {
        {"pg_accepted", self->c_accepted},
        {"pg_connections", self->nconns},
        {"pg_rejected", self->c_rejected},
        {"pg_auth_failures", self->c_auth_fail},
        {"pg_protocol_errors", self->c_proto_err},
        {"pg_startup_timeouts", self->c_timeouts},
        {"pg_queries", self->c_queries},
        {"pg_errors", self->c_errors},
        {"pg_cancel_requests", self->c_cancels},
        {"pg_memory_kills", self->c_mem_kills},
    };
    uint32_t n = 0;
    for (size_t i = 0; i < sizeof s / sizeof *s && n < cap; i++, n++) {
        out[n].name = s[i].name;
        out[n].name_len = (uint32_t)strlen(s[i].name);
        out[n].val = hb_val_int((int64_t)s[i].v);
    }
    pthread_mutex_unlock(&self->mu);
    return n;
}
