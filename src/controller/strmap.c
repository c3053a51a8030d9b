/* A hash map from strings to pointers.
 *
 * Open addressing with linear probing over a power-of-two table, FNV-1a hashes stored beside the keys (so a probe
 * compares strings only when the hashes match, and growth does not rehash strings). Removal leaves a tombstone,
 * which keeps probe chains intact and, unlike backward-shift deletion, never moves a live entry: that is what makes
 * removal during iteration safe. Tombstones count towards the load factor and disappear at the next growth.
 *
 * The keys are object names and namespaces, which only users allowed to create objects choose, so an unkeyed hash
 * is acceptable here; a crafted set of colliding names would slow lookups, not break them. */
#include "controller/strmap.h"

#include <string.h>

#define STRMAP_MIN_CAPACITY 8

/* The key of a removed entry: an address no caller's key can have. */
static const char strMapTombstoneKey[1];
#define STRMAP_TOMBSTONE strMapTombstoneKey

static uint64_t strMapHash(const char *key)
{
    uint64_t hash = UINT64_C(0xcbf29ce484222325);
    for (const unsigned char *c = (const unsigned char *)key; *c != '\0'; c++) {
        hash ^= *c;
        hash *= UINT64_C(0x100000001b3);
    }
    return hash;
}

void strMapInit(StrMap *map, MemCtx *ctx)
{
    *map = (StrMap){.ctx = ctx};
}

void strMapFree(StrMap *map)
{
    memCtxRelease(map->slots);
    *map = (StrMap){.ctx = map->ctx};
}

/* The slot holding key, or NULL. */
static StrMapSlot *strMapFind(const StrMap *map, const char *key, uint64_t hash)
{
    if (map->capacity == 0)
        return NULL;
    size_t mask = map->capacity - 1;
    for (size_t idx = (size_t)hash & mask;; idx = (idx + 1) & mask) {
        StrMapSlot *slot = &map->slots[idx];
        if (slot->key == NULL)
            return NULL;
        if (slot->key != STRMAP_TOMBSTONE && slot->hash == hash && strcmp(slot->key, key) == 0)
            return slot;
    }
}

void *strMapGet(const StrMap *map, const char *key)
{
    StrMapSlot *slot = strMapFind(map, key, strMapHash(key));
    return slot != NULL ? slot->value : NULL;
}

const char *strMapGetKey(const StrMap *map, const char *key)
{
    StrMapSlot *slot = strMapFind(map, key, strMapHash(key));
    return slot != NULL ? slot->key : NULL;
}

/* Whether used entries fit the table at a load factor of at most 3/4 (an empty slot always remains, so probes end). */
static bool strMapFits(size_t used, size_t capacity)
{
    return used <= capacity / 4 * 3 && used < capacity;
}

bool strMapReserve(StrMap *map, size_t extra, Err *err)
{
    if (extra > SIZE_MAX / 8 - map->used)
        return errSet(err, errTooLarge, "hash map cannot hold %zu more entries", extra);
    if (strMapFits(map->used + extra, map->capacity))
        return true;

    size_t capacity = STRMAP_MIN_CAPACITY;
    while (!strMapFits(map->count + extra, capacity))
        capacity *= 2;
    StrMapSlot *slots = memCtxAlloc(map->ctx, capacity * sizeof(*slots));
    if (slots == NULL)
        return errSet(err, errOutOfMemory, "out of memory growing a hash map to %zu slots", capacity);
    size_t mask = capacity - 1;
    for (size_t oldIdx = 0; oldIdx < map->capacity; oldIdx++) {
        const StrMapSlot *old = &map->slots[oldIdx];
        if (old->key == NULL || old->key == STRMAP_TOMBSTONE)
            continue;
        size_t idx = (size_t)old->hash & mask;
        while (slots[idx].key != NULL)
            idx = (idx + 1) & mask;
        slots[idx] = *old;
    }
    memCtxRelease(map->slots);
    map->slots = slots;
    map->capacity = capacity;
    map->used = map->count;
    return true;
}

void strMapPutReserved(StrMap *map, const char *key, void *value)
{
    uint64_t hash = strMapHash(key);
    StrMapSlot *existing = strMapFind(map, key, hash);
    if (existing != NULL) {
        existing->key = key;
        existing->value = value;
        return;
    }
    size_t mask = map->capacity - 1;
    size_t idx = (size_t)hash & mask;
    while (map->slots[idx].key != NULL && map->slots[idx].key != STRMAP_TOMBSTONE)
        idx = (idx + 1) & mask;
    if (map->slots[idx].key == NULL)
        map->used++;
    map->slots[idx] = (StrMapSlot){.key = key, .value = value, .hash = hash};
    map->count++;
}

bool strMapPut(StrMap *map, const char *key, void *value, Err *err)
{
    if (strMapFind(map, key, strMapHash(key)) == NULL && !strMapReserve(map, 1, err))
        return false;
    strMapPutReserved(map, key, value);
    return true;
}

void *strMapRemove(StrMap *map, const char *key)
{
    StrMapSlot *slot = strMapFind(map, key, strMapHash(key));
    if (slot == NULL)
        return NULL;
    void *value = slot->value;
    *slot = (StrMapSlot){.key = STRMAP_TOMBSTONE};
    map->count--;
    return value;
}

size_t strMapCount(const StrMap *map)
{
    return map->count;
}

bool strMapNext(const StrMap *map, size_t *cursor, const char **key, void **value)
{
    while (*cursor < map->capacity) {
        const StrMapSlot *slot = &map->slots[(*cursor)++];
        if (slot->key != NULL && slot->key != STRMAP_TOMBSTONE) {
            *key = slot->key;
            *value = slot->value;
            return true;
        }
    }
    return false;
}
