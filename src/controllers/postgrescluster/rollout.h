/* Rolling updates: when an instance's Pod runs an older template than its StatefulSet's, the reconciler replaces
 * the Pods one at a time so that a primary is always serving, as PGO does:
 *
 *   1. nothing moves while any instance's Pod is missing, not Ready or terminating (the Pod's events bring the
 *      cluster back), while Patroni records no leader among the instances (api/primary.h), while a switchover asked
 *      for is not done (Patroni clears its failover key then), or while the StatefulSet controller has not yet observed
 *      some StatefulSet's latest generation (a replica not yet judged outdated must not become the candidate);
 *   2. outdated replicas first, one at a time: delete the Pod, the StatefulSet recreates it from the new template;
 *   3. then the primary: a switchover to a Ready, up-to-date replica, after which it is an outdated replica (step 2);
 *      a primary without such a replica (one instance) is restarted in place, the only way left.
 *
 * StatefulSets are OnDelete, so deleting the Pod is how a new template takes effect. A Pod is outdated when its
 * controller-revision-hash label differs from the StatefulSet's status.updateRevision, once the StatefulSet
 * controller has observed the StatefulSet's latest generation.
 *
 * A Pod whose Postgres needs a restart is replaced the same way, in the same order: Patroni marks a member
 * "pending_restart" when a parameter changed in its configuration (spec.patroni.dynamicConfiguration) takes effect
 * only on a restart (shared_buffers, max_connections, ...). PGO asks Patroni to restart such members in place; a new
 * Pod restarts Postgres as surely, and keeps one path for both reasons, with the replicas first and the primary only
 * after a switchover. */
#ifndef CLUSTER_ROLLOUT_H
#define CLUSTER_ROLLOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One instance: its StatefulSet and that StatefulSet's Pod (NULL when there is none). */
typedef struct ClusterRolloutMember {
    const json_t *statefulSet;
    const json_t *pod;
} ClusterRolloutMember;

typedef enum ClusterRolloutAction {
    rolloutNone,       /* every Pod runs its StatefulSet's template */
    rolloutWait,       /* something is settling: look again when it changes */
    rolloutDeletePod,  /* delete members[member].pod */
    rolloutSwitchover, /* make members[member] the primary (the current one is members[primary]) */
} ClusterRolloutAction;

typedef struct ClusterRolloutStep {
    ClusterRolloutAction action;
    size_t member;
    size_t primary;
} ClusterRolloutStep;

/* Whether pod runs an older template than statefulSet's (false while the StatefulSet controller has not caught up). */
bool clusterRolloutOutdated(const json_t *statefulSet, const json_t *pod);

/* Whether Patroni says pod's Postgres waits for a restart: "pending_restart": true in the member record Patroni keeps
 * as JSON in the Pod's annotation "status". */
bool clusterRolloutPendingRestart(const json_t *pod);

/* The next step of the rolling update of members (in a stable order, e.g. by name); primary: the index of the member
 * Patroni's leader runs on, count when there is none; switchoverPending: Patroni's failover key still names a leader
 * or a candidate. */
ClusterRolloutStep clusterRolloutNext(const ClusterRolloutMember *members, size_t count, size_t primary,
                                      bool switchoverPending);

#endif
