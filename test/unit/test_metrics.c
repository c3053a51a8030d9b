/* Unit tests: controller/metrics (the Prometheus text exposition format). */
#include "harness/harness.h"

#include "common/alloc.h"
#include "controller/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct MetricsFixture {
    MemCtx *ctx;
    Metrics *metrics;
    FakeClock fake;
} MetricsFixture;

static int setUp(void **state)
{
    MetricsFixture *f = calloc(1, sizeof(*f));
    f->ctx = memCtxNew(NULL, "t");
    f->fake.wallMs = 1700000000500;
    Err err;
    if (!metricsNew(f->ctx, clockFake(&f->fake), &f->metrics, &err))
        return -1;
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    MetricsFixture *f = *state;
    memCtxFree(f->ctx);
    free(f);
    return 0;
}

/* The rendering of the registered families only (the process metrics follow them). */
static const char *render(MetricsFixture *f)
{
    StrBuf out;
    strBufInit(&out, f->ctx, 1 << 20);
    Err err;
    assert_true(metricsRender(f->metrics, &out, &err));
    char *text = (char *)(uintptr_t)strBufStr(&out);
    char *process = strstr(text, "# HELP process_cpu_seconds_total");
    assert_non_null(process);
    *process = '\0';
    return text;
}

static void testCounterGaugeAndLabels(void **state)
{
    MetricsFixture *f = *state;
    Err err;
    MetricFamily *requests, *depth;
    MetricSpec spec = {.type = metricCounter,
                       .name = "api_requests_total",
                       .help = "Requests.\nBy verb and code \\ all.",
                       .labels = {"verb", "code"}};
    assert_true(metricsRegister(f->metrics, &spec, &requests, &err));
    MetricSpec gauge = {.type = metricGauge, .name = "queue_depth", .help = "Depth."};
    assert_true(metricsRegister(f->metrics, &gauge, &depth, &err));
    metricAdd(requests, (const char *[]){"get", "200"}, 1);
    metricAdd(requests, (const char *[]){"get", "200"}, 2);
    metricAdd(requests, (const char *[]){"watch", "a\"b\\c\nd"}, 1);
    metricSet(depth, NULL, 7);
    metricSet(depth, NULL, 2.5);
    assert_string_equal(render(f), "# HELP pgo_metrics_dropped_updates_total Metric updates lost because a series "
                                   "could not be created.\n"
                                   "# TYPE pgo_metrics_dropped_updates_total counter\n"
                                   "pgo_metrics_dropped_updates_total 0\n"
                                   "# HELP api_requests_total Requests.\\nBy verb and code \\\\ all.\n"
                                   "# TYPE api_requests_total counter\n"
                                   "api_requests_total{verb=\"get\",code=\"200\"} 3\n"
                                   "api_requests_total{verb=\"watch\",code=\"a\\\"b\\\\c\\nd\"} 1\n"
                                   "# HELP queue_depth Depth.\n"
                                   "# TYPE queue_depth gauge\n"
                                   "queue_depth 2.5\n");
    assert_true(metricValue(requests, (const char *[]){"get", "200"}) > 2.9);
    assert_true(metricValue(requests, (const char *[]){"get", "404"}) < 0.1);
}

static void testHistogram(void **state)
{
    MetricsFixture *f = *state;
    Err err;
    MetricFamily *time;
    static const double buckets[] = {0.1, 1, 10};
    MetricSpec spec = {.type = metricHistogram,
                       .name = "reconcile_seconds",
                       .help = "Durations.",
                       .labels = {"controller"},
                       .buckets = buckets,
                       .bucketCount = 3};
    assert_true(metricsRegister(f->metrics, &spec, &time, &err));
    const char *labels[] = {"pg"};
    metricObserve(time, labels, 0.0625);
    metricObserve(time, labels, 0.09375);
    metricObserve(time, labels, 0.5);
    metricObserve(time, labels, 100);
    const char *text = strstr(render(f), "# HELP reconcile_seconds");
    assert_string_equal(text, "# HELP reconcile_seconds Durations.\n"
                              "# TYPE reconcile_seconds histogram\n"
                              "reconcile_seconds_bucket{controller=\"pg\",le=\"0.1\"} 2\n"
                              "reconcile_seconds_bucket{controller=\"pg\",le=\"1\"} 3\n"
                              "reconcile_seconds_bucket{controller=\"pg\",le=\"10\"} 3\n"
                              "reconcile_seconds_bucket{controller=\"pg\",le=\"+Inf\"} 4\n"
                              "reconcile_seconds_sum{controller=\"pg\"} 100.65625\n"
                              "reconcile_seconds_count{controller=\"pg\"} 4\n");
    assert_true(metricValue(time, labels) > 3.9);
}

static void testNumberFormats(void **state)
{
    MetricsFixture *f = *state;
    Err err;
    MetricFamily *gauge;
    MetricSpec spec = {.type = metricGauge, .name = "g", .help = "", .labels = {"case"}};
    assert_true(metricsRegister(f->metrics, &spec, &gauge, &err));
    metricSet(gauge, (const char *[]){"big"}, 1e21);
    metricSet(gauge, (const char *[]){"integer"}, 123456789012);
    metricSet(gauge, (const char *[]){"negative"}, -0.001);
    metricSet(gauge, (const char *[]){"third"}, 1.0 / 3.0);
    metricSet(gauge, (const char *[]){"inf"}, INFINITY);
    metricSet(gauge, (const char *[]){"nan"}, NAN);
    const char *text = strstr(render(f), "g{");
    assert_string_equal(text, "g{case=\"big\"} 1e+21\n"
                              "g{case=\"integer\"} 123456789012\n"
                              "g{case=\"negative\"} -0.001\n"
                              "g{case=\"third\"} 0.3333333333333333\n"
                              "g{case=\"inf\"} +Inf\n"
                              "g{case=\"nan\"} NaN\n");
}

static void testRegistration(void **state)
{
    MetricsFixture *f = *state;
    Err err;
    MetricFamily *first, *second;
    MetricSpec spec = {.type = metricCounter, .name = "shared_total", .help = "A.", .labels = {"x"}};
    assert_true(metricsRegister(f->metrics, &spec, &first, &err));
    spec.help = "Same family, other help.";
    assert_true(metricsRegister(f->metrics, &spec, &second, &err));
    assert_ptr_equal(first, second);
    spec.labels[0] = "y";
    assert_false(metricsRegister(f->metrics, &spec, &second, &err));
    assert_err(&err, errInvalidArgument);
    assert_string_equal(err.message, "metric \"shared_total\" registered twice, differently");
    MetricSpec bad = {.type = metricCounter, .name = "2bad", .help = ""};
    assert_false(metricsRegister(f->metrics, &bad, NULL, &err));
    assert_string_equal(err.message, "invalid metric name \"2bad\"");
    MetricSpec badLabel = {.type = metricCounter, .name = "ok_total", .help = "", .labels = {"le"}};
    assert_false(metricsRegister(f->metrics, &badLabel, NULL, &err));
    MetricSpec noBuckets = {.type = metricHistogram, .name = "h", .help = ""};
    assert_false(metricsRegister(f->metrics, &noBuckets, NULL, &err));
    assert_string_equal(err.message, "histogram \"h\" needs 1 to 24 buckets");
    /* NULL families are accepted everywhere. */
    metricAdd(NULL, NULL, 1);
    metricSet(NULL, NULL, 1);
    metricObserve(NULL, NULL, 1);
    assert_true(metricValue(NULL, NULL) < 0.5);
}

static void testCardinalityBoundAndOutOfMemory(void **state)
{
    MetricsFixture *f = *state;
    Err err;
    MetricFamily *family, *dropped;
    MetricSpec spec = {.type = metricCounter, .name = "many_total", .help = "", .labels = {"id"}};
    assert_true(metricsRegister(f->metrics, &spec, &family, &err));
    MetricSpec droppedSpec = {.type = metricCounter, .name = "pgo_metrics_dropped_updates_total", .help = ""};
    assert_true(metricsRegister(f->metrics, &droppedSpec, &dropped, &err));
    for (int seriesIdx = 0; seriesIdx < METRICS_MAX_SERIES + 5; seriesIdx++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", seriesIdx);
        metricAdd(family, (const char *[]){id}, 1);
    }
    assert_true(metricValue(dropped, NULL) > 4.5 && metricValue(dropped, NULL) < 5.5);
    assert_true(metricValue(family, (const char *[]){"999"}) > 0.5);
    assert_true(metricValue(family, (const char *[]){"1000"}) < 0.5);

    MetricSpec other = {.type = metricCounter, .name = "other_total", .help = "", .labels = {"id"}};
    assert_true(metricsRegister(f->metrics, &other, &family, &err));
    for (uint64_t nth = 1; nth <= 3; nth++) {
        allocFailNth(nth);
        metricAdd(family, (const char *[]){"x"}, 1);
        allocFailNth(0);
    }
    /* The first two runs lost their update (array, then series allocation); the third got through. */
    assert_true(metricValue(dropped, NULL) > 6.5 && metricValue(dropped, NULL) < 7.5);
    metricAdd(family, (const char *[]){"x"}, 1);
    assert_true(metricValue(family, (const char *[]){"x"}) > 1.5);
}

static void testProcessMetrics(void **state)
{
    MetricsFixture *f = *state;
    StrBuf out;
    strBufInit(&out, f->ctx, 1 << 20);
    Err err;
    assert_true(metricsRender(f->metrics, &out, &err));
    assert_contains(strBufStr(&out), "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ");
    assert_contains(strBufStr(&out), "\nprocess_cpu_seconds_total ");
    assert_contains(strBufStr(&out), "\nprocess_open_fds ");
    assert_contains(strBufStr(&out), "\nprocess_start_time_seconds 1700000000.5\n");
    assert_true(metricsResidentBytes() > 1024 * 1024);

    StrBuf small;
    strBufInit(&small, f->ctx, 64);
    assert_false(metricsRender(f->metrics, &small, &err));
    assert_err(&err, errTooLarge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testCounterGaugeAndLabels, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testHistogram, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNumberFormats, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testRegistration, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCardinalityBoundAndOutOfMemory, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testProcessMetrics, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("controller/metrics", tests, NULL, NULL);
}
