/* pgBackRest (see pgbackrest.h): the configuration, the repository host, the certificates, the Jobs that create the
 * stanza and take backups, and the status, as PGO v5 names and lays them out (internal/pgbackrest and
 * internal/controller/postgrescluster/pgbackrest.go).
 *
 * Configuration. ConfigMap <cluster>-pgbackrest-config holds PGO's files, projected into /etc/pgbackrest/conf.d,
 * which pgBackRest reads:
 *   - pgbackrest_instance.conf (instances): asynchronous archiving spooled on the data volume, logs on it, every
 *     repository's path, cloud repositories' type and bucket, and for volume repositories the repository host over
 *     TLS with the client certificate; then spec.backups.pgbackrest.global; [db] pg1 is the local instance.
 *   - pgbackrest_repo.conf (repository host and Jobs; pgbackrest_cloud.conf without a volume repository): the
 *     repositories, logs in the first volume repository, the global options, and [db] pgN for every instance in name
 *     order, reached over TLS. pgBackRest finds the primary among them itself, so the file does not change on
 *     failover.
 *   - pgbackrest-server.conf (projected as ~postgres-operator_server.conf): the TLS server on port 8432 (pgBackRest's
 *     default) admitting the client certificate's common name pgbackrest@<cluster UID> for every stanza.
 * PGO's config-hash key is left out: it served PGO's exec wrapper, which compared it before running a backup.
 *
 * Repository host. StatefulSet <cluster>-repo-host, one pod <cluster>-repo-host-0 under Service <cluster>-pods,
 * running `pgbackrest server` with the repository volumes at /pgbackrest/<repo> and the server certificate
 * pgbackrest-repo-host.crt; container pgbackrest-config signals the server (SIGHUP: it reloads its options and
 * certificates) when they change. The image is spec.backups.pgbackrest.image, else the cluster's Postgres image,
 * which carries pgBackRest.
 *
 * Jobs run the repository host's configuration in a pod beside it (a required pod affinity: the volumes are
 * ReadWriteOnce), as PGO's exec'd commands ran in it:
 *   - <cluster>-stanza-<4>: `pgbackrest stanza-create || pgbackrest stanza-upgrade`, once the repository host is
 *     ready and Patroni has a primary. The suffix hashes the repository names, so adding a repository makes a new
 *     Job that creates its stanza.
 *   - <cluster>-backup-<4> labelled pgbackrest-backup=replica-create: `pgbackrest backup --stanza=db --repo=1
 *     --start-fast` (an incremental backup becomes full when there is none) into the first repository, after its
 *     stanza exists.
 *   - <cluster>-backup-<4> labelled pgbackrest-backup=manual, annotated with the id: the cluster's annotation
 *     pgbackrest-backup=<id> with spec.backups.pgbackrest.manual, after the replica-create backup. Options are
 *     passed one argument each; one with --repo is refused as PGO refuses it (the repository is manual.repoName).
 * Names are "<cluster>-backup-" plus four characters of PGO's alphabet hashed from the cluster UID and the Job's
 * purpose: PGO draws them at random and finds its Jobs by label, but builders find cached objects by name. A Job
 * already cached is emitted again only when its intent is still a subset of it, so a Job is never changed (Jobs are
 * immutable) and a finished one never run again; creation is gated as above. The CronJobs of the backup schedules
 * run the same Job (schedules.c).
 *
 * Cloud repositories (S3, GCS, Azure) need no repository host: the instances archive to them, and the Jobs reach
 * them directly. A cluster with a volume repository runs its Jobs as above, the cloud repositories being in
 * pgbackrest_repo.conf too; one whose repositories are all in the cloud runs them with pgbackrest_cloud.conf (PGO's
 * name: the repositories, the instances over TLS, logs in the Job's /tmp), without the repository host's volumes or
 * affinity. Either way the instances run pgBackRest's TLS server, which the Jobs' backups read the data from.
 * Credentials and storage TLS options come from spec.backups.pgbackrest.configuration and .global, as in PGO. */
#include "pgbackrest/backup.h"

#include "naming/names.h"

#include "api/standby.h"

#include "common/base64.h"
#include "common/strbuf.h"
#include "kube/apply.h"
#include "pki/names.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BACKUP_REPO_MOUNT   "/pgbackrest"
#define BACKUP_SERVER_DIR   "/etc/pgbackrest/server"
#define BACKUP_TLS_DIR      "~postgres-operator"
#define BACKUP_CA_FILE      PGBACKREST_CONFIG_DIR "/" BACKUP_TLS_DIR "/tls-ca.crt"
#define BACKUP_CLIENT_CERT  PGBACKREST_CONFIG_DIR "/" BACKUP_TLS_DIR "/client-tls.crt"
#define BACKUP_CLIENT_KEY   PGBACKREST_CONFIG_DIR "/" BACKUP_TLS_DIR "/client-tls.key"
#define BACKUP_SERVER_CONF  "~postgres-operator_server.conf"
#define BACKUP_KEY_INSTANCE "pgbackrest_instance.conf"
#define BACKUP_KEY_REPO     "pgbackrest_repo.conf"
#define BACKUP_KEY_CLOUD    "pgbackrest_cloud.conf"
#define BACKUP_JOB_LOG      "/tmp"
#define BACKUP_KEY_SERVER   "pgbackrest-server.conf"
#define BACKUP_INSTANCE_LOG "/pgdata/pgbackrest/log"
#define BACKUP_SOCKET_DIR   "/tmp/postgres"
#define BACKUP_FS_GROUP     26
#define BACKUP_KEY_MODE     0600
#define BACKUP_TEXT_LIMIT   (1024 * 1024) /* a ConfigMap holds at most 1 MiB */
#define BACKUP_FQDN_SIZE    1024
#define BACKUP_HEADER       "# Generated by postgres-operator. DO NOT EDIT.\n# Your changes will not be saved.\n"

/* The reloader of pgbackrest-config, run as: bash -ceu -- <script> pgbackrest-config. pgBackRest's TLS server
 * reloads options and certificates on SIGHUP; it is the only pgbackrest whose parent is outside the pod's process
 * namespace (0), the connections' handlers being its children. A descriptor on a pipe nobody writes is the timer
 * and, by its mtime, the mark of the last signal. */
static const char backupReloadScript[] =
    "exec {fd}<> <(:)\n"
    "while read -r -t 5 -u \"${fd}\" || true; do\n"
    "  if { [[ " PGBACKREST_CONFIG_DIR " -nt \"/proc/self/fd/${fd}\" ]] ||\n"
    "       [[ " BACKUP_SERVER_DIR " -nt \"/proc/self/fd/${fd}\" ]]; } &&\n"
    "    pkill -HUP --exact --parent=0 pgbackrest\n"
    "  then\n"
    "    exec {fd}>&- && exec {fd}<> <(:)\n"
    "    stat --format='pgbackrest-config: loaded the configuration of %y' " PGBACKREST_CONFIG_DIR "\n"
    "  fi\n"
    "done\n";

/* The instance's TLS server: its log directory (on the data volume, where archive-push logs too), then the server. */
static const char backupInstanceServerScript[] = "mkdir -p " BACKUP_INSTANCE_LOG "\nexec pgbackrest server\n";

const char *backupStringAt(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static const json_t *clusterSpec(const ClusterModel *model)
{
    return json_object_get(model->cluster, "spec");
}

static const json_t *backupSpec(const ClusterModel *model)
{
    const json_t *spec = json_object_get(json_object_get(clusterSpec(model), "backups"), "pgbackrest");
    return json_is_object(spec) ? spec : NULL;
}

static const char *firstVolumeRepo(const json_t *repos)
{
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(repos, repoIdx, repo)
    {
        if (json_is_object(json_object_get(repo, "volume")) && backupStringAt(repo, "name") != NULL)
            return backupStringAt(repo, "name");
    }
    return NULL;
}

bool clusterPgBackRestRepoHost(const ClusterModel *model)
{
    return firstVolumeRepo(json_object_get(backupSpec(model), "repos")) != NULL;
}

int backupRepoNumber(const char *name)
{
    if (name == NULL || strncmp(name, "repo", 4) != 0 || name[4] < '1' || name[4] > '9')
        return 0;
    return atoi(name + 4);
}

const json_t *backupRepoNamed(const Backup *b, const char *name)
{
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        const char *repoName = backupStringAt(repo, "name");
        if (repoName != NULL && name != NULL && strcmp(repoName, name) == 0)
            return repo;
    }
    return NULL;
}

JobState backupJobState(const json_t *job)
{
    if (job == NULL)
        return jobAbsent;
    size_t condIdx;
    const json_t *condition;
    json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), condIdx, condition)
    {
        const char *type = backupStringAt(condition, "type");
        const char *status = backupStringAt(condition, "status");
        if (type == NULL || status == NULL || strcmp(status, "True") != 0)
            continue;
        if (strcmp(type, "Complete") == 0)
            return jobSucceeded;
        if (strcmp(type, "Failed") == 0)
            return jobFailed;
    }
    return jobActive;
}

const json_t *backupLookup(const ClusterModel *model, const char *kind, const char *name)
{
    return model->lookup != NULL ? model->lookup(model->lookupArg, kind, model->namespace, name) : NULL;
}

/* "<cluster>-<prefix>-" and four characters of PGO's alphabet (no vowels, no look-alikes) hashed (FNV-1a) from the
 * cluster's UID and purpose. */
static void jobName(const ClusterModel *model, const char *prefix, const char *purpose, char out[BACKUP_NAME_SIZE])
{
    const char *seed[] = {model->uid, "/", purpose};
    char suffix[NAMING_SUFFIX_SIZE];
    namingSuffix(seed, sizeof(seed) / sizeof(seed[0]), suffix);
    snprintf(out, BACKUP_NAME_SIZE, "%s-%s-%s", model->name, prefix, suffix);
}

/* The stanza Job's purpose: the repository names in order, so another set of repositories gets another Job. */
static void stanzaJobName(const Backup *b, char out[BACKUP_NAME_SIZE])
{
    char purpose[BACKUP_NAME_SIZE] = "stanza";
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        const char *name = backupStringAt(repo, "name");
        size_t used = strlen(purpose);
        if (name != NULL)
            snprintf(purpose + used, sizeof(purpose) - used, "/%s", name);
    }
    jobName(b->model, "stanza", purpose, out);
}

static void manualJobName(const ClusterModel *model, const char *id, char out[BACKUP_NAME_SIZE])
{
    char purpose[BACKUP_NAME_SIZE];
    snprintf(purpose, sizeof(purpose), "manual/%s", id);
    jobName(model, "backup", purpose, out);
}

bool backupInit(const ClusterModel *model, Backup *b)
{
    const json_t *spec = backupSpec(model);
    if (spec == NULL)
        return false;
    const char *image = backupStringAt(spec, "image");
    *b = (Backup){
        .model = model,
        .spec = spec,
        .repos = json_object_get(spec, "repos"),
        .meta = json_object_get(spec, "metadata"),
        .image = image != NULL && image[0] != '\0' ? image : model->image,
        .firstVolume = firstVolumeRepo(json_object_get(spec, "repos")),
        .primary = model->primary,
    };
    snprintf(b->configMap, sizeof(b->configMap), "%s-pgbackrest-config", model->name);
    snprintf(b->secret, sizeof(b->secret), "%s-pgbackrest", model->name);
    snprintf(b->repoHost, sizeof(b->repoHost), "%s-repo-host", model->name);
    snprintf(b->serviceAccount, sizeof(b->serviceAccount), "%s-pgbackrest", model->name); /* PGO's name */
    snprintf(b->service, sizeof(b->service), "%s-pods", model->name);
    stanzaJobName(b, b->stanzaJob);
    const char *first = backupStringAt(json_array_get(b->repos, 0), "name");
    char purpose[BACKUP_NAME_SIZE];
    /* After an in-place restore, a new replica-create backup, of the new timeline (controllers/postgrescluster/
     * restore.c clears replicaCreateBackupComplete meanwhile). */
    const char *restoreId = backupStringAt(
        json_object_get(json_object_get(json_object_get(model->cluster, "status"), "pgbackrest"), "restore"), "id");
    if (restoreId != NULL)
        snprintf(purpose, sizeof(purpose), "replica-create/%s/restore/%s", first != NULL ? first : "", restoreId);
    else
        snprintf(purpose, sizeof(purpose), "replica-create/%s", first != NULL ? first : "");
    jobName(model, "backup", purpose, b->replicaJob);
    const json_t *status = json_object_get(backupLookup(model, "StatefulSet", b->repoHost), "status");
    b->repoHostReady = b->firstVolume != NULL && json_integer_value(json_object_get(status, "readyReplicas")) >= 1;
    /* A standby's repository holds its primary cluster's stanza and backups: no Job of ours writes there (PGO
     * blocks backups while standby), until the promotion, and Patroni has done it (a stanza-create of a leader
     * still in recovery fails). */
    char role[32] = "";
    if (model->primary != NULL) {
        char pod[NAMING_NAME_SIZE];
        namingInstancePod(model->primary, pod);
        clusterPodPatroniRole(backupLookup(model, "Pod", pod), role, sizeof(role));
    }
    b->jobsReady = (b->firstVolume == NULL || b->repoHostReady) && !clusterStandbyOf(model->cluster).enabled &&
                   strcmp(role, "standby_leader") != 0;
    return true;
}

/* The current status.pgbackrest.repos[] entry of repository name, or NULL. */
static const json_t *repoStatus(const ClusterModel *model, const char *name)
{
    const json_t *repos =
        json_object_get(json_object_get(json_object_get(model->cluster, "status"), "pgbackrest"), "repos");
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(repos, repoIdx, repo)
    {
        const char *repoName = backupStringAt(repo, "name");
        if (repoName != NULL && name != NULL && strcmp(repoName, name) == 0)
            return repo;
    }
    return NULL;
}

bool backupStanzaCreated(const Backup *b, const char *repo)
{
    return json_is_true(json_object_get(repoStatus(b->model, repo), "stanzaCreated")) ||
           backupJobState(backupLookup(b->model, "Job", b->stanzaJob)) == jobSucceeded;
}

bool backupReplicaCreated(const Backup *b)
{
    const char *repo = backupStringAt(json_array_get(b->repos, 0), "name");
    return json_is_true(json_object_get(repoStatus(b->model, repo), "replicaCreateBackupComplete")) ||
           backupJobState(backupLookup(b->model, "Job", b->replicaJob)) == jobSucceeded;
}

/* ---- metadata ---- */

json_t *backupLabels(const Backup *b, const char *const *pairs)
{
    json_t *labels = json_object();
    bool ok = clusterMergeCopy(labels, json_object_get(b->meta, "labels")) &&
              clusterPut(labels, CLUSTER_LABEL_CLUSTER, json_string(b->model->name));
    for (size_t pairIdx = 0; ok && pairs[pairIdx] != NULL; pairIdx += 2)
        ok = clusterPut(labels, pairs[pairIdx], json_string(pairs[pairIdx + 1]));
    if (ok)
        return labels;
    json_decref(labels);
    return NULL;
}

json_t *backupObject(const Backup *b, const char *apiVersion, const char *kind, const char *name, json_t *labels)
{
    return clusterObjectAnnotated(b->model, apiVersion, kind, name, labels, json_object_get(b->meta, "annotations"));
}

/* A pod template's metadata: labels of spec.metadata under labels (consumed), annotations of spec.metadata and
 * spec.backups.pgbackrest.metadata, then extra (borrowed, may be NULL). */
static json_t *backupPodMetadata(const Backup *b, json_t *labels, const json_t *extra)
{
    const json_t *clusterMeta = json_object_get(clusterSpec(b->model), "metadata");
    json_t *all = json_object();
    json_t *annotations = json_object();
    bool ok = labels != NULL && clusterMergeCopy(all, json_object_get(clusterMeta, "labels")) &&
              json_object_update(all, labels) == 0 &&
              clusterMergeCopy(annotations, json_object_get(clusterMeta, "annotations")) &&
              clusterMergeCopy(annotations, json_object_get(b->meta, "annotations")) &&
              clusterMergeCopy(annotations, extra);
    json_decref(labels);
    json_t *metadata = ok ? json_pack("{s:O}", "labels", all) : NULL;
    if (metadata != NULL && json_object_size(annotations) > 0 &&
        !clusterPut(metadata, "annotations", json_incref(annotations))) {
        json_decref(metadata);
        metadata = NULL;
    }
    json_decref(all);
    json_decref(annotations);
    return metadata;
}

/* ---- configuration files ---- */

static int keyCompare(const void *left, const void *right)
{
    return strcmp(*(const char *const *)left, *(const char *const *)right);
}

/* "\n[name]\n" and "key = value" lines in key order. */
static bool iniSection(MemCtx *ctx, StrBuf *text, const char *name, const json_t *options, Err *err)
{
    size_t count = json_object_size(options);
    const char **keys = memCtxAlloc(ctx, (count + 1) * sizeof(*keys));
    if (keys == NULL)
        return errSet(err, errOutOfMemory, "out of memory writing pgBackRest's configuration");
    size_t keyIdx = 0;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)(uintptr_t)options, key, value)
    {
        keys[keyIdx++] = key;
    }
    qsort(keys, count, sizeof(*keys), keyCompare);
    bool ok = strBufPrintf(text, err, "\n[%s]\n", name);
    for (keyIdx = 0; ok && keyIdx < count; keyIdx++)
        ok = strBufPrintf(text, err, "%s = %s\n", keys[keyIdx], backupStringAt(options, keys[keyIdx]));
    memCtxRelease(keys);
    return ok;
}

/* options["<name>-<suffix>"] = value. */
static bool option(json_t *options, const char *value, const char *name, const char *suffix)
{
    char key[BACKUP_NAME_SIZE];
    snprintf(key, sizeof(key), "%s-%s", name, suffix);
    return clusterPut(options, key, json_string(value != NULL ? value : ""));
}

/* <repo>-path for every repository, a cloud repository's type and place, and, for an instance (client true), how
 * to reach volume repositories on the repository host. */
static bool optionsRepos(const Backup *b, const char *repoHostFqdn, json_t *global)
{
    bool ok = global != NULL;
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        const char *name = backupStringAt(repo, "name");
        if (!ok || name == NULL)
            continue;
        char path[BACKUP_NAME_SIZE];
        snprintf(path, sizeof(path), BACKUP_REPO_MOUNT "/%s", name);
        ok = option(global, path, name, "path");
        const json_t *s3 = json_object_get(repo, "s3"), *gcs = json_object_get(repo, "gcs"),
                     *azure = json_object_get(repo, "azure");
        if (json_is_object(json_object_get(repo, "volume"))) {
            if (repoHostFqdn != NULL)
                ok = ok && option(global, repoHostFqdn, name, "host") &&
                     option(global, BACKUP_CA_FILE, name, "host-ca-file") &&
                     option(global, BACKUP_CLIENT_CERT, name, "host-cert-file") &&
                     option(global, BACKUP_CLIENT_KEY, name, "host-key-file") &&
                     option(global, "tls", name, "host-type") && option(global, "postgres", name, "host-user");
        } else if (json_is_object(azure)) {
            ok = ok && option(global, "azure", name, "type") &&
                 option(global, backupStringAt(azure, "container"), name, "azure-container");
        } else if (json_is_object(gcs)) {
            ok = ok && option(global, "gcs", name, "type") &&
                 option(global, backupStringAt(gcs, "bucket"), name, "gcs-bucket");
        } else if (json_is_object(s3)) {
            ok = ok && option(global, "s3", name, "type") &&
                 option(global, backupStringAt(s3, "bucket"), name, "s3-bucket") &&
                 option(global, backupStringAt(s3, "endpoint"), name, "s3-endpoint") &&
                 option(global, backupStringAt(s3, "region"), name, "s3-region");
        }
    }
    return ok;
}

/* spec.backups.pgbackrest.global over options: strings as they are, numbers printed. */
static bool optionsUser(const Backup *b, json_t *global)
{
    const char *key;
    const json_t *value;
    json_object_foreach(json_object_get(b->spec, "global"), key, value)
    {
        char number[32];
        const char *text = json_string_value(value);
        if (json_is_integer(value)) {
            snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            text = number;
        }
        if (text != NULL && !clusterPut(global, key, json_string(text)))
            return false;
    }
    return true;
}

/* The FQDN of the pod <name>-0, with the cluster domain's root dot as in the certificates (pki/names.h). */
static void podFqdn(const Backup *b, const char *name, char out[BACKUP_FQDN_SIZE])
{
    const char *domain = b->model->domain != NULL && b->model->domain[0] != '\0' ? b->model->domain : "cluster.local";
    size_t len = strlen(domain);
    snprintf(out, BACKUP_FQDN_SIZE, "%s-0.%s.%s.svc.%s%s", name, b->service, b->model->namespace, domain,
             domain[len - 1] == '.' ? "" : ".");
}

/* pgbackrest_instance.conf */
static bool configInstance(MemCtx *ctx, const Backup *b, StrBuf *text, Err *err)
{
    char repoHost[BACKUP_FQDN_SIZE], port[32];
    podFqdn(b, b->repoHost, repoHost);
    snprintf(port, sizeof(port), "%lld", (long long)b->model->port);
    char *pgdata = memCtxPrintf(ctx, "/pgdata/pg%lld", (long long)b->model->postgresVersion);
    json_t *global = json_pack("{s:s, s:s, s:s}", "archive-async", "y", "log-path", BACKUP_INSTANCE_LOG, "spool-path",
                               "/pgdata/pgbackrest-spool");
    json_t *db = pgdata != NULL ? json_pack("{s:s, s:s, s:s}", "pg1-path", pgdata, "pg1-port", port, "pg1-socket-path",
                                            BACKUP_SOCKET_DIR)
                                : NULL;
    bool ok = db != NULL && optionsRepos(b, b->firstVolume != NULL ? repoHost : NULL, global) && optionsUser(b, global);
    if (!ok)
        errSet(err, errOutOfMemory, "out of memory writing pgBackRest's configuration");
    ok = ok && strBufAppendStr(text, BACKUP_HEADER, err) && iniSection(ctx, text, "global", global, err) &&
         iniSection(ctx, text, BACKUP_STANZA, db, err);
    json_decref(global);
    json_decref(db);
    memCtxRelease(pgdata);
    return ok;
}

/* pgbackrest_repo.conf (repository host and Jobs), or without a volume repository pgbackrest_cloud.conf (Jobs),
 * which logs to the Job's /tmp. */
static bool configRepo(MemCtx *ctx, const Backup *b, StrBuf *text, Err *err)
{
    char log[BACKUP_NAME_SIZE], port[32];
    if (b->firstVolume != NULL)
        snprintf(log, sizeof(log), BACKUP_REPO_MOUNT "/%s/log", b->firstVolume);
    else
        snprintf(log, sizeof(log), BACKUP_JOB_LOG);
    snprintf(port, sizeof(port), "%lld", (long long)b->model->port);
    char *pgdata = memCtxPrintf(ctx, "/pgdata/pg%lld", (long long)b->model->postgresVersion);
    json_t *global = json_pack("{s:s}", "log-path", log);
    json_t *db = json_object();
    bool ok = pgdata != NULL && db != NULL && optionsRepos(b, NULL, global) && optionsUser(b, global);
    for (size_t instanceIdx = 0; ok && instanceIdx < b->model->instanceCount; instanceIdx++) {
        char host[BACKUP_FQDN_SIZE], key[32];
        podFqdn(b, b->model->instances[instanceIdx].name, host);
        snprintf(key, sizeof(key), "pg%zu", instanceIdx + 1);
        ok = option(db, host, key, "host") && option(db, BACKUP_CA_FILE, key, "host-ca-file") &&
             option(db, BACKUP_CLIENT_CERT, key, "host-cert-file") &&
             option(db, BACKUP_CLIENT_KEY, key, "host-key-file") && option(db, "tls", key, "host-type") &&
             option(db, pgdata, key, "path") && option(db, port, key, "port") &&
             option(db, BACKUP_SOCKET_DIR, key, "socket-path");
    }
    if (!ok)
        errSet(err, errOutOfMemory, "out of memory writing pgBackRest's configuration");
    ok = ok && strBufAppendStr(text, BACKUP_HEADER, err) && iniSection(ctx, text, "global", global, err) &&
         iniSection(ctx, text, BACKUP_STANZA, db, err);
    json_decref(global);
    json_decref(db);
    memCtxRelease(pgdata);
    return ok;
}

/* pgbackrest-server.conf: IPv4 unless the cluster's annotation pgbackrest-ip-version says IPv6, as PGO. */
static bool configServer(MemCtx *ctx, const Backup *b, StrBuf *text, Err *err)
{
    const json_t *annotations = json_object_get(json_object_get(b->model->cluster, "metadata"), "annotations");
    const char *ipVersion = backupStringAt(annotations, CLUSTER_ANNOTATION_PGBACKREST_IP_VERSION);
    char auth[BACKUP_NAME_SIZE];
    snprintf(auth, sizeof(auth), "pgbackrest@%s=*", b->model->uid);
    json_t *global =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "tls-server-address",
                  ipVersion != NULL && strcasecmp(ipVersion, "ipv6") == 0 ? "::" : "0.0.0.0", "tls-server-auth", auth,
                  "tls-server-ca-file", BACKUP_CA_FILE, "tls-server-cert-file", BACKUP_SERVER_DIR "/server-tls.crt",
                  "tls-server-key-file", BACKUP_SERVER_DIR "/server-tls.key");
    json_t *server = json_pack("{s:s, s:s, s:s, s:s}", "log-level-console", "detail", "log-level-file", "off",
                               "log-level-stderr", "error", "log-timestamp", "n");
    bool ok = (global != NULL && server != NULL) ||
              errSet(err, errOutOfMemory, "out of memory writing pgBackRest's configuration");
    ok = ok && strBufAppendStr(text, BACKUP_HEADER, err) && iniSection(ctx, text, "global", global, err) &&
         iniSection(ctx, text, "global:server", server, err);
    json_decref(global);
    json_decref(server);
    return ok;
}

typedef bool ConfigFn(MemCtx *ctx, const Backup *b, StrBuf *text, Err *err);

/* data[key] = the text fn writes. */
static bool configPut(MemCtx *ctx, const Backup *b, json_t *data, const char *key, ConfigFn *fn, Err *err)
{
    StrBuf text;
    strBufInit(&text, ctx, BACKUP_TEXT_LIMIT);
    bool ok =
        fn(ctx, b, &text, err) && (clusterPut(data, key, json_stringn(strBufStr(&text), text.len)) ||
                                   errSet(err, errOutOfMemory, "out of memory writing pgBackRest's configuration"));
    strBufFree(&text);
    return ok;
}

/* ConfigMap <cluster>-pgbackrest-config. As PGO, pgbackrest-server.conf is there (empty without a repository host)
 * so that the instances' projections stay valid. */
static bool buildConfigMap(MemCtx *ctx, const Backup *b, json_t *objects, Err *err)
{
    static const char *const labels[] = {PGBACKREST_LABEL, "", PGBACKREST_LABEL_CONFIG, "", NULL};
    json_t *object = backupObject(b, "v1", "ConfigMap", b->configMap, backupLabels(b, labels));
    json_t *data = json_pack("{s:s}", BACKUP_KEY_SERVER, "");
    bool ok =
        (object != NULL && data != NULL) || errSet(err, errOutOfMemory, "out of memory building %s", b->configMap);
    ok = ok && configPut(ctx, b, data, BACKUP_KEY_INSTANCE, configInstance, err);
    if (ok && json_array_size(b->repos) > 0)
        ok = configPut(ctx, b, data, b->firstVolume != NULL ? BACKUP_KEY_REPO : BACKUP_KEY_CLOUD, configRepo, err) &&
             configPut(ctx, b, data, BACKUP_KEY_SERVER, configServer, err);
    if (!ok) {
        json_decref(object);
        json_decref(data);
        return false;
    }
    if (!clusterPut(object, "data", data)) {
        json_decref(object);
        object = NULL;
    }
    return clusterAppend(objects, object, err);
}

/* ---- certificates ---- */

/* Secret <cluster>-pgbackrest, from the root CA the certificates builder keeps in Secret pgo-root-cacert; nothing
 * until that Secret is cached with a usable root (the next reconcile after it is created). */
static bool buildSecret(MemCtx *ctx, const Backup *b, json_t *objects, Err *err)
{
    const ClusterModel *model = b->model;
    const json_t *rootSecret = backupLookup(model, "Secret", CLUSTER_ROOT_SECRET);
    ClusterBytes rootCert, rootKey;
    if (!clusterSecretRead(ctx, rootSecret, "root.crt", &rootCert, err) ||
        !clusterSecretRead(ctx, rootSecret, "root.key", &rootKey, err))
        return false;
    PkiRoot root;
    Err decodeErr;
    if (rootCert.data == NULL || rootKey.data == NULL ||
        !pkiRootDecode(ctx, rootCert.data, rootCert.len, rootKey.data, rootKey.len, &root, &decodeErr)) {
        if (rootCert.data != NULL && rootKey.data != NULL && decodeErr.code == errOutOfMemory) {
            if (err != NULL)
                *err = decodeErr;
            return false;
        }
        return true;
    }
    char domain[BACKUP_NAME_SIZE];
    const char *modelDomain = model->domain != NULL && model->domain[0] != '\0' ? model->domain : "cluster.local";
    snprintf(domain, sizeof(domain), "%s%s", modelDomain, modelDomain[strlen(modelDomain) - 1] == '.' ? "" : ".");
    const json_t *cached = backupLookup(model, "Secret", b->secret);
    PkiLeafSpec clientSpec, repoSpec;
    ClusterBytes clientCert, clientKey, repoCert, repoKey;
    if (!pkiSpecPgBackRestClientCert(ctx, model->uid, &clientSpec, err) ||
        !pkiSpecRepoHostCert(ctx, b->repoHost, b->service, model->namespace, domain, &repoSpec, err) ||
        !clusterLeafKeep(ctx, model, &root, cached, "pgbackrest-client.crt", "pgbackrest-client.key", &clientSpec,
                         &clientCert, &clientKey, err) ||
        !clusterLeafKeep(ctx, model, &root, cached, "pgbackrest-repo-host.crt", "pgbackrest-repo-host.key", &repoSpec,
                         &repoCert, &repoKey, err))
        return errPrefix(err, "secret %s", b->secret);

    static const char *const labels[] = {PGBACKREST_LABEL, "", PGBACKREST_LABEL_CONFIG, "", NULL};
    json_t *object = backupObject(b, "v1", "Secret", b->secret, backupLabels(b, labels));
    json_t *data = json_object();
    bool ok = (object != NULL && data != NULL && clusterPut(object, "type", json_string("Opaque"))) ||
              errSet(err, errOutOfMemory, "out of memory building %s", b->secret);
    ok = ok && clusterSecretWrite(ctx, data, "pgbackrest.ca-roots", rootCert, err) &&
         clusterSecretWrite(ctx, data, "pgbackrest-client.crt", clientCert, err) &&
         clusterSecretWrite(ctx, data, "pgbackrest-client.key", clientKey, err) &&
         clusterSecretWrite(ctx, data, "pgbackrest-repo-host.crt", repoCert, err) &&
         clusterSecretWrite(ctx, data, "pgbackrest-repo-host.key", repoKey, err);
    if (!ok) {
        json_decref(object);
        json_decref(data);
        return false;
    }
    if (!clusterPut(object, "data", data)) {
        json_decref(object);
        object = NULL;
    }
    return clusterAppend(objects, object, err);
}

/* ---- pods ---- */

static json_t *mount(const char *volume, const char *path, bool readOnly)
{
    return readOnly ? json_pack("{s:s, s:s, s:b}", "name", volume, "mountPath", path, "readOnly", 1)
                    : json_pack("{s:s, s:s}", "name", volume, "mountPath", path);
}

/* A container of ours: name, image, the cluster's pull policy, the restricted security context, command (consumed)
 * and resources (borrowed, may be NULL). */
static json_t *container(const Backup *b, const char *name, json_t *command, const json_t *resources)
{
    json_t *object = json_pack("{s:s, s:s}", "name", name, "image", b->image);
    if (clusterPut(object, "command", command) &&
        clusterPutCopy(object, "imagePullPolicy", json_object_get(clusterSpec(b->model), "imagePullPolicy")) &&
        clusterPut(object, "securityContext", clusterRestrictedSecurityContext()) &&
        clusterPutCopy(object, "resources", resources))
        return object;
    json_decref(object);
    return NULL;
}

/* Mounts of the volume repositories at /pgbackrest/<repo>, appended to mounts. */
static bool repoMounts(const Backup *b, json_t *mounts)
{
    bool ok = mounts != NULL;
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        const char *name = backupStringAt(repo, "name");
        char path[BACKUP_NAME_SIZE];
        snprintf(path, sizeof(path), BACKUP_REPO_MOUNT "/%s", name != NULL ? name : "");
        if (ok && name != NULL && json_is_object(json_object_get(repo, "volume")))
            ok = clusterPush(mounts, mount(name, path, false));
    }
    return ok;
}

/* The volume repositories' PVC volumes, appended to volumes. */
static bool repoVolumes(const Backup *b, json_t *volumes)
{
    bool ok = volumes != NULL;
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        const char *name = backupStringAt(repo, "name");
        char claim[BACKUP_NAME_SIZE];
        snprintf(claim, sizeof(claim), "%s-%s", b->model->name, name != NULL ? name : "");
        if (ok && name != NULL && json_is_object(json_object_get(repo, "volume")))
            ok = clusterPush(volumes,
                             json_pack("{s:s, s:{s:s}}", "name", name, "persistentVolumeClaim", "claimName", claim));
    }
    return ok;
}

/* The client certificates from Secret <cluster>-pgbackrest, keys private (pgBackRest refuses others). */
static json_t *clientCertsProjection(const Backup *b, bool optional)
{
    json_t *projection =
        json_pack("{s:{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:i}]}}", "secret", "name", b->secret, "items", "key",
                  "pgbackrest.ca-roots", "path", BACKUP_TLS_DIR "/tls-ca.crt", "key", "pgbackrest-client.crt", "path",
                  BACKUP_TLS_DIR "/client-tls.crt", "key", "pgbackrest-client.key", "path",
                  BACKUP_TLS_DIR "/client-tls.key", "mode", BACKUP_KEY_MODE);
    if (projection != NULL && optional && !clusterPut(json_object_get(projection, "secret"), "optional", json_true())) {
        json_decref(projection);
        projection = NULL;
    }
    return projection;
}

/* Volume pgbackrest-config: spec.backups.pgbackrest.configuration, then the ConfigMap's keys (items: key and path
 * alternately, NULL-terminated), then the client certificates unless certs is 0 (1: required, 2: optional). */
static json_t *configVolume(const Backup *b, const char *const *items, int certs)
{
    const json_t *configuration = json_object_get(b->spec, "configuration");
    json_t *sources = json_is_array(configuration) ? json_deep_copy(configuration) : json_array();
    json_t *keys = json_array();
    bool ok = sources != NULL && keys != NULL;
    for (size_t itemIdx = 0; ok && items[itemIdx] != NULL; itemIdx += 2)
        ok = clusterPush(keys, json_pack("{s:s, s:s}", "key", items[itemIdx], "path", items[itemIdx + 1]));
    ok = ok && clusterPush(sources, json_pack("{s:{s:s, s:O}}", "configMap", "name", b->configMap, "items", keys)) &&
         (certs == 0 || clusterPush(sources, clientCertsProjection(b, certs == 2)));
    json_decref(keys);
    json_t *volume =
        ok ? json_pack("{s:s, s:{s:O}}", "name", "pgbackrest-config", "projected", "sources", sources) : NULL;
    json_decref(sources);
    return volume;
}

/* Volume pgbackrest-server: the server certificate and key from secret's certKey and keyKey. */
static json_t *serverVolume(const char *secret, const char *certKey, const char *keyKey)
{
    return json_pack("{s:s, s:{s:[{s:{s:s, s:[{s:s, s:s}, {s:s, s:s, s:i}]}}]}}", "name", "pgbackrest-server",
                     "projected", "sources", "secret", "name", secret, "items", "key", certKey, "path",
                     "server-tls.crt", "key", keyKey, "path", "server-tls.key", "mode", BACKUP_KEY_MODE);
}

/* Containers pgbackrest (the TLS server, extra mounts appended to the server's, consumed) and pgbackrest-config. */
static bool serverContainers(const Backup *b, json_t *containers, json_t *command, json_t *extraMounts,
                             const json_t *resources)
{
    const json_t *sidecars = json_object_get(b->spec, "sidecars");
    json_t *server = container(b, "pgbackrest", command, resources);
    json_t *mounts = json_pack("[o]", mount("pgbackrest-server", BACKUP_SERVER_DIR, true));
    bool ok = mounts != NULL && extraMounts != NULL && json_array_extend(mounts, extraMounts) == 0 &&
              clusterPush(mounts, mount("pgbackrest-config", PGBACKREST_CONFIG_DIR, true)) &&
              clusterPush(mounts, mount("tmp", "/tmp", false));
    json_decref(extraMounts);
    if (!ok) {
        json_decref(mounts);
        mounts = NULL;
    }
    ok = clusterPut(server, "volumeMounts", mounts) &&
         clusterPut(server, "livenessProbe",
                    json_pack("{s:{s:[s, s]}}", "exec", "command", "pgbackrest", "server-ping"));
    json_t *reloader =
        container(b, "pgbackrest-config",
                  json_pack("[s, s, s, s, s]", "bash", "-ceu", "--", backupReloadScript, "pgbackrest-config"),
                  json_object_get(json_object_get(sidecars, "pgbackrestConfig"), "resources"));
    ok = clusterPut(reloader, "volumeMounts",
                    json_pack("[o, o]", mount("pgbackrest-server", BACKUP_SERVER_DIR, true),
                              mount("pgbackrest-config", PGBACKREST_CONFIG_DIR, true))) &&
         ok;
    if (ok) {
        bool appended = clusterPush(containers, server);
        return clusterPush(containers, reloader) && appended;
    }
    json_decref(server);
    json_decref(reloader);
    return false;
}

/* fsGroup 26 unless OpenShift, non-root, the runtime's seccomp profile. */
static json_t *podSecurityContext(const Backup *b)
{
    json_t *context = json_pack("{s:s, s:b, s:{s:s}}", "fsGroupChangePolicy", "OnRootMismatch", "runAsNonRoot", 1,
                                "seccompProfile", "type", "RuntimeDefault");
    if (json_is_true(json_object_get(clusterSpec(b->model), "openshift")) ||
        clusterPut(context, "fsGroup", json_integer(BACKUP_FS_GROUP)))
        return context;
    json_decref(context);
    return NULL;
}

/* ---- the repository host ---- */

static bool buildServiceAccount(const Backup *b, json_t *objects, Err *err)
{
    static const char *const labels[] = {PGBACKREST_LABEL, "", NULL};
    json_t *object = backupObject(b, "v1", "ServiceAccount", b->serviceAccount, backupLabels(b, labels));
    if (!clusterPut(object, "automountServiceAccountToken", json_false())) {
        json_decref(object);
        object = NULL;
    }
    return clusterAppend(objects, object, err);
}

static bool buildRepoClaims(const Backup *b, json_t *objects, Err *err)
{
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        const char *name = backupStringAt(repo, "name");
        const json_t *claimSpec = json_object_get(json_object_get(repo, "volume"), "volumeClaimSpec");
        if (name == NULL || !json_is_object(json_object_get(repo, "volume")))
            continue;
        if (!json_is_object(claimSpec))
            return errSet(err, errInvalidArgument,
                          "spec.backups.pgbackrest.repos[%zu].volume.volumeClaimSpec: Required "
                          "value",
                          repoIdx);
        char claim[BACKUP_NAME_SIZE];
        snprintf(claim, sizeof(claim), "%s-%s", b->model->name, name);
        const char *labels[] = {
            PGBACKREST_LABEL, "",  PGBACKREST_LABEL_REPO, name, PGBACKREST_LABEL_VOLUME, "", CLUSTER_LABEL_DATA,
            "pgbackrest",     NULL};
        json_t *object = backupObject(b, "v1", "PersistentVolumeClaim", claim, backupLabels(b, labels));
        if (!clusterPut(object, "spec", json_deep_copy(claimSpec))) {
            json_decref(object);
            object = NULL;
        }
        if (!clusterAppend(objects, object, err))
            return false;
    }
    return true;
}

static json_t *repoHostPodSpec(const Backup *b)
{
    const json_t *repoHost = json_object_get(b->spec, "repoHost");
    char logDir[BACKUP_NAME_SIZE], logPath[BACKUP_NAME_SIZE];
    snprintf(logDir, sizeof(logDir), "mkdir -p " BACKUP_REPO_MOUNT "/%s/log", b->firstVolume);
    snprintf(logPath, sizeof(logPath), BACKUP_REPO_MOUNT "/%s", b->firstVolume);
    json_t *init = container(b, "pgbackrest-log-dir", json_pack("[s, s, s]", "bash", "-ceu", logDir),
                             json_object_get(repoHost, "resources"));
    if (!clusterPut(init, "volumeMounts", json_pack("[o]", mount(b->firstVolume, logPath, false)))) {
        json_decref(init);
        init = NULL;
    }
    json_t *repoMountList = json_array();
    json_t *containers = json_array();
    bool ok = repoMounts(b, repoMountList) && containers != NULL &&
              serverContainers(b, containers, json_pack("[s, s]", "pgbackrest", "server"), json_incref(repoMountList),
                               json_object_get(repoHost, "resources"));
    json_decref(repoMountList);
    static const char *const items[] = {BACKUP_KEY_REPO, BACKUP_KEY_REPO, BACKUP_KEY_SERVER, BACKUP_SERVER_CONF, NULL};
    json_t *volumes = json_pack("[o, o]", configVolume(b, items, 1),
                                serverVolume(b->secret, "pgbackrest-repo-host.crt", "pgbackrest-repo-host.key"));
    ok = ok && repoVolumes(b, volumes) &&
         clusterPush(volumes, json_pack("{s:s, s:{s:s}}", "name", "tmp", "emptyDir", "sizeLimit", "16Mi"));
    json_t *pod = json_pack("{s:b, s:b, s:s, s:b}", "automountServiceAccountToken", 0, "enableServiceLinks", 0,
                            "serviceAccountName", b->serviceAccount, "shareProcessNamespace", 1);
    json_t *topology = NULL;
    ok = clusterPut(pod, "containers", ok ? json_incref(containers) : NULL) && ok &&
         clusterPut(pod, "initContainers", json_pack("[O]", init)) &&
         clusterPut(pod, "volumes", json_incref(volumes)) &&
         clusterPut(pod, "securityContext", podSecurityContext(b)) &&
         clusterPutCopy(pod, "affinity", json_object_get(repoHost, "affinity")) &&
         clusterPutCopy(pod, "tolerations", json_object_get(repoHost, "tolerations")) &&
         clusterPutCopy(pod, "priorityClassName", json_object_get(repoHost, "priorityClassName")) &&
         clusterPutCopy(pod, "imagePullSecrets", json_object_get(clusterSpec(b->model), "imagePullSecrets")) &&
         clusterTopologySpread(b->model, json_object_get(repoHost, "topologySpreadConstraints"), &topology) &&
         (topology == NULL || clusterPut(pod, "topologySpreadConstraints", topology));
    json_decref(init);
    json_decref(containers);
    json_decref(volumes);
    if (ok)
        return pod;
    json_decref(pod);
    return NULL;
}

static bool buildRepoHost(const Backup *b, json_t *objects, Err *err)
{
    static const char *const labels[] = {PGBACKREST_LABEL, "",  PGBACKREST_LABEL_DEDICATED, "", CLUSTER_LABEL_DATA,
                                         "pgbackrest",     NULL};
    json_t *selector = json_pack("{s:s, s:s, s:s}", CLUSTER_LABEL_CLUSTER, b->model->name, PGBACKREST_LABEL, "",
                                 PGBACKREST_LABEL_DEDICATED, "");
    json_t *template = json_pack("{s:o, s:o}", "metadata", backupPodMetadata(b, backupLabels(b, labels), NULL), "spec",
                                 repoHostPodSpec(b));
    json_t *spec =
        selector != NULL && template != NULL
            ? json_pack("{s:s, s:i, s:{s:O}, s:s, s:O, s:{s:s}}", "podManagementPolicy", "Parallel", "replicas",
                        b->model->power.shutdown ? 0 : 1, "selector", "matchLabels", selector, "serviceName",
                        b->service, "template", template, "updateStrategy", "type", "RollingUpdate")
            : NULL;
    json_decref(selector);
    json_decref(template);
    json_t *object = backupObject(b, "apps/v1", "StatefulSet", b->repoHost, backupLabels(b, labels));
    if (!clusterPut(object, "spec", spec)) {
        json_decref(object);
        object = NULL;
    }
    return clusterAppend(objects, object, err);
}

/* ---- Jobs ---- */

/* spec.backups.pgbackrest.jobs.affinity with a required pod affinity to the repository host's node added. */
static json_t *jobAffinity(const Backup *b, const json_t *jobs)
{
    const json_t *user = json_object_get(jobs, "affinity");
    json_t *affinity = json_is_object(user) ? json_deep_copy(user) : json_object();
    json_t *podAffinity = json_object_get(affinity, "podAffinity");
    if (affinity != NULL && !json_is_object(podAffinity)) {
        podAffinity = json_object();
        if (!clusterPut(affinity, "podAffinity", podAffinity))
            podAffinity = NULL;
    }
    json_t *required = json_object_get(podAffinity, "requiredDuringSchedulingIgnoredDuringExecution");
    if (podAffinity != NULL && !json_is_array(required)) {
        required = json_array();
        if (!clusterPut(podAffinity, "requiredDuringSchedulingIgnoredDuringExecution", required))
            required = NULL;
    }
    if (required != NULL &&
        clusterPush(required,
                    json_pack("{s:{s:{s:s, s:s}}, s:s}", "labelSelector", "matchLabels", CLUSTER_LABEL_CLUSTER,
                              b->model->name, PGBACKREST_LABEL_DEDICATED, "", "topologyKey", "kubernetes.io/hostname")))
        return affinity;
    json_decref(affinity);
    return NULL;
}

json_t *backupJob(const Backup *b, const char *name, json_t *labels, json_t *annotations, json_t *command)
{
    const json_t *jobs = json_object_get(b->spec, "jobs");
    static const char *const repoItems[] = {BACKUP_KEY_REPO, BACKUP_KEY_REPO, NULL};
    static const char *const cloudItems[] = {BACKUP_KEY_CLOUD, BACKUP_KEY_CLOUD, NULL};
    json_t *main = container(b, "pgbackrest", command, json_object_get(jobs, "resources"));
    json_t *mounts = json_pack("[o]", mount("pgbackrest-config", PGBACKREST_CONFIG_DIR, true));
    bool ok = repoMounts(b, mounts) && clusterPush(mounts, mount("tmp", "/tmp", false));
    ok = clusterPut(main, "volumeMounts", ok ? json_incref(mounts) : NULL) && ok;
    json_decref(mounts);
    json_t *volumes = json_pack("[o]", configVolume(b, b->firstVolume != NULL ? repoItems : cloudItems, 1));
    ok = ok && repoVolumes(b, volumes) &&
         clusterPush(volumes, json_pack("{s:s, s:{s:s}}", "name", "tmp", "emptyDir", "sizeLimit", "16Mi"));
    json_t *pod = json_pack("{s:b, s:b, s:s, s:s}", "automountServiceAccountToken", 0, "enableServiceLinks", 0,
                            "restartPolicy", "Never", "serviceAccountName", b->serviceAccount);
    ok = clusterPut(pod, "containers", ok ? json_pack("[O]", main) : NULL) && ok &&
         clusterPut(pod, "volumes", json_incref(volumes)) &&
         clusterPut(pod, "securityContext", podSecurityContext(b)) &&
         (b->firstVolume != NULL ? clusterPut(pod, "affinity", jobAffinity(b, jobs))
                                 : clusterPutCopy(pod, "affinity", json_object_get(jobs, "affinity"))) &&
         clusterPutCopy(pod, "tolerations", json_object_get(jobs, "tolerations")) &&
         clusterPutCopy(pod, "priorityClassName", json_object_get(jobs, "priorityClassName")) &&
         clusterPutCopy(pod, "imagePullSecrets", json_object_get(clusterSpec(b->model), "imagePullSecrets"));
    json_decref(main);
    json_decref(volumes);
    json_t *metadata = labels != NULL ? backupPodMetadata(b, json_incref(labels), annotations) : NULL;
    json_t *spec =
        ok && metadata != NULL ? json_pack("{s:{s:O, s:O}}", "template", "metadata", metadata, "spec", pod) : NULL;
    json_decref(metadata);
    json_decref(pod);
    ok = spec != NULL &&
         clusterPutCopy(spec, "ttlSecondsAfterFinished", json_object_get(jobs, "ttlSecondsAfterFinished"));
    json_t *job = ok ? backupObject(b, "batch/v1", "Job", name, json_incref(labels)) : NULL;
    if (job != NULL && json_object_size(annotations) > 0) {
        json_t *jobMetadata = json_object_get(job, "metadata");
        if ((json_object_get(jobMetadata, "annotations") == NULL &&
             !clusterPut(jobMetadata, "annotations", json_object())) ||
            !clusterMergeCopy(json_object_get(jobMetadata, "annotations"), annotations)) {
            json_decref(job);
            job = NULL;
        }
    }
    json_decref(labels);
    json_decref(annotations);
    if (clusterPut(job, "spec", spec))
        return job;
    json_decref(job);
    return NULL;
}

bool backupAppendJob(const Backup *b, json_t *objects, json_t *job, bool create, Err *err)
{
    if (job == NULL)
        return errSet(err, errOutOfMemory, "out of memory building a pgBackRest Job");
    const json_t *cached =
        backupLookup(b->model, "Job", json_string_value(json_object_get(json_object_get(job, "metadata"), "name")));
    if ((cached == NULL && !create) || (cached != NULL && clusterApplyNeeded(job, cached))) {
        json_decref(job);
        return true;
    }
    return clusterAppend(objects, job, err);
}

static bool buildStanzaJob(const Backup *b, json_t *objects, Err *err)
{
    bool created = true;
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        created = created && backupStanzaCreated(b, backupStringAt(repo, "name"));
    }
    bool create = !created && b->jobsReady && b->primary != NULL;
    if (!create && backupLookup(b->model, "Job", b->stanzaJob) == NULL)
        return true;
    static const char *const labels[] = {PGBACKREST_LABEL, "", PGBACKREST_LABEL_STANZA, "", NULL};
    json_t *command = json_pack("[s, s, s, s]", "bash", "-ceu", "--",
                                "pgbackrest stanza-create --stanza=" BACKUP_STANZA
                                " || pgbackrest stanza-upgrade --stanza=" BACKUP_STANZA);
    return backupAppendJob(b, objects, backupJob(b, b->stanzaJob, backupLabels(b, labels), NULL, command), create, err);
}

/* ["pgbackrest", "backup", "--stanza=db", "--repo=<n>", options...]; with startFast also "--start-fast", so the
 * backup starts with an immediate checkpoint instead of waiting for the next one (up to checkpoint_timeout on an
 * idle cluster). */
json_t *backupCommand(const char *repo, bool startFast, const json_t *options)
{
    char repoOption[32];
    snprintf(repoOption, sizeof(repoOption), "--repo=%d", backupRepoNumber(repo));
    json_t *command = json_pack("[s, s, s, s]", "pgbackrest", "backup", "--stanza=" BACKUP_STANZA, repoOption);
    if (command != NULL && startFast && !clusterPush(command, json_string("--start-fast"))) {
        json_decref(command);
        command = NULL;
    }
    size_t optionIdx;
    const json_t *value;
    json_array_foreach(options, optionIdx, value)
    {
        if (command != NULL && json_is_string(value) && !clusterPush(command, json_copy((json_t *)(uintptr_t)value))) {
            json_decref(command);
            command = NULL;
        }
    }
    return command;
}

static bool buildReplicaCreateJob(const Backup *b, json_t *objects, Err *err)
{
    const char *repo = backupStringAt(json_array_get(b->repos, 0), "name");
    if (repo == NULL)
        return true;
    bool create = !backupReplicaCreated(b) && backupStanzaCreated(b, repo) && b->jobsReady && b->primary != NULL;
    if (!create && backupLookup(b->model, "Job", b->replicaJob) == NULL)
        return true;
    const char *labels[] = {
        PGBACKREST_LABEL, "", PGBACKREST_LABEL_BACKUP, "replica-create", PGBACKREST_LABEL_REPO, repo, NULL};
    return backupAppendJob(b, objects,
                           backupJob(b, b->replicaJob, backupLabels(b, labels), NULL, backupCommand(repo, true, NULL)),
                           create, err);
}

/* The id of the manual backup the cluster's annotation asks for, or NULL. */
static const char *manualId(const ClusterModel *model)
{
    const json_t *annotations = json_object_get(json_object_get(model->cluster, "metadata"), "annotations");
    const char *id = backupStringAt(annotations, PGBACKREST_ANNOTATION);
    return id != NULL && id[0] != '\0' ? id : NULL;
}

/* Whether options (spec.backups.pgbackrest.manual.options) name a repository, which PGO refuses. */
static bool optionsNameRepo(const json_t *options)
{
    size_t optionIdx;
    const json_t *value;
    json_array_foreach(options, optionIdx, value)
    {
        const char *text = json_string_value(value);
        if (text != NULL && strstr(text, "--repo") != NULL)
            return true;
    }
    return false;
}

static bool buildManualJob(const Backup *b, json_t *objects, Err *err)
{
    const char *id = manualId(b->model);
    const json_t *manual = json_object_get(b->spec, "manual");
    const char *repo = backupStringAt(manual, "repoName");
    const json_t *options = json_object_get(manual, "options");
    if (id == NULL || repo == NULL || backupRepoNamed(b, repo) == NULL || backupRepoNumber(repo) == 0 ||
        optionsNameRepo(options))
        return true;
    char name[BACKUP_NAME_SIZE];
    manualJobName(b->model, id, name);
    const json_t *previous =
        json_object_get(json_object_get(json_object_get(b->model->cluster, "status"), "pgbackrest"), "manualBackup");
    const char *previousId = backupStringAt(previous, "id");
    bool done =
        previousId != NULL && strcmp(previousId, id) == 0 && json_is_true(json_object_get(previous, "finished"));
    bool create =
        !done && backupReplicaCreated(b) && backupStanzaCreated(b, repo) && b->jobsReady && b->primary != NULL;
    if (!create && backupLookup(b->model, "Job", name) == NULL)
        return true;
    const char *labels[] = {PGBACKREST_LABEL, "", PGBACKREST_LABEL_BACKUP, "manual", PGBACKREST_LABEL_REPO, repo, NULL};
    json_t *annotations = json_pack("{s:s}", PGBACKREST_ANNOTATION, id);
    json_t *job = annotations != NULL
                      ? backupJob(b, name, backupLabels(b, labels), annotations, backupCommand(repo, false, options))
                      : NULL;
    return backupAppendJob(b, objects, job, create, err);
}

/* ---- the builders ---- */

static bool backupBuild(MemCtx *ctx, const Backup *b, json_t *objects, Err *err)
{
    if (!buildConfigMap(ctx, b, objects, err))
        return false;
    if (json_array_size(b->repos) == 0)
        return true;
    if (!buildSecret(ctx, b, objects, err) || !buildServiceAccount(b, objects, err))
        return false;
    if (b->firstVolume != NULL && (!buildRepoClaims(b, objects, err) || !buildRepoHost(b, objects, err)))
        return false;
    return buildStanzaJob(b, objects, err) && buildReplicaCreateJob(b, objects, err) &&
           buildManualJob(b, objects, err) && backupBuildSchedules(b, objects, err);
}

bool clusterBuildPgBackRest(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    Backup b;
    if (!backupInit(model, &b))
        return true;
    if (b.image == NULL)
        return errSet(err, errInvalidArgument,
                      "no image for pgBackRest: set spec.backups.pgbackrest.image, spec.image or "
                      "RELATED_IMAGE_POSTGRES_%lld",
                      (long long)model->postgresVersion);
    for (size_t repoIdx = 0; repoIdx < json_array_size(b.repos); repoIdx++)
        if (backupRepoNumber(backupStringAt(json_array_get(b.repos, repoIdx), "name")) == 0)
            return errSet(err, errInvalidArgument,
                          "spec.backups.pgbackrest.repos[%zu].name: must be repo1, repo2, repo3 or repo4", repoIdx);
    MemCtx *scratch = memCtxNew(ctx, "pgbackrest");
    if (scratch == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate pgBackRest's context");
    bool ok = backupBuild(scratch, &b, objects, err);
    memCtxFree(scratch);
    return ok;
}

/* The container named name in containers, or NULL. */
static json_t *containerNamed(json_t *containers, const char *name)
{
    size_t containerIdx;
    json_t *item;
    json_array_foreach(containers, containerIdx, item)
    {
        const char *itemName = backupStringAt(item, "name");
        if (itemName != NULL && strcmp(itemName, name) == 0)
            return item;
    }
    return NULL;
}

/* The array podSpec[key], created when missing. */
static json_t *arrayAt(json_t *podSpec, const char *key)
{
    json_t *array = json_object_get(podSpec, key);
    if (json_is_array(array))
        return array;
    array = json_array();
    return clusterPut(podSpec, key, array) ? array : NULL;
}

bool clusterPgBackRestInstancePod(MemCtx *ctx, const ClusterModel *model, const char *instance, json_t *podSpec,
                                  Err *err)
{
    (void)ctx;
    Backup b;
    if (!backupInit(model, &b))
        return true;
    json_t *containers = arrayAt(podSpec, "containers");
    json_t *volumes = arrayAt(podSpec, "volumes");
    json_t *database = containerNamed(containers, "database");
    json_t *databaseMounts = json_object_get(database, "volumeMounts");
    if (database == NULL || !json_is_array(databaseMounts))
        return errSet(err, errInvalidArgument, "instance %s: the pod has no database container for pgBackRest",
                      instance);
    bool server = json_array_size(b.repos) > 0;
    static const char *const withServer[] = {BACKUP_KEY_INSTANCE, BACKUP_KEY_INSTANCE, BACKUP_KEY_SERVER,
                                             BACKUP_SERVER_CONF, NULL};
    static const char *const alone[] = {BACKUP_KEY_INSTANCE, BACKUP_KEY_INSTANCE, NULL};
    bool ok = volumes != NULL && clusterPush(databaseMounts, mount("pgbackrest-config", PGBACKREST_CONFIG_DIR, true)) &&
              clusterPush(volumes, configVolume(&b, server ? withServer : alone, server ? 2 : 0));
    if (ok && server) {
        /* The server reads the instance's data (and WAL) where the database container has them. */
        json_t *extra = json_array();
        size_t mountIdx;
        const json_t *item;
        json_array_foreach(databaseMounts, mountIdx, item)
        {
            const char *name = backupStringAt(item, "name");
            if (extra != NULL && name != NULL &&
                (strcmp(name, "postgres-data") == 0 || strcmp(name, "postgres-wal") == 0) &&
                !clusterPush(extra, json_deep_copy(item))) {
                json_decref(extra);
                extra = NULL;
            }
        }
        char certificates[BACKUP_NAME_SIZE];
        snprintf(certificates, sizeof(certificates), "%s-certs", instance);
        const json_t *sidecars = json_object_get(b.spec, "sidecars");
        ok = serverContainers(
                 &b, containers,
                 json_pack("[s, s, s, s, s]", "bash", "-ceu", "--", backupInstanceServerScript, "pgbackrest"), extra,
                 json_object_get(json_object_get(sidecars, "pgbackrest"), "resources")) &&
             clusterPush(volumes, serverVolume(certificates, "pgbackrest-server.crt", "pgbackrest-server.key"));
    }
    return ok || errSet(err, errOutOfMemory, "out of memory adding pgBackRest to instance %s", instance);
}

/* ---- status ---- */

/* status.pgbackrest.repos[] */
static json_t *statusRepos(const Backup *b)
{
    json_t *repos = json_array();
    size_t repoIdx;
    const json_t *repo;
    json_array_foreach(b->repos, repoIdx, repo)
    {
        const char *name = backupStringAt(repo, "name");
        if (repos == NULL || name == NULL)
            continue;
        json_t *entry = json_pack("{s:s, s:b}", "name", name, "stanzaCreated", backupStanzaCreated(b, name));
        bool ok = entry != NULL && (repoIdx != 0 || clusterPut(entry, "replicaCreateBackupComplete",
                                                               json_boolean(backupReplicaCreated(b))));
        if (ok && json_is_object(json_object_get(repo, "volume"))) {
            char claim[BACKUP_NAME_SIZE];
            snprintf(claim, sizeof(claim), "%s-%s", b->model->name, name);
            const json_t *pvc = backupLookup(b->model, "PersistentVolumeClaim", claim);
            const char *phase = backupStringAt(json_object_get(pvc, "status"), "phase");
            const char *volume = backupStringAt(json_object_get(pvc, "spec"), "volumeName");
            ok = clusterPut(entry, "bound", json_boolean(phase != NULL && strcmp(phase, "Bound") == 0)) &&
                 (volume == NULL || clusterPut(entry, "volume", json_string(volume)));
        }
        if (!ok || !clusterPush(repos, entry)) {
            if (!ok)
                json_decref(entry);
            json_decref(repos);
            repos = NULL;
        }
    }
    return repos;
}

/* status.pgbackrest.manualBackup for the annotation's id: from its Job, else as the current status has it; NULL
 * *out when there is none. */
static bool statusManual(const Backup *b, json_t **out, JobState *state)
{
    *out = NULL;
    *state = jobAbsent;
    const char *id = manualId(b->model);
    if (id == NULL)
        return true;
    char name[BACKUP_NAME_SIZE];
    manualJobName(b->model, id, name);
    const json_t *job = backupLookup(b->model, "Job", name);
    if (job == NULL) {
        const json_t *previous = json_object_get(
            json_object_get(json_object_get(b->model->cluster, "status"), "pgbackrest"), "manualBackup");
        const char *previousId = backupStringAt(previous, "id");
        if (previousId == NULL || strcmp(previousId, id) != 0)
            return true;
        *out = json_deep_copy(previous);
        if (json_is_true(json_object_get(previous, "finished")))
            *state = json_integer_value(json_object_get(previous, "succeeded")) > 0 ? jobSucceeded : jobFailed;
        return *out != NULL;
    }
    *state = backupJobState(job);
    const json_t *status = json_object_get(job, "status");
    *out = json_pack("{s:s, s:b, s:I, s:I, s:I}", "id", id, "finished", *state == jobSucceeded || *state == jobFailed,
                     "active", (json_int_t)json_integer_value(json_object_get(status, "active")), "succeeded",
                     (json_int_t)json_integer_value(json_object_get(status, "succeeded")), "failed",
                     (json_int_t)json_integer_value(json_object_get(status, "failed")));
    if (*out != NULL && clusterPutCopy(*out, "startTime", json_object_get(status, "startTime")) &&
        clusterPutCopy(*out, "completionTime", json_object_get(status, "completionTime")))
        return true;
    json_decref(*out);
    *out = NULL;
    return false;
}

json_t *clusterPgBackRestStatus(const ClusterModel *model, const json_t *scheduledJobs)
{
    Backup b;
    json_t *conditions = json_array();
    json_t *result = json_pack("{s:O}", "conditions", conditions);
    if (result == NULL || !backupInit(model, &b)) {
        json_decref(conditions);
        return result;
    }
    const char *first = backupStringAt(json_array_get(b.repos, 0), "name");
    bool stanza = first != NULL && backupStanzaCreated(&b, first);
    bool replica = first != NULL && backupReplicaCreated(&b);
    json_t *manual;
    JobState manualState;
    json_t *pgbackrest = json_pack("{s:o}", "repos", statusRepos(&b));
    bool ok = pgbackrest != NULL && statusManual(&b, &manual, &manualState) &&
              (manual == NULL || clusterPut(pgbackrest, "manualBackup", manual)) &&
              (json_array_size(scheduledJobs) == 0 ||
               clusterPut(pgbackrest, "scheduledBackups", backupScheduledStatus(scheduledJobs)));
    if (ok && b.firstVolume != NULL)
        ok = clusterPut(pgbackrest, "repoHost",
                        json_pack("{s:s, s:s, s:b}", "apiVersion", "apps/v1", "kind", "StatefulSet", "ready",
                                  b.repoHostReady)) &&
             clusterPush(conditions, b.repoHostReady
                                         ? clusterCondition(model, "PGBackRestRepoHostReady", true, "RepoHostReady",
                                                            "pgBackRest dedicated repository host is ready")
                                         : clusterCondition(model, "PGBackRestRepoHostReady", false, "RepoHostNotReady",
                                                            "pgBackRest dedicated repository host is not ready"));
    ok = ok &&
         clusterPush(conditions, stanza
                                     ? clusterCondition(model, "PGBackRestReplicaRepoReady", true, "StanzaCreated",
                                                        "pgBackRest replica create repo is ready for backups")
                                     : clusterCondition(model, "PGBackRestReplicaRepoReady", false, "StanzaNotCreated",
                                                        "pgBackRest replica create repo is not ready for backups")) &&
         clusterPush(conditions,
                     replica ? clusterCondition(model, "PGBackRestReplicaCreate", true, "RepoBackupComplete",
                                                "pgBackRest replica creation is now possible")
                             : clusterCondition(model, "PGBackRestReplicaCreate", false, "RepoBackupNotComplete",
                                                "pgBackRest replica creation is not currently possible"));
    if (ok && manualState == jobSucceeded)
        ok = clusterPush(conditions, clusterCondition(model, "PGBackRestManualBackupSuccessful", true,
                                                      "ManualBackupComplete", "Manual backup completed successfully"));
    if (ok && manualState == jobFailed)
        ok = clusterPush(conditions,
                         clusterCondition(model, "PGBackRestManualBackupSuccessful", false, "ManualBackupFailed",
                                          "Manual backup did not complete successfully"));
    json_decref(conditions);
    if (ok && clusterPut(result, "pgbackrest", pgbackrest))
        return result;
    if (!ok)
        json_decref(pgbackrest);
    json_decref(result);
    return NULL;
}

bool clusterPgBackRestJobObsolete(const ClusterModel *model, const json_t *job)
{
    const json_t *metadata = json_object_get(job, "metadata");
    const json_t *labels = json_object_get(metadata, "labels");
    const char *name = backupStringAt(metadata, "name");
    if (name == NULL || json_object_get(labels, PGBACKREST_LABEL) == NULL ||
        json_object_get(labels, PGBACKREST_LABEL_RESTORE) != NULL) /* the restore Job is restore.c's */
        return false;
    JobState state = backupJobState(job);
    bool finished = state == jobSucceeded || state == jobFailed;
    Backup b;
    if (!backupInit(model, &b))
        return finished;
    const char *kind = backupStringAt(labels, PGBACKREST_LABEL_BACKUP);
    if (json_object_get(labels, PGBACKREST_LABEL_STANZA) != NULL)
        return state == jobFailed || (finished && strcmp(name, b.stanzaJob) != 0);
    if (kind != NULL && strcmp(kind, "replica-create") == 0)
        return state == jobFailed || (finished && strcmp(name, b.replicaJob) != 0);
    if (kind != NULL && strcmp(kind, "manual") == 0) {
        const char *id = manualId(model);
        const char *jobId = backupStringAt(json_object_get(metadata, "annotations"), PGBACKREST_ANNOTATION);
        return finished && (id == NULL || jobId == NULL || strcmp(id, jobId) != 0);
    }
    return false;
}
