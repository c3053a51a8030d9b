/* Shared pieces of the builders (see objects.h): object metadata with the cluster's labels, annotations and owner
 * reference, and the restricted security context.
 *
 * Label precedence, as PGO: spec.metadata first, then the builder's labels over them, so a user can add labels
 * everywhere but cannot override the ones the operator selects on. */
#include "api/objects.h"

#include "common/base64.h"
#include "pgsql/scram.h"

#include <string.h>

/* target[key] = value for every member of source (NULL or not an object: nothing). */
static bool metaMerge(json_t *target, const json_t *source)
{
    return !json_is_object(source) || json_object_update(target, (json_t *)(uintptr_t)source) == 0;
}

json_t *clusterObjectNew(const ClusterModel *model, const char *apiVersion, const char *kind, const char *name,
                         const json_t *labels)
{
    const json_t *userMeta = json_object_get(json_object_get(model->cluster, "spec"), "metadata");
    json_t *allLabels = json_object();
    json_t *annotations = json_object();
    json_t *owner = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", CLUSTER_API_VERSION, "kind", CLUSTER_KIND,
                              "name", model->name, "uid", model->uid, "controller", 1, "blockOwnerDeletion", 1);
    bool ok = allLabels != NULL && annotations != NULL && owner != NULL &&
              metaMerge(allLabels, json_object_get(userMeta, "labels")) && metaMerge(allLabels, labels) &&
              metaMerge(annotations, json_object_get(userMeta, "annotations"));
    json_t *metadata = ok ? json_pack("{s:s, s:s, s:O, s:[O]}", "name", name, "namespace", model->namespace, "labels",
                                      allLabels, "ownerReferences", owner)
                          : NULL;
    if (metadata != NULL && json_object_size(annotations) > 0 &&
        json_object_set(metadata, "annotations", annotations) != 0) {
        json_decref(metadata);
        metadata = NULL;
    }
    json_t *object = metadata != NULL
                         ? json_pack("{s:s, s:s, s:O}", "apiVersion", apiVersion, "kind", kind, "metadata", metadata)
                         : NULL;
    json_decref(metadata);
    json_decref(allLabels);
    json_decref(annotations);
    json_decref(owner);
    return object;
}

json_t *clusterLabels(const ClusterModel *model, const char *set, const char *instance)
{
    json_t *labels = json_pack("{s:s}", CLUSTER_LABEL_CLUSTER, model->name);
    if (labels != NULL && set != NULL && json_object_set_new(labels, CLUSTER_LABEL_INSTANCE_SET, json_string(set)))
        goto fail;
    if (labels != NULL && instance != NULL &&
        json_object_set_new(labels, CLUSTER_LABEL_INSTANCE, json_string(instance)))
        goto fail;
    return labels;
fail:
    json_decref(labels);
    return NULL;
}

bool clusterAppend(json_t *objects, json_t *object, Err *err)
{
    if (object == NULL || json_array_append_new(objects, object) != 0)
        return errSet(err, errOutOfMemory, "out of memory building the cluster's objects");
    return true;
}

json_t *clusterRestrictedSecurityContext(void)
{
    return json_pack("{s:b, s:{s:[s]}, s:b, s:b, s:b, s:{s:s}}", "allowPrivilegeEscalation", 0, "capabilities", "drop",
                     "ALL", "privileged", 0, "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "seccompProfile", "type",
                     "RuntimeDefault");
}

bool clusterPut(json_t *object, const char *key, json_t *value)
{
    return json_object_set_new(object, key, value) == 0;
}

bool clusterPush(json_t *array, json_t *value)
{
    return json_array_append_new(array, value) == 0;
}

bool clusterPutCopy(json_t *object, const char *key, const json_t *value)
{
    if (value == NULL || json_is_null(value))
        return object != NULL;
    return clusterPut(object, key, json_deep_copy(value));
}

bool clusterMergeCopy(json_t *target, const json_t *source)
{
    if (!json_is_object(source))
        return target != NULL;
    json_t *copy = json_deep_copy(source);
    bool ok = copy != NULL && json_object_update(target, copy) == 0;
    json_decref(copy);
    return ok;
}

bool clusterSecretRead(MemCtx *ctx, const json_t *secret, const char *key, ClusterBytes *out, Err *err)
{
    *out = (ClusterBytes){.data = NULL, .len = 0};
    const json_t *encoded = json_object_get(json_object_get(secret, "data"), key);
    if (!json_is_string(encoded))
        return true;
    char *decoded;
    size_t len;
    Err decodeErr;
    if (!base64Decode(ctx, json_string_value(encoded), json_string_length(encoded), &decoded, &len, &decodeErr)) {
        if (decodeErr.code != errOutOfMemory)
            return true;
        if (err != NULL)
            *err = decodeErr;
        return false;
    }
    *out = (ClusterBytes){.data = decoded, .len = len};
    return true;
}

bool clusterCustomTlsCa(MemCtx *ctx, const ClusterModel *model, ClusterBytes *out, Err *err)
{
    *out = (ClusterBytes){.data = NULL, .len = 0};
    const json_t *custom = json_object_get(json_object_get(model->cluster, "spec"), "customTLSSecret");
    const char *name = json_string_value(json_object_get(custom, "name"));
    if (name == NULL)
        return true;
    const char *key = "ca.crt";
    const json_t *items = json_object_get(custom, "items");
    size_t itemIdx;
    const json_t *item;
    if (json_array_size(items) > 0) {
        key = NULL;
        json_array_foreach(items, itemIdx, item)
        {
            const char *path = json_string_value(json_object_get(item, "path"));
            if (path != NULL && strcmp(path, "ca.crt") == 0)
                key = json_string_value(json_object_get(item, "key"));
        }
    }
    if (key == NULL)
        return true;
    return clusterSecretRead(ctx, model->lookup(model->lookupArg, "Secret", model->namespace, name), key, out, err);
}

bool clusterPemEncode(MemCtx *ctx, const PkiCert *cert, const PkiKey *key, ClusterBytes *certText,
                      ClusterBytes *keyText, Err *err)
{
    char *certPem, *keyPem;
    size_t certLen, keyLen;
    if (!pkiCertEncodePem(ctx, cert, &certPem, &certLen, err) ||
        !pkiKeyEncodePem(ctx, key, pkiKeyFormatSec1, &keyPem, &keyLen, err))
        return false;
    *certText = (ClusterBytes){.data = certPem, .len = certLen};
    *keyText = (ClusterBytes){.data = keyPem, .len = keyLen};
    return true;
}

bool clusterLeafKeep(MemCtx *ctx, const ClusterModel *model, const PkiRoot *root, const json_t *cached,
                     const char *certKey, const char *keyKey, const PkiLeafSpec *want, ClusterBytes *cert,
                     ClusterBytes *key, Err *err)
{
    PkiLeaf leaf;
    PkiRenewal renewed;
    if (!clusterSecretRead(ctx, cached, certKey, cert, err) || !clusterSecretRead(ctx, cached, keyKey, key, err) ||
        !pkiLeafEnsure(ctx, root, cert->data, cert->len, key->data, key->len, want, model->clock, &leaf, &renewed, err))
        return false;
    return renewed == pkiRenewalNone || clusterPemEncode(ctx, leaf.cert, leaf.key, cert, key, err);
}

bool clusterSecretWrite(MemCtx *ctx, json_t *data, const char *key, ClusterBytes value, Err *err)
{
    char *encoded;
    if (!base64Encode(ctx, value.data, value.len, &encoded, err))
        return false;
    bool ok = clusterPut(data, key, json_string(encoded));
    memCtxRelease(encoded);
    return ok || errSet(err, errOutOfMemory, "out of memory building secret data");
}

json_t *clusterCondition(const ClusterModel *model, const char *type, bool status, const char *reason,
                         const char *message)
{
    const char *statusText = status ? "True" : "False";
    char now[CLOCK_RFC3339_SIZE];
    clockFormatRfc3339(clockWallMs(model->clock), now);
    memcpy(now + 19, "Z", 2); /* whole seconds, as the API server writes metav1.Time */
    const char *since = now;
    size_t condIdx;
    const json_t *current;
    json_array_foreach(json_object_get(json_object_get(model->cluster, "status"), "conditions"), condIdx, current)
    {
        const char *currentType = json_string_value(json_object_get(current, "type"));
        const char *currentStatus = json_string_value(json_object_get(current, "status"));
        const char *time = json_string_value(json_object_get(current, "lastTransitionTime"));
        if (currentType != NULL && strcmp(currentType, type) == 0 && currentStatus != NULL &&
            strcmp(currentStatus, statusText) == 0 && time != NULL)
            since = time;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "type", type, "status", statusText, "reason", reason, "message",
                     message, "observedGeneration", (json_int_t)model->generation, "lastTransitionTime", since);
}

bool clusterTopologySpread(const ClusterModel *model, const json_t *user, json_t **out)
{
    static const char *const topologyKeys[] = {"kubernetes.io/hostname", "topology.kubernetes.io/zone"};
    json_t *constraints = json_is_array(user) ? json_deep_copy(user) : json_array();
    bool ok = constraints != NULL;
    bool defaults =
        !json_is_true(json_object_get(json_object_get(model->cluster, "spec"), "disableDefaultPodScheduling"));
    for (size_t keyIdx = 0; ok && defaults && keyIdx < sizeof(topologyKeys) / sizeof(topologyKeys[0]); keyIdx++)
        ok = clusterPush(constraints,
                         json_pack("{s:i, s:s, s:s, s:{s:[{s:s, s:s, s:[s]}, {s:s, s:s, s:[s, s]}]}}", "maxSkew", 1,
                                   "topologyKey", topologyKeys[keyIdx], "whenUnsatisfiable", "ScheduleAnyway",
                                   "labelSelector", "matchExpressions", "key", CLUSTER_LABEL_CLUSTER, "operator", "In",
                                   "values", model->name, "key", CLUSTER_LABEL_DATA, "operator", "In", "values",
                                   "postgres", "pgbackrest"));
    if (!ok || json_array_size(constraints) == 0) {
        json_decref(constraints);
        constraints = NULL;
    }
    *out = constraints;
    return ok;
}

bool clusterOperatorPassword(MemCtx *ctx, const ClusterModel *model, const char **out, Err *err)
{
    *out = NULL;
    char *name = memCtxPrintf(ctx, "%s" CLUSTER_OPERATOR_SECRET_SUFFIX, model->name);
    if (name == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a secret name");
    ClusterBytes kept;
    const json_t *cached =
        model->lookup != NULL ? model->lookup(model->lookupArg, "Secret", model->namespace, name) : NULL;
    memCtxRelease(name);
    if (!clusterSecretRead(ctx, cached, CLUSTER_OPERATOR_PASSWORD_KEY, &kept, err))
        return false;
    /* A password with a NUL in it cannot be given to libpq: replaced, like a missing one. */
    if (kept.len > 0 && memchr(kept.data, '\0', kept.len) == NULL) {
        *out = kept.data;
        return true;
    }
    char *generated;
    if (!scramPasswordNew(ctx, scramPasswordAlphaNumeric, CLUSTER_OPERATOR_PASSWORD_LEN, &generated, err))
        return errPrefix(err, "the operator's password");
    *out = generated;
    return true;
}

json_t *clusterObjectAnnotated(const ClusterModel *model, const char *apiVersion, const char *kind, const char *name,
                               json_t *labels, const json_t *annotations)
{
    json_t *object = labels != NULL ? clusterObjectNew(model, apiVersion, kind, name, labels) : NULL;
    json_decref(labels);
    if (object == NULL || json_object_size(annotations) == 0)
        return object;
    json_t *metadata = json_object_get(object, "metadata");
    if ((json_object_get(metadata, "annotations") != NULL || clusterPut(metadata, "annotations", json_object())) &&
        clusterMergeCopy(json_object_get(metadata, "annotations"), annotations))
        return object;
    json_decref(object);
    return NULL;
}
