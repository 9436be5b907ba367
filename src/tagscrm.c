/*
 * tagscrm.c: module entry point.  _PG_init only calls each module's Init.
 */
#include "tagscrm.h"

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	SessionInit();
	MarkGUCPrefixReserved("tagscrm");
}
