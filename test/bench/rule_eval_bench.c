/*
 * rule_eval_bench.c: the C path the host uses (parse once, then RuleEval
 * with a RuleValue array per customer), without PostgreSQL.  Prints the time
 * to parse the benchmark rule and to evaluate it, per call.  Values are
 * generated deterministically (an LCG), ~1 % NULLs, like rule_bench.sh.
 *   cc -O2 -Isrc test/bench/rule_eval_bench.c src/rule_vocabulary.c src/rule_arena.c \
 *      src/rule_lex.c src/rule_parse.c src/rule_check.c src/rule_measure.c src/rule_print.c \
 *      src/rule_eval.c -lm -o rule_eval_bench
 *   ./rule_eval_bench [customers]
 */
#include "rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *
HookAlloc(size_t size, void *arg)
{
	(void) arg;
	return malloc(size);
}

static void
HookFree(void *ptr, void *arg)
{
	(void) arg;
	free(ptr);
}

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fills the five values of one customer */
static void
Generate(unsigned long long *seed, RuleValue *v)
{
	static const char *const cities[] = {"Shanghai", "Beijing", "Shenzhen", "Hangzhou"};

	memset(v, 0, 5 * sizeof(RuleValue));
	for (int m = 0; m < 5; m++)
	{
		unsigned	r;

		*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
		r = (unsigned) (*seed >> 33);
		v[m].isnull = (r % 100 == 0);
		switch (m)
		{
			case 0:
				v[m].num = (r % 1000000) / 100.0;
				break;
			case 1:
				v[m].str = cities[r % 4];
				v[m].len = strlen(v[m].str);
				break;
			case 2:
				v[m].num = 16 + r % 60;
				break;
			case 3:
				v[m].b = (r % 20 == 0);
				break;
			case 4:
				v[m].num = (r % 1000) / 1000.0;
				break;
		}
	}
}

int
main(int argc, char **argv)
{
	const char *rule = "sum(order.amount, last 365 days) >= 5000 and city in ('Shanghai', 'Beijing')"
		" and age between 25 and 35 and not has_tag('blacklist') and churn_probability > 0.7";
	long		customers = argc > 1 ? atol(argv[1]) : 10000000;
	RuleAllocator allocator = {HookAlloc, HookFree, NULL};
	RuleError	err;
	RuleTree   *tree = NULL;
	RuleValue	v[5];
	unsigned long long seed = 42;
	long		matches = 0;
	int			parses = 100000;
	double		t0;
	double		parse_us;
	double		eval_ns;
	double		gen_ns;

	t0 = Now();
	for (int i = 0; i < parses; i++)
	{
		if (tree)
			RuleFree(tree);
		tree = RuleParse(rule, strlen(rule), &allocator, &err);
		if (tree == NULL)
		{
			fprintf(stderr, "%s\n", err.message);
			return 1;
		}
	}
	parse_us = (Now() - t0) * 1e6 / parses;

	/* value generation alone, to subtract */
	t0 = Now();
	for (long c = 0; c < customers; c++)
	{
		Generate(&seed, v);
		matches += v[0].isnull + v[3].b;
	}
	gen_ns = (Now() - t0) * 1e9 / customers;
	seed = 42;
	matches = 0;
	t0 = Now();
	for (long c = 0; c < customers; c++)
	{
		Generate(&seed, v);
		matches += (RuleEval(tree, v) == RULE_TRUE);
	}
	eval_ns = (Now() - t0) * 1e9 / customers - gen_ns;
	printf("C path: parse %.2f us per rule (%d parses); RuleEval %.1f ns per customer "
		   "(%ld customers, %.1f ns of value generation subtracted, %ld matches)\n",
		   parse_us, parses, eval_ns, customers, gen_ns, matches);
	RuleFree(tree);
	return 0;
}
