/* Unit tests: cmd/observer, the placeholder PostgresCluster reconciler: the status it wants (a pure function), and
 * that a cluster whose status is current causes no write. */
#include "harness/harness.h"

#include "cmd/observer.h"
#include "common/alloc.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW "2026-01-01T00:00:00Z"

static json_t *cluster(const char *extra)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"postgres-operator.crunchydata.com/v1beta1\",\"kind\":\"PostgresCluster\","
             "\"metadata\":{\"name\":\"hippo\",\"namespace\":\"ns\",\"generation\":3,\"resourceVersion\":\"77\"}%s}",
             extra);
    json_t *parsed;
    Err err;
    if (!jsonParse(text, strlen(text), &parsed, &err))
        fail_msg("%s", err.message);
    return parsed;
}

static char *patchFor(const char *extra)
{
    json_t *object = cluster(extra);
    json_t *patch;
    Err err;
    if (!observerStatusPatch(object, NOW, &patch, &err))
        fail_msg("%s", err.message);
    json_decref(object);
    if (patch == NULL)
        return NULL;
    char *text = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(patch);
    return text;
}

static void testNewClusterGetsStatus(void **state)
{
    (void)state;
    char *patch = patchFor("");
    assert_string_equal(patch, "{\"metadata\":{\"resourceVersion\":\"77\"},\"status\":{\"conditions\":[{"
                               "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"message\":\"The operator core "
                               "observed this generation; the PostgresCluster reconciler is not yet in place.\","
                               "\"observedGeneration\":3,\"reason\":\"GenerationObserved\",\"status\":\"True\","
                               "\"type\":\"Observed\"}],\"observedGeneration\":3}}");
    free(patch);
}

static void testCurrentStatusMeansNoWrite(void **state)
{
    (void)state;
    char *patch = patchFor(",\"status\":{\"observedGeneration\":3,\"conditions\":[{\"type\":\"Observed\",\"status\":"
                           "\"True\",\"observedGeneration\":3,\"lastTransitionTime\":\"2025-01-01T00:00:00Z\","
                           "\"reason\":\"GenerationObserved\",\"message\":\"m\"}]}");
    assert_null(patch);
}

static void testNewGenerationKeepsTransitionTimeAndOtherConditions(void **state)
{
    (void)state;
    char *patch = patchFor(",\"status\":{\"observedGeneration\":2,\"conditions\":[{\"type\":\"ProxyAvailable\","
                           "\"status\":\"False\"},{\"type\":\"Observed\",\"status\":\"True\",\"observedGeneration\":2,"
                           "\"lastTransitionTime\":\"2025-01-01T00:00:00Z\",\"reason\":\"GenerationObserved\","
                           "\"message\":\"m\"}]}");
    assert_non_null(patch);
    assert_contains(patch, "\"conditions\":[{\"status\":\"False\",\"type\":\"ProxyAvailable\"},{");
    assert_contains(patch, "\"lastTransitionTime\":\"2025-01-01T00:00:00Z\"");
    assert_contains(patch, "\"observedGeneration\":3,\"reason\"");
    assert_contains(patch, "}],\"observedGeneration\":3}}");
    free(patch);
}

static void testConditionNotTrueIsRewritten(void **state)
{
    (void)state;
    char *patch = patchFor(",\"status\":{\"observedGeneration\":3,\"conditions\":[{\"type\":\"Observed\",\"status\":"
                           "\"Unknown\",\"observedGeneration\":3,\"lastTransitionTime\":\"2025-01-01T00:00:00Z\"}]}");
    assert_non_null(patch);
    assert_contains(patch, "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"");
    free(patch);
}

static void testMalformedCluster(void **state)
{
    (void)state;
    json_t *object = cluster(",\"status\":{\"conditions\":{}}");
    json_t *patch;
    Err err;
    assert_false(observerStatusPatch(object, NOW, &patch, &err));
    assert_err(&err, errJsonType);
    assert_contains(err.message, "cannot read the PostgresCluster: ");
    json_decref(object);
    json_t *noVersion = json_pack("{s:{s:s}}", "metadata", "name", "x");
    assert_false(observerStatusPatch(noVersion, NOW, &patch, &err));
    assert_err(&err, errJsonMissing);
    json_decref(noVersion);
}

static bool buildPatch(void *arg, Err *err)
{
    json_t *object = arg;
    json_t *patch;
    if (!observerStatusPatch(object, NOW, &patch, err))
        return false;
    json_decref(patch);
    return true;
}

static void testOutOfMemory(void **state)
{
    (void)state;
    json_t *object = cluster(",\"status\":{\"conditions\":[{\"type\":\"A\"},{\"type\":\"B\"}]}");
    assert_true(harnessAllocSweep(buildPatch, object, false) > 5);
    json_decref(object);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testNewClusterGetsStatus),
        cmocka_unit_test(testCurrentStatusMeansNoWrite),
        cmocka_unit_test(testNewGenerationKeepsTransitionTimeAndOtherConditions),
        cmocka_unit_test(testConditionNotTrueIsRewritten),
        cmocka_unit_test(testMalformedCluster),
        cmocka_unit_test(testOutOfMemory),
    };
    return cmocka_run_group_tests_name("cmd/observer", tests, NULL, NULL);
}
