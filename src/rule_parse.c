/*
 * rule_parse.c: the recursive-descent parser of the rule language (grammar
 * in README.md, "The rule language"): its state and errors, literals,
 * aggregates with their filters and windows, conditions, and the entry
 * points RuleParse and RuleFree.  The lexer is rule_lex.c; names and types
 * are checked in rule_check.c, measures registered in rule_measure.c,
 * canonical texts printed in rule_print.c.
 *
 * Standard C only (see rule.h): all memory comes from an arena fed by the
 * caller's allocator hooks (rule_arena.c), and errors travel back through
 * RuleError; the first error wins and every parse function returns NULL
 * once p->failed is set.  Recursion is bounded by RULE_MAX_NESTING, checked
 * before descending, so hostile input cannot exhaust the stack.
 */
#include "rule_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Parser state, errors
 * ------------------------------------------------------------------------ */

/* Records the first error; later ones are ignored */
void
RuleFail(Parser *p, const char *sqlstate, long position, const char *detail,
		 const char *hint, const char *fmt,...)
{
	va_list		ap;

	if (p->failed)
		return;
	p->failed = true;
	memcpy(p->err->sqlstate, sqlstate, 5);
	p->err->sqlstate[5] = '\0';
	p->err->position = (int) position;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	snprintf(p->err->detail, sizeof(p->err->detail), "%s", detail ? detail : "");
	snprintf(p->err->hint, sizeof(p->err->hint), "%s", hint ? hint : "");
}

/* What messages call the text parsed: "rule", or the host language's word */
const char *
RuleTextName(const Parser *p)
{
	return p->host != NULL ? p->host : "rule";
}

static void
FailMemory(Parser *p)
{
	RuleFail(p, "53200", -1, NULL, NULL, "out of memory while parsing a %s", RuleTextName(p));
}

/* n zeroed bytes from the arena; NULL (and the error set) when out of memory */
void *
RuleAlloc(Parser *p, size_t n)
{
	void	   *result;

	if (p->failed)
		return NULL;
	result = RuleArenaAlloc(p->arena, n);
	if (result == NULL)
		FailMemory(p);
	return result;
}

/* Bytes of a token quoted in a message at most */
#define QUOTE_MAX	40

/* Length of the token text to quote in a message, cut at a UTF-8 boundary */
int
RuleQuoteLength(const char *s, size_t len)
{
	size_t		n = len > QUOTE_MAX ? QUOTE_MAX : len;

	while (n > 0 && n < len && ((unsigned char) s[n] & 0xC0) == 0x80)
		n--;
	return (int) n;
}

/* "syntax error at or near ..." for the current token */
void
RuleSyntaxError(Parser *p, const char *expected)
{
	char		detail[256];

	if (p->failed)
		return;
	snprintf(detail, sizeof(detail), "Expected %s.", expected);
	if (p->tok.type == TK_EOF)
		RuleFail(p, "42601", (long) p->tok.start, detail, NULL,
				 "syntax error at end of %s", RuleTextName(p));
	else
		RuleFail(p, "42601", (long) p->tok.start, detail, NULL,
				 "syntax error at or near \"%.*s\"",
				 RuleQuoteLength(p->src + p->tok.start, p->tok.len), p->src + p->tok.start);
}

/* ------------------------------------------------------------------------
 * Tree building
 * ------------------------------------------------------------------------ */

/* Counts one element of the rule (node or list value) against RULE_MAX_NODES */
static bool
CountElement(Parser *p, size_t position, const char *hint)
{
	if (++p->nnodes > RULE_MAX_NODES)
	{
		RuleFail(p, "54000", (long) position,
				 "A rule may have at most 20000 elements (conditions, values and list items).",
				 hint, "rule is too complex");
		return false;
	}
	return true;
}

/* A new node of the tree, counted */
RuleNode *
RuleNewNode(Parser *p, RuleNodeKind kind, size_t position)
{
	RuleNode   *node;

	if (p->failed || !CountElement(p, position, "Split the rule into several tags, or use IN lists."))
		return NULL;
	node = RuleAlloc(p, sizeof(RuleNode));
	if (node == NULL)
		return NULL;
	node->kind = kind;
	node->position = (int) position;
	return node;
}

/* One more level of parentheses or NOT (the caller decrements p->depth) */
static bool
EnterNesting(Parser *p, size_t position)
{
	if (++p->depth > RULE_MAX_NESTING)
	{
		RuleFail(p, "54000", (long) position, "Parentheses and NOT may be nested at most 255 levels deep.",
				 p->host != NULL ? "Simplify the condition." : "Simplify the rule.",
				 "%s is nested too deeply", RuleTextName(p));
		return false;
	}
	return true;
}

/*
 * Depth of a condition tree (leaves 0); fails on the innermost node that
 * goes past RULE_MAX_DEPTH.  The recursion is bounded by RULE_MAX_NESTING.
 */
static int
TreeDepth(Parser *p, const RuleNode *node)
{
	int			depth = 0;

	if (node->nargs == 0)
		return 0;
	for (int i = 0; i < node->nargs && !p->failed; i++)
	{
		int			d = TreeDepth(p, node->args[i]);

		if (d > depth)
			depth = d;
	}
	if (++depth > RULE_MAX_DEPTH)
		RuleFail(p, "54000", node->position, "Conditions may be nested at most 100 levels deep.",
				 p->host != NULL ? "Simplify the condition." : "Simplify the rule.",
				 "%s is nested too deeply", RuleTextName(p));
	return depth;
}

/* ------------------------------------------------------------------------
 * Literals and durations
 * ------------------------------------------------------------------------ */

typedef struct DurationUnit
{
	const char *name;
	double		seconds;
} DurationUnit;

static const DurationUnit duration_units[] = {
	{"s", 1}, {"sec", 1}, {"secs", 1}, {"second", 1}, {"seconds", 1},
	{"min", 60}, {"mins", 60}, {"minute", 60}, {"minutes", 60},
	{"h", 3600}, {"hr", 3600}, {"hrs", 3600}, {"hour", 3600}, {"hours", 3600},
	{"d", 86400}, {"day", 86400}, {"days", 86400},
	{"w", 604800}, {"week", 604800}, {"weeks", 604800},
};

/* A unit word after a number; seconds, 0 if not a unit, -1 if refused */
static double
UnitSeconds(Parser *p)
{
	static const char *const refused[] = {"mon", "month", "months", "y", "yr", "year", "years", "ms"};

	if (p->tok.type != TK_IDENT)
		return 0;
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (RuleTokIs(p, duration_units[i].name))
			return duration_units[i].seconds;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (RuleTokIs(p, refused[i]))
		{
			RuleFail(p, "22023", (long) p->tok.start,
					 "Durations are written in s, min, hours, days or weeks.",
					 "Months and years vary in length: write 30 days or 365 days instead.",
					 "unit \"%.*s\" is not supported", (int) p->tok.len, p->src + p->tok.start);
			return -1;
		}
	return 0;
}

/*
 * Parses a literal at the current token: [-]number [unit], string, true,
 * false.  Returns false (with an error set) when there is none.
 */
static bool
ParseLiteral(Parser *p, RuleLiteral *lit, const char *expected)
{
	size_t		start = p->tok.start;
	bool		negative = false;

	memset(lit, 0, sizeof(*lit));
	if (p->failed)
		return false;
	if (p->tok.type == TK_MINUS)
	{
		negative = true;
		RuleNext(p);
		if (p->failed)
			return false;
		if (p->tok.type != TK_NUMBER)
		{
			RuleSyntaxError(p, "a number after the minus sign");
			return false;
		}
	}
	if (p->tok.type == TK_NUMBER)
	{
		double		v = p->tok.num;
		double		unit;

		RuleNext(p);
		unit = UnitSeconds(p);
		if (unit < 0)
			return false;
		if (unit > 0)
		{
			if (negative)
			{
				RuleFail(p, "22003", (long) start, "Durations cannot be negative.", NULL,
						 "duration is out of range");
				return false;
			}
			v *= unit;
			if (!(v <= RULE_MAX_DURATION))
			{
				RuleFail(p, "22003", (long) start, "A duration may be at most 100 years.", NULL,
						 "duration is out of range");
				return false;
			}
			lit->type = RULE_TYPE_DURATION;
			lit->num = v;
			RuleNext(p);
		}
		else
		{
			lit->type = RULE_TYPE_NUMBER;
			lit->num = negative ? -v : v;
		}
		return !p->failed;
	}
	if (p->tok.type == TK_STRING)
	{
		lit->type = RULE_TYPE_TEXT;
		lit->str = p->tok.str;
		lit->len = p->tok.slen;
		RuleNext(p);
		return !p->failed;
	}
	if (RuleTokIs(p, "true") || RuleTokIs(p, "false"))
	{
		lit->type = RULE_TYPE_BOOL;
		lit->b = RuleTokIs(p, "true");
		RuleNext(p);
		return !p->failed;
	}
	if (RuleTokIs(p, "null"))
	{
		RuleFail(p, "42601", (long) start, "NULL is not a value that can be compared.",
				 "To test for a missing value, write: city is null.",
				 "NULL is not allowed here");
		return false;
	}
	RuleSyntaxError(p, expected);
	return false;
}

/* A duration: number and unit */
static bool
ParseDuration(Parser *p, double *secs, const char *expected)
{
	RuleLiteral lit;
	size_t		start = p->tok.start;

	if (p->tok.type != TK_NUMBER)
	{
		RuleSyntaxError(p, expected);
		return false;
	}
	if (!ParseLiteral(p, &lit, expected))
		return false;
	if (lit.type != RULE_TYPE_DURATION)
	{
		RuleFail(p, "42601", (long) start, "A window length needs a unit, as in 30 days.", NULL,
				 "duration unit missing");
		return false;
	}
	*secs = lit.num;
	return true;
}

/* ------------------------------------------------------------------------
 * Aggregates and functions
 * ------------------------------------------------------------------------ */

/*
 * The values of a list, after its '(': literal {',' literal} ')'.  When
 * check, each value must have type want.
 */
static RuleLiteral *
ParseList(Parser *p, int *nvalues, bool check, RuleType want)
{
	int			max = 4;
	int			n = 0;
	RuleLiteral *values = RuleAlloc(p, sizeof(RuleLiteral) * (size_t) max);

	for (;;)
	{
		size_t		vpos = p->tok.start;

		if (values == NULL)
			return NULL;
		if (n == max)
		{
			RuleLiteral *grown = RuleAlloc(p, sizeof(RuleLiteral) * (size_t) max * 2);

			if (grown == NULL)
				return NULL;
			memcpy(grown, values, sizeof(RuleLiteral) * (size_t) max);
			values = grown;
			max *= 2;
		}
		if (!CountElement(p, vpos, "Split the rule into several tags.") ||
			!ParseLiteral(p, &values[n], "a value") ||
			(check && !RuleCheckSameType(p, vpos, want, values[n].type)))
			return NULL;
		n++;
		if (p->tok.type != TK_COMMA)
			break;
		RuleNext(p);
	}
	if (!RuleExpect(p, TK_RPAREN, ", or ) in the list"))
		return NULL;
	*nvalues = n;
	return values;
}

/* field op literal | field [not] in (literal, ...) */
static bool
ParseFilter(Parser *p, RuleSource source, RuleFilter *f)
{
	const RuleWord *field = RuleResolveField(p, source);
	size_t		start;

	if (field == NULL)
		return false;
	f->field = field->field;
	f->type = field->type;
	RuleNext(p);
	start = p->tok.start;
	if (p->tok.type == TK_OP)
	{
		f->op = p->tok.op;
		RuleNext(p);
		f->nvalues = 1;
		f->values = RuleAlloc(p, sizeof(RuleLiteral));
		if (f->values == NULL || !ParseLiteral(p, &f->values[0], "a value"))
			return false;
	}
	else if (RuleTokIs(p, "in") || RuleTokIs(p, "not"))
	{
		f->op = RULE_OP_IN;
		if (RuleTokIs(p, "not"))
		{
			f->op = RULE_OP_NOT_IN;
			RuleNext(p);
			if (!RuleTokIs(p, "in"))
			{
				RuleSyntaxError(p, "IN after NOT");
				return false;
			}
		}
		RuleNext(p);
		if (!RuleExpect(p, TK_LPAREN, "( to start the list"))
			return false;
		f->values = ParseList(p, &f->nvalues, false, f->type);
		if (f->values == NULL)
			return false;
	}
	else
	{
		RuleSyntaxError(p, "a comparison operator or IN");
		return false;
	}
	if (!RuleCheckFilter(p, start, f))
		return false;
	if (f->op == RULE_OP_IN || f->op == RULE_OP_NOT_IN)
	{
		/* canonical: sorted, no duplicates, and a list of one is a comparison */
		f->nvalues = RuleSortUnique(f->values, f->nvalues);
		if (f->nvalues == 1)
			f->op = f->op == RULE_OP_IN ? RULE_OP_EQ : RULE_OP_NE;
	}
	return true;
}

/* The filter kind = 'str' of count(event 'str') and has_event('str') */
static bool
KindFilter(Parser *p, RuleFilter *f, const char *str, size_t len)
{
	const RuleWord *kind = RuleFieldWord(RULE_FIELD_KIND);

	f->field = RULE_FIELD_KIND;
	f->type = kind->type;
	f->op = RULE_OP_EQ;
	f->nvalues = 1;
	f->values = RuleAlloc(p, sizeof(RuleLiteral));
	if (f->values == NULL)
		return false;
	f->values[0].type = RULE_TYPE_TEXT;
	f->values[0].str = str;
	f->values[0].len = len;
	return true;
}

/*
 * The window of an aggregate, after its comma: LAST duration | FROM
 * duration AGO TO (duration AGO | NOW).
 */
static bool
ParseWindow(Parser *p, RuleMeasure *m)
{
	size_t		wpos = p->tok.start;

	if (RuleTokIs(p, "last"))
	{
		RuleNext(p);
		if (!ParseDuration(p, &m->window_from, "a duration such as 30 days"))
			return false;
		m->window_to = 0;
	}
	else if (RuleTokIs(p, "from"))
	{
		RuleNext(p);
		if (!ParseDuration(p, &m->window_from, "a duration such as 60 days") ||
			!RuleExpectWord(p, "ago", "AGO"))
			return false;
		if (!RuleExpectWord(p, "to", "TO"))
			return false;
		if (RuleTokIs(p, "now"))
		{
			m->window_to = 0;
			RuleNext(p);
		}
		else if (!ParseDuration(p, &m->window_to, "a duration such as 30 days, or NOW") ||
				 !RuleExpectWord(p, "ago", "AGO"))
			return false;
	}
	else
	{
		RuleSyntaxError(p, "a window: last 30 days, or from 60 days ago to 30 days ago");
		return false;
	}
	if (p->failed)
		return false;
	if (!(m->window_from > m->window_to))
	{
		RuleFail(p, "22023", (long) wpos,
				 "The start of a window must be further in the past than its end.",
				 "Write the older offset first, as in from 60 days ago to 30 days ago.",
				 "window is empty");
		return false;
	}
	m->has_window = true;
	m->time_dependent = true;
	return true;
}

/*
 * func '(' source ['.' field] [kind-string] [WHERE filter {AND filter}]
 *      [',' window] ')'
 * The current token is the '(' after the function name.
 */
static RuleNode *
ParseAggregate(Parser *p, RuleAggFunc func, size_t position)
{
	RuleMeasure m;
	int			maxfilters = 4;
	bool		needs_field = (func != RULE_AGG_COUNT && func != RULE_AGG_EXISTS);

	memset(&m, 0, sizeof(m));
	m.kind = RULE_MEASURE_AGGREGATE;
	m.func = func;
	m.name = RuleAggFuncName(func);
	m.position = (int) position;
	if (!RuleExpect(p, TK_LPAREN, "("))
		return NULL;
	if (RuleTokIs(p, "order"))
		m.source = RULE_SOURCE_ORDER;
	else if (RuleTokIs(p, "event"))
		m.source = RULE_SOURCE_EVENT;
	else
	{
		if (needs_field)
			RuleExpectNumberField(p, true, m.source);
		else
			RuleSyntaxError(p, "order or event");
		return NULL;
	}
	RuleNext(p);
	if (p->tok.type == TK_DOT)
	{
		const RuleWord *field;

		RuleNext(p);
		if (p->failed)
			return NULL;
		field = RuleResolveField(p, m.source);
		if (field == NULL || !RuleCheckAggregateField(p, p->tok.start, &m, field))
			return NULL;
		m.field = field->field;
		m.type = field->type;
		RuleNext(p);
	}
	else if (needs_field)
	{
		RuleExpectNumberField(p, false, m.source);
		return NULL;
	}
	else
		m.type = func == RULE_AGG_EXISTS ? RULE_TYPE_BOOL : RULE_TYPE_NUMBER;

	m.filters = RuleAlloc(p, sizeof(RuleFilter) * (size_t) maxfilters);
	if (m.filters == NULL)
		return NULL;
	if (p->tok.type == TK_STRING)
	{
		if (m.source != RULE_SOURCE_EVENT)
		{
			RuleFail(p, "22023", (long) p->tok.start, "Only events have a kind.",
					 "Filter orders with where, as in count(order where amount > 100).",
					 "an order has no kind");
			return NULL;
		}
		if (!KindFilter(p, &m.filters[0], p->tok.str, p->tok.slen))
			return NULL;
		m.nfilters = 1;
		RuleNext(p);
	}
	if (RuleTokIs(p, "where"))
	{
		do
		{
			RuleNext(p);
			if (p->failed)
				return NULL;
			if (m.nfilters == maxfilters)
			{
				RuleFilter *filters = RuleAlloc(p, sizeof(RuleFilter) * (size_t) maxfilters * 2);

				if (filters == NULL)
					return NULL;
				memcpy(filters, m.filters, sizeof(RuleFilter) * (size_t) maxfilters);
				m.filters = filters;
				maxfilters *= 2;
			}
			if (!CountElement(p, p->tok.start, "Split the rule into several tags.") ||
				!ParseFilter(p, m.source, &m.filters[m.nfilters]))
				return NULL;
			m.nfilters++;
		} while (RuleTokIs(p, "and"));
	}
	if (p->tok.type == TK_COMMA)
	{
		RuleNext(p);
		if (!ParseWindow(p, &m))
			return NULL;
	}
	if (!RuleExpect(p, TK_RPAREN, m.has_window ? ")" : "WHERE, a comma and a window, or )"))
		return NULL;

	/* canonical order of filters, duplicates dropped */
	m.nfilters = RuleSortFilters(m.filters, m.nfilters);
	m.text = RuleAggregateText(p, &m);
	return RuleMeasureNode(p, &m, position);
}

/* has_tag('name') or has_event('kind'); current token is '(' */
static RuleNode *
ParseStringFunction(Parser *p, bool tag, size_t position)
{
	RuleMeasure m;
	char	   *name;
	size_t		len;
	size_t		argpos;

	if (!RuleExpect(p, TK_LPAREN, "("))
		return NULL;
	argpos = p->tok.start;
	if (p->tok.type != TK_STRING)
	{
		RuleSyntaxError(p, tag ? "a tag name in quotes" : "an event kind in quotes");
		return NULL;
	}
	name = p->tok.str;
	len = p->tok.slen;
	RuleNext(p);
	if (!RuleExpect(p, TK_RPAREN, ")"))
		return NULL;
	if (len == 0)
	{
		RuleFail(p, "22023", (long) argpos, NULL, NULL,
				 tag ? "tag name must not be empty" : "event kind must not be empty");
		return NULL;
	}
	memset(&m, 0, sizeof(m));
	m.position = (int) position;
	if (tag)
	{
		Buf			b;
		RuleLiteral lit;

		m.kind = RULE_MEASURE_TAG;
		m.type = RULE_TYPE_BOOL;
		m.name = name;
		lit.type = RULE_TYPE_TEXT;
		lit.str = name;
		lit.len = len;
		RuleBufInit(&b, p);
		RuleBufPuts(&b, "has_tag(");
		RuleBufLiteral(&b, &lit);
		RuleBufPuts(&b, ")");
		m.text = b.data;
	}
	else
	{
		m.kind = RULE_MEASURE_AGGREGATE;
		m.type = RULE_TYPE_BOOL;
		m.func = RULE_AGG_EXISTS;
		m.name = RuleAggFuncName(RULE_AGG_EXISTS);
		m.source = RULE_SOURCE_EVENT;
		m.nfilters = 1;
		m.filters = RuleAlloc(p, sizeof(RuleFilter));
		if (m.filters == NULL || !KindFilter(p, &m.filters[0], name, len))
			return NULL;
		m.text = RuleAggregateText(p, &m);
	}
	return RuleMeasureNode(p, &m, position);
}

/* ------------------------------------------------------------------------
 * Conditions
 * ------------------------------------------------------------------------ */

static RuleNode *ParseOr(Parser *p);

/* A new condition node with room for nargs arguments */
static RuleNode *
CondNode(Parser *p, RuleNodeKind kind, size_t position, int nargs)
{
	RuleNode   *node = RuleNewNode(p, kind, position);

	if (node == NULL)
		return NULL;
	node->type = RULE_TYPE_BOOL;
	node->nargs = nargs;
	node->args = RuleAlloc(p, sizeof(RuleNode *) * (size_t) nargs);
	return node->args != NULL ? node : NULL;
}

static bool
IsReserved(Parser *p)
{
	static const char *const words[] = {"and", "or", "not", "in", "between", "is", "null",
	"true", "false", "where", "last", "from", "to", "ago", "now"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (RuleTokIs(p, words[i]))
			return true;
	return false;
}

/* A fact, attribute or model named by the current token */
static RuleNode *
ParseNamedMeasure(Parser *p, const RuleWord *word, size_t position)
{
	RuleMeasure m;

	if (word == NULL)
		return NULL;
	memset(&m, 0, sizeof(m));
	switch (word->kind)
	{
		case RULE_WORD_FACT:
			m.kind = RULE_MEASURE_FACT;
			break;
		case RULE_WORD_ATTRIBUTE:
			m.kind = RULE_MEASURE_ATTRIBUTE;
			break;
		case RULE_WORD_MODEL:
			m.kind = RULE_MEASURE_MODEL;
			break;
		default:
			/* RuleResolveMeasure returns no other word */
			return NULL;
	}
	m.type = word->type;
	m.name = word->name;
	m.named = word->named;
	m.text = word->name;
	m.time_dependent = word->time_dependent;
	m.position = (int) position;
	RuleNext(p);
	return RuleMeasureNode(p, &m, position);
}

/* '(' condition ')' | literal | function call | measure name */
static RuleNode *
ParsePrimary(Parser *p)
{
	size_t		start = p->tok.start;

	if (p->failed)
		return NULL;
	if (p->tok.type == TK_LPAREN)
	{
		RuleNode   *node;

		if (!EnterNesting(p, start))
			return NULL;
		RuleNext(p);
		node = ParseOr(p);
		if (node == NULL || !RuleExpect(p, TK_RPAREN, ") or a condition operator (AND, OR, =, ...)"))
			return NULL;
		p->depth--;
		return node;
	}
	if (p->tok.type == TK_NUMBER || p->tok.type == TK_MINUS || p->tok.type == TK_STRING ||
		RuleTokIs(p, "true") || RuleTokIs(p, "false") || RuleTokIs(p, "null"))
	{
		RuleNode   *node = RuleNewNode(p, RULE_NODE_CONST, start);

		if (node == NULL || !ParseLiteral(p, &node->lit, "a value"))
			return NULL;
		node->type = node->lit.type;
		return node;
	}
	if (p->tok.type == TK_IDENT && !IsReserved(p))
	{
		const char *s = p->src + p->tok.start;
		size_t		len = p->tok.len;

		if (RuleNextIsLParen(p))
		{
			const RuleWord *fn;

			RuleNext(p);
			fn = RuleResolveFunction(p, start, s, len);
			if (fn == NULL)
				return NULL;
			if (fn->kind == RULE_WORD_TAG || fn->takes_string)
				return ParseStringFunction(p, fn->kind == RULE_WORD_TAG, start);
			return ParseAggregate(p, fn->func, start);
		}
		return ParseNamedMeasure(p, RuleResolveMeasure(p, start, s, len), start);
	}
	RuleSyntaxError(p, "a condition or a value");
	return NULL;
}

/*
 * primary [ op primary | [NOT] IN (literals) | [NOT] BETWEEN primary AND
 * primary | IS [NOT] NULL ]
 */
static RuleNode *
ParsePredicate(Parser *p)
{
	RuleNode   *left = ParsePrimary(p);
	RuleNode   *node;
	size_t		start;
	bool		negate = false;

	if (left == NULL || p->failed)
		return NULL;
	start = p->tok.start;
	if (p->tok.type == TK_OP)
	{
		RuleOp		op = p->tok.op;
		RuleNode   *right;

		RuleNext(p);
		right = ParsePrimary(p);
		if (right == NULL || !RuleCheckCompare(p, start, op, left->type, right->type))
			return NULL;
		node = CondNode(p, RULE_NODE_CMP, start, 2);
		if (node == NULL)
			return NULL;
		node->op = op;
		node->args[0] = left;
		node->args[1] = right;
		return node;
	}
	if (RuleTokIs(p, "not"))
	{
		negate = true;
		RuleNext(p);
		if (!RuleTokIs(p, "in") && !RuleTokIs(p, "between"))
		{
			RuleSyntaxError(p, "IN or BETWEEN after NOT");
			return NULL;
		}
	}
	if (RuleTokIs(p, "in"))
	{
		RuleNext(p);
		if (!RuleExpect(p, TK_LPAREN, "( to start the list"))
			return NULL;
		node = CondNode(p, RULE_NODE_IN, start, 1);
		if (node == NULL)
			return NULL;
		node->args[0] = left;
		node->list = ParseList(p, &node->nlist, true, left->type);
		if (node->list == NULL)
			return NULL;
		node->nlist = RuleSortUnique(node->list, node->nlist);
	}
	else if (RuleTokIs(p, "between"))
	{
		RuleNode   *lo;
		RuleNode   *hi;
		size_t		lopos;
		size_t		hipos;

		RuleNext(p);
		lopos = p->tok.start;
		lo = ParsePrimary(p);
		if (lo == NULL || !RuleExpectWord(p, "and", "AND between the bounds"))
			return NULL;
		hipos = p->tok.start;
		hi = ParsePrimary(p);
		if (hi == NULL ||
			!RuleCheckSameType(p, lopos, left->type, lo->type) ||
			!RuleCheckSameType(p, hipos, left->type, hi->type) ||
			!RuleCheckBetween(p, start, left->type))
			return NULL;
		node = CondNode(p, RULE_NODE_BETWEEN, start, 3);
		if (node == NULL)
			return NULL;
		node->args[0] = left;
		node->args[1] = lo;
		node->args[2] = hi;
	}
	else if (!negate && RuleTokIs(p, "is"))
	{
		RuleNext(p);
		if (RuleTokIs(p, "not"))
		{
			negate = true;
			RuleNext(p);
		}
		if (!RuleExpectWord(p, "null", negate ? "NULL" : "NULL or NOT NULL"))
			return NULL;
		node = CondNode(p, RULE_NODE_IS_NULL, start, 1);
		if (node == NULL)
			return NULL;
		node->args[0] = left;
	}
	else
		return left;

	if (negate)
	{
		RuleNode   *not = CondNode(p, RULE_NODE_NOT, start, 1);

		if (not == NULL)
			return NULL;
		not->args[0] = node;
		node = not;
	}
	return node;
}

/* NOT not_expr | predicate */
static RuleNode *
ParseNot(Parser *p)
{
	size_t		start = p->tok.start;
	RuleNode   *arg;
	RuleNode   *node;

	if (!RuleTokIs(p, "not"))
		return ParsePredicate(p);
	if (!EnterNesting(p, start))
		return NULL;
	RuleNext(p);
	arg = ParseNot(p);
	if (!RuleCheckCondition(p, arg, "NOT"))
		return NULL;
	p->depth--;
	node = CondNode(p, RULE_NODE_NOT, start, 1);
	if (node == NULL)
		return NULL;
	node->args[0] = arg;
	return node;
}

/* sub {word sub}, flattened into one n-ary node */
static RuleNode *
ParseChain(Parser *p, const char *word, RuleNodeKind kind, RuleNode *(*sub) (Parser *))
{
	size_t		start = p->tok.start;
	RuleNode   *first = sub(p);
	RuleNode   *node;
	int			max = 4;

	if (first == NULL || p->failed || !RuleTokIs(p, word))
		return first;
	if (!RuleCheckCondition(p, first, kind == RULE_NODE_AND ? "AND" : "OR"))
		return NULL;
	node = RuleNewNode(p, kind, start);
	if (node == NULL)
		return NULL;
	node->type = RULE_TYPE_BOOL;
	node->args = RuleAlloc(p, sizeof(RuleNode *) * (size_t) max);
	if (node->args == NULL)
		return NULL;
	node->args[node->nargs++] = first;
	while (RuleTokIs(p, word))
	{
		RuleNode   *next;

		RuleNext(p);
		next = sub(p);
		if (!RuleCheckCondition(p, next, kind == RULE_NODE_AND ? "AND" : "OR"))
			return NULL;
		if (node->nargs == max)
		{
			RuleNode  **args = RuleAlloc(p, sizeof(RuleNode *) * (size_t) max * 2);

			if (args == NULL)
				return NULL;
			memcpy(args, node->args, sizeof(RuleNode *) * (size_t) max);
			node->args = args;
			max *= 2;
		}
		node->args[node->nargs++] = next;
	}
	return node;
}

static RuleNode *
ParseAnd(Parser *p)
{
	return ParseChain(p, "and", RULE_NODE_AND, ParseNot);
}

static RuleNode *
ParseOr(Parser *p)
{
	return ParseChain(p, "or", RULE_NODE_OR, ParseAnd);
}

/* ------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------ */

/*
 * The hook of a host language that embeds the rule language's conditions
 * (the segment language, src/segment.c): one predicate at the current token
 * of the host's parser, which shares this lexer, checked as in a rule
 * (names, types, nesting).  AND, OR and NOT around it belong to the host.
 * Returns the predicate's tree, with the tokens after it current, or NULL
 * with the error set.  Whether its value is a condition is the host's
 * check: its message names the host's terms.
 */
RuleNode *
RuleParseCondition(Parser *p)
{
	RuleNode   *node = ParsePredicate(p);

	if (node != NULL && !p->failed)
		(void) TreeDepth(p, node);
	return p->failed ? NULL : node;
}

/*
 * Parses and checks a rule.  Returns the tree, or NULL with *err filled in.
 * text need not be NUL-terminated; a zero byte in it is an error.
 */
RuleTree *
RuleParse(const char *text, size_t len, const RuleAllocator *allocator, RuleError *err)
{
	Parser		p;
	RuleArena  *arena;
	RuleTree   *tree;
	RuleNode   *root;

	memset(err, 0, sizeof(*err));
	err->position = -1;
	memset(&p, 0, sizeof(p));
	p.err = err;
	if (len > RULE_MAX_LENGTH)
	{
		RuleFail(&p, "54000", -1, "A rule may be at most 65536 bytes long.",
				 "Split the rule into several tags.", "rule is too long");
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL)
	{
		RuleFail(&p, "22021", (long) ((const char *) memchr(text, '\0', len) - text), NULL, NULL,
				 "rule contains a zero byte");
		return NULL;
	}
	arena = RuleArenaCreate(allocator);
	if (arena == NULL)
	{
		FailMemory(&p);
		return NULL;
	}
	p.arena = arena;
	p.src = text;
	p.len = len;

	RuleNext(&p);
	if (!p.failed && p.tok.type == TK_EOF)
		RuleSyntaxError(&p, "a condition; the rule is empty");
	root = ParseOr(&p);
	if (root != NULL && !p.failed && p.tok.type != TK_EOF)
		RuleSyntaxError(&p, "AND, OR or the end of the rule");
	if (root != NULL && !p.failed)
		(void) TreeDepth(&p, root);
	if (root != NULL && !p.failed)
		(void) RuleCheckRule(&p, root);
	tree = RuleAlloc(&p, sizeof(RuleTree));
	if (p.failed || root == NULL || tree == NULL)
	{
		if (!p.failed)
			FailMemory(&p);
		RuleArenaFree(arena);
		return NULL;
	}
	tree->root = root;
	tree->nmeasures = p.nmeasures;
	tree->measures = p.measures;
	tree->arena = arena;
	tree->canonical = RuleCanonicalText(&p, tree);
	if (p.failed)
	{
		RuleArenaFree(arena);
		return NULL;
	}
	return tree;
}

/* Frees a tree and everything it owns */
void
RuleFree(RuleTree *tree)
{
	if (tree != NULL)
		RuleArenaFree(tree->arena);
}
