/* Unit tests: controllers/postgrescluster/instance.c, the instances' PersistentVolumeClaims and StatefulSets, against golden files
 * (test/unit/golden/cluster/instance-*). The reference for the layout is test/e2e/patroni/instance.yaml, the
 * objects proven to run and fail over on our images.
 *
 * The model comes from clusterModelFromSpec with RELATED_IMAGE_POSTGRES_17 known, so the tests see PGO's defaults
 * (ttl 30, loop_wait 10, ports 5432 and 8008) as the reconciler does. */
#include "harness/cluster.h"
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/memctx.h"
#include "controllers/postgrescluster/builders.h"

#include <string.h>

#define HIPPO_META                                                                                  \
    "\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\"," \
    " \"metadata\": {\"name\": \"hippo\", \"namespace\": \"postgres-operator\","                    \
    "  \"uid\": \"7d3c1e52-5b8e-4a63-9a57-2f6c0d1e9b41\", \"generation\": 1}"

#define HIPPO_VOLUME                                                                                               \
    "\"dataVolumeClaimSpec\": {\"accessModes\": [\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": " \
    "\"1Gi\"}}}"

#define HIPPO_IMAGE "registry.example.com/crunchy-postgres:17"

/* The examples' hippo: one set of one instance, nothing else. */
static const char *const hippoText = "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17,"
                                     " \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME "}]}}";

/* A WAL volume, resources, tolerations, custom TLS Secrets, metadata on the cluster and the set, the fast timing. */
static const char *const walText =
    "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17,"
    " \"metadata\": {\"labels\": {\"team\": \"zoo\", \"postgres-operator.crunchydata.com/cluster\": \"spoofed\"},"
    "  \"annotations\": {\"zoo.example.com/owner\": \"keepers\"}},"
    " \"patroni\": {\"leaderLeaseDurationSeconds\": 20, \"syncPeriodSeconds\": 5},"
    " \"customTLSSecret\": {\"name\": \"hippo-tls\", \"items\": [{\"key\": \"server.crt\", \"path\": \"tls.crt\"},"
    "  {\"key\": \"server.key\", \"path\": \"tls.key\"}, {\"key\": \"ca.pem\", \"path\": \"ca.crt\"}]},"
    " \"customReplicationTLSSecret\": {\"name\": \"hippo-repl-tls\"},"
    " \"instances\": [{\"name\": \"instance1\","
    "  \"dataVolumeClaimSpec\": {\"accessModes\": [\"ReadWriteOnce\"], \"storageClassName\": \"fast\","
    "   \"resources\": {\"requests\": {\"storage\": \"10Gi\"}, \"limits\": {\"storage\": \"100Gi\"}}},"
    "  \"walVolumeClaimSpec\": {\"accessModes\": [\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": "
    "\"2Gi\"}}},"
    "  \"resources\": {\"requests\": {\"cpu\": \"500m\", \"memory\": \"1Gi\"}, \"limits\": {\"memory\": \"2Gi\"}},"
    "  \"tolerations\": [{\"key\": \"dedicated\", \"operator\": \"Equal\", \"value\": \"postgres\", \"effect\": "
    "\"NoSchedule\"}],"
    "  \"sidecars\": {\"replicaCertCopy\": {\"resources\": {\"limits\": {\"cpu\": \"50m\"}}}},"
    "  \"metadata\": {\"labels\": {\"tier\": \"gold\", \"postgres-operator.crunchydata.com/instance\": \"spoofed\"},"
    "   \"annotations\": {\"zoo.example.com/owner\": \"divers\"}}}]}}";

/* Scheduling and the rest of the pod settings: affinity, priority class, the set's own spread constraints without
 * the defaults, OpenShift (no fsGroup), supplemental groups, pull policy and Secrets, config files, a temp volume,
 * a sidecar, other ports. */
static const char *const podText =
    "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17, \"port\": 5433, \"patroni\": {\"port\": 8009},"
    " \"image\": \"registry.example.com/postgres:17.6\", \"imagePullPolicy\": \"Always\","
    " \"imagePullSecrets\": [{\"name\": \"registry\"}], \"openshift\": true, \"supplementalGroups\": [0, 1000],"
    " \"disableDefaultPodScheduling\": true,"
    " \"config\": {\"files\": [{\"secret\": {\"name\": \"ldap-ca\", \"items\": [{\"key\": \"ca.crt\", \"path\": "
    "\"ldap/ca.crt\"}]}}]},"
    " \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME ", \"priorityClassName\": \"database\","
    "  \"affinity\": {\"nodeAffinity\": {\"requiredDuringSchedulingIgnoredDuringExecution\": {\"nodeSelectorTerms\": "
    "[{\"matchExpressions\": [{\"key\": \"disk\", \"operator\": \"In\", \"values\": [\"ssd\"]}]}]}}},"
    "  \"topologySpreadConstraints\": [{\"maxSkew\": 2, \"topologyKey\": \"rack\", \"whenUnsatisfiable\": "
    "\"DoNotSchedule\", \"labelSelector\": {\"matchLabels\": {\"postgres-operator.crunchydata.com/cluster\": "
    "\"hippo\"}}}],"
    "  \"volumes\": {\"temp\": {\"accessModes\": [\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": "
    "\"1Gi\"}}}},"
    "  \"containers\": [{\"name\": \"logger\", \"image\": \"busybox\", \"command\": [\"sleep\", \"infinity\"]}]}]}}";

typedef ClusterFixture Fixture;

static const char *fixtureImages(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "POSTGRES_17") == 0 ? HIPPO_IMAGE : NULL;
}

/* The model of text with the named instances (each "<cluster>-<set>-xxxx"), NULL-terminated; the RELATED_IMAGE_
 * defaults only when images. */
static void fixtureInit(Fixture *fixture, const char *text, const char *const *instanceNames, bool images)
{
    clusterFixtureInit(fixture, harnessJson(text), images ? fixtureImages : NULL, instanceNames);
}

/* The object of kind named name in objects. */
static const json_t *findObject(const json_t *objects, const char *kind, const char *name)
{
    const json_t *object = clusterObjectOf(objects, kind, name);
    if (object == NULL)
        fail_msg("no %s %s", kind, name);
    return object;
}

/* The named entry (volume, container, env var) of an array of objects with names, or NULL. */
static const json_t *findNamed(const json_t *array, const char *name)
{
    for (size_t itemIdx = 0; itemIdx < json_array_size(array); itemIdx++) {
        const json_t *item = json_array_get(array, itemIdx);
        if (strcmp(json_string_value(json_object_get(item, "name")), name) == 0)
            return item;
    }
    return NULL;
}

static const json_t *podSpec(const json_t *statefulSet)
{
    return json_object_get(json_object_get(json_object_get(statefulSet, "spec"), "template"), "spec");
}

static const char *envValue(const json_t *container, const char *name)
{
    return json_string_value(json_object_get(findNamed(json_object_get(container, "env"), name), "value"));
}

/* hippo: PVC <instance>-pgdata and StatefulSet <instance> as in the e2e reference, plus the KRB5/LDAP environment,
 * the replication-cert-copy sidecar and the operator's startup checks. */
static void testHippo(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText, (const char *const[]){"hippo-instance1-abcd", NULL}, true);
    json_t *objects = clusterBuildOk(clusterBuildInstances, &fixture.model);
    assert_golden(objects, "cluster/instance-hippo");
    assert_int_equal(json_array_size(objects), 2);

    const json_t *pod = podSpec(findObject(objects, "StatefulSet", "hippo-instance1-abcd"));
    const json_t *database = findNamed(json_object_get(pod, "containers"), "database");
    assert_string_equal(json_string_value(json_object_get(database, "image")), HIPPO_IMAGE);
    assert_string_equal(envValue(database, "PGDATA"), "/pgdata/pg17");
    assert_string_equal(envValue(database, "PATRONI_KUBERNETES_PORTS"),
                        "- name: postgres\n  port: 5432\n  protocol: TCP\n");
    assert_string_equal(envValue(database, "PATRONI_POSTGRESQL_CONNECT_ADDRESS"), "$(PATRONI_NAME).hippo-pods:5432");
    const json_t *probe = json_object_get(database, "livenessProbe");
    assert_int_equal(json_integer_value(json_object_get(probe, "periodSeconds")), 10);
    assert_int_equal(json_integer_value(json_object_get(probe, "timeoutSeconds")), 5);
    assert_int_equal(json_integer_value(json_object_get(probe, "failureThreshold")), 3);
    const json_t *startup = json_array_get(json_object_get(pod, "initContainers"), 0);
    const json_t *command = json_object_get(startup, "command");
    assert_string_equal(json_string_value(json_array_get(command, 5)), "17");
    assert_string_equal(json_string_value(json_array_get(command, 6)), "/pgdata/pg17_wal");
    assert_null(findNamed(json_object_get(pod, "volumes"), "postgres-wal"));
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* walVolumeClaimSpec adds PVC <instance>-pgwal (role pgwal) mounted at /pgwal and moves the WAL directory there;
 * the set's resources go to the database and startup containers (and the sidecar's to replication-cert-copy);
 * tolerations and metadata as given (operator labels win); custom TLS Secrets replace the operator's; the PVC spec
 * loses resources.limits; the probes follow ttl 20 / loop_wait 5. */
static void testWalAndCustomTls(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, walText, (const char *const[]){"hippo-instance1-abcd", NULL}, true);
    json_t *objects = clusterBuildOk(clusterBuildInstances, &fixture.model);
    assert_golden(objects, "cluster/instance-wal");
    assert_int_equal(json_array_size(objects), 3);
    const json_t *wal = findObject(objects, "PersistentVolumeClaim", "hippo-instance1-abcd-pgwal");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(wal, "metadata"), "labels"),
                                                          CLUSTER_LABEL_ROLE)),
                        "pgwal");
    const json_t *data = findObject(objects, "PersistentVolumeClaim", "hippo-instance1-abcd-pgdata");
    assert_null(json_object_get(json_object_get(json_object_get(data, "spec"), "resources"), "limits"));
    const json_t *pod = podSpec(findObject(objects, "StatefulSet", "hippo-instance1-abcd"));
    const json_t *startup = json_array_get(json_object_get(pod, "initContainers"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(startup, "command"), 6)), "/pgwal/pg17_wal");
    const json_t *probe = json_object_get(findNamed(json_object_get(pod, "containers"), "database"), "readinessProbe");
    assert_int_equal(json_integer_value(json_object_get(probe, "periodSeconds")), 5);
    assert_int_equal(json_integer_value(json_object_get(probe, "timeoutSeconds")), 2);
    assert_int_equal(json_integer_value(json_object_get(probe, "failureThreshold")), 4);
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* The pod settings of podText (see there). */
static void testPodSettings(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, podText, (const char *const[]){"hippo-instance1-abcd", NULL}, false);
    json_t *objects = clusterBuildOk(clusterBuildInstances, &fixture.model);
    assert_golden(objects, "cluster/instance-pod");
    const json_t *pod = podSpec(findObject(objects, "StatefulSet", "hippo-instance1-abcd"));
    assert_null(json_object_get(json_object_get(pod, "securityContext"), "fsGroup"));
    assert_int_equal(json_array_size(json_object_get(pod, "topologySpreadConstraints")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(pod, "containers"), 2), "name")), "logger");
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* A WAL PVC the set no longer asks for stays mounted so that postgres-startup can move the WAL back to /pgdata,
 * until it is being deleted; the builder does not claim it any more. Two sets' instances, sorted as the model has
 * them. */
static const json_t *lookupWal(void *arg, const char *kind, const char *namespace, const char *name)
{
    (void)namespace;
    return strcmp(kind, "PersistentVolumeClaim") == 0 && strcmp(name, "hippo-instance1-abcd-pgwal") == 0 ? arg : NULL;
}

static void testWalVolumeRemoved(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture,
                "{" HIPPO_META
                ", \"spec\": {\"postgresVersion\": 17, \"instances\": [{\"name\": \"instance1\", " HIPPO_VOLUME
                "}, {\"name\": \"instance2\", " HIPPO_VOLUME "}]}}",
                (const char *const[]){"hippo-instance1-abcd", "hippo-instance2-efgh", NULL}, true);
    json_t *existing = json_object();
    fixture.model.lookup = lookupWal;
    fixture.model.lookupArg = existing;
    json_t *objects = clusterBuildOk(clusterBuildInstances, &fixture.model);
    assert_int_equal(json_array_size(objects), 4);
    const json_t *first = podSpec(findObject(objects, "StatefulSet", "hippo-instance1-abcd"));
    const json_t *second = podSpec(findObject(objects, "StatefulSet", "hippo-instance2-efgh"));
    const json_t *volume = findNamed(json_object_get(first, "volumes"), "postgres-wal");
    assert_non_null(volume);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(volume, "persistentVolumeClaim"), "claimName")),
        "hippo-instance1-abcd-pgwal");
    const json_t *startup = json_array_get(json_object_get(first, "initContainers"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(startup, "command"), 6)), "/pgdata/pg17_wal");
    assert_non_null(findNamed(json_object_get(startup, "volumeMounts"), "postgres-wal"));
    assert_null(findNamed(json_object_get(second, "volumes"), "postgres-wal"));
    json_decref(objects);

    /* Once the claim is being deleted it is left alone: a new pod could not start with it. */
    assert_int_equal(
        json_object_set_new(existing, "metadata", json_pack("{s:s}", "deletionTimestamp", "2026-11-25T12:00:00Z")), 0);
    objects = clusterBuildOk(clusterBuildInstances, &fixture.model);
    first = podSpec(findObject(objects, "StatefulSet", "hippo-instance1-abcd"));
    assert_null(findNamed(json_object_get(first, "volumes"), "postgres-wal"));
    json_decref(objects);
    json_decref(existing);
    clusterFixtureFree(&fixture);
}

/* No spec.image and no RELATED_IMAGE_POSTGRES_17: nothing is built, and the user is told what to set. */
static void testMissingImage(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText, (const char *const[]){"hippo-instance1-abcd", NULL}, false);
    MemCtx *ctx = memCtxNew(NULL, "test");
    json_t *objects = json_array();
    Err err;
    errClear(&err);
    assert_false(clusterBuildInstances(ctx, &fixture.model, objects, &err));
    assert_err(&err, errInvalidArgument);
    assert_string_equal(err.message, "no image for Postgres 17: set spec.image or RELATED_IMAGE_POSTGRES_17");
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);
    memCtxFree(ctx);
    clusterFixtureFree(&fixture);
}

/* A set without dataVolumeClaimSpec (which the CRD requires) is refused. */
static void testNoDataVolume(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture,
                "{" HIPPO_META ", \"spec\": {\"postgresVersion\": 17, \"instances\": [{\"name\": \"instance1\"}]}}",
                (const char *const[]){"hippo-instance1-abcd", NULL}, true);
    MemCtx *ctx = memCtxNew(NULL, "test");
    json_t *objects = json_array();
    Err err;
    errClear(&err);
    assert_false(clusterBuildInstances(ctx, &fixture.model, objects, &err));
    assert_err(&err, errInvalidArgument);
    assert_string_equal(err.message, "instance set instance1 has no dataVolumeClaimSpec");
    json_decref(objects);
    memCtxFree(ctx);
    clusterFixtureFree(&fixture);
}

/* Every allocation failure is reported as errOutOfMemory, no leak. */
static void testAllocationSweep(void **state)
{
    (void)state;
    static const char *const texts[] = {walText, podText};
    for (size_t textIdx = 0; textIdx < sizeof(texts) / sizeof(texts[0]); textIdx++) {
        Fixture fixture;
        fixtureInit(&fixture, texts[textIdx], (const char *const[]){"hippo-instance1-abcd", NULL}, true);
        assert_true(harnessAllocSweep(clusterBuildSweep, &(ClusterBuildSweep){clusterBuildInstances, &fixture.model},
                                      false) > 0);
        clusterFixtureFree(&fixture);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testHippo),           cmocka_unit_test(testWalAndCustomTls),
        cmocka_unit_test(testPodSettings),     cmocka_unit_test(testWalVolumeRemoved),
        cmocka_unit_test(testMissingImage),    cmocka_unit_test(testNoDataVolume),
        cmocka_unit_test(testAllocationSweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
