/* The roles, databases and schemas spec.users asks for, as SQL for a postgres session (pgsql/session.h).
 *
 * What PGO does, step for step: every database named in spec.users is created when missing; every user gets a
 * role (CREATE ROLE ... LOGIN when missing), its options and its password verifier (ALTER ROLE ... WITH <options>
 * PASSWORD '<verifier>'), and all privileges on its databases, the role changes in one transaction so no session
 * sees a role before its privileges. The user "postgres" is always LOGIN SUPERUSER on database postgres. With the
 * annotation postgres-operator.crunchydata.com/autoCreateUserSchema: "true" on the cluster, each user also gets a
 * schema named after it, owned by it, in each of its databases (except the reserved names public, pgbouncer and
 * monitor). Without spec.users there is one user and database named after the cluster; spec.users: [] means none.
 * Nothing is ever dropped: a user removed from the spec keeps its role, and options removed are not reverted.
 *
 * The SQL is idempotent and safe to run again. The revision, a hash of all of it (verifiers included), lets the
 * reconciler run it only when something changed, as PGO's status.usersRevision does. */
#ifndef CLUSTER_USERS_H
#define CLUSTER_USERS_H

#include "api/model.h"
#include "pgsql/sql.h"

/* One entry of spec.users (or the default user), as written: databases in spec order, options "" when absent. */
typedef struct ClusterUser {
    const char *name;
    const char **databases;
    size_t databaseCount;
    const char *options;
} ClusterUser;

/* The users of model's spec, strings borrowed from the cluster document. errInvalidArgument, naming the field, for
 * a user without a name, a name or database that cannot be a postgres identifier, a name starting with _crunchy
 * (reserved for the operator's own roles), or options that are not plain role attributes (see
 * clusterUserOptionsCheck). */
bool clusterUsersFromSpec(MemCtx *ctx, const ClusterModel *model, ClusterUser **users, size_t *count,
                          Err *err) MUST_CHECK;

/* Checks that options are role attributes the operator may splice into ALTER ROLE: no semicolon, no comment, no
 * PASSWORD (any case), no backslash, dollar sign or double quote, and balanced single quotes, so the text cannot end
 * the statement, hide the rest of it, or swallow the verifier that follows into a literal of its own. The message
 * names field. */
bool clusterUserOptionsCheck(const char *options, const char *field, Err *err) MUST_CHECK;

/* The verifier to set for user ("SCRAM-SHA-256$4096:..."), or NULL to leave its password as it is. The text is
 * copied before the next call. */
typedef const char *ClusterVerifierFn(void *arg, const char *user);

#define CLUSTER_USERS_REVISION_SIZE 9 /* 8 hex digits and the NUL */

typedef struct ClusterUsersSql {
    PgBatch *batches; /* first database "postgres" (databases, roles), then one per database needing schemas */
    size_t batchCount;
    char revision[CLUSTER_USERS_REVISION_SIZE];
} ClusterUsersSql;

/* The SQL for model's users, allocated in ctx. Errors as clusterUsersFromSpec. */
bool clusterUsersSql(MemCtx *ctx, const ClusterModel *model, ClusterVerifierFn *verifier, void *verifierArg,
                     ClusterUsersSql *out, Err *err) MUST_CHECK;

#endif
