/*
 * tag_set_autofold.c: automatic compaction of the tag sets' change logs
 * (segments.sql says what and why).  In C because every writer of
 * customer_tag calls it for the rows it logged, and as PL/pgSQL it cost a
 * single-row write some 80 microseconds a statement to find, nearly always,
 * that none of its rows was sampled.
 */
#include "tagscrm.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(tagscrm_tag_set_log_sampled);
PG_FUNCTION_INFO_V1(tagscrm_tag_set_autofold);

/* about one row in 16: by a hash of the id (see segments.sql for why) */
static bool
LogRowSampled(Datum log_id)
{
	return (DatumGetUInt32(DirectFunctionCall1(hashint8, log_id)) & 15) == 0;
}

/* SQL: tag_set_log_sampled(log_id bigint) */
Datum
tagscrm_tag_set_log_sampled(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(LogRowSampled(PG_GETARG_DATUM(0)));
}

/*
 * SQL: tag_set_autofold(log_ids bigint[]): of the tags of the sampled rows,
 * folds each whose log has grown to 64 rows (tag_set_fold, each in a
 * statement of its own); only in READ COMMITTED.
 */
Datum
tagscrm_tag_set_autofold(PG_FUNCTION_ARGS)
{
	ArrayType  *ids;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				sampled = 0;
	const char *s;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	uint64		ntags;
	int32	   *tags;

	if (PG_ARGISNULL(0) || XactIsoLevel != XACT_READ_COMMITTED)
		PG_RETURN_VOID();
	ids = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(ids, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && LogRowSampled(elems[i]))
			elems[sampled++] = elems[i];
	if (sampled == 0)
		PG_RETURN_VOID();			/* nearly always: nothing to look at */

	s = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
	values[0] = PointerGetDatum(construct_array(elems, sampled, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_plan(KeptPlan(psprintf("SELECT t.tag_id FROM (SELECT DISTINCT l.tag_id FROM %s.tag_set_log l"
										   " WHERE l.log_id = ANY ($1)) t"
										   " WHERE (SELECT count(*) FROM (SELECT FROM %s.tag_set_log l"
										   " WHERE l.tag_id = t.tag_id LIMIT 64) x) >= 64 ORDER BY 1", s, s),
						 1, types),
						 values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "tagscrm: the log length of the sampled tags could not be read");
	ntags = SPI_processed;
	tags = palloc(sizeof(int32) * Max(ntags, 1));
	for (uint64 i = 0; i < ntags; i++)
	{
		bool		isnull;

		tags[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	for (uint64 i = 0; i < ntags; i++)
	{
		Oid			t[1] = {INT4OID};
		Datum		v[1] = {Int32GetDatum(tags[i])};

		if (SPI_execute_plan(KeptPlan(psprintf("SELECT %s.tag_set_fold($1)", s), 1, t), v, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "tagscrm: a tag's log could not be folded");
	}
	SPI_finish();
	PG_RETURN_VOID();
}
