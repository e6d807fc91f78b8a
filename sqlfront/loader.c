/* loader.c — loading many rows in batches of single-partition transactions.
 *
 * ALTER TABLE ADD PRIMARY KEY's copy (pkrewrite.c) and INSERT ... SELECT
 * in batches (bulkinsert.c) write more rows than one transaction may lock.
 * Both fill one bucket of sql.exec ops per partition (sqlf_ld_t.bucket),
 * seal a full bucket into a FIFO of ready batches (sqlf_ld_seal), and send
 * ready batches while one of SQLF_LD_INFLIGHT slots is free (sqlf_ld_send);
 * each batch is a single-partition transaction, kept until its result for
 * a resubmit after XXCAT (sqlf_ld_submit). The first failure is kept as
 * "SSSSS text" (sqlf_ld_fail) and ends the load.
 */
#include <stdio.h>
#include <string.h>

#include "front_int.h"
#include "hb_alloc.h"
#include "hb_sqlstate.h"

void
sqlf_ld_init(sqlf_ld_t *ld, uint32_t nparts, uint32_t batch_ops)
{
    ld->nparts = nparts;
    ld->batch_ops = batch_ops;
    ld->bucket = hb_calloc(nparts, sizeof *ld->bucket);
    ld->bucket_n = hb_calloc(nparts, sizeof *ld->bucket_n);
    for (uint32_t p = 0; p < nparts; p++)
        msgpack_sbuffer_init(&ld->bucket[p]);
}

void
sqlf_ld_clear(sqlf_ld_t *ld)
{
    for (uint32_t i = 0; i < SQLF_LD_INFLIGHT; i++)
        msgpack_sbuffer_destroy(&ld->fly[i].ops);
    for (uint32_t p = 0; ld->bucket && p < ld->nparts; p++)
        msgpack_sbuffer_destroy(&ld->bucket[p]);
    hb_free(ld->bucket);
    hb_free(ld->bucket_n);
    for (uint32_t i = 0; i < ld->nready; i++)
        msgpack_sbuffer_destroy(&ld->ready[i]);
    hb_free(ld->ready);
    hb_free(ld->ready_n);
}

/* Returns the batch in flight as request id, or NULL. */
sqlf_ld_batch_t *
sqlf_ld_batch(sqlf_ld_t *ld, uint64_t id)
{
    for (uint32_t i = 0; id && i < SQLF_LD_INFLIGHT; i++)
        if (ld->fly[i].txn == id)
            return &ld->fly[i];
    return NULL;
}

/* Keeps the first failure (msg without a SQLSTATE becomes XX000). */
void
sqlf_ld_fail(sqlf_ld_t *ld, hb_rc_t rc, const char *msg)
{
    if (ld->failmsg[0])
        return;
    /* A message without a SQLSTATE of its own becomes XX000 (before, any
     * five characters and a space passed for one: "table x ..." would have
     * reported SQLSTATE "table"). */
    char state[6];
    const char *text;
    size_t tl;
    hb_sqlstate_split(msg, strlen(msg), state, &text, &tl);
    snprintf(ld->failmsg, sizeof ld->failmsg, "%s %.*s", state, (int)tl, text);
    ld->failrc = rc ? rc : HB_ABORTED;
}

/* Submits (or resubmits) batch b. */
hb_rc_t
sqlf_ld_submit(sqlf_front_t *self, sqlf_ld_batch_t *b)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, b->n);
    msgpack_sbuffer_write(&sb, b->ops.data, b->ops.size);
    hb_val_t args[2] = {hb_val_int(sqlf_catalog_version(self->cat)),
                        {.type = HB_VAL_BIN}};
    args[1].u.s.ptr = (const uint8_t *)sb.data;
    args[1].u.s.len = (uint32_t)sb.size;
    hb_rc_t rc = hb_client_submit(self->cli, "sql.exec", args, 2, &b->txn);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Moves bucket p to the end of the ready queue. */
void
sqlf_ld_seal(sqlf_ld_t *ld, uint32_t p)
{
    size_t cap = ld->capready; /* the two arrays grow alike */
    HB_GROW(ld->ready, cap, ld->nready + 1, 16);
    HB_GROW(ld->ready_n, ld->capready, ld->nready + 1, 16);
    ld->ready[ld->nready] = ld->bucket[p];
    ld->ready_n[ld->nready++] = ld->bucket_n[p];
    msgpack_sbuffer_init(&ld->bucket[p]);
    ld->bucket_n[p] = 0;
}

/* Seals every bucket that holds ops; returns whether there was one. */
bool
sqlf_ld_seal_all(sqlf_ld_t *ld)
{
    bool any = false;
    for (uint32_t p = 0; p < ld->nparts; p++) {
        if (ld->bucket_n[p]) {
            sqlf_ld_seal(ld, p);
            any = true;
        }
    }
    return any;
}

/* Sends ready batches while a slot is free; a batch that cannot be
 * submitted fails the load. */
void
sqlf_ld_send(sqlf_front_t *self, sqlf_ld_t *ld)
{
    while (ld->nready && ld->nfly < SQLF_LD_INFLIGHT && !ld->failmsg[0]) {
        sqlf_ld_batch_t *b = NULL;
        for (uint32_t i = 0; i < SQLF_LD_INFLIGHT && !b; i++)
            if (!ld->fly[i].txn)
                b = &ld->fly[i];
        msgpack_sbuffer_destroy(&b->ops);
        b->ops = ld->ready[0];
        b->n = ld->ready_n[0];
        b->retries = 0;
        ld->nready--;
        memmove(ld->ready, ld->ready + 1, ld->nready * sizeof *ld->ready);
        memmove(ld->ready_n, ld->ready_n + 1, ld->nready * sizeof *ld->ready_n);
        ld->nfly++;
        if (sqlf_ld_submit(self, b) != HB_OK) {
            b->txn = 0;
            ld->nfly--;
            sqlf_ld_fail(ld, HB_INVALID, "XX000 cannot submit a batch");
        }
    }
}

void
sqlf_ld_forget(sqlf_ld_t *ld, hb_client_t *cli)
{
    for (uint32_t i = 0; i < SQLF_LD_INFLIGHT; i++)
        if (ld->fly[i].txn)
            hb_client_forget(cli, ld->fly[i].txn);
}
