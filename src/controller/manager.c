/* The manager.
 *
 * States: created -> running -> draining -> releasing -> finished, or running -> finished on losing the Lease.
 *
 *     running    informers watch; the queue is paused until every informer has synced (a timer polls every
 *                MANAGER_POLL_MS), and while electing and not leading. Reconciling from a partial cache would take
 *                an object not yet listed for a missing one, and recreate it: a new root certificate, say.
 *     draining   queue paused, informers stopped; a timer polls (every MANAGER_POLL_MS) until no reconcile and no
 *                Event write is in flight, or shutdownTimeoutMs has passed
 *     releasing  the elector gives the Lease up (bounded by the time left, at least MANAGER_MIN_RELEASE_MS)
 *     finished   exit status 0, or 1 after losing the Lease
 *
 * Reconciles live in their own contexts (children of the manager's), linked in a list so shutdown can count them.
 * When the manager is freed with reconciles still in flight (a hard stop), their contexts go with it; the reconcile
 * callbacks' owners must cancel their own requests when they are freed, as every component here does. */
#include "controller/manager.h"

#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MANAGER_MAX_INFORMERS  16
#define MANAGER_POLL_MS        50
#define MANAGER_MIN_RELEASE_MS 2000

typedef enum ManagerState {
    managerCreated,
    managerRunning,
    managerDraining,
    managerReleasing,
    managerFinishedState,
} ManagerState;

typedef struct ManagerWatchEntry {
    Manager *manager;
    Informer *informer;
    ManagerMapFn *map;
    const void *mapArg;
    ManagerUpdateFilterFn *updateMatters; /* NULL: every update does */
} ManagerWatchEntry;

typedef struct ReconcileLink {
    Reconcile reconcile;
    struct ReconcileLink *prev;
    struct ReconcileLink *next;
} ReconcileLink;

struct Manager {
    MemCtx *ctx;
    Loop *loop;
    Api *api;
    const Log *log;
    Metrics *metrics;
    ManagerOptions options;
    ManagerState state;
    int exitStatus;
    WorkQueue *queue;
    LeaseElector *elector;
    EventRecorder *events;
    ManagerWatchEntry watches[MANAGER_MAX_INFORMERS];
    size_t watchCount;
    ReconcileLink *reconciles;
    size_t activeReconciles;
    uint64_t nextReconcileId;
    LoopTimer *resyncTimer;
    LoopTimer *shutdownTimer;
    LoopTimer *syncTimer;
    bool synced; /* every informer has synced once */
    int64_t deadlineMs;
    MetricFamily *reconcileTotal;
    MetricFamily *reconcileErrors;
    MetricFamily *reconcileTime;
    MetricFamily *activeWorkers;
    MetricFamily *maxConcurrent;
};

static const Log *managerLog(const Manager *manager)
{
    static const Log silent = {.fd = -1, .minLevel = logLevelError + 1};
    return manager->log != NULL ? manager->log : &silent;
}

static int64_t managerNow(const Manager *manager)
{
    return clockMonotonicMs(loopClock(manager->loop));
}

EventRecorder *managerEvents(const Manager *manager)
{
    return manager->events;
}

Api *managerApi(const Manager *manager)
{
    return manager->api;
}

size_t managerActiveReconciles(const Manager *manager)
{
    return manager->activeReconciles;
}

bool managerLeading(const Manager *manager)
{
    if (manager->state == managerCreated)
        return false;
    return manager->elector == NULL || leaseElectorIsLeader(manager->elector);
}

bool managerFinished(const Manager *manager, int *exitStatus)
{
    if (exitStatus != NULL)
        *exitStatus = manager->exitStatus;
    return manager->state == managerFinishedState;
}

bool managerReady(const Manager *manager)
{
    if (manager->state != managerRunning)
        return false;
    for (size_t watchIdx = 0; watchIdx < manager->watchCount; watchIdx++) {
        if (!informerSynced(manager->watches[watchIdx].informer))
            return false;
    }
    return true;
}

/* ---- mapping objects to keys ---- */

static bool managerKey(const char *namespace, const char *name, char key[STORE_KEY_MAX])
{
    int written = namespace != NULL && *namespace != '\0' ? snprintf(key, STORE_KEY_MAX, "%s/%s", namespace, name)
                                                          : snprintf(key, STORE_KEY_MAX, "%s", name);
    return written > 0 && written < STORE_KEY_MAX;
}

static const char *managerMeta(const json_t *object, const char *field)
{
    return json_string_value(json_object_get(json_object_get(object, "metadata"), field));
}

bool managerMapSelf(const void *arg, const json_t *object, char key[STORE_KEY_MAX])
{
    (void)arg;
    const char *name = managerMeta(object, "name");
    return name != NULL && managerKey(managerMeta(object, "namespace"), name, key);
}

bool managerMapControllerOwner(const void *arg, const json_t *object, char key[STORE_KEY_MAX])
{
    const char *kind = arg;
    json_t *refs = json_object_get(json_object_get(object, "metadata"), "ownerReferences");
    size_t refIdx;
    json_t *ref;
    json_array_foreach(refs, refIdx, ref)
    {
        const char *refKind = json_string_value(json_object_get(ref, "kind"));
        const char *name = json_string_value(json_object_get(ref, "name"));
        if (json_is_true(json_object_get(ref, "controller")) && refKind != NULL && strcmp(refKind, kind) == 0 &&
            name != NULL)
            return managerKey(managerMeta(object, "namespace"), name, key);
    }
    return false;
}

bool managerMapLabel(const void *arg, const json_t *object, char key[STORE_KEY_MAX])
{
    const char *label = arg;
    const char *value =
        json_string_value(json_object_get(json_object_get(json_object_get(object, "metadata"), "labels"), label));
    return value != NULL && *value != '\0' && managerKey(managerMeta(object, "namespace"), value, key);
}

static bool managerEnqueue(ManagerWatchEntry *watch, const json_t *object, Err *err)
{
    char key[STORE_KEY_MAX];
    if (object == NULL || !watch->map(watch->mapArg, object, key))
        return true;
    return workQueueAdd(watch->manager->queue, key, err);
}

static bool managerOnChange(void *arg, StoreEventType type, const json_t *oldObject, const json_t *newObject, Err *err)
{
    ManagerWatchEntry *watch = arg;
    if (type == storeUpdated && watch->updateMatters != NULL && !watch->updateMatters(oldObject, newObject))
        return true;
    return managerEnqueue(watch, oldObject, err) && managerEnqueue(watch, newObject, err);
}

/* ---- reconciles ---- */

static const char *const outcomeNames[] = {"success", "requeue", "requeue_after", "error"};

void reconcileFinish(Reconcile *reconcile, ReconcileOutcome outcome, int64_t requeueAfterMs, const Err *err)
{
    Manager *manager = reconcile->manager;
    ReconcileLink *link = (ReconcileLink *)(void *)reconcile;
    const char *controller = manager->options.controller;
    double seconds = (double)(managerNow(manager) - reconcile->startedMs) / 1000.0;
    metricAdd(manager->reconcileTotal, (const char *[]){controller, outcomeNames[outcome]}, 1);
    metricObserve(manager->reconcileTime, (const char *[]){controller}, seconds);
    if (outcome == reconcileError) {
        metricAdd(manager->reconcileErrors, (const char *[]){controller}, 1);
        logError(managerLog(manager), "reconcile failed", logStr("controller", controller),
                 logStr("namespace", reconcile->namespace), logStr("name", reconcile->name),
                 logInt("reconcileId", reconcile->id), logStr("error", err != NULL ? err->message : "unknown"),
                 logStr("code", err != NULL ? errCodeName(err->code) : NULL));
    } else {
        logDebug(managerLog(manager), "reconciled", logStr("controller", controller),
                 logStr("namespace", reconcile->namespace), logStr("name", reconcile->name),
                 logInt("reconcileId", reconcile->id), logStr("result", outcomeNames[outcome]));
    }

    /* Requeues cannot fail: the queue still tracks this key, as it is being processed. */
    Err queueErr;
    bool queued = true;
    if (manager->state == managerRunning) {
        if (outcome == reconcileSuccess) {
            workQueueForget(manager->queue, reconcile->key);
        } else if (outcome == reconcileRequeueAfter) {
            workQueueForget(manager->queue, reconcile->key);
            queued = workQueueAddAfter(manager->queue, reconcile->key, requeueAfterMs, &queueErr);
        } else {
            queued = workQueueAddRateLimited(manager->queue, reconcile->key, &queueErr);
        }
    }
    if (!queued)
        logError(managerLog(manager), "cannot requeue", logStr("key", reconcile->key),
                 logStr("error", queueErr.message));
    workQueueDone(manager->queue, reconcile->key);

    if (link->prev != NULL)
        link->prev->next = link->next;
    else
        manager->reconciles = link->next;
    if (link->next != NULL)
        link->next->prev = link->prev;
    manager->activeReconciles--;
    metricSet(manager->activeWorkers, (const char *[]){controller}, (double)manager->activeReconciles);
    memCtxFree(reconcile->ctx);
}

/* The queue hands over a key. */
static void managerProcess(void *arg, const char *key)
{
    Manager *manager = arg;
    MemCtx *ctx = memCtxNew(manager->ctx, "reconcile");
    ReconcileLink *link = ctx != NULL ? memCtxAlloc(ctx, sizeof(*link)) : NULL;
    char *keyCopy = link != NULL ? memCtxStrDup(ctx, key) : NULL;
    const char *slash = keyCopy != NULL ? strchr(keyCopy, '/') : NULL;
    char *namespace =
        keyCopy != NULL ? memCtxStrNDup(ctx, keyCopy, slash != NULL ? (size_t)(slash - keyCopy) : 0) : NULL;
    Err err;
    if (namespace == NULL) {
        /* Try again later: the key stays queued with backoff. */
        memCtxFree(ctx);
        logError(managerLog(manager), "out of memory starting a reconcile", logStr("key", key));
        if (!workQueueAddRateLimited(manager->queue, key, &err))
            logError(managerLog(manager), "cannot requeue", logStr("key", key), logStr("error", err.message));
        workQueueDone(manager->queue, key);
        return;
    }
    *link = (ReconcileLink){
        .reconcile =
            {
                .key = keyCopy,
                .namespace = namespace,
                .name = slash != NULL ? slash + 1 : keyCopy,
                .ctx = ctx,
                .id = ++manager->nextReconcileId,
                .manager = manager,
                .startedMs = managerNow(manager),
            },
        .next = manager->reconciles,
    };
    if (manager->reconciles != NULL)
        manager->reconciles->prev = link;
    manager->reconciles = link;
    manager->activeReconciles++;
    metricSet(manager->activeWorkers, (const char *[]){manager->options.controller}, (double)manager->activeReconciles);
    manager->options.reconcile(manager->options.arg, &link->reconcile);
}

/* ---- resync ---- */

static void managerOnResync(void *arg)
{
    Manager *manager = arg;
    size_t queued = 0;
    for (size_t watchIdx = 0; watchIdx < manager->watchCount; watchIdx++) {
        ManagerWatchEntry *watch = &manager->watches[watchIdx];
        Store *store = informerStore(watch->informer);
        size_t cursor = 0;
        const StoreEntry *entry;
        Err err;
        while (storeNext(store, &cursor, &entry)) {
            if (!managerEnqueue(watch, entry->object, &err)) {
                logWarn(managerLog(manager), "resync incomplete", logStr("error", err.message));
                break;
            }
            queued++;
        }
    }
    logDebug(managerLog(manager), "resync", logStr("controller", manager->options.controller),
             logInt("objects", queued));
    loopTimerStart(manager->resyncTimer, manager->options.resyncPeriodMs);
}

/* ---- leadership ---- */

static void managerOnStartedLeading(void *arg)
{
    Manager *manager = arg;
    if (manager->state == managerRunning && manager->synced)
        workQueuePause(manager->queue, false);
}

/* Polls until every informer has synced, then lets the queue run (when leading). */
static void managerOnSyncTimer(void *arg)
{
    Manager *manager = arg;
    if (manager->state != managerRunning)
        return;
    if (!managerReady(manager)) {
        loopTimerStart(manager->syncTimer, MANAGER_POLL_MS);
        return;
    }
    manager->synced = true;
    logInfo(managerLog(manager), "caches synced", logStr("controller", manager->options.controller),
            logInt("informers", manager->watchCount));
    if (manager->elector == NULL || leaseElectorIsLeader(manager->elector))
        workQueuePause(manager->queue, false);
}

static void managerFinish(Manager *manager, int exitStatus)
{
    manager->state = managerFinishedState;
    manager->exitStatus = exitStatus;
    loopTimerStop(manager->shutdownTimer);
    loopTimerStop(manager->resyncTimer);
    loopTimerStop(manager->syncTimer);
}

static void managerStopWork(Manager *manager)
{
    workQueuePause(manager->queue, true);
    loopTimerStop(manager->resyncTimer);
    loopTimerStop(manager->syncTimer);
    for (size_t watchIdx = 0; watchIdx < manager->watchCount; watchIdx++)
        informerStop(manager->watches[watchIdx].informer);
}

static void managerOnStoppedLeading(void *arg)
{
    Manager *manager = arg;
    managerStopWork(manager);
    logError(managerLog(manager), "stopped reconciling: leadership lost",
             logStr("controller", manager->options.controller),
             logInt("reconcilesInFlight", manager->activeReconciles));
    managerFinish(manager, 1);
}

static void managerOnReleased(void *arg)
{
    Manager *manager = arg;
    if (manager->state == managerReleasing || manager->state == managerDraining) {
        logInfo(managerLog(manager), "shutdown complete", logStr("controller", manager->options.controller));
        managerFinish(manager, 0);
    }
}

/* ---- shutdown ---- */

static void managerRelease(Manager *manager)
{
    manager->state = managerReleasing;
    if (manager->elector == NULL) {
        logInfo(managerLog(manager), "shutdown complete", logStr("controller", manager->options.controller));
        managerFinish(manager, 0);
        return;
    }
    int64_t left = manager->deadlineMs - managerNow(manager);
    manager->deadlineMs = managerNow(manager) + (left > MANAGER_MIN_RELEASE_MS ? left : MANAGER_MIN_RELEASE_MS);
    loopTimerStart(manager->shutdownTimer, MANAGER_POLL_MS);
    leaseElectorRelease(manager->elector); /* may finish at once */
}

static void managerOnShutdownTimer(void *arg)
{
    Manager *manager = arg;
    bool pastDeadline = managerNow(manager) >= manager->deadlineMs;
    if (manager->state == managerDraining) {
        size_t events = eventRecorderInFlight(manager->events) + eventRecorderWaiting(manager->events);
        if (manager->activeReconciles == 0 && events == 0) {
            managerRelease(manager);
            return;
        }
        if (pastDeadline) {
            logWarn(managerLog(manager), "shutdown deadline passed; abandoning work in flight",
                    logInt("reconciles", manager->activeReconciles), logInt("events", events));
            managerRelease(manager);
            return;
        }
    } else if (manager->state == managerReleasing && pastDeadline) {
        logWarn(managerLog(manager), "lease release did not finish in time",
                logStr("controller", manager->options.controller));
        managerFinish(manager, 0);
        return;
    }
    if (manager->state == managerDraining || manager->state == managerReleasing)
        loopTimerStart(manager->shutdownTimer, MANAGER_POLL_MS);
}

void managerShutdown(Manager *manager)
{
    if (manager->state == managerCreated) {
        managerFinish(manager, 0);
        return;
    }
    if (manager->state != managerRunning)
        return;
    logInfo(managerLog(manager), "shutting down", logStr("controller", manager->options.controller),
            logInt("reconcilesInFlight", manager->activeReconciles),
            logInt("timeoutMs", manager->options.shutdownTimeoutMs));
    managerStopWork(manager);
    manager->state = managerDraining;
    manager->deadlineMs = managerNow(manager) + manager->options.shutdownTimeoutMs;
    managerOnShutdownTimer(manager);
}

void managerStart(Manager *manager)
{
    if (manager->state != managerCreated)
        return;
    manager->state = managerRunning;
    for (size_t watchIdx = 0; watchIdx < manager->watchCount; watchIdx++)
        informerStart(manager->watches[watchIdx].informer);
    if (manager->elector != NULL)
        leaseElectorStart(manager->elector);
    loopTimerStart(manager->syncTimer, 0);
    if (manager->options.resyncPeriodMs > 0)
        loopTimerStart(manager->resyncTimer, manager->options.resyncPeriodMs);
}

bool managerWatch(Manager *manager, const InformerOptions *options, ManagerMapFn *map, const void *mapArg,
                  Informer **out, Err *err)
{
    if (manager->state != managerCreated)
        return errSet(err, errInvalidArgument, "informers must be added before the manager starts");
    if (manager->watchCount == MANAGER_MAX_INFORMERS)
        return errSet(err, errTooLarge, "a manager watches at most %d kinds", MANAGER_MAX_INFORMERS);
    if (options->store.handler != NULL)
        return errSet(err, errInvalidArgument, "the manager installs the informer's handler itself");
    ManagerWatchEntry *watch = &manager->watches[manager->watchCount];
    *watch = (ManagerWatchEntry){.manager = manager, .map = map, .mapArg = mapArg};
    InformerOptions withHandler = *options;
    withHandler.store.handler = managerOnChange;
    withHandler.store.arg = watch;
    if (!informerNew(manager->ctx, manager->loop, manager->api, manager->log, manager->metrics, &withHandler,
                     &watch->informer, err))
        return false;
    manager->watchCount++;
    if (out != NULL)
        *out = watch->informer;
    return true;
}

bool managerFilterUpdates(Manager *manager, const Informer *informer, ManagerUpdateFilterFn *filter, Err *err)
{
    if (manager->state != managerCreated)
        return errSet(err, errInvalidArgument, "filters must be set before the manager starts");
    for (size_t watchIdx = 0; watchIdx < manager->watchCount; watchIdx++)
        if (manager->watches[watchIdx].informer == informer) {
            manager->watches[watchIdx].updateMatters = filter;
            return true;
        }
    return errSet(err, errInvalidArgument, "the informer is not one of the manager's");
}

bool managerDumpCaches(const Manager *manager, StrBuf *out, Err *err)
{
    for (size_t watchIdx = 0; watchIdx < manager->watchCount; watchIdx++) {
        const Informer *informer = manager->watches[watchIdx].informer;
        if (!strBufPrintf(out, err, "# %s\n", informerName(informer)) || !storeDump(informerStore(informer), out, err))
            return false;
    }
    return true;
}

static void managerCleanup(void *arg)
{
    Manager *manager = arg;
    loopTimerFree(manager->resyncTimer);
    loopTimerFree(manager->shutdownTimer);
    loopTimerFree(manager->syncTimer);
}

static bool managerRegisterMetrics(Manager *manager, Err *err)
{
    MetricSpec total = {.type = metricCounter,
                        .name = "controller_runtime_reconcile_total",
                        .help = "Total number of reconciliations per controller",
                        .labels = {"controller", "result"}};
    MetricSpec errors = {.type = metricCounter,
                         .name = "controller_runtime_reconcile_errors_total",
                         .help = "Total number of reconciliation errors per controller",
                         .labels = {"controller"}};
    MetricSpec time = {.type = metricHistogram,
                       .name = "controller_runtime_reconcile_time_seconds",
                       .help = "Length of time per reconciliation per controller",
                       .labels = {"controller"},
                       .buckets = metricsDurationBuckets,
                       .bucketCount = metricsDurationBucketCount};
    MetricSpec active = {.type = metricGauge,
                         .name = "controller_runtime_active_workers",
                         .help = "Number of currently used workers per controller",
                         .labels = {"controller"}};
    MetricSpec max = {.type = metricGauge,
                      .name = "controller_runtime_max_concurrent_reconciles",
                      .help = "Maximum number of concurrent reconciles per controller",
                      .labels = {"controller"}};
    if (manager->metrics == NULL)
        return true;
    if (!metricsRegister(manager->metrics, &total, &manager->reconcileTotal, err) ||
        !metricsRegister(manager->metrics, &errors, &manager->reconcileErrors, err) ||
        !metricsRegister(manager->metrics, &time, &manager->reconcileTime, err) ||
        !metricsRegister(manager->metrics, &active, &manager->activeWorkers, err) ||
        !metricsRegister(manager->metrics, &max, &manager->maxConcurrent, err))
        return false;
    const char *controller = manager->options.controller;
    metricSet(manager->maxConcurrent, (const char *[]){controller}, manager->options.workers);
    metricSet(manager->activeWorkers, (const char *[]){controller}, 0);
    metricAdd(manager->reconcileErrors, (const char *[]){controller}, 0);
    for (size_t outcomeIdx = 0; outcomeIdx < sizeof(outcomeNames) / sizeof(outcomeNames[0]); outcomeIdx++)
        metricAdd(manager->reconcileTotal, (const char *[]){controller, outcomeNames[outcomeIdx]}, 0);
    return true;
}

bool managerNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics, const ManagerOptions *options,
                Manager **out, Err *err)
{
    if (options->controller == NULL || options->reconcile == NULL)
        return errSet(err, errInvalidArgument, "a manager needs a controller name and a reconcile function");
    MemCtx *ctx = memCtxNew(parent, "manager");
    Manager *manager = ctx != NULL ? memCtxAlloc(ctx, sizeof(*manager)) : NULL;
    if (manager == NULL || !memCtxOnFree(ctx, managerCleanup, manager)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the manager");
    }
    *manager = (Manager){.ctx = ctx, .loop = loop, .api = api, .log = log, .metrics = metrics, .options = *options};
    ManagerOptions *filled = &manager->options;
    if (filled->workers == 0)
        filled->workers = 2;
    if (filled->resyncPeriodMs == 0)
        filled->resyncPeriodMs = 3600 * 1000;
    if (filled->shutdownTimeoutMs <= 0)
        filled->shutdownTimeoutMs = 20000;
    filled->controller = memCtxStrDup(ctx, options->controller);
    filled->lease = NULL; /* not kept: the elector copies what it needs */
    filled->eventInstance = NULL;
    char component[128];
    snprintf(component, sizeof(component), "%s-controller", options->controller);
    WorkQueueOptions queueOptions = options->queue;
    queueOptions.name = options->controller;
    queueOptions.maxInFlight = filled->workers;
    EventRecorderOptions eventOptions = {.component = component, .instance = options->eventInstance};
    LeaseCallbacks leaseCallbacks = {
        .startedLeading = managerOnStartedLeading,
        .stoppedLeading = managerOnStoppedLeading,
        .released = managerOnReleased,
        .arg = manager,
    };
    manager->resyncTimer = loopTimerNew(loop, managerOnResync, manager);
    manager->shutdownTimer = loopTimerNew(loop, managerOnShutdownTimer, manager);
    manager->syncTimer = loopTimerNew(loop, managerOnSyncTimer, manager);
    bool ok = filled->controller != NULL && manager->resyncTimer != NULL && manager->shutdownTimer != NULL &&
              manager->syncTimer != NULL;
    if (!ok)
        errSet(err, errOutOfMemory, "out of memory creating the manager");
    ok = ok && managerRegisterMetrics(manager, err) &&
         workQueueNew(ctx, loop, metrics, &queueOptions, managerProcess, manager, &manager->queue, err) &&
         eventRecorderNew(ctx, loop, api, log, metrics, &eventOptions, &manager->events, err) &&
         (options->lease == NULL ||
          leaseElectorNew(ctx, loop, api, log, metrics, options->lease, &leaseCallbacks, &manager->elector, err));
    if (!ok) {
        memCtxFree(ctx);
        return false;
    }
    workQueuePause(manager->queue, true);
    *out = manager;
    return true;
}
