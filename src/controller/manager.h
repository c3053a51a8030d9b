/* The manager: several controllers over one shared informer cache, under one Lease, on the event loop.
 *
 *     informer events --handler: map--> owning object's key --> controller's work queue --> reconcile(key)
 *                                                                                        --> reconcileFinish
 *
 * A manager is created once, with what its controllers share: the API client, the log, the metrics registry, the
 * leader election and the shutdown timeout. Controllers (PostgresCluster, PGUpgrade, ...) are added to it before it
 * starts. Each has a name (the `controller` label of its metrics, a field of its log lines, and "<name>-controller",
 * the source component of its Events), its own work queue and workers, reconcile function, resync period and
 * EventRecorder.
 *
 * A controller watches a kind with controllerWatch: each change is mapped to the key ("namespace/name") of the
 * object that owns it (the object itself for the primary kind, its controller owner reference or a label for the
 * others) and queued to that controller. Informers are shared: a watch of what an informer already caches (the same
 * resource, namespaces, label selector and transform; see informerMatches) adds a handler to that informer's store
 * instead of a second list, watch and cache. Each handler has its own map function and update filter, so what one
 * controller filters out still reaches another. A different label selector makes a second informer, with its own
 * list, watch and cache. One informer could serve both selections only by watching their union, which a label
 * selector cannot express (its terms are ANDed): it would have to watch the kind unselected, caching every object
 * of it, and filter per handler, which is the cost the selectors are there to avoid. Two informers cost one more
 * watch per namespace, and the objects both select cached twice.
 *
 * A controller's queue hands keys to its reconcile callback, at most `workers` at a time and never the same key twice
 * at once. A reconcile is asynchronous: the callback starts whatever requests it needs and calls reconcileFinish
 * when done, with the outcome that decides what happens to the key next:
 *
 *     success          forgotten (its backoff reset)
 *     requeueAfter     forgotten, queued again after the given delay
 *     requeue, error   queued again with the key's backoff (and the queue's global rate limit)
 *
 * Every key a controller's watches map to is queued again every resyncPeriod of that controller, as
 * controller-runtime's cache sync period does (PGO: 1 hour).
 *
 * A controller's reconciles start once every informer it watches has synced: reconciling from a partial cache
 * would take an object not yet listed for a missing one, and recreate it. A controller does not wait for the
 * informers only other controllers watch.
 *
 * Leader election (when options.lease is set): informers run and caches fill on every replica, so a standby is ready
 * to take over at once, but no controller reconciles before the Lease is held. The moment it is lost every queue
 * stops and the manager finishes with exit status 1 (the process should exit, as controller-runtime's does).
 *
 * Shutdown (managerShutdown, on SIGTERM): every queue stops taking keys and the informers stop; the reconciles in
 * flight and pending Event writes of every controller get up to shutdownTimeoutMs, together, to finish; then the
 * Lease is released (so a standby takes over at once) and the manager finishes with exit status 0.
 *
 * Metrics follow controller-runtime's names, one series per controller: controller_runtime_reconcile_total{controller,
 * result}, controller_runtime_reconcile_errors_total, controller_runtime_reconcile_time_seconds (histogram),
 * controller_runtime_active_workers, controller_runtime_max_concurrent_reconciles; plus the queues' (by controller
 * name), the informers' and the elector's. */
#ifndef CONTROLLER_MANAGER_H
#define CONTROLLER_MANAGER_H

#include "common/error.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "controller/api.h"
#include "controller/events.h"
#include "controller/informer.h"
#include "controller/lease.h"
#include "controller/metrics.h"
#include "controller/store.h"
#include "controller/workqueue.h"

#include <jansson.h>

#define MANAGER_NAME_MAX        63 /* bytes of a controller's name */
#define MANAGER_MAX_CONTROLLERS 16
#define MANAGER_MAX_INFORMERS   64 /* distinct informers, over every controller */
#define MANAGER_MAX_WATCHES     64 /* per controller */

typedef struct Manager Manager;
typedef struct Controller Controller;
typedef struct Reconcile Reconcile;

/* One reconcile in progress. The strings and ctx are valid until reconcileFinish. */
struct Reconcile {
    const char *key;       /* "namespace/name" (or "name" for cluster-scoped objects) */
    const char *namespace; /* "" for cluster-scoped objects */
    const char *name;
    MemCtx *ctx; /* scratch for the reconcile's own allocations, freed when it finishes */
    uint64_t id; /* increasing over the manager's controllers, for logs */
    Controller *controller;
    int64_t startedMs;
};

typedef enum ReconcileOutcome {
    reconcileSuccess,
    reconcileRequeue,
    reconcileRequeueAfter,
    reconcileError,
} ReconcileOutcome;

typedef void ReconcileFn(void *arg, Reconcile *reconcile);

/* Ends a reconcile (exactly once, possibly from within the ReconcileFn). requeueAfterMs is for
 * reconcileRequeueAfter; err (may be NULL) says what failed for reconcileError and is logged. */
void reconcileFinish(Reconcile *reconcile, ReconcileOutcome outcome, int64_t requeueAfterMs, const Err *err);

/* Maps a changed object to the key to queue: true and key filled, or false when nothing owns it. */
typedef bool ManagerMapFn(const void *arg, const json_t *object, char key[STORE_KEY_MAX]);

/* The object's own key (for the primary kind). */
bool managerMapSelf(const void *arg, const json_t *object, char key[STORE_KEY_MAX]);

/* The key of the object's controller owner reference when its kind is arg (a string, e.g. "PostgresCluster"). */
bool managerMapControllerOwner(const void *arg, const json_t *object, char key[STORE_KEY_MAX]);

/* The key "namespace/<value of label arg>" (e.g. postgres-operator.crunchydata.com/cluster). */
bool managerMapLabel(const void *arg, const json_t *object, char key[STORE_KEY_MAX]);

/* Whether an update of a cached object from old to new can matter to a controller's reconcile. Additions and
 * deletions always do; an update for which it returns false is not queued (Patroni's lease renewals, say). */
typedef bool ManagerUpdateFilterFn(const json_t *oldObject, const json_t *newObject);

typedef struct ManagerOptions {
    int64_t shutdownTimeoutMs; /* default 20 s, as PGO */
    const LeaseOptions *lease; /* NULL: no leader election */
    const char *eventInstance; /* reportingInstance of every controller's Events (the lease identity); may be NULL */
} ManagerOptions;

/* A manager, without controllers yet, in a new child context of parent, using api (which must outlive it) for every
 * request. log, metrics and options may be NULL. */
bool managerNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics, const ManagerOptions *options,
                Manager **out, Err *err) MUST_CHECK;

typedef struct ControllerOptions {
    const char *name; /* "postgrescluster": metrics label, logs, and "<name>-controller" for Events; unique */
    unsigned workers; /* default 2, as PGO */
    ReconcileFn *reconcile;
    void *arg;
    WorkQueueOptions queue; /* rate limiting; name and maxInFlight are set by the manager */
    int64_t resyncPeriodMs; /* default 1 hour; < 0 disables */
} ControllerOptions;

/* Adds a controller (before managerStart), which lives as long as the manager. errInvalidArgument without a name
 * (of at most MANAGER_NAME_MAX bytes) or a reconcile function, or with the name of another; errTooLarge beyond
 * MANAGER_MAX_CONTROLLERS. */
bool managerAddController(Manager *manager, const ControllerOptions *options, Controller **out, Err *err) MUST_CHECK;

/* Has controller watch what options describes (before managerStart), through the manager's informer for it, shared
 * or new: each change is mapped by map (with mapArg, which must outlive the manager) and queued to controller,
 * except updates for which updateFilter (NULL: none) says they do not matter. The informer is in *out (out may be
 * NULL); of its options, those of the first watch hold. errTooLarge beyond MANAGER_MAX_WATCHES for the controller,
 * MANAGER_MAX_INFORMERS for the manager, or STORE_MAX_HANDLERS for the informer. */
bool controllerWatch(Controller *controller, const InformerOptions *options, ManagerMapFn *map, const void *mapArg,
                     ManagerUpdateFilterFn *updateFilter, Informer **out, Err *err) MUST_CHECK;

/* The recorder of controller's Events (source component "<name>-controller"). */
EventRecorder *controllerEvents(const Controller *controller);

Manager *controllerManager(const Controller *controller);

/* Starts the informers, the elector and, when not electing, the controllers (each once its informers have synced). */
void managerStart(Manager *manager);

/* Begins the graceful shutdown described above; managerFinished tells when it is over. Idempotent. */
void managerShutdown(Manager *manager);

/* Whether the manager has finished (after a shutdown, or the loss of the Lease), and with which exit status. */
bool managerFinished(const Manager *manager, int *exitStatus);

/* Every informer has synced and the manager is not shutting down. */
bool managerReady(const Manager *manager);

/* Leading (always true without leader election, once started). */
bool managerLeading(const Manager *manager);

Api *managerApi(const Manager *manager);

/* Reconciles in flight, over every controller. */
size_t managerActiveReconciles(const Manager *manager);

/* Appends, for each informer, "# <name>[ <label selector>]\n" and its storeDump. */
bool managerDumpCaches(const Manager *manager, StrBuf *out, Err *err) MUST_CHECK;

#endif
