/* hobbes-cli.c — one-off calls and a SQL shell against a Hobbes cluster.
 *
 *   hobbes-cli --config FILE [--replica R] [--timeout MS] call PROC ARG...
 *   hobbes-cli --config FILE sql [--id N] [--timeout MS] [-c SQL]... [-f FILE]...
 *
 * call: arguments that look like decimal integers are sent as integers,
 * anything else as text (prefix with "s:" to force text, e.g. s:42). The
 * result goes to stdout: every value on one line separated by spaces, "OK"
 * for a call that returns nothing (or only NULL). A call that fails or
 * aborts prints the error on stderr and exits 1; kv.get of a missing key
 * prints "not found" on stderr and exits 1; usage errors exit 2.
 *
 * sql: talks to sqlfront N (default 0) of the config. -c runs its text as
 * one request (several ';'-separated statements allowed); -f runs a file
 * statement by statement; both may be repeated and run in order, stopping
 * at the first error. Without either it reads statements from stdin: an
 * interactive shell with line editing and history (libedit;
 * ~/.hobbes_history, or $HOBBES_HISTORY) when stdin is a terminal, prompt
 * "hobbes=> " and "hobbes-> " while a statement is open (statements end
 * at a ';' outside quotes, comments and parentheses); `\q` quits. Output
 * is psql's aligned format: a header, the rows, "(N rows)"; statements
 * without rows print their command tag ("INSERT 0 1"). NULL prints as
 * nothing. A failed statement prints "ERROR:  message" on stderr; outside
 * the interactive shell that ends the run with exit status 1.
 */
#include <editline/readline.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb_alloc.h"
#include "hb_expr.h"
#include "hobbes.h"

static void
s_usage(void)
{
    fprintf(stderr, "usage: hobbes-cli --config FILE [--replica R] [--timeout MS] "
                    "call PROC [ARG...]\n"
                    "       hobbes-cli --config FILE [--timeout MS] sql [--id N] "
                    "[-c SQL]... [-f FILE]...\n"
                    "       call: integers are sent as integers; prefix s: to send text\n"
                    "       sql: without -c/-f, an interactive SQL shell (\\q quits)\n");
}

/* ------------------------------------------------------------------ */
/* call                                                                 */
/* ------------------------------------------------------------------ */

static hb_val_t
s_parse_arg(const char *s)
{
    if (strncmp(s, "s:", 2) == 0)
        return hb_val_str(s + 2, (uint32_t)strlen(s + 2));
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s && *end == '\0' && errno == 0 && (s[0] != '0' || s[1] == '\0'))
        return hb_val_int(v);
    if (*s && *end == '\0' && errno == 0 && s[0] == '-' && s[1] != '0')
        return hb_val_int(v);
    return hb_val_str(s, (uint32_t)strlen(s));
}

static void
s_print_val(const hb_val_t *v)
{
    switch (v->type) {
    case HB_VAL_NIL:
        fputs("NULL", stdout);
        break;
    case HB_VAL_INT:
        printf("%" PRId64, v->u.i);
        break;
    case HB_VAL_BOOL:
        fputs(v->u.b ? "true" : "false", stdout);
        break;
    case HB_VAL_DOUBLE:
        printf("%.17g", v->u.d);
        break;
    case HB_VAL_STR:
    case HB_VAL_BIN:
        fwrite(v->u.s.ptr, 1, v->u.s.len, stdout);
        break;
    case HB_VAL_DEC: {
        char tmp[64];
        hb_val_format(v, tmp, sizeof tmp);
        fputs(tmp, stdout);
        break;
    }
    }
}

static int
s_cmd_call(const char *config, long replica, long timeout, int argc, char **argv)
{
    if (argc < 2 || replica < 0 || replica > 65535) {
        s_usage();
        return 2;
    }
    const char *proc = argv[1];
    int nargs = argc - 2;
    hb_val_t *args = calloc((size_t)nargs + 1, sizeof *args);
    for (int i = 0; i < nargs; i++)
        args[i] = s_parse_arg(argv[2 + i]);

    char err[512];
    hb_client_t *client = hb_client_new(config, (uint16_t)replica, err, sizeof err);
    if (!client) {
        fprintf(stderr, "hobbes-cli: %s\n", err);
        free(args);
        return 1;
    }
    hb_result_t *res = NULL;
    hb_rc_t rc = hb_client_call(client, proc, args, (uint32_t)nargs, (int)timeout, &res);
    int code = 0;
    if (rc != HB_OK) {
        fprintf(stderr, "hobbes-cli: %s: %s\n", hb_rc_str(rc),
                hb_client_last_error(client));
        code = 1;
    } else if (res->rc != HB_OK) {
        fprintf(stderr, "hobbes-cli: %s: %s\n", hb_rc_str(res->rc), res->msg);
        code = 1;
    } else if (res->nvals == 1 && res->vals[0].type == HB_VAL_NIL &&
               strcmp(proc, "kv.get") == 0) {
        fprintf(stderr, "hobbes-cli: not found\n");
        code = 1;
    } else if (res->nvals == 0 || (res->nvals == 1 && res->vals[0].type == HB_VAL_NIL)) {
        puts("OK");
    } else {
        for (uint32_t i = 0; i < res->nvals; i++) {
            if (i)
                putchar(' ');
            s_print_val(&res->vals[i]);
        }
        putchar('\n');
    }
    hb_result_destroy(&res);
    hb_client_destroy(&client);
    free(args);
    return code;
}

/* ------------------------------------------------------------------ */
/* Growing strings                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    char *p;    /* NUL-terminated text (NULL until the first add) */
    size_t len; /* bytes before the NUL */
    size_t cap; /* bytes allocated */
} s_buf_t;

static void
s_buf_add(s_buf_t *b, const void *p, size_t len)
{
    HB_GROW(b->p, b->cap, b->len + len + 1, 256);
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
}

__attribute__((format(printf, 2, 3))) static void
s_buf_printf(s_buf_t *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        s_buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Removes the first n bytes. */
static void
s_buf_consume(s_buf_t *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n + 1);
    b->len -= n;
}

/* ------------------------------------------------------------------ */
/* Printing results like psql                                           */
/* ------------------------------------------------------------------ */

/* Appends the text psql would show for one cell (the server sends
 * dates, timestamps and numerics as text already). */
static void
s_cell_text(s_buf_t *b, const hb_val_t *v)
{
    switch (v->type) {
    case HB_VAL_NIL:
        break;
    case HB_VAL_STR:
        s_buf_add(b, v->u.s.ptr, v->u.s.len);
        break;
    case HB_VAL_BIN: /* bytea, hex format */
        s_buf_add(b, "\\x", 2);
        for (uint32_t i = 0; i < v->u.s.len; i++)
            s_buf_printf(b, "%02x", v->u.s.ptr[i]);
        break;
    default: {
        char tmp[64];
        size_t n = hb_val_format(v, tmp, sizeof tmp);
        s_buf_add(b, tmp, n);
        break;
    }
    }
}

/* Display width of UTF-8 text: one column per code point. */
static size_t
s_width(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

/* psql right-aligns the numeric types. */
static bool
s_right_aligned(const char *type, const hb_val_t *sample)
{
    static const char *const numeric[] = {
        "smallint", "integer", "bigint", "numeric", "decimal", "real", "double precision",
        "int2",     "int4",    "int8",   "float4",  "float8",  "oid",  "money"};
    for (size_t i = 0; i < sizeof numeric / sizeof *numeric; i++)
        if (strncmp(type, numeric[i], strlen(numeric[i])) == 0 &&
            (type[strlen(numeric[i])] == '\0' || type[strlen(numeric[i])] == '('))
            return true;
    return !*type && sample &&
           (sample->type == HB_VAL_INT || sample->type == HB_VAL_DOUBLE);
}

static void
s_pad(size_t n)
{
    for (size_t i = 0; i < n; i++)
        putchar(' ');
}

/* Prints a result with columns as psql's aligned table. */
static void
s_print_table(const hb_sql_result_t *r)
{
    uint32_t nc = r->ncols;
    size_t ncells = (size_t)r->nrows * nc;
    s_buf_t text = {0};
    size_t *off = calloc(ncells + 1, sizeof *off), *len = calloc(ncells + 1, sizeof *len);
    size_t *width = calloc(nc, sizeof *width);
    bool *right = calloc(nc, sizeof *right);
    if (!off || !len || !width || !right) {
        fprintf(stderr, "hobbes-cli: out of memory\n");
        exit(1);
    }
    for (uint32_t c = 0; c < nc; c++) {
        width[c] = s_width(r->colnames[c], strlen(r->colnames[c]));
        right[c] = s_right_aligned(r->coltypes[c], r->nrows ? &r->cells[c] : NULL);
    }
    for (size_t k = 0; k < ncells; k++) {
        off[k] = text.len;
        s_cell_text(&text, &r->cells[k]);
        len[k] = text.len - off[k];
        size_t w = s_width(text.p + off[k], len[k]);
        if (w > width[k % nc])
            width[k % nc] = w;
    }
    /* Header: names centered, every column padded. */
    for (uint32_t c = 0; c < nc; c++) {
        size_t w = s_width(r->colnames[c], strlen(r->colnames[c]));
        size_t left = (width[c] - w) / 2;
        fputs(c ? "| " : " ", stdout);
        s_pad(left);
        fputs(r->colnames[c], stdout);
        s_pad(width[c] - w - left + 1);
    }
    putchar('\n');
    for (uint32_t c = 0; c < nc; c++) {
        if (c)
            putchar('+');
        for (size_t i = 0; i < width[c] + 2; i++)
            putchar('-');
    }
    putchar('\n');
    /* Rows: no trailing blanks after the last column. */
    for (uint32_t row = 0; row < r->nrows; row++) {
        for (uint32_t c = 0; c < nc; c++) {
            size_t k = (size_t)row * nc + c;
            size_t w = s_width(text.p ? text.p + off[k] : "", len[k]);
            bool last = c + 1 == nc;
            fputs(c ? " | " : " ", stdout);
            if (right[c])
                s_pad(width[c] - w);
            if (len[k])
                fwrite(text.p + off[k], 1, len[k], stdout);
            if (!right[c] && !last)
                s_pad(width[c] - w);
        }
        putchar('\n');
    }
    printf("(%u row%s)\n\n", r->nrows, r->nrows == 1 ? "" : "s");
    free(text.p);
    free(off);
    free(len);
    free(width);
    free(right);
}

/* Prints every result of one request. Returns false if a statement
 * failed (its error went to stderr). */
static bool
s_print_results(const hb_sql_result_t *r)
{
    for (; r; r = r->next) {
        if (strcmp(r->sqlstate, "00000") != 0) {
            fflush(stdout);
            fprintf(stderr, "ERROR:  %s\n", r->message);
            return false;
        }
        if (r->ncols)
            s_print_table(r);
        else if (*r->tag)
            printf("%s\n", r->tag);
    }
    fflush(stdout);
    return true;
}

/* Runs one request and prints its outcome. Returns false on an error. */
static bool
s_run_sql(hb_sql_t *db, const char *sql, int timeout)
{
    hb_sql_result_t *res = NULL;
    hb_rc_t rc = hb_sql_exec(db, sql, NULL, 0, timeout, &res);
    if (rc != HB_OK) {
        fflush(stdout);
        fprintf(stderr, "hobbes-cli: %s: %s\n", hb_rc_str(rc), hb_sql_last_error(db));
        return false;
    }
    bool ok = s_print_results(res);
    hb_sql_result_free(&res);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Splitting input into statements                                      */
/* ------------------------------------------------------------------ */

/* Where the scanner stands at the end of the text it was given. */
typedef struct {
    size_t end;       /* bytes through the first top-level ';', 0 if none */
    bool open;        /* the text ends inside a quote, comment or parentheses */
    bool significant; /* the statement so far has more than blanks and comments */
} s_scan_t;

static bool
s_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || (unsigned char)c >= 0x80;
}

/* Scans SQL text the way PostgreSQL's lexer splits it: '...' (with ''
 * and, after E, backslash escapes), "...", -- and nested block comments,
 * $tag$...$tag$, and parentheses. Stops after the first ';' outside all
 * of them. */
static s_scan_t
s_scan(const char *s, size_t n)
{
    s_scan_t st = {0};
    int depth = 0;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '-' && i + 1 < n && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            int nest = 1;
            for (i += 2; i < n && nest; i++) {
                if (s[i] == '/' && i + 1 < n && s[i + 1] == '*')
                    nest++, i++;
                else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/')
                    nest--, i++;
            }
            if (nest) {
                st.open = true;
                return st;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            i++;
            continue;
        }
        st.significant = true;
        if (c == '\'' || c == '"') {
            bool esc = c == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
                       (i < 2 || !s_ident_char(s[i - 2]));
            size_t j = i + 1;
            bool closed = false;
            while (j < n) {
                if (esc && s[j] == '\\' && j + 1 < n) {
                    j += 2;
                } else if (s[j] == c) {
                    if (j + 1 < n && s[j + 1] == c) {
                        j += 2; /* doubled quote */
                    } else {
                        closed = true;
                        j++;
                        break;
                    }
                } else {
                    j++;
                }
            }
            if (!closed) {
                st.open = true;
                return st;
            }
            i = j;
            continue;
        }
        if (c == '$' && (i == 0 || !s_ident_char(s[i - 1]))) {
            size_t j = i + 1;
            if (j < n && !(s[j] >= '0' && s[j] <= '9')) {
                while (j < n && s_ident_char(s[j]) && s[j] != '$')
                    j++;
                if (j < n && s[j] == '$') {
                    size_t taglen = j - i + 1;
                    const char *close = NULL;
                    for (size_t k = j + 1; k + taglen <= n; k++)
                        if (memcmp(s + k, s + i, taglen) == 0) {
                            close = s + k;
                            break;
                        }
                    if (!close) {
                        st.open = true;
                        return st;
                    }
                    i = (size_t)(close - s) + taglen;
                    continue;
                }
            }
        }
        if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        else if (c == ';' && depth == 0) {
            st.end = i + 1;
            return st;
        }
        i++;
    }
    st.open = depth > 0;
    return st;
}

/* Trims blanks at both ends of s (in place); returns the new start. */
static char *
s_trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n &&
           (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* ------------------------------------------------------------------ */
/* The shell                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    hb_sql_t *db;     /* the session */
    int timeout;      /* ms per request */
    bool interactive; /* a terminal: prompts, history, errors do not stop */
    bool quit;        /* \q seen */
    bool failed;      /* a statement failed */
    s_buf_t buf;      /* text of the statement being typed */
} s_shell_t;

/* Empties sh->buf when it holds only blanks and finished comments, so the
 * prompt does not show an open statement. */
static void
s_shell_drop_blank(s_shell_t *sh)
{
    s_scan_t st = s_scan(sh->buf.p, sh->buf.len);
    if (sh->buf.len && !st.significant && !st.open)
        sh->buf.len = 0;
}

/* Runs every complete statement at the start of sh->buf. */
static void
s_shell_flush(s_shell_t *sh, bool at_eof)
{
    while (sh->buf.len && !sh->quit && !(sh->failed && !sh->interactive)) {
        s_scan_t st = s_scan(sh->buf.p, sh->buf.len);
        size_t take = st.end ? st.end : at_eof ? sh->buf.len : 0;
        if (!take)
            return;
        /* Blanks and comments alone (";", "-- x;") are not sent. */
        if (s_scan(sh->buf.p, st.end ? take - 1 : take).significant) {
            char *stmt = strndup(sh->buf.p, take);
            char *t = s_trim(stmt);
            if (sh->interactive)
                add_history(t);
            if (!s_run_sql(sh->db, t, sh->timeout))
                sh->failed = true;
            free(stmt);
        }
        s_buf_consume(&sh->buf, take);
        s_shell_drop_blank(sh);
    }
}

/* Handles one backslash command. */
static void
s_shell_meta(s_shell_t *sh, const char *cmd)
{
    if (sh->interactive)
        add_history(cmd);
    if (strcmp(cmd, "\\q") == 0) {
        sh->quit = true;
    } else if (strcmp(cmd, "\\?") == 0 || strcmp(cmd, "\\h") == 0) {
        printf("  \\q          quit\n"
               "  \\r          reset (clear) the statement being typed\n"
               "  \\?          this help\n"
               "Statements end at ';' and may span lines.\n");
    } else if (strcmp(cmd, "\\r") == 0) {
        sh->buf.len = 0;
        if (sh->interactive)
            printf("Query buffer reset (cleared).\n");
    } else {
        fprintf(stderr, "invalid command %s\nTry \\? for help.\n", cmd);
        if (!sh->interactive)
            sh->failed = true;
    }
}

/* Feeds one input line (without its newline). */
static void
s_shell_line(s_shell_t *sh, const char *line)
{
    /* A line starting with a backslash is a command, unless it continues
     * a quote or comment. */
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\\' && !(sh->buf.len && s_scan(sh->buf.p, sh->buf.len).open)) {
        char *cmd = strdup(p);
        s_shell_meta(sh, s_trim(cmd));
        free(cmd);
        return;
    }
    if (!sh->buf.len && !*p)
        return;
    s_buf_add(&sh->buf, line, strlen(line));
    s_buf_add(&sh->buf, "\n", 1);
    s_shell_flush(sh, false);
    s_shell_drop_blank(sh);
}

/* Reads lines from f (stdin or a file) until EOF, \q or, when not
 * interactive, the first error. */
static void
s_shell_file(s_shell_t *sh, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!sh->quit && !(sh->failed && !sh->interactive) &&
           (n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        s_shell_line(sh, line);
    }
    free(line);
    if (!sh->quit && !(sh->failed && !sh->interactive))
        s_shell_flush(sh, true); /* a last statement without ';' */
    sh->buf.len = 0;
}

/* The interactive loop: libedit's readline with history. */
static void
s_shell_interactive(s_shell_t *sh, const char *config, unsigned id)
{
    char histfile[4096] = "";
    const char *env = getenv("HOBBES_HISTORY"), *home = getenv("HOME");
    if (env && *env)
        snprintf(histfile, sizeof histfile, "%s", env);
    else if (home && *home)
        snprintf(histfile, sizeof histfile, "%s/.hobbes_history", home);
    using_history();
    stifle_history(1000);
    if (*histfile)
        read_history(histfile);
    printf(
        "hobbes-cli: SQL shell on sqlfront %u of %s. Type \\? for help, \\q to quit.\n",
        id, config);
    while (!sh->quit) {
        char *line = readline(sh->buf.len ? "hobbes-> " : "hobbes=> ");
        if (!line) {
            putchar('\n');
            break;
        }
        s_shell_line(sh, line);
        free(line);
    }
    if (*histfile)
        write_history(histfile);
}

static int
s_cmd_sql(const char *config, long timeout, int argc, char **argv)
{
    enum { O_CONFIG = 1000 };
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},
        {"command", required_argument, NULL, 'c'},
        {"file", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, O_CONFIG},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long id = 0;
    char **actions = calloc((size_t)argc + 1, sizeof *actions); /* "c<sql>" / "f<path>" */
    int nactions = 0, c, code = 2;
    char *end;
    optind = 0; /* restart getopt on the sub-command's arguments */
    while ((c = getopt_long(argc, argv, "+i:c:f:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            errno = 0;
            id = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || id < 0 || id > 65535)
                goto usage;
            break;
        case 't':
            errno = 0;
            timeout = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || timeout <= 0 || timeout > 86400000)
                goto usage;
            break;
        case 'c':
        case 'f':
            actions[nactions] = malloc(strlen(optarg) + 2);
            actions[nactions][0] = (char)c;
            strcpy(actions[nactions] + 1, optarg);
            nactions++;
            break;
        case O_CONFIG:
            config = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (!config || optind != argc)
        goto usage;
    char err[512];
    hb_sql_t *db = hb_sql_connect(config, (uint16_t)id, err, sizeof err);
    if (!db) {
        fprintf(stderr, "hobbes-cli: %s\n", err);
        code = 1;
        goto out;
    }
    s_shell_t sh = {.db = db, .timeout = (int)timeout};
    for (int i = 0; i < nactions && !sh.failed && !sh.quit; i++) {
        if (actions[i][0] == 'c') {
            sh.failed = !s_run_sql(db, actions[i] + 1, sh.timeout);
            continue;
        }
        const char *path = actions[i] + 1;
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
        if (!f) {
            fprintf(stderr, "hobbes-cli: %s: %s\n", path, strerror(errno));
            sh.failed = true;
            break;
        }
        s_shell_file(&sh, f);
        if (f != stdin)
            fclose(f);
    }
    if (!nactions) {
        sh.interactive = isatty(0) && isatty(1);
        if (sh.interactive)
            s_shell_interactive(&sh, config, (unsigned)id);
        else
            s_shell_file(&sh, stdin);
    }
    free(sh.buf.p);
    hb_sql_destroy(&db);
    code = sh.failed && !sh.interactive ? 1 : 0;
    goto out;
usage:
    s_usage();
out:
    for (int i = 0; i < nactions; i++)
        free(actions[i]);
    free(actions);
    return code;
}

/* ------------------------------------------------------------------ */
/* main                                                                 */
/* ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    const char *config = getenv("HOBBES_CONFIG");
    long replica = 0, timeout = 10000;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"replica", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "+c:r:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'r':
            replica = strtol(optarg, NULL, 10);
            break;
        case 't':
            timeout = strtol(optarg, NULL, 10);
            break;
        default:
            s_usage();
            return 2;
        }
    }
    if (optind >= argc || timeout <= 0 || timeout > 86400000) {
        s_usage();
        return 2;
    }
    if (strcmp(argv[optind], "call") == 0) {
        if (!config) {
            s_usage();
            return 2;
        }
        return s_cmd_call(config, replica, timeout, argc - optind, argv + optind);
    }
    if (strcmp(argv[optind], "sql") == 0)
        return s_cmd_sql(config, timeout, argc - optind, argv + optind);
    s_usage();
    return 2;
}
