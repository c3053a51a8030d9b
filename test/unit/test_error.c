/* Unit tests: common/error. */
#include "harness/harness.h"

#include "common/error.h"

#include <errno.h>
#include <string.h>

static void testSetFormatsAndReturnsFalse(void **state)
{
    (void)state;
    Err err;
    assert_false(errSet(&err, errKubeNotFound, "pod %s/%s not found", "ns", "p"));
    assert_int_equal(err.code, errKubeNotFound);
    assert_string_equal(err.message, "pod ns/p not found");
    assert_int_equal(err.httpStatus, 0);
    assert_int_equal(err.sysErrno, 0);
    assert_string_equal(err.reason, "");
}

static void testSetClearsEarlierFields(void **state)
{
    (void)state;
    Err err;
    errClear(&err);
    err.httpStatus = 404;
    strcpy(err.reason, "NotFound");
    assert_false(errSet(&err, errTooLarge, "too big"));
    assert_int_equal(err.httpStatus, 0);
    assert_string_equal(err.reason, "");
}

static void testNullErrIsAccepted(void **state)
{
    (void)state;
    errClear(NULL);
    assert_false(errSet(NULL, errSystem, "ignored"));
    assert_false(errSetSys(NULL, errSystem, "ignored"));
    assert_false(errPrefix(NULL, "ignored"));
}

static void testSetSysAppendsStrerror(void **state)
{
    (void)state;
    Err err;
    errno = ENOENT;
    assert_false(errSetSys(&err, errSystem, "cannot open %s", "/x"));
    assert_int_equal(err.sysErrno, ENOENT);
    assert_string_equal(err.message, "cannot open /x: No such file or directory");
}

static void testMessageIsTruncated(void **state)
{
    (void)state;
    Err err;
    char big[2 * ERR_MESSAGE_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(errSet(&err, errInvalidArgument, "%s", big));
    assert_int_equal(strlen(err.message), ERR_MESSAGE_MAX - 1);
}

static void testPrefix(void **state)
{
    (void)state;
    Err err;
    errSet(&err, errJsonMissing, "missing");
    err.httpStatus = 500;
    assert_false(errPrefix(&err, "reading %s", "config"));
    assert_string_equal(err.message, "reading config: missing");
    assert_int_equal(err.code, errJsonMissing);
    assert_int_equal(err.httpStatus, 500);
}

static void testPrefixTruncatesMessageThenPrefix(void **state)
{
    (void)state;
    Err err;
    char big[2 * ERR_MESSAGE_MAX];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    errSet(&err, errSystem, "%s", big);
    assert_false(errPrefix(&err, "p"));
    assert_int_equal(strlen(err.message), ERR_MESSAGE_MAX - 1);
    assert_memory_equal(err.message, "p: mmm", 6);

    memset(big, 'p', sizeof(big) - 1);
    assert_false(errPrefix(&err, "%s", big));
    assert_int_equal(strlen(err.message), ERR_MESSAGE_MAX - 1);
    assert_memory_equal(err.message + ERR_MESSAGE_MAX - 4, "p: ", 3);
}

static void testTable(void **state)
{
    (void)state;
    assert_string_equal(errCodeName(errOk), "errOk");
    assert_string_equal(errCodeName(errKubeGone), "errKubeGone");
    assert_string_equal(errCodeDescription(errKubeGone), "resource version too old");
    assert_true(errCodeRetryable(errKubeTooManyRequests));
    assert_true(errCodeRetryable(errKubeServer));
    assert_true(errCodeRetryable(errTransport));
    assert_false(errCodeRetryable(errKubeInvalid));
    assert_string_equal(errCodeName(errCodeCount), "errUnknown");
    assert_string_equal(errCodeDescription((ErrCode)-1), "unknown error");
    assert_false(errCodeRetryable(errCodeCount));
    for (int code = 0; code < errCodeCount; code++) {
        assert_non_null(errCodeName((ErrCode)code));
        assert_true(strncmp(errCodeName((ErrCode)code), "err", 3) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testSetFormatsAndReturnsFalse),
        cmocka_unit_test(testSetClearsEarlierFields),
        cmocka_unit_test(testNullErrIsAccepted),
        cmocka_unit_test(testSetSysAppendsStrerror),
        cmocka_unit_test(testMessageIsTruncated),
        cmocka_unit_test(testPrefix),
        cmocka_unit_test(testPrefixTruncatesMessageThenPrefix),
        cmocka_unit_test(testTable),
    };
    return cmocka_run_group_tests_name("common/error", tests, NULL, NULL);
}
