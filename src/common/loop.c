/* The event loop.
 *
 * Watches live in a table indexed by fd. Each registration gets a generation number, stored with the fd in the
 * epoll event's 64-bit data, so a readiness report that arrives for an fd whose watch was removed (or removed and
 * re-added for a new socket with the same number) by an earlier handler of the same batch is recognised as stale and
 * dropped instead of being delivered to the wrong owner.
 *
 * Timers record the iteration in which they were armed; an iteration only fires timers armed before it began, so a
 * handler that re-arms itself with a zero delay cannot keep loopRunOnce from returning. */
#include "common/loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 64

typedef struct LoopWatch {
    LoopFdHandler *handler;
    void *arg;
    unsigned events;
    uint32_t generation; /* 0: not watched */
} LoopWatch;

struct LoopTimer {
    Loop *loop;
    LoopTimerHandler *handler;
    void *arg;
    int64_t dueMs;
    uint64_t armedIteration;
    bool armed;
    LoopTimer *prev;
    LoopTimer *next;
};

struct Loop {
    MemCtx *ctx;
    Clock clock;
    int epollFd;
    LoopWatch *watches;
    size_t watchCount; /* entries in watches, indexed by fd */
    uint32_t nextGeneration;
    LoopTimer *timers;
    uint64_t iteration;
};

static void loopClose(void *arg)
{
    Loop *loop = arg;
    close(loop->epollFd);
}

bool loopNew(MemCtx *parent, Clock clock, Loop **out, Err *err)
{
    MemCtx *ctx = memCtxNew(parent, "loop");
    Loop *loop = ctx != NULL ? memCtxAlloc(ctx, sizeof(*loop)) : NULL;
    if (loop == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the event loop");
    }
    *loop = (Loop){.ctx = ctx, .clock = clock, .epollFd = epoll_create1(EPOLL_CLOEXEC), .nextGeneration = 1};
    if (loop->epollFd < 0) {
        errSetSys(err, errSystem, "cannot create epoll instance");
        memCtxFree(ctx);
        return false;
    }
    if (!memCtxOnFree(ctx, loopClose, loop)) {
        close(loop->epollFd);
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the event loop");
    }
    *out = loop;
    return true;
}

Clock loopClock(const Loop *loop)
{
    return loop->clock;
}

static uint32_t loopEpollEvents(unsigned events)
{
    return (events & LOOP_READABLE ? (uint32_t)EPOLLIN : 0) | (events & LOOP_WRITABLE ? (uint32_t)EPOLLOUT : 0);
}

bool loopWatch(Loop *loop, int fd, unsigned events, LoopFdHandler *handler, void *arg, Err *err)
{
    if (fd < 0)
        return errSet(err, errInvalidArgument, "cannot watch fd %d", fd);
    size_t index = (size_t)fd;
    if (index >= loop->watchCount) {
        size_t count = loop->watchCount == 0 ? 64 : loop->watchCount;
        while (count <= index)
            count *= 2;
        LoopWatch *watches = memCtxResize(loop->ctx, loop->watches, count * sizeof(*watches));
        if (watches == NULL)
            return errSet(err, errOutOfMemory, "out of memory watching fd %d", fd);
        memset(watches + loop->watchCount, 0, (count - loop->watchCount) * sizeof(*watches));
        loop->watches = watches;
        loop->watchCount = count;
    }

    LoopWatch *watch = &loop->watches[index];
    bool known = watch->generation != 0;
    uint32_t generation = known ? watch->generation : loop->nextGeneration++;
    if (loop->nextGeneration == 0)
        loop->nextGeneration = 1;
    struct epoll_event event = {.events = loopEpollEvents(events),
                                .data.u64 = (uint64_t)generation << 32 | (uint32_t)fd};
    int result = epoll_ctl(loop->epollFd, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
    /* A known fd closed without loopUnwatch left the epoll set with its close: add the new one. */
    if (result != 0 && known && errno == ENOENT)
        result = epoll_ctl(loop->epollFd, EPOLL_CTL_ADD, fd, &event);
    if (result != 0)
        return errSetSys(err, errSystem, "cannot watch fd %d", fd);
    *watch = (LoopWatch){.handler = handler, .arg = arg, .events = events, .generation = generation};
    return true;
}

void loopUnwatch(Loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->watchCount || loop->watches[fd].generation == 0)
        return;
    /* Fails only if fd was already closed, which removed it from the epoll set anyway. */
    epoll_ctl(loop->epollFd, EPOLL_CTL_DEL, fd, NULL);
    loop->watches[fd] = (LoopWatch){0};
}

LoopTimer *loopTimerNew(Loop *loop, LoopTimerHandler *handler, void *arg)
{
    LoopTimer *timer = memCtxAlloc(loop->ctx, sizeof(*timer));
    if (timer == NULL)
        return NULL;
    *timer = (LoopTimer){.loop = loop, .handler = handler, .arg = arg, .next = loop->timers};
    if (loop->timers != NULL)
        loop->timers->prev = timer;
    loop->timers = timer;
    return timer;
}

void loopTimerStart(LoopTimer *timer, int64_t delayMs)
{
    timer->dueMs = clockMonotonicMs(timer->loop->clock) + (delayMs > 0 ? delayMs : 0);
    timer->armedIteration = timer->loop->iteration;
    timer->armed = true;
}

void loopTimerStop(LoopTimer *timer)
{
    timer->armed = false;
}

bool loopTimerArmed(const LoopTimer *timer)
{
    return timer->armed;
}

void loopTimerFree(LoopTimer *timer)
{
    if (timer == NULL)
        return;
    Loop *loop = timer->loop;
    if (timer->prev != NULL)
        timer->prev->next = timer->next;
    else
        loop->timers = timer->next;
    if (timer->next != NULL)
        timer->next->prev = timer->prev;
    memCtxRelease(timer);
}

/* Milliseconds until the earliest armed timer, or -1 when none is armed. */
static int64_t loopNextTimerDelay(const Loop *loop, int64_t nowMs)
{
    int64_t delay = -1;
    for (const LoopTimer *timer = loop->timers; timer != NULL; timer = timer->next) {
        if (!timer->armed)
            continue;
        int64_t until = timer->dueMs > nowMs ? timer->dueMs - nowMs : 0;
        if (delay < 0 || until < delay)
            delay = until;
    }
    return delay;
}

/* Fires, one at a time, the timers due now that were armed before this iteration. Restarts the scan after each
 * handler because a handler may free any timer. */
static void loopRunTimers(Loop *loop, uint64_t iteration)
{
    for (;;) {
        int64_t nowMs = clockMonotonicMs(loop->clock);
        LoopTimer *due = NULL;
        for (LoopTimer *timer = loop->timers; timer != NULL; timer = timer->next) {
            if (timer->armed && timer->armedIteration < iteration && timer->dueMs <= nowMs) {
                due = timer;
                break;
            }
        }
        if (due == NULL)
            return;
        due->armed = false;
        due->handler(due->arg);
    }
}

bool loopRunOnce(Loop *loop, int64_t maxWaitMs, Err *err)
{
    uint64_t iteration = ++loop->iteration;
    int64_t waitMs = loopNextTimerDelay(loop, clockMonotonicMs(loop->clock));
    if (maxWaitMs >= 0 && (waitMs < 0 || maxWaitMs < waitMs))
        waitMs = maxWaitMs;
    if (waitMs > INT32_MAX)
        waitMs = INT32_MAX;

    struct epoll_event events[LOOP_MAX_EVENTS];
    int ready = epoll_wait(loop->epollFd, events, LOOP_MAX_EVENTS, (int)waitMs);
    if (ready < 0 && errno != EINTR)
        return errSetSys(err, errSystem, "epoll_wait failed");

    for (int eventIdx = 0; eventIdx < ready; eventIdx++) {
        int fd = (int)(uint32_t)events[eventIdx].data.u64;
        uint32_t generation = (uint32_t)(events[eventIdx].data.u64 >> 32);
        LoopWatch *watch = &loop->watches[fd];
        if (watch->generation != generation)
            continue;
        uint32_t got = events[eventIdx].events;
        unsigned readiness = (got & EPOLLIN ? LOOP_READABLE : 0u) | (got & EPOLLOUT ? LOOP_WRITABLE : 0u) |
                             (got & (EPOLLERR | EPOLLHUP) ? LOOP_ERROR : 0u);
        watch->handler(watch->arg, fd, readiness);
    }
    loopRunTimers(loop, iteration);
    return true;
}
