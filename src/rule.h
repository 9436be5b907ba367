/*
 * rule.h: the rule language for automatic tags (parser, tree, evaluator).
 *
 * This header and the core files (rule_vocabulary.c, the parser in
 * rule_arena.c, rule_lex.c, rule_parse.c, rule_check.c, rule_measure.c and
 * rule_print.c, the evaluator in rule_eval.c) use only the C standard
 * library, so the same code runs inside the backend (src/rule.c passes
 * palloc-based allocator hooks and turns RuleError into ereport) and
 * standalone in the fuzz harness and the benchmark (malloc hooks).  The core
 * never throws and never longjmps: every failure is reported through a
 * RuleError and a NULL/false result.
 *
 * A parsed rule is a tree of conditions over *measures*: values the host
 * computes for one customer (aggregates over the customer's orders or events,
 * named facts, customer attributes, model outputs, tags held).  Identical
 * measures appear once; measure ids are 1..nmeasures in order of first
 * appearance in the rule.  The host asks for the measures, computes their
 * values, and calls RuleEval with one RuleValue per measure.
 */
#ifndef TAGSCRM_RULE_H
#define TAGSCRM_RULE_H

#include <stdbool.h>
#include <stddef.h>

/* Limits; exceeding any of them is SQLSTATE 54000 */
#define RULE_MAX_LENGTH		65536	/* bytes of rule text */
#define RULE_MAX_DEPTH		100		/* nested conditions in the tree */
#define RULE_MAX_NESTING	255		/* nested parentheses and NOTs in the text */
#define RULE_MAX_NODES		20000	/* tree nodes and list values */
#define RULE_MAX_MEASURES	1000	/* distinct measures */
/* Largest duration literal: 100 years of 365.25 days, in seconds */
#define RULE_MAX_DURATION	3155760000.0

/* Value types; durations are seconds, held as double */
typedef enum RuleType
{
	RULE_TYPE_BOOL,
	RULE_TYPE_NUMBER,
	RULE_TYPE_TEXT,
	RULE_TYPE_DURATION
} RuleType;

typedef enum RuleMeasureKind
{
	RULE_MEASURE_AGGREGATE,		/* count/sum/... over orders or events */
	RULE_MEASURE_FACT,			/* per-customer fact, e.g. order_count */
	RULE_MEASURE_ATTRIBUTE,		/* customer attribute, e.g. city */
	RULE_MEASURE_MODEL,			/* model output, e.g. rfm_segment */
	RULE_MEASURE_TAG			/* has_tag('name') */
} RuleMeasureKind;

typedef enum RuleAggFunc
{
	RULE_AGG_COUNT,
	RULE_AGG_SUM,
	RULE_AGG_MIN,
	RULE_AGG_MAX,
	RULE_AGG_AVG,
	RULE_AGG_EXISTS
} RuleAggFunc;

typedef enum RuleSource
{
	RULE_SOURCE_ORDER,
	RULE_SOURCE_EVENT
} RuleSource;

/*
 * Fields of the rows of orders and events that a rule may read (the
 * vocabulary names them): those the host reads from the watched tables.
 */
typedef enum RuleField
{
	RULE_FIELD_NONE,			/* count and exists read no field */
	RULE_FIELD_AMOUNT,			/* order */
	RULE_FIELD_KIND,			/* event */
	RULE_FIELD_OBJECT,			/* event */
	RULE_FIELD_DURATION			/* event */
} RuleField;

/* Measures named by a word of the vocabulary: facts, attributes, models */
typedef enum RuleNamed
{
	RULE_NAMED_NONE,			/* aggregates and tags */
	RULE_NAMED_ORDER_COUNT,
	RULE_NAMED_TOTAL_PAID,
	RULE_NAMED_AVG_ORDER_VALUE,
	RULE_NAMED_MAX_ORDER_AMOUNT,
	RULE_NAMED_EVENT_COUNT,
	RULE_NAMED_ACTIVE_DAYS,
	RULE_NAMED_DAYS_SINCE_FIRST_ORDER,
	RULE_NAMED_DAYS_SINCE_LAST_ORDER,
	RULE_NAMED_DAYS_SINCE_LAST_EVENT,
	RULE_NAMED_CITY,
	RULE_NAMED_PROVINCE,
	RULE_NAMED_COUNTRY,
	RULE_NAMED_GENDER,
	RULE_NAMED_CHANNEL,
	RULE_NAMED_BIRTH_YEAR,
	RULE_NAMED_AGE,
	RULE_NAMED_DAYS_SINCE_REGISTRATION,
	RULE_NAMED_RFM_SEGMENT,
	RULE_NAMED_RFM_R,
	RULE_NAMED_RFM_F,
	RULE_NAMED_RFM_M,
	RULE_NAMED_LIFECYCLE_STAGE,
	RULE_NAMED_CUSTOMER_STATUS,
	RULE_NAMED_USER_LEVEL,
	RULE_NAMED_CHURN_PROBABILITY,
	RULE_NAMED_P_ALIVE,
	RULE_NAMED_EXPECTED_VALUE
} RuleNamed;

typedef enum RuleWordKind
{
	RULE_WORD_FACT,				/* per-customer fact, e.g. order_count */
	RULE_WORD_ATTRIBUTE,		/* customer attribute, e.g. city */
	RULE_WORD_MODEL,			/* model output, e.g. rfm_segment */
	RULE_WORD_AGGREGATE,		/* count(order ...), ..., has_event('kind') */
	RULE_WORD_TAG,				/* has_tag('name') */
	RULE_WORD_ORDER_FIELD,		/* a field of the rows of orders */
	RULE_WORD_EVENT_FIELD		/* a field of the rows of events */
} RuleWordKind;

/*
 * A word of the vocabulary (rule_vocabulary.c): one name a rule may use for
 * a measure, a function or a row field.  The parser resolves names in the
 * vocabulary and lists it in its hints; the host computes each named
 * measure and reads each field; tagscrm.rule_vocabulary() shows it.
 */
typedef struct RuleWord
{
	const char *name;
	RuleWordKind kind;
	RuleType	type;			/* of the value, or of the field */
	bool		type_of_field;	/* sum, min, max, avg: the type of their field
								 * instead */
	bool		time_dependent; /* the value may change with time alone */
	RuleNamed	named;			/* facts, attributes, models */
	RuleField	field;			/* fields */
	RuleAggFunc func;			/* aggregates */
	bool		takes_string;	/* has_event('kind'), not func(source ...) */
	const char *description;
} RuleWord;

typedef enum RuleOp
{
	RULE_OP_EQ,
	RULE_OP_NE,
	RULE_OP_LT,
	RULE_OP_LE,
	RULE_OP_GT,
	RULE_OP_GE,
	RULE_OP_IN,					/* filters only: field IN (list) */
	RULE_OP_NOT_IN				/* filters only: field NOT IN (list) */
} RuleOp;

/* A literal value; str is NUL-terminated and may contain no NUL */
typedef struct RuleLiteral
{
	RuleType	type;
	bool		b;
	double		num;			/* NUMBER, or DURATION in seconds */
	const char *str;			/* TEXT */
	size_t		len;
} RuleLiteral;

/* One filter on the rows an aggregate reads: field op value(s) */
typedef struct RuleFilter
{
	RuleField	field;
	RuleType	type;			/* type of the field */
	RuleOp		op;
	int			nvalues;		/* 1 for comparisons, >= 1 for (NOT) IN */
	RuleLiteral *values;		/* sorted, without duplicates, for (NOT) IN */
} RuleFilter;

/*
 * A measure the host must compute.  For aggregates with a window, a row at
 * time e counts while e + window_to <= now < e + window_from (the window is
 * the half-open span of event times (now - window_from, now - window_to]).
 * Without a window every row counts.
 */
typedef struct RuleMeasure
{
	int			id;				/* 1-based */
	RuleMeasureKind kind;
	RuleType	type;			/* type of the value the host supplies */
	const char *name;			/* fact/attribute/model name, tag name, or
								 * aggregate function name */
	RuleNamed	named;			/* facts, attributes, models: which one */
	const char *text;			/* canonical text, also the identity */
	bool		time_dependent; /* value may change with time alone */
	int			position;		/* byte offset of first use, 0-based */
	/* aggregates only */
	RuleAggFunc func;
	RuleSource	source;
	RuleField	field;			/* amount or duration; NONE for count/exists */
	int			nfilters;
	RuleFilter *filters;		/* sorted canonically */
	bool		has_window;
	double		window_from;	/* seconds before now where the window opens */
	double		window_to;		/* seconds before now where it closes (0 = now) */
} RuleMeasure;

typedef enum RuleNodeKind
{
	RULE_NODE_CONST,			/* lit */
	RULE_NODE_MEASURE,			/* measure (0-based index) */
	RULE_NODE_AND,				/* args[0..nargs-1], n-ary */
	RULE_NODE_OR,				/* args[0..nargs-1], n-ary */
	RULE_NODE_NOT,				/* args[0] */
	RULE_NODE_CMP,				/* args[0] op args[1] */
	RULE_NODE_IN,				/* args[0] IN (list) */
	RULE_NODE_BETWEEN,			/* args[0] BETWEEN args[1] AND args[2] */
	RULE_NODE_IS_NULL			/* args[0] IS NULL */
} RuleNodeKind;

typedef struct RuleNode
{
	RuleNodeKind kind;
	RuleType	type;			/* type of the node's value */
	int			position;		/* byte offset in the rule, 0-based */
	RuleOp		op;				/* CMP */
	int			nargs;
	struct RuleNode **args;
	RuleLiteral lit;			/* CONST */
	int			measure;		/* MEASURE: index into measures */
	int			nlist;			/* IN */
	RuleLiteral *list;			/* IN */
} RuleNode;

struct RuleArena;

typedef struct RuleTree
{
	RuleNode   *root;
	int			nmeasures;
	RuleMeasure *measures;
	const char *canonical;		/* fully parenthesized canonical text */
	struct RuleArena *arena;	/* owns everything above */
} RuleTree;

/* Allocator hooks; alloc returns NULL on failure (standalone) or throws */
typedef struct RuleAllocator
{
	void	   *(*alloc) (size_t size, void *arg);
	void		(*free) (void *ptr, void *arg);
	void	   *arg;
} RuleAllocator;

/* A failure: SQLSTATE, byte offset (0-based, -1 if none) and texts */
typedef struct RuleError
{
	char		sqlstate[6];
	int			position;
	char		message[256];
	char		detail[512];
	char		hint[512];
} RuleError;

/* Three-valued result of a rule, SQL semantics */
typedef enum RuleTruth
{
	RULE_FALSE = 0,
	RULE_TRUE = 1,
	RULE_UNKNOWN = 2
} RuleTruth;

/*
 * A measure value supplied by the host: isnull, or the member matching the
 * measure's type (b for BOOL, num for NUMBER and DURATION, str/len for TEXT).
 */
typedef struct RuleValue
{
	bool		isnull;
	bool		b;
	double		num;
	const char *str;
	size_t		len;
} RuleValue;

/* rule_vocabulary.c: the words of the language, names of its enums */
extern const RuleWord *RuleVocabulary(int *nwords);
extern const RuleWord *RuleFieldWord(RuleField field);
extern const char *RuleWordKindName(RuleWordKind kind);
extern const char *RuleFieldName(RuleField field);
extern const char *RuleTypeName(RuleType type);
extern const char *RuleOpName(RuleOp op);
extern const char *RuleMeasureKindName(RuleMeasureKind kind);
extern const char *RuleAggFuncName(RuleAggFunc func);
extern const char *RuleSourceName(RuleSource source);
extern const char *RuleNodeKindName(RuleNodeKind kind);

/* rule_parse.c */
extern RuleTree *RuleParse(const char *text, size_t len,
						   const RuleAllocator *allocator, RuleError *err);
extern void RuleFree(RuleTree *tree);

/* rule_eval.c */
extern bool RuleCheckValues(const RuleTree *tree, const RuleValue *values,
							RuleError *err);
extern RuleTruth RuleEval(const RuleTree *tree, const RuleValue *values);
extern int	RuleCompareValues(RuleType type, const RuleValue *a, const RuleValue *b);
extern void RuleLiteralValue(const RuleLiteral *lit, RuleValue *out);

#endif							/* TAGSCRM_RULE_H */
