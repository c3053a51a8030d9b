/* Time sources.
 *
 * A Clock is a function pointer and its state, passed by value: cheap to copy into every object that needs time, and
 * no global "current clock" that tests would have to swap. */
#include "common/clock.h"

#include <string.h>
#include <time.h>

static int64_t clockSystemRead(void *state, ClockKind kind)
{
    (void)state;
    struct timespec now;
    /* Cannot fail for these clock ids on Linux. */
    clock_gettime(kind == clockMonotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

Clock clockSystem(void)
{
    return (Clock){.readMs = clockSystemRead, .state = NULL};
}

static int64_t clockFakeRead(void *state, ClockKind kind)
{
    const FakeClock *fake = state;
    return kind == clockMonotonic ? fake->monotonicMs : fake->wallMs;
}

Clock clockFake(FakeClock *fake)
{
    return (Clock){.readMs = clockFakeRead, .state = fake};
}

void fakeClockAdvance(FakeClock *fake, int64_t ms)
{
    fake->monotonicMs += ms;
    fake->wallMs += ms;
}

int64_t clockMonotonicMs(Clock clock)
{
    return clock.readMs(clock.state, clockMonotonic);
}

int64_t clockWallMs(Clock clock)
{
    return clock.readMs(clock.state, clockWall);
}

void clockFormatRfc3339(int64_t wallMs, char out[CLOCK_RFC3339_SIZE])
{
    time_t seconds = (time_t)(wallMs / 1000);
    int millis = (int)(wallMs % 1000);
    if (millis < 0) {
        seconds -= 1;
        millis += 1000;
    }
    struct tm utc;
    if (gmtime_r(&seconds, &utc) == NULL || strftime(out, CLOCK_RFC3339_SIZE, "%Y-%m-%dT%H:%M:%S", &utc) != 19)
        memcpy(out, "0000-00-00T00:00:00", 19); /* beyond year 9999 or before year 0 */
    out[19] = '.';
    out[20] = (char)('0' + millis / 100);
    out[21] = (char)('0' + millis / 10 % 10);
    out[22] = (char)('0' + millis % 10);
    out[23] = 'Z';
    out[24] = '\0';
}
