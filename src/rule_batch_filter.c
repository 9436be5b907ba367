/*
 * rule_batch_filter.c: which rows of orders and events a measure counts, and
 * how they add up.  Each row read is tested against the filters of every
 * aggregate over its source; a row that passes counts if it is in the
 * window, and in any case says when time alone will move it into or out of
 * the window (the customer's next change).  Slots are plain doubles: a
 * count, a compensated sum with its count, or an extreme with its count.
 */
#include "rule_batch.h"

#include <math.h>

/* Does a text value pass a filter on a text field? */
static bool
TextPasses(const RuleFilter *f, const char *s, int len)
{
	bool		in = false;

	for (int i = 0; i < f->nvalues && !in; i++)
		in = (f->values[i].len == (size_t) len && memcmp(f->values[i].str, s, len) == 0);
	switch (f->op)
	{
		case RULE_OP_EQ:
		case RULE_OP_IN:
			return in;
		case RULE_OP_NE:
		case RULE_OP_NOT_IN:
			return !in;
		default:
			return false;		/* the parser allows no other operator on text */
	}
}

/* Does a number or duration pass a filter on such a field? */
static bool
NumberPasses(const RuleFilter *f, double v)
{
	double		w = f->values[0].num;

	switch (f->op)
	{
		case RULE_OP_EQ:
			return v == w;
		case RULE_OP_NE:
			return v != w;
		case RULE_OP_LT:
			return v < w;
		case RULE_OP_LE:
			return v <= w;
		case RULE_OP_GT:
			return v > w;
		case RULE_OP_GE:
			return v >= w;
		case RULE_OP_IN:
		case RULE_OP_NOT_IN:
			{
				bool		in = false;

				for (int i = 0; i < f->nvalues && !in; i++)
					in = (v == f->values[i].num);
				return f->op == RULE_OP_IN ? in : !in;
			}
	}
	return false;
}

/* Do all filters hold for a row?  A NULL field makes its filter fail (unknown). */
bool
RuleBatchRowPasses(const BatchMeasure *bm, const BatchRow *row)
{
	for (int i = 0; i < bm->nfilters; i++)
	{
		const RuleFilter *f = &bm->filters[i];

		switch (f->field)
		{
			case RULE_FIELD_KIND:
				if (row->kind_len < 0 || !TextPasses(f, row->kind, row->kind_len))
					return false;
				break;
			case RULE_FIELD_OBJECT:
				if (row->object_len < 0 || !TextPasses(f, row->object, row->object_len))
					return false;
				break;
			case RULE_FIELD_AMOUNT:
			case RULE_FIELD_DURATION:
				if (row->num_null || !NumberPasses(f, row->num))
					return false;
				break;
			case RULE_FIELD_NONE:
				elog(ERROR, "filter without a field");
		}
	}
	return true;
}

/*
 * Adds one row that passed the filters to a customer's aggregate, if it is
 * in the window; notes when time alone will move it in or out.
 */
void
RuleBatchAccumulate(const BatchMeasure *bm, CustEntry *e, const BatchRow *row, TimestampTz now)
{
	double	   *s = e->slots + bm->slot;

	if (bm->windowed)
	{
		TimestampTz enter = row->at + bm->to_us;
		TimestampTz leave = row->at + bm->from_us;

		/* when time alone may change it: the row enters or leaves the window */
		if (enter > now && enter < e->next)
			e->next = enter;
		if (leave > now && leave < e->next)
			e->next = leave;
		if (!(bm->lo < row->at && row->at <= bm->hi))
			return;
	}
	switch (bm->func)
	{
		case RULE_AGG_COUNT:
		case RULE_AGG_EXISTS:
			s[0] += 1;
			break;
		case RULE_AGG_SUM:
		case RULE_AGG_AVG:
			if (!row->num_null)
			{
				/* Neumaier's compensated sum: order amounts add up exactly */
				double		t = s[0] + row->num;

				if (fabs(s[0]) >= fabs(row->num))
					s[1] += (s[0] - t) + row->num;
				else
					s[1] += (row->num - t) + s[0];
				s[0] = t;
				s[2] += 1;
			}
			break;
		case RULE_AGG_MIN:
		case RULE_AGG_MAX:
			if (!row->num_null)
			{
				if (s[1] == 0 ||
					(bm->func == RULE_AGG_MIN ? row->num < s[0] : row->num > s[0]))
					s[0] = row->num;
				s[1] += 1;
			}
			break;
	}
}
