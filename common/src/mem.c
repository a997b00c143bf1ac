/*
 * Allocation that aborts on out-of-memory (see paystream/mem.h for why).
 */
#include <paystream/mem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Noreturn void oom(size_t size)
{
    fprintf(stderr, "out of memory allocating %zu bytes\n", size);
    abort();
}

void *ps_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        oom(size);
    return p;
}

void *ps_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL)
        oom(count * size);
    return p;
}

void *ps_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL)
        oom(size);
    return p;
}

char *ps_strdup(const char *s)
{
    return ps_strndup(s, strlen(s));
}

char *ps_strndup(const char *s, size_t len)
{
    char *p = ps_malloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void *ps_memdup(const void *p, size_t len)
{
    void *copy = ps_malloc(len);

    if (len > 0)
        memcpy(copy, p, len);
    return copy;
}

void ps_free(void *ptr)
{
    free(ptr);
}
