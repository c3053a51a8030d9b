/* The operator's certificate authority: the root CA, the leaf certificates it signs, and when to replace either.
 *
 * Profile (PGO v5's, internal/pki): every key is ECDSA P-256, every signature ECDSA with SHA-384, every serial number
 * 128 random bits, every certificate valid from an hour before its creation (to absorb clock skew between the
 * operator and the clients).
 *   - Root: subject CN=postgres-operator-ca, 10 years, basicConstraints critical CA:TRUE pathlen:0, keyUsage critical
 *     keyCertSign and cRLSign, subjectKeyIdentifier. One per namespace, in Secret `pgo-root-cacert` (`root.crt`,
 *     `root.key`), shared by every cluster of the namespace.
 *   - Leaf: subject CN=<spec's common name>, 1 year (never past the root's own expiry), basicConstraints critical
 *     CA:FALSE, keyUsage critical digitalSignature and keyEncipherment, the spec's DNS names as subjectAltName,
 *     subjectKeyIdentifier and authorityKeyIdentifier, and the spec's extendedKeyUsage (serverAuth and/or
 *     clientAuth). PGO sets no extendedKeyUsage; we restrict each certificate to what it is used for (see
 *     pki/names.h), and a usage of 0 issues a certificate exactly as PGO would.
 *
 * Renewal policy. A certificate is replaced when it is not one we would issue now: its key does not match, it is not
 * of the profile above, it does not chain to the current root, it is not yet valid or has expired, it has passed two
 * thirds of its lifetime (PGO's renewalRatio of 3: a one-year leaf is renewed about four months before it expires),
 * or, for a leaf, its common name, DNS names (same names in the same order) or extended key usage differ from the
 * wanted ones. PGO renews leaves the same way but keeps a root until it expires, which leaves every cluster without
 * valid certificates at that moment; we apply the two-thirds rule to the root too, so it is replaced more than three
 * years before it expires. Replacing the root makes every leaf "untrusted" and so reissued on the next reconcile;
 * clients that copied the old `ca.crt` must fetch the new one (the reconciler should publish both roots in `ca.crt`
 * while it rolls, a decision for the Secret builders). Time comes from a Clock (common/clock.h).
 *
 * The reconciler's usual calls are pkiRootEnsure and pkiLeafEnsure: they take what a Secret holds (possibly nothing,
 * possibly garbage), keep it when the policy allows and issue anew otherwise, telling why. */
#ifndef PKI_AUTHORITY_H
#define PKI_AUTHORITY_H

#include "pki/cert.h"

#define PKI_ROOT_COMMON_NAME   "postgres-operator-ca"
#define PKI_ROOT_LIFETIME_DAYS 3650 /* PGO: 10 * 365 * 24h */
#define PKI_LEAF_LIFETIME_DAYS 365  /* PGO: 365 * 24h */
#define PKI_BACKDATE_SECONDS   3600 /* notBefore is an hour before "now" */
#define PKI_RENEWAL_RATIO      3    /* renew once less than 1/PKI_RENEWAL_RATIO of the lifetime is left */
#define PKI_NAME_MAX           255  /* longest common name or DNS name accepted in a spec */
#define PKI_DNS_NAMES_MAX      64   /* most DNS names one leaf may carry */
#define PKI_SERIAL_BITS        128

/* A certificate and its private key. ctx owns both: it is a child of the context the pair was made in, so the pair
 * goes with that context, or earlier with memCtxFree(pair.ctx). */
typedef struct PkiRoot {
    MemCtx *ctx;
    PkiCert *cert;
    PkiKey *key;
} PkiRoot;

typedef struct PkiLeaf {
    MemCtx *ctx;
    PkiCert *cert;
    PkiKey *key;
} PkiLeaf;

/* What a leaf certificate must say. commonName is required; dnsNames[0..dnsNameCount) become the subjectAltName in
 * this order (none: no subjectAltName); usage is PKI_USAGE_SERVER and/or PKI_USAGE_CLIENT, or 0 for no
 * extendedKeyUsage. Names are printable ASCII (DNS names without spaces), at most PKI_NAME_MAX bytes; a common name
 * longer than 64 characters (the X.520 bound) is written anyway, as PGO does for long FQDNs. */
typedef struct PkiLeafSpec {
    const char *commonName;
    const char *const *dnsNames;
    size_t dnsNameCount;
    unsigned usage;
} PkiLeafSpec;

/* Why a certificate is (to be) replaced. Checklist: a new member needs its name in pkiRenewalName. */
typedef enum PkiRenewal {
    pkiRenewalNone,        /* keep it */
    pkiRenewalMissing,     /* nothing stored */
    pkiRenewalMalformed,   /* the stored certificate or key does not decode */
    pkiRenewalKeyMismatch, /* the private key is not the certificate's */
    pkiRenewalProfile,     /* not of our profile: key type, CA flag, key usage, subject key identifier */
    pkiRenewalUntrusted,   /* does not chain to the current root (for a root: its self-signature fails) */
    pkiRenewalNotYetValid, /* notBefore lies ahead: issued by a clock ahead of ours */
    pkiRenewalExpired,     /* past notAfter */
    pkiRenewalDue,         /* past two thirds of its lifetime */
    pkiRenewalNames,       /* common name or DNS names are not the wanted ones */
    pkiRenewalUsage,       /* extended key usage is not the wanted one */
} PkiRenewal;

/* "none", "missing", "malformed", "key-mismatch", "profile", "untrusted", "not-yet-valid", "expired", "due", "names",
 * "usage"; for logs and events. */
const char *pkiRenewalName(PkiRenewal reason);

/* Runs OpenSSL's one-time set-up (error strings, the default provider, and the algorithms and caches this PKI uses)
 * by issuing, checking and encoding a throwaway root and leaf. Call once at start-up, after pkiUseProjectAllocator:
 * OpenSSL remembers a failed initialisation for the life of the process, so a start-up that cannot initialise it
 * should fail there and then, not leave every later reconcile failing. */
bool pkiWarmUp(Err *err) MUST_CHECK;

/* A new root CA (fresh key, self-signed certificate), valid from the clock's now. */
bool pkiRootNew(MemCtx *ctx, Clock clock, PkiRoot *out, Err *err) MUST_CHECK;

/* A root from the PEM of `root.crt` and `root.key`. errInvalidArgument when either does not decode, the certificate
 * is not a CA or the key is not its key; errTooLarge beyond PKI_PEM_MAX. Expiry is pkiRootNeedsRenewal's business. */
bool pkiRootDecode(MemCtx *ctx, const char *certPem, size_t certLen, const char *keyPem, size_t keyLen, PkiRoot *out,
                   Err *err) MUST_CHECK;

/* Sets *reason to why root should be replaced now, or pkiRenewalNone. false only on an error (errOutOfMemory). */
bool pkiRootNeedsRenewal(const PkiRoot *root, Clock clock, PkiRenewal *reason, Err *err) MUST_CHECK;

/* The root to use, from what Secret `pgo-root-cacert` holds (either PEM may be NULL or empty when the Secret or key
 * is absent): the stored root when pkiRootNeedsRenewal finds nothing wrong (*renewed = pkiRenewalNone), else a new one
 * (*renewed says why). Bad stored data is never an error, only a reason; errors are errOutOfMemory or errSystem. */
bool pkiRootEnsure(MemCtx *ctx, const char *certPem, size_t certLen, const char *keyPem, size_t keyLen, Clock clock,
                   PkiRoot *out, PkiRenewal *renewed, Err *err) MUST_CHECK;

/* A new leaf (fresh key, certificate signed by root) as spec says, valid from the clock's now. errInvalidArgument
 * when spec breaks the rules of PkiLeafSpec, root's key is not its certificate's, or root has expired. */
bool pkiLeafNew(MemCtx *ctx, const PkiRoot *root, const PkiLeafSpec *spec, Clock clock, PkiLeaf *out,
                Err *err) MUST_CHECK;

/* A leaf from the PEM of its certificate and key (`tls.crt`/`tls.key`, `dns.crt`/`dns.key`, ...).
 * errInvalidArgument when either does not decode or the key is not the certificate's. */
bool pkiLeafDecode(MemCtx *ctx, const char *certPem, size_t certLen, const char *keyPem, size_t keyLen, PkiLeaf *out,
                   Err *err) MUST_CHECK;

/* Sets *reason to why leaf should be replaced now, given the current root and the wanted spec, or pkiRenewalNone.
 * false on an error: errInvalidArgument when want breaks the rules of PkiLeafSpec, errOutOfMemory. */
bool pkiLeafNeedsRenewal(const PkiLeaf *leaf, const PkiRoot *root, const PkiLeafSpec *want, Clock clock,
                         PkiRenewal *reason, Err *err) MUST_CHECK;

/* The leaf to use, from what a Secret holds (PEMs may be NULL or empty), as pkiRootEnsure does for the root: kept when
 * pkiLeafNeedsRenewal finds nothing wrong, else issued anew by root from want. */
bool pkiLeafEnsure(MemCtx *ctx, const PkiRoot *root, const char *certPem, size_t certLen, const char *keyPem,
                   size_t keyLen, const PkiLeafSpec *want, Clock clock, PkiLeaf *out, PkiRenewal *renewed,
                   Err *err) MUST_CHECK;

#endif
