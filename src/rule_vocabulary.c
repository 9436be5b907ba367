/*
 * rule_vocabulary.c: the words of the rule language, in one table, and the
 * names of the language's enums.
 *
 * Every name a rule may use for a measure, a function or a field of the
 * rows of orders and events is a RuleWord here.  The parser resolves names
 * in this table and builds its hints from it (rule_check.c), the batch
 * evaluator maps each named measure and field to where tagscrm reads it
 * (rule_batch_plan.c, rule_batch_filter.c: switches without a default, so
 * the compiler checks them for completeness),
 * and tagscrm.rule_vocabulary() shows it; so a word is added or removed in
 * one place.  Only words tagscrm can supply belong here: a rule naming
 * anything else is refused when it is written.
 *
 * Standard C only (see rule.h).
 */
#include "rule_parse.h"

#include <stdio.h>
#include <string.h>

/*
 * The order of the table is the order of the hints and of
 * tagscrm.rule_vocabulary().
 */
static const RuleWord words[] = {
	/* facts kept per customer by the host */
	{"order_count", RULE_WORD_FACT, RULE_TYPE_NUMBER, .named = RULE_NAMED_ORDER_COUNT,
	.description = "Number of orders of the customer."},
	{"total_paid", RULE_WORD_FACT, RULE_TYPE_NUMBER, .named = RULE_NAMED_TOTAL_PAID,
	.description = "Sum of the amounts of all orders of the customer, 0 without orders."},
	{"avg_order_value", RULE_WORD_FACT, RULE_TYPE_NUMBER, .named = RULE_NAMED_AVG_ORDER_VALUE,
	.description = "total_paid / order_count; null without orders."},
	{"max_order_amount", RULE_WORD_FACT, RULE_TYPE_NUMBER, .named = RULE_NAMED_MAX_ORDER_AMOUNT,
	.description = "Largest amount of an order of the customer; null without orders."},
	{"event_count", RULE_WORD_FACT, RULE_TYPE_NUMBER, .named = RULE_NAMED_EVENT_COUNT,
	.description = "Number of events of the customer."},
	{"active_days", RULE_WORD_FACT, RULE_TYPE_NUMBER, .named = RULE_NAMED_ACTIVE_DAYS,
	.description = "Number of calendar days (in settings.time_zone) with an order or an event."},
	{"days_since_first_order", RULE_WORD_FACT, RULE_TYPE_NUMBER, .time_dependent = true,
		.named = RULE_NAMED_DAYS_SINCE_FIRST_ORDER,
	.description = "Days, with fractions, since the first order; null without orders."},
	{"days_since_last_order", RULE_WORD_FACT, RULE_TYPE_NUMBER, .time_dependent = true,
		.named = RULE_NAMED_DAYS_SINCE_LAST_ORDER,
	.description = "Days, with fractions, since the last order; null without orders."},
	{"days_since_last_event", RULE_WORD_FACT, RULE_TYPE_NUMBER, .time_dependent = true,
		.named = RULE_NAMED_DAYS_SINCE_LAST_EVENT,
	.description = "Days, with fractions, since the last event; null without events."},
	/* customer attributes */
	{"city", RULE_WORD_ATTRIBUTE, RULE_TYPE_TEXT, .named = RULE_NAMED_CITY,
	.description = "The attribute column city of the watched customer table."},
	{"province", RULE_WORD_ATTRIBUTE, RULE_TYPE_TEXT, .named = RULE_NAMED_PROVINCE,
	.description = "The attribute column province of the watched customer table."},
	{"country", RULE_WORD_ATTRIBUTE, RULE_TYPE_TEXT, .named = RULE_NAMED_COUNTRY,
	.description = "The attribute column country of the watched customer table."},
	{"gender", RULE_WORD_ATTRIBUTE, RULE_TYPE_TEXT, .named = RULE_NAMED_GENDER,
	.description = "The attribute column gender of the watched customer table."},
	{"channel", RULE_WORD_ATTRIBUTE, RULE_TYPE_TEXT, .named = RULE_NAMED_CHANNEL,
	.description = "The attribute column channel of the watched customer table."},
	{"birth_year", RULE_WORD_ATTRIBUTE, RULE_TYPE_NUMBER, .named = RULE_NAMED_BIRTH_YEAR,
	.description = "Year of the birth date column of the watched customer table."},
	{"age", RULE_WORD_ATTRIBUTE, RULE_TYPE_NUMBER, .time_dependent = true, .named = RULE_NAMED_AGE,
	.description = "Age in whole years from the birth date, on today's date in settings.time_zone."},
	{"days_since_registration", RULE_WORD_ATTRIBUTE, RULE_TYPE_NUMBER, .time_dependent = true,
		.named = RULE_NAMED_DAYS_SINCE_REGISTRATION,
	.description = "Days, with fractions, since tagscrm first saw the customer."},
	/* model outputs */
	{"rfm_segment", RULE_WORD_MODEL, RULE_TYPE_TEXT, .named = RULE_NAMED_RFM_SEGMENT,
	.description = "The RFM segment tag the customer holds, as in important_value."},
	{"rfm_r", RULE_WORD_MODEL, RULE_TYPE_NUMBER, .named = RULE_NAMED_RFM_R,
	.description = "Recency score, 1 to 5, against the stored RFM breakpoints."},
	{"rfm_f", RULE_WORD_MODEL, RULE_TYPE_NUMBER, .named = RULE_NAMED_RFM_F,
	.description = "Frequency score, 1 to 5, against the stored RFM breakpoints."},
	{"rfm_m", RULE_WORD_MODEL, RULE_TYPE_NUMBER, .named = RULE_NAMED_RFM_M,
	.description = "Monetary score, 1 to 5, against the stored RFM breakpoints."},
	{"lifecycle_stage", RULE_WORD_MODEL, RULE_TYPE_TEXT, .named = RULE_NAMED_LIFECYCLE_STAGE,
	.description = "The lifecycle tag the customer holds: new, first_purchase, repeat or super."},
	{"customer_status", RULE_WORD_MODEL, RULE_TYPE_TEXT, .named = RULE_NAMED_CUSTOMER_STATUS,
	.description = "The status tag the customer holds: active, silent or lost."},
	{"user_level", RULE_WORD_MODEL, RULE_TYPE_NUMBER, .named = RULE_NAMED_USER_LEVEL,
	.description = "The user level tag the customer holds, 1 to 5."},
	{"churn_probability", RULE_WORD_MODEL, RULE_TYPE_NUMBER, .named = RULE_NAMED_CHURN_PROBABILITY,
	.description = "1 - p_alive under the churn model named in settings.churn_model."},
	{"p_alive", RULE_WORD_MODEL, RULE_TYPE_NUMBER, .named = RULE_NAMED_P_ALIVE,
	.description = "BG/NBD probability that the customer is still active."},
	{"expected_value", RULE_WORD_MODEL, RULE_TYPE_NUMBER, .named = RULE_NAMED_EXPECTED_VALUE,
	.description = "Gamma-Gamma expected amount of the customer's next order."},
	/* functions */
	{"count", RULE_WORD_AGGREGATE, RULE_TYPE_NUMBER, .func = RULE_AGG_COUNT,
	.description = "count(order ...) or count(event ...): the rows that match, 0 when none."},
	{"sum", RULE_WORD_AGGREGATE, .type_of_field = true, .func = RULE_AGG_SUM,
	.description = "sum(order.amount ...) or sum(event.duration ...); null when no row matches."},
	{"min", RULE_WORD_AGGREGATE, .type_of_field = true, .func = RULE_AGG_MIN,
	.description = "min(order.amount ...) or min(event.duration ...); null when no row matches."},
	{"max", RULE_WORD_AGGREGATE, .type_of_field = true, .func = RULE_AGG_MAX,
	.description = "max(order.amount ...) or max(event.duration ...); null when no row matches."},
	{"avg", RULE_WORD_AGGREGATE, .type_of_field = true, .func = RULE_AGG_AVG,
	.description = "avg(order.amount ...) or avg(event.duration ...); null when no row matches."},
	{"exists", RULE_WORD_AGGREGATE, RULE_TYPE_BOOL, .func = RULE_AGG_EXISTS,
	.description = "exists(order ...) or exists(event ...): whether a row matches."},
	{"has_event", RULE_WORD_AGGREGATE, RULE_TYPE_BOOL, .func = RULE_AGG_EXISTS, .takes_string = true,
	.description = "has_event('kind'): exists(event 'kind')."},
	{"has_tag", RULE_WORD_TAG, RULE_TYPE_BOOL,
	.description = "has_tag('name'): whether the customer holds the tag, named case-insensitively or by an alias."},
	/*
	 * fields of the rows: what tagscrm reads from the watched tables
	 * (watch_orders: customer, time, amount; watch_events: customer, time,
	 * kind, object, duration), rule_batch_read.c
	 */
	{"amount", RULE_WORD_ORDER_FIELD, RULE_TYPE_NUMBER, .field = RULE_FIELD_AMOUNT,
	.description = "The amount column of the watched orders table."},
	{"kind", RULE_WORD_EVENT_FIELD, RULE_TYPE_TEXT, .field = RULE_FIELD_KIND,
	.description = "The kind column of the watched events table; count(event 'view') filters on it."},
	{"object", RULE_WORD_EVENT_FIELD, RULE_TYPE_TEXT, .field = RULE_FIELD_OBJECT,
	.description = "The optional object column of the watched events table; null when not watched."},
	{"duration", RULE_WORD_EVENT_FIELD, RULE_TYPE_DURATION, .field = RULE_FIELD_DURATION,
	.description = "The optional duration column (seconds) of the watched events table; null when not watched."},
};

#define NWORDS ((int) (sizeof(words) / sizeof(words[0])))

/* The whole table */
const RuleWord *
RuleVocabulary(int *nwords)
{
	*nwords = NWORDS;
	return words;
}

/* The word of a field; NULL for RULE_FIELD_NONE */
const RuleWord *
RuleFieldWord(RuleField field)
{
	for (int i = 0; i < NWORDS; i++)
		if ((words[i].kind == RULE_WORD_ORDER_FIELD || words[i].kind == RULE_WORD_EVENT_FIELD) &&
			words[i].field == field)
			return &words[i];
	return NULL;
}

const char *
RuleFieldName(RuleField field)
{
	const RuleWord *word = RuleFieldWord(field);

	return word != NULL ? word->name : "?";
}

/* The function's own word: exists, not has_event */
const char *
RuleAggFuncName(RuleAggFunc func)
{
	for (int i = 0; i < NWORDS; i++)
		if (words[i].kind == RULE_WORD_AGGREGATE && !words[i].takes_string && words[i].func == func)
			return words[i].name;
	return "?";
}

/* How many words keep accepts */
int
RuleCountWords(bool (*keep) (const RuleWord *word, const void *arg), const void *arg)
{
	int			n = 0;

	for (int i = 0; i < NWORDS; i++)
		if (keep(&words[i], arg))
			n++;
	return n;
}

/* Appends s to the text of *used bytes in buf, cut to fit size */
static void
Append(char *buf, size_t size, size_t *used, const char *s)
{
	if (*used < size)
		*used += snprintf(buf + *used, size - *used, "%s", s);
}

/*
 * Appends to the text in buf, cut to fit size, the names of the words keep
 * accepts as "a, b and c" (last joins the last two; qualified: as in
 * order.amount), then after.
 */
void
RuleJoinWords(char *buf, size_t size, bool (*keep) (const RuleWord *word, const void *arg),
			  const void *arg, bool qualified, const char *last, const char *after)
{
	int			total = RuleCountWords(keep, arg);
	int			n = 0;
	size_t		used = strlen(buf);

	for (int i = 0; i < NWORDS; i++)
	{
		const RuleWord *w = &words[i];

		if (!keep(w, arg))
			continue;
		Append(buf, size, &used, n == 0 ? "" : (n == total - 1 ? last : ", "));
		if (qualified)
			Append(buf, size, &used, w->kind == RULE_WORD_ORDER_FIELD ? "order." : "event.");
		Append(buf, size, &used, w->name);
		n++;
	}
	Append(buf, size, &used, after);
}

const char *
RuleWordKindName(RuleWordKind kind)
{
	switch (kind)
	{
		case RULE_WORD_FACT:
			return "fact";
		case RULE_WORD_ATTRIBUTE:
			return "attribute";
		case RULE_WORD_MODEL:
			return "model";
		case RULE_WORD_AGGREGATE:
			return "aggregate";
		case RULE_WORD_TAG:
			return "tag";
		case RULE_WORD_ORDER_FIELD:
			return "order field";
		case RULE_WORD_EVENT_FIELD:
			return "event field";
	}
	return "?";
}

const char *
RuleTypeName(RuleType type)
{
	switch (type)
	{
		case RULE_TYPE_BOOL:
			return "boolean";
		case RULE_TYPE_NUMBER:
			return "number";
		case RULE_TYPE_TEXT:
			return "text";
		case RULE_TYPE_DURATION:
			return "duration";
	}
	return "?";
}

const char *
RuleOpName(RuleOp op)
{
	switch (op)
	{
		case RULE_OP_EQ:
			return "=";
		case RULE_OP_NE:
			return "<>";
		case RULE_OP_LT:
			return "<";
		case RULE_OP_LE:
			return "<=";
		case RULE_OP_GT:
			return ">";
		case RULE_OP_GE:
			return ">=";
		case RULE_OP_IN:
			return "in";
		case RULE_OP_NOT_IN:
			return "not in";
	}
	return "?";
}

const char *
RuleMeasureKindName(RuleMeasureKind kind)
{
	switch (kind)
	{
		case RULE_MEASURE_AGGREGATE:
			return "aggregate";
		case RULE_MEASURE_FACT:
			return "fact";
		case RULE_MEASURE_ATTRIBUTE:
			return "attribute";
		case RULE_MEASURE_MODEL:
			return "model";
		case RULE_MEASURE_TAG:
			return "tag";
	}
	return "?";
}

const char *
RuleSourceName(RuleSource source)
{
	return source == RULE_SOURCE_ORDER ? "order" : "event";
}

const char *
RuleNodeKindName(RuleNodeKind kind)
{
	switch (kind)
	{
		case RULE_NODE_CONST:
			return "value";
		case RULE_NODE_MEASURE:
			return "measure";
		case RULE_NODE_AND:
			return "and";
		case RULE_NODE_OR:
			return "or";
		case RULE_NODE_NOT:
			return "not";
		case RULE_NODE_CMP:
			return "compare";
		case RULE_NODE_IN:
			return "in";
		case RULE_NODE_BETWEEN:
			return "between";
		case RULE_NODE_IS_NULL:
			return "is null";
	}
	return "?";
}
