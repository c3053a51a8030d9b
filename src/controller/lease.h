/* Leader election on a coordination.k8s.io/v1 Lease, compatible with client-go's leaderelection (the Lease a
 * controller-runtime manager such as PGO's holds looks the same, so the two can even take turns).
 *
 * Every retryPeriod the elector makes one attempt:
 * - not leading: it reads the Lease (creating it when absent). The Lease is free when it has no holder (a leader
 *   released it) or when its record has not changed for leaseDurationSeconds as measured on our own monotonic clock
 *   since we first saw that record (never by comparing the holder's timestamps with our clock, which may be skewed);
 *   then it writes itself as holder, with the Lease's resourceVersion, so of two candidates only one succeeds.
 * - leading: it renews (renewTime = now), again guarded by the resourceVersion. A conflict makes it read the Lease
 *   again; another holder there means the lease is lost.
 * Leadership is lost, and stoppedLeading called once, when no renewal has succeeded for renewDeadline (measured from
 * when the last successful renewal was sent), or the Lease names another holder. The elector then stops: the caller
 * is expected to stop reconciling at once and exit, as controller-runtime does.
 *
 * Release (at shutdown) writes an empty holder with a one-second duration, so a standby takes over at its next
 * attempt rather than after the lease expires. Times come from options.clock, so tests drive expiry by hand; the
 * retry timer uses the loop. Leadership shows in the gauge leader_election_master_status{name}. */
#ifndef CONTROLLER_LEASE_H
#define CONTROLLER_LEASE_H

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/memctx.h"
#include "controller/api.h"
#include "controller/metrics.h"

#define LEASE_IDENTITY_MAX 256

typedef struct LeaseElector LeaseElector;

typedef struct LeaseOptions {
    const char *namespace;
    const char *name;
    const char *identity;    /* unique per process: hostname_random */
    int64_t leaseDurationMs; /* default 15 s (controller-runtime's) */
    int64_t renewDeadlineMs; /* default 10 s */
    int64_t retryPeriodMs;   /* default 2 s */
    Clock clock;             /* default: the loop's */
} LeaseOptions;

typedef struct LeaseCallbacks {
    void (*startedLeading)(void *arg);
    void (*stoppedLeading)(void *arg); /* leadership lost (not after a release) */
    void (*released)(void *arg);       /* leaseElectorRelease has finished, successfully or not */
    void *arg;
} LeaseCallbacks;

/* An elector in a new child context of parent; nothing is sent before leaseElectorStart. Strings are copied. */
bool leaseElectorNew(MemCtx *parent, Loop *loop, Api *api, const Log *log, Metrics *metrics,
                     const LeaseOptions *options, const LeaseCallbacks *callbacks, LeaseElector **out,
                     Err *err) MUST_CHECK;

/* Makes the first attempt on the next loop iteration, then one every retryPeriod. */
void leaseElectorStart(LeaseElector *elector);

/* One attempt now, as the timer does (tests call it after moving a fake clock). Does nothing while a request is in
 * flight, except noticing that the renew deadline has passed. */
void leaseElectorTick(LeaseElector *elector);

/* Stops the attempts and, when leading, gives the Lease up; released is called when that is done (at once when
 * not leading). */
void leaseElectorRelease(LeaseElector *elector);

bool leaseElectorIsLeader(const LeaseElector *elector);

/* The holder of the Lease as last read or written ("" when none or unknown). */
const char *leaseElectorHolder(const LeaseElector *elector);

/* A new identity "hostname_<16 hex digits>" into out. */
bool leaseIdentityNew(char out[LEASE_IDENTITY_MAX], Err *err) MUST_CHECK;

/* Kubernetes MicroTime, "2026-11-25T11:23:45.678000Z": LEASE_MICROTIME_SIZE bytes with the NUL. */
#define LEASE_MICROTIME_SIZE 28
void leaseFormatMicroTime(int64_t wallMs, char out[LEASE_MICROTIME_SIZE]);

#endif
