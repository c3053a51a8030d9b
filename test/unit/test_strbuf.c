/* Unit tests: common/strbuf. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/strbuf.h"

#include <string.h>

static void testAppendAndRead(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 1000);
    Err err;
    assert_string_equal(strBufStr(&buf), "");
    assert_true(strBufAppendStr(&buf, "abc", &err));
    assert_true(strBufAppendChar(&buf, '-', &err));
    assert_true(strBufPrintf(&buf, &err, "%d/%s", 42, "x"));
    assert_true(strBufAppend(&buf, "", 0, &err));
    assert_string_equal(strBufStr(&buf), "abc-42/x");
    assert_int_equal(buf.len, 8);
    memCtxFree(ctx);
}

static void testGrowsPastInitialCapacity(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 100000);
    Err err;
    for (int round = 0; round < 1000; round++)
        assert_true(strBufAppendStr(&buf, "0123456789", &err));
    assert_int_equal(buf.len, 10000);
    assert_int_equal(strlen(strBufStr(&buf)), 10000);
    memCtxFree(ctx);
}

static void testLimitIsExact(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 100);
    Err err;
    char hundred[100];
    memset(hundred, 'a', sizeof(hundred));
    assert_true(strBufAppend(&buf, hundred, 99, &err));
    assert_false(strBufAppend(&buf, "bc", 2, &err));
    assert_err(&err, errTooLarge);
    assert_string_equal(err.message, "buffer limit of 100 bytes exceeded");
    assert_int_equal(buf.len, 99);
    assert_true(strBufAppendChar(&buf, 'z', &err));
    assert_int_equal(buf.len, 100);
    assert_int_equal(buf.cap, 101);
    assert_false(strBufAppendChar(&buf, 'y', &err));
    assert_false(strBufPrintf(&buf, &err, "%s", "q"));
    assert_int_equal(buf.data[99], 'z');
    memCtxFree(ctx);
}

static void testConsumeAndClear(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 64);
    Err err;
    strBufClear(&buf);
    assert_true(strBufAppendStr(&buf, "line1\nline2", &err));
    strBufConsume(&buf, 6);
    assert_string_equal(strBufStr(&buf), "line2");
    strBufConsume(&buf, 5);
    assert_int_equal(buf.len, 0);
    assert_string_equal(strBufStr(&buf), "");
    assert_true(strBufAppendStr(&buf, "again", &err));
    strBufClear(&buf);
    assert_string_equal(strBufStr(&buf), "");
    strBufFree(&buf);
    assert_null(buf.data);
    assert_true(strBufAppendStr(&buf, "reuse", &err));
    assert_string_equal(strBufStr(&buf), "reuse");
    memCtxFree(ctx);
}

static void testUnformattableInput(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 64);
    Err err;
    /* A wide character the C locale cannot convert makes vsnprintf fail. */
    assert_false(strBufPrintf(&buf, &err, "%ls", L"\x100"));
    assert_err(&err, errInvalidArgument);
    assert_null(memCtxPrintf(ctx, "%ls", L"\x100"));
    memCtxFree(ctx);
}

static void testOutOfMemoryLeavesContents(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 1 << 20);
    Err err;
    assert_true(strBufAppendStr(&buf, "keep", &err));
    char big[200];
    memset(big, 'b', sizeof(big));
    allocFailNth(1);
    assert_false(strBufAppend(&buf, big, sizeof(big), &err));
    allocFailNth(0);
    assert_err(&err, errOutOfMemory);
    assert_string_equal(strBufStr(&buf), "keep");
    allocFailNth(1);
    assert_false(strBufPrintf(&buf, &err, "%200s", "x"));
    allocFailNth(0);
    assert_string_equal(strBufStr(&buf), "keep");
    memCtxFree(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testAppendAndRead),      cmocka_unit_test(testGrowsPastInitialCapacity),
        cmocka_unit_test(testLimitIsExact),       cmocka_unit_test(testConsumeAndClear),
        cmocka_unit_test(testUnformattableInput), cmocka_unit_test(testOutOfMemoryLeavesContents),
    };
    return cmocka_run_group_tests_name("common/strbuf", tests, NULL, NULL);
}
