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
 * Entry points: hb_proc_find, hb_proc_by_id, hb_proc_plan, hb_lockset_*.
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
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 8;
        ls->locks = hb_realloc(ls->locks, ls->cap * sizeof *ls->locks);
    }
    if (ls->keylen + len > ls->keycap) {
        size_t cap = ls->keycap ? ls->keycap : 256;
        while (cap < ls->keylen + len)
            cap *= 2;
        ls->keybuf = hb_realloc(ls->keybuf, cap);
        ls->keycap = cap;
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
    }
    else if (arg->type == HB_VAL_INT) {
        int n = snprintf(digits, sizeof digits, "%" PRId64, arg->u.i);
        ptr = digits;
        len = (size_t)n;
    }
    else
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
        return s_fail(err, errlen, "%s: partition count %" PRIu32 " is out of range 1..65536",
                      proc, nparts);
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
s_plan_kv_transfer(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
                   char *err, size_t errlen)
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
        return s_fail(err, errlen, "micro.rmw: usage: micro.rmw ID1 .. ID%d", HB_MICRO_KEYS);
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
        return s_fail(err, errlen, "%s: argument %" PRIu32 " (KEY) must be a string or bytes",
                      proc, argi + 1);
    if (arg->u.s.len < 1 || arg->u.s.len > HB_YCSB_KEY_MAX || !arg->u.s.ptr)
        return s_fail(err, errlen, "%s: argument %" PRIu32 " (KEY) must be 1..%d bytes", proc,
                      argi + 1, HB_YCSB_KEY_MAX);
    hb_key_init(&out->key, HB_TABLE_YCSB);
    hb_key_put_str(&out->key, arg->u.s.ptr, arg->u.s.len);
    if (out->key.overflow)
        return s_fail(err, errlen, "%s: argument %" PRIu32 " (KEY) is too long once encoded",
                      proc, argi + 1);
    out->partition = (uint16_t)hb_key_partition(out->key.buf, out->key.len, nparts);
    return HB_OK;
}

/* Checks a FIELD and a VALUE argument. */
static hb_rc_t
s_ycsb_field_value(const char *proc, uint32_t argi, const hb_val_t *args, char *err,
                   size_t errlen)
{
    if (args[0].type != HB_VAL_INT || args[0].u.i < 0 || args[0].u.i >= HB_YCSB_MAX_FIELDS)
        return s_fail(err, errlen, "%s: argument %" PRIu32 " (FIELD) must be an integer 0..%d",
                      proc, argi + 1, HB_YCSB_MAX_FIELDS - 1);
    if (args[1].type != HB_VAL_STR && args[1].type != HB_VAL_BIN)
        return s_fail(err, errlen, "%s: argument %" PRIu32 " (VALUE) must be a string or bytes",
                      proc, argi + 2);
    return HB_OK;
}

static hb_rc_t
s_plan_ycsb_read(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
                 char *err, size_t errlen)
{
    s_kvkey_t k[HB_YCSB_MAX_KEYS];
    hb_rc_t rc;
    if (nargs < 1 || nargs > HB_YCSB_MAX_KEYS)
        return s_fail(err, errlen, "ycsb.read: usage: ycsb.read KEY [KEY ...] (1..%d keys)",
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
s_plan_ycsb_triples(const char *proc, const hb_val_t *args, uint32_t nargs, uint32_t nparts,
                    hb_lockset_t *ls, char *err, size_t errlen)
{
    s_kvkey_t k[HB_YCSB_MAX_KEYS];
    hb_rc_t rc;
    if (nargs < 3 || nargs % 3 != 0 || nargs / 3 > HB_YCSB_MAX_KEYS)
        return s_fail(err, errlen,
                      "%s: usage: %s KEY FIELD VALUE [KEY FIELD VALUE ...] (1..%d records)",
                      proc, proc, HB_YCSB_MAX_KEYS);
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
s_plan_ycsb_update(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
                   char *err, size_t errlen)
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
s_plan_ycsb_insert(const hb_val_t *args, uint32_t nargs, uint32_t nparts, hb_lockset_t *ls,
                   char *err, size_t errlen)
{
    s_kvkey_t k;
    hb_rc_t rc;
    if (nargs < 2 || nargs > 1 + HB_YCSB_MAX_FIELDS)
        return s_fail(err, errlen, "ycsb.insert: usage: ycsb.insert KEY V0 .. Vn-1 (1..%d fields)",
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
                hb_mp_read_bin(&r, &key, &klen) != HB_OK || hb_mp_read_uint(&r, &plen) != HB_OK)
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
                if (hb_mp_read_bin(&r, &pkey, &pklen) != HB_OK || pklen < 4 || pklen > HB_KEY_MAX ||
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
                               kind == HB_SQLOP_GET || kind == HB_SQLOP_CHECK ? HB_LOCK_READ
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
/* Catalog                                                              */
/* ------------------------------------------------------------------ */

static const hb_proc_def_t s_procs[HB_PROC_COUNT_] = {
    [HB_PROC_KV_GET] = {"kv.get", HB_PROC_KV_GET, 1, 1, "kv.get KEY", s_plan_kv_get},
    [HB_PROC_KV_PUT] = {"kv.put", HB_PROC_KV_PUT, 2, 2, "kv.put KEY VALUE", s_plan_kv_put},
    [HB_PROC_KV_ADD] = {"kv.add", HB_PROC_KV_ADD, 2, 2, "kv.add KEY DELTA", s_plan_kv_add},
    [HB_PROC_KV_TRANSFER] = {"kv.transfer", HB_PROC_KV_TRANSFER, 3, 3,
                             "kv.transfer FROM TO AMOUNT", s_plan_kv_transfer},
    [HB_PROC_MICRO_RMW] = {"micro.rmw", HB_PROC_MICRO_RMW, HB_MICRO_KEYS, HB_MICRO_KEYS,
                           "micro.rmw ID1 .. ID10", s_plan_micro_rmw},
    [HB_PROC_YCSB_READ] = {"ycsb.read", HB_PROC_YCSB_READ, 1, HB_YCSB_MAX_KEYS,
                           "ycsb.read KEY [KEY ...]", s_plan_ycsb_read},
    [HB_PROC_YCSB_UPDATE] = {"ycsb.update", HB_PROC_YCSB_UPDATE, 3, 3 * HB_YCSB_MAX_KEYS,
                             "ycsb.update KEY FIELD VALUE [KEY FIELD VALUE ...]",
                             s_plan_ycsb_update},
    [HB_PROC_YCSB_INSERT] = {"ycsb.insert", HB_PROC_YCSB_INSERT, 2, 1 + HB_YCSB_MAX_FIELDS,
                             "ycsb.insert KEY V0 .. Vn-1", s_plan_ycsb_insert},
    [HB_PROC_YCSB_RMW] = {"ycsb.rmw", HB_PROC_YCSB_RMW, 3, 3 * HB_YCSB_MAX_KEYS,
                          "ycsb.rmw KEY FIELD VALUE [KEY FIELD VALUE ...]", s_plan_ycsb_rmw},
    [HB_PROC_SQL_EXEC] = {"sql.exec", HB_PROC_SQL_EXEC, 2, 2, "sql.exec CATVER OPS",
                          s_plan_sql_exec},
    [HB_PROC_SQL_DDL] = {"sql.ddl", HB_PROC_SQL_DDL, 4, 4, "sql.ddl CATVER KIND NAME DEF",
                         s_plan_sql_ddl},
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
hb_proc_plan(const hb_proc_def_t *def, const hb_val_t *args, uint32_t nargs, uint32_t nparts,
             hb_lockset_t *ls, char *err, size_t errlen)
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
