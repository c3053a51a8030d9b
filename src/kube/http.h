/* The HTTPS client for the Kubernetes API: libcurl's multi interface driven by the operator's event loop.
 *
 * One KubeHttp serves every request of the process over a shared connection pool (HTTP/2 with multiplexing when the
 * server offers it, as kube-apiserver does over TLS). Requests are built by kube/request.h; kubeHttpSend starts one
 * and returns at once, and the done callback runs later, from loopRunOnce, exactly once per call (unless the call is
 * cancelled first). Authentication comes from the KubeConfig: client certificate, bearer token (re-read from its file
 * for every attempt, so rotated tokens are picked up), CA.
 *
 * Retry policy: 429 and 5xx responses are retried after the delay the server asks for in Retry-After (seconds,
 * capped at maxRetryAfterMs), or else after capped exponential backoff with jitter; a connection failure is retried
 * the same way when the request is idempotent (not a create). A watch is retried only until its stream has
 * delivered its first byte: after that, the caller decides (usually to re-watch from the last resourceVersion).
 * At most maxAttempts attempts are made; the last failure is reported.
 *
 * Responses other than watch streams are buffered up to maxResponseBytes; a larger one fails with errTooLarge. A
 * failed response carries the decoded Kubernetes Status (kube/status.h) in the Err. */
#ifndef KUBE_HTTP_H
#define KUBE_HTTP_H

#include "common/clock.h"
#include "common/error.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "common/rng.h"
#include "kube/config.h"
#include "kube/request.h"

#include <stddef.h>
#include <stdint.h>

typedef struct KubeHttp KubeHttp;
typedef struct KubeCall KubeCall;

typedef struct KubeHttpOptions {
    int64_t connectTimeoutMs; /* default 10 s */
    int64_t requestTimeoutMs; /* whole request, except watches; default 60 s */
    unsigned maxAttempts;     /* default 5 */
    int64_t retryBaseMs;      /* default 250 ms */
    int64_t retryCapMs;       /* default 30 s */
    int64_t maxRetryAfterMs;  /* default 60 s */
    size_t maxResponseBytes;  /* default 64 MiB */
    Rng rng;                  /* jitter; default: seeded from the kernel */
} KubeHttpOptions;

typedef struct KubeResponse {
    long status;      /* HTTP status, 0 when none was received */
    const char *body; /* the whole body (NUL-terminated) for a buffered request; NULL for a watch */
    size_t bodyLen;
    unsigned attempts;
} KubeResponse;

/* err->code is errOk when the server answered 2xx (and, for a watch, the stream ended cleanly). The response and
 * err are valid only during the call; the KubeCall is freed right after it. */
typedef void KubeDoneFn(void *arg, const KubeResponse *response, const Err *err);

/* Receives the body of a 2xx watch as it arrives. Returning false aborts the call, whose done then reports err. */
typedef bool KubeStreamFn(void *arg, const char *data, size_t len, Err *err);

typedef struct KubeCallbacks {
    KubeDoneFn *done;
    KubeStreamFn *stream; /* required for watch requests, ignored otherwise */
    void *arg;
} KubeCallbacks;

/* A client for config's server, running on loop, in a new child context of parent (freeing it cancels every call
 * without running their callbacks). options may be NULL for the defaults. config must outlive the client. */
bool kubeHttpNew(MemCtx *parent, Loop *loop, KubeConfig *config, const KubeHttpOptions *options, KubeHttp **out,
                 Err *err) MUST_CHECK;

/* Starts a request; everything it needs from request is copied. */
bool kubeHttpSend(KubeHttp *http, const KubeRequest *request, const KubeCallbacks *callbacks, KubeCall **out,
                  Err *err) MUST_CHECK;

/* Stops a call that has not completed; its done callback will not run. Allowed from any callback. */
void kubeCallCancel(KubeCall *call);

/* Calls started and not yet completed or cancelled. */
size_t kubeHttpActiveCalls(const KubeHttp *http);

#endif
