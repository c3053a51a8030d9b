/* Unit tests: pgbackrest/restore.c (the restore Job), and the parts of instance.c and patroni/config.c that follow
 * model->restore: the instances held back until the restored data is there, Patroni's bootstrap method "existing".
 *
 * The model's restore is what controllers/postgrescluster/restore.c decides; the tests set it by hand. Golden files:
 * test/unit/golden/cluster/restore-*. */
#include "harness/cluster.h"
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/alloc.h"
#include "controllers/postgrescluster/builders.h"
#include "patroni/config.h"
#include "pgbackrest/restore.h"

#include <stdio.h>
#include <string.h>

#define UID       "7d3c1e52-5b8e-4a63-9a57-2f6c0d1e9b41"
#define INSTANCE  "hippo-instance1-bdzp"
#define INSTANCE2 "hippo-instance1-x2c4"
#define IMAGE     "registry.example.com/crunchy-postgres:17"
#define JOB       "hippo-pgbackrest-restore"

#define HIPPO_HEAD                                                                                   \
    "{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\"," \
    " \"metadata\": {\"name\": \"hippo\", \"namespace\": \"ns\", \"uid\": \"" UID "\", \"generation\": 3},"
#define CLAIM "{\"accessModes\": [\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": \"1Gi\"}}}"

/* A clone of rhino: spec.dataSource.postgresCluster with a point in time and the Job's scheduling. */
static const char cloneText[] =
    HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, \"imagePullPolicy\": \"IfNotPresent\","
               " \"metadata\": {\"labels\": {\"team\": \"zoo\"}, \"annotations\": {\"zoo/owner\": \"keepers\"}},"
               " \"instances\": [{\"name\": \"instance1\", \"replicas\": 2, \"dataVolumeClaimSpec\": " CLAIM "}],"
               " \"dataSource\": {\"postgresCluster\": {\"clusterName\": \"rhino\", \"repoName\": \"repo2\","
               "  \"options\": [\"--type=time\", \"--target=\\\"2026-01-01 12:00:00+00\\\"\"],"
               "  \"priorityClassName\": \"restore\", \"resources\": {\"limits\": {\"memory\": \"1Gi\"}},"
               "  \"tolerations\": [{\"key\": \"restore\", \"operator\": \"Exists\"}]}}}}";

/* An in-place restore of hippo, whose set has a WAL volume, on OpenShift. */
static const char inPlaceText[] =
    HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, \"openshift\": true,"
               " \"instances\": [{\"name\": \"instance1\", \"replicas\": 2, \"dataVolumeClaimSpec\": " CLAIM ","
               "  \"walVolumeClaimSpec\": " CLAIM "}],"
               " \"backups\": {\"pgbackrest\": {\"configuration\": [{\"secret\": {\"name\": \"cipher\"}}],"
               "  \"restore\": {\"enabled\": true, \"repoName\": \"repo1\", \"options\": [\"--delta\"],"
               "   \"affinity\": {\"nodeAffinity\": {}}},"
               "  \"repos\": [{\"name\": \"repo1\", \"volume\": {\"volumeClaimSpec\": " CLAIM "}}]}}}}";

typedef struct Fixture {
    ClusterFixture base;
    ClusterRestore restore;
} Fixture;

static const char *fixtureImages(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "POSTGRES_17") == 0 ? IMAGE : NULL;
}

static void fixtureInit(Fixture *fixture, const char *text)
{
    clusterFixtureInit(&fixture->base, harnessJson(text), fixtureImages,
                       (const char *const[]){INSTANCE, INSTANCE2, NULL});
    fixture->base.model.domain = "cluster.local";
    fixture->base.model.operatorPassword = "RestoreFixtureOperatorPassword0123456789abc";
    fixture->base.model.lookup = clusterFixtureLookup;
    fixture->base.model.lookupArg = &fixture->base;
}

/* model->restore as the reconciler decides a clone's, the Job wanted. */
static void planClone(Fixture *fixture)
{
    const json_t *source = json_object_get(
        json_object_get(json_object_get(fixture->base.cluster, "spec"), "dataSource"), "postgresCluster");
    fixture->restore = (ClusterRestore){
        .startupInstance = INSTANCE,
        .sourceCluster = "rhino",
        .repoName = "repo2",
        .options = json_object_get(source, "options"),
        .job = source,
        .jobWanted = true,
    };
    fixture->base.model.restore = &fixture->restore;
}

/* model->restore as the reconciler decides an in-place restore's, ready for the Job. */
static void planInPlace(Fixture *fixture)
{
    const json_t *pgbackrest =
        json_object_get(json_object_get(json_object_get(fixture->base.cluster, "spec"), "backups"), "pgbackrest");
    const json_t *spec = json_object_get(pgbackrest, "restore");
    fixture->restore = (ClusterRestore){
        .startupInstance = INSTANCE2,
        .sourceCluster = "hippo",
        .repoName = "repo1",
        .options = json_object_get(spec, "options"),
        .configuration = json_object_get(pgbackrest, "configuration"),
        .job = spec,
        .id = "second",
        .jobWanted = true,
    };
    fixture->base.model.restore = &fixture->restore;
}

static json_t *build(Fixture *fixture)
{
    return clusterBuildOk(clusterBuildPgBackRestRestore, &fixture->base.model);
}

static const char *annotationOf(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(object, "metadata"), "annotations"), key));
}

/* The script's options argument: the command's last element. */
static const char *optionsOf(const json_t *job)
{
    const json_t *command = json_object_get(
        json_array_get(
            json_object_get(json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec"),
                            "containers"),
            0),
        "command");
    return json_string_value(json_array_get(command, json_array_size(command) - 1));
}

/* ---- tests ---- */

static void testNothingWithoutRestore(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, cloneText);
    json_t *objects = build(&fixture);
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);
    clusterFixtureFree(&fixture.base);
}

/* A clone's Job: the source's configuration and certificate, the Job's scheduling from the data source, the
 * operator's options before the user's, --target-action=promote for a target. */
static void testCloneJob(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, cloneText);
    planClone(&fixture);
    json_t *objects = build(&fixture);
    assert_golden(objects, "cluster/restore-clone-job");
    const json_t *job = clusterObjectOf(objects, "Job", JOB);
    assert_non_null(job);
    assert_string_equal(optionsOf(job), "--stanza=db --pg1-path=/pgdata/pg17 --repo=2 --delta --target-action=promote "
                                        "--link-map=pg_wal=/pgdata/pg17_wal --type=time "
                                        "--target=\"2026-01-01 12:00:00+00\"");
    assert_null(annotationOf(job, "postgres-operator.crunchydata.com/pgbackrest-restore"));
    assert_non_null(annotationOf(job, "postgres-operator.crunchydata.com/pgbackrest-hash"));
    json_decref(objects);
    clusterFixtureFree(&fixture.base);
}

/* An in-place restore's Job: the cluster's own configuration with its projections, the WAL volume, the request's id,
 * no fsGroup on OpenShift, the user's --delta kept single. */
static void testInPlaceJob(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, inPlaceText);
    planInPlace(&fixture);
    json_t *objects = build(&fixture);
    assert_golden(objects, "cluster/restore-in-place-job");
    const json_t *job = clusterObjectOf(objects, "Job", JOB);
    assert_string_equal(optionsOf(job),
                        "--stanza=db --pg1-path=/pgdata/pg17 --repo=1 --link-map=pg_wal=/pgwal/pg17_wal --delta");
    assert_string_equal(annotationOf(job, "postgres-operator.crunchydata.com/pgbackrest-restore"), "second");
    json_decref(objects);
    clusterFixtureFree(&fixture.base);
}

/* A Job is created only when wanted; a cached one is emitted again while it holds what the pass makes, and left alone
 * (for the reconciler to delete) once it does not. */
static void testJobLifecycle(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, inPlaceText);
    planInPlace(&fixture);
    fixture.restore.jobWanted = false;
    json_t *objects = build(&fixture);
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);

    fixture.restore.jobWanted = true;
    objects = build(&fixture);
    json_t *cached = json_deep_copy(clusterObjectOf(objects, "Job", JOB));
    json_object_set_new(cached, "status", harnessJson("{\"active\": 1}"));
    clusterFixturePut(&fixture.base, "Job", JOB, cached);
    json_decref(objects);
    fixture.restore.jobWanted = false;
    objects = build(&fixture);
    assert_non_null(clusterObjectOf(objects, "Job", JOB));
    json_decref(objects);

    fixture.restore.id = "third";
    objects = build(&fixture);
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);
    clusterFixtureFree(&fixture.base);
}

static void testRefused(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, cloneText);
    planClone(&fixture);
    json_t *options = harnessJson("[\"--type=immediate\", \"--repo=1\"]");
    assert_string_equal(clusterRestoreOptionsRefused(options), "--repo=1");
    fixture.restore.options = options;
    clusterBuildRefused(clusterBuildPgBackRestRestore, &fixture.base.model, errInvalidArgument, "--repo=1");
    json_t *fine = harnessJson("[\"--type=immediate\", \"--set=20260101-000000F\"]");
    assert_null(clusterRestoreOptionsRefused(fine));
    assert_null(clusterRestoreOptionsRefused(NULL));
    for (const char *const *bad = (const char *const[]){"--stanza=x", "--pg1-path=/x", "--target-action=pause",
                                                        "--link-map=pg_wal=/x", NULL};
         *bad != NULL; bad++) {
        json_t *one = json_pack("[s]", *bad);
        assert_string_equal(clusterRestoreOptionsRefused(one), *bad);
        json_decref(one);
    }
    fixture.restore.options = fine;
    fixture.restore.repoName = "repo9x";
    clusterBuildRefused(clusterBuildPgBackRestRestore, &fixture.base.model, errInvalidArgument, "repo9x");
    fixture.restore.repoName = "repo2";
    fixture.restore.startupInstance = "hippo-nosuchset-abcd";
    clusterBuildRefused(clusterBuildPgBackRestRestore, &fixture.base.model, errInvalidArgument, "no instance set");
    json_decref(options);
    json_decref(fine);
    clusterFixtureFree(&fixture.base);
}

/* The replicas of each instance's StatefulSet. */
static void replicasOf(const json_t *objects, json_int_t *first, json_int_t *second)
{
    *first = json_integer_value(
        json_object_get(json_object_get(clusterObjectOf(objects, "StatefulSet", INSTANCE), "spec"), "replicas"));
    *second = json_integer_value(
        json_object_get(json_object_get(clusterObjectOf(objects, "StatefulSet", INSTANCE2), "spec"), "replicas"));
}

/* No instance runs before the data is there; then the startup instance alone; without a restore, all. */
static void testInstancesHeld(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, inPlaceText);
    json_int_t first, second;
    json_t *objects = clusterBuildOk(clusterBuildInstances, &fixture.base.model);
    replicasOf(objects, &first, &second);
    assert_int_equal(first, 1);
    assert_int_equal(second, 1);
    json_decref(objects);
    planInPlace(&fixture);
    objects = clusterBuildOk(clusterBuildInstances, &fixture.base.model);
    replicasOf(objects, &first, &second);
    assert_int_equal(first, 0);
    assert_int_equal(second, 0);
    /* Until the data is there, only the startup instance has volumes. */
    assert_null(clusterObjectOf(objects, "PersistentVolumeClaim", INSTANCE "-pgdata"));
    assert_null(clusterObjectOf(objects, "PersistentVolumeClaim", INSTANCE "-pgwal"));
    assert_non_null(clusterObjectOf(objects, "PersistentVolumeClaim", INSTANCE2 "-pgdata"));
    assert_non_null(clusterObjectOf(objects, "PersistentVolumeClaim", INSTANCE2 "-pgwal"));
    json_decref(objects);
    fixture.restore.dataReady = true;
    objects = clusterBuildOk(clusterBuildInstances, &fixture.base.model);
    replicasOf(objects, &first, &second);
    assert_int_equal(first, 0);
    assert_int_equal(second, 1);
    assert_non_null(clusterObjectOf(objects, "PersistentVolumeClaim", INSTANCE "-pgdata"));
    /* The startup script leaves restored data to Patroni. */
    const json_t *init = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(clusterObjectOf(objects, "StatefulSet", INSTANCE2), "spec"),
                                            "template"),
                            "spec"),
            "initContainers"),
        0);
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(init, "command"), 3)),
                           "if [[ -d \"${PGDATA}_bootstrap\" ]]; then"));
    json_decref(objects);
    clusterFixtureFree(&fixture.base);
}

/* The instance file of Patroni's configuration for INSTANCE. */
static const char *instanceFile(const json_t *objects)
{
    return json_string_value(json_object_get(
        json_object_get(clusterObjectOf(objects, "ConfigMap", INSTANCE "-config"), "data"), "patroni.yaml"));
}

/* Patroni bootstraps with "existing" during a restore, with initdb otherwise, and with neither once bootstrapped. */
static void testPatroniExisting(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, cloneText);
    json_t *objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.base.model);
    assert_non_null(strstr(instanceFile(objects), "method: initdb"));
    json_decref(objects);
    planClone(&fixture);
    objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.base.model);
    const char *file = instanceFile(objects);
    assert_non_null(strstr(file, "method: existing"));
    assert_non_null(strstr(file, "command: mv \"/pgdata/pg17_bootstrap\" \"/pgdata/pg17\"\n"));
    assert_non_null(strstr(file, "no_params: 'true'"));
    assert_non_null(strstr(file, "post_bootstrap:"));
    assert_null(strstr(file, "initdb"));
    json_decref(objects);
    json_object_set_new(fixture.base.cluster, "status", harnessJson("{\"patroni\": {\"systemIdentifier\": \"7\"}}"));
    objects = clusterBuildOk(clusterBuildPatroniConfig, &fixture.base.model);
    assert_null(strstr(instanceFile(objects), "method:"));
    json_decref(objects);
    clusterFixtureFree(&fixture.base);
}

static bool sweepBuild(void *arg, Err *err)
{
    Fixture *fixture = arg;
    return clusterBuildSweep(&(ClusterBuildSweep){clusterBuildPgBackRestRestore, &fixture->base.model}, err);
}

static void testAllocationFailures(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, inPlaceText);
    planInPlace(&fixture);
    unsigned swept = harnessAllocSweep(sweepBuild, &fixture, false);
    print_message("# restore Job: %u allocations swept\n", swept);
    assert_true(swept > 50);
    clusterFixtureFree(&fixture.base);
}

int main(void)
{
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testNothingWithoutRestore),
        cmocka_unit_test(testCloneJob),
        cmocka_unit_test(testInPlaceJob),
        cmocka_unit_test(testJobLifecycle),
        cmocka_unit_test(testRefused),
        cmocka_unit_test(testInstancesHeld),
        cmocka_unit_test(testPatroniExisting),
        cmocka_unit_test(testAllocationFailures),
    };
    return cmocka_run_group_tests_name("cluster/restore", tests, NULL, NULL);
}
