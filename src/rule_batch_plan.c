/*
 * rule_batch_plan.c: planning a batch.  The rules are parsed through the
 * per-backend cache (pinned for the call) and their measures merged, so
 * that a measure several rules use is computed once; each distinct measure
 * then gets the way tagscrm computes it and its share of every customer's
 * slots (the doubles the reading adds up into).
 *
 * How each named measure of the vocabulary is computed is one switch over
 * RuleNamed without a default, so the compiler names any word the batch
 * evaluator does not know.
 */
#include "rule_batch.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"

/* Seconds as microseconds, clamped far beyond any timestamp */
static int64
SecondsToUs(double secs)
{
	return (int64) llround(Min(secs, RULE_MAX_DURATION) * USECS_PER_SEC);
}

/* Doubles of slot a measure takes */
static int
SlotWidth(const BatchMeasure *bm)
{
	switch (bm->way)
	{
		case WAY_ROWS:
			switch (bm->func)
			{
				case RULE_AGG_COUNT:
				case RULE_AGG_EXISTS:
					return 1;	/* n */
				case RULE_AGG_SUM:
				case RULE_AGG_AVG:
					return 3;	/* sum, compensation, n */
				case RULE_AGG_MIN:
				case RULE_AGG_MAX:
					return 2;	/* value, n */
			}
			break;
		case WAY_EVENT_FACT:
		case WAY_ACTIVE_DAYS:
		case WAY_MODEL:
		case WAY_TAG:
			return 1;
		case WAY_REGISTRATION:
		case WAY_RFM_SCORE:
		case WAY_CHURN:
			return 2;			/* value, known */
		case WAY_FACT:
		case WAY_ATTRIBUTE:
		case WAY_BIRTH_DATE:
			break;				/* read with the facts, no slot */
	}
	return 0;
}

/*
 * Is an aggregate over events answered by customer_event_fact?  Counts and
 * existence of events, all time, filtered on the kind alone (= or IN).
 */
static bool
ByEventFact(const RuleMeasure *m)
{
	if (m->source != RULE_SOURCE_EVENT || m->has_window ||
		(m->func != RULE_AGG_COUNT && m->func != RULE_AGG_EXISTS) || m->nfilters != 1)
		return false;
	return m->filters[0].field == RULE_FIELD_KIND &&
		(m->filters[0].op == RULE_OP_EQ || m->filters[0].op == RULE_OP_IN);
}

/* An aggregate over the rows of orders or events */
static void
PlanAggregate(Batch *b, BatchMeasure *bm)
{
	const RuleMeasure *m = bm->m;

	bm->way = ByEventFact(m) ? WAY_EVENT_FACT : WAY_ROWS;
	bm->func = m->func;
	bm->source = m->source;
	bm->nfilters = m->nfilters;
	bm->filters = m->filters;
	bm->windowed = m->has_window;
	if (m->has_window)
	{
		bm->from_us = SecondsToUs(m->window_from);
		bm->to_us = SecondsToUs(m->window_to);
		bm->lo = b->now - bm->from_us;
		bm->hi = b->now - bm->to_us;
	}
	/* sums of all orders, counts of all orders or events: from the facts */
	if (!m->has_window && m->nfilters == 0 &&
		(m->func == RULE_AGG_COUNT || m->func == RULE_AGG_EXISTS ||
		 (m->func == RULE_AGG_SUM && m->source == RULE_SOURCE_ORDER)))
		bm->way = WAY_FACT;
}

/* A fact, attribute or model: where tagscrm keeps it */
static void
PlanNamed(BatchMeasure *bm)
{
	switch (bm->m->named)
	{
		case RULE_NAMED_ORDER_COUNT:
		case RULE_NAMED_TOTAL_PAID:
		case RULE_NAMED_AVG_ORDER_VALUE:
		case RULE_NAMED_EVENT_COUNT:
		case RULE_NAMED_DAYS_SINCE_FIRST_ORDER:
		case RULE_NAMED_DAYS_SINCE_LAST_ORDER:
		case RULE_NAMED_DAYS_SINCE_LAST_EVENT:
			bm->way = WAY_FACT;
			break;
		case RULE_NAMED_MAX_ORDER_AMOUNT:
			/* max(order.amount): customer_fact has no largest amount */
			bm->way = WAY_ROWS;
			bm->func = RULE_AGG_MAX;
			bm->source = RULE_SOURCE_ORDER;
			break;
		case RULE_NAMED_ACTIVE_DAYS:
			bm->way = WAY_ACTIVE_DAYS;
			break;
		case RULE_NAMED_CITY:
		case RULE_NAMED_PROVINCE:
		case RULE_NAMED_COUNTRY:
		case RULE_NAMED_GENDER:
		case RULE_NAMED_CHANNEL:
			bm->way = WAY_ATTRIBUTE;
			break;
		case RULE_NAMED_BIRTH_YEAR:
		case RULE_NAMED_AGE:
			bm->way = WAY_BIRTH_DATE;
			break;
		case RULE_NAMED_DAYS_SINCE_REGISTRATION:
			bm->way = WAY_REGISTRATION;
			break;
		case RULE_NAMED_RFM_SEGMENT:
			bm->way = WAY_MODEL;
			bm->model = "rfm";
			break;
		case RULE_NAMED_LIFECYCLE_STAGE:
			bm->way = WAY_MODEL;
			bm->model = "lifecycle";
			break;
		case RULE_NAMED_CUSTOMER_STATUS:
			bm->way = WAY_MODEL;
			bm->model = "status";
			break;
		case RULE_NAMED_USER_LEVEL:
			bm->way = WAY_MODEL;
			bm->model = "level";
			break;
		case RULE_NAMED_RFM_R:
			bm->way = WAY_RFM_SCORE;
			bm->column = RFM_COLUMN_R;
			break;
		case RULE_NAMED_RFM_F:
			bm->way = WAY_RFM_SCORE;
			bm->column = RFM_COLUMN_F;
			break;
		case RULE_NAMED_RFM_M:
			bm->way = WAY_RFM_SCORE;
			bm->column = RFM_COLUMN_M;
			break;
		case RULE_NAMED_CHURN_PROBABILITY:
			bm->way = WAY_CHURN;
			bm->column = CHURN_COLUMN_PROBABILITY;
			break;
		case RULE_NAMED_P_ALIVE:
			bm->way = WAY_CHURN;
			bm->column = CHURN_COLUMN_P_ALIVE;
			break;
		case RULE_NAMED_EXPECTED_VALUE:
			bm->way = WAY_CHURN;
			bm->column = CHURN_COLUMN_EXPECTED_VALUE;
			break;
		case RULE_NAMED_NONE:
			elog(ERROR, "measure %s has no name", bm->m->text);
	}
}

/* Finds or adds the batch measure for a rule's measure */
static int
AddMeasure(Batch *b, const RuleMeasure *m, int *capacity)
{
	BatchMeasure *bm;

	for (int i = 0; i < b->nmeasures; i++)
		if (strcmp(b->measures[i].m->text, m->text) == 0)
			return i;
	if (b->nmeasures == *capacity)
	{
		*capacity *= 2;
		b->measures = repalloc(b->measures, sizeof(BatchMeasure) * *capacity);
	}
	bm = &b->measures[b->nmeasures];
	memset(bm, 0, sizeof(*bm));
	bm->m = m;
	bm->slot = -1;
	switch (m->kind)
	{
		case RULE_MEASURE_AGGREGATE:
			PlanAggregate(b, bm);
			break;
		case RULE_MEASURE_FACT:
		case RULE_MEASURE_ATTRIBUTE:
		case RULE_MEASURE_MODEL:
			PlanNamed(bm);
			break;
		case RULE_MEASURE_TAG:
			bm->way = WAY_TAG;
			break;
	}
	if (m->time_dependent && m->kind != RULE_MEASURE_AGGREGATE)
		b->daily = true;
	return b->nmeasures++;
}

/*
 * Parses the rules (pinned in the cache until RuleCacheUnpin), merges their
 * measures and lays out the slots.
 */
void
RuleBatchPlan(Batch *b, ArrayType *rules)
{
	Datum	   *texts;
	bool	   *nulls;
	int			n;
	int			capacity = 16;
	int			maxmeasures = 1;

	if (ARR_NDIM(rules) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("rules must be a one-dimensional array")));
	deconstruct_array(rules, TEXTOID, -1, false, TYPALIGN_INT, &texts, &nulls, &n);
	b->nrules = n;
	b->trees = palloc(sizeof(RuleTree *) * Max(1, n));
	b->map = palloc(sizeof(int *) * Max(1, n));
	b->measures = palloc(sizeof(BatchMeasure) * capacity);
	RuleCachePin();
	for (int r = 0; r < n; r++)
	{
		text	   *t;

		if (nulls[r])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("rule %d is null", r + 1),
					 errhint("Pass the text of every rule.")));
		t = DatumGetTextPP(texts[r]);
		b->trees[r] = RuleLookup(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		b->map[r] = palloc(sizeof(int) * Max(1, b->trees[r]->nmeasures));
		for (int i = 0; i < b->trees[r]->nmeasures; i++)
			b->map[r][i] = AddMeasure(b, &b->trees[r]->measures[i], &capacity);
		maxmeasures = Max(maxmeasures, b->trees[r]->nmeasures);
	}
	for (int i = 0; i < b->nmeasures; i++)
	{
		int			width = SlotWidth(&b->measures[i]);

		if (width > 0)
		{
			b->measures[i].slot = b->nslots;
			b->nslots += width;
		}
	}
	b->zeros = palloc0(sizeof(double) * Max(1, b->nslots));
	b->gv = palloc(sizeof(RuleValue) * Max(1, b->nmeasures));
	b->rv = palloc(sizeof(RuleValue) * maxmeasures);
}
