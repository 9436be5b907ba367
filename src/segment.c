/*
 * segment.c: the segment expression language and its evaluation over the
 * tag sets (docs/segments.md).
 *
 *   expr    := and ("or" and)*
 *   and     := unary ("and" unary)*
 *   unary   := "not" unary | "(" expr ")" | ("tag" | "group" | "segment") "(" string ")"
 *
 * The rule language's lexer (src/rule_lex.c) reads the tokens, so strings,
 * keywords and the errors of bad characters are the same as in rules.  The
 * text is parsed into a small tree; names are resolved with parameterized
 * queries (never SQL built from the text), and the tree is evaluated with
 * roaring operations on the tags' sets (src/bitmap.c), all read in the
 * caller's snapshot.  "not x" is the set of all customers minus x; "a and
 * not b" is computed as a - b without it.
 */
#include "postgres.h"

#include "bitmap.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "rule_parse.h"
#include "tagscrm.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(segment_set);
PG_FUNCTION_INFO_V1(segment_check);

#define SEGMENT_MAX_LENGTH	10000	/* bytes of expression text */
#define SEGMENT_MAX_NODES	1000	/* terms and operators */
#define SEGMENT_MAX_DEPTH	100		/* nested parentheses and NOTs */
#define SEGMENT_MAX_NESTING 16		/* segments referring to segments */

typedef enum SegKind
{
	SEG_TAG,
	SEG_GROUP,
	SEG_SEGMENT,
	SEG_AND,
	SEG_OR,
	SEG_NOT
} SegKind;

typedef struct SegNode
{
	SegKind		kind;
	size_t		position;		/* byte offset of the term or operator */
	const char *name;			/* SEG_TAG, SEG_GROUP, SEG_SEGMENT */
	struct SegNode *left;		/* SEG_AND, SEG_OR, SEG_NOT */
	struct SegNode *right;
} SegNode;

typedef struct SegParser
{
	Parser		p;				/* the rule lexer's state */
	int			nnodes;
	int			depth;
} SegParser;

/* ------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------ */

static SegNode *ParseOr(SegParser *sp);

static void *
HookAlloc(size_t size, void *arg)
{
	return MemoryContextAlloc((MemoryContext) arg, size);
}

static void
HookFree(void *ptr, void *arg)
{
	pfree(ptr);
}

static SegNode *
NewNode(SegParser *sp, SegKind kind, size_t position)
{
	SegNode    *node;

	if (sp->p.failed)
		return NULL;
	if (++sp->nnodes > SEGMENT_MAX_NODES)
	{
		RuleFail(&sp->p, "54000", (long) position,
				 "An expression may have at most 1000 terms and operators.",
				 "Save parts of it as segments and refer to them with segment('name').",
				 "segment expression is too complex");
		return NULL;
	}
	node = palloc0(sizeof(SegNode));
	node->kind = kind;
	node->position = position;
	return node;
}

static void
SyntaxError(SegParser *sp, const char *expected, const char *hint)
{
	Parser	   *p = &sp->p;
	char		detail[256];

	if (p->failed)
		return;
	snprintf(detail, sizeof(detail), "Expected %s.", expected);
	if (p->tok.type == TK_EOF)
		RuleFail(p, "42601", (long) p->tok.start, detail, hint, "syntax error at end of segment expression");
	else
		RuleFail(p, "42601", (long) p->tok.start, detail, hint, "syntax error at or near \"%.*s\"",
				 RuleQuoteLength(p->src + p->tok.start, p->tok.len), p->src + p->tok.start);
}

#define TERM_HINT "A term is tag('name'), group('name') or segment('name'), combined with and, or, not and parentheses."

static SegNode *
ParseTerm(SegParser *sp)
{
	Parser	   *p = &sp->p;
	SegKind		kind;
	SegNode    *node;
	size_t		start = p->tok.start;

	if (p->failed)
		return NULL;
	if (p->tok.type == TK_LPAREN)
	{
		if (++sp->depth > SEGMENT_MAX_DEPTH)
		{
			RuleFail(p, "54000", (long) start, "Parentheses and NOTs may nest at most 100 deep.",
					 "Save parts of the expression as segments.", "segment expression is nested too deeply");
			return NULL;
		}
		RuleNext(p);
		node = ParseOr(sp);
		if (p->failed)
			return NULL;
		if (p->tok.type != TK_RPAREN)
		{
			SyntaxError(sp, "\")\", \"and\" or \"or\"", NULL);
			return NULL;
		}
		RuleNext(p);
		sp->depth--;
		return node;
	}
	if (RuleTokIs(p, "tag"))
		kind = SEG_TAG;
	else if (RuleTokIs(p, "group"))
		kind = SEG_GROUP;
	else if (RuleTokIs(p, "segment"))
		kind = SEG_SEGMENT;
	else
	{
		SyntaxError(sp, "tag('name'), group('name'), segment('name'), \"not\" or \"(\"", TERM_HINT);
		return NULL;
	}
	RuleNext(p);
	if (p->failed)
		return NULL;
	if (p->tok.type != TK_LPAREN)
	{
		SyntaxError(sp, "\"(\"", "Write the name in parentheses and single quotes, as in tag('VIP').");
		return NULL;
	}
	RuleNext(p);
	if (p->failed)
		return NULL;
	if (p->tok.type != TK_STRING)
	{
		SyntaxError(sp, "a name in single quotes", "Write the name in single quotes, as in tag('VIP').");
		return NULL;
	}
	node = NewNode(sp, kind, start);
	if (node == NULL)
		return NULL;
	node->name = pstrdup(p->tok.str);
	RuleNext(p);
	if (p->failed)
		return NULL;
	if (p->tok.type != TK_RPAREN)
	{
		SyntaxError(sp, "\")\"", "A term names one thing: tag('a') or tag('b'), not tag('a', 'b').");
		return NULL;
	}
	RuleNext(p);
	return node;
}

static SegNode *
ParseUnary(SegParser *sp)
{
	Parser	   *p = &sp->p;

	if (p->failed)
		return NULL;
	if (RuleTokIs(p, "not"))
	{
		size_t		start = p->tok.start;
		SegNode    *node;
		SegNode    *operand;

		if (++sp->depth > SEGMENT_MAX_DEPTH)
		{
			RuleFail(p, "54000", (long) start, "Parentheses and NOTs may nest at most 100 deep.",
					 "Save parts of the expression as segments.", "segment expression is nested too deeply");
			return NULL;
		}
		RuleNext(p);
		operand = ParseUnary(sp);
		sp->depth--;
		node = NewNode(sp, SEG_NOT, start);
		if (node == NULL || operand == NULL)
			return NULL;
		node->left = operand;
		return node;
	}
	return ParseTerm(sp);
}

static SegNode *
ParseBinary(SegParser *sp, const char *word, SegKind kind)
{
	Parser	   *p = &sp->p;
	SegNode    *left = kind == SEG_OR ? ParseBinary(sp, "and", SEG_AND) : ParseUnary(sp);

	while (!p->failed && RuleTokIs(p, word))
	{
		size_t		start = p->tok.start;
		SegNode    *right;
		SegNode    *node;

		RuleNext(p);
		right = kind == SEG_OR ? ParseBinary(sp, "and", SEG_AND) : ParseUnary(sp);
		node = NewNode(sp, kind, start);
		if (node == NULL || right == NULL)
			return NULL;
		node->left = left;
		node->right = right;
		left = node;
	}
	return p->failed ? NULL : left;
}

static SegNode *
ParseOr(SegParser *sp)
{
	return ParseBinary(sp, "or", SEG_OR);
}

/* The tree of an expression, or the error raised with its position */
static SegNode *
ParseExpression(const char *src, size_t len)
{
	SegParser	sp;
	RuleAllocator allocator = {HookAlloc, HookFree, CurrentMemoryContext};
	RuleError	err;
	SegNode    *root;

	memset(&sp, 0, sizeof(sp));
	memset(&err, 0, sizeof(err));
	sp.p.src = src;
	sp.p.len = len;
	sp.p.err = &err;
	if (len > SEGMENT_MAX_LENGTH)
	{
		RuleFail(&sp.p, "54000", -1, "A segment expression may have at most 10000 bytes.",
				 "Save parts of it as segments and refer to them with segment('name').",
				 "segment expression is too long (%zu bytes)", len);
		RuleReportError(&err, src, len);
	}
	sp.p.arena = RuleArenaCreate(&allocator);
	RuleNext(&sp.p);
	if (!sp.p.failed && sp.p.tok.type == TK_EOF)
		RuleFail(&sp.p, "42601", 0, NULL, "Write an expression such as tag('VIP') and not tag('churned').",
				 "segment expression is empty");
	root = ParseOr(&sp);
	if (!sp.p.failed && sp.p.tok.type != TK_EOF)
		SyntaxError(&sp, "\"and\", \"or\" or the end of the expression", NULL);

	/*
	 * The shared lexer refuses a number too long or out of range (22003) as
	 * it reads it; the segment language has no numbers at all, so here that
	 * is a syntax error like any other token out of place (42601, as
	 * docs/segments.md lists).  Found by test/segment_fuzz.
	 */
	if (sp.p.failed && memcmp(err.sqlstate, "22003", 5) == 0)
	{
		memcpy(err.sqlstate, "42601", 5);
		snprintf(err.detail, sizeof(err.detail), "A segment expression has no numbers.");
		snprintf(err.hint, sizeof(err.hint), "Write a name in single quotes, as in tag('2026').");
	}
	if (sp.p.failed)
		RuleReportError(&err, src, len);
	RuleArenaFree(sp.p.arena);
	return root;
}

/* ------------------------------------------------------------------------
 * Resolving names and evaluating
 * ------------------------------------------------------------------------ */

typedef struct SegEval
{
	const char *schema;			/* quoted */
	MemoryContext cxt;			/* where the owners live (outside SPI) */
	bool		evaluate;		/* false: only resolve names (segment_check) */
	BitmapOwner *universe;		/* every customer, read at the first "not" */
	const char *segments[SEGMENT_MAX_NESTING + 1];	/* segments being expanded */
	int			nsegments;
	const char *defining;		/* segment_check: the segment being defined */
	List	   *used;			/* segment_check: segments the text refers to */
} SegEval;

typedef struct SegContext
{
	const char *segment;
} SegContext;

static void
SegmentErrorContext(void *arg)
{
	SegContext *c = (SegContext *) arg;

	errcontext("in segment \"%s\"", c->segment);
}

/* Raises a name error at a term of the expression text */
pg_attribute_noreturn()
static void
NameError(const char *src, size_t len, const SegNode *node, const char *sqlstate,
		  const char *hint, const char *fmt, const char *name)
{
	RuleError	err;
	int			keep = pg_mbcliplen(name, (int) strlen(name), 200);

	/*
	 * A long name is shown clipped at a whole character: snprintf would cut
	 * a letter outside ASCII in two, and RuleReportError would then replace
	 * the whole message with a generic one (found by test/segment_fuzz).
	 */
	if ((size_t) keep < strlen(name))
		name = psprintf("%.*s...", keep, name);
	memset(&err, 0, sizeof(err));
	memcpy(err.sqlstate, sqlstate, 5);
	err.position = (int) node->position;
	snprintf(err.message, sizeof(err.message), fmt, name);
	snprintf(err.hint, sizeof(err.hint), "%s", hint);
	RuleReportError(&err, src, len);
}

/* One value of a one-row, one-column query with one text parameter */
static Datum
QueryOne(const char *sql, const char *arg, Oid argtype, Datum argdatum, bool *found)
{
	Oid			types[1];
	Datum		values[1];
	bool		isnull;
	Datum		result;

	types[0] = arg != NULL ? TEXTOID : argtype;
	values[0] = arg != NULL ? CStringGetTextDatum(arg) : argdatum;
	if (SPI_execute_with_args(sql, 1, types, values, NULL, true, 2) != SPI_OK_SELECT)
		elog(ERROR, "segment lookup failed: %s", sql);
	if (SPI_processed == 0)
	{
		*found = false;
		return (Datum) 0;
	}
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*found = !isnull;
	return result;
}

/* A tag's set (tag 0: every customer), owned by e->cxt */
static BitmapOwner *
TagSet(SegEval *e, int32 tag_id)
{
	char	   *sql = psprintf("SELECT %s.tag_set($1)", e->schema);
	bool		found;
	Datum		d = QueryOne(sql, NULL, INT4OID, Int32GetDatum(tag_id), &found);
	MemoryContext old;
	BitmapOwner *owner;

	old = MemoryContextSwitchTo(e->cxt);
	owner = found ? BitmapFromDatum((CustomerSet *) PG_DETOAST_DATUM(d)) : BitmapEmpty();
	MemoryContextSwitchTo(old);
	return owner;
}

static BitmapOwner *
Copy(SegEval *e, const BitmapOwner *src)
{
	MemoryContext old = MemoryContextSwitchTo(e->cxt);
	BitmapOwner *owner = BitmapOwn(roaring_bitmap_copy(src->bitmap));

	MemoryContextSwitchTo(old);
	return owner;
}

static BitmapOwner *Evaluate(SegEval *e, const char *src, size_t len, const SegNode *node);

static BitmapOwner *
EvaluateSegment(SegEval *e, const char *src, size_t len, const SegNode *node)
{
	char	   *sql = psprintf("SELECT s.name, s.expression FROM %s.segment s "
							   "WHERE pg_catalog.lower(s.name) = %s.name_key($1)", e->schema, e->schema);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	char	   *name;
	char	   *expr;
	SegNode    *tree;
	SegContext	c;
	ErrorContextCallback cb;
	BitmapOwner *result;
	int			i;

	values[0] = CStringGetTextDatum(node->name);
	if (SPI_execute_with_args(sql, 1, types, values, NULL, true, 2) != SPI_OK_SELECT)
		elog(ERROR, "segment lookup failed: %s", sql);
	if (SPI_processed == 0 && e->defining != NULL && pg_strcasecmp(node->name, e->defining) == 0)
		NameError(src, len, node, "22023", "A segment cannot contain itself, directly or through other segments.",
				  "segment \"%s\" would refer to itself", node->name);
	if (SPI_processed == 0)
		NameError(src, len, node, "42704", "See tagscrm.segments for the segments defined.",
				  "segment \"%s\" does not exist", node->name);
	name = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	expr = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	if (e->defining != NULL && pg_strcasecmp(name, e->defining) == 0)
		NameError(src, len, node, "22023", "A segment cannot contain itself, directly or through other segments.",
				  "segment \"%s\" would refer to itself", name);
	for (i = 0; i < e->nsegments; i++)
		if (strcmp(e->segments[i], name) == 0)
			NameError(src, len, node, "22023", "A segment cannot contain itself, directly or through other segments.",
					  "segment \"%s\" refers to itself", name);
	if (e->nsegments >= SEGMENT_MAX_NESTING)
		NameError(src, len, node, "54000", "Segments may refer to segments at most 16 deep.",
				  "segments are nested more than 16 deep at segment \"%s\"", name);
	if (e->nsegments == 1 && e->defining != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(e->cxt);

		e->used = lappend(e->used, pstrdup(name));
		MemoryContextSwitchTo(old);
	}

	c.segment = name;
	cb.callback = SegmentErrorContext;
	cb.arg = &c;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	e->segments[e->nsegments++] = name;
	tree = ParseExpression(expr, strlen(expr));
	result = Evaluate(e, expr, strlen(expr), tree);
	e->nsegments--;
	error_context_stack = cb.previous;
	return result;
}

static BitmapOwner *
Universe(SegEval *e)
{
	if (e->universe == NULL)
		e->universe = TagSet(e, 0);
	return e->universe;
}

static BitmapOwner *
Evaluate(SegEval *e, const char *src, size_t len, const SegNode *node)
{
	BitmapOwner *a;
	BitmapOwner *b;
	bool		found;

	CHECK_FOR_INTERRUPTS();
	check_stack_depth();
	switch (node->kind)
	{
		case SEG_TAG:
			{
				char	   *sql = psprintf("SELECT w.tag_id FROM %s.tag_word w WHERE w.word = %s.name_key($1)",
										   e->schema, e->schema);
				Datum		d = QueryOne(sql, node->name, InvalidOid, 0, &found);

				if (!found)
					NameError(src, len, node, "42704",
							  "See tagscrm.tags for the tag library; tagscrm.add_tag_alias() adds another word for a tag.",
							  "tag \"%s\" does not exist", node->name);
				return e->evaluate ? TagSet(e, DatumGetInt32(d)) : NULL;
			}
		case SEG_GROUP:
			{
				char	   *sql = psprintf("SELECT pg_catalog.array_agg(t.tag_id ORDER BY t.tag_id) "
										   "FILTER (WHERE t.tag_id IS NOT NULL) FROM %s.tag_group g "
										   "LEFT JOIN %s.tag t ON t.group_id = g.group_id "
										   "WHERE pg_catalog.lower(g.name) = %s.name_key($1) GROUP BY g.group_id",
										   e->schema, e->schema, e->schema);
				Datum		d;
				Datum	   *tags;
				int			ntags;
				int			i;
				MemoryContext old;

				d = QueryOne(sql, node->name, InvalidOid, 0, &found);
				if (SPI_processed == 0)
					NameError(src, len, node, "42704",
							  "See tagscrm.tag_groups for the groups.",
							  "tag group \"%s\" does not exist", node->name);
				old = MemoryContextSwitchTo(e->cxt);
				a = BitmapEmpty();
				MemoryContextSwitchTo(old);
				if (!found || !e->evaluate)
					return a;
				deconstruct_array(DatumGetArrayTypeP(d), INT4OID, 4, true, TYPALIGN_INT, &tags, NULL, &ntags);
				for (i = 0; i < ntags; i++)
				{
					b = TagSet(e, DatumGetInt32(tags[i]));
					roaring_bitmap_or_inplace(a->bitmap, b->bitmap);
					BitmapRelease(b);
				}
				return a;
			}
		case SEG_SEGMENT:
			return EvaluateSegment(e, src, len, node);
		case SEG_NOT:
			a = Evaluate(e, src, len, node->left);
			if (!e->evaluate)
				return NULL;
			b = Copy(e, Universe(e));
			roaring_bitmap_andnot_inplace(b->bitmap, a->bitmap);
			BitmapRelease(a);
			return b;
		case SEG_AND:
		case SEG_OR:
			{
				const SegNode *l = node->left;
				const SegNode *r = node->right;

				/* a and not b: a - b, without the set of all customers */
				if (node->kind == SEG_AND && l->kind == SEG_NOT && r->kind != SEG_NOT)
				{
					l = node->right;
					r = node->left;
				}
				a = Evaluate(e, src, len, l);
				if (node->kind == SEG_AND && r->kind == SEG_NOT)
				{
					b = Evaluate(e, src, len, r->left);
					if (!e->evaluate)
						return NULL;
					roaring_bitmap_andnot_inplace(a->bitmap, b->bitmap);
				}
				else
				{
					b = Evaluate(e, src, len, r);
					if (!e->evaluate)
						return NULL;
					if (node->kind == SEG_AND)
						roaring_bitmap_and_inplace(a->bitmap, b->bitmap);
					else
						roaring_bitmap_or_inplace(a->bitmap, b->bitmap);
				}
				BitmapRelease(b);
				return a;
			}
	}
	elog(ERROR, "unknown segment node %d", (int) node->kind);
	return NULL;
}

/* Evaluates (or checks) a saved segment's name or an expression */
static BitmapOwner *
Run(FunctionCallInfo fcinfo, SegEval *e, text *arg)
{
	char	   *src = text_to_cstring(arg);
	size_t		len = strlen(src);
	char	   *sql;
	bool		found;
	SegNode    *tree;
	SegNode		named;
	BitmapOwner *result;

	e->schema = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
	e->cxt = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* a saved segment's name stands for segment('name') */
	sql = psprintf("SELECT 1 FROM %s.segment s WHERE pg_catalog.lower(s.name) = %s.name_key($1)",
				   e->schema, e->schema);
	if (e->defining == NULL && len <= 256)
		QueryOne(sql, src, InvalidOid, 0, &found);
	else
		found = false;
	if (found)
	{
		memset(&named, 0, sizeof(named));
		named.kind = SEG_SEGMENT;
		named.name = src;
		tree = &named;
	}
	else
		tree = ParseExpression(src, len);
	result = Evaluate(e, src, len, tree);
	SPI_finish();
	return result;
}

/* segment_set(expression_or_name) RETURNS customer_set */
Datum
segment_set(PG_FUNCTION_ARGS)
{
	SegEval		e;
	BitmapOwner *result;

	memset(&e, 0, sizeof(e));
	e.evaluate = true;
	result = Run(fcinfo, &e, PG_GETARG_TEXT_PP(0));
	if (e.universe != NULL)
		BitmapRelease(e.universe);
	PG_RETURN_POINTER(BitmapToDatum(result));
}

/*
 * segment_check(expression, defining) RETURNS text[]: raises unless every
 * name exists and the expression does not lead back to the segment being
 * defined; returns the segments it names directly.
 */
Datum
segment_check(PG_FUNCTION_ARGS)
{
	SegEval		e;
	ListCell   *lc;
	ArrayBuildState *astate = NULL;

	memset(&e, 0, sizeof(e));
	e.evaluate = false;
	e.defining = text_to_cstring(PG_GETARG_TEXT_PP(1));
	/* the segment defined is the first level: as deep as when it is used */
	e.segments[e.nsegments++] = e.defining;
	Run(fcinfo, &e, PG_GETARG_TEXT_PP(0));
	foreach(lc, e.used)
		astate = accumArrayResult(astate, CStringGetTextDatum((char *) lfirst(lc)), false, TEXTOID,
								  CurrentMemoryContext);
	if (astate == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}
