/*
 * rule_eval.c: evaluates a parsed rule against the measure values of one
 * customer, with SQL's three-valued logic.
 *
 * Standard C only (see rule.h).  RuleCheckValues validates the values once
 * (finite numbers, text present); RuleEval itself cannot fail and does not
 * allocate.  Recursion follows the tree, whose depth the parser bounds.
 *
 * NULL semantics, as in SQL: a comparison, IN or BETWEEN with a NULL operand
 * is UNKNOWN; NOT UNKNOWN is UNKNOWN; AND is FALSE if any argument is FALSE,
 * else UNKNOWN if any is UNKNOWN; OR is TRUE if any argument is TRUE, else
 * UNKNOWN if any is UNKNOWN; IS NULL is never UNKNOWN.  A condition used as
 * a value (has_tag('x') = false) is NULL when it is UNKNOWN.
 */
#include "rule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static RuleTruth EvalNode(const RuleTree *tree, const RuleNode *node, const RuleValue *values);

/*
 * Checks that the host's values fit the measures: numbers and durations
 * finite, text present.  Returns false with *err filled in otherwise.
 */
bool
RuleCheckValues(const RuleTree *tree, const RuleValue *values, RuleError *err)
{
	memset(err, 0, sizeof(*err));
	err->position = -1;
	for (int i = 0; i < tree->nmeasures; i++)
	{
		const RuleMeasure *m = &tree->measures[i];
		const RuleValue *v = &values[i];

		if (v->isnull)
			continue;
		if ((m->type == RULE_TYPE_NUMBER || m->type == RULE_TYPE_DURATION) && !isfinite(v->num))
		{
			memcpy(err->sqlstate, "22023", 6);
			snprintf(err->message, sizeof(err->message),
					 "value of measure %d is not a finite number", m->id);
			snprintf(err->detail, sizeof(err->detail), "The measure is %.400s.", m->text);
			return false;
		}
		if (m->type == RULE_TYPE_TEXT && v->str == NULL && v->len > 0)
		{
			memcpy(err->sqlstate, "22004", 6);
			snprintf(err->message, sizeof(err->message),
					 "value of measure %d has no text", m->id);
			snprintf(err->detail, sizeof(err->detail), "The measure is %.400s.", m->text);
			return false;
		}
	}
	return true;
}

/* A literal as a (non-null) value */
void
RuleLiteralValue(const RuleLiteral *lit, RuleValue *out)
{
	memset(out, 0, sizeof(*out));
	out->b = lit->b;
	out->num = lit->num;
	out->str = lit->str;
	out->len = lit->len;
}

/* The value of an operand node */
static void
EvalOperand(const RuleTree *tree, const RuleNode *node, const RuleValue *values, RuleValue *out)
{
	switch (node->kind)
	{
		case RULE_NODE_CONST:
			RuleLiteralValue(&node->lit, out);
			return;
		case RULE_NODE_MEASURE:
			*out = values[node->measure];
			return;
		default:
			{
				RuleTruth	t = EvalNode(tree, node, values);

				memset(out, 0, sizeof(*out));
				out->isnull = (t == RULE_UNKNOWN);
				out->b = (t == RULE_TRUE);
				return;
			}
	}
}

/* -1, 0, 1 for two non-null values of the same type (text: byte order) */
int
RuleCompareValues(RuleType type, const RuleValue *a, const RuleValue *b)
{
	switch (type)
	{
		case RULE_TYPE_BOOL:
			return (int) a->b - (int) b->b;
		case RULE_TYPE_NUMBER:
		case RULE_TYPE_DURATION:
			return a->num < b->num ? -1 : (a->num > b->num ? 1 : 0);
		case RULE_TYPE_TEXT:
			{
				size_t		n = a->len < b->len ? a->len : b->len;
				int			c = n > 0 ? memcmp(a->str, b->str, n) : 0;

				if (c != 0)
					return c < 0 ? -1 : 1;
				return a->len < b->len ? -1 : (a->len > b->len ? 1 : 0);
			}
	}
	return 0;
}

static bool
ApplyOp(RuleOp op, int c)
{
	switch (op)
	{
		case RULE_OP_EQ:
			return c == 0;
		case RULE_OP_NE:
			return c != 0;
		case RULE_OP_LT:
			return c < 0;
		case RULE_OP_LE:
			return c <= 0;
		case RULE_OP_GT:
			return c > 0;
		case RULE_OP_GE:
			return c >= 0;
		default:
			return false;
	}
}

static RuleTruth
Truth(bool b)
{
	return b ? RULE_TRUE : RULE_FALSE;
}

/* The truth of a condition node */
static RuleTruth
EvalNode(const RuleTree *tree, const RuleNode *node, const RuleValue *values)
{
	RuleValue	a;
	RuleValue	b;
	RuleValue	c;

	switch (node->kind)
	{
		case RULE_NODE_CONST:
		case RULE_NODE_MEASURE:
			/* a boolean operand used as a condition */
			EvalOperand(tree, node, values, &a);
			return a.isnull ? RULE_UNKNOWN : Truth(a.b);
		case RULE_NODE_AND:
			{
				bool		unknown = false;

				for (int i = 0; i < node->nargs; i++)
				{
					RuleTruth	t = EvalNode(tree, node->args[i], values);

					if (t == RULE_FALSE)
						return RULE_FALSE;
					if (t == RULE_UNKNOWN)
						unknown = true;
				}
				return unknown ? RULE_UNKNOWN : RULE_TRUE;
			}
		case RULE_NODE_OR:
			{
				bool		unknown = false;

				for (int i = 0; i < node->nargs; i++)
				{
					RuleTruth	t = EvalNode(tree, node->args[i], values);

					if (t == RULE_TRUE)
						return RULE_TRUE;
					if (t == RULE_UNKNOWN)
						unknown = true;
				}
				return unknown ? RULE_UNKNOWN : RULE_FALSE;
			}
		case RULE_NODE_NOT:
			{
				RuleTruth	t = EvalNode(tree, node->args[0], values);

				return t == RULE_UNKNOWN ? RULE_UNKNOWN : Truth(t == RULE_FALSE);
			}
		case RULE_NODE_CMP:
			EvalOperand(tree, node->args[0], values, &a);
			EvalOperand(tree, node->args[1], values, &b);
			if (a.isnull || b.isnull)
				return RULE_UNKNOWN;
			return Truth(ApplyOp(node->op, RuleCompareValues(node->args[0]->type, &a, &b)));
		case RULE_NODE_IN:
			EvalOperand(tree, node->args[0], values, &a);
			if (a.isnull)
				return RULE_UNKNOWN;
			for (int i = 0; i < node->nlist; i++)
			{
				RuleLiteralValue(&node->list[i], &b);
				if (RuleCompareValues(node->args[0]->type, &a, &b) == 0)
					return RULE_TRUE;
			}
			return RULE_FALSE;
		case RULE_NODE_BETWEEN:
			{
				RuleTruth	lo;
				RuleTruth	hi;
				RuleType	type = node->args[0]->type;

				/* x BETWEEN lo AND hi is x >= lo AND x <= hi */
				EvalOperand(tree, node->args[0], values, &a);
				EvalOperand(tree, node->args[1], values, &b);
				EvalOperand(tree, node->args[2], values, &c);
				lo = (a.isnull || b.isnull) ? RULE_UNKNOWN : Truth(RuleCompareValues(type, &a, &b) >= 0);
				hi = (a.isnull || c.isnull) ? RULE_UNKNOWN : Truth(RuleCompareValues(type, &a, &c) <= 0);
				if (lo == RULE_FALSE || hi == RULE_FALSE)
					return RULE_FALSE;
				if (lo == RULE_UNKNOWN || hi == RULE_UNKNOWN)
					return RULE_UNKNOWN;
				return RULE_TRUE;
			}
		case RULE_NODE_IS_NULL:
			EvalOperand(tree, node->args[0], values, &a);
			return Truth(a.isnull);
	}
	return RULE_UNKNOWN;
}

/*
 * Evaluates the rule.  values[i] is the value of measure id i + 1 and must
 * have passed RuleCheckValues.
 */
RuleTruth
RuleEval(const RuleTree *tree, const RuleValue *values)
{
	return EvalNode(tree, tree->root, values);
}
