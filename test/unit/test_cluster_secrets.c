/* Unit tests: controllers/postgrescluster/secrets — the certificate Secrets and the user Secrets.
 *
 * Certificates and generated passwords are random, so the golden files show each Secret's data decoded, with PEM
 * values reduced to the kinds of their blocks, and the certificates themselves are checked by decoding them: the
 * chain to the root, the names a client verifies, the purposes, and which ones a second build keeps. The cache the
 * builders read is a JSON object of Secrets by name, filled from a previous build's output as the API server would
 * return it. Time is a FakeClock. */
#include "harness/cluster.h"
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/base64.h"
#include "controllers/postgrescluster/builders.h"
#include "pgsql/scram.h"
#include "pki/authority.h"
#include "pki/names.h"

#include <stdio.h>
#include <string.h>

/* 2026-01-01T00:00:00Z */
#define T0_MS  INT64_C(1767225600000)
#define DAY_MS INT64_C(86400000)
#define UID    "3a4b5c6d-0000-4000-8000-00000000c0de"

static const char clusterJson[] =
    "{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\","
    " \"metadata\": {\"name\": \"hippo\", \"namespace\": \"ns\", \"uid\": \"" UID "\"},"
    " \"spec\": {\"postgresVersion\": 17,"
    "  \"metadata\": {\"labels\": {\"team\": \"db\"}, \"annotations\": {\"owner\": \"dba\"}},"
    "  \"instances\": [{\"name\": \"instance1\", \"replicas\": 2,"
    "   \"metadata\": {\"labels\": {\"tier\": \"gold\", \"postgres-operator.crunchydata.com/instance\": \"not-ours\"},"
    "                 \"annotations\": {\"set-note\": \"instance1\"}},"
    "   \"dataVolumeClaimSpec\": {\"accessModes\": [\"ReadWriteOnce\"],"
    "                            \"resources\": {\"requests\": {\"storage\": \"1Gi\"}}}}]}}";

/* The operator's password the reconciler would have decided (api/objects.h clusterOperatorPassword). */
#define OPERATOR_PASSWORD "SecretsFixtureOperatorPassword0123456789abc"

typedef struct Fixture {
    MemCtx *ctx;
    FakeClock fake;
    json_t *cluster;
    json_t *cache; /* Secrets by name, as model->lookup finds them */
    ClusterInstanceSet set;
    ClusterInstance instances[2];
    ClusterModel model;
} Fixture;

static const json_t *fixtureLookup(void *arg, const char *kind, const char *namespace, const char *name)
{
    Fixture *fixture = arg;
    assert_string_equal(kind, "Secret");
    assert_string_equal(namespace, "ns");
    return json_object_get(fixture->cache, name);
}

static int setUp(void **state)
{
    Fixture *fixture = allocRaw(sizeof(*fixture));
    assert_non_null(fixture);
    fixture->ctx = memCtxNew(NULL, "test");
    fixture->fake = (FakeClock){.monotonicMs = 0, .wallMs = T0_MS};
    fixture->cluster = harnessJson(clusterJson);
    fixture->cache = json_object();
    fixture->set = (ClusterInstanceSet){
        .name = "instance1",
        .replicas = 2,
        .minAvailable = 1,
        .spec = json_array_get(json_object_get(json_object_get(fixture->cluster, "spec"), "instances"), 0),
    };
    fixture->instances[0] = (ClusterInstance){.name = "hippo-instance1-abcd", .set = 0};
    fixture->instances[1] = (ClusterInstance){.name = "hippo-instance1-wxyz", .set = 0};
    fixture->model = (ClusterModel){
        .cluster = fixture->cluster,
        .namespace = "ns",
        .name = "hippo",
        .uid = UID,
        .generation = 1,
        .postgresVersion = 17,
        .port = 5432,
        .domain = "cluster.local",
        .patroniTtl = 30,
        .patroniLoopWait = 10,
        .patroniPort = 8008,
        .sets = &fixture->set,
        .setCount = 1,
        .instances = fixture->instances,
        .instanceCount = 2,
        .clock = clockFake(&fixture->fake),
        .lookup = fixtureLookup,
        .lookupArg = fixture,
        .operatorPassword = OPERATOR_PASSWORD,
    };
    *state = fixture;
    return 0;
}

static int tearDown(void **state)
{
    Fixture *fixture = *state;
    json_decref(fixture->cluster);
    json_decref(fixture->cache);
    memCtxFree(fixture->ctx);
    allocFree(fixture);
    return 0;
}

static json_t *spec(Fixture *fixture)
{
    return json_object_get(fixture->cluster, "spec");
}

static json_t *buildCertificates(Fixture *fixture)
{
    return clusterBuildOk(clusterBuildCertificates, &fixture->model);
}

static json_t *buildUsers(Fixture *fixture)
{
    return clusterBuildOk(clusterBuildUserSecrets, &fixture->model);
}

/* Puts objects in the cache as the API server returns them once applied: with the fields it adds. */
static void cacheObjects(Fixture *fixture, const json_t *objects)
{
    size_t objectIdx;
    json_t *object;
    json_array_foreach(objects, objectIdx, object)
    {
        json_t *stored = json_deep_copy(object);
        json_t *metadata = json_object_get(stored, "metadata");
        json_object_set_new(metadata, "resourceVersion", json_string("12345"));
        json_object_set_new(metadata, "uid", json_string("00000000-0000-4000-8000-000000000001"));
        json_object_set_new(metadata, "creationTimestamp", json_string("2026-01-01T00:00:00Z"));
        json_object_set_new(stored, "type", json_string("Opaque"));
        json_object_set_new(fixture->cache, json_string_value(json_object_get(metadata, "name")), stored);
    }
}

/* Whether cached holds everything wanted says: the same members (cached may have more) and, in arrays, the same
 * elements in the same order. What the reconciler needs to write nothing. */
static bool holds(const json_t *cached, const json_t *wanted)
{
    if (json_is_object(wanted)) {
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)(uintptr_t)wanted, key,
                            value) if (!holds(json_object_get(cached, key), value)) return false;
        return json_is_object(cached);
    }
    if (json_is_array(wanted)) {
        if (json_array_size(cached) != json_array_size(wanted))
            return false;
        for (size_t itemIdx = 0; itemIdx < json_array_size(wanted); itemIdx++)
            if (!holds(json_array_get(cached, itemIdx), json_array_get(wanted, itemIdx)))
                return false;
        return json_is_array(cached);
    }
    return cached != NULL && json_equal(cached, wanted);
}

/* Every object is already in the cache as it is. */
static void assertCacheHolds(Fixture *fixture, const json_t *objects)
{
    size_t objectIdx;
    const json_t *object;
    json_array_foreach(objects, objectIdx, object)
    {
        const char *name = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
        if (!holds(json_object_get(fixture->cache, name), object))
            fail_msg("the cached %s lacks some of the new intent", name);
    }
}

static const json_t *findObject(const json_t *objects, const char *name)
{
    size_t objectIdx;
    const json_t *object;
    json_array_foreach(objects, objectIdx, object)
    {
        const char *objectName = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
        if (objectName != NULL && strcmp(objectName, name) == 0)
            return object;
    }
    fail_msg("no object %s", name);
    return NULL;
}

static const char *encodedValue(const json_t *objects, const char *name, const char *key)
{
    const char *value = json_string_value(json_object_get(json_object_get(findObject(objects, name), "data"), key));
    if (value == NULL)
        fail_msg("%s has no %s", name, key);
    return value;
}

/* data[key] of Secret name, decoded, as a string of ctx. */
static char *dataValue(MemCtx *ctx, const json_t *objects, const char *name, const char *key, size_t *lenOut)
{
    const char *encoded = encodedValue(objects, name, key);
    char *decoded;
    size_t len;
    Err err;
    assert_true(base64Decode(ctx, encoded, strlen(encoded), &decoded, &len, &err));
    if (lenOut != NULL)
        *lenOut = len;
    return decoded;
}

/* The golden view of objects: each Secret's data decoded, a PEM value replaced by the kinds of its blocks
 * ("PEM: EC PRIVATE KEY, CERTIFICATE") and the values listed in masked by "(random)". */
static json_t *goldenView(const json_t *objects, const char *const *masked)
{
    json_t *view = json_deep_copy(objects);
    size_t objectIdx;
    json_t *object;
    json_array_foreach(view, objectIdx, object)
    {
        json_t *data = json_object_get(object, "data");
        const char *key;
        json_t *value;
        json_object_foreach(data, key, value)
        {
            bool hide = false;
            for (size_t maskIdx = 0; masked != NULL && masked[maskIdx] != NULL; maskIdx++)
                hide = hide || strcmp(masked[maskIdx], key) == 0;
            char decoded[8192];
            size_t len = 0;
            Err err;
            MemCtx *ctx = memCtxNew(NULL, "view");
            char *text;
            assert_true(base64Decode(ctx, json_string_value(value), json_string_length(value), &text, &len, &err));
            assert_true(len < sizeof(decoded));
            memcpy(decoded, text, len + 1);
            memCtxFree(ctx);
            if (hide) {
                json_string_set(value, "(random)");
            } else if (strncmp(decoded, "-----BEGIN ", 11) == 0) {
                char summary[256] = "PEM:";
                for (const char *block = strstr(decoded, "-----BEGIN "); block != NULL;
                     block = strstr(block + 1, "-----BEGIN ")) {
                    const char *label = block + strlen("-----BEGIN ");
                    const char *end = strstr(label, "-----");
                    assert_non_null(end);
                    snprintf(summary + strlen(summary), sizeof(summary) - strlen(summary), "%s %.*s",
                             strcmp(summary, "PEM:") == 0 ? "" : ",", (int)(end - label), label);
                }
                json_string_set(value, summary);
            } else {
                assert_int_equal(json_string_setn(value, decoded, len), 0);
            }
        }
    }
    return view;
}

/* ---- certificates ---- */

static void decodeRoot(MemCtx *ctx, const json_t *objects, PkiRoot *root)
{
    size_t certLen, keyLen;
    char *cert = dataValue(ctx, objects, CLUSTER_ROOT_SECRET, "root.crt", &certLen);
    char *key = dataValue(ctx, objects, CLUSTER_ROOT_SECRET, "root.key", &keyLen);
    Err err;
    assert_true(pkiRootDecode(ctx, cert, certLen, key, keyLen, root, &err));
}

static void decodeLeaf(MemCtx *ctx, const json_t *objects, const char *name, const char *certKey, const char *keyKey,
                       PkiLeaf *leaf)
{
    size_t certLen, keyLen;
    char *cert = dataValue(ctx, objects, name, certKey, &certLen);
    char *key = dataValue(ctx, objects, name, keyKey, &keyLen);
    Err err;
    if (!pkiLeafDecode(ctx, cert, certLen, key, keyLen, leaf, &err))
        fail_msg("%s: %s", name, err.message);
}

static void assertVerifies(const PkiLeaf *leaf, const PkiRoot *root, const char *host, PkiPurpose purpose, Clock clock)
{
    Err err;
    if (!pkiCertVerify(leaf->cert, root->cert, host, purpose, clock, &err))
        fail_msg("%s: %s", host != NULL ? host : "(no host)", err.message);
}

static void assertNames(MemCtx *ctx, const PkiLeaf *leaf, const char *commonName, const char *const *names,
                        size_t count)
{
    char *cn;
    PkiNameList list;
    Err err;
    assert_true(pkiCertCommonName(ctx, leaf->cert, &cn, &err));
    assert_string_equal(cn, commonName);
    assert_true(pkiCertDnsNames(ctx, leaf->cert, &list, &err));
    assert_int_equal(list.count, count);
    for (size_t nameIdx = 0; nameIdx < count; nameIdx++)
        assert_string_equal(list.items[nameIdx], names[nameIdx]);
}

static void testCertificatesGolden(void **state)
{
    Fixture *fixture = *state;
    json_t *objects = buildCertificates(fixture);
    json_t *view = goldenView(objects, NULL);
    assert_golden(view, "cluster/secrets-certificates");
    json_decref(view);
    json_decref(objects);
}

static void testCertificatesVerify(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    Clock clock = fixture->model.clock;
    json_t *objects = buildCertificates(fixture);
    assert_int_equal(json_array_size(objects), 5);

    PkiRoot root;
    decodeRoot(ctx, objects, &root);
    const char *rootPem = dataValue(ctx, objects, CLUSTER_ROOT_SECRET, "root.crt", NULL);
    /* Keys in PGO's format, SEC1. */
    assert_int_equal(
        strncmp(dataValue(ctx, objects, CLUSTER_ROOT_SECRET, "root.key", NULL), "-----BEGIN EC PRIVATE KEY-----\n", 31),
        0);

    /* The Postgres server certificate, for the names of the primary and replica Services. */
    PkiLeaf server;
    decodeLeaf(ctx, objects, "hippo-cluster-cert", "tls.crt", "tls.key", &server);
    static const char *const serverNames[] = {
        "hippo-primary.ns.svc.cluster.local.",  "hippo-primary.ns.svc",  "hippo-primary.ns",  "hippo-primary",
        "hippo-replicas.ns.svc.cluster.local.", "hippo-replicas.ns.svc", "hippo-replicas.ns", "hippo-replicas",
    };
    assertNames(ctx, &server, serverNames[0], serverNames, 8);
    assertVerifies(&server, &root, "hippo-primary.ns.svc", pkiPurposeServer, clock);
    assertVerifies(&server, &root, "hippo-replicas", pkiPurposeServer, clock);
    assertVerifies(&server, &root, "hippo-primary.ns.svc.cluster.local.", pkiPurposeServer, clock);
    assert_string_equal(dataValue(ctx, objects, "hippo-cluster-cert", "ca.crt", NULL), rootPem);

    /* The replication client certificate, whose common name is the replication role. */
    PkiLeaf replication;
    static const char *const replicationNames[] = {"_crunchyrepl"};
    decodeLeaf(ctx, objects, "hippo-replication-cert", "tls.crt", "tls.key", &replication);
    assertNames(ctx, &replication, "_crunchyrepl", replicationNames, 1);
    assertVerifies(&replication, &root, NULL, pkiPurposeClient, clock);
    assert_string_equal(dataValue(ctx, objects, "hippo-replication-cert", "ca.crt", NULL), rootPem);

    /* Each instance: Patroni's REST API (server and client) and pgBackRest's server, reached as
     * <instance>-0.<cluster>-pods. */
    for (size_t instanceIdx = 0; instanceIdx < 2; instanceIdx++) {
        const char *instance = fixture->instances[instanceIdx].name;
        char name[64], host[64], fqdn[128], svc[128], nsName[128];
        snprintf(name, sizeof(name), "%s-certs", instance);
        snprintf(host, sizeof(host), "%s-0.hippo-pods", instance);
        snprintf(fqdn, sizeof(fqdn), "%s.ns.svc.cluster.local.", host);
        snprintf(svc, sizeof(svc), "%s.ns.svc", host);
        snprintf(nsName, sizeof(nsName), "%s.ns", host);
        const char *const names[] = {fqdn, svc, nsName, host};
        PkiLeaf leaf;
        decodeLeaf(ctx, objects, name, "dns.crt", "dns.key", &leaf);
        assertNames(ctx, &leaf, fqdn, names, 4);
        assertVerifies(&leaf, &root, host, pkiPurposeServer, clock);
        assertVerifies(&leaf, &root, svc, pkiPurposeServer, clock);
        assertVerifies(&leaf, &root, NULL, pkiPurposeClient, clock);

        size_t certLen, keyLen, combinedLen;
        char *cert = dataValue(ctx, objects, name, "dns.crt", &certLen);
        char *key = dataValue(ctx, objects, name, "dns.key", &keyLen);
        char *combined = dataValue(ctx, objects, name, "patroni.crt-combined", &combinedLen);
        assert_int_equal(combinedLen, keyLen + certLen);
        assert_memory_equal(combined, key, keyLen);
        assert_memory_equal(combined + keyLen, cert, certLen);
        assert_string_equal(dataValue(ctx, objects, name, "pgbackrest-server.crt", NULL), cert);
        assert_string_equal(dataValue(ctx, objects, name, "pgbackrest-server.key", NULL), key);
        assert_string_equal(dataValue(ctx, objects, name, "patroni.ca-roots", NULL), rootPem);
        /* The combined file is what Patroni loads as certificate and key. */
        PkiLeaf fromCombined;
        Err err;
        assert_true(pkiLeafDecode(ctx, combined, combinedLen, combined, combinedLen, &fromCombined, &err));
        assert_true(pkiCertEqual(fromCombined.cert, leaf.cert));
    }
    /* Every leaf is different. */
    assert_string_not_equal(encodedValue(objects, "hippo-instance1-abcd-certs", "dns.crt"),
                            encodedValue(objects, "hippo-instance1-wxyz-certs", "dns.crt"));
    json_decref(objects);
}

static void testCertificatesKeptWhileValid(void **state)
{
    Fixture *fixture = *state;
    json_t *first = buildCertificates(fixture);
    cacheObjects(fixture, first);
    /* Same bytes: now, and 200 days later (leaves are renewed after two thirds of a year, about 243 days). */
    json_t *again = buildCertificates(fixture);
    assert_true(json_equal(first, again));
    assertCacheHolds(fixture, again);
    fakeClockAdvance(&fixture->fake, 200 * DAY_MS);
    json_t *later = buildCertificates(fixture);
    assert_true(json_equal(first, later));
    assertCacheHolds(fixture, later);
    json_decref(first);
    json_decref(again);
    json_decref(later);
}

/* The names of the Secrets whose data[key] differs between two builds. */
static void assertChanged(const json_t *before, const json_t *after, const char *name, const char *key, bool changed)
{
    bool differs = strcmp(encodedValue(before, name, key), encodedValue(after, name, key)) != 0;
    if (differs != changed)
        fail_msg("%s %s: expected %s", name, key, changed ? "a new value" : "the same value");
}

static void testLeavesRenewedWhenDue(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    json_t *first = buildCertificates(fixture);
    cacheObjects(fixture, first);
    fakeClockAdvance(&fixture->fake, 250 * DAY_MS);
    json_t *renewed = buildCertificates(fixture);
    /* The root (ten years) stays; every leaf is reissued by it. */
    assertChanged(first, renewed, CLUSTER_ROOT_SECRET, "root.crt", false);
    assertChanged(first, renewed, CLUSTER_ROOT_SECRET, "root.key", false);
    assertChanged(first, renewed, "hippo-cluster-cert", "tls.crt", true);
    assertChanged(first, renewed, "hippo-cluster-cert", "tls.key", true);
    assertChanged(first, renewed, "hippo-cluster-cert", "ca.crt", false);
    assertChanged(first, renewed, "hippo-replication-cert", "tls.crt", true);
    assertChanged(first, renewed, "hippo-instance1-abcd-certs", "dns.crt", true);
    assertChanged(first, renewed, "hippo-instance1-wxyz-certs", "patroni.crt-combined", true);
    assert_true(holds(json_object_get(fixture->cache, CLUSTER_ROOT_SECRET), findObject(renewed, CLUSTER_ROOT_SECRET)));
    assert_false(
        holds(json_object_get(fixture->cache, "hippo-cluster-cert"), findObject(renewed, "hippo-cluster-cert")));
    PkiRoot root;
    PkiLeaf leaf;
    decodeRoot(ctx, renewed, &root);
    decodeLeaf(ctx, renewed, "hippo-cluster-cert", "tls.crt", "tls.key", &leaf);
    assertVerifies(&leaf, &root, "hippo-primary", pkiPurposeServer, fixture->model.clock);
    json_decref(first);
    json_decref(renewed);
}

/* A different root (renewed, or replaced by a user) makes every leaf untrusted: all are reissued at once. */
static void testNewRootReissuesEveryLeaf(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    json_t *first = buildCertificates(fixture);
    cacheObjects(fixture, first);
    PkiRoot other;
    char *certPem, *keyPem, *certB64, *keyB64;
    Err err;
    assert_true(pkiRootNew(ctx, fixture->model.clock, &other, &err));
    assert_true(pkiCertEncodePem(ctx, other.cert, &certPem, NULL, &err));
    assert_true(pkiKeyEncodePem(ctx, other.key, pkiKeyFormatSec1, &keyPem, NULL, &err));
    assert_true(base64Encode(ctx, certPem, strlen(certPem), &certB64, &err));
    assert_true(base64Encode(ctx, keyPem, strlen(keyPem), &keyB64, &err));
    json_t *rootData = json_object_get(json_object_get(fixture->cache, CLUSTER_ROOT_SECRET), "data");
    json_object_set_new(rootData, "root.crt", json_string(certB64));
    json_object_set_new(rootData, "root.key", json_string(keyB64));

    json_t *reissued = buildCertificates(fixture);
    assert_string_equal(encodedValue(reissued, CLUSTER_ROOT_SECRET, "root.crt"), certB64);
    assert_string_equal(encodedValue(reissued, CLUSTER_ROOT_SECRET, "root.key"), keyB64);
    assertChanged(first, reissued, "hippo-cluster-cert", "tls.crt", true);
    assertChanged(first, reissued, "hippo-cluster-cert", "ca.crt", true);
    assertChanged(first, reissued, "hippo-replication-cert", "tls.crt", true);
    assertChanged(first, reissued, "hippo-instance1-abcd-certs", "dns.crt", true);
    assertChanged(first, reissued, "hippo-instance1-wxyz-certs", "dns.crt", true);
    assertChanged(first, reissued, "hippo-instance1-wxyz-certs", "patroni.ca-roots", true);
    assert_string_equal(dataValue(ctx, reissued, "hippo-instance1-wxyz-certs", "patroni.ca-roots", NULL), certPem);
    PkiLeaf leaf;
    decodeLeaf(ctx, reissued, "hippo-instance1-abcd-certs", "dns.crt", "dns.key", &leaf);
    assertVerifies(&leaf, &other, "hippo-instance1-abcd-0.hippo-pods", pkiPurposeServer, fixture->model.clock);

    /* Past two thirds of the root's ten years, the root itself is renewed, and with it every leaf. */
    cacheObjects(fixture, reissued);
    fakeClockAdvance(&fixture->fake, 2450 * DAY_MS);
    json_t *late = buildCertificates(fixture);
    assertChanged(reissued, late, CLUSTER_ROOT_SECRET, "root.crt", true);
    assertChanged(reissued, late, "hippo-replication-cert", "tls.crt", true);
    PkiRoot newRoot;
    decodeRoot(ctx, late, &newRoot);
    decodeLeaf(ctx, late, "hippo-replication-cert", "tls.crt", "tls.key", &leaf);
    assertVerifies(&leaf, &newRoot, NULL, pkiPurposeClient, fixture->model.clock);
    json_decref(first);
    json_decref(reissued);
    json_decref(late);
}

/* One damaged Secret is repaired alone; unreadable values are replaced, never an error. */
static void testDamagedSecretsAreReplaced(void **state)
{
    Fixture *fixture = *state;
    json_t *first = buildCertificates(fixture);
    cacheObjects(fixture, first);
    json_object_del(json_object_get(json_object_get(fixture->cache, "hippo-instance1-abcd-certs"), "data"), "dns.key");
    json_object_set_new(json_object_get(json_object_get(fixture->cache, "hippo-cluster-cert"), "data"), "tls.crt",
                        json_string("not base64!"));
    json_t *repaired = buildCertificates(fixture);
    assertChanged(first, repaired, "hippo-instance1-abcd-certs", "dns.crt", true);
    assertChanged(first, repaired, "hippo-instance1-abcd-certs", "dns.key", true);
    assertChanged(first, repaired, "hippo-cluster-cert", "tls.crt", true);
    assertChanged(first, repaired, "hippo-instance1-wxyz-certs", "dns.crt", false);
    assertChanged(first, repaired, "hippo-replication-cert", "tls.key", false);
    assertChanged(first, repaired, CLUSTER_ROOT_SECRET, "root.crt", false);

    /* A root that is not base64 is a root to replace. */
    json_object_set_new(json_object_get(json_object_get(fixture->cache, CLUSTER_ROOT_SECRET), "data"), "root.key",
                        json_string("%%%"));
    json_t *rerooted = buildCertificates(fixture);
    assertChanged(first, rerooted, CLUSTER_ROOT_SECRET, "root.crt", true);
    assertChanged(first, rerooted, "hippo-instance1-wxyz-certs", "dns.crt", true);
    json_decref(first);
    json_decref(repaired);
    json_decref(rerooted);
}

static void testCustomTlsSecrets(void **state)
{
    Fixture *fixture = *state;
    /* null is "not set", as in Go. */
    json_object_set_new(spec(fixture), "customTLSSecret", json_null());
    json_t *objects = buildCertificates(fixture);
    assert_int_equal(json_array_size(objects), 5);
    json_decref(objects);

    json_object_set_new(spec(fixture), "customTLSSecret", harnessJson("{\"name\": \"my-tls\"}"));
    objects = buildCertificates(fixture);
    assert_int_equal(json_array_size(objects), 4);
    findObject(objects, "hippo-replication-cert");
    json_decref(objects);

    json_object_set_new(spec(fixture), "customReplicationTLSSecret", harnessJson("{\"name\": \"my-repl\"}"));
    fixture->model.instanceCount = 0;
    objects = buildCertificates(fixture);
    assert_int_equal(json_array_size(objects), 1);
    findObject(objects, CLUSTER_ROOT_SECRET);
    json_decref(objects);
}

static void testRootOwnerReferences(void **state)
{
    Fixture *fixture = *state;
    /* No Secret yet: our reference alone, not a controller, and no labels or annotations. */
    json_t *objects = buildCertificates(fixture);
    const json_t *rootSecret = findObject(objects, CLUSTER_ROOT_SECRET);
    json_t *expected = harnessJson("{\"name\": \"pgo-root-cacert\", \"namespace\": \"ns\", \"ownerReferences\": ["
                                   " {\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\","
                                   "  \"kind\": \"PostgresCluster\", \"name\": \"hippo\", \"uid\": \"" UID "\"}]}");
    assert_true(json_equal(json_object_get(rootSecret, "metadata"), expected));
    json_decref(expected);
    cacheObjects(fixture, objects);
    json_decref(objects);

    /* Other clusters' references are kept in their places; a stale one of ours (a cluster of the same name that was
     * deleted and recreated) is replaced where it stood, and duplicates of ours go. */
    json_t *cachedMeta = json_object_get(json_object_get(fixture->cache, CLUSTER_ROOT_SECRET), "metadata");
    json_object_set_new(
        cachedMeta, "ownerReferences",
        harnessJson("[{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\","
                    "  \"name\": \"rhino\", \"uid\": \"r-1\"},"
                    " {\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\","
                    "  \"name\": \"hippo\", \"uid\": \"old-uid\", \"controller\": true},"
                    " {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"name\": \"hippo\", \"uid\": \"c-1\"},"
                    " {\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\","
                    "  \"name\": \"hippo\", \"uid\": \"" UID "\"}]"));
    objects = buildCertificates(fixture);
    expected =
        harnessJson("[{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\","
                    "  \"name\": \"rhino\", \"uid\": \"r-1\"},"
                    " {\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\","
                    "  \"name\": \"hippo\", \"uid\": \"" UID "\"},"
                    " {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"name\": \"hippo\", \"uid\": \"c-1\"}]");
    assert_true(json_equal(
        json_object_get(json_object_get(findObject(objects, CLUSTER_ROOT_SECRET), "metadata"), "ownerReferences"),
        expected));
    json_decref(expected);
    json_decref(objects);

    /* Another cluster's Secret without us: ours goes last. */
    json_object_set_new(cachedMeta, "ownerReferences",
                        harnessJson("[{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\","
                                    "  \"kind\": \"PostgresCluster\", \"name\": \"rhino\", \"uid\": \"r-1\"}, 7]"));
    objects = buildCertificates(fixture);
    const json_t *owners =
        json_object_get(json_object_get(findObject(objects, CLUSTER_ROOT_SECRET), "metadata"), "ownerReferences");
    assert_int_equal(json_array_size(owners), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(owners, 0), "name")), "rhino");
    assert_string_equal(json_string_value(json_object_get(json_array_get(owners, 1), "uid")), UID);
    json_decref(objects);
}

/* Certificates PGO wrote (internal/pki run with Go at 2026-01-01, cluster hippo in namespace ns; throwaway keys, the
 * same as test_pki_authority's). */
static const char pgoRootCrt[] = "-----BEGIN CERTIFICATE-----\n"
                                 "MIIBgTCCASigAwIBAgIRAKRHWTN9PbhVWopVjNZJvoIwCgYIKoZIzj0EAwMwHzEd\n"
                                 "MBsGA1UEAxMUcG9zdGdyZXMtb3BlcmF0b3ItY2EwHhcNMjUxMjMxMjMwMDAwWhcN\n"
                                 "MzUxMjMwMDAwMDAwWjAfMR0wGwYDVQQDExRwb3N0Z3Jlcy1vcGVyYXRvci1jYTBZ\n"
                                 "MBMGByqGSM49AgEGCCqGSM49AwEHA0IABEVZvVsb/2EJ1cVOhoOvmJGXh9cPYPCN\n"
                                 "yp3r5qiMLqt27VQobVM4RZOvfWXwDC169MWQcK/CP69sb9kRRBs+puqjRTBDMA4G\n"
                                 "A1UdDwEB/wQEAwIBBjASBgNVHRMBAf8ECDAGAQH/AgEAMB0GA1UdDgQWBBTHsgxw\n"
                                 "G6xKUfxofID5ICDgTJdAeDAKBggqhkjOPQQDAwNHADBEAiBucnXZgKAtVaV4y4K9\n"
                                 "yFUjnXqINjvGokKorctR0ejLkwIgGT3YLa5zQbE+Ob22zVENr2u6CtYdygzUKOvX\n"
                                 "YdIQz5E=\n"
                                 "-----END CERTIFICATE-----\n";
static const char pgoRootKey[] = "-----BEGIN EC PRIVATE KEY-----\n"
                                 "MHcCAQEEIDGOUrnDEFDdAaiw4ZTtnkzu5IbieNn5tHd0oCpDve90oAoGCCqGSM49\n"
                                 "AwEHoUQDQgAERVm9Wxv/YQnVxU6Gg6+YkZeH1w9g8I3KnevmqIwuq3btVChtUzhF\n"
                                 "k699ZfAMLXr0xZBwr8I/r2xv2RFEGz6m6g==\n"
                                 "-----END EC PRIVATE KEY-----\n";
static const char pgoClusterCrt[] = "-----BEGIN CERTIFICATE-----\n"
                                    "MIICWzCCAgGgAwIBAgIRAKWhPg7Mu2Zt/sOHkGe7K9cwCgYIKoZIzj0EAwMwHzEd\n"
                                    "MBsGA1UEAxMUcG9zdGdyZXMtb3BlcmF0b3ItY2EwHhcNMjUxMjMxMjMwMDAwWhcN\n"
                                    "MjcwMTAxMDAwMDAwWjAuMSwwKgYDVQQDEyNoaXBwby1wcmltYXJ5Lm5zLnN2Yy5j\n"
                                    "bHVzdGVyLmxvY2FsLjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBdC0P+UklDU\n"
                                    "5epdEQFMOb1ALimQTR55GS8Ja//0faLh+VDYf2/e7r2+O12eCmxQTFitlg/VbMP0\n"
                                    "g5JUusInk8CjggENMIIBCTAOBgNVHQ8BAf8EBAMCBaAwDAYDVR0TAQH/BAIwADAf\n"
                                    "BgNVHSMEGDAWgBTHsgxwG6xKUfxofID5ICDgTJdAeDCBxwYDVR0RBIG/MIG8giNo\n"
                                    "aXBwby1wcmltYXJ5Lm5zLnN2Yy5jbHVzdGVyLmxvY2FsLoIUaGlwcG8tcHJpbWFy\n"
                                    "eS5ucy5zdmOCEGhpcHBvLXByaW1hcnkubnOCDWhpcHBvLXByaW1hcnmCJGhpcHBv\n"
                                    "LXJlcGxpY2FzLm5zLnN2Yy5jbHVzdGVyLmxvY2FsLoIVaGlwcG8tcmVwbGljYXMu\n"
                                    "bnMuc3ZjghFoaXBwby1yZXBsaWNhcy5uc4IOaGlwcG8tcmVwbGljYXMwCgYIKoZI\n"
                                    "zj0EAwMDSAAwRQIhAOZpJ3YVgBtlnzpXFnf/1bp3K21wMzuAoHzCfv31tH/1AiBP\n"
                                    "jzMjt8/n7MTM+m/fgZJMc+OmL0pysa498IZCPFz51w==\n"
                                    "-----END CERTIFICATE-----\n";
static const char pgoClusterKey[] = "-----BEGIN EC PRIVATE KEY-----\n"
                                    "MHcCAQEEIL4yDaHeMTBrsej8EByYz3CcS2Y3cRx3dXsqG2CEMcUSoAoGCCqGSM49\n"
                                    "AwEHoUQDQgAEF0LQ/5SSUNTl6l0RAUw5vUAuKZBNHnkZLwlr//R9ouH5UNh/b97u\n"
                                    "vb47XZ4KbFBMWK2WD9Vsw/SDklS6wieTwA==\n"
                                    "-----END EC PRIVATE KEY-----\n";

static json_t *secretWith(MemCtx *ctx, const char *name, const char *key1, const char *value1, const char *key2,
                          const char *value2)
{
    char *encoded1, *encoded2;
    Err err;
    assert_true(base64Encode(ctx, value1, strlen(value1), &encoded1, &err));
    assert_true(base64Encode(ctx, value2, strlen(value2), &encoded2, &err));
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", "name",
                     name, "namespace", "ns", "data", key1, encoded1, key2, encoded2);
}

/* With spec.customTLSSecret, each <instance>-certs holds the CAs Postgres trusts for client certificates: the
 * user's (from the key its items project to ca.crt) then the root, which signs the operator's certificate. */
static void testCustomTlsClientCas(void **state)
{
    Fixture *fixture = *state;
    json_t *objects = buildCertificates(fixture);
    assert_null(json_object_get(json_object_get(findObject(objects, "hippo-instance1-abcd-certs"), "data"),
                                CLUSTER_CLIENT_CAS_KEY));
    cacheObjects(fixture, objects); /* one root from here on */
    json_decref(objects);

    json_object_set_new(
        spec(fixture), "customTLSSecret",
        harnessJson("{\"name\": \"my-tls\", \"items\": [{\"key\": \"server.crt\", \"path\": \"tls.crt\"},"
                    " {\"key\": \"ca.pem\", \"path\": \"ca.crt\"}]}"));
    json_object_set_new(spec(fixture), "customReplicationTLSSecret", harnessJson("{\"name\": \"my-repl\"}"));
    /* The user's Secret is not there yet: the root alone. */
    objects = buildCertificates(fixture);
    const char *rootCert = dataValue(fixture->ctx, objects, CLUSTER_ROOT_SECRET, "root.crt", NULL);
    assert_string_equal(dataValue(fixture->ctx, objects, "hippo-instance1-abcd-certs", CLUSTER_CLIENT_CAS_KEY, NULL),
                        rootCert);
    json_decref(objects);

    /* A CA without a final newline gets one before the root. */
    json_object_set_new(fixture->cache, "my-tls",
                        secretWith(fixture->ctx, "my-tls", "ca.pem", "USER CA", "ca.crt", "NOT THIS ONE"));
    objects = buildCertificates(fixture);
    char *expected = memCtxPrintf(fixture->ctx, "USER CA\n%s", rootCert);
    assert_string_equal(dataValue(fixture->ctx, objects, "hippo-instance1-wxyz-certs", CLUSTER_CLIENT_CAS_KEY, NULL),
                        expected);
    json_decref(objects);

    /* Without items, the key is ca.crt. */
    json_object_set_new(spec(fixture), "customTLSSecret", harnessJson("{\"name\": \"my-tls\"}"));
    objects = buildCertificates(fixture);
    expected = memCtxPrintf(fixture->ctx, "NOT THIS ONE\n%s", rootCert);
    assert_string_equal(dataValue(fixture->ctx, objects, "hippo-instance1-abcd-certs", CLUSTER_CLIENT_CAS_KEY, NULL),
                        expected);
    json_decref(objects);
}

/* A namespace where PGO ran keeps its root; our names are PGO's, trailing dot included, so the cluster certificate
 * we issue in place of PGO's (only for its extended key usage) names exactly what PGO's named. */
static void testPgoCertificatesTakenOver(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    json_object_set_new(fixture->cache, CLUSTER_ROOT_SECRET,
                        secretWith(ctx, CLUSTER_ROOT_SECRET, "root.crt", pgoRootCrt, "root.key", pgoRootKey));
    json_object_set_new(fixture->cache, "hippo-cluster-cert",
                        secretWith(ctx, "hippo-cluster-cert", "tls.crt", pgoClusterCrt, "tls.key", pgoClusterKey));
    json_t *objects = buildCertificates(fixture);
    assert_string_equal(dataValue(ctx, objects, CLUSTER_ROOT_SECRET, "root.crt", NULL), pgoRootCrt);
    assert_string_equal(dataValue(ctx, objects, CLUSTER_ROOT_SECRET, "root.key", NULL), pgoRootKey);
    assert_string_equal(dataValue(ctx, objects, "hippo-cluster-cert", "ca.crt", NULL), pgoRootCrt);

    PkiLeaf pgo, ours;
    PkiRoot root;
    PkiNameList pgoNames, ourNames;
    char *pgoCn, *ourCn;
    Err err;
    assert_true(
        pkiLeafDecode(ctx, pgoClusterCrt, strlen(pgoClusterCrt), pgoClusterKey, strlen(pgoClusterKey), &pgo, &err));
    decodeLeaf(ctx, objects, "hippo-cluster-cert", "tls.crt", "tls.key", &ours);
    decodeRoot(ctx, objects, &root);
    assert_false(pkiCertEqual(pgo.cert, ours.cert));
    assert_true(pkiCertCommonName(ctx, pgo.cert, &pgoCn, &err));
    assert_true(pkiCertCommonName(ctx, ours.cert, &ourCn, &err));
    assert_string_equal(ourCn, pgoCn);
    assert_true(pkiCertDnsNames(ctx, pgo.cert, &pgoNames, &err));
    assert_true(pkiCertDnsNames(ctx, ours.cert, &ourNames, &err));
    assert_int_equal(ourNames.count, pgoNames.count);
    for (size_t nameIdx = 0; nameIdx < pgoNames.count; nameIdx++)
        assert_string_equal(ourNames.items[nameIdx], pgoNames.items[nameIdx]);
    assertVerifies(&ours, &root, "hippo-primary.ns.svc", pkiPurposeServer, fixture->model.clock);
    json_decref(objects);
}

/* A model domain written with its dot is used as it is; none at all is PGO's fallback. */
static void testDomainForms(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    static const char *const domains[] = {"cluster.local.", NULL, "example.org"};
    static const char *const fqdns[] = {"hippo-primary.ns.svc.cluster.local.", "hippo-primary.ns.svc.cluster.local.",
                                        "hippo-primary.ns.svc.example.org."};
    fixture->model.instanceCount = 0;
    for (size_t domainIdx = 0; domainIdx < 3; domainIdx++) {
        fixture->model.domain = domains[domainIdx];
        json_t *objects = buildCertificates(fixture);
        PkiLeaf leaf;
        char *cn;
        Err err;
        decodeLeaf(ctx, objects, "hippo-cluster-cert", "tls.crt", "tls.key", &leaf);
        assert_true(pkiCertCommonName(ctx, leaf.cert, &cn, &err));
        assert_string_equal(cn, fqdns[domainIdx]);
        json_decref(objects);
    }
}

static void testCertificateErrors(void **state)
{
    Fixture *fixture = *state;
    /* A name no certificate can carry (longer than PKI_NAME_MAX) is the user's to fix. */
    char longName[300];
    memset(longName, 'x', sizeof(longName) - 1);
    longName[sizeof(longName) - 1] = '\0';
    fixture->instances[0].name = longName;
    json_t *objects = json_array();
    Err err;
    assert_false(clusterBuildCertificates(fixture->ctx, &fixture->model, objects, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, "secret xxxxxxxx");
    assert_contains(err.message, "-certs: leaf common name must be 1 to 255");
    json_decref(objects);
}

/* ---- users ---- */

static json_t *userSecret(MemCtx *ctx, const char *name, const char *password, const char *verifier)
{
    json_t *secret = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion", "v1", "kind", "Secret", "metadata",
                               "name", name, "namespace", "ns", "data");
    char *encoded;
    Err err;
    if (password != NULL) {
        assert_true(base64Encode(ctx, password, strlen(password), &encoded, &err));
        json_object_set_new(json_object_get(secret, "data"), "password", json_string(encoded));
    }
    if (verifier != NULL) {
        assert_true(base64Encode(ctx, verifier, strlen(verifier), &encoded, &err));
        json_object_set_new(json_object_get(secret, "data"), "verifier", json_string(encoded));
    }
    return secret;
}

#define VERIFIER_A                                                                              \
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:" \
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

static void testUsersGolden(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    json_object_set_new(spec(fixture), "users",
                        harnessJson("[{\"name\": \"hippo\", \"databases\": [\"zoo\", \"other\"]},"
                                    " {\"name\": \"rhino\", \"databases\": [],"
                                    "  \"password\": {\"type\": \"AlphaNumeric\"}},"
                                    " {\"name\": \"postgres\"}]"));
    json_object_set_new(fixture->cache, "hippo-pguser-hippo",
                        userSecret(ctx, "hippo-pguser-hippo", "pencil", VERIFIER_A));
    json_object_set_new(fixture->cache, "hippo-pguser-rhino", userSecret(ctx, "hippo-pguser-rhino", "Rh1n0", "md5x"));
    json_object_set_new(fixture->cache, "hippo-pguser-postgres",
                        userSecret(ctx, "hippo-pguser-postgres", "s3cret", "SCRAM-SHA-256$4096:kept"));
    json_t *objects = buildUsers(fixture);
    json_t *view = goldenView(objects, NULL);
    assert_golden(view, "cluster/secrets-users");
    json_decref(view);
    json_decref(objects);
}

static void testUsersDefault(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    /* No spec.users: one user named after the cluster, with its database; its password is random. */
    json_t *objects = buildUsers(fixture);
    static const char *const random[] = {"password", "verifier", "uri", "jdbc-uri", NULL};
    json_t *view = goldenView(objects, random);
    assert_golden(view, "cluster/secrets-users-default");
    json_decref(view);
    size_t len;
    assert_non_null(dataValue(ctx, objects, "hippo-pguser-hippo", "password", &len));
    assert_int_equal(len, SCRAM_PASSWORD_LENGTH);
    char *uri = dataValue(ctx, objects, "hippo-pguser-hippo", "uri", NULL);
    assert_int_equal(strncmp(uri, "postgresql://hippo:", 19), 0);
    assert_non_null(strstr(uri, "@hippo-primary.ns.svc:5432/hippo"));
    json_decref(objects);

    /* null is unset too; an empty list is no users. */
    json_object_set_new(spec(fixture), "users", json_null());
    objects = buildUsers(fixture);
    assert_int_equal(json_array_size(objects), 2); /* the user's and the operator's */
    json_decref(objects);
    json_object_set_new(spec(fixture), "users", json_array());
    objects = buildUsers(fixture);
    assert_int_equal(json_array_size(objects), 1);
    assert_non_null(findObject(objects, "hippo-operator"));
    json_decref(objects);
}

/* The verifier is the one of the password, with the salt it names. */
static void assertVerifierMatches(MemCtx *ctx, const char *verifier, const char *password)
{
    char saltText[64];
    assert_int_equal(sscanf(verifier, "SCRAM-SHA-256$4096:%63[^$]", saltText), 1);
    char *salt, *rebuilt;
    size_t saltLen;
    Err err;
    assert_true(base64Decode(ctx, saltText, strlen(saltText), &salt, &saltLen, &err));
    assert_int_equal(saltLen, SCRAM_SALT_BYTES);
    assert_true(scramVerifierBuild(ctx, password, strlen(password), (const unsigned char *)salt, saltLen,
                                   SCRAM_ITERATIONS, &rebuilt, &err));
    assert_string_equal(rebuilt, verifier);
}

static void assertPasswordClass(const char *password, const char *class)
{
    assert_int_equal(strlen(password), SCRAM_PASSWORD_LENGTH);
    for (size_t charIdx = 0; password[charIdx] != '\0'; charIdx++)
        if (strchr(class, password[charIdx]) == NULL)
            fail_msg("'%c' of \"%s\" is not allowed", password[charIdx], password);
}

static void testUsersPasswordLifecycle(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    static const char ascii[] = "()*+,-./:;<=>?@[]^_{|}ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static const char alphaNumeric[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    json_object_set_new(spec(fixture), "users",
                        harnessJson("[{\"name\": \"hippo\", \"databases\": [\"zoo\"]},"
                                    " {\"name\": \"plain\", \"password\": {\"type\": \"AlphaNumeric\"}}]"));
    json_t *first = buildUsers(fixture);
    char *password = dataValue(ctx, first, "hippo-pguser-hippo", "password", NULL);
    assertPasswordClass(password, ascii);
    assertVerifierMatches(ctx, dataValue(ctx, first, "hippo-pguser-hippo", "verifier", NULL), password);
    char *plain = dataValue(ctx, first, "hippo-pguser-plain", "password", NULL);
    assertPasswordClass(plain, alphaNumeric);
    assertVerifierMatches(ctx, dataValue(ctx, first, "hippo-pguser-plain", "verifier", NULL), plain);
    /* Without databases: no dbname, no URIs. */
    assert_null(json_object_get(json_object_get(findObject(first, "hippo-pguser-plain"), "data"), "dbname"));
    assert_null(json_object_get(json_object_get(findObject(first, "hippo-pguser-plain"), "data"), "uri"));
    assert_null(json_object_get(json_object_get(findObject(first, "hippo-pguser-plain"), "data"), "jdbc-uri"));

    /* Kept: the same bytes again. */
    cacheObjects(fixture, first);
    json_t *again = buildUsers(fixture);
    assert_true(json_equal(first, again));
    assertCacheHolds(fixture, again);
    json_decref(again);

    /* A cleared verifier is recomputed for the same password. */
    json_t *cachedData = json_object_get(json_object_get(fixture->cache, "hippo-pguser-hippo"), "data");
    json_object_set_new(cachedData, "verifier", json_string(""));
    json_t *reverified = buildUsers(fixture);
    assert_string_equal(dataValue(ctx, reverified, "hippo-pguser-hippo", "password", NULL), password);
    char *verifier = dataValue(ctx, reverified, "hippo-pguser-hippo", "verifier", NULL);
    assert_string_not_equal(verifier, dataValue(ctx, first, "hippo-pguser-hippo", "verifier", NULL));
    assertVerifierMatches(ctx, verifier, password);
    json_decref(reverified);

    /* A cleared (or removed) password is a new password, with a new verifier even when one was there. */
    json_object_set_new(cachedData, "password", json_string(""));
    json_object_del(json_object_get(json_object_get(fixture->cache, "hippo-pguser-plain"), "data"), "password");
    json_t *reset = buildUsers(fixture);
    char *newPassword = dataValue(ctx, reset, "hippo-pguser-hippo", "password", NULL);
    assert_string_not_equal(newPassword, password);
    assertVerifierMatches(ctx, dataValue(ctx, reset, "hippo-pguser-hippo", "verifier", NULL), newPassword);
    char *newPlain = dataValue(ctx, reset, "hippo-pguser-plain", "password", NULL);
    assertPasswordClass(newPlain, alphaNumeric);
    assert_string_not_equal(newPlain, plain);
    assertVerifierMatches(ctx, dataValue(ctx, reset, "hippo-pguser-plain", "verifier", NULL), newPlain);

    /* A password the user wrote, with the verifier cleared: kept, and hashed. */
    char *userPassword;
    Err err;
    assert_true(base64Encode(ctx, "chosen by me", 12, &userPassword, &err));
    json_object_set_new(cachedData, "password", json_string(userPassword));
    json_object_del(cachedData, "verifier");
    json_t *chosen = buildUsers(fixture);
    assert_string_equal(dataValue(ctx, chosen, "hippo-pguser-hippo", "password", NULL), "chosen by me");
    assertVerifierMatches(ctx, dataValue(ctx, chosen, "hippo-pguser-hippo", "verifier", NULL), "chosen by me");
    assert_string_equal(dataValue(ctx, chosen, "hippo-pguser-hippo", "uri", NULL),
                        "postgresql://hippo:chosen%20by%20me@hippo-primary.ns.svc:5432/zoo");
    assert_string_equal(dataValue(ctx, chosen, "hippo-pguser-hippo", "jdbc-uri", NULL),
                        "jdbc:postgresql://hippo-primary.ns.svc:5432/zoo?password=chosen+by+me&user=hippo");
    json_decref(chosen);
    json_decref(reset);
    json_decref(first);
}

/* URIs escape as Go's net/url does: expected values printed by Go 1.x's url.URL.String and url.Values.Encode for the
 * same user, password, database and host (PGO's generatePostgresUserSecret). */
static void testUsersUriEscaping(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    static const char password[] = "a:b@c/d?e&f=g+h$i,j;k l%m#n~o!'()*[]^{|}\xc3\xa9\x00";
    static const size_t passwordLen = sizeof(password) - 1;
    json_object_set_new(spec(fixture), "users",
                        harnessJson("[{\"name\": \"hippo\", \"databases\": [\"my db/x?#%:@\"]}]"));
    char *encoded;
    Err err;
    assert_true(base64Encode(ctx, password, passwordLen, &encoded, &err));
    json_t *secret = userSecret(ctx, "hippo-pguser-hippo", NULL, VERIFIER_A);
    json_object_set_new(json_object_get(secret, "data"), "password", json_string(encoded));
    json_object_set_new(fixture->cache, "hippo-pguser-hippo", secret);
    json_t *objects = buildUsers(fixture);
    size_t len;
    char *uri = dataValue(ctx, objects, "hippo-pguser-hippo", "uri", &len);
    assert_string_equal(uri, "postgresql://hippo:a%3Ab%40c%2Fd%3Fe&f=g+h$i,j;k%20l%25m%23n~o%21%27%28%29%2A%5B%5D%5E"
                             "%7B%7C%7D%C3%A9%00@hippo-primary.ns.svc:5432/my%20db/x%3F%23%25:@");
    char *jdbc = dataValue(ctx, objects, "hippo-pguser-hippo", "jdbc-uri", &len);
    assert_string_equal(jdbc, "jdbc:postgresql://hippo-primary.ns.svc:5432/my%20db/x%3F%23%25:@?password=a%3Ab%40c%2F"
                              "d%3Fe%26f%3Dg%2Bh%24i%2Cj%3Bk+l%25m%23n~o%21%27%28%29%2A%5B%5D%5E%7B%7C%7D%C3%A9%00"
                              "&user=hippo");
    /* The password itself is kept byte for byte, NUL included. */
    assert_string_equal(encodedValue(objects, "hippo-pguser-hippo", "password"), encoded);
    assert_string_equal(dataValue(ctx, objects, "hippo-pguser-hippo", "dbname", NULL), "my db/x?#%:@");
    json_decref(objects);
}

/* PGO's older Secret name for the default user, <cluster>-pguser, still gives its password when it is labelled as
 * this cluster's Secret of that user and the current Secret does not exist. */
static void testUsersDeprecatedSecret(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    json_t *old = userSecret(ctx, "hippo-pguser", "from-the-old-secret", VERIFIER_A);
    json_object_set_new(json_object_get(old, "metadata"), "labels",
                        json_pack("{s:s, s:s}", CLUSTER_LABEL_CLUSTER, "hippo", CLUSTER_LABEL_PGUSER, "hippo"));
    json_object_set_new(fixture->cache, "hippo-pguser", old);
    json_t *objects = buildUsers(fixture);
    assert_string_equal(dataValue(ctx, objects, "hippo-pguser-hippo", "password", NULL), "from-the-old-secret");
    assert_string_equal(dataValue(ctx, objects, "hippo-pguser-hippo", "verifier", NULL), VERIFIER_A);
    json_decref(objects);

    /* Labelled for another user or cluster: not ours to read. */
    json_object_set_new(json_object_get(json_object_get(old, "metadata"), "labels"), CLUSTER_LABEL_PGUSER,
                        json_string("rhino"));
    objects = buildUsers(fixture);
    assert_string_not_equal(dataValue(ctx, objects, "hippo-pguser-hippo", "password", NULL), "from-the-old-secret");
    json_decref(objects);
    json_object_set_new(json_object_get(json_object_get(old, "metadata"), "labels"), CLUSTER_LABEL_PGUSER,
                        json_string("hippo"));
    json_object_set_new(json_object_get(json_object_get(old, "metadata"), "labels"), CLUSTER_LABEL_CLUSTER,
                        json_string("rhino"));
    objects = buildUsers(fixture);
    assert_string_not_equal(dataValue(ctx, objects, "hippo-pguser-hippo", "password", NULL), "from-the-old-secret");
    json_decref(objects);

    /* The current Secret wins over the old one. */
    json_object_set_new(json_object_get(json_object_get(old, "metadata"), "labels"), CLUSTER_LABEL_CLUSTER,
                        json_string("hippo"));
    json_object_set_new(fixture->cache, "hippo-pguser-hippo", userSecret(ctx, "hippo-pguser-hippo", "new", "v"));
    objects = buildUsers(fixture);
    assert_string_equal(dataValue(ctx, objects, "hippo-pguser-hippo", "password", NULL), "new");
    json_decref(objects);
}

/* Secret <cluster>-operator holds exactly the password of the model, labelled with the cluster only, owned by it;
 * the builder refuses to run without one. clusterOperatorPassword keeps the cached Secret's password, and makes a
 * new one of 43 letters and digits when there is none (or one libpq could not take). */
static void testOperatorSecret(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    json_object_set_new(spec(fixture), "users", json_array());
    json_t *objects = buildUsers(fixture);
    const json_t *secret = findObject(objects, "hippo-operator");
    assert_non_null(secret);
    assert_string_equal(dataValue(ctx, objects, "hippo-operator", CLUSTER_OPERATOR_PASSWORD_KEY, NULL),
                        OPERATOR_PASSWORD);
    assert_int_equal(json_object_size(json_object_get(secret, "data")), 1);
    const json_t *labels = json_object_get(json_object_get(secret, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, CLUSTER_LABEL_CLUSTER)), "hippo");
    assert_null(json_object_get(labels, CLUSTER_LABEL_ROLE));
    assert_null(json_object_get(labels, CLUSTER_LABEL_INSTANCE));
    const json_t *owner = json_array_get(json_object_get(json_object_get(secret, "metadata"), "ownerReferences"), 0);
    assert_true(json_is_true(json_object_get(owner, "controller")));

    /* Decided by the reconciler: the cached Secret's password is kept. */
    cacheObjects(fixture, objects);
    json_decref(objects);
    fixture->model.operatorPassword = NULL;
    const char *password;
    Err err;
    assert_true(clusterOperatorPassword(ctx, &fixture->model, &password, &err));
    assert_string_equal(password, OPERATOR_PASSWORD);

    /* None there, an empty one, one with a NUL: a new one, different each time. */
    static const char alphaNumeric[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    json_t *data = json_object_get(json_object_get(fixture->cache, "hippo-operator"), "data");
    char *withNul;
    assert_true(base64Encode(ctx, "ab\0cd", 5, &withNul, &err));
    const char *replaced[3] = {NULL, NULL, NULL};
    for (int caseIdx = 0; caseIdx < 3; caseIdx++) {
        if (caseIdx == 0)
            json_object_del(data, CLUSTER_OPERATOR_PASSWORD_KEY);
        else
            json_object_set_new(data, CLUSTER_OPERATOR_PASSWORD_KEY, json_string(caseIdx == 1 ? "" : withNul));
        assert_true(clusterOperatorPassword(ctx, &fixture->model, &replaced[caseIdx], &err));
        assert_int_equal(strlen(replaced[caseIdx]), CLUSTER_OPERATOR_PASSWORD_LEN);
        assert_int_equal(strspn(replaced[caseIdx], alphaNumeric), CLUSTER_OPERATOR_PASSWORD_LEN);
        for (int earlierIdx = 0; earlierIdx < caseIdx; earlierIdx++)
            assert_string_not_equal(replaced[caseIdx], replaced[earlierIdx]);
    }
    json_object_clear(fixture->cache);
    assert_true(clusterOperatorPassword(ctx, &fixture->model, &password, &err));
    assert_int_equal(strlen(password), CLUSTER_OPERATOR_PASSWORD_LEN);

    /* Without a decided password, no Secret. */
    objects = json_array();
    assert_false(clusterBuildUserSecrets(ctx, &fixture->model, objects, &err));
    assert_int_equal(err.code, errInvalidArgument);
    assert_string_equal(err.message, "the password of the operator's role is not decided");
    fixture->model.operatorPassword = "";
    assert_false(clusterBuildUserSecrets(ctx, &fixture->model, objects, &err));
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);
}

static void expectUsersError(Fixture *fixture, const char *message)
{
    json_t *objects = json_array();
    Err err;
    assert_false(clusterBuildUserSecrets(fixture->ctx, &fixture->model, objects, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, message);
    json_decref(objects);
}

static void testUsersInvalid(void **state)
{
    Fixture *fixture = *state;
    /* A cluster name that is no user name, with no spec.users: PGO's InvalidUser. */
    fixture->model.name = "hippo.db";
    expectUsersError(fixture, "spec.users[0].name: Invalid value: \"hippo.db\"");
    static const char *const invalidNames[] = {"-hippo", "hippo-", "Hippo", "",
                                               "a123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t nameIdx = 0; nameIdx < sizeof(invalidNames) / sizeof(invalidNames[0]); nameIdx++) {
        fixture->model.name = invalidNames[nameIdx];
        expectUsersError(fixture, "spec.users[0].name: Invalid value");
    }
    fixture->model.name = "h";
    json_t *objects = buildUsers(fixture);
    assert_int_equal(json_array_size(objects), 2); /* h-pguser-h and h-operator */
    json_decref(objects);
    fixture->model.name = "hippo";

    json_object_set_new(spec(fixture), "users", json_string("hippo"));
    expectUsersError(fixture, "spec.users: must be a list");
    json_object_set_new(spec(fixture), "users", harnessJson("[{\"name\": \"ok\"}, {\"databases\": [\"zoo\"]}]"));
    expectUsersError(fixture, "spec.users[1].name: Required value");
    json_object_set_new(spec(fixture), "users", harnessJson("[{\"name\": \"ok\", \"databases\": \"zoo\"}]"));
    expectUsersError(fixture, "spec.users[0].databases");
    json_object_set_new(spec(fixture), "users", harnessJson("[{\"name\": \"ok\", \"databases\": [7]}]"));
    expectUsersError(fixture, "spec.users[0].databases");
}

/* ---- allocation failures ---- */

/* Certificates kept (every Secret read, decoded and checked) and issued (a new root), over one instance and with
 * custom TLS Secrets so that OpenSSL's thousands of allocations per certificate stay few enough to sweep. */
static void testCertificateAllocationFailures(void **state)
{
    Fixture *fixture = *state;
    json_object_set_new(spec(fixture), "customTLSSecret", harnessJson("{\"name\": \"my-tls\"}"));
    json_object_set_new(spec(fixture), "customReplicationTLSSecret", harnessJson("{\"name\": \"my-repl\"}"));
    fixture->model.instanceCount = 1;
    json_t *objects = buildCertificates(fixture);
    cacheObjects(fixture, objects);
    json_decref(objects);
    unsigned kept =
        harnessAllocSweepThinned(clusterBuildSweep, &(ClusterBuildSweep){clusterBuildCertificates, &fixture->model});
    print_message("# certificates kept: %u allocations swept\n", kept);
    assert_true(kept > 100);

    fixture->model.instanceCount = 0;
    json_object_clear(fixture->cache);
    unsigned issued =
        harnessAllocSweepThinned(clusterBuildSweep, &(ClusterBuildSweep){clusterBuildCertificates, &fixture->model});
    print_message("# root issued: %u allocations swept\n", issued);
    assert_true(issued > 100);
}

/* User Secrets with their passwords and verifiers kept (a new verifier is a PBKDF2 of 4096 rounds, some 16,000
 * OpenSSL allocations: test_cluster_scram sweeps that computation with fewer rounds). */
static void testUserAllocationFailures(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    json_object_set_new(spec(fixture), "users",
                        harnessJson("[{\"name\": \"hippo\", \"databases\": [\"zoo\"]}, {\"name\": \"rhino\"}]"));
    json_object_set_new(fixture->cache, "hippo-pguser-hippo",
                        userSecret(ctx, "hippo-pguser-hippo", "p@ss word", VERIFIER_A));
    json_object_set_new(fixture->cache, "hippo-pguser-rhino", userSecret(ctx, "hippo-pguser-rhino", "x", "y"));
    unsigned allocations =
        harnessAllocSweep(clusterBuildSweep, &(ClusterBuildSweep){clusterBuildUserSecrets, &fixture->model}, false);
    print_message("# users: %u allocations swept\n", allocations);
    assert_true(allocations > 20);
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
        cmocka_unit_test_setup_teardown(testCertificatesGolden, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCertificatesVerify, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCertificatesKeptWhileValid, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLeavesRenewedWhenDue, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNewRootReissuesEveryLeaf, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testDamagedSecretsAreReplaced, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCustomTlsSecrets, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCustomTlsClientCas, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testRootOwnerReferences, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testPgoCertificatesTakenOver, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testDomainForms, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCertificateErrors, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUsersGolden, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUsersDefault, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testOperatorSecret, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUsersPasswordLifecycle, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUsersUriEscaping, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUsersDeprecatedSecret, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUsersInvalid, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCertificateAllocationFailures, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testUserAllocationFailures, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("cluster/secrets", tests, NULL, NULL);
}
