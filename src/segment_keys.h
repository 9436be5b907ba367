/*
 * segment_keys.h: prepared queries kept per backend, and the backend's
 * cache of customer ids by key (src/segment_keys.c), for src/segment.c.
 */
#ifndef TAGSCRM_SEGMENT_KEYS_H
#define TAGSCRM_SEGMENT_KEYS_H

#include "postgres.h"

#include "executor/spi.h"
#include "storage/itemptr.h"

#include <roaring/roaring.h>

/* A query prepared once per backend; "@s@" in sql stands for the schema */
typedef struct SegmentPlan
{
	const char *sql;
	int			nargs;
	Oid			types[2];
	SPIPlanPtr	plan;			/* kept (SPI_keepplan), or NULL */
	char	   *schema;			/* the schema it was prepared for */
} SegmentPlan;

extern SPIPlanPtr SegmentPlanGet(SegmentPlan *plan, const char *schema);

/* The key -> id cache; all three need SPI connected */
extern void KeyCacheValidate(Oid nsp);
extern void KeyCacheResolve(const char *schema, const uint32 *keys, uint64 n);
extern struct varlena *KeyCacheId(uint32 key);

/* Decoded tag bases by row version, lent to evaluations while they pin the cache */
extern void BaseCachePin(void);
extern void BaseCacheUnpin(void);
extern const roaring_bitmap_t *BaseCacheGet(Oid relfilenode, int32 tag_id, TransactionId xmin, ItemPointer tid);
extern bool BaseCacheAdopt(Oid relfilenode, int32 tag_id, TransactionId xmin, ItemPointer tid,
						   roaring_bitmap_t *bitmap);

#endif							/* TAGSCRM_SEGMENT_KEYS_H */
