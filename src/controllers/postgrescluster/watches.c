/* The kinds the PostgresCluster reconciler watches, and how a change of each maps to the cluster to reconcile: the
 * cluster itself, an owned object by its controller owner reference, Patroni's objects and the StatefulSets' Pods by
 * the cluster label, a Secret also by the clusters that name it as their custom TLS Secret. One table (clusterWatches)
 * says it all, read by the set-up of the informers and by every lookup of the cache, so a kind is added in one place.
 * Which updates are worth a reconcile at all is changes.c's. */
#include "controllers/postgrescluster/changes.h"
#include "controllers/postgrescluster/run.h"

#include <string.h>

const ClusterWatch clusterWatches[kindCount] = {
    [kindCluster] = {CLUSTER_KIND,
                     {"postgres-operator.crunchydata.com", "v1beta1", "postgresclusters", true},
                     false,
                     false},
    /* Every Secret: the namespace's root CA Secret has no cluster label. */
    [kindSecret] = {"Secret", {"", "v1", "secrets", true}, true, false},
    [kindConfigMap] = {"ConfigMap", {"", "v1", "configmaps", true}, true, true},
    [kindService] = {"Service", {"", "v1", "services", true}, true, true},
    /* Patroni's Endpoints carry the cluster label but no owner reference. */
    [kindEndpoints] = {"Endpoints", {"", "v1", "endpoints", true}, false, true, clusterEndpointsUpdateMatters},
    [kindStatefulSet] = {"StatefulSet", {"apps", "v1", "statefulsets", true}, true, true},
    [kindPvc] = {"PersistentVolumeClaim", {"", "v1", "persistentvolumeclaims", true}, true, true},
    /* Pods are the StatefulSets', not ours; Patroni's role label on them decides the primary. */
    [kindPod] = {"Pod", {"", "v1", "pods", true}, false, true, clusterPodUpdateMatters},
    [kindServiceAccount] = {"ServiceAccount", {"", "v1", "serviceaccounts", true}, true, true},
    [kindRole] = {"Role", {"rbac.authorization.k8s.io", "v1", "roles", true}, true, true},
    [kindRoleBinding] = {"RoleBinding", {"rbac.authorization.k8s.io", "v1", "rolebindings", true}, true, true},
    [kindPdb] = {"PodDisruptionBudget", {"policy", "v1", "poddisruptionbudgets", true}, true, true},
    /* pgBackRest's stanza and backup Jobs: by the cluster label, as the Jobs of backup schedules are their
     * CronJob's. */
    [kindJob] = {"Job", {"batch", "v1", "jobs", true}, false, true},
    [kindCronJob] = {"CronJob", {"batch", "v1", "cronjobs", true}, true, true},
    /* PgBouncer's: its Available condition is the cluster's ProxyAvailable. */
    [kindDeployment] = {"Deployment", {"apps", "v1", "deployments", true}, true, true},
};

const json_t *reconcilerLookup(void *arg, const char *kind, const char *namespace, const char *name)
{
    const ClusterReconciler *reconciler = arg;
    for (size_t kindIdx = 0; kindIdx < kindCount; kindIdx++) {
        if (strcmp(clusterWatches[kindIdx].kind, kind) == 0) {
            const StoreEntry *entry =
                reconciler->stores[kindIdx] != NULL ? storeGet(reconciler->stores[kindIdx], namespace, name) : NULL;
            return entry != NULL ? entry->object : NULL;
        }
    }
    return NULL;
}

/* A Secret belongs to the cluster that controls it, else to the first cluster of its namespace that names it in
 * spec.customTLSSecret or spec.customReplicationTLSSecret: a renewed custom certificate (cert-manager's, say) changes
 * the client CAs in <instance>-certs. arg is the reconciler, whose PostgresCluster store exists by then. */
static bool reconcilerMapSecret(const void *arg, const json_t *object, char key[STORE_KEY_MAX])
{
    static const char *const fields[] = {"customTLSSecret", "customReplicationTLSSecret"};
    const ClusterReconciler *reconciler = arg;
    if (managerMapControllerOwner(CLUSTER_KIND, object, key))
        return true;
    const json_t *metadata = json_object_get(object, "metadata");
    const char *namespace = json_string_value(json_object_get(metadata, "namespace"));
    const char *name = json_string_value(json_object_get(metadata, "name"));
    size_t cursor = 0;
    const StoreEntry *entry;
    while (namespace != NULL && name != NULL && storeNext(reconciler->stores[kindCluster], &cursor, &entry)) {
        if (strcmp(entry->namespace, namespace) != 0)
            continue;
        const json_t *spec = json_object_get(entry->object, "spec");
        for (size_t fieldIdx = 0; fieldIdx < sizeof(fields) / sizeof(fields[0]); fieldIdx++) {
            const char *custom = json_string_value(json_object_get(json_object_get(spec, fields[fieldIdx]), "name"));
            if (custom != NULL && strcmp(custom, name) == 0 && strlen(entry->key) < STORE_KEY_MAX) {
                memcpy(key, entry->key, strlen(entry->key) + 1);
                return true;
            }
        }
    }
    return false;
}

bool clusterReconcilerWatch(ClusterReconciler *reconciler, Controller *controller, const char *const *namespaces,
                            size_t namespaceCount, Err *err)
{
    static const char ownerKind[] = CLUSTER_KIND;
    reconciler->api = managerApi(controllerManager(controller));
    reconciler->events = controllerEvents(controller);
    for (size_t kindIdx = 0; kindIdx < kindCount; kindIdx++) {
        const ClusterWatch *watch = &clusterWatches[kindIdx];
        InformerOptions options = {
            .resource = watch->resource,
            .namespaces = namespaces,
            .namespaceCount = namespaceCount,
            .labelSelector = watch->selectByCluster ? CLUSTER_LABEL_CLUSTER : NULL,
        };
        ManagerMapFn *map = kindIdx == kindCluster  ? managerMapSelf
                            : kindIdx == kindSecret ? reconcilerMapSecret
                            : watch->owned          ? managerMapControllerOwner
                                                    : managerMapLabel;
        const void *mapArg = kindIdx == kindCluster  ? NULL
                             : kindIdx == kindSecret ? (const void *)reconciler
                             : watch->owned          ? (const void *)ownerKind
                                                     : CLUSTER_LABEL_CLUSTER;
        Informer *informer;
        if (!controllerWatch(controller, &options, map, mapArg, watch->updateMatters, &informer, err))
            return errPrefix(err, "cannot watch %s", watch->resource.plural);
        reconciler->stores[kindIdx] = informerStore(informer);
    }
    return true;
}
