/* Unit tests: pki/names — the certificate names PGO uses, exactly, and that certificates issued from them verify
 * for the host names clients connect to. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "pki/names.h"

#include <stdio.h>
#include <string.h>

static void assertSpec(const PkiLeafSpec *spec, const char *const *expected, size_t count, unsigned usage)
{
    assert_int_equal(spec->dnsNameCount, count);
    for (size_t nameIdx = 0; nameIdx < count; nameIdx++)
        assert_string_equal(spec->dnsNames[nameIdx], expected[nameIdx]);
    /* The common name is the first (fully qualified) name. */
    assert_string_equal(spec->commonName, expected[0]);
    assert_int_equal(spec->usage, usage);
}

static void testClusterDomain(void **state)
{
    (void)state;
    assert_string_equal(pkiClusterDomainFromCname("kubernetes.default.svc.cluster.local."), "cluster.local.");
    assert_string_equal(pkiClusterDomainFromCname("kubernetes.default.svc.k8s.example.com."), "k8s.example.com.");
    assert_string_equal(pkiClusterDomainFromCname(NULL), "cluster.local.");
    /* PGO's TrimPrefix leaves a CNAME without the prefix whole. */
    assert_string_equal(pkiClusterDomainFromCname("elsewhere.example."), "elsewhere.example.");
}

static void testClusterCert(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    PkiLeafSpec spec;
    Err err;
    assert_true(pkiSpecClusterCert(ctx, "hippo", "postgres-operator", PKI_CLUSTER_DOMAIN_DEFAULT, &spec, &err));
    static const char *const expected[] = {
        "hippo-primary.postgres-operator.svc.cluster.local.",
        "hippo-primary.postgres-operator.svc",
        "hippo-primary.postgres-operator",
        "hippo-primary",
        "hippo-replicas.postgres-operator.svc.cluster.local.",
        "hippo-replicas.postgres-operator.svc",
        "hippo-replicas.postgres-operator",
        "hippo-replicas",
    };
    assertSpec(&spec, expected, 8, PKI_USAGE_SERVER);
    memCtxFree(ctx);
}

static void testInstanceAndRepoHostCerts(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    PkiLeafSpec spec;
    Err err;
    assert_true(pkiSpecInstanceCert(ctx, "hippo-instance1-pd9w", "hippo-pods", "ns", "cluster.local.", &spec, &err));
    static const char *const instance[] = {
        "hippo-instance1-pd9w-0.hippo-pods.ns.svc.cluster.local.",
        "hippo-instance1-pd9w-0.hippo-pods.ns.svc",
        "hippo-instance1-pd9w-0.hippo-pods.ns",
        "hippo-instance1-pd9w-0.hippo-pods",
    };
    assertSpec(&spec, instance, 4, PKI_USAGE_SERVER | PKI_USAGE_CLIENT);

    assert_true(pkiSpecRepoHostCert(ctx, "hippo-repo-host", "hippo-pods", "ns", "example.org.", &spec, &err));
    static const char *const repoHost[] = {
        "hippo-repo-host-0.hippo-pods.ns.svc.example.org.",
        "hippo-repo-host-0.hippo-pods.ns.svc",
        "hippo-repo-host-0.hippo-pods.ns",
        "hippo-repo-host-0.hippo-pods",
    };
    assertSpec(&spec, repoHost, 4, PKI_USAGE_SERVER);
    memCtxFree(ctx);
}

static void testServiceCert(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    PkiLeafSpec spec;
    Err err;
    static const char *const services[] = {"hippo-pgbouncer"};
    assert_true(pkiSpecServices(ctx, services, 1, "ns", "cluster.local.", &spec, &err));
    static const char *const expected[] = {
        "hippo-pgbouncer.ns.svc.cluster.local.",
        "hippo-pgbouncer.ns.svc",
        "hippo-pgbouncer.ns",
        "hippo-pgbouncer",
    };
    assertSpec(&spec, expected, 4, PKI_USAGE_SERVER);
    memCtxFree(ctx);
}

static void testClientCerts(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    PkiLeafSpec spec;
    Err err;
    pkiSpecReplicationCert(&spec);
    static const char *const replication[] = {"_crunchyrepl"};
    assertSpec(&spec, replication, 1, PKI_USAGE_CLIENT);

    assert_true(pkiSpecPgBackRestClientCert(ctx, "f7e9b8c2-5a4d-4c1e-9b2a-0d6f3e8a1c57", &spec, &err));
    static const char *const pgbackrest[] = {"pgbackrest@f7e9b8c2-5a4d-4c1e-9b2a-0d6f3e8a1c57"};
    assertSpec(&spec, pgbackrest, 1, PKI_USAGE_CLIENT);
    /* Within X.520's 64 characters for a common name, as PGO's comment requires of a UID-based name. */
    assert_true(strlen(spec.commonName) <= 64);
    memCtxFree(ctx);
}

static void testEmptyInputs(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    PkiLeafSpec spec;
    Err err;
    static const char *const services[] = {"a", ""};
    static const char *const many[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
                                       "j", "k", "l", "m", "n", "o", "p", "q"};
    assert_false(pkiSpecClusterCert(ctx, "", "ns", "cluster.local.", &spec, &err));
    assert_err(&err, errInvalidArgument);
    assert_string_equal(err.message, "cluster name is empty");
    assert_false(pkiSpecClusterCert(ctx, "hippo", NULL, "cluster.local.", &spec, &err));
    assert_string_equal(err.message, "namespace is empty");
    assert_false(pkiSpecClusterCert(ctx, "hippo", "ns", "", &spec, &err));
    assert_string_equal(err.message, "cluster domain is empty");
    assert_false(pkiSpecServices(ctx, services, 2, "ns", "d.", &spec, &err));
    assert_string_equal(err.message, "service name is empty");
    assert_false(pkiSpecServices(ctx, services, 0, "ns", "d.", &spec, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(pkiSpecServices(ctx, many, 17, "ns", "d.", &spec, &err));
    assert_string_equal(err.message, "a service certificate covers at most 16 services");
    assert_true(pkiSpecServices(ctx, many, 16, "ns", "d.", &spec, &err));
    assert_int_equal(spec.dnsNameCount, PKI_DNS_NAMES_MAX);
    assert_false(pkiSpecInstanceCert(ctx, "", "hippo-pods", "ns", "d.", &spec, &err));
    assert_string_equal(err.message, "statefulset name is empty");
    assert_false(pkiSpecRepoHostCert(ctx, "hippo-repo-host", NULL, "ns", "d.", &spec, &err));
    assert_string_equal(err.message, "service name is empty");
    assert_false(pkiSpecInstanceCert(ctx, "sts", "svc", "", "d.", &spec, &err));
    assert_string_equal(err.message, "namespace is empty");
    assert_false(pkiSpecInstanceCert(ctx, "sts", "svc", "ns", NULL, &spec, &err));
    assert_string_equal(err.message, "cluster domain is empty");
    assert_false(pkiSpecPgBackRestClientCert(ctx, "", &spec, &err));
    assert_string_equal(err.message, "cluster uid is empty");
    memCtxFree(ctx);
}

/* Each spec issues a certificate that verifies for the names clients use, and that the renewal policy keeps. */
static void testSpecsIssueWorkingCertificates(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    FakeClock fake = {.monotonicMs = 0, .wallMs = INT64_C(1767225600000)};
    Clock clock = clockFake(&fake);
    Err err;
    PkiRoot root;
    assert_true(pkiRootNew(ctx, clock, &root, &err));
    PkiLeafSpec specs[5];
    assert_true(pkiSpecClusterCert(ctx, "hippo", "ns", PKI_CLUSTER_DOMAIN_DEFAULT, &specs[0], &err));
    assert_true(pkiSpecInstanceCert(ctx, "hippo-instance1-pd9w", "hippo-pods", "ns", PKI_CLUSTER_DOMAIN_DEFAULT,
                                    &specs[1], &err));
    assert_true(
        pkiSpecRepoHostCert(ctx, "hippo-repo-host", "hippo-pods", "ns", PKI_CLUSTER_DOMAIN_DEFAULT, &specs[2], &err));
    pkiSpecReplicationCert(&specs[3]);
    assert_true(pkiSpecPgBackRestClientCert(ctx, "f7e9b8c2-5a4d-4c1e-9b2a-0d6f3e8a1c57", &specs[4], &err));
    static const struct {
        const char *host;
        PkiPurpose purpose;
    } uses[] = {
        {"hippo-primary.ns.svc", pkiPurposeServer},
        {"hippo-instance1-pd9w-0.hippo-pods.ns.svc", pkiPurposeServer},
        {"hippo-repo-host-0.hippo-pods.ns.svc", pkiPurposeServer},
        {NULL, pkiPurposeClient},
        {NULL, pkiPurposeClient},
    };
    for (size_t specIdx = 0; specIdx < 5; specIdx++) {
        PkiLeaf leaf;
        PkiRenewal reason;
        assert_true(pkiLeafNew(ctx, &root, &specs[specIdx], clock, &leaf, &err));
        if (!pkiCertVerify(leaf.cert, root.cert, uses[specIdx].host, uses[specIdx].purpose, clock, &err))
            fail_msg("spec %zu: %s", specIdx, err.message);
        assert_true(pkiLeafNeedsRenewal(&leaf, &root, &specs[specIdx], clock, &reason, &err));
        assert_int_equal(reason, pkiRenewalNone);
    }
    /* The replica Service's names are in the cluster certificate too; the instance certificate also serves as
     * patronictl's client certificate. */
    PkiLeaf cluster, instance;
    assert_true(pkiLeafNew(ctx, &root, &specs[0], clock, &cluster, &err));
    assert_true(pkiCertVerify(cluster.cert, root.cert, "hippo-replicas", pkiPurposeServer, clock, &err));
    assert_false(pkiCertVerify(cluster.cert, root.cert, "hippo-ha.ns.svc", pkiPurposeServer, clock, &err));
    assert_true(pkiLeafNew(ctx, &root, &specs[1], clock, &instance, &err));
    assert_true(pkiCertVerify(instance.cert, root.cert, NULL, pkiPurposeClient, clock, &err));
    memCtxFree(ctx);
}

/* The sweep's operation: every builder in turn. */
static bool buildAll(void *arg, Err *err)
{
    MemCtx *ctx = arg;
    PkiLeafSpec spec;
    static const char *const services[] = {"hippo-pgbouncer", "hippo-ha"};
    bool ok = pkiSpecClusterCert(ctx, "hippo", "ns", PKI_CLUSTER_DOMAIN_DEFAULT, &spec, err) &&
              pkiSpecServices(ctx, services, 2, "ns", PKI_CLUSTER_DOMAIN_DEFAULT, &spec, err) &&
              pkiSpecInstanceCert(ctx, "hippo-instance1-pd9w", "hippo-pods", "ns", "d.", &spec, err) &&
              pkiSpecRepoHostCert(ctx, "hippo-repo-host", "hippo-pods", "ns", "d.", &spec, err) &&
              pkiSpecPgBackRestClientCert(ctx, "uid", &spec, err);
    memCtxReset(ctx);
    return ok;
}

/* Each builder alone: a failure leaves the context exactly as it was. */
typedef bool Builder(MemCtx *ctx, PkiLeafSpec *spec, Err *err);

static bool buildCluster(MemCtx *ctx, PkiLeafSpec *spec, Err *err)
{
    return pkiSpecClusterCert(ctx, "hippo", "ns", PKI_CLUSTER_DOMAIN_DEFAULT, spec, err);
}

static bool buildInstance(MemCtx *ctx, PkiLeafSpec *spec, Err *err)
{
    return pkiSpecInstanceCert(ctx, "hippo-instance1-pd9w", "hippo-pods", "ns", "d.", spec, err);
}

static bool buildPgBackRest(MemCtx *ctx, PkiLeafSpec *spec, Err *err)
{
    return pkiSpecPgBackRestClientCert(ctx, "uid", spec, err);
}

static void testAllocationFailuresLeaveNothing(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    assert_true(harnessAllocSweep(buildAll, ctx, false) > 20);

    Builder *const builders[] = {buildCluster, buildInstance, buildPgBackRest};
    for (size_t builderIdx = 0; builderIdx < sizeof(builders) / sizeof(builders[0]); builderIdx++) {
        for (uint64_t nth = 1;; nth++) {
            PkiLeafSpec spec;
            Err err;
            allocFailNth(nth);
            bool ok = builders[builderIdx](ctx, &spec, &err);
            bool fired = allocFaultFired();
            allocFailNth(0);
            if (!fired) {
                assert_true(ok);
                break;
            }
            assert_false(ok);
            assert_err(&err, errOutOfMemory);
            assert_int_equal(memCtxTotalBytes(ctx), 0);
        }
        memCtxReset(ctx);
    }
    memCtxFree(ctx);
}

int main(void)
{
    Err err;
    if (!pkiUseProjectAllocator() || !pkiWarmUp(&err)) {
        fprintf(stderr, "cannot set up OpenSSL\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testClusterDomain),
        cmocka_unit_test(testClusterCert),
        cmocka_unit_test(testInstanceAndRepoHostCerts),
        cmocka_unit_test(testServiceCert),
        cmocka_unit_test(testClientCerts),
        cmocka_unit_test(testEmptyInputs),
        cmocka_unit_test(testSpecsIssueWorkingCertificates),
        cmocka_unit_test(testAllocationFailuresLeaveNothing),
    };
    return cmocka_run_group_tests_name("pki/names", tests, NULL, NULL);
}
