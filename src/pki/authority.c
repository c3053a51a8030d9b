/* The certificate authority: issuing root and leaf certificates, and the renewal policy.
 *
 * Issuing. pkiIssue builds one certificate from a PkiIssue description with OpenSSL's structure-level API (each
 * extension is built as its ASN.1 structure and added with X509_add1_ext_i2d) rather than from configuration strings,
 * so a DNS name holding a comma or a colon cannot be misread as syntax. The signed certificate is then encoded to DER
 * and parsed back: what the caller holds is byte for byte what a Secret will hold and what a peer will see, with
 * OpenSSL's cached view of the extensions computed from those bytes (as PGO re-parses what crypto/x509 produced).
 *
 * Subject strings are PrintableString when every character allows it and UTF8String otherwise, the choice Go's
 * encoding/asn1 makes for PGO, and are written without OpenSSL's X.520 length check (64 characters for a common name):
 * PGO's common names are FQDNs that can be longer.
 *
 * Policy. The NeedsRenewal functions run their checks in a fixed order and report the first that fails, so a log line
 * names the most fundamental problem (a wrong key before an expiry, an expiry before a renamed Service). A check whose
 * answer may have been spoiled by a failed allocation turns into errOutOfMemory rather than a renewal: renewing
 * because memory ran out would replace good certificates for nothing.
 *
 * Every OpenSSL object made here is freed before the function returns (each builder frees its temporaries at the one
 * point all its paths pass through) or handed to a memory context through pkiCertWrap/pkiKeyWrap; a pair is built in
 * its own child context, freed whole on failure. */
#include "pki/authority.h"

#include "pki/cert.intern.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <string.h>

#define PKI_DAY_SECONDS INT64_C(86400)

const char *pkiRenewalName(PkiRenewal reason)
{
    switch (reason) {
        case pkiRenewalNone:
            return "none";
        case pkiRenewalMissing:
            return "missing";
        case pkiRenewalMalformed:
            return "malformed";
        case pkiRenewalKeyMismatch:
            return "key-mismatch";
        case pkiRenewalProfile:
            return "profile";
        case pkiRenewalUntrusted:
            return "untrusted";
        case pkiRenewalNotYetValid:
            return "not-yet-valid";
        case pkiRenewalExpired:
            return "expired";
        case pkiRenewalDue:
            return "due";
        case pkiRenewalNames:
            return "names";
        case pkiRenewalUsage:
            return "usage";
    }
    return "unknown";
}

/* Whole seconds since the epoch, rounded down (also before 1970). */
static int64_t pkiNowSeconds(Clock clock)
{
    int64_t nowMs = clockWallMs(clock);
    return nowMs >= 0 ? nowMs / 1000 : (nowMs - 999) / 1000;
}

/* X.680 PrintableString: letters, digits, space and '()+,-./:=? */
static bool pkiIsPrintableString(const char *text)
{
    for (const char *cursor = text; *cursor != '\0'; cursor++) {
        char c = *cursor;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr(" '()+,-./:=?", c) == NULL)
            return false;
    }
    return true;
}

/* A name of a spec: 1..PKI_NAME_MAX printable ASCII bytes; spaces only when allowSpace. */
static bool pkiNameValid(const char *name, bool allowSpace)
{
    if (name == NULL)
        return false;
    size_t len = strlen(name);
    if (len == 0 || len > PKI_NAME_MAX)
        return false;
    for (size_t charIdx = 0; charIdx < len; charIdx++) {
        unsigned char c = (unsigned char)name[charIdx];
        if (c < 0x20 || c > 0x7e || (c == ' ' && !allowSpace))
            return false;
    }
    return true;
}

static bool pkiSpecCheck(const PkiLeafSpec *spec, Err *err)
{
    if (!pkiNameValid(spec->commonName, true))
        return errSet(err, errInvalidArgument, "leaf common name must be 1 to %d printable ascii characters",
                      PKI_NAME_MAX);
    if (spec->dnsNameCount > PKI_DNS_NAMES_MAX)
        return errSet(err, errInvalidArgument, "leaf has %zu dns names, more than %d", spec->dnsNameCount,
                      PKI_DNS_NAMES_MAX);
    if (spec->dnsNameCount > 0 && spec->dnsNames == NULL)
        return errSet(err, errInvalidArgument, "leaf dns name list is missing");
    for (size_t nameIdx = 0; nameIdx < spec->dnsNameCount; nameIdx++)
        if (!pkiNameValid(spec->dnsNames[nameIdx], false))
            return errSet(err, errInvalidArgument,
                          "leaf dns name %zu must be 1 to %d printable ascii characters without spaces", nameIdx,
                          PKI_NAME_MAX);
    if ((spec->usage & ~(PKI_USAGE_SERVER | PKI_USAGE_CLIENT)) != 0)
        return errSet(err, errInvalidArgument, "leaf usage %#x is not a combination of server and client", spec->usage);
    return true;
}

/* One certificate to issue. */
typedef struct PkiIssue {
    const PkiKey *subjectKey; /* whose public key is certified */
    const char *commonName;
    const char *const *dnsNames;
    size_t dnsNameCount;
    unsigned usage; /* PKI_USAGE_* */
    bool isCa;      /* root profile instead of leaf profile */
    int64_t notBefore;
    int64_t notAfter;
    const PkiCert *issuer;   /* NULL: self-signed */
    const PkiKey *issuerKey; /* signs */
} PkiIssue;

static bool pkiSetSerial(X509 *x509)
{
    unsigned char bytes[PKI_SERIAL_BITS / 8];
    BIGNUM *serial = NULL;
    bool ok = RAND_bytes(bytes, sizeof(bytes)) == 1 && (serial = BN_bin2bn(bytes, sizeof(bytes), NULL)) != NULL;
    /* Zero is not a valid serial number (RFC 5280 4.1.2.2); one chance in 2^128. */
    if (ok && BN_is_zero(serial))
        ok = BN_one(serial) == 1;
    ok = ok && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x509)) != NULL;
    BN_free(serial);
    return ok;
}

static bool pkiAddBasicConstraints(X509 *x509, bool isCa)
{
    BASIC_CONSTRAINTS *constraints = BASIC_CONSTRAINTS_new();
    bool ok = constraints != NULL;
    if (ok && isCa) {
        /* DER's TRUE is 0xff, and OpenSSL writes this field's byte as is: 1 would give a BER-only encoding that
         * OpenSSL accepts and Go's crypto/x509 (PGO) rejects as "invalid basic constraints". */
        constraints->ca = 0xff;
        ok = (constraints->pathlen = ASN1_INTEGER_new()) != NULL && ASN1_INTEGER_set(constraints->pathlen, 0) == 1;
    }
    ok = ok && X509_add1_ext_i2d(x509, NID_basic_constraints, constraints, 1, X509V3_ADD_DEFAULT) == 1;
    BASIC_CONSTRAINTS_free(constraints);
    return ok;
}

/* Bit numbers of keyUsage (RFC 5280 4.2.1.3). */
enum {
    pkiKeyUsageDigitalSignature = 0,
    pkiKeyUsageKeyEncipherment = 2,
    pkiKeyUsageKeyCertSign = 5,
    pkiKeyUsageCrlSign = 6,
};

static bool pkiAddKeyUsage(X509 *x509, bool isCa)
{
    ASN1_BIT_STRING *usage = ASN1_BIT_STRING_new();
    bool ok = usage != NULL;
    if (ok && isCa)
        ok = ASN1_BIT_STRING_set_bit(usage, pkiKeyUsageKeyCertSign, 1) == 1 &&
             ASN1_BIT_STRING_set_bit(usage, pkiKeyUsageCrlSign, 1) == 1;
    else if (ok)
        ok = ASN1_BIT_STRING_set_bit(usage, pkiKeyUsageDigitalSignature, 1) == 1 &&
             ASN1_BIT_STRING_set_bit(usage, pkiKeyUsageKeyEncipherment, 1) == 1;
    ok = ok && X509_add1_ext_i2d(x509, NID_key_usage, usage, 1, X509V3_ADD_DEFAULT) == 1;
    ASN1_BIT_STRING_free(usage);
    return ok;
}

static bool pkiAddExtendedKeyUsage(X509 *x509, unsigned usage)
{
    if (usage == 0)
        return true;
    EXTENDED_KEY_USAGE *purposes = sk_ASN1_OBJECT_new_null();
    bool ok = purposes != NULL;
    /* OBJ_nid2obj returns OpenSSL's static objects: nothing to free when a push fails. */
    if (ok && (usage & PKI_USAGE_SERVER) != 0)
        ok = sk_ASN1_OBJECT_push(purposes, OBJ_nid2obj(NID_server_auth)) > 0;
    if (ok && (usage & PKI_USAGE_CLIENT) != 0)
        ok = sk_ASN1_OBJECT_push(purposes, OBJ_nid2obj(NID_client_auth)) > 0;
    ok = ok && X509_add1_ext_i2d(x509, NID_ext_key_usage, purposes, 0, X509V3_ADD_DEFAULT) == 1;
    sk_ASN1_OBJECT_pop_free(purposes, ASN1_OBJECT_free);
    return ok;
}

static bool pkiAddSubjectAltName(X509 *x509, const char *const *dnsNames, size_t count)
{
    if (count == 0)
        return true;
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    bool ok = names != NULL;
    for (size_t nameIdx = 0; ok && nameIdx < count; nameIdx++) {
        GENERAL_NAME *name = GENERAL_NAME_new();
        ASN1_IA5STRING *text = ASN1_IA5STRING_new();
        ok = name != NULL && text != NULL && ASN1_STRING_set(text, dnsNames[nameIdx], -1) == 1;
        if (ok) {
            GENERAL_NAME_set0_value(name, GEN_DNS, text);
            text = NULL;
            ok = sk_GENERAL_NAME_push(names, name) > 0;
            if (ok)
                name = NULL;
        }
        ASN1_IA5STRING_free(text);
        GENERAL_NAME_free(name);
    }
    ok = ok && X509_add1_ext_i2d(x509, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(names);
    return ok;
}

/* subjectKeyIdentifier: SHA-1 of the subject public key bits (RFC 5280 4.2.1.2, method 1; Go and OpenSSL's "hash"). */
static bool pkiKeyIdentifier(const X509 *x509, ASN1_OCTET_STRING **out)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digestLen = 0;
    ASN1_OCTET_STRING *identifier = NULL;
    bool ok = X509_pubkey_digest(x509, EVP_sha1(), digest, &digestLen) == 1 &&
              (identifier = ASN1_OCTET_STRING_new()) != NULL &&
              ASN1_OCTET_STRING_set(identifier, digest, (int)digestLen) == 1;
    if (!ok) {
        ASN1_OCTET_STRING_free(identifier);
        return false;
    }
    *out = identifier;
    return true;
}

static bool pkiAddKeyIdentifiers(X509 *x509, X509 *issuer)
{
    ASN1_OCTET_STRING *subjectId = NULL;
    bool ok = pkiKeyIdentifier(x509, &subjectId) &&
              X509_add1_ext_i2d(x509, NID_subject_key_identifier, subjectId, 0, X509V3_ADD_DEFAULT) == 1;
    ASN1_OCTET_STRING_free(subjectId);
    if (!ok || issuer == NULL)
        return ok;

    /* The issuer's own identifier when it has one (ours always do), else one computed the same way. */
    AUTHORITY_KEYID *authorityId = AUTHORITY_KEYID_new();
    ok = authorityId != NULL;
    if (ok) {
        const ASN1_OCTET_STRING *issuerId = X509_get0_subject_key_id(issuer);
        if (issuerId != NULL)
            ok = (authorityId->keyid = ASN1_OCTET_STRING_dup(issuerId)) != NULL;
        else
            ok = pkiKeyIdentifier(issuer, &authorityId->keyid);
    }
    ok = ok && X509_add1_ext_i2d(x509, NID_authority_key_identifier, authorityId, 0, X509V3_ADD_DEFAULT) == 1;
    AUTHORITY_KEYID_free(authorityId);
    return ok;
}

static bool pkiSetNames(X509 *x509, const char *commonName, X509 *issuer)
{
    X509_NAME *subject = X509_NAME_new();
    int type = pkiIsPrintableString(commonName) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
    bool ok =
        subject != NULL &&
        X509_NAME_add_entry_by_NID(subject, NID_commonName, type, (const unsigned char *)commonName, -1, -1, 0) == 1 &&
        X509_set_subject_name(x509, subject) == 1 &&
        X509_set_issuer_name(x509, issuer != NULL ? X509_get_subject_name(issuer) : subject) == 1;
    X509_NAME_free(subject);
    return ok;
}

/* The signed certificate issue describes, as parsed back from its DER; NULL with err set. */
static X509 *pkiIssue(const PkiIssue *issue, const PkiOp *op, Err *err)
{
    X509 *issuer = issue->issuer != NULL ? issue->issuer->x509 : NULL;
    X509 *built = X509_new();
    unsigned char *der = NULL;
    X509 *parsed = NULL;
    bool ok = built != NULL && X509_set_version(built, X509_VERSION_3) == 1 && pkiSetSerial(built) &&
              pkiSetNames(built, issue->commonName, issuer) &&
              ASN1_TIME_set(X509_getm_notBefore(built), (time_t)issue->notBefore) != NULL &&
              ASN1_TIME_set(X509_getm_notAfter(built), (time_t)issue->notAfter) != NULL &&
              X509_set_pubkey(built, issue->subjectKey->pkey) == 1 && pkiAddBasicConstraints(built, issue->isCa) &&
              pkiAddKeyUsage(built, issue->isCa) && pkiAddExtendedKeyUsage(built, issue->usage) &&
              pkiAddSubjectAltName(built, issue->dnsNames, issue->dnsNameCount) &&
              pkiAddKeyIdentifiers(built, issuer) && X509_sign(built, issue->issuerKey->pkey, EVP_sha384()) > 0;
    if (ok) {
        int derLen = i2d_X509(built, &der);
        const unsigned char *cursor = der;
        ok = derLen > 0 && (parsed = d2i_X509(NULL, &cursor, derLen)) != NULL;
    }
    OPENSSL_free(der);
    X509_free(built);
    if (!ok) {
        X509_free(parsed);
        pkiOpFail(op, err, errSystem, "cannot issue the certificate for \"%s\"", issue->commonName);
        return NULL;
    }
    if (!pkiCertUsable(parsed, op, err)) {
        X509_free(parsed);
        return NULL;
    }
    return parsed;
}

bool pkiRootNew(MemCtx *ctx, Clock clock, PkiRoot *out, Err *err)
{
    MemCtx *own = memCtxNew(ctx, "pki root");
    if (own == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a root");
    PkiRoot root = {.ctx = own, .cert = NULL, .key = NULL};
    if (!pkiKeyGenerate(own, &root.key, err)) {
        memCtxFree(own);
        return errPrefix(err, "cannot create the root");
    }
    PkiOp op;
    pkiOpBegin(&op);
    int64_t now = pkiNowSeconds(clock);
    PkiIssue issue = {
        .subjectKey = root.key,
        .commonName = PKI_ROOT_COMMON_NAME,
        .dnsNames = NULL,
        .dnsNameCount = 0,
        .usage = 0,
        .isCa = true,
        .notBefore = now - PKI_BACKDATE_SECONDS,
        .notAfter = now + PKI_ROOT_LIFETIME_DAYS * PKI_DAY_SECONDS,
        .issuer = NULL,
        .issuerKey = root.key,
    };
    X509 *x509 = pkiIssue(&issue, &op, err);
    if (x509 == NULL || !pkiCertWrap(own, x509, &root.cert, err)) {
        memCtxFree(own);
        return false;
    }
    *out = root;
    return true;
}

/* Decodes a certificate and a key into a new child context of ctx (*own), which the caller frees. */
static bool pkiPairDecode(MemCtx *ctx, const char *name, const char *certPem, size_t certLen, const char *keyPem,
                          size_t keyLen, MemCtx **own, PkiCert **cert, PkiKey **key, Err *err)
{
    *own = memCtxNew(ctx, name);
    if (*own == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a %s", name);
    if (!pkiCertDecodePem(*own, certPem, certLen, cert, err) || !pkiKeyDecodePem(*own, keyPem, keyLen, key, err)) {
        memCtxFree(*own);
        *own = NULL;
        return false;
    }
    return true;
}

bool pkiRootDecode(MemCtx *ctx, const char *certPem, size_t certLen, const char *keyPem, size_t keyLen, PkiRoot *out,
                   Err *err)
{
    PkiRoot root;
    if (!pkiPairDecode(ctx, "pki root", certPem, certLen, keyPem, keyLen, &root.ctx, &root.cert, &root.key, err))
        return errPrefix(err, "root");
    PkiOp op;
    pkiOpBegin(&op);
    bool ok = true;
    if (!pkiCertIsCa(root.cert))
        ok = pkiOpFail(&op, err, errInvalidArgument, "root certificate is not a certificate authority");
    else if (!pkiKeyMatchesCert(root.key, root.cert))
        ok = pkiOpFail(&op, err, errInvalidArgument, "root key is not the key of the root certificate");
    else
        ok = pkiOpEnd(&op, err);
    if (!ok) {
        memCtxFree(root.ctx);
        return false;
    }
    *out = root;
    return true;
}

bool pkiLeafDecode(MemCtx *ctx, const char *certPem, size_t certLen, const char *keyPem, size_t keyLen, PkiLeaf *out,
                   Err *err)
{
    PkiLeaf leaf;
    if (!pkiPairDecode(ctx, "pki leaf", certPem, certLen, keyPem, keyLen, &leaf.ctx, &leaf.cert, &leaf.key, err))
        return errPrefix(err, "leaf");
    PkiOp op;
    pkiOpBegin(&op);
    bool ok = pkiKeyMatchesCert(leaf.key, leaf.cert)
                  ? pkiOpEnd(&op, err)
                  : pkiOpFail(&op, err, errInvalidArgument, "leaf key is not the key of the leaf certificate");
    if (!ok) {
        memCtxFree(leaf.ctx);
        return false;
    }
    *out = leaf;
    return true;
}

/* The time-based part of the policy for cert at now. A validity period OpenSSL cannot read is a profile problem. */
static PkiRenewal pkiRenewalByTime(const PkiCert *cert, int64_t now)
{
    int64_t notBefore, notAfter;
    if (!pkiTimeSeconds(X509_get0_notBefore(cert->x509), &notBefore) ||
        !pkiTimeSeconds(X509_get0_notAfter(cert->x509), &notAfter) || notAfter <= notBefore)
        return pkiRenewalProfile;
    if (now < notBefore)
        return pkiRenewalNotYetValid;
    if (now >= notAfter)
        return pkiRenewalExpired;
    /* PGO's isBeforeRenewalTime: keep while now < notAfter - lifetime / 3. */
    if (now >= notAfter - (notAfter - notBefore) / PKI_RENEWAL_RATIO)
        return pkiRenewalDue;
    return pkiRenewalNone;
}

/* Ends a NeedsRenewal check: a verdict reached while an allocation failed is not trusted either way. */
static bool pkiRenewalDecided(PkiRenewal reason, PkiRenewal *out, const PkiOp *op, Err *err)
{
    if (!pkiOpEnd(op, err))
        return errPrefix(err, "cannot check the certificate");
    *out = reason;
    return true;
}

bool pkiRootNeedsRenewal(const PkiRoot *root, Clock clock, PkiRenewal *reason, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    X509 *x509 = root->cert->x509;
    if (!pkiKeyMatchesCert(root->key, root->cert))
        return pkiRenewalDecided(pkiRenewalKeyMismatch, reason, &op, err);
    if (!pkiKeyIsP256(root->key) || !pkiCertIsCa(root->cert) || (X509_get_key_usage(x509) & KU_KEY_CERT_SIGN) == 0 ||
        X509_get0_subject_key_id(x509) == NULL)
        return pkiRenewalDecided(pkiRenewalProfile, reason, &op, err);
    bool chains = false;
    if (!pkiCertChainsTo(root->cert, root->cert, &chains, err))
        return false;
    if (!chains)
        return pkiRenewalDecided(pkiRenewalUntrusted, reason, &op, err);
    return pkiRenewalDecided(pkiRenewalByTime(root->cert, pkiNowSeconds(clock)), reason, &op, err);
}

bool pkiLeafNeedsRenewal(const PkiLeaf *leaf, const PkiRoot *root, const PkiLeafSpec *want, Clock clock,
                         PkiRenewal *reason, Err *err)
{
    if (!pkiSpecCheck(want, err))
        return false;
    PkiOp op;
    pkiOpBegin(&op);
    X509 *x509 = leaf->cert->x509;
    if (!pkiKeyMatchesCert(leaf->key, leaf->cert))
        return pkiRenewalDecided(pkiRenewalKeyMismatch, reason, &op, err);
    uint32_t flags = X509_get_extension_flags(x509);
    if (!pkiKeyIsP256(leaf->key) || (flags & EXFLAG_BCONS) == 0 || (flags & EXFLAG_CA) != 0 ||
        (X509_get_key_usage(x509) & KU_DIGITAL_SIGNATURE) == 0)
        return pkiRenewalDecided(pkiRenewalProfile, reason, &op, err);
    bool chains = false;
    if (!pkiCertChainsTo(leaf->cert, root->cert, &chains, err))
        return false;
    if (!chains)
        return pkiRenewalDecided(pkiRenewalUntrusted, reason, &op, err);
    PkiRenewal byTime = pkiRenewalByTime(leaf->cert, pkiNowSeconds(clock));
    if (byTime != pkiRenewalNone)
        return pkiRenewalDecided(byTime, reason, &op, err);
    bool subjectEqual = false, sanEqual = false;
    if (!pkiCertSubjectEquals(leaf->cert, want->commonName, &subjectEqual, &op, err) ||
        !pkiCertSanEquals(leaf->cert, want->dnsNames, want->dnsNameCount, &sanEqual, &op, err))
        return false;
    if (!subjectEqual || !sanEqual)
        return pkiRenewalDecided(pkiRenewalNames, reason, &op, err);
    if (pkiCertUsage(leaf->cert) != want->usage)
        return pkiRenewalDecided(pkiRenewalUsage, reason, &op, err);
    return pkiRenewalDecided(pkiRenewalNone, reason, &op, err);
}

bool pkiLeafNew(MemCtx *ctx, const PkiRoot *root, const PkiLeafSpec *spec, Clock clock, PkiLeaf *out, Err *err)
{
    if (!pkiSpecCheck(spec, err))
        return false;
    PkiOp rootOp;
    pkiOpBegin(&rootOp);
    if (!pkiKeyMatchesCert(root->key, root->cert))
        return pkiOpFail(&rootOp, err, errInvalidArgument, "root key is not the key of the root certificate");
    int64_t now = pkiNowSeconds(clock);
    int64_t rootNotAfter;
    if (!pkiTimeSeconds(X509_get0_notAfter(root->cert->x509), &rootNotAfter)) {
        ERR_clear_error();
        return errSet(err, errInvalidArgument, "root certificate has a malformed validity period");
    }
    if (rootNotAfter <= now)
        return errSet(err, errInvalidArgument, "root certificate has expired");

    MemCtx *own = memCtxNew(ctx, "pki leaf");
    if (own == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a leaf");
    PkiLeaf leaf = {.ctx = own, .cert = NULL, .key = NULL};
    if (!pkiKeyGenerate(own, &leaf.key, err)) {
        memCtxFree(own);
        return errPrefix(err, "cannot create the leaf \"%s\"", spec->commonName);
    }
    PkiOp op;
    pkiOpBegin(&op);
    int64_t notAfter = now + PKI_LEAF_LIFETIME_DAYS * PKI_DAY_SECONDS;
    PkiIssue issue = {
        .subjectKey = leaf.key,
        .commonName = spec->commonName,
        .dnsNames = spec->dnsNames,
        .dnsNameCount = spec->dnsNameCount,
        .usage = spec->usage,
        .isCa = false,
        .notBefore = now - PKI_BACKDATE_SECONDS,
        /* A leaf outliving its root would be dead weight: cut it to the root's expiry. */
        .notAfter = notAfter < rootNotAfter ? notAfter : rootNotAfter,
        .issuer = root->cert,
        .issuerKey = root->key,
    };
    X509 *x509 = pkiIssue(&issue, &op, err);
    if (x509 == NULL || !pkiCertWrap(own, x509, &leaf.cert, err)) {
        memCtxFree(own);
        return false;
    }
    *out = leaf;
    return true;
}

/* What stored PEM is worth: decodes it into a pair in a child context of ctx (*own, NULL when nothing decoded) or
 * says why there is nothing to keep. false only on an error that is not about the data (memory). */
static bool pkiStoredPair(MemCtx *ctx, const char *name, const char *certPem, size_t certLen, const char *keyPem,
                          size_t keyLen, MemCtx **own, PkiCert **cert, PkiKey **key, PkiRenewal *reason, Err *err)
{
    *own = NULL;
    if (certPem == NULL || certLen == 0 || keyPem == NULL || keyLen == 0) {
        *reason = pkiRenewalMissing;
        return true;
    }
    Err decodeErr;
    errClear(&decodeErr);
    if (pkiPairDecode(ctx, name, certPem, certLen, keyPem, keyLen, own, cert, key, &decodeErr)) {
        *reason = pkiRenewalNone;
        return true;
    }
    if (decodeErr.code == errInvalidArgument || decodeErr.code == errTooLarge) {
        *reason = pkiRenewalMalformed;
        return true;
    }
    if (err != NULL)
        *err = decodeErr;
    return false;
}

bool pkiRootEnsure(MemCtx *ctx, const char *certPem, size_t certLen, const char *keyPem, size_t keyLen, Clock clock,
                   PkiRoot *out, PkiRenewal *renewed, Err *err)
{
    PkiRoot stored = {.ctx = NULL, .cert = NULL, .key = NULL};
    PkiRenewal reason = pkiRenewalNone;
    if (!pkiStoredPair(ctx, "pki root", certPem, certLen, keyPem, keyLen, &stored.ctx, &stored.cert, &stored.key,
                       &reason, err))
        return false;
    if (stored.ctx != NULL) {
        if (!pkiRootNeedsRenewal(&stored, clock, &reason, err)) {
            memCtxFree(stored.ctx);
            return false;
        }
        if (reason == pkiRenewalNone) {
            *out = stored;
            *renewed = pkiRenewalNone;
            return true;
        }
        memCtxFree(stored.ctx);
    }
    if (!pkiRootNew(ctx, clock, out, err))
        return false;
    *renewed = reason;
    return true;
}

bool pkiLeafEnsure(MemCtx *ctx, const PkiRoot *root, const char *certPem, size_t certLen, const char *keyPem,
                   size_t keyLen, const PkiLeafSpec *want, Clock clock, PkiLeaf *out, PkiRenewal *renewed, Err *err)
{
    if (!pkiSpecCheck(want, err))
        return false;
    PkiLeaf stored = {.ctx = NULL, .cert = NULL, .key = NULL};
    PkiRenewal reason = pkiRenewalNone;
    if (!pkiStoredPair(ctx, "pki leaf", certPem, certLen, keyPem, keyLen, &stored.ctx, &stored.cert, &stored.key,
                       &reason, err))
        return false;
    if (stored.ctx != NULL) {
        if (!pkiLeafNeedsRenewal(&stored, root, want, clock, &reason, err)) {
            memCtxFree(stored.ctx);
            return false;
        }
        if (reason == pkiRenewalNone) {
            *out = stored;
            *renewed = pkiRenewalNone;
            return true;
        }
        memCtxFree(stored.ctx);
    }
    if (!pkiLeafNew(ctx, root, want, clock, out, err))
        return false;
    *renewed = reason;
    return true;
}

bool pkiWarmUp(Err *err)
{
    MemCtx *ctx = memCtxNew(NULL, "pki warm-up");
    if (ctx == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate the pki warm-up");
    static const char *const names[] = {"warm-up"};
    PkiLeafSpec spec = {.commonName = "warm-up", .dnsNames = names, .dnsNameCount = 1, .usage = PKI_USAGE_SERVER};
    Clock clock = clockSystem();
    PkiRoot root, decoded;
    PkiLeaf leaf;
    PkiRenewal reason;
    char *certPem, *keyPem;
    size_t certLen, keyLen;
    bool ok = pkiRootNew(ctx, clock, &root, err) && pkiLeafNew(ctx, &root, &spec, clock, &leaf, err) &&
              pkiLeafNeedsRenewal(&leaf, &root, &spec, clock, &reason, err) &&
              pkiCertVerify(leaf.cert, root.cert, "warm-up", pkiPurposeServer, clock, err) &&
              pkiCertEncodePem(ctx, root.cert, &certPem, &certLen, err) &&
              pkiKeyEncodePem(ctx, root.key, pkiKeyFormatSec1, &keyPem, &keyLen, err) &&
              pkiKeyEncodePem(ctx, root.key, pkiKeyFormatPkcs8, &keyPem, &keyLen, err) &&
              pkiRootDecode(ctx, certPem, certLen, keyPem, keyLen, &decoded, err);
    memCtxFree(ctx);
    return ok || errPrefix(err, "openssl does not work");
}
