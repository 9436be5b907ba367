/*
 * tag_set_sample.c: which rows of tag_set_log make their writer look at the
 * tag's log length (automatic compaction, segments.sql).  In C because every
 * writer of customer_tag asks it for each row it logged, and a SQL function
 * with its search_path pinned is called, not inlined, at several microseconds
 * a call: a fifth of what a single-row write paid for the tag sets.
 */
#include "tagscrm.h"

#include "fmgr.h"
#include "utils/fmgrprotos.h"

PG_FUNCTION_INFO_V1(tagscrm_tag_set_log_sampled);

/* about one row in 16: by a hash of the id (see segments.sql for why) */
Datum
tagscrm_tag_set_log_sampled(PG_FUNCTION_ARGS)
{
	uint32		hash = DatumGetUInt32(DirectFunctionCall1(hashint8, PG_GETARG_DATUM(0)));

	PG_RETURN_BOOL((hash & 15) == 0);
}
