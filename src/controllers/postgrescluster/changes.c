/* Which updates of watched objects are worth a reconcile: see changes.h. */
#include "controllers/postgrescluster/changes.h"
#include "controllers/postgrescluster/rollout.h"

#include "api/standby.h"

#include <stdint.h>
#include <string.h>

/* Metadata every write changes. */
static const char *const changesMetaNoise[] = {"resourceVersion", "managedFields", "annotations"};

/* Patroni's lease renewal on the leader Endpoints. */
static const char *const changesEndpointsNoise[] = {"renewTime", "optime", "slots", "retain_slots"};

/* Patroni's member record on each Pod. */
static const char *const changesPodNoise[] = {"status"};

static bool changesIgnored(const char *key, const char *const *ignored, size_t ignoredCount)
{
    for (size_t ignoredIdx = 0; ignoredIdx < ignoredCount; ignoredIdx++)
        if (strcmp(key, ignored[ignoredIdx]) == 0)
            return true;
    return false;
}

/* Whether two objects (either may be NULL, meaning empty) differ in a member that is not ignored. */
static bool changesDiffer(const json_t *left, const json_t *right, const char *const *ignored, size_t ignoredCount)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)(uintptr_t)left, key,
                        value) if (!changesIgnored(key, ignored, ignoredCount) &&
                                   !json_equal(value, json_object_get(right, key))) return true;
    json_object_foreach((json_t *)(uintptr_t)right, key, value) if (!changesIgnored(key, ignored, ignoredCount) &&
                                                                    json_object_get(left, key) == NULL) return true;
    return false;
}

static bool changesMatter(const json_t *oldObject, const json_t *newObject, const char *const *noise, size_t noiseCount)
{
    static const char *const topNoise[] = {"metadata"};
    const json_t *oldMeta = json_object_get(oldObject, "metadata");
    const json_t *newMeta = json_object_get(newObject, "metadata");
    return changesDiffer(oldObject, newObject, topNoise, 1) ||
           changesDiffer(oldMeta, newMeta, changesMetaNoise, sizeof(changesMetaNoise) / sizeof(changesMetaNoise[0])) ||
           changesDiffer(json_object_get(oldMeta, "annotations"), json_object_get(newMeta, "annotations"), noise,
                         noiseCount);
}

bool clusterEndpointsUpdateMatters(const json_t *oldObject, const json_t *newObject)
{
    return changesMatter(oldObject, newObject, changesEndpointsNoise,
                         sizeof(changesEndpointsNoise) / sizeof(changesEndpointsNoise[0]));
}

/* Patroni's member record is noise but for the role it names: a standby leader promoted (as PGO watches for) lets
 * the stanza and backups start. */
bool clusterPodUpdateMatters(const json_t *oldObject, const json_t *newObject)
{
    char oldRole[32], newRole[32];
    clusterPodPatroniRole(oldObject, oldRole, sizeof(oldRole));
    clusterPodPatroniRole(newObject, newRole, sizeof(newRole));
    return strcmp(oldRole, newRole) != 0 ||
           changesMatter(oldObject, newObject, changesPodNoise, sizeof(changesPodNoise) / sizeof(changesPodNoise[0])) ||
           clusterRolloutPendingRestart(oldObject) != clusterRolloutPendingRestart(newObject);
}
