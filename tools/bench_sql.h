/* bench_sql.h — `hobbes-bench sql`: point SELECT / UPDATE statements through
 * hobbes-sqlfront, and the same access without SQL as a baseline (see
 * bench_sql.c). */
#ifndef BENCH_SQL_H
#define BENCH_SQL_H

/* Runs `hobbes-bench sql ...` (argv[1] is "sql"). Returns the exit code:
 * 0 when statements succeeded, 1 when none did, 2 for bad usage. */
int bench_sql_main(int argc, char **argv);

/* Prints the sql usage lines to stderr. */
void bench_sql_usage(void);

#endif
