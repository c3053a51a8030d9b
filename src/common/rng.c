/* Random numbers for jitter.
 *
 * splitmix64 (Steele, Lea and Flood) is one add and three xor-shift-multiply steps per value: plenty for spreading
 * retries of many clients apart. rngUpTo rejects the top sliver of the 64-bit range that would otherwise make low
 * values slightly likelier. */
#include "common/rng.h"

#include <errno.h>
#include <sys/random.h>

static uint64_t splitMixNext(void *state)
{
    SplitMix *splitMix = state;
    uint64_t z = (splitMix->state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

Rng rngSplitMix(SplitMix *splitMix, uint64_t seed)
{
    splitMix->state = seed;
    return (Rng){.next = splitMixNext, .state = splitMix};
}

bool rngSystemSeed(uint64_t *seed, Err *err)
{
    ssize_t got;
    do {
        got = getrandom(seed, sizeof(*seed), 0);
    } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof(*seed))
        return errSetSys(err, errSystem, "cannot read a random seed");
    return true;
}

uint64_t rngNext(Rng rng)
{
    return rng.next(rng.state);
}

uint64_t rngUpTo(Rng rng, uint64_t bound)
{
    if (bound == UINT64_MAX)
        return rngNext(rng);
    uint64_t range = bound + 1;
    uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t value;
    do {
        value = rngNext(rng);
    } while (value >= limit);
    return value % range;
}
