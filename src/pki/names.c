/* Certificate names, as PGO chooses them.
 *
 * Pure string work, no OpenSSL: a builder allocates one array for the names and one block per name, all in the
 * caller's context, and on any failure releases exactly what it allocated (a SpecBuilder remembers it), so a failed
 * call leaves the caller's context as it was. Names are not validated beyond emptiness here: pkiLeafNew and
 * pkiLeafNeedsRenewal check every spec they are given against PkiLeafSpec's rules. */
#include "pki/names.h"

#include <string.h>

#define PKI_KUBERNETES_SERVICE "kubernetes.default.svc."
#define PKI_NAMES_PER_HOST     4

/* A spec being built: names[0..count) are blocks of ctx, as is names itself. */
typedef struct SpecBuilder {
    MemCtx *ctx;
    char **names;
    size_t count;
    size_t capacity;
} SpecBuilder;

static bool specBegin(SpecBuilder *builder, MemCtx *ctx, size_t capacity, Err *err)
{
    *builder = (SpecBuilder){.ctx = ctx, .names = NULL, .count = 0, .capacity = capacity};
    builder->names = memCtxAlloc(ctx, sizeof(*builder->names) * capacity);
    if (builder->names == NULL) {
        errSet(err, errOutOfMemory, "cannot allocate %zu certificate names", capacity);
        return false;
    }
    return true;
}

static void specAbandon(SpecBuilder *builder)
{
    for (size_t nameIdx = 0; nameIdx < builder->count; nameIdx++)
        memCtxRelease(builder->names[nameIdx]);
    memCtxRelease(builder->names);
    builder->names = NULL;
    builder->count = 0;
}

static bool specAdd(SpecBuilder *builder, char *name, Err *err)
{
    if (name == NULL) {
        specAbandon(builder);
        errSet(err, errOutOfMemory, "cannot allocate a certificate name");
        return false;
    }
    builder->names[builder->count++] = name;
    return true;
}

/* PGO's four names of host in namespace ns, FQDN first. */
static bool specAddHost(SpecBuilder *builder, const char *host, const char *ns, const char *domain, Err *err)
{
    return specAdd(builder, memCtxPrintf(builder->ctx, "%s.%s.svc.%s", host, ns, domain), err) &&
           specAdd(builder, memCtxPrintf(builder->ctx, "%s.%s.svc", host, ns), err) &&
           specAdd(builder, memCtxPrintf(builder->ctx, "%s.%s", host, ns), err) &&
           specAdd(builder, memCtxStrDup(builder->ctx, host), err);
}

/* The spec: the first name is the common name. */
static void specEnd(SpecBuilder *builder, unsigned usage, PkiLeafSpec *out)
{
    *out = (PkiLeafSpec){
        .commonName = builder->names[0],
        .dnsNames = (const char *const *)builder->names,
        .dnsNameCount = builder->count,
        .usage = usage,
    };
}

static bool nonEmpty(const char *value, const char *what, Err *err)
{
    if (value == NULL || value[0] == '\0')
        return errSet(err, errInvalidArgument, "%s is empty", what);
    return true;
}

const char *pkiClusterDomainFromCname(const char *cname)
{
    if (cname == NULL)
        return PKI_CLUSTER_DOMAIN_DEFAULT;
    size_t prefixLen = strlen(PKI_KUBERNETES_SERVICE);
    if (strncmp(cname, PKI_KUBERNETES_SERVICE, prefixLen) == 0)
        return cname + prefixLen;
    return cname;
}

bool pkiSpecServices(MemCtx *ctx, const char *const *services, size_t count, const char *ns, const char *domain,
                     PkiLeafSpec *out, Err *err)
{
    if (count == 0 || services == NULL)
        return errSet(err, errInvalidArgument, "a service certificate needs at least one service");
    if (count > PKI_DNS_NAMES_MAX / PKI_NAMES_PER_HOST)
        return errSet(err, errInvalidArgument, "a service certificate covers at most %d services",
                      PKI_DNS_NAMES_MAX / PKI_NAMES_PER_HOST);
    if (!nonEmpty(ns, "namespace", err) || !nonEmpty(domain, "cluster domain", err))
        return false;
    for (size_t serviceIdx = 0; serviceIdx < count; serviceIdx++)
        if (!nonEmpty(services[serviceIdx], "service name", err))
            return false;
    SpecBuilder builder;
    if (!specBegin(&builder, ctx, count * PKI_NAMES_PER_HOST, err))
        return false;
    for (size_t serviceIdx = 0; serviceIdx < count; serviceIdx++)
        if (!specAddHost(&builder, services[serviceIdx], ns, domain, err))
            return false;
    specEnd(&builder, PKI_USAGE_SERVER, out);
    return true;
}

bool pkiSpecClusterCert(MemCtx *ctx, const char *cluster, const char *ns, const char *domain, PkiLeafSpec *out,
                        Err *err)
{
    if (!nonEmpty(cluster, "cluster name", err))
        return false;
    /* The Service names live only until the spec is built: a scratch context keeps ctx clean. */
    MemCtx *scratch = memCtxNew(ctx, "pki names scratch");
    if (scratch == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate service names");
    const char *services[2] = {
        memCtxPrintf(scratch, "%s-primary", cluster),
        memCtxPrintf(scratch, "%s-replicas", cluster),
    };
    bool ok = services[0] != NULL && services[1] != NULL ? pkiSpecServices(ctx, services, 2, ns, domain, out, err)
                                                         : errSet(err, errOutOfMemory, "cannot allocate service names");
    memCtxFree(scratch);
    return ok;
}

/* The names of pod `<statefulSet>-0` under its governing Service. */
static bool specPod(MemCtx *ctx, const char *statefulSet, const char *service, const char *ns, const char *domain,
                    unsigned usage, PkiLeafSpec *out, Err *err)
{
    if (!nonEmpty(statefulSet, "statefulset name", err) || !nonEmpty(service, "service name", err) ||
        !nonEmpty(ns, "namespace", err) || !nonEmpty(domain, "cluster domain", err))
        return false;
    MemCtx *scratch = memCtxNew(ctx, "pki names scratch");
    if (scratch == NULL)
        return errSet(err, errOutOfMemory, "cannot allocate a pod name");
    const char *host = memCtxPrintf(scratch, "%s-0.%s", statefulSet, service);
    if (host == NULL) {
        memCtxFree(scratch);
        errSet(err, errOutOfMemory, "cannot allocate a pod name");
        return false;
    }
    SpecBuilder builder;
    bool ok = specBegin(&builder, ctx, PKI_NAMES_PER_HOST, err) && specAddHost(&builder, host, ns, domain, err);
    memCtxFree(scratch);
    if (ok)
        specEnd(&builder, usage, out);
    return ok;
}

bool pkiSpecInstanceCert(MemCtx *ctx, const char *statefulSet, const char *service, const char *ns, const char *domain,
                         PkiLeafSpec *out, Err *err)
{
    return specPod(ctx, statefulSet, service, ns, domain, PKI_USAGE_SERVER | PKI_USAGE_CLIENT, out, err);
}

bool pkiSpecRepoHostCert(MemCtx *ctx, const char *statefulSet, const char *service, const char *ns, const char *domain,
                         PkiLeafSpec *out, Err *err)
{
    return specPod(ctx, statefulSet, service, ns, domain, PKI_USAGE_SERVER, out, err);
}

void pkiSpecReplicationCert(PkiLeafSpec *out)
{
    static const char *const names[] = {PKI_REPLICATION_USER};
    *out = (PkiLeafSpec){
        .commonName = PKI_REPLICATION_USER,
        .dnsNames = names,
        .dnsNameCount = 1,
        .usage = PKI_USAGE_CLIENT,
    };
}

bool pkiSpecPgBackRestClientCert(MemCtx *ctx, const char *clusterUid, PkiLeafSpec *out, Err *err)
{
    if (!nonEmpty(clusterUid, "cluster uid", err))
        return false;
    SpecBuilder builder;
    if (!specBegin(&builder, ctx, 1, err) || !specAdd(&builder, memCtxPrintf(ctx, "pgbackrest@%s", clusterUid), err))
        return false;
    specEnd(&builder, PKI_USAGE_CLIENT, out);
    return true;
}
