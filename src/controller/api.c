/* The controller layer's API client.
 *
 * An ApiCall is a small record in the Api's context that stands between kube/http and the caller: http calls back
 * into apiOnDone/apiOnStream with the record, which forwards to the caller's callbacks. The record is unlinked before
 * the caller's done runs (so that callback may send, cancel or cancel everything) and released after it returns.
 * Cancelling releases the record at once: http guarantees the done callback will not run for a cancelled call, and a
 * stream callback that cancels its own call does not touch the record after the caller's stream returns. */
#include "controller/api.h"

#include <stdio.h>

struct ApiCall {
    Api *api;
    KubeCall *call;
    ApiVerb verb;
    KubeCallbacks callbacks;
    ApiCall *prev;
    ApiCall *next;
};

struct Api {
    MemCtx *ctx;
    KubeHttp *http;
    MetricFamily *requests;
    ApiCall *calls;
    size_t activeCalls;
};

static const char *const apiVerbNames[] = {"get", "list", "watch", "create", "update", "patch", "delete"};

const char *apiVerbName(ApiVerb verb)
{
    return apiVerbNames[verb];
}

/* Freeing the Api stops its calls; their records go with the context's memory. */
static void apiCleanup(void *arg)
{
    Api *api = arg;
    for (ApiCall *call = api->calls; call != NULL; call = call->next)
        kubeCallCancel(call->call);
}

bool apiNew(MemCtx *parent, KubeHttp *http, Metrics *metrics, Api **out, Err *err)
{
    MemCtx *ctx = memCtxNew(parent, "api");
    Api *api = ctx != NULL ? memCtxAlloc(ctx, sizeof(*api)) : NULL;
    if (api == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the api client");
    }
    *api = (Api){.ctx = ctx, .http = http};
    MetricSpec spec = {
        .type = metricCounter,
        .name = "pgo_api_requests_total",
        .help = "Requests to the Kubernetes API server, by verb and final HTTP status (\"error\": no response).",
        .labels = {"verb", "code"},
    };
    if (metrics != NULL && !metricsRegister(metrics, &spec, &api->requests, err)) {
        memCtxFree(ctx);
        return false;
    }
    if (!memCtxOnFree(ctx, apiCleanup, api)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the api client");
    }
    *out = api;
    return true;
}

static void apiUnlink(ApiCall *call)
{
    Api *api = call->api;
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        api->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    api->activeCalls--;
}

static void apiOnDone(void *arg, const KubeResponse *response, const Err *err)
{
    ApiCall *call = arg;
    char code[24];
    if (response->status > 0)
        snprintf(code, sizeof(code), "%ld", response->status);
    else
        snprintf(code, sizeof(code), "error");
    metricAdd(call->api->requests, (const char *[]){apiVerbNames[call->verb], code}, 1);
    apiUnlink(call);
    call->callbacks.done(call->callbacks.arg, response, err);
    memCtxRelease(call);
}

static bool apiOnStream(void *arg, const char *data, size_t len, Err *err)
{
    ApiCall *call = arg;
    return call->callbacks.stream(call->callbacks.arg, data, len, err);
}

bool apiSend(Api *api, ApiVerb verb, const KubeRequest *request, const KubeCallbacks *callbacks, ApiCall **out,
             Err *err)
{
    ApiCall *call = memCtxAlloc(api->ctx, sizeof(*call));
    if (call == NULL)
        return errSet(err, errOutOfMemory, "out of memory starting a request");
    *call = (ApiCall){.api = api, .verb = verb, .callbacks = *callbacks, .next = api->calls};
    KubeCallbacks forward = {.done = apiOnDone, .stream = callbacks->stream != NULL ? apiOnStream : NULL, .arg = call};
    if (!kubeHttpSend(api->http, request, &forward, &call->call, err)) {
        memCtxRelease(call);
        return false;
    }
    if (api->calls != NULL)
        api->calls->prev = call;
    api->calls = call;
    api->activeCalls++;
    if (out != NULL)
        *out = call;
    return true;
}

void apiCancel(ApiCall *call)
{
    if (call == NULL)
        return;
    kubeCallCancel(call->call);
    apiUnlink(call);
    memCtxRelease(call);
}

size_t apiActiveCalls(const Api *api)
{
    return api->activeCalls;
}
