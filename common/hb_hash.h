/* hb_hash.h — deterministic 64-bit hashes.
 *
 * Used for partition placement, lock tables and the incremental state hash,
 * so the results must be identical on every replica and every build: no
 * seeds from the environment, no dependence on pointer values or alignment.
 */
#ifndef HB_HASH_H
#define HB_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Returns a well-mixed 64-bit hash of len bytes at data, with seed. */
uint64_t hb_hash64(const void *data, size_t len, uint64_t seed);

/* Returns FNV-1a 64 of len bytes (YCSB's key hash). */
uint64_t hb_fnv1a64(const void *data, size_t len);

/* Returns the splitmix64 finaliser of x (a bijective 64-bit mixer). */
uint64_t hb_mix64(uint64_t x);

#endif
