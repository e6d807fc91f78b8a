/* tpcc_rand.c — the random inputs of hobbes-bench tpcc (clauses 2, 4.3.2).
 *
 * One small generator per terminal and per load unit, each seeded from the
 * workload seed, so a run or a load of the same seed makes the same
 * choices. On it: NURand (clause 2.1.6) with the load-time and run-time C
 * values (clause 2.1.6.1), the syllable last names and random text of the
 * load (clause 4.3.2), and what a terminal draws before each transaction
 * (clause 2): the deck of 100 that fixes the mix, the New-Order and
 * Payment inputs, a customer by id or by last name.
 *
 * Entry points: tpcc_rng_seed, tpcc_rand, tpcc_nurand, tpcc_last_name,
 * tpcc_astr, tpcc_nstr, tpcc_data50, tpcc_c_load, tpcc_c_run;
 * tpcc_shuffle_deck, tpcc_pick_customer, tpcc_gen_no, tpcc_gen_pay.
 */
#include "tpcc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_util.h"

void
tpcc_rng_seed(tpcc_rng_t *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (!r->s)
        r->s = 1;
    (void)hb_xorshift(&r->s);
}

int64_t
tpcc_rand(tpcc_rng_t *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(hb_xorshift(&r->s) % (uint64_t)(hi - lo + 1));
}

int64_t
tpcc_nurand(tpcc_rng_t *r, int a, int c, int64_t x, int64_t y)
{
    return (((tpcc_rand(r, 0, a) | tpcc_rand(r, x, y)) + c) % (y - x + 1)) + x;
}

static const char *const s_syl[10] = {"BAR", "OUGHT", "ABLE",  "PRI",   "PRES",
                                      "ESE", "ANTI",  "CALLY", "ATION", "EING"};

void
tpcc_last_name(int n, char out[20])
{
    snprintf(out, 20, "%s%s%s", s_syl[n / 100], s_syl[(n / 10) % 10], s_syl[n % 10]);
}

void
tpcc_astr(tpcc_rng_t *r, char *out, int lo, int hi)
{
    static const char cs[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    int n = (int)tpcc_rand(r, lo, hi);
    for (int i = 0; i < n; i++)
        out[i] = cs[tpcc_rand(r, 0, (int)sizeof cs - 2)];
    out[n] = 0;
}

void
tpcc_nstr(tpcc_rng_t *r, char *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)('0' + tpcc_rand(r, 0, 9));
    out[n] = 0;
}

void
tpcc_data50(tpcc_rng_t *r, char *out)
{
    tpcc_astr(r, out, 26, 50);
    if (tpcc_rand(r, 1, 10) == 1) {
        size_t n = strlen(out);
        size_t at = (size_t)tpcc_rand(r, 0, (int64_t)n - 8);
        memcpy(out + at, "ORIGINAL", 8);
    }
}

/* The C values of a load: from the workload seed, so the load can be
 * repeated (they are kept in tpcc_meta for the run). */
void
tpcc_c_load(uint64_t seed, tpcc_nurand_c_t *c)
{
    tpcc_rng_t r;
    tpcc_rng_seed(&r, seed ^ 0xC0FFEEu);
    c->c_last = (int)tpcc_rand(&r, 0, 255);
    c->c_id = (int)tpcc_rand(&r, 0, 1023);
    c->i_id = (int)tpcc_rand(&r, 0, 8191);
}

void
tpcc_c_run(uint64_t seed, int c_load, tpcc_nurand_c_t *out)
{
    tpcc_rng_t rng;
    tpcc_rng_seed(&rng, seed ^ 0xBADC0DEu);
    int c;
    for (;;) {
        c = (int)tpcc_rand(&rng, 0, 255);
        int delta = abs(c - c_load);
        if (delta >= 65 && delta <= 119 && delta != 96 && delta != 112)
            break;
    }
    out->c_last = c;
    out->c_id = (int)tpcc_rand(&rng, 0, 1023);
    out->i_id = (int)tpcc_rand(&rng, 0, 8191);
}

/* ------------------------------------------------------------------ */
/* A terminal's inputs (clause 2)                                       */
/* ------------------------------------------------------------------ */

int
tpcc_pick_customer(tpcc_term_t *t, uint32_t *c, char last[20])
{
    /* 60% by last name (clause 2.5.1.2 / 2.6.1.2). */
    if (tpcc_rand(&t->rng, 1, 100) <= 60) {
        tpcc_last_name((int)tpcc_nurand(&t->rng, 255, t->run->c_run.c_last, 0, 999),
                       last);
        *c = 0;
        return 1;
    }
    *c = (uint32_t)tpcc_nurand(&t->rng, 1023, t->run->c_run.c_id, 1, TPCC_CUST);
    last[0] = 0;
    return 0;
}

void
tpcc_gen_no(tpcc_term_t *t, tpcc_no_in_t *in)
{
    const tpcc_run_t *run = t->run;
    in->w = t->w;
    in->d = (uint32_t)tpcc_rand(&t->rng, 1, TPCC_DIST);
    in->c = (uint32_t)tpcc_nurand(&t->rng, 1023, run->c_run.c_id, 1, TPCC_CUST);
    in->n = (uint32_t)tpcc_rand(&t->rng, 5, 15);
    bool rollback = tpcc_rand(&t->rng, 1, 100) == 1;
    in->all_local = 1;
    for (uint32_t k = 0; k < in->n; k++) {
        uint32_t it;
        bool dup;
        do { /* distinct items per order */
            it = (uint32_t)tpcc_nurand(&t->rng, 8191, run->c_run.i_id, 1, TPCC_ITEMS);
            dup = false;
            for (uint32_t j = 0; j < k; j++)
                dup |= in->item[j] == it;
        } while (dup);
        in->item[k] = it;
        in->sw[k] = t->w;
        if (run->o.warehouses > 1 && tpcc_rand(&t->rng, 1, 100) == 1) {
            do
                in->sw[k] = (uint32_t)tpcc_rand(&t->rng, 1, run->o.warehouses);
            while (in->sw[k] == t->w);
            in->all_local = 0;
        }
        in->q[k] = (uint32_t)tpcc_rand(&t->rng, 1, 10);
    }
    if (rollback)
        in->item[in->n - 1] = TPCC_ITEMS + 1; /* unused: the order rolls back */
}

void
tpcc_gen_pay(tpcc_term_t *t, tpcc_pay_in_t *in)
{
    in->w = t->w;
    in->d = (uint32_t)tpcc_rand(&t->rng, 1, TPCC_DIST);
    if (t->run->o.warehouses > 1 && tpcc_rand(&t->rng, 1, 100) <= 15) {
        do
            in->cw = (uint32_t)tpcc_rand(&t->rng, 1, t->run->o.warehouses);
        while (in->cw == t->w);
        in->cd = (uint32_t)tpcc_rand(&t->rng, 1, TPCC_DIST);
    } else {
        in->cw = in->w;
        in->cd = in->d;
    }
    tpcc_pick_customer(t, &in->c, in->last);
    in->cents = tpcc_rand(&t->rng, 100, 500000);
}

/* Clause 5.2.4's minimum mix, met exactly per 100 transactions. */
void
tpcc_shuffle_deck(tpcc_term_t *t)
{
    static const int share[TPCC_NTX] = {45, 43, 4, 4, 4};
    uint32_t n = 0;
    for (int x = 0; x < TPCC_NTX; x++)
        for (int i = 0; i < share[x]; i++)
            t->deck[n++] = (uint8_t)x;
    for (uint32_t i = 99; i > 0; i--) {
        uint32_t j = (uint32_t)tpcc_rand(&t->rng, 0, i);
        uint8_t v = t->deck[i];
        t->deck[i] = t->deck[j];
        t->deck[j] = v;
    }
    t->deck_pos = 0;
}
