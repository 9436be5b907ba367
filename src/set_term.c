/*
 * set_term.c: an expression over customer sets (and, or, and not), counted
 * or listed 65,536 keys at a time.
 *
 * CRoaring evaluates "a and b and not c" one operation at a time, each
 * making a whole new bitmap; where a result falls below 4,096 keys in a
 * chunk it becomes a sorted array, and the next operation merges arrays
 * element by element (for three tags of 1,000,000 customers most of the
 * time went there).  Here each chunk of the result is computed at once as
 * 1,024 words, leaf containers read in place (an array or a run container
 * is spread into a word buffer first), and nothing else is built: a count
 * sums the words' bits, a listing reads the keys of one chunk after
 * another and stops at the page's end, so a first page reads only the
 * chunks it needs.
 *
 * CRoaring 0.2.66 has no way to read a bitmap container by container, so
 * this reads its containers through the headers it installs (roaring.h's
 * roaring_array_t, the headers under containers/).  Later releases make those private: the
 * build refuses another version rather than read a layout it does not know.
 */
#include "postgres.h"

#include <roaring/roaring.h>
#include <roaring/roaring_version.h>
#include <roaring/containers/containers.h>

#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "set_term.h"

StaticAssertDecl(ROARING_VERSION_MAJOR == 0 && ROARING_VERSION_MINOR == 2,
				 "src/set_term.c reads CRoaring 0.2's containers: check their layout in this version first");

#define CHUNK_KEYS	65536
#define CHUNK_WORDS (CHUNK_KEYS / 64)
#define CHUNK_BYTES (CHUNK_WORDS * sizeof(uint64))
#define HIGHS		65536		/* chunks of 32-bit keys */

SetTerm *
SetTermLeaf(const roaring_bitmap_t *leaf)
{
	SetTerm    *t = palloc0(sizeof(SetTerm));

	t->leaf = leaf;
	return t;
}

SetTerm *
SetTermOp(BitmapOp op, SetTerm *left, SetTerm *right)
{
	SetTerm    *t = palloc0(sizeof(SetTerm));

	t->op = op;
	t->left = left;
	t->right = right;
	return t;
}

/* Sets bits start to end (inclusive) of a chunk */
static void
SetRange(uint64 *words, uint32 start, uint32 end)
{
	uint32		first = start >> 6;
	uint32		last = end >> 6;
	uint64		first_mask = ~UINT64CONST(0) << (start & 63);
	uint64		last_mask = ~UINT64CONST(0) >> (63 - (end & 63));
	uint32		i;

	if (first == last)
	{
		words[first] |= first_mask & last_mask;
		return;
	}
	words[first] |= first_mask;
	for (i = first + 1; i < last; i++)
		words[i] = ~UINT64CONST(0);
	words[last] |= last_mask;
}

/*
 * A leaf's chunk as words: its bitset container itself, or buf filled from
 * an array or run container; NULL if the leaf has nothing there.  Chunks
 * are asked for in increasing order, so the leaf's cursor only moves on.
 */
static const uint64 *
LeafChunk(SetTerm *t, uint16 high, uint64 *buf)
{
	const roaring_array_t *ra = &t->leaf->high_low_container;
	const void *c;
	uint8		type;

	while (t->next < ra->size && ra->keys[t->next] < high)
		t->next++;
	if (t->next >= ra->size || ra->keys[t->next] != high)
		return NULL;
	c = ra->containers[t->next];
	type = ra->typecodes[t->next];
	if (type == SHARED_CONTAINER_TYPE_CODE)
	{
		type = ((const shared_container_t *) c)->typecode;
		c = ((const shared_container_t *) c)->container;
	}
	switch (type)
	{
		case BITSET_CONTAINER_TYPE_CODE:
			return ((const bitset_container_t *) c)->array;
		case ARRAY_CONTAINER_TYPE_CODE:
			{
				const array_container_t *a = c;
				int32		i;

				memset(buf, 0, CHUNK_BYTES);
				for (i = 0; i < a->cardinality; i++)
					buf[a->array[i] >> 6] |= UINT64CONST(1) << (a->array[i] & 63);
				return buf;
			}
		case RUN_CONTAINER_TYPE_CODE:
			{
				const run_container_t *r = c;
				int32		i;

				memset(buf, 0, CHUNK_BYTES);
				for (i = 0; i < r->n_runs; i++)
					SetRange(buf, r->runs[i].value, (uint32) r->runs[i].value + r->runs[i].length);
				return buf;
			}
	}
	elog(ERROR, "unknown roaring container type %d", (int) type);
	return NULL;
}

/*
 * A term's chunk: a leaf's words or bufs[level] (never a deeper buffer, so
 * that the caller's other operand may use those); NULL if certainly empty.
 */
static const uint64 *
TermChunk(SetTerm *t, uint16 high, uint64 **bufs, int level)
{
	const uint64 *a;
	const uint64 *b;
	uint64	   *out = bufs[level];
	int			i;

	if (t->leaf != NULL)
		return LeafChunk(t, high, out);
	a = TermChunk(t->left, high, bufs, level);
	if (a == NULL && t->op != BITMAP_OR)
		return NULL;
	b = TermChunk(t->right, high, bufs, level + 1);
	if (b == NULL)
		return t->op == BITMAP_AND ? NULL : a;
	if (a == NULL)
	{
		/* or, the left side empty: the right side's words, at this level */
		if (b != bufs[level + 1])
			return b;
		memcpy(out, b, CHUNK_BYTES);
		return out;
	}
	switch (t->op)
	{
		case BITMAP_AND:
			for (i = 0; i < CHUNK_WORDS; i++)
				out[i] = a[i] & b[i];
			break;
		case BITMAP_OR:
			for (i = 0; i < CHUNK_WORDS; i++)
				out[i] = a[i] | b[i];
			break;
		case BITMAP_ANDNOT:
			for (i = 0; i < CHUNK_WORDS; i++)
				out[i] = a[i] & ~b[i];
			break;
	}
	return out;
}

/* Buffers a term's evaluation uses: its own, and its right side's one deeper */
static int
TermLevels(const SetTerm *t)
{
	int			left;
	int			right;

	check_stack_depth();
	if (t->leaf != NULL)
		return 1;
	left = TermLevels(t->left);
	right = 1 + TermLevels(t->right);
	return Max(left, right);
}

/* Rewinds the leaves' cursors and marks the chunks any leaf has */
static void
TermPrepare(SetTerm *t, uint8 *highs)
{
	const roaring_array_t *ra;
	int32		i;

	if (t->leaf == NULL)
	{
		TermPrepare(t->left, highs);
		TermPrepare(t->right, highs);
		return;
	}
	t->next = 0;
	ra = &t->leaf->high_low_container;
	for (i = 0; i < ra->size; i++)
		highs[ra->keys[i] >> 3] |= (uint8) (1 << (ra->keys[i] & 7));
}

void
SetTermScanBegin(SetTermScan *scan, SetTerm *term, uint32 start)
{
	int			i;

	memset(scan, 0, sizeof(*scan));
	scan->root = term;
	scan->nbufs = TermLevels(term);
	scan->bufs = palloc(scan->nbufs * sizeof(uint64 *));
	for (i = 0; i < scan->nbufs; i++)
		scan->bufs[i] = palloc(CHUNK_BYTES);
	scan->highs = palloc0(HIGHS / 8);
	TermPrepare(term, scan->highs);
	scan->high = start >> 16;
	scan->bit = start & (CHUNK_KEYS - 1);
}

/* Moves to the next chunk some leaf has, from scan->high on; false at the end */
static bool
NextHigh(SetTermScan *scan)
{
	while (scan->high < HIGHS && !(scan->highs[scan->high >> 3] & (1 << (scan->high & 7))))
	{
		scan->high++;
		scan->bit = 0;
	}
	return scan->high < HIGHS;
}

/* Reads up to max keys of the term from where the scan is, in order */
uint32
SetTermScanRead(SetTermScan *scan, uint32 *keys, uint32 max)
{
	uint32		n = 0;

	while (n < max && NextHigh(scan))
	{
		CHECK_FOR_INTERRUPTS();
		/* the chunk's words stay valid until the next TermChunk call */
		if (scan->chunk == NULL)
			scan->chunk = TermChunk(scan->root, (uint16) scan->high, scan->bufs, 0);
		while (scan->chunk != NULL && scan->bit < CHUNK_KEYS && n < max)
		{
			uint32		w = scan->bit >> 6;
			uint64		word = scan->chunk[w] & (~UINT64CONST(0) << (scan->bit & 63));
			uint32		low;

			if (word == 0)
			{
				scan->bit = (w + 1) << 6;
				continue;
			}
			low = (w << 6) | (uint32) pg_rightmost_one_pos64(word);
			keys[n++] = (scan->high << 16) | low;
			scan->bit = low + 1;
		}
		if (scan->chunk == NULL || scan->bit >= CHUNK_KEYS)
		{
			scan->chunk = NULL;
			scan->high++;
			scan->bit = 0;
		}
	}
	return n;
}

/* The number of keys of a term */
uint64
SetTermCount(SetTerm *term)
{
	SetTermScan scan;
	uint64		n = 0;

	if (term->leaf != NULL)
		return roaring_bitmap_get_cardinality(term->leaf);
	SetTermScanBegin(&scan, term, 0);
	while (NextHigh(&scan))
	{
		const uint64 *words = TermChunk(term, (uint16) scan.high, scan.bufs, 0);

		CHECK_FOR_INTERRUPTS();
		if (words != NULL)
			n += pg_popcount((const char *) words, CHUNK_BYTES);
		scan.high++;
	}
	return n;
}

/* A term's keys as a new bitmap, in the current memory context */
BitmapOwner *
SetTermBitmap(const SetTerm *term)
{
	BitmapOwner *a;
	BitmapOwner *b;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (term->leaf != NULL)
		return BitmapOwn(roaring_bitmap_copy(term->leaf));
	a = SetTermBitmap(term->left);
	b = SetTermBitmap(term->right);
	BitmapCombine(a->bitmap, b->bitmap, term->op);
	BitmapRelease(b);
	return a;
}
