/* Unit tests: pgbouncer/pgbouncer.c and pgbouncer/sql.c, PgBouncer's lines in Patroni's pg_hba, and its keys in the
 * users' Secrets.
 *
 * The builder reads the root CA from the intents before it, so each build runs the certificates' builder first and
 * the golden files (test/unit/golden/cluster/pgbouncer-*) hold PgBouncer's objects only, the Secret without its
 * data, which is random: the Secret's keys are checked one by one, the certificate by decoding it. */
#include "harness/cluster.h"
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/base64.h"
#include "controllers/postgrescluster/builders.h"
#include "patroni/config.h"
#include "pgbouncer/pgbouncer.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0_MS    INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define UID      "7d3c1e52-5b8e-4a63-9a57-2f6c0d1e9b41"
#define INSTANCE "hippo-instance1-bdzp"
#define IMAGE    "registry.example.com/crunchy-postgres:17"
#define BOUNCER  "registry.example.com/pgbouncer:1.24"

#define HIPPO_HEAD                                                                                   \
    "{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\"," \
    " \"metadata\": {\"name\": \"hippo\", \"namespace\": \"ns\", \"uid\": \"" UID "\", \"generation\": 3},"
#define HIPPO_INSTANCES                                                                                      \
    "\"instances\": [{\"name\": \"instance1\", \"replicas\": 1, \"dataVolumeClaimSpec\": {\"accessModes\": " \
    "[\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": \"1Gi\"}}}}]"

/* The examples' hippo with PgBouncer's defaults. */
static const char hippoText[] =
    HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES ", \"proxy\": {\"pgBouncer\": {}}}}";

/* Everything spec.proxy.pgBouncer can say. */
static const char fullText[] = HIPPO_HEAD
    " \"spec\": {\"postgresVersion\": 17, \"port\": 5433, \"imagePullPolicy\": \"IfNotPresent\", " HIPPO_INSTANCES ","
    " \"metadata\": {\"labels\": {\"team\": \"zoo\"}, \"annotations\": {\"zoo/owner\": \"keepers\"}},"
    " \"users\": [{\"name\": \"rhino\", \"databases\": [\"zoo\", \"postgres\"]}, {\"name\": \"app\"}],"
    " \"proxy\": {\"pgBouncer\": {\"image\": \"" BOUNCER "\", \"replicas\": 2, \"port\": 6432,"
    "  \"metadata\": {\"labels\": {\"pool\": \"yes\"}, \"annotations\": {\"pool/note\": \"busy\"}},"
    "  \"config\": {\"global\": {\"pool_mode\": \"transaction\", \"max_client_conn\": \"500\"},"
    "   \"databases\": {\"zoo\": \"host=hippo-primary port=5433 dbname=zoo\"},"
    "   \"users\": {\"rhino\": \"pool_mode=session\"},"
    "   \"files\": [{\"configMap\": {\"name\": \"extra-ini\"}}]},"
    "  \"resources\": {\"limits\": {\"cpu\": \"1\"}},"
    "  \"affinity\": {\"podAntiAffinity\": {\"preferredDuringSchedulingIgnoredDuringExecution\": []}},"
    "  \"tolerations\": [{\"key\": \"pool\", \"operator\": \"Exists\"}], \"priorityClassName\": \"proxy\","
    "  \"topologySpreadConstraints\": [{\"maxSkew\": 2, \"topologyKey\": \"rack\", \"whenUnsatisfiable\": "
    "\"DoNotSchedule\"}],"
    "  \"service\": {\"type\": \"NodePort\", \"nodePort\": 32000, \"metadata\": {\"labels\": {\"svc\": \"yes\"}}},"
    "  \"customTLSSecret\": {\"name\": \"my-pgbouncer-tls\"}}}}}";

typedef ClusterFixture Fixture;

static const char *fixtureImages(void *arg, const char *name)
{
    (void)arg;
    if (strcmp(name, "PGBOUNCER") == 0)
        return "localhost/pgbouncer:1.24.1-1";
    return strcmp(name, "POSTGRES_17") == 0 ? IMAGE : NULL;
}

static void fixtureInit(Fixture *fixture, const char *text, ClusterImageFn *images)
{
    clusterFixtureInit(fixture, harnessJson(text), images, (const char *const[]){INSTANCE, NULL});
    fixture->fake = (FakeClock){.monotonicMs = 0, .wallMs = T0_MS};
    fixture->model.domain = "cluster.local";
    fixture->model.operatorPassword = "PgBouncerFixtureOperatorPassword0123456789ab";
    fixture->model.lookup = clusterFixtureLookup;
    fixture->model.lookupArg = fixture;
}

/* The certificates, then PgBouncer: what the reconciler's builders do in that order. */
static bool buildWithRoot(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    if (clusterBuildCertificates(ctx, model, objects, err) && clusterBuildPgBouncer(ctx, model, objects, err))
        return true;
    json_array_clear(objects); /* a refusal leaves nothing, as clusterBuildRefused checks */
    return false;
}

/* PgBouncer's objects of objects (role pgbouncer), the Secret's data left out. */
static json_t *pgbouncerObjects(const json_t *objects)
{
    json_t *ours = json_array();
    size_t objIdx;
    const json_t *object;
    json_array_foreach(objects, objIdx, object)
    {
        const char *role = json_string_value(
            json_object_get(json_object_get(json_object_get(object, "metadata"), "labels"), CLUSTER_LABEL_ROLE));
        if (role == NULL || strcmp(role, "pgbouncer") != 0)
            continue;
        json_t *copy = json_deep_copy(object);
        if (strcmp(json_string_value(json_object_get(copy, "kind")), "Secret") == 0)
            json_object_del(copy, "data");
        json_array_append_new(ours, copy);
    }
    return ours;
}

static char *secretText(const json_t *secret, const char *key)
{
    const char *encoded = json_string_value(json_object_get(json_object_get(secret, "data"), key));
    assert_non_null(encoded);
    MemCtx *ctx = memCtxNew(NULL, "decode");
    char *bytes;
    size_t len;
    Err err;
    assert_true(base64Decode(ctx, encoded, strlen(encoded), &bytes, &len, &err));
    char *text = malloc(len + 1);
    memcpy(text, bytes, len);
    text[len] = '\0';
    memCtxFree(ctx);
    return text;
}

/* ---- tests ---- */

static void testNothingWithoutProxy(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES "}}", fixtureImages);
    json_t *objects = clusterBuildOk(clusterBuildPgBouncer, &fixture.model);
    assert_int_equal(json_array_size(objects), 0);
    assert_false(clusterPgBouncerEnabled(&fixture.model));
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

static void testDefaults(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText, fixtureImages);
    json_t *objects = clusterBuildOk(buildWithRoot, &fixture.model);
    json_t *ours = pgbouncerObjects(objects);
    assert_golden(ours, "cluster/pgbouncer-hippo");
    /* No PodDisruptionBudget for one replica. */
    assert_null(clusterObjectOf(objects, "PodDisruptionBudget", "hippo-pgbouncer"));

    /* The Secret: a 32-character password, its verifier, users.txt with it, the frontend certificate. */
    const json_t *secret = clusterObjectOf(objects, "Secret", "hippo-pgbouncer");
    char *password = secretText(secret, "pgbouncer-password");
    char *verifier = secretText(secret, "pgbouncer-verifier");
    char *users = secretText(secret, "pgbouncer-users.txt");
    char expected[128];
    assert_int_equal(strlen(password), 32);
    assert_non_null(strstr(verifier, "SCRAM-SHA-256$4096:"));
    snprintf(expected, sizeof(expected), "\"_crunchypgbouncer\" \"%s\"\n", password);
    assert_string_equal(users, expected);
    char *cert = secretText(secret, "pgbouncer-frontend.crt");
    char *roots = secretText(secret, "pgbouncer-frontend.ca-roots");
    char *key = secretText(secret, "pgbouncer-frontend.key");
    assert_non_null(strstr(cert, "BEGIN CERTIFICATE"));
    assert_non_null(strstr(roots, "BEGIN CERTIFICATE"));
    assert_non_null(strstr(key, "PRIVATE KEY"));
    BIO *bio = BIO_new_mem_buf(cert, -1);
    X509 *x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_non_null(x509);
    assert_int_equal(X509_check_host(x509, "hippo-pgbouncer.ns.svc", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x509, "hippo-pgbouncer", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x509, "hippo-primary", 0, 0, NULL), 0);
    X509_free(x509);
    BIO_free(bio);

    /* Cached, all of it is kept: the same Secret again. */
    clusterFixturePut(&fixture, "Secret", "hippo-pgbouncer", json_deep_copy(secret));
    clusterFixturePut(&fixture, "Secret", CLUSTER_ROOT_SECRET,
                      json_deep_copy(clusterObjectOf(objects, "Secret", CLUSTER_ROOT_SECRET)));
    json_t *again = clusterBuildOk(buildWithRoot, &fixture.model);
    assert_true(json_equal(json_object_get(clusterObjectOf(again, "Secret", "hippo-pgbouncer"), "data"),
                           json_object_get(secret, "data")));
    json_decref(again);

    /* A cleared certificate is issued anew; a cleared password gets a new one and a new verifier. */
    json_t *cached = json_deep_copy(secret);
    json_object_del(json_object_get(cached, "data"), "pgbouncer-frontend.crt");
    json_object_del(json_object_get(cached, "data"), "pgbouncer-password");
    clusterFixturePut(&fixture, "Secret", "hippo-pgbouncer", cached);
    again = clusterBuildOk(buildWithRoot, &fixture.model);
    const json_t *renewed = clusterObjectOf(again, "Secret", "hippo-pgbouncer");
    char *newCert = secretText(renewed, "pgbouncer-frontend.crt");
    char *newPassword = secretText(renewed, "pgbouncer-password");
    char *newVerifier = secretText(renewed, "pgbouncer-verifier");
    assert_string_not_equal(newCert, cert);
    assert_string_not_equal(newPassword, password);
    assert_string_not_equal(newVerifier, verifier);
    json_decref(again);

    free(password), free(verifier), free(users), free(cert), free(roots), free(key);
    free(newCert), free(newPassword), free(newVerifier);
    json_decref(ours);
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

static void testFull(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText, fixtureImages);
    json_t *objects = clusterBuildOk(buildWithRoot, &fixture.model);
    json_t *ours = pgbouncerObjects(objects);
    assert_golden(ours, "cluster/pgbouncer-full");
    /* The user's certificate: none in our Secret. */
    const json_t *data = json_object_get(clusterObjectOf(objects, "Secret", "hippo-pgbouncer"), "data");
    assert_null(json_object_get(data, "pgbouncer-frontend.crt"));
    assert_non_null(json_object_get(data, "pgbouncer-users.txt"));
    assert_int_equal(clusterPgBouncerPort(&fixture.model), 6432);
    json_decref(ours);
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

static void testIni(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText, fixtureImages);
    MemCtx *ctx = memCtxNew(NULL, "test");
    char *ini;
    Err err;
    assert_true(clusterPgBouncerIni(ctx, &fixture.model, &ini, &err));
    assert_string_equal(ini, "# Generated by postgres-operator. DO NOT EDIT.\n"
                             "# Your changes will not be saved.\n"
                             "\n"
                             "[pgbouncer]\n"
                             "%include /etc/pgbouncer/pgbouncer.ini\n"
                             "\n"
                             "[pgbouncer]\n"
                             "auth_file = /etc/pgbouncer/~postgres-operator/users.txt\n"
                             "auth_query = SELECT username, password from pgbouncer.get_auth($1)\n"
                             "auth_user = _crunchypgbouncer\n"
                             "client_tls_ca_file = /etc/pgbouncer/~postgres-operator/frontend-ca.crt\n"
                             "client_tls_cert_file = /etc/pgbouncer/~postgres-operator/frontend.crt\n"
                             "client_tls_key_file = /etc/pgbouncer/~postgres-operator/frontend.key\n"
                             "client_tls_sslmode = require\n"
                             "conffile = /etc/pgbouncer/~postgres-operator.ini\n"
                             "ignore_startup_parameters = extra_float_digits\n"
                             "listen_addr = *\n"
                             "listen_port = 5432\n"
                             "server_tls_ca_file = /etc/pgbouncer/~postgres-operator/backend-ca.crt\n"
                             "server_tls_sslmode = verify-full\n"
                             "unix_socket_dir =\n"
                             "\n"
                             "[databases]\n"
                             "* = host=hippo-primary port=5432\n");
    clusterFixtureFree(&fixture);

    /* The user's global options over ours, databases instead of ours, users. */
    fixtureInit(&fixture, fullText, fixtureImages);
    assert_true(clusterPgBouncerIni(ctx, &fixture.model, &ini, &err));
    assert_non_null(strstr(ini, "listen_port = 6432\nmax_client_conn = 500\npool_mode = transaction\n"));
    assert_non_null(strstr(ini, "\n[databases]\nzoo = host=hippo-primary port=5433 dbname=zoo\n\n[users]\n"
                                "rhino = pool_mode=session\n"));
    assert_null(strstr(ini, "* = host"));
    clusterFixtureFree(&fixture);
    memCtxFree(ctx);
}

static void testRefused(void **state)
{
    (void)state;
    static const struct {
        const char *proxy;
        const char *part;
    } cases[] = {
        {"{\"config\": {\"global\": {\"pool_mode\": \"session\\nlisten_port = 1\"}}}",
         "spec.proxy.pgBouncer.config.global[\"pool_mode\"]: Invalid value"},
        {"{\"config\": {\"databases\": {\"zoo\": 5}}}", "spec.proxy.pgBouncer.config.databases[\"zoo\"]"},
        {"{\"config\": {\"users\": {\"a=b\": \"pool_mode=session\"}}}", "spec.proxy.pgBouncer.config.users"},
        {"{\"port\": 80}", "spec.proxy.pgBouncer.port: Invalid value: 80"},
        {"{\"service\": {\"nodePort\": 32000}}", "spec.proxy.pgBouncer.service.nodePort: Forbidden"},
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(cases) / sizeof(cases[0]); caseIdx++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES
                            ", \"proxy\": {\"pgBouncer\": %s}}}",
                 cases[caseIdx].proxy);
        Fixture fixture;
        fixtureInit(&fixture, text, fixtureImages);
        clusterBuildRefused(buildWithRoot, &fixture.model, errInvalidArgument, cases[caseIdx].part);
        clusterFixtureFree(&fixture);
    }
    /* No image at all. */
    Fixture fixture;
    fixtureInit(&fixture, hippoText, NULL);
    fixture.model.image = IMAGE;
    clusterBuildRefused(buildWithRoot, &fixture.model, errInvalidArgument, "no image for PgBouncer");
    /* No root CA among the intents: the builder alone. */
    clusterBuildRefused(clusterBuildPgBouncer, &fixture.model, errInvalidArgument, "no image");
    clusterFixtureFree(&fixture);
    fixtureInit(&fixture, hippoText, fixtureImages);
    clusterBuildRefused(clusterBuildPgBouncer, &fixture.model, errInvalidArgument, "needs the root CA");
    clusterFixtureFree(&fixture);
}

static void testPodDisruptionBudget(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture,
                HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES
                           ", \"proxy\": {\"pgBouncer\": {\"minAvailable\": \"50%\"}}}}",
                fixtureImages);
    json_t *objects = clusterBuildOk(buildWithRoot, &fixture.model);
    const json_t *pdb = clusterObjectOf(objects, "PodDisruptionBudget", "hippo-pgbouncer");
    assert_non_null(pdb);
    assert_string_equal(json_string_value(json_object_get(json_object_get(pdb, "spec"), "minAvailable")), "50%");
    json_decref(objects);
    clusterFixtureFree(&fixture);

    /* Shut down: no replica, and so no budget. */
    fixtureInit(&fixture,
                HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, \"shutdown\": true, " HIPPO_INSTANCES
                           ", \"proxy\": {\"pgBouncer\": {\"replicas\": 3}}}}",
                fixtureImages);
    objects = clusterBuildOk(buildWithRoot, &fixture.model);
    assert_null(clusterObjectOf(objects, "PodDisruptionBudget", "hippo-pgbouncer"));
    const json_t *deployment = clusterObjectOf(objects, "Deployment", "hippo-pgbouncer");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(deployment, "spec"), "replicas")), 0);
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* The batches as JSON: [{dbname, steps: [sql...]}]. */
static json_t *batchesJson(const ClusterPgBouncerSql *sql)
{
    json_t *out = json_array();
    for (size_t batchIdx = 0; batchIdx < sql->batchCount; batchIdx++) {
        json_t *steps = json_array();
        for (size_t stepIdx = 0; stepIdx < sql->batches[batchIdx].count; stepIdx++)
            json_array_append_new(steps, json_string(sql->batches[batchIdx].steps[stepIdx].sql));
        json_array_append_new(out, json_pack("{s:s, s:o}", "dbname", sql->batches[batchIdx].dbname, "steps", steps));
    }
    return out;
}

static void testSql(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText, fixtureImages);
    MemCtx *ctx = memCtxNew(NULL, "test");
    Err err;
    ClusterPgBouncerSql install, other, removal;
    assert_true(clusterPgBouncerSql(ctx, &fixture.model, "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy", &install, &err));
    json_t *json = batchesJson(&install);
    assert_golden(json, "cluster/pgbouncer-sql-install");
    json_decref(json);
    assert_string_equal(install.batches[0].steps[0].secret, "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy");
    assert_true(clusterPgBouncerSql(ctx, &fixture.model, "SCRAM-SHA-256$4096:b3RoZXI=$a2V5:c2VydmVy", &other, &err));
    assert_string_not_equal(install.revision, other.revision);
    assert_true(clusterPgBouncerSql(ctx, &fixture.model, NULL, &removal, &err));
    json = batchesJson(&removal);
    assert_golden(json, "cluster/pgbouncer-sql-remove");
    json_decref(json);
    assert_string_not_equal(install.revision, removal.revision);
    clusterFixtureFree(&fixture);

    /* A user spec the users' SQL refuses is refused here too. */
    fixtureInit(&fixture,
                HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES
                           ", \"users\": [{\"name\": \"_crunchyx\"}], \"proxy\": {\"pgBouncer\": {}}}}",
                fixtureImages);
    assert_false(clusterPgBouncerSql(ctx, &fixture.model, NULL, &removal, &err));
    assert_int_equal(err.code, errInvalidArgument);
    clusterFixtureFree(&fixture);
    memCtxFree(ctx);
}

/* Patroni's pg_hba has PgBouncer's two lines after the mandatory ones while PgBouncer is on. */
static void testHba(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText, fixtureImages);
    MemCtx *ctx = memCtxNew(NULL, "test");
    Err err;
    json_t *dcs = clusterPatroniDynamicConfig(ctx, &fixture.model, &err);
    assert_non_null(dcs);
    const json_t *hba = json_object_get(json_object_get(dcs, "postgresql"), "pg_hba");
    char *text = json_dumps(hba, JSON_COMPACT);
    assert_non_null(strstr(text, "\"hostssl all \\\"_crunchypgbouncer\\\" all scram-sha-256\","
                                 "\"host all \\\"_crunchypgbouncer\\\" all reject\","
                                 "\"hostssl all all all scram-sha-256\""));
    free(text);
    json_decref(dcs);
    clusterFixtureFree(&fixture);

    fixtureInit(&fixture, HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES "}}", fixtureImages);
    dcs = clusterPatroniDynamicConfig(ctx, &fixture.model, &err);
    text = json_dumps(json_object_get(json_object_get(dcs, "postgresql"), "pg_hba"), JSON_COMPACT);
    assert_null(strstr(text, "_crunchypgbouncer"));
    free(text);
    json_decref(dcs);
    clusterFixtureFree(&fixture);
    memCtxFree(ctx);
}

/* The users' Secrets: pgbouncer-host, -port, -uri and -jdbc-uri while PgBouncer is on. */
static void testUserSecretKeys(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText, fixtureImages);
    json_t *objects = clusterBuildOk(clusterBuildUserSecrets, &fixture.model);
    const json_t *rhino = clusterObjectOf(objects, "Secret", "hippo-pguser-rhino");
    char *host = secretText(rhino, "pgbouncer-host");
    char *port = secretText(rhino, "pgbouncer-port");
    char *uri = secretText(rhino, "pgbouncer-uri");
    char *jdbc = secretText(rhino, "pgbouncer-jdbc-uri");
    char *password = secretText(rhino, "password");
    char expected[512];
    assert_string_equal(host, "hippo-pgbouncer.ns.svc");
    assert_string_equal(port, "6432");
    snprintf(expected, sizeof(expected), "postgresql://rhino:%s@hippo-pgbouncer.ns.svc:6432/zoo", password);
    if (strpbrk(password, "()*+,/:;<=>?@[]^{|}") == NULL) /* else escaped: the shape only */
        assert_string_equal(uri, expected);
    static const char jdbcStart[] = "jdbc:postgresql://hippo-pgbouncer.ns.svc:6432/zoo?password=";
    assert_true(strncmp(jdbc, jdbcStart, strlen(jdbcStart)) == 0);
    assert_non_null(strstr(jdbc, "&prepareThreshold=0&user=rhino"));
    /* A user without a database: host and port only. */
    const json_t *app = clusterObjectOf(objects, "Secret", "hippo-pguser-app");
    assert_non_null(json_object_get(json_object_get(app, "data"), "pgbouncer-host"));
    assert_null(json_object_get(json_object_get(app, "data"), "pgbouncer-uri"));
    free(host), free(port), free(uri), free(jdbc), free(password);
    json_decref(objects);
    clusterFixtureFree(&fixture);

    fixtureInit(&fixture, HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES "}}", fixtureImages);
    objects = clusterBuildOk(clusterBuildUserSecrets, &fixture.model);
    assert_null(json_object_get(json_object_get(clusterObjectOf(objects, "Secret", "hippo-pguser-hippo"), "data"),
                                "pgbouncer-host"));
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

static void testAllocationFailures(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText, fixtureImages);
    json_t *objects = clusterBuildOk(clusterBuildCertificates, &fixture.model);
    clusterFixturePut(&fixture, "Secret", CLUSTER_ROOT_SECRET,
                      json_deep_copy(clusterObjectOf(objects, "Secret", CLUSTER_ROOT_SECRET)));
    json_decref(objects);
    assert_true(harnessAllocSweepThinned(clusterBuildSweep, &(ClusterBuildSweep){buildWithRoot, &fixture.model}) > 10);
    clusterFixtureFree(&fixture);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testNothingWithoutProxy),
        cmocka_unit_test(testDefaults),
        cmocka_unit_test(testFull),
        cmocka_unit_test(testIni),
        cmocka_unit_test(testRefused),
        cmocka_unit_test(testPodDisruptionBudget),
        cmocka_unit_test(testSql),
        cmocka_unit_test(testHba),
        cmocka_unit_test(testUserSecretKeys),
        cmocka_unit_test(testAllocationFailures),
    };
    return cmocka_run_group_tests_name("cluster/pgbouncer", tests, NULL, NULL);
}
