/* Client configuration.
 *
 * The kubeconfig is YAML; YAML stays in this file. libyaml loads the document, yamlToJson turns the node graph into
 * jansson values (scalars become strings, except plain true/false/null), and the rest of the module reads the result
 * with the typed JSON path getters. The conversion is bounded in depth and in node count: an alias may point at an
 * ancestor (a cycle) or be repeated to expand exponentially (the "billion laughs" document), and neither may take
 * the operator down.
 *
 * Every string of a KubeConfig is copied into its own context, so the JSON and YAML documents are freed before
 * loading returns. A token file is read lazily by kubeConfigToken into a child context that is replaced when the
 * file changes. */
#include "kube/config.h"

#include "common/base64.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000

/* Reads a whole file of at most maxBytes into a new NUL-terminated block of ctx. */
static bool configReadFile(MemCtx *ctx, const char *path, size_t maxBytes, char **out, size_t *outLen, Err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errSetSys(err, errConfig, "cannot open %s", path);
    char *data = memCtxAlloc(ctx, maxBytes + 1);
    if (data == NULL) {
        close(fd);
        return errSet(err, errOutOfMemory, "out of memory reading %s", path);
    }
    size_t len = 0;
    bool readFailed = false;
    for (;;) {
        ssize_t got = read(fd, data + len, maxBytes + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            readFailed = true;
            errSetSys(err, errConfig, "cannot read %s", path);
            break;
        }
        len += (size_t)got;
        if (got == 0 || len > maxBytes)
            break;
    }
    close(fd);
    if (!readFailed && len > maxBytes) {
        readFailed = true;
        errSet(err, errConfig, "%s is larger than %zu bytes", path, maxBytes);
    }
    if (readFailed) {
        memCtxRelease(data);
        return false;
    }
    data[len] = '\0';
    *out = data;
    *outLen = len;
    return true;
}

typedef struct YamlConverter {
    yaml_document_t *document;
    size_t nodes;
    Err *err;
} YamlConverter;

static json_t *yamlScalarToJson(const yaml_node_t *node)
{
    const char *value = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;
    if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp(value, "true") == 0)
            return json_true();
        if (strcmp(value, "false") == 0)
            return json_false();
        if (len == 0 || strcmp(value, "null") == 0 || strcmp(value, "~") == 0)
            return json_null();
    }
    return json_stringn(value, len);
}

static json_t *yamlNodeToJson(YamlConverter *converter, const yaml_node_t *node, unsigned depth)
{
    if (depth > YAML_MAX_DEPTH || ++converter->nodes > YAML_MAX_NODES) {
        errSet(converter->err, errConfig, "kubeconfig is nested too deeply or too large");
        return NULL;
    }
    json_t *value = NULL;
    switch (node->type) {
        case YAML_SCALAR_NODE:
            value = yamlScalarToJson(node);
            break;
        case YAML_SEQUENCE_NODE:
            value = json_array();
            for (yaml_node_item_t *item = node->data.sequence.items.start;
                 value != NULL && item < node->data.sequence.items.top; item++) {
                json_t *element =
                    yamlNodeToJson(converter, yaml_document_get_node(converter->document, *item), depth + 1);
                if (element == NULL || json_array_append_new(value, element) != 0) {
                    json_decref(value);
                    value = NULL;
                }
            }
            break;
        default: /* YAML_MAPPING_NODE: libyaml has no other node type */
            value = json_object();
            for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
                 value != NULL && pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *key = yaml_document_get_node(converter->document, pair->key);
                if (key->type != YAML_SCALAR_NODE) {
                    errSet(converter->err, errConfig, "kubeconfig has a mapping key that is not a string");
                    json_decref(value);
                    return NULL;
                }
                json_t *member =
                    yamlNodeToJson(converter, yaml_document_get_node(converter->document, pair->value), depth + 1);
                if (member == NULL || json_object_set_new(value, (const char *)key->data.scalar.value, member) != 0) {
                    json_decref(value);
                    value = NULL;
                }
            }
            break;
    }
    if (value == NULL && converter->err != NULL && converter->err->code == errOk)
        errSet(converter->err, errOutOfMemory, "out of memory reading the kubeconfig");
    return value;
}

/* Parses YAML text into JSON. An empty document is an empty object. */
static bool yamlParse(const char *text, size_t len, json_t **out, Err *err)
{
    yaml_parser_t parser;
    yaml_document_t document;
    if (!yaml_parser_initialize(&parser))
        return errSet(err, errOutOfMemory, "out of memory reading the kubeconfig");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &document)) {
        errSet(err, parser.error == YAML_MEMORY_ERROR ? errOutOfMemory : errConfig,
               "kubeconfig is not valid YAML: %s at line %zu column %zu", parser.problem ? parser.problem : "error",
               parser.problem_mark.line + 1, parser.problem_mark.column + 1);
        yaml_parser_delete(&parser);
        return false;
    }
    errClear(err);
    yaml_node_t *root = yaml_document_get_root_node(&document);
    YamlConverter converter = {.document = &document, .nodes = 0, .err = err};
    *out = root == NULL ? json_object() : yamlNodeToJson(&converter, root, 0);
    if (root == NULL && *out == NULL)
        errSet(err, errOutOfMemory, "out of memory reading the kubeconfig");
    yaml_document_delete(&document);
    yaml_parser_delete(&parser);
    return *out != NULL;
}

/* The "name"d element of the array at path, as kubeconfig lists clusters, users and contexts. */
static bool configFindNamed(const json_t *root, const char *path, const char *name, json_t **out, Err *err)
{
    json_t *list;
    if (!jsonFindArray(root, path, &list, err))
        return errPrefix(err, "kubeconfig");
    size_t entryIdx;
    json_t *entry;
    json_array_foreach(list, entryIdx, entry)
    {
        const char *entryName = json_string_value(json_object_get(entry, "name"));
        if (entryName != NULL && strcmp(entryName, name) == 0) {
            *out = entry;
            return true;
        }
    }
    return errSet(err, errConfig, "kubeconfig has no entry \"%s\" in %s", name, path);
}

static bool configCopy(KubeConfig *config, const char *value, const char **out, Err *err)
{
    if (value == NULL) {
        *out = NULL;
        return true;
    }
    *out = memCtxStrDup(config->ctx, value);
    return *out != NULL || errSet(err, errOutOfMemory, "out of memory reading the kubeconfig");
}

/* A file path from the kubeconfig, made absolute against baseDir. */
static bool configCopyPath(KubeConfig *config, const char *path, const char *baseDir, const char **out, Err *err)
{
    if (path == NULL || path[0] == '/' || baseDir == NULL)
        return configCopy(config, path, out, err);
    *out = memCtxPrintf(config->ctx, "%s/%s", baseDir, path);
    return *out != NULL || errSet(err, errOutOfMemory, "out of memory reading the kubeconfig");
}

/* A "<field>-data" (base64) or "<field>" (path) pair of an entry; at most one may be set. */
static bool configReadPem(KubeConfig *config, const json_t *entry, const char *field, const char *baseDir,
                          KubeBlob *data, const char **file, Err *err)
{
    char dataField[64];
    snprintf(dataField, sizeof(dataField), "[\"%s-data\"]", field);
    char fileField[64];
    snprintf(fileField, sizeof(fileField), "[\"%s\"]", field);

    const char *encoded, *path;
    if (!jsonFindStr(entry, dataField, NULL, &encoded, err) || !jsonFindStr(entry, fileField, NULL, &path, err))
        return errPrefix(err, "kubeconfig");
    if (encoded != NULL && path != NULL)
        return errSet(err, errConfig, "kubeconfig sets both %s and %s-data", field, field);
    if (encoded != NULL) {
        char *decoded;
        size_t decodedLen;
        if (!base64Decode(config->ctx, encoded, strlen(encoded), &decoded, &decodedLen, err))
            return errPrefix(err, "kubeconfig %s-data", field);
        *data = (KubeBlob){.data = decoded, .len = decodedLen};
    }
    return configCopyPath(config, path, baseDir, file, err);
}

static bool configNew(MemCtx *parent, KubeConfig **out, Err *err)
{
    MemCtx *ctx = memCtxNew(parent, "kube-config");
    KubeConfig *config = ctx != NULL ? memCtxAlloc(ctx, sizeof(*config)) : NULL;
    if (config == NULL) {
        memCtxFree(ctx);
        errSet(err, errOutOfMemory, "out of memory creating the client configuration");
        return false;
    }
    config->ctx = ctx;
    *out = config;
    return true;
}

static bool configCheckServer(const char *server, Err *err)
{
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return errSet(err, errConfig, "server \"%s\" is not an http(s) URL", server);
    return true;
}

static bool configResolveUser(KubeConfig *config, const json_t *root, const char *userName, const char *baseDir,
                              Err *err)
{
    json_t *user;
    if (userName == NULL || *userName == '\0')
        return true;
    if (!configFindNamed(root, "users", userName, &user, err))
        return false;
    json_t *credentials;
    const char *token, *tokenFile;
    if (!jsonGetObject(user, "user", &credentials, err) || !jsonFindStr(credentials, "token", NULL, &token, err) ||
        !jsonFindStr(credentials, "tokenFile", NULL, &tokenFile, err))
        return errPrefix(err, "kubeconfig user \"%s\"", userName);
    static const char *const unsupported[] = {"exec", "auth-provider", "username", "password"};
    for (size_t fieldIdx = 0; fieldIdx < sizeof(unsupported) / sizeof(unsupported[0]); fieldIdx++) {
        if (json_object_get(credentials, unsupported[fieldIdx]) != NULL)
            return errSet(err, errConfig,
                          "kubeconfig user \"%s\": %s is not supported (use a client certificate, a token or "
                          "kubectl proxy)",
                          userName, unsupported[fieldIdx]);
    }
    return configReadPem(config, credentials, "client-certificate", baseDir, &config->certData, &config->certFile,
                         err) &&
           configReadPem(config, credentials, "client-key", baseDir, &config->keyData, &config->keyFile, err) &&
           configCopy(config, token, &config->token, err) &&
           configCopyPath(config, tokenFile, baseDir, &config->tokenFile, err);
}

static bool configResolve(KubeConfig *config, const json_t *root, const char *baseDir, const char *contextName,
                          Err *err)
{
    if (contextName == NULL && !jsonGetStr(root, "[\"current-context\"]", &contextName, err))
        return errPrefix(err, "kubeconfig names no current context");

    json_t *context;
    const char *clusterName, *userName, *ns;
    if (!configFindNamed(root, "contexts", contextName, &context, err))
        return false;
    if (!jsonGetStr(context, "context.cluster", &clusterName, err) ||
        !jsonFindStr(context, "context.user", NULL, &userName, err) ||
        !jsonFindStr(context, "context.namespace", "default", &ns, err))
        return errPrefix(err, "kubeconfig context \"%s\"", contextName);

    json_t *cluster, *clusterFields;
    const char *server;
    bool insecure;
    if (!configFindNamed(root, "clusters", clusterName, &cluster, err))
        return false;
    if (!jsonGetObject(cluster, "cluster", &clusterFields, err) || !jsonGetStr(clusterFields, "server", &server, err) ||
        !jsonFindBool(clusterFields, "[\"insecure-skip-tls-verify\"]", false, &insecure, err) ||
        !configCheckServer(server, err))
        return errPrefix(err, "kubeconfig cluster \"%s\"", clusterName);

    size_t serverLen = strlen(server);
    while (serverLen > 0 && server[serverLen - 1] == '/')
        serverLen--;
    config->server = memCtxStrNDup(config->ctx, server, serverLen);
    config->insecureSkipTlsVerify = insecure;
    return (config->server != NULL || errSet(err, errOutOfMemory, "out of memory reading the kubeconfig")) &&
           configCopy(config, ns, &config->namespace, err) &&
           configReadPem(config, clusterFields, "certificate-authority", baseDir, &config->caData, &config->caFile,
                         err) &&
           configResolveUser(config, root, userName, baseDir, err);
}

bool kubeConfigParse(MemCtx *parent, const char *yaml, size_t len, const char *baseDir, const char *contextName,
                     KubeConfig **out, Err *err)
{
    json_t *root;
    if (!yamlParse(yaml, len, &root, err))
        return false;
    KubeConfig *config = NULL;
    bool ok = configNew(parent, &config, err) && configResolve(config, root, baseDir, contextName, err);
    json_decref(root);
    if (!ok) {
        if (config != NULL)
            memCtxFree(config->ctx);
        return false;
    }
    *out = config;
    return true;
}

bool kubeConfigLoadFile(MemCtx *parent, const char *path, const char *contextName, KubeConfig **out, Err *err)
{
    MemCtx *scratch = memCtxNew(parent, "kubeconfig-file");
    char *text, *dir;
    size_t len;
    if (scratch == NULL)
        return errSet(err, errOutOfMemory, "out of memory reading %s", path);
    /* Read errors name the file already; parse errors get it as a prefix. */
    bool ok = configReadFile(scratch, path, KUBE_CONFIG_MAX_FILE, &text, &len, err) &&
              ((dir = memCtxStrDup(scratch, path)) != NULL || errSet(err, errOutOfMemory, "out of memory")) &&
              (kubeConfigParse(parent, text, len, dirname(dir), contextName, out, err) || errPrefix(err, "%s", path));
    memCtxFree(scratch);
    return ok;
}

KubeInClusterSource kubeInClusterSourceFromEnvironment(void)
{
    return (KubeInClusterSource){
        .host = getenv("KUBERNETES_SERVICE_HOST"),
        .port = getenv("KUBERNETES_SERVICE_PORT"),
        .serviceAccountDir = KUBE_SERVICE_ACCOUNT_DIR,
    };
}

/* Copies the first line of a small file, without surrounding whitespace. */
static bool configReadTrimmed(MemCtx *ctx, const char *path, size_t maxBytes, const char **out, Err *err)
{
    char *text;
    size_t len;
    if (!configReadFile(ctx, path, maxBytes, &text, &len, err))
        return false;
    char *start = text + strspn(text, " \t\r\n");
    size_t trimmed = strcspn(start, "\r\n");
    while (trimmed > 0 && (start[trimmed - 1] == ' ' || start[trimmed - 1] == '\t'))
        trimmed--;
    start[trimmed] = '\0';
    *out = start;
    return true;
}

bool kubeConfigInCluster(MemCtx *parent, const KubeInClusterSource *source, KubeConfig **out, Err *err)
{
    if (source->host == NULL || *source->host == '\0' || source->port == NULL || *source->port == '\0')
        return errSet(err, errConfig,
                      "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                      "KUBERNETES_SERVICE_PORT must be set");
    if (strspn(source->port, "0123456789") != strlen(source->port))
        return errSet(err, errConfig, "KUBERNETES_SERVICE_PORT \"%s\" is not a port number", source->port);

    KubeConfig *config = NULL;
    if (!configNew(parent, &config, err))
        return false;
    /* An IPv6 address needs brackets in a URL. */
    bool ipv6 = strchr(source->host, ':') != NULL;
    const char *caFile = memCtxPrintf(config->ctx, "%s/ca.crt", source->serviceAccountDir);
    const char *namespaceFile = memCtxPrintf(config->ctx, "%s/namespace", source->serviceAccountDir);
    config->server =
        memCtxPrintf(config->ctx, "https://%s%s%s:%s", ipv6 ? "[" : "", source->host, ipv6 ? "]" : "", source->port);
    config->tokenFile = memCtxPrintf(config->ctx, "%s/token", source->serviceAccountDir);
    bool ok = caFile != NULL && namespaceFile != NULL && config->server != NULL && config->tokenFile != NULL;
    if (!ok)
        errSet(err, errOutOfMemory, "out of memory creating the client configuration");

    /* The CA must be there; the namespace file is optional (then "default"). */
    struct stat caStat;
    if (ok && stat(caFile, &caStat) != 0)
        ok = errSetSys(err, errConfig, "in-cluster CA %s is missing", caFile);
    config->caFile = caFile;
    if (ok && access(namespaceFile, R_OK) == 0)
        ok = configReadTrimmed(config->ctx, namespaceFile, 256, &config->namespace, err);
    if (ok && (config->namespace == NULL || *config->namespace == '\0'))
        config->namespace = "default";
    if (!ok) {
        memCtxFree(config->ctx);
        return false;
    }
    *out = config;
    return true;
}

bool kubeConfigToken(KubeConfig *config, const char **token, Err *err)
{
    if (config->tokenFile == NULL) {
        *token = config->token;
        return true;
    }
    KubeTokenFileState *state = &config->tokenState;
    struct stat now;
    if (stat(config->tokenFile, &now) != 0)
        return errSetSys(err, errConfig, "cannot read token file %s", config->tokenFile);
    bool unchanged = state->loaded && now.st_dev == state->device && now.st_ino == state->inode &&
                     now.st_size == state->size && now.st_mtim.tv_sec == state->modified.tv_sec &&
                     now.st_mtim.tv_nsec == state->modified.tv_nsec;
    if (!unchanged) {
        MemCtx *ctx = memCtxNew(config->ctx, "token");
        const char *fresh;
        if (ctx == NULL)
            return errSet(err, errOutOfMemory, "out of memory reading token file %s", config->tokenFile);
        if (!configReadTrimmed(ctx, config->tokenFile, KUBE_TOKEN_MAX_LENGTH, &fresh, err)) {
            memCtxFree(ctx);
            return false;
        }
        if (*fresh == '\0') {
            memCtxFree(ctx);
            return errSet(err, errConfig, "token file %s is empty", config->tokenFile);
        }
        memCtxFree(state->ctx);
        *state = (KubeTokenFileState){.loaded = true,
                                      .device = now.st_dev,
                                      .inode = now.st_ino,
                                      .size = now.st_size,
                                      .modified = now.st_mtim,
                                      .ctx = ctx,
                                      .token = fresh};
    }
    *token = state->token;
    return true;
}
