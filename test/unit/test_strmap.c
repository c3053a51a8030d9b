/* Unit tests: controller/strmap. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "controller/strmap.h"

#include <stdio.h>
#include <string.h>

#define KEYS 1000

static void testPutGetReplaceRemove(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrMap map;
    strMapInit(&map, ctx);
    Err err;
    int one = 1, two = 2;
    assert_null(strMapGet(&map, "a"));
    assert_null(strMapRemove(&map, "a"));
    assert_true(strMapPut(&map, "a", &one, &err));
    assert_true(strMapPut(&map, "b", &two, &err));
    assert_ptr_equal(strMapGet(&map, "a"), &one);
    assert_ptr_equal(strMapGet(&map, "b"), &two);
    assert_int_equal(strMapCount(&map), 2);

    char other[] = "a";
    assert_true(strMapPut(&map, other, &two, &err));
    assert_ptr_equal(strMapGet(&map, "a"), &two);
    assert_ptr_equal(strMapGetKey(&map, "a"), other);
    assert_int_equal(strMapCount(&map), 2);

    assert_ptr_equal(strMapRemove(&map, "a"), &two);
    assert_null(strMapGet(&map, "a"));
    assert_null(strMapGetKey(&map, "a"));
    assert_int_equal(strMapCount(&map), 1);
    strMapFree(&map);
    assert_int_equal(strMapCount(&map), 0);
    assert_null(strMapGet(&map, "b"));
    memCtxFree(ctx);
}

static void testGrowthKeepsEveryEntry(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrMap map;
    strMapInit(&map, ctx);
    Err err;
    static char keys[KEYS][16];
    for (int keyIdx = 0; keyIdx < KEYS; keyIdx++) {
        snprintf(keys[keyIdx], sizeof(keys[keyIdx]), "ns/name-%d", keyIdx);
        assert_true(strMapPut(&map, keys[keyIdx], keys[keyIdx], &err));
    }
    assert_int_equal(strMapCount(&map), KEYS);
    assert_true(map.capacity >= KEYS * 4 / 3);
    for (int keyIdx = 0; keyIdx < KEYS; keyIdx++)
        assert_ptr_equal(strMapGet(&map, keys[keyIdx]), keys[keyIdx]);
    /* Remove every other one, then add them back: tombstones are reused or cleared by growth. */
    for (int keyIdx = 0; keyIdx < KEYS; keyIdx += 2)
        assert_ptr_equal(strMapRemove(&map, keys[keyIdx]), keys[keyIdx]);
    assert_int_equal(strMapCount(&map), KEYS / 2);
    for (int round = 0; round < 5; round++) {
        for (int keyIdx = 0; keyIdx < KEYS; keyIdx += 2)
            assert_true(strMapPut(&map, keys[keyIdx], keys[keyIdx], &err));
        for (int keyIdx = 0; keyIdx < KEYS; keyIdx += 2)
            assert_non_null(strMapRemove(&map, keys[keyIdx]));
    }
    assert_int_equal(strMapCount(&map), KEYS / 2);
    for (int keyIdx = 1; keyIdx < KEYS; keyIdx += 2)
        assert_ptr_equal(strMapGet(&map, keys[keyIdx]), keys[keyIdx]);
    memCtxFree(ctx);
}

static void testRemovalDuringIteration(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrMap map;
    strMapInit(&map, ctx);
    Err err;
    static char keys[100][8];
    for (int keyIdx = 0; keyIdx < 100; keyIdx++) {
        snprintf(keys[keyIdx], sizeof(keys[keyIdx]), "k%d", keyIdx);
        assert_true(strMapPut(&map, keys[keyIdx], keys[keyIdx], &err));
    }
    int seen[100] = {0};
    size_t cursor = 0;
    const char *key;
    void *value;
    while (strMapNext(&map, &cursor, &key, &value)) {
        int keyIdx = (int)((char(*)[8])value - keys);
        seen[keyIdx]++;
        if (keyIdx % 3 == 0)
            assert_ptr_equal(strMapRemove(&map, key), value);
    }
    for (int keyIdx = 0; keyIdx < 100; keyIdx++)
        assert_int_equal(seen[keyIdx], 1);
    assert_int_equal(strMapCount(&map), 66);
    cursor = 0;
    int left = 0;
    while (strMapNext(&map, &cursor, &key, &value))
        left++;
    assert_int_equal(left, 66);
    memCtxFree(ctx);
}

static void testReserveMakesPutsInfallible(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrMap map;
    strMapInit(&map, ctx);
    Err err;
    static char keys[50][8];
    assert_true(strMapReserve(&map, 50, &err));
    size_t capacity = map.capacity;
    allocFailNth(1); /* any allocation now would fail */
    for (int keyIdx = 0; keyIdx < 50; keyIdx++) {
        snprintf(keys[keyIdx], sizeof(keys[keyIdx]), "k%d", keyIdx);
        strMapPutReserved(&map, keys[keyIdx], keys[keyIdx]);
    }
    assert_false(allocFaultFired());
    allocFailNth(0);
    assert_int_equal(map.capacity, capacity);
    assert_int_equal(strMapCount(&map), 50);

    assert_false(strMapReserve(&map, SIZE_MAX / 4, &err));
    assert_err(&err, errTooLarge);
    memCtxFree(ctx);
}

static void testGrowthFailureLeavesMapIntact(void **state)
{
    (void)state;
    MemCtx *ctx = memCtxNew(NULL, "t");
    StrMap map;
    strMapInit(&map, ctx);
    Err err;
    static char keys[7][8];
    for (int keyIdx = 0; keyIdx < 6; keyIdx++) {
        snprintf(keys[keyIdx], sizeof(keys[keyIdx]), "k%d", keyIdx);
        assert_true(strMapPut(&map, keys[keyIdx], keys[keyIdx], &err));
    }
    snprintf(keys[6], sizeof(keys[6]), "k6");
    allocFailNth(1);
    assert_false(strMapPut(&map, keys[6], keys[6], &err));
    allocFailNth(0);
    assert_err(&err, errOutOfMemory);
    assert_int_equal(strMapCount(&map), 6);
    assert_null(strMapGet(&map, "k6"));
    for (int keyIdx = 0; keyIdx < 6; keyIdx++)
        assert_ptr_equal(strMapGet(&map, keys[keyIdx]), keys[keyIdx]);
    /* Replacing an existing key never allocates. */
    allocFailNth(1);
    assert_true(strMapPut(&map, keys[0], keys[1], &err));
    assert_false(allocFaultFired());
    allocFailNth(0);
    memCtxFree(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testPutGetReplaceRemove),          cmocka_unit_test(testGrowthKeepsEveryEntry),
        cmocka_unit_test(testRemovalDuringIteration),       cmocka_unit_test(testReserveMakesPutsInfallible),
        cmocka_unit_test(testGrowthFailureLeavesMapIntact),
    };
    return cmocka_run_group_tests_name("controller/strmap", tests, NULL, NULL);
}
