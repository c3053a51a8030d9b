/* Bounded string buffer.
 *
 * Capacity doubles (starting at 64 bytes) and is then clamped to limit + 1, so a buffer near its bound does not
 * allocate twice the bound. Every failure leaves the contents unchanged: callers can report the error and keep using
 * what they had. The bound is the defence against a peer that sends an endless line or body (see kube/watch.c). */
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define STRBUF_MIN_CAPACITY 64

void strBufInit(StrBuf *buf, MemCtx *ctx, size_t limit)
{
    *buf = (StrBuf){.ctx = ctx, .limit = limit};
}

/* Makes room for extra more bytes plus the NUL. */
static bool strBufReserve(StrBuf *buf, size_t extra, Err *err)
{
    if (extra > buf->limit - buf->len)
        return errSet(err, errTooLarge, "buffer limit of %zu bytes exceeded", buf->limit);
    size_t needed = buf->len + extra + 1;
    if (needed <= buf->cap)
        return true;

    size_t cap = buf->cap < STRBUF_MIN_CAPACITY ? STRBUF_MIN_CAPACITY : buf->cap;
    while (cap < needed)
        cap = cap > SIZE_MAX / 2 ? needed : cap * 2;
    if (cap > buf->limit + 1)
        cap = buf->limit + 1;

    char *data = memCtxResize(buf->ctx, buf->data, cap);
    if (data == NULL)
        return errSet(err, errOutOfMemory, "cannot grow buffer to %zu bytes", cap);
    buf->data = data;
    buf->cap = cap;
    return true;
}

bool strBufAppend(StrBuf *buf, const void *data, size_t len, Err *err)
{
    if (!strBufReserve(buf, len, err))
        return false;
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return true;
}

bool strBufAppendStr(StrBuf *buf, const char *str, Err *err)
{
    return strBufAppend(buf, str, strlen(str), err);
}

bool strBufAppendChar(StrBuf *buf, char c, Err *err)
{
    return strBufAppend(buf, &c, 1, err);
}

bool strBufPrintf(StrBuf *buf, Err *err, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int needed = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (needed < 0)
        return errSetSys(err, errInvalidArgument, "cannot format \"%s\"", format);
    if (!strBufReserve(buf, (size_t)needed, err))
        return false;
    va_start(args, format);
    vsnprintf(buf->data + buf->len, (size_t)needed + 1, format, args);
    va_end(args);
    buf->len += (size_t)needed;
    return true;
}

void strBufConsume(StrBuf *buf, size_t n)
{
    if (n >= buf->len) {
        strBufClear(buf);
        return;
    }
    memmove(buf->data, buf->data + n, buf->len - n);
    buf->len -= n;
    buf->data[buf->len] = '\0';
}

void strBufClear(StrBuf *buf)
{
    buf->len = 0;
    if (buf->data != NULL)
        buf->data[0] = '\0';
}

void strBufFree(StrBuf *buf)
{
    memCtxRelease(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

const char *strBufStr(const StrBuf *buf)
{
    return buf->data != NULL ? buf->data : "";
}
