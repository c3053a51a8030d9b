/* postgres-operator: the operator binary.
 *
 * For now main wires the layers that exist: it reads the client configuration (a kubeconfig when --kubeconfig or
 * KUBECONFIG names one, else the in-cluster service account), starts the event loop and the API client, and asks the
 * API server for its version, logging the answer. The controllers will hang off the same loop. Exit status: 0 when
 * the API server answered, 1 on any failure, 2 on a usage error. */
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "kube/config.h"
#include "kube/http.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OPERATOR_VERSION "0.1.0"

typedef struct Options {
    const char *kubeconfig;
    const char *context;
    LogLevel logLevel;
    LogFormat logFormat;
} Options;

typedef struct VersionCheck {
    const Log *log;
    bool done;
    bool ok;
} VersionCheck;

static void usage(FILE *out)
{
    fprintf(out, "usage: postgres-operator [--kubeconfig PATH] [--context NAME] [--log-level debug|info|warn|error]\n"
                 "                         [--log-format text|json] [--version]\n");
}

/* Parses argv; returns -1 to go on, else the exit status. */
static int parseOptions(int argc, char **argv, Options *options)
{
    static const struct option longOptions[] = {
        {"kubeconfig", required_argument, NULL, 'k'},
        {"context", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *options = (Options){.kubeconfig = getenv("KUBECONFIG"), .logLevel = logLevelInfo, .logFormat = logFormatText};
    int option;
    while ((option = getopt_long(argc, argv, "", longOptions, NULL)) != -1) {
        switch (option) {
            case 'k':
                options->kubeconfig = optarg;
                break;
            case 'c':
                options->context = optarg;
                break;
            case 'l':
                if (!logLevelParse(optarg, &options->logLevel)) {
                    usage(stderr);
                    return 2;
                }
                break;
            case 'f':
                if (!logFormatParse(optarg, &options->logFormat)) {
                    usage(stderr);
                    return 2;
                }
                break;
            case 'v':
                printf("postgres-operator %s\n", OPERATOR_VERSION);
                return 0;
            case 'h':
                usage(stdout);
                return 0;
            default:
                usage(stderr);
                return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* KUBECONFIG may list several files; the first one is used. */
static bool loadConfig(MemCtx *ctx, const Options *options, KubeConfig **config, Err *err)
{
    if (options->kubeconfig == NULL || *options->kubeconfig == '\0') {
        KubeInClusterSource source = kubeInClusterSourceFromEnvironment();
        return kubeConfigInCluster(ctx, &source, config, err);
    }
    char *first = memCtxStrNDup(ctx, options->kubeconfig, strcspn(options->kubeconfig, ":"));
    if (first == NULL)
        return errSet(err, errOutOfMemory, "out of memory");
    return kubeConfigLoadFile(ctx, first, options->context, config, err);
}

static void onVersion(void *arg, const KubeResponse *response, const Err *err)
{
    VersionCheck *check = arg;
    check->done = true;
    if (err->code != errOk) {
        logError(check->log, "api server unreachable", logStr("error", err->message),
                 logStr("code", errCodeName(err->code)), logInt("attempts", response->attempts));
        return;
    }
    json_t *version = json_loadb(response->body, response->bodyLen, 0, NULL);
    logInfo(check->log, "connected to the api server",
            logStr("gitVersion", json_string_value(json_object_get(version, "gitVersion"))),
            logInt("attempts", response->attempts));
    json_decref(version);
    check->ok = true;
}

int main(int argc, char **argv)
{
    Options options;
    int exitStatus = parseOptions(argc, argv, &options);
    if (exitStatus >= 0)
        return exitStatus;

    allocUseForJansson();
    Log log;
    logInit(&log, STDERR_FILENO, options.logLevel, options.logFormat, clockSystem());

    MemCtx *root = memCtxNew(NULL, "main");
    Err err;
    KubeConfig *config;
    Loop *loop;
    KubeHttp *http;
    VersionCheck check = {.log = &log};
    KubeRequest version = {.method = kubeMethodGet, .path = "/version", .idempotent = true};
    bool ok = (root != NULL || errSet(&err, errOutOfMemory, "out of memory")) &&
              loadConfig(root, &options, &config, &err) && loopNew(root, clockSystem(), &loop, &err) &&
              kubeHttpNew(root, loop, config, NULL, &http, &err) &&
              kubeHttpSend(http, &version, &(KubeCallbacks){.done = onVersion, .arg = &check}, NULL, &err);
    if (ok)
        logInfo(&log, "starting", logStr("version", OPERATOR_VERSION), logStr("server", config->server),
                logStr("namespace", config->namespace));
    while (ok && !check.done)
        ok = loopRunOnce(loop, -1, &err);
    if (!ok)
        logError(&log, "cannot start", logStr("error", err.message), logStr("code", errCodeName(err.code)));
    memCtxFree(root);
    return ok && check.ok ? 0 : 1;
}
