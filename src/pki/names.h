/* What each certificate of a cluster must say, named as PGO v5 names it (internal/naming/dns.go and the callers of
 * RegenerateLeafWhenNecessary), so that clients configured for PGO verify our certificates unchanged.
 *
 * PGO gives a host four DNS names, the fully qualified one first:
 *     <host>.<namespace>.svc.<domain>   <host>.<namespace>.svc   <host>.<namespace>   <host>
 * and makes the first the common name. <domain> is the cluster domain as PGO finds it: the CNAME of
 * "kubernetes.default.svc" minus that prefix, so it keeps the root's trailing dot ("cluster.local."), and the FQDN in
 * the certificate is "hippo-primary.ns.svc.cluster.local." (PGO's own tests insist on the dot). OpenSSL matches that
 * name only for a host name written with the dot, so in practice clients verify against the shorter names; the user
 * Secret's `host`, "hippo-primary.<ns>.svc", is one of them.
 *
 * Extended key usage is ours (PGO sets none): server certificates get serverAuth, client certificates clientAuth,
 * and the instance certificate both, because Patroni serves its REST API with it and patronictl presents it as a
 * client certificate to that API.
 *
 * Every builder fills a PkiLeafSpec whose strings and arrays are new blocks of ctx (the replication spec points to
 * static strings). On failure nothing is left allocated in ctx. */
#ifndef PKI_NAMES_H
#define PKI_NAMES_H

#include "pki/authority.h"

/* PGO's fallback when the CNAME lookup fails (kubeadm's default, with the root's dot). */
#define PKI_CLUSTER_DOMAIN_DEFAULT "cluster.local."

/* The replication user: the common name (and only DNS name) of `<cluster>-replication-cert`. */
#define PKI_REPLICATION_USER "_crunchyrepl"

/* The cluster domain from the CNAME of "kubernetes.default.svc" ("kubernetes.default.svc.cluster.local." gives
 * "cluster.local."), as PGO derives it: a CNAME without that prefix is used whole, and NULL (the lookup failed)
 * gives PKI_CLUSTER_DOMAIN_DEFAULT. The result points into cname or to a static string. */
const char *pkiClusterDomainFromCname(const char *cname);

/* A server certificate for Services services[0..count) of namespace: each Service's four names in turn, and the
 * first Service's FQDN as common name. PGO's PgBouncer frontend certificate is `<cluster>-pgbouncer` alone. */
bool pkiSpecServices(MemCtx *ctx, const char *const *services, size_t count, const char *ns, const char *domain,
                     PkiLeafSpec *out, Err *err) MUST_CHECK;

/* `<cluster>-cluster-cert` (`tls.crt`): Services `<cluster>-primary` then `<cluster>-replicas`; server. */
bool pkiSpecClusterCert(MemCtx *ctx, const char *cluster, const char *ns, const char *domain, PkiLeafSpec *out,
                        Err *err) MUST_CHECK;

/* An instance's `<instance>-certs` (`dns.crt`, also `patroni.crt-combined` and `pgbackrest-server.crt`): the names
 * of pod `<statefulSet>-0` under its governing Service (PGO: `<cluster>-pods`); server and client. */
bool pkiSpecInstanceCert(MemCtx *ctx, const char *statefulSet, const char *service, const char *ns, const char *domain,
                         PkiLeafSpec *out, Err *err) MUST_CHECK;

/* The pgBackRest repository host's `pgbackrest-repo-host.crt`: the names of pod `<statefulSet>-0` (PGO:
 * `<cluster>-repo-host-0` under `<cluster>-pods`); server. */
bool pkiSpecRepoHostCert(MemCtx *ctx, const char *statefulSet, const char *service, const char *ns, const char *domain,
                         PkiLeafSpec *out, Err *err) MUST_CHECK;

/* `<cluster>-replication-cert`: common name and DNS name "_crunchyrepl"; client. Allocates nothing. */
void pkiSpecReplicationCert(PkiLeafSpec *out);

/* pgBackRest's `pgbackrest-client.crt`: common name and DNS name "pgbackrest@<cluster UID>", the identity the
 * servers' tls-server-auth option admits; client. */
bool pkiSpecPgBackRestClientCert(MemCtx *ctx, const char *clusterUid, PkiLeafSpec *out, Err *err) MUST_CHECK;

#endif
