/* The inside of the pki objects, for the files of src/pki only (cert.c, authority.c): the OpenSSL handles behind
 * PkiCert and PkiKey, and the error plumbing every OpenSSL-calling function uses. Nothing outside src/pki includes
 * this header; the rest of the operator sees PEM text and the functions of cert.h and authority.h. */
#ifndef PKI_CERT_INTERN_H
#define PKI_CERT_INTERN_H

#include "pki/cert.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

struct PkiCert {
    X509 *x509; /* owned; freed by the context's callback */
};

struct PkiKey {
    EVP_PKEY *pkey; /* owned; freed by the context's callback */
};

/* One public operation that calls OpenSSL. pkiOpBegin empties OpenSSL's error queue (so what is reported later is
 * this operation's) and notes the process's count of failed allocations: when that count has moved by the time the
 * operation fails, the failure is reported as errOutOfMemory whatever OpenSSL called it. */
typedef struct PkiOp {
    uint64_t allocFailures;
} PkiOp;

void pkiOpBegin(PkiOp *op);

/* Whether an allocation has failed since pkiOpBegin. */
bool pkiOpSawOom(const PkiOp *op);

/* Ends an operation that succeeded as far as OpenSSL could tell: false with errOutOfMemory when an allocation failed
 * on the way all the same. OpenSSL recovers from some failed allocations by taking another route, and from others by
 * caching a wrong answer silently (a certificate no longer recognised as self-signed); an object or verdict made
 * while memory ran out is therefore never trusted. Empties OpenSSL's error queue either way. */
bool pkiOpEnd(const PkiOp *op, Err *err) MUST_CHECK;

/* Fills err with code (errOutOfMemory instead when the operation saw an allocation fail or OpenSSL reports a malloc
 * failure) and the formatted message, followed by OpenSSL's first queued reason when there is one; empties the queue.
 * Returns false. */
bool pkiOpFail(const PkiOp *op, Err *err, ErrCode code, const char *format, ...) PRINTF_LIKE(4, 5);

/* Wraps x509 (or pkey) in a new object of ctx, taking ownership whatever happens: on failure the OpenSSL object is
 * freed and err is errOutOfMemory. */
bool pkiCertWrap(MemCtx *ctx, X509 *x509, PkiCert **out, Err *err) MUST_CHECK;
bool pkiKeyWrap(MemCtx *ctx, EVP_PKEY *pkey, PkiKey **out, Err *err) MUST_CHECK;

/* Checks a freshly parsed certificate before anyone relies on it: OpenSSL decodes the public key and the extensions
 * of a certificate lazily or leniently (a key it cannot decode, for want of memory or of an algorithm, leaves the
 * certificate without one rather than failing the parse), so this forces both and fails when either is missing. */
bool pkiCertUsable(X509 *x509, const PkiOp *op, Err *err) MUST_CHECK;

/* A certificate time in seconds since the epoch; false when it is malformed. */
bool pkiTimeSeconds(const ASN1_TIME *time, int64_t *seconds);

/* Sets *equal to whether cert's subjectAltName holds exactly the DNS names names[0..count), in that order, and
 * nothing else (count 0: no subjectAltName at all). */
bool pkiCertSanEquals(const PkiCert *cert, const char *const *names, size_t count, bool *equal, const PkiOp *op,
                      Err *err) MUST_CHECK;

/* Sets *equal to whether cert's subject is exactly one common name equal to commonName. */
bool pkiCertSubjectEquals(const PkiCert *cert, const char *commonName, bool *equal, const PkiOp *op,
                          Err *err) MUST_CHECK;

#endif
