/* Unit tests: kube/apply (when an intent needs writing; the resource of each kind), controllers/postgrescluster/changes (which
 * updates of watched objects are worth a reconcile) and the reconciler's instance names. */
#include "harness/golden.h"
#include "harness/harness.h"

#include "controllers/postgrescluster/changes.h"
#include "controllers/postgrescluster/reconciler.h"
#include "kube/apply.h"

#include <string.h>

static bool needed(const char *desired, const char *cached)
{
    json_t *want = harnessJson(desired);
    json_t *have = cached != NULL ? harnessJson(cached) : NULL;
    bool result = clusterApplyNeeded(want, have);
    json_decref(want);
    json_decref(have);
    return result;
}

static void testMissingObjectIsApplied(void **state)
{
    (void)state;
    assert_true(needed("{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\"}}", NULL));
}

static void testServerDefaultsAreIgnored(void **state)
{
    (void)state;
    /* The API server adds members (clusterIP, a port's protocol, resourceVersion): no write. */
    assert_false(
        needed("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}},"
               "\"spec\":{\"ports\":[{\"name\":\"postgres\",\"port\":5432}]}}",
               "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"9\",\"labels\":{\"x\":\"1\",\"y\":\"2\"}},"
               "\"spec\":{\"clusterIP\":\"10.96.0.9\",\"ports\":[{\"name\":\"postgres\",\"port\":5432,"
               "\"protocol\":\"TCP\"}]}}"));
}

static void testChangedValueIsApplied(void **state)
{
    (void)state;
    assert_true(needed("{\"metadata\":{\"labels\":{\"x\":\"1\"}}}", "{\"metadata\":{\"labels\":{\"x\":\"2\"}}}"));
    assert_true(needed("{\"spec\":{\"replicas\":1}}", "{\"spec\":{\"replicas\":0}}"));
    assert_true(needed("{\"spec\":{\"replicas\":1}}", "{\"spec\":{}}"));
    assert_true(needed("{\"spec\":{\"x\":true}}", "{\"spec\":{\"x\":false}}"));
    assert_true(needed("{\"spec\":{\"x\":{}}}", "{\"spec\":{\"x\":\"text\"}}"));
    assert_true(needed("{\"spec\":{\"x\":[1]}}", "{\"spec\":{\"x\":{\"0\":1}}}"));
}

static void testArraysKeepTheirLength(void **state)
{
    (void)state;
    /* An element the intent dropped must go, so a longer cached array is a difference. */
    assert_true(needed("{\"a\":[{\"n\":1}]}", "{\"a\":[{\"n\":1},{\"n\":2}]}"));
    assert_true(needed("{\"a\":[{\"n\":1},{\"n\":2}]}", "{\"a\":[{\"n\":1}]}"));
    assert_true(needed("{\"a\":[{\"n\":2},{\"n\":1}]}", "{\"a\":[{\"n\":1},{\"n\":2}]}"));
    assert_false(needed("{\"a\":[{\"n\":1}]}", "{\"a\":[{\"n\":1,\"d\":\"x\"}]}"));
}

static void testQuantitiesCompareByValue(void **state)
{
    (void)state;
    assert_false(needed("{\"storage\":\"1024Mi\"}", "{\"storage\":\"1Gi\"}"));
    assert_false(needed("{\"cpu\":\"1000m\"}", "{\"cpu\":\"1\"}"));
    assert_true(needed("{\"storage\":\"2Gi\"}", "{\"storage\":\"1Gi\"}"));
    assert_true(needed("{\"name\":\"abc\"}", "{\"name\":\"abd\"}"));
}

static void testKindAndVersionAreNotCompared(void **state)
{
    (void)state;
    /* Items of a list carry neither. */
    assert_false(needed("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"spec\":{}}", "{\"spec\":{}}"));
    /* Nested ones are. */
    assert_true(needed("{\"spec\":{\"kind\":\"x\"}}", "{\"spec\":{}}"));
}

static void testResources(void **state)
{
    (void)state;
    const KubeResource *sts = clusterResourceOf("apps/v1", "StatefulSet");
    assert_non_null(sts);
    assert_string_equal(sts->group, "apps");
    assert_string_equal(sts->plural, "statefulsets");
    const KubeResource *pdb = clusterResourceOf("policy/v1", "PodDisruptionBudget");
    assert_non_null(pdb);
    assert_string_equal(pdb->plural, "poddisruptionbudgets");
    assert_non_null(clusterResourceOf("v1", "Endpoints"));
    assert_non_null(clusterResourceOf("rbac.authorization.k8s.io/v1", "RoleBinding"));
    assert_null(clusterResourceOf("v1", "StatefulSet"));
    assert_non_null(clusterResourceOf("apps/v1", "Deployment"));
    assert_null(clusterResourceOf("v1", "Deployment"));
}

static void testInstanceNames(void **state)
{
    (void)state;
    char first[254], again[254], second[254], otherCluster[254];
    clusterInstanceName("hippo", "0b5e7c1a-1111-2222-3333-444455556666", "instance1", 0, first);
    clusterInstanceName("hippo", "0b5e7c1a-1111-2222-3333-444455556666", "instance1", 0, again);
    clusterInstanceName("hippo", "0b5e7c1a-1111-2222-3333-444455556666", "instance1", 1, second);
    clusterInstanceName("hippo", "ffffffff-1111-2222-3333-444455556666", "instance1", 0, otherCluster);
    assert_string_equal(first, again);
    assert_string_not_equal(first, second);
    assert_string_not_equal(first, otherCluster);
    /* PGO's shape: <cluster>-<set>-<4 of bcdfghjklmnpqrstvwxz2456789>. */
    assert_int_equal(strlen(first), strlen("hippo-instance1-") + 4);
    assert_memory_equal(first, "hippo-instance1-", strlen("hippo-instance1-"));
    for (size_t charIdx = strlen("hippo-instance1-"); first[charIdx] != '\0'; charIdx++)
        assert_non_null(strchr("bcdfghjklmnpqrstvwxz2456789", first[charIdx]));
}

typedef bool UpdateMattersFn(const json_t *oldObject, const json_t *newObject);

static bool matters(UpdateMattersFn *fn, const char *before, const char *after)
{
    json_t *oldObject = harnessJson(before);
    json_t *newObject = harnessJson(after);
    bool result = fn(oldObject, newObject);
    json_decref(oldObject);
    json_decref(newObject);
    return result;
}

#define LEASE(renew, optime, leader)                                                                               \
    "{\"metadata\":{\"name\":\"hippo-ha\",\"resourceVersion\":\"" renew "\",\"annotations\":{\"leader\":\"" leader \
    "\",\"renewTime\":\"" renew "\",\"optime\":\"" optime "\",\"slots\":\"{}\",\"ttl\":\"30\"}},"                  \
    "\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.7\"}]}]}"

static void testLeaseRenewalIsNoise(void **state)
{
    (void)state;
    /* Patroni's renewal every loop_wait: new renewTime, optime, resourceVersion. */
    assert_false(
        matters(clusterEndpointsUpdateMatters, LEASE("1", "100", "hippo-a-0"), LEASE("2", "200", "hippo-a-0")));
    /* A new leader, a changed ttl, new addresses, an added or removed annotation: all matter. */
    assert_true(matters(clusterEndpointsUpdateMatters, LEASE("1", "100", "hippo-a-0"), LEASE("2", "100", "hippo-b-0")));
    assert_true(matters(clusterEndpointsUpdateMatters, LEASE("1", "1", "a"),
                        "{\"metadata\":{\"annotations\":{\"leader\":\"a\",\"renewTime\":\"1\",\"optime\":\"1\","
                        "\"slots\":\"{}\",\"ttl\":\"20\"}},\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.7\"}]}]}"));
    assert_true(matters(clusterEndpointsUpdateMatters, LEASE("1", "1", "a"),
                        "{\"metadata\":{\"annotations\":{\"leader\":\"a\",\"renewTime\":\"1\",\"optime\":\"1\","
                        "\"slots\":\"{}\",\"ttl\":\"30\"}},\"subsets\":[]}"));
    assert_true(matters(clusterEndpointsUpdateMatters, "{\"metadata\":{\"annotations\":{}}}",
                        "{\"metadata\":{\"annotations\":{\"initialize\":\"7\"}}}"));
    assert_true(matters(clusterEndpointsUpdateMatters, "{\"metadata\":{\"annotations\":{\"config\":\"{}\"}}}",
                        "{\"metadata\":{}}"));
    /* Metadata beyond the noise matters: labels, a deletion mark. */
    assert_true(matters(clusterEndpointsUpdateMatters, "{\"metadata\":{\"resourceVersion\":\"1\"}}",
                        "{\"metadata\":{\"resourceVersion\":\"2\",\"deletionTimestamp\":\"x\"}}"));
    assert_false(matters(clusterEndpointsUpdateMatters, "{\"metadata\":{\"resourceVersion\":\"1\"}}",
                         "{\"metadata\":{\"resourceVersion\":\"2\",\"managedFields\":[]}}"));
}

static void testMemberStatusIsNoise(void **state)
{
    (void)state;
    assert_false(matters(clusterPodUpdateMatters,
                         "{\"metadata\":{\"labels\":{\"role\":\"master\"},\"annotations\":{\"status\":\"{1}\"}},"
                         "\"status\":{\"phase\":\"Running\"}}",
                         "{\"metadata\":{\"labels\":{\"role\":\"master\"},\"annotations\":{\"status\":\"{2}\"}},"
                         "\"status\":{\"phase\":\"Running\"}}"));
    /* The role label, the phase: matter. The lease annotations are not noise on a Pod. */
    assert_true(matters(clusterPodUpdateMatters, "{\"metadata\":{\"labels\":{\"role\":\"master\"}}}",
                        "{\"metadata\":{\"labels\":{\"role\":\"replica\"}}}"));
    assert_true(matters(clusterPodUpdateMatters, "{\"status\":{\"phase\":\"Pending\"}}",
                        "{\"status\":{\"phase\":\"Running\"}}"));
    assert_true(matters(clusterPodUpdateMatters, "{\"metadata\":{\"annotations\":{\"renewTime\":\"1\"}}}",
                        "{\"metadata\":{\"annotations\":{\"renewTime\":\"2\"}}}"));
    /* The role in Patroni's member record: a standby leader promoted matters, its WAL position does not; a record
     * that is no JSON names no role. */
    assert_true(matters(clusterPodUpdateMatters,
                        "{\"metadata\":{\"annotations\":{\"status\":\"{\\\"role\\\":\\\"standby_leader\\\"}\"}}}",
                        "{\"metadata\":{\"annotations\":{\"status\":\"{\\\"role\\\":\\\"primary\\\"}\"}}}"));
    assert_false(matters(
        clusterPodUpdateMatters,
        "{\"metadata\":{\"annotations\":{\"status\":\"{\\\"role\\\":\\\"primary\\\",\\\"xlog_location\\\":1}\"}}}",
        "{\"metadata\":{\"annotations\":{\"status\":\"{\\\"role\\\":\\\"primary\\\",\\\"xlog_location\\\":2}\"}}}"));
    assert_false(matters(clusterPodUpdateMatters, "{\"metadata\":{\"annotations\":{\"status\":\"{\"}}}",
                         "{\"metadata\":{\"annotations\":{\"status\":\"[\"}}}"));
    /* Of the member status, a restart becoming pending, or done, matters; one staying pending does not. */
    static const char pending1[] =
        "{\"metadata\":{\"annotations\":{\"status\":\"{\\\"pending_restart\\\":true,\\\"xlog\\\":1}\"}}}";
    static const char pending2[] =
        "{\"metadata\":{\"annotations\":{\"status\":\"{\\\"pending_restart\\\":true,\\\"xlog\\\":2}\"}}}";
    static const char running[] = "{\"metadata\":{\"annotations\":{\"status\":\"{\\\"xlog\\\":3}\"}}}";
    assert_true(matters(clusterPodUpdateMatters, running, pending1));
    assert_true(matters(clusterPodUpdateMatters, pending2, running));
    assert_false(matters(clusterPodUpdateMatters, pending1, pending2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testMissingObjectIsApplied),
        cmocka_unit_test(testServerDefaultsAreIgnored),
        cmocka_unit_test(testChangedValueIsApplied),
        cmocka_unit_test(testArraysKeepTheirLength),
        cmocka_unit_test(testQuantitiesCompareByValue),
        cmocka_unit_test(testKindAndVersionAreNotCompared),
        cmocka_unit_test(testResources),
        cmocka_unit_test(testInstanceNames),
        cmocka_unit_test(testLeaseRenewalIsNoise),
        cmocka_unit_test(testMemberStatusIsNoise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
