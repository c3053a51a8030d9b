/* Unit tests: api/primary (the primary is Patroni's leader, never a guess; which instances a scale-down keeps). */
#include "harness/golden.h"
#include "harness/harness.h"

#include "api/primary.h"

#include <string.h>

/* Set "instance1" (a, b, c) and set "other" (d); names sort a < b < c. */
static const ClusterExistingInstance existing[] = {
    {"hippo-instance1-aaaa", "instance1"},
    {"hippo-instance1-bbbb", "instance1"},
    {"hippo-instance1-cccc", "instance1"},
    {"hippo-other-dddd", "other"},
};
#define EXISTING (sizeof(existing) / sizeof(existing[0]))

static json_t *leaderEndpoints(const char *leader)
{
    json_t *endpoints = harnessJson("{\"metadata\": {\"name\": \"hippo-ha\", \"annotations\": {}}}");
    if (leader != NULL)
        json_object_set_new(json_object_get(json_object_get(endpoints, "metadata"), "annotations"), "leader",
                            json_string(leader));
    return endpoints;
}

static const char *findWith(const char *leader)
{
    json_t *endpoints = leaderEndpoints(leader);
    const char *primary = clusterPrimaryFind(endpoints, existing, EXISTING);
    json_decref(endpoints);
    return primary;
}

static void testLeaderNamesThePrimary(void **state)
{
    (void)state;
    assert_ptr_equal(findWith("hippo-instance1-cccc-0"), existing[2].name);
    assert_ptr_equal(findWith("hippo-other-dddd-0"), existing[3].name);
}

/* No leader, a cleared one, one of no instance of ours, a name that is not a Pod of a StatefulSet, a prefix. */
static void testNoLeaderIsNoPrimary(void **state)
{
    (void)state;
    assert_null(clusterPrimaryFind(NULL, existing, EXISTING));
    assert_null(findWith(NULL));
    assert_null(findWith(""));
    assert_null(findWith("-0"));
    assert_null(findWith("hippo-instance1-eeee-0"));
    assert_null(findWith("hippo-instance1-cccc"));
    assert_null(findWith("hippo-instance1-cccc-1"));
    assert_null(findWith("hippo-instance1-ccc-0"));
    assert_null(findWith("hippo-instance1-ccccc-0"));
}

static void keepWith(int64_t replicas, const char *primary, const char *expected)
{
    ClusterInstanceSet sets[] = {{.name = "instance1", .replicas = replicas}, {.name = "other", .replicas = 1}};
    bool keep[EXISTING];
    clusterPrimaryKeep(sets, 2, existing, EXISTING, primary, keep);
    char got[EXISTING + 1];
    for (size_t existIdx = 0; existIdx < EXISTING; existIdx++)
        got[existIdx] = keep[existIdx] ? 'k' : '-';
    got[EXISTING] = '\0';
    assert_string_equal(got, expected);
}

/* A scale-down keeps the leader whatever the sort order: c leads, a and b go first. */
static void testScaleDownKeepsTheLeader(void **state)
{
    (void)state;
    keepWith(1, existing[2].name, "--kk");
    keepWith(2, existing[2].name, "k-kk");
    keepWith(3, existing[2].name, "kkkk");
    keepWith(0, existing[2].name, "---k");
    /* The leader in another set: instance1 keeps its first ones by order. */
    keepWith(1, existing[3].name, "k--k");
}

/* Without a leader nothing is given up: every instance is kept, whatever replicas says. */
static void testNoLeaderKeepsEveryInstance(void **state)
{
    (void)state;
    keepWith(1, NULL, "kkkk");
    keepWith(0, NULL, "kkkk");
}

/* Sets no longer in the spec keep nothing here (the reconciler never prunes the leader's). */
static void testRemovedSetKeepsNothing(void **state)
{
    (void)state;
    ClusterInstanceSet sets[] = {{.name = "instance1", .replicas = 3}};
    bool keep[EXISTING];
    clusterPrimaryKeep(sets, 1, existing, EXISTING, existing[3].name, keep);
    assert_true(keep[0] && keep[1] && keep[2]);
    assert_false(keep[3]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testLeaderNamesThePrimary),   cmocka_unit_test(testNoLeaderIsNoPrimary),
        cmocka_unit_test(testScaleDownKeepsTheLeader), cmocka_unit_test(testNoLeaderKeepsEveryInstance),
        cmocka_unit_test(testRemovedSetKeepsNothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
