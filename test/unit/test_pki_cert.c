/* Unit tests: pki/cert — keys and certificates, their PEM forms, inspection, verification, and an allocation-failure
 * sweep that reaches OpenSSL's own allocations (pkiUseProjectAllocator runs first thing in main). */
#include "harness/harness.h"

#include "common/alloc.h"
#include "pki/authority.h"
#include "pki/cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

/* 2026-01-01T00:00:00Z */
#define T0_MS  INT64_C(1767225600000)
#define DAY_MS INT64_C(86400000)

static const char *const serverNames[] = {"hippo-primary.ns.svc.cluster.local.", "hippo-primary.ns.svc",
                                          "hippo-primary.ns", "hippo-primary"};

static const PkiLeafSpec serverSpec = {
    .commonName = "hippo-primary.ns.svc.cluster.local.",
    .dnsNames = serverNames,
    .dnsNameCount = 4,
    .usage = PKI_USAGE_SERVER,
};

static const char *const clientNames[] = {"_crunchyrepl"};

static const PkiLeafSpec clientSpec = {
    .commonName = "_crunchyrepl",
    .dnsNames = clientNames,
    .dnsNameCount = 1,
    .usage = PKI_USAGE_CLIENT,
};

typedef struct Fixture {
    MemCtx *ctx;
    FakeClock fake;
    Clock clock;
    PkiRoot root;
    PkiLeaf server;
    PkiLeaf client;
} Fixture;

static int setUp(void **state)
{
    Fixture *fixture = allocRaw(sizeof(*fixture));
    assert_non_null(fixture);
    fixture->ctx = memCtxNew(NULL, "test");
    fixture->fake = (FakeClock){.monotonicMs = 0, .wallMs = T0_MS};
    fixture->clock = clockFake(&fixture->fake);
    Err err;
    assert_true(pkiRootNew(fixture->ctx, fixture->clock, &fixture->root, &err));
    assert_true(pkiLeafNew(fixture->ctx, &fixture->root, &serverSpec, fixture->clock, &fixture->server, &err));
    assert_true(pkiLeafNew(fixture->ctx, &fixture->root, &clientSpec, fixture->clock, &fixture->client, &err));
    *state = fixture;
    return 0;
}

static int tearDown(void **state)
{
    Fixture *fixture = *state;
    memCtxFree(fixture->ctx);
    allocFree(fixture);
    return 0;
}

static char *certPem(MemCtx *ctx, const PkiCert *cert)
{
    char *pem;
    Err err;
    assert_true(pkiCertEncodePem(ctx, cert, &pem, NULL, &err));
    return pem;
}

static char *keyPem(MemCtx *ctx, const PkiKey *key, PkiKeyFormat format)
{
    char *pem;
    Err err;
    assert_true(pkiKeyEncodePem(ctx, key, format, &pem, NULL, &err));
    return pem;
}

static bool startsWith(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static void testOpenSslAllocatesThroughTheProject(void **state)
{
    (void)state;
    /* main installed the allocator before OpenSSL allocated anything; installing it again changes nothing. */
    assert_true(pkiUseProjectAllocator());
    /* OpenSSL's allocations are ours: an injected failure fires inside key generation, which reports it. */
    Err err;
    PkiKey *key;
    MemCtx *ctx = memCtxNew(NULL, "t");
    allocFailNth(3);
    assert_false(pkiKeyGenerate(ctx, &key, &err));
    assert_true(allocFaultFired());
    allocFailNth(0);
    assert_err(&err, errOutOfMemory);
    memCtxFree(ctx);
}

static void testGeneratedKeyIsP256(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    PkiKey *first, *second;
    Err err;
    assert_true(pkiKeyGenerate(ctx, &first, &err));
    assert_true(pkiKeyGenerate(ctx, &second, &err));
    assert_true(pkiKeyIsP256(first));
    /* Two keys, two different private scalars. */
    assert_string_not_equal(keyPem(ctx, first, pkiKeyFormatSec1), keyPem(ctx, second, pkiKeyFormatSec1));
    memCtxFree(ctx);
}

static void testCertPemRoundTrip(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    Err err;
    char *pem;
    size_t len;
    assert_true(pkiCertEncodePem(ctx, fixture->server.cert, &pem, &len, &err));
    assert_int_equal(len, strlen(pem));
    assert_true(startsWith(pem, "-----BEGIN CERTIFICATE-----\n"));
    assert_contains(pem, "-----END CERTIFICATE-----\n");
    PkiCert *decoded;
    assert_true(pkiCertDecodePem(ctx, pem, len, &decoded, &err));
    assert_true(pkiCertEqual(decoded, fixture->server.cert));
    assert_false(pkiCertEqual(decoded, fixture->client.cert));
    assert_string_equal(certPem(ctx, decoded), pem);
}

static void testKeyPemRoundTrip(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    Err err;
    static const struct {
        PkiKeyFormat format;
        const char *begin;
    } cases[] = {
        {pkiKeyFormatSec1, "-----BEGIN EC PRIVATE KEY-----\n"},
        {pkiKeyFormatPkcs8, "-----BEGIN PRIVATE KEY-----\n"},
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(cases) / sizeof(cases[0]); caseIdx++) {
        char *pem;
        size_t len;
        assert_true(pkiKeyEncodePem(ctx, fixture->server.key, cases[caseIdx].format, &pem, &len, &err));
        assert_int_equal(len, strlen(pem));
        assert_true(startsWith(pem, cases[caseIdx].begin));
        PkiKey *decoded;
        assert_true(pkiKeyDecodePem(ctx, pem, len, &decoded, &err));
        assert_true(pkiKeyIsP256(decoded));
        assert_true(pkiKeyMatchesCert(decoded, fixture->server.cert));
        assert_false(pkiKeyMatchesCert(decoded, fixture->client.cert));
        assert_string_equal(keyPem(ctx, decoded, cases[caseIdx].format), pem);
    }
}

static void testDecodeFindsTheBlockAmongOtherText(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    Err err;
    /* Patroni's "patroni.crt-combined": certificate then key, here with text around them. */
    char *combined = memCtxPrintf(ctx, "leading words\n%s%strailing words\n", certPem(ctx, fixture->server.cert),
                                  keyPem(ctx, fixture->server.key, pkiKeyFormatSec1));
    PkiCert *cert;
    PkiKey *key;
    assert_true(pkiCertDecodePem(ctx, combined, strlen(combined), &cert, &err));
    assert_true(pkiKeyDecodePem(ctx, combined, strlen(combined), &key, &err));
    assert_true(pkiCertEqual(cert, fixture->server.cert));
    assert_true(pkiKeyMatchesCert(key, cert));

    /* A bundle of two certificates: the first one counts. */
    char *bundle = memCtxPrintf(ctx, "%s%s", certPem(ctx, fixture->client.cert), certPem(ctx, fixture->root.cert));
    assert_true(pkiCertDecodePem(ctx, bundle, strlen(bundle), &cert, &err));
    assert_true(pkiCertEqual(cert, fixture->client.cert));

    /* The length bounds the input: the text need not be NUL-terminated, and what lies beyond is not read. */
    char *certText = certPem(ctx, fixture->root.cert);
    size_t certLen = strlen(certText);
    char *unterminated = memCtxAlloc(ctx, certLen);
    assert_non_null(unterminated);
    memcpy(unterminated, certText, certLen);
    assert_true(pkiCertDecodePem(ctx, unterminated, certLen, &cert, &err));
    assert_true(pkiCertEqual(cert, fixture->root.cert));
    assert_false(pkiCertDecodePem(ctx, bundle, 40, &cert, &err));
    assert_err(&err, errInvalidArgument);
}

static void testMalformedCertificates(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = memCtxNew(NULL, "malformed");
    char *good = certPem(fixture->ctx, fixture->server.cert);
    size_t goodLen = strlen(good);
    char *truncated = memCtxStrNDup(fixture->ctx, good, goodLen / 2);
    /* Corrupt the DER inside a well-formed PEM frame: flip a base64 character in the middle of the body. */
    char *corrupted = memCtxStrDup(fixture->ctx, good);
    corrupted[goodLen / 2] = corrupted[goodLen / 2] == 'A' ? 'B' : 'A';
    const char *const bad[] = {
        "not a certificate at all",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nMIIB\n",
        truncated,
        corrupted,
        keyPem(fixture->ctx, fixture->server.key, pkiKeyFormatSec1),
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(bad) / sizeof(bad[0]); caseIdx++) {
        PkiCert *cert;
        Err err;
        errClear(&err);
        if (pkiCertDecodePem(ctx, bad[caseIdx], strlen(bad[caseIdx]), &cert, &err))
            fail_msg("case %zu was accepted", caseIdx);
        assert_err(&err, errInvalidArgument);
        assert_contains(err.message, "certificate");
    }
    PkiCert *cert;
    Err err;
    assert_false(pkiCertDecodePem(ctx, "", 0, &cert, &err));
    assert_err(&err, errInvalidArgument);
    assert_string_equal(err.message, "empty certificate pem");
    assert_false(pkiCertDecodePem(ctx, "x", PKI_PEM_MAX + 1, &cert, &err));
    assert_err(&err, errTooLarge);
    assert_false(pkiCertDecodePem(ctx, "garbage", 7, &cert, &err));
    assert_string_equal(err.message, "malformed certificate pem: no start line (PEM routines)");
    /* The Err is optional. */
    assert_false(pkiCertDecodePem(ctx, "garbage", 7, &cert, NULL));
    /* Failures leave nothing behind. */
    assert_int_equal(memCtxTotalBytes(ctx), 0);
    memCtxFree(ctx);
}

/* The key encrypted with a passphrase, in PKCS#8 or in the traditional form, as a user might paste it into a Secret. */
static char *encryptedKeyPem(MemCtx *ctx, const PkiKey *key, bool pkcs8)
{
    /* Round trip through PEM to reach the EVP_PKEY: the test sees only the public API of the key. */
    char *plain = keyPem(ctx, key, pkiKeyFormatPkcs8);
    BIO *in = BIO_new_mem_buf(plain, -1);
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    assert_non_null(pkey);
    BIO *out = BIO_new(BIO_s_mem());
    static const char passphrase[] = "secret";
    const unsigned char *pass = (const unsigned char *)passphrase;
    int passLen = (int)strlen(passphrase);
    int written = pkcs8 ? PEM_write_bio_PrivateKey(out, pkey, EVP_aes_128_cbc(), pass, passLen, NULL, NULL)
                        : PEM_write_bio_PrivateKey_traditional(out, pkey, EVP_aes_128_cbc(), pass, passLen, NULL, NULL);
    assert_int_equal(written, 1);
    char *data;
    long len = BIO_get_mem_data(out, &data);
    char *pem = memCtxStrNDup(ctx, data, (size_t)len);
    BIO_free(out);
    EVP_PKEY_free(pkey);
    BIO_free(in);
    return pem;
}

static void testMalformedKeys(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = memCtxNew(NULL, "malformed");
    char *good = keyPem(fixture->ctx, fixture->server.key, pkiKeyFormatSec1);
    char *truncated = memCtxStrNDup(fixture->ctx, good, strlen(good) / 2);
    const char *const bad[] = {
        "not a key",
        "-----BEGIN EC PRIVATE KEY-----\nAAAAAAAA\n-----END EC PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----\n",
        truncated,
        certPem(fixture->ctx, fixture->server.cert),
        encryptedKeyPem(fixture->ctx, fixture->server.key, true),
        encryptedKeyPem(fixture->ctx, fixture->server.key, false),
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(bad) / sizeof(bad[0]); caseIdx++) {
        PkiKey *key;
        Err err;
        errClear(&err);
        if (pkiKeyDecodePem(ctx, bad[caseIdx], strlen(bad[caseIdx]), &key, &err))
            fail_msg("case %zu was accepted", caseIdx);
        assert_err(&err, errInvalidArgument);
        assert_contains(err.message, "malformed private key pem");
        /* The message names OpenSSL's reason, never the key. */
        assert_null(strstr(err.message, "MHcC"));
    }
    PkiKey *key;
    Err err;
    assert_false(pkiKeyDecodePem(ctx, "", 0, &key, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(pkiKeyDecodePem(ctx, good, PKI_PEM_MAX + 1, &key, &err));
    assert_err(&err, errTooLarge);
    assert_int_equal(memCtxTotalBytes(ctx), 0);
    memCtxFree(ctx);
}

/* PEM of a key made by OpenSSL directly, in PKCS#8. */
static char *foreignKeyPem(MemCtx *ctx, EVP_PKEY *pkey)
{
    assert_non_null(pkey);
    BIO *out = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(out, pkey, NULL, NULL, 0, NULL, NULL), 1);
    char *data;
    long len = BIO_get_mem_data(out, &data);
    char *pem = memCtxStrNDup(ctx, data, (size_t)len);
    BIO_free(out);
    EVP_PKEY_free(pkey);
    return pem;
}

static void testOtherKeyTypes(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Err err;
    PkiKey *key;
    /* An EC key on another curve decodes, but is not of our profile. */
    char *p384 = foreignKeyPem(ctx, EVP_EC_gen("P-384"));
    assert_true(pkiKeyDecodePem(ctx, p384, strlen(p384), &key, &err));
    assert_false(pkiKeyIsP256(key));
    /* An RSA key is not an EC key at all. */
    char *rsa = foreignKeyPem(ctx, EVP_RSA_gen(1024));
    assert_false(pkiKeyDecodePem(ctx, rsa, strlen(rsa), &key, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, "not an ec key");
    memCtxFree(ctx);
}

static void testAccessors(void **state)
{
    Fixture *fixture = *state;
    MemCtx *ctx = fixture->ctx;
    Err err;
    char *text;
    assert_true(pkiCertCommonName(ctx, fixture->server.cert, &text, &err));
    assert_string_equal(text, "hippo-primary.ns.svc.cluster.local.");
    assert_true(pkiCertCommonName(ctx, fixture->root.cert, &text, &err));
    assert_string_equal(text, "postgres-operator-ca");

    PkiNameList names;
    assert_true(pkiCertDnsNames(ctx, fixture->server.cert, &names, &err));
    assert_int_equal(names.count, 4);
    for (size_t nameIdx = 0; nameIdx < 4; nameIdx++)
        assert_string_equal(names.items[nameIdx], serverNames[nameIdx]);
    assert_true(pkiCertDnsNames(ctx, fixture->root.cert, &names, &err));
    assert_int_equal(names.count, 0);

    int64_t notBefore, notAfter;
    assert_true(pkiCertValidity(fixture->server.cert, &notBefore, &notAfter, &err));
    assert_int_equal(notBefore, T0_MS - 3600 * 1000);
    assert_int_equal(notAfter, T0_MS + 365 * DAY_MS);

    assert_true(pkiCertIsCa(fixture->root.cert));
    assert_false(pkiCertIsCa(fixture->server.cert));
    assert_int_equal(pkiCertUsage(fixture->server.cert), PKI_USAGE_SERVER);
    assert_int_equal(pkiCertUsage(fixture->client.cert), PKI_USAGE_CLIENT);
    assert_int_equal(pkiCertUsage(fixture->root.cert), 0);

    char *serial, *otherSerial;
    assert_true(pkiCertSerialHex(ctx, fixture->server.cert, &serial, &err));
    assert_true(pkiCertSerialHex(ctx, fixture->client.cert, &otherSerial, &err));
    assert_true(strlen(serial) > 16 && strlen(serial) <= 32);
    assert_int_equal(strspn(serial, "0123456789ABCDEF"), strlen(serial));
    assert_string_not_equal(serial, otherSerial);
}

static void testVerify(void **state)
{
    Fixture *fixture = *state;
    Err err;
    assert_true(pkiCertVerify(fixture->server.cert, fixture->root.cert, "hippo-primary.ns.svc", pkiPurposeServer,
                              fixture->clock, &err));
    assert_true(pkiCertVerify(fixture->server.cert, fixture->root.cert, "HIPPO-PRIMARY", pkiPurposeServer,
                              fixture->clock, &err));
    assert_true(pkiCertVerify(fixture->server.cert, fixture->root.cert, NULL, pkiPurposeAny, fixture->clock, &err));
    assert_true(pkiCertVerify(fixture->client.cert, fixture->root.cert, NULL, pkiPurposeClient, fixture->clock, &err));
    /* The root verifies as itself. */
    assert_true(pkiCertVerify(fixture->root.cert, fixture->root.cert, NULL, pkiPurposeAny, fixture->clock, &err));

    assert_false(pkiCertVerify(fixture->server.cert, fixture->root.cert, "hippo-replicas.ns.svc", pkiPurposeServer,
                               fixture->clock, &err));
    assert_err(&err, errInvalidArgument);
    assert_string_equal(err.message, "certificate does not verify: hostname mismatch");

    /* The FQDN carries PGO's trailing dot: OpenSSL matches it only when the host name has the dot too. */
    assert_false(pkiCertVerify(fixture->server.cert, fixture->root.cert, "hippo-primary.ns.svc.cluster.local",
                               pkiPurposeServer, fixture->clock, &err));
    assert_true(pkiCertVerify(fixture->server.cert, fixture->root.cert, "hippo-primary.ns.svc.cluster.local.",
                              pkiPurposeServer, fixture->clock, &err));

    /* The common name is never a host name. */
    assert_false(pkiCertVerify(fixture->client.cert, fixture->root.cert, "postgres-operator-ca", pkiPurposeAny,
                               fixture->clock, &err));

    assert_false(pkiCertVerify(fixture->client.cert, fixture->root.cert, NULL, pkiPurposeServer, fixture->clock, &err));
    assert_string_equal(err.message, "certificate does not verify: unsuitable certificate purpose");
    assert_false(pkiCertVerify(fixture->server.cert, fixture->root.cert, NULL, pkiPurposeClient, fixture->clock, &err));
    assert_string_equal(err.message, "certificate does not verify: unsuitable certificate purpose");

    /* Another root does not vouch for our leaves. */
    PkiRoot other;
    assert_true(pkiRootNew(fixture->ctx, fixture->clock, &other, &err));
    assert_false(pkiCertVerify(fixture->server.cert, other.cert, NULL, pkiPurposeAny, fixture->clock, &err));
    assert_err(&err, errInvalidArgument);
    assert_string_equal(err.message, "certificate does not verify: unable to get local issuer certificate");

    /* A leaf is no trust anchor for another leaf. */
    assert_false(pkiCertVerify(fixture->client.cert, fixture->server.cert, NULL, pkiPurposeAny, fixture->clock, &err));

    /* Time: an hour of grace before issue, none after expiry. */
    fixture->fake.wallMs = T0_MS - 3600 * 1000;
    assert_true(pkiCertVerify(fixture->server.cert, fixture->root.cert, NULL, pkiPurposeAny, fixture->clock, &err));
    fixture->fake.wallMs = T0_MS - 3601 * 1000;
    assert_false(pkiCertVerify(fixture->server.cert, fixture->root.cert, NULL, pkiPurposeAny, fixture->clock, &err));
    assert_string_equal(err.message, "certificate does not verify: certificate is not yet valid");
    fixture->fake.wallMs = T0_MS + 365 * DAY_MS + 1000;
    assert_false(pkiCertVerify(fixture->server.cert, fixture->root.cert, NULL, pkiPurposeAny, fixture->clock, &err));
    assert_string_equal(err.message, "certificate does not verify: certificate has expired");
    fixture->fake.wallMs = T0_MS;
}

static void testChainsTo(void **state)
{
    Fixture *fixture = *state;
    Err err;
    bool chains = false;
    assert_true(pkiCertChainsTo(fixture->server.cert, fixture->root.cert, &chains, &err));
    assert_true(chains);
    assert_true(pkiCertChainsTo(fixture->root.cert, fixture->root.cert, &chains, &err));
    assert_true(chains);
    assert_true(pkiCertChainsTo(fixture->server.cert, fixture->server.cert, &chains, &err));
    assert_false(chains);
    assert_true(pkiCertChainsTo(fixture->root.cert, fixture->server.cert, &chains, &err));
    assert_false(chains);

    PkiRoot other;
    assert_true(pkiRootNew(fixture->ctx, fixture->clock, &other, &err));
    assert_true(pkiCertChainsTo(fixture->server.cert, other.cert, &chains, &err));
    assert_false(chains);
    assert_true(pkiCertChainsTo(other.cert, fixture->root.cert, &chains, &err));
    assert_false(chains);

    /* Time does not matter to the chain. */
    fixture->fake.wallMs = T0_MS + 20 * 365 * DAY_MS;
    assert_true(pkiCertChainsTo(fixture->server.cert, fixture->root.cert, &chains, &err));
    assert_true(chains);
    fixture->fake.wallMs = T0_MS;
}

static void testMatchesHost(void **state)
{
    Fixture *fixture = *state;
    Err err;
    bool matches = false;
    for (size_t nameIdx = 1; nameIdx < 4; nameIdx++) {
        assert_true(pkiCertMatchesHost(fixture->server.cert, serverNames[nameIdx], &matches, &err));
        assert_true(matches);
    }
    assert_true(pkiCertMatchesHost(fixture->server.cert, "hippo-primary.other.svc", &matches, &err));
    assert_false(matches);
    assert_true(pkiCertMatchesHost(fixture->server.cert, "hippo-primary.ns.svc.cluster.local.", &matches, &err));
    assert_true(matches);
    assert_true(pkiCertMatchesHost(fixture->server.cert, "hippo-primary.ns.svc.cluster.local", &matches, &err));
    assert_false(matches);
    assert_true(pkiCertMatchesHost(fixture->root.cert, "postgres-operator-ca", &matches, &err));
    assert_false(matches);
}

static void testKeyMismatch(void **state)
{
    Fixture *fixture = *state;
    assert_true(pkiKeyMatchesCert(fixture->root.key, fixture->root.cert));
    assert_false(pkiKeyMatchesCert(fixture->root.key, fixture->server.cert));
    assert_false(pkiKeyMatchesCert(fixture->server.key, fixture->root.cert));
    assert_false(pkiKeyMatchesCert(fixture->client.key, fixture->server.cert));
}

/* The sweep's operations: each starts from objects made outside the sweep and does one kind of work, so each sweep
 * stays short (a sweep costs the square of its operation's allocation count). */
typedef struct SweepInput {
    const char *certPem;
    const char *keyPem;
    const PkiCert *cert;
    const PkiCert *root;
    const PkiKey *key;
    Clock clock;
} SweepInput;

static bool sweepBegin(MemCtx **ctx, Err *err)
{
    *ctx = memCtxNew(NULL, "sweep");
    return *ctx != NULL || errSet(err, errOutOfMemory, "ctx");
}

static bool sweepDecodeCert(void *arg, Err *err)
{
    const SweepInput *input = arg;
    MemCtx *ctx;
    PkiCert *cert;
    bool ok = sweepBegin(&ctx, err) && pkiCertDecodePem(ctx, input->certPem, strlen(input->certPem), &cert, err);
    memCtxFree(ctx);
    return ok;
}

static bool sweepDecodeKey(void *arg, Err *err)
{
    const SweepInput *input = arg;
    MemCtx *ctx;
    PkiKey *key;
    bool ok = sweepBegin(&ctx, err) && pkiKeyDecodePem(ctx, input->keyPem, strlen(input->keyPem), &key, err);
    memCtxFree(ctx);
    return ok;
}

static bool sweepEncode(void *arg, Err *err)
{
    const SweepInput *input = arg;
    MemCtx *ctx;
    char *text;
    size_t len;
    bool ok = sweepBegin(&ctx, err) && pkiCertEncodePem(ctx, input->cert, &text, &len, err) &&
              pkiKeyEncodePem(ctx, input->key, pkiKeyFormatSec1, &text, &len, err) &&
              pkiKeyEncodePem(ctx, input->key, pkiKeyFormatPkcs8, &text, &len, err);
    memCtxFree(ctx);
    return ok;
}

static bool sweepInspect(void *arg, Err *err)
{
    const SweepInput *input = arg;
    MemCtx *ctx;
    PkiNameList names;
    char *text;
    int64_t notBefore, notAfter;
    bool matches = false;
    bool ok = sweepBegin(&ctx, err) && pkiCertCommonName(ctx, input->cert, &text, err) &&
              pkiCertDnsNames(ctx, input->cert, &names, err) &&
              pkiCertValidity(input->cert, &notBefore, &notAfter, err) &&
              pkiCertSerialHex(ctx, input->cert, &text, err) &&
              pkiCertMatchesHost(input->cert, "hippo-primary", &matches, err);
    if (ok && (!matches || names.count != 4))
        ok = errSet(err, errInvalidArgument, "wrong answer");
    memCtxFree(ctx);
    return ok;
}

static bool sweepVerify(void *arg, Err *err)
{
    const SweepInput *input = arg;
    bool chains = false;
    bool ok = pkiCertChainsTo(input->cert, input->root, &chains, err) &&
              pkiCertVerify(input->cert, input->root, "hippo-primary.ns", pkiPurposeServer, input->clock, err);
    return ok && (chains || errSet(err, errInvalidArgument, "wrong answer"));
}

static bool sweepGenerateKey(void *arg, Err *err)
{
    (void)arg;
    MemCtx *ctx;
    PkiKey *key;
    bool ok = sweepBegin(&ctx, err) && pkiKeyGenerate(ctx, &key, err);
    memCtxFree(ctx);
    return ok;
}

static void testAllocationFailures(void **state)
{
    Fixture *fixture = *state;
    SweepInput input = {
        .certPem = certPem(fixture->ctx, fixture->server.cert),
        .keyPem = keyPem(fixture->ctx, fixture->server.key, pkiKeyFormatSec1),
        .cert = fixture->server.cert,
        .root = fixture->root.cert,
        .key = fixture->server.key,
        .clock = fixture->clock,
    };
    /* OpenSSL's one-time set-up is done (pkiWarmUp in main): its failures would be sticky. Every run that meets a
     * failed allocation must report errOutOfMemory, even when OpenSSL recovered on its own. */
    static const struct {
        const char *name;
        HarnessOperation *op;
    } sweeps[] = {
        {"decode certificate", sweepDecodeCert},
        {"decode key", sweepDecodeKey},
        {"encode", sweepEncode},
        {"inspect", sweepInspect},
        {"verify", sweepVerify},
        {"generate key", sweepGenerateKey},
    };
    for (size_t sweepIdx = 0; sweepIdx < sizeof(sweeps) / sizeof(sweeps[0]); sweepIdx++) {
        unsigned allocations = harnessAllocSweepThinned(sweeps[sweepIdx].op, &input);
        print_message("# %s: %u allocations swept\n", sweeps[sweepIdx].name, allocations);
        assert_true(allocations > 2);
    }
}

int main(void)
{
    Err err;
    if (!pkiUseProjectAllocator() || !pkiWarmUp(&err)) {
        fprintf(stderr, "cannot set up OpenSSL\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testOpenSslAllocatesThroughTheProject),
        cmocka_unit_test(testGeneratedKeyIsP256),
        cmocka_unit_test_setup_teardown(testCertPemRoundTrip, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testKeyPemRoundTrip, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testDecodeFindsTheBlockAmongOtherText, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testMalformedCertificates, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testMalformedKeys, setUp, tearDown),
        cmocka_unit_test(testOtherKeyTypes),
        cmocka_unit_test_setup_teardown(testAccessors, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testVerify, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testChainsTo, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testMatchesHost, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testKeyMismatch, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testAllocationFailures, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("pki/cert", tests, NULL, NULL);
}
