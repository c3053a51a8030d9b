/* Logging: one line per event, key=value fields, text or JSON.
 *
 *     logInfo(log, "watch restarted", logStr("resource", "pods"), logInt("attempt", 3));
 *     => ts=2026-11-25T11:23:45.678Z level=info msg="watch restarted" resource=pods attempt=3
 *     => {"ts":"2026-11-25T11:23:45.678Z","level":"info","msg":"watch restarted","resource":"pods","attempt":3}
 *
 * Messages are lowercase without final punctuation. Field values whose key names a secret (password, token, secret,
 * authorization, credential, private key: see logKeyIsSecret) are printed as "[redacted]" whatever the caller passes,
 * so a careless field cannot leak a credential; never put secrets in msg. A line longer than LOG_LINE_MAX is cut and
 * marked truncated=true. A Log is an explicit object: there is no global logger. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include "common/clock.h"

#include <stdbool.h>
#include <stdint.h>

#define LOG_LINE_MAX 4096

typedef enum LogLevel {
    logLevelDebug,
    logLevelInfo,
    logLevelWarn,
    logLevelError,
} LogLevel;

typedef enum LogFormat {
    logFormatText,
    logFormatJson,
} LogFormat;

typedef struct Log {
    int fd; /* written with one write(2) per line */
    LogLevel minLevel;
    LogFormat format;
    Clock clock;
} Log;

typedef enum LogFieldType {
    logFieldEnd,
    logFieldStr,
    logFieldInt,
    logFieldBool,
} LogFieldType;

typedef struct LogField {
    LogFieldType type;
    const char *key;
    const char *str; /* NULL prints as null */
    int64_t num;
} LogField;

#define logStr(k, v)  ((LogField){.type = logFieldStr, .key = (k), .str = (v)})
#define logInt(k, v)  ((LogField){.type = logFieldInt, .key = (k), .num = (int64_t)(v)})
#define logBool(k, v) ((LogField){.type = logFieldBool, .key = (k), .num = (v) ? 1 : 0})
#define LOG_END       ((LogField){.type = logFieldEnd})

void logInit(Log *log, int fd, LogLevel minLevel, LogFormat format, Clock clock);

/* Writes one event if level >= log->minLevel: msg, then the LogField arguments up to LOG_END. Use the macros. */
void logEvent(const Log *log, LogLevel level, const char *msg, ...);

#define logDebug(log, ...) logEvent((log), logLevelDebug, __VA_ARGS__, LOG_END)
#define logInfo(log, ...)  logEvent((log), logLevelInfo, __VA_ARGS__, LOG_END)
#define logWarn(log, ...)  logEvent((log), logLevelWarn, __VA_ARGS__, LOG_END)
#define logError(log, ...) logEvent((log), logLevelError, __VA_ARGS__, LOG_END)

/* Parses "debug", "info", "warn", "error" / "text", "json". false for anything else. */
bool logLevelParse(const char *name, LogLevel *level);
bool logFormatParse(const char *name, LogFormat *format);

/* Whether a field of this name is redacted. */
bool logKeyIsSecret(const char *key);

#endif
