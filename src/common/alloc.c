/* Raw allocation and fault injection.
 *
 * The fault hook is the one piece of process-wide mutable state in common/: jansson's allocator hook takes plain
 * function pointers with no user argument, so the countdown has to live in a static. It is touched only by tests
 * (allocFailNth) and costs a branch per allocation otherwise. The program is single-threaded, so no locking.
 *
 * Injection is one-shot: the armed allocation fails and later ones succeed again. That is what exercises recovery
 * paths honestly; a "fail from N on" mode would hide code that ignores a failure and carries on. */
#include "common/alloc.h"

#include <jansson.h>
#include <stdlib.h>

static struct AllocState {
    uint64_t countdown; /* allocations left before the injected failure; 0 = disarmed */
    bool fired;
    uint64_t failures; /* allocations that returned NULL */
} allocState;

static bool allocShouldFail(void)
{
    if (allocState.countdown == 0)
        return false;
    if (--allocState.countdown != 0)
        return false;
    allocState.fired = true;
    return true;
}

static void *allocCounted(void *ptr)
{
    if (ptr == NULL)
        allocState.failures++;
    return ptr;
}

void *allocRaw(size_t size)
{
    return allocCounted(allocShouldFail() ? NULL : malloc(size == 0 ? 1 : size));
}

void *allocRawResize(void *ptr, size_t size)
{
    return allocCounted(allocShouldFail() ? NULL : realloc(ptr, size == 0 ? 1 : size));
}

void allocFree(void *ptr)
{
    free(ptr);
}

void allocUseForJansson(void)
{
    json_set_alloc_funcs(allocRaw, allocFree);
}

void allocFailNth(uint64_t nth)
{
    allocState.countdown = nth;
    allocState.fired = false;
}

uint64_t allocFailureCount(void)
{
    return allocState.failures;
}

bool allocFaultFired(void)
{
    return allocState.fired;
}
