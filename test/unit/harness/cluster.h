/* Shared fixtures of the PostgresCluster tests (test_cluster_*.c): a cluster document with the model built from it
 * and the instances a test names, a fake cache that model->lookup reads, and the calls of a builder that every test
 * of one makes the same way (built in a scratch context and expected to succeed, refused, or swept for allocation
 * failures).
 *
 * A test's own cluster documents, golden names and assertions stay in the test; what is here is only what several
 * of them wrote alike. */
#ifndef TEST_HARNESS_CLUSTER_H
#define TEST_HARNESS_CLUSTER_H

#include "api/objects.h"
#include "common/clock.h"

#include <jansson.h>

#define CLUSTER_FIXTURE_INSTANCES_MAX 4

/* A cluster document, the model built from its spec, a cache of objects by "<Kind>/<name>", and a fake clock. */
typedef struct ClusterFixture {
    json_t *cluster;
    MemCtx *ctx; /* the model's */
    json_t *cache;
    FakeClock fake; /* model->clock; at 0 until the test moves it */
    ClusterModel model;
    ClusterInstance instances[CLUSTER_FIXTURE_INSTANCES_MAX];
} ClusterFixture;

/* The model of cluster (taken over) as clusterModelFromSpec builds it with images (NULL: no RELATED_IMAGE_
 * defaults), with the named instances (each "<cluster>-<set>-xxxx", of the set its name says), NULL-terminated. The
 * cache is empty and model->lookup not set (clusterFixtureLookup reads the cache); model->clock is the fake clock.
 * Fails the test on an error. */
void clusterFixtureInit(ClusterFixture *fixture, json_t *cluster, ClusterImageFn *images,
                        const char *const *instanceNames);
void clusterFixtureFree(ClusterFixture *fixture);

/* A ClusterLookupFn (arg: the ClusterFixture) reading the cache; the namespace must be the cluster's. */
const json_t *clusterFixtureLookup(void *arg, const char *kind, const char *namespace, const char *name);

/* Puts object (taken over) in the cache as <kind>/<name>. */
void clusterFixturePut(ClusterFixture *fixture, const char *kind, const char *name, json_t *object);

/* The objects build makes from model in a scratch context; fails the test when it fails. */
json_t *clusterBuildOk(ClusterBuildFn *build, const ClusterModel *model);

/* The objects build makes from model (clusterBuildOk) must be the golden file name (golden.h). */
#define assert_build_golden(build, model, name) clusterAssertBuildGolden((build), (model), (name), __FILE__, __LINE__)
void clusterAssertBuildGolden(ClusterBuildFn *build, const ClusterModel *model, const char *name, const char *file,
                              int line);

/* build must refuse model with code and a message containing part, having added nothing. */
void clusterBuildRefused(ClusterBuildFn *build, const ClusterModel *model, ErrCode code, const char *part);

/* The object of kind named name in objects, or NULL. */
const json_t *clusterObjectOf(const json_t *objects, const char *kind, const char *name);

/* A HarnessOperation for harnessAllocSweep: build (model) in a context of its own, the objects then dropped. */
typedef struct ClusterBuildSweep {
    ClusterBuildFn *build;
    const ClusterModel *model;
} ClusterBuildSweep;
bool clusterBuildSweep(void *arg, Err *err);

#endif
