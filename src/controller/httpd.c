/* A minimal HTTP/1.1 server.
 *
 * The listening socket and every connection are non-blocking and watched by the loop. A connection reads until the
 * blank line that ends the request head (into a fixed buffer), then the whole response is built at once into a
 * bounded StrBuf and written as the socket accepts it; when it is all written the connection is closed. A
 * request body, if a client sends one, is never read: only GET and HEAD are served, and closing with unread data
 * is harmless for them. Each connection has its own context (buffers, timer) freed when it closes. */
#include "controller/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct HttpdRoute {
    const char *path;
    HttpdHandlerFn *handler;
    void *arg;
} HttpdRoute;

typedef struct HttpdConn HttpdConn;

struct Httpd {
    MemCtx *ctx;
    Loop *loop;
    const Log *log;
    int listenFd;
    int port;
    HttpdRoute routes[HTTPD_MAX_ROUTES];
    size_t routeCount;
    HttpdConn *conns;
    size_t connCount;
};

struct HttpdConn {
    MemCtx *ctx;
    Httpd *httpd;
    int fd;
    char request[HTTPD_MAX_REQUEST + 1];
    size_t requestLen;
    StrBuf response;
    size_t sent;
    bool writing;
    LoopTimer *timer;
    HttpdConn *prev;
    HttpdConn *next;
};

static const Log *httpdLog(const Httpd *httpd)
{
    static const Log silent = {.fd = -1, .minLevel = logLevelError + 1};
    return httpd->log != NULL ? httpd->log : &silent;
}

int httpdPort(const Httpd *httpd)
{
    return httpd->port;
}

bool httpdParseAddress(const char *address, char *host, size_t hostSize, int *port, Err *err)
{
    const char *colon = NULL;
    const char *hostStart = address, *hostEnd;
    if (*address == '[') {
        const char *close = strchr(address, ']');
        if (close == NULL || close[1] != ':')
            return errSet(err, errInvalidArgument, "address \"%s\": expected [host]:port", address);
        hostStart = address + 1;
        hostEnd = close;
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL)
            return errSet(err, errInvalidArgument, "address \"%s\": expected host:port or :port", address);
        hostEnd = colon;
    }
    if ((size_t)(hostEnd - hostStart) >= hostSize)
        return errSet(err, errInvalidArgument, "address \"%s\": host too long", address);
    char *end;
    errno = 0;
    long value = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || value < 0 || value > 65535)
        return errSet(err, errInvalidArgument, "address \"%s\": port must be a number from 0 to 65535", address);
    memcpy(host, hostStart, (size_t)(hostEnd - hostStart));
    host[hostEnd - hostStart] = '\0';
    *port = (int)value;
    return true;
}

static void httpdConnClose(HttpdConn *conn)
{
    Httpd *httpd = conn->httpd;
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        httpd->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    httpd->connCount--;
    memCtxFree(conn->ctx);
}

static void httpdConnCleanup(void *arg)
{
    HttpdConn *conn = arg;
    loopUnwatch(conn->httpd->loop, conn->fd);
    close(conn->fd);
    loopTimerFree(conn->timer);
}

static const char *httpdReason(int status)
{
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 503:
            return "Service Unavailable";
        default:
            return status >= 500 ? "Internal Server Error" : "Unknown";
    }
}

/* Builds the whole response (head and, unless head is set, body) into conn->response. */
static bool httpdBuildResponse(HttpdConn *conn, int status, const char *contentType, const StrBuf *body, bool head,
                               Err *err)
{
    strBufClear(&conn->response);
    return strBufPrintf(&conn->response, err,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                        "Connection: close\r\n\r\n",
                        status, httpdReason(status), contentType, body->len) &&
           (head || strBufAppend(&conn->response, strBufStr(body), body->len, err));
}

/* Answers the request in conn->request (a complete head). */
static bool httpdRespond(HttpdConn *conn, Err *err)
{
    Httpd *httpd = conn->httpd;
    StrBuf body;
    strBufInit(&body, conn->ctx, HTTPD_MAX_RESPONSE);
    int status = 200;
    const char *contentType = "text/plain; charset=utf-8";
    char method[8], target[1024];
    bool head = false;
    if (sscanf(conn->request, "%7s %1023s HTTP/1.%*c", method, target) != 2 || target[0] != '/') {
        status = 400;
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = 405;
    } else {
        head = strcmp(method, "HEAD") == 0;
        target[strcspn(target, "?#")] = '\0';
        const HttpdRoute *route = NULL;
        for (size_t routeIdx = 0; routeIdx < httpd->routeCount && route == NULL; routeIdx++) {
            if (strcmp(httpd->routes[routeIdx].path, target) == 0)
                route = &httpd->routes[routeIdx];
        }
        if (route == NULL) {
            status = 404;
        } else {
            HttpdResponse response = {.status = 200, .contentType = contentType, .body = &body};
            Err handlerErr;
            errClear(&handlerErr);
            if (route->handler(route->arg, target, &response, &handlerErr)) {
                status = response.status;
                contentType = response.contentType;
            } else {
                logWarn(httpdLog(httpd), "http handler failed", logStr("path", target),
                        logStr("error", handlerErr.message));
                strBufClear(&body);
                status = 500;
                if (!strBufPrintf(&body, err, "%s\n", handlerErr.message))
                    return false;
            }
        }
    }
    if (status != 200 && body.len == 0 && !strBufPrintf(&body, err, "%s\n", httpdReason(status)))
        return false;
    bool ok = httpdBuildResponse(conn, status, contentType, &body, head, err);
    strBufFree(&body);
    return ok;
}

static void httpdOnConn(void *arg, int fd, unsigned events);

static void httpdWrite(HttpdConn *conn)
{
    while (conn->sent < conn->response.len) {
        ssize_t written =
            send(conn->fd, conn->response.data + conn->sent, conn->response.len - conn->sent, MSG_NOSIGNAL);
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (written <= 0) {
            httpdConnClose(conn);
            return;
        }
        conn->sent += (size_t)written;
    }
    httpdConnClose(conn);
}

static void httpdRead(HttpdConn *conn)
{
    for (;;) {
        if (conn->requestLen >= HTTPD_MAX_REQUEST) {
            httpdConnClose(conn);
            return;
        }
        ssize_t got = recv(conn->fd, conn->request + conn->requestLen, HTTPD_MAX_REQUEST - conn->requestLen, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (got <= 0) {
            httpdConnClose(conn);
            return;
        }
        conn->requestLen += (size_t)got;
        conn->request[conn->requestLen] = '\0';
        if (strstr(conn->request, "\r\n\r\n") != NULL || strstr(conn->request, "\n\n") != NULL)
            break;
    }
    Err err;
    if (!httpdRespond(conn, &err) || !loopWatch(conn->httpd->loop, conn->fd, LOOP_WRITABLE, httpdOnConn, conn, &err)) {
        logWarn(httpdLog(conn->httpd), "http response failed", logStr("error", err.message));
        httpdConnClose(conn);
        return;
    }
    conn->writing = true;
    httpdWrite(conn);
}

static void httpdOnConn(void *arg, int fd, unsigned events)
{
    (void)fd;
    HttpdConn *conn = arg;
    if (conn->writing)
        httpdWrite(conn);
    else if (events & (LOOP_READABLE | LOOP_ERROR))
        httpdRead(conn);
}

static void httpdOnTimeout(void *arg)
{
    httpdConnClose(arg);
}

static void httpdOnAccept(void *arg, int fd, unsigned events)
{
    (void)events;
    Httpd *httpd = arg;
    for (;;) {
        int connFd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (connFd < 0)
            return; /* EAGAIN, or a transient error (EMFILE, ECONNABORTED): try at the next readiness */
        if (httpd->connCount >= HTTPD_MAX_CONNECTIONS) {
            close(connFd);
            continue;
        }
        MemCtx *ctx = memCtxNew(httpd->ctx, "httpd-conn");
        HttpdConn *conn = ctx != NULL ? memCtxAlloc(ctx, sizeof(*conn)) : NULL;
        LoopTimer *timer = conn != NULL ? loopTimerNew(httpd->loop, httpdOnTimeout, conn) : NULL;
        Err err;
        if (timer == NULL || !memCtxOnFree(ctx, httpdConnCleanup, conn)) {
            loopTimerFree(timer);
            memCtxFree(ctx);
            close(connFd);
            continue;
        }
        *conn = (HttpdConn){.ctx = ctx, .httpd = httpd, .fd = connFd, .timer = timer, .next = httpd->conns};
        strBufInit(&conn->response, ctx, HTTPD_MAX_RESPONSE + 1024);
        if (httpd->conns != NULL)
            httpd->conns->prev = conn;
        httpd->conns = conn;
        httpd->connCount++;
        loopTimerStart(timer, HTTPD_TIMEOUT_MS);
        if (!loopWatch(httpd->loop, connFd, LOOP_READABLE, httpdOnConn, conn, &err))
            httpdConnClose(conn);
    }
}

bool httpdRoute(Httpd *httpd, const char *path, HttpdHandlerFn *handler, void *arg, Err *err)
{
    if (httpd->routeCount == HTTPD_MAX_ROUTES)
        return errSet(err, errTooLarge, "at most %d http routes", HTTPD_MAX_ROUTES);
    const char *copy = memCtxStrDup(httpd->ctx, path);
    if (copy == NULL)
        return errSet(err, errOutOfMemory, "out of memory adding an http route");
    httpd->routes[httpd->routeCount++] = (HttpdRoute){.path = copy, .handler = handler, .arg = arg};
    return true;
}

static void httpdCleanup(void *arg)
{
    Httpd *httpd = arg;
    /* The connections' contexts are children of ours: their own callbacks close them. */
    if (httpd->listenFd >= 0) {
        loopUnwatch(httpd->loop, httpd->listenFd);
        close(httpd->listenFd);
    }
}

/* A listening socket for host ("" = every interface) and port; -1 with err set on failure. */
static int httpdListen(const char *host, int port, const char *address, Err *err)
{
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof(storage));
    socklen_t len;
    int family;
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&storage;
    bool any = *host == '\0';
    if (any || inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        family = AF_INET6;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        if (any)
            v6->sin6_addr = in6addr_any;
        len = sizeof(*v6);
    } else if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &v4->sin_addr) == 1) {
        family = AF_INET;
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof(*v4);
    } else {
        errSet(err, errInvalidArgument, "address \"%s\": host must be an IP address or localhost", address);
        return -1;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && any) {
        /* No IPv6 on this system: every IPv4 interface then. */
        family = AF_INET;
        memset(&storage, 0, sizeof(storage));
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        len = sizeof(*v4);
        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) {
        errSetSys(err, errSystem, "cannot create a socket for %s", address);
        return -1;
    }
    int on = 1, off = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (family == AF_INET6 && any)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    if (bind(fd, (struct sockaddr *)&storage, len) != 0 || listen(fd, 64) != 0) {
        errSetSys(err, errSystem, "cannot listen on %s", address);
        close(fd);
        return -1;
    }
    return fd;
}

bool httpdNew(MemCtx *parent, Loop *loop, const Log *log, const char *address, Httpd **out, Err *err)
{
    char host[256];
    int port;
    if (!httpdParseAddress(address, host, sizeof(host), &port, err))
        return false;
    MemCtx *ctx = memCtxNew(parent, "httpd");
    Httpd *httpd = ctx != NULL ? memCtxAlloc(ctx, sizeof(*httpd)) : NULL;
    if (httpd == NULL || !memCtxOnFree(ctx, httpdCleanup, httpd)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating the http server");
    }
    *httpd = (Httpd){.ctx = ctx, .loop = loop, .log = log, .listenFd = -1};
    httpd->listenFd = httpdListen(host, port, address, err);
    if (httpd->listenFd < 0) {
        memCtxFree(ctx);
        return false;
    }
    struct sockaddr_storage bound;
    socklen_t boundLen = sizeof(bound);
    if (getsockname(httpd->listenFd, (struct sockaddr *)&bound, &boundLen) == 0)
        httpd->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
                                                        : ((struct sockaddr_in *)(void *)&bound)->sin_port);
    if (!loopWatch(loop, httpd->listenFd, LOOP_READABLE, httpdOnAccept, httpd, err)) {
        memCtxFree(ctx);
        return false;
    }
    *out = httpd;
    return true;
}
