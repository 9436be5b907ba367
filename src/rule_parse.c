/*
 * rule_parse.c: lexer, recursive-descent parser, type checker, measure
 * registry and canonical printer of the rule language (grammar in
 * doc/rules.md).
 *
 * Standard C only (see rule.h): all memory comes from an arena fed by the
 * caller's allocator hooks, and errors travel back through RuleError; the
 * first error wins and every parse function returns NULL once p->failed is
 * set.  Recursion is bounded by RULE_MAX_DEPTH, checked before descending,
 * so hostile input cannot exhaust the stack.
 */
#include "rule.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Arena: every allocation of one tree, freed at once
 * ------------------------------------------------------------------------ */

typedef struct RuleArenaBlock
{
	struct RuleArenaBlock *next;
	size_t		size;
	size_t		used;
	/* data follows, aligned to 16 */
} RuleArenaBlock;

typedef struct RuleArena
{
	RuleAllocator allocator;
	RuleArenaBlock *blocks;
	size_t		total;
} RuleArena;

#define ARENA_HEADER	((sizeof(RuleArenaBlock) + 15) & ~(size_t) 15)
#define ARENA_BLOCK		8192
/* Hard cap on arena memory for one rule; far above what the limits allow */
#define ARENA_MAX		((size_t) 256 * 1024 * 1024)

/* Allocates n zeroed bytes from the arena; NULL when out of memory */
static void *
ArenaAlloc(RuleArena *arena, size_t n)
{
	RuleArenaBlock *b = arena->blocks;
	void	   *result;

	n = (n + 15) & ~(size_t) 15;
	if (n == 0)
		n = 16;
	if (b == NULL || b->size - b->used < n)
	{
		size_t		size = n > ARENA_BLOCK - ARENA_HEADER ? n + ARENA_HEADER : ARENA_BLOCK;

		if (n > ARENA_MAX || arena->total + size > ARENA_MAX)
			return NULL;
		b = arena->allocator.alloc(size, arena->allocator.arg);
		if (b == NULL)
			return NULL;
		b->size = size - ARENA_HEADER;
		b->used = 0;
		arena->total += size;
		/* keep the emptier block in front */
		if (arena->blocks != NULL && size != ARENA_BLOCK)
		{
			b->next = arena->blocks->next;
			arena->blocks->next = b;
		}
		else
		{
			b->next = arena->blocks;
			arena->blocks = b;
		}
	}
	result = (char *) b + ARENA_HEADER + b->used;
	b->used += n;
	memset(result, 0, n);
	return result;
}

/* Frees every block, then the arena itself */
static void
ArenaFree(RuleArena *arena)
{
	RuleArenaBlock *b = arena->blocks;
	RuleAllocator allocator = arena->allocator;

	while (b != NULL)
	{
		RuleArenaBlock *next = b->next;

		allocator.free(b, allocator.arg);
		b = next;
	}
	allocator.free(arena, allocator.arg);
}

/* ------------------------------------------------------------------------
 * Name tables
 * ------------------------------------------------------------------------ */

typedef struct NamedMeasure
{
	const char *name;
	RuleMeasureKind kind;
	RuleType	type;
	bool		time_dependent;
} NamedMeasure;

static const NamedMeasure named_measures[] = {
	/* facts kept per customer by the host */
	{"order_count", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, false},
	{"total_paid", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, false},
	{"avg_order_value", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, false},
	{"max_order_amount", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, false},
	{"event_count", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, false},
	{"active_days", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, false},
	{"days_since_first_order", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, true},
	{"days_since_last_order", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, true},
	{"days_since_last_event", RULE_MEASURE_FACT, RULE_TYPE_NUMBER, true},
	/* customer attributes */
	{"city", RULE_MEASURE_ATTRIBUTE, RULE_TYPE_TEXT, false},
	{"province", RULE_MEASURE_ATTRIBUTE, RULE_TYPE_TEXT, false},
	{"country", RULE_MEASURE_ATTRIBUTE, RULE_TYPE_TEXT, false},
	{"gender", RULE_MEASURE_ATTRIBUTE, RULE_TYPE_TEXT, false},
	{"channel", RULE_MEASURE_ATTRIBUTE, RULE_TYPE_TEXT, false},
	{"birth_year", RULE_MEASURE_ATTRIBUTE, RULE_TYPE_NUMBER, false},
	{"age", RULE_MEASURE_ATTRIBUTE, RULE_TYPE_NUMBER, true},
	{"days_since_registration", RULE_MEASURE_ATTRIBUTE, RULE_TYPE_NUMBER, true},
	/* model outputs */
	{"rfm_segment", RULE_MEASURE_MODEL, RULE_TYPE_TEXT, false},
	{"rfm_r", RULE_MEASURE_MODEL, RULE_TYPE_NUMBER, false},
	{"rfm_f", RULE_MEASURE_MODEL, RULE_TYPE_NUMBER, false},
	{"rfm_m", RULE_MEASURE_MODEL, RULE_TYPE_NUMBER, false},
	{"lifecycle_stage", RULE_MEASURE_MODEL, RULE_TYPE_TEXT, false},
	{"customer_status", RULE_MEASURE_MODEL, RULE_TYPE_TEXT, false},
	{"user_level", RULE_MEASURE_MODEL, RULE_TYPE_NUMBER, false},
	{"churn_probability", RULE_MEASURE_MODEL, RULE_TYPE_NUMBER, false},
	{"p_alive", RULE_MEASURE_MODEL, RULE_TYPE_NUMBER, false},
	{"expected_value", RULE_MEASURE_MODEL, RULE_TYPE_NUMBER, false},
};

#define NAMED_HINT "Facts: order_count, total_paid, avg_order_value, max_order_amount, event_count, active_days, days_since_first_order, days_since_last_order, days_since_last_event. Attributes: city, province, country, gender, channel, birth_year, age, days_since_registration. Models: rfm_segment, rfm_r, rfm_f, rfm_m, lifecycle_stage, customer_status, user_level, churn_probability, p_alive, expected_value."

typedef struct RowField
{
	const char *name;
	RuleSource	source;
	RuleType	type;
} RowField;

static const RowField row_fields[] = {
	{"amount", RULE_SOURCE_ORDER, RULE_TYPE_NUMBER},
	{"channel", RULE_SOURCE_ORDER, RULE_TYPE_TEXT},
	{"product", RULE_SOURCE_ORDER, RULE_TYPE_TEXT},
	{"kind", RULE_SOURCE_EVENT, RULE_TYPE_TEXT},
	{"object", RULE_SOURCE_EVENT, RULE_TYPE_TEXT},
	{"channel", RULE_SOURCE_EVENT, RULE_TYPE_TEXT},
	{"duration", RULE_SOURCE_EVENT, RULE_TYPE_DURATION},
};

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

static const char *const agg_names[] = {"count", "sum", "min", "max", "avg", "exists"};

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
RuleAggFuncName(RuleAggFunc func)
{
	if ((int) func >= 0 && (int) func < (int) (sizeof(agg_names) / sizeof(agg_names[0])))
		return agg_names[func];
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

/* ------------------------------------------------------------------------
 * Parser state, errors
 * ------------------------------------------------------------------------ */

typedef enum TokenType
{
	TK_EOF,
	TK_IDENT,
	TK_NUMBER,
	TK_STRING,
	TK_LPAREN,
	TK_RPAREN,
	TK_COMMA,
	TK_DOT,
	TK_MINUS,
	TK_OP,
	TK_BAD						/* a character outside the language */
} TokenType;

typedef struct Token
{
	TokenType	type;
	size_t		start;			/* byte offset */
	size_t		len;			/* bytes of source text */
	double		num;			/* TK_NUMBER */
	char	   *str;			/* TK_STRING, unescaped, NUL-terminated */
	size_t		slen;
	RuleOp		op;				/* TK_OP */
} Token;

typedef struct Parser
{
	const char *src;
	size_t		len;
	size_t		pos;			/* lexer position */
	Token		tok;			/* current token */
	RuleArena  *arena;
	RuleError  *err;
	bool		failed;
	int			depth;
	int			nnodes;
	RuleMeasure *measures;
	unsigned   *hashes;
	int			nmeasures;
	int			maxmeasures;
} Parser;

#if defined(__GNUC__) || defined(__clang__)
#define RULE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RULE_PRINTF(f, a)
#endif

static void Fail(Parser *p, const char *sqlstate, long position, const char *detail,
				 const char *hint, const char *fmt,...) RULE_PRINTF(6, 7);

/* Records the first error; later ones are ignored */
static void
Fail(Parser *p, const char *sqlstate, long position, const char *detail,
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

static void
FailMemory(Parser *p)
{
	Fail(p, "53200", -1, NULL, NULL, "out of memory while parsing a rule");
}

static void *
Alloc(Parser *p, size_t n)
{
	void	   *result;

	if (p->failed)
		return NULL;
	result = ArenaAlloc(p->arena, n);
	if (result == NULL)
		FailMemory(p);
	return result;
}

/* Length of the token text to quote in a message, cut at a UTF-8 boundary */
static int
QuoteLength(const char *s, size_t len)
{
	size_t		n = len > 40 ? 40 : len;

	while (n > 0 && n < len && ((unsigned char) s[n] & 0xC0) == 0x80)
		n--;
	return (int) n;
}

/* "syntax error at or near ..." for the current token */
static void
SyntaxError(Parser *p, const char *expected)
{
	char		detail[256];

	if (p->failed)
		return;
	snprintf(detail, sizeof(detail), "Expected %s.", expected);
	if (p->tok.type == TK_EOF)
		Fail(p, "42601", (long) p->tok.start, detail, NULL,
			 "syntax error at end of rule");
	else
		Fail(p, "42601", (long) p->tok.start, detail, NULL,
			 "syntax error at or near \"%.*s\"",
			 QuoteLength(p->src + p->tok.start, p->tok.len), p->src + p->tok.start);
}

static bool
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
IsDigit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
IsIdentStart(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
IsIdentChar(char c)
{
	return IsIdentStart(c) || IsDigit(c);
}

/* Case-insensitive ASCII comparison of a source span with a lower-case word */
static bool
SpanIs(const char *s, size_t len, const char *word)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');
		if (word[i] == '\0' || word[i] != c)
			return false;
	}
	return word[len] == '\0';
}

/* Is the current token the identifier/keyword word? */
static bool
TokIs(Parser *p, const char *word)
{
	return p->tok.type == TK_IDENT && SpanIs(p->src + p->tok.start, p->tok.len, word);
}

/* ------------------------------------------------------------------------
 * Lexer
 * ------------------------------------------------------------------------ */

/* Reads the next token into p->tok */
static void
Next(Parser *p)
{
	const char *s = p->src;
	size_t		n = p->len;
	size_t		i = p->pos;
	Token	   *t = &p->tok;

	if (p->failed)
		return;
	while (i < n && IsSpace(s[i]))
		i++;
	memset(t, 0, sizeof(*t));
	t->start = i;
	if (i >= n)
	{
		t->type = TK_EOF;
		p->pos = i;
		return;
	}
	if (IsIdentStart(s[i]))
	{
		while (i < n && IsIdentChar(s[i]))
			i++;
		t->type = TK_IDENT;
	}
	else if (IsDigit(s[i]) || (s[i] == '.' && i + 1 < n && IsDigit(s[i + 1])))
	{
		char		buf[128];
		size_t		start = i;

		while (i < n && IsDigit(s[i]))
			i++;
		if (i < n && s[i] == '.')
		{
			i++;
			while (i < n && IsDigit(s[i]))
				i++;
		}
		if (i < n && (s[i] == 'e' || s[i] == 'E'))
		{
			size_t		j = i + 1;

			if (j < n && (s[j] == '+' || s[j] == '-'))
				j++;
			if (j < n && IsDigit(s[j]))
			{
				i = j;
				while (i < n && IsDigit(s[i]))
					i++;
			}
		}
		t->type = TK_NUMBER;
		if (i - start >= sizeof(buf))
		{
			Fail(p, "22003", (long) start, "A number may have at most 127 characters.", NULL,
				 "number is too long");
			return;
		}
		memcpy(buf, s + start, i - start);
		buf[i - start] = '\0';
		t->num = strtod(buf, NULL);
		if (!isfinite(t->num))
		{
			Fail(p, "22003", (long) start, NULL, NULL,
				 "number \"%s\" is out of range", buf);
			return;
		}
	}
	else if (s[i] == '\'')
	{
		size_t		start = i;
		size_t		k = 0;
		char	   *out;

		/* first pass: find the end and the unescaped length */
		i++;
		for (;;)
		{
			if (i >= n)
			{
				Fail(p, "42601", (long) start, "A string starts here and has no closing quote.",
					 "Write a quote inside a string as two quotes, as in 'it''s'.",
					 "unterminated quoted string");
				return;
			}
			if (s[i] == '\'')
			{
				if (i + 1 < n && s[i + 1] == '\'')
					i++;
				else
					break;
			}
			i++;
			k++;
		}
		i++;					/* closing quote */
		out = Alloc(p, k + 1);
		if (out == NULL)
			return;
		k = 0;
		for (size_t j = start + 1; j < i - 1; j++)
		{
			out[k++] = s[j];
			if (s[j] == '\'')
				j++;
		}
		out[k] = '\0';
		t->type = TK_STRING;
		t->str = out;
		t->slen = k;
	}
	else
	{
		char		c = s[i];
		char		c2 = i + 1 < n ? s[i + 1] : '\0';

		i++;
		switch (c)
		{
			case '(':
				t->type = TK_LPAREN;
				break;
			case ')':
				t->type = TK_RPAREN;
				break;
			case ',':
				t->type = TK_COMMA;
				break;
			case '.':
				t->type = TK_DOT;
				break;
			case '-':
				if (c2 == '-')
				{
					/* a comment start, refused with a hint */
					t->type = TK_BAD;
					t->len = 2;
					p->pos = i + 1;
					Fail(p, "42601", (long) t->start,
						 "This character is not part of the rule language.",
						 "Rules have no comments.", "syntax error at or near \"--\"");
					return;
				}
				t->type = TK_MINUS;
				break;
			case '=':
				t->type = TK_OP;
				t->op = RULE_OP_EQ;
				break;
			case '<':
				t->type = TK_OP;
				t->op = RULE_OP_LT;
				if (c2 == '=')
				{
					t->op = RULE_OP_LE;
					i++;
				}
				else if (c2 == '>')
				{
					t->op = RULE_OP_NE;
					i++;
				}
				break;
			case '>':
				t->type = TK_OP;
				t->op = RULE_OP_GT;
				if (c2 == '=')
				{
					t->op = RULE_OP_GE;
					i++;
				}
				break;
			case '!':
				if (c2 == '=')
				{
					t->type = TK_OP;
					t->op = RULE_OP_NE;
					i++;
					break;
				}
				/* FALLTHROUGH */
			default:
				{
					size_t		clen = 1;

					/* quote one whole UTF-8 character */
					while (i < n && clen < 4 && ((unsigned char) s[i] & 0xC0) == 0x80)
					{
						i++;
						clen++;
					}
					t->type = TK_BAD;
					t->len = clen;
					p->pos = i;
					Fail(p, "42601", (long) t->start,
						 "This character is not part of the rule language.",
						 c == '"' ? "Write strings in single quotes, as in city = 'Shanghai'." :
						 c == '/' ? "Rules have no comments." : NULL,
						 "syntax error at or near \"%.*s\"", (int) clen, s + t->start);
					return;
				}
		}
	}
	t->len = i - t->start;
	p->pos = i;
}

/* Does '(' follow the current token (function call syntax)? */
static bool
NextIsLParen(Parser *p)
{
	size_t		i = p->pos;

	while (i < p->len && IsSpace(p->src[i]))
		i++;
	return i < p->len && p->src[i] == '(';
}

static bool
Expect(Parser *p, TokenType type, const char *expected)
{
	if (p->failed)
		return false;
	if (p->tok.type != type)
	{
		SyntaxError(p, expected);
		return false;
	}
	Next(p);
	return !p->failed;
}

static bool
ExpectWord(Parser *p, const char *word, const char *expected)
{
	if (p->failed)
		return false;
	if (!TokIs(p, word))
	{
		SyntaxError(p, expected);
		return false;
	}
	Next(p);
	return !p->failed;
}

/* ------------------------------------------------------------------------
 * Output buffer (canonical text)
 * ------------------------------------------------------------------------ */

typedef struct Buf
{
	Parser	   *p;
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
BufInit(Buf *b, Parser *p)
{
	b->p = p;
	b->len = 0;
	b->cap = 64;
	b->data = Alloc(p, b->cap);
}

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
		data = Alloc(b->p, cap);
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

static void
BufPuts(Buf *b, const char *s)
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
	BufPuts(b, tmp);
}

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
		for (int i = 0; i < 3; i++)
		{
			if (secs > 0 && fmod(secs, units[i].seconds) == 0)
			{
				double		k = secs / units[i].seconds;

				BufNumber(b, k);
				BufPuts(b, " ");
				BufPuts(b, k == 1 ? units[i].one : units[i].many);
				return;
			}
		}
	}
	BufNumber(b, secs);
	BufPuts(b, " s");
}

static void
BufLiteral(Buf *b, const RuleLiteral *lit)
{
	switch (lit->type)
	{
		case RULE_TYPE_BOOL:
			BufPuts(b, lit->b ? "true" : "false");
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

				BufPuts(b, "'");
				for (size_t i = 0; i < lit->len; i++)
				{
					if (lit->str[i] == '\'')
					{
						BufAppend(b, lit->str + start, i + 1 - start);
						BufPuts(b, "'");
						start = i + 1;
					}
				}
				BufAppend(b, lit->str + start, lit->len - start);
				BufPuts(b, "'");
				break;
			}
	}
}

/* ------------------------------------------------------------------------
 * Tree building helpers
 * ------------------------------------------------------------------------ */

static RuleNode *
NewNode(Parser *p, RuleNodeKind kind, size_t position)
{
	RuleNode   *node;

	if (p->failed)
		return NULL;
	if (++p->nnodes > RULE_MAX_NODES)
	{
		Fail(p, "54000", (long) position, "A rule may have at most 20000 elements (conditions, values and list items).",
			 "Split the rule into several tags, or use IN lists.", "rule is too complex");
		return NULL;
	}
	node = Alloc(p, sizeof(RuleNode));
	if (node == NULL)
		return NULL;
	node->kind = kind;
	node->position = (int) position;
	return node;
}

static bool
EnterNesting(Parser *p, size_t position)
{
	if (++p->depth > RULE_MAX_NESTING)
	{
		Fail(p, "54000", (long) position, "Parentheses and NOT may be nested at most 255 levels deep.",
			 "Simplify the rule.", "rule is nested too deeply");
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
		Fail(p, "54000", node->position, "Conditions may be nested at most 100 levels deep.",
			 "Simplify the rule.", "rule is nested too deeply");
	return depth;
}

/* Literal order: by type, then value (byte order for text) */
static int
CompareLiterals(const RuleLiteral *a, const RuleLiteral *b)
{
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	switch (a->type)
	{
		case RULE_TYPE_BOOL:
			return (int) a->b - (int) b->b;
		case RULE_TYPE_NUMBER:
		case RULE_TYPE_DURATION:
			return a->num < b->num ? -1 : (a->num > b->num ? 1 : 0);
		case RULE_TYPE_TEXT:
			{
				size_t		n = a->len < b->len ? a->len : b->len;
				int			c = memcmp(a->str, b->str, n);

				if (c != 0)
					return c;
				return a->len < b->len ? -1 : (a->len > b->len ? 1 : 0);
			}
	}
	return 0;
}

static int
CompareLiteralsQsort(const void *a, const void *b)
{
	return CompareLiterals(a, b);
}

/* Sorts a literal list and drops duplicates; returns the new length */
static int
SortUnique(RuleLiteral *list, int n)
{
	int			k = 0;

	if (n <= 1)
		return n;
	qsort(list, (size_t) n, sizeof(RuleLiteral), CompareLiteralsQsort);
	for (int i = 1; i < n; i++)
		if (CompareLiterals(&list[k], &list[i]) != 0)
			list[++k] = list[i];
	return k + 1;
}

static int
CompareFilters(const RuleFilter *a, const RuleFilter *b)
{
	int			c = strcmp(a->field, b->field);

	if (c != 0)
		return c;
	if (a->op != b->op)
		return a->op < b->op ? -1 : 1;
	if (a->nvalues != b->nvalues)
		return a->nvalues < b->nvalues ? -1 : 1;
	for (int i = 0; i < a->nvalues; i++)
	{
		c = CompareLiterals(&a->values[i], &b->values[i]);
		if (c != 0)
			return c;
	}
	return 0;
}

static int
CompareFiltersQsort(const void *a, const void *b)
{
	return CompareFilters(a, b);
}

static unsigned
HashString(const char *s)
{
	unsigned	h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}

/* Registers a measure whose text is set; returns its index, or -1 */
static int
AddMeasure(Parser *p, RuleMeasure *m)
{
	unsigned	h;

	if (p->failed || m->text == NULL)
		return -1;
	h = HashString(m->text);
	for (int i = 0; i < p->nmeasures; i++)
		if (p->hashes[i] == h && strcmp(p->measures[i].text, m->text) == 0)
			return i;
	if (p->nmeasures >= RULE_MAX_MEASURES)
	{
		Fail(p, "54000", m->position, "A rule may use at most 1000 distinct measures.",
			 "Split the rule into several tags.", "rule uses too many measures");
		return -1;
	}
	if (p->nmeasures == p->maxmeasures)
	{
		int			newmax = p->maxmeasures ? p->maxmeasures * 2 : 8;
		RuleMeasure *measures = Alloc(p, sizeof(RuleMeasure) * (size_t) newmax);
		unsigned   *hashes = Alloc(p, sizeof(unsigned) * (size_t) newmax);

		if (measures == NULL || hashes == NULL)
			return -1;
		if (p->nmeasures > 0)
		{
			memcpy(measures, p->measures, sizeof(RuleMeasure) * (size_t) p->nmeasures);
			memcpy(hashes, p->hashes, sizeof(unsigned) * (size_t) p->nmeasures);
		}
		p->measures = measures;
		p->hashes = hashes;
		p->maxmeasures = newmax;
	}
	m->id = p->nmeasures + 1;
	p->measures[p->nmeasures] = *m;
	p->hashes[p->nmeasures] = h;
	return p->nmeasures++;
}

static RuleNode *
MeasureNode(Parser *p, RuleMeasure *m, size_t position)
{
	int			index = AddMeasure(p, m);
	RuleNode   *node;

	if (index < 0)
		return NULL;
	node = NewNode(p, RULE_NODE_MEASURE, position);
	if (node == NULL)
		return NULL;
	node->type = p->measures[index].type;
	node->measure = index;
	return node;
}

/* ------------------------------------------------------------------------
 * Literals and durations
 * ------------------------------------------------------------------------ */

/* A unit word after a number; seconds, 0 if not a unit, -1 if refused */
static double
UnitSeconds(Parser *p)
{
	static const char *const refused[] = {"mon", "month", "months", "y", "yr", "year", "years", "ms"};

	if (p->tok.type != TK_IDENT)
		return 0;
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (TokIs(p, duration_units[i].name))
			return duration_units[i].seconds;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (TokIs(p, refused[i]))
		{
			Fail(p, "22023", (long) p->tok.start,
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
		Next(p);
		if (p->failed)
			return false;
		if (p->tok.type != TK_NUMBER)
		{
			SyntaxError(p, "a number after the minus sign");
			return false;
		}
	}
	if (p->tok.type == TK_NUMBER)
	{
		double		v = p->tok.num;
		double		unit;

		Next(p);
		unit = UnitSeconds(p);
		if (unit < 0)
			return false;
		if (unit > 0)
		{
			if (negative)
			{
				Fail(p, "22003", (long) start, "Durations cannot be negative.", NULL,
					 "duration is out of range");
				return false;
			}
			v *= unit;
			if (!(v <= RULE_MAX_DURATION))
			{
				Fail(p, "22003", (long) start, "A duration may be at most 100 years.", NULL,
					 "duration is out of range");
				return false;
			}
			lit->type = RULE_TYPE_DURATION;
			lit->num = v;
			Next(p);
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
		Next(p);
		return !p->failed;
	}
	if (TokIs(p, "true") || TokIs(p, "false"))
	{
		lit->type = RULE_TYPE_BOOL;
		lit->b = TokIs(p, "true");
		Next(p);
		return !p->failed;
	}
	if (TokIs(p, "null"))
	{
		Fail(p, "42601", (long) start, "NULL is not a value that can be compared.",
			 "To test for a missing value, write: city is null.",
			 "NULL is not allowed here");
		return false;
	}
	SyntaxError(p, expected);
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
		SyntaxError(p, expected);
		return false;
	}
	if (!ParseLiteral(p, &lit, expected))
		return false;
	if (lit.type != RULE_TYPE_DURATION)
	{
		Fail(p, "42601", (long) start, "A window length needs a unit, as in 30 days.", NULL,
			 "duration unit missing");
		return false;
	}
	*secs = lit.num;
	return true;
}

/* ------------------------------------------------------------------------
 * Aggregates and functions
 * ------------------------------------------------------------------------ */

static const RowField *
FindRowField(RuleSource source, const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(row_fields) / sizeof(row_fields[0]); i++)
		if (row_fields[i].source == source && SpanIs(s, len, row_fields[i].name))
			return &row_fields[i];
	return NULL;
}

static void
UnknownField(Parser *p, RuleSource source)
{
	Fail(p, "42703", (long) p->tok.start, NULL,
		 source == RULE_SOURCE_ORDER ? "Orders have the fields amount, channel and product." :
		 "Events have the fields kind, object, channel and duration.",
		 "%s has no field \"%.*s\"", RuleSourceName(source),
		 QuoteLength(p->src + p->tok.start, p->tok.len), p->src + p->tok.start);
}

/* field op literal | field [not] in (literal, ...) */
static bool
ParseFilter(Parser *p, RuleSource source, RuleFilter *f)
{
	const RowField *field;
	size_t		start;

	if (p->tok.type != TK_IDENT)
	{
		SyntaxError(p, "a field name");
		return false;
	}
	field = FindRowField(source, p->src + p->tok.start, p->tok.len);
	if (field == NULL)
	{
		UnknownField(p, source);
		return false;
	}
	f->field = field->name;
	f->type = field->type;
	Next(p);
	start = p->tok.start;
	if (p->tok.type == TK_OP)
	{
		f->op = p->tok.op;
		Next(p);
		f->nvalues = 1;
		f->values = Alloc(p, sizeof(RuleLiteral));
		if (f->values == NULL || !ParseLiteral(p, &f->values[0], "a value"))
			return false;
	}
	else if (TokIs(p, "in") || TokIs(p, "not"))
	{
		int			max = 4;

		f->op = RULE_OP_IN;
		if (TokIs(p, "not"))
		{
			f->op = RULE_OP_NOT_IN;
			Next(p);
			if (!TokIs(p, "in"))
			{
				SyntaxError(p, "IN after NOT");
				return false;
			}
		}
		Next(p);
		if (!Expect(p, TK_LPAREN, "( to start the list"))
			return false;
		f->values = Alloc(p, sizeof(RuleLiteral) * (size_t) max);
		for (;;)
		{
			if (f->values == NULL)
				return false;
			if (f->nvalues == max)
			{
				RuleLiteral *values = Alloc(p, sizeof(RuleLiteral) * (size_t) max * 2);

				if (values == NULL)
					return false;
				memcpy(values, f->values, sizeof(RuleLiteral) * (size_t) max);
				f->values = values;
				max *= 2;
			}
			if (++p->nnodes > RULE_MAX_NODES)
			{
				Fail(p, "54000", (long) p->tok.start, "A rule may have at most 20000 elements (conditions, values and list items).",
					 "Split the rule into several tags.", "rule is too complex");
				return false;
			}
			if (!ParseLiteral(p, &f->values[f->nvalues], "a value"))
				return false;
			f->nvalues++;
			if (p->tok.type != TK_COMMA)
				break;
			Next(p);
		}
		if (!Expect(p, TK_RPAREN, ", or ) in the list"))
			return false;
	}
	else
	{
		SyntaxError(p, "a comparison operator or IN");
		return false;
	}
	for (int i = 0; i < f->nvalues; i++)
	{
		if (f->values[i].type != f->type)
		{
			Fail(p, "42804", (long) start,
				 f->type == RULE_TYPE_DURATION ? "Write a duration with a unit, as in 30 s." : NULL, NULL,
				 "field \"%s\" is %s but is compared with %s", f->field,
				 RuleTypeName(f->type), RuleTypeName(f->values[i].type));
			return false;
		}
	}
	if ((f->type == RULE_TYPE_TEXT || f->type == RULE_TYPE_BOOL) &&
		f->op != RULE_OP_EQ && f->op != RULE_OP_NE && f->op != RULE_OP_IN && f->op != RULE_OP_NOT_IN)
	{
		Fail(p, "42883", (long) start, "Text can only be compared with =, <>, IN and NOT IN.", NULL,
			 "operator %s is not defined for %s", RuleOpName(f->op), RuleTypeName(f->type));
		return false;
	}
	if (f->op == RULE_OP_IN || f->op == RULE_OP_NOT_IN)
	{
		f->nvalues = SortUnique(f->values, f->nvalues);
		if (f->nvalues == 1)
			f->op = f->op == RULE_OP_IN ? RULE_OP_EQ : RULE_OP_NE;
	}
	return true;
}

static void
BufFilter(Buf *b, const RuleFilter *f)
{
	BufPuts(b, f->field);
	BufPuts(b, " ");
	BufPuts(b, RuleOpName(f->op));
	BufPuts(b, " ");
	if (f->op == RULE_OP_IN || f->op == RULE_OP_NOT_IN)
	{
		BufPuts(b, "(");
		for (int i = 0; i < f->nvalues; i++)
		{
			if (i > 0)
				BufPuts(b, ", ");
			BufLiteral(b, &f->values[i]);
		}
		BufPuts(b, ")");
	}
	else
		BufLiteral(b, &f->values[0]);
}

/* Canonical text of an aggregate measure (its identity) */
static const char *
AggregateText(Parser *p, const RuleMeasure *m)
{
	Buf			b;
	int			shorthand = -1;
	bool		first = true;

	BufInit(&b, p);
	BufPuts(&b, RuleAggFuncName(m->func));
	BufPuts(&b, "(");
	BufPuts(&b, RuleSourceName(m->source));
	if (m->field)
	{
		BufPuts(&b, ".");
		BufPuts(&b, m->field);
	}
	for (int i = 0; i < m->nfilters; i++)
		if (strcmp(m->filters[i].field, "kind") == 0 && m->filters[i].op == RULE_OP_EQ)
		{
			shorthand = i;
			BufPuts(&b, " ");
			BufLiteral(&b, &m->filters[i].values[0]);
			break;
		}
	for (int i = 0; i < m->nfilters; i++)
	{
		if (i == shorthand)
			continue;
		BufPuts(&b, first ? " where " : " and ");
		first = false;
		BufFilter(&b, &m->filters[i]);
	}
	if (m->has_window)
	{
		if (m->window_to == 0)
		{
			BufPuts(&b, ", last ");
			BufDuration(&b, m->window_from);
		}
		else
		{
			BufPuts(&b, ", from ");
			BufDuration(&b, m->window_from);
			BufPuts(&b, " ago to ");
			BufDuration(&b, m->window_to);
			BufPuts(&b, " ago");
		}
	}
	BufPuts(&b, ")");
	return b.data;
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
	if (!Expect(p, TK_LPAREN, "("))
		return NULL;
	if (TokIs(p, "order"))
		m.source = RULE_SOURCE_ORDER;
	else if (TokIs(p, "event"))
		m.source = RULE_SOURCE_EVENT;
	else
	{
		SyntaxError(p, needs_field ? "order.amount or event.duration" : "order or event");
		return NULL;
	}
	Next(p);
	if (p->tok.type == TK_DOT)
	{
		const RowField *field;

		Next(p);
		if (p->failed)
			return NULL;
		if (p->tok.type != TK_IDENT)
		{
			SyntaxError(p, "a field name");
			return NULL;
		}
		field = FindRowField(m.source, p->src + p->tok.start, p->tok.len);
		if (field == NULL)
		{
			UnknownField(p, m.source);
			return NULL;
		}
		if (!needs_field)
		{
			Fail(p, "42804", (long) p->tok.start, NULL, "Write count(event ...) or exists(order ...).",
				 "%s counts rows and takes no field", m.name);
			return NULL;
		}
		if (field->type != RULE_TYPE_NUMBER && field->type != RULE_TYPE_DURATION)
		{
			Fail(p, "42804", (long) p->tok.start, NULL, "Use amount or duration.",
				 "%s needs a number or duration field, and \"%s\" is %s",
				 m.name, field->name, RuleTypeName(field->type));
			return NULL;
		}
		m.field = field->name;
		m.type = field->type;
		Next(p);
	}
	else if (needs_field)
	{
		SyntaxError(p, m.source == RULE_SOURCE_ORDER ? "order.amount" : "event.duration");
		return NULL;
	}
	else
		m.type = func == RULE_AGG_EXISTS ? RULE_TYPE_BOOL : RULE_TYPE_NUMBER;

	m.filters = Alloc(p, sizeof(RuleFilter) * (size_t) maxfilters);
	if (m.filters == NULL)
		return NULL;
	if (p->tok.type == TK_STRING)
	{
		if (m.source != RULE_SOURCE_EVENT)
		{
			Fail(p, "22023", (long) p->tok.start, "Only events have a kind.",
				 "Filter orders with where, as in count(order where channel = 'web').",
				 "an order has no kind");
			return NULL;
		}
		m.filters[0].field = "kind";
		m.filters[0].type = RULE_TYPE_TEXT;
		m.filters[0].op = RULE_OP_EQ;
		m.filters[0].nvalues = 1;
		m.filters[0].values = Alloc(p, sizeof(RuleLiteral));
		if (m.filters[0].values == NULL)
			return NULL;
		m.filters[0].values[0].type = RULE_TYPE_TEXT;
		m.filters[0].values[0].str = p->tok.str;
		m.filters[0].values[0].len = p->tok.slen;
		m.nfilters = 1;
		Next(p);
	}
	if (TokIs(p, "where"))
	{
		do
		{
			Next(p);
			if (p->failed)
				return NULL;
			if (m.nfilters == maxfilters)
			{
				RuleFilter *filters = Alloc(p, sizeof(RuleFilter) * (size_t) maxfilters * 2);

				if (filters == NULL)
					return NULL;
				memcpy(filters, m.filters, sizeof(RuleFilter) * (size_t) maxfilters);
				m.filters = filters;
				maxfilters *= 2;
			}
			if (++p->nnodes > RULE_MAX_NODES)
			{
				Fail(p, "54000", (long) p->tok.start, "A rule may have at most 20000 elements (conditions, values and list items).",
					 "Split the rule into several tags.", "rule is too complex");
				return NULL;
			}
			if (!ParseFilter(p, m.source, &m.filters[m.nfilters]))
				return NULL;
			m.nfilters++;
		} while (TokIs(p, "and"));
	}
	if (p->tok.type == TK_COMMA)
	{
		size_t		wpos;

		Next(p);
		wpos = p->tok.start;
		if (TokIs(p, "last"))
		{
			Next(p);
			if (!ParseDuration(p, &m.window_from, "a duration such as 30 days"))
				return NULL;
			m.window_to = 0;
		}
		else if (TokIs(p, "from"))
		{
			Next(p);
			if (!ParseDuration(p, &m.window_from, "a duration such as 60 days") ||
				!ExpectWord(p, "ago", "AGO"))
				return NULL;
			if (!ExpectWord(p, "to", "TO"))
				return NULL;
			if (TokIs(p, "now"))
			{
				m.window_to = 0;
				Next(p);
			}
			else if (!ParseDuration(p, &m.window_to, "a duration such as 30 days, or NOW") ||
					 !ExpectWord(p, "ago", "AGO"))
				return NULL;
		}
		else
		{
			SyntaxError(p, "a window: last 30 days, or from 60 days ago to 30 days ago");
			return NULL;
		}
		if (p->failed)
			return NULL;
		if (!(m.window_from > m.window_to))
		{
			Fail(p, "22023", (long) wpos,
				 "The start of a window must be further in the past than its end.",
				 "Write the older offset first, as in from 60 days ago to 30 days ago.",
				 "window is empty");
			return NULL;
		}
		m.has_window = true;
		m.time_dependent = true;
	}
	if (!Expect(p, TK_RPAREN, m.has_window ? ")" : "WHERE, a comma and a window, or )"))
		return NULL;

	/* canonical order of filters, duplicates dropped */
	if (m.nfilters > 1)
	{
		int			k = 0;

		qsort(m.filters, (size_t) m.nfilters, sizeof(RuleFilter), CompareFiltersQsort);
		for (int i = 1; i < m.nfilters; i++)
			if (CompareFilters(&m.filters[k], &m.filters[i]) != 0)
				m.filters[++k] = m.filters[i];
		m.nfilters = k + 1;
	}
	m.text = AggregateText(p, &m);
	return MeasureNode(p, &m, position);
}

/* has_tag('name') or has_event('kind'); current token is '(' */
static RuleNode *
ParseStringFunction(Parser *p, bool tag, size_t position)
{
	RuleMeasure m;
	char	   *name;
	size_t		len;
	size_t		argpos;

	if (!Expect(p, TK_LPAREN, "("))
		return NULL;
	argpos = p->tok.start;
	if (p->tok.type != TK_STRING)
	{
		SyntaxError(p, tag ? "a tag name in quotes" : "an event kind in quotes");
		return NULL;
	}
	name = p->tok.str;
	len = p->tok.slen;
	Next(p);
	if (!Expect(p, TK_RPAREN, ")"))
		return NULL;
	if (len == 0)
	{
		Fail(p, "22023", (long) argpos, NULL, NULL,
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
		BufInit(&b, p);
		BufPuts(&b, "has_tag(");
		BufLiteral(&b, &lit);
		BufPuts(&b, ")");
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
		m.filters = Alloc(p, sizeof(RuleFilter));
		if (m.filters == NULL)
			return NULL;
		m.filters[0].field = "kind";
		m.filters[0].type = RULE_TYPE_TEXT;
		m.filters[0].op = RULE_OP_EQ;
		m.filters[0].nvalues = 1;
		m.filters[0].values = Alloc(p, sizeof(RuleLiteral));
		if (m.filters[0].values == NULL)
			return NULL;
		m.filters[0].values[0].type = RULE_TYPE_TEXT;
		m.filters[0].values[0].str = name;
		m.filters[0].values[0].len = len;
		m.text = AggregateText(p, &m);
	}
	return MeasureNode(p, &m, position);
}

/* ------------------------------------------------------------------------
 * Conditions
 * ------------------------------------------------------------------------ */

static RuleNode *ParseOr(Parser *p);

static bool
IsReserved(Parser *p)
{
	static const char *const words[] = {"and", "or", "not", "in", "between", "is", "null",
	"true", "false", "where", "last", "from", "to", "ago", "now"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (TokIs(p, words[i]))
			return true;
	return false;
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
		Next(p);
		node = ParseOr(p);
		if (node == NULL || !Expect(p, TK_RPAREN, ") or a condition operator (AND, OR, =, ...)"))
			return NULL;
		p->depth--;
		return node;
	}
	if (p->tok.type == TK_NUMBER || p->tok.type == TK_MINUS || p->tok.type == TK_STRING ||
		TokIs(p, "true") || TokIs(p, "false") || TokIs(p, "null"))
	{
		RuleNode   *node = NewNode(p, RULE_NODE_CONST, start);

		if (node == NULL || !ParseLiteral(p, &node->lit, "a value"))
			return NULL;
		node->type = node->lit.type;
		return node;
	}
	if (p->tok.type == TK_IDENT && !IsReserved(p))
	{
		const char *s = p->src + p->tok.start;
		size_t		len = p->tok.len;

		if (NextIsLParen(p))
		{
			Next(p);
			for (int f = 0; f < (int) (sizeof(agg_names) / sizeof(agg_names[0])); f++)
				if (SpanIs(s, len, agg_names[f]))
					return ParseAggregate(p, (RuleAggFunc) f, start);
			if (SpanIs(s, len, "has_tag"))
				return ParseStringFunction(p, true, start);
			if (SpanIs(s, len, "has_event"))
				return ParseStringFunction(p, false, start);
			Fail(p, "42883", (long) start, NULL,
				 "The functions are count, sum, min, max, avg, exists, has_event and has_tag.",
				 "function \"%.*s\" does not exist", QuoteLength(s, len), s);
			return NULL;
		}
		for (size_t i = 0; i < sizeof(named_measures) / sizeof(named_measures[0]); i++)
		{
			if (SpanIs(s, len, named_measures[i].name))
			{
				RuleMeasure m;

				memset(&m, 0, sizeof(m));
				m.kind = named_measures[i].kind;
				m.type = named_measures[i].type;
				m.name = named_measures[i].name;
				m.text = named_measures[i].name;
				m.time_dependent = named_measures[i].time_dependent;
				m.position = (int) start;
				Next(p);
				return MeasureNode(p, &m, start);
			}
		}
		Fail(p, "42703", (long) start, NULL, NAMED_HINT,
			 "unknown measure \"%.*s\"", QuoteLength(s, len), s);
		return NULL;
	}
	SyntaxError(p, "a condition or a value");
	return NULL;
}

static bool
IsOrdered(RuleType t)
{
	return t == RULE_TYPE_NUMBER || t == RULE_TYPE_DURATION;
}

static void
TypeMismatch(Parser *p, size_t position, RuleType a, RuleType b)
{
	Fail(p, "42804", (long) position,
		 (a == RULE_TYPE_DURATION || b == RULE_TYPE_DURATION) ?
		 "A duration is compared with durations only, written with a unit as in 30 s or 14 days." : NULL,
		 NULL, "cannot compare %s with %s", RuleTypeName(a), RuleTypeName(b));
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

		Next(p);
		right = ParsePrimary(p);
		if (right == NULL)
			return NULL;
		if (left->type != right->type)
		{
			TypeMismatch(p, start, left->type, right->type);
			return NULL;
		}
		if (!IsOrdered(left->type) && op != RULE_OP_EQ && op != RULE_OP_NE)
		{
			Fail(p, "42883", (long) start,
				 "Only numbers and durations are ordered; text and conditions are compared with = and <>.",
				 NULL, "operator %s is not defined for %s", RuleOpName(op), RuleTypeName(left->type));
			return NULL;
		}
		node = NewNode(p, RULE_NODE_CMP, start);
		if (node == NULL)
			return NULL;
		node->type = RULE_TYPE_BOOL;
		node->op = op;
		node->nargs = 2;
		node->args = Alloc(p, 2 * sizeof(RuleNode *));
		if (node->args == NULL)
			return NULL;
		node->args[0] = left;
		node->args[1] = right;
		return node;
	}
	if (TokIs(p, "not"))
	{
		negate = true;
		Next(p);
		if (!TokIs(p, "in") && !TokIs(p, "between"))
		{
			SyntaxError(p, "IN or BETWEEN after NOT");
			return NULL;
		}
	}
	if (TokIs(p, "in"))
	{
		int			max = 4;

		Next(p);
		if (!Expect(p, TK_LPAREN, "( to start the list"))
			return NULL;
		node = NewNode(p, RULE_NODE_IN, start);
		if (node == NULL)
			return NULL;
		node->type = RULE_TYPE_BOOL;
		node->nargs = 1;
		node->args = Alloc(p, sizeof(RuleNode *));
		node->list = Alloc(p, sizeof(RuleLiteral) * (size_t) max);
		if (node->args == NULL)
			return NULL;
		node->args[0] = left;
		for (;;)
		{
			size_t		vpos = p->tok.start;

			if (node->list == NULL)
				return NULL;
			if (node->nlist == max)
			{
				RuleLiteral *list = Alloc(p, sizeof(RuleLiteral) * (size_t) max * 2);

				if (list == NULL)
					return NULL;
				memcpy(list, node->list, sizeof(RuleLiteral) * (size_t) max);
				node->list = list;
				max *= 2;
			}
			if (++p->nnodes > RULE_MAX_NODES)
			{
				Fail(p, "54000", (long) vpos, "A rule may have at most 20000 elements (conditions, values and list items).",
					 "Split the rule into several tags.", "rule is too complex");
				return NULL;
			}
			if (!ParseLiteral(p, &node->list[node->nlist], "a value"))
				return NULL;
			if (node->list[node->nlist].type != left->type)
			{
				TypeMismatch(p, vpos, left->type, node->list[node->nlist].type);
				return NULL;
			}
			node->nlist++;
			if (p->tok.type != TK_COMMA)
				break;
			Next(p);
		}
		if (!Expect(p, TK_RPAREN, ", or ) in the list"))
			return NULL;
		node->nlist = SortUnique(node->list, node->nlist);
	}
	else if (TokIs(p, "between"))
	{
		RuleNode   *lo;
		RuleNode   *hi;
		size_t		lopos;
		size_t		hipos;

		Next(p);
		lopos = p->tok.start;
		lo = ParsePrimary(p);
		if (lo == NULL || !ExpectWord(p, "and", "AND between the bounds"))
			return NULL;
		hipos = p->tok.start;
		hi = ParsePrimary(p);
		if (hi == NULL)
			return NULL;
		if (lo->type != left->type)
		{
			TypeMismatch(p, lopos, left->type, lo->type);
			return NULL;
		}
		if (hi->type != left->type)
		{
			TypeMismatch(p, hipos, left->type, hi->type);
			return NULL;
		}
		if (!IsOrdered(left->type))
		{
			Fail(p, "42883", (long) start, "Only numbers and durations are ordered.", NULL,
				 "BETWEEN is not defined for %s", RuleTypeName(left->type));
			return NULL;
		}
		node = NewNode(p, RULE_NODE_BETWEEN, start);
		if (node == NULL)
			return NULL;
		node->type = RULE_TYPE_BOOL;
		node->nargs = 3;
		node->args = Alloc(p, 3 * sizeof(RuleNode *));
		if (node->args == NULL)
			return NULL;
		node->args[0] = left;
		node->args[1] = lo;
		node->args[2] = hi;
	}
	else if (!negate && TokIs(p, "is"))
	{
		Next(p);
		if (TokIs(p, "not"))
		{
			negate = true;
			Next(p);
		}
		if (!ExpectWord(p, "null", negate ? "NULL" : "NULL or NOT NULL"))
			return NULL;
		node = NewNode(p, RULE_NODE_IS_NULL, start);
		if (node == NULL)
			return NULL;
		node->type = RULE_TYPE_BOOL;
		node->nargs = 1;
		node->args = Alloc(p, sizeof(RuleNode *));
		if (node->args == NULL)
			return NULL;
		node->args[0] = left;
	}
	else
		return left;

	if (negate)
	{
		RuleNode   *not = NewNode(p, RULE_NODE_NOT, start);

		if (not == NULL)
			return NULL;
		not->type = RULE_TYPE_BOOL;
		not->nargs = 1;
		not->args = Alloc(p, sizeof(RuleNode *));
		if (not->args == NULL)
			return NULL;
		not->args[0] = node;
		node = not;
	}
	return node;
}

static bool
CheckCondition(Parser *p, RuleNode *node, const char *where)
{
	if (node == NULL || p->failed)
		return false;
	if (node->type != RULE_TYPE_BOOL)
	{
		Fail(p, "42804", node->position, NULL,
			 "Compare the value with something, as in total_paid >= 5000.",
			 "argument of %s must be a condition, not %s", where, RuleTypeName(node->type));
		return false;
	}
	return true;
}

/* NOT not_expr | predicate */
static RuleNode *
ParseNot(Parser *p)
{
	size_t		start = p->tok.start;
	RuleNode   *arg;
	RuleNode   *node;

	if (!TokIs(p, "not"))
		return ParsePredicate(p);
	if (!EnterNesting(p, start))
		return NULL;
	Next(p);
	arg = ParseNot(p);
	if (!CheckCondition(p, arg, "NOT"))
		return NULL;
	p->depth--;
	node = NewNode(p, RULE_NODE_NOT, start);
	if (node == NULL)
		return NULL;
	node->type = RULE_TYPE_BOOL;
	node->nargs = 1;
	node->args = Alloc(p, sizeof(RuleNode *));
	if (node->args == NULL)
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

	if (first == NULL || p->failed || !TokIs(p, word))
		return first;
	if (!CheckCondition(p, first, kind == RULE_NODE_AND ? "AND" : "OR"))
		return NULL;
	node = NewNode(p, kind, start);
	if (node == NULL)
		return NULL;
	node->type = RULE_TYPE_BOOL;
	node->args = Alloc(p, sizeof(RuleNode *) * (size_t) max);
	if (node->args == NULL)
		return NULL;
	node->args[node->nargs++] = first;
	while (TokIs(p, word))
	{
		RuleNode   *next;

		Next(p);
		next = sub(p);
		if (!CheckCondition(p, next, kind == RULE_NODE_AND ? "AND" : "OR"))
			return NULL;
		if (node->nargs == max)
		{
			RuleNode  **args = Alloc(p, sizeof(RuleNode *) * (size_t) max * 2);

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
 * Canonical text of the whole tree
 * ------------------------------------------------------------------------ */

static void
BufNode(Buf *b, const RuleTree *tree, const RuleNode *node)
{
	switch (node->kind)
	{
		case RULE_NODE_CONST:
			BufLiteral(b, &node->lit);
			break;
		case RULE_NODE_MEASURE:
			BufPuts(b, tree->measures[node->measure].text);
			break;
		case RULE_NODE_AND:
		case RULE_NODE_OR:
			BufPuts(b, "(");
			for (int i = 0; i < node->nargs; i++)
			{
				if (i > 0)
					BufPuts(b, node->kind == RULE_NODE_AND ? " and " : " or ");
				BufNode(b, tree, node->args[i]);
			}
			BufPuts(b, ")");
			break;
		case RULE_NODE_NOT:
			BufPuts(b, "(not ");
			BufNode(b, tree, node->args[0]);
			BufPuts(b, ")");
			break;
		case RULE_NODE_CMP:
			BufPuts(b, "(");
			BufNode(b, tree, node->args[0]);
			BufPuts(b, " ");
			BufPuts(b, RuleOpName(node->op));
			BufPuts(b, " ");
			BufNode(b, tree, node->args[1]);
			BufPuts(b, ")");
			break;
		case RULE_NODE_IN:
			BufPuts(b, "(");
			BufNode(b, tree, node->args[0]);
			BufPuts(b, " in (");
			for (int i = 0; i < node->nlist; i++)
			{
				if (i > 0)
					BufPuts(b, ", ");
				BufLiteral(b, &node->list[i]);
			}
			BufPuts(b, "))");
			break;
		case RULE_NODE_BETWEEN:
			BufPuts(b, "(");
			BufNode(b, tree, node->args[0]);
			BufPuts(b, " between ");
			BufNode(b, tree, node->args[1]);
			BufPuts(b, " and ");
			BufNode(b, tree, node->args[2]);
			BufPuts(b, ")");
			break;
		case RULE_NODE_IS_NULL:
			BufPuts(b, "(");
			BufNode(b, tree, node->args[0]);
			BufPuts(b, " is null)");
			break;
	}
}

/* ------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------ */

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
	Buf			b;

	memset(err, 0, sizeof(*err));
	err->position = -1;
	memset(&p, 0, sizeof(p));
	p.err = err;
	if (len > RULE_MAX_LENGTH)
	{
		Fail(&p, "54000", -1, "A rule may be at most 65536 bytes long.",
			 "Split the rule into several tags.", "rule is too long");
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL)
	{
		Fail(&p, "22021", (long) ((const char *) memchr(text, '\0', len) - text), NULL, NULL,
			 "rule contains a zero byte");
		return NULL;
	}
	arena = allocator->alloc(sizeof(RuleArena), allocator->arg);
	if (arena == NULL)
	{
		FailMemory(&p);
		return NULL;
	}
	memset(arena, 0, sizeof(*arena));
	arena->allocator = *allocator;
	p.arena = arena;
	p.src = text;
	p.len = len;

	Next(&p);
	if (!p.failed && p.tok.type == TK_EOF)
		SyntaxError(&p, "a condition; the rule is empty");
	root = ParseOr(&p);
	if (root != NULL && !p.failed && p.tok.type != TK_EOF)
		SyntaxError(&p, "AND, OR or the end of the rule");
	if (root != NULL && !p.failed)
		(void) TreeDepth(&p, root);
	if (root != NULL && !p.failed && root->type != RULE_TYPE_BOOL)
		Fail(&p, "42804", root->position, NULL,
			 "Compare the value with something, as in total_paid >= 5000.",
			 "rule must be a condition, not %s", RuleTypeName(root->type));
	tree = Alloc(&p, sizeof(RuleTree));
	if (p.failed || root == NULL || tree == NULL)
	{
		if (!p.failed)
			FailMemory(&p);
		ArenaFree(arena);
		return NULL;
	}
	tree->root = root;
	tree->nmeasures = p.nmeasures;
	tree->measures = p.measures;
	tree->nnodes = p.nnodes;
	tree->arena = arena;
	BufInit(&b, &p);
	BufNode(&b, tree, root);
	tree->canonical = b.data;
	if (p.failed)
	{
		ArenaFree(arena);
		return NULL;
	}
	return tree;
}

/* Frees a tree and everything it owns */
void
RuleFree(RuleTree *tree)
{
	if (tree != NULL)
		ArenaFree(tree->arena);
}
