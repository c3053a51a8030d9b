/* The intents and their writing: every builder's objects for the cluster (stageBuild), then each one the cache lacks,
 * written by server-side apply (stageApply), then our reference on the namespace's shared root CA Secret when the
 * apply wrote it (stageRootOwner). Builders are pure (api/objects.h); this file gives them what they read of the
 * cache (the leader Service's address, the instances) and sends what they made. */
#include "kube/apply.h"
#include "controllers/postgrescluster/builders.h"
#include "controllers/postgrescluster/run.h"
#include "naming/names.h"
#include "patroni/config.h"
#include "pgbackrest/pgbackrest.h"
#include "pgbackrest/restore.h"

#include <stdio.h>
#include <string.h>

/* Builds every intent into run->objects. */
static bool runBuild(ClusterRun *run, Err *err)
{
    static ClusterBuildFn *const builders[] = {
        clusterBuildCertificates,  clusterBuildInstanceRbac,      clusterBuildServices,
        clusterBuildPatroniConfig, clusterBuildUserSecrets,       clusterBuildInstances,
        clusterBuildPgBackRest,    clusterBuildDisruptionBudgets, clusterBuildPgBackRestRestore,
    };
    ClusterModel *model = &run->model;
    const StoreEntry *ha;
    char haName[NAMING_NAME_SIZE];
    namingClusterObject(model->name, NAMING_HA, haName);
    ha = storeGet(run->reconciler->stores[kindService], model->namespace, haName);
    const char *clusterIP =
        ha != NULL ? json_string_value(json_object_get(json_object_get(ha->object, "spec"), "clusterIP")) : NULL;
    if (clusterIP != NULL && strcmp(clusterIP, "None") != 0 && clusterIP[0] != '\0') {
        model->haClusterIP = runCopy(run, clusterIP);
        if (model->haClusterIP == NULL)
            return errSet(err, errOutOfMemory, "out of memory building the cluster's objects");
    }
    model->lookup = reconcilerLookup;
    model->lookupArg = run->reconciler;
    /* Decided once per pass, before any builder: the Secret, Patroni's bootstrap and the session agree on it. */
    if (!clusterOperatorPassword(run->reconcile->ctx, model, &model->operatorPassword, err))
        return false;
    if (!runInstances(run, err) || !runRestorePlan(run, err))
        return false;
    runPowerPlan(run);
    run->objects = json_array();
    if (run->objects == NULL)
        return errSet(err, errOutOfMemory, "out of memory building the cluster's objects");
    for (size_t buildIdx = 0; buildIdx < sizeof(builders) / sizeof(builders[0]); buildIdx++)
        if (!builders[buildIdx](run->reconcile->ctx, model, run->objects, err))
            return false;
    return true;
}

StageResult stageBuild(ClusterRun *run)
{
    Err err;
    if (!runBuild(run, &err)) {
        if (err.code == errInvalidArgument)
            runEvent(run, eventWarning, "InvalidSpec", err.message);
        runFailed(run, &err);
        return stageHandedOff;
    }
    return stageNext;
}

StageResult stageApply(ClusterRun *run)
{
    Err err;
    size_t objIdx;
    json_t *object;
    json_array_foreach(run->objects, objIdx, object)
    {
        const char *apiVersion = json_string_value(json_object_get(object, "apiVersion"));
        const char *kind = json_string_value(json_object_get(object, "kind"));
        const char *name = nameOf(object);
        const KubeResource *resource = clusterResourceOf(apiVersion, kind);
        if (resource == NULL || name == NULL) {
            errSet(&err, errInvalidArgument, "a builder made an object of unknown kind %s/%s", apiVersion, kind);
            runFail(run, &err);
            return stageHandedOff;
        }
        const json_t *cached = reconcilerLookup(run->reconciler, kind, run->model.namespace, name);
        if (!clusterApplyNeeded(object, cached))
            continue;
        logInfo(run->reconciler->log, cached == NULL ? "creating" : "updating",
                logStr("namespace", run->model.namespace), logStr("kind", kind), logStr("name", name));
        /* The root CA Secret is shared by every cluster of the namespace. Its data is applied without
         * ownerReferences, so that the apply never owns (and never removes) any; each cluster adds its own
         * reference with a strategic merge patch once the Secret exists (stageRootOwner), merged by uid. Applying
         * the references instead would either lose another cluster's fresh one (a shared field manager owns them
         * all, so an apply from a stale cache removes it) or, with a manager per cluster, grow managedFields as the
         * square of the clusters. The intent still lists the cached references, so that the comparison above asks
         * for nothing once ours is there. */
        json_t *body = json_incref(object);
        if (strcmp(kind, "Secret") == 0 && strcmp(name, CLUSTER_ROOT_SECRET) == 0) {
            json_decref(body);
            body = json_deep_copy(object);
            json_object_del(json_object_get(body, "metadata"), "ownerReferences");
            run->rootOwnerNeeded = true;
        }
        KubeRequest request;
        bool sent = body != NULL || errSet(&err, errOutOfMemory, "out of memory applying %s", name);
        sent = sent &&
               kubeRequestApply(run->reconcile->ctx, resource, run->model.namespace, name, kubeSubresourceNone,
                                CLUSTER_FIELD_MANAGER, body, &request, &err) &&
               runSend(run, apiVerbPatch, &request, false, &err);
        json_decref(body);
        if (!sent) {
            runFail(run, &err);
            return stageHandedOff;
        }
    }
    return run->rootOwnerNeeded ? stageNext : stageSkipNext; /* our reference on the root CA, or not */
}

/* Our ownerReference (not a controller's) added to the root CA Secret by a strategic merge patch, which merges
 * metadata.ownerReferences by uid: the other clusters' references stay whatever our cache says. */
StageResult stageRootOwner(ClusterRun *run)
{
    Err err;
    json_t *patch =
        json_pack("{s:{s:[{s:s, s:s, s:s, s:s}]}}", "metadata", "ownerReferences", "apiVersion", CLUSTER_API_VERSION,
                  "kind", CLUSTER_KIND, "name", run->model.name, "uid", run->model.uid);
    bool ok = patch != NULL || errSet(&err, errOutOfMemory, "out of memory patching %s", CLUSTER_ROOT_SECRET);
    ok = ok && runPatch(run, kindSecret, CLUSTER_ROOT_SECRET, kubeSubresourceNone, true, patch, false, &err);
    json_decref(patch);
    if (!ok) {
        runFail(run, &err);
        return stageHandedOff;
    }
    return stageNext;
}
