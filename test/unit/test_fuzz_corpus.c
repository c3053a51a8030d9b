/* Unit tests: the fuzz corpus of test/fuzz/corpus/<target>/ replayed through the fuzz targets (test/fuzz/targets.c),
 * so every seed and every fixed crash input stays a regression test of the default (sanitizer) and valgrind builds. */
#include "harness/harness.h"

#include "common/memctx.h"
#include "targets.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#ifndef FUZZ_CORPUS_DIR
#error "FUZZ_CORPUS_DIR must name test/fuzz/corpus (set by test/unit/meson.build)"
#endif

typedef int FuzzTarget(const uint8_t *data, size_t size);

/* Bytes of one corpus file, allocated in ctx. */
static uint8_t *readInput(MemCtx *ctx, const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        fail_msg("cannot open %s", path);
    uint8_t *data = NULL;
    size_t len = 0;
    uint8_t chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), file)) > 0) {
        data = memCtxResize(ctx, data, len + got);
        assert_non_null(data);
        memcpy(data + len, chunk, got);
        len += got;
    }
    fclose(file);
    *size = len;
    return data;
}

/* Runs target on every file of the corpus directory name; fails when the directory has none. */
static void replay(const char *name, FuzzTarget *target)
{
    MemCtx *ctx = memCtxNew(NULL, "t");
    assert_non_null(ctx);
    char *dirPath = memCtxPrintf(ctx, "%s/%s", FUZZ_CORPUS_DIR, name);
    assert_non_null(dirPath);
    DIR *dir = opendir(dirPath);
    if (dir == NULL)
        fail_msg("cannot open corpus %s", dirPath);
    unsigned inputs = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        MemCtx *scratch = memCtxNew(ctx, "input");
        assert_non_null(scratch);
        char *path = memCtxPrintf(scratch, "%s/%s", dirPath, entry->d_name);
        assert_non_null(path);
        size_t size;
        uint8_t *data = readInput(scratch, path, &size);
        /* An empty file is a valid input; give the target a non-NULL pointer all the same. */
        static const uint8_t empty[1] = {0};
        assert_int_equal(target(data != NULL ? data : empty, size), 0);
        memCtxFree(scratch);
        inputs++;
    }
    closedir(dir);
    if (inputs == 0)
        fail_msg("corpus %s is empty", dirPath);
    print_message("# %s: %u inputs\n", name, inputs);
    memCtxFree(ctx);
}

static void testWatchCorpus(void **state)
{
    (void)state;
    replay("watch", fuzzWatch);
}

static void testStatusCorpus(void **state)
{
    (void)state;
    replay("status", fuzzStatus);
}

static void testQuantityCorpus(void **state)
{
    (void)state;
    replay("quantity", fuzzQuantity);
}

static void testSelectorCorpus(void **state)
{
    (void)state;
    replay("selector", fuzzSelector);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testWatchCorpus),
        cmocka_unit_test(testStatusCorpus),
        cmocka_unit_test(testQuantityCorpus),
        cmocka_unit_test(testSelectorCorpus),
    };
    return cmocka_run_group_tests_name("fuzz/corpus", tests, NULL, NULL);
}
