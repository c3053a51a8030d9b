/* Prometheus metrics.
 *
 * The registry is a list of families in registration order; a family keeps its series in an array of pointers,
 * searched linearly by label values. That is the right structure for the operator's few dozen series: lookups are a
 * handful of string comparisons, there is no hashing to get wrong, and rendering walks the series in creation order,
 * which keeps /metrics stable between scrapes. METRICS_MAX_SERIES bounds the walk.
 *
 * Numbers are printed in their shortest form that reads back to the same double ("1", "0.25", "1e+21"), with
 * Prometheus' spellings for the infinities and NaN. Label values and help texts are escaped as the format requires
 * (backslash, double quote in label values, newline). */
#include "controller/metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct MetricSeries {
    char *labelValues[METRICS_MAX_LABELS];
    double value; /* counter or gauge; histogram sum */
    uint64_t count;
    uint64_t buckets[METRICS_MAX_BUCKETS]; /* per bucket, not cumulative */
} MetricSeries;

struct MetricFamily {
    Metrics *metrics;
    MetricSpec spec;
    size_t labelCount;
    MetricSeries **series;
    size_t seriesCount;
    size_t seriesCapacity;
    MetricFamily *next;
};

struct Metrics {
    MemCtx *ctx;
    MetricFamily *first;
    MetricFamily *last;
    MetricFamily *dropped;
    double startTimeSeconds;
};

const double metricsDurationBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60};
const size_t metricsDurationBucketCount = sizeof(metricsDurationBuckets) / sizeof(metricsDurationBuckets[0]);

static bool metricsNameValid(const char *name)
{
    if (name == NULL || *name == '\0' || (*name >= '0' && *name <= '9'))
        return false;
    for (const char *c = name; *c != '\0'; c++) {
        bool ok =
            (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == ':';
        if (!ok)
            return false;
    }
    return true;
}

static MetricSeries *metricsFindSeries(const MetricFamily *family, const char *const *labelValues)
{
    for (size_t seriesIdx = 0; seriesIdx < family->seriesCount; seriesIdx++) {
        MetricSeries *series = family->series[seriesIdx];
        bool same = true;
        for (size_t labelIdx = 0; same && labelIdx < family->labelCount; labelIdx++)
            same = strcmp(series->labelValues[labelIdx], labelValues[labelIdx]) == 0;
        if (same)
            return series;
    }
    return NULL;
}

/* Creates a series; NULL when out of memory or at the cardinality bound. */
static MetricSeries *metricsNewSeries(MetricFamily *family, const char *const *labelValues)
{
    MemCtx *ctx = family->metrics->ctx;
    if (family->seriesCount >= METRICS_MAX_SERIES)
        return NULL;
    if (family->seriesCount == family->seriesCapacity) {
        size_t capacity = family->seriesCapacity == 0 ? 4 : family->seriesCapacity * 2;
        MetricSeries **grown = memCtxResize(ctx, family->series, capacity * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        family->series = grown;
        family->seriesCapacity = capacity;
    }
    MetricSeries *series = memCtxAlloc(ctx, sizeof(*series));
    if (series == NULL)
        return NULL;
    for (size_t labelIdx = 0; labelIdx < family->labelCount; labelIdx++) {
        series->labelValues[labelIdx] = memCtxStrDup(ctx, labelValues[labelIdx]);
        if (series->labelValues[labelIdx] == NULL) {
            for (size_t freeIdx = 0; freeIdx < labelIdx; freeIdx++)
                memCtxRelease(series->labelValues[freeIdx]);
            memCtxRelease(series);
            return NULL;
        }
    }
    family->series[family->seriesCount++] = series;
    return series;
}

/* The series for labelValues, created when needed; NULL (and the loss counted) when it cannot be. */
static MetricSeries *metricsSeries(MetricFamily *family, const char *const *labelValues)
{
    MetricSeries *series = metricsFindSeries(family, labelValues);
    if (series == NULL)
        series = metricsNewSeries(family, labelValues);
    if (series == NULL && family->metrics->dropped != NULL && family->metrics->dropped->seriesCount > 0)
        family->metrics->dropped->series[0]->value += 1;
    return series;
}

/* Whether two specs describe the same family (help texts aside). */
static bool metricsSameSpec(const MetricSpec *a, const MetricSpec *b)
{
    if (a->type != b->type || a->bucketCount != b->bucketCount)
        return false;
    for (size_t labelIdx = 0; labelIdx < METRICS_MAX_LABELS; labelIdx++) {
        if ((a->labels[labelIdx] == NULL) != (b->labels[labelIdx] == NULL) ||
            (a->labels[labelIdx] != NULL && strcmp(a->labels[labelIdx], b->labels[labelIdx]) != 0))
            return false;
    }
    for (size_t bucketIdx = 0; bucketIdx < a->bucketCount; bucketIdx++) {
        if (a->buckets[bucketIdx] < b->buckets[bucketIdx] || a->buckets[bucketIdx] > b->buckets[bucketIdx])
            return false;
    }
    return true;
}

bool metricsRegister(Metrics *metrics, const MetricSpec *spec, MetricFamily **out, Err *err)
{
    if (!metricsNameValid(spec->name))
        return errSet(err, errInvalidArgument, "invalid metric name \"%s\"", spec->name ? spec->name : "");
    for (MetricFamily *family = metrics->first; family != NULL; family = family->next) {
        if (strcmp(family->spec.name, spec->name) != 0)
            continue;
        if (!metricsSameSpec(&family->spec, spec))
            return errSet(err, errInvalidArgument, "metric \"%s\" registered twice, differently", spec->name);
        if (out != NULL)
            *out = family;
        return true;
    }
    if (spec->type == metricHistogram && (spec->bucketCount == 0 || spec->bucketCount > METRICS_MAX_BUCKETS))
        return errSet(err, errInvalidArgument, "histogram \"%s\" needs 1 to %d buckets", spec->name,
                      METRICS_MAX_BUCKETS);
    size_t labelCount = 0;
    while (labelCount < METRICS_MAX_LABELS && spec->labels[labelCount] != NULL) {
        if (!metricsNameValid(spec->labels[labelCount]) || strcmp(spec->labels[labelCount], "le") == 0)
            return errSet(err, errInvalidArgument, "metric \"%s\": invalid label name \"%s\"", spec->name,
                          spec->labels[labelCount]);
        labelCount++;
    }

    MetricFamily *family = memCtxAlloc(metrics->ctx, sizeof(*family));
    if (family == NULL)
        return errSet(err, errOutOfMemory, "out of memory registering metric \"%s\"", spec->name);
    *family = (MetricFamily){.metrics = metrics, .spec = *spec, .labelCount = labelCount};
    /* A family without labels has exactly one series: create it now, so it renders (as 0) and cannot be lost. */
    if (labelCount == 0 && metricsNewSeries(family, NULL) == NULL) {
        memCtxRelease(family->series);
        memCtxRelease(family);
        return errSet(err, errOutOfMemory, "out of memory registering metric \"%s\"", spec->name);
    }
    if (metrics->last != NULL)
        metrics->last->next = family;
    else
        metrics->first = family;
    metrics->last = family;
    if (out != NULL)
        *out = family;
    return true;
}

bool metricsNew(MemCtx *parent, Clock clock, Metrics **out, Err *err)
{
    MemCtx *ctx = memCtxNew(parent, "metrics");
    Metrics *metrics = ctx != NULL ? memCtxAlloc(ctx, sizeof(*metrics)) : NULL;
    if (metrics == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the metrics registry");
    }
    *metrics = (Metrics){.ctx = ctx, .startTimeSeconds = (double)clockWallMs(clock) / 1000.0};
    MetricSpec dropped = {
        .type = metricCounter,
        .name = "pgo_metrics_dropped_updates_total",
        .help = "Metric updates lost because a series could not be created.",
    };
    if (!metricsRegister(metrics, &dropped, &metrics->dropped, err)) {
        memCtxFree(ctx);
        return false;
    }
    *out = metrics;
    return true;
}

void metricAdd(MetricFamily *family, const char *const *labelValues, double delta)
{
    if (family == NULL)
        return;
    MetricSeries *series = metricsSeries(family, labelValues);
    if (series != NULL)
        series->value += delta;
}

void metricSet(MetricFamily *family, const char *const *labelValues, double value)
{
    if (family == NULL)
        return;
    MetricSeries *series = metricsSeries(family, labelValues);
    if (series != NULL)
        series->value = value;
}

void metricObserve(MetricFamily *family, const char *const *labelValues, double value)
{
    if (family == NULL)
        return;
    MetricSeries *series = metricsSeries(family, labelValues);
    if (series == NULL)
        return;
    series->value += value;
    series->count++;
    for (size_t bucketIdx = 0; bucketIdx < family->spec.bucketCount; bucketIdx++) {
        if (value <= family->spec.buckets[bucketIdx]) {
            series->buckets[bucketIdx]++;
            break;
        }
    }
}

double metricValue(const MetricFamily *family, const char *const *labelValues)
{
    if (family == NULL)
        return 0;
    const MetricSeries *series = metricsFindSeries(family, labelValues);
    if (series == NULL)
        return 0;
    return family->spec.type == metricHistogram ? (double)series->count : series->value;
}

/* The shortest decimal spelling of value that reads back to it. */
static void metricsFormatNumber(double value, char *out, size_t size)
{
    if (isnan(value)) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(value)) {
        snprintf(out, size, "%s", value > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (value >= -1e15 && value <= 1e15 && !(value < (double)(int64_t)value) && !(value > (double)(int64_t)value)) {
        snprintf(out, size, "%" PRId64, (int64_t)value);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(out, size, "%.*g", precision, value);
        double back = strtod(out, NULL);
        if (!(back < value) && !(back > value))
            return;
    }
}

/* Appends str with the escapes the format needs; quotes too inside label values. */
static bool metricsAppendEscaped(StrBuf *out, const char *str, bool escapeQuotes, Err *err)
{
    for (const char *c = str; *c != '\0'; c++) {
        bool ok;
        if (*c == '\\')
            ok = strBufAppendStr(out, "\\\\", err);
        else if (*c == '\n')
            ok = strBufAppendStr(out, "\\n", err);
        else if (*c == '"' && escapeQuotes)
            ok = strBufAppendStr(out, "\\\"", err);
        else
            ok = strBufAppendChar(out, *c, err);
        if (!ok)
            return false;
    }
    return true;
}

/* name{labels[,le="..."]} value\n; suffix may be "". */
static bool metricsAppendSample(StrBuf *out, const MetricFamily *family, const char *suffix, const MetricSeries *series,
                                const char *le, double value, Err *err)
{
    char number[40];
    if (!strBufPrintf(out, err, "%s%s", family->spec.name, suffix))
        return false;
    if (family->labelCount > 0 || le != NULL) {
        if (!strBufAppendChar(out, '{', err))
            return false;
        for (size_t labelIdx = 0; labelIdx < family->labelCount; labelIdx++) {
            if (!strBufPrintf(out, err, "%s%s=\"", labelIdx > 0 ? "," : "", family->spec.labels[labelIdx]) ||
                !metricsAppendEscaped(out, series->labelValues[labelIdx], true, err) ||
                !strBufAppendChar(out, '"', err))
                return false;
        }
        if (le != NULL && !strBufPrintf(out, err, "%sle=\"%s\"", family->labelCount > 0 ? "," : "", le))
            return false;
        if (!strBufAppendChar(out, '}', err))
            return false;
    }
    metricsFormatNumber(value, number, sizeof(number));
    return strBufPrintf(out, err, " %s\n", number);
}

static bool metricsAppendHeader(StrBuf *out, const char *name, const char *help, const char *type, Err *err)
{
    return strBufPrintf(out, err, "# HELP %s ", name) && metricsAppendEscaped(out, help, false, err) &&
           strBufPrintf(out, err, "\n# TYPE %s %s\n", name, type);
}

static bool metricsRenderFamily(const MetricFamily *family, StrBuf *out, Err *err)
{
    static const char *const typeNames[] = {"counter", "gauge", "histogram"};
    if (!metricsAppendHeader(out, family->spec.name, family->spec.help != NULL ? family->spec.help : "",
                             typeNames[family->spec.type], err))
        return false;
    for (size_t seriesIdx = 0; seriesIdx < family->seriesCount; seriesIdx++) {
        const MetricSeries *series = family->series[seriesIdx];
        if (family->spec.type != metricHistogram) {
            if (!metricsAppendSample(out, family, "", series, NULL, series->value, err))
                return false;
            continue;
        }
        uint64_t cumulative = 0;
        for (size_t bucketIdx = 0; bucketIdx < family->spec.bucketCount; bucketIdx++) {
            char le[40];
            cumulative += series->buckets[bucketIdx];
            metricsFormatNumber(family->spec.buckets[bucketIdx], le, sizeof(le));
            if (!metricsAppendSample(out, family, "_bucket", series, le, (double)cumulative, err))
                return false;
        }
        if (!metricsAppendSample(out, family, "_bucket", series, "+Inf", (double)series->count, err) ||
            !metricsAppendSample(out, family, "_sum", series, NULL, series->value, err) ||
            !metricsAppendSample(out, family, "_count", series, NULL, (double)series->count, err))
            return false;
    }
    return true;
}

/* Reads /proc/self/statm: sizes in pages. false when unreadable. */
static bool metricsStatm(double *virtualBytes, double *residentBytes)
{
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t got = read(fd, text, sizeof(text) - 1);
    close(fd);
    unsigned long long size, resident;
    if (got <= 0)
        return false;
    text[got] = '\0';
    if (sscanf(text, "%llu %llu", &size, &resident) != 2)
        return false;
    double pageSize = (double)sysconf(_SC_PAGESIZE);
    *virtualBytes = (double)size * pageSize;
    *residentBytes = (double)resident * pageSize;
    return true;
}

double metricsResidentBytes(void)
{
    double virtualBytes, residentBytes;
    return metricsStatm(&virtualBytes, &residentBytes) ? residentBytes : 0;
}

static double metricsOpenFds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return 0;
    double count = 0;
    for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
        if (entry->d_name[0] != '.')
            count++;
    }
    closedir(dir);
    return count - 1; /* the directory's own descriptor */
}

static bool metricsRenderGauge(StrBuf *out, const char *name, const char *help, const char *type, double value,
                               Err *err)
{
    char number[40];
    metricsFormatNumber(value, number, sizeof(number));
    return metricsAppendHeader(out, name, help, type, err) && strBufPrintf(out, err, "%s %s\n", name, number);
}

static bool metricsRenderProcess(const Metrics *metrics, StrBuf *out, Err *err)
{
    double virtualBytes = 0, residentBytes = 0;
    (void)metricsStatm(&virtualBytes, &residentBytes);
    struct rusage usage;
    double cpuSeconds = 0;
    if (getrusage(RUSAGE_SELF, &usage) == 0)
        cpuSeconds = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
                     (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
    return metricsRenderGauge(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                              "counter", cpuSeconds, err) &&
           metricsRenderGauge(out, "process_open_fds", "Number of open file descriptors.", "gauge", metricsOpenFds(),
                              err) &&
           metricsRenderGauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                              residentBytes, err) &&
           metricsRenderGauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
                              virtualBytes, err) &&
           metricsRenderGauge(out, "process_start_time_seconds",
                              "Start time of the process since unix epoch in seconds.", "gauge",
                              metrics->startTimeSeconds, err);
}

bool metricsRender(const Metrics *metrics, StrBuf *out, Err *err)
{
    for (const MetricFamily *family = metrics->first; family != NULL; family = family->next) {
        if (!metricsRenderFamily(family, out, err))
            return false;
    }
    return metricsRenderProcess(metrics, out, err);
}
