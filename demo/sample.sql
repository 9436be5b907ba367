-- The sample shop: a tag library, customers tagged by hand and by a CSV
-- import, then what a BI tool and a service desk would read.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
\o /dev/null

-- the tag library
SELECT tagscrm.create_tag_group('channel', 'channel', exclusive => true, owner => 'growth',
                                description => 'where the customer first came from');
SELECT tagscrm.create_tag('online', 'channel'), tagscrm.create_tag('Taobao', 'channel', parent => 'online'),
       tagscrm.create_tag('WeCom', 'channel', parent => 'online'), tagscrm.create_tag('store', 'channel');
SELECT tagscrm.create_tag_group('intent', 'behaviour', exclusive => true, description => 'purchase intent');
SELECT tagscrm.create_tag('low intent', 'intent'), tagscrm.create_tag('medium intent', 'intent'),
       tagscrm.create_tag('high intent', 'intent');
SELECT tagscrm.create_tag_group('interests', 'interest', update_cycle => 'weekly');
SELECT tagscrm.create_tag('wardrobe', 'interests'), tagscrm.create_tag('kitchen', 'interests'),
       tagscrm.create_tag('first order', 'interests');
SELECT tagscrm.add_tag_alias('ordered', 'first order');

-- hand tagging: 60 customers with bigint ids, a few WeCom external ids (text)
SELECT tagscrm.tag_customer(g, CASE g % 3 WHEN 0 THEN 'Taobao' WHEN 1 THEN 'WeCom' ELSE 'store' END)
  FROM generate_series(1, 60) g;
SELECT tagscrm.tag_customer(g, 'low intent', reason => 'browsed twice') FROM generate_series(1, 60, 4) g;
SELECT tagscrm.tag_customer(g, 'high intent', reason => 'asked for a quote') FROM generate_series(1, 60, 8) g;
SELECT tagscrm.tag_customer('wmA7x' || g, 'WeCom') FROM generate_series(1, 5) g;
SELECT tagscrm.tag_customer(7, 'ordered', reason => 'paid deposit');

-- a CSV from the events team, with mistakes in it
CREATE TEMP TABLE incoming (customer_id text, tag text);
INSERT INTO incoming VALUES ('3', 'wardrobe'), ('4', 'Kitchen'), ('5', 'kitchen'), ('5', 'kitchen'),
                            ('', 'wardrobe'), ('8', 'garden'), ('9', 'low intent'), ('9', 'high intent');
\o
\echo
\echo '== Import of a CSV with mistakes: rejected rows and why'
SELECT * FROM tagscrm.import_tags('incoming', reason => 'spring fair');

\echo
\echo '== The tag library (tagscrm.tags)'
SELECT path, group_name, kind, exclusive, aliases, customers FROM tagscrm.tags ORDER BY group_name, path;

\echo
\echo '== Segment sizes: customers per tag'
SELECT group_name, tag, count(*) AS customers FROM tagscrm.customer_tags GROUP BY 1, 2 ORDER BY 1, 2;

\echo
\echo '== A few tagged customers (tagscrm.customer_tags)'
SELECT customer_id, string_agg(tag, ', ' ORDER BY group_name) AS tags
  FROM tagscrm.customer_tags WHERE customer_id IN ('1', '7', '9', '16', 'wmA7x1') GROUP BY 1 ORDER BY 1;

\echo
\echo '== One customer for the service desk: tagscrm.customer_profile(9)'
SELECT jsonb_pretty(tagscrm.customer_profile(9, history_limit => 3));
