/* Memory contexts: a tree of allocation owners.
 *
 * Every allocation belongs to a context; freeing a context frees its whole subtree, children first, and runs the
 * callbacks registered on each context (to close sockets, curl handles, json values) before its memory goes. An
 * object that owns resources gets its own context, so "free the object" is one call and cannot miss a field.
 *
 * Allocation functions return NULL when memory runs out (or a test injects a failure, see alloc.h); callers report
 * errOutOfMemory. A context's memory is only ever freed by memCtxFree on it or an ancestor, or by memCtxRelease on a
 * single block. */
#ifndef COMMON_MEMCTX_H
#define COMMON_MEMCTX_H

#include "common/error.h"

#include <stdarg.h>
#include <stddef.h>

typedef struct MemCtx MemCtx;

typedef void MemCtxCallback(void *arg);

/* A new, empty context, child of parent (NULL makes a root the caller must free). name must be a string literal or
 * otherwise outlive the context; it shows in debugging only. NULL when out of memory. */
MemCtx *memCtxNew(MemCtx *parent, const char *name);

/* Runs the callbacks of ctx's subtree (deepest first, each context's in reverse order of registration), frees every
 * block and context of it and detaches ctx from its parent. NULL is a no-op. */
void memCtxFree(MemCtx *ctx);

/* Frees all of ctx's blocks, children and callbacks (running the callbacks) but keeps ctx itself, for scratch
 * contexts recycled once per loop iteration. */
void memCtxReset(MemCtx *ctx);

/* Moves ctx (and its subtree) under newParent, so it lives as long as newParent. */
void memCtxMove(MemCtx *ctx, MemCtx *newParent);

MemCtx *memCtxParent(const MemCtx *ctx);
const char *memCtxName(const MemCtx *ctx);

/* Bytes currently allocated in ctx and its subtree (payload only, not bookkeeping). */
size_t memCtxTotalBytes(const MemCtx *ctx);

/* size bytes owned by ctx, zero-filled. NULL when out of memory. */
void *memCtxAlloc(MemCtx *ctx, size_t size) MUST_CHECK;

/* Resizes a block of ctx (ptr NULL allocates). On failure returns NULL and the old block is untouched. */
void *memCtxResize(MemCtx *ctx, void *ptr, size_t size) MUST_CHECK;

/* Frees one block early. NULL is a no-op. */
void memCtxRelease(void *ptr);

/* Copies owned by ctx. NULL when out of memory; memCtxStrNDup copies at most len bytes and terminates. */
char *memCtxStrDup(MemCtx *ctx, const char *str) MUST_CHECK;
char *memCtxStrNDup(MemCtx *ctx, const char *str, size_t len) MUST_CHECK;
void *memCtxMemDup(MemCtx *ctx, const void *data, size_t len) MUST_CHECK;
char *memCtxPrintf(MemCtx *ctx, const char *format, ...) PRINTF_LIKE(2, 3) MUST_CHECK;

/* Registers fn(arg) to run when ctx is freed or reset. false when out of memory (fn is then not registered, so the
 * caller must release the resource itself). */
bool memCtxOnFree(MemCtx *ctx, MemCtxCallback *fn, void *arg) MUST_CHECK;

#endif
