/* A minimal HTTP/1.1 server on the event loop, for the probe and metrics endpoints (/healthz, /readyz, /metrics).
 *
 * Plain HTTP, GET and HEAD only, one request per connection (the response carries "Connection: close"), exact path
 * routing (the query string is ignored). Every resource is bounded: HTTPD_MAX_CONNECTIONS connections at once (more
 * are closed as soon as accepted), HTTPD_MAX_REQUEST bytes of request head, HTTPD_MAX_RESPONSE bytes of response
 * body, and HTTPD_TIMEOUT_MS for a connection's whole life. Nothing a client sends can make the server allocate
 * beyond these bounds or block the loop.
 *
 * Addresses are "host:port", "[ipv6]:port" or ":port" (every interface, IPv6 and IPv4 when the system allows, else
 * IPv4); port 0 picks a free port, which httpdPort tells. */
#ifndef CONTROLLER_HTTPD_H
#define CONTROLLER_HTTPD_H

#include "common/error.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "common/strbuf.h"

#define HTTPD_MAX_CONNECTIONS 32
#define HTTPD_MAX_REQUEST     8192
#define HTTPD_MAX_RESPONSE    (8 * 1024 * 1024)
#define HTTPD_TIMEOUT_MS      10000
#define HTTPD_MAX_ROUTES      16

typedef struct Httpd Httpd;

typedef struct HttpdResponse {
    int status;              /* 200 unless the handler says otherwise */
    const char *contentType; /* "text/plain; charset=utf-8" unless the handler says otherwise (a static string) */
    StrBuf *body;            /* the handler appends the body here */
} HttpdResponse;

/* Fills the response for a GET of path. Returning false answers 500 with err's message. */
typedef bool HttpdHandlerFn(void *arg, const char *path, HttpdResponse *response, Err *err);

/* Binds and listens on address, in a new child context of parent (freeing it closes every socket). log may be
 * NULL. */
bool httpdNew(MemCtx *parent, Loop *loop, const Log *log, const char *address, Httpd **out, Err *err) MUST_CHECK;

/* Serves path (exact match, at most HTTPD_MAX_ROUTES routes) with handler. */
bool httpdRoute(Httpd *httpd, const char *path, HttpdHandlerFn *handler, void *arg, Err *err) MUST_CHECK;

/* The port listened on. */
int httpdPort(const Httpd *httpd);

/* Splits an address into host ("" for every interface) and port; errInvalidArgument when malformed. */
bool httpdParseAddress(const char *address, char *host, size_t hostSize, int *port, Err *err) MUST_CHECK;

#endif
