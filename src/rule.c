/*
 * rule.c: SQL-callable wrappers of the rule language and the per-backend
 * cache of parsed rules.
 *
 * The parser and evaluator (the core listed in rule.h) are plain C and never
 * throw; this file gives them palloc-based allocator hooks and turns their
 * RuleError into ereport, with the error position shown under the rule text.
 * Parsed trees are cached per backend, keyed by the exact rule text, in a
 * long-lived memory context with a bound on entries and on bytes.  No user
 * text ever reaches SQL: this file runs no SPI at all.
 */
#include "tagscrm.h"

#include <math.h>

#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(rule_check);
PG_FUNCTION_INFO_V1(rule_explain);
PG_FUNCTION_INFO_V1(rule_measures);
PG_FUNCTION_INFO_V1(rule_eval_values);
PG_FUNCTION_INFO_V1(rule_vocabulary);

/* Cache bounds: entries, and bytes over all entries */
#define RULE_CACHE_ENTRIES	256
#define RULE_CACHE_BYTES	((Size) 16 * 1024 * 1024)
/* Rules longer than this are not echoed in error reports */
#define RULE_ECHO_LIMIT		1000

typedef struct RuleCacheEntry
{
	uint32		hash;
	char	   *text;
	size_t		len;
	MemoryContext context;		/* owns text and tree */
	RuleTree   *tree;
	Size		bytes;
	uint64		last_used;
} RuleCacheEntry;

static MemoryContext RuleCacheContext = NULL;
static RuleCacheEntry rule_cache[RULE_CACHE_ENTRIES];
static int	rule_cache_used = 0;
static Size rule_cache_bytes = 0;
static uint64 rule_cache_clock = 0;
/* Entries used since this clock value are pinned (RuleCachePin) */
static uint64 rule_cache_pin_clock = 0;
static LocalTransactionId rule_cache_pin_lxid = InvalidLocalTransactionId;

/* Allocator hook: palloc in the context passed as arg (throws on OOM) */
static void *
RuleHookAlloc(size_t size, void *arg)
{
	return MemoryContextAlloc((MemoryContext) arg, size);
}

static void
RuleHookFree(void *ptr, void *arg)
{
	pfree(ptr);
}

/*
 * Raises the error the parser or evaluator reported.  The position is shown
 * under the rule text, as PL/pgSQL does for its queries.
 */
void
RuleReportError(const RuleError *err, const char *text, size_t len)
{
	RuleReportErrorIn(err, text, len, "rule");
}

/* The same for a text of another language, named what in messages */
void
RuleReportErrorIn(const RuleError *err, const char *text, size_t len, const char *what)
{
	const char *message = err->message;
	int			charpos = 0;

	/* texts quote parts of the text; never let a clipped character through */
	if (!pg_verifymbstr(message, strlen(message), true))
		message = psprintf("invalid %s", what);
	if (err->position >= 0 && (size_t) err->position <= len && text != NULL)
		charpos = pg_mbstrlen_with_len(text, err->position) + 1;

	ereport(ERROR,
			(errcode(MAKE_SQLSTATE(err->sqlstate[0], err->sqlstate[1], err->sqlstate[2],
								   err->sqlstate[3], err->sqlstate[4])),
			 errmsg_internal("%s", message),
			 err->detail[0] && pg_verifymbstr(err->detail, strlen(err->detail), true) ?
			 errdetail_internal("%s", err->detail) : 0,
			 err->hint[0] && pg_verifymbstr(err->hint, strlen(err->hint), true) ?
			 errhint("%s", err->hint) : 0,
			 charpos > 0 && len <= RULE_ECHO_LIMIT ? internalerrposition(charpos) : 0,
			 charpos > 0 && len <= RULE_ECHO_LIMIT ? internalerrquery(pnstrdup(text, len)) : 0,
			 charpos > 0 && len > RULE_ECHO_LIMIT ?
			 errcontext("at character %d of the %s", charpos, what) : 0));
}

/*
 * Keeps every tree looked up from now on valid until RuleCacheUnpin or the
 * end of the transaction, so that a caller may hold many trees at once (the
 * batch evaluator).  Pins are not nested.
 */
void
RuleCachePin(void)
{
	rule_cache_pin_clock = rule_cache_clock + 1;
	rule_cache_pin_lxid = MyProc->lxid;
}

void
RuleCacheUnpin(void)
{
	rule_cache_pin_lxid = InvalidLocalTransactionId;
}

/* Is this entry pinned?  A pin left by an aborted transaction has expired. */
static bool
RuleCachePinned(const RuleCacheEntry *entry)
{
	return rule_cache_pin_lxid != InvalidLocalTransactionId &&
		rule_cache_pin_lxid == MyProc->lxid &&
		entry->last_used >= rule_cache_pin_clock;
}

/* Drops the least recently used unpinned cache entry; false if all are pinned */
static bool
RuleCacheEvict(void)
{
	int			victim = -1;

	for (int i = 0; i < rule_cache_used; i++)
		if (!RuleCachePinned(&rule_cache[i]) &&
			(victim < 0 || rule_cache[i].last_used < rule_cache[victim].last_used))
			victim = i;
	if (victim < 0)
		return false;
	rule_cache_bytes -= rule_cache[victim].bytes;
	MemoryContextDelete(rule_cache[victim].context);
	rule_cache[victim] = rule_cache[--rule_cache_used];
	return true;
}

/*
 * The parsed tree of a rule, from the cache or parsed now; raises the
 * rule's error if it is not valid.  The tree stays valid until the next
 * call of RuleLookup (which may evict it) or the end of the transaction,
 * whichever comes first.
 */
const RuleTree *
RuleLookup(const char *text, size_t len)
{
	uint32		hash;
	MemoryContext context;
	RuleAllocator allocator;
	RuleError	err;
	RuleTree   *tree;
	Size		bytes;
	RuleCacheEntry *entry;

	allocator.alloc = RuleHookAlloc;
	allocator.free = RuleHookFree;
	allocator.arg = CurrentMemoryContext;

	/* refuse before hashing or copying a huge text (RuleParse checks first) */
	if (len > RULE_MAX_LENGTH)
	{
		(void) RuleParse(text, len, &allocator, &err);
		RuleReportError(&err, NULL, 0);
	}

	hash = hash_bytes((const unsigned char *) text, (int) len);
	for (int i = 0; i < rule_cache_used; i++)
	{
		entry = &rule_cache[i];
		if (entry->hash == hash && entry->len == len && memcmp(entry->text, text, len) == 0)
		{
			entry->last_used = ++rule_cache_clock;
			return entry->tree;
		}
	}

	if (RuleCacheContext == NULL)
		RuleCacheContext = AllocSetContextCreate(TopMemoryContext, "tagscrm rule cache",
												 ALLOCSET_DEFAULT_SIZES);

	/*
	 * Parse into a fresh context below the current one, so that an error
	 * (ours or palloc's) frees it with the current context; keep it only on
	 * success, by moving it under the cache context.
	 */
	context = AllocSetContextCreate(CurrentMemoryContext, "tagscrm rule", ALLOCSET_SMALL_SIZES);
	allocator.arg = context;
	tree = RuleParse(text, len, &allocator, &err);
	if (tree == NULL)
	{
		MemoryContextDelete(context);
		RuleReportError(&err, text, len);
	}

	bytes = MemoryContextMemAllocated(context, true) + len;
	if (bytes > RULE_CACHE_BYTES / 4)
		return tree;			/* too big to keep: lives with the caller's context */

	while (rule_cache_used > 0 &&
		   (rule_cache_used >= RULE_CACHE_ENTRIES || rule_cache_bytes + bytes > RULE_CACHE_BYTES))
		if (!RuleCacheEvict())
			return tree;		/* every entry pinned: lives with the caller's context */
	entry = &rule_cache[rule_cache_used++];
	entry->hash = hash;
	entry->text = MemoryContextAlloc(context, len + 1);
	memcpy(entry->text, text, len);
	entry->text[len] = '\0';
	entry->len = len;
	entry->context = context;
	entry->tree = tree;
	entry->bytes = bytes;
	entry->last_used = ++rule_cache_clock;
	rule_cache_bytes += bytes;
	MemoryContextSetParent(context, RuleCacheContext);
	return tree;
}

/*
 * Evaluates a tree against values (one per measure, in id order); raises
 * 22023 for values that do not fit.  Returns false with *isnull for UNKNOWN.
 */
bool
RuleEvaluate(const RuleTree *tree, const RuleValue *values, bool *isnull)
{
	RuleError	err;
	RuleTruth	truth;

	if (!RuleCheckValues(tree, values, &err))
		RuleReportError(&err, NULL, 0);
	truth = RuleEval(tree, values);
	*isnull = (truth == RULE_UNKNOWN);
	return truth == RULE_TRUE;
}

/* The cached tree of a text argument */
static const RuleTree *
RuleFromText(text *rule)
{
	return RuleLookup(VARDATA_ANY(rule), VARSIZE_ANY_EXHDR(rule));
}

/* ------------------------------------------------------------------------
 * JSON output
 * ------------------------------------------------------------------------ */

static void
JsonNumber(StringInfo buf, double v)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, tmp);
	appendStringInfoString(buf, tmp);
}

static void
JsonText(StringInfo buf, const char *s)
{
	escape_json(buf, s);
}

static void
JsonLiteral(StringInfo buf, const RuleLiteral *lit)
{
	switch (lit->type)
	{
		case RULE_TYPE_BOOL:
			appendStringInfoString(buf, lit->b ? "true" : "false");
			break;
		case RULE_TYPE_NUMBER:
		case RULE_TYPE_DURATION:
			JsonNumber(buf, lit->num);
			break;
		case RULE_TYPE_TEXT:
			JsonText(buf, lit->str);
			break;
	}
}

static void
JsonFilters(StringInfo buf, const RuleMeasure *m)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < m->nfilters; i++)
	{
		const RuleFilter *f = &m->filters[i];

		if (i > 0)
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, "{\"field\": ");
		JsonText(buf, RuleFieldName(f->field));
		appendStringInfoString(buf, ", \"op\": ");
		JsonText(buf, RuleOpName(f->op));
		appendStringInfoString(buf, ", \"values\": [");
		for (int j = 0; j < f->nvalues; j++)
		{
			if (j > 0)
				appendStringInfoString(buf, ", ");
			JsonLiteral(buf, &f->values[j]);
		}
		appendStringInfoString(buf, "]}");
	}
	appendStringInfoChar(buf, ']');
}

static void
JsonMeasure(StringInfo buf, const RuleMeasure *m)
{
	appendStringInfo(buf, "{\"id\": %d, \"kind\": ", m->id);
	JsonText(buf, RuleMeasureKindName(m->kind));
	appendStringInfoString(buf, ", \"type\": ");
	JsonText(buf, RuleTypeName(m->type));
	appendStringInfoString(buf, ", \"text\": ");
	JsonText(buf, m->text);
	appendStringInfoString(buf, ", \"name\": ");
	JsonText(buf, m->name);
	appendStringInfo(buf, ", \"time_dependent\": %s", m->time_dependent ? "true" : "false");
	if (m->kind == RULE_MEASURE_AGGREGATE)
	{
		appendStringInfoString(buf, ", \"source\": ");
		JsonText(buf, RuleSourceName(m->source));
		appendStringInfoString(buf, ", \"field\": ");
		if (m->field != RULE_FIELD_NONE)
			JsonText(buf, RuleFieldName(m->field));
		else
			appendStringInfoString(buf, "null");
		appendStringInfoString(buf, ", \"filters\": ");
		JsonFilters(buf, m);
		appendStringInfoString(buf, ", \"window\": ");
		if (m->has_window)
		{
			appendStringInfoString(buf, "{\"from_seconds\": ");
			JsonNumber(buf, m->window_from);
			appendStringInfoString(buf, ", \"to_seconds\": ");
			JsonNumber(buf, m->window_to);
			appendStringInfoChar(buf, '}');
		}
		else
			appendStringInfoString(buf, "null");
	}
	appendStringInfoChar(buf, '}');
}

/* Tree as JSON; recursion bounded by the parser's depth limit */
static void
JsonNode(StringInfo buf, const RuleNode *node)
{
	check_stack_depth();
	appendStringInfoString(buf, "{\"node\": ");
	JsonText(buf, RuleNodeKindName(node->kind));
	switch (node->kind)
	{
		case RULE_NODE_CONST:
			appendStringInfoString(buf, ", \"type\": ");
			JsonText(buf, RuleTypeName(node->lit.type));
			appendStringInfoString(buf, ", \"value\": ");
			JsonLiteral(buf, &node->lit);
			break;
		case RULE_NODE_MEASURE:
			appendStringInfo(buf, ", \"id\": %d", node->measure + 1);
			break;
		default:
			if (node->kind == RULE_NODE_CMP)
			{
				appendStringInfoString(buf, ", \"op\": ");
				JsonText(buf, RuleOpName(node->op));
			}
			appendStringInfoString(buf, ", \"args\": [");
			for (int i = 0; i < node->nargs; i++)
			{
				if (i > 0)
					appendStringInfoString(buf, ", ");
				JsonNode(buf, node->args[i]);
			}
			appendStringInfoChar(buf, ']');
			if (node->kind == RULE_NODE_IN)
			{
				appendStringInfoString(buf, ", \"list\": [");
				for (int i = 0; i < node->nlist; i++)
				{
					if (i > 0)
						appendStringInfoString(buf, ", ");
					JsonLiteral(buf, &node->list[i]);
				}
				appendStringInfoChar(buf, ']');
			}
			break;
	}
	appendStringInfoChar(buf, '}');
}

/* Seconds as an interval: whole days in the day field, the rest as time */
static Interval *
SecondsToInterval(double secs)
{
	Interval   *iv = palloc0(sizeof(Interval));
	double		days = floor(secs / SECS_PER_DAY);

	iv->day = (int32) days;
	iv->time = (TimeOffset) llround((secs - days * SECS_PER_DAY) * USECS_PER_SEC);
	return iv;
}

/* ------------------------------------------------------------------------
 * SQL functions
 * ------------------------------------------------------------------------ */

/* SQL: tagscrm.rule_check(rule text) RETURNS void */
Datum
rule_check(PG_FUNCTION_ARGS)
{
	(void) RuleFromText(PG_GETARG_TEXT_PP(0));
	PG_RETURN_VOID();
}

/* SQL: tagscrm.rule_explain(rule text) RETURNS jsonb */
Datum
rule_explain(PG_FUNCTION_ARGS)
{
	const RuleTree *tree = RuleFromText(PG_GETARG_TEXT_PP(0));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"canonical\": ");
	JsonText(&buf, tree->canonical);
	appendStringInfoString(&buf, ", \"measures\": [");
	for (int i = 0; i < tree->nmeasures; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		JsonMeasure(&buf, &tree->measures[i]);
	}
	appendStringInfoString(&buf, "], \"tree\": ");
	JsonNode(&buf, tree->root);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* SQL: tagscrm.rule_measures(rule text) RETURNS TABLE (...) */
Datum
rule_measures(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *rule = PG_GETARG_TEXT_PP(0);
	const RuleTree *tree = RuleFromText(rule);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < tree->nmeasures; i++)
	{
		const RuleMeasure *m = &tree->measures[i];
		Datum		values[13];
		bool		nulls[13];
		bool		agg = (m->kind == RULE_MEASURE_AGGREGATE);

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(m->id);
		values[1] = CStringGetTextDatum(RuleMeasureKindName(m->kind));
		values[2] = CStringGetTextDatum(RuleTypeName(m->type));
		values[3] = CStringGetTextDatum(m->name);
		values[4] = CStringGetTextDatum(m->text);
		values[5] = BoolGetDatum(m->time_dependent);
		values[6] = agg ? CStringGetTextDatum(RuleAggFuncName(m->func)) : (Datum) 0;
		nulls[6] = !agg;
		values[7] = agg ? CStringGetTextDatum(RuleSourceName(m->source)) : (Datum) 0;
		nulls[7] = !agg;
		values[8] = agg && m->field != RULE_FIELD_NONE ? CStringGetTextDatum(RuleFieldName(m->field)) : (Datum) 0;
		nulls[8] = !(agg && m->field != RULE_FIELD_NONE);
		if (agg)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			JsonFilters(&buf, m);
			values[9] = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
		}
		else
			nulls[9] = true;
		values[10] = m->has_window ? IntervalPGetDatum(SecondsToInterval(m->window_from)) : (Datum) 0;
		nulls[10] = !m->has_window;
		values[11] = m->has_window ? IntervalPGetDatum(SecondsToInterval(m->window_to)) : (Datum) 0;
		nulls[11] = !m->has_window;
		/* where the rule first uses it, in characters from 1 (0.1.0 had no such column) */
		values[12] = Int32GetDatum(pg_mbstrlen_with_len(VARDATA_ANY(rule), m->position) + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Reads one JSON value as the value of measure m */
static void
ValueFromJsonb(const RuleMeasure *m, JsonbValue *v, RuleValue *out)
{
	const char *expected = NULL;

	memset(out, 0, sizeof(*out));
	if (v->type == jbvNull)
	{
		out->isnull = true;
		return;
	}
	switch (m->type)
	{
		case RULE_TYPE_BOOL:
			if (v->type == jbvBool)
				out->b = v->val.boolean;
			else
				expected = "a boolean";
			break;
		case RULE_TYPE_NUMBER:
		case RULE_TYPE_DURATION:
			if (v->type == jbvNumeric)
				/* out of range becomes infinity, refused by RuleCheckValues */
				out->num = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
															  NumericGetDatum(v->val.numeric)));
			else
				expected = m->type == RULE_TYPE_NUMBER ? "a number" : "a number of seconds";
			break;
		case RULE_TYPE_TEXT:
			if (v->type == jbvString)
			{
				out->str = v->val.string.val;
				out->len = (size_t) v->val.string.len;
			}
			else
				expected = "a string";
			break;
	}
	if (expected)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value of measure %d must be %s or null", m->id, expected),
				 errdetail("The measure is %s, of type %s.", m->text, RuleTypeName(m->type))));
}

/* SQL: tagscrm.rule_eval_values(rule text, measure_values jsonb) RETURNS boolean */
Datum
rule_eval_values(PG_FUNCTION_ARGS)
{
	const RuleTree *tree = RuleFromText(PG_GETARG_TEXT_PP(0));
	Jsonb	   *jb = PG_GETARG_JSONB_P(1);
	RuleValue  *values;
	bool	   *seen;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		isnull;
	bool		result;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("measure values must be a JSON object"),
				 errhint("Key the values by measure id, as in {\"1\": 5300, \"2\": true}.")));
	values = palloc0(sizeof(RuleValue) * (tree->nmeasures + 1));
	seen = palloc0(sizeof(bool) * (tree->nmeasures + 1));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		char	   *end;
		long		id;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		errno = 0;
		id = strtol(key, &end, 10);
		if (key[0] < '1' || key[0] > '9' || *end != '\0' || errno != 0 ||
			id < 1 || id > tree->nmeasures)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is not a measure id of this rule", key),
					 tree->nmeasures > 0 ?
					 errdetail("The rule has measures 1 to %d.", tree->nmeasures) :
					 errdetail("The rule has no measures.")));
		tok = JsonbIteratorNext(&it, &v, true);
		if (tok != WJB_VALUE)
			elog(ERROR, "unexpected jsonb token %d", (int) tok);
		ValueFromJsonb(&tree->measures[id - 1], &v, &values[id - 1]);
		seen[id - 1] = true;
	}
	for (int i = 0; i < tree->nmeasures; i++)
		if (!seen[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("no value for measure %d", i + 1),
					 errdetail("The measure is %s.", tree->measures[i].text),
					 errhint("Pass null for an unknown value.")));

	result = RuleEvaluate(tree, values, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(result);
}

/*
 * SQL: tagscrm.rule_vocabulary() RETURNS TABLE (name text, kind text,
 * value_type text, time_dependent boolean, description text)
 * The words a rule may use, as the parser knows them (rule_vocabulary.c).
 */
Datum
rule_vocabulary(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			nwords;
	const RuleWord *words = RuleVocabulary(&nwords);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < nwords; i++)
	{
		const RuleWord *w = &words[i];
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(w->name);
		values[1] = CStringGetTextDatum(RuleWordKindName(w->kind));
		/* sum, min, max and avg have the type of their field */
		values[2] = w->type_of_field ? (Datum) 0 : CStringGetTextDatum(RuleTypeName(w->type));
		nulls[2] = w->type_of_field;
		values[3] = BoolGetDatum(w->time_dependent);
		values[4] = CStringGetTextDatum(w->description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
