/* Base64.
 *
 * The decoder collects 6-bit values into a 24-bit group and emits three bytes per four characters. Padding is only
 * accepted as the last one or two characters of the input (after skipping line breaks), and the bits a padded group
 * leaves unused must be zero, so every accepted input has exactly one encoding: two different Secrets never decode to
 * the same bytes. */
#include "common/base64.h"

#include <stdint.h>

static const char base64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int base64Value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool base64Decode(MemCtx *ctx, const char *in, size_t len, char **out, size_t *outLen, Err *err)
{
    unsigned char *decoded = memCtxAlloc(ctx, len / 4 * 3 + 3);
    if (decoded == NULL)
        return errSet(err, errOutOfMemory, "out of memory decoding base64");

    size_t written = 0;
    uint32_t group = 0;
    unsigned groupChars = 0;
    unsigned padding = 0;
    for (size_t inIdx = 0; inIdx < len; inIdx++) {
        char c = in[inIdx];
        if (c == '\n' || c == '\r')
            continue;
        if (c == '=') {
            padding++;
            group <<= 6;
            groupChars++;
        } else {
            int value = base64Value(c);
            if (value < 0 || padding > 0) {
                memCtxRelease(decoded);
                return errSet(err, errBase64, "malformed base64 at offset %zu", inIdx);
            }
            group = group << 6 | (uint32_t)value;
            groupChars++;
        }
        if (groupChars == 4) {
            /* A padded group must be the last; "=" only in the last two places; unused bits zero. */
            bool badPadding = padding > 2 || (padding > 0 && (group & (padding == 2 ? 0xffffu : 0xffu)) != 0);
            if (badPadding || (padding > 0 && inIdx + 1 < len && in[inIdx + 1] != '\n' && in[inIdx + 1] != '\r')) {
                memCtxRelease(decoded);
                return errSet(err, errBase64, "malformed base64 padding at offset %zu", inIdx);
            }
            decoded[written++] = (unsigned char)(group >> 16);
            if (padding < 2)
                decoded[written++] = (unsigned char)(group >> 8);
            if (padding < 1)
                decoded[written++] = (unsigned char)group;
            group = 0;
            groupChars = 0;
        }
    }
    if (groupChars != 0) {
        memCtxRelease(decoded);
        return errSet(err, errBase64, "malformed base64: length is not a multiple of 4");
    }
    decoded[written] = '\0';
    *out = (char *)decoded;
    *outLen = written;
    return true;
}

bool base64Encode(MemCtx *ctx, const void *data, size_t len, char **out, Err *err)
{
    const unsigned char *bytes = data;
    char *encoded = memCtxAlloc(ctx, (len + 2) / 3 * 4 + 1);
    if (encoded == NULL)
        return errSet(err, errOutOfMemory, "out of memory encoding base64");

    size_t written = 0;
    for (size_t inIdx = 0; inIdx < len; inIdx += 3) {
        size_t remaining = len - inIdx;
        uint32_t group = (uint32_t)bytes[inIdx] << 16;
        if (remaining > 1)
            group |= (uint32_t)bytes[inIdx + 1] << 8;
        if (remaining > 2)
            group |= bytes[inIdx + 2];
        encoded[written++] = base64Alphabet[group >> 18 & 63];
        encoded[written++] = base64Alphabet[group >> 12 & 63];
        encoded[written++] = remaining > 1 ? base64Alphabet[group >> 6 & 63] : '=';
        encoded[written++] = remaining > 2 ? base64Alphabet[group & 63] : '=';
    }
    encoded[written] = '\0';
    *out = encoded;
    return true;
}
