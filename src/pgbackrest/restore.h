/* The pgBackRest restore Job, <cluster>-pgbackrest-restore, as PGO v5 names and labels it (pgo-reference.md §5,
 * "Restore"): it restores a backup of a volume repository into the startup instance's volumes and recovers it up to
 * the target, leaving the data in /pgdata/pg<N>_bootstrap, which Patroni's bootstrap method "existing" moves into
 * place. One builder serves both restores the operator does: a clone (spec.dataSource.postgresCluster, the source
 * another cluster of the namespace) and an in-place restore (spec.backups.pgbackrest.restore with the annotation
 * pgbackrest-restore). What to restore, and when, is model->restore (api/model.h), which the reconciler decides. */
#ifndef PGBACKREST_RESTORE_H
#define PGBACKREST_RESTORE_H

#include "api/objects.h"

/* Job <cluster>-pgbackrest-restore for model->restore: created only while restore->jobWanted; a cached Job is
 * emitted again only while it still holds all of what this pass would make (Jobs are immutable; one that differs is
 * the reconciler's to delete). Nothing without model->restore. errInvalidArgument when the options are refused
 * (clusterRestoreOptionsRefused) or the startup instance belongs to no set. */
bool clusterBuildPgBackRestRestore(MemCtx *ctx, const ClusterModel *model, json_t *objects, Err *err) MUST_CHECK;

/* The Job's name, "<cluster>-pgbackrest-restore", into out (at least NAMING_NAME_SIZE bytes). */
void clusterRestoreJobName(const char *cluster, char *out, size_t size);

/* The first option (of an array of strings) that sets what the operator sets itself, as PGO refuses it: --repo,
 * --stanza, --pg1-path, --target-action or --link-map; NULL when there is none. */
const char *clusterRestoreOptionsRefused(const json_t *options);

#endif
