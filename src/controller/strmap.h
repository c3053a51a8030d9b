/* A hash map from strings to pointers, for the caches, indexes and sets of the controller layer.
 *
 * The map does not copy keys: the caller's key string must stay valid and unchanged while its entry is in the map
 * (entries usually point at a key stored in the value itself). Values are opaque pointers; NULL values are not
 * allowed, so strMapGet's NULL means "absent".
 *
 * Growth is the only allocation, and it is separated from insertion so that callers can make a multi-step change
 * atomic: strMapReserve(map, n) allocates whatever n more insertions need, after which the next n strMapPut calls of
 * new keys cannot fail (strMapPutReserved states that in the type). Removal never allocates and never fails, and is
 * allowed while iterating: an iteration visits every entry that was present when it started and not removed since,
 * exactly once, as long as nothing is inserted during it. */
#ifndef CONTROLLER_STRMAP_H
#define CONTROLLER_STRMAP_H

#include "common/error.h"
#include "common/memctx.h"

#include <stddef.h>
#include <stdint.h>

typedef struct StrMapSlot {
    const char *key; /* NULL: empty; STRMAP_TOMBSTONE: removed */
    void *value;
    uint64_t hash;
} StrMapSlot;

typedef struct StrMap {
    MemCtx *ctx;
    StrMapSlot *slots;
    size_t capacity; /* a power of two, or 0 before the first insertion */
    size_t count;    /* live entries */
    size_t used;     /* live entries plus tombstones */
} StrMap;

/* An empty map allocating its table in ctx. Allocates nothing yet. */
void strMapInit(StrMap *map, MemCtx *ctx);

/* Frees the table; the map is empty and reusable. Keys and values are the caller's. */
void strMapFree(StrMap *map);

/* The value stored under key, or NULL. */
void *strMapGet(const StrMap *map, const char *key);

/* The key pointer stored for key (the one given to strMapPut), or NULL. */
const char *strMapGetKey(const StrMap *map, const char *key);

/* Makes room for extra insertions of new keys. errOutOfMemory leaves the map as it was. */
bool strMapReserve(StrMap *map, size_t extra, Err *err) MUST_CHECK;

/* Stores value (not NULL) under key, replacing the value (and key pointer) of an existing entry. */
bool strMapPut(StrMap *map, const char *key, void *value, Err *err) MUST_CHECK;

/* strMapPut after a successful strMapReserve that covers this insertion: cannot fail. */
void strMapPutReserved(StrMap *map, const char *key, void *value);

/* Removes key's entry and returns its value, or NULL when there was none. */
void *strMapRemove(StrMap *map, const char *key);

size_t strMapCount(const StrMap *map);

/* Iteration: start with *cursor = 0; each call yields one entry and returns true, or returns false at the end.
 *
 *     size_t cursor = 0; const char *key; void *value;
 *     while (strMapNext(map, &cursor, &key, &value)) ...
 */
bool strMapNext(const StrMap *map, size_t *cursor, const char **key, void **value);

#endif
