/* The rate-limited work queue.
 *
 * Every key the queue knows has one WorkItem (in a StrMap by key) whose flags say where it lives:
 *
 *     queued       in the ready FIFO, or to be put there when its processing ends (client-go's "dirty")
 *     processing   handed to process, not yet done
 *     waiting      in the min-heap of delayed keys, by readyAtMs (heapIdx != WORK_NOT_WAITING)
 *     failures     the per-key backoff exponent
 *
 * An item with none of these is freed at once, so the queue holds no more than the keys that need it. The heap
 * array always has room for every item (grown when an item is created), which is why adding an item the queue
 * already has cannot fail: only creating one allocates.
 *
 * Two loop timers drive it: dispatch (zero delay, armed whenever a key may be processed) pops ready keys while fewer
 * than maxInFlight are being processed, and delay (armed for the top of the heap) moves due keys to the FIFO.
 * Dispatching from a timer rather than from workQueueAdd keeps process from running inside an informer's handler. */
#include "controller/workqueue.h"

#include "controller/strmap.h"

#include <string.h>

#define WORK_NOT_WAITING SIZE_MAX

typedef struct WorkItem {
    const char *key; /* stored after the struct */
    bool queued;
    bool inReady;
    bool processing;
    size_t heapIdx;
    int64_t readyAtMs;
    uint32_t failures;
    struct WorkItem *readyNext;
} WorkItem;

struct WorkQueue {
    MemCtx *ctx;
    Loop *loop;
    WorkQueueOptions options;
    SplitMix splitMix;
    WorkQueueProcessFn *process;
    void *arg;
    StrMap items;
    WorkItem *readyHead;
    WorkItem *readyTail;
    size_t readyCount;
    WorkItem **heap;
    size_t heapCount;
    size_t heapCapacity;
    size_t inFlight;
    bool paused;
    double tokens;
    int64_t tokensAtMs;
    LoopTimer *dispatchTimer;
    LoopTimer *delayTimer;
    MetricFamily *depth;
    MetricFamily *adds;
    MetricFamily *retries;
};

static int64_t workNow(const WorkQueue *queue)
{
    return clockMonotonicMs(loopClock(queue->loop));
}

static void workUpdateDepth(WorkQueue *queue)
{
    metricSet(queue->depth, (const char *[]){queue->options.name}, (double)queue->readyCount);
}

/* ---- the delay heap ---- */

static void workHeapSwap(WorkQueue *queue, size_t a, size_t b)
{
    WorkItem *item = queue->heap[a];
    queue->heap[a] = queue->heap[b];
    queue->heap[b] = item;
    queue->heap[a]->heapIdx = a;
    queue->heap[b]->heapIdx = b;
}

static void workHeapUp(WorkQueue *queue, size_t idx)
{
    while (idx > 0) {
        size_t parent = (idx - 1) / 2;
        if (queue->heap[parent]->readyAtMs <= queue->heap[idx]->readyAtMs)
            break;
        workHeapSwap(queue, parent, idx);
        idx = parent;
    }
}

static void workHeapDown(WorkQueue *queue, size_t idx)
{
    for (;;) {
        size_t smallest = idx, left = 2 * idx + 1, right = left + 1;
        if (left < queue->heapCount && queue->heap[left]->readyAtMs < queue->heap[smallest]->readyAtMs)
            smallest = left;
        if (right < queue->heapCount && queue->heap[right]->readyAtMs < queue->heap[smallest]->readyAtMs)
            smallest = right;
        if (smallest == idx)
            return;
        workHeapSwap(queue, idx, smallest);
        idx = smallest;
    }
}

static void workHeapRemove(WorkQueue *queue, WorkItem *item)
{
    size_t idx = item->heapIdx;
    item->heapIdx = WORK_NOT_WAITING;
    queue->heapCount--;
    if (idx == queue->heapCount)
        return;
    queue->heap[idx] = queue->heap[queue->heapCount];
    queue->heap[idx]->heapIdx = idx;
    workHeapDown(queue, idx);
    workHeapUp(queue, idx);
}

/* Places item in the heap at readyAtMs, or moves it earlier if it waits already for a later time. */
static void workHeapSchedule(WorkQueue *queue, WorkItem *item, int64_t readyAtMs)
{
    if (item->heapIdx != WORK_NOT_WAITING) {
        if (readyAtMs >= item->readyAtMs)
            return;
        item->readyAtMs = readyAtMs;
        workHeapUp(queue, item->heapIdx);
    } else {
        item->readyAtMs = readyAtMs;
        item->heapIdx = queue->heapCount;
        queue->heap[queue->heapCount++] = item;
        workHeapUp(queue, item->heapIdx);
    }
}

static void workArmDelayTimer(WorkQueue *queue)
{
    if (queue->heapCount == 0)
        loopTimerStop(queue->delayTimer);
    else
        loopTimerStart(queue->delayTimer, queue->heap[0]->readyAtMs - workNow(queue));
}

/* ---- items ---- */

static void workFreeIfIdle(WorkQueue *queue, WorkItem *item)
{
    if (item->queued || item->processing || item->heapIdx != WORK_NOT_WAITING || item->failures > 0)
        return;
    strMapRemove(&queue->items, item->key);
    memCtxRelease(item);
}

/* The item for key, created when absent (with a heap slot reserved for it). */
static WorkItem *workItem(WorkQueue *queue, const char *key, Err *err)
{
    WorkItem *item = strMapGet(&queue->items, key);
    if (item != NULL)
        return item;
    if (queue->heapCapacity <= strMapCount(&queue->items)) {
        size_t capacity = queue->heapCapacity == 0 ? 16 : queue->heapCapacity * 2;
        WorkItem **heap = memCtxResize(queue->ctx, queue->heap, capacity * sizeof(*heap));
        if (heap == NULL) {
            errSet(err, errOutOfMemory, "out of memory queueing %s", key);
            return NULL;
        }
        queue->heap = heap;
        queue->heapCapacity = capacity;
    }
    size_t keyLen = strlen(key) + 1;
    item = memCtxAlloc(queue->ctx, sizeof(*item) + keyLen);
    if (item == NULL) {
        errSet(err, errOutOfMemory, "out of memory queueing %s", key);
        return NULL;
    }
    *item = (WorkItem){.key = memcpy(item + 1, key, keyLen), .heapIdx = WORK_NOT_WAITING};
    if (!strMapPut(&queue->items, item->key, item, err)) {
        memCtxRelease(item);
        return NULL;
    }
    return item;
}

static void workScheduleDispatch(WorkQueue *queue)
{
    if (!queue->paused && queue->readyCount > 0 && queue->inFlight < queue->options.maxInFlight)
        loopTimerStart(queue->dispatchTimer, 0);
}

static void workPushReady(WorkQueue *queue, WorkItem *item)
{
    item->inReady = true;
    item->readyNext = NULL;
    if (queue->readyTail != NULL)
        queue->readyTail->readyNext = item;
    else
        queue->readyHead = item;
    queue->readyTail = item;
    queue->readyCount++;
    workUpdateDepth(queue);
    workScheduleDispatch(queue);
}

/* Queues an existing item now. */
static void workQueueItem(WorkQueue *queue, WorkItem *item)
{
    metricAdd(queue->adds, (const char *[]){queue->options.name}, 1);
    if (item->queued)
        return;
    item->queued = true;
    if (item->heapIdx != WORK_NOT_WAITING) {
        workHeapRemove(queue, item);
        workArmDelayTimer(queue);
    }
    if (!item->processing)
        workPushReady(queue, item);
}

bool workQueueAdd(WorkQueue *queue, const char *key, Err *err)
{
    WorkItem *item = workItem(queue, key, err);
    if (item == NULL)
        return false;
    workQueueItem(queue, item);
    return true;
}

bool workQueueAddAfter(WorkQueue *queue, const char *key, int64_t delayMs, Err *err)
{
    if (delayMs <= 0)
        return workQueueAdd(queue, key, err);
    WorkItem *item = workItem(queue, key, err);
    if (item == NULL)
        return false;
    if (item->queued)
        return true; /* it will run sooner than asked */
    workHeapSchedule(queue, item, workNow(queue) + delayMs);
    workArmDelayTimer(queue);
    return true;
}

/* The per-key delay for the next retry: capped exponential, equal jitter. Counts the failure. */
static int64_t workItemDelay(WorkQueue *queue, WorkItem *item)
{
    int64_t nominal = queue->options.baseDelayMs;
    for (uint32_t doubling = 0; doubling < item->failures && nominal < queue->options.maxDelayMs; doubling++)
        nominal = nominal > queue->options.maxDelayMs / 2 ? queue->options.maxDelayMs : nominal * 2;
    if (item->failures < UINT32_MAX)
        item->failures++;
    int64_t half = nominal / 2;
    return nominal - half + (int64_t)rngUpTo(queue->options.rng, (uint64_t)half);
}

/* Takes a token from the global bucket; returns how long to wait for it (0 when one was available). */
static int64_t workBucketDelay(WorkQueue *queue)
{
    int64_t now = workNow(queue);
    double refill = (double)(now - queue->tokensAtMs) * queue->options.qps / 1000.0;
    queue->tokensAtMs = now;
    queue->tokens += refill;
    if (queue->tokens > (double)queue->options.burst)
        queue->tokens = (double)queue->options.burst;
    queue->tokens -= 1;
    return queue->tokens >= 0 ? 0 : (int64_t)(-queue->tokens * 1000.0 / queue->options.qps + 0.999);
}

bool workQueueAddRateLimited(WorkQueue *queue, const char *key, Err *err)
{
    WorkItem *item = workItem(queue, key, err);
    if (item == NULL)
        return false;
    int64_t itemDelay = workItemDelay(queue, item);
    int64_t bucketDelay = workBucketDelay(queue);
    metricAdd(queue->retries, (const char *[]){queue->options.name}, 1);
    return workQueueAddAfter(queue, key, itemDelay > bucketDelay ? itemDelay : bucketDelay, err);
}

void workQueueForget(WorkQueue *queue, const char *key)
{
    WorkItem *item = strMapGet(&queue->items, key);
    if (item == NULL)
        return;
    item->failures = 0;
    workFreeIfIdle(queue, item);
}

void workQueueDone(WorkQueue *queue, const char *key)
{
    WorkItem *item = strMapGet(&queue->items, key);
    if (item == NULL || !item->processing)
        return;
    item->processing = false;
    queue->inFlight--;
    if (item->queued)
        workPushReady(queue, item);
    else
        workFreeIfIdle(queue, item);
    workScheduleDispatch(queue);
}

static void workOnDispatch(void *arg)
{
    WorkQueue *queue = arg;
    while (!queue->paused && queue->readyHead != NULL && queue->inFlight < queue->options.maxInFlight) {
        WorkItem *item = queue->readyHead;
        queue->readyHead = item->readyNext;
        if (queue->readyHead == NULL)
            queue->readyTail = NULL;
        queue->readyCount--;
        item->inReady = false;
        item->queued = false;
        item->processing = true;
        queue->inFlight++;
        workUpdateDepth(queue);
        /* May call workQueueDone at once, which may free item. */
        queue->process(queue->arg, item->key);
    }
}

static void workOnDelay(void *arg)
{
    WorkQueue *queue = arg;
    int64_t now = workNow(queue);
    while (queue->heapCount > 0 && queue->heap[0]->readyAtMs <= now) {
        WorkItem *item = queue->heap[0];
        workHeapRemove(queue, item);
        workQueueItem(queue, item);
    }
    workArmDelayTimer(queue);
}

void workQueuePause(WorkQueue *queue, bool paused)
{
    queue->paused = paused;
    workScheduleDispatch(queue);
}

size_t workQueueLen(const WorkQueue *queue)
{
    return queue->readyCount;
}

size_t workQueueInFlight(const WorkQueue *queue)
{
    return queue->inFlight;
}

size_t workQueueWaiting(const WorkQueue *queue)
{
    return queue->heapCount;
}

uint32_t workQueueFailures(const WorkQueue *queue, const char *key)
{
    const WorkItem *item = strMapGet(&queue->items, key);
    return item != NULL ? item->failures : 0;
}

static void workCleanup(void *arg)
{
    WorkQueue *queue = arg;
    loopTimerFree(queue->dispatchTimer);
    loopTimerFree(queue->delayTimer);
}

static WorkQueueOptions workDefaults(const WorkQueueOptions *options)
{
    WorkQueueOptions filled = options != NULL ? *options : (WorkQueueOptions){0};
    if (filled.name == NULL)
        filled.name = "default";
    if (filled.maxInFlight == 0)
        filled.maxInFlight = 1;
    if (filled.baseDelayMs <= 0)
        filled.baseDelayMs = 5;
    if (filled.maxDelayMs < filled.baseDelayMs)
        filled.maxDelayMs = filled.baseDelayMs > 1000000 ? filled.baseDelayMs : 1000000;
    if (!(filled.qps > 0))
        filled.qps = 10;
    if (filled.burst == 0)
        filled.burst = 100;
    return filled;
}

bool workQueueNew(MemCtx *parent, Loop *loop, Metrics *metrics, const WorkQueueOptions *options,
                  WorkQueueProcessFn *process, void *arg, WorkQueue **out, Err *err)
{
    MemCtx *ctx = memCtxNew(parent, "workqueue");
    WorkQueue *queue = ctx != NULL ? memCtxAlloc(ctx, sizeof(*queue)) : NULL;
    if (queue == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating a work queue");
    }
    *queue = (WorkQueue){.ctx = ctx, .loop = loop, .options = workDefaults(options), .process = process, .arg = arg};
    queue->options.name = memCtxStrDup(ctx, queue->options.name);
    queue->tokens = (double)queue->options.burst;
    queue->tokensAtMs = workNow(queue);
    strMapInit(&queue->items, ctx);
    if (queue->options.rng.next == NULL) {
        uint64_t seed;
        if (!rngSystemSeed(&seed, err)) {
            memCtxFree(ctx);
            return false;
        }
        queue->options.rng = rngSplitMix(&queue->splitMix, seed);
    }
    queue->dispatchTimer = loopTimerNew(loop, workOnDispatch, queue);
    queue->delayTimer = loopTimerNew(loop, workOnDelay, queue);
    if (queue->options.name == NULL || queue->dispatchTimer == NULL || queue->delayTimer == NULL ||
        !memCtxOnFree(ctx, workCleanup, queue)) {
        loopTimerFree(queue->dispatchTimer);
        loopTimerFree(queue->delayTimer);
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating a work queue");
    }
    MetricSpec depth = {
        .type = metricGauge, .name = "workqueue_depth", .help = "Current depth of workqueue", .labels = {"name"}};
    MetricSpec adds = {.type = metricCounter,
                       .name = "workqueue_adds_total",
                       .help = "Total number of adds handled by workqueue",
                       .labels = {"name"}};
    MetricSpec retries = {.type = metricCounter,
                          .name = "workqueue_retries_total",
                          .help = "Total number of retries handled by workqueue",
                          .labels = {"name"}};
    if (metrics != NULL &&
        (!metricsRegister(metrics, &depth, &queue->depth, err) || !metricsRegister(metrics, &adds, &queue->adds, err) ||
         !metricsRegister(metrics, &retries, &queue->retries, err))) {
        memCtxFree(ctx);
        return false;
    }
    workUpdateDepth(queue);
    *out = queue;
    return true;
}
