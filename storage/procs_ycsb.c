/* procs_ycsb.c — YCSB procedure bodies: ycsb.read, ycsb.update,
 * ycsb.insert, ycsb.rmw (see common/hb_proc.h for their arguments and
 * results).
 *
 * A record is one row of HB_TABLE_YCSB keyed by the user key (one string
 * column); its value is a msgpack array of the fields, each a bin. Bodies
 * re-derive keys from the arguments exactly like the plans in hb_proc.c,
 * read only through the execution context (so a multi-record call sees its
 * own earlier writes), and build new rows in context memory: nothing here
 * allocates outside the context, reads a clock or depends on hash order.
 */
#include "procs_ycsb.h"

#include <inttypes.h>
#include <string.h>

#include "hb_key.h"
#include "hb_mp.h"

/* A decoded record: borrowed pointers to its fields. */
typedef struct {
    uint32_t n;                               /* fields */
    const uint8_t *field[HB_YCSB_MAX_FIELDS]; /* field bytes */
    uint32_t len[HB_YCSB_MAX_FIELDS];         /* field lengths */
} s_record_t;

/* A key argument: encoded key plus a printable name for messages. */
typedef struct {
    hb_key_t key;  /* encoded ycsb-table key */
    char name[72]; /* printable, truncated form of the argument */
} s_ykey_t;

/* Mirrors hb_proc.c's s_ycsb_key. */
static hb_rc_t
s_key(stor_ctx_t *ctx, const char *proc, const hb_val_t *arg, s_ykey_t *out)
{
    if ((arg->type != HB_VAL_STR && arg->type != HB_VAL_BIN) || arg->u.s.len < 1 ||
        arg->u.s.len > HB_YCSB_KEY_MAX || !arg->u.s.ptr)
        return stor_ctx_abort(ctx, HB_INVALID, "%s: KEY must be a string of 1..%d bytes",
                              proc, HB_YCSB_KEY_MAX);
    hb_key_init(&out->key, HB_TABLE_YCSB);
    hb_key_put_str(&out->key, arg->u.s.ptr, arg->u.s.len);
    if (out->key.overflow)
        return stor_ctx_abort(ctx, HB_TOOBIG, "%s: KEY is too long", proc);
    stor_printable(arg->u.s.ptr, arg->u.s.len, out->name, sizeof out->name);
    return HB_OK;
}

/* Reads the record at k into *rec. Returns HB_OK, HB_NOTFOUND (absent:
 * the context is not aborted), or the abort code. */
static hb_rc_t
s_read(stor_ctx_t *ctx, const char *proc, const s_ykey_t *k, s_record_t *rec)
{
    const uint8_t *val;
    size_t vlen;
    rec->n = 0;
    hb_rc_t rc = stor_ctx_read(ctx, k->key.buf, k->key.len, &val, &vlen);
    if (rc != HB_OK)
        return rc;
    hb_mp_reader_t r;
    uint32_t n = 0;
    hb_mp_reader_init(&r, val, vlen);
    if (hb_mp_read_array(&r, &n) != HB_OK || n > HB_YCSB_MAX_FIELDS)
        goto corrupt;
    for (uint32_t i = 0; i < n; i++)
        if (hb_mp_read_bin(&r, &rec->field[i], &rec->len[i]) != HB_OK)
            goto corrupt;
    if (hb_mp_remaining(&r) != 0)
        goto corrupt;
    rec->n = n;
    return HB_OK;
corrupt:
    return stor_ctx_abort(ctx, HB_CORRUPT, "%s: stored record %s is malformed", proc,
                          k->name);
}

/* Writes rec at k as a msgpack array of bins, built in context memory. */
static hb_rc_t
s_write(stor_ctx_t *ctx, const s_ykey_t *k, const s_record_t *rec)
{
    size_t size = 3; /* array header: fixarray or array16 (n <= 64) */
    for (uint32_t i = 0; i < rec->n; i++)
        size += 5 + rec->len[i];
    uint8_t *buf = stor_ctx_alloc(ctx, size);
    uint8_t *p = buf;
    if (rec->n < 16)
        *p++ = (uint8_t)(0x90 | rec->n);
    else {
        *p++ = 0xdc;
        *p++ = (uint8_t)(rec->n >> 8);
        *p++ = (uint8_t)rec->n;
    }
    for (uint32_t i = 0; i < rec->n; i++) {
        uint32_t len = rec->len[i];
        if (len < 256) {
            *p++ = 0xc4;
            *p++ = (uint8_t)len;
        } else if (len < 65536) {
            *p++ = 0xc5;
            *p++ = (uint8_t)(len >> 8);
            *p++ = (uint8_t)len;
        } else {
            *p++ = 0xc6;
            *p++ = (uint8_t)(len >> 24);
            *p++ = (uint8_t)(len >> 16);
            *p++ = (uint8_t)(len >> 8);
            *p++ = (uint8_t)len;
        }
        if (len)
            memcpy(p, rec->field[i], len);
        p += len;
    }
    return stor_ctx_write(ctx, k->key.buf, k->key.len, buf, (size_t)(p - buf));
}

/* Appends a record to the results: nil when absent, else n then n bins. */
static void
s_result(stor_ctx_t *ctx, const s_record_t *rec, bool present)
{
    hb_val_t v = hb_val_nil();
    if (!present) {
        stor_ctx_result(ctx, &v);
        return;
    }
    v = hb_val_int(rec->n);
    stor_ctx_result(ctx, &v);
    for (uint32_t i = 0; i < rec->n; i++) {
        v = hb_val_bin(rec->field[i], rec->len[i]);
        stor_ctx_result(ctx, &v);
    }
}

hb_rc_t
stor_ycsb_read(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    if (nargs < 1 || nargs > HB_YCSB_MAX_KEYS)
        return stor_ctx_abort(ctx, HB_INVALID,
                              "ycsb.read: usage: ycsb.read KEY [KEY ...]");
    for (uint32_t i = 0; i < nargs; i++) {
        s_ykey_t k;
        s_record_t rec;
        hb_rc_t rc = s_key(ctx, "ycsb.read", &args[i], &k);
        if (rc != HB_OK)
            return rc;
        rc = s_read(ctx, "ycsb.read", &k, &rec);
        if (rc != HB_OK && rc != HB_NOTFOUND)
            return rc;
        s_result(ctx, &rec, rc == HB_OK);
    }
    return HB_OK;
}

/* ycsb.update and ycsb.rmw: for each KEY FIELD VALUE triple read the
 * record (returning it when `ret`), replace one field, write it back. */
static hb_rc_t
s_update(stor_ctx_t *ctx, const char *proc, const hb_val_t *args, uint32_t nargs,
         bool ret)
{
    if (nargs < 3 || nargs % 3 != 0 || nargs / 3 > HB_YCSB_MAX_KEYS)
        return stor_ctx_abort(ctx, HB_INVALID, "%s: usage: %s KEY FIELD VALUE [...]",
                              proc, proc);
    for (uint32_t i = 0; i < nargs; i += 3) {
        s_ykey_t k;
        s_record_t rec;
        hb_rc_t rc = s_key(ctx, proc, &args[i], &k);
        if (rc != HB_OK)
            return rc;
        const hb_val_t *f = &args[i + 1], *v = &args[i + 2];
        if (f->type != HB_VAL_INT || f->u.i < 0 || f->u.i >= HB_YCSB_MAX_FIELDS)
            return stor_ctx_abort(ctx, HB_INVALID, "%s: FIELD must be an integer 0..%d",
                                  proc, HB_YCSB_MAX_FIELDS - 1);
        if (v->type != HB_VAL_STR && v->type != HB_VAL_BIN)
            return stor_ctx_abort(ctx, HB_INVALID, "%s: VALUE must be a string or bytes",
                                  proc);
        rc = s_read(ctx, proc, &k, &rec);
        if (rc == HB_NOTFOUND)
            return stor_ctx_abort(ctx, HB_ABORTED, "%s: no record %s", proc, k.name);
        if (rc != HB_OK)
            return rc;
        if (ret)
            s_result(ctx, &rec, true);
        if ((uint64_t)f->u.i >= rec.n)
            return stor_ctx_abort(ctx, HB_ABORTED,
                                  "%s: record %s has no field %" PRId64
                                  " (it has %" PRIu32 ")",
                                  proc, k.name, f->u.i, rec.n);
        rec.field[f->u.i] = v->u.s.ptr;
        rec.len[f->u.i] = v->u.s.len;
        if ((rc = s_write(ctx, &k, &rec)) != HB_OK)
            return rc;
    }
    return HB_OK;
}

hb_rc_t
stor_ycsb_update(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    return s_update(ctx, "ycsb.update", args, nargs, false);
}

hb_rc_t
stor_ycsb_rmw(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    return s_update(ctx, "ycsb.rmw", args, nargs, true);
}

hb_rc_t
stor_ycsb_insert(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    s_ykey_t k;
    s_record_t rec;
    if (nargs < 2 || nargs > 1 + HB_YCSB_MAX_FIELDS)
        return stor_ctx_abort(ctx, HB_INVALID,
                              "ycsb.insert: usage: ycsb.insert KEY V0 .. Vn-1");
    hb_rc_t rc = s_key(ctx, "ycsb.insert", &args[0], &k);
    if (rc != HB_OK)
        return rc;
    rc = s_read(ctx, "ycsb.insert", &k, &rec);
    if (rc == HB_OK)
        return stor_ctx_abort(ctx, HB_ABORTED, "ycsb.insert: record %s exists", k.name);
    if (rc != HB_NOTFOUND)
        return rc;
    rec.n = nargs - 1;
    for (uint32_t i = 1; i < nargs; i++) {
        if (args[i].type != HB_VAL_STR && args[i].type != HB_VAL_BIN)
            return stor_ctx_abort(ctx, HB_INVALID,
                                  "ycsb.insert: V%" PRIu32 " must be a string or bytes",
                                  i - 1);
        rec.field[i - 1] = args[i].u.s.ptr;
        rec.len[i - 1] = args[i].u.s.len;
    }
    return s_write(ctx, &k, &rec);
}
