/* Unit tests: common/backoff. */
#include "harness/harness.h"

#include "common/backoff.h"

static uint64_t constantNext(void *state)
{
    return *(uint64_t *)state;
}

static void testDoublesUpToCapWithinJitterBounds(void **state)
{
    (void)state;
    SplitMix splitMix;
    Backoff backoff;
    backoffInit(&backoff, 100, 3000, rngSplitMix(&splitMix, 1));
    const int64_t nominal[] = {100, 200, 400, 800, 1600, 3000, 3000, 3000};
    for (size_t attemptIdx = 0; attemptIdx < sizeof(nominal) / sizeof(nominal[0]); attemptIdx++) {
        int64_t delay = backoffNext(&backoff);
        assert_true(delay >= nominal[attemptIdx] / 2);
        assert_true(delay <= nominal[attemptIdx]);
    }
    backoffReset(&backoff);
    int64_t delay = backoffNext(&backoff);
    assert_true(delay >= 50 && delay <= 100);
}

static void testJitterExtremes(void **state)
{
    (void)state;
    uint64_t zero = 0;
    Backoff backoff;
    backoffInit(&backoff, 1000, 60000, (Rng){.next = constantNext, .state = &zero});
    assert_int_equal(backoffNext(&backoff), 500);
    assert_int_equal(backoffNext(&backoff), 1000);

    /* 2^64-1 maps to the top of the range for these small bounds: 64-bit values mod (half+1). */
    uint64_t top = 1000;
    backoffInit(&backoff, 1000, 60000, (Rng){.next = constantNext, .state = &top});
    assert_int_equal(backoffNext(&backoff), 500 + 1000 % 501);

    /* Odd nominal values keep the delay at most the nominal one. */
    uint64_t three = 3;
    backoffInit(&backoff, 7, 7, (Rng){.next = constantNext, .state = &three});
    assert_int_equal(backoffNext(&backoff), 7);
}

static void testManyAttemptsDoNotOverflow(void **state)
{
    (void)state;
    SplitMix splitMix;
    Backoff backoff;
    backoffInit(&backoff, 1, INT64_MAX, rngSplitMix(&splitMix, 3));
    for (int attempt = 0; attempt < 200; attempt++)
        assert_true(backoffNext(&backoff) > 0);
    backoff.attempt = UINT32_MAX;
    assert_true(backoffNext(&backoff) >= INT64_MAX / 2);
    assert_int_equal(backoff.attempt, UINT32_MAX);

    backoffInit(&backoff, 3, 10, rngSplitMix(&splitMix, 3));
    backoff.attempt = 1000;
    int64_t delay = backoffNext(&backoff);
    assert_true(delay >= 5 && delay <= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testDoublesUpToCapWithinJitterBounds),
        cmocka_unit_test(testJitterExtremes),
        cmocka_unit_test(testManyAttemptsDoNotOverflow),
    };
    return cmocka_run_group_tests_name("common/backoff", tests, NULL, NULL);
}
