/*
 * tagscrm.h: map of the C modules; one extern block per .c file.
 */
#ifndef TAGSCRM_H
#define TAGSCRM_H

#include "postgres.h"
#include "utils/timestamp.h"

/* session.c: the tagscrm clock, the acting role, days_between (SQL-callable) */
extern void SessionInit(void);
extern TimestampTz TagscrmNow(void);

/* rfm.c: RFM breakpoints aggregate, scores and segments (SQL-callable only) */

#endif							/* TAGSCRM_H */
