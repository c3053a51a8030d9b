/* Shared fixtures of the PostgresCluster tests. See cluster.h. */
#include "cluster.h"

#include "golden.h"
#include "harness.h"

#include <stdio.h>
#include <string.h>

void clusterFixtureInit(ClusterFixture *fixture, json_t *cluster, ClusterImageFn *images,
                        const char *const *instanceNames)
{
    *fixture = (ClusterFixture){.cluster = cluster, .ctx = memCtxNew(NULL, "fixture"), .cache = json_object()};
    assert_non_null(fixture->ctx);
    assert_non_null(fixture->cache);
    Err err;
    errClear(&err);
    if (!clusterModelFromSpec(fixture->ctx, fixture->cluster, images, NULL, &fixture->model, &err))
        fail_msg("model: %s", err.message);
    size_t count = 0;
    for (; instanceNames[count] != NULL; count++) {
        assert_true(count < CLUSTER_FIXTURE_INSTANCES_MAX);
        const ClusterInstanceSet *set = clusterModelSetOf(&fixture->model, instanceNames[count]);
        assert_non_null(set);
        fixture->instances[count] =
            (ClusterInstance){.name = instanceNames[count], .set = (size_t)(set - fixture->model.sets)};
    }
    fixture->model.instances = fixture->instances;
    fixture->model.instanceCount = count;
    fixture->model.clock = clockFake(&fixture->fake);
}

void clusterFixtureFree(ClusterFixture *fixture)
{
    memCtxFree(fixture->ctx);
    json_decref(fixture->cluster);
    json_decref(fixture->cache);
}

const json_t *clusterFixtureLookup(void *arg, const char *kind, const char *namespace, const char *name)
{
    const ClusterFixture *fixture = arg;
    assert_string_equal(namespace, fixture->model.namespace);
    char key[400];
    snprintf(key, sizeof(key), "%s/%s", kind, name);
    return json_object_get(fixture->cache, key);
}

void clusterFixturePut(ClusterFixture *fixture, const char *kind, const char *name, json_t *object)
{
    char key[400];
    snprintf(key, sizeof(key), "%s/%s", kind, name);
    assert_int_equal(json_object_set_new(fixture->cache, key, object), 0);
}

/* Runs build on model in a new scratch context, into *objects (new); the caller frees both. */
static bool clusterBuildScratch(ClusterBuildFn *build, const ClusterModel *model, MemCtx **ctx, json_t **objects,
                                Err *err)
{
    *ctx = memCtxNew(NULL, "test");
    *objects = json_array();
    assert_non_null(*ctx);
    assert_non_null(*objects);
    errClear(err);
    return build(*ctx, model, *objects, err);
}

json_t *clusterBuildOk(ClusterBuildFn *build, const ClusterModel *model)
{
    MemCtx *ctx;
    json_t *objects;
    Err err;
    bool ok = clusterBuildScratch(build, model, &ctx, &objects, &err);
    memCtxFree(ctx);
    if (!ok)
        fail_msg("build failed: %s: %s", errCodeName(err.code), err.message);
    return objects;
}

void clusterAssertBuildGolden(ClusterBuildFn *build, const ClusterModel *model, const char *name, const char *file,
                              int line)
{
    json_t *objects = clusterBuildOk(build, model);
    harnessAssertGolden(objects, name, file, line);
    json_decref(objects);
}

void clusterBuildRefused(ClusterBuildFn *build, const ClusterModel *model, ErrCode code, const char *part)
{
    MemCtx *ctx;
    json_t *objects;
    Err err;
    assert_false(clusterBuildScratch(build, model, &ctx, &objects, &err));
    assert_err(&err, code);
    assert_contains(err.message, part);
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);
    memCtxFree(ctx);
}

const json_t *clusterObjectOf(const json_t *objects, const char *kind, const char *name)
{
    size_t objectIdx;
    const json_t *object;
    json_array_foreach(objects, objectIdx, object)
    {
        if (strcmp(json_string_value(json_object_get(object, "kind")), kind) == 0 &&
            strcmp(json_string_value(json_object_get(json_object_get(object, "metadata"), "name")), name) == 0)
            return object;
    }
    return NULL;
}

bool clusterBuildSweep(void *arg, Err *err)
{
    const ClusterBuildSweep *sweep = arg;
    MemCtx *ctx = memCtxNew(NULL, "sweep");
    json_t *objects = json_array();
    bool ok = (ctx != NULL && objects != NULL) || errSet(err, errOutOfMemory, "sweep set-up");
    ok = ok && sweep->build(ctx, sweep->model, objects, err);
    json_decref(objects);
    memCtxFree(ctx);
    return ok;
}
