/* Unit tests: kube/config (kubeconfig and in-cluster). Files live in a temporary directory per test. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "kube/config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ConfigFixture {
    char dir[64];
    MemCtx *ctx;
} ConfigFixture;

static int setUp(void **state)
{
    ConfigFixture *fixture = calloc(1, sizeof(*fixture));
    snprintf(fixture->dir, sizeof(fixture->dir), "/tmp/pgo-config-test-XXXXXX");
    if (mkdtemp(fixture->dir) == NULL)
        return -1;
    fixture->ctx = memCtxNew(NULL, "t");
    *state = fixture;
    return 0;
}

static int tearDown(void **state)
{
    ConfigFixture *fixture = *state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", fixture->dir);
    int rc = system(command);
    memCtxFree(fixture->ctx);
    free(fixture);
    return rc == 0 ? 0 : -1;
}

static void writeFile(const ConfigFixture *fixture, const char *name, const char *content)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", fixture->dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(content, file);
    fclose(file);
}

/* "-----BEGIN CERTIFICATE-----\nCA\n" and friends, base64-encoded. */
#define CA_PEM_B64   "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="
#define CERT_PEM_B64 "Q0VSVA=="
#define KEY_PEM_B64  "S0VZ"

static const char kubeconfig[] = "apiVersion: v1\n"
                                 "kind: Config\n"
                                 "current-context: admin@local\n"
                                 "preferences: {}\n"
                                 "clusters:\n"
                                 "- name: local\n"
                                 "  cluster:\n"
                                 "    server: https://127.0.0.1:6443/\n"
                                 "    certificate-authority-data: " CA_PEM_B64 "\n"
                                 "- name: files\n"
                                 "  cluster:\n"
                                 "    server: \"https://10.0.0.1\"\n"
                                 "    certificate-authority: ca.crt\n"
                                 "    insecure-skip-tls-verify: true\n"
                                 "users:\n"
                                 "- name: admin\n"
                                 "  user:\n"
                                 "    client-certificate-data: " CERT_PEM_B64 "\n"
                                 "    client-key-data: " KEY_PEM_B64 "\n"
                                 "- name: files\n"
                                 "  user:\n"
                                 "    client-certificate: /abs/cert.pem\n"
                                 "    client-key: rel/key.pem\n"
                                 "    tokenFile: token\n"
                                 "- name: bearer\n"
                                 "  user:\n"
                                 "    token: 'abc.def'\n"
                                 "- name: plugin\n"
                                 "  user:\n"
                                 "    exec:\n"
                                 "      command: aws\n"
                                 "contexts:\n"
                                 "- name: admin@local\n"
                                 "  context:\n"
                                 "    cluster: local\n"
                                 "    user: admin\n"
                                 "    namespace: postgres-operator\n"
                                 "- name: files\n"
                                 "  context: {cluster: files, user: files}\n"
                                 "- name: bearer\n"
                                 "  context: {cluster: local, user: bearer}\n"
                                 "- name: anonymous\n"
                                 "  context: {cluster: local}\n"
                                 "- name: plugin\n"
                                 "  context: {cluster: local, user: plugin}\n"
                                 "- name: no-cluster\n"
                                 "  context: {cluster: nowhere}\n"
                                 "- name: no-user\n"
                                 "  context: {cluster: local, user: nobody}\n";

static void testCurrentContextWithData(void **state)
{
    ConfigFixture *f = *state;
    KubeConfig *config;
    Err err;
    assert_true(kubeConfigParse(f->ctx, kubeconfig, strlen(kubeconfig), "/base", NULL, &config, &err));
    assert_string_equal(config->server, "https://127.0.0.1:6443");
    assert_string_equal(config->namespace, "postgres-operator");
    assert_string_equal(config->caData.data, "-----BEGIN CERTIFICATE-----\nCA\n");
    assert_int_equal(config->caData.len, 31);
    assert_null(config->caFile);
    assert_string_equal(config->certData.data, "CERT");
    assert_string_equal(config->keyData.data, "KEY");
    assert_null(config->token);
    assert_null(config->tokenFile);
    assert_false(config->insecureSkipTlsVerify);
    const char *token;
    assert_true(kubeConfigToken(config, &token, &err));
    assert_null(token);
    memCtxFree(config->ctx);
}

static void testNamedContextsAndFiles(void **state)
{
    ConfigFixture *f = *state;
    KubeConfig *config;
    Err err;
    assert_true(kubeConfigParse(f->ctx, kubeconfig, strlen(kubeconfig), "/base", "files", &config, &err));
    assert_string_equal(config->server, "https://10.0.0.1");
    assert_string_equal(config->namespace, "default");
    assert_string_equal(config->caFile, "/base/ca.crt");
    assert_null(config->caData.data);
    assert_string_equal(config->certFile, "/abs/cert.pem");
    assert_string_equal(config->keyFile, "/base/rel/key.pem");
    assert_string_equal(config->tokenFile, "/base/token");
    assert_true(config->insecureSkipTlsVerify);

    assert_true(kubeConfigParse(f->ctx, kubeconfig, strlen(kubeconfig), NULL, "bearer", &config, &err));
    const char *token;
    assert_true(kubeConfigToken(config, &token, &err));
    assert_string_equal(token, "abc.def");

    assert_true(kubeConfigParse(f->ctx, kubeconfig, strlen(kubeconfig), NULL, "anonymous", &config, &err));
    assert_null(config->certData.data);
    assert_null(config->token);
}

static void testKubeconfigErrors(void **state)
{
    ConfigFixture *f = *state;
    KubeConfig *config;
    Err err;
    static const struct {
        const char *context;
        const char *message;
    } cases[] = {
        {"missing", "kubeconfig has no entry \"missing\" in contexts"},
        {"plugin", "kubeconfig user \"plugin\": exec is not supported"},
        {"no-cluster", "kubeconfig has no entry \"nowhere\" in clusters"},
        {"no-user", "kubeconfig has no entry \"nobody\" in users"},
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(cases) / sizeof(cases[0]); caseIdx++) {
        errClear(&err);
        assert_false(
            kubeConfigParse(f->ctx, kubeconfig, strlen(kubeconfig), NULL, cases[caseIdx].context, &config, &err));
        assert_err(&err, errConfig);
        assert_contains(err.message, cases[caseIdx].message);
    }

    static const struct {
        const char *yaml;
        ErrCode code;
        const char *message;
    } documents[] = {
        {"", errJsonMissing, "kubeconfig names no current context"},
        {"current-context: x\n", errConfig, "kubeconfig has no entry \"x\" in contexts"},
        {"current-context: [x]\n", errJsonType, "current-context"},
        {"a: [\n", errConfig, "not valid YAML"},
        {"current-context: c\ncontexts: 5\n", errJsonType, "kubeconfig: json path \"contexts\""},
        {"current-context: c\ncontexts: [{name: c}]\n", errJsonMissing, "kubeconfig context \"c\""},
        {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {}}]\n",
         errJsonMissing, "kubeconfig cluster \"k\""},
        {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
         "clusters: [{name: k, cluster: {server: 'ftp://x'}}]\n",
         errConfig, "is not an http(s) URL"},
        {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
         "clusters: [{name: k, cluster: {server: 'https://x', certificate-authority-data: '!!'}}]\n",
         errBase64, "kubeconfig certificate-authority-data"},
        {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
         "clusters: [{name: k, cluster: {server: 'https://x', certificate-authority-data: 'QQ==', "
         "certificate-authority: f}}]\n",
         errConfig, "sets both"},
        {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
         "clusters: [{name: k, cluster: {server: 'https://x', certificate-authority: [7]}}]\n",
         errJsonType, "expected string"},
        {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
         "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {token: [1]}}]\n",
         errJsonType, "kubeconfig user \"u\""},
        {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
         "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {username: a}}]\n",
         errConfig, "username is not supported"},
        {"? [a]\n: b\n", errConfig, "mapping key that is not a string"},
        {"&a [*a]\n", errConfig, "nested too deeply"},
    };
    for (size_t docIdx = 0; docIdx < sizeof(documents) / sizeof(documents[0]); docIdx++) {
        errClear(&err);
        if (kubeConfigParse(f->ctx, documents[docIdx].yaml, strlen(documents[docIdx].yaml), NULL, NULL, &config, &err))
            fail_msg("document %zu was accepted", docIdx);
        if (err.code != documents[docIdx].code || strstr(err.message, documents[docIdx].message) == NULL)
            fail_msg("document %zu: %s: %s", docIdx, errCodeName(err.code), err.message);
    }
    /* Nothing was left behind by the failures. */
    assert_int_equal(memCtxTotalBytes(f->ctx), 0);
}

static void testBillionLaughsIsBounded(void **state)
{
    ConfigFixture *f = *state;
    static const char laughs[] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                                 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                                 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                                 "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    KubeConfig *config;
    Err err;
    assert_false(kubeConfigParse(f->ctx, laughs, strlen(laughs), NULL, NULL, &config, &err));
    assert_err(&err, errConfig);
    assert_contains(err.message, "too large");
}

static void testLoadFile(void **state)
{
    ConfigFixture *f = *state;
    writeFile(f, "config", kubeconfig);
    char path[256];
    snprintf(path, sizeof(path), "%s/config", f->dir);
    KubeConfig *config;
    Err err;
    assert_true(kubeConfigLoadFile(f->ctx, path, "files", &config, &err));
    char expected[256];
    snprintf(expected, sizeof(expected), "%s/ca.crt", f->dir);
    assert_string_equal(config->caFile, expected);

    assert_false(kubeConfigLoadFile(f->ctx, "/nonexistent/config", NULL, &config, &err));
    assert_err(&err, errConfig);
    assert_contains(err.message, "cannot open /nonexistent/config: No such file or directory");

    assert_false(kubeConfigLoadFile(f->ctx, path, "missing", &config, &err));
    assert_contains(err.message, "config: kubeconfig has no entry");

    assert_false(kubeConfigLoadFile(f->ctx, f->dir, NULL, &config, &err));
    assert_contains(err.message, "cannot read");

    /* Bounded size. */
    char *big = malloc(KUBE_CONFIG_MAX_FILE + 2);
    memset(big, '#', KUBE_CONFIG_MAX_FILE + 1);
    big[KUBE_CONFIG_MAX_FILE + 1] = '\0';
    writeFile(f, "big", big);
    free(big);
    snprintf(path, sizeof(path), "%s/big", f->dir);
    assert_false(kubeConfigLoadFile(f->ctx, path, NULL, &config, &err));
    assert_contains(err.message, "is larger than");
}

static void makeServiceAccount(const ConfigFixture *f, const char *ns)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/sa", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    writeFile(f, "sa/ca.crt", "PEM");
    writeFile(f, "sa/token", "  token-one\n");
    if (ns != NULL)
        writeFile(f, "sa/namespace", ns);
}

static void testInCluster(void **state)
{
    ConfigFixture *f = *state;
    makeServiceAccount(f, "postgres-operator\n");
    char saDir[128];
    snprintf(saDir, sizeof(saDir), "%s/sa", f->dir);
    KubeInClusterSource source = {.host = "10.96.0.1", .port = "443", .serviceAccountDir = saDir};
    KubeConfig *config;
    Err err;
    assert_true(kubeConfigInCluster(f->ctx, &source, &config, &err));
    assert_string_equal(config->server, "https://10.96.0.1:443");
    assert_string_equal(config->namespace, "postgres-operator");
    assert_contains(config->caFile, "/sa/ca.crt");
    assert_contains(config->tokenFile, "/sa/token");

    const char *token;
    assert_true(kubeConfigToken(config, &token, &err));
    assert_string_equal(token, "token-one");
    assert_true(kubeConfigToken(config, &token, &err));
    assert_string_equal(token, "token-one");

    /* The kubelet rotates the token by replacing the file. */
    writeFile(f, "sa/token.new", "token-two-longer");
    char from[256], to[256];
    snprintf(from, sizeof(from), "%s/sa/token.new", f->dir);
    snprintf(to, sizeof(to), "%s/sa/token", f->dir);
    assert_int_equal(rename(from, to), 0);
    assert_true(kubeConfigToken(config, &token, &err));
    assert_string_equal(token, "token-two-longer");

    writeFile(f, "sa/token", "\n");
    assert_false(kubeConfigToken(config, &token, &err));
    assert_err(&err, errConfig);
    assert_contains(err.message, "is empty");
    assert_int_equal(unlink(to), 0);
    assert_false(kubeConfigToken(config, &token, &err));
    assert_contains(err.message, "cannot read token file");

    source.host = "fd00::1";
    assert_true(kubeConfigInCluster(f->ctx, &source, &config, &err));
    assert_string_equal(config->server, "https://[fd00::1]:443");
}

static void testInClusterErrors(void **state)
{
    ConfigFixture *f = *state;
    KubeConfig *config;
    Err err;
    KubeInClusterSource source = {.host = NULL, .port = "443", .serviceAccountDir = f->dir};
    assert_false(kubeConfigInCluster(f->ctx, &source, &config, &err));
    assert_contains(err.message, "not running in a cluster");
    source.host = "h";
    source.port = "";
    assert_false(kubeConfigInCluster(f->ctx, &source, &config, &err));
    source.port = "https";
    assert_false(kubeConfigInCluster(f->ctx, &source, &config, &err));
    assert_contains(err.message, "is not a port number");
    source.port = "443";
    assert_false(kubeConfigInCluster(f->ctx, &source, &config, &err));
    assert_contains(err.message, "in-cluster CA");

    /* Without a namespace file the namespace is "default". */
    makeServiceAccount(f, NULL);
    char saDir[128];
    snprintf(saDir, sizeof(saDir), "%s/sa", f->dir);
    source.serviceAccountDir = saDir;
    assert_true(kubeConfigInCluster(f->ctx, &source, &config, &err));
    assert_string_equal(config->namespace, "default");
    writeFile(f, "sa/namespace", "");
    assert_true(kubeConfigInCluster(f->ctx, &source, &config, &err));
    assert_string_equal(config->namespace, "default");

    KubeInClusterSource environment = kubeInClusterSourceFromEnvironment();
    assert_string_equal(environment.serviceAccountDir, KUBE_SERVICE_ACCOUNT_DIR);
}

static bool parseKubeconfig(void *arg, Err *err)
{
    (void)arg;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "ctx");
    KubeConfig *config;
    bool ok = kubeConfigParse(ctx, kubeconfig, strlen(kubeconfig), "/base", "files", &config, err) &&
              kubeConfigParse(ctx, kubeconfig, strlen(kubeconfig), "/base", NULL, &config, err);
    memCtxFree(ctx);
    return ok;
}

static void testAllocationFailureSweep(void **state)
{
    (void)state;
    assert_true(harnessAllocSweep(parseKubeconfig, NULL, false) > 50);
}

static bool loadInCluster(void *arg, Err *err)
{
    const KubeInClusterSource *source = arg;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "ctx");
    KubeConfig *config;
    const char *token;
    bool ok = kubeConfigInCluster(ctx, source, &config, err) && kubeConfigToken(config, &token, err);
    memCtxFree(ctx);
    return ok;
}

static void testInClusterAllocationFailureSweep(void **state)
{
    ConfigFixture *f = *state;
    makeServiceAccount(f, "ns");
    char saDir[128];
    snprintf(saDir, sizeof(saDir), "%s/sa", f->dir);
    KubeInClusterSource source = {.host = "h", .port = "1", .serviceAccountDir = saDir};
    assert_true(harnessAllocSweep(loadInCluster, &source, false) > 5);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testCurrentContextWithData, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNamedContextsAndFiles, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testKubeconfigErrors, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testBillionLaughsIsBounded, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLoadFile, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testInCluster, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testInClusterErrors, setUp, tearDown),
        cmocka_unit_test(testAllocationFailureSweep),
        cmocka_unit_test_setup_teardown(testInClusterAllocationFailureSweep, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("kube/config", tests, NULL, NULL);
}
