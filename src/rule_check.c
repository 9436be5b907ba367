/*
 * rule_check.c: names and types.  The parser asks here whether a name it
 * read is a word of the vocabulary (rule_vocabulary.c), and whether the
 * operands it combines have types that fit; a refusal carries the SQLSTATE,
 * the byte position and a hint.  Hints that list names are built from the
 * vocabulary, so they always say what a rule may really use.
 *
 * Standard C only (see rule.h).
 */
#include "rule_parse.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------ */

/* Which words a lookup or a list takes */
typedef struct WordSet
{
	RuleWordKind kinds[3];
	int			nkinds;
	bool		ordered_only;	/* numbers and durations */
} WordSet;

static bool
IsOrdered(RuleType t)
{
	return t == RULE_TYPE_NUMBER || t == RULE_TYPE_DURATION;
}

static bool
InSet(const RuleWord *word, const void *arg)
{
	const WordSet *set = arg;

	if (set->ordered_only && !IsOrdered(word->type))
		return false;
	for (int i = 0; i < set->nkinds; i++)
		if (word->kind == set->kinds[i])
			return true;
	return false;
}

static const WordSet measures = {{RULE_WORD_FACT, RULE_WORD_ATTRIBUTE, RULE_WORD_MODEL}, 3, false};
static const WordSet functions = {{RULE_WORD_AGGREGATE, RULE_WORD_TAG}, 2, false};
static const WordSet order_fields = {{RULE_WORD_ORDER_FIELD}, 1, false};
static const WordSet event_fields = {{RULE_WORD_EVENT_FIELD}, 1, false};

/* The word of the set spelled s (case-insensitively), or NULL */
static const RuleWord *
FindWord(const WordSet *set, const char *s, size_t len)
{
	int			n;
	const RuleWord *words = RuleVocabulary(&n);
	char		first;

	if (len == 0)
		return NULL;
	/* names are lower case; testing the first letter first keeps this cheap */
	first = (s[0] >= 'A' && s[0] <= 'Z') ? (char) (s[0] - 'A' + 'a') : s[0];
	for (int i = 0; i < n; i++)
		if (words[i].name[0] == first && RuleSpanIs(s, len, words[i].name) && InSet(&words[i], set))
			return &words[i];
	return NULL;
}

/* Appends the names of one kind of words, as "a, b, c", then after */
static void
KindList(char *buf, size_t size, RuleWordKind kind, const char *after)
{
	WordSet		set = {{kind}, 1, false};

	RuleJoinWords(buf, size, InSet, &set, false, ", ", after);
}

/* A function name: an aggregate, has_event or has_tag (42883 otherwise) */
const RuleWord *
RuleResolveFunction(Parser *p, size_t position, const char *s, size_t len)
{
	const RuleWord *word = FindWord(&functions, s, len);
	char		hint[sizeof(p->err->hint)];

	if (word != NULL || p->failed)
		return word;
	snprintf(hint, sizeof(hint), "The functions are ");
	RuleJoinWords(hint, sizeof(hint), InSet, &functions, false, " and ", ".");
	RuleFail(p, "42883", (long) position, NULL, hint,
			 "function \"%.*s\" does not exist", RuleQuoteLength(s, len), s);
	return NULL;
}

/* A measure name: a fact, an attribute or a model (42703 otherwise) */
const RuleWord *
RuleResolveMeasure(Parser *p, size_t position, const char *s, size_t len)
{
	const RuleWord *word = FindWord(&measures, s, len);
	char		hint[sizeof(p->err->hint)];

	if (word != NULL || p->failed)
		return word;
	snprintf(hint, sizeof(hint), "Facts: ");
	KindList(hint, sizeof(hint), RULE_WORD_FACT, ". Attributes: ");
	KindList(hint, sizeof(hint), RULE_WORD_ATTRIBUTE, ". Models: ");
	KindList(hint, sizeof(hint), RULE_WORD_MODEL, ".");
	RuleFail(p, "42703", (long) position, NULL, hint,
			 "unknown measure \"%.*s\"", RuleQuoteLength(s, len), s);
	return NULL;
}

/*
 * The field of source named by the current token (42703 otherwise, with
 * the fields that source has).
 */
const RuleWord *
RuleResolveField(Parser *p, RuleSource source)
{
	const WordSet *set = source == RULE_SOURCE_ORDER ? &order_fields : &event_fields;
	const RuleWord *word;
	char		hint[sizeof(p->err->hint)];

	if (p->tok.type != TK_IDENT)
	{
		RuleSyntaxError(p, "a field name");
		return NULL;
	}
	word = FindWord(set, p->src + p->tok.start, p->tok.len);
	if (word != NULL || p->failed)
		return word;
	snprintf(hint, sizeof(hint), "%s have the field%s ",
			 source == RULE_SOURCE_ORDER ? "Orders" : "Events", RuleCountWords(InSet, set) == 1 ? "" : "s");
	RuleJoinWords(hint, sizeof(hint), InSet, set, false, " and ", ".");
	RuleFail(p, "42703", (long) p->tok.start, NULL, hint,
			 "%s has no field \"%.*s\"", RuleSourceName(source),
			 RuleQuoteLength(p->src + p->tok.start, p->tok.len), p->src + p->tok.start);
	return NULL;
}

/*
 * Syntax error where sum, min, max or avg needs its field: expects the
 * number and duration fields of the source, or of both sources.
 */
void
RuleExpectNumberField(Parser *p, bool any_source, RuleSource source)
{
	WordSet		set = {{RULE_WORD_ORDER_FIELD, RULE_WORD_EVENT_FIELD}, 2, true};
	char		list[256] = "";

	if (!any_source)
	{
		set.kinds[0] = source == RULE_SOURCE_ORDER ? RULE_WORD_ORDER_FIELD : RULE_WORD_EVENT_FIELD;
		set.nkinds = 1;
	}
	RuleJoinWords(list, sizeof(list), InSet, &set, true, " or ", "");
	RuleSyntaxError(p, list);
}

/* ------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------ */

static void
TypeMismatch(Parser *p, size_t position, RuleType a, RuleType b)
{
	RuleFail(p, "42804", (long) position,
			 (a == RULE_TYPE_DURATION || b == RULE_TYPE_DURATION) ?
			 "A duration is compared with durations only, written with a unit as in 30 s or 14 days." : NULL,
			 NULL, "cannot compare %s with %s", RuleTypeName(a), RuleTypeName(b));
}

/* An IN list item or a BETWEEN bound has the type of the operand */
bool
RuleCheckSameType(Parser *p, size_t position, RuleType want, RuleType got)
{
	if (want != got)
	{
		TypeMismatch(p, position, want, got);
		return false;
	}
	return true;
}

/* left op right: same types, and an order for <, <=, >, >= */
bool
RuleCheckCompare(Parser *p, size_t position, RuleOp op, RuleType left, RuleType right)
{
	if (!RuleCheckSameType(p, position, left, right))
		return false;
	if (!IsOrdered(left) && op != RULE_OP_EQ && op != RULE_OP_NE)
	{
		RuleFail(p, "42883", (long) position,
				 "Only numbers and durations are ordered; text and conditions are compared with = and <>.",
				 NULL, "operator %s is not defined for %s", RuleOpName(op), RuleTypeName(left));
		return false;
	}
	return true;
}

/* BETWEEN needs an order */
bool
RuleCheckBetween(Parser *p, size_t position, RuleType type)
{
	if (!IsOrdered(type))
	{
		RuleFail(p, "42883", (long) position, "Only numbers and durations are ordered.", NULL,
				 "BETWEEN is not defined for %s", RuleTypeName(type));
		return false;
	}
	return true;
}

/* The argument of NOT, AND or OR (where) is a condition */
bool
RuleCheckCondition(Parser *p, const RuleNode *node, const char *where)
{
	if (node == NULL || p->failed)
		return false;
	if (node->type != RULE_TYPE_BOOL)
	{
		RuleFail(p, "42804", node->position, NULL,
				 "Compare the value with something, as in total_paid >= 5000.",
				 "argument of %s must be a condition, not %s", where, RuleTypeName(node->type));
		return false;
	}
	return true;
}

/* The whole rule is a condition */
bool
RuleCheckRule(Parser *p, const RuleNode *root)
{
	if (root->type != RULE_TYPE_BOOL)
	{
		RuleFail(p, "42804", root->position, NULL,
				 "Compare the value with something, as in total_paid >= 5000.",
				 "rule must be a condition, not %s", RuleTypeName(root->type));
		return false;
	}
	return true;
}

/* A filter's values have the field's type; text takes only =, <>, IN, NOT IN */
bool
RuleCheckFilter(Parser *p, size_t position, const RuleFilter *f)
{
	for (int i = 0; i < f->nvalues; i++)
	{
		if (f->values[i].type != f->type)
		{
			RuleFail(p, "42804", (long) position,
					 f->type == RULE_TYPE_DURATION ? "Write a duration with a unit, as in 30 s." : NULL, NULL,
					 "field \"%s\" is %s but is compared with %s", RuleFieldName(f->field),
					 RuleTypeName(f->type), RuleTypeName(f->values[i].type));
			return false;
		}
	}
	if ((f->type == RULE_TYPE_TEXT || f->type == RULE_TYPE_BOOL) &&
		f->op != RULE_OP_EQ && f->op != RULE_OP_NE && f->op != RULE_OP_IN && f->op != RULE_OP_NOT_IN)
	{
		RuleFail(p, "42883", (long) position, "Text can only be compared with =, <>, IN and NOT IN.", NULL,
				 "operator %s is not defined for %s", RuleOpName(f->op), RuleTypeName(f->type));
		return false;
	}
	return true;
}

/*
 * The field of an aggregate (func(source.field ...)): count and exists take
 * none, the others a number or a duration.
 */
bool
RuleCheckAggregateField(Parser *p, size_t position, const RuleMeasure *m, const RuleWord *field)
{
	WordSet		set = {{RULE_WORD_ORDER_FIELD, RULE_WORD_EVENT_FIELD}, 2, true};
	char		hint[sizeof(p->err->hint)];

	if (m->func == RULE_AGG_COUNT || m->func == RULE_AGG_EXISTS)
	{
		RuleFail(p, "42804", (long) position, NULL, "Write count(event ...) or exists(order ...).",
				 "%s counts rows and takes no field", m->name);
		return false;
	}
	if (!IsOrdered(field->type))
	{
		snprintf(hint, sizeof(hint), "Use ");
		RuleJoinWords(hint, sizeof(hint), InSet, &set, false, " or ", ".");
		RuleFail(p, "42804", (long) position, NULL, hint,
				 "%s needs a number or duration field, and \"%s\" is %s",
				 m->name, field->name, RuleTypeName(field->type));
		return false;
	}
	return true;
}
