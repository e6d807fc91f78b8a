/* procs_tpcc.h — the bodies of the native TPC-C procedures.
 *
 * tpcc.new_order, tpcc.payment and tpcc.delivery (common/hb_proc.h,
 * docs/tpcc.md): TPC-C 5.11 clauses 2.4.2, 2.5.2 and 2.7.4 over rows
 * stored exactly as SQL stores them, so SQL reads what these write.
 */
#ifndef STOR_PROCS_TPCC_H
#define STOR_PROCS_TPCC_H

#include "procs.h"

/* Each is a stor_proc_fn: returns HB_OK (results set), or the abort code. */
hb_rc_t stor_tpcc_new_order(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);
hb_rc_t stor_tpcc_payment(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);
hb_rc_t stor_tpcc_delivery(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);

#endif
