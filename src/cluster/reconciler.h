/* The PostgresCluster reconciler: from a cluster's spec and the cache, the objects it should have, written when they
 * differ; then the instances it no longer needs removed, the users' SQL run on the primary, and the status.
 *
 * One reconcile is a short chain of stages, each a batch of API calls sent together and awaited together:
 *
 *     finalizer  ->  apply (every intent the cache lacks)  ->  prune (surplus instances)  ->  users (SQL over libpq)
 *                ->  status (merge patch of /status when it changes)
 *
 * A stage that fails ends the reconcile with an error (the key comes back with backoff); a later reconcile starts
 * from the top, so every stage is idempotent and reads only the cache. In steady state no stage writes anything.
 *
 * Instances are named "<cluster>-<set>-<4 characters>" as PGO names them, but the characters are a hash of the
 * cluster's UID, the set and the instance's ordinal rather than random: a reconcile that runs before the cache shows
 * a StatefulSet it just created computes the same name again and re-applies the same object, instead of creating a
 * second instance.
 *
 * Deletion: the finalizer postgres-operator.crunchydata.com/finalizer is added to every cluster; when the cluster is
 * deleted, Patroni's own Endpoints (which carry no owner reference) are deleted and the finalizer removed; the
 * garbage collector then removes everything the cluster owns. */
#ifndef CLUSTER_RECONCILER_H
#define CLUSTER_RECONCILER_H

#include "cluster/model.h"
#include "common/log.h"
#include "common/loop.h"
#include "controller/manager.h"

typedef struct ClusterReconciler ClusterReconciler;

/* A reconciler in a new child context of parent. images(imagesArg, "POSTGRES_17") gives RELATED_IMAGE_ defaults. */
bool clusterReconcilerNew(MemCtx *parent, Loop *loop, const Log *log, ClusterImageFn *images, void *imagesArg,
                          ClusterReconciler **out, Err *err) MUST_CHECK;

/* Adds the informers of every kind it reads to manager (before managerStart), limited to namespaces (none: all). */
bool clusterReconcilerWatch(ClusterReconciler *reconciler, Manager *manager, const char *const *namespaces,
                            size_t namespaceCount, Err *err) MUST_CHECK;

/* The ReconcileFn (arg: the ClusterReconciler). */
void clusterReconcile(void *arg, Reconcile *reconcile);

/* The instance name for ordinal of set in the cluster with uid: "<cluster>-<set>-xxxx". out holds 254 bytes. */
void clusterInstanceName(const char *cluster, const char *uid, const char *set, unsigned ordinal, char out[254]);

#endif
