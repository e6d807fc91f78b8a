/* procs_sql.h — bodies of the SQL procedures sql.exec and sql.ddl
 * (formats in common/hb_proc.h; see procs_sql.c).
 */
#ifndef STOR_PROCS_SQL_H
#define STOR_PROCS_SQL_H

#include "procs.h"

/* Runs a sql.exec plan. Returns HB_OK, or the abort code (message starts
 * with a SQLSTATE, or "XXCAT" when the catalog changed). */
hb_rc_t stor_sql_exec(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);
/* Runs a sql.ddl call. Returns as stor_sql_exec. */
hb_rc_t stor_sql_ddl(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);

#endif
