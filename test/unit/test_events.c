/* Unit tests: controller/events (Events with de-duplication) against the scripted fake API server. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "controller/events.h"
#include "harness/fakeserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS(...) (const FakeStep[]){__VA_ARGS__}, sizeof((const FakeStep[]){__VA_ARGS__}) / sizeof(FakeStep)

#define JAN_1_2026 INT64_C(1767225600000)

typedef struct EventsFixture {
    MemCtx *ctx;
    Loop *loop;
    KubeConfig *config;
    KubeHttp *http;
    Api *api;
    EventRecorder *recorder;
    FakeServer server;
    FakeClock fake;
    json_t *cluster;
} EventsFixture;

static int setUp(void **state)
{
    EventsFixture *f = calloc(1, sizeof(*f));
    Err err;
    f->ctx = memCtxNew(NULL, "t");
    f->fake = (FakeClock){.monotonicMs = 1000, .wallMs = JAN_1_2026};
    if (!loopNew(f->ctx, clockSystem(), &f->loop, &err))
        return -1;
    f->config = memCtxAlloc(f->ctx, sizeof(*f->config));
    f->config->ctx = f->ctx;
    f->config->namespace = "default";
    f->cluster = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "apiVersion",
                           "postgres-operator.crunchydata.com/v1beta1", "kind", "PostgresCluster", "metadata", "name",
                           "hippo", "namespace", "ns", "uid", "uid-1", "resourceVersion", "42");
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    EventsFixture *f = *state;
    memCtxFree(f->ctx);
    json_decref(f->cluster);
    free(f);
    return 0;
}

static void start(EventsFixture *f, const FakeStep *steps, size_t count, size_t maxInFlight, size_t cacheSize)
{
    Err err;
    assert_true(fakeServerStart(&f->server, steps, count, NULL));
    f->config->server = memCtxPrintf(f->ctx, "http://127.0.0.1:%d", f->server.port);
    KubeHttpOptions once = {.maxAttempts = 1};
    EventRecorderOptions options = {
        .component = "postgrescluster-controller",
        .instance = "pod-1",
        .maxInFlight = maxInFlight,
        .cacheSize = cacheSize,
        .clock = clockFake(&f->fake),
    };
    if (!kubeHttpNew(f->ctx, f->loop, f->config, &once, &f->http, &err) ||
        !apiNew(f->ctx, f->http, NULL, &f->api, &err) ||
        !eventRecorderNew(f->ctx, f->loop, f->api, NULL, NULL, &options, &f->recorder, &err))
        fail_msg("%s", err.message);
}

static void settle(EventsFixture *f)
{
    Clock clock = clockSystem();
    int64_t deadline = clockMonotonicMs(clock) + 5000;
    Err err;
    while ((apiActiveCalls(f->api) > 0 || eventRecorderWaiting(f->recorder) > 0) && clockMonotonicMs(clock) < deadline)
        assert_true(loopRunOnce(f->loop, 10, &err));
    assert_int_equal(apiActiveCalls(f->api), 0);
}

static void record(EventsFixture *f, EventType type, const char *reason, const char *message)
{
    Err err;
    if (!eventRecord(f->recorder, f->cluster, type, reason, message, &err))
        fail_msg("%s", err.message);
}

static const char *response(EventsFixture *f, const char *status, const char *body)
{
    return memCtxPrintf(f->ctx, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        status, strlen(body), body);
}

#define EVENTS_PATH "/api/v1/namespaces/ns/events"

static void testRepetitionsBumpTheCount(void **state)
{
    EventsFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT,
                FAKE_EXPECT("POST " EVENTS_PATH " ",
                            "\"involvedObject\":{\"apiVersion\":\"postgres-operator.crunchydata.com/v1beta1\",\"kind\":"
                            "\"PostgresCluster\",\"name\":\"hippo\",\"namespace\":\"ns\",\"resourceVersion\":\"42\","
                            "\"uid\":\"uid-1\"}",
                            "\"count\":1,\"firstTimestamp\":\"2026-01-01T00:00:00.000Z\",\"involvedObject\"",
                            "\"metadata\":{\"name\":\"hippo.18"),
                FAKE_SEND(response(f, "201 Created", "{}")),
                FAKE_EXPECT("PATCH " EVENTS_PATH "/hippo.18", "application/merge-patch+json",
                            "{\"count\":2,\"lastTimestamp\":\"2026-01-01T00:00:05.000Z\"}"),
                FAKE_SEND(response(f, "200 OK", "{}")),
                FAKE_EXPECT("POST " EVENTS_PATH " ", "\"message\":\"other message\"", "\"type\":\"Warning\"",
                            "\"reason\":\"MissingRequiredImage\""),
                FAKE_SEND(response(f, "201 Created", "{}"))),
          0, 0);
    record(f, eventWarning, "MissingRequiredImage", "no image for PostgreSQL 17");
    settle(f);
    fakeClockAdvance(&f->fake, 5000);
    record(f, eventWarning, "MissingRequiredImage", "no image for PostgreSQL 17");
    settle(f);
    record(f, eventWarning, "MissingRequiredImage", "other message");
    settle(f);
    assert_int_equal(eventRecorderCached(f->recorder), 2);
    assert_true(fakeServerWait(&f->server));
}

static void testRepetitionsInFlightFoldIntoOnePatch(void **state)
{
    EventsFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("POST " EVENTS_PATH " ", "\"count\":1,"), FAKE_SLEEP(100),
                FAKE_SEND(response(f, "201 Created", "{}")), FAKE_EXPECT("PATCH " EVENTS_PATH "/", "{\"count\":4,"),
                FAKE_SEND(response(f, "200 OK", "{}"))),
          0, 0);
    for (int repetition = 0; repetition < 4; repetition++)
        record(f, eventNormal, "Created", "created the primary Service");
    assert_int_equal(eventRecorderInFlight(f->recorder), 1);
    settle(f);
    assert_int_equal(eventRecorderInFlight(f->recorder), 0);
    assert_true(fakeServerWait(&f->server));
}

static void testExpiredEventIsCreatedAgain(void **state)
{
    EventsFixture *f = *state;
    static const char notFound[] = "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\",\"message\":\"gone\"}";
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("POST " EVENTS_PATH " ", "\"count\":1,"),
                FAKE_SEND(response(f, "201 Created", "{}")), FAKE_EXPECT("PATCH " EVENTS_PATH "/", "{\"count\":2,"),
                FAKE_SEND(response(f, "404 Not Found", notFound)),
                FAKE_EXPECT("POST " EVENTS_PATH " ", "\"count\":2,", "\"lastTimestamp\":\"2026-01-01T01:00:00.000Z\""),
                FAKE_SEND(response(f, "201 Created", "{}"))),
          0, 0);
    record(f, eventNormal, "Created", "x");
    settle(f);
    fakeClockAdvance(&f->fake, 3600 * 1000);
    record(f, eventNormal, "Created", "x");
    settle(f);
    assert_int_equal(eventRecorderCached(f->recorder), 1);
    assert_true(fakeServerWait(&f->server));
}

static void testFailedWriteIsForgottenAndInFlightIsBounded(void **state)
{
    EventsFixture *f = *state;
    static const char forbidden[] = "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\",\"message\":\"no\"}";
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("POST " EVENTS_PATH " ", "\"message\":\"one\""),
                FAKE_SEND(response(f, "403 Forbidden", forbidden)),
                FAKE_EXPECT("POST " EVENTS_PATH " ", "\"message\":\"two\""),
                FAKE_SEND(response(f, "201 Created", "{}")),
                FAKE_EXPECT("POST " EVENTS_PATH " ", "\"message\":\"one\"", "\"count\":1,"),
                FAKE_SEND(response(f, "201 Created", "{}"))),
          1, 0);
    record(f, eventNormal, "R", "one");
    record(f, eventNormal, "R", "two"); /* waits for the one slot */
    assert_int_equal(eventRecorderInFlight(f->recorder), 1);
    assert_int_equal(eventRecorderWaiting(f->recorder), 1);
    settle(f);
    assert_int_equal(eventRecorderCached(f->recorder), 1); /* "one" failed and was forgotten */
    record(f, eventNormal, "R", "one");
    settle(f);
    assert_true(fakeServerWait(&f->server));
}

static void testCacheIsBounded(void **state)
{
    EventsFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("\"message\":\"a\""), FAKE_SEND(response(f, "201 Created", "{}")),
                FAKE_EXPECT("\"message\":\"b\""), FAKE_SEND(response(f, "201 Created", "{}")),
                FAKE_EXPECT("\"message\":\"c\""), FAKE_SEND(response(f, "201 Created", "{}")),
                FAKE_EXPECT("POST ", "\"message\":\"a\"", "\"count\":1,"), FAKE_SEND(response(f, "201 Created", "{}"))),
          0, 2);
    record(f, eventNormal, "R", "a");
    settle(f);
    record(f, eventNormal, "R", "b");
    settle(f);
    record(f, eventNormal, "R", "c");
    settle(f);
    assert_int_equal(eventRecorderCached(f->recorder), 2);
    record(f, eventNormal, "R", "a"); /* forgotten: a new Event */
    settle(f);
    assert_true(fakeServerWait(&f->server));
}

static void testLongNamesAndMessages(void **state)
{
    EventsFixture *f = *state;
    char name[254], message[2000];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    memset(message, 'm', sizeof(message) - 1);
    message[sizeof(message) - 1] = '\0';
    json_object_set_new(json_object_get(f->cluster, "metadata"), "name", json_string(name));
    json_object_del(json_object_get(f->cluster, "metadata"), "namespace");
    char expectMessage[1100];
    snprintf(expectMessage, sizeof(expectMessage), "\"message\":\"%.1024s\"", message);
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("POST /api/v1/namespaces/default/events ", expectMessage),
                FAKE_SEND(response(f, "201 Created", "{}"))),
          0, 0);
    record(f, eventNormal, "R", message);
    settle(f);
    assert_true(fakeServerWait(&f->server));
    Err err;
    MemCtx *ctx = memCtxNew(NULL, "t2");
    EventRecorder *recorder;
    assert_false(eventRecorderNew(ctx, f->loop, f->api, NULL, NULL, &(EventRecorderOptions){0}, &recorder, &err));
    assert_err(&err, errInvalidArgument);
    memCtxFree(ctx);
}

static void testOutOfMemory(void **state)
{
    EventsFixture *f = *state;
    start(f, NULL, 0, 0, 0);
    /* Every allocation of a first recording fails in turn; none may leak or half-register the event. */
    bool sawFailure = false;
    for (uint64_t nth = 1; nth < 200; nth++) {
        Err err;
        allocFailNth(nth);
        bool ok = eventRecord(f->recorder, f->cluster, eventNormal, "R", "m", &err);
        bool fired = allocFaultFired();
        allocFailNth(0);
        if (!fired) {
            assert_true(ok);
            break;
        }
        if (!ok) {
            sawFailure = true;
            assert_err(&err, errOutOfMemory);
            assert_int_equal(eventRecorderCached(f->recorder), 0);
        } else {
            /* The recording got through and its write failed to start: forgotten. */
            if (apiActiveCalls(f->api) != 0)
                fail_msg("allocation %d", (int)nth);
            assert_int_equal(apiActiveCalls(f->api), 0);
            assert_int_equal(eventRecorderCached(f->recorder), 0);
        }
    }
    assert_true(sawFailure);
    memCtxFree(f->ctx); /* with the one write in flight: cancelled */
    f->ctx = NULL;
    assert_true(fakeServerWait(&f->server));
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testRepetitionsBumpTheCount, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testRepetitionsInFlightFoldIntoOnePatch, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testExpiredEventIsCreatedAgain, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testFailedWriteIsForgottenAndInFlightIsBounded, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCacheIsBounded, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLongNamesAndMessages, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testOutOfMemory, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("controller/events", tests, NULL, NULL);
}
