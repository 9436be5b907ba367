/*
 * rule_parse.h: what the files of the rule parser share; not part of the
 * rule.h interface.  One block per file.
 *
 * Standard C only, like rule.h.  Every parse step takes the Parser, whose
 * first error wins: once p->failed is set, every function returns NULL or
 * false without doing anything, so callers only test their own results.
 * The functions shared here carry the Rule prefix because they are linked
 * into the server's address space.
 */
#ifndef TAGSCRM_RULE_PARSE_H
#define TAGSCRM_RULE_PARSE_H

#include "rule.h"

typedef struct RuleArena RuleArena;

typedef enum TokenType
{
	TK_EOF,
	TK_IDENT,
	TK_NUMBER,
	TK_STRING,
	TK_LPAREN,
	TK_RPAREN,
	TK_COMMA,
	TK_DOT,
	TK_MINUS,
	TK_OP,
	TK_BAD						/* a character outside the language */
} TokenType;

typedef struct Token
{
	TokenType	type;
	size_t		start;			/* byte offset */
	size_t		len;			/* bytes of source text */
	double		num;			/* TK_NUMBER */
	char	   *str;			/* TK_STRING, unescaped, NUL-terminated */
	size_t		slen;
	RuleOp		op;				/* TK_OP */
} Token;

typedef struct Parser
{
	const char *src;
	size_t		len;
	size_t		pos;			/* lexer position */
	Token		tok;			/* current token */
	RuleArena  *arena;
	RuleError  *err;
	const char *host;			/* NULL in a rule; the host language's name for
								 * its text ("segment expression") when that
								 * language embeds conditions (segment.c) */
	bool		failed;
	int			depth;
	int			nnodes;
	/* the measure registry (rule_measure.c) */
	RuleMeasure *measures;
	unsigned   *hashes;
	int			nmeasures;
	int			maxmeasures;
} Parser;

/* Growing text in the arena, for canonical texts */
typedef struct Buf
{
	Parser	   *p;
	char	   *data;			/* NULL once an allocation failed */
	size_t		len;
	size_t		cap;
} Buf;

#if defined(__GNUC__) || defined(__clang__)
#define RULE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RULE_PRINTF(f, a)
#endif

/* rule_arena.c: every allocation of one tree, freed at once */
extern RuleArena *RuleArenaCreate(const RuleAllocator *allocator);
extern void *RuleArenaAlloc(RuleArena *arena, size_t n);
extern void RuleArenaFree(RuleArena *arena);

/* rule_vocabulary.c: lists of words, for hints */
extern int	RuleCountWords(bool (*keep) (const RuleWord *word, const void *arg), const void *arg);
extern void RuleJoinWords(char *buf, size_t size,
						  bool (*keep) (const RuleWord *word, const void *arg),
						  const void *arg, bool qualified, const char *last, const char *after);

/* rule_lex.c: tokens */
extern bool RuleSpanIs(const char *s, size_t len, const char *word);
extern bool RuleTokIs(Parser *p, const char *word);
extern void RuleNext(Parser *p);
extern bool RuleNextIsLParen(Parser *p);
extern bool RuleExpect(Parser *p, TokenType type, const char *expected);
extern bool RuleExpectWord(Parser *p, const char *word, const char *expected);

/* rule_parse.c: parser state, errors and the grammar */
extern void RuleFail(Parser *p, const char *sqlstate, long position, const char *detail,
					 const char *hint, const char *fmt,...) RULE_PRINTF(6, 7);
extern void *RuleAlloc(Parser *p, size_t n);
extern int	RuleQuoteLength(const char *s, size_t len);
extern void RuleSyntaxError(Parser *p, const char *expected);
extern RuleNode *RuleNewNode(Parser *p, RuleNodeKind kind, size_t position);
extern const char *RuleTextName(const Parser *p);
extern RuleNode *RuleParseCondition(Parser *p);

/* rule_check.c: names resolved against the vocabulary, and types */
extern const RuleWord *RuleResolveFunction(Parser *p, size_t position, const char *s, size_t len);
extern const RuleWord *RuleResolveMeasure(Parser *p, size_t position, const char *s, size_t len);
extern const RuleWord *RuleResolveField(Parser *p, RuleSource source);
extern void RuleExpectNumberField(Parser *p, bool any_source, RuleSource source);
extern bool RuleCheckSameType(Parser *p, size_t position, RuleType want, RuleType got);
extern bool RuleCheckCompare(Parser *p, size_t position, RuleOp op, RuleType left, RuleType right);
extern bool RuleCheckBetween(Parser *p, size_t position, RuleType type);
extern bool RuleCheckCondition(Parser *p, const RuleNode *node, const char *where);
extern bool RuleCheckRule(Parser *p, const RuleNode *root);
extern bool RuleCheckFilter(Parser *p, size_t position, const RuleFilter *f);
extern bool RuleCheckAggregateField(Parser *p, size_t position, const RuleMeasure *m,
									const RuleWord *field);

/* rule_measure.c: the measures of a rule, each once, and canonical orders */
extern int	RuleSortUnique(RuleLiteral *list, int n);
extern int	RuleSortFilters(RuleFilter *filters, int n);
extern RuleNode *RuleMeasureNode(Parser *p, RuleMeasure *m, size_t position);

/* rule_print.c: canonical texts */
extern void RuleBufInit(Buf *b, Parser *p);
extern void RuleBufPuts(Buf *b, const char *s);
extern void RuleBufLiteral(Buf *b, const RuleLiteral *lit);
extern const char *RuleAggregateText(Parser *p, const RuleMeasure *m);
extern const char *RuleCanonicalText(Parser *p, const RuleTree *tree);

#endif							/* TAGSCRM_RULE_PARSE_H */
