/* Unit tests: kube/quantity. */
#include "harness/harness.h"

#include "kube/quantity.h"

typedef struct QuantityCase {
    const char *text;
    int64_t value; /* scaled to units, rounded up */
    int64_t milli; /* scaled to milli-units, rounded up */
} QuantityCase;

static void testParseAndScale(void **state)
{
    (void)state;
    static const QuantityCase cases[] = {
        {"0", 0, 0},
        {"1", 1, 1000},
        {"500m", 1, 500},
        {"100m", 1, 100},
        {"1.5", 2, 1500},
        {"0.1", 1, 100},
        {"1Ki", 1024, 1024000},
        {"1Gi", 1073741824, 1073741824000},
        {"1.5Gi", 1610612736, 1610612736000},
        {"0.5Ki", 512, 512000},
        {"2e3", 2000, 2000000},
        {"2E3", 2000, 2000000},
        {"1e-3", 1, 1},
        {"+5", 5, 5000},
        {"-5", -5, -5000},
        {"-1.5", -1, -1500},
        {"100M", 100000000, 100000000000},
        {"1k", 1000, 1000000},
        {"1u", 1, 1},
        {"1n", 1, 1},
        {"1E", INT64_C(1000000000000000000), 0}, /* milli overflows: checked separately */
        {"1Ei", INT64_C(1152921504606846976), 0},
        {"1T", 1000000000000, 1000000000000000},
        {"1Pi", INT64_C(1125899906842624), INT64_C(1125899906842624000)},
        {"5.", 5, 5000},
        {".5", 1, 500},
        {"000123.4500", 124, 123450},
        {"1.000000000000000000000000", 1, 1000},
        {"12e+2", 1200, 1200000},
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(cases) / sizeof(cases[0]); caseIdx++) {
        KubeQuantity quantity;
        Err err;
        int64_t value, milli;
        if (!kubeQuantityParse(cases[caseIdx].text, &quantity, &err))
            fail_msg("\"%s\": %s", cases[caseIdx].text, err.message);
        assert_true(kubeQuantityScaled(quantity, 0, &value, &err));
        if (value != cases[caseIdx].value)
            fail_msg("\"%s\": value %lld, expected %lld", cases[caseIdx].text, (long long)value,
                     (long long)cases[caseIdx].value);
        if (cases[caseIdx].milli != 0 || cases[caseIdx].value == 0) {
            assert_true(kubeQuantityScaled(quantity, -3, &milli, &err));
            if (milli != cases[caseIdx].milli)
                fail_msg("\"%s\": milli %lld, expected %lld", cases[caseIdx].text, (long long)milli,
                         (long long)cases[caseIdx].milli);
        }
    }
}

static void testNormalised(void **state)
{
    (void)state;
    KubeQuantity a, b;
    Err err;
    assert_true(kubeQuantityParse("1.500", &a, &err));
    assert_true(kubeQuantityParse("1500m", &b, &err));
    assert_true(a.mantissa == 15 && a.exponent == -1);
    assert_true(b.mantissa == 15 && b.exponent == -1);
    assert_true(kubeQuantityParse("0.000", &a, &err));
    assert_true(a.mantissa == 0 && a.exponent == 0);
    assert_true(kubeQuantityParse("-0", &a, &err));
    assert_true(a.mantissa == 0);
}

static void testMalformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "m",
        "+",
        "-",
        ".",
        "1.2.3",
        "1x",
        "1 Gi",
        "1gi",
        "1KiB",
        "1e",
        "1e+",
        "1e3x",
        "1e1001",
        "1E-1001",
        " 1",
        "1..",
        "--1",
        "1234567890123456789",
        "9Ei",
        "1e-",
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(bad) / sizeof(bad[0]); caseIdx++) {
        KubeQuantity quantity;
        Err err;
        errClear(&err);
        if (kubeQuantityParse(bad[caseIdx], &quantity, &err))
            fail_msg("\"%s\" was accepted", bad[caseIdx]);
        assert_err(&err, errQuantity);
    }
}

static void testScaledOutOfRange(void **state)
{
    (void)state;
    KubeQuantity quantity;
    Err err;
    int64_t value;
    assert_true(kubeQuantityParse("1E", &quantity, &err));
    assert_false(kubeQuantityScaled(quantity, -3, &value, &err));
    assert_err(&err, errQuantity);
    assert_true(kubeQuantityParse("1e100", &quantity, &err));
    assert_false(kubeQuantityScaled(quantity, 0, &value, &err));
    assert_true(kubeQuantityParse("1e-100", &quantity, &err));
    assert_true(kubeQuantityScaled(quantity, 0, &value, &err));
    assert_int_equal(value, 1);
    assert_true(kubeQuantityParse("-1e-100", &quantity, &err));
    assert_true(kubeQuantityScaled(quantity, 0, &value, &err));
    assert_int_equal(value, 0);
    assert_true(kubeQuantityParse("0", &quantity, &err));
    assert_true(kubeQuantityScaled(quantity, 100, &value, &err));
    assert_int_equal(value, 0);
    assert_true(kubeQuantityParse("5Gi", &quantity, &err));
    assert_true(kubeQuantityScaled(quantity, 9, &value, &err)); /* in G, rounded up */
    assert_int_equal(value, 6);
}

static int compareTexts(const char *left, const char *right)
{
    KubeQuantity a, b;
    Err err;
    assert_true(kubeQuantityParse(left, &a, &err));
    assert_true(kubeQuantityParse(right, &b, &err));
    return kubeQuantityCompare(a, b);
}

static void testCompare(void **state)
{
    (void)state;
    assert_int_equal(compareTexts("1Gi", "1073741824"), 0);
    assert_int_equal(compareTexts("1500m", "1.5"), 0);
    assert_true(compareTexts("1Gi", "1G") > 0);
    assert_true(compareTexts("1G", "1Gi") < 0);
    assert_true(compareTexts("999Mi", "1Gi") < 0);
    assert_true(compareTexts("10", "9.99") > 0);
    assert_true(compareTexts("-1", "1") < 0);
    assert_true(compareTexts("0", "-1") > 0);
    assert_int_equal(compareTexts("0", "0m"), 0);
    assert_true(compareTexts("-2", "-1") < 0);
    assert_true(compareTexts("-10", "-9") < 0);
    assert_true(compareTexts("1e-50", "1e50") < 0);
    assert_true(compareTexts("123456789012345678", "123456789012345679") < 0);
    assert_true(compareTexts("12345678901234568e1", "123456789012345679") > 0);
    assert_true(compareTexts("1.1", "1.01") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testParseAndScale),    cmocka_unit_test(testNormalised), cmocka_unit_test(testMalformed),
        cmocka_unit_test(testScaledOutOfRange), cmocka_unit_test(testCompare),
    };
    return cmocka_run_group_tests_name("kube/quantity", tests, NULL, NULL);
}
