/* Patroni's configuration (see config.h): ConfigMap <cluster>-config with the cluster-wide patroni.yaml and, per
 * instance, ConfigMap <instance>-config with that instance's. Patroni reads every file of /etc/patroni in name
 * order (instance.c projects both there) and merges them.
 *
 * The cluster file holds what every member shares: the scope <cluster>-ha, the Kubernetes DCS (Endpoints, PGO's
 * labels, leader label value "master" for the v4 transition), TLS for the REST API and patronictl, the replication
 * credentials (a client certificate copied to /tmp/replication by the pod), and, until the cluster is
 * bootstrapped (status.patroni.systemIdentifier set), bootstrap.dcs: the dynamic configuration Patroni stores in
 * the DCS when it initializes the cluster. Later changes to the dynamic configuration go through Patroni's API,
 * not this file.
 *
 * bootstrap.dcs is spec.patroni.dynamicConfiguration with PGO's overrides:
 *   - ttl and loop_wait from leaderLeaseDurationSeconds and syncPeriodSeconds;
 *   - retry_timeout, which PGO leaves to Patroni, is written unless the user's configuration sets it:
 *     (ttl - loop_wait) / 2, at least 1. That is the largest value that keeps Patroni's rule
 *     loop_wait + 2 * retry_timeout <= ttl (Patroni shortens loop_wait to 1 when it is broken), and gives
 *     Patroni's own 10 for PGO's defaults (30, 10) and the measured 7 for the fast timing (20, 5);
 *   - postgresql: use_slots false unless the user says otherwise, use_pg_rewind forced on (version > 10);
 *   - postgresql.parameters: our defaults < the user's dynamicConfiguration parameters < spec.config.parameters <
 *     the mandatory ones; every value a string, names lowercase (PGO's ParameterSet); shared_preload_libraries
 *     keeps the user's list behind pgaudit, and citus first when it is listed;
 *   - postgresql.pg_hba: our mandatory rules, then spec.authentication.rules, then the user's dynamicConfiguration
 *     pg_hba strings, then the default TLS + SCRAM rule only when the user gave no rule at all (PGO's order: with
 *     rules of their own, users decide who else gets in);
 *   - postgresql.pg_ident: a comment line, then the user's lines. Patroni rewrites pg_ident.conf only from a list
 *     that is not empty, so without a line of ours the map a user removed last would stay in the file.
 *
 * The operator's own login. pg_hba.conf has no fall-through: the first line that matches the connection type,
 * database, user and address decides, and a failed authentication does not try the next. So "postgres" cannot be
 * both the superuser that logs in with its Secret's password over TLS (spec.users may list it, and PGO lets it in
 * by the default rule hostssl all all all scram-sha-256) and the role the operator reaches by certificate. The
 * operator has a role of its own, CLUSTER_OPERATOR_CN, a superuser admitted only over TLS with both a client
 * certificate whose common name is that role and the role's password (scram-sha-256 clientcert=verify-full), and
 * refused on every other TCP connection; its line comes first, before any rule of the user's. The certificate alone
 * is not enough: Postgres verifies client certificates against ssl_ca_file, the namespace root (whose key only the
 * operator, and whoever may read the root's Secret, holds) and, with spec.customTLSSecret, also the user's CA (see
 * secrets.c), which can thus issue a certificate with that name too. The password, 256 random bits the operator
 * keeps in a Secret of its own (controllers/postgrescluster/secrets.c), is what no one else has; the certificate
 * still has to be one of a trusted CA and carry the role's name, so a leaked password alone does not let anyone in
 * either. users.c refuses the reserved _crunchy prefix in spec.users, so the operator's SQL never alters the role.
 *
 * Patroni creates the role once, at bootstrap, by the instance file's bootstrap.post_bootstrap: the command is split
 * as a shell would split it and run with the superuser's connection string (local socket, peer) as its last
 * argument, which psql takes for its dbname. The password itself never goes into a ConfigMap: the statement sets
 * the role's SCRAM-SHA-256 verifier, which Postgres stores as given. With a 256-bit random password a verifier
 * cannot be brute-forced, so it may be read by whoever reads the ConfigMap. Its salt is derived from the password
 * (scramVerifierDerived), so the file stays the same from one reconcile to the next. The statement tolerates a role
 * already there (a data directory restored from one of our clusters' backups; the verifier is then set to this
 * cluster's), and the cluster is not initialized in the DCS, so there is no leader for the operator to reach, until
 * it succeeded. The verifier is set at bootstrap only: a cluster bootstrapped before the operator used a password
 * (its role has none) or whose password Secret was deleted (a new password is made) refuses the operator's login
 * until someone sets the role's password to the Secret's by hand (ALTER ROLE in psql as postgres in an instance's
 * pod). That is accepted, before any release.
 *
 * A standby cluster (spec.standby, api/standby.h) replays a primary cluster's WAL: bootstrap.dcs and the DCS carry
 * standby_cluster (patroniStandby), so Patroni bootstraps its leader as a standby leader with pgBackRest's replica
 * method (the instance file names the standby's repository) and/or pg_basebackup from the primary's host, never by
 * initdb. Its operator's role arrives from the primary cluster, with that cluster's password; so the instance file of
 * a cluster with spec.standby also has postgresql.callbacks.on_role_change, which sets this cluster's verifier when
 * the promotion (enabled false, standby_cluster removed from the DCS by the reconciler) makes the leader a primary.
 *
 * The instance file holds the bootstrap method (initdb with checksums, UTF8 and the WAL directory, then the
 * operator's role; during a restore, model->restore, PGO's "existing": the restored data directory renamed into
 * place, then the operator's role) until the cluster is bootstrapped, and how replicas are made (pg_basebackup with an immediate
 * checkpoint, so a new replica does not wait for the next scheduled one; pgBackRest comes with backups). */
#include "patroni/config.h"

#include "api/standby.h"

#include "common/json.h"
#include "common/yaml.h"
#include "kube/quantity.h"
#include "pgsql/scram.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATRONI_FILE_KEY        "patroni.yaml"
#define PATRONI_TLS_DIR         "/etc/patroni/~postgres-operator"
#define PATRONI_CA_ROOTS        PATRONI_TLS_DIR "/patroni.ca-roots"
#define PATRONI_CERT_AND_KEY    PATRONI_TLS_DIR "/patroni.crt+key"
#define PATRONI_REPLICATION     "_crunchyrepl"
#define PATRONI_LOG_DIR         "/pgdata/patroni/log"
#define PATRONI_LOG_MINIMUM     25000000      /* bytes, PGO's floor for spec.patroni.logging.storageLimit */
#define PATRONI_TEXT_LIMIT      (1024 * 1024) /* a ConfigMap holds at most 1 MiB */
#define PATRONI_HEADER          "# Written by the postgres operator from the PostgresCluster; edits here are overwritten.\n"
#define PATRONI_HBA_DEFAULT     "hostssl all all all scram-sha-256"
#define PATRONI_ARCHIVE_COMMAND "pgbackrest --stanza=db archive-push \"%p\""
#define PATRONI_RESTORE_COMMAND "pgbackrest --stanza=db archive-get %f \"%p\""

/* First in pg_hba.conf, whatever the user adds. */
static const char *const patroniHbaMandatory[] = {
    /* The operator's role: only over TLS, with a client certificate named after it and its password (see the top). */
    "hostssl all \"" CLUSTER_OPERATOR_CN "\" all scram-sha-256 clientcert=verify-full",
    "host all \"" CLUSTER_OPERATOR_CN "\" all reject",
    /* The superuser, locally, as the operating system user postgres (patronictl, exec'd psql). */
    "local all \"postgres\" peer",
    /* Replication and pg_rewind: only with the replication client certificate, only over TLS. */
    "hostssl replication \"" PATRONI_REPLICATION "\" all cert",
    "hostssl \"postgres\" \"" PATRONI_REPLICATION "\" all cert",
    "host all \"" PATRONI_REPLICATION "\" all reject",
};

/* PgBouncer's lines, PGO's (the role is pgbouncer/pgbouncer.h's PGBOUNCER_ROLE: a component does not include
 * another). */
#define PATRONI_HBA_PGBOUNCER_TLS    "hostssl all \"_crunchypgbouncer\" all scram-sha-256"
#define PATRONI_HBA_PGBOUNCER_REJECT "host all \"_crunchypgbouncer\" all reject"

/* First in pg_ident.conf, so that the list Patroni writes is never empty. */
#define PATRONI_IDENT_HEADER "# spec.patroni.dynamicConfiguration.postgresql.pg_ident"

/* The operator's role, made if missing and given the password's verifier; %s is the verifier, whose characters
 * (base64, '$', ':' and the name of the method) need no quoting in a SQL literal, in a shell's double quotes or in a
 * dollar-quoted body (no "$$": the salt is never empty). */
#define PATRONI_OPERATOR_ROLE_SQL                                                                                  \
    "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) "              \
    "'" CLUSTER_OPERATOR_CN "') THEN CREATE ROLE " CLUSTER_OPERATOR_CN "; END IF; ALTER ROLE " CLUSTER_OPERATOR_CN \
    " WITH SUPERUSER LOGIN PASSWORD '%s'; END$$"

/* bootstrap.post_bootstrap: the role, once the bootstrap has started Postgres (see the top); %s is the statement. */
#define PATRONI_POST_BOOTSTRAP "psql -Xq -v ON_ERROR_STOP=1 -c \"%s\""

/* postgresql.callbacks.on_role_change of a standby cluster (see the top): Patroni runs it, split as a shell would
 * split it, with the action, the new role and the scope as further arguments ($2, $3, $4 here, the statement being
 * $1). On becoming the primary it sets the role again, retrying while the promotion finishes (the database refuses
 * writes until then); on any other role change it does nothing. */
#define PATRONI_ON_ROLE_CHANGE                                                                                      \
    "bash -c 'case \"$3\" in primary|master) for attempt in $(seq 60); do psql -Xq -v ON_ERROR_STOP=1 -U postgres " \
    "-d postgres -c \"$1\" && exit 0; sleep 1; done; exit 1;; esac' - \"%s\""

/* Parameters the user cannot change. archive_command is "true" (WAL is dropped) unless pgBackRest is configured
 * (then patroniPgBackRestParameters), as PGO does for a cluster without backups; archive_mode stays on so that
 * adding backups needs no restart. */
static const char *const patroniParametersMandatory[][2] = {
    {"archive_command", "true"},
    {"archive_mode", "on"},
    {"ssl", "on"},
    {"ssl_ca_file", "/pgconf/tls/ca.crt"},
    {"ssl_cert_file", "/pgconf/tls/tls.crt"},
    {"ssl_key_file", "/pgconf/tls/tls.key"},
    {"unix_socket_directories", "/tmp/postgres"},
    {"wal_level", "logical"},
};

static const json_t *specField(const ClusterModel *model, const char *key)
{
    return json_object_get(json_object_get(model->cluster, "spec"), key);
}

/* Patroni has initialized the cluster: the reconciler copied the system identifier into the status. */
static bool patroniBootstrapped(const ClusterModel *model)
{
    const json_t *patroni = json_object_get(json_object_get(model->cluster, "status"), "patroni");
    const char *identifier = json_string_value(json_object_get(patroni, "systemIdentifier"));
    return identifier != NULL && identifier[0] != '\0';
}

/* Where an instance of set keeps its WAL. Checklist: instance.c (instanceWalDir) computes the same. */
static char *patroniWalDir(MemCtx *ctx, const ClusterModel *model, const ClusterInstanceSet *set)
{
    bool walVolume = json_is_object(json_object_get(set->spec, "walVolumeClaimSpec"));
    return memCtxPrintf(ctx, "%s/pg%lld_wal", walVolume ? "/pgwal" : "/pgdata", (long long)model->postgresVersion);
}

/* --- postgresql.parameters --- */

/* A parameter value as the text Postgres reads, converted as PGO converts it: strings as they are, numbers and
 * booleans printed, arrays and objects as compact JSON. *out is NULL for JSON null, which sets nothing. */
static bool parameterText(MemCtx *ctx, const json_t *value, json_t **out, Err *err)
{
    char number[40];
    *out = NULL;
    switch (json_typeof(value)) {
        case JSON_NULL:
            return true;
        case JSON_STRING:
            *out = json_stringn(json_string_value(value), json_string_length(value));
            break;
        case JSON_INTEGER:
            snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            *out = json_string(number);
            break;
        case JSON_REAL:
            snprintf(number, sizeof(number), "%.15g", json_real_value(value));
            *out = json_string(number);
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            *out = json_string(json_is_true(value) ? "true" : "false");
            break;
        case JSON_OBJECT:
        case JSON_ARRAY: {
            StrBuf text;
            strBufInit(&text, ctx, PATRONI_TEXT_LIMIT);
            if (!jsonDump(value, &text, err)) {
                strBufFree(&text);
                return false;
            }
            *out = json_stringn(strBufStr(&text), text.len);
            strBufFree(&text);
            break;
        }
    }
    if (*out == NULL)
        return errSet(err, errOutOfMemory, "out of memory building Postgres parameters");
    return true;
}

/* parameters[lowercase name] = text (consumed). Parameter names are case-insensitive. */
static bool parameterSet(MemCtx *ctx, json_t *parameters, const char *name, json_t *text, Err *err)
{
    char *lower = memCtxStrDup(ctx, name);
    if (lower != NULL)
        for (char *c = lower; *c != '\0'; c++)
            *c = (char)tolower((unsigned char)*c);
    bool ok = lower != NULL && clusterPut(parameters, lower, text);
    if (lower == NULL)
        json_decref(text);
    memCtxRelease(lower);
    return ok || errSet(err, errOutOfMemory, "out of memory building Postgres parameters");
}

/* Every member of source (a JSON object of parameters; anything else: none) into parameters. */
static bool parametersFrom(MemCtx *ctx, json_t *parameters, const json_t *source, Err *err)
{
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)(uintptr_t)source, name, value)
    {
        json_t *text;
        if (!parameterText(ctx, value, &text, err))
            return false;
        if (text != NULL && !parameterSet(ctx, parameters, name, text, err))
            return false;
    }
    return true;
}

/* Whether an instance set asks for huge pages (a hugepages-* limit above zero): then huge_pages=try, as PGO. */
static bool parametersHugePages(const ClusterModel *model)
{
    for (size_t setIdx = 0; setIdx < model->setCount; setIdx++) {
        const json_t *limits = json_object_get(json_object_get(model->sets[setIdx].spec, "resources"), "limits");
        const char *name;
        const json_t *value;
        json_object_foreach((json_t *)(uintptr_t)limits, name, value)
        {
            if (strncmp(name, "hugepages-", strlen("hugepages-")) != 0)
                continue;
            KubeQuantity quantity;
            if (json_is_integer(value) && json_integer_value(value) > 0)
                return true;
            if (json_is_string(value) && kubeQuantityParse(json_string_value(value), &quantity, NULL) &&
                quantity.mantissa > 0)
                return true;
        }
    }
    return false;
}

/* With spec.backups.pgbackrest, as PGO: WAL goes to every repository, and recovery fetches it from any (from
 * spec.standby.repoName's for a standby cluster). */
static bool patroniPgBackRestParameters(MemCtx *ctx, const ClusterModel *model, json_t *parameters)
{
    ClusterStandby standby = clusterStandbyOf(model->cluster);
    char *restore = standby.repoName != NULL ? memCtxPrintf(ctx, "%s --repo=%d", PATRONI_RESTORE_COMMAND, standby.repo)
                                             : memCtxStrDup(ctx, PATRONI_RESTORE_COMMAND);
    bool ok = restore != NULL && clusterPut(parameters, "archive_command", json_string(PATRONI_ARCHIVE_COMMAND)) &&
              clusterPut(parameters, "restore_command", json_string(restore));
    memCtxRelease(restore);
    return ok;
}

static json_t *patroniParameters(MemCtx *ctx, const ClusterModel *model, const json_t *dynamicPostgresql, Err *err)
{
    json_t *parameters =
        json_pack("{s:s, s:s, s:s, s:s}", "archive_timeout", "60s", "huge_pages",
                  parametersHugePages(model) ? "try" : "off", "jit", "off", "password_encryption", "scram-sha-256");
    if (parameters == NULL) {
        errSet(err, errOutOfMemory, "out of memory building Postgres parameters");
        return NULL;
    }
    if (!parametersFrom(ctx, parameters, json_object_get(dynamicPostgresql, "parameters"), err) ||
        !parametersFrom(ctx, parameters, json_object_get(specField(model, "config"), "parameters"), err)) {
        json_decref(parameters);
        return NULL;
    }

    /* pgaudit must load; the user's libraries follow it, and citus must come first of all. */
    const char *preload = json_string_value(json_object_get(parameters, "shared_preload_libraries"));
    char *libraries =
        preload != NULL && preload[0] != '\0' ? memCtxPrintf(ctx, "pgaudit,%s", preload) : memCtxStrDup(ctx, "pgaudit");
    if (libraries != NULL && strstr(libraries, "citus") != NULL) {
        char *withCitus = memCtxPrintf(ctx, "citus,%s", libraries);
        memCtxRelease(libraries);
        libraries = withCitus;
    }
    bool ok = libraries != NULL && clusterPut(parameters, "shared_preload_libraries", json_string(libraries));
    memCtxRelease(libraries);
    size_t mandatory = sizeof(patroniParametersMandatory) / sizeof(patroniParametersMandatory[0]);
    for (size_t paramIdx = 0; ok && paramIdx < mandatory; paramIdx++)
        ok = clusterPut(parameters, patroniParametersMandatory[paramIdx][0],
                        json_string(patroniParametersMandatory[paramIdx][1]));
    if (ok && model->backups)
        ok = patroniPgBackRestParameters(ctx, model, parameters);
    if (ok)
        return parameters;
    json_decref(parameters);
    errSet(err, errOutOfMemory, "out of memory building Postgres parameters");
    return NULL;
}

/* --- postgresql.pg_ident --- */

/* Our comment line, then the user's (dynamicConfiguration's postgresql.pg_ident strings). NULL when out of memory. */
static json_t *patroniIdent(const json_t *userPostgresql)
{
    json_t *lines = json_array();
    bool ok = lines != NULL && clusterPush(lines, json_string(PATRONI_IDENT_HEADER));
    size_t userIdx;
    const json_t *line;
    json_array_foreach(json_object_get(userPostgresql, "pg_ident"), userIdx, line) if (ok && json_is_string(line)) ok =
        clusterPush(lines, json_deep_copy(line));
    if (ok)
        return lines;
    json_decref(lines);
    return NULL;
}

/* --- postgresql.pg_hba --- */

/* Spaces, control characters, backslashes and non-ASCII bytes, which PGO trims from both ends of a pg_hba line. */
static bool hbaTrimmed(char c)
{
    return (unsigned char)c < '!' || (unsigned char)c > '~' || c == '\\';
}

/* Appends a pg_hba line given as text, as PGO does: trimmed; empty lines and "include" directives (which would
 * read other files) are dropped. */
static bool hbaAppendText(json_t *hba, const char *line, size_t len)
{
    while (len > 0 && hbaTrimmed(line[0])) {
        line++;
        len--;
    }
    while (len > 0 && hbaTrimmed(line[len - 1]))
        len--;
    if (len == 0 || (len >= strlen("include") && strncmp(line, "include", strlen("include")) == 0))
        return true;
    return clusterPush(hba, json_stringn(line, len));
}

/* A database or role name as a quoted pg_hba token, never a keyword ("all", "replication") or group ("+name").
 * PostgreSQL 16 reads a quoted token starting with "/" as a regular expression: such a name becomes one that
 * matches exactly it, every ASCII character but letters, digits and "_" in brackets. */
static bool hbaName(StrBuf *line, const char *name, Err *err)
{
    bool ok = strBufAppendChar(line, '"', err);
    if (ok && name[0] == '/')
        ok = strBufAppendStr(line, "/^", err);
    for (const char *c = name; ok && *c != '\0'; c++) {
        bool bracket = name[0] == '/' && (unsigned char)*c < 0x80 && !isalnum((unsigned char)*c) && *c != '_';
        if (bracket)
            ok = strBufAppendChar(line, '[', err);
        ok = ok && strBufAppendChar(line, *c, err) && (*c != '"' || strBufAppendChar(line, '"', err));
        if (ok && bracket)
            ok = strBufAppendChar(line, ']', err);
    }
    if (ok && name[0] == '/')
        ok = strBufAppendChar(line, '$', err);
    return ok && strBufAppendChar(line, '"', err);
}

/* A quoted option key or value. */
static bool hbaQuoted(StrBuf *line, const char *text, Err *err)
{
    bool ok = strBufAppendChar(line, '"', err);
    for (const char *c = text; ok && *c != '\0'; c++)
        ok = strBufAppendChar(line, *c, err) && (*c != '"' || strBufAppendChar(line, '"', err));
    return ok && strBufAppendChar(line, '"', err);
}

/* The names of a rule's databases or users, comma-separated, or "all" when there are none. */
static bool hbaNames(StrBuf *line, const json_t *names, Err *err)
{
    size_t count = 0;
    bool ok = strBufAppendChar(line, ' ', err);
    for (size_t nameIdx = 0; ok && nameIdx < json_array_size(names); nameIdx++) {
        const char *name = json_string_value(json_array_get(names, nameIdx));
        if (name != NULL)
            ok = (count++ == 0 || strBufAppendChar(line, ',', err)) && hbaName(line, name, err);
    }
    return ok && (count > 0 || strBufAppendStr(line, "all", err));
}

static int hbaKeyCompare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A rule of spec.authentication.rules given by its parts: connection, databases, users, address "all" (not for
 * local), method ("password" means scram-sha-256, as PGO), and options "key"="value" in key order. */
static bool hbaAppendRule(MemCtx *ctx, json_t *hba, const json_t *rule, Err *err)
{
    const char *connection = json_string_value(json_object_get(rule, "connection"));
    const char *method = json_string_value(json_object_get(rule, "method"));
    if (connection == NULL || method == NULL)
        return errSet(err, errInvalidArgument,
                      "spec.authentication.rules: a rule without hba needs connection and method");
    if (strcmp(method, "password") == 0)
        method = "scram-sha-256";
    const json_t *options = json_object_get(rule, "options");
    size_t optionCount = json_object_size(options);
    const char **keys = optionCount > 0 ? memCtxAlloc(ctx, optionCount * sizeof(*keys)) : NULL;
    StrBuf line;
    strBufInit(&line, ctx, PATRONI_TEXT_LIMIT);
    bool ok = (optionCount == 0 || keys != NULL || errSet(err, errOutOfMemory, "out of memory building pg_hba")) &&
              strBufAppendStr(&line, connection, err) && hbaNames(&line, json_object_get(rule, "databases"), err) &&
              hbaNames(&line, json_object_get(rule, "users"), err) &&
              (strcmp(connection, "local") == 0 || strBufAppendStr(&line, " all", err)) &&
              strBufPrintf(&line, err, " %s", method);
    if (ok && optionCount > 0) {
        size_t keyIdx = 0;
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)(uintptr_t)options, key, value)
        {
            keys[keyIdx++] = key;
        }
        qsort(keys, optionCount, sizeof(*keys), hbaKeyCompare);
    }
    for (size_t keyIdx = 0; ok && keyIdx < optionCount; keyIdx++) {
        json_t *text;
        ok = parameterText(ctx, json_object_get(options, keys[keyIdx]), &text, err);
        if (ok && text != NULL)
            ok = strBufAppendChar(&line, ' ', err) && hbaQuoted(&line, keys[keyIdx], err) &&
                 strBufAppendChar(&line, '=', err) && hbaQuoted(&line, json_string_value(text), err);
        json_decref(text);
    }
    ok = ok && (clusterPush(hba, json_stringn(strBufStr(&line), line.len)) ||
                errSet(err, errOutOfMemory, "out of memory building pg_hba"));
    strBufFree(&line);
    memCtxRelease(keys);
    return ok;
}

static json_t *patroniHba(MemCtx *ctx, const ClusterModel *model, const json_t *dynamicPostgresql, Err *err)
{
    json_t *hba = json_array();
    bool ok = hba != NULL;
    size_t mandatory = sizeof(patroniHbaMandatory) / sizeof(patroniHbaMandatory[0]);
    for (size_t lineIdx = 0; ok && lineIdx < mandatory; lineIdx++)
        ok = clusterPush(hba, json_string(patroniHbaMandatory[lineIdx]));
    /* PgBouncer's role (pgbouncer/pgbouncer.h): only over TLS with its password, and only while PgBouncer is on. */
    if (ok && json_is_object(json_object_get(specField(model, "proxy"), "pgBouncer")))
        ok = clusterPush(hba, json_string(PATRONI_HBA_PGBOUNCER_TLS)) &&
             clusterPush(hba, json_string(PATRONI_HBA_PGBOUNCER_REJECT));
    if (!ok)
        goto oom;
    mandatory = json_array_size(hba);

    const json_t *rules = json_object_get(specField(model, "authentication"), "rules");
    for (size_t ruleIdx = 0; ruleIdx < json_array_size(rules); ruleIdx++) {
        const json_t *rule = json_array_get(rules, ruleIdx);
        const json_t *text = json_object_get(rule, "hba");
        if (json_is_string(text) && !hbaAppendText(hba, json_string_value(text), json_string_length(text)))
            goto oom;
        if (!json_is_string(text) && !hbaAppendRule(ctx, hba, rule, err)) {
            json_decref(hba);
            return NULL;
        }
    }
    const json_t *lines = json_object_get(dynamicPostgresql, "pg_hba");
    for (size_t lineIdx = 0; lineIdx < json_array_size(lines); lineIdx++) {
        const json_t *text = json_array_get(lines, lineIdx);
        if (json_is_string(text) && !hbaAppendText(hba, json_string_value(text), json_string_length(text)))
            goto oom;
    }
    if (json_array_size(hba) == mandatory && !clusterPush(hba, json_string(PATRONI_HBA_DEFAULT)))
        goto oom;
    return hba;
oom:
    json_decref(hba);
    errSet(err, errOutOfMemory, "out of memory building pg_hba");
    return NULL;
}

/* --- standby_cluster --- */

/* standby_cluster, while spec.standby is enabled, as PGO writes it: over the user's dynamicConfiguration section,
 * the primary's host and port (replicating by pg_basebackup and streaming as _crunchyrepl with the replication
 * certificate) and/or the repository's restore_command (pgBackRest's replica method, then WAL from the repository),
 * pgBackRest first when both. Patroni bootstraps the standby leader with these methods instead of initdb, and
 * removing the section (enabled false) promotes it. */
static bool patroniStandby(MemCtx *ctx, const ClusterModel *model, json_t *dcs, Err *err)
{
    ClusterStandby standby = clusterStandbyOf(model->cluster);
    if (!standby.enabled)
        return true;
    if (!clusterStandbyValid(&standby))
        return errSet(err, errInvalidArgument, "%s", CLUSTER_STANDBY_INVALID_MESSAGE);
    const json_t *user = json_object_get(dcs, "standby_cluster");
    json_t *section = json_is_object(user) ? json_deep_copy(user) : json_object();
    json_t *methods = json_array();
    char *restore =
        standby.repoName != NULL ? memCtxPrintf(ctx, "%s --repo=%d", PATRONI_RESTORE_COMMAND, standby.repo) : NULL;
    bool ok = section != NULL && methods != NULL && (standby.repoName == NULL || restore != NULL);
    if (ok)
        json_object_del(section, "restore_command");
    if (ok && standby.repoName != NULL)
        ok = clusterPush(methods, json_string("pgbackrest")) &&
             clusterPut(section, "restore_command", json_string(restore));
    if (ok && standby.host != NULL) {
        ok = clusterPush(methods, json_string("basebackup")) && clusterPut(section, "host", json_string(standby.host));
        if (ok && standby.port > 0)
            ok = clusterPut(section, "port", json_integer(standby.port));
    }
    memCtxRelease(restore);
    if (ok) {
        ok = clusterPut(section, "create_replica_methods", methods);
        methods = NULL;
    }
    if (ok) {
        ok = clusterPut(dcs, "standby_cluster", section);
        section = NULL;
    }
    json_decref(methods);
    json_decref(section);
    return ok || errSet(err, errOutOfMemory, "out of memory building Patroni's standby_cluster");
}

/* --- the files --- */

/* bootstrap.dcs: the user's dynamic configuration under ours (see the top of this file). */
static json_t *patroniDcs(MemCtx *ctx, const ClusterModel *model, Err *err)
{
    const json_t *dynamic = json_object_get(specField(model, "patroni"), "dynamicConfiguration");
    json_t *dcs = json_is_object(dynamic) ? json_deep_copy(dynamic) : json_object();
    const json_t *userPostgresql = json_object_get(dcs, "postgresql");
    if (!json_is_object(userPostgresql))
        userPostgresql = NULL;
    bool userRetry =
        json_object_get(dcs, "retry_timeout") != NULL && !json_is_null(json_object_get(dcs, "retry_timeout"));
    int64_t retryTimeout = (model->patroniTtl - model->patroniLoopWait) / 2;
    json_t *postgresql = json_pack("{s:b}", "use_slots", 0);
    json_t *parameters = NULL;
    json_t *hba = NULL;
    bool ok;
    if (dcs == NULL || postgresql == NULL || !clusterMergeCopy(postgresql, userPostgresql) ||
        !clusterPut(dcs, "ttl", json_integer(model->patroniTtl)) ||
        !clusterPut(dcs, "loop_wait", json_integer(model->patroniLoopWait)) ||
        (!userRetry && !clusterPut(dcs, "retry_timeout", json_integer(retryTimeout > 1 ? retryTimeout : 1))) ||
        !clusterPut(postgresql, "use_pg_rewind", json_boolean(model->postgresVersion > 10)))
        goto oom;
    if (!patroniStandby(ctx, model, dcs, err))
        goto fail;
    parameters = patroniParameters(ctx, model, userPostgresql, err);
    hba = parameters != NULL ? patroniHba(ctx, model, userPostgresql, err) : NULL;
    if (hba == NULL)
        goto fail;
    ok = clusterPut(postgresql, "parameters", parameters);
    ok = clusterPut(postgresql, "pg_hba", hba) && ok;
    ok = clusterPut(postgresql, "pg_ident", patroniIdent(userPostgresql)) && ok;
    parameters = hba = NULL;
    if (ok) {
        /* Replacing the user's section frees userPostgresql: nothing reads it after this. */
        ok = clusterPut(dcs, "postgresql", postgresql);
        postgresql = NULL;
        if (ok)
            return dcs;
    }
oom:
    errSet(err, errOutOfMemory, "out of memory building Patroni's dynamic configuration");
fail:
    json_decref(parameters);
    json_decref(hba);
    json_decref(postgresql);
    json_decref(dcs);
    return NULL;
}

/* log: Patroni's log in files on the data volume, when spec.patroni.logging asks for it. Two files (file_num 1
 * keeps one rotated file) of half the storage limit each; the limit is at least 25 MB, as PGO. */
static bool patroniLog(const ClusterModel *model, json_t *root, Err *err)
{
    const json_t *logging = json_object_get(specField(model, "patroni"), "logging");
    if (!json_is_object(logging))
        return true;
    const json_t *limit = json_object_get(logging, "storageLimit");
    int64_t bytes = json_is_integer(limit) ? (int64_t)json_integer_value(limit) : 0;
    KubeQuantity quantity;
    Err quantityErr;
    if (json_is_string(limit) && (!kubeQuantityParse(json_string_value(limit), &quantity, &quantityErr) ||
                                  !kubeQuantityScaled(quantity, 0, &bytes, &quantityErr)))
        return errSet(err, errInvalidArgument, "spec.patroni.logging.storageLimit: %s", quantityErr.message);
    if (bytes < PATRONI_LOG_MINIMUM)
        bytes = PATRONI_LOG_MINIMUM;
    const char *level = json_string_value(json_object_get(logging, "level"));
    json_t *log =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "dir", PATRONI_LOG_DIR, "type", "json", "level",
                  level != NULL ? level : "INFO", "mode", "0660", "file_num", 1, "file_size", (json_int_t)(bytes / 2));
    return clusterPut(root, "log", log) ||
           errSet(err, errOutOfMemory, "out of memory building Patroni's configuration");
}

/* The settings of patroni.yaml in <cluster>-config. */
static json_t *patroniClusterFile(MemCtx *ctx, const ClusterModel *model, Err *err)
{
    char *scope = memCtxPrintf(ctx, "%s-ha", model->name);
    json_t *root =
        scope == NULL
            ? NULL
            : json_pack("{s:{s:s, s:s, s:b, s:n}, s:{s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:b},"
                        " s:{s:{s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}}},"
                        " s:{s:s, s:s, s:n, s:s}, s:s, s:{s:s}}",
                        "ctl", "cacert", PATRONI_CA_ROOTS, "certfile", PATRONI_CERT_AND_KEY, "insecure", 0, "keyfile",
                        "kubernetes", "labels", CLUSTER_LABEL_CLUSTER, model->name, "leader_label_value",
                        NAMING_ROLE_MASTER, "namespace", model->namespace, "role_label", CLUSTER_LABEL_ROLE,
                        "scope_label", CLUSTER_LABEL_PATRONI, "standby_leader_label_value", NAMING_ROLE_MASTER,
                        "use_endpoints", 1, "postgresql", "authentication", "replication", "sslcert",
                        "/tmp/replication/tls.crt", "sslkey", "/tmp/replication/tls.key", "sslmode", "verify-ca",
                        "sslrootcert", "/tmp/replication/ca.crt", "username", PATRONI_REPLICATION, "rewind", "sslcert",
                        "/tmp/replication/tls.crt", "sslkey", "/tmp/replication/tls.key", "sslmode", "verify-ca",
                        "sslrootcert", "/tmp/replication/ca.crt", "username", PATRONI_REPLICATION, "restapi", "cafile",
                        PATRONI_CA_ROOTS, "certfile", PATRONI_CERT_AND_KEY, "keyfile", "verify_client", "optional",
                        "scope", scope, "watchdog", "mode", "off");
    memCtxRelease(scope);
    if (root == NULL) {
        errSet(err, errOutOfMemory, "out of memory building Patroni's configuration");
        return NULL;
    }
    if (!patroniLog(model, root, err))
        goto fail;
    if (!patroniBootstrapped(model)) {
        json_t *dcs = patroniDcs(ctx, model, err);
        if (dcs == NULL)
            goto fail;
        json_t *bootstrap = json_object();
        if (!clusterPut(bootstrap, "dcs", dcs)) {
            json_decref(bootstrap);
            bootstrap = NULL;
        }
        if (!clusterPut(root, "bootstrap", bootstrap)) {
            errSet(err, errOutOfMemory, "out of memory building Patroni's configuration");
            goto fail;
        }
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}

/* Once the replica-create backup is in the first repository (status.pgbackrest.repos[0]), replicas are made from
 * it, pg_basebackup remaining the fallback, as PGO: a delta restore as a standby into the data directory Patroni
 * leaves in place (keep_data), without the leader and Patroni's parameters. */
static bool patroniReplicaFromRepo(MemCtx *ctx, const ClusterModel *model, const char *walDir, json_t *postgresql)
{
    const json_t *pgbackrest = json_object_get(specField(model, "backups"), "pgbackrest");
    const json_t *first = json_array_get(json_object_get(pgbackrest, "repos"), 0);
    const json_t *status = json_object_get(json_object_get(model->cluster, "status"), "pgbackrest");
    const json_t *firstStatus = json_array_get(json_object_get(status, "repos"), 0);
    const char *repo = json_string_value(json_object_get(first, "name"));
    const char *statusRepo = json_string_value(json_object_get(firstStatus, "name"));
    ClusterStandby standby = clusterStandbyOf(model->cluster);
    if (standby.repoName != NULL)
        /* A standby's leader and replicas restore from the primary's backups in the standby's repository, which
         * holds them already (PGO assumes so too). */
        repo = standby.repoName;
    else if (!model->backups || repo == NULL || strncmp(repo, "repo", strlen("repo")) != 0 || statusRepo == NULL ||
             strcmp(statusRepo, repo) != 0 ||
             !json_is_true(json_object_get(firstStatus, "replicaCreateBackupComplete")))
        return true;
    char *command = memCtxPrintf(ctx,
                                 "bash -ceu -- 'install --directory --mode=0700 \"${PGDATA?}\" && exec \"$@\"' - "
                                 "pgbackrest restore --delta --stanza=db --repo=%s --link-map=pg_wal=%s --type=standby",
                                 repo + strlen("repo"), walDir);
    bool ok = command != NULL &&
              clusterPut(postgresql, "create_replica_methods", json_pack("[s, s]", "pgbackrest", "basebackup")) &&
              clusterPut(postgresql, "pgbackrest",
                         json_pack("{s:s, s:b, s:b, s:b}", "command", command, "keep_data", 1, "no_leader", 1,
                                   "no_params", 1));
    memCtxRelease(command);
    return ok;
}

/* The statement that makes the operator's role with the verifier of its password, into *out (see the top). */
static bool patroniOperatorRoleSql(MemCtx *ctx, const ClusterModel *model, char **out, Err *err)
{
    *out = NULL;
    if (model->operatorPassword == NULL || model->operatorPassword[0] == '\0')
        return errSet(err, errInvalidArgument, "the password of the operator's role is not decided");
    char *verifier;
    if (!scramVerifierDerived(ctx, model->operatorPassword, strlen(model->operatorPassword), &verifier, err))
        return errPrefix(err, "the operator's role");
    *out = memCtxPrintf(ctx, PATRONI_OPERATOR_ROLE_SQL, verifier);
    memCtxRelease(verifier);
    return *out != NULL || errSet(err, errOutOfMemory, "out of memory building Patroni's configuration");
}

/* The settings of patroni.yaml in <instance>-config; postBootstrap is NULL once the cluster is bootstrapped,
 * onRoleChange NULL unless the cluster has spec.standby. */
static json_t *patroniInstanceFile(MemCtx *ctx, const ClusterModel *model, const ClusterInstanceSet *set,
                                   const char *postBootstrap, const char *onRoleChange)
{
    char *walDir = patroniWalDir(ctx, model, set);
    char *walOption = walDir != NULL ? memCtxPrintf(ctx, "waldir=%s", walDir) : NULL;
    json_t *root = walOption == NULL
                       ? NULL
                       : json_pack("{s:{}, s:{s:[s, {s:s}], s:[s], s:s, s:b}, s:{}, s:{}}", "kubernetes", "postgresql",
                                   "basebackup", walOption, "checkpoint", "fast", "create_replica_methods",
                                   "basebackup", "pgpass", "/tmp/.pgpass", "use_unix_socket", 1, "restapi", "tags");
    json_t *bootstrap = NULL;
    if (root != NULL && postBootstrap != NULL && model->restore != NULL) {
        /* Restored data (pgbackrest/restore.h) waits in <data directory>_bootstrap; PGO's method "existing". */
        char *pgdata = memCtxPrintf(ctx, "/pgdata/pg%lld", (long long)model->postgresVersion);
        char *command = pgdata != NULL ? memCtxPrintf(ctx, "mv \"%s_bootstrap\" \"%s\"", pgdata, pgdata) : NULL;
        bootstrap = command != NULL ? json_pack("{s:s, s:{s:s, s:s}, s:s}", "method", "existing", "existing", "command",
                                                command, "no_params", "true", "post_bootstrap", postBootstrap)
                                    : NULL;
        memCtxRelease(command);
        memCtxRelease(pgdata);
    } else if (root != NULL && postBootstrap != NULL)
        bootstrap = json_pack("{s:s, s:[s, s, s], s:s}", "method", "initdb", "initdb", "data-checksums",
                              "encoding=UTF8", walOption, "post_bootstrap", postBootstrap);
    if (root != NULL && postBootstrap != NULL && !clusterPut(root, "bootstrap", bootstrap)) {
        json_decref(root);
        root = NULL;
    }
    if (root != NULL && !patroniReplicaFromRepo(ctx, model, walDir, json_object_get(root, "postgresql"))) {
        json_decref(root);
        root = NULL;
    }
    if (root != NULL && onRoleChange != NULL &&
        !clusterPut(json_object_get(root, "postgresql"), "callbacks",
                    json_pack("{s:s}", "on_role_change", onRoleChange))) {
        json_decref(root);
        root = NULL;
    }
    memCtxRelease(walOption);
    memCtxRelease(walDir);
    return root;
}

/* A ConfigMap (consumed, may be NULL) with data {patroni.yaml: the YAML of file (consumed, may be NULL)}. */
static bool patroniAppendConfigMap(MemCtx *ctx, json_t *objects, json_t *configMap, json_t *file, Err *err)
{
    if (configMap == NULL || file == NULL) {
        json_decref(configMap);
        json_decref(file);
        return errSet(err, errOutOfMemory, "out of memory building Patroni's configuration");
    }
    StrBuf text;
    strBufInit(&text, ctx, PATRONI_TEXT_LIMIT);
    Err dumpErr;
    errClear(&dumpErr);
    bool ok = strBufAppendStr(&text, PATRONI_HEADER, &dumpErr) && clusterYamlDump(file, &text, &dumpErr);
    json_decref(file);
    json_t *data = json_object();
    if (ok && !clusterPut(data, PATRONI_FILE_KEY, json_stringn(strBufStr(&text), text.len)))
        ok = errSet(&dumpErr, errOutOfMemory, "out of memory building Patroni's configuration");
    strBufFree(&text);
    if (!ok) {
        json_decref(data);
        json_decref(configMap);
        if (dumpErr.code == errTooLarge)
            return errSet(err, errInvalidArgument,
                          "Patroni's configuration would exceed the %d bytes a ConfigMap holds; shorten "
                          "spec.patroni.dynamicConfiguration",
                          PATRONI_TEXT_LIMIT);
        if (err != NULL)
            *err = dumpErr;
        return false;
    }
    if (!clusterPut(configMap, "data", data)) {
        json_decref(configMap);
        configMap = NULL;
    }
    return clusterAppend(objects, configMap, err);
}

/* The ConfigMap of one instance: labels of its set's metadata under the operator's, annotations over the
 * cluster's. */
static json_t *patroniInstanceConfigMap(MemCtx *ctx, const ClusterModel *model, const ClusterInstance *instance)
{
    const ClusterInstanceSet *set = &model->sets[instance->set];
    const json_t *setMeta = json_object_get(set->spec, "metadata");
    char *name = memCtxPrintf(ctx, "%s-config", instance->name);
    json_t *labels = json_object();
    json_t *operatorLabels = clusterLabels(model, set->name, instance->name);
    json_t *configMap = NULL;
    if (name != NULL && labels != NULL && operatorLabels != NULL &&
        clusterMergeCopy(labels, json_object_get(setMeta, "labels")) && json_object_update(labels, operatorLabels) == 0)
        configMap = clusterObjectNew(model, "v1", "ConfigMap", name, labels);
    memCtxRelease(name);
    json_decref(labels);
    json_decref(operatorLabels);
    const json_t *annotations = json_object_get(setMeta, "annotations");
    if (configMap != NULL && json_object_size(annotations) > 0) {
        json_t *metadata = json_object_get(configMap, "metadata");
        if (json_object_get(metadata, "annotations") == NULL && !clusterPut(metadata, "annotations", json_object()))
            goto fail;
        if (!clusterMergeCopy(json_object_get(metadata, "annotations"), annotations))
            goto fail;
    }
    return configMap;
fail:
    json_decref(configMap);
    return NULL;
}

/* The two commands that set the operator's role: bootstrap.post_bootstrap until the cluster is bootstrapped, and,
 * for a cluster with spec.standby, the callback that sets it again when a standby is promoted (its role came from the
 * primary cluster, with that cluster's password). Either is NULL when not wanted. */
static bool patroniRoleCommands(MemCtx *ctx, const ClusterModel *model, char **postBootstrap, char **onRoleChange,
                                Err *err)
{
    *postBootstrap = *onRoleChange = NULL;
    bool bootstrapped = patroniBootstrapped(model);
    bool standby = json_is_object(specField(model, "standby"));
    if (bootstrapped && !standby)
        return true;
    char *sql;
    if (!patroniOperatorRoleSql(ctx, model, &sql, err))
        return false;
    *postBootstrap = bootstrapped ? NULL : memCtxPrintf(ctx, PATRONI_POST_BOOTSTRAP, sql);
    *onRoleChange = standby ? memCtxPrintf(ctx, PATRONI_ON_ROLE_CHANGE, sql) : NULL;
    memCtxRelease(sql);
    if ((!bootstrapped && *postBootstrap == NULL) || (standby && *onRoleChange == NULL)) {
        memCtxRelease(*postBootstrap);
        memCtxRelease(*onRoleChange);
        *postBootstrap = *onRoleChange = NULL;
        return errSet(err, errOutOfMemory, "out of memory building Patroni's configuration");
    }
    return true;
}

bool clusterBuildPatroniConfig(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    char *postBootstrap, *onRoleChange;
    if (!patroniRoleCommands(ctx, model, &postBootstrap, &onRoleChange, err))
        return false;
    json_t *file = patroniClusterFile(ctx, model, err);
    if (file == NULL) {
        memCtxRelease(postBootstrap);
        memCtxRelease(onRoleChange);
        return false;
    }
    char *name = memCtxPrintf(ctx, "%s-config", model->name);
    json_t *labels = clusterLabels(model, NULL, NULL);
    json_t *configMap =
        name != NULL && labels != NULL ? clusterObjectNew(model, "v1", "ConfigMap", name, labels) : NULL;
    memCtxRelease(name);
    json_decref(labels);
    bool ok = patroniAppendConfigMap(ctx, objects, configMap, file, err);
    for (size_t instanceIdx = 0; ok && instanceIdx < model->instanceCount; instanceIdx++) {
        const ClusterInstance *instance = &model->instances[instanceIdx];
        ok = patroniAppendConfigMap(
            ctx, objects, patroniInstanceConfigMap(ctx, model, instance),
            patroniInstanceFile(ctx, model, &model->sets[instance->set], postBootstrap, onRoleChange), err);
    }
    memCtxRelease(postBootstrap);
    memCtxRelease(onRoleChange);
    return ok;
}

json_t *clusterPatroniDynamicConfig(MemCtx *ctx, const ClusterModel *model, Err *err)
{
    return patroniDcs(ctx, model, err);
}
