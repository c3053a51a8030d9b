/* A scripted fake API server. See fakeserver.h.
 *
 * The child never returns into the test: it ends with _exit, so no atexit handler (cmocka's, the sanitizers' leak
 * check) runs twice, and an alarm bounds how long it may live if the client never connects. */
#include "fakeserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAKE_REQUEST_MAX (1024 * 1024)
#define FAKE_LIFETIME_S  20

typedef struct FakeConnection {
    int fd;
    SSL *ssl;
} FakeConnection;

static void fakeFail(int stepIdx, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "fake server, step %d: ", stepIdx);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    _exit(1);
}

static ssize_t fakeRead(FakeConnection *conn, char *buf, size_t len)
{
    if (conn->ssl != NULL) {
        int got = SSL_read(conn->ssl, buf, (int)len);
        return got > 0 ? got : (SSL_get_error(conn->ssl, got) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
    }
    return read(conn->fd, buf, len);
}

static bool fakeWrite(FakeConnection *conn, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t written =
            conn->ssl != NULL ? SSL_write(conn->ssl, data, (int)len) : send(conn->fd, data, len, MSG_NOSIGNAL);
        if (written <= 0)
            return false;
        data += written;
        len -= (size_t)written;
    }
    return true;
}

static void fakeCloseConnection(FakeConnection *conn, bool reset)
{
    if (conn->fd < 0)
        return;
    if (reset) {
        struct linger linger = {.l_onoff = 1, .l_linger = 0};
        setsockopt(conn->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
    } else if (conn->ssl != NULL) {
        SSL_shutdown(conn->ssl);
    }
    SSL_free(conn->ssl);
    close(conn->fd);
    *conn = (FakeConnection){.fd = -1, .ssl = NULL};
}

/* Reads one request: headers up to the blank line, then Content-Length bytes of body. */
static void fakeReadRequest(FakeConnection *conn, int stepIdx, char *request, size_t max)
{
    size_t len = 0;
    char *headersEnd = NULL;
    size_t wanted = 0;
    for (;;) {
        if (headersEnd != NULL && len >= wanted)
            break;
        if (len + 1 >= max)
            fakeFail(stepIdx, "request too large");
        ssize_t got = fakeRead(conn, request + len, max - 1 - len);
        if (got <= 0)
            fakeFail(stepIdx, "connection ended while reading a request (%zu bytes read)", len);
        len += (size_t)got;
        request[len] = '\0';
        if (headersEnd == NULL && (headersEnd = strstr(request, "\r\n\r\n")) != NULL) {
            size_t contentLength = 0;
            for (char *line = strstr(request, "\r\n"); line != NULL && line < headersEnd;
                 line = strstr(line + 2, "\r\n")) {
                if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
                    contentLength = strtoul(line + 17, NULL, 10);
            }
            wanted = (size_t)(headersEnd + 4 - request) + contentLength;
        }
    }
}

static SSL_CTX *fakeTlsContext(const FakeTls *tls)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    BIO *certBio = BIO_new_mem_buf(tls->pki->serverCert, -1);
    BIO *keyBio = BIO_new_mem_buf(tls->pki->serverKey, -1);
    BIO *caBio = BIO_new_mem_buf(tls->pki->caCert, -1);
    X509 *cert = PEM_read_bio_X509(certBio, NULL, NULL, NULL);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(keyBio, NULL, NULL, NULL);
    X509 *ca = PEM_read_bio_X509(caBio, NULL, NULL, NULL);
    if (ctx == NULL || cert == NULL || key == NULL || ca == NULL || SSL_CTX_use_certificate(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key) != 1 || X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) != 1)
        fakeFail(-1, "cannot set up TLS");
    if (tls->requireClientCert)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    BIO_free(certBio);
    BIO_free(keyBio);
    BIO_free(caBio);
    return ctx;
}

static void fakeRunScript(int listenFd, const FakeStep *steps, size_t count, const FakeTls *tls)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(FAKE_LIFETIME_S);
    SSL_CTX *tlsCtx = tls != NULL ? fakeTlsContext(tls) : NULL;
    FakeConnection conn = {.fd = -1, .ssl = NULL};
    char *request = malloc(FAKE_REQUEST_MAX);
    for (size_t stepIdx = 0; stepIdx < count; stepIdx++) {
        const FakeStep *step = &steps[stepIdx];
        int idx = (int)stepIdx;
        switch (step->kind) {
            case fakeAccept:
                fakeCloseConnection(&conn, false);
                conn.fd = accept(listenFd, NULL, NULL);
                if (conn.fd < 0)
                    fakeFail(idx, "accept: %s", strerror(errno));
                if (tlsCtx != NULL) {
                    conn.ssl = SSL_new(tlsCtx);
                    SSL_set_fd(conn.ssl, conn.fd);
                    if (SSL_accept(conn.ssl) != 1) {
                        /* A refused handshake is what some tests expect: the next step says so. */
                        if (stepIdx + 1 < count && steps[stepIdx + 1].kind == fakeClose) {
                            stepIdx++;
                            fakeCloseConnection(&conn, false);
                            break;
                        }
                        fakeFail(idx, "TLS handshake failed");
                    }
                }
                break;
            case fakeExpect:
                fakeReadRequest(&conn, idx, request, FAKE_REQUEST_MAX);
                for (size_t matchIdx = 0; matchIdx < FAKE_MATCH_MAX && step->match[matchIdx] != NULL; matchIdx++) {
                    if (strstr(request, step->match[matchIdx]) == NULL)
                        fakeFail(idx, "request lacks \"%s\":\n%s", step->match[matchIdx], request);
                }
                break;
            case fakeSend:
                if (!fakeWrite(&conn, step->text, strlen(step->text)))
                    fakeFail(idx, "write failed");
                break;
            case fakeChunk: {
                char header[32];
                size_t len = strlen(step->text);
                snprintf(header, sizeof(header), "%zx\r\n", len);
                if (!fakeWrite(&conn, header, strlen(header)) || !fakeWrite(&conn, step->text, len) ||
                    !fakeWrite(&conn, "\r\n", 2))
                    fakeFail(idx, "write failed");
                break;
            }
            case fakeSleep: {
                struct timespec pause = {.tv_sec = step->ms / 1000, .tv_nsec = (long)(step->ms % 1000) * 1000000};
                nanosleep(&pause, NULL);
                break;
            }
            case fakeClose:
                fakeCloseConnection(&conn, false);
                break;
            default:
                fakeCloseConnection(&conn, true);
                break;
        }
    }
    /* Let the client read what was sent before the connection goes. */
    fakeCloseConnection(&conn, false);
    free(request);
    SSL_CTX_free(tlsCtx);
    _exit(0);
}

bool fakeServerStart(FakeServer *server, const FakeStep *steps, size_t count, const FakeTls *tls)
{
    int listenFd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t addressLen = sizeof(address);
    if (listenFd < 0 || bind(listenFd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listenFd, 8) != 0 ||
        getsockname(listenFd, (struct sockaddr *)&address, &addressLen) != 0) {
        if (listenFd >= 0)
            close(listenFd);
        return false;
    }
    server->port = ntohs(address.sin_port);
    fflush(NULL);
    server->pid = fork();
    if (server->pid < 0) {
        close(listenFd);
        return false;
    }
    if (server->pid == 0)
        fakeRunScript(listenFd, steps, count, tls);
    close(listenFd);
    return true;
}

bool fakeServerWait(FakeServer *server)
{
    int status = 0;
    for (int waitedMs = 0; waitedMs < 5000; waitedMs += 10) {
        pid_t done = waitpid(server->pid, &status, WNOHANG);
        if (done == server->pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 10000000};
        nanosleep(&pause, NULL);
    }
    kill(server->pid, SIGKILL);
    waitpid(server->pid, &status, 0);
    fprintf(stderr, "fake server did not finish its script\n");
    return false;
}
