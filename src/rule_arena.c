/*
 * rule_arena.c: the memory of one parsed rule.  Every allocation of a tree
 * comes from its arena, fed by the caller's allocator hooks in blocks, and
 * the whole tree is freed at once; a failed allocation is a NULL result,
 * never a throw (see rule.h).
 *
 * Standard C only (see rule.h).
 */
#include "rule_parse.h"

#include <string.h>

typedef struct RuleArenaBlock
{
	struct RuleArenaBlock *next;
	size_t		size;
	size_t		used;
	/* data follows, aligned to 16 */
} RuleArenaBlock;

struct RuleArena
{
	RuleAllocator allocator;
	RuleArenaBlock *blocks;
	size_t		total;
};

#define ARENA_HEADER	((sizeof(RuleArenaBlock) + 15) & ~(size_t) 15)
#define ARENA_BLOCK		8192
/* Hard cap on arena memory for one rule; far above what the limits allow */
#define ARENA_MAX		((size_t) 256 * 1024 * 1024)

/* A new, empty arena; NULL when out of memory */
RuleArena *
RuleArenaCreate(const RuleAllocator *allocator)
{
	RuleArena  *arena = allocator->alloc(sizeof(RuleArena), allocator->arg);

	if (arena == NULL)
		return NULL;
	memset(arena, 0, sizeof(*arena));
	arena->allocator = *allocator;
	return arena;
}

/* Allocates n zeroed bytes from the arena; NULL when out of memory */
void *
RuleArenaAlloc(RuleArena *arena, size_t n)
{
	RuleArenaBlock *b = arena->blocks;
	void	   *result;

	n = (n + 15) & ~(size_t) 15;
	if (n == 0)
		n = 16;
	if (b == NULL || b->size - b->used < n)
	{
		size_t		size = n > ARENA_BLOCK - ARENA_HEADER ? n + ARENA_HEADER : ARENA_BLOCK;

		if (n > ARENA_MAX || arena->total + size > ARENA_MAX)
			return NULL;
		b = arena->allocator.alloc(size, arena->allocator.arg);
		if (b == NULL)
			return NULL;
		b->size = size - ARENA_HEADER;
		b->used = 0;
		arena->total += size;
		/* keep the emptier block in front */
		if (arena->blocks != NULL && size != ARENA_BLOCK)
		{
			b->next = arena->blocks->next;
			arena->blocks->next = b;
		}
		else
		{
			b->next = arena->blocks;
			arena->blocks = b;
		}
	}
	result = (char *) b + ARENA_HEADER + b->used;
	b->used += n;
	memset(result, 0, n);
	return result;
}

/* Frees every block, then the arena itself */
void
RuleArenaFree(RuleArena *arena)
{
	RuleArenaBlock *b = arena->blocks;
	RuleAllocator allocator = arena->allocator;

	while (b != NULL)
	{
		RuleArenaBlock *next = b->next;

		allocator.free(b, allocator.arg);
		b = next;
	}
	allocator.free(arena, allocator.arg);
}
