/* bench_ycsb_pg.h — the PostgreSQL side of `hobbes-bench ycsb --target
 * postgres://...`: one libpq connection and YCSB's operations on table
 * usertable as prepared statements (see bench_ycsb_pg.c).
 *
 * bench_ycsb.c keeps the generators, threads, statistics and reports, so
 * both targets run the very same keys, values and operation mix; this
 * module only turns an operation into SQL. Operations return an outcome
 * as bench_ycsb.c counts it: 0 ok, 1 aborted (what Hobbes aborts: a
 * missing record on update/rmw, a duplicate insert, a serialization
 * failure), 2 error (anything else).
 */
#ifndef BENCH_YCSB_PG_H
#define BENCH_YCSB_PG_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_ycsb_pg bench_ycsb_pg_t;

/* Returns 1 if url looks like a libpq connection URL or keyword string
 * (postgres://, postgresql://, or "key=value ..."), 0 otherwise. */
int bench_ycsb_pg_is_target(const char *url);

/* Checks that url parses as libpq connection options. Returns 0, or -1
 * with a message in err. */
int bench_ycsb_pg_check_url(const char *url, char *err, size_t cap);

/* Connects to url for records of `fields` fields. Returns the connection
 * (caller owns; bench_ycsb_pg_destroy), or NULL with a message in err. */
bench_ycsb_pg_t *bench_ycsb_pg_new(const char *url, uint32_t fields, char *err,
                                   size_t cap);

/* Closes the connection; accepts NULL; sets *self_p = NULL. */
void bench_ycsb_pg_destroy(bench_ycsb_pg_t **self_p);

/* Writes "PostgreSQL VERSION at HOST:PORT/DB" into out (no password). */
void bench_ycsb_pg_describe(const bench_ycsb_pg_t *pg, char *out, size_t cap);

/* Drops and creates usertable (ycsb_key varchar(64) PRIMARY KEY, field0
 * text .. fieldN-1 text). Returns 0, or -1 with a message in err. */
int bench_ycsb_pg_create_table(bench_ycsb_pg_t *pg, char *err, size_t cap);

/* Runs ANALYZE usertable after the load. Returns 0, or -1 with err. */
int bench_ycsb_pg_analyze(bench_ycsb_pg_t *pg, char *err, size_t cap);

/* Prepares the run's statements (usertable must exist). Returns 0, or -1
 * with a message in err. */
int bench_ycsb_pg_prepare(bench_ycsb_pg_t *pg, char *err, size_t cap);

/* Returns the number of rows in usertable in *out. Returns 0, or -1 with
 * a message in err. */
int bench_ycsb_pg_count(bench_ycsb_pg_t *pg, int64_t *out, char *err, size_t cap);

/* Loads n records with one COPY: key i is names[i] (NUL-terminated), its
 * fields vals + i * fields * len, len bytes each (printable ASCII).
 * Returns 0, or -1 with a message in err (the batch is not loaded). */
int bench_ycsb_pg_load(bench_ycsb_pg_t *pg, size_t n, const char *const *names,
                       const uint8_t *vals, uint32_t len, char *err, size_t cap);

/* The run's operations on record key (klen bytes); values are len bytes.
 * Each returns the outcome: 0 ok, 1 aborted, 2 error. */
int bench_ycsb_pg_read(bench_ycsb_pg_t *pg, const char *key, uint32_t klen);
int bench_ycsb_pg_update(bench_ycsb_pg_t *pg, const char *key, uint32_t klen,
                         uint32_t field, const uint8_t *val, uint32_t len);
/* Inserts key with all its fields: vals holds fields * len bytes. */
int bench_ycsb_pg_insert(bench_ycsb_pg_t *pg, const char *key, uint32_t klen,
                         const uint8_t *vals, uint32_t len);
/* Reads `length` records in key order from key on. */
int bench_ycsb_pg_scan(bench_ycsb_pg_t *pg, const char *key, uint32_t klen,
                       uint32_t length);
/* SELECT ... FOR UPDATE then UPDATE of one field, in one transaction. */
int bench_ycsb_pg_rmw(bench_ycsb_pg_t *pg, const char *key, uint32_t klen, uint32_t field,
                      const uint8_t *val, uint32_t len);

#endif
