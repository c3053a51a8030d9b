/* Unit tests: pgsql/scram — verifiers against known answers computed independently (Python's hashlib.pbkdf2_hmac
 * and hmac, at test-writing time), the shape of fresh verifiers and generated passwords, the argument bounds, and
 * allocation-failure sweeps reaching OpenSSL's allocations. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "common/base64.h"
#include "pgsql/scram.h"
#include "pki/authority.h"

#include <stdio.h>
#include <string.h>

/* Known answers. Computed with:
 *     s = hashlib.pbkdf2_hmac('sha256', password, salt, iterations, 32)
 *     stored = sha256(hmac(s, b'Client Key')), server = hmac(s, b'Server Key')
 * The first is RFC 7677's example password and salt. */
typedef struct KnownAnswer {
    const char *password;
    size_t passwordLen;
    unsigned char salt[16];
    unsigned iterations;
    const char *verifier;
} KnownAnswer;

static const KnownAnswer knownAnswers[] = {
    {
        .password = "pencil",
        .passwordLen = 6,
        .salt = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81},
        .iterations = 4096,
        .verifier = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    },
    {
        /* Every punctuation character of the ASCII class. */
        .password = "hippo-(:;<=>?@[]^_{|})",
        .passwordLen = 22,
        .salt = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        .iterations = 4096,
        .verifier = "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$1YDLZWj9wAHUHIAGNeMaLlenIlBxuFDzk4Z78rxOB50=:"
                    "DuURl4EFhmpQx3g4zBPQ6X+zda/l8yav2nEZTw8HcB4=",
    },
    {
        /* Not UTF-8: PostgreSQL hashes such a password unchanged, and so do we. One iteration. */
        .password = "\xff\xfe-not-utf8",
        .passwordLen = 11,
        .salt = {16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31},
        .iterations = 1,
        .verifier = "SCRAM-SHA-256$1:EBESExQVFhcYGRobHB0eHw==$kpdPQNFlIZWA2N3qUajQBLUMWl+YGKFfsgkCz8zRCik=:"
                    "R3KMeRbxpGykL4+oouKbF6KMD/7uo/V6NJ+5ku16wtc=",
    },
    {
        .password = "",
        .passwordLen = 0,
        .salt = {0},
        .iterations = 4096,
        .verifier = "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$0xMhqAK40OCOdYhojcLUZeSMUOEvuUTKEl4DUl9gtuY=:"
                    "T91QzwAuamaQklxzLHUAx6O/tGW9Dmx80uUBuGnEIjo=",
    },
};

static void testKnownAnswers(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Err err;
    for (size_t answerIdx = 0; answerIdx < sizeof(knownAnswers) / sizeof(knownAnswers[0]); answerIdx++) {
        const KnownAnswer *answer = &knownAnswers[answerIdx];
        char *verifier = NULL;
        assert_true(scramVerifierBuild(ctx, answer->password, answer->passwordLen, answer->salt, sizeof(answer->salt),
                                       answer->iterations, &verifier, &err));
        assert_string_equal(verifier, answer->verifier);
    }
    memCtxFree(ctx);
}

/* Splits "SCRAM-SHA-256$<iterations>:<salt>$<stored>:<server>" and checks each part's form. */
static void assertVerifierShape(MemCtx *ctx, const char *verifier, unsigned char salt[SCRAM_SALT_BYTES])
{
    char saltText[64], storedText[64], serverText[64];
    unsigned iterations = 0;
    int end = 0;
    assert_int_equal(sscanf(verifier, "SCRAM-SHA-256$%u:%63[^$]$%63[^:]:%63s%n", &iterations, saltText, storedText,
                            serverText, &end),
                     4);
    assert_int_equal((size_t)end, strlen(verifier));
    assert_int_equal(iterations, SCRAM_ITERATIONS);
    char *bytes;
    size_t len;
    Err err;
    assert_true(base64Decode(ctx, saltText, strlen(saltText), &bytes, &len, &err));
    assert_int_equal(len, SCRAM_SALT_BYTES);
    memcpy(salt, bytes, SCRAM_SALT_BYTES);
    assert_true(base64Decode(ctx, storedText, strlen(storedText), &bytes, &len, &err));
    assert_int_equal(len, 32);
    assert_true(base64Decode(ctx, serverText, strlen(serverText), &bytes, &len, &err));
    assert_int_equal(len, 32);
}

static void testFreshVerifiers(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Err err;
    static const char password[] = "correct horse battery staple";
    char *first = NULL, *second = NULL, *rebuilt = NULL;
    assert_true(scramVerifierNew(ctx, password, strlen(password), &first, &err));
    assert_true(scramVerifierNew(ctx, password, strlen(password), &second, &err));
    unsigned char firstSalt[SCRAM_SALT_BYTES], secondSalt[SCRAM_SALT_BYTES];
    assertVerifierShape(ctx, first, firstSalt);
    assertVerifierShape(ctx, second, secondSalt);
    /* A fresh salt each time, and the verifier is the one its salt gives. */
    assert_memory_not_equal(firstSalt, secondSalt, SCRAM_SALT_BYTES);
    assert_true(scramVerifierBuild(ctx, password, strlen(password), firstSalt, sizeof(firstSalt), SCRAM_ITERATIONS,
                                   &rebuilt, &err));
    assert_string_equal(rebuilt, first);
    memCtxFree(ctx);
}

static void assertAllIn(const char *password, size_t length, const char *class)
{
    assert_int_equal(strlen(password), length);
    for (size_t charIdx = 0; charIdx < length; charIdx++)
        if (strchr(class, password[charIdx]) == NULL)
            fail_msg("character '%c' of \"%s\" is not in its class", password[charIdx], password);
}

/* A salt derived from the password: the same verifier every time, the known answer of Python's hmac, hashlib and
 * base64 for HMAC-SHA-256(password, "postgres-operator scram salt")[:16]; no empty password. */
static void testDerivedVerifiers(void **state)
{
    (void)state;
    static const char password[] = "GoldenOperatorPassword0123456789abcdefghijk";
    MemCtx *ctx = memCtxNew(NULL, "t");
    char *first, *second, *other;
    Err err;
    assert_true(scramVerifierDerived(ctx, password, strlen(password), &first, &err));
    assert_string_equal(first,
                        "SCRAM-SHA-256$4096:PoAjV4+Wf52k4n/LwcwUWQ==$dtlHLhcJXRUvbK/PhT1oeM8LpdgjkHStE5JBeFXCcwQ="
                        ":t2+Z8k+YqYgogy/UA6f7L8cw5ML1oS7DWyfr0fLBxIU=");
    assert_true(scramVerifierDerived(ctx, password, strlen(password), &second, &err));
    assert_string_equal(first, second);
    assert_true(scramVerifierDerived(ctx, password, strlen(password) - 1, &other, &err));
    assert_string_not_equal(first, other);
    assert_false(scramVerifierDerived(ctx, "", 0, &other, &err));
    assert_err(&err, errInvalidArgument);
    memCtxFree(ctx);
}

static void testGeneratedPasswords(void **state)
{
    (void)state;
    static const char ascii[] = "()*+,-./:;<=>?@[]^_{|}ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static const char alphaNumeric[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    MemCtx *ctx = memCtxNew(NULL, "t");
    Err err;
    /* Over 400 passwords of 24 characters (9,600 draws from 84 characters), every character of the class shows up:
     * the odds of missing one are below 84 * (83/84)^9600, about 10^-48. */
    bool seenAscii[256] = {false}, seenAlphaNumeric[256] = {false};
    char *previous = NULL;
    for (int round = 0; round < 400; round++) {
        char *password = NULL, *other = NULL;
        assert_true(scramPasswordNew(ctx, scramPasswordAscii, SCRAM_PASSWORD_LENGTH, &password, &err));
        assertAllIn(password, SCRAM_PASSWORD_LENGTH, ascii);
        assert_true(scramPasswordNew(ctx, scramPasswordAlphaNumeric, SCRAM_PASSWORD_LENGTH, &other, &err));
        assertAllIn(other, SCRAM_PASSWORD_LENGTH, alphaNumeric);
        for (size_t charIdx = 0; charIdx < SCRAM_PASSWORD_LENGTH; charIdx++) {
            seenAscii[(unsigned char)password[charIdx]] = true;
            seenAlphaNumeric[(unsigned char)other[charIdx]] = true;
        }
        if (previous != NULL)
            assert_string_not_equal(previous, password);
        previous = password;
    }
    for (size_t charIdx = 0; ascii[charIdx] != '\0'; charIdx++)
        if (!seenAscii[(unsigned char)ascii[charIdx]])
            fail_msg("'%c' never drawn", ascii[charIdx]);
    for (size_t charIdx = 0; alphaNumeric[charIdx] != '\0'; charIdx++)
        if (!seenAlphaNumeric[(unsigned char)alphaNumeric[charIdx]])
            fail_msg("'%c' never drawn", alphaNumeric[charIdx]);

    /* Lengths other than PGO's, longer than one chunk of random bytes. */
    char *longer = NULL;
    assert_true(scramPasswordNew(ctx, scramPasswordAscii, 1024, &longer, &err));
    assertAllIn(longer, 1024, ascii);
    assert_true(scramPasswordNew(ctx, scramPasswordAlphaNumeric, 1, &longer, &err));
    assertAllIn(longer, 1, alphaNumeric);
    memCtxFree(ctx);
}

static void testBounds(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    Err err;
    char *out = NULL;
    static const unsigned char salt[65] = {0};
    assert_false(scramPasswordNew(ctx, scramPasswordAscii, 0, &out, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(scramPasswordNew(ctx, scramPasswordAscii, 1025, &out, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(scramVerifierBuild(ctx, "x", 1, salt, 0, 4096, &out, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(scramVerifierBuild(ctx, "x", 1, salt, 65, 4096, &out, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(scramVerifierBuild(ctx, "x", 1, salt, 16, 0, &out, &err));
    assert_err(&err, errInvalidArgument);
    assert_false(scramVerifierBuild(ctx, "x", SCRAM_PASSWORD_MAX + 1, salt, 16, 4096, &out, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, "longer than");
    assert_null(out);
    /* Nothing was left behind by the refusals. */
    assert_int_equal(memCtxTotalBytes(ctx), 0);
    memCtxFree(ctx);
}

/* PBKDF2 in OpenSSL 3 allocates on every iteration (each HMAC duplicates a digest context): 4096 iterations make
 * some 16,000 allocations, and sweeping them all costs their square. Two iterations reach every allocation site of
 * the computation; scramVerifierNew adds only RAND_bytes, which allocates nothing once OpenSSL is warmed up (the
 * password sweep below goes through it). */
static bool sweepVerifierBuild(void *arg, Err *err)
{
    (void)arg;
    static const unsigned char salt[SCRAM_SALT_BYTES] = {1, 2, 3};
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    char *verifier;
    bool ok = (ctx != NULL || errSet(err, errOutOfMemory, "ctx")) &&
              scramVerifierBuild(ctx, "pencil", 6, salt, sizeof(salt), 2, &verifier, err);
    memCtxFree(ctx);
    return ok;
}

static bool sweepPasswordNew(void *arg, Err *err)
{
    (void)arg;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    char *password;
    bool ok = (ctx != NULL || errSet(err, errOutOfMemory, "ctx")) &&
              scramPasswordNew(ctx, scramPasswordAscii, SCRAM_PASSWORD_LENGTH, &password, err);
    memCtxFree(ctx);
    return ok;
}

static void testAllocationFailures(void **state)
{
    (void)state;
    unsigned allocations = harnessAllocSweepThinned(sweepVerifierBuild, NULL);
    print_message("# verifier: %u allocations swept\n", allocations);
    assert_true(allocations > 3);
    allocations = harnessAllocSweepThinned(sweepPasswordNew, NULL);
    print_message("# password: %u allocations swept\n", allocations);
    assert_true(allocations >= 1);
}

int main(void)
{
    Err err;
    if (!pkiUseProjectAllocator() || !pkiWarmUp(&err)) {
        fprintf(stderr, "cannot set up OpenSSL\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testKnownAnswers),       cmocka_unit_test(testFreshVerifiers),
        cmocka_unit_test(testGeneratedPasswords), cmocka_unit_test(testBounds),
        cmocka_unit_test(testAllocationFailures), cmocka_unit_test(testDerivedVerifiers),
    };
    return cmocka_run_group_tests_name("cluster/scram", tests, NULL, NULL);
}
