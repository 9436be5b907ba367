# tagscrm: PGXS build.  The install script is generated from src/*.sql in the
# order of SQL_PARTS, which is the data flow: the foundation (roles, clock,
# tag library); watched tables -> triggers (and the bulk queue) -> maintain,
# which runs the stages: facts -> models -> rules -> tags and history; then
# the views; the jobs on top; the grants last.
EXTENSION  = tagscrm
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" tagscrm.control)

MODULE_big = tagscrm
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

SQL_PARTS  = src/tagscrm.sql src/library.sql \
             src/watch.sql src/triggers.sql src/pending.sql src/maintain.sql \
             src/facts.sql \
             src/rfm.sql src/churn.sql src/churn_validate.sql src/settings.sql src/churn_predict.sql src/models.sql \
             src/rule.sql src/rule_values.sql src/tag_rules.sql \
             src/tags.sql src/segments.sql src/history.sql src/housekeeping.sql src/campaigns.sql \
             src/views.sql \
             src/jobs.sql src/permissions.sql
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA       = $(sort $(wildcard src/updates/*.sql))

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=$(EXTENSION)
ISOLATION      = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=$(EXTENSION)

PG_CPPFLAGS = -Isrc
SHLIB_LINK  = -lroaring
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object is rebuilt when a header changes (make does not see includes)
$(OBJS): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) tagscrm.control
	cat $(SQL_PARTS) > $@
