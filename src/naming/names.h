/* Names the operator makes up. PGO ends the names of objects it creates several of (instances, backup Jobs) with
 * four characters from an alphabet without vowels or look-alikes; ours are a hash rather than random, so that a
 * reconcile that runs before the cache shows an object it just created computes the same name again and re-applies
 * the same object instead of creating a second one. */
#ifndef NAMING_NAMES_H
#define NAMING_NAMES_H

#include <stddef.h>

#define NAMING_SUFFIX_SIZE 5 /* four characters and the terminating NUL */

/* The four characters for a seed given in parts that are hashed one after the other (a cluster's UID, "/", what the
 * object is for): FNV-1a of the seed, in PGO's alphabet. */
void namingSuffix(const char *const *parts, size_t count, char out[NAMING_SUFFIX_SIZE]);

/* The names PGO gives a cluster's objects: "<cluster>-<suffix>". Patroni's scope (its leader Endpoints and
 * Service) is "<cluster>-ha"; it keeps its configuration in "<cluster>-ha-config" and takes switchover requests in
 * "<cluster>-ha-failover"; "<cluster>-primary" is the Service users connect to. */
#define NAMING_HA          "ha"
#define NAMING_HA_CONFIG   "ha-config"
#define NAMING_HA_FAILOVER "ha-failover"
#define NAMING_HA_SYNC     "ha-sync" /* Patroni's synchronous state, in synchronous mode */
#define NAMING_PRIMARY     "primary"
#define NAMING_NAME_SIZE   300 /* a cluster's name (at most 63) with any suffix, and room to spare */

/* "<cluster>-<suffix>" into out. */
void namingClusterObject(const char *cluster, const char *suffix, char out[NAMING_NAME_SIZE]);

/* The Pod of instance (a StatefulSet of one Pod): "<instance>-0". */
void namingInstancePod(const char *instance, char out[NAMING_NAME_SIZE]);

#endif
