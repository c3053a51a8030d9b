/* Leader election on a Lease.
 *
 * The elector is a state machine with at most one request in flight:
 *
 *     candidate --GET 404--> create --201--> leading
 *     candidate --GET 200, free--> update (acquire) --200--> leading
 *     candidate --GET 200, held by another--> candidate (next attempt after retryPeriod)
 *     leading --update (renew) 200--> leading;  --409--> GET --another holder--> lost
 *     leading --no renewal for renewDeadline--> lost            leading/candidate --release--> released
 *
 * "lost" and "released" are final. The last Lease read or written is kept (with its resourceVersion) so that a
 * leader renews with a single PUT; expiry of another holder's lease is judged from observedAtMs, the time on our
 * clock at which its record (the whole spec) was first seen unchanged.
 *
 * Each request builds its body in a scratch context reset before the next one; the Lease documents are jansson
 * values owned by the elector. */
#include "controller/lease.h"

#include "common/json.h"
#include "common/rng.h"
#include "kube/request.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef enum LeaseState {
    leaseIdle,
    leaseCandidate,
    leaseLeading,
    leaseLost,
    leaseReleasing,
    leaseReleased,
} LeaseState;

struct LeaseElector {
    MemCtx *ctx;
    MemCtx *scratch;
    Loop *loop;
    Api *api;
    const Log *log;
    LeaseOptions options;
    LeaseCallbacks callbacks;
    LeaseState state;
    ApiCall *call;
    LoopTimer *timer;
    json_t *lease;        /* the Lease as last read or written */
    json_t *observedSpec; /* the spec last seen, to tell when it changes */
    int64_t observedAtMs;
    int64_t lastRenewMs; /* when the last successful acquire or renew was sent */
    int64_t sentAtMs;    /* when the request in flight was sent */
    char holder[LEASE_IDENTITY_MAX];
    MetricFamily *leaderGauge;
};

static const KubeResource leaseResource = {"coordination.k8s.io", "v1", "leases", true};

static void leaseSendGet(LeaseElector *elector);

static const Log *leaseLog(const LeaseElector *elector)
{
    static const Log silent = {.fd = -1, .minLevel = logLevelError + 1};
    return elector->log != NULL ? elector->log : &silent;
}

static int64_t leaseNow(const LeaseElector *elector)
{
    return clockMonotonicMs(elector->options.clock);
}

void leaseFormatMicroTime(int64_t wallMs, char out[LEASE_MICROTIME_SIZE])
{
    char millis[CLOCK_RFC3339_SIZE];
    clockFormatRfc3339(wallMs, millis);
    /* "2026-11-25T11:23:45.678Z" -> "2026-11-25T11:23:45.678000Z": Go parses MicroTime with exactly six digits. */
    memcpy(out, millis, 23);
    memcpy(out + 23, "000Z", 5);
}

bool leaseIdentityNew(char out[LEASE_IDENTITY_MAX], Err *err)
{
    char host[128];
    uint64_t random;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    if (!rngSystemSeed(&random, err))
        return false;
    snprintf(out, LEASE_IDENTITY_MAX, "%s_%016" PRIx64, host, random);
    return true;
}

bool leaseElectorIsLeader(const LeaseElector *elector)
{
    return elector->state == leaseLeading;
}

const char *leaseElectorHolder(const LeaseElector *elector)
{
    return elector->holder;
}

static void leaseSetGauge(LeaseElector *elector, bool leading)
{
    metricSet(elector->leaderGauge, (const char *[]){elector->options.name}, leading ? 1 : 0);
}

static void leaseNoteHolder(LeaseElector *elector, const char *holder)
{
    if (strcmp(elector->holder, holder) == 0)
        return;
    snprintf(elector->holder, sizeof(elector->holder), "%s", holder);
    logInfo(leaseLog(elector), "lease holder changed", logStr("lease", elector->options.name),
            logStr("holder", *holder != '\0' ? holder : "(none)"), logStr("identity", elector->options.identity));
}

static void leaseBecomeLeader(LeaseElector *elector)
{
    elector->lastRenewMs = elector->sentAtMs;
    if (elector->state == leaseLeading)
        return;
    elector->state = leaseLeading;
    leaseSetGauge(elector, true);
    logInfo(leaseLog(elector), "became leader", logStr("lease", elector->options.name),
            logStr("namespace", elector->options.namespace), logStr("identity", elector->options.identity));
    if (elector->callbacks.startedLeading != NULL)
        elector->callbacks.startedLeading(elector->callbacks.arg);
}

static void leaseLose(LeaseElector *elector, const char *why)
{
    apiCancel(elector->call);
    elector->call = NULL;
    loopTimerStop(elector->timer);
    elector->state = leaseLost;
    leaseSetGauge(elector, false);
    logError(leaseLog(elector), "leader election lost", logStr("lease", elector->options.name), logStr("reason", why),
             logStr("identity", elector->options.identity));
    if (elector->callbacks.stoppedLeading != NULL)
        elector->callbacks.stoppedLeading(elector->callbacks.arg);
}

static void leaseFinishRelease(LeaseElector *elector)
{
    elector->state = leaseReleased;
    leaseSetGauge(elector, false);
    if (elector->callbacks.released != NULL)
        elector->callbacks.released(elector->callbacks.arg);
}

/* Keeps a copy of the Lease of a successful response. */
static bool leaseKeep(LeaseElector *elector, const KubeResponse *response, Err *err)
{
    json_t *lease;
    if (!jsonParse(response->body, response->bodyLen, &lease, err))
        return errPrefix(err, "lease response");
    if (!json_is_object(lease)) {
        json_decref(lease);
        return errSet(err, errJsonType, "lease response is not an object");
    }
    json_decref(elector->lease);
    elector->lease = lease;
    return true;
}

/* Logs a failed attempt; the next one comes with the timer. */
static void leaseAttemptFailed(LeaseElector *elector, const char *what, const Err *err)
{
    logEvent(leaseLog(elector), elector->state == leaseLeading ? logLevelWarn : logLevelDebug, what,
             logStr("lease", elector->options.name), logStr("error", err->message),
             logStr("code", errCodeName(err->code)), LOG_END);
}

static void leaseOnWrite(void *arg, const KubeResponse *response, const Err *callErr)
{
    LeaseElector *elector = arg;
    elector->call = NULL;
    Err err = *callErr;
    if (elector->state == leaseReleasing) {
        if (err.code != errOk)
            leaseAttemptFailed(elector, "lease release failed", &err);
        else
            logInfo(leaseLog(elector), "lease released", logStr("lease", elector->options.name));
        leaseFinishRelease(elector);
        return;
    }
    if (err.code == errOk && leaseKeep(elector, response, &err)) {
        leaseNoteHolder(elector, elector->options.identity);
        leaseBecomeLeader(elector);
        return;
    }
    if (err.code == errKubeConflict || err.code == errKubeAlreadyExists) {
        /* Someone else wrote the Lease since we read it: look again. */
        leaseSendGet(elector);
        return;
    }
    leaseAttemptFailed(elector, elector->state == leaseLeading ? "lease renewal failed" : "lease acquisition failed",
                       &err);
}

/* Sends a create (lease NULL) or an update of lease with spec. */
static void leaseSendWrite(LeaseElector *elector, json_t *spec)
{
    Err err;
    KubeRequest request;
    memCtxReset(elector->scratch);
    json_t *body = elector->lease != NULL
                       ? json_deep_copy(elector->lease)
                       : json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
                                   "metadata", "name", elector->options.name, "namespace", elector->options.namespace);
    if (body == NULL)
        json_decref(spec);
    bool ok = body != NULL && spec != NULL && json_object_set_new(body, "spec", spec) == 0; /* steals spec */
    if (!ok)
        errSet(&err, errOutOfMemory, "out of memory building a lease");
    if (ok && elector->lease != NULL) {
        /* The server sets these; an update only needs the resourceVersion. */
        json_object_del(json_object_get(body, "metadata"), "managedFields");
        ok = kubeRequestUpdate(elector->scratch, &leaseResource, elector->options.namespace, elector->options.name,
                               kubeSubresourceNone, body, &request, &err);
    } else if (ok) {
        ok = kubeRequestCreate(elector->scratch, &leaseResource, elector->options.namespace, body, &request, &err);
    }
    elector->sentAtMs = leaseNow(elector);
    ok = ok && apiSend(elector->api, elector->lease != NULL ? apiVerbUpdate : apiVerbCreate, &request,
                       &(KubeCallbacks){.done = leaseOnWrite, .arg = elector}, &elector->call, &err);
    json_decref(body);
    if (!ok)
        leaseAttemptFailed(elector, "lease request failed", &err);
}

/* The spec we write as holder (holder NULL: released). */
static json_t *leaseSpec(LeaseElector *elector, const char *holder, bool keepAcquireTime)
{
    char now[LEASE_MICROTIME_SIZE];
    leaseFormatMicroTime(clockWallMs(elector->options.clock), now);
    json_t *old = json_object_get(elector->lease, "spec");
    const char *oldHolder = json_string_value(json_object_get(old, "holderIdentity"));
    const char *acquireTime = json_string_value(json_object_get(old, "acquireTime"));
    json_int_t transitions = json_integer_value(json_object_get(old, "leaseTransitions"));
    bool sameHolder = holder != NULL && oldHolder != NULL && strcmp(oldHolder, holder) == 0;
    if (holder != NULL && !sameHolder && elector->lease != NULL)
        transitions++;
    int64_t durationSeconds = holder != NULL ? (elector->options.leaseDurationMs + 999) / 1000 : 1;
    return json_pack("{s:s, s:I, s:s, s:s, s:I}", "holderIdentity", holder != NULL ? holder : "",
                     "leaseDurationSeconds", (json_int_t)durationSeconds, "acquireTime",
                     keepAcquireTime && sameHolder && acquireTime != NULL ? acquireTime : now, "renewTime", now,
                     "leaseTransitions", transitions);
}

/* Decides what to do with the Lease just read. */
static void leaseOnRead(LeaseElector *elector)
{
    json_t *spec = json_object_get(elector->lease, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    holder = holder != NULL ? holder : "";
    json_int_t durationSeconds = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    int64_t now = leaseNow(elector);
    if (elector->observedSpec == NULL || !json_equal(elector->observedSpec, spec)) {
        json_decref(elector->observedSpec);
        elector->observedSpec = json_deep_copy(spec); /* NULL when out of memory: the next read observes again */
        elector->observedAtMs = now;
    }
    leaseNoteHolder(elector, holder);
    bool mine = strcmp(holder, elector->options.identity) == 0;
    bool valid = *holder != '\0' && elector->observedAtMs + (int64_t)durationSeconds * 1000 > now;
    if (!mine && valid) {
        if (elector->state == leaseLeading)
            leaseLose(elector, "another holder took the lease");
        return;
    }
    leaseSendWrite(elector, leaseSpec(elector, elector->options.identity, true));
}

static void leaseOnGet(void *arg, const KubeResponse *response, const Err *callErr)
{
    LeaseElector *elector = arg;
    elector->call = NULL;
    Err err = *callErr;
    if (err.code == errKubeNotFound) {
        json_decref(elector->lease);
        elector->lease = NULL;
        leaseSendWrite(elector, leaseSpec(elector, elector->options.identity, false));
        return;
    }
    if (err.code != errOk || !leaseKeep(elector, response, &err)) {
        leaseAttemptFailed(elector, "lease read failed", &err);
        return;
    }
    leaseOnRead(elector);
}

static void leaseSendGet(LeaseElector *elector)
{
    Err err;
    KubeRequest request;
    memCtxReset(elector->scratch);
    elector->sentAtMs = leaseNow(elector);
    if (!kubeRequestGet(elector->scratch, &leaseResource, elector->options.namespace, elector->options.name, &request,
                        &err) ||
        !apiSend(elector->api, apiVerbGet, &request, &(KubeCallbacks){.done = leaseOnGet, .arg = elector},
                 &elector->call, &err))
        leaseAttemptFailed(elector, "lease request failed", &err);
}

void leaseElectorTick(LeaseElector *elector)
{
    if (elector->state != leaseCandidate && elector->state != leaseLeading)
        return;
    if (elector->state == leaseLeading &&
        leaseNow(elector) - elector->lastRenewMs >= elector->options.renewDeadlineMs) {
        leaseLose(elector, "no renewal succeeded within the renew deadline");
        return;
    }
    if (elector->call != NULL)
        return;
    if (elector->state == leaseLeading && elector->lease != NULL)
        leaseSendWrite(elector, leaseSpec(elector, elector->options.identity, true));
    else
        leaseSendGet(elector);
}

static void leaseOnTimer(void *arg)
{
    LeaseElector *elector = arg;
    leaseElectorTick(elector);
    if (elector->state == leaseCandidate || elector->state == leaseLeading)
        loopTimerStart(elector->timer, elector->options.retryPeriodMs);
}

void leaseElectorStart(LeaseElector *elector)
{
    if (elector->state != leaseIdle)
        return;
    elector->state = leaseCandidate;
    loopTimerStart(elector->timer, 0);
}

void leaseElectorRelease(LeaseElector *elector)
{
    loopTimerStop(elector->timer);
    if (elector->state == leaseReleasing || elector->state == leaseReleased)
        return;
    apiCancel(elector->call);
    elector->call = NULL;
    if (elector->state != leaseLeading || elector->lease == NULL) {
        leaseFinishRelease(elector);
        return;
    }
    elector->state = leaseReleasing;
    leaseSendWrite(elector, leaseSpec(elector, NULL, false));
    if (elector->call == NULL)
        leaseFinishRelease(elector);
}

static void leaseCleanup(void *arg)
{
    LeaseElector *elector = arg;
    apiCancel(elector->call);
    json_decref(elector->lease);
    json_decref(elector->observedSpec);
    loopTimerFree(elector->timer);
}

bool leaseElectorNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics,
                     const LeaseOptions *options, const LeaseCallbacks *callbacks, LeaseElector **out, Err *err)
{
    if (options->namespace == NULL || options->name == NULL || options->identity == NULL || *options->identity == '\0')
        return errSet(err, errInvalidArgument, "leader election needs a namespace, a lease name and an identity");
    MemCtx *ctx = memCtxNew(parent, "lease");
    LeaseElector *elector = ctx != NULL ? memCtxAlloc(ctx, sizeof(*elector)) : NULL;
    if (elector == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the leader elector");
    }
    *elector = (LeaseElector){.ctx = ctx, .loop = loop, .api = api, .log = log, .options = *options};
    if (callbacks != NULL)
        elector->callbacks = *callbacks;
    LeaseOptions *filled = &elector->options;
    if (filled->leaseDurationMs <= 0)
        filled->leaseDurationMs = 15000;
    if (filled->renewDeadlineMs <= 0)
        filled->renewDeadlineMs = 10000;
    if (filled->retryPeriodMs <= 0)
        filled->retryPeriodMs = 2000;
    if (filled->clock.readMs == NULL)
        filled->clock = loopClock(loop);
    filled->namespace = memCtxStrDup(ctx, options->namespace);
    filled->name = memCtxStrDup(ctx, options->name);
    filled->identity = memCtxStrDup(ctx, options->identity);
    elector->scratch = memCtxNew(ctx, "lease-request");
    elector->timer = loopTimerNew(loop, leaseOnTimer, elector);
    if (filled->namespace == NULL || filled->name == NULL || filled->identity == NULL || elector->scratch == NULL ||
        elector->timer == NULL || !memCtxOnFree(ctx, leaseCleanup, elector)) {
        loopTimerFree(elector->timer);
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the leader elector");
    }
    MetricSpec gauge = {
        .type = metricGauge,
        .name = "leader_election_master_status",
        .help = "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates "
                "master. 'name' is the string used to identify the lease.",
        .labels = {"name"},
    };
    if (metrics != NULL && !metricsRegister(metrics, &gauge, &elector->leaderGauge, err)) {
        memCtxFree(ctx);
        return false;
    }
    leaseSetGauge(elector, false);
    *out = elector;
    return true;
}
