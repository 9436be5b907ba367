/*
 * names.c: tagscrm.name_key(name), the key every name of the library is
 * looked up by: trimmed, in Unicode NFC (in a UTF8 database; other
 * encodings have no composed forms to fold), lower case in the collation
 * it is called with.  In C so that a name lookup (the segment evaluator's,
 * a tag's by name) plans and runs without starting PL/pgSQL: the first
 * such query of a new connection otherwise loaded and compiled it.  C
 * callers compute the key once (NameKey) and look it up as a parameter: in
 * a generic plan, name_key($1) in a filter runs again for every row.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "tagscrm.h"
#include "utils/fmgrprotos.h"

PG_FUNCTION_INFO_V1(tagscrm_name_key);

Datum
tagscrm_name_key(PG_FUNCTION_ARGS)
{
	Oid			collation = OidIsValid(PG_GET_COLLATION()) ? PG_GET_COLLATION() : DEFAULT_COLLATION_OID;
	Datum		name = DirectFunctionCall1(btrim1, PG_GETARG_DATUM(0));

	if (GetDatabaseEncoding() == PG_UTF8)
		name = DirectFunctionCall2(unicode_normalize_func, name, CStringGetTextDatum("NFC"));
	PG_RETURN_DATUM(DirectFunctionCall1Coll(lower, collation, name));
}

/* The key of a name (text), as name_key() computes it in the database's collation */
Datum
NameKey(Datum name)
{
	return DirectFunctionCall1Coll(tagscrm_name_key, DEFAULT_COLLATION_OID, name);
}
