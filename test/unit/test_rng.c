/* Unit tests: common/rng. */
#include "harness/harness.h"

#include "common/rng.h"

/* Yields the values of a script in turn, to steer rejection sampling. */
typedef struct ScriptedRng {
    const uint64_t *values;
    size_t next;
} ScriptedRng;

static uint64_t scriptedNext(void *state)
{
    ScriptedRng *scripted = state;
    return scripted->values[scripted->next++];
}

static void testSplitMixIsDeterministic(void **state)
{
    (void)state;
    SplitMix first, second;
    Rng a = rngSplitMix(&first, 42);
    Rng b = rngSplitMix(&second, 42);
    for (int round = 0; round < 100; round++)
        assert_true(rngNext(a) == rngNext(b));
    /* Reference value of splitmix64 seeded with 0. */
    Rng zero = rngSplitMix(&first, 0);
    assert_true(rngNext(zero) == UINT64_C(0xe220a8397b1dcdaf));
}

static void testUpToStaysInRange(void **state)
{
    (void)state;
    SplitMix splitMix;
    Rng rng = rngSplitMix(&splitMix, 7);
    unsigned seen[5] = {0};
    for (int round = 0; round < 1000; round++) {
        uint64_t value = rngUpTo(rng, 4);
        assert_true(value <= 4);
        seen[value]++;
    }
    for (size_t valueIdx = 0; valueIdx < 5; valueIdx++)
        assert_true(seen[valueIdx] > 100);
    assert_true(rngUpTo(rng, 0) == 0);
}

static void testUpToRejectsBiasedValues(void **state)
{
    (void)state;
    /* For bound 2 (range 3) the top value UINT64_MAX lies in the biased sliver and must be redrawn. */
    const uint64_t values[] = {UINT64_MAX, 5, UINT64_MAX - 1};
    ScriptedRng scripted = {values, 0};
    Rng rng = {.next = scriptedNext, .state = &scripted};
    assert_true(rngUpTo(rng, 2) == 2);
    assert_int_equal(scripted.next, 2);
    assert_true(rngUpTo(rng, UINT64_MAX) == UINT64_MAX - 1);
}

static void testSystemSeed(void **state)
{
    (void)state;
    uint64_t first = 0, second = 0;
    Err err;
    assert_true(rngSystemSeed(&first, &err));
    assert_true(rngSystemSeed(&second, &err));
    assert_true(first != second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testSplitMixIsDeterministic),
        cmocka_unit_test(testUpToStaysInRange),
        cmocka_unit_test(testUpToRejectsBiasedValues),
        cmocka_unit_test(testSystemSeed),
    };
    return cmocka_run_group_tests_name("common/rng", tests, NULL, NULL);
}
