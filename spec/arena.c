#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN alignof(max_align_t)
#define ARENA_MIN_CHUNK 4096

struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    alignas(ARENA_ALIGN) unsigned char data[];
};

/* The arena's own header lives at the start of its first chunk. */
struct brig_arena {
    struct chunk *head;
};

static size_t align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

static struct chunk *chunk_new(size_t cap)
{
    struct chunk *c;

    if (cap > SIZE_MAX - sizeof(*c))
        return NULL;
    c = malloc(sizeof(*c) + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->used = 0;
    c->cap = cap;
    return c;
}

struct brig_arena *brig_arena_new(size_t hint)
{
    struct brig_arena *arena;
    struct chunk *c;

    if (hint < ARENA_MIN_CHUNK)
        hint = ARENA_MIN_CHUNK;
    c = chunk_new(align_up(hint));
    if (!c)
        return NULL;
    arena = (struct brig_arena *) c->data;
    c->used = align_up(sizeof(*arena));
    arena->head = c;
    return arena;
}

void brig_arena_free(struct brig_arena *arena)
{
    struct chunk *c;

    if (!arena)
        return;
    /* Read the list head before the chunk holding `arena` is released (it is the last one). */
    c = arena->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

void *brig_arena_alloc(struct brig_arena *arena, size_t size)
{
    struct chunk *c = arena->head;
    void *p;

    size = align_up(size ? size : 1);
    if (size > c->cap - c->used) {
        size_t cap = c->cap * 2;
        if (cap < size)
            cap = size;
        c = chunk_new(cap);
        if (!c)
            return NULL;
        c->next = arena->head;
        arena->head = c;
    }
    p = c->data + c->used;
    c->used += size;
    return p;
}

void *brig_arena_zalloc(struct brig_arena *arena, size_t size)
{
    void *p = brig_arena_alloc(arena, size);

    if (p)
        memset(p, 0, size);
    return p;
}

char *brig_arena_strndup(struct brig_arena *arena, const char *s, size_t len)
{
    char *p = brig_arena_alloc(arena, len + 1);

    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}
