/*
 * kept_plan.c: the plans of tagscrm's maintenance statements, prepared once
 * per backend.
 *
 * The maintenance of a statement on a watched table runs a few statements
 * over the batch of customers it touched (sync_models.c, say).  Planned for
 * each call, a single-row INSERT paid more for the planning than for the
 * work, so each statement is prepared once with a generic plan and kept
 * (SPI_keepplan; the plan cache replans it when a table it reads changes).
 * Their statements read and write batches given as arrays, through index
 * probes that serve one customer and 50,000 alike.  The statement texts are
 * tagscrm's own.
 */
#include "tagscrm.h"

#include "executor/spi.h"
#include "utils/memutils.h"

/* one kept statement: its text and plan, in TopMemoryContext */
typedef struct KeptStatement
{
	struct KeptStatement *next;
	char	   *sql;
	SPIPlanPtr	plan;
} KeptStatement;

static KeptStatement *kept_statements = NULL;

/* The kept generic plan of sql (with these parameter types), prepared on first use */
SPIPlanPtr
KeptPlan(const char *sql, int nargs, Oid *types)
{
	KeptStatement *k;
	SPIPlanPtr	plan;

	for (k = kept_statements; k != NULL; k = k->next)
		if (strcmp(k->sql, sql) == 0)
			return k->plan;
	plan = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "tagscrm: could not prepare a maintenance statement: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	k = MemoryContextAlloc(TopMemoryContext, sizeof(KeptStatement));
	k->sql = MemoryContextStrdup(TopMemoryContext, sql);
	k->plan = plan;
	k->next = kept_statements;
	kept_statements = k;
	return plan;
}
