/*
 * bitmap.c: tagscrm.customer_set, a set of 32-bit customer keys as a CRoaring
 * bitmap, and its operators, aggregates and set-returning readers.
 *
 * The datum is a varlena holding roaring's portable serialization (the
 * format every CRoaring binding reads), so a value can leave the database
 * through binary COPY or the send function and be read elsewhere.
 *
 * Memory: CRoaring 0.2.66 allocates with malloc and has no allocator hook
 * (roaring_init_memory_hook came in a later release).  Every roaring object
 * is therefore owned by a PostgreSQL memory context: BitmapOwn allocates a
 * small owner in the current context first, then the bitmap, and registers a
 * reset callback that frees the bitmap if the context goes away before the
 * code does (an error, a cancel).  The normal path frees at once with
 * BitmapRelease.  Results are copied into palloc'd varlenas.
 */
#include "postgres.h"

#include <roaring/roaring.h>

#include "bitmap.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(customer_set_in);
PG_FUNCTION_INFO_V1(customer_set_out);
PG_FUNCTION_INFO_V1(customer_set_recv);
PG_FUNCTION_INFO_V1(customer_set_send);
PG_FUNCTION_INFO_V1(customer_set_from_array);
PG_FUNCTION_INFO_V1(customer_set_and);
PG_FUNCTION_INFO_V1(customer_set_or);
PG_FUNCTION_INFO_V1(customer_set_andnot);
PG_FUNCTION_INFO_V1(customer_set_cardinality);
PG_FUNCTION_INFO_V1(customer_set_contains);
PG_FUNCTION_INFO_V1(customer_set_eq);
PG_FUNCTION_INFO_V1(customer_set_keys);
PG_FUNCTION_INFO_V1(customer_set_agg_trans);
PG_FUNCTION_INFO_V1(customer_set_union_trans);
PG_FUNCTION_INFO_V1(customer_set_intersect_trans);
PG_FUNCTION_INFO_V1(customer_set_union_combine);
PG_FUNCTION_INFO_V1(customer_set_intersect_combine);
PG_FUNCTION_INFO_V1(customer_set_state_serial);
PG_FUNCTION_INFO_V1(customer_set_state_deserial);
PG_FUNCTION_INFO_V1(customer_set_state_final);
PG_FUNCTION_INFO_V1(customer_set_replay_trans);

/* ------------------------------------------------------------------------
 * Ownership of roaring objects by memory contexts
 * ------------------------------------------------------------------------ */

static void
BitmapOwnerReset(void *arg)
{
	BitmapOwner *owner = (BitmapOwner *) arg;

	if (owner->bitmap != NULL)
		roaring_bitmap_free(owner->bitmap);
	owner->bitmap = NULL;
}

static void
BitmapOutOfMemory(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory in a customer set operation"),
			 errhint("A customer set is built with malloc outside PostgreSQL's memory limits; free memory on the server.")));
}

/* An owner in the current memory context, holding nothing yet */
BitmapOwner *
BitmapOwnerNew(void)
{
	BitmapOwner *owner = palloc0(sizeof(BitmapOwner));

	owner->callback.func = BitmapOwnerReset;
	owner->callback.arg = owner;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &owner->callback);
	return owner;
}

/* Gives a fresh roaring object (or NULL: malloc failed) to a new owner */
BitmapOwner *
BitmapOwn(roaring_bitmap_t *bitmap)
{
	BitmapOwner *owner;

	if (bitmap == NULL)
		BitmapOutOfMemory();
	/* palloc may throw: the bitmap must not leak then */
	PG_TRY();
	{
		owner = BitmapOwnerNew();
	}
	PG_CATCH();
	{
		roaring_bitmap_free(bitmap);
		PG_RE_THROW();
	}
	PG_END_TRY();
	owner->bitmap = bitmap;
	return owner;
}

/* Replaces what an owner holds (the old bitmap freed) */
void
BitmapReplace(BitmapOwner *owner, roaring_bitmap_t *bitmap)
{
	if (bitmap == NULL)
		BitmapOutOfMemory();
	if (owner->bitmap != NULL && owner->bitmap != bitmap)
		roaring_bitmap_free(owner->bitmap);
	owner->bitmap = bitmap;
}

/* Frees the bitmap now; the owner stays registered, holding nothing */
void
BitmapRelease(BitmapOwner *owner)
{
	if (owner->bitmap != NULL)
		roaring_bitmap_free(owner->bitmap);
	owner->bitmap = NULL;
}

/* An empty set */
BitmapOwner *
BitmapEmpty(void)
{
	BitmapOwner *owner = BitmapOwnerNew();

	owner->bitmap = roaring_bitmap_create();
	if (owner->bitmap == NULL)
		BitmapOutOfMemory();
	return owner;
}

/* ------------------------------------------------------------------------
 * Datum <-> roaring
 * ------------------------------------------------------------------------ */

/* A datum's bitmap, owned by the current context (datums we wrote: trusted) */
BitmapOwner *
BitmapFromDatum(CustomerSet *set)
{
	size_t		len = VARSIZE_ANY_EXHDR(set);
	roaring_bitmap_t *bitmap;

	bitmap = roaring_bitmap_portable_deserialize_safe(VARDATA_ANY(set), len);
	if (bitmap == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid customer set of %zu bytes", len),
				 errhint("The value is not a portable roaring bitmap.")));
	return BitmapOwn(bitmap);
}

/* The datum of an owner's bitmap (run-optimized first); the bitmap is released */
CustomerSet *
BitmapToDatum(BitmapOwner *owner)
{
	size_t		size;
	CustomerSet *result;

	roaring_bitmap_run_optimize(owner->bitmap);
	size = roaring_bitmap_portable_size_in_bytes(owner->bitmap);
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("customer set of %zu bytes is too large", size),
				 errhint("A customer set is at most 1 GB once serialized.")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	roaring_bitmap_portable_serialize(owner->bitmap, VARDATA(result));
	BitmapRelease(owner);
	return result;
}

/* Checks a key to be stored: 0 .. 2^31-1, so that every key is an int4 */
static uint32
CheckKey(int64 key)
{
	if (key < 0 || key > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("customer key %lld is out of range", (long long) key),
				 errhint("Customer keys are integers from 0 to 2147483647.")));
	return (uint32) key;
}

/* ------------------------------------------------------------------------
 * I/O: text '{1,5,7}', binary: the portable serialization
 * ------------------------------------------------------------------------ */

Datum
customer_set_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	char	   *s = str;
	BitmapOwner *owner = BitmapEmpty();

	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (*s != '{')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid customer set \"%s\"", str),
				 errhint("Write a customer set as a list of keys in braces, as in '{1,5,7}'.")));
	s++;
	for (;;)
	{
		char	   *end;
		long long	v;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (*s == '}' && roaring_bitmap_is_empty(owner->bitmap))
			break;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (end == s || (*s != '-' && (*s < '0' || *s > '9')))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid customer set \"%s\"", str),
					 errdetail("Expected a key at character %d.", (int) (s - str) + 1),
					 errhint("Write a customer set as a list of keys in braces, as in '{1,5,7}'.")));
		if (errno == ERANGE)
			v = -1;
		roaring_bitmap_add(owner->bitmap, CheckKey(v));
		s = end;
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (*s == ',')
		{
			s++;
			continue;
		}
		if (*s == '}')
			break;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid customer set \"%s\"", str),
				 errdetail("Expected \",\" or \"}\" at character %d.", (int) (s - str) + 1),
				 errhint("Write a customer set as a list of keys in braces, as in '{1,5,7}'.")));
	}
	s++;
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (*s != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid customer set \"%s\"", str),
				 errdetail("Text follows the closing brace at character %d.", (int) (s - str) + 1),
				 errhint("Write a customer set as a list of keys in braces, as in '{1,5,7}'.")));
	PG_RETURN_POINTER(BitmapToDatum(owner));
}

typedef struct OutState
{
	StringInfo	buf;
	uint64		n;
} OutState;

static bool
OutKey(uint32 value, void *arg)
{
	OutState   *st = (OutState *) arg;

	if (st->n++ > 0)
		appendStringInfoChar(st->buf, ',');
	appendStringInfo(st->buf, "%u", value);
	if ((st->n & 0xFFFF) == 0)
		CHECK_FOR_INTERRUPTS();
	return true;
}

Datum
customer_set_out(PG_FUNCTION_ARGS)
{
	BitmapOwner *owner = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(0));
	StringInfoData buf;
	OutState	st;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	st.buf = &buf;
	st.n = 0;
	roaring_iterate(owner->bitmap, OutKey, &st);
	appendStringInfoChar(&buf, '}');
	BitmapRelease(owner);
	PG_RETURN_CSTRING(buf.data);
}

typedef struct CheckState
{
	int64		last;
	uint64		n;
} CheckState;

static bool
CheckIncreasing(uint32 value, void *arg)
{
	CheckState *st = (CheckState *) arg;

	if ((int64) value <= st->last || value > PG_INT32_MAX)
		return false;
	st->last = value;
	st->n++;
	return true;
}

/*
 * Binary input comes from outside: the bytes must be exactly one portable
 * bitmap whose keys are strictly increasing int4 values (the safe
 * deserializer of 0.2.66 checks bounds, not the order inside containers).
 */
Datum
customer_set_recv(PG_FUNCTION_ARGS)
{
	StringInfo	msg = (StringInfo) PG_GETARG_POINTER(0);
	size_t		len = msg->len - msg->cursor;
	const char *data = msg->data + msg->cursor;
	size_t		need = roaring_bitmap_portable_deserialize_size(data, len);
	BitmapOwner *owner;
	CheckState	st = {-1, 0};

	if (need == 0 || need != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary customer set of %zu bytes", len),
				 errhint("Send one roaring bitmap in the portable serialization.")));
	owner = BitmapOwn(roaring_bitmap_portable_deserialize_safe(data, len));
	if (!roaring_iterate(owner->bitmap, CheckIncreasing, &st) ||
		st.n != roaring_bitmap_get_cardinality(owner->bitmap))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary customer set of %zu bytes", len),
				 errdetail("Its keys are not strictly increasing integers from 0 to 2147483647.")));
	msg->cursor = msg->len;
	PG_RETURN_POINTER(BitmapToDatum(owner));
}

Datum
customer_set_send(PG_FUNCTION_ARGS)
{
	CustomerSet *set = PG_GETARG_CUSTOMER_SET(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(set), VARSIZE_ANY_EXHDR(set));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* customer_set(int4[]): NULL elements are skipped */
Datum
customer_set_from_array(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	int			i;
	BitmapOwner *owner;

	deconstruct_array(arr, INT4OID, 4, true, TYPALIGN_INT, &values, &nulls, &n);
	owner = BitmapEmpty();
	for (i = 0; i < n; i++)
	{
		if (!nulls[i])
			roaring_bitmap_add(owner->bitmap, CheckKey(DatumGetInt32(values[i])));
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_POINTER(BitmapToDatum(owner));
}

/* ------------------------------------------------------------------------
 * Operators
 * ------------------------------------------------------------------------ */

void
BitmapCombine(roaring_bitmap_t *a, const roaring_bitmap_t *b, BitmapOp op)
{
	switch (op)
	{
		case BITMAP_AND:
			roaring_bitmap_and_inplace(a, b);
			break;
		case BITMAP_OR:
			roaring_bitmap_or_inplace(a, b);
			break;
		case BITMAP_ANDNOT:
			roaring_bitmap_andnot_inplace(a, b);
			break;
	}
}

static Datum
Combine(FunctionCallInfo fcinfo, BitmapOp op)
{
	BitmapOwner *a = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(0));
	BitmapOwner *b = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(1));

	BitmapCombine(a->bitmap, b->bitmap, op);
	BitmapRelease(b);
	PG_RETURN_POINTER(BitmapToDatum(a));
}

Datum
customer_set_and(PG_FUNCTION_ARGS)
{
	return Combine(fcinfo, BITMAP_AND);
}

Datum
customer_set_or(PG_FUNCTION_ARGS)
{
	return Combine(fcinfo, BITMAP_OR);
}

Datum
customer_set_andnot(PG_FUNCTION_ARGS)
{
	return Combine(fcinfo, BITMAP_ANDNOT);
}

Datum
customer_set_cardinality(PG_FUNCTION_ARGS)
{
	BitmapOwner *a = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(0));
	uint64		n = roaring_bitmap_get_cardinality(a->bitmap);

	BitmapRelease(a);
	PG_RETURN_INT64((int64) n);
}

/*
 * When the set is a constant or a query parameter (segment_members filters
 * every customer by one set), it is read once per query: the bitmap is kept
 * in fn_extra, owned by the function's memory context.
 */
Datum
customer_set_contains(PG_FUNCTION_ARGS)
{
	int32		key = PG_GETARG_INT32(1);
	BitmapOwner *a;
	bool		result;

	if (get_fn_expr_arg_stable(fcinfo->flinfo, 0))
	{
		a = (BitmapOwner *) fcinfo->flinfo->fn_extra;
		if (a == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

			a = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(0));
			MemoryContextSwitchTo(old);
			fcinfo->flinfo->fn_extra = a;
		}
		PG_RETURN_BOOL(key >= 0 && roaring_bitmap_contains(a->bitmap, (uint32) key));
	}
	a = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(0));
	result = key >= 0 && roaring_bitmap_contains(a->bitmap, (uint32) key);
	BitmapRelease(a);
	PG_RETURN_BOOL(result);
}

Datum
customer_set_eq(PG_FUNCTION_ARGS)
{
	BitmapOwner *a = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(0));
	BitmapOwner *b = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(1));
	bool		result = roaring_bitmap_equals(a->bitmap, b->bitmap);

	BitmapRelease(a);
	BitmapRelease(b);
	PG_RETURN_BOOL(result);
}

/* customer_set_keys(set): the keys in increasing order, SETOF int4 */
typedef struct KeysState
{
	uint32	   *keys;
	uint64		n;
	uint64		next;
} KeysState;

Datum
customer_set_keys(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	KeysState  *st;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		BitmapOwner *a;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		a = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(0));
		st = palloc0(sizeof(KeysState));
		st->n = roaring_bitmap_get_cardinality(a->bitmap);
		if (st->n > MaxAllocHugeSize / sizeof(uint32))
			BitmapOutOfMemory();
		st->keys = MemoryContextAllocHuge(CurrentMemoryContext, Max(st->n, 1) * sizeof(uint32));
		roaring_bitmap_to_uint32_array(a->bitmap, st->keys);
		BitmapRelease(a);
		funcctx->user_fctx = st;
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	st = (KeysState *) funcctx->user_fctx;
	if (st->next < st->n)
	{
		uint32		key = st->keys[st->next++];

		SRF_RETURN_NEXT(funcctx, Int32GetDatum((int32) key));
	}
	SRF_RETURN_DONE(funcctx);
}

/* ------------------------------------------------------------------------
 * Aggregates: the state is an owner in the aggregate's context
 * ------------------------------------------------------------------------ */

typedef struct SetState
{
	BitmapOwner *owner;
	bool		started;		/* intersection: a first value was seen */
} SetState;

static MemoryContext
AggContext(FunctionCallInfo fcinfo, const char *name)
{
	MemoryContext ctx;

	if (!AggCheckCallContext(fcinfo, &ctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in a non-aggregate context", name),
				 errhint("It is a support function of a tagscrm aggregate.")));
	return ctx;
}

static SetState *
NewState(MemoryContext ctx)
{
	MemoryContext old = MemoryContextSwitchTo(ctx);
	SetState   *st = palloc0(sizeof(SetState));

	st->owner = BitmapEmpty();
	MemoryContextSwitchTo(old);
	return st;
}

/* customer_set_agg(int4): the keys aggregated; NULL keys skipped */
Datum
customer_set_agg_trans(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = AggContext(fcinfo, "customer_set_agg_trans");
	SetState   *st = PG_ARGISNULL(0) ? NewState(ctx) : (SetState *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(1))
		roaring_bitmap_add(st->owner->bitmap, CheckKey(PG_GETARG_INT32(1)));
	st->started = true;
	PG_RETURN_POINTER(st);
}

Datum
customer_set_union_trans(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = AggContext(fcinfo, "customer_set_union_trans");
	SetState   *st = PG_ARGISNULL(0) ? NewState(ctx) : (SetState *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(1))
	{
		BitmapOwner *v = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(1));

		roaring_bitmap_or_inplace(st->owner->bitmap, v->bitmap);
		BitmapRelease(v);
		st->started = true;
	}
	PG_RETURN_POINTER(st);
}

/* Intersection: NULL inputs are skipped; no input at all gives NULL */
Datum
customer_set_intersect_trans(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = AggContext(fcinfo, "customer_set_intersect_trans");
	SetState   *st = PG_ARGISNULL(0) ? NewState(ctx) : (SetState *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(1))
	{
		BitmapOwner *v = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(1));

		if (st->started)
			roaring_bitmap_and_inplace(st->owner->bitmap, v->bitmap);
		else
			roaring_bitmap_or_inplace(st->owner->bitmap, v->bitmap);
		BitmapRelease(v);
		st->started = true;
	}
	PG_RETURN_POINTER(st);
}

static Datum
CombineStates(FunctionCallInfo fcinfo, bool intersect)
{
	MemoryContext ctx = AggContext(fcinfo, "a customer_set combine function");
	SetState   *a = PG_ARGISNULL(0) ? NULL : (SetState *) PG_GETARG_POINTER(0);
	SetState   *b = PG_ARGISNULL(1) ? NULL : (SetState *) PG_GETARG_POINTER(1);

	if (b == NULL || !b->started)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = NewState(ctx);
	if (!a->started)
		roaring_bitmap_or_inplace(a->owner->bitmap, b->owner->bitmap);
	else if (intersect)
		roaring_bitmap_and_inplace(a->owner->bitmap, b->owner->bitmap);
	else
		roaring_bitmap_or_inplace(a->owner->bitmap, b->owner->bitmap);
	a->started = true;
	PG_RETURN_POINTER(a);
}

Datum
customer_set_union_combine(PG_FUNCTION_ARGS)
{
	return CombineStates(fcinfo, false);
}

Datum
customer_set_intersect_combine(PG_FUNCTION_ARGS)
{
	return CombineStates(fcinfo, true);
}

/* State as bytea: one byte "started", then the portable serialization */
Datum
customer_set_state_serial(PG_FUNCTION_ARGS)
{
	SetState   *st = (SetState *) PG_GETARG_POINTER(0);
	size_t		size;
	bytea	   *result;

	AggContext(fcinfo, "customer_set_state_serial");
	roaring_bitmap_run_optimize(st->owner->bitmap);
	size = roaring_bitmap_portable_size_in_bytes(st->owner->bitmap);
	if (size > MaxAllocSize - VARHDRSZ - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("customer set of %zu bytes is too large", size),
				 errhint("A customer set is at most 1 GB once serialized.")));
	result = palloc(VARHDRSZ + 1 + size);
	SET_VARSIZE(result, VARHDRSZ + 1 + size);
	VARDATA(result)[0] = st->started ? 1 : 0;
	roaring_bitmap_portable_serialize(st->owner->bitmap, VARDATA(result) + 1);
	PG_RETURN_BYTEA_P(result);
}

Datum
customer_set_state_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = AggContext(fcinfo, "customer_set_state_deserial");
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(data);
	MemoryContext old;
	SetState   *st;
	roaring_bitmap_t *bitmap;

	if (len < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid customer set aggregate state of %zu bytes", len)));
	old = MemoryContextSwitchTo(ctx);
	st = palloc0(sizeof(SetState));
	st->started = VARDATA_ANY(data)[0] != 0;
	bitmap = roaring_bitmap_portable_deserialize_safe(VARDATA_ANY(data) + 1, len - 1);
	if (bitmap == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid customer set aggregate state of %zu bytes", len)));
	st->owner = BitmapOwn(bitmap);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

/*
 * The final function copies the state: an aggregate's final function may
 * be called more than once on one state (window frames, shared states).
 */
Datum
customer_set_state_final(PG_FUNCTION_ARGS)
{
	SetState   *st;
	BitmapOwner *copy;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (SetState *) PG_GETARG_POINTER(0);
	if (!st->started)
		PG_RETURN_NULL();
	copy = BitmapOwn(roaring_bitmap_copy(st->owner->bitmap));
	PG_RETURN_POINTER(BitmapToDatum(copy));
}

/*
 * customer_set_replay(added, removed) ORDER BY log_id: a tag's members from
 * its base set and its change log; each step is (set | added) - removed.
 * The first row is the base (added = base, removed NULL).
 */
Datum
customer_set_replay_trans(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = AggContext(fcinfo, "customer_set_replay_trans");
	SetState   *st = PG_ARGISNULL(0) ? NewState(ctx) : (SetState *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(1))
	{
		BitmapOwner *v = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(1));

		roaring_bitmap_or_inplace(st->owner->bitmap, v->bitmap);
		BitmapRelease(v);
	}
	if (!PG_ARGISNULL(2))
	{
		BitmapOwner *v = BitmapFromDatum(PG_GETARG_CUSTOMER_SET(2));

		roaring_bitmap_andnot_inplace(st->owner->bitmap, v->bitmap);
		BitmapRelease(v);
	}
	st->started = true;
	PG_RETURN_POINTER(st);
}
