/* Kubernetes label selectors in their string form, as used in list and watch queries:
 *
 *     postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/role!=replica
 *     environment in (production, qa),tier notin (frontend),partition,!canary
 *
 * Operators: =, ==, !=, in, notin, existence (key) and non-existence (!key). Keys and values are validated as
 * Kubernetes validates label keys and values, so a selector accepted here is accepted by the API server. A selector
 * with no requirements (the empty string) matches everything. */
#ifndef KUBE_SELECTOR_H
#define KUBE_SELECTOR_H

#include "common/error.h"
#include "common/memctx.h"

#include <jansson.h>
#include <stddef.h>

#define KUBE_SELECTOR_MAX_LENGTH 8192

typedef enum KubeSelectorOp {
    kubeSelectorEquals,
    kubeSelectorNotEquals,
    kubeSelectorIn,
    kubeSelectorNotIn,
    kubeSelectorExists,
    kubeSelectorDoesNotExist,
} KubeSelectorOp;

typedef struct KubeRequirement {
    const char *key;
    KubeSelectorOp op;
    const char **values; /* one for = and !=, one or more for in and notin, none otherwise */
    size_t valueCount;
} KubeRequirement;

typedef struct KubeSelector {
    KubeRequirement *requirements;
    size_t count;
} KubeSelector;

/* Parses text (at most KUBE_SELECTOR_MAX_LENGTH bytes) into a selector allocated in ctx. errSelector with the
 * offending position on malformed input. */
bool kubeSelectorParse(MemCtx *ctx, const char *text, KubeSelector **out, Err *err) MUST_CHECK;

/* Whether labels (a JSON object of string values, or NULL for none) satisfy every requirement. */
bool kubeSelectorMatches(const KubeSelector *selector, const json_t *labels);

/* Label syntax, as the API server checks it: a key is an optional DNS subdomain prefix (at most 253 characters) and
 * '/', then a name of at most 63 characters; a value is empty or a name. */
bool kubeLabelKeyValid(const char *key, size_t len);
bool kubeLabelValueValid(const char *value, size_t len);

#endif
