/* bench_plot.c — hobbes-bench plot: charts of benchmark results.
 *
 *   hobbes-bench plot [--out PREFIX] [--title T] [--labels a,b,...]
 *                     RESULT.json [RESULT.json ...]
 *
 * Reads the JSON that the hobbes-bench harnesses write (ycsb, tpcc, ...)
 * and draws, with gnuplot, three charts in PNG and SVG:
 *   PREFIX-throughput  ops/s per measured second, one line per result
 *                      ("timeline": [[second, ops/s], ...]);
 *   PREFIX-latency     latency CDF per result and operation
 *                      ("latency_cdf": {"op": [[us, fraction], ...]});
 *   PREFIX-compare     each result's headline metric ("headline": {"name",
 *                      "value"}, default "ops/s" = throughput_ops) and the
 *                      per-operation throughput ("ops": {"op":
 *                      {"throughput_ops": ...}}).
 * Parts a result lacks are left out with a note. A line's label is
 * --labels' entry, else the result's "label", else "<workload> <target>"
 * (+ params.impl).
 *
 * The JSON reader is small and strict (RFC 8259 values, UTF-8 checked,
 * bounded file size, nesting and node count) because result files come
 * from anywhere: a malformed one is reported with its byte offset and the
 * command exits 2. gnuplot runs on a generated script and data files in a
 * temporary directory, which is removed afterwards.
 */
#include "bench_plot.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hb_alloc.h"

extern char **environ;

#define S_MAX_FILE    (64u << 20) /* bytes of one result file */
#define S_MAX_DEPTH   64          /* JSON nesting */
#define S_MAX_NODES   (8u << 20)  /* JSON values of one file */
#define S_MAX_RESULTS 64          /* result files of one plot */
#define S_MAX_OPS     64          /* operation names over all results */
#define S_LABEL_MAX   128         /* bytes of a legend label */
#define S_NONE        UINT32_MAX  /* no node */

/* ================================================================ JSON */

typedef enum { S_JNULL, S_JBOOL, S_JNUM, S_JSTR, S_JARR, S_JOBJ } s_jtype_t;

typedef struct {
    uint8_t type;   /* s_jtype_t */
    uint32_t key;   /* object member: its name's offset in strs; else S_NONE */
    uint32_t next;  /* next sibling, or S_NONE */
    uint32_t first; /* array/object: first child, or S_NONE */
    uint32_t count; /* array/object: number of children */
    uint32_t str;   /* string: offset in strs */
    double num;     /* number; true 1, false 0 */
} s_jnode_t;

typedef struct {
    const char *file; /* for messages */
    const char *p;    /* text (owned) */
    size_t len;       /* its length */
    size_t pos;       /* parse position */
    s_jnode_t *nodes; /* values, parents before children */
    size_t n, cap;    /* used and allocated nodes */
    char *strs;       /* decoded strings, NUL-terminated; len + 1 bytes */
    size_t slen;      /* used bytes of strs */
    int depth;        /* current nesting */
    char err[512];    /* first error */
} s_json_t;

static void
s_json_destroy(s_json_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_json_t *j = *self_p;
    free((char *)j->p);
    free(j->nodes);
    free(j->strs);
    free(j);
    *self_p = NULL;
}

static uint32_t
s_jfail(s_json_t *j, const char *what)
{
    if (!j->err[0])
        snprintf(j->err, sizeof j->err, "%s: byte %zu: %s", j->file, j->pos, what);
    return S_NONE;
}

static void
s_jws(s_json_t *j)
{
    while (j->pos < j->len && (j->p[j->pos] == ' ' || j->p[j->pos] == '\t' ||
                               j->p[j->pos] == '\n' || j->p[j->pos] == '\r'))
        j->pos++;
}

static uint32_t
s_jnew(s_json_t *j, s_jtype_t type)
{
    if (j->n >= S_MAX_NODES)
        return s_jfail(j, "too many values");
    HB_GROW(j->nodes, j->cap, j->n + 1, 256);
    j->nodes[j->n] = (s_jnode_t){
        .type = (uint8_t)type, .key = S_NONE, .next = S_NONE, .first = S_NONE};
    return (uint32_t)j->n++;
}

/* Length of the UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t
s_utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07u;
    } else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Writes code point cp as UTF-8 to o; returns the bytes written (1..4). */
static size_t
s_utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    size_t n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xc0, 0xe0, 0xf0};
    for (size_t i = n - 1; i > 0; i--, cp >>= 6)
        o[i] = (char)(0x80 | (cp & 0x3f));
    o[0] = (char)(lead[n] | cp);
    return n;
}

static int
s_hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Parses the string at pos (on its opening quote) into strs; returns its
 * offset there, or S_NONE. Decoded text is never longer than its source,
 * so strs (len + 1 bytes) cannot overflow. */
static uint32_t
s_jstring(s_json_t *j)
{
    uint32_t off = (uint32_t)j->slen;
    j->pos++;
    for (;;) {
        if (j->pos >= j->len)
            return s_jfail(j, "unterminated string");
        unsigned char c = (unsigned char)j->p[j->pos];
        if (c == '"') {
            j->pos++;
            j->strs[j->slen++] = '\0';
            return off;
        }
        if (c < 0x20)
            return s_jfail(j, "control character in a string");
        if (c != '\\') {
            size_t n = s_utf8_len((const unsigned char *)j->p + j->pos, j->len - j->pos);
            if (!n)
                return s_jfail(j, "invalid UTF-8 in a string");
            memcpy(j->strs + j->slen, j->p + j->pos, n);
            j->slen += n;
            j->pos += n;
            continue;
        }
        if (j->pos + 1 >= j->len)
            return s_jfail(j, "unterminated string");
        char e = j->p[j->pos + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char dec[] = "\"\\/\b\f\n\r\t";
            j->strs[j->slen++] = dec[simple - "\"\\/bfnrt"];
            j->pos += 2;
            continue;
        }
        if (e != 'u')
            return s_jfail(j, "bad escape in a string");
        uint32_t cp, lo;
        if (j->pos + 6 > j->len || s_hex4(j->p + j->pos + 2, &cp) != 0)
            return s_jfail(j, "bad \\u escape");
        size_t used = 6;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return s_jfail(j, "lone low surrogate in \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (j->pos + 12 > j->len || j->p[j->pos + 6] != '\\' ||
                j->p[j->pos + 7] != 'u' || s_hex4(j->p + j->pos + 8, &lo) != 0 ||
                lo < 0xdc00 || lo > 0xdfff)
                return s_jfail(j, "unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            used = 12;
        }
        if (cp == 0)
            return s_jfail(j, "\\u0000 in a string");
        j->slen += s_utf8_put(j->strs + j->slen, cp); /* at most 4 bytes for 6 in */
        j->pos += used;
    }
}

/* Parses a number by JSON's grammar (no NaN, Infinity, hex, '+'). */
static uint32_t
s_jnumber(s_json_t *j)
{
    size_t s = j->pos, i = s;
    const char *p = j->p;
    if (i < j->len && p[i] == '-')
        i++;
    if (i < j->len && p[i] == '0')
        i++;
    else if (i < j->len && p[i] >= '1' && p[i] <= '9')
        while (i < j->len && p[i] >= '0' && p[i] <= '9')
            i++;
    else
        return s_jfail(j, "bad number");
    if (i < j->len && p[i] == '.') {
        i++;
        if (i >= j->len || p[i] < '0' || p[i] > '9')
            return s_jfail(j, "bad number (digit expected after '.')");
        while (i < j->len && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    if (i < j->len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < j->len && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= j->len || p[i] < '0' || p[i] > '9')
            return s_jfail(j, "bad number (digit expected in exponent)");
        while (i < j->len && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    char buf[64];
    if (i - s >= sizeof buf)
        return s_jfail(j, "number too long");
    memcpy(buf, p + s, i - s);
    buf[i - s] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return s_jfail(j, "number out of range");
    uint32_t n = s_jnew(j, S_JNUM);
    if (n == S_NONE)
        return n;
    j->nodes[n].num = v;
    j->pos = i;
    return n;
}

static uint32_t s_jvalue(s_json_t *j);

/* Parses an array or object (pos on '[' or '{'). */
static uint32_t
s_jcontainer(s_json_t *j, int obj)
{
    if (++j->depth > S_MAX_DEPTH)
        return s_jfail(j, "nested too deeply");
    uint32_t self = s_jnew(j, obj ? S_JOBJ : S_JARR), last = S_NONE;
    if (self == S_NONE)
        return self;
    char close = obj ? '}' : ']';
    j->pos++;
    s_jws(j);
    if (j->pos < j->len && j->p[j->pos] == close) {
        j->pos++;
        j->depth--;
        return self;
    }
    for (;;) {
        uint32_t key = S_NONE;
        if (obj) {
            s_jws(j);
            if (j->pos >= j->len || j->p[j->pos] != '"')
                return s_jfail(j, "member name (a string) expected");
            key = s_jstring(j);
            if (key == S_NONE)
                return key;
            s_jws(j);
            if (j->pos >= j->len || j->p[j->pos] != ':')
                return s_jfail(j, "':' expected");
            j->pos++;
        }
        uint32_t child = s_jvalue(j);
        if (child == S_NONE)
            return child;
        j->nodes[child].key = key;
        if (last == S_NONE)
            j->nodes[self].first = child;
        else
            j->nodes[last].next = child;
        last = child;
        j->nodes[self].count++;
        s_jws(j);
        if (j->pos >= j->len)
            return s_jfail(j, obj ? "unexpected end of file: ',' or '}' expected"
                                  : "unexpected end of file: ',' or ']' expected");
        if (j->p[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (j->p[j->pos] == close) {
            j->pos++;
            j->depth--;
            return self;
        }
        return s_jfail(j, obj ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static uint32_t
s_jvalue(s_json_t *j)
{
    s_jws(j);
    if (j->pos >= j->len)
        return s_jfail(j, "unexpected end of file: a value expected");
    char c = j->p[j->pos];
    if (c == '{' || c == '[')
        return s_jcontainer(j, c == '{');
    if (c == '"') {
        uint32_t off = s_jstring(j);
        if (off == S_NONE)
            return off;
        uint32_t n = s_jnew(j, S_JSTR);
        if (n != S_NONE)
            j->nodes[n].str = off;
        return n;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return s_jnumber(j);
    static const struct {
        const char *word;
        s_jtype_t type;
        double num;
    } lit[] = {{"true", S_JBOOL, 1}, {"false", S_JBOOL, 0}, {"null", S_JNULL, 0}};
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
        size_t n = strlen(lit[i].word);
        if (j->len - j->pos >= n && memcmp(j->p + j->pos, lit[i].word, n) == 0) {
            uint32_t v = s_jnew(j, lit[i].type);
            if (v != S_NONE)
                j->nodes[v].num = lit[i].num;
            j->pos += n;
            return v;
        }
    }
    return s_jfail(j, (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f
                          ? "unexpected character: a value expected"
                          : "unexpected byte: a value expected");
}

/* Reads and parses file. Returns the document (caller owns;
 * s_json_destroy), or NULL with a message in err. */
static s_json_t *
s_json_load(const char *file, char *err, size_t cap)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(err, cap, "%s: %s", file, strerror(errno));
        return NULL;
    }
    s_json_t *j = calloc(1, sizeof *j);
    /* Grow as read (the file may be a pipe), reading at most one byte past
     * the cap so an oversized file shows. */
    size_t n = 0, bcap = 0;
    char *buf = NULL;
    int oom = !j;
    while (!oom && n <= S_MAX_FILE && !feof(f) && !ferror(f)) {
        if (n == bcap)
            HB_GROW(buf, bcap, n + 1, 65536);
        size_t upto = bcap < S_MAX_FILE + 1 ? bcap : S_MAX_FILE + 1;
        n += fread(buf + n, 1, upto - n, f);
        if (n == S_MAX_FILE + 1)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (oom) {
        snprintf(err, cap, "%s: out of memory", file);
        free(buf);
        free(j);
        return NULL;
    }
    j->file = file;
    j->p = buf;
    j->len = n;
    if (rerr || n > S_MAX_FILE) {
        snprintf(err, cap, "%s: %s", file,
                 rerr ? "read error" : "larger than 64 MiB: not a hobbes-bench result");
        s_json_destroy(&j);
        return NULL;
    }
    j->strs = malloc(n + 1);
    if (!j->strs) {
        snprintf(err, cap, "%s: out of memory", file);
        s_json_destroy(&j);
        return NULL;
    }
    uint32_t root = n ? s_jvalue(j) : s_jfail(j, "empty file");
    if (root != S_NONE) {
        s_jws(j);
        if (j->pos != j->len)
            root = s_jfail(j, "unexpected data after the top-level value");
    }
    if (root != S_NONE && j->nodes[0].type != S_JOBJ) {
        j->pos = 0;
        root =
            s_jfail(j, "the top-level value is not an object: not a hobbes-bench result");
    }
    if (root == S_NONE) {
        snprintf(err, cap, "%s", j->err);
        s_json_destroy(&j);
        return NULL;
    }
    return j;
}

/* Returns member name of object node obj, or S_NONE. */
static uint32_t
s_jget(const s_json_t *j, uint32_t obj, const char *name)
{
    if (obj == S_NONE || j->nodes[obj].type != S_JOBJ)
        return S_NONE;
    for (uint32_t c = j->nodes[obj].first; c != S_NONE; c = j->nodes[c].next)
        if (strcmp(j->strs + j->nodes[c].key, name) == 0)
            return c;
    return S_NONE;
}

static const char *
s_jstr(const s_json_t *j, uint32_t n)
{
    return n != S_NONE && j->nodes[n].type == S_JSTR ? j->strs + j->nodes[n].str : NULL;
}

/* Returns 1 if node n is an array of [number, number] pairs. */
static int
s_jpairs(const s_json_t *j, uint32_t n)
{
    if (j->nodes[n].type != S_JARR)
        return 0;
    for (uint32_t c = j->nodes[n].first; c != S_NONE; c = j->nodes[c].next) {
        const s_jnode_t *e = &j->nodes[c];
        if (e->type != S_JARR || e->count != 2 || j->nodes[e->first].type != S_JNUM ||
            j->nodes[j->nodes[e->first].next].type != S_JNUM)
            return 0;
    }
    return 1;
}

/* ============================================================ results */

typedef struct {
    const char *file;        /* path given */
    s_json_t *j;             /* parsed document (owned) */
    char label[S_LABEL_MAX]; /* legend label */
    char head_name[64];      /* headline metric name */
    double head;             /* its value */
    int has_head;            /* a headline exists */
    uint32_t timeline;       /* [[s, ops/s] ...] node, or S_NONE */
    uint32_t cdf;            /* {"op": [[us, frac] ...]} node, or S_NONE */
    uint32_t ops;            /* {"op": {...}} node, or S_NONE */
} s_result_t;

/* Copies s into out (cap bytes) with control characters made spaces. */
static void
s_clean(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s && *s && i + 1 < cap; s++)
        out[i++] = (unsigned char)*s < 0x20 ? ' ' : *s;
    out[i] = '\0';
}

/* Fills r from its document. Returns 0, or -1 with err for a field of
 * the wrong shape. */
static int
s_result_read(s_result_t *r, const char *label, char *err, size_t cap)
{
    const s_json_t *j = r->j;
    const uint32_t root = 0;
    const char *wl = s_jstr(j, s_jget(j, root, "workload"));
    const char *tg = s_jstr(j, s_jget(j, root, "target"));
    const char *lb = s_jstr(j, s_jget(j, root, "label"));
    const char *impl = s_jstr(j, s_jget(j, s_jget(j, root, "params"), "impl"));
    char def[S_LABEL_MAX];
    if (wl || tg)
        snprintf(def, sizeof def, "%s%s%s%s%s", wl ? wl : "", wl && tg ? " " : "",
                 tg ? tg : "", impl ? " " : "", impl ? impl : "");
    else
        snprintf(def, sizeof def, "%s", r->file);
    s_clean(r->label, sizeof r->label, label && *label ? label : lb && *lb ? lb : def);

    uint32_t h = s_jget(j, root, "headline"), tp = s_jget(j, root, "throughput_ops");
    if (h != S_NONE) {
        const char *name = s_jstr(j, s_jget(j, h, "name"));
        uint32_t v = s_jget(j, h, "value");
        if (!name || v == S_NONE || j->nodes[v].type != S_JNUM) {
            snprintf(err, cap,
                     "%s: \"headline\" is not {\"name\": string, \"value\": number}",
                     r->file);
            return -1;
        }
        s_clean(r->head_name, sizeof r->head_name, name);
        r->head = j->nodes[v].num;
        r->has_head = 1;
    } else if (tp != S_NONE && j->nodes[tp].type == S_JNUM) {
        snprintf(r->head_name, sizeof r->head_name, "ops/s");
        r->head = j->nodes[tp].num;
        r->has_head = 1;
    }

    r->timeline = s_jget(j, root, "timeline");
    if (r->timeline != S_NONE && !s_jpairs(j, r->timeline)) {
        snprintf(err, cap, "%s: \"timeline\" is not an array of [second, ops/s] pairs",
                 r->file);
        return -1;
    }
    r->cdf = s_jget(j, root, "latency_cdf");
    if (r->cdf != S_NONE) {
        if (j->nodes[r->cdf].type != S_JOBJ) {
            snprintf(err, cap, "%s: \"latency_cdf\" is not an object", r->file);
            return -1;
        }
        for (uint32_t c = j->nodes[r->cdf].first; c != S_NONE; c = j->nodes[c].next)
            if (!s_jpairs(j, c)) {
                snprintf(err, cap,
                         "%s: \"latency_cdf\".\"%s\" is not an array of [us, fraction]",
                         r->file, j->strs + j->nodes[c].key);
                return -1;
            }
    }
    r->ops = s_jget(j, root, "ops");
    if (r->ops != S_NONE && j->nodes[r->ops].type != S_JOBJ) {
        snprintf(err, cap, "%s: \"ops\" is not an object", r->file);
        return -1;
    }
    return 0;
}

/* ============================================================ gnuplot */

typedef struct {
    char dir[64];     /* temporary directory */
    char *made[4096]; /* files created in it */
    size_t nmade;     /* their count */
} s_tmp_t;

/* Opens a new data file NAME in the temporary directory; its path goes to
 * path (cap bytes). Returns the stream, or NULL. */
static FILE *
s_tmp_open(s_tmp_t *t, const char *name, char *path, size_t cap)
{
    if (t->nmade >= sizeof t->made / sizeof t->made[0])
        return NULL;
    snprintf(path, cap, "%s/%s", t->dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        t->made[t->nmade++] = strdup(path);
    return f;
}

static void
s_tmp_remove(s_tmp_t *t)
{
    for (size_t i = 0; i < t->nmade; i++) {
        if (t->made[i])
            unlink(t->made[i]);
        free(t->made[i]);
    }
    t->nmade = 0;
    if (t->dir[0])
        rmdir(t->dir);
}

/* Writes s as a single-quoted gnuplot string ('' stands for '). */
static void
s_gq(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
    }
    fputc('\'', f);
}

/* One output format. */
typedef struct {
    const char *ext;  /* file name suffix */
    const char *term; /* gnuplot commands selecting the terminal */
} s_fmt_t;

static const s_fmt_t s_fmts[] = {
    {"png", "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "    set terminal pngcairo noenhanced size 1200,700 font 'sans,10'\n"
            "} else {\n"
            "    set terminal png noenhanced size 1200,700\n"
            "}\n"},
    {"svg",
     "set terminal svg noenhanced size 1200,700 font 'sans,10' background rgb 'white'\n"},
};

typedef struct {
    const char *prefix;         /* output file prefix */
    const char *title;          /* chart title prefix */
    s_result_t *res;            /* results */
    size_t nres;                /* count */
    const char *ops[S_MAX_OPS]; /* operation names over all results (borrowed) */
    size_t nops;                /* count */
    s_tmp_t tmp;                /* data files */
    char outs[9][1200];         /* charts written */
    size_t nouts;               /* count */
} s_plot_t;

static size_t
s_op_index(s_plot_t *p, const char *name)
{
    for (size_t i = 0; i < p->nops; i++)
        if (strcmp(p->ops[i], name) == 0)
            return i;
    if (p->nops < S_MAX_OPS)
        p->ops[p->nops++] = name;
    return p->nops - 1;
}

/* Writes chart `name` in every format to gp: terminal and output, then
 * the plot commands from body(p, gp). */
static void
s_chart(s_plot_t *p, FILE *gp, const char *name, void (*body)(s_plot_t *, FILE *))
{
    for (size_t f = 0; f < sizeof s_fmts / sizeof s_fmts[0]; f++) {
        char *out = p->outs[p->nouts++];
        snprintf(out, sizeof p->outs[0], "%s-%s.%s", p->prefix, name, s_fmts[f].ext);
        unlink(out); /* so a missing file afterwards means gnuplot failed */
        fprintf(gp, "reset\n%s", s_fmts[f].term);
        fprintf(gp, "set output ");
        s_gq(gp, out);
        fprintf(gp, "\nset datafile separator '\\t'\nset grid\nset key below\n");
        body(p, gp);
        fprintf(gp, "unset multiplot\nset output\n");
    }
}

/* Writes the title line for chart `what`. */
static void
s_title(s_plot_t *p, FILE *gp, const char *what)
{
    char t[512];
    snprintf(t, sizeof t, "%s: %s", p->title, what);
    fprintf(gp, "set title ");
    s_gq(gp, t);
    fputc('\n', gp);
}

static void
s_body_throughput(s_plot_t *p, FILE *gp)
{
    s_title(p, gp, "throughput over time");
    double last = 0;
    for (size_t r = 0; r < p->nres; r++) {
        const s_json_t *j = p->res[r].j;
        if (p->res[r].timeline == S_NONE)
            continue;
        for (uint32_t c = j->nodes[p->res[r].timeline].first; c != S_NONE;
             c = j->nodes[c].next)
            if (j->nodes[j->nodes[c].first].num > last)
                last = j->nodes[j->nodes[c].first].num;
    }
    /* Short runs: a tic per second rather than gnuplot's halves. */
    fprintf(gp,
            "set xlabel 'seconds since the measured start'\nset xrange [0:*]\n%s"
            "set ylabel 'throughput (per second)'\nset yrange [0:*]\nplot ",
            last <= 20 ? "set xtics 1\n" : "");
    int first = 1;
    for (size_t r = 0; r < p->nres; r++) {
        if (p->res[r].timeline == S_NONE || !p->res[r].j->nodes[p->res[r].timeline].count)
            continue;
        fprintf(gp, "%s'%s/tl%zu.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.5 title ",
                first ? "" : ", \\\n     ", p->tmp.dir, r);
        s_gq(gp, p->res[r].label);
        first = 0;
    }
    fputc('\n', gp);
}

static void
s_body_latency(s_plot_t *p, FILE *gp)
{
    s_title(p, gp, "latency CDF");
    fprintf(gp, "set logscale x\nset xlabel 'latency (ms, log scale)'\n"
                "set ylabel 'fraction of operations at or below'\nset yrange [0:1.02]\n"
                "set ytics 0.1\nplot ");
    int first = 1;
    for (size_t r = 0; r < p->nres; r++) {
        const s_json_t *j = p->res[r].j;
        if (p->res[r].cdf == S_NONE)
            continue;
        size_t k = 0;
        for (uint32_t c = j->nodes[p->res[r].cdf].first; c != S_NONE;
             c = j->nodes[c].next, k++) {
            if (!j->nodes[c].count)
                continue;
            const char *op = j->strs + j->nodes[c].key;
            char t[S_LABEL_MAX + 80];
            snprintf(t, sizeof t, "%s %s", p->res[r].label, op);
            /* Colour by operation, dash pattern by result. */
            fprintf(
                gp,
                "%s'%s/cdf%zu_%zu.dat' using 1:2 with lines lw 2 lc %zu dt %zu title ",
                first ? "" : ", \\\n     ", p->tmp.dir, r, k, s_op_index(p, op) + 1,
                r % 5 + 1);
            s_gq(gp, t);
            first = 0;
        }
    }
    fputc('\n', gp);
}

/* Returns the op's throughput in result r (NaN if it has none). */
static double
s_op_tput(const s_result_t *r, const char *op)
{
    const s_json_t *j = r->j;
    uint32_t v = s_jget(j, s_jget(j, r->ops, op), "throughput_ops");
    return v != S_NONE && j->nodes[v].type == S_JNUM ? j->nodes[v].num : NAN;
}

static int
s_any_op_tput(s_plot_t *p)
{
    for (size_t r = 0; r < p->nres; r++)
        for (size_t o = 0; o < p->nops; o++)
            if (!isnan(s_op_tput(&p->res[r], p->ops[o])))
                return 1;
    return 0;
}

static void
s_body_compare(s_plot_t *p, FILE *gp)
{
    int nhead = 0, same = 1, ops = s_any_op_tput(p);
    const char *unit = NULL;
    for (size_t r = 0; r < p->nres; r++)
        if (p->res[r].has_head) {
            nhead++;
            if (unit && strcmp(unit, p->res[r].head_name) != 0)
                same = 0;
            unit = p->res[r].head_name;
        }
    if (nhead && ops)
        fprintf(gp, "set multiplot layout 1,2\n");
    if (nhead) {
        s_title(p, gp, "headline metric");
        fprintf(gp, "set ylabel ");
        s_gq(gp, same ? unit : "headline metric (see labels)");
        fprintf(gp,
                "\nset yrange [0:*]\nset offsets 0, 0, graph 0.08, 0\n"
                "set xrange [-0.6:%d.6]\nset boxwidth 0.6\n"
                "set style fill solid 0.8 border -1\nset xtics rotate by -20 (",
                nhead - 1);
        int i = 0;
        for (size_t r = 0; r < p->nres; r++) {
            if (!p->res[r].has_head)
                continue;
            char t[S_LABEL_MAX + 80];
            snprintf(t, sizeof t, same ? "%s" : "%s (%s)", p->res[r].label,
                     p->res[r].head_name);
            fprintf(gp, "%s", i ? ", " : "");
            s_gq(gp, t);
            fprintf(gp, " %d", i++);
        }
        fprintf(gp,
                ")\nunset key\nplot '%s/head.dat' using 1:2:3 with boxes lc variable, "
                "'' using 1:2:(sprintf('%%.1f', $2)) with labels offset 0,0.8\n",
                p->tmp.dir);
    }
    if (ops) {
        /* Second panel (or the only one): undo the bars' axis settings. */
        fprintf(gp, "set autoscale x\nset offsets 0, 0, 0, 0\nset xtics norotate\n"
                    "set key below\n");
        s_title(p, gp, "throughput per operation");
        fprintf(
            gp,
            "set ylabel 'operations/s'\nset yrange [0:*]\nset style data histograms\n"
            "set style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
            "plot ");
        for (size_t r = 0; r < p->nres; r++) {
            fprintf(gp, "%s'%s/ops.dat' using %zu%s title ", r ? ", \\\n     " : "",
                    p->tmp.dir, r + 2, r ? "" : ":xtic(1)");
            s_gq(gp, p->res[r].label);
        }
        fputc('\n', gp);
    }
}

/* Writes the data files and the script. Returns the number of charts
 * (0..3) in *charts; returns 0, or -1 with err. */
static int
s_write(s_plot_t *p, char *script, size_t scap, int *charts, char *err, size_t cap)
{
    char path[256];
    int has_tl = 0, has_cdf = 0, has_head = 0;
    for (size_t r = 0; r < p->nres; r++) {
        s_result_t *res = &p->res[r];
        const s_json_t *j = res->j;
        if (res->timeline != S_NONE && j->nodes[res->timeline].count) {
            char name[32];
            snprintf(name, sizeof name, "tl%zu.dat", r);
            FILE *f = s_tmp_open(&p->tmp, name, path, sizeof path);
            if (!f)
                goto io;
            for (uint32_t c = j->nodes[res->timeline].first; c != S_NONE;
                 c = j->nodes[c].next) {
                uint32_t x = j->nodes[c].first, y = j->nodes[x].next;
                fprintf(f, "%.9g\t%.9g\n", j->nodes[x].num, j->nodes[y].num);
            }
            if (fclose(f) != 0)
                goto io;
            has_tl = 1;
        } else
            fprintf(stderr,
                    "hobbes-bench plot: %s: no timeline: not in the throughput chart\n",
                    res->file);
        size_t k = 0, drawn = 0;
        for (uint32_t c = res->cdf != S_NONE ? j->nodes[res->cdf].first : S_NONE;
             c != S_NONE; c = j->nodes[c].next, k++) {
            s_op_index(p, j->strs + j->nodes[c].key);
            if (!j->nodes[c].count)
                continue;
            char name[48];
            snprintf(name, sizeof name, "cdf%zu_%zu.dat", r, k);
            FILE *f = s_tmp_open(&p->tmp, name, path, sizeof path);
            if (!f)
                goto io;
            /* Start the curve at 0 just left of the first point; log x
             * cannot show 0 us, so such points are left out. */
            int started = 0;
            for (uint32_t e = j->nodes[c].first; e != S_NONE; e = j->nodes[e].next) {
                uint32_t x = j->nodes[e].first, y = j->nodes[x].next;
                double ms = j->nodes[x].num / 1000.0;
                if (!(ms > 0))
                    continue;
                if (!started)
                    fprintf(f, "%.9g\t0\n", ms);
                started = 1;
                fprintf(f, "%.9g\t%.9g\n", ms, j->nodes[y].num);
            }
            if (fclose(f) != 0)
                goto io;
            drawn += started;
        }
        if (!drawn)
            fprintf(stderr,
                    "hobbes-bench plot: %s: no latency_cdf: not in the latency chart\n",
                    res->file);
        has_cdf |= drawn > 0;
        if (res->ops != S_NONE)
            for (uint32_t c = j->nodes[res->ops].first; c != S_NONE; c = j->nodes[c].next)
                s_op_index(p, j->strs + j->nodes[c].key);
        if (!res->has_head)
            fprintf(stderr,
                    "hobbes-bench plot: %s: no headline or throughput_ops: not in the "
                    "headline bars\n",
                    res->file);
        has_head |= res->has_head;
    }
    FILE *f = s_tmp_open(&p->tmp, "head.dat", path, sizeof path);
    if (!f)
        goto io;
    int i = 0;
    for (size_t r = 0; r < p->nres; r++)
        if (p->res[r].has_head) {
            fprintf(f, "%d\t%.9g\t%d\n", i, p->res[r].head, i + 1);
            i++;
        }
    if (fclose(f) != 0)
        goto io;
    f = s_tmp_open(&p->tmp, "ops.dat", path, sizeof path);
    if (!f)
        goto io;
    for (size_t o = 0; o < p->nops; o++) {
        /* The name as a data column: no tabs, quotes or leading '#'. */
        char name[S_LABEL_MAX];
        s_clean(name, sizeof name, p->ops[o]);
        for (char *q = name; *q; q++)
            if (*q == '"' || (*q == '#' && q == name))
                *q = '_';
        fprintf(f, "%s\t", name);
        for (size_t r = 0; r < p->nres; r++) {
            double v = s_op_tput(&p->res[r], p->ops[o]);
            if (isnan(v))
                fprintf(f, "NaN%s", r + 1 < p->nres ? "\t" : "\n");
            else
                fprintf(f, "%.9g%s", v, r + 1 < p->nres ? "\t" : "\n");
        }
    }
    if (fclose(f) != 0)
        goto io;

    FILE *gp = s_tmp_open(&p->tmp, "charts.gp", script, scap);
    if (!gp)
        goto io;
    *charts = 0;
    if (has_tl) {
        s_chart(p, gp, "throughput", s_body_throughput);
        ++*charts;
    }
    if (has_cdf) {
        s_chart(p, gp, "latency", s_body_latency);
        ++*charts;
    }
    if (has_head || s_any_op_tput(p)) {
        s_chart(p, gp, "compare", s_body_compare);
        ++*charts;
    }
    if (fclose(gp) != 0)
        goto io;
    return 0;
io:
    snprintf(err, cap, "cannot write temporary files in %s: %s", p->tmp.dir,
             strerror(errno));
    return -1;
}

/* Runs gnuplot on script. Returns 0, or -1 with err. */
static int
s_gnuplot(const char *script, char *err, size_t cap)
{
    const char *prog = getenv("HOBBES_GNUPLOT");
    if (!prog || !*prog)
        prog = "gnuplot";
    char *argv[] = {(char *)prog, (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, prog, NULL, NULL, argv, environ);
    if (rc != 0) {
        snprintf(err, cap, "cannot run %s: %s%s", prog, strerror(rc),
                 rc == ENOENT ? " (apt-get install gnuplot-nox)" : "");
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, cap, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st))
        snprintf(err, cap, "%s failed (exit %d)%s", prog, WEXITSTATUS(st),
                 WEXITSTATUS(st) == 127 ? ": not installed? (apt-get install gnuplot-nox)"
                                        : "");
    else
        snprintf(err, cap, "%s killed by signal %d", prog, WTERMSIG(st));
    return -1;
}

/* ============================================================ command */

void
bench_plot_usage(void)
{
    fprintf(
        stderr,
        "       hobbes-bench plot [--out PREFIX] [--title T] [--labels a,b,...] "
        "RESULT.json [RESULT.json ...]\n"
        "                         (gnuplot: PREFIX-throughput, -latency, -compare .png "
        "and .svg)\n");
}

int
bench_plot_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"title", required_argument, NULL, 't'},
        {"labels", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *labels = NULL;
    s_plot_t *p = calloc(1, sizeof *p);
    char *lbuf = NULL;
    char *lab[S_MAX_RESULTS] = {0};
    int rc = 2, c;
    if (!p) {
        fprintf(stderr, "hobbes-bench plot: out of memory\n");
        return 1;
    }
    p->prefix = "hobbes-bench";
    p->title = "hobbes-bench";
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            p->prefix = optarg;
            break;
        case 't':
            p->title = optarg;
            break;
        case 'l':
            labels = optarg;
            break;
        case 'h':
            bench_plot_usage();
            rc = 0;
            goto out;
        default:
            bench_plot_usage();
            goto out;
        }
    }
    size_t nfiles = (size_t)(argc - optind);
    if (nfiles == 0 || nfiles > S_MAX_RESULTS || !*p->prefix ||
        strlen(p->prefix) > sizeof p->outs[0] - 32) {
        fprintf(stderr, "hobbes-bench plot: %s\n",
                nfiles == 0              ? "no result files given"
                : nfiles > S_MAX_RESULTS ? "at most 64 result files"
                                         : "bad --out prefix");
        bench_plot_usage();
        goto out;
    }
    if (labels) {
        lbuf = strdup(labels);
        size_t n = 0;
        for (char *s = lbuf, *e; s; s = e) {
            e = strchr(s, ',');
            if (e)
                *e++ = '\0';
            if (n >= nfiles) {
                fprintf(stderr, "hobbes-bench plot: more --labels than result files\n");
                goto out;
            }
            lab[n++] = s;
        }
    }
    p->res = calloc(nfiles, sizeof *p->res);
    if (!p->res) {
        fprintf(stderr, "hobbes-bench plot: out of memory\n");
        rc = 1;
        goto out;
    }
    char err[1024];
    for (size_t i = 0; i < nfiles; i++) {
        s_result_t *r = &p->res[p->nres];
        r->file = argv[optind + (int)i];
        r->j = s_json_load(r->file, err, sizeof err);
        if (!r->j) {
            fprintf(stderr, "hobbes-bench plot: %s\n", err);
            goto out;
        }
        p->nres++;
        if (s_result_read(r, lab[i], err, sizeof err) != 0) {
            fprintf(stderr, "hobbes-bench plot: %s\n", err);
            goto out;
        }
    }
    rc = 1;
    const char *tmpdir = getenv("TMPDIR");
    snprintf(p->tmp.dir, sizeof p->tmp.dir, "%s/hobbes-plot-XXXXXX",
             tmpdir && *tmpdir && strlen(tmpdir) < 40 ? tmpdir : "/tmp");
    if (!mkdtemp(p->tmp.dir)) {
        fprintf(stderr, "hobbes-bench plot: mkdtemp %s: %s\n", p->tmp.dir,
                strerror(errno));
        p->tmp.dir[0] = '\0';
        goto out;
    }
    char script[256];
    int charts = 0;
    if (s_write(p, script, sizeof script, &charts, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench plot: %s\n", err);
        goto out;
    }
    if (charts == 0) {
        fprintf(stderr, "hobbes-bench plot: nothing to plot: no timeline, latency_cdf, "
                        "headline or ops in the results\n");
        goto out;
    }
    if (s_gnuplot(script, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench plot: %s\n", err);
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < p->nouts; i++) {
        struct stat st;
        if (stat(p->outs[i], &st) != 0 || st.st_size == 0) {
            fprintf(stderr, "hobbes-bench plot: gnuplot did not write %s\n", p->outs[i]);
            rc = 1;
        } else
            printf("wrote %s\n", p->outs[i]);
    }
out:
    s_tmp_remove(&p->tmp);
    for (size_t i = 0; i < p->nres; i++)
        s_json_destroy(&p->res[i].j);
    free(p->res);
    free(lbuf);
    free(p);
    return rc;
}
