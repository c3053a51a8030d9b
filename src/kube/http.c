/* The HTTPS client for the Kubernetes API.
 *
 * libcurl's multi "socket" interface is made for an external loop: curl tells us which sockets to watch
 * (httpSocketCallback) and when it next needs a timeout (httpTimerCallback); we tell curl when a socket is ready or
 * the timeout passed (curl_multi_socket_action) and then collect finished transfers (curl_multi_info_read). Two loop
 * timers are used: curl's own, and one for calls waiting to be retried, armed for the earliest of them.
 *
 * A KubeCall owns a memory context holding its copies of the request, its easy handle (kept across retries, so
 * every attempt reuses curl's connection pool) and its response buffer. Its life:
 *
 *     send -> in flight -> (finished attempt) -> waiting for retry -> in flight -> ... -> done callback -> freed
 *
 * and cancel may end it in any state. libcurl forbids removing a handle from inside its own callbacks, so a cancel
 * that arrives while curl is running (a stream callback cancelling something) only marks the call, and httpDrive
 * releases marked calls once curl has returned. The done callback runs outside curl, so it may send, cancel, or do
 * anything but free the client itself.
 *
 * Watch bodies go to the stream callback as they arrive, but only for a 2xx status: the body of an error response is
 * buffered like any other, to be decoded as a Status. */
#include "kube/http.h"

#include "common/backoff.h"
#include "common/strbuf.h"
#include "kube/status.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_USER_AGENT "postgres-operator/0.1"

struct KubeCall {
    MemCtx *ctx;
    KubeHttp *http;
    KubeCall *prev;
    KubeCall *next;
    CURL *easy;
    struct curl_slist *headers;
    KubeMethod method;
    const char *path; /* for messages */
    const char *contentType;
    bool watch;
    bool idempotent;
    KubeCallbacks callbacks;
    StrBuf response;
    Backoff backoff;
    unsigned attempts;
    bool inMulti;
    bool waitingRetry;
    int64_t retryAtMs;
    bool streamStarted; /* a byte of a 2xx watch body reached the stream callback */
    bool bodyFailed;    /* the stream callback or the body bound stopped the transfer */
    Err bodyErr;
    bool cancelled;
    bool completing; /* inside the done callback */
    char curlError[CURL_ERROR_SIZE];
};

struct KubeHttp {
    MemCtx *ctx;
    Loop *loop;
    KubeConfig *config;
    KubeHttpOptions options;
    SplitMix splitMix;
    CURLM *multi;
    LoopTimer *curlTimer;
    LoopTimer *retryTimer;
    KubeCall *calls;
    size_t activeCalls;
    unsigned curlDepth; /* > 0 while curl_multi_socket_action runs */
};

static void httpDrive(KubeHttp *http, curl_socket_t fd, int flags);

/* Unlinks a call from the client and frees it (its context's callback cleans up the easy handle). */
static void callRelease(KubeCall *call)
{
    KubeHttp *http = call->http;
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        http->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    http->activeCalls--;
    memCtxFree(call->ctx);
}

static void callCleanup(void *arg)
{
    KubeCall *call = arg;
    if (call->inMulti)
        curl_multi_remove_handle(call->http->multi, call->easy);
    curl_easy_cleanup(call->easy);
    curl_slist_free_all(call->headers);
}

void kubeCallCancel(KubeCall *call)
{
    if (call->completing || call->cancelled)
        return;
    call->cancelled = true;
    if (call->http->curlDepth == 0)
        callRelease(call);
}

size_t kubeHttpActiveCalls(const KubeHttp *http)
{
    return http->activeCalls;
}

/* curl asks to watch fd for what, or to stop. */
static void httpOnSocket(void *arg, int fd, unsigned events)
{
    int flags = (events & LOOP_READABLE ? CURL_CSELECT_IN : 0) | (events & LOOP_WRITABLE ? CURL_CSELECT_OUT : 0) |
                (events & LOOP_ERROR ? CURL_CSELECT_ERR : 0);
    httpDrive(arg, fd, flags);
}

static int httpSocketCallback(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    KubeHttp *http = userp;
    if (what == CURL_POLL_REMOVE) {
        loopUnwatch(http->loop, fd);
        return 0;
    }
    unsigned events = (what & CURL_POLL_IN ? LOOP_READABLE : 0u) | (what & CURL_POLL_OUT ? LOOP_WRITABLE : 0u);
    Err err;
    return loopWatch(http->loop, fd, events, httpOnSocket, http, &err) ? 0 : -1;
}

static void httpOnCurlTimer(void *arg)
{
    httpDrive(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int httpTimerCallback(CURLM *multi, long timeoutMs, void *userp)
{
    (void)multi;
    KubeHttp *http = userp;
    if (timeoutMs < 0)
        loopTimerStop(http->curlTimer);
    else
        loopTimerStart(http->curlTimer, timeoutMs);
    return 0;
}

static size_t httpOnBody(char *data, size_t size, size_t count, void *userp)
{
    KubeCall *call = userp;
    size_t len = size * count;
    if (call->cancelled)
        return 0;
    long status = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    if (call->watch && status >= 200 && status <= 299) {
        call->streamStarted = true;
        if (!call->callbacks.stream(call->callbacks.arg, data, len, &call->bodyErr)) {
            call->bodyFailed = true;
            return 0;
        }
        return len;
    }
    if (!strBufAppend(&call->response, data, len, &call->bodyErr)) {
        errPrefix(&call->bodyErr, "%s %s: response", kubeMethodName(call->method), call->path);
        call->bodyFailed = true;
        return 0;
    }
    return len;
}

/* The Authorization and other per-attempt headers (the token may have rotated since the last attempt). */
static bool callSetHeaders(KubeCall *call, Err *err)
{
    const char *token;
    if (!kubeConfigToken(call->http->config, &token, err))
        return false;
    curl_slist_free_all(call->headers);
    call->headers = NULL;

    char *authorization = token != NULL ? memCtxPrintf(call->ctx, "Authorization: Bearer %s", token) : NULL;
    char *contentType =
        call->contentType != NULL ? memCtxPrintf(call->ctx, "Content-Type: %s", call->contentType) : NULL;
    const char *lines[] = {"Accept: application/json", "Expect:", authorization, contentType};
    bool ok = (token == NULL || authorization != NULL) && (call->contentType == NULL || contentType != NULL);
    for (size_t lineIdx = 0; ok && lineIdx < sizeof(lines) / sizeof(lines[0]); lineIdx++) {
        if (lines[lineIdx] == NULL)
            continue;
        struct curl_slist *appended = curl_slist_append(call->headers, lines[lineIdx]);
        ok = appended != NULL;
        if (ok)
            call->headers = appended;
    }
    if (authorization != NULL) {
        /* The token is in curl's copy now; do not keep another. */
        memset(authorization, 0, strlen(authorization));
        memCtxRelease(authorization);
    }
    memCtxRelease(contentType);
    if (!ok)
        return errSet(err, errOutOfMemory, "out of memory building request headers");
    curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->headers);
    return true;
}

static bool callStartAttempt(KubeCall *call, Err *err)
{
    call->attempts++;
    call->streamStarted = false;
    call->bodyFailed = false;
    strBufClear(&call->response);
    if (!callSetHeaders(call, err))
        return false;
    CURLMcode added = curl_multi_add_handle(call->http->multi, call->easy);
    if (added != CURLM_OK)
        return errSet(err, added == CURLM_OUT_OF_MEMORY ? errOutOfMemory : errTransport, "%s %s: %s",
                      kubeMethodName(call->method), call->path, curl_multi_strerror(added));
    call->inMulti = true;
    return true;
}

/* Runs the done callback, then frees the call. */
static void callComplete(KubeCall *call, long status, const Err *err)
{
    KubeResponse response = {
        .status = status,
        .body = call->watch && status >= 200 && status <= 299 ? NULL : strBufStr(&call->response),
        .bodyLen = call->watch && status >= 200 && status <= 299 ? 0 : call->response.len,
        .attempts = call->attempts,
    };
    call->completing = true;
    call->callbacks.done(call->callbacks.arg, &response, err);
    callRelease(call);
}

static void httpArmRetryTimer(KubeHttp *http)
{
    int64_t earliest = -1;
    for (const KubeCall *call = http->calls; call != NULL; call = call->next) {
        if (call->waitingRetry && (earliest < 0 || call->retryAtMs < earliest))
            earliest = call->retryAtMs;
    }
    if (earliest < 0)
        loopTimerStop(http->retryTimer);
    else
        loopTimerStart(http->retryTimer, earliest - clockMonotonicMs(loopClock(http->loop)));
}

static void httpOnRetryTimer(void *arg)
{
    KubeHttp *http = arg;
    for (;;) {
        int64_t now = clockMonotonicMs(loopClock(http->loop));
        KubeCall *due = NULL;
        for (KubeCall *call = http->calls; call != NULL && due == NULL; call = call->next) {
            if (call->waitingRetry && call->retryAtMs <= now)
                due = call;
        }
        if (due == NULL)
            break;
        due->waitingRetry = false;
        Err err;
        if (!callStartAttempt(due, &err))
            callComplete(due, 0, &err);
    }
    httpArmRetryTimer(http);
}

/* Retry-After in milliseconds, when the response has one in seconds. */
static bool httpRetryAfterMs(CURL *easy, int64_t *ms)
{
    struct curl_header *header;
    if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &header) != CURLHE_OK)
        return false;
    char *end;
    errno = 0;
    long long seconds = strtoll(header->value, &end, 10);
    if (end == header->value || *end != '\0' || seconds < 0 || errno != 0)
        return false;
    *ms = seconds > INT64_MAX / 1000 ? INT64_MAX : (int64_t)seconds * 1000;
    return true;
}

/* A transfer of call ended with result: complete the call or schedule another attempt. */
static void callFinishAttempt(KubeCall *call, CURLcode result)
{
    KubeHttp *http = call->http;
    curl_multi_remove_handle(http->multi, call->easy);
    call->inMulti = false;
    if (call->cancelled) {
        callRelease(call);
        return;
    }

    long status = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    Err err;
    errClear(&err);
    bool retryable = false;
    if (call->bodyFailed) {
        err = call->bodyErr;
    } else if (result != CURLE_OK) {
        errSet(&err, result == CURLE_OPERATION_TIMEDOUT ? errTimeout : errTransport, "%s %s: %s%s%s%s",
               kubeMethodName(call->method), call->path, curl_easy_strerror(result),
               call->curlError[0] != '\0' ? " (" : "", call->curlError, call->curlError[0] != '\0' ? ")" : "");
        retryable = call->idempotent && !call->streamStarted;
    } else if (status < 200 || status > 299) {
        kubeStatusFromResponse(status, call->response.data, call->response.len, &err);
        retryable = (status == 429 || status >= 500) && !call->streamStarted;
    }

    if (retryable && call->attempts < http->options.maxAttempts) {
        int64_t delayMs;
        if (result == CURLE_OK && httpRetryAfterMs(call->easy, &delayMs))
            delayMs = delayMs < http->options.maxRetryAfterMs ? delayMs : http->options.maxRetryAfterMs;
        else
            delayMs = backoffNext(&call->backoff);
        call->waitingRetry = true;
        call->retryAtMs = clockMonotonicMs(loopClock(http->loop)) + delayMs;
        call->curlError[0] = '\0';
        httpArmRetryTimer(http);
        return;
    }
    callComplete(call, status, &err);
}

/* Lets curl act on fd (or on its timeout), then completes finished transfers and releases cancelled calls. */
static void httpDrive(KubeHttp *http, curl_socket_t fd, int flags)
{
    int running;
    http->curlDepth++;
    curl_multi_socket_action(http->multi, fd, flags, &running);
    http->curlDepth--;

    CURLMsg *message;
    int queued;
    while ((message = curl_multi_info_read(http->multi, &queued)) != NULL) {
        if (message->msg != CURLMSG_DONE)
            continue;
        char *privateData;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &privateData);
        callFinishAttempt((KubeCall *)(void *)privateData, message->data.result);
    }
    for (KubeCall *call = http->calls, *next; call != NULL; call = next) {
        next = call->next;
        if (call->cancelled)
            callRelease(call);
    }
}

/* The options every attempt of a call shares. */
static bool callConfigure(KubeCall *call, const KubeRequest *request, const char *url, const char *body)
{
    KubeHttp *http = call->http;
    const KubeConfig *config = http->config;
    CURL *easy = call->easy;
    bool ok = curl_easy_setopt(easy, CURLOPT_URL, url) == CURLE_OK &&
              curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(easy, CURLOPT_USERAGENT, HTTP_USER_AGENT) == CURLE_OK;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, call);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->curlError);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, httpOnBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)http->options.connectTimeoutMs);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
    if (!request->watch)
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)http->options.requestTimeoutMs);

    if (request->method == kubeMethodGet) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
        ok = ok && curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, kubeMethodName(request->method)) == CURLE_OK;
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? request->bodyLen : 0));
    }

    if (config->caData.data != NULL) {
        struct curl_blob blob = {(void *)(uintptr_t)config->caData.data, config->caData.len, CURL_BLOB_COPY};
        ok = ok && curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob) == CURLE_OK;
    } else if (config->caFile != NULL) {
        ok = ok && curl_easy_setopt(easy, CURLOPT_CAINFO, config->caFile) == CURLE_OK;
    }
    if (config->certData.data != NULL) {
        struct curl_blob blob = {(void *)(uintptr_t)config->certData.data, config->certData.len, CURL_BLOB_COPY};
        ok = ok && curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &blob) == CURLE_OK;
    } else if (config->certFile != NULL) {
        ok = ok && curl_easy_setopt(easy, CURLOPT_SSLCERT, config->certFile) == CURLE_OK;
    }
    if (config->keyData.data != NULL) {
        struct curl_blob blob = {(void *)(uintptr_t)config->keyData.data, config->keyData.len, CURL_BLOB_COPY};
        ok = ok && curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &blob) == CURLE_OK;
    } else if (config->keyFile != NULL) {
        ok = ok && curl_easy_setopt(easy, CURLOPT_SSLKEY, config->keyFile) == CURLE_OK;
    }
    if (config->insecureSkipTlsVerify) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return ok;
}

bool kubeHttpSend(KubeHttp *http, const KubeRequest *request, const KubeCallbacks *callbacks, KubeCall **out, Err *err)
{
    if (request->watch && callbacks->stream == NULL)
        return errSet(err, errInvalidArgument, "a watch needs a stream callback");
    MemCtx *ctx = memCtxNew(http->ctx, "kube-call");
    KubeCall *call = ctx != NULL ? memCtxAlloc(ctx, sizeof(*call)) : NULL;
    if (call == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory starting a request");
    }
    *call = (KubeCall){
        .ctx = ctx,
        .http = http,
        .method = request->method,
        .watch = request->watch,
        .idempotent = request->idempotent,
        .callbacks = *callbacks,
        .easy = curl_easy_init(),
    };
    strBufInit(&call->response, ctx, http->options.maxResponseBytes);
    backoffInit(&call->backoff, http->options.retryBaseMs, http->options.retryCapMs, http->options.rng);

    char *url = memCtxPrintf(ctx, "%s%s", http->config->server, request->path);
    char *body = request->body != NULL ? memCtxMemDup(ctx, request->body, request->bodyLen) : NULL;
    call->path = memCtxStrDup(ctx, request->path);
    call->contentType = request->contentType != NULL ? memCtxStrDup(ctx, request->contentType) : NULL;
    bool ok = call->easy != NULL && url != NULL && call->path != NULL && (request->body == NULL || body != NULL) &&
              (request->contentType == NULL || call->contentType != NULL);
    if (!ok || !memCtxOnFree(ctx, callCleanup, call)) {
        curl_easy_cleanup(call->easy);
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory starting a request");
    }
    if (!callConfigure(call, request, url, body)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory configuring a request");
    }

    call->next = http->calls;
    if (http->calls != NULL)
        http->calls->prev = call;
    http->calls = call;
    http->activeCalls++;
    if (!callStartAttempt(call, err)) {
        callRelease(call);
        return false;
    }
    if (out != NULL)
        *out = call;
    return true;
}

static void httpCleanup(void *arg)
{
    KubeHttp *http = arg;
    /* The calls' contexts, children of ours, have already removed their handles. */
    curl_multi_cleanup(http->multi);
    loopTimerFree(http->curlTimer);
    loopTimerFree(http->retryTimer);
    curl_global_cleanup();
}

static KubeHttpOptions httpDefaults(const KubeHttpOptions *options)
{
    KubeHttpOptions filled = options != NULL ? *options : (KubeHttpOptions){0};
    if (filled.connectTimeoutMs <= 0)
        filled.connectTimeoutMs = 10000;
    if (filled.requestTimeoutMs <= 0)
        filled.requestTimeoutMs = 60000;
    if (filled.maxAttempts == 0)
        filled.maxAttempts = 5;
    if (filled.retryBaseMs <= 0)
        filled.retryBaseMs = 250;
    if (filled.retryCapMs < filled.retryBaseMs)
        filled.retryCapMs = filled.retryBaseMs > 30000 ? filled.retryBaseMs : 30000;
    if (filled.maxRetryAfterMs <= 0)
        filled.maxRetryAfterMs = 60000;
    if (filled.maxResponseBytes == 0)
        filled.maxResponseBytes = 64 * 1024 * 1024;
    return filled;
}

bool kubeHttpNew(MemCtx *parent, Loop *loop, KubeConfig *config, const KubeHttpOptions *options, KubeHttp **out,
                 Err *err)
{
    MemCtx *ctx = memCtxNew(parent, "kube-http");
    KubeHttp *http = ctx != NULL ? memCtxAlloc(ctx, sizeof(*http)) : NULL;
    if (http == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the api client");
    }
    *http = (KubeHttp){.ctx = ctx, .loop = loop, .config = config, .options = httpDefaults(options)};
    if (http->options.rng.next == NULL) {
        uint64_t seed;
        if (!rngSystemSeed(&seed, err)) {
            memCtxFree(ctx);
            return false;
        }
        http->options.rng = rngSplitMix(&http->splitMix, seed);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        memCtxFree(ctx);
        return errSet(err, errTransport, "cannot initialise libcurl");
    }
    http->multi = curl_multi_init();
    http->curlTimer = loopTimerNew(loop, httpOnCurlTimer, http);
    http->retryTimer = loopTimerNew(loop, httpOnRetryTimer, http);
    if (http->multi == NULL || http->curlTimer == NULL || http->retryTimer == NULL ||
        !memCtxOnFree(ctx, httpCleanup, http)) {
        curl_multi_cleanup(http->multi);
        loopTimerFree(http->curlTimer);
        loopTimerFree(http->retryTimer);
        curl_global_cleanup();
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the api client");
    }
    curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, httpSocketCallback);
    curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
    curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, httpTimerCallback);
    curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
    curl_multi_setopt(http->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    *out = http;
    return true;
}
