/* Unit tests: patroni/config.c (ConfigMaps <cluster>-config and <instance>-config with Patroni's YAML) and the
 * JSON-to-YAML emitter it uses (cluster/yaml.c), against golden files (test/unit/golden/cluster/patroni-*).
 *
 * The golden files hold the YAML as one JSON string; the hippo test also spells the cluster file out here, line by
 * line, as the reviewable statement of what Patroni reads. The model comes from clusterModelFromSpec, so the tests
 * see PGO's defaults (ttl 30, loop_wait 10, port 5432) as the reconciler does. */
#include "harness/cluster.h"
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/memctx.h"
#include "common/strbuf.h"
#include "common/yaml.h"
#include "patroni/config.h"

#include <stdio.h>
#include <string.h>

#define HIPPO_META                                                                                  \
    "\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\"," \
    " \"metadata\": {\"name\": \"hippo\", \"namespace\": \"postgres-operator\","                    \
    "  \"uid\": \"7d3c1e52-5b8e-4a63-9a57-2f6c0d1e9b41\", \"generation\": 1}"

/* The operator's password of every fixture, and its verifier with the derived salt, computed apart from the code under
 * test (Python's hmac, hashlib.pbkdf2_hmac and base64, RFC 5802): a known answer. */
#define OPERATOR_PASSWORD "GoldenOperatorPassword0123456789abcdefghijk"
#define OPERATOR_VERIFIER                                                                       \
    "SCRAM-SHA-256$4096:PoAjV4+Wf52k4n/LwcwUWQ==$dtlHLhcJXRUvbK/PhT1oeM8LpdgjkHStE5JBeFXCcwQ=:" \
    "t2+Z8k+YqYgogy/UA6f7L8cw5ML1oS7DWyfr0fLBxIU="

#define HIPPO_VOLUME                                                                                               \
    "\"dataVolumeClaimSpec\": {\"accessModes\": [\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": " \
    "\"1Gi\"}}}"

/* The examples' hippo: one set of one instance, nothing else. */
static const char *const hippoText = "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17,"
                                     " \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME "}]}}";

typedef ClusterFixture Fixture;

/* The model of cluster (taken over) with the named instances (each "<cluster>-<set>-xxxx"), NULL-terminated. */
static void fixtureInitDoc(Fixture *fixture, json_t *cluster, const char *const *instanceNames)
{
    clusterFixtureInit(fixture, cluster, NULL, instanceNames);
    fixture->model.operatorPassword = OPERATOR_PASSWORD;
}

static void fixtureInit(Fixture *fixture, const char *text, const char *const *instanceNames)
{
    fixtureInitDoc(fixture, harnessJson(text), instanceNames);
}

/* The patroni.yaml text of the object at index. */
static const char *patroniYaml(const json_t *objects, size_t index)
{
    const char *text =
        json_string_value(json_object_get(json_object_get(json_array_get(objects, index), "data"), "patroni.yaml"));
    assert_non_null(text);
    return text;
}

/* Fails unless text has lines as consecutive lines. */
static void assertLines(const char *text, const char *lines)
{
    if (strstr(text, lines) == NULL)
        fail_msg("missing lines:\n%s\nin:\n%s", lines, text);
}

/* --- the YAML emitter --- */

static char *yamlOf(MemCtx *ctx, const char *json)
{
    json_t *value = harnessJson(json);
    StrBuf out;
    strBufInit(&out, ctx, 1 << 20);
    Err err;
    errClear(&err);
    if (!clusterYamlDump(value, &out, &err))
        fail_msg("yaml: %s", err.message);
    json_decref(value);
    return out.data;
}

/* Strings YAML 1.1 would read as another type are quoted; others stay plain; keys are sorted; empty collections
 * are flow style; multi-line strings are literal blocks; numbers keep their type. */
static void testYamlScalars(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "test");
    const char *yaml = yamlOf(ctx, "{\"z\": \"on\", \"timeout\": \"60s\", \"empty\": \"\", \"mode\": \"0660\","
                                   " \"colon\": \"a: b\", \"script\": \"one\\ntwo\\n\", \"real\": 1.5, \"whole\": 2.0,"
                                   " \"none\": null, \"yes\": true, \"list\": [], \"map\": {}, \"flag\": \"-ceu\","
                                   " \"exp\": \"1e3\", \"word\": \"Yes\", \"date\": \"2024-01-31\", \"big\": 100,"
                                   " \"text\": \"héllo wörld\", \"hash\": \"#x\","
                                   " \"nested\": [{\"b\": 1, \"a\": [true, \"off\"]}]}");
    assert_string_equal(yaml, "big: 100\n"
                              "colon: 'a: b'\n"
                              "date: '2024-01-31'\n"
                              "empty: ''\n"
                              "exp: '1e3'\n"
                              "flag: -ceu\n"
                              "hash: '#x'\n"
                              "list: []\n"
                              "map: {}\n"
                              "mode: '0660'\n"
                              "nested:\n"
                              "- a:\n"
                              "  - true\n"
                              "  - 'off'\n"
                              "  b: 1\n"
                              "none: null\n"
                              "real: 1.5\n"
                              "script: |\n"
                              "  one\n"
                              "  two\n"
                              "text: héllo wörld\n"
                              "timeout: 60s\n"
                              "whole: 2.0\n"
                              "word: 'Yes'\n"
                              "'yes': true\n"
                              "z: 'on'\n");
    memCtxFree(ctx);
}

/* A document larger than the buffer's bound fails with errTooLarge. */
static void testYamlBound(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "test");
    json_t *value = json_pack("{s:s}", "key", "a value longer than the bound");
    StrBuf out;
    strBufInit(&out, ctx, 16);
    Err err;
    errClear(&err);
    assert_false(clusterYamlDump(value, &out, &err));
    assert_err(&err, errTooLarge);
    json_decref(value);
    memCtxFree(ctx);
}

/* --- the ConfigMaps --- */

/* hippo: <cluster>-config and the instance's ConfigMap, the cluster file as the e2e reference has it (plus the
 * operator's own pg_hba rule and an explicit retry_timeout). */
static void testHippo(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText, (const char *const[]){"hippo-instance1-abcd", NULL});
    json_t *objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assert_golden(objects, "cluster/patroni-hippo");
    assert_string_equal(patroniYaml(objects, 0),
                        "# Written by the postgres operator from the PostgresCluster; edits here are overwritten.\n"
                        "bootstrap:\n"
                        "  dcs:\n"
                        "    loop_wait: 10\n"
                        "    postgresql:\n"
                        "      parameters:\n"
                        "        archive_command: 'true'\n"
                        "        archive_mode: 'on'\n"
                        "        archive_timeout: 60s\n"
                        "        huge_pages: 'off'\n"
                        "        jit: 'off'\n"
                        "        password_encryption: scram-sha-256\n"
                        "        shared_preload_libraries: pgaudit\n"
                        "        ssl: 'on'\n"
                        "        ssl_ca_file: /pgconf/tls/ca.crt\n"
                        "        ssl_cert_file: /pgconf/tls/tls.crt\n"
                        "        ssl_key_file: /pgconf/tls/tls.key\n"
                        "        unix_socket_directories: /tmp/postgres\n"
                        "        wal_level: logical\n"
                        "      pg_hba:\n"
                        "      - hostssl all \"_crunchyoperator\" all scram-sha-256 clientcert=verify-full\n"
                        "      - host all \"_crunchyoperator\" all reject\n"
                        "      - local all \"postgres\" peer\n"
                        "      - hostssl replication \"_crunchyrepl\" all cert\n"
                        "      - hostssl \"postgres\" \"_crunchyrepl\" all cert\n"
                        "      - host all \"_crunchyrepl\" all reject\n"
                        "      - hostssl all all all scram-sha-256\n"
                        "      pg_ident:\n"
                        "      - '# spec.patroni.dynamicConfiguration.postgresql.pg_ident'\n"
                        "      use_pg_rewind: true\n"
                        "      use_slots: false\n"
                        "    retry_timeout: 10\n"
                        "    ttl: 30\n"
                        "ctl:\n"
                        "  cacert: /etc/patroni/~postgres-operator/patroni.ca-roots\n"
                        "  certfile: /etc/patroni/~postgres-operator/patroni.crt+key\n"
                        "  insecure: false\n"
                        "  keyfile: null\n"
                        "kubernetes:\n"
                        "  labels:\n"
                        "    postgres-operator.crunchydata.com/cluster: hippo\n"
                        "  leader_label_value: master\n"
                        "  namespace: postgres-operator\n"
                        "  role_label: postgres-operator.crunchydata.com/role\n"
                        "  scope_label: postgres-operator.crunchydata.com/patroni\n"
                        "  standby_leader_label_value: master\n"
                        "  use_endpoints: true\n"
                        "postgresql:\n"
                        "  authentication:\n"
                        "    replication:\n"
                        "      sslcert: /tmp/replication/tls.crt\n"
                        "      sslkey: /tmp/replication/tls.key\n"
                        "      sslmode: verify-ca\n"
                        "      sslrootcert: /tmp/replication/ca.crt\n"
                        "      username: _crunchyrepl\n"
                        "    rewind:\n"
                        "      sslcert: /tmp/replication/tls.crt\n"
                        "      sslkey: /tmp/replication/tls.key\n"
                        "      sslmode: verify-ca\n"
                        "      sslrootcert: /tmp/replication/ca.crt\n"
                        "      username: _crunchyrepl\n"
                        "restapi:\n"
                        "  cafile: /etc/patroni/~postgres-operator/patroni.ca-roots\n"
                        "  certfile: /etc/patroni/~postgres-operator/patroni.crt+key\n"
                        "  keyfile: null\n"
                        "  verify_client: optional\n"
                        "scope: hippo-ha\n"
                        "watchdog:\n"
                        "  mode: 'off'\n");
    assert_string_equal(patroniYaml(objects, 1),
                        "# Written by the postgres operator from the PostgresCluster; edits here are overwritten.\n"
                        "bootstrap:\n"
                        "  initdb:\n"
                        "  - data-checksums\n"
                        "  - encoding=UTF8\n"
                        "  - waldir=/pgdata/pg17_wal\n"
                        "  method: initdb\n"
                        "  post_bootstrap: psql -Xq -v ON_ERROR_STOP=1 -c \"DO $$BEGIN IF NOT EXISTS (SELECT FROM "
                        "pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) '_crunchyoperator') THEN CREATE ROLE "
                        "_crunchyoperator; END IF; ALTER ROLE _crunchyoperator WITH SUPERUSER LOGIN PASSWORD "
                        "'" OPERATOR_VERIFIER "'; END$$\"\n"
                        "kubernetes: {}\n"
                        "postgresql:\n"
                        "  basebackup:\n"
                        "  - waldir=/pgdata/pg17_wal\n"
                        "  - checkpoint: fast\n"
                        "  create_replica_methods:\n"
                        "  - basebackup\n"
                        "  pgpass: /tmp/.pgpass\n"
                        "  use_unix_socket: true\n"
                        "restapi: {}\n"
                        "tags: {}\n");
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* spec.patroni.dynamicConfiguration merged under the operator's settings: user parameters over our defaults,
 * spec.config.parameters over those, mandatory ones over all (shared_preload_libraries extended, citus first);
 * values turned into strings; the user's pg_hba after ours and without the default rule; ttl and loop_wait from
 * the spec fields, the user's retry_timeout and use_slots kept, use_pg_rewind forced; unknown keys passed on.
 * Also: two sets (one with a WAL volume and metadata), set metadata on the instance ConfigMaps, huge pages. */
static void testDynamicConfiguration(void **state)
{
    (void)state;
    static const char *const text =
        "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17,"
        " \"metadata\": {\"labels\": {\"team\": \"zoo\"}, \"annotations\": {\"zoo.example.com/owner\": \"keepers\"}},"
        " \"patroni\": {\"leaderLeaseDurationSeconds\": 20, \"syncPeriodSeconds\": 5, \"dynamicConfiguration\": {"
        "  \"ttl\": 99, \"loop_wait\": 99, \"retry_timeout\": 6, \"synchronous_mode\": true,"
        "  \"maximum_lag_on_failover\": 1048576,"
        "  \"postgresql\": {\"use_slots\": true, \"use_pg_rewind\": false,"
        "   \"parameters\": {\"Max_Connections\": 200, \"work_mem\": \"8MB\", \"jit\": \"on\", \"ssl\": \"off\","
        "    \"shared_preload_libraries\": \"pg_stat_statements,citus\", \"hot_standby_feedback\": true,"
        "    \"random_page_cost\": 1.1, \"search_path\": [\"a\", \"b\"], \"ignored\": null,"
        "    \"wal_level\": \"minimal\", \"archive_timeout\": 0},"
        "   \"pg_hba\": [\"  hostssl all all 10.0.0.0/8 scram-sha-256 \", \"include /etc/passwd\", 7, \"\","
        "    \"host all all all reject\"], \"pg_ident\": [\"ldap /^(.*)@example[.]com$ \\\\1\", 9]}}},"
        " \"config\": {\"parameters\": {\"max_connections\": 300, \"work_mem\": \"16MB\"}},"
        " \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME ","
        "   \"resources\": {\"limits\": {\"memory\": \"1Gi\", \"hugepages-2Mi\": \"100Mi\"}}},"
        "  {\"name\": \"instance2\", " HIPPO_VOLUME ", \"walVolumeClaimSpec\": {\"accessModes\": [\"ReadWriteOnce\"],"
        "    \"resources\": {\"requests\": {\"storage\": \"1Gi\"}}},"
        "   \"metadata\": {\"labels\": {\"tier\": \"replicas\", \"postgres-operator.crunchydata.com/instance\": \"x\"},"
        "    \"annotations\": {\"zoo.example.com/owner\": \"divers\"}}}]}}";
    Fixture fixture;
    fixtureInit(&fixture, text, (const char *const[]){"hippo-instance1-abcd", "hippo-instance2-wxyz", NULL});
    json_t *objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assert_golden(objects, "cluster/patroni-dynamic");
    const char *cluster = patroniYaml(objects, 0);
    assertLines(cluster, "bootstrap:\n"
                         "  dcs:\n"
                         "    loop_wait: 5\n"
                         "    maximum_lag_on_failover: 1048576\n"
                         "    postgresql:\n"
                         "      parameters:\n"
                         "        archive_command: 'true'\n"
                         "        archive_mode: 'on'\n"
                         "        archive_timeout: '0'\n"
                         "        hot_standby_feedback: 'true'\n"
                         "        huge_pages: try\n"
                         "        jit: 'on'\n"
                         "        max_connections: '300'\n"
                         "        password_encryption: scram-sha-256\n"
                         "        random_page_cost: '1.1'\n"
                         "        search_path: '[\"a\",\"b\"]'\n"
                         "        shared_preload_libraries: citus,pgaudit,pg_stat_statements,citus\n"
                         "        ssl: 'on'\n");
    assertLines(cluster, "        wal_level: logical\n"
                         "        work_mem: 16MB\n"
                         "      pg_hba:\n"
                         "      - hostssl all \"_crunchyoperator\" all scram-sha-256 clientcert=verify-full\n"
                         "      - host all \"_crunchyoperator\" all reject\n"
                         "      - local all \"postgres\" peer\n"
                         "      - hostssl replication \"_crunchyrepl\" all cert\n"
                         "      - hostssl \"postgres\" \"_crunchyrepl\" all cert\n"
                         "      - host all \"_crunchyrepl\" all reject\n"
                         "      - hostssl all all 10.0.0.0/8 scram-sha-256\n"
                         "      - host all all all reject\n"
                         "      pg_ident:\n"
                         "      - '# spec.patroni.dynamicConfiguration.postgresql.pg_ident'\n"
                         "      - ldap /^(.*)@example[.]com$ \\1\n"
                         "      use_pg_rewind: true\n"
                         "      use_slots: true\n"
                         "    retry_timeout: 6\n"
                         "    synchronous_mode: true\n"
                         "    ttl: 20\n");
    assert_null(strstr(cluster, "ignored"));
    assert_null(strstr(cluster, "Max_Connections"));
    assertLines(patroniYaml(objects, 2), "  - waldir=/pgwal/pg17_wal\n");
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* retry_timeout without a user value: (ttl - loop_wait) / 2, at least 1. */
static void testRetryTimeout(void **state)
{
    (void)state;
    static const struct {
        int ttl, loopWait;
        const char *line;
    } cases[] = {{20, 5, "    retry_timeout: 7\n"},
                 {30, 10, "    retry_timeout: 10\n"},
                 {3, 1, "    retry_timeout: 1\n"},
                 {2, 1, "    retry_timeout: 1\n"}};
    for (size_t caseIdx = 0; caseIdx < sizeof(cases) / sizeof(cases[0]); caseIdx++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "{" HIPPO_META
                 ", \"spec\": {\"postgresVersion\": 17, \"patroni\": {\"leaderLeaseDurationSeconds\": %d,"
                 " \"syncPeriodSeconds\": %d}, \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME "}]}}",
                 cases[caseIdx].ttl, cases[caseIdx].loopWait);
        Fixture fixture;
        fixtureInit(&fixture, text, (const char *const[]){NULL});
        json_t *objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
        assert_int_equal(json_array_size(objects), 1);
        assertLines(patroniYaml(objects, 0), cases[caseIdx].line);
        json_decref(objects);
        clusterFixtureFree(&fixture);
    }
}

/* spec.authentication.rules: whole lines as written (trimmed; include refused), parts quoted as PGO quotes them
 * (names never keywords, "/" names as exact regular expressions, options sorted, password meaning scram-sha-256,
 * no address for local); then the dynamicConfiguration lines; no default rule after user rules. */
static void testAuthenticationRules(void **state)
{
    (void)state;
    static const char *const text =
        "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17,"
        " \"authentication\": {\"rules\": ["
        "  {\"hba\": \"hostssl all all 192.168.0.0/16 cert\\n\"},"
        "  {\"hba\": \" include_dir /tmp\"},"
        "  {\"connection\": \"hostssl\", \"method\": \"password\"},"
        "  {\"connection\": \"host\", \"databases\": [\"zoo\", \"/weird+db\", \"say \\\"hi\\\"\"], \"users\": "
        "[\"hippo\"],"
        "   \"method\": \"ldap\", \"options\": {\"ldapserver\": \"ldap.example.com\", \"ldapport\": 636,"
        "    \"ldapbasedn\": \"dc=example,dc=com\"}},"
        "  {\"connection\": \"local\", \"users\": [\"replication\"], \"method\": \"peer\"}]},"
        " \"patroni\": {\"dynamicConfiguration\": {\"postgresql\": {\"pg_hba\": [\"host all all all reject\"]}}},"
        " \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME "}]}}";
    Fixture fixture;
    fixtureInit(&fixture, text, (const char *const[]){NULL});
    json_t *objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assertLines(patroniYaml(objects, 0),
                "      - host all \"_crunchyrepl\" all reject\n"
                "      - hostssl all all 192.168.0.0/16 cert\n"
                "      - hostssl all all all scram-sha-256\n"
                "      - host \"zoo\",\"/^[/]weird[+]db$\",\"say \"\"hi\"\"\" \"hippo\" all ldap"
                " \"ldapbasedn\"=\"dc=example,dc=com\" \"ldapport\"=\"636\" \"ldapserver\"=\"ldap.example.com\"\n"
                "      - local all \"replication\" peer\n"
                "      - host all all all reject\n"
                "      pg_ident:\n"
                "      - '# spec.patroni.dynamicConfiguration.postgresql.pg_ident'\n"
                "      use_pg_rewind: true\n");
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* Once Patroni has bootstrapped the cluster (status.patroni.systemIdentifier), neither file has a bootstrap
 * section: the DCS is the truth. spec.patroni.logging adds Patroni's log files, at least 25 MB. */
static void testBootstrappedWithLogging(void **state)
{
    (void)state;
    static const char *const text = "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17,"
                                    " \"patroni\": {\"logging\": {\"storageLimit\": \"10Mi\", \"level\": \"DEBUG\"}},"
                                    " \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME "}]},"
                                    " \"status\": {\"patroni\": {\"systemIdentifier\": \"7412345678901234567\"}}}";
    Fixture fixture;
    fixtureInit(&fixture, text, (const char *const[]){"hippo-instance1-abcd", NULL});
    json_t *objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assert_golden(objects, "cluster/patroni-bootstrapped");
    assert_null(strstr(patroniYaml(objects, 0), "bootstrap"));
    assert_null(strstr(patroniYaml(objects, 1), "bootstrap"));
    assertLines(patroniYaml(objects, 0), "log:\n"
                                         "  dir: /pgdata/patroni/log\n"
                                         "  file_num: 1\n"
                                         "  file_size: 12500000\n"
                                         "  level: DEBUG\n"
                                         "  mode: '0660'\n"
                                         "  type: json\n");
    json_decref(objects);
    clusterFixtureFree(&fixture);

    /* Above the floor, half the limit per file. */
    json_t *cluster = harnessJson(text);
    json_t *logging = json_object_get(json_object_get(json_object_get(cluster, "spec"), "patroni"), "logging");
    assert_int_equal(json_object_set_new(logging, "storageLimit", json_string("1Gi")), 0);
    fixtureInitDoc(&fixture, cluster, (const char *const[]){NULL});
    objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assertLines(patroniYaml(objects, 0), "  file_size: 536870912\n  level: DEBUG\n");
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* Input the CRD should have refused, and a configuration beyond what a ConfigMap holds. */
static void testRefused(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture,
                "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17, \"patroni\": {\"logging\": {\"storageLimit\": "
                "\"lots\"}}, \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME "}]}}",
                (const char *const[]){NULL});
    clusterBuildRefused(clusterBuildPatroniConfig, &fixture.model, errInvalidArgument,
                        "spec.patroni.logging.storageLimit: ");
    clusterFixtureFree(&fixture);

    fixtureInit(&fixture,
                "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17, \"authentication\": {\"rules\": [{\"method\": "
                "\"md5\"}]}, \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME "}]}}",
                (const char *const[]){NULL});
    clusterBuildRefused(clusterBuildPatroniConfig, &fixture.model, errInvalidArgument, "needs connection and method");
    clusterFixtureFree(&fixture);

    fixtureInit(&fixture, hippoText, (const char *const[]){NULL});
    json_t *spec = json_object_get(fixture.cluster, "spec");
    json_t *big = json_object();
    for (int keyIdx = 0; keyIdx < 20000; keyIdx++) {
        char key[32];
        snprintf(key, sizeof(key), "setting_%05d", keyIdx);
        assert_int_equal(json_object_set_new(big, key, json_string("a value of some length to fill the file")), 0);
    }
    assert_int_equal(json_object_set_new(spec, "patroni", json_pack("{s:o}", "dynamicConfiguration", big)), 0);
    clusterBuildRefused(clusterBuildPatroniConfig, &fixture.model, errInvalidArgument,
                        "shorten spec.patroni.dynamicConfiguration");
    clusterFixtureFree(&fixture);
}

/* The operator's password: only its verifier reaches a ConfigMap, the same password gives the same files, a
 * cluster not bootstrapped cannot be built without one, and a bootstrapped cluster no longer needs it. */
static void testOperatorPassword(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText, (const char *const[]){"hippo-instance1-abcd", NULL});
    json_t *objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    for (size_t objIdx = 0; objIdx < json_array_size(objects); objIdx++)
        assert_null(strstr(patroniYaml(objects, objIdx), OPERATOR_PASSWORD));
    assert_non_null(strstr(patroniYaml(objects, 1), "PASSWORD '" OPERATOR_VERIFIER "'"));
    json_t *again = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assert_true(json_equal(objects, again));
    json_decref(again);

    fixture.model.operatorPassword = "AnotherOperatorPassword0123456789abcdefghij";
    again = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assert_null(strstr(patroniYaml(again, 1), OPERATOR_VERIFIER));
    assert_non_null(strstr(patroniYaml(again, 1), "PASSWORD 'SCRAM-SHA-256$4096:"));
    assert_string_equal(patroniYaml(again, 0), patroniYaml(objects, 0));
    json_decref(again);
    json_decref(objects);

    fixture.model.operatorPassword = NULL;
    clusterBuildRefused(clusterBuildPatroniConfig, &fixture.model, errInvalidArgument,
                        "the password of the operator's role is not decided");
    fixture.model.operatorPassword = "";
    clusterBuildRefused(clusterBuildPatroniConfig, &fixture.model, errInvalidArgument,
                        "the password of the operator's role is not decided");
    clusterFixtureFree(&fixture);

    json_t *cluster = harnessJson(hippoText);
    assert_int_equal(json_object_set_new(cluster, "status",
                                         json_pack("{s:{s:s}}", "patroni", "systemIdentifier", "7412345678901234567")),
                     0);
    fixtureInitDoc(&fixture, cluster, (const char *const[]){"hippo-instance1-abcd", NULL});
    fixture.model.operatorPassword = NULL;
    objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assert_null(strstr(patroniYaml(objects, 1), "post_bootstrap"));
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* spec.standby: standby_cluster in the DCS (both methods, pgBackRest first, over the user's section whose
 * restore_command is replaced), the standby leader's pgBackRest method from the standby's repository, restore_command
 * from it, and the callback that sets the operator's role on promotion. */
#define STANDBY_SPEC(standby)                                                                                      \
    "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17, \"standby\": " standby ","                               \
    " \"patroni\": {\"dynamicConfiguration\": {\"standby_cluster\": {\"restore_command\": \"mine\","               \
    "  \"primary_slot_name\": \"slot\"}}},"                                                                        \
    " \"backups\": {\"pgbackrest\": {\"repos\": [{\"name\": \"repo1\", \"s3\": {\"bucket\": \"b\", \"endpoint\": " \
    "\"e\", \"region\": \"r\"}}]}},"                                                                               \
    " \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME "}]}}"

static void testStandby(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture,
                STANDBY_SPEC("{\"enabled\": true, \"repoName\": \"repo1\", \"host\": \"primary.example\", "
                             "\"port\": 6543}"),
                (const char *const[]){"hippo-instance1-abcd", NULL});
    json_t *objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assert_golden(objects, "cluster/patroni-standby");
    assertLines(patroniYaml(objects, 0), "    standby_cluster:\n"
                                         "      create_replica_methods:\n"
                                         "      - pgbackrest\n"
                                         "      - basebackup\n"
                                         "      host: primary.example\n"
                                         "      port: 6543\n"
                                         "      primary_slot_name: slot\n"
                                         "      restore_command: pgbackrest --stanza=db archive-get %f \"%p\" "
                                         "--repo=1\n");
    assertLines(patroniYaml(objects, 0), "        restore_command: pgbackrest --stanza=db archive-get %f \"%p\" "
                                         "--repo=1\n");
    const char *instance = patroniYaml(objects, 1);
    assertLines(instance, "--link-map=pg_wal=/pgdata/pg17_wal --type=standby\n");
    assert_non_null(strstr(instance, "pgbackrest restore --delta --stanza=db --repo=1 "));
    assert_non_null(strstr(instance, "  callbacks:\n    on_role_change: "));
    assert_non_null(strstr(instance, "PASSWORD '" OPERATOR_VERIFIER "'"));
    json_decref(objects);
    clusterFixtureFree(&fixture);

    /* Streaming only: pg_basebackup from the host, Patroni's default port, no restore_command of ours. */
    fixtureInit(&fixture, STANDBY_SPEC("{\"host\": \"primary.example\"}"),
                (const char *const[]){"hippo-instance1-abcd", NULL});
    json_t *dcs = clusterPatroniDynamicConfig(fixture.ctx, &fixture.model, &(Err){0});
    assert_non_null(dcs);
    json_t *expected = harnessJson("{\"create_replica_methods\": [\"basebackup\"], \"host\": \"primary.example\","
                                   " \"primary_slot_name\": \"slot\"}");
    assert_true(json_equal(json_object_get(dcs, "standby_cluster"), expected));
    json_decref(expected);
    json_decref(dcs);
    clusterFixtureFree(&fixture);

    /* Promoted (enabled false, bootstrapped): the user's section passes as PGO passes it, ours is gone; restore from
     * any repository; the callback stays, so that the promotion finds it. */
    json_t *cluster = harnessJson(STANDBY_SPEC("{\"enabled\": false, \"repoName\": \"repo1\"}"));
    assert_int_equal(
        json_object_del(json_object_get(json_object_get(cluster, "spec"), "patroni"), "dynamicConfiguration"), 0);
    assert_int_equal(json_object_set_new(cluster, "status",
                                         json_pack("{s:{s:s}}", "patroni", "systemIdentifier", "7412345678901234567")),
                     0);
    fixtureInitDoc(&fixture, cluster, (const char *const[]){"hippo-instance1-abcd", NULL});
    dcs = clusterPatroniDynamicConfig(fixture.ctx, &fixture.model, &(Err){0});
    assert_non_null(dcs);
    assert_null(json_object_get(dcs, "standby_cluster"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(dcs, "postgresql"), "parameters"), "restore_command")),
                        "pgbackrest --stanza=db archive-get %f \"%p\"");
    json_decref(dcs);
    objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.model);
    assert_non_null(strstr(patroniYaml(objects, 1), "on_role_change: "));
    assert_null(strstr(patroniYaml(objects, 1), "pgbackrest restore"));
    json_decref(objects);
    clusterFixtureFree(&fixture);

    /* Neither a repository nor a host (a repoName the CRD refuses is none): refused, as PGO refuses it. */
    fixtureInit(&fixture, STANDBY_SPEC("{\"enabled\": true, \"repoName\": \"repo9\"}"), (const char *const[]){NULL});
    clusterBuildRefused(clusterBuildPatroniConfig, &fixture.model, errInvalidArgument,
                        "neither spec.standby.host nor spec.standby.repoName");
    clusterFixtureFree(&fixture);

    fixtureInit(&fixture,
                STANDBY_SPEC("{\"enabled\": true, \"repoName\": \"repo1\", \"host\": \"primary.example\", "
                             "\"port\": 6543}"),
                (const char *const[]){"hippo-instance1-abcd", NULL});
    assert_true(harnessAllocSweep(clusterBuildSweep, &(ClusterBuildSweep){clusterBuildPatroniConfig, &fixture.model},
                                  false) > 0);
    clusterFixtureFree(&fixture);
}

/* Every allocation failure of the builder (and of the models' JSON) is reported as errOutOfMemory, no leak. */
static void testAllocationSweep(void **state)
{
    (void)state;
    static const char *const text =
        "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17,"
        " \"metadata\": {\"labels\": {\"team\": \"zoo\"}, \"annotations\": {\"zoo.example.com/owner\": \"keepers\"}},"
        " \"authentication\": {\"rules\": [{\"hba\": \"host all all all reject\"},"
        "  {\"connection\": \"host\", \"databases\": [\"/zoo\"], \"users\": [\"hippo\"], \"method\": \"ldap\","
        "   \"options\": {\"ldapserver\": \"ldap\", \"ldapport\": 636}}]},"
        " \"patroni\": {\"logging\": {\"storageLimit\": \"100Mi\"}, \"dynamicConfiguration\": {\"synchronous_mode\": "
        "true,"
        "  \"postgresql\": {\"parameters\": {\"search_path\": [\"a\"], \"work_mem\": \"8MB\", "
        "\"shared_preload_libraries\":"
        "   \"citus\"}, \"pg_hba\": [\"host all all all reject\"]}}},"
        " \"config\": {\"parameters\": {\"max_connections\": 300}},"
        " \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME ","
        "  \"metadata\": {\"labels\": {\"tier\": \"a\"}, \"annotations\": {\"note\": \"b\"}}}]}}";
    Fixture fixture;
    fixtureInit(&fixture, text, (const char *const[]){"hippo-instance1-abcd", NULL});
    assert_true(harnessAllocSweep(clusterBuildSweep, &(ClusterBuildSweep){clusterBuildPatroniConfig, &fixture.model},
                                  false) > 0);
    clusterFixtureFree(&fixture);
    fixtureInit(&fixture, hippoText, (const char *const[]){"hippo-instance1-abcd", NULL});
    assert_true(harnessAllocSweep(clusterBuildSweep, &(ClusterBuildSweep){clusterBuildPatroniConfig, &fixture.model},
                                  false) > 0);
    clusterFixtureFree(&fixture);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testYamlScalars),
        cmocka_unit_test(testYamlBound),
        cmocka_unit_test(testHippo),
        cmocka_unit_test(testDynamicConfiguration),
        cmocka_unit_test(testRetryTimeout),
        cmocka_unit_test(testAuthenticationRules),
        cmocka_unit_test(testBootstrappedWithLogging),
        cmocka_unit_test(testRefused),
        cmocka_unit_test(testOperatorPassword),
        cmocka_unit_test(testStandby),
        cmocka_unit_test(testAllocationSweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
