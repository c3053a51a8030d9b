/* Fuzz targets for the four parsers of src/kube, as plain functions: the libFuzzer wrappers (fuzz_*.c) and the
 * corpus replay unit test (test/unit/test_fuzz_corpus.c) both call these. Each function frees everything it
 * allocated and abort()s when a documented contract of the code under test does not hold. */
#ifndef TEST_FUZZ_TARGETS_H
#define TEST_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* The watch stream framing, the input fed in two chunks split at a position derived from its first byte. */
int fuzzWatch(const uint8_t *data, size_t size);

/* Status decoding: the first two bytes give the HTTP status, the rest is the response body. */
int fuzzStatus(const uint8_t *data, size_t size);

/* Quantity parsing, scaling and comparison. */
int fuzzQuantity(const uint8_t *data, size_t size);

/* Label selector parsing, then matching against a fixed label set and against no labels. */
int fuzzSelector(const uint8_t *data, size_t size);

#endif
