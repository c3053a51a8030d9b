/* pgBackRest for a PostgresCluster with spec.backups.pgbackrest, laid out as PGO v5 lays it out (pgo-reference.md
 * §2 and §5): stanza "db", the repository host, the TLS servers, the configuration in conf.d, the replica-create
 * backup and manual backups. PGO runs `pgbackrest stanza-create` and its backups by pods/exec; the operator has no
 * exec permission, so both run as Jobs "on the repository host": a Job mounts the volume repositories (beside the
 * repository host's pod, the volumes being ReadWriteOnce) and reaches the instances' pgBackRest TLS servers with the
 * cluster's client certificate, as the repository host's own pgbackrest would.
 *
 * How the controller uses it (controllers/postgrescluster/): clusterBuildPgBackRest is one of the builders; the
 * controller caches the cluster's Jobs and CronJobs by the cluster label and reads them back through model->lookup;
 * status.c merges clusterPgBackRestStatus into the status; prune.c deletes the Jobs clusterPgBackRestJobObsolete
 * names (failed stanza and replica-create Jobs, so they run again; superseded ones; finished manual backups whose id
 * is no longer the annotation's) and the CronJobs no schedule asks for. A Job is never deleted only because no
 * builder emitted it: a finished Job whose intent changed since (spec.metadata, spec.backups.pgbackrest.jobs) is
 * left alone rather than re-emitted, Jobs being immutable, and deleting it would run the backup again.
 *
 * State lives in the cluster's status, as PGO keeps it: once status.pgbackrest.repos[] says stanzaCreated or
 * replicaCreateBackupComplete, it stays so (a Job removed by ttlSecondsAfterFinished is not run again), and a manual
 * backup whose id status.pgbackrest.manualBackup records as finished is not run again. */
#ifndef CLUSTER_PGBACKREST_H
#define CLUSTER_PGBACKREST_H

#include "api/objects.h"

#define PGBACKREST_CONFIG_DIR "/etc/pgbackrest/conf.d"

/* Whether some repository is a volume: then the repository host runs. (The instances run pgBackRest's TLS server
 * whenever there is a repository.) */
bool clusterPgBackRestRepoHost(const ClusterModel *model);

/* ConfigMap <cluster>-pgbackrest-config; with a repository also Secret <cluster>-pgbackrest (certificates, from the
 * namespace's root CA once Secret pgo-root-cacert is cached: nothing before) and ServiceAccount <cluster>-pgbackrest;
 * with a volume repository PVC <cluster>-<repo> per volume repository and StatefulSet <cluster>-repo-host; the Jobs:
 * <cluster>-stanza-<4> (stanza-create, once the repository host is ready and an instance is primary),
 * <cluster>-backup-<4> replica-create (after the stanza Job succeeded), <cluster>-backup-<4> per manual backup
 * id, and CronJobs <cluster>-<repo>-full|diff|incr per schedule. Nothing without spec.backups.pgbackrest. */
bool clusterBuildPgBackRest(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

/* The instance pod's part, for instance.c: mounts conf.d in container "database" of podSpec (a pod spec built with
 * its containers and volumes), and with a repository adds containers "pgbackrest" (the TLS server, with
 * instance's pgbackrest-server certificate from <instance>-certs) and "pgbackrest-config" (reloads it), and their
 * volumes. Nothing without spec.backups.pgbackrest. */
bool clusterPgBackRestInstancePod(MemCtx *ctx, const ClusterModel *model, const char *instance, json_t *podSpec,
                                  Err *err) MUST_CHECK;

/* {"pgbackrest": status.pgbackrest, "conditions": [PGBackRestRepoHostReady, PGBackRestReplicaRepoReady,
 * PGBackRestReplicaCreate, PGBackRestManualBackupSuccessful, as they apply]} from the cache and the current status;
 * {"conditions": []} without spec.backups.pgbackrest. scheduledJobs (may be NULL) are the cluster's Jobs labelled
 * pgbackrest-backup=scheduled in name order, for status.pgbackrest.scheduledBackups. NULL when out of memory. */
json_t *clusterPgBackRestStatus(const ClusterModel *model, const json_t *scheduledJobs);

/* Whether object (a cached CronJob controlled by the cluster) is a backup schedule of a cluster that has
 * spec.backups.pgbackrest: then the controller deletes it when this pass's intents lack it (the schedule was
 * removed). */
bool clusterPgBackRestScheduleCronJob(const ClusterModel *model, const json_t *object);

/* Whether cached Job job (controlled by the cluster) should be deleted; see the wiring notes above. */
bool clusterPgBackRestJobObsolete(const ClusterModel *model, const json_t *job);

#endif
