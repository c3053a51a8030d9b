/* The restore Job (see restore.h).
 *
 * How the Job reaches the repository. The backup is in a volume repository, a ReadWriteOnce PVC mounted by the
 * source cluster's repository host, <source>-repo-host-0, whose `pgbackrest server` serves it over TLS to clients
 * that present a certificate named pgbackrest@<source UID> from the namespace's root CA. The Job is such a client:
 * it mounts the source's own instance configuration (ConfigMap <source>-pgbackrest-config, key
 * pgbackrest_instance.conf, with repoN-host, the CA and the client certificate files) and the source's client
 * certificate (Secret <source>-pgbackrest), exactly as the source's instances see them, as PGO's restore Job does.
 * So `pgbackrest restore` and, while Postgres recovers, `pgbackrest archive-get` fetch files from the repository host
 * as an instance's archive-get does. Mounting the repository volume in the Job instead was rejected: the Job must
 * also mount the startup instance's volume, and with the repository's ReadWriteOnce volume both pins it to the
 * repository host's node, which a clone's new volume then follows and an in-place restore's existing volume (bound
 * to the instance's node) may not be able to; reading a repository beside the server that writes it (the source
 * keeps archiving and may be backing up) would also bypass the server's locks. The only cost of TLS is that the
 * source's repository host must be running and ready, which the reconciler waits for. An in-place restore is the
 * same with the cluster as its own source.
 *
 * The Job's pod is an instance's as far as data goes: the postgres image, ServiceAccount <cluster>-instance without
 * its token, fsGroup 26 (unless OpenShift), the restricted security context, and the startup instance's data (and
 * WAL) volume at /pgdata (/pgwal). Its script, run as: bash -ceu -- <script> pgbackrest-restore <pgdata> <options>:
 *   1. data restored by an earlier Job that Patroni never moved into place is taken back to be restored over;
 *   2. `pgbackrest restore` with the options as shell words, as PGO runs them (so a user's
 *      --target="2024-01-01 12:00:00+00" keeps its quotes' meaning; the options are the spec writer's, and the Job
 *      has no more rights than the instance it restores, so a word of theirs gains nothing). The operator adds
 *      --stanza=db, --pg1-path, --repo=<n>, --delta (unless given), --target-action=promote with a --target, and
 *      --link-map=pg_wal=<the set's WAL directory>; options that set any of those are refused, as PGO refuses them;
 *   3. Postgres recovers to the target in the pod with a configuration of its own (the restored one names the
 *      certificates and libraries of an instance's pod): the settings a hot standby needs at least at the values the
 *      control file records, a socket in /tmp, no TCP, trust on that socket, and archive_mode on with an empty
 *      archive_command, so that the segments and the history file of the new timeline wait (.ready) for the
 *      instance's archiver, which pushes them to the repository once Patroni runs;
 *   4. once it is out of recovery (promoted at the target, or at the end of the archive without one) it is stopped,
 *      and the data directory renamed to <pgdata>_bootstrap. Patroni's bootstrap method "existing" renames it back
 *      (patroni/config.c), removes the recovery settings pgBackRest left in postgresql.auto.conf, and initialises
 *      the cluster in Kubernetes from it.
 * Postgres' messages go to the Job's log with pgBackRest's, so a failure (no backup, a target beyond the archive)
 * is read there. backoffLimit is 0: a restore fails again for the same reason (a bad target, no backup), and each
 * attempt could take long; a new attempt is the user's (a new annotation id, or deleting a clone's failed Job).
 *
 * Labels and annotations are PGO's: cluster, pgbackrest, pgbackrest-restore, startup-instance=<instance>; the
 * annotation pgbackrest-hash (FNV-1a of what is restored, from where), and for an in-place restore the request's
 * id under pgbackrest-restore, so that the reconciler tells the Job of one request from another's. */
#include "pgbackrest/restore.h"

#include "kube/apply.h"

#include "common/strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RESTORE_STANZA      "db"
#define RESTORE_CONFIG_DIR  "/etc/pgbackrest/conf.d"
#define RESTORE_TLS_DIR     "~postgres-operator"
#define RESTORE_FS_GROUP    26
#define RESTORE_KEY_MODE    0600
#define RESTORE_NAME_SIZE   320
#define RESTORE_TEXT_LIMIT  (64 * 1024)
#define RESTORE_DATA_MOUNT  "/pgdata"
#define RESTORE_WAL_MOUNT   "/pgwal"
#define RESTORE_INSTANCE_CF "pgbackrest_instance.conf"

static const char restoreScript[] =
    "declare -r pgdata=\"$1\" opts=\"$2\"\n"
    "export PGDATA=\"${pgdata}\" PGCTLTIMEOUT=31536000\n"
    "fail() { echo \"pgbackrest-restore: $*\" >&2; exit 1; }\n"
    "\n"
    "# Data an earlier restore left for Patroni, never moved into place, is restored over (--delta).\n"
    "if [[ -d \"${pgdata}_bootstrap\" && -e \"${pgdata}\" ]]; then\n"
    "  rm -rf \"${pgdata}_bootstrap\"\n"
    "elif [[ -d \"${pgdata}_bootstrap\" ]]; then\n"
    "  mv \"${pgdata}_bootstrap\" \"${pgdata}\"\n"
    "fi\n"
    "install -d -m 0700 \"${pgdata}\"\n"
    "mkdir -p " RESTORE_DATA_MOUNT "/pgbackrest/log\n"
    "rm -f \"${pgdata}/postmaster.pid\"\n"
    "echo \"pgbackrest-restore: pgbackrest restore ${opts}\"\n"
    "bash -c \"exec pgbackrest restore ${opts}\"\n"
    "rm -f \"${pgdata}/patroni.dynamic.json\"\n"
    "\n"
    "# Recovery to the target by a Postgres of this pod alone: the restored configuration is an instance pod's.\n"
    "control=$(LC_ALL=C pg_controldata \"${pgdata}\")\n"
    "setting() { sed -n \"s/^$1 setting: *//p\" <<< \"${control}\"; }\n"
    "cat > /tmp/postgres.restore.conf <<EOF\n"
    "archive_command = ''\n"
    "archive_mode = 'on'\n"
    "hba_file = '/tmp/pg_hba.restore.conf'\n"
    "hot_standby = 'on'\n"
    "listen_addresses = ''\n"
    "max_connections = '$(setting max_connections)'\n"
    "max_locks_per_transaction = '$(setting max_locks_per_xact)'\n"
    "max_prepared_transactions = '$(setting max_prepared_xacts)'\n"
    "max_wal_senders = '$(setting max_wal_senders)'\n"
    "max_worker_processes = '$(setting max_worker_processes)'\n"
    "unix_socket_directories = '/tmp'\n"
    "EOF\n"
    "echo 'local all all trust' > /tmp/pg_hba.restore.conf\n"
    "pg_ctl start --silent --wait --options='--config-file=/tmp/postgres.restore.conf'\n"
    "until [[ \"$(psql -XAtq -d postgres -c 'SELECT pg_is_in_recovery()' 2> /dev/null)\" == f ]]; do\n"
    "  pg_ctl status > /dev/null || fail \"PostgreSQL stopped before its recovery finished\"\n"
    "  psql -XAtq -d postgres -c 'SELECT pg_wal_replay_resume() WHERE pg_is_wal_replay_paused()' \\\n"
    "    > /dev/null 2>&1 || true\n"
    "  sleep 1\n"
    "done\n"
    "pg_ctl stop --silent --wait --mode=fast\n"
    "mv \"${pgdata}\" \"${pgdata}_bootstrap\"\n"
    "echo \"pgbackrest-restore: restored; Patroni starts from ${pgdata}_bootstrap\"\n";

void clusterRestoreJobName(const char *cluster, char *out, size_t size)
{
    snprintf(out, size, "%s-pgbackrest-restore", cluster);
}

const char *clusterRestoreOptionsRefused(const json_t *options)
{
    static const char *const refused[] = {"--repo", "--stanza", "--pg1-path", "--target-action", "--link-map"};
    size_t optionIdx;
    const json_t *value;
    json_array_foreach(options, optionIdx, value)
    {
        const char *text = json_string_value(value);
        for (size_t refusedIdx = 0; text != NULL && refusedIdx < sizeof(refused) / sizeof(refused[0]); refusedIdx++)
            if (strstr(text, refused[refusedIdx]) != NULL)
                return text;
    }
    return NULL;
}

/* Whether some option contains text. */
static bool optionsContain(const json_t *options, const char *text)
{
    size_t optionIdx;
    const json_t *value;
    json_array_foreach(options, optionIdx, value)
    {
        const char *option = json_string_value(value);
        if (option != NULL && strstr(option, text) != NULL)
            return true;
    }
    return false;
}

/* The repository's number: "repo1" gives 1; 0 for anything else. */
static int repoNumber(const char *name)
{
    if (name == NULL || strncmp(name, "repo", 4) != 0 || name[4] < '1' || name[4] > '9' || name[5] != '\0')
        return 0;
    return name[4] - '0';
}

/* The options string the script passes to pgbackrest restore, in ctx; NULL when out of memory. */
static const char *restoreOptions(MemCtx *ctx, const ClusterModel *model, const char *walDir, Err *err)
{
    const ClusterRestore *restore = model->restore;
    StrBuf text;
    strBufInit(&text, ctx, RESTORE_TEXT_LIMIT);
    bool ok = strBufPrintf(&text, err, "--stanza=" RESTORE_STANZA " --pg1-path=" RESTORE_DATA_MOUNT "/pg%lld --repo=%d",
                           (long long)model->postgresVersion, repoNumber(restore->repoName));
    if (ok && !optionsContain(restore->options, "--delta") && !optionsContain(restore->options, "--force"))
        ok = strBufAppendStr(&text, " --delta", err);
    if (ok && optionsContain(restore->options, "--target"))
        ok = strBufAppendStr(&text, " --target-action=promote", err);
    ok = ok && strBufPrintf(&text, err, " --link-map=pg_wal=%s", walDir);
    size_t optionIdx;
    const json_t *value;
    json_array_foreach(restore->options, optionIdx, value)
    {
        const char *option = json_string_value(value);
        if (ok && option != NULL && option[0] != '\0')
            ok = strBufPrintf(&text, err, " %s", option);
    }
    return ok ? strBufStr(&text) : NULL;
}

/* FNV-1a (32 bits) of what is restored and from where, as 8 hexadecimal digits. */
static void restoreHash(const ClusterRestore *restore, const char *options, char out[9])
{
    const char *parts[] = {restore->sourceCluster, "/", restore->repoName, "/", options};
    uint32_t hash = 2166136261u;
    for (size_t partIdx = 0; partIdx < sizeof(parts) / sizeof(parts[0]); partIdx++)
        for (const char *c = parts[partIdx] != NULL ? parts[partIdx] : ""; *c != '\0'; c++) {
            hash ^= (uint8_t)*c;
            hash *= 16777619u;
        }
    snprintf(out, 9, "%08x", hash);
}

static json_t *mount(const char *volume, const char *path, bool readOnly)
{
    return readOnly ? json_pack("{s:s, s:s, s:b}", "name", volume, "mountPath", path, "readOnly", 1)
                    : json_pack("{s:s, s:s}", "name", volume, "mountPath", path);
}

/* Volume pgbackrest-config: the source's configuration projections, its instance configuration and its client
 * certificate, as the source's instances have them. */
static json_t *configVolume(const ClusterRestore *restore)
{
    char configMap[RESTORE_NAME_SIZE], secret[RESTORE_NAME_SIZE];
    snprintf(configMap, sizeof(configMap), "%s-pgbackrest-config", restore->sourceCluster);
    snprintf(secret, sizeof(secret), "%s-pgbackrest", restore->sourceCluster);
    json_t *sources = json_is_array(restore->configuration) ? json_deep_copy(restore->configuration) : json_array();
    bool ok = clusterPush(sources, json_pack("{s:{s:s, s:[{s:s, s:s}]}}", "configMap", "name", configMap, "items",
                                             "key", RESTORE_INSTANCE_CF, "path", RESTORE_INSTANCE_CF)) &&
              clusterPush(sources, json_pack("{s:{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:i}]}}", "secret", "name",
                                             secret, "items", "key", "pgbackrest.ca-roots", "path",
                                             RESTORE_TLS_DIR "/tls-ca.crt", "key", "pgbackrest-client.crt", "path",
                                             RESTORE_TLS_DIR "/client-tls.crt", "key", "pgbackrest-client.key", "path",
                                             RESTORE_TLS_DIR "/client-tls.key", "mode", RESTORE_KEY_MODE));
    json_t *volume =
        ok ? json_pack("{s:s, s:{s:O}}", "name", "pgbackrest-config", "projected", "sources", sources) : NULL;
    json_decref(sources);
    return volume;
}

/* fsGroup 26 unless OpenShift, non-root, the runtime's seccomp profile: an instance pod's. */
static json_t *podSecurityContext(const ClusterModel *model)
{
    json_t *context = json_pack("{s:s, s:b, s:{s:s}}", "fsGroupChangePolicy", "OnRootMismatch", "runAsNonRoot", 1,
                                "seccompProfile", "type", "RuntimeDefault");
    const json_t *spec = json_object_get(model->cluster, "spec");
    if (json_is_true(json_object_get(spec, "openshift")) ||
        clusterPut(context, "fsGroup", json_integer(RESTORE_FS_GROUP)))
        return context;
    json_decref(context);
    return NULL;
}

/* The Job's pod spec. */
static json_t *restorePodSpec(MemCtx *ctx, const ClusterModel *model, const ClusterInstanceSet *set,
                              const char *options, Err *err)
{
    const ClusterRestore *restore = model->restore;
    const json_t *spec = json_object_get(model->cluster, "spec");
    bool walVolume = json_is_object(json_object_get(set->spec, "walVolumeClaimSpec"));
    char *pgdata = memCtxPrintf(ctx, RESTORE_DATA_MOUNT "/pg%lld", (long long)model->postgresVersion);
    char *dataClaim = memCtxPrintf(ctx, "%s-pgdata", restore->startupInstance);
    char *walClaim = memCtxPrintf(ctx, "%s-pgwal", restore->startupInstance);
    char *serviceAccount = memCtxPrintf(ctx, "%s-instance", model->name);
    if (pgdata == NULL || dataClaim == NULL || walClaim == NULL || serviceAccount == NULL) {
        errSet(err, errOutOfMemory, "out of memory building the restore Job");
        return NULL;
    }
    json_t *mounts = json_pack("[o, o, o]", mount("postgres-data", RESTORE_DATA_MOUNT, false),
                               mount("pgbackrest-config", RESTORE_CONFIG_DIR, true), mount("tmp", "/tmp", false));
    json_t *volumes =
        json_pack("[{s:s, s:{s:s}}, o, {s:s, s:{s:s}}]", "name", "postgres-data", "persistentVolumeClaim", "claimName",
                  dataClaim, configVolume(restore), "name", "tmp", "emptyDir", "sizeLimit", "16Mi");
    bool ok = mounts != NULL && volumes != NULL;
    if (ok && walVolume)
        ok = clusterPush(mounts, mount("postgres-wal", RESTORE_WAL_MOUNT, false)) &&
             clusterPush(volumes, json_pack("{s:s, s:{s:s}}", "name", "postgres-wal", "persistentVolumeClaim",
                                            "claimName", walClaim));
    json_t *container = json_pack("{s:s, s:s, s:[s, s, s, s, s, s, s], s:[{s:s, s:s}]}", "name", "pgbackrest-restore",
                                  "image", model->image, "command", "bash", "-ceu", "--", restoreScript,
                                  "pgbackrest-restore", pgdata, options, "env", "name", "PGHOST", "value", "/tmp");
    ok = clusterPut(container, "volumeMounts", ok ? json_incref(mounts) : NULL) && ok &&
         clusterPutCopy(container, "imagePullPolicy", json_object_get(spec, "imagePullPolicy")) &&
         clusterPut(container, "securityContext", clusterRestrictedSecurityContext()) &&
         clusterPutCopy(container, "resources", json_object_get(restore->job, "resources"));
    json_t *pod = json_pack("{s:b, s:b, s:s, s:s}", "automountServiceAccountToken", 0, "enableServiceLinks", 0,
                            "restartPolicy", "Never", "serviceAccountName", serviceAccount);
    ok = clusterPut(pod, "containers", ok ? json_pack("[O]", container) : NULL) && ok &&
         clusterPut(pod, "volumes", json_incref(volumes)) &&
         clusterPut(pod, "securityContext", podSecurityContext(model)) &&
         clusterPutCopy(pod, "affinity", json_object_get(restore->job, "affinity")) &&
         clusterPutCopy(pod, "tolerations", json_object_get(restore->job, "tolerations")) &&
         clusterPutCopy(pod, "priorityClassName", json_object_get(restore->job, "priorityClassName")) &&
         clusterPutCopy(pod, "imagePullSecrets", json_object_get(spec, "imagePullSecrets"));
    json_decref(container);
    json_decref(mounts);
    json_decref(volumes);
    if (ok)
        return pod;
    json_decref(pod);
    errSet(err, errOutOfMemory, "out of memory building the restore Job");
    return NULL;
}

/* The Job's and its pod's labels: spec.metadata's, then PGO's. */
static json_t *restoreLabels(const ClusterModel *model)
{
    json_t *labels = json_object();
    const json_t *clusterMeta = json_object_get(json_object_get(model->cluster, "spec"), "metadata");
    if (clusterMergeCopy(labels, json_object_get(clusterMeta, "labels")) &&
        clusterPut(labels, CLUSTER_LABEL_CLUSTER, json_string(model->name)) &&
        clusterPut(labels, PGBACKREST_LABEL, json_string("")) &&
        clusterPut(labels, PGBACKREST_LABEL_RESTORE, json_string("")) &&
        clusterPut(labels, CLUSTER_LABEL_STARTUP_INSTANCE, json_string(model->restore->startupInstance)))
        return labels;
    json_decref(labels);
    return NULL;
}

static json_t *restoreJob(MemCtx *ctx, const ClusterModel *model, const char *name, Err *err)
{
    const ClusterRestore *restore = model->restore;
    const ClusterInstanceSet *set = clusterModelSetOf(model, restore->startupInstance);
    if (set == NULL) {
        errSet(err, errInvalidArgument, "the restore's startup instance %s belongs to no instance set",
               restore->startupInstance);
        return NULL;
    }
    const char *refused = clusterRestoreOptionsRefused(restore->options);
    if (refused != NULL) {
        errSet(err, errInvalidArgument,
               "restore option %s: --repo, --stanza, --pg1-path, --target-action and --link-map are set by the "
               "operator",
               refused);
        return NULL;
    }
    if (repoNumber(restore->repoName) == 0) {
        errSet(err, errInvalidArgument, "the restore's repository must be repo1, repo2, repo3 or repo4, not %s",
               restore->repoName != NULL ? restore->repoName : "(none)");
        return NULL;
    }
    bool walVolume = json_is_object(json_object_get(set->spec, "walVolumeClaimSpec"));
    char *walDir = memCtxPrintf(ctx, "%s/pg%lld_wal", walVolume ? RESTORE_WAL_MOUNT : RESTORE_DATA_MOUNT,
                                (long long)model->postgresVersion);
    const char *options = walDir != NULL ? restoreOptions(ctx, model, walDir, err) : NULL;
    if (options == NULL) {
        if (walDir == NULL)
            errSet(err, errOutOfMemory, "out of memory building the restore Job");
        return NULL;
    }
    char hash[9];
    restoreHash(restore, options, hash);
    json_t *annotations = json_pack("{s:s}", PGBACKREST_ANNOTATION_HASH, hash);
    if (annotations != NULL && restore->id != NULL &&
        !clusterPut(annotations, PGBACKREST_ANNOTATION_RESTORE, json_string(restore->id))) {
        json_decref(annotations);
        annotations = NULL;
    }
    json_t *podSpec = restorePodSpec(ctx, model, set, options, err);
    if (podSpec == NULL) {
        json_decref(annotations);
        return NULL;
    }
    const json_t *clusterMeta = json_object_get(json_object_get(model->cluster, "spec"), "metadata");
    json_t *podLabels = restoreLabels(model);
    json_t *podAnnotations = json_object();
    bool ok = annotations != NULL && podLabels != NULL && podAnnotations != NULL &&
              clusterMergeCopy(podAnnotations, json_object_get(clusterMeta, "annotations")) &&
              json_object_update(podAnnotations, annotations) == 0;
    json_t *jobSpec = ok ? json_pack("{s:i, s:{s:{s:O, s:O}, s:O}}", "backoffLimit", 0, "template", "metadata",
                                     "labels", podLabels, "annotations", podAnnotations, "spec", podSpec)
                         : NULL;
    json_decref(podLabels);
    json_decref(podAnnotations);
    json_decref(podSpec);
    json_t *job = jobSpec != NULL
                      ? clusterObjectAnnotated(model, "batch/v1", "Job", name, restoreLabels(model), annotations)
                      : NULL;
    json_decref(annotations);
    if (clusterPut(job, "spec", jobSpec))
        return job;
    json_decref(job);
    errSet(err, errOutOfMemory, "out of memory building the restore Job");
    return NULL;
}

bool clusterBuildPgBackRestRestore(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    if (model->restore == NULL)
        return true;
    char name[RESTORE_NAME_SIZE];
    clusterRestoreJobName(model->name, name, sizeof(name));
    const json_t *cached =
        model->lookup != NULL ? model->lookup(model->lookupArg, "Job", model->namespace, name) : NULL;
    if (cached == NULL && !model->restore->jobWanted)
        return true;
    MemCtx *scratch = memCtxNew(ctx, "restore");
    if (scratch == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate the restore's context");
    json_t *job = restoreJob(scratch, model, name, err);
    memCtxFree(scratch);
    if (job == NULL)
        return false;
    if (cached != NULL && clusterApplyNeeded(job, cached)) {
        json_decref(job);
        return true;
    }
    return clusterAppend(objects, job, err);
}
