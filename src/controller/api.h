/* The controller layer's door to the API server: kube/http calls, counted and tracked.
 *
 * Every request of the controllers goes through apiSend, which forwards it to the shared KubeHttp and, when it
 * completes, counts it in pgo_api_requests_total{verb, code} (code is the final HTTP status, or "error" when no
 * response arrived). The Api also keeps the list of its calls in flight, so that shutdown can wait for them to drain
 * (apiActiveCalls). The components that start calls cancel their own when they stop or are freed.
 *
 * Callbacks keep kube/http's contract: done runs exactly once from the loop unless the call is cancelled first
 * (apiCancel, or freeing the Api's context); stream runs for watch bodies. */
#ifndef CONTROLLER_API_H
#define CONTROLLER_API_H

#include "common/error.h"
#include "common/memctx.h"
#include "controller/metrics.h"
#include "kube/http.h"
#include "kube/request.h"

typedef struct Api Api;
typedef struct ApiCall ApiCall;

/* Verbs as Kubernetes names them in audit logs and RBAC. */
typedef enum ApiVerb {
    apiVerbGet,
    apiVerbList,
    apiVerbWatch,
    apiVerbCreate,
    apiVerbUpdate,
    apiVerbPatch,
    apiVerbDelete,
} ApiVerb;

/* An Api over http, in a new child context of parent. metrics may be NULL.
 *
 * Freeing order: a component that holds ApiCalls cancels them when it is freed, and the Api cancels what is left when
 * it is freed, which needs http alive. So components must be freed before their Api, and the Api before http: create
 * each after what it uses, in the same parent (a context frees its newest children first), or below it. */
bool apiNew(MemCtx *parent, KubeHttp *http, Metrics *metrics, Api **out, Err *err) MUST_CHECK;

/* Starts request; *out (when out is not NULL) identifies the call until its done callback has returned. */
bool apiSend(Api *api, ApiVerb verb, const KubeRequest *request, const KubeCallbacks *callbacks, ApiCall **out,
             Err *err) MUST_CHECK;

/* Stops a call that has not completed; its done callback will not run. Allowed from any callback. */
void apiCancel(ApiCall *call);

size_t apiActiveCalls(const Api *api);

const char *apiVerbName(ApiVerb verb);

#endif
