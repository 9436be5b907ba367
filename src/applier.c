/*
 * applier.c: the background applier of bulk statements.
 *
 * A statement on a watched orders or events table that writes more rows than
 * settings.bulk_rows does not bring facts and tags up to date itself (for a
 * COPY of 100,000 orders that work costs many times the COPY): its trigger
 * queues the customers it touched in tagscrm.pending_customers and calls
 * tagscrm.request_applier().  When that transaction commits, a dynamic
 * background worker is started; it connects to the same database as the
 * role that owns the trigger function (the extension owner) and calls
 * tagscrm.apply_pending_entry() in one transaction per queued entry until
 * the queue is empty.  Entries are taken with SKIP LOCKED, so several
 * appliers (and apply_pending()) share the queue.
 *
 * If no worker slot is free, or the server restarted before the entries were
 * applied, they wait for the next request: the first statement on a watched
 * table in each new session (triggers.c), sweep(), refresh() and
 * apply_pending() ask for an applier when entries wait.  Nothing is lost, as
 * the queue is an ordinary table.  An entry that fails is set aside (see
 * apply_pending_entry) and the applier goes on with the next.
 */
#include "tagscrm.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(tagscrm_request_applier);
PGDLLEXPORT void tagscrm_applier_main(Datum main_arg);

static bool applier_requested = false;
static bool callback_registered = false;
static Oid	applier_role = InvalidOid;

/*
 * Starts the worker once the requesting transaction has committed (before,
 * it could not see the queued entries).  Runs inside commit processing, so
 * it must not throw: RegisterDynamicBackgroundWorker reports a full slot
 * table by returning false.
 */
static void
start_applier_at_commit(XactEvent event, void *arg)
{
	BackgroundWorker worker;

	/*
	 * A prepared transaction commits later, maybe in another session, which
	 * starts no worker: its entries wait for the next applier or sweep().
	 */
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		applier_requested = false;
	if (event != XACT_EVENT_COMMIT || !applier_requested)
		return;
	applier_requested = false;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "tagscrm");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "tagscrm_applier_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "tagscrm applier");
	snprintf(worker.bgw_type, BGW_MAXLEN, "tagscrm applier");
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	memcpy(worker.bgw_extra, &applier_role, sizeof(Oid));
	worker.bgw_notify_pid = 0;

	if (!RegisterDynamicBackgroundWorker(&worker, NULL))
		ereport(LOG,
				(errmsg("tagscrm: no background worker slot is free to apply a bulk statement"),
				 errhint("It is applied by the next applier, tagscrm.sweep() or tagscrm.apply_pending(); "
						 "consider raising max_worker_processes.")));
}

/*
 * SQL: tagscrm.request_applier(), called by the trigger that queued an
 * entry.  The worker runs as the current user: inside the SECURITY DEFINER
 * trigger function, the extension owner.
 */
Datum
tagscrm_request_applier(PG_FUNCTION_ARGS)
{
	if (!callback_registered)
	{
		RegisterXactCallback(start_applier_at_commit, NULL);
		callback_registered = true;
	}
	applier_requested = true;
	applier_role = GetUserId();
	PG_RETURN_VOID();
}

/*
 * "SELECT <schema>.apply_pending_entry()", or NULL if tagscrm is gone; read
 * in each transaction (the extension may be dropped or moved meanwhile).
 * regnamespace's output is already a quoted identifier.
 */
static char *
apply_entry_query(void)
{
	bool		isnull;
	Datum		schema;

	if (SPI_execute("SELECT extnamespace::pg_catalog.regnamespace::pg_catalog.text FROM pg_catalog.pg_extension "
					"WHERE extname OPERATOR(pg_catalog.=) 'tagscrm'", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "tagscrm applier: could not read pg_extension");
	if (SPI_processed != 1)
		return NULL;
	schema = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return psprintf("SELECT %s.apply_pending_entry()", TextDatumGetCString(schema));
}

void
tagscrm_applier_main(Datum main_arg)
{
	Oid			database = DatumGetObjectId(main_arg);
	Oid			role;

	memcpy(&role, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, die);		/* pg_terminate_backend and shutdown stop it cleanly */
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(database, role, 0);
	SetConfigOption("application_name", "tagscrm applier", PGC_USERSET, PGC_S_SESSION);
	/*
	 * If the applier and a writer ever wait for each other, the applier
	 * detects it first and gives way (its entry is tried again): the shop's
	 * statement is not the one that fails.
	 */
	SetConfigOption("deadlock_timeout", "100ms", PGC_SUSET, PGC_S_SESSION);

	for (;;)
	{
		char	   *query;
		bool		applied = false;

		CHECK_FOR_INTERRUPTS();
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		query = apply_entry_query();
		if (query != NULL)
		{
			bool		isnull;
			Datum		result;

			pgstat_report_activity(STATE_RUNNING, query);
			if (SPI_execute(query, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "tagscrm applier: unexpected result from apply_pending_entry()");
			result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			applied = !isnull && DatumGetBool(result);
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_stat(false);
		pgstat_report_activity(STATE_IDLE, NULL);
		if (!applied)
			break;
	}
	proc_exit(0);
}
