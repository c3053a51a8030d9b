/* Patroni's dynamic configuration (DCS), kept in step with spec.patroni once the cluster is bootstrapped: see
 * stageDcs. Its own file because it is the one write into an object Patroni owns, guarded by the resourceVersion
 * read so that Patroni's own changes win. */
#include "controllers/postgrescluster/run.h"
#include "kube/apply.h"
#include "naming/names.h"
#include "patroni/config.h"

#include <stdio.h>
#include <stdlib.h>

/* Patroni's dynamic configuration, once the cluster is bootstrapped: bootstrap.dcs seeds it only at initialisation,
 * so later changes to spec.patroni (dynamicConfiguration, timings, authentication rules, parameters) are written
 * where Patroni keeps it, the "config" annotation of Endpoints <cluster>-ha-config, as `patronictl edit-config`
 * would. Patroni watches that object and applies the change on its next cycle. The write is guarded by the
 * resourceVersion read, so a concurrent change by Patroni wins and the next reconcile looks again. */
StageResult stageDcs(ClusterRun *run)
{
    Err err;
    char name[NAMING_NAME_SIZE];
    namingClusterObject(run->model.name, NAMING_HA_CONFIG, name);
    const json_t *endpoints = reconcilerLookup(run->reconciler, "Endpoints", run->model.namespace, name);
    const json_t *metadata = json_object_get(endpoints, "metadata");
    const json_t *annotations = json_object_get(metadata, "annotations");
    const char *config = json_string_value(json_object_get(annotations, "config"));
    if (json_object_get(annotations, "initialize") == NULL || config == NULL) {
        return stageNext;
    }
    json_t *desired = clusterPatroniDynamicConfig(run->reconcile->ctx, &run->model, &err);
    if (desired == NULL) {
        runFail(run, &err);
        return stageHandedOff;
    }
    json_t *current = json_loads(config, 0, NULL);
    /* Desired being a subset of current is not enough for standby_cluster: its removal is the promotion. */
    bool needed =
        current == NULL || clusterApplyNeeded(desired, current) ||
        (json_object_get(current, "standby_cluster") != NULL && json_object_get(desired, "standby_cluster") == NULL);
    json_decref(current);
    char *text = needed ? json_dumps(desired, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(desired);
    if (!needed) {
        return stageNext;
    }
    json_t *patch = text != NULL
                        ? json_pack("{s:{s:O, s:{s:s}}}", "metadata", "resourceVersion",
                                    json_object_get(metadata, "resourceVersion"), "annotations", "config", text)
                        : NULL;
    free(text);
    bool ok = patch != NULL;
    if (!ok)
        errSet(&err, errOutOfMemory, "out of memory building Patroni's dynamic configuration");
    logInfo(run->reconciler->log, "updating Patroni's dynamic configuration", logStr("namespace", run->model.namespace),
            logStr("name", name));
    ok = ok && runPatch(run, kindEndpoints, name, kubeSubresourceNone, false, patch, false, &err);
    json_decref(patch);
    if (!ok) {
        runFail(run, &err);
        return stageHandedOff;
    }
    return stageNext;
}
