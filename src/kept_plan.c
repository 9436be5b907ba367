/*
 * kept_plan.c: tagscrm's per-customer maintenance statements with plans
 * kept per backend.
 *
 * The maintenance of a statement on a watched table runs a few large
 * statements over the batch of customers it touched (sync_models, say).
 * PL/pgSQL plans such a statement for the values of each call as long as a
 * generic plan looks dearer than the custom ones, which for these
 * statements is always: so a single-row INSERT paid the planning of a
 * statement of a hundred lines every time.  execute_kept() runs a statement
 * over a batch of customers ($1, text[]) and a flag ($2, boolean) that
 * returns one row:
 *   - a small batch (at most KEPT_PLAN_MAX_BATCH customers) with a generic
 *     plan prepared once per backend and kept (SPI_keepplan; the plan cache
 *     replans it when a table it reads changes);
 *   - a larger batch with a plan made for its values, since a generic plan
 *     with index probes would serve 50,000 customers badly and the planning
 *     is paid once for all of them.
 * The statement text is tagscrm's own (a constant of an IMMUTABLE SQL
 * function); the function is granted to nobody (permissions.sql).
 */
#include "tagscrm.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(tagscrm_execute_kept);

/* batches up to this size use the kept generic plan */
#define KEPT_PLAN_MAX_BATCH 64

/* one kept statement: its text and plan, in TopMemoryContext */
typedef struct KeptPlan
{
	struct KeptPlan *next;
	char	   *sql;
	SPIPlanPtr	plan;
} KeptPlan;

static KeptPlan *kept_plans = NULL;

/* Returns the kept generic plan of sql, preparing it on first use */
static SPIPlanPtr
KeptPlanFor(const char *sql)
{
	KeptPlan   *k;
	Oid			types[2] = {TEXTARRAYOID, BOOLOID};
	SPIPlanPtr	plan;

	for (k = kept_plans; k != NULL; k = k->next)
		if (strcmp(k->sql, sql) == 0)
			return k->plan;
	plan = SPI_prepare_cursor(sql, 2, types, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	k = MemoryContextAlloc(TopMemoryContext, sizeof(KeptPlan));
	k->sql = MemoryContextStrdup(TopMemoryContext, sql);
	k->plan = plan;
	k->next = kept_plans;
	kept_plans = k;
	return plan;
}

/*
 * execute_kept(statement, customers, flag): runs statement with $1 =
 * customers and $2 = flag, returns its one row (NULL if none) as the record
 * the caller's column list describes.
 */
Datum
tagscrm_execute_kept(PG_FUNCTION_ARGS)
{
	char	   *sql;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	Oid			types[2] = {TEXTARRAYOID, BOOLOID};
	bool		small = false;
	int			ret;
	TupleDesc	wanted;
	TupleDesc	got;
	Datum		result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tagscrm.execute_kept() needs a statement"),
				 errhint("Only tagscrm's own functions call it.")));
	if (get_call_result_type(fcinfo, NULL, &wanted) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("tagscrm.execute_kept() needs a column list"),
				 errhint("Only tagscrm's own functions call it.")));
	sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (PG_ARGISNULL(1))
		nulls[0] = 'n';
	else
	{
		ArrayType  *customers = PG_GETARG_ARRAYTYPE_P(1);

		values[0] = PointerGetDatum(customers);
		small = ArrayGetNItems(ARR_NDIM(customers), ARR_DIMS(customers)) <= KEPT_PLAN_MAX_BATCH;
	}
	if (PG_ARGISNULL(2))
		nulls[1] = 'n';
	else
		values[1] = PG_GETARG_DATUM(2);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (small)
		ret = SPI_execute_plan(KeptPlanFor(sql), values, nulls, false, 0);
	else
		ret = SPI_execute_with_args(sql, 2, types, values, nulls, false, 0);
	if (ret < 0)
		elog(ERROR, "tagscrm.execute_kept: the statement failed: %s", SPI_result_code_string(ret));
	if (SPI_tuptable == NULL || SPI_processed == 0)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	got = SPI_tuptable->tupdesc;
	if (SPI_processed != 1 || got->natts != wanted->natts)
		elog(ERROR, "tagscrm.execute_kept: the statement must return one row of %d columns", wanted->natts);
	for (int i = 0; i < got->natts; i++)
		if (TupleDescAttr(got, i)->atttypid != TupleDescAttr(wanted, i)->atttypid)
			elog(ERROR, "tagscrm.execute_kept: column %d of the statement is of type %s, not %s", i + 1,
				 format_type_be(TupleDescAttr(got, i)->atttypid),
				 format_type_be(TupleDescAttr(wanted, i)->atttypid));
	/* copied into the caller's context before SPI's goes, as the caller's row type */
	result = PointerGetDatum(SPI_returntuple(SPI_tuptable->vals[0], BlessTupleDesc(wanted)));
	SPI_finish();
	PG_RETURN_DATUM(result);
}
