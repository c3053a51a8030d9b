/* SQL sessions over libpq's asynchronous API (see postgres.h).
 *
 * A session is a small state machine fed by two loop callbacks, one for its socket and one for its timer:
 *
 *     idle --connect--> connecting --PQconnectPoll OK--> guard? --no row--> statement --> next step ...
 *                                                          \--a row: skip the step--/
 *
 * Connecting follows libpq's protocol: call PQconnectPoll when the socket is ready for what the previous call asked
 * (writing, at first), re-reading PQsocket every time because libpq may open a new socket for another address or
 * after an SSL refusal. A query is sent with PQsendQuery on a non-blocking connection, flushed while PQflush says
 * data is pending, and its results collected with PQconsumeInput / PQisBusy / PQgetResult until the NULL result
 * that ends it. libpq checks connect_timeout only in its blocking calls, so both deadlines (the connection's and the
 * session's) are kept here, on one loop timer armed for the earlier.
 *
 * The first timer tick, armed by pgSessionStart with no delay, opens the first connection: done is thus always
 * called from the loop, and the caller holds its PgSession pointer before anything can finish. A session ends by
 * freeing its context, whose callback unwatches the socket, closes the connection, frees the timer and closes the
 * memory files; done runs after that, so it may start a new session at once. Notices (CREATE ... IF NOT EXISTS
 * reports "skipping") are dropped rather than printed by libpq's default receiver on stderr. */
#include "pgsql/session.h"

#include <errno.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define PG_DEFAULT_TIMEOUT_MS         30000
#define PG_STATEMENT_SHOWN            80 /* characters of a failed statement quoted in its error */
#define PG_REDACTED                   "[redacted]"

typedef enum PgPhase {
    pgPhaseIdle, /* no connection: before the first batch, or between two */
    pgPhaseConnecting,
    pgPhaseGuard,     /* running the current step's unless query */
    pgPhaseStatement, /* running the current step's sql */
    pgPhaseDone,
} PgPhase;

/* A PEM in an anonymous memory file, and the path through which libpq opens it. */
typedef struct PgMemFile {
    int fd; /* -1: none */
    char path[32];
} PgMemFile;

struct PgSession {
    MemCtx *ctx;
    Loop *loop;
    LoopTimer *timer;
    PgDoneFn *done;
    void *arg;

    /* The target, copied. */
    char *hostaddr;
    char *host;
    char *user;
    char *password; /* NULL: none; wiped when the session is freed */
    char port[8];
    bool verifyCaOnly;
    bool readWrite;
    int64_t connectTimeoutMs;
    int64_t timeoutMs;
    PgMemFile ca;
    PgMemFile cert;
    PgMemFile key;

    PgBatch *batches; /* copies, strings included */
    size_t batchCount;
    size_t batchIdx;
    size_t stepIdx;

    bool begun; /* the first timer tick has run */
    PgPhase phase;
    PGconn *conn;      /* the current batch's connection, or NULL */
    int fd;            /* the socket being watched, or -1 */
    bool flushing;     /* PQflush has data left to send */
    bool guardMatched; /* the guard under way returned a row */
    int64_t deadlineMs;
    int64_t connectDeadlineMs;
};

static void sessionMemFileClose(PgMemFile *file)
{
    if (file->fd >= 0)
        close(file->fd);
    file->fd = -1;
}

static void sessionRelease(void *arg)
{
    PgSession *session = arg;
    if (session->fd >= 0)
        loopUnwatch(session->loop, session->fd);
    PQfinish(session->conn);
    loopTimerFree(session->timer);
    sessionMemFileClose(&session->ca);
    sessionMemFileClose(&session->cert);
    sessionMemFileClose(&session->key);
    if (session->password != NULL)
        OPENSSL_cleanse(session->password, strlen(session->password));
}

/* Copies text into out (size bytes, always terminated, truncated to fit) with every occurrence of secret replaced
 * by PG_REDACTED and control characters by spaces, so a message is one line and shows no secret. The replacement
 * works on the whole of text before anything is cut, so no part of a secret can survive truncation. */
static void sessionRedact(char *out, size_t size, const char *text, const char *secret)
{
    size_t secretLen = secret != NULL ? strlen(secret) : 0;
    size_t used = 0;
    while (*text != '\0' && used + 1 < size) {
        if (secretLen > 0 && strncmp(text, secret, secretLen) == 0) {
            size_t room = size - 1 - used;
            size_t take = room < sizeof(PG_REDACTED) - 1 ? room : sizeof(PG_REDACTED) - 1;
            memcpy(out + used, PG_REDACTED, take);
            used += take;
            text += secretLen;
            continue;
        }
        unsigned char c = (unsigned char)*text++;
        out[used++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[used] = '\0';
}

/* libpq's message for the connection, first line only ("connection to server at ... failed: ..."), with the
 * password redacted should libpq ever quote it (it does not today). */
static void sessionConnMessage(const PgSession *session, char *out, size_t size)
{
    const char *message = PQerrorMessage(session->conn);
    size_t len = strcspn(message, "\n");
    char firstLine[ERR_MESSAGE_MAX];
    snprintf(firstLine, sizeof(firstLine), "%.*s", (int)len, message);
    sessionRedact(out, size, firstLine, session->password);
}

static const char *sessionDbname(const PgSession *session)
{
    return session->batches[session->batchIdx].dbname;
}

static void sessionIgnoreNotice(void *arg, const PGresult *result)
{
    (void)arg;
    (void)result;
}

/* Ends the session: frees it, then reports result. */
static void sessionFinish(PgSession *session, const Err *result)
{
    PgDoneFn *done = session->done;
    void *arg = session->arg;
    Err copy = *result;
    memCtxFree(session->ctx);
    done(arg, &copy);
}

/* After a handler's work: reports a failure, or success once the last step has run. */
static void sessionSettle(PgSession *session, bool ok, Err *err)
{
    if (!ok) {
        sessionFinish(session, err);
    } else if (session->phase == pgPhaseDone) {
        errClear(err);
        sessionFinish(session, err);
    }
}

/* Arms the timer for the earlier of the session's deadline and, while connecting, the connection's. */
static void sessionArm(PgSession *session)
{
    int64_t dueMs = session->deadlineMs;
    if (session->phase == pgPhaseConnecting && session->connectDeadlineMs < dueMs)
        dueMs = session->connectDeadlineMs;
    loopTimerStart(session->timer, dueMs - clockMonotonicMs(loopClock(session->loop)));
}

static void sessionOnSocket(void *arg, int fd, unsigned events);

/* Watches the connection's current socket for events, dropping the watch of a socket libpq replaced. */
static bool sessionWatch(PgSession *session, unsigned events, Err *err)
{
    int fd = PQsocket(session->conn);
    if (fd != session->fd && session->fd >= 0)
        loopUnwatch(session->loop, session->fd);
    session->fd = -1;
    if (fd < 0)
        return errSet(err, errPostgres, "lost the connection to database \"%s\": no socket", sessionDbname(session));
    if (!loopWatch(session->loop, fd, events, sessionOnSocket, session, err)) {
        loopUnwatch(session->loop, fd); /* the previous watch of the same socket, if any */
        return errPrefix(err, "postgres session");
    }
    session->fd = fd;
    return true;
}

static void sessionClose(PgSession *session)
{
    if (session->fd >= 0)
        loopUnwatch(session->loop, session->fd);
    session->fd = -1;
    PQfinish(session->conn);
    session->conn = NULL;
    session->flushing = false;
    session->phase = pgPhaseIdle;
}

static bool sessionConnect(PgSession *session, Err *err)
{
    const char *keys[20];
    const char *values[20];
    size_t count = 0;
#define PG_PARAM(k, v) (keys[count] = (k), values[count] = (v), count++)
    PG_PARAM("hostaddr", session->hostaddr);
    PG_PARAM("host", session->host != NULL ? session->host : session->hostaddr); /* verify-full needs a name */
    PG_PARAM("port", session->port);
    PG_PARAM("dbname", sessionDbname(session));
    PG_PARAM("user", session->user);
    if (session->password != NULL) {
        PG_PARAM("password", session->password);
        PG_PARAM("channel_binding", "require");
    }
    PG_PARAM("sslmode", session->verifyCaOnly ? "verify-ca" : "verify-full");
    PG_PARAM("sslrootcert", session->ca.path);
    if (session->cert.fd >= 0) {
        PG_PARAM("sslcert", session->cert.path);
        PG_PARAM("sslkey", session->key.path);
    }
    PG_PARAM("gssencmode", "disable");
    PG_PARAM("client_encoding", "UTF8");
    PG_PARAM("application_name", "postgres-operator");
    if (session->readWrite)
        PG_PARAM("target_session_attrs", "read-write");
#undef PG_PARAM
    keys[count] = NULL;
    values[count] = NULL;

    session->conn = PQconnectStartParams(keys, values, 0);
    if (session->conn == NULL)
        return errSet(err, errOutOfMemory, "out of memory connecting to postgres");
    PQsetNoticeReceiver(session->conn, sessionIgnoreNotice, NULL);
    if (PQstatus(session->conn) == CONNECTION_BAD) {
        char message[ERR_MESSAGE_MAX];
        sessionConnMessage(session, message, sizeof(message));
        return errSet(err, errPostgres, "cannot connect to database \"%s\": %s", sessionDbname(session), message);
    }
    session->phase = pgPhaseConnecting;
    session->connectDeadlineMs = clockMonotonicMs(loopClock(session->loop)) + session->connectTimeoutMs;
    sessionArm(session);
    return sessionWatch(session, LOOP_WRITABLE, err);
}

/* Sends the next query, or moves to the next batch, or finishes (phase done). */
static bool sessionAdvance(PgSession *session, Err *err);

static bool sessionFlush(PgSession *session, Err *err)
{
    int pending = PQflush(session->conn);
    if (pending < 0) {
        char message[ERR_MESSAGE_MAX];
        sessionConnMessage(session, message, sizeof(message));
        return errSet(err, errPostgres, "lost the connection to database \"%s\": %s", sessionDbname(session), message);
    }
    session->flushing = pending > 0;
    return sessionWatch(session, LOOP_READABLE | (session->flushing ? LOOP_WRITABLE : 0u), err);
}

static bool sessionSend(PgSession *session, PgPhase phase, const char *query, Err *err)
{
    session->phase = phase;
    session->guardMatched = false;
    if (!PQsendQuery(session->conn, query)) {
        char message[ERR_MESSAGE_MAX];
        sessionConnMessage(session, message, sizeof(message));
        return errSet(err, errPostgres, "cannot send a statement to database \"%s\": %s", sessionDbname(session),
                      message);
    }
    return sessionFlush(session, err);
}

static bool sessionAdvance(PgSession *session, Err *err)
{
    for (;;) {
        if (session->batchIdx == session->batchCount) {
            session->phase = pgPhaseDone;
            return true;
        }
        const PgBatch *batch = &session->batches[session->batchIdx];
        if (session->conn == NULL)
            return sessionConnect(session, err);
        if (session->stepIdx < batch->count) {
            const PgStep *step = &batch->steps[session->stepIdx];
            if (step->unless != NULL)
                return sessionSend(session, pgPhaseGuard, step->unless, err);
            return sessionSend(session, pgPhaseStatement, step->sql, err);
        }
        sessionClose(session);
        session->batchIdx++;
        session->stepIdx = 0;
    }
}

/* The error of a failed result: the server's primary message and SQLSTATE, and the start of the query. */
static bool sessionResultError(PgSession *session, const PGresult *result, Err *err)
{
    const PgStep *step = &session->batches[session->batchIdx].steps[session->stepIdx];
    const char *query = session->phase == pgPhaseGuard ? step->unless : step->sql;
    const char *primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char *sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    char message[ERR_MESSAGE_MAX];
    char shown[ERR_MESSAGE_MAX];
    if (primary != NULL) {
        sessionRedact(message, sizeof(message), primary, step->secret);
    } else {
        const char *full = PQresultErrorMessage(result);
        char firstLine[ERR_MESSAGE_MAX];
        snprintf(firstLine, sizeof(firstLine), "%.*s", (int)strcspn(full, "\n"), full);
        sessionRedact(message, sizeof(message), firstLine, step->secret);
    }
    sessionRedact(shown, sizeof(shown), query, step->secret);
    if (strlen(shown) > PG_STATEMENT_SHOWN)
        memcpy(shown + PG_STATEMENT_SHOWN - 3, "...", 4);
    return errSet(err, errPostgres, "database \"%s\" rejected %s: %s (SQLSTATE %s)", sessionDbname(session), shown,
                  message, sqlstate != NULL ? sqlstate : "unknown");
}

static bool sessionCheckResult(PgSession *session, const PGresult *result, Err *err)
{
    switch (PQresultStatus(result)) {
        case PGRES_TUPLES_OK:
            if (session->phase == pgPhaseGuard && PQntuples(result) > 0)
                session->guardMatched = true;
            return true;
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            return true;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            return errSet(err, errPostgres, "a statement for database \"%s\" started COPY, which sessions do not run",
                          sessionDbname(session));
        default:
            return sessionResultError(session, result, err);
    }
}

/* The query under way has returned its last result. */
static bool sessionQueryDone(PgSession *session, Err *err)
{
    if (session->phase == pgPhaseGuard && !session->guardMatched) {
        const PgStep *step = &session->batches[session->batchIdx].steps[session->stepIdx];
        return sessionSend(session, pgPhaseStatement, step->sql, err);
    }
    session->stepIdx++;
    return sessionAdvance(session, err);
}

/* Reads what the server sent and handles every complete result. */
static bool sessionReceive(PgSession *session, unsigned events, Err *err)
{
    if (events & (LOOP_READABLE | LOOP_ERROR) && !PQconsumeInput(session->conn)) {
        char message[ERR_MESSAGE_MAX];
        sessionConnMessage(session, message, sizeof(message));
        return errSet(err, errPostgres, "lost the connection to database \"%s\": %s", sessionDbname(session), message);
    }
    if (session->flushing && !sessionFlush(session, err))
        return false;
    while (!PQisBusy(session->conn)) {
        PGresult *result = PQgetResult(session->conn);
        if (result == NULL)
            return sessionQueryDone(session, err);
        bool ok = sessionCheckResult(session, result, err);
        PQclear(result);
        if (!ok)
            return false;
    }
    return true;
}

static bool sessionPollConnect(PgSession *session, Err *err)
{
    switch (PQconnectPoll(session->conn)) {
        case PGRES_POLLING_READING:
            return sessionWatch(session, LOOP_READABLE, err);
        case PGRES_POLLING_WRITING:
            return sessionWatch(session, LOOP_WRITABLE, err);
        case PGRES_POLLING_OK:
            if (PQsetnonblocking(session->conn, 1) != 0)
                return errSet(err, errPostgres, "cannot make the connection to database \"%s\" non-blocking",
                              sessionDbname(session));
            session->phase = pgPhaseIdle;
            sessionArm(session);
            return sessionAdvance(session, err);
        default: {
            char message[ERR_MESSAGE_MAX];
            sessionConnMessage(session, message, sizeof(message));
            return errSet(err, errPostgres, "cannot connect to database \"%s\": %s", sessionDbname(session), message);
        }
    }
}

static void sessionOnSocket(void *arg, int fd, unsigned events)
{
    (void)fd;
    PgSession *session = arg;
    Err err;
    bool ok =
        session->phase == pgPhaseConnecting ? sessionPollConnect(session, &err) : sessionReceive(session, events, &err);
    sessionSettle(session, ok, &err);
}

static void sessionOnTimer(void *arg)
{
    PgSession *session = arg;
    Err err;
    if (!session->begun) {
        session->begun = true;
        sessionSettle(session, sessionAdvance(session, &err), &err);
        return;
    }
    int64_t nowMs = clockMonotonicMs(loopClock(session->loop));
    if (nowMs >= session->deadlineMs) {
        errSet(&err, errTimeout, "postgres session timed out after %lld ms in database \"%s\"",
               (long long)session->timeoutMs, sessionDbname(session));
        sessionFinish(session, &err);
    } else if (session->phase == pgPhaseConnecting && nowMs >= session->connectDeadlineMs) {
        errSet(&err, errTimeout, "timed out after %lld ms connecting to database \"%s\" at %s port %s",
               (long long)session->connectTimeoutMs, sessionDbname(session), session->hostaddr, session->port);
        sessionFinish(session, &err);
    } else {
        sessionArm(session);
    }
}

/* A copy of text in the session's context; NULL stays NULL. */
static bool sessionCopy(PgSession *session, const char *text, char **out, Err *err)
{
    *out = NULL;
    if (text != NULL && (*out = memCtxStrDup(session->ctx, text)) == NULL)
        return errSet(err, errOutOfMemory, "out of memory starting a postgres session");
    return true;
}

static bool sessionCopyBatches(PgSession *session, const PgBatch *batches, size_t count, Err *err)
{
    session->batches = count > 0 ? memCtxAlloc(session->ctx, count * sizeof(*batches)) : NULL;
    if (count > 0 && session->batches == NULL)
        return errSet(err, errOutOfMemory, "out of memory starting a postgres session");
    session->batchCount = count;
    for (size_t batchIdx = 0; batchIdx < count; batchIdx++) {
        const PgBatch *source = &batches[batchIdx];
        PgBatch *batch = &session->batches[batchIdx];
        char *dbname;
        if (!sessionCopy(session, source->dbname, &dbname, err))
            return false;
        PgStep *steps = source->count > 0 ? memCtxAlloc(session->ctx, source->count * sizeof(*steps)) : NULL;
        if (source->count > 0 && steps == NULL)
            return errSet(err, errOutOfMemory, "out of memory starting a postgres session");
        *batch = (PgBatch){.dbname = dbname, .steps = steps, .count = source->count};
        for (size_t stepIdx = 0; stepIdx < source->count; stepIdx++) {
            const PgStep *step = &source->steps[stepIdx];
            char *sql, *unless, *secret;
            if (!sessionCopy(session, step->sql, &sql, err) || !sessionCopy(session, step->unless, &unless, err) ||
                !sessionCopy(session, step->secret, &secret, err))
                return false;
            steps[stepIdx] = (PgStep){.sql = sql, .unless = unless, .secret = secret};
        }
    }
    return true;
}

/* Puts pem into an anonymous memory file readable by this process only. */
static bool sessionMemFile(PgMemFile *file, const char *name, const char *pem, Err *err)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return errSetSys(err, errSystem, "cannot create a memory file for the postgres %s", name);
    file->fd = fd;
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0)
        return errSetSys(err, errSystem, "cannot restrict the memory file for the postgres %s", name);
    size_t len = strlen(pem);
    while (len > 0) {
        ssize_t written = write(fd, pem, len);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return errSetSys(err, errSystem, "cannot write the memory file for the postgres %s", name);
        pem += written;
        len -= (size_t)written;
    }
    snprintf(file->path, sizeof(file->path), "/proc/self/fd/%d", fd);
    return true;
}

static bool sessionCheckArguments(const PgTarget *target, const PgBatch *batches, size_t count, Err *err)
{
    if (target->hostaddr == NULL || target->hostaddr[0] == '\0')
        return errSet(err, errInvalidArgument, "a postgres session needs the server's address");
    if (target->port <= 0 || target->port > 65535)
        return errSet(err, errInvalidArgument, "postgres port %d is out of range", target->port);
    if (target->user == NULL || target->user[0] == '\0')
        return errSet(err, errInvalidArgument, "a postgres session needs a user name");
    if (target->caPem == NULL)
        return errSet(err, errInvalidArgument, "a postgres session needs the CA certificate");
    if ((target->certPem == NULL) != (target->keyPem == NULL))
        return errSet(err, errInvalidArgument,
                      "a postgres client certificate needs its key, and the key its certificate");
    if (target->connectTimeoutMs < 0 || target->timeoutMs < 0)
        return errSet(err, errInvalidArgument, "postgres timeouts cannot be negative");
    for (size_t batchIdx = 0; batchIdx < count; batchIdx++) {
        if (batches[batchIdx].dbname == NULL || batches[batchIdx].dbname[0] == '\0')
            return errSet(err, errInvalidArgument, "postgres batch %zu has no database name", batchIdx);
        for (size_t stepIdx = 0; stepIdx < batches[batchIdx].count; stepIdx++) {
            if (batches[batchIdx].steps[stepIdx].sql == NULL)
                return errSet(err, errInvalidArgument, "postgres batch %zu step %zu has no sql", batchIdx, stepIdx);
        }
    }
    return true;
}

bool pgSessionStart(MemCtx *parent, Loop *loop, const PgTarget *target, const PgBatch *batches, size_t count,
                    PgDoneFn *done, void *arg, PgSession **out, Err *err)
{
    if (!sessionCheckArguments(target, batches, count, err))
        return false;
    MemCtx *ctx = memCtxNew(parent, "postgres session");
    PgSession *session = ctx != NULL ? memCtxAlloc(ctx, sizeof(*session)) : NULL;
    if (session == NULL) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory starting a postgres session");
    }
    *session = (PgSession){
        .ctx = ctx,
        .loop = loop,
        .done = done,
        .arg = arg,
        .verifyCaOnly = target->verifyCaOnly,
        .readWrite = target->readWrite,
        .connectTimeoutMs = target->connectTimeoutMs > 0 ? target->connectTimeoutMs : PG_DEFAULT_CONNECT_TIMEOUT_MS,
        .timeoutMs = target->timeoutMs > 0 ? target->timeoutMs : PG_DEFAULT_TIMEOUT_MS,
        .ca = {.fd = -1},
        .cert = {.fd = -1},
        .key = {.fd = -1},
        .fd = -1,
    };
    snprintf(session->port, sizeof(session->port), "%d", target->port);
    if (!memCtxOnFree(ctx, sessionRelease, session)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory starting a postgres session");
    }
    bool ok = sessionCopy(session, target->hostaddr, &session->hostaddr, err) &&
              sessionCopy(session, target->host, &session->host, err) &&
              sessionCopy(session, target->user, &session->user, err) &&
              sessionCopy(session, target->password, &session->password, err) &&
              sessionCopyBatches(session, batches, count, err) &&
              sessionMemFile(&session->ca, "ca-certificate", target->caPem, err) &&
              (target->certPem == NULL || (sessionMemFile(&session->cert, "client-certificate", target->certPem, err) &&
                                           sessionMemFile(&session->key, "client-key", target->keyPem, err)));
    if (ok && (session->timer = loopTimerNew(loop, sessionOnTimer, session)) == NULL)
        ok = errSet(err, errOutOfMemory, "out of memory starting a postgres session");
    if (!ok) {
        memCtxFree(ctx);
        return false;
    }
    session->deadlineMs = clockMonotonicMs(loopClock(loop)) + session->timeoutMs;
    loopTimerStart(session->timer, 0);
    *out = session;
    return true;
}

void pgSessionCancel(PgSession *session)
{
    if (session != NULL)
        memCtxFree(session->ctx);
}
