/* Unit tests: postgres/users — the users read from the spec, the checks of names, options and verifiers, the SQL
 * (golden files test/unit/golden/cluster/users-*.json: the batches with each step's guard, statement and secret, and
 * the revision), the revision's stability, and the allocation sweep. test_cluster_postgres runs the same SQL
 * against a real server. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "harness/golden.h"
#include "postgres/users.h"

#include <stdio.h>
#include <string.h>

/* "SCRAM-SHA-256$4096:<user>..." for every user but those named "none..." (no verifier). */
static const char *fakeVerifier(void *arg, const char *user)
{
    char *buffer = arg;
    if (strncmp(user, "none", 4) == 0)
        return NULL;
    snprintf(buffer, 256, "SCRAM-SHA-256$4096:c2FsdA==$%s+stored=:%s+server=", user, user);
    return buffer;
}

/* The SQL as a document: {"revision", "batches": [{"database", "steps": [{"sql", "unless"?, "secret"?}]}]}. */
static json_t *sqlJson(const ClusterUsersSql *sql)
{
    json_t *batches = json_array();
    for (size_t batchIdx = 0; batchIdx < sql->batchCount; batchIdx++) {
        const PgBatch *batch = &sql->batches[batchIdx];
        json_t *steps = json_array();
        for (size_t stepIdx = 0; stepIdx < batch->count; stepIdx++) {
            const PgStep *step = &batch->steps[stepIdx];
            json_t *entry = json_pack("{s:s}", "sql", step->sql);
            if (step->unless != NULL)
                json_object_set_new(entry, "unless", json_string(step->unless));
            if (step->secret != NULL)
                json_object_set_new(entry, "secret", json_string(step->secret));
            json_array_append_new(steps, entry);
        }
        json_array_append_new(batches, json_pack("{s:s, s:o}", "database", batch->dbname, "steps", steps));
    }
    return json_pack("{s:s, s:o}", "revision", sql->revision, "batches", batches);
}

/* Builds the SQL for the cluster document text and returns it as sqlJson, or NULL with err filled. */
static json_t *usersFor(const char *clusterText, Err *err)
{
    json_t *cluster = harnessJson(clusterText);
    const char *name = json_string_value(json_object_get(json_object_get(cluster, "metadata"), "name"));
    ClusterModel model = {.cluster = cluster, .namespace = "ns", .name = name};
    MemCtx *ctx = memCtxNew(NULL, "t");
    char verifier[256];
    ClusterUsersSql sql;
    json_t *result = clusterUsersSql(ctx, &model, fakeVerifier, verifier, &sql, err) ? sqlJson(&sql) : NULL;
    memCtxFree(ctx);
    json_decref(cluster);
    return result;
}

static const char *revisionOf(const json_t *sql)
{
    return json_string_value(json_object_get(sql, "revision"));
}

static const char hippo[] =
    "{\"metadata\": {\"name\": \"hippo\", \"annotations\": "
    "{\"postgres-operator.crunchydata.com/autoCreateUserSchema\": \"true\"}},"
    " \"spec\": {\"users\": ["
    "{\"name\": \"postgres\", \"databases\": [\"zoo\"], \"options\": \"NOSUPERUSER\"},"
    "{\"name\": \"rhino\", \"databases\": [\"zoo\", \"hippo\"], \"options\": \"CREATEDB CONNECTION LIMIT 10\"},"
    "{\"name\": \"monitor\", \"databases\": [\"zoo\"]},"
    "{\"name\": \"none-with-options\", \"databases\": [\"it's \\\"quoted\\\" \\\\ ü\"],"
    " \"options\": \"VALID UNTIL 'infinity'\"},"
    "{\"name\": \"none\"}]}}";

static void testDefaultUser(void **state)
{
    (void)state;
    Err err;
    json_t *sql = usersFor("{\"metadata\": {\"name\": \"hippo\"}, \"spec\": {}}", &err);
    assert_non_null(sql);
    assert_golden(sql, "cluster/users-default");
    json_decref(sql);

    /* users: null is the same as absent. */
    sql = usersFor("{\"metadata\": {\"name\": \"hippo\"}, \"spec\": {\"users\": null}}", &err);
    assert_non_null(sql);
    assert_golden(sql, "cluster/users-default");
    json_decref(sql);
}

static void testUsers(void **state)
{
    (void)state;
    Err err;
    json_t *sql = usersFor(hippo, &err);
    assert_non_null(sql);
    assert_golden(sql, "cluster/users-hippo");
    json_decref(sql);
}

static void testNoUsers(void **state)
{
    (void)state;
    Err err;
    json_t *sql = usersFor("{\"metadata\": {\"name\": \"hippo\"}, \"spec\": {\"users\": []}}", &err);
    assert_non_null(sql);
    assert_int_equal(json_array_size(json_object_get(sql, "batches")), 0);
    assert_string_equal(revisionOf(sql), "811c9dc5"); /* FNV-1a of nothing */
    json_decref(sql);
}

/* The verifier arg, whoever the user. */
static const char *fixedVerifier(void *arg, const char *user)
{
    (void)user;
    return arg;
}

/* The revision is a function of the SQL: the same input gives the same one, any change another. */
static void testRevision(void **state)
{
    (void)state;
    static const char *const variants[] = {
        /* 0: the base */
        "{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\", \"databases\": [\"d\"]}]}}",
        /* 1: another option */
        "{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\", \"databases\": [\"d\"], "
        "\"options\": \"CREATEDB\"}]}}",
        /* 2: another database */
        "{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\", \"databases\": [\"e\"]}]}}",
        /* 3: another user (so another verifier too) */
        "{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"b\", \"databases\": [\"d\"]}]}}",
        /* 4: schemas */
        "{\"metadata\": {\"name\": \"c\", \"annotations\": {\"postgres-operator.crunchydata.com/autoCreateUserSchema\""
        ": \"TRUE\"}}, \"spec\": {\"users\": [{\"name\": \"a\", \"databases\": [\"d\"]}]}}",
        /* 5: the annotation, but not true */
        "{\"metadata\": {\"name\": \"c\", \"annotations\": {\"postgres-operator.crunchydata.com/autoCreateUserSchema\""
        ": \"yes\"}}, \"spec\": {\"users\": [{\"name\": \"a\", \"databases\": [\"d\"]}]}}",
    };
    Err err;
    char revisions[6][CLUSTER_USERS_REVISION_SIZE];
    for (size_t variantIdx = 0; variantIdx < 6; variantIdx++) {
        json_t *sql = usersFor(variants[variantIdx], &err);
        json_t *again = usersFor(variants[variantIdx], &err);
        assert_non_null(sql);
        assert_non_null(again);
        assert_string_equal(revisionOf(sql), revisionOf(again));
        assert_int_equal(strlen(revisionOf(sql)), 8);
        snprintf(revisions[variantIdx], sizeof(revisions[variantIdx]), "%s", revisionOf(sql));
        json_decref(sql);
        json_decref(again);
    }
    for (size_t left = 0; left < 5; left++) {
        for (size_t right = left + 1; right < 5; right++)
            assert_string_not_equal(revisions[left], revisions[right]);
    }
    assert_string_equal(revisions[5], revisions[0]);

    /* The verifier counts. */
    json_t *cluster = harnessJson(variants[0]);
    ClusterModel model = {.cluster = cluster, .namespace = "ns", .name = "c"};
    MemCtx *ctx = memCtxNew(NULL, "t");
    ClusterUsersSql sql;
    assert_true(clusterUsersSql(ctx, &model, fixedVerifier, (void *)(uintptr_t) "md5c0ffeec0ffeec0ffeec0ffeec0ffee",
                                &sql, &err));
    char first[CLUSTER_USERS_REVISION_SIZE];
    memcpy(first, sql.revision, sizeof(first));
    assert_true(clusterUsersSql(ctx, &model, fixedVerifier, (void *)(uintptr_t) "md5c0ffeec0ffeec0ffeec0ffeec0ffef",
                                &sql, &err));
    assert_string_not_equal(sql.revision, first);
    assert_string_not_equal(sql.revision, revisions[0]);
    memCtxFree(ctx);
    json_decref(cluster);
}

static void testFromSpec(void **state)
{
    (void)state;
    json_t *cluster = harnessJson(hippo);
    ClusterModel model = {.cluster = cluster, .namespace = "ns", .name = "hippo"};
    MemCtx *ctx = memCtxNew(NULL, "t");
    ClusterUser *users;
    size_t count;
    Err err;
    assert_true(clusterUsersFromSpec(ctx, &model, &users, &count, &err));
    assert_int_equal(count, 5);
    /* As written: the postgres user keeps its own list and options here; the SQL overrides them. */
    assert_string_equal(users[0].name, "postgres");
    assert_int_equal(users[0].databaseCount, 1);
    assert_string_equal(users[0].databases[0], "zoo");
    assert_string_equal(users[0].options, "NOSUPERUSER");
    assert_string_equal(users[1].databases[1], "hippo");
    assert_string_equal(users[3].databases[0], "it's \"quoted\" \\ ü");
    assert_string_equal(users[4].options, "");
    assert_int_equal(users[4].databaseCount, 0);
    assert_null(users[4].databases);
    memCtxFree(ctx);
    json_decref(cluster);
}

static void testOptions(void **state)
{
    (void)state;
    static const char *const good[] = {"",
                                       "CREATEDB",
                                       "NOSUPERUSER NOLOGIN NOINHERIT",
                                       "CONNECTION LIMIT -1",
                                       "VALID UNTIL '2027-01-01 00:00:00+00'",
                                       "VALID UNTIL 'it''s'",
                                       "REPLICATION\nBYPASSRLS"};
    static const char *const bad[][2] = {
        {"CREATEDB; DROP TABLE x", "semicolon"},
        {"CREATEDB -- hidden", "comments"},
        {"CREATEDB /* hidden", "comments"},
        {"CREATEDB */", "comments"},
        {"PASSWORD 'x'", "password"},
        {"ENCRYPTED password 'x'", "password"},
        {"LOGIN pAsSwOrD NULL", "password"},
        {"VALID UNTIL E'\\''", "backslash"},
        {"VALID UNTIL $$x$$", "dollar"},
        {"VALID UNTIL \"x\"", "double quote"},
        {"VALID UNTIL '", "unterminated"},
        {"VALID UNTIL 'a''", "unterminated"},
    };
    Err err;
    for (size_t goodIdx = 0; goodIdx < sizeof(good) / sizeof(good[0]); goodIdx++) {
        if (!clusterUserOptionsCheck(good[goodIdx], "options", &err))
            fail_msg("%s: %s", good[goodIdx], err.message);
    }
    for (size_t badIdx = 0; badIdx < sizeof(bad) / sizeof(bad[0]); badIdx++) {
        if (clusterUserOptionsCheck(bad[badIdx][0], "spec.users[1].options", &err))
            fail_msg("accepted %s", bad[badIdx][0]);
        assert_err(&err, errInvalidArgument);
        assert_contains(err.message, "spec.users[1].options");
        assert_contains(err.message, bad[badIdx][1]);
    }
}

static void assertInvalid(const char *clusterText, const char *message)
{
    Err err;
    json_t *sql = usersFor(clusterText, &err);
    if (sql != NULL)
        fail_msg("accepted %s", clusterText);
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, message);
}

static void testInvalid(void **state)
{
    (void)state;
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\"}, {\"name\": \"b\", "
                  "\"options\": \"LOGIN; SELECT 1\"}]}}",
                  "spec.users[1].options may not contain a semicolon");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"databases\": [\"d\"]}]}}",
                  "spec.users[0].name must be a string");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": 7}]}}",
                  "spec.users[0].name must be a string");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"\"}]}}",
                  "spec.users[0].name must be 1 to 63 bytes");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": "
                  "\"a234567890123456789012345678901234567890123456789012345678901234\"}]}}",
                  "spec.users[0].name must be 1 to 63 bytes");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\", \"databases\": "
                  "[\"d\", \"\"]}]}}",
                  "spec.users[0].databases[1] must be 1 to 63 bytes");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\", \"databases\": "
                  "[\"d\", [\"e\"]]}]}}",
                  "spec.users[0].databases[1] must be a string");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [\"a\"]}}",
                  "spec.users[0] must be an object");
    /* The operator's own roles: the role its SQL runs as, Patroni's, and any other name of the reserved prefix. */
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"_crunchyoperator\"}]}}",
                  "spec.users[0].name: _crunchyoperator is reserved for the operator's own roles (names starting "
                  "with _crunchy are); choose another name");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\"}, "
                  "{\"name\": \"_crunchyrepl\", \"databases\": [\"postgres\"]}]}}",
                  "spec.users[1].name: _crunchyrepl is reserved");
    assertInvalid("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"_crunchy\"}]}}",
                  "spec.users[0].name: _crunchy is reserved");
    assertInvalid("{\"metadata\": {\"name\": \"c234567890123456789012345678901234567890123456789012345678901234\"},"
                  " \"spec\": {}}",
                  "longer than the 63 bytes of a postgres user name; set spec.users");

    /* A NUL inside a name (the operator's parser refuses them, but a document can be built with one). */
    json_t *cluster = json_loads("{\"spec\": {\"users\": [{\"name\": \"a\\u0000b\"}]}}", JSON_ALLOW_NUL, NULL);
    ClusterModel model = {.cluster = cluster, .namespace = "ns", .name = "c"};
    MemCtx *ctx = memCtxNew(NULL, "t");
    ClusterUsersSql sql;
    Err err;
    assert_false(clusterUsersSql(ctx, &model, fakeVerifier, NULL, &sql, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, "spec.users[0].name must be 1 to 63 bytes without NUL");
    memCtxFree(ctx);
    json_decref(cluster);

    assert_null(usersFor("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": {\"name\": \"a\"}}}", &err));
    assert_err(&err, errJsonType);
    assert_null(usersFor("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\", "
                         "\"databases\": \"d\"}]}}",
                         &err));
    assert_err(&err, errJsonType);
    assert_contains(err.message, "spec.users[0]: ");
    assert_null(usersFor("{\"metadata\": {\"name\": \"c\"}, \"spec\": {\"users\": [{\"name\": \"a\", "
                         "\"options\": 5}]}}",
                         &err));
    assert_err(&err, errJsonType);
}

static void testVerifiers(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "it's", "back\\slash", "tab\there", "ü", "del\x7f"};
    json_t *cluster = harnessJson("{\"metadata\": {\"name\": \"c\"}, \"spec\": {}}");
    ClusterModel model = {.cluster = cluster, .namespace = "ns", .name = "c"};
    MemCtx *ctx = memCtxNew(NULL, "t");
    ClusterUsersSql sql;
    Err err;
    for (size_t badIdx = 0; badIdx < sizeof(bad) / sizeof(bad[0]); badIdx++) {
        if (clusterUsersSql(ctx, &model, fixedVerifier, (void *)(uintptr_t)bad[badIdx], &sql, &err))
            fail_msg("accepted verifier \"%s\"", bad[badIdx]);
        assert_err(&err, errInvalidArgument);
        assert_contains(err.message, "password verifier of user c is");
        assert_true(bad[badIdx][0] == '\0' || strstr(err.message, bad[badIdx]) == NULL);
    }
    assert_true(clusterUsersSql(ctx, &model, fixedVerifier, (void *)(uintptr_t) "md5d41d8cd98f00b204e9800998ecf8427e",
                                &sql, &err));
    assert_int_equal(sql.batchCount, 1);
    memCtxFree(ctx);
    json_decref(cluster);
}

static bool buildUsers(void *arg, Err *err)
{
    ClusterModel model = {.cluster = arg, .namespace = "ns", .name = "hippo"};
    MemCtx *ctx = memCtxNew(NULL, "t");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "out of memory");
    char verifier[256];
    ClusterUsersSql sql;
    bool ok = clusterUsersSql(ctx, &model, fakeVerifier, verifier, &sql, err);
    memCtxFree(ctx);
    return ok;
}

static void testAllocations(void **state)
{
    (void)state;
    /* The default user; the users of testUsers; fourteen databases, so the step list grows at BEGIN. */
    static const char *const clusters[] = {
        "{\"metadata\": {\"name\": \"hippo\"}, \"spec\": {}}", hippo,
        "{\"metadata\": {\"name\": \"hippo\"}, \"spec\": {\"users\": [{\"name\": \"a\", \"databases\": "
        "[\"d1\", \"d2\", \"d3\", \"d4\", \"d5\", \"d6\", \"d7\", \"d8\", \"d9\", \"d10\", \"d11\", \"d12\", \"d13\", "
        "\"d14\"]}]}}"};
    for (size_t clusterIdx = 0; clusterIdx < 3; clusterIdx++) {
        json_t *cluster = harnessJson(clusters[clusterIdx]);
        assert_true(harnessAllocSweep(buildUsers, cluster, false) > 5);
        json_decref(cluster);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testDefaultUser), cmocka_unit_test(testUsers),     cmocka_unit_test(testNoUsers),
        cmocka_unit_test(testRevision),    cmocka_unit_test(testFromSpec),  cmocka_unit_test(testOptions),
        cmocka_unit_test(testInvalid),     cmocka_unit_test(testVerifiers), cmocka_unit_test(testAllocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
