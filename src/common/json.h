/* JSON helpers over jansson: parsing with our errors, typed path getters, bounded serialisation.
 *
 * A path names a value inside a document: keys separated by dots, array indexes in brackets, and keys that contain
 * dots or brackets quoted in brackets:
 *
 *     metadata.name    spec.containers[0].image    metadata.labels["postgres-operator.crunchydata.com/cluster"]
 *
 * jsonGet* fail with errJsonMissing when the value is absent (or JSON null, which Kubernetes treats the same),
 * errJsonType when it or an intermediate value has another type, errJsonPath when the path is malformed. jsonFind*
 * are the same for optional fields: absent or null yields the default and success. Error messages quote the path.
 *
 * Returned json_t and string pointers are borrowed from the document: valid while it lives and is not modified. */
#ifndef COMMON_JSON_H
#define COMMON_JSON_H

#include "common/error.h"
#include "common/strbuf.h"

#include <jansson.h>
#include <stdint.h>

/* Parses exactly one JSON document (objects may not repeat a key). The caller owns *out (json_decref). Allocation
 * failures are reported as errOutOfMemory once allocUseForJansson() has been called at start-up. */
bool jsonParse(const char *data, size_t len, json_t **out, Err *err) MUST_CHECK;

bool jsonGet(const json_t *root, const char *path, json_t **out, Err *err) MUST_CHECK;
bool jsonGetStr(const json_t *root, const char *path, const char **out, Err *err) MUST_CHECK;
bool jsonGetInt64(const json_t *root, const char *path, int64_t *out, Err *err) MUST_CHECK;
bool jsonGetBool(const json_t *root, const char *path, bool *out, Err *err) MUST_CHECK;
bool jsonGetObject(const json_t *root, const char *path, json_t **out, Err *err) MUST_CHECK;
bool jsonGetArray(const json_t *root, const char *path, json_t **out, Err *err) MUST_CHECK;

/* Optional values: *out = fallback when absent or null; NULL for the object and array variants. */
bool jsonFindStr(const json_t *root, const char *path, const char *fallback, const char **out, Err *err) MUST_CHECK;
bool jsonFindInt64(const json_t *root, const char *path, int64_t fallback, int64_t *out, Err *err) MUST_CHECK;
bool jsonFindBool(const json_t *root, const char *path, bool fallback, bool *out, Err *err) MUST_CHECK;
bool jsonFindObject(const json_t *root, const char *path, json_t **out, Err *err) MUST_CHECK;
bool jsonFindArray(const json_t *root, const char *path, json_t **out, Err *err) MUST_CHECK;

/* Appends value to out as compact JSON with sorted keys (canonical: equal documents serialise equally).
 * errTooLarge when out's limit is reached, leaving out with a partial document the caller should discard. */
bool jsonDump(const json_t *value, StrBuf *out, Err *err) MUST_CHECK;

/* "object", "array", "string", "integer", "real", "boolean" or "null". */
const char *jsonTypeName(const json_t *value);

#endif
