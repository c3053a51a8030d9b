/* Unit tests: kube/selector. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "kube/selector.h"

#include <string.h>

static KubeSelector *parseOk(MemCtx *ctx, const char *text)
{
    KubeSelector *selector;
    Err err;
    if (!kubeSelectorParse(ctx, text, &selector, &err))
        fail_msg("\"%s\": %s", text, err.message);
    return selector;
}

static void testParseEveryOperator(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    KubeSelector *selector = parseOk(ctx, " postgres-operator.crunchydata.com/cluster = hippo , role==master,"
                                          "tier!=web, env in (prod, qa ), zone notin (a),partition, ! canary ");
    assert_int_equal(selector->count, 7);
    const KubeRequirement *req = selector->requirements;
    assert_string_equal(req[0].key, "postgres-operator.crunchydata.com/cluster");
    assert_int_equal(req[0].op, kubeSelectorEquals);
    assert_int_equal(req[0].valueCount, 1);
    assert_string_equal(req[0].values[0], "hippo");
    assert_int_equal(req[1].op, kubeSelectorEquals);
    assert_string_equal(req[1].values[0], "master");
    assert_int_equal(req[2].op, kubeSelectorNotEquals);
    assert_int_equal(req[3].op, kubeSelectorIn);
    assert_int_equal(req[3].valueCount, 2);
    assert_string_equal(req[3].values[1], "qa");
    assert_int_equal(req[4].op, kubeSelectorNotIn);
    assert_int_equal(req[5].op, kubeSelectorExists);
    assert_string_equal(req[5].key, "partition");
    assert_int_equal(req[6].op, kubeSelectorDoesNotExist);
    assert_string_equal(req[6].key, "canary");

    assert_int_equal(parseOk(ctx, "")->count, 0);
    assert_int_equal(parseOk(ctx, "   ")->count, 0);
    KubeSelector *empty = parseOk(ctx, "a=");
    assert_string_equal(empty->requirements[0].values[0], "");
    /* "in" is a keyword only after a key. */
    KubeSelector *keyword = parseOk(ctx, "in in (in),notin");
    assert_string_equal(keyword->requirements[0].key, "in");
    assert_int_equal(keyword->requirements[0].op, kubeSelectorIn);
    assert_string_equal(keyword->requirements[1].key, "notin");
    assert_int_equal(keyword->requirements[1].op, kubeSelectorExists);
    memCtxFree(ctx);
}

static void testMalformed(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    static const char *const bad[] = {
        "a=b,",  ",a",      "a b", "a=b c", "a in b", "a in (b",  "a in ()",   "a in (b c)", "a=(b)",
        "!",     "!a=b",    "a!b", "-a",    "a-",     "A/b",      "a/",        "/a",         "a/b/c",
        "a=b=c", "a notin", "=b",  "a>1",   "a=-b",   "a.-b.c/d", "a in (b,)", "a$",
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(bad) / sizeof(bad[0]); caseIdx++) {
        KubeSelector *selector;
        Err err;
        errClear(&err);
        if (kubeSelectorParse(ctx, bad[caseIdx], &selector, &err))
            fail_msg("\"%s\" was accepted", bad[caseIdx]);
        assert_err(&err, errSelector);
        assert_contains(err.message, "offset");
    }
    static char huge[KUBE_SELECTOR_MAX_LENGTH + 2];
    memset(huge, 'a', sizeof(huge) - 1);
    KubeSelector *selector;
    Err err;
    assert_false(kubeSelectorParse(ctx, huge, &selector, &err));
    assert_err(&err, errSelector);
    memCtxFree(ctx);
}

static void testLabelSyntax(void **state)
{
    (void)state;
    char name[65];
    memset(name, 'n', sizeof(name));
    assert_true(kubeLabelKeyValid(name, 63));
    assert_false(kubeLabelKeyValid(name, 64));
    assert_true(kubeLabelValueValid(name, 63));
    assert_false(kubeLabelValueValid(name, 64));
    assert_true(kubeLabelValueValid("", 0));
    assert_false(kubeLabelKeyValid("", 0));
    assert_true(kubeLabelKeyValid("a_b.c-d", 7));
    assert_false(kubeLabelKeyValid("Example.com/a", 13));
    assert_true(kubeLabelKeyValid("example.com/a", 13));
    assert_false(kubeLabelKeyValid("-x.com/a", 8));
    assert_false(kubeLabelKeyValid("x..com/a", 8));

    char prefix[300];
    memset(prefix, 'p', sizeof(prefix));
    for (size_t dotIdx = 60; dotIdx < sizeof(prefix); dotIdx += 61)
        prefix[dotIdx] = '.';
    prefix[253] = '/';
    prefix[254] = 'x';
    assert_true(kubeLabelKeyValid(prefix, 255));
    prefix[253] = 'p';
    prefix[254] = '/';
    prefix[255] = 'x';
    assert_false(kubeLabelKeyValid(prefix, 256));
    char longLabel[80];
    memset(longLabel, 'l', sizeof(longLabel));
    longLabel[64] = '/';
    assert_false(kubeLabelKeyValid(longLabel, 66));
}

static void testMatches(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    json_t *labels = json_pack("{s:s, s:s, s:s}", "cluster", "hippo", "role", "master", "env", "prod");
    static const struct {
        const char *selector;
        bool matches;
    } cases[] = {
        {"", true},
        {"cluster=hippo", true},
        {"cluster=rhino", false},
        {"cluster==hippo,role=master", true},
        {"cluster=hippo,role=replica", false},
        {"role!=replica", true},
        {"role!=master", false},
        {"missing!=x", true},
        {"env in (qa, prod)", true},
        {"env in (qa)", false},
        {"missing in (x)", false},
        {"env notin (qa)", true},
        {"env notin (prod)", false},
        {"missing notin (x)", true},
        {"cluster", true},
        {"missing", false},
        {"!missing", true},
        {"!cluster", false},
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(cases) / sizeof(cases[0]); caseIdx++) {
        KubeSelector *selector = parseOk(ctx, cases[caseIdx].selector);
        if (kubeSelectorMatches(selector, labels) != cases[caseIdx].matches)
            fail_msg("\"%s\" should %smatch", cases[caseIdx].selector, cases[caseIdx].matches ? "" : "not ");
    }
    /* No labels at all. */
    assert_true(kubeSelectorMatches(parseOk(ctx, "!a,b!=c"), NULL));
    assert_false(kubeSelectorMatches(parseOk(ctx, "a"), NULL));
    json_decref(labels);
    memCtxFree(ctx);
}

static bool parseSelector(void *arg, Err *err)
{
    (void)arg;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "ctx");
    KubeSelector *selector;
    bool ok = kubeSelectorParse(ctx, "a=b,c in (d,e,f),!g,h notin (i)", &selector, err);
    memCtxFree(ctx);
    return ok;
}

static void testAllocationFailureSweep(void **state)
{
    (void)state;
    assert_true(harnessAllocSweep(parseSelector, NULL, false) > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testParseEveryOperator),
        cmocka_unit_test(testMalformed),
        cmocka_unit_test(testLabelSyntax),
        cmocka_unit_test(testMatches),
        cmocka_unit_test(testAllocationFailureSweep),
    };
    return cmocka_run_group_tests_name("kube/selector", tests, NULL, NULL);
}
