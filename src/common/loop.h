/* The event loop: file descriptor readiness (epoll) and timers, on one thread.
 *
 * Handlers run from loopRunOnce, never from signal context, so they may do real work; they may add, change or remove
 * watches and timers (their own included) while running. Time comes from the Loop's Clock: tests with a FakeClock
 * advance it and call loopRunOnce(loop, 0). Timers are kept in a plain list and scanned on each iteration, which
 * suits the handful the operator has; a component with many deadlines (a rate-limited work queue) keeps its own heap
 * and arms one loop timer for the earliest. */
#ifndef COMMON_LOOP_H
#define COMMON_LOOP_H

#include "common/clock.h"
#include "common/error.h"
#include "common/memctx.h"

#include <stdint.h>

#define LOOP_READABLE 1u
#define LOOP_WRITABLE 2u
#define LOOP_ERROR    4u /* reported, never requested: error or hang-up on the descriptor */

typedef struct Loop Loop;
typedef struct LoopTimer LoopTimer;

typedef void LoopFdHandler(void *arg, int fd, unsigned events);
typedef void LoopTimerHandler(void *arg);

/* A loop in a new child context of parent; freeing that context (or the parent) closes it. */
bool loopNew(MemCtx *parent, Clock clock, Loop **out, Err *err) MUST_CHECK;

Clock loopClock(const Loop *loop);

/* Calls handler(arg, fd, events) when fd becomes ready for any of events (LOOP_READABLE | LOOP_WRITABLE). Watching
 * an fd again replaces its handler and events. */
bool loopWatch(Loop *loop, int fd, unsigned events, LoopFdHandler *handler, void *arg, Err *err) MUST_CHECK;

/* Stops watching fd (call before closing it). Unknown fds are ignored. */
void loopUnwatch(Loop *loop, int fd);

/* A stopped timer that will call handler(arg) once per start. Freed with the loop, or by loopTimerFree. */
LoopTimer *loopTimerNew(Loop *loop, LoopTimerHandler *handler, void *arg) MUST_CHECK;

/* (Re)arms the timer to fire delayMs from now (0: on the next iteration). */
void loopTimerStart(LoopTimer *timer, int64_t delayMs);
void loopTimerStop(LoopTimer *timer);
bool loopTimerArmed(const LoopTimer *timer);
void loopTimerFree(LoopTimer *timer);

/* Waits until an fd is ready, a timer is due or maxWaitMs passes (-1: no limit besides timers), then runs the ready
 * handlers and the due timers once each. Timers started while this runs fire on the next call at the earliest. */
bool loopRunOnce(Loop *loop, int64_t maxWaitMs, Err *err) MUST_CHECK;

#endif
