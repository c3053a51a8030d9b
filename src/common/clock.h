/* Time sources, injectable.
 *
 * Code that needs "now" takes a Clock value rather than calling clock_gettime, so tests drive time by hand with a
 * FakeClock. Monotonic time (for timeouts, backoff, lease expiry) and wall time (for logs and Kubernetes timestamps)
 * are separate readings: only the first may be compared across a suspend or an NTP step. */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ClockKind {
    clockMonotonic,
    clockWall,
} ClockKind;

typedef struct Clock {
    int64_t (*readMs)(void *state, ClockKind kind); /* milliseconds; wall time since the Unix epoch */
    void *state;
} Clock;

/* The system's CLOCK_MONOTONIC and CLOCK_REALTIME. */
Clock clockSystem(void);

/* A clock that only moves when told to. The FakeClock must outlive the Clock made from it. */
typedef struct FakeClock {
    int64_t monotonicMs;
    int64_t wallMs;
} FakeClock;

Clock clockFake(FakeClock *fake);
void fakeClockAdvance(FakeClock *fake, int64_t ms);

int64_t clockMonotonicMs(Clock clock);
int64_t clockWallMs(Clock clock);

/* RFC 3339 UTC with milliseconds, "2026-11-25T11:23:45.678Z": CLOCK_RFC3339_SIZE bytes with the NUL. */
#define CLOCK_RFC3339_SIZE 25
void clockFormatRfc3339(int64_t wallMs, char out[CLOCK_RFC3339_SIZE]);

#endif
