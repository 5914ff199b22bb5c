/* A bump allocator: a parsed spec is hundreds of small objects that live and die together, so they come
 * from a few large chunks and are released with one call instead of one free() each. Internal to spec/. */
#ifndef BRIG_SPEC_ARENA_H
#define BRIG_SPEC_ARENA_H

#include <stddef.h>

struct brig_arena;

/* `hint` sizes the first chunk; a good guess makes the whole parse one malloc(). */
struct brig_arena *brig_arena_new(size_t hint);
void brig_arena_free(struct brig_arena *arena);
/* Zeroed memory aligned for any type; NULL when out of memory. */
void *brig_arena_zalloc(struct brig_arena *arena, size_t size);
/* Uninitialised memory (for strings, which are written at once). */
void *brig_arena_alloc(struct brig_arena *arena, size_t size);
char *brig_arena_strndup(struct brig_arena *arena, const char *s, size_t len);

#endif
