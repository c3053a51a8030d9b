/* Unit tests: common/alloc (the fault-injection hook) and the harness sweep built on it. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/memctx.h"

#include <jansson.h>

static void testAllocatesAndFrees(void **state)
{
    (void)state;
    char *block = allocRaw(16);
    assert_non_null(block);
    block = allocRawResize(block, 64);
    assert_non_null(block);
    allocFree(block);
    allocFree(NULL);
    block = allocRaw(0);
    assert_non_null(block);
    block = allocRawResize(block, 0);
    assert_non_null(block);
    allocFree(block);
}

static void testNthAllocationFailsOnce(void **state)
{
    (void)state;
    allocFailNth(2);
    void *first = allocRaw(8);
    assert_non_null(first);
    assert_false(allocFaultFired());
    assert_null(allocRawResize(first, 16));
    assert_true(allocFaultFired());
    void *third = allocRaw(8);
    assert_non_null(third);
    allocFree(first);
    allocFree(third);
    allocFailNth(0);
    assert_false(allocFaultFired());
}

static void testJanssonUsesTheHook(void **state)
{
    (void)state;
    allocUseForJansson();
    allocFailNth(1);
    json_t *value = json_object();
    assert_null(value);
    assert_true(allocFaultFired());
    allocFailNth(0);
}

/* Three allocations; the sweep must see each fail once, then a clean run. */
static bool threeAllocations(void *arg, Err *err)
{
    unsigned *runs = arg;
    (*runs)++;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "ctx");
    bool ok = memCtxAlloc(ctx, 1) != NULL && memCtxAlloc(ctx, 2) != NULL;
    memCtxFree(ctx);
    return ok || errSet(err, errOutOfMemory, "alloc");
}

static void testSweepCountsAllocations(void **state)
{
    (void)state;
    unsigned runs = 0;
    assert_int_equal(harnessAllocSweep(threeAllocations, &runs, false), 3);
    assert_int_equal(runs, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testAllocatesAndFrees),
        cmocka_unit_test(testNthAllocationFailsOnce),
        cmocka_unit_test(testJanssonUsesTheHook),
        cmocka_unit_test(testSweepCountsAllocations),
    };
    return cmocka_run_group_tests_name("common/alloc", tests, NULL, NULL);
}
