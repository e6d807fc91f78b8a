/* hb_alloc.c — jemalloc-backed allocation wrappers (see hb_alloc.h). */
#include "hb_alloc.h"

#include <jemalloc/jemalloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_log.h"

static void
s_oom(size_t size)
{
    hb_error("out of memory allocating %zu bytes", size);
    abort();
}

void *
hb_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        s_oom(size);
    return p;
}

void *
hb_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        s_oom(n * size);
    return p;
}

void *
hb_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        s_oom(size);
    return p;
}

size_t
hb_grow_cap(size_t cap, size_t need, size_t first, size_t elem)
{
    size_t n = cap ? cap : (first ? first : 1);
    while (n < need) {
        if (n > SIZE_MAX / 2)
            s_oom(SIZE_MAX);
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem)
        s_oom(SIZE_MAX);
    return n;
}

char *
hb_strdup(const char *s)
{
    return hb_memdup(s, strlen(s) + 1);
}

void *
hb_memdup(const void *p, size_t size)
{
    void *q = hb_malloc(size);
    if (size)
        memcpy(q, p, size);
    return q;
}

void
hb_free(void *ptr)
{
    free(ptr);
}

const char *
hb_alloc_name(void)
{
    static char name[96];
    const char *version = NULL;
    size_t len = sizeof version;
    if (mallctl("version", &version, &len, NULL, 0) != 0 || !version)
        return "libc";
    snprintf(name, sizeof name, "jemalloc %s", version);
    return name;
}

size_t
hb_alloc_allocated(void)
{
    uint64_t epoch = 1;
    size_t esz = sizeof epoch;
    mallctl("epoch", &epoch, &esz, &epoch, esz);
    size_t allocated = 0, len = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &len, NULL, 0) != 0)
        return 0;
    return allocated;
}
