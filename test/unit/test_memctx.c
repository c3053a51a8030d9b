/* Unit tests: common/memctx. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/memctx.h"

#include <string.h>

/* Records callback order: each callback appends its tag. */
typedef struct CallbackLog {
    char order[16];
    size_t count;
} CallbackLog;

typedef struct CallbackProbe {
    CallbackLog *log;
    char tag;
} CallbackProbe;

static void recordCallback(void *arg)
{
    CallbackProbe *probe = arg;
    probe->log->order[probe->log->count++] = probe->tag;
}

static void testAllocZeroesAndCounts(void **state)
{
    (void)state;
    MemCtx *root = memCtxNew(NULL, "root");
    assert_non_null(root);
    assert_string_equal(memCtxName(root), "root");
    assert_null(memCtxParent(root));
    unsigned char *block = memCtxAlloc(root, 100);
    assert_non_null(block);
    for (size_t byteIdx = 0; byteIdx < 100; byteIdx++)
        assert_int_equal(block[byteIdx], 0);
    assert_int_equal((uintptr_t)block % _Alignof(max_align_t), 0);
    assert_int_equal(memCtxTotalBytes(root), 100);

    MemCtx *child = memCtxNew(root, "child");
    assert_ptr_equal(memCtxParent(child), root);
    assert_non_null(memCtxAlloc(child, 50));
    assert_int_equal(memCtxTotalBytes(root), 150);
    assert_int_equal(memCtxTotalBytes(child), 50);

    memCtxRelease(block);
    memCtxRelease(NULL);
    assert_int_equal(memCtxTotalBytes(root), 50);
    memCtxFree(root);
    memCtxFree(NULL);
}

static void testResizeKeepsContents(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "ctx");
    char *first = memCtxAlloc(ctx, 4);
    char *text = memCtxResize(ctx, NULL, 6);
    memcpy(text, "hello", 6);
    char *last = memCtxAlloc(ctx, 4);
    text = memCtxResize(ctx, text, 4096);
    assert_string_equal(text, "hello");
    assert_int_equal(memCtxTotalBytes(ctx), 4104);
    /* The neighbours are still linked: releasing them in any order works. */
    memCtxRelease(first);
    memCtxRelease(last);
    memCtxRelease(text);
    assert_int_equal(memCtxTotalBytes(ctx), 0);
    memCtxFree(ctx);
}

static void testResizeFailureKeepsBlock(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "ctx");
    char *text = memCtxStrDup(ctx, "kept");
    allocFailNth(1);
    assert_null(memCtxResize(ctx, text, 1000));
    allocFailNth(0);
    assert_string_equal(text, "kept");
    assert_int_equal(memCtxTotalBytes(ctx), 5);
    memCtxFree(ctx);
}

static void testOverflowingSizesFail(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "ctx");
    assert_null(memCtxAlloc(ctx, SIZE_MAX));
    char *block = memCtxAlloc(ctx, 1);
    assert_null(memCtxResize(ctx, block, SIZE_MAX - 1));
    memCtxFree(ctx);
}

static void testAllocationFailuresReturnNull(void **state)
{
    (void)state;
    allocFailNth(1);
    assert_null(memCtxNew(NULL, "x"));
    MemCtx *ctx = memCtxNew(NULL, "ctx");
    allocFailNth(1);
    assert_null(memCtxAlloc(ctx, 1));
    allocFailNth(1);
    assert_null(memCtxStrDup(ctx, "x"));
    allocFailNth(1);
    assert_null(memCtxPrintf(ctx, "%d", 1));
    allocFailNth(1);
    assert_null(memCtxMemDup(ctx, "x", 1));
    allocFailNth(1);
    CallbackLog log = {0};
    CallbackProbe probe = {&log, 'a'};
    assert_false(memCtxOnFree(ctx, recordCallback, &probe));
    allocFailNth(0);
    memCtxFree(ctx);
    assert_int_equal(log.count, 0);
}

static void testStringHelpers(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "ctx");
    assert_string_equal(memCtxStrDup(ctx, "abc"), "abc");
    assert_string_equal(memCtxStrNDup(ctx, "abcdef", 3), "abc");
    assert_string_equal(memCtxStrNDup(ctx, "ab", 10), "ab");
    assert_string_equal(memCtxPrintf(ctx, "%s-%d", "x", 42), "x-42");
    assert_memory_equal(memCtxMemDup(ctx, "a\0b", 3), "a\0b", 3);
    assert_non_null(memCtxMemDup(ctx, NULL, 0));
    memCtxFree(ctx);
}

static void testCallbacksRunDeepestFirstInReverse(void **state)
{
    (void)state;
    CallbackLog log = {0};
    CallbackProbe probes[] = {{&log, 'r'}, {&log, 's'}, {&log, 'c'}, {&log, 'g'}};
    MemCtx *root = memCtxNew(NULL, "root");
    MemCtx *child = memCtxNew(root, "child");
    MemCtx *grandchild = memCtxNew(child, "grandchild");
    assert_true(memCtxOnFree(root, recordCallback, &probes[0]));
    assert_true(memCtxOnFree(root, recordCallback, &probes[1]));
    assert_true(memCtxOnFree(child, recordCallback, &probes[2]));
    assert_true(memCtxOnFree(grandchild, recordCallback, &probes[3]));
    memCtxFree(root);
    assert_int_equal(log.count, 4);
    assert_memory_equal(log.order, "gcsr", 4);
}

static void testFreeChildDetachesIt(void **state)
{
    (void)state;
    MemCtx *root = memCtxNew(NULL, "root");
    MemCtx *first = memCtxNew(root, "first");
    MemCtx *middle = memCtxNew(root, "middle");
    MemCtx *last = memCtxNew(root, "last");
    assert_non_null(memCtxAlloc(first, 1));
    assert_non_null(memCtxAlloc(middle, 2));
    assert_non_null(memCtxAlloc(last, 4));
    memCtxFree(middle);
    assert_int_equal(memCtxTotalBytes(root), 5);
    memCtxFree(last);
    memCtxFree(first);
    assert_int_equal(memCtxTotalBytes(root), 0);
    memCtxFree(root);
}

static void testResetKeepsContext(void **state)
{
    (void)state;
    CallbackLog log = {0};
    CallbackProbe probe = {&log, 'x'};
    MemCtx *root = memCtxNew(NULL, "root");
    MemCtx *scratch = memCtxNew(root, "scratch");
    assert_non_null(memCtxNew(scratch, "inner"));
    assert_non_null(memCtxAlloc(scratch, 10));
    assert_true(memCtxOnFree(scratch, recordCallback, &probe));
    memCtxReset(scratch);
    assert_int_equal(log.count, 1);
    assert_int_equal(memCtxTotalBytes(scratch), 0);
    assert_non_null(memCtxAlloc(scratch, 3));
    assert_int_equal(memCtxTotalBytes(root), 3);
    memCtxFree(root);
    assert_int_equal(log.count, 1);
}

static void testMoveChangesLifetime(void **state)
{
    (void)state;
    MemCtx *first = memCtxNew(NULL, "first");
    MemCtx *second = memCtxNew(NULL, "second");
    MemCtx *object = memCtxNew(first, "object");
    assert_non_null(memCtxAlloc(object, 8));
    memCtxMove(object, second);
    assert_ptr_equal(memCtxParent(object), second);
    assert_int_equal(memCtxTotalBytes(first), 0);
    assert_int_equal(memCtxTotalBytes(second), 8);
    memCtxFree(first);
    memCtxFree(second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testAllocZeroesAndCounts),
        cmocka_unit_test(testResizeKeepsContents),
        cmocka_unit_test(testResizeFailureKeepsBlock),
        cmocka_unit_test(testOverflowingSizesFail),
        cmocka_unit_test(testAllocationFailuresReturnNull),
        cmocka_unit_test(testStringHelpers),
        cmocka_unit_test(testCallbacksRunDeepestFirstInReverse),
        cmocka_unit_test(testFreeChildDetachesIt),
        cmocka_unit_test(testResetKeepsContext),
        cmocka_unit_test(testMoveChangesLifetime),
    };
    return cmocka_run_group_tests_name("common/memctx", tests, NULL, NULL);
}
