/* Patroni's configuration: the cluster file <cluster>-config, one instance file <instance>-config per instance, and
 * the dynamic configuration Patroni keeps in its DCS (see config.c). */
#ifndef PATRONI_CONFIG_H
#define PATRONI_CONFIG_H

#include "api/objects.h"

/* ConfigMap <cluster>-config (patroni.yaml: cluster-wide Patroni YAML with the bootstrap DCS, including
 * spec.patroni.dynamicConfiguration) and one ConfigMap <instance>-config per instance. Until the cluster is
 * bootstrapped, the instance files set the verifier of model->operatorPassword, and without that password the
 * builder fails (errInvalidArgument). */
bool clusterBuildPatroniConfig(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

/* The dynamic configuration Patroni keeps in its DCS (the "config" annotation of Endpoints <cluster>-ha-config):
 * bootstrap.dcs of <cluster>-config before the cluster is bootstrapped, and what the reconciler writes there after.
 * NULL with err set on failure. */
json_t *clusterPatroniDynamicConfig(MemCtx *ctx, const ClusterModel *model, Err *err);

#endif
