/* PgBouncer in front of a cluster (spec.proxy.pgBouncer), as PGO v5 runs it: the objects named <cluster>-pgbouncer
 * (ConfigMap, Secret, Deployment, Service and, when asked, PodDisruptionBudget), the keys it adds to the users'
 * Secrets, and the SQL that lets it look passwords up in every database. Pure builders: the model in, objects and
 * SQL out (api/objects.h). */
#ifndef PGBOUNCER_PGBOUNCER_H
#define PGBOUNCER_PGBOUNCER_H

#include "api/objects.h"
#include "naming/names.h"
#include "pgsql/sql.h"

/* The role PgBouncer logs in as to look passwords up (auth_user), and the schema of its function. */
#define PGBOUNCER_ROLE   "_crunchypgbouncer"
#define PGBOUNCER_SCHEMA "pgbouncer"

/* The Secret's keys that the SQL and the users.txt file read. */
#define PGBOUNCER_KEY_PASSWORD "pgbouncer-password"
#define PGBOUNCER_KEY_VERIFIER "pgbouncer-verifier"

/* Whether spec.proxy.pgBouncer is set (an empty object is PgBouncer with PGO's defaults). */
bool clusterPgBouncerEnabled(const ClusterModel *model);

/* spec.proxy.pgBouncer.port, default 5432. */
int64_t clusterPgBouncerPort(const ClusterModel *model);

/* "<cluster>-pgbouncer" into out: the name of every object of PgBouncer's. */
void clusterPgBouncerName(const ClusterModel *model, char out[NAMING_NAME_SIZE]);

/* The generated configuration, ~postgres-operator.ini, in ctx. errInvalidArgument for a config.global,
 * config.databases or config.users value that is not a string, or text that would break the file (a newline). */
bool clusterPgBouncerIni(MemCtx *ctx, const ClusterModel *model, char **out, Err *err) MUST_CHECK;

/* When PgBouncer is on: ConfigMap, Secret, Deployment, Service <cluster>-pgbouncer, and PodDisruptionBudget
 * <cluster>-pgbouncer when replicas > 1 or minAvailable is set. Nothing otherwise. Reads the root CA from the
 * intents already in objects (clusterBuildCertificates runs first), and the Secret's password, verifier and frontend
 * certificate from the cache, kept while right. errInvalidArgument: no image (spec.proxy.pgBouncer.image nor
 * RELATED_IMAGE_PGBOUNCER), a bad port or configuration value, no root CA among the intents. */
bool clusterBuildPgBouncer(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

#define CLUSTER_PGBOUNCER_REVISION_SIZE 9 /* 8 hex digits and the NUL */

typedef struct ClusterPgBouncerSql {
    PgBatch *batches; /* in the order to run */
    size_t batchCount;
    char revision[CLUSTER_PGBOUNCER_REVISION_SIZE]; /* a hash of all of it, the verifier included */
} ClusterPgBouncerSql;

/* The SQL that installs (verifier not NULL: the role, with that SCRAM verifier, then in each database the schema and
 * the function) or removes (verifier NULL: in each database the schema, then the role) what PgBouncer needs in
 * Postgres. The databases: "postgres", "template1" (so databases created later start with it) and those of the
 * users' spec (postgres/users.h). Idempotent. Errors: errInvalidArgument (users' spec), errOutOfMemory. */
bool clusterPgBouncerSql(MemCtx *ctx, const ClusterModel *model, const char *verifier, ClusterPgBouncerSql *out,
                         Err *err) MUST_CHECK;

#endif
