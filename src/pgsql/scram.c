/* Passwords and SCRAM-SHA-256 verifiers (see scram.h).
 *
 * OpenSSL allocates through common/alloc once pkiUseProjectAllocator has run, so a failed allocation inside it shows
 * in allocFailureCount: every OpenSSL call here is bracketed by that count, and a call that fails, or succeeds while
 * an allocation failed, is reported as errOutOfMemory (OpenSSL recovers from some failures by a slower route, but we
 * do not rely on results computed while memory ran out). Random characters are drawn by rejection sampling, so every
 * character of a class is equally likely. */
#include "pgsql/scram.h"

#include "common/alloc.h"
#include "common/base64.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#define SCRAM_KEY_BYTES     32 /* SHA-256 */
#define SCRAM_SALT_MAX      64
#define SCRAM_GENERATED_MAX 1024
#define SCRAM_RANDOM_CHUNK  64

static const char scramAsciiClass[] = "()*+,-./:;<=>?@[]^_{|}"
                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz"
                                      "0123456789";
static const char scramAlphaNumericClass[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "abcdefghijklmnopqrstuvwxyz"
                                             "0123456789";

/* Ends a stretch of OpenSSL calls that began when allocFailureCount() was failuresBefore: true when they succeeded
 * and no allocation failed meanwhile, else false with errOutOfMemory or errSystem ("cannot <what>"). */
static bool scramOpensslEnd(bool succeeded, uint64_t failuresBefore, const char *what, Err *err)
{
    ERR_clear_error();
    if (allocFailureCount() != failuresBefore)
        return errSet(err, errOutOfMemory, "out of memory: cannot %s", what);
    if (!succeeded)
        return errSet(err, errSystem, "openssl cannot %s", what);
    return true;
}

bool scramPasswordNew(MemCtx *ctx, ScramPasswordType type, size_t length, char **out, Err *err)
{
    if (length == 0 || length > SCRAM_GENERATED_MAX)
        return errSet(err, errInvalidArgument, "a generated password has 1 to %d characters, not %zu",
                      SCRAM_GENERATED_MAX, length);
    const char *class = type == scramPasswordAlphaNumeric ? scramAlphaNumericClass : scramAsciiClass;
    size_t classSize = strlen(class);
    /* Bytes at or above the largest multiple of classSize would favour the first characters: they are redrawn. */
    unsigned limit = 256u - 256u % (unsigned)classSize;
    char *password = memCtxAlloc(ctx, length + 1);
    if (password == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a password");
    unsigned char random[SCRAM_RANDOM_CHUNK];
    size_t filled = 0;
    bool ok = true;
    while (ok && filled < length) {
        uint64_t failures = allocFailureCount();
        ok = scramOpensslEnd(RAND_bytes(random, sizeof(random)) == 1, failures, "generate random bytes", err);
        for (size_t byteIdx = 0; ok && byteIdx < sizeof(random) && filled < length; byteIdx++)
            if (random[byteIdx] < limit)
                password[filled++] = class[random[byteIdx] % classSize];
    }
    OPENSSL_cleanse(random, sizeof(random));
    if (!ok) {
        OPENSSL_cleanse(password, length);
        memCtxRelease(password);
        return false;
    }
    *out = password;
    return true;
}

/* HMAC-SHA-256 of message under a SCRAM_KEY_BYTES key. */
static bool scramHmac(const unsigned char *key, const char *message, unsigned char out[SCRAM_KEY_BYTES])
{
    unsigned int outLen = 0;
    return HMAC(EVP_sha256(), key, SCRAM_KEY_BYTES, (const unsigned char *)message, strlen(message), out, &outLen) !=
               NULL &&
           outLen == SCRAM_KEY_BYTES;
}

bool scramVerifierBuild(MemCtx *ctx, const char *password, size_t passwordLen, const unsigned char *salt,
                        size_t saltLen, unsigned iterations, char **out, Err *err)
{
    if (passwordLen > SCRAM_PASSWORD_MAX)
        return errSet(err, errInvalidArgument, "a password of %zu bytes is longer than %d", passwordLen,
                      SCRAM_PASSWORD_MAX);
    if (saltLen == 0 || saltLen > SCRAM_SALT_MAX)
        return errSet(err, errInvalidArgument, "a scram salt has 1 to %d bytes, not %zu", SCRAM_SALT_MAX, saltLen);
    if (iterations == 0 || iterations > INT_MAX)
        return errSet(err, errInvalidArgument, "scram iterations must be between 1 and %d", INT_MAX);

    unsigned char salted[SCRAM_KEY_BYTES], clientKey[SCRAM_KEY_BYTES], storedKey[SCRAM_KEY_BYTES],
        serverKey[SCRAM_KEY_BYTES];
    unsigned int storedLen = 0;
    uint64_t failures = allocFailureCount();
    bool hashed = PKCS5_PBKDF2_HMAC(password, (int)passwordLen, salt, (int)saltLen, (int)iterations, EVP_sha256(),
                                    SCRAM_KEY_BYTES, salted) == 1 &&
                  scramHmac(salted, "Client Key", clientKey) && scramHmac(salted, "Server Key", serverKey) &&
                  EVP_Digest(clientKey, sizeof(clientKey), storedKey, &storedLen, EVP_sha256(), NULL) == 1 &&
                  storedLen == SCRAM_KEY_BYTES;
    bool ok = scramOpensslEnd(hashed, failures, "compute a scram verifier", err);

    MemCtx *scratch = ok ? memCtxNew(ctx, "scram verifier") : NULL;
    char *saltText = NULL, *storedText = NULL, *serverText = NULL;
    ok = ok && (scratch != NULL || errSet(err, errOutOfMemory, "cannot allocate a scram verifier")) &&
         base64Encode(scratch, salt, saltLen, &saltText, err) &&
         base64Encode(scratch, storedKey, sizeof(storedKey), &storedText, err) &&
         base64Encode(scratch, serverKey, sizeof(serverKey), &serverText, err);
    char *verifier =
        ok ? memCtxPrintf(ctx, "SCRAM-SHA-256$%u:%s$%s:%s", iterations, saltText, storedText, serverText) : NULL;
    ok = ok && (verifier != NULL || errSet(err, errOutOfMemory, "cannot allocate a scram verifier"));
    memCtxFree(scratch);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(clientKey, sizeof(clientKey));
    if (ok)
        *out = verifier;
    return ok;
}

bool scramVerifierNew(MemCtx *ctx, const char *password, size_t passwordLen, char **out, Err *err)
{
    unsigned char salt[SCRAM_SALT_BYTES];
    uint64_t failures = allocFailureCount();
    if (!scramOpensslEnd(RAND_bytes(salt, sizeof(salt)) == 1, failures, "generate a scram salt", err))
        return false;
    return scramVerifierBuild(ctx, password, passwordLen, salt, sizeof(salt), SCRAM_ITERATIONS, out, err);
}

bool scramVerifierDerived(MemCtx *ctx, const char *password, size_t passwordLen, char **out, Err *err)
{
    static const char label[] = "postgres-operator scram salt";
    if (passwordLen == 0 || passwordLen > SCRAM_PASSWORD_MAX)
        return errSet(err, errInvalidArgument, "a password to derive a salt from has 1 to %d bytes, not %zu",
                      SCRAM_PASSWORD_MAX, passwordLen);
    unsigned char digest[SCRAM_KEY_BYTES];
    unsigned int digestLen = 0;
    uint64_t failures = allocFailureCount();
    bool hashed = HMAC(EVP_sha256(), password, (int)passwordLen, (const unsigned char *)label, strlen(label), digest,
                       &digestLen) != NULL &&
                  digestLen == SCRAM_KEY_BYTES;
    bool ok = scramOpensslEnd(hashed, failures, "derive a scram salt", err) &&
              scramVerifierBuild(ctx, password, passwordLen, digest, SCRAM_SALT_BYTES, SCRAM_ITERATIONS, out, err);
    OPENSSL_cleanse(digest, sizeof(digest));
    return ok;
}
