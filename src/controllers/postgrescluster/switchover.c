/* A change of primary on request, as PGO does it: spec.patroni.switchover {enabled, type, targetInstance} and the
 * annotation trigger-switchover, whose value, once carried out, is recorded in status.patroni.switchover. Also
 * Patroni's failover key, which both this and the rolling update (rolling.c) ask through.
 *
 * Patroni takes a switchover from its failover key, Endpoints <cluster>-ha-failover: with annotations leader (the
 * primary's Pod) and member (the candidate's, or none for "the healthiest replica") the leader demotes itself on its
 * next cycle once the candidate is healthy; with member alone, a Failover, the candidate is promoted even when the
 * primary is gone. Patroni clears the key when it is done or refuses. This is what `patronictl switchover` and
 * `failover` write when the REST API is out of reach, and it needs no exec into a Pod.
 *
 * Knowing it is done: the primary's timeline. The first pass of a new trigger value records the timeline of the
 * primary (from the member record Patroni keeps in its Pod's "status" annotation) in status.patroni.switchoverTimeline
 * and sends the request; a later pass that finds the primary on a later timeline records the trigger as carried
 * out, as PGO does. A request Patroni refused (the key cleared, the timeline the same) is sent again on the next
 * pass, with a Warning Event, until it succeeds or the trigger changes. A target that already leads is done at once.
 * A cluster with one instance has no one to hand over to: a Warning Event says so and nothing is recorded. */
#include "controllers/postgrescluster/run.h"
#include "kube/apply.h"
#include "naming/names.h"

#include <stdio.h>
#include <string.h>

static void failoverName(const ClusterModel *model, char name[NAMING_NAME_SIZE])
{
    namingClusterObject(model->name, NAMING_HA_FAILOVER, name);
}

bool runFailoverKey(ClusterRun *run, const char *leaderPod, const char *candidatePod, bool *sent, Err *err)
{
    char name[NAMING_NAME_SIZE], scope[NAMING_NAME_SIZE];
    failoverName(&run->model, name);
    namingClusterObject(run->model.name, NAMING_HA, scope);
    json_t *labels = json_pack("{s:s, s:s}", CLUSTER_LABEL_CLUSTER, run->model.name, CLUSTER_LABEL_PATRONI, scope);
    json_t *object = labels == NULL ? NULL : clusterObjectNew(&run->model, "v1", "Endpoints", name, labels);
    json_decref(labels);
    json_t *annotations = json_object();
    bool built = object != NULL && annotations != NULL &&
                 (leaderPod == NULL || json_object_set_new(annotations, "leader", json_string(leaderPod)) == 0) &&
                 (candidatePod == NULL || json_object_set_new(annotations, "member", json_string(candidatePod)) == 0) &&
                 json_object_set(json_object_get(object, "metadata"), "annotations", annotations) == 0;
    json_decref(annotations);
    if (!built) {
        json_decref(object);
        return errSet(err, errOutOfMemory, "cannot build the switchover request");
    }
    const json_t *cached = reconcilerLookup(run->reconciler, "Endpoints", run->model.namespace, name);
    KubeRequest request;
    *sent = clusterApplyNeeded(object, cached);
    bool ok =
        !*sent || (kubeRequestApply(run->reconcile->ctx, &clusterWatches[kindEndpoints].resource, run->model.namespace,
                                    name, kubeSubresourceNone, CLUSTER_FIELD_MANAGER, object, &request, err) &&
                   runSend(run, apiVerbPatch, &request, false, err));
    json_decref(object);
    return ok;
}

bool runFailoverPending(const ClusterRun *run)
{
    char name[NAMING_NAME_SIZE];
    failoverName(&run->model, name);
    const json_t *annotations = json_object_get(
        json_object_get(reconcilerLookup(run->reconciler, "Endpoints", run->model.namespace, name), "metadata"),
        "annotations");
    return json_string_length(json_object_get(annotations, "leader")) > 0 ||
           json_string_length(json_object_get(annotations, "member")) > 0;
}

/* The timeline of the primary's Postgres, from Patroni's member record on its Pod; -1 when unknown. */
static int64_t primaryTimeline(const ClusterRun *run, const char *primaryPod)
{
    const json_t *pod = reconcilerLookup(run->reconciler, "Pod", run->model.namespace, primaryPod);
    const char *record =
        json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"), "status"));
    json_t *member = record != NULL ? json_loads(record, 0, NULL) : NULL;
    const json_t *timeline = json_object_get(member, "timeline");
    int64_t value = json_is_integer(timeline) ? json_integer_value(timeline) : -1;
    json_decref(member);
    return value;
}

static const json_t *patroniStatus(const ClusterRun *run)
{
    return json_object_get(json_object_get(run->cluster, "status"), "patroni");
}

/* The switchover's decision once it is enabled and a new trigger value waits: done, asked for, or waiting. */
static bool switchoverStep(ClusterRun *run, const json_t *request, const char *trigger, Err *err)
{
    const ClusterModel *model = &run->model;
    const char *type = json_string_value(json_object_get(request, "type"));
    bool failover = type != NULL && strcmp(type, "Failover") == 0;
    const char *target = json_string_value(json_object_get(request, "targetInstance"));
    if (target != NULL && target[0] == '\0')
        target = NULL;
    char message[1400];
    if (model->instanceCount < 2) {
        snprintf(message, sizeof(message),
                 "trigger-switchover %s: the cluster has one instance, there is no other to become the primary",
                 trigger);
        runEvent(run, eventWarning, "SwitchoverRefused", message);
        return true;
    }
    if (target != NULL && !clusterModelHasInstance(model, target)) {
        snprintf(message, sizeof(message), "trigger-switchover %s: targetInstance %s is not an instance of the cluster",
                 trigger, target);
        runEvent(run, eventWarning, "SwitchoverRefused", message);
        return true;
    }
    if (model->primary == NULL || !runHasLeader(run))
        return true; /* no primary to hand over from (an election): the leader's Endpoints bring the cluster back */
    char primaryPod[NAMING_NAME_SIZE], targetPod[NAMING_NAME_SIZE];
    namingInstancePod(model->primary, primaryPod);
    int64_t timeline = primaryTimeline(run, primaryPod);
    const json_t *recorded = json_object_get(patroniStatus(run), "switchoverTimeline");
    if ((target != NULL && strcmp(target, model->primary) == 0) ||
        (json_is_integer(recorded) && timeline > json_integer_value(recorded))) {
        run->switchoverDone = trigger;
        snprintf(message, sizeof(message), "trigger-switchover %s carried out: %s is the primary", trigger, primaryPod);
        runEvent(run, eventNormal, "SwitchoverComplete", message);
        return true;
    }
    if (timeline < 0 || runFailoverPending(run))
        return true; /* Patroni has not said its timeline yet, or works on a request */
    if (!json_is_integer(recorded)) {
        run->switchoverAsked = true;
        run->switchoverTimeline = timeline;
    } else {
        snprintf(message, sizeof(message), "trigger-switchover %s: Patroni did not carry out the %s, asking again",
                 trigger, failover ? "failover" : "switchover");
        runEvent(run, eventWarning, "SwitchoverRetried", message);
    }
    if (target != NULL)
        namingInstancePod(target, targetPod);
    bool sent = false;
    if (!runFailoverKey(run, failover ? NULL : primaryPod, target != NULL ? targetPod : NULL, &sent, err))
        return false;
    if (!sent)
        return true;
    snprintf(message, sizeof(message), "trigger-switchover %s: %s from %s to %s", trigger,
             failover ? "failover" : "switchover", primaryPod, target != NULL ? targetPod : "the healthiest replica");
    runEvent(run, eventNormal, failover ? "Failover" : "Switchover", message);
    return true;
}

StageResult stageSwitchover(ClusterRun *run)
{
    const json_t *metadata = json_object_get(run->cluster, "metadata");
    const char *trigger = json_string_value(
        json_object_get(json_object_get(metadata, "annotations"), CLUSTER_ANNOTATION_TRIGGER_SWITCHOVER));
    const char *done = json_string_value(json_object_get(patroniStatus(run), "switchover"));
    if (trigger == NULL || (done != NULL && strcmp(done, trigger) == 0) || run->model.power.shutdown ||
        run->model.power.onlyStartup)
        return stageNext;
    const json_t *request =
        json_object_get(json_object_get(json_object_get(run->cluster, "spec"), "patroni"), "switchover");
    if (!json_is_true(json_object_get(request, "enabled"))) {
        runEvent(run, eventWarning, "SwitchoverNotEnabled",
                 "the annotation trigger-switchover is ignored: spec.patroni.switchover.enabled is not true");
        return stageNext;
    }
    Err err;
    if (!switchoverStep(run, request, trigger, &err)) {
        runFail(run, &err);
        return stageHandedOff;
    }
    return stageNext;
}

bool runSwitchoverStatus(const ClusterRun *run, json_t *status)
{
    if (run->switchoverDone == NULL && !run->switchoverAsked)
        return true;
    json_t *patroni = json_object_get(status, "patroni");
    if (json_is_null(patroni))
        return true; /* an in-place restore forgets Patroni's state (restore.c) */
    if (patroni == NULL) {
        patroni = json_object();
        if (!clusterPut(status, "patroni", patroni))
            return false;
    }
    if (run->switchoverDone != NULL)
        return clusterPut(patroni, "switchover", json_string(run->switchoverDone)) &&
               (json_object_get(patroniStatus(run), "switchoverTimeline") == NULL ||
                clusterPut(patroni, "switchoverTimeline", json_null()));
    return clusterPut(patroni, "switchoverTimeline", json_integer(run->switchoverTimeline));
}
