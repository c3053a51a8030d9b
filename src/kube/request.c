/* Kubernetes API requests.
 *
 * Every builder goes through the same three steps: requestPath writes the resource's collection or object path
 * (/api/v1/... for the core group, /apis/<group>/<version>/... otherwise), requestQuery appends the query
 * parameters that are set, and requestBody serialises the JSON body canonically (sorted keys), so the same desired
 * object always produces the same bytes. The path goes into a StrBuf bounded by KUBE_PATH_MAX_LENGTH and the body
 * into one bounded by KUBE_BODY_MAX_LENGTH; both end up owned by ctx.
 *
 * A request is marked idempotent when resending it after a connection failure cannot do harm: reads, PUT (which is
 * guarded by the object's resourceVersion), DELETE, and PATCH (an apply or merge of the same content converges).
 * POST is not: a create may have succeeded before the connection broke. */
#include "kube/request.h"

#include "common/json.h"
#include "common/strbuf.h"

#include <inttypes.h>
#include <string.h>

static const char *const kubeMethodNames[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

const char *kubeMethodName(KubeMethod method)
{
    return kubeMethodNames[method];
}

/* Appends str percent-encoded: everything but RFC 3986 unreserved characters is escaped. */
static bool requestAppendEscaped(StrBuf *buf, const char *str, Err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)str; *c != '\0'; c++) {
        bool unreserved = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                          *c == '-' || *c == '.' || *c == '_' || *c == '~';
        char escaped[3] = {'%', hex[*c >> 4], hex[*c & 15]};
        if (!(unreserved ? strBufAppendChar(buf, (char)*c, err) : strBufAppend(buf, escaped, 3, err)))
            return false;
    }
    return true;
}

/* A name or namespace must be a single, non-empty path segment. */
static bool requestCheckSegment(const char *what, const char *segment, Err *err)
{
    if (segment == NULL || *segment == '\0')
        return errSet(err, errInvalidArgument, "%s is empty", what);
    if (strchr(segment, '/') != NULL || strcmp(segment, ".") == 0 || strcmp(segment, "..") == 0)
        return errSet(err, errInvalidArgument, "%s \"%s\" is not a valid path segment", what, segment);
    return true;
}

static bool requestAppendSegment(StrBuf *path, const char *segment, Err *err)
{
    return strBufAppendChar(path, '/', err) && requestAppendEscaped(path, segment, err);
}

/* The collection path (name NULL) or object path (name already checked by requestObjectPath), with the
 * subresource. ns NULL for a namespaced resource is allowed only when allowAllNamespaces. */
static bool requestPath(StrBuf *path, const KubeResource *resource, const char *ns, const char *name,
                        KubeSubresource subresource, bool allowAllNamespaces, Err *err)
{
    if (!resource->namespaced && ns != NULL)
        return errSet(err, errInvalidArgument, "%s are cluster-scoped, yet a namespace was given", resource->plural);
    if (resource->namespaced && ns == NULL && !allowAllNamespaces)
        return errSet(err, errInvalidArgument, "%s are namespaced, yet no namespace was given", resource->plural);
    if (ns != NULL && !requestCheckSegment("namespace", ns, err))
        return false;

    bool core = resource->group == NULL || *resource->group == '\0';
    if (!strBufAppendStr(path, core ? "/api" : "/apis", err))
        return false;
    if (!core && !requestAppendSegment(path, resource->group, err))
        return false;
    if (!requestAppendSegment(path, resource->version, err))
        return false;
    if (ns != NULL && !(requestAppendSegment(path, "namespaces", err) && requestAppendSegment(path, ns, err)))
        return false;
    if (!requestAppendSegment(path, resource->plural, err))
        return false;
    if (name != NULL && !requestAppendSegment(path, name, err))
        return false;
    if (subresource == kubeSubresourceStatus && !requestAppendSegment(path, "status", err))
        return false;
    return true;
}

/* The path of one named object (name may not be NULL here). */
static bool requestObjectPath(StrBuf *path, const KubeResource *resource, const char *ns, const char *name,
                              KubeSubresource subresource, Err *err)
{
    return requestCheckSegment("name", name, err) && requestPath(path, resource, ns, name, subresource, false, err);
}

/* Appends "?key=value" or "&key=value" when value is set. */
static bool requestQuery(StrBuf *path, const char *key, const char *value, Err *err)
{
    if (value == NULL)
        return true;
    return strBufAppendChar(path, strchr(strBufStr(path), '?') == NULL ? '?' : '&', err) &&
           strBufAppendStr(path, key, err) && strBufAppendChar(path, '=', err) &&
           requestAppendEscaped(path, value, err);
}

static bool requestQueryInt(StrBuf *path, const char *key, int64_t value, Err *err)
{
    char number[24];
    if (value <= 0)
        return true;
    snprintf(number, sizeof(number), "%" PRId64, value);
    return requestQuery(path, key, number, err);
}

/* Starts out with method and the path under construction. */
static void requestBegin(KubeRequest *out, KubeMethod method, StrBuf *path, MemCtx *ctx)
{
    *out = (KubeRequest){.method = method, .idempotent = method != kubeMethodPost};
    strBufInit(path, ctx, KUBE_PATH_MAX_LENGTH);
}

static bool requestEnd(KubeRequest *out, StrBuf *path, bool ok, Err *err)
{
    if (!ok)
        return errPrefix(err, "cannot build %s request", kubeMethodName(out->method));
    out->path = strBufStr(path);
    return true;
}

static bool requestBody(MemCtx *ctx, KubeRequest *out, const char *contentType, const json_t *body, Err *err)
{
    StrBuf buf;
    strBufInit(&buf, ctx, KUBE_BODY_MAX_LENGTH);
    if (!jsonDump(body, &buf, err))
        return false;
    out->contentType = contentType;
    out->body = strBufStr(&buf);
    out->bodyLen = buf.len;
    return true;
}

bool kubeRequestGet(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name, KubeRequest *out,
                    Err *err)
{
    StrBuf path;
    requestBegin(out, kubeMethodGet, &path, ctx);
    bool ok = requestObjectPath(&path, resource, ns, name, kubeSubresourceNone, err);
    return requestEnd(out, &path, ok, err);
}

bool kubeRequestList(MemCtx *ctx, const KubeResource *resource, const char *ns, const KubeListOptions *options,
                     KubeRequest *out, Err *err)
{
    static const KubeListOptions none = {0};
    options = options != NULL ? options : &none;
    StrBuf path;
    requestBegin(out, kubeMethodGet, &path, ctx);
    bool ok = requestPath(&path, resource, ns, NULL, kubeSubresourceNone, true, err) &&
              requestQuery(&path, "labelSelector", options->labelSelector, err) &&
              requestQuery(&path, "fieldSelector", options->fieldSelector, err) &&
              requestQuery(&path, "resourceVersion", options->resourceVersion, err) &&
              requestQueryInt(&path, "limit", options->limit, err) &&
              requestQuery(&path, "continue", options->continueToken, err);
    return requestEnd(out, &path, ok, err);
}

bool kubeRequestWatch(MemCtx *ctx, const KubeResource *resource, const char *ns, const KubeWatchOptions *options,
                      KubeRequest *out, Err *err)
{
    static const KubeWatchOptions none = {0};
    options = options != NULL ? options : &none;
    StrBuf path;
    requestBegin(out, kubeMethodGet, &path, ctx);
    out->watch = true;
    bool ok = requestPath(&path, resource, ns, NULL, kubeSubresourceNone, true, err) &&
              requestQuery(&path, "watch", "1", err) &&
              requestQuery(&path, "labelSelector", options->labelSelector, err) &&
              requestQuery(&path, "fieldSelector", options->fieldSelector, err) &&
              requestQuery(&path, "resourceVersion", options->resourceVersion, err) &&
              requestQuery(&path, "allowWatchBookmarks", options->allowWatchBookmarks ? "true" : NULL, err) &&
              requestQueryInt(&path, "timeoutSeconds", options->timeoutSeconds, err);
    return requestEnd(out, &path, ok, err);
}

bool kubeRequestCreate(MemCtx *ctx, const KubeResource *resource, const char *ns, const json_t *object,
                       KubeRequest *out, Err *err)
{
    StrBuf path;
    requestBegin(out, kubeMethodPost, &path, ctx);
    bool ok = requestPath(&path, resource, ns, NULL, kubeSubresourceNone, false, err) &&
              requestBody(ctx, out, "application/json", object, err);
    return requestEnd(out, &path, ok, err);
}

bool kubeRequestUpdate(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                       KubeSubresource subresource, const json_t *object, KubeRequest *out, Err *err)
{
    StrBuf path;
    requestBegin(out, kubeMethodPut, &path, ctx);
    bool ok = requestObjectPath(&path, resource, ns, name, subresource, err) &&
              requestBody(ctx, out, "application/json", object, err);
    return requestEnd(out, &path, ok, err);
}

bool kubeRequestDelete(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                       const KubeDeleteOptions *options, KubeRequest *out, Err *err)
{
    static const KubeDeleteOptions none = {0};
    options = options != NULL ? options : &none;
    StrBuf path;
    requestBegin(out, kubeMethodDelete, &path, ctx);
    bool ok = requestObjectPath(&path, resource, ns, name, kubeSubresourceNone, err);
    if (ok) {
        json_t *body = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "DeleteOptions");
        json_t *preconditions = json_object();
        ok = body != NULL && preconditions != NULL;
        if (ok && options->propagationPolicy != NULL)
            ok = json_object_set_new(body, "propagationPolicy", json_string(options->propagationPolicy)) == 0;
        if (ok && options->preconditionUid != NULL)
            ok = json_object_set_new(preconditions, "uid", json_string(options->preconditionUid)) == 0;
        if (ok && options->preconditionResourceVersion != NULL)
            ok = json_object_set_new(preconditions, "resourceVersion",
                                     json_string(options->preconditionResourceVersion)) == 0;
        if (ok && json_object_size(preconditions) > 0)
            ok = json_object_set(body, "preconditions", preconditions) == 0;
        if (!ok)
            errSet(err, errOutOfMemory, "out of memory building DeleteOptions");
        ok = ok && requestBody(ctx, out, "application/json", body, err);
        json_decref(preconditions);
        json_decref(body);
    }
    return requestEnd(out, &path, ok, err);
}

/* A field manager the API server accepts: non-empty, no control characters, at most KUBE_FIELD_MANAGER_MAX_LENGTH
 * bytes. NULL passes when optional (the server then names the manager itself). */
static bool requestCheckFieldManager(const char *fieldManager, bool optional, Err *err)
{
    if (fieldManager == NULL || *fieldManager == '\0') {
        if (fieldManager == NULL && optional)
            return true;
        return errSet(err, errInvalidArgument, "fieldManager is empty");
    }
    size_t length = strlen(fieldManager);
    if (length > KUBE_FIELD_MANAGER_MAX_LENGTH)
        return errSet(err, errInvalidArgument, "fieldManager is %zu bytes long, more than %d", length,
                      KUBE_FIELD_MANAGER_MAX_LENGTH);
    for (const unsigned char *c = (const unsigned char *)fieldManager; *c != '\0'; c++)
        if (*c < 0x20 || *c == 0x7f)
            return errSet(err, errInvalidArgument, "fieldManager has a control character");
    return true;
}

bool kubeRequestApply(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                      KubeSubresource subresource, const char *fieldManager, const json_t *object, KubeRequest *out,
                      Err *err)
{
    StrBuf path;
    requestBegin(out, kubeMethodPatch, &path, ctx);
    bool ok = requestCheckFieldManager(fieldManager, false, err) &&
              requestObjectPath(&path, resource, ns, name, subresource, err) &&
              requestQuery(&path, "fieldManager", fieldManager, err) && requestQuery(&path, "force", "true", err) &&
              requestBody(ctx, out, "application/apply-patch+yaml", object, err);
    return requestEnd(out, &path, ok, err);
}

/* A patch of contentType under fieldManager (strategic merge and JSON merge differ in nothing else). */
static bool requestPatch(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                         KubeSubresource subresource, const char *fieldManager, const char *contentType,
                         const json_t *patch, KubeRequest *out, Err *err)
{
    StrBuf path;
    requestBegin(out, kubeMethodPatch, &path, ctx);
    bool ok = requestCheckFieldManager(fieldManager, true, err) &&
              requestObjectPath(&path, resource, ns, name, subresource, err) &&
              requestQuery(&path, "fieldManager", fieldManager, err) && requestBody(ctx, out, contentType, patch, err);
    return requestEnd(out, &path, ok, err);
}

bool kubeRequestStrategicPatch(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                               KubeSubresource subresource, const char *fieldManager, const json_t *patch,
                               KubeRequest *out, Err *err)
{
    return requestPatch(ctx, resource, ns, name, subresource, fieldManager, "application/strategic-merge-patch+json",
                        patch, out, err);
}

bool kubeRequestMergePatch(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                           KubeSubresource subresource, const char *fieldManager, const json_t *patch, KubeRequest *out,
                           Err *err)
{
    return requestPatch(ctx, resource, ns, name, subresource, fieldManager, "application/merge-patch+json", patch, out,
                        err);
}
