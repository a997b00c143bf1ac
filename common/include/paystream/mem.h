/*
 * Allocation wrappers that abort on out-of-memory.
 *
 * Every allocation in paystream goes through these. Running out of memory is
 * not an error the services try to survive: they run under a supervisor and
 * are exactly-once by design, so the cheapest correct reaction is to crash
 * with a message and restart. Callers therefore never check for NULL.
 * ps_free(NULL) is a no-op. Thread-safe.
 */
#ifndef PAYSTREAM_MEM_H
#define PAYSTREAM_MEM_H

#include <stddef.h>

void *ps_malloc(size_t size);
void *ps_calloc(size_t count, size_t size);
void *ps_realloc(void *ptr, size_t size);
/* Returns an owned copy of a NUL-terminated string; s must not be NULL. */
char *ps_strdup(const char *s);
/* Returns an owned NUL-terminated copy of the first len bytes of s. */
char *ps_strndup(const char *s, size_t len);
/* Returns an owned copy of len bytes (len may be 0: a 1-byte allocation). */
void *ps_memdup(const void *p, size_t len);
void ps_free(void *ptr);

#endif
