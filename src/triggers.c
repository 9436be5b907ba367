/*
 * triggers.c: the statement trigger of every watched table.
 *
 * A C function because reading the transition tables can run code of the
 * table's owner (a cast of a column type, say), which must not run with the
 * extension owner's rights (owner_read.c), and only the trigger function
 * itself sees the transition tables.  So the trigger asks trigger_read()
 * (triggers.sql) for the statement that reads them, runs it as the table's
 * owner, and hands the rows it read, as built-in arrays, to apply_trigger()
 * with the extension owner's rights.  Everything else is SQL.
 */
#include "tagscrm.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(tagscrm_watch_trigger);

/* whether this session has looked for queued work yet (see below) */
static bool queue_checked = false;

/* Runs a statement of ours with args; returns its single row, or NULL for none */
static HeapTuple
RunOurs(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, TupleDesc *desc)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 1);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s", sql, SPI_result_code_string(ret));
	*desc = SPI_tuptable->tupdesc;
	return SPI_processed > 0 ? SPI_tuptable->vals[0] : NULL;
}

/*
 * watch_trigger(role): AFTER ... FOR EACH STATEMENT on a watched table;
 * TG_ARGV[0] is its role (orders, events, customers, contacts).
 */
Datum
tagscrm_watch_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *schema;
	const char *op;
	Oid			relid;
	Datum		args[7];
	char		nulls[7] = {' ', ' ', 'n', 'n', 'n', 'n', 'n'};
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, BOOLOID, TEXTOID};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		read_sql;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) || trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tagscrm.watch_trigger() must be an AFTER ... FOR EACH STATEMENT trigger with one argument"),
				 errhint("Let tagscrm.watch_orders() and the other watch functions create its triggers.")));
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		op = "INSERT";
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		op = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		op = "DELETE";
	else
		op = "TRUNCATE";
	relid = RelationGetRelid(trigdata->tg_relation);
	schema = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");

	/*
	 * The first statement on a watched table in each session starts an
	 * applier if bulk statements wait: after a restart nothing else would.
	 */
	if (!queue_checked)
	{
		RunOurs(psprintf("SELECT %s.request_applier_if_queued()", schema), 0, NULL, NULL, NULL, &desc);
		queue_checked = true;
	}

	args[0] = CStringGetTextDatum(trigdata->tg_trigger->tgargs[0]);
	args[1] = CStringGetTextDatum(op);
	{
		Oid			t[3] = {TEXTOID, TEXTOID, OIDOID};
		Datum		v[3] = {args[0], args[1], ObjectIdGetDatum(relid)};

		row = RunOurs(psprintf("SELECT %s.trigger_read($1, $2, $3)", schema), 3, t, v, NULL, &desc);
	}
	read_sql = row ? SPI_getbinval(row, desc, 1, &isnull) : (Datum) 0;
	if (row == NULL || isnull)
	{
		SPI_finish();			/* not (or no longer) watched in this role */
		return PointerGetDatum(NULL);
	}

	if (strcmp(op, "TRUNCATE") != 0)
	{
		OwnerRead	state;
		int			ret;

		OwnerReadBegin(relid, &state);
		ret = SPI_execute(TextDatumGetCString(read_sql), false, 1);
		OwnerReadEnd(&state);
		if (ret != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != 5)
			elog(ERROR, "tagscrm: the read of the transition table returned no row");
		desc = SPI_tuptable->tupdesc;
		for (int i = 0; i < 5; i++)
		{
			if (TupleDescAttr(desc, i)->atttypid != types[i + 2])
				elog(ERROR, "tagscrm: column %d of the transition table read is of type %s", i + 1,
					 format_type_be(TupleDescAttr(desc, i)->atttypid));
			args[i + 2] = SPI_getbinval(SPI_tuptable->vals[0], desc, i + 1, &isnull);
			nulls[i + 2] = isnull ? 'n' : ' ';
		}
	}
	RunOurs(psprintf("SELECT %s.apply_trigger($1, $2, $3, $4, $5, $6, $7)", schema), 7, types, args, nulls, &desc);
	SPI_finish();
	return PointerGetDatum(NULL);
}
