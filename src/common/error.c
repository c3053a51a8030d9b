/* Errors.
 *
 * There are no exceptions here: every fallible function returns false and leaves the details in an Err owned by the
 * caller, usually on the caller's stack. An Err is a fixed-size record, so filling one never allocates and can
 * therefore report an allocation failure. Messages are formatted into the record's own buffer and silently truncated
 * to it: an error message is for people and logs, never parsed.
 *
 * The table in error.h is the single list of codes. It is expanded here into name, description and retryable arrays
 * so that adding a code is one line. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct ErrCodeInfo {
    const char *name;
    const char *description;
    bool retryable;
} ErrCodeInfo;

static const ErrCodeInfo errCodeInfo[errCodeCount] = {
#define ERROR_INFO(code, retry, desc) [code] = {.name = #code, .description = desc, .retryable = retry},
    ERROR_TABLE(ERROR_INFO)
#undef ERROR_INFO
};

void errClear(Err *err)
{
    if (err == NULL)
        return;
    err->code = errOk;
    err->httpStatus = 0;
    err->sysErrno = 0;
    err->reason[0] = '\0';
    err->message[0] = '\0';
}

static void errFormat(Err *err, ErrCode code, const char *format, va_list args) PRINTF_LIKE(3, 0);

static void errFormat(Err *err, ErrCode code, const char *format, va_list args)
{
    errClear(err);
    err->code = code;
    vsnprintf(err->message, sizeof(err->message), format, args);
}

bool errSet(Err *err, ErrCode code, const char *format, ...)
{
    if (err == NULL)
        return false;
    va_list args;
    va_start(args, format);
    errFormat(err, code, format, args);
    va_end(args);
    return false;
}

bool errSetSys(Err *err, ErrCode code, const char *format, ...)
{
    int savedErrno = errno;
    if (err == NULL)
        return false;
    va_list args;
    va_start(args, format);
    errFormat(err, code, format, args);
    va_end(args);
    err->sysErrno = savedErrno;
    size_t used = strlen(err->message);
    snprintf(err->message + used, sizeof(err->message) - used, ": %s", strerror(savedErrno));
    return false;
}

bool errPrefix(Err *err, const char *format, ...)
{
    if (err == NULL)
        return false;
    char prefix[ERR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(prefix, sizeof(prefix), format, args);
    va_end(args);

    /* Shift the message right to make room for "prefix: ", cutting its end if the whole does not fit. */
    size_t prefixLen = strlen(prefix);
    if (prefixLen > ERR_MESSAGE_MAX - 3)
        prefixLen = ERR_MESSAGE_MAX - 3;
    size_t messageLen = strlen(err->message);
    size_t room = ERR_MESSAGE_MAX - 1 - prefixLen - 2;
    if (messageLen > room)
        messageLen = room;
    memmove(err->message + prefixLen + 2, err->message, messageLen);
    err->message[prefixLen + 2 + messageLen] = '\0';
    memcpy(err->message, prefix, prefixLen);
    memcpy(err->message + prefixLen, ": ", 2);
    return false;
}

static const ErrCodeInfo *errInfo(ErrCode code)
{
    if ((unsigned)code >= errCodeCount)
        return NULL;
    return &errCodeInfo[code];
}

const char *errCodeName(ErrCode code)
{
    const ErrCodeInfo *info = errInfo(code);
    return info ? info->name : "errUnknown";
}

const char *errCodeDescription(ErrCode code)
{
    const ErrCodeInfo *info = errInfo(code);
    return info ? info->description : "unknown error";
}

bool errCodeRetryable(ErrCode code)
{
    const ErrCodeInfo *info = errInfo(code);
    return info ? info->retryable : false;
}
