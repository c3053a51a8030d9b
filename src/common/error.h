/* Errors: one table of error codes and the Err record every fallible function fills.
 *
 * Contract for the whole code base: a function that can fail returns bool (true on success) and is declared
 * MUST_CHECK; on failure it has filled the caller's Err (when not NULL) with a code from the table below and a
 * lowercase message without final punctuation that a user can act on. Functions never print errors themselves:
 * the caller decides whether to log, retry or surface them in a status condition. */
#ifndef COMMON_ERROR_H
#define COMMON_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#define MUST_CHECK        __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* The error table. Columns: code, retryable (a later identical attempt may succeed), short description.
 * Checklist: a new Kubernetes status mapping also needs a line in kube/status.c. */
#define ERROR_TABLE(X)                                                         \
    X(errOk, false, "no error")                                                \
    X(errOutOfMemory, true, "out of memory")                                   \
    X(errInvalidArgument, false, "invalid argument")                           \
    X(errTooLarge, false, "input exceeds its bound")                           \
    X(errSystem, true, "system call failed")                                   \
    X(errJsonSyntax, false, "malformed json")                                  \
    X(errJsonPath, false, "malformed json path")                               \
    X(errJsonMissing, false, "json value missing")                             \
    X(errJsonType, false, "json value has the wrong type")                     \
    X(errBase64, false, "malformed base64")                                    \
    X(errQuantity, false, "malformed resource quantity")                       \
    X(errSelector, false, "malformed label selector")                          \
    X(errConfig, false, "invalid client configuration")                        \
    X(errTransport, true, "connection to the api server failed")               \
    X(errTimeout, true, "request timed out")                                   \
    X(errWatchFormat, false, "malformed watch event")                          \
    X(errKubeBadRequest, false, "api server rejected the request")             \
    X(errKubeUnauthorized, false, "api server did not accept our credentials") \
    X(errKubeForbidden, false, "api server denied the request")                \
    X(errKubeNotFound, false, "object not found")                              \
    X(errKubeMethodNotAllowed, false, "method not allowed")                    \
    X(errKubeConflict, true, "object changed since it was read")               \
    X(errKubeAlreadyExists, false, "object already exists")                    \
    X(errKubeGone, false, "resource version too old")                          \
    X(errKubeInvalid, false, "object failed validation")                       \
    X(errKubeTooManyRequests, true, "api server is throttling")                \
    X(errKubeServer, true, "api server error")                                 \
    X(errKubeUnexpected, false, "unexpected api server response")              \
    X(errPostgres, true, "postgres connection or statement failed")

typedef enum ErrCode {
#define ERROR_ENUM(code, retryable, description) code,
    ERROR_TABLE(ERROR_ENUM)
#undef ERROR_ENUM
    errCodeCount,
} ErrCode;

#define ERR_MESSAGE_MAX 512
#define ERR_REASON_MAX  64

typedef struct Err {
    ErrCode code;
    int httpStatus;                /* HTTP status of a failed API call, else 0 */
    int sysErrno;                  /* errno of a failed system call, else 0 */
    char reason[ERR_REASON_MAX];   /* Kubernetes Status.reason, else empty */
    char message[ERR_MESSAGE_MAX]; /* what went wrong, truncated to fit */
} Err;

/* Clears err to errOk. err may be NULL. */
void errClear(Err *err);

/* Fills err (which may be NULL) with code and a formatted message, clearing the HTTP and errno fields.
 * Always returns false so a function can `return errSet(err, ...)`. */
bool errSet(Err *err, ErrCode code, const char *format, ...) PRINTF_LIKE(3, 4);

/* As errSet, and records errno (read before anything else can change it) and appends ": strerror(errno)". */
bool errSetSys(Err *err, ErrCode code, const char *format, ...) PRINTF_LIKE(3, 4);

/* Prefixes err's message with "prefix: ", keeping code and other fields. Returns false, like errSet. */
bool errPrefix(Err *err, const char *format, ...) PRINTF_LIKE(2, 3);

/* The code's identifier ("errKubeNotFound"), its description, and whether retrying may help. */
const char *errCodeName(ErrCode code);
const char *errCodeDescription(ErrCode code);
bool errCodeRetryable(ErrCode code);

#endif
