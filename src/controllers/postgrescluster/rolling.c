/* The rolling update's stage: the thin actor of rollout.c's pure decision. It gathers the instances' StatefulSets
 * and Pods, the primary and whether a switchover is pending, asks clusterRolloutNext for one step, and does it: a
 * Pod deleted, or a switchover asked of Patroni through its failover key. The decision stays testable without an
 * API server; this file only reads the cache and sends. */
#include "controllers/postgrescluster/rollout.h"
#include "controllers/postgrescluster/run.h"
#include "kube/apply.h"
#include "naming/names.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Rolling update (rollout.h): at most one step per reconcile; the Pods' and StatefulSets' events bring the next. */
StageResult stageRollout(ClusterRun *run)
{
    const ClusterModel *model = &run->model;
    if (model->power.none || model->power.onlyStartup)
        return stageNext; /* instances stopping or starting one by one (shutdown.c): nothing to roll */
    ClusterRolloutMember *members = memCtxAlloc(run->reconcile->ctx, (model->instanceCount + 1) * sizeof(*members));
    Err err;
    if (members == NULL) {
        errSet(&err, errOutOfMemory, "cannot allocate the rollout");
        runFail(run, &err);
        return stageHandedOff;
    }
    size_t count = 0, primary = SIZE_MAX;
    for (size_t instIdx = 0; instIdx < model->instanceCount; instIdx++) {
        const char *instance = model->instances[instIdx].name;
        char podName[NAMING_NAME_SIZE];
        namingInstancePod(instance, podName);
        const json_t *statefulSet = reconcilerLookup(run->reconciler, "StatefulSet", model->namespace, instance);
        if (statefulSet != NULL && model->primary != NULL && strcmp(instance, model->primary) == 0)
            primary = count;
        if (statefulSet != NULL)
            members[count++] = (ClusterRolloutMember){
                .statefulSet = statefulSet,
                .pod = reconcilerLookup(run->reconciler, "Pod", model->namespace, podName),
            };
    }
    bool switchoverPending = runFailoverPending(run); /* asked for and not done yet */
    ClusterRolloutStep step = clusterRolloutNext(members, count, primary < count ? primary : count, switchoverPending);
    const char *podName = NULL;
    char message[700];
    bool ok = true;
    switch (step.action) {
        case rolloutNone:
        case rolloutWait:
            break;
        case rolloutDeletePod:
            podName = nameOf(members[step.member].pod);
            snprintf(message, sizeof(message),
                     clusterRolloutOutdated(members[step.member].statefulSet, members[step.member].pod)
                         ? "restarting %s on its StatefulSet's new template"
                         : "restarting %s: Patroni reports a parameter change that takes effect only on a restart",
                     podName);
            runEvent(run, eventNormal, "RollingUpdate", message);
            ok = runDelete(run, &clusterWatches[kindPod].resource, members[step.member].pod, &err);
            break;
        case rolloutSwitchover: {
            const char *primaryPod = nameOf(members[step.primary].pod);
            podName = nameOf(members[step.member].pod);
            snprintf(message, sizeof(message), "switching over from %s to %s to update or restart the primary",
                     primaryPod, podName);
            bool sent = false;
            ok = runFailoverKey(run, primaryPod, podName, &sent, &err);
            if (ok && sent)
                runEvent(run, eventNormal, "RollingUpdate", message);
            break;
        }
    }
    if (!ok) {
        runFail(run, &err);
        return stageHandedOff;
    }
    return stageNext;
}
