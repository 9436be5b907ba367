/*
 * rule_batch.c: evaluates many rules for many customers at once.
 *
 * The rules are parsed through the per-backend cache (pinned for the call)
 * and their measures merged: a measure several rules use is computed once.
 * Each kind of measure is then computed for every customer of the batch by
 * one query per source: per-customer facts where they suffice (counts of
 * events of a kind, order totals, active days, model tags, tags held), and
 * one scan of the watched orders and events where they do not, restricted
 * to the event kinds and the widest window the rules look at; for a list of
 * customers the scans go through the customer column (its index).  Rows are
 * filtered, windowed and aggregated here, in a hash table of customers;
 * then every rule is evaluated per customer with RuleEvaluate, and the
 * moment time alone may next change a result is the earliest moment a
 * qualifying row enters or leaves a window (a day later for measures such as
 * days_since_last_order).
 *
 * Query texts are built from constants and from the identifiers recorded in
 * watched_table, quoted; customer ids, times, event kinds and tag names are
 * parameters.  No text of a rule ever becomes SQL.
 */
#include "tagscrm.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(rule_verdicts);
PG_FUNCTION_INFO_V1(rule_values);

/* Rows fetched from a cursor at a time */
#define BATCH_FETCH 10000
/* Bytes per block of the per-customer arena */
#define ARENA_BLOCK ((Size) 1024 * 1024)

/* How a measure is computed */
typedef enum BatchWay
{
	WAY_ROWS,					/* aggregate over the rows of orders or events */
	WAY_EVENT_FACT,				/* count/exists of events of some kinds, all time */
	WAY_FACT,					/* a column of customer_fact (no slot) */
	WAY_ATTRIBUTE,				/* customer_fact.attributes or birth date (no slot) */
	WAY_ACTIVE_DAYS,			/* rows of customer_day */
	WAY_REGISTRATION,			/* customer.first_seen_at */
	WAY_MODEL,					/* value of a model tag */
	WAY_RFM_SCORE,				/* live RFM score */
	WAY_CHURN,					/* customer_churn() */
	WAY_TAG						/* has_tag */
} BatchWay;

/* Fields of a row of the watched orders or events */
typedef enum RowField
{
	FIELD_NONE,					/* not available: always NULL */
	FIELD_AMOUNT,
	FIELD_KIND,
	FIELD_OBJECT,
	FIELD_DURATION
} RowField;

/* One row of orders or events, as read */
typedef struct BatchRow
{
	TimestampTz at;
	bool		at_null;
	double		num;			/* amount or duration */
	bool		num_null;
	const char *kind;
	int			kind_len;		/* -1: NULL */
	const char *object;
	int			object_len;		/* -1: NULL */
} BatchRow;

typedef struct BatchFilter
{
	RowField	field;
	const RuleFilter *f;
} BatchFilter;

/* A distinct measure of the batch */
typedef struct BatchMeasure
{
	const RuleMeasure *m;
	BatchWay	way;
	int			slot;			/* index of its first double in a customer's slots; -1 */
	int			code;			/* WAY_FACT / ATTRIBUTE / MODEL / RFM / CHURN: which one */
	/* WAY_ROWS */
	RowField	value_field;
	int			nfilters;
	BatchFilter *filters;
	TimestampTz lo;				/* window: rows with lo < at <= hi count */
	TimestampTz hi;
	int64		from_us;
	int64		to_us;
} BatchMeasure;

/* Customer id, as stored (not NUL-terminated) */
typedef struct CustKey
{
	const char *str;
	int			len;
} CustKey;

typedef struct CustEntry
{
	CustKey		key;
	uint32		hash;
	char		status;
	bool		listed;			/* asked for by name */
	bool		done;			/* result emitted */
	TimestampTz next;			/* earliest window change; DT_NOEND if none */
	double	   *slots;
} CustEntry;

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

/* Fact values of one customer, from customer_fact (isnull: no row) */
typedef struct FactRow
{
	bool		isnull;
	double		order_count;
	double		order_total;
	TimestampTz first_order_at;
	bool		first_order_null;
	TimestampTz last_order_at;
	bool		last_order_null;
	double		event_count;
	TimestampTz last_event_at;
	bool		last_event_null;
	Jsonb	   *attributes;
	double		birth_year;
	bool		birth_year_null;
	double		age;
	bool		age_null;
} FactRow;

typedef struct Batch
{
	MemoryContext context;
	const char *schema;			/* quoted */
	TimestampTz now;
	TimestampTz day_later;		/* now + 1 day, for time-dependent facts */
	bool		daily;			/* some rule has a time-dependent fact */
	int			nrules;
	const RuleTree **trees;
	int		  **map;			/* per rule: its measure i -> batch measure */
	int			nmeasures;
	BatchMeasure *measures;
	int			nslots;
	bool		everyone;
	Datum		customers;		/* text[] of the list, or 0 */
	cust_hash  *hash;
	char	   *arena;
	Size		arena_left;
	/* interned model values */
	int			nvalues;
	char	  **values;
	/* scratch */
	RuleValue  *gv;
	RuleValue  *rv;
	double	   *zeros;			/* the slots of a customer without data */
} Batch;

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
static CustEntry *
BatchCustomer(Batch *b, const char *str, int len, bool create)
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
 * Planning: which measures, computed how
 * ------------------------------------------------------------------------ */

static const char *const fact_names[] = {
	"order_count", "total_paid", "avg_order_value", "event_count",
	"days_since_first_order", "days_since_last_order", "days_since_last_event", NULL
};
static const char *const model_names[][2] = {
	{"rfm_segment", "rfm"}, {"lifecycle_stage", "lifecycle"}, {"customer_status", "status"},
	{"user_level", "level"}, {NULL, NULL}
};
static const char *const rfm_names[] = {"rfm_r", "rfm_f", "rfm_m", NULL};
static const char *const churn_names[] = {"churn_probability", "p_alive", "expected_value", NULL};

/* Index of name in a NULL-terminated list, or -1 */
static int
NameIndex(const char *const *names, const char *name)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static RowField
FieldOf(RuleSource source, RuleField field)
{
	switch (field)
	{
		case RULE_FIELD_AMOUNT:
			return FIELD_AMOUNT;
		case RULE_FIELD_KIND:
			return FIELD_KIND;
		case RULE_FIELD_OBJECT:
			return FIELD_OBJECT;
		case RULE_FIELD_DURATION:
			return FIELD_DURATION;
		case RULE_FIELD_NONE:
		case RULE_FIELD_ORDER_CHANNEL:
		case RULE_FIELD_PRODUCT:
		case RULE_FIELD_EVENT_CHANNEL:
			break;				/* not read from the watched tables */
	}
	return FIELD_NONE;
}

/* Seconds as microseconds, clamped far beyond any timestamp */
static int64
SecondsToUs(double secs)
{
	return (int64) llround(Min(secs, RULE_MAX_DURATION) * USECS_PER_SEC);
}

/* The aggregate of a measure over rows (max_order_amount is max(order.amount)) */
static RuleAggFunc
FuncOf(const BatchMeasure *bm)
{
	return bm->code == -1 ? RULE_AGG_MAX : bm->m->func;
}

/* Doubles of slot a measure takes */
static int
SlotWidth(const BatchMeasure *bm)
{
	switch (bm->way)
	{
		case WAY_ROWS:
			switch (FuncOf(bm))
			{
				case RULE_AGG_COUNT:
				case RULE_AGG_EXISTS:
					return 1;	/* n */
				case RULE_AGG_SUM:
				case RULE_AGG_AVG:
					return 3;	/* sum, compensation, n */
				default:
					return 2;	/* value, n */
			}
		case WAY_EVENT_FACT:
		case WAY_ACTIVE_DAYS:
		case WAY_MODEL:
		case WAY_TAG:
			return 1;
		case WAY_REGISTRATION:
		case WAY_RFM_SCORE:
		case WAY_CHURN:
			return 2;			/* value, known */
		default:
			return 0;
	}
}

/*
 * Is an aggregate over events answered by customer_event_fact?  Counts and
 * existence of events, all time, filtered on the kind alone (= or IN).
 */
static bool
ByEventFact(const RuleMeasure *m)
{
	if (m->source != RULE_SOURCE_EVENT || m->has_window ||
		(m->func != RULE_AGG_COUNT && m->func != RULE_AGG_EXISTS) || m->nfilters != 1)
		return false;
	return m->filters[0].field == RULE_FIELD_KIND &&
		(m->filters[0].op == RULE_OP_EQ || m->filters[0].op == RULE_OP_IN);
}

/* Finds or adds the batch measure for a rule's measure */
static int
BatchAddMeasure(Batch *b, const RuleMeasure *m, int *capacity)
{
	BatchMeasure *bm;

	for (int i = 0; i < b->nmeasures; i++)
		if (strcmp(b->measures[i].m->text, m->text) == 0)
			return i;
	if (b->nmeasures == *capacity)
	{
		*capacity *= 2;
		b->measures = repalloc(b->measures, sizeof(BatchMeasure) * *capacity);
	}
	bm = &b->measures[b->nmeasures];
	memset(bm, 0, sizeof(*bm));
	bm->m = m;
	bm->slot = -1;
	switch (m->kind)
	{
		case RULE_MEASURE_AGGREGATE:
			bm->way = ByEventFact(m) ? WAY_EVENT_FACT : WAY_ROWS;
			bm->value_field = FieldOf(m->source, m->field);
			bm->nfilters = m->nfilters;
			bm->filters = palloc(sizeof(BatchFilter) * Max(1, m->nfilters));
			for (int i = 0; i < m->nfilters; i++)
			{
				bm->filters[i].field = FieldOf(m->source, m->filters[i].field);
				bm->filters[i].f = &m->filters[i];
			}
			if (m->has_window)
			{
				bm->from_us = SecondsToUs(m->window_from);
				bm->to_us = SecondsToUs(m->window_to);
				bm->lo = b->now - bm->from_us;
				bm->hi = b->now - bm->to_us;
			}
			/* sums of all orders, counts of all orders or events: from the facts */
			if (!m->has_window && m->nfilters == 0 &&
				(m->func == RULE_AGG_COUNT || m->func == RULE_AGG_EXISTS ||
				 (m->func == RULE_AGG_SUM && m->source == RULE_SOURCE_ORDER)))
			{
				bm->way = WAY_FACT;
				bm->code = 100 + (int) m->func * 2 + (int) m->source;
			}
			break;
		case RULE_MEASURE_FACT:
			if (strcmp(m->name, "active_days") == 0)
				bm->way = WAY_ACTIVE_DAYS;
			else if (strcmp(m->name, "max_order_amount") == 0)
			{
				/* the largest amount of all orders */
				bm->way = WAY_ROWS;
				bm->value_field = FIELD_AMOUNT;
				bm->filters = palloc(sizeof(BatchFilter));
				bm->code = -1;	/* func MAX, source orders */
			}
			else
			{
				bm->way = WAY_FACT;
				bm->code = NameIndex(fact_names, m->name);
			}
			break;
		case RULE_MEASURE_ATTRIBUTE:
			bm->way = strcmp(m->name, "days_since_registration") == 0 ? WAY_REGISTRATION : WAY_ATTRIBUTE;
			break;
		case RULE_MEASURE_MODEL:
			if ((bm->code = NameIndex(rfm_names, m->name)) >= 0)
				bm->way = WAY_RFM_SCORE;
			else if ((bm->code = NameIndex(churn_names, m->name)) >= 0)
				bm->way = WAY_CHURN;
			else
			{
				bm->way = WAY_MODEL;
				bm->code = -1;
				for (int i = 0; model_names[i][0]; i++)
					if (strcmp(model_names[i][0], m->name) == 0)
						bm->code = i;
			}
			break;
		case RULE_MEASURE_TAG:
			bm->way = WAY_TAG;
			break;
	}
	if (m->time_dependent && m->kind != RULE_MEASURE_AGGREGATE)
		b->daily = true;
	return b->nmeasures++;
}

/* Is bm an aggregate over rows of this source? */
static bool
RowsOf(const BatchMeasure *bm, RuleSource source)
{
	if (bm->way != WAY_ROWS)
		return false;
	if (bm->code == -1)
		return source == RULE_SOURCE_ORDER;
	return bm->m->source == source;
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

/* text[] of C strings */
static Datum
TextArray(const char **items, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(1, n));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(items[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Runs query with parameters $1 (text[] customers, NULL for everyone) and
 * the given others, and calls fn for every row as the executor produces it
 * (no copy into a tuple table; parallel plans allowed).
 */
typedef void (*RowFn) (Batch *b, TupleTableSlot *slot, void *arg);

typedef struct BatchDest
{
	DestReceiver pub;
	Batch	   *b;
	RowFn		fn;
	void	   *arg;
	MemoryContext rowcontext;
} BatchDest;

static bool
BatchReceive(TupleTableSlot *slot, DestReceiver *self)
{
	BatchDest  *dest = (BatchDest *) self;
	MemoryContext old;

	/* a scan of a whole table: let it be cancelled */
	CHECK_FOR_INTERRUPTS();
	old = MemoryContextSwitchTo(dest->rowcontext);
	slot_getallattrs(slot);
	dest->fn(dest->b, slot, dest->arg);
	MemoryContextSwitchTo(old);
	MemoryContextReset(dest->rowcontext);
	return true;
}

static void
BatchStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
BatchShutdown(DestReceiver *self)
{
}

static void
BatchDestroy(DestReceiver *self)
{
}

static void
BatchScan(Batch *b, const char *query, int nargs, Oid *types, Datum *values, char *nulls,
		  RowFn fn, void *arg)
{
	SPIPlanPtr	plan;
	SPIExecuteOptions options;
	BatchDest	dest;
	int			ret;

	plan = SPI_prepare_cursor(query, nargs, types, CURSOR_OPT_PARALLEL_OK);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed: %s", SPI_result_code_string(SPI_result));
	memset(&dest, 0, sizeof(dest));
	dest.pub.receiveSlot = BatchReceive;
	dest.pub.rStartup = BatchStartup;
	dest.pub.rShutdown = BatchShutdown;
	dest.pub.rDestroy = BatchDestroy;
	dest.pub.mydest = DestNone;
	dest.b = b;
	dest.fn = fn;
	dest.arg = arg;
	dest.rowcontext = AllocSetContextCreate(b->context, "tagscrm rule batch rows", ALLOCSET_DEFAULT_SIZES);
	memset(&options, 0, sizeof(options));
	options.params = makeParamList(nargs);
	for (int i = 0; i < nargs; i++)
	{
		ParamExternData *prm = &options.params->params[i];

		prm->value = values[i];
		prm->isnull = (nulls[i] == 'n');
		prm->pflags = PARAM_FLAG_CONST;
		prm->ptype = types[i];
	}
	options.read_only = true;
	options.dest = (DestReceiver *) &dest;
	ret = SPI_execute_plan_extended(plan, &options);
	if (ret < 0)
		elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(ret));
	SPI_freeplan(plan);
	MemoryContextDelete(dest.rowcontext);
}

/* Column i (1-based) of a row */
static inline Datum
Col(TupleTableSlot *slot, int i, bool *isnull)
{
	*isnull = slot->tts_isnull[i - 1];
	return slot->tts_values[i - 1];
}

/* Column i (1-based) as text pointer and length; false when NULL */
static bool
GetText(TupleTableSlot *slot, int i, const char **str, int *len)
{
	bool		isnull;
	Datum		d = Col(slot, i, &isnull);
	text	   *t;

	if (isnull)
		return false;
	t = DatumGetTextPP(d);
	*str = VARDATA_ANY(t);
	*len = VARSIZE_ANY_EXHDR(t);
	return true;
}

static double
GetFloat(TupleTableSlot *slot, int i, bool *isnull)
{
	Datum		d = Col(slot, i, isnull);

	return *isnull ? 0 : DatumGetFloat8(d);
}

/* The customer of column 1 */
static CustEntry *
RowCustomer(Batch *b, TupleTableSlot *slot)
{
	const char *str;
	int			len;

	if (!GetText(slot, 1, &str, &len))
		return NULL;
	return BatchCustomer(b, str, len, b->everyone);
}

/* " WHERE col = ANY ($1)" for a list of customers, else "" */
static const char *
OnlyListed(Batch *b, const char *column, bool and)
{
	if (b->everyone)
		return "";
	return psprintf(" %s %s = ANY ($1)", and ? "AND" : "WHERE", column);
}

/* Does a text value pass a filter on a text field? */
static bool
TextPasses(const RuleFilter *f, const char *s, int len)
{
	bool		in = false;

	for (int i = 0; i < f->nvalues && !in; i++)
		in = (f->values[i].len == (size_t) len && memcmp(f->values[i].str, s, len) == 0);
	switch (f->op)
	{
		case RULE_OP_EQ:
		case RULE_OP_IN:
			return in;
		case RULE_OP_NE:
		case RULE_OP_NOT_IN:
			return !in;
		default:
			return false;		/* the parser allows no other operator on text */
	}
}

static bool
NumberPasses(const RuleFilter *f, double v)
{
	double		w = f->values[0].num;

	switch (f->op)
	{
		case RULE_OP_EQ:
			return v == w;
		case RULE_OP_NE:
			return v != w;
		case RULE_OP_LT:
			return v < w;
		case RULE_OP_LE:
			return v <= w;
		case RULE_OP_GT:
			return v > w;
		case RULE_OP_GE:
			return v >= w;
		case RULE_OP_IN:
		case RULE_OP_NOT_IN:
			{
				bool		in = false;

				for (int i = 0; i < f->nvalues && !in; i++)
					in = (v == f->values[i].num);
				return f->op == RULE_OP_IN ? in : !in;
			}
	}
	return false;
}

/* Do all filters hold for a row?  A NULL field makes its filter fail (unknown). */
static bool
RowPasses(const BatchMeasure *bm, const BatchRow *row)
{
	for (int i = 0; i < bm->nfilters; i++)
	{
		const RuleFilter *f = bm->filters[i].f;

		switch (bm->filters[i].field)
		{
			case FIELD_NONE:
				return false;
			case FIELD_KIND:
				if (row->kind_len < 0 || !TextPasses(f, row->kind, row->kind_len))
					return false;
				break;
			case FIELD_OBJECT:
				if (row->object_len < 0 || !TextPasses(f, row->object, row->object_len))
					return false;
				break;
			case FIELD_AMOUNT:
			case FIELD_DURATION:
				if (row->num_null || !NumberPasses(f, row->num))
					return false;
				break;
		}
	}
	return true;
}

/* Adds one row to a customer's aggregate */
static void
Accumulate(const BatchMeasure *bm, CustEntry *e, const BatchRow *row, TimestampTz now)
{
	double	   *s = e->slots + bm->slot;

	if (bm->m->has_window && bm->code != -1)
	{
		TimestampTz enter = row->at + bm->to_us;
		TimestampTz leave = row->at + bm->from_us;

		/* when time alone may change it: the row enters or leaves the window */
		if (enter > now && enter < e->next)
			e->next = enter;
		if (leave > now && leave < e->next)
			e->next = leave;
		if (!(bm->lo < row->at && row->at <= bm->hi))
			return;
	}
	switch (FuncOf(bm))
	{
		case RULE_AGG_COUNT:
		case RULE_AGG_EXISTS:
			s[0] += 1;
			break;
		case RULE_AGG_SUM:
		case RULE_AGG_AVG:
			if (!row->num_null)
			{
				/* Neumaier's compensated sum: order amounts add up exactly */
				double		t = s[0] + row->num;

				if (fabs(s[0]) >= fabs(row->num))
					s[1] += (s[0] - t) + row->num;
				else
					s[1] += (row->num - t) + s[0];
				s[0] = t;
				s[2] += 1;
			}
			break;
		case RULE_AGG_MIN:
		case RULE_AGG_MAX:
			if (!row->num_null)
			{
				if (s[1] == 0 ||
					(FuncOf(bm) == RULE_AGG_MIN ? row->num < s[0] : row->num > s[0]))
					s[0] = row->num;
				s[1] += 1;
			}
			break;
	}
}

typedef struct SourceScan
{
	RuleSource	source;
	int			nmeasures;
	BatchMeasure **measures;
} SourceScan;

static void
RowOfSource(Batch *b, TupleTableSlot *slot, void *arg)
{
	SourceScan *scan = arg;
	CustEntry  *e = RowCustomer(b, slot);
	BatchRow	row;
	if (e == NULL)
		return;
	row.at = DatumGetTimestampTz(Col(slot, 2, &row.at_null));
	row.num = GetFloat(slot, 3, &row.num_null);
	row.kind_len = row.object_len = -1;
	if (scan->source == RULE_SOURCE_EVENT)
	{
		if (!GetText(slot, 4, &row.kind, &row.kind_len))
			row.kind_len = -1;
		if (!GetText(slot, 5, &row.object, &row.object_len))
			row.object_len = -1;
	}
	for (int i = 0; i < scan->nmeasures; i++)
	{
		BatchMeasure *bm = scan->measures[i];

		if ((bm->m->has_window && bm->code != -1 && row.at_null) || !RowPasses(bm, &row))
			continue;
		Accumulate(bm, e, &row, b->now);
	}
}

/* Adds a kind filter's values to a list of kinds */
static void
AddKinds(const BatchMeasure *bm, List **kinds, bool *all)
{
	for (int i = 0; i < bm->nfilters; i++)
	{
		const RuleFilter *f = bm->filters[i].f;

		if (bm->filters[i].field == FIELD_KIND && (f->op == RULE_OP_EQ || f->op == RULE_OP_IN))
		{
			for (int j = 0; j < f->nvalues; j++)
				*kinds = lappend(*kinds, (void *) f->values[j].str);
			return;
		}
	}
	*all = true;
}

static Datum
KindArray(List *kinds)
{
	const char **items = palloc(sizeof(char *) * Max(1, list_length(kinds)));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, kinds)
		items[n++] = lfirst(lc);
	return TextArray(items, n);
}

/*
 * One scan of the watched orders or events for the aggregates over their
 * rows: only the rows some measure may count (its kinds, and within the
 * widest window unless a measure looks at all time).
 */
static void
ScanSource(Batch *b, RuleSource source)
{
	SourceScan	scan;
	StringInfoData q;
	int			ret;
	bool		isnull;
	HeapTuple	w;
	TupleDesc	wd;
	Oid			relid;
	char	   *cust, *at, *num, *kind = NULL, *object = NULL, *custtype;
	List	   *unbounded_kinds = NIL, *window_kinds = NIL;
	bool		unbounded = false, unbounded_all = false, windowed = false, window_all = false;
	int64		widest = 0;
	Oid			types[4] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Datum		warg[1];

	scan.source = source;
	scan.nmeasures = 0;
	scan.measures = palloc(sizeof(BatchMeasure *) * b->nmeasures);
	for (int i = 0; i < b->nmeasures; i++)
	{
		BatchMeasure *bm = &b->measures[i];

		if (!RowsOf(bm, source))
			continue;
		scan.measures[scan.nmeasures++] = bm;
		if (bm->m->has_window && bm->code != -1)
		{
			windowed = true;
			widest = Max(widest, bm->from_us);
			if (source == RULE_SOURCE_EVENT)
				AddKinds(bm, &window_kinds, &window_all);
			else
				window_all = true;
		}
		else
		{
			unbounded = true;
			if (source == RULE_SOURCE_EVENT)
				AddKinds(bm, &unbounded_kinds, &unbounded_all);
			else
				unbounded_all = true;
		}
	}
	if (scan.nmeasures == 0)
		return;

	warg[0] = CStringGetTextDatum(source == RULE_SOURCE_ORDER ? "orders" : "events");
	ret = SPI_execute_with_args(psprintf("SELECT w.relid::oid, w.customer_column::text, w.at_column::text, "
										 "w.amount_column::text, w.kind_column::text, w.object_column::text, "
										 "w.duration_column::text, format_type(a.atttypid, a.atttypmod) "
										 "FROM %s.watched_table w JOIN pg_catalog.pg_attribute a "
										 "ON a.attrelid = w.relid AND a.attname = w.customer_column "
										 "WHERE w.role = $1", b->schema),
								1, (Oid[]) {TEXTOID}, warg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;					/* not watched: no rows, every aggregate empty */
	w = SPI_tuptable->vals[0];
	wd = SPI_tuptable->tupdesc;
	relid = DatumGetObjectId(SPI_getbinval(w, wd, 1, &isnull));
	cust = pstrdup(quote_identifier(SPI_getvalue(w, wd, 2)));
	at = pstrdup(quote_identifier(SPI_getvalue(w, wd, 3)));
	custtype = SPI_getvalue(w, wd, 8);
	if (source == RULE_SOURCE_ORDER)
		num = psprintf("%s::pg_catalog.float8", quote_identifier(SPI_getvalue(w, wd, 4)));
	else
	{
		char	   *obj = SPI_getvalue(w, wd, 6);
		char	   *dur = SPI_getvalue(w, wd, 7);

		kind = psprintf("%s::pg_catalog.text", quote_identifier(SPI_getvalue(w, wd, 5)));
		object = obj ? psprintf("%s::pg_catalog.text", quote_identifier(obj)) : "NULL::pg_catalog.text";
		num = dur ? psprintf("%s::pg_catalog.float8", quote_identifier(dur)) : "NULL::pg_catalog.float8";
	}

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s::pg_catalog.text, %s::pg_catalog.timestamptz, %s", cust, at, num);
	if (source == RULE_SOURCE_EVENT)
		appendStringInfo(&q, ", %s, %s", kind, object);
	appendStringInfo(&q, " FROM %s.%s WHERE true",
					 quote_identifier(get_namespace_name(get_rel_namespace(relid))),
					 quote_identifier(get_rel_name(relid)));
	if (!b->everyone)
		appendStringInfo(&q, " AND %s = ANY ($1::%s[])", cust, custtype);
	if (!unbounded_all)
	{
		/* rows some measure may count: its kinds, within its window */
		appendStringInfoString(&q, " AND (false");
		if (unbounded)
			appendStringInfo(&q, " OR %s = ANY ($2)", kind);
		if (windowed && window_all)
			appendStringInfo(&q, " OR %s > $4", at);
		else if (windowed)
			appendStringInfo(&q, " OR (%s = ANY ($3) AND %s > $4)", kind, at);
		appendStringInfoChar(&q, ')');
	}
	values[0] = b->everyone ? (Datum) 0 : b->customers;
	nulls[0] = b->everyone ? 'n' : ' ';
	values[1] = KindArray(unbounded_kinds);
	values[2] = KindArray(window_kinds);
	values[3] = TimestampTzGetDatum(b->now - widest);
	BatchScan(b, q.data, 4, types, values, nulls, RowOfSource, &scan);
}

/* customer_event_fact rows of the kinds the counts need */
static void
RowOfEventFact(Batch *b, TupleTableSlot *slot, void *arg)
{
	CustEntry  *e = RowCustomer(b, slot);
	BatchRow	row;
	bool		isnull;
	double		events;

	if (e == NULL)
		return;
	memset(&row, 0, sizeof(row));
	row.object_len = -1;
	row.num_null = true;
	GetText(slot, 2, &row.kind, &row.kind_len);
	events = GetFloat(slot, 3, &isnull);
	for (int i = 0; i < b->nmeasures; i++)
	{
		BatchMeasure *bm = &b->measures[i];

		if (bm->way == WAY_EVENT_FACT && RowPasses(bm, &row))
			e->slots[bm->slot] += events;
	}
}

/* Per-customer values from a query "customer, value[, value]" into slots */
static void
RowOfSlots(Batch *b, TupleTableSlot *slot, void *arg)
{
	BatchWay	way = *(BatchWay *) arg;
	CustEntry  *e = RowCustomer(b, slot);
	bool		isnull;

	if (e == NULL)
		return;
	for (int i = 0; i < b->nmeasures; i++)
	{
		BatchMeasure *bm = &b->measures[i];
		double	   *s;

		if (bm->way != way)
			continue;
		s = e->slots + bm->slot;
		switch (way)
		{
			case WAY_ACTIVE_DAYS:
				s[0] = GetFloat(slot, 2, &isnull);
				break;
			case WAY_REGISTRATION:
				{
					Datum		d = Col(slot, 2, &isnull);

					s[0] = isnull ? 0 : (double) (b->now - DatumGetTimestampTz(d)) / USECS_PER_SEC / SECS_PER_DAY;
					s[1] = !isnull;
					break;
				}
			case WAY_RFM_SCORE:
			case WAY_CHURN:
				s[0] = GetFloat(slot, 2 + bm->code, &isnull);
				s[1] = !isnull;
				break;
			case WAY_TAG:
				{
					int32		no = DatumGetInt32(Col(slot, 2, &isnull));

					if (no == i + 1)
						s[0] = 1;
					break;
				}
			case WAY_MODEL:
				{
					const char *model;
					int			len;
					const char *value;
					int			vlen;
					int			v;

					if (bm->code < 0 || !GetText(slot, 2, &model, &len) ||
						strlen(model_names[bm->code][1]) != (size_t) len ||
						memcmp(model, model_names[bm->code][1], len) != 0 ||
						s[0] != 0 || !GetText(slot, 3, &value, &vlen))
						break;
					for (v = 0; v < b->nvalues; v++)
						if (strlen(b->values[v]) == (size_t) vlen && memcmp(b->values[v], value, vlen) == 0)
							break;
					if (v == b->nvalues)
					{
						MemoryContext old = MemoryContextSwitchTo(b->context);

						b->values = b->nvalues == 0 ? palloc(sizeof(char *) * 8) :
							(b->nvalues % 8 == 0 ? repalloc(b->values, sizeof(char *) * (b->nvalues + 8)) : b->values);
						b->values[b->nvalues++] = pnstrdup(value, vlen);
						MemoryContextSwitchTo(old);
					}
					s[0] = v + 1;	/* 0: no model tag */
					break;
				}
			default:
				break;
		}
	}
}

static bool
Needs(Batch *b, BatchWay way)
{
	for (int i = 0; i < b->nmeasures; i++)
		if (b->measures[i].way == way)
			return true;
	return false;
}

/* Runs a per-customer query whose rows fill the slots of measures of one way */
static void
ScanSlots(Batch *b, BatchWay way, const char *query, int nargs, Oid *types, Datum *values)
{
	Oid			alltypes[4] = {TEXTARRAYOID};
	Datum		allvalues[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	allvalues[0] = b->everyone ? (Datum) 0 : b->customers;
	nulls[0] = b->everyone ? 'n' : ' ';
	for (int i = 0; i < nargs; i++)
	{
		alltypes[i + 1] = types[i];
		allvalues[i + 1] = values[i];
	}
	BatchScan(b, query, nargs + 1, alltypes, allvalues, nulls, RowOfSlots, &way);
}

/* Every per-customer source the measures need, one query each */
static void
BatchRead(Batch *b)
{
	const char *s = b->schema;

	ScanSource(b, RULE_SOURCE_ORDER);
	ScanSource(b, RULE_SOURCE_EVENT);
	if (Needs(b, WAY_EVENT_FACT))
	{
		List	   *kinds = NIL;
		bool		all = false;
		Oid			types[2] = {TEXTARRAYOID, TEXTARRAYOID};
		Datum		values[2];
		char		nulls[2] = {' ', ' '};

		for (int i = 0; i < b->nmeasures; i++)
			if (b->measures[i].way == WAY_EVENT_FACT)
				AddKinds(&b->measures[i], &kinds, &all);
		values[0] = b->everyone ? (Datum) 0 : b->customers;
		nulls[0] = b->everyone ? 'n' : ' ';
		values[1] = KindArray(kinds);
		BatchScan(b, psprintf("SELECT x.customer_id, x.kind, x.events::pg_catalog.float8 "
							  "FROM %s.customer_event_fact x WHERE x.kind = ANY ($2)%s",
							  s, OnlyListed(b, "x.customer_id", true)),
				  2, types, values, nulls, RowOfEventFact, NULL);
	}
	if (Needs(b, WAY_ACTIVE_DAYS))
		ScanSlots(b, WAY_ACTIVE_DAYS,
				  psprintf("SELECT d.customer_id, count(*)::pg_catalog.float8 FROM %s.customer_day d%s GROUP BY 1",
						   s, OnlyListed(b, "d.customer_id", false)), 0, NULL, NULL);
	if (Needs(b, WAY_REGISTRATION))
		ScanSlots(b, WAY_REGISTRATION,
				  psprintf("SELECT c.customer_id, c.first_seen_at FROM %s.customer c%s",
						   s, OnlyListed(b, "c.customer_id", false)), 0, NULL, NULL);
	if (Needs(b, WAY_MODEL))
		ScanSlots(b, WAY_MODEL,
				  psprintf("SELECT ct.customer_id, mt.model, mt.value FROM %s.customer_tag ct "
						   "JOIN %s.model_tag mt ON mt.tag_id = ct.tag_id "
						   "WHERE mt.model IN ('rfm', 'lifecycle', 'status', 'level')%s",
						   s, s, OnlyListed(b, "ct.customer_id", true)), 0, NULL, NULL);
	if (Needs(b, WAY_RFM_SCORE))
	{
		Oid			types[1] = {TIMESTAMPTZOID};
		Datum		values[1] = {TimestampTzGetDatum(b->now)};

		/* as customer_overview scores them: live, against the stored breakpoints */
		ScanSlots(b, WAY_RFM_SCORE,
				  psprintf("SELECT f.customer_id, (r.c).r_score::pg_catalog.float8, "
						   "(r.c).f_score::pg_catalog.float8, (r.c).m_score::pg_catalog.float8 "
						   "FROM %s.customer_fact f CROSS JOIN LATERAL ("
						   "SELECT %s.rfm_classify(%s.days_between(f.last_order_at, $2), f.order_count, "
						   "f.order_total::pg_catalog.float8, st.breakpoints, se.rfm_basis) AS c "
						   "FROM %s.rfm_state st, %s.settings se WHERE f.order_count > 0 "
						   "AND f.last_order_at IS NOT NULL AND st.breakpoints IS NOT NULL) r%s",
						   s, s, s, s, s, OnlyListed(b, "f.customer_id", false)), 1, types, values);
	}
	if (Needs(b, WAY_CHURN))
		ScanSlots(b, WAY_CHURN,
				  psprintf("SELECT f.customer_id, c.churn_probability, c.p_alive, c.expected_value "
						   "FROM %s.customer_fact f, LATERAL %s.customer_churn(f.customer_id) c%s",
						   s, s, OnlyListed(b, "f.customer_id", false)), 0, NULL, NULL);
	if (Needs(b, WAY_TAG))
	{
		const char **names = palloc(sizeof(char *) * b->nmeasures);
		Oid			types[2] = {TEXTARRAYOID, TIMESTAMPTZOID};
		Datum		values[2];

		/* measure i + 1 asks for tag names[i]; other measures ask for nothing */
		for (int i = 0; i < b->nmeasures; i++)
			names[i] = b->measures[i].way == WAY_TAG ? b->measures[i].m->name : "";
		values[0] = TextArray(names, b->nmeasures);
		values[1] = TimestampTzGetDatum(b->now);
		ScanSlots(b, WAY_TAG,
				  psprintf("SELECT ct.customer_id, u.i::pg_catalog.int4 "
						   "FROM pg_catalog.unnest($2) WITH ORDINALITY u(name, i) "
						   "JOIN %s.tag_word w ON w.word = pg_catalog.lower(pg_catalog.btrim(u.name)) "
						   "JOIN %s.customer_tag ct ON ct.tag_id = w.tag_id "
						   "WHERE u.name <> '' AND (ct.expires_at IS NULL OR ct.expires_at > $3)%s",
						   s, s, OnlyListed(b, "ct.customer_id", true)), 2, types, values);
	}
}

/* ------------------------------------------------------------------------
 * Evaluation
 * ------------------------------------------------------------------------ */

static void
SetNumber(RuleValue *v, double num)
{
	v->isnull = false;
	v->num = num;
}

static void
SetDays(RuleValue *v, TimestampTz now, TimestampTz since, bool since_null)
{
	v->isnull = since_null;
	if (!since_null)
		v->num = (double) (now - since) / USECS_PER_SEC / SECS_PER_DAY;
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
			switch (FuncOf(bm))
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
			if (bm->m->func == RULE_AGG_EXISTS)
			{
				v->isnull = false;
				v->b = s[0] > 0;
			}
			else
				SetNumber(v, s[0]);
			break;
		case WAY_FACT:
			{
				double		orders = f->isnull ? 0 : f->order_count;
				double		total = f->isnull ? 0 : f->order_total;
				double		events = f->isnull ? 0 : f->event_count;
				bool		none = f->isnull;

				switch (bm->code)
				{
					case 0:
						SetNumber(v, orders);
						break;
					case 1:
						SetNumber(v, total);
						break;
					case 2:
						if (orders > 0)
							SetNumber(v, total / orders);
						break;
					case 3:
						SetNumber(v, events);
						break;
					case 4:
						SetDays(v, b->now, f->first_order_at, none || f->first_order_null);
						break;
					case 5:
						SetDays(v, b->now, f->last_order_at, none || f->last_order_null);
						break;
					case 6:
						SetDays(v, b->now, f->last_event_at, none || f->last_event_null);
						break;
					default:
						{
							/* count, exists or sum of all orders or events */
							RuleAggFunc func = (RuleAggFunc) ((bm->code - 100) / 2);
							double		n = bm->m->source == RULE_SOURCE_ORDER ? orders : events;

							if (func == RULE_AGG_EXISTS)
							{
								v->isnull = false;
								v->b = n > 0;
							}
							else if (func == RULE_AGG_COUNT)
								SetNumber(v, n);
							else if (n > 0)
								SetNumber(v, total);
						}
						break;
				}
				break;
			}
		case WAY_ATTRIBUTE:
			if (f->isnull)
				break;
			if (strcmp(bm->m->name, "birth_year") == 0)
			{
				v->isnull = f->birth_year_null;
				v->num = f->birth_year;
			}
			else if (strcmp(bm->m->name, "age") == 0)
			{
				v->isnull = f->age_null;
				v->num = f->age;
			}
			else if (f->attributes != NULL && JB_ROOT_IS_OBJECT(f->attributes))
			{
				JsonbValue	jv;
				const char *name = bm->m->name;

				if (getKeyJsonValueFromContainer(&f->attributes->root, name, strlen(name), &jv) == NULL ||
					jv.type == jbvNull)
					break;
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

/* Sets up a batch: rules parsed (pinned), measures merged, slots laid out */
static Batch *
BatchBegin(FunctionCallInfo fcinfo, ArrayType *rules, ArrayType *customers)
{
	Batch	   *b = palloc0(sizeof(Batch));
	Datum	   *texts;
	bool	   *nulls;
	int			n;
	int			capacity = 16;
	int			maxmeasures = 1;

	b->context = CurrentMemoryContext;
	b->schema = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
	b->now = TagscrmNow();
	b->day_later = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														   TimestampTzGetDatum(b->now),
														   DirectFunctionCall3(interval_in,
																			   CStringGetDatum("1 day"),
																			   ObjectIdGetDatum(InvalidOid),
																			   Int32GetDatum(-1))));
	if (ARR_NDIM(rules) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("rules must be a one-dimensional array")));
	deconstruct_array(rules, TEXTOID, -1, false, TYPALIGN_INT, &texts, &nulls, &n);
	b->nrules = n;
	b->trees = palloc(sizeof(RuleTree *) * Max(1, n));
	b->map = palloc(sizeof(int *) * Max(1, n));
	b->measures = palloc(sizeof(BatchMeasure) * capacity);
	RuleCachePin();
	for (int r = 0; r < n; r++)
	{
		text	   *t;

		if (nulls[r])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("rule %d is null", r + 1),
					 errhint("Pass the text of every rule.")));
		t = DatumGetTextPP(texts[r]);
		b->trees[r] = RuleLookup(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		b->map[r] = palloc(sizeof(int) * Max(1, b->trees[r]->nmeasures));
		for (int i = 0; i < b->trees[r]->nmeasures; i++)
			b->map[r][i] = BatchAddMeasure(b, &b->trees[r]->measures[i], &capacity);
		maxmeasures = Max(maxmeasures, b->trees[r]->nmeasures);
	}
	for (int i = 0; i < b->nmeasures; i++)
	{
		int			width = SlotWidth(&b->measures[i]);

		if (width > 0)
		{
			b->measures[i].slot = b->nslots;
			b->nslots += width;
		}
	}
	b->zeros = palloc0(sizeof(double) * Max(1, b->nslots));
	b->gv = palloc(sizeof(RuleValue) * Max(1, b->nmeasures));
	b->rv = palloc(sizeof(RuleValue) * maxmeasures);

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
			BatchCustomer(b, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), true)->listed = true;
		}
	}
	return b;
}

/*
 * Streams customer_fact (the batch's customers, or everyone) and calls emit
 * for every customer with its verdicts; then, for a list, the listed
 * customers without facts.
 */
typedef void (*EmitFn) (Batch *b, const char *id, int len, CustEntry *e, const FactRow *f,
						Verdict *v, void *arg);

typedef struct FactScan
{
	EmitFn		emit;
	void	   *arg;
	Verdict		verdict;
	bool		attributes;
	bool		birth;
} FactScan;

static void
RowOfFact(Batch *b, TupleTableSlot *slot, void *arg)
{
	FactScan   *scan = arg;
	FactRow		f;
	const char *id;
	int			len;
	bool		isnull;
	Datum		d;
	CustEntry  *e;

	if (!GetText(slot, 1, &id, &len))
		return;
	e = BatchCustomer(b, id, len, false);
	if (e != NULL && e->done)
		return;
	memset(&f, 0, sizeof(f));
	f.order_count = GetFloat(slot, 2, &isnull);
	f.order_total = GetFloat(slot, 3, &isnull);
	f.first_order_at = DatumGetTimestampTz(Col(slot, 4, &f.first_order_null));
	f.last_order_at = DatumGetTimestampTz(Col(slot, 5, &f.last_order_null));
	f.event_count = GetFloat(slot, 6, &isnull);
	f.last_event_at = DatumGetTimestampTz(Col(slot, 7, &f.last_event_null));
	d = Col(slot, 8, &isnull);
	f.attributes = isnull ? NULL : DatumGetJsonbP(d);
	f.birth_year = GetFloat(slot, 9, &f.birth_year_null);
	f.age = GetFloat(slot, 10, &f.age_null);
	BatchEvaluate(b, e, &f, &scan->verdict);
	if (e != NULL)
		e->done = true;
	scan->emit(b, id, len, e, &f, &scan->verdict, scan->arg);
}

static void
BatchRun(Batch *b, EmitFn emit, void *arg)
{
	FactScan	scan;
	Datum		values[1];
	char		nulls[1];
	cust_iterator it;
	CustEntry  *e;
	FactRow		none;

	scan.emit = emit;
	scan.arg = arg;
	scan.verdict.holding = palloc(sizeof(int) * Max(1, b->nrules));
	scan.verdict.unknown = palloc(sizeof(int) * Max(1, b->nrules));
	scan.attributes = scan.birth = false;
	for (int i = 0; i < b->nmeasures; i++)
		if (b->measures[i].way == WAY_ATTRIBUTE)
		{
			if (strcmp(b->measures[i].m->name, "birth_year") == 0 || strcmp(b->measures[i].m->name, "age") == 0)
				scan.birth = true;
			else
				scan.attributes = true;
		}
	BatchRead(b);
	values[0] = b->everyone ? (Datum) 0 : b->customers;
	nulls[0] = b->everyone ? 'n' : ' ';
	BatchScan(b, psprintf("SELECT f.customer_id, f.order_count::pg_catalog.float8, "
						  "f.order_total::pg_catalog.float8, f.first_order_at, f.last_order_at, "
						  "f.event_count::pg_catalog.float8, f.last_event_at, %s, %s "
						  "FROM %s.customer_fact f%s",
						  scan.attributes ? "f.attributes" : "NULL::pg_catalog.jsonb",
						  scan.birth ?
						  psprintf("pg_catalog.date_part('year', f.birth_date)::pg_catalog.float8, "
								   "pg_catalog.date_part('year', pg_catalog.age(($2 AT TIME ZONE "
								   "(SELECT s.time_zone FROM %s.settings s))::pg_catalog.date, "
								   "f.birth_date))::pg_catalog.float8", b->schema) :
						  "NULL::pg_catalog.float8, NULL::pg_catalog.float8",
						  b->schema, OnlyListed(b, "f.customer_id", false)),
			  2, (Oid[]) {TEXTARRAYOID, TIMESTAMPTZOID},
			  (Datum[]) {values[0], TimestampTzGetDatum(b->now)}, (char[]) {nulls[0], ' '},
			  RowOfFact, &scan);

	/* listed customers without facts */
	memset(&none, 0, sizeof(none));
	none.isnull = true;
	cust_start_iterate(b->hash, &it);
	while ((e = cust_iterate(b->hash, &it)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (!e->listed || e->done)
			continue;
		BatchEvaluate(b, e, &none, &scan.verdict);
		e->done = true;
		emit(b, e->key.str, e->key.len, e, &none, &scan.verdict, arg);
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

static void
EmitVerdict(Batch *b, const char *id, int len, CustEntry *e, const FactRow *f, Verdict *v, void *arg)
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

static void
EmitValues(Batch *b, const char *id, int len, CustEntry *e, const FactRow *f, Verdict *v, void *arg)
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
