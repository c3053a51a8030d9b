/* Watch streams: framing the API server's newline-delimited JSON events and decoding them.
 *
 * A watch response body is a sequence of lines, each a JSON object {"type": ..., "object": {...}}. Bytes arrive in
 * chunks split anywhere, so the stream keeps the unfinished tail of a line, bounded by maxLineBytes: a longer line
 * fails the stream with errTooLarge instead of growing memory without end. Each complete event is handed to the
 * handler; an ERROR event ends the stream with the error it carries, errKubeGone for "410 Gone / Expired" (the
 * resourceVersion is too old: the caller must list again). Once a feed has failed, the stream is dead. */
#ifndef KUBE_WATCH_H
#define KUBE_WATCH_H

#include "common/error.h"
#include "common/memctx.h"
#include "common/strbuf.h"

#include <jansson.h>

#define KUBE_WATCH_DEFAULT_MAX_LINE (16 * 1024 * 1024)

typedef enum KubeWatchEventType {
    kubeWatchAdded,
    kubeWatchModified,
    kubeWatchDeleted,
    kubeWatchBookmark,
} KubeWatchEventType;

typedef struct KubeWatchEvent {
    KubeWatchEventType type;
    json_t *object;              /* borrowed: take a reference (json_incref) to keep it past the handler */
    const char *resourceVersion; /* object.metadata.resourceVersion, NULL if absent; borrowed likewise */
} KubeWatchEvent;

/* Called once per event. Returning false stops the feed, which then fails with the handler's err. */
typedef bool KubeWatchHandler(void *arg, const KubeWatchEvent *event, Err *err);

typedef struct KubeWatchStream {
    StrBuf pending; /* the start of a line whose end has not arrived */
    bool failed;
} KubeWatchStream;

void kubeWatchStreamInit(KubeWatchStream *stream, MemCtx *ctx, size_t maxLineBytes);

/* Frames and decodes len bytes of the body, calling handler for each complete event. */
bool kubeWatchStreamFeed(KubeWatchStream *stream, const char *data, size_t len, KubeWatchHandler *handler, void *arg,
                         Err *err) MUST_CHECK;

/* At the end of the body: fails with errWatchFormat if an unfinished event is left. */
bool kubeWatchStreamFinish(KubeWatchStream *stream, Err *err) MUST_CHECK;

/* Releases the pending buffer. */
void kubeWatchStreamFree(KubeWatchStream *stream);

const char *kubeWatchEventTypeName(KubeWatchEventType type);

#endif
