/* The SQL the operator writes: quoting (see sql.h). */
#include "pgsql/sql.h"

#include <string.h>

bool pgQuoteIdent(StrBuf *out, const char *ident, Err *err)
{
    size_t len = strlen(ident);
    if (len == 0)
        return errSet(err, errInvalidArgument, "an empty name cannot be a postgres identifier");
    if (len > PG_IDENTIFIER_MAX)
        return errSet(err, errInvalidArgument, "name \"%.*s...\" is longer than the %d bytes postgres keeps", 20, ident,
                      PG_IDENTIFIER_MAX);
    if (!strBufAppendChar(out, '"', err))
        return false;
    for (const char *quote; (quote = strchr(ident, '"')) != NULL; ident = quote + 1) {
        if (!strBufAppend(out, ident, (size_t)(quote - ident) + 1, err) || !strBufAppendChar(out, '"', err))
            return false;
    }
    return strBufAppendStr(out, ident, err) && strBufAppendChar(out, '"', err);
}

bool pgQuoteLiteral(StrBuf *out, const char *text, Err *err)
{
    bool escaped = strchr(text, '\\') != NULL;
    if (!strBufAppendStr(out, escaped ? "E'" : "'", err))
        return false;
    for (const char *special; (special = strpbrk(text, escaped ? "'\\" : "'")) != NULL; text = special + 1) {
        if (!strBufAppend(out, text, (size_t)(special - text) + 1, err) || !strBufAppendChar(out, *special, err))
            return false;
    }
    return strBufAppendStr(out, text, err) && strBufAppendChar(out, '\'', err);
}
