/* What the pgBackRest builders share inside this component: the Backup each builder starts from (the model, the
 * spec.backups.pgbackrest parts they read, and the names of the objects they make), the state of a Job, and the
 * helpers that make a backup Job. pgbackrest.c defines them (configuration, repository host, the stanza,
 * replica-create and manual Jobs, status); schedules.c builds the CronJobs from the same Job. Nothing outside
 * src/pgbackrest/ includes this header: the component's interface is pgbackrest.h. */
#ifndef CLUSTER_PGBACKREST_BACKUP_H
#define CLUSTER_PGBACKREST_BACKUP_H

#include "pgbackrest/pgbackrest.h"

#define BACKUP_STANZA    "db"
#define BACKUP_NAME_SIZE 320

/* Names are NUL-terminated in fixed buffers. */
typedef struct Backup {
    const ClusterModel *model;
    const json_t *spec;      /* spec.backups.pgbackrest */
    const json_t *repos;     /* its repos */
    const json_t *meta;      /* its metadata */
    const char *image;       /* its image, else the cluster's */
    const char *firstVolume; /* the first volume repository's name, or NULL: no repository host */
    const char *primary;     /* the instance Patroni's leader runs on (model->primary), or NULL */
    bool repoHostReady;      /* StatefulSet <cluster>-repo-host has its pod ready */
    bool jobsReady; /* Jobs can run: the repository host is ready, or there is none to wait for; never in a standby */
    char configMap[BACKUP_NAME_SIZE];
    char secret[BACKUP_NAME_SIZE];
    char repoHost[BACKUP_NAME_SIZE];
    char serviceAccount[BACKUP_NAME_SIZE];
    char service[BACKUP_NAME_SIZE];
    char stanzaJob[BACKUP_NAME_SIZE];
    char replicaJob[BACKUP_NAME_SIZE];
} Backup;

typedef enum JobState {
    jobAbsent,
    jobActive,
    jobSucceeded,
    jobFailed,
} JobState;

/* Fills b for model; false when the cluster has no spec.backups.pgbackrest. */
bool backupInit(const ClusterModel *model, Backup *b);

const char *backupStringAt(const json_t *object, const char *key);

/* The repository's number: "repo1" gives 1 (the CRD's pattern is ^repo[1-4]); 0 for anything else. */
int backupRepoNumber(const char *name);

/* spec.backups.pgbackrest.repos[] entry named name, or NULL. */
const json_t *backupRepoNamed(const Backup *b, const char *name);

/* From the Job's Complete and Failed conditions; jobAbsent for NULL. */
JobState backupJobState(const json_t *job);

/* The cached object of kind and name in the cluster's namespace (model->lookup), or NULL. */
const json_t *backupLookup(const ClusterModel *model, const char *kind, const char *name);

/* Whether the stanza exists in repository repo, and the replica-create backup (to the first repository) is done:
 * as status.pgbackrest.repos[] records it, or as its Job says. */
bool backupStanzaCreated(const Backup *b, const char *repo);
bool backupReplicaCreated(const Backup *b);

/* spec.backups.pgbackrest.metadata's labels, then the cluster label, then pairs (key, value, ..., NULL). */
json_t *backupLabels(const Backup *b, const char *const *pairs);

/* A new object with labels (consumed; NULL fails) over spec.metadata's, and spec.backups.pgbackrest.metadata's
 * annotations over spec.metadata's. */
json_t *backupObject(const Backup *b, const char *apiVersion, const char *kind, const char *name, json_t *labels);

/* A Job running command (consumed) with the repository host's configuration and volumes. labels and annotations
 * (consumed; annotations may be NULL) go on the Job and its pod. NULL when out of memory. */
json_t *backupJob(const Backup *b, const char *name, json_t *labels, json_t *annotations, json_t *command);

/* ["pgbackrest", "backup", "--stanza=db", "--repo=<n>", options...]; with startFast also "--start-fast". */
json_t *backupCommand(const char *repo, bool startFast, const json_t *options);

/* Appends job (consumed) unless the cached Job of its name lacks some of it: a Job is immutable, and one that ran
 * must not run again. A Job that is not cached is appended only when create says so. */
bool backupAppendJob(const Backup *b, json_t *objects, json_t *job, bool create, Err *err) MUST_CHECK;

/* schedules.c: CronJob <cluster>-<repo>-full|diff|incr per schedule of a volume repository, once its stanza exists
 * and the replica-create backup is done (PGO's order); a CronJob already made is kept up to date from then on. */
bool backupBuildSchedules(const Backup *b, json_t *objects, Err *err) MUST_CHECK;

/* schedules.c: status.pgbackrest.scheduledBackups from jobs (the cluster's Jobs labelled pgbackrest-backup=scheduled,
 * in name order), or NULL when out of memory. */
json_t *backupScheduledStatus(const json_t *jobs);

#endif
