/* it_sql.c — the file-driven SQL suite, against a real cluster.
 *
 * Usage: it_sql BUILD_ROOT FILE.test...
 *
 * Starts a 1 x 3 cluster with one sqlfront and runs each file's records
 * through libhobbes (hb_sql_exec), in order, in one session:
 *
 *   statement ok            the SQL must succeed
 *   statement error XXXXX   the SQL must fail with SQLSTATE XXXXX
 *   query [rowsort]         the SQL must succeed and return exactly the
 *                           rows after "----" (of its last statement),
 *                           columns joined by "|", NULL as "NULL";
 *                           rowsort compares them sorted
 *
 * The SQL runs to a line "----" or a blank line; "#" lines are comments.
 * Every mismatch is printed with file:line; the test fails if any did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_expr.h"
#include "hobbes.h"
#include "it_util.h"

#define S_MAX_LINES 4096

static int s_failures, s_records;

/* Formats cell (row, col) of res into out. */
static void
s_cell(const hb_sql_result_t *res, uint32_t row, uint32_t col, char *out, size_t cap)
{
    const hb_val_t *v = &res->cells[(size_t)row * res->ncols + col];
    if (v->type == HB_VAL_NIL) {
        snprintf(out, cap, "NULL");
        return;
    }
    hb_val_format(v, out, cap);
}

static int
s_cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one record. want/nwant: expected rows (query), or NULL. */
static void
s_record(hb_sql_t *db, const char *file, int line, const char *kind, const char *arg,
         const char *sql, char **want, int nwant)
{
    s_records++;
    hb_sql_result_t *res = NULL;
    hb_rc_t rc = hb_sql_exec(db, sql, NULL, 0, 20000, &res);
    if (rc != HB_OK) {
        fprintf(stderr, "%s:%d: hb_sql_exec failed: %s (%s)\n", file, line, hb_rc_str(rc),
                hb_sql_last_error(db));
        s_failures++;
        return;
    }
    hb_sql_result_t *last = res;
    while (last && last->next)
        last = last->next;
    const char *state = last ? last->sqlstate : "00000";
    const char *msg = last ? last->message : "";
    if (strcmp(kind, "statement") == 0 && strncmp(arg, "error", 5) == 0) {
        const char *want_state = arg + 5;
        while (*want_state == ' ')
            want_state++;
        if (strcmp(state, want_state) != 0) {
            fprintf(stderr, "%s:%d: expected SQLSTATE %s, got %s (%s)\n  %s\n", file,
                    line, want_state, state, msg, sql);
            s_failures++;
        }
        hb_sql_result_free(&res);
        return;
    }
    if (strcmp(state, "00000") != 0) {
        fprintf(stderr, "%s:%d: expected success, got %s: %s\n  %s\n", file, line, state,
                msg, sql);
        s_failures++;
        hb_sql_result_free(&res);
        return;
    }
    if (strcmp(kind, "query") != 0) {
        hb_sql_result_free(&res);
        return;
    }
    /* Find the last result that has columns (a block's COMMIT has none). */
    const hb_sql_result_t *q = NULL;
    for (const hb_sql_result_t *r = res; r; r = r->next)
        if (r->ncols)
            q = r;
    int ngot = q ? (int)q->nrows : 0;
    char **got = calloc((size_t)ngot + 1, sizeof *got);
    for (int i = 0; i < ngot; i++) {
        char buf[4096] = "";
        size_t off = 0;
        for (uint32_t c = 0; c < q->ncols; c++) {
            char cell[1024];
            s_cell(q, (uint32_t)i, c, cell, sizeof cell);
            off += (size_t)snprintf(buf + off, off < sizeof buf ? sizeof buf - off : 0,
                                    "%s%s", c ? "|" : "", cell);
        }
        got[i] = strdup(buf);
    }
    bool rowsort = arg && strstr(arg, "rowsort");
    char **w = calloc((size_t)nwant + 1, sizeof *w);
    memcpy(w, want, (size_t)nwant * sizeof *w);
    if (rowsort) {
        qsort(got, (size_t)ngot, sizeof *got, s_cmpstr);
        qsort(w, (size_t)nwant, sizeof *w, s_cmpstr);
    }
    bool same = ngot == nwant;
    for (int i = 0; i < ngot && same; i++)
        same = strcmp(got[i], w[i]) == 0;
    if (!same) {
        fprintf(stderr, "%s:%d: wrong result for\n  %s\n  expected %d row(s):\n", file,
                line, sql, nwant);
        for (int i = 0; i < nwant; i++)
            fprintf(stderr, "    %s\n", w[i]);
        fprintf(stderr, "  got %d row(s):\n", ngot);
        for (int i = 0; i < ngot; i++)
            fprintf(stderr, "    %s\n", got[i]);
        s_failures++;
    }
    for (int i = 0; i < ngot; i++)
        free(got[i]);
    free(got);
    free(w);
    hb_sql_result_free(&res);
}

static void
s_run_file(hb_sql_t *db, const char *path)
{
    FILE *f = fopen(path, "r");
    IT_CHECK(f != NULL, "cannot open %s", path);
    static char *lines[S_MAX_LINES];
    int n = 0;
    char buf[8192];
    while (n < S_MAX_LINES && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = '\0';
        lines[n++] = strdup(buf);
    }
    fclose(f);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int before = s_failures;
    for (int i = 0; i < n;) {
        if (lines[i][0] == '\0' || lines[i][0] == '#') {
            i++;
            continue;
        }
        int rec_line = i + 1;
        char kind[32] = "", arg[64] = "";
        sscanf(lines[i], "%31s %63[^\n]", kind, arg);
        IT_CHECK(strcmp(kind, "statement") == 0 || strcmp(kind, "query") == 0,
                 "%s:%d: unknown record '%s'", name, rec_line, lines[i]);
        i++;
        char sql[16384] = "";
        size_t off = 0;
        while (i < n && lines[i][0] && strcmp(lines[i], "----") != 0) {
            off += (size_t)snprintf(sql + off, sizeof sql - off, "%s%s", off ? "\n" : "",
                                    lines[i]);
            i++;
        }
        char *want[S_MAX_LINES];
        int nwant = 0;
        if (i < n && strcmp(lines[i], "----") == 0) {
            i++;
            while (i < n && lines[i][0])
                want[nwant++] = lines[i++];
        }
        s_record(db, name, rec_line, kind, arg, sql, want, nwant);
    }
    printf("%s: %s\n", name, s_failures == before ? "ok" : "FAILED");
    for (int i = 0; i < n; i++)
        free(lines[i]);
}

int
main(int argc, char **argv)
{
    IT_CHECK(argc >= 3, "usage: it_sql BUILD_ROOT FILE.test...");
    it_cluster_t c;
    IT_CHECK(it_cluster_init_sql(&c, argv[1], 1, 3, "calvin", 5) == 0, "init");
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");
    char err[256];
    hb_sql_t *db = hb_sql_connect(c.config, 0, err, sizeof err);
    IT_CHECK(db != NULL, "connect: %s", err);
    for (int i = 2; i < argc; i++)
        s_run_file(db, argv[i]);
    hb_sql_destroy(&db);
    printf("%d records, %d failed\n", s_records, s_failures);
    IT_CHECK(s_failures == 0, "%d SQL record(s) failed", s_failures);
    it_cluster_cleanup(&c);
    return 0;
}
