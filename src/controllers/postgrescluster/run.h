/* Internal to src/controllers/postgrescluster/: one reconcile's state (ClusterRun), the batches of API calls its
 * stages send, and the stages themselves, which reconciler.c runs in the order of its table. Each stage is in the
 * file of its concern:
 *
 *     spec.c      stageSpec: the model, the fields not acted on, a cluster waiting for its data
 *     apply.c     stageBuild, stageApply, stageRootOwner: the intents, written when the cache lacks them
 *     delete.c    stageFinalizer; the deletion: stageDeleting, stageRemoveFinalizer
 *     dcs.c       stageDcs: Patroni's dynamic configuration
 *     prune.c     stagePrune: what the cluster controls but no longer wants
 *     switchover.c stageSwitchover: a change of primary on request (trigger-switchover); Patroni's failover key
 *     rolling.c   stageRollout: the rolling update's next step (rollout.h decides it)
 *     restore.c   stageRestore: a clone's source and an in-place restore's steps (runDataSource, runRestorePlan)
 *     shutdown.c  no stage: which instances run while the cluster shuts down or starts again (runPowerPlan)
 *     users.c     stageUsersRun: the users' SQL over libpq
 *     pgbouncer.c stageProxyKeys, stageProxySql: PgBouncer's keys in the users' Secrets, its SQL
 *     status.c    stageStatusWrite: the status, also after a failure
 *     observe.c   no stage: the instances the cluster has and keeps, and which is the primary
 *     watches.c   no stage: the kinds watched, and the cache read through them
 *
 * A stage reads the cache and the run, sends the calls of its batch (runSend), and returns what comes next once the
 * batch is done (StageResult). A stage that fails calls runFail (or runFailed when nothing of it is in flight) and
 * returns stageHandedOff: the driver goes to the status stage when the batch ends. */
#ifndef CLUSTER_RUN_H
#define CLUSTER_RUN_H

#include "api/objects.h"
#include "controllers/postgrescluster/reconciler.h"
#include "kube/request.h"
#include "pgbouncer/pgbouncer.h"
#include "pgsql/session.h"
#include "postgres/users.h"

/* The kinds the reconciler watches, in the order of clusterWatches. */
typedef enum ClusterKindIdx {
    kindCluster,
    kindSecret,
    kindConfigMap,
    kindService,
    kindEndpoints,
    kindStatefulSet,
    kindPvc,
    kindPod,
    kindServiceAccount,
    kindRole,
    kindRoleBinding,
    kindPdb,
    kindJob,
    kindCronJob,
    kindDeployment,
    kindCount,
} ClusterKindIdx;

typedef struct ClusterWatch {
    const char *kind;
    KubeResource resource;
    bool owned;                           /* mapped by controller owner reference; else by the cluster label */
    bool selectByCluster;                 /* cache only objects with the cluster label */
    ManagerUpdateFilterFn *updateMatters; /* NULL: every update is worth a reconcile */
} ClusterWatch;

/* watches.c: what is watched, and how a change maps to a cluster. */
extern const ClusterWatch clusterWatches[kindCount];

struct ClusterReconciler {
    MemCtx *ctx;
    Loop *loop;
    const Log *log;
    ClusterImageFn *images;
    void *imagesArg;
    Api *api;
    EventRecorder *events;
    const Store *stores[kindCount];
};

typedef struct ClusterRun ClusterRun;

/* What a stage asks for once the calls it sent are done (at once when it sent none). */
typedef enum StageResult {
    stageNext,      /* the next stage of the table */
    stageSkipNext,  /* the one after it */
    stageToStatus,  /* the status stage (a cluster waiting for its data) */
    stageEnd,       /* the reconcile ends: success, or the error of a stage that failed before */
    stageWait,      /* the reconcile ends, to come back in RUN_WAIT_MS (or sooner, by a watch event) */
    stageHandedOff, /* nothing: the stage failed (runFail), ended the reconcile, or a callback of its own carries on */
} StageResult;

#define RUN_WAIT_MS 2000

typedef StageResult ClusterStageFn(ClusterRun *run);

/* An entry of the driver's table: the stage's name, as a failure's condition says it ("<name>Failed"), and its
 * function. */
typedef struct ClusterStage {
    const char *name;
    ClusterStageFn *run;
} ClusterStage;

/* restore.c: what one pass decided of a restore (see restore.c). */
typedef enum RunJobState {
    runJobAbsent,
    runJobActive,
    runJobSucceeded,
    runJobFailed,
} RunJobState;

typedef struct RunRestore {
    ClusterRestore plan;    /* model.restore points here while a restore lasts */
    bool decided;           /* runRestorePlan ran this pass */
    bool clone;             /* spec.dataSource.postgresCluster, not yet bootstrapped */
    bool inPlace;           /* an in-place restore asked for and not yet over */
    bool ready;             /* in place: instances stopped, Patroni's objects gone, the repository host ready */
    bool stopped;           /* in place: no instance Pod is left */
    json_t *source;         /* a clone's source cluster (our reference), or NULL */
    const json_t *job;      /* the cached Job of this restore, or NULL */
    const json_t *staleJob; /* a cached restore Job of an earlier request, to delete */
    RunJobState jobState;   /* job's */
    const char *invalid;    /* in place: why the request cannot start, or NULL */
} RunRestore;

typedef struct RunCall {
    struct RunCall *next;
    ClusterRun *run;
    ApiCall *call;
    bool missingIsFine; /* a 404 is success (deletes) */
} RunCall;

struct ClusterRun {
    ClusterReconciler *reconciler;
    Reconcile *reconcile;
    json_t *cluster; /* our own reference */
    ClusterModel model;
    json_t *objects; /* the intents */
    RunCall *calls;
    size_t pending;
    bool failed;
    Err firstErr;
    const ClusterStage *current; /* the stage running, in its table */
    StageResult after;           /* what the current stage asked for once its batch is done */
    size_t writes;
    PgSession *session;                              /* the users' SQL, while it runs */
    char usersRevision[CLUSTER_USERS_REVISION_SIZE]; /* what the SQL just run was, or "" */
    bool rootOwnerNeeded;                            /* the root CA Secret was applied: add our reference */
    bool prunedInstances;                            /* this pass deletes surplus instances' objects */
    bool modelReady;                                 /* the model was built from the spec */
    const char *stage;                               /* the stage running, named in a failure's condition */
    bool statusStage;                                /* the status is being written: a failure ends the pass */
    bool stageFailed;                                /* a stage failed; the status says so, then the pass ends */
    Err stageErr;
    const char *failedStage;
    bool waitForChange; /* the failure is one no retry can fix (reconciler.c): the pass ends without a requeue */
    json_t *conditions; /* this pass's own conditions (failure, fields not acted on, waiting), beside pgBackRest's */
    RunRestore restore; /* restore.c */
    bool powerDecided;  /* shutdown.c: runPowerPlan ran this pass */
    const char *switchoverDone; /* switchover.c: the trigger value carried out this pass, or NULL */
    bool switchoverAsked;       /* switchover.c: a new request was sent; its primary's timeline: */
    int64_t switchoverTimeline;
    bool paused;       /* spec.paused: nothing applied, the status says so alone */
    int64_t requeueMs; /* a pass that ends well comes back after this long (0: only on a change) */
    char pgbouncerRevision[CLUSTER_PGBOUNCER_REVISION_SIZE]; /* PgBouncer's SQL just installed, or "" */
    bool pgbouncerRemoved;                                   /* PgBouncer's SQL just removed */
};

/* --- reconciler.c: the batch of calls, and leaving the table --- */

/* Sends request as part of the current stage's batch; missingIsFine: a 404 is success. */
bool runSend(ClusterRun *run, ApiVerb verb, const KubeRequest *request, bool missingIsFine, Err *err) MUST_CHECK;

/* Sends the deletion of object (of resource, in the cluster's namespace), guarded by its uid. */
bool runDelete(ClusterRun *run, const KubeResource *resource, const json_t *object, Err *err) MUST_CHECK;

/* Sends patch of the object name of kind in the cluster's namespace (its subresource) as part of the current batch,
 * under the controller's field manager: a JSON merge patch, or a strategic merge patch when strategic. */
bool runPatch(ClusterRun *run, ClusterKindIdx kind, const char *name, KubeSubresource subresource, bool strategic,
              const json_t *patch, bool missingIsFine, Err *err) MUST_CHECK;

/* Ends the reconcile with outcome (err: what failed, or NULL). */
void runFinish(ClusterRun *run, ReconcileOutcome outcome, const Err *err);

/* The stage fails with err now, or when the batch in flight ends. */
void runFail(ClusterRun *run, const Err *err);

/* A stage failed with err: the status is still written for what was observed, with the failure in the condition
 * Reconciled (False, reason "<stage>Failed"), and the reconcile then ends with err (the key comes back with
 * backoff), or, for errInvalidArgument from the spec or build stage, without a requeue (runEndFailed). A failure
 * while writing the status ends the reconcile at once. Only when no call is in flight. */
void runFailed(ClusterRun *run, const Err *err);

/* The end of a pass whose stage failed, once the status says so: with the error (backoff), or, for a failure no retry
 * can fix, without a requeue until a change of the cluster or of what it watches (logged at info when statusWritten,
 * else at debug: an earlier pass said it already). */
void runEndFailed(ClusterRun *run, bool statusWritten);

/* The status stage, now, whatever the table's position: for a stage that goes there by itself (PgBouncer's SQL). */
void stageStatus(ClusterRun *run);

/* The stage after the current one, now: for a stage that goes on by itself once its session ends (the users'). */
void runNextStage(ClusterRun *run);

/* Records an Event about the cluster (a failure to is logged). */
void runEvent(ClusterRun *run, EventType type, const char *reason, const char *message);

/* A copy of text in the run's context, or NULL. */
char *runCopy(ClusterRun *run, const char *text);

/* --- reading the cache --- */

/* watches.c: the cached object of kind (as clusterWatches names it), or NULL. arg: the ClusterReconciler. */
const json_t *reconcilerLookup(void *arg, const char *kind, const char *namespace, const char *name);

/* reconciler.c: metadata.name of object, or NULL; a label of object, or NULL; whether object's controller owner
 * reference is the cluster with uid. */
const char *nameOf(const json_t *object);
const char *labelOf(const json_t *object, const char *label);
bool controlledBy(const json_t *object, const char *uid);

/* observe.c: the model's instances (existing ones kept, new ones named) and model->primary. */
bool runInstances(ClusterRun *run, Err *err) MUST_CHECK;

/* observe.c: whether Patroni has a leader: the leader Endpoints <cluster>-ha list an address. */
bool runHasLeader(ClusterRun *run);

/* users.c: the intent of kind named name among objects, or NULL; whether there is one. */
const json_t *intentOf(const json_t *objects, const char *kind, const char *name);
bool intended(const json_t *objects, const char *kind, const char *name);

/* restore.c: a clone's source, checked in the spec stage: *wait when the cluster must wait for it (the status says
 * why); the restore this pass acts on into model.restore, after runInstances; the status's part of it (status, the
 * conditions wanted, both modified). */
bool runDataSource(ClusterRun *run, bool *wait, Err *err) MUST_CHECK;
bool runRestorePlan(ClusterRun *run, Err *err) MUST_CHECK;
bool runRestoreStatus(ClusterRun *run, json_t *status, json_t *conditions) MUST_CHECK;

/* --- switchover.c: a change of primary on request, and Patroni's failover key --- */

/* Asks Patroni, through its failover key, to hand the primary over: from leaderPod (NULL: a failover, whoever leads)
 * to candidatePod (NULL: the healthiest replica). *sent: the key was not already so. */
bool runFailoverKey(ClusterRun *run, const char *leaderPod, const char *candidatePod, bool *sent, Err *err) MUST_CHECK;
/* Whether Patroni's failover key still names a leader or a candidate: a request not done yet. */
bool runFailoverPending(const ClusterRun *run);
/* The switchover's part of the status (status.patroni.switchover, switchoverTimeline); false when out of memory. */
bool runSwitchoverStatus(const ClusterRun *run, json_t *status) MUST_CHECK;

/* --- shutdown.c: spec.shutdown and the start after it --- */

/* Decides model.power for the pass, after the instances and the restore (a restore's startup rule wins). */
void runPowerPlan(ClusterRun *run);
/* The startup instance and its set in status (null to remove them once the cluster runs again); false when out of
 * memory. */
bool runPowerStatus(ClusterRun *run, json_t *status) MUST_CHECK;

/* users.c: the connection of the operator's role to the primary (see users.c), for the SQL of a stage. */
bool runOperatorTarget(ClusterRun *run, PgTarget *target, Err *err) MUST_CHECK;

/* pgbouncer.c: the status's part of PgBouncer (status, the conditions wanted, both modified). */
bool runPgBouncerStatus(ClusterRun *run, json_t *status, json_t *conditions) MUST_CHECK;

/* status.c: the condition of type in conditions, or NULL. */
const json_t *conditionOf(const json_t *conditions, const char *type);

/* --- the stages, in the order of the table --- */

StageResult stageSpec(ClusterRun *run);
StageResult stageBuild(ClusterRun *run);
StageResult stageFinalizer(ClusterRun *run);
StageResult stageApply(ClusterRun *run);
StageResult stageRootOwner(ClusterRun *run);
StageResult stageRestore(ClusterRun *run);
StageResult stageDcs(ClusterRun *run);
StageResult stagePrune(ClusterRun *run);
StageResult stageSwitchover(ClusterRun *run);
StageResult stageRollout(ClusterRun *run);
StageResult stageUsersRun(ClusterRun *run);
StageResult stageProxyKeys(ClusterRun *run);
StageResult stageProxySql(ClusterRun *run);
StageResult stageStatusWrite(ClusterRun *run);

/* delete.c: the deletion's stages, and whether the cluster has our finalizer. */
bool hasFinalizer(const json_t *cluster);
StageResult stageDeleting(ClusterRun *run);
StageResult stageRemoveFinalizer(ClusterRun *run);

#endif
