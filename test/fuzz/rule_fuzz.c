/*
 * rule_fuzz.c: libFuzzer harness for the rule parser and evaluator, built
 * standalone (no PostgreSQL) with malloc-based allocator hooks.
 *
 * Oracles, each an abort() that libFuzzer reports as a crash:
 *  - a failed parse fills RuleError sensibly (SQLSTATE, message, position
 *    inside the rule);
 *  - round trip: the canonical text of a parsed rule parses again, to the
 *    same canonical text and the same measures (same ids, kinds, types and
 *    texts), unless the added parentheses make it longer than the length
 *    limit, where the only error allowed is "rule is too long";
 *  - both trees give the same result for several value assignments derived
 *    from the input, and RuleEval returns one of the three truth values;
 *  - out of memory: the parse is repeated with allocation number k failing
 *    (k derived from the input); it must fail with 53200 and free everything
 *    (LeakSanitizer checks), or succeed if k is past the last allocation;
 *  - the host hook (RuleParseCondition, through which the segment language
 *    parses its conditions): the input read as conditions joined by AND and
 *    OR, as a host reads them; an error has a SQLSTATE, a message and a
 *    position inside the input, and each condition accepted (of boolean
 *    type) is a text RuleParse accepts on its own.
 * Set RULE_FUZZ_VERBOSE=1 to print each input's canonical text or error.
 */
#include "rule_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocation counter; when fail_at > 0, allocation number fail_at fails */
static long allocations;
static long fail_at;

static void *
HookAlloc(size_t size, void *arg)
{
	(void) arg;
	if (++allocations == fail_at)
		return NULL;
	return malloc(size);
}

static void
HookFree(void *ptr, void *arg)
{
	(void) arg;
	free(ptr);
}

static void
Die(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "rule_fuzz oracle failed: %s\n  first:  %s\n  second: %s\n", what,
			a ? a : "", b ? b : "");
	abort();
}

/* A deterministic value for measure m in round r */
static void
PickValue(const RuleMeasure *m, unsigned seed, RuleValue *v)
{
	static const double numbers[] = {0, 1, -1, 2, 3, 4, 5, 25, 30, 35, 0.7, 5000, 1e9, -1e9};
	static const char *const texts[] = {"", "vip", "Shanghai", "read", "wardrobe-guide", "a'b", "important_value"};

	memset(v, 0, sizeof(*v));
	if (seed % 7 == 0)
	{
		v->isnull = true;
		return;
	}
	switch (m->type)
	{
		case RULE_TYPE_BOOL:
			v->b = (seed & 8) != 0;
			break;
		case RULE_TYPE_NUMBER:
			v->num = numbers[(seed >> 3) % (sizeof(numbers) / sizeof(numbers[0]))];
			break;
		case RULE_TYPE_DURATION:
			v->num = numbers[(seed >> 3) % (sizeof(numbers) / sizeof(numbers[0]))] * 60;
			break;
		case RULE_TYPE_TEXT:
			v->str = texts[(seed >> 3) % (sizeof(texts) / sizeof(texts[0]))];
			v->len = strlen(v->str);
			break;
	}
}

/* The oracle of the host hook (see the header) */
static void
CheckEmbedded(const char *text, size_t len, const RuleAllocator *allocator)
{
	Parser		p;
	RuleError	err;

	if (len > RULE_MAX_LENGTH || memchr(text, '\0', len) != NULL)
		return;					/* the hosts refuse these before parsing */
	memset(&p, 0, sizeof(p));
	memset(&err, 0, sizeof(err));
	p.src = text;
	p.len = len;
	p.err = &err;
	p.host = "segment expression";
	p.arena = RuleArenaCreate(allocator);
	if (p.arena == NULL)
		abort();
	RuleNext(&p);
	for (int n = 0; n < 64 && !p.failed && p.tok.type != TK_EOF; n++)
	{
		size_t		start = p.tok.start;
		RuleNode   *node = RuleParseCondition(&p);

		if (node == NULL)
			break;
		if (node->type == RULE_TYPE_BOOL)
		{
			size_t		end = p.tok.start;
			RuleError	alone_err;
			RuleTree   *alone;

			while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\n' ||
								   text[end - 1] == '\r' || text[end - 1] == '\f' || text[end - 1] == '\v'))
				end--;
			alone = RuleParse(text + start, end - start, allocator, &alone_err);
			if (alone == NULL)
				Die("a condition the hook accepts does not parse alone", alone_err.message, text + start);
			RuleFree(alone);
		}
		if (!RuleTokIs(&p, "and") && !RuleTokIs(&p, "or"))
			break;
		RuleNext(&p);
	}
	if (p.failed && (strlen(err.sqlstate) != 5 || err.message[0] == '\0' ||
					 err.position < -1 || err.position > (int) len))
		Die("hook error without SQLSTATE, message or position inside the input", err.sqlstate, err.message);
	RuleArenaFree(p.arena);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RuleAllocator allocator = {HookAlloc, HookFree, NULL};
	RuleError	err;
	RuleError	err2;
	RuleTree   *tree;
	RuleTree   *again;
	RuleValue  *values;
	unsigned	hash = 2166136261u;
	static int	verbose = -1;

	if (verbose < 0)
		verbose = getenv("RULE_FUZZ_VERBOSE") != NULL;
	for (size_t i = 0; i < size; i++)
		hash = (hash ^ data[i]) * 16777619u;
	fail_at = 0;
	CheckEmbedded((const char *) data, size, &allocator);
	allocations = 0;
	tree = RuleParse((const char *) data, size, &allocator, &err);
	if (allocations > 0)
	{
		long		total = allocations;
		RuleTree   *starved;

		allocations = 0;
		fail_at = 1 + (long) (hash % (unsigned) total);
		starved = RuleParse((const char *) data, size, &allocator, &err2);
		fail_at = 0;
		if (starved != NULL)
			Die("parse succeeded although an allocation failed", tree ? tree->canonical : "", NULL);
		if (tree != NULL && strcmp(err2.sqlstate, "53200") != 0)
			Die("failed allocation reported as another error", err2.sqlstate, err2.message);
	}
	if (tree == NULL)
	{
		if (strlen(err.sqlstate) != 5 || err.message[0] == '\0')
			Die("error without SQLSTATE or message", err.sqlstate, err.message);
		if (err.position < -1 || err.position > (int) size)
			Die("error position outside the rule", err.message, NULL);
		if (verbose)
			printf("ERROR %s at %d: %s | %s | %s\n", err.sqlstate, err.position, err.message,
				   err.detail, err.hint);
		return 0;
	}
	if (verbose)
		printf("OK %s\n", tree->canonical);
	again = RuleParse(tree->canonical, strlen(tree->canonical), &allocator, &err2);
	if (again == NULL && strlen(tree->canonical) > RULE_MAX_LENGTH &&
		strcmp(err2.message, "rule is too long") == 0)
	{
		/* full parentheses can take a rule near the limit past it */
		RuleFree(tree);
		return 0;
	}
	if (again == NULL)
		Die("canonical text does not parse", tree->canonical, err2.message);
	if (strcmp(tree->canonical, again->canonical) != 0)
		Die("canonical text changes on a second parse", tree->canonical, again->canonical);
	if (tree->nmeasures != again->nmeasures)
		Die("measure count changes on a second parse", tree->canonical, again->canonical);
	for (int i = 0; i < tree->nmeasures; i++)
	{
		const RuleMeasure *a = &tree->measures[i];
		const RuleMeasure *b = &again->measures[i];

		if (a->id != i + 1 || b->id != i + 1 || a->kind != b->kind || a->type != b->type ||
			a->time_dependent != b->time_dependent || a->has_window != b->has_window ||
			a->window_from != b->window_from || a->window_to != b->window_to ||
			a->nfilters != b->nfilters || strcmp(a->text, b->text) != 0)
			Die("measure changes on a second parse", a->text, b->text);
		for (int j = 0; j < i; j++)
			if (strcmp(a->text, tree->measures[j].text) == 0)
				Die("duplicate measure", a->text, tree->measures[j].text);
	}
	values = calloc((size_t) tree->nmeasures + 1, sizeof(RuleValue));
	if (values == NULL)
		abort();
	for (unsigned round = 0; round < 4; round++)
	{
		RuleTruth	r1;
		RuleTruth	r2;

		for (int i = 0; i < tree->nmeasures; i++)
			PickValue(&tree->measures[i], (hash >> (round * 3)) * 2654435761u + (unsigned) i * 40503u + round,
					  &values[i]);
		if (!RuleCheckValues(tree, values, &err))
			Die("valid values refused", tree->canonical, err.message);
		r1 = RuleEval(tree, values);
		r2 = RuleEval(again, values);
		if (r1 != r2 || (r1 != RULE_TRUE && r1 != RULE_FALSE && r1 != RULE_UNKNOWN))
			Die("canonical text evaluates differently", tree->canonical, again->canonical);
	}
	free(values);
	RuleFree(again);
	RuleFree(tree);
	return 0;
}
