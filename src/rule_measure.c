/*
 * rule_measure.c: the measures of a rule.  A measure is identified by its
 * canonical text (rule_print.c), so filters and list values are first put
 * in a canonical order; identical measures are registered once, with ids in
 * order of first appearance, and every use of one becomes a node pointing
 * at it.
 *
 * Standard C only (see rule.h).
 */
#include "rule_parse.h"

#include <stdlib.h>
#include <string.h>

/* Literal order: by type, then value (byte order for text) */
static int
CompareLiterals(const RuleLiteral *a, const RuleLiteral *b)
{
	RuleValue	va;
	RuleValue	vb;

	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	RuleLiteralValue(a, &va);
	RuleLiteralValue(b, &vb);
	return RuleCompareValues(a->type, &va, &vb);
}

static int
CompareLiteralsQsort(const void *a, const void *b)
{
	return CompareLiterals(a, b);
}

/*
 * Sorts n items of size bytes with a qsort comparator and drops the
 * duplicates; returns the new count.
 */
static int
SortDistinct(void *items, int n, size_t size, int (*cmp) (const void *, const void *))
{
	char	   *base = items;
	int			k = 0;

	if (n <= 1)
		return n;
	qsort(items, (size_t) n, size, cmp);
	for (int i = 1; i < n; i++)
		if (cmp(base + (size_t) k * size, base + (size_t) i * size) != 0 && ++k != i)
			memcpy(base + (size_t) k * size, base + (size_t) i * size, size);
	return k + 1;
}

/* Sorts a literal list and drops duplicates; returns the new length */
int
RuleSortUnique(RuleLiteral *list, int n)
{
	return SortDistinct(list, n, sizeof(RuleLiteral), CompareLiteralsQsort);
}

/* Filter order: by field name, operator, then values */
static int
CompareFilters(const RuleFilter *a, const RuleFilter *b)
{
	int			c = strcmp(RuleFieldName(a->field), RuleFieldName(b->field));

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

/* Sorts the filters of an aggregate and drops duplicates; returns the new count */
int
RuleSortFilters(RuleFilter *filters, int n)
{
	return SortDistinct(filters, n, sizeof(RuleFilter), CompareFiltersQsort);
}

/* FNV-1a, to compare measure texts quickly */
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
		RuleFail(p, "54000", m->position, "A rule may use at most 1000 distinct measures.",
				 "Split the rule into several tags.", "rule uses too many measures");
		return -1;
	}
	if (p->nmeasures == p->maxmeasures)
	{
		int			newmax = p->maxmeasures ? p->maxmeasures * 2 : 8;
		RuleMeasure *measures = RuleAlloc(p, sizeof(RuleMeasure) * (size_t) newmax);
		unsigned   *hashes = RuleAlloc(p, sizeof(unsigned) * (size_t) newmax);

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

/* A node for a measure, registered if new */
RuleNode *
RuleMeasureNode(Parser *p, RuleMeasure *m, size_t position)
{
	int			index = AddMeasure(p, m);
	RuleNode   *node;

	if (index < 0)
		return NULL;
	node = RuleNewNode(p, RULE_NODE_MEASURE, position);
	if (node == NULL)
		return NULL;
	node->type = p->measures[index].type;
	node->measure = index;
	return node;
}
