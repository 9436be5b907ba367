/*
 * segment_keys.c: what makes reading segments cheap in a backend that reads
 * them often (docs/segments.md, "Performance").
 *
 * Prepared queries.  Each query the segment evaluator runs is prepared once
 * per backend (SPI_keepplan) instead of parsed and planned at every call;
 * the plan cache replans it when a table it reads changes.
 *
 * The key -> id cache.  segment_members lists members in key order (the
 * bitmap's own order) and maps each key to its customer id from a cache
 * kept for the life of the backend.  A key is given once and never again
 * (customer_key_seq never cycles), and a key's row is never updated: the id
 * of a key is a fact that never changes, so an entry, once read, holds in
 * every snapshot in which the key exists at all; and a key that is in a set
 * read in a snapshot exists in that snapshot (the set's log row was written
 * by, or after, the transaction that gave the key).  Entries of a
 * transaction that rolled back are never asked for again: their keys are
 * not reused.  Nothing has to be invalidated but the whole, when keys start
 * over: that needs a new customer_key (DROP and CREATE EXTENSION) or a
 * TRUNCATE of it (with its customers), both of which give the table a new
 * relfilenode, which each call compares.  Missing entries are read on
 * demand, in the caller's snapshot: a key range when the keys missing are
 * dense in it (a cold backend listing a large segment), else by key.
 *
 * Decoded bases.  A tag's base set (tag_set_base) is kept decoded, by the
 * version of its row: the table's relfilenode, the tag, the row's xmin and
 * ctid.  A row version never changes, and no other version of any row gets
 * the same four (a ctid is reused only once the version there is dead to
 * everyone, by a later transaction; a rewrite gives a new relfilenode), so
 * a reader whose snapshot sees that version may use the decoded copy
 * instead of reading and decoding the value again.  It is lent, not
 * copied: see BaseCachePin.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "segment_keys.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* ------------------------------------------------------------------------
 * Prepared queries
 * ------------------------------------------------------------------------ */

static char *
WithSchema(const char *sql, const char *schema)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = sql; *p; p++)
	{
		if (p[0] == '@' && p[1] == 's' && p[2] == '@')
		{
			appendStringInfoString(&buf, schema);
			p += 2;
		}
		else
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/* The plan of a query, prepared at the first call of the backend */
SPIPlanPtr
SegmentPlanGet(SegmentPlan *p, const char *schema)
{
	SPIPlanPtr	plan;

	if (p->plan != NULL && strcmp(p->schema, schema) == 0)
		return p->plan;
	if (p->plan != NULL)
	{
		SPI_freeplan(p->plan);
		p->plan = NULL;
		pfree(p->schema);
	}
	/*
	 * A generic plan from the first call: each is an indexed lookup, which a
	 * custom plan would not improve, and a new connection would otherwise
	 * plan each query again at each of its first five calls.
	 */
	plan = SPI_prepare_cursor(WithSchema(p->sql, schema), p->nargs, p->types, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "segment query failed to prepare: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "segment query could not be kept");
	p->schema = MemoryContextStrdup(TopMemoryContext, schema);
	p->plan = plan;
	return plan;
}

/* ------------------------------------------------------------------------
 * The key -> id cache
 * ------------------------------------------------------------------------ */

/*
 * Slots by key in pages of 65,536 keys, made when a key of theirs is first
 * read: a few keys far apart (the last key is 2^31 - 1) cost a page each,
 * not an array up to the highest.
 */
#define SLOT_PAGE_BITS	16
#define SLOT_PAGE_KEYS	((uint32) 1 << SLOT_PAGE_BITS)
#define SLOT_PAGES		((uint32) 1 << (31 - SLOT_PAGE_BITS))	/* keys are below 2^31 */

typedef struct KeyCache
{
	MemoryContext cxt;
	Oid			relid;			/* customer_key when the entries were read */
	Oid			relfilenode;
	uint32	  **page;			/* SLOT_PAGES pages of slots, or NULL */
	/* a slot: 0 unknown, else 1 + offset in buf / 4 */
	char	   *buf;			/* the ids, as text varlenas, 4-aligned */
	Size		bufsize;
	Size		bufused;
} KeyCache;

static KeyCache cache;

static SegmentPlan range_plan = {
	"SELECT k.key, k.customer_id FROM @s@.customer_key k WHERE k.key BETWEEN $1 AND $2",
	2, {INT4OID, INT4OID}
};
static SegmentPlan any_plan = {
	"SELECT k.key, k.customer_id FROM @s@.customer_key k WHERE k.key = ANY ($1)",
	1, {INT4ARRAYOID}
};

static void
KeyCacheReset(void)
{
	if (cache.cxt == NULL)
		cache.cxt = AllocSetContextCreate(TopMemoryContext, "tagscrm customer key cache", ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(cache.cxt);
	cache.page = NULL;
	cache.buf = NULL;
	cache.bufsize = 0;
	cache.bufused = 0;
}

/*
 * Drops the entries if customer_key is not the table they were read from
 * (a new table, or the same truncated): the keys may have started over.
 */
void
KeyCacheValidate(Oid nsp)
{
	Oid			relid = get_relname_relid("customer_key", nsp);
	Relation	rel;
	Oid			relfilenode;

	if (!OidIsValid(relid))
		elog(ERROR, "table customer_key of tagscrm does not exist");
	rel = table_open(relid, AccessShareLock);
	relfilenode = rel->rd_node.relNode;
	table_close(rel, NoLock);
	if (cache.cxt == NULL || cache.relid != relid || cache.relfilenode != relfilenode)
	{
		KeyCacheReset();
		cache.relid = relid;
		cache.relfilenode = relfilenode;
	}
}

static void
KeyCachePut(uint32 key, struct varlena *id)
{
	struct varlena *t = pg_detoast_datum_packed(id);
	Size		len = VARSIZE_ANY_EXHDR(t);
	Size		need = INTALIGN(VARHDRSZ + len);

	uint32	   *slots;

	if (key >= SLOT_PAGES * SLOT_PAGE_KEYS)
		return;
	if (cache.page == NULL)
		cache.page = MemoryContextAllocZero(cache.cxt, SLOT_PAGES * sizeof(uint32 *));
	if (cache.page[key >> SLOT_PAGE_BITS] == NULL)
		cache.page[key >> SLOT_PAGE_BITS] = MemoryContextAllocZero(cache.cxt, SLOT_PAGE_KEYS * sizeof(uint32));
	slots = cache.page[key >> SLOT_PAGE_BITS];
	if (slots[key & (SLOT_PAGE_KEYS - 1)] != 0)
		return;
	if (cache.bufused + need > cache.bufsize)
	{
		Size		n = Max(cache.bufsize * 2, 65536);

		while (n < cache.bufused + need)
			n *= 2;
		if (n / 4 >= PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the cache of customer ids is full"),
					 errhint("It holds at most 16 GB of customer ids per backend; reconnect to empty it.")));
		if (cache.buf == NULL)
			cache.buf = MemoryContextAllocHuge(cache.cxt, n);
		else
			cache.buf = repalloc_huge(cache.buf, n);
		cache.bufsize = n;
	}
	SET_VARSIZE(cache.buf + cache.bufused, VARHDRSZ + len);
	memcpy(cache.buf + cache.bufused + VARHDRSZ, VARDATA_ANY(t), len);
	/* the slot last: an error before it leaves the entry unknown */
	slots[key & (SLOT_PAGE_KEYS - 1)] = (uint32) (cache.bufused / 4) + 1;
	cache.bufused += need;
	if ((Pointer) t != (Pointer) id)
		pfree(t);
}

static void
PutRows(SPITupleTable *tuptable, uint64 n)
{
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		knull;
		bool		inull;
		Datum		k = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &knull);
		Datum		id = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &inull);

		if (!knull && !inull && DatumGetInt32(k) >= 0)
			KeyCachePut((uint32) DatumGetInt32(k), (struct varlena *) DatumGetPointer(id));
	}
}

/* The slot of a key: 0 if unknown */
static inline uint32
Slot(uint32 key)
{
	const uint32 *slots;

	if (cache.page == NULL || key >= SLOT_PAGES * SLOT_PAGE_KEYS)
		return 0;
	slots = cache.page[key >> SLOT_PAGE_BITS];
	return slots == NULL ? 0 : slots[key & (SLOT_PAGE_KEYS - 1)];
}

static inline bool
Known(uint32 key)
{
	return Slot(key) != 0;
}

/*
 * Reads the entries of these keys (increasing) that the cache lacks, in the
 * caller's snapshot.  A key still unknown afterwards does not exist in it.
 */
void
KeyCacheResolve(const char *schema, const uint32 *keys, uint64 n)
{
	uint64		nmiss = 0;
	uint32		lo = 0;
	uint32		hi = 0;
	uint64		i;

	for (i = 0; i < n; i++)
		if (!Known(keys[i]))
		{
			if (nmiss++ == 0)
				lo = keys[i];
			hi = keys[i];
		}
	if (nmiss == 0)
		return;
	if (nmiss * 8 >= (uint64) hi - lo + 1)
	{
		/* dense: the whole range, a batch at a time */
		Datum		values[2] = {Int32GetDatum((int32) lo), Int32GetDatum((int32) hi)};
		Portal		portal = SPI_cursor_open(NULL, SegmentPlanGet(&range_plan, schema), values, NULL, true);

		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			SPI_cursor_fetch(portal, true, 10000);
			if (SPI_processed == 0)
				break;
			PutRows(SPI_tuptable, SPI_processed);
			SPI_freetuptable(SPI_tuptable);
		}
		SPI_cursor_close(portal);
	}
	else
	{
		Datum	   *elems = palloc(nmiss * sizeof(Datum));
		uint64		m = 0;
		ArrayType  *arr;
		Datum		values[1];

		for (i = 0; i < n; i++)
			if (!Known(keys[i]))
				elems[m++] = Int32GetDatum((int32) keys[i]);
		arr = construct_array(elems, (int) m, INT4OID, 4, true, TYPALIGN_INT);
		values[0] = PointerGetDatum(arr);
		if (SPI_execute_plan(SegmentPlanGet(&any_plan, schema), values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "customer key lookup failed");
		PutRows(SPI_tuptable, SPI_processed);
		SPI_freetuptable(SPI_tuptable);
		pfree(arr);
		pfree(elems);
	}
}

/* The id of a key (a text varlena in the cache), or NULL if unknown */
struct varlena *
KeyCacheId(uint32 key)
{
	uint32		slot = Slot(key);

	if (slot == 0)
		return NULL;
	return (struct varlena *) (cache.buf + (Size) (slot - 1) * 4);
}

/* ------------------------------------------------------------------------
 * Decoded bases
 * ------------------------------------------------------------------------ */

#define BASE_CACHE_BYTES ((Size) 256 * 1024 * 1024)	/* past this, start over */

typedef struct BaseKey
{
	Oid			relfilenode;
	int32		tag_id;
} BaseKey;

typedef struct BaseEntry
{
	BaseKey		key;
	TransactionId xmin;
	ItemPointerData tid;
	roaring_bitmap_t *bitmap;	/* malloc'ed by CRoaring; NULL: none */
	Size		bytes;
	uint64		lent_in;		/* the pinned period it was last lent in */
} BaseEntry;

static HTAB *base_cache;
static Size base_bytes;

/*
 * Evaluations borrow the decoded bases instead of copying them: while any
 * is running (pinned), no entry lent in the current pinned period is
 * freed, and a cache past its size is emptied only once none runs.
 */
static int	base_pins;
static uint64 base_period;
static bool base_clear_pending;

static void
BaseCacheClear(void)
{
	HASH_SEQ_STATUS seq;
	BaseEntry  *entry;

	if (base_cache == NULL)
		return;
	hash_seq_init(&seq, base_cache);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (entry->bitmap != NULL)
			roaring_bitmap_free(entry->bitmap);
	hash_destroy(base_cache);
	base_cache = NULL;
	base_bytes = 0;
}

void
BaseCachePin(void)
{
	if (base_pins++ == 0)
		base_period++;
}

void
BaseCacheUnpin(void)
{
	Assert(base_pins > 0);
	if (--base_pins == 0 && base_clear_pending)
	{
		base_clear_pending = false;
		BaseCacheClear();
	}
}

/* The decoded base of this row version, lent until the pin ends; or NULL */
const roaring_bitmap_t *
BaseCacheGet(Oid relfilenode, int32 tag_id, TransactionId xmin, ItemPointer tid)
{
	BaseKey		key;
	BaseEntry  *entry;

	Assert(base_pins > 0);
	if (base_cache == NULL)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.relfilenode = relfilenode;
	key.tag_id = tag_id;
	entry = hash_search(base_cache, &key, HASH_FIND, NULL);
	if (entry == NULL || entry->bitmap == NULL || entry->xmin != xmin || !ItemPointerEquals(&entry->tid, tid))
		return NULL;
	entry->lent_in = base_period;
	return entry->bitmap;
}

/*
 * Keeps a decoded base of this row version: true if the cache took the
 * bitmap (it is then lent, as by BaseCacheGet), false if the caller keeps it.
 */
bool
BaseCacheAdopt(Oid relfilenode, int32 tag_id, TransactionId xmin, ItemPointer tid, roaring_bitmap_t *bitmap)
{
	BaseKey		key;
	BaseEntry  *entry;
	bool		found;
	Size		bytes = roaring_bitmap_portable_size_in_bytes(bitmap);

	Assert(base_pins > 0);
	if (bytes > BASE_CACHE_BYTES / 4)
		return false;
	if (base_bytes + bytes > BASE_CACHE_BYTES)
	{
		base_clear_pending = true;
		return false;
	}
	if (base_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(BaseKey);
		ctl.entrysize = sizeof(BaseEntry);
		ctl.hcxt = TopMemoryContext;
		base_cache = hash_create("tagscrm decoded tag bases", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.relfilenode = relfilenode;
	key.tag_id = tag_id;
	entry = hash_search(base_cache, &key, HASH_ENTER, &found);
	if (found && entry->bitmap != NULL)
	{
		/* another version, which an evaluation running may still read */
		if (entry->lent_in == base_period)
			return false;
		roaring_bitmap_free(entry->bitmap);
		base_bytes -= entry->bytes;
	}
	entry->xmin = xmin;
	entry->tid = *tid;
	entry->bitmap = bitmap;
	entry->bytes = bytes;
	entry->lent_in = base_period;
	base_bytes += bytes;
	return true;
}
