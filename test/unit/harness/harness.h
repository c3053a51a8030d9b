/* Shared helpers of the unit tests: cmocka includes, error assertions and the allocation-failure sweep. */
#ifndef TEST_HARNESS_H
#define TEST_HARNESS_H

/* cmocka needs these before its own header. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "common/error.h"

#include <stdbool.h>

/* Fails the test, showing the message, unless err holds code. */
#define assert_err(err, expectedCode) harnessAssertErr((err), (expectedCode), __FILE__, __LINE__)
void harnessAssertErr(const Err *err, ErrCode expected, const char *file, int line);

/* Fails the test unless str contains part. */
#define assert_contains(str, part) harnessAssertContains((str), (part), __FILE__, __LINE__)
void harnessAssertContains(const char *str, const char *part, const char *file, int line);

/* An operation under test: does its work, releases what it allocated, and returns whether it succeeded. */
typedef bool HarnessOperation(void *arg, Err *err);

/* Runs op with the 1st, 2nd, ... allocation failing until a run no longer reaches the injected failure (which must
 * then succeed). Every run that hit the failure must fail with errOutOfMemory, or succeed if the code path recovers
 * from it by design (allowRecovery). Returns the number of allocations the full operation made. Leaks are caught by
 * the sanitizer or valgrind at exit. */
unsigned harnessAllocSweep(HarnessOperation *op, void *arg, bool allowRecovery);

/* harnessAllocSweep for operations that make thousands of allocations, such as OpenSSL's (its encoder and decoder
 * framework builds a chain of candidates on every call): a sweep costs the square of that count, so under valgrind,
 * fifty times slower, it fails the first 64 allocations and then every 29th, with the same checks. Under the
 * sanitizers it is the full sweep. */
unsigned harnessAllocSweepThinned(HarnessOperation *op, void *arg);

#endif
