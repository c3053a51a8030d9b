/* Prune: what the cluster controls but no longer wants (stagePrune). Surplus instances go only while Patroni has a
 * leader, and never the leader's; a pass that removes instances skips the rolling update, which looks again once
 * they are gone. */
#include "controllers/postgrescluster/run.h"
#include "pgbackrest/pgbackrest.h"

#include <string.h>

/* Whether name is the name of one of the model's instances. */
/* Prune: what the cluster controls but no longer wants. The objects of instances beyond the sets' replicas
 * (StatefulSet, its PVCs, ConfigMap and certificate Secret, all labelled with the instance), PodDisruptionBudgets of
 * sets that no longer need one, the Secrets of users no longer in spec.users, pgBackRest's Jobs it is done with and
 * the CronJobs of schedules removed, everything of pgBackRest's once spec.backups is gone (authorised: see
 * spec.c), and PgBouncer's objects (labelled role "pgbouncer") no longer intended. Roles in Postgres stay (but
 * PgBouncer's, which pgbouncer.c drops). */
StageResult stagePrune(ClusterRun *run)
{
    static const ClusterKindIdx kinds[] = {kindStatefulSet, kindPvc,    kindConfigMap, kindSecret,
                                           kindPdb,         kindJob,    kindCronJob,   kindServiceAccount,
                                           kindDeployment,  kindService};
    const ClusterModel *model = &run->model;
    Err err;
    for (size_t kindIdx = 0; kindIdx < sizeof(kinds) / sizeof(kinds[0]); kindIdx++) {
        size_t ownedCount;
        const StoreEntry *const *owned = storeOwnedBy(run->reconciler->stores[kinds[kindIdx]], model->uid, &ownedCount);
        for (size_t ownedIdx = 0; ownedIdx < ownedCount; ownedIdx++) {
            const StoreEntry *entry = owned[ownedIdx];
            if (strcmp(entry->namespace, model->namespace) != 0 || !controlledBy(entry->object, model->uid))
                continue;
            const char *instance = labelOf(entry->object, CLUSTER_LABEL_INSTANCE);
            const char *role = labelOf(entry->object, CLUSTER_LABEL_ROLE);
            /* Instances go only while Patroni has a leader, and the leader's never: a set renamed or emptied keeps
             * it until Patroni has another leader (a switchover to the new instances is for the user to start). */
            bool surplusInstance = instance != NULL && model->primary != NULL &&
                                   !clusterModelHasInstance(model, instance) && strcmp(instance, model->primary) != 0;
            bool staleUser = kinds[kindIdx] == kindSecret && role != NULL && strcmp(role, "pguser") == 0 &&
                             !intended(run->objects, "Secret", entry->name);
            bool stalePdb = kinds[kindIdx] == kindPdb && !intended(run->objects, "PodDisruptionBudget", entry->name);
            /* Jobs only when pgBackRest says so: a finished Job is not re-emitted, yet must stay. */
            bool staleJob = kinds[kindIdx] == kindJob && clusterPgBackRestJobObsolete(model, entry->object);
            bool staleCronJob = kinds[kindIdx] == kindCronJob &&
                                clusterPgBackRestScheduleCronJob(model, entry->object) &&
                                !intended(run->objects, "CronJob", entry->name);
            /* pgBackRest's ServiceAccount under an earlier name (<cluster>-repohost before it took PGO's). */
            bool staleAccount = kinds[kindIdx] == kindServiceAccount &&
                                labelOf(entry->object, PGBACKREST_LABEL) != NULL &&
                                !intended(run->objects, "ServiceAccount", entry->name);
            /* Backups removed and the removal authorised (a pass without authorisation pauses in stageSpec). */
            bool staleBackup = !model->backups && labelOf(entry->object, PGBACKREST_LABEL) != NULL;
            /* PgBouncer's objects once spec.proxy.pgBouncer is gone (or the PDB once not wanted). */
            bool stalePgBouncer = role != NULL && strcmp(role, "pgbouncer") == 0 &&
                                  !intended(run->objects, clusterWatches[kinds[kindIdx]].kind, entry->name);
            bool pgbouncerOnly = kinds[kindIdx] == kindDeployment || kinds[kindIdx] == kindService;
            if (pgbouncerOnly ? !stalePgBouncer
                              : !(surplusInstance || staleUser || stalePdb || staleJob || staleCronJob ||
                                  staleAccount || staleBackup || stalePgBouncer))
                continue;
            run->prunedInstances = run->prunedInstances || surplusInstance;
            if (!runDelete(run, &clusterWatches[kinds[kindIdx]].resource, entry->object, &err)) {
                runFail(run, &err);
                return stageHandedOff;
            }
        }
    }
    /* A pass that removes instances restarts nothing: the rolling update looks again once they are gone. */
    return run->prunedInstances ? stageSkipNext : stageNext;
}
