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
 *
 * trigger_read() builds its statement from the watched table's row, the
 * settings and the catalog, and checks each time that tagscrm may still read
 * the table; for a single-row INSERT that cost more than the INSERT.  So each
 * backend keeps, per table and operation, the statement with its plan, found
 * by a fingerprint of the watched_table and settings rows (read with a kept
 * plan on every statement), and forgets it when the table's relcache entry
 * or any role changes (a grant, a revoke, a column's type or name, row-level
 * security, inheritance, a role's attributes or memberships): everything the
 * check and the statement depend on.
 */
#include "tagscrm.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(tagscrm_watch_trigger);

/* whether this session has looked for queued work yet (see below) */
static bool queue_checked = false;

/*
 * The kept read of a watched table for one operation, in TopMemoryContext:
 * valid while its table's relcache entry and the roles are unchanged and
 * the fingerprint matches.
 */
typedef struct KeptRead
{
	struct KeptRead *next;
	Oid			relid;
	char		op[9];
	char	   *role;
	char	   *fingerprint;
	SPIPlanPtr	plan;			/* the read, prepared as the table's owner */
	bool		valid;
} KeptRead;

static KeptRead *kept_reads = NULL;
static bool callbacks_registered = false;
static SPIPlanPtr fingerprint_plan = NULL;
static char *fingerprint_schema = NULL;

/* A relcache entry changed (InvalidOid: all of them): forget its reads */
static void
ForgetReadsOfRelation(Datum arg, Oid relid)
{
	for (KeptRead *k = kept_reads; k != NULL; k = k->next)
		if (relid == InvalidOid || k->relid == relid)
			k->valid = false;
}

/* A role or membership changed: forget every read (rights may differ) */
static void
ForgetAllReads(Datum arg, int cacheid, uint32 hashvalue)
{
	ForgetReadsOfRelation(arg, InvalidOid);
}

/*
 * The fingerprint of what trigger_read builds from for this role: the
 * watched_table row and the settings row as text, or NULL when the role is
 * not watched; *watched_relid is the table watched in that role.
 */
static char *
ReadFingerprint(const char *schema, Datum role, Oid *watched_relid)
{
	Datum		values[1] = {role};
	Oid			types[1] = {TEXTOID};
	bool		isnull;
	int			ret;
	char	   *result;

	if (fingerprint_plan == NULL || strcmp(fingerprint_schema, schema) != 0)
	{
		SPIPlanPtr	plan;

		plan = SPI_prepare(psprintf("SELECT x.relid::pg_catalog.oid, x::pg_catalog.text OPERATOR(pg_catalog.||) s::pg_catalog.text"
									" FROM %s.watched_table x, %s.settings s WHERE x.role OPERATOR(pg_catalog.=) $1",
									schema, schema), 1, types);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "tagscrm: could not prepare the fingerprint of a watched table: %s",
				 SPI_result_code_string(SPI_result));
		if (fingerprint_plan != NULL)
			SPI_freeplan(fingerprint_plan);
		fingerprint_plan = plan;
		if (fingerprint_schema != NULL)
			pfree(fingerprint_schema);
		fingerprint_schema = MemoryContextStrdup(TopMemoryContext, schema);
	}
	ret = SPI_execute_plan(fingerprint_plan, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tagscrm: the fingerprint of a watched table failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return NULL;
	*watched_relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	return result;
}

/* The kept read of relid for op and role, or NULL */
static KeptRead *
FindKeptRead(Oid relid, const char *op, const char *role)
{
	for (KeptRead *k = kept_reads; k != NULL; k = k->next)
		if (k->relid == relid && strcmp(k->op, op) == 0 && strcmp(k->role, role) == 0)
			return k;
	return NULL;
}

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
	char	   *read_text = NULL;
	KeptRead   *kept = NULL;
	int			ret;

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
	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(ForgetReadsOfRelation, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, ForgetAllReads, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, ForgetAllReads, (Datum) 0);
		callbacks_registered = true;
	}
	if (strcmp(op, "TRUNCATE") != 0)
	{
		Oid			watched_relid = InvalidOid;
		char	   *fingerprint = ReadFingerprint(schema, args[0], &watched_relid);

		if (fingerprint == NULL || watched_relid != relid)
		{
			SPI_finish();		/* not (or no longer) watched in this role */
			return PointerGetDatum(NULL);
		}
		kept = FindKeptRead(relid, op, trigdata->tg_trigger->tgargs[0]);
		if (kept != NULL && (!kept->valid || strcmp(kept->fingerprint, fingerprint) != 0))
		{
			/* stale: build it again below */
			kept->valid = false;
			if (kept->plan != NULL)
				SPI_freeplan(kept->plan);
			kept->plan = NULL;
			pfree(kept->fingerprint);
			kept->fingerprint = MemoryContextStrdup(TopMemoryContext, fingerprint);
		}
		else if (kept == NULL)
		{
			kept = MemoryContextAllocZero(TopMemoryContext, sizeof(KeptRead));
			kept->relid = relid;
			strlcpy(kept->op, op, sizeof(kept->op));
			kept->role = MemoryContextStrdup(TopMemoryContext, trigdata->tg_trigger->tgargs[0]);
			kept->fingerprint = MemoryContextStrdup(TopMemoryContext, fingerprint);
			kept->next = kept_reads;
			kept_reads = kept;
		}
	}

	if (kept == NULL || !kept->valid)
	{
		/* trigger_read checks the read rights and builds the statement */
		Oid			t[3] = {TEXTOID, TEXTOID, OIDOID};
		Datum		v[3] = {args[0], args[1], ObjectIdGetDatum(relid)};

		row = RunOurs(psprintf("SELECT %s.trigger_read($1, $2, $3)", schema), 3, t, v, NULL, &desc);
		read_sql = row ? SPI_getbinval(row, desc, 1, &isnull) : (Datum) 0;
		if (row == NULL || isnull)
		{
			SPI_finish();		/* not (or no longer) watched in this role */
			return PointerGetDatum(NULL);
		}
		read_text = TextDatumGetCString(read_sql);
	}

	if (strcmp(op, "TRUNCATE") != 0)
	{
		OwnerRead	state;

		OwnerReadBegin(relid, &state);
		if (!kept->valid)
		{
			/* prepared as the table's owner, who runs it */
			SPIPlanPtr	plan = SPI_prepare(read_text, 0, NULL);

			if (plan == NULL || SPI_keepplan(plan) != 0)
				elog(ERROR, "tagscrm: could not prepare the read of the transition table: %s",
					 SPI_result_code_string(SPI_result));
			kept->plan = plan;
			kept->valid = true;
		}
		ret = SPI_execute_plan(kept->plan, NULL, NULL, false, 1);
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
	ret = SPI_execute_plan(KeptPlan(psprintf("SELECT %s.apply_trigger($1, $2, $3, $4, $5, $6, $7)", schema), 7, types),
						   args, nulls, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tagscrm: apply_trigger failed: %s", SPI_result_code_string(ret));
	SPI_finish();
	return PointerGetDatum(NULL);
}
