/*
 * segment.c: the segment expression language and its evaluation over the
 * tag sets (docs/segments.md).
 *
 *   expr    := and ("or" and)*
 *   and     := unary ("and" unary)*
 *   unary   := "not" unary | "(" expr ")" | term
 *   term    := ("tag" | "group" | "segment") "(" string ")" | condition
 *
 * A condition is one predicate of the rule language (docs/rules.md), such
 * as sum(order.amount, last 90 days) > 500, parsed and checked by the rule
 * parser through its hook RuleParseCondition; and, or, not and parentheses
 * around it are the segment language's.  The rule language's lexer
 * (src/rule_lex.c) reads every token, so strings, numbers, keywords and the
 * errors of bad characters are the same as in rules.  The text is parsed
 * into a small tree; names are resolved with parameterized queries (never
 * SQL built from the text), and the tree is evaluated with roaring
 * operations on the tags' sets (src/bitmap.c), all read in the caller's
 * snapshot.  A condition's set is the customers for whom it is true: in a
 * saved segment, the set kept for it (segment_condition: kept by the rule
 * machinery, as rule tags are); in an expression given as text, evaluated
 * now by the rule batch evaluator (rule_verdicts).  "not x" is the set of
 * all customers minus x; "a and not b" is computed as a - b without it.
 *
 * The queries are prepared once per backend, a tag's base is decoded once
 * per row version, and segment_members maps keys to ids from the backend's
 * cache of customer_key (src/segment_keys.c).
 */
#include "postgres.h"

#include "bitmap.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "rule_parse.h"
#include "segment_keys.h"
#include "set_term.h"
#include "tagscrm.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(segment_set);
PG_FUNCTION_INFO_V1(segment_check);
PG_FUNCTION_INFO_V1(segment_conditions);
PG_FUNCTION_INFO_V1(segment_count);
PG_FUNCTION_INFO_V1(segment_members);

#define SEGMENT_MAX_LENGTH	10000	/* bytes of expression text */
#define SEGMENT_MAX_NODES	1000	/* terms and operators */
#define SEGMENT_MAX_DEPTH	100		/* nested parentheses and NOTs */
#define SEGMENT_MAX_NESTING 16		/* segments referring to segments */

typedef enum SegKind
{
	SEG_TAG,
	SEG_GROUP,
	SEG_SEGMENT,
	SEG_CONDITION,
	SEG_AND,
	SEG_OR,
	SEG_NOT
} SegKind;

typedef struct SegNode
{
	SegKind		kind;
	size_t		position;		/* byte offset of the term or operator */
	const char *name;			/* SEG_TAG, SEG_GROUP, SEG_SEGMENT; SEG_CONDITION:
								 * the condition's text */
	struct SegNode *left;		/* SEG_AND, SEG_OR, SEG_NOT */
	struct SegNode *right;
} SegNode;

typedef struct SegParser
{
	Parser		p;				/* the rule lexer's state */
	int			nnodes;
	int			depth;
	bool		condition_failed;	/* the error is the rule parser's, in a condition */
} SegParser;

#define SEGMENT_TEXT "segment expression"	/* what errors call the text */

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

#define TERM_HINT "A term is tag('name'), group('name'), segment('name') or a condition such as sum(order.amount, last 90 days) > 500, combined with and, or, not and parentheses."

/* Can the current token start a condition (a predicate of the rule language)? */
static bool
StartsCondition(Parser *p)
{
	static const char *const not_first[] = {"and", "or", "not", "in", "between", "is", "where",
	"last", "from", "to", "ago", "now"};

	if (p->tok.type == TK_NUMBER || p->tok.type == TK_MINUS || p->tok.type == TK_STRING)
		return true;
	if (p->tok.type != TK_IDENT)
		return false;
	for (size_t i = 0; i < lengthof(not_first); i++)
		if (RuleTokIs(p, not_first[i]))
			return false;
	return true;
}

/*
 * A condition: one predicate parsed and checked by the rule parser, which
 * must be true or false; the node keeps its text, to be evaluated as a rule.
 */
static SegNode *
ParseCondition(SegParser *sp)
{
	Parser	   *p = &sp->p;
	size_t		start = p->tok.start;
	size_t		end;
	RuleNode   *rule;
	SegNode    *node;

	rule = RuleParseCondition(p);
	if (rule == NULL)
	{
		sp->condition_failed = true;
		/* an unknown word where a term starts: perhaps a misspelt tag( */
		if (p->err->position == (int) start && p->err->detail[0] == '\0' &&
			(memcmp(p->err->sqlstate, "42883", 5) == 0 || memcmp(p->err->sqlstate, "42703", 5) == 0))
			snprintf(p->err->detail, sizeof(p->err->detail), "%s", TERM_HINT);
		return NULL;
	}
	if (rule->type != RULE_TYPE_BOOL)
	{
		sp->condition_failed = true;
		RuleFail(p, "42804", (long) start, TERM_HINT,
				 rule->type == RULE_TYPE_TEXT ?
				 "A name goes in quotes inside tag(), group() or segment(), as in tag('VIP')." :
				 "Compare it with a value, as in sum(order.amount, last 90 days) > 500.",
				 "segment term must be a condition, not %s", RuleTypeName(rule->type));
		return NULL;
	}
	end = p->tok.start;
	while (end > start && (p->src[end - 1] == ' ' || p->src[end - 1] == '\t' || p->src[end - 1] == '\n' ||
						   p->src[end - 1] == '\r' || p->src[end - 1] == '\f' || p->src[end - 1] == '\v'))
		end--;
	node = NewNode(sp, SEG_CONDITION, start);
	if (node == NULL)
		return NULL;
	node->name = pnstrdup(p->src + start, end - start);
	return node;
}

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
	else if (StartsCondition(p))
		return ParseCondition(sp);
	else
	{
		SyntaxError(sp, "tag('name'), group('name'), segment('name'), a condition, \"not\" or \"(\"", TERM_HINT);
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
	sp.p.host = SEGMENT_TEXT;
	if (len > SEGMENT_MAX_LENGTH)
	{
		RuleFail(&sp.p, "54000", -1, "A segment expression may have at most 10000 bytes.",
				 "Save parts of it as segments and refer to them with segment('name').",
				 "segment expression is too long (%zu bytes)", len);
		RuleReportErrorIn(&err, src, len, SEGMENT_TEXT);
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
	 * it reads it.  Inside a condition that is the rule language's error, as
	 * in a rule; elsewhere the segment language has no numbers, so there it
	 * is a syntax error like any other token out of place (42601, as
	 * docs/segments.md lists).  Found by test/segment_fuzz.
	 */
	if (sp.p.failed && !sp.condition_failed && memcmp(err.sqlstate, "22003", 5) == 0)
	{
		memcpy(err.sqlstate, "42601", 5);
		snprintf(err.detail, sizeof(err.detail), "A segment expression has no numbers.");
		snprintf(err.hint, sizeof(err.hint), "Write a name in single quotes, as in tag('2026').");
	}
	if (sp.p.failed)
		RuleReportErrorIn(&err, src, len, SEGMENT_TEXT);
	RuleArenaFree(sp.p.arena);
	return root;
}

/* ------------------------------------------------------------------------
 * Resolving names and evaluating
 * ------------------------------------------------------------------------ */

typedef struct SegEval
{
	const char *schema;			/* quoted */
	Oid			nsp;			/* the extension's schema */
	Oid			base_relfilenode;	/* tag_set_base's, for the decoded bases */
	MemoryContext cxt;			/* where the owners live (outside SPI) */
	bool		evaluate;		/* false: only resolve names (segment_check) */
	const roaring_bitmap_t *universe;	/* every customer, read at the first "not" */
	List	   *owned;			/* the sets made (BitmapOwner), freed at the end */
	struct BasePin *pin;		/* the decoded bases lent to this evaluation */
	const char *segments[SEGMENT_MAX_NESTING + 1];	/* segments being expanded */
	int			nsegments;
	const char *defining;		/* segment_check: the segment being defined */
	List	   *used;			/* segment_check: segments the text refers to */
	List	   *conditions;		/* conditions evaluated now: canonical text, */
	List	   *condition_sets; /* and its set (const roaring_bitmap_t *) */
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
	RuleReportErrorIn(&err, src, len, SEGMENT_TEXT);
}

/*
 * The queries of the evaluator, each prepared once per backend
 * (src/segment_keys.c); "@s@" is the extension's schema.  A name is looked
 * up by its key, computed once (NameKey).
 */
static SegmentPlan tag_word_plan = {
	"SELECT w.tag_id FROM @s@.tag_word w WHERE w.word = $1", 1, {TEXTOID}
};
static SegmentPlan group_plan = {
	"SELECT pg_catalog.array_agg(t.tag_id ORDER BY t.tag_id) FILTER (WHERE t.tag_id IS NOT NULL) "
	"FROM @s@.tag_group g LEFT JOIN @s@.tag t ON t.group_id = g.group_id "
	"WHERE pg_catalog.lower(g.name) = $1 GROUP BY g.group_id", 1, {TEXTOID}
};
static SegmentPlan base_plan = {
	"SELECT b.members, b.xmin, b.ctid FROM @s@.tag_set_base b WHERE b.tag_id = $1", 1, {INT4OID}
};
static SegmentPlan log_plan = {
	"SELECT l.added, l.removed FROM @s@.tag_set_log l WHERE l.tag_id = $1 ORDER BY l.log_id", 1, {INT4OID}
};
static SegmentPlan segment_plan = {
	"SELECT s.name, s.expression FROM @s@.segment s WHERE pg_catalog.lower(s.name) = $1", 1, {TEXTOID}
};
static SegmentPlan named_plan = {
	"SELECT 1 FROM @s@.segment s WHERE pg_catalog.lower(s.name) = $1", 1, {TEXTOID}
};
static SegmentPlan unsupplied_plan = {
	"SELECT u.name, u.\"position\", u.hint FROM @s@.rule_unsupplied($1) u ORDER BY u.\"position\" LIMIT 1",
	1, {TEXTOID}
};
static SegmentPlan verdicts_plan = {
	"SELECT @s@.customer_set_agg(k.key) FROM @s@.rule_verdicts(ARRAY[$1], NULL) v "
	"JOIN @s@.customer_key k ON k.customer_id = v.customer_id WHERE v.holding <> '{}'", 1, {TEXTOID}
};
static SegmentPlan kept_condition_plan = {
	"SELECT c.condition_id FROM @s@.segment_condition c JOIN @s@.tag_set_base b ON b.tag_id = -c.condition_id "
	"WHERE c.condition = $1", 1, {TEXTOID}
};
static SegmentPlan after_plan = {
	"SELECT k.key FROM @s@.customer_key k WHERE k.customer_id = $1", 1, {TEXTOID}
};

/* Runs a prepared query of one parameter; at most max rows */
static void
RunPlan(SegEval *e, SegmentPlan *plan, Datum arg, long max)
{
	Datum		values[1];

	values[0] = arg;
	if (SPI_execute_plan(SegmentPlanGet(plan, e->schema), values, NULL, true, max) != SPI_OK_SELECT)
		elog(ERROR, "segment lookup failed: %s", plan->sql);
}

/* One value of a one-row, one-column query with one parameter */
static Datum
QueryOne(SegEval *e, SegmentPlan *plan, Datum arg, bool *found)
{
	bool		isnull;
	Datum		result;

	RunPlan(e, plan, arg, 2);
	if (SPI_processed == 0)
	{
		*found = false;
		return (Datum) 0;
	}
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*found = !isnull;
	return result;
}

/* Applies one stored set to a bitmap: or (add) or andnot (remove) */
static void
Apply(roaring_bitmap_t *set, Datum d, bool add)
{
	CustomerSet *v = (CustomerSet *) PG_DETOAST_DATUM(d);
	size_t		len = VARSIZE_ANY_EXHDR(v);
	roaring_bitmap_t *b = roaring_bitmap_portable_deserialize_safe(VARDATA_ANY(v), len);

	if (b == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid customer set of %zu bytes in a tag set's log", len),
				 errhint("The value is not a portable roaring bitmap.")));
	if (add)
		roaring_bitmap_or_inplace(set, b);
	else
		roaring_bitmap_andnot_inplace(set, b);
	roaring_bitmap_free(b);
	if ((Pointer) v != DatumGetPointer(d))
		pfree(v);
}

/*
 * The decoded bases an evaluation reads are lent by the cache
 * (src/segment_keys.c), pinned until ReleaseSets, or until e->cxt goes
 * (an error): a pin lives in that context, not on the caller's stack.
 */
typedef struct BasePin
{
	bool		held;
	MemoryContextCallback callback;
} BasePin;

static void
BasePinRelease(void *arg)
{
	BasePin    *pin = (BasePin *) arg;

	if (pin->held)
	{
		pin->held = false;
		BaseCacheUnpin();
	}
}

static void
PinBases(SegEval *e)
{
	BasePin    *pin = MemoryContextAllocZero(e->cxt, sizeof(BasePin));

	pin->callback.func = BasePinRelease;
	pin->callback.arg = pin;
	MemoryContextRegisterResetCallback(e->cxt, &pin->callback);
	BaseCachePin();
	pin->held = true;
	e->pin = pin;
}

/* Keeps a set made for this evaluation until its end; its bitmap */
static const roaring_bitmap_t *
Keep(SegEval *e, BitmapOwner *owner)
{
	MemoryContext old = MemoryContextSwitchTo(e->cxt);

	e->owned = lappend(e->owned, owner);
	MemoryContextSwitchTo(old);
	return owner->bitmap;
}

/* Frees the sets an evaluation made and gives back the bases it borrowed */
static void
ReleaseSets(SegEval *e)
{
	ListCell   *lc;

	foreach(lc, e->owned)
		BitmapRelease((BitmapOwner *) lfirst(lc));
	e->owned = NIL;
	if (e->pin != NULL)
		BasePinRelease(e->pin);
}

/*
 * A tag's set (tag 0: every customer), valid until ReleaseSets: its base
 * replayed with its log rows in log order, (set | added) - removed, as
 * tag_set() in segments.sql computes it, read in the caller's snapshot.
 * Without log rows, the decoded base itself (lent by the cache), not a copy.
 */
static const roaring_bitmap_t *
TagSet(SegEval *e, int32 tag_id)
{
	const roaring_bitmap_t *base = NULL;
	BitmapOwner *owner;
	MemoryContext old;
	Datum		d;
	uint64		i;

	RunPlan(e, &base_plan, Int32GetDatum(tag_id), 2);
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		bool		isnull;
		TransactionId xmin = DatumGetTransactionId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		ItemPointer tid = (ItemPointer) DatumGetPointer(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));

		base = BaseCacheGet(e->base_relfilenode, tag_id, xmin, tid);
		if (base == NULL)
		{
			d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull);
			old = MemoryContextSwitchTo(e->cxt);
			owner = BitmapFromDatum((CustomerSet *) PG_DETOAST_DATUM(d));
			MemoryContextSwitchTo(old);
			base = owner->bitmap;
			if (BaseCacheAdopt(e->base_relfilenode, tag_id, xmin, tid, owner->bitmap))
				owner->bitmap = NULL;	/* the cache's now */
			else
				Keep(e, owner);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	RunPlan(e, &log_plan, Int32GetDatum(tag_id), 0);
	if (SPI_processed == 0 && base != NULL)
	{
		SPI_freetuptable(SPI_tuptable);
		return base;
	}
	old = MemoryContextSwitchTo(e->cxt);
	owner = base != NULL ? BitmapOwn(roaring_bitmap_copy(base)) : BitmapEmpty();
	MemoryContextSwitchTo(old);
	Keep(e, owner);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Datum		added = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull);

		CHECK_FOR_INTERRUPTS();
		if (!isnull)
			Apply(owner->bitmap, added, true);
		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull)
			Apply(owner->bitmap, d, false);
	}
	SPI_freetuptable(SPI_tuptable);
	return owner->bitmap;
}

/* A set as a term of the expression */
static SetTerm *
Leaf(SegEval *e, const roaring_bitmap_t *set)
{
	MemoryContext old = MemoryContextSwitchTo(e->cxt);
	SetTerm    *t = SetTermLeaf(set);

	MemoryContextSwitchTo(old);
	return t;
}

static SetTerm *
Op(SegEval *e, BitmapOp op, SetTerm *left, SetTerm *right)
{
	MemoryContext old = MemoryContextSwitchTo(e->cxt);
	SetTerm    *t = SetTermOp(op, left, right);

	MemoryContextSwitchTo(old);
	return t;
}

static SetTerm *Evaluate(SegEval *e, const char *src, size_t len, const SegNode *node);

static SetTerm *
EvaluateSegment(SegEval *e, const char *src, size_t len, const SegNode *node)
{
	bool		isnull;
	char	   *name;
	char	   *expr;
	SegNode    *tree;
	SegContext	c;
	ErrorContextCallback cb;
	SetTerm    *result;
	int			i;

	RunPlan(e, &segment_plan, NameKey(CStringGetTextDatum(node->name)), 2);
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


/* The canonical text of a condition (which parses back to the same rule) */
static char *
CanonicalCondition(const char *text)
{
	const RuleTree *tree = RuleLookup(text, strlen(text));

	return pstrdup(tree->canonical);
}

/*
 * Refuses a condition naming a customer attribute that no watched column
 * supplies, as set_tag_rule refuses such a rule (rule_unsupplied), at the
 * attribute's place in the expression.
 */
static void
CheckSupplied(SegEval *e, const char *src, size_t len, const SegNode *node)
{
	bool		isnull;
	char	   *name;
	int			charpos;
	char	   *hint;
	SegNode		at;
	RuleError	err;

	RunPlan(e, &unsupplied_plan, CStringGetTextDatum(node->name), 1);
	if (SPI_processed == 0)
		return;
	name = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	charpos = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	hint = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	at = *node;
	at.position = node->position +
		(size_t) pg_mbcharcliplen(node->name, (int) strlen(node->name), Max(charpos - 1, 0));
	memset(&err, 0, sizeof(err));
	memcpy(err.sqlstate, "42703", 5);
	err.position = (int) at.position;
	snprintf(err.message, sizeof(err.message),
			 "condition names customer attribute \"%s\", which no watched column supplies", name);
	snprintf(err.hint, sizeof(err.hint), "%s", hint);
	RuleReportErrorIn(&err, src, len, SEGMENT_TEXT);
}

/* The customers for whom a condition is true now: the rule batch evaluator */
static BitmapOwner *
EvaluateCondition(SegEval *e, const char *canonical)
{
	bool		found;
	Datum		d = QueryOne(e, &verdicts_plan, CStringGetTextDatum(canonical), &found);
	MemoryContext old = MemoryContextSwitchTo(e->cxt);
	BitmapOwner *owner = found ? BitmapFromDatum((CustomerSet *) PG_DETOAST_DATUM(d)) : BitmapEmpty();

	MemoryContextSwitchTo(old);
	return owner;
}

static SetTerm *Universe(SegEval *e);

/*
 * A condition's customers.  In a saved segment, the set kept for it (see
 * segments.sql: current at each statement's end, and at the sweep after its
 * next change in time, as rule tags are); in a text given to a function, or
 * when no set is kept (after a restore, until refresh()), evaluated now.
 * Kept sets are read within every customer known, as tag sets are.
 */
static SetTerm *
ConditionSet(SegEval *e, const char *src, size_t len, const SegNode *node)
{
	char	   *canonical;
	ListCell   *lc1;
	ListCell   *lc2;
	const roaring_bitmap_t *result;
	MemoryContext old;

	/*
	 * The text being written (given to a function, or being defined) names
	 * only what the watched tables supply; a saved segment read later is
	 * not refused for an attribute unwatched since: as in a rule, it is NULL.
	 */
	if (e->nsegments == (e->evaluate ? 0 : 1))
		CheckSupplied(e, src, len, node);
	if (!e->evaluate)
		return NULL;
	canonical = CanonicalCondition(node->name);
	if (e->nsegments > 0)
	{
		bool		found;
		Datum		d = QueryOne(e, &kept_condition_plan, CStringGetTextDatum(canonical), &found);

		if (found)
			return Op(e, BITMAP_AND, Leaf(e, TagSet(e, -DatumGetInt32(d))), Universe(e));
	}
	forboth(lc1, e->conditions, lc2, e->condition_sets)
	{
		if (strcmp((const char *) lfirst(lc1), canonical) == 0)
			return Leaf(e, (const roaring_bitmap_t *) lfirst(lc2));
	}
	result = Keep(e, EvaluateCondition(e, canonical));
	old = MemoryContextSwitchTo(e->cxt);
	e->conditions = lappend(e->conditions, pstrdup(canonical));
	e->condition_sets = lappend(e->condition_sets, (void *) result);
	MemoryContextSwitchTo(old);
	return Leaf(e, result);
}

/* Every customer, read once per evaluation */
static SetTerm *
Universe(SegEval *e)
{
	if (e->universe == NULL)
		e->universe = TagSet(e, 0);
	return Leaf(e, e->universe);
}

static SetTerm *
Evaluate(SegEval *e, const char *src, size_t len, const SegNode *node)
{
	SetTerm    *a;
	SetTerm    *b;
	bool		found;

	CHECK_FOR_INTERRUPTS();
	check_stack_depth();
	switch (node->kind)
	{
		case SEG_TAG:
			{
				Datum		d = QueryOne(e, &tag_word_plan, NameKey(CStringGetTextDatum(node->name)), &found);

				if (!found)
					NameError(src, len, node, "42704",
							  "See tagscrm.tags for the tag library; tagscrm.add_tag_alias() adds another word for a tag.",
							  "tag \"%s\" does not exist", node->name);
				return e->evaluate ? Leaf(e, TagSet(e, DatumGetInt32(d))) : NULL;
			}
		case SEG_GROUP:
			{
				Datum		d;
				Datum	   *tags;
				int			ntags;
				int			i;
				MemoryContext old;
				BitmapOwner *group;

				d = QueryOne(e, &group_plan, NameKey(CStringGetTextDatum(node->name)), &found);
				if (SPI_processed == 0)
					NameError(src, len, node, "42704",
							  "See tagscrm.tag_groups for the groups.",
							  "tag group \"%s\" does not exist", node->name);
				if (!e->evaluate)
					return NULL;
				old = MemoryContextSwitchTo(e->cxt);
				group = BitmapEmpty();
				MemoryContextSwitchTo(old);
				a = Leaf(e, Keep(e, group));
				if (!found)
					return a;
				deconstruct_array(DatumGetArrayTypeP(d), INT4OID, 4, true, TYPALIGN_INT, &tags, NULL, &ntags);
				for (i = 0; i < ntags; i++)
					roaring_bitmap_or_inplace(group->bitmap, TagSet(e, DatumGetInt32(tags[i])));
				return a;
			}
		case SEG_SEGMENT:
			return EvaluateSegment(e, src, len, node);
		case SEG_CONDITION:
			return ConditionSet(e, src, len, node);
		case SEG_NOT:
			a = Evaluate(e, src, len, node->left);
			if (!e->evaluate)
				return NULL;
			return Op(e, BITMAP_ANDNOT, Universe(e), a);
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
					return e->evaluate ? Op(e, BITMAP_ANDNOT, a, b) : NULL;
				}
				b = Evaluate(e, src, len, r);
				if (!e->evaluate)
					return NULL;
				return Op(e, node->kind == SEG_AND ? BITMAP_AND : BITMAP_OR, a, b);
			}
	}
	elog(ERROR, "unknown segment node %d", (int) node->kind);
	return NULL;
}

/* The relfilenode of one of the extension's tables */
static Oid
RelationFileNode(Oid nsp, const char *name)
{
	Oid			relid = get_relname_relid(name, nsp);
	Relation	rel;
	Oid			result;

	if (!OidIsValid(relid))
		elog(ERROR, "table %s of tagscrm does not exist", name);
	rel = table_open(relid, AccessShareLock);
	result = rel->rd_node.relNode;
	table_close(rel, NoLock);
	return result;
}

/* Evaluates (or checks) a saved segment's name or an expression; SPI connected */
static SetTerm *
Run(FunctionCallInfo fcinfo, SegEval *e, text *arg, MemoryContext cxt)
{
	char	   *src = text_to_cstring(arg);
	size_t		len = strlen(src);
	bool		found;
	SegNode    *tree;
	SegNode		named;

	e->nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	e->schema = quote_identifier(get_namespace_name(e->nsp));
	e->base_relfilenode = RelationFileNode(e->nsp, "tag_set_base");
	e->cxt = cxt;
	PinBases(e);
	/* a saved segment's name stands for segment('name') */
	if (e->defining == NULL && len <= 256)
		QueryOne(e, &named_plan, NameKey(CStringGetTextDatum(src)), &found);
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
	return Evaluate(e, src, len, tree);
}

/*
 * The term of a name or an expression, in the current memory context; its
 * sets are freed by ReleaseSets(e)
 */
static SetTerm *
EvaluateText(FunctionCallInfo fcinfo, text *arg, SegEval *e)
{
	MemoryContext cxt = CurrentMemoryContext;
	SetTerm    *result;

	memset(e, 0, sizeof(*e));
	e->evaluate = true;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	result = Run(fcinfo, e, arg, cxt);
	SPI_finish();
	return result;
}

/* segment_set(expression_or_name) RETURNS customer_set */
Datum
segment_set(PG_FUNCTION_ARGS)
{
	SegEval		e;
	BitmapOwner *set = SetTermBitmap(EvaluateText(fcinfo, PG_GETARG_TEXT_PP(0), &e));

	ReleaseSets(&e);
	PG_RETURN_POINTER(BitmapToDatum(set));
}

/* segment_count(expression_or_name) RETURNS bigint: without making the set */
Datum
segment_count(PG_FUNCTION_ARGS)
{
	SegEval		e;
	uint64		n = SetTermCount(EvaluateText(fcinfo, PG_GETARG_TEXT_PP(0), &e));

	ReleaseSets(&e);
	PG_RETURN_INT64((int64) n);
}

#define MEMBERS_BATCH 8192		/* keys mapped to ids at a time */

/*
 * segment_members(expression_or_name, after text, page_size integer)
 * RETURNS SETOF text: the members' ids in key order (the order customers
 * were first seen, the bitmap's own), after the key of customer "after",
 * at most page_size.  Ids come from the backend's cache of customer_key
 * (src/segment_keys.c), read on demand in the caller's snapshot.
 */
Datum
segment_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SegEval		e;
	SetTerm    *term;
	SetTermScan scan;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext old;
	int64		page_size;
	int64		emitted = 0;
	uint32		start = 0;
	uint32	   *keys;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("segment expression must not be null"),
				 errhint("Name a segment or write an expression.")));
	if (PG_ARGISNULL(2) || PG_GETARG_INT32(2) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("page size %s is not valid", PG_ARGISNULL(2) ? "NULL" : psprintf("%d", PG_GETARG_INT32(2))),
				 errhint("Give a page size of 0 or more.")));
	page_size = PG_GETARG_INT32(2);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	memset(&e, 0, sizeof(e));
	e.evaluate = true;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	term = Run(fcinfo, &e, PG_GETARG_TEXT_PP(0), cxt);

	if (!PG_ARGISNULL(1))
	{
		char	   *after = text_to_cstring(PG_GETARG_TEXT_PP(1));
		bool		found;
		Datum		k = QueryOne(&e, &after_plan, CStringGetTextDatum(after), &found);

		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("customer \"%s\" given as after is not known", after),
					 errdetail("Members come in the order customers were first seen; a page starts after the customer given."),
					 errhint("Pass the last id of the page before, or NULL for the first page.")));
		if (DatumGetInt32(k) == PG_INT32_MAX)
			page_size = 0;
		else
			start = (uint32) DatumGetInt32(k) + 1;
	}

	KeyCacheValidate(e.nsp);
	old = MemoryContextSwitchTo(cxt);
	keys = palloc(MEMBERS_BATCH * sizeof(uint32));
	SetTermScanBegin(&scan, term, start);
	MemoryContextSwitchTo(old);
	while (emitted < page_size)
	{
		uint32		want = (uint32) Min((int64) MEMBERS_BATCH, page_size - emitted);
		uint32		n = SetTermScanRead(&scan, keys, want);
		uint32		i;

		if (n == 0)
			break;
		KeyCacheResolve(e.schema, keys, n);
		for (i = 0; i < n; i++)
		{
			struct varlena *id = KeyCacheId(keys[i]);
			Datum		value;
			bool		isnull = false;

			/* a key without a row in this snapshot: as a join would, skip it */
			if (id == NULL)
				continue;
			value = PointerGetDatum(id);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
			emitted++;
		}
	}
	SPI_finish();
	ReleaseSets(&e);
	return (Datum) 0;
}

/*
 * segment_check(expression, defining) RETURNS text[]: raises unless every
 * name exists and the expression does not lead back to the segment being
 * defined; returns the segments it names directly.
 */
Datum
segment_check(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	SegEval		e;
	ListCell   *lc;
	ArrayBuildState *astate = NULL;

	memset(&e, 0, sizeof(e));
	e.evaluate = false;
	e.defining = text_to_cstring(PG_GETARG_TEXT_PP(1));
	/* the segment defined is the first level: as deep as when it is used */
	e.segments[e.nsegments++] = e.defining;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Run(fcinfo, &e, PG_GETARG_TEXT_PP(0), cxt);
	SPI_finish();
	ReleaseSets(&e);
	foreach(lc, e.used)
		astate = accumArrayResult(astate, CStringGetTextDatum((char *) lfirst(lc)), false, TEXTOID,
								  CurrentMemoryContext);
	if (astate == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}

/* Collects the canonical texts of the conditions of a tree, each once */
static void
CollectConditions(const SegNode *node, List **texts)
{
	ListCell   *lc;
	char	   *canonical;

	check_stack_depth();
	if (node == NULL)
		return;
	if (node->kind != SEG_CONDITION)
	{
		CollectConditions(node->left, texts);
		CollectConditions(node->right, texts);
		return;
	}
	canonical = CanonicalCondition(node->name);
	foreach(lc, *texts)
		if (strcmp((const char *) lfirst(lc), canonical) == 0)
			return;
	*texts = lappend(*texts, canonical);
}

/*
 * segment_conditions(expression) RETURNS text[]: the canonical texts of the
 * conditions the expression itself holds (not those of the segments it
 * names), each once, in order of appearance; raises the expression's
 * syntax errors.
 */
Datum
segment_conditions(PG_FUNCTION_ARGS)
{
	char	   *src = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SegNode    *tree = ParseExpression(src, strlen(src));
	List	   *texts = NIL;
	ListCell   *lc;
	ArrayBuildState *astate = NULL;

	CollectConditions(tree, &texts);
	foreach(lc, texts)
		astate = accumArrayResult(astate, CStringGetTextDatum((char *) lfirst(lc)), false, TEXTOID,
								  CurrentMemoryContext);
	if (astate == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}
