/*
 * sync_models.c: brings the model and attribute tags of a batch of
 * customers in line with what the models say (models.sql: model_values),
 * with history, and stores when time alone may next change them.
 *
 * Every statement on a watched table runs this for the customers it
 * touched, so it is built for a batch of one as much as for 50,000: three
 * reads over the whole batch (what the models say, with the tag of each
 * value; the model tags held; the fact rows), the diff in C, and then only
 * what changes is written, each write one statement over arrays.  Every
 * statement's plan is prepared once per backend (kept_plan.c): a write that
 * changes nothing is not run at all, since it would still fire every
 * statement trigger of its table, and most single-row writes change no tag.
 *
 * The semantics are those of the SQL it replaced: desired = the values with
 * a tag (model_tag); held = the customer's tags of any model; per customer
 * and tag group every desired tag that is not held is added (replacing the
 * held one of that group), every held tag that is not desired is removed;
 * the fact row keeps the earliest moment a model may change by time alone
 * and a copy of the tag of each of seven models (for customer_overview).
 * Callers hold the customers' fact locks (or customer_fact in EXCLUSIVE
 * mode).  Only tagscrm's own tables are read: no user code runs.
 */
#include "tagscrm.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(tagscrm_sync_models);

/* the models whose tag customer_fact keeps a copy of, in its column order */
#define NCOPIED 7
static const char *const copied_models[NCOPIED] =
{"rfm", "lifecycle", "sales_stage", "status", "level", "loyalty", "churn_risk"};

/* what a model says of a customer: a value, maybe with its tag */
typedef struct Said
{
	char	   *customer;
	char	   *model;
	bool		has_changes_at;
	TimestampTz changes_at;
	bool		tagged;			/* the value has a tag (model_tag) */
	int32		tag_id;
	int32		group_id;
	char	   *name;
} Said;

/* a model tag a customer holds */
typedef struct Held
{
	char	   *customer;
	int32		group_id;
	int32		tag_id;
	char	   *name;
	char	   *model;
} Held;

/* a fact row's next change and copy of the model tags */
typedef struct FactRow
{
	char	   *customer;
	bool		has_next;
	TimestampTz next;
	bool		has_tag[NCOPIED];
	int32		tag[NCOPIED];
} FactRow;

/* the arrays of one write statement's parameters */
typedef struct Columns
{
	int			n;
	int			adds;			/* of the changes: how many add a tag */
	int			removes;		/* ... and remove one */
	ArrayBuildState *col[9];
} Columns;

static void
AddValue(Columns *c, int i, Datum value, bool isnull, Oid type)
{
	c->col[i] = accumArrayResult(c->col[i], value, isnull, type, CurrentMemoryContext);
}

static Datum
ColumnArray(Columns *c, int i, Oid type)
{
	if (c->col[i] == NULL)
		return PointerGetDatum(construct_empty_array(type));
	return makeArrayResult(c->col[i], CurrentMemoryContext);
}

/* tagged values first, then by group: the diff walks the groups */
static int
CompareSaid(const void *a, const void *b)
{
	const Said *x = a;
	const Said *y = b;
	int			c = strcmp(x->customer, y->customer);

	if (c != 0)
		return c;
	if (x->tagged != y->tagged)
		return x->tagged ? -1 : 1;
	return (x->group_id > y->group_id) - (x->group_id < y->group_id);
}

static int
CompareHeld(const void *a, const void *b)
{
	const Held *x = a;
	const Held *y = b;
	int			c = strcmp(x->customer, y->customer);

	if (c != 0)
		return c;
	return (x->group_id > y->group_id) - (x->group_id < y->group_id);
}

static int
CompareFact(const void *a, const void *b)
{
	return strcmp(((const FactRow *) a)->customer, ((const FactRow *) b)->customer);
}

static char *
TextColumn(HeapTuple row, TupleDesc desc, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(row, desc, col, isnull);

	return *isnull ? NULL : TextDatumGetCString(d);
}

static int32
IntColumn(HeapTuple row, TupleDesc desc, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(row, desc, col, isnull);

	return *isnull ? 0 : DatumGetInt32(d);
}

/*
 * Runs a kept statement; a read's rows stay in SPI_tuptable.  Never
 * read-only: each statement sees what the ones before it wrote (the facts
 * the caller has just rebuilt, say), as a volatile function's must.
 */
static void
RunKept(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			ret = SPI_execute_plan(KeptPlan(sql, nargs, types), values, nulls, false, 0);

	if (ret < 0)
		elog(ERROR, "tagscrm.sync_models: a statement failed (%s): %s", SPI_result_code_string(ret), sql);
}

/* One change of a customer's tag in a group: old and/or new */
static void
AddChange(Columns *ch, const char *customer, int32 group_id, const Held *old, const Said *new)
{
	const char *model = new ? new->model : old->model;
	bool		attribute = strncmp(model, "attr:", 5) == 0 || strcmp(model, "age_band") == 0;

	AddValue(ch, 0, CStringGetTextDatum(customer), false, TEXTOID);
	AddValue(ch, 1, Int32GetDatum(group_id), false, INT4OID);
	AddValue(ch, 2, old ? Int32GetDatum(old->tag_id) : (Datum) 0, old == NULL, INT4OID);
	AddValue(ch, 3, old ? CStringGetTextDatum(old->name) : (Datum) 0, old == NULL, TEXTOID);
	AddValue(ch, 4, new ? Int32GetDatum(new->tag_id) : (Datum) 0, new == NULL, INT4OID);
	AddValue(ch, 5, new ? CStringGetTextDatum(new->name) : (Datum) 0, new == NULL, TEXTOID);
	AddValue(ch, 6, CStringGetTextDatum(model), false, TEXTOID);
	AddValue(ch, 7, CStringGetTextDatum(attribute ? "trigger" : "model"), false, TEXTOID);
	ch->n++;
	ch->adds += new != NULL;
	ch->removes += old != NULL;
}

/*
 * sync_models(customers text[], rfm_only boolean): see the file comment;
 * customers NULL: everyone (whoever has facts or holds a tag); rfm_only: the
 * nightly re-score against new breakpoints, which touches the RFM segment
 * alone (the other models do not depend on the population).  Returns the
 * number of tag changes.
 */
Datum
tagscrm_sync_models(PG_FUNCTION_ARGS)
{
	const char *s = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
	bool		rfm_only = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	Datum		batch;
	Oid			read_types[2] = {TEXTARRAYOID, BOOLOID};
	Datum		read_values[2];
	bool		isnull;
	Said	   *said;
	Held	   *held;
	FactRow    *facts;
	uint64		nsaid,
				nheld,
				nfacts;
	uint64		si = 0,
				hi = 0,
				fi = 0;
	Columns		ch = {0},
				fc = {0},
				reg = {0};
	int64		changes;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (PG_ARGISNULL(0))
	{
		RunKept(psprintf("SELECT pg_catalog.array_agg(x.c ORDER BY x.c) FROM (SELECT f.customer_id AS c FROM %s.customer_fact f"
						 " UNION SELECT ct.customer_id FROM %s.customer_tag ct) x", s, s), 0, NULL, NULL, NULL);
		batch = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
		{
			SPI_finish();
			PG_RETURN_INT64(0);
		}
	}
	else
		batch = PG_GETARG_DATUM(0);
	read_values[0] = batch;
	read_values[1] = BoolGetDatum(rfm_only);

	/* attribute values seen for the first time become tags first */
	if (!rfm_only)
	{
		RunKept(psprintf("SELECT EXISTS (SELECT FROM %s.watched_table w WHERE w.role = 'customers')", s),
				0, NULL, NULL, NULL);
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			RunKept(psprintf("SELECT %s.ensure_attribute_tags($1)", s), 1, read_types, read_values, NULL);
	}

	/* what the models say, with the tag of each value */
	RunKept(psprintf("SELECT v.customer_id, v.model, v.changes_at, t.tag_id, t.group_id, t.name"
					 "  FROM %s.%s($1) v"
					 "  LEFT JOIN %s.model_tag mt ON mt.model = v.model AND mt.value = v.value"
					 "  LEFT JOIN %s.tag t ON t.tag_id = mt.tag_id",
					 s, rfm_only ? "model_values_rfm" : "model_values", s, s), 1, read_types, read_values, NULL);
	nsaid = SPI_processed;
	said = palloc0(sizeof(Said) * Max(nsaid, 1));
	for (uint64 i = 0; i < nsaid; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		at;

		said[i].customer = TextColumn(row, desc, 1, &isnull);
		said[i].model = TextColumn(row, desc, 2, &isnull);
		at = SPI_getbinval(row, desc, 3, &isnull);
		said[i].has_changes_at = !isnull;
		said[i].changes_at = isnull ? 0 : DatumGetTimestampTz(at);
		said[i].tag_id = IntColumn(row, desc, 4, &isnull);
		said[i].tagged = !isnull;
		said[i].group_id = IntColumn(row, desc, 5, &isnull);
		said[i].name = TextColumn(row, desc, 6, &isnull);
	}
	SPI_freetuptable(SPI_tuptable);

	/* the model tags held (with rfm_only, the RFM tags alone) */
	RunKept(psprintf("SELECT ct.customer_id, ct.group_id, ct.tag_id, t.name, mt.model"
					 "  FROM %s.customer_tag ct"
					 "  JOIN %s.model_tag mt ON mt.tag_id = ct.tag_id AND (NOT $2 OR mt.model = 'rfm')"
					 "  JOIN %s.tag t ON t.tag_id = ct.tag_id"
					 " WHERE ct.customer_id = ANY ($1)", s, s, s), 2, read_types, read_values, NULL);
	nheld = SPI_processed;
	held = palloc0(sizeof(Held) * Max(nheld, 1));
	for (uint64 i = 0; i < nheld; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		held[i].customer = TextColumn(row, desc, 1, &isnull);
		held[i].group_id = IntColumn(row, desc, 2, &isnull);
		held[i].tag_id = IntColumn(row, desc, 3, &isnull);
		held[i].name = TextColumn(row, desc, 4, &isnull);
		held[i].model = TextColumn(row, desc, 5, &isnull);
	}
	SPI_freetuptable(SPI_tuptable);

	/* the fact rows: their next change and copy of the model tags */
	RunKept(psprintf("SELECT c.customer_id, c.next_change_at, c.rfm_tag, c.lifecycle_tag, c.sales_stage_tag,"
					 "       c.status_tag, c.level_tag, c.loyalty_tag, c.churn_risk_tag"
					 "  FROM %s.customer_fact c WHERE c.customer_id = ANY ($1)", s), 1, read_types, read_values, NULL);
	nfacts = SPI_processed;
	facts = palloc0(sizeof(FactRow) * Max(nfacts, 1));
	for (uint64 i = 0; i < nfacts; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		next;

		facts[i].customer = TextColumn(row, desc, 1, &isnull);
		next = SPI_getbinval(row, desc, 2, &isnull);
		facts[i].has_next = !isnull;
		facts[i].next = isnull ? 0 : DatumGetTimestampTz(next);
		for (int m = 0; m < NCOPIED; m++)
		{
			facts[i].tag[m] = IntColumn(row, desc, 3 + m, &isnull);
			facts[i].has_tag[m] = !isnull;
		}
	}
	SPI_freetuptable(SPI_tuptable);

	qsort(said, nsaid, sizeof(Said), CompareSaid);
	qsort(held, nheld, sizeof(Held), CompareHeld);
	qsort(facts, nfacts, sizeof(FactRow), CompareFact);

	/* customer by customer, in id order, over the three sorted lists */
	while (si < nsaid || hi < nheld || fi < nfacts)
	{
		const char *customer = NULL;
		uint64		s_end,
					h_end,
					tagged_end;
		bool		holds_any;

		CHECK_FOR_INTERRUPTS();
		if (si < nsaid)
			customer = said[si].customer;
		if (hi < nheld && (customer == NULL || strcmp(held[hi].customer, customer) < 0))
			customer = held[hi].customer;
		if (fi < nfacts && (customer == NULL || strcmp(facts[fi].customer, customer) < 0))
			customer = facts[fi].customer;
		for (s_end = si; s_end < nsaid && strcmp(said[s_end].customer, customer) == 0; s_end++)
			;
		for (tagged_end = si; tagged_end < s_end && said[tagged_end].tagged; tagged_end++)
			;
		for (h_end = hi; h_end < nheld && strcmp(held[h_end].customer, customer) == 0; h_end++)
			;
		holds_any = h_end > hi;

		/*
		 * The diff, group by group: in a group both say and hold, each pair
		 * of different tags is a change (as a full join of the two on
		 * customer and group gives them); otherwise each tag is an add or a
		 * remove.
		 */
		{
			uint64		d = si,
						h = hi;
			bool		adds = false;

			while (d < tagged_end || h < h_end)
			{
				int32		group;
				uint64		d_end,
							g_end;

				if (h >= h_end || (d < tagged_end && said[d].group_id <= held[h].group_id))
					group = said[d].group_id;
				else
					group = held[h].group_id;
				for (d_end = d; d_end < tagged_end && said[d_end].group_id == group; d_end++)
					;
				for (g_end = h; g_end < h_end && held[g_end].group_id == group; g_end++)
					;
				if (d_end > d && g_end > h)
				{
					for (uint64 i = d; i < d_end; i++)
						for (uint64 j = h; j < g_end; j++)
							if (said[i].tag_id != held[j].tag_id)
							{
								AddChange(&ch, customer, group, &held[j], &said[i]);
								adds = true;
							}
				}
				else if (d_end > d)
				{
					for (uint64 i = d; i < d_end; i++)
						AddChange(&ch, customer, group, NULL, &said[i]);
					adds = true;
				}
				else
					for (uint64 j = h; j < g_end; j++)
						AddChange(&ch, customer, group, &held[j], NULL);
				d = d_end;
				h = g_end;
			}
			/* a customer holding a tag is registered (customer_tag's key) */
			if (adds && !holds_any)
			{
				AddValue(&reg, 0, CStringGetTextDatum(customer), false, TEXTOID);
				reg.n++;
			}
		}

		/* the fact row: the earliest moment of a change, the copied tags */
		if (fi < nfacts && strcmp(facts[fi].customer, customer) == 0)
		{
			FactRow    *f = &facts[fi];
			FactRow		a = *f;
			bool		has_at = false;
			TimestampTz at = 0;
			bool		has_copy[NCOPIED] = {0};
			int32		copy[NCOPIED] = {0};
			bool		differs;

			for (uint64 i = si; i < s_end; i++)
			{
				if (said[i].has_changes_at && (!has_at || said[i].changes_at < at))
				{
					at = said[i].changes_at;
					has_at = true;
				}
				if (!said[i].tagged)
					continue;
				for (int m = 0; m < NCOPIED; m++)
					if (strcmp(said[i].model, copied_models[m]) == 0 &&
						(!has_copy[m] || said[i].tag_id > copy[m]))
					{
						copy[m] = said[i].tag_id;
						has_copy[m] = true;
					}
			}

			/*
			 * With only RFM evaluated, the other models' moments are unknown
			 * here: an earlier RFM moment may only bring the next change
			 * forward (a sweep that comes too early re-evaluates and stores
			 * the true moment), and only the RFM tag of the copy is known.
			 */
			if (!rfm_only || (has_at && (!f->has_next || at < f->next)))
			{
				a.has_next = has_at;
				a.next = at;
			}
			for (int m = 0; m < NCOPIED; m++)
				if (!rfm_only || m == 0)
				{
					a.has_tag[m] = has_copy[m];
					a.tag[m] = copy[m];
				}
			differs = a.has_next != f->has_next || (a.has_next && a.next != f->next);
			for (int m = 0; m < NCOPIED; m++)
				differs |= a.has_tag[m] != f->has_tag[m] || (a.has_tag[m] && a.tag[m] != f->tag[m]);
			if (differs)
			{
				AddValue(&fc, 0, CStringGetTextDatum(customer), false, TEXTOID);
				AddValue(&fc, 1, TimestampTzGetDatum(a.next), !a.has_next, TIMESTAMPTZOID);
				for (int m = 0; m < NCOPIED; m++)
					AddValue(&fc, 2 + m, Int32GetDatum(a.tag[m]), !a.has_tag[m], INT4OID);
				fc.n++;
			}
			fi++;
		}
		si = s_end;
		hi = h_end;
	}

	/* the writes, each only when it has something to do */
	if (reg.n > 0)
	{
		Oid			t[1] = {TEXTARRAYOID};
		Datum		v[1] = {ColumnArray(&reg, 0, TEXTOID)};

		RunKept(psprintf("INSERT INTO %s.customer (customer_id, first_seen_at)"
						 " SELECT DISTINCT x.customer_id, %s.now() FROM unnest($1) x(customer_id) ORDER BY 1"
						 " ON CONFLICT DO NOTHING", s, s), 1, t, v, NULL);
	}
	if (ch.n > 0)
	{
		Oid			t[8] = {TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID};
		Datum		v[8];

		for (int i = 0; i < 8; i++)
			v[i] = ColumnArray(&ch, i, i == 1 || i == 2 || i == 4 ? INT4OID : TEXTOID);
		/* the old tag of an exclusive group goes before the new one comes */
		if (ch.removes > 0)
		{
			Oid			dt[2] = {TEXTARRAYOID, INT4ARRAYOID};
			Datum		dv[2] = {v[0], v[2]};

			RunKept(psprintf("DELETE FROM %s.customer_tag ct USING unnest($1, $2) x(customer_id, tag_id)"
							 " WHERE ct.customer_id = x.customer_id AND ct.tag_id = x.tag_id", s),
					2, dt, dv, NULL);
		}
		if (ch.adds > 0)
		{
			Oid			at[4] = {TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID};
			Datum		av[4] = {v[0], v[4], v[1], v[7]};

			RunKept(psprintf("INSERT INTO %s.customer_tag"
							 " (customer_id, tag_id, group_id, exclusive_group_id, source, applied_by, applied_at)"
							 " SELECT x.customer_id, x.tag_id, x.group_id, x.group_id, x.source, %s.acting_role(), %s.now()"
							 "   FROM unnest($1, $2, $3, $4) x(customer_id, tag_id, group_id, source)"
							 "  WHERE x.tag_id IS NOT NULL ORDER BY x.customer_id, x.tag_id", s, s, s),
					4, at, av, NULL);
		}
		RunKept(psprintf("INSERT INTO %s.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)"
						 " SELECT %s.now(), %s.acting_role(), x.customer_id, COALESCE(x.new_tag, x.old_tag),"
						 "        CASE WHEN x.old_tag IS NULL THEN 'add' WHEN x.new_tag IS NULL THEN 'remove' ELSE 'replace' END,"
						 "        CASE WHEN x.old_tag IS NOT NULL THEN jsonb_build_object('tag', x.old_name) END,"
						 "        CASE WHEN x.new_tag IS NOT NULL THEN jsonb_build_object('tag', x.new_name) END,"
						 "        x.source, 'model ' || x.model"
						 "   FROM unnest($1, $2, $3, $4, $5, $6, $7, $8)"
						 "        x(customer_id, group_id, old_tag, old_name, new_tag, new_name, model, source)"
						 "  ORDER BY x.customer_id, x.group_id", s, s, s),
				8, t, v, NULL);
	}
	if (fc.n > 0)
	{
		Oid			t[9] = {TEXTARRAYOID, TIMESTAMPTZARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
		INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID};
		Datum		v[9];

		v[0] = ColumnArray(&fc, 0, TEXTOID);
		v[1] = ColumnArray(&fc, 1, TIMESTAMPTZOID);
		for (int m = 0; m < NCOPIED; m++)
			v[2 + m] = ColumnArray(&fc, 2 + m, INT4OID);
		RunKept(psprintf("UPDATE %s.customer_fact f"
						 "   SET next_change_at = a.next_change_at, rfm_tag = a.rfm_tag, lifecycle_tag = a.lifecycle_tag,"
						 "       sales_stage_tag = a.sales_stage_tag, status_tag = a.status_tag, level_tag = a.level_tag,"
						 "       loyalty_tag = a.loyalty_tag, churn_risk_tag = a.churn_risk_tag"
						 "  FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9)"
						 "       a(customer_id, next_change_at, rfm_tag, lifecycle_tag, sales_stage_tag, status_tag, level_tag,"
						 "         loyalty_tag, churn_risk_tag)"
						 " WHERE f.customer_id = a.customer_id", s), 9, t, v, NULL);
	}
	changes = ch.n;
	SPI_finish();
	PG_RETURN_INT64(changes);
}
