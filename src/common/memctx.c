/* Memory contexts.
 *
 * A context is a node in a tree: a parent pointer, an intrusive doubly-linked list of children, a doubly-linked list
 * of blocks, and a singly-linked stack of callbacks. Each block carries a header in front of the pointer handed out,
 * holding its owner and list links, so a single block can be resized or released in O(1) and the whole context freed
 * by walking its list.
 *
 * Freeing runs callbacks before any memory of the subtree is released, deepest contexts first: a callback may read
 * the object it closes (a connection struct, say) even when that object lives in an ancestor of the callback's
 * context. Callbacks must not free or allocate in the context being freed.
 *
 * The header is padded to max_align_t so every returned pointer is suitably aligned for any type. */
#include "common/memctx.h"

#include "common/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct MemBlock {
    union {
        struct {
            MemCtx *owner;
            struct MemBlock *prev;
            struct MemBlock *next;
            size_t size;
        } hdr;
        max_align_t align;
    };
} MemBlock;

typedef struct MemCallback {
    MemCtxCallback *fn;
    void *arg;
    struct MemCallback *next;
} MemCallback;

struct MemCtx {
    const char *name;
    MemCtx *parent;
    MemCtx *firstChild;
    MemCtx *prevSibling;
    MemCtx *nextSibling;
    MemBlock *blocks;
    MemCallback *callbacks;
    size_t bytes;
};

static void memCtxLink(MemCtx *ctx, MemCtx *parent)
{
    ctx->parent = parent;
    ctx->prevSibling = NULL;
    ctx->nextSibling = NULL;
    if (parent == NULL)
        return;
    ctx->nextSibling = parent->firstChild;
    if (parent->firstChild != NULL)
        parent->firstChild->prevSibling = ctx;
    parent->firstChild = ctx;
}

static void memCtxUnlink(MemCtx *ctx)
{
    if (ctx->parent == NULL)
        return;
    if (ctx->prevSibling != NULL)
        ctx->prevSibling->nextSibling = ctx->nextSibling;
    else
        ctx->parent->firstChild = ctx->nextSibling;
    if (ctx->nextSibling != NULL)
        ctx->nextSibling->prevSibling = ctx->prevSibling;
    ctx->parent = NULL;
}

MemCtx *memCtxNew(MemCtx *parent, const char *name)
{
    MemCtx *ctx = allocRaw(sizeof(*ctx));
    if (ctx == NULL)
        return NULL;
    *ctx = (MemCtx){.name = name};
    memCtxLink(ctx, parent);
    return ctx;
}

/* Runs, then forgets, the callbacks of ctx's subtree; memory is left for memCtxFreeBlocks. */
static void memCtxRunCallbacks(MemCtx *ctx)
{
    for (MemCtx *child = ctx->firstChild; child != NULL; child = child->nextSibling)
        memCtxRunCallbacks(child);
    while (ctx->callbacks != NULL) {
        MemCallback *callback = ctx->callbacks;
        ctx->callbacks = callback->next;
        callback->fn(callback->arg);
        allocFree(callback);
    }
}

/* Frees the blocks and child contexts of ctx (whose callbacks have run), keeping ctx. */
static void memCtxFreeContents(MemCtx *ctx)
{
    while (ctx->firstChild != NULL) {
        MemCtx *child = ctx->firstChild;
        memCtxUnlink(child);
        memCtxFreeContents(child);
        allocFree(child);
    }
    while (ctx->blocks != NULL) {
        MemBlock *block = ctx->blocks;
        ctx->blocks = block->hdr.next;
        allocFree(block);
    }
    ctx->bytes = 0;
}

void memCtxFree(MemCtx *ctx)
{
    if (ctx == NULL)
        return;
    memCtxRunCallbacks(ctx);
    memCtxUnlink(ctx);
    memCtxFreeContents(ctx);
    allocFree(ctx);
}

void memCtxReset(MemCtx *ctx)
{
    memCtxRunCallbacks(ctx);
    memCtxFreeContents(ctx);
}

void memCtxMove(MemCtx *ctx, MemCtx *newParent)
{
    memCtxUnlink(ctx);
    memCtxLink(ctx, newParent);
}

MemCtx *memCtxParent(const MemCtx *ctx)
{
    return ctx->parent;
}

const char *memCtxName(const MemCtx *ctx)
{
    return ctx->name;
}

size_t memCtxTotalBytes(const MemCtx *ctx)
{
    size_t total = ctx->bytes;
    for (const MemCtx *child = ctx->firstChild; child != NULL; child = child->nextSibling)
        total += memCtxTotalBytes(child);
    return total;
}

static void memBlockLink(MemCtx *ctx, MemBlock *block, size_t size)
{
    block->hdr.owner = ctx;
    block->hdr.size = size;
    block->hdr.prev = NULL;
    block->hdr.next = ctx->blocks;
    if (ctx->blocks != NULL)
        ctx->blocks->hdr.prev = block;
    ctx->blocks = block;
    ctx->bytes += size;
}

static void memBlockUnlink(MemBlock *block)
{
    MemCtx *ctx = block->hdr.owner;
    if (block->hdr.prev != NULL)
        block->hdr.prev->hdr.next = block->hdr.next;
    else
        ctx->blocks = block->hdr.next;
    if (block->hdr.next != NULL)
        block->hdr.next->hdr.prev = block->hdr.prev;
    ctx->bytes -= block->hdr.size;
}

static MemBlock *memBlockOf(void *ptr)
{
    return (MemBlock *)ptr - 1;
}

void *memCtxAlloc(MemCtx *ctx, size_t size)
{
    if (size > SIZE_MAX - sizeof(MemBlock))
        return NULL;
    MemBlock *block = allocRaw(sizeof(MemBlock) + size);
    if (block == NULL)
        return NULL;
    memBlockLink(ctx, block, size);
    memset(block + 1, 0, size);
    return block + 1;
}

void *memCtxResize(MemCtx *ctx, void *ptr, size_t size)
{
    if (ptr == NULL)
        return memCtxAlloc(ctx, size);
    if (size > SIZE_MAX - sizeof(MemBlock))
        return NULL;
    MemBlock *old = memBlockOf(ptr);
    /* Unlink first: realloc may move the block, leaving the neighbours' links dangling. */
    memBlockUnlink(old);
    MemBlock *block = allocRawResize(old, sizeof(MemBlock) + size);
    if (block == NULL) {
        memBlockLink(old->hdr.owner, old, old->hdr.size);
        return NULL;
    }
    memBlockLink(block->hdr.owner, block, size);
    return block + 1;
}

void memCtxRelease(void *ptr)
{
    if (ptr == NULL)
        return;
    MemBlock *block = memBlockOf(ptr);
    memBlockUnlink(block);
    allocFree(block);
}

void *memCtxMemDup(MemCtx *ctx, const void *data, size_t len)
{
    void *copy = memCtxAlloc(ctx, len);
    if (copy != NULL && len > 0)
        memcpy(copy, data, len);
    return copy;
}

char *memCtxStrNDup(MemCtx *ctx, const char *str, size_t len)
{
    len = strnlen(str, len);
    char *copy = memCtxAlloc(ctx, len + 1);
    if (copy != NULL)
        memcpy(copy, str, len);
    return copy;
}

char *memCtxStrDup(MemCtx *ctx, const char *str)
{
    return memCtxStrNDup(ctx, str, SIZE_MAX);
}

char *memCtxPrintf(MemCtx *ctx, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int needed = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (needed < 0)
        return NULL;

    char *out = memCtxAlloc(ctx, (size_t)needed + 1);
    if (out == NULL)
        return NULL;
    va_start(args, format);
    vsnprintf(out, (size_t)needed + 1, format, args);
    va_end(args);
    return out;
}

bool memCtxOnFree(MemCtx *ctx, MemCtxCallback *fn, void *arg)
{
    MemCallback *callback = allocRaw(sizeof(*callback));
    if (callback == NULL)
        return false;
    *callback = (MemCallback){.fn = fn, .arg = arg, .next = ctx->callbacks};
    ctx->callbacks = callback;
    return true;
}
