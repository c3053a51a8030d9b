/* spec.shutdown, and the start after it, as PGO does them: which instances may run this pass (model.power, read by
 * the instance builder) and the startup instance in the status.
 *
 * Shutting down, the replicas stop first and the primary last: while a Pod of another instance is cached (running or
 * terminating), the primary's StatefulSet keeps its one replica, so that Patroni never sees its leader go while a
 * replica could take over, and the primary's last checkpoint is the cluster's last word. The primary is recorded in
 * status.startupInstance (and its set in startupInstanceSet) as soon as the shutdown is asked for, because once it
 * stops Patroni no longer names a leader.
 *
 * Starting again, the startup instance runs alone until Patroni has a leader; then every instance runs and the
 * status forgets the startup instance. Only a cluster with no other instance Pod is starting: a running cluster
 * between two leaders (a failover) keeps its replicas, whatever an old status says. A replica started first could not lead (its timeline is behind), and two
 * started together would race for the leader key with the replica possibly winning when the primary's start is slow.
 *
 * A restore in progress has its own startup instance (restore.c) and wins: the power plan stays out of its way. The
 * repository host stops with the instances and the backup schedules are suspended (pgbackrest/), both from
 * power.shutdown alone. */
#include "controllers/postgrescluster/run.h"

#include <string.h>

static const char *statusString(const ClusterRun *run, const char *key)
{
    return json_string_value(json_object_get(json_object_get(run->cluster, "status"), key));
}

/* name when the model has that instance, else NULL. */
static const char *modelInstance(const ClusterModel *model, const char *name)
{
    return clusterModelHasInstance(model, name) ? name : NULL;
}

/* Whether a Pod of one of the cluster's instances other than except is cached. */
static bool otherInstancePods(const ClusterRun *run, const char *except)
{
    size_t cursor = 0;
    const StoreEntry *entry;
    while (storeNext(run->reconciler->stores[kindPod], &cursor, &entry)) {
        const char *cluster = labelOf(entry->object, CLUSTER_LABEL_CLUSTER);
        const char *instance = labelOf(entry->object, CLUSTER_LABEL_INSTANCE);
        if (strcmp(entry->namespace, run->model.namespace) == 0 && cluster != NULL &&
            strcmp(cluster, run->model.name) == 0 && instance != NULL &&
            (except == NULL || strcmp(instance, except) != 0))
            return true;
    }
    return false;
}

void runPowerPlan(ClusterRun *run)
{
    ClusterModel *model = &run->model;
    ClusterPower *power = &model->power;
    run->powerDecided = true;
    if (model->restore != NULL)
        return;
    const char *recorded = modelInstance(model, statusString(run, "startupInstance"));
    const char *leader = runHasLeader(run) ? modelInstance(model, model->primary) : NULL;
    if (power->shutdown) {
        power->startupInstance = leader != NULL ? leader : recorded;
        power->onlyStartup = power->startupInstance != NULL && otherInstancePods(run, power->startupInstance);
        power->none = !power->onlyStartup;
    } else if (recorded != NULL && leader == NULL && !otherInstancePods(run, recorded)) {
        power->startupInstance = recorded;
        power->onlyStartup = true;
    }
}

bool runPowerStatus(ClusterRun *run, json_t *status)
{
    const ClusterModel *model = &run->model;
    if (!run->powerDecided || model->restore != NULL)
        return true; /* a pass that built nothing decided nothing; restore.c writes a restore's startup instance */
    const char *startup = model->power.startupInstance;
    if (startup != NULL) {
        const ClusterInstanceSet *set = clusterModelSetOf(model, startup);
        return clusterPut(status, "startupInstance", json_string(startup)) &&
               (set == NULL || clusterPut(status, "startupInstanceSet", json_string(set->name)));
    }
    /* A merge patch removes with null; the set goes with the instance. */
    bool ok = statusString(run, "startupInstance") == NULL || clusterPut(status, "startupInstance", json_null());
    return ok &&
           (statusString(run, "startupInstanceSet") == NULL || clusterPut(status, "startupInstanceSet", json_null()));
}
