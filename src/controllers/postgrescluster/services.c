/* What Patroni and the clients of a cluster need around the instances: the instances' identity and its RBAC, the
 * five Services, the primary's Endpoints and the PodDisruptionBudgets. Shapes and names follow PGO (pgo-reference.md
 * §2; test/e2e/patroni/{rbac,services,primary-endpoints,pdb}.yaml are the same objects written by hand).
 *
 * The Services:
 *   <cluster>-ha          the leader Service. No selector: Patroni writes its Endpoints (leader lock, leader's pod IP),
 *                         so its port names must match Patroni's. Type and exposure from spec.service.
 *   <cluster>-ha-config   headless, no selector, no ports: it keeps Patroni's configuration Endpoints alive.
 *   <cluster>-pods        headless over every pod of the cluster, ready or not: the pods' stable DNS names.
 *   <cluster>-primary     headless, no selector; the operator writes its Endpoints with one address, the ClusterIP of
 *                         <cluster>-ha, so the name follows the leader. Those Endpoints wait for that address.
 *   <cluster>-replicas    over the pods Patroni labels role=replica. Type and exposure from spec.replicaService.
 *
 * spec.service and spec.replicaService may add labels and annotations to their Service (over spec.metadata's, under
 * the operator's labels) and set the type, nodePort, traffic policies and IP families; and spec.instances[].metadata
 * does the same for its set's PodDisruptionBudget. Every other field of these objects is the operator's. */
#include "controllers/postgrescluster/builders.h"

#include <string.h>

#define SERVICES_RBAC_API   "rbac.authorization.k8s.io/v1"
#define SERVICES_POLICY_API "policy/v1"
#define SERVICES_PORT_NAME  "postgres" /* also the name of the database container's port (targetPort) */
#define SERVICES_NO_MEMORY  "out of memory building the cluster's objects"

/* Fields of spec.service and spec.replicaService passed on to the Service's spec as they are. */
static const char *const servicesPassedOn[] = {"externalTrafficPolicy", "internalTrafficPolicy", "ipFamilyPolicy",
                                               "ipFamilies"};

/* target[key] = copy of value for every member of source (NULL or not an object: nothing). */
static bool servicesMerge(json_t *target, const json_t *source)
{
    return !json_is_object(source) || json_object_update_new(target, json_deep_copy(source)) == 0;
}

/* object with the members of members added; both are stolen. NULL (both released) when either is NULL or out of
 * memory, so a chain of calls needs one NULL check at its end. */
static json_t *servicesExtend(json_t *object, json_t *members)
{
    if (object != NULL && (members == NULL || json_object_update(object, members) != 0)) {
        json_decref(object);
        object = NULL;
    }
    json_decref(members);
    return object;
}

/* clusterObjectNew with a component's metadata (spec.service.metadata, spec.instances[].metadata; NULL for none)
 * between spec.metadata's and the operator's labels (borrowed). NULL when out of memory. */
static json_t *servicesObjectNew(const ClusterModel *model, const char *apiVersion, const char *kind, const char *name,
                                 const json_t *component, const json_t *labels)
{
    json_t *merged = json_object();
    json_t *object = NULL;
    if (merged != NULL && servicesMerge(merged, json_object_get(component, "labels")) && servicesMerge(merged, labels))
        object = clusterObjectNew(model, apiVersion, kind, name, merged);
    json_decref(merged);
    const json_t *annotations = json_object_get(component, "annotations");
    if (object == NULL || json_object_size(annotations) == 0)
        return object;
    json_t *metadata = json_object_get(object, "metadata");
    json_t *all = json_object_get(metadata, "annotations");
    if (all == NULL) {
        all = json_object();
        if (json_object_set_new(metadata, "annotations", all) != 0)
            all = NULL;
    }
    if (all == NULL || !servicesMerge(all, annotations)) {
        json_decref(object);
        return NULL;
    }
    return object;
}

/* --- RBAC --- */

bool clusterBuildInstanceRbac(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    const char *name = memCtxPrintf(ctx, "%s-instance", model->name);
    json_t *labels = clusterLabels(model, NULL, NULL);
    if (name == NULL || labels == NULL) {
        json_decref(labels);
        return errSet(err, errOutOfMemory, SERVICES_NO_MEMORY);
    }
    /* Patroni's Kubernetes DCS with use_endpoints: the leader lock and configuration in Endpoints (deletecollection
     * for "remove the cluster"), member state in each pod's annotations and role label, and the <scope>-config
     * Service it creates when missing. */
    bool ok =
        clusterAppend(objects,
                      servicesExtend(clusterObjectNew(model, "v1", "ServiceAccount", name, labels),
                                     json_pack("{s:b}", "automountServiceAccountToken", 1)),
                      err) &&
        clusterAppend(objects,
                      servicesExtend(clusterObjectNew(model, SERVICES_RBAC_API, "Role", name, labels),
                                     json_pack("{s:[{s:[s], s:[s], s:[s,s,s,s,s,s]}, {s:[s], s:[s], "
                                               "s:[s,s,s,s]}, {s:[s], s:[s], s:[s]}]}",
                                               "rules", "apiGroups", "", "resources", "endpoints", "verbs", "create",
                                               "deletecollection", "get", "list", "patch", "watch", "apiGroups", "",
                                               "resources", "pods", "verbs", "get", "list", "patch", "watch",
                                               "apiGroups", "", "resources", "services", "verbs", "create")),
                      err) &&
        clusterAppend(objects,
                      servicesExtend(clusterObjectNew(model, SERVICES_RBAC_API, "RoleBinding", name, labels),
                                     json_pack("{s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}", "roleRef", "apiGroup",
                                               "rbac.authorization.k8s.io", "kind", "Role", "name", name, "subjects",
                                               "kind", "ServiceAccount", "name", name)),
                      err);
    json_decref(labels);
    return ok;
}

/* --- Services and Endpoints --- */

/* Refuses what the API server would refuse on a Service of type ClusterIP. The CRD has the same rules; this keeps a
 * cluster stored without them from failing at every apply with a less helpful message. */
static bool servicesCheck(const json_t *spec, const char *field, Err *err)
{
    const json_t *settings = json_object_get(spec, field);
    const char *type = json_string_value(json_object_get(settings, "type"));
    if (type != NULL && strcmp(type, "ClusterIP") != 0)
        return true;
    if (json_is_integer(json_object_get(settings, "nodePort")))
        return errSet(err, errInvalidArgument, "spec.%s.nodePort needs type NodePort or LoadBalancer", field);
    if (json_is_string(json_object_get(settings, "externalTrafficPolicy")))
        return errSet(err, errInvalidArgument, "spec.%s.externalTrafficPolicy needs type NodePort or LoadBalancer",
                      field);
    return true;
}

/* The one port of the Services in front of PostgreSQL; nodePort when above 0. */
static json_t *servicesPort(const ClusterModel *model, json_int_t nodePort)
{
    json_t *port = json_pack("{s:s, s:I, s:s, s:s}", "name", SERVICES_PORT_NAME, "port", (json_int_t)model->port,
                             "protocol", "TCP", "targetPort", SERVICES_PORT_NAME);
    if (port != NULL && nodePort > 0 && json_object_set_new(port, "nodePort", json_integer(nodePort)) != 0) {
        json_decref(port);
        return NULL;
    }
    return port;
}

/* The spec of a Service exposed as spec.<field> says (checked by servicesCheck), selecting pods by selector when not
 * NULL (borrowed). NULL when out of memory. */
static json_t *servicesExposedSpec(const ClusterModel *model, const json_t *settings, const json_t *selector)
{
    const char *type = json_string_value(json_object_get(settings, "type"));
    json_t *spec = json_pack("{s:s, s:[o]}", "type", type != NULL ? type : "ClusterIP", "ports",
                             servicesPort(model, json_integer_value(json_object_get(settings, "nodePort"))));
    if (spec != NULL && selector != NULL)
        spec = servicesExtend(spec, json_pack("{s:O}", "selector", selector));
    for (size_t fieldIdx = 0; spec != NULL && fieldIdx < sizeof(servicesPassedOn) / sizeof(*servicesPassedOn);
         fieldIdx++) {
        const json_t *value = json_object_get(settings, servicesPassedOn[fieldIdx]);
        if (value != NULL && !json_is_null(value) &&
            json_object_set_new(spec, servicesPassedOn[fieldIdx], json_deep_copy(value)) != 0) {
            json_decref(spec);
            spec = NULL;
        }
    }
    return spec;
}

/* Service <cluster>-<suffix> exposed as spec.<field> says, labelled with the cluster and key=value; selecting the
 * pods with those labels when select. */
static bool servicesExposed(MemCtx *ctx, const ClusterModel *model, const char *field, const char *suffix,
                            const char *key, const char *value, bool select, json_t *objects, Err *err)
{
    const json_t *settings = json_object_get(json_object_get(model->cluster, "spec"), field);
    const char *name = memCtxPrintf(ctx, "%s-%s", model->name, suffix);
    json_t *labels = clusterLabels(model, NULL, NULL);
    if (name == NULL || labels == NULL || json_object_set_new(labels, key, json_string(value)) != 0) {
        json_decref(labels);
        return errSet(err, errOutOfMemory, SERVICES_NO_MEMORY);
    }
    json_t *spec = servicesExposedSpec(model, settings, select ? labels : NULL);
    json_t *service = servicesObjectNew(model, "v1", "Service", name, json_object_get(settings, "metadata"), labels);
    json_decref(labels);
    return clusterAppend(objects, servicesExtend(service, json_pack("{s:o}", "spec", spec)), err);
}

/* A headless Service <cluster>-<suffix> with the cluster's labels plus key=value (when key is not NULL) and spec
 * (stolen) under clusterIP None. */
static bool servicesHeadless(MemCtx *ctx, const ClusterModel *model, const char *suffix, const char *key,
                             const char *value, json_t *spec, json_t *objects, Err *err)
{
    const char *name = memCtxPrintf(ctx, "%s-%s", model->name, suffix);
    json_t *labels = clusterLabels(model, NULL, NULL);
    if (name == NULL || labels == NULL || spec == NULL ||
        (key != NULL && json_object_set_new(labels, key, json_string(value)) != 0) ||
        json_object_set_new(spec, "clusterIP", json_string("None")) != 0) {
        json_decref(labels);
        json_decref(spec);
        return errSet(err, errOutOfMemory, SERVICES_NO_MEMORY);
    }
    json_t *service = clusterObjectNew(model, "v1", "Service", name, labels);
    json_decref(labels);
    return clusterAppend(objects, servicesExtend(service, json_pack("{s:o}", "spec", spec)), err);
}

/* Endpoints <cluster>-primary: the ClusterIP of <cluster>-ha, so the headless <cluster>-primary resolves to it. */
static bool servicesPrimaryEndpoints(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    const char *name = memCtxPrintf(ctx, "%s-primary", model->name);
    json_t *labels = clusterLabels(model, NULL, NULL);
    if (name == NULL || labels == NULL ||
        json_object_set_new(labels, CLUSTER_LABEL_ROLE, json_string("primary")) != 0) {
        json_decref(labels);
        return errSet(err, errOutOfMemory, SERVICES_NO_MEMORY);
    }
    json_t *endpoints = clusterObjectNew(model, "v1", "Endpoints", name, labels);
    json_decref(labels);
    return clusterAppend(
        objects,
        servicesExtend(endpoints, json_pack("{s:[{s:[{s:s}], s:[{s:s, s:I, s:s}]}]}", "subsets", "addresses", "ip",
                                            model->haClusterIP, "ports", "name", SERVICES_PORT_NAME, "port",
                                            (json_int_t)model->port, "protocol", "TCP")),
        err);
}

bool clusterBuildServices(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    const json_t *spec = json_object_get(model->cluster, "spec");
    if (!servicesCheck(spec, "service", err) || !servicesCheck(spec, "replicaService", err))
        return false;
    const char *scope = memCtxPrintf(ctx, "%s-ha", model->name); /* Patroni's scope, the leader Service's name */
    if (scope == NULL)
        return errSet(err, errOutOfMemory, SERVICES_NO_MEMORY);
    return servicesExposed(ctx, model, "service", "ha", CLUSTER_LABEL_PATRONI, scope, false, objects, err) &&
           servicesHeadless(ctx, model, "ha-config", CLUSTER_LABEL_PATRONI, scope, json_object(), objects, err) &&
           servicesHeadless(ctx, model, "pods", NULL, NULL,
                            json_pack("{s:b, s:{s:s}}", "publishNotReadyAddresses", 1, "selector",
                                      CLUSTER_LABEL_CLUSTER, model->name),
                            objects, err) &&
           servicesHeadless(ctx, model, "primary", CLUSTER_LABEL_ROLE, "primary",
                            json_pack("{s:[o]}", "ports", servicesPort(model, 0)), objects, err) &&
           servicesExposed(ctx, model, "replicaService", "replicas", CLUSTER_LABEL_ROLE, NAMING_ROLE_REPLICA, true,
                           objects, err) &&
           (model->haClusterIP == NULL || servicesPrimaryEndpoints(ctx, model, objects, err));
}

/* --- PodDisruptionBudgets --- */

/* Whether set needs a budget, and its minAvailable. As PGO, a budget that keeps no pod is not made: a count of 0, or
 * a percentage that scales (rounding up) to no pod. */
static bool budgetMinAvailable(const ClusterInstanceSet *set, size_t setIdx, json_t **minAvailable, Err *err)
{
    *minAvailable = NULL;
    bool keepsPods;
    if (set->minAvailable >= 0) {
        keepsPods = set->minAvailable > 0;
        if (keepsPods)
            *minAvailable = json_integer((json_int_t)set->minAvailable);
    } else {
        const char *text = set->minAvailableText;
        size_t digits = strspn(text, "0123456789");
        if (digits == 0 || strcmp(text + digits, "%") != 0)
            return errSet(err, errInvalidArgument,
                          "spec.instances[%zu].minAvailable \"%s\" is neither a number of pods nor a percentage",
                          setIdx, text);
        keepsPods = strspn(text, "0") < digits && set->replicas > 0;
        if (keepsPods)
            *minAvailable = json_string(text);
    }
    if (keepsPods && *minAvailable == NULL)
        return errSet(err, errOutOfMemory, SERVICES_NO_MEMORY);
    return true;
}

bool clusterBuildDisruptionBudgets(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err)
{
    for (size_t setIdx = 0; setIdx < model->setCount; setIdx++) {
        const ClusterInstanceSet *set = &model->sets[setIdx];
        json_t *minAvailable;
        if (!budgetMinAvailable(set, setIdx, &minAvailable, err))
            return false;
        if (minAvailable == NULL)
            continue;
        const char *name = memCtxPrintf(ctx, "%s-set-%s", model->name, set->name);
        json_t *labels = clusterLabels(model, set->name, NULL);
        if (name == NULL || labels == NULL) {
            json_decref(labels);
            json_decref(minAvailable);
            return errSet(err, errOutOfMemory, SERVICES_NO_MEMORY);
        }
        json_t *budget = servicesObjectNew(model, SERVICES_POLICY_API, "PodDisruptionBudget", name,
                                           json_object_get(set->spec, "metadata"), labels);
        budget = servicesExtend(budget, json_pack("{s:{s:o, s:{s:O}}}", "spec", "minAvailable", minAvailable,
                                                  "selector", "matchLabels", labels));
        json_decref(labels);
        if (!clusterAppend(objects, budget, err))
            return false;
    }
    return true;
}
