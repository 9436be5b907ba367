/*
 * bitmap.h: tagscrm.customer_set (src/bitmap.c) for the other C files.
 * Every roaring object is held by a BitmapOwner, registered with the memory
 * context current when it was made, which frees the bitmap if that context
 * is reset or deleted first (CRoaring 0.2.66 allocates with malloc).
 */
#ifndef TAGSCRM_BITMAP_H
#define TAGSCRM_BITMAP_H

#include "postgres.h"

#include <roaring/roaring.h>

/* The datum: a varlena holding roaring's portable serialization */
typedef struct varlena CustomerSet;

#define PG_GETARG_CUSTOMER_SET(n) ((CustomerSet *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

typedef struct BitmapOwner
{
	roaring_bitmap_t *bitmap;	/* NULL once released */
	MemoryContextCallback callback;
} BitmapOwner;

extern BitmapOwner *BitmapOwnerNew(void);
extern BitmapOwner *BitmapOwn(roaring_bitmap_t *bitmap);
extern BitmapOwner *BitmapEmpty(void);
extern void BitmapReplace(BitmapOwner *owner, roaring_bitmap_t *bitmap);
extern void BitmapRelease(BitmapOwner *owner);
extern BitmapOwner *BitmapFromDatum(CustomerSet *set);

/* a := a op b */
typedef enum BitmapOp
{
	BITMAP_AND,
	BITMAP_OR,
	BITMAP_ANDNOT
} BitmapOp;
extern void BitmapCombine(roaring_bitmap_t *a, const roaring_bitmap_t *b, BitmapOp op);
extern CustomerSet *BitmapToDatum(BitmapOwner *owner);

#endif							/* TAGSCRM_BITMAP_H */
