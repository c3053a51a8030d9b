/* Golden files for the builders: a JSON document compared with test/unit/golden/<name>.json.
 *
 * The comparison is of canonical JSON (sorted keys, 2-space indent), so a golden file is also what a reviewer reads.
 * With UPDATE_GOLDEN=1 in the environment the file is (re)written instead and the test passes: review the diff. */
#ifndef TEST_HARNESS_GOLDEN_H
#define TEST_HARNESS_GOLDEN_H

#include <jansson.h>

#define assert_golden(actual, name) harnessAssertGolden((actual), (name), __FILE__, __LINE__)
void harnessAssertGolden(const json_t *actual, const char *name, const char *file, int line);

/* Parses text (a test fixture) or fails the test. The caller owns the result. */
json_t *harnessJson(const char *text);

#endif
