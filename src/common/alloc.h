/* Raw allocation: the one place the process calls malloc, and the fault-injection hook used by tests.
 *
 * Everything else allocates through memory contexts (memctx.h), which call these functions; jansson is pointed at
 * them as well (allocUseForJansson), so a test can fail "the Nth allocation" of any code path, JSON included, and check
 * that the path reports errOutOfMemory and leaks nothing. */
#ifndef COMMON_ALLOC_H
#define COMMON_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* malloc/realloc/free that honour the fault hook. They return NULL on failure (or injected failure), like the libc
 * functions, and allocFree accepts NULL. */
void *allocRaw(size_t size);
void *allocRawResize(void *ptr, size_t size);
void allocFree(void *ptr);

/* Routes jansson's allocations through allocRaw/allocFree. Call once at start-up, before any JSON value exists
 * (switching allocators while values are alive is harmless here only because both end in malloc/free). */
void allocUseForJansson(void);

/* How many allocations have failed (for real or injected) since the process started. A library that reports an
 * allocation failure as something else (jansson's parser calls it a syntax error) is checked against this count. */
uint64_t allocFailureCount(void);

/* Test hook: the allocation numbered `nth` from now (1 = the next one) fails once; 0 disables injection.
 * allocFaultFired() tells whether the armed failure has happened, so a sweep knows when to stop:
 *
 *     for (uint64_t n = 1;; n++) { allocFailNth(n); ok = operation(); if (!allocFaultFired()) break; ... }
 */
void allocFailNth(uint64_t nth);
bool allocFaultFired(void);

#endif
