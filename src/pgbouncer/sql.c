/* The SQL behind PgBouncer's auth_query (see pgbouncer.h), what PGO's internal/pgbouncer/postgres.go does, in the
 * batches of pgsql/sql.h.
 *
 * PgBouncer logs in as _crunchypgbouncer and runs "SELECT username, password from pgbouncer.get_auth($1)" in the
 * database the client asked for, so every database needs the schema and the function. The function is SECURITY
 * DEFINER, owned by the operator's superuser role, and returns the verifier of a role only when that role may log
 * in, is neither a superuser nor a replication role (those must not be reachable through the pooler), has not
 * expired, and is not _crunchypgbouncer itself. Its search_path is pinned so that no object of a user's can stand
 * in for the catalog. The schema is closed to PUBLIC; only _crunchypgbouncer may use it and call the function, and
 * its own search_path is that schema.
 *
 * Every database: the users' stage (postgres/users.h) creates the databases of spec.users, and this runs after it;
 * "postgres" holds the role's statement; "template1" gets the schema too, so a database created later (from the
 * template) already has it. A database created from another template, or before PgBouncer was enabled and outside
 * spec.users, does not: PgBouncer then fails to look up passwords there until it is listed in spec.users.
 *
 * Removal reverses it: the schema (with the function) in every database, then the role and what it owns. */
#include "pgbouncer/pgbouncer.h"

#include "postgres/users.h"

#include <stdio.h>
#include <string.h>

#define PGBOUNCER_SQL_DATABASES_MAX 256

#define PGBOUNCER_ROLE_IDENT "\"" PGBOUNCER_ROLE "\""

/* The role, made when missing, with its password's verifier (the secret of the step) and search_path. %s: the
 * verifier as a literal. */
#define PGBOUNCER_SQL_ROLE                                                                                            \
    "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) '" PGBOUNCER_ROLE \
    "') THEN CREATE ROLE " PGBOUNCER_ROLE_IDENT "; END IF; END$$; "                                                   \
    "ALTER ROLE " PGBOUNCER_ROLE_IDENT " SET search_path TO " PGBOUNCER_SCHEMA "; "                                   \
    "ALTER ROLE " PGBOUNCER_ROLE_IDENT " WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %s"

static const PgStep pgbouncerInstall[] = {
    {"BEGIN", NULL, NULL},
    {"CREATE SCHEMA IF NOT EXISTS " PGBOUNCER_SCHEMA, NULL, NULL},
    {"REVOKE ALL PRIVILEGES ON SCHEMA " PGBOUNCER_SCHEMA " FROM PUBLIC", NULL, NULL},
    {"GRANT USAGE ON SCHEMA " PGBOUNCER_SCHEMA " TO " PGBOUNCER_ROLE_IDENT, NULL, NULL},
    {"CREATE OR REPLACE FUNCTION " PGBOUNCER_SCHEMA ".get_auth(username TEXT) "
     "RETURNS TABLE(username TEXT, password TEXT) AS $$ "
     "SELECT rolname::TEXT, rolpassword::TEXT FROM pg_catalog.pg_authid "
     "WHERE pg_authid.rolname OPERATOR(pg_catalog.=) $1 "
     "AND pg_authid.rolcanlogin AND NOT pg_authid.rolsuper AND NOT pg_authid.rolreplication "
     "AND pg_authid.rolname OPERATOR(pg_catalog.<>) '" PGBOUNCER_ROLE "' "
     "AND (pg_authid.rolvaliduntil IS NULL OR pg_authid.rolvaliduntil OPERATOR(pg_catalog.>=) CURRENT_TIMESTAMP) "
     "$$ LANGUAGE SQL STABLE SECURITY DEFINER SET search_path TO pg_catalog, pg_temp",
     NULL, NULL},
    {"REVOKE ALL PRIVILEGES ON FUNCTION " PGBOUNCER_SCHEMA ".get_auth(username TEXT) FROM PUBLIC", NULL, NULL},
    {"GRANT EXECUTE ON FUNCTION " PGBOUNCER_SCHEMA ".get_auth(username TEXT) TO " PGBOUNCER_ROLE_IDENT, NULL, NULL},
    {"COMMIT", NULL, NULL},
};

static const PgStep pgbouncerRemove[] = {
    {"DROP SCHEMA IF EXISTS " PGBOUNCER_SCHEMA " CASCADE", NULL, NULL},
};

static const PgStep pgbouncerRemoveRole[] = {
    {"DROP SCHEMA IF EXISTS " PGBOUNCER_SCHEMA " CASCADE", NULL, NULL},
    {"DO $$BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) '" PGBOUNCER_ROLE
     "') THEN DROP OWNED BY " PGBOUNCER_ROLE_IDENT " CASCADE; DROP ROLE " PGBOUNCER_ROLE_IDENT "; END IF; END$$",
     NULL, NULL},
};

/* The databases: postgres, template1, then the users' in spec order, each once. */
static bool sqlDatabases(MemCtx *ctx, const ClusterModel *model, const char **out, size_t *count, Err *err)
{
    ClusterUser *users;
    size_t userCount;
    if (!clusterUsersFromSpec(ctx, model, &users, &userCount, err))
        return false;
    out[0] = "postgres";
    out[1] = "template1";
    *count = 2;
    for (size_t userIdx = 0; userIdx < userCount; userIdx++)
        for (size_t dbIdx = 0; dbIdx < users[userIdx].databaseCount; dbIdx++) {
            const char *database = users[userIdx].databases[dbIdx];
            bool seen = false;
            for (size_t seenIdx = 0; seenIdx < *count && !seen; seenIdx++)
                seen = strcmp(out[seenIdx], database) == 0;
            if (seen)
                continue;
            if (*count == PGBOUNCER_SQL_DATABASES_MAX)
                return errSet(err, errInvalidArgument, "spec.users: more than %d databases",
                              PGBOUNCER_SQL_DATABASES_MAX);
            out[(*count)++] = database;
        }
    return true;
}

/* FNV-1a, 32 bits, over text and its NUL. */
static uint32_t sqlHash(uint32_t hash, const char *text)
{
    const unsigned char *at = (const unsigned char *)text;
    do {
        hash ^= *at;
        hash *= 16777619u;
    } while (*at++ != '\0');
    return hash;
}

bool clusterPgBouncerSql(MemCtx *ctx, const ClusterModel *model, const char *verifier, ClusterPgBouncerSql *out,
                         Err *err)
{
    *out = (ClusterPgBouncerSql){0};
    const char **databases = memCtxAlloc(ctx, PGBOUNCER_SQL_DATABASES_MAX * sizeof(*databases));
    size_t count = 0;
    if (databases == NULL)
        return errSet(err, errOutOfMemory, "out of memory building PgBouncer's SQL");
    if (!sqlDatabases(ctx, model, databases, &count, err))
        return false;
    /* Install: the role first (in postgres), then every database. Remove: every database but postgres, then
     * postgres with the role. */
    PgBatch *batches = memCtxAlloc(ctx, (count + 1) * sizeof(*batches));
    if (batches == NULL)
        return errSet(err, errOutOfMemory, "out of memory building PgBouncer's SQL");
    size_t batchCount = 0;
    if (verifier != NULL) {
        StrBuf literal;
        strBufInit(&literal, ctx, 4096);
        PgStep *role = memCtxAlloc(ctx, sizeof(*role));
        if (role == NULL || !pgQuoteLiteral(&literal, verifier, err))
            return role == NULL ? errSet(err, errOutOfMemory, "out of memory building PgBouncer's SQL") : false;
        char *sql = memCtxPrintf(ctx, PGBOUNCER_SQL_ROLE, literal.data);
        if (sql == NULL)
            return errSet(err, errOutOfMemory, "out of memory building PgBouncer's SQL");
        *role = (PgStep){.sql = sql, .secret = verifier};
        batches[batchCount++] = (PgBatch){.dbname = "postgres", .steps = role, .count = 1};
        for (size_t dbIdx = 0; dbIdx < count; dbIdx++)
            batches[batchCount++] = (PgBatch){.dbname = databases[dbIdx],
                                              .steps = pgbouncerInstall,
                                              .count = sizeof(pgbouncerInstall) / sizeof(pgbouncerInstall[0])};
    } else {
        for (size_t dbIdx = 1; dbIdx < count; dbIdx++)
            batches[batchCount++] = (PgBatch){.dbname = databases[dbIdx],
                                              .steps = pgbouncerRemove,
                                              .count = sizeof(pgbouncerRemove) / sizeof(pgbouncerRemove[0])};
        batches[batchCount++] = (PgBatch){.dbname = "postgres",
                                          .steps = pgbouncerRemoveRole,
                                          .count = sizeof(pgbouncerRemoveRole) / sizeof(pgbouncerRemoveRole[0])};
    }
    uint32_t hash = 2166136261u;
    for (size_t batchIdx = 0; batchIdx < batchCount; batchIdx++) {
        hash = sqlHash(hash, batches[batchIdx].dbname);
        for (size_t stepIdx = 0; stepIdx < batches[batchIdx].count; stepIdx++)
            hash = sqlHash(hash, batches[batchIdx].steps[stepIdx].sql);
    }
    out->batches = batches;
    out->batchCount = batchCount;
    snprintf(out->revision, sizeof(out->revision), "%08x", hash);
    return true;
}
