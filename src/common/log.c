/* Logging.
 *
 * A line is assembled in a fixed stack buffer (no allocation, so logging works when memory has run out) and written
 * with a single write(2), which keeps lines from interleaving when several processes share a pipe. Text mode follows
 * logfmt: a value is quoted when empty or when it holds a space, '=', '"' or a control character, and quotes,
 * backslashes and control characters are escaped. JSON mode escapes per RFC 8259. Both are produced by the same field
 * walk; only the punctuation differs.
 *
 * Truncation works by reserving room for the " truncated=true" tail (or the JSON equivalent) and the newline before
 * anything else is written, so a cut line is still well formed. Keys are caller-chosen identifiers and are written
 * without escaping. */
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LOG_REDACTED "[redacted]"

/* Room kept free for the end of a line: the truncation mark, the closing brace and the newline. */
#define LOG_TAIL_RESERVE 32

typedef struct LogLine {
    char data[LOG_LINE_MAX];
    size_t len;
    bool truncated;
    LogFormat format;
} LogLine;

static const char *const logLevelNames[] = {"debug", "info", "warn", "error"};

void logInit(Log *log, int fd, LogLevel minLevel, LogFormat format, Clock clock)
{
    *log = (Log){.fd = fd, .minLevel = minLevel, .format = format, .clock = clock};
}

bool logLevelParse(const char *name, LogLevel *level)
{
    for (size_t levelIdx = 0; levelIdx < sizeof(logLevelNames) / sizeof(logLevelNames[0]); levelIdx++) {
        if (strcmp(name, logLevelNames[levelIdx]) == 0) {
            *level = (LogLevel)levelIdx;
            return true;
        }
    }
    return false;
}

bool logFormatParse(const char *name, LogFormat *format)
{
    if (strcmp(name, "text") == 0)
        *format = logFormatText;
    else if (strcmp(name, "json") == 0)
        *format = logFormatJson;
    else
        return false;
    return true;
}

bool logKeyIsSecret(const char *key)
{
    static const char *const secretWords[] = {"password",   "passwd",  "token",  "secret", "authorization",
                                              "credential", "private", "bearer", "cookie"};
    char lower[128];
    size_t len = 0;
    for (; key[len] != '\0' && len < sizeof(lower) - 1; len++)
        lower[len] = (char)tolower((unsigned char)key[len]);
    lower[len] = '\0';
    for (size_t wordIdx = 0; wordIdx < sizeof(secretWords) / sizeof(secretWords[0]); wordIdx++) {
        if (strstr(lower, secretWords[wordIdx]) != NULL)
            return true;
    }
    return false;
}

/* Appends bytes whole or not at all (an escape sequence must not be cut); a refusal marks the line truncated and
 * every later write is refused too. */
static void logPutRaw(LogLine *line, const char *data, size_t len)
{
    if (line->truncated || len > sizeof(line->data) - LOG_TAIL_RESERVE - line->len) {
        line->truncated = true;
        return;
    }
    memcpy(line->data + line->len, data, len);
    line->len += len;
}

/* Appends as much of str as fits. */
static void logPutStr(LogLine *line, const char *str)
{
    for (const char *c = str; *c != '\0' && !line->truncated; c++)
        logPutRaw(line, c, 1);
}

/* Writes into the reserved tail, which LOG_TAIL_RESERVE sizes for every use. */
static void logPutReserved(LogLine *line, const char *str)
{
    size_t len = strlen(str);
    memcpy(line->data + line->len, str, len);
    line->len += len;
}

static bool logTextNeedsQuotes(const char *value)
{
    if (*value == '\0')
        return true;
    for (const char *c = value; *c != '\0'; c++) {
        if (*c == ' ' || *c == '=' || *c == '"' || iscntrl((unsigned char)*c))
            return true;
    }
    return false;
}

/* Writes value as a quoted, escaped string (JSON rules, which logfmt readers accept too). */
static void logPutQuoted(LogLine *line, const char *value)
{
    logPutRaw(line, "\"", 1);
    if (line->truncated)
        return;
    for (const char *c = value; *c != '\0' && !line->truncated; c++) {
        char escaped[8];
        switch (*c) {
            case '"':
                logPutRaw(line, "\\\"", 2);
                break;
            case '\\':
                logPutRaw(line, "\\\\", 2);
                break;
            case '\n':
                logPutRaw(line, "\\n", 2);
                break;
            case '\t':
                logPutRaw(line, "\\t", 2);
                break;
            case '\r':
                logPutRaw(line, "\\r", 2);
                break;
            default:
                if (iscntrl((unsigned char)*c)) {
                    snprintf(escaped, sizeof(escaped), "\\u%04x", (unsigned)(unsigned char)*c);
                    logPutRaw(line, escaped, strlen(escaped));
                } else {
                    logPutRaw(line, c, 1);
                }
        }
    }
    /* Close the string even when cut, so the line stays well formed. */
    logPutReserved(line, "\"");
}

static void logPutString(LogLine *line, const char *value)
{
    if (line->format == logFormatJson || logTextNeedsQuotes(value))
        logPutQuoted(line, value);
    else
        logPutStr(line, value);
}

static void logPutKey(LogLine *line, const char *key)
{
    if (line->format == logFormatJson) {
        logPutRaw(line, ",\"", 2);
        logPutStr(line, key);
        logPutRaw(line, "\":", 2);
    } else {
        logPutRaw(line, " ", 1);
        logPutStr(line, key);
        logPutRaw(line, "=", 1);
    }
}

static void logPutFieldValue(LogLine *line, const LogField *field)
{
    char number[32];
    logPutKey(line, field->key);
    if (logKeyIsSecret(field->key)) {
        logPutString(line, LOG_REDACTED);
        return;
    }
    switch (field->type) {
        case logFieldStr:
            if (field->str == NULL)
                logPutStr(line, "null");
            else
                logPutString(line, field->str);
            break;
        case logFieldInt:
            snprintf(number, sizeof(number), "%" PRId64, field->num);
            logPutStr(line, number);
            break;
        default:
            logPutStr(line, field->num ? "true" : "false");
            break;
    }
}

/* Writes one field whole or, when it does not fit, not at all. */
static void logPutField(LogLine *line, const LogField *field)
{
    size_t mark = line->len;
    logPutFieldValue(line, field);
    if (line->truncated)
        line->len = mark;
}

/* Writes the whole buffer, retrying short writes and EINTR; a log line that cannot be written is dropped. */
static void logWriteAll(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t written = write(fd, data, len);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return;
        data += written;
        len -= (size_t)written;
    }
}

void logEvent(const Log *log, LogLevel level, const char *msg, ...)
{
    if (level < log->minLevel)
        return;

    LogLine line = {.len = 0, .truncated = false, .format = log->format};
    char timestamp[CLOCK_RFC3339_SIZE];
    clockFormatRfc3339(clockWallMs(log->clock), timestamp);

    if (log->format == logFormatJson) {
        logPutStr(&line, "{\"ts\":\"");
        logPutStr(&line, timestamp);
        logPutStr(&line, "\",\"level\":\"");
        logPutStr(&line, logLevelNames[level]);
        logPutStr(&line, "\",\"msg\":");
    } else {
        logPutStr(&line, "ts=");
        logPutStr(&line, timestamp);
        logPutStr(&line, " level=");
        logPutStr(&line, logLevelNames[level]);
        logPutStr(&line, " msg=");
    }
    logPutString(&line, msg);

    va_list args;
    va_start(args, msg);
    for (LogField field = va_arg(args, LogField); field.type != logFieldEnd; field = va_arg(args, LogField))
        logPutField(&line, &field);
    va_end(args);

    logPutReserved(&line, line.format == logFormatJson ? (line.truncated ? ",\"truncated\":true}\n" : "}\n")
                                                       : (line.truncated ? " truncated=true\n" : "\n"));
    logWriteAll(log->fd, line.data, line.len);
}
