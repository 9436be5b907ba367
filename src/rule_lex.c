/*
 * rule_lex.c: the lexer of the rule language.  Tokens are read one at a
 * time into p->tok; keywords and names are identifiers matched
 * case-insensitively (ASCII), strings are unescaped into the arena.  A
 * character outside the language is an error at once, with a hint for the
 * usual mistakes (double quotes, comments).
 *
 * Standard C only (see rule.h).
 */
#include "rule_parse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
IsDigit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
IsIdentStart(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
IsIdentChar(char c)
{
	return IsIdentStart(c) || IsDigit(c);
}

/* Case-insensitive ASCII comparison of a source span with a lower-case word */
bool
RuleSpanIs(const char *s, size_t len, const char *word)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');
		if (word[i] == '\0' || word[i] != c)
			return false;
	}
	return word[len] == '\0';
}

/* Is the current token the identifier/keyword word? */
bool
RuleTokIs(Parser *p, const char *word)
{
	return p->tok.type == TK_IDENT && RuleSpanIs(p->src + p->tok.start, p->tok.len, word);
}


/* Reads the next token into p->tok */
void
RuleNext(Parser *p)
{
	const char *s = p->src;
	size_t		n = p->len;
	size_t		i = p->pos;
	Token	   *t = &p->tok;

	if (p->failed)
		return;
	while (i < n && IsSpace(s[i]))
		i++;
	memset(t, 0, sizeof(*t));
	t->start = i;
	if (i >= n)
	{
		t->type = TK_EOF;
		p->pos = i;
		return;
	}
	if (IsIdentStart(s[i]))
	{
		while (i < n && IsIdentChar(s[i]))
			i++;
		t->type = TK_IDENT;
	}
	else if (IsDigit(s[i]) || (s[i] == '.' && i + 1 < n && IsDigit(s[i + 1])))
	{
		char		buf[128];
		size_t		start = i;

		while (i < n && IsDigit(s[i]))
			i++;
		if (i < n && s[i] == '.')
		{
			i++;
			while (i < n && IsDigit(s[i]))
				i++;
		}
		if (i < n && (s[i] == 'e' || s[i] == 'E'))
		{
			size_t		j = i + 1;

			if (j < n && (s[j] == '+' || s[j] == '-'))
				j++;
			if (j < n && IsDigit(s[j]))
			{
				i = j;
				while (i < n && IsDigit(s[i]))
					i++;
			}
		}
		t->type = TK_NUMBER;
		if (i - start >= sizeof(buf))
		{
			RuleFail(p, "22003", (long) start, "A number may have at most 127 characters.", NULL,
					 "number is too long");
			return;
		}
		memcpy(buf, s + start, i - start);
		buf[i - start] = '\0';
		t->num = strtod(buf, NULL);
		if (!isfinite(t->num))
		{
			RuleFail(p, "22003", (long) start, NULL, NULL,
					 "number \"%s\" is out of range", buf);
			return;
		}
	}
	else if (s[i] == '\'')
	{
		size_t		start = i;
		size_t		k = 0;
		char	   *out;

		/* first pass: find the end and the unescaped length */
		i++;
		for (;;)
		{
			if (i >= n)
			{
				RuleFail(p, "42601", (long) start, "A string starts here and has no closing quote.",
						 "Write a quote inside a string as two quotes, as in 'it''s'.",
						 "unterminated quoted string");
				return;
			}
			if (s[i] == '\'')
			{
				if (i + 1 < n && s[i + 1] == '\'')
					i++;
				else
					break;
			}
			i++;
			k++;
		}
		i++;					/* closing quote */
		out = RuleAlloc(p, k + 1);
		if (out == NULL)
			return;
		k = 0;
		for (size_t j = start + 1; j < i - 1; j++)
		{
			out[k++] = s[j];
			if (s[j] == '\'')
				j++;
		}
		out[k] = '\0';
		t->type = TK_STRING;
		t->str = out;
		t->slen = k;
	}
	else
	{
		char		c = s[i];
		char		c2 = i + 1 < n ? s[i + 1] : '\0';

		i++;
		switch (c)
		{
			case '(':
				t->type = TK_LPAREN;
				break;
			case ')':
				t->type = TK_RPAREN;
				break;
			case ',':
				t->type = TK_COMMA;
				break;
			case '.':
				t->type = TK_DOT;
				break;
			case '-':
				if (c2 == '-')
				{
					/* a comment start, refused with a hint */
					t->type = TK_BAD;
					t->len = 2;
					p->pos = i + 1;
					RuleFail(p, "42601", (long) t->start,
							 p->host != NULL ? "This character is not part of the segment language." :
							 "This character is not part of the rule language.",
							 p->host != NULL ? "Segment expressions have no comments." : "Rules have no comments.",
							 "syntax error at or near \"--\"");
					return;
				}
				t->type = TK_MINUS;
				break;
			case '=':
				t->type = TK_OP;
				t->op = RULE_OP_EQ;
				break;
			case '<':
				t->type = TK_OP;
				t->op = RULE_OP_LT;
				if (c2 == '=')
				{
					t->op = RULE_OP_LE;
					i++;
				}
				else if (c2 == '>')
				{
					t->op = RULE_OP_NE;
					i++;
				}
				break;
			case '>':
				t->type = TK_OP;
				t->op = RULE_OP_GT;
				if (c2 == '=')
				{
					t->op = RULE_OP_GE;
					i++;
				}
				break;
			case '!':
				if (c2 == '=')
				{
					t->type = TK_OP;
					t->op = RULE_OP_NE;
					i++;
					break;
				}
				/* FALLTHROUGH */
			default:
				{
					size_t		clen = 1;

					/* quote one whole UTF-8 character */
					while (i < n && clen < 4 && ((unsigned char) s[i] & 0xC0) == 0x80)
					{
						i++;
						clen++;
					}
					t->type = TK_BAD;
					t->len = clen;
					p->pos = i;
					RuleFail(p, "42601", (long) t->start,
							 p->host != NULL ? "This character is not part of the segment language." :
							 "This character is not part of the rule language.",
							 c == '"' ? (p->host != NULL ? "Write names and strings in single quotes, as in tag('VIP')." :
										 "Write strings in single quotes, as in city = 'Shanghai'.") :
							 c == '/' ? (p->host != NULL ? "Segment expressions have no comments." : "Rules have no comments.") :
							 NULL,
							 "syntax error at or near \"%.*s\"", (int) clen, s + t->start);
					return;
				}
		}
	}
	t->len = i - t->start;
	p->pos = i;
}

/* Does '(' follow the current token (function call syntax)? */
bool
RuleNextIsLParen(Parser *p)
{
	size_t		i = p->pos;

	while (i < p->len && IsSpace(p->src[i]))
		i++;
	return i < p->len && p->src[i] == '(';
}

bool
RuleExpect(Parser *p, TokenType type, const char *expected)
{
	if (p->failed)
		return false;
	if (p->tok.type != type)
	{
		RuleSyntaxError(p, expected);
		return false;
	}
	RuleNext(p);
	return !p->failed;
}

bool
RuleExpectWord(Parser *p, const char *word, const char *expected)
{
	if (p->failed)
		return false;
	if (!RuleTokIs(p, word))
	{
		RuleSyntaxError(p, expected);
		return false;
	}
	RuleNext(p);
	return !p->failed;
}
