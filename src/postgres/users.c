/* The SQL for spec.users (see users.h).
 *
 * PGO feeds the users to psql as JSON and lets the server format the statements (format('%I'), \gexec); here they
 * are formatted by the operator, with pgQuoteIdent and pgQuoteLiteral for every name and value, and the "when
 * missing" conditions become guard queries of the session (PgStep.unless). The batches:
 *
 *   database postgres:  SET search_path TO ''; SET synchronous_commit TO LOCAL
 *                       CREATE DATABASE "d"                 unless pg_database has d       (one per database)
 *                       BEGIN
 *                       CREATE ROLE "u" LOGIN               unless pg_roles has u          (one per user)
 *                       ALTER ROLE "u" WITH <options> PASSWORD '<verifier>'                (one per user)
 *                       GRANT ALL PRIVILEGES ON DATABASE "d" TO "u"                        (one per user and database)
 *                       COMMIT
 *   database d (with autoCreateUserSchema):  the two SETs, then CREATE SCHEMA IF NOT EXISTS "u" AUTHORIZATION "u"
 *                       for each user listing d whose name is not reserved            (one batch per such database)
 *
 * A user without a verifier and without options has no ALTER ROLE; one without a verifier gets its options only.
 * An empty search_path (pg_catalog is still searched first) keeps objects a user may have created in public from
 * capturing the guard queries' operators; synchronous_commit local keeps a lost synchronous standby from blocking
 * the operator. CREATE DATABASE cannot run in a transaction, so it comes before BEGIN, and the databases to create
 * are those spec.users lists, sorted (as PGO's set): the "postgres" user's own list included, though its grants go
 * to database postgres only (its schemas, as PGO's, follow its own list).
 *
 * Names starting with _crunchy are refused: the operator's own roles (_crunchyoperator, whose certificate runs
 * this SQL, and Patroni's _crunchyrepl) are never created, altered or granted anything here. The CRD's name
 * pattern refuses the underscore already; this is the operator's own guard, whatever the API server let through.
 *
 * The options are spliced into ALTER ROLE as written, so clusterUserOptionsCheck must let through only text that
 * stays inside that one statement; verifiers are quoted, and must be plain printable ASCII without quotes or
 * backslashes (SCRAM and md5 verifiers are), so that the text redacted from error messages is exactly what the
 * statement holds. */
#include "postgres/users.h"

#include "common/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USERS_STATEMENT_MAX (64 * 1024)

static const char *const usersReservedSchemas[] = {"public", "pgbouncer", "monitor"};

/* The prefix of the roles the operator and Patroni keep for themselves (_crunchyrepl, _crunchyoperator), as PGO's. */
#define USERS_RESERVED_PREFIX "_crunchy"

/* A growing list of steps in ctx. */
typedef struct UsersSteps {
    MemCtx *ctx;
    PgStep *steps;
    size_t count;
    size_t capacity;
} UsersSteps;

static bool usersOutOfMemory(Err *err)
{
    return errSet(err, errOutOfMemory, "out of memory writing the users' sql");
}

/* A statement from format, where %I takes a name to quote as an identifier, %L a text to quote as a literal and %s
 * a text to copy as is; every argument is a const char *. */
static bool usersFormat(MemCtx *ctx, const char **out, Err *err, const char *format, ...)
{
    StrBuf buf;
    strBufInit(&buf, ctx, USERS_STATEMENT_MAX);
    va_list args;
    va_start(args, format);
    bool ok = true;
    for (const char *at = format; ok && *at != '\0'; at++) {
        if (*at != '%') {
            ok = strBufAppendChar(&buf, *at, err);
            continue;
        }
        const char *value = va_arg(args, const char *);
        switch (*++at) {
            case 'I':
                ok = pgQuoteIdent(&buf, value, err);
                break;
            case 'L':
                ok = pgQuoteLiteral(&buf, value, err);
                break;
            default:
                ok = strBufAppendStr(&buf, value, err);
                break;
        }
    }
    va_end(args);
    if (!ok) {
        strBufFree(&buf);
        return false;
    }
    *out = buf.data;
    return true;
}

static bool usersAddStep(UsersSteps *list, const char *sql, const char *unless, const char *secret, Err *err)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity == 0 ? 16 : list->capacity * 2;
        PgStep *steps = memCtxResize(list->ctx, list->steps, capacity * sizeof(*steps));
        if (steps == NULL)
            return usersOutOfMemory(err);
        list->steps = steps;
        list->capacity = capacity;
    }
    list->steps[list->count++] = (PgStep){.sql = sql, .unless = unless, .secret = secret};
    return true;
}

/* The two settings every connection starts with. */
static bool usersAddSettings(UsersSteps *list, Err *err)
{
    return usersAddStep(list, "SET search_path TO ''", NULL, NULL, err) &&
           usersAddStep(list, "SET synchronous_commit TO LOCAL", NULL, NULL, err);
}

/* value (a JSON string at field) must be usable as a postgres name. */
static bool usersCheckName(const json_t *value, const char *field, const char **out, Err *err)
{
    if (!json_is_string(value))
        return errSet(err, errInvalidArgument, "%s must be a string", field);
    const char *name = json_string_value(value);
    size_t len = json_string_length(value);
    if (len == 0 || len > PG_IDENTIFIER_MAX || strlen(name) != len)
        return errSet(err, errInvalidArgument, "%s must be 1 to %d bytes without NUL", field, PG_IDENTIFIER_MAX);
    *out = name;
    return true;
}

bool clusterUserOptionsCheck(const char *options, const char *field, Err *err)
{
    if (strpbrk(options, ";\\$\"") != NULL)
        return errSet(err, errInvalidArgument, "%s may not contain a semicolon, backslash, dollar or double quote",
                      field);
    if (strstr(options, "--") != NULL || strstr(options, "/*") != NULL || strstr(options, "*/") != NULL)
        return errSet(err, errInvalidArgument, "%s may not contain sql comments", field);
    if (strcasestr(options, "password") != NULL)
        return errSet(err, errInvalidArgument, "%s may not set a password; write it to the user's Secret instead",
                      field);
    size_t quotes = 0;
    for (const char *quote = strchr(options, '\''); quote != NULL; quote = strchr(quote + 1, '\''))
        quotes++;
    if (quotes % 2 != 0)
        return errSet(err, errInvalidArgument, "%s has an unterminated quoted string", field);
    return true;
}

/* Reads spec.users[userIdx]. */
static bool usersRead(MemCtx *ctx, const json_t *spec, size_t userIdx, ClusterUser *user, Err *err)
{
    char field[96];
    snprintf(field, sizeof(field), "spec.users[%zu]", userIdx);
    if (!json_is_object(spec))
        return errSet(err, errInvalidArgument, "%s must be an object", field);
    snprintf(field, sizeof(field), "spec.users[%zu].name", userIdx);
    if (!usersCheckName(json_object_get(spec, "name"), field, &user->name, err))
        return false;
    if (strncmp(user->name, USERS_RESERVED_PREFIX, strlen(USERS_RESERVED_PREFIX)) == 0)
        return errSet(err, errInvalidArgument,
                      "%s: %s is reserved for the operator's own roles (names starting with " USERS_RESERVED_PREFIX
                      " are); choose another name",
                      field, user->name);

    json_t *databases;
    const char *options;
    if (!jsonFindArray(spec, "databases", &databases, err) || !jsonFindStr(spec, "options", "", &options, err))
        return errPrefix(err, "spec.users[%zu]", userIdx);
    snprintf(field, sizeof(field), "spec.users[%zu].options", userIdx);
    if (!clusterUserOptionsCheck(options, field, err))
        return false;
    user->options = options;

    user->databaseCount = json_array_size(databases);
    user->databases = user->databaseCount > 0 ? memCtxAlloc(ctx, user->databaseCount * sizeof(*user->databases)) : NULL;
    if (user->databaseCount > 0 && user->databases == NULL)
        return usersOutOfMemory(err);
    for (size_t dbIdx = 0; dbIdx < user->databaseCount; dbIdx++) {
        snprintf(field, sizeof(field), "spec.users[%zu].databases[%zu]", userIdx, dbIdx);
        if (!usersCheckName(json_array_get(databases, dbIdx), field, &user->databases[dbIdx], err))
            return false;
    }
    return true;
}

bool clusterUsersFromSpec(MemCtx *ctx, const ClusterModel *model, ClusterUser **users, size_t *count, Err *err)
{
    json_t *specUsers;
    if (!jsonFindArray(model->cluster, "spec.users", &specUsers, err))
        return false;
    *users = NULL;
    *count = 0;
    if (specUsers == NULL) {
        /* PGO's default: a user and a database named after the cluster. */
        size_t len = strlen(model->name);
        if (len > PG_IDENTIFIER_MAX)
            return errSet(err, errInvalidArgument,
                          "cluster name %s is longer than the %d bytes of a postgres user name; set spec.users",
                          model->name, PG_IDENTIFIER_MAX);
        ClusterUser *user = memCtxAlloc(ctx, sizeof(*user));
        const char **databases = memCtxAlloc(ctx, sizeof(*databases));
        if (user == NULL || databases == NULL)
            return usersOutOfMemory(err);
        databases[0] = model->name;
        *user = (ClusterUser){.name = model->name, .databases = databases, .databaseCount = 1, .options = ""};
        *users = user;
        *count = 1;
        return true;
    }
    size_t userCount = json_array_size(specUsers);
    if (userCount == 0)
        return true;
    ClusterUser *list = memCtxAlloc(ctx, userCount * sizeof(*list));
    if (list == NULL)
        return usersOutOfMemory(err);
    for (size_t userIdx = 0; userIdx < userCount; userIdx++) {
        if (!usersRead(ctx, json_array_get(specUsers, userIdx), userIdx, &list[userIdx], err))
            return false;
    }
    *users = list;
    *count = userCount;
    return true;
}

static int usersCompareNames(const void *left, const void *right)
{
    return strcmp(*(const char *const *)left, *(const char *const *)right);
}

/* Every database users list, sorted, without repeats. */
static bool usersDatabases(MemCtx *ctx, const ClusterUser *users, size_t count, const char ***out, size_t *outCount,
                           Err *err)
{
    size_t total = 0;
    for (size_t userIdx = 0; userIdx < count; userIdx++)
        total += users[userIdx].databaseCount;
    *out = NULL;
    *outCount = 0;
    if (total == 0)
        return true;
    const char **names = memCtxAlloc(ctx, total * sizeof(*names));
    if (names == NULL)
        return usersOutOfMemory(err);
    size_t used = 0;
    for (size_t userIdx = 0; userIdx < count; userIdx++) {
        for (size_t dbIdx = 0; dbIdx < users[userIdx].databaseCount; dbIdx++)
            names[used++] = users[userIdx].databases[dbIdx];
    }
    qsort(names, total, sizeof(*names), usersCompareNames);
    size_t unique = 0;
    for (size_t nameIdx = 0; nameIdx < total; nameIdx++) {
        if (unique == 0 || strcmp(names[unique - 1], names[nameIdx]) != 0)
            names[unique++] = names[nameIdx];
    }
    *out = names;
    *outCount = unique;
    return true;
}

/* A verifier fit to be quoted and redacted: printable ASCII without quote or backslash. */
static bool usersCheckVerifier(const char *verifier, const char *user, Err *err)
{
    for (const char *at = verifier; *at != '\0'; at++) {
        if (*at < 0x20 || *at > 0x7e || *at == '\'' || *at == '\\')
            return errSet(err, errInvalidArgument, "the password verifier of user %s is malformed", user);
    }
    if (verifier[0] == '\0')
        return errSet(err, errInvalidArgument, "the password verifier of user %s is empty", user);
    return true;
}

/* The steps of database postgres: databases, then roles, options, verifiers and grants in one transaction. */
static bool usersRoleSteps(UsersSteps *list, const ClusterUser *users, size_t count, const char *const *databases,
                           size_t databaseCount, ClusterVerifierFn *verifier, void *verifierArg, Err *err)
{
    if (!usersAddSettings(list, err))
        return false;
    for (size_t dbIdx = 0; dbIdx < databaseCount; dbIdx++) {
        const char *sql, *unless;
        if (!usersFormat(list->ctx, &unless, err,
                         "SELECT 1 FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) %L",
                         databases[dbIdx]) ||
            !usersFormat(list->ctx, &sql, err, "CREATE DATABASE %I", databases[dbIdx]) ||
            !usersAddStep(list, sql, unless, NULL, err))
            return false;
    }
    if (!usersAddStep(list, "BEGIN", NULL, NULL, err))
        return false;
    for (size_t userIdx = 0; userIdx < count; userIdx++) {
        const char *sql, *unless;
        if (!usersFormat(list->ctx, &unless, err,
                         "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) %L",
                         users[userIdx].name) ||
            !usersFormat(list->ctx, &sql, err, "CREATE ROLE %I LOGIN", users[userIdx].name) ||
            !usersAddStep(list, sql, unless, NULL, err))
            return false;
    }
    for (size_t userIdx = 0; userIdx < count; userIdx++) {
        const ClusterUser *user = &users[userIdx];
        bool superuser = strcmp(user->name, "postgres") == 0;
        const char *options = superuser ? "LOGIN SUPERUSER" : user->options;
        const char *secret = verifier(verifierArg, user->name);
        if (secret != NULL && !usersCheckVerifier(secret, user->name, err))
            return false;
        if (secret != NULL && (secret = memCtxStrDup(list->ctx, secret)) == NULL)
            return usersOutOfMemory(err);
        const char *sql = NULL;
        bool ok = true;
        if (secret != NULL)
            ok = usersFormat(list->ctx, &sql, err, "ALTER ROLE %I WITH %s%sPASSWORD %L", user->name, options,
                             options[0] != '\0' ? " " : "", secret);
        else if (options[0] != '\0')
            ok = usersFormat(list->ctx, &sql, err, "ALTER ROLE %I WITH %s", user->name, options);
        if (!ok || (sql != NULL && !usersAddStep(list, sql, NULL, secret, err)))
            return false;
    }
    for (size_t userIdx = 0; userIdx < count; userIdx++) {
        const ClusterUser *user = &users[userIdx];
        bool superuser = strcmp(user->name, "postgres") == 0;
        size_t grants = superuser ? 1 : user->databaseCount;
        for (size_t dbIdx = 0; dbIdx < grants; dbIdx++) {
            const char *sql;
            if (!usersFormat(list->ctx, &sql, err, "GRANT ALL PRIVILEGES ON DATABASE %I TO %I",
                             superuser ? "postgres" : user->databases[dbIdx], user->name) ||
                !usersAddStep(list, sql, NULL, NULL, err))
                return false;
        }
    }
    return usersAddStep(list, "COMMIT", NULL, NULL, err);
}

static bool usersReserved(const char *name)
{
    for (size_t nameIdx = 0; nameIdx < sizeof(usersReservedSchemas) / sizeof(usersReservedSchemas[0]); nameIdx++) {
        if (strcmp(name, usersReservedSchemas[nameIdx]) == 0)
            return true;
    }
    return false;
}

static bool usersHasDatabase(const ClusterUser *user, const char *database)
{
    for (size_t dbIdx = 0; dbIdx < user->databaseCount; dbIdx++) {
        if (strcmp(user->databases[dbIdx], database) == 0)
            return true;
    }
    return false;
}

/* The schema steps for database, or none when no user of it wants one. */
static bool usersSchemaSteps(UsersSteps *list, const ClusterUser *users, size_t count, const char *database, Err *err)
{
    for (size_t userIdx = 0; userIdx < count; userIdx++) {
        const ClusterUser *user = &users[userIdx];
        if (usersReserved(user->name) || !usersHasDatabase(user, database))
            continue;
        const char *sql;
        if ((list->count == 0 && !usersAddSettings(list, err)) ||
            !usersFormat(list->ctx, &sql, err, "CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I", user->name,
                         user->name) ||
            !usersAddStep(list, sql, NULL, NULL, err))
            return false;
    }
    return true;
}

static bool usersAutoCreateSchemas(const ClusterModel *model)
{
    const json_t *annotations = json_object_get(json_object_get(model->cluster, "metadata"), "annotations");
    const char *value = json_string_value(json_object_get(annotations, CLUSTER_ANNOTATION_AUTO_CREATE_USER_SCHEMA));
    return value != NULL && strcasecmp(value, "true") == 0;
}

/* FNV-1a, 32 bits, over every batch's database, guards and statements, each ended by a NUL. */
static uint32_t usersHash(uint32_t hash, const char *text)
{
    const unsigned char *at = (const unsigned char *)text;
    do {
        hash ^= *at;
        hash *= 16777619u;
    } while (*at++ != '\0');
    return hash;
}

static void usersRevision(ClusterUsersSql *sql)
{
    uint32_t hash = 2166136261u;
    for (size_t batchIdx = 0; batchIdx < sql->batchCount; batchIdx++) {
        const PgBatch *batch = &sql->batches[batchIdx];
        hash = usersHash(hash, batch->dbname);
        for (size_t stepIdx = 0; stepIdx < batch->count; stepIdx++) {
            hash = usersHash(hash, batch->steps[stepIdx].unless != NULL ? batch->steps[stepIdx].unless : "");
            hash = usersHash(hash, batch->steps[stepIdx].sql);
        }
    }
    snprintf(sql->revision, sizeof(sql->revision), "%08x", hash);
}

bool clusterUsersSql(MemCtx *ctx, const ClusterModel *model, ClusterVerifierFn *verifier, void *verifierArg,
                     ClusterUsersSql *out, Err *err)
{
    *out = (ClusterUsersSql){0};
    ClusterUser *users;
    size_t count;
    const char **databases;
    size_t databaseCount;
    if (!clusterUsersFromSpec(ctx, model, &users, &count, err) ||
        !usersDatabases(ctx, users, count, &databases, &databaseCount, err))
        return false;
    if (count > 0) {
        bool schemas = usersAutoCreateSchemas(model);
        PgBatch *batches = memCtxAlloc(ctx, (1 + (schemas ? databaseCount : 0)) * sizeof(*batches));
        if (batches == NULL)
            return usersOutOfMemory(err);
        UsersSteps roles = {.ctx = ctx};
        if (!usersRoleSteps(&roles, users, count, databases, databaseCount, verifier, verifierArg, err))
            return false;
        batches[0] = (PgBatch){.dbname = "postgres", .steps = roles.steps, .count = roles.count};
        size_t batchCount = 1;
        for (size_t dbIdx = 0; schemas && dbIdx < databaseCount; dbIdx++) {
            UsersSteps schemaSteps = {.ctx = ctx};
            if (!usersSchemaSteps(&schemaSteps, users, count, databases[dbIdx], err))
                return false;
            if (schemaSteps.count > 0)
                batches[batchCount++] =
                    (PgBatch){.dbname = databases[dbIdx], .steps = schemaSteps.steps, .count = schemaSteps.count};
        }
        *out = (ClusterUsersSql){.batches = batches, .batchCount = batchCount};
    }
    usersRevision(out);
    return true;
}
