/* Informers: keep a Store equal to the API server's objects of one kind, by list and watch.
 *
 * One informer serves one resource, in every namespace or in a given set of them (one list/watch per namespace, all
 * feeding the same store), optionally restricted by a label selector. For each namespace it:
 *
 *   1. lists in pages (limit, continue) and replaces the store's objects of that namespace with the result;
 *   2. watches from the list's resourceVersion, with bookmarks, for a random 5 to 10 minutes (spreading the
 *      restarts of many watches), applying every event to the store;
 *   3. when the watch ends, watches again from the last resourceVersion it saw (an event's or a bookmark's);
 *      after a transport or server error it waits (capped exponential backoff with jitter) and watches again from
 *      the same point; when the server answers 410 Gone (the version is too old, as after an API server restart)
 *      it lists again, which restores the store to the server's state whatever was missed. A change the store or
 *      its handler could not apply (out of memory) also leads to a new list.
 *
 * The informer is synced once every namespace's first list has been applied. List items are given the apiVersion
 * and kind of the list, so cached objects look the same whether they came from a list or a watch. Restarts are
 * counted in pgo_informer_watch_restarts_total{resource, reason} with reason "closed" (the server ended the watch),
 * "error" or "gone"; cached objects in pgo_informer_objects{resource}, summed over the informers of a resource.
 *
 * Several consumers share one informer by adding handlers to its store (storeAddHandler) before it starts;
 * informerMatches tells whether an informer already serves what a consumer would ask for. */
#ifndef CONTROLLER_INFORMER_H
#define CONTROLLER_INFORMER_H

#include "common/error.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "common/rng.h"
#include "controller/api.h"
#include "controller/metrics.h"
#include "controller/store.h"
#include "kube/request.h"

#define INFORMER_MAX_NAMESPACES 256

typedef struct Informer Informer;

typedef struct InformerOptions {
    KubeResource resource;
    const char *const *namespaces; /* namespaceCount names; none: all namespaces (or the resource is cluster-scoped) */
    size_t namespaceCount;
    const char *labelSelector; /* NULL: every object */
    StoreOptions store;        /* the store's transform; handlers are added to informerStore */
    int64_t pageSize;          /* default 500 */
    int64_t watchMinSeconds;   /* default 300; each watch asks for a timeout in [min, 2 * min] */
    int64_t backoffBaseMs;     /* default 500 */
    int64_t backoffCapMs;      /* default 30 s */
    size_t maxEventBytes;      /* default KUBE_WATCH_DEFAULT_MAX_LINE */
    Rng rng;                   /* jitter; default: seeded from the kernel */
} InformerOptions;

/* An informer in a new child context of parent; nothing is sent before informerStart. Everything options points to
 * is copied. log and metrics may be NULL; api and log must outlive the informer. */
bool informerNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics, const InformerOptions *options,
                 Informer **out, Err *err) MUST_CHECK;

/* Cancels its requests and releases it with its store (NULL: nothing). */
void informerFree(Informer *informer);

/* Whether informer caches what options asks for: the same resource, the same namespaces (in any order), the same
 * label selector (the same text; NULL and "" alike) and the same store transform (function and arg). The tuning
 * options (page size, watch timeout, backoff, event size, rng) are not compared. */
bool informerMatches(const Informer *informer, const InformerOptions *options);

/* Starts listing (on the next loop iteration). */
void informerStart(Informer *informer);

/* Cancels its requests and timers; the store keeps what it has. */
void informerStop(Informer *informer);

bool informerSynced(const Informer *informer);

Store *informerStore(const Informer *informer);

/* "postgresclusters.postgres-operator.crunchydata.com", "pods", ...: for logs and metrics. */
const char *informerName(const Informer *informer);

/* The label selector ("" when none). */
const char *informerLabelSelector(const Informer *informer);

/* The resourceVersion the informer would watch from next in the nth namespace ("" before the first list). */
const char *informerResourceVersion(const Informer *informer, size_t namespaceIdx);

/* How many lists have completed (first lists and relists), over all namespaces. */
uint64_t informerListCount(const Informer *informer);

#endif
