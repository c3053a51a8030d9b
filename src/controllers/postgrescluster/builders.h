/* The PostgresCluster controller's own builders (the contract is api/objects.h's): the objects that tie the
 * components together around the instances. */
#ifndef POSTGRESCLUSTER_BUILDERS_H
#define POSTGRESCLUSTER_BUILDERS_H

#include "api/objects.h"

/* --- services.c: RBAC for Patroni, the five Services, the primary Endpoints, the PodDisruptionBudgets --- */

/* ServiceAccount, Role and RoleBinding "<cluster>-instance". */
bool clusterBuildInstanceRbac(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

/* Services <cluster>-ha, -ha-config, -pods, -primary, -replicas (spec.service, spec.replicaService honoured), and
 * Endpoints <cluster>-primary once model->haClusterIP is known. */
bool clusterBuildServices(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

/* PodDisruptionBudget <cluster>-set-<set> for each set whose minAvailable is above 0. */
bool clusterBuildDisruptionBudgets(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

/* --- instance.c: the instances --- */

/* For each instance: PVC <instance>-pgdata (and -pgwal with walVolumeClaimSpec) and the StatefulSet <instance>. */
bool clusterBuildInstances(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

/* --- secrets.c: certificates and user Secrets --- */

/* Secret pgo-root-cacert, <cluster>-cluster-cert (unless spec.customTLSSecret), <cluster>-replication-cert (unless
 * spec.customReplicationTLSSecret), and <instance>-certs per instance. Existing certificates (model->lookup) are
 * kept while the renewal policy of pki/authority.h allows. */
bool clusterBuildCertificates(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

/* Secret <cluster>-pguser-<user> per user (spec.users, or the default user <cluster> with database <cluster>):
 * user, password, verifier, host, port, dbname, uri, jdbc-uri. Existing passwords and verifiers are kept; a
 * Secret whose password was cleared gets a new one, and one whose verifier was cleared gets it recomputed. Also
 * Secret <cluster>-operator with model->operatorPassword, the password of the operator's own role (see secrets.c). */
bool clusterBuildUserSecrets(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

#endif
