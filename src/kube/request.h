/* Kubernetes API requests: method, escaped path and query, content type and body, for every verb the operator uses.
 *
 * A resource is addressed by group, version and plural (the REST path), never by generated types: bodies are JSON
 * documents built by the caller. Builders validate names and namespaces (non-empty, no '/', not "." or "..") and
 * percent-encode every path segment and query value, so no caller-supplied string can change the request's target.
 * Everything a builder allocates lives in the given memory context. Verbs:
 *
 *     get, list (limit, continue, labelSelector, fieldSelector, resourceVersion), watch (resourceVersion,
 *     allowWatchBookmarks, timeoutSeconds, selectors), create (POST), update (PUT), delete (DeleteOptions body:
 *     propagationPolicy, preconditions), apply (server-side apply: PATCH application/apply-patch+yaml with
 *     force=true; JSON is YAML), merge patch (application/merge-patch+json) and strategic merge patch.
 *
 * Apply and the patches name their field manager, which the sending controller passes: PGO's name for the same
 * controller ("postgrescluster-controller", later "pgupgrade-controller"), so that on a cluster PGO managed the fields
 * both operators write keep one owner, and the fields PGO wrote but we do not are released by our first apply instead
 * of staying owned by a manager nobody runs. Update, apply and the patches can target the status subresource. */
#ifndef KUBE_REQUEST_H
#define KUBE_REQUEST_H

#include "common/error.h"
#include "common/memctx.h"

#include <jansson.h>
#include <stdint.h>

#define KUBE_FIELD_MANAGER_MAX_LENGTH 128 /* the API server's bound */
#define KUBE_PATH_MAX_LENGTH          8192
#define KUBE_BODY_MAX_LENGTH          (8 * 1024 * 1024)

typedef struct KubeResource {
    const char *group; /* "" for the core group */
    const char *version;
    const char *plural;
    bool namespaced;
} KubeResource;

typedef enum KubeMethod {
    kubeMethodGet,
    kubeMethodPost,
    kubeMethodPut,
    kubeMethodPatch,
    kubeMethodDelete,
} KubeMethod;

typedef enum KubeSubresource {
    kubeSubresourceNone,
    kubeSubresourceStatus,
} KubeSubresource;

typedef struct KubeRequest {
    KubeMethod method;
    const char *path;        /* absolute path with query, e.g. "/api/v1/namespaces/ns/pods?limit=500" */
    const char *contentType; /* NULL when there is no body */
    const char *body;
    size_t bodyLen;
    bool watch;      /* the response is a stream of events */
    bool idempotent; /* safe to resend after a connection failure */
} KubeRequest;

typedef struct KubeListOptions {
    const char *labelSelector;
    const char *fieldSelector;
    const char *resourceVersion;
    const char *continueToken;
    int64_t limit; /* 0: no limit */
} KubeListOptions;

typedef struct KubeWatchOptions {
    const char *labelSelector;
    const char *fieldSelector;
    const char *resourceVersion;
    int64_t timeoutSeconds; /* 0: the server's default */
    bool allowWatchBookmarks;
} KubeWatchOptions;

typedef struct KubeDeleteOptions {
    const char *propagationPolicy; /* "Foreground", "Background", "Orphan" or NULL */
    const char *preconditionUid;
    const char *preconditionResourceVersion;
} KubeDeleteOptions;

/* ns is required for namespaced resources (except list and watch, where NULL means all namespaces) and must be
 * NULL for cluster-scoped ones. Options may be NULL. */
bool kubeRequestGet(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name, KubeRequest *out,
                    Err *err) MUST_CHECK;
bool kubeRequestList(MemCtx *ctx, const KubeResource *resource, const char *ns, const KubeListOptions *options,
                     KubeRequest *out, Err *err) MUST_CHECK;
bool kubeRequestWatch(MemCtx *ctx, const KubeResource *resource, const char *ns, const KubeWatchOptions *options,
                      KubeRequest *out, Err *err) MUST_CHECK;
bool kubeRequestCreate(MemCtx *ctx, const KubeResource *resource, const char *ns, const json_t *object,
                       KubeRequest *out, Err *err) MUST_CHECK;
bool kubeRequestUpdate(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                       KubeSubresource subresource, const json_t *object, KubeRequest *out, Err *err) MUST_CHECK;
bool kubeRequestDelete(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                       const KubeDeleteOptions *options, KubeRequest *out, Err *err) MUST_CHECK;
/* fieldManager: the applying controller's name, required (non-empty, no control characters, at most
 * KUBE_FIELD_MANAGER_MAX_LENGTH bytes). The apply forces: a field another manager set to another value becomes
 * fieldManager's; the fields fieldManager owned that object no longer names are released (and removed, unless
 * another manager owns them too). */
bool kubeRequestApply(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                      KubeSubresource subresource, const char *fieldManager, const json_t *object, KubeRequest *out,
                      Err *err) MUST_CHECK;
/* A strategic merge patch (built-in kinds only): lists with a merge key, such as metadata.ownerReferences (by uid),
 * are merged entry by entry instead of replaced. For both patches fieldManager is checked as for apply, but may
 * be NULL: then the API server names the manager after the User-Agent ("postgres-operator"), as it does for a
 * create. */
bool kubeRequestStrategicPatch(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                               KubeSubresource subresource, const char *fieldManager, const json_t *patch,
                               KubeRequest *out, Err *err) MUST_CHECK;
bool kubeRequestMergePatch(MemCtx *ctx, const KubeResource *resource, const char *ns, const char *name,
                           KubeSubresource subresource, const char *fieldManager, const json_t *patch, KubeRequest *out,
                           Err *err) MUST_CHECK;

/* "GET", "POST", ... */
const char *kubeMethodName(KubeMethod method);

#endif
