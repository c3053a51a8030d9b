/* Throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1 and a client certificate, made with OpenSSL
 * at test time (ECDSA P-256, valid for a day). All PEM strings are malloc'd. */
#ifndef TEST_TLSCERT_H
#define TEST_TLSCERT_H

#include <stdbool.h>

typedef struct TestPki {
    char *caCert;
    char *serverCert;
    char *serverKey;
    char *clientCert;
    char *clientKey;
} TestPki;

bool testPkiGenerate(TestPki *pki);
void testPkiFree(TestPki *pki);

#endif
