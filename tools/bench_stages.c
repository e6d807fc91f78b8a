/* bench_stages.c — the per-stage latency breakdown (see bench_stages.h). */
#include "bench_stages.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hb_config.h"
#include "hobbes.h"

/* Stages on a commit's path, in path order (others are printed after). */
static const char *const s_path[] = {
    "seq_epoch_wait",  "seq_durable", "sched_merge_wait", "sched_lock_wait",
    "stor_rread_wait", "stor_exec",   "stor_apply",       "stor_reply",
};
#define S_NPATH (sizeof s_path / sizeof s_path[0])

static bench_stage_t *
s_stage(bench_stages_t *s, const char *name, size_t len)
{
    for (unsigned i = 0; i < s->n; i++)
        if (strlen(s->st[i].name) == len && memcmp(s->st[i].name, name, len) == 0)
            return &s->st[i];
    if (s->n == BENCH_STAGES_MAX || len >= sizeof s->st[0].name)
        return NULL;
    bench_stage_t *st = &s->st[s->n++];
    memset(st, 0, sizeof *st);
    memcpy(st->name, name, len);
    return st;
}

/* Parses one process's "stage_<name>_<suffix>=value" lines into *one
 * (p50w holds the raw p50 there). */
static void
s_parse(bench_stages_t *one, const char *text)
{
    static const char *const suffix[] = {"_count", "_sum_us", "_p50_us", "_p99_us"};
    one->n = 0;
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n'), *eq = strchr(p, '=');
        if (strncmp(p, "stage_", 6) == 0 && eq && (!eol || eq < eol)) {
            const char *name = p + 6;
            uint64_t v = strtoull(eq + 1, NULL, 10);
            for (int k = 0; k < 4; k++) {
                size_t sl = strlen(suffix[k]);
                if ((size_t)(eq - name) <= sl || strncmp(eq - sl, suffix[k], sl) != 0)
                    continue;
                bench_stage_t *st = s_stage(one, name, (size_t)(eq - sl - name));
                if (st && k == 0)
                    st->count = v;
                else if (st && k == 1)
                    st->sum = v;
                else if (st && k == 2)
                    st->p50w = (double)v;
                else if (st)
                    st->p99 = v;
                break;
            }
        }
        p = eol ? eol + 1 : NULL;
    }
}

static void
s_fold(bench_stages_t *into, const bench_stages_t *one)
{
    for (unsigned i = 0; i < one->n; i++) {
        const bench_stage_t *o = &one->st[i];
        bench_stage_t *st = s_stage(into, o->name, strlen(o->name));
        if (!st)
            continue;
        st->count += o->count;
        st->sum += o->sum;
        st->p50w += o->p50w * (double)o->count;
        if (o->p99 > st->p99)
            st->p99 = o->p99;
        st->nprocs++;
    }
}

int
bench_stages_fetch(const char *config, bench_stages_t *out)
{
    memset(out, 0, sizeof *out);
    char err[256];
    hb_config_t *cfg = NULL;
    if (hb_config_load(config, &cfg, err, sizeof err) != HB_OK)
        return 0;
    hb_client_t *cl = hb_client_new_cfg(cfg, 0, err, sizeof err);
    int answered = 0;
    bench_stages_t *one = calloc(1, sizeof *one);
    for (int role = HB_ROLE_SEQUENCER; cl && role <= HB_ROLE_STORAGE; role++)
        for (uint16_t r = 0; r < cfg->replicas; r++)
            for (uint16_t p = 0; p < cfg->partitions; p++) {
                char *text = NULL;
                if (hb_client_status(cl, role, r, p, 1000, &text) != HB_OK)
                    continue;
                answered++;
                s_parse(one, text);
                s_fold(out, one);
                free(text);
            }
    free(one);
    hb_client_destroy(&cl);
    hb_config_destroy(&cfg);
    return answered;
}

static uint64_t
s_p50(const bench_stage_t *st)
{
    return st->count ? (uint64_t)(st->p50w / (double)st->count + 0.5) : 0;
}

static double
s_mean(const bench_stage_t *st)
{
    return st->count ? (double)st->sum / (double)st->count : 0.0;
}

/* Returns the mean of the path stages, the part of a commit they explain. */
static double
s_path_mean(const bench_stages_t *s)
{
    double m = 0;
    for (unsigned i = 0; i < s->n; i++)
        for (size_t k = 0; k < S_NPATH; k++)
            if (strcmp(s->st[i].name, s_path[k]) == 0)
                m += s_mean(&s->st[i]);
    return m;
}

void
bench_stages_print(FILE *f, const bench_stages_t *s, const hb_hist_t *total)
{
    fprintf(f, "stages (p50/p99 ms):");
    for (unsigned i = 0; i < s->n; i++)
        fprintf(f, " %s %.2f/%.2f", s->st[i].name, (double)s_p50(&s->st[i]) / 1000.0,
                (double)s->st[i].p99 / 1000.0);
    if (total && total->count) {
        double mean = (double)total->sum / (double)total->count;
        fprintf(f, " | client total mean %.2f ms, path stages mean %.2f ms",
                mean / 1000.0, s_path_mean(s) / 1000.0);
    }
    fprintf(f, "\n");
}

void
bench_stages_json(FILE *f, const bench_stages_t *s, const hb_hist_t *total)
{
    fprintf(f, "\"stages\": {");
    for (unsigned i = 0; i < s->n; i++) {
        const bench_stage_t *st = &s->st[i];
        fprintf(f,
                "%s\n    \"%s\": {\"count\": %" PRIu64
                ", \"mean_us\": %.1f, \"p50_us\": %" PRIu64 ", \"p99_us\": %" PRIu64
                ", \"processes\": %u}",
                i ? "," : "", st->name, st->count, s_mean(st), s_p50(st), st->p99,
                st->nprocs);
    }
    if (total) {
        fprintf(f,
                "%s\n    \"client_total\": {\"count\": %" PRIu64 ", \"mean_us\": %.1f, "
                "\"p50_us\": %" PRIu64 ", \"p99_us\": %" PRIu64 ", \"processes\": 1}",
                s->n ? "," : "", total->count,
                total->count ? (double)total->sum / (double)total->count : 0.0,
                hb_hist_quantile(total, 0.5), hb_hist_quantile(total, 0.99));
    }
    fprintf(f, "\n  }");
}
