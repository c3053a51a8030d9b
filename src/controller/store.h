/* The object cache behind an informer: objects by namespace/name, with an index by owner UID.
 *
 * Objects are JSON documents as the API server sent them, trimmed on the way in by a transform (by default
 * storeTrimDefault: no metadata.managedFields, no kubectl last-applied-configuration annotation), then kept
 * read-only: readers get borrowed pointers, valid until the next change to the store.
 *
 * A store has up to STORE_MAX_HANDLERS handlers (one per controller watching the kind, typically), each told of
 * every change. Every change is atomic. A change first allocates everything it will need, then asks the handlers
 * (which typically enqueue the owning cluster), in the order they were added, and only then commits, without
 * allocating: so if any allocation or a handler fails, the store is exactly as before and the caller gets the error
 * (an informer then lists again, which brings the store back to the API server's state). The handlers before the
 * one that failed have seen a change that did not happen, and will see it again after the list: a handler's effect
 * must be harmless when spurious or repeated, as queueing a key is. An upsert whose resourceVersion equals the cached
 * one is not a change: no handler is called. */
#ifndef CONTROLLER_STORE_H
#define CONTROLLER_STORE_H

#include "common/error.h"
#include "common/memctx.h"
#include "common/strbuf.h"
#include "kube/watch.h"

#include <jansson.h>
#include <stddef.h>

#define STORE_KEY_MAX      512 /* namespace, '/', name and NUL: Kubernetes names are at most 253 bytes */
#define STORE_MAX_HANDLERS 16

typedef struct Store Store;

typedef struct StoreEntry {
    const char *key;             /* "namespace/name", or "name" for a cluster-scoped object */
    const char *namespace;       /* "" for a cluster-scoped object */
    const char *name;            /* points into key */
    const char *uid;             /* "" when the object has none */
    const char *resourceVersion; /* "" when the object has none; borrowed from object */
    json_t *object;              /* the trimmed object, never modified while cached */
    size_t ownerCount;
    const char **ownerUids; /* distinct metadata.ownerReferences[].uid */
} StoreEntry;

typedef enum StoreEventType {
    storeAdded,
    storeUpdated,
    storeDeleted,
} StoreEventType;

/* Called before a change is committed, with the cached object (NULL for an addition) and the new one (NULL for a
 * deletion). Returning false cancels the change (the handlers after it are not called). It must not change the
 * store. */
typedef bool StoreHandlerFn(void *arg, StoreEventType type, const json_t *oldObject, const json_t *newObject, Err *err);

/* Trims object in place before it is cached (it may not change metadata.namespace or metadata.name). */
typedef bool StoreTransformFn(void *arg, json_t *object, Err *err);

typedef struct StoreOptions {
    StoreTransformFn *transform; /* NULL: storeTrimDefault */
    void *arg;                   /* for the transform */
} StoreOptions;

/* An empty store, without handlers, in a new child context of parent; freeing that context releases every cached
 * object. */
bool storeNew(MemCtx *parent, const StoreOptions *options, Store **out, Err *err) MUST_CHECK;

/* Adds a handler, called after those added before it with arg (which must outlive the store). A handler is told of
 * changes from then on, not of the objects already cached. errTooLarge beyond STORE_MAX_HANDLERS. */
bool storeAddHandler(Store *store, StoreHandlerFn *handler, void *arg, Err *err) MUST_CHECK;

/* Adds or replaces the object with object's namespace and name. The store takes its own reference to object and may
 * modify it (the transform), so the caller must not use it as anything but a cached object afterwards. An object
 * without metadata.name is errInvalidArgument. */
bool storeUpsert(Store *store, json_t *object, Err *err) MUST_CHECK;

/* Removes the object with object's namespace and name, if cached. */
bool storeDelete(Store *store, const json_t *object, Err *err) MUST_CHECK;

/* Applies a watch event: ADDED and MODIFIED upsert, DELETED deletes, BOOKMARK changes nothing. */
bool storeApplyWatchEvent(Store *store, const KubeWatchEvent *event, Err *err) MUST_CHECK;

/* Makes the objects of namespace (NULL: of every namespace) exactly items, a JSON array of objects from a fresh
 * list: upserts each and deletes the cached objects of that namespace that items lacks. Each step is atomic; on
 * failure the store holds some of the new state and the caller must replace again. */
bool storeReplace(Store *store, const char *namespace, json_t *items, Err *err) MUST_CHECK;

/* The cached entry, or NULL. namespace NULL or "" for cluster-scoped objects. */
const StoreEntry *storeGet(const Store *store, const char *namespace, const char *name);

size_t storeCount(const Store *store);

/* Iteration in no particular order: *cursor = 0 first; false at the end. */
bool storeNext(const Store *store, size_t *cursor, const StoreEntry **entry);

/* The entries whose ownerReferences name uid: *count entries (0 when none). Valid until the next change. */
const StoreEntry *const *storeOwnedBy(const Store *store, const char *uid, size_t *count);

/* Appends one line per cached object, "key resourceVersion\n", sorted by key: for tests and the debug endpoint. */
bool storeDump(const Store *store, StrBuf *out, Err *err) MUST_CHECK;

/* The default transform: drops metadata.managedFields and the kubectl.kubernetes.io/last-applied-configuration
 * annotation, which can be as large as the object itself and no reconciler reads. Never fails. */
bool storeTrimDefault(void *arg, json_t *object, Err *err);

#endif
