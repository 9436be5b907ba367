/*
 * rfm.c: the RFM model.
 *
 * Three parts:
 *
 * 1. The aggregate tagscrm.rfm_breakpoints(recency, frequency, monetary):
 *    population breakpoints, exact.  Its state keeps every value (three
 *    float8 arrays) plus three running sums; the final function finds the
 *    order statistics at 0.2, 0.4, 0.5, 0.6 and 0.8 with a selection
 *    algorithm (no full sort) and returns them with percentile_disc
 *    semantics: the value at 1-based position max(1, ceil(p * n)) of the
 *    ascending order, exactly as PostgreSQL's percentile_disc computes it.
 *    Means are sum / n with the sum taken in input order, which is what
 *    avg(float8) does, so a serial run equals avg() to the last bit.
 *    A row with a NULL in any of the three values is skipped (a customer
 *    without orders has no RFM); no rows -> NULL.
 *
 * 2. tagscrm.rfm_score(value, cuts, higher_is_better): quintile score 1..5
 *    against 4 cut points.  Tie rule: count the cut points strictly below
 *    the value; higher is better -> 1 + count, else 5 - count.  Equal values
 *    always get equal scores.
 *
 * 3. tagscrm.rfm_segment(...) and tagscrm.rfm_classify(...): the 8 RFM
 *    segments (each dimension high or low against the population mean or
 *    median), and all four results of one customer in one call.
 */
#include "tagscrm.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(rfm_breakpoints_trans);
PG_FUNCTION_INFO_V1(rfm_breakpoints_combine);
PG_FUNCTION_INFO_V1(rfm_breakpoints_serialize);
PG_FUNCTION_INFO_V1(rfm_breakpoints_deserialize);
PG_FUNCTION_INFO_V1(rfm_breakpoints_final);
PG_FUNCTION_INFO_V1(rfm_score);
PG_FUNCTION_INFO_V1(rfm_segment);
PG_FUNCTION_INFO_V1(rfm_classify);

#define RFM_NCUTS		4		/* quintiles: 4 cut points */
#define RFM_NDIMS		3		/* recency, frequency, monetary */
#define RFM_BP_NATTS	10		/* columns of tagscrm.rfm_breakpoints */
#define RFM_SERIAL_VERSION 1	/* first byte of a serialized state */
#define RFM_SERIAL_HEADER (1 + sizeof(int64) + RFM_NDIMS * sizeof(float8))

static const char *const rfm_dim_name[RFM_NDIMS] = {"recency", "frequency", "monetary"};

/* the quintile cut points, as percentile_disc(ARRAY[.2,.4,.6,.8]) reads them */
static const float8 rfm_cut_fraction[RFM_NCUTS] = {0.2, 0.4, 0.6, 0.8};

/*
 * The 8 segments, indexed by (r_high << 2) | (f_high << 1) | m_high.  These
 * identifiers are stable: stored tags and user queries refer to them.
 */
static const char *const rfm_segment_name[8] = {
	"general_retain",			/* R low,  F low,  M low */
	"important_retain",			/* R low,  F low,  M high */
	"general_keep",				/* R low,  F high, M low */
	"important_keep",			/* R low,  F high, M high */
	"general_develop",			/* R high, F low,  M low */
	"important_develop",		/* R high, F low,  M high */
	"general_value",			/* R high, F high, M low */
	"important_value"			/* R high, F high, M high */
};

/*
 * Aggregate state: every kept value of each dimension, and the running sums
 * (in input order, like float8_accum) for the means.
 */
typedef struct RfmState
{
	int64		n;				/* rows kept */
	int64		cap;			/* allocated length of each array */
	float8		sum[RFM_NDIMS];
	float8	   *val[RFM_NDIMS];
} RfmState;

/* The parts of a tagscrm.rfm_breakpoints value the scoring functions use. */
typedef struct RfmBreakpoints
{
	bool		cuts_null[RFM_NDIMS];
	float8		cuts[RFM_NDIMS][RFM_NCUTS];
	bool		mean_null[RFM_NDIMS];
	float8		mean[RFM_NDIMS];
	bool		median_null[RFM_NDIMS];
	float8		median[RFM_NDIMS];
} RfmBreakpoints;

/* Per-call-site cache of the last breakpoints value seen (fn_extra). */
typedef struct RfmBpCache
{
	Size		len;			/* 0 = empty */
	char	   *bytes;			/* copy of the composite datum */
	RfmBreakpoints bp;
	TupleDesc	classdesc;		/* rfm_classify's blessed result type, or NULL */
} RfmBpCache;

/* Per-call-site cache of the last cut-point array seen (fn_extra). */
typedef struct RfmCutsCache
{
	Size		len;			/* 0 = empty */
	char	   *bytes;			/* copy of the array datum */
	float8		cuts[RFM_NCUTS];
} RfmCutsCache;

typedef enum RfmBasis
{
	RFM_BASIS_MEAN,
	RFM_BASIS_MEDIAN
} RfmBasis;


/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------
 */

/* Errors out unless v is a finite number; what names the value. */
static void
CheckFinite(float8 v, const char *what)
{
	if (unlikely(isnan(v) || isinf(v)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", what),
				 errdetail("The value given is %s.", float8out_internal(v))));
}

/* Allocates an empty state with room for cap values per dimension. */
static RfmState *
NewState(MemoryContext cxt, int64 cap)
{
	RfmState   *st = MemoryContextAllocZero(cxt, sizeof(RfmState));
	int			d;

	st->cap = Max(cap, 64);
	for (d = 0; d < RFM_NDIMS; d++)
		st->val[d] = MemoryContextAllocHuge(cxt, st->cap * sizeof(float8));
	return st;
}

/* Makes room for at least need values per dimension (arrays live in cxt). */
static void
EnsureCapacity(RfmState *st, int64 need)
{
	int64		newcap;
	int			d;

	if (need <= st->cap)
		return;
	newcap = st->cap;
	while (newcap < need)
		newcap *= 2;
	if ((Size) newcap > MaxAllocHugeSize / sizeof(float8))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many customers for rfm_breakpoints"),
				 errdetail("The state would hold %lld values per dimension.",
						   (long long) need)));
	/* repalloc_huge keeps the chunk in the context it was allocated in */
	for (d = 0; d < RFM_NDIMS; d++)
		st->val[d] = repalloc_huge(st->val[d], newcap * sizeof(float8));
	st->cap = newcap;
}

/* Adds two sums as float8_combine does, with its overflow check. */
static float8
AddSums(float8 a, float8 b)
{
	float8		r = a + b;

	if (unlikely(isinf(r)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow"),
				 errdetail("The sum of the values for the mean does not fit in double precision.")));
	return r;
}

/* Swaps two float8 values. */
static inline void
SwapF8(float8 *a, float8 *b)
{
	float8		t = *a;

	*a = *b;
	*b = t;
}

/* qsort comparator for float8 (inputs are finite: no NaN ordering needed). */
static int
CompareF8(const void *a, const void *b)
{
	float8		x = *(const float8 *) a;
	float8		y = *(const float8 *) b;

	return (x > y) - (x < y);
}

/*
 * Rearranges a[lo..hi] (inclusive) so that a[k] holds the value that would be
 * at position k if the range were sorted, with no larger value before it and
 * no smaller value after it.  Quickselect with a median-of-three pivot and a
 * three-way partition, so heavy ties (most frequencies equal to 1) cost one
 * pass; after 64 rounds without converging it sorts what is left, so no
 * input can make it quadratic.
 */
static void
SelectNth(float8 *a, int64 lo, int64 hi, int64 k)
{
	int			rounds = 0;

	while (hi > lo)
	{
		int64		mid,
					lt,
					gt,
					i;
		float8		x,
					y,
					z,
					pivot;

		/* a pass is linear in the range, which grows with the data */
		CHECK_FOR_INTERRUPTS();

		if (hi - lo < 16 || ++rounds > 64)
		{
			qsort(a + lo, hi - lo + 1, sizeof(float8), CompareF8);
			return;
		}

		mid = lo + (hi - lo) / 2;
		x = a[lo];
		y = a[mid];
		z = a[hi];
		if (x > y)
			SwapF8(&x, &y);
		if (y > z)
			SwapF8(&y, &z);
		if (x > y)
			SwapF8(&x, &y);
		pivot = y;

		/* Dijkstra: a[lo..lt-1] < pivot, a[lt..i-1] == pivot, a[gt+1..hi] > pivot */
		lt = lo;
		gt = hi;
		i = lo;
		while (i <= gt)
		{
			if (a[i] < pivot)
				SwapF8(&a[lt++], &a[i++]);
			else if (a[i] > pivot)
				SwapF8(&a[i], &a[gt--]);
			else
				i++;
		}

		if (k < lt)
			hi = lt - 1;
		else if (k > gt)
			lo = gt + 1;
		else
			return;
	}
}

/*
 * The 0-based position percentile_disc(p) reads in n sorted values: the
 * first row whose cumulative share reaches p, computed with the same float8
 * arithmetic as PostgreSQL (ceil(p * n), at least 1).
 */
static int64
DiscPosition(float8 p, int64 n)
{
	int64		row = (int64) ceil(p * (float8) n);

	if (row < 1)
		row = 1;
	if (row > n)
		row = n;
	return row - 1;
}

/*
 * Finds the quintile cut points and the median of the n values in a (which
 * it reorders).  The five positions ascend, so each selection only searches
 * to the right of the previous one.
 */
static void
FindCuts(float8 *a, int64 n, float8 *cuts, float8 *median)
{
	float8		frac[RFM_NCUTS + 1] = {rfm_cut_fraction[0], rfm_cut_fraction[1], 0.5,
	rfm_cut_fraction[2], rfm_cut_fraction[3]};
	float8		out[RFM_NCUTS + 1];
	int64		lo = 0;
	int			i;

	for (i = 0; i < RFM_NCUTS + 1; i++)
	{
		int64		k = DiscPosition(frac[i], n);

		SelectNth(a, lo, n - 1, k);
		out[i] = a[k];
		lo = k;
	}
	cuts[0] = out[0];
	cuts[1] = out[1];
	*median = out[2];
	cuts[2] = out[3];
	cuts[3] = out[4];
}

/* Builds a float8[] of the 4 cut points. */
static Datum
CutsArray(const float8 *cuts)
{
	Datum		elems[RFM_NCUTS];
	int			i;

	for (i = 0; i < RFM_NCUTS; i++)
		elems[i] = Float8GetDatum(cuts[i]);
	return PointerGetDatum(construct_array(elems, RFM_NCUTS, FLOAT8OID, sizeof(float8),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* The aggregate memory context, or an error when not called as an aggregate. */
static MemoryContext
AggContext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggcxt;
}


/* ------------------------------------------------------------------------
 * The aggregate
 * ------------------------------------------------------------------------
 */

/* SQL: transition function; skips rows with a NULL value */
Datum
rfm_breakpoints_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = AggContext(fcinfo, "rfm_breakpoints_trans");
	RfmState   *st = PG_ARGISNULL(0) ? NULL : (RfmState *) PG_GETARG_POINTER(0);
	float8		v[RFM_NDIMS];
	int			d;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}

	for (d = 0; d < RFM_NDIMS; d++)
	{
		v[d] = PG_GETARG_FLOAT8(d + 1);
		CheckFinite(v[d], rfm_dim_name[d]);
		if (v[d] == 0.0)
			v[d] = 0.0;			/* store -0 as 0 */
	}

	if (st == NULL)
		st = NewState(aggcxt, 1024);
	EnsureCapacity(st, st->n + 1);
	for (d = 0; d < RFM_NDIMS; d++)
	{
		st->val[d][st->n] = v[d];
		st->sum[d] = AddSums(st->sum[d], v[d]);
	}
	st->n++;

	PG_RETURN_POINTER(st);
}

/* SQL: combine function; appends the second state's values to the first */
Datum
rfm_breakpoints_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = AggContext(fcinfo, "rfm_breakpoints_combine");
	RfmState   *s1 = PG_ARGISNULL(0) ? NULL : (RfmState *) PG_GETARG_POINTER(0);
	RfmState   *s2 = PG_ARGISNULL(1) ? NULL : (RfmState *) PG_GETARG_POINTER(1);
	int			d;

	if (s2 == NULL || s2->n == 0)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}

	/*
	 * The result must live in the aggregate context.  A state that
	 * rfm_breakpoints_deserialize made for this aggregate is already there
	 * and is used by nobody else, so it is adopted instead of copied (saves
	 * a copy of every value in parallel query); any other state is copied.
	 */
	if (s1 == NULL)
	{
		if (GetMemoryChunkContext(s2) == aggcxt &&
			GetMemoryChunkContext(s2->val[0]) == aggcxt &&
			GetMemoryChunkContext(s2->val[1]) == aggcxt &&
			GetMemoryChunkContext(s2->val[2]) == aggcxt)
			PG_RETURN_POINTER(s2);
		s1 = NewState(aggcxt, s2->n);
	}
	EnsureCapacity(s1, s1->n + s2->n);
	for (d = 0; d < RFM_NDIMS; d++)
	{
		memcpy(s1->val[d] + s1->n, s2->val[d], s2->n * sizeof(float8));
		/* like float8_combine: adding a zero sum of an empty side is exact */
		s1->sum[d] = (s1->n == 0) ? s2->sum[d] : AddSums(s1->sum[d], s2->sum[d]);
	}
	s1->n += s2->n;

	PG_RETURN_POINTER(s1);
}

/*
 * SQL: serialize a partial state for parallel query.  Layout: version byte,
 * n (int64), the three sums, then the n recency, n frequency and n monetary
 * values.  Native byte order and alignment-free memcpy: a serialized state
 * only travels between processes of one server (an internal-typed function
 * cannot be called from SQL, so no client ever sees or forges one).
 */
Datum
rfm_breakpoints_serialize(PG_FUNCTION_ARGS)
{
	RfmState   *st = (RfmState *) PG_GETARG_POINTER(0);
	Size		len;
	bytea	   *out;
	char	   *p;
	int			d;

	AggContext(fcinfo, "rfm_breakpoints_serialize");
	if ((Size) st->n > (MaxAllocSize - VARHDRSZ - RFM_SERIAL_HEADER) / (RFM_NDIMS * sizeof(float8)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many customers for a parallel rfm_breakpoints partial state"),
				 errdetail("A parallel worker collected %lld customers; a partial state holds at most %lld.",
						   (long long) st->n,
						   (long long) ((MaxAllocSize - VARHDRSZ - RFM_SERIAL_HEADER) /
										(RFM_NDIMS * sizeof(float8)))),
				 errhint("Run the aggregate with max_parallel_workers_per_gather = 0, or with more workers.")));

	len = VARHDRSZ + RFM_SERIAL_HEADER + (Size) st->n * RFM_NDIMS * sizeof(float8);
	out = (bytea *) palloc(len);
	SET_VARSIZE(out, len);
	p = VARDATA(out);
	*p++ = RFM_SERIAL_VERSION;
	memcpy(p, &st->n, sizeof(int64));
	p += sizeof(int64);
	memcpy(p, st->sum, RFM_NDIMS * sizeof(float8));
	p += RFM_NDIMS * sizeof(float8);
	for (d = 0; d < RFM_NDIMS; d++)
	{
		memcpy(p, st->val[d], st->n * sizeof(float8));
		p += st->n * sizeof(float8);
	}
	Assert(p == (char *) out + len);

	PG_RETURN_BYTEA_P(out);
}

/* Rejects a serialized state that our serialize function did not write. */
static void
BadSerialState(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid rfm_breakpoints partial state"),
			 errdetail("%s", why)));
}

/* SQL: deserialize a partial state written by rfm_breakpoints_serialize */
Datum
rfm_breakpoints_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = AggContext(fcinfo, "rfm_breakpoints_deserialize");
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	Size		len = VARSIZE_ANY_EXHDR(in);
	int64		n;
	RfmState   *st;
	int64		i;
	int			d;

	if (len < RFM_SERIAL_HEADER)
		BadSerialState("The state is shorter than its header.");
	if (*p++ != RFM_SERIAL_VERSION)
		BadSerialState("The state has an unknown format version.");
	memcpy(&n, p, sizeof(int64));
	p += sizeof(int64);
	if (n < 0 || (Size) n > (len - RFM_SERIAL_HEADER) / (RFM_NDIMS * sizeof(float8)) ||
		len != RFM_SERIAL_HEADER + (Size) n * RFM_NDIMS * sizeof(float8))
		BadSerialState("The state's length does not match its number of customers.");

	st = NewState(aggcxt, n);
	st->n = n;
	memcpy(st->sum, p, RFM_NDIMS * sizeof(float8));
	p += RFM_NDIMS * sizeof(float8);
	for (d = 0; d < RFM_NDIMS; d++)
	{
		const float8 *v = st->val[d];
		bool		finite = !isnan(st->sum[d]) && !isinf(st->sum[d]);

		memcpy(st->val[d], p, n * sizeof(float8));
		p += n * sizeof(float8);
		/* linear in the data */
		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < n; i++)
			finite &= !isnan(v[i]) && !isinf(v[i]);
		if (!finite)
			BadSerialState("A value in the state is not finite.");
	}

	PG_RETURN_POINTER(st);
}

/*
 * SQL: final function.  It reorders the value arrays (selection), which
 * leaves the state's meaning (a multiset plus sums) unchanged, so it may run
 * again on the same state or see more rows added afterwards.
 */
Datum
rfm_breakpoints_final(PG_FUNCTION_ARGS)
{
	RfmState   *st;
	TupleDesc	tupdesc;
	Datum		values[RFM_BP_NATTS];
	bool		nulls[RFM_BP_NATTS] = {0};
	float8		cuts[RFM_NCUTS];
	float8		median;
	int			d;

	AggContext(fcinfo, "rfm_breakpoints_final");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (RfmState *) PG_GETARG_POINTER(0);
	if (st->n == 0)
		PG_RETURN_NULL();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
		tupdesc->natts != RFM_BP_NATTS)
		elog(ERROR, "rfm_breakpoints_final must return tagscrm.rfm_breakpoints");
	tupdesc = BlessTupleDesc(tupdesc);

	for (d = 0; d < RFM_NDIMS; d++)
	{
		FindCuts(st->val[d], st->n, cuts, &median);
		values[d] = CutsArray(cuts);
		values[RFM_NDIMS + d] = Float8GetDatum(st->sum[d] / (float8) st->n);
		values[2 * RFM_NDIMS + d] = Float8GetDatum(median);
	}
	values[3 * RFM_NDIMS] = Int64GetDatum(st->n);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}


/* ------------------------------------------------------------------------
 * Scoring
 * ------------------------------------------------------------------------
 */

/*
 * Checks 4 cut points: finite and non-decreasing (ties between cut points
 * are normal: with most frequencies equal to 1, several cuts are 1).
 * what names the array in messages.
 */
static void
CheckCuts(const float8 *cuts, const char *what)
{
	int			i;

	for (i = 0; i < RFM_NCUTS; i++)
		if (isnan(cuts[i]) || isinf(cuts[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be finite", what),
					 errdetail("Cut point %d is %s.", i + 1, float8out_internal(cuts[i]))));
	for (i = 1; i < RFM_NCUTS; i++)
		if (cuts[i] < cuts[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be in ascending order", what),
					 errdetail("Cut point %d (%s) is less than cut point %d (%s).",
							   i + 1, float8out_internal(cuts[i]),
							   i, float8out_internal(cuts[i - 1]))));
}

/* Reads a float8[] of exactly 4 non-null values into cuts and checks them. */
static void
ParseCuts(ArrayType *arr, float8 *cuts, const char *what)
{
	Datum	   *elems;
	bool	   *enulls;
	int			nelems;
	int			i;

	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		elog(ERROR, "%s must be of type double precision[]", what);
	if (ARR_NDIM(arr) != 1 || ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) != RFM_NCUTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array of %d values", what, RFM_NCUTS),
				 errdetail("The array given has %d dimension(s) and %d element(s).",
						   ARR_NDIM(arr), ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)))));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &enulls, &nelems);
	for (i = 0; i < RFM_NCUTS; i++)
	{
		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain null", what),
					 errdetail("Cut point %d is null.", i + 1)));
		cuts[i] = DatumGetFloat8(elems[i]);
	}
	pfree(elems);
	pfree(enulls);
	CheckCuts(cuts, what);
}

/* The score 1..5 of v against 4 valid cut points (see the tie rule above). */
static inline int32
Score(float8 v, const float8 *cuts, bool higher_is_better)
{
	int32		below = 0;
	int			i;

	for (i = 0; i < RFM_NCUTS; i++)
		below += (cuts[i] < v);
	return higher_is_better ? 1 + below : 5 - below;
}

/* True when the cached copy holds exactly the len bytes at ptr. */
static inline bool
SameBytes(const char *cached, Size cachedlen, const void *ptr, Size len)
{
	return cachedlen == len && memcmp(cached, ptr, len) == 0;
}

/* SQL: tagscrm.rfm_score(value, cuts, higher_is_better) -> 1..5 */
Datum
rfm_score(PG_FUNCTION_ARGS)
{
	float8		v = PG_GETARG_FLOAT8(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	bool		higher_is_better = PG_GETARG_BOOL(2);
	RfmCutsCache *cache = (RfmCutsCache *) fcinfo->flinfo->fn_extra;
	Size		len = VARSIZE(arr);

	CheckFinite(v, "rfm value");

	/* the cut points are usually the same for every row: parse them once */
	if (cache == NULL || !SameBytes(cache->bytes, cache->len, arr, len))
	{
		float8		cuts[RFM_NCUTS];

		ParseCuts(arr, cuts, "rfm cut points");
		if (cache == NULL)
			cache = fcinfo->flinfo->fn_extra =
				MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RfmCutsCache));
		if (cache->bytes != NULL)
			pfree(cache->bytes);
		cache->len = 0;
		cache->bytes = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
		memcpy(cache->bytes, arr, len);
		memcpy(cache->cuts, cuts, sizeof(cuts));
		cache->len = len;
	}

	PG_RETURN_INT32(Score(v, cache->cuts, higher_is_better));
}

/* Reads one composite field by 1-based number into *isnull / the result. */
static Datum
BpField(HeapTupleData *tuple, TupleDesc tupdesc, int attno, Oid type, bool *isnull)
{
	if (TupleDescAttr(tupdesc, attno - 1)->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("tagscrm.rfm_breakpoints has an unexpected column type"),
				 errdetail("Column %d is of type %s.", attno,
						   format_type_be(TupleDescAttr(tupdesc, attno - 1)->atttypid))));
	return heap_getattr(tuple, attno, tupdesc, isnull);
}

/*
 * Reads a tagscrm.rfm_breakpoints value.  Null parts are recorded, and an
 * error is raised only when a function needs them; non-null parts are
 * checked now (cuts: 4 finite ascending values; means, medians: finite).
 */
static void
ParseBreakpoints(HeapTupleHeader th, RfmBreakpoints *bp)
{
	TupleDesc	tupdesc;
	HeapTupleData tuple;
	int			d;

	tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));
	if (tupdesc->natts != RFM_BP_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("tagscrm.rfm_breakpoints has %d columns, expected %d",
						tupdesc->natts, RFM_BP_NATTS)));
	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;

	for (d = 0; d < RFM_NDIMS; d++)
	{
		static const char *const cutname[RFM_NDIMS] = {
			"rfm breakpoints field r_cuts", "rfm breakpoints field f_cuts",
		"rfm breakpoints field m_cuts"};
		static const char *const meanname[RFM_NDIMS] = {
			"rfm breakpoints field r_mean", "rfm breakpoints field f_mean",
		"rfm breakpoints field m_mean"};
		static const char *const medname[RFM_NDIMS] = {
			"rfm breakpoints field r_median", "rfm breakpoints field f_median",
		"rfm breakpoints field m_median"};
		Datum		v;

		v = BpField(&tuple, tupdesc, d + 1, FLOAT8ARRAYOID, &bp->cuts_null[d]);
		if (!bp->cuts_null[d])
			ParseCuts(DatumGetArrayTypeP(v), bp->cuts[d], cutname[d]);

		v = BpField(&tuple, tupdesc, RFM_NDIMS + d + 1, FLOAT8OID, &bp->mean_null[d]);
		if (!bp->mean_null[d])
		{
			bp->mean[d] = DatumGetFloat8(v);
			CheckFinite(bp->mean[d], meanname[d]);
		}

		v = BpField(&tuple, tupdesc, 2 * RFM_NDIMS + d + 1, FLOAT8OID, &bp->median_null[d]);
		if (!bp->median_null[d])
		{
			bp->median[d] = DatumGetFloat8(v);
			CheckFinite(bp->median[d], medname[d]);
		}
	}
	ReleaseTupleDesc(tupdesc);
}

/*
 * The parsed breakpoints of argument argno, from the call site's cache when
 * the value is the same as last time (the usual case: one stored row).
 */
static RfmBpCache *
GetBreakpoints(FunctionCallInfo fcinfo, int argno)
{
	HeapTupleHeader th = PG_GETARG_HEAPTUPLEHEADER(argno);
	Size		len = HeapTupleHeaderGetDatumLength(th);
	RfmBpCache *cache = (RfmBpCache *) fcinfo->flinfo->fn_extra;

	if (cache == NULL || !SameBytes(cache->bytes, cache->len, th, len))
	{
		RfmBreakpoints bp;

		ParseBreakpoints(th, &bp);
		if (cache == NULL)
			cache = fcinfo->flinfo->fn_extra =
				MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RfmBpCache));
		if (cache->bytes != NULL)
			pfree(cache->bytes);
		cache->len = 0;
		cache->bytes = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
		memcpy(cache->bytes, th, len);
		cache->bp = bp;
		cache->len = len;
	}
	return cache;
}

/* Reads the basis argument: 'mean' or 'median'. */
static RfmBasis
GetBasis(text *t)
{
	const char *s = VARDATA_ANY(t);
	Size		len = VARSIZE_ANY_EXHDR(t);

	if (len == 4 && memcmp(s, "mean", 4) == 0)
		return RFM_BASIS_MEAN;
	if (len == 6 && memcmp(s, "median", 6) == 0)
		return RFM_BASIS_MEDIAN;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid rfm segment basis \"%s\"", text_to_cstring(t)),
			 errhint("Use 'mean' (the default) or 'median'.")));
	return RFM_BASIS_MEAN;		/* keep the compiler quiet */
}

/*
 * The segment index (r_high << 2 | f_high << 1 | m_high) of one customer.
 * R is high when more recent (fewer days) than the basis, F and M when above.
 */
static int
SegmentIndex(const float8 *v, const RfmBreakpoints *bp, RfmBasis basis)
{
	static const char *const meanname[RFM_NDIMS] = {"r_mean", "f_mean", "m_mean"};
	static const char *const medname[RFM_NDIMS] = {"r_median", "f_median", "m_median"};
	const float8 *ref = (basis == RFM_BASIS_MEAN) ? bp->mean : bp->median;
	const bool *refnull = (basis == RFM_BASIS_MEAN) ? bp->mean_null : bp->median_null;
	int			d;

	for (d = 0; d < RFM_NDIMS; d++)
		if (refnull[d])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("rfm breakpoints field %s is null",
							(basis == RFM_BASIS_MEAN) ? meanname[d] : medname[d]),
					 errhint("Compute the breakpoints with tagscrm.rfm_breakpoints().")));

	return ((v[0] < ref[0]) << 2) | ((v[1] > ref[1]) << 1) | (v[2] > ref[2]);
}

/* Reads and checks the three customer values of arguments 0..2. */
static void
GetValues(FunctionCallInfo fcinfo, float8 *v)
{
	int			d;

	for (d = 0; d < RFM_NDIMS; d++)
	{
		v[d] = PG_GETARG_FLOAT8(d);
		CheckFinite(v[d], rfm_dim_name[d]);
	}
}

/* SQL: tagscrm.rfm_segment(recency, frequency, monetary, bp, basis) -> text */
Datum
rfm_segment(PG_FUNCTION_ARGS)
{
	float8		v[RFM_NDIMS];
	const RfmBreakpoints *bp;
	RfmBasis	basis;

	GetValues(fcinfo, v);
	basis = GetBasis(PG_GETARG_TEXT_PP(4));
	bp = &GetBreakpoints(fcinfo, 3)->bp;
	PG_RETURN_TEXT_P(cstring_to_text(rfm_segment_name[SegmentIndex(v, bp, basis)]));
}

/*
 * SQL: tagscrm.rfm_classify(recency, frequency, monetary, bp, basis)
 * -> tagscrm.rfm_class (r_score, f_score, m_score, segment): the three
 * scores and the segment in one call, the breakpoints parsed once per call
 * site.
 */
Datum
rfm_classify(PG_FUNCTION_ARGS)
{
	float8		v[RFM_NDIMS];
	RfmBpCache *cache;
	const RfmBreakpoints *bp;
	RfmBasis	basis;
	Datum		values[4];
	bool		nulls[4] = {0};
	int			d;

	GetValues(fcinfo, v);
	basis = GetBasis(PG_GETARG_TEXT_PP(4));
	cache = GetBreakpoints(fcinfo, 3);
	bp = &cache->bp;

	for (d = 0; d < RFM_NDIMS; d++)
	{
		static const char *const cutname[RFM_NDIMS] = {"r_cuts", "f_cuts", "m_cuts"};

		if (bp->cuts_null[d])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("rfm breakpoints field %s is null", cutname[d]),
					 errhint("Compute the breakpoints with tagscrm.rfm_breakpoints().")));
		values[d] = Int32GetDatum(Score(v[d], bp->cuts[d], d != 0));
	}
	values[3] = PointerGetDatum(cstring_to_text(rfm_segment_name[SegmentIndex(v, bp, basis)]));

	/* the result type is looked up once per call site, not per row */
	if (cache->classdesc == NULL)
	{
		TupleDesc	tupdesc;
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
			tupdesc->natts != 4)
			elog(ERROR, "rfm_classify must return tagscrm.rfm_class");
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		cache->classdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(cache->classdesc, values, nulls)));
}
