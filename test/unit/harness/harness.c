/* Unit test helpers. See harness.h. */
#include "harness.h"

#include "common/alloc.h"

#include <stdio.h>
#include <string.h>

#define HARNESS_SWEEP_MAX 100000

void harnessAssertErr(const Err *err, ErrCode expected, const char *file, int line)
{
    if (err->code == expected)
        return;
    fail_msg("%s:%d: expected %s, got %s: %s", file, line, errCodeName(expected), errCodeName(err->code), err->message);
}

void harnessAssertContains(const char *str, const char *part, const char *file, int line)
{
    if (str != NULL && strstr(str, part) != NULL)
        return;
    fail_msg("%s:%d: \"%s\" does not contain \"%s\"", file, line, str ? str : "(null)", part);
}

unsigned harnessAllocSweep(HarnessOperation *op, void *arg, bool allowRecovery)
{
    allocUseForJansson();
    for (unsigned nth = 1; nth < HARNESS_SWEEP_MAX; nth++) {
        Err err;
        errClear(&err);
        allocFailNth(nth);
        bool ok = op(arg, &err);
        bool fired = allocFaultFired();
        allocFailNth(0);
        if (!fired) {
            if (!ok)
                fail_msg("operation failed without an injected fault: %s: %s", errCodeName(err.code), err.message);
            return nth - 1;
        }
        if (ok && !allowRecovery)
            fail_msg("allocation %u failed but the operation reported success", nth);
        if (!ok && err.code != errOutOfMemory)
            fail_msg("allocation %u failed but the operation reported %s: %s", nth, errCodeName(err.code), err.message);
    }
    fail_msg("allocation sweep did not finish");
    return 0;
}

#define SWEEP_DENSE  64
#define SWEEP_STRIDE 29

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SWEEP_THIN() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef SWEEP_THIN
#define SWEEP_THIN() 0
#endif

unsigned harnessAllocSweepThinned(HarnessOperation *op, void *arg)
{
    if (!SWEEP_THIN())
        return harnessAllocSweep(op, arg, false);
    for (uint64_t nth = 1;; nth += nth < SWEEP_DENSE ? 1 : SWEEP_STRIDE) {
        Err err;
        errClear(&err);
        allocFailNth(nth);
        bool ok = op(arg, &err);
        bool fired = allocFaultFired();
        allocFailNth(0);
        if (!fired) {
            if (!ok)
                fail_msg("operation failed without an injected fault: %s", err.message);
            return (unsigned)nth;
        }
        if (ok)
            fail_msg("allocation %llu failed but the operation reported success", (unsigned long long)nth);
        if (err.code != errOutOfMemory)
            fail_msg("allocation %llu failed but the operation reported %s: %s", (unsigned long long)nth,
                     errCodeName(err.code), err.message);
    }
}
