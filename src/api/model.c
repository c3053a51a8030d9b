/* The ClusterModel from a PostgresCluster (see model.h): PGO's in-memory defaults (cluster.Default()) applied to the
 * fields the builders read. The CRD schema already defaults most of them; this repeats the defaults so a cluster
 * stored before a schema default existed builds the same way. */
#include "api/model.h"

#include "common/json.h"

#include <stdio.h>
#include <string.h>

#define MODEL_DEFAULT_PORT         5432
#define MODEL_DEFAULT_PATRONI_PORT 8008
#define MODEL_DEFAULT_TTL          30 /* PGO: leaderLeaseDurationSeconds */
#define MODEL_DEFAULT_LOOP_WAIT    10 /* PGO: syncPeriodSeconds */
#define MODEL_DOMAIN               "cluster.local"

/* A copy of text in ctx, or NULL. */
static char *modelCopy(MemCtx *ctx, const char *text)
{
    size_t len = strlen(text) + 1;
    char *copy = memCtxAlloc(ctx, len);
    if (copy != NULL)
        memcpy(copy, text, len);
    return copy;
}

static bool modelSets(MemCtx *ctx, const json_t *spec, ClusterModel *model, Err *err)
{
    json_t *instances;
    if (!jsonGetArray(spec, "instances", &instances, err))
        return errPrefix(err, "spec.instances");
    size_t count = json_array_size(instances);
    if (count == 0)
        return errSet(err, errInvalidArgument, "spec.instances must name at least one instance set");
    model->sets = memCtxAlloc(ctx, count * sizeof(*model->sets));
    if (model->sets == NULL)
        return errSet(err, errOutOfMemory, "out of memory reading spec.instances");
    for (size_t setIdx = 0; setIdx < count; setIdx++) {
        const json_t *entry = json_array_get(instances, setIdx);
        ClusterInstanceSet *set = &model->sets[setIdx];
        const char *name;
        int64_t replicas;
        if (!json_is_object(entry) || !jsonFindStr(entry, "name", NULL, &name, err) ||
            !jsonFindInt64(entry, "replicas", 1, &replicas, err))
            return errPrefix(err, "spec.instances[%zu]", setIdx);
        if (name == NULL || name[0] == '\0') { /* missing or empty: named by position, as PGO */
            char position[24];
            snprintf(position, sizeof(position), "%02zu", setIdx);
            name = modelCopy(ctx, position);
            if (name == NULL)
                return errSet(err, errOutOfMemory, "out of memory reading spec.instances");
        }
        for (size_t otherIdx = 0; otherIdx < setIdx; otherIdx++)
            if (strcmp(model->sets[otherIdx].name, name) == 0)
                return errSet(err, errInvalidArgument, "spec.instances names set \"%s\" twice", name);
        if (replicas < 0)
            return errSet(err, errInvalidArgument, "spec.instances[%zu].replicas must not be negative", setIdx);
        const json_t *minAvailable = json_object_get(entry, "minAvailable");
        *set = (ClusterInstanceSet){.name = name, .replicas = replicas, .spec = entry};
        if (json_is_integer(minAvailable)) {
            set->minAvailable = (int64_t)json_integer_value(minAvailable);
        } else if (json_is_string(minAvailable)) {
            set->minAvailable = -1;
            set->minAvailableText = json_string_value(minAvailable);
        } else {
            set->minAvailable = replicas > 1 ? 1 : 0;
        }
    }
    model->setCount = count;
    return true;
}

bool clusterModelFromSpec(MemCtx *ctx, const json_t *cluster, ClusterImageFn *images, void *imagesArg,
                          ClusterModel *model, Err *err)
{
    *model = (ClusterModel){.cluster = cluster, .domain = MODEL_DOMAIN};
    json_t *spec;
    const char *uid;
    if (!jsonGetStr(cluster, "metadata.namespace", &model->namespace, err) ||
        !jsonGetStr(cluster, "metadata.name", &model->name, err) ||
        !jsonFindStr(cluster, "metadata.uid", "", &uid, err) ||
        !jsonFindInt64(cluster, "metadata.generation", 0, &model->generation, err) ||
        !jsonGetObject(cluster, "spec", &spec, err) ||
        !jsonGetInt64(cluster, "spec.postgresVersion", &model->postgresVersion, err) ||
        !jsonFindStr(cluster, "spec.image", NULL, &model->image, err) ||
        !jsonFindInt64(cluster, "spec.port", MODEL_DEFAULT_PORT, &model->port, err) ||
        !jsonFindInt64(cluster, "spec.patroni.leaderLeaseDurationSeconds", MODEL_DEFAULT_TTL, &model->patroniTtl,
                       err) ||
        !jsonFindInt64(cluster, "spec.patroni.syncPeriodSeconds", MODEL_DEFAULT_LOOP_WAIT, &model->patroniLoopWait,
                       err) ||
        !jsonFindInt64(cluster, "spec.patroni.port", MODEL_DEFAULT_PATRONI_PORT, &model->patroniPort, err))
        return errPrefix(err, "cannot read the PostgresCluster");
    model->uid = uid;
    model->backups = json_is_object(json_object_get(json_object_get(spec, "backups"), "pgbackrest"));
    model->power.shutdown = json_is_true(json_object_get(spec, "shutdown"));
    if (model->patroniLoopWait < 1 || model->patroniTtl < 2 * model->patroniLoopWait)
        return errSet(err, errInvalidArgument,
                      "spec.patroni.leaderLeaseDurationSeconds (%lld) must be at least twice syncPeriodSeconds (%lld)",
                      (long long)model->patroniTtl, (long long)model->patroniLoopWait);
    if (model->image == NULL && images != NULL) {
        char name[32];
        snprintf(name, sizeof(name), "POSTGRES_%lld", (long long)model->postgresVersion);
        model->image = images(imagesArg, name);
    }
    if (images != NULL)
        model->pgbouncerImage = images(imagesArg, "PGBOUNCER");
    return modelSets(ctx, spec, model, err);
}

const ClusterInstanceSet *clusterModelSetOf(const ClusterModel *model, const char *instanceName)
{
    size_t clusterLen = strlen(model->name);
    if (strncmp(instanceName, model->name, clusterLen) != 0 || instanceName[clusterLen] != '-')
        return NULL;
    const char *rest = instanceName + clusterLen + 1;
    const char *suffix = strrchr(rest, '-');
    if (suffix == NULL)
        return NULL;
    size_t setLen = (size_t)(suffix - rest);
    for (size_t setIdx = 0; setIdx < model->setCount; setIdx++)
        if (strlen(model->sets[setIdx].name) == setLen && strncmp(model->sets[setIdx].name, rest, setLen) == 0)
            return &model->sets[setIdx];
    return NULL;
}

bool clusterModelHasInstance(const ClusterModel *model, const char *name)
{
    for (size_t instIdx = 0; name != NULL && instIdx < model->instanceCount; instIdx++)
        if (strcmp(model->instances[instIdx].name, name) == 0)
            return true;
    return false;
}
