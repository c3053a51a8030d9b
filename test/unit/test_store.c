/* Unit tests: controller/store (the informers' cache and owner index), and the fault-injection sweep over the event
 * handling of an informer: watch bytes -> kube/watch framing -> store change -> handler queueing the owner's key. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/json.h"
#include "controller/store.h"
#include "controller/workqueue.h"
#include "kube/watch.h"

#include <stdio.h>
#include <string.h>

typedef struct Recorder {
    char log[2048]; /* "added:ns/name;updated:...;" */
    bool veto;
} Recorder;

static bool onChange(void *arg, StoreEventType type, const json_t *oldObject, const json_t *newObject, Err *err)
{
    Recorder *recorder = arg;
    if (recorder->veto)
        return errSet(err, errInvalidArgument, "vetoed");
    static const char *const names[] = {"added", "updated", "deleted"};
    const json_t *object = newObject != NULL ? newObject : oldObject;
    const char *name = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
    size_t used = strlen(recorder->log);
    snprintf(recorder->log + used, sizeof(recorder->log) - used, "%s:%s;", names[type], name);
    return true;
}

/* A ConfigMap-like object; owners is a comma-separated list of UIDs or NULL. */
static json_t *object(const char *ns, const char *name, const char *rv, const char *owners)
{
    json_t *obj =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:[{s:s}], s:{s:s, s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
                  "ConfigMap", "metadata", "name", name, "namespace", ns, "uid", name, "resourceVersion", rv,
                  "managedFields", "manager", "kubectl", "annotations",
                  "kubectl.kubernetes.io/last-applied-configuration", "{...}", "keep", "me", "data", "k", "v");
    assert_non_null(obj);
    if (owners != NULL) {
        json_t *refs = json_array();
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", owners);
        for (char *save, *uid = strtok_r(copy, ",", &save); uid != NULL; uid = strtok_r(NULL, ",", &save))
            json_array_append_new(refs,
                                  json_pack("{s:s, s:s, s:s}", "kind", "PostgresCluster", "name", uid, "uid", uid));
        json_object_set_new(json_object_get(obj, "metadata"), "ownerReferences", refs);
    }
    return obj;
}

static void upsert(Store *store, json_t *obj)
{
    Err err;
    if (!storeUpsert(store, obj, &err))
        fail_msg("%s", err.message);
    json_decref(obj);
}

/* The store's dump. A second attempt covers the one allocation failure a sweep may inject here. */
static const char *dump(MemCtx *ctx, const Store *store)
{
    StrBuf out;
    strBufInit(&out, ctx, 1 << 16);
    Err err;
    if (!storeDump(store, &out, &err)) {
        strBufClear(&out);
        assert_true(storeDump(store, &out, &err));
    }
    return strBufStr(&out);
}

static size_t owned(const Store *store, const char *uid, char *names, size_t size)
{
    size_t count;
    const StoreEntry *const *entries = storeOwnedBy(store, uid, &count);
    names[0] = '\0';
    /* Sorted, for stable comparisons. */
    const char *sorted[16];
    for (size_t idx = 0; idx < count && idx < 16; idx++)
        sorted[idx] = entries[idx]->key;
    for (size_t i = 1; i < count && i < 16; i++)
        for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
            const char *swap = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = swap;
        }
    for (size_t idx = 0; idx < count && idx < 16; idx++) {
        size_t used = strlen(names);
        snprintf(names + used, size - used, "%s%s", idx > 0 ? "," : "", sorted[idx]);
    }
    return count;
}

static void testUpsertTrimsAndIndexes(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Recorder recorder = {0};
    Store *store;
    Err err;
    assert_true(storeNew(ctx, NULL, &store, &err));
    assert_true(storeAddHandler(store, onChange, &recorder, &err));
    upsert(store, object("a", "one", "1", "uid-x"));
    upsert(store, object("a", "two", "2", "uid-x,uid-y,uid-x"));
    upsert(store, object("b", "one", "3", NULL));
    assert_int_equal(storeCount(store), 3);
    assert_string_equal(recorder.log, "added:one;added:two;added:one;");

    const StoreEntry *entry = storeGet(store, "a", "two");
    assert_non_null(entry);
    assert_string_equal(entry->key, "a/two");
    assert_string_equal(entry->namespace, "a");
    assert_string_equal(entry->name, "two");
    assert_string_equal(entry->uid, "two");
    assert_string_equal(entry->resourceVersion, "2");
    assert_int_equal(entry->ownerCount, 2);
    json_t *metadata = json_object_get(entry->object, "metadata");
    assert_null(json_object_get(metadata, "managedFields"));
    assert_null(
        json_object_get(json_object_get(metadata, "annotations"), "kubectl.kubernetes.io/last-applied-configuration"));
    assert_non_null(json_object_get(json_object_get(metadata, "annotations"), "keep"));
    assert_null(storeGet(store, "a", "three"));
    assert_null(storeGet(store, "c", "one"));

    char names[256];
    assert_int_equal(owned(store, "uid-x", names, sizeof(names)), 2);
    assert_string_equal(names, "a/one,a/two");
    assert_int_equal(owned(store, "uid-y", names, sizeof(names)), 1);
    assert_int_equal(owned(store, "uid-z", names, sizeof(names)), 0);

    /* A new version moves the object to another owner. */
    upsert(store, object("a", "one", "4", "uid-y"));
    assert_int_equal(owned(store, "uid-x", names, sizeof(names)), 1);
    assert_string_equal(names, "a/two");
    assert_int_equal(owned(store, "uid-y", names, sizeof(names)), 2);
    assert_string_equal(names, "a/one,a/two");

    /* The same resourceVersion again is no change. */
    recorder.log[0] = '\0';
    upsert(store, object("a", "one", "4", "uid-x"));
    assert_string_equal(recorder.log, "");
    assert_int_equal(owned(store, "uid-x", names, sizeof(names)), 1);

    json_t *gone = object("a", "two", "5", NULL);
    assert_true(storeDelete(store, gone, &err));
    assert_true(storeDelete(store, gone, &err)); /* absent: nothing to do */
    json_decref(gone);
    assert_string_equal(recorder.log, "deleted:two;");
    assert_int_equal(owned(store, "uid-x", names, sizeof(names)), 0);
    assert_int_equal(owned(store, "uid-y", names, sizeof(names)), 1);
    assert_string_equal(dump(ctx, store), "a/one 4\nb/one 3\n");
    memCtxFree(ctx);
}

/* The root CA Secret is co-owned by every cluster of its namespace: hundreds of owner references, all indexed. */
static void testManyOwners(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Store *store;
    Err err;
    assert_true(storeNew(ctx, &(StoreOptions){0}, &store, &err));
    json_t *obj = object("a", "root", "1", NULL);
    json_t *refs = json_array();
    char uid[32];
    for (unsigned refIdx = 0; refIdx < 1000; refIdx++) {
        snprintf(uid, sizeof(uid), "cluster-%u", refIdx % 500); /* each twice */
        json_array_append_new(refs, json_pack("{s:s, s:s}", "kind", "PostgresCluster", "uid", uid));
    }
    json_object_set_new(json_object_get(obj, "metadata"), "ownerReferences", refs);
    upsert(store, obj);
    assert_int_equal(storeGet(store, "a", "root")->ownerCount, 500);
    char names[256];
    assert_int_equal(owned(store, "cluster-0", names, sizeof(names)), 1);
    assert_int_equal(owned(store, "cluster-499", names, sizeof(names)), 1);
    assert_string_equal(names, "a/root");
    assert_int_equal(owned(store, "cluster-500", names, sizeof(names)), 0);
    memCtxFree(ctx);
}

static void testClusterScopedAndInvalid(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Store *store;
    Err err;
    assert_true(storeNew(ctx, NULL, &store, &err));
    json_t *node = json_pack("{s:{s:s, s:s}}", "metadata", "name", "node-1", "resourceVersion", "9");
    upsert(store, node);
    assert_non_null(storeGet(store, NULL, "node-1"));
    assert_non_null(storeGet(store, "", "node-1"));
    assert_string_equal(storeGet(store, NULL, "node-1")->namespace, "");

    json_t *nameless = json_pack("{s:{s:s}}", "metadata", "namespace", "a");
    assert_false(storeUpsert(store, nameless, &err));
    assert_err(&err, errJsonMissing);
    assert_contains(err.message, "cannot cache object");
    json_decref(nameless);
    json_t *array = json_array();
    assert_false(storeUpsert(store, array, &err));
    assert_err(&err, errInvalidArgument);
    json_decref(array);
    json_t *notArray = json_object();
    assert_false(storeReplace(store, NULL, notArray, &err));
    json_decref(notArray);
    char longName[600];
    memset(longName, 'x', sizeof(longName) - 1);
    longName[sizeof(longName) - 1] = '\0';
    json_t *tooLong = json_pack("{s:{s:s, s:s}}", "metadata", "name", longName, "namespace", "a");
    assert_false(storeUpsert(store, tooLong, &err));
    assert_err(&err, errInvalidArgument);
    json_decref(tooLong);
    assert_null(storeGet(store, "a", longName));
    memCtxFree(ctx);
}

static void testHandlerVetoLeavesStoreUnchanged(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Recorder recorder = {0};
    Store *store;
    Err err;
    assert_true(storeNew(ctx, NULL, &store, &err));
    assert_true(storeAddHandler(store, onChange, &recorder, &err));
    upsert(store, object("a", "one", "1", "uid-x"));
    recorder.veto = true;
    json_t *update = object("a", "one", "2", "uid-new");
    assert_false(storeUpsert(store, update, &err));
    assert_string_equal(err.message, "vetoed");
    json_decref(update);
    json_t *added = object("a", "two", "3", "uid-new");
    assert_false(storeUpsert(store, added, &err));
    json_decref(added);
    json_t *deleted = object("a", "one", "4", NULL);
    assert_false(storeDelete(store, deleted, &err));
    json_decref(deleted);
    assert_string_equal(dump(ctx, store), "a/one 1\n");
    char names[64];
    assert_int_equal(owned(store, "uid-x", names, sizeof(names)), 1);
    assert_int_equal(owned(store, "uid-new", names, sizeof(names)), 0);
    memCtxFree(ctx);
}

/* Every handler hears of every change, in the order they were added; the first to fail cancels the change, and
 * those after it are not called. */
static void testSeveralHandlers(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Recorder first = {0}, second = {0}, third = {0};
    Store *store;
    Err err;
    assert_true(storeNew(ctx, NULL, &store, &err));
    assert_true(storeAddHandler(store, onChange, &first, &err));
    assert_true(storeAddHandler(store, onChange, &second, &err));
    assert_true(storeAddHandler(store, onChange, &third, &err));
    upsert(store, object("a", "one", "1", NULL));
    upsert(store, object("a", "one", "2", NULL));
    assert_string_equal(first.log, "added:one;updated:one;");
    assert_string_equal(second.log, first.log);
    assert_string_equal(third.log, first.log);

    second.veto = true;
    json_t *update = object("a", "one", "3", NULL);
    assert_false(storeUpsert(store, update, &err));
    json_decref(update);
    assert_string_equal(err.message, "vetoed");
    assert_string_equal(first.log, "added:one;updated:one;updated:one;"); /* told before the veto */
    assert_string_equal(third.log, "added:one;updated:one;");             /* never told */
    assert_string_equal(dump(ctx, store), "a/one 2\n");

    for (size_t handlerIdx = 3; handlerIdx < STORE_MAX_HANDLERS; handlerIdx++)
        assert_true(storeAddHandler(store, onChange, &third, &err));
    assert_false(storeAddHandler(store, onChange, &third, &err));
    assert_err(&err, errTooLarge);
    memCtxFree(ctx);
}

static void testReplaceMakesCacheEqualList(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Recorder recorder = {0};
    Store *store;
    Err err;
    assert_true(storeNew(ctx, NULL, &store, &err));
    assert_true(storeAddHandler(store, onChange, &recorder, &err));
    upsert(store, object("a", "keep", "1", NULL));
    upsert(store, object("a", "change", "2", NULL));
    upsert(store, object("a", "gone", "3", "uid-x"));
    upsert(store, object("b", "other", "4", NULL));
    recorder.log[0] = '\0';
    json_t *items = json_pack("[o, o, o]", object("a", "keep", "1", NULL), object("a", "change", "7", NULL),
                              object("a", "new", "8", "uid-x"));
    assert_true(storeReplace(store, "a", items, &err));
    json_decref(items);
    assert_string_equal(recorder.log, "updated:change;added:new;deleted:gone;");
    assert_string_equal(dump(ctx, store), "a/change 7\na/keep 1\na/new 8\nb/other 4\n");
    char names[64];
    assert_int_equal(owned(store, "uid-x", names, sizeof(names)), 1);
    assert_string_equal(names, "a/new");

    /* All namespaces: b/other goes too. */
    items = json_pack("[o]", object("a", "keep", "1", NULL));
    assert_true(storeReplace(store, NULL, items, &err));
    json_decref(items);
    assert_string_equal(dump(ctx, store), "a/keep 1\n");
    memCtxFree(ctx);
}

/* ---- fault injection over the event handling ---- */

typedef struct SweepState {
    Store *store;
    WorkQueue *queue;
    MemCtx *ctx;
    const char *before; /* dump before the event being applied */
    bool checked;       /* a failure was checked for atomicity and recovery */
} SweepState;

static bool enqueueOwner(void *arg, StoreEventType type, const json_t *oldObject, const json_t *newObject, Err *err)
{
    (void)type;
    SweepState *sweep = arg;
    const json_t *objects[] = {oldObject, newObject};
    for (size_t objectIdx = 0; objectIdx < 2; objectIdx++) {
        json_t *refs = json_object_get(json_object_get(objects[objectIdx], "metadata"), "ownerReferences");
        size_t refIdx;
        json_t *ref;
        json_array_foreach(refs, refIdx, ref)
        {
            char key[128];
            snprintf(key, sizeof(key), "%s/%s",
                     json_string_value(json_object_get(json_object_get(objects[objectIdx], "metadata"), "namespace")),
                     json_string_value(json_object_get(ref, "name")));
            if (!workQueueAdd(sweep->queue, key, err))
                return false;
        }
    }
    return true;
}

static bool applyEvent(void *arg, const KubeWatchEvent *event, Err *err)
{
    SweepState *sweep = arg;
    StrBuf before;
    strBufInit(&before, sweep->ctx, 1 << 16);
    if (!storeDump(sweep->store, &before, err))
        return false;
    if (storeApplyWatchEvent(sweep->store, event, err))
        return true;
    /* The allocation failed once (injection is one-shot): the store must be exactly as before the event. */
    assert_string_equal(dump(sweep->ctx, sweep->store), strBufStr(&before));
    sweep->checked = true;
    return false;
}

static const char initialList[] =
    "[{\"metadata\":{\"name\":\"cm1\",\"namespace\":\"a\",\"resourceVersion\":\"1\",\"ownerReferences\":[{\"uid\":"
    "\"A\","
    "\"name\":\"pgA\"}]}},"
    "{\"metadata\":{\"name\":\"cm2\",\"namespace\":\"a\",\"resourceVersion\":\"2\",\"ownerReferences\":[{\"uid\":\"A\","
    "\"name\":\"pgA\"}]}},"
    "{\"metadata\":{\"name\":\"cm3\",\"namespace\":\"a\",\"resourceVersion\":\"3\",\"ownerReferences\":[{\"uid\":\"B\","
    "\"name\":\"pgB\"}]}}]";

static const char watchStream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"cm4\",\"namespace\":\"a\",\"resourceVersion\":\"4\","
    "\"ownerReferences\":[{\"uid\":\"B\",\"name\":\"pgB\"}],\"managedFields\":[{}]}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"cm1\",\"namespace\":\"a\",\"resourceVersion\":\"5\","
    "\"ownerReferences\":[{\"uid\":\"B\",\"name\":\"pgB\"}]}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"cm2\",\"namespace\":\"a\",\"resourceVersion\":\"6\"}}}"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}\n";

static const char finalList[] =
    "[{\"metadata\":{\"name\":\"cm1\",\"namespace\":\"a\",\"resourceVersion\":\"5\",\"ownerReferences\":[{\"uid\":"
    "\"B\","
    "\"name\":\"pgB\"}]}},"
    "{\"metadata\":{\"name\":\"cm3\",\"namespace\":\"a\",\"resourceVersion\":\"3\",\"ownerReferences\":[{\"uid\":\"B\","
    "\"name\":\"pgB\"}]}},"
    "{\"metadata\":{\"name\":\"cm4\",\"namespace\":\"a\",\"resourceVersion\":\"4\",\"ownerReferences\":[{\"uid\":\"B\","
    "\"name\":\"pgB\"}]}}]";

static const char finalDump[] = "a/cm1 5\na/cm3 3\na/cm4 4\n";

/* Lists, then watches: the whole event handling, under whatever allocation failure the sweep injects. After a
 * failure, the informer's recovery (a fresh list) must bring the cache to the final state. */
static bool sweepOperation(void *arg, Err *err)
{
    bool *sawFailure = arg;
    FakeClock fake = {0};
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "no context");
    SweepState sweep = {.ctx = ctx};
    Loop *loop;
    json_t *items = NULL;
    KubeWatchStream stream;
    bool ok = loopNew(ctx, clockFake(&fake), &loop, err) &&
              workQueueNew(ctx, loop, NULL, &(WorkQueueOptions){.rng = rngSplitMix(&(SplitMix){0}, 1)}, NULL, NULL,
                           &sweep.queue, err) &&
              storeNew(ctx, NULL, &sweep.store, err) && storeAddHandler(sweep.store, enqueueOwner, &sweep, err) &&
              jsonParse(initialList, sizeof(initialList) - 1, &items, err) &&
              storeReplace(sweep.store, "a", items, err);
    json_decref(items);
    items = NULL;
    if (ok) {
        kubeWatchStreamInit(&stream, ctx, 1 << 16);
        ok = kubeWatchStreamFeed(&stream, watchStream, sizeof(watchStream) - 1, applyEvent, &sweep, err);
    }
    if (!ok && sweep.checked) {
        /* Recovery, as the informer does it: list again. */
        Err recoverErr;
        *sawFailure = true;
        assert_true(jsonParse(finalList, sizeof(finalList) - 1, &items, &recoverErr));
        assert_true(storeReplace(sweep.store, "a", items, &recoverErr));
        json_decref(items);
        assert_string_equal(dump(ctx, sweep.store), finalDump);
    }
    if (ok) {
        /* Checked without allocating, so the sweep's fault cannot land here. */
        assert_int_equal(storeCount(sweep.store), 3);
        assert_string_equal(storeGet(sweep.store, "a", "cm1")->resourceVersion, "5");
        assert_string_equal(storeGet(sweep.store, "a", "cm3")->resourceVersion, "3");
        assert_string_equal(storeGet(sweep.store, "a", "cm4")->resourceVersion, "4");
        assert_null(
            json_object_get(json_object_get(storeGet(sweep.store, "a", "cm4")->object, "metadata"), "managedFields"));
        char names[64];
        assert_int_equal(owned(sweep.store, "A", names, sizeof(names)), 0);
        assert_int_equal(owned(sweep.store, "B", names, sizeof(names)), 3);
        assert_int_equal(workQueueLen(sweep.queue), 2); /* a/pgA and a/pgB */
    }
    memCtxFree(ctx);
    return ok;
}

static void testFaultInjectionOverEventHandling(void **state)
{
    (void)state;
    bool sawFailure = false;
    unsigned allocations = harnessAllocSweep(sweepOperation, &sawFailure, false);
    assert_true(allocations > 50);
    assert_true(sawFailure);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testUpsertTrimsAndIndexes),
        cmocka_unit_test(testManyOwners),
        cmocka_unit_test(testClusterScopedAndInvalid),
        cmocka_unit_test(testHandlerVetoLeavesStoreUnchanged),
        cmocka_unit_test(testSeveralHandlers),
        cmocka_unit_test(testReplaceMakesCacheEqualList),
        cmocka_unit_test(testFaultInjectionOverEventHandling),
    };
    return cmocka_run_group_tests_name("controller/store", tests, NULL, NULL);
}
