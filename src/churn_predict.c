/*
 * churn_predict.c: the one-call churn prediction from the facts.
 *
 * churn_predict(customers, model, horizon) scores customers as of
 * tagscrm.now() under a stored model (by default the one settings name):
 * P(alive), churn probability, expected purchases and spend over the horizon,
 * the value of a future purchase, and the risk class of the churn risk tag.
 * Its data are the facts tagscrm keeps (customer_fact, customer_day), in the
 * same definitions as the fit's purchase_summary: x repeat purchase days
 * (same-day orders merged), t_x from the first to the last purchase, T from
 * the first purchase to now, zbar the mean value of the repeat purchase
 * days.  The churn risk tag, customer_churn and the rule measures all read
 * it, so every figure of a customer comes from one place.
 *
 * One query per call over every listed customer (a set, not a loop of
 * lookups), its plan kept for the backend; the formulas are churn_math.c's.
 * A figure that cannot be computed (spend with p x + q <= 1, a forecast
 * that would lose its digits) is NULL, never an error: the tag path runs in
 * the shop's writes.
 */
#include "tagscrm.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "churn_predict.h"

PG_FUNCTION_INFO_V1(churn_predict);

/* The plan of query (a format naming the schema twice), kept for the backend (kept_plan.c). */
static SPIPlanPtr
PlanOf(const char *format, const char *schema, int nargs, Oid *types)
{
	return KeptPlan(psprintf(format, schema, schema), nargs, types);
}

static double
Float8Col(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? NAN : DatumGetFloat8(d);
}

/*
 * Reads the named model (NULL: the one in settings.churn_model); false when
 * no name is given and none is configured.
 */
bool
ReadPredictModel(const char *schema, text *name, PredictModel *m)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char		nulls[1];
	bool		isnull;
	char	   *kind;
	int			ret;

	values[0] = name ? PointerGetDatum(name) : (Datum) 0;
	nulls[0] = name ? ' ' : 'n';
	ret = SPI_execute_plan(PlanOf(
										"SELECT m.kind, m.r, m.alpha, m.a, m.b, m.p, m.q, m.gamma, "
										"pg_catalog.date_part('epoch', m.time_unit), s.churn_high, s.churn_medium "
										"FROM %s.settings s JOIN %s.churn_model m "
										"ON m.name OPERATOR(pg_catalog.=) COALESCE($1, s.churn_model)",
										schema, 1, types),
						   values, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		if (name == NULL)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("churn model \"%s\" does not exist", text_to_cstring(name)),
				 errhint("Fit it first with tagscrm.churn_fit(); tagscrm.churn_model lists the stored models.")));
	}
	kind = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	m->mbgnbd = strcmp(kind, "mbgnbd") == 0;
	m->purchases.r = Float8Col(2);
	m->purchases.alpha = Float8Col(3);
	m->purchases.a = Float8Col(4);
	m->purchases.b = Float8Col(5);
	m->spend.p = Float8Col(6);
	m->spend.q = Float8Col(7);
	m->spend.gamma = Float8Col(8);
	m->unit_secs = Float8Col(9);
	m->high = Float8Col(10);
	m->medium = Float8Col(11);
	if (!(m->unit_secs > 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("stored churn model has a time unit of %g seconds", m->unit_secs),
				 errhint("Refit it with a positive time_unit.")));
	return true;
}

/* A float8 output column, NULL when v is not a finite number. */
static void
PutFloat(Datum *values, bool *nulls, int i, double v)
{
	nulls[i] = !isfinite(v);
	values[i] = Float8GetDatum(nulls[i] ? 0.0 : v);
}

/*
 * When the risk class changes if no order comes: 1 - P(alive) only grows as
 * T does (the summary x, t_x stays), so the class changes when it reaches
 * the lowest threshold above it (settings.churn_medium, churn_high).  The
 * moment is found by doubling, then bisection to a quarter of a second, on
 * the same P(alive) the class comes from, and returned half a second late
 * (then rounded up to a second), so that at that moment the class has
 * changed and two seconds before it has not; NAN when it never does (no threshold
 * left, or one at 1 or above, or P(alive) stays 1: x = 0 under BG/NBD).
 * In model periods from the first purchase.
 */
static double
RiskChangesAt(const PredictModel *m, double x, double t_x, double T, double churn)
{
	double		threshold = NAN;
	double		lo = T,
				hi,
				step = 1.0,
				second = 1.0 / m->unit_secs;	/* in periods */

	if (m->medium > churn)
		threshold = m->medium;
	if (m->high > churn && (isnan(threshold) || m->high < threshold))
		threshold = m->high;
	if (isnan(threshold) || threshold >= 1.0)
		return NAN;
#define CHURN_AT(at) (1.0 - (m->mbgnbd ? mbgnbd_p_alive_value(&m->purchases, x, t_x, (at)) \
									  : bgnbd_p_alive_value(&m->purchases, x, t_x, (at))))
	for (hi = T + step; !(CHURN_AT(hi) >= threshold); hi = T + step)
	{
		if (step > 1e7)			/* not within 10 million periods: never */
			return NAN;
		lo = hi;
		step *= 2.0;
	}
	while (hi - lo > second / 4.0)
	{
		double		mid = lo + (hi - lo) / 2.0;

		if (CHURN_AT(mid) >= threshold)
			hi = mid;
		else
			lo = mid;
	}
#undef CHURN_AT
	return hi + second / 2.0;
}

/*
 * x = purchase days - 1, t_x from the first to the last purchase, T from the
 * first purchase to now (at least t_x: orders dated after now score the
 * customer at the last one), zbar from the days after the first.
 */
PurchaseSummary
SummarisePurchases(const PredictModel *m, TimestampTz now, TimestampTz first, TimestampTz last,
				   int64 days, double total, double first_amount)
{
	PurchaseSummary p;

	p.x = (double) (days - 1);
	if (p.x > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many purchase days for one customer")));
	p.t_x = p.x > 0 ? (double) (last - first) / USECS_PER_SEC / m->unit_secs : 0.0;
	p.T = (double) (now - first) / USECS_PER_SEC / m->unit_secs;
	p.zbar = p.x > 0 ? (total - first_amount) / p.x : 0.0;
	p.T = Max(p.T, p.t_x);
	p.T = Max(p.T, 0.0);
	return p;
}

double
PAlive(const PredictModel *m, const PurchaseSummary *p)
{
	return m->mbgnbd ? mbgnbd_p_alive_value(&m->purchases, p->x, p->t_x, p->T)
		: bgnbd_p_alive_value(&m->purchases, p->x, p->t_x, p->T);
}

/*
 * The churn risk class of 1 - p_alive (NULL when that is not a number) and
 * in *changes_at the moment it changes if no order comes (*changes false
 * when it never does).
 */
const char *
RiskClass(const PredictModel *m, TimestampTz first, const PurchaseSummary *p, double p_alive,
		  bool *changes, TimestampTz *changes_at)
{
	double		churn = 1.0 - p_alive;
	double		at;

	*changes = false;
	*changes_at = 0;
	if (!isfinite(churn))
		return NULL;
	at = RiskChangesAt(m, p->x, p->t_x, p->T, churn);
	if (!isnan(at))
	{
		*changes_at = first + (TimestampTz) ceil(at * m->unit_secs) * USECS_PER_SEC;
		*changes = true;
	}
	return churn >= m->high ? "high" : churn >= m->medium ? "medium" : "low";
}

/*
 * SQL: churn_predict(customers text[] DEFAULT NULL, model text DEFAULT NULL,
 *                    horizon interval DEFAULT '1 year')
 * RETURNS TABLE (customer_id, x, t_x, t, p_alive, churn_probability,
 *                expected_purchases, expected_value, expected_spend, risk,
 *                risk_changes_at)
 */
Datum
churn_predict(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *schema = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
	text	   *name = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	double		periods = NAN;
	PredictModel m;
	TimestampTz now = TagscrmNow();
	Oid			types[1] = {TEXTARRAYOID};
	Datum		args[1];
	char		argnulls[1] = {' '};
	SPIPlanPtr	plan;
	int			ret;

	InitMaterializedSRF(fcinfo, 0);
	if (!PG_ARGISNULL(2))
	{
		/* in seconds as extract(epoch ...) counts them: a year is 365.25 days */
		double		secs = DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"),
															  PG_GETARG_DATUM(2)));

		if (secs < 0.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("horizon must not be negative"),
					 errhint("Pass the time to forecast, such as '1 year', or NULL for no forecast.")));
		periods = secs;			/* in model periods once the model is read */
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!ReadPredictModel(schema, name, &m))
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	if (!isnan(periods))
		periods /= m.unit_secs;

	/* x = purchase days - 1; zbar from the days after the first */
	if (PG_ARGISNULL(0))
	{
		plan = PlanOf(
							"SELECT f.customer_id, f.first_order_at, f.last_order_at, d.days, d.total, d.first "
							"FROM %s.customer_fact f JOIN ("
							" SELECT d.customer_id, pg_catalog.count(*) AS days, pg_catalog.sum(d.amount) AS total,"
							" (pg_catalog.array_agg(d.amount ORDER BY d.day))[1] AS first"
							" FROM %s.customer_day d WHERE d.orders OPERATOR(pg_catalog.>) 0 GROUP BY 1) d"
							" USING (customer_id) "
							"WHERE f.order_count OPERATOR(pg_catalog.>) 0 AND f.first_order_at IS NOT NULL",
							schema, 0, NULL);
		ret = SPI_execute_plan(plan, NULL, NULL, true, 0);
	}
	else
	{
		plan = PlanOf(
							"SELECT f.customer_id, f.first_order_at, f.last_order_at, d.days, d.total, d.first "
							"FROM %s.customer_fact f CROSS JOIN LATERAL ("
							" SELECT pg_catalog.count(*) AS days, pg_catalog.sum(d.amount) AS total,"
							" (pg_catalog.array_agg(d.amount ORDER BY d.day))[1] AS first"
							" FROM %s.customer_day d WHERE d.customer_id OPERATOR(pg_catalog.=) f.customer_id"
							" AND d.orders OPERATOR(pg_catalog.>) 0) d "
							"WHERE f.customer_id OPERATOR(pg_catalog.=) ANY ($1) "
							"AND f.order_count OPERATOR(pg_catalog.>) 0 AND f.first_order_at IS NOT NULL "
							"AND d.days OPERATOR(pg_catalog.>) 0",
							schema, 1, types);
		args[0] = PG_GETARG_DATUM(0);
		ret = SPI_execute_plan(plan, args, argnulls, true, 0);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		values[11];
		bool		nulls[11] = {false};
		bool		isnull;
		TimestampTz first = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
		TimestampTz last = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
		int64		days = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		double		total = DatumGetFloat8(DirectFunctionCall1(numeric_float8, SPI_getbinval(tup, desc, 5, &isnull)));
		double		first_amount = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																	  SPI_getbinval(tup, desc, 6, &isnull)));
		PurchaseSummary p;
		double		p_alive,
					purchases = NAN,
					value = NAN;
		int			ok = 1;
		const char *risk;
		bool		changes;
		TimestampTz changes_at;

		CHECK_FOR_INTERRUPTS();
		p = SummarisePurchases(&m, now, first, last, days, total, first_amount);
		p_alive = PAlive(&m, &p);
		if (!isnan(periods))
		{
			purchases = m.mbgnbd ? mbgnbd_expected_value(&m.purchases, periods, p.x, p.t_x, p.T, &ok)
				: bgnbd_expected_value(&m.purchases, periods, p.x, p.t_x, p.T, &ok);
			if (!ok)
				purchases = NAN;
		}
		if (gg_value_exists(&m.spend, p.x) && p.zbar >= 0.0)
			value = gg_expected_value(&m.spend, p.x, p.zbar);

		values[0] = SPI_getbinval(tup, desc, 1, &isnull);	/* copied by tuplestore_putvalues */
		values[1] = Int32GetDatum((int32) p.x);
		values[2] = Float8GetDatum(p.t_x);
		values[3] = Float8GetDatum(p.T);
		PutFloat(values, nulls, 4, p_alive);
		PutFloat(values, nulls, 5, 1.0 - p_alive);
		PutFloat(values, nulls, 6, purchases);
		PutFloat(values, nulls, 7, value);
		PutFloat(values, nulls, 8, purchases * value);
		risk = RiskClass(&m, first, &p, p_alive, &changes, &changes_at);
		nulls[9] = risk == NULL;
		values[9] = risk ? CStringGetTextDatum(risk) : (Datum) 0;
		nulls[10] = !changes;
		values[10] = TimestampTzGetDatum(changes_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	PG_RETURN_NULL();
}
