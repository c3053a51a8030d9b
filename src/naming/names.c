/* Names the operator makes up (see names.h). */
#include "naming/names.h"

#include <stdint.h>
#include <stdio.h>

void namingSuffix(const char *const *parts, size_t count, char out[NAMING_SUFFIX_SIZE])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789"; /* PGO's: no vowels, no look-alikes */
    uint32_t hash = 2166136261u;                                  /* FNV-1a */
    for (size_t partIdx = 0; partIdx < count; partIdx++)
        for (const char *c = parts[partIdx]; *c != '\0'; c++) {
            hash ^= (uint8_t)*c;
            hash *= 16777619u;
        }
    for (int charIdx = 0; charIdx < NAMING_SUFFIX_SIZE - 1; charIdx++) {
        out[charIdx] = alphabet[hash % (sizeof(alphabet) - 1)];
        hash /= (uint32_t)(sizeof(alphabet) - 1);
    }
    out[NAMING_SUFFIX_SIZE - 1] = '\0';
}

void namingClusterObject(const char *cluster, const char *suffix, char out[NAMING_NAME_SIZE])
{
    snprintf(out, NAMING_NAME_SIZE, "%s-%s", cluster, suffix);
}

void namingInstancePod(const char *instance, char out[NAMING_NAME_SIZE])
{
    snprintf(out, NAMING_NAME_SIZE, "%s-0", instance);
}
