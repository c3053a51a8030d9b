/* JSON to YAML for the configuration files the operator writes (Patroni's patroni.yaml).
 *
 * The output is one block-style YAML document with the keys of every mapping sorted by byte value (PGO's files are
 * sorted too), so equal JSON gives equal text. Scalars keep their JSON meaning for a
 * YAML 1.1 reader (Patroni's PyYAML): a string that YAML would read as something else (on, off, yes, null, 123,
 * 1e3, 2024-01-01, an empty string) is single-quoted; other strings are plain where YAML allows it; multi-line
 * strings are literal blocks. Empty objects and arrays are written {} and []. */
#ifndef CLUSTER_YAML_H
#define CLUSTER_YAML_H

#include "common/error.h"
#include "common/strbuf.h"

#include <jansson.h>

/* Appends value as a YAML document to out. errTooLarge when out's limit is reached (out then holds a partial
 * document), errOutOfMemory when memory runs out. */
bool clusterYamlDump(const json_t *value, StrBuf *out, Err *err) MUST_CHECK;

#endif
