/*
 * tagscrm.h: map of the C modules; one extern block per .c file.
 */
#ifndef TAGSCRM_H
#define TAGSCRM_H

#include "postgres.h"
#include "utils/timestamp.h"

/* session.c: the tagscrm clock, the acting role, days_between (SQL-callable) */
extern void SessionInit(void);
extern TimestampTz TagscrmNow(void);
extern int32 DaysBetween(TimestampTz since, TimestampTz until);

/* names.c: the lookup key of a library name (SQL: name_key), for C callers */
extern Datum NameKey(Datum name);

/*
 * owner_read.c: every read of a user's table runs as the table's owner, in a
 * security-restricted operation (SQL: read_as_owner).  Between Begin and End
 * the current user is the owner; settings changed meanwhile are undone.
 */
typedef struct OwnerRead
{
	Oid			saved_user;
	int			saved_context;
	int			saved_nestlevel;
} OwnerRead;
extern void OwnerReadBegin(Oid relid, OwnerRead *state);
extern void OwnerReadEnd(OwnerRead *state);

/*
 * kept_plan.c: KeptPlan returns the generic plan of one of tagscrm's own
 * statements, prepared once per backend (sql's text is the key).
 */
#include "executor/spi.h"
extern SPIPlanPtr KeptPlan(const char *sql, int nargs, Oid *types);

/* sync_models.c: model tags in line with the models (SQL-callable only) */

/* triggers.c: the statement trigger of the watched tables (SQL-callable only) */

/*
 * model_values.c: what every model says of a batch of customers, set-based
 * (SQL-callable only)
 */

/* rfm.c: RFM breakpoints aggregate, scores and segments (SQL-callable only) */

/*
 * rule.c: the rule language for automatic tags, in SQL (the standard-C core,
 * rule_vocabulary.c to rule_eval.c, is declared in rule.h).  RuleLookup
 * returns the cached tree of a rule or raises its error; the tree stays
 * valid until the next RuleLookup call or the end of the transaction
 * (between RuleCachePin and RuleCacheUnpin: until the unpin or the end of
 * the transaction).  RuleEvaluate takes one value per measure, in id order.
 */
#include "rule.h"
extern const RuleTree *RuleLookup(const char *text, size_t len);
extern bool RuleEvaluate(const RuleTree *tree, const RuleValue *values, bool *isnull);
extern void RuleReportError(const RuleError *err, const char *text, size_t len) pg_attribute_noreturn();
extern void RuleReportErrorIn(const RuleError *err, const char *text, size_t len, const char *what) pg_attribute_noreturn();
extern void RuleCachePin(void);
extern void RuleCacheUnpin(void);

/*
 * rule_batch*.c: every measure of many rules for many customers in one pass
 * per source, then each rule evaluated per customer (SQL-callable only;
 * their shared declarations are in rule_batch.h).
 */

/*
 * churn.c: BG/NBD and Gamma-Gamma aggregates and scoring functions; SQL-callable
 * only, no init.  The numerical core, free of PostgreSQL, is churn_math.h.
 */

#endif							/* TAGSCRM_H */
