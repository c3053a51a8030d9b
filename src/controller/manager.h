/* The manager: one controller's informers, work queue, reconciles, leader election and Events, on the event loop.
 *
 *     informer events --map--> owning cluster key --> work queue --> reconcile(key) --> reconcileFinish
 *
 * Each watched kind has an informer whose changes are mapped to the key ("namespace/name") of the object that owns
 * them (the object itself for the primary kind, its controller owner reference or a label for the others) and queued.
 * The queue hands keys to the reconcile callback, at most `workers` at a time and never the same key twice at once.
 * A reconcile is asynchronous: the callback starts whatever requests it needs and calls reconcileFinish when done,
 * with the outcome that decides what happens to the key next:
 *
 *     success          forgotten (its backoff reset)
 *     requeueAfter     forgotten, queued again after the given delay
 *     requeue, error   queued again with the key's backoff (and the queue's global rate limit)
 *
 * Every key is queued again every resyncPeriod, as controller-runtime's cache sync period does (PGO: 1 hour).
 *
 * Leader election (when options.lease is set): informers run and caches fill on every replica, so a standby is
 * ready to take over at once, but reconciles start only once the Lease is held. The moment it is lost the queue stops
 * and the manager finishes with exit status 1 (the process should exit, as controller-runtime's does).
 *
 * Shutdown (managerShutdown, on SIGTERM): the queue stops taking keys and the informers stop; reconciles in flight
 * and pending Event writes get up to shutdownTimeoutMs to finish; then the Lease is released (so a standby takes
 * over at once) and the manager finishes with exit status 0.
 *
 * Metrics follow controller-runtime's names: controller_runtime_reconcile_total{controller,result},
 * controller_runtime_reconcile_errors_total, controller_runtime_reconcile_time_seconds (histogram),
 * controller_runtime_active_workers, controller_runtime_max_concurrent_reconciles, plus the queue's, the informers'
 * and the elector's. */
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

typedef struct Manager Manager;
typedef struct Reconcile Reconcile;

/* One reconcile in progress. The strings and ctx are valid until reconcileFinish. */
struct Reconcile {
    const char *key;       /* "namespace/name" (or "name" for cluster-scoped objects) */
    const char *namespace; /* "" for cluster-scoped objects */
    const char *name;
    MemCtx *ctx; /* scratch for the reconcile's own allocations, freed when it finishes */
    uint64_t id; /* increasing, for logs */
    Manager *manager;
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

typedef struct ManagerOptions {
    const char *controller; /* "postgrescluster": metrics label, logs, and "<controller>-controller" for Events */
    unsigned workers;       /* default 2, as PGO */
    ReconcileFn *reconcile;
    void *arg;
    WorkQueueOptions queue;    /* rate limiting; name and maxInFlight are set by the manager */
    int64_t resyncPeriodMs;    /* default 1 hour; < 0 disables */
    int64_t shutdownTimeoutMs; /* default 20 s, as PGO */
    const LeaseOptions *lease; /* NULL: no leader election */
    const char *eventInstance; /* reportingInstance of Events (the lease identity, say); may be NULL */
} ManagerOptions;

/* A manager in a new child context of parent, using api (which must outlive it) for every request. log and
 * metrics may be NULL. */
bool managerNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics, const ManagerOptions *options,
                Manager **out, Err *err) MUST_CHECK;

/* Adds an informer (before managerStart) whose changes are mapped by map (with mapArg, which must outlive the
 * manager) and queued. options->store.handler must be NULL: the manager installs its own. */
bool managerWatch(Manager *manager, const InformerOptions *options, ManagerMapFn *map, const void *mapArg,
                  Informer **out, Err *err) MUST_CHECK;

/* Whether an update of a cached object from old to new can matter to a reconcile. Additions and deletions always
 * do; an update for which it returns false is not queued (Patroni's lease renewals, say). */
typedef bool ManagerUpdateFilterFn(const json_t *oldObject, const json_t *newObject);

/* Sets the update filter of informer, which managerWatch returned (before managerStart). */
bool managerFilterUpdates(Manager *manager, const Informer *informer, ManagerUpdateFilterFn *filter,
                          Err *err) MUST_CHECK;

/* Starts the informers, the elector and, when not electing, the reconciles. */
void managerStart(Manager *manager);

/* Begins the graceful shutdown described above; managerFinished tells when it is over. Idempotent. */
void managerShutdown(Manager *manager);

/* Whether the manager has finished (after a shutdown, or the loss of the Lease), and with which exit status. */
bool managerFinished(const Manager *manager, int *exitStatus);

/* Every informer has synced and the manager is not shutting down. */
bool managerReady(const Manager *manager);

/* Leading (always true without leader election, once started). */
bool managerLeading(const Manager *manager);

EventRecorder *managerEvents(const Manager *manager);
Api *managerApi(const Manager *manager);

/* Reconciles in flight. */
size_t managerActiveReconciles(const Manager *manager);

/* Appends, for each informer, "# <name>\n" and its storeDump. */
bool managerDumpCaches(const Manager *manager, StrBuf *out, Err *err) MUST_CHECK;

#endif
