/* Client configuration: where the API server is and how to authenticate, from a kubeconfig file or from inside a
 * pod (in-cluster).
 *
 * Kubeconfig: the current context or a named one; the cluster's server URL, certificate-authority-data (base64
 * PEM) or certificate-authority (file), insecure-skip-tls-verify; the user's client-certificate(-data),
 * client-key(-data), token or tokenFile. Relative file paths are relative to the kubeconfig's directory, as kubectl
 * resolves them. Exec and auth-provider plugins and basic auth are refused with errConfig naming them: the operator
 * runs in-cluster, and a developer can point it at `kubectl proxy` or a certificate kubeconfig. Merging several files
 * of KUBECONFIG is the caller's concern (use the first).
 *
 * In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the service account's ca.crt, token and
 * namespace files. The token is projected and rotated by the kubelet, so kubeConfigToken re-reads the token file
 * whenever it changes. */
#ifndef KUBE_CONFIG_H
#define KUBE_CONFIG_H

#include "common/error.h"
#include "common/memctx.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define KUBE_CONFIG_MAX_FILE     (1024 * 1024)
#define KUBE_TOKEN_MAX_LENGTH    (64 * 1024)
#define KUBE_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct KubeBlob {
    const char *data; /* NULL when unset */
    size_t len;
} KubeBlob;

typedef struct KubeTokenFileState {
    bool loaded;
    dev_t device;
    ino_t inode;
    off_t size;
    struct timespec modified;
    MemCtx *ctx; /* holds the current token */
    const char *token;
} KubeTokenFileState;

typedef struct KubeConfig {
    MemCtx *ctx;           /* owns the configuration and everything it points to */
    const char *server;    /* scheme://host[:port], no trailing slash */
    const char *namespace; /* the context's or service account's namespace, else "default" */
    const char *caFile;
    KubeBlob caData; /* PEM */
    const char *certFile;
    KubeBlob certData; /* PEM */
    const char *keyFile;
    KubeBlob keyData; /* PEM */
    const char *token;
    const char *tokenFile;
    bool insecureSkipTlsVerify;
    KubeTokenFileState tokenState; /* private to kubeConfigToken */
} KubeConfig;

/* Reads and resolves a kubeconfig file. contextName NULL uses current-context. The config is a new child context of
 * parent (free it with memCtxFree(config->ctx)). */
bool kubeConfigLoadFile(MemCtx *parent, const char *path, const char *contextName, KubeConfig **out,
                        Err *err) MUST_CHECK;

/* The same from YAML text; baseDir resolves relative paths. */
bool kubeConfigParse(MemCtx *parent, const char *yaml, size_t len, const char *baseDir, const char *contextName,
                     KubeConfig **out, Err *err) MUST_CHECK;

/* Where in-cluster configuration comes from; kubeInClusterSourceFromEnvironment gives the real one. */
typedef struct KubeInClusterSource {
    const char *host;              /* KUBERNETES_SERVICE_HOST */
    const char *port;              /* KUBERNETES_SERVICE_PORT */
    const char *serviceAccountDir; /* holds token, ca.crt and namespace */
} KubeInClusterSource;

KubeInClusterSource kubeInClusterSourceFromEnvironment(void);

bool kubeConfigInCluster(MemCtx *parent, const KubeInClusterSource *source, KubeConfig **out, Err *err) MUST_CHECK;

/* The bearer token to send now, or NULL for none: the static token, or the token file's current contents (re-read
 * when the file's identity, size or modification time changed). The string stays valid until the next call. */
bool kubeConfigToken(KubeConfig *config, const char **token, Err *err) MUST_CHECK;

#endif
