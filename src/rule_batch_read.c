/*
 * rule_batch_read.c: reading a batch's data, one query per source.  Rows
 * are streamed from the executor into a DestReceiver (no copy into a tuple
 * table; parallel plans allowed) and added to the customers' slots as they
 * come: one scan of the watched orders and one of the watched events for
 * the aggregates over their rows, restricted to the event kinds and the
 * widest window the rules look at; per-customer facts where they suffice
 * (counts of events of a kind, active days, registration, model tags, RFM
 * and churn scores, tags held); last, customer_fact itself, which the
 * caller evaluates row by row.  For a list of customers every query goes
 * through the customer column (its index).
 *
 * Query texts are built from constants and from the identifiers recorded in
 * watched_table, quoted; customer ids, times, event kinds, model names and
 * tag names are parameters.  No text of a rule ever becomes SQL.
 */
#include "rule_batch.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"


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

/* One row from the executor: to fn, in a memory context reset per row */
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

/* Nothing to set up or tear down: the receiver lives on BatchScan's stack */
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

/* Plans and runs query, rows to fn (see above) */
static void
BatchScan(Batch *b, const char *query, int nargs, Oid *types, Datum *values, char *nulls,
		  RowFn fn, void *arg)
{
	SPIPlanPtr	plan;
	SPIExecuteOptions options;
	BatchDest	dest;
	int			ret;
	bool		small;

	/*
	 * A small batch (a single-row write's) keeps one generic plan per query
	 * for the session (kept_plan.c): planned for each call, the reads cost
	 * more than the work.  A large one, or everyone, is planned for its
	 * values, with parallel workers where they pay.
	 */
	small = !b->everyone &&
		ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(b->customers)), ARR_DIMS(DatumGetArrayTypeP(b->customers))) <= 64;
	if (small)
		plan = KeptPlan(query, nargs, types);
	else
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
	if (!small)
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
	return RuleBatchCustomer(b, str, len, b->everyone);
}

/* " WHERE col = ANY ($1)" for a list of customers, else "" */
static const char *
OnlyListed(Batch *b, const char *column, bool and)
{
	if (b->everyone)
		return "";
	return psprintf(" %s %s = ANY ($1)", and ? "AND" : "WHERE", column);
}

/* The aggregates one scan of orders or events feeds */
typedef struct SourceScan
{
	RuleSource	source;
	int			nmeasures;
	BatchMeasure **measures;
} SourceScan;

/* A row of orders or events to every aggregate over its source */
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

		if ((bm->windowed && row.at_null) || !RuleBatchRowPasses(bm, &row))
			continue;
		RuleBatchAccumulate(bm, e, &row, b->now);
	}
}

/* Adds a kind filter's values to a list of kinds */
static void
AddKinds(const BatchMeasure *bm, List **kinds, bool *all)
{
	for (int i = 0; i < bm->nfilters; i++)
	{
		const RuleFilter *f = &bm->filters[i];

		if (f->field == RULE_FIELD_KIND && (f->op == RULE_OP_EQ || f->op == RULE_OP_IN))
		{
			for (int j = 0; j < f->nvalues; j++)
				*kinds = lappend(*kinds, (void *) f->values[j].str);
			return;
		}
	}
	*all = true;
}

/* text[] of a list of kinds */
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
 * What a scan of the watched orders or events needs of its watched_table
 * row, kept per session: the quoted table, columns and purchase condition,
 * and that the watching role may still read them (check_read_rights).  For
 * a single-row statement building this cost more than the scan.  It is
 * built again when the watched_table row differs (a fingerprint, read on
 * every call with a kept plan), or when the table's relcache entry or any
 * role or schema changes: a grant or revoke, a column's type or name,
 * row-level security, a role's attributes or memberships, a schema's name,
 * which is everything the check and the texts depend on (as for the
 * trigger's kept read, triggers.c).
 */
typedef struct WatchedSourceInfo
{
	MemoryContext context;		/* holds the texts, under TopMemoryContext */
	bool		valid;
	Oid			relid;
	char	   *fingerprint;
	char	   *table, *cust, *at, *num, *kind, *object, *custtype, *purchase;
} WatchedSourceInfo;

static WatchedSourceInfo watched_sources[2];	/* orders, events */
static bool source_callbacks = false;

/* A relcache entry changed (InvalidOid: all of them): build its source again */
static void
ForgetSourceOfRelation(Datum arg, Oid relid)
{
	for (int i = 0; i < (int) lengthof(watched_sources); i++)
		if (relid == InvalidOid || watched_sources[i].relid == relid)
			watched_sources[i].valid = false;
}

/* A role or membership changed: the rights may differ */
static void
ForgetAllSources(Datum arg, int cacheid, uint32 hashvalue)
{
	ForgetSourceOfRelation(arg, InvalidOid);
}


/* The watched table of orders or events, checked, or NULL when none is watched */
static const WatchedSourceInfo *
WatchedSource(Batch *b, RuleSource source)
{
	WatchedSourceInfo *k = &watched_sources[source == RULE_SOURCE_ORDER ? 0 : 1];
	Datum		role = CStringGetTextDatum(source == RULE_SOURCE_ORDER ? "orders" : "events");
	Oid			types[1] = {TEXTOID};
	int			ret;
	bool		isnull;
	HeapTuple	w;
	TupleDesc	wd;
	char	   *fingerprint;
	Oid			relid;
	MemoryContext old;

	if (!source_callbacks)
	{
		CacheRegisterRelcacheCallback(ForgetSourceOfRelation, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, ForgetAllSources, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, ForgetAllSources, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, ForgetAllSources, (Datum) 0);	/* the table's schema renamed */
		source_callbacks = true;
	}
	ret = SPI_execute_plan(KeptPlan(psprintf("SELECT w.relid::pg_catalog.oid, w::pg_catalog.text FROM %s.watched_table w"
											 " WHERE w.role OPERATOR(pg_catalog.=) $1", b->schema), 1, types),
						   &role, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tagscrm: reading the watched table failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return NULL;
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	fingerprint = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (k->valid && k->relid == relid && strcmp(k->fingerprint, fingerprint) == 0)
		return k;

	k->valid = false;
	ret = SPI_execute_with_args(psprintf("SELECT w.customer_column::text, w.at_column::text, "
										 "w.amount_column::text, w.kind_column::text, w.object_column::text, "
										 "w.duration_column::text, format_type(a.atttypid, a.atttypmod), "
										 "%s.check_read_rights(w), %s.purchase_sql(w) "
										 "FROM %s.watched_table w JOIN pg_catalog.pg_attribute a "
										 "ON a.attrelid = w.relid AND a.attname = w.customer_column "
										 "WHERE w.role = $1 AND w.relid = $2", b->schema, b->schema, b->schema),
								2, (Oid[]) {TEXTOID, OIDOID}, (Datum[]) {role, ObjectIdGetDatum(relid)}, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "tagscrm: reading the watched table of %s failed", source == RULE_SOURCE_ORDER ? "orders" : "events");
	w = SPI_tuptable->vals[0];
	wd = SPI_tuptable->tupdesc;
	if (k->context == NULL)
		k->context = AllocSetContextCreate(TopMemoryContext, "tagscrm watched source", ALLOCSET_SMALL_SIZES);
	MemoryContextReset(k->context);
	old = MemoryContextSwitchTo(k->context);
	k->relid = relid;
	k->fingerprint = pstrdup(fingerprint);
	k->table = psprintf("%s.%s", quote_identifier(get_namespace_name(get_rel_namespace(relid))),
						quote_identifier(get_rel_name(relid)));
	k->cust = pstrdup(quote_identifier(SPI_getvalue(w, wd, 1)));
	k->at = pstrdup(quote_identifier(SPI_getvalue(w, wd, 2)));
	k->custtype = SPI_getvalue(w, wd, 7);
	k->purchase = SPI_getvalue(w, wd, 9);
	k->kind = k->object = NULL;
	if (source == RULE_SOURCE_ORDER)
		k->num = psprintf("%s::pg_catalog.float8", quote_identifier(SPI_getvalue(w, wd, 3)));
	else
	{
		char	   *obj = SPI_getvalue(w, wd, 5);
		char	   *dur = SPI_getvalue(w, wd, 6);

		k->kind = psprintf("%s::pg_catalog.text", quote_identifier(SPI_getvalue(w, wd, 4)));
		k->object = obj ? psprintf("%s::pg_catalog.text", quote_identifier(obj)) : "NULL::pg_catalog.text";
		k->num = dur ? psprintf("%s::pg_catalog.float8", quote_identifier(dur)) : "NULL::pg_catalog.float8";
	}
	MemoryContextSwitchTo(old);
	k->valid = true;
	return k;
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
	const WatchedSourceInfo *src;
	Oid			relid;
	const char *cust, *at, *num, *kind, *object, *custtype;
	List	   *unbounded_kinds = NIL, *window_kinds = NIL;
	bool		unbounded = false, unbounded_all = false, windowed = false, window_all = false;
	int64		widest = 0;
	Oid			types[4] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	OwnerRead	owner;

	scan.source = source;
	scan.nmeasures = 0;
	scan.measures = palloc(sizeof(BatchMeasure *) * b->nmeasures);
	for (int i = 0; i < b->nmeasures; i++)
	{
		BatchMeasure *bm = &b->measures[i];

		if (bm->way != WAY_ROWS || bm->source != source)
			continue;
		scan.measures[scan.nmeasures++] = bm;
		if (bm->windowed)
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

	src = WatchedSource(b, source);
	if (src == NULL)
		return;					/* not watched: no rows, every aggregate empty */
	relid = src->relid;
	cust = src->cust;
	at = src->at;
	num = src->num;
	kind = src->kind;
	object = src->object;
	custtype = src->custtype;

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s::pg_catalog.text, %s::pg_catalog.timestamptz, %s", cust, at, num);
	if (source == RULE_SOURCE_EVENT)
		appendStringInfo(&q, ", %s, %s", kind, object);
	appendStringInfo(&q, " FROM %s WHERE true", src->table);
	/*
	 * orders: purchases only (watch_orders' condition, built from quoted
	 * identifiers and literals by purchase_sql; "true" without one)
	 */
	if (source == RULE_SOURCE_ORDER)
		appendStringInfo(&q, " AND %s", src->purchase);
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
	/* the user's table, read as its owner (owner_read.c) */
	OwnerReadBegin(relid, &owner);
	BatchScan(b, q.data, 4, types, values, nulls, RowOfSource, &scan);
	OwnerReadEnd(&owner);
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

		if (bm->way == WAY_EVENT_FACT && RuleBatchRowPasses(bm, &row))
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
				s[0] = GetFloat(slot, bm->column, &isnull);
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

					if (!GetText(slot, 2, &model, &len) ||
						strlen(bm->model) != (size_t) len || memcmp(model, bm->model, len) != 0 ||
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

/* Does some measure of the batch have this way? */
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
void
RuleBatchRead(Batch *b)
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
	{
		const char **models = palloc(sizeof(char *) * b->nmeasures);
		int			nmodels = 0;
		Oid			types[1] = {TEXTARRAYOID};
		Datum		values[1];

		for (int i = 0; i < b->nmeasures; i++)
			if (b->measures[i].way == WAY_MODEL)
				models[nmodels++] = b->measures[i].model;
		values[0] = TextArray(models, nmodels);
		ScanSlots(b, WAY_MODEL,
				  psprintf("SELECT ct.customer_id, mt.model, mt.value FROM %s.customer_tag ct "
						   "JOIN %s.model_tag mt ON mt.tag_id = ct.tag_id "
						   "WHERE mt.model = ANY ($2)%s",
						   s, s, OnlyListed(b, "ct.customer_id", true)), 1, types, values);
	}
	if (Needs(b, WAY_RFM_SCORE))
	{
		Oid			types[1] = {TIMESTAMPTZOID};
		Datum		values[1] = {TimestampTzGetDatum(b->now)};

		/*
		 * as customer_overview scores them: live, against the stored
		 * breakpoints; the columns are RFM_COLUMN_R, _F and _M
		 */
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
	/* the columns are CHURN_COLUMN_PROBABILITY, _P_ALIVE and _EXPECTED_VALUE */
	if (Needs(b, WAY_CHURN))
		ScanSlots(b, WAY_CHURN,
				  psprintf("SELECT c.customer_id, c.churn_probability, c.p_alive, c.expected_value "
						   "FROM %s.churn_predict($1, NULL, NULL) c", s), 0, NULL, NULL);
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

/* What RowOfFact passes on */
typedef struct FactScan
{
	BatchFactFn fn;
	void	   *arg;
} FactScan;

/* A row of customer_fact, as a FactRow, to the caller's fn */
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
	e = RuleBatchCustomer(b, id, len, false);
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
	scan->fn(b, id, len, e, &f, scan->arg);
}

/*
 * Streams customer_fact (the batch's customers, or everyone) and calls fn
 * for each row, with the customer's entry (NULL if the batch has none).
 * Attributes and the birth date are read only when a measure needs them.
 */
void
RuleBatchReadFacts(Batch *b, BatchFactFn fn, void *arg)
{
	FactScan	scan;
	Datum		customers = b->everyone ? (Datum) 0 : b->customers;
	char		customers_null = b->everyone ? 'n' : ' ';

	scan.fn = fn;
	scan.arg = arg;
	BatchScan(b, psprintf("SELECT f.customer_id, f.order_count::pg_catalog.float8, "
						  "f.order_total::pg_catalog.float8, f.first_order_at, f.last_order_at, "
						  "f.event_count::pg_catalog.float8, f.last_event_at, %s, %s "
						  "FROM %s.customer_fact f%s",
						  Needs(b, WAY_ATTRIBUTE) ? "f.attributes" : "NULL::pg_catalog.jsonb",
						  Needs(b, WAY_BIRTH_DATE) ?
						  psprintf("pg_catalog.date_part('year', f.birth_date)::pg_catalog.float8, "
								   "pg_catalog.date_part('year', pg_catalog.age(($2 AT TIME ZONE "
								   "(SELECT s.time_zone FROM %s.settings s))::pg_catalog.date, "
								   "f.birth_date))::pg_catalog.float8", b->schema) :
						  "NULL::pg_catalog.float8, NULL::pg_catalog.float8",
						  b->schema, OnlyListed(b, "f.customer_id", false)),
			  2, (Oid[]) {TEXTARRAYOID, TIMESTAMPTZOID},
			  (Datum[]) {customers, TimestampTzGetDatum(b->now)}, (char[]) {customers_null, ' '},
			  RowOfFact, &scan);
}
