/* spec.standby as the builders and the reconciler read it: whether the cluster follows another one, and from where.
 * A standby cluster is made of replicas only: its leader (Patroni's standby leader) replays the WAL of a primary
 * cluster elsewhere, from a pgBackRest repository both clusters reach (repoName), by streaming from the primary
 * (host, port), or both. Setting enabled to false promotes it. */
#ifndef CLUSTER_STANDBY_H
#define CLUSTER_STANDBY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ClusterStandby {
    bool enabled;         /* spec.standby is an object whose enabled is not false (the CRD's default is true) */
    const char *repoName; /* spec.standby.repoName when it names a repository ("repo1" .. "repo4"), else NULL */
    int repo;             /* repoName's number, else 0 */
    const char *host;     /* spec.standby.host when not empty, else NULL */
    int64_t port;         /* spec.standby.port, or 0 when absent (Patroni's default then applies: 5432) */
} ClusterStandby;

/* spec.standby of cluster (a PostgresCluster document; borrowed strings). */
ClusterStandby clusterStandbyOf(const json_t *cluster);

/* Whether the cluster is a standby that says where its data comes from (a repository or a host). An enabled standby
 * without either is invalid, as PGO says with the Event InvalidStandbyConfiguration, and must wait: it has no source
 * and must not be initialised empty. */
bool clusterStandbyValid(const ClusterStandby *standby);

/* The role Patroni's member record on pod (its annotation "status", JSON) names, "primary", "replica",
 * "standby_leader", ..., into out (size bytes); "" when there is none. A standby's leader stays "standby_leader"
 * after the promotion was asked for until Patroni has promoted it, so what must wait for a writable primary (the
 * stanza, backups) waits for that. */
void clusterPodPatroniRole(const json_t *pod, char *out, size_t size);

/* The message of the condition and Event InvalidStandbyConfiguration. */
#define CLUSTER_STANDBY_INVALID_REASON "InvalidStandbyConfiguration"
#define CLUSTER_STANDBY_INVALID_MESSAGE                                                                               \
    "spec.standby.enabled is true but neither spec.standby.host nor spec.standby.repoName is set: a standby needs a " \
    "repository or a primary to follow"

#endif
