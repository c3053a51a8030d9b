/* Kubernetes Events (core/v1), recorded the way client-go's recorder does, with its de-duplication.
 *
 * An event is identified by its source component, the involved object (kind, namespace, name, uid, apiVersion),
 * type, reason and message. The first occurrence creates an Event object named "<object name>.<unique hex>" with
 * count 1; each repetition patches that object (count + 1, lastTimestamp) instead of creating another, so a
 * reconcile that warns about the same problem every few seconds leaves one Event with a growing count. The recorder
 * remembers the last cacheSize distinct events (least recently seen forgotten first). When an Event has expired on
 * the server (the API server deletes them after an hour), the next repetition creates a new one carrying the count.
 *
 * Recording never blocks and never fails because of the API server: writes go out in the background, at most
 * maxInFlight at a time (the rest wait their turn; repetitions of an event whose write is in flight are folded into
 * the next write), and a write that fails is logged and forgotten. Only running out of memory fails eventRecord. */
#ifndef CONTROLLER_EVENTS_H
#define CONTROLLER_EVENTS_H

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "controller/api.h"
#include "controller/metrics.h"

#include <jansson.h>

#define EVENT_MESSAGE_MAX 1024 /* longer messages are cut */

typedef struct EventRecorder EventRecorder;

typedef enum EventType {
    eventNormal,
    eventWarning,
} EventType;

typedef struct EventRecorderOptions {
    const char *component; /* source.component and reportingComponent, e.g. "postgrescluster-controller" */
    const char *instance;  /* reportingInstance, e.g. the leader election identity; may be NULL */
    size_t cacheSize;      /* default 4096 */
    size_t maxInFlight;    /* default 16 */
    Clock clock;           /* wall time for the timestamps; default: the loop's */
} EventRecorderOptions;

bool eventRecorderNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics,
                      const EventRecorderOptions *options, EventRecorder **out, Err *err) MUST_CHECK;

/* Records an event about involved, an object with apiVersion, kind and metadata (name, namespace, uid). reason is a
 * CamelCase word; message a sentence for the user (cut to EVENT_MESSAGE_MAX bytes). */
bool eventRecord(EventRecorder *recorder, const json_t *involved, EventType type, const char *reason,
                 const char *message, Err *err) MUST_CHECK;

/* Distinct events remembered; writes in flight; writes waiting for a slot. */
size_t eventRecorderCached(const EventRecorder *recorder);
size_t eventRecorderInFlight(const EventRecorder *recorder);
size_t eventRecorderWaiting(const EventRecorder *recorder);

#endif
