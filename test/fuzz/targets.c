/* Fuzz target bodies; see targets.h. */
#include "targets.h"

#include "common/error.h"
#include "common/memctx.h"
#include "kube/quantity.h"
#include "kube/selector.h"
#include "kube/status.h"
#include "kube/watch.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Small enough that the fuzzer reaches the "line too long" path. */
#define FUZZ_WATCH_MAX_LINE 1024

/* abort() unless the condition holds: a crash the fuzzer reports with its input. */
#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            abort();                                                                                                   \
    } while (0)

/* An Err filled by a failing call: a real code and a terminated message. */
static void checkFailed(const Err *err)
{
    FUZZ_CHECK(err->code != errOk && err->code < errCodeCount);
    FUZZ_CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL);
    FUZZ_CHECK(memchr(err->reason, '\0', sizeof(err->reason)) != NULL);
}

/* ---- watch ---- */

typedef struct WatchCounts {
    unsigned events;
} WatchCounts;

static bool watchHandler(void *arg, const KubeWatchEvent *event, Err *err)
{
    WatchCounts *counts = arg;
    counts->events++;
    FUZZ_CHECK(event->object != NULL && json_is_object(event->object));
    FUZZ_CHECK(kubeWatchEventTypeName(event->type) != NULL);
    if (event->resourceVersion != NULL)
        FUZZ_CHECK(strlen(event->resourceVersion) < FUZZ_WATCH_MAX_LINE);
    /* An object asking to stop exercises the handler-failure path. */
    if (json_object_get(event->object, "stop") != NULL)
        return errSet(err, errInvalidArgument, "handler stopped the stream");
    return true;
}

int fuzzWatch(const uint8_t *data, size_t size)
{
    MemCtx *ctx = memCtxNew(NULL, "fuzz-watch");
    if (ctx == NULL)
        return 0;
    size_t split = size == 0 ? 0 : (size_t)data[0] * (size + 1) / 256;
    const char *text = (const char *)data;

    KubeWatchStream stream;
    kubeWatchStreamInit(&stream, ctx, FUZZ_WATCH_MAX_LINE);
    WatchCounts counts = {0};
    Err err;
    errClear(&err);
    bool ok = kubeWatchStreamFeed(&stream, text, split, watchHandler, &counts, &err) &&
              kubeWatchStreamFeed(&stream, text + split, size - split, watchHandler, &counts, &err) &&
              kubeWatchStreamFinish(&stream, &err);
    if (!ok) {
        checkFailed(&err);
        /* A failed stream stays failed. */
        Err again;
        FUZZ_CHECK(!kubeWatchStreamFeed(&stream, "\n", 1, watchHandler, &counts, &again));
        FUZZ_CHECK(again.code == errInvalidArgument);
    }
    /* Every event is one line: there cannot be more events than newlines. */
    size_t newlines = 0;
    for (size_t byteIdx = 0; byteIdx < size; byteIdx++)
        newlines += text[byteIdx] == '\n';
    FUZZ_CHECK(counts.events <= newlines);

    kubeWatchStreamFree(&stream);
    memCtxFree(ctx);
    return 0;
}

/* ---- status ---- */

int fuzzStatus(const uint8_t *data, size_t size)
{
    long httpStatus = size >= 2 ? (long)(((unsigned)data[0] << 8 | data[1]) % 700) : 500;
    const char *body = size > 2 ? (const char *)data + 2 : NULL;
    size_t bodyLen = size > 2 ? size - 2 : 0;

    Err err;
    errClear(&err);
    FUZZ_CHECK(!kubeStatusFromResponse(httpStatus, body, bodyLen, &err));
    checkFailed(&err);
    FUZZ_CHECK(err.httpStatus == (int)httpStatus);
    /* A NULL Err must be accepted too. */
    FUZZ_CHECK(!kubeStatusFromResponse(httpStatus, body, bodyLen, NULL));
    FUZZ_CHECK(kubeStatusCode(httpStatus, err.reason) < errCodeCount);
    return 0;
}

/* ---- quantity ---- */

int fuzzQuantity(const uint8_t *data, size_t size)
{
    MemCtx *ctx = memCtxNew(NULL, "fuzz-quantity");
    if (ctx == NULL)
        return 0;
    char *text = memCtxStrNDup(ctx, (const char *)data, size);
    if (text == NULL) {
        memCtxFree(ctx);
        return 0;
    }

    KubeQuantity quantity;
    Err err;
    errClear(&err);
    if (!kubeQuantityParse(text, &quantity, &err)) {
        checkFailed(&err);
    } else {
        /* The documented normal form. */
        if (quantity.mantissa == 0)
            FUZZ_CHECK(quantity.exponent == 0);
        else
            FUZZ_CHECK(quantity.mantissa % 10 != 0);
        FUZZ_CHECK(kubeQuantityCompare(quantity, quantity) == 0);

        static const KubeQuantity others[] = {{0, 0}, {1, 0}, {-5, -1}, {1024, 0}, {1, 18}, {-1, -9}};
        for (size_t otherIdx = 0; otherIdx < sizeof(others) / sizeof(others[0]); otherIdx++) {
            int forward = kubeQuantityCompare(quantity, others[otherIdx]);
            int backward = kubeQuantityCompare(others[otherIdx], quantity);
            FUZZ_CHECK((forward < 0) == (backward > 0) && (forward == 0) == (backward == 0));
        }

        /* Rounded up: ceil(1000 q) <= 1000 ceil(q) and ceil(q) * 1000 - ceil(1000 q) < 1000. */
        int64_t units, milli, product;
        if (kubeQuantityScaled(quantity, 0, &units, &err) && kubeQuantityScaled(quantity, -3, &milli, &err) &&
            !__builtin_mul_overflow(units, 1000, &product)) {
            FUZZ_CHECK(milli <= product);
            FUZZ_CHECK(product - milli < 1000);
        }
        static const int32_t scales[] = {-9, -6, -3, 0, 3, 6, 9, 18, -18, 100, -100};
        for (size_t scaleIdx = 0; scaleIdx < sizeof(scales) / sizeof(scales[0]); scaleIdx++) {
            int64_t scaled;
            Err scaleErr;
            if (!kubeQuantityScaled(quantity, scales[scaleIdx], &scaled, &scaleErr))
                checkFailed(&scaleErr);
        }
    }
    memCtxFree(ctx);
    return 0;
}

/* ---- selector ---- */

static json_t *fuzzLabels(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "postgres-operator.crunchydata.com/cluster", "hippo",
                     "postgres-operator.crunchydata.com/role", "master", "env", "prod", "tier", "", "app", "db");
}

int fuzzSelector(const uint8_t *data, size_t size)
{
    MemCtx *ctx = memCtxNew(NULL, "fuzz-selector");
    if (ctx == NULL)
        return 0;
    char *text = memCtxStrNDup(ctx, (const char *)data, size);
    json_t *labels = fuzzLabels();
    if (text == NULL || labels == NULL) {
        json_decref(labels);
        memCtxFree(ctx);
        return 0;
    }

    KubeSelector *selector;
    Err err;
    errClear(&err);
    if (!kubeSelectorParse(ctx, text, &selector, &err)) {
        checkFailed(&err);
    } else {
        bool negativeOnly = true;
        for (size_t reqIdx = 0; reqIdx < selector->count; reqIdx++) {
            const KubeRequirement *requirement = &selector->requirements[reqIdx];
            FUZZ_CHECK(kubeLabelKeyValid(requirement->key, strlen(requirement->key)));
            for (size_t valueIdx = 0; valueIdx < requirement->valueCount; valueIdx++)
                FUZZ_CHECK(kubeLabelValueValid(requirement->values[valueIdx], strlen(requirement->values[valueIdx])));
            switch (requirement->op) {
            case kubeSelectorEquals:
            case kubeSelectorNotEquals:
                FUZZ_CHECK(requirement->valueCount == 1);
                break;
            case kubeSelectorIn:
            case kubeSelectorNotIn:
                FUZZ_CHECK(requirement->valueCount >= 1);
                break;
            case kubeSelectorExists:
            case kubeSelectorDoesNotExist:
                FUZZ_CHECK(requirement->valueCount == 0);
                break;
            }
            negativeOnly = negativeOnly && (requirement->op == kubeSelectorNotEquals ||
                                            requirement->op == kubeSelectorNotIn ||
                                            requirement->op == kubeSelectorDoesNotExist);
        }
        (void)kubeSelectorMatches(selector, labels);
        /* With no labels only negative requirements can hold. */
        FUZZ_CHECK(kubeSelectorMatches(selector, NULL) == negativeOnly);
        if (selector->count == 0)
            FUZZ_CHECK(kubeSelectorMatches(selector, labels));
    }
    json_decref(labels);
    memCtxFree(ctx);
    return 0;
}
