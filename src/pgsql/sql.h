/* The SQL the operator writes, as data: batches of steps (one connection to one database each, see session.h for how
 * they run) and the quoting of identifiers and literals. Pure: nothing here talks to a database, so builders of SQL
 * (postgres/users.c) may use it. */
#ifndef PGSQL_SQL_H
#define PGSQL_SQL_H

#include "common/error.h"
#include "common/strbuf.h"

#include <stddef.h>

#define PG_IDENTIFIER_MAX 63 /* NAMEDATALEN - 1: longer names would be truncated by the server */

typedef struct PgStep {
    const char *sql;    /* one statement, or several separated by semicolons (then one implicit transaction) */
    const char *unless; /* NULL, or a query: when it returns at least one row, sql is skipped */
    const char *secret; /* NULL, or text inside sql that no error message may show */
} PgStep;

typedef struct PgBatch {
    const char *dbname;
    const PgStep *steps;
    size_t count;
} PgBatch;

/* Appends ident as a quoted identifier: "ident", with each double quote doubled. errInvalidArgument when ident is
 * empty or longer than PG_IDENTIFIER_MAX bytes. */
bool pgQuoteIdent(StrBuf *out, const char *ident, Err *err) MUST_CHECK;

/* Appends text as a string literal that reads the same whatever standard_conforming_strings is: 'text' with single
 * quotes doubled, or E'text' with backslashes doubled too when text has a backslash. */
bool pgQuoteLiteral(StrBuf *out, const char *text, Err *err) MUST_CHECK;

#endif
