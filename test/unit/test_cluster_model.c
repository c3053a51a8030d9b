/* Unit tests: api/model, the spec with PGO's defaults. */
#include "harness/golden.h"
#include "harness/harness.h"

#include "api/model.h"
#include "api/standby.h"

#include <string.h>

static const char *images(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "POSTGRES_17") == 0 ? "localhost/postgres:17.12-1" : NULL;
}

typedef struct ModelCase {
    const char *text;
    json_t *cluster;
    ClusterModel model;
} ModelCase;

static bool modelFrom(ModelCase *fixture, Err *err)
{
    MemCtx *ctx = memCtxNew(NULL, "test");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "no context");
    bool ok = clusterModelFromSpec(ctx, fixture->cluster, images, NULL, &fixture->model, err);
    memCtxFree(ctx);
    return ok;
}

static const char hippo[] =
    "{\"metadata\":{\"name\":\"hippo\",\"namespace\":\"ns\",\"uid\":\"u-1\",\"generation\":4},"
    "\"spec\":{\"postgresVersion\":17,\"instances\":[{\"name\":\"instance1\",\"replicas\":3},{},{\"name\":\"\"}]}}";

static void testDefaults(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "test");
    json_t *cluster = harnessJson(hippo);
    ClusterModel model;
    Err err;
    assert_true(clusterModelFromSpec(ctx, cluster, images, NULL, &model, &err));
    assert_string_equal(model.name, "hippo");
    assert_string_equal(model.namespace, "ns");
    assert_string_equal(model.uid, "u-1");
    assert_int_equal(model.generation, 4);
    assert_int_equal(model.postgresVersion, 17);
    assert_string_equal(model.image, "localhost/postgres:17.12-1");
    assert_int_equal(model.port, 5432);
    assert_int_equal(model.patroniPort, 8008);
    assert_int_equal(model.patroniTtl, 30);
    assert_int_equal(model.patroniLoopWait, 10);
    assert_string_equal(model.domain, "cluster.local");
    assert_int_equal(model.setCount, 3);
    assert_string_equal(model.sets[0].name, "instance1");
    assert_int_equal(model.sets[0].replicas, 3);
    assert_int_equal(model.sets[0].minAvailable, 1);
    /* An unnamed set is named by position, as PGO names it. */
    assert_string_equal(model.sets[1].name, "01");
    assert_int_equal(model.sets[1].replicas, 1);
    assert_int_equal(model.sets[1].minAvailable, 0);
    assert_string_equal(model.sets[2].name, "02"); /* an empty name too */
    assert_ptr_equal(clusterModelSetOf(&model, "hippo-instance1-abcd"), &model.sets[0]);
    assert_ptr_equal(clusterModelSetOf(&model, "hippo-01-abcd"), &model.sets[1]);
    assert_null(clusterModelSetOf(&model, "hippo-other-abcd"));
    assert_null(clusterModelSetOf(&model, "rhino-instance1-abcd"));
    assert_null(clusterModelSetOf(&model, "hippo-instance1"));
    json_decref(cluster);
    memCtxFree(ctx);
}

static void testExplicitValues(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "test");
    json_t *cluster = harnessJson(
        "{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\"},\"spec\":{\"postgresVersion\":18,\"image\":\"my/pg:18\","
        "\"port\":5433,\"patroni\":{\"leaderLeaseDurationSeconds\":20,\"syncPeriodSeconds\":5,\"port\":8009},"
        "\"instances\":[{\"name\":\"a\",\"replicas\":2,\"minAvailable\":\"50%\"}]}}");
    ClusterModel model;
    Err err;
    assert_true(clusterModelFromSpec(ctx, cluster, images, NULL, &model, &err));
    assert_string_equal(model.image, "my/pg:18");
    assert_string_equal(model.uid, "");
    assert_int_equal(model.port, 5433);
    assert_int_equal(model.patroniTtl, 20);
    assert_int_equal(model.patroniLoopWait, 5);
    assert_int_equal(model.patroniPort, 8009);
    assert_int_equal(model.sets[0].minAvailable, -1);
    assert_string_equal(model.sets[0].minAvailableText, "50%");
    json_decref(cluster);
    memCtxFree(ctx);
}

static void testNoImage(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "test");
    json_t *cluster = harnessJson("{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\"},"
                                  "\"spec\":{\"postgresVersion\":16,\"instances\":[{}]}}");
    ClusterModel model;
    Err err;
    /* Not an error here: the reconciler reports MissingRequiredImage. */
    assert_true(clusterModelFromSpec(ctx, cluster, images, NULL, &model, &err));
    assert_null(model.image);
    json_decref(cluster);
    memCtxFree(ctx);
}

static void expectInvalid(const char *text, const char *part)
{
    ModelCase fixture = {.cluster = harnessJson(text)};
    Err err;
    assert_false(modelFrom(&fixture, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, part);
    json_decref(fixture.cluster);
}

static void testInvalid(void **state)
{
    (void)state;
    expectInvalid("{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\"},\"spec\":{\"postgresVersion\":17,"
                  "\"instances\":[]}}",
                  "at least one instance set");
    expectInvalid("{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\"},\"spec\":{\"postgresVersion\":17,"
                  "\"instances\":[{\"name\":\"a\"},{\"name\":\"a\"}]}}",
                  "names set \"a\" twice");
    expectInvalid("{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\"},\"spec\":{\"postgresVersion\":17,"
                  "\"instances\":[{\"replicas\":-1}]}}",
                  "must not be negative");
    expectInvalid("{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\"},\"spec\":{\"postgresVersion\":17,"
                  "\"patroni\":{\"leaderLeaseDurationSeconds\":10,\"syncPeriodSeconds\":10},\"instances\":[{}]}}",
                  "at least twice");
}

static void testMissingFields(void **state)
{
    (void)state;
    ModelCase fixture = {.cluster = harnessJson("{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\"},\"spec\":{}}")};
    Err err;
    assert_false(modelFrom(&fixture, &err));
    assert_contains(err.message, "\"spec.postgresVersion\": missing");
    json_decref(fixture.cluster);
}

static bool modelOperation(void *arg, Err *err)
{
    return modelFrom(arg, err);
}

static void testAllocationFailures(void **state)
{
    (void)state;
    ModelCase fixture = {.cluster = harnessJson(hippo)};
    harnessAllocSweep(modelOperation, &fixture, false);
    json_decref(fixture.cluster);
}

/* spec.standby as read (api/standby.h): the CRD's default enabled, repository names the CRD allows, an empty host;
 * Patroni's role from a Pod's member record, none when it is missing, no JSON, or longer than the buffer. */
static void testStandby(void **state)
{
    (void)state;
    static const struct {
        const char *cluster;
        bool enabled, valid;
        int repo;
        const char *host;
        long long port;
    } cases[] = {
        {"{}", false, false, 0, NULL, 0},
        {"{\"spec\": {\"standby\": {\"repoName\": \"repo2\"}}}", true, true, 2, NULL, 0},
        {"{\"spec\": {\"standby\": {\"enabled\": false, \"repoName\": \"repo2\"}}}", false, false, 0, NULL, 0},
        {"{\"spec\": {\"standby\": {\"enabled\": true, \"host\": \"h\", \"port\": 6543}}}", true, true, 0, "h", 6543},
        {"{\"spec\": {\"standby\": {\"enabled\": true, \"host\": \"\"}}}", true, false, 0, NULL, 0},
        {"{\"spec\": {\"standby\": {\"enabled\": true, \"repoName\": \"repo5\"}}}", true, false, 0, NULL, 0},
        {"{\"spec\": {\"standby\": {\"enabled\": true, \"repoName\": \"repo11\"}}}", true, false, 0, NULL, 0},
        {"{\"spec\": {\"standby\": true}}", false, false, 0, NULL, 0},
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(cases) / sizeof(cases[0]); caseIdx++) {
        json_t *cluster = harnessJson(cases[caseIdx].cluster);
        ClusterStandby standby = clusterStandbyOf(cluster);
        assert_int_equal(standby.enabled, cases[caseIdx].enabled);
        assert_int_equal(clusterStandbyValid(&standby), cases[caseIdx].valid);
        assert_int_equal(standby.repo, cases[caseIdx].repo);
        assert_int_equal(standby.repoName != NULL, cases[caseIdx].repo > 0);
        if (cases[caseIdx].host == NULL)
            assert_null(standby.host);
        else
            assert_string_equal(standby.host, cases[caseIdx].host);
        assert_int_equal(standby.port, cases[caseIdx].port);
        json_decref(cluster);
    }

    char role[16];
    json_t *pod =
        harnessJson("{\"metadata\": {\"annotations\": {\"status\": \"{\\\"role\\\": \\\"standby_leader\\\"}\"}}}");
    clusterPodPatroniRole(pod, role, sizeof(role));
    assert_string_equal(role, "standby_leader");
    clusterPodPatroniRole(pod, role, 8);
    assert_string_equal(role, "");
    clusterPodPatroniRole(pod, role, 0);
    json_decref(pod);
    strcpy(role, "x");
    clusterPodPatroniRole(NULL, role, sizeof(role));
    assert_string_equal(role, "");
    pod = harnessJson("{\"metadata\": {\"annotations\": {\"status\": \"not json\"}}}");
    clusterPodPatroniRole(pod, role, sizeof(role));
    assert_string_equal(role, "");
    json_decref(pod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testDefaults), cmocka_unit_test(testExplicitValues), cmocka_unit_test(testNoImage),
        cmocka_unit_test(testInvalid),  cmocka_unit_test(testMissingFields),  cmocka_unit_test(testAllocationFailures),
        cmocka_unit_test(testStandby),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
