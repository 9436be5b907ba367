/*
 * model_values.c: what every model says of a batch of customers.
 *
 * tagscrm.model_values(customers text[]) returns, for each customer of the
 * batch (NULL: everyone with facts) and each model, the model's value and
 * the moment time alone may change it (changes_at), at tagscrm.now().
 * sync_models() (models.sql) turns these rows into model tags on every
 * write, so this runs once per statement on a watched table.
 *
 * Set-based: per call, one row of settings (with the RFM breakpoints and the
 * clock's local date and loyalty period, computed in SQL), then ONE query
 * over the whole batch that returns one row per customer with its facts and
 * what the models need of customer_event_fact and customer_day (with a
 * churn model, its purchase days too, scored here by churn_predict.c's
 * functions: one pass over customer_day, not two).  Their plans are
 * prepared once per backend and kept (KeptPlan, kept_plan.c); a large
 * batch or everyone is read through a cursor in chunks, so memory stays
 * bounded.  Time-zone
 * conversions, local dates, ages and the RFM segment are SQL's (the same
 * expressions as before, evaluated by the same functions); the models'
 * branching is here, with the same built-in functions for the arithmetic
 * (their overflow checks and errors included), so the rows are exactly
 * those of the former PL/pgSQL body.  The sql/model_values test keeps that
 * body as an oracle.
 *
 * It reads only tagscrm's own tables (customer_fact, customer_event_fact,
 * customer_day, settings, rfm_state, churn_model): no user code runs.
 */
#include "tagscrm.h"
#include "churn_predict.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(tagscrm_model_values);

/* the batch is read in chunks of this many customers */
#define MV_CHUNK 1000

/* the loyalty periods are counted from Monday 2000-01-03 (a DateADT counts from 2000-01-01) */
#define LOYALTY_EPOCH ((DateADT) 2)

/* ages whose band label is cached for the call (others are looked up each time) */
#define MV_AGE_CACHE 256

/* The columns of the settings query, in order */
enum
{
	S_TIME_ZONE = 1,
	S_ACTIVE_DAYS,
	S_LOST_DAYS,
	S_SUPER_ORDERS,
	S_INTENT_EVENTS,
	S_LEVEL_PER_ORDER,
	S_LEVEL_PER_AMOUNT,
	S_LEVEL_PER_ACTIVE_DAY,
	S_LEVEL_PER_REVIEW,
	S_LEVEL_RECENT_BONUS,
	S_LEVEL_RECENT_DAYS,
	S_LEVEL_THRESHOLDS,
	S_AGE_BANDS,
	S_ECOMMERCE_LADDER,
	S_HIGH_TICKET_LADDER,
	S_CHURN_MODEL_SET,
	S_LOYALTY_MODEL,
	S_LOYALTY_CYCLE_DAYS,
	S_LOYALTY_PERIODS,
	S_LOYALTY_ACTIVE,
	S_LOYALTY_REGULAR,
	S_LOYALTY_LOYAL,
	S_BP,
	S_BP_USABLE,
	S_RFM_BASIS,
	S_RFM_BASIS_DAYS,
	S_REVIEW_KIND,
	S_INTENT_KIND,
	S_STATUS_EVENT_KINDS,
	S_LOCAL_DATE,
	S_LOYALTY_PERIOD,
	S_LOYALTY_WINDOW_START,
	S_NCOLS = S_LOYALTY_WINDOW_START
};

/* The columns of the per-customer query, in order */
enum
{
	C_CUSTOMER_ID = 1,
	C_ORDER_COUNT,
	C_EVENT_COUNT,
	C_LAST_ORDER_AT,
	C_LAST_ACTIVE_AT,
	C_REVIEWS,
	C_INTENTS,
	C_ORDER_TOTAL,
	C_RFM_SEGMENT,
	C_ACTIVE_DAYS,
	C_LOYALTY_PERIODS,
	C_LOYALTY_BEFORE,
	C_ATTRIBUTES,
	C_BIRTH_DATE,
	C_AGE,
	C_FIRST_ORDER_AT,
	C_ORDER_DAYS,
	C_ORDER_DAYS_TOTAL,
	C_FIRST_DAY_AMOUNT
};

/* The settings (and breakpoints, and clock) of one call */
typedef struct MvSettings
{
	TimestampTz at;				/* tagscrm.now() */
	Datum		time_zone;		/* text */
	int32		active_days;
	int32		lost_days;
	int32		super_orders;
	int32		intent_events;
	float8		level_per_order;
	float8		level_per_amount;
	float8		level_per_active_day;
	float8		level_per_review;
	float8		level_recent_bonus;
	int32		level_recent_days;
	int			nthresholds;
	Datum	   *thresholds;		/* float8 */
	bool	   *threshold_nulls;
	int			nbands;
	Datum	   *bands;			/* int4 */
	bool	   *band_nulls;
	Datum		age_bands;		/* int4[], for age_band() */
	bool		ecommerce_ladder;
	bool		high_ticket_ladder;
	bool		churn_model_set;
	bool		churn;			/* the model named in the settings was read */
	PredictModel churn_model;
	bool		loyalty_model;
	int32		loyalty_cycle_days;
	int32		loyalty_periods;
	bool		loyalty_regular_null;
	float8		loyalty_regular;	/* loyalty_bands[1] */
	bool		loyalty_loyal_null;
	float8		loyalty_loyal;	/* loyalty_bands[2] */
	int32		loyalty_period; /* the current period p */
	bool		bp_usable;		/* rfm_state.breakpoints IS NOT NULL */
	bool		rfm_basis_null;
	float8		rfm_basis_days; /* r_mean or r_median, as rfm_basis says */
	Oid			bp_type;		/* the type of rfm_state.breakpoints */
	const char *schema;			/* the extension's, quoted */
	HeapTuple	tup;			/* the settings row, for the query's parameters */
	TupleDesc	desc;
	MemoryContext callcxt;		/* lives for the call */
	/* the band label of each age seen in this call (in callcxt), or NULL */
	text	   *age_labels[MV_AGE_CACHE];
	bool		age_label_known[MV_AGE_CACHE];
} MvSettings;

/*
 * The plan of format (a statement naming the schema where %1$s stands), kept
 * for the backend by KeptPlan (kept_plan.c), whose key is the text: another
 * schema, or the other rfm_breakpoints type of a recreated extension (named
 * in a comment when bp_type is valid), is another statement.
 */
static SPIPlanPtr
OurPlan(const char *format, const char *schema, Oid bp_type, int nargs, Oid *types)
{
	char	   *sql = psprintf(format, schema);
	SPIPlanPtr	plan;

	if (OidIsValid(bp_type))
	{
		char	   *named = psprintf("%s /* rfm_breakpoints %u */", sql, bp_type);

		pfree(sql);
		sql = named;
	}
	plan = KeptPlan(sql, nargs, types);
	pfree(sql);
	return plan;
}

/*
 * The settings query: the settings row, the breakpoints (a LEFT JOIN: no
 * rfm_state row is no breakpoints), and what depends on the clock ($1) but
 * not on the customer: the local date, the current loyalty period p and the
 * first day of the loyalty window (p - n + 1).
 */
static const char settings_query[] =
	"SELECT s.time_zone, s.active_days, s.lost_days, s.super_orders, s.intent_events,"
	" s.level_per_order, s.level_per_amount, s.level_per_active_day, s.level_per_review,"
	" s.level_recent_bonus, s.level_recent_days, s.level_thresholds, s.age_bands,"
	" s.ecommerce_ladder, s.high_ticket_ladder, s.churn_model IS NOT NULL, s.loyalty_model,"
	" s.loyalty_cycle_days, s.loyalty_periods, s.loyalty_basis OPERATOR(pg_catalog.=) 'active',"
	" s.loyalty_bands[1], s.loyalty_bands[2],"
	" r.breakpoints, r.breakpoints IS NOT NULL, s.rfm_basis,"
	" CASE s.rfm_basis WHEN 'mean' THEN (r.breakpoints).r_mean ELSE (r.breakpoints).r_median END,"
	" s.review_kind, s.intent_kind, s.status_event_kinds,"
	" l.day, p.p,"
	" CASE WHEN s.loyalty_model THEN date '2000-01-03' OPERATOR(pg_catalog.+)"
	"   (((p.p OPERATOR(pg_catalog.-) s.loyalty_periods) OPERATOR(pg_catalog.+) 1)"
	"    OPERATOR(pg_catalog.*) s.loyalty_cycle_days) END"
	" FROM %1$s.settings s LEFT JOIN %1$s.rfm_state r ON true,"
	" LATERAL (SELECT ($1 AT TIME ZONE s.time_zone)::pg_catalog.date AS day) l,"
	" LATERAL (SELECT CASE WHEN s.loyalty_model THEN pg_catalog.floor((l.day OPERATOR(pg_catalog.-) date '2000-01-03')"
	"   ::pg_catalog.float8 OPERATOR(pg_catalog./) s.loyalty_cycle_days)::pg_catalog.int4 END AS p) p";

/*
 * The per-customer query.  $1 the batch (not read by the plan for
 * everyone), $2 the clock, $3 review_kind, $4 intent_kind, $5
 * status_event_kinds, $6 the breakpoints, $7 rfm_basis, $8 whether the
 * breakpoints are usable, $9 loyalty_model, $10 the loyalty window's first
 * day, $11 loyalty_cycle_days, $12 whether loyalty counts active days, $13
 * the local date.  One row per customer of customer_fact:
 *   - status counts orders, and events only of the kinds settings name
 *     (last_active_at);
 *   - reviews, intents and status events in one probe of the customer's
 *     event kinds;
 *   - the active days and, for loyalty, the counted periods from the
 *     window's start on (future-dated days included) and whether a counted
 *     day lies before it, in one pass over the customer's days (a FILTER
 *     evaluates its aggregate's argument only for the rows it keeps);
 *   - the amount as float8 only where the old body converted it (rfm and
 *     level rows), so a total beyond float8 fails where it failed before;
 *   - the watched attributes as a {{key, value}, ...} array (the non-blank
 *     values of jsonb_each_text);
 *   - the age in whole years at the local date.
 * %2$s is the filter of the batch.
 */
static const char customers_query[] =
	"SELECT f.customer_id, f.order_count, f.event_count, f.last_order_at,"
	" GREATEST(f.last_order_at, k.status_event_at),"
	" COALESCE(k.reviews, 0), COALESCE(k.intents, 0),"
	" CASE WHEN f.order_count OPERATOR(pg_catalog.>) 0 OR f.event_count OPERATOR(pg_catalog.>) 0"
	"   THEN f.order_total::pg_catalog.float8 END,"
	" CASE WHEN f.order_count OPERATOR(pg_catalog.>) 0 AND f.last_order_at IS NOT NULL AND $8"
	"   THEN (%1$s.rfm_classify(%1$s.days_between(f.last_order_at, $2), f.order_count,"
	"         f.order_total::pg_catalog.float8, $6, $7)).segment END,"
	" d.active_days, d.ks, d.before,"
	" CASE WHEN f.attributes IS NOT NULL THEN"
	"   ARRAY(SELECT ARRAY[a.key, a.value] FROM pg_catalog.jsonb_each_text(f.attributes) a"
	"         WHERE a.value IS NOT NULL AND pg_catalog.btrim(a.value) OPERATOR(pg_catalog.<>) '') END,"
	" f.birth_date,"
	" CASE WHEN f.birth_date OPERATOR(pg_catalog.<=) $13"
	"   THEN pg_catalog.date_part('year', pg_catalog.age($13, f.birth_date))::pg_catalog.int4 END,"
	" f.first_order_at, d.order_days, d.order_days_total, d.first_day_amount"
	" FROM %1$s.customer_fact f"
	" CROSS JOIN LATERAL (SELECT pg_catalog.max(e.events) FILTER (WHERE e.kind OPERATOR(pg_catalog.=) $3) AS reviews,"
	"   pg_catalog.max(e.events) FILTER (WHERE e.kind OPERATOR(pg_catalog.=) $4) AS intents,"
	"   pg_catalog.max(e.last_at) FILTER (WHERE e.kind OPERATOR(pg_catalog.=) ANY ($5)) AS status_event_at"
	"   FROM %1$s.customer_event_fact e WHERE e.customer_id OPERATOR(pg_catalog.=) f.customer_id) k"
	" CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS active_days,"
	"   pg_catalog.array_agg(DISTINCT pg_catalog.floor((d.day OPERATOR(pg_catalog.-) date '2000-01-03')::pg_catalog.float8"
	"       OPERATOR(pg_catalog./) $11)::pg_catalog.int4)"
	"     FILTER (WHERE $9 AND d.day OPERATOR(pg_catalog.>=) $10 AND (d.orders OPERATOR(pg_catalog.>) 0 OR $12)) AS ks,"
	"   COALESCE(pg_catalog.bool_or(true)"
	"     FILTER (WHERE $9 AND d.day OPERATOR(pg_catalog.<) $10 AND (d.orders OPERATOR(pg_catalog.>) 0 OR $12)), false) AS before,"
	"   pg_catalog.count(*) FILTER (WHERE $14 AND d.orders OPERATOR(pg_catalog.>) 0) AS order_days,"
	"   pg_catalog.sum(d.amount) FILTER (WHERE $14 AND d.orders OPERATOR(pg_catalog.>) 0) AS order_days_total,"
	"   (pg_catalog.array_agg(d.amount ORDER BY d.day) FILTER (WHERE $14 AND d.orders OPERATOR(pg_catalog.>) 0))[1]"
	"     AS first_day_amount"
	"   FROM %1$s.customer_day d WHERE d.customer_id OPERATOR(pg_catalog.=) f.customer_id) d"
	"%2$s";

/* The plan of the customers query, for a batch or for everyone */
static SPIPlanPtr
CustomersPlan(const char *schema, Oid bp_type, bool everyone)
{
	Oid			types[14] = {TEXTARRAYOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTARRAYOID,
	bp_type, TEXTOID, BOOLOID, BOOLOID, DATEOID, INT4OID, BOOLOID, DATEOID, BOOLOID};
	char	   *format = psprintf(customers_query, "%1$s",
								  everyone ? "" : " WHERE f.customer_id OPERATOR(pg_catalog.=) ANY ($1)");
	SPIPlanPtr	plan = OurPlan(format, schema, bp_type, lengthof(types), types);

	pfree(format);
	return plan;
}

/* Column col of the settings row, which must not be NULL */
static Datum
SettingsColumn(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		elog(ERROR, "tagscrm: column %d of the settings is null", col);
	return d;
}

/* A float8 column of the settings row that may be NULL */
static float8
NullableFloat(HeapTuple tup, TupleDesc desc, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, desc, col, isnull);

	return *isnull ? 0.0 : DatumGetFloat8(d);
}

/*
 * Reads the settings of this call into *s; false when there is no settings
 * row (then no model says anything).  The row stays in SPI's memory until
 * SPI_finish, and with it the arrays and texts *s points to.
 */
static bool
ReadSettings(const char *schema, MvSettings *s)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		args[1] = {TimestampTzGetDatum(s->at)};
	HeapTuple	tup;
	TupleDesc	desc;
	int			ret;

	ret = SPI_execute_plan(OurPlan(settings_query, schema, InvalidOid, 1, types), args, NULL, true, 2);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (desc->natts != S_NCOLS)
		elog(ERROR, "tagscrm: the settings query returned %d columns", desc->natts);

	/* the customers query takes the breakpoints as a parameter: their type */
	s->bp_type = SPI_gettypeid(desc, S_BP);

	s->time_zone = SettingsColumn(tup, desc, S_TIME_ZONE);
	s->active_days = DatumGetInt32(SettingsColumn(tup, desc, S_ACTIVE_DAYS));
	s->lost_days = DatumGetInt32(SettingsColumn(tup, desc, S_LOST_DAYS));
	s->super_orders = DatumGetInt32(SettingsColumn(tup, desc, S_SUPER_ORDERS));
	s->intent_events = DatumGetInt32(SettingsColumn(tup, desc, S_INTENT_EVENTS));
	s->level_per_order = DatumGetFloat8(SettingsColumn(tup, desc, S_LEVEL_PER_ORDER));
	s->level_per_amount = DatumGetFloat8(SettingsColumn(tup, desc, S_LEVEL_PER_AMOUNT));
	s->level_per_active_day = DatumGetFloat8(SettingsColumn(tup, desc, S_LEVEL_PER_ACTIVE_DAY));
	s->level_per_review = DatumGetFloat8(SettingsColumn(tup, desc, S_LEVEL_PER_REVIEW));
	s->level_recent_bonus = DatumGetFloat8(SettingsColumn(tup, desc, S_LEVEL_RECENT_BONUS));
	s->level_recent_days = DatumGetInt32(SettingsColumn(tup, desc, S_LEVEL_RECENT_DAYS));
	deconstruct_array(DatumGetArrayTypeP(SettingsColumn(tup, desc, S_LEVEL_THRESHOLDS)),
					  FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &s->thresholds, &s->threshold_nulls, &s->nthresholds);
	s->age_bands = SettingsColumn(tup, desc, S_AGE_BANDS);
	deconstruct_array(DatumGetArrayTypeP(s->age_bands), INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &s->bands, &s->band_nulls, &s->nbands);
	s->ecommerce_ladder = DatumGetBool(SettingsColumn(tup, desc, S_ECOMMERCE_LADDER));
	s->high_ticket_ladder = DatumGetBool(SettingsColumn(tup, desc, S_HIGH_TICKET_LADDER));
	s->churn_model_set = DatumGetBool(SettingsColumn(tup, desc, S_CHURN_MODEL_SET));
	s->loyalty_model = DatumGetBool(SettingsColumn(tup, desc, S_LOYALTY_MODEL));
	s->loyalty_cycle_days = DatumGetInt32(SettingsColumn(tup, desc, S_LOYALTY_CYCLE_DAYS));
	s->loyalty_periods = DatumGetInt32(SettingsColumn(tup, desc, S_LOYALTY_PERIODS));
	s->loyalty_regular = NullableFloat(tup, desc, S_LOYALTY_REGULAR, &s->loyalty_regular_null);
	s->loyalty_loyal = NullableFloat(tup, desc, S_LOYALTY_LOYAL, &s->loyalty_loyal_null);
	if (s->loyalty_model)
		s->loyalty_period = DatumGetInt32(SettingsColumn(tup, desc, S_LOYALTY_PERIOD));
	s->bp_usable = DatumGetBool(SettingsColumn(tup, desc, S_BP_USABLE));
	s->rfm_basis_days = NullableFloat(tup, desc, S_RFM_BASIS_DAYS, &s->rfm_basis_null);
	s->tup = tup;
	s->desc = desc;
	return true;
}

/* ------------------------------------------------------------------------
 * Arithmetic, with the built-in functions SQL uses (and their errors)
 * ------------------------------------------------------------------------
 */

/* t + make_interval(secs => secs) */
static TimestampTz
PlusSeconds(TimestampTz t, float8 secs)
{
	Datum		iv = DirectFunctionCall7(make_interval, Int32GetDatum(0), Int32GetDatum(0), Int32GetDatum(0),
										 Int32GetDatum(0), Int32GetDatum(0), Int32GetDatum(0),
										 Float8GetDatum(secs));

	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(t), iv));
}

/* t + make_interval(secs => 86400 * days), 86400 * days an int4 product */
static TimestampTz
PlusDays(TimestampTz t, int32 days)
{
	int32		secs = DatumGetInt32(DirectFunctionCall2(int4mul, Int32GetDatum(86400), Int32GetDatum(days)));

	return PlusSeconds(t, (float8) secs);
}

/* (date '2000-01-03' + q * t)::timestamp AT TIME ZONE time_zone: a loyalty period's first instant */
static TimestampTz
PeriodStart(const MvSettings *s, int32 q)
{
	Datum		days = DirectFunctionCall2(int4mul, Int32GetDatum(q), Int32GetDatum(s->loyalty_cycle_days));
	Datum		day = DirectFunctionCall2(date_pli, DateADTGetDatum(LOYALTY_EPOCH),
										  days);
	Datum		local = DirectFunctionCall1(date_timestamp, day);

	return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, s->time_zone, local));
}

/* Errors out as int4 addition does when a + b does not fit */
static int32
AddInt4(int32 a, int32 b)
{
	int32		r;

	if (unlikely(pg_add_s32_overflow(a, b, &r)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("integer out of range")));
	return r;
}


/* ------------------------------------------------------------------------
 * The models of one customer
 * ------------------------------------------------------------------------
 */

/* One result row */
static void
Put(ReturnSetInfo *rsinfo, Datum customer, const char *model, const char *value,
	bool has_change, TimestampTz changes_at)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, value == NULL, !has_change};

	values[0] = customer;
	values[1] = CStringGetTextDatum(model);
	values[2] = value ? CStringGetTextDatum(value) : (Datum) 0;
	values[3] = TimestampTzGetDatum(has_change ? changes_at : 0);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* qsort comparator for int32 */
static int
CompareInt32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* How many of the nks ascending ks are < v (a binary search) */
static int
CountBelow(const int32 *ks, int nks, int64 v)
{
	int			lo = 0,
				hi = nks;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (ks[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The loyalty band at period q of a customer whose counted periods from the
 * window's start on are the ascending ks: c = the periods of the window
 * q - n + 1 .. q with a counted day; L = c / n.  L = 0 is lapsed when a
 * counted day lies before that window (before the current window, or a
 * period of ks that has left it), else no band (NULL).
 */
static const char *
LoyaltyBand(const MvSettings *s, const int32 *ks, int nks, bool before, int64 q)
{
	int64		n = s->loyalty_periods;
	int			c = CountBelow(ks, nks, q + 1) - CountBelow(ks, nks, q - n + 1);
	float8		share;

	if (c == 0)
		return (before || (nks > 0 && ks[0] <= q - n)) ? "lapsed" : NULL;
	share = float8_div((float8) c, (float8) n);
	if (!s->loyalty_loyal_null && float8_ge(share, s->loyalty_loyal))
		return "loyal";
	if (!s->loyalty_regular_null && float8_ge(share, s->loyalty_regular))
		return "regular";
	return "occasional";
}

/* Whether two bands (NULL: none) differ */
static bool
BandsDiffer(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/*
 * Loyalty (our reading of seed 004, docs/models.md): periods are blocks of
 * t = loyalty_cycle_days local days counted from Monday 2000-01-03, the
 * window is the current period p and the n - 1 before it, and L = (periods
 * of the window with a counted day) / n.  Time alone moves it only at a
 * period boundary, when a counted period leaves the window or a
 * future-dated one enters it: so the band is taken at the current period
 * q = p and at every later period where the count can change, k + n (k
 * leaves the window) and k > p (k enters), and changes_at is the first
 * such boundary whose band differs.  Only customers with a counted day are
 * rated; one whose counted days are all in the future has no band (value
 * NULL) until the first enters.
 */
static void
PutLoyalty(ReturnSetInfo *rsinfo, const MvSettings *s, Datum customer, ArrayType *ks_array, bool before)
{
	int32	   *ks = NULL;
	int			nks = 0;
	int32		p = s->loyalty_period;
	const char *value;
	bool		has_change = false;
	int32		first = 0;

	if (ks_array != NULL)
	{
		Datum	   *elems;
		bool	   *nulls;

		deconstruct_array(ks_array, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &nks);
		ks = palloc(Max(nks, 1) * sizeof(int32));
		for (int i = 0; i < nks; i++)
		{
			if (nulls[i])
				elog(ERROR, "tagscrm: a null loyalty period");
			ks[i] = DatumGetInt32(elems[i]);
		}
		qsort(ks, nks, sizeof(int32), CompareInt32);
	}
	if (nks == 0 && !before)
		return;

	value = LoyaltyBand(s, ks, nks, before, p);
	for (int i = 0; i < nks; i++)
	{
		/* the two boundaries where period ks[i] changes the count */
		int32		q[2] = {AddInt4(ks[i], s->loyalty_periods), ks[i]};

		for (int j = 0; j < 2; j++)
		{
			if (q[j] <= p || (has_change && q[j] >= first))
				continue;
			if (BandsDiffer(LoyaltyBand(s, ks, nks, before, q[j]), value))
			{
				first = q[j];
				has_change = true;
			}
		}
	}
	Put(rsinfo, customer, "loyalty", value, has_change, has_change ? PeriodStart(s, first) : 0);
}

/* age_band(age, settings.age_bands), looked up once per age and call */
static text *
AgeBand(MvSettings *s, int32 age)
{
	Datum		args[2] = {Int32GetDatum(age), s->age_bands};
	bool		isnull;
	Datum		d;
	text	   *label = NULL;
	int			ret;
	Oid			types[2] = {INT4OID, INT4ARRAYOID};

	if (age >= 0 && age < MV_AGE_CACHE && s->age_label_known[age])
		return s->age_labels[age];
	ret = SPI_execute_plan(OurPlan("SELECT %1$s.age_band($1, $2)", s->schema, InvalidOid, 2, types),
						   args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(s->callcxt);

		label = DatumGetTextPCopy(d);
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);
	if (age >= 0 && age < MV_AGE_CACHE)
	{
		s->age_labels[age] = label;
		s->age_label_known[age] = true;
	}
	return label;
}

/*
 * The age band, and the next birthday on which the age reaches the next
 * band boundary, (birth_date + make_interval(years => b)) AT TIME ZONE
 * time_zone for the least boundary b above the age.
 */
static void
PutAgeBand(ReturnSetInfo *rsinfo, MvSettings *s, Datum customer, DateADT birth_date, int32 age)
{
	text	   *label = AgeBand(s, age);
	bool		found = false;
	int32		next = 0;
	TimestampTz changes_at = 0;

	for (int i = 0; i < s->nbands; i++)
	{
		int32		band = DatumGetInt32(s->bands[i]);

		if (!s->band_nulls[i] && band > age && (!found || band < next))
		{
			next = band;
			found = true;
		}
	}
	if (found)
	{
		Datum		years = DirectFunctionCall7(make_interval, Int32GetDatum(next), Int32GetDatum(0),
												Int32GetDatum(0), Int32GetDatum(0), Int32GetDatum(0),
												Int32GetDatum(0), Float8GetDatum(0.0));
		Datum		local = DirectFunctionCall2(date_pl_interval, DateADTGetDatum(birth_date), years);

		changes_at = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, s->time_zone, local));
	}
	Put(rsinfo, customer, "age_band", label ? text_to_cstring(label) : NULL, found, changes_at);
}

/* The watched attributes: one row "attr:<key>" per non-blank value */
static void
PutAttributes(ReturnSetInfo *rsinfo, Datum customer, ArrayType *pairs)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(pairs, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i + 1 < n; i += 2)
		Put(rsinfo, customer, psprintf("attr:%s", TextDatumGetCString(elems[i])),
			TextDatumGetCString(elems[i + 1]), false, 0);
}

/* Column col of a customer row (*isnull: NULL) */
static Datum
Column(HeapTuple tup, TupleDesc desc, int col, bool *isnull)
{
	return SPI_getbinval(tup, desc, col, isnull);
}

/* Every model's row for the customer of one row of the customers query */
static void
PutCustomer(ReturnSetInfo *rsinfo, MvSettings *s, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		customer = Column(tup, desc, C_CUSTOMER_ID, &isnull);
	int64		order_count = DatumGetInt64(Column(tup, desc, C_ORDER_COUNT, &isnull));
	int64		event_count = DatumGetInt64(Column(tup, desc, C_EVENT_COUNT, &isnull));
	bool		no_last_order;
	TimestampTz last_order_at = DatumGetTimestampTz(Column(tup, desc, C_LAST_ORDER_AT, &no_last_order));
	bool		no_last_active;
	TimestampTz last_active_at = DatumGetTimestampTz(Column(tup, desc, C_LAST_ACTIVE_AT, &no_last_active));
	int64		reviews = DatumGetInt64(Column(tup, desc, C_REVIEWS, &isnull));
	int64		intents = DatumGetInt64(Column(tup, desc, C_INTENTS, &isnull));
	int64		active_days = DatumGetInt64(Column(tup, desc, C_ACTIVE_DAYS, &isnull));
	Datum		d;

	/* RFM segment: only recency moves with time; R is high while recency < basis */
	d = Column(tup, desc, C_RFM_SEGMENT, &isnull);
	if (!isnull)
	{
		int32		recency = DaysBetween(last_order_at, s->at);
		bool		moves = !s->rfm_basis_null && float8_lt((float8) recency, s->rfm_basis_days);

		Put(rsinfo, customer, "rfm", TextDatumGetCString(d), moves,
			moves ? PlusSeconds(last_order_at, float8_mul(86400.0, ceil(s->rfm_basis_days))) : 0);
	}

	if (s->ecommerce_ladder)
		Put(rsinfo, customer, "lifecycle",
			order_count == 0 ? "new" : order_count == 1 ? "first_purchase" :
			order_count < s->super_orders ? "repeat" : "super", false, 0);

	if (s->high_ticket_ladder)
		Put(rsinfo, customer, "sales_stage",
			order_count >= s->super_orders ? "super" : order_count >= 2 ? "repeat" :
			order_count == 1 ? "first_order" : intents >= s->intent_events ? "intent" :
			event_count > 0 ? "potential" : "stranger", false, 0);

	/* status: active, then silent, then lost by days since the last activity */
	if (!no_last_active)
	{
		int32		days = DaysBetween(last_active_at, s->at);

		if (days < s->active_days)
			Put(rsinfo, customer, "status", "active", true, PlusDays(last_active_at, s->active_days));
		else if (days < s->lost_days)
			Put(rsinfo, customer, "status", "silent", true, PlusDays(last_active_at, s->lost_days));
		else
			Put(rsinfo, customer, "status", "lost", false, 0);
	}

	/*
	 * level: points from orders, amount, active days, reviews, and a bonus
	 * while the last order is recent; the level is 1 + the thresholds
	 * reached, and it drops when the bonus ends
	 */
	if (order_count > 0 || event_count > 0)
	{
		bool		recent = !no_last_order && DaysBetween(last_order_at, s->at) < s->level_recent_days;
		float8		total = DatumGetFloat8(Column(tup, desc, C_ORDER_TOTAL, &isnull));
		float8		points;
		int64		reached = 0;

		points = float8_pl(float8_pl(float8_pl(float8_pl(float8_mul(s->level_per_order, (float8) order_count),
														 float8_mul(s->level_per_amount, total)),
											   float8_mul(s->level_per_active_day, (float8) active_days)),
									 float8_mul(s->level_per_review, (float8) reviews)),
						   recent ? s->level_recent_bonus : 0.0);
		for (int i = 0; i < s->nthresholds; i++)
			if (!s->threshold_nulls[i] && float8_le(DatumGetFloat8(s->thresholds[i]), points))
				reached++;
		Put(rsinfo, customer, "level", psprintf(INT64_FORMAT, 1 + reached), recent,
			recent ? PlusDays(last_order_at, s->level_recent_days) : 0);
	}

	if (s->loyalty_model)
	{
		bool		no_ks;
		Datum		ks = Column(tup, desc, C_LOYALTY_PERIODS, &no_ks);
		bool		before = DatumGetBool(Column(tup, desc, C_LOYALTY_BEFORE, &isnull));

		PutLoyalty(rsinfo, s, customer, no_ks ? NULL : DatumGetArrayTypeP(ks), before);
	}

	d = Column(tup, desc, C_ATTRIBUTES, &isnull);
	if (!isnull)
		PutAttributes(rsinfo, customer, DatumGetArrayTypeP(d));

	/* the age band of a birth date up to the local date */
	d = Column(tup, desc, C_AGE, &isnull);
	if (!isnull)
		PutAgeBand(rsinfo, s, customer, DatumGetDateADT(Column(tup, desc, C_BIRTH_DATE, &isnull)),
				   DatumGetInt32(d));

	/*
	 * churn risk (churn_predict's rows: a buyer with purchase days); P(alive)
	 * falls as time passes without orders, and the class changes when 1 -
	 * P(alive) reaches the next threshold
	 */
	if (s->churn && order_count > 0)
	{
		bool		no_first;
		TimestampTz first = DatumGetTimestampTz(Column(tup, desc, C_FIRST_ORDER_AT, &no_first));
		int64		days = DatumGetInt64(Column(tup, desc, C_ORDER_DAYS, &isnull));

		if (!no_first && days > 0)
		{
			double		total = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																   Column(tup, desc, C_ORDER_DAYS_TOTAL, &isnull)));
			double		first_amount = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																		  Column(tup, desc, C_FIRST_DAY_AMOUNT, &isnull)));
			PurchaseSummary p = SummarisePurchases(&s->churn_model, s->at, first,
												   no_last_order ? 0 : last_order_at, days, total, first_amount);
			bool		changes;
			TimestampTz changes_at;
			const char *risk = RiskClass(&s->churn_model, first, &p, PAlive(&s->churn_model, &p),
										 &changes, &changes_at);

			if (risk != NULL)
				Put(rsinfo, customer, "churn_risk", risk, changes, changes_at);
		}
	}
}

/* Puts the rows of n customer rows, each in a memory context reset after it */
static void
PutCustomers(ReturnSetInfo *rsinfo, MvSettings *s, SPITupleTable *table, uint64 n, MemoryContext rowcxt)
{
	for (uint64 i = 0; i < n; i++)
	{
		MemoryContext old;

		/* a batch or everyone: the loop grows with the data */
		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(rowcxt);
		PutCustomer(rsinfo, s, table->vals[i], table->tupdesc);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
}

/*
 * Runs plan and puts the rows of what it returns: a batch of at most
 * MV_CHUNK customers at once, a larger one or everyone through a cursor,
 * MV_CHUNK rows at a time.
 */
static void
RunAndPut(SPIPlanPtr plan, Datum *args, const char *nulls, bool small,
		  ReturnSetInfo *rsinfo, MvSettings *s, MemoryContext rowcxt)
{
	Portal		portal = NULL;

	if (small)
	{
		int			ret = SPI_execute_plan(plan, args, nulls, true, 0);

		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	}
	else
	{
		portal = SPI_cursor_open(NULL, plan, args, nulls, true);
		if (portal == NULL)
			elog(ERROR, "SPI_cursor_open failed: %s", SPI_result_code_string(SPI_result));
	}
	for (;;)
	{
		/* the age band lookups run SPI too: keep this chunk's table */
		SPITupleTable *table;
		uint64		n;

		if (portal != NULL)
			SPI_cursor_fetch(portal, true, MV_CHUNK);
		table = SPI_tuptable;
		n = SPI_processed;
		PutCustomers(rsinfo, s, table, n, rowcxt);
		SPI_freetuptable(table);
		if (portal == NULL || n == 0)
			break;
	}
	if (portal != NULL)
		SPI_cursor_close(portal);
}

/*
 * SQL: model_values(customers text[]) RETURNS TABLE (customer_id text,
 * model text, value text, changes_at timestamptz): what every model says of
 * the customers (NULL: everyone with facts) at tagscrm.now(), one row per
 * customer and model, with the moment time alone may change it (NULL: not
 * by time alone).
 */
Datum
tagscrm_model_values(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *schema = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
	ArrayType  *customers = PG_ARGISNULL(0) ? NULL : PG_GETARG_ARRAYTYPE_P(0);
	MvSettings *s;
	Datum		args[14];
	char		nulls[14];
	bool		small;
	MemoryContext rowcxt;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	s = palloc0(sizeof(MvSettings));
	s->at = TagscrmNow();
	s->schema = schema;
	s->callcxt = CurrentMemoryContext;
	if (!ReadSettings(schema, s))
	{
		SPI_finish();
		return (Datum) 0;
	}

	/* the parameters of the customers query, from the settings row */
	{
		static const int from[13] = {0, 0, S_REVIEW_KIND, S_INTENT_KIND, S_STATUS_EVENT_KINDS, S_BP,
		S_RFM_BASIS, S_BP_USABLE, S_LOYALTY_MODEL, S_LOYALTY_WINDOW_START, S_LOYALTY_CYCLE_DAYS,
		S_LOYALTY_ACTIVE, S_LOCAL_DATE};

		for (int i = 2; i < 13; i++)
		{
			bool		isnull;

			args[i] = SPI_getbinval(s->tup, s->desc, from[i], &isnull);
			nulls[i] = isnull ? 'n' : ' ';
		}
	}
	args[0] = PointerGetDatum(customers);
	nulls[0] = customers == NULL ? 'n' : ' ';
	args[1] = TimestampTzGetDatum(s->at);
	nulls[1] = ' ';
	/* the churn model the settings name; none by that name: no churn rows */
	s->churn = s->churn_model_set && ReadPredictModel(schema, NULL, &s->churn_model);
	args[13] = BoolGetDatum(s->churn);
	nulls[13] = ' ';
	small = customers != NULL && ArrayGetNItems(ARR_NDIM(customers), ARR_DIMS(customers)) <= MV_CHUNK;

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "model_values row", ALLOCSET_DEFAULT_SIZES);
	RunAndPut(CustomersPlan(schema, s->bp_type, customers == NULL), args, nulls, small, rsinfo, s, rowcxt);
	SPI_finish();
	return (Datum) 0;
}
