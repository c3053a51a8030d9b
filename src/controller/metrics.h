/* Prometheus metrics: a small registry of counters, gauges and histograms with labels, rendered in the text
 * exposition format (version 0.0.4) for /metrics.
 *
 * A family is registered once, at start-up, with its label names; its series (one per distinct tuple of label values)
 * are created on first use. Updating a series cannot fail from the caller's point of view: a series that cannot be
 * created (out of memory, or the family already holds METRICS_MAX_SERIES series, which bounds the cardinality a
 * runaway label could cause) is not recorded, and the loss is counted in pgo_metrics_dropped_updates_total. Every
 * update function accepts a NULL family and does nothing, so components can run without a registry (in tests).
 *
 * Besides the registered families, every rendering includes the process metrics Prometheus' client libraries
 * export: process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
 * process_open_fds and process_start_time_seconds. */
#ifndef CONTROLLER_METRICS_H
#define CONTROLLER_METRICS_H

#include "common/clock.h"
#include "common/error.h"
#include "common/memctx.h"
#include "common/strbuf.h"

#include <stddef.h>

#define METRICS_MAX_LABELS  4
#define METRICS_MAX_SERIES  1000
#define METRICS_MAX_BUCKETS 24

typedef struct Metrics Metrics;
typedef struct MetricFamily MetricFamily;

typedef enum MetricType {
    metricCounter,
    metricGauge,
    metricHistogram,
} MetricType;

typedef struct MetricSpec {
    MetricType type;
    const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*; a string literal or otherwise outliving the registry */
    const char *help;
    const char *labels[METRICS_MAX_LABELS]; /* label names, the unused ones NULL */
    const double *buckets;                  /* histograms: upper bounds, increasing; +Inf is implicit */
    size_t bucketCount;
} MetricSpec;

/* A registry in a new child context of parent. clock gives process_start_time_seconds (read now). */
bool metricsNew(MemCtx *parent, Clock clock, Metrics **out, Err *err) MUST_CHECK;

/* Registers a family, or finds the one registered earlier with the same name, type, labels and buckets (so several
 * components can share a family). errInvalidArgument for a bad name, a clash, or too many buckets. */
bool metricsRegister(Metrics *metrics, const MetricSpec *spec, MetricFamily **out, Err *err) MUST_CHECK;

/* labelValues has one string per label name of the family (may be NULL for a family without labels). */
void metricAdd(MetricFamily *family, const char *const *labelValues, double delta);
void metricSet(MetricFamily *family, const char *const *labelValues, double value);
void metricObserve(MetricFamily *family, const char *const *labelValues, double value);

/* The current value of a counter or gauge series (0 when it does not exist), or a histogram series' count. */
double metricValue(const MetricFamily *family, const char *const *labelValues);

/* Appends the exposition text of every family, then of the process metrics. */
bool metricsRender(const Metrics *metrics, StrBuf *out, Err *err) MUST_CHECK;

/* The default histogram buckets for durations in seconds, from 5 ms to 60 s. */
extern const double metricsDurationBuckets[];
extern const size_t metricsDurationBucketCount;

/* The process' resident set size in bytes, from /proc/self/statm; 0 when unreadable. */
double metricsResidentBytes(void);

#endif
