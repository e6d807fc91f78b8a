/* hb_wire.c — encode and decode every inter-process message (see hb_wire.h).
 *
 * A frame is the msgpack array [HB_WIRE_VERSION, type, fields...] with the
 * per-type field lists of docs/protocol.md. hb_msg_decode reads it with the
 * bounded hb_mp reader: the array header, the version, the type and the
 * exact field count are checked first, then each field is read into its
 * struct member with a range check, and every count is bounded by the
 * limits (HB_TOOBIG) and by the bytes left (HB_PROTO) before an array is
 * allocated. Trailing bytes after the frame array are rejected. A rejected
 * frame is counted in hb_wire_stats, logged once, and leaves the message
 * cleared. hb_msg_encode writes the same form with msgpack-c and rolls the
 * sbuffer back if the message is invalid.
 */
#include "hb_wire.h"

#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "hb_mp.h"

_Thread_local hb_wire_stats_t hb_wire_stats;

/* Number of fields after [version, type] for each message type. */
static const uint32_t s_nfields[HB_MSG_TYPE_MAX_] = {
    [HB_MSG_SUBMIT] = 3, [HB_MSG_RESULT] = 5,      [HB_MSG_BATCH] = 4,
    [HB_MSG_REPLAY] = 3, [HB_MSG_DISPATCH] = 5,    [HB_MSG_EPOCH] = 3,
    [HB_MSG_DONE] = 4,   [HB_MSG_HELLO] = 2,       [HB_MSG_RESET] = 2,
    [HB_MSG_RESYNC] = 0, [HB_MSG_REPLY] = 6,       [HB_MSG_STATUS_REQ] = 0,
    [HB_MSG_STATUS] = 1, [HB_MSG_RREAD] = 5,       [HB_MSG_RREQ] = 2,
    [HB_MSG_SCAN] = 4,   [HB_MSG_SCAN_RESULT] = 6, [HB_MSG_APPLIED] = 2,
    [HB_MSG_PAXOS] = 3,  [HB_MSG_FORWARD] = 2,     [HB_MSG_CLOSE] = 3,
};

const char *
hb_msg_type_str(int type)
{
    static const char *names[HB_MSG_TYPE_MAX_] = {
        [HB_MSG_SUBMIT] = "SUBMIT",
        [HB_MSG_RESULT] = "RESULT",
        [HB_MSG_BATCH] = "BATCH",
        [HB_MSG_REPLAY] = "REPLAY",
        [HB_MSG_DISPATCH] = "DISPATCH",
        [HB_MSG_EPOCH] = "EPOCH",
        [HB_MSG_DONE] = "DONE",
        [HB_MSG_HELLO] = "HELLO",
        [HB_MSG_RESET] = "RESET",
        [HB_MSG_RESYNC] = "RESYNC",
        [HB_MSG_REPLY] = "REPLY",
        [HB_MSG_STATUS_REQ] = "STATUS_REQ",
        [HB_MSG_STATUS] = "STATUS",
        [HB_MSG_RREAD] = "RREAD",
        [HB_MSG_RREQ] = "RREQ",
        [HB_MSG_SCAN] = "SCAN",
        [HB_MSG_SCAN_RESULT] = "SCAN_RESULT",
        [HB_MSG_APPLIED] = "APPLIED",
        [HB_MSG_PAXOS] = "PAXOS",
        [HB_MSG_FORWARD] = "FORWARD",
        [HB_MSG_CLOSE] = "CLOSE",
    };
    if (type <= 0 || type >= HB_MSG_TYPE_MAX_)
        return "?";
    return names[type];
}

/* ------------------------------------------------------------------ */
/* Decoding                                                             */
/* ------------------------------------------------------------------ */

/* Decode state: the reader, the limits and the first problem seen. */
typedef struct {
    hb_mp_reader_t r;       /* over the frame */
    const hb_limits_t *lim; /* bounds to enforce */
    hb_rc_t rc;             /* HB_OK until the first failure */
    uint64_t *counter;      /* the specific hb_wire_stats counter to bump */
    const char *problem;    /* first problem, for the log line */
    uint32_t nfields;       /* fields after [version, type] in this frame */
} s_dec_t;

/* Records the first failure and poisons the reader. Returns the rc. */
static hb_rc_t
s_fail_as(s_dec_t *d, hb_rc_t rc, uint64_t *counter, const char *problem)
{
    if (d->rc == HB_OK) {
        d->rc = rc;
        d->counter = counter;
        d->problem = problem;
    }
    if (d->r.err == HB_OK)
        d->r.err = rc;
    return d->rc;
}

static hb_rc_t
s_malformed(s_dec_t *d, const char *problem)
{
    return s_fail_as(d, HB_PROTO, &hb_wire_stats.malformed, problem);
}

static hb_rc_t
s_toobig(s_dec_t *d, const char *problem)
{
    return s_fail_as(d, HB_TOOBIG, &hb_wire_stats.too_big, problem);
}

/* Reads an unsigned integer no larger than max; `what` names the field. */
static hb_rc_t
s_uint(s_dec_t *d, uint64_t max, uint64_t *v, const char *what)
{
    *v = 0;
    if (d->rc != HB_OK)
        return d->rc;
    if (hb_mp_read_uint(&d->r, v) != HB_OK || *v > max) {
        *v = 0;
        return s_malformed(d, what);
    }
    return HB_OK;
}

static hb_rc_t
s_u64(s_dec_t *d, uint64_t *v, const char *what)
{
    return s_uint(d, UINT64_MAX, v, what);
}

static hb_rc_t
s_u32(s_dec_t *d, uint32_t *v, const char *what)
{
    uint64_t t;
    s_uint(d, UINT32_MAX, &t, what);
    *v = (uint32_t)t;
    return d->rc;
}

static hb_rc_t
s_u16(s_dec_t *d, uint16_t *v, const char *what)
{
    uint64_t t;
    s_uint(d, UINT16_MAX, &t, what);
    *v = (uint16_t)t;
    return d->rc;
}

/* Reads a str no longer than max_value_bytes. */
static hb_rc_t
s_str(s_dec_t *d, const char **s, uint32_t *len, const char *what)
{
    if (d->rc != HB_OK)
        return d->rc;
    if (hb_mp_read_str(&d->r, s, len) != HB_OK)
        return s_malformed(d, what);
    if (*len > d->lim->max_value_bytes)
        return s_toobig(d, "string longer than max_value_bytes");
    return HB_OK;
}

/* Reads an array of scalar values (args or results) into an owned array. */
static hb_rc_t
s_vals(s_dec_t *d, uint32_t *nvals, hb_val_t **vals, const char *what)
{
    uint32_t n;
    if (d->rc != HB_OK)
        return d->rc;
    if (hb_mp_read_array(&d->r, &n) != HB_OK)
        return s_malformed(d, what);
    if (n > d->lim->max_args)
        return s_toobig(d, "more values than max_args");
    *nvals = n;
    *vals = n ? hb_calloc(n, sizeof **vals) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        hb_val_t *v = &(*vals)[i];
        if (hb_mp_read_val(&d->r, v) != HB_OK)
            return s_malformed(d, "value is not a scalar or is truncated");
        if ((v->type == HB_VAL_STR || v->type == HB_VAL_BIN) &&
            v->u.s.len > d->lim->max_value_bytes)
            return s_toobig(d, "value longer than max_value_bytes");
    }
    return HB_OK;
}

/* Reads [[key(bin), val(bin|nil)], ...] of at most max entries. */
static hb_rc_t
s_kvs(s_dec_t *d, uint32_t max, uint32_t *nkvs, hb_wire_kv_t **kvs)
{
    uint32_t n;
    if (d->rc != HB_OK)
        return d->rc;
    if (hb_mp_read_array(&d->r, &n) != HB_OK)
        return s_malformed(d, "rows is not an array or is truncated");
    if (n > max)
        return s_toobig(d, "too many rows");
    if ((size_t)n * 3 > hb_mp_remaining(&d->r))
        return s_malformed(d, "rows is truncated");
    *nkvs = n;
    *kvs = n ? hb_calloc(n, sizeof **kvs) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        hb_wire_kv_t *kv = &(*kvs)[i];
        uint32_t two;
        if (hb_mp_read_array(&d->r, &two) != HB_OK || two != 2)
            return s_malformed(d, "row is not [key, value]");
        if (hb_mp_read_bin(&d->r, &kv->key, &kv->klen) != HB_OK || kv->klen == 0 ||
            kv->klen > d->lim->max_key_bytes)
            return s_malformed(d, "row key is not a bin of 1..max_key_bytes");
        if (hb_mp_peek(&d->r) == HB_MP_NIL) {
            hb_mp_read_nil(&d->r);
            kv->present = false;
        } else if (hb_mp_read_bin(&d->r, &kv->val, &kv->vlen) == HB_OK) {
            if (kv->vlen > d->lim->max_value_bytes)
                return s_toobig(d, "row value longer than max_value_bytes");
            kv->present = true;
        } else {
            return s_malformed(d, "row value is not a bin or nil");
        }
    }
    return HB_OK;
}

/* Reads one raw encoded transaction (must be a msgpack array). */
static hb_rc_t
s_raw_txn(s_dec_t *d, const uint8_t **raw, size_t *len)
{
    if (d->rc != HB_OK)
        return d->rc;
    if (hb_mp_peek(&d->r) != HB_MP_ARRAY || hb_mp_read_raw(&d->r, raw, len) != HB_OK)
        return s_malformed(d, "txn is not a well-formed msgpack array");
    return HB_OK;
}

static hb_rc_t
s_decode_batch(s_dec_t *d, hb_msg_t *msg)
{
    uint32_t n;
    s_u16(d, &msg->u.batch.group, "group is not a uint16");
    s_u64(d, &msg->u.batch.epoch, "epoch is not a uint64");
    s_u64(d, &msg->u.batch.since, "since is not a uint64");
    if (d->rc != HB_OK)
        return d->rc;
    if (hb_mp_read_array(&d->r, &n) != HB_OK)
        return s_malformed(d, "txns is not an array or is truncated");
    if (n > d->lim->max_batch_txns)
        return s_toobig(d, "more txns than max_batch_txns");
    /* Each entry [index, txn] takes at least 3 bytes. */
    if ((uint64_t)n * 3 > hb_mp_remaining(&d->r))
        return s_malformed(d, "txn count exceeds the bytes left");
    msg->u.batch.ntxns = n;
    msg->u.batch.txns = n ? hb_calloc(n, sizeof *msg->u.batch.txns) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        hb_wire_txn_t *t = &msg->u.batch.txns[i];
        uint32_t nf;
        if (hb_mp_read_array(&d->r, &nf) != HB_OK || nf != 2)
            return s_malformed(d, "txn entry is not [index, txn]");
        if (s_u32(d, &t->index, "txn index is not a uint32") != HB_OK)
            return d->rc;
        if (s_raw_txn(d, &t->raw, &t->raw_len) != HB_OK)
            return d->rc;
    }
    return HB_OK;
}

static hb_rc_t
s_decode_status(s_dec_t *d, hb_msg_t *msg)
{
    uint32_t n;
    if (hb_mp_read_map(&d->r, &n) != HB_OK)
        return s_malformed(d, "status is not a map or is truncated");
    if (n > HB_WIRE_MAX_STATS)
        return s_toobig(d, "more than HB_WIRE_MAX_STATS entries");
    msg->u.status.nstats = n;
    msg->u.status.stats = n ? hb_calloc(n, sizeof *msg->u.status.stats) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        hb_wire_stat_t *st = &msg->u.status.stats[i];
        if (s_str(d, &st->name, &st->name_len, "status name is not a str") != HB_OK)
            return d->rc;
        if (hb_mp_read_val(&d->r, &st->val) != HB_OK ||
            (st->val.type != HB_VAL_INT && st->val.type != HB_VAL_STR))
            return s_malformed(d, "status value is not an int or str");
        if (st->val.type == HB_VAL_STR && st->val.u.s.len > d->lim->max_value_bytes)
            return s_toobig(d, "status value longer than max_value_bytes");
    }
    return HB_OK;
}

/* Takes the rest of the frame as an encoded transaction without walking
 * it; hb_txn_decode, which every receiver runs, validates it exactly
 * (trailing bytes included). Walking it here too cost storage a tenth of
 * its instructions. */
static void
s_rest_txn(s_dec_t *d, const uint8_t **raw, size_t *len)
{
    if (d->rc != HB_OK)
        return;
    if (hb_mp_peek(&d->r) != HB_MP_ARRAY) {
        s_malformed(d, "txn is not a msgpack array");
        return;
    }
    *raw = d->r.p;
    *len = hb_mp_remaining(&d->r);
    d->r.p = d->r.end;
}

/* Reads the fields of msg->type (header already consumed). */
static hb_rc_t
s_decode_fields(s_dec_t *d, hb_msg_t *msg)
{
    uint64_t rc;
    switch (msg->type) {
    case HB_MSG_SUBMIT:
        s_u64(d, &msg->u.submit.req_id, "req_id is not a uint64");
        s_str(d, &msg->u.submit.proc, &msg->u.submit.proc_len, "proc is not a str");
        s_vals(d, &msg->u.submit.nargs, &msg->u.submit.args, "args is not an array");
        break;
    case HB_MSG_RESULT:
    case HB_MSG_REPLY:
        if (msg->type == HB_MSG_REPLY)
            s_u64(d, &msg->u.result.client_id, "client_id is not a uint64");
        s_u64(d, &msg->u.result.req_id, "req_id is not a uint64");
        s_u64(d, &msg->u.result.epoch, "epoch is not a uint64");
        if (s_uint(d, UINT32_MAX, &rc, "rc is not a uint32") == HB_OK)
            msg->u.result.rc = (uint32_t)rc;
        s_str(d, &msg->u.result.msg, &msg->u.result.msg_len, "msg is not a str");
        s_vals(d, &msg->u.result.nvals, &msg->u.result.vals, "values is not an array");
        break;
    case HB_MSG_BATCH:
        s_decode_batch(d, msg);
        break;
    case HB_MSG_REPLAY:
        s_u16(d, &msg->u.replay.replica, "replica is not a uint16");
        s_u16(d, &msg->u.replay.partition, "partition is not a uint16");
        s_u64(d, &msg->u.replay.from_epoch, "from_epoch is not a uint64");
        break;
    case HB_MSG_DISPATCH:
        s_u64(d, &msg->u.dispatch.incarnation, "incarnation is not a uint64");
        s_u64(d, &msg->u.dispatch.epoch, "epoch is not a uint64");
        s_u16(d, &msg->u.dispatch.group, "group is not a uint16");
        s_u32(d, &msg->u.dispatch.index, "index is not a uint32");
        s_rest_txn(d, &msg->u.dispatch.raw, &msg->u.dispatch.raw_len);
        break;
    case HB_MSG_PAXOS:
        s_u16(d, &msg->u.paxos.replica, "replica is not a uint16");
        s_u16(d, &msg->u.paxos.group, "group is not a uint16");
        if (d->rc == HB_OK &&
            hb_mp_read_bin(&d->r, &msg->u.paxos.frame, &msg->u.paxos.len) != HB_OK)
            s_malformed(d, "paxos frame is not a bin");
        break;
    case HB_MSG_FORWARD:
        s_u16(d, &msg->u.forward.replica, "replica is not a uint16");
        s_rest_txn(d, &msg->u.forward.raw, &msg->u.forward.raw_len);
        break;
    case HB_MSG_CLOSE:
        s_u16(d, &msg->u.close.group, "group is not a uint16");
        s_u64(d, &msg->u.close.epoch, "epoch is not a uint64");
        s_u16(d, &msg->u.close.relayed, "relayed is not a uint16");
        break;
    case HB_MSG_EPOCH:
        s_u64(d, &msg->u.epoch.incarnation, "incarnation is not a uint64");
        s_u64(d, &msg->u.epoch.epoch, "epoch is not a uint64");
        s_u32(d, &msg->u.epoch.ntxns, "ntxns is not a uint32");
        break;
    case HB_MSG_DONE:
        s_u64(d, &msg->u.done.incarnation, "incarnation is not a uint64");
        s_u64(d, &msg->u.done.epoch, "epoch is not a uint64");
        s_u16(d, &msg->u.done.group, "group is not a uint16");
        s_u32(d, &msg->u.done.index, "index is not a uint32");
        break;
    case HB_MSG_HELLO:
    case HB_MSG_RESET:
        s_u64(d, &msg->u.hello.incarnation, "incarnation is not a uint64");
        s_u64(d, &msg->u.hello.applied_epoch, "applied_epoch is not a uint64");
        break;
    case HB_MSG_RESYNC:
    case HB_MSG_STATUS_REQ:
        break;
    case HB_MSG_STATUS:
        s_decode_status(d, msg);
        break;
    case HB_MSG_RREAD:
        s_u64(d, &msg->u.rread.epoch, "epoch is not a uint64");
        s_u16(d, &msg->u.rread.group, "group is not a uint16");
        s_u32(d, &msg->u.rread.index, "index is not a uint32");
        s_u16(d, &msg->u.rread.from, "from is not a uint16");
        s_kvs(d, d->lim->max_locks, &msg->u.rread.nkvs, &msg->u.rread.kvs);
        break;
    case HB_MSG_RREQ:
    case HB_MSG_APPLIED:
        s_u16(d, &msg->u.rreq.partition, "partition is not a uint16");
        s_u64(d, &msg->u.rreq.epoch, "epoch is not a uint64");
        break;
    case HB_MSG_SCAN:
        s_u64(d, &msg->u.scan.req_id, "req_id is not a uint64");
        if (d->rc == HB_OK &&
            (hb_mp_read_bin(&d->r, &msg->u.scan.start, &msg->u.scan.start_len) != HB_OK ||
             msg->u.scan.start_len > d->lim->max_key_bytes))
            s_malformed(d, "start is not a bin of at most max_key_bytes");
        if (d->rc == HB_OK &&
            (hb_mp_read_bin(&d->r, &msg->u.scan.end, &msg->u.scan.end_len) != HB_OK ||
             msg->u.scan.end_len > d->lim->max_key_bytes))
            s_malformed(d, "end is not a bin of at most max_key_bytes");
        s_u32(d, &msg->u.scan.limit, "limit is not a uint32");
        if (d->rc == HB_OK && msg->u.scan.limit > HB_WIRE_MAX_SCAN)
            s_toobig(d, "limit above HB_WIRE_MAX_SCAN");
        if (d->nfields > s_nfields[HB_MSG_SCAN])
            s_u64(d, &msg->u.scan.at_epoch, "at_epoch is not a uint64");
        break;
    case HB_MSG_SCAN_RESULT:
        s_u64(d, &msg->u.scan_result.req_id, "req_id is not a uint64");
        s_u64(d, &msg->u.scan_result.epoch, "epoch is not a uint64");
        if (s_uint(d, UINT32_MAX, &rc, "rc is not a uint32") == HB_OK)
            msg->u.scan_result.rc = (uint32_t)rc;
        s_str(d, &msg->u.scan_result.msg, &msg->u.scan_result.msg_len,
              "msg is not a str");
        s_kvs(d, HB_WIRE_MAX_SCAN, &msg->u.scan_result.nkvs, &msg->u.scan_result.kvs);
        s_u64(d, &msg->u.scan_result.catver, "catver is not a uint64");
        break;
    default:
        s_fail_as(d, HB_PROTO, &hb_wire_stats.bad_type, "unknown type");
        break;
    }
    return d->rc;
}

/* A flood of bad frames must not become a flood of log lines: allow a burst
 * of warnings (hb_wire_log_burst), then one per HB_WIRE_LOG_EVERY rejections
 * (the counters still count every one). Tests lower the level instead. */
#define HB_WIRE_LOG_EVERY 1000

static uint64_t s_log_burst = 100;
static _Thread_local uint64_t s_log_suppressed;

void
hb_wire_log_burst(uint64_t burst)
{
    s_log_burst = burst;
}

static int
s_log_allowed(void)
{
    uint64_t n = hb_wire_stats.frames_rejected;
    if (hb_log_threshold > HB_LOG_WARN)
        return 0;
    if (n <= s_log_burst || n % HB_WIRE_LOG_EVERY == 0)
        return 1;
    s_log_suppressed++;
    return 0;
}

static const char *
s_suppressed_note(void)
{
    static char note[64];
    note[0] = '\0';
    if (s_log_suppressed) {
        snprintf(note, sizeof note, " (%llu similar not logged)",
                 (unsigned long long)s_log_suppressed);
        s_log_suppressed = 0;
    }
    return note;
}

hb_rc_t
hb_msg_decode(const void *frame, size_t len, const hb_limits_t *lim, hb_msg_t *msg)
{
    hb_limits_t defaults = HB_LIMITS_DEFAULT;
    s_dec_t d = {.rc = HB_OK, .lim = lim ? lim : &defaults};
    uint64_t version = 0, type = 0;
    uint32_t n;

    memset(msg, 0, sizeof *msg);
    hb_mp_reader_init(&d.r, frame, len);
    if (len > d.lim->max_frame_bytes) {
        s_toobig(&d, "frame longer than max_frame_bytes");
        goto out;
    }
    if (hb_mp_read_array(&d.r, &n) != HB_OK || n < 2) {
        s_malformed(&d, "not an array [version, type, ...]");
        goto out;
    }
    if (hb_mp_read_uint(&d.r, &version) != HB_OK || version != HB_WIRE_VERSION) {
        s_fail_as(&d, HB_PROTO, &hb_wire_stats.bad_version, "unsupported version");
        goto out;
    }
    if (hb_mp_read_uint(&d.r, &type) != HB_OK || type == 0 || type >= HB_MSG_TYPE_MAX_) {
        s_fail_as(&d, HB_PROTO, &hb_wire_stats.bad_type, "unknown type");
        goto out;
    }
    msg->type = (hb_msg_type_t)type;
    d.nfields = n - 2;
    /* SCAN's at_epoch is optional (absent from older peers' frames). */
    if (d.nfields != s_nfields[type] &&
        !(type == HB_MSG_SCAN && d.nfields == s_nfields[type] + 1)) {
        s_malformed(&d, "wrong field count");
        goto out;
    }
    if (s_decode_fields(&d, msg) != HB_OK)
        goto out;
    if (hb_mp_remaining(&d.r) != 0)
        s_malformed(&d, "trailing bytes after the frame");

out:
    if (d.rc != HB_OK) {
        hb_wire_stats.frames_rejected++;
        (*d.counter)++;
        if (s_log_allowed())
            hb_warn("wire: rejected %zu-byte %s frame (type %llu): %s%s", len,
                    hb_msg_type_str((int)(type < HB_MSG_TYPE_MAX_ ? type : 0)),
                    (unsigned long long)type, d.problem, s_suppressed_note());
        hb_msg_clear(msg);
        return d.rc;
    }
    hb_wire_stats.frames_ok++;
    return HB_OK;
}

void
hb_msg_clear(hb_msg_t *msg)
{
    if (!msg)
        return;
    switch (msg->type) {
    case HB_MSG_SUBMIT:
        hb_free(msg->u.submit.args);
        break;
    case HB_MSG_RESULT:
    case HB_MSG_REPLY:
        hb_free(msg->u.result.vals);
        break;
    case HB_MSG_BATCH:
        hb_free(msg->u.batch.txns);
        break;
    case HB_MSG_STATUS:
        hb_free(msg->u.status.stats);
        break;
    case HB_MSG_RREAD:
        hb_free(msg->u.rread.kvs);
        break;
    case HB_MSG_SCAN_RESULT:
        hb_free(msg->u.scan_result.kvs);
        break;
    default:
        break;
    }
    memset(msg, 0, sizeof *msg);
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */
/* ------------------------------------------------------------------ */

/* Returns true if raw starts like a msgpack array. Encoding runs on hot
 * paths with raw transactions that a decoder (hb_msg_decode / hb_txn_decode)
 * already validated in full, and every receiver validates again, so the
 * encoder checks only the header byte instead of walking the object. */
static bool
s_raw_ok(const uint8_t *raw, size_t len)
{
    if (!raw || len == 0)
        return false;
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, raw, len);
    return hb_mp_peek(&r) == HB_MP_ARRAY;
}

static hb_rc_t
s_pack_vals(msgpack_packer *pk, uint32_t n, const hb_val_t *vals)
{
    if (n && !vals)
        return HB_INVALID;
    if (msgpack_pack_array(pk, n) != 0)
        return HB_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        hb_rc_t rc = hb_mp_pack_val(pk, &vals[i]);
        if (rc != HB_OK)
            return rc;
    }
    return HB_OK;
}

/* Writes raw bytes straight into the sbuffer: msgpack_packer keeps no
 * buffer of its own, so this interleaves correctly with packed items. */
static hb_rc_t
s_write_raw(msgpack_sbuffer *sbuf, const uint8_t *raw, size_t len)
{
    if (!s_raw_ok(raw, len))
        return HB_INVALID;
    return msgpack_sbuffer_write(sbuf, (const char *)raw, len) == 0 ? HB_OK : HB_NOMEM;
}

static hb_rc_t
s_pack_str(msgpack_packer *pk, const char *s, uint32_t len)
{
    if (len && !s)
        return HB_INVALID;
    hb_mp_pack_str(pk, s, len);
    return HB_OK;
}

static hb_rc_t
s_pack_kvs(msgpack_packer *pk, uint32_t n, const hb_wire_kv_t *kvs)
{
    if (n && !kvs)
        return HB_INVALID;
    int w = msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        if (!kvs[i].key || kvs[i].klen == 0)
            return HB_INVALID;
        w |= msgpack_pack_array(pk, 2);
        hb_mp_pack_bin(pk, kvs[i].key, kvs[i].klen);
        if (kvs[i].present)
            hb_mp_pack_bin(pk, kvs[i].val ? kvs[i].val : (const uint8_t *)"",
                           kvs[i].vlen);
        else
            w |= msgpack_pack_nil(pk);
    }
    return w ? HB_NOMEM : HB_OK;
}

static hb_rc_t
s_encode_fields(const hb_msg_t *msg, msgpack_packer *pk, msgpack_sbuffer *sbuf)
{
    hb_rc_t rc = HB_OK;
    int w = 0; /* msgpack-c status bits: non-zero when the sbuffer failed */
    switch (msg->type) {
    case HB_MSG_SUBMIT:
        w |= msgpack_pack_uint64(pk, msg->u.submit.req_id);
        rc = s_pack_str(pk, msg->u.submit.proc, msg->u.submit.proc_len);
        if (rc == HB_OK)
            rc = s_pack_vals(pk, msg->u.submit.nargs, msg->u.submit.args);
        break;
    case HB_MSG_RESULT:
    case HB_MSG_REPLY:
        if (msg->type == HB_MSG_REPLY)
            w |= msgpack_pack_uint64(pk, msg->u.result.client_id);
        w |= msgpack_pack_uint64(pk, msg->u.result.req_id);
        w |= msgpack_pack_uint64(pk, msg->u.result.epoch);
        w |= msgpack_pack_uint32(pk, msg->u.result.rc);
        rc = s_pack_str(pk, msg->u.result.msg, msg->u.result.msg_len);
        if (rc == HB_OK)
            rc = s_pack_vals(pk, msg->u.result.nvals, msg->u.result.vals);
        break;
    case HB_MSG_BATCH:
        if (msg->u.batch.ntxns && !msg->u.batch.txns) {
            rc = HB_INVALID;
            break;
        }
        w |= msgpack_pack_uint16(pk, msg->u.batch.group);
        w |= msgpack_pack_uint64(pk, msg->u.batch.epoch);
        w |= msgpack_pack_uint64(pk, msg->u.batch.since);
        w |= msgpack_pack_array(pk, msg->u.batch.ntxns);
        for (uint32_t i = 0; i < msg->u.batch.ntxns && rc == HB_OK; i++) {
            const hb_wire_txn_t *t = &msg->u.batch.txns[i];
            w |= msgpack_pack_array(pk, 2);
            w |= msgpack_pack_uint32(pk, t->index);
            rc = s_write_raw(sbuf, t->raw, t->raw_len);
        }
        break;
    case HB_MSG_REPLAY:
        w |= msgpack_pack_uint16(pk, msg->u.replay.replica);
        w |= msgpack_pack_uint16(pk, msg->u.replay.partition);
        w |= msgpack_pack_uint64(pk, msg->u.replay.from_epoch);
        break;
    case HB_MSG_DISPATCH:
        w |= msgpack_pack_uint64(pk, msg->u.dispatch.incarnation);
        w |= msgpack_pack_uint64(pk, msg->u.dispatch.epoch);
        w |= msgpack_pack_uint16(pk, msg->u.dispatch.group);
        w |= msgpack_pack_uint32(pk, msg->u.dispatch.index);
        rc = s_write_raw(sbuf, msg->u.dispatch.raw, msg->u.dispatch.raw_len);
        break;
    case HB_MSG_PAXOS:
        w |= msgpack_pack_uint16(pk, msg->u.paxos.replica);
        w |= msgpack_pack_uint16(pk, msg->u.paxos.group);
        hb_mp_pack_bin(pk, msg->u.paxos.frame ? msg->u.paxos.frame : (const uint8_t *)"",
                       msg->u.paxos.len);
        break;
    case HB_MSG_FORWARD:
        w |= msgpack_pack_uint16(pk, msg->u.forward.replica);
        rc = s_write_raw(sbuf, msg->u.forward.raw, msg->u.forward.raw_len);
        break;
    case HB_MSG_CLOSE:
        w |= msgpack_pack_uint16(pk, msg->u.close.group);
        w |= msgpack_pack_uint64(pk, msg->u.close.epoch);
        w |= msgpack_pack_uint16(pk, msg->u.close.relayed);
        break;
    case HB_MSG_EPOCH:
        w |= msgpack_pack_uint64(pk, msg->u.epoch.incarnation);
        w |= msgpack_pack_uint64(pk, msg->u.epoch.epoch);
        w |= msgpack_pack_uint32(pk, msg->u.epoch.ntxns);
        break;
    case HB_MSG_DONE:
        w |= msgpack_pack_uint64(pk, msg->u.done.incarnation);
        w |= msgpack_pack_uint64(pk, msg->u.done.epoch);
        w |= msgpack_pack_uint16(pk, msg->u.done.group);
        w |= msgpack_pack_uint32(pk, msg->u.done.index);
        break;
    case HB_MSG_HELLO:
    case HB_MSG_RESET:
        w |= msgpack_pack_uint64(pk, msg->u.hello.incarnation);
        w |= msgpack_pack_uint64(pk, msg->u.hello.applied_epoch);
        break;
    case HB_MSG_RESYNC:
    case HB_MSG_STATUS_REQ:
        break; /* no fields */
    case HB_MSG_STATUS:
        if (msg->u.status.nstats && !msg->u.status.stats) {
            rc = HB_INVALID;
            break;
        }
        w |= msgpack_pack_map(pk, msg->u.status.nstats);
        for (uint32_t i = 0; i < msg->u.status.nstats && rc == HB_OK; i++) {
            const hb_wire_stat_t *st = &msg->u.status.stats[i];
            if (st->val.type != HB_VAL_INT && st->val.type != HB_VAL_STR) {
                rc = HB_INVALID;
                break;
            }
            rc = s_pack_str(pk, st->name, st->name_len);
            if (rc == HB_OK)
                rc = hb_mp_pack_val(pk, &st->val);
        }
        break;
    case HB_MSG_RREAD:
        w |= msgpack_pack_uint64(pk, msg->u.rread.epoch);
        w |= msgpack_pack_uint16(pk, msg->u.rread.group);
        w |= msgpack_pack_uint32(pk, msg->u.rread.index);
        w |= msgpack_pack_uint16(pk, msg->u.rread.from);
        rc = s_pack_kvs(pk, msg->u.rread.nkvs, msg->u.rread.kvs);
        break;
    case HB_MSG_RREQ:
    case HB_MSG_APPLIED:
        w |= msgpack_pack_uint16(pk, msg->u.rreq.partition);
        w |= msgpack_pack_uint64(pk, msg->u.rreq.epoch);
        break;
    case HB_MSG_SCAN:
        w |= msgpack_pack_uint64(pk, msg->u.scan.req_id);
        hb_mp_pack_bin(pk, msg->u.scan.start ? msg->u.scan.start : (const uint8_t *)"",
                       msg->u.scan.start_len);
        hb_mp_pack_bin(pk, msg->u.scan.end ? msg->u.scan.end : (const uint8_t *)"",
                       msg->u.scan.end_len);
        w |= msgpack_pack_uint32(pk, msg->u.scan.limit);
        if (msg->u.scan.at_epoch)
            w |= msgpack_pack_uint64(pk, msg->u.scan.at_epoch);
        break;
    case HB_MSG_SCAN_RESULT:
        w |= msgpack_pack_uint64(pk, msg->u.scan_result.req_id);
        w |= msgpack_pack_uint64(pk, msg->u.scan_result.epoch);
        w |= msgpack_pack_uint32(pk, msg->u.scan_result.rc);
        rc = s_pack_str(pk, msg->u.scan_result.msg, msg->u.scan_result.msg_len);
        if (rc == HB_OK)
            rc = s_pack_kvs(pk, msg->u.scan_result.nkvs, msg->u.scan_result.kvs);
        w |= msgpack_pack_uint64(pk, msg->u.scan_result.catver);
        break;
    default:
        rc = HB_INVALID;
        break;
    }
    if (rc == HB_OK && w != 0)
        rc = HB_NOMEM;
    return rc;
}

hb_rc_t
hb_msg_encode(const hb_msg_t *msg, msgpack_sbuffer *sbuf)
{
    msgpack_packer pk;
    hb_rc_t rc;

    if (!msg || !sbuf || (int)msg->type <= 0 || (int)msg->type >= HB_MSG_TYPE_MAX_)
        return HB_INVALID;
    size_t start = sbuf->size;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    /* A SCAN carries at_epoch only when set, so that peers that predate it
     * still read the frames of current readers. */
    uint32_t nfields = s_nfields[msg->type];
    if (msg->type == HB_MSG_SCAN && msg->u.scan.at_epoch)
        nfields++;
    msgpack_pack_array(&pk, 2 + nfields);
    msgpack_pack_uint8(&pk, HB_WIRE_VERSION);
    msgpack_pack_uint8(&pk, (uint8_t)msg->type);
    rc = s_encode_fields(msg, &pk, sbuf);
    if (rc != HB_OK) {
        /* Drop the partial frame so the caller's buffer is unchanged. */
        sbuf->size = start;
        hb_warn("wire: cannot encode %s: %s", hb_msg_type_str((int)msg->type),
                hb_rc_str(rc));
    }
    return rc;
}
