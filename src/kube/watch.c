/* Watch streams.
 *
 * Framing avoids copying when it can: a line that lies entirely inside the chunk being fed is decoded in place, and
 * only the unfinished tail of a chunk is copied into the pending buffer. When a chunk completes a pending line, the
 * pending buffer is completed and decoded, then emptied. The bound applies to the pending bytes plus the new ones,
 * so it is the longest line accepted whatever the chunking; in-place lines are checked against it too, so behaviour
 * does not depend on how the network split the stream.
 *
 * Blank lines (and a '\r' before '\n') are tolerated. An event whose type is unknown, or whose object is not a JSON
 * object, is a format error: the API server never sends one, so something between us and it is broken. */
#include "kube/watch.h"

#include "common/json.h"
#include "kube/status.h"

#include <string.h>

static const char *const kubeWatchEventTypeNames[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};

const char *kubeWatchEventTypeName(KubeWatchEventType type)
{
    return kubeWatchEventTypeNames[type];
}

void kubeWatchStreamInit(KubeWatchStream *stream, MemCtx *ctx, size_t maxLineBytes)
{
    strBufInit(&stream->pending, ctx, maxLineBytes);
    stream->failed = false;
}

void kubeWatchStreamFree(KubeWatchStream *stream)
{
    strBufFree(&stream->pending);
}

/* Decodes one event line and dispatches it. */
static bool watchDecodeLine(const char *line, size_t len, KubeWatchHandler *handler, void *arg, Err *err)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return true;

    json_t *event;
    if (!jsonParse(line, len, &event, err))
        return errPrefix(err, "watch event");

    bool ok = false;
    const char *typeName;
    json_t *object;
    if (!jsonGetStr(event, "type", &typeName, err) || !jsonGetObject(event, "object", &object, err)) {
        err->code = err->code == errOutOfMemory ? errOutOfMemory : errWatchFormat;
        errPrefix(err, "watch event");
    } else if (strcmp(typeName, "ERROR") == 0) {
        kubeStatusFromObject(object, 500, err);
        if (err->httpStatus == 410)
            err->code = errKubeGone;
        errPrefix(err, "watch ended by the api server");
    } else {
        KubeWatchEvent decoded = {.object = object};
        size_t typeIdx = 0;
        while (typeIdx < sizeof(kubeWatchEventTypeNames) / sizeof(kubeWatchEventTypeNames[0]) &&
               strcmp(typeName, kubeWatchEventTypeNames[typeIdx]) != 0)
            typeIdx++;
        if (typeIdx == sizeof(kubeWatchEventTypeNames) / sizeof(kubeWatchEventTypeNames[0])) {
            errSet(err, errWatchFormat, "watch event of unknown type \"%.64s\"", typeName);
        } else {
            decoded.type = (KubeWatchEventType)typeIdx;
            Err ignored;
            if (!jsonFindStr(object, "metadata.resourceVersion", NULL, &decoded.resourceVersion, &ignored))
                decoded.resourceVersion = NULL;
            ok = handler(arg, &decoded, err);
        }
    }
    json_decref(event);
    return ok;
}

static bool watchFail(KubeWatchStream *stream)
{
    stream->failed = true;
    strBufClear(&stream->pending);
    return false;
}

bool kubeWatchStreamFeed(KubeWatchStream *stream, const char *data, size_t len, KubeWatchHandler *handler, void *arg,
                         Err *err)
{
    Err scratch;
    if (err == NULL)
        err = &scratch; /* decoding reads back the error it builds */
    if (stream->failed)
        return errSet(err, errInvalidArgument, "watch stream already failed");

    while (len > 0) {
        const char *newline = memchr(data, '\n', len);
        size_t segment = newline != NULL ? (size_t)(newline - data) : len;

        if (stream->pending.len + segment > stream->pending.limit) {
            errSet(err, errTooLarge, "watch event longer than %zu bytes", stream->pending.limit);
            return watchFail(stream);
        }
        if (newline == NULL) {
            if (!strBufAppend(&stream->pending, data, segment, err))
                return watchFail(stream);
            return true;
        }

        bool ok;
        if (stream->pending.len == 0) {
            ok = watchDecodeLine(data, segment, handler, arg, err);
        } else {
            ok = strBufAppend(&stream->pending, data, segment, err) &&
                 watchDecodeLine(stream->pending.data, stream->pending.len, handler, arg, err);
            strBufClear(&stream->pending);
        }
        if (!ok)
            return watchFail(stream);
        data += segment + 1;
        len -= segment + 1;
    }
    return true;
}

bool kubeWatchStreamFinish(KubeWatchStream *stream, Err *err)
{
    if (stream->failed)
        return errSet(err, errInvalidArgument, "watch stream already failed");
    if (stream->pending.len > 0) {
        errSet(err, errWatchFormat, "watch stream ended inside an event (%zu bytes unfinished)", stream->pending.len);
        return watchFail(stream);
    }
    return true;
}
