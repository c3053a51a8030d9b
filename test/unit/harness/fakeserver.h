/* A scripted fake API server on loopback, for the HTTP client's tests.
 *
 * The server runs in a forked child and follows a script of steps with blocking I/O: accept a connection, expect a
 * request containing given strings, send bytes (raw, or as one HTTP chunk), sleep, close, or reset the connection.
 * A watch stream split at any byte is a sequence of chunk and sleep steps. The child exits 0 when the whole script
 * ran as written and 1 (with a message on stderr) at the first deviation; fakeServerWait reports which. With TLS the
 * child serves the TestPki's server certificate and, if asked, requires a client certificate from its CA. */
#ifndef TEST_FAKESERVER_H
#define TEST_FAKESERVER_H

#include "tlscert.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FAKE_MATCH_MAX 4

typedef enum FakeStepKind {
    fakeAccept,
    fakeExpect, /* read one request; each non-NULL match must occur in it */
    fakeSend,   /* write text as is */
    fakeChunk,  /* write text as one chunk of a chunked body ("" ends the body) */
    fakeSleep,
    fakeClose,
    fakeReset, /* close with RST (SO_LINGER 0) */
} FakeStepKind;

typedef struct FakeStep {
    FakeStepKind kind;
    const char *text;
    const char *match[FAKE_MATCH_MAX];
    int ms;
} FakeStep;

#define FAKE_ACCEPT        \
    {                      \
        .kind = fakeAccept \
    }
#define FAKE_EXPECT(...)                             \
    {                                                \
        .kind = fakeExpect, .match = { __VA_ARGS__ } \
    }
#define FAKE_SEND(t)                  \
    {                                 \
        .kind = fakeSend, .text = (t) \
    }
#define FAKE_CHUNK(t)                  \
    {                                  \
        .kind = fakeChunk, .text = (t) \
    }
#define FAKE_SLEEP(m)                \
    {                                \
        .kind = fakeSleep, .ms = (m) \
    }
#define FAKE_CLOSE        \
    {                     \
        .kind = fakeClose \
    }
#define FAKE_RESET        \
    {                     \
        .kind = fakeReset \
    }

typedef struct FakeTls {
    const TestPki *pki;
    bool requireClientCert;
} FakeTls;

typedef struct FakeServer {
    pid_t pid;
    int port;
} FakeServer;

/* Listens on 127.0.0.1 (an ephemeral port) and forks the child that runs the script. tls NULL: plain HTTP. */
bool fakeServerStart(FakeServer *server, const FakeStep *steps, size_t count, const FakeTls *tls);

/* Waits (at most a few seconds, then kills) for the child; true when it completed its script. */
bool fakeServerWait(FakeServer *server);

#endif
