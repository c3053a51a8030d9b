/* The PostgresCluster reconciler: from a cluster's spec and the cache, the objects it should have, written when they
 * differ; then the instances it no longer needs removed, the users' SQL run on the primary, and the status.
 *
 * One reconcile is a short chain of stages, each a batch of API calls sent together and awaited together:
 *
 *     fields (what is not acted on; a cluster waiting for its data goes straight to status)
 *       ->  finalizer  ->  apply (every intent the cache lacks)  ->  Patroni's dynamic configuration
 *       ->  prune (surplus instances, only while Patroni has a leader)  ->  rolling update (not after a prune)
 *       ->  users (SQL over libpq)  ->  status (merge patch of /status when it changes)
 *
 * That order is one table, clusterStages in reconciler.c, run by one driver; each stage is in the file of its
 * concern (run.h lists them).
 *
 * A stage that fails still leads to the status stage, which writes what was observed and the failure in the
 * condition Reconciled; the reconcile then ends with the error (the key comes back with backoff). A later reconcile
 * starts from the top, so every stage is idempotent and reads only the cache. In steady state no stage writes
 * anything. Which instance is the primary is decided once per pass (api/primary.h).
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

#include "api/model.h"
#include "common/log.h"
#include "common/loop.h"
#include "controller/manager.h"

typedef struct ClusterReconciler ClusterReconciler;

/* A reconciler in a new child context of parent. images(imagesArg, "POSTGRES_17") gives RELATED_IMAGE_ defaults. */
bool clusterReconcilerNew(MemCtx *parent, Loop *loop, const Log *log, ClusterImageFn *images, void *imagesArg,
                          ClusterReconciler **out, Err *err) MUST_CHECK;

/* Has controller (the manager's PostgresCluster controller, whose arg is this reconciler) watch every kind the
 * reconciler reads (before managerStart), limited to namespaces (none: all). */
bool clusterReconcilerWatch(ClusterReconciler *reconciler, Controller *controller, const char *const *namespaces,
                            size_t namespaceCount, Err *err) MUST_CHECK;

/* The ReconcileFn (arg: the ClusterReconciler). */
void clusterReconcile(void *arg, Reconcile *reconcile);

/* The instance name for ordinal of set in the cluster with uid: "<cluster>-<set>-xxxx". out holds 254 bytes. */
void clusterInstanceName(const char *cluster, const char *uid, const char *set, unsigned ordinal, char out[254]);

#endif
