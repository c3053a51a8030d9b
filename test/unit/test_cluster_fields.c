/* Unit tests: api/fields — the field table against the CRD, and the report of one cluster's fields.
 *
 * The field walk reads the generated CRD (config/crd/bases/postgres-operator.crunchydata.com_postgresclusters.yaml),
 * which meson converts to JSON at build time (CLUSTER_CRD_JSON, see test/unit/meson.build), collects every path
 * under spec (object properties, array items as "[]"), and checks the table against it: every path covered by
 * exactly one entry (itself or its nearest ancestor with an entry, which must not descend), no entry naming a path
 * the CRD lacks, no entry under one that already covers it, a descend entry only where there are children, the
 * no-op rules matching the schema (booleans, the enabled defaults), and the table in the CRD's order. The checker
 * is also run on broken copies of the table, so a check that stopped finding anything would fail too. */
#include "harness/golden.h"
#include "harness/harness.h"

#include "api/fields.h"
#include "common/memctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_SIZE        1024
#define ROOT_PATH        "spec"
#define ANNOTATION_START "metadata.annotations[\""

/* Every path under spec in the CRD: path -> {"schema": <the schema node>, "order": <position in a pre-order walk>}. */
static json_t *crdPaths;

/* out = first, separator and second, which must fit. */
static void pathJoin(char out[PATH_SIZE], const char *first, const char *separator, const char *second)
{
    int len = snprintf(out, PATH_SIZE, "%s%s%s", first, separator, second);
    assert_true(len > 0 && len < PATH_SIZE);
}

/* Adds the children of node (the schema at path) to paths, descending into object properties and array items. */
static void collectChildren(json_t *paths, const json_t *node, const char *path, json_int_t *order)
{
    char prefix[PATH_SIZE];
    pathJoin(prefix, path, "", "");
    while (json_is_object(json_object_get(node, "items"))) {
        node = json_object_get(node, "items");
        char longer[PATH_SIZE];
        pathJoin(longer, prefix, "", "[]");
        memcpy(prefix, longer, sizeof(prefix));
    }
    const char *key;
    json_t *child;
    json_object_foreach(json_object_get(node, "properties"), key, child)
    {
        char childPath[PATH_SIZE];
        pathJoin(childPath, prefix, ".", key);
        assert_int_equal(
            json_object_set_new(paths, childPath, json_pack("{s:O, s:I}", "schema", child, "order", *order)), 0);
        (*order)++;
        collectChildren(paths, child, childPath, order);
    }
}

static int loadCrd(void **state)
{
    (void)state;
    json_error_t error;
    json_t *crd = json_load_file(CLUSTER_CRD_JSON, 0, &error);
    if (crd == NULL) {
        print_error("cannot load %s: %s\n", CLUSTER_CRD_JSON, error.text);
        return -1;
    }
    crdPaths = json_object();
    json_int_t order = 0;
    size_t versionIdx;
    json_t *version;
    json_array_foreach(json_object_get(json_object_get(crd, "spec"), "versions"), versionIdx, version)
    {
        const json_t *schema = json_object_get(json_object_get(version, "schema"), "openAPIV3Schema");
        collectChildren(crdPaths, json_object_get(json_object_get(schema, "properties"), "spec"), ROOT_PATH, &order);
    }
    json_decref(crd);
    return 0;
}

static int freeCrd(void **state)
{
    (void)state;
    json_decref(crdPaths);
    crdPaths = NULL;
    return 0;
}

/* The path path is directly under: the last ".key" and any "[]" before it removed ("" above spec). */
static void parentOf(const char *path, char out[PATH_SIZE])
{
    pathJoin(out, path, "", "");
    char *dot = strrchr(out, '.');
    if (dot == NULL) {
        out[0] = '\0';
        return;
    }
    *dot = '\0';
    size_t len = strlen(out);
    while (len >= 2 && strcmp(out + len - 2, "[]") == 0) {
        len -= 2;
        out[len] = '\0';
    }
}

/* The table as {path: index}; a path listed twice is a problem. */
static json_t *tableIndex(const ClusterField *fields, size_t count, json_t *problems)
{
    json_t *index = json_object();
    for (size_t fieldIdx = 0; fieldIdx < count; fieldIdx++) {
        if (json_object_get(index, fields[fieldIdx].path) != NULL)
            json_array_append_new(problems, json_sprintf("%s: listed twice", fields[fieldIdx].path));
        json_object_set_new(index, fields[fieldIdx].path, json_integer((json_int_t)fieldIdx));
    }
    return index;
}

/* The entry of path's nearest proper ancestor with one (below spec), or NULL; its path in ancestor. */
static const ClusterField *nearestAncestor(const ClusterField *fields, const json_t *index, const char *path,
                                           char ancestor[PATH_SIZE])
{
    parentOf(path, ancestor);
    while (ancestor[0] != '\0' && strcmp(ancestor, ROOT_PATH) != 0) {
        const json_t *found = json_object_get(index, ancestor);
        if (found != NULL)
            return &fields[json_integer_value(found)];
        char up[PATH_SIZE];
        parentOf(ancestor, up);
        memcpy(ancestor, up, PATH_SIZE);
    }
    return NULL;
}

static bool isReportable(const ClusterField *field)
{
    return field->status == fieldNotActedOn || field->status == fieldDataElsewhere;
}

static const char *schemaType(const json_t *schema)
{
    return json_string_value(json_object_get(schema, "type"));
}

/* The no-op rule of a reportable spec entry must fit its schema. */
static void checkWhen(const ClusterField *field, const json_t *schema, json_t *problems)
{
    const char *type = schemaType(schema);
    const json_t *enabled = json_object_get(json_object_get(schema, "properties"), "enabled");
    const json_t *enabledDefault = json_object_get(enabled, "default");
    switch (field->when) {
        case fieldWhenPresent:
            break;
        case fieldWhenTrue:
            if (type == NULL || strcmp(type, "boolean") != 0)
                json_array_append_new(problems,
                                      json_sprintf("%s: only true counts, but it is no boolean", field->path));
            break;
        case fieldWhenNonEmpty:
            if (type == NULL ||
                (strcmp(type, "string") != 0 && strcmp(type, "object") != 0 && strcmp(type, "array") != 0))
                json_array_append_new(problems, json_sprintf("%s: counts when not empty, but it is a %s", field->path,
                                                             type != NULL ? type : "value of any type"));
            break;
        case fieldWhenEnabled:
        case fieldUnlessDisabled: {
            bool wantDefault = field->when == fieldUnlessDisabled;
            bool crdDefault = json_is_true(enabledDefault);
            if (!json_is_object(enabled) || schemaType(enabled) == NULL || strcmp(schemaType(enabled), "boolean") != 0)
                json_array_append_new(problems, json_sprintf("%s: has no boolean enabled", field->path));
            else if (wantDefault != crdDefault)
                json_array_append_new(
                    problems, json_sprintf("%s: the table takes enabled to default to %s, the CRD to %s", field->path,
                                           wantDefault ? "true" : "false", crdDefault ? "true" : "false"));
            break;
        }
    }
}

/* What is wrong with fields against crdPaths, one string per problem, each naming its path. */
static json_t *tableProblems(const ClusterField *fields, size_t count)
{
    json_t *problems = json_array();
    json_t *index = tableIndex(fields, count, problems);
    json_int_t lastOrder = -1;
    char ancestor[PATH_SIZE];
    for (size_t fieldIdx = 0; fieldIdx < count; fieldIdx++) {
        const ClusterField *field = &fields[fieldIdx];
        if (strncmp(field->path, ANNOTATION_START, strlen(ANNOTATION_START)) == 0) {
            const char *key = field->path + strlen(ANNOTATION_START);
            const char *close = strstr(key, "\"]");
            if (close == NULL || close[2] != '\0' || close == key || memchr(key, '"', (size_t)(close - key)) != NULL)
                json_array_append_new(problems, json_sprintf("%s: not metadata.annotations[\"<key>\"]", field->path));
            continue;
        }
        const json_t *crdPath = json_object_get(crdPaths, field->path);
        if (strncmp(field->path, ROOT_PATH ".", strlen(ROOT_PATH ".")) != 0 || crdPath == NULL) {
            json_array_append_new(problems, json_sprintf("%s: stale, the CRD has no such path", field->path));
            continue;
        }
        const json_t *schema = json_object_get(crdPath, "schema");
        json_int_t order = json_integer_value(json_object_get(crdPath, "order"));
        if (order <= lastOrder)
            json_array_append_new(problems, json_sprintf("%s: out of the CRD's order", field->path));
        lastOrder = order;
        const ClusterField *above = nearestAncestor(fields, index, field->path, ancestor);
        if (above != NULL && above->status != fieldDescend)
            json_array_append_new(problems, json_sprintf("%s: below %s, which is %s and covers it already", field->path,
                                                         above->path, clusterFieldStatusName(above->status)));
        if (isReportable(field))
            checkWhen(field, schema, problems);
        if (field->status == fieldDescend) {
            bool children = false;
            const char *path;
            json_t *value;
            json_object_foreach(crdPaths, path, value)
            {
                char parent[PATH_SIZE];
                parentOf(path, parent);
                children = children || strcmp(parent, field->path) == 0;
            }
            if (!children)
                json_array_append_new(problems,
                                      json_sprintf("%s: descends, but the CRD has nothing below it", field->path));
        }
    }

    /* Every path of the CRD: covered by its own entry, or by its nearest ancestor's unless that descends. A path
     * without cover is named once, at the top of the uncovered subtree. */
    const char *path;
    json_t *value;
    json_object_foreach(crdPaths, path, value)
    {
        if (json_object_get(index, path) != NULL)
            continue;
        const ClusterField *above = nearestAncestor(fields, index, path, ancestor);
        if (above != NULL && above->status != fieldDescend)
            continue;
        char parent[PATH_SIZE];
        parentOf(path, parent);
        if (above == NULL && strcmp(parent, ROOT_PATH) == 0)
            json_array_append_new(problems, json_sprintf("%s: covered by no entry", path));
        else if (above != NULL && strcmp(parent, above->path) == 0)
            json_array_append_new(problems,
                                  json_sprintf("%s: covered by no entry, and %s descends to it", path, above->path));
    }
    json_decref(index);
    return problems;
}

/* Fails the test with every problem of fields, or passes when there is none. */
static void assertNoProblems(const ClusterField *fields, size_t count)
{
    json_t *problems = tableProblems(fields, count);
    size_t problemIdx;
    json_t *problem;
    json_array_foreach(problems, problemIdx, problem)
    {
        print_error("%s\n", json_string_value(problem));
    }
    size_t problemCount = json_array_size(problems);
    json_decref(problems);
    if (problemCount > 0)
        fail_msg("the field table has %zu problems", problemCount);
}

/* Whether some problem of fields contains part. */
static bool problemsMention(const ClusterField *fields, size_t count, const char *part)
{
    json_t *problems = tableProblems(fields, count);
    bool found = false;
    size_t problemIdx;
    json_t *problem;
    json_array_foreach(problems, problemIdx, problem)
    {
        found = found || strstr(json_string_value(problem), part) != NULL;
    }
    json_decref(problems);
    return found;
}

static void testCrdWalked(void **state)
{
    (void)state;
    /* The walk went deep: into arrays, embedded Kubernetes types and every top-level field. */
    assert_true(json_object_size(crdPaths) > 1000);
    assert_non_null(json_object_get(crdPaths, "spec.instances[].affinity.nodeAffinity"));
    assert_non_null(json_object_get(crdPaths, "spec.backups.pgbackrest.repos[].schedules.full"));
    assert_non_null(json_object_get(crdPaths, "spec.standby.enabled"));
    assert_non_null(json_object_get(crdPaths, "spec.shutdown"));
}

static void testTableCoversCrd(void **state)
{
    (void)state;
    size_t count;
    const ClusterField *fields = clusterFields(&count);
    assertNoProblems(fields, count);
}

/* The checker on broken tables: each break is found and named. */
static void testCheckerFindsBreaks(void **state)
{
    (void)state;
    size_t count;
    const ClusterField *fields = clusterFields(&count);
    ClusterField *copy = calloc(count + 1, sizeof(*copy));
    assert_non_null(copy);

    /* A top-level field, and a child of a descend entry, left out. */
    static const char *const dropped[] = {"spec.shutdown", "spec.instances[].tolerations"};
    for (size_t dropIdx = 0; dropIdx < 2; dropIdx++) {
        size_t kept = 0;
        for (size_t fieldIdx = 0; fieldIdx < count; fieldIdx++)
            if (strcmp(fields[fieldIdx].path, dropped[dropIdx]) != 0)
                copy[kept++] = fields[fieldIdx];
        assert_int_equal(kept, count - 1);
        assert_true(problemsMention(copy, kept, dropped[dropIdx]));
    }

    /* A stale entry; an entry below one that covers it; a misplaced one. */
    memcpy(copy, fields, count * sizeof(*copy));
    copy[count] = (ClusterField){.path = "spec.noSuchField", .status = fieldNotActedOn};
    assert_true(problemsMention(copy, count + 1, "spec.noSuchField: stale"));
    copy[count] = (ClusterField){.path = "spec.proxy.pgBouncer.image", .status = fieldActedOn};
    assert_true(problemsMention(copy, count + 1, "spec.proxy.pgBouncer.image: below spec.proxy.pgBouncer"));
    copy[count] = (ClusterField){.path = "spec.authentication", .status = fieldActedOn};
    assert_true(problemsMention(copy, count + 1, "spec.authentication: listed twice"));

    /* A descend entry without its children's entries; one on a leaf; the no-op rules against the schema. */
    for (size_t fieldIdx = 0; fieldIdx < count; fieldIdx++) {
        const char *path = fields[fieldIdx].path;
        memcpy(copy, fields, count * sizeof(*copy));
        if (strcmp(path, "spec.monitoring") == 0) {
            copy[fieldIdx].status = fieldDescend;
            assert_true(problemsMention(copy, count, "spec.monitoring.pgmonitor: covered by no entry"));
        } else if (strcmp(path, "spec.port") == 0) {
            copy[fieldIdx].status = fieldDescend;
            assert_true(problemsMention(copy, count, "spec.port: descends"));
        } else if (strcmp(path, "spec.standby") == 0) {
            copy[fieldIdx].status = fieldNotActedOn; /* the rule is checked for reportable entries */
            copy[fieldIdx].when = fieldWhenEnabled;
            assert_true(problemsMention(copy, count, "spec.standby: the table takes enabled to default to false"));
        } else if (strcmp(path, "spec.patroni.switchover") == 0) {
            copy[fieldIdx].status = fieldNotActedOn; /* the rule is checked for reportable entries */
            copy[fieldIdx].when = fieldUnlessDisabled;
            assert_true(problemsMention(copy, count, "spec.patroni.switchover: the table takes enabled"));
        } else if (strcmp(path, "spec.databaseInitSQL") == 0) {
            copy[fieldIdx].when = fieldWhenTrue;
            assert_true(problemsMention(copy, count, "spec.databaseInitSQL: only true counts"));
        }
    }

    /* Two entries swapped: out of order. */
    memcpy(copy, fields, count * sizeof(*copy));
    ClusterField first = copy[count - 2];
    copy[count - 2] = copy[count - 1];
    copy[count - 1] = first;
    assert_true(problemsMention(copy, count, "out of the CRD's order"));
    free(copy);
}

/* The entries the brief names, with the statuses the operator's code supports. */
static void testStatuses(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        ClusterFieldStatus status;
    } expected[] = {
        {"metadata.annotations[\"postgres-operator.crunchydata.com/trigger-switchover\"]", fieldActedOn},
        {"spec.standby", fieldActedOn},
        {"spec.dataSource.postgresCluster", fieldDescend},
        {"spec.dataSource.postgresCluster.options", fieldActedOn},
        {"spec.backups.pgbackrest.restore.options", fieldActedOn},
        {"spec.backups.pgbackrest.restore.clusterName", fieldNotActedOn},
        {"spec.dataSource.pgbackrest", fieldDataElsewhere},
        {"spec.dataSource.volumes", fieldDataElsewhere},
        {"spec.backups.pgbackrest.repos[].schedules", fieldActedOn},
        {"spec.proxy.pgBouncer", fieldActedOn},
        {"spec.monitoring", fieldNotActedOn},
        {"spec.userInterface", fieldNotActedOn},
        {"spec.shutdown", fieldActedOn},
        {"spec.paused", fieldActedOn},
        {"spec.databaseInitSQL", fieldNotActedOn},
        {"spec.instances[].sidecars", fieldActedOn},
        {"spec.instances[].affinity", fieldActedOn},
        {"spec.backups.pgbackrest.repos", fieldDescend},
    };
    size_t count;
    const ClusterField *fields = clusterFields(&count);
    for (size_t expectIdx = 0; expectIdx < sizeof(expected) / sizeof(expected[0]); expectIdx++) {
        const ClusterField *found = NULL;
        for (size_t fieldIdx = 0; fieldIdx < count && found == NULL; fieldIdx++)
            if (strcmp(fields[fieldIdx].path, expected[expectIdx].path) == 0)
                found = &fields[fieldIdx];
        if (found == NULL)
            fail_msg("%s is not in the table", expected[expectIdx].path);
        if (found->status != expected[expectIdx].status)
            fail_msg("%s is %s, expected %s", found->path, clusterFieldStatusName(found->status),
                     clusterFieldStatusName(expected[expectIdx].status));
    }
    assert_string_equal(clusterFieldStatusName(fieldDescend), "descend");
    assert_string_equal(clusterFieldStatusName((ClusterFieldStatus)99), "unknown");
}

/* ---- the report ---- */

#define CLUSTER_HEAD                                                                                 \
    "{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\"," \
    " \"metadata\": {\"name\": \"hippo\", \"namespace\": \"zoo\""
#define INSTANCES                                                                                                   \
    "\"postgresVersion\": 17, \"instances\": [{\"name\": \"instance1\", \"dataVolumeClaimSpec\": {\"accessModes\":" \
    " [\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": \"1Gi\"}}}}]"

/* The report on clusterText, as {"notActedOn": [...], "dataElsewhere": [...]}. */
static json_t *reportOf(const char *clusterText)
{
    json_t *cluster = harnessJson(clusterText);
    MemCtx *ctx = memCtxNew(NULL, "t");
    ClusterFieldsReport report;
    Err err;
    if (!clusterFieldsReport(ctx, cluster, &report, &err))
        fail_msg("report failed: %s: %s", errCodeName(err.code), err.message);
    json_t *result = json_pack("{s:[], s:[]}", "notActedOn", "dataElsewhere");
    for (size_t pathIdx = 0; pathIdx < report.notActedOnCount; pathIdx++)
        json_array_append_new(json_object_get(result, "notActedOn"), json_string(report.notActedOn[pathIdx]));
    for (size_t pathIdx = 0; pathIdx < report.dataElsewhereCount; pathIdx++)
        json_array_append_new(json_object_get(result, "dataElsewhere"), json_string(report.dataElsewhere[pathIdx]));
    if (report.notActedOnCount == 0)
        assert_null(report.notActedOn);
    if (report.dataElsewhereCount == 0)
        assert_null(report.dataElsewhere);
    memCtxFree(ctx);
    json_decref(cluster);
    return result;
}

/* Fails unless the report on clusterText is expected (a JSON text in reportOf's shape). */
static void assertReport(const char *clusterText, const char *expected)
{
    json_t *actual = reportOf(clusterText);
    json_t *want = harnessJson(expected);
    if (!json_equal(actual, want)) {
        char *text = json_dumps(actual, JSON_COMPACT);
        print_error("report: %s\nexpected: %s\n", text, expected);
        free(text);
        json_decref(actual);
        json_decref(want);
        fail_msg("unexpected report");
    }
    json_decref(actual);
    json_decref(want);
}

#define NOTHING "{\"notActedOn\": [], \"dataElsewhere\": []}"

static void testMinimalCluster(void **state)
{
    (void)state;
    assertReport(CLUSTER_HEAD "}, \"spec\": {" INSTANCES "}}", NOTHING);
}

/* Everything the operator acts on, set: still nothing to report. */
static void testActedOnReportsNothing(void **state)
{
    (void)state;
    assertReport(CLUSTER_HEAD
                 ", \"annotations\": {\"postgres-operator.crunchydata.com/pgbackrest-backup\": \"1\"}},"
                 " \"spec\": {" INSTANCES ", \"port\": 5433, \"image\": \"postgres:17\","
                 " \"openshift\": true, \"disableDefaultPodScheduling\": true, \"supplementalGroups\": [1000],"
                 " \"imagePullPolicy\": \"Always\", \"imagePullSecrets\": [{\"name\": \"registry\"}],"
                 " \"config\": {\"parameters\": {\"work_mem\": \"8MB\"}},"
                 " \"patroni\": {\"port\": 8009, \"logging\": {\"level\": \"DEBUG\"}},"
                 " \"service\": {\"type\": \"NodePort\"}, \"users\": [{\"name\": \"rhino\"}],"
                 " \"backups\": {\"pgbackrest\": {\"global\": {\"repo1-retention-full\": \"2\"},"
                 "  \"manual\": {\"repoName\": \"repo1\"}, \"repoHost\": {\"priorityClassName\": \"infra\"},"
                 "  \"repos\": [{\"name\": \"repo1\", \"volume\": {\"volumeClaimSpec\": {}}}]}}}}",
                 NOTHING);
}

static void testReported(void **state)
{
    (void)state;
    assertReport(CLUSTER_HEAD
                 ", \"annotations\": {\"postgres-operator.crunchydata.com/trigger-switchover\": \"1\"}},"
                 " \"spec\": {" INSTANCES ","
                 " \"proxy\": {\"pgBouncer\": {}},"
                 " \"monitoring\": {\"pgmonitor\": {\"exporter\": {}}},"
                 " \"shutdown\": true, \"paused\": false,"
                 " \"backups\": {\"pgbackrest\": {\"repos\": [{\"name\": \"repo1\", \"volume\": {}},"
                 "  {\"name\": \"repo2\", \"volume\": {}, \"schedules\": {\"full\": \"0 1 * * 0\"}}]}},"
                 " \"standby\": {\"enabled\": true, \"repoName\": \"repo1\"},"
                 " \"dataSource\": {\"postgresCluster\": {\"clusterName\": \"rhino\", \"repoName\": \"repo1\"}}}}",
                 "{\"notActedOn\": [\"spec.monitoring\"], \"dataElsewhere\": []}");

    /* The other reportable fields, each with a value that asks for something. */
    assertReport(CLUSTER_HEAD
                 "}, \"spec\": {" INSTANCES ", \"paused\": true, \"postGISVersion\": \"3.5\","
                 " \"databaseInitSQL\": {\"name\": \"init\", \"key\": \"init.sql\"},"
                 " \"userInterface\": {\"pgAdmin\": {}},"
                 " \"patroni\": {\"switchover\": {\"enabled\": true}},"
                 " \"backups\": {\"snapshots\": {\"volumeSnapshotClassName\": \"csi\"},"
                 "  \"pgbackrest\": {\"restore\": {\"enabled\": true, \"repoName\": \"repo1\", \"clusterName\": \"b\"},"
                 "   \"repoHost\": {\"sshSecret\": {\"name\": \"old\"}},"
                 "   \"repos\": [{\"name\": \"repo1\", \"s3\": {\"bucket\": \"b\"}},"
                 "    {\"name\": \"repo2\", \"gcs\": {\"bucket\": \"b\"}}]}},"
                 " \"dataSource\": {\"pgbackrest\": {\"stanza\": \"db\"},"
                 "  \"volumes\": {\"pgDataVolume\": {\"pvcName\": \"old\"}}}}}",
                 "{\"notActedOn\": [\"spec.backups.pgbackrest.repoHost.sshSecret\","
                 " \"spec.backups.pgbackrest.restore.clusterName\", \"spec.backups.snapshots\","
                 " \"spec.databaseInitSQL\","
                 " \"spec.postGISVersion\", \"spec.userInterface\"],"
                 " \"dataElsewhere\": [\"spec.dataSource.pgbackrest\", \"spec.dataSource.volumes\"]}");

    /* An array of sets, the second one reporting. */
    assertReport(CLUSTER_HEAD "}, \"spec\": {\"postgresVersion\": 17, \"instances\": [{\"name\": \"a\"},"
                              " {\"name\": \"b\", \"tablespaceVolumes\": [{\"name\": \"t\"}]}]}}",
                 "{\"notActedOn\": [\"spec.instances[].tablespaceVolumes\"], \"dataElsewhere\": []}");
}

/* No-op values: null, false flags, empty containers, disabled standby, restore and switchover. */
static void testNoOpValues(void **state)
{
    (void)state;
    assertReport(CLUSTER_HEAD
                 ", \"annotations\": {\"postgres-operator.crunchydata.com/trigger-switchover\": null}},"
                 " \"spec\": {" INSTANCES ", \"shutdown\": false, \"paused\": false, \"proxy\": {},"
                 " \"monitoring\": {}, \"userInterface\": {}, \"postGISVersion\": \"\","
                 " \"databaseInitSQL\": null, \"dataSource\": {\"volumes\": {}, \"postgresCluster\": null},"
                 " \"patroni\": {\"switchover\": {\"enabled\": false}},"
                 " \"backups\": {\"snapshots\": null, \"pgbackrest\": {"
                 "  \"restore\": {\"enabled\": false, \"repoName\": \"repo1\"},"
                 "  \"repos\": [{\"name\": \"repo1\", \"schedules\": {}, \"s3\": null}]}},"
                 " \"standby\": {\"enabled\": false, \"repoName\": \"repo1\"}}}",
                 NOTHING);
    assertReport(CLUSTER_HEAD "}, \"spec\": {\"postgresVersion\": 17, \"standby\": null, \"proxy\": null,"
                              " \"instances\": [{\"tablespaceVolumes\": []}]}}",
                 NOTHING);
    /* restore and switchover without enabled: off (no CRD default); an enabled standby is acted on. */
    assertReport(CLUSTER_HEAD "}, \"spec\": {" INSTANCES ", \"patroni\": {\"switchover\": {}},"
                              " \"backups\": {\"pgbackrest\": {\"restore\": {\"repoName\": \"repo1\"}}},"
                              " \"standby\": {\"repoName\": \"repo1\"}}}",
                 NOTHING);
}

/* Values of unexpected types: a path through them sets nothing, an enabled-gated value that is no object counts. */
static void testOddTypes(void **state)
{
    (void)state;
    assertReport(CLUSTER_HEAD ", \"annotations\": [\"trigger-switchover\"]}, \"spec\": {" INSTANCES
                              ", \"backups\": {\"pgbackrest\": {\"repos\": {\"schedules\": {\"full\": \"x\"}}}},"
                              " \"proxy\": [\"pgBouncer\"], \"dataSource\": \"postgresCluster\"}}",
                 NOTHING);
    assertReport(CLUSTER_HEAD "}, \"spec\": {" INSTANCES ", \"userInterface\": true, \"monitoring\": 1}}",
                 "{\"notActedOn\": [\"spec.monitoring\", \"spec.userInterface\"], \"dataElsewhere\": []}");
    assertReport(CLUSTER_HEAD "}}", NOTHING);

    Err err;
    ClusterFieldsReport report;
    json_t *notObject = json_array();
    assert_false(clusterFieldsReport(NULL, notObject, &report, &err));
    assert_err(&err, errInvalidArgument);
    assert_int_equal(report.notActedOnCount + report.dataElsewhereCount, 0);
    assert_false(clusterFieldsReport(NULL, NULL, &report, &err));
    assert_err(&err, errInvalidArgument);
    json_decref(notObject);
}

static const char reportedCluster[] =
    CLUSTER_HEAD "}, \"spec\": {" INSTANCES ", \"postGISVersion\": \"3.5\", \"dataSource\": {\"pgbackrest\": {}}}}";

static bool buildReport(void *arg, Err *err)
{
    MemCtx *ctx = memCtxNew(NULL, "t");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "out of memory");
    ClusterFieldsReport report;
    bool ok = clusterFieldsReport(ctx, arg, &report, err);
    if (!ok)
        assert_int_equal(report.notActedOnCount + report.dataElsewhereCount, 0);
    else
        assert_int_equal(report.notActedOnCount + report.dataElsewhereCount, 2);
    memCtxFree(ctx);
    return ok;
}

static void testAllocations(void **state)
{
    (void)state;
    json_t *cluster = harnessJson(reportedCluster);
    /* At least the context and the two arrays. */
    assert_true(harnessAllocSweep(buildReport, cluster, false) >= 3);
    json_decref(cluster);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testCrdWalked),          cmocka_unit_test(testTableCoversCrd),
        cmocka_unit_test(testCheckerFindsBreaks), cmocka_unit_test(testStatuses),
        cmocka_unit_test(testMinimalCluster),     cmocka_unit_test(testActedOnReportsNothing),
        cmocka_unit_test(testReported),           cmocka_unit_test(testNoOpValues),
        cmocka_unit_test(testOddTypes),           cmocka_unit_test(testAllocations),
    };
    return cmocka_run_group_tests(tests, loadCrd, freeCrd);
}
