/* Unit tests: pgsql/session and pgsql/sql.
 *
 * Without a server: quoting, argument checks, a refused connection, a listener that never answers (connection and
 * session timeouts), cancellation, and the allocation sweep of pgSessionStart. With PostgreSQL's initdb and pg_ctl
 * on PATH, a throw-away server (TLS, client-certificate authentication mapped to the superuser) checks sessions,
 * verify-full against verify-ca (a certificate naming other hosts), server errors, redaction, the quoting under both
 * settings of standard_conforming_strings, the users' SQL of postgres/users.h end to end, and the operator's login
 * (pg_hba "scram-sha-256 clientcert=verify-full": certificate and password both); without them those
 * tests are skipped with the reason. As root the server runs as the user "postgres" (PostgreSQL refuses to run as
 * root). */
#include "harness/harness.h"

#include "common/alloc.h"
#include "harness/golden.h"
#include "harness/tlscert.h"
#include "pgsql/scram.h"
#include "pgsql/session.h"
#include "postgres/users.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Never parsed: nothing in these tests gets as far as TLS without a server. */
#define FAKE_PEM "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"

/* --- quoting --- */

static void assertIdent(const char *ident, const char *want)
{
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 1 << 20);
    Err err;
    assert_true(pgQuoteIdent(&buf, ident, &err));
    assert_string_equal(strBufStr(&buf), want);
    memCtxFree(ctx);
}

static void assertLiteral(const char *text, const char *want)
{
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 1 << 20);
    Err err;
    assert_true(pgQuoteLiteral(&buf, text, &err));
    assert_string_equal(strBufStr(&buf), want);
    memCtxFree(ctx);
}

static void testQuoteIdent(void **state)
{
    (void)state;
    assertIdent("hippo", "\"hippo\"");
    assertIdent("Hippo", "\"Hippo\"");
    assertIdent("a b", "\"a b\"");
    assertIdent("a\"b", "\"a\"\"b\"");
    assertIdent("\"", "\"\"\"\"");
    assertIdent("\"\"x\"", "\"\"\"\"\"x\"\"\"");
    assertIdent("back\\slash", "\"back\\slash\"");
    assertIdent("it's", "\"it's\"");
    assertIdent("ünïcødé 名前 🐘", "\"ünïcødé 名前 🐘\"");
    assertIdent("select", "\"select\"");
    char longest[PG_IDENTIFIER_MAX + 2];
    memset(longest, 'x', PG_IDENTIFIER_MAX);
    longest[PG_IDENTIFIER_MAX] = '\0';
    char quoted[PG_IDENTIFIER_MAX + 8];
    snprintf(quoted, sizeof(quoted), "\"%s\"", longest);
    assertIdent(longest, quoted);

    MemCtx *ctx = memCtxNew(NULL, "t");
    StrBuf buf;
    strBufInit(&buf, ctx, 1 << 20);
    Err err;
    longest[PG_IDENTIFIER_MAX] = 'x';
    longest[PG_IDENTIFIER_MAX + 1] = '\0';
    assert_false(pgQuoteIdent(&buf, longest, &err));
    assert_err(&err, errInvalidArgument);
    assert_contains(err.message, "longer than the 63 bytes");
    assert_false(pgQuoteIdent(&buf, "", &err));
    assert_err(&err, errInvalidArgument);
    /* 63 bytes counted as bytes, not characters: 32 two-byte characters are 64 bytes. */
    char wide[80] = "";
    for (int charIdx = 0; charIdx < 32; charIdx++)
        strcat(wide, "é");
    assert_false(pgQuoteIdent(&buf, wide, &err));
    assert_err(&err, errInvalidArgument);
    /* Every bound too small for the quoted form fails, wherever it falls. */
    static const char bounded[] = "a\"b\"\"c";
    size_t full = strlen("\"a\"\"b\"\"\"\"c\"");
    for (size_t limit = 0; limit <= full; limit++) {
        StrBuf tiny;
        strBufInit(&tiny, ctx, limit);
        bool ok = pgQuoteIdent(&tiny, bounded, &err);
        assert_int_equal(ok, limit == full);
        if (!ok)
            assert_err(&err, errTooLarge);
        strBufFree(&tiny);
    }
    memCtxFree(ctx);
}

static void testQuoteLiteral(void **state)
{
    (void)state;
    assertLiteral("", "''");
    assertLiteral("plain", "'plain'");
    assertLiteral("it's", "'it''s'");
    assertLiteral("''", "''''''");
    assertLiteral("'", "''''");
    assertLiteral("\\", "E'\\\\'");
    assertLiteral("back\\slash", "E'back\\\\slash'");
    assertLiteral("\\'", "E'\\\\'''");
    assertLiteral("'\\'", "E'''\\\\'''");
    assertLiteral("say \"hi\"", "'say \"hi\"'");
    assertLiteral("$$dollar$$", "'$$dollar$$'");
    assertLiteral("line\nbreak\ttab", "'line\nbreak\ttab'");
    assertLiteral("ünïcødé 名前 🐘", "'ünïcødé 名前 🐘'");
    assertLiteral("SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5", "'SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5'");

    /* Long text: every quote doubled, nothing lost. */
    MemCtx *ctx = memCtxNew(NULL, "t");
    char *text = memCtxAlloc(ctx, 30001);
    for (size_t at = 0; at < 30000; at++)
        text[at] = "ab'c"[at % 4];
    StrBuf buf;
    strBufInit(&buf, ctx, 1 << 20);
    Err err;
    assert_true(pgQuoteLiteral(&buf, text, &err));
    assert_int_equal(buf.len, 30000 + 7500 + 2);
    static const char *const bounded[][2] = {{"it's 'a' \\ x", "E'it''s ''a'' \\\\ x'"}, {"a'b", "'a''b'"}};
    for (size_t boundedIdx = 0; boundedIdx < 2; boundedIdx++) {
        size_t full = strlen(bounded[boundedIdx][1]);
        for (size_t limit = 0; limit <= full; limit++) {
            StrBuf tiny;
            strBufInit(&tiny, ctx, limit);
            bool ok = pgQuoteLiteral(&tiny, bounded[boundedIdx][0], &err);
            assert_int_equal(ok, limit == full);
            if (ok)
                assert_string_equal(strBufStr(&tiny), bounded[boundedIdx][1]);
            else
                assert_err(&err, errTooLarge);
            strBufFree(&tiny);
        }
    }
    memCtxFree(ctx);
}

/* --- sessions without a server --- */

typedef struct DoneProbe {
    int calls;
    Err err;
} DoneProbe;

static void onDone(void *arg, const Err *err)
{
    DoneProbe *probe = arg;
    probe->calls++;
    probe->err = *err;
}

typedef struct Fixture {
    MemCtx *ctx;
    Loop *loop;
} Fixture;

static int setUp(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    Err err;
    f->ctx = memCtxNew(NULL, "t");
    if (f->ctx == NULL || !loopNew(f->ctx, clockSystem(), &f->loop, &err))
        return -1;
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    Fixture *f = *state;
    memCtxFree(f->ctx);
    free(f);
    return 0;
}

static void runLoop(Loop *loop, const DoneProbe *probe, int64_t maxMs)
{
    Err err;
    int64_t deadline = clockMonotonicMs(clockSystem()) + maxMs;
    while ((probe == NULL || probe->calls == 0) && clockMonotonicMs(clockSystem()) < deadline)
        assert_true(loopRunOnce(loop, 20, &err));
}

static const PgStep selectOne[] = {{.sql = "SELECT 1"}};
static const PgBatch oneBatch[] = {{.dbname = "postgres", .steps = selectOne, .count = 1}};

/* A listening socket on 127.0.0.1 that accepts connections (in the kernel) and never answers. */
static int silentListener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(address);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &len), 0);
    *port = ntohs(address.sin_port);
    return fd;
}

/* Open file descriptors of this process: a finished or cancelled session leaves none behind (memory files,
 * sockets). */
static int openFds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int count = 0;
    assert_non_null(dir);
    while (readdir(dir) != NULL)
        count++;
    closedir(dir);
    return count;
}

static void testArguments(void **state)
{
    Fixture *f = *state;
    const PgTarget good = {.hostaddr = "127.0.0.1", .port = 5432, .user = "postgres", .caPem = FAKE_PEM};
    PgTarget target;
    PgSession *session = NULL;
    DoneProbe probe = {0};
    Err err;

    target = good;
    target.hostaddr = "";
    assert_false(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_err(&err, errInvalidArgument);
    target = good;
    target.hostaddr = NULL;
    assert_false(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_err(&err, errInvalidArgument);
    target = good;
    target.port = 0;
    assert_false(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_contains(err.message, "port 0");
    target.port = 65536;
    assert_false(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_err(&err, errInvalidArgument);
    target = good;
    target.user = NULL;
    assert_false(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_contains(err.message, "user");
    target = good;
    target.caPem = NULL;
    assert_false(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_contains(err.message, "CA");
    target = good;
    target.certPem = FAKE_PEM;
    assert_false(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_contains(err.message, "key");
    target = good;
    target.timeoutMs = -1;
    assert_false(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_err(&err, errInvalidArgument);

    const PgBatch noName[] = {{.dbname = "", .steps = selectOne, .count = 1}};
    assert_false(pgSessionStart(f->ctx, f->loop, &good, noName, 1, onDone, &probe, &session, &err));
    assert_contains(err.message, "batch 0");
    const PgStep noSql[] = {{.sql = "SELECT 1"}, {.unless = "SELECT 1"}};
    const PgBatch badStep[] = {{.dbname = "postgres", .steps = noSql, .count = 2}};
    assert_false(pgSessionStart(f->ctx, f->loop, &good, badStep, 1, onDone, &probe, &session, &err));
    assert_contains(err.message, "step 1");
    assert_null(session);
    runLoop(f->loop, NULL, 30);
    assert_int_equal(probe.calls, 0);
}

static void testNothingToDo(void **state)
{
    Fixture *f = *state;
    const PgTarget target = {.hostaddr = "127.0.0.1", .port = 1, .user = "postgres", .caPem = FAKE_PEM};
    PgSession *session;
    DoneProbe probe = {0};
    Err err;
    assert_true(pgSessionStart(f->ctx, f->loop, &target, NULL, 0, onDone, &probe, &session, &err));
    assert_int_equal(probe.calls, 0);
    runLoop(f->loop, &probe, 5000);
    assert_int_equal(probe.calls, 1);
    assert_err(&probe.err, errOk);
}

static void testRefused(void **state)
{
    Fixture *f = *state;
    const PgTarget target = {.hostaddr = "127.0.0.1",
                             .port = 1,
                             .user = "postgres",
                             .caPem = FAKE_PEM,
                             .certPem = FAKE_PEM,
                             .keyPem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"};
    PgSession *session;
    DoneProbe probe = {0};
    Err err;
    int fds = openFds();
    assert_true(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    assert_int_equal(openFds(), fds + 3); /* the CA, the certificate and the key */
    assert_int_equal(probe.calls, 0);     /* never from pgSessionStart */
    runLoop(f->loop, &probe, 5000);
    assert_int_equal(probe.calls, 1);
    assert_err(&probe.err, errPostgres);
    assert_contains(probe.err.message, "cannot connect to database \"postgres\"");
    assert_contains(probe.err.message, "Connection refused");
    assert_null(strchr(probe.err.message, '\n'));
    assert_null(strstr(probe.err.message, "not a key"));
    assert_true(errCodeRetryable(probe.err.code));
    assert_int_equal(openFds(), fds);

    /* libpq refuses at once (no socket yet): still reported from the loop. */
    PgTarget unparsable = target;
    unparsable.hostaddr = "not-an-address";
    probe = (DoneProbe){0};
    assert_true(pgSessionStart(f->ctx, f->loop, &unparsable, oneBatch, 1, onDone, &probe, &session, &err));
    assert_int_equal(probe.calls, 0);
    runLoop(f->loop, &probe, 5000);
    assert_int_equal(probe.calls, 1);
    assert_err(&probe.err, errPostgres);
    assert_contains(probe.err.message, "cannot connect to database \"postgres\": could not parse network address");
}

static void testConnectTimeout(void **state)
{
    Fixture *f = *state;
    int port;
    int listener = silentListener(&port);
    const PgTarget target = {
        .hostaddr = "127.0.0.1", .port = port, .user = "postgres", .caPem = FAKE_PEM, .connectTimeoutMs = 150};
    PgSession *session;
    DoneProbe probe = {0};
    Err err;
    int64_t started = clockMonotonicMs(clockSystem());
    assert_true(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    runLoop(f->loop, &probe, 5000);
    assert_int_equal(probe.calls, 1);
    assert_err(&probe.err, errTimeout);
    assert_contains(probe.err.message, "timed out after 150 ms connecting to database \"postgres\" at 127.0.0.1");
    assert_true(clockMonotonicMs(clockSystem()) - started >= 150);
    close(listener);
}

static void testSessionTimeout(void **state)
{
    Fixture *f = *state;
    int port;
    int listener = silentListener(&port);
    const PgTarget target = {
        .hostaddr = "127.0.0.1", .port = port, .user = "postgres", .caPem = FAKE_PEM, .timeoutMs = 120};
    PgSession *session;
    DoneProbe probe = {0};
    Err err;
    assert_true(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    runLoop(f->loop, &probe, 5000);
    assert_int_equal(probe.calls, 1);
    assert_err(&probe.err, errTimeout);
    assert_contains(probe.err.message, "postgres session timed out after 120 ms in database \"postgres\"");
    close(listener);
}

/* Waits up to ms for fd to be readable. */
static bool readable(int fd, int ms)
{
    struct pollfd poller = {.fd = fd, .events = POLLIN};
    return poll(&poller, 1, ms) == 1;
}

static void testCancel(void **state)
{
    Fixture *f = *state;
    int port;
    int listener = silentListener(&port);
    const PgTarget target = {.hostaddr = "127.0.0.1", .port = port, .user = "postgres", .caPem = FAKE_PEM};
    PgSession *session;
    DoneProbe probe = {0};
    Err err;

    /* Before the first iteration. */
    assert_true(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    pgSessionCancel(session);
    pgSessionCancel(NULL);
    runLoop(f->loop, NULL, 30);
    assert_int_equal(probe.calls, 0);

    /* While connected: the server sees the SSL request, then the end of the connection. */
    int fds = openFds();
    assert_true(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    runLoop(f->loop, NULL, 100);
    assert_true(readable(listener, 2000));
    int peer = accept(listener, NULL, NULL);
    assert_true(peer >= 0);
    char request[64];
    assert_true(readable(peer, 2000));
    assert_int_equal(read(peer, request, sizeof(request)), 8); /* length 8, code 80877103 */
    pgSessionCancel(session);
    assert_int_equal(openFds(), fds + 1); /* peer */
    assert_true(readable(peer, 2000));
    assert_int_equal(read(peer, request, sizeof(request)), 0);
    runLoop(f->loop, NULL, 30);
    assert_int_equal(probe.calls, 0);
    close(peer);

    /* Freeing the parent context cancels as well. */
    MemCtx *parent = memCtxNew(f->ctx, "parent");
    assert_true(pgSessionStart(parent, f->loop, &target, oneBatch, 1, onDone, &probe, &session, &err));
    runLoop(f->loop, NULL, 50);
    memCtxFree(parent);
    runLoop(f->loop, NULL, 30);
    assert_int_equal(probe.calls, 0);
    close(listener);
}

/* A done callback that starts the next session at once (the first is already freed). */
typedef struct Chain {
    Fixture *fixture;
    const PgTarget *target;
    int calls;
    PgSession *second;
    Err err;
} Chain;

static void onChainDone(void *arg, const Err *err)
{
    Chain *chain = arg;
    chain->calls++;
    chain->err = *err;
    if (chain->calls == 1)
        assert_true(pgSessionStart(chain->fixture->ctx, chain->fixture->loop, chain->target, oneBatch, 1, onChainDone,
                                   chain, &chain->second, &chain->err));
}

static void testStartFromDone(void **state)
{
    Fixture *f = *state;
    const PgTarget target = {.hostaddr = "127.0.0.1", .port = 1, .user = "postgres", .caPem = FAKE_PEM};
    Chain chain = {.fixture = f, .target = &target};
    PgSession *session;
    Err err;
    assert_true(pgSessionStart(f->ctx, f->loop, &target, oneBatch, 1, onChainDone, &chain, &session, &err));
    int64_t deadline = clockMonotonicMs(clockSystem()) + 5000;
    while (chain.calls < 2 && clockMonotonicMs(clockSystem()) < deadline)
        assert_true(loopRunOnce(f->loop, 20, &err));
    assert_int_equal(chain.calls, 2);
    assert_err(&chain.err, errPostgres);
}

static bool startAndCancel(void *arg, Err *err)
{
    Fixture *f = arg;
    static const PgStep steps[] = {
        {.sql = "CREATE DATABASE \"app\"", .unless = "SELECT 1 FROM pg_catalog.pg_database WHERE datname = 'app'"},
        {.sql = "ALTER ROLE \"app\" WITH PASSWORD 'x'", .secret = "x"}};
    static const PgBatch batches[] = {{.dbname = "postgres", .steps = steps, .count = 2},
                                      {.dbname = "app", .steps = steps, .count = 1}};
    const PgTarget target = {.hostaddr = "127.0.0.1",
                             .host = "localhost",
                             .port = 1,
                             .user = "postgres",
                             .caPem = FAKE_PEM,
                             .certPem = FAKE_PEM,
                             .keyPem = FAKE_PEM};
    PgSession *session;
    if (!pgSessionStart(f->ctx, f->loop, &target, batches, 2, onDone, NULL, &session, err))
        return false;
    pgSessionCancel(session);
    return true;
}

static void testStartAllocations(void **state)
{
    assert_true(harnessAllocSweep(startAndCancel, *state, false) > 10);
}

/* --- a live server --- */

typedef struct Live {
    bool up;
    bool broken;      /* initdb and pg_ctl exist but the server did not start: the live tests fail */
    char reason[256]; /* why the live tests are skipped or failed */
    char dir[64];
    char caPath[96];
    char certPath[96];
    char keyPath[96];
    int port;
    uid_t uid;
    gid_t gid;
    TestPki pki;
    Fixture fixture;
} Live;

/* Runs script with /bin/sh as the server's user; true when it exits 0. */
static bool liveRun(const Live *live, const char *script)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(live->gid) != 0 || setuid(live->uid) != 0))
            _exit(126);
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool liveWrite(const Live *live, const char *path, const char *text, bool own)
{
    FILE *file = fopen(path, "w");
    bool ok = file != NULL && fputs(text, file) >= 0;
    ok = file != NULL && fclose(file) == 0 && ok && chmod(path, 0600) == 0;
    return ok && (!own || geteuid() != 0 || chown(path, live->uid, live->gid) == 0);
}

static int liveFreePort(void)
{
    int port;
    int fd = silentListener(&port);
    close(fd);
    return port;
}

static int liveSetUp(void **state)
{
    Live *live = calloc(1, sizeof(*live));
    *state = live;
    if (system("command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1") != 0) {
        snprintf(live->reason, sizeof(live->reason), "initdb and pg_ctl are not on PATH");
        return 0;
    }
    live->uid = geteuid();
    live->gid = getegid();
    if (live->uid == 0) {
        const struct passwd *user = getpwnam("postgres");
        if (user == NULL) {
            snprintf(live->reason, sizeof(live->reason), "running as root and there is no user postgres to run as");
            return 0;
        }
        live->uid = user->pw_uid;
        live->gid = user->pw_gid;
    }
    strcpy(live->dir, "/tmp/pgo-live-XXXXXX");
    if (!testPkiGenerate(&live->pki) || mkdtemp(live->dir) == NULL ||
        (geteuid() == 0 && chown(live->dir, live->uid, live->gid) != 0))
        return -1;
    char path[128];
    snprintf(live->caPath, sizeof(live->caPath), "%s/client-ca.crt", live->dir);
    snprintf(live->certPath, sizeof(live->certPath), "%s/client.crt", live->dir);
    snprintf(live->keyPath, sizeof(live->keyPath), "%s/client.key", live->dir);
    bool ok = liveWrite(live, live->caPath, live->pki.caCert, false) &&
              liveWrite(live, live->certPath, live->pki.clientCert, false) &&
              liveWrite(live, live->keyPath, live->pki.clientKey, false);
    snprintf(path, sizeof(path), "%s/ca.crt", live->dir);
    ok = ok && liveWrite(live, path, live->pki.caCert, true);
    snprintf(path, sizeof(path), "%s/server.crt", live->dir);
    ok = ok && liveWrite(live, path, live->pki.serverCert, true);
    snprintf(path, sizeof(path), "%s/server.key", live->dir);
    ok = ok && liveWrite(live, path, live->pki.serverKey, true);
    if (!ok)
        return -1;

    live->port = liveFreePort();
    char script[2048];
    snprintf(script, sizeof(script),
             "set -e; cd %1$s\n"
             "initdb -D %1$s/data -U postgres -A trust -E UTF8 --locale=C --no-sync >%1$s/initdb.log 2>&1\n"
             "cat >>%1$s/data/postgresql.conf <<EOF\n"
             "listen_addresses = '127.0.0.1'\nport = %2$d\nunix_socket_directories = '%1$s'\n"
             "ssl = on\nssl_cert_file = '%1$s/server.crt'\nssl_key_file = '%1$s/server.key'\n"
             "ssl_ca_file = '%1$s/ca.crt'\nfsync = off\nmax_connections = 20\n"
             "EOF\n"
             "echo 'hostssl all postgres 127.0.0.1/32 cert map=test' >%1$s/data/pg_hba.conf\n"
             /* The operator's line of patroni/config.c, for the client certificate's name and for the operator's. */
             "echo 'hostssl all \"system:admin\" all scram-sha-256 clientcert=verify-full' >>%1$s/data/pg_hba.conf\n"
             "echo 'hostssl all \"_crunchyoperator\" all scram-sha-256 clientcert=verify-full' "
             ">>%1$s/data/pg_hba.conf\n"
             "echo 'test system:admin postgres' >%1$s/data/pg_ident.conf\n"
             "pg_ctl -D %1$s/data -l %1$s/server.log -w -t 60 start >/dev/null\n",
             live->dir, live->port);
    if (!liveRun(live, script)) {
        snprintf(script, sizeof(script), "cat %1$s/initdb.log %1$s/server.log >&2", live->dir);
        (void)!system(script);
        live->broken = true;
        snprintf(live->reason, sizeof(live->reason), "postgres did not start (its logs are on stderr)");
        return 0;
    }
    live->up = true;
    live->fixture.ctx = memCtxNew(NULL, "live");
    Err err;
    return loopNew(live->fixture.ctx, clockSystem(), &live->fixture.loop, &err) ? 0 : -1;
}

static int liveTearDown(void **state)
{
    Live *live = *state;
    char script[512];
    if (live->up || live->broken) {
        snprintf(script, sizeof(script), "pg_ctl -D %s/data -m immediate stop >/dev/null 2>&1", live->dir);
        (void)liveRun(live, script);
    }
    if (live->dir[0] == '/') {
        snprintf(script, sizeof(script), "rm -rf %s", live->dir);
        (void)!system(script);
    }
    memCtxFree(live->fixture.ctx);
    testPkiFree(&live->pki);
    free(live);
    return 0;
}

static Live *liveOrSkip(void **state)
{
    Live *live = *state;
    if (live->broken)
        fail_msg("%s", live->reason);
    if (!live->up) {
        print_message("# live postgres tests skipped: %s\n", live->reason);
        skip();
    }
    return live;
}

static PgTarget liveTarget(const Live *live)
{
    return (PgTarget){.hostaddr = "127.0.0.1",
                      .host = "localhost",
                      .port = live->port,
                      .user = "postgres",
                      .caPem = live->pki.caCert,
                      .certPem = live->pki.clientCert,
                      .keyPem = live->pki.clientKey,
                      .readWrite = true};
}

static Err liveSession(Live *live, const PgTarget *target, const PgBatch *batches, size_t count)
{
    PgSession *session;
    DoneProbe probe = {0};
    Err err;
    assert_true(
        pgSessionStart(live->fixture.ctx, live->fixture.loop, target, batches, count, onDone, &probe, &session, &err));
    runLoop(live->fixture.loop, &probe, 30000);
    assert_int_equal(probe.calls, 1);
    return probe.err;
}

static void liveIgnoreNotice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A blocking connection of the test's own, to check what sessions did. */
static PGconn *liveConnect(const Live *live, const char *dbname)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", live->port);
    const char *const keys[] = {"hostaddr",    "host",    "port",   "dbname",          "user", "sslmode",
                                "sslrootcert", "sslcert", "sslkey", "client_encoding", NULL};
    const char *const values[] = {"127.0.0.1",  "localhost",    port,          dbname, "postgres", "verify-full",
                                  live->caPath, live->certPath, live->keyPath, "UTF8", NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 0);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("cannot connect to the live server: %s", PQerrorMessage(conn));
    PQsetNoticeProcessor(conn, liveIgnoreNotice, NULL);
    return conn;
}

/* The first column of the first row of sql as text ("" for no row; NULL values as "NULL"). */
static void liveQuery(PGconn *conn, const char *sql, char *out, size_t size)
{
    PGresult *result = PQexec(conn, sql);
    if (PQresultStatus(result) != PGRES_TUPLES_OK && PQresultStatus(result) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(result));
    const char *value = PQntuples(result) == 0 ? "" : PQgetisnull(result, 0, 0) ? "NULL" : PQgetvalue(result, 0, 0);
    snprintf(out, size, "%s", value);
    PQclear(result);
}

static void assertQuery(PGconn *conn, const char *sql, const char *want)
{
    char have[1024];
    liveQuery(conn, sql, have, sizeof(have));
    if (strcmp(have, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", sql, have, want);
}

static void testLiveSteps(void **state)
{
    Live *live = liveOrSkip(state);
    const PgStep first[] = {
        {.sql = "CREATE TABLE live_steps (x int)"},
        {.sql = "CREATE TABLE IF NOT EXISTS live_steps (x int)"}, /* a notice, dropped */
        {.sql = "SELECT 1/0", .unless = "SELECT 1"},
        {.sql = "INSERT INTO live_steps VALUES (1)", .unless = "SELECT 1 WHERE false"},
        {.sql = "INSERT INTO live_steps VALUES (2); INSERT INTO live_steps VALUES (3)"},
        {.sql = ""},
        {.sql = "CREATE DATABASE live_second", .unless = "SELECT 1 FROM pg_database WHERE datname = 'live_second'"},
    };
    const PgStep second[] = {{.sql = "CREATE TABLE live_other (y int)"}};
    const PgBatch batches[] = {{.dbname = "postgres", .steps = first, .count = sizeof(first) / sizeof(first[0])},
                               {.dbname = "live_second", .steps = second, .count = 1},
                               {.dbname = "postgres", .steps = NULL, .count = 0}};
    PgTarget target = liveTarget(live);
    Err err = liveSession(live, &target, batches, 3);
    assert_err(&err, errOk);

    PGconn *conn = liveConnect(live, "postgres");
    assertQuery(conn, "SELECT sum(x) FROM live_steps", "6");
    assertQuery(conn, "SELECT count(*) FROM pg_database WHERE datname = 'live_second'", "1");
    PQfinish(conn);
    conn = liveConnect(live, "live_second");
    assertQuery(conn, "SELECT to_regclass('live_other') IS NOT NULL", "t");
    PQfinish(conn);

    /* Again: the guard now skips CREATE DATABASE; the table exists, so the first step fails. */
    err = liveSession(live, &target, &batches[0], 1);
    assert_err(&err, errPostgres);
    assert_contains(err.message, "database \"postgres\" rejected CREATE TABLE live_steps (x int): relation "
                                 "\"live_steps\" already exists (SQLSTATE 42P07)");
    err = liveSession(live, &target, (const PgBatch[]){{.dbname = "postgres", .steps = &first[6], .count = 1}}, 1);
    assert_err(&err, errOk);

    /* With the server name only in the certificate's IP address. */
    target.host = NULL;
    err = liveSession(live, &target, &batches[2], 1);
    assert_err(&err, errOk);
}

/* verifyCaOnly: a server whose certificate names other hosts (localhost and 127.0.0.1, not the name asked for) is
 * refused by verify-full and reached by verify-ca, which still verifies the chain: against another CA it fails. */
static void testLiveVerifyCa(void **state)
{
    Live *live = liveOrSkip(state);
    const PgStep step = {.sql = "SELECT 1"};
    const PgBatch batch = {.dbname = "postgres", .steps = &step, .count = 1};
    PgTarget target = liveTarget(live);
    target.host = "db.example.internal";
    Err err = liveSession(live, &target, &batch, 1);
    assert_err(&err, errPostgres);
    assert_contains(err.message, "does not match host name \"db.example.internal\"");

    target.verifyCaOnly = true;
    err = liveSession(live, &target, &batch, 1);
    assert_err(&err, errOk);

    /* Another CA of the same name: the server's certificate names it as issuer, its signature does not verify. */
    TestPki other;
    assert_true(testPkiGenerate(&other));
    target.caPem = other.caCert;
    err = liveSession(live, &target, &batch, 1);
    testPkiFree(&other);
    assert_err(&err, errPostgres);
    assert_contains(err.message, "SSL error");
}

static void testLiveErrors(void **state)
{
    Live *live = liveOrSkip(state);
    const PgTarget target = liveTarget(live);

    /* A transaction rolled back by the failure, and nothing after it run. */
    const PgStep failing[] = {{.sql = "BEGIN"},
                              {.sql = "CREATE TABLE live_rollback (x int)"},
                              {.sql = "SELECT 1/0"},
                              {.sql = "COMMIT"},
                              {.sql = "CREATE TABLE live_after (x int)"}};
    const PgBatch failingBatch[] = {{.dbname = "postgres", .steps = failing, .count = 5}};
    Err err = liveSession(live, &target, failingBatch, 1);
    assert_err(&err, errPostgres);
    assert_string_equal(err.message, "database \"postgres\" rejected SELECT 1/0: division by zero (SQLSTATE 22012)");
    PGconn *conn = liveConnect(live, "postgres");
    assertQuery(conn, "SELECT to_regclass('live_rollback') IS NULL AND to_regclass('live_after') IS NULL", "t");

    /* Redaction of the secret, in the statement and in the server's message; long statements shortened. */
    const PgStep secret[] = {{.sql = "ALTER ROLE postgres WITH hunter2secret", .secret = "hunter2secret"}};
    err = liveSession(live, &target, (const PgBatch[]){{.dbname = "postgres", .steps = secret, .count = 1}}, 1);
    assert_err(&err, errPostgres);
    assert_null(strstr(err.message, "hunter2"));
    assert_string_equal(err.message, "database \"postgres\" rejected ALTER ROLE postgres WITH [redacted]: "
                                     "unrecognized role option \"[redacted]\" (SQLSTATE 42601)");
    const PgStep longer[] = {{.sql = "SELECT\n1 + 'this is not a number at all, and the statement goes on and on "
                                     "for quite a while' AS x",
                              .unless = "SELECT 1 WHERE false"}};
    err = liveSession(live, &target, (const PgBatch[]){{.dbname = "postgres", .steps = longer, .count = 1}}, 1);
    assert_err(&err, errPostgres);
    assert_contains(err.message, "rejected SELECT 1 + 'this is not a number at all, and the statement goes on and"
                                 " on for...: invalid input syntax for type integer");
    /* A failing guard. */
    const PgStep guard[] = {{.sql = "SELECT 1", .unless = "SELECT nosuchcolumn"}};
    err = liveSession(live, &target, (const PgBatch[]){{.dbname = "postgres", .steps = guard, .count = 1}}, 1);
    assert_err(&err, errPostgres);
    assert_contains(err.message, "rejected SELECT nosuchcolumn: column \"nosuchcolumn\" does not exist");
    /* COPY is refused. */
    const PgStep copy[] = {{.sql = "COPY (SELECT 1) TO STDOUT"}};
    err = liveSession(live, &target, (const PgBatch[]){{.dbname = "postgres", .steps = copy, .count = 1}}, 1);
    assert_err(&err, errPostgres);
    assert_contains(err.message, "started COPY");

    /* Connection failures: a missing database, an unknown CA, a name the certificate does not carry. */
    err = liveSession(live, &target, (const PgBatch[]){{.dbname = "nosuchdb", .steps = secret, .count = 1}}, 1);
    assert_err(&err, errPostgres);
    assert_contains(err.message, "cannot connect to database \"nosuchdb\"");
    assert_contains(err.message, "database \"nosuchdb\" does not exist");
    TestPki other;
    assert_true(testPkiGenerate(&other));
    PgTarget wrong = target;
    wrong.caPem = other.caCert;
    err = liveSession(live, &wrong, oneBatch, 1);
    assert_err(&err, errPostgres);
    /* The other CA has the same name, so OpenSSL tries its key on the server's signature and fails there. */
    assert_contains(err.message, "SSL error");
    wrong = target;
    wrong.certPem = other.clientCert;
    wrong.keyPem = other.clientKey;
    err = liveSession(live, &wrong, oneBatch, 1);
    assert_err(&err, errPostgres);
    testPkiFree(&other);
    wrong = target;
    wrong.host = "db.example.com";
    err = liveSession(live, &wrong, oneBatch, 1);
    assert_err(&err, errPostgres);
    assert_contains(err.message, "does not match host name \"db.example.com\"");

    /* The session deadline while a statement runs; the server ends the backend once it notices. */
    wrong = target;
    wrong.timeoutMs = 300;
    const PgStep slow[] = {{.sql = "SELECT pg_sleep(3)"}};
    err = liveSession(live, &wrong, (const PgBatch[]){{.dbname = "postgres", .steps = slow, .count = 1}}, 1);
    assert_err(&err, errTimeout);
    assert_contains(err.message, "timed out after 300 ms");

    /* The backend terminated while a statement runs (a failover, an administrator). */
    const PgStep killed[] = {{.sql = "SELECT pg_sleep(10) AS killed_by_test"}};
    PgSession *session;
    DoneProbe probe = {0};
    assert_true(pgSessionStart(live->fixture.ctx, live->fixture.loop, &target,
                               (const PgBatch[]){{.dbname = "postgres", .steps = killed, .count = 1}}, 1, onDone,
                               &probe, &session, &err));
    char terminated[16] = "";
    int64_t deadline = clockMonotonicMs(clockSystem()) + 10000;
    while (probe.calls == 0 && strcmp(terminated, "t") != 0 && clockMonotonicMs(clockSystem()) < deadline) {
        runLoop(live->fixture.loop, NULL, 50);
        liveQuery(conn,
                  "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE "
                  "'SELECT pg_sleep(10) AS killed_by_test%'",
                  terminated, sizeof(terminated));
    }
    runLoop(live->fixture.loop, &probe, 5000);
    assert_int_equal(probe.calls, 1);
    assert_err(&probe.err, errPostgres);
    assert_contains(probe.err.message, "terminating connection due to administrator command (SQLSTATE 57P01)");
    PQfinish(conn);
}

/* Text the server reads back unchanged from pgQuoteLiteral, and names from pgQuoteIdent, whatever
 * standard_conforming_strings says. */
static void testLiveQuoting(void **state)
{
    Live *live = liveOrSkip(state);
    static const char *const texts[] = {"",
                                        "plain",
                                        "it's",
                                        "''",
                                        "\\",
                                        "\\'",
                                        "'\\'",
                                        "back\\slash",
                                        "a\\\\b",
                                        "say \"hi\"",
                                        "$$dollar$$",
                                        "$a$ $a$",
                                        "line\nbreak",
                                        "tab\tx",
                                        "ünïcødé 名前 🐘",
                                        "E'x'",
                                        "--",
                                        "/* comment */",
                                        "; DROP TABLE t; --"};
    PGconn *conn = liveConnect(live, "postgres");
    MemCtx *ctx = memCtxNew(NULL, "t");
    Err err;
    char *longText = memCtxAlloc(ctx, 6001);
    for (size_t at = 0; at < 6000; at += 6)
        memcpy(longText + at, "a'\\\"é", 6);
    for (int conforming = 0; conforming < 2; conforming++) {
        PQclear(PQexec(conn,
                       conforming ? "SET standard_conforming_strings = on" : "SET standard_conforming_strings = off"));
        for (size_t textIdx = 0; textIdx <= sizeof(texts) / sizeof(texts[0]); textIdx++) {
            const char *text = textIdx < sizeof(texts) / sizeof(texts[0]) ? texts[textIdx] : longText;
            StrBuf sql;
            strBufInit(&sql, ctx, 1 << 20);
            assert_true(strBufAppendStr(&sql, "SELECT ", &err) && pgQuoteLiteral(&sql, text, &err));
            bool named = text[0] != '\0' && strlen(text) <= PG_IDENTIFIER_MAX;
            if (named)
                assert_true(strBufAppendStr(&sql, " AS ", &err) && pgQuoteIdent(&sql, text, &err));
            PGresult *result = PQexec(conn, strBufStr(&sql));
            if (PQresultStatus(result) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", strBufStr(&sql), PQresultErrorMessage(result));
            assert_string_equal(PQgetvalue(result, 0, 0), text);
            if (named)
                assert_string_equal(PQfname(result, 0), text);
            PQclear(result);
            strBufFree(&sql);
        }
    }
    memCtxFree(ctx);
    PQfinish(conn);
}

/* --- the users' SQL against the live server --- */

typedef struct Verifiers {
    char app[40];
    const char *reader;
} Verifiers;

static const char *liveVerifier(void *arg, const char *user)
{
    const Verifiers *verifiers = arg;
    if (strcmp(user, "app") == 0)
        return verifiers->app;
    if (strcmp(user, "reader") == 0)
        return verifiers->reader;
    return NULL;
}

/* PostgreSQL's md5 verifier: "md5" and the hex MD5 of password followed by user. */
static void md5Verifier(const char *password, const char *user, char out[40])
{
    char input[128];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    snprintf(input, sizeof(input), "%s%s", password, user);
    assert_int_equal(EVP_Digest(input, strlen(input), digest, &len, EVP_md5(), NULL), 1);
    strcpy(out, "md5");
    for (unsigned int at = 0; at < len; at++)
        snprintf(out + 3 + 2 * at, 3, "%02x", digest[at]);
}

static void testLiveUsers(void **state)
{
    Live *live = liveOrSkip(state);
    json_t *cluster =
        harnessJson("{\"metadata\": {\"name\": \"hippo\", \"namespace\": \"ns\", \"annotations\": "
                    "{\"postgres-operator.crunchydata.com/autoCreateUserSchema\": \"True\"}}, \"spec\": {\"users\": ["
                    "{\"name\": \"postgres\", \"databases\": [\"ignored\"]},"
                    "{\"name\": \"app\", \"databases\": [\"app\", \"we\\\"ird 'db' \\\\ ü\"], "
                    "\"options\": \"CREATEDB CONNECTION LIMIT 5\"},"
                    "{\"name\": \"reader\", \"databases\": [\"we\\\"ird 'db' \\\\ ü\"], "
                    "\"options\": \"NOLOGIN VALID UNTIL 'infinity'\"},"
                    "{\"name\": \"pgbouncer\", \"databases\": [\"app\"]},"
                    "{\"name\": \"nothing\"}]}}");
    ClusterModel model = {.cluster = cluster, .namespace = "ns", .name = "hippo"};
    Verifiers verifiers = {.reader = "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$"
                                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
                                     "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="};
    md5Verifier("secret", "app", verifiers.app);
    MemCtx *ctx = memCtxNew(NULL, "t");
    ClusterUsersSql sql;
    Err err;
    assert_true(clusterUsersSql(ctx, &model, liveVerifier, &verifiers, &sql, &err));
    PgTarget target = liveTarget(live);
    err = liveSession(live, &target, sql.batches, sql.batchCount);
    assert_err(&err, errOk);
    /* Idempotent. */
    err = liveSession(live, &target, sql.batches, sql.batchCount);
    assert_err(&err, errOk);

    PGconn *conn = liveConnect(live, "postgres");
    assertQuery(conn,
                "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname IN "
                "('app', 'ignored', E'we\"ird ''db'' \\\\ ü')",
                "app,ignored,we\"ird 'db' \\ ü");
    char expected[256];
    snprintf(expected, sizeof(expected), "%s t t 5", verifiers.app);
    assertQuery(conn,
                "SELECT concat_ws(' ', rolpassword, rolcanlogin, rolcreatedb, rolconnlimit) FROM pg_authid "
                "WHERE rolname = 'app'",
                expected);
    snprintf(expected, sizeof(expected), "%s f infinity", verifiers.reader);
    assertQuery(conn,
                "SELECT concat_ws(' ', rolpassword, rolcanlogin, rolvaliduntil) FROM pg_authid "
                "WHERE rolname = 'reader'",
                expected);
    assertQuery(conn,
                "SELECT concat_ws(' ', rolpassword IS NULL, rolcanlogin) FROM pg_authid WHERE rolname = "
                "'pgbouncer'",
                "t t");
    assertQuery(conn, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'nothing'", "t");
    assertQuery(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'", "t");
    assertQuery(conn,
                "SELECT concat_ws(' ', has_database_privilege('app', 'app', 'CREATE'), "
                "has_database_privilege('app', E'we\"ird ''db'' \\\\ ü', 'CREATE, CONNECT, TEMPORARY'), "
                "has_database_privilege('reader', 'app', 'CREATE'), "
                "has_database_privilege('reader', E'we\"ird ''db'' \\\\ ü', 'CREATE'))",
                "t t f t");
    PQfinish(conn);
    conn = liveConnect(live, "app");
    assertQuery(conn,
                "SELECT string_agg(nspname || ':' || pg_get_userbyid(nspowner), ',' ORDER BY nspname) "
                "FROM pg_namespace WHERE nspname IN ('app', 'reader', 'pgbouncer', 'nothing')",
                "app:app");
    PQfinish(conn);
    conn = liveConnect(live, "we\"ird 'db' \\ ü");
    assertQuery(conn,
                "SELECT string_agg(nspname || ':' || pg_get_userbyid(nspowner), ',' ORDER BY nspname) "
                "FROM pg_namespace WHERE nspname IN ('app', 'reader', 'pgbouncer')",
                "app:app,reader:reader");
    PQfinish(conn);

    /* A new verifier: another revision, and the role gets it. */
    char revision[CLUSTER_USERS_REVISION_SIZE];
    memcpy(revision, sql.revision, sizeof(revision));
    md5Verifier("changed", "app", verifiers.app);
    assert_true(clusterUsersSql(ctx, &model, liveVerifier, &verifiers, &sql, &err));
    assert_string_not_equal(sql.revision, revision);
    err = liveSession(live, &target, sql.batches, sql.batchCount);
    assert_err(&err, errOk);
    conn = liveConnect(live, "postgres");
    assertQuery(conn, "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'", verifiers.app);
    PQfinish(conn);
    memCtxFree(ctx);
    json_decref(cluster);
}

/* The operator's pg_hba line (patroni/config.c), on the live server: a role whose name is the client certificate's
 * (system:admin) and _crunchyoperator, both with the verifier Patroni's bootstrap sets (scramVerifierDerived). Only
 * the certificate of the role's name with the password gets in: not the certificate alone, not the password alone
 * or with a wrong one, not the right password with a certificate of another name (what a CA trusted besides the
 * operator's could issue, short of the password). No message shows the password. */
static void testLiveOperatorLogin(void **state)
{
    Live *live = liveOrSkip(state);
    static const char password[] = "LiveOperatorPassword0123456789abcdefghijklm";
    static const char wrong[] = "WrongOperatorPassword0123456789abcdefghijkl";
    MemCtx *ctx = memCtxNew(NULL, "t");
    char *verifier, sql[512];
    Err err;
    assert_true(scramVerifierDerived(ctx, password, strlen(password), &verifier, &err));
    PGconn *conn = liveConnect(live, "postgres");
    snprintf(sql, sizeof(sql), "CREATE ROLE \"system:admin\" LOGIN PASSWORD '%s'", verifier);
    liveQuery(conn, sql, sql, sizeof(sql));
    snprintf(sql, sizeof(sql), "CREATE ROLE _crunchyoperator SUPERUSER LOGIN PASSWORD '%s'", verifier);
    liveQuery(conn, sql, sql, sizeof(sql));
    snprintf(sql, sizeof(sql), "SELECT rolpassword FROM pg_authid WHERE rolname = '_crunchyoperator'");
    assertQuery(conn, sql, verifier);
    PQfinish(conn);

    const PgStep steps[] = {{.sql = "SELECT 1"}};
    const PgBatch batch = {.dbname = "postgres", .steps = steps, .count = 1};
    PgTarget target = liveTarget(live);
    target.user = "system:admin";
    target.password = password;
    err = liveSession(live, &target, &batch, 1);
    assert_err(&err, errOk);

    /* The certificate alone. */
    target.password = NULL;
    err = liveSession(live, &target, &batch, 1);
    assert_err(&err, errPostgres);
    /* The certificate with a wrong password. */
    target.password = wrong;
    err = liveSession(live, &target, &batch, 1);
    assert_err(&err, errPostgres);
    assert_null(strstr(err.message, wrong));
    assert_contains(err.message, "password authentication failed");
    /* The password without a certificate. */
    target.password = password;
    target.certPem = NULL;
    target.keyPem = NULL;
    err = liveSession(live, &target, &batch, 1);
    assert_err(&err, errPostgres);
    assert_null(strstr(err.message, password));
    /* The password with a certificate of the CA that does not carry the role's name. */
    target = liveTarget(live);
    target.user = "_crunchyoperator";
    target.password = password;
    err = liveSession(live, &target, &batch, 1);
    assert_err(&err, errPostgres);
    assert_null(strstr(err.message, password));
    /* The client is told no more than for a wrong password; the server's log says why. */
    assert_contains(err.message, "password authentication failed");
    char script[512];
    snprintf(script, sizeof(script),
             "grep -q 'certificate validation (clientcert=verify-full) failed for user \"_crunchyoperator\"' "
             "%s/server.log",
             live->dir);
    if (!liveRun(live, script))
        fail_msg("the server's log does not say the certificate was refused");
    memCtxFree(ctx);
}

int main(void)
{
    /* One group (one TAP plan): its setup starts the live server, used by the testLive* tests only. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testQuoteIdent),
        cmocka_unit_test(testQuoteLiteral),
        cmocka_unit_test_setup_teardown(testArguments, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testNothingToDo, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testRefused, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testConnectTimeout, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testSessionTimeout, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testCancel, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testStartFromDone, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testStartAllocations, setUp, tearDown),
        cmocka_unit_test(testLiveSteps),
        cmocka_unit_test(testLiveVerifyCa),
        cmocka_unit_test(testLiveErrors),
        cmocka_unit_test(testLiveQuoting),
        cmocka_unit_test(testLiveUsers),
        cmocka_unit_test(testLiveOperatorLogin),
    };
    return cmocka_run_group_tests(tests, liveSetUp, liveTearDown);
}
