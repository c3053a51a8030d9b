/* The subset comparison and the resource table (see apply.h). */
#include "kube/apply.h"

#include "kube/quantity.h"

#include <string.h>

typedef struct ApplyKind {
    const char *apiVersion;
    const char *kind;
    KubeResource resource;
} ApplyKind;

static const ApplyKind applyKinds[] = {
    {"v1", "ConfigMap", {"", "v1", "configmaps", true}},
    {"v1", "Endpoints", {"", "v1", "endpoints", true}},
    {"v1", "PersistentVolumeClaim", {"", "v1", "persistentvolumeclaims", true}},
    {"v1", "Pod", {"", "v1", "pods", true}},
    {"v1", "Secret", {"", "v1", "secrets", true}},
    {"v1", "Service", {"", "v1", "services", true}},
    {"v1", "ServiceAccount", {"", "v1", "serviceaccounts", true}},
    {"apps/v1", "Deployment", {"apps", "v1", "deployments", true}},
    {"apps/v1", "StatefulSet", {"apps", "v1", "statefulsets", true}},
    {"batch/v1", "Job", {"batch", "v1", "jobs", true}},
    {"batch/v1", "CronJob", {"batch", "v1", "cronjobs", true}},
    {"policy/v1", "PodDisruptionBudget", {"policy", "v1", "poddisruptionbudgets", true}},
    {"rbac.authorization.k8s.io/v1", "Role", {"rbac.authorization.k8s.io", "v1", "roles", true}},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", {"rbac.authorization.k8s.io", "v1", "rolebindings", true}},
};

const KubeResource *clusterResourceOf(const char *apiVersion, const char *kind)
{
    for (size_t kindIdx = 0; kindIdx < sizeof(applyKinds) / sizeof(applyKinds[0]); kindIdx++)
        if (strcmp(applyKinds[kindIdx].apiVersion, apiVersion) == 0 && strcmp(applyKinds[kindIdx].kind, kind) == 0)
            return &applyKinds[kindIdx].resource;
    return NULL;
}

/* Two strings equal as text or as quantities. */
static bool applySameString(const char *want, const char *have)
{
    if (strcmp(want, have) == 0)
        return true;
    KubeQuantity wantQuantity, haveQuantity;
    Err ignored;
    return kubeQuantityParse(want, &wantQuantity, &ignored) && kubeQuantityParse(have, &haveQuantity, &ignored) &&
           kubeQuantityCompare(wantQuantity, haveQuantity) == 0;
}

static bool applySubset(const json_t *want, const json_t *have, bool topLevel)
{
    if (have == NULL)
        return false;
    if (json_is_object(want)) {
        if (!json_is_object(have))
            return false;
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)(uintptr_t)want, key, value)
        {
            if (topLevel && (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0))
                continue;
            if (!applySubset(value, json_object_get(have, key), false))
                return false;
        }
        return true;
    }
    if (json_is_array(want)) {
        if (!json_is_array(have) || json_array_size(want) != json_array_size(have))
            return false;
        for (size_t itemIdx = 0; itemIdx < json_array_size(want); itemIdx++)
            if (!applySubset(json_array_get(want, itemIdx), json_array_get(have, itemIdx), false))
                return false;
        return true;
    }
    if (json_is_string(want) && json_is_string(have))
        return applySameString(json_string_value(want), json_string_value(have));
    return json_equal(want, have);
}

bool clusterApplyNeeded(const json_t *desired, const json_t *cached)
{
    return cached == NULL || !applySubset(desired, cached, true);
}
