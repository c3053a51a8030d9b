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

#endif
