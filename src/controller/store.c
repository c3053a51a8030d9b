/* The object cache.
 *
 * Each cached object is one StoreEntry block holding the entry, its owner UID pointers and every string it needs
 * (key, namespace, uid, owner UIDs), so adding an object costs one allocation besides the map and index slots, and
 * removing it one release. The resourceVersion is borrowed from the JSON object, which is immutable once cached.
 *
 * The owner index maps an owner UID to an OwnerSet, an unordered array of entries (removal swaps the last one in).
 * Sets are created on demand and freed when they become empty, so the index never holds more sets than there are
 * distinct owners in the cache.
 *
 * A change runs in three phases: prepare (build the new entry, reserve the map slot, create the owner sets it needs
 * and make room in them: everything that can fail), notify (the handlers, which can fail too), commit (link and
 * unlink, which cannot). A failure in the first two phases undoes the preparation: owner sets created for it and
 * still empty are freed, the new entry released. Capacity reserved but unused is harmless.
 *
 * The handlers sit in a fixed array: a store has as many as there are controllers watching its kind, a handful, and
 * adding one then never allocates. */
#include "controller/store.h"

#include "common/alloc.h"
#include "common/json.h"
#include "controller/strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct StoreHandler {
    StoreHandlerFn *fn;
    void *arg;
} StoreHandler;

typedef struct OwnerSet {
    const char *uid; /* stored after the struct */
    StoreEntry **entries;
    size_t count;
    size_t capacity;
} OwnerSet;

struct Store {
    MemCtx *ctx;
    StoreOptions options;
    StrMap entries; /* key -> StoreEntry */
    StrMap owners;  /* owner uid -> OwnerSet */
    StoreHandler handlers[STORE_MAX_HANDLERS];
    size_t handlerCount;
};

static void storeCleanup(void *arg)
{
    Store *store = arg;
    size_t cursor = 0;
    const char *key;
    void *value;
    while (strMapNext(&store->entries, &cursor, &key, &value))
        json_decref(((StoreEntry *)value)->object);
}

bool storeNew(MemCtx *parent, const StoreOptions *options, Store **out, Err *err)
{
    MemCtx *ctx = memCtxNew(parent, "store");
    Store *store = ctx != NULL ? memCtxAlloc(ctx, sizeof(*store)) : NULL;
    if (store == NULL || !memCtxOnFree(ctx, storeCleanup, store)) {
        memCtxFree(ctx);
        return errSet(err, errOutOfMemory, "out of memory creating an object cache");
    }
    *store = (Store){.ctx = ctx, .options = options != NULL ? *options : (StoreOptions){0}};
    if (store->options.transform == NULL)
        store->options.transform = storeTrimDefault;
    strMapInit(&store->entries, ctx);
    strMapInit(&store->owners, ctx);
    *out = store;
    return true;
}

bool storeAddHandler(Store *store, StoreHandlerFn *handler, void *arg, Err *err)
{
    if (store->handlerCount == STORE_MAX_HANDLERS)
        return errSet(err, errTooLarge, "an object cache has at most %d handlers", STORE_MAX_HANDLERS);
    store->handlers[store->handlerCount++] = (StoreHandler){.fn = handler, .arg = arg};
    return true;
}

bool storeTrimDefault(void *arg, json_t *object, Err *err)
{
    (void)arg;
    (void)err;
    json_t *metadata = json_object_get(object, "metadata");
    json_object_del(metadata, "managedFields");
    json_object_del(json_object_get(metadata, "annotations"), "kubectl.kubernetes.io/last-applied-configuration");
    return true;
}

/* Writes "namespace/name" (or "name") into key; false when it does not fit. */
static bool storeComposeKey(const char *namespace, const char *name, char key[STORE_KEY_MAX])
{
    size_t nsLen = namespace != NULL ? strlen(namespace) : 0;
    size_t nameLen = strlen(name);
    if (nsLen + nameLen + 2 > STORE_KEY_MAX)
        return false;
    size_t at = 0;
    if (nsLen > 0) {
        memcpy(key, namespace, nsLen);
        key[nsLen] = '/';
        at = nsLen + 1;
    }
    memcpy(key + at, name, nameLen + 1);
    return true;
}

/* The identity of an object: namespace ("" when none), name, and its key. */
static bool storeIdentify(const json_t *object, const char **namespace, const char **name, char key[STORE_KEY_MAX],
                          Err *err)
{
    if (!jsonGetStr(object, "metadata.name", name, err) ||
        !jsonFindStr(object, "metadata.namespace", "", namespace, err))
        return errPrefix(err, "cannot cache object");
    if (**name == '\0')
        return errSet(err, errInvalidArgument, "cannot cache object: metadata.name is empty");
    if (!storeComposeKey(*namespace, *name, key))
        return errSet(err, errInvalidArgument, "cannot cache object: namespace and name longer than %d bytes",
                      STORE_KEY_MAX - 2);
    return true;
}

const StoreEntry *storeGet(const Store *store, const char *namespace, const char *name)
{
    char key[STORE_KEY_MAX];
    if (!storeComposeKey(namespace, name, key))
        return NULL;
    return strMapGet(&store->entries, key);
}

size_t storeCount(const Store *store)
{
    return strMapCount(&store->entries);
}

bool storeNext(const Store *store, size_t *cursor, const StoreEntry **entry)
{
    const char *key;
    void *value;
    if (!strMapNext(&store->entries, cursor, &key, &value))
        return false;
    *entry = value;
    return true;
}

const StoreEntry *const *storeOwnedBy(const Store *store, const char *uid, size_t *count)
{
    const OwnerSet *set = strMapGet(&store->owners, uid);
    *count = set != NULL ? set->count : 0;
    return set != NULL ? (const StoreEntry *const *)set->entries : NULL;
}

/* The distinct owner UIDs of object, borrowed from it, into *uidsOut (allocated, for the caller to free; NULL when
 * there are none); *count gets how many. A Secret shared by every cluster of a namespace (the root CA) may have
 * hundreds. */
static bool storeOwnerUids(const json_t *object, const char ***uidsOut, size_t *count, Err *err)
{
    json_t *refs;
    *count = 0;
    *uidsOut = NULL;
    if (!jsonFindArray(object, "metadata.ownerReferences", &refs, err))
        return errPrefix(err, "cannot cache object");
    if (json_array_size(refs) == 0)
        return true;
    const char **uids = allocRaw(json_array_size(refs) * sizeof(*uids));
    if (uids == NULL)
        return errSet(err, errOutOfMemory, "cannot cache object: out of memory for its owner references");
    *uidsOut = uids;
    size_t refIdx;
    json_t *ref;
    json_array_foreach(refs, refIdx, ref)
    {
        const char *uid = json_string_value(json_object_get(ref, "uid"));
        if (uid == NULL || *uid == '\0')
            continue;
        bool seen = false;
        for (size_t seenIdx = 0; seenIdx < *count && !seen; seenIdx++)
            seen = strcmp(uids[seenIdx], uid) == 0;
        if (!seen)
            uids[(*count)++] = uid;
    }
    return true;
}

/* Builds the entry block for object (not yet linked anywhere). */
static StoreEntry *storeNewEntry(Store *store, json_t *object, const char *namespace, const char *key,
                                 const char *const *ownerUids, size_t ownerCount, Err *err)
{
    const char *uid = json_string_value(json_object_get(json_object_get(object, "metadata"), "uid"));
    const char *rv = json_string_value(json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
    uid = uid != NULL ? uid : "";
    size_t keyLen = strlen(key) + 1, nsLen = strlen(namespace) + 1, uidLen = strlen(uid) + 1;
    size_t size = sizeof(StoreEntry) + ownerCount * sizeof(char *) + keyLen + nsLen + uidLen;
    for (size_t ownerIdx = 0; ownerIdx < ownerCount; ownerIdx++)
        size += strlen(ownerUids[ownerIdx]) + 1;
    StoreEntry *entry = memCtxAlloc(store->ctx, size);
    if (entry == NULL) {
        errSet(err, errOutOfMemory, "out of memory caching %s", key);
        return NULL;
    }
    entry->ownerUids = (const char **)(void *)(entry + 1);
    char *text = (char *)(entry->ownerUids + ownerCount);
    entry->key = memcpy(text, key, keyLen);
    text += keyLen;
    entry->namespace = memcpy(text, namespace, nsLen);
    text += nsLen;
    entry->uid = memcpy(text, uid, uidLen);
    text += uidLen;
    for (size_t ownerIdx = 0; ownerIdx < ownerCount; ownerIdx++) {
        size_t len = strlen(ownerUids[ownerIdx]) + 1;
        entry->ownerUids[ownerIdx] = memcpy(text, ownerUids[ownerIdx], len);
        text += len;
    }
    entry->ownerCount = ownerCount;
    entry->name = entry->key + (nsLen > 1 ? nsLen : 0);
    entry->resourceVersion = rv != NULL ? rv : "";
    entry->object = object;
    return entry;
}

/* The set for uid, created (empty) when missing, with room for one more entry. */
static bool storeReserveOwner(Store *store, const char *uid, Err *err)
{
    OwnerSet *set = strMapGet(&store->owners, uid);
    if (set == NULL) {
        size_t uidLen = strlen(uid) + 1;
        set = memCtxAlloc(store->ctx, sizeof(*set) + uidLen);
        if (set == NULL)
            return errSet(err, errOutOfMemory, "out of memory indexing owner %s", uid);
        set->uid = memcpy(set + 1, uid, uidLen);
        if (!strMapPut(&store->owners, set->uid, set, err)) {
            memCtxRelease(set);
            return false;
        }
    }
    if (set->count < set->capacity)
        return true;
    size_t capacity = set->capacity == 0 ? 2 : set->capacity * 2;
    StoreEntry **grown = memCtxResize(store->ctx, set->entries, capacity * sizeof(*grown));
    if (grown == NULL)
        return errSet(err, errOutOfMemory, "out of memory indexing owner %s", uid);
    set->entries = grown;
    set->capacity = capacity;
    return true;
}

static void storeFreeOwnerSetIfEmpty(Store *store, const char *uid)
{
    OwnerSet *set = strMapGet(&store->owners, uid);
    if (set == NULL || set->count > 0)
        return;
    strMapRemove(&store->owners, uid);
    memCtxRelease(set->entries);
    memCtxRelease(set);
}

static void storeLinkOwners(Store *store, StoreEntry *entry)
{
    for (size_t ownerIdx = 0; ownerIdx < entry->ownerCount; ownerIdx++) {
        OwnerSet *set = strMapGet(&store->owners, entry->ownerUids[ownerIdx]);
        set->entries[set->count++] = entry;
    }
}

static void storeUnlinkOwners(Store *store, StoreEntry *entry)
{
    for (size_t ownerIdx = 0; ownerIdx < entry->ownerCount; ownerIdx++) {
        OwnerSet *set = strMapGet(&store->owners, entry->ownerUids[ownerIdx]);
        for (size_t entryIdx = 0; set != NULL && entryIdx < set->count; entryIdx++) {
            if (set->entries[entryIdx] == entry) {
                set->entries[entryIdx] = set->entries[--set->count];
                break;
            }
        }
        storeFreeOwnerSetIfEmpty(store, entry->ownerUids[ownerIdx]);
    }
}

/* Undoes the preparation of entry (not linked anywhere) and releases it. */
static void storeAbandon(Store *store, StoreEntry *entry)
{
    for (size_t ownerIdx = 0; ownerIdx < entry->ownerCount; ownerIdx++)
        storeFreeOwnerSetIfEmpty(store, entry->ownerUids[ownerIdx]);
    memCtxRelease(entry);
}

static bool storeNotify(Store *store, StoreEventType type, const json_t *oldObject, const json_t *newObject, Err *err)
{
    for (size_t handlerIdx = 0; handlerIdx < store->handlerCount; handlerIdx++) {
        const StoreHandler *handler = &store->handlers[handlerIdx];
        if (!handler->fn(handler->arg, type, oldObject, newObject, err))
            return false;
    }
    return true;
}

bool storeUpsert(Store *store, json_t *object, Err *err)
{
    const char *namespace, *name;
    char key[STORE_KEY_MAX];
    if (!json_is_object(object))
        return errSet(err, errInvalidArgument, "cannot cache a json %s", jsonTypeName(object));
    if (!storeIdentify(object, &namespace, &name, key, err))
        return false;
    StoreEntry *old = strMapGet(&store->entries, key);
    const char *rv = json_string_value(json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
    if (old != NULL && rv != NULL && *rv != '\0' && strcmp(old->resourceVersion, rv) == 0)
        return true;
    if (!store->options.transform(store->options.arg, object, err))
        return false;
    /* The transform may have replaced strings of metadata: identify again. */
    if (!storeIdentify(object, &namespace, &name, key, err))
        return false;

    const char **ownerUids;
    size_t ownerCount;
    if (!storeOwnerUids(object, &ownerUids, &ownerCount, err))
        return false;
    StoreEntry *entry = storeNewEntry(store, object, namespace, key, ownerUids, ownerCount, err);
    allocFree(ownerUids);
    if (entry == NULL)
        return false;
    bool ok = old != NULL || strMapReserve(&store->entries, 1, err);
    for (size_t ownerIdx = 0; ok && ownerIdx < ownerCount; ownerIdx++)
        ok = storeReserveOwner(store, entry->ownerUids[ownerIdx], err);
    ok = ok &&
         storeNotify(store, old != NULL ? storeUpdated : storeAdded, old != NULL ? old->object : NULL, object, err);
    if (!ok) {
        storeAbandon(store, entry);
        return false;
    }

    json_incref(object);
    storeLinkOwners(store, entry);
    strMapPutReserved(&store->entries, entry->key, entry);
    if (old != NULL) {
        storeUnlinkOwners(store, old);
        json_decref(old->object);
        memCtxRelease(old);
    }
    return true;
}

/* Removes a cached entry after the handler agreed. */
static bool storeRemoveEntry(Store *store, StoreEntry *entry, Err *err)
{
    if (!storeNotify(store, storeDeleted, entry->object, NULL, err))
        return false;
    strMapRemove(&store->entries, entry->key);
    storeUnlinkOwners(store, entry);
    json_decref(entry->object);
    memCtxRelease(entry);
    return true;
}

bool storeDelete(Store *store, const json_t *object, Err *err)
{
    const char *namespace, *name;
    char key[STORE_KEY_MAX];
    if (!storeIdentify(object, &namespace, &name, key, err))
        return false;
    StoreEntry *entry = strMapGet(&store->entries, key);
    return entry == NULL || storeRemoveEntry(store, entry, err);
}

bool storeApplyWatchEvent(Store *store, const KubeWatchEvent *event, Err *err)
{
    switch (event->type) {
        case kubeWatchAdded:
        case kubeWatchModified:
            return storeUpsert(store, event->object, err);
        case kubeWatchDeleted:
            return storeDelete(store, event->object, err);
        default:
            return true;
    }
}

bool storeReplace(Store *store, const char *namespace, json_t *items, Err *err)
{
    if (!json_is_array(items))
        return errSet(err, errInvalidArgument, "cannot replace cached objects with a json %s", jsonTypeName(items));
    MemCtx *scratch = memCtxNew(store->ctx, "store-replace");
    if (scratch == NULL)
        return errSet(err, errOutOfMemory, "out of memory replacing cached objects");
    StrMap seen;
    strMapInit(&seen, scratch);
    bool ok = strMapReserve(&seen, json_array_size(items), err);
    size_t itemIdx;
    json_t *item;
    json_array_foreach(items, itemIdx, item)
    {
        const char *itemNamespace, *name;
        char key[STORE_KEY_MAX];
        if (!ok)
            break;
        ok = json_is_object(item) && storeIdentify(item, &itemNamespace, &name, key, err);
        if (!json_is_object(item))
            errSet(err, errInvalidArgument, "cannot cache a json %s", jsonTypeName(item));
        char *copy = ok ? memCtxStrDup(scratch, key) : NULL;
        if (ok && copy == NULL)
            ok = errSet(err, errOutOfMemory, "out of memory replacing cached objects");
        if (ok)
            strMapPutReserved(&seen, copy, copy);
    }
    json_array_foreach(items, itemIdx, item)
    {
        if (!ok)
            break;
        ok = storeUpsert(store, item, err);
    }
    size_t cursor = 0;
    const StoreEntry *entry;
    while (ok && storeNext(store, &cursor, &entry)) {
        if (namespace != NULL && strcmp(entry->namespace, namespace) != 0)
            continue;
        if (strMapGet(&seen, entry->key) == NULL)
            ok = storeRemoveEntry(store, (StoreEntry *)(uintptr_t)entry, err);
    }
    memCtxFree(scratch);
    return ok;
}

static int storeCompareEntries(const void *a, const void *b)
{
    const StoreEntry *const *left = a, *const *right = b;
    return strcmp((*left)->key, (*right)->key);
}

bool storeDump(const Store *store, StrBuf *out, Err *err)
{
    size_t count = storeCount(store);
    const StoreEntry **sorted = memCtxAlloc(store->ctx, (count > 0 ? count : 1) * sizeof(*sorted));
    if (sorted == NULL)
        return errSet(err, errOutOfMemory, "out of memory listing cached objects");
    size_t cursor = 0, filled = 0;
    const StoreEntry *entry;
    while (storeNext(store, &cursor, &entry))
        sorted[filled++] = entry;
    qsort(sorted, filled, sizeof(*sorted), storeCompareEntries);
    bool ok = true;
    for (size_t entryIdx = 0; ok && entryIdx < filled; entryIdx++)
        ok = strBufPrintf(out, err, "%s %s\n", sorted[entryIdx]->key, sorted[entryIdx]->resourceVersion);
    memCtxRelease((void *)sorted);
    return ok;
}
