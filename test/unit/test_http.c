/* Unit tests: kube/http, against the scripted fake API server (plain HTTP and TLS). */
#include "harness/harness.h"

#include "common/alloc.h"
#include "harness/fakeserver.h"
#include "harness/tlscert.h"
#include "kube/http.h"
#include "kube/watch.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEPS(...) (const FakeStep[]){__VA_ARGS__}, sizeof((const FakeStep[]){__VA_ARGS__}) / sizeof(FakeStep)

static const KubeResource pods = {"", "v1", "pods", true};

static const char okPod[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n"
                            "{\"kind\":\"Pod\"}";
static const char watchHeaders[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n";

typedef struct CallResult {
    bool done;
    long status;
    char body[512];
    unsigned attempts;
    Err err;
    KubeWatchStream stream;
    char events[1024];
    int eventCount;
    KubeCall *cancelOnEvent; /* cancelled by the stream callback at the first event */
} CallResult;

typedef struct HttpFixture {
    MemCtx *ctx;
    Loop *loop;
    KubeConfig *config;
    KubeHttp *http;
    FakeServer server;
    bool serverStarted;
    TestPki pki;
    char tokenPath[64];
} HttpFixture;

static int setUp(void **state)
{
    HttpFixture *f = calloc(1, sizeof(*f));
    Err err;
    f->ctx = memCtxNew(NULL, "t");
    if (!loopNew(f->ctx, clockSystem(), &f->loop, &err))
        return -1;
    f->config = memCtxAlloc(f->ctx, sizeof(*f->config));
    f->config->ctx = f->ctx;
    f->config->namespace = "default";
    f->config->token = "secret-token";
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    HttpFixture *f = *state;
    memCtxFree(f->ctx);
    testPkiFree(&f->pki);
    if (f->tokenPath[0] != '\0')
        unlink(f->tokenPath);
    free(f);
    return 0;
}

/* Starts the server and a client for it; options may be NULL. */
static void startServer(HttpFixture *f, const FakeStep *steps, size_t count, const FakeTls *tls,
                        const KubeHttpOptions *options)
{
    assert_true(fakeServerStart(&f->server, steps, count, tls));
    f->serverStarted = true;
    f->config->server = memCtxPrintf(f->ctx, "%s://127.0.0.1:%d", tls != NULL ? "https" : "http", f->server.port);
    KubeHttpOptions fast = {.retryBaseMs = 10, .retryCapMs = 40};
    Err err;
    if (!kubeHttpNew(f->ctx, f->loop, f->config, options != NULL ? options : &fast, &f->http, &err))
        fail_msg("%s", err.message);
}

static void finishServer(HttpFixture *f)
{
    assert_true(fakeServerWait(&f->server));
    f->serverStarted = false;
}

static void onDone(void *arg, const KubeResponse *response, const Err *err)
{
    CallResult *result = arg;
    result->done = true;
    result->status = response->status;
    result->attempts = response->attempts;
    result->err = *err;
    snprintf(result->body, sizeof(result->body), "%.*s", (int)response->bodyLen,
             response->body != NULL ? response->body : "");
}

static bool onEvent(void *arg, const KubeWatchEvent *event, Err *err)
{
    (void)err;
    CallResult *result = arg;
    const char *name = json_string_value(json_object_get(json_object_get(event->object, "metadata"), "name"));
    size_t used = strlen(result->events);
    snprintf(result->events + used, sizeof(result->events) - used, "%s:%s;", kubeWatchEventTypeName(event->type),
             name != NULL ? name : "-");
    result->eventCount++;
    if (result->cancelOnEvent != NULL) {
        kubeCallCancel(result->cancelOnEvent);
        result->cancelOnEvent = NULL;
    }
    return true;
}

static bool onStream(void *arg, const char *data, size_t len, Err *err)
{
    CallResult *result = arg;
    return kubeWatchStreamFeed(&result->stream, data, len, onEvent, result, err);
}

static void runUntilDone(HttpFixture *f, const CallResult *result, int64_t maxMs)
{
    Clock clock = clockSystem();
    int64_t deadline = clockMonotonicMs(clock) + maxMs;
    Err err;
    while (!result->done && clockMonotonicMs(clock) < deadline)
        assert_true(loopRunOnce(f->loop, 20, &err));
    assert_true(result->done);
}

static KubeCall *sendGet(HttpFixture *f, CallResult *result)
{
    KubeRequest request;
    KubeCall *call;
    Err err;
    assert_true(kubeRequestGet(f->ctx, &pods, "ns", "p", &request, &err));
    if (!kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .arg = result}, &call, &err))
        fail_msg("%s", err.message);
    return call;
}

static KubeCall *sendWatch(HttpFixture *f, CallResult *result, size_t maxLine)
{
    KubeRequest request;
    KubeCall *call;
    Err err;
    kubeWatchStreamInit(&result->stream, f->ctx, maxLine);
    KubeWatchOptions options = {.resourceVersion = "100", .allowWatchBookmarks = true};
    assert_true(kubeRequestWatch(f->ctx, &pods, "ns", &options, &request, &err));
    assert_true(kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .stream = onStream, .arg = result},
                             &call, &err));
    return call;
}

static void testGetOverPlainHttp(void **state)
{
    HttpFixture *f = *state;
    startServer(f,
                STEPS(FAKE_ACCEPT,
                      FAKE_EXPECT("GET /api/v1/namespaces/ns/pods/p HTTP/1.1", "Accept: application/json",
                                  "Authorization: Bearer secret-token", "User-Agent: postgres-operator/"),
                      FAKE_SEND(okPod)),
                NULL, NULL);
    CallResult result = {0};
    sendGet(f, &result);
    assert_int_equal(kubeHttpActiveCalls(f->http), 1);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errOk);
    assert_int_equal(result.status, 200);
    assert_string_equal(result.body, "{\"kind\":\"Pod\"}");
    assert_int_equal(result.attempts, 1);
    assert_int_equal(kubeHttpActiveCalls(f->http), 0);
    finishServer(f);
}

static void testWritesSendBodies(void **state)
{
    HttpFixture *f = *state;
    f->config->token = NULL;
    static const char created[] = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    startServer(
        f,
        STEPS(FAKE_ACCEPT,
              FAKE_EXPECT("PATCH /api/v1/namespaces/ns/pods/p?fieldManager=postgrescluster-controller&force=true",
                          "Content-Type: application/apply-patch+yaml", "\r\n\r\n{\"kind\":\"Pod\"}"),
              FAKE_SEND(created),
              FAKE_EXPECT("DELETE /api/v1/namespaces/ns/pods/p", "\"propagationPolicy\":\"Background\""),
              FAKE_SEND(created)),
        NULL, NULL);
    json_t *pod = json_pack("{s:s}", "kind", "Pod");
    KubeRequest request;
    Err err;
    CallResult apply = {0}, del = {0};
    assert_true(kubeRequestApply(f->ctx, &pods, "ns", "p", kubeSubresourceNone, "postgrescluster-controller", pod,
                                 &request, &err));
    assert_true(kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .arg = &apply}, NULL, &err));
    runUntilDone(f, &apply, 5000);
    assert_int_equal(apply.status, 201);
    assert_true(kubeRequestDelete(f->ctx, &pods, "ns", "p", &(KubeDeleteOptions){.propagationPolicy = "Background"},
                                  &request, &err));
    assert_true(kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .arg = &del}, NULL, &err));
    runUntilDone(f, &del, 5000);
    assert_err(&del.err, errOk);
    json_decref(pod);
    finishServer(f);
}

/* A complete response with the right Content-Length, owned by the fixture. */
static const char *response(HttpFixture *f, const char *statusLine, const char *body)
{
    const char *text =
        memCtxPrintf(f->ctx, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     statusLine, strlen(body), body);
    assert_non_null(text);
    return text;
}

static void testStatusErrorsAreNotRetried(void **state)
{
    HttpFixture *f = *state;
    const char *conflict = response(f, "409 Conflict",
                                    "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"pods \\\"p\\\" "
                                    "already exists\",\"reason\":\"AlreadyExists\"}");
    static const char notFound[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("POST /api/v1/namespaces/ns/pods "), FAKE_SEND(conflict),
                      FAKE_EXPECT("GET /api/v1/namespaces/ns/pods/p "), FAKE_SEND(notFound)),
                NULL, NULL);
    json_t *pod = json_pack("{s:s}", "kind", "Pod");
    KubeRequest request;
    Err err;
    CallResult create = {0}, get = {0};
    assert_true(kubeRequestCreate(f->ctx, &pods, "ns", pod, &request, &err));
    assert_true(kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .arg = &create}, NULL, &err));
    runUntilDone(f, &create, 5000);
    assert_err(&create.err, errKubeAlreadyExists);
    assert_int_equal(create.err.httpStatus, 409);
    assert_string_equal(create.err.reason, "AlreadyExists");
    assert_string_equal(create.err.message, "pods \"p\" already exists");
    assert_int_equal(create.attempts, 1);

    sendGet(f, &get);
    runUntilDone(f, &get, 5000);
    assert_err(&get.err, errKubeNotFound);
    assert_string_equal(get.err.message, "api server answered HTTP 404: not found");
    assert_string_equal(get.body, "not found");
    json_decref(pod);
    finishServer(f);
}

static void testTooManyRequestsHonoursRetryAfter(void **state)
{
    HttpFixture *f = *state;
    static const char throttled[] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_SEND(throttled), FAKE_EXPECT("GET "), FAKE_SEND(okPod)),
                NULL, NULL);
    CallResult result = {0};
    Clock clock = clockSystem();
    int64_t started = clockMonotonicMs(clock);
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    int64_t elapsed = clockMonotonicMs(clock) - started;
    assert_err(&result.err, errOk);
    assert_int_equal(result.attempts, 2);
    assert_true(elapsed >= 950);
    finishServer(f);
}

static void testRetryAfterIsCapped(void **state)
{
    HttpFixture *f = *state;
    static const char throttled[] =
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\nContent-Length: 0\r\n\r\n";
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_SEND(throttled), FAKE_EXPECT("GET "), FAKE_SEND(okPod)),
                NULL, &(KubeHttpOptions){.maxRetryAfterMs = 20, .retryBaseMs = 10});
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 3000);
    assert_int_equal(result.attempts, 2);
    finishServer(f);
}

static void testServerErrorsRetriedWithBackoffThenGiveUp(void **state)
{
    HttpFixture *f = *state;
    static const char failed[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
    static const char unavailable[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: soon\r\n"
                                      "Content-Length: 0\r\n\r\n";
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_SEND(failed), FAKE_EXPECT("GET "), FAKE_SEND(unavailable),
                      FAKE_EXPECT("GET "), FAKE_SEND(failed)),
                NULL, &(KubeHttpOptions){.maxAttempts = 3, .retryBaseMs = 5, .retryCapMs = 10});
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errKubeServer);
    assert_int_equal(result.err.httpStatus, 500);
    assert_int_equal(result.attempts, 3);
    finishServer(f);
}

static void testResetRetriedOnlyWhenIdempotent(void **state)
{
    HttpFixture *f = *state;
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_RESET, FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_SEND(okPod),
                      FAKE_EXPECT("POST "), FAKE_RESET),
                NULL, NULL);
    CallResult get = {0}, create = {0};
    sendGet(f, &get);
    runUntilDone(f, &get, 5000);
    assert_err(&get.err, errOk);
    assert_int_equal(get.attempts, 2);

    json_t *pod = json_pack("{s:s}", "kind", "Pod");
    KubeRequest request;
    Err err;
    assert_true(kubeRequestCreate(f->ctx, &pods, "ns", pod, &request, &err));
    assert_true(kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .arg = &create}, NULL, &err));
    runUntilDone(f, &create, 5000);
    assert_err(&create.err, errTransport);
    assert_int_equal(create.attempts, 1);
    assert_contains(create.err.message, "POST /api/v1/namespaces/ns/pods: ");
    json_decref(pod);
    finishServer(f);
}

static void testConnectionRefused(void **state)
{
    HttpFixture *f = *state;
    /* A server that exits at once leaves a port nobody listens on. */
    startServer(f, NULL, 0, NULL, &(KubeHttpOptions){.maxAttempts = 2, .retryBaseMs = 5});
    finishServer(f);
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errTransport);
    assert_int_equal(result.attempts, 2);
    assert_int_equal(result.status, 0);
}

static void testWatchSplitAtOddBytes(void **state)
{
    HttpFixture *f = *state;
    startServer(f,
                STEPS(FAKE_ACCEPT,
                      FAKE_EXPECT("GET /api/v1/namespaces/ns/pods?watch=1&resourceVersion=100"
                                  "&allowWatchBookmarks=true "),
                      FAKE_SEND(watchHeaders), FAKE_CHUNK("{\"type\":\"ADD"), FAKE_SLEEP(20),
                      FAKE_CHUNK("ED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"MODIFIED\","),
                      FAKE_SLEEP(20), FAKE_CHUNK("\"object\":{\"metadata\":{\"name\":\"a\"}}}"), FAKE_SLEEP(20),
                      FAKE_CHUNK("\n{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n"),
                      FAKE_CHUNK("")),
                NULL, NULL);
    CallResult result = {0};
    sendWatch(f, &result, 1024);
    runUntilDone(f, &result, 5000);
    Err err;
    assert_err(&result.err, errOk);
    assert_true(kubeWatchStreamFinish(&result.stream, &err));
    assert_string_equal(result.events, "ADDED:a;MODIFIED:a;BOOKMARK:-;");
    assert_int_equal(result.status, 200);
    assert_string_equal(result.body, "");
    finishServer(f);
}

static void testWatchGoneEndsWithRelistSignal(void **state)
{
    HttpFixture *f = *state;
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("watch=1"), FAKE_SEND(watchHeaders),
                      FAKE_CHUNK("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                                 "\"reason\":\"Expired\",\"message\":\"too old resource version\"}}\n"),
                      FAKE_SLEEP(200)),
                NULL, NULL);
    CallResult result = {0};
    sendWatch(f, &result, 1024);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errKubeGone);
    assert_int_equal(result.attempts, 1);
    finishServer(f);
}

static void testWatchAnsweredWithHttpGone(void **state)
{
    HttpFixture *f = *state;
    const char *gone =
        response(f, "410 Gone", "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Gone\",\"message\":\"gone\"}");
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("watch=1"), FAKE_SEND(gone)), NULL, NULL);
    CallResult result = {0};
    sendWatch(f, &result, 1024);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errKubeGone);
    assert_int_equal(result.eventCount, 0);
    finishServer(f);
}

static void testWatchOversizedLine(void **state)
{
    HttpFixture *f = *state;
    static char big[3000];
    memset(big, ' ', sizeof(big) - 1);
    memcpy(big, "{\"type\":\"ADDED\",\"object\":{", 26);
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("watch=1"), FAKE_SEND(watchHeaders), FAKE_CHUNK(big), FAKE_SLEEP(200)),
                NULL, NULL);
    CallResult result = {0};
    sendWatch(f, &result, 1024);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errTooLarge);
    assert_int_equal(result.attempts, 1);
    finishServer(f);
}

static void testWatchResetMidStreamIsNotRetried(void **state)
{
    HttpFixture *f = *state;
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("watch=1"), FAKE_SEND(watchHeaders),
                      FAKE_CHUNK("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"), FAKE_SLEEP(50),
                      FAKE_RESET),
                NULL, NULL);
    CallResult result = {0};
    sendWatch(f, &result, 1024);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errTransport);
    assert_int_equal(result.attempts, 1);
    assert_string_equal(result.events, "ADDED:a;");
    finishServer(f);
}

static void testSlowBodyTimesOut(void **state)
{
    HttpFixture *f = *state;
    static const char partial[] = "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"kin";
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_SEND(partial), FAKE_SLEEP(1500)), NULL,
                &(KubeHttpOptions){.requestTimeoutMs = 300, .maxAttempts = 1});
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errTimeout);
    finishServer(f);
}

static void testSlowBodyWithinTimeout(void **state)
{
    HttpFixture *f = *state;
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_SEND("HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n"),
                      FAKE_SLEEP(50), FAKE_SEND("{\"kind\""), FAKE_SLEEP(50), FAKE_SEND(":\"Pod\"}")),
                NULL, NULL);
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errOk);
    assert_string_equal(result.body, "{\"kind\":\"Pod\"}");
    finishServer(f);
}

static void testResponseBound(void **state)
{
    HttpFixture *f = *state;
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_SEND(okPod)), NULL,
                &(KubeHttpOptions){.maxResponseBytes = 10});
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errTooLarge);
    assert_contains(result.err.message, "GET /api/v1/namespaces/ns/pods/p: response: buffer limit");
    finishServer(f);
}

static void testTlsWithClientCertificate(void **state)
{
    HttpFixture *f = *state;
    assert_true(testPkiGenerate(&f->pki));
    f->config->token = NULL;
    f->config->caData = (KubeBlob){f->pki.caCert, strlen(f->pki.caCert)};
    f->config->certData = (KubeBlob){f->pki.clientCert, strlen(f->pki.clientCert)};
    f->config->keyData = (KubeBlob){f->pki.clientKey, strlen(f->pki.clientKey)};
    FakeTls tls = {.pki = &f->pki, .requireClientCert = true};
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET /api/v1/namespaces/ns/pods/p HTTP/1.1"), FAKE_SEND(okPod)), &tls,
                NULL);
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errOk);
    assert_string_equal(result.body, "{\"kind\":\"Pod\"}");
    finishServer(f);
}

static void testTlsFromFiles(void **state)
{
    HttpFixture *f = *state;
    assert_true(testPkiGenerate(&f->pki));
    char caPath[] = "/tmp/pgo-http-ca-XXXXXX";
    int fd = mkstemp(caPath);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, f->pki.caCert, strlen(f->pki.caCert)), (ssize_t)strlen(f->pki.caCert));
    close(fd);
    f->config->caFile = caPath;
    FakeTls tls = {.pki = &f->pki, .requireClientCert = false};
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("Authorization: Bearer secret-token"), FAKE_SEND(okPod)), &tls, NULL);
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    unlink(caPath);
    assert_err(&result.err, errOk);
    finishServer(f);
}

static void testTlsUnknownServerIsRefused(void **state)
{
    HttpFixture *f = *state;
    assert_true(testPkiGenerate(&f->pki));
    TestPki other;
    assert_true(testPkiGenerate(&other));
    f->config->caData = (KubeBlob){other.caCert, strlen(other.caCert)};
    FakeTls tls = {.pki = &f->pki, .requireClientCert = false};
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_CLOSE), &tls, &(KubeHttpOptions){.maxAttempts = 1});
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    testPkiFree(&other);
    assert_err(&result.err, errTransport);
    assert_contains(result.err.message, "SSL");
    finishServer(f);
}

static void testTokenFileReadForEachAttempt(void **state)
{
    HttpFixture *f = *state;
    snprintf(f->tokenPath, sizeof(f->tokenPath), "/tmp/pgo-http-token-XXXXXX");
    int fd = mkstemp(f->tokenPath);
    assert_int_equal(write(fd, "token-one\n", 10), 10);
    close(fd);
    f->config->token = NULL;
    f->config->tokenFile = f->tokenPath;
    static const char unavailable[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("Authorization: Bearer token-one\r\n"), FAKE_SEND(unavailable),
                      FAKE_EXPECT("Authorization: Bearer token-two\r\n"), FAKE_SEND(okPod)),
                NULL, &(KubeHttpOptions){.retryBaseMs = 200});
    CallResult result = {0};
    sendGet(f, &result);
    /* Rotate while the first attempt is under way: the retry must send the new token. */
    char newPath[80];
    snprintf(newPath, sizeof(newPath), "%s.new", f->tokenPath);
    FILE *file = fopen(newPath, "w");
    fputs("token-two\n", file);
    fclose(file);
    assert_int_equal(rename(newPath, f->tokenPath), 0);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errOk);
    assert_int_equal(result.attempts, 2);
    finishServer(f);

    /* A token file that vanished fails the send itself. */
    unlink(f->tokenPath);
    KubeRequest request;
    Err err;
    assert_true(kubeRequestGet(f->ctx, &pods, "ns", "p", &request, &err));
    assert_false(kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .arg = &result}, NULL, &err));
    assert_err(&err, errConfig);
    assert_int_equal(kubeHttpActiveCalls(f->http), 0);
}

static void testConcurrentCalls(void **state)
{
    HttpFixture *f = *state;
    /* HTTP/1.1 without pipelining: calls in flight together use a connection each, served one after the other. */
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET /api/v1/namespaces/ns/pods/p "), FAKE_SEND(okPod), FAKE_ACCEPT,
                      FAKE_EXPECT("GET /api/v1/namespaces/ns/pods/p "), FAKE_SEND(okPod), FAKE_ACCEPT,
                      FAKE_EXPECT("GET /api/v1/namespaces/ns/pods/p "), FAKE_SEND(okPod)),
                NULL, NULL);
    CallResult first = {0}, second = {0}, third = {0};
    sendGet(f, &first);
    sendGet(f, &second);
    sendGet(f, &third);
    assert_int_equal(kubeHttpActiveCalls(f->http), 3);
    runUntilDone(f, &first, 5000);
    runUntilDone(f, &second, 5000);
    runUntilDone(f, &third, 5000);
    assert_err(&first.err, errOk);
    assert_err(&second.err, errOk);
    assert_err(&third.err, errOk);
    assert_int_equal(kubeHttpActiveCalls(f->http), 0);
    finishServer(f);
}

static void testTokenFileVanishingBeforeRetry(void **state)
{
    HttpFixture *f = *state;
    snprintf(f->tokenPath, sizeof(f->tokenPath), "/tmp/pgo-http-token-XXXXXX");
    int fd = mkstemp(f->tokenPath);
    assert_int_equal(write(fd, "token\n", 6), 6);
    close(fd);
    f->config->token = NULL;
    f->config->tokenFile = f->tokenPath;
    static const char unavailable[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("Authorization: Bearer token\r\n"), FAKE_SEND(unavailable)), NULL,
                &(KubeHttpOptions){.retryBaseMs = 200});
    CallResult result = {0};
    sendGet(f, &result);
    assert_int_equal(unlink(f->tokenPath), 0);
    runUntilDone(f, &result, 5000);
    assert_err(&result.err, errConfig);
    assert_int_equal(result.attempts, 2);
    assert_int_equal(result.status, 0);
    finishServer(f);
}

static void testTlsClientCertificateFilesAndInsecure(void **state)
{
    HttpFixture *f = *state;
    assert_true(testPkiGenerate(&f->pki));
    char certPath[] = "/tmp/pgo-http-cert-XXXXXX";
    char keyPath[] = "/tmp/pgo-http-key-XXXXXX";
    int certFd = mkstemp(certPath);
    int keyFd = mkstemp(keyPath);
    assert_int_equal(write(certFd, f->pki.clientCert, strlen(f->pki.clientCert)), (ssize_t)strlen(f->pki.clientCert));
    assert_int_equal(write(keyFd, f->pki.clientKey, strlen(f->pki.clientKey)), (ssize_t)strlen(f->pki.clientKey));
    close(certFd);
    close(keyFd);
    f->config->certFile = certPath;
    f->config->keyFile = keyPath;
    f->config->insecureSkipTlsVerify = true; /* no CA given: only this makes the server acceptable */
    FakeTls tls = {.pki = &f->pki, .requireClientCert = true};
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET "), FAKE_SEND(okPod)), &tls, NULL);
    CallResult result = {0};
    sendGet(f, &result);
    runUntilDone(f, &result, 5000);
    unlink(certPath);
    unlink(keyPath);
    assert_err(&result.err, errOk);
    finishServer(f);
}

static void testNewOutOfMemory(void **state)
{
    HttpFixture *f = *state;
    f->config->server = "http://127.0.0.1:1";
    for (uint64_t nth = 1; nth < 100; nth++) {
        MemCtx *ctx = memCtxNew(f->ctx, "client");
        KubeHttp *http;
        Err err;
        allocFailNth(nth);
        bool made = kubeHttpNew(ctx, f->loop, f->config, NULL, &http, &err);
        bool fired = allocFaultFired();
        allocFailNth(0);
        if (!made)
            assert_err(&err, errOutOfMemory);
        memCtxFree(ctx);
        if (!fired)
            return;
    }
    fail_msg("sweep did not end");
}

static void testCancel(void **state)
{
    HttpFixture *f = *state;
    startServer(f,
                STEPS(FAKE_ACCEPT, FAKE_EXPECT("watch=1"), FAKE_SEND(watchHeaders),
                      FAKE_CHUNK("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"), FAKE_SLEEP(300)),
                NULL, NULL);
    CallResult watch = {0}, pending = {0};
    KubeCall *call = sendWatch(f, &watch, 1024);
    watch.cancelOnEvent = call; /* the stream callback cancels its own call */
    Err err;
    Clock clock = clockSystem();
    int64_t deadline = clockMonotonicMs(clock) + 3000;
    while (kubeHttpActiveCalls(f->http) > 0 && clockMonotonicMs(clock) < deadline)
        assert_true(loopRunOnce(f->loop, 20, &err));
    assert_int_equal(kubeHttpActiveCalls(f->http), 0);
    assert_int_equal(watch.eventCount, 1);
    assert_false(watch.done);
    finishServer(f);

    /* Cancelling from outside, before anything happened. */
    KubeCall *get = sendGet(f, &pending);
    kubeCallCancel(get);
    assert_int_equal(kubeHttpActiveCalls(f->http), 0);
    assert_true(loopRunOnce(f->loop, 10, &err));
    assert_false(pending.done);
}

static void testFreeingTheClientStopsCalls(void **state)
{
    HttpFixture *f = *state;
    startServer(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("watch=1"), FAKE_SEND(watchHeaders), FAKE_SLEEP(200)), NULL, NULL);
    MemCtx *clientCtx = memCtxNew(f->ctx, "client");
    KubeHttp *http;
    Err err;
    assert_true(kubeHttpNew(clientCtx, f->loop, f->config, NULL, &http, &err));
    f->http = http;
    CallResult watch = {0};
    sendWatch(f, &watch, 1024);
    for (int round = 0; round < 20; round++)
        assert_true(loopRunOnce(f->loop, 10, &err));
    memCtxFree(clientCtx);
    assert_true(loopRunOnce(f->loop, 10, &err));
    assert_false(watch.done);
    finishServer(f);
}

static void testWatchNeedsStreamCallback(void **state)
{
    HttpFixture *f = *state;
    startServer(f, NULL, 0, NULL, NULL);
    finishServer(f);
    KubeRequest request;
    Err err;
    CallResult result = {0};
    assert_true(kubeRequestWatch(f->ctx, &pods, "ns", NULL, &request, &err));
    assert_false(kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .arg = &result}, NULL, &err));
    assert_err(&err, errInvalidArgument);
}

static void testSendOutOfMemory(void **state)
{
    HttpFixture *f = *state;
    startServer(f, NULL, 0, NULL, NULL);
    finishServer(f);
    KubeRequest request;
    Err err;
    CallResult result = {0};
    assert_true(kubeRequestGet(f->ctx, &pods, "ns", "p", &request, &err));
    for (uint64_t nth = 1; nth < 100; nth++) {
        allocFailNth(nth);
        KubeCall *call = NULL;
        bool sent = kubeHttpSend(f->http, &request, &(KubeCallbacks){.done = onDone, .arg = &result}, &call, &err);
        bool fired = allocFaultFired();
        allocFailNth(0);
        if (sent)
            kubeCallCancel(call);
        else
            assert_err(&err, errOutOfMemory);
        assert_int_equal(kubeHttpActiveCalls(f->http), 0);
        if (!fired)
            return;
    }
    fail_msg("sweep did not end");
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testGetOverPlainHttp, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWritesSendBodies, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testStatusErrorsAreNotRetried, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTooManyRequestsHonoursRetryAfter, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testRetryAfterIsCapped, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testServerErrorsRetriedWithBackoffThenGiveUp, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testResetRetriedOnlyWhenIdempotent, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testConnectionRefused, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWatchSplitAtOddBytes, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWatchGoneEndsWithRelistSignal, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWatchAnsweredWithHttpGone, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWatchOversizedLine, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWatchResetMidStreamIsNotRetried, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSlowBodyTimesOut, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSlowBodyWithinTimeout, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testResponseBound, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTlsWithClientCertificate, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTlsFromFiles, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTlsUnknownServerIsRefused, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTokenFileReadForEachAttempt, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testConcurrentCalls, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTokenFileVanishingBeforeRetry, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTlsClientCertificateFilesAndInsecure, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNewOutOfMemory, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCancel, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testFreeingTheClientStopsCalls, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWatchNeedsStreamCallback, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSendOutOfMemory, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("kube/http", tests, NULL, NULL);
}
