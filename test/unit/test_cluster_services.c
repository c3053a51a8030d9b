/* Unit tests: controllers/postgrescluster/services.c, the instances' RBAC, the Services, the primary Endpoints and the
 * PodDisruptionBudgets of a PostgresCluster, against golden files (test/unit/golden/cluster/{rbac,services,pdb}-*).
 *
 * The model is built by hand from one cluster document: hippo in postgres-operator with two instance sets, of which
 * a test uses the first or both. spec.metadata carries a label of its own and a spoofed cluster label, so the goldens
 * show the merge and that the operator's labels win. */
#include "harness/cluster.h"
#include "harness/golden.h"
#include "harness/harness.h"

#include "common/memctx.h"
#include "controllers/postgrescluster/builders.h"

#include <string.h>

static const char *const clusterText =
    "{\"apiVersion\": \"postgres-operator.crunchydata.com/v1beta1\", \"kind\": \"PostgresCluster\","
    " \"metadata\": {\"name\": \"hippo\", \"namespace\": \"postgres-operator\","
    "  \"uid\": \"7d3c1e52-5b8e-4a63-9a57-2f6c0d1e9b41\", \"generation\": 3},"
    " \"spec\": {"
    "  \"metadata\": {\"labels\": {\"team\": \"zoo\", \"postgres-operator.crunchydata.com/cluster\": \"spoofed\"},"
    "   \"annotations\": {\"zoo.example.com/owner\": \"keepers\"}},"
    "  \"postgresVersion\": 17,"
    "  \"instances\": ["
    "   {\"name\": \"instance1\", \"replicas\": 1},"
    "   {\"name\": \"instance2\", \"replicas\": 3,"
    "    \"metadata\": {\"labels\": {\"tier\": \"replicas\", \"team\": \"aquarium\","
    "      \"postgres-operator.crunchydata.com/instance-set\": \"spoofed\"},"
    "     \"annotations\": {\"zoo.example.com/owner\": \"divers\"}}}]}}";

typedef struct Fixture {
    json_t *cluster;
    ClusterInstanceSet sets[2];
    ClusterModel model;
} Fixture;

/* hippo with the first set only, spec.service and spec.replicaService from the texts when not NULL. */
static void fixtureInit(Fixture *fixture, const char *service, const char *replicaService)
{
    fixture->cluster = harnessJson(clusterText);
    json_t *spec = json_object_get(fixture->cluster, "spec");
    if (service != NULL)
        assert_int_equal(json_object_set_new(spec, "service", harnessJson(service)), 0);
    if (replicaService != NULL)
        assert_int_equal(json_object_set_new(spec, "replicaService", harnessJson(replicaService)), 0);
    json_t *instances = json_object_get(spec, "instances");
    fixture->sets[0] = (ClusterInstanceSet){
        .name = "instance1", .replicas = 1, .minAvailable = 0, .spec = json_array_get(instances, 0)};
    fixture->sets[1] = (ClusterInstanceSet){
        .name = "instance2", .replicas = 3, .minAvailable = 1, .spec = json_array_get(instances, 1)};
    fixture->model = (ClusterModel){
        .cluster = fixture->cluster,
        .namespace = "postgres-operator",
        .name = "hippo",
        .uid = "7d3c1e52-5b8e-4a63-9a57-2f6c0d1e9b41",
        .generation = 3,
        .postgresVersion = 17,
        .port = 5432,
        .domain = "cluster.local",
        .sets = fixture->sets,
        .setCount = 1,
    };
}

static void fixtureFree(Fixture *fixture)
{
    json_decref(fixture->cluster);
}

/* --- RBAC --- */

static void testRbac(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    assert_build_golden(clusterBuildInstanceRbac, &fixture.model, "cluster/rbac-hippo");
    fixtureFree(&fixture);
}

/* --- Services --- */

/* No spec.service, no spec.replicaService, no leader address yet: the five Services as PGO makes them, and no
 * Endpoints. */
static void testServicesDefault(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    assert_build_golden(clusterBuildServices, &fixture.model, "cluster/services-hippo");
    fixtureFree(&fixture);
}

/* Once <cluster>-ha has its ClusterIP, the Endpoints of <cluster>-primary follow the Services, which do not change. */
static void testServicesPrimaryEndpoints(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    json_t *before = clusterBuildOk(clusterBuildServices, &fixture.model);
    fixture.model.haClusterIP = "10.96.14.7";
    json_t *after = clusterBuildOk(clusterBuildServices, &fixture.model);
    assert_int_equal(json_array_size(before), 5);
    assert_int_equal(json_array_size(after), 6);
    for (size_t objectIdx = 0; objectIdx < 5; objectIdx++)
        assert_true(json_equal(json_array_get(before, objectIdx), json_array_get(after, objectIdx)));
    assert_golden(json_array_get(after, 5), "cluster/services-primary-endpoints");
    json_decref(before);
    json_decref(after);
    fixtureFree(&fixture);
}

/* spec.service as NodePort with every field the CRD has, on port 5433: only <cluster>-ha changes; its metadata goes
 * over spec.metadata's and under the operator's labels. */
static void testServicesNodePort(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture,
                "{\"type\": \"NodePort\", \"nodePort\": 32000,"
                " \"metadata\": {\"labels\": {\"exposure\": \"public\", \"team\": \"gate\","
                "   \"postgres-operator.crunchydata.com/patroni\": \"spoofed\"},"
                "  \"annotations\": {\"zoo.example.com/owner\": \"gatekeepers\", \"zoo.example.com/audit\": \"yes\"}},"
                " \"externalTrafficPolicy\": \"Local\", \"internalTrafficPolicy\": \"Local\","
                " \"ipFamilyPolicy\": \"PreferDualStack\", \"ipFamilies\": [\"IPv4\", \"IPv6\"]}",
                NULL);
    fixture.model.port = 5433;
    assert_build_golden(clusterBuildServices, &fixture.model, "cluster/services-nodeport");
    fixtureFree(&fixture);
}

/* spec.replicaService as LoadBalancer with a nodePort and an annotation for the cloud's load balancer; spec.service
 * with only metadata keeps type ClusterIP. Without spec.metadata, the Services' own annotations are the only ones. A
 * null field is as good as absent. */
static void testServicesLoadBalancerReplicas(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, "{\"metadata\": {\"annotations\": {\"zoo.example.com/audit\": \"yes\"}}}",
                "{\"type\": \"LoadBalancer\", \"nodePort\": 32001, \"ipFamilyPolicy\": null,"
                " \"metadata\": {\"annotations\": {"
                "  \"service.beta.kubernetes.io/aws-load-balancer-scheme\": \"internal\"}}}");
    json_object_del(json_object_get(fixture.cluster, "spec"), "metadata");
    fixture.model.haClusterIP = "10.96.14.7";
    assert_build_golden(clusterBuildServices, &fixture.model, "cluster/services-loadbalancer-replicas");
    fixtureFree(&fixture);
}

/* A nodePort or an externalTrafficPolicy on a ClusterIP Service (explicit or by default) is refused before anything
 * is built. */
static void testServicesRefused(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, "{\"type\": \"ClusterIP\", \"nodePort\": 32000}", NULL);
    clusterBuildRefused(clusterBuildServices, &fixture.model, errInvalidArgument,
                        "spec.service.nodePort needs type NodePort or LoadBalancer");
    fixtureFree(&fixture);

    fixtureInit(&fixture, "{\"type\": \"NodePort\"}", "{\"externalTrafficPolicy\": \"Local\"}");
    clusterBuildRefused(clusterBuildServices, &fixture.model, errInvalidArgument,
                        "spec.replicaService.externalTrafficPolicy needs type NodePort or LoadBalancer");
    fixtureFree(&fixture);
}

/* --- PodDisruptionBudgets --- */

/* hippo's one set of one replica needs no budget. */
static void testBudgetsNone(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    json_t *objects = clusterBuildOk(clusterBuildDisruptionBudgets, &fixture.model);
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);
    fixtureFree(&fixture);
}

/* Sets of 1 and 3 replicas with PGO's default minAvailable (0 and 1): a budget for the second only, with the set's
 * metadata over spec.metadata's. */
static void testBudgetsTwoSets(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    fixture.model.setCount = 2;
    assert_build_golden(clusterBuildDisruptionBudgets, &fixture.model, "cluster/pdb-two-sets");
    fixtureFree(&fixture);
}

/* minAvailable as a percentage: kept as text; none when it scales to no pod ("0%", or a set of 0 replicas); a count
 * set explicitly is used as it is. */
static void testBudgetsPercent(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    fixture.model.setCount = 2;
    fixture.sets[0].minAvailable = -1;
    fixture.sets[0].minAvailableText = "50%";
    fixture.sets[1].minAvailable = 2;
    assert_build_golden(clusterBuildDisruptionBudgets, &fixture.model, "cluster/pdb-percent");

    fixture.sets[0].minAvailableText = "00%";
    fixture.sets[1].minAvailable = 0;
    json_t *objects = clusterBuildOk(clusterBuildDisruptionBudgets, &fixture.model);
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);

    fixture.sets[0].minAvailableText = "10%";
    fixture.sets[0].replicas = 0;
    objects = clusterBuildOk(clusterBuildDisruptionBudgets, &fixture.model);
    assert_int_equal(json_array_size(objects), 0);
    json_decref(objects);
    fixtureFree(&fixture);
}

static void testBudgetsRefused(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    fixture.sets[0].minAvailable = -1;
    const char *const bad[] = {"half", "%", "50", "50%%", "-5%", " 5%"};
    for (size_t badIdx = 0; badIdx < sizeof(bad) / sizeof(*bad); badIdx++) {
        fixture.sets[0].minAvailableText = bad[badIdx];
        clusterBuildRefused(clusterBuildDisruptionBudgets, &fixture.model, errInvalidArgument,
                            "spec.instances[0].minAvailable \"" /* the text follows */);
    }
    fixtureFree(&fixture);
}

/* --- Allocation failures --- */

static void testSweepRbac(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    ClusterBuildSweep arg = {.build = clusterBuildInstanceRbac, .model = &fixture.model};
    assert_true(harnessAllocSweep(clusterBuildSweep, &arg, false) > 10);
    fixtureFree(&fixture);
}

/* Every path of the Services at once: both exposed Services with metadata, nodePort and passed-on fields, and the
 * Endpoints; then again without spec.metadata, where the Services' annotations make the first ones. */
static void testSweepServices(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture,
                "{\"type\": \"NodePort\", \"nodePort\": 32000,"
                " \"metadata\": {\"labels\": {\"exposure\": \"public\"}, \"annotations\": {\"audit\": \"yes\"}},"
                " \"externalTrafficPolicy\": \"Local\", \"ipFamilies\": [\"IPv4\"]}",
                "{\"type\": \"LoadBalancer\", \"nodePort\": 32001, \"internalTrafficPolicy\": \"Local\","
                " \"metadata\": {\"annotations\": {\"lb\": \"internal\"}}}");
    fixture.model.haClusterIP = "10.96.14.7";
    ClusterBuildSweep arg = {.build = clusterBuildServices, .model = &fixture.model};
    assert_true(harnessAllocSweep(clusterBuildSweep, &arg, false) > 50);
    json_object_del(json_object_get(fixture.cluster, "spec"), "metadata");
    assert_true(harnessAllocSweep(clusterBuildSweep, &arg, false) > 50);
    fixtureFree(&fixture);
}

static void testSweepBudgets(void **state)
{
    (void)state;
    Fixture fixture;
    fixtureInit(&fixture, NULL, NULL);
    fixture.model.setCount = 2;
    fixture.sets[0].minAvailable = -1;
    fixture.sets[0].minAvailableText = "50%";
    ClusterBuildSweep arg = {.build = clusterBuildDisruptionBudgets, .model = &fixture.model};
    assert_true(harnessAllocSweep(clusterBuildSweep, &arg, false) > 10);
    fixtureFree(&fixture);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testRbac),
        cmocka_unit_test(testServicesDefault),
        cmocka_unit_test(testServicesPrimaryEndpoints),
        cmocka_unit_test(testServicesNodePort),
        cmocka_unit_test(testServicesLoadBalancerReplicas),
        cmocka_unit_test(testServicesRefused),
        cmocka_unit_test(testBudgetsNone),
        cmocka_unit_test(testBudgetsTwoSets),
        cmocka_unit_test(testBudgetsPercent),
        cmocka_unit_test(testBudgetsRefused),
        cmocka_unit_test(testSweepRbac),
        cmocka_unit_test(testSweepServices),
        cmocka_unit_test(testSweepBudgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
