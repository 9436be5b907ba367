/*
 * rule_batch.h: what the files of the batch rule evaluator share; one block
 * per file.  The SQL functions are in rule_batch.c (see its header comment
 * for the whole picture).
 */
#ifndef TAGSCRM_RULE_BATCH_H
#define TAGSCRM_RULE_BATCH_H

#include "tagscrm.h"

#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/jsonb.h"

/* How a measure is computed */
typedef enum BatchWay
{
	WAY_ROWS,					/* aggregate over the rows of orders or events */
	WAY_EVENT_FACT,				/* count/exists of events of some kinds, all time */
	WAY_FACT,					/* a column of customer_fact (no slot) */
	WAY_ATTRIBUTE,				/* a key of customer_fact.attributes (no slot) */
	WAY_BIRTH_DATE,				/* customer_fact.birth_date (no slot) */
	WAY_ACTIVE_DAYS,			/* rows of customer_day */
	WAY_REGISTRATION,			/* customer.first_seen_at */
	WAY_MODEL,					/* value of a model tag */
	WAY_RFM_SCORE,				/* live RFM score */
	WAY_CHURN,					/* churn_predict() */
	WAY_TAG						/* has_tag */
} BatchWay;

/* Columns of the rows of the score queries in rule_batch_read.c (1 is the customer) */
enum
{
	RFM_COLUMN_R = 2,
	RFM_COLUMN_F,
	RFM_COLUMN_M
};
enum
{
	CHURN_COLUMN_PROBABILITY = 2,
	CHURN_COLUMN_P_ALIVE,
	CHURN_COLUMN_EXPECTED_VALUE
};

/* One row of orders or events, as read */
typedef struct BatchRow
{
	TimestampTz at;
	bool		at_null;
	double		num;			/* amount or duration: each source has one
								 * number field, so sum, min, max and avg
								 * need not say which they read */
	bool		num_null;
	const char *kind;
	int			kind_len;		/* -1: NULL */
	const char *object;
	int			object_len;		/* -1: NULL */
} BatchRow;

/* A distinct measure of the batch */
typedef struct BatchMeasure
{
	const RuleMeasure *m;
	BatchWay	way;
	int			slot;			/* index of its first double in a customer's
								 * slots; -1 */
	/* WAY_ROWS and WAY_EVENT_FACT: the aggregate */
	RuleAggFunc func;
	RuleSource	source;
	int			nfilters;
	const RuleFilter *filters;
	bool		windowed;
	TimestampTz lo;				/* window: rows with lo < at <= hi count */
	TimestampTz hi;
	int64		from_us;
	int64		to_us;
	/* WAY_MODEL: the model of model_tag */
	const char *model;
	/* WAY_RFM_SCORE and WAY_CHURN: its column in the score query */
	int			column;
} BatchMeasure;

/* Customer id, as stored (not NUL-terminated) */
typedef struct CustKey
{
	const char *str;
	int			len;
} CustKey;

/* A customer of the batch, in the hash table of rule_batch.c */
typedef struct CustEntry
{
	CustKey		key;
	uint32		hash;
	char		status;			/* for simplehash */
	bool		listed;			/* asked for by name */
	bool		done;			/* result emitted */
	TimestampTz next;			/* earliest window change; DT_NOEND if none */
	double	   *slots;
} CustEntry;

/* Fact values of one customer, from customer_fact (isnull: no row) */
typedef struct FactRow
{
	bool		isnull;
	double		order_count;
	double		order_total;
	TimestampTz first_order_at;
	bool		first_order_null;
	TimestampTz last_order_at;
	bool		last_order_null;
	double		event_count;
	TimestampTz last_event_at;
	bool		last_event_null;
	Jsonb	   *attributes;
	double		birth_year;
	bool		birth_year_null;
	double		age;
	bool		age_null;
} FactRow;

typedef struct Batch
{
	MemoryContext context;
	const char *schema;			/* quoted */
	TimestampTz now;
	TimestampTz day_later;		/* now + 1 day, for time-dependent facts */
	bool		daily;			/* some rule has a time-dependent fact */
	int			nrules;
	const RuleTree **trees;
	int		  **map;			/* per rule: its measure i -> batch measure */
	int			nmeasures;
	BatchMeasure *measures;
	int			nslots;
	bool		everyone;
	Datum		customers;		/* text[] of the list, or 0 */
	struct cust_hash *hash;
	char	   *arena;
	Size		arena_left;
	/* interned model values */
	int			nvalues;
	char	  **values;
	/* scratch */
	RuleValue  *gv;
	RuleValue  *rv;
	double	   *zeros;			/* the slots of a customer without data */
} Batch;

/* Called for each customer_fact row read, e is NULL for an unknown customer */
typedef void (*BatchFactFn) (Batch *b, const char *id, int len, CustEntry *e, const FactRow *f,
							 void *arg);

/* rule_batch_plan.c: which measures, computed how */
extern void RuleBatchPlan(Batch *b, ArrayType *rules);

/* rule_batch_read.c: one query per source, rows into the customers' slots */
extern void RuleBatchRead(Batch *b);
extern void RuleBatchReadFacts(Batch *b, BatchFactFn fn, void *arg);

/* rule_batch_filter.c: which rows count, and how they add up */
extern bool RuleBatchRowPasses(const BatchMeasure *bm, const BatchRow *row);
extern void RuleBatchAccumulate(const BatchMeasure *bm, CustEntry *e, const BatchRow *row,
								TimestampTz now);

/* rule_batch.c: the customers of the batch */
extern CustEntry *RuleBatchCustomer(Batch *b, const char *str, int len, bool create);

#endif							/* TAGSCRM_RULE_BATCH_H */
