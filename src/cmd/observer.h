/* PLACEHOLDER reconciler for PostgresClusters, until the real one (src/cluster/) replaces it.
 *
 * It proves the operator core end to end and nothing more: for each PostgresCluster it records the observed
 * generation in status.observedGeneration and keeps one status condition, type "Observed", saying which generation
 * the operator has seen. It writes (a JSON merge patch of the status subresource, guarded by the resourceVersion it
 * read) only when one of those would change, so in steady state a reconcile reads the cache and writes nothing.
 * Other conditions in status.conditions are kept as they are. */
#ifndef CMD_OBSERVER_H
#define CMD_OBSERVER_H

#include "common/error.h"
#include "common/log.h"
#include "common/memctx.h"
#include "controller/api.h"
#include "controller/manager.h"
#include "controller/store.h"

#include <jansson.h>

#define OBSERVER_CONDITION "Observed"

typedef struct Observer Observer;

/* An observer in a new child context of parent; it reads clusters from the store set with observerSetStore. */
bool observerNew(MemCtx *parent, Api *api, const Log *log, Observer **out, Err *err) MUST_CHECK;

void observerSetStore(Observer *observer, const Store *clusters);

/* The ReconcileFn (arg: the Observer). */
void observerReconcile(void *arg, Reconcile *reconcile);

/* The status merge patch cluster needs ({"metadata":{"resourceVersion":...},"status":{...}}), or *patch = NULL when
 * its status is already current. now is the RFC 3339 time for a new lastTransitionTime. */
bool observerStatusPatch(const json_t *cluster, const char *now, json_t **patch, Err *err) MUST_CHECK;

#endif
