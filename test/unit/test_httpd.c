/* Unit tests: controller/httpd, with a non-blocking client socket in the test driving the same loop. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "controller/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct HttpdFixture {
    MemCtx *ctx;
    Loop *loop;
    Httpd *httpd;
    int calls;
} HttpdFixture;

static bool onHello(void *arg, const char *path, HttpdResponse *response, Err *err)
{
    HttpdFixture *f = arg;
    f->calls++;
    return strBufPrintf(response->body, err, "hello from %s\n", path);
}

static bool onUnavailable(void *arg, const char *path, HttpdResponse *response, Err *err)
{
    (void)arg;
    (void)path;
    response->status = 503;
    response->contentType = "application/json";
    return strBufAppendStr(response->body, "{}", err);
}

static bool onFailure(void *arg, const char *path, HttpdResponse *response, Err *err)
{
    (void)arg;
    (void)path;
    (void)response;
    return errSet(err, errInvalidArgument, "handler broke");
}

static int setUp(void **state)
{
    HttpdFixture *f = calloc(1, sizeof(*f));
    Err err;
    f->ctx = memCtxNew(NULL, "t");
    if (!loopNew(f->ctx, clockSystem(), &f->loop, &err) ||
        !httpdNew(f->ctx, f->loop, NULL, "127.0.0.1:0", &f->httpd, &err) ||
        !httpdRoute(f->httpd, "/hello", onHello, f, &err) ||
        !httpdRoute(f->httpd, "/unavailable", onUnavailable, f, &err) ||
        !httpdRoute(f->httpd, "/broken", onFailure, f, &err))
        return -1;
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    HttpdFixture *f = *state;
    memCtxFree(f->ctx);
    free(f);
    return 0;
}

static int connectTo(HttpdFixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)httpdPort(f->httpd))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int result = connect(fd, (struct sockaddr *)&address, sizeof(address));
    assert_true(result == 0 || errno == EINPROGRESS);
    return fd;
}

/* Sends request (all at once, or not at all when NULL) and collects the response until the server closes. */
static void exchange(HttpdFixture *f, const char *request, char *response, size_t size)
{
    int fd = connectTo(f);
    Err err;
    size_t sent = 0, got = 0;
    size_t len = request != NULL ? strlen(request) : 0;
    Clock clock = clockSystem();
    int64_t deadline = clockMonotonicMs(clock) + 5000;
    response[0] = '\0';
    while (clockMonotonicMs(clock) < deadline) {
        assert_true(loopRunOnce(f->loop, 5, &err));
        if (sent < len) {
            ssize_t written = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
            if (written > 0)
                sent += (size_t)written;
        }
        ssize_t read = recv(fd, response + got, size - 1 - got, 0);
        if (read > 0) {
            got += (size_t)read;
            response[got] = '\0';
        } else if (read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            close(fd);
            return;
        }
    }
    close(fd);
    fail_msg("no complete response; got \"%s\"", response);
}

static void testServesRoutes(void **state)
{
    HttpdFixture *f = *state;
    char response[4096];
    exchange(f, "GET /hello?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof(response));
    assert_string_equal(response, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 18\r\n"
                                  "Cache-Control: no-store\r\nConnection: close\r\n\r\nhello from /hello\n");
    exchange(f, "HEAD /hello HTTP/1.0\r\n\r\n", response, sizeof(response));
    assert_contains(response, "Content-Length: 18\r\n");
    assert_contains(response, "\r\n\r\n");
    assert_string_equal(strstr(response, "\r\n\r\n"), "\r\n\r\n");
    exchange(f, "GET /unavailable HTTP/1.1\r\n\r\n", response, sizeof(response));
    assert_contains(response, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n");
    assert_int_equal(f->calls, 2);
}

static void testErrors(void **state)
{
    HttpdFixture *f = *state;
    char response[4096];
    exchange(f, "GET /nothing HTTP/1.1\r\n\r\n", response, sizeof(response));
    assert_contains(response, "HTTP/1.1 404 Not Found\r\n");
    exchange(f, "POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n", response, sizeof(response));
    assert_contains(response, "HTTP/1.1 405 Method Not Allowed\r\n");
    exchange(f, "garbage\r\n\r\n", response, sizeof(response));
    assert_contains(response, "HTTP/1.1 400 Bad Request\r\n");
    exchange(f, "GET /broken HTTP/1.1\r\n\r\n", response, sizeof(response));
    assert_contains(response, "HTTP/1.1 500 Internal Server Error\r\n");
    assert_contains(response, "\r\n\r\nhandler broke\n");
    assert_int_equal(f->calls, 0);
}

static void testOversizedRequestIsDropped(void **state)
{
    HttpdFixture *f = *state;
    static char request[HTTPD_MAX_REQUEST + 100];
    memset(request, 'a', sizeof(request) - 1);
    request[sizeof(request) - 1] = '\0';
    memcpy(request, "GET /hello HTTP/1.1\r\nX: ", 24);
    char response[256];
    exchange(f, request, response, sizeof(response));
    assert_string_equal(response, "");
    assert_int_equal(f->calls, 0);
}

static void testIdleClientDoesNotBlockOthers(void **state)
{
    HttpdFixture *f = *state;
    /* A connection that sends nothing (closed after HTTPD_TIMEOUT_MS) does not hold up the others. */
    int idle = connectTo(f);
    char response[4096];
    exchange(f, "GET /hello HTTP/1.1\r\n\r\n", response, sizeof(response));
    assert_contains(response, "200 OK");
    close(idle);
}

static void testAddresses(void **state)
{
    (void)state;
    char host[64];
    int port;
    Err err;
    assert_true(httpdParseAddress(":8081", host, sizeof(host), &port, &err));
    assert_string_equal(host, "");
    assert_int_equal(port, 8081);
    assert_true(httpdParseAddress("127.0.0.1:0", host, sizeof(host), &port, &err));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_true(httpdParseAddress("[::1]:9", host, sizeof(host), &port, &err));
    assert_string_equal(host, "::1");
    assert_false(httpdParseAddress("8081", host, sizeof(host), &port, &err));
    assert_string_equal(err.message, "address \"8081\": expected host:port or :port");
    assert_false(httpdParseAddress(":70000", host, sizeof(host), &port, &err));
    assert_false(httpdParseAddress(":", host, sizeof(host), &port, &err));
    assert_false(httpdParseAddress("[::1:80", host, sizeof(host), &port, &err));
    assert_false(httpdParseAddress(":80x", host, sizeof(host), &port, &err));

    MemCtx *ctx = memCtxNew(NULL, "t");
    Loop *loop;
    Httpd *httpd;
    assert_true(loopNew(ctx, clockSystem(), &loop, &err));
    assert_false(httpdNew(ctx, loop, NULL, "example.com:80", &httpd, &err));
    assert_err(&err, errInvalidArgument);
    assert_true(httpdNew(ctx, loop, NULL, ":0", &httpd, &err));
    assert_true(httpdPort(httpd) > 0);
    Httpd *second;
    char taken[32];
    snprintf(taken, sizeof(taken), "127.0.0.1:%d", httpdPort(httpd));
    Httpd *first;
    assert_true(httpdNew(ctx, loop, NULL, "localhost:0", &first, &err));
    snprintf(taken, sizeof(taken), "127.0.0.1:%d", httpdPort(first));
    assert_false(httpdNew(ctx, loop, NULL, taken, &second, &err));
    assert_err(&err, errSystem);
    for (int routeIdx = 0; routeIdx < HTTPD_MAX_ROUTES; routeIdx++)
        assert_true(httpdRoute(httpd, "/x", onHello, NULL, &err));
    assert_false(httpdRoute(httpd, "/y", onHello, NULL, &err));
    assert_err(&err, errTooLarge);
    memCtxFree(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testServesRoutes, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testErrors, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testOversizedRequestIsDropped, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testIdleClientDoesNotBlockOthers, setUp, tearDown),
        cmocka_unit_test(testAddresses),
    };
    return cmocka_run_group_tests_name("controller/httpd", tests, NULL, NULL);
}
