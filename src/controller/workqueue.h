/* The rate-limited work queue of a controller, with the semantics of client-go's workqueue.
 *
 * Keys (the "namespace/name" of a cluster) are queued for processing:
 * - de-duplication: a key added while it is already queued is queued once;
 * - never two at once: a key added while it is being processed is queued again only when that processing ends
 *   (workQueueDone), so one key is never processed twice concurrently;
 * - at most maxInFlight keys are processed at the same time (PGO_WORKERS);
 * - delays: workQueueAddAfter queues a key later (the earliest of several requested times wins);
 *   workQueueAddRateLimited delays by the larger of a per-key capped exponential backoff with jitter (its failure
 *   count grows with each call until workQueueForget) and the wait of a global token bucket (qps, burst), which
 *   bounds the rate of retries whatever the number of failing keys.
 *
 * Processing is push-style: the queue calls process(arg, key) from the loop (never from inside an add), and the
 * processor calls workQueueDone(queue, key) when it has finished, possibly from within process or much later. The
 * key string is valid until then. A paused queue processes nothing, but still accepts keys.
 *
 * Adding a key the queue already tracks (queued, waiting, being processed, or with failures) cannot fail; adding a
 * new key allocates and can fail with errOutOfMemory. Time comes from the loop's clock. */
#ifndef CONTROLLER_WORKQUEUE_H
#define CONTROLLER_WORKQUEUE_H

#include "common/error.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "common/rng.h"
#include "controller/metrics.h"

#include <stddef.h>
#include <stdint.h>

typedef struct WorkQueue WorkQueue;

typedef void WorkQueueProcessFn(void *arg, const char *key);

typedef struct WorkQueueOptions {
    const char *name;     /* the metrics label; default "default" */
    unsigned maxInFlight; /* default 1 */
    int64_t baseDelayMs;  /* per-key backoff: first delay; default 5 ms */
    int64_t maxDelayMs;   /* per-key backoff: cap; default 1000 s (controller-runtime's) */
    double qps;           /* token bucket rate; default 10 */
    unsigned burst;       /* token bucket size; default 100 */
    Rng rng;              /* jitter; default: seeded from the kernel */
} WorkQueueOptions;

bool workQueueNew(MemCtx *parent, Loop *loop, Metrics *metrics, const WorkQueueOptions *options,
                  WorkQueueProcessFn *process, void *arg, WorkQueue **out, Err *err) MUST_CHECK;

bool workQueueAdd(WorkQueue *queue, const char *key, Err *err) MUST_CHECK;
bool workQueueAddAfter(WorkQueue *queue, const char *key, int64_t delayMs, Err *err) MUST_CHECK;
bool workQueueAddRateLimited(WorkQueue *queue, const char *key, Err *err) MUST_CHECK;

/* Resets the key's failure count (after a success). */
void workQueueForget(WorkQueue *queue, const char *key);

/* Ends the processing of key (which process was called for). */
void workQueueDone(WorkQueue *queue, const char *key);

void workQueuePause(WorkQueue *queue, bool paused);

/* Keys ready to be processed; keys being processed; keys waiting for their time. */
size_t workQueueLen(const WorkQueue *queue);
size_t workQueueInFlight(const WorkQueue *queue);
size_t workQueueWaiting(const WorkQueue *queue);

/* The failure count of key (workQueueAddRateLimited calls since the last forget). */
uint32_t workQueueFailures(const WorkQueue *queue, const char *key);

#endif
