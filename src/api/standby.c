/* spec.standby (see standby.h). One reader, so that the Patroni and pgBackRest builders and the reconciler agree on
 * what makes a cluster a standby: the CRD defaults enabled to true, so {"repoName": "repo1"} alone is a standby, and
 * only enabled false (the promotion) ends it. A repoName the CRD would refuse (not repo1 .. repo4) is no repository,
 * so a standby with nothing else is invalid rather than pointed at a repository that cannot exist. */
#include "api/standby.h"

#include <string.h>

static int standbyRepoNumber(const char *name)
{
    if (name == NULL || strncmp(name, "repo", 4) != 0 || name[4] < '1' || name[4] > '4' || name[5] != '\0')
        return 0;
    return name[4] - '0';
}

ClusterStandby clusterStandbyOf(const json_t *cluster)
{
    const json_t *standby = json_object_get(json_object_get(cluster, "spec"), "standby");
    ClusterStandby out = {.enabled = json_is_object(standby) && !json_is_false(json_object_get(standby, "enabled"))};
    if (!out.enabled)
        return out;
    const char *repoName = json_string_value(json_object_get(standby, "repoName"));
    out.repo = standbyRepoNumber(repoName);
    out.repoName = out.repo > 0 ? repoName : NULL;
    const char *host = json_string_value(json_object_get(standby, "host"));
    out.host = host != NULL && host[0] != '\0' ? host : NULL;
    const json_t *port = json_object_get(standby, "port");
    out.port = json_is_integer(port) ? (int64_t)json_integer_value(port) : 0;
    return out;
}

bool clusterStandbyValid(const ClusterStandby *standby)
{
    return standby->enabled && (standby->repoName != NULL || standby->host != NULL);
}

void clusterPodPatroniRole(const json_t *pod, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    const char *status =
        json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"), "status"));
    json_t *record = status != NULL ? json_loads(status, 0, NULL) : NULL;
    const char *role = json_string_value(json_object_get(record, "role"));
    if (role != NULL && strlen(role) < size)
        memcpy(out, role, strlen(role) + 1);
    json_decref(record);
}
