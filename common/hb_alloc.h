/* hb_alloc.h — allocation for every Hobbes process.
 *
 * Every executable links jemalloc, which replaces the C allocator, so plain
 * malloc/free already are jemalloc. These wrappers add the one policy the
 * code base wants: running out of memory on an internal structure is fatal
 * with a log line (callers of hb_malloc never see NULL). Allocations sized
 * by external input must be bounded by a limit *before* calling here.
 */
#ifndef HB_ALLOC_H
#define HB_ALLOC_H

#include <stddef.h>

/* Each returns memory the caller owns (free with hb_free); never NULL. */
void *hb_malloc(size_t size);
void *hb_calloc(size_t n, size_t size);
void *hb_realloc(void *ptr, size_t size);
char *hb_strdup(const char *s);
void *hb_memdup(const void *p, size_t size);
void hb_free(void *ptr);

/* Returns the allocator's name and version ("jemalloc 5.3.0-..."), or
 * "libc" if jemalloc is not the active allocator. Static string. */
const char *hb_alloc_name(void);

/* Bytes currently allocated by the process, from jemalloc's stats
 * (0 if unavailable). */
size_t hb_alloc_allocated(void);

#endif
