/* SQL sessions with a cluster's PostgreSQL: libpq's asynchronous API driven by the operator's event loop, running
 * the batches of pgsql/sql.h.
 *
 * A session runs batches of steps and reports once, through its done callback. Each batch is one connection to one
 * database, opened when the batch begins and closed when it ends, so the same steps can be run in several databases
 * (CREATE SCHEMA in every user database) by listing one batch per database. Within a batch the steps run one after
 * the other, each sent with the simple query protocol: a step is its own implicit transaction unless it says
 * otherwise (a step "BEGIN", later steps, a step "COMMIT" form one transaction, since they share the connection). A
 * step may carry a guard query: when the guard returns a row the step is skipped, which is how statements that
 * cannot run inside a transaction or a DO block (CREATE DATABASE) are made conditional. The first error ends the
 * session: the connection is closed, which rolls back an open transaction, and later steps do not run.
 *
 * Connections use TLS with sslmode=verify-full and, when given, a client certificate and a password (both, for a
 * line of pg_hba.conf such as "scram-sha-256 clientcert=verify-full"). With a password the session also asks for
 * channel_binding=require: libpq then accepts only SCRAM-SHA-256-PLUS, which never sends the password itself and
 * binds the proof to this TLS connection's server certificate, so a server that merely holds a certificate of the
 * trusted CA (see verifyCaOnly below) and asks for the password in clear, or relays the exchange, gets nothing.
 * libpq reads certificates and keys only from files; the operator's root filesystem is read-only and a key must not
 * outlive the session on a disk anyway, so each PEM goes into an anonymous memory file (memfd_create, mode 0600)
 * that libpq opens by its /proc/self/fd path; the files vanish when the session ends. hostaddr is a numeric
 * address, so connecting never waits for DNS; host, when given, is the name the server certificate must carry.
 *
 * A target may ask for sslmode=verify-ca instead (verifyCaOnly): the server's chain is still verified against caPem,
 * the names in its certificate are not. That is for a server certificate the operator did not issue
 * (spec.customTLSSecret), whose names are the user's business: it may name only the hosts the user's clients use,
 * and none of our Services. Little is given up: hostaddr is an address the operator read from the API server (the
 * <cluster>-ha ClusterIP), not one a resolver told it, and the chain proves that whoever answers there holds a key
 * certified by the CA the user gave this cluster, the CA the user's own clients trust for it. What is given up is
 * the difference between two servers certified by that CA; the user chose the CA. A certificate the operator
 * issues itself always names what the operator connects to, and is checked with verify-full.
 *
 * Errors: failures of the server or the connection are errPostgres, timeouts errTimeout. A message names the
 * database and the server's primary message with its SQLSTATE and the start of the statement; the detail and
 * context fields, which can quote data, are left out, and each step's secret (a password verifier) is replaced by
 * "[redacted]" wherever it would appear. Nothing of the certificates, keys or the password is ever put in a message
 * or a log, and the session's copy of the password is wiped when it is freed. */
#ifndef PGSQL_SESSION_H
#define PGSQL_SESSION_H

#include "pgsql/sql.h"

#include "common/error.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "common/strbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct PgTarget {
    const char *hostaddr; /* numeric IPv4 or IPv6 address */
    const char *host;     /* name the server certificate must carry; NULL: it must carry hostaddr */
    int port;
    const char *user;
    const char *password; /* libpq's password, for SCRAM with channel binding only (see above); NULL: none */
    const char *caPem;    /* the root CA that signed the server certificate (required) */
    const char *certPem;  /* client certificate and key; both or neither */
    const char *keyPem;
    bool verifyCaOnly;        /* sslmode=verify-ca: the chain is verified, host and hostaddr are not (see above) */
    bool readWrite;           /* only a server that accepts writes (the primary) will do */
    int64_t connectTimeoutMs; /* each connection, TLS included; 0: 10 s */
    int64_t timeoutMs;        /* the whole session; 0: 30 s */
} PgTarget;

typedef struct PgSession PgSession;

/* err->code is errOk when every step ran (or was skipped by its guard). err is valid only during the call; the
 * session is freed right before it. */
typedef void PgDoneFn(void *arg, const Err *err);

/* Starts running batches against target on loop, in a new child context of parent (freeing it cancels the session
 * without calling done; loop must outlive it). Everything needed is copied before this returns. done is always
 * called from loopRunOnce, never from here: a connection that fails at once is reported on the next iteration.
 * Fails only for bad arguments (errInvalidArgument), memory (errOutOfMemory) or memory files (errSystem). */
bool pgSessionStart(MemCtx *parent, Loop *loop, const PgTarget *target, const PgBatch *batches, size_t count,
                    PgDoneFn *done, void *arg, PgSession **out, Err *err) MUST_CHECK;

/* Stops a session whose done has not been called, closing its connection (the server rolls back what the
 * statement under way had done, though it may first finish it); done will not be called. Allowed from any loop
 * handler. NULL is a no-op. */
void pgSessionCancel(PgSession *session);

#endif
