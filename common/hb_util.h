/* hb_util.h — small helpers shared by processes, tools and tests.
 *
 * hb_mkdirs creates a directory and its parents; hb_write_pidfile writes
 * the process's pid where hobbesctl looks for it; hb_xorshift is the one
 * non-cryptographic PRNG step used for workloads and tests (never inside
 * execution, which must not use randomness at all).
 */
#ifndef HB_UTIL_H
#define HB_UTIL_H

#include <stdint.h>

/* Creates path and any missing parents (mode 0755). Returns 0, or -1 with
 * errno set. */
int hb_mkdirs(const char *path);

/* Writes this process's pid and a newline to path. Returns 0, or -1 with
 * errno set. */
int hb_write_pidfile(const char *path);

/* Advances the xorshift64* state *s (must not be 0) and returns 64 bits. */
static inline uint64_t
hb_xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
