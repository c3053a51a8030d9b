/* Unit tests: kube/watch. The stream is fed split at every byte boundary, and swept for allocation failures. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "kube/watch.h"

#include <string.h>

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"12\"}}}\r\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}}\n";

typedef struct EventLog {
    char text[1024];
    int count;
    int stopAfter; /* > 0: the handler fails on this event */
} EventLog;

static bool recordEvent(void *arg, const KubeWatchEvent *event, Err *err)
{
    EventLog *log = arg;
    log->count++;
    if (log->stopAfter > 0 && log->count == log->stopAfter)
        return errSet(err, errInvalidArgument, "handler stopped");
    const char *name = json_string_value(json_object_get(json_object_get(event->object, "metadata"), "name"));
    size_t used = strlen(log->text);
    snprintf(log->text + used, sizeof(log->text) - used, "%s:%s:%s;", kubeWatchEventTypeName(event->type),
             name ? name : "-", event->resourceVersion ? event->resourceVersion : "-");
    return true;
}

static const char expectedLog[] = "ADDED:a:10;MODIFIED:a:11;BOOKMARK:-:12;DELETED:a:-;";

static void testWholeStream(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    KubeWatchStream watch;
    kubeWatchStreamInit(&watch, ctx, KUBE_WATCH_DEFAULT_MAX_LINE);
    EventLog log = {0};
    Err err;
    assert_true(kubeWatchStreamFeed(&watch, stream, strlen(stream), recordEvent, &log, &err));
    assert_true(kubeWatchStreamFinish(&watch, &err));
    assert_string_equal(log.text, expectedLog);
    kubeWatchStreamFree(&watch);
    memCtxFree(ctx);
}

static void testEverySplitPoint(void **state)
{
    (void)state;
    size_t len = strlen(stream);
    for (size_t first = 0; first <= len; first++) {
        for (size_t second = first; second <= len; second += 7) {
            MemCtx *ctx = memCtxNew(NULL, "t");
            KubeWatchStream watch;
            kubeWatchStreamInit(&watch, ctx, 200);
            EventLog log = {0};
            Err err;
            assert_true(kubeWatchStreamFeed(&watch, stream, first, recordEvent, &log, &err));
            assert_true(kubeWatchStreamFeed(&watch, stream + first, second - first, recordEvent, &log, &err));
            assert_true(kubeWatchStreamFeed(&watch, stream + second, len - second, recordEvent, &log, &err));
            assert_true(kubeWatchStreamFinish(&watch, &err));
            assert_string_equal(log.text, expectedLog);
            memCtxFree(ctx);
        }
    }
}

static void testByteAtATime(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    KubeWatchStream watch;
    kubeWatchStreamInit(&watch, ctx, 200);
    EventLog log = {0};
    Err err;
    for (size_t byteIdx = 0; byteIdx < strlen(stream); byteIdx++)
        assert_true(kubeWatchStreamFeed(&watch, stream + byteIdx, 1, recordEvent, &log, &err));
    assert_true(kubeWatchStreamFinish(&watch, &err));
    assert_string_equal(log.text, expectedLog);
    memCtxFree(ctx);
}

static void testOversizedLineIsRejectedWhateverTheSplit(void **state)
{
    (void)state;
    char line[300];
    memset(line, ' ', sizeof(line));
    memcpy(line, "{\"type\":\"ADDED\",\"object\":{}}", 28);
    line[sizeof(line) - 1] = '\n';
    for (size_t split = 0; split <= sizeof(line); split += 50) {
        MemCtx *ctx = memCtxNew(NULL, "t");
        KubeWatchStream watch;
        kubeWatchStreamInit(&watch, ctx, 100);
        EventLog log = {0};
        Err err;
        bool ok = kubeWatchStreamFeed(&watch, line, split, recordEvent, &log, &err) &&
                  kubeWatchStreamFeed(&watch, line + split, sizeof(line) - split, recordEvent, &log, &err);
        assert_false(ok);
        assert_err(&err, errTooLarge);
        assert_int_equal(log.count, 0);
        /* The stream is dead now. */
        assert_false(kubeWatchStreamFeed(&watch, "\n", 1, recordEvent, &log, &err));
        assert_err(&err, errInvalidArgument);
        assert_false(kubeWatchStreamFinish(&watch, &err));
        memCtxFree(ctx);
    }
}

static void testExactlyMaxLineIsAccepted(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    static const char event[] = "{\"type\":\"ADDED\",\"object\":{}}\n";
    size_t lineLen = strlen(event) - 1;
    KubeWatchStream watch;
    kubeWatchStreamInit(&watch, ctx, lineLen);
    EventLog log = {0};
    Err err;
    assert_true(kubeWatchStreamFeed(&watch, event, 5, recordEvent, &log, &err));
    assert_true(kubeWatchStreamFeed(&watch, event + 5, strlen(event) - 5, recordEvent, &log, &err));
    assert_int_equal(log.count, 1);
    memCtxFree(ctx);
}

static void testErrorEvents(void **state)
{
    (void)state;
    static const char gone[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\","
                               "\"message\":\"too old resource version: 5 (20)\",\"reason\":\"Expired\","
                               "\"code\":410}}\n";
    static const char internal[] =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"message\":\"etcd down\",\"code\":500}}\n";
    static const char goneWithoutReason[] = "{\"type\":\"ERROR\",\"object\":{\"code\":410}}\n";
    MemCtx *ctx = memCtxNew(NULL, "t");
    KubeWatchStream watch;
    EventLog log = {0};
    Err err;

    kubeWatchStreamInit(&watch, ctx, 4096);
    assert_false(kubeWatchStreamFeed(&watch, gone, strlen(gone), recordEvent, &log, &err));
    assert_err(&err, errKubeGone);
    assert_int_equal(err.httpStatus, 410);
    assert_string_equal(err.message, "watch ended by the api server: too old resource version: 5 (20)");

    kubeWatchStreamInit(&watch, ctx, 4096);
    assert_false(kubeWatchStreamFeed(&watch, internal, strlen(internal), recordEvent, &log, &err));
    assert_err(&err, errKubeServer);

    kubeWatchStreamInit(&watch, ctx, 4096);
    assert_false(kubeWatchStreamFeed(&watch, goneWithoutReason, strlen(goneWithoutReason), recordEvent, &log, &err));
    assert_err(&err, errKubeGone);
    assert_int_equal(log.count, 0);
    memCtxFree(ctx);
}

static void testMalformedEvents(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not json\n",
        "{\"type\":\"ADDED\"}\n",
        "{\"object\":{}}\n",
        "{\"type\":\"ADDED\",\"object\":[]}\n",
        "{\"type\":7,\"object\":{}}\n",
        "{\"type\":\"RENAMED\",\"object\":{}}\n",
        "[]\n",
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(bad) / sizeof(bad[0]); caseIdx++) {
        MemCtx *ctx = memCtxNew(NULL, "t");
        KubeWatchStream watch;
        kubeWatchStreamInit(&watch, ctx, 4096);
        EventLog log = {0};
        Err err;
        errClear(&err);
        assert_false(kubeWatchStreamFeed(&watch, bad[caseIdx], strlen(bad[caseIdx]), recordEvent, &log, &err));
        if (err.code != errWatchFormat && err.code != errJsonSyntax)
            fail_msg("case %zu: %s: %s", caseIdx, errCodeName(err.code), err.message);
        assert_contains(err.message, "watch event");
        memCtxFree(ctx);
    }
}

static void testTruncatedStreamAndHandlerStop(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    KubeWatchStream watch;
    EventLog log = {0};
    Err err;
    kubeWatchStreamInit(&watch, ctx, 4096);
    assert_true(kubeWatchStreamFeed(&watch, stream, 40, recordEvent, &log, &err));
    assert_false(kubeWatchStreamFinish(&watch, &err));
    assert_err(&err, errWatchFormat);
    assert_contains(err.message, "40 bytes unfinished");

    kubeWatchStreamInit(&watch, ctx, 4096);
    log = (EventLog){.stopAfter = 2};
    assert_false(kubeWatchStreamFeed(&watch, stream, strlen(stream), recordEvent, &log, &err));
    assert_string_equal(err.message, "handler stopped");
    assert_int_equal(log.count, 2);

    /* A resourceVersion of the wrong type is reported as absent. */
    static const char oddVersion[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":5}}}\n";
    kubeWatchStreamInit(&watch, ctx, 4096);
    log = (EventLog){0};
    assert_true(kubeWatchStreamFeed(&watch, oddVersion, strlen(oddVersion), recordEvent, &log, &err));
    assert_string_equal(log.text, "ADDED:-:-;");

    /* A NULL err is allowed. */
    kubeWatchStreamInit(&watch, ctx, 4096);
    assert_false(kubeWatchStreamFeed(&watch, "x\n", 2, recordEvent, &log, NULL));
    memCtxFree(ctx);
}

/* Feeds the stream in three uneven chunks, so both in-place and buffered lines are decoded. */
static bool feedStream(void *arg, Err *err)
{
    (void)arg;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "ctx");
    KubeWatchStream watch;
    kubeWatchStreamInit(&watch, ctx, 4096);
    EventLog log = {0};
    size_t len = strlen(stream);
    bool ok = kubeWatchStreamFeed(&watch, stream, 30, recordEvent, &log, err) &&
              kubeWatchStreamFeed(&watch, stream + 30, 150, recordEvent, &log, err) &&
              kubeWatchStreamFeed(&watch, stream + 180, len - 180, recordEvent, &log, err) &&
              kubeWatchStreamFinish(&watch, err);
    if (ok && strcmp(log.text, expectedLog) != 0)
        ok = errSet(err, errInvalidArgument, "events differ: %s", log.text);
    memCtxFree(ctx);
    return ok;
}

static void testAllocationFailureSweep(void **state)
{
    (void)state;
    assert_true(harnessAllocSweep(feedStream, NULL, false) > 20);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testWholeStream),
        cmocka_unit_test(testEverySplitPoint),
        cmocka_unit_test(testByteAtATime),
        cmocka_unit_test(testOversizedLineIsRejectedWhateverTheSplit),
        cmocka_unit_test(testExactlyMaxLineIsAccepted),
        cmocka_unit_test(testErrorEvents),
        cmocka_unit_test(testMalformedEvents),
        cmocka_unit_test(testTruncatedStreamAndHandlerStop),
        cmocka_unit_test(testAllocationFailureSweep),
    };
    return cmocka_run_group_tests_name("kube/watch", tests, NULL, NULL);
}
