/* The manager.
 *
 * States: created -> running -> draining -> releasing -> finished, or running -> finished on losing the Lease.
 *
 *     running    informers watch; each controller's queue is paused until every informer that controller watches
 *                has synced (one timer polls for all of them every MANAGER_POLL_MS until the last has), and while
 *                electing and not leading
 *     draining   queues paused, informers stopped; a timer polls (every MANAGER_POLL_MS) until no controller has a
 *                reconcile or an Event write in flight, or shutdownTimeoutMs has passed
 *     releasing  the elector gives the Lease up (bounded by the time left, at least MANAGER_MIN_RELEASE_MS)
 *     finished   exit status 0, or 1 after losing the Lease
 *
 * Ownership: the manager keeps the informers (an array of pointers, searched with informerMatches when a watch is
 * added) and the controllers; a controller keeps its watches in a fixed array, so each ControllerWatch has a stable
 * address to serve as the argument of its store handler. The informers and controllers are children of the
 * manager's context, the reconciles children of their controller's, linked in a list so shutdown can count them.
 * When the manager is freed with reconciles still in flight (a hard stop), their contexts go with it; the reconcile
 * callbacks' owners must cancel their own requests when they are freed, as every component here does. Nothing runs
 * while a context is freed, so the order in which informers and controllers go does not matter. */
#include "controller/manager.h"

#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MANAGER_POLL_MS        50
#define MANAGER_MIN_RELEASE_MS 2000

typedef enum ManagerState {
    managerCreated,
    managerRunning,
    managerDraining,
    managerReleasing,
    managerFinishedState,
} ManagerState;

/* One controller's watch of one informer: the argument of its handler on the informer's store. */
typedef struct ControllerWatch {
    Controller *controller;
    Informer *informer;
    ManagerMapFn *map;
    const void *mapArg;
    ManagerUpdateFilterFn *updateMatters; /* NULL: every update does */
} ControllerWatch;

typedef struct ReconcileLink {
    Reconcile reconcile;
    struct ReconcileLink *prev;
    struct ReconcileLink *next;
} ReconcileLink;

struct Controller {
    MemCtx *ctx;
    Manager *manager;
    ControllerOptions options;
    WorkQueue *queue;
    EventRecorder *events;
    ControllerWatch watches[MANAGER_MAX_WATCHES];
    size_t watchCount;
    ReconcileLink *reconciles;
    size_t activeReconciles;
    LoopTimer *resyncTimer;
    bool synced; /* every informer it watches has synced once */
};

struct Manager {
    MemCtx *ctx;
    Loop *loop;
    Api *api;
    const Log *log;
    Metrics *metrics;
    ManagerOptions options;
    ManagerState state;
    int exitStatus;
    LeaseElector *elector;
    Controller *controllers[MANAGER_MAX_CONTROLLERS];
    size_t controllerCount;
    Informer *informers[MANAGER_MAX_INFORMERS];
    size_t informerCount;
    uint64_t nextReconcileId;
    LoopTimer *shutdownTimer;
    LoopTimer *syncTimer;
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

EventRecorder *controllerEvents(const Controller *controller)
{
    return controller->events;
}

Manager *controllerManager(const Controller *controller)
{
    return controller->manager;
}

Api *managerApi(const Manager *manager)
{
    return manager->api;
}

size_t managerActiveReconciles(const Manager *manager)
{
    size_t active = 0;
    for (size_t controllerIdx = 0; controllerIdx < manager->controllerCount; controllerIdx++)
        active += manager->controllers[controllerIdx]->activeReconciles;
    return active;
}

/* Event writes in flight or waiting for a slot, over every controller. */
static size_t managerPendingEvents(const Manager *manager)
{
    size_t pending = 0;
    for (size_t controllerIdx = 0; controllerIdx < manager->controllerCount; controllerIdx++) {
        const EventRecorder *events = manager->controllers[controllerIdx]->events;
        pending += eventRecorderInFlight(events) + eventRecorderWaiting(events);
    }
    return pending;
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
    for (size_t informerIdx = 0; informerIdx < manager->informerCount; informerIdx++) {
        if (!informerSynced(manager->informers[informerIdx]))
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

static bool controllerEnqueue(const ControllerWatch *watch, const json_t *object, Err *err)
{
    char key[STORE_KEY_MAX];
    if (object == NULL || !watch->map(watch->mapArg, object, key))
        return true;
    return workQueueAdd(watch->controller->queue, key, err);
}

/* The store handler of a watch. */
static bool controllerOnChange(void *arg, StoreEventType type, const json_t *oldObject, const json_t *newObject,
                               Err *err)
{
    const ControllerWatch *watch = arg;
    if (type == storeUpdated && watch->updateMatters != NULL && !watch->updateMatters(oldObject, newObject))
        return true;
    return controllerEnqueue(watch, oldObject, err) && controllerEnqueue(watch, newObject, err);
}

/* ---- reconciles ---- */

static const char *const outcomeNames[] = {"success", "requeue", "requeue_after", "error"};

void reconcileFinish(Reconcile *reconcile, ReconcileOutcome outcome, int64_t requeueAfterMs, const Err *err)
{
    Controller *controller = reconcile->controller;
    Manager *manager = controller->manager;
    ReconcileLink *link = (ReconcileLink *)(void *)reconcile;
    const char *name = controller->options.name;
    double seconds = (double)(managerNow(manager) - reconcile->startedMs) / 1000.0;
    metricAdd(manager->reconcileTotal, (const char *[]){name, outcomeNames[outcome]}, 1);
    metricObserve(manager->reconcileTime, (const char *[]){name}, seconds);
    if (outcome == reconcileError) {
        metricAdd(manager->reconcileErrors, (const char *[]){name}, 1);
        logError(managerLog(manager), "reconcile failed", logStr("controller", name),
                 logStr("namespace", reconcile->namespace), logStr("name", reconcile->name),
                 logInt("reconcileId", reconcile->id), logStr("error", err != NULL ? err->message : "unknown"),
                 logStr("code", err != NULL ? errCodeName(err->code) : NULL));
    } else {
        logDebug(managerLog(manager), "reconciled", logStr("controller", name),
                 logStr("namespace", reconcile->namespace), logStr("name", reconcile->name),
                 logInt("reconcileId", reconcile->id), logStr("result", outcomeNames[outcome]));
    }

    /* Requeues cannot fail: the queue still tracks this key, as it is being processed. */
    Err queueErr;
    bool queued = true;
    if (manager->state == managerRunning) {
        if (outcome == reconcileSuccess) {
            workQueueForget(controller->queue, reconcile->key);
        } else if (outcome == reconcileRequeueAfter) {
            workQueueForget(controller->queue, reconcile->key);
            queued = workQueueAddAfter(controller->queue, reconcile->key, requeueAfterMs, &queueErr);
        } else {
            queued = workQueueAddRateLimited(controller->queue, reconcile->key, &queueErr);
        }
    }
    if (!queued)
        logError(managerLog(manager), "cannot requeue", logStr("controller", name), logStr("key", reconcile->key),
                 logStr("error", queueErr.message));
    workQueueDone(controller->queue, reconcile->key);

    if (link->prev != NULL)
        link->prev->next = link->next;
    else
        controller->reconciles = link->next;
    if (link->next != NULL)
        link->next->prev = link->prev;
    controller->activeReconciles--;
    metricSet(manager->activeWorkers, (const char *[]){name}, (double)controller->activeReconciles);
    memCtxFree(reconcile->ctx);
}

/* The controller's queue hands over a key. */
static void controllerProcess(void *arg, const char *key)
{
    Controller *controller = arg;
    Manager *manager = controller->manager;
    MemCtx *ctx = memCtxNew(controller->ctx, "reconcile");
    ReconcileLink *link = ctx != NULL ? memCtxAlloc(ctx, sizeof(*link)) : NULL;
    char *keyCopy = link != NULL ? memCtxStrDup(ctx, key) : NULL;
    const char *slash = keyCopy != NULL ? strchr(keyCopy, '/') : NULL;
    char *namespace =
        keyCopy != NULL ? memCtxStrNDup(ctx, keyCopy, slash != NULL ? (size_t)(slash - keyCopy) : 0) : NULL;
    Err err;
    if (namespace == NULL) {
        /* Try again later: the key stays queued with backoff. */
        memCtxFree(ctx);
        logError(managerLog(manager), "out of memory starting a reconcile",
                 logStr("controller", controller->options.name), logStr("key", key));
        if (!workQueueAddRateLimited(controller->queue, key, &err))
            logError(managerLog(manager), "cannot requeue", logStr("controller", controller->options.name),
                     logStr("key", key), logStr("error", err.message));
        workQueueDone(controller->queue, key);
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
                .controller = controller,
                .startedMs = managerNow(manager),
            },
        .next = controller->reconciles,
    };
    if (controller->reconciles != NULL)
        controller->reconciles->prev = link;
    controller->reconciles = link;
    controller->activeReconciles++;
    metricSet(manager->activeWorkers, (const char *[]){controller->options.name}, (double)controller->activeReconciles);
    controller->options.reconcile(controller->options.arg, &link->reconcile);
}

/* ---- resync ---- */

static void controllerOnResync(void *arg)
{
    Controller *controller = arg;
    size_t queued = 0;
    for (size_t watchIdx = 0; watchIdx < controller->watchCount; watchIdx++) {
        const ControllerWatch *watch = &controller->watches[watchIdx];
        Store *store = informerStore(watch->informer);
        size_t cursor = 0;
        const StoreEntry *entry;
        Err err;
        while (storeNext(store, &cursor, &entry)) {
            if (!controllerEnqueue(watch, entry->object, &err)) {
                logWarn(managerLog(controller->manager), "resync incomplete",
                        logStr("controller", controller->options.name), logStr("error", err.message));
                break;
            }
            queued++;
        }
    }
    logDebug(managerLog(controller->manager), "resync", logStr("controller", controller->options.name),
             logInt("objects", queued));
    loopTimerStart(controller->resyncTimer, controller->options.resyncPeriodMs);
}

/* ---- the sync gate and leadership ---- */

static bool controllerInformersSynced(const Controller *controller)
{
    for (size_t watchIdx = 0; watchIdx < controller->watchCount; watchIdx++) {
        if (!informerSynced(controller->watches[watchIdx].informer))
            return false;
    }
    return true;
}

static void managerOnStartedLeading(void *arg)
{
    Manager *manager = arg;
    if (manager->state != managerRunning)
        return;
    for (size_t controllerIdx = 0; controllerIdx < manager->controllerCount; controllerIdx++) {
        Controller *controller = manager->controllers[controllerIdx];
        if (controller->synced)
            workQueuePause(controller->queue, false);
    }
}

/* Polls until every controller's informers have synced, letting each controller's queue run (when leading) as soon
 * as its own have. */
static void managerOnSyncTimer(void *arg)
{
    Manager *manager = arg;
    if (manager->state != managerRunning)
        return;
    bool waiting = false;
    for (size_t controllerIdx = 0; controllerIdx < manager->controllerCount; controllerIdx++) {
        Controller *controller = manager->controllers[controllerIdx];
        if (controller->synced)
            continue;
        if (!controllerInformersSynced(controller)) {
            waiting = true;
            continue;
        }
        controller->synced = true;
        logInfo(managerLog(manager), "caches synced", logStr("controller", controller->options.name),
                logInt("watches", controller->watchCount));
        if (managerLeading(manager))
            workQueuePause(controller->queue, false);
    }
    if (waiting)
        loopTimerStart(manager->syncTimer, MANAGER_POLL_MS);
}

static void managerFinish(Manager *manager, int exitStatus)
{
    manager->state = managerFinishedState;
    manager->exitStatus = exitStatus;
    loopTimerStop(manager->shutdownTimer);
    loopTimerStop(manager->syncTimer);
}

/* Pauses every queue, stops the timers that add work, and the informers. */
static void managerStopWork(Manager *manager)
{
    loopTimerStop(manager->syncTimer);
    for (size_t controllerIdx = 0; controllerIdx < manager->controllerCount; controllerIdx++) {
        Controller *controller = manager->controllers[controllerIdx];
        workQueuePause(controller->queue, true);
        loopTimerStop(controller->resyncTimer);
    }
    for (size_t informerIdx = 0; informerIdx < manager->informerCount; informerIdx++)
        informerStop(manager->informers[informerIdx]);
}

static void managerOnStoppedLeading(void *arg)
{
    Manager *manager = arg;
    managerStopWork(manager);
    logError(managerLog(manager), "stopped reconciling: leadership lost",
             logInt("reconcilesInFlight", managerActiveReconciles(manager)));
    managerFinish(manager, 1);
}

static void managerOnReleased(void *arg)
{
    Manager *manager = arg;
    if (manager->state == managerReleasing || manager->state == managerDraining) {
        logInfo(managerLog(manager), "shutdown complete");
        managerFinish(manager, 0);
    }
}

/* ---- shutdown ---- */

static void managerRelease(Manager *manager)
{
    manager->state = managerReleasing;
    if (manager->elector == NULL) {
        logInfo(managerLog(manager), "shutdown complete");
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
        size_t reconciles = managerActiveReconciles(manager);
        size_t events = managerPendingEvents(manager);
        if (reconciles == 0 && events == 0) {
            managerRelease(manager);
            return;
        }
        if (pastDeadline) {
            logWarn(managerLog(manager), "shutdown deadline passed; abandoning work in flight",
                    logInt("reconciles", reconciles), logInt("events", events));
            managerRelease(manager);
            return;
        }
    } else if (manager->state == managerReleasing && pastDeadline) {
        logWarn(managerLog(manager), "lease release did not finish in time");
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
    logInfo(managerLog(manager), "shutting down", logInt("controllers", manager->controllerCount),
            logInt("reconcilesInFlight", managerActiveReconciles(manager)),
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
    for (size_t informerIdx = 0; informerIdx < manager->informerCount; informerIdx++)
        informerStart(manager->informers[informerIdx]);
    if (manager->elector != NULL)
        leaseElectorStart(manager->elector);
    loopTimerStart(manager->syncTimer, 0);
    for (size_t controllerIdx = 0; controllerIdx < manager->controllerCount; controllerIdx++) {
        Controller *controller = manager->controllers[controllerIdx];
        if (controller->options.resyncPeriodMs > 0)
            loopTimerStart(controller->resyncTimer, controller->options.resyncPeriodMs);
    }
}

/* ---- set-up ---- */

static Informer *managerFindInformer(const Manager *manager, const InformerOptions *options)
{
    for (size_t informerIdx = 0; informerIdx < manager->informerCount; informerIdx++) {
        if (informerMatches(manager->informers[informerIdx], options))
            return manager->informers[informerIdx];
    }
    return NULL;
}

bool controllerWatch(Controller *controller, const InformerOptions *options, ManagerMapFn *map, const void *mapArg,
                     ManagerUpdateFilterFn *updateFilter, Informer **out, Err *err)
{
    Manager *manager = controller->manager;
    if (manager->state != managerCreated)
        return errSet(err, errInvalidArgument, "watches must be added before the manager starts");
    if (map == NULL)
        return errSet(err, errInvalidArgument, "a watch needs a map function");
    if (controller->watchCount == MANAGER_MAX_WATCHES)
        return errSet(err, errTooLarge, "a controller has at most %d watches", MANAGER_MAX_WATCHES);
    ControllerWatch *watch = &controller->watches[controller->watchCount];
    *watch = (ControllerWatch){
        .controller = controller,
        .informer = managerFindInformer(manager, options),
        .map = map,
        .mapArg = mapArg,
        .updateMatters = updateFilter,
    };
    bool shared = watch->informer != NULL;
    if (!shared) {
        if (manager->informerCount == MANAGER_MAX_INFORMERS)
            return errSet(err, errTooLarge, "a manager runs at most %d informers", MANAGER_MAX_INFORMERS);
        if (!informerNew(manager->ctx, manager->loop, manager->api, manager->log, manager->metrics, options,
                         &watch->informer, err))
            return false;
    }
    if (!storeAddHandler(informerStore(watch->informer), controllerOnChange, watch, err)) {
        if (!shared)
            informerFree(watch->informer);
        return false;
    }
    if (!shared)
        manager->informers[manager->informerCount++] = watch->informer;
    controller->watchCount++;
    logDebug(managerLog(manager), "watching", logStr("controller", controller->options.name),
             logStr("resource", informerName(watch->informer)),
             logStr("labelSelector", informerLabelSelector(watch->informer)), logBool("shared", shared));
    if (out != NULL)
        *out = watch->informer;
    return true;
}

bool managerDumpCaches(const Manager *manager, StrBuf *out, Err *err)
{
    for (size_t informerIdx = 0; informerIdx < manager->informerCount; informerIdx++) {
        const Informer *informer = manager->informers[informerIdx];
        const char *selector = informerLabelSelector(informer);
        if (!strBufPrintf(out, err, "# %s%s%s\n", informerName(informer), *selector != '\0' ? " " : "", selector) ||
            !storeDump(informerStore(informer), out, err))
            return false;
    }
    return true;
}

static void controllerCleanup(void *arg)
{
    Controller *controller = arg;
    loopTimerFree(controller->resyncTimer);
}

/* The controller's series of the controller_runtime families, so they render (as 0) before its first reconcile. */
static void controllerInitMetrics(const Controller *controller)
{
    const Manager *manager = controller->manager;
    const char *name = controller->options.name;
    metricSet(manager->maxConcurrent, (const char *[]){name}, controller->options.workers);
    metricSet(manager->activeWorkers, (const char *[]){name}, 0);
    metricAdd(manager->reconcileErrors, (const char *[]){name}, 0);
    for (size_t outcomeIdx = 0; outcomeIdx < sizeof(outcomeNames) / sizeof(outcomeNames[0]); outcomeIdx++)
        metricAdd(manager->reconcileTotal, (const char *[]){name, outcomeNames[outcomeIdx]}, 0);
}

static bool managerHasController(const Manager *manager, const char *name)
{
    for (size_t controllerIdx = 0; controllerIdx < manager->controllerCount; controllerIdx++) {
        if (strcmp(manager->controllers[controllerIdx]->options.name, name) == 0)
            return true;
    }
    return false;
}

bool managerAddController(Manager *manager, const ControllerOptions *options, Controller **out, Err *err)
{
    if (manager->state != managerCreated)
        return errSet(err, errInvalidArgument, "controllers must be added before the manager starts");
    if (options->name == NULL || *options->name == '\0' || options->reconcile == NULL)
        return errSet(err, errInvalidArgument, "a controller needs a name and a reconcile function");
    char component[MANAGER_NAME_MAX + sizeof("-controller")];
    if (strlen(options->name) > MANAGER_NAME_MAX)
        return errSet(err, errInvalidArgument, "a controller name has at most %d bytes", MANAGER_NAME_MAX);
    snprintf(component, sizeof(component), "%s-controller", options->name);
    if (managerHasController(manager, options->name))
        return errSet(err, errInvalidArgument, "there is already a controller named \"%s\"", options->name);
    if (manager->controllerCount == MANAGER_MAX_CONTROLLERS)
        return errSet(err, errTooLarge, "a manager hosts at most %d controllers", MANAGER_MAX_CONTROLLERS);
    MemCtx *ctx = memCtxNew(manager->ctx, "controller");
    Controller *controller = ctx != NULL ? memCtxAlloc(ctx, sizeof(*controller)) : NULL;
    if (controller == NULL || !memCtxOnFree(ctx, controllerCleanup, controller)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating controller %s", options->name);
    }
    *controller = (Controller){.ctx = ctx, .manager = manager, .options = *options};
    ControllerOptions *filled = &controller->options;
    if (filled->workers == 0)
        filled->workers = 2;
    if (filled->resyncPeriodMs == 0)
        filled->resyncPeriodMs = 3600 * 1000;
    filled->name = memCtxStrDup(ctx, options->name);
    WorkQueueOptions queueOptions = options->queue;
    queueOptions.name = options->name;
    queueOptions.maxInFlight = filled->workers;
    EventRecorderOptions eventOptions = {.component = component, .instance = manager->options.eventInstance};
    controller->resyncTimer = loopTimerNew(manager->loop, controllerOnResync, controller);
    bool ok = filled->name != NULL && controller->resyncTimer != NULL;
    if (!ok)
        errSet(err, errOutOfMemory, "out of memory creating controller %s", options->name);
    ok = ok &&
         workQueueNew(ctx, manager->loop, manager->metrics, &queueOptions, controllerProcess, controller,
                      &controller->queue, err) &&
         eventRecorderNew(ctx, manager->loop, manager->api, manager->log, manager->metrics, &eventOptions,
                          &controller->events, err);
    if (!ok) {
        memCtxFree(ctx);
        return false;
    }
    workQueuePause(controller->queue, true);
    controllerInitMetrics(controller);
    manager->controllers[manager->controllerCount++] = controller;
    if (out != NULL)
        *out = controller;
    return true;
}

static void managerCleanup(void *arg)
{
    Manager *manager = arg;
    loopTimerFree(manager->shutdownTimer);
    loopTimerFree(manager->syncTimer);
}

/* The controller_runtime families, shared by the controllers (each has its series). */
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
    return metricsRegister(manager->metrics, &total, &manager->reconcileTotal, err) &&
           metricsRegister(manager->metrics, &errors, &manager->reconcileErrors, err) &&
           metricsRegister(manager->metrics, &time, &manager->reconcileTime, err) &&
           metricsRegister(manager->metrics, &active, &manager->activeWorkers, err) &&
           metricsRegister(manager->metrics, &max, &manager->maxConcurrent, err);
}

bool managerNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics, const ManagerOptions *options,
                Manager **out, Err *err)
{
    ManagerOptions given = options != NULL ? *options : (ManagerOptions){0};
    MemCtx *ctx = memCtxNew(parent, "manager");
    Manager *manager = ctx != NULL ? memCtxAlloc(ctx, sizeof(*manager)) : NULL;
    if (manager == NULL || !memCtxOnFree(ctx, managerCleanup, manager)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the manager");
    }
    *manager = (Manager){.ctx = ctx, .loop = loop, .api = api, .log = log, .metrics = metrics, .options = given};
    ManagerOptions *filled = &manager->options;
    if (filled->shutdownTimeoutMs <= 0)
        filled->shutdownTimeoutMs = 20000;
    filled->lease = NULL; /* not kept: the elector copies what it needs */
    filled->eventInstance = given.eventInstance != NULL ? memCtxStrDup(ctx, given.eventInstance) : NULL;
    LeaseCallbacks leaseCallbacks = {
        .startedLeading = managerOnStartedLeading,
        .stoppedLeading = managerOnStoppedLeading,
        .released = managerOnReleased,
        .arg = manager,
    };
    manager->shutdownTimer = loopTimerNew(loop, managerOnShutdownTimer, manager);
    manager->syncTimer = loopTimerNew(loop, managerOnSyncTimer, manager);
    bool ok = (given.eventInstance == NULL || filled->eventInstance != NULL) && manager->shutdownTimer != NULL &&
              manager->syncTimer != NULL;
    if (!ok)
        errSet(err, errOutOfMemory, "out of memory creating the manager");
    ok = ok && managerRegisterMetrics(manager, err) &&
         (given.lease == NULL ||
          leaseElectorNew(ctx, loop, api, log, metrics, given.lease, &leaseCallbacks, &manager->elector, err));
    if (!ok) {
        memCtxFree(ctx);
        return false;
    }
    *out = manager;
    return true;
}
