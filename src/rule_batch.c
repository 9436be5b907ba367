/*
 * rule_batch.c: evaluates many rules for many customers at once, and the SQL
 * functions rule_verdicts() and rule_values().
 *
 * A batch is planned (rule_batch_plan.c: the rules' measures merged, each
 * computed once, with its way and its slots), read (rule_batch_read.c: one
 * query per source, the rows filtered, windowed and aggregated by
 * rule_batch_filter.c into the slots of a hash table of customers), then
 * evaluated here: for each customer of customer_fact, and each listed
 * customer without facts, the value of every measure and then of every rule
 * with RuleEvaluate.  The moment time alone may next change a result is the
 * earliest moment a qualifying row enters or leaves a window (a day later
 * for measures such as days_since_last_order).
 */
#include "rule_batch.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(rule_verdicts);
PG_FUNCTION_INFO_V1(rule_values);

/* Bytes per block of the per-customer arena */
#define ARENA_BLOCK ((Size) 1024 * 1024)

#define SH_PREFIX		cust
#define SH_ELEMENT_TYPE	CustEntry
#define SH_KEY_TYPE		CustKey
#define SH_KEY			key
#define SH_HASH_KEY(tb, k)	hash_bytes((const unsigned char *) (k).str, (k).len)
#define SH_EQUAL(tb, a, b)	((a).len == (b).len && memcmp((a).str, (b).str, (a).len) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a)	((a)->hash)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* Bump allocation for per-customer data: one palloc per megabyte */
static void *
BatchAlloc(Batch *b, Size size)
{
	void	   *p;

	size = MAXALIGN(size);
	if (size > b->arena_left)
	{
		Size		block = Max(ARENA_BLOCK, size);

		b->arena = MemoryContextAllocZero(b->context, block);
		b->arena_left = block;
	}
	p = b->arena;
	b->arena += size;
	b->arena_left -= size;
	return p;
}

/* The entry of a customer; created when create, else NULL if unknown */
CustEntry *
RuleBatchCustomer(Batch *b, const char *str, int len, bool create)
{
	CustKey		key = {str, len};
	CustEntry  *e;
	bool		found;
	char	   *copy;

	if (!create)
		return cust_lookup(b->hash, key);
	e = cust_insert(b->hash, key, &found);
	if (!found)
	{
		copy = BatchAlloc(b, len + 1);
		memcpy(copy, str, len);
		e->key.str = copy;
		e->listed = false;
		e->done = false;
		e->next = DT_NOEND;
		e->slots = b->nslots > 0 ? BatchAlloc(b, sizeof(double) * b->nslots) : NULL;
	}
	return e;
}

/* ------------------------------------------------------------------------
 * Evaluation
 * ------------------------------------------------------------------------ */

/* A known number */
static void
SetNumber(RuleValue *v, double num)
{
	v->isnull = false;
	v->num = num;
}

/* Days, with fractions, from since to now; null without since */
static void
SetDays(RuleValue *v, TimestampTz now, TimestampTz since, bool since_null)
{
	v->isnull = since_null;
	if (!since_null)
		v->num = (double) (now - since) / USECS_PER_SEC / SECS_PER_DAY;
}

/* A fact of customer_fact, or count, exists or sum of all orders or events */
static void
FactValue(Batch *b, const BatchMeasure *bm, const FactRow *f, RuleValue *v)
{
	double		orders = f->isnull ? 0 : f->order_count;
	double		total = f->isnull ? 0 : f->order_total;
	double		events = f->isnull ? 0 : f->event_count;
	bool		none = f->isnull;

	if (bm->m->kind == RULE_MEASURE_AGGREGATE)
	{
		double		n = bm->source == RULE_SOURCE_ORDER ? orders : events;

		if (bm->func == RULE_AGG_EXISTS)
		{
			v->isnull = false;
			v->b = n > 0;
		}
		else if (bm->func == RULE_AGG_COUNT)
			SetNumber(v, n);
		else if (n > 0)
			SetNumber(v, total);	/* sum(order.amount) */
		return;
	}
	switch (bm->m->named)
	{
		case RULE_NAMED_ORDER_COUNT:
			SetNumber(v, orders);
			break;
		case RULE_NAMED_TOTAL_PAID:
			SetNumber(v, total);
			break;
		case RULE_NAMED_AVG_ORDER_VALUE:
			if (orders > 0)
				SetNumber(v, total / orders);
			break;
		case RULE_NAMED_EVENT_COUNT:
			SetNumber(v, events);
			break;
		case RULE_NAMED_DAYS_SINCE_FIRST_ORDER:
			SetDays(v, b->now, f->first_order_at, none || f->first_order_null);
			break;
		case RULE_NAMED_DAYS_SINCE_LAST_ORDER:
			SetDays(v, b->now, f->last_order_at, none || f->last_order_null);
			break;
		case RULE_NAMED_DAYS_SINCE_LAST_EVENT:
			SetDays(v, b->now, f->last_event_at, none || f->last_event_null);
			break;
		default:
			elog(ERROR, "measure %s is not a fact of customer_fact", bm->m->text);
	}
}

/* A customer attribute: a string of customer_fact.attributes, or null */
static void
AttributeValue(const BatchMeasure *bm, const FactRow *f, RuleValue *v)
{
	JsonbValue	jv;
	const char *name = bm->m->name;

	if (f->isnull || f->attributes == NULL || !JB_ROOT_IS_OBJECT(f->attributes) ||
		getKeyJsonValueFromContainer(&f->attributes->root, name, strlen(name), &jv) == NULL ||
		jv.type == jbvNull)
		return;
	if (jv.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value of measure %s must be a string or null", bm->m->text),
				 errdetail("The customer attribute \"%s\" is stored as a JSON %s.", name,
						   JsonbTypeName(&jv))));
	v->isnull = false;
	v->str = jv.val.string.val;
	v->len = jv.val.string.len;
}

/* The value of a measure for a customer (slots: zeros for no data) */
static void
MeasureValue(Batch *b, const BatchMeasure *bm, const double *slots, const FactRow *f, RuleValue *v)
{
	const double *s = bm->slot >= 0 ? slots + bm->slot : NULL;

	memset(v, 0, sizeof(*v));
	v->isnull = true;
	switch (bm->way)
	{
		case WAY_ROWS:
			switch (bm->func)
			{
				case RULE_AGG_COUNT:
					SetNumber(v, s[0]);
					break;
				case RULE_AGG_EXISTS:
					v->isnull = false;
					v->b = s[0] > 0;
					break;
				case RULE_AGG_SUM:
					if (s[2] > 0)
						SetNumber(v, s[0] + s[1]);
					break;
				case RULE_AGG_AVG:
					if (s[2] > 0)
						SetNumber(v, (s[0] + s[1]) / s[2]);
					break;
				case RULE_AGG_MIN:
				case RULE_AGG_MAX:
					if (s[1] > 0)
						SetNumber(v, s[0]);
					break;
			}
			break;
		case WAY_EVENT_FACT:
			if (bm->func == RULE_AGG_EXISTS)
			{
				v->isnull = false;
				v->b = s[0] > 0;
			}
			else
				SetNumber(v, s[0]);
			break;
		case WAY_FACT:
			FactValue(b, bm, f, v);
			break;
		case WAY_ATTRIBUTE:
			AttributeValue(bm, f, v);
			break;
		case WAY_BIRTH_DATE:
			if (f->isnull)
				break;
			if (bm->m->named == RULE_NAMED_BIRTH_YEAR)
			{
				v->isnull = f->birth_year_null;
				v->num = f->birth_year;
			}
			else
			{
				v->isnull = f->age_null;
				v->num = f->age;
			}
			break;
		case WAY_ACTIVE_DAYS:
			SetNumber(v, s[0]);
			break;
		case WAY_REGISTRATION:
		case WAY_RFM_SCORE:
		case WAY_CHURN:
			if (s[1] != 0)
				SetNumber(v, s[0]);
			break;
		case WAY_MODEL:
			if (s[0] > 0)
			{
				const char *value = b->values[(int) s[0] - 1];

				if (bm->m->type == RULE_TYPE_TEXT)
				{
					v->isnull = false;
					v->str = value;
					v->len = strlen(value);
				}
				else
					SetNumber(v, DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(value))));
			}
			break;
		case WAY_TAG:
			v->isnull = false;
			v->b = s[0] > 0;
			break;
	}
}

/* Each rule for one customer: holds (TRUE) / unknown lists, next change */
typedef struct Verdict
{
	int			nholding;
	int			nunknown;
	int		   *holding;
	int		   *unknown;
	TimestampTz next;
} Verdict;

/* Every measure for one customer, then every rule; e NULL: no data read */
static void
BatchEvaluate(Batch *b, CustEntry *e, const FactRow *f, Verdict *out)
{
	const double *slots = (e != NULL && e->slots != NULL) ? e->slots : b->zeros;

	for (int i = 0; i < b->nmeasures; i++)
		MeasureValue(b, &b->measures[i], slots, f, &b->gv[i]);
	out->nholding = out->nunknown = 0;
	for (int r = 0; r < b->nrules; r++)
	{
		const RuleTree *tree = b->trees[r];
		bool		isnull;

		for (int i = 0; i < tree->nmeasures; i++)
			b->rv[i] = b->gv[b->map[r][i]];
		if (RuleEvaluate(tree, b->rv, &isnull))
			out->holding[out->nholding++] = r + 1;
		else if (isnull)
			out->unknown[out->nunknown++] = r + 1;
	}
	out->next = e != NULL ? e->next : DT_NOEND;
	if (b->daily && b->day_later < out->next)
		out->next = b->day_later;
}

/* Sets up a batch: the rules planned, the listed customers entered */
static Batch *
BatchBegin(FunctionCallInfo fcinfo, ArrayType *rules, ArrayType *customers)
{
	Batch	   *b = palloc0(sizeof(Batch));

	b->context = CurrentMemoryContext;
	b->schema = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
	b->now = TagscrmNow();
	b->day_later = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														   TimestampTzGetDatum(b->now),
														   DirectFunctionCall3(interval_in,
																			   CStringGetDatum("1 day"),
																			   ObjectIdGetDatum(InvalidOid),
																			   Int32GetDatum(-1))));
	RuleBatchPlan(b, rules);

	b->everyone = (customers == NULL);
	b->hash = cust_create(b->context, 1024, NULL);
	if (!b->everyone)
	{
		Datum	   *ids;
		bool	   *idnulls;
		int			nids;

		if (ARR_NDIM(customers) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("customers must be a one-dimensional array")));
		b->customers = PointerGetDatum(customers);
		deconstruct_array(customers, TEXTOID, -1, false, TYPALIGN_INT, &ids, &idnulls, &nids);
		for (int i = 0; i < nids; i++)
		{
			text	   *t;

			if (idnulls[i])
				continue;
			t = DatumGetTextPP(ids[i]);
			RuleBatchCustomer(b, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), true)->listed = true;
		}
	}
	return b;
}

/* What a batch run does with each customer's verdict */
typedef void (*EmitFn) (Batch *b, const char *id, int len, Verdict *v, void *arg);

/* What EvaluateFact needs */
typedef struct RunState
{
	EmitFn		emit;
	void	   *arg;
	Verdict		verdict;
} RunState;

/* A customer of customer_fact: evaluated and emitted once */
static void
EvaluateFact(Batch *b, const char *id, int len, CustEntry *e, const FactRow *f, void *arg)
{
	RunState   *run = arg;

	BatchEvaluate(b, e, f, &run->verdict);
	if (e != NULL)
		e->done = true;
	run->emit(b, id, len, &run->verdict, run->arg);
}

/*
 * Reads the batch's data, then calls emit for every customer with facts
 * (the batch's customers, or everyone) with its verdicts; then, for a list,
 * for the listed customers without facts.
 */
static void
BatchRun(Batch *b, EmitFn emit, void *arg)
{
	RunState	run;
	cust_iterator it;
	CustEntry  *e;
	FactRow		none;

	run.emit = emit;
	run.arg = arg;
	run.verdict.holding = palloc(sizeof(int) * Max(1, b->nrules));
	run.verdict.unknown = palloc(sizeof(int) * Max(1, b->nrules));
	RuleBatchRead(b);
	RuleBatchReadFacts(b, EvaluateFact, &run);

	/* listed customers without facts */
	memset(&none, 0, sizeof(none));
	none.isnull = true;
	cust_start_iterate(b->hash, &it);
	while ((e = cust_iterate(b->hash, &it)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (!e->listed || e->done)
			continue;
		BatchEvaluate(b, e, &none, &run.verdict);
		e->done = true;
		emit(b, e->key.str, e->key.len, &run.verdict, arg);
	}
}

/* ------------------------------------------------------------------------
 * SQL functions
 * ------------------------------------------------------------------------ */

typedef struct VerdictOut
{
	ReturnSetInfo *rsinfo;
	MemoryContext rowcontext;
} VerdictOut;

static Datum
IntArray(const int *items, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(1, n));

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(items[i]);
	return PointerGetDatum(construct_array(d, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/* A row of rule_verdicts() */
static void
EmitVerdict(Batch *b, const char *id, int len, Verdict *v, void *arg)
{
	VerdictOut *out = arg;
	MemoryContext old = MemoryContextSwitchTo(out->rowcontext);
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = PointerGetDatum(cstring_to_text_with_len(id, len));
	values[1] = IntArray(v->holding, v->nholding);
	values[2] = IntArray(v->unknown, v->nunknown);
	values[3] = TimestampTzGetDatum(v->next);
	nulls[3] = (v->next == DT_NOEND);
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
	MemoryContextSwitchTo(old);
	MemoryContextReset(out->rowcontext);
}

/*
 * SQL: tagscrm.rule_verdicts(rules text[], customers text[]) RETURNS TABLE
 * (customer_id text, holding int[], unknown int[], next_change_at timestamptz)
 * One row per customer (everyone with facts when customers is NULL): the
 * rules (1-based positions) that hold and that are unknown, and when time
 * alone may next change any of the results.
 */
Datum
rule_verdicts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext context;
	MemoryContext old;
	VerdictOut	out;
	Batch	   *b;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rules must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	context = AllocSetContextCreate(CurrentMemoryContext, "tagscrm rule batch", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(context);
	b = BatchBegin(fcinfo, PG_GETARG_ARRAYTYPE_P(0), PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1));
	out.rsinfo = rsinfo;
	out.rowcontext = AllocSetContextCreate(context, "tagscrm rule verdict", ALLOCSET_SMALL_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(context);
	BatchRun(b, EmitVerdict, &out);
	SPI_finish();
	RuleCacheUnpin();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(context);
	return (Datum) 0;
}

/* A number as JSON, shortest form */
static void
JsonNumberOut(StringInfo buf, double v)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, tmp);
	appendStringInfoString(buf, tmp);
}

/* The measure values of rule_values()'s one rule, as a JSON object */
static void
EmitValues(Batch *b, const char *id, int len, Verdict *v, void *arg)
{
	StringInfo	buf = arg;
	const RuleTree *tree = b->trees[0];

	appendStringInfoChar(buf, '{');
	for (int i = 0; i < tree->nmeasures; i++)
	{
		const RuleValue *val = &b->gv[b->map[0][i]];

		appendStringInfo(buf, "%s\"%d\": ", i > 0 ? ", " : "", i + 1);
		if (val->isnull)
			appendStringInfoString(buf, "null");
		else
			switch (tree->measures[i].type)
			{
				case RULE_TYPE_BOOL:
					appendStringInfoString(buf, val->b ? "true" : "false");
					break;
				case RULE_TYPE_NUMBER:
				case RULE_TYPE_DURATION:
					JsonNumberOut(buf, val->num);
					break;
				case RULE_TYPE_TEXT:
					escape_json(buf, pnstrdup(val->str, val->len));
					break;
			}
	}
	appendStringInfoChar(buf, '}');
}

/*
 * SQL: tagscrm.rule_values(rule text, customer text) RETURNS jsonb
 * The value of every measure of a rule for one customer, keyed by measure
 * id: what the batch evaluates the rule with.
 */
Datum
rule_values(PG_FUNCTION_ARGS)
{
	ArrayType  *rules = construct_array(&PG_GETARG_DATUM(0), 1, TEXTOID, -1, false, TYPALIGN_INT);
	ArrayType  *customers = construct_array(&PG_GETARG_DATUM(1), 1, TEXTOID, -1, false, TYPALIGN_INT);
	StringInfoData buf;
	Batch	   *b;
	Datum		result;

	initStringInfo(&buf);
	b = BatchBegin(fcinfo, rules, customers);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(b->context);
	BatchRun(b, EmitValues, &buf);
	SPI_finish();
	RuleCacheUnpin();
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	PG_RETURN_DATUM(result);
}
