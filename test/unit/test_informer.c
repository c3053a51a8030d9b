/* Unit tests: controller/informer against the scripted fake API server: paged list, watch with bookmarks and
 * resume, relist after 410 Gone (the cache then equals the new list), continue-token expiry, transport errors. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "controller/informer.h"
#include "harness/fakeserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS(...) (const FakeStep[]){__VA_ARGS__}, sizeof((const FakeStep[]){__VA_ARGS__}) / sizeof(FakeStep)

static const char watchHeaders[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n";

static const KubeResource clusters = {"postgres-operator.crunchydata.com", "v1beta1", "postgresclusters", true};

typedef struct InformerFixture {
    MemCtx *ctx;
    Loop *loop;
    KubeConfig *config;
    KubeHttp *http;
    Metrics *metrics;
    Api *api;
    Informer *informer;
    FakeServer server;
    SplitMix splitMix;
    char changes[2048];
} InformerFixture;

static int setUp(void **state)
{
    InformerFixture *f = calloc(1, sizeof(*f));
    Err err;
    f->ctx = memCtxNew(NULL, "t");
    if (!loopNew(f->ctx, clockSystem(), &f->loop, &err) || !metricsNew(f->ctx, clockSystem(), &f->metrics, &err))
        return -1;
    f->config = memCtxAlloc(f->ctx, sizeof(*f->config));
    f->config->ctx = f->ctx;
    f->config->namespace = "default";
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    InformerFixture *f = *state;
    memCtxFree(f->ctx);
    free(f);
    return 0;
}

static bool onChange(void *arg, StoreEventType type, const json_t *oldObject, const json_t *newObject, Err *err)
{
    (void)err;
    InformerFixture *f = arg;
    static const char *const names[] = {"added", "updated", "deleted"};
    const json_t *object = newObject != NULL ? newObject : oldObject;
    const char *name = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
    size_t used = strlen(f->changes);
    snprintf(f->changes + used, sizeof(f->changes) - used, "%s:%s;", names[type], name);
    return true;
}

/* Starts the script and an informer for it (namespace "ns"). */
static void start(InformerFixture *f, const FakeStep *steps, size_t count, const InformerOptions *extra)
{
    Err err;
    assert_true(fakeServerStart(&f->server, steps, count, NULL));
    f->config->server = memCtxPrintf(f->ctx, "http://127.0.0.1:%d", f->server.port);
    KubeHttpOptions fast = {.retryBaseMs = 10, .retryCapMs = 40, .maxAttempts = 2};
    if (!kubeHttpNew(f->ctx, f->loop, f->config, &fast, &f->http, &err) ||
        !apiNew(f->ctx, f->http, f->metrics, &f->api, &err))
        fail_msg("%s", err.message);
    static const char *const namespaces[] = {"ns"};
    InformerOptions options = extra != NULL ? *extra : (InformerOptions){0};
    options.resource = clusters;
    options.namespaces = namespaces;
    options.namespaceCount = 1;
    options.backoffBaseMs = options.backoffBaseMs > 0 ? options.backoffBaseMs : 10;
    options.backoffCapMs = options.backoffCapMs > 0 ? options.backoffCapMs : 50;
    options.rng = rngSplitMix(&f->splitMix, 7);
    if (!informerNew(f->ctx, f->loop, f->api, NULL, f->metrics, &options, &f->informer, &err) ||
        !storeAddHandler(informerStore(f->informer), onChange, f, &err))
        fail_msg("%s", err.message);
    informerStart(f->informer);
}

static const char *dump(InformerFixture *f)
{
    StrBuf out;
    strBufInit(&out, f->ctx, 1 << 16);
    Err err;
    assert_true(storeDump(informerStore(f->informer), &out, &err));
    return strBufStr(&out);
}

/* Runs the loop until the informer watches from rv (and the cache holds expected, when given). */
static void runUntil(InformerFixture *f, const char *rv, const char *expected)
{
    Clock clock = clockSystem();
    int64_t deadline = clockMonotonicMs(clock) + 5000;
    Err err;
    while (clockMonotonicMs(clock) < deadline) {
        if (strcmp(informerResourceVersion(f->informer, 0), rv) == 0 &&
            (expected == NULL || strcmp(dump(f), expected) == 0))
            return;
        assert_true(loopRunOnce(f->loop, 10, &err));
    }
    fail_msg("informer at resourceVersion \"%s\" with cache:\n%s\nexpected \"%s\" with cache:\n%s",
             informerResourceVersion(f->informer, 0), dump(f), rv, expected != NULL ? expected : "(any)");
}

/* Lets the server play the rest of its script (its last sleep is at most 300 ms), then stops the informer. */
static void finish(InformerFixture *f)
{
    Clock clock = clockSystem();
    int64_t until = clockMonotonicMs(clock) + 400;
    Err err;
    while (clockMonotonicMs(clock) < until)
        assert_true(loopRunOnce(f->loop, 10, &err));
    informerStop(f->informer);
    assert_true(fakeServerWait(&f->server));
}

/* A complete 200 response with body, owned by the fixture. */
static const char *ok(InformerFixture *f, const char *body)
{
    return memCtxPrintf(f->ctx, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        strlen(body), body);
}

/* A PostgresClusterList page. */
static const char *page(InformerFixture *f, const char *items, const char *rv, const char *continueToken)
{
    const char *body = memCtxPrintf(f->ctx,
                                    "{\"apiVersion\":\"postgres-operator.crunchydata.com/v1beta1\",\"kind\":"
                                    "\"PostgresClusterList\",\"metadata\":{\"resourceVersion\":\"%s\",\"continue\":"
                                    "\"%s\"},\"items\":[%s]}",
                                    rv, continueToken, items);
    return ok(f, body);
}

static const char *item(InformerFixture *f, const char *name, const char *rv)
{
    return memCtxPrintf(f->ctx,
                        "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"uid-%s\",\"resourceVersion\":"
                        "\"%s\",\"managedFields\":[{\"manager\":\"kubectl\"}]},\"spec\":{\"postgresVersion\":17}}",
                        name, name, rv);
}

static const char *event(InformerFixture *f, const char *type, const char *name, const char *rv)
{
    return memCtxPrintf(f->ctx,
                        "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"postgres-operator.crunchydata.com/"
                        "v1beta1\",\"kind\":\"PostgresCluster\",\"metadata\":{\"name\":\"%s\",\"namespace\":"
                        "\"ns\",\"resourceVersion\":\"%s\"}}}\n",
                        type, name, rv);
}

static const char *bookmark(InformerFixture *f, const char *rv)
{
    return memCtxPrintf(f->ctx,
                        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"PostgresCluster\",\"metadata\":{"
                        "\"resourceVersion\":\"%s\"}}}\n",
                        rv);
}

static double restarts(InformerFixture *f, const char *reason)
{
    MetricFamily *family;
    MetricSpec spec = {
        .type = metricCounter, .name = "pgo_informer_watch_restarts_total", .labels = {"resource", "reason"}};
    Err err;
    assert_true(metricsRegister(f->metrics, &spec, &family, &err));
    return metricValue(family, (const char *[]){informerName(f->informer), reason});
}

static void testPagedListThenWatchWithBookmarks(void **state)
{
    InformerFixture *f = *state;
    char a[512], b[512], c[512];
    snprintf(a, sizeof(a), "%s,%s", item(f, "a", "3"), item(f, "b", "4"));
    snprintf(b, sizeof(b), "%s", item(f, "c", "5"));
    snprintf(c, sizeof(c), "%s%s", event(f, "ADDED", "d", "11"), event(f, "MODIFIED", "a", "12"));
    start(f,
          STEPS(FAKE_ACCEPT,
                FAKE_EXPECT("GET /apis/postgres-operator.crunchydata.com/v1beta1/namespaces/ns/postgresclusters"
                            "?labelSelector=app%3Dx&limit=2 "),
                FAKE_SEND(page(f, a, "10", "tok1")),
                FAKE_EXPECT("/namespaces/ns/postgresclusters?labelSelector=app%3Dx&limit=2&continue=tok1 "),
                FAKE_SEND(page(f, b, "10", "")),
                FAKE_EXPECT("/namespaces/ns/postgresclusters?watch=1&labelSelector=app%3Dx&resourceVersion=10"
                            "&allowWatchBookmarks=true&timeoutSeconds="),
                FAKE_SEND(watchHeaders), FAKE_CHUNK(c), FAKE_SLEEP(20), FAKE_CHUNK(bookmark(f, "15")), FAKE_CHUNK(""),
                FAKE_EXPECT("watch=1&labelSelector=app%3Dx&resourceVersion=15&allowWatchBookmarks"),
                FAKE_SEND(watchHeaders), FAKE_CHUNK(event(f, "DELETED", "b", "16")), FAKE_SLEEP(300)),
          &(InformerOptions){.labelSelector = "app=x", .pageSize = 2});
    assert_false(informerSynced(f->informer));
    runUntil(f, "10", "ns/a 3\nns/b 4\nns/c 5\n");
    assert_true(informerSynced(f->informer));
    assert_int_equal(informerListCount(f->informer), 1);
    runUntil(f, "16", "ns/a 12\nns/c 5\nns/d 11\n");
    assert_string_equal(f->changes, "added:a;added:b;added:c;added:d;updated:a;deleted:b;");

    /* Items from the list look like objects from the watch, without managedFields. */
    const StoreEntry *c5 = storeGet(informerStore(f->informer), "ns", "c");
    assert_string_equal(json_string_value(json_object_get(c5->object, "kind")), "PostgresCluster");
    assert_string_equal(json_string_value(json_object_get(c5->object, "apiVersion")),
                        "postgres-operator.crunchydata.com/v1beta1");
    assert_null(json_object_get(json_object_get(c5->object, "metadata"), "managedFields"));
    assert_true(restarts(f, "closed") > 0.5);
    assert_string_equal(informerName(f->informer), "postgresclusters.postgres-operator.crunchydata.com");
    finish(f);
}

static void testGoneRelistsAndCacheEqualsList(void **state)
{
    InformerFixture *f = *state;
    char first[512], second[512];
    snprintf(first, sizeof(first), "%s,%s,%s", item(f, "a", "1"), item(f, "b", "2"), item(f, "c", "3"));
    snprintf(second, sizeof(second), "%s,%s,%s", item(f, "b", "2"), item(f, "c", "9"), item(f, "e", "8"));
    static const char gone[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
                               "\"Failure\",\"message\":\"too old resource version: 5 (20)\",\"reason\":\"Expired\","
                               "\"code\":410}}\n";
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(page(f, first, "5", "")),
                FAKE_EXPECT("?watch=1&resourceVersion=5&"), FAKE_SEND(watchHeaders),
                FAKE_CHUNK(event(f, "DELETED", "c", "6")), FAKE_SLEEP(50), FAKE_CHUNK(gone), FAKE_SLEEP(50),
                FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(page(f, second, "20", "")),
                FAKE_EXPECT("?watch=1&resourceVersion=20&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(300)),
          NULL);
    runUntil(f, "6", "ns/a 1\nns/b 2\n");
    runUntil(f, "20", "ns/b 2\nns/c 9\nns/e 8\n");
    /* The relist told the handler exactly what changed: c came back, e is new, a went; b did not change. */
    assert_string_equal(f->changes, "added:a;added:b;added:c;deleted:c;added:c;added:e;deleted:a;");
    assert_int_equal(informerListCount(f->informer), 2);
    assert_true(restarts(f, "gone") > 0.5);
    assert_true(informerSynced(f->informer));
    finish(f);
}

static void testWatchAnsweredGoneRelists(void **state)
{
    InformerFixture *f = *state;
    static const char goneBody[] = "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Gone\",\"message\":\"gone\"}";
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(page(f, item(f, "a", "1"), "5", "")),
                FAKE_EXPECT("?watch=1&resourceVersion=5&"),
                FAKE_SEND(memCtxPrintf(f->ctx, "HTTP/1.1 410 Gone\r\nContent-Length: %zu\r\n\r\n%s", strlen(goneBody),
                                       goneBody)),
                FAKE_EXPECT("?limit=500 "), FAKE_SEND(page(f, "", "7", "")), FAKE_EXPECT("?watch=1&resourceVersion=7&"),
                FAKE_SEND(watchHeaders), FAKE_SLEEP(300)),
          NULL);
    runUntil(f, "7", "");
    assert_string_equal(f->changes, "added:a;deleted:a;");
    finish(f);
}

static void testResetResumesFromLastVersion(void **state)
{
    InformerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(page(f, item(f, "a", "1"), "5", "")),
                FAKE_EXPECT("?watch=1&resourceVersion=5&"), FAKE_SEND(watchHeaders),
                FAKE_CHUNK(event(f, "MODIFIED", "a", "6")), FAKE_SLEEP(50), FAKE_RESET, FAKE_ACCEPT,
                FAKE_EXPECT("?watch=1&resourceVersion=6&"), FAKE_SEND(watchHeaders),
                FAKE_CHUNK(event(f, "ADDED", "b", "7")), FAKE_SLEEP(300)),
          NULL);
    runUntil(f, "7", "ns/a 6\nns/b 7\n");
    assert_int_equal(informerListCount(f->informer), 1); /* resumed, not listed again */
    assert_true(restarts(f, "error") > 0.5);
    finish(f);
}

static void testExpiredContinueTokenListsAgain(void **state)
{
    InformerFixture *f = *state;
    static const char expired[] = "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"The "
                                  "provided continue parameter is too old\"}";
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=1 "), FAKE_SEND(page(f, item(f, "a", "1"), "5", "tok")),
                FAKE_EXPECT("?limit=1&continue=tok "),
                FAKE_SEND(memCtxPrintf(f->ctx, "HTTP/1.1 410 Gone\r\nContent-Length: %zu\r\n\r\n%s", strlen(expired),
                                       expired)),
                FAKE_EXPECT("?limit=1 "), FAKE_SEND(page(f, item(f, "b", "8"), "9", "tok2")),
                FAKE_EXPECT("?limit=1&continue=tok2 "), FAKE_SEND(page(f, item(f, "c", "9"), "9", "")),
                FAKE_EXPECT("?watch=1&resourceVersion=9&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(300)),
          &(InformerOptions){.pageSize = 1});
    runUntil(f, "9", "ns/b 8\nns/c 9\n");
    /* The expired first attempt never reached the cache. */
    assert_string_equal(f->changes, "added:b;added:c;");
    assert_int_equal(informerListCount(f->informer), 1);
    finish(f);
}

static void testListErrorBacksOffAndRetries(void **state)
{
    InformerFixture *f = *state;
    static const char forbidden[] = "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\",\"message\":\"no\"}";
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "),
                FAKE_SEND(memCtxPrintf(f->ctx, "HTTP/1.1 403 Forbidden\r\nContent-Length: %zu\r\n\r\n%s",
                                       strlen(forbidden), forbidden)),
                FAKE_EXPECT("?limit=500 "), FAKE_SEND(ok(f, "{\"items\":\"not an array\"}")),
                FAKE_EXPECT("?limit=500 "), FAKE_SEND(page(f, item(f, "a", "1"), "5", "")),
                FAKE_EXPECT("?watch=1&resourceVersion=5&"), FAKE_SEND(watchHeaders), FAKE_SLEEP(300)),
          NULL);
    runUntil(f, "5", "ns/a 1\n");
    assert_int_equal(informerListCount(f->informer), 1);
    finish(f);
}

static void testQuickEmptyWatchEndsBackOff(void **state)
{
    InformerFixture *f = *state;
    start(f,
          STEPS(FAKE_ACCEPT, FAKE_EXPECT("?limit=500 "), FAKE_SEND(page(f, "", "5", "")),
                FAKE_EXPECT("?watch=1&resourceVersion=5&"), FAKE_SEND(watchHeaders), FAKE_CHUNK(""),
                FAKE_EXPECT("?watch=1&resourceVersion=5&"), FAKE_SEND(watchHeaders), FAKE_CHUNK(""),
                FAKE_EXPECT("?watch=1&resourceVersion=5&"), FAKE_SEND(watchHeaders),
                FAKE_CHUNK(event(f, "ADDED", "a", "6")), FAKE_SLEEP(300)),
          &(InformerOptions){.backoffBaseMs = 100, .backoffCapMs = 100});
    Clock clock = clockSystem();
    int64_t started = clockMonotonicMs(clock);
    runUntil(f, "6", "ns/a 6\n");
    /* Two empty watches that ended at once: each next one waited at least half the backoff. */
    assert_true(clockMonotonicMs(clock) - started >= 100);
    assert_true(restarts(f, "closed") > 1.5);
    finish(f);
}

static bool keepEverything(void *arg, json_t *object, Err *err)
{
    (void)arg;
    (void)object;
    (void)err;
    return true;
}

/* What makes two watches share an informer: resource, namespaces as a set, label selector, transform. */
static void testMatches(void **state)
{
    InformerFixture *f = *state;
    Err err;
    static const char *const ab[] = {"a", "b"};
    static const char *const ba[] = {"b", "a"};
    static const char *const aa[] = {"a", "a"};
    static const char *const ac[] = {"a", "c"};
    static const char *const a[] = {"a"};
    InformerOptions options = {.resource = clusters, .namespaces = ab, .namespaceCount = 2, .labelSelector = "x=y"};
    Informer *informer;
    assert_true(informerNew(f->ctx, f->loop, NULL, NULL, NULL, &options, &informer, &err));
    assert_string_equal(informerLabelSelector(informer), "x=y");
    assert_true(informerMatches(informer, &options));
    InformerOptions other = options;
    other.namespaces = ba;
    other.pageSize = 7; /* tuning is not compared */
    assert_true(informerMatches(informer, &other));
    other.namespaces = aa;
    assert_false(informerMatches(informer, &other));
    other.namespaces = ac;
    assert_false(informerMatches(informer, &other));
    other.namespaces = a;
    other.namespaceCount = 1;
    assert_false(informerMatches(informer, &other));
    other = options;
    other.labelSelector = NULL;
    assert_false(informerMatches(informer, &other));
    other.labelSelector = "x=z";
    assert_false(informerMatches(informer, &other));
    other = options;
    other.resource.version = "v1";
    assert_false(informerMatches(informer, &other));
    other = options;
    other.resource.plural = "pgupgrades";
    assert_false(informerMatches(informer, &other));
    other = options;
    other.store.transform = keepEverything;
    assert_false(informerMatches(informer, &other));
    other.store.transform = storeTrimDefault; /* the default, named */
    assert_true(informerMatches(informer, &other));
    other.store.arg = f;
    assert_false(informerMatches(informer, &other));
    informerFree(informer);

    /* A core resource in every namespace, without a selector: group NULL and "" alike, selector NULL and "" too. */
    InformerOptions secrets = {.resource = {NULL, "v1", "secrets", true}};
    assert_true(informerNew(f->ctx, f->loop, NULL, NULL, NULL, &secrets, &informer, &err));
    assert_string_equal(informerLabelSelector(informer), "");
    InformerOptions same = {.resource = {"", "v1", "secrets", true}, .labelSelector = ""};
    assert_true(informerMatches(informer, &same));
    same.namespaces = a;
    same.namespaceCount = 1;
    assert_false(informerMatches(informer, &same));
    informerFree(informer);
    informerFree(NULL);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testPagedListThenWatchWithBookmarks, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testGoneRelistsAndCacheEqualsList, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWatchAnsweredGoneRelists, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testResetResumesFromLastVersion, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testExpiredContinueTokenListsAgain, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testListErrorBacksOffAndRetries, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testQuickEmptyWatchEndsBackOff, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testMatches, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("controller/informer", tests, NULL, NULL);
}
