/* Informers.
 *
 * Each namespace has a Reflector, a small state machine that is always in exactly one state:
 *
 *     waiting (timer armed; next: list or watch) --timer--> listing --last page applied--> watching
 *     listing --error--> waiting (backoff, next: list)        410 on a continue token --> listing from scratch
 *     watching --closed--> watching again (at once; after a backoff if the watch ended at once and empty)
 *     watching --error--> waiting (backoff, next: watch)      watching --410 / apply failed--> waiting (next: list)
 *
 * and stopped, from any state. A reflector has at most one request in flight; its request strings, list pages and
 * watch framing live in a scratch context reset before each request. The pages of one list are gathered in a JSON
 * array and applied to the store in one storeReplace once the last page has arrived, so the store never mixes a
 * partial list with its older state (a list is a snapshot at one resourceVersion; pages are not).
 *
 * The watch stream is decoded by kube/watch as it arrives; each event goes to the store at once. The resourceVersion
 * to resume from advances with every event and bookmark, and is only ever taken from the server. */
#include "controller/informer.h"

#include "common/backoff.h"
#include "common/json.h"
#include "kube/watch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define INFORMER_RV_MAX       128
#define INFORMER_QUICK_END_MS 1000

typedef enum ReflectorState {
    reflectorIdle,
    reflectorWaiting,
    reflectorListing,
    reflectorWatching,
    reflectorStopped,
} ReflectorState;

typedef struct Reflector {
    Informer *informer;
    const char *namespace; /* NULL: all namespaces */
    ReflectorState state;
    bool nextIsList; /* what the timer starts */
    MemCtx *scratch;
    ApiCall *call;
    LoopTimer *timer;
    Backoff backoff;
    char resourceVersion[INFORMER_RV_MAX];
    json_t *pages;   /* items gathered from the pages of the current list */
    bool continuing; /* the list in flight asks for a page after the first */
    KubeWatchStream stream;
    bool applyFailed;
    int64_t watchStartedMs;
    uint64_t watchEvents;
    bool synced;
} Reflector;

struct Informer {
    MemCtx *ctx;
    Loop *loop;
    Api *api;
    const Log *log;
    InformerOptions options;
    char name[160];
    SplitMix splitMix;
    Store *store;
    Reflector *reflectors;
    size_t reflectorCount;
    uint64_t listCount;
    size_t countedObjects; /* this informer's share of pgo_informer_objects */
    MetricFamily *restarts;
    MetricFamily *objects;
};

static void reflectorList(Reflector *reflector, const char *continueToken);
static void reflectorWatch(Reflector *reflector);

static const Log *informerLog(const Informer *informer)
{
    static const Log silent = {.fd = -1, .minLevel = logLevelError + 1};
    return informer->log != NULL ? informer->log : &silent;
}

const char *informerName(const Informer *informer)
{
    return informer->name;
}

Store *informerStore(const Informer *informer)
{
    return informer->store;
}

uint64_t informerListCount(const Informer *informer)
{
    return informer->listCount;
}

const char *informerLabelSelector(const Informer *informer)
{
    return informer->options.labelSelector != NULL ? informer->options.labelSelector : "";
}

const char *informerResourceVersion(const Informer *informer, size_t namespaceIdx)
{
    return namespaceIdx < informer->reflectorCount ? informer->reflectors[namespaceIdx].resourceVersion : "";
}

bool informerSynced(const Informer *informer)
{
    for (size_t reflectorIdx = 0; reflectorIdx < informer->reflectorCount; reflectorIdx++) {
        if (!informer->reflectors[reflectorIdx].synced)
            return false;
    }
    return true;
}

/* Moves the gauge by this informer's change, so informers of one resource (with different selectors) add up. */
static void informerCountObjects(Informer *informer)
{
    size_t count = storeCount(informer->store);
    metricAdd(informer->objects, (const char *[]){informer->name}, (double)count - (double)informer->countedObjects);
    informer->countedObjects = count;
}

/* Arms the timer to start a list or a watch after delayMs. */
static void reflectorSchedule(Reflector *reflector, bool list, int64_t delayMs)
{
    reflector->state = reflectorWaiting;
    reflector->nextIsList = list;
    loopTimerStart(reflector->timer, delayMs);
}

/* Schedules the next attempt after a failure, with backoff, and logs why. */
static void reflectorRetry(Reflector *reflector, bool list, const char *what, const Err *err)
{
    int64_t delayMs = backoffNext(&reflector->backoff);
    Informer *informer = reflector->informer;
    logWarn(informerLog(informer), what, logStr("resource", informer->name), logStr("namespace", reflector->namespace),
            logStr("error", err->message), logStr("code", errCodeName(err->code)), logInt("retryInMs", delayMs));
    reflectorSchedule(reflector, list, delayMs);
}

static void reflectorCountRestart(Reflector *reflector, const char *reason)
{
    Informer *informer = reflector->informer;
    metricAdd(informer->restarts, (const char *[]){informer->name, reason}, 1);
}

static bool reflectorSetVersion(Reflector *reflector, const char *rv, Err *err)
{
    size_t len = strlen(rv);
    if (len >= sizeof(reflector->resourceVersion))
        return errSet(err, errWatchFormat, "resourceVersion longer than %d bytes", INFORMER_RV_MAX - 1);
    memcpy(reflector->resourceVersion, rv, len + 1);
    return true;
}

/* Starts a request with a fresh scratch context; the builder fills request from the scratch. */
static void reflectorResetScratch(Reflector *reflector)
{
    kubeWatchStreamFree(&reflector->stream);
    memCtxReset(reflector->scratch);
}

/* The kind of the items of a list: its kind without the "List" suffix. */
static bool informerItemKind(const char *listKind, char *kind, size_t size)
{
    size_t len = strlen(listKind);
    if (len <= 4 || strcmp(listKind + len - 4, "List") != 0 || len - 4 >= size)
        return false;
    memcpy(kind, listKind, len - 4);
    kind[len - 4] = '\0';
    return true;
}

/* Adds the items of one page to the gathered ones, with apiVersion and kind. */
static bool reflectorGatherPage(Reflector *reflector, json_t *page, Err *err)
{
    json_t *items;
    const char *apiVersion, *listKind;
    char kind[128];
    if (!jsonGetArray(page, "items", &items, err) || !jsonFindStr(page, "apiVersion", "", &apiVersion, err) ||
        !jsonFindStr(page, "kind", "", &listKind, err))
        return errPrefix(err, "list response");
    bool typed = *apiVersion != '\0' && informerItemKind(listKind, kind, sizeof(kind));
    size_t itemIdx;
    json_t *item;
    json_array_foreach(items, itemIdx, item)
    {
        if (!json_is_object(item))
            return errSet(err, errJsonType, "list response: item %zu is %s, not an object", itemIdx,
                          jsonTypeName(item));
        if (typed && (json_object_set_new(item, "apiVersion", json_string(apiVersion)) != 0 ||
                      json_object_set_new(item, "kind", json_string(kind)) != 0))
            return errSet(err, errOutOfMemory, "out of memory reading a list response");
        if (json_array_append(reflector->pages, item) != 0)
            return errSet(err, errOutOfMemory, "out of memory reading a list response");
    }
    return true;
}

static void reflectorOnListDone(void *arg, const KubeResponse *response, const Err *callErr)
{
    Reflector *reflector = arg;
    Informer *informer = reflector->informer;
    reflector->call = NULL;
    Err err = *callErr;
    if (err.code == errKubeGone && reflector->continuing) {
        /* The continue token expired between pages: start the list again. */
        logInfo(informerLog(informer), "list continuation expired, listing again", logStr("resource", informer->name),
                logStr("namespace", reflector->namespace));
        json_array_clear(reflector->pages);
        reflectorList(reflector, NULL);
        return;
    }
    if (err.code != errOk) {
        reflectorRetry(reflector, true, "list failed", &err);
        return;
    }

    json_t *page = NULL;
    const char *continueToken = NULL, *rv = NULL;
    bool ok = jsonParse(response->body, response->bodyLen, &page, &err) &&
              jsonFindStr(page, "metadata.continue", "", &continueToken, &err) &&
              jsonFindStr(page, "metadata.resourceVersion", "", &rv, &err) &&
              reflectorGatherPage(reflector, page, &err);
    if (ok && *continueToken != '\0') {
        reflectorList(reflector, continueToken);
        json_decref(page);
        return;
    }
    ok = ok && reflectorSetVersion(reflector, rv, &err) &&
         storeReplace(informer->store, reflector->namespace, reflector->pages, &err);
    json_decref(page);
    size_t count = json_array_size(reflector->pages);
    json_array_clear(reflector->pages);
    informerCountObjects(informer);
    if (!ok) {
        reflector->resourceVersion[0] = '\0';
        reflectorRetry(reflector, true, "list failed", &err);
        return;
    }
    informer->listCount++;
    backoffReset(&reflector->backoff);
    bool first = !reflector->synced;
    reflector->synced = true;
    logEvent(informerLog(informer), first ? logLevelInfo : logLevelDebug, "listed", logStr("resource", informer->name),
             logStr("namespace", reflector->namespace), logInt("objects", count),
             logStr("resourceVersion", reflector->resourceVersion), LOG_END);
    reflectorWatch(reflector);
}

static void reflectorList(Reflector *reflector, const char *continueToken)
{
    Informer *informer = reflector->informer;
    Err err;
    char *token = NULL;
    if (continueToken != NULL) {
        /* The token may live in the scratch context about to be reset. */
        token = memCtxStrDup(informer->ctx, continueToken);
        if (token == NULL) {
            errSet(&err, errOutOfMemory, "out of memory listing");
            reflectorRetry(reflector, true, "list failed", &err);
            return;
        }
    }
    if (continueToken == NULL)
        json_array_clear(reflector->pages);
    reflectorResetScratch(reflector);
    reflector->state = reflectorListing;
    reflector->continuing = continueToken != NULL;
    KubeListOptions options = {
        .labelSelector = informer->options.labelSelector,
        .limit = informer->options.pageSize,
        .continueToken = token,
    };
    KubeRequest request;
    bool ok = kubeRequestList(reflector->scratch, &informer->options.resource, reflector->namespace, &options, &request,
                              &err) &&
              apiSend(informer->api, apiVerbList, &request,
                      &(KubeCallbacks){.done = reflectorOnListDone, .arg = reflector}, &reflector->call, &err);
    memCtxRelease(token);
    if (!ok) {
        json_array_clear(reflector->pages);
        reflectorRetry(reflector, true, "list failed", &err);
    }
}

static bool reflectorOnEvent(void *arg, const KubeWatchEvent *event, Err *err)
{
    Reflector *reflector = arg;
    Informer *informer = reflector->informer;
    if (event->type != kubeWatchBookmark && !storeApplyWatchEvent(informer->store, event, err)) {
        reflector->applyFailed = true;
        return false;
    }
    if (event->resourceVersion != NULL && *event->resourceVersion != '\0' &&
        !reflectorSetVersion(reflector, event->resourceVersion, err)) {
        reflector->applyFailed = true;
        return false;
    }
    reflector->watchEvents++;
    if (event->type != kubeWatchBookmark)
        informerCountObjects(informer);
    return true;
}

static bool reflectorOnStream(void *arg, const char *data, size_t len, Err *err)
{
    Reflector *reflector = arg;
    return kubeWatchStreamFeed(&reflector->stream, data, len, reflectorOnEvent, reflector, err);
}

static void reflectorOnWatchDone(void *arg, const KubeResponse *response, const Err *callErr)
{
    (void)response;
    Reflector *reflector = arg;
    Informer *informer = reflector->informer;
    reflector->call = NULL;
    Err err = *callErr;
    if (err.code == errOk && !reflector->applyFailed && !kubeWatchStreamFinish(&reflector->stream, &err)) {
        /* err now says how the stream ended inside an event. */
    }

    if (reflector->applyFailed) {
        reflectorCountRestart(reflector, "error");
        reflectorRetry(reflector, true, "watch event not applied, listing again", &err);
    } else if (err.code == errKubeGone) {
        reflectorCountRestart(reflector, "gone");
        logInfo(informerLog(informer), "watch expired, listing again", logStr("resource", informer->name),
                logStr("namespace", reflector->namespace), logStr("resourceVersion", reflector->resourceVersion));
        reflectorSchedule(reflector, true, 0);
    } else if (err.code != errOk) {
        reflectorCountRestart(reflector, "error");
        reflectorRetry(reflector, false, "watch failed", &err);
    } else {
        reflectorCountRestart(reflector, "closed");
        int64_t lastedMs = clockMonotonicMs(loopClock(informer->loop)) - reflector->watchStartedMs;
        if (reflector->watchEvents == 0 && lastedMs < INFORMER_QUICK_END_MS) {
            /* A server that ends every watch at once must not be asked again in a tight loop. */
            reflectorSchedule(reflector, false, backoffNext(&reflector->backoff));
        } else {
            logDebug(informerLog(informer), "watch closed, watching again", logStr("resource", informer->name),
                     logStr("namespace", reflector->namespace), logInt("events", reflector->watchEvents));
            reflectorWatch(reflector);
        }
    }
}

static void reflectorWatch(Reflector *reflector)
{
    Informer *informer = reflector->informer;
    Err err;
    if (reflector->resourceVersion[0] == '\0') {
        reflectorSchedule(reflector, true, 0);
        return;
    }
    reflectorResetScratch(reflector);
    kubeWatchStreamInit(&reflector->stream, reflector->scratch, informer->options.maxEventBytes);
    reflector->state = reflectorWatching;
    reflector->applyFailed = false;
    reflector->watchEvents = 0;
    reflector->watchStartedMs = clockMonotonicMs(loopClock(informer->loop));
    int64_t minSeconds = informer->options.watchMinSeconds;
    KubeWatchOptions options = {
        .labelSelector = informer->options.labelSelector,
        .resourceVersion = reflector->resourceVersion,
        .allowWatchBookmarks = true,
        .timeoutSeconds = minSeconds + (int64_t)rngUpTo(informer->options.rng, (uint64_t)minSeconds),
    };
    KubeRequest request;
    bool ok = kubeRequestWatch(reflector->scratch, &informer->options.resource, reflector->namespace, &options,
                               &request, &err) &&
              apiSend(informer->api, apiVerbWatch, &request,
                      &(KubeCallbacks){.done = reflectorOnWatchDone, .stream = reflectorOnStream, .arg = reflector},
                      &reflector->call, &err);
    if (!ok)
        reflectorRetry(reflector, false, "watch failed", &err);
}

static void reflectorOnTimer(void *arg)
{
    Reflector *reflector = arg;
    if (reflector->state != reflectorWaiting)
        return;
    if (reflector->nextIsList)
        reflectorList(reflector, NULL);
    else
        reflectorWatch(reflector);
}

void informerStart(Informer *informer)
{
    for (size_t reflectorIdx = 0; reflectorIdx < informer->reflectorCount; reflectorIdx++) {
        Reflector *reflector = &informer->reflectors[reflectorIdx];
        if (reflector->state == reflectorIdle || reflector->state == reflectorStopped)
            reflectorSchedule(reflector, true, 0);
    }
}

void informerStop(Informer *informer)
{
    for (size_t reflectorIdx = 0; reflectorIdx < informer->reflectorCount; reflectorIdx++) {
        Reflector *reflector = &informer->reflectors[reflectorIdx];
        apiCancel(reflector->call);
        reflector->call = NULL;
        loopTimerStop(reflector->timer);
        json_array_clear(reflector->pages);
        reflector->state = reflectorStopped;
    }
}

static void informerCleanup(void *arg)
{
    Informer *informer = arg;
    for (size_t reflectorIdx = 0; reflectorIdx < informer->reflectorCount; reflectorIdx++) {
        Reflector *reflector = &informer->reflectors[reflectorIdx];
        apiCancel(reflector->call);
        json_decref(reflector->pages);
        loopTimerFree(reflector->timer);
    }
}

void informerFree(Informer *informer)
{
    if (informer != NULL)
        memCtxFree(informer->ctx);
}

static StoreTransformFn *informerTransform(const StoreOptions *options)
{
    return options->transform != NULL ? options->transform : storeTrimDefault;
}

/* Whether namespace is one of the count names. */
static bool informerNamesContain(const char *const *names, size_t count, const char *namespace)
{
    for (size_t nameIdx = 0; nameIdx < count; nameIdx++) {
        if (strcmp(names[nameIdx], namespace) == 0)
            return true;
    }
    return false;
}

/* Whether one of the reflectors watches namespace (which is not NULL). */
static bool informerWatchesNamespace(const Informer *informer, const char *namespace)
{
    for (size_t reflectorIdx = 0; reflectorIdx < informer->reflectorCount; reflectorIdx++) {
        const char *watched = informer->reflectors[reflectorIdx].namespace;
        if (watched != NULL && strcmp(watched, namespace) == 0)
            return true;
    }
    return false;
}

/* Whether own (as copied, group never NULL) and asked name the same resource. */
static bool informerSameResource(const KubeResource *own, const KubeResource *asked)
{
    return asked->version != NULL && asked->plural != NULL &&
           strcmp(own->group, asked->group != NULL ? asked->group : "") == 0 &&
           strcmp(own->version, asked->version) == 0 && strcmp(own->plural, asked->plural) == 0;
}

bool informerMatches(const Informer *informer, const InformerOptions *options)
{
    const char *selector = options->labelSelector != NULL ? options->labelSelector : "";
    if (!informerSameResource(&informer->options.resource, &options->resource) ||
        strcmp(informerLabelSelector(informer), selector) != 0 ||
        informerTransform(&informer->options.store) != informerTransform(&options->store) ||
        informer->options.store.arg != options->store.arg ||
        informer->options.namespaceCount != options->namespaceCount)
        return false;
    /* Both ways, so that repeated names cannot make two different sets look alike. */
    for (size_t nameIdx = 0; nameIdx < options->namespaceCount; nameIdx++) {
        if (!informerWatchesNamespace(informer, options->namespaces[nameIdx]))
            return false;
    }
    for (size_t reflectorIdx = 0; reflectorIdx < informer->reflectorCount; reflectorIdx++) {
        const char *watched = informer->reflectors[reflectorIdx].namespace;
        if (watched != NULL && !informerNamesContain(options->namespaces, options->namespaceCount, watched))
            return false;
    }
    return true;
}

static InformerOptions informerDefaults(const InformerOptions *options)
{
    InformerOptions filled = *options;
    if (filled.pageSize <= 0)
        filled.pageSize = 500;
    if (filled.watchMinSeconds <= 0)
        filled.watchMinSeconds = 300;
    if (filled.backoffBaseMs <= 0)
        filled.backoffBaseMs = 500;
    if (filled.backoffCapMs < filled.backoffBaseMs)
        filled.backoffCapMs = filled.backoffBaseMs > 30000 ? filled.backoffBaseMs : 30000;
    if (filled.maxEventBytes == 0)
        filled.maxEventBytes = KUBE_WATCH_DEFAULT_MAX_LINE;
    return filled;
}

/* Copies the strings options points to into ctx. */
static bool informerCopyOptions(MemCtx *ctx, InformerOptions *options)
{
    KubeResource *resource = &options->resource;
    resource->group = memCtxStrDup(ctx, resource->group != NULL ? resource->group : "");
    resource->version = memCtxStrDup(ctx, resource->version);
    resource->plural = memCtxStrDup(ctx, resource->plural);
    options->namespaces = NULL; /* the reflectors keep copies */
    bool ok = resource->group != NULL && resource->version != NULL && resource->plural != NULL;
    if (ok && options->labelSelector != NULL)
        ok = (options->labelSelector = memCtxStrDup(ctx, options->labelSelector)) != NULL;
    return ok;
}

bool informerNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics, const InformerOptions *options,
                 Informer **out, Err *err)
{
    if (options->resource.version == NULL || options->resource.plural == NULL)
        return errSet(err, errInvalidArgument, "an informer needs a resource version and plural");
    if (options->namespaceCount > INFORMER_MAX_NAMESPACES)
        return errSet(err, errInvalidArgument, "an informer watches at most %d namespaces", INFORMER_MAX_NAMESPACES);
    MemCtx *ctx = memCtxNew(parent, "informer");
    Informer *informer = ctx != NULL ? memCtxAlloc(ctx, sizeof(*informer)) : NULL;
    if (informer == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating an informer");
    }
    *informer = (Informer){.ctx = ctx, .loop = loop, .api = api, .log = log, .options = informerDefaults(options)};
    if (!informerCopyOptions(ctx, &informer->options)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating an informer");
    }
    const KubeResource *resource = &informer->options.resource;
    snprintf(informer->name, sizeof(informer->name), "%s%s%s", resource->plural, *resource->group != '\0' ? "." : "",
             resource->group);
    if (informer->options.rng.next == NULL) {
        uint64_t seed;
        if (!rngSystemSeed(&seed, err)) {
            memCtxFree(ctx);
            return false;
        }
        informer->options.rng = rngSplitMix(&informer->splitMix, seed);
    }

    MetricSpec restarts = {
        .type = metricCounter,
        .name = "pgo_informer_watch_restarts_total",
        .help = "Watches of the informers started again, by resource and reason (closed, error, gone).",
        .labels = {"resource", "reason"},
    };
    MetricSpec objects = {
        .type = metricGauge,
        .name = "pgo_informer_objects",
        .help = "Objects in the informers' caches, by resource.",
        .labels = {"resource"},
    };
    size_t count = options->namespaceCount > 0 ? options->namespaceCount : 1;
    informer->reflectors = memCtxAlloc(ctx, count * sizeof(Reflector));
    bool ok = informer->reflectors != NULL && memCtxOnFree(ctx, informerCleanup, informer);
    if (!ok)
        errSet(err, errOutOfMemory, "out of memory creating an informer");
    ok = ok && (metrics == NULL || (metricsRegister(metrics, &restarts, &informer->restarts, err) &&
                                    metricsRegister(metrics, &objects, &informer->objects, err)));
    ok = ok && storeNew(ctx, &informer->options.store, &informer->store, err);
    for (size_t reflectorIdx = 0; ok && reflectorIdx < count; reflectorIdx++) {
        Reflector *reflector = &informer->reflectors[reflectorIdx];
        *reflector = (Reflector){.informer = informer, .state = reflectorIdle};
        if (options->namespaceCount > 0) {
            reflector->namespace = memCtxStrDup(ctx, options->namespaces[reflectorIdx]);
            ok = reflector->namespace != NULL;
        }
        reflector->scratch = ok ? memCtxNew(ctx, "reflector") : NULL;
        reflector->pages = ok && reflector->scratch != NULL ? json_array() : NULL;
        reflector->timer = reflector->pages != NULL ? loopTimerNew(loop, reflectorOnTimer, reflector) : NULL;
        ok = reflector->timer != NULL;
        if (!ok) {
            json_decref(reflector->pages);
            errSet(err, errOutOfMemory, "out of memory creating an informer");
        }
        informer->reflectorCount = ok ? reflectorIdx + 1 : reflectorIdx;
        backoffInit(&reflector->backoff, informer->options.backoffBaseMs, informer->options.backoffCapMs,
                    informer->options.rng);
    }
    if (!ok) {
        memCtxFree(ctx);
        return false;
    }
    *out = informer;
    return true;
}
