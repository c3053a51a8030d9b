/* Which updates of watched objects are worth a reconcile.
 *
 * Patroni writes often to objects the reconciler watches: every loop_wait it renews its leader lease in the
 * annotations of Endpoints <cluster>-ha (renewTime, with the WAL position in optime and the replication slots'
 * positions in slots and retain_slots), and it keeps each member's state, WAL position included, in the "status"
 * annotation of its Pod. A reconcile reads none of these, and each such write would otherwise queue a reconcile
 * that rebuilds every intent of the cluster (about nine a minute for an idle cluster with one instance). An update
 * matters unless all it changed is metadata.resourceVersion, metadata.managedFields, or those annotations; the
 * manager always queues additions and deletions. The one exception is a member's pending restart, which the rolling
 * update acts on. */
#ifndef CLUSTER_CHANGES_H
#define CLUSTER_CHANGES_H

#include <jansson.h>
#include <stdbool.h>

/* For Endpoints: the leader, the addresses, Patroni's configuration and initialization marks matter. */
bool clusterEndpointsUpdateMatters(const json_t *oldObject, const json_t *newObject);

/* For Pods: labels (Patroni's role), the phase and conditions matter; of Patroni's member status, only whether a
 * restart is pending (rollout.h) and the role it names (a standby leader promoted). */
bool clusterPodUpdateMatters(const json_t *oldObject, const json_t *newObject);

#endif
