/* Unit tests: controller/manager (informer events -> each controller's keys -> its work queue -> its reconciles),
 * against the scripted fake API server, without leader election (the scripted server serves one connection at a
 * time; election is covered by test_lease and by the integration test).
 *
 * Most tests run one controller, "postgrescluster". The tests of several controllers add "pgupgrade", which maps a
 * cluster "x" to the key "ns/upgrade-x", so each controller's keys show which map made them.
 *
 * The sync gate (no reconcile before every informer of the controller has listed) is tested with a second informer,
 * of Secrets. The server answers one connection at a time, in the order the client connected, and which informer
 * connects first is the client's business; so both lists carry the same items (named and labelled after their
 * cluster), and each test makes the first connection's informer either the early one or the late one. Together the
 * tests leave every informer late once, whatever the order. */
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
static const char clustersName[] = "postgresclusters.postgres-operator.crunchydata.com";

typedef struct ManagerFixture ManagerFixture;

/* One controller: what its reconcile function saw, and what it does. */
typedef struct Probe {
    ManagerFixture *f;
    Controller *controller;
    Informer *gate[2];     /* informers that must have synced before any reconcile (NULL: none) */
    char reconciled[2048]; /* "ns/a;ns/b;" */
    int calls;
    bool hold; /* keep reconciles open in held[] */
    Reconcile *held[8];
    int heldCount;
    int failFirst; /* that many reconciles fail */
    int64_t requeueAfterMs;
    int requeueAfterCalls;
    const char *eventReason; /* when set, the first reconcile records an Event about its cluster */
} Probe;

struct ManagerFixture {
    MemCtx *ctx;
    Loop *loop;
    KubeConfig *config;
    KubeHttp *http;
    Metrics *metrics;
    Api *api;
    Manager *manager;
    Informer *informer;                 /* the first controller's informer of clusters */
    ManagerUpdateFilterFn *firstFilter; /* the first controller's filter of cluster updates */
    const char *firstSelector;          /* the first controller's label selector of clusters */
    bool watchSecrets;  /* start() has the first controller watch Secrets too, mapped by the cluster label */
    Informer *secrets;  /* that informer */
    bool sawOneSynced;  /* the loop ran while exactly one of the two informers had synced */
    Probe first;        /* "postgrescluster" */
    Probe second;       /* "pgupgrade", in the tests that add it */
    Informer *upgrades; /* the informer of the second controller's watch of clusters */
    FakeServer server;
    SplitMix splitMix;
};

static void onReconcile(void *arg, Reconcile *reconcile)
{
    Probe *probe = arg;
    /* The gate: a reconcile reads every cache of its controller, so none runs before each of them has listed. */
    for (size_t gateIdx = 0; gateIdx < 2; gateIdx++) {
        if (probe->gate[gateIdx] != NULL && !informerSynced(probe->gate[gateIdx]))
            fail_msg("%s reconciled before %s had synced", reconcile->key, informerName(probe->gate[gateIdx]));
    }
    assert_ptr_equal(reconcile->controller, probe->controller);
    size_t used = strlen(probe->reconciled);
    snprintf(probe->reconciled + used, sizeof(probe->reconciled) - used, "%s;", reconcile->key);
    probe->calls++;
    assert_string_equal(reconcile->namespace, "ns");
    assert_true(strncmp(reconcile->key, "ns/", 3) == 0 && strcmp(reconcile->name, reconcile->key + 3) == 0);
    if (probe->eventReason != NULL && probe->calls == 1) {
        const char *cluster = strncmp(reconcile->name, "upgrade-", 8) == 0 ? reconcile->name + 8 : reconcile->name;
        const StoreEntry *entry = storeGet(informerStore(probe->f->informer), "ns", cluster);
        Err err;
        assert_non_null(entry);
        assert_true(eventRecord(controllerEvents(probe->controller), entry->object, eventNormal, probe->eventReason,
                                "reconciled by the second controller", &err));
    }
    if (probe->hold) {
        assert_true(probe->heldCount < 8);
        probe->held[probe->heldCount++] = reconcile;
        return;
    }
    if (probe->failFirst > 0) {
        probe->failFirst--;
        Err err;
        errSet(&err, errKubeServer, "boom");
        reconcileFinish(reconcile, reconcileError, 0, &err);
        return;
    }
    if (probe->requeueAfterCalls > 0) {
        probe->requeueAfterCalls--;
        reconcileFinish(reconcile, reconcileRequeueAfter, probe->requeueAfterMs, NULL);
        return;
    }
    reconcileFinish(reconcile, reconcileSuccess, 0, NULL);
}

/* The second controller's map: cluster "x" to "ns/upgrade-x". */
static bool mapUpgrade(const void *arg, const json_t *object, char key[STORE_KEY_MAX])
{
    (void)arg;
    const char *name = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
    return name != NULL && snprintf(key, STORE_KEY_MAX, "ns/upgrade-%s", name) < STORE_KEY_MAX;
}

/* An update filter that lets no update through. */
static bool ignoreUpdates(const json_t *oldObject, const json_t *newObject)
{
    (void)oldObject;
    (void)newObject;
    return false;
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
    f->first.f = f;
    f->second.f = f;
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

/* The informer options of the tests: namespace "ns", a failed list retried within 10-20 ms. */
static InformerOptions watchOf(KubeResource resource, const char *labelSelector)
{
    static const char *const namespaces[] = {"ns"};
    return (InformerOptions){.resource = resource,
                             .namespaces = namespaces,
                             .namespaceCount = 1,
                             .labelSelector = labelSelector,
                             .backoffBaseMs = 20};
}

static void addController(ManagerFixture *f, Probe *probe, const char *name, const ControllerOptions *extra)
{
    Err err;
    ControllerOptions options = extra != NULL ? *extra : (ControllerOptions){0};
    options.name = name;
    options.reconcile = onReconcile;
    options.arg = probe;
    options.queue.rng = rngSplitMix(&f->splitMix, 3);
    options.queue.baseDelayMs = 20;
    options.queue.maxDelayMs = 40;
    if (!managerAddController(f->manager, &options, &probe->controller, &err))
        fail_msg("%s", err.message);
}

/* The fake server and the manager, without controllers. */
static void setUpBare(ManagerFixture *f, const FakeStep *steps, size_t count, const ManagerOptions *managerOptions)
{
    Err err;
    assert_true(fakeServerStart(&f->server, steps, count, NULL));
    f->config->server = memCtxPrintf(f->ctx, "http://127.0.0.1:%d", f->server.port);
    if (!kubeHttpNew(f->ctx, f->loop, f->config, &(KubeHttpOptions){.maxAttempts = 1}, &f->http, &err) ||
        !apiNew(f->ctx, f->http, f->metrics, &f->api, &err) ||
        !managerNew(f->ctx, f->loop, f->api, NULL, f->metrics, managerOptions, &f->manager, &err))
        fail_msg("%s", err.message);
}

/* The fake server, the manager and the "postgrescluster" controller watching clusters (and Secrets when
 * f->watchSecrets); not started. */
static void setUpManager(ManagerFixture *f, const FakeStep *steps, size_t count, const ManagerOptions *managerOptions,
                         const ControllerOptions *controllerOptions)
{
    Err err;
    InformerOptions clusterWatch = watchOf(clusters, f->firstSelector);
    InformerOptions secretWatch = watchOf(secrets, NULL);
    setUpBare(f, steps, count, managerOptions);
    addController(f, &f->first, "postgrescluster", controllerOptions);
    if (!controllerWatch(f->first.controller, &clusterWatch, managerMapSelf, NULL, f->firstFilter, &f->informer,
                         &err) ||
        (f->watchSecrets &&
         !controllerWatch(f->first.controller, &secretWatch, managerMapLabel, clusterLabel, NULL, &f->secrets, &err)))
        fail_msg("%s", err.message);
    f->first.gate[0] = f->informer;
    f->first.gate[1] = f->secrets;
}

static void start(ManagerFixture *f, const FakeStep *steps, size_t count, const ManagerOptions *managerOptions,
                  const ControllerOptions *controllerOptions)
{
    setUpManager(f, steps, count, managerOptions, controllerOptions);
    managerStart(f->manager);
}

/* As start, plus the "pgupgrade" controller watching the same clusters through its own map (and no filter). */
static void startTwo(ManagerFixture *f, const FakeStep *steps, size_t count, const ControllerOptions *secondOptions)
{
    Err err;
    setUpManager(f, steps, count, NULL, NULL);
    addController(f, &f->second, "pgupgrade", secondOptions);
    InformerOptions clusterWatch = watchOf(clusters, NULL);
    if (!controllerWatch(f->second.controller, &clusterWatch, mapUpgrade, NULL, NULL, &f->upgrades, &err))
        fail_msg("%s", err.message);
    f->second.gate[0] = f->upgrades;
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
            fail_msg("timed out waiting for %s; reconciled: %s | %s", what, f->first.reconciled, f->second.reconciled);
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

static const char *response(ManagerFixture *f, const char *status, const char *body)
{
    return memCtxPrintf(f->ctx, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        status, strlen(body), body);
}

static const char *list(ManagerFixture *f, const char *names, const char *rv)
{
    char items[1024] = "";
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", names);
    for (char *save, *name = strtok_r(copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
        size_t used = strlen(items);
        snprintf(items + used, sizeof(items) - used,
                 "%s{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"uid-%s\",\"resourceVersion\":\"1\","
                 "\"labels\":{\"%s\":\"%s\"}}}",
                 used > 0 ? "," : "", name, name, clusterLabel, name);
    }
    return response(f, "200 OK",
                    memCtxPrintf(f->ctx,
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

static double reconcilesOf(ManagerFixture *f, const char *controller, const char *result)
{
    MetricSpec spec = {
        .type = metricCounter, .name = "controller_runtime_reconcile_total", .labels = {"controller", "result"}};
    return metric(f, &spec, (const char *[]){controller, result});
}

static double reconciles(ManagerFixture *f, const char *result)
{
    return reconcilesOf(f, "postgrescluster", result);
}

static const char *dumpCaches(ManagerFixture *f)
{
    StrBuf out;
    strBufInit(&out, f->ctx, 4096);
    Err err;
    assert_true(managerDumpCaches(f->manager, &out, &err));
    return strBufStr(&out);
}

/* How many times key was reconciled, in a probe's "ns/a;ns/b;" record. */
static int timesReconciled(const Probe *probe, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "%s;", key);
    int times = 0;
    for (const char *at = strstr(probe->reconciled, needle); at != NULL; at = strstr(at + 1, needle)) {
        if (at == probe->reconciled || at[-1] == ';')
            times++;
    }
    return times;
}

static bool twoCalls(ManagerFixture *f)
{
    return f->first.calls >= 2;
}

static bool fiveCalls(ManagerFixture *f)
{
    return f->first.calls >= 5;
}

static bool finished(ManagerFixture *f)
{
    return managerFinished(f->manager, NULL);
}

static void shutDown(ManagerFixture *f)
{
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown");
    assert_true(fakeServerWait(&f->server));
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
          NULL, NULL);
    assert_false(managerReady(f->manager));
    runUntil(f, twoCalls, "the listed clusters");
    assert_true(managerReady(f->manager));
    assert_true(managerLeading(f->manager));
    assert_string_equal(f->first.reconciled, "ns/a;ns/b;");
    runUntil(f, fiveCalls, "the watched changes");
    assert_string_equal(f->first.reconciled, "ns/a;ns/b;ns/a;ns/c;ns/b;");
    assert_true(reconciles(f, "success") > 4.5);
    assert_int_equal(managerActiveReconciles(f->manager), 0);
    MetricSpec api = {.type = metricCounter, .name = "pgo_api_requests_total", .labels = {"verb", "code"}};
    assert_true(metric(f, &api, (const char *[]){"list", "200"}) > 0.5);
    assert_string_equal(dumpCaches(f), "# postgresclusters.postgres-operator.crunchydata.com\nns/a 11\nns/c 12\n");
    shutDown(f);
}

static void testErrorsRetryWithBackoffAndRequeueAfter(void **state)
{
    ManagerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1500)),
          NULL, NULL);
    f->first.failFirst = 2;
    f->first.requeueAfterCalls = 1;
    f->first.requeueAfterMs = 200;
    Clock clock = clockSystem();
    int64_t started = clockMonotonicMs(clock);
    /* fail, fail (backoff 10-20, then 20-40 ms), requeue after 200 ms, success */
    runUntil(f, twoCalls, "the first retry");
    runFor(f, 100);
    assert_int_equal(f->first.calls, 3);
    runFor(f, 250);
    assert_int_equal(f->first.calls, 4);
    assert_true(clockMonotonicMs(clock) - started >= 200);
    assert_string_equal(f->first.reconciled, "ns/a;ns/a;ns/a;ns/a;");
    assert_true(reconciles(f, "error") > 1.5 && reconciles(f, "error") < 2.5);
    assert_true(reconciles(f, "requeue_after") > 0.5);
    assert_true(reconciles(f, "success") > 0.5);
    runFor(f, 100);
    assert_int_equal(f->first.calls, 4); /* success: no more */
    shutDown(f);
}

static bool oneHeld(ManagerFixture *f)
{
    return f->first.heldCount >= 1;
}

static void testShutdownWaitsForReconcilesInFlight(void **state)
{
    ManagerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1000)),
          NULL, NULL);
    f->first.hold = true;
    runUntil(f, oneHeld, "a reconcile");
    assert_int_equal(managerActiveReconciles(f->manager), 1);
    managerShutdown(f->manager);
    assert_false(managerReady(f->manager));
    runFor(f, 150);
    int status = -1;
    assert_false(managerFinished(f->manager, &status));
    reconcileFinish(f->first.held[0], reconcileSuccess, 0, NULL);
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
          &(ManagerOptions){.shutdownTimeoutMs = 100}, &(ControllerOptions){.workers = 1});
    f->first.hold = true;
    runUntil(f, oneHeld, "a reconcile");
    runFor(f, 50);
    assert_int_equal(f->first.heldCount, 1); /* one worker */
    Clock clock = clockSystem();
    int64_t started = clockMonotonicMs(clock);
    managerShutdown(f->manager);
    runUntil(f, finished, "the shutdown deadline");
    assert_true(clockMonotonicMs(clock) - started >= 100);
    assert_int_equal(f->first.heldCount, 1); /* nothing new started while shutting down */
    /* Freeing the manager with the reconcile open releases it (the sanitizers check). */
    assert_true(fakeServerWait(&f->server));
}

static bool resynced(ManagerFixture *f)
{
    return f->first.calls >= 3;
}

static void testResync(void **state)
{
    ManagerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1000)),
          NULL, &(ControllerOptions){.resyncPeriodMs = 150});
    runUntil(f, resynced, "two resyncs");
    assert_string_equal(f->first.reconciled, "ns/a;ns/a;ns/a;");
    shutDown(f);
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
    assert_string_equal(f->first.reconciled, "ns/a;ns/b;");
}

/* One informer has listed, the other not yet: no reconcile while it waits; then each cluster once. */
static void assertGateThenReconciles(ManagerFixture *f, const char *firstList)
{
    runUntil(f, oneSynced, firstList);
    runFor(f, 200);
    assert_true(oneSynced(f));
    assert_false(managerReady(f->manager));
    assert_int_equal(f->first.calls, 0);
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
          NULL, NULL);
    assertGateThenReconciles(f, "the first list");
    assert_true(managerReady(f->manager));
    shutDown(f);
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
          NULL, NULL);
    assertGateThenReconciles(f, "the first list to succeed");
    MetricSpec api = {.type = metricCounter, .name = "pgo_api_requests_total", .labels = {"verb", "code"}};
    assert_true(metric(f, &api, (const char *[]){"list", "500"}) > 0.5);
    shutDown(f);
}

/* One informer lists; the other's list is never answered: no reconcile in a second of running the loop. */
static void testNoReconcileWhileAnInformerNeverSyncs(void **state)
{
    ManagerFixture *f = *state;
    f->watchSecrets = true;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
                FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1200)),
          NULL, NULL);
    runUntil(f, oneSynced, "the first list");
    runFor(f, 1000);
    assert_true(oneSynced(f));
    assert_false(managerReady(f->manager));
    assert_int_equal(f->first.calls, 0);
    assert_true(reconciles(f, "success") < 0.5);
    assert_int_equal(storeCount(informerStore(f->informer)) + storeCount(informerStore(f->secrets)), 2);
    shutDown(f);
    assert_int_equal(f->first.calls, 0);
}

/* ---- several controllers ---- */

static bool bothDoneWithTheWatch(ManagerFixture *f)
{
    const EventRecorder *events = controllerEvents(f->second.controller);
    return f->first.calls >= 4 && timesReconciled(&f->second, "ns/upgrade-c") == 1 &&
           eventRecorderCached(events) == 1 && eventRecorderInFlight(events) == 0;
}

/* Two controllers watch the same clusters: one informer lists and watches once, and each controller gets its own
 * keys, from its own map, reconciled by its own function with its own retries, Events and metrics. */
static void testControllersShareAnInformer(void **state)
{
    ManagerFixture *f = *state;
    char events[1024];
    snprintf(events, sizeof(events), "%s%s", event(f, "MODIFIED", "a", "11"), event(f, "ADDED", "c", "12"));
    f->second.failFirst = 1;
    f->second.eventReason = "Upgrading";
    startTwo(
        f,
        STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
              FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(100), FAKE_CHUNK(events),
              FAKE_SLEEP(400),
              /* The second controller's Event, sent while the watch held the first connection. */
              FAKE_ACCEPT,
              FAKE_EXPECT("POST /api/v1/namespaces/ns/events ", "\"reason\":\"Upgrading\"",
                          "\"reportingComponent\":\"pgupgrade-controller\"", "\"component\":\"pgupgrade-controller\""),
              FAKE_SEND(response(f, "201 Created", "{}"))),
        &(ControllerOptions){.workers = 1});
    assert_ptr_equal(f->upgrades, f->informer);
    assert_ptr_not_equal(controllerEvents(f->first.controller), controllerEvents(f->second.controller));
    assert_ptr_equal(controllerManager(f->second.controller), f->manager);
    runUntil(f, bothDoneWithTheWatch, "both controllers' reconciles of the watched changes");
    assert_string_equal(f->first.reconciled, "ns/a;ns/b;ns/a;ns/c;");
    /* upgrade-a failed once and was retried, independently of the first controller. */
    assert_true(timesReconciled(&f->second, "ns/upgrade-a") >= 2);
    assert_int_equal(timesReconciled(&f->second, "ns/upgrade-b"), 1);
    assert_null(strstr(f->second.reconciled, "ns/a;")); /* only its own map's keys */
    assert_int_equal(informerListCount(f->informer), 1);
    assert_string_equal(dumpCaches(f), "# postgresclusters.postgres-operator.crunchydata.com\n"
                                       "ns/a 11\nns/b 1\nns/c 12\n");
    assert_true(managerReady(f->manager));

    /* The metrics carry both controllers. */
    assert_true(reconcilesOf(f, "postgrescluster", "success") > 3.5);
    assert_true(reconcilesOf(f, "postgrescluster", "error") < 0.5);
    assert_true(reconcilesOf(f, "pgupgrade", "success") > 2.5);
    assert_true(reconcilesOf(f, "pgupgrade", "error") > 0.5 && reconcilesOf(f, "pgupgrade", "error") < 1.5);
    MetricSpec max = {
        .type = metricGauge, .name = "controller_runtime_max_concurrent_reconciles", .labels = {"controller"}};
    assert_true(metric(f, &max, (const char *[]){"postgrescluster"}) > 1.5);
    assert_true(metric(f, &max, (const char *[]){"pgupgrade"}) > 0.5 &&
                metric(f, &max, (const char *[]){"pgupgrade"}) < 1.5);
    StrBuf rendered;
    strBufInit(&rendered, f->ctx, 1 << 20);
    Err err;
    assert_true(metricsRender(f->metrics, &rendered, &err));
    assert_contains(strBufStr(&rendered), "controller_runtime_reconcile_errors_total{controller=\"pgupgrade\"} 1\n");
    assert_contains(strBufStr(&rendered),
                    "controller_runtime_reconcile_errors_total{controller=\"postgrescluster\"} 0\n");
    assert_contains(strBufStr(&rendered), "controller_runtime_active_workers{controller=\"pgupgrade\"} 0\n");
    assert_contains(strBufStr(&rendered), "workqueue_adds_total{name=\"pgupgrade\"}");
    assert_contains(strBufStr(&rendered), "workqueue_adds_total{name=\"postgrescluster\"}");
    shutDown(f);
}

static bool filteredDone(ManagerFixture *f)
{
    return f->first.calls >= 3 && f->second.calls >= 4;
}

/* The first controller filters out every update of the clusters; the second, on the same informer, does not. */
static void testUpdateFilterIsPerController(void **state)
{
    ManagerFixture *f = *state;
    char events[1024];
    snprintf(events, sizeof(events), "%s%s", event(f, "MODIFIED", "a", "11"), event(f, "ADDED", "c", "12"));
    f->firstFilter = ignoreUpdates;
    startTwo(f,
             STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
                   FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(100),
                   FAKE_CHUNK(events), FAKE_SLEEP(500)),
             NULL);
    assert_ptr_equal(f->upgrades, f->informer);
    runUntil(f, filteredDone, "the reconciles of the watched changes");
    runFor(f, 100);
    assert_string_equal(f->first.reconciled, "ns/a;ns/b;ns/c;");
    assert_string_equal(f->second.reconciled, "ns/upgrade-a;ns/upgrade-b;ns/upgrade-a;ns/upgrade-c;");
    shutDown(f);
}

static bool bothHeld(ManagerFixture *f)
{
    return f->first.heldCount >= 1 && f->second.heldCount >= 1;
}

static void testShutdownWaitsForEveryController(void **state)
{
    ManagerFixture *f = *state;
    f->first.hold = true;
    f->second.hold = true;
    startTwo(f,
             STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a", "10")),
                   FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(1000)),
             NULL);
    runUntil(f, bothHeld, "a reconcile of each controller");
    assert_int_equal(managerActiveReconciles(f->manager), 2);
    managerShutdown(f->manager);
    runFor(f, 150);
    assert_false(managerFinished(f->manager, NULL));
    reconcileFinish(f->first.held[0], reconcileSuccess, 0, NULL);
    runFor(f, 150);
    assert_false(managerFinished(f->manager, NULL));
    assert_int_equal(managerActiveReconciles(f->manager), 1);
    reconcileFinish(f->second.held[0], reconcileSuccess, 0, NULL);
    runUntil(f, finished, "the shutdown");
    int status = -1;
    assert_true(managerFinished(f->manager, &status));
    assert_int_equal(status, 0);
    assert_true(fakeServerWait(&f->server));
}

static bool firstReconciledOrBothSynced(ManagerFixture *f)
{
    return f->first.calls >= 2 || (informerSynced(f->informer) && informerSynced(f->secrets));
}

static bool bothReconciledBoth(ManagerFixture *f)
{
    return f->first.calls >= 2 && f->second.calls >= 2;
}

/* The gate is per controller: the second watches clusters and Secrets, the first clusters only. While only the
 * clusters have listed, the first reconciles and the second waits. Which list the server answers first is the
 * client's business: the informers are created Secrets first, which today makes the clusters connect first; if that
 * changes, the test still checks that neither controller reconciles before the clusters have listed. */
static void testEachControllerWaitsForItsOwnInformers(void **state)
{
    ManagerFixture *f = *state;
    Err err;
    setUpBare(f,
              STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "10")),
                    FAKE_EXPECT("?watch=1&resourceVersion=10&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(400), FAKE_ACCEPT,
                    FAKE_EXPECT("?limit=500 "), FAKE_SEND(list(f, "a,b", "20")),
                    FAKE_EXPECT("?watch=1&resourceVersion=20&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(500)),
              NULL);
    addController(f, &f->first, "postgrescluster", NULL);
    addController(f, &f->second, "pgupgrade", NULL);
    InformerOptions clusterWatch = watchOf(clusters, NULL);
    InformerOptions secretWatch = watchOf(secrets, NULL);
    if (!controllerWatch(f->second.controller, &secretWatch, mapUpgrade, NULL, NULL, &f->secrets, &err) ||
        !controllerWatch(f->first.controller, &clusterWatch, managerMapSelf, NULL, NULL, &f->informer, &err) ||
        !controllerWatch(f->second.controller, &clusterWatch, mapUpgrade, NULL, NULL, &f->upgrades, &err))
        fail_msg("%s", err.message);
    f->first.gate[0] = f->informer;
    f->second.gate[0] = f->upgrades;
    f->second.gate[1] = f->secrets;
    managerStart(f->manager);
    runUntil(f, oneSynced, "the first list");
    if (informerSynced(f->informer)) {
        runUntil(f, firstReconciledOrBothSynced, "the first controller's reconciles");
        assert_false(informerSynced(f->secrets));
        assert_string_equal(f->first.reconciled, "ns/a;ns/b;");
        assert_int_equal(f->second.calls, 0);
        assert_false(managerReady(f->manager));
    } else {
        runFor(f, 200);
        assert_int_equal(f->first.calls + f->second.calls, 0);
    }
    runUntil(f, bothReconciledBoth, "the second controller's reconciles");
    assert_string_equal(f->second.reconciled, "ns/upgrade-a;ns/upgrade-b;");
    assert_true(managerReady(f->manager));
    shutDown(f);
}

static bool threeReconciled(ManagerFixture *f)
{
    return f->first.calls + f->second.calls >= 3;
}

/* Two controllers watch clusters with different label selectors: two informers, two lists, two caches. Which list
 * the server answers first is the client's business: the two lists differ in size, not in what they test. */
static void testDifferentSelectorsMakeTwoInformers(void **state)
{
    ManagerFixture *f = *state;
    Err err;
    f->firstSelector = "tier=a";
    setUpManager(f,
                 STEPS(FAKE_ACCEPT, FAKE_EXPECT("?labelSelector=tier%3D", "&limit=500 "),
                       FAKE_SEND(list(f, "a,b", "10")), FAKE_EXPECT("?watch=1&labelSelector=tier%3D"),
                       FAKE_SEND(watchHeaders), FAKE_SLEEP(300), FAKE_ACCEPT,
                       FAKE_EXPECT("?labelSelector=tier%3D", "&limit=500 "), FAKE_SEND(list(f, "c", "20")),
                       FAKE_EXPECT("?watch=1&labelSelector=tier%3D"), FAKE_SEND(watchHeaders), FAKE_SLEEP(300)),
                 NULL, NULL);
    addController(f, &f->second, "pgupgrade", NULL);
    InformerOptions tierB = watchOf(clusters, "tier=b");
    assert_true(controllerWatch(f->second.controller, &tierB, mapUpgrade, NULL, NULL, &f->upgrades, &err));
    f->second.gate[0] = f->upgrades;
    assert_ptr_not_equal(f->upgrades, f->informer);
    assert_string_equal(informerLabelSelector(f->informer), "tier=a");
    assert_string_equal(informerLabelSelector(f->upgrades), "tier=b");
    managerStart(f->manager);
    runUntil(f, threeReconciled, "the clusters of both lists");
    runFor(f, 50);
    assert_int_equal(f->first.calls, (int)storeCount(informerStore(f->informer)));
    assert_int_equal(f->second.calls, (int)storeCount(informerStore(f->upgrades)));
    assert_int_equal(f->first.calls + f->second.calls, 3);
    assert_true(managerReady(f->manager));
    const char *dump = dumpCaches(f);
    assert_contains(dump, "# postgresclusters.postgres-operator.crunchydata.com tier=a\nns/");
    assert_contains(dump, "# postgresclusters.postgres-operator.crunchydata.com tier=b\nns/");
    /* The objects gauge adds the informers of a resource up. */
    MetricSpec objects = {.type = metricGauge, .name = "pgo_informer_objects", .labels = {"resource"}};
    assert_true(metric(f, &objects, (const char *[]){clustersName}) > 2.5 &&
                metric(f, &objects, (const char *[]){clustersName}) < 3.5);
    shutDown(f);
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

static void testOptionsChecked(void **state)
{
    ManagerFixture *f = *state;
    Err err;
    Manager *manager;
    Controller *controller;
    assert_true(managerNew(f->ctx, f->loop, NULL, NULL, NULL, NULL, &manager, &err));
    assert_false(managerAddController(manager, &(ControllerOptions){.name = "c"}, &controller, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(managerAddController(manager, &(ControllerOptions){.reconcile = onReconcile}, &controller, &err));
    assert_err(&err, errInvalidArgument);
    char longName[MANAGER_NAME_MAX + 2];
    memset(longName, 'c', sizeof(longName) - 1);
    longName[sizeof(longName) - 1] = '\0';
    assert_false(managerAddController(manager, &(ControllerOptions){.name = longName, .reconcile = onReconcile},
                                      &controller, &err));
    assert_err(&err, errInvalidArgument);
    longName[MANAGER_NAME_MAX] = '\0';
    assert_true(managerAddController(
        manager, &(ControllerOptions){.name = longName, .reconcile = onReconcile, .arg = &f->first}, NULL, &err));
    assert_true(managerAddController(
        manager, &(ControllerOptions){.name = "c", .reconcile = onReconcile, .arg = &f->first}, &controller, &err));
    assert_false(managerAddController(
        manager, &(ControllerOptions){.name = "c", .reconcile = onReconcile, .arg = &f->first}, NULL, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, "already a controller named \"c\"");
    InformerOptions plain = {.resource = clusters};
    assert_false(controllerWatch(controller, &plain, NULL, NULL, NULL, NULL, &err));
    assert_err(&err, errInvalidArgument);
    assert_true(controllerWatch(controller, &plain, managerMapSelf, NULL, NULL, NULL, &err));
    managerShutdown(manager); /* never started: finished at once */
    int status = -1;
    assert_true(managerFinished(manager, &status));
    assert_int_equal(status, 0);
    assert_false(controllerWatch(controller, &plain, managerMapSelf, NULL, NULL, NULL, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(managerAddController(
        manager, &(ControllerOptions){.name = "d", .reconcile = onReconcile, .arg = &f->first}, NULL, &err));
    assert_err(&err, errInvalidArgument);
}

/* Every bound gives errTooLarge: controllers per manager, handlers per informer, watches per controller, informers
 * per manager. */
static void testLimits(void **state)
{
    ManagerFixture *f = *state;
    Err err;
    Manager *manager;
    Controller *controllers[MANAGER_MAX_CONTROLLERS];
    assert_true(managerNew(f->ctx, f->loop, NULL, NULL, NULL, NULL, &manager, &err));
    for (size_t controllerIdx = 0; controllerIdx < MANAGER_MAX_CONTROLLERS; controllerIdx++) {
        char name[16];
        snprintf(name, sizeof(name), "c%zu", controllerIdx);
        ControllerOptions options = {.name = name, .reconcile = onReconcile, .arg = &f->first};
        assert_true(managerAddController(manager, &options, &controllers[controllerIdx], &err));
    }
    ControllerOptions onceMore = {.name = "more", .reconcile = onReconcile, .arg = &f->first};
    assert_false(managerAddController(manager, &onceMore, NULL, &err));
    assert_err(&err, errTooLarge);

    /* One informer of clusters, watched by STORE_MAX_HANDLERS controllers' handlers. */
    InformerOptions shared = {.resource = clusters};
    Informer *first = NULL;
    for (size_t handlerIdx = 0; handlerIdx < STORE_MAX_HANDLERS; handlerIdx++) {
        Informer *informer;
        assert_true(controllerWatch(controllers[handlerIdx % MANAGER_MAX_CONTROLLERS], &shared, managerMapSelf, NULL,
                                    NULL, &informer, &err));
        first = first != NULL ? first : informer;
        assert_ptr_equal(informer, first);
    }
    assert_false(controllerWatch(controllers[0], &shared, managerMapSelf, NULL, NULL, NULL, &err));
    assert_err(&err, errTooLarge);

    /* Distinct informers, by selector, until a controller has MANAGER_MAX_WATCHES watches. */
    size_t informers = 1;
    Controller *busy = controllers[MANAGER_MAX_CONTROLLERS - 1];
    size_t busyWatches = (STORE_MAX_HANDLERS + MANAGER_MAX_CONTROLLERS - 1) / MANAGER_MAX_CONTROLLERS;
    while (busyWatches < MANAGER_MAX_WATCHES) {
        char selector[32];
        snprintf(selector, sizeof(selector), "n=%zu", informers);
        InformerOptions selected = {.resource = clusters, .labelSelector = selector};
        assert_true(controllerWatch(busy, &selected, managerMapSelf, NULL, NULL, NULL, &err));
        informers++;
        busyWatches++;
    }
    InformerOptions another = {.resource = clusters, .labelSelector = "n=another"};
    assert_false(controllerWatch(busy, &another, managerMapSelf, NULL, NULL, NULL, &err));
    assert_err(&err, errTooLarge);
    assert_contains(err.message, "watches");
    while (informers < MANAGER_MAX_INFORMERS) {
        char selector[32];
        snprintf(selector, sizeof(selector), "n=%zu", informers);
        InformerOptions selected = {.resource = clusters, .labelSelector = selector};
        assert_true(controllerWatch(controllers[0], &selected, managerMapSelf, NULL, NULL, NULL, &err));
        informers++;
    }
    assert_false(controllerWatch(controllers[0], &another, managerMapSelf, NULL, NULL, NULL, &err));
    assert_err(&err, errTooLarge);
    assert_contains(err.message, "informers");
    /* An informer already there still takes a watch. */
    InformerOptions existing = {.resource = clusters, .labelSelector = "n=1"};
    assert_true(controllerWatch(controllers[0], &existing, managerMapSelf, NULL, NULL, NULL, &err));
}

/* Setting up two controllers over shared and separate informers, starting and shutting down, under every
 * allocation failure the sweep injects. */
static bool setUpAndShutDown(void *arg, Err *err)
{
    Probe *probe = arg;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "no context");
    Loop *loop;
    Manager *manager;
    Controller *first, *second;
    Informer *clusterInformer, *sharedInformer, *secretInformer;
    InformerOptions clusterWatch = watchOf(clusters, NULL);
    InformerOptions secretWatch = watchOf(secrets, clusterLabel);
    ControllerOptions firstOptions = {.name = "postgrescluster", .reconcile = onReconcile, .arg = probe};
    ControllerOptions secondOptions = {.name = "pgupgrade", .reconcile = onReconcile, .arg = probe};
    bool ok = loopNew(ctx, clockSystem(), &loop, err) &&
              managerNew(ctx, loop, NULL, NULL, NULL, &(ManagerOptions){.eventInstance = "pod-1"}, &manager, err) &&
              managerAddController(manager, &firstOptions, &first, err) &&
              managerAddController(manager, &secondOptions, &second, err) &&
              controllerWatch(first, &clusterWatch, managerMapSelf, NULL, NULL, &clusterInformer, err) &&
              controllerWatch(second, &clusterWatch, mapUpgrade, NULL, ignoreUpdates, &sharedInformer, err) &&
              controllerWatch(second, &secretWatch, managerMapLabel, clusterLabel, NULL, &secretInformer, err);
    if (ok) {
        /* Checked without allocating, so the sweep's fault cannot land here. */
        assert_ptr_equal(clusterInformer, sharedInformer);
        assert_ptr_not_equal(clusterInformer, secretInformer);
        managerStart(manager);
        managerShutdown(manager);
        assert_true(managerFinished(manager, NULL));
    }
    memCtxFree(ctx);
    return ok;
}

static void testSetUpUnderAllocationFailures(void **state)
{
    ManagerFixture *f = *state;
    assert_true(harnessAllocSweep(setUpAndShutDown, &f->first, false) > 10);
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
        cmocka_unit_test_setup_teardown(testControllersShareAnInformer, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUpdateFilterIsPerController, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testShutdownWaitsForEveryController, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testEachControllerWaitsForItsOwnInformers, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testDifferentSelectorsMakeTwoInformers, setUp, tearDown),
        cmocka_unit_test(testMapping),
        cmocka_unit_test_setup_teardown(testOptionsChecked, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLimits, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSetUpUnderAllocationFailures, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("controller/manager", tests, NULL, NULL);
}
