/*
 * test/drivers/read_views_odbc.c: reads queries through ODBC (unixODBC's
 * driver manager and psqlODBC, what Excel and Power BI use) and prints, per
 * query, each column's SQL type as SQLDescribeCol reports it and every row as
 * SQLGetData gives it in SQL_C_CHAR, in the format test/drivers/run.sh
 * compares with psql's COPY ... TO STDOUT output: fields separated by a tab,
 * NULL as \N, and a backslash, tab, newline or carriage return inside a value
 * escaped as \\, \t, \n, \r.
 *
 * Usage: read_views_odbc CONNECTION-STRING < queries
 * Each line of stdin is "name<TAB>query"; output for it goes to
 * name.odbc.types and name.odbc.rows in the current directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sql.h>
#include <sqlext.h>

/* the name of an SQL type code, as in sql.h / sqlext.h */
static const char *
SqlTypeName(SQLSMALLINT t)
{
	switch (t)
	{
		case SQL_CHAR: return "SQL_CHAR";
		case SQL_VARCHAR: return "SQL_VARCHAR";
		case SQL_LONGVARCHAR: return "SQL_LONGVARCHAR";
		case SQL_WCHAR: return "SQL_WCHAR";
		case SQL_WVARCHAR: return "SQL_WVARCHAR";
		case SQL_WLONGVARCHAR: return "SQL_WLONGVARCHAR";
		case SQL_BIT: return "SQL_BIT";
		case SQL_TINYINT: return "SQL_TINYINT";
		case SQL_SMALLINT: return "SQL_SMALLINT";
		case SQL_INTEGER: return "SQL_INTEGER";
		case SQL_BIGINT: return "SQL_BIGINT";
		case SQL_NUMERIC: return "SQL_NUMERIC";
		case SQL_DECIMAL: return "SQL_DECIMAL";
		case SQL_REAL: return "SQL_REAL";
		case SQL_FLOAT: return "SQL_FLOAT";
		case SQL_DOUBLE: return "SQL_DOUBLE";
		case SQL_TYPE_DATE: return "SQL_TYPE_DATE";
		case SQL_TYPE_TIME: return "SQL_TYPE_TIME";
		case SQL_TYPE_TIMESTAMP: return "SQL_TYPE_TIMESTAMP";
		case SQL_GUID: return "SQL_GUID";
		case SQL_BINARY: return "SQL_BINARY";
		case SQL_VARBINARY: return "SQL_VARBINARY";
		case SQL_LONGVARBINARY: return "SQL_LONGVARBINARY";
		case SQL_INTERVAL_YEAR_TO_MONTH: return "SQL_INTERVAL_YEAR_TO_MONTH";
		case SQL_INTERVAL_DAY_TO_SECOND: return "SQL_INTERVAL_DAY_TO_SECOND";
		default: return NULL;
	}
}

/* prints the diagnostics of a failed call and exits */
static void
Fail(SQLSMALLINT kind, SQLHANDLE h, const char *what)
{
	SQLCHAR		state[6], msg[1024];
	SQLINTEGER	native;
	SQLSMALLINT len;

	fprintf(stderr, "read_views_odbc: %s failed\n", what);
	for (SQLSMALLINT i = 1; SQLGetDiagRec(kind, h, i, state, &native, msg, sizeof(msg), &len) == SQL_SUCCESS; i++)
		fprintf(stderr, "  %s: %s\n", state, msg);
	exit(1);
}

/* writes one value: \N for NULL, else escaped */
static void
PutValue(FILE *out, const char *v, int isnull)
{
	if (isnull)
	{
		fputs("\\N", out);
		return;
	}
	for (; *v; v++)
	{
		if (*v == '\\')
			fputs("\\\\", out);
		else if (*v == '\t')
			fputs("\\t", out);
		else if (*v == '\n')
			fputs("\\n", out);
		else if (*v == '\r')
			fputs("\\r", out);
		else
			fputc(*v, out);
	}
}

/* runs one query, writing name.odbc.types and name.odbc.rows */
static void
RunQuery(SQLHDBC dbc, const char *name, const char *query)
{
	SQLHSTMT	st;
	SQLSMALLINT ncols;
	char		path[70000];
	FILE	   *types, *rows;
	size_t		cap = 1 << 16;
	char	   *buf = malloc(cap);

	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, dbc, &st)))
		Fail(SQL_HANDLE_DBC, dbc, "SQLAllocHandle(STMT)");
	if (!SQL_SUCCEEDED(SQLExecDirect(st, (SQLCHAR *) query, SQL_NTS)))
		Fail(SQL_HANDLE_STMT, st, query);
	SQLNumResultCols(st, &ncols);
	snprintf(path, sizeof(path), "%s.odbc.types", name);
	types = fopen(path, "w");
	snprintf(path, sizeof(path), "%s.odbc.rows", name);
	rows = fopen(path, "w");
	if (!types || !rows)
	{
		perror(path);
		exit(1);
	}
	for (SQLUSMALLINT c = 1; c <= ncols; c++)
	{
		SQLCHAR		col[256];
		SQLSMALLINT collen, type, digits, nullable;
		SQLULEN		size;
		const char *tn;

		if (!SQL_SUCCEEDED(SQLDescribeCol(st, c, col, sizeof(col), &collen, &type, &size, &digits, &nullable)))
			Fail(SQL_HANDLE_STMT, st, "SQLDescribeCol");
		tn = SqlTypeName(type);
		if (tn)
			fprintf(types, "%s\t%s\n", col, tn);
		else
			fprintf(types, "%s\tSQL type %d\n", col, type);
	}
	for (;;)
	{
		SQLRETURN	r = SQLFetch(st);

		if (r == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(r))
			Fail(SQL_HANDLE_STMT, st, "SQLFetch");
		for (SQLUSMALLINT c = 1; c <= ncols; c++)
		{
			SQLLEN		ind;
			size_t		got = 0;

			if (c > 1)
				fputc('\t', rows);
			/* long values come in pieces: SQL_SUCCESS_WITH_INFO (01004) until the last */
			for (;;)
			{
				r = SQLGetData(st, c, SQL_C_CHAR, buf + got, cap - got, &ind);
				if (!SQL_SUCCEEDED(r))
					Fail(SQL_HANDLE_STMT, st, "SQLGetData");
				if (ind == SQL_NULL_DATA || r == SQL_SUCCESS)
					break;
				got = cap - 1;	/* the piece filled the buffer but its terminator */
				cap *= 2;
				buf = realloc(buf, cap);
			}
			PutValue(rows, buf, ind == SQL_NULL_DATA);
		}
		fputc('\n', rows);
	}
	fclose(types);
	fclose(rows);
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	free(buf);
}

int
main(int argc, char **argv)
{
	SQLHENV		env;
	SQLHDBC		dbc;
	char		line[65536];

	if (argc != 2)
	{
		fprintf(stderr, "usage: read_views_odbc CONNECTION-STRING < queries\n");
		return 2;
	}
	SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env);
	SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, (void *) SQL_OV_ODBC3, 0);
	SQLAllocHandle(SQL_HANDLE_DBC, env, &dbc);
	if (!SQL_SUCCEEDED(SQLDriverConnect(dbc, NULL, (SQLCHAR *) argv[1], SQL_NTS, NULL, 0, NULL, SQL_DRIVER_NOPROMPT)))
		Fail(SQL_HANDLE_DBC, dbc, "SQLDriverConnect");
	while (fgets(line, sizeof(line), stdin))
	{
		char	   *tab = strchr(line, '\t');
		size_t		n = strlen(line);

		if (n && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!tab)
			continue;
		*tab = '\0';
		RunQuery(dbc, line, tab + 1);
	}
	SQLDisconnect(dbc);
	SQLFreeHandle(SQL_HANDLE_DBC, dbc);
	SQLFreeHandle(SQL_HANDLE_ENV, env);
	return 0;
}
