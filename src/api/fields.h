/* Which fields of a PostgresCluster the operator acts on, and which of them a given cluster sets although the operator
 * does not act on them yet. The operator never accepts a field silently: a field it ignores is reported, and a
 * request to initialise the cluster from data elsewhere (a standby, a data source) is reported apart, because such a
 * cluster must never be initialised empty; the reconciler makes it wait.
 *
 * The table (fields.c) names field paths as the CRD spells them, one status each:
 *
 *     spec.proxy.pgBouncer                       a field
 *     spec.instances[].sidecars                  the field of every element of the array spec.instances
 *     metadata.annotations["<key>"]              an annotation of the cluster (a key with dots, quoted)
 *
 * An entry that is acted on, not acted on or data from elsewhere covers its whole subtree; a descend entry is a
 * container whose children have entries of their own. Every path of the CRD's spec is covered by exactly one such
 * entry, itself or its nearest ancestor with an entry (test/unit/test_cluster_fields.c walks the generated CRD to
 * keep it so).
 *
 * A field counts as set when it is present, not JSON null, and not its entry's no-op value (ClusterFieldWhen). Where
 * the choice is doubtful the rule leans to "set": reporting a field that does nothing costs a message, missing one
 * that does something is a silent acceptance. */
#ifndef CLUSTER_FIELDS_H
#define CLUSTER_FIELDS_H

#include "common/error.h"
#include "common/memctx.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum ClusterFieldStatus {
    fieldActedOn,       /* the operator implements it, with everything below it */
    fieldNotActedOn,    /* reported when set, with everything below it */
    fieldDataElsewhere, /* when set, the cluster is to be initialised from another source, never empty */
    fieldDescend,       /* a container: its children have entries of their own */
} ClusterFieldStatus;

/* When a present, non-null value counts as set. */
typedef enum ClusterFieldWhen {
    fieldWhenPresent,    /* any value */
    fieldWhenTrue,       /* a flag: only true (false is the default and does nothing) */
    fieldWhenNonEmpty,   /* not "", {} or [] (an empty value asks for nothing) */
    fieldWhenEnabled,    /* an object whose member enabled is true; absent means false */
    fieldUnlessDisabled, /* an object whose member enabled is not false; absent means true (the CRD's default) */
} ClusterFieldWhen;

typedef struct ClusterField {
    const char *path;
    ClusterFieldStatus status;
    ClusterFieldWhen when; /* for fieldNotActedOn and fieldDataElsewhere */
} ClusterField;

/* The table, in its order (metadata first, then spec in the CRD's order); *count entries. Static. */
const ClusterField *clusterFields(size_t *count);

/* "acted on", "not acted on yet", "data from elsewhere" or "descend". */
const char *clusterFieldStatusName(ClusterFieldStatus status);

/* Whether cluster (a PostgresCluster document) sets field, by the rules above. Array paths ("x[]") are set when any
 * element sets them; a value of another type than the path expects along the way sets nothing. */
bool clusterFieldSet(const ClusterField *field, const json_t *cluster);

typedef struct ClusterFieldsReport {
    const char **notActedOn; /* paths of fieldNotActedOn entries this cluster sets, in table order */
    size_t notActedOnCount;
    const char **dataElsewhere; /* paths of fieldDataElsewhere entries this cluster sets, in table order */
    size_t dataElsewhereCount;
} ClusterFieldsReport;

/* Fills out with the fields cluster sets that the operator does not act on, and those asking for data from elsewhere.
 * The arrays are allocated in ctx (NULL when their count is 0); the strings are the table's (static).
 * errInvalidArgument when cluster is not an object, errOutOfMemory when ctx cannot hold the arrays; out is then
 * zeroed. */
bool clusterFieldsReport(MemCtx *ctx, const json_t *cluster, ClusterFieldsReport *out, Err *err) MUST_CHECK;

#endif
