/* When to write: the comparison of a builder's intent with the cached object, and the API resource of each kind the
 * reconciler owns.
 *
 * An intent needs applying when the cached object lacks any of it. "Lacks" is a subset test, recursive: every
 * member of an intent object must be in the cached object with a value the intent's value is a subset of; arrays
 * must have the same length with each element a subset of its counterpart (the API server adds defaulted members to
 * array elements, such as a container's terminationMessagePath, but never elements); scalars must be equal, except
 * two strings that both parse as Kubernetes quantities, which are compared by value ("1024Mi" equals the "1Gi" the
 * API server stores). The top-level apiVersion and kind are not compared: list responses omit them. */
#ifndef CLUSTER_APPLY_H
#define CLUSTER_APPLY_H

#include "kube/request.h"

#include <jansson.h>
#include <stdbool.h>

/* Whether desired must be applied over cached (NULL: not cached, so yes). */
bool clusterApplyNeeded(const json_t *desired, const json_t *cached);

/* The API resource of apiVersion/kind among those the reconciler owns, or NULL. */
const KubeResource *clusterResourceOf(const char *apiVersion, const char *kind);

#endif
