/* The field table and the report (see fields.h).
 *
 * How each status was decided: a field is acted on when a builder or the reconciler reads it and the objects or the
 * SQL change with it (model.c, instance.c, patroni.c, pgbackrest.c, services.c, secrets.c, users.c, meta.c, and their
 * golden files in test/unit/golden/cluster/); everything else is not acted on yet. The ones worth a word:
 *   - spec.disableDefaultPodScheduling and spec.openshift are acted on: the default topology spread of the instances
 *     and of the repository host, and their fsGroup, follow them (instance.c, pgbackrest.c).
 *   - spec.backups.pgbackrest.repos[].s3, .gcs and .azure are acted on: their type, bucket or container (and S3's
 *     endpoint and region) reach pgBackRest's configuration, the stanza, replica-create, manual and scheduled backup
 *     Jobs run for them (without a repository host when no repository is a volume), and the instances archive to
 *     them; credentials and TLS options come, as in PGO, from spec.backups.pgbackrest.configuration and .global.
 *   - spec.backups.pgbackrest.repoHost.sshConfigMap and .sshSecret are not: the CRD keeps them for old manifests
 *     and documents that they are ignored, and ignoring is what is reported.
 *   - spec.patroni.switchover and the annotation trigger-switchover are acted on together (switchover.c); the
 *     annotation without enabled true is ignored, as in PGO, and a Warning Event says so.
 *   - spec.backups.pgbackrest.restore (with the annotation pgbackrest-restore) and spec.dataSource.postgresCluster
 *     are acted on (controllers/postgrescluster/restore.c, pgbackrest/restore.c), but restore.clusterName and
 *     .clusterNamespace (an in-place restore from another cluster's repository); a clone's clusterNamespace is
 *     acted on by refusing any namespace but the cluster's own (the cluster waits and says so), as a source that
 *     is missing, has no backup or has a cloud repository is refused.
 *   - spec.standby is acted on: Patroni's standby_cluster follows it (patroni/config.c), users and pgBackRest's
 *     Jobs wait for the promotion; an enabled standby naming neither a repository nor a host is refused
 *     (controllers/postgrescluster/spec.c), so that it is never initialised empty. spec.dataSource's other two
 *     sources are data from elsewhere.
 *   - spec.postGISVersion and spec.instances[].tablespaceVolumes are not acted on: no builder reads them (the image
 *     is spec.image or RELATED_IMAGE_POSTGRES_<version>, never the GIS one).
 *
 * No-op values, where an entry is reportable: spec.monitoring, spec.userInterface, spec.postGISVersion,
 * spec.dataSource.volumes, repos[].schedules and tablespaceVolumes only when not empty (an empty one asks for
 * nothing); spec.proxy.pgBouncer whenever present, since an empty pgBouncer is a
 * pgBouncer with PGO's defaults (spec.proxy itself descends, so an empty proxy reports nothing); the rest whenever
 * present.
 *
 * Matching a path walks the document a segment at a time: a key (up to the next '.' or '['), "[]" (every element of
 * an array) or ["key"] (a key that contains dots). A value of another type than the segment expects ends the walk
 * with "not set": the CRD refuses such documents, and a report is no place for validation errors. */
#include "api/fields.h"

#include "api/model.h"

#include <string.h>

/* Metadata first, then spec in the CRD's order (alphabetical at each level), children after their container. The
 * third member, when a value counts as set, matters for the reportable statuses only. */
static const ClusterField fieldsTable[] = {
    {"metadata.annotations[\"" CLUSTER_ANNOTATION_TRIGGER_SWITCHOVER "\"]", fieldActedOn, fieldWhenPresent},

    {"spec.authentication", fieldActedOn, fieldWhenPresent}, /* patroni.c: pg_hba */
    {"spec.backups", fieldDescend, fieldWhenPresent},
    {"spec.backups.pgbackrest", fieldDescend, fieldWhenPresent},
    {"spec.backups.pgbackrest.configuration", fieldActedOn, fieldWhenPresent}, /* pgbackrest.c: projected into conf.d */
    {"spec.backups.pgbackrest.global", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.image", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.jobs", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.manual", fieldActedOn, fieldWhenPresent}, /* with the annotation pgbackrest-backup */
    {"spec.backups.pgbackrest.metadata", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repoHost", fieldDescend, fieldWhenPresent},
    {"spec.backups.pgbackrest.repoHost.affinity", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repoHost.priorityClassName", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repoHost.resources", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repoHost.sshConfigMap", fieldNotActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repoHost.sshSecret", fieldNotActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repoHost.tolerations", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repoHost.topologySpreadConstraints", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repos", fieldDescend, fieldWhenPresent},
    {"spec.backups.pgbackrest.repos[].azure", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repos[].gcs", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repos[].name", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repos[].s3", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.repos[].schedules", fieldActedOn, fieldWhenNonEmpty}, /* schedules.c: CronJobs */
    {"spec.backups.pgbackrest.repos[].volume", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.restore", fieldDescend, fieldWhenPresent}, /* restore.c: with the annotation */
    {"spec.backups.pgbackrest.restore.affinity", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.restore.clusterName", fieldNotActedOn, fieldWhenNonEmpty},
    {"spec.backups.pgbackrest.restore.clusterNamespace", fieldNotActedOn, fieldWhenNonEmpty},
    {"spec.backups.pgbackrest.restore.enabled", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.restore.options", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.restore.priorityClassName", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.restore.repoName", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.restore.resources", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.restore.tolerations", fieldActedOn, fieldWhenPresent},
    {"spec.backups.pgbackrest.sidecars", fieldActedOn, fieldWhenPresent},
    {"spec.backups.snapshots", fieldNotActedOn, fieldWhenPresent},
    {"spec.config", fieldDescend, fieldWhenPresent},
    {"spec.config.files", fieldActedOn, fieldWhenPresent},      /* instance.c: /etc/postgres */
    {"spec.config.parameters", fieldActedOn, fieldWhenPresent}, /* patroni.c */
    {"spec.customReplicationTLSSecret", fieldActedOn, fieldWhenPresent},
    {"spec.customTLSSecret", fieldActedOn, fieldWhenPresent},
    {"spec.dataSource", fieldDescend, fieldWhenPresent},
    {"spec.dataSource.pgbackrest", fieldDataElsewhere, fieldWhenPresent},
    {"spec.dataSource.postgresCluster", fieldDescend, fieldWhenPresent}, /* restore.c: a clone */
    {"spec.dataSource.postgresCluster.affinity", fieldActedOn, fieldWhenPresent},
    {"spec.dataSource.postgresCluster.clusterName", fieldActedOn, fieldWhenPresent},
    {"spec.dataSource.postgresCluster.clusterNamespace", fieldActedOn, fieldWhenPresent}, /* only its own */
    {"spec.dataSource.postgresCluster.options", fieldActedOn, fieldWhenPresent},
    {"spec.dataSource.postgresCluster.priorityClassName", fieldActedOn, fieldWhenPresent},
    {"spec.dataSource.postgresCluster.repoName", fieldActedOn, fieldWhenPresent},
    {"spec.dataSource.postgresCluster.resources", fieldActedOn, fieldWhenPresent},
    {"spec.dataSource.postgresCluster.tolerations", fieldActedOn, fieldWhenPresent},
    {"spec.dataSource.volumes", fieldDataElsewhere, fieldWhenNonEmpty},
    {"spec.databaseInitSQL", fieldNotActedOn, fieldWhenPresent},
    {"spec.disableDefaultPodScheduling", fieldActedOn, fieldWhenPresent},
    {"spec.image", fieldActedOn, fieldWhenPresent},
    {"spec.imagePullPolicy", fieldActedOn, fieldWhenPresent},
    {"spec.imagePullSecrets", fieldActedOn, fieldWhenPresent},
    {"spec.instances", fieldDescend, fieldWhenPresent},
    {"spec.instances[].affinity", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].containers", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].dataVolumeClaimSpec", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].metadata", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].minAvailable", fieldActedOn, fieldWhenPresent}, /* services.c: the PodDisruptionBudget */
    {"spec.instances[].name", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].priorityClassName", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].replicas", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].resources", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].sidecars", fieldActedOn, fieldWhenPresent}, /* replicaCertCopy.resources */
    {"spec.instances[].tablespaceVolumes", fieldNotActedOn, fieldWhenNonEmpty},
    {"spec.instances[].tolerations", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].topologySpreadConstraints", fieldActedOn, fieldWhenPresent},
    {"spec.instances[].volumes", fieldActedOn, fieldWhenPresent}, /* temp: the generic ephemeral volume */
    {"spec.instances[].walVolumeClaimSpec", fieldActedOn, fieldWhenPresent},
    {"spec.metadata", fieldActedOn, fieldWhenPresent},
    {"spec.monitoring", fieldNotActedOn, fieldWhenNonEmpty},
    {"spec.openshift", fieldActedOn, fieldWhenPresent},
    {"spec.patroni", fieldDescend, fieldWhenPresent},
    {"spec.patroni.dynamicConfiguration", fieldActedOn, fieldWhenPresent},
    {"spec.patroni.leaderLeaseDurationSeconds", fieldActedOn, fieldWhenPresent},
    {"spec.patroni.logging", fieldActedOn, fieldWhenPresent},
    {"spec.patroni.port", fieldActedOn, fieldWhenPresent},
    {"spec.patroni.switchover", fieldActedOn, fieldWhenEnabled}, /* switchover.c */
    {"spec.patroni.syncPeriodSeconds", fieldActedOn, fieldWhenPresent},
    {"spec.paused", fieldActedOn, fieldWhenPresent}, /* spec.c: nothing applied, one condition */
    {"spec.port", fieldActedOn, fieldWhenPresent},
    {"spec.postGISVersion", fieldNotActedOn, fieldWhenNonEmpty},
    {"spec.postgresVersion", fieldActedOn, fieldWhenPresent},
    {"spec.proxy", fieldDescend, fieldWhenPresent},
    {"spec.proxy.pgBouncer", fieldActedOn, fieldWhenPresent}, /* pgbouncer/: the Deployment and its objects */
    {"spec.replicaService", fieldActedOn, fieldWhenPresent},
    {"spec.service", fieldActedOn, fieldWhenPresent},
    {"spec.shutdown", fieldActedOn, fieldWhenPresent},   /* shutdown.c */
    {"spec.standby", fieldActedOn, fieldUnlessDisabled}, /* patroni/config.c: standby_cluster; spec.c: validity */
    {"spec.supplementalGroups", fieldActedOn, fieldWhenPresent},
    {"spec.userInterface", fieldNotActedOn, fieldWhenNonEmpty},
    {"spec.users", fieldActedOn, fieldWhenPresent}, /* users.c, secrets.c: roles, databases, options, password type */
};

#define FIELDS_COUNT (sizeof(fieldsTable) / sizeof(fieldsTable[0]))

const ClusterField *clusterFields(size_t *count)
{
    *count = FIELDS_COUNT;
    return fieldsTable;
}

const char *clusterFieldStatusName(ClusterFieldStatus status)
{
    switch (status) {
        case fieldActedOn:
            return "acted on";
        case fieldNotActedOn:
            return "not acted on yet";
        case fieldDataElsewhere:
            return "data from elsewhere";
        case fieldDescend:
            return "descend";
    }
    return "unknown";
}

/* Whether the object value's member enabled is true; fallback when it is absent or not a boolean. A value that is
 * not an object at all counts as enabled (see the top of fields.h: doubt leans to "set"). */
static bool fieldsEnabled(const json_t *value, bool fallback)
{
    if (!json_is_object(value))
        return true;
    const json_t *enabled = json_object_get(value, "enabled");
    return json_is_boolean(enabled) ? json_is_true(enabled) : fallback;
}

/* Whether value (present, not null) is more than when's no-op value. */
static bool fieldsValueSet(ClusterFieldWhen when, const json_t *value)
{
    switch (when) {
        case fieldWhenPresent:
            return true;
        case fieldWhenTrue:
            return json_is_true(value);
        case fieldWhenNonEmpty:
            if (json_is_string(value))
                return json_string_length(value) > 0;
            if (json_is_object(value))
                return json_object_size(value) > 0;
            if (json_is_array(value))
                return json_array_size(value) > 0;
            return true;
        case fieldWhenEnabled:
            return fieldsEnabled(value, false);
        case fieldUnlessDisabled:
            return fieldsEnabled(value, true);
    }
    return true;
}

/* Whether value sets the rest of field's path (rest starts at a segment or at the '.' before one). */
static bool fieldsSetAt(const ClusterField *field, const json_t *value, const char *rest)
{
    if (value == NULL || json_is_null(value))
        return false;
    if (*rest == '\0')
        return fieldsValueSet(field->when, value);
    if (*rest == '.')
        rest++;
    if (strncmp(rest, "[]", 2) == 0) {
        size_t itemIdx;
        const json_t *item;
        json_array_foreach(value, itemIdx, item)
        {
            if (fieldsSetAt(field, item, rest + 2))
                return true;
        }
        return false;
    }
    const char *key = rest;
    size_t keyLen;
    const char *next;
    if (strncmp(rest, "[\"", 2) == 0) {
        key = rest + 2;
        const char *close = strstr(key, "\"]");
        if (close == NULL)
            return false; /* not a path of the table: the unit test parses every one */
        keyLen = (size_t)(close - key);
        next = close + 2;
    } else {
        keyLen = strcspn(rest, ".[");
        next = rest + keyLen;
    }
    return fieldsSetAt(field, json_object_getn(value, key, keyLen), next);
}

bool clusterFieldSet(const ClusterField *field, const json_t *cluster)
{
    return fieldsSetAt(field, cluster, field->path);
}

/* A reportable entry (fieldNotActedOn or fieldDataElsewhere) that cluster sets. */
static bool fieldsReported(const ClusterField *field, const json_t *cluster)
{
    return (field->status == fieldNotActedOn || field->status == fieldDataElsewhere) && clusterFieldSet(field, cluster);
}

bool clusterFieldsReport(MemCtx *ctx, const json_t *cluster, ClusterFieldsReport *out, Err *err)
{
    *out = (ClusterFieldsReport){0};
    if (!json_is_object(cluster))
        return errSet(err, errInvalidArgument, "the PostgresCluster must be a JSON object");
    bool reported[FIELDS_COUNT];
    size_t notActedOn = 0, dataElsewhere = 0;
    for (size_t fieldIdx = 0; fieldIdx < FIELDS_COUNT; fieldIdx++) {
        const ClusterField *field = &fieldsTable[fieldIdx];
        reported[fieldIdx] = fieldsReported(field, cluster);
        if (reported[fieldIdx] && field->status == fieldNotActedOn)
            notActedOn++;
        else if (reported[fieldIdx])
            dataElsewhere++;
    }
    const char **notActedOnPaths = notActedOn > 0 ? memCtxAlloc(ctx, notActedOn * sizeof(*notActedOnPaths)) : NULL;
    const char **dataElsewherePaths =
        dataElsewhere > 0 ? memCtxAlloc(ctx, dataElsewhere * sizeof(*dataElsewherePaths)) : NULL;
    if ((notActedOn > 0 && notActedOnPaths == NULL) || (dataElsewhere > 0 && dataElsewherePaths == NULL)) {
        memCtxRelease(notActedOnPaths);
        memCtxRelease(dataElsewherePaths);
        return errSet(err, errOutOfMemory, "out of memory reporting the cluster's fields");
    }
    for (size_t fieldIdx = 0; fieldIdx < FIELDS_COUNT; fieldIdx++) {
        const ClusterField *field = &fieldsTable[fieldIdx];
        if (reported[fieldIdx] && field->status == fieldNotActedOn)
            notActedOnPaths[out->notActedOnCount++] = field->path;
        else if (reported[fieldIdx])
            dataElsewherePaths[out->dataElsewhereCount++] = field->path;
    }
    out->notActedOn = notActedOnPaths;
    out->dataElsewhere = dataElsewherePaths;
    return true;
}
