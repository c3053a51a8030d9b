/* Capped exponential backoff with jitter.
 *
 * The n-th delay (n from 0) is drawn uniformly from [d/2, d] where d = min(cap, base * 2^n): it doubles until the
 * cap, never drops below half of the nominal value (so a retry is never immediate), and spreads clients that failed
 * together. */
#ifndef COMMON_BACKOFF_H
#define COMMON_BACKOFF_H

#include "common/rng.h"

#include <stdint.h>

typedef struct Backoff {
    int64_t baseMs;
    int64_t capMs;
    uint32_t attempt; /* delays handed out since the last reset */
    Rng rng;
} Backoff;

/* baseMs >= 1 and capMs >= baseMs. */
void backoffInit(Backoff *backoff, int64_t baseMs, int64_t capMs, Rng rng);

/* The delay before the next attempt, in ms; counts the attempt. */
int64_t backoffNext(Backoff *backoff);

/* Back to the first delay, after a success. */
void backoffReset(Backoff *backoff);

#endif
