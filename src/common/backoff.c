/* Capped exponential backoff with jitter.
 *
 * "Equal jitter" in the terms of the AWS architecture note on backoff: half the nominal delay is fixed, half random.
 * Full jitter (uniform in [0, d]) spreads load slightly better but may retry at once, which a watch relist storm
 * against a struggling API server does not deserve. The doubling stops at the cap before it can overflow. */
#include "common/backoff.h"

#include <assert.h>

void backoffInit(Backoff *backoff, int64_t baseMs, int64_t capMs, Rng rng)
{
    assert(baseMs >= 1 && capMs >= baseMs);
    *backoff = (Backoff){.baseMs = baseMs, .capMs = capMs, .attempt = 0, .rng = rng};
}

int64_t backoffNext(Backoff *backoff)
{
    int64_t nominal = backoff->baseMs;
    for (uint32_t doubling = 0; doubling < backoff->attempt && nominal < backoff->capMs; doubling++)
        nominal = nominal > backoff->capMs / 2 ? backoff->capMs : nominal * 2;
    if (backoff->attempt < UINT32_MAX)
        backoff->attempt++;

    int64_t half = nominal / 2;
    return nominal - half + (int64_t)rngUpTo(backoff->rng, (uint64_t)half);
}

void backoffReset(Backoff *backoff)
{
    backoff->attempt = 0;
}
