/* The primary instance (see primary.h). */
#include "api/primary.h"

#include <string.h>

#define PRIMARY_POD_SUFFIX "-0" /* every instance is a StatefulSet of one Pod */

const char *clusterPrimaryFind(const json_t *leaderEndpoints, const ClusterExistingInstance *existing, size_t count)
{
    const char *leader = json_string_value(
        json_object_get(json_object_get(json_object_get(leaderEndpoints, "metadata"), "annotations"), "leader"));
    size_t suffixLen = strlen(PRIMARY_POD_SUFFIX);
    size_t len = leader != NULL ? strlen(leader) : 0;
    if (len <= suffixLen || strcmp(leader + len - suffixLen, PRIMARY_POD_SUFFIX) != 0)
        return NULL;
    for (size_t existIdx = 0; existIdx < count; existIdx++) {
        const char *name = existing[existIdx].name;
        if (strlen(name) == len - suffixLen && strncmp(name, leader, len - suffixLen) == 0)
            return name;
    }
    return NULL;
}

void clusterPrimaryKeep(const ClusterInstanceSet *sets, size_t setCount, const ClusterExistingInstance *existing,
                        size_t count, const char *primary, bool *keep)
{
    for (size_t existIdx = 0; existIdx < count; existIdx++)
        keep[existIdx] = false;
    for (size_t setIdx = 0; setIdx < setCount; setIdx++) {
        int64_t kept = 0;
        for (int pass = 0; pass < 2; pass++) /* the primary, then the others */
            for (size_t existIdx = 0; existIdx < count; existIdx++) {
                bool isPrimary = primary != NULL && strcmp(existing[existIdx].name, primary) == 0;
                if (strcmp(existing[existIdx].set, sets[setIdx].name) != 0 || isPrimary != (pass == 0) ||
                    (primary != NULL && kept >= sets[setIdx].replicas))
                    continue;
                keep[existIdx] = true;
                kept++;
            }
    }
}
