/* Every label, annotation, role value and API name PGO defines that the operator writes or reads: they are an API,
 * which users' scripts and the seed's commands select on (DESIGN.md §4), so they live in one place. */
#ifndef NAMING_LABELS_H
#define NAMING_LABELS_H

#define CLUSTER_LABEL_PREFIX       "postgres-operator.crunchydata.com/"
#define CLUSTER_LABEL_CLUSTER      CLUSTER_LABEL_PREFIX "cluster"
#define CLUSTER_LABEL_INSTANCE_SET CLUSTER_LABEL_PREFIX "instance-set"
#define CLUSTER_LABEL_INSTANCE     CLUSTER_LABEL_PREFIX "instance"
#define CLUSTER_LABEL_PATRONI      CLUSTER_LABEL_PREFIX "patroni"
#define CLUSTER_LABEL_ROLE         CLUSTER_LABEL_PREFIX "role"
#define CLUSTER_LABEL_DATA         CLUSTER_LABEL_PREFIX "data"
#define CLUSTER_LABEL_PGUSER       CLUSTER_LABEL_PREFIX "pguser"
#define CLUSTER_LABEL_CERTIFICATE  CLUSTER_LABEL_PREFIX "cluster-certificate"
#define CLUSTER_FINALIZER          CLUSTER_LABEL_PREFIX "finalizer"
#define CLUSTER_FIELD_MANAGER      "postgrescluster-controller"
#define CLUSTER_API_VERSION        "postgres-operator.crunchydata.com/v1beta1"
#define CLUSTER_KIND               "PostgresCluster"
#define CLUSTER_ROOT_SECRET        "pgo-root-cacert"

/* The values of CLUSTER_LABEL_ROLE Patroni writes on instance pods (PGO keeps Patroni's v3 "master"). */
#define NAMING_ROLE_MASTER  "master"
#define NAMING_ROLE_REPLICA "replica"

/* pgBackRest's objects and the cluster's annotations about backups. */
#define PGBACKREST_LABEL           CLUSTER_LABEL_PREFIX "pgbackrest"
#define PGBACKREST_LABEL_CONFIG    CLUSTER_LABEL_PREFIX "pgbackrest-config"
#define PGBACKREST_LABEL_DEDICATED CLUSTER_LABEL_PREFIX "pgbackrest-dedicated"
#define PGBACKREST_LABEL_REPO      CLUSTER_LABEL_PREFIX "pgbackrest-repo"
#define PGBACKREST_LABEL_VOLUME    CLUSTER_LABEL_PREFIX "pgbackrest-volume"
#define PGBACKREST_LABEL_BACKUP    CLUSTER_LABEL_PREFIX "pgbackrest-backup"
#define PGBACKREST_LABEL_STANZA    CLUSTER_LABEL_PREFIX "pgbackrest-stanza"
#define PGBACKREST_LABEL_CRONJOB   CLUSTER_LABEL_PREFIX "pgbackrest-cronjob"
#define PGBACKREST_ANNOTATION      CLUSTER_LABEL_PREFIX "pgbackrest-backup" /* on the cluster: a manual backup's id */

/* Restores: the restore Job's labels, the cluster's annotation that asks for an in-place restore (its value an id),
 * and the Job's annotation with a hash of what it restores. */
#define PGBACKREST_LABEL_RESTORE       CLUSTER_LABEL_PREFIX "pgbackrest-restore"
#define CLUSTER_LABEL_STARTUP_INSTANCE CLUSTER_LABEL_PREFIX "startup-instance"
#define PGBACKREST_ANNOTATION_RESTORE  CLUSTER_LABEL_PREFIX "pgbackrest-restore"
#define PGBACKREST_ANNOTATION_HASH     CLUSTER_LABEL_PREFIX "pgbackrest-hash"

/* On a user's Secret or the cluster: create a schema named after each user in its databases. */
#define CLUSTER_ANNOTATION_AUTO_CREATE_USER_SCHEMA CLUSTER_LABEL_PREFIX "autoCreateUserSchema"

/* On the cluster: "true" lets the operator remove pgBackRest's objects (the repository host, the volumes holding the
 * backups) once spec.backups is gone. */
#define CLUSTER_ANNOTATION_AUTHORIZE_BACKUP_REMOVAL CLUSTER_LABEL_PREFIX "authorizeBackupRemoval"

/* On the cluster: the IP family pgBackRest's TLS server listens on. */
#define CLUSTER_ANNOTATION_PGBACKREST_IP_VERSION CLUSTER_LABEL_PREFIX "pgbackrest-ip-version"

/* On the cluster: ask Patroni for a switchover (not acted on yet, see api/fields.c). */
#define CLUSTER_ANNOTATION_TRIGGER_SWITCHOVER CLUSTER_LABEL_PREFIX "trigger-switchover"

#endif
