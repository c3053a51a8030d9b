/* Passwords for PostgreSQL users and their SCRAM-SHA-256 verifiers, as PGO v5 makes them (internal/util/secrets.go,
 * internal/postgres/password/scram.go), with OpenSSL for randomness and hashing.
 *
 * A verifier is what PostgreSQL stores in pg_authid.rolpassword for SCRAM-SHA-256 (RFC 5802, RFC 7677):
 *     SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
 * with SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations), ClientKey = HMAC(SaltedPassword,
 * "Client Key"), StoredKey = SHA-256(ClientKey), ServerKey = HMAC(SaltedPassword, "Server Key"), all base64. PGO and
 * PostgreSQL use 4096 iterations and a 16-byte random salt.
 *
 * SASLprep. PostgreSQL (src/common/saslprep.c) normalises a password with SASLprep (RFC 4013) before hashing, and
 * uses the password unchanged when it is not valid UTF-8 or SASLprep refuses it. For a password of ASCII characters
 * SASLprep changes nothing: RFC 4013 maps only non-ASCII characters, NFKC leaves ASCII as it is, and the ASCII
 * control characters it prohibits make PostgreSQL fall back to the unchanged password. So the verifier is computed
 * from the password's bytes as they are. That is exact for every password we generate (ASCII), for any ASCII or
 * non-UTF-8 password a user supplies, and for the many UTF-8 passwords SASLprep leaves alone; a UTF-8 password that
 * SASLprep would change (non-ASCII spaces, soft hyphens, compatibility characters such as full-width letters) gets a
 * verifier PostgreSQL's login will not match, and such a user must supply the verifier too, which is kept as given.
 *
 * Errors: errOutOfMemory when an allocation fails on the way (ours or OpenSSL's; a result made while memory ran out
 * is never trusted), errSystem when OpenSSL cannot produce random bytes or a hash, errInvalidArgument for arguments
 * outside the bounds below. Intermediate secrets are wiped before returning. */
#ifndef CLUSTER_SCRAM_H
#define CLUSTER_SCRAM_H

#include "common/error.h"
#include "common/memctx.h"

#include <stdbool.h>
#include <stddef.h>

#define SCRAM_ITERATIONS      4096 /* PostgreSQL's and PGO's default */
#define SCRAM_SALT_BYTES      16
#define SCRAM_PASSWORD_LENGTH 24        /* PGO's DefaultGeneratedPasswordLength */
#define SCRAM_PASSWORD_MAX    (1 << 20) /* longest password hashed: a Secret holds at most 1 MiB */

/* The characters of a generated password (spec.users[].password.type). */
typedef enum ScramPasswordType {
    scramPasswordAscii,        /* "ASCII", the default: letters, digits and ()*+,-./:;<=>?@[]^_{|} */
    scramPasswordAlphaNumeric, /* "AlphaNumeric": letters and digits */
} ScramPasswordType;

/* A new password of length characters (1 to 1024) drawn uniformly from type's characters with OpenSSL's RAND_bytes,
 * as a new NUL-terminated string of ctx. */
bool scramPasswordNew(MemCtx *ctx, ScramPasswordType type, size_t length, char **out, Err *err) MUST_CHECK;

/* The verifier of password (passwordLen bytes, at most SCRAM_PASSWORD_MAX, any bytes) with the given salt (1 to 64
 * bytes) and iterations (at least 1), as a new string of ctx. Deterministic: for tests and known answers. */
bool scramVerifierBuild(MemCtx *ctx, const char *password, size_t passwordLen, const unsigned char *salt,
                        size_t saltLen, unsigned iterations, char **out, Err *err) MUST_CHECK;

/* The verifier of password with a fresh random SCRAM_SALT_BYTES salt and SCRAM_ITERATIONS, as PGO builds it. */
bool scramVerifierNew(MemCtx *ctx, const char *password, size_t passwordLen, char **out, Err *err) MUST_CHECK;

/* The verifier of password (1 to SCRAM_PASSWORD_MAX bytes) with SCRAM_ITERATIONS and a salt derived from the
 * password itself: the first SCRAM_SALT_BYTES of HMAC-SHA-256 keyed with the password over a fixed label. The same
 * password always gives the same verifier, so a configuration that carries it does not change from one reconcile to
 * the next. A salt exists to make one precomputation useless against many passwords; a salt derived from the
 * password gives that up only for guesses, and is meant for long random passwords (the operator's own, 256 bits)
 * that no one guesses: never for a password a person chose. */
bool scramVerifierDerived(MemCtx *ctx, const char *password, size_t passwordLen, char **out, Err *err) MUST_CHECK;

#endif
