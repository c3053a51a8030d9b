/* A fake API server that answers many requests at once, for the tests of code that sends them concurrently (a
 * manager's informers, a reconciler's batches), which the scripted fake server (fakeserver.h), one connection at a
 * time in a fixed order, cannot serve.
 *
 * The server runs in a forked child, polling every connection it accepted. Each request is answered by the first
 * route whose method and path part match it; a request no route matches gets an empty list (GET) or 200 with "{}"
 * (any other method). A watch (a target with "watch=1") gets the headers of a chunked stream that never delivers an
 * event, and its connection stays open, as a quiet API server's would. Every request is recorded, in the order it
 * arrived, as one line "<method> <target> <body>" (the body's line breaks made spaces) in a file that fakeApiStop
 * returns, so a test asserts on what was sent (and on what was not) rather than scripting it. */
#ifndef TEST_HARNESS_FAKEAPI_H
#define TEST_HARNESS_FAKEAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct FakeApiRoute {
    const char *method; /* "PATCH"; NULL: any */
    const char *part;   /* must occur in the request target (path and query) */
    const char *status; /* "500 Internal Server Error" */
    const char *body;   /* the response body, JSON */
} FakeApiRoute;

typedef struct FakeApi {
    pid_t pid;
    int port;
    char recordPath[64]; /* the child's record of requests */
} FakeApi;

/* Listens on 127.0.0.1 (an ephemeral port) and forks the child that serves routes (which must outlive it). */
bool fakeApiStart(FakeApi *server, const FakeApiRoute *routes, size_t count);

/* Stops the child and returns its record of requests (malloc'd; the caller frees it), or NULL. */
char *fakeApiStop(FakeApi *server);

/* How many recorded requests have method and a target containing part. */
size_t fakeApiCount(const char *record, const char *method, const char *part);

/* The body of the first recorded request with method and a target containing part (a malloc'd copy), or NULL. */
char *fakeApiBody(const char *record, const char *method, const char *part);

#endif
