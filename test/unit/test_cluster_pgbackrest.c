/* Unit tests: pgbackrest/pgbackrest.c, and the pgBackRest parts of instance.c and patroni.c.
 *
 * The cache the builders read is a JSON object keyed "<Kind>/<name>", filled by the tests as the API server and
 * the controllers would (a ready repository host, a pod Patroni labelled master, Jobs that completed). Golden files
 * (test/unit/golden/cluster/pgbackrest-*) hold the objects without certificates, which are random; the Secret is
 * checked by decoding its certificates. Time is a FakeClock. */
#include "harness/cluster.h"
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/base64.h"
#include "common/json.h"
#include "controllers/postgrescluster/builders.h"
#include "patroni/config.h"
#include "pgbackrest/pgbackrest.h"
#include "pki/authority.h"

#include <stdio.h>
#include <string.h>

#define T0_MS     INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define UID       "7d3c1e52-5b8e-4a63-9a57-2f6c0d1e9b41"
#define INSTANCE  "hippo-instance1-bdzp"
#define INSTANCE2 "hippo-instance1-x2c4"
#define IMAGE     "registry.example.com/crunchy-postgres:17"

#define HIPPO_HEAD                                                                                   \
    "{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\"," \
    " \"metadata\": {\"name\": \"hippo\", \"namespace\": \"ns\", \"uid\": \"" UID "\", \"generation\": 3},"
#define HIPPO_INSTANCES                                                                                      \
    "\"instances\": [{\"name\": \"instance1\", \"replicas\": 2, \"dataVolumeClaimSpec\": {\"accessModes\": " \
    "[\"ReadWriteOnce\"], \"resources\": {\"requests\": {\"storage\": \"1Gi\"}}}}]"
#define REPO1_VOLUME                                                                                                 \
    "{\"name\": \"repo1\", \"volume\": {\"volumeClaimSpec\": {\"accessModes\": [\"ReadWriteOnce\"], \"resources\": " \
    "{\"requests\": {\"storage\": \"1Gi\"}}}}}"

#define REPO1_SCHEDULED                                                                                       \
    "{\"name\": \"repo1\", \"schedules\": {\"full\": \"0 1 * * 0\", \"differential\": \"0 1 * * 1-6\"}, "     \
    "\"volume\": {\"volumeClaimSpec\": {\"accessModes\": [\"ReadWriteOnce\"], \"resources\": {\"requests\": " \
    "{\"storage\": \"1Gi\"}}}}}"

/* The examples' hippo with a volume repository. */
static const char hippoText[] = HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES ","
                                           " \"backups\": {\"pgbackrest\": {\"repos\": [" REPO1_VOLUME "]}}}}";

/* Everything the spec can say: a second (cloud) repository, global options, configuration projections, metadata,
 * Job and repository host scheduling, sidecar resources, a manual backup. */
static const char fullText[] = HIPPO_HEAD
    " \"spec\": {\"postgresVersion\": 17, \"port\": 5433, \"imagePullPolicy\": \"IfNotPresent\", " HIPPO_INSTANCES ","
    " \"metadata\": {\"labels\": {\"team\": \"zoo\"}, \"annotations\": {\"zoo/owner\": \"keepers\"}},"
    " \"backups\": {\"pgbackrest\": {\"image\": \"registry.example.com/pgbackrest:2.60\","
    "  \"metadata\": {\"labels\": {\"backups\": \"yes\"}, \"annotations\": {\"backup/note\": \"nightly\"}},"
    "  \"configuration\": [{\"secret\": {\"name\": \"s3-creds\"}}],"
    "  \"global\": {\"repo1-retention-full\": \"14\", \"repo2-path\": \"/pgbackrest/hippo/repo2\", \"process-max\": 2},"
    "  \"jobs\": {\"ttlSecondsAfterFinished\": 600, \"priorityClassName\": \"batch\","
    "   \"resources\": {\"limits\": {\"memory\": \"512Mi\"}},"
    "   \"affinity\": {\"podAffinity\": {\"preferredDuringSchedulingIgnoredDuringExecution\": []}},"
    "   \"tolerations\": [{\"key\": \"batch\", \"operator\": \"Exists\"}]},"
    "  \"repoHost\": {\"priorityClassName\": \"infra\", \"resources\": {\"requests\": {\"cpu\": \"100m\"}}},"
    "  \"sidecars\": {\"pgbackrest\": {\"resources\": {\"limits\": {\"cpu\": \"1\"}}},"
    "   \"pgbackrestConfig\": {\"resources\": {\"limits\": {\"cpu\": \"10m\"}}}},"
    "  \"manual\": {\"repoName\": \"repo1\", \"options\": [\"--type=full\", \"--annotation=why=test\"]},"
    "  \"repos\": [" REPO1_SCHEDULED ", {\"name\": \"repo2\", \"s3\": {\"bucket\": \"hippo\", \"endpoint\": "
    "\"s3.example.com\", \"region\": \"eu\"}}]}}}}";

typedef ClusterFixture Fixture;

static const char *fixtureImages(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "POSTGRES_17") == 0 ? IMAGE : NULL;
}

static void fixtureInit(Fixture *fixture, const char *text)
{
    clusterFixtureInit(fixture, harnessJson(text), fixtureImages, (const char *const[]){INSTANCE, INSTANCE2, NULL});
    fixture->fake = (FakeClock){.monotonicMs = 0, .wallMs = T0_MS};
    fixture->model.domain = "cluster.local";
    fixture->model.operatorPassword = "PgBackRestFixtureOperatorPassword0123456789";
    fixture->model.lookup = clusterFixtureLookup;
    fixture->model.lookupArg = fixture;
}

/* Every object of objects as the API server returns it once applied, with the status already cached. */
static void cacheObjects(Fixture *fixture, const json_t *objects)
{
    size_t objectIdx;
    json_t *object;
    json_array_foreach(objects, objectIdx, object)
    {
        char key[400];
        snprintf(key, sizeof(key), "%s/%s", json_string_value(json_object_get(object, "kind")),
                 json_string_value(json_object_get(json_object_get(object, "metadata"), "name")));
        json_t *stored = json_deep_copy(object);
        json_t *status = json_object_get(json_object_get(fixture->cache, key), "status");
        if (status != NULL)
            json_object_set(stored, "status", status);
        json_object_set_new(json_object_get(stored, "metadata"), "resourceVersion", json_string("42"));
        clusterFixturePut(fixture, json_string_value(json_object_get(object, "kind")),
                          json_string_value(json_object_get(json_object_get(object, "metadata"), "name")), stored);
    }
}

/* The cluster after the reconciler has written status (borrowed), as the next reconcile sees it. */
static void setStatus(Fixture *fixture, json_t *status)
{
    json_object_set_new(fixture->cluster, "status", status);
}

static json_t *build(Fixture *fixture)
{
    return clusterBuildOk(clusterBuildPgBackRest, &fixture->model);
}

/* The names of objects' Jobs, comma-separated. */
static void jobNames(const json_t *objects, char *out, size_t size)
{
    out[0] = '\0';
    size_t objectIdx;
    const json_t *object;
    json_array_foreach(objects, objectIdx, object)
    {
        if (strcmp(json_string_value(json_object_get(object, "kind")), "Job") != 0)
            continue;
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used > 0 ? "," : "",
                 json_string_value(json_object_get(json_object_get(object, "metadata"), "name")));
    }
}

/* The cluster's first Job of objects with label pgbackrest-backup=kind (or the stanza Job for "stanza"). */
static const json_t *jobOf(const json_t *objects, const char *kind)
{
    size_t objectIdx;
    const json_t *object;
    json_array_foreach(objects, objectIdx, object)
    {
        const json_t *labels = json_object_get(json_object_get(object, "metadata"), "labels");
        const char *backup = json_string_value(json_object_get(labels, PGBACKREST_LABEL_BACKUP));
        if (strcmp(json_string_value(json_object_get(object, "kind")), "Job") != 0)
            continue;
        if ((strcmp(kind, "stanza") == 0 && json_object_get(labels, PGBACKREST_LABEL_STANZA) != NULL) ||
            (backup != NULL && strcmp(backup, kind) == 0))
            return object;
    }
    return NULL;
}

static const char *nameOf(const json_t *object)
{
    return json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
}

/* The repository host ready, the first instance Patroni's leader (its Pod labelled so, as Patroni then does). */
static void clusterRunning(Fixture *fixture)
{
    fixture->model.primary = INSTANCE;
    clusterFixturePut(fixture, "StatefulSet", "hippo-repo-host",
                      harnessJson("{\"metadata\": {\"name\": \"hippo-repo-host\"}, \"status\": {\"replicas\": 1, "
                                  "\"readyReplicas\": 1}}"));
    clusterFixturePut(fixture, "Pod", INSTANCE "-0",
                      harnessJson("{\"metadata\": {\"name\": \"" INSTANCE "-0\", \"labels\": "
                                  "{\"postgres-operator.crunchydata.com/role\": \"master\"}}}"));
    clusterFixturePut(fixture, "Pod", INSTANCE2 "-0",
                      harnessJson("{\"metadata\": {\"name\": \"" INSTANCE2 "-0\", \"labels\": "
                                  "{\"postgres-operator.crunchydata.com/role\": \"replica\"}}}"));
}

/* The cached Job finished: succeeded or failed. */
static void jobFinished(Fixture *fixture, const char *name, bool succeeded)
{
    char key[400];
    snprintf(key, sizeof(key), "Job/%s", name);
    json_t *job = json_object_get(fixture->cache, key);
    assert_non_null(job);
    json_object_set_new(job, "status",
                        json_pack("{s:s, s:s, s:i, s:i, s:[{s:s, s:s}]}", "startTime", "2026-01-01T00:01:00Z",
                                  "completionTime", "2026-01-01T00:02:00Z", succeeded ? "succeeded" : "failed", 1,
                                  "active", 0, "conditions", "type", succeeded ? "Complete" : "Failed", "status",
                                  "True"));
}

/* A root CA in Secret pgo-root-cacert, as the certificates builder leaves it. */
static void cacheRoot(Fixture *fixture)
{
    json_t *objects = json_array();
    Err err;
    if (!clusterBuildCertificates(fixture->ctx, &fixture->model, objects, &err))
        fail_msg("clusterBuildCertificates: %s", err.message);
    clusterFixturePut(fixture, "Secret", CLUSTER_ROOT_SECRET,
                      json_deep_copy(clusterObjectOf(objects, "Secret", CLUSTER_ROOT_SECRET)));
    json_decref(objects);
}

/* ---- tests ---- */

static void testNothingWithoutBackups(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES "}}");
    assert_false(fixture.model.backups);
    json_t *objects = build(&fixture);
    assert_int_equal(json_array_size(objects), 0);
    json_t *status = clusterPgBackRestStatus(&fixture.model, NULL);
    assert_golden(status, "cluster/pgbackrest-status-none");
    json_t *pod = harnessJson("{\"containers\": [{\"name\": \"database\", \"volumeMounts\": []}], \"volumes\": []}");
    json_t *before = json_deep_copy(pod);
    Err err;
    assert_true(clusterPgBackRestInstancePod(fixture.ctx, &fixture.model, INSTANCE, pod, &err));
    assert_true(json_equal(pod, before));
    /* Obsolete: every finished Job of ours once backups are gone, never a running one. */
    json_t *job = harnessJson("{\"metadata\": {\"name\": \"hippo-backup-abcd\", \"labels\": "
                              "{\"postgres-operator.crunchydata.com/pgbackrest\": \"\"}}}");
    assert_false(clusterPgBackRestJobObsolete(&fixture.model, job));
    json_object_set_new(job, "status",
                        harnessJson("{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}"));
    assert_true(clusterPgBackRestJobObsolete(&fixture.model, job));
    json_decref(job);
    json_decref(before);
    json_decref(pod);
    json_decref(status);
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* A new cluster: configuration, repository host and its volume; no Secret before the root CA is cached, no Job
 * before the repository host is ready and Patroni has a primary. */
static void testHippoGolden(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText);
    assert_true(fixture.model.backups);
    assert_true(clusterPgBackRestRepoHost(&fixture.model));
    json_t *objects = build(&fixture);
    assert_golden(objects, "cluster/pgbackrest-hippo");
    assert_null(clusterObjectOf(objects, "Secret", "hippo-pgbackrest"));
    assert_null(jobOf(objects, "stanza"));
    json_t *status = clusterPgBackRestStatus(&fixture.model, NULL);
    assert_golden(status, "cluster/pgbackrest-status-new");
    json_decref(status);
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

static void testFullGolden(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText);
    json_t *objects = build(&fixture);
    assert_golden(objects, "cluster/pgbackrest-full");
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* Cloud repositories only: no repository host and no volume, the Jobs' pgbackrest_cloud.conf reaching the
 * instances' TLS servers, the Jobs without the repository host's volumes or affinity; the instances run the TLS
 * server. */
static void testCloudOnly(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES ", \"backups\": "
                                     "{\"pgbackrest\": {\"repos\": [{\"name\": \"repo1\", \"gcs\": {\"bucket\": "
                                     "\"hippo\"}}]}}}}");
    clusterRunning(&fixture);
    assert_false(clusterPgBackRestRepoHost(&fixture.model));
    json_t *objects = build(&fixture);
    assert_golden(objects, "cluster/pgbackrest-cloud");
    assert_null(clusterObjectOf(objects, "StatefulSet", "hippo-repo-host"));
    assert_null(clusterObjectOf(objects, "PersistentVolumeClaim", "hippo-repo1"));
    const json_t *stanza = jobOf(objects, "stanza");
    assert_non_null(stanza);
    Err err;
    json_t *affinity = NULL;
    assert_true(jsonFindObject(stanza, "spec.template.spec.affinity", &affinity, &err));
    assert_null(affinity);
    json_t *pod = harnessJson("{\"containers\": [{\"name\": \"database\", \"volumeMounts\": [{\"name\": "
                              "\"postgres-data\", \"mountPath\": \"/pgdata\"}]}], \"volumes\": []}");
    assert_true(clusterPgBackRestInstancePod(fixture.ctx, &fixture.model, INSTANCE, pod, &err));
    const char *second;
    assert_true(jsonGetStr(pod, "containers[1].name", &second, &err));
    assert_string_equal(second, "pgbackrest");
    json_decref(pod);
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* The certificates: issued from the cached root, the client's common name the servers admit, the repository host's
 * names; kept by the next build. */
static void testSecret(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText);
    cacheRoot(&fixture);
    json_t *objects = build(&fixture);
    const json_t *secret = clusterObjectOf(objects, "Secret", "hippo-pgbackrest");
    assert_non_null(secret);
    const json_t *data = json_object_get(secret, "data");
    assert_int_equal(json_object_size(data), 5);
    assert_string_equal(
        json_string_value(json_object_get(data, "pgbackrest.ca-roots")),
        json_string_value(json_object_get(
            json_object_get(clusterFixtureLookup(&fixture, "Secret", "ns", CLUSTER_ROOT_SECRET), "data"), "root.crt")));
    Err err;
    char *pem;
    size_t len;
    const char *encoded = json_string_value(json_object_get(data, "pgbackrest-client.crt"));
    assert_true(base64Decode(fixture.ctx, encoded, strlen(encoded), &pem, &len, &err));
    PkiCert *cert;
    char *commonName;
    assert_true(pkiCertDecodePem(fixture.ctx, pem, len, &cert, &err));
    assert_true(pkiCertCommonName(fixture.ctx, cert, &commonName, &err));
    assert_string_equal(commonName, "pgbackrest@" UID);
    encoded = json_string_value(json_object_get(data, "pgbackrest-repo-host.crt"));
    assert_true(base64Decode(fixture.ctx, encoded, strlen(encoded), &pem, &len, &err));
    assert_true(pkiCertDecodePem(fixture.ctx, pem, len, &cert, &err));
    PkiNameList names;
    assert_true(pkiCertDnsNames(fixture.ctx, cert, &names, &err));
    assert_int_equal(names.count, 4);
    assert_string_equal(names.items[0], "hippo-repo-host-0.hippo-pods.ns.svc.cluster.local.");
    assert_string_equal(names.items[3], "hippo-repo-host-0.hippo-pods");

    cacheObjects(&fixture, objects);
    json_t *again = build(&fixture);
    assert_true(json_equal(clusterObjectOf(again, "Secret", "hippo-pgbackrest"), secret));
    json_decref(again);
    json_decref(objects);

    /* A root that does not decode: nothing yet. */
    json_object_set_new(json_object_get(clusterFixtureLookup(&fixture, "Secret", "ns", CLUSTER_ROOT_SECRET), "data"),
                        "root.crt", json_string("bm90IGEgY2VydA=="));
    objects = build(&fixture);
    assert_null(clusterObjectOf(objects, "Secret", "hippo-pgbackrest"));
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* Stanza Job, then the replica-create backup, then status and conditions; a finished Job is kept as it is. */
static void testJobsLifecycle(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText);
    char names[400];

    /* A primary without a ready repository host: no Job. */
    fixture.model.primary = INSTANCE;
    clusterFixturePut(
        &fixture, "Pod", INSTANCE "-0",
        harnessJson("{\"metadata\": {\"labels\": {\"postgres-operator.crunchydata.com/role\": \"master\"}}}"));
    json_t *objects = build(&fixture);
    jobNames(objects, names, sizeof(names));
    assert_string_equal(names, "");
    json_decref(objects);

    clusterRunning(&fixture);
    objects = build(&fixture);
    const json_t *stanza = jobOf(objects, "stanza");
    assert_non_null(stanza);
    assert_null(jobOf(objects, "replica-create"));
    assert_golden(stanza, "cluster/pgbackrest-stanza-job");
    char stanzaName[100];
    snprintf(stanzaName, sizeof(stanzaName), "%s", nameOf(stanza));
    cacheObjects(&fixture, objects);
    json_decref(objects);

    /* Running: emitted unchanged, nothing more. */
    objects = build(&fixture);
    jobNames(objects, names, sizeof(names));
    assert_string_equal(names, stanzaName);
    json_decref(objects);

    /* Failed: obsolete, so the reconciler deletes it and the builder creates it again. */
    jobFinished(&fixture, stanzaName, false);
    char key[200];
    snprintf(key, sizeof(key), "Job/%s", stanzaName);
    assert_true(clusterPgBackRestJobObsolete(&fixture.model, json_object_get(fixture.cache, key)));
    jobFinished(&fixture, stanzaName, true);
    assert_false(clusterPgBackRestJobObsolete(&fixture.model, json_object_get(fixture.cache, key)));

    objects = build(&fixture);
    const json_t *replica = jobOf(objects, "replica-create");
    assert_non_null(replica);
    assert_golden(replica, "cluster/pgbackrest-replica-create-job");
    char replicaName[100];
    snprintf(replicaName, sizeof(replicaName), "%s", nameOf(replica));
    assert_string_not_equal(replicaName, stanzaName);
    cacheObjects(&fixture, objects);
    json_decref(objects);
    json_t *status = clusterPgBackRestStatus(&fixture.model, NULL);
    assert_golden(status, "cluster/pgbackrest-status-stanza");
    json_decref(status);

    /* The backup completes; the PVC is bound. */
    jobFinished(&fixture, replicaName, true);
    json_t *claim = json_object_get(fixture.cache, "PersistentVolumeClaim/hippo-repo1");
    json_object_set_new(json_object_get(claim, "spec"), "volumeName", json_string("pvc-1234"));
    json_object_set_new(claim, "status", json_pack("{s:s}", "phase", "Bound"));
    fixture.fake.wallMs += 60000;
    status = clusterPgBackRestStatus(&fixture.model, NULL);
    assert_golden(status, "cluster/pgbackrest-status-ready");

    /* The status written, the Jobs gone (ttlSecondsAfterFinished): none again. */
    setStatus(&fixture, json_pack("{s:O, s:O}", "pgbackrest", json_object_get(status, "pgbackrest"), "conditions",
                                  json_object_get(status, "conditions")));
    json_object_del(fixture.cache, key);
    snprintf(key, sizeof(key), "Job/%s", replicaName);
    json_object_del(fixture.cache, key);
    objects = build(&fixture);
    jobNames(objects, names, sizeof(names));
    assert_string_equal(names, "");
    json_decref(objects);
    /* ... and the status stays, conditions keeping their times. */
    fixture.fake.wallMs += 60000;
    json_t *later = clusterPgBackRestStatus(&fixture.model, NULL);
    assert_true(json_equal(later, status));
    json_decref(later);
    json_decref(status);

    /* A second repository makes another stanza Job; the old one is obsolete once finished. */
    json_t *repos = json_object_get(
        json_object_get(json_object_get(json_object_get(fixture.cluster, "spec"), "backups"), "pgbackrest"), "repos");
    json_array_append_new(repos, harnessJson("{\"name\": \"repo2\", \"azure\": {\"container\": \"hippo\"}}"));
    objects = build(&fixture);
    stanza = jobOf(objects, "stanza");
    assert_non_null(stanza);
    assert_string_not_equal(nameOf(stanza), stanzaName);
    json_t *old = harnessJson("{\"metadata\": {\"labels\": {\"postgres-operator.crunchydata.com/pgbackrest\": \"\","
                              " \"postgres-operator.crunchydata.com/pgbackrest-stanza\": \"\"}}, \"status\": "
                              "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}}");
    json_object_set_new(json_object_get(old, "metadata"), "name", json_string(stanzaName));
    assert_true(clusterPgBackRestJobObsolete(&fixture.model, old));
    json_object_set_new(json_object_get(old, "metadata"), "name", json_string(nameOf(stanza)));
    assert_false(clusterPgBackRestJobObsolete(&fixture.model, old));
    json_decref(old);
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* A manual backup: after the replica-create backup, one Job per id, never changed once cached. */
static void testManualBackup(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText);
    clusterRunning(&fixture);
    json_object_set_new(json_object_get(fixture.cluster, "metadata"), "annotations",
                        json_pack("{s:s}", PGBACKREST_ANNOTATION, "first"));
    /* Before the replica-create backup: no manual Job. */
    json_t *objects = build(&fixture);
    assert_null(jobOf(objects, "manual"));
    json_decref(objects);

    setStatus(&fixture, harnessJson("{\"pgbackrest\": {\"repos\": [{\"name\": \"repo1\", \"stanzaCreated\": true,"
                                    " \"replicaCreateBackupComplete\": true}, {\"name\": \"repo2\", "
                                    "\"stanzaCreated\": true}]}}"));
    objects = build(&fixture);
    const json_t *manual = jobOf(objects, "manual");
    assert_non_null(manual);
    assert_null(jobOf(objects, "stanza"));
    assert_null(jobOf(objects, "replica-create"));
    assert_golden(manual, "cluster/pgbackrest-manual-job");
    char name[100];
    snprintf(name, sizeof(name), "%s", nameOf(manual));
    cacheObjects(&fixture, objects);
    json_decref(objects);

    /* The Job's intent changes (resources): the cached Job is left as it is. */
    json_t *jobs = json_object_get(
        json_object_get(json_object_get(json_object_get(fixture.cluster, "spec"), "backups"), "pgbackrest"), "jobs");
    json_object_set_new(jobs, "resources", harnessJson("{\"limits\": {\"memory\": \"1Gi\"}}"));
    objects = build(&fixture);
    assert_null(jobOf(objects, "manual"));
    json_decref(objects);

    jobFinished(&fixture, name, true);
    json_t *status = clusterPgBackRestStatus(&fixture.model, NULL);
    assert_golden(status, "cluster/pgbackrest-status-manual");
    char key[200];
    snprintf(key, sizeof(key), "Job/%s", name);
    assert_false(clusterPgBackRestJobObsolete(&fixture.model, json_object_get(fixture.cache, key)));

    /* A new id: a new Job; the finished one is obsolete. */
    json_object_set_new(json_object_get(json_object_get(fixture.cluster, "metadata"), "annotations"),
                        PGBACKREST_ANNOTATION, json_string("second"));
    assert_true(clusterPgBackRestJobObsolete(&fixture.model, json_object_get(fixture.cache, key)));
    objects = build(&fixture);
    manual = jobOf(objects, "manual");
    assert_non_null(manual);
    assert_string_not_equal(nameOf(manual), name);
    json_decref(objects);

    /* Back to the first id, recorded as finished and its Job gone: not run again. */
    json_object_set_new(json_object_get(json_object_get(fixture.cluster, "metadata"), "annotations"),
                        PGBACKREST_ANNOTATION, json_string("first"));
    json_object_set(json_object_get(fixture.cluster, "status"), "pgbackrest", json_object_get(status, "pgbackrest"));
    json_object_del(fixture.cache, key);
    objects = build(&fixture);
    assert_null(jobOf(objects, "manual"));
    json_decref(objects);
    json_t *kept = clusterPgBackRestStatus(&fixture.model, NULL);
    assert_true(json_equal(json_object_get(json_object_get(kept, "pgbackrest"), "manualBackup"),
                           json_object_get(json_object_get(status, "pgbackrest"), "manualBackup")));
    json_decref(kept);

    /* --repo among the options is refused, as PGO refuses it. */
    json_object_set_new(json_object_get(json_object_get(fixture.cluster, "metadata"), "annotations"),
                        PGBACKREST_ANNOTATION, json_string("third"));
    json_t *options = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(fixture.cluster, "spec"), "backups"), "pgbackrest"),
            "manual"),
        "options");
    json_array_append_new(options, json_string("--repo=2"));
    objects = build(&fixture);
    assert_null(jobOf(objects, "manual"));
    json_decref(objects);
    json_decref(status);
    clusterFixtureFree(&fixture);
}

/* The instance pod: conf.d in the database container, the TLS server and its reloader. */
static void testInstancePod(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText);
    json_t *objects = json_array();
    Err err;
    if (!clusterBuildInstances(fixture.ctx, &fixture.model, objects, &err))
        fail_msg("clusterBuildInstances: %s", err.message);
    const json_t *set = clusterObjectOf(objects, "StatefulSet", INSTANCE);
    assert_non_null(set);
    assert_golden(json_object_get(json_object_get(json_object_get(set, "spec"), "template"), "spec"),
                  "cluster/pgbackrest-instance-pod");
    json_decref(objects);

    json_t *pod = harnessJson("{\"containers\": [{\"name\": \"other\"}]}");
    assert_false(clusterPgBackRestInstancePod(fixture.ctx, &fixture.model, INSTANCE, pod, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, INSTANCE);
    json_decref(pod);
    clusterFixtureFree(&fixture);
}

/* Patroni: archiving and recovery through pgBackRest, replicas from the repository once it has a backup. */
static void testPatroni(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText);
    Err err;
    json_t *dcs = clusterPatroniDynamicConfig(fixture.ctx, &fixture.model, &err);
    assert_non_null(dcs);
    const json_t *parameters = json_object_get(json_object_get(dcs, "postgresql"), "parameters");
    assert_string_equal(json_string_value(json_object_get(parameters, "archive_command")),
                        "pgbackrest --stanza=db archive-push \"%p\"");
    assert_string_equal(json_string_value(json_object_get(parameters, "restore_command")),
                        "pgbackrest --stanza=db archive-get %f \"%p\"");
    json_decref(dcs);

    json_object_set_new(json_object_get(fixture.cluster, "spec"), "standby",
                        harnessJson("{\"enabled\": true, \"repoName\": \"repo1\"}"));
    dcs = clusterPatroniDynamicConfig(fixture.ctx, &fixture.model, &err);
    assert_non_null(dcs);
    parameters = json_object_get(json_object_get(dcs, "postgresql"), "parameters");
    assert_string_equal(json_string_value(json_object_get(parameters, "restore_command")),
                        "pgbackrest --stanza=db archive-get %f \"%p\" --repo=1");
    json_decref(dcs);

    setStatus(&fixture, harnessJson("{\"pgbackrest\": {\"repos\": [{\"name\": \"repo1\", \"stanzaCreated\": true,"
                                    " \"replicaCreateBackupComplete\": true}]}}"));
    json_t *objects = json_array();
    if (!clusterBuildPatroniConfig(fixture.ctx, &fixture.model, objects, &err))
        fail_msg("clusterBuildPatroniConfig: %s", err.message);
    const char *file = json_string_value(json_object_get(
        json_object_get(clusterObjectOf(objects, "ConfigMap", INSTANCE "-config"), "data"), "patroni.yaml"));
    assert_non_null(file);
    assert_contains(file, "create_replica_methods:\n  - pgbackrest\n  - basebackup\n");
    assert_contains(file, "pgbackrest restore --delta --stanza=db --repo=1 --link-map=pg_wal=/pgdata/pg17_wal "
                          "--type=standby");
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* A standby writes nothing to its repository (its primary's): no stanza Job, no replica-create backup, while
 * spec.standby is enabled, nor after the promotion until Patroni's record of the leader stops saying standby_leader;
 * then the stanza Job as for any cluster. */
static void testStandbyJobs(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText);
    clusterRunning(&fixture);
    json_t *spec = json_object_get(fixture.cluster, "spec");
    json_object_set_new(spec, "standby", harnessJson("{\"enabled\": true, \"repoName\": \"repo1\"}"));
    char names[400];
    json_t *objects = build(&fixture);
    jobNames(objects, names, sizeof(names));
    assert_string_equal(names, "");
    json_decref(objects);

    json_object_set_new(spec, "standby", harnessJson("{\"enabled\": false, \"repoName\": \"repo1\"}"));
    clusterFixturePut(&fixture, "Pod", INSTANCE "-0",
                      harnessJson("{\"metadata\": {\"name\": \"" INSTANCE "-0\", \"annotations\": {\"status\":"
                                  " \"{\\\"role\\\": \\\"standby_leader\\\", \\\"state\\\": \\\"running\\\"}\"}}}"));
    objects = build(&fixture);
    jobNames(objects, names, sizeof(names));
    assert_string_equal(names, "");
    json_decref(objects);

    clusterFixturePut(&fixture, "Pod", INSTANCE "-0",
                      harnessJson("{\"metadata\": {\"name\": \"" INSTANCE "-0\", \"annotations\": {\"status\":"
                                  " \"{\\\"role\\\": \\\"primary\\\", \\\"state\\\": \\\"running\\\"}\"}}}"));
    objects = build(&fixture);
    assert_non_null(jobOf(objects, "stanza"));
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* What prune.c decides of a cached CronJob: a schedule of a cluster with backups that objects do not intend. */
static bool cronJobObsolete(const ClusterModel *model, const json_t *object, const json_t *objects)
{
    const char *name = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
    return clusterPgBackRestScheduleCronJob(model, object) && clusterObjectOf(objects, "CronJob", name) == NULL;
}

/* Schedules: no CronJob before the stanza and the replica-create backup; then one per schedule of a repository,
 * volume or cloud, kept up to date, suspended with spec.shutdown; a removed schedule's CronJob obsolete, none
 * without spec.backups; the Jobs they ran in status.pgbackrest.scheduledBackups. */
static void testSchedules(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES ", \"backups\": "
                                     "{\"pgbackrest\": {\"repos\": [" REPO1_SCHEDULED ", {\"name\": \"repo2\", "
                                     "\"schedules\": {\"full\": \"@daily\"}, \"gcs\": {\"bucket\": \"h\"}}]}}}}");
    clusterRunning(&fixture);
    json_t *objects = build(&fixture);
    assert_null(clusterObjectOf(objects, "CronJob", "hippo-repo1-full"));
    json_decref(objects);

    setStatus(&fixture, harnessJson("{\"pgbackrest\": {\"repos\": [{\"name\": \"repo1\", \"stanzaCreated\": true, "
                                    "\"replicaCreateBackupComplete\": true}, {\"name\": \"repo2\", "
                                    "\"stanzaCreated\": true}]}}"));
    objects = build(&fixture);
    const json_t *full = clusterObjectOf(objects, "CronJob", "hippo-repo1-full");
    assert_golden(full, "cluster/pgbackrest-cronjob-full");
    const json_t *diff = clusterObjectOf(objects, "CronJob", "hippo-repo1-diff");
    assert_non_null(diff);
    const char *typeOption;
    Err err;
    assert_true(jsonGetStr(diff, "spec.jobTemplate.spec.template.spec.containers[0].command[4]", &typeOption, &err));
    assert_string_equal(typeOption, "--type=diff");
    assert_null(clusterObjectOf(objects, "CronJob", "hippo-repo1-incr"));
    assert_non_null(clusterObjectOf(objects, "CronJob", "hippo-repo2-full"));
    cacheObjects(&fixture, objects);
    assert_false(cronJobObsolete(&fixture.model, diff, objects));
    json_decref(objects);

    /* A restore under way: suspended. */
    ClusterRestore restore = {.startupInstance = INSTANCE};
    fixture.model.restore = &restore;
    objects = build(&fixture);
    assert_true(json_is_true(
        json_object_get(json_object_get(clusterObjectOf(objects, "CronJob", "hippo-repo1-full"), "spec"), "suspend")));
    json_decref(objects);
    fixture.model.restore = NULL;

    /* Shut down: suspended, and kept even if the status were lost. */
    json_object_set_new(json_object_get(fixture.cluster, "spec"), "shutdown", json_true());
    fixture.model.power.shutdown = true;
    setStatus(&fixture, json_object());
    objects = build(&fixture);
    full = clusterObjectOf(objects, "CronJob", "hippo-repo1-full");
    assert_true(json_is_true(json_object_get(json_object_get(full, "spec"), "suspend")));
    json_decref(objects);

    /* The differential schedule removed: its CronJob is obsolete, the full one is not. */
    json_t *repo1 = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(fixture.cluster, "spec"), "backups"), "pgbackrest"),
            "repos"),
        0);
    json_object_del(json_object_get(repo1, "schedules"), "differential");
    objects = build(&fixture);
    assert_true(cronJobObsolete(&fixture.model, json_object_get(fixture.cache, "CronJob/hippo-repo1-diff"), objects));
    assert_false(cronJobObsolete(&fixture.model, json_object_get(fixture.cache, "CronJob/hippo-repo1-full"), objects));
    json_decref(objects);

    /* The Jobs the schedules ran. */
    json_t *jobs = harnessJson(
        "[{\"metadata\": {\"name\": \"hippo-repo1-full-29000000\", \"labels\": "
        "{\"postgres-operator.crunchydata.com/pgbackrest-repo\": \"repo1\", "
        "\"postgres-operator.crunchydata.com/pgbackrest-cronjob\": \"full\"}, \"ownerReferences\": [{\"kind\": "
        "\"CronJob\", \"name\": \"hippo-repo1-full\", \"controller\": true}]}, \"status\": {\"startTime\": "
        "\"2026-01-01T01:00:00Z\", \"completionTime\": \"2026-01-01T01:03:00Z\", \"succeeded\": 1}},"
        " {\"metadata\": {\"name\": \"hippo-repo1-full-29010080\", \"labels\": "
        "{\"postgres-operator.crunchydata.com/pgbackrest-repo\": \"repo1\", "
        "\"postgres-operator.crunchydata.com/pgbackrest-cronjob\": \"full\"}, \"ownerReferences\": [{\"kind\": "
        "\"CronJob\", \"name\": \"hippo-repo1-full\", \"controller\": true}]}, \"status\": {\"startTime\": "
        "\"2026-01-08T01:00:00Z\", \"active\": 1}}]");
    json_t *status = clusterPgBackRestStatus(&fixture.model, jobs);
    assert_golden(json_object_get(json_object_get(status, "pgbackrest"), "scheduledBackups"),
                  "cluster/pgbackrest-status-scheduled");
    json_decref(status);
    json_t *none = json_array();
    status = clusterPgBackRestStatus(&fixture.model, none);
    assert_null(json_object_get(json_object_get(status, "pgbackrest"), "scheduledBackups"));
    json_decref(status);

    /* Backups removed from the spec: nothing goes on its own. */
    json_object_del(json_object_get(fixture.cluster, "spec"), "backups");
    assert_false(cronJobObsolete(&fixture.model, json_object_get(fixture.cache, "CronJob/hippo-repo1-diff"), none));
    json_decref(none);
    json_decref(jobs);
    clusterFixtureFree(&fixture);
}

static void testInvalid(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, HIPPO_HEAD " \"spec\": {\"postgresVersion\": 17, " HIPPO_INSTANCES ", \"backups\": "
                                     "{\"pgbackrest\": {\"repos\": [{\"name\": \"backups\", \"volume\": {}}]}}}}");
    json_t *objects = json_array();
    Err err;
    assert_false(clusterBuildPgBackRest(fixture.ctx, &fixture.model, objects, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, "repos[0].name");
    json_array_set_new(
        json_object_get(
            json_object_get(json_object_get(json_object_get(fixture.cluster, "spec"), "backups"), "pgbackrest"),
            "repos"),
        0, harnessJson("{\"name\": \"repo1\", \"volume\": {}}"));
    assert_false(clusterBuildPgBackRest(fixture.ctx, &fixture.model, objects, &err));
    assert_contains(err.message, "volumeClaimSpec");
    fixture.model.image = NULL;
    assert_false(clusterBuildPgBackRest(fixture.ctx, &fixture.model, objects, &err));
    assert_contains(err.message, "no image");
    json_decref(objects);
    clusterFixtureFree(&fixture);
}

/* ---- allocation failures ---- */

static bool sweepBuild(void *arg, Err *err)
{
    Fixture *fixture = arg;
    return clusterBuildSweep(&(ClusterBuildSweep){clusterBuildPgBackRest, &fixture->model}, err);
}

static bool sweepStatus(void *arg, Err *err)
{
    Fixture *fixture = arg;
    json_t *status = clusterPgBackRestStatus(&fixture->model, NULL);
    json_decref(status);
    return status != NULL || errSet(err, errOutOfMemory, "status");
}

static bool sweepInstancePod(void *arg, Err *err)
{
    Fixture *fixture = arg;
    json_t *pod = json_pack("{s:[{s:s, s:[{s:s, s:s}]}]}", "containers", "name", "database", "volumeMounts", "name",
                            "postgres-data", "mountPath", "/pgdata");
    if (pod == NULL)
        return errSet(err, errOutOfMemory, "sweep set-up");
    bool ok = clusterPgBackRestInstancePod(fixture->ctx, &fixture->model, INSTANCE, pod, err);
    json_decref(pod);
    return ok;
}

/* The instances' builder keeps the error of pgBackRest's part of the pod rather than replacing it: with each
 * allocation failing in turn, every failure is a lack of memory, and those inside pgBackRest's part say so. */
static void testInstancePodErrorKept(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText);
    allocUseForJansson();
    unsigned fromBackRest = 0;
    for (uint64_t nth = 1;; nth++) {
        assert_true(nth < 100000);
        MemCtx *ctx = memCtxNew(NULL, "instances");
        json_t *objects = json_array();
        Err err;
        errClear(&err);
        allocFailNth(nth);
        bool ok = ctx != NULL && objects != NULL && clusterBuildInstances(ctx, &fixture.model, objects, &err);
        bool fired = allocFaultFired();
        allocFailNth(0);
        json_decref(objects);
        memCtxFree(ctx);
        if (!fired) {
            assert_true(ok);
            break;
        }
        if (ctx == NULL || objects == NULL)
            continue;
        assert_false(ok);
        assert_err(&err, errOutOfMemory);
        if (strstr(err.message, "pgBackRest") != NULL)
            fromBackRest++;
    }
    print_message("# pgBackRest's own errors: %u\n", fromBackRest);
    assert_true(fromBackRest > 0);
    clusterFixtureFree(&fixture);
}

/* Every builder path at once: all objects but certificates (OpenSSL's thousands of allocations), every Job. */
static void testAllocationFailures(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, fullText);
    clusterRunning(&fixture);
    json_object_set_new(json_object_get(fixture.cluster, "metadata"), "annotations",
                        json_pack("{s:s}", PGBACKREST_ANNOTATION, "first"));
    json_t *objects = build(&fixture);
    cacheObjects(&fixture, objects);
    json_decref(objects);
    char stanzaName[100];
    snprintf(stanzaName, sizeof(stanzaName), "%s", nameOf(jobOf(objects = build(&fixture), "stanza")));
    json_decref(objects);
    jobFinished(&fixture, stanzaName, true);
    objects = build(&fixture);
    cacheObjects(&fixture, objects);
    const char *replicaName = nameOf(jobOf(objects, "replica-create"));
    assert_non_null(replicaName);
    char replica[100];
    snprintf(replica, sizeof(replica), "%s", replicaName);
    json_decref(objects);
    jobFinished(&fixture, replica, true);
    objects = build(&fixture);
    assert_non_null(jobOf(objects, "manual"));
    json_decref(objects);

    unsigned built = harnessAllocSweep(sweepBuild, &fixture, false);
    print_message("# build: %u allocations swept\n", built);
    assert_true(built > 200);
    unsigned status = harnessAllocSweep(sweepStatus, &fixture, false);
    print_message("# status: %u allocations swept\n", status);
    assert_true(status > 20);
    unsigned pod = harnessAllocSweep(sweepInstancePod, &fixture, false);
    print_message("# instance pod: %u allocations swept\n", pod);
    assert_true(pod > 20);
    clusterFixtureFree(&fixture);
}

/* The Secret's certificates, issued and kept, swept thinned. */
static bool sweepSecret(void *arg, Err *err)
{
    return sweepBuild(arg, err);
}

static void testSecretAllocationFailures(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, hippoText);
    cacheRoot(&fixture);
    unsigned issued = harnessAllocSweepThinned(sweepSecret, &fixture);
    print_message("# certificates issued: %u allocations swept\n", issued);
    json_t *objects = build(&fixture);
    cacheObjects(&fixture, objects);
    json_decref(objects);
    unsigned kept = harnessAllocSweepThinned(sweepSecret, &fixture);
    print_message("# certificates kept: %u allocations swept\n", kept);
    assert_true(kept > 100);
    clusterFixtureFree(&fixture);
}

int main(void)
{
    Err err;
    if (!pkiUseProjectAllocator() || !pkiWarmUp(&err)) {
        fprintf(stderr, "cannot set up OpenSSL\n");
        return 1;
    }
    allocUseForJansson();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testNothingWithoutBackups),
        cmocka_unit_test(testHippoGolden),
        cmocka_unit_test(testFullGolden),
        cmocka_unit_test(testCloudOnly),
        cmocka_unit_test(testSecret),
        cmocka_unit_test(testJobsLifecycle),
        cmocka_unit_test(testManualBackup),
        cmocka_unit_test(testSchedules),
        cmocka_unit_test(testInstancePod),
        cmocka_unit_test(testStandbyJobs),
        cmocka_unit_test(testPatroni),
        cmocka_unit_test(testInvalid),
        cmocka_unit_test(testInstancePodErrorKept),
        cmocka_unit_test(testAllocationFailures),
        cmocka_unit_test(testSecretAllocationFailures),
    };
    return cmocka_run_group_tests_name("cluster/pgbackrest", tests, NULL, NULL);
}
