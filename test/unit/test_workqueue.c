/* Unit tests: controller/workqueue, on a loop driven by a fake clock. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "controller/workqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEEN 64

typedef struct QueueFixture {
    MemCtx *ctx;
    FakeClock fake;
    Loop *loop;
    WorkQueue *queue;
    SplitMix splitMix;
    char seen[MAX_SEEN][32]; /* keys handed to process, in order */
    int64_t seenAt[MAX_SEEN];
    int seenCount;
    bool doneAtOnce; /* process calls workQueueDone itself */
} QueueFixture;

static void onProcess(void *arg, const char *key)
{
    QueueFixture *f = arg;
    assert_true(f->seenCount < MAX_SEEN);
    snprintf(f->seen[f->seenCount], sizeof(f->seen[0]), "%s", key);
    f->seenAt[f->seenCount] = f->fake.monotonicMs;
    f->seenCount++;
    if (f->doneAtOnce)
        workQueueDone(f->queue, key);
}

static void newQueue(QueueFixture *f, const WorkQueueOptions *options)
{
    Err err;
    WorkQueueOptions filled = *options;
    filled.rng = rngSplitMix(&f->splitMix, 42);
    if (!workQueueNew(f->ctx, f->loop, NULL, &filled, onProcess, f, &f->queue, &err))
        fail_msg("%s", err.message);
}

static int setUp(void **state)
{
    QueueFixture *f = calloc(1, sizeof(*f));
    f->ctx = memCtxNew(NULL, "t");
    f->fake.monotonicMs = 1000000;
    Err err;
    if (!loopNew(f->ctx, clockFake(&f->fake), &f->loop, &err))
        return -1;
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    QueueFixture *f = *state;
    memCtxFree(f->ctx);
    free(f);
    return 0;
}

static void pump(QueueFixture *f)
{
    Err err;
    for (int round = 0; round < 3; round++)
        assert_true(loopRunOnce(f->loop, 0, &err));
}

/* Moves the fake clock by ms, one millisecond at a time, running due timers as it goes. */
static void advance(QueueFixture *f, int64_t ms)
{
    for (int64_t step = 0; step < ms; step++) {
        fakeClockAdvance(&f->fake, 1);
        pump(f);
    }
}

static void add(QueueFixture *f, const char *key)
{
    Err err;
    if (!workQueueAdd(f->queue, key, &err))
        fail_msg("%s", err.message);
}

static void testDeduplicates(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 4});
    f->doneAtOnce = true;
    add(f, "ns/a");
    add(f, "ns/a");
    add(f, "ns/b");
    add(f, "ns/a");
    assert_int_equal(workQueueLen(f->queue), 2);
    assert_int_equal(f->seenCount, 0); /* never from inside an add */
    pump(f);
    assert_int_equal(f->seenCount, 2);
    assert_string_equal(f->seen[0], "ns/a");
    assert_string_equal(f->seen[1], "ns/b");
    assert_int_equal(workQueueLen(f->queue), 0);
    assert_int_equal(workQueueInFlight(f->queue), 0);
}

static void testNeverTwiceAtOnce(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 4});
    add(f, "ns/a");
    pump(f);
    assert_int_equal(f->seenCount, 1);
    add(f, "ns/a"); /* while it is being processed */
    add(f, "ns/a");
    pump(f);
    assert_int_equal(f->seenCount, 1);
    assert_int_equal(workQueueLen(f->queue), 0);
    workQueueDone(f->queue, "ns/a");
    assert_int_equal(workQueueLen(f->queue), 1);
    pump(f);
    assert_int_equal(f->seenCount, 2);
    workQueueDone(f->queue, "ns/a");
    pump(f);
    assert_int_equal(f->seenCount, 2);
    workQueueDone(f->queue, "ns/unknown"); /* ignored */
}

static void testMaxInFlight(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 2});
    add(f, "a");
    add(f, "b");
    add(f, "c");
    pump(f);
    assert_int_equal(f->seenCount, 2);
    assert_int_equal(workQueueInFlight(f->queue), 2);
    assert_int_equal(workQueueLen(f->queue), 1);
    workQueueDone(f->queue, "b");
    pump(f);
    assert_int_equal(f->seenCount, 3);
    assert_string_equal(f->seen[2], "c");
}

static void testAddAfter(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 4});
    f->doneAtOnce = true;
    Err err;
    int64_t start = f->fake.monotonicMs;
    assert_true(workQueueAddAfter(f->queue, "later", 100, &err));
    assert_true(workQueueAddAfter(f->queue, "later", 300, &err)); /* the earlier time wins */
    assert_true(workQueueAddAfter(f->queue, "sooner", 100, &err));
    assert_true(workQueueAddAfter(f->queue, "sooner", 50, &err));
    assert_int_equal(workQueueWaiting(f->queue), 2);
    advance(f, 49);
    assert_int_equal(f->seenCount, 0);
    advance(f, 1);
    assert_int_equal(f->seenCount, 1);
    assert_string_equal(f->seen[0], "sooner");
    assert_int_equal(f->seenAt[0] - start, 50);
    advance(f, 50);
    assert_int_equal(f->seenCount, 2);
    assert_int_equal(f->seenAt[1] - start, 100);
    advance(f, 300);
    assert_int_equal(f->seenCount, 2);

    /* An immediate add overtakes a delayed one; a delayed add of a queued key changes nothing. */
    assert_true(workQueueAddAfter(f->queue, "x", 1000, &err));
    add(f, "x");
    assert_int_equal(workQueueWaiting(f->queue), 0);
    assert_true(workQueueAddAfter(f->queue, "x", 1000, &err));
    assert_int_equal(workQueueWaiting(f->queue), 0);
    pump(f);
    assert_int_equal(f->seenCount, 3);
    advance(f, 1500);
    assert_int_equal(f->seenCount, 3);
    assert_true(workQueueAddAfter(f->queue, "y", 0, &err));
    assert_int_equal(workQueueLen(f->queue), 1);
}

static void testPerKeyBackoffWithJitter(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 1, .baseDelayMs = 10, .maxDelayMs = 80});
    f->doneAtOnce = true;
    Err err;
    int64_t expected[] = {10, 20, 40, 80, 80, 80};
    for (size_t attempt = 0; attempt < sizeof(expected) / sizeof(expected[0]); attempt++) {
        int before = f->seenCount;
        int64_t start = f->fake.monotonicMs;
        assert_true(workQueueAddRateLimited(f->queue, "k", &err));
        assert_int_equal(workQueueFailures(f->queue, "k"), attempt + 1);
        for (int64_t waited = 0; f->seenCount == before; waited++) {
            assert_true(waited <= expected[attempt]);
            advance(f, 1);
        }
        int64_t delay = f->fake.monotonicMs - start;
        assert_true(delay >= expected[attempt] / 2 && delay <= expected[attempt]);
    }
    workQueueForget(f->queue, "k");
    assert_int_equal(workQueueFailures(f->queue, "k"), 0);
    assert_true(workQueueAddRateLimited(f->queue, "k", &err));
    int64_t start = f->fake.monotonicMs;
    int before = f->seenCount;
    while (f->seenCount == before)
        advance(f, 1);
    assert_true(f->fake.monotonicMs - start <= 10);
    /* Jitter: two keys failing together do not retry at the same moment every time. */
    bool differ = false;
    for (int round = 0; round < 10 && !differ; round++) {
        int64_t a = -1, b = -1;
        int seen = f->seenCount;
        assert_true(workQueueAddRateLimited(f->queue, "p", &err));
        assert_true(workQueueAddRateLimited(f->queue, "q", &err));
        start = f->fake.monotonicMs;
        while (f->seenCount < seen + 2)
            advance(f, 1);
        a = f->seenAt[seen] - start;
        b = f->seenAt[seen + 1] - start;
        differ = a != b;
        f->seenCount = 0;
    }
    assert_true(differ);
}

static void testGlobalRateLimit(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 8, .baseDelayMs = 1, .maxDelayMs = 1, .qps = 2, .burst = 2});
    f->doneAtOnce = true;
    Err err;
    int64_t start = f->fake.monotonicMs;
    assert_true(workQueueAddRateLimited(f->queue, "a", &err));
    assert_true(workQueueAddRateLimited(f->queue, "b", &err));
    assert_true(workQueueAddRateLimited(f->queue, "c", &err));
    assert_true(workQueueAddRateLimited(f->queue, "d", &err));
    advance(f, 2);
    assert_int_equal(f->seenCount, 2); /* the burst */
    advance(f, 497);
    assert_int_equal(f->seenCount, 2);
    advance(f, 2);
    assert_int_equal(f->seenCount, 3); /* one token per 500 ms */
    assert_int_equal(f->seenAt[2] - start, 500);
    advance(f, 500);
    assert_int_equal(f->seenCount, 4);
    assert_int_equal(f->seenAt[3] - start, 1000);
}

static void testPause(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 2});
    f->doneAtOnce = true;
    workQueuePause(f->queue, true);
    add(f, "a");
    pump(f);
    assert_int_equal(f->seenCount, 0);
    assert_int_equal(workQueueLen(f->queue), 1);
    workQueuePause(f->queue, false);
    pump(f);
    assert_int_equal(f->seenCount, 1);
}

static void testRequeueWhileProcessing(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 1, .baseDelayMs = 100, .maxDelayMs = 100});
    Err err;
    add(f, "a");
    pump(f);
    assert_int_equal(f->seenCount, 1);
    /* A failing reconcile asks for a retry before it is done: the retry waits for its delay. */
    assert_true(workQueueAddRateLimited(f->queue, "a", &err));
    workQueueDone(f->queue, "a");
    pump(f);
    assert_int_equal(f->seenCount, 1);
    advance(f, 100);
    assert_int_equal(f->seenCount, 2);
    /* The delay comes due while it is processed again: it waits for done. */
    assert_true(workQueueAddAfter(f->queue, "a", 10, &err));
    advance(f, 20);
    assert_int_equal(f->seenCount, 2);
    workQueueForget(f->queue, "a");
    workQueueDone(f->queue, "a");
    pump(f);
    assert_int_equal(f->seenCount, 3);
    workQueueDone(f->queue, "a");
    assert_int_equal(workQueueFailures(f->queue, "a"), 0);
}

static void testOutOfMemory(void **state)
{
    QueueFixture *f = *state;
    newQueue(f, &(WorkQueueOptions){.maxInFlight = 1});
    Err err;
    add(f, "known");
    for (uint64_t nth = 1; nth <= 3; nth++) {
        allocFailNth(nth);
        bool ok = workQueueAdd(f->queue, "new", &err);
        bool fired = allocFaultFired();
        allocFailNth(0);
        if (fired) {
            assert_false(ok);
            assert_err(&err, errOutOfMemory);
        }
    }
    /* Adding a key the queue tracks does not allocate. */
    allocFailNth(1);
    assert_true(workQueueAdd(f->queue, "known", &err));
    assert_true(workQueueAddRateLimited(f->queue, "known", &err));
    assert_false(allocFaultFired());
    allocFailNth(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testDeduplicates, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNeverTwiceAtOnce, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testMaxInFlight, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testAddAfter, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testPerKeyBackoffWithJitter, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testGlobalRateLimit, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testPause, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testRequeueWhileProcessing, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testOutOfMemory, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("controller/workqueue", tests, NULL, NULL);
}
