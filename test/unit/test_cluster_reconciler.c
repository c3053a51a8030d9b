/* Unit tests: controllers/postgrescluster/reconciler.c, the stages of a pass in their table, driven as the operator
 * drives them: a Manager with the "postgrescluster" controller, whose reconcile is clusterReconcile and whose watches
 * are clusterReconcilerWatch's (as src/cmd/main.c wires them), against a fake API server (harness/fakeapi.h). The
 * informers list their kinds from it, so the cache is what the server lists: a cluster, its StatefulSets and
 * Patroni's leader Endpoints, the rest empty. Each test lets one reconcile finish, shuts the manager down, and then
 * asserts on the requests the reconciler sent, which the server recorded: deletes, applies, Events and the patch of
 * the cluster's status.
 *
 * The cluster is hippo in namespace ns with one instance set, instance1. Its existing instances are named as the
 * reconciler names them (clusterInstanceName), so the ones listed are the ones it keeps or prunes. */
#include "harness/fakeapi.h"
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/memctx.h"
#include "controller/manager.h"
#include "controllers/postgrescluster/reconciler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECONCILER_NAMESPACE "ns"
#define RECONCILER_CLUSTER   "hippo"
#define RECONCILER_UID       "4f0c9d7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"

typedef struct ReconcilerFixture {
    MemCtx *ctx;
    Loop *loop;
    KubeConfig *config;
    KubeHttp *http;
    Metrics *metrics;
    Log log; /* warnings and errors only, on stderr */
    Api *api;
    Manager *manager;
    Controller *controller;
    ClusterReconciler *reconciler;
    FakeApi server;
    char *record;           /* what the server received, once stopped */
    char instances[2][254]; /* instance1's ordinals 0 and 1, sorted by name */
} ReconcilerFixture;

static const char *images(void *arg, const char *name)
{
    (void)arg;
    (void)name;
    return "localhost/image:test";
}

static int setUp(void **state)
{
    ReconcilerFixture *fixture = calloc(1, sizeof(*fixture));
    Err err;
    if (fixture == NULL)
        return -1;
    fixture->ctx = memCtxNew(NULL, "test");
    if (!loopNew(fixture->ctx, clockSystem(), &fixture->loop, &err) ||
        !metricsNew(fixture->ctx, clockSystem(), &fixture->metrics, &err))
        return -1;
    logInit(&fixture->log, 2, getenv("RECONCILER_TEST_LOG") != NULL ? logLevelDebug : logLevelWarn, logFormatText,
            clockSystem());
    fixture->config = memCtxAlloc(fixture->ctx, sizeof(*fixture->config));
    *fixture->config = (KubeConfig){.ctx = fixture->ctx, .namespace = "default"};
    for (unsigned ordinal = 0; ordinal < 2; ordinal++)
        clusterInstanceName(RECONCILER_CLUSTER, RECONCILER_UID, "instance1", ordinal, fixture->instances[ordinal]);
    if (strcmp(fixture->instances[0], fixture->instances[1]) > 0) {
        char first[254];
        memcpy(first, fixture->instances[1], sizeof(first));
        memcpy(fixture->instances[1], fixture->instances[0], sizeof(first));
        memcpy(fixture->instances[0], first, sizeof(first));
    }
    *state = fixture;
    return 0;
}

static int tearDown(void **state)
{
    ReconcilerFixture *fixture = *state;
    memCtxFree(fixture->ctx);
    free(fixture->record);
    free(fixture);
    return 0;
}

/* --- the fixture objects --- */

/* A list response of the items (JSON objects, comma-separated; "" for none). */
static const char *listOf(ReconcilerFixture *fixture, const char *items)
{
    return memCtxPrintf(fixture->ctx, "{\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[%s]}",
                        items);
}

/* hippo, with instance1 at replicas and spec.standby from standby (NULL: none). */
static const char *clusterItem(ReconcilerFixture *fixture, int replicas, const char *standby)
{
    return memCtxPrintf(fixture->ctx,
                        "{\"apiVersion\":\"postgres-operator.crunchydata.com/v1beta1\",\"kind\":\"PostgresCluster\","
                        "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\",\"generation\":2,"
                        "\"resourceVersion\":\"7\",\"finalizers\":[\"postgres-operator.crunchydata.com/finalizer\"]},"
                        "\"spec\":{\"postgresVersion\":17,%s%s\"instances\":[{\"name\":\"instance1\",\"replicas\":%d,"
                        "\"dataVolumeClaimSpec\":{\"accessModes\":[\"ReadWriteOnce\"],"
                        "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}]}}",
                        RECONCILER_CLUSTER, RECONCILER_NAMESPACE, RECONCILER_UID, standby != NULL ? "\"standby\":" : "",
                        standby != NULL ? memCtxPrintf(fixture->ctx, "%s,", standby) : "", replicas);
}

/* The StatefulSet of instance, controlled by hippo and labelled as the reconciler labels it. */
static const char *statefulSetItem(ReconcilerFixture *fixture, const char *instance)
{
    return memCtxPrintf(fixture->ctx,
                        "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"%s\","
                        "\"namespace\":\"%s\",\"uid\":\"uid-%s\",\"resourceVersion\":\"5\",\"labels\":{"
                        "\"postgres-operator.crunchydata.com/cluster\":\"%s\","
                        "\"postgres-operator.crunchydata.com/instance-set\":\"instance1\","
                        "\"postgres-operator.crunchydata.com/instance\":\"%s\"},"
                        "\"ownerReferences\":[{\"apiVersion\":\"postgres-operator.crunchydata.com/v1beta1\","
                        "\"kind\":\"PostgresCluster\",\"name\":\"%s\",\"uid\":\"%s\",\"controller\":true}]},"
                        "\"spec\":{\"replicas\":1}}",
                        instance, RECONCILER_NAMESPACE, instance, RECONCILER_CLUSTER, instance, RECONCILER_CLUSTER,
                        RECONCILER_UID);
}

/* Patroni's leader Endpoints hippo-ha, with the leader annotation naming leaderPod (NULL: none). */
static const char *leaderItem(ReconcilerFixture *fixture, const char *leaderPod)
{
    return memCtxPrintf(fixture->ctx,
                        "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"%s-ha\","
                        "\"namespace\":\"%s\",\"uid\":\"uid-ha\",\"resourceVersion\":\"6\",\"labels\":{"
                        "\"postgres-operator.crunchydata.com/cluster\":\"%s\","
                        "\"postgres-operator.crunchydata.com/patroni\":\"%s-ha\"}%s%s%s}}",
                        RECONCILER_CLUSTER, RECONCILER_NAMESPACE, RECONCILER_CLUSTER, RECONCILER_CLUSTER,
                        leaderPod != NULL ? ",\"annotations\":{\"leader\":\"" : "", leaderPod != NULL ? leaderPod : "",
                        leaderPod != NULL ? "\"}" : "");
}

/* hippo with two instances in instance1, spec's extra members (JSON members, each followed by a comma, or "") and
 * status (a JSON object, or NULL). */
static const char *clusterWith(ReconcilerFixture *fixture, const char *specExtra, const char *status)
{
    return memCtxPrintf(fixture->ctx,
                        "{\"apiVersion\":\"postgres-operator.crunchydata.com/v1beta1\",\"kind\":\"PostgresCluster\","
                        "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\",\"generation\":3,"
                        "\"resourceVersion\":\"7\",\"finalizers\":[\"postgres-operator.crunchydata.com/finalizer\"]},"
                        "\"spec\":{\"postgresVersion\":17,%s\"instances\":[{\"name\":\"instance1\",\"replicas\":2,"
                        "\"dataVolumeClaimSpec\":{\"accessModes\":[\"ReadWriteOnce\"],"
                        "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}]}%s%s}",
                        RECONCILER_CLUSTER, RECONCILER_NAMESPACE, RECONCILER_UID, specExtra,
                        status != NULL ? ",\"status\":" : "", status != NULL ? status : "");
}

/* The Pod of instance, labelled as the instance's. */
static const char *podItem(ReconcilerFixture *fixture, const char *instance)
{
    return memCtxPrintf(fixture->ctx,
                        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s-0\",\"namespace\":\"%s\","
                        "\"uid\":\"uid-pod-%s\",\"resourceVersion\":\"8\",\"labels\":{"
                        "\"postgres-operator.crunchydata.com/cluster\":\"%s\","
                        "\"postgres-operator.crunchydata.com/instance-set\":\"instance1\","
                        "\"postgres-operator.crunchydata.com/instance\":\"%s\"}}}",
                        instance, RECONCILER_NAMESPACE, instance, RECONCILER_CLUSTER, instance);
}

/* Patroni's leader Endpoints hippo-ha of a leader that runs: leaderPod in the annotation, an address in subsets. */
static const char *runningLeaderItem(ReconcilerFixture *fixture, const char *leaderPod)
{
    return memCtxPrintf(fixture->ctx,
                        "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"%s-ha\","
                        "\"namespace\":\"%s\",\"uid\":\"uid-ha\",\"resourceVersion\":\"6\",\"labels\":{"
                        "\"postgres-operator.crunchydata.com/cluster\":\"%s\","
                        "\"postgres-operator.crunchydata.com/patroni\":\"%s-ha\"},\"annotations\":{\"leader\":\"%s\"}},"
                        "\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.9\"}],\"ports\":[{\"port\":5432}]}]}",
                        RECONCILER_CLUSTER, RECONCILER_NAMESPACE, RECONCILER_CLUSTER, RECONCILER_CLUSTER, leaderPod);
}

/* --- running one reconcile --- */

static double reconciles(ReconcilerFixture *fixture, const char *result)
{
    MetricSpec spec = {
        .type = metricCounter, .name = "controller_runtime_reconcile_total", .labels = {"controller", "result"}};
    MetricFamily *family;
    Err err;
    assert_true(metricsRegister(fixture->metrics, &spec, &family, &err));
    return metricValue(family, (const char *[]){"postgrescluster", result});
}

static double reconcilesFinished(ReconcilerFixture *fixture)
{
    return reconciles(fixture, "success") + reconciles(fixture, "error") + reconciles(fixture, "requeue") +
           reconciles(fixture, "requeue_after");
}

/* Runs the loop until done(fixture) (at most 20 s: a pass generates keys and certificates, slow under valgrind). */
static void runUntil(ReconcilerFixture *fixture, bool (*done)(ReconcilerFixture *fixture), const char *what)
{
    Clock clock = clockSystem();
    int64_t deadline = clockMonotonicMs(clock) + 20000;
    Err err;
    while (!done(fixture)) {
        if (clockMonotonicMs(clock) >= deadline)
            fail_msg("timed out waiting for %s", what);
        assert_true(loopRunOnce(fixture->loop, 10, &err));
    }
}

static bool oneReconcileFinished(ReconcilerFixture *fixture)
{
    return reconcilesFinished(fixture) > 0.5;
}

static bool managerDone(ReconcilerFixture *fixture)
{
    return managerFinished(fixture->manager, NULL);
}

/* Serves routes (then the lists of the cluster, the StatefulSets and the Endpoints) to the manager, wired as the
 * operator wires it, until one reconcile of hippo has finished; then shuts it down and keeps the server's record. */
static void reconcileOnce(ReconcilerFixture *fixture, const FakeApiRoute *routes, size_t routeCount,
                          const char *clusters, const char *statefulSets, const char *endpoints)
{
    static const char *const namespaces[] = {RECONCILER_NAMESPACE};
    FakeApiRoute all[8];
    assert_true(routeCount + 3 <= sizeof(all) / sizeof(all[0]));
    if (routeCount > 0)
        memcpy(all, routes, routeCount * sizeof(*routes));
    all[routeCount] = (FakeApiRoute){"GET", "/postgresclusters?", "200 OK", listOf(fixture, clusters)};
    all[routeCount + 1] = (FakeApiRoute){"GET", "/statefulsets?", "200 OK", listOf(fixture, statefulSets)};
    all[routeCount + 2] = (FakeApiRoute){"GET", "/endpoints?", "200 OK", listOf(fixture, endpoints)};
    assert_true(fakeApiStart(&fixture->server, all, routeCount + 3));
    fixture->config->server = memCtxPrintf(fixture->ctx, "http://127.0.0.1:%d", fixture->server.port);
    Err err;
    ControllerOptions options = {.name = "postgrescluster", .reconcile = clusterReconcile, .resyncPeriodMs = -1};
    ManagerOptions managerOptions = {.shutdownTimeoutMs = 5000};
    if (!kubeHttpNew(fixture->ctx, fixture->loop, fixture->config, &(KubeHttpOptions){.maxAttempts = 1}, &fixture->http,
                     &err) ||
        !apiNew(fixture->ctx, fixture->http, fixture->metrics, &fixture->api, &err) ||
        !clusterReconcilerNew(fixture->ctx, fixture->loop, &fixture->log, images, NULL, &fixture->reconciler, &err))
        fail_msg("%s", err.message);
    options.arg = fixture->reconciler;
    if (!managerNew(fixture->ctx, fixture->loop, fixture->api, &fixture->log, fixture->metrics, &managerOptions,
                    &fixture->manager, &err) ||
        !managerAddController(fixture->manager, &options, &fixture->controller, &err) ||
        !clusterReconcilerWatch(fixture->reconciler, fixture->controller, namespaces, 1, &err))
        fail_msg("%s", err.message);
    managerStart(fixture->manager);
    runUntil(fixture, oneReconcileFinished, "a reconcile of hippo");
    managerShutdown(fixture->manager);
    runUntil(fixture, managerDone, "the shutdown");
    fixture->record = fakeApiStop(&fixture->server);
    assert_non_null(fixture->record);
}

/* The condition of type in the status patch the reconciler sent (a new reference), failing the test without one. */
static json_t *statusCondition(ReconcilerFixture *fixture, const char *type)
{
    char *body = fakeApiBody(fixture->record, "PATCH", "/postgresclusters/" RECONCILER_CLUSTER "/status");
    if (body == NULL)
        fail_msg("no patch of the status; requests:\n%s", fixture->record);
    json_t *patch = harnessJson(body);
    free(body);
    size_t conditionIdx;
    json_t *condition;
    json_array_foreach(json_object_get(json_object_get(patch, "status"), "conditions"), conditionIdx, condition)
    {
        if (strcmp(json_string_value(json_object_get(condition, "type")), type) == 0) {
            json_incref(condition);
            json_decref(patch);
            return condition;
        }
    }
    fail_msg("the status patch has no condition %s: %s", type, json_dumps(patch, JSON_COMPACT));
    return NULL;
}

static void assertCondition(ReconcilerFixture *fixture, const char *type, const char *status, const char *reason)
{
    json_t *condition = statusCondition(fixture, type);
    assert_string_equal(json_string_value(json_object_get(condition, "status")), status);
    assert_string_equal(json_string_value(json_object_get(condition, "reason")), reason);
    json_decref(condition);
}

/* The path part of object of plural, named name: "/<plural>/<name>". */
static const char *objectPath(ReconcilerFixture *fixture, const char *plural, const char *name)
{
    return memCtxPrintf(fixture->ctx, "/%s/%s", plural, name);
}

/* --- prune: scale-down --- */

/* Two instances, one wanted, and Patroni records no leader: nothing is deleted (either could be the primary), and
 * the cluster says why in an Event. */
static void testScaleDownWaitsForLeader(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *statefulSets = memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, fixture->instances[0]),
                                            statefulSetItem(fixture, fixture->instances[1]));
    reconcileOnce(fixture, NULL, 0, clusterItem(fixture, 1, NULL), statefulSets, leaderItem(fixture, NULL));
    assert_int_equal(fakeApiCount(fixture->record, "DELETE", "/statefulsets/"), 0);
    assert_int_equal(fakeApiCount(fixture->record, "DELETE", "/persistentvolumeclaims/"), 0);
    assert_int_equal(fakeApiCount(fixture->record, "DELETE", "/"), 0);
    char *event = fakeApiBody(fixture->record, "POST", "/events");
    if (event == NULL)
        fail_msg("no Event; requests:\n%s", fixture->record);
    assert_contains(event, "\"reason\":\"ScaleDownWaiting\"");
    free(event);
}

/* Two instances, one wanted, Patroni's leader is the instance at leaderIdx (of the two sorted by name): the other's
 * StatefulSet is deleted, never the leader's, whichever of the names sorts first. */
static void scaleDownKeepsLeader(ReconcilerFixture *fixture, size_t leaderIdx)
{
    const char *leader = fixture->instances[leaderIdx];
    const char *surplus = fixture->instances[1 - leaderIdx];
    const char *statefulSets = memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, fixture->instances[0]),
                                            statefulSetItem(fixture, fixture->instances[1]));
    reconcileOnce(fixture, NULL, 0, clusterItem(fixture, 1, NULL), statefulSets,
                  leaderItem(fixture, memCtxPrintf(fixture->ctx, "%s-0", leader)));
    assert_int_equal(fakeApiCount(fixture->record, "DELETE", objectPath(fixture, "statefulsets", surplus)), 1);
    assert_int_equal(fakeApiCount(fixture->record, "DELETE", objectPath(fixture, "statefulsets", leader)), 0);
    assert_int_equal(fakeApiCount(fixture->record, "DELETE", "/statefulsets/"), 1);
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", objectPath(fixture, "statefulsets", surplus)), 0);
}

static void testScaleDownKeepsLeaderSortedLast(void **state)
{
    scaleDownKeepsLeader(*state, 1);
}

static void testScaleDownKeepsLeaderSortedFirst(void **state)
{
    scaleDownKeepsLeader(*state, 0);
}

/* --- a failing stage --- */

/* The API server fails every apply of a StatefulSet: the status is still patched, saying so in Reconciled. */
static void testFailedApplyStillWritesStatus(void **state)
{
    ReconcilerFixture *fixture = *state;
    static const char failure[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                  "\"message\":\"etcd is having a bad day\",\"reason\":\"InternalError\",\"code\":500}";
    const FakeApiRoute routes[] = {{"PATCH", "/statefulsets/", "500 Internal Server Error", failure}};
    reconcileOnce(fixture, routes, 1, clusterItem(fixture, 1, NULL), "", leaderItem(fixture, NULL));
    assert_true(fakeApiCount(fixture->record, "PATCH", "/statefulsets/") >= 1);
    assertCondition(fixture, "Reconciled", "False", "ApplyFailed");
    assert_true(reconciles(fixture, "error") > 0.5);
}

/* --- a cluster waiting for its data --- */

/* A standby that names neither a repository nor a host: nothing of the cluster is created (it must not be
 * initialised empty), and Progressing says why, with PGO's reason. */
static void testInvalidStandbyWaits(void **state)
{
    ReconcilerFixture *fixture = *state;
    reconcileOnce(fixture, NULL, 0, clusterItem(fixture, 1, "{\"enabled\":true}"), "", leaderItem(fixture, NULL));
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/statefulsets/"), 0);
    assert_int_equal(fakeApiCount(fixture->record, "POST", "/statefulsets"), 0);
    assertCondition(fixture, "Progressing", "False", "InvalidStandbyConfiguration");
}

/* A standby of a host is made (its leader is bootstrapped by Patroni from the host), as is one of a repository. */
static void testStandbyIsMade(void **state)
{
    ReconcilerFixture *fixture = *state;
    reconcileOnce(fixture, NULL, 0, clusterItem(fixture, 1, "{\"enabled\":true,\"host\":\"x\"}"), "",
                  leaderItem(fixture, NULL));
    assert_true(fakeApiCount(fixture->record, "PATCH", "/statefulsets/") >= 1);
}

/* --- restores --- */

/* A clone of a cluster that does not exist: nothing is created, Progressing says why, an Event InvalidDataSource,
 * and the cluster is looked at again later (the source's changes do not map to it). */
static void testCloneWaitsForMissingSource(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *clone = memCtxPrintf(
        fixture->ctx,
        "{\"apiVersion\":\"postgres-operator.crunchydata.com/v1beta1\",\"kind\":\"PostgresCluster\","
        "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\",\"generation\":2,\"resourceVersion\":\"7\","
        "\"finalizers\":[\"postgres-operator.crunchydata.com/finalizer\"]},"
        "\"spec\":{\"postgresVersion\":17,\"dataSource\":{\"postgresCluster\":{\"clusterName\":\"rhino\","
        "\"repoName\":\"repo1\"}},\"instances\":[{\"name\":\"instance1\",\"dataVolumeClaimSpec\":{\"accessModes\":"
        "[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}]}}",
        RECONCILER_CLUSTER, RECONCILER_NAMESPACE, RECONCILER_UID);
    reconcileOnce(fixture, NULL, 0, clone, "", leaderItem(fixture, NULL));
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/statefulsets/"), 0);
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/persistentvolumeclaims/"), 0);
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/jobs/"), 0);
    json_t *condition = statusCondition(fixture, "Progressing");
    assert_string_equal(json_string_value(json_object_get(condition, "reason")), "WaitingForDataSource");
    assert_contains(json_string_value(json_object_get(condition, "message")), "PostgresCluster rhino does not exist");
    json_decref(condition);
    char *event = fakeApiBody(fixture->record, "POST", "/events");
    if (event == NULL)
        fail_msg("no Event; requests:\n%s", fixture->record);
    assert_contains(event, "\"reason\":\"InvalidDataSource\"");
    free(event);
    assert_true(reconciles(fixture, "requeue_after") > 0.5);
}

/* An in-place restore asked for (annotation pgbackrest-restore, restore enabled) of a running two-instance cluster:
 * the startup instance is the leader's, every StatefulSet is scaled to 0, the status records the request and clears
 * Patroni's system identifier, PGBackRestoreProgressing says RestoreInPlaceRequested; no Job before the repository
 * host is ready. No Pod is listed, so Patroni's leader Endpoints go at once. */
static void testInPlaceRestoreRequested(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *leader = fixture->instances[1];
    const char *cluster = memCtxPrintf(
        fixture->ctx,
        "{\"apiVersion\":\"postgres-operator.crunchydata.com/v1beta1\",\"kind\":\"PostgresCluster\","
        "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\",\"generation\":2,\"resourceVersion\":\"7\","
        "\"annotations\":{\"postgres-operator.crunchydata.com/pgbackrest-restore\":\"one\"},"
        "\"finalizers\":[\"postgres-operator.crunchydata.com/finalizer\"]},"
        "\"spec\":{\"postgresVersion\":17,\"instances\":[{\"name\":\"instance1\",\"replicas\":2,"
        "\"dataVolumeClaimSpec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":"
        "\"1Gi\"}}}}],\"backups\":{\"pgbackrest\":{\"restore\":{\"enabled\":true,\"repoName\":\"repo1\","
        "\"options\":[\"--type=time\",\"--target=\\\"2026-01-01 00:00:00+00\\\"\"]},\"repos\":[{\"name\":\"repo1\","
        "\"volume\":{\"volumeClaimSpec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":"
        "{\"storage\":\"1Gi\"}}}}}]}}},"
        "\"status\":{\"patroni\":{\"systemIdentifier\":\"7000000000000000001\"},\"pgbackrest\":{\"repos\":"
        "[{\"name\":\"repo1\",\"stanzaCreated\":true,\"replicaCreateBackupComplete\":true}]}}}",
        RECONCILER_CLUSTER, RECONCILER_NAMESPACE, RECONCILER_UID);
    const char *statefulSets = memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, fixture->instances[0]),
                                            statefulSetItem(fixture, leader));
    reconcileOnce(fixture, NULL, 0, cluster, statefulSets,
                  leaderItem(fixture, memCtxPrintf(fixture->ctx, "%s-0", leader)));
    for (size_t instIdx = 0; instIdx < 2; instIdx++) {
        char *body =
            fakeApiBody(fixture->record, "PATCH", objectPath(fixture, "statefulsets", fixture->instances[instIdx]));
        if (body == NULL)
            fail_msg("no apply of %s; requests:\n%s", fixture->instances[instIdx], fixture->record);
        assert_contains(body, "\"replicas\":0");
        free(body);
    }
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/jobs/"), 0);
    assert_int_equal(fakeApiCount(fixture->record, "DELETE", "/endpoints/" RECONCILER_CLUSTER "-ha"), 1);
    assertCondition(fixture, "PGBackRestoreProgressing", "True", "RestoreInPlaceRequested");
    char *statusBody = fakeApiBody(fixture->record, "PATCH", "/postgresclusters/" RECONCILER_CLUSTER "/status");
    if (statusBody == NULL)
        fail_msg("no patch of the status; requests:\n%s", fixture->record);
    json_t *patch = harnessJson(statusBody);
    free(statusBody);
    const json_t *status = json_object_get(patch, "status");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(status, "pgbackrest"), "restore"), "id")),
        "one");
    assert_true(
        json_is_false(json_object_get(json_object_get(json_object_get(status, "pgbackrest"), "restore"), "finished")));
    assert_true(json_is_null(json_object_get(status, "patroni")));
    assert_string_equal(json_string_value(json_object_get(status, "startupInstance")), leader);
    assert_true(json_is_false(
        json_object_get(json_array_get(json_object_get(json_object_get(status, "pgbackrest"), "repos"), 0),
                        "replicaCreateBackupComplete")));
    json_decref(patch);
}

/* --- pause, shutdown and start --- */

/* The replicas the apply of instance's StatefulSet asked for. */
static int64_t appliedReplicas(ReconcilerFixture *fixture, const char *instance)
{
    char *body = fakeApiBody(fixture->record, "PATCH", objectPath(fixture, "statefulsets", instance));
    if (body == NULL)
        fail_msg("no apply of %s; requests:\n%s", instance, fixture->record);
    json_t *applied = harnessJson(body);
    free(body);
    int64_t replicas = json_integer_value(json_object_get(json_object_get(applied, "spec"), "replicas"));
    json_decref(applied);
    return replicas;
}

/* The status patch the reconciler sent (a new reference), failing the test without one. */
static json_t *statusPatch(ReconcilerFixture *fixture)
{
    char *body = fakeApiBody(fixture->record, "PATCH", "/postgresclusters/" RECONCILER_CLUSTER "/status");
    if (body == NULL)
        fail_msg("no patch of the status; requests:\n%s", fixture->record);
    json_t *patch = harnessJson(body);
    free(body);
    json_t *status = json_incref(json_object_get(patch, "status"));
    json_decref(patch);
    return status;
}

/* spec.paused: nothing is written but the status, and of the status only the conditions, with Progressing (False,
 * Paused, PGO's message) and the others kept as they were. */
static void testPausedAppliesNothing(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *cluster = clusterWith(fixture, "\"paused\":true,",
                                      "{\"observedGeneration\":2,\"conditions\":[{\"type\":\"Other\",\"status\":"
                                      "\"True\",\"reason\":\"Kept\",\"message\":\"\",\"lastTransitionTime\":"
                                      "\"2026-01-01T00:00:00Z\"}]}");
    reconcileOnce(fixture, NULL, 0, cluster, "", leaderItem(fixture, NULL));
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/statefulsets/"), 0);
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/secrets/"), 0);
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/postgresclusters/" RECONCILER_CLUSTER "/status"), 1);
    json_t *status = statusPatch(fixture);
    assert_int_equal(json_object_size(status), 1);
    const json_t *conditions = json_object_get(status, "conditions");
    assert_int_equal(json_array_size(conditions), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(conditions, 0), "reason")), "Kept");
    json_decref(status);
    json_t *condition = statusCondition(fixture, "Progressing");
    assert_string_equal(json_string_value(json_object_get(condition, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(condition, "reason")), "Paused");
    assert_string_equal(json_string_value(json_object_get(condition, "message")),
                        "No spec changes will be applied and no other statuses will be updated.");
    json_decref(condition);
}

/* Shutting down while both instances run: the replica's StatefulSet goes to 0 replicas, the primary's stays at 1,
 * and the primary is recorded as the startup instance, with its set; the repository host would stop too (no
 * backups here). */
static void testShutdownStopsReplicasFirst(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *leader = fixture->instances[1], *replica = fixture->instances[0];
    const FakeApiRoute routes[] = {
        {"GET", "/pods?", "200 OK",
         listOf(fixture, memCtxPrintf(fixture->ctx, "%s,%s", podItem(fixture, leader), podItem(fixture, replica)))}};
    const char *statefulSets =
        memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, replica), statefulSetItem(fixture, leader));
    reconcileOnce(fixture, routes, 1, clusterWith(fixture, "\"shutdown\":true,", NULL), statefulSets,
                  runningLeaderItem(fixture, memCtxPrintf(fixture->ctx, "%s-0", leader)));
    assert_int_equal(appliedReplicas(fixture, replica), 0);
    assert_int_equal(appliedReplicas(fixture, leader), 1);
    json_t *status = statusPatch(fixture);
    assert_string_equal(json_string_value(json_object_get(status, "startupInstance")), leader);
    assert_string_equal(json_string_value(json_object_get(status, "startupInstanceSet")), "instance1");
    json_decref(status);
}

/* Shutting down once the replica's Pod is gone: the primary, which Patroni no longer names, stops too; the startup
 * instance recorded stays. */
static void testShutdownStopsPrimaryLast(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *leader = fixture->instances[1], *replica = fixture->instances[0];
    const FakeApiRoute routes[] = {{"GET", "/pods?", "200 OK", listOf(fixture, podItem(fixture, leader))}};
    const char *statefulSets =
        memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, replica), statefulSetItem(fixture, leader));
    const char *status =
        memCtxPrintf(fixture->ctx, "{\"startupInstance\":\"%s\",\"startupInstanceSet\":\"instance1\"}", leader);
    reconcileOnce(fixture, routes, 1, clusterWith(fixture, "\"shutdown\":true,", status), statefulSets,
                  leaderItem(fixture, NULL));
    assert_int_equal(appliedReplicas(fixture, replica), 0);
    assert_int_equal(appliedReplicas(fixture, leader), 0);
}

/* Starting again: the startup instance alone until Patroni has a leader. */
static void testStartupInstanceStartsAlone(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *first = fixture->instances[1], *other = fixture->instances[0];
    const char *statefulSets =
        memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, other), statefulSetItem(fixture, first));
    const char *status =
        memCtxPrintf(fixture->ctx, "{\"startupInstance\":\"%s\",\"startupInstanceSet\":\"instance1\"}", first);
    reconcileOnce(fixture, NULL, 0, clusterWith(fixture, "\"shutdown\":false,", status), statefulSets,
                  leaderItem(fixture, NULL));
    assert_int_equal(appliedReplicas(fixture, other), 0);
    assert_int_equal(appliedReplicas(fixture, first), 1);
}

/* Started: with a leader every instance runs and the status forgets the startup instance. */
static void testStartedForgetsStartupInstance(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *first = fixture->instances[1], *other = fixture->instances[0];
    const FakeApiRoute routes[] = {{"GET", "/pods?", "200 OK", listOf(fixture, podItem(fixture, first))}};
    const char *statefulSets =
        memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, other), statefulSetItem(fixture, first));
    const char *status =
        memCtxPrintf(fixture->ctx, "{\"startupInstance\":\"%s\",\"startupInstanceSet\":\"instance1\"}", first);
    reconcileOnce(fixture, routes, 1, clusterWith(fixture, "", status), statefulSets,
                  runningLeaderItem(fixture, memCtxPrintf(fixture->ctx, "%s-0", first)));
    assert_int_equal(appliedReplicas(fixture, other), 1);
    json_t *patch = statusPatch(fixture);
    assert_true(json_is_null(json_object_get(patch, "startupInstance")));
    assert_true(json_is_null(json_object_get(patch, "startupInstanceSet")));
    json_decref(patch);
}

/* The status.pgbackrest patched for hippo without backups and with status (a JSON object, or NULL); a new reference. */
static json_t *pgbackrestPatched(ReconcilerFixture *fixture, const char *status)
{
    reconcileOnce(fixture, NULL, 0, clusterWith(fixture, "", status), "", leaderItem(fixture, NULL));
    json_t *patch = statusPatch(fixture);
    json_t *pgbackrest = json_incref(json_object_get(patch, "pgbackrest"));
    json_decref(patch);
    assert_true(json_is_object(pgbackrest));
    return pgbackrest;
}

/* A cluster without backups: status.pgbackrest is {} as in PGO, made so by nulling what a former one had. */
static void testNoBackupsStatusEmpty(void **state)
{
    json_t *pgbackrest =
        pgbackrestPatched(*state, "{\"pgbackrest\":{\"repos\":[{\"name\":\"repo1\"}],\"repoHost\":{}}}");
    assert_int_equal(json_object_size(pgbackrest), 2);
    assert_true(json_is_null(json_object_get(pgbackrest, "repos")));
    assert_true(json_is_null(json_object_get(pgbackrest, "repoHost")));
    json_decref(pgbackrest);
}

/* A new cluster without backups: status.pgbackrest is written as {}. */
static void testNoBackupsStatusCreated(void **state)
{
    json_t *pgbackrest = pgbackrestPatched(*state, NULL);
    assert_int_equal(json_object_size(pgbackrest), 0);
    json_decref(pgbackrest);
}

/* --- a switchover on request --- */

/* hippo (two instances) with the annotation trigger-switchover=one, spec.patroni.switchover {enabled, type}, and
 * status (a JSON object, or NULL). */
static const char *switchoverCluster(ReconcilerFixture *fixture, const char *type, const char *status)
{
    const char *cluster = clusterWith(
        fixture, memCtxPrintf(fixture->ctx, "\"patroni\":{\"switchover\":{\"enabled\":true,\"type\":\"%s\"}},", type),
        status);
    return memCtxPrintf(fixture->ctx,
                        "%.*s\"annotations\":{\"postgres-operator.crunchydata.com/trigger-switchover\":"
                        "\"one\"},%s",
                        (int)(strstr(cluster, "\"finalizers\"") - cluster), cluster, strstr(cluster, "\"finalizers\""));
}

/* The leader's Pod with Patroni's member record on timeline. */
static FakeApiRoute leaderPodRoute(ReconcilerFixture *fixture, const char *instance, int timeline)
{
    const char *pod = podItem(fixture, instance);
    const char *annotated = memCtxPrintf(fixture->ctx,
                                         "%.*s,\"annotations\":{\"status\":\"{\\\"role\\\":\\\"primary\\\","
                                         "\\\"timeline\\\":%d}\"}}}",
                                         (int)(strlen(pod) - 2), pod, timeline);
    return (FakeApiRoute){"GET", "/pods?", "200 OK", listOf(fixture, annotated)};
}

/* A new trigger value: the primary's timeline is recorded and Patroni's failover key names the primary as leader. */
static void testSwitchoverRequested(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *leader = fixture->instances[1];
    const FakeApiRoute routes[] = {leaderPodRoute(fixture, leader, 3)};
    const char *statefulSets = memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, fixture->instances[0]),
                                            statefulSetItem(fixture, leader));
    reconcileOnce(fixture, routes, 1, switchoverCluster(fixture, "Switchover", NULL), statefulSets,
                  runningLeaderItem(fixture, memCtxPrintf(fixture->ctx, "%s-0", leader)));
    char *body = fakeApiBody(fixture->record, "PATCH", "/endpoints/" RECONCILER_CLUSTER "-ha-failover");
    if (body == NULL)
        fail_msg("no failover key; requests:\n%s", fixture->record);
    json_t *key = harnessJson(body);
    free(body);
    const json_t *annotations = json_object_get(json_object_get(key, "metadata"), "annotations");
    assert_string_equal(json_string_value(json_object_get(annotations, "leader")),
                        memCtxPrintf(fixture->ctx, "%s-0", leader));
    assert_null(json_object_get(annotations, "member"));
    json_decref(key);
    json_t *status = statusPatch(fixture);
    const json_t *patroni = json_object_get(status, "patroni");
    assert_int_equal(json_integer_value(json_object_get(patroni, "switchoverTimeline")), 3);
    assert_null(json_object_get(patroni, "switchover"));
    json_decref(status);
}

/* The primary on a later timeline than recorded: the trigger is carried out, nothing more is asked of Patroni. */
static void testSwitchoverDone(void **state)
{
    ReconcilerFixture *fixture = *state;
    const char *leader = fixture->instances[0];
    const FakeApiRoute routes[] = {leaderPodRoute(fixture, leader, 4)};
    const char *statefulSets = memCtxPrintf(fixture->ctx, "%s,%s", statefulSetItem(fixture, fixture->instances[0]),
                                            statefulSetItem(fixture, fixture->instances[1]));
    reconcileOnce(fixture, routes, 1,
                  switchoverCluster(fixture, "Failover", "{\"patroni\":{\"switchoverTimeline\":3}}"), statefulSets,
                  runningLeaderItem(fixture, memCtxPrintf(fixture->ctx, "%s-0", leader)));
    assert_int_equal(fakeApiCount(fixture->record, "PATCH", "/endpoints/" RECONCILER_CLUSTER "-ha-failover"), 0);
    json_t *status = statusPatch(fixture);
    const json_t *patroni = json_object_get(status, "patroni");
    assert_string_equal(json_string_value(json_object_get(patroni, "switchover")), "one");
    assert_true(json_is_null(json_object_get(patroni, "switchoverTimeline")));
    json_decref(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testScaleDownWaitsForLeader, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testScaleDownKeepsLeaderSortedLast, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testScaleDownKeepsLeaderSortedFirst, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testFailedApplyStillWritesStatus, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testInvalidStandbyWaits, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testStandbyIsMade, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCloneWaitsForMissingSource, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testInPlaceRestoreRequested, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testPausedAppliesNothing, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testShutdownStopsReplicasFirst, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testShutdownStopsPrimaryLast, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testStartupInstanceStartsAlone, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testStartedForgetsStartupInstance, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNoBackupsStatusEmpty, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNoBackupsStatusCreated, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSwitchoverRequested, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSwitchoverDone, setUp, tearDown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
