/* A fake API server answering concurrent requests. See fakeapi.h.
 *
 * The child polls its listening socket and every connection, reads requests (headers, then Content-Length bytes of
 * body; keep-alive, so several may come on one connection), records each and answers it at once. It ends when the
 * parent kills it, or by an alarm if the parent never does; it never returns into the test (see fakeserver.c). */
#include "fakeapi.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAKE_API_CONNECTIONS_MAX 128
#define FAKE_API_REQUEST_MAX     (1024 * 1024)
#define FAKE_API_LIFETIME_S      60

typedef struct FakeApiConnection {
    int fd;
    char *buffer;
    size_t len;
} FakeApiConnection;

static void fakeApiWrite(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t written = send(fd, data, len, MSG_NOSIGNAL);
        if (written <= 0)
            return;
        data += written;
        len -= (size_t)written;
    }
}

/* Records the request (one line) and answers it. */
static void fakeApiAnswer(int fd, int recordFd, const FakeApiRoute *routes, size_t count, char *method, char *target,
                          char *body, size_t bodyLen)
{
    for (size_t byteIdx = 0; byteIdx < bodyLen; byteIdx++)
        if (body[byteIdx] == '\n' || body[byteIdx] == '\r')
            body[byteIdx] = ' ';
    dprintf(recordFd, "%s %s %.*s\n", method, target, (int)bodyLen, body);
    if (strstr(target, "watch=1") != NULL) {
        static const char watchHeaders[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                           "Transfer-Encoding: chunked\r\n\r\n";
        fakeApiWrite(fd, watchHeaders, strlen(watchHeaders));
        return;
    }
    const char *status = "200 OK";
    const char *answer = strcmp(method, "GET") == 0 ? "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]}" : "{}";
    for (size_t routeIdx = 0; routeIdx < count; routeIdx++) {
        const FakeApiRoute *route = &routes[routeIdx];
        if ((route->method == NULL || strcmp(route->method, method) == 0) && strstr(target, route->part) != NULL) {
            status = route->status;
            answer = route->body;
            break;
        }
    }
    char headers[256];
    int headersLen = snprintf(headers, sizeof(headers),
                              "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", status,
                              strlen(answer));
    fakeApiWrite(fd, headers, (size_t)headersLen);
    fakeApiWrite(fd, answer, strlen(answer));
}

/* Answers every complete request in the connection's buffer; false when the connection must close. */
static bool fakeApiServeBuffer(FakeApiConnection *conn, int recordFd, const FakeApiRoute *routes, size_t count)
{
    for (;;) {
        conn->buffer[conn->len] = '\0';
        char *headersEnd = strstr(conn->buffer, "\r\n\r\n");
        if (headersEnd == NULL)
            return conn->len + 1 < FAKE_API_REQUEST_MAX;
        size_t contentLength = 0;
        for (char *line = strstr(conn->buffer, "\r\n"); line != NULL && line < headersEnd;
             line = strstr(line + 2, "\r\n"))
            if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
                contentLength = strtoul(line + 17, NULL, 10);
        size_t headersLen = (size_t)(headersEnd + 4 - conn->buffer);
        if (conn->len < headersLen + contentLength)
            return headersLen + contentLength + 1 < FAKE_API_REQUEST_MAX;
        char *method = conn->buffer;
        char *target = strchr(method, ' ');
        char *targetEnd = target != NULL ? strchr(target + 1, ' ') : NULL;
        if (targetEnd == NULL)
            return false;
        *target++ = '\0';
        *targetEnd = '\0';
        fakeApiAnswer(conn->fd, recordFd, routes, count, method, target, conn->buffer + headersLen, contentLength);
        conn->len -= headersLen + contentLength;
        memmove(conn->buffer, conn->buffer + headersLen + contentLength, conn->len);
    }
}

static void fakeApiServe(int listenFd, int recordFd, const FakeApiRoute *routes, size_t count)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(FAKE_API_LIFETIME_S);
    FakeApiConnection conns[FAKE_API_CONNECTIONS_MAX];
    size_t connCount = 0;
    struct pollfd polled[FAKE_API_CONNECTIONS_MAX + 1];
    for (;;) {
        polled[0] = (struct pollfd){.fd = listenFd, .events = POLLIN};
        for (size_t connIdx = 0; connIdx < connCount; connIdx++)
            polled[connIdx + 1] = (struct pollfd){.fd = conns[connIdx].fd, .events = POLLIN};
        if (poll(polled, connCount + 1, -1) < 0)
            continue;
        for (size_t connIdx = connCount; connIdx-- > 0;) {
            FakeApiConnection *conn = &conns[connIdx];
            if ((polled[connIdx + 1].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
                continue;
            ssize_t got = read(conn->fd, conn->buffer + conn->len, FAKE_API_REQUEST_MAX - 1 - conn->len);
            if (got > 0)
                conn->len += (size_t)got;
            if (got <= 0 || !fakeApiServeBuffer(conn, recordFd, routes, count)) {
                close(conn->fd);
                free(conn->buffer);
                conns[connIdx] = conns[--connCount];
            }
        }
        if ((polled[0].revents & POLLIN) != 0) {
            int fd = accept(listenFd, NULL, NULL);
            char *buffer = fd >= 0 && connCount < FAKE_API_CONNECTIONS_MAX ? malloc(FAKE_API_REQUEST_MAX) : NULL;
            if (buffer != NULL)
                conns[connCount++] = (FakeApiConnection){.fd = fd, .buffer = buffer, .len = 0};
            else if (fd >= 0)
                close(fd);
        }
    }
}

bool fakeApiStart(FakeApi *server, const FakeApiRoute *routes, size_t count)
{
    snprintf(server->recordPath, sizeof(server->recordPath), "/tmp/fakeapi-XXXXXX");
    int recordFd = mkstemp(server->recordPath);
    int listenFd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t addressLen = sizeof(address);
    if (recordFd < 0 || listenFd < 0 || bind(listenFd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(listenFd, 128) != 0 || getsockname(listenFd, (struct sockaddr *)&address, &addressLen) != 0) {
        if (listenFd >= 0)
            close(listenFd);
        if (recordFd >= 0) {
            close(recordFd);
            unlink(server->recordPath);
        }
        return false;
    }
    server->port = ntohs(address.sin_port);
    fflush(NULL);
    server->pid = fork();
    if (server->pid == 0)
        fakeApiServe(listenFd, recordFd, routes, count);
    close(listenFd);
    close(recordFd);
    if (server->pid < 0) {
        unlink(server->recordPath);
        return false;
    }
    return true;
}

char *fakeApiStop(FakeApi *server)
{
    kill(server->pid, SIGKILL);
    waitpid(server->pid, NULL, 0);
    FILE *file = fopen(server->recordPath, "r");
    char *record = NULL;
    if (file != NULL && fseek(file, 0, SEEK_END) == 0) {
        long size = ftell(file);
        record = size >= 0 ? calloc(1, (size_t)size + 1) : NULL;
        rewind(file);
        if (record != NULL && fread(record, 1, (size_t)size, file) != (size_t)size) {
            free(record);
            record = NULL;
        }
    }
    if (file != NULL)
        fclose(file);
    unlink(server->recordPath);
    return record;
}

/* The record's next line from *cursor whose method and target match: its start (*cursor moves past it), or NULL. */
static const char *fakeApiNext(const char *record, size_t *cursor, const char *method, const char *part)
{
    size_t methodLen = strlen(method);
    while (record[*cursor] != '\0') {
        const char *line = record + *cursor;
        const char *end = strchr(line, '\n');
        size_t lineLen = end != NULL ? (size_t)(end - line) : strlen(line);
        *cursor += lineLen + (end != NULL ? 1 : 0);
        const char *target = line + methodLen + 1;
        const char *targetEnd = memchr(target, ' ', lineLen > methodLen ? lineLen - methodLen - 1 : 0);
        if (lineLen <= methodLen || strncmp(line, method, methodLen) != 0 || line[methodLen] != ' ' ||
            targetEnd == NULL)
            continue;
        size_t partLen = strlen(part);
        for (const char *at = target; at + partLen <= targetEnd; at++)
            if (strncmp(at, part, partLen) == 0)
                return line;
    }
    return NULL;
}

size_t fakeApiCount(const char *record, const char *method, const char *part)
{
    size_t cursor = 0, count = 0;
    while (fakeApiNext(record, &cursor, method, part) != NULL)
        count++;
    return count;
}

char *fakeApiBody(const char *record, const char *method, const char *part)
{
    size_t cursor = 0;
    const char *line = fakeApiNext(record, &cursor, method, part);
    if (line == NULL)
        return NULL;
    const char *body = strchr(strchr(line, ' ') + 1, ' ') + 1;
    const char *end = strchr(body, '\n');
    size_t len = end != NULL ? (size_t)(end - body) : strlen(body);
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, body, len);
        copy[len] = '\0';
    }
    return copy;
}
