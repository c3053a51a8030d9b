/* Certificates and private keys: the objects of the operator's PKI, their PEM forms, inspection and verification.
 *
 * A PkiCert wraps one X.509 certificate, a PkiKey one private key. Both are created inside a memory context and
 * released with it (a free callback frees the OpenSSL object), so callers never call an OpenSSL free function. They
 * are immutable once made: every function here takes them const.
 *
 * PEM is what the operator stores in Secrets. Certificates are written as "CERTIFICATE" blocks. Keys are written, by
 * default, as SEC1 "EC PRIVATE KEY" blocks: that is what PGO writes to `root.key`, `tls.key`, `dns.key` and the only
 * form PGO reads back, so a Secret written by either operator is understood by the other. PKCS#8 ("PRIVATE KEY") can
 * be asked for and is accepted on input. Decoding takes the first block of the expected kind and ignores text around
 * it (as PGO's pem.Decode does); encrypted keys are refused, never prompted for.
 *
 * Errors: malformed or unsuitable input is errInvalidArgument, input beyond PKI_PEM_MAX is errTooLarge, an allocation
 * failure anywhere (ours or OpenSSL's, when OpenSSL allocates through pkiUseProjectAllocator) is errOutOfMemory, and
 * any other OpenSSL failure is errSystem. Messages carry OpenSSL's reason ("no start line") but never key material.
 *
 * Time is wall-clock milliseconds since the Unix epoch, read from a Clock (common/clock.h) so tests can move it. */
#ifndef PKI_CERT_H
#define PKI_CERT_H

#include "common/clock.h"
#include "common/error.h"
#include "common/memctx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest PEM input accepted, in bytes: a certificate with a few dozen names is under 2 KiB, and a Secret value
 * cannot exceed 1 MiB anyway. */
#define PKI_PEM_MAX (64 * 1024)

typedef struct PkiCert PkiCert;
typedef struct PkiKey PkiKey;

/* Extended key usages, as a bit set. 0 means "no extendedKeyUsage extension", which places no restriction on use
 * (PGO issues its certificates that way). */
#define PKI_USAGE_SERVER 1u /* TLS Web Server Authentication, id-kp-serverAuth */
#define PKI_USAGE_CLIENT 2u /* TLS Web Client Authentication, id-kp-clientAuth */
#define PKI_USAGE_OTHER  4u /* any other extended key usage (never issued by us) */

typedef enum PkiKeyFormat {
    pkiKeyFormatSec1,  /* "EC PRIVATE KEY" (RFC 5915), PGO's format */
    pkiKeyFormatPkcs8, /* "PRIVATE KEY" (RFC 5208), unencrypted */
} PkiKeyFormat;

/* What a certificate is verified for: nothing beyond the chain, or TLS server or client use (the extended key usage
 * must then allow it, when present). */
typedef enum PkiPurpose {
    pkiPurposeAny,
    pkiPurposeServer,
    pkiPurposeClient,
} PkiPurpose;

/* DNS names copied out of a certificate, in certificate order. */
typedef struct PkiNameList {
    char **items;
    size_t count;
} PkiNameList;

/* Makes OpenSSL allocate through common/alloc (allocRaw, allocRawResize, allocFree), so the allocation-failure sweep
 * of the tests reaches OpenSSL's allocations too, and so that OpenSSL's failed allocations are recognised as such.
 * Must run before OpenSSL allocates anything (first thing in main): false when OpenSSL has already allocated with
 * its default allocator, which it then keeps (everything still works). Calling it again later is harmless. */
bool pkiUseProjectAllocator(void);

/* A new ECDSA key on the NIST P-256 curve, owned by ctx. */
bool pkiKeyGenerate(MemCtx *ctx, PkiKey **out, Err *err) MUST_CHECK;

/* The first certificate in a PEM text of len bytes (need not be NUL-terminated), owned by ctx. */
bool pkiCertDecodePem(MemCtx *ctx, const char *pem, size_t len, PkiCert **out, Err *err) MUST_CHECK;

/* The first private key in a PEM text, owned by ctx: an unencrypted EC key, in an "EC PRIVATE KEY" (SEC1) or a
 * "PRIVATE KEY" (PKCS#8) block. Blocks of other kinds before it are skipped; keys of other types (RSA) and encrypted
 * keys are errInvalidArgument, as nothing this PKI reads holds them. */
bool pkiKeyDecodePem(MemCtx *ctx, const char *pem, size_t len, PkiKey **out, Err *err) MUST_CHECK;

/* PEM texts in new NUL-terminated blocks of ctx; *len (may be NULL) excludes the NUL. */
bool pkiCertEncodePem(MemCtx *ctx, const PkiCert *cert, char **pem, size_t *len, Err *err) MUST_CHECK;
bool pkiKeyEncodePem(MemCtx *ctx, const PkiKey *key, PkiKeyFormat format, char **pem, size_t *len, Err *err) MUST_CHECK;

/* Whether key is the private half of cert's public key. Like pkiKeyIsP256, it may answer false when memory runs out
 * on the way; the checks of authority.h that rely on either tell that case apart and report errOutOfMemory. */
bool pkiKeyMatchesCert(const PkiKey *key, const PkiCert *cert);

/* Whether key is an ECDSA key on P-256, the only kind this PKI issues. */
bool pkiKeyIsP256(const PkiKey *key);

/* Whether two certificates are the same certificate (same DER encoding). */
bool pkiCertEqual(const PkiCert *a, const PkiCert *b);

/* Whether cert's basicConstraints say it is a certificate authority. */
bool pkiCertIsCa(const PkiCert *cert);

/* cert's extended key usages as PKI_USAGE_* bits; 0 when it has no extendedKeyUsage extension. */
unsigned pkiCertUsage(const PkiCert *cert);

/* The subject's (first) common name as a new string of ctx; errInvalidArgument when there is none or it holds a
 * NUL byte. */
bool pkiCertCommonName(MemCtx *ctx, const PkiCert *cert, char **out, Err *err) MUST_CHECK;

/* The DNS entries of cert's subjectAltName, copied into ctx (an empty list when it has none). Entries of other kinds
 * (IP addresses, e-mail) are skipped. */
bool pkiCertDnsNames(MemCtx *ctx, const PkiCert *cert, PkiNameList *out, Err *err) MUST_CHECK;

/* notBefore and notAfter, in ms since the epoch. */
bool pkiCertValidity(const PkiCert *cert, int64_t *notBeforeMs, int64_t *notAfterMs, Err *err) MUST_CHECK;

/* The serial number in upper-case hex without leading zeros ("0" for zero), as a new string of ctx. Not a secret:
 * fine for logs. */
bool pkiCertSerialHex(MemCtx *ctx, const PkiCert *cert, char **out, Err *err) MUST_CHECK;

/* Verifies cert against root, the only trusted certificate (no system roots), at the clock's wall time, with
 * OpenSSL's X509_verify_cert: the signature chain, the validity periods of both, root being a CA, and, when asked,
 * purpose (the extended key usage must allow TLS server or client use) and host (a DNS subjectAltName of cert must
 * match it, wildcards as RFC 6125 allows; the common name is never consulted). host may be NULL.
 *
 * true when cert verifies. Otherwise false with errInvalidArgument and OpenSSL's reason ("certificate has expired",
 * "hostname mismatch", "unable to get local issuer certificate"), or errOutOfMemory. */
bool pkiCertVerify(const PkiCert *cert, const PkiCert *root, const char *host, PkiPurpose purpose, Clock clock,
                   Err *err) MUST_CHECK;

/* Sets *chains to whether cert was issued by root: root is a CA, cert's issuer is root's subject and root's key
 * verifies cert's signature. Time, purpose and names are ignored. A certificate trusted as a root chains to itself.
 * false only on an error (errOutOfMemory, or errSystem when OpenSSL cannot run the check). */
bool pkiCertChainsTo(const PkiCert *cert, const PkiCert *root, bool *chains, Err *err) MUST_CHECK;

/* Sets *matches to whether host matches one of cert's DNS subjectAltNames (as pkiCertVerify's host check). */
bool pkiCertMatchesHost(const PkiCert *cert, const char *host, bool *matches, Err *err) MUST_CHECK;

#endif
