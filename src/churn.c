/*
 * churn.c: the statistical churn model as SQL (see src/churn.sql).
 *
 * Aggregates:
 *   purchase_summary(at, amount, calibration_end [, time_unit]) per customer:
 *     (x, t_x, t, zbar) as Fader, Hardie & Lee build them (same-day purchases
 *     merged, repeat purchases only, times in time units).
 *   bgnbd_fit(x, t_x, t), mbgnbd_fit(x, t_x, t) and gamma_gamma_fit(x, zbar):
 *     maximum-likelihood fits.  Their state is the data points, compressed
 *     (identical points are kept once with a count), so that the optimiser's
 *     passes over the data cost one evaluation per distinct point; the two
 *     purchase models share it.  All four are PARALLEL SAFE with combine,
 *     serialize and deserialize functions.
 * Scoring functions read the model composites; the numerical work is in
 * churn_math.c.
 */
#include "tagscrm.h"

#include <math.h>

#include "churn_math.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(purchase_summary_transfn);
PG_FUNCTION_INFO_V1(purchase_summary_combinefn);
PG_FUNCTION_INFO_V1(purchase_summary_serialfn);
PG_FUNCTION_INFO_V1(purchase_summary_deserialfn);
PG_FUNCTION_INFO_V1(purchase_summary_finalfn);
PG_FUNCTION_INFO_V1(bgnbd_fit_transfn);
PG_FUNCTION_INFO_V1(gamma_gamma_fit_transfn);
PG_FUNCTION_INFO_V1(churn_points_combinefn);
PG_FUNCTION_INFO_V1(churn_points_serialfn);
PG_FUNCTION_INFO_V1(churn_points_deserialfn);
PG_FUNCTION_INFO_V1(bgnbd_fit_finalfn);
PG_FUNCTION_INFO_V1(mbgnbd_fit_finalfn);
PG_FUNCTION_INFO_V1(gamma_gamma_fit_finalfn);
PG_FUNCTION_INFO_V1(bgnbd_p_alive);
PG_FUNCTION_INFO_V1(bgnbd_expected_purchases);
PG_FUNCTION_INFO_V1(bgnbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(mbgnbd_p_alive);
PG_FUNCTION_INFO_V1(mbgnbd_expected_purchases);
PG_FUNCTION_INFO_V1(mbgnbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(gamma_gamma_expected_value);
PG_FUNCTION_INFO_V1(churn_clv);
PG_FUNCTION_INFO_V1(mbgnbd_clv);
PG_FUNCTION_INFO_V1(churn_hyp2f1_sql);

/* Version byte of every serialized state; bump when a layout changes. */
#define CHURN_STATE_VERSION 1

/* Largest horizon clv() accepts, in periods (it loops once per period). */
#define CLV_MAX_HORIZON 100000.0

/* ------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------ */

/* Lets the optimiser and long loops be cancelled. */
static void
ChurnInterrupt(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* The aggregate memory context, or an error when not called as an aggregate. */
static MemoryContext
AggContext(FunctionCallInfo fcinfo, const char *name)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", name);
	return aggcontext;
}

/*
 * Returns an aggregate state, which may still be NULL (no row counted yet):
 * a NULL state must be returned as SQL NULL, never as a zero pointer.
 */
#define PG_RETURN_STATE(st) \
	do { \
		if ((st) == NULL) \
			PG_RETURN_NULL(); \
		PG_RETURN_POINTER(st); \
	} while (0)

/* Raises an error unless v is a finite number. */
static void
CheckFinite(double v, const char *what)
{
	if (isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", what)));
}

/* Checks one (x, t_x, T) data point as the BG/NBD model defines it. */
static void
CheckBgnbdPoint(double x, double t_x, double T)
{
	CheckFinite(x, "x");
	CheckFinite(t_x, "t_x");
	CheckFinite(T, "t");
	if (x < 0.0 || x != floor(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x must be a whole number of repeat purchases, not %g", x)));
	if (T < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t must not be negative, got %g", T),
				 errdetail("t is the time from the customer's first purchase to the end of the calibration period.")));
	if (t_x < 0.0 || t_x > T)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t_x must lie between 0 and t, got t_x = %g and t = %g", t_x, T),
				 errdetail("t_x is the time of the last repeat purchase, counted from the first purchase.")));
	if (x == 0.0 && t_x != 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t_x must be 0 when x is 0, got %g", t_x),
				 errdetail("A customer without repeat purchases has no last repeat purchase.")));
}

/* Builds a composite result of the function's declared row type. */
static Datum
MakeRow(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* Reads the float8 fields of a model composite, each positive and finite. */
static void
ReadModel(HeapTupleHeader row, int nfields, double *out, const char *const *names, const char *model)
{
	int			i;

	for (i = 0; i < nfields; i++)
	{
		bool		isnull;
		Datum		d = GetAttributeByNum(row, i + 1, &isnull);

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s parameter %s is null", model, names[i]),
					 errhint("Pass a model returned by the fit aggregate or stored by tagscrm.churn_fit().")));
		out[i] = DatumGetFloat8(d);
		if (!(out[i] > 0.0) || isinf(out[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s parameter %s must be positive and finite, got %g", model, names[i], out[i]),
					 errhint("Pass a model returned by the fit aggregate or stored by tagscrm.churn_fit().")));
	}
}

/*
 * A model argument as last parsed, kept in fn_extra: scoring a table calls
 * the function once per row with the same model, and parsing the composite
 * (a type cache lookup per field) would cost more than the formula.
 */
typedef struct ModelCache
{
	Size		len;
	double		v[4];
	char	   *bytes;
} ModelCache;

/* Reads model argument argno (slot 0 or 1 of the cache) through the cache. */
static void
ReadModelCached(FunctionCallInfo fcinfo, int argno, int slot, int nfields, double *out,
				const char *const *names, const char *model)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(argno);
	Size		len = HeapTupleHeaderGetDatumLength(row);
	ModelCache *cache;

	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, 2 * sizeof(ModelCache));
	cache = &((ModelCache *) fcinfo->flinfo->fn_extra)[slot];
	if (cache->bytes != NULL && cache->len == len && memcmp(cache->bytes, row, len) == 0)
	{
		memcpy(out, cache->v, nfields * sizeof(double));
		return;
	}
	ReadModel(row, nfields, out, names, model);
	if (cache->bytes != NULL)
		pfree(cache->bytes);
	cache->bytes = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
	memcpy(cache->bytes, row, len);
	cache->len = len;
	memcpy(cache->v, out, nfields * sizeof(double));
}

static void
ReadBgnbd(FunctionCallInfo fcinfo, int argno, BgnbdParams *m)
{
	static const char *const names[] = {"r", "alpha", "a", "b"};
	double		v[4];

	ReadModelCached(fcinfo, argno, 0, 4, v, names, "bg/nbd model");
	m->r = v[0];
	m->alpha = v[1];
	m->a = v[2];
	m->b = v[3];
}

static void
ReadGammaGamma(FunctionCallInfo fcinfo, int argno, GgParams *m)
{
	static const char *const names[] = {"p", "q", "gamma"};
	double		v[3];

	ReadModelCached(fcinfo, argno, 1, 3, v, names, "gamma-gamma model");
	m->p = v[0];
	m->q = v[1];
	m->gamma = v[2];
}

/* Raises an error unless a computed score is a finite number. */
static double
CheckScore(double v, int ok, const char *what)
{
	if (!ok || isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("could not compute %s: result out of range", what),
				 errhint("Check that the model and the customer's values are of the same time unit.")));
	return v;
}

/* ------------------------------------------------------------------------
 * purchase_summary: per-customer (x, t_x, T, zbar) from orders
 * ------------------------------------------------------------------------ */

typedef struct PurchaseRow
{
	TimestampTz at;
	double		amount;
} PurchaseRow;

typedef struct PurchaseState
{
	TimestampTz calibration_end;
	int64		unit_usecs;		/* the time unit (see IntervalUsecs) */
	int64		n;
	int64		cap;
	PurchaseRow *rows;
} PurchaseState;

/*
 * The time unit in microseconds, counted as extract(epoch from ...) counts an
 * interval (a day is 24 hours, a month 30 days, a year 365.25 days); it must
 * be positive.
 */
static int64
IntervalUsecs(const Interval *iv)
{
	double		us = (double) iv->time + (double) iv->day * USECS_PER_DAY
		+ (double) (iv->month / MONTHS_PER_YEAR) * DAYS_PER_YEAR * USECS_PER_DAY
		+ (double) (iv->month % MONTHS_PER_YEAR) * DAYS_PER_MONTH * USECS_PER_DAY;

	if (!(us >= 1.0) || us > 1e17)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_unit must be a positive interval"),
				 errhint("Pass the length of one model period, such as '7 days' (the default) or '1 day'.")));
	return (int64) us;
}

static PurchaseState *
NewPurchaseState(MemoryContext cxt, TimestampTz calibration_end, int64 unit_usecs, int64 cap)
{
	PurchaseState *st = MemoryContextAlloc(cxt, sizeof(PurchaseState));

	st->calibration_end = calibration_end;
	st->unit_usecs = unit_usecs;
	st->n = 0;
	st->cap = Max(cap, 4);
	st->rows = MemoryContextAllocHuge(cxt, st->cap * sizeof(PurchaseRow));
	return st;
}

/* Makes room for extra more rows; the array stays in its own context. */
static void
PurchaseReserve(PurchaseState *st, int64 extra)
{
	if (st->n + extra > st->cap)
	{
		int64		cap = Max(st->cap * 2, st->n + extra);

		if ((Size) cap > MaxAllocHugeSize / sizeof(PurchaseRow))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many orders for one customer")));
		st->rows = repalloc_huge(st->rows, cap * sizeof(PurchaseRow));
		st->cap = cap;
	}
}

static void
PurchaseSameParams(PurchaseState *st, TimestampTz calibration_end, int64 unit_usecs)
{
	if (st->calibration_end != calibration_end || st->unit_usecs != unit_usecs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("calibration_end and time_unit must be the same in every row of a group"),
				 errhint("Pass constants, not columns, for calibration_end and time_unit.")));
}

/* SQL: transition function of purchase_summary (3 or 4 arguments after the state) */
Datum
purchase_summary_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo, "purchase_summary_transfn");
	PurchaseState *st = PG_ARGISNULL(0) ? NULL : (PurchaseState *) PG_GETARG_POINTER(0);
	TimestampTz at,
				calibration_end;
	int64		unit_usecs = 7 * USECS_PER_DAY;
	double		amount;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("purchase time must not be null"),
				 errhint("Filter out orders without a time, or give them one.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("purchase amount must not be null"),
				 errhint("Use coalesce(amount, 0) if the amount is unknown; the Gamma-Gamma model then needs other data.")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("calibration_end must not be null")));
	if (PG_NARGS() > 4)
	{
		if (PG_ARGISNULL(4))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("time_unit must not be null")));
		unit_usecs = IntervalUsecs(PG_GETARG_INTERVAL_P(4));
	}

	at = PG_GETARG_TIMESTAMPTZ(1);
	calibration_end = PG_GETARG_TIMESTAMPTZ(3);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("purchase time must be finite")));
	if (TIMESTAMP_NOT_FINITE(calibration_end))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("calibration_end must be finite")));
	{
		Numeric		num = PG_GETARG_NUMERIC(2);

		if (numeric_is_nan(num))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("purchase amount must be a number, not NaN")));
		amount = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(num)));
		if (!(amount >= 0.0) || isinf(amount))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("purchase amount must be zero or positive and finite, got %g", amount),
					 errhint("Net refunds and returns against their orders before summarising.")));
	}

	if (st != NULL)
		PurchaseSameParams(st, calibration_end, unit_usecs);
	if (at > calibration_end)
		PG_RETURN_STATE(st);	/* after the calibration period: not counted */

	if (st == NULL)
		st = NewPurchaseState(aggcontext, calibration_end, unit_usecs, 4);
	PurchaseReserve(st, 1);
	st->rows[st->n].at = at;
	st->rows[st->n].amount = amount;
	st->n++;
	PG_RETURN_POINTER(st);
}

/* SQL: combine function of purchase_summary */
Datum
purchase_summary_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo, "purchase_summary_combinefn");
	PurchaseState *a = PG_ARGISNULL(0) ? NULL : (PurchaseState *) PG_GETARG_POINTER(0);
	PurchaseState *b = PG_ARGISNULL(1) ? NULL : (PurchaseState *) PG_GETARG_POINTER(1);

	if (b == NULL)
		PG_RETURN_STATE(a);
	if (a == NULL)
	{
		a = NewPurchaseState(aggcontext, b->calibration_end, b->unit_usecs, b->n);
		memcpy(a->rows, b->rows, b->n * sizeof(PurchaseRow));
		a->n = b->n;
		PG_RETURN_POINTER(a);
	}
	PurchaseSameParams(a, b->calibration_end, b->unit_usecs);
	PurchaseReserve(a, b->n);
	memcpy(a->rows + a->n, b->rows, b->n * sizeof(PurchaseRow));
	a->n += b->n;
	PG_RETURN_POINTER(a);
}

/* SQL: serialize function of purchase_summary */
Datum
purchase_summary_serialfn(PG_FUNCTION_ARGS)
{
	PurchaseState *st = (PurchaseState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	int64		i;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, CHURN_STATE_VERSION);
	pq_sendint64(&buf, st->calibration_end);
	pq_sendint64(&buf, st->unit_usecs);
	pq_sendint64(&buf, st->n);
	for (i = 0; i < st->n; i++)
	{
		pq_sendint64(&buf, st->rows[i].at);
		pq_sendfloat8(&buf, st->rows[i].amount);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Checks the version byte of a serialized state. */
static void
CheckStateVersion(StringInfo buf)
{
	int			version = pq_getmsgbyte(buf);

	if (version != CHURN_STATE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported churn aggregate state version %d", version)));
}

/* SQL: deserialize function of purchase_summary */
Datum
purchase_summary_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo, "purchase_summary_deserialfn");
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	PurchaseState *st;
	TimestampTz calibration_end;
	int64		unit_usecs,
				n,
				i;

	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	CheckStateVersion(&buf);
	calibration_end = pq_getmsgint64(&buf);
	unit_usecs = pq_getmsgint64(&buf);
	n = pq_getmsgint64(&buf);
	if (n < 0 || n != (buf.len - buf.cursor) / 16 || (buf.len - buf.cursor) % 16 != 0 || unit_usecs <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid purchase_summary state")));
	st = NewPurchaseState(aggcontext, calibration_end, unit_usecs, n);
	for (i = 0; i < n; i++)
	{
		st->rows[i].at = pq_getmsgint64(&buf);
		st->rows[i].amount = pq_getmsgfloat8(&buf);
	}
	st->n = n;
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(st);
}

static int
ComparePurchaseRows(const void *a, const void *b)
{
	TimestampTz x = ((const PurchaseRow *) a)->at;
	TimestampTz y = ((const PurchaseRow *) b)->at;

	return (x > y) - (x < y);
}

/* The calendar day of a time in the session time zone. */
static DateADT
LocalDay(TimestampTz at)
{
	return DatumGetDateADT(DirectFunctionCall1(timestamptz_date, TimestampTzGetDatum(at)));
}

/*
 * SQL: final function of purchase_summary.  Orders are sorted by time and
 * merged per calendar day (session time zone); the first day is the first
 * purchase, each later day one repeat purchase dated by its earliest order.
 * zbar is the mean of the repeat days' summed amounts, 0 without repeats.
 */
Datum
purchase_summary_finalfn(PG_FUNCTION_ARGS)
{
	PurchaseState *st = PG_ARGISNULL(0) ? NULL : (PurchaseState *) PG_GETARG_POINTER(0);
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	TimestampTz first,
				last;
	DateADT		day;
	int64		x = 0,
				i;
	double		repeat_total = 0.0;

	if (st == NULL || st->n == 0)
		PG_RETURN_NULL();

	qsort(st->rows, st->n, sizeof(PurchaseRow), ComparePurchaseRows);
	first = last = st->rows[0].at;
	day = LocalDay(first);
	for (i = 1; i < st->n; i++)
	{
		DateADT		d = LocalDay(st->rows[i].at);

		if (d != day)
		{
			day = d;
			x++;
		}
		/* t_x runs to the last purchase, as the facts' last_order_at does */
		if (x > 0)
		{
			last = st->rows[i].at;
			repeat_total += st->rows[i].amount;
		}
	}
	if (x > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many repeat purchases for one customer")));
	if (isinf(repeat_total))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sum of a customer's purchase amounts is out of range for float8")));

	values[0] = Int32GetDatum((int32) x);
	values[1] = Float8GetDatum((double) (last - first) / (double) st->unit_usecs);
	values[2] = Float8GetDatum((double) (st->calibration_end - first) / (double) st->unit_usecs);
	values[3] = Float8GetDatum(x > 0 ? repeat_total / (double) x : 0.0);
	PG_RETURN_DATUM(MakeRow(fcinfo, values, nulls));
}

/* ------------------------------------------------------------------------
 * Fit aggregates: compressed data points
 * ------------------------------------------------------------------------ */

/* Points (v0, v1, v2) with counts; Gamma-Gamma uses (x, zbar, 0). */
typedef struct PointState
{
	int64		n;
	int64		cap;
	int64		compressed_n;	/* length of the sorted, merged prefix */
	BgnbdPoint *pts;
} PointState;

static PointState *
NewPointState(MemoryContext cxt, int64 cap)
{
	PointState *st = MemoryContextAlloc(cxt, sizeof(PointState));

	st->n = 0;
	st->compressed_n = 0;
	st->cap = Max(cap, 64);
	st->pts = MemoryContextAllocHuge(cxt, st->cap * sizeof(BgnbdPoint));
	return st;
}

static int
ComparePoints(const void *a, const void *b)
{
	const BgnbdPoint *p = (const BgnbdPoint *) a;
	const BgnbdPoint *q = (const BgnbdPoint *) b;

	if (p->x != q->x)
		return (p->x > q->x) ? 1 : -1;
	if (p->t_x != q->t_x)
		return (p->t_x > q->t_x) ? 1 : -1;
	if (p->T != q->T)
		return (p->T > q->T) ? 1 : -1;
	return 0;
}

/* Sorts the points by (x, t_x, T) and merges identical ones, adding counts. */
static void
CompressPoints(PointState *st)
{
	int64		i,
				out = 0;

	if (st->n == 0 || st->compressed_n == st->n)
		return;
	qsort(st->pts, st->n, sizeof(BgnbdPoint), ComparePoints);
	for (i = 1; i < st->n; i++)
	{
		if (ComparePoints(&st->pts[out], &st->pts[i]) == 0)
			st->pts[out].n += st->pts[i].n;
		else
			st->pts[++out] = st->pts[i];
	}
	st->n = out + 1;
	st->compressed_n = st->n;
}

/*
 * Makes room for extra more points: first by merging duplicates, and grows
 * the array only when that frees less than half of it.
 */
static void
PointReserve(PointState *st, int64 extra)
{
	if (st->n + extra <= st->cap)
		return;
	CompressPoints(st);
	if (st->n + extra > st->cap / 2)
	{
		int64		cap = Max(st->cap * 2, st->n + extra);

		if ((Size) cap > MaxAllocHugeSize / sizeof(BgnbdPoint))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct data points to fit")));
		st->pts = repalloc_huge(st->pts, cap * sizeof(BgnbdPoint));
		st->cap = cap;
	}
}

static void
PointAdd(PointState *st, double v0, double v1, double v2, double n)
{
	PointReserve(st, 1);
	st->pts[st->n].x = v0;
	st->pts[st->n].t_x = v1;
	st->pts[st->n].T = v2;
	st->pts[st->n].n = n;
	st->n++;
}

/* SQL: transition function of bgnbd_fit and mbgnbd_fit(x, t_x, t); rows with a NULL are skipped */
Datum
bgnbd_fit_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo, "bgnbd_fit_transfn");
	PointState *st = PG_ARGISNULL(0) ? NULL : (PointState *) PG_GETARG_POINTER(0);
	double		x,
				t_x,
				T;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_STATE(st);
	x = PG_GETARG_FLOAT8(1);
	t_x = PG_GETARG_FLOAT8(2);
	T = PG_GETARG_FLOAT8(3);
	CheckBgnbdPoint(x, t_x, T);
	if (st == NULL)
		st = NewPointState(aggcontext, 64);
	PointAdd(st, x, t_x, T, 1.0);
	PG_RETURN_POINTER(st);
}

/*
 * SQL: transition function of gamma_gamma_fit(x, zbar).  Rows with a NULL and
 * customers without repeat purchases (x = 0) are skipped: the model describes
 * the spend of repeat purchases.
 */
Datum
gamma_gamma_fit_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo, "gamma_gamma_fit_transfn");
	PointState *st = PG_ARGISNULL(0) ? NULL : (PointState *) PG_GETARG_POINTER(0);
	double		x,
				zbar;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_STATE(st);
	x = PG_GETARG_FLOAT8(1);
	zbar = PG_GETARG_FLOAT8(2);
	CheckFinite(x, "x");
	CheckFinite(zbar, "zbar");
	if (x < 0.0 || x != floor(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x must be a whole number of repeat purchases, not %g", x)));
	if (x == 0.0)
		PG_RETURN_STATE(st);
	if (!(zbar > 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("zbar must be positive for a customer with repeat purchases, got %g", zbar),
				 errdetail("The Gamma-Gamma model describes positive spend."),
				 errhint("Leave out customers whose repeat purchases were all free, for example with FILTER (WHERE zbar > 0).")));
	if (st == NULL)
		st = NewPointState(aggcontext, 64);
	PointAdd(st, x, zbar, 0.0, 1.0);
	PG_RETURN_POINTER(st);
}

/* SQL: combine function of bgnbd_fit, mbgnbd_fit and gamma_gamma_fit */
Datum
churn_points_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo, "churn_points_combinefn");
	PointState *a = PG_ARGISNULL(0) ? NULL : (PointState *) PG_GETARG_POINTER(0);
	PointState *b = PG_ARGISNULL(1) ? NULL : (PointState *) PG_GETARG_POINTER(1);
	int64		i;

	if (b == NULL)
		PG_RETURN_STATE(a);
	if (a == NULL)
		a = NewPointState(aggcontext, b->n);
	for (i = 0; i < b->n; i++)
	{
		/* grows with the data: a long merge must stay cancellable */
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		PointAdd(a, b->pts[i].x, b->pts[i].t_x, b->pts[i].T, b->pts[i].n);
	}
	PG_RETURN_POINTER(a);
}

/* SQL: serialize function of bgnbd_fit, mbgnbd_fit and gamma_gamma_fit (compresses first) */
Datum
churn_points_serialfn(PG_FUNCTION_ARGS)
{
	PointState *st = (PointState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	int64		i;

	CompressPoints(st);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, CHURN_STATE_VERSION);
	pq_sendint64(&buf, st->n);
	for (i = 0; i < st->n; i++)
	{
		pq_sendfloat8(&buf, st->pts[i].x);
		pq_sendfloat8(&buf, st->pts[i].t_x);
		pq_sendfloat8(&buf, st->pts[i].T);
		pq_sendfloat8(&buf, st->pts[i].n);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* SQL: deserialize function of bgnbd_fit, mbgnbd_fit and gamma_gamma_fit (validates) */
Datum
churn_points_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo, "churn_points_deserialfn");
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	PointState *st;
	int64		n,
				i;

	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	CheckStateVersion(&buf);
	n = pq_getmsgint64(&buf);
	if (n < 0 || (buf.len - buf.cursor) % 32 != 0 || n != (buf.len - buf.cursor) / 32)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid churn fit state")));
	st = NewPointState(aggcontext, n);
	for (i = 0; i < n; i++)
	{
		BgnbdPoint *p = &st->pts[i];

		p->x = pq_getmsgfloat8(&buf);
		p->t_x = pq_getmsgfloat8(&buf);
		p->T = pq_getmsgfloat8(&buf);
		p->n = pq_getmsgfloat8(&buf);
		if (!isfinite(p->x) || !isfinite(p->t_x) || !isfinite(p->T) || !(p->n >= 1.0) || isinf(p->n))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid churn fit state")));
	}
	st->n = n;
	st->compressed_n = n;
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(st);
}

/* Reports a fit that did not give a usable model. */
static void
ReportFitFailure(ChurnFitResult res, const char *model, const char *const *names)
{
	if (res.status == CHURN_FIT_DIVERGED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s fit did not converge: parameter %s runs to 0 or infinity", model,
						names[res.diverged_param]),
				 errdetail("The data do not determine the model; this happens with very few customers or when all customers look alike."),
				 errhint("Fit on more customers, or over a longer calibration period.")));
	if (res.status == CHURN_FIT_NO_DROPOUT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s fit did not converge: parameters a and b are not determined, the fit is no better than the boundary where nobody drops out",
						model),
				 errdetail("Log-likelihood %.4f against %.4f without dropout (a / (a + b) -> 0); the fit has a / (a + b) = %.3g and expects %.3g dropouts among the calibration purchases.",
						   res.log_likelihood, res.limit_log_likelihood, res.dropout_mean, res.expected_dropouts),
				 errhint("Fit over a longer calibration period, so that the data show customers who stopped buying.")));
	if (res.status != CHURN_FIT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s fit did not converge", model),
				 errdetail("The maximum-likelihood search stopped after %d iterations without settling.",
						   res.iterations),
				 errhint("Fit on more customers, or over a longer calibration period.")));
}

/* The fit of one purchase model (BG/NBD or MBG/NBD) as SQL. */
typedef ChurnFitResult (*PurchaseFitFn) (BgnbdPoint *pts, size_t npts, BgnbdParams *out,
										 ChurnInterruptFn interrupt);

/*
 * The final function shared by bgnbd_fit and mbgnbd_fit: the same state, the
 * same checks, the same bgnbd_model result; only the likelihood (inside fn)
 * differs.  model names the model in messages, a_model with its article.
 */
static Datum
PurchaseFitFinal(FunctionCallInfo fcinfo, PurchaseFitFn fn, const char *model, const char *a_model)
{
	static const char *const names[] = {"r", "alpha", "a", "b"};
	PointState *st = PG_ARGISNULL(0) ? NULL : (PointState *) PG_GETARG_POINTER(0);
	BgnbdParams m;
	ChurnFitResult res;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	double		customers = 0.0,
				repeaters = 0.0,
				maxT = 0.0;
	int64		i;

	if (st == NULL || st->n == 0)
		PG_RETURN_NULL();
	CompressPoints(st);
	for (i = 0; i < st->n; i++)
	{
		customers += st->pts[i].n;
		if (st->pts[i].x > 0.0)
			repeaters += st->pts[i].n;
		maxT = Max(maxT, st->pts[i].T);
	}
	if (repeaters == 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit %s model without repeat purchases", a_model),
				 errdetail("All %.0f customers have x = 0.", customers),
				 errhint("Extend the calibration period, or wait until some customers buy again.")));
	if (maxT == 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit %s model when every customer has t = 0", a_model)));

	res = fn(st->pts, st->n, &m, ChurnInterrupt);
	ReportFitFailure(res, model, names);
	if (!isfinite(res.log_likelihood))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s log-likelihood is not finite at the fitted parameters", model)));

	values[0] = Float8GetDatum(m.r);
	values[1] = Float8GetDatum(m.alpha);
	values[2] = Float8GetDatum(m.a);
	values[3] = Float8GetDatum(m.b);
	values[4] = Float8GetDatum(res.log_likelihood);
	values[5] = Int64GetDatum((int64) customers);
	PG_RETURN_DATUM(MakeRow(fcinfo, values, nulls));
}

/* SQL: final function of bgnbd_fit -> tagscrm.bgnbd_model */
Datum
bgnbd_fit_finalfn(PG_FUNCTION_ARGS)
{
	return PurchaseFitFinal(fcinfo, bgnbd_fit_points, "bg/nbd", "a bg/nbd");
}

/* SQL: final function of mbgnbd_fit -> tagscrm.bgnbd_model holding MBG/NBD parameters */
Datum
mbgnbd_fit_finalfn(PG_FUNCTION_ARGS)
{
	return PurchaseFitFinal(fcinfo, mbgnbd_fit_points, "mbg/nbd", "an mbg/nbd");
}

/* SQL: final function of gamma_gamma_fit -> tagscrm.gamma_gamma_model */
Datum
gamma_gamma_fit_finalfn(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"p", "q", "gamma"};
	PointState *st = PG_ARGISNULL(0) ? NULL : (PointState *) PG_GETARG_POINTER(0);
	GgPoint    *pts;
	GgParams	m;
	ChurnFitResult res;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	double		customers = 0.0;
	int64		i;

	if (st == NULL || st->n == 0)
		PG_RETURN_NULL();
	CompressPoints(st);
	pts = palloc_extended(st->n * sizeof(GgPoint), MCXT_ALLOC_HUGE);
	for (i = 0; i < st->n; i++)
	{
		pts[i].x = st->pts[i].x;
		pts[i].m = st->pts[i].t_x;
		pts[i].n = st->pts[i].n;
		customers += pts[i].n;
	}
	if (st->n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit a gamma-gamma model to a single distinct customer"),
				 errdetail("All %.0f repeat buyers have the same x and zbar.", customers),
				 errhint("Fit on more repeat buyers.")));

	res = gg_fit_points(pts, st->n, &m, ChurnInterrupt);
	ReportFitFailure(res, "gamma-gamma", names);
	if (!isfinite(res.log_likelihood))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("gamma-gamma log-likelihood is not finite at the fitted parameters")));
	pfree(pts);

	values[0] = Float8GetDatum(m.p);
	values[1] = Float8GetDatum(m.q);
	values[2] = Float8GetDatum(m.gamma);
	values[3] = Float8GetDatum(res.log_likelihood);
	values[4] = Int64GetDatum((int64) customers);
	PG_RETURN_DATUM(MakeRow(fcinfo, values, nulls));
}

/* ------------------------------------------------------------------------
 * Scoring
 * ------------------------------------------------------------------------ */

/* Checks a forecast horizon in periods. */
static double
CheckPeriods(double t, const char *what)
{
	CheckFinite(t, what);
	if (t < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative, got %g", what, t)));
	return t;
}

/*
 * The scoring calls shared by BG/NBD and MBG/NBD: the same model composite,
 * the same checks, only the formula differs.
 */
typedef double (*PAliveFn) (const BgnbdParams *m, double x, double t_x, double T);
typedef double (*ExpectedFn) (const BgnbdParams *m, double t, double x, double t_x, double T, int *ok);
typedef double (*ExpectedNewFn) (const BgnbdParams *m, double t, int *ok);

/* (model, x, t_x, t) -> P(alive) */
static Datum
ScorePAlive(FunctionCallInfo fcinfo, PAliveFn fn)
{
	BgnbdParams m;
	double		x = PG_GETARG_FLOAT8(1),
				t_x = PG_GETARG_FLOAT8(2),
				T = PG_GETARG_FLOAT8(3);

	ReadBgnbd(fcinfo, 0, &m);
	CheckBgnbdPoint(x, t_x, T);
	PG_RETURN_FLOAT8(CheckScore(fn(&m, x, t_x, T), 1, "p_alive"));
}

/* (model, periods, x, t_x, t) -> expected purchases in the next periods */
static Datum
ScoreExpected(FunctionCallInfo fcinfo, ExpectedFn fn)
{
	BgnbdParams m;
	double		t = CheckPeriods(PG_GETARG_FLOAT8(1), "periods");
	double		x = PG_GETARG_FLOAT8(2),
				t_x = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4);
	double		v;
	int			ok;

	ReadBgnbd(fcinfo, 0, &m);
	CheckBgnbdPoint(x, t_x, T);
	v = fn(&m, t, x, t_x, T, &ok);
	PG_RETURN_FLOAT8(CheckScore(v, ok, "expected purchases"));
}

/* (model, periods) -> a new customer's expected repeat purchases */
static Datum
ScoreExpectedNew(FunctionCallInfo fcinfo, ExpectedNewFn fn)
{
	BgnbdParams m;
	double		t = CheckPeriods(PG_GETARG_FLOAT8(1), "periods");
	double		v;
	int			ok;

	ReadBgnbd(fcinfo, 0, &m);
	v = fn(&m, t, &ok);
	PG_RETURN_FLOAT8(CheckScore(v, ok, "expected purchases"));
}

/* SQL: bgnbd_p_alive(model, x, t_x, t) */
Datum
bgnbd_p_alive(PG_FUNCTION_ARGS)
{
	return ScorePAlive(fcinfo, bgnbd_p_alive_value);
}

/* SQL: bgnbd_expected_purchases(model, periods, x, t_x, t), conditional */
Datum
bgnbd_expected_purchases(PG_FUNCTION_ARGS)
{
	return ScoreExpected(fcinfo, bgnbd_expected_value);
}

/* SQL: bgnbd_expected_purchases(model, periods), for a new customer */
Datum
bgnbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return ScoreExpectedNew(fcinfo, bgnbd_unconditional_value);
}

/* SQL: mbgnbd_p_alive(model, x, t_x, t); the model is a bgnbd_model holding MBG/NBD parameters */
Datum
mbgnbd_p_alive(PG_FUNCTION_ARGS)
{
	return ScorePAlive(fcinfo, mbgnbd_p_alive_value);
}

/* SQL: mbgnbd_expected_purchases(model, periods, x, t_x, t), conditional */
Datum
mbgnbd_expected_purchases(PG_FUNCTION_ARGS)
{
	return ScoreExpected(fcinfo, mbgnbd_expected_value);
}

/* SQL: mbgnbd_expected_purchases(model, periods), for a new customer */
Datum
mbgnbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return ScoreExpectedNew(fcinfo, mbgnbd_unconditional_value);
}

/* Checks (x, zbar) for spend scoring. */
static void
CheckSpend(double x, double zbar)
{
	CheckFinite(x, "x");
	CheckFinite(zbar, "zbar");
	if (x < 0.0 || x != floor(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x must be a whole number of repeat purchases, not %g", x)));
	if (zbar < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("zbar must not be negative, got %g", zbar)));
}

/* SQL: gamma_gamma_expected_value(model, x, zbar) */
Datum
gamma_gamma_expected_value(PG_FUNCTION_ARGS)
{
	GgParams	m;
	double		x = PG_GETARG_FLOAT8(1),
				zbar = PG_GETARG_FLOAT8(2);

	ReadGammaGamma(fcinfo, 0, &m);
	CheckSpend(x, zbar);
	if (!gg_value_exists(&m, x))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(CheckScore(gg_expected_value(&m, x, zbar), 1, "expected value"));
}

/*
 * (purchase model, gamma_gamma, x, t_x, t, zbar, horizon, discount_rate) ->
 * CLV, with expected the purchase model's forecast.
 */
static Datum
ScoreClv(FunctionCallInfo fcinfo, ChurnExpectedFn expected)
{
	BgnbdParams bg;
	GgParams	gg;
	double		x = PG_GETARG_FLOAT8(2),
				t_x = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4),
				zbar = PG_GETARG_FLOAT8(5);
	double		horizon = CheckPeriods(PG_GETARG_FLOAT8(6), "horizon");
	double		d = PG_GETARG_FLOAT8(7);
	double		v;
	int			ok;

	ReadBgnbd(fcinfo, 0, &bg);
	ReadGammaGamma(fcinfo, 1, &gg);
	CheckBgnbdPoint(x, t_x, T);
	CheckSpend(x, zbar);
	CheckFinite(d, "discount_rate");
	if (d <= -1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discount_rate must be greater than -1, got %g", d),
				 errhint("Pass the discount rate per period as a fraction, such as 0.01 for 1 %%.")));
	if (horizon > CLV_MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be at most %.0f periods, got %g", CLV_MAX_HORIZON, horizon)));
	if (!gg_value_exists(&gg, x))
		PG_RETURN_NULL();
	v = churn_clv_value_of(expected, &bg, &gg, x, t_x, T, zbar, horizon, d, &ok);
	PG_RETURN_FLOAT8(CheckScore(v, ok, "clv"));
}

/* SQL: clv(bgnbd, gamma_gamma, x, t_x, t, zbar, horizon, discount_rate) */
Datum
churn_clv(PG_FUNCTION_ARGS)
{
	return ScoreClv(fcinfo, bgnbd_expected_value);
}

/* SQL: mbgnbd_clv(mbgnbd, gamma_gamma, x, t_x, t, zbar, horizon, discount_rate) */
Datum
mbgnbd_clv(PG_FUNCTION_ARGS)
{
	return ScoreClv(fcinfo, mbgnbd_expected_value);
}

/* SQL: hyp2f1(a, b, c, z), the Gaussian hypergeometric function for z < 1 */
Datum
churn_hyp2f1_sql(PG_FUNCTION_ARGS)
{
	double		a = PG_GETARG_FLOAT8(0),
				b = PG_GETARG_FLOAT8(1),
				c = PG_GETARG_FLOAT8(2),
				z = PG_GETARG_FLOAT8(3);
	double		v;
	int			ok;

	CheckFinite(a, "a");
	CheckFinite(b, "b");
	CheckFinite(c, "c");
	CheckFinite(z, "z");
	if (z >= 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyp2f1 needs z < 1, got %g", z)));
	if (c <= 0.0 && c == floor(c))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyp2f1 is undefined when c is 0 or a negative integer, got %g", c)));
	v = churn_hyp2f1(a, b, c, z, &ok);
	PG_RETURN_FLOAT8(CheckScore(v, ok, "hyp2f1"));
}
