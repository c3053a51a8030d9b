/* Random numbers for jitter, injectable.
 *
 * Not for secrets: passwords and keys come from OpenSSL. An Rng is a function pointer and its state, so tests can
 * hand backoff a fixed sequence. */
#ifndef COMMON_RNG_H
#define COMMON_RNG_H

#include "common/error.h"

#include <stdint.h>

typedef struct Rng {
    uint64_t (*next)(void *state); /* uniformly distributed 64-bit values */
    void *state;
} Rng;

/* splitmix64: a small, fast, well-distributed generator. The state must outlive the Rng. */
typedef struct SplitMix {
    uint64_t state;
} SplitMix;

Rng rngSplitMix(SplitMix *splitMix, uint64_t seed);

/* A seed from the kernel (getrandom). */
bool rngSystemSeed(uint64_t *seed, Err *err) MUST_CHECK;

uint64_t rngNext(Rng rng);

/* A value in [0, bound] (inclusive), without modulo bias. */
uint64_t rngUpTo(Rng rng, uint64_t bound);

#endif
