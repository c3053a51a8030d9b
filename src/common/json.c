/* JSON helpers.
 *
 * Path lookup walks the document segment by segment without copying the path: keys are looked up with
 * json_object_getn on a (pointer, length) slice of the path string, so the path needs no allocation and no length
 * bound. The walk stops at the first absent or null value: reaching the end of the path is the only way to find a
 * value, and stopping early means "missing", unless the value that stopped the walk had the wrong type to descend
 * into (a string where an object was needed), which is a type error naming the prefix of the path that was walked.
 *
 * jsonDump streams jansson's output into a StrBuf through json_dump_callback, so the bound of the buffer bounds the
 * serialisation as well, and an allocation failure inside jansson is told apart from a full buffer by whether the
 * callback saw an error first.
 *
 * Parsing counts on jansson allocating through common/alloc (allocUseForJansson) and checks its failure counter:
 * jansson 2.14's lexer reports a failed allocation as a syntax error, and where it saves characters of a token it
 * ignores a failed allocation altogether, so a document parsed while an allocation failed may differ from the input.
 * Any allocation failure during a parse therefore discards the result and reports errOutOfMemory; serialisation is
 * checked the same way. */
#include "common/json.h"

#include "common/alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool jsonParse(const char *data, size_t len, json_t **out, Err *err)
{
    json_error_t parseError;
    uint64_t failuresBefore = allocFailureCount();
    *out = json_loadb(data, len, JSON_REJECT_DUPLICATES, &parseError);
    if (allocFailureCount() != failuresBefore) {
        json_decref(*out);
        *out = NULL;
        return errSet(err, errOutOfMemory, "out of memory parsing json");
    }
    if (*out != NULL)
        return true;
    return errSet(err, errJsonSyntax, "malformed json at line %d column %d: %s", parseError.line, parseError.column,
                  parseError.text);
}

const char *jsonTypeName(const json_t *value)
{
    switch (json_typeof(value)) {
        case JSON_OBJECT:
            return "object";
        case JSON_ARRAY:
            return "array";
        case JSON_STRING:
            return "string";
        case JSON_INTEGER:
            return "integer";
        case JSON_REAL:
            return "real";
        case JSON_TRUE:
        case JSON_FALSE:
            return "boolean";
        default:
            return "null";
    }
}

/* One step of a path: a key slice or an array index. */
typedef struct JsonStep {
    const char *key; /* NULL for an index step */
    size_t keyLen;
    size_t index;
} JsonStep;

/* Reads the step at *cursor (just after a '.' or at the start, or at a '['), advancing past it. */
static bool jsonNextStep(const char *path, const char **cursor, JsonStep *step, Err *err)
{
    const char *c = *cursor;
    if (*c == '[' && c[1] == '"') {
        const char *close = strstr(c + 2, "\"]");
        if (close == NULL || close == c + 2)
            return errSet(err, errJsonPath, "json path \"%s\": unterminated or empty quoted key", path);
        *step = (JsonStep){.key = c + 2, .keyLen = (size_t)(close - (c + 2))};
        *cursor = close + 2;
    } else if (*c == '[') {
        char *end = NULL;
        errno = 0;
        unsigned long long index = c[1] >= '0' && c[1] <= '9' ? strtoull(c + 1, &end, 10) : 0;
        if (end == NULL || *end != ']' || errno != 0 || index > SIZE_MAX)
            return errSet(err, errJsonPath, "json path \"%s\": bad array index", path);
        *step = (JsonStep){.key = NULL, .index = (size_t)index};
        *cursor = end + 1;
    } else {
        size_t len = strcspn(c, ".[]\"");
        if (len == 0 || c[len] == ']' || c[len] == '"')
            return errSet(err, errJsonPath, "json path \"%s\": empty key or stray character", path);
        *step = (JsonStep){.key = c, .keyLen = len};
        *cursor = c + len;
    }

    /* A step is followed by the end, a '.' and a plain key, or a bracket. */
    if (**cursor == '.') {
        (*cursor)++;
        if (**cursor == '\0' || **cursor == '.' || **cursor == '[')
            return errSet(err, errJsonPath, "json path \"%s\": empty key", path);
    } else if (**cursor != '\0' && **cursor != '[') {
        return errSet(err, errJsonPath, "json path \"%s\": stray character after a key", path);
    }
    return true;
}

/* Walks path from root. *out is the value, or NULL when it (or an ancestor) is absent or null. */
static bool jsonLookup(const json_t *root, const char *path, json_t **out, Err *err)
{
    json_t *value = (json_t *)(uintptr_t)root; /* jansson's getters take non-const; nothing is modified */
    const char *cursor = path;
    if (*cursor == '\0')
        return errSet(err, errJsonPath, "json path is empty");

    while (*cursor != '\0') {
        const char *stepStart = cursor;
        JsonStep step = {0};
        if (!jsonNextStep(path, &cursor, &step, err))
            return false;
        int walked = (int)(stepStart - path);
        if (walked > 0 && path[walked - 1] == '.')
            walked--;
        if (step.key != NULL) {
            if (!json_is_object(value))
                return errSet(err, errJsonType, "json path \"%s\": \"%.*s\" is %s, not an object", path, walked, path,
                              jsonTypeName(value));
            value = json_object_getn(value, step.key, step.keyLen);
        } else {
            if (!json_is_array(value))
                return errSet(err, errJsonType, "json path \"%s\": \"%.*s\" is %s, not an array", path, walked, path,
                              jsonTypeName(value));
            value = json_array_get(value, step.index);
        }
        if (value == NULL || json_is_null(value)) {
            /* Still check the rest of the path's syntax, so a typo is not mistaken for an absent value. */
            while (*cursor != '\0') {
                if (!jsonNextStep(path, &cursor, &step, err))
                    return false;
            }
            *out = NULL;
            return true;
        }
    }
    *out = value;
    return true;
}

/* The type a getter asks for: a name for messages and a test. */
typedef struct JsonWant {
    const char *name;
    bool (*accepts)(const json_t *value);
} JsonWant;

static bool jsonIsAny(const json_t *value)
{
    (void)value;
    return true;
}

static bool jsonIsString(const json_t *value)
{
    return json_is_string(value);
}

static bool jsonIsInteger(const json_t *value)
{
    return json_is_integer(value);
}

static bool jsonIsBoolean(const json_t *value)
{
    return json_is_boolean(value);
}

static bool jsonIsObject(const json_t *value)
{
    return json_is_object(value);
}

static bool jsonIsArray(const json_t *value)
{
    return json_is_array(value);
}

static const JsonWant jsonWantAny = {"any value", jsonIsAny};
static const JsonWant jsonWantString = {"string", jsonIsString};
static const JsonWant jsonWantInteger = {"integer", jsonIsInteger};
static const JsonWant jsonWantBoolean = {"boolean", jsonIsBoolean};
static const JsonWant jsonWantObject = {"object", jsonIsObject};
static const JsonWant jsonWantArray = {"array", jsonIsArray};

/* The lookup shared by the getters: *out is a value of the wanted type, or NULL when absent and not required. */
static bool jsonLookupTyped(const json_t *root, const char *path, const JsonWant *want, bool required, json_t **out,
                            Err *err)
{
    if (!jsonLookup(root, path, out, err))
        return false;
    if (*out == NULL) {
        if (required)
            return errSet(err, errJsonMissing, "json path \"%s\": missing", path);
        return true;
    }
    if (!want->accepts(*out))
        return errSet(err, errJsonType, "json path \"%s\": expected %s, found %s", path, want->name,
                      jsonTypeName(*out));
    return true;
}

bool jsonGet(const json_t *root, const char *path, json_t **out, Err *err)
{
    return jsonLookupTyped(root, path, &jsonWantAny, true, out, err);
}

bool jsonGetStr(const json_t *root, const char *path, const char **out, Err *err)
{
    json_t *value;
    if (!jsonLookupTyped(root, path, &jsonWantString, true, &value, err))
        return false;
    *out = json_string_value(value);
    return true;
}

bool jsonGetInt64(const json_t *root, const char *path, int64_t *out, Err *err)
{
    json_t *value;
    if (!jsonLookupTyped(root, path, &jsonWantInteger, true, &value, err))
        return false;
    *out = (int64_t)json_integer_value(value);
    return true;
}

bool jsonGetBool(const json_t *root, const char *path, bool *out, Err *err)
{
    json_t *value;
    if (!jsonLookupTyped(root, path, &jsonWantBoolean, true, &value, err))
        return false;
    *out = json_is_true(value);
    return true;
}

bool jsonGetObject(const json_t *root, const char *path, json_t **out, Err *err)
{
    return jsonLookupTyped(root, path, &jsonWantObject, true, out, err);
}

bool jsonGetArray(const json_t *root, const char *path, json_t **out, Err *err)
{
    return jsonLookupTyped(root, path, &jsonWantArray, true, out, err);
}

bool jsonFindStr(const json_t *root, const char *path, const char *fallback, const char **out, Err *err)
{
    json_t *value;
    if (!jsonLookupTyped(root, path, &jsonWantString, false, &value, err))
        return false;
    *out = value != NULL ? json_string_value(value) : fallback;
    return true;
}

bool jsonFindInt64(const json_t *root, const char *path, int64_t fallback, int64_t *out, Err *err)
{
    json_t *value;
    if (!jsonLookupTyped(root, path, &jsonWantInteger, false, &value, err))
        return false;
    *out = value != NULL ? (int64_t)json_integer_value(value) : fallback;
    return true;
}

bool jsonFindBool(const json_t *root, const char *path, bool fallback, bool *out, Err *err)
{
    json_t *value;
    if (!jsonLookupTyped(root, path, &jsonWantBoolean, false, &value, err))
        return false;
    *out = value != NULL ? json_is_true(value) : fallback;
    return true;
}

bool jsonFindObject(const json_t *root, const char *path, json_t **out, Err *err)
{
    return jsonLookupTyped(root, path, &jsonWantObject, false, out, err);
}

bool jsonFindArray(const json_t *root, const char *path, json_t **out, Err *err)
{
    return jsonLookupTyped(root, path, &jsonWantArray, false, out, err);
}

typedef struct JsonDumpTarget {
    StrBuf *out;
    Err *err;
    bool failed;
} JsonDumpTarget;

static int jsonDumpChunk(const char *data, size_t len, void *arg)
{
    JsonDumpTarget *target = arg;
    if (!strBufAppend(target->out, data, len, target->err)) {
        target->failed = true;
        return -1;
    }
    return 0;
}

bool jsonDump(const json_t *value, StrBuf *out, Err *err)
{
    JsonDumpTarget target = {.out = out, .err = err, .failed = false};
    uint64_t failuresBefore = allocFailureCount();
    int result = json_dump_callback(value, jsonDumpChunk, &target, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (target.failed)
        return false;
    if (allocFailureCount() != failuresBefore)
        return errSet(err, errOutOfMemory, "out of memory serialising json");
    if (result != 0)
        return errSet(err, errInvalidArgument, "json value cannot be serialised (it contains itself)");
    return true;
}
