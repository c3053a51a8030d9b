/* Unit tests: controllers/postgrescluster/rollout (the order of a rolling update: replicas first, then a switchover, then the former
 * primary; nothing while anything settles). */
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/alloc.h"
#include "controllers/postgrescluster/rollout.h"

#include <stdint.h>
#include <stdio.h>

/* Three instances a, b, c; each StatefulSet at updateRevision "new" (observed), each Pod Ready, b the primary:
 * Patroni's leader (leader, SIZE_MAX for none). The Pods' role labels are set to match, but only leader counts. */
typedef struct Fixture {
    json_t *sets[3];
    json_t *pods[3];
    ClusterRolloutMember members[3];
    size_t leader;
} Fixture;

static json_t *podOf(const char *name, const char *revision, bool primary, bool ready)
{
    char text[600];
    snprintf(text, sizeof(text),
             "{\"metadata\": {\"name\": \"%s-0\", \"labels\": {\"controller-revision-hash\": \"%s\","
             " \"postgres-operator.crunchydata.com/role\": \"%s\"}},"
             " \"status\": {\"conditions\": [{\"type\": \"PodScheduled\", \"status\": \"True\"},"
             " {\"type\": \"Ready\", \"status\": \"%s\"}]}}",
             name, revision, primary ? "master" : "replica", ready ? "True" : "False");
    return harnessJson(text);
}

/* podOf's Pod with Patroni's member record in its "status" annotation: record, a JSON text. */
static json_t *podWithRecord(const char *name, bool primary, const char *record)
{
    json_t *pod = podOf(name, "new", primary, true);
    json_object_set_new(json_object_get(pod, "metadata"), "annotations", json_pack("{s:s}", "status", record));
    return pod;
}

static int setUp(void **state)
{
    static const char *const names[] = {"a", "b", "c"};
    Fixture *fixture = allocRaw(sizeof(*fixture));
    assert_non_null(fixture);
    for (size_t memberIdx = 0; memberIdx < 3; memberIdx++) {
        fixture->sets[memberIdx] =
            harnessJson("{\"metadata\": {\"generation\": 2},"
                        " \"status\": {\"observedGeneration\": 2, \"updateRevision\": \"new\"}}");
        fixture->pods[memberIdx] = podOf(names[memberIdx], "new", memberIdx == 1, true);
        fixture->members[memberIdx] =
            (ClusterRolloutMember){.statefulSet = fixture->sets[memberIdx], .pod = fixture->pods[memberIdx]};
    }
    fixture->leader = 1;
    *state = fixture;
    return 0;
}

static int tearDown(void **state)
{
    Fixture *fixture = *state;
    for (size_t memberIdx = 0; memberIdx < 3; memberIdx++) {
        json_decref(fixture->sets[memberIdx]);
        json_decref(fixture->pods[memberIdx]);
    }
    allocFree(fixture);
    return 0;
}

static void setPod(Fixture *fixture, size_t memberIdx, json_t *pod)
{
    json_decref(fixture->pods[memberIdx]);
    fixture->pods[memberIdx] = pod;
    fixture->members[memberIdx].pod = pod;
}

static ClusterRolloutStep next(const Fixture *fixture, size_t count, bool switchoverPending)
{
    return clusterRolloutNext(fixture->members, count, fixture->leader < count ? fixture->leader : count,
                              switchoverPending);
}

static void assertStep(const Fixture *fixture, size_t count, ClusterRolloutAction action, size_t member)
{
    ClusterRolloutStep step = next(fixture, count, false);
    assert_int_equal(step.action, action);
    if (action == rolloutDeletePod || action == rolloutSwitchover)
        assert_int_equal(step.member, member);
}

static void testUpToDateDoesNothing(void **state)
{
    Fixture *fixture = *state;
    assertStep(fixture, 3, rolloutNone, 0);
    assertStep(fixture, 0, rolloutNone, 0);
}

static void testReplicasFirstThenSwitchoverThenFormerPrimary(void **state)
{
    Fixture *fixture = *state;
    /* The template changed: every Pod is at "old". */
    setPod(fixture, 0, podOf("a", "old", false, true));
    setPod(fixture, 1, podOf("b", "old", true, true));
    setPod(fixture, 2, podOf("c", "old", false, true));
    assertStep(fixture, 3, rolloutDeletePod, 0);
    /* a is being replaced: its Pod gone, then back but not Ready yet. Nothing moves. */
    setPod(fixture, 0, NULL);
    assertStep(fixture, 3, rolloutWait, 0);
    setPod(fixture, 0, podOf("a", "new", false, false));
    assertStep(fixture, 3, rolloutWait, 0);
    setPod(fixture, 0, podOf("a", "new", false, true));
    assertStep(fixture, 3, rolloutDeletePod, 2);
    setPod(fixture, 2, podOf("c", "new", false, true));
    /* Only the primary is old: switch over to the first replica. */
    ClusterRolloutStep step = next(fixture, 3, false);
    assert_int_equal(step.action, rolloutSwitchover);
    assert_int_equal(step.member, 0);
    assert_int_equal(step.primary, 1);
    /* Until Patroni clears its failover key, nothing else moves. */
    assert_int_equal(next(fixture, 3, true).action, rolloutWait);
    /* During the switchover Patroni records no leader: wait. */
    fixture->leader = SIZE_MAX;
    setPod(fixture, 1, podOf("b", "old", false, true));
    setPod(fixture, 0, podOf("a", "new", false, true));
    assertStep(fixture, 3, rolloutWait, 0);
    /* a leads; b is an old replica now. */
    fixture->leader = 0;
    setPod(fixture, 0, podOf("a", "new", true, true));
    assertStep(fixture, 3, rolloutDeletePod, 1);
    setPod(fixture, 1, podOf("b", "new", false, true));
    assertStep(fixture, 3, rolloutNone, 0);
}

static void testSingleInstanceRestartsInPlace(void **state)
{
    Fixture *fixture = *state;
    fixture->members[0] = fixture->members[1];
    setPod(fixture, 1, podOf("b", "old", true, true));
    fixture->members[0].pod = fixture->pods[1];
    fixture->leader = 0;
    assertStep(fixture, 1, rolloutDeletePod, 0);
}

/* A parameter change that needs a restart (Patroni's pending_restart on each member): the replicas' Pods first, then
 * a switchover, then the former primary, as for a new template. */
static void testPendingRestartRollsLikeATemplate(void **state)
{
    Fixture *fixture = *state;
    static const char pending[] = "{\"state\": \"running\", \"pending_restart\": true}";
    static const char running[] = "{\"state\": \"running\"}";
    setPod(fixture, 0, podWithRecord("a", false, pending));
    setPod(fixture, 1, podWithRecord("b", true, pending));
    setPod(fixture, 2, podWithRecord("c", false, pending));
    assert_true(clusterRolloutPendingRestart(fixture->pods[0]));
    assert_false(clusterRolloutOutdated(fixture->sets[0], fixture->pods[0]));
    assertStep(fixture, 3, rolloutDeletePod, 0);
    setPod(fixture, 0, podWithRecord("a", false, running));
    assertStep(fixture, 3, rolloutDeletePod, 2);
    setPod(fixture, 2, podWithRecord("c", false, running));
    assertStep(fixture, 3, rolloutSwitchover, 0);
    fixture->leader = 0;
    setPod(fixture, 0, podWithRecord("a", true, running));
    setPod(fixture, 1, podWithRecord("b", false, pending));
    assertStep(fixture, 3, rolloutDeletePod, 1);
    setPod(fixture, 1, podWithRecord("b", false, running));
    assertStep(fixture, 3, rolloutNone, 0);
}

/* What is not a pending restart: false, no record, a record that is not JSON or not an object. */
static void testPendingRestartRead(void **state)
{
    Fixture *fixture = *state;
    static const char *const records[] = {"{\"pending_restart\": false}", "{}", "not json", "[true]",
                                          "{\"pending_restart\": \"true\"}"};
    assert_false(clusterRolloutPendingRestart(fixture->pods[0]));
    assert_false(clusterRolloutPendingRestart(NULL));
    for (size_t recordIdx = 0; recordIdx < sizeof(records) / sizeof(records[0]); recordIdx++) {
        setPod(fixture, 0, podWithRecord("a", false, records[recordIdx]));
        assert_false(clusterRolloutPendingRestart(fixture->pods[0]));
    }
    assertStep(fixture, 3, rolloutNone, 0);
}

static void testTerminatingPodWaits(void **state)
{
    Fixture *fixture = *state;
    setPod(fixture, 0, podOf("a", "old", false, true));
    json_object_set_new(json_object_get(fixture->pods[2], "metadata"), "deletionTimestamp",
                        json_string("2026-11-25T00:00:00Z"));
    assertStep(fixture, 3, rolloutWait, 0);
}

static void testStatefulSetControllerBehind(void **state)
{
    Fixture *fixture = *state;
    /* A new generation the StatefulSet controller has not observed: its updateRevision is stale, so no Pod is
     * judged yet. */
    setPod(fixture, 0, podOf("a", "old", false, true));
    json_object_set_new(json_object_get(fixture->sets[0], "metadata"), "generation", json_integer(3));
    assert_false(clusterRolloutOutdated(fixture->sets[0], fixture->pods[0]));
    assertStep(fixture, 3, rolloutNone, 0);
    json_object_set_new(json_object_get(fixture->sets[0], "status"), "observedGeneration", json_integer(3));
    assert_true(clusterRolloutOutdated(fixture->sets[0], fixture->pods[0]));
    /* No revision on either side: not outdated. */
    json_object_del(json_object_get(fixture->sets[0], "status"), "updateRevision");
    assert_false(clusterRolloutOutdated(fixture->sets[0], fixture->pods[0]));
}

/* A StatefulSet whose new generation is not observed yet: its Pod is not judged, so nothing may move (that replica
 * must not become a switchover's candidate while the primary's StatefulSet already says the primary is outdated). */
static void testUnobservedStatefulSetWaits(void **state)
{
    Fixture *fixture = *state;
    setPod(fixture, 1, podOf("b", "old", true, true));
    json_object_set_new(json_object_get(fixture->sets[0], "metadata"), "generation", json_integer(3));
    assertStep(fixture, 3, rolloutWait, 0);
    json_object_set_new(json_object_get(fixture->sets[0], "status"), "observedGeneration", json_integer(3));
    assertStep(fixture, 3, rolloutSwitchover, 0);
}

/* Without Patroni's leader nothing moves, whatever the Pods' role labels say. */
static void testNoPrimaryWaits(void **state)
{
    Fixture *fixture = *state;
    fixture->leader = SIZE_MAX;
    setPod(fixture, 0, podOf("a", "old", false, true));
    assertStep(fixture, 3, rolloutWait, 0);
    setPod(fixture, 2, podOf("c", "old", false, true));
    setPod(fixture, 1, podOf("b", "old", true, true));
    assertStep(fixture, 3, rolloutWait, 0);
}

/* The leader decides, not a label left behind: a still says master, Patroni's leader is b. a, an outdated replica,
 * is replaced first; when only b is outdated, the switchover goes from b. */
static void testLeaderNotLabel(void **state)
{
    Fixture *fixture = *state;
    setPod(fixture, 0, podOf("a", "old", true, true));
    setPod(fixture, 1, podOf("b", "old", false, true));
    assertStep(fixture, 3, rolloutDeletePod, 0);
    setPod(fixture, 0, podOf("a", "new", true, true));
    ClusterRolloutStep step = next(fixture, 3, false);
    assert_int_equal(step.action, rolloutSwitchover);
    assert_int_equal(step.primary, 1);
    assert_int_equal(step.member, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testUpToDateDoesNothing, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testReplicasFirstThenSwitchoverThenFormerPrimary, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSingleInstanceRestartsInPlace, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testPendingRestartRollsLikeATemplate, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testPendingRestartRead, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTerminatingPodWaits, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testStatefulSetControllerBehind, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUnobservedStatefulSetWaits, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNoPrimaryWaits, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLeaderNotLabel, setUp, tearDown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
