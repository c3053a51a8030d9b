/* Unit tests: common/json, including an allocation-failure sweep over parsing, lookup and serialisation. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/json.h"

#include <string.h>

static const char podJson[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
    "\"metadata\":{\"name\":\"hippo-instance1-abcd-0\",\"namespace\":\"postgres-operator\","
    "\"labels\":{\"postgres-operator.crunchydata.com/cluster\":\"hippo\",\"plain\":\"p\"},"
    "\"deletionTimestamp\":null,\"generation\":7},"
    "\"spec\":{\"containers\":[{\"name\":\"database\",\"image\":\"postgres:17\"},{\"name\":\"pgbackrest\"}],"
    "\"hostNetwork\":false},"
    "\"status\":{\"replicas\":3,\"ratio\":0.5,\"big\":9007199254740993,\"phase\":\"Running\"}}";

static json_t *loadPod(void)
{
    json_t *pod;
    Err err;
    assert_true(jsonParse(podJson, sizeof(podJson) - 1, &pod, &err));
    return pod;
}

static void testParse(void **state)
{
    (void)state;
    json_t *value;
    Err err;
    assert_true(jsonParse("[1,2]", 5, &value, &err));
    assert_true(json_is_array(value));
    json_decref(value);

    assert_false(jsonParse("{\"a\":1,", 7, &value, &err));
    assert_err(&err, errJsonSyntax);
    assert_contains(err.message, "malformed json at line 1 column");

    assert_false(jsonParse("{\"a\":1,\"a\":2}", 13, &value, &err));
    assert_err(&err, errJsonSyntax);
    assert_contains(err.message, "duplicate");

    assert_false(jsonParse("{} {}", 5, &value, &err));
    assert_err(&err, errJsonSyntax);
}

static void testGetters(void **state)
{
    (void)state;
    json_t *pod = loadPod();
    Err err;
    const char *str;
    int64_t num;
    bool flag;
    json_t *value;

    assert_true(jsonGetStr(pod, "metadata.name", &str, &err));
    assert_string_equal(str, "hippo-instance1-abcd-0");
    assert_true(jsonGetStr(pod, "metadata.labels[\"postgres-operator.crunchydata.com/cluster\"]", &str, &err));
    assert_string_equal(str, "hippo");
    assert_true(jsonGetStr(pod, "metadata.labels.plain", &str, &err));
    assert_string_equal(str, "p");
    assert_true(jsonGetStr(pod, "spec.containers[0].image", &str, &err));
    assert_string_equal(str, "postgres:17");
    assert_true(jsonGetStr(pod, "spec.containers[1].name", &str, &err));
    assert_string_equal(str, "pgbackrest");
    assert_true(jsonGetInt64(pod, "status.replicas", &num, &err));
    assert_int_equal(num, 3);
    assert_true(jsonGetInt64(pod, "status.big", &num, &err));
    assert_true(num == INT64_C(9007199254740993));
    assert_true(jsonGetBool(pod, "spec.hostNetwork", &flag, &err));
    assert_false(flag);
    assert_true(jsonGetObject(pod, "metadata.labels", &value, &err));
    assert_int_equal(json_object_size(value), 2);
    assert_true(jsonGetArray(pod, "spec.containers", &value, &err));
    assert_int_equal(json_array_size(value), 2);
    assert_true(jsonGet(pod, "status.ratio", &value, &err));
    assert_true(json_is_real(value));
    assert_true(jsonGet(pod, "[\"kind\"]", &value, &err));
    assert_string_equal(json_string_value(value), "Pod");
    json_decref(pod);
}

static void testMissingAndNull(void **state)
{
    (void)state;
    json_t *pod = loadPod();
    Err err;
    const char *str;
    int64_t num;
    bool flag;
    json_t *value;

    assert_false(jsonGetStr(pod, "metadata.uid", &str, &err));
    assert_err(&err, errJsonMissing);
    assert_string_equal(err.message, "json path \"metadata.uid\": missing");
    assert_false(jsonGet(pod, "metadata.deletionTimestamp", &value, &err));
    assert_err(&err, errJsonMissing);
    assert_false(jsonGetInt64(pod, "spec.containers[5].x", &num, &err));
    assert_err(&err, errJsonMissing);
    assert_false(jsonGetBool(pod, "status.ready", &flag, &err));
    assert_err(&err, errJsonMissing);
    assert_false(jsonGetObject(pod, "nothing.here", &value, &err));
    assert_err(&err, errJsonMissing);
    assert_false(jsonGetArray(pod, "nothing", &value, &err));
    assert_err(&err, errJsonMissing);

    assert_true(jsonFindStr(pod, "metadata.uid", "none", &str, &err));
    assert_string_equal(str, "none");
    assert_true(jsonFindStr(pod, "metadata.deletionTimestamp.sub", NULL, &str, &err));
    assert_null(str);
    assert_true(jsonFindStr(pod, "status.phase", NULL, &str, &err));
    assert_string_equal(str, "Running");
    assert_true(jsonFindInt64(pod, "metadata.generation", -1, &num, &err));
    assert_int_equal(num, 7);
    assert_true(jsonFindInt64(pod, "status.observed", -1, &num, &err));
    assert_int_equal(num, -1);
    assert_true(jsonFindBool(pod, "spec.hostNetwork", true, &flag, &err));
    assert_false(flag);
    assert_true(jsonFindBool(pod, "spec.hostPID", true, &flag, &err));
    assert_true(flag);
    assert_true(jsonFindObject(pod, "spec.securityContext", &value, &err));
    assert_null(value);
    assert_true(jsonFindObject(pod, "spec", &value, &err));
    assert_non_null(value);
    assert_true(jsonFindArray(pod, "spec.volumes", &value, &err));
    assert_null(value);
    assert_true(jsonFindArray(pod, "spec.containers", &value, &err));
    assert_non_null(value);
    json_decref(pod);
}

static void testWrongTypes(void **state)
{
    (void)state;
    json_t *pod = loadPod();
    Err err;
    const char *str;
    int64_t num;
    bool flag;
    json_t *value;

    assert_false(jsonGetInt64(pod, "metadata.name", &num, &err));
    assert_err(&err, errJsonType);
    assert_string_equal(err.message, "json path \"metadata.name\": expected integer, found string");
    assert_false(jsonGetInt64(pod, "status.ratio", &num, &err));
    assert_string_equal(err.message, "json path \"status.ratio\": expected integer, found real");
    assert_false(jsonGetStr(pod, "status.replicas", &str, &err));
    assert_err(&err, errJsonType);
    assert_false(jsonGetBool(pod, "status.phase", &flag, &err));
    assert_err(&err, errJsonType);
    assert_false(jsonGetObject(pod, "spec.containers", &value, &err));
    assert_string_equal(err.message, "json path \"spec.containers\": expected object, found array");
    assert_false(jsonGetArray(pod, "spec", &value, &err));
    assert_err(&err, errJsonType);
    assert_false(jsonFindStr(pod, "status.replicas", NULL, &str, &err));
    assert_err(&err, errJsonType);
    assert_false(jsonFindInt64(pod, "status.phase", 0, &num, &err));
    assert_err(&err, errJsonType);
    assert_false(jsonFindBool(pod, "status.phase", false, &flag, &err));
    assert_err(&err, errJsonType);
    assert_false(jsonFindObject(pod, "status.phase", &value, &err));
    assert_err(&err, errJsonType);
    assert_false(jsonFindArray(pod, "status.phase", &value, &err));
    assert_err(&err, errJsonType);

    /* Descending through a value that is not a container. */
    assert_false(jsonGetStr(pod, "metadata.name.first", &str, &err));
    assert_err(&err, errJsonType);
    assert_string_equal(err.message, "json path \"metadata.name.first\": \"metadata.name\" is string, not an object");
    assert_false(jsonGetStr(pod, "metadata[0]", &str, &err));
    assert_string_equal(err.message, "json path \"metadata[0]\": \"metadata\" is object, not an array");
    assert_false(jsonGetStr(pod, "kind.x", &str, &err));
    assert_string_equal(err.message, "json path \"kind.x\": \"kind\" is string, not an object");

    json_t *array = json_pack("[b, n]", 1);
    assert_false(jsonGetStr(array, "a", &str, &err));
    assert_string_equal(err.message, "json path \"a\": \"\" is array, not an object");
    assert_true(jsonGetBool(array, "[0]", &flag, &err));
    assert_true(flag);
    json_decref(array);
    json_decref(pod);
}

static void testMalformedPaths(void **state)
{
    (void)state;
    json_t *pod = loadPod();
    Err err;
    json_t *value;
    static const char *const badPaths[] = {
        "",
        ".a",
        "a.",
        "a..b",
        "a.[0]",
        "a[",
        "a[x]",
        "a[1",
        "a[-1]",
        "a[99999999999999999999999]",
        "a[\"b",
        "a[\"\"]",
        "a]",
        "a\"b",
        "a[0]b",
        "a[\"k\"]x",
        "metadata.uid.[0]",
        "metadata.uid..x",
        "status.none[z]",
    };
    for (size_t pathIdx = 0; pathIdx < sizeof(badPaths) / sizeof(badPaths[0]); pathIdx++) {
        errClear(&err);
        if (jsonGet(pod, badPaths[pathIdx], &value, &err))
            fail_msg("path \"%s\" was accepted", badPaths[pathIdx]);
        if (err.code != errJsonPath)
            fail_msg("path \"%s\": %s: %s", badPaths[pathIdx], errCodeName(err.code), err.message);
    }
    json_decref(pod);
}

static void testTypeNames(void **state)
{
    (void)state;
    json_t *values = json_loads("[{}, [], \"s\", 1, 1.5, true, false, null]", 0, NULL);
    static const char *const names[] = {"object", "array", "string", "integer", "real", "boolean", "boolean", "null"};
    for (size_t valueIdx = 0; valueIdx < json_array_size(values); valueIdx++)
        assert_string_equal(jsonTypeName(json_array_get(values, valueIdx)), names[valueIdx]);
    json_decref(values);
}

static void testDumpIsCanonical(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    json_t *value = json_pack("{s:i, s:{s:b, s:s}, s:[i, n]}", "zeta", 0, "alpha", "y", 0, "x", "v", "mid", 1);
    StrBuf out;
    strBufInit(&out, ctx, 1024);
    Err err;
    assert_true(jsonDump(value, &out, &err));
    assert_string_equal(strBufStr(&out), "{\"alpha\":{\"x\":\"v\",\"y\":false},\"mid\":[1,null],\"zeta\":0}");

    StrBuf small;
    strBufInit(&small, ctx, 10);
    assert_false(jsonDump(value, &small, &err));
    assert_err(&err, errTooLarge);

    json_t *cycle = json_object();
    json_t *inner = json_array();
    assert_int_equal(json_object_set_new(cycle, "inner", inner), 0);
    assert_int_equal(json_array_append(inner, cycle), 0);
    assert_false(jsonDump(cycle, &out, &err));
    assert_err(&err, errInvalidArgument);
    json_array_clear(inner);
    json_decref(cycle);

    json_t *scalar = json_string("plain");
    strBufClear(&out);
    assert_true(jsonDump(scalar, &out, &err));
    assert_string_equal(strBufStr(&out), "\"plain\"");
    json_decref(scalar);
    json_decref(value);
    memCtxFree(ctx);
}

/* The sweep: parse a document, read typed values from it, serialise it. */
static bool parseReadDump(void *arg, Err *err)
{
    (void)arg;
    json_t *pod;
    if (!jsonParse(podJson, sizeof(podJson) - 1, &pod, err))
        return false;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    bool ok = ctx != NULL || errSet(err, errOutOfMemory, "ctx");
    const char *name;
    int64_t replicas;
    ok = ok && jsonGetStr(pod, "metadata.labels[\"postgres-operator.crunchydata.com/cluster\"]", &name, err);
    ok = ok && jsonGetInt64(pod, "status.replicas", &replicas, err);
    StrBuf out;
    if (ok) {
        strBufInit(&out, ctx, 1 << 16);
        ok = jsonDump(pod, &out, err) && strcmp(strBufStr(&out), "") != 0;
    }
    memCtxFree(ctx);
    json_decref(pod);
    return ok;
}

static void testAllocationFailureSweep(void **state)
{
    (void)state;
    unsigned allocations = harnessAllocSweep(parseReadDump, NULL, false);
    assert_true(allocations > 20);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testParse),           cmocka_unit_test(testGetters),
        cmocka_unit_test(testMissingAndNull),  cmocka_unit_test(testWrongTypes),
        cmocka_unit_test(testMalformedPaths),  cmocka_unit_test(testTypeNames),
        cmocka_unit_test(testDumpIsCanonical), cmocka_unit_test(testAllocationFailureSweep),
    };
    return cmocka_run_group_tests_name("common/json", tests, NULL, NULL);
}
