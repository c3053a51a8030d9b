/* Unit tests: common/loop. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/loop.h"

#include <fcntl.h>
#include <unistd.h>

typedef struct FdProbe {
    Loop *loop;
    int calls;
    unsigned lastEvents;
    int unwatchFd; /* if >= 0, unwatched by the handler */
} FdProbe;

static void onFd(void *arg, int fd, unsigned events)
{
    FdProbe *probe = arg;
    probe->calls++;
    probe->lastEvents = events;
    char drain[64];
    if (events & LOOP_READABLE)
        (void)!read(fd, drain, sizeof(drain));
    if (probe->unwatchFd >= 0)
        loopUnwatch(probe->loop, probe->unwatchFd);
}

typedef struct TimerProbe {
    LoopTimer *timer;
    int calls;
    int64_t restartMs; /* >= 0: restart with this delay when fired */
    LoopTimer *freeOther;
} TimerProbe;

static void onTimer(void *arg)
{
    TimerProbe *probe = arg;
    probe->calls++;
    if (probe->restartMs >= 0)
        loopTimerStart(probe->timer, probe->restartMs);
    if (probe->freeOther != NULL) {
        loopTimerFree(probe->freeOther);
        probe->freeOther = NULL;
    }
}

static void testFdReadiness(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Loop *loop;
    Err err;
    assert_true(loopNew(ctx, clockSystem(), &loop, &err));
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    FdProbe probe = {.loop = loop, .unwatchFd = -1};
    assert_true(loopWatch(loop, fds[0], LOOP_READABLE, onFd, &probe, &err));

    assert_true(loopRunOnce(loop, 0, &err));
    assert_int_equal(probe.calls, 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_true(loopRunOnce(loop, 1000, &err));
    assert_int_equal(probe.calls, 1);
    assert_int_equal(probe.lastEvents, LOOP_READABLE);

    /* Changing interest: the write end is always writable. */
    FdProbe writer = {.loop = loop, .unwatchFd = -1};
    assert_true(loopWatch(loop, fds[1], LOOP_WRITABLE, onFd, &writer, &err));
    assert_true(loopWatch(loop, fds[1], LOOP_WRITABLE | LOOP_READABLE, onFd, &writer, &err));
    assert_true(loopRunOnce(loop, 1000, &err));
    assert_int_equal(writer.calls, 1);
    assert_true(writer.lastEvents & LOOP_WRITABLE);
    loopUnwatch(loop, fds[1]);
    loopUnwatch(loop, fds[1]);
    loopUnwatch(loop, 100000);
    loopUnwatch(loop, -1);

    /* A closed peer reports an error/hang-up. */
    close(fds[1]);
    assert_true(loopRunOnce(loop, 1000, &err));
    assert_int_equal(probe.calls, 2);
    assert_true(probe.lastEvents & LOOP_ERROR);
    loopUnwatch(loop, fds[0]);
    close(fds[0]);
    memCtxFree(ctx);
}

static void testHandlerUnwatchingAnotherFdDropsItsEvent(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Loop *loop;
    Err err;
    assert_true(loopNew(ctx, clockSystem(), &loop, &err));
    int first[2], second[2];
    assert_int_equal(pipe2(first, O_NONBLOCK), 0);
    assert_int_equal(pipe2(second, O_NONBLOCK), 0);
    FdProbe firstProbe = {.loop = loop, .unwatchFd = second[0]};
    FdProbe secondProbe = {.loop = loop, .unwatchFd = first[0]};
    assert_true(loopWatch(loop, first[0], LOOP_READABLE, onFd, &firstProbe, &err));
    assert_true(loopWatch(loop, second[0], LOOP_READABLE, onFd, &secondProbe, &err));
    assert_int_equal(write(first[1], "x", 1), 1);
    assert_int_equal(write(second[1], "x", 1), 1);
    assert_true(loopRunOnce(loop, 1000, &err));
    /* Whichever ran first unwatched the other, whose queued event was dropped. */
    assert_int_equal(firstProbe.calls + secondProbe.calls, 1);
    for (int fdIdx = 0; fdIdx < 2; fdIdx++) {
        close(first[fdIdx]);
        close(second[fdIdx]);
    }
    memCtxFree(ctx);
}

static void testWatchErrors(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Loop *loop;
    Err err;
    assert_true(loopNew(ctx, clockSystem(), &loop, &err));
    FdProbe probe = {.loop = loop, .unwatchFd = -1};
    assert_false(loopWatch(loop, -1, LOOP_READABLE, onFd, &probe, &err));
    assert_err(&err, errInvalidArgument);
    /* A regular file cannot be watched by epoll. */
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    assert_false(loopWatch(loop, fd, LOOP_READABLE, onFd, &probe, &err));
    assert_err(&err, errSystem);
    close(fd);

    /* Past the end of the table it must grow. */
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    int highFd = fcntl(fds[0], F_DUPFD_CLOEXEC, 200);
    assert_true(highFd >= 200);
    allocFailNth(1);
    assert_false(loopWatch(loop, highFd, LOOP_READABLE, onFd, &probe, &err));
    allocFailNth(0);
    assert_err(&err, errOutOfMemory);
    assert_true(loopWatch(loop, highFd, LOOP_READABLE, onFd, &probe, &err));
    loopUnwatch(loop, highFd);
    close(highFd);
    close(fds[0]);
    close(fds[1]);
    memCtxFree(ctx);
}

static void testFdClosedWithoutUnwatchCanBeReused(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Loop *loop;
    Err err;
    assert_true(loopNew(ctx, clockSystem(), &loop, &err));
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    FdProbe probe = {.loop = loop, .unwatchFd = -1};
    assert_true(loopWatch(loop, fds[0], LOOP_READABLE, onFd, &probe, &err));
    int reused = fds[0];
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    assert_int_equal(fds[0], reused);
    assert_true(loopWatch(loop, fds[0], LOOP_READABLE, onFd, &probe, &err));
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_true(loopRunOnce(loop, 1000, &err));
    assert_int_equal(probe.calls, 1);
    close(fds[0]);
    close(fds[1]);
    memCtxFree(ctx);
}

static void testNewFailures(void **state)
{
    (void)state;
    Loop *loop;
    Err err;
    for (uint64_t nth = 1; nth <= 3; nth++) {
        MemCtx *ctx = memCtxNew(NULL, "t");
        allocFailNth(nth);
        assert_false(loopNew(ctx, clockSystem(), &loop, &err));
        allocFailNth(0);
        assert_err(&err, errOutOfMemory);
        memCtxFree(ctx);
    }
}

static void testTimersWithFakeClock(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    FakeClock fake = {.monotonicMs = 1000};
    Loop *loop;
    Err err;
    assert_true(loopNew(ctx, clockFake(&fake), &loop, &err));
    assert_ptr_equal(loopClock(loop).state, &fake);
    TimerProbe early = {.restartMs = -1}, late = {.restartMs = -1};
    early.timer = loopTimerNew(loop, onTimer, &early);
    late.timer = loopTimerNew(loop, onTimer, &late);
    assert_false(loopTimerArmed(early.timer));
    loopTimerStart(early.timer, 100);
    loopTimerStart(late.timer, 300);
    assert_true(loopTimerArmed(early.timer));

    assert_true(loopRunOnce(loop, 0, &err));
    assert_int_equal(early.calls, 0);
    fakeClockAdvance(&fake, 100);
    assert_true(loopRunOnce(loop, 0, &err));
    assert_int_equal(early.calls, 1);
    assert_false(loopTimerArmed(early.timer));
    assert_int_equal(late.calls, 0);

    loopTimerStop(late.timer);
    fakeClockAdvance(&fake, 1000);
    assert_true(loopRunOnce(loop, 0, &err));
    assert_int_equal(late.calls, 0);

    /* A negative delay means now. */
    loopTimerStart(late.timer, -5);
    assert_true(loopRunOnce(loop, 0, &err));
    assert_int_equal(late.calls, 1);
    loopTimerFree(early.timer);
    loopTimerFree(NULL);
    memCtxFree(ctx);
}

static void testZeroDelayRestartWaitsForNextIteration(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    FakeClock fake = {.monotonicMs = 0};
    Loop *loop;
    Err err;
    assert_true(loopNew(ctx, clockFake(&fake), &loop, &err));
    TimerProbe probe = {.restartMs = 0};
    probe.timer = loopTimerNew(loop, onTimer, &probe);
    loopTimerStart(probe.timer, 0);
    assert_true(loopRunOnce(loop, 0, &err));
    assert_int_equal(probe.calls, 1);
    assert_true(loopRunOnce(loop, 0, &err));
    assert_int_equal(probe.calls, 2);
    memCtxFree(ctx);
}

static void testTimerHandlerMayFreeOtherTimers(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    FakeClock fake = {.monotonicMs = 0};
    Loop *loop;
    Err err;
    assert_true(loopNew(ctx, clockFake(&fake), &loop, &err));
    TimerProbe first = {.restartMs = -1}, second = {.restartMs = -1}, third = {.restartMs = -1};
    first.timer = loopTimerNew(loop, onTimer, &first);
    second.timer = loopTimerNew(loop, onTimer, &second);
    third.timer = loopTimerNew(loop, onTimer, &third);
    first.freeOther = second.timer;
    second.freeOther = first.timer;
    loopTimerStart(first.timer, 0);
    loopTimerStart(second.timer, 0);
    loopTimerStart(third.timer, 0);
    assert_true(loopRunOnce(loop, 0, &err));
    assert_int_equal(first.calls + second.calls, 1);
    assert_int_equal(third.calls, 1);

    allocFailNth(1);
    assert_null(loopTimerNew(loop, onTimer, &first));
    allocFailNth(0);
    memCtxFree(ctx);
}

static void testWaitIsBoundedByTimer(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Clock clock = clockSystem();
    Loop *loop;
    Err err;
    assert_true(loopNew(ctx, clock, &loop, &err));
    TimerProbe probe = {.restartMs = -1};
    probe.timer = loopTimerNew(loop, onTimer, &probe);
    loopTimerStart(probe.timer, 20);
    int64_t started = clockMonotonicMs(clock);
    while (probe.calls == 0)
        assert_true(loopRunOnce(loop, -1, &err));
    int64_t elapsed = clockMonotonicMs(clock) - started;
    assert_true(elapsed >= 19 && elapsed < 2000);
    memCtxFree(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testFdReadiness),
        cmocka_unit_test(testHandlerUnwatchingAnotherFdDropsItsEvent),
        cmocka_unit_test(testWatchErrors),
        cmocka_unit_test(testFdClosedWithoutUnwatchCanBeReused),
        cmocka_unit_test(testNewFailures),
        cmocka_unit_test(testTimersWithFakeClock),
        cmocka_unit_test(testZeroDelayRestartWaitsForNextIteration),
        cmocka_unit_test(testTimerHandlerMayFreeOtherTimers),
        cmocka_unit_test(testWaitIsBoundedByTimer),
    };
    return cmocka_run_group_tests_name("common/loop", tests, NULL, NULL);
}
