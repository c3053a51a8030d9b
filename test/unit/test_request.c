/* Unit tests: kube/request. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "kube/request.h"

#include <string.h>

static const KubeResource pods = {"", "v1", "pods", true};
static const KubeResource clusters = {"postgres-operator.crunchydata.com", "v1beta1", "postgresclusters", true};
static const KubeResource namespaces = {"", "v1", "namespaces", false};

/* PGO's field manager for its PostgresCluster controller, which ours uses. */
#define MANAGER "postgrescluster-controller"

typedef struct RequestFixture {
    MemCtx *ctx;
    KubeRequest request;
    Err err;
} RequestFixture;

static int setUp(void **state)
{
    RequestFixture *fixture = calloc(1, sizeof(*fixture));
    fixture->ctx = memCtxNew(NULL, "t");
    *state = fixture;
    return 0;
}

static int tearDown(void **state)
{
    RequestFixture *fixture = *state;
    memCtxFree(fixture->ctx);
    free(fixture);
    return 0;
}

static void testGet(void **state)
{
    RequestFixture *f = *state;
    assert_true(kubeRequestGet(f->ctx, &pods, "postgres-operator", "hippo-0", &f->request, &f->err));
    assert_int_equal(f->request.method, kubeMethodGet);
    assert_string_equal(kubeMethodName(f->request.method), "GET");
    assert_string_equal(f->request.path, "/api/v1/namespaces/postgres-operator/pods/hippo-0");
    assert_null(f->request.body);
    assert_null(f->request.contentType);
    assert_true(f->request.idempotent);
    assert_false(f->request.watch);

    assert_true(kubeRequestGet(f->ctx, &clusters, "ns", "hippo", &f->request, &f->err));
    assert_string_equal(f->request.path,
                        "/apis/postgres-operator.crunchydata.com/v1beta1/namespaces/ns/postgresclusters/hippo");
    assert_true(kubeRequestGet(f->ctx, &namespaces, NULL, "kube-system", &f->request, &f->err));
    assert_string_equal(f->request.path, "/api/v1/namespaces/kube-system");
    /* Odd characters are escaped, never interpreted. */
    assert_true(kubeRequestGet(f->ctx, &pods, "ns", "a b?c#d%e", &f->request, &f->err));
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods/a%20b%3Fc%23d%25e");
}

static void testInvalidTargets(void **state)
{
    RequestFixture *f = *state;
    static const char *const badNames[] = {"", "a/b", ".", ".."};
    for (size_t nameIdx = 0; nameIdx < sizeof(badNames) / sizeof(badNames[0]); nameIdx++) {
        errClear(&f->err);
        assert_false(kubeRequestGet(f->ctx, &pods, "ns", badNames[nameIdx], &f->request, &f->err));
        assert_err(&f->err, errInvalidArgument);
        assert_contains(f->err.message, "cannot build GET request: name");
        assert_false(kubeRequestGet(f->ctx, &pods, badNames[nameIdx], "x", &f->request, &f->err));
        assert_err(&f->err, errInvalidArgument);
    }
    assert_false(kubeRequestGet(f->ctx, &pods, "ns", NULL, &f->request, &f->err));
    assert_false(kubeRequestGet(f->ctx, &pods, NULL, "x", &f->request, &f->err));
    assert_contains(f->err.message, "pods are namespaced, yet no namespace was given");
    assert_false(kubeRequestGet(f->ctx, &namespaces, "ns", "x", &f->request, &f->err));
    assert_contains(f->err.message, "namespaces are cluster-scoped, yet a namespace was given");
    assert_false(kubeRequestCreate(f->ctx, &pods, NULL, NULL, &f->request, &f->err));
    assert_err(&f->err, errInvalidArgument);
}

static void testList(void **state)
{
    RequestFixture *f = *state;
    assert_true(kubeRequestList(f->ctx, &pods, "ns", NULL, &f->request, &f->err));
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods");
    KubeListOptions options = {
        .labelSelector = "postgres-operator.crunchydata.com/cluster=hippo,role in (a,b)",
        .fieldSelector = "status.phase=Running",
        .resourceVersion = "0",
        .continueToken = "eyJ2Ijo+/=",
        .limit = 500,
    };
    assert_true(kubeRequestList(f->ctx, &clusters, NULL, &options, &f->request, &f->err));
    assert_string_equal(f->request.path,
                        "/apis/postgres-operator.crunchydata.com/v1beta1/postgresclusters"
                        "?labelSelector=postgres-operator.crunchydata.com%2Fcluster%3Dhippo%2Crole%20in%20%28a%2Cb%29"
                        "&fieldSelector=status.phase%3DRunning&resourceVersion=0&limit=500&continue=eyJ2Ijo%2B%2F%3D");
}

static void testWatch(void **state)
{
    RequestFixture *f = *state;
    KubeWatchOptions options = {
        .labelSelector = "a=b", .resourceVersion = "12345", .allowWatchBookmarks = true, .timeoutSeconds = 290};
    assert_true(kubeRequestWatch(f->ctx, &pods, "ns", &options, &f->request, &f->err));
    assert_true(f->request.watch);
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods?watch=1&labelSelector=a%3Db"
                                         "&resourceVersion=12345&allowWatchBookmarks=true&timeoutSeconds=290");
    assert_true(kubeRequestWatch(f->ctx, &pods, NULL, NULL, &f->request, &f->err));
    assert_string_equal(f->request.path, "/api/v1/pods?watch=1");
}

static void testWrites(void **state)
{
    RequestFixture *f = *state;
    json_t *object = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "kind", "ConfigMap", "apiVersion", "v1", "metadata",
                               "name", "cm", "data", "replicas", 0);

    assert_true(kubeRequestCreate(f->ctx, &pods, "ns", object, &f->request, &f->err));
    assert_int_equal(f->request.method, kubeMethodPost);
    assert_false(f->request.idempotent);
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods");
    assert_string_equal(f->request.contentType, "application/json");
    assert_string_equal(f->request.body,
                        "{\"apiVersion\":\"v1\",\"data\":{\"replicas\":0},\"kind\":\"ConfigMap\",\"metadata\":"
                        "{\"name\":\"cm\"}}");
    assert_int_equal(f->request.bodyLen, strlen(f->request.body));

    assert_true(kubeRequestUpdate(f->ctx, &pods, "ns", "cm", kubeSubresourceNone, object, &f->request, &f->err));
    assert_int_equal(f->request.method, kubeMethodPut);
    assert_true(f->request.idempotent);
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods/cm");

    assert_true(
        kubeRequestUpdate(f->ctx, &clusters, "ns", "hippo", kubeSubresourceStatus, object, &f->request, &f->err));
    assert_string_equal(f->request.path,
                        "/apis/postgres-operator.crunchydata.com/v1beta1/namespaces/ns/postgresclusters/hippo/status");

    assert_true(
        kubeRequestApply(f->ctx, &pods, "ns", "cm", kubeSubresourceNone, MANAGER, object, &f->request, &f->err));
    assert_int_equal(f->request.method, kubeMethodPatch);
    assert_string_equal(kubeMethodName(f->request.method), "PATCH");
    assert_string_equal(f->request.path,
                        "/api/v1/namespaces/ns/pods/cm?fieldManager=postgrescluster-controller&force=true");
    assert_string_equal(f->request.contentType, "application/apply-patch+yaml");

    assert_true(kubeRequestApply(f->ctx, &clusters, "ns", "hippo", kubeSubresourceStatus, MANAGER, object, &f->request,
                                 &f->err));
    assert_contains(f->request.path,
                    "/postgresclusters/hippo/status?fieldManager=postgrescluster-controller&force=true");

    assert_true(kubeRequestMergePatch(f->ctx, &clusters, "ns", "hippo", kubeSubresourceStatus, MANAGER, object,
                                      &f->request, &f->err));
    assert_string_equal(f->request.path, "/apis/postgres-operator.crunchydata.com/v1beta1/namespaces/ns/"
                                         "postgresclusters/hippo/status?fieldManager=postgrescluster-controller");
    assert_string_equal(f->request.contentType, "application/merge-patch+json");
    assert_true(f->request.idempotent);

    assert_true(kubeRequestStrategicPatch(f->ctx, &pods, "ns", "p", kubeSubresourceNone, MANAGER, object, &f->request,
                                          &f->err));
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods/p?fieldManager=postgrescluster-controller");
    assert_string_equal(f->request.contentType, "application/strategic-merge-patch+json");
    assert_true(f->request.idempotent);
    json_decref(object);
}

/* The field manager is the caller's: another controller's name goes out as it is (escaped), a patch may leave it to
 * the API server, an apply may not, and a name the API server would refuse is refused here. */
static void testFieldManager(void **state)
{
    RequestFixture *f = *state;
    json_t *object = json_pack("{s:s}", "kind", "ConfigMap");

    assert_true(kubeRequestApply(f->ctx, &pods, "ns", "p", kubeSubresourceNone, "pgupgrade-controller", object,
                                 &f->request, &f->err));
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods/p?fieldManager=pgupgrade-controller&force=true");
    assert_true(
        kubeRequestMergePatch(f->ctx, &pods, "ns", "p", kubeSubresourceNone, "a b&c=d", object, &f->request, &f->err));
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods/p?fieldManager=a%20b%26c%3Dd");

    /* Without a name, a patch is the User-Agent's (as a create is); an apply cannot be. */
    assert_true(
        kubeRequestMergePatch(f->ctx, &pods, "ns", "p", kubeSubresourceNone, NULL, object, &f->request, &f->err));
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods/p");
    assert_true(
        kubeRequestStrategicPatch(f->ctx, &pods, "ns", "p", kubeSubresourceNone, NULL, object, &f->request, &f->err));
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods/p");
    assert_false(kubeRequestApply(f->ctx, &pods, "ns", "p", kubeSubresourceNone, NULL, object, &f->request, &f->err));
    assert_err(&f->err, errInvalidArgument);
    assert_string_equal(f->err.message, "cannot build PATCH request: fieldManager is empty");

    char longest[KUBE_FIELD_MANAGER_MAX_LENGTH + 2];
    memset(longest, 'm', sizeof(longest) - 2);
    longest[sizeof(longest) - 2] = '\0';
    assert_true(kubeRequestApply(f->ctx, &pods, "ns", "p", kubeSubresourceNone, longest, object, &f->request, &f->err));
    longest[sizeof(longest) - 2] = 'm';
    longest[sizeof(longest) - 1] = '\0';
    for (int verb = 0; verb < 3; verb++) {
        const char *bad[] = {"", longest, "tab\there", "new\nline"};
        for (size_t badIdx = 0; badIdx < sizeof(bad) / sizeof(bad[0]); badIdx++) {
            errClear(&f->err);
            bool ok = verb == 0   ? kubeRequestApply(f->ctx, &pods, "ns", "p", kubeSubresourceNone, bad[badIdx], object,
                                                     &f->request, &f->err)
                      : verb == 1 ? kubeRequestMergePatch(f->ctx, &pods, "ns", "p", kubeSubresourceNone, bad[badIdx],
                                                          object, &f->request, &f->err)
                                  : kubeRequestStrategicPatch(f->ctx, &pods, "ns", "p", kubeSubresourceNone,
                                                              bad[badIdx], object, &f->request, &f->err);
            assert_false(ok);
            assert_err(&f->err, errInvalidArgument);
            assert_contains(f->err.message, "fieldManager");
        }
    }
    assert_contains(f->err.message, "control character");
    json_decref(object);
}

static void testDelete(void **state)
{
    RequestFixture *f = *state;
    assert_true(kubeRequestDelete(f->ctx, &pods, "ns", "p", NULL, &f->request, &f->err));
    assert_int_equal(f->request.method, kubeMethodDelete);
    assert_string_equal(f->request.path, "/api/v1/namespaces/ns/pods/p");
    assert_string_equal(f->request.body, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\"}");

    KubeDeleteOptions options = {
        .propagationPolicy = "Foreground", .preconditionUid = "u-1", .preconditionResourceVersion = "42"};
    assert_true(kubeRequestDelete(f->ctx, &pods, "ns", "p", &options, &f->request, &f->err));
    assert_string_equal(f->request.body, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"preconditions\":"
                                         "{\"resourceVersion\":\"42\",\"uid\":\"u-1\"},"
                                         "\"propagationPolicy\":\"Foreground\"}");
    assert_false(kubeRequestDelete(f->ctx, &pods, "ns", "", &options, &f->request, &f->err));
}

static void testBounds(void **state)
{
    RequestFixture *f = *state;
    static char longName[KUBE_PATH_MAX_LENGTH];
    memset(longName, 'n', sizeof(longName) - 1);
    assert_false(kubeRequestGet(f->ctx, &pods, "ns", longName, &f->request, &f->err));
    assert_err(&f->err, errTooLarge);

    json_t *big = json_object();
    char *value = malloc(KUBE_BODY_MAX_LENGTH);
    memset(value, 'v', KUBE_BODY_MAX_LENGTH - 1);
    value[KUBE_BODY_MAX_LENGTH - 1] = '\0';
    assert_int_equal(json_object_set_new(big, "v", json_string(value)), 0);
    assert_false(kubeRequestCreate(f->ctx, &pods, "ns", big, &f->request, &f->err));
    assert_err(&f->err, errTooLarge);
    free(value);
    json_decref(big);
}

/* Builds one request of each verb in a fresh context. */
static bool buildAll(void *arg, Err *err)
{
    (void)arg;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "ctx");
    json_t *object = json_pack("{s:s}", "kind", "Pod");
    KubeRequest request;
    KubeListOptions list = {.labelSelector = "a=b", .limit = 5};
    KubeDeleteOptions del = {.propagationPolicy = "Background", .preconditionUid = "u"};
    bool ok = (object != NULL || errSet(err, errOutOfMemory, "pack")) &&
              kubeRequestGet(ctx, &pods, "ns", "n", &request, err) &&
              kubeRequestList(ctx, &pods, "ns", &list, &request, err) &&
              kubeRequestWatch(ctx, &pods, "ns", NULL, &request, err) &&
              kubeRequestCreate(ctx, &pods, "ns", object, &request, err) &&
              kubeRequestUpdate(ctx, &pods, "ns", "n", kubeSubresourceStatus, object, &request, err) &&
              kubeRequestApply(ctx, &pods, "ns", "n", kubeSubresourceNone, MANAGER, object, &request, err) &&
              kubeRequestMergePatch(ctx, &pods, "ns", "n", kubeSubresourceNone, MANAGER, object, &request, err) &&
              kubeRequestStrategicPatch(ctx, &pods, "ns", "n", kubeSubresourceNone, MANAGER, object, &request, err) &&
              kubeRequestDelete(ctx, &pods, "ns", "n", &del, &request, err);
    json_decref(object);
    memCtxFree(ctx);
    return ok;
}

static void testAllocationFailureSweep(void **state)
{
    (void)state;
    assert_true(harnessAllocSweep(buildAll, NULL, false) > 10);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testGet, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testInvalidTargets, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testList, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWatch, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testWrites, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testFieldManager, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testDelete, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testBounds, setUp, tearDown),
        cmocka_unit_test(testAllocationFailureSweep),
    };
    return cmocka_run_group_tests_name("kube/request", tests, NULL, NULL);
}
