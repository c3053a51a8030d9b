/* Which instance is the primary: one answer per reconcile, used everywhere a decision depends on it (which instances
 * a scale-down keeps, whether an instance may be pruned, the rolling update's order, where a backup runs).
 *
 * The answer is the leader Patroni records, the "leader" annotation of its leader Endpoints <cluster>-ha: the member
 * name, which is the instance's Pod "<instance>-0". Patroni writes it when a member takes the leader lock and
 * removes it when the leader shuts down cleanly; the Pods' role label follows only afterwards, and a Pod being
 * recreated carries no label at all, so the label is never consulted.
 *
 * "No leader" is a state of its own, not a reason to guess: while Patroni records none (the primary's Pod is being
 * recreated, an election is under way), the reconciler keeps every existing instance, prunes nothing and restarts
 * nothing. The leader's data is then still on its volume, and the next change of the Endpoints brings the cluster
 * back. A leader that names no instance of the cluster (a stale annotation from an instance since removed) counts
 * as no leader. */
#ifndef CLUSTER_PRIMARY_H
#define CLUSTER_PRIMARY_H

#include "api/model.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* An instance the cluster has (its StatefulSet or its data volume exists), and the set its label names. */
typedef struct ClusterExistingInstance {
    const char *name;
    const char *set;
} ClusterExistingInstance;

/* The existing instance Patroni's leader runs on, from the cached leader Endpoints (may be NULL): the one whose Pod
 * "<instance>-0" the leader annotation names. NULL: no leader among them. */
const char *clusterPrimaryFind(const json_t *leaderEndpoints, const ClusterExistingInstance *existing, size_t count);

/* Which existing instances each of the sets keeps (keep[i] for existing[i]): in each set the primary first,
 * whatever the order, then the others in the order given, up to the set's replicas. With no primary every instance
 * of a set is kept: a scale-down waits for Patroni's leader rather than guess which volume holds the data.
 * Instances of sets no longer in the spec are not kept (the primary's is still never pruned: see the reconciler). */
void clusterPrimaryKeep(const ClusterInstanceSet *sets, size_t setCount, const ClusterExistingInstance *existing,
                        size_t count, const char *primary, bool *keep);

#endif
