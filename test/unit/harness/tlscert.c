/* Throwaway PKI for TLS tests. See tlscert.h. */
#include "tlscert.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static char *pemOf(int (*write)(BIO *, const void *), const void *object)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    if (bio != NULL && write(bio, object)) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        pem = malloc((size_t)len + 1);
        if (pem != NULL) {
            memcpy(pem, data, (size_t)len);
            pem[len] = '\0';
        }
    }
    BIO_free(bio);
    return pem;
}

static int writeCert(BIO *bio, const void *cert)
{
    return PEM_write_bio_X509(bio, (X509 *)(uintptr_t)cert);
}

static int writeKey(BIO *bio, const void *key)
{
    return PEM_write_bio_PrivateKey(bio, (EVP_PKEY *)(uintptr_t)key, NULL, NULL, 0, NULL, NULL);
}

static bool addExtension(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = extension != NULL && X509_add_ext(cert, extension, -1) == 1;
    X509_EXTENSION_free(extension);
    return ok;
}

/* A certificate for key named commonName, signed by issuerKey (issuer NULL: self-signed). */
static X509 *makeCert(EVP_PKEY *key, const char *commonName, X509 *issuer, EVP_PKEY *issuerKey, long serial,
                      const char *const *extensions)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    bool ok = cert != NULL && name != NULL && X509_set_version(cert, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) &&
              X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL &&
              X509_gmtime_adj(X509_getm_notAfter(cert), 86400) != NULL &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)commonName, -1, -1, 0) &&
              X509_set_subject_name(cert, name) &&
              X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name) &&
              X509_set_pubkey(cert, key);
    for (size_t extIdx = 0; ok && extensions[extIdx] != NULL; extIdx += 2)
        ok =
            addExtension(cert, issuer != NULL ? issuer : cert, OBJ_txt2nid(extensions[extIdx]), extensions[extIdx + 1]);
    ok = ok && X509_sign(cert, issuerKey, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

bool testPkiGenerate(TestPki *pki)
{
    static const char *const caExtensions[] = {"basicConstraints", "critical,CA:TRUE", "keyUsage",
                                               "critical,keyCertSign,cRLSign", NULL};
    static const char *const serverExtensions[] = {"subjectAltName", "IP:127.0.0.1,DNS:localhost", "extendedKeyUsage",
                                                   "serverAuth", NULL};
    static const char *const clientExtensions[] = {"extendedKeyUsage", "clientAuth", NULL};
    memset(pki, 0, sizeof(*pki));
    EVP_PKEY *caKey = EVP_EC_gen("P-256");
    EVP_PKEY *serverKey = EVP_EC_gen("P-256");
    EVP_PKEY *clientKey = EVP_EC_gen("P-256");
    X509 *ca = caKey != NULL ? makeCert(caKey, "test-ca", NULL, caKey, 1, caExtensions) : NULL;
    X509 *server =
        ca != NULL && serverKey != NULL ? makeCert(serverKey, "127.0.0.1", ca, caKey, 2, serverExtensions) : NULL;
    X509 *client =
        ca != NULL && clientKey != NULL ? makeCert(clientKey, "system:admin", ca, caKey, 3, clientExtensions) : NULL;
    if (server != NULL && client != NULL) {
        pki->caCert = pemOf(writeCert, ca);
        pki->serverCert = pemOf(writeCert, server);
        pki->serverKey = pemOf(writeKey, serverKey);
        pki->clientCert = pemOf(writeCert, client);
        pki->clientKey = pemOf(writeKey, clientKey);
    }
    X509_free(ca);
    X509_free(server);
    X509_free(client);
    EVP_PKEY_free(caKey);
    EVP_PKEY_free(serverKey);
    EVP_PKEY_free(clientKey);
    bool ok = pki->caCert && pki->serverCert && pki->serverKey && pki->clientCert && pki->clientKey;
    /* Leave no error on this thread's OpenSSL queue: libcurl would report it as the cause of a later failure. */
    ERR_clear_error();
    if (!ok)
        testPkiFree(pki);
    return ok;
}

void testPkiFree(TestPki *pki)
{
    free(pki->caCert);
    free(pki->serverCert);
    free(pki->serverKey);
    free(pki->clientCert);
    free(pki->clientKey);
    memset(pki, 0, sizeof(*pki));
}
