/* Unit tests: common/base64. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/base64.h"

#include <string.h>

static void testRoundTrips(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const encoded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    Err err;
    for (size_t caseIdx = 0; caseIdx < sizeof(plain) / sizeof(plain[0]); caseIdx++) {
        char *out;
        size_t len;
        assert_true(base64Encode(ctx, plain[caseIdx], strlen(plain[caseIdx]), &out, &err));
        assert_string_equal(out, encoded[caseIdx]);
        assert_true(base64Decode(ctx, encoded[caseIdx], strlen(encoded[caseIdx]), &out, &len, &err));
        assert_int_equal(len, strlen(plain[caseIdx]));
        assert_string_equal(out, plain[caseIdx]);
    }
    unsigned char binary[256];
    for (size_t byteIdx = 0; byteIdx < sizeof(binary); byteIdx++)
        binary[byteIdx] = (unsigned char)byteIdx;
    char *text, *back;
    size_t len;
    assert_true(base64Encode(ctx, binary, sizeof(binary), &text, &err));
    assert_true(base64Decode(ctx, text, strlen(text), &back, &len, &err));
    assert_int_equal(len, sizeof(binary));
    assert_memory_equal(back, binary, sizeof(binary));
    memCtxFree(ctx);
}

static void testLineBreaksAreSkipped(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    char *out;
    size_t len;
    Err err;
    assert_true(base64Decode(ctx, "Zm9v\r\nYmFy\n", 11, &out, &len, &err));
    assert_string_equal(out, "foobar");
    assert_true(base64Decode(ctx, "Zg==\n", 5, &out, &len, &err));
    assert_string_equal(out, "f");
    memCtxFree(ctx);
}

static void testMalformedInput(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    static const char *const bad[] = {
        "Zg=", "Zm9", "Z", "Zm9v!", "Z===", "====", "Zg==Zg==", "Zh==", "Zm9=", "Z=g=", "Zg= ", "Zm 9v", "Zg==x"};
    for (size_t caseIdx = 0; caseIdx < sizeof(bad) / sizeof(bad[0]); caseIdx++) {
        char *out;
        size_t len;
        Err err;
        errClear(&err);
        if (base64Decode(ctx, bad[caseIdx], strlen(bad[caseIdx]), &out, &len, &err))
            fail_msg("\"%s\" was accepted", bad[caseIdx]);
        assert_err(&err, errBase64);
    }
    /* Nothing is left allocated by the failures. */
    assert_int_equal(memCtxTotalBytes(ctx), 0);
    memCtxFree(ctx);
}

static void testOutOfMemory(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    char *out;
    size_t len;
    Err err;
    allocFailNth(1);
    assert_false(base64Decode(ctx, "Zm9v", 4, &out, &len, &err));
    assert_err(&err, errOutOfMemory);
    allocFailNth(1);
    assert_false(base64Encode(ctx, "foo", 3, &out, &err));
    assert_err(&err, errOutOfMemory);
    allocFailNth(0);
    memCtxFree(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testRoundTrips),
        cmocka_unit_test(testLineBreaksAreSkipped),
        cmocka_unit_test(testMalformedInput),
        cmocka_unit_test(testOutOfMemory),
    };
    return cmocka_run_group_tests_name("common/base64", tests, NULL, NULL);
}
