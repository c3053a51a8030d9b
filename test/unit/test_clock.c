/* Unit tests: common/clock. */
#include "harness/harness.h"

#include "common/clock.h"

static void testSystemClockMoves(void **state)
{
    (void)state;
    Clock clock = clockSystem();
    int64_t first = clockMonotonicMs(clock);
    int64_t wall = clockWallMs(clock);
    assert_true(first >= 0);
    assert_true(wall > INT64_C(1700000000000)); /* after November 2023 */
    assert_true(clockMonotonicMs(clock) >= first);
}

static void testFakeClock(void **state)
{
    (void)state;
    FakeClock fake = {.monotonicMs = 100, .wallMs = 5000};
    Clock clock = clockFake(&fake);
    assert_int_equal(clockMonotonicMs(clock), 100);
    assert_int_equal(clockWallMs(clock), 5000);
    fakeClockAdvance(&fake, 250);
    assert_int_equal(clockMonotonicMs(clock), 350);
    assert_int_equal(clockWallMs(clock), 5250);
}

static void testRfc3339(void **state)
{
    (void)state;
    char out[CLOCK_RFC3339_SIZE];
    clockFormatRfc3339(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    clockFormatRfc3339(INT64_C(1795605825678), out);
    assert_string_equal(out, "2026-11-25T11:23:45.678Z");
    clockFormatRfc3339(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    clockFormatRfc3339(INT64_C(253402300800000), out); /* year 10000 does not fit */
    assert_string_equal(out, "0000-00-00T00:00:00.000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testSystemClockMoves),
        cmocka_unit_test(testFakeClock),
        cmocka_unit_test(testRfc3339),
    };
    return cmocka_run_group_tests_name("common/clock", tests, NULL, NULL);
}
