/* Unit tests: controller/manager (informer events -> owning key -> work queue -> reconcile), against the scripted
 * fake API server, without leader election (the scripted server serves one connection at a time; election is
 * covered by test_lease and by the integration test).
 *
 * The sync gate (no reconcile before every informer has listed) is tested with a second informer, of Secrets. The
 * server answers one connection at a time, in the order the client connected, and which informer connects first is
 * the client's business; so both lists carry the same items (named and labelled after their cluster), and each test
 * makes the first connection's informer either the early one or the late one. Together the tests leave every
 * informer late once, whatever the order. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "controller/manager.h"
#include "harness/fakeserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS(...) (const FakeStep[]){__VA_ARGS__}, sizeof((const FakeStep[]){__VA_ARGS__}) / sizeof(FakeStep)

static const char watchHeaders[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n";

static const KubeResource clusters = {"postgres-operator.crunchydata.com", "v1beta1", "postgresclusters", true};
static const KubeResource secrets = {"", "v1", "secrets", true};
static const char clusterLabel[] = "postgres-operator.crunchydata.com/cluster";

typedef struct ManagerFixture {
    MemCtx *ctx;
    Loop *loop;
    KubeConfig *config;
    KubeHttp *http;
    Metrics *metrics;
    Api *api;
    Manager *manager;
    Informer *informer;
    bool watchSecrets; /* start() adds an informer of Secrets, mapped by the cluster label */
    Informer *secrets; /* that informer */
    bool sawOneSynced; /* the loop ran while exactly one of the two informers had synced */
    FakeServer server;
    SplitMix splitMix;
    char reconciled[2048]; /* "ns/a;ns/b;" */
    int calls;
    bool hold; /* keep reconciles open in held[] */
    Reconcile *held[8];
    int heldCount;
    int failFirst; /* that many reconciles fail */
    int64_t requeueAfterMs;
    int requeueAfterCalls;
} ManagerFixture;

static void onReconcile(void *arg, Reconcile *reconcile)
{
    ManagerFixture *f = arg;
    /* The gate: a reconcile reads every cache, so none runs before each informer has listed. */
    if (f->secrets != NULL && !(informerSynced(f->informer) && informerSynced(f->secrets)))
        fail_msg("%s reconciled before every informer had synced (clusters %d, secrets %d)", reconcile->key,
                 informerSynced(f->informer), informerSynced(f->secrets));
    size_t used = strlen(f->reconciled);
    snprintf(f->reconciled + used, sizeof(f->reconciled) - used, "%s;", reconcile->key);
    f->calls++;
    assert_string_equal(reconcile->namespace, "ns");
    assert_true(strncmp(reconcile->key, "ns/", 3) == 0 && strcmp(reconcile->name, reconcile->key + 3) == 0);
    if (f->hold) {
        assert_true(f->heldCount < 8);
        f->held[f->heldCount++] = reconcile;
        return;
    }
    if (f->failFirst > 0) {
        f->failFirst--;
        Err err;
        errSet(&err, errKubeServer, "boom");
        reconcileFinish(reconcile, reconcileError, 0, &err);
        return;
    }
    if (f->requeueAfterCalls > 0) {
        f->requeueAfterCalls--;
        reconcileFinish(reconcile, reconcileRequeueAfter, f->requeueAfterMs, NULL);
        return;
    }
    reconcileFinish(reconcile, reconcileSuccess, 0, NULL);
}

static int setUp(void **state)
{
    ManagerFixture *f = calloc(1, sizeof(*f));
    Err err;
    f->ctx = memCtxNew(NULL, "t");
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
    ManagerFixture *f = *state;
    memCtxFree(f->ctx);
    free(f);
    return 0;
}

static void start(ManagerFixture *f, const FakeStep *steps, size_t count, const ManagerOptions *extra)
{
    Err err;
    assert_true(fakeServerStart(&f->server, steps, count, NULL));
    f->config->server = memCtxPrintf(f->ctx, "http://127.0.0.1:%d", f->server.port);
    ManagerOptions options = extra != NULL ? *extra : (ManagerOptions){0};
    options.controller = "postgrescluster";
    options.reconcile = onReconcile;
    options.arg = f;
    options.queue.rng = rngSplitMix(&f->splitMix, 3);
    options.queue.baseDelayMs = 20;
    options.queue.maxDelayMs = 40;
    static const char *const namespaces[] = {"ns"};
    /* A failed list is retried within 10-20 ms. */
    InformerOptions informer = {
        .resource = clusters, .namespaces = namespaces, .namespaceCount = 1, .backoffBaseMs = 20};
    InformerOptions secretInformer = informer;
    secretInformer.resource = secrets;
    if (!kubeHttpNew(f->ctx, f->loop, f->config, &(KubeHttpOptions){.maxAttempts = 1}, &f->http, &err) ||
        !apiNew(f->ctx, f->http, f->metrics, &f->api, &err) ||
        !managerNew(f->ctx, f->loop, f->api, NULL, f->metrics, &options, &f->manager, &err) ||
        !managerWatch(f->manager, &informer, managerMapSelf, NULL, &f->informer, &err) ||
        (f->watchSecrets &&
         !managerWatch(f->manager, &secretInformer, managerMapLabel, clusterLabel, &f->secrets, &err)))
        fail_msg("%s", err.message);
    managerStart(f->manager);
}

/* Notes whether one informer has synced and the other not (with two). */
static void noteSync(ManagerFixture *f)
{
    if (f->secrets != NULL && informerSynced(f->informer) != informerSynced(f->secrets))
        f->sawOneSynced = true;
}

/* Runs the loop until cond(f) holds (at most 5 s). */
static void runUntil(ManagerFixture *f, bool (*cond)(ManagerFixture *f), const char *what)
{
    Clock clock = clockSystem();
    int64_t deadline = clockMonotonicMs(clock) + 5000;
    Err err;
    while (!cond(f)) {
        if (clockMonotonicMs(clock) >= deadline)
            fail_msg("timed out waiting for %s; reconciled: %s", what, f->reconciled);
        assert_true(loopRunOnce(f->loop, 10, &err));
        noteSync(f);
    }
}

static void runFor(ManagerFixture *f, int64_t ms)
{
    Clock clock = clockSystem();
    int64_t until = clockMonotonicMs(clock) + ms;
    Err err;
    while (clockMonotonicMs(clock) < until) {
        assert_true(loopRunOnce(f->loop, 5, &err));
        noteSync(f);
    }
}

static const char *ok(ManagerFixture *f, const char *body)
{
    return memCtxPrintf(f->ctx, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        strlen(body), body);
}

static const char *list(ManagerFixture *f, const char *names, const char *rv)
{
    char items[1024] = "";
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", names);
    for (char *save, *name = strtok_r(copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
        size_t used = strlen(items);
        snprintf(items + used, sizeof(items) - used,
                 "%s{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"resourceVersion\":\"1\","
                 "\"labels\":{\"%s\":\"%s\"}}}",
                 used > 0 ? "," : "", name, clusterLabel, name);
    }
    return ok(f, memCtxPrintf(f->ctx,
                              "{\"kind\":\"PostgresClusterList\",\"apiVersion\":\"v1beta1\",\"metadata\":{"
                              "\"resourceVersion\":\"%s\"},\"items\":[%s]}",
                              rv, items));
}

static const char *event(ManagerFixture *f, const char *type, const char *name, const char *rv)
{
    return memCtxPrintf(f->ctx,
                        "{\"type\":\"%s\",\"object\":{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\","
                        "\"resourceVersion\":\"%s\"}}}\n",
                        type, name, rv);
}

static double metric(ManagerFixture *f, const MetricSpec *spec, const char *const *labels)
{
    MetricFamily *family;
    Err err;
    assert_true(metricsRegister(f->metrics, spec, &family, &err));
    return metricValue(family, labels);
}

static double reconciles(ManagerFixture *f, const char *result)
{
    MetricSpec spec = {
        .type = metricCounter, .name = "controller_runtime_reconcile_total", .labels = {"controller", "result"}};
    return metric(f, &spec, (const char *[]){"postgrescluster", result});
}

static bool twoCalls(ManagerFixture *f)
{
    return f->calls >= 2;
}

static bool fiveCalls(ManagerFixture *f)
{
    return f->calls >= 5;
}

static bool finished(ManagerFixture *f)
{
    return managerFinished(f->manager, NULL);
}

static void testEventsReachReconcile(void **state)
{
    ManagerFixture *f = *state;
    char events[1024];
    snprintf(events, sizeof(events), "%s%s%s", event(f, "MODIFIED", "a", "11"), event(f, "ADDED", "c", "12"),
             event(f, "DELETED", "b", "13"));
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(100),
                FAKE_CHUNK(events), FAKE_SLEEP(500)),
          NULL);
    assert_false(managerReady(f->manager));
    runUntil(f, twoCalls, "the listed clusters");
    assert_true(managerReady(f->manager));
    assert_true(managerLeading(f->manager));
    assert_string_equal(f->reconciled, "ns/a;ns/b;");
    runUntil(f, fiveCalls, "the watched changes");
    assert_string_equal(f->reconciled, "ns/a;ns/b;ns/a;ns/c;ns/b;");
    assert_true(reconciles(f, "success") > 4.5);
    assert_int_equal(managerActiveReconciles(f->manager), 0);
    MetricSpec api = {.type = metricCounter, .name = "pgo_api_requests_total", .labels = {"verb", "code"}};
    assert_true(metric(f, &api, (const char *[]){"list", "200"}) > 0.5);

    StrBuf out;
    strBufInit(&out, f->ctx, 4096);
    Err err;
    assert_true(managerDumpCaches(f->manager, &out, &err));
    assert_string_equal(strBufStr(&out), "# postgresclusters.postgres-operator.crunchydata.com\nns/a 11\nns/c 12\n");
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown");
    assert_true(fakeServerWait(&f->server));
}

static void testErrorsRetryWithBackoffAndRequeueAfter(void **state)
{
    ManagerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1500)),
          NULL);
    f->failFirst = 2;
    f->requeueAfterCalls = 1;
    f->requeueAfterMs = 200;
    Clock clock = clockSystem();
    int64_t started = clockMonotonicMs(clock);
    /* fail, fail (backoff 10-20, then 20-40 ms), requeue after 200 ms, success */
    runUntil(f, twoCalls, "the first retry");
    runFor(f, 100);
    assert_int_equal(f->calls, 3);
    runFor(f, 250);
    assert_int_equal(f->calls, 4);
    assert_true(clockMonotonicMs(clock) - started >= 200);
    assert_string_equal(f->reconciled, "ns/a;ns/a;ns/a;ns/a;");
    assert_true(reconciles(f, "error") > 1.5 && reconciles(f, "error") < 2.5);
    assert_true(reconciles(f, "requeue_after") > 0.5);
    assert_true(reconciles(f, "success") > 0.5);
    runFor(f, 100);
    assert_int_equal(f->calls, 4); /* success: no more */
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown");
    assert_true(fakeServerWait(&f->server));
}

static bool oneHeld(ManagerFixture *f)
{
    return f->heldCount >= 1;
}

static void testShutdownWaitsForReconcilesInFlight(void **state)
{
    ManagerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1000)),
          NULL);
    f->hold = true;
    runUntil(f, oneHeld, "a reconcile");
    assert_int_equal(managerActiveReconciles(f->manager), 1);
    managerShutdown(f->manager);
    assert_false(managerReady(f->manager));
    runFor(f, 150);
    int status = -1;
    assert_false(managerFinished(f->manager, &status));
    reconcileFinish(f->held[0], reconcileSuccess, 0, NULL);
    runUntil(f, finished, "the shutdown");
    assert_true(managerFinished(f->manager, &status));
    assert_int_equal(status, 0);
    managerShutdown(f->manager); /* idempotent */
    assert_true(fakeServerWait(&f->server));
}

static void testShutdownDeadline(void **state)
{
    ManagerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1000)),
          &(ManagerOptions){.shutdownTimeoutMs = 100, .workers = 1});
    f->hold = true;
    runUntil(f, oneHeld, "a reconcile");
    runFor(f, 50);
    assert_int_equal(f->heldCount, 1); /* one worker */
    Clock clock = clockSystem();
    int64_t started = clockMonotonicMs(clock);
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown deadline");
    assert_true(clockMonotonicMs(clock) - started >= 100);
    assert_int_equal(f->heldCount, 1); /* nothing new started while shutting down */
    /* Freeing the manager with the reconcile open releases it (the sanitizers check). */
    assert_true(fakeServerWait(&f->server));
}

static bool resynced(ManagerFixture *f)
{
    return f->calls >= 3;
}

static void testResync(void **state)
{
    ManagerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1000)),
          &(ManagerOptions){.resyncPeriodMs = 150});
    runUntil(f, resynced, "two resyncs");
    assert_string_equal(f->reconciled, "ns/a;ns/a;ns/a;");
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown");
    assert_true(fakeServerWait(&f->server));
}

static bool oneSynced(ManagerFixture *f)
{
    return informerSynced(f->informer) != informerSynced(f->secrets);
}

/* Both informers have listed a and b, once each, and nothing else was reconciled. */
static void assertBothListedOnce(ManagerFixture *f)
{
    assert_true(informerSynced(f->informer) && informerSynced(f->secrets));
    assert_int_equal(informerListCount(f->informer), 1);
    assert_int_equal(informerListCount(f->secrets), 1);
    assert_int_equal(storeCount(informerStore(f->informer)), 2);
    assert_int_equal(storeCount(informerStore(f->secrets)), 2);
    assert_true(f->sawOneSynced);
    /* Queued twice while the gate held (once per informer), reconciled once. */
    assert_string_equal(f->reconciled, "ns/a;ns/b;");
}

/* One informer has listed, the other not yet: no reconcile while it waits; then each cluster once. */
static void assertGateThenReconciles(ManagerFixture *f, const char *firstList)
{
    runUntil(f, oneSynced, firstList);
    runFor(f, 200);
    assert_true(oneSynced(f));
    assert_false(managerReady(f->manager));
    assert_int_equal(f->calls, 0);
    runUntil(f, twoCalls, "the reconciles once both have listed");
    runFor(f, 100);
    assertBothListedOnce(f);
}

/* The first informer to connect lists at once; the other's list waits 400 ms for an answer. */
static void testReconcilesWaitForTheLastList(void **state)
{
    ManagerFixture *f = *state;
    f->watchSecrets = true;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(400),
                /* Closes the first watch (its informer watches again, and waits), answers the second list. */
                FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "20")),
                FAKE_EXPECT("?watch=1&resourceVersion=20&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(500)),
          NULL);
    assertGateThenReconciles(f, "the first list");
    assert_true(managerReady(f->manager));
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown");
    assert_true(fakeServerWait(&f->server));
}

/* The first informer to connect gets a 500 and lists again after its backoff; the other lists in between. */
static void testReconcilesWaitForAListRetried(void **state)
{
    ManagerFixture *f = *state;
    static const char failure[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                                  "\"etcd timed out\",\"reason\":\"InternalError\",\"code\":500}";
    const char *serverError = memCtxPrintf(f->ctx,
                                           "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                           "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                                           strlen(failure), failure);
    f->watchSecrets = true;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(serverError), FAKE_CLOSE,
                /* The other informer's list, waiting since the start: answered; the retry waits behind it. */
                FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(400),
                /* The retry. */
                FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "20")),
                FAKE_EXPECT("?watch=1&resourceVersion=20&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(500)),
          NULL);
    assertGateThenReconciles(f, "the first list to succeed");
    MetricSpec api = {.type = metricCounter, .name = "pgo_api_requests_total", .labels = {"verb", "code"}};
    assert_true(metric(f, &api, (const char *[]){"list", "500"}) > 0.5);
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown");
    assert_true(fakeServerWait(&f->server));
}

/* One informer lists; the other's list is never answered: no reconcile in a second of running the loop. */
static void testNoReconcileWhileAnInformerNeverSyncs(void **state)
{
    ManagerFixture *f = *state;
    f->watchSecrets = true;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1200)),
          NULL);
    runUntil(f, oneSynced, "the first list");
    runFor(f, 1000);
    assert_true(oneSynced(f));
    assert_false(managerReady(f->manager));
    assert_int_equal(f->calls, 0);
    assert_true(reconciles(f, "success") < 0.5);
    assert_int_equal(storeCount(informerStore(f->informer)) + storeCount(informerStore(f->secrets)), 2);
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown");
    assert_int_equal(f->calls, 0);
    assert_true(fakeServerWait(&f->server));
}

static void testMapping(void **state)
{
    (void)state;
    char key[STORE_KEY_MAX];
    json_t *pod =
        json_pack("{s:{s:s, s:s, s:{s:s}, s:[{s:s, s:s, s:b}, {s:s, s:s, s:b}]}}", "metadata", "name",
                  "hippo-instance1-abcd-0", "namespace", "ns", "labels", "postgres-operator.crunchydata.com/cluster",
                  "hippo", "ownerReferences", "kind", "PostgresCluster", "name", "not-controller", "controller", 0,
                  "kind", "PostgresCluster", "name", "hippo", "controller", 1);
    assert_true(managerMapSelf(NULL, pod, key));
    assert_string_equal(key, "ns/hippo-instance1-abcd-0");
    assert_true(managerMapControllerOwner("PostgresCluster", pod, key));
    assert_string_equal(key, "ns/hippo");
    assert_false(managerMapControllerOwner("PGUpgrade", pod, key));
    assert_true(managerMapLabel("postgres-operator.crunchydata.com/cluster", pod, key));
    assert_string_equal(key, "ns/hippo");
    assert_false(managerMapLabel("other", pod, key));
    json_t *node = json_pack("{s:{s:s}}", "metadata", "name", "node-1");
    assert_true(managerMapSelf(NULL, node, key));
    assert_string_equal(key, "node-1");
    json_t *nameless = json_object();
    assert_false(managerMapSelf(NULL, nameless, key));
    json_decref(pod);
    json_decref(node);
    json_decref(nameless);
}

static bool onStoreChange(void *arg, StoreEventType type, const json_t *oldObject, const json_t *newObject, Err *err)
{
    (void)arg;
    (void)type;
    (void)oldObject;
    (void)newObject;
    (void)err;
    return true;
}

static void testOptionsChecked(void **state)
{
    ManagerFixture *f = *state;
    Err err;
    Manager *manager;
    assert_false(managerNew(f->ctx, f->loop, NULL, NULL, NULL, &(ManagerOptions){0}, &manager, &err));
    assert_err(&err, errInvalidArgument);
    assert_true(managerNew(f->ctx, f->loop, NULL, NULL, NULL,
                           &(ManagerOptions){.controller = "c", .reconcile = onReconcile, .arg = f}, &manager, &err));
    InformerOptions withHandler = {.resource = clusters, .store = {.handler = onStoreChange}};
    assert_false(managerWatch(manager, &withHandler, managerMapSelf, NULL, NULL, &err));
    assert_err(&err, errInvalidArgument);
    managerShutdown(manager); /* never started: finished at once */
    int status = -1;
    assert_true(managerFinished(manager, &status));
    assert_int_equal(status, 0);
    InformerOptions plain = {.resource = clusters};
    assert_false(managerWatch(manager, &plain, managerMapSelf, NULL, NULL, &err));
    assert_err(&err, errInvalidArgument);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testEventsReachReconcile, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testErrorsRetryWithBackoffAndRequeueAfter, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testShutdownWaitsForReconcilesInFlight, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testShutdownDeadline, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testResync, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testReconcilesWaitForTheLastList, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testReconcilesWaitForAListRetried, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNoReconcileWhileAnInformerNeverSyncs, setUp, tearDown),
        cmocka_unit_test(testMapping),
        cmocka_unit_test_setup_teardown(testOptionsChecked, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("controller/manager", tests, NULL, NULL);
}
