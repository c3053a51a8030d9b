/* Rolling updates: see rollout.h. */
#include "controllers/postgrescluster/rollout.h"

#include "api/model.h"

#include <string.h>

/* Whether the StatefulSet controller has observed statefulSet's latest generation. */
static bool rolloutObserved(const json_t *statefulSet)
{
    json_int_t observed =
        json_integer_value(json_object_get(json_object_get(statefulSet, "status"), "observedGeneration"));
    json_int_t generation = json_integer_value(json_object_get(json_object_get(statefulSet, "metadata"), "generation"));
    return observed >= generation;
}

bool clusterRolloutOutdated(const json_t *statefulSet, const json_t *pod)
{
    const char *wanted = json_string_value(json_object_get(json_object_get(statefulSet, "status"), "updateRevision"));
    const char *running = json_string_value(
        json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"), "controller-revision-hash"));
    return rolloutObserved(statefulSet) && wanted != NULL && running != NULL && strcmp(wanted, running) != 0;
}

bool clusterRolloutPendingRestart(const json_t *pod)
{
    const char *record =
        json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"), "status"));
    if (record == NULL)
        return false;
    json_t *member = json_loads(record, 0, NULL);
    bool pending = json_is_true(json_object_get(member, "pending_restart"));
    json_decref(member);
    return pending;
}

/* Whether member's Pod is to be replaced: an older template, or a restart Patroni waits for. */
static bool rolloutStale(const ClusterRolloutMember *member)
{
    return member->pod != NULL &&
           (clusterRolloutOutdated(member->statefulSet, member->pod) || clusterRolloutPendingRestart(member->pod));
}

/* A Pod that serves: Ready and not on its way out. */
static bool rolloutReady(const json_t *pod)
{
    if (pod == NULL || json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL)
        return false;
    size_t condIdx;
    const json_t *condition;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), condIdx, condition)
    {
        const char *type = json_string_value(json_object_get(condition, "type"));
        const char *value = json_string_value(json_object_get(condition, "status"));
        if (type != NULL && strcmp(type, "Ready") == 0)
            return value != NULL && strcmp(value, "True") == 0;
    }
    return false;
}

ClusterRolloutStep clusterRolloutNext(const ClusterRolloutMember *members, size_t count, size_t primary,
                                      bool switchoverPending)
{
    ClusterRolloutStep step = {.action = rolloutNone, .primary = primary};
    bool anyOutdated = false, settled = true, havePrimary = primary < count;
    for (size_t memberIdx = 0; memberIdx < count; memberIdx++) {
        const ClusterRolloutMember *member = &members[memberIdx];
        anyOutdated = anyOutdated || rolloutStale(member);
        settled = settled && rolloutReady(member->pod) && rolloutObserved(member->statefulSet);
    }
    if (!anyOutdated)
        return step;
    step.action = rolloutWait;
    if (!settled || !havePrimary || switchoverPending)
        return step;
    for (size_t memberIdx = 0; memberIdx < count; memberIdx++)
        if (memberIdx != step.primary && rolloutStale(&members[memberIdx])) {
            step.action = rolloutDeletePod;
            step.member = memberIdx;
            return step;
        }
    /* Only the primary is outdated. */
    for (size_t memberIdx = 0; memberIdx < count; memberIdx++)
        if (memberIdx != step.primary) {
            step.action = rolloutSwitchover;
            step.member = memberIdx;
            return step;
        }
    step.action = rolloutDeletePod;
    step.member = step.primary;
    return step;
}
