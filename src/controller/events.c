/* Kubernetes Events with de-duplication.
 *
 * Each distinct event has an EventEntry in a StrMap by its identity key and in an LRU list. The entry keeps the
 * Event document as first built (involved object, reason, message, type, source, first timestamp) and a small state
 * machine for its writes:
 *
 *     idle --record--> (slot free) creating|patching --done--> idle       (slot busy) waiting --slot--> ...
 *
 * count is the number of occurrences, sentCount the count of the write in flight or last acknowledged; when a
 * write completes with count > sentCount, repetitions arrived meanwhile and a patch follows. A patch answered 404
 * (the Event expired) turns into a create under a new name. Entries are evicted from the LRU tail, skipping those
 * with a write in flight or waiting (they are freed once idle and evicted later).
 *
 * Event names follow client-go, "<name>.<hex of a nanosecond timestamp>"; the involved name is shortened so the
 * Event name stays within the 253 bytes of a DNS subdomain. */
#include "controller/events.h"

#include "common/json.h"
#include "controller/strmap.h"
#include "kube/request.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define EVENT_NAME_MAX 253

typedef enum EventState {
    eventIdle,
    eventWaiting,
    eventCreating,
    eventPatching,
} EventState;

typedef struct EventEntry {
    EventRecorder *recorder;
    const char *key; /* stored after the struct */
    json_t *event;   /* the Event body, without name, count and lastTimestamp */
    char name[EVENT_NAME_MAX + 1];
    const char *namespace; /* borrowed from event */
    int64_t count;
    int64_t sentCount;
    bool needsCreate;
    EventState state;
    char lastTimestamp[CLOCK_RFC3339_SIZE];
    MemCtx *scratch; /* the request of the write in flight */
    ApiCall *call;   /* the write in flight */
    struct EventEntry *lruPrev;
    struct EventEntry *lruNext;
    struct EventEntry *waitNext;
} EventEntry;

struct EventRecorder {
    MemCtx *ctx;
    Loop *loop;
    Api *api;
    const Log *log;
    EventRecorderOptions options;
    StrMap cache;
    EventEntry *lruHead;
    EventEntry *lruTail;
    EventEntry *waitHead;
    EventEntry *waitTail;
    size_t waiting;
    size_t inFlight;
    uint64_t sequence;
    MetricFamily *recorded;
    MetricFamily *failed;
};

static const KubeResource eventResource = {"", "v1", "events", true};

static void eventSend(EventRecorder *recorder, EventEntry *entry);

static const Log *eventLog(const EventRecorder *recorder)
{
    static const Log silent = {.fd = -1, .minLevel = logLevelError + 1};
    return recorder->log != NULL ? recorder->log : &silent;
}

size_t eventRecorderCached(const EventRecorder *recorder)
{
    return strMapCount(&recorder->cache);
}

size_t eventRecorderInFlight(const EventRecorder *recorder)
{
    return recorder->inFlight;
}

size_t eventRecorderWaiting(const EventRecorder *recorder)
{
    return recorder->waiting;
}

static void eventLruUnlink(EventRecorder *recorder, EventEntry *entry)
{
    if (entry->lruPrev != NULL)
        entry->lruPrev->lruNext = entry->lruNext;
    else
        recorder->lruHead = entry->lruNext;
    if (entry->lruNext != NULL)
        entry->lruNext->lruPrev = entry->lruPrev;
    else
        recorder->lruTail = entry->lruPrev;
    entry->lruPrev = entry->lruNext = NULL;
}

static void eventLruPushFront(EventRecorder *recorder, EventEntry *entry)
{
    entry->lruPrev = NULL;
    entry->lruNext = recorder->lruHead;
    if (recorder->lruHead != NULL)
        recorder->lruHead->lruPrev = entry;
    recorder->lruHead = entry;
    if (recorder->lruTail == NULL)
        recorder->lruTail = entry;
}

static void eventFree(EventRecorder *recorder, EventEntry *entry)
{
    strMapRemove(&recorder->cache, entry->key);
    eventLruUnlink(recorder, entry);
    json_decref(entry->event);
    memCtxFree(entry->scratch);
    memCtxRelease(entry);
}

/* Forgets the least recently seen idle entries beyond the cache size. */
static void eventEvict(EventRecorder *recorder)
{
    EventEntry *entry = recorder->lruTail;
    while (entry != NULL && strMapCount(&recorder->cache) > recorder->options.cacheSize) {
        EventEntry *prev = entry->lruPrev;
        if (entry->state == eventIdle)
            eventFree(recorder, entry);
        entry = prev;
    }
}

/* Starts the waiting writes that now have a slot. */
static void eventDrain(EventRecorder *recorder)
{
    while (recorder->waitHead != NULL && recorder->inFlight < recorder->options.maxInFlight) {
        EventEntry *entry = recorder->waitHead;
        recorder->waitHead = entry->waitNext;
        if (recorder->waitHead == NULL)
            recorder->waitTail = NULL;
        recorder->waiting--;
        entry->waitNext = NULL;
        entry->state = eventIdle;
        eventSend(recorder, entry);
    }
    eventEvict(recorder);
}

/* Gives entry a write: now if a slot is free, else in turn. Entries already writing or waiting fold in. */
static void eventSchedule(EventRecorder *recorder, EventEntry *entry)
{
    if (entry->state != eventIdle)
        return;
    if (recorder->inFlight < recorder->options.maxInFlight) {
        eventSend(recorder, entry);
        return;
    }
    entry->state = eventWaiting;
    if (recorder->waitTail != NULL)
        recorder->waitTail->waitNext = entry;
    else
        recorder->waitHead = entry;
    recorder->waitTail = entry;
    recorder->waiting++;
}

static void eventNewName(EventRecorder *recorder, EventEntry *entry)
{
    const char *involved = json_string_value(json_object_get(json_object_get(entry->event, "involvedObject"), "name"));
    uint64_t unique = (uint64_t)clockWallMs(recorder->options.clock) * 1000000u + recorder->sequence++ % 1000000u;
    char suffix[24];
    snprintf(suffix, sizeof(suffix), ".%" PRIx64, unique);
    int room = EVENT_NAME_MAX - (int)strlen(suffix);
    snprintf(entry->name, sizeof(entry->name), "%.*s%s", room, involved != NULL ? involved : "object", suffix);
}

static void eventCountFailure(EventRecorder *recorder, const char *verb)
{
    metricAdd(recorder->failed, (const char *[]){verb}, 1);
}

static void eventOnDone(void *arg, const KubeResponse *response, const Err *err)
{
    (void)response;
    EventEntry *entry = arg;
    EventRecorder *recorder = entry->recorder;
    bool created = entry->state == eventCreating;
    entry->call = NULL;
    recorder->inFlight--;
    entry->state = eventIdle;
    memCtxReset(entry->scratch);
    if (err->code == errOk) {
        entry->needsCreate = false;
        if (entry->count > entry->sentCount)
            eventSchedule(recorder, entry);
    } else if (!created && err->code == errKubeNotFound) {
        /* The Event expired on the server: create a new one that carries the count. */
        entry->needsCreate = true;
        eventNewName(recorder, entry);
        eventSchedule(recorder, entry);
    } else {
        eventCountFailure(recorder, created ? "create" : "patch");
        logWarn(eventLog(recorder), "cannot record event", logStr("namespace", entry->namespace),
                logStr("event", entry->name), logStr("error", err->message), logStr("code", errCodeName(err->code)));
        eventFree(recorder, entry);
    }
    eventDrain(recorder);
}

/* The body of the next write: the whole Event for a create, the changing fields for a patch. */
static json_t *eventBody(const EventEntry *entry)
{
    json_t *body = entry->needsCreate ? json_deep_copy(entry->event) : json_object();
    if (body == NULL)
        return NULL;
    bool ok = json_object_set_new(body, "count", json_integer((json_int_t)entry->count)) == 0 &&
              json_object_set_new(body, "lastTimestamp", json_string(entry->lastTimestamp)) == 0;
    if (ok && entry->needsCreate)
        ok = json_object_set_new(json_object_get(body, "metadata"), "name", json_string(entry->name)) == 0;
    if (!ok) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static void eventSend(EventRecorder *recorder, EventEntry *entry)
{
    Err err;
    KubeRequest request;
    memCtxReset(entry->scratch);
    json_t *body = eventBody(entry);
    bool ok = body != NULL;
    if (!ok)
        errSet(&err, errOutOfMemory, "out of memory building an event");
    else if (entry->needsCreate)
        ok = kubeRequestCreate(entry->scratch, &eventResource, entry->namespace, body, &request, &err);
    else
        ok = kubeRequestMergePatch(entry->scratch, &eventResource, entry->namespace, entry->name, kubeSubresourceNone,
                                   NULL, body, &request, &err);
    json_decref(body);
    ok = ok && apiSend(recorder->api, entry->needsCreate ? apiVerbCreate : apiVerbPatch, &request,
                       &(KubeCallbacks){.done = eventOnDone, .arg = entry}, &entry->call, &err);
    if (!ok) {
        eventCountFailure(recorder, entry->needsCreate ? "create" : "patch");
        logWarn(eventLog(recorder), "cannot record event", logStr("namespace", entry->namespace),
                logStr("event", entry->name), logStr("error", err.message), logStr("code", errCodeName(err.code)));
        eventFree(recorder, entry);
        return;
    }
    entry->state = entry->needsCreate ? eventCreating : eventPatching;
    entry->sentCount = entry->count;
    recorder->inFlight++;
}

static const char *const eventTypeNames[] = {"Normal", "Warning"};

/* The identity of an event, as client-go's aggregation key (without the host, which is ours for all). */
static char *eventKey(EventRecorder *recorder, const json_t *reference, EventType type, const char *reason,
                      const char *message)
{
    const char *fields[] = {"kind", "namespace", "name", "uid", "apiVersion"};
    const char *values[5];
    for (size_t fieldIdx = 0; fieldIdx < 5; fieldIdx++) {
        values[fieldIdx] = json_string_value(json_object_get(reference, fields[fieldIdx]));
        values[fieldIdx] = values[fieldIdx] != NULL ? values[fieldIdx] : "";
    }
    return memCtxPrintf(recorder->ctx, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%.*s", recorder->options.component, values[0],
                        values[1], values[2], values[3], values[4], eventTypeNames[type], reason, EVENT_MESSAGE_MAX,
                        message);
}

/* The involvedObject of an event about object. */
static json_t *eventReference(const json_t *object)
{
    json_t *metadata = json_object_get(object, "metadata");
    json_t *reference = json_object();
    const char *const fields[][2] = {
        {"apiVersion", NULL},       {"kind", NULL}, {"name", "name"},
        {"namespace", "namespace"}, {"uid", "uid"}, {"resourceVersion", "resourceVersion"},
    };
    for (size_t fieldIdx = 0; reference != NULL && fieldIdx < sizeof(fields) / sizeof(fields[0]); fieldIdx++) {
        const char *name = fields[fieldIdx][0];
        const json_t *from = fields[fieldIdx][1] != NULL ? metadata : object;
        const char *value = json_string_value(json_object_get(from, name));
        if (value != NULL && json_object_set_new(reference, name, json_string(value)) != 0) {
            json_decref(reference);
            reference = NULL;
        }
    }
    return reference;
}

static EventEntry *eventNewEntry(EventRecorder *recorder, const char *key, json_t *reference, EventType type,
                                 const char *reason, const char *message, Err *err)
{
    size_t keyLen = strlen(key) + 1;
    EventEntry *entry = memCtxAlloc(recorder->ctx, sizeof(*entry) + keyLen);
    MemCtx *scratch = entry != NULL ? memCtxNew(recorder->ctx, "event-request") : NULL;
    const char *namespace = json_string_value(json_object_get(reference, "namespace"));
    char now[CLOCK_RFC3339_SIZE];
    clockFormatRfc3339(clockWallMs(recorder->options.clock), now);
    json_t *event = scratch != NULL ? json_pack("{s:s, s:s, s:{s:s}, s:O, s:s, s:s%, s:s, s:{s:s}, s:s, s:s}",
                                                "apiVersion", "v1", "kind", "Event", "metadata", "namespace",
                                                namespace != NULL && *namespace != '\0' ? namespace : "default",
                                                "involvedObject", reference, "reason", reason, "message", message,
                                                strnlen(message, EVENT_MESSAGE_MAX), "type", eventTypeNames[type],
                                                "source", "component", recorder->options.component, "firstTimestamp",
                                                now, "reportingComponent", recorder->options.component)
                                    : NULL;
    /* Not with json_pack's "s*": jansson 2.14 omits such a key silently when copying its value runs out of memory. */
    if (event != NULL && recorder->options.instance != NULL &&
        json_object_set_new(event, "reportingInstance", json_string(recorder->options.instance)) != 0) {
        json_decref(event);
        event = NULL;
    }
    if (event == NULL || !strMapReserve(&recorder->cache, 1, err)) {
        json_decref(event);
        memCtxFree(scratch);
        memCtxRelease(entry);
        if (event == NULL)
            errSet(err, errOutOfMemory, "out of memory recording an event");
        return NULL;
    }
    *entry = (EventEntry){
        .recorder = recorder,
        .key = memcpy(entry + 1, key, keyLen),
        .event = event,
        .namespace = json_string_value(json_object_get(json_object_get(event, "metadata"), "namespace")),
        .needsCreate = true,
        .scratch = scratch,
    };
    eventNewName(recorder, entry);
    strMapPutReserved(&recorder->cache, entry->key, entry);
    eventLruPushFront(recorder, entry);
    return entry;
}

bool eventRecord(EventRecorder *recorder, const json_t *involved, EventType type, const char *reason,
                 const char *message, Err *err)
{
    json_t *reference = eventReference(involved);
    char *key = reference != NULL ? eventKey(recorder, reference, type, reason, message) : NULL;
    if (key == NULL) {
        json_decref(reference);
        return errSet(err, errOutOfMemory, "out of memory recording an event");
    }
    EventEntry *entry = strMapGet(&recorder->cache, key);
    if (entry == NULL) {
        entry = eventNewEntry(recorder, key, reference, type, reason, message, err);
    } else {
        eventLruUnlink(recorder, entry);
        eventLruPushFront(recorder, entry);
    }
    memCtxRelease(key);
    json_decref(reference);
    if (entry == NULL)
        return false;
    entry->count++;
    clockFormatRfc3339(clockWallMs(recorder->options.clock), entry->lastTimestamp);
    metricAdd(recorder->recorded, (const char *[]){eventTypeNames[type]}, 1);
    eventSchedule(recorder, entry);
    eventEvict(recorder);
    return true;
}

static void eventCleanup(void *arg)
{
    EventRecorder *recorder = arg;
    for (EventEntry *entry = recorder->lruHead; entry != NULL; entry = entry->lruNext) {
        apiCancel(entry->call);
        json_decref(entry->event);
    }
}

bool eventRecorderNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics,
                      const EventRecorderOptions *options, EventRecorder **out, Err *err)
{
    if (options == NULL || options->component == NULL || *options->component == '\0')
        return errSet(err, errInvalidArgument, "an event recorder needs a component name");
    MemCtx *ctx = memCtxNew(parent, "events");
    EventRecorder *recorder = ctx != NULL ? memCtxAlloc(ctx, sizeof(*recorder)) : NULL;
    if (recorder == NULL || !memCtxOnFree(ctx, eventCleanup, recorder)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the event recorder");
    }
    *recorder = (EventRecorder){.ctx = ctx, .loop = loop, .api = api, .log = log, .options = *options};
    EventRecorderOptions *filled = &recorder->options;
    if (filled->cacheSize == 0)
        filled->cacheSize = 4096;
    if (filled->maxInFlight == 0)
        filled->maxInFlight = 16;
    if (filled->clock.readMs == NULL)
        filled->clock = loopClock(loop);
    filled->component = memCtxStrDup(ctx, options->component);
    filled->instance = options->instance != NULL ? memCtxStrDup(ctx, options->instance) : NULL;
    strMapInit(&recorder->cache, ctx);
    if (filled->component == NULL || (options->instance != NULL && filled->instance == NULL)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the event recorder");
    }
    MetricSpec recorded = {
        .type = metricCounter,
        .name = "pgo_events_recorded_total",
        .help = "Events recorded (occurrences, including repetitions folded into one Event), by type.",
        .labels = {"type"},
    };
    MetricSpec failed = {
        .type = metricCounter,
        .name = "pgo_event_write_failures_total",
        .help = "Event writes that failed and were dropped, by verb.",
        .labels = {"verb"},
    };
    if (metrics != NULL && (!metricsRegister(metrics, &recorded, &recorder->recorded, err) ||
                            !metricsRegister(metrics, &failed, &recorder->failed, err))) {
        memCtxFree(ctx);
        return false;
    }
    *out = recorder;
    return true;
}
