/* The operator's settings: PGO's environment variables, and our command-line flags.
 *
 * Environment (PGO v5 names and meanings):
 *   PGO_NAMESPACE              the operator's own namespace (downward API); the Lease lives there
 *   PGO_TARGET_NAMESPACE       watch only this namespace (PGO's "singlenamespace" installs)
 *   PGO_TARGET_NAMESPACES      watch only these namespaces, split as PGO splits them: on every character that is
 *                              not a letter, a digit or '-'; with PGO_TARGET_NAMESPACE, the union of both
 *   PGO_CONTROLLER_LEASE_NAME  enables leader election on a Lease of that name (a DNS-1123 subdomain)
 *   PGO_WORKERS                PostgresClusters reconciled concurrently (a positive integer; default 2)
 *   CRUNCHY_DEBUG              "true" (any case) turns on debug logs
 *   RELATED_IMAGE_<NAME>       default images (RELATED_IMAGE_POSTGRES_17, RELATED_IMAGE_PGBACKREST, ...), kept in a
 *                              table for the reconcilers
 * Flags: --kubeconfig PATH, --context NAME, --health-address ADDR (default ":8081", the probe port PGO uses),
 * --log-format text|json, --log-level debug|info|warn|error (overrides CRUNCHY_DEBUG), --debug-endpoints (serve
 * /debug/cache, for tests), --version, --help. "--flag=value" and "--flag value" are both accepted.
 *
 * Bad values are errors with a message naming the variable or flag, the value and what is expected, except where
 * PGO tolerates them and an existing installation could depend on it: a PGO_WORKERS that is not a positive number
 * keeps the default with a warning (PGO logs an error and goes on), and a CRUNCHY_DEBUG other than true/false is
 * read as false with a warning. Namespaces are validated as DNS-1123 labels (PGO passes them on and fails later). */
#ifndef CMD_SETTINGS_H
#define CMD_SETTINGS_H

#include "common/error.h"
#include "common/log.h"
#include "common/memctx.h"

#include <stdbool.h>
#include <stddef.h>

#define SETTINGS_MAX_NAMESPACES 256
#define SETTINGS_MAX_IMAGES     128
#define SETTINGS_MAX_WARNINGS   8
#define SETTINGS_IMAGE_MAX      1024 /* bytes of an image reference */

typedef struct RelatedImage {
    const char *name;  /* the part after RELATED_IMAGE_, e.g. "POSTGRES_17" */
    const char *image; /* the value */
} RelatedImage;

typedef enum SettingsAction {
    settingsRun,
    settingsShowVersion,
    settingsShowHelp,
} SettingsAction;

typedef struct Settings {
    SettingsAction action;
    const char *operatorNamespace; /* PGO_NAMESPACE, or NULL */
    const char **targetNamespaces; /* none: every namespace */
    size_t targetNamespaceCount;
    const char *leaseName; /* NULL: no leader election */
    unsigned workers;      /* >= 1 */
    bool debug;            /* CRUNCHY_DEBUG */
    RelatedImage *images;  /* sorted by name */
    size_t imageCount;
    const char *kubeconfig;    /* --kubeconfig, else KUBECONFIG (first entry), else NULL: in-cluster */
    const char *context;       /* --context, or NULL */
    const char *healthAddress; /* --health-address */
    LogFormat logFormat;
    LogLevel logLevel; /* debug when CRUNCHY_DEBUG, unless --log-level */
    bool debugEndpoints;
    const char *warnings[SETTINGS_MAX_WARNINGS]; /* problems tolerated, to be logged */
    size_t warningCount;
} Settings;

/* Parses argv (argv[0] is the program) and env (NULL-terminated "NAME=value" strings, as environ) into settings,
 * allocating in ctx. errInvalidArgument with a message for the user on bad input. */
bool settingsParse(MemCtx *ctx, int argc, const char *const *argv, const char *const *env, Settings *settings,
                   Err *err) MUST_CHECK;

/* The image for RELATED_IMAGE_<name>, or NULL. */
const char *settingsImage(const Settings *settings, const char *name);

/* Kubernetes name rules: a DNS-1123 label (namespaces) and subdomain (most object names). */
bool settingsIsDns1123Label(const char *value);
bool settingsIsDns1123Subdomain(const char *value);

/* The usage text of --help. */
const char *settingsUsage(void);

/* Logs the effective settings (one line, no secrets: image references and names only) and the warnings. */
void settingsLog(const Settings *settings, const Log *log);

#endif
