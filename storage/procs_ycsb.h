/* procs_ycsb.h — the bodies of the YCSB procedures (common/hb_proc.h).
 *
 * Registered by id in storage/procs.c's body table. Rows of HB_TABLE_YCSB
 * are msgpack arrays of the record's fields, each a bin.
 */
#ifndef STOR_PROCS_YCSB_H
#define STOR_PROCS_YCSB_H

#include <stdint.h>

#include "procs.h"

/* Each is a stor_proc_fn: returns HB_OK, or the code given to
 * stor_ctx_abort (message in the context). */
hb_rc_t stor_ycsb_read(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);
hb_rc_t stor_ycsb_update(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);
hb_rc_t stor_ycsb_insert(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);
hb_rc_t stor_ycsb_rmw(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);

#endif
