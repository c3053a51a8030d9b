/* Unit tests: controller/lease, against the scripted fake API server, with a fake clock for every decision about
 * time (expiry, renew deadline, timestamps) and attempts made by hand with leaseElectorTick. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "controller/lease.h"
#include "harness/fakeserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS(...) (const FakeStep[]){__VA_ARGS__}, sizeof((const FakeStep[]){__VA_ARGS__}) / sizeof(FakeStep)

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/pgo/leases"
#define JAN_1_2026 INT64_C(1767225600000)

typedef struct LeaseFixture {
    MemCtx *ctx;
    Loop *loop;
    KubeConfig *config;
    KubeHttp *http;
    Metrics *metrics;
    Api *api;
    LeaseElector *elector;
    FakeServer server;
    FakeClock fake;
    int started;
    int stopped;
    int released;
} LeaseFixture;

static void onStarted(void *arg)
{
    ((LeaseFixture *)arg)->started++;
}

static void onStopped(void *arg)
{
    ((LeaseFixture *)arg)->stopped++;
}

static void onReleased(void *arg)
{
    ((LeaseFixture *)arg)->released++;
}

static int setUp(void **state)
{
    LeaseFixture *f = calloc(1, sizeof(*f));
    Err err;
    f->ctx = memCtxNew(NULL, "t");
    f->fake = (FakeClock){.monotonicMs = 5000000, .wallMs = JAN_1_2026};
    if (!loopNew(f->ctx, clockSystem(), &f->loop, &err) || !metricsNew(f->ctx, clockSystem(), &f->metrics, &err))
        return -1;
    f->config = memCtxAlloc(f->ctx, sizeof(*f->config));
    f->config->ctx = f->ctx;
    f->config->namespace = "default";
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    LeaseFixture *f = *state;
    memCtxFree(f->ctx);
    free(f);
    return 0;
}

static void start(LeaseFixture *f, const FakeStep *steps, size_t count)
{
    Err err;
    assert_true(fakeServerStart(&f->server, steps, count, NULL));
    f->config->server = memCtxPrintf(f->ctx, "http://127.0.0.1:%d", f->server.port);
    KubeHttpOptions once = {.maxAttempts = 1};
    LeaseOptions options = {
        .namespace = "pgo",
        .name = "lock",
        .identity = "me",
        .retryPeriodMs = 3600000, /* attempts come from the test */
        .clock = clockFake(&f->fake),
    };
    LeaseCallbacks callbacks = {
        .startedLeading = onStarted, .stoppedLeading = onStopped, .released = onReleased, .arg = f};
    if (!kubeHttpNew(f->ctx, f->loop, f->config, &once, &f->http, &err) ||
        !apiNew(f->ctx, f->http, f->metrics, &f->api, &err) ||
        !leaseElectorNew(f->ctx, f->loop, f->api, NULL, f->metrics, &options, &callbacks, &f->elector, &err))
        fail_msg("%s", err.message);
}

/* Runs the loop until the elector has no request in flight. */
static void settle(LeaseFixture *f)
{
    Clock clock = clockSystem();
    int64_t deadline = clockMonotonicMs(clock) + 5000;
    Err err;
    assert_true(loopRunOnce(f->loop, 0, &err));
    while (apiActiveCalls(f->api) > 0 && clockMonotonicMs(clock) < deadline)
        assert_true(loopRunOnce(f->loop, 10, &err));
    assert_int_equal(apiActiveCalls(f->api), 0);
}

static void tick(LeaseFixture *f)
{
    leaseElectorTick(f->elector);
    settle(f);
}

static const char *response(LeaseFixture *f, const char *status, const char *body)
{
    return memCtxPrintf(f->ctx, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        status, strlen(body), body);
}

static const char *lease(LeaseFixture *f, const char *rv, const char *holder, const char *renewTime, int transitions)
{
    return response(f, "200 OK",
                    memCtxPrintf(f->ctx,
                                 "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
                                 "\"lock\",\"namespace\":\"pgo\",\"resourceVersion\":\"%s\",\"managedFields\":[{}]},"
                                 "\"spec\":{\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":15,\"acquireTime\":"
                                 "\"2025-12-31T23:00:00.000000Z\",\"renewTime\":\"%s\",\"leaseTransitions\":%d}}",
                                 rv, holder, renewTime, transitions));
}

static const char *status(LeaseFixture *f, const char *line, int code, const char *reason)
{
    return response(f, line,
                    memCtxPrintf(f->ctx, "{\"kind\":\"Status\",\"code\":%d,\"reason\":\"%s\",\"message\":\"%s\"}", code,
                                 reason, reason));
}

static double leaderGauge(LeaseFixture *f)
{
    MetricFamily *family;
    MetricSpec spec = {.type = metricGauge, .name = "leader_election_master_status", .labels = {"name"}};
    Err err;
    assert_true(metricsRegister(f->metrics, &spec, &family, &err));
    return metricValue(family, (const char *[]){"lock"});
}

static void testAcquireByCreateRenewRelease(void **state)
{
    LeaseFixture *f = *state;
    start(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(status(f, "404 Not Found", 404, "NotFound")),
                   FAKE_EXPECT("POST " LEASE_PATH " ", "\"holderIdentity\":\"me\"", "\"leaseDurationSeconds\":15",
                               "\"acquireTime\":\"2026-01-01T00:00:00.000000Z\""),
                   FAKE_SEND(lease(f, "1", "me", "2026-01-01T00:00:00.000000Z", 0)),
                   FAKE_EXPECT("PUT " LEASE_PATH "/lock ", "\"resourceVersion\":\"1\"",
                               "\"renewTime\":\"2026-01-01T00:00:02.000000Z\"",
                               "\"acquireTime\":\"2025-12-31T23:00:00.000000Z\""),
                   FAKE_SEND(lease(f, "2", "me", "2026-01-01T00:00:02.000000Z", 0)),
                   FAKE_EXPECT("PUT " LEASE_PATH "/lock ", "\"holderIdentity\":\"\"", "\"leaseDurationSeconds\":1",
                               "\"resourceVersion\":\"2\""),
                   FAKE_SEND(lease(f, "3", "", "2026-01-01T00:00:03.000000Z", 0))));
    assert_false(leaseElectorIsLeader(f->elector));
    assert_true(leaderGauge(f) < 0.5);
    leaseElectorStart(f->elector);
    settle(f); /* GET 404, then create */
    settle(f);
    assert_true(leaseElectorIsLeader(f->elector));
    assert_int_equal(f->started, 1);
    assert_string_equal(leaseElectorHolder(f->elector), "me");
    assert_true(leaderGauge(f) > 0.5);

    fakeClockAdvance(&f->fake, 2000);
    tick(f); /* renew with one PUT, keeping acquireTime */
    assert_true(leaseElectorIsLeader(f->elector));
    assert_int_equal(f->started, 1);

    fakeClockAdvance(&f->fake, 1000);
    leaseElectorRelease(f->elector);
    assert_int_equal(f->released, 0);
    settle(f);
    assert_int_equal(f->released, 1);
    assert_false(leaseElectorIsLeader(f->elector));
    assert_int_equal(f->stopped, 0); /* a release is not a loss */
    assert_true(leaderGauge(f) < 0.5);
    tick(f); /* released: no more attempts */
    assert_true(fakeServerWait(&f->server));
}

static void testWaitsForExpiryMeasuredOnOwnClock(void **state)
{
    LeaseFixture *f = *state;
    start(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(lease(f, "7", "other", "2020-01-01T00:00:00.000000Z", 3)),
                   /* +10 s: the holder renewed: the record changed, so the expiry clock starts again */
                   FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(lease(f, "8", "other", "2020-01-01T00:00:10.000000Z", 3)),
                   /* +24 s: 14 s since the change, still valid */
                   FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(lease(f, "8", "other", "2020-01-01T00:00:10.000000Z", 3)),
                   /* +26 s: 16 s without change: expired, take it over */
                   FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(lease(f, "8", "other", "2020-01-01T00:00:10.000000Z", 3)),
                   FAKE_EXPECT("PUT " LEASE_PATH "/lock ",
                               "\"holderIdentity\":\"me\",\"leaseDurationSeconds\":15,"
                               "\"leaseTransitions\":4",
                               "\"acquireTime\":\"2026-01-01T00:00:26.000000Z\"", "\"resourceVersion\":\"8\""),
                   FAKE_SEND(lease(f, "9", "me", "2026-01-01T00:00:26.000000Z", 4))));
    leaseElectorStart(f->elector);
    settle(f);
    assert_false(leaseElectorIsLeader(f->elector));
    assert_string_equal(leaseElectorHolder(f->elector), "other");
    fakeClockAdvance(&f->fake, 10000);
    tick(f);
    assert_false(leaseElectorIsLeader(f->elector));
    fakeClockAdvance(&f->fake, 14000);
    tick(f);
    assert_false(leaseElectorIsLeader(f->elector));
    fakeClockAdvance(&f->fake, 2000);
    tick(f); /* GET, then the PUT */
    settle(f);
    assert_true(leaseElectorIsLeader(f->elector));
    assert_int_equal(f->started, 1);
    assert_true(fakeServerWait(&f->server));
}

static void testReleasedLeaseIsTakenAtOnce(void **state)
{
    LeaseFixture *f = *state;
    start(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(lease(f, "7", "", "2026-01-01T00:00:00.000000Z", 2)),
                   FAKE_EXPECT("PUT " LEASE_PATH "/lock ", "\"holderIdentity\":\"me\"", "\"leaseTransitions\":3"),
                   FAKE_SEND(lease(f, "8", "me", "2026-01-01T00:00:00.000000Z", 3))));
    leaseElectorStart(f->elector);
    settle(f);
    settle(f);
    assert_true(leaseElectorIsLeader(f->elector));
    assert_true(fakeServerWait(&f->server));
}

static void testCandidatesRaceOneWins(void **state)
{
    LeaseFixture *f = *state;
    start(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(status(f, "404 Not Found", 404, "NotFound")), FAKE_EXPECT("POST " LEASE_PATH " "),
                   FAKE_SEND(status(f, "409 Conflict", 409, "AlreadyExists")), FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(lease(f, "1", "winner", "2026-01-01T00:00:00.000000Z", 0))));
    leaseElectorStart(f->elector);
    settle(f);
    settle(f);
    settle(f);
    assert_false(leaseElectorIsLeader(f->elector));
    assert_string_equal(leaseElectorHolder(f->elector), "winner");
    assert_int_equal(f->started, 0);
    assert_true(fakeServerWait(&f->server));
}

static void testLostToAnotherHolder(void **state)
{
    LeaseFixture *f = *state;
    start(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(status(f, "404 Not Found", 404, "NotFound")), FAKE_EXPECT("POST " LEASE_PATH " "),
                   FAKE_SEND(lease(f, "1", "me", "2026-01-01T00:00:00.000000Z", 0)),
                   FAKE_EXPECT("PUT " LEASE_PATH "/lock ", "\"resourceVersion\":\"1\""),
                   FAKE_SEND(status(f, "409 Conflict", 409, "Conflict")), FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(lease(f, "5", "thief", "2026-01-01T00:00:02.000000Z", 1))));
    leaseElectorStart(f->elector);
    settle(f);
    settle(f);
    assert_true(leaseElectorIsLeader(f->elector));
    fakeClockAdvance(&f->fake, 2000);
    tick(f);
    settle(f);
    assert_false(leaseElectorIsLeader(f->elector));
    assert_int_equal(f->stopped, 1);
    assert_string_equal(leaseElectorHolder(f->elector), "thief");
    assert_true(leaderGauge(f) < 0.5);
    tick(f); /* lost is final */
    assert_int_equal(f->stopped, 1);
    leaseElectorRelease(f->elector);
    assert_int_equal(f->released, 1); /* nothing to give up */
    assert_true(fakeServerWait(&f->server));
}

static void testLostWhenRenewalsFailPastTheDeadline(void **state)
{
    LeaseFixture *f = *state;
    start(f, STEPS(FAKE_ACCEPT, FAKE_EXPECT("GET " LEASE_PATH "/lock "),
                   FAKE_SEND(status(f, "404 Not Found", 404, "NotFound")), FAKE_EXPECT("POST " LEASE_PATH " "),
                   FAKE_SEND(lease(f, "1", "me", "2026-01-01T00:00:00.000000Z", 0)),
                   FAKE_EXPECT("PUT " LEASE_PATH "/lock "),
                   FAKE_SEND(status(f, "500 Internal Server Error", 500, "InternalError")),
                   FAKE_EXPECT("PUT " LEASE_PATH "/lock "),
                   FAKE_SEND(status(f, "500 Internal Server Error", 500, "InternalError"))));
    leaseElectorStart(f->elector);
    settle(f);
    settle(f);
    assert_true(leaseElectorIsLeader(f->elector));
    fakeClockAdvance(&f->fake, 4000);
    tick(f);
    assert_true(leaseElectorIsLeader(f->elector)); /* 4 s without renewal: within the 10 s deadline */
    fakeClockAdvance(&f->fake, 4000);
    tick(f);
    assert_true(leaseElectorIsLeader(f->elector));
    fakeClockAdvance(&f->fake, 2000);
    leaseElectorTick(f->elector); /* 10 s: lost, without another request */
    assert_false(leaseElectorIsLeader(f->elector));
    assert_int_equal(f->stopped, 1);
    assert_int_equal(apiActiveCalls(f->api), 0);
    assert_true(fakeServerWait(&f->server));
}

static void testReleaseWhenNotLeading(void **state)
{
    LeaseFixture *f = *state;
    start(f, NULL, 0);
    leaseElectorRelease(f->elector);
    assert_int_equal(f->released, 1);
    assert_int_equal(apiActiveCalls(f->api), 0);
    assert_true(fakeServerWait(&f->server));
}

static void testTimesAndIdentity(void **state)
{
    (void)state;
    char micro[LEASE_MICROTIME_SIZE];
    leaseFormatMicroTime(JAN_1_2026 + 1234, micro);
    assert_string_equal(micro, "2026-01-01T00:00:01.234000Z");
    char identity[LEASE_IDENTITY_MAX];
    Err err;
    assert_true(leaseIdentityNew(identity, &err));
    const char *underscore = strrchr(identity, '_');
    assert_non_null(underscore);
    assert_int_equal(strlen(underscore + 1), 16);
    char other[LEASE_IDENTITY_MAX];
    assert_true(leaseIdentityNew(other, &err));
    assert_string_not_equal(identity, other);

    MemCtx *ctx = memCtxNew(NULL, "t");
    Loop *loop;
    LeaseElector *elector;
    assert_true(loopNew(ctx, clockSystem(), &loop, &err));
    assert_false(leaseElectorNew(ctx, loop, NULL, NULL, NULL, &(LeaseOptions){.name = "x", .namespace = "y"}, NULL,
                                 &elector, &err));
    assert_err(&err, errInvalidArgument);
    memCtxFree(ctx);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testAcquireByCreateRenewRelease, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWaitsForExpiryMeasuredOnOwnClock, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testReleasedLeaseIsTakenAtOnce, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCandidatesRaceOneWins, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLostToAnotherHolder, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLostWhenRenewalsFailPastTheDeadline, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testReleaseWhenNotLeading, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTimesAndIdentity, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("controller/lease", tests, NULL, NULL);
}
