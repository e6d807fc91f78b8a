/* hb_proc.c — the native procedure catalog and lock-set derivation.
 *
 * Each procedure has a `plan` function that checks its arguments and derives
 * its lock set: the encoded keys (hb_key.h) it may read or write, each with
 * the partition hb_key_partition assigns to the encoded key bytes. Plans are
 * pure functions of (args, nparts): the sequencer re-derives every lock set
 * and every replica must get the same bytes. A plan validates all of its
 * arguments before adding any lock, so on error the lock set is unchanged.
 *
 * hb_lockset_t keeps locks in insertion order (deterministic) and merges
 * equal keys (the stronger mode wins); keys are copied into one growable
 * buffer that the locks point into.
 *
 * The TPC-C argument parsers (hb_tpcc_*_args) and key helpers are shared
 * with the bodies in storage/procs_tpcc.c, so a body re-derives exactly the
 * keys its plan locked.
 *
 * Entry points: hb_proc_find, hb_proc_by_id, hb_proc_plan, hb_lockset_*,
 * hb_tpcc_*.
 */
#include "hb_proc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_mp.h"

#define S_KV_KEY_MAX 512 /* bytes of a kv key before encoding */

/* ------------------------------------------------------------------ */
/* Lock sets                                                            */
/* ------------------------------------------------------------------ */

void
hb_lockset_init(hb_lockset_t *ls)
{
    memset(ls, 0, sizeof *ls);
}

void
hb_lockset_clear(hb_lockset_t *ls)
{
    if (!ls)
        return;
    hb_free(ls->locks);
    hb_free(ls->keybuf);
    memset(ls, 0, sizeof *ls);
}

void
hb_lockset_reset(hb_lockset_t *ls)
{
    ls->n = 0;
    ls->keylen = 0;
}

void
hb_lockset_add(hb_lockset_t *ls, uint16_t partition, hb_lock_mode_t mode, const void *key,
               size_t len)
{
    /* Linear dedup: native procedures have few keys, and a scan keeps the
     * set in insertion order without any hash-order dependence. */
    for (uint32_t i = 0; i < ls->n; i++) {
        hb_lock_t *l = &ls->locks[i];
        if (l->len == len && (len == 0 || memcmp(l->key, key, len) == 0)) {
            if (mode == HB_LOCK_WRITE)
                l->mode = HB_LOCK_WRITE;
            return;
        }
    }
    HB_GROW(ls->locks, ls->cap, ls->n + 1, 8);
    if (ls->keylen + len > ls->keycap) {
        HB_GROW(ls->keybuf, ls->keycap, ls->keylen + len, 256);
        /* Keys are laid out back to back in insertion order: re-point. */
        size_t off = 0;
        for (uint32_t i = 0; i < ls->n; i++) {
            ls->locks[i].key = ls->keybuf + off;
            off += ls->locks[i].len;
        }
    }
    if (len > 0)
        memcpy(ls->keybuf + ls->keylen, key, len);
    hb_lock_t *l = &ls->locks[ls->n++];
    l->partition = partition;
    l->mode = (uint8_t)mode;
    l->len = (uint32_t)len;
    l->key = ls->keybuf + ls->keylen;
    ls->keylen += len;
}

/* ------------------------------------------------------------------ */
/* Argument helpers                                                     */
/* ------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static hb_rc_t
s_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return HB_INVALID;
}

/* A kv key argument, encoded, with its partition. */
typedef struct {
    hb_key_t key;       /* encoded kv-table key */
    uint16_t partition; /* hb_key_partition of key */
} s_kvkey_t;

/* Encodes a kv KEY argument (str, bin, or int as its decimal string). */
static hb_rc_t
s_kv_key(const char *proc, const char *what, const hb_val_t *arg, uint32_t nparts,
         s_kvkey_t *out, char *err, size_t errlen)
{
    char digits[24];
    const void *ptr;
    size_t len;

    if (arg->type == HB_VAL_STR || arg->type == HB_VAL_BIN) {
        ptr = arg->u.s.ptr;
        len = arg->u.s.len;
    } else if (arg->type == HB_VAL_INT) {
        int n = snprintf(digits, sizeof digits, "%" PRId64, arg->u.i);
        ptr = digits;
        len = (size_t)n;
    } else
        return s_fail(err, errlen, "%s: %s must be a string, bytes or an integer", proc,
                      what);
    if (len < 1 || len > S_KV_KEY_MAX)
        return s_fail(err, errlen, "%s: %s must be 1..%d bytes (got %zu)", proc, what,
                      S_KV_KEY_MAX, len);
    if (len > 0 && !ptr)
        return s_fail(err, errlen, "%s: %s has no bytes", proc, what);
    hb_key_kv(&out->key, ptr, len);
    if (out->key.overflow)
        return s_fail(err, errlen, "%s: %s is longer than %d bytes once encoded", proc,
                      what, HB_KEY_MAX);
    out->partition = (uint16_t)hb_key_partition(out->key.buf, out->key.len, nparts);
    return HB_OK;
}

/* Checks the partition count every plan depends on. */
static hb_rc_t
s_check_nparts(const char *proc, uint32_t nparts, char *err, size_t errlen)
{
    if (nparts < 1 || nparts > 65536)
        return s_fail(err, errlen,
                      "%s: partition count %" PRIu32 " is out of range 1..65536", proc,
                      nparts);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Plans                                                                */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_plan_kv_get(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
              char *err, size_t errlen)
{
    s_kvkey_t k;
    hb_rc_t rc;
    if (nargs != 1)
        return s_fail(err, errlen, "kv.get: usage: kv.get KEY");
    if ((rc = s_check_nparts("kv.get", nparts, err, errlen)) ||
        (rc = s_kv_key("kv.get", "KEY", &args[0], nparts, &k, err, errlen)))
        return rc;
    hb_lockset_add(ls, k.partition, HB_LOCK_READ, k.key.buf, k.key.len);
    return HB_OK;
}

static hb_rc_t
s_plan_kv_put(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
              char *err, size_t errlen)
{
    s_kvkey_t k;
    hb_rc_t rc;
    if (nargs != 2)
        return s_fail(err, errlen, "kv.put: usage: kv.put KEY VALUE");
    if ((rc = s_check_nparts("kv.put", nparts, err, errlen)) ||
        (rc = s_kv_key("kv.put", "KEY", &args[0], nparts, &k, err, errlen)))
        return rc;
    hb_val_type_t t = args[1].type;
    if (t != HB_VAL_INT && t != HB_VAL_STR && t != HB_VAL_BIN)
        return s_fail(err, errlen, "kv.put: VALUE must be an integer, a string or bytes");
    hb_lockset_add(ls, k.partition, HB_LOCK_WRITE, k.key.buf, k.key.len);
    return HB_OK;
}

static hb_rc_t
s_plan_kv_add(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
              char *err, size_t errlen)
{
    s_kvkey_t k;
    hb_rc_t rc;
    if (nargs != 2)
        return s_fail(err, errlen, "kv.add: usage: kv.add KEY DELTA");
    if ((rc = s_check_nparts("kv.add", nparts, err, errlen)) ||
        (rc = s_kv_key("kv.add", "KEY", &args[0], nparts, &k, err, errlen)))
        return rc;
    if (args[1].type != HB_VAL_INT)
        return s_fail(err, errlen, "kv.add: DELTA must be an integer");
    hb_lockset_add(ls, k.partition, HB_LOCK_WRITE, k.key.buf, k.key.len);
    return HB_OK;
}

static hb_rc_t
s_plan_kv_transfer(const hb_val_t *args, uint32_t nargs, uint32_t nparts,
                   hb_lockset_t *ls, char *err, size_t errlen)
{
    s_kvkey_t from, to;
    hb_rc_t rc;
    if (nargs != 3)
        return s_fail(err, errlen, "kv.transfer: usage: kv.transfer FROM TO AMOUNT");
    if ((rc = s_check_nparts("kv.transfer", nparts, err, errlen)) ||
        (rc = s_kv_key("kv.transfer", "FROM", &args[0], nparts, &from, err, errlen)) ||
        (rc = s_kv_key("kv.transfer", "TO", &args[1], nparts, &to, err, errlen)))
        return rc;
    if (args[2].type != HB_VAL_INT || args[2].u.i < 0)
        return s_fail(err, errlen, "kv.transfer: AMOUNT must be an integer >= 0");
    /* Compare encoded keys: the integer 5 and the string "5" are one key. */
    if (from.key.len == to.key.len && memcmp(from.key.buf, to.key.buf, from.key.len) == 0)
        return s_fail(err, errlen, "kv.transfer: FROM and TO must be different keys");
    hb_lockset_add(ls, from.partition, HB_LOCK_WRITE, from.key.buf, from.key.len);
    hb_lockset_add(ls, to.partition, HB_LOCK_WRITE, to.key.buf, to.key.len);
    return HB_OK;
}

static hb_rc_t
s_plan_micro_rmw(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
                 char *err, size_t errlen)
{
    hb_rc_t rc;
    if (nargs != HB_MICRO_KEYS)
        return s_fail(err, errlen, "micro.rmw: usage: micro.rmw ID1 .. ID%d",
                      HB_MICRO_KEYS);
    if ((rc = s_check_nparts("micro.rmw", nparts, err, errlen)))
        return rc;
    for (uint32_t i = 0; i < nargs; i++) {
        if (args[i].type != HB_VAL_INT || args[i].u.i < 0)
            return s_fail(err, errlen, "micro.rmw: ID%" PRIu32 " must be an integer >= 0",
                          i + 1);
        for (uint32_t j = 0; j < i; j++)
            if (args[j].u.i == args[i].u.i)
                return s_fail(err, errlen,
                              "micro.rmw: ID%" PRIu32 " and ID%" PRIu32
                              " are both %" PRId64 " (ids must be distinct)",
                              j + 1, i + 1, args[i].u.i);
    }
    for (uint32_t i = 0; i < nargs; i++) {
        hb_key_t k;
        hb_key_micro(&k, args[i].u.i);
        uint16_t part = (uint16_t)hb_key_partition(k.buf, k.len, nparts);
        hb_lockset_add(ls, part, HB_LOCK_WRITE, k.buf, k.len);
    }
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* YCSB plans                                                           */
/* ------------------------------------------------------------------ */

/* Encodes a YCSB KEY argument (str or bin, 1..HB_YCSB_KEY_MAX bytes). */
static hb_rc_t
s_ycsb_key(const char *proc, uint32_t argi, const hb_val_t *arg, uint32_t nparts,
           s_kvkey_t *out, char *err, size_t errlen)
{
    if (arg->type != HB_VAL_STR && arg->type != HB_VAL_BIN)
        return s_fail(err, errlen,
                      "%s: argument %" PRIu32 " (KEY) must be a string or bytes", proc,
                      argi + 1);
    if (arg->u.s.len < 1 || arg->u.s.len > HB_YCSB_KEY_MAX || !arg->u.s.ptr)
        return s_fail(err, errlen, "%s: argument %" PRIu32 " (KEY) must be 1..%d bytes",
                      proc, argi + 1, HB_YCSB_KEY_MAX);
    hb_key_init(&out->key, HB_TABLE_YCSB);
    hb_key_put_str(&out->key, arg->u.s.ptr, arg->u.s.len);
    if (out->key.overflow)
        return s_fail(err, errlen,
                      "%s: argument %" PRIu32 " (KEY) is too long once encoded", proc,
                      argi + 1);
    out->partition = (uint16_t)hb_key_partition(out->key.buf, out->key.len, nparts);
    return HB_OK;
}

/* Checks a FIELD and a VALUE argument. */
static hb_rc_t
s_ycsb_field_value(const char *proc, uint32_t argi, const hb_val_t *args, char *err,
                   size_t errlen)
{
    if (args[0].type != HB_VAL_INT || args[0].u.i < 0 ||
        args[0].u.i >= HB_YCSB_MAX_FIELDS)
        return s_fail(err, errlen,
                      "%s: argument %" PRIu32 " (FIELD) must be an integer 0..%d", proc,
                      argi + 1, HB_YCSB_MAX_FIELDS - 1);
    if (args[1].type != HB_VAL_STR && args[1].type != HB_VAL_BIN)
        return s_fail(err, errlen,
                      "%s: argument %" PRIu32 " (VALUE) must be a string or bytes", proc,
                      argi + 2);
    return HB_OK;
}

static hb_rc_t
s_plan_ycsb_read(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
                 char *err, size_t errlen)
{
    s_kvkey_t k[HB_YCSB_MAX_KEYS];
    hb_rc_t rc;
    if (nargs < 1 || nargs > HB_YCSB_MAX_KEYS)
        return s_fail(err, errlen,
                      "ycsb.read: usage: ycsb.read KEY [KEY ...] (1..%d keys)",
                      HB_YCSB_MAX_KEYS);
    if ((rc = s_check_nparts("ycsb.read", nparts, err, errlen)))
        return rc;
    for (uint32_t i = 0; i < nargs; i++)
        if ((rc = s_ycsb_key("ycsb.read", i, &args[i], nparts, &k[i], err, errlen)))
            return rc;
    for (uint32_t i = 0; i < nargs; i++)
        hb_lockset_add(ls, k[i].partition, HB_LOCK_READ, k[i].key.buf, k[i].key.len);
    return HB_OK;
}

/* ycsb.update and ycsb.rmw: KEY FIELD VALUE triples, write locks. */
static hb_rc_t
s_plan_ycsb_triples(const char *proc, const hb_val_t *args, uint32_t nargs,
                    uint32_t nparts, hb_lockset_t *ls, char *err, size_t errlen)
{
    s_kvkey_t k[HB_YCSB_MAX_KEYS];
    hb_rc_t rc;
    if (nargs < 3 || nargs % 3 != 0 || nargs / 3 > HB_YCSB_MAX_KEYS)
        return s_fail(
            err, errlen,
            "%s: usage: %s KEY FIELD VALUE [KEY FIELD VALUE ...] (1..%d records)", proc,
            proc, HB_YCSB_MAX_KEYS);
    if ((rc = s_check_nparts(proc, nparts, err, errlen)))
        return rc;
    for (uint32_t i = 0; i < nargs; i += 3)
        if ((rc = s_ycsb_key(proc, i, &args[i], nparts, &k[i / 3], err, errlen)) ||
            (rc = s_ycsb_field_value(proc, i + 1, &args[i + 1], err, errlen)))
            return rc;
    for (uint32_t i = 0; i < nargs / 3; i++)
        hb_lockset_add(ls, k[i].partition, HB_LOCK_WRITE, k[i].key.buf, k[i].key.len);
    return HB_OK;
}

static hb_rc_t
s_plan_ycsb_update(const hb_val_t *args, uint32_t nargs, uint32_t nparts,
                   hb_lockset_t *ls, char *err, size_t errlen)
{
    return s_plan_ycsb_triples("ycsb.update", args, nargs, nparts, ls, err, errlen);
}

static hb_rc_t
s_plan_ycsb_rmw(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
                char *err, size_t errlen)
{
    return s_plan_ycsb_triples("ycsb.rmw", args, nargs, nparts, ls, err, errlen);
}

static hb_rc_t
s_plan_ycsb_insert(const hb_val_t *args, uint32_t nargs, uint32_t nparts,
                   hb_lockset_t *ls, char *err, size_t errlen)
{
    s_kvkey_t k;
    hb_rc_t rc;
    if (nargs < 2 || nargs > 1 + HB_YCSB_MAX_FIELDS)
        return s_fail(err, errlen,
                      "ycsb.insert: usage: ycsb.insert KEY V0 .. Vn-1 (1..%d fields)",
                      HB_YCSB_MAX_FIELDS);
    if ((rc = s_check_nparts("ycsb.insert", nparts, err, errlen)) ||
        (rc = s_ycsb_key("ycsb.insert", 0, &args[0], nparts, &k, err, errlen)))
        return rc;
    for (uint32_t i = 1; i < nargs; i++)
        if (args[i].type != HB_VAL_STR && args[i].type != HB_VAL_BIN)
            return s_fail(err, errlen,
                          "ycsb.insert: argument %" PRIu32 " (V%" PRIu32
                          ") must be a string or bytes",
                          i + 1, i - 1);
    hb_lockset_add(ls, k.partition, HB_LOCK_WRITE, k.key.buf, k.key.len);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* SQL                                                                  */
/* ------------------------------------------------------------------ */

void
hb_key_catalog(hb_key_t *k, uint16_t partition, const char *name, size_t len)
{
    hb_key_init(k, HB_TABLE_CATALOG);
    hb_key_put_i64(k, partition);
    hb_key_put_str(k, name, len);
}

/* Adds the read lock on the catalog version record of every partition the
 * set touches so far (a DDL's write lock on it orders the two). */
static void
s_lock_catalog_versions(hb_lockset_t *ls, uint32_t nparts)
{
    uint32_t n = ls->n;
    for (uint32_t p = 0; p < nparts; p++) {
        bool touched = false;
        for (uint32_t i = 0; i < n && !touched; i++)
            touched = ls->locks[i].partition == p;
        if (!touched)
            continue;
        hb_key_t k;
        hb_key_catalog(&k, (uint16_t)p, "", 0);
        hb_lockset_add(ls, (uint16_t)p, HB_LOCK_READ, k.buf, k.len);
    }
}

static hb_rc_t
s_plan_sql_exec(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
                char *err, size_t errlen)
{
    (void)nargs;
    hb_rc_t rc;
    if ((rc = s_check_nparts("sql.exec", nparts, err, errlen)))
        return rc;
    if (args[0].type != HB_VAL_INT || args[0].u.i < 0)
        return s_fail(err, errlen, "sql.exec: CATVER must be an integer >= 0");
    if (args[1].type != HB_VAL_BIN)
        return s_fail(err, errlen, "sql.exec: OPS must be bytes");
    /* Two passes: validate every op, then add the locks, so a bad op leaves
     * the set as it was (modes included). */
    for (int pass = 0; pass < 2; pass++) {
        hb_mp_reader_t r;
        hb_mp_reader_init(&r, args[1].u.s.ptr, args[1].u.s.len);
        uint32_t nops = 0;
        if (hb_mp_read_array(&r, &nops) != HB_OK || nops == 0 || nops > HB_SQL_MAX_OPS)
            return s_fail(err, errlen, "sql.exec: OPS must be an array of 1..%d ops",
                          HB_SQL_MAX_OPS);
        for (uint32_t i = 0; i < nops; i++) {
            uint32_t n = 0;
            uint64_t kind = 0, plen = 0;
            const uint8_t *key = NULL;
            uint32_t klen = 0, table = 0;
            if (hb_mp_read_array(&r, &n) != HB_OK || n < 3 ||
                hb_mp_read_uint(&r, &kind) != HB_OK || kind > HB_SQLOP_IDEL ||
                hb_mp_read_bin(&r, &key, &klen) != HB_OK ||
                hb_mp_read_uint(&r, &plen) != HB_OK)
                return s_fail(err, errlen, "sql.exec: malformed OPS");
            const uint8_t *kp = key, *pkey = key;
            uint32_t pklen = (uint32_t)plen;
            bool index = kind == HB_SQLOP_IPUT || kind == HB_SQLOP_IDEL;
            if (klen > HB_KEY_MAX || hb_key_get_table(&kp, key + klen, &table) != HB_OK ||
                (index ? table != HB_TABLE_INDEX || n < 4
                       : table < HB_TABLE_USER_FIRST || plen < 4 || plen > klen))
                return s_fail(err, errlen, "sql.exec: malformed OPS");
            if (index) {
                /* The entry lives on its row's partition. */
                const uint8_t *tp;
                uint32_t ptable = 0;
                if (hb_mp_read_bin(&r, &pkey, &pklen) != HB_OK || pklen < 4 ||
                    pklen > HB_KEY_MAX ||
                    (tp = pkey, hb_key_get_table(&tp, pkey + pklen, &ptable) != HB_OK) ||
                    ptable < HB_TABLE_USER_FIRST)
                    return s_fail(err, errlen, "sql.exec: malformed OPS");
            }
            for (uint32_t f = index ? 4 : 3; f < n; f++)
                if (hb_mp_skip(&r) != HB_OK)
                    return s_fail(err, errlen, "sql.exec: malformed OPS");
            if (pass == 1) {
                uint16_t part = (uint16_t)hb_key_partition(pkey, pklen, nparts);
                hb_lockset_add(ls, part,
                               kind == HB_SQLOP_GET || kind == HB_SQLOP_CHECK
                                   ? HB_LOCK_READ
                                   : HB_LOCK_WRITE,
                               key, klen);
            }
        }
        if (hb_mp_remaining(&r) != 0)
            return s_fail(err, errlen, "sql.exec: malformed OPS");
    }
    s_lock_catalog_versions(ls, nparts);
    return HB_OK;
}

static hb_rc_t
s_plan_sql_ddl(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
               char *err, size_t errlen)
{
    (void)nargs;
    hb_rc_t rc;
    if ((rc = s_check_nparts("sql.ddl", nparts, err, errlen)))
        return rc;
    if (args[0].type != HB_VAL_INT || args[0].u.i < 0)
        return s_fail(err, errlen, "sql.ddl: CATVER must be an integer >= 0");
    if (args[1].type != HB_VAL_INT || args[1].u.i < HB_SQLDDL_CREATE ||
        args[1].u.i > HB_SQLDDL_ALTER)
        return s_fail(err, errlen, "sql.ddl: KIND must be 0..6");
    if (args[2].type != HB_VAL_STR || args[2].u.s.len == 0 || args[2].u.s.len > 64)
        return s_fail(err, errlen, "sql.ddl: NAME must be a string of 1..64 bytes");
    if (args[3].type != HB_VAL_BIN)
        return s_fail(err, errlen, "sql.ddl: DEF must be bytes");
    for (uint32_t p = 0; p < nparts; p++) {
        hb_key_t k;
        hb_key_catalog(&k, (uint16_t)p, "", 0);
        hb_lockset_add(ls, (uint16_t)p, HB_LOCK_WRITE, k.buf, k.len);
        hb_key_catalog(&k, (uint16_t)p, (const char *)args[2].u.s.ptr, args[2].u.s.len);
        hb_lockset_add(ls, (uint16_t)p, HB_LOCK_WRITE, k.buf, k.len);
    }
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* TPC-C                                                                */
/* ------------------------------------------------------------------ */

#define S_INT4_MAX 2147483647 /* ids are SQL int columns */

void
hb_tpcc_key(hb_key_t *k, uint32_t table, const int64_t *cols, uint32_t n)
{
    hb_key_init(k, table);
    for (uint32_t i = 0; i < n; i++)
        hb_key_put_i64(k, cols[i]);
}

uint16_t
hb_tpcc_partition(const hb_key_t *k, uint32_t nparts)
{
    return (uint16_t)hb_key_partition(
        k->buf, k->len < HB_TPCC_PLEN ? k->len : HB_TPCC_PLEN, nparts);
}

void
hb_tpcc_index_prefix(hb_key_t *k, uint32_t table, uint32_t ixno, const int64_t *cols,
                     uint32_t n)
{
    /* sqlf_index_key: each index column behind a 0x01 "not NULL" tag. */
    hb_key_init(k, HB_TABLE_INDEX);
    hb_key_put_i64(k, table);
    hb_key_put_i64(k, ixno);
    for (uint32_t i = 0; i < n; i++) {
        k->buf[k->len++] = 0x01; /* 4 + 8 * 2 + 9 * i + 1 < HB_KEY_MAX (n <= 3) */
        hb_key_put_i64(k, cols[i]);
    }
}

void
hb_tpcc_order_index_key(hb_key_t *k, const hb_tpcc_schema_t *s, int64_t w, int64_t d,
                        int64_t c, int64_t o)
{
    /* The index columns, then the primary key columns untagged. */
    const int64_t ix[3] = {w, d, c}, pk[3] = {w, d, o};
    hb_tpcc_index_prefix(k, s->orders, s->ix_orders_customer, ix, 3);
    for (int i = 0; i < 3; i++)
        hb_key_put_i64(k, pk[i]);
}

/* Reads integer argument i into *out, checking lo <= value <= hi. */
static hb_rc_t
s_tpcc_int(const char *proc, const hb_val_t *args, uint32_t i, const char *what,
           int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen)
{
    if (args[i].type != HB_VAL_INT || args[i].u.i < lo || args[i].u.i > hi)
        return s_fail(err, errlen,
                      "%s: argument %" PRIu32 " (%s) must be an integer %" PRId64
                      "..%" PRId64,
                      proc, i + 1, what, lo, hi);
    *out = args[i].u.i;
    return HB_OK;
}

/* The 11 schema arguments: 9 distinct user table ids, 2 index numbers. */
static hb_rc_t
s_tpcc_schema(const char *proc, const hb_val_t *args, uint32_t nargs, hb_tpcc_schema_t *s,
              char *err, size_t errlen)
{
    static const char *const names[HB_TPCC_SCHEMA_ARGS] = {
        "warehouse table", "district table",        "customer table",     "history table",
        "new_order table", "orders table",          "order_line table",   "item table",
        "stock table",     "orders_customer index", "customer_name index"};
    int64_t v[HB_TPCC_SCHEMA_ARGS];
    if (nargs < HB_TPCC_SCHEMA_ARGS)
        return s_fail(err, errlen, "%s: missing the %d schema arguments", proc,
                      HB_TPCC_SCHEMA_ARGS);
    for (uint32_t i = 0; i < HB_TPCC_SCHEMA_ARGS; i++) {
        hb_rc_t rc = s_tpcc_int(proc, args, i, names[i], i < 9 ? HB_TABLE_USER_FIRST : 0,
                                UINT32_MAX, &v[i], err, errlen);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < i && i < 9; j++)
            if (v[j] == v[i])
                return s_fail(err, errlen,
                              "%s: the %s and the %s are both table %" PRId64, proc,
                              names[j], names[i], v[i]);
    }
    *s = (hb_tpcc_schema_t){.warehouse = (uint32_t)v[0],
                            .district = (uint32_t)v[1],
                            .customer = (uint32_t)v[2],
                            .history = (uint32_t)v[3],
                            .new_order = (uint32_t)v[4],
                            .orders = (uint32_t)v[5],
                            .order_line = (uint32_t)v[6],
                            .item = (uint32_t)v[7],
                            .stock = (uint32_t)v[8],
                            .ix_orders_customer = (uint32_t)v[9],
                            .ix_customer_name = (uint32_t)v[10]};
    return HB_OK;
}

hb_rc_t
hb_tpcc_new_order_args(const hb_val_t *args, uint32_t nargs, hb_tpcc_new_order_t *out,
                       char *err, size_t errlen)
{
    static const char *proc = "tpcc.new_order";
    const uint32_t base = HB_TPCC_SCHEMA_ARGS + 4;
    hb_rc_t rc;
    memset(out, 0, sizeof *out);
    if (nargs < base + 3 * HB_TPCC_MIN_OL || nargs > base + 3 * HB_TPCC_MAX_OL ||
        (nargs - base) % 3 != 0)
        return s_fail(
            err, errlen,
            "%s: usage: %s S1..S11 W D C ALL_LOCAL I1 SW1 Q1 .. In SWn Qn (n %d..%d)",
            proc, proc, HB_TPCC_MIN_OL, HB_TPCC_MAX_OL);
    if ((rc = s_tpcc_schema(proc, args, nargs, &out->s, err, errlen)))
        return rc;
    const uint32_t a = HB_TPCC_SCHEMA_ARGS;
    if ((rc = s_tpcc_int(proc, args, a, "W", 1, S_INT4_MAX, &out->w, err, errlen)) ||
        (rc = s_tpcc_int(proc, args, a + 1, "D", 1, HB_TPCC_DISTRICTS, &out->d, err,
                         errlen)) ||
        (rc = s_tpcc_int(proc, args, a + 2, "C", 1, S_INT4_MAX, &out->c, err, errlen)) ||
        (rc = s_tpcc_int(proc, args, a + 3, "ALL_LOCAL", 0, 1, &out->all_local, err,
                         errlen)))
        return rc;
    out->n = (nargs - base) / 3;
    bool local = true;
    for (uint32_t l = 0; l < out->n; l++) {
        uint32_t i = base + 3 * l;
        char what[3][8];
        snprintf(what[0], sizeof what[0], "I%" PRIu32, l + 1);
        snprintf(what[1], sizeof what[1], "SW%" PRIu32, l + 1);
        snprintf(what[2], sizeof what[2], "Q%" PRIu32, l + 1);
        if ((rc = s_tpcc_int(proc, args, i, what[0], 1, S_INT4_MAX, &out->ol[l].i_id, err,
                             errlen)) ||
            (rc = s_tpcc_int(proc, args, i + 1, what[1], 1, S_INT4_MAX,
                             &out->ol[l].supply_w, err, errlen)) ||
            (rc = s_tpcc_int(proc, args, i + 2, what[2], 1, 10, &out->ol[l].qty, err,
                             errlen)))
            return rc;
        local = local && out->ol[l].supply_w == out->w;
    }
    if (out->all_local != (local ? 1 : 0))
        return s_fail(err, errlen,
                      "%s: ALL_LOCAL is %" PRId64 " but %s supplying warehouse is W",
                      proc, out->all_local, local ? "every" : "not every");
    return HB_OK;
}

hb_rc_t
hb_tpcc_payment_args(const hb_val_t *args, uint32_t nargs, hb_tpcc_payment_t *out,
                     char *err, size_t errlen)
{
    static const char *proc = "tpcc.payment";
    const uint32_t a = HB_TPCC_SCHEMA_ARGS;
    hb_rc_t rc;
    memset(out, 0, sizeof *out);
    if (nargs != a + 6)
        return s_fail(err, errlen, "%s: usage: %s S1..S11 W D CW CD C AMOUNT", proc,
                      proc);
    if ((rc = s_tpcc_schema(proc, args, nargs, &out->s, err, errlen)) ||
        (rc = s_tpcc_int(proc, args, a, "W", 1, S_INT4_MAX, &out->w, err, errlen)) ||
        (rc = s_tpcc_int(proc, args, a + 1, "D", 1, S_INT4_MAX, &out->d, err, errlen)) ||
        (rc =
             s_tpcc_int(proc, args, a + 2, "CW", 1, S_INT4_MAX, &out->cw, err, errlen)) ||
        (rc =
             s_tpcc_int(proc, args, a + 3, "CD", 1, S_INT4_MAX, &out->cd, err, errlen)) ||
        (rc = s_tpcc_int(proc, args, a + 4, "C", 1, S_INT4_MAX, &out->c, err, errlen)))
        return rc;
    /* h_amount is numeric(6,2): 0.01 .. 9999.99, at most 2 decimals. */
    const hb_val_t *v = &args[a + 5];
    int64_t m = -1;
    if (v->type == HB_VAL_INT && v->u.i >= 1 && v->u.i <= 9999) {
        m = v->u.i * 100;
    } else if (v->type == HB_VAL_DEC && v->u.dec.scale >= 0 && v->u.dec.scale <= 2) {
        int64_t f = v->u.dec.scale == 0 ? 100 : v->u.dec.scale == 1 ? 10 : 1;
        if (v->u.dec.m >= 1 && v->u.dec.m <= 999999 / f)
            m = v->u.dec.m * f;
    }
    if (m <= 0)
        return s_fail(err, errlen,
                      "%s: argument %" PRIu32
                      " (AMOUNT) must be a decimal or an integer, "
                      "0.01..9999.99 with at most 2 decimals",
                      proc, a + 6);
    out->amount = m;
    return HB_OK;
}

hb_rc_t
hb_tpcc_delivery_args(const hb_val_t *args, uint32_t nargs, hb_tpcc_delivery_t *out,
                      char *err, size_t errlen)
{
    static const char *proc = "tpcc.delivery";
    const uint32_t a = HB_TPCC_SCHEMA_ARGS;
    hb_rc_t rc;
    memset(out, 0, sizeof *out);
    if (nargs != a + 2 + 3 * HB_TPCC_DISTRICTS)
        return s_fail(err, errlen,
                      "%s: usage: %s S1..S11 W CARRIER O1 C1 N1 .. O10 C10 N10", proc,
                      proc);
    if ((rc = s_tpcc_schema(proc, args, nargs, &out->s, err, errlen)) ||
        (rc = s_tpcc_int(proc, args, a, "W", 1, S_INT4_MAX, &out->w, err, errlen)) ||
        (rc =
             s_tpcc_int(proc, args, a + 1, "CARRIER", 1, 10, &out->carrier, err, errlen)))
        return rc;
    for (uint32_t d = 0; d < HB_TPCC_DISTRICTS; d++) {
        uint32_t i = a + 2 + 3 * d;
        char what[3][8];
        snprintf(what[0], sizeof what[0], "O%" PRIu32, d + 1);
        snprintf(what[1], sizeof what[1], "C%" PRIu32, d + 1);
        snprintf(what[2], sizeof what[2], "N%" PRIu32, d + 1);
        if ((rc = s_tpcc_int(proc, args, i, what[0], 0, S_INT4_MAX, &out->d[d].o_id, err,
                             errlen)))
            return rc;
        if (out->d[d].o_id == 0) {
            /* Nothing to deliver: C and N are ignored (any integer). */
            for (uint32_t j = 1; j <= 2; j++)
                if (args[i + j].type != HB_VAL_INT)
                    return s_fail(err, errlen,
                                  "%s: argument %" PRIu32 " (%s) must be an integer",
                                  proc, i + j + 1, what[j]);
            continue;
        }
        if ((rc = s_tpcc_int(proc, args, i + 1, what[1], 1, S_INT4_MAX, &out->d[d].c_id,
                             err, errlen)) ||
            (rc = s_tpcc_int(proc, args, i + 2, what[2], 1, HB_TPCC_MAX_OL,
                             &out->d[d].ol_cnt, err, errlen)))
            return rc;
    }
    return HB_OK;
}

/* Adds a write (or read) lock on [table][cols..] at its TPC-C partition. */
static void
s_tpcc_lock(hb_lockset_t *ls, uint32_t nparts, hb_lock_mode_t mode, uint32_t table,
            const int64_t *cols, uint32_t n)
{
    hb_key_t k;
    hb_tpcc_key(&k, table, cols, n);
    hb_lockset_add(ls, hb_tpcc_partition(&k, nparts), mode, k.buf, k.len);
}

/* Write-locks district (w, d)'s anchors: the key prefixes [orders][w][d],
 * [new_order][w][d] and [order_line][w][d]. New-Order takes them so that
 * the partitions of its fresh rows run its body, Delivery so that it is
 * ordered against those fresh writes on every replica. */
static void
s_tpcc_lock_anchors(hb_lockset_t *ls, uint32_t nparts, const hb_tpcc_schema_t *s,
                    const int64_t wd[2])
{
    s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, s->orders, wd, 2);
    s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, s->new_order, wd, 2);
    s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, s->order_line, wd, 2);
}

static hb_rc_t
s_plan_tpcc_new_order(const hb_val_t *args, uint32_t nargs, uint32_t nparts,
                      hb_lockset_t *ls, char *err, size_t errlen)
{
    hb_tpcc_new_order_t a;
    hb_rc_t rc;
    if ((rc = s_check_nparts("tpcc.new_order", nparts, err, errlen)) ||
        (rc = hb_tpcc_new_order_args(args, nargs, &a, err, errlen)))
        return rc;
    const int64_t wd[2] = {a.w, a.d}, wdc[3] = {a.w, a.d, a.c};
    s_tpcc_lock(ls, nparts, HB_LOCK_READ, a.s.warehouse, wd, 1);
    s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.district, wd, 2);
    s_tpcc_lock(ls, nparts, HB_LOCK_READ, a.s.customer, wdc, 3);
    for (uint32_t l = 0; l < a.n; l++) {
        const int64_t si[2] = {a.ol[l].supply_w, a.ol[l].i_id};
        s_tpcc_lock(ls, nparts, HB_LOCK_READ, a.s.item, &a.ol[l].i_id, 1);
        s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.stock, si, 2);
    }
    s_tpcc_lock_anchors(ls, nparts, &a.s, wd);
    return HB_OK;
}

static hb_rc_t
s_plan_tpcc_payment(const hb_val_t *args, uint32_t nargs, uint32_t nparts,
                    hb_lockset_t *ls, char *err, size_t errlen)
{
    hb_tpcc_payment_t a;
    hb_rc_t rc;
    if ((rc = s_check_nparts("tpcc.payment", nparts, err, errlen)) ||
        (rc = hb_tpcc_payment_args(args, nargs, &a, err, errlen)))
        return rc;
    const int64_t wd[2] = {a.w, a.d}, cust[3] = {a.cw, a.cd, a.c};
    s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.warehouse, wd, 1);
    s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.district, wd, 2);
    s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.customer, cust, 3);
    s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.history, cust, 3); /* anchor */
    return HB_OK;
}

static hb_rc_t
s_plan_tpcc_delivery(const hb_val_t *args, uint32_t nargs, uint32_t nparts,
                     hb_lockset_t *ls, char *err, size_t errlen)
{
    hb_tpcc_delivery_t a;
    hb_rc_t rc;
    if ((rc = s_check_nparts("tpcc.delivery", nparts, err, errlen)) ||
        (rc = hb_tpcc_delivery_args(args, nargs, &a, err, errlen)))
        return rc;
    for (int64_t d = 1; d <= HB_TPCC_DISTRICTS; d++) {
        const int64_t o = a.d[d - 1].o_id;
        if (o == 0)
            continue;
        int64_t k[4] = {a.w, d, o, 0};
        s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.new_order, k, 3);
        s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.orders, k, 3);
        for (k[3] = 1; k[3] <= a.d[d - 1].ol_cnt; k[3]++)
            s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.order_line, k, 4);
        const int64_t c[3] = {a.w, d, a.d[d - 1].c_id};
        s_tpcc_lock(ls, nparts, HB_LOCK_WRITE, a.s.customer, c, 3);
        s_tpcc_lock_anchors(ls, nparts, &a.s, k);
    }
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Catalog                                                              */
/* ------------------------------------------------------------------ */

static const hb_proc_def_t s_procs[HB_PROC_COUNT_] = {
    [HB_PROC_KV_GET] = {"kv.get", HB_PROC_KV_GET, 1, 1, "kv.get KEY", s_plan_kv_get},
    [HB_PROC_KV_PUT] = {"kv.put", HB_PROC_KV_PUT, 2, 2, "kv.put KEY VALUE",
                        s_plan_kv_put},
    [HB_PROC_KV_ADD] = {"kv.add", HB_PROC_KV_ADD, 2, 2, "kv.add KEY DELTA",
                        s_plan_kv_add},
    [HB_PROC_KV_TRANSFER] = {"kv.transfer", HB_PROC_KV_TRANSFER, 3, 3,
                             "kv.transfer FROM TO AMOUNT", s_plan_kv_transfer},
    [HB_PROC_MICRO_RMW] = {"micro.rmw", HB_PROC_MICRO_RMW, HB_MICRO_KEYS, HB_MICRO_KEYS,
                           "micro.rmw ID1 .. ID10", s_plan_micro_rmw},
    [HB_PROC_YCSB_READ] = {"ycsb.read", HB_PROC_YCSB_READ, 1, HB_YCSB_MAX_KEYS,
                           "ycsb.read KEY [KEY ...]", s_plan_ycsb_read},
    [HB_PROC_YCSB_UPDATE] = {"ycsb.update", HB_PROC_YCSB_UPDATE, 3, 3 * HB_YCSB_MAX_KEYS,
                             "ycsb.update KEY FIELD VALUE [KEY FIELD VALUE ...]",
                             s_plan_ycsb_update},
    [HB_PROC_YCSB_INSERT] = {"ycsb.insert", HB_PROC_YCSB_INSERT, 2,
                             1 + HB_YCSB_MAX_FIELDS, "ycsb.insert KEY V0 .. Vn-1",
                             s_plan_ycsb_insert},
    [HB_PROC_YCSB_RMW] = {"ycsb.rmw", HB_PROC_YCSB_RMW, 3, 3 * HB_YCSB_MAX_KEYS,
                          "ycsb.rmw KEY FIELD VALUE [KEY FIELD VALUE ...]",
                          s_plan_ycsb_rmw},
    [HB_PROC_SQL_EXEC] = {"sql.exec", HB_PROC_SQL_EXEC, 2, 2, "sql.exec CATVER OPS",
                          s_plan_sql_exec},
    [HB_PROC_SQL_DDL] = {"sql.ddl", HB_PROC_SQL_DDL, 4, 4, "sql.ddl CATVER KIND NAME DEF",
                         s_plan_sql_ddl},
    [HB_PROC_TPCC_NEW_ORDER] =
        {"tpcc.new_order", HB_PROC_TPCC_NEW_ORDER,
         HB_TPCC_SCHEMA_ARGS + 4 + 3 * HB_TPCC_MIN_OL,
         HB_TPCC_SCHEMA_ARGS + 4 + 3 * HB_TPCC_MAX_OL,
         "tpcc.new_order S1..S11 W D C ALL_LOCAL I1 SW1 Q1 .. In SWn Qn",
         s_plan_tpcc_new_order},
    [HB_PROC_TPCC_PAYMENT] = {"tpcc.payment", HB_PROC_TPCC_PAYMENT,
                              HB_TPCC_SCHEMA_ARGS + 6, HB_TPCC_SCHEMA_ARGS + 6,
                              "tpcc.payment S1..S11 W D CW CD C AMOUNT",
                              s_plan_tpcc_payment},
    [HB_PROC_TPCC_DELIVERY] = {"tpcc.delivery", HB_PROC_TPCC_DELIVERY,
                               HB_TPCC_SCHEMA_ARGS + 2 + 3 * HB_TPCC_DISTRICTS,
                               HB_TPCC_SCHEMA_ARGS + 2 + 3 * HB_TPCC_DISTRICTS,
                               "tpcc.delivery S1..S11 W CARRIER O1 C1 N1 .. O10 C10 N10",
                               s_plan_tpcc_delivery},
};

const hb_proc_def_t *
hb_proc_find(const char *name, size_t len)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < HB_PROC_COUNT_; i++)
        if (strlen(s_procs[i].name) == len && memcmp(s_procs[i].name, name, len) == 0)
            return &s_procs[i];
    return NULL;
}

const hb_proc_def_t *
hb_proc_by_id(hb_proc_id_t id)
{
    if ((unsigned)id >= HB_PROC_COUNT_)
        return NULL;
    return &s_procs[id];
}

hb_rc_t
hb_proc_plan(const hb_proc_def_t *def, const hb_val_t *args, uint32_t nargs,
             uint32_t nparts, hb_lockset_t *ls, char *err, size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
    if (!def)
        return s_fail(err, errlen, "unknown procedure");
    if (nargs < def->min_args || nargs > def->max_args)
        return s_fail(err, errlen, "%s: usage: %s", def->name, def->usage);
    if (nargs > 0 && !args)
        return s_fail(err, errlen, "%s: missing arguments", def->name);
    return def->plan(args, nargs, nparts, ls, err, errlen);
}
