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
#include <string.h>

/* Each returns memory the caller owns (free with hb_free); never NULL. */
void *hb_malloc(size_t size);
void *hb_calloc(size_t n, size_t size);
void *hb_realloc(void *ptr, size_t size);
char *hb_strdup(const char *s);
void *hb_memdup(const void *p, size_t size);
void hb_free(void *ptr);

/* Returns the capacity an array of `cap` elements of `elem` bytes grows to
 * so that it holds at least `need`: `first` when it is empty, then
 * doubling. Fatal (like running out of memory) if the bytes overflow. */
size_t hb_grow_cap(size_t cap, size_t need, size_t first, size_t elem);

/* Grows the array `ptr` (capacity `cap`, any integer lvalue) to hold at
 * least `need` elements: the one array-doubling of the code base. The new
 * tail is not initialised; HB_GROW_ZERO zeroes it. */
#define HB_GROW(ptr, cap, need, first)                                                   \
    do {                                                                                 \
        if ((size_t)(need) > (size_t)(cap)) {                                            \
            size_t hb_grow_n_ = hb_grow_cap((cap), (need), (first), sizeof *(ptr));      \
            (ptr) = hb_realloc((ptr), hb_grow_n_ * sizeof *(ptr));                       \
            (cap) = hb_grow_n_;                                                          \
        }                                                                                \
    } while (0)

#define HB_GROW_ZERO(ptr, cap, need, first)                                              \
    do {                                                                                 \
        size_t hb_grow_old_ = (size_t)(cap);                                             \
        HB_GROW(ptr, cap, need, first);                                                  \
        if ((size_t)(cap) > hb_grow_old_)                                                \
            memset((ptr) + hb_grow_old_, 0,                                              \
                   ((size_t)(cap)-hb_grow_old_) * sizeof *(ptr));                        \
    } while (0)

/* Returns the allocator's name and version ("jemalloc 5.3.0-..."), or
 * "libc" if jemalloc is not the active allocator. Static string. */
const char *hb_alloc_name(void);

/* Bytes currently allocated by the process, from jemalloc's stats
 * (0 if unavailable). */
size_t hb_alloc_allocated(void);

#endif
