/*
 * set_term.h: an expression over customer sets (src/set_term.c), evaluated
 * 65,536 keys at a time.
 */
#ifndef TAGSCRM_SET_TERM_H
#define TAGSCRM_SET_TERM_H

#include "bitmap.h"

typedef struct SetTerm
{
	const roaring_bitmap_t *leaf;	/* a leaf: its set, read, never changed */
	int32		next;			/* a leaf: the container index reached */
	BitmapOp	op;				/* not a leaf: left op right */
	struct SetTerm *left;
	struct SetTerm *right;
} SetTerm;

/* A scan of a term's keys in increasing order */
typedef struct SetTermScan
{
	SetTerm    *root;
	uint64	  **bufs;			/* one chunk per level of the term */
	int			nbufs;
	uint8	   *highs;			/* the chunks some leaf has */
	uint32		high;			/* the chunk being read */
	const uint64 *chunk;		/* its words (a leaf's, or bufs[0]); NULL: not read yet */
	uint32		bit;			/* the next bit of it to read */
} SetTermScan;

extern SetTerm *SetTermLeaf(const roaring_bitmap_t *leaf);
extern SetTerm *SetTermOp(BitmapOp op, SetTerm *left, SetTerm *right);
extern uint64 SetTermCount(SetTerm *term);
extern BitmapOwner *SetTermBitmap(const SetTerm *term);
extern void SetTermScanBegin(SetTermScan *scan, SetTerm *term, uint32 start);
extern uint32 SetTermScanRead(SetTermScan *scan, uint32 *keys, uint32 max);

#endif							/* TAGSCRM_SET_TERM_H */
