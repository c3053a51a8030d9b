/* Base64 (RFC 4648, standard alphabet, padded), as Kubernetes uses it for Secret data and kubeconfig *-data fields. */
#ifndef COMMON_BASE64_H
#define COMMON_BASE64_H

#include "common/error.h"
#include "common/memctx.h"

#include <stddef.h>

/* Decodes len characters of in into a new NUL-terminated block of ctx (*outLen excludes the NUL). Line breaks are
 * skipped, as Go's decoder does; any other character outside the alphabet, or wrong padding, is errBase64. */
bool base64Decode(MemCtx *ctx, const char *in, size_t len, char **out, size_t *outLen, Err *err) MUST_CHECK;

/* Encodes len bytes into a new NUL-terminated string of ctx. */
bool base64Encode(MemCtx *ctx, const void *data, size_t len, char **out, Err *err) MUST_CHECK;

#endif
