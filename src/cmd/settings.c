/* The operator's settings.
 *
 * Everything is read from the argv and env arrays given, never from the process' globals, so tests can parse any
 * combination. Environment variables are read first, then flags, which may override the log level. Each rule below
 * cites how PGO v5.8 reads the same variable (cmd/postgres-operator/main.go), because users' manifests were written
 * for it: PGO trims spaces around the target namespaces, compares CRUNCHY_DEBUG to "true" ignoring case, and parses
 * PGO_WORKERS with strconv.Atoi. */
#include "cmd/settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SETTINGS_DEFAULT_WORKERS 2
#define SETTINGS_MAX_WORKERS     65535
#define SETTINGS_IMAGE_PREFIX    "RELATED_IMAGE_"

static const char settingsUsageText[] =
    "usage: postgres-operator [flags]\n"
    "\n"
    "flags:\n"
    "  --kubeconfig PATH          kubeconfig to use (default: $KUBECONFIG, else the in-cluster service account)\n"
    "  --context NAME             kubeconfig context (default: its current-context)\n"
    "  --health-address ADDR      listen address of /healthz, /readyz and /metrics (default :8081)\n"
    "  --log-format text|json     log line format (default text)\n"
    "  --log-level LEVEL          debug, info, warn or error (default info; debug when CRUNCHY_DEBUG=true)\n"
    "  --debug-endpoints          also serve /debug/cache (the informers' caches; for tests)\n"
    "  --version                  print the version and exit\n"
    "  --help                     print this text and exit\n"
    "\n"
    "environment: PGO_NAMESPACE, PGO_TARGET_NAMESPACE, PGO_TARGET_NAMESPACES, PGO_CONTROLLER_LEASE_NAME,\n"
    "PGO_WORKERS, CRUNCHY_DEBUG, RELATED_IMAGE_* (as PGO v5 reads them)\n";

const char *settingsUsage(void)
{
    return settingsUsageText;
}

static bool settingsLabelChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? of len bytes. */
static bool settingsLabelValid(const char *value, size_t len)
{
    if (len == 0 || value[0] == '-' || value[len - 1] == '-')
        return false;
    for (size_t idx = 0; idx < len; idx++) {
        if (!settingsLabelChar(value[idx]))
            return false;
    }
    return true;
}

bool settingsIsDns1123Label(const char *value)
{
    size_t len = strlen(value);
    return len <= 63 && settingsLabelValid(value, len);
}

bool settingsIsDns1123Subdomain(const char *value)
{
    size_t len = strlen(value);
    if (len == 0 || len > 253)
        return false;
    for (const char *part = value;;) {
        const char *dot = strchr(part, '.');
        size_t partLen = dot != NULL ? (size_t)(dot - part) : strlen(part);
        if (!settingsLabelValid(part, partLen))
            return false;
        if (dot == NULL)
            return true;
        part = dot + 1;
    }
}

/* The value of NAME in env, or NULL. */
static const char *settingsEnv(const char *const *env, const char *name)
{
    size_t nameLen = strlen(name);
    for (size_t envIdx = 0; env != NULL && env[envIdx] != NULL; envIdx++) {
        if (strncmp(env[envIdx], name, nameLen) == 0 && env[envIdx][nameLen] == '=')
            return env[envIdx] + nameLen + 1;
    }
    return NULL;
}

/* A copy of value without leading and trailing white space (Go's strings.TrimSpace, for ASCII). */
static char *settingsTrim(MemCtx *ctx, const char *value)
{
    while (isspace((unsigned char)*value))
        value++;
    size_t len = strlen(value);
    while (len > 0 && isspace((unsigned char)value[len - 1]))
        len--;
    return memCtxStrNDup(ctx, value, len);
}

static bool settingsWarn(MemCtx *ctx, Settings *settings, Err *err, const char *format, ...) PRINTF_LIKE(4, 5);

static bool settingsWarn(MemCtx *ctx, Settings *settings, Err *err, const char *format, ...)
{
    if (settings->warningCount == SETTINGS_MAX_WARNINGS)
        return true;
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    const char *copy = memCtxStrDup(ctx, text);
    if (copy == NULL)
        return errSet(err, errOutOfMemory, "out of memory reading the settings");
    settings->warnings[settings->warningCount++] = copy;
    return true;
}

/* Adds namespace (len bytes) to the target list, unless it is there already. */
static bool settingsAddNamespace(MemCtx *ctx, Settings *settings, const char *variable, const char *namespace,
                                 size_t len, Err *err)
{
    char *copy = memCtxStrNDup(ctx, namespace, len);
    if (copy == NULL)
        return errSet(err, errOutOfMemory, "out of memory reading the settings");
    if (!settingsIsDns1123Label(copy))
        return errSet(err, errInvalidArgument,
                      "%s: \"%s\" is not a valid namespace name (lowercase letters, digits and '-', at most 63, "
                      "starting and ending with a letter or digit)",
                      variable, copy);
    for (size_t nsIdx = 0; nsIdx < settings->targetNamespaceCount; nsIdx++) {
        if (strcmp(settings->targetNamespaces[nsIdx], copy) == 0) {
            memCtxRelease(copy);
            return true;
        }
    }
    if (settings->targetNamespaceCount == SETTINGS_MAX_NAMESPACES)
        return errSet(err, errInvalidArgument, "%s: more than %d target namespaces", variable, SETTINGS_MAX_NAMESPACES);
    settings->targetNamespaces[settings->targetNamespaceCount++] = copy;
    return true;
}

/* PGO splits PGO_TARGET_NAMESPACES with strings.FieldsFunc on every rune that is not '-', a letter or a number;
 * bytes of multi-byte characters are kept in the field (and then fail validation, as such a namespace would). */
static bool settingsSplitNamespaces(MemCtx *ctx, Settings *settings, const char *list, Err *err)
{
    const char *field = NULL;
    for (const char *c = list;; c++) {
        bool keep = *c != '\0' && (isalnum((unsigned char)*c) || *c == '-' || (unsigned char)*c >= 0x80);
        if (keep && field == NULL)
            field = c;
        if (!keep && field != NULL) {
            if (!settingsAddNamespace(ctx, settings, "PGO_TARGET_NAMESPACES", field, (size_t)(c - field), err))
                return false;
            field = NULL;
        }
        if (*c == '\0')
            return true;
    }
}

static bool settingsReadNamespaces(MemCtx *ctx, const char *const *env, Settings *settings, Err *err)
{
    const char *own = settingsEnv(env, "PGO_NAMESPACE");
    if (own != NULL && *own != '\0') {
        if (!settingsIsDns1123Label(own))
            return errSet(err, errInvalidArgument, "PGO_NAMESPACE: \"%s\" is not a valid namespace name", own);
        settings->operatorNamespace = memCtxStrDup(ctx, own);
        if (settings->operatorNamespace == NULL)
            return errSet(err, errOutOfMemory, "out of memory reading the settings");
    }
    settings->targetNamespaces = memCtxAlloc(ctx, SETTINGS_MAX_NAMESPACES * sizeof(char *));
    if (settings->targetNamespaces == NULL)
        return errSet(err, errOutOfMemory, "out of memory reading the settings");
    const char *single = settingsEnv(env, "PGO_TARGET_NAMESPACE");
    const char *multi = settingsEnv(env, "PGO_TARGET_NAMESPACES");
    char *singleTrimmed = single != NULL ? settingsTrim(ctx, single) : NULL;
    char *multiTrimmed = multi != NULL ? settingsTrim(ctx, multi) : NULL;
    if ((single != NULL && singleTrimmed == NULL) || (multi != NULL && multiTrimmed == NULL))
        return errSet(err, errOutOfMemory, "out of memory reading the settings");
    if (singleTrimmed != NULL && *singleTrimmed != '\0' &&
        !settingsAddNamespace(ctx, settings, "PGO_TARGET_NAMESPACE", singleTrimmed, strlen(singleTrimmed), err))
        return false;
    if (multiTrimmed != NULL && !settingsSplitNamespaces(ctx, settings, multiTrimmed, err))
        return false;
    if (multiTrimmed != NULL && *multiTrimmed != '\0' && settings->targetNamespaceCount == 0)
        return errSet(err, errInvalidArgument, "PGO_TARGET_NAMESPACES: \"%s\" names no namespace", multi);
    return true;
}

static bool settingsReadLease(MemCtx *ctx, const char *const *env, Settings *settings, Err *err)
{
    const char *lease = settingsEnv(env, "PGO_CONTROLLER_LEASE_NAME");
    if (lease == NULL || *lease == '\0')
        return true;
    if (!settingsIsDns1123Subdomain(lease))
        return errSet(
            err, errInvalidArgument,
            "PGO_CONTROLLER_LEASE_NAME: \"%s\" is not a valid Lease name (a DNS-1123 subdomain: lowercase "
            "letters, digits, '-' and '.', at most 253, each part starting and ending with a letter or digit)",
            lease);
    settings->leaseName = memCtxStrDup(ctx, lease);
    return settings->leaseName != NULL || errSet(err, errOutOfMemory, "out of memory reading the settings");
}

static bool settingsReadWorkers(MemCtx *ctx, const char *const *env, Settings *settings, Err *err)
{
    settings->workers = SETTINGS_DEFAULT_WORKERS;
    const char *workers = settingsEnv(env, "PGO_WORKERS");
    if (workers == NULL || *workers == '\0')
        return true;
    /* strconv.Atoi: an optional sign and decimal digits, nothing else. */
    const char *digits = workers + (*workers == '+' || *workers == '-');
    bool numeric = *digits != '\0' && strspn(digits, "0123456789") == strlen(digits);
    errno = 0;
    long long value = numeric ? strtoll(workers, NULL, 10) : 0;
    if (!numeric || errno != 0 || value <= 0 || value > SETTINGS_MAX_WORKERS)
        return settingsWarn(ctx, settings, err,
                            "PGO_WORKERS must be a positive number (at most %d), not \"%.64s\"; using %d",
                            SETTINGS_MAX_WORKERS, workers, SETTINGS_DEFAULT_WORKERS);
    settings->workers = (unsigned)value;
    return true;
}

static bool settingsReadDebug(MemCtx *ctx, const char *const *env, Settings *settings, Err *err)
{
    const char *debug = settingsEnv(env, "CRUNCHY_DEBUG");
    settings->debug = debug != NULL && strcasecmp(debug, "true") == 0;
    if (debug != NULL && *debug != '\0' && strcasecmp(debug, "true") != 0 && strcasecmp(debug, "false") != 0)
        return settingsWarn(ctx, settings, err,
                            "CRUNCHY_DEBUG is \"%.64s\", neither true nor false; debug logs stay off", debug);
    return true;
}

static int settingsCompareImages(const void *a, const void *b)
{
    return strcmp(((const RelatedImage *)a)->name, ((const RelatedImage *)b)->name);
}

static bool settingsReadImages(MemCtx *ctx, const char *const *env, Settings *settings, Err *err)
{
    settings->images = memCtxAlloc(ctx, SETTINGS_MAX_IMAGES * sizeof(RelatedImage));
    if (settings->images == NULL)
        return errSet(err, errOutOfMemory, "out of memory reading the settings");
    size_t prefixLen = strlen(SETTINGS_IMAGE_PREFIX);
    for (size_t envIdx = 0; env != NULL && env[envIdx] != NULL; envIdx++) {
        const char *entry = env[envIdx];
        const char *equals = strchr(entry, '=');
        if (strncmp(entry, SETTINGS_IMAGE_PREFIX, prefixLen) != 0 || equals == NULL)
            continue;
        size_t nameLen = (size_t)(equals - entry) - prefixLen;
        const char *image = equals + 1;
        if (nameLen == 0)
            return errSet(err, errInvalidArgument, "RELATED_IMAGE_: an image variable needs a name after the prefix");
        if (*image == '\0')
            continue; /* unset, as PGO reads it: a reconcile that needs it reports the missing image */
        size_t imageLen = strlen(image);
        if (imageLen > SETTINGS_IMAGE_MAX)
            return errSet(err, errInvalidArgument, "%.*s: image reference longer than %d bytes", (int)(equals - entry),
                          entry, SETTINGS_IMAGE_MAX);
        for (const char *c = image; *c != '\0'; c++) {
            if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
                return errSet(err, errInvalidArgument, "%.*s: image reference \"%.128s\" contains white space",
                              (int)(equals - entry), entry, image);
        }
        if (settings->imageCount == SETTINGS_MAX_IMAGES)
            return errSet(err, errInvalidArgument, "more than %d RELATED_IMAGE_ variables", SETTINGS_MAX_IMAGES);
        RelatedImage *related = &settings->images[settings->imageCount];
        related->name = memCtxStrNDup(ctx, entry + prefixLen, nameLen);
        related->image = memCtxStrDup(ctx, image);
        if (related->name == NULL || related->image == NULL)
            return errSet(err, errOutOfMemory, "out of memory reading the settings");
        if (settingsImage(settings, related->name) != NULL)
            continue; /* a duplicate entry: the first wins, as getenv */
        settings->imageCount++;
    }
    qsort(settings->images, settings->imageCount, sizeof(RelatedImage), settingsCompareImages);
    return true;
}

const char *settingsImage(const Settings *settings, const char *name)
{
    for (size_t imageIdx = 0; imageIdx < settings->imageCount; imageIdx++) {
        if (strcmp(settings->images[imageIdx].name, name) == 0)
            return settings->images[imageIdx].image;
    }
    return NULL;
}

typedef enum SettingsFlag {
    flagKubeconfig,
    flagContext,
    flagHealthAddress,
    flagLogFormat,
    flagLogLevel,
    flagDebugEndpoints,
    flagVersion,
    flagHelp,
} SettingsFlag;

typedef struct SettingsFlagSpec {
    const char *name;
    bool takesValue;
} SettingsFlagSpec;

static const SettingsFlagSpec settingsFlags[] = {
    [flagKubeconfig] = {"kubeconfig", true},
    [flagContext] = {"context", true},
    [flagHealthAddress] = {"health-address", true},
    [flagLogFormat] = {"log-format", true},
    [flagLogLevel] = {"log-level", true},
    [flagDebugEndpoints] = {"debug-endpoints", false},
    [flagVersion] = {"version", false},
    [flagHelp] = {"help", false},
};

static bool settingsApplyFlag(SettingsFlag flag, const char *value, Settings *settings, bool *levelSet, Err *err)
{
    switch (flag) {
        case flagKubeconfig:
            settings->kubeconfig = value;
            return true;
        case flagContext:
            settings->context = value;
            return true;
        case flagHealthAddress:
            if (*value == '\0')
                return errSet(err, errInvalidArgument, "--health-address: empty address");
            settings->healthAddress = value;
            return true;
        case flagLogFormat:
            if (!logFormatParse(value, &settings->logFormat))
                return errSet(err, errInvalidArgument, "--log-format: \"%s\" is neither text nor json", value);
            return true;
        case flagLogLevel:
            if (!logLevelParse(value, &settings->logLevel))
                return errSet(err, errInvalidArgument, "--log-level: \"%s\" is not debug, info, warn or error", value);
            *levelSet = true;
            return true;
        case flagDebugEndpoints:
            settings->debugEndpoints = true;
            return true;
        case flagVersion:
            settings->action = settingsShowVersion;
            return true;
        default:
            settings->action = settingsShowHelp;
            return true;
    }
}

static bool settingsParseFlags(int argc, const char *const *argv, Settings *settings, bool *levelSet, Err *err)
{
    for (int argIdx = 1; argIdx < argc; argIdx++) {
        const char *arg = argv[argIdx];
        if (strncmp(arg, "--", 2) != 0)
            return errSet(err, errInvalidArgument, "unexpected argument \"%s\" (see --help)", arg);
        const char *name = arg + 2;
        const char *equals = strchr(name, '=');
        size_t nameLen = equals != NULL ? (size_t)(equals - name) : strlen(name);
        size_t flagIdx = 0;
        while (flagIdx < sizeof(settingsFlags) / sizeof(settingsFlags[0]) &&
               !(strlen(settingsFlags[flagIdx].name) == nameLen &&
                 strncmp(settingsFlags[flagIdx].name, name, nameLen) == 0))
            flagIdx++;
        if (flagIdx == sizeof(settingsFlags) / sizeof(settingsFlags[0]))
            return errSet(err, errInvalidArgument, "unknown flag \"--%.*s\" (see --help)", (int)nameLen, name);
        const SettingsFlagSpec *spec = &settingsFlags[flagIdx];
        const char *value = NULL;
        if (spec->takesValue && equals != NULL) {
            value = equals + 1;
        } else if (spec->takesValue) {
            if (argIdx + 1 >= argc)
                return errSet(err, errInvalidArgument, "flag --%s needs a value", spec->name);
            value = argv[++argIdx];
        } else if (equals != NULL) {
            return errSet(err, errInvalidArgument, "flag --%s takes no value", spec->name);
        }
        if (!settingsApplyFlag((SettingsFlag)flagIdx, value, settings, levelSet, err))
            return false;
    }
    return true;
}

/* KUBECONFIG may list several files; the first one is used. */
static bool settingsReadKubeconfig(MemCtx *ctx, const char *const *env, Settings *settings, Err *err)
{
    if (settings->kubeconfig != NULL)
        return true;
    const char *list = settingsEnv(env, "KUBECONFIG");
    if (list == NULL || *list == '\0')
        return true;
    settings->kubeconfig = memCtxStrNDup(ctx, list, strcspn(list, ":"));
    return settings->kubeconfig != NULL || errSet(err, errOutOfMemory, "out of memory reading the settings");
}

bool settingsParse(MemCtx *ctx, int argc, const char *const *argv, const char *const *env, Settings *settings, Err *err)
{
    *settings = (Settings){
        .action = settingsRun,
        .healthAddress = ":8081",
        .logFormat = logFormatText,
        .logLevel = logLevelInfo,
    };
    bool levelSet = false;
    if (!settingsReadNamespaces(ctx, env, settings, err) || !settingsReadLease(ctx, env, settings, err) ||
        !settingsReadWorkers(ctx, env, settings, err) || !settingsReadDebug(ctx, env, settings, err) ||
        !settingsReadImages(ctx, env, settings, err) || !settingsParseFlags(argc, argv, settings, &levelSet, err) ||
        !settingsReadKubeconfig(ctx, env, settings, err))
        return false;
    if (!levelSet && settings->debug)
        settings->logLevel = logLevelDebug;
    return true;
}

/* Appends "a,b,c" of count strings to out (size bytes), cutting with "..." when it does not fit. */
static void settingsJoin(char *out, size_t size, const char *const *items, size_t count, size_t stride)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t itemIdx = 0; itemIdx < count; itemIdx++) {
        const char *item = *(const char *const *)(const void *)((const char *)items + itemIdx * stride);
        int written = snprintf(out + used, size - used, "%s%s", itemIdx > 0 ? "," : "", item);
        if (written < 0 || (size_t)written >= size - used) {
            snprintf(out + (size > 4 ? size - 4 : 0), size > 4 ? 4 : size, "...");
            return;
        }
        used += (size_t)written;
    }
}

void settingsLog(const Settings *settings, const Log *log)
{
    char namespaces[1024], images[2048], imageNames[1024];
    settingsJoin(namespaces, sizeof(namespaces), settings->targetNamespaces, settings->targetNamespaceCount,
                 sizeof(char *));
    settingsJoin(imageNames, sizeof(imageNames), (const char *const *)(const void *)settings->images,
                 settings->imageCount, sizeof(RelatedImage));
    size_t used = 0;
    images[0] = '\0';
    for (size_t imageIdx = 0; imageIdx < settings->imageCount && used < sizeof(images); imageIdx++) {
        int written = snprintf(images + used, sizeof(images) - used, "%s%s=%s", imageIdx > 0 ? "," : "",
                               settings->images[imageIdx].name, settings->images[imageIdx].image);
        used = written < 0 ? sizeof(images) : used + (size_t)written;
    }
    logInfo(log, "settings", logStr("operatorNamespace", settings->operatorNamespace),
            logStr("targetNamespaces", settings->targetNamespaceCount > 0 ? namespaces : "(all)"),
            logStr("leaderElectionLease", settings->leaseName), logInt("workers", settings->workers),
            logBool("debug", settings->debug), logStr("healthAddress", settings->healthAddress),
            logStr("logFormat", settings->logFormat == logFormatJson ? "json" : "text"),
            logStr("kubeconfig", settings->kubeconfig != NULL ? settings->kubeconfig : "(in-cluster)"),
            logStr("context", settings->context), logBool("debugEndpoints", settings->debugEndpoints),
            logInt("relatedImages", settings->imageCount), logStr("relatedImageNames", imageNames));
    if (settings->imageCount > 0)
        logDebug(log, "related images", logStr("images", images));
    for (size_t warningIdx = 0; warningIdx < settings->warningCount; warningIdx++)
        logWarn(log, "setting ignored", logStr("problem", settings->warnings[warningIdx]));
}
