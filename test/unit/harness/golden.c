/* Golden-file comparison (see golden.h). GOLDEN_DIR is set by the build to test/unit/golden. */
#include "harness/golden.h"

#include "harness/harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *goldenRead(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    size_t got;
    while (text != NULL && (got = fread(text + len, 1, cap - len - 1, file)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(text, cap * 2);
            if (bigger == NULL) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
    }
    fclose(file);
    if (text != NULL)
        text[len] = '\0';
    return text;
}

void harnessAssertGolden(const json_t *actual, const char *name, const char *file, int line)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.json", GOLDEN_DIR, name);
    char *want = json_dumps(actual, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (want == NULL)
        _fail(file, line);
    const char *update = getenv("UPDATE_GOLDEN");
    if (update != NULL && strcmp(update, "1") == 0) {
        FILE *out = fopen(path, "wb");
        if (out == NULL || fprintf(out, "%s\n", want) < 0 || fclose(out) != 0) {
            free(want);
            print_error("cannot write %s: %s\n", path, strerror(errno));
            _fail(file, line);
        }
        free(want);
        return;
    }
    char *have = goldenRead(path);
    if (have == NULL) {
        print_error("golden file %s is missing (run with UPDATE_GOLDEN=1 to create it); got:\n%s\n", path, want);
        free(want);
        _fail(file, line);
    }
    size_t haveLen = strlen(have);
    if (haveLen > 0 && have[haveLen - 1] == '\n')
        have[haveLen - 1] = '\0';
    bool same = strcmp(have, want) == 0;
    if (!same)
        print_error("%s differs from the golden file %s (UPDATE_GOLDEN=1 rewrites it); got:\n%s\n", name, path,
                    want);
    free(have);
    free(want);
    if (!same)
        _fail(file, line);
}

json_t *harnessJson(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    if (value == NULL)
        fail_msg("bad fixture at line %d: %s", error.line, error.text);
    return value;
}
