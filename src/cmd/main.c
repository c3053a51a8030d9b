/* postgres-operator: the operator binary.
 *
 * main reads the settings (settings.h), then builds the process on one event loop, each part in a child context of
 * the root, in the order that makes freeing the root safe (a context frees its newest children first, and each
 * part must go before what it uses): the client configuration, the loop, the HTTP client, the metrics registry, the
 * API layer, the probe/metrics listener, the reconciler, and the manager with its controllers and their shared
 * informers (the PostgresCluster controller is the only one so far). SIGTERM and SIGINT
 * arrive through a signalfd watched by the loop: the first starts the manager's graceful shutdown (stop taking work,
 * let reconciles in flight finish within a bound, release the Lease), a second one exits at once.
 *
 * Exit status: 0 after a graceful shutdown, 1 when the operator cannot start or loses its Lease, 2 on a usage
 * error. */
#include "cmd/settings.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "controller/api.h"
#include "controller/httpd.h"
#include "controller/lease.h"
#include "controller/manager.h"
#include "controller/metrics.h"
#include "controllers/postgrescluster/reconciler.h"
#include "kube/config.h"
#include "kube/http.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define OPERATOR_VERSION "0.1.0"

typedef struct Operator {
    MemCtx *root;
    Settings settings;
    Log log;
    KubeConfig *config;
    Loop *loop;
    KubeHttp *http;
    Metrics *metrics;
    Api *api;
    Httpd *httpd;
    ClusterReconciler *reconciler;
    Manager *manager;
    int signalFd;
    int signals;
    bool forceExit;
    char identity[LEASE_IDENTITY_MAX];
} Operator;

static bool loadConfig(Operator *op, Err *err)
{
    const Settings *settings = &op->settings;
    if (settings->kubeconfig == NULL) {
        KubeInClusterSource source = kubeInClusterSourceFromEnvironment();
        return kubeConfigInCluster(op->root, &source, &op->config, err);
    }
    return kubeConfigLoadFile(op->root, settings->kubeconfig, settings->context, &op->config, err);
}

static bool onHealthz(void *arg, const char *path, HttpdResponse *response, Err *err)
{
    (void)arg;
    (void)path;
    return strBufAppendStr(response->body, "ok\n", err);
}

/* Ready once the caches have synced. A standby replica (not holding the Lease) is ready too, as in PGO, whose
 * readiness check is a plain ping: it serves probes and keeps a warm cache to take over from. */
static bool onReadyz(void *arg, const char *path, HttpdResponse *response, Err *err)
{
    (void)path;
    Operator *op = arg;
    bool ready = managerReady(op->manager);
    response->status = ready ? 200 : 503;
    return strBufAppendStr(response->body, ready ? "ok\n" : "caches not synced\n", err);
}

static bool onMetrics(void *arg, const char *path, HttpdResponse *response, Err *err)
{
    (void)path;
    Operator *op = arg;
    response->contentType = "text/plain; version=0.0.4; charset=utf-8";
    return metricsRender(op->metrics, response->body, err);
}

static bool onDebugCache(void *arg, const char *path, HttpdResponse *response, Err *err)
{
    (void)path;
    Operator *op = arg;
    return managerDumpCaches(op->manager, response->body, err);
}

static void onSignal(void *arg, int fd, unsigned events)
{
    (void)events;
    Operator *op = arg;
    struct signalfd_siginfo info;
    while (read(fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
        op->signals++;
        logInfo(&op->log, "received signal", logStr("signal", strsignal((int)info.ssi_signo)),
                logInt("count", op->signals));
        if (op->signals == 1)
            managerShutdown(op->manager);
        else
            op->forceExit = true;
    }
}

static bool watchSignals(Operator *op, Err *err)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        return errSetSys(err, errSystem, "cannot block SIGTERM and SIGINT");
    op->signalFd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (op->signalFd < 0)
        return errSetSys(err, errSystem, "cannot create a signalfd");
    return loopWatch(op->loop, op->signalFd, LOOP_READABLE, onSignal, op, err);
}

static void onVersion(void *arg, const KubeResponse *response, const Err *err)
{
    Operator *op = arg;
    if (err->code != errOk) {
        logWarn(&op->log, "api server version unknown", logStr("error", err->message));
        return;
    }
    json_t *version = json_loadb(response->body, response->bodyLen, 0, NULL);
    logInfo(&op->log, "connected to Kubernetes",
            logStr("api", json_string_value(json_object_get(version, "gitVersion"))),
            logStr("server", op->config->server));
    json_decref(version);
}

/* The ClusterImageFn: RELATED_IMAGE_<name>. */
static const char *relatedImage(void *arg, const char *name)
{
    return settingsImage(arg, name);
}

static bool startManager(Operator *op, Err *err)
{
    const Settings *settings = &op->settings;
    LeaseOptions lease = {
        .namespace = settings->operatorNamespace != NULL ? settings->operatorNamespace : op->config->namespace,
        .name = settings->leaseName,
        .identity = op->identity,
    };
    ManagerOptions options = {
        .lease = settings->leaseName != NULL ? &lease : NULL,
        .eventInstance = op->identity,
    };
    ControllerOptions clusterController = {
        .name = "postgrescluster",
        .workers = settings->workers,
        .reconcile = clusterReconcile,
    };
    Controller *controller;
    if (!leaseIdentityNew(op->identity, err) ||
        !clusterReconcilerNew(op->root, op->loop, &op->log, relatedImage, &op->settings, &op->reconciler, err))
        return false;
    clusterController.arg = op->reconciler;
    if (!managerNew(op->root, op->loop, op->api, &op->log, op->metrics, &options, &op->manager, err) ||
        !managerAddController(op->manager, &clusterController, &controller, err) ||
        !clusterReconcilerWatch(op->reconciler, controller, settings->targetNamespaces, settings->targetNamespaceCount,
                                err))
        return false;
    if (settings->leaseName != NULL)
        logInfo(&op->log, "leader election enabled", logStr("lease", settings->leaseName),
                logStr("namespace", lease.namespace), logStr("identity", op->identity));
    return true;
}

static bool startOperator(Operator *op, Err *err)
{
    KubeRequest version = {.method = kubeMethodGet, .path = "/version", .idempotent = true};
    bool ok = loadConfig(op, err) && loopNew(op->root, clockSystem(), &op->loop, err) &&
              kubeHttpNew(op->root, op->loop, op->config, NULL, &op->http, err) &&
              metricsNew(op->root, clockSystem(), &op->metrics, err) &&
              apiNew(op->root, op->http, op->metrics, &op->api, err) &&
              httpdNew(op->root, op->loop, &op->log, op->settings.healthAddress, &op->httpd, err) &&
              httpdRoute(op->httpd, "/healthz", onHealthz, op, err) &&
              httpdRoute(op->httpd, "/readyz", onReadyz, op, err) &&
              httpdRoute(op->httpd, "/metrics", onMetrics, op, err) &&
              (!op->settings.debugEndpoints || httpdRoute(op->httpd, "/debug/cache", onDebugCache, op, err)) &&
              startManager(op, err) && watchSignals(op, err) &&
              apiSend(op->api, apiVerbGet, &version, &(KubeCallbacks){.done = onVersion, .arg = op}, NULL, err);
    if (!ok)
        return false;
    logInfo(&op->log, "starting", logStr("version", OPERATOR_VERSION), logStr("server", op->config->server),
            logStr("healthAddress", op->settings.healthAddress), logInt("healthPort", httpdPort(op->httpd)));
    managerStart(op->manager);
    return true;
}

int main(int argc, char **argv)
{
    Operator op = {.signalFd = -1};
    Err err;
    allocUseForJansson();
    op.root = memCtxNew(NULL, "main");
    if (op.root == NULL) {
        fprintf(stderr, "postgres-operator: out of memory\n");
        return 1;
    }
    if (!settingsParse(op.root, argc, (const char *const *)argv, (const char *const *)environ, &op.settings, &err)) {
        fprintf(stderr, "postgres-operator: %s\n", err.message);
        memCtxFree(op.root);
        return 2;
    }
    if (op.settings.action != settingsRun) {
        if (op.settings.action == settingsShowVersion)
            printf("postgres-operator %s\n", OPERATOR_VERSION);
        else
            fputs(settingsUsage(), stdout);
        memCtxFree(op.root);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    logInit(&op.log, STDERR_FILENO, op.settings.logLevel, op.settings.logFormat, clockSystem());
    settingsLog(&op.settings, &op.log);

    int exitStatus = 1;
    bool ok = startOperator(&op, &err);
    while (ok && !op.forceExit && !managerFinished(op.manager, &exitStatus))
        ok = loopRunOnce(op.loop, -1, &err);
    if (!ok) {
        logError(&op.log, "cannot run", logStr("error", err.message), logStr("code", errCodeName(err.code)));
        exitStatus = 1;
    } else if (op.forceExit) {
        logWarn(&op.log, "second signal: exiting at once");
        exitStatus = 1;
    }
    memCtxFree(op.root);
    if (op.signalFd >= 0)
        close(op.signalFd);
    logInfo(&op.log, "exiting", logInt("status", exitStatus));
    return exitStatus;
}
