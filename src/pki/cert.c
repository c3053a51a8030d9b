/* Certificates and keys: OpenSSL objects behind memory contexts.
 *
 * Ownership. Every OpenSSL object a function creates is either handed to a memory context (pkiCertWrap/pkiKeyWrap
 * register a free callback, so it goes when the context goes) or freed before the function returns, on every path:
 * a function builds its temporaries in one chain of `ok = ok && step` calls and then frees them all at the one point
 * every path passes through. OpenSSL's free functions accept NULL, so that release list needs no conditions.
 *
 * Lies under memory pressure. OpenSSL 3 recovers from some failed allocations by another route and, worse, caches
 * a wrong answer after others (a certificate whose extension cache was computed while memory ran out may no longer
 * count as self-signed). So an operation during which any allocation failed reports errOutOfMemory even when
 * OpenSSL said it succeeded (pkiOpEnd), and an object made then is thrown away: nothing built or judged while memory
 * ran out is trusted, and the caller simply tries again later.
 *
 * Errors. OpenSSL reports failures through a per-thread queue; pkiOpBegin empties it, pkiOpFail takes the first
 * reason from it (the root cause: later entries are the callers that passed it up) and empties it again, so nothing
 * leaks into the next operation or into libcurl, which shares the queue. Whether a failure was an allocation failure
 * is decided by the process-wide count of failed allocations (common/alloc), not by OpenSSL's error codes: OpenSSL 3
 * often reports a failed allocation as a decoding or "internal" error.
 *
 * Key material. Keys are encoded through a secure-memory BIO and decoded from a DER copy that is cleared when freed;
 * they never appear in an error message (only OpenSSL's reason strings do). The PEM text handed to the caller is the
 * caller's to protect.
 *
 * Verification is OpenSSL's own X509_verify_cert with a store that holds the one root and nothing else, so the
 * system's trust store never plays a part. */
#include "pki/cert.intern.h"

#include "common/alloc.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* OpenSSL's allocator, routed to common/alloc. OpenSSL's own default returns NULL for a zero-byte request and frees
 * on a zero-byte resize; allocRaw(0) returns a one-byte block, which OpenSSL frees like any other. */
static void *pkiAllocMalloc(size_t size, const char *file, int line)
{
    (void)file;
    (void)line;
    return allocRaw(size);
}

static void *pkiAllocRealloc(void *ptr, size_t size, const char *file, int line)
{
    (void)file;
    (void)line;
    if (size == 0) {
        allocFree(ptr);
        return NULL;
    }
    return allocRawResize(ptr, size);
}

static void pkiAllocFree(void *ptr, const char *file, int line)
{
    (void)file;
    (void)line;
    allocFree(ptr);
}

bool pkiUseProjectAllocator(void)
{
    return CRYPTO_set_mem_functions(pkiAllocMalloc, pkiAllocRealloc, pkiAllocFree) == 1;
}

void pkiOpBegin(PkiOp *op)
{
    /* Counted first: emptying the queue may be OpenSSL's first allocation on this thread. */
    op->allocFailures = allocFailureCount();
    ERR_clear_error();
}

bool pkiOpSawOom(const PkiOp *op)
{
    return allocFailureCount() != op->allocFailures;
}

bool pkiOpEnd(const PkiOp *op, Err *err)
{
    if (pkiOpSawOom(op))
        return pkiOpFail(op, err, errOutOfMemory, "out of memory in openssl");
    ERR_clear_error();
    return true;
}

bool pkiOpFail(const PkiOp *op, Err *err, ErrCode code, const char *format, ...)
{
    unsigned long first = ERR_peek_error();
    bool oom = pkiOpSawOom(op);
    for (unsigned long queued; (queued = ERR_get_error()) != 0;)
        oom = oom || ERR_GET_REASON(queued) == ERR_R_MALLOC_FAILURE;
    if (err == NULL)
        return false;

    char message[ERR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    if (first == 0)
        return errSet(err, oom ? errOutOfMemory : code, "%s", message);
    const char *reason = ERR_reason_error_string(first);
    const char *lib = ERR_lib_error_string(first);
    if (reason == NULL) {
        char text[256];
        ERR_error_string_n(first, text, sizeof(text));
        return errSet(err, oom ? errOutOfMemory : code, "%s: %s", message, text);
    }
    if (lib == NULL)
        return errSet(err, oom ? errOutOfMemory : code, "%s: %s", message, reason);
    return errSet(err, oom ? errOutOfMemory : code, "%s: %s (%s)", message, reason, lib);
}

static void pkiCertRelease(void *arg)
{
    PkiCert *cert = arg;
    X509_free(cert->x509);
    cert->x509 = NULL;
}

static void pkiKeyRelease(void *arg)
{
    PkiKey *key = arg;
    EVP_PKEY_free(key->pkey);
    key->pkey = NULL;
}

bool pkiCertWrap(MemCtx *ctx, X509 *x509, PkiCert **out, Err *err)
{
    PkiCert *cert = memCtxAlloc(ctx, sizeof(*cert));
    if (cert == NULL) {
        X509_free(x509);
        return errSet(err, errOutOfMemory, "cannot allocate a certificate");
    }
    cert->x509 = x509;
    if (!memCtxOnFree(ctx, pkiCertRelease, cert)) {
        X509_free(x509);
        memCtxRelease(cert);
        return errSet(err, errOutOfMemory, "cannot allocate a certificate");
    }
    *out = cert;
    return true;
}

bool pkiKeyWrap(MemCtx *ctx, EVP_PKEY *pkey, PkiKey **out, Err *err)
{
    PkiKey *key = memCtxAlloc(ctx, sizeof(*key));
    if (key == NULL) {
        EVP_PKEY_free(pkey);
        return errSet(err, errOutOfMemory, "cannot allocate a private key");
    }
    key->pkey = pkey;
    if (!memCtxOnFree(ctx, pkiKeyRelease, key)) {
        EVP_PKEY_free(pkey);
        memCtxRelease(key);
        return errSet(err, errOutOfMemory, "cannot allocate a private key");
    }
    *out = key;
    return true;
}

bool pkiKeyGenerate(MemCtx *ctx, PkiKey **out, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *keyCtx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    bool ok = keyCtx != NULL && EVP_PKEY_keygen_init(keyCtx) > 0 && EVP_PKEY_CTX_set_group_name(keyCtx, "P-256") > 0 &&
              EVP_PKEY_keygen(keyCtx, &pkey) > 0;
    EVP_PKEY_CTX_free(keyCtx);
    if (!ok || !pkiOpEnd(&op, err)) {
        EVP_PKEY_free(pkey);
        return ok ? false : pkiOpFail(&op, err, errSystem, "cannot generate an ECDSA P-256 key");
    }
    return pkiKeyWrap(ctx, pkey, out, err);
}

/* A read-only BIO over caller's PEM text, after the size checks every decoder makes. */
static BIO *pkiPemInput(const char *pem, size_t len, const char *what, const PkiOp *op, Err *err)
{
    if (len == 0) {
        errSet(err, errInvalidArgument, "empty %s pem", what);
        return NULL;
    }
    if (len > PKI_PEM_MAX) {
        errSet(err, errTooLarge, "%s pem of %zu bytes exceeds the limit of %d bytes", what, len, PKI_PEM_MAX);
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        pkiOpFail(op, err, errOutOfMemory, "cannot read %s pem", what);
    return bio;
}

bool pkiCertDecodePem(MemCtx *ctx, const char *pem, size_t len, PkiCert **out, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    BIO *bio = pkiPemInput(pem, len, "certificate", &op, err);
    if (bio == NULL)
        return false;
    X509 *x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (x509 == NULL)
        return pkiOpFail(&op, err, errInvalidArgument, "malformed certificate pem");
    if (!pkiCertUsable(x509, &op, err)) {
        X509_free(x509);
        return false;
    }
    return pkiCertWrap(ctx, x509, out, err);
}

bool pkiCertUsable(X509 *x509, const PkiOp *op, Err *err)
{
    if (X509_get0_pubkey(x509) == NULL)
        return pkiOpFail(op, err, errInvalidArgument, "certificate has a public key that cannot be decoded");
    /* The first query computes OpenSSL's cached view of the extensions; one that does not parse marks the whole
     * certificate invalid. */
    if ((X509_get_extension_flags(x509) & EXFLAG_INVALID) != 0)
        return pkiOpFail(op, err, errInvalidArgument, "certificate has malformed extensions");
    /* A failed allocation may have left a wrong answer in that cache without a word (say, "not self-signed"). */
    return pkiOpEnd(op, err);
}

/* The DER of the first private key block of a PEM text, with the decoder structure its label calls for; NULL with
 * err set when there is none. Other blocks (a certificate before the key in a combined file) are skipped. */
static unsigned char *pkiKeyBlock(BIO *bio, long *derLen, const char **structure, const PkiOp *op, Err *err)
{
    for (;;) {
        char *label = NULL, *header = NULL;
        unsigned char *der = NULL;
        if (PEM_read_bio(bio, &label, &header, &der, derLen) != 1) {
            pkiOpFail(op, err, errInvalidArgument, "malformed private key pem");
            return NULL;
        }
        bool sec1 = strcmp(label, "EC PRIVATE KEY") == 0;
        bool pkcs8 = strcmp(label, "PRIVATE KEY") == 0;
        /* An encrypted key: PKCS#8 says so in its label, the traditional form in a Proc-Type header. */
        bool encrypted = strcmp(label, "ENCRYPTED PRIVATE KEY") == 0 || (sec1 && header[0] != '\0');
        OPENSSL_free(label);
        OPENSSL_free(header);
        if (encrypted) {
            OPENSSL_clear_free(der, (size_t)*derLen);
            errSet(err, errInvalidArgument, "malformed private key pem: encrypted keys are not supported");
            return NULL;
        }
        if (sec1 || pkcs8) {
            *structure = sec1 ? "type-specific" : "PrivateKeyInfo";
            return der;
        }
        OPENSSL_free(der);
    }
}

bool pkiKeyDecodePem(MemCtx *ctx, const char *pem, size_t len, PkiKey **out, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    BIO *bio = pkiPemInput(pem, len, "private key", &op, err);
    if (bio == NULL)
        return false;
    long derLen = 0;
    const char *structure = NULL;
    unsigned char *der = pkiKeyBlock(bio, &derLen, &structure, &op, err);
    BIO_free(bio);
    if (der == NULL)
        return false;
    /* A decoder narrowed to EC keys in the one structure the label names: a tenth of the work (and allocations) of
     * OpenSSL's try-everything PEM_read_bio_PrivateKey, and never a passphrase prompt. */
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *decoder =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", structure, "EC", OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
    const unsigned char *cursor = der;
    size_t remaining = (size_t)derLen;
    bool decoded = decoder != NULL && OSSL_DECODER_from_data(decoder, &cursor, &remaining) == 1 && pkey != NULL;
    OSSL_DECODER_CTX_free(decoder);
    OPENSSL_clear_free(der, (size_t)derLen);
    if (!decoded || !pkiOpEnd(&op, err)) {
        EVP_PKEY_free(pkey);
        return decoded ? false : pkiOpFail(&op, err, errInvalidArgument, "malformed private key pem: not an ec key");
    }
    return pkiKeyWrap(ctx, pkey, out, err);
}

/* Copies what was written to a memory BIO into a new string of ctx. */
static bool pkiBioText(MemCtx *ctx, BIO *bio, char **text, size_t *len, Err *err)
{
    char *data = NULL;
    long size = BIO_get_mem_data(bio, &data);
    if (size <= 0 || data == NULL)
        return errSet(err, errSystem, "openssl wrote an empty pem");
    char *copy = memCtxStrNDup(ctx, data, (size_t)size);
    if (copy == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate %ld bytes of pem", size);
    *text = copy;
    if (len != NULL)
        *len = (size_t)size;
    return true;
}

bool pkiCertEncodePem(MemCtx *ctx, const PkiCert *cert, char **pem, size_t *len, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_X509(bio, cert->x509) != 1) {
        BIO_free(bio);
        return pkiOpFail(&op, err, errSystem, "cannot encode the certificate");
    }
    bool ok = pkiOpEnd(&op, err) && pkiBioText(ctx, bio, pem, len, err);
    BIO_free(bio);
    return ok;
}

bool pkiKeyEncodePem(MemCtx *ctx, const PkiKey *key, PkiKeyFormat format, char **pem, size_t *len, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    BIO *bio = BIO_new(BIO_s_secmem());
    int written = 0;
    if (bio != NULL) {
        if (format == pkiKeyFormatPkcs8)
            written = PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
        else
            written = PEM_write_bio_PrivateKey_traditional(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
    }
    if (written != 1) {
        BIO_free(bio);
        return pkiOpFail(&op, err, errSystem, "cannot encode the private key");
    }
    bool ok = pkiOpEnd(&op, err) && pkiBioText(ctx, bio, pem, len, err);
    BIO_free(bio);
    return ok;
}

bool pkiKeyMatchesCert(const PkiKey *key, const PkiCert *cert)
{
    const EVP_PKEY *certKey = X509_get0_pubkey(cert->x509);
    bool matches = certKey != NULL && EVP_PKEY_eq(certKey, key->pkey) == 1;
    ERR_clear_error();
    return matches;
}

bool pkiKeyIsP256(const PkiKey *key)
{
    char group[64];
    size_t groupLen = 0;
    bool isP256 = EVP_PKEY_is_a(key->pkey, "EC") &&
                  EVP_PKEY_get_group_name(key->pkey, group, sizeof(group), &groupLen) == 1 &&
                  OBJ_sn2nid(group) == NID_X9_62_prime256v1;
    ERR_clear_error();
    return isP256;
}

bool pkiCertEqual(const PkiCert *a, const PkiCert *b)
{
    return X509_cmp(a->x509, b->x509) == 0;
}

bool pkiCertIsCa(const PkiCert *cert)
{
    uint32_t flags = X509_get_extension_flags(cert->x509);
    return (flags & EXFLAG_BCONS) != 0 && (flags & EXFLAG_CA) != 0;
}

unsigned pkiCertUsage(const PkiCert *cert)
{
    if ((X509_get_extension_flags(cert->x509) & EXFLAG_XKUSAGE) == 0)
        return 0;
    /* OpenSSL's summary of the extension: a bit per usage it knows, none for the ones it does not. */
    uint32_t known = X509_get_extended_key_usage(cert->x509);
    unsigned usage = 0;
    if ((known & XKU_SSL_SERVER) != 0)
        usage |= PKI_USAGE_SERVER;
    if ((known & XKU_SSL_CLIENT) != 0)
        usage |= PKI_USAGE_CLIENT;
    if ((known & ~(uint32_t)(XKU_SSL_SERVER | XKU_SSL_CLIENT)) != 0 || known == 0)
        usage |= PKI_USAGE_OTHER;
    return usage;
}

/* The subject's first common name in UTF-8, allocated by OpenSSL (OPENSSL_free it); NULL with err set otherwise. */
static unsigned char *pkiCommonNameUtf8(const PkiCert *cert, int *len, const PkiOp *op, Err *err)
{
    const X509_NAME *subject = X509_get_subject_name(cert->x509);
    int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index < 0) {
        errSet(err, errInvalidArgument, "certificate has no common name");
        return NULL;
    }
    const ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char *utf8 = NULL;
    *len = ASN1_STRING_to_UTF8(&utf8, data);
    if (*len < 0) {
        pkiOpFail(op, err, errInvalidArgument, "certificate has a malformed common name");
        return NULL;
    }
    if (memchr(utf8, '\0', (size_t)*len) != NULL) {
        OPENSSL_free(utf8);
        errSet(err, errInvalidArgument, "certificate common name holds a nul byte");
        return NULL;
    }
    return utf8;
}

bool pkiCertCommonName(MemCtx *ctx, const PkiCert *cert, char **out, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    int len = 0;
    unsigned char *utf8 = pkiCommonNameUtf8(cert, &len, &op, err);
    if (utf8 == NULL)
        return false;
    char *copy = memCtxStrNDup(ctx, (const char *)utf8, (size_t)len);
    OPENSSL_free(utf8);
    if (copy == NULL)
        return errSet(err, errOutOfMemory, "cannot copy the common name");
    if (!pkiOpEnd(&op, err)) {
        memCtxRelease(copy);
        return false;
    }
    *out = copy;
    return true;
}

bool pkiCertSubjectEquals(const PkiCert *cert, const char *commonName, bool *equal, const PkiOp *op, Err *err)
{
    *equal = false;
    if (X509_NAME_entry_count(X509_get_subject_name(cert->x509)) != 1)
        return true;
    int len = 0;
    Err local;
    errClear(&local);
    unsigned char *utf8 = pkiCommonNameUtf8(cert, &len, op, &local);
    if (utf8 == NULL) {
        /* A subject that is not a readable common name is simply not the wanted one, unless memory ran out. */
        if (local.code == errOutOfMemory || pkiOpSawOom(op))
            return errSet(err, errOutOfMemory, "cannot read the common name");
        return true;
    }
    *equal = strlen(commonName) == (size_t)len && memcmp(utf8, commonName, (size_t)len) == 0;
    OPENSSL_free(utf8);
    return true;
}

/* cert's subjectAltName, decoded by OpenSSL (GENERAL_NAMES_free it). *absent tells a missing extension from an
 * error; NULL with err set on an error. */
static GENERAL_NAMES *pkiSubjectAltNames(const PkiCert *cert, bool *absent, const PkiOp *op, Err *err)
{
    int critical = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert->x509, NID_subject_alt_name, &critical, NULL);
    *absent = names == NULL && critical == -1;
    if (names == NULL && !*absent)
        pkiOpFail(op, err, errInvalidArgument, "certificate has a malformed or repeated subjectAltName");
    return names;
}

bool pkiCertDnsNames(MemCtx *ctx, const PkiCert *cert, PkiNameList *out, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    bool absent = false;
    GENERAL_NAMES *names = pkiSubjectAltNames(cert, &absent, &op, err);
    if (names == NULL && !absent)
        return false;
    int total = names != NULL ? sk_GENERAL_NAME_num(names) : 0;
    PkiNameList list = {.items = NULL, .count = 0};
    bool ok = true;
    if (total > 0) {
        list.items = memCtxAlloc(ctx, sizeof(*list.items) * (size_t)total);
        ok = list.items != NULL || errSet(err, errOutOfMemory, "cannot allocate the name list");
    }
    for (int nameIdx = 0; ok && nameIdx < total; nameIdx++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, nameIdx);
        if (name->type != GEN_DNS)
            continue;
        const unsigned char *bytes = ASN1_STRING_get0_data(name->d.dNSName);
        int len = ASN1_STRING_length(name->d.dNSName);
        if (memchr(bytes, '\0', (size_t)len) != NULL) {
            ok = errSet(err, errInvalidArgument, "certificate has a dns name holding a nul byte");
            break;
        }
        char *copy = memCtxStrNDup(ctx, (const char *)bytes, (size_t)len);
        if (copy == NULL) {
            ok = errSet(err, errOutOfMemory, "cannot copy a dns name");
            break;
        }
        list.items[list.count++] = copy;
    }
    GENERAL_NAMES_free(names);
    ok = ok && pkiOpEnd(&op, err);
    if (!ok) {
        for (size_t nameIdx = 0; nameIdx < list.count; nameIdx++)
            memCtxRelease(list.items[nameIdx]);
        memCtxRelease(list.items);
        return false;
    }
    *out = list;
    return true;
}

bool pkiCertSanEquals(const PkiCert *cert, const char *const *names, size_t count, bool *equal, const PkiOp *op,
                      Err *err)
{
    *equal = false;
    bool absent = false;
    Err local;
    errClear(&local);
    GENERAL_NAMES *altNames = pkiSubjectAltNames(cert, &absent, op, &local);
    if (altNames == NULL) {
        if (absent) {
            *equal = count == 0;
            return true;
        }
        /* A malformed extension is a mismatch, not an error, unless memory ran out. */
        if (local.code == errOutOfMemory || pkiOpSawOom(op))
            return errSet(err, errOutOfMemory, "cannot read the subjectAltName");
        return true;
    }
    bool same = (size_t)sk_GENERAL_NAME_num(altNames) == count;
    for (size_t nameIdx = 0; same && nameIdx < count; nameIdx++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(altNames, (int)nameIdx);
        size_t wantedLen = strlen(names[nameIdx]);
        same = name->type == GEN_DNS && (size_t)ASN1_STRING_length(name->d.dNSName) == wantedLen &&
               memcmp(ASN1_STRING_get0_data(name->d.dNSName), names[nameIdx], wantedLen) == 0;
    }
    GENERAL_NAMES_free(altNames);
    *equal = same;
    return true;
}

bool pkiTimeSeconds(const ASN1_TIME *time, int64_t *seconds)
{
    struct tm parsed;
    memset(&parsed, 0, sizeof(parsed));
    if (time == NULL || ASN1_TIME_to_tm(time, &parsed) != 1)
        return false;
    *seconds = (int64_t)timegm(&parsed);
    return true;
}

bool pkiCertValidity(const PkiCert *cert, int64_t *notBeforeMs, int64_t *notAfterMs, Err *err)
{
    int64_t notBefore, notAfter;
    if (!pkiTimeSeconds(X509_get0_notBefore(cert->x509), &notBefore) ||
        !pkiTimeSeconds(X509_get0_notAfter(cert->x509), &notAfter)) {
        ERR_clear_error();
        return errSet(err, errInvalidArgument, "certificate has a malformed validity period");
    }
    *notBeforeMs = notBefore * 1000;
    *notAfterMs = notAfter * 1000;
    return true;
}

bool pkiCertSerialHex(MemCtx *ctx, const PkiCert *cert, char **out, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert->x509), NULL);
    char *hex = serial != NULL ? BN_bn2hex(serial) : NULL;
    BN_free(serial);
    if (hex == NULL)
        return pkiOpFail(&op, err, errSystem, "cannot format the serial number");
    char *copy = memCtxStrDup(ctx, hex);
    OPENSSL_free(hex);
    if (copy == NULL)
        return errSet(err, errOutOfMemory, "cannot copy the serial number");
    if (!pkiOpEnd(&op, err)) {
        memCtxRelease(copy);
        return false;
    }
    *out = copy;
    return true;
}

/* How one X509_verify_cert run is set up. */
typedef struct PkiVerifySetup {
    unsigned long flags; /* X509_V_FLAG_* */
    int64_t atSeconds;   /* the verification time, unless flags has X509_V_FLAG_NO_CHECK_TIME */
    const char *host;    /* NULL: no host check */
    PkiPurpose purpose;
} PkiVerifySetup;

/* Runs X509_verify_cert on cert with root as the only trusted certificate. true when the check ran, with its outcome
 * in *verifyError (X509_V_OK when cert verifies); false with err set when it could not run (memory, OpenSSL). */
static bool pkiVerifyRun(const PkiCert *cert, const PkiCert *root, const PkiVerifySetup *setup, int *verifyError,
                         const PkiOp *op, Err *err)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *storeCtx = X509_STORE_CTX_new();
    bool ready = store != NULL && storeCtx != NULL && X509_STORE_add_cert(store, root->x509) == 1 &&
                 X509_STORE_CTX_init(storeCtx, store, cert->x509, NULL) == 1;
    if (ready) {
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(storeCtx);
        X509_VERIFY_PARAM_set_flags(param, setup->flags);
        if ((setup->flags & X509_V_FLAG_NO_CHECK_TIME) == 0)
            X509_VERIFY_PARAM_set_time(param, (time_t)setup->atSeconds);
        if (setup->host != NULL) {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
            ready = X509_VERIFY_PARAM_set1_host(param, setup->host, 0) == 1;
        }
    }
    if (ready && setup->purpose != pkiPurposeAny)
        ready = X509_STORE_CTX_set_purpose(storeCtx, setup->purpose == pkiPurposeServer ? X509_PURPOSE_SSL_SERVER
                                                                                        : X509_PURPOSE_SSL_CLIENT) == 1;
    bool ran = false;
    if (ready) {
        int verified = X509_verify_cert(storeCtx);
        int code = X509_STORE_CTX_get_error(storeCtx);
        /* A verdict counts only when nothing ran out on the way (pkiOpEnd below): a failed allocation inside the
         * chain builder looks like "unable to get local issuer certificate" or "certificate chain too long". */
        if (verified == 1 ||
            (verified == 0 && code != X509_V_OK && code != X509_V_ERR_OUT_OF_MEM && code != X509_V_ERR_UNSPECIFIED)) {
            *verifyError = verified == 1 ? X509_V_OK : code;
            ran = true;
        }
    }
    X509_STORE_CTX_free(storeCtx);
    X509_STORE_free(store);
    if (!ran)
        return pkiOpFail(op, err, errSystem, "cannot verify the certificate");
    return pkiOpEnd(op, err);
}

bool pkiCertVerify(const PkiCert *cert, const PkiCert *root, const char *host, PkiPurpose purpose, Clock clock,
                   Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    int64_t nowMs = clockWallMs(clock);
    PkiVerifySetup setup = {
        .flags = 0,
        .atSeconds = nowMs >= 0 ? nowMs / 1000 : (nowMs - 999) / 1000,
        .host = host,
        .purpose = purpose,
    };
    int verifyError = X509_V_OK;
    if (!pkiVerifyRun(cert, root, &setup, &verifyError, &op, err))
        return false;
    if (verifyError != X509_V_OK)
        return errSet(err, errInvalidArgument, "certificate does not verify: %s",
                      X509_verify_cert_error_string(verifyError));
    return true;
}

bool pkiCertChainsTo(const PkiCert *cert, const PkiCert *root, bool *chains, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    /* The self-signature of a trusted certificate is not checked by default; a root must pass that check too. */
    PkiVerifySetup setup = {
        .flags = X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_CHECK_SS_SIGNATURE,
        .atSeconds = 0,
        .host = NULL,
        .purpose = pkiPurposeAny,
    };
    int verifyError = X509_V_OK;
    if (!pkiVerifyRun(cert, root, &setup, &verifyError, &op, err))
        return false;
    *chains = verifyError == X509_V_OK;
    return true;
}

bool pkiCertMatchesHost(const PkiCert *cert, const char *host, bool *matches, Err *err)
{
    PkiOp op;
    pkiOpBegin(&op);
    int rc = X509_check_host(cert->x509, host, strlen(host), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL);
    if (rc < 0)
        return pkiOpFail(&op, err, rc == -2 ? errInvalidArgument : errSystem, "cannot match host \"%s\"", host);
    if (!pkiOpEnd(&op, err))
        return false;
    *matches = rc == 1;
    return true;
}
