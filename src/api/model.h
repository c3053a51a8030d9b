/* The PostgresCluster as the builders see it: the spec with PGO's defaults applied, and what the reconciler
 * observed that a builder's output depends on (instance names, the leader Service's address, existing Secrets).
 *
 * Builders (api/objects.h) are pure functions of a ClusterModel: same model, same objects. Everything random or
 * time-dependent comes in through the model (the Clock, the Rng, the existing Secrets through lookup), so a golden
 * test drives them with fixed inputs. The model borrows the cluster document and every string it points to; it
 * lives in the reconcile's context and never outlives the cache entry it was made from. */
#ifndef CLUSTER_MODEL_H
#define CLUSTER_MODEL_H

#include "naming/labels.h"

#include "common/clock.h"
#include "common/error.h"
#include "common/memctx.h"
#include "common/rng.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Conditions of our own, present only while something is wrong (a pass that failed; spec fields the operator does
 * not act on; a cluster waiting for data it cannot fetch), and PGO's Progressing. */
#define CLUSTER_CONDITION_RECONCILED   "Reconciled"
#define CLUSTER_CONDITION_SPEC_APPLIED "SpecApplied"
#define CLUSTER_CONDITION_PROGRESSING  "Progressing"
#define CLUSTER_REASON_PAUSED          "Paused" /* Progressing False: spec.paused, or backups removed unauthorized */

/* One instance: a StatefulSet of one pod, "<cluster>-<set>-<4 characters>". */
typedef struct ClusterInstance {
    const char *name; /* the StatefulSet; its pod is "<name>-0" */
    size_t set;       /* index into ClusterModel.sets */
} ClusterInstance;

/* One entry of spec.instances, defaults applied. */
typedef struct ClusterInstanceSet {
    const char *name;             /* spec.instances[].name, default "00", "01", ... by position (as PGO) */
    int64_t replicas;             /* default 1 */
    int64_t minAvailable;         /* the PDB's minAvailable as a number: 1 when replicas > 1 else 0 (PGO); -1: use
                              * minAvailableText */
    const char *minAvailableText; /* spec.instances[].minAvailable when given as a percentage, else NULL */
    const json_t *spec;           /* the spec.instances[] entry (dataVolumeClaimSpec, resources, affinity, ...) */
} ClusterInstanceSet;

/* A Secret or other object the reconciler found in its cache, for builders whose output keeps existing state
 * (certificates, passwords). Returns the cached object (borrowed) or NULL. kind is "Secret", "ConfigMap", ... */
typedef const json_t *ClusterLookupFn(void *arg, const char *kind, const char *namespace, const char *name);

/* A restore the cluster's data comes from, pgBackRest restoring a backup into one instance's volumes before Patroni
 * starts there (controllers/postgrescluster/restore.c decides it each pass; pgbackrest/restore.h builds the Job). It
 * lasts from the request until Patroni has initialised the cluster on the restored data; meanwhile only the startup
 * instance may run, and only once the data is there. Strings and JSON are borrowed from the cache or the run. */
typedef struct ClusterRestore {
    const char *startupInstance; /* the instance the data is restored into, the only one to start first */
    const char *sourceCluster;   /* whose repository holds the backup: this cluster (in place) or a clone's source */
    const char *repoName;        /* that cluster's volume repository, "repo1" .. "repo4" */
    const json_t *options;       /* pgbackrest restore options (an array of strings, each shell words), or NULL */
    const json_t *configuration; /* the source's spec.backups.pgbackrest.configuration (projections), or NULL */
    const json_t *job;           /* resources, affinity, tolerations, priorityClassName for the Job's pod, or NULL */
    const char *id;              /* in place: the annotation's id; NULL for a clone */
    bool jobWanted;              /* the Job may be created now: nothing runs on the startup instance's volumes */
    bool dataReady;              /* the Job succeeded: the startup instance starts on the restored data */
} ClusterRestore;

/* spec.shutdown and the start after it (controllers/postgrescluster/shutdown.c decides it each pass, as PGO does it).
 * Shutting down, the replicas stop first and the primary last; the primary is recorded as the startup instance
 * (status.startupInstance), and starting again it runs alone until Patroni has a leader, so that the cluster comes
 * back on the data written last. Strings are borrowed from the cache or the run. */
typedef struct ClusterPower {
    bool shutdown;               /* spec.shutdown */
    const char *startupInstance; /* the primary at shutdown, the first to start again; NULL when none is known */
    bool onlyStartup;            /* only startupInstance runs: the others have to stop first, or start after it */
    bool none;                   /* no instance runs */
} ClusterPower;

typedef struct ClusterModel {
    const json_t *cluster; /* the PostgresCluster as cached */
    const char *namespace;
    const char *name;
    const char *uid;
    int64_t generation;

    int64_t postgresVersion; /* spec.postgresVersion */
    const char *image;       /* spec.image, else RELATED_IMAGE_POSTGRES_<version>; NULL when neither exists */
    int64_t port;            /* spec.port, default 5432 */
    bool backups;            /* spec.backups.pgbackrest is set: WAL is archived with pgBackRest */
    const char *domain;      /* the cluster domain without trailing dot, "cluster.local" */

    /* RELATED_IMAGE_PGBOUNCER, or NULL (spec.proxy.pgBouncer.image wins). */
    const char *pgbouncerImage;

    /* Patroni timing (spec.patroni): leaderLeaseDurationSeconds (ttl), syncPeriodSeconds (loop_wait), and the
     * retry_timeout we derive (see patroni builder). */
    int64_t patroniTtl;
    int64_t patroniLoopWait;
    int64_t patroniPort; /* spec.patroni.port, default 8008 */

    ClusterInstanceSet *sets;
    size_t setCount;
    ClusterInstance *instances; /* sorted by name; the reconciler decides them (existing plus new) */
    size_t instanceCount;

    const char *haClusterIP;       /* spec.clusterIP of Service <cluster>-ha once assigned, else NULL */
    const char *primary;           /* the instance Patroni's leader runs on (api/primary.h), else NULL */
    const ClusterRestore *restore; /* the restore in progress (see above), else NULL; decided by the reconciler */
    ClusterPower power;            /* shutdown and start (see above); shutdown from the spec, the rest decided by
                                    * the reconciler */
    /* The password of the operator's role CLUSTER_OPERATOR_CN (api/objects.h clusterOperatorPassword), decided by
     * the reconciler for the pass; NULL until then, and the builders that need it (Patroni's configuration, the
     * Secrets) refuse to build without it. A secret: never logged, never in a message, never in a ConfigMap. */
    const char *operatorPassword;

    /* Time, randomness and the cache, for builders that keep or create state. */
    Clock clock;
    Rng rng; /* non-secret randomness (names); secrets come from OpenSSL */
    ClusterLookupFn *lookup;
    void *lookupArg;
} ClusterModel;

/* Fills model from cluster (which must outlive it) with the defaults above. images(arg, "POSTGRES_17") gives the
 * RELATED_IMAGE_ default or NULL. Instances, haClusterIP, clock, rng and lookup are left for the caller.
 * errInvalidArgument names the field when the spec is unusable (no instances, a duplicate set name, ...). */
typedef const char *ClusterImageFn(void *arg, const char *name);
bool clusterModelFromSpec(MemCtx *ctx, const json_t *cluster, ClusterImageFn *images, void *imagesArg,
                          ClusterModel *model, Err *err) MUST_CHECK;

/* Whether name (may be NULL) is one of model's instances. */
bool clusterModelHasInstance(const ClusterModel *model, const char *name);

/* The set an instance name belongs to ("<cluster>-<set>-xxxx"), or NULL. */
const ClusterInstanceSet *clusterModelSetOf(const ClusterModel *model, const char *instanceName);

#endif
