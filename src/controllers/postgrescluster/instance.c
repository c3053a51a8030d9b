/* The instances (see builders.h): for each, PersistentVolumeClaim <instance>-pgdata, <instance>-pgwal when its set
 * has walVolumeClaimSpec, and StatefulSet <instance> of one pod, <instance>-0, laid out as PGO lays it out
 * (reference: test/e2e/patroni/instance.yaml).
 *
 * Why here and not in src/postgres: the instance pod is where the components meet (Postgres and Patroni in the
 * database container, pgBackRest's server and volumes beside it), and a component may use postgres/ but no other
 * component (hack/check-layers.sh). So the controller assembles the pod and asks each component for its part
 * (clusterPgBackRestInstancePod today); a contributor interface that every component fills the same way is the
 * next step, once PgBouncer and the exporter add their parts.
 *
 * The PVCs are made here rather than as volumeClaimTemplates so that the operator can resize, adopt and delete them
 * on its own; their spec is the set's claim spec without resources.limits (which PGO reads as the ceiling for
 * volume auto-grow, not as part of the claim).
 *
 * The pod:
 *   - init container postgres-startup: checks the image's PostgreSQL version, makes private copies of the
 *     replication client certificate in /tmp/replication, makes the data directory private (Postgres refuses one
 *     that others may write, and fsGroup can make it so), and moves the WAL to the set's WAL directory when a WAL
 *     volume was added or removed since the last start;
 *   - container database: Patroni (patroni /etc/patroni), configured by patroni.c's two files, its REST API
 *     certificate from <instance>-certs and the environment (PATRONI_*) for what only the pod knows; liveness and
 *     readiness probes on the REST API timed from Patroni's (period loop_wait, timeout loop_wait / 2, failure after
 *     ttl / loop_wait periods, so kubelet restarts a hung Patroni about when its leader lease would expire);
 *   - container replication-cert-copy: copies the replication certificate again when the Secrets change and
 *     reloads Postgres, which also reads the renewed server certificate, and reloads Patroni when its files change
 *     (a renewed REST API certificate);
 *   - with spec.backups.pgbackrest, pgbackrest.c's part (clusterPgBackRestInstancePod): conf.d in the database
 *     container, and with a repository host the pgBackRest TLS server and its reloader;
 *   - the set's own containers, after ours.
 * Every container runs with the restricted security context; the pod with fsGroup 26 (postgres in our images)
 * unless spec.openshift, shareProcessNamespace (the postmaster, reparented to the pause process, is what
 * replication-cert-copy signals) and no Service links. Scheduling is the set's (affinity, tolerations,
 * priorityClassName, topologySpreadConstraints) plus, unless spec.disableDefaultPodScheduling, PGO's default spread
 * of the cluster's data pods over nodes and zones.
 *
 * A WAL PVC that exists although the set no longer asks for one (model->lookup) stays mounted, so postgres-startup
 * can move the WAL back onto the data volume; the reconciler deletes it once that is done.
 *
 * Every StatefulSet has one replica, but during a restore (model->restore): none until the restored data is there,
 * then only the startup instance's until Patroni has initialised the cluster from it; until the data is there, the
 * other instances have no volumes either (an in-place restore deletes theirs). Shutting the cluster down comes
 * later. */
#include "controllers/postgrescluster/builders.h"

#include "pgbackrest/pgbackrest.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define INSTANCE_FS_GROUP     26
#define INSTANCE_CERT_MODE    0600
#define INSTANCE_PATRONI_DIR  "/etc/patroni"
#define INSTANCE_CERT_DIR     "/pgconf/tls"
#define INSTANCE_PATRONI_CERT INSTANCE_PATRONI_DIR "/~postgres-operator/patroni.crt+key"
#define INSTANCE_DATA_MOUNT   "/pgdata"
#define INSTANCE_WAL_MOUNT    "/pgwal"
#define INSTANCE_DEFAULT_NAME "kubectl.kubernetes.io/default-container"

/* postgres-startup, run as: bash -ceu -- <script> postgres-startup <major version> <WAL directory>. */
static const char instanceStartupScript[] =
    "declare -r version=\"$1\" waldir=\"$2\"\n"
    "fail() { echo \"postgres-startup: $*\" >&2; exit 1; }\n"
    "echo \"postgres-startup: uid=$(id -u) gid=$(id -g) groups=$(id -G)\"\n"
    "\n"
    "# The image must run the PostgreSQL major version of the cluster.\n"
    "found=$(postgres --version) || fail \"cannot run postgres\"\n"
    "[[ \"${found}\" =~ \") ${version}\"($|[^0-9]) ]] || fail \"the image has ${found}; the cluster runs PostgreSQL "
    "${version}\"\n"
    "\n"
    "# libpq refuses a client key that others may read, and fsGroup makes the projected one group-readable:\n"
    "# Patroni uses private copies (replication-cert-copy renews them).\n"
    "install -d -m 0700 /tmp/replication\n"
    "install -m 0600 -t /tmp/replication " INSTANCE_CERT_DIR "/replication/{tls.crt,tls.key,ca.crt}\n"
    "\n"
    "# Restored data waits in ${PGDATA}_bootstrap for Patroni's bootstrap (method existing), which renames it to\n"
    "# ${PGDATA}: that must not exist then.\n"
    "if [[ -d \"${PGDATA}_bootstrap\" ]]; then\n"
    "  [[ ! -d \"${PGDATA}\" ]] || rmdir \"${PGDATA}\" || fail \"both ${PGDATA} and ${PGDATA}_bootstrap hold data\"\n"
    "  mkdir -p " INSTANCE_DATA_MOUNT "/patroni/log\n"
    "  data_version=$(< \"${PGDATA}_bootstrap/PG_VERSION\")\n"
    "  [[ \"${data_version}\" == \"${version}\" ]] ||\n"
    "    fail \"${PGDATA}_bootstrap holds PostgreSQL ${data_version} data; the cluster runs ${version}\"\n"
    "  exit 0\n"
    "fi\n"
    "\n"
    "# Postgres refuses a data directory that others may write. Create it private, make ours private again, and\n"
    "# rebuild one of another user that fsGroup lets us write so that it becomes ours.\n"
    "if [[ ! -e \"${PGDATA}\" || -O \"${PGDATA}\" ]]; then\n"
    "  install -d -m 0700 \"${PGDATA}\"\n"
    "elif [[ -w \"${PGDATA}\" && -g \"${PGDATA}\" ]]; then\n"
    "  rebuilt=$(mktemp -d -p \"${PGDATA%/*}\")\n"
    "  (shopt -s dotglob nullglob; files=(\"${PGDATA}\"/*); ((${#files[@]} == 0)) || mv \"${files[@]}\" "
    "\"${rebuilt}\"/)\n"
    "  rmdir \"${PGDATA}\"\n"
    "  mv \"${rebuilt}\" \"${PGDATA}\"\n"
    "else\n"
    "  fail \"${PGDATA} belongs to uid $(stat -c %u \"${PGDATA}\"), which uid $(id -u) cannot take over\"\n"
    "fi\n"
    "mkdir -p " INSTANCE_DATA_MOUNT "/patroni/log\n"
    "\n"
    "# A new instance stops here: Patroni runs initdb or pg_basebackup.\n"
    "[[ -f \"${PGDATA}/PG_VERSION\" ]] || exit 0\n"
    "data_version=$(< \"${PGDATA}/PG_VERSION\")\n"
    "[[ \"${data_version}\" == \"${version}\" ]] ||\n"
    "  fail \"${PGDATA} holds PostgreSQL ${data_version} data; the cluster runs ${version}\"\n"
    "\n"
    "# WAL belongs in ${waldir}, on a volume of its own when the set has walVolumeClaimSpec. When that volume was\n"
    "# added or removed, move the WAL there and point pg_wal at it.\n"
    "current=$(realpath \"${PGDATA}/pg_wal\")\n"
    "if [[ \"${current}\" != \"${waldir}\" ]]; then\n"
    "  echo \"postgres-startup: moving WAL from ${current} to ${waldir}\"\n"
    "  mv -T \"${current}\" \"${waldir}\"\n"
    "  ln -sfnT \"${waldir}\" \"${PGDATA}/pg_wal\"\n"
    "fi\n";

/* replication-cert-copy, run as: bash -ceu -- <script> replication-cert-copy <Patroni's port>. It follows two
 * projected volumes; a renewed Secret or ConfigMap shows as a newer mtime of the directory (the kubelet swaps a
 * symbolic link in it). When /pgconf/tls changed, it copies the replication certificate again and signals the
 * postmaster (the only postgres whose parent is the pod's first process: Patroni daemonizes it) to reload its TLS
 * files. When /etc/patroni changed, it signals Patroni to reload its configuration. Patroni reloads its REST API's
 * certificate on a SIGHUP only when its configuration did not change in the same reload (and signals that arrive
 * within one of its cycles count as one), so until the REST API serves the serial number of the certificate on
 * disk, the script signals again every 5 s, for at most 5 minutes. A descriptor on a pipe that nobody writes is
 * each volume's mark of the last signal (its mtime); reading one of them is the 5 s timer. */
static const char instanceCertCopyScript[] =
    "exec {tls}<> <(:) {api}<> <(:)\n"
    "want='' tries=0\n"
    "while read -r -t 5 -u \"${tls}\" || true; do\n"
    "  if [[ " INSTANCE_CERT_DIR " -nt \"/proc/self/fd/${tls}\" ]] &&\n"
    "    install -m 0600 -t /tmp/replication " INSTANCE_CERT_DIR "/replication/{tls.crt,tls.key,ca.crt} &&\n"
    "    pkill -HUP --exact --parent=1 postgres\n"
    "  then\n"
    "    exec {tls}>&- && exec {tls}<> <(:)\n"
    "    stat --format='replication-cert-copy: loaded the certificates of %y' " INSTANCE_CERT_DIR "\n"
    "  fi\n"
    "  if [[ " INSTANCE_PATRONI_DIR " -nt \"/proc/self/fd/${api}\" ]] &&\n"
    "    pkill -HUP --exact --parent=0 patroni\n"
    "  then\n"
    "    exec {api}>&- && exec {api}<> <(:)\n"
    "    want=$(openssl x509 -noout -serial -in " INSTANCE_PATRONI_CERT " 2>/dev/null || true) tries=60\n"
    "    stat --format='replication-cert-copy: reloaded Patroni for the files of %y' " INSTANCE_PATRONI_DIR "\n"
    "  elif [[ -n \"${want}\" ]] && ((tries > 0)); then\n"
    "    served=$(openssl s_client -connect \"127.0.0.1:$1\" </dev/null 2>/dev/null |\n"
    "      openssl x509 -noout -serial 2>/dev/null || true)\n"
    "    if [[ \"${served}\" == \"${want}\" ]]; then\n"
    "      want='' && echo \"replication-cert-copy: Patroni serves ${served}\"\n"
    "    else\n"
    "      tries=$((tries - 1)) && pkill -HUP --exact --parent=0 patroni || true\n"
    "    fi\n"
    "  fi\n"
    "done\n";

/* What the parts of one instance's objects share. Strings live in a context of their own. */
typedef struct Instance {
    const ClusterModel *model;
    const ClusterInstanceSet *set;
    const char *name;      /* the StatefulSet; its pod is <name>-0 */
    const json_t *setMeta; /* spec.instances[].metadata */
    const json_t *spec;    /* the PostgresCluster's spec */
    bool walVolume;        /* PVC <name>-pgwal is mounted at /pgwal */
    char *pgdata;          /* /pgdata/pg<N> */
    char *walDir;          /* where the WAL belongs: /pgwal/pg<N>_wal or /pgdata/pg<N>_wal */
    char *scope;           /* Patroni's scope, <cluster>-ha */
    char *dataClaim;       /* <name>-pgdata */
    char *walClaim;        /* <name>-pgwal */
    char *configMap;       /* <name>-config */
    char *certificates;    /* <name>-certs */
} Instance;

/* Where an instance of set keeps its WAL. Checklist: patroni.c (patroniWalDir) computes the same. */
static char *instanceWalDir(MemCtx *ctx, const ClusterModel *model, const ClusterInstanceSet *set)
{
    bool walVolume = json_is_object(json_object_get(set->spec, "walVolumeClaimSpec"));
    return memCtxPrintf(ctx, "%s/pg%lld_wal", walVolume ? INSTANCE_WAL_MOUNT : INSTANCE_DATA_MOUNT,
                        (long long)model->postgresVersion);
}

static bool instanceInit(MemCtx *ctx, const ClusterModel *model, const ClusterInstance *instance, Instance *in)
{
    const ClusterInstanceSet *set = &model->sets[instance->set];
    *in = (Instance){
        .model = model,
        .set = set,
        .name = instance->name,
        .setMeta = json_object_get(set->spec, "metadata"),
        .spec = json_object_get(model->cluster, "spec"),
        .walVolume = json_is_object(json_object_get(set->spec, "walVolumeClaimSpec")),
        .pgdata = memCtxPrintf(ctx, INSTANCE_DATA_MOUNT "/pg%lld", (long long)model->postgresVersion),
        .walDir = instanceWalDir(ctx, model, set),
        .scope = memCtxPrintf(ctx, "%s-ha", model->name),
        .dataClaim = memCtxPrintf(ctx, "%s-pgdata", instance->name),
        .walClaim = memCtxPrintf(ctx, "%s-pgwal", instance->name),
        .configMap = memCtxPrintf(ctx, "%s-config", instance->name),
        .certificates = memCtxPrintf(ctx, "%s-certs", instance->name),
    };
    if (!in->walVolume && in->walClaim != NULL && model->lookup != NULL) {
        /* One already being deleted would keep a new pod from starting. */
        const json_t *claim = model->lookup(model->lookupArg, "PersistentVolumeClaim", model->namespace, in->walClaim);
        in->walVolume =
            claim != NULL && json_object_get(json_object_get(claim, "metadata"), "deletionTimestamp") == NULL;
    }
    return in->pgdata != NULL && in->walDir != NULL && in->scope != NULL && in->dataClaim != NULL &&
           in->walClaim != NULL && in->configMap != NULL && in->certificates != NULL;
}

/* The set's metadata labels under the operator's: cluster, instance-set, instance, data=postgres, and role when
 * not NULL, patroni=<scope> for the pod. */
static json_t *instanceLabels(const Instance *in, const char *role, bool pod)
{
    json_t *labels = json_object();
    json_t *operatorLabels = clusterLabels(in->model, in->set->name, in->name);
    bool ok = operatorLabels != NULL && clusterMergeCopy(labels, json_object_get(in->setMeta, "labels")) &&
              json_object_update(labels, operatorLabels) == 0 &&
              clusterPut(labels, CLUSTER_LABEL_DATA, json_string("postgres")) &&
              (role == NULL || clusterPut(labels, CLUSTER_LABEL_ROLE, json_string(role))) &&
              (!pod || clusterPut(labels, CLUSTER_LABEL_PATRONI, json_string(in->scope)));
    json_decref(operatorLabels);
    if (ok)
        return labels;
    json_decref(labels);
    return NULL;
}

/* A new object with labels (consumed; NULL fails) and the set's annotations over the cluster's. */
static json_t *instanceObject(const Instance *in, const char *apiVersion, const char *kind, const char *name,
                              json_t *labels)
{
    return clusterObjectAnnotated(in->model, apiVersion, kind, name, labels,
                                  json_object_get(in->setMeta, "annotations"));
}

/* PVC name with role pgdata or pgwal, its spec the claim spec without resources.limits. */
static json_t *instanceClaim(const Instance *in, const char *name, const char *role, const json_t *claimSpec)
{
    json_t *spec = json_deep_copy(claimSpec);
    json_t *resources = json_object_get(spec, "resources");
    if (json_is_object(resources))
        json_object_del(resources, "limits");
    json_t *claim = instanceObject(in, "v1", "PersistentVolumeClaim", name, instanceLabels(in, role, false));
    if (clusterPut(claim, "spec", spec))
        return claim;
    json_decref(claim);
    return NULL;
}

static json_t *instanceMount(const char *volume, const char *path, bool readOnly)
{
    return readOnly ? json_pack("{s:s, s:s, s:b}", "name", volume, "mountPath", path, "readOnly", 1)
                    : json_pack("{s:s, s:s}", "name", volume, "mountPath", path);
}

/* The environment of Postgres' programs, and with patroni what Patroni learns from it: its member name (the pod),
 * the pod's address, the ports to publish in <cluster>-ha's Endpoints (named as that Service's ports), and the
 * addresses through the headless Service <cluster>-pods. */
static json_t *instanceEnv(MemCtx *ctx, const Instance *in, bool patroni)
{
    const ClusterModel *model = in->model;
    char *port = memCtxPrintf(ctx, "%lld", (long long)model->port);
    json_t *env = port == NULL ? NULL
                               : json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]",
                                           "name", "PGDATA", "value", in->pgdata, "name", "PGHOST", "value",
                                           "/tmp/postgres", "name", "PGPORT", "value", port, "name", "KRB5_CONFIG",
                                           "value", "/etc/postgres/krb5.conf", "name", "KRB5RCACHEDIR", "value", "/tmp",
                                           "name", "LDAPTLS_CACERT", "value", "/etc/postgres/ldap/ca.crt");
    if (env == NULL || !patroni)
        return env;
    long long postgresPort = (long long)model->port, patroniPort = (long long)model->patroniPort;
    char *ports = memCtxPrintf(ctx, "- name: postgres\n  port: %lld\n  protocol: TCP\n", postgresPort);
    char *postgresAddress = memCtxPrintf(ctx, "$(PATRONI_NAME).%s-pods:%lld", model->name, postgresPort);
    char *postgresListen = memCtxPrintf(ctx, "*:%lld", postgresPort);
    char *restAddress = memCtxPrintf(ctx, "$(PATRONI_NAME).%s-pods:%lld", model->name, patroniPort);
    char *restListen = memCtxPrintf(ctx, "*:%lld", patroniPort);
    json_t *more =
        ports == NULL || postgresAddress == NULL || postgresListen == NULL || restAddress == NULL || restListen == NULL
            ? NULL
            : json_pack("[{s:s, s:{s:{s:s, s:s}}}, {s:s, s:{s:{s:s, s:s}}}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s},"
                        " {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]",
                        "name", "PATRONI_NAME", "valueFrom", "fieldRef", "apiVersion", "v1", "fieldPath",
                        "metadata.name", "name", "PATRONI_KUBERNETES_POD_IP", "valueFrom", "fieldRef", "apiVersion",
                        "v1", "fieldPath", "status.podIP", "name", "PATRONI_KUBERNETES_PORTS", "value", ports, "name",
                        "PATRONI_POSTGRESQL_CONNECT_ADDRESS", "value", postgresAddress, "name",
                        "PATRONI_POSTGRESQL_LISTEN", "value", postgresListen, "name", "PATRONI_POSTGRESQL_CONFIG_DIR",
                        "value", in->pgdata, "name", "PATRONI_POSTGRESQL_DATA_DIR", "value", in->pgdata, "name",
                        "PATRONI_RESTAPI_CONNECT_ADDRESS", "value", restAddress, "name", "PATRONI_RESTAPI_LISTEN",
                        "value", restListen, "name", "PATRONICTL_CONFIG_FILE", "value", INSTANCE_PATRONI_DIR);
    if (more == NULL || json_array_extend(env, more) != 0) {
        json_decref(env);
        env = NULL;
    }
    json_decref(more);
    return env;
}

static json_t *instanceProbe(const ClusterModel *model, const char *path)
{
    int64_t period = model->patroniLoopWait;
    int64_t timeout = period / 2 > 1 ? period / 2 : 1;
    int64_t failures = model->patroniTtl / period > 1 ? model->patroniTtl / period : 1;
    return json_pack("{s:{s:s, s:s, s:I}, s:i, s:I, s:I, s:I, s:i}", "httpGet", "scheme", "HTTPS", "path", path, "port",
                     (json_int_t)model->patroniPort, "initialDelaySeconds", 3, "periodSeconds", (json_int_t)period,
                     "timeoutSeconds", (json_int_t)timeout, "failureThreshold", (json_int_t)failures,
                     "successThreshold", 1);
}

/* A container of ours: name, the cluster's image and pull policy, the restricted security context. */
static json_t *instanceContainer(const Instance *in, const char *name)
{
    json_t *container = json_pack("{s:s, s:s}", "name", name, "image", in->model->image);
    if (clusterPutCopy(container, "imagePullPolicy", json_object_get(in->spec, "imagePullPolicy")) &&
        clusterPut(container, "securityContext", clusterRestrictedSecurityContext()))
        return container;
    json_decref(container);
    return NULL;
}

static json_t *instanceStartup(MemCtx *ctx, const Instance *in)
{
    char *version = memCtxPrintf(ctx, "%lld", (long long)in->model->postgresVersion);
    json_t *container = instanceContainer(in, "postgres-startup");
    json_t *mounts = json_pack("[o, o]", instanceMount("cert-volume", INSTANCE_CERT_DIR, true),
                               instanceMount("postgres-data", INSTANCE_DATA_MOUNT, false));
    if ((in->walVolume && !clusterPush(mounts, instanceMount("postgres-wal", INSTANCE_WAL_MOUNT, false))) ||
        !clusterPush(mounts, instanceMount("tmp", "/tmp", false))) {
        json_decref(mounts);
        mounts = NULL;
    }
    bool ok = clusterPut(container, "volumeMounts", mounts) && version != NULL &&
              clusterPut(container, "command",
                         json_pack("[s, s, s, s, s, s, s]", "bash", "-ceu", "--", instanceStartupScript,
                                   "postgres-startup", version, in->walDir)) &&
              clusterPut(container, "env", instanceEnv(ctx, in, false)) &&
              clusterPutCopy(container, "resources", json_object_get(in->set->spec, "resources"));
    if (ok)
        return container;
    json_decref(container);
    return NULL;
}

static json_t *instanceDatabase(MemCtx *ctx, const Instance *in)
{
    const ClusterModel *model = in->model;
    json_t *container = instanceContainer(in, "database");
    json_t *mounts = json_pack("[o, o]", instanceMount("cert-volume", INSTANCE_CERT_DIR, true),
                               instanceMount("postgres-data", INSTANCE_DATA_MOUNT, false));
    bool ok = mounts != NULL;
    if (ok && in->walVolume)
        ok = clusterPush(mounts, instanceMount("postgres-wal", INSTANCE_WAL_MOUNT, false));
    if (ok && json_array_size(json_object_get(json_object_get(in->spec, "config"), "files")) > 0)
        ok = clusterPush(mounts, instanceMount("postgres-config", "/etc/postgres", true));
    ok = ok && clusterPush(mounts, instanceMount("patroni-config", INSTANCE_PATRONI_DIR, true)) &&
         clusterPush(mounts, instanceMount("tmp", "/tmp", false)) &&
         clusterPush(mounts, instanceMount("dshm", "/dev/shm", false));
    if (ok && json_is_object(json_object_get(json_object_get(in->set->spec, "volumes"), "temp")))
        ok = clusterPush(mounts, instanceMount("postgres-temp", "/pgtmp", false));
    if (!ok) {
        json_decref(mounts);
        mounts = NULL;
    }
    ok = clusterPut(container, "volumeMounts", mounts) &&
         clusterPut(container, "command", json_pack("[s, s]", "patroni", INSTANCE_PATRONI_DIR)) &&
         clusterPut(container, "env", instanceEnv(ctx, in, true)) &&
         clusterPut(container, "ports",
                    json_pack("[{s:s, s:I, s:s}, {s:s, s:I, s:s}]", "name", "postgres", "containerPort",
                              (json_int_t)model->port, "protocol", "TCP", "name", "patroni", "containerPort",
                              (json_int_t)model->patroniPort, "protocol", "TCP")) &&
         clusterPut(container, "livenessProbe", instanceProbe(model, "/liveness")) &&
         clusterPut(container, "readinessProbe", instanceProbe(model, "/readiness")) &&
         clusterPutCopy(container, "resources", json_object_get(in->set->spec, "resources"));
    if (ok)
        return container;
    json_decref(container);
    return NULL;
}

static json_t *instanceCertCopy(const Instance *in)
{
    char patroniPort[24];
    snprintf(patroniPort, sizeof(patroniPort), "%lld", (long long)in->model->patroniPort);
    const json_t *sidecar = json_object_get(json_object_get(in->set->spec, "sidecars"), "replicaCertCopy");
    json_t *container = instanceContainer(in, "replication-cert-copy");
    bool ok = clusterPut(container, "command",
                         json_pack("[s, s, s, s, s, s]", "bash", "-ceu", "--", instanceCertCopyScript,
                                   "replication-cert-copy", patroniPort)) &&
              clusterPutCopy(container, "resources", json_object_get(sidecar, "resources")) &&
              clusterPut(container, "volumeMounts",
                         json_pack("[o, o, o]", instanceMount("cert-volume", INSTANCE_CERT_DIR, true),
                                   instanceMount("patroni-config", INSTANCE_PATRONI_DIR, true),
                                   instanceMount("tmp", "/tmp", false)));
    if (ok)
        return container;
    json_decref(container);
    return NULL;
}

/* The projection of spec.customTLSSecret without what it projects to ca.crt: tls.crt and tls.key (or the user's
 * items for them). ca.crt comes from <instance>-certs instead, the user's CA with the namespace root (secrets.c). */
static json_t *instanceCustomServerCert(const json_t *custom)
{
    json_t *secret = json_deep_copy(custom);
    json_t *items = json_object_get(secret, "items");
    if (json_array_size(items) == 0) {
        json_t *tlsOnly = json_pack("[{s:s, s:s}, {s:s, s:s}]", "key", "tls.crt", "path", "tls.crt", "key", "tls.key",
                                    "path", "tls.key");
        if (tlsOnly == NULL || json_object_set_new(secret, "items", tlsOnly) != 0) {
            json_decref(secret);
            return NULL;
        }
    } else {
        for (size_t itemIdx = json_array_size(items); itemIdx-- > 0;) {
            const char *path = json_string_value(json_object_get(json_array_get(items, itemIdx), "path"));
            if (path != NULL && strcmp(path, "ca.crt") == 0)
                json_array_remove(items, itemIdx);
        }
    }
    return secret == NULL ? NULL : json_pack("{s:o}", "secret", secret);
}

/* Postgres' server certificate (spec.customTLSSecret, with the client CAs from <instance>-certs, else
 * <cluster>-cluster-cert) and the replication client certificate under replication/ (from
 * spec.customReplicationTLSSecret's Secret, else <cluster>-replication-cert), private to the user (0600). */
static json_t *instanceCertVolume(MemCtx *ctx, const Instance *in)
{
    const json_t *custom = json_object_get(in->spec, "customTLSSecret");
    const char *replication =
        json_string_value(json_object_get(json_object_get(in->spec, "customReplicationTLSSecret"), "name"));
    json_t *server = NULL, *clientCas = NULL;
    if (json_is_object(custom)) {
        server = instanceCustomServerCert(custom);
        clientCas = json_pack("{s:{s:s, s:[{s:s, s:s}]}}", "secret", "name", in->certificates, "items", "key",
                              CLUSTER_CLIENT_CAS_KEY, "path", "ca.crt");
    } else {
        char *clusterCert = memCtxPrintf(ctx, "%s-cluster-cert", in->model->name);
        server = clusterCert == NULL ? NULL
                                     : json_pack("{s:{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}}", "secret", "name",
                                                 clusterCert, "items", "key", "tls.crt", "path", "tls.crt", "key",
                                                 "tls.key", "path", "tls.key", "key", "ca.crt", "path", "ca.crt");
    }
    char *replicationCert = replication != NULL ? memCtxStrDup(ctx, replication)
                                                : memCtxPrintf(ctx, "%s-replication-cert", in->model->name);
    json_t *client =
        replicationCert == NULL
            ? NULL
            : json_pack("{s:{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}}", "secret", "name", replicationCert, "items",
                        "key", "tls.crt", "path", "replication/tls.crt", "key", "tls.key", "path",
                        "replication/tls.key", "key", "ca.crt", "path", "replication/ca.crt");
    json_t *volume = json_pack("{s:s, s:{s:i, s:[]}}", "name", "cert-volume", "projected", "defaultMode",
                               INSTANCE_CERT_MODE, "sources");
    json_t *sources = json_object_get(json_object_get(volume, "projected"), "sources");
    bool ok = clusterPush(sources, server);
    ok = (!json_is_object(custom) || clusterPush(sources, clientCas)) && ok;
    if (!clusterPush(sources, client) || !ok) {
        json_decref(volume);
        volume = NULL;
    }
    return volume;
}

/* /etc/patroni: the cluster's and the instance's files, then the REST API's CA and certificate with its key. The
 * "~" names sort after any file a user might add, so the operator's settings win. */
static json_t *instancePatroniVolume(MemCtx *ctx, const Instance *in)
{
    char *clusterConfig = memCtxPrintf(ctx, "%s-config", in->model->name);
    return clusterConfig == NULL
               ? NULL
               : json_pack("{s:s, s:{s:[{s:{s:s, s:[{s:s, s:s}]}}, {s:{s:s, s:[{s:s, s:s}]}},"
                           " {s:{s:s, s:[{s:s, s:s}, {s:s, s:s}]}}]}}",
                           "name", "patroni-config", "projected", "sources", "configMap", "name", clusterConfig,
                           "items", "key", "patroni.yaml", "path", "~postgres-operator_cluster.yaml", "configMap",
                           "name", in->configMap, "items", "key", "patroni.yaml", "path",
                           "~postgres-operator_instance.yaml", "secret", "name", in->certificates, "items", "key",
                           "patroni.ca-roots", "path", "~postgres-operator/patroni.ca-roots", "key",
                           "patroni.crt-combined", "path", "~postgres-operator/patroni.crt+key");
}

/* A volume of PVC claim. */
static json_t *instanceClaimVolume(const char *volume, const char *claim)
{
    return json_pack("{s:s, s:{s:s}}", "name", volume, "persistentVolumeClaim", "claimName", claim);
}

static json_t *instanceVolumes(MemCtx *ctx, const Instance *in, const json_t *podMetadata)
{
    const json_t *files = json_object_get(json_object_get(in->spec, "config"), "files");
    const json_t *temp = json_object_get(json_object_get(in->set->spec, "volumes"), "temp");
    json_t *volumes =
        json_pack("[o, o]", instanceCertVolume(ctx, in), instanceClaimVolume("postgres-data", in->dataClaim));
    bool ok = volumes != NULL;
    if (ok && in->walVolume)
        ok = clusterPush(volumes, instanceClaimVolume("postgres-wal", in->walClaim));
    if (ok && json_array_size(files) > 0)
        ok = clusterPush(volumes, json_pack("{s:s, s:{s:o}}", "name", "postgres-config", "projected", "sources",
                                            json_deep_copy(files)));
    ok = ok && clusterPush(volumes, instancePatroniVolume(ctx, in)) &&
         clusterPush(volumes, json_pack("{s:s, s:{s:s}}", "name", "tmp", "emptyDir", "sizeLimit", "16Mi")) &&
         clusterPush(volumes, json_pack("{s:s, s:{s:s}}", "name", "dshm", "emptyDir", "medium", "Memory"));
    if (ok && json_is_object(temp)) {
        /* A generic ephemeral volume: its PVC carries the pod's labels and annotations, as PGO's. */
        json_t *volume =
            json_pack("{s:s, s:{s:{s:o, s:o}}}", "name", "postgres-temp", "ephemeral", "volumeClaimTemplate",
                      "metadata", json_deep_copy(podMetadata), "spec", json_deep_copy(temp));
        ok = clusterPush(volumes, volume);
    }
    if (ok)
        return volumes;
    json_decref(volumes);
    return NULL;
}

/* The pod's labels (cluster's, set's, then ours with patroni) and annotations (cluster's, set's, then the default
 * container for kubectl). */
static json_t *instancePodMetadata(const Instance *in)
{
    const json_t *clusterMeta = json_object_get(in->spec, "metadata");
    json_t *labels = json_object();
    json_t *ours = instanceLabels(in, NULL, true);
    json_t *annotations = json_object();
    bool ok = ours != NULL && clusterMergeCopy(labels, json_object_get(clusterMeta, "labels")) &&
              json_object_update(labels, ours) == 0 &&
              clusterMergeCopy(annotations, json_object_get(clusterMeta, "annotations")) &&
              clusterMergeCopy(annotations, json_object_get(in->setMeta, "annotations")) &&
              clusterPut(annotations, INSTANCE_DEFAULT_NAME, json_string("database"));
    json_decref(ours);
    json_t *metadata = ok ? json_pack("{s:O, s:O}", "annotations", annotations, "labels", labels) : NULL;
    json_decref(labels);
    json_decref(annotations);
    return metadata;
}

/* fsGroup 26 (unless OpenShift, which assigns one), non-root, the runtime's seccomp profile, and the cluster's
 * supplementalGroups but root's. */
static json_t *instancePodSecurityContext(const Instance *in)
{
    json_t *context = json_pack("{s:s, s:b, s:{s:s}}", "fsGroupChangePolicy", "OnRootMismatch", "runAsNonRoot", 1,
                                "seccompProfile", "type", "RuntimeDefault");
    json_t *kept = json_array();
    bool ok = context != NULL && kept != NULL;
    if (ok && !json_is_true(json_object_get(in->spec, "openshift")))
        ok = clusterPut(context, "fsGroup", json_integer(INSTANCE_FS_GROUP));
    const json_t *groups = json_object_get(in->spec, "supplementalGroups");
    for (size_t groupIdx = 0; ok && groupIdx < json_array_size(groups); groupIdx++) {
        const json_t *group = json_array_get(groups, groupIdx);
        if (json_is_integer(group) && json_integer_value(group) > 0)
            ok = clusterPush(kept, json_integer(json_integer_value(group)));
    }
    if (ok && json_array_size(kept) > 0) {
        ok = clusterPut(context, "supplementalGroups", kept);
        kept = NULL;
    }
    json_decref(kept);
    if (ok)
        return context;
    json_decref(context);
    return NULL;
}

/* The pod's spec, or NULL with err filled: pgBackRest's part says itself what failed (its error is kept as it is, not
 * taken for a lack of memory); anything else is one. */
static json_t *instancePodSpec(MemCtx *ctx, const Instance *in, const json_t *podMetadata, Err *err)
{
    const json_t *setSpec = in->set->spec;
    char *serviceAccount = memCtxPrintf(ctx, "%s-instance", in->model->name);
    json_t *topology;
    json_t *pod = serviceAccount == NULL ? NULL
                                         : json_pack("{s:b, s:s, s:b}", "enableServiceLinks", 0, "serviceAccountName",
                                                     serviceAccount, "shareProcessNamespace", 1);
    json_t *containers = json_pack("[o, o]", instanceDatabase(ctx, in), instanceCertCopy(in));
    const json_t *sidecars = json_object_get(setSpec, "containers");
    bool ok =
        clusterPut(pod, "containers", containers) &&
        clusterPut(pod, "initContainers", json_pack("[o]", instanceStartup(ctx, in))) &&
        clusterPut(pod, "securityContext", instancePodSecurityContext(in)) &&
        clusterPut(pod, "volumes", instanceVolumes(ctx, in, podMetadata)) &&
        clusterPutCopy(pod, "affinity", json_object_get(setSpec, "affinity")) &&
        clusterPutCopy(pod, "tolerations", json_object_get(setSpec, "tolerations")) &&
        clusterPutCopy(pod, "priorityClassName", json_object_get(setSpec, "priorityClassName")) &&
        clusterPutCopy(pod, "imagePullSecrets", json_object_get(in->spec, "imagePullSecrets")) &&
        clusterTopologySpread(in->model, json_object_get(in->set->spec, "topologySpreadConstraints"), &topology) &&
        (topology == NULL || clusterPut(pod, "topologySpreadConstraints", topology));
    if (ok && !clusterPgBackRestInstancePod(ctx, in->model, in->name, pod, err)) {
        json_decref(pod);
        return NULL;
    }
    /* The set's own containers come after ours. */
    for (size_t sidecarIdx = 0; ok && sidecarIdx < json_array_size(sidecars); sidecarIdx++)
        ok = clusterPush(containers, json_deep_copy(json_array_get(sidecars, sidecarIdx)));
    if (ok)
        return pod;
    json_decref(pod);
    errSet(err, errOutOfMemory, "out of memory building the cluster's objects");
    return NULL;
}

/* Whether the instance runs: always, but during a restore (model->restore), when only the startup instance does,
 * once the data is there, and while the cluster shuts down or starts again (model->power), when none or only the
 * startup instance does. */
static bool instanceRuns(const Instance *in)
{
    const ClusterRestore *restore = in->model->restore;
    const ClusterPower *power = &in->model->power;
    if (restore != NULL)
        return restore->dataReady && strcmp(restore->startupInstance, in->name) == 0;
    if (power->none)
        return false;
    return !power->onlyStartup || strcmp(power->startupInstance, in->name) == 0;
}

/* The StatefulSet, or NULL with err filled (the pod spec's error, else a lack of memory). */
static json_t *instanceStatefulSet(MemCtx *ctx, const Instance *in, Err *err)
{
    json_t *podMetadata = instancePodMetadata(in);
    json_t *template = json_object();
    json_t *podSpec = NULL;
    bool podSpecFailed = false; /* err says why */
    if (clusterPut(template, "metadata", json_incref(podMetadata))) {
        podSpec = instancePodSpec(ctx, in, podMetadata, err);
        podSpecFailed = podSpec == NULL;
    }
    if (podSpec == NULL || !clusterPut(template, "spec", podSpec)) {
        json_decref(template);
        template = NULL;
    }
    json_decref(podMetadata);
    json_t *selector = clusterLabels(in->model, in->set->name, in->name);
    char *service = memCtxPrintf(ctx, "%s-pods", in->model->name);
    json_t *spec = selector == NULL || service == NULL
                       ? NULL
                       : json_pack("{s:i, s:i, s:{s:O}, s:s, s:{s:s}}", "replicas", instanceRuns(in) ? 1 : 0,
                                   "revisionHistoryLimit", 0, "selector", "matchLabels", selector, "serviceName",
                                   service, "updateStrategy", "type", "OnDelete");
    json_decref(selector);
    if (!clusterPut(spec, "template", template)) {
        json_decref(spec);
        spec = NULL;
    }
    json_t *set = instanceObject(in, "apps/v1", "StatefulSet", in->name, instanceLabels(in, NULL, false));
    if (clusterPut(set, "spec", spec))
        return set;
    json_decref(set);
    if (!podSpecFailed)
        errSet(err, errOutOfMemory, "out of memory building the cluster's objects");
    return NULL;
}

bool clusterBuildInstances(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    if (model->image == NULL)
        return errSet(err, errInvalidArgument,
                      "no image for Postgres %lld: set spec.image or RELATED_IMAGE_POSTGRES_%lld",
                      (long long)model->postgresVersion, (long long)model->postgresVersion);
    for (size_t instanceIdx = 0; instanceIdx < model->instanceCount; instanceIdx++) {
        const ClusterInstance *instance = &model->instances[instanceIdx];
        const json_t *dataSpec = json_object_get(model->sets[instance->set].spec, "dataVolumeClaimSpec");
        const json_t *walSpec = json_object_get(model->sets[instance->set].spec, "walVolumeClaimSpec");
        if (!json_is_object(dataSpec))
            return errSet(err, errInvalidArgument, "instance set %s has no dataVolumeClaimSpec",
                          model->sets[instance->set].name);
        MemCtx *scratch = memCtxNew(ctx, "instance");
        Instance in;
        bool ok = scratch != NULL && instanceInit(scratch, model, instance, &in);
        if (!ok)
            errSet(err, errOutOfMemory, "out of memory building the cluster's objects");
        /* During a restore, until the data is there, only the startup instance has volumes (the others' are made
         * afresh for replicas of the restored data). */
        const ClusterRestore *restore = model->restore;
        bool volumes = restore == NULL || restore->dataReady || strcmp(restore->startupInstance, instance->name) == 0;
        ok = ok && (!volumes || clusterAppend(objects, instanceClaim(&in, in.dataClaim, "pgdata", dataSpec), err)) &&
             (!volumes || !json_is_object(walSpec) ||
              clusterAppend(objects, instanceClaim(&in, in.walClaim, "pgwal", walSpec), err));
        json_t *set = ok ? instanceStatefulSet(scratch, &in, err) : NULL;
        ok = ok && set != NULL && clusterAppend(objects, set, err);
        memCtxFree(scratch);
        if (!ok)
            return false;
    }
    return true;
}
