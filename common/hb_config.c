/* hb_config.c — loading and validating the cluster config (ZPL).
 *
 * The text is parsed by czmq's zconfig, which keeps no line numbers, so a
 * small scanner walks the text first. It applies exactly zconfig's grammar
 * (indentation in steps of 4 spaces, name characters, `= value` with
 * optional quotes, `#` comments, lines of at most 1024 bytes) and reports a
 * syntax error itself with file and line before zconfig ever sees the text
 * (so czmq never prints its own error). For each named line it records the
 * line number in document order; since zconfig appends every node to the
 * last-child chain, a pre-order walk of the zconfig tree visits the nodes in
 * that same order, which gives every node its line. Validation then walks
 * the tree: known sections and keys, ranges, slots, sqlfronts and
 * endpoints, each error as "FILE:LINE: KEYPATH: problem".
 *
 * Entry points: hb_config_load, hb_config_parse, hb_config_destroy, and the
 * lookups hb_config_slot, hb_config_sqlfront, hb_config_endpoint,
 * hb_config_node_dir, hb_config_sqlfront_dir.
 */
#include "hb_config.h"
#include "hb_key.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"

#define S_LINE_MAX   1024        /* zconfig truncates longer lines */
#define S_FILE_MAX   (64u << 20) /* refuse config files above this */
#define S_PATH_LEN   256         /* key paths in messages */
#define S_SCAN_DEPTH 4           /* levels whose paths the scanner keeps */

/* ------------------------------------------------------------------ */
/* Error context and line map                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    uintptr_t node; /* zconfig_t address */
    int line;       /* 1-based line of that node */
} s_nodeline_t;

typedef struct {
    const char *name;  /* file name used in messages */
    int *lines;        /* line of each named node, document order */
    size_t nlines;     /* entries used in lines */
    size_t caplines;   /* entries allocated in lines */
    s_nodeline_t *map; /* node -> line, sorted by node */
    size_t nmap;       /* entries in map */
    char *err;         /* caller's message buffer (may be NULL) */
    size_t errlen;     /* size of err */
} s_ctx_t;

/* Writes "name:line: path: problem" into the caller's buffer. Returns
 * HB_CONFIG so callers can `return s_fail(...)`. */
__attribute__((format(printf, 4, 5))) static hb_rc_t
s_fail(s_ctx_t *ctx, int line, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ctx->err && ctx->errlen > 0)
        snprintf(ctx->err, ctx->errlen, "%s:%d: %s: %s", ctx->name, line, path, msg);
    hb_warn("config rejected: %s:%d: %s: %s", ctx->name, line, path, msg);
    return HB_CONFIG;
}

static int
s_map_cmp(const void *a, const void *b)
{
    uintptr_t x = ((const s_nodeline_t *)a)->node;
    uintptr_t y = ((const s_nodeline_t *)b)->node;
    return x < y ? -1 : x > y;
}

/* Returns the line of a node of the parsed tree (0 if unknown: a bug). */
static int
s_line(const s_ctx_t *ctx, zconfig_t *node)
{
    s_nodeline_t key = {.node = (uintptr_t)node, .line = 0};
    s_nodeline_t *hit = bsearch(&key, ctx->map, ctx->nmap, sizeof *ctx->map, s_map_cmp);
    return hit ? hit->line : 0;
}

/* Walks the tree in pre-order, pairing each node with the next recorded
 * line. Returns false when the counts disagree (scanner/zconfig mismatch). */
static bool
s_map_walk(s_ctx_t *ctx, zconfig_t *node)
{
    for (zconfig_t *c = zconfig_child(node); c; c = zconfig_next(c)) {
        if (ctx->nmap >= ctx->nlines)
            return false;
        ctx->map[ctx->nmap].node = (uintptr_t)c;
        ctx->map[ctx->nmap].line = ctx->lines[ctx->nmap];
        ctx->nmap++;
        if (!s_map_walk(ctx, c))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Scanner: zconfig's grammar, with line numbers                        */
/* ------------------------------------------------------------------ */

/* The name characters zconfig accepts. */
static bool
s_is_namechar(char c)
{
    return isalnum((unsigned char)c) || c == '$' || c == '-' || c == '_' || c == '@' ||
           c == '.' || c == '&' || c == '+' || c == '/';
}

/* Returns the index of the first character in s[i..end) that is neither
 * whitespace nor the start of a comment, or end when there is none. */
static size_t
s_junk(const char *s, size_t i, size_t end)
{
    for (; i < end; i++) {
        if (s[i] == '#')
            return end;
        if (!isspace((unsigned char)s[i]))
            return i;
    }
    return end;
}

static void
s_lines_push(s_ctx_t *ctx, int line)
{
    HB_GROW(ctx->lines, ctx->caplines, ctx->nlines + 1, 64);
    ctx->lines[ctx->nlines++] = line;
}

/* Checks the syntax of text and records the line of every named node.
 * Returns HB_OK or HB_CONFIG with the message in ctx. */
static hb_rc_t
s_scan(s_ctx_t *ctx, const char *text)
{
    /* paths[l] = key path of the latest node at level l (for messages) */
    char paths[S_SCAN_DEPTH][S_PATH_LEN];
    char path[S_PATH_LEN];
    int prev_level = -1;
    int nslots = 0;
    int nsqlf = 0;
    int lineno = 0;
    const char *p = text;

    memset(paths, 0, sizeof paths);
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *next = eol ? eol + 1 : p + len;
        lineno++;

        size_t end = len;
        while (end > 0 && isspace((unsigned char)p[end - 1]))
            end--;

        size_t i = 0;
        while (i < end && p[i] == ' ')
            i++;
        /* A misindented line is named as if indented to the next level. */
        int level = (int)((i + 3) / 4);
        /* Path of the parent this line would hang under, for messages. */
        const char *parent = "";
        int plevel = level - 1 <= prev_level ? level - 1 : prev_level;
        if (plevel >= 0)
            parent = paths[plevel < S_SCAN_DEPTH ? plevel : S_SCAN_DEPTH - 1];

        size_t ns = i;
        while (i < end && s_is_namechar(p[i]))
            i++;
        size_t nlen = i - ns;
        if (nlen > 0) {
            int shown = nlen > 100 ? 100 : (int)nlen;
            snprintf(path, sizeof path, "%s%s%.*s", parent, *parent ? "/" : "", shown,
                     p + ns);
            if (level == 0 && nlen == 4 && memcmp(p + ns, "slot", 4) == 0)
                snprintf(path, sizeof path, "slot[%d]", nslots);
            if (level == 0 && nlen == 8 && memcmp(p + ns, "sqlfront", 8) == 0)
                snprintf(path, sizeof path, "sqlfront[%d]", nsqlf);
        } else
            snprintf(path, sizeof path, "%s", *parent ? parent : "(top level)");

        if (len > S_LINE_MAX)
            return s_fail(ctx, lineno, path, "syntax error: line longer than %d bytes",
                          S_LINE_MAX);
        if (ns % 4 != 0)
            return s_fail(ctx, lineno, path,
                          "syntax error: indentation must be a multiple of 4 spaces");
        level = (int)(ns / 4);
        if (nlen == 0) {
            size_t j = s_junk(p, i, end);
            if (j < end && memchr(p + i, '\t', j - i))
                return s_fail(ctx, lineno, path,
                              "syntax error: tab in indentation (indent by 4 spaces)");
            if (j < end)
                return s_fail(ctx, lineno, path, "syntax error: unexpected '%c'", p[j]);
            p = next;
            continue;
        }
        if (p[ns] == '/' || p[i - 1] == '/')
            return s_fail(ctx, lineno, path,
                          "syntax error: '/' at start or end of a name");

        while (i < end && isspace((unsigned char)p[i]))
            i++;
        if (i < end && p[i] == '=') {
            i++;
            while (i < end && isspace((unsigned char)p[i]))
                i++;
            if (i < end && (p[i] == '"' || p[i] == '\'')) {
                const char *close = memchr(p + i + 1, p[i], end - i - 1);
                if (!close)
                    return s_fail(ctx, lineno, path, "syntax error: missing closing %c",
                                  p[i]);
                size_t after = (size_t)(close - p) + 1;
                if (s_junk(p, after, end) < end)
                    return s_fail(ctx, lineno, path,
                                  "syntax error: unexpected text after quoted value");
            }
        } else if (s_junk(p, i, end) < end)
            return s_fail(ctx, lineno, path,
                          "syntax error: expected '=' or end of line, found '%c'",
                          p[s_junk(p, i, end)]);
        if (level > prev_level + 1)
            return s_fail(ctx, lineno, path,
                          "syntax error: indented more than one level below its parent");

        if (level == 0 && strncmp(path, "slot[", 5) == 0)
            nslots++;
        if (level == 0 && strncmp(path, "sqlfront[", 9) == 0)
            nsqlf++;
        if (level < S_SCAN_DEPTH)
            memcpy(paths[level], path, sizeof path);
        prev_level = level;
        s_lines_push(ctx, lineno);
        p = next;
    }
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Value checks                                                         */
/* ------------------------------------------------------------------ */

/* Parses a plain decimal integer in min..max. */
static hb_rc_t
s_int(s_ctx_t *ctx, zconfig_t *node, const char *path, int64_t min, int64_t max,
      int64_t *out)
{
    const char *v = zconfig_value(node);
    int line = s_line(ctx, node);
    if (!v || !*v)
        return s_fail(ctx, line, path,
                      "missing value (expected an integer %" PRId64 "..%" PRId64 ")", min,
                      max);
    const char *d = v[0] == '-' ? v + 1 : v;
    size_t nd = strspn(d, "0123456789");
    if (nd == 0 || d[nd] != '\0')
        return s_fail(ctx, line, path, "'%.64s' is not a decimal integer", v);
    errno = 0;
    long long n = nd > 18 ? 0 : strtoll(v, NULL, 10);
    if (nd > 18 || errno == ERANGE || n < min || n > max)
        return s_fail(ctx, line, path, "%.64s is out of range %" PRId64 "..%" PRId64, v,
                      min, max);
    *out = n;
    return HB_OK;
}

/* Returns true if s is 1..maxlen characters of [A-Za-z0-9_-]. */
static bool
s_is_name(const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    return n >= 1 && n <= maxlen &&
           strspn(s,
                  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
               n;
}

/* Returns true if s is an identifier: [A-Za-z_][A-Za-z0-9_]*, 1..maxlen. */
static bool
s_is_ident(const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    if (n < 1 || n > maxlen || isdigit((unsigned char)s[0]))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
           n;
}

static hb_rc_t
s_endpoint(s_ctx_t *ctx, zconfig_t *node, const char *path, char *out)
{
    const char *v = zconfig_value(node);
    int line = s_line(ctx, node);
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    if (!v || !*v)
        return s_fail(ctx, line, path, "missing endpoint");
    size_t n = strlen(v);
    if (n >= HB_ENDPOINT_MAX)
        return s_fail(ctx, line, path, "endpoint is %zu bytes, longer than %d", n,
                      HB_ENDPOINT_MAX - 1);
    bool ok = false;
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        size_t sl = strlen(schemes[i]);
        if (strncmp(v, schemes[i], sl) == 0 && v[sl] != '\0')
            ok = true;
    }
    if (!ok)
        return s_fail(ctx, line, path,
                      "'%.64s' is not an endpoint (tcp://, ipc:// or inproc://)", v);
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)v[i]))
            return s_fail(ctx, line, path, "endpoint '%.64s' contains whitespace", v);
    memcpy(out, v, n + 1);
    return HB_OK;
}

/* Fails if node has children: keys take no sub-keys. */
static hb_rc_t
s_leaf(s_ctx_t *ctx, zconfig_t *node, const char *path)
{
    zconfig_t *c = zconfig_child(node);
    if (!c)
        return HB_OK;
    char sub[S_PATH_LEN];
    snprintf(sub, sizeof sub, "%s/%.64s", path, zconfig_name(c));
    return s_fail(ctx, s_line(ctx, c), sub, "unknown key (%.64s takes no sub-keys)",
                  zconfig_name(node));
}

/* Fails if a section line carries a value ("cluster = x"). */
static hb_rc_t
s_section(s_ctx_t *ctx, zconfig_t *node, const char *path)
{
    const char *v = zconfig_value(node);
    if (v && *v)
        return s_fail(ctx, s_line(ctx, node), path,
                      "a section takes no value (got '%.64s')", v);
    return HB_OK;
}

/* Finds key among names; returns its index or -1. */
static int
s_key_index(const char *const *names, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], key) == 0)
            return (int)i;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Sections                                                             */
/* ------------------------------------------------------------------ */

enum {
    C_NAME,
    C_REPLICAS,
    C_PARTITIONS,
    C_EPOCH_MS,
    C_POLICY,
    C_DATA_DIR,
    C_LOG_LEVEL,
    C_HEARTBEAT_MS,
    C_ELECTION_TIMEOUT_MS,
    C_DEDUP_WINDOW,
    C_N
};
static const char *const s_cluster_keys[C_N] = {
    "name",        "replicas",     "partitions",
    "epoch_ms",    "policy",       "data_dir",
    "log_level",   "heartbeat_ms", "election_timeout_ms",
    "dedup_window"};

static hb_rc_t
s_cluster(s_ctx_t *ctx, zconfig_t *sec, hb_config_t *cfg)
{
    zconfig_t *seen[C_N] = {0};
    char path[S_PATH_LEN];
    hb_rc_t rc = s_section(ctx, sec, "cluster");
    if (rc)
        return rc;
    for (zconfig_t *c = zconfig_child(sec); c; c = zconfig_next(c)) {
        const char *key = zconfig_name(c);
        snprintf(path, sizeof path, "cluster/%.64s", key);
        int k = s_key_index(s_cluster_keys, C_N, key);
        if (k < 0)
            return s_fail(ctx, s_line(ctx, c), path, "unknown key");
        if (seen[k])
            return s_fail(ctx, s_line(ctx, c), path, "duplicate key (first at line %d)",
                          s_line(ctx, seen[k]));
        seen[k] = c;
        if ((rc = s_leaf(ctx, c, path)))
            return rc;
        const char *v = zconfig_value(c);
        int line = s_line(ctx, c);
        int64_t n = 0;
        switch (k) {
        case C_NAME:
            if (!s_is_name(v, sizeof cfg->name - 1))
                return s_fail(ctx, line, path,
                              "'%.64s' is not a valid name (1..63 of A-Z a-z 0-9 _ -)",
                              v);
            snprintf(cfg->name, sizeof cfg->name, "%s", v);
            break;
        case C_REPLICAS:
            if ((rc = s_int(ctx, c, path, 1, 9, &n)))
                return rc;
            cfg->replicas = (uint16_t)n;
            break;
        case C_PARTITIONS:
            if ((rc = s_int(ctx, c, path, 1, 1024, &n)))
                return rc;
            cfg->partitions = (uint16_t)n;
            break;
        case C_EPOCH_MS:
            if ((rc = s_int(ctx, c, path, 1, 10000, &n)))
                return rc;
            cfg->epoch_ms = (uint32_t)n;
            break;
        case C_HEARTBEAT_MS:
            if ((rc = s_int(ctx, c, path, 1, 10000, &n)))
                return rc;
            cfg->heartbeat_ms = (uint32_t)n;
            break;
        case C_ELECTION_TIMEOUT_MS:
            if ((rc = s_int(ctx, c, path, 2, 60000, &n)))
                return rc;
            cfg->election_timeout_ms = (uint32_t)n;
            break;
        case C_DEDUP_WINDOW:
            if ((rc = s_int(ctx, c, path, 1, 1000000, &n)))
                return rc;
            cfg->dedup_window = (uint32_t)n;
            break;
        case C_POLICY:
            /* A name ("calvin") or the path of an out-of-tree policy
             * (anything with a '/' or ending in .so); the scheduler checks
             * that it exists and has the right ABI. */
            if (!(s_is_ident(v, 63) ||
                  ((strchr(v, '/') ||
                    (strlen(v) > 3 && !strcmp(v + strlen(v) - 3, ".so"))) &&
                   strlen(v) < sizeof cfg->policy)))
                return s_fail(ctx, line, path,
                              "'%.64s' is not a policy name (identifier of 1..63 chars) "
                              "or a path to a policy .so",
                              v);
            snprintf(cfg->policy, sizeof cfg->policy, "%s", v);
            break;
        case C_DATA_DIR:
            if (!*v)
                return s_fail(ctx, line, path, "missing value (a directory)");
            if (strlen(v) >= sizeof cfg->data_dir - 64)
                return s_fail(ctx, line, path, "path longer than %zu bytes",
                              sizeof cfg->data_dir - 65);
            snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", v);
            break;
        case C_LOG_LEVEL:
            if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") &&
                strcmp(v, "error"))
                return s_fail(ctx, line, path,
                              "'%.64s' is not a log level (debug, info, warn, error)", v);
            snprintf(cfg->log_level, sizeof cfg->log_level, "%s", v);
            break;
        }
    }
    if (!seen[C_REPLICAS])
        return s_fail(ctx, s_line(ctx, sec), "cluster/replicas",
                      "missing required key (1..9)");
    if (!seen[C_PARTITIONS])
        return s_fail(ctx, s_line(ctx, sec), "cluster/partitions",
                      "missing required key (1..1024)");
    if (!seen[C_DATA_DIR])
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "data/%s", cfg->name);
    return HB_OK;
}

typedef struct {
    const char *key; /* key name in the limits section */
    size_t off;      /* offset of its field in hb_limits_t */
    uint32_t min;    /* smallest accepted value */
    uint32_t max;    /* largest accepted value */
} s_limit_def_t;

#define S_LIMIT(f, lo, hi)                                                               \
    {                                                                                    \
#f, offsetof(hb_limits_t, f), lo, hi                                             \
    }
static const s_limit_def_t s_limit_defs[] = {
    S_LIMIT(max_frame_bytes, 1024, 1073741824),
    S_LIMIT(max_args, 1, 65535),
    S_LIMIT(max_locks, 1, 1000000),
    S_LIMIT(max_key_bytes, 16, HB_KEY_MAX),
    S_LIMIT(max_value_bytes, 16, 1073741824),
    S_LIMIT(max_batch_txns, 1, 10000000),
    S_LIMIT(max_inflight, 1, 10000000),
};
#define S_NLIMITS (sizeof s_limit_defs / sizeof *s_limit_defs)

static hb_rc_t
s_limits(s_ctx_t *ctx, zconfig_t *sec, hb_limits_t *lim)
{
    zconfig_t *seen[S_NLIMITS] = {0};
    char path[S_PATH_LEN];
    hb_rc_t rc = s_section(ctx, sec, "limits");
    if (rc)
        return rc;
    for (zconfig_t *c = zconfig_child(sec); c; c = zconfig_next(c)) {
        const char *key = zconfig_name(c);
        snprintf(path, sizeof path, "limits/%.64s", key);
        int k = -1;
        for (size_t i = 0; i < S_NLIMITS; i++)
            if (strcmp(s_limit_defs[i].key, key) == 0)
                k = (int)i;
        if (k < 0)
            return s_fail(ctx, s_line(ctx, c), path, "unknown key");
        if (seen[k])
            return s_fail(ctx, s_line(ctx, c), path, "duplicate key (first at line %d)",
                          s_line(ctx, seen[k]));
        seen[k] = c;
        if ((rc = s_leaf(ctx, c, path)))
            return rc;
        int64_t n = 0;
        if ((rc = s_int(ctx, c, path, s_limit_defs[k].min, s_limit_defs[k].max, &n)))
            return rc;
        uint32_t u = (uint32_t)n;
        memcpy((char *)lim + s_limit_defs[k].off, &u, sizeof u);
    }
    if (lim->max_value_bytes > lim->max_frame_bytes) {
        /* Blame the key the user wrote; max_value_bytes if both. */
        size_t vi = 4, fi = 0;
        if (seen[vi])
            return s_fail(ctx, s_line(ctx, seen[vi]), "limits/max_value_bytes",
                          "%" PRIu32 " is out of range 16..%" PRIu32 " (max_frame_bytes)",
                          lim->max_value_bytes, lim->max_frame_bytes);
        return s_fail(ctx, s_line(ctx, seen[fi]), "limits/max_frame_bytes",
                      "%" PRIu32 " is less than max_value_bytes (%" PRIu32
                      ", its default)",
                      lim->max_frame_bytes, lim->max_value_bytes);
    }
    return HB_OK;
}

enum { S_REPLICA, S_PARTITION, S_SEQUENCER, S_SCHEDULER, S_STORAGE, S_N };
static const char *const s_slot_keys[S_N] = {"replica", "partition", "sequencer",
                                             "scheduler", "storage"};

typedef struct {
    char path[S_PATH_LEN]; /* "slot[2]/storage" */
    int line;              /* its line */
} s_epuse_t;

/* Records that the endpoint of node c (key path `path`) is taken; fails if
 * another process of the file already uses it. */
static hb_rc_t
s_endpoint_claim(s_ctx_t *ctx, zconfig_t *c, const char *path, zhashx_t *endpoints,
                 s_epuse_t *uses, size_t *nuses)
{
    s_epuse_t *u = &uses[*nuses];
    snprintf(u->path, sizeof u->path, "%s", path);
    u->line = s_line(ctx, c);
    const char *ep = zconfig_value(c);
    s_epuse_t *prev = zhashx_lookup(endpoints, ep);
    if (prev)
        return s_fail(ctx, u->line, path,
                      "endpoint %.128s is already used by %s (line %d)", ep, prev->path,
                      prev->line);
    zhashx_insert(endpoints, ep, u);
    (*nuses)++;
    return HB_OK;
}

/* Checks key c of section spath against keys[nkeys]: known, not seen
 * before (seen[] remembers), a leaf. Writes its path (S_PATH_LEN bytes)
 * and returns HB_OK with its index in *k, or the error. */
static hb_rc_t
s_section_key(s_ctx_t *ctx, zconfig_t *c, const char *spath, const char *const *keys,
              int nkeys, zconfig_t **seen, char *path, int *k)
{
    const char *key = zconfig_name(c);
    snprintf(path, S_PATH_LEN, "%s/%.64s", spath, key);
    *k = s_key_index(keys, nkeys, key);
    if (*k < 0)
        return s_fail(ctx, s_line(ctx, c), path, "unknown key");
    if (seen[*k])
        return s_fail(ctx, s_line(ctx, c), path, "duplicate key (first at line %d)",
                      s_line(ctx, seen[*k]));
    seen[*k] = c;
    return s_leaf(ctx, c, path);
}

/* Fails on the first of keys[nkeys] that section sec (path spath) lacks. */
static hb_rc_t
s_section_complete(s_ctx_t *ctx, zconfig_t *sec, const char *spath,
                   const char *const *keys, int nkeys, zconfig_t *const *seen)
{
    for (int k = 0; k < nkeys; k++)
        if (!seen[k]) {
            char path[S_PATH_LEN];
            snprintf(path, sizeof path, "%s/%s", spath, keys[k]);
            return s_fail(ctx, s_line(ctx, sec), path, "missing required key");
        }
    return HB_OK;
}

/* Validates one slot section (index idx in document order) and stores it.
 * first_line[r*P+p] holds the line of the slot that defined (r,p) or 0. */
static hb_rc_t
s_slot(s_ctx_t *ctx, zconfig_t *sec, int idx, hb_config_t *cfg, int *first_line,
       zhashx_t *endpoints, s_epuse_t *uses, size_t *nuses)
{
    zconfig_t *seen[S_N] = {0};
    char spath[32];
    char path[S_PATH_LEN];
    hb_slot_cfg_t s;
    int64_t r = 0, p = 0;
    hb_rc_t rc;

    memset(&s, 0, sizeof s);
    snprintf(spath, sizeof spath, "slot[%d]", idx);
    if ((rc = s_section(ctx, sec, spath)))
        return rc;
    for (zconfig_t *c = zconfig_child(sec); c; c = zconfig_next(c)) {
        int k;
        if ((rc = s_section_key(ctx, c, spath, s_slot_keys, S_N, seen, path, &k)))
            return rc;
        switch (k) {
        case S_REPLICA:
            rc = s_int(ctx, c, path, 0, cfg->replicas - 1, &r);
            break;
        case S_PARTITION:
            rc = s_int(ctx, c, path, 0, cfg->partitions - 1, &p);
            break;
        case S_SEQUENCER:
            rc = s_endpoint(ctx, c, path, s.sequencer);
            break;
        case S_SCHEDULER:
            rc = s_endpoint(ctx, c, path, s.scheduler);
            break;
        case S_STORAGE:
            rc = s_endpoint(ctx, c, path, s.storage);
            break;
        }
        if (rc)
            return rc;
        if (k >= S_SEQUENCER &&
            (rc = s_endpoint_claim(ctx, c, path, endpoints, uses, nuses)))
            return rc;
    }
    if ((rc = s_section_complete(ctx, sec, spath, s_slot_keys, S_N, seen)))
        return rc;
    size_t at = (size_t)r * cfg->partitions + (size_t)p;
    if (first_line[at])
        return s_fail(ctx, s_line(ctx, sec), spath,
                      "duplicate slot replica %" PRId64 " partition %" PRId64
                      " (first at line %d)",
                      r, p, first_line[at]);
    first_line[at] = s_line(ctx, sec);
    s.replica = (uint16_t)r;
    s.partition = (uint16_t)p;
    cfg->slots[at] = s;
    return HB_OK;
}

enum {
    F_ID,
    F_REPLICA,
    F_ENDPOINT,
    F_REQUIRED,
    F_PG_LISTEN = F_REQUIRED,
    F_PG_AUTH,
    F_PG_USERS,
    F_PG_MAX_CONN,
    F_PG_AUTH_TIMEOUT,
    F_PG_SESSION_MEM,
    F_N
};
static const char *const s_sqlfront_keys[F_N] = {"id",
                                                 "replica",
                                                 "endpoint",
                                                 "pg_listen",
                                                 "pg_auth",
                                                 "pg_users",
                                                 "pg_max_connections",
                                                 "pg_auth_timeout_ms",
                                                 "pg_session_memory"};

/* Parses "host:port" (IPv4 dotted quad or a name, port 1..65535) or "off"
 * for pg_listen into out ("" for off). */
static hb_rc_t
s_hostport(s_ctx_t *ctx, zconfig_t *node, const char *path, char *out)
{
    const char *v = zconfig_value(node);
    int line = s_line(ctx, node);
    if (!v || !*v)
        return s_fail(ctx, line, path, "missing value (expected host:port or off)");
    if (strcmp(v, "off") == 0) {
        out[0] = '\0';
        return HB_OK;
    }
    const char *colon = strrchr(v, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == v || !end || *end || port < 1 || port > 65535 ||
        strlen(v) >= HB_ENDPOINT_MAX || strpbrk(v, " \t"))
        return s_fail(ctx, line, path, "'%.64s' is not host:port (or off)", v);
    snprintf(out, HB_ENDPOINT_MAX, "%s", v);
    return HB_OK;
}

/* Validates one sqlfront section (index idx in document order) and appends
 * it to cfg->sqlfronts. id_line[id] holds the line of the id key that
 * claimed id, or 0. */
static hb_rc_t
s_sqlfront(s_ctx_t *ctx, zconfig_t *sec, int idx, hb_config_t *cfg, int *id_line,
           zhashx_t *endpoints, s_epuse_t *uses, size_t *nuses)
{
    zconfig_t *seen[F_N] = {0};
    char spath[32];
    char path[S_PATH_LEN];
    hb_sqlfront_cfg_t f;
    int64_t id = 0, r = 0;
    hb_rc_t rc;

    memset(&f, 0, sizeof f);
    f.pg_auth = HB_PG_AUTH_TRUST;
    f.pg_max_connections = 100;
    f.pg_auth_timeout_ms = 10000;
    f.pg_session_memory = 64u << 20;
    int64_t n = 0;
    snprintf(spath, sizeof spath, "sqlfront[%d]", idx);
    if ((rc = s_section(ctx, sec, spath)))
        return rc;
    for (zconfig_t *c = zconfig_child(sec); c; c = zconfig_next(c)) {
        int k;
        if ((rc = s_section_key(ctx, c, spath, s_sqlfront_keys, F_N, seen, path, &k)))
            return rc;
        switch (k) {
        case F_ID:
            if ((rc = s_int(ctx, c, path, 0, HB_SQLFRONT_MAX - 1, &id)))
                return rc;
            if (id_line[id])
                return s_fail(ctx, s_line(ctx, c), path,
                              "duplicate sqlfront id %" PRId64 " (first at line %d)", id,
                              id_line[id]);
            id_line[id] = s_line(ctx, c);
            break;
        case F_REPLICA:
            rc = s_int(ctx, c, path, 0, cfg->replicas - 1, &r);
            break;
        case F_ENDPOINT:
            if ((rc = s_endpoint(ctx, c, path, f.endpoint)))
                return rc;
            rc = s_endpoint_claim(ctx, c, path, endpoints, uses, nuses);
            break;
        case F_PG_LISTEN:
            rc = s_hostport(ctx, c, path, f.pg_listen);
            break;
        case F_PG_AUTH: {
            static const char *const m[] = {"trust", "password", "md5", "scram-sha-256"};
            const char *v = zconfig_value(c);
            int i = 0;
            while (i < 4 && (!v || strcmp(v, m[i]) != 0))
                i++;
            if (i == 4)
                rc = s_fail(ctx, s_line(ctx, c), path,
                            "'%.64s' is not trust, password, md5 or scram-sha-256",
                            v ? v : "");
            f.pg_auth = i;
            break;
        }
        case F_PG_USERS: {
            const char *v = zconfig_value(c);
            if (!v || strlen(v) >= sizeof f.pg_users)
                rc = s_fail(ctx, s_line(ctx, c), path,
                            "expected at most %zu bytes of "
                            "name:secret pairs",
                            sizeof f.pg_users - 1);
            else
                snprintf(f.pg_users, sizeof f.pg_users, "%s", v);
            break;
        }
        case F_PG_MAX_CONN:
            rc = s_int(ctx, c, path, 1, 10000, &n);
            f.pg_max_connections = (uint32_t)n;
            break;
        case F_PG_AUTH_TIMEOUT:
            rc = s_int(ctx, c, path, 10, 3600000, &n);
            f.pg_auth_timeout_ms = (uint32_t)n;
            break;
        case F_PG_SESSION_MEM:
            rc = s_int(ctx, c, path, 65536, (int64_t)1 << 40, &n);
            f.pg_session_memory = (uint64_t)n;
            break;
        }
        if (rc)
            return rc;
    }
    if ((rc = s_section_complete(ctx, sec, spath, s_sqlfront_keys, F_REQUIRED, seen)))
        return rc;
    if (!seen[F_PG_LISTEN])
        snprintf(f.pg_listen, sizeof f.pg_listen, "127.0.0.1:%d", 5433 + (int)id);
    f.id = (uint16_t)id;
    f.replica = (uint16_t)r;
    cfg->sqlfronts[cfg->nsqlfronts++] = f;
    return HB_OK;
}

/* Validates the whole tree into cfg. */
static hb_rc_t
s_validate(s_ctx_t *ctx, zconfig_t *root, hb_config_t *cfg)
{
    zconfig_t *cluster = NULL, *limits = NULL;
    int *first_line = NULL;
    s_epuse_t *uses = NULL;
    size_t nuses = 0;
    zhashx_t *endpoints = NULL;
    hb_rc_t rc = HB_OK;
    int nslots = 0, nsqlf = 0;
    int id_line[HB_SQLFRONT_MAX] = {0};

    for (zconfig_t *c = zconfig_child(root); c; c = zconfig_next(c)) {
        const char *name = zconfig_name(c);
        zconfig_t **slot = NULL;
        if (strcmp(name, "cluster") == 0)
            slot = &cluster;
        else if (strcmp(name, "limits") == 0)
            slot = &limits;
        else if (strcmp(name, "slot") == 0) {
            nslots++;
            continue;
        } else if (strcmp(name, "sqlfront") == 0) {
            /* Ids are unique in 0..63, so more sections than that must
             * repeat one: s_sqlfront reports which. */
            nsqlf++;
            continue;
        } else
            return s_fail(ctx, s_line(ctx, c), name,
                          "unknown section (expected cluster, limits, slot or sqlfront)");
        if (*slot)
            return s_fail(ctx, s_line(ctx, c), name,
                          "duplicate section (first at line %d)", s_line(ctx, *slot));
        *slot = c;
    }
    if (!cluster)
        return s_fail(ctx, 1, "cluster", "missing required section");
    if ((rc = s_cluster(ctx, cluster, cfg)))
        return rc;
    if (cfg->election_timeout_ms < 2 * cfg->heartbeat_ms)
        return s_fail(ctx, s_line(ctx, cluster), "cluster/election_timeout_ms",
                      "%u must be at least twice heartbeat_ms (%u)",
                      cfg->election_timeout_ms, cfg->heartbeat_ms);
    if (limits && (rc = s_limits(ctx, limits, &cfg->limits)))
        return rc;

    size_t nslot_cfg = (size_t)cfg->replicas * cfg->partitions;
    cfg->slots = hb_calloc(nslot_cfg, sizeof *cfg->slots);
    first_line = hb_calloc(nslot_cfg, sizeof *first_line);
    uses = hb_calloc((size_t)nslots * 3 + (size_t)nsqlf + 1, sizeof *uses);
    if (nsqlf)
        cfg->sqlfronts = hb_calloc((size_t)nsqlf, sizeof *cfg->sqlfronts);
    endpoints = zhashx_new();
    if (!endpoints) {
        rc = s_fail(ctx, 1, "slot", "out of memory");
        goto out;
    }
    /* Slots and sqlfronts in file order, so a reused endpoint is blamed on
     * its later use. */
    int idx = 0, fidx = 0;
    for (zconfig_t *c = zconfig_child(root); c; c = zconfig_next(c)) {
        if (strcmp(zconfig_name(c), "slot") == 0)
            rc = s_slot(ctx, c, idx++, cfg, first_line, endpoints, uses, &nuses);
        else if (strcmp(zconfig_name(c), "sqlfront") == 0)
            rc = s_sqlfront(ctx, c, fidx++, cfg, id_line, endpoints, uses, &nuses);
        if (rc)
            goto out;
    }
    for (uint16_t r = 0; r < cfg->replicas; r++)
        for (uint16_t p = 0; p < cfg->partitions; p++)
            if (!first_line[(size_t)r * cfg->partitions + p]) {
                rc = s_fail(ctx, s_line(ctx, cluster), "slot",
                            "missing slot replica %u partition %u (cluster has %u "
                            "replicas x %u partitions)",
                            r, p, cfg->replicas, cfg->partitions);
                goto out;
            }
out:
    zhashx_destroy(&endpoints);
    hb_free(uses);
    hb_free(first_line);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */
/* ------------------------------------------------------------------ */

hb_rc_t
hb_config_parse(const char *text, const char *name, hb_config_t **out, char *err,
                size_t errlen)
{
    s_ctx_t ctx = {.name = name ? name : "(config)", .err = err, .errlen = errlen};
    hb_config_t *cfg = NULL;
    zconfig_t *root = NULL;
    hb_rc_t rc;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!text) {
        rc = s_fail(&ctx, 0, "(config)", "no text");
        goto out;
    }
    if ((rc = s_scan(&ctx, text)))
        goto out;
    root = zconfig_str_load(text);
    if (!root) {
        rc = s_fail(&ctx, 1, "(config)", "syntax error (rejected by zconfig)");
        goto out;
    }
    ctx.map = hb_calloc(ctx.nlines + 1, sizeof *ctx.map);
    if (!s_map_walk(&ctx, root) || ctx.nmap != ctx.nlines) {
        rc =
            s_fail(&ctx, 1, "(config)", "internal error: line index does not match tree");
        goto out;
    }
    qsort(ctx.map, ctx.nmap, sizeof *ctx.map, s_map_cmp);

    cfg = hb_calloc(1, sizeof *cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", ctx.name);
    snprintf(cfg->name, sizeof cfg->name, "hobbes");
    cfg->epoch_ms = 10;
    cfg->heartbeat_ms = 20;
    cfg->election_timeout_ms = 150;
    cfg->dedup_window = 3000;
    snprintf(cfg->policy, sizeof cfg->policy, "calvin");
    snprintf(cfg->log_level, sizeof cfg->log_level, "info");
    cfg->limits = HB_LIMITS_DEFAULT;
    if ((rc = s_validate(&ctx, root, cfg)))
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    hb_config_destroy(&cfg);
    zconfig_destroy(&root);
    hb_free(ctx.map);
    hb_free(ctx.lines);
    return rc;
}

hb_rc_t
hb_config_load(const char *path, hb_config_t **out, char *err, size_t errlen)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    hb_rc_t rc = HB_OK;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    f = fopen(path, "rb");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        hb_warn("config %s: cannot open: %s", path, strerror(errno));
        rc = HB_IO;
        goto out;
    }
    for (;;) {
        HB_GROW(text, cap, len + 4096 + 1, 8192);
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (len > S_FILE_MAX) {
            if (err && errlen)
                snprintf(err, errlen, "%s: file larger than %u bytes", path, S_FILE_MAX);
            rc = HB_CONFIG;
            goto out;
        }
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = HB_IO;
        goto out;
    }
    text[len] = '\0';
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        if (err && errlen)
            snprintf(err, errlen, "%s:%d: (config): syntax error: NUL byte", path, line);
        rc = HB_CONFIG;
        goto out;
    }
    rc = hb_config_parse(text, path, out, err, errlen);
out:
    if (f)
        fclose(f);
    hb_free(text);
    return rc;
}

void
hb_config_destroy(hb_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_free((*self_p)->slots);
    hb_free((*self_p)->sqlfronts);
    hb_free(*self_p);
    *self_p = NULL;
}

const hb_slot_cfg_t *
hb_config_slot(const hb_config_t *cfg, uint16_t replica, uint16_t partition)
{
    if (!cfg || !cfg->slots || replica >= cfg->replicas || partition >= cfg->partitions)
        return NULL;
    return &cfg->slots[(size_t)replica * cfg->partitions + partition];
}

const hb_sqlfront_cfg_t *
hb_config_sqlfront(const hb_config_t *cfg, uint16_t id)
{
    if (!cfg)
        return NULL;
    for (uint16_t i = 0; i < cfg->nsqlfronts; i++)
        if (cfg->sqlfronts[i].id == id)
            return &cfg->sqlfronts[i];
    return NULL;
}

const char *
hb_config_endpoint(const hb_config_t *cfg, hb_node_t node)
{
    if (node.role == HB_ROLE_SQLFRONT) {
        const hb_sqlfront_cfg_t *f = hb_config_sqlfront(cfg, node.partition);
        return f ? f->endpoint : NULL;
    }
    const hb_slot_cfg_t *s = hb_config_slot(cfg, node.replica, node.partition);
    if (!s)
        return NULL;
    switch (node.role) {
    case HB_ROLE_SEQUENCER:
        return s->sequencer;
    case HB_ROLE_SCHEDULER:
        return s->scheduler;
    case HB_ROLE_STORAGE:
        return s->storage;
    default:
        return NULL;
    }
}

void
hb_config_node_dir(const hb_config_t *cfg, const char *data_override, hb_node_t node,
                   char *out, size_t outlen)
{
    static const char *const roles[] = {"client", "sequencer", "scheduler", "storage",
                                        "sqlfront"};
    if (!out || outlen == 0)
        return;
    if (node.role == HB_ROLE_SQLFRONT) {
        hb_config_sqlfront_dir(cfg, data_override, node.partition, out, outlen);
        return;
    }
    const char *root = data_override ? data_override : cfg ? cfg->data_dir : ".";
    const char *role =
        node.role < sizeof roles / sizeof *roles ? roles[node.role] : "node";
    snprintf(out, outlen, "%s/r%up%u/%s", root, node.replica, node.partition, role);
}

void
hb_config_sqlfront_dir(const hb_config_t *cfg, const char *data_override, uint16_t id,
                       char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    const char *root = data_override ? data_override : cfg ? cfg->data_dir : ".";
    snprintf(out, outlen, "%s/sqlf%u", root, id);
}
