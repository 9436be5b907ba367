/*
 * rule_print.c: the canonical text of a rule and of its measures.  The
 * canonical text is fully parenthesized, with keywords in lower case,
 * filters and lists in a canonical order and durations in their largest
 * whole unit; it parses back to itself (the fuzz harness checks), and the
 * text of a measure is its identity (rule_measure.c).
 *
 * Standard C only (see rule.h).  Texts live in the arena; when it runs out,
 * b->data becomes NULL and the parser's error is set.
 */
#include "rule_parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An empty text */
void
RuleBufInit(Buf *b, Parser *p)
{
	b->p = p;
	b->len = 0;
	b->cap = 64;
	b->data = RuleAlloc(p, b->cap);
}

/* Appends n bytes, doubling the buffer as needed */
static void
BufAppend(Buf *b, const char *s, size_t n)
{
	if (b->data == NULL || b->p->failed)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap;
		char	   *data;

		while (b->len + n + 1 > cap)
			cap *= 2;
		data = RuleAlloc(b->p, cap);
		if (data == NULL)
		{
			b->data = NULL;
			return;
		}
		memcpy(data, b->data, b->len);
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Appends a NUL-terminated string */
void
RuleBufPuts(Buf *b, const char *s)
{
	BufAppend(b, s, strlen(s));
}

/* Shortest %g form that reads back as the same double */
static void
BufNumber(Buf *b, double v)
{
	char		tmp[64];

	for (int prec = 15; prec <= 17; prec++)
	{
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	RuleBufPuts(b, tmp);
}

/* A duration in its largest whole unit (days, hours, min), else in seconds */
static void
BufDuration(Buf *b, double secs)
{
	static const struct
	{
		double		seconds;
		const char *one;
		const char *many;
	}			units[] = {
		{86400, "day", "days"}, {3600, "hour", "hours"}, {60, "min", "min"}
	};

	if (secs == floor(secs) && secs < 9.0e15)
	{
		for (int i = 0; i < (int) (sizeof(units) / sizeof(units[0])); i++)
		{
			if (secs > 0 && fmod(secs, units[i].seconds) == 0)
			{
				double		k = secs / units[i].seconds;

				BufNumber(b, k);
				RuleBufPuts(b, " ");
				RuleBufPuts(b, k == 1 ? units[i].one : units[i].many);
				return;
			}
		}
	}
	BufNumber(b, secs);
	RuleBufPuts(b, " s");
}

/* A literal as the lexer reads it back: strings quoted, quotes doubled */
void
RuleBufLiteral(Buf *b, const RuleLiteral *lit)
{
	switch (lit->type)
	{
		case RULE_TYPE_BOOL:
			RuleBufPuts(b, lit->b ? "true" : "false");
			break;
		case RULE_TYPE_NUMBER:
			BufNumber(b, lit->num);
			break;
		case RULE_TYPE_DURATION:
			BufDuration(b, lit->num);
			break;
		case RULE_TYPE_TEXT:
			{
				size_t		start = 0;

				RuleBufPuts(b, "'");
				for (size_t i = 0; i < lit->len; i++)
				{
					if (lit->str[i] == '\'')
					{
						BufAppend(b, lit->str + start, i + 1 - start);
						RuleBufPuts(b, "'");
						start = i + 1;
					}
				}
				BufAppend(b, lit->str + start, lit->len - start);
				RuleBufPuts(b, "'");
				break;
			}
	}
}

/* (value, value, ...) */
static void
BufList(Buf *b, const RuleLiteral *values, int n)
{
	RuleBufPuts(b, "(");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			RuleBufPuts(b, ", ");
		RuleBufLiteral(b, &values[i]);
	}
	RuleBufPuts(b, ")");
}

/* field op value, or field [not] in (values) */
static void
BufFilter(Buf *b, const RuleFilter *f)
{
	RuleBufPuts(b, RuleFieldName(f->field));
	RuleBufPuts(b, " ");
	RuleBufPuts(b, RuleOpName(f->op));
	RuleBufPuts(b, " ");
	if (f->op == RULE_OP_IN || f->op == RULE_OP_NOT_IN)
		BufList(b, f->values, f->nvalues);
	else
		RuleBufLiteral(b, &f->values[0]);
}

/* Canonical text of an aggregate measure (its identity) */
const char *
RuleAggregateText(Parser *p, const RuleMeasure *m)
{
	Buf			b;
	int			shorthand = -1;
	bool		first = true;

	RuleBufInit(&b, p);
	RuleBufPuts(&b, RuleAggFuncName(m->func));
	RuleBufPuts(&b, "(");
	RuleBufPuts(&b, RuleSourceName(m->source));
	if (m->field != RULE_FIELD_NONE)
	{
		RuleBufPuts(&b, ".");
		RuleBufPuts(&b, RuleFieldName(m->field));
	}
	for (int i = 0; i < m->nfilters; i++)
		if (m->filters[i].field == RULE_FIELD_KIND && m->filters[i].op == RULE_OP_EQ)
		{
			shorthand = i;
			RuleBufPuts(&b, " ");
			RuleBufLiteral(&b, &m->filters[i].values[0]);
			break;
		}
	for (int i = 0; i < m->nfilters; i++)
	{
		if (i == shorthand)
			continue;
		RuleBufPuts(&b, first ? " where " : " and ");
		first = false;
		BufFilter(&b, &m->filters[i]);
	}
	if (m->has_window)
	{
		if (m->window_to == 0)
		{
			RuleBufPuts(&b, ", last ");
			BufDuration(&b, m->window_from);
		}
		else
		{
			RuleBufPuts(&b, ", from ");
			BufDuration(&b, m->window_from);
			RuleBufPuts(&b, " ago to ");
			BufDuration(&b, m->window_to);
			RuleBufPuts(&b, " ago");
		}
	}
	RuleBufPuts(&b, ")");
	return b.data;
}

/* Canonical text of a node; recursion bounded by the parser's nesting limit */
static void
BufNode(Buf *b, const RuleTree *tree, const RuleNode *node)
{
	switch (node->kind)
	{
		case RULE_NODE_CONST:
			RuleBufLiteral(b, &node->lit);
			break;
		case RULE_NODE_MEASURE:
			RuleBufPuts(b, tree->measures[node->measure].text);
			break;
		case RULE_NODE_AND:
		case RULE_NODE_OR:
			RuleBufPuts(b, "(");
			for (int i = 0; i < node->nargs; i++)
			{
				if (i > 0)
					RuleBufPuts(b, node->kind == RULE_NODE_AND ? " and " : " or ");
				BufNode(b, tree, node->args[i]);
			}
			RuleBufPuts(b, ")");
			break;
		case RULE_NODE_NOT:
			RuleBufPuts(b, "(not ");
			BufNode(b, tree, node->args[0]);
			RuleBufPuts(b, ")");
			break;
		case RULE_NODE_CMP:
			RuleBufPuts(b, "(");
			BufNode(b, tree, node->args[0]);
			RuleBufPuts(b, " ");
			RuleBufPuts(b, RuleOpName(node->op));
			RuleBufPuts(b, " ");
			BufNode(b, tree, node->args[1]);
			RuleBufPuts(b, ")");
			break;
		case RULE_NODE_IN:
			RuleBufPuts(b, "(");
			BufNode(b, tree, node->args[0]);
			RuleBufPuts(b, " in ");
			BufList(b, node->list, node->nlist);
			RuleBufPuts(b, ")");
			break;
		case RULE_NODE_BETWEEN:
			RuleBufPuts(b, "(");
			BufNode(b, tree, node->args[0]);
			RuleBufPuts(b, " between ");
			BufNode(b, tree, node->args[1]);
			RuleBufPuts(b, " and ");
			BufNode(b, tree, node->args[2]);
			RuleBufPuts(b, ")");
			break;
		case RULE_NODE_IS_NULL:
			RuleBufPuts(b, "(");
			BufNode(b, tree, node->args[0]);
			RuleBufPuts(b, " is null)");
			break;
	}
}

/* Fully parenthesized canonical text of a whole tree */
const char *
RuleCanonicalText(Parser *p, const RuleTree *tree)
{
	Buf			b;

	RuleBufInit(&b, p);
	BufNode(&b, tree, tree->root);
	return b.data;
}
