/* JSON to YAML with libyaml's emitter (see yaml.h).
 *
 * The emitter is fed events (mapping start, scalar, ...) and writes through a callback into the caller's StrBuf.
 * It picks the final scalar style itself: we ask for plain, single-quoted or literal, and it falls back to a
 * quoted style where the text does not allow ours (": " inside a plain scalar, a control character, ...). What it
 * cannot know is YAML 1.1's implicit typing, so yamlLooksTyped decides which strings must not be plain. Lines are
 * never folded (unlimited width): a pg_hba line stays one line. libyaml allocates with malloc, outside our
 * fault-injection hook; its failures still come back as errOutOfMemory. */
#include "common/yaml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

typedef struct YamlSink {
    StrBuf *out;
    Err *err;
    bool failed; /* the StrBuf refused a write; err says why */
} YamlSink;

static int yamlWrite(void *data, unsigned char *buffer, size_t size)
{
    YamlSink *sink = data;
    if (!strBufAppend(sink->out, buffer, size, sink->err)) {
        sink->failed = true;
        return 0;
    }
    return 1;
}

/* Whether a YAML 1.1 reader would resolve this text, written plain, to something other than a string: a boolean,
 * null, the merge key, or a number, timestamp or sexagesimal (all of which start with a digit, a sign or a dot and
 * use only the characters below). Conservative: "+a" is quoted although it is a string either way. */
static bool yamlLooksTyped(const char *text, size_t len)
{
    static const char *const words[] = {"y",    "n", "yes", "no", "true", "false", "on",    "off",
                                        "null", "~", "<<",  "=",  ".inf", "+.inf", "-.inf", ".nan"};
    if (len == 0)
        return true;
    for (size_t wordIdx = 0; wordIdx < sizeof(words) / sizeof(words[0]); wordIdx++)
        if (strlen(words[wordIdx]) == len && strncasecmp(text, words[wordIdx], len) == 0)
            return true;
    if (strchr("0123456789+-.", text[0]) == NULL)
        return false;
    for (size_t charIdx = 0; charIdx < len; charIdx++)
        if (text[charIdx] == '\0' || strchr("0123456789abcdefABCDEFoOxX_.:+-tTzZ ", text[charIdx]) == NULL)
            return false;
    return true;
}

static int yamlScalar(yaml_emitter_t *emitter, const char *text, size_t len, bool typed)
{
    yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
    if (!typed && memchr(text, '\n', len) != NULL)
        style = YAML_LITERAL_SCALAR_STYLE;
    else if (!typed && yamlLooksTyped(text, len))
        style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
    yaml_event_t event;
    if (!yaml_scalar_event_initialize(&event, NULL, NULL, (yaml_char_t *)(uintptr_t)text, (int)len, 1, 1, style))
        return 0;
    return yaml_emitter_emit(emitter, &event);
}

static int yamlKeyCompare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int yamlValue(yaml_emitter_t *emitter, const json_t *value, MemCtx *ctx);

static int yamlMapping(yaml_emitter_t *emitter, const json_t *object, MemCtx *ctx)
{
    size_t count = json_object_size(object);
    const char **keys = NULL;
    if (count > 0) {
        keys = memCtxAlloc(ctx, count * sizeof(*keys));
        if (keys == NULL)
            return 0;
    }
    size_t keyIdx = 0;
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)(uintptr_t)object, key, member) keys[keyIdx++] = key;
    if (count > 1)
        qsort(keys, count, sizeof(*keys), yamlKeyCompare);

    yaml_event_t event;
    int ok = yaml_mapping_start_event_initialize(&event, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) &&
             yaml_emitter_emit(emitter, &event);
    for (keyIdx = 0; ok && keyIdx < count; keyIdx++)
        ok = yamlScalar(emitter, keys[keyIdx], strlen(keys[keyIdx]), false) &&
             yamlValue(emitter, json_object_get(object, keys[keyIdx]), ctx);
    ok = ok && yaml_mapping_end_event_initialize(&event) && yaml_emitter_emit(emitter, &event);
    memCtxRelease(keys);
    return ok;
}

static int yamlValue(yaml_emitter_t *emitter, const json_t *value, MemCtx *ctx)
{
    yaml_event_t event;
    char number[32];
    switch (json_typeof(value)) {
        case JSON_OBJECT:
            return yamlMapping(emitter, value, ctx);
        case JSON_ARRAY: {
            int ok = yaml_sequence_start_event_initialize(&event, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) &&
                     yaml_emitter_emit(emitter, &event);
            for (size_t itemIdx = 0; ok && itemIdx < json_array_size(value); itemIdx++)
                ok = yamlValue(emitter, json_array_get(value, itemIdx), ctx);
            return ok && yaml_sequence_end_event_initialize(&event) && yaml_emitter_emit(emitter, &event);
        }
        case JSON_STRING:
            return yamlScalar(emitter, json_string_value(value), json_string_length(value), false);
        case JSON_INTEGER:
            snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            return yamlScalar(emitter, number, strlen(number), true);
        case JSON_REAL: {
            /* 15 significant digits print 0.1 as 0.1; a real that prints like an integer keeps its fraction so
             * that it stays a float for the reader. */
            int len = snprintf(number, sizeof(number), "%.15g", json_real_value(value));
            if (strpbrk(number, ".e") == NULL)
                len += snprintf(number + len, sizeof(number) - (size_t)len, ".0");
            return yamlScalar(emitter, number, (size_t)len, true);
        }
        case JSON_TRUE:
            return yamlScalar(emitter, "true", 4, true);
        case JSON_FALSE:
            return yamlScalar(emitter, "false", 5, true);
        case JSON_NULL:
            return yamlScalar(emitter, "null", 4, true);
    }
    return 0;
}

bool clusterYamlDump(const json_t *value, StrBuf *out, Err *err)
{
    yaml_emitter_t emitter;
    if (!yaml_emitter_initialize(&emitter))
        return errSet(err, errOutOfMemory, "out of memory writing YAML");
    YamlSink sink = {.out = out, .err = err};
    yaml_emitter_set_output(&emitter, yamlWrite, &sink);
    yaml_emitter_set_width(&emitter, -1);
    yaml_emitter_set_unicode(&emitter, 1);

    yaml_event_t event;
    int ok = yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING) && yaml_emitter_emit(&emitter, &event) &&
             yaml_document_start_event_initialize(&event, NULL, NULL, NULL, 1) && yaml_emitter_emit(&emitter, &event) &&
             yamlValue(&emitter, value, out->ctx) && yaml_document_end_event_initialize(&event, 1) &&
             yaml_emitter_emit(&emitter, &event) && yaml_stream_end_event_initialize(&event) &&
             yaml_emitter_emit(&emitter, &event) && yaml_emitter_flush(&emitter);
    bool done = ok != 0;
    if (!done && !sink.failed) {
        if (emitter.error == YAML_MEMORY_ERROR || emitter.error == YAML_NO_ERROR)
            errSet(err, errOutOfMemory, "out of memory writing YAML");
        else
            errSet(err, errInvalidArgument, "cannot write YAML: %s", emitter.problem ? emitter.problem : "unknown");
    }
    yaml_emitter_delete(&emitter);
    return done;
}
