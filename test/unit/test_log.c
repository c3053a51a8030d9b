/* Unit tests: common/log. Lines are written to a pipe and read back. */
#include "harness/harness.h"

#include "common/log.h"

#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

/* 2026-11-25T11:23:45.678Z */
#define TEST_WALL_MS INT64_C(1795605825678)

typedef struct LogFixture {
    int fds[2];
    FakeClock clock;
    Log log;
    char line[2 * LOG_LINE_MAX];
} LogFixture;

static int setUp(void **state)
{
    LogFixture *fixture = calloc(1, sizeof(*fixture));
    if (fixture == NULL || pipe2(fixture->fds, O_NONBLOCK) != 0)
        return -1;
    fixture->clock = (FakeClock){.monotonicMs = 1, .wallMs = TEST_WALL_MS};
    logInit(&fixture->log, fixture->fds[1], logLevelInfo, logFormatText, clockFake(&fixture->clock));
    *state = fixture;
    return 0;
}

static int tearDown(void **state)
{
    LogFixture *fixture = *state;
    close(fixture->fds[0]);
    close(fixture->fds[1]);
    free(fixture);
    return 0;
}

/* Everything written since the last read. */
static const char *readLog(LogFixture *fixture)
{
    ssize_t got = read(fixture->fds[0], fixture->line, sizeof(fixture->line) - 1);
    fixture->line[got > 0 ? got : 0] = '\0';
    return fixture->line;
}

static void testTextLine(void **state)
{
    LogFixture *fixture = *state;
    logInfo(&fixture->log, "watch restarted", logStr("resource", "pods"), logInt("attempt", -3),
            logBool("bookmarks", true), logBool("stale", false), logStr("absent", NULL));
    assert_string_equal(readLog(fixture), "ts=2026-11-25T11:23:45.678Z level=info msg=\"watch restarted\" "
                                          "resource=pods attempt=-3 bookmarks=true stale=false absent=null\n");
}

static void testTextQuoting(void **state)
{
    LogFixture *fixture = *state;
    logWarn(&fixture->log, "x", logStr("empty", ""), logStr("eq", "a=b"), logStr("quote", "say \"hi\""),
            logStr("ctl", "a\nb\tc\r\x01\\"), logStr("plain", "ns/name"));
    assert_string_equal(readLog(fixture), "ts=2026-11-25T11:23:45.678Z level=warn msg=x empty=\"\" eq=\"a=b\" "
                                          "quote=\"say \\\"hi\\\"\" ctl=\"a\\nb\\tc\\r\\u0001\\\\\" plain=ns/name\n");
}

static void testLevelFilter(void **state)
{
    LogFixture *fixture = *state;
    logDebug(&fixture->log, "hidden");
    assert_string_equal(readLog(fixture), "");
    fixture->log.minLevel = logLevelDebug;
    logDebug(&fixture->log, "shown");
    assert_contains(readLog(fixture), "level=debug msg=shown\n");
    fixture->log.minLevel = logLevelError;
    logWarn(&fixture->log, "hidden");
    assert_string_equal(readLog(fixture), "");
    logError(&fixture->log, "failed");
    assert_contains(readLog(fixture), "level=error msg=failed");
}

static void testSecretsAreRedacted(void **state)
{
    LogFixture *fixture = *state;
    logInfo(&fixture->log, "auth", logStr("token", "eyJhbGci"), logStr("Password", "hunter2"),
            logStr("clientSecret", "s"), logStr("Authorization", "Bearer x"), logInt("tokenLength", 5),
            logStr("key", "ns/name"));
    const char *line = readLog(fixture);
    assert_null(strstr(line, "eyJhbGci"));
    assert_null(strstr(line, "hunter2"));
    assert_null(strstr(line, "Bearer"));
    assert_contains(line, "token=[redacted] Password=[redacted] clientSecret=[redacted] "
                          "Authorization=[redacted] tokenLength=[redacted] key=ns/name");
    assert_true(logKeyIsSecret("private-key"));
    assert_true(logKeyIsSecret("x-credentials"));
    assert_false(logKeyIsSecret("namespace"));
    char longKey[300];
    memset(longKey, 'k', sizeof(longKey) - 1);
    longKey[sizeof(longKey) - 1] = '\0';
    assert_false(logKeyIsSecret(longKey));
}

static void testJsonLine(void **state)
{
    LogFixture *fixture = *state;
    fixture->log.format = logFormatJson;
    logInfo(&fixture->log, "say \"hi\"\n", logStr("ns", "a b"), logInt("n", 12), logBool("ok", true),
            logStr("password", "x"), logStr("nothing", NULL));
    const char *line = readLog(fixture);
    assert_string_equal(line, "{\"ts\":\"2026-11-25T11:23:45.678Z\",\"level\":\"info\",\"msg\":\"say \\\"hi\\\"\\n\","
                              "\"ns\":\"a b\",\"n\":12,\"ok\":true,\"password\":\"[redacted]\",\"nothing\":null}\n");
    json_error_t error;
    json_t *parsed = json_loads(line, 0, &error);
    assert_non_null(parsed);
    json_decref(parsed);
}

static void testLongLinesAreTruncatedButWellFormed(void **state)
{
    LogFixture *fixture = *state;
    static char big[LOG_LINE_MAX * 2];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    logInfo(&fixture->log, "m", logStr("small", "s"), logStr("big", big), logStr("after", "a"));
    const char *line = readLog(fixture);
    assert_true(strlen(line) <= LOG_LINE_MAX);
    assert_contains(line, "msg=m small=s truncated=true\n");

    fixture->log.format = logFormatJson;
    logInfo(&fixture->log, big, logStr("after", "a"));
    line = readLog(fixture);
    assert_true(strlen(line) <= LOG_LINE_MAX);
    json_error_t error;
    json_t *parsed = json_loads(line, 0, &error);
    assert_non_null(parsed);
    assert_true(json_is_true(json_object_get(parsed, "truncated")));
    assert_null(json_object_get(parsed, "after"));
    json_decref(parsed);

    /* A message of escapes cut at any point still closes its string. */
    for (size_t ctlIdx = 0; ctlIdx < sizeof(big) - 1; ctlIdx++)
        big[ctlIdx] = '\x02';
    logInfo(&fixture->log, big);
    line = readLog(fixture);
    parsed = json_loads(line, 0, &error);
    assert_non_null(parsed);
    json_decref(parsed);

    fixture->log.format = logFormatText;
    memset(big, 'w', sizeof(big) - 1);
    logInfo(&fixture->log, big);
    line = readLog(fixture);
    assert_true(strlen(line) <= LOG_LINE_MAX);
    assert_contains(line, "www truncated=true\n");
}

static void testWriteFailureIsSilent(void **state)
{
    LogFixture *fixture = *state;
    Log closed;
    logInit(&closed, -1, logLevelInfo, logFormatText, clockFake(&fixture->clock));
    logInfo(&closed, "nowhere");
}

static void testParseNames(void **state)
{
    (void)state;
    LogLevel level;
    LogFormat format;
    assert_true(logLevelParse("debug", &level));
    assert_int_equal(level, logLevelDebug);
    assert_true(logLevelParse("error", &level));
    assert_int_equal(level, logLevelError);
    assert_false(logLevelParse("loud", &level));
    assert_true(logFormatParse("json", &format));
    assert_int_equal(format, logFormatJson);
    assert_true(logFormatParse("text", &format));
    assert_int_equal(format, logFormatText);
    assert_false(logFormatParse("xml", &format));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testTextLine, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testTextQuoting, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLevelFilter, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSecretsAreRedacted, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testJsonLine, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLongLinesAreTruncatedButWellFormed, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWriteFailureIsSilent, setUp, tearDown),
        cmocka_unit_test(testParseNames),
    };
    return cmocka_run_group_tests_name("common/log", tests, NULL, NULL);
}
