/* Bounded string buffer.
 *
 * A StrBuf grows on demand inside a memory context but never beyond the maximum it was given: an append that would
 * pass it fails with errTooLarge and leaves the buffer as it was. Its data is always NUL-terminated (data may be NULL
 * while nothing was ever appended; use strBufStr for a never-NULL string). */
#ifndef COMMON_STRBUF_H
#define COMMON_STRBUF_H

#include "common/error.h"
#include "common/memctx.h"

#include <stddef.h>

typedef struct StrBuf {
    MemCtx *ctx;  /* owner of data */
    char *data;   /* NULL until the first append */
    size_t len;   /* bytes in use, not counting the NUL */
    size_t cap;   /* bytes allocated, counting the NUL */
    size_t limit; /* len may never exceed this */
} StrBuf;

/* An empty buffer allocating in ctx, holding at most limit bytes. Allocates nothing yet. */
void strBufInit(StrBuf *buf, MemCtx *ctx, size_t limit);

bool strBufAppend(StrBuf *buf, const void *data, size_t len, Err *err) MUST_CHECK;
bool strBufAppendStr(StrBuf *buf, const char *str, Err *err) MUST_CHECK;
bool strBufAppendChar(StrBuf *buf, char c, Err *err) MUST_CHECK;
bool strBufPrintf(StrBuf *buf, Err *err, const char *format, ...) PRINTF_LIKE(3, 4) MUST_CHECK;

/* Drops the first n bytes (n <= len), keeping the rest and the allocation. */
void strBufConsume(StrBuf *buf, size_t n);

/* Empties the buffer, keeping the allocation. */
void strBufClear(StrBuf *buf);

/* Frees the data; the buffer is empty and reusable afterwards. */
void strBufFree(StrBuf *buf);

/* The contents as a C string: "" when empty. */
const char *strBufStr(const StrBuf *buf);

#endif
