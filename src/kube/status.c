/* Kubernetes API errors.
 *
 * Two tables: reasons to codes, consulted first, then HTTP statuses to codes. Both follow the reasons of
 * k8s.io/apimachinery/pkg/apis/meta/v1 (StatusReason*). A body that is not a Status object is quoted in the message
 * only up to STATUS_EXCERPT_MAX bytes, with control characters replaced, so an HTML error page from a proxy cannot
 * flood a log line. */
#include "kube/status.h"

#include "common/json.h"

#include <stdio.h>
#include <string.h>

#define STATUS_EXCERPT_MAX 160

typedef struct StatusReasonCode {
    const char *reason;
    ErrCode code;
} StatusReasonCode;

static const StatusReasonCode statusReasons[] = {
    {"AlreadyExists", errKubeAlreadyExists},
    {"Conflict", errKubeConflict},
    {"NotFound", errKubeNotFound},
    {"Gone", errKubeGone},
    {"Expired", errKubeGone},
    {"Invalid", errKubeInvalid},
    {"Forbidden", errKubeForbidden},
    {"Unauthorized", errKubeUnauthorized},
    {"BadRequest", errKubeBadRequest},
    {"MethodNotAllowed", errKubeMethodNotAllowed},
    {"TooManyRequests", errKubeTooManyRequests},
    {"Timeout", errKubeServer},
    {"ServerTimeout", errKubeServer},
    {"ServiceUnavailable", errKubeServer},
    {"InternalError", errKubeServer},
};

ErrCode kubeStatusCode(long httpStatus, const char *reason)
{
    for (size_t reasonIdx = 0; reason != NULL && reasonIdx < sizeof(statusReasons) / sizeof(statusReasons[0]);
         reasonIdx++) {
        if (strcmp(reason, statusReasons[reasonIdx].reason) == 0)
            return statusReasons[reasonIdx].code;
    }
    switch (httpStatus) {
        case 400:
            return errKubeBadRequest;
        case 401:
            return errKubeUnauthorized;
        case 403:
            return errKubeForbidden;
        case 404:
            return errKubeNotFound;
        case 405:
            return errKubeMethodNotAllowed;
        case 409:
            return errKubeConflict;
        case 410:
            return errKubeGone;
        case 422:
            return errKubeInvalid;
        case 429:
            return errKubeTooManyRequests;
        default:
            return httpStatus >= 500 && httpStatus <= 599 ? errKubeServer : errKubeUnexpected;
    }
}

static void statusSetReason(Err *err, const char *reason)
{
    snprintf(err->reason, sizeof(err->reason), "%s", reason != NULL ? reason : "");
}

bool kubeStatusFromObject(const json_t *status, long httpStatus, Err *err)
{
    Err ignored;
    int64_t code = httpStatus;
    const char *reason = NULL;
    const char *message = NULL;
    /* Each field is optional and a wrong type is treated as absent: the error being reported matters more. */
    if (!jsonFindInt64(status, "code", httpStatus, &code, &ignored))
        code = httpStatus;
    if (!jsonFindStr(status, "reason", NULL, &reason, &ignored))
        reason = NULL;
    if (!jsonFindStr(status, "message", NULL, &message, &ignored))
        message = NULL;

    if (err == NULL)
        return false;
    errSet(err, kubeStatusCode((long)code, reason), "%s",
           message != NULL ? message : (reason != NULL ? reason : "api server reported a failure"));
    err->httpStatus = (int)code;
    statusSetReason(err, reason);
    return false;
}

bool kubeStatusFromResponse(long httpStatus, const char *body, size_t bodyLen, Err *err)
{
    json_t *parsed = NULL;
    Err parseErr;
    if (body != NULL && bodyLen > 0 && jsonParse(body, bodyLen, &parsed, &parseErr) && json_is_object(parsed)) {
        const char *kind = json_string_value(json_object_get(parsed, "kind"));
        if (kind != NULL && strcmp(kind, "Status") == 0) {
            kubeStatusFromObject(parsed, httpStatus, err);
            if (err != NULL)
                err->httpStatus = (int)httpStatus; /* the transport's status wins over the body's claim */
            json_decref(parsed);
            return false;
        }
    }
    json_decref(parsed);

    char excerpt[STATUS_EXCERPT_MAX + 1];
    size_t excerptLen = body == NULL ? 0 : (bodyLen < STATUS_EXCERPT_MAX ? bodyLen : STATUS_EXCERPT_MAX);
    for (size_t charIdx = 0; charIdx < excerptLen; charIdx++) {
        unsigned char c = (unsigned char)body[charIdx];
        excerpt[charIdx] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    excerpt[excerptLen] = '\0';
    errSet(err, kubeStatusCode(httpStatus, NULL), "api server answered HTTP %ld%s%s", httpStatus,
           excerptLen > 0 ? ": " : "", excerpt);
    if (err != NULL)
        err->httpStatus = (int)httpStatus;
    return false;
}
