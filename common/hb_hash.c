/* hb_hash.c — deterministic hashes (see hb_hash.h).
 *
 * hb_hash64 reads 8-byte little-endian words with memcpy (no alignment or
 * endianness dependence beyond the explicit byte order below), folds each
 * through a multiply-xorshift round and finishes with splitmix64.
 */
#include "hb_hash.h"

#include <string.h>

uint64_t
hb_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t
s_load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t
hb_hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (len + 1));
    while (len >= 8) {
        uint64_t k = s_load_le64(p);
        h ^= hb_mix64(k);
        h = (h << 27 | h >> 37) * 0x9fb21c651e98df25ULL;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    h ^= hb_mix64(tail ^ ((uint64_t)len << 56));
    return hb_mix64(h);
}

uint64_t
hb_fnv1a64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
