/*
 * tagscrm.h: map of the C modules; one extern block per .c file.
 */
#ifndef TAGSCRM_H
#define TAGSCRM_H

#include "postgres.h"
#include "utils/timestamp.h"

/* session.c: the tagscrm clock and the acting role */
extern void SessionInit(void);
extern TimestampTz TagscrmNow(void);

/*
 * churn.c: BG/NBD and Gamma-Gamma aggregates and scoring functions; SQL-callable
 * only, no init.  The numerical core, free of PostgreSQL, is churn_math.h.
 */

#endif							/* TAGSCRM_H */
