/* catalog.c — sqlfront's copy of the SQL catalog (see catalog.h).
 *
 * Loading scans [CATALOG][0] on partition 0 at its applied epoch: the
 * version record (name "") first, then one record per table, in name
 * order. A record that does not decode is skipped with a log line (it can
 * only come from a bug: only sql.ddl writes these keys).
 */
#include "catalog.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_log.h"
#include "hb_mp.h"

struct sqlf_catalog {
    int64_t version;      /* version of the contents */
    sqlf_table_t *tables; /* in name order */
    uint32_t ntables;     /* tables used */
    sqlf_proc_t *procs;   /* in name order */
    uint32_t nprocs;      /* procedures used */
};

static void
s_proc_free(sqlf_proc_t *p)
{
    hb_free(p->pnames);
    hb_free(p->ptypes);
    hb_free(p->pmods);
    hb_free(p->body);
    memset(p, 0, sizeof *p);
}

/* Decodes a procedure record [0, def(bin)] into p. */
static bool
s_decode_proc(const uint8_t *val, size_t vlen, sqlf_proc_t *p)
{
    hb_mp_reader_t r, d;
    uint32_t n = 0, np = 0, deflen = 0, blen = 0;
    int64_t id;
    const uint8_t *def;
    const char *body;
    hb_mp_reader_init(&r, val, vlen);
    if (hb_mp_read_array(&r, &n) != HB_OK || n != 2 || hb_mp_read_int(&r, &id) != HB_OK ||
        hb_mp_read_bin(&r, &def, &deflen) != HB_OK)
        return false;
    hb_mp_reader_init(&d, def, deflen);
    if (hb_mp_read_array(&d, &n) != HB_OK || n != 2 ||
        hb_mp_read_array(&d, &np) != HB_OK || np > SQLF_MAX_PARAMS)
        return false;
    p->nparams = np;
    p->pnames = hb_calloc(np ? np : 1, sizeof *p->pnames);
    p->ptypes = hb_calloc(np ? np : 1, sizeof *p->ptypes);
    p->pmods = hb_calloc(np ? np : 1, sizeof *p->pmods);
    for (uint32_t i = 0; i < np; i++) {
        const char *name;
        uint32_t nlen;
        uint64_t type;
        int64_t mod;
        if (hb_mp_read_array(&d, &n) != HB_OK || n != 3 ||
            hb_mp_read_str(&d, &name, &nlen) != HB_OK || nlen >= SQLF_NAME_MAX ||
            hb_mp_read_uint(&d, &type) != HB_OK || type == 0 || type >= HB_T_COUNT_ ||
            hb_mp_read_int(&d, &mod) != HB_OK || mod < 0 || mod > INT32_MAX)
            return false;
        memcpy(p->pnames[i], name, nlen);
        p->pnames[i][nlen] = '\0';
        p->ptypes[i] = (hb_type_t)type;
        p->pmods[i] = (int32_t)mod;
    }
    if (hb_mp_read_str(&d, &body, &blen) != HB_OK || hb_mp_remaining(&d) != 0)
        return false;
    p->body = hb_malloc(blen + 1);
    memcpy(p->body, body, blen);
    p->body[blen] = '\0';
    return true;
}

static void
s_table_free(sqlf_table_t *t)
{
    for (uint32_t c = 0; c < t->ncols; c++)
        hb_free(t->cols[c].def);
    hb_free(t->cols);
    memset(t, 0, sizeof *t);
}

static void
s_clear(sqlf_catalog_t *self)
{
    for (uint32_t i = 0; i < self->ntables; i++)
        s_table_free(&self->tables[i]);
    hb_free(self->tables);
    self->tables = NULL;
    self->ntables = 0;
    for (uint32_t i = 0; i < self->nprocs; i++)
        s_proc_free(&self->procs[i]);
    hb_free(self->procs);
    self->procs = NULL;
    self->nprocs = 0;
}

sqlf_catalog_t *
sqlf_catalog_new(void)
{
    return hb_calloc(1, sizeof(sqlf_catalog_t));
}

void
sqlf_catalog_destroy(sqlf_catalog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_clear(*self_p);
    hb_free(*self_p);
    *self_p = NULL;
}

static bool
s_copy_name(char *out, const char *s, uint32_t len)
{
    if (len == 0 || len >= SQLF_NAME_MAX)
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

/* Decodes a table record value [id, def(bin)] into t. */
static bool
s_decode_table(const uint8_t *val, size_t vlen, sqlf_table_t *t)
{
    hb_mp_reader_t r, d;
    uint32_t n = 0, ncols = 0, npk = 0, deflen = 0;
    int64_t id = 0;
    uint64_t npart = 0;
    const uint8_t *def;
    hb_mp_reader_init(&r, val, vlen);
    if (hb_mp_read_array(&r, &n) != HB_OK || n != 2 || hb_mp_read_int(&r, &id) != HB_OK ||
        id < HB_TABLE_USER_FIRST || id > UINT32_MAX ||
        hb_mp_read_bin(&r, &def, &deflen) != HB_OK)
        return false;
    t->id = (uint32_t)id;
    hb_mp_reader_init(&d, def, deflen);
    uint32_t nfields = 0;
    if (hb_mp_read_array(&d, &nfields) != HB_OK ||
        (nfields != 3 && nfields != 5 && nfields != 6) ||
        hb_mp_read_array(&d, &ncols) != HB_OK || ncols == 0 || ncols > HB_SQL_MAX_COLS)
        return false;
    t->cols = hb_calloc(ncols, sizeof *t->cols);
    t->ncols = ncols;
    for (uint32_t c = 0; c < ncols; c++) {
        sqlf_col_t *col = &t->cols[c];
        const char *name;
        uint32_t nlen;
        uint64_t type;
        int64_t typmod;
        if (hb_mp_read_array(&d, &n) != HB_OK || n != 5 ||
            hb_mp_read_str(&d, &name, &nlen) != HB_OK ||
            !s_copy_name(col->name, name, nlen) || hb_mp_read_uint(&d, &type) != HB_OK ||
            type == 0 || type >= HB_T_COUNT_ || hb_mp_read_int(&d, &typmod) != HB_OK ||
            typmod < 0 || typmod > 10485760 ||
            hb_mp_read_bool(&d, &col->not_null) != HB_OK)
            return false;
        col->type = (hb_type_t)type;
        col->typmod = (int32_t)typmod;
        if (hb_mp_peek(&d) == HB_MP_NIL) {
            hb_mp_read_nil(&d);
        } else {
            const uint8_t *e;
            uint32_t elen;
            if (hb_mp_read_bin(&d, &e, &elen) != HB_OK)
                return false;
            col->def = hb_malloc(elen ? elen : 1);
            memcpy(col->def, e, elen);
            col->deflen = elen;
        }
    }
    if (hb_mp_read_array(&d, &npk) != HB_OK || npk == 0 || npk > SQLF_MAX_PK)
        return false;
    t->npk = npk;
    for (uint32_t i = 0; i < npk; i++) {
        uint64_t c;
        if (hb_mp_read_uint(&d, &c) != HB_OK || c >= ncols)
            return false;
        t->pk[i] = (uint32_t)c;
    }
    if (hb_mp_read_uint(&d, &npart) != HB_OK || npart == 0 || npart > npk)
        return false;
    t->npart = (uint32_t)npart;
    if (nfields >= 5) {
        uint32_t nidx = 0;
        uint64_t next = 0;
        if (hb_mp_read_array(&d, &nidx) != HB_OK || nidx > SQLF_MAX_INDEXES)
            return false;
        for (uint32_t i = 0; i < nidx; i++) {
            sqlf_index_t *ix = &t->idx[i];
            const char *name;
            uint32_t nlen, nc;
            uint64_t no;
            if (hb_mp_read_array(&d, &n) != HB_OK || n != 4 ||
                hb_mp_read_str(&d, &name, &nlen) != HB_OK ||
                !s_copy_name(ix->name, name, nlen) || hb_mp_read_uint(&d, &no) != HB_OK ||
                no > UINT32_MAX || hb_mp_read_array(&d, &nc) != HB_OK || nc == 0 ||
                nc > SQLF_MAX_IDXCOLS)
                return false;
            ix->no = (uint32_t)no;
            ix->ncols = nc;
            for (uint32_t k = 0; k < nc; k++) {
                uint64_t c;
                if (hb_mp_read_uint(&d, &c) != HB_OK || c >= ncols)
                    return false;
                ix->cols[k] = (uint32_t)c;
            }
            if (hb_mp_read_bool(&d, &ix->ready) != HB_OK)
                return false;
        }
        if (hb_mp_read_uint(&d, &next) != HB_OK || next > UINT32_MAX)
            return false;
        t->nidx = nidx;
        t->next_idx = (uint32_t)next;
    }
    if (nfields == 6) {
        uint64_t pinned = 0;
        if (hb_mp_read_array(&d, &n) != HB_OK || n != 3 ||
            hb_mp_read_bool(&d, &t->rowid) != HB_OK ||
            hb_mp_read_uint(&d, &pinned) != HB_OK || pinned > UINT32_MAX ||
            (pinned && pinned < HB_TABLE_USER_FIRST))
            return false;
        if (t->rowid && (t->npk != 1 || t->pk[0] != ncols - 1 || ncols < 2))
            return false;
        if (hb_mp_peek(&d) == HB_MP_NIL) {
            hb_mp_read_nil(&d);
        } else {
            uint32_t nrw = 0;
            if (!pinned || hb_mp_read_array(&d, &nrw) != HB_OK || nrw == 0 ||
                nrw > SQLF_MAX_PK || !t->rowid)
                return false;
            for (uint32_t i = 0; i < nrw; i++) {
                uint64_t c;
                if (hb_mp_read_uint(&d, &c) != HB_OK || c + 1 >= ncols)
                    return false;
                t->rw_pk[i] = (uint32_t)c;
            }
            t->rw_npk = nrw;
            t->rw_id = t->id;
        }
        if (pinned) {
            t->id = (uint32_t)pinned;
            t->id_pinned = true;
        }
    }
    return hb_mp_remaining(&d) == 0;
}

hb_rc_t
sqlf_catalog_load(sqlf_catalog_t *self, hb_client_t *cli, int timeout_ms,
                  uint64_t min_epoch)
{
    hb_key_t start, end;
    hb_key_init(&start, HB_TABLE_CATALOG);
    hb_key_put_i64(&start, 0);
    hb_key_init(&end, HB_TABLE_CATALOG);
    hb_key_put_i64(&end, 1);
    hb_scan_result_t *res = NULL;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        hb_rc_t rc = hb_client_scan(cli, 0, start.buf, start.len, end.buf, end.len,
                                    100000, timeout_ms, &res);
        if (rc != HB_OK)
            return rc;
        if (res->rc != HB_OK) {
            rc = res->rc;
            hb_scan_result_destroy(&res);
            return rc;
        }
        if (res->epoch >= min_epoch)
            break;
        /* Partition 0 has not applied the DDL we know of yet: wait. */
        hb_scan_result_destroy(&res);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >
            timeout_ms)
            return HB_TIMEOUT;
        usleep(500);
    }
    sqlf_catalog_load_rows(self, res->rows, res->nrows);
    hb_scan_result_destroy(&res);
    return HB_OK;
}

void
sqlf_catalog_load_rows(sqlf_catalog_t *self, const hb_scan_row_t *rows, uint32_t nrows)
{
    s_clear(self);
    self->version = 0;
    self->tables = hb_calloc(nrows ? nrows : 1, sizeof *self->tables);
    self->procs = hb_calloc(nrows ? nrows : 1, sizeof *self->procs);
    for (uint32_t i = 0; i < nrows; i++) {
        const uint8_t *p = rows[i].key, *kend = p + rows[i].klen;
        uint32_t table;
        int64_t part;
        uint8_t name[SQLF_NAME_MAX + 1];
        size_t nlen = 0;
        if (hb_key_get_table(&p, kend, &table) != HB_OK ||
            hb_key_get_i64(&p, kend, &part) != HB_OK ||
            hb_key_get_str(&p, kend, name, sizeof name - 1, &nlen) != HB_OK) {
            hb_warn("catalog: skipping a record with a malformed key");
            continue;
        }
        if (nlen == 0) {
            hb_mp_reader_t r;
            uint32_t n;
            hb_mp_reader_init(&r, rows[i].val, rows[i].vlen);
            if (hb_mp_read_array(&r, &n) == HB_OK && n == 2)
                hb_mp_read_int(&r, &self->version);
            continue;
        }
        if (name[0] == 0x01) {
            sqlf_proc_t *pr = &self->procs[self->nprocs];
            memset(pr, 0, sizeof *pr);
            if (nlen < 2 || nlen - 1 >= SQLF_NAME_MAX ||
                !s_decode_proc(rows[i].val, rows[i].vlen, pr)) {
                hb_warn("catalog: skipping a malformed procedure record");
                s_proc_free(pr);
                continue;
            }
            memcpy(pr->name, name + 1, nlen - 1);
            pr->name[nlen - 1] = '\0';
            self->nprocs++;
            continue;
        }
        if (nlen >= SQLF_NAME_MAX) {
            hb_warn("catalog: skipping a record with a long name");
            continue;
        }
        sqlf_table_t *t = &self->tables[self->ntables];
        memset(t, 0, sizeof *t);
        if (!s_decode_table(rows[i].val, rows[i].vlen, t)) {
            hb_warn("catalog: skipping malformed table record \"%.*s\"", (int)nlen, name);
            s_table_free(t);
            continue;
        }
        memcpy(t->name, name, nlen);
        t->name[nlen] = '\0';
        self->ntables++;
    }
}

int64_t
sqlf_catalog_version(const sqlf_catalog_t *self)
{
    return self->version;
}

const sqlf_table_t *
sqlf_catalog_find(const sqlf_catalog_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->ntables; i++)
        if (strcmp(self->tables[i].name, name) == 0)
            return &self->tables[i];
    return NULL;
}

const sqlf_table_t *
sqlf_catalog_at(const sqlf_catalog_t *self, uint32_t i)
{
    return i < self->ntables ? &self->tables[i] : NULL;
}

uint32_t
sqlf_catalog_size(const sqlf_catalog_t *self)
{
    return self->ntables;
}

void
sqlf_table_pack(msgpack_packer *pk, const sqlf_table_t *t)
{
    msgpack_pack_array(pk, 6);
    msgpack_pack_array(pk, t->ncols);
    for (uint32_t c = 0; c < t->ncols; c++) {
        const sqlf_col_t *col = &t->cols[c];
        msgpack_pack_array(pk, 5);
        hb_mp_pack_cstr(pk, col->name);
        msgpack_pack_uint32(pk, (uint32_t)col->type);
        msgpack_pack_int32(pk, col->typmod);
        hb_mp_pack_bool(pk, col->not_null);
        if (col->def)
            hb_mp_pack_bin(pk, col->def, col->deflen);
        else
            msgpack_pack_nil(pk);
    }
    msgpack_pack_array(pk, t->npk);
    for (uint32_t i = 0; i < t->npk; i++)
        msgpack_pack_uint32(pk, t->pk[i]);
    msgpack_pack_uint32(pk, t->npart);
    msgpack_pack_array(pk, t->nidx);
    for (uint32_t i = 0; i < t->nidx; i++) {
        const sqlf_index_t *ix = &t->idx[i];
        msgpack_pack_array(pk, 4);
        hb_mp_pack_cstr(pk, ix->name);
        msgpack_pack_uint32(pk, ix->no);
        msgpack_pack_array(pk, ix->ncols);
        for (uint32_t k = 0; k < ix->ncols; k++)
            msgpack_pack_uint32(pk, ix->cols[k]);
        hb_mp_pack_bool(pk, ix->ready);
    }
    msgpack_pack_uint32(pk, t->next_idx);
    msgpack_pack_array(pk, 3);
    hb_mp_pack_bool(pk, t->rowid);
    msgpack_pack_uint32(pk, t->id_pinned ? t->id : 0);
    if (t->rw_id) {
        msgpack_pack_array(pk, t->rw_npk);
        for (uint32_t i = 0; i < t->rw_npk; i++)
            msgpack_pack_uint32(pk, t->rw_pk[i]);
    } else {
        msgpack_pack_nil(pk);
    }
}

const sqlf_table_t *
sqlf_catalog_find_index(const sqlf_catalog_t *self, const char *name, uint32_t *which)
{
    for (uint32_t i = 0; i < self->ntables; i++)
        for (uint32_t k = 0; k < self->tables[i].nidx; k++)
            if (strcmp(self->tables[i].idx[k].name, name) == 0) {
                *which = k;
                return &self->tables[i];
            }
    return NULL;
}

const sqlf_proc_t *
sqlf_catalog_find_proc(const sqlf_catalog_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->nprocs; i++)
        if (strcmp(self->procs[i].name, name) == 0)
            return &self->procs[i];
    return NULL;
}

void
sqlf_proc_pack(msgpack_packer *pk, const sqlf_proc_t *p)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_array(pk, p->nparams);
    for (uint32_t i = 0; i < p->nparams; i++) {
        msgpack_pack_array(pk, 3);
        hb_mp_pack_cstr(pk, p->pnames[i]);
        msgpack_pack_uint32(pk, (uint32_t)p->ptypes[i]);
        msgpack_pack_int32(pk, p->pmods[i]);
    }
    hb_mp_pack_cstr(pk, p->body);
}

uint32_t
sqlf_table_nvis(const sqlf_table_t *t)
{
    return t->rowid ? t->ncols - 1 : t->ncols;
}

int
sqlf_table_col(const sqlf_table_t *t, const char *name)
{
    for (uint32_t c = 0; c < sqlf_table_nvis(t); c++)
        if (strcmp(t->cols[c].name, name) == 0)
            return (int)c;
    return -1;
}
