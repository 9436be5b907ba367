/*
 * session.c: when and who, as tagscrm sees them.
 *
 * tagscrm.now() is the clock every time-dependent decision uses (expiry, and
 * later the sweep).  The superuser-only setting tagscrm.clock_override pins
 * it, so tests can stand exactly on a boundary.  tagscrm.acting_role() names
 * the role that called the API: our API functions are SECURITY DEFINER, so
 * current_user inside them is the extension owner, and session_user ignores
 * SET ROLE; the "outer" user id is the role the caller is acting as.  The
 * background applier of bulk statements (applier.c) acts for the role that
 * wrote them: it sets the superuser-only tagscrm.acting_for for that work.
 */
#include "tagscrm.h"

#include "access/xact.h"
#include "common/int.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(tagscrm_now);
PG_FUNCTION_INFO_V1(tagscrm_acting_role);

static char *clock_override_string = NULL;
static bool clock_overridden = false;
static TimestampTz clock_override_value = 0;
static char *acting_for_string = NULL;

/*
 * Parse the override once, when it is set.  Check hooks must not throw, so
 * this uses the non-throwing datetime decoder rather than timestamptz_in.
 *
 * The value is then stored in a canonical form, UTC with a numeric offset
 * and no words: a parallel worker restores the leader's settings while its
 * time zone abbreviation table is being reset, and decoding a word there
 * ('T', 'today', an abbreviation such as 'CET') would read freed memory.
 */
static bool
CheckClockOverride(char **newval, void **extra, GucSource source)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	struct pg_tm tt;
	fsec_t		fsec;
	TimestampTz result;
	TimestampTz *parsed;
	char	   *canonical;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;

	if (ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype,
					  MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0 ||
		dtype != DTK_DATE ||
		tm2timestamp(&tt, fsec, &tz, &result) != 0)
	{
		GUC_check_errdetail("tagscrm.clock_override must be a finite timestamp, such as '2026-01-31 12:00:00+00'.");
		return false;
	}

	if (timestamp2tm(result, NULL, &tt, &fsec, NULL, NULL) != 0 || tt.tm_year < 1 || tt.tm_year > 9999)
	{
		GUC_check_errdetail("tagscrm.clock_override must lie in the years 1 to 9999.");
		return false;
	}
	canonical = (char *) malloc(MAXDATELEN + 1);
	parsed = (TimestampTz *) malloc(sizeof(TimestampTz));
	if (canonical == NULL || parsed == NULL)
	{
		free(canonical);
		free(parsed);
		return false;
	}
	snprintf(canonical, MAXDATELEN + 1, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
			 tt.tm_year, tt.tm_mon, tt.tm_mday, tt.tm_hour, tt.tm_min, tt.tm_sec, (int) fsec);
	free(*newval);
	*newval = canonical;
	*parsed = result;
	*extra = parsed;
	return true;
}

static void
AssignClockOverride(const char *newval, void *extra)
{
	clock_overridden = (extra != NULL);
	clock_override_value = extra ? *(TimestampTz *) extra : 0;
}

void
SessionInit(void)
{
	DefineCustomStringVariable("tagscrm.clock_override",
							   "Pins the time tagscrm uses for expiry and time-driven tags.",
							   "Empty (the default) means the transaction start time. "
							   "Any timestamptz literal is accepted; meant for tests.",
							   &clock_override_string,
							   "",
							   PGC_SUSET,
							   0,
							   CheckClockOverride,
							   AssignClockOverride,
							   NULL);
	DefineCustomStringVariable("tagscrm.acting_for",
							   "The role tagscrm records as the author of changes it applies on a role's behalf.",
							   "Set by tagscrm's background applier; empty means the acting role.",
							   &acting_for_string,
							   "",
							   PGC_SUSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL,
							   NULL,
							   NULL);
}

/* The time tagscrm decisions are made at. */
TimestampTz
TagscrmNow(void)
{
	if (clock_overridden)
		return clock_override_value;
	return GetCurrentTransactionStartTimestamp();
}

/* SQL: tagscrm.now() */
Datum
tagscrm_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(TagscrmNow());
}

/* SQL: tagscrm.acting_role(), the role the caller acts as (SET ROLE aware) */
Datum
tagscrm_acting_role(PG_FUNCTION_ARGS)
{
	if (acting_for_string != NULL && acting_for_string[0] != '\0')
		PG_RETURN_TEXT_P(cstring_to_text(acting_for_string));
	PG_RETURN_TEXT_P(cstring_to_text(GetUserNameFromId(GetOuterUserId(), false)));
}

/*
 * SQL: tagscrm.days_between(since, until), the whole elapsed days (periods of
 * 24 hours) from since to until, rounded down: floor(extract(epoch FROM until
 * - since) / 86400).  In C because the models call it several times for every
 * customer: as a SQL function with SET search_path it could not be inlined,
 * and each call paid for a GUC save/restore and an executor start-up.
 */
PG_FUNCTION_INFO_V1(tagscrm_days_between);

/* The whole days from since to until (see tagscrm_days_between), for C callers */
int32
DaysBetween(TimestampTz since, TimestampTz until)
{
	int64		diff;
	int64		days;

	if (TIMESTAMP_NOT_FINITE(since) || TIMESTAMP_NOT_FINITE(until))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot subtract infinite timestamps"),
				 errhint("Pass finite timestamps to tagscrm.days_between.")));
	if (pg_sub_s64_overflow(until, since, &diff))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range")));
	days = diff / USECS_PER_DAY;
	if (diff % USECS_PER_DAY != 0 && diff < 0)
		days--;					/* round towards minus infinity, as floor() */
	if (days < PG_INT32_MIN || days > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("integer out of range")));
	return (int32) days;
}

Datum
tagscrm_days_between(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(DaysBetween(PG_GETARG_TIMESTAMPTZ(0), PG_GETARG_TIMESTAMPTZ(1)));
}
