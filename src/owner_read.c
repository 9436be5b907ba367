/*
 * owner_read.c: every read of a user's table runs as that table's owner.
 *
 * tagscrm's maintenance runs with the extension owner's rights (it writes
 * tables nobody else may write), but the tables it reads belong to users,
 * and reading a table can run its owner's code: a cast or output function of
 * a column type, a domain, a partial-index predicate folded by the planner.
 * PostgreSQL's own maintenance (ANALYZE, CREATE INDEX, REFRESH MATERIALIZED
 * VIEW) solves this by running such code as the table's owner inside a
 * security-restricted operation; so do we.  Whatever the owner's code does
 * runs with rights its author already has; settings it changes are rolled
 * back when the read ends.  Results are values of built-in types, copied out
 * before the extension owner's rights come back.
 *
 * The caller's SQL text is tagscrm's own (identifiers quoted from the
 * catalog); no user text reaches it.  read_as_owner() is granted to nobody:
 * only tagscrm's own functions, running as the extension owner, call it.
 */
#include "tagscrm.h"

#include "access/htup_details.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(tagscrm_read_as_owner);

/* Switches to the owner of relid for a read; OwnerReadEnd switches back */
void
OwnerReadBegin(Oid relid, OwnerRead *state)
{
	HeapTuple	tuple;
	Oid			owner;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("tagscrm: watched table with OID %u does not exist", relid),
				 errhint("Run tagscrm.refresh(rebuild => true) to forget it.")));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);

	GetUserIdAndSecContext(&state->saved_user, &state->saved_context);
	state->saved_nestlevel = NewGUCNestLevel();
	SetUserIdAndSecContext(owner, state->saved_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
}

void
OwnerReadEnd(OwnerRead *state)
{
	/* settings the owner's code changed (search_path, say) do not outlive the read */
	AtEOXact_GUC(false, state->saved_nestlevel);
	SetUserIdAndSecContext(state->saved_user, state->saved_context);
}

/*
 * A DestReceiver that checks the rows have the caller's row type, then
 * stores them in a tuplestore.
 */
typedef struct CheckedStore
{
	DestReceiver pub;
	DestReceiver *store;
	TupleDesc	expected;
} CheckedStore;

static void
CheckedStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	CheckedStore *dest = (CheckedStore *) self;

	if (typeinfo->natts != dest->expected->natts)
		elog(ERROR, "read_as_owner: query returns %d columns, %d expected",
			 typeinfo->natts, dest->expected->natts);
	for (int i = 0; i < typeinfo->natts; i++)
		if (TupleDescAttr(typeinfo, i)->atttypid != TupleDescAttr(dest->expected, i)->atttypid)
			elog(ERROR, "read_as_owner: column %d is of type %s, %s expected", i + 1,
				 format_type_be(TupleDescAttr(typeinfo, i)->atttypid),
				 format_type_be(TupleDescAttr(dest->expected, i)->atttypid));
	dest->store->rStartup(dest->store, operation, typeinfo);
}

static bool
CheckedReceive(TupleTableSlot *slot, DestReceiver *self)
{
	CheckedStore *dest = (CheckedStore *) self;

	return dest->store->receiveSlot(slot, dest->store);
}

static void
CheckedShutdown(DestReceiver *self)
{
	CheckedStore *dest = (CheckedStore *) self;

	dest->store->rShutdown(dest->store);
}

static void
CheckedDestroy(DestReceiver *self)
{
	CheckedStore *dest = (CheckedStore *) self;

	dest->store->rDestroy(dest->store);
}

/*
 * read_as_owner(rel regclass, query text, customers text[], tz text)
 * RETURNS SETOF record: the rows of query, run as rel's owner with
 * $1 = customers and $2 = tz, with a fresh snapshot.
 */
Datum
tagscrm_read_as_owner(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	char	   *query;
	Oid			types[2] = {TEXTARRAYOID, TEXTOID};
	Datum		values[2];
	char		nulls[2];
	SPIExecuteOptions options;
	SPIPlanPtr	plan;
	CheckedStore dest;
	OwnerRead	state;
	int			ret;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		elog(ERROR, "read_as_owner: table and query must not be null");
	relid = PG_GETARG_OID(0);
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	values[0] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[0] = PG_ARGISNULL(2) ? 'n' : ' ';
	values[1] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[1] = PG_ARGISNULL(3) ? 'n' : ' ';

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	memset(&dest, 0, sizeof(dest));
	dest.pub.receiveSlot = CheckedReceive;
	dest.pub.rStartup = CheckedStartup;
	dest.pub.rShutdown = CheckedShutdown;
	dest.pub.rDestroy = CheckedDestroy;
	dest.pub.mydest = DestTuplestore;
	dest.expected = rsinfo->setDesc;
	dest.store = CreateTuplestoreDestReceiver();
	SetTuplestoreDestReceiverParams(dest.store, rsinfo->setResult,
									rsinfo->econtext->ecxt_per_query_memory, false, NULL, NULL);

	memset(&options, 0, sizeof(options));
	options.params = makeParamList(2);
	for (int i = 0; i < 2; i++)
	{
		ParamExternData *prm = &options.params->params[i];

		prm->value = values[i];
		prm->isnull = (nulls[i] == 'n');
		prm->pflags = PARAM_FLAG_CONST;
		prm->ptype = types[i];
	}
	options.read_only = false;	/* a fresh snapshot: the caller holds its locks by now */
	options.dest = (DestReceiver *) &dest;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	OwnerReadBegin(relid, &state);
	plan = SPI_prepare(query, 2, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query, SPI_result_code_string(SPI_result));
	ret = SPI_execute_plan_extended(plan, &options);
	if (ret < 0)
		elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(ret));
	OwnerReadEnd(&state);
	SPI_finish();
	return (Datum) 0;
}
