-- test/segment_fuzz/limits.sql: each limit just under, at and over, and the
-- other documented errors, with the exact SQLSTATE expected.  Prints
-- name|expected|got, one line a case (the statements run in this order).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE FUNCTION fuzz_state(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN '00000';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
SELECT name, want, fuzz_state(q) FROM (VALUES
	(1, 'expression of 9999 bytes', '00000', format('SELECT tagscrm.segment_count(%L)', repeat(' ', 9999 - 13) || 'tag(''garden'')')),
	(2, 'expression of 10000 bytes', '00000', format('SELECT tagscrm.segment_count(%L)', repeat(' ', 10000 - 13) || 'tag(''garden'')')),
	(3, 'expression of 10001 bytes', '54000', format('SELECT tagscrm.segment_count(%L)', repeat(' ', 10001 - 13) || 'tag(''garden'')')),
	(4, '10000 bytes, most of them 3-byte letters: parsed (no such tag)', '42704', format('SELECT tagscrm.segment_count(%L)', ' tag(''' || repeat('会', 3325) || ''') or tag(''会员'')')),
	(5, '10002 bytes, most of them 3-byte letters', '54000', format('SELECT tagscrm.segment_count(%L)', 'tag(''' || repeat('会', 3326) || ''') or tag(''会员'')')),
	(6, '999 terms and operators', '00000', format('SELECT tagscrm.segment_count(%L)', repeat('tag(''books'') or ', 499) || 'tag(''books'')')),
	(7, '1000 terms and operators', '00000', format('SELECT tagscrm.segment_count(%L)', repeat('tag(''books'') or ', 499) || 'not tag(''books'')')),
	(8, '1001 terms and operators', '54000', format('SELECT tagscrm.segment_count(%L)', repeat('tag(''books'') or ', 500) || 'tag(''books'')')),
	(9, 'parentheses 99 deep', '00000', format('SELECT tagscrm.segment_count(%L)', repeat('(', 99) || 'tag(''books'')' || repeat(')', 99))),
	(10, 'parentheses 100 deep', '00000', format('SELECT tagscrm.segment_count(%L)', repeat('(', 100) || 'tag(''books'')' || repeat(')', 100))),
	(11, 'parentheses 101 deep', '54000', format('SELECT tagscrm.segment_count(%L)', repeat('(', 101) || 'tag(''books'')' || repeat(')', 101))),
	(12, 'not 100 deep', '00000', format('SELECT tagscrm.segment_count(%L)', repeat('not ', 100) || 'tag(''books'')')),
	(13, 'not 101 deep', '54000', format('SELECT tagscrm.segment_count(%L)', repeat('not ', 101) || 'tag(''books'')')),
	(14, '50 parentheses and 50 nots, nested', '00000', format('SELECT tagscrm.segment_count(%L)', repeat('not (', 50) || 'tag(''books'')' || repeat(')', 50))),
	(15, '51 parentheses and 50 nots, nested', '54000', format('SELECT tagscrm.segment_count(%L)', '(' || repeat('not (', 50) || 'tag(''books'')' || repeat(')', 51))),
	(16, '100 deep, side by side, many times', '00000', format('SELECT tagscrm.segment_count(%L)', repeat(repeat('(', 100) || 'tag(''books'')' || repeat(')', 100) || ' and ', 4) || 'tag(''books'')')),
	(17, 'segments 16 levels deep (chain 16)', '00000', 'SELECT tagscrm.segment_count(''chain 16'')'),
	(18, 'segment(''chain 16'') in an expression', '00000', 'SELECT tagscrm.segment_count($$segment(''chain 16'') or tag(''JD'')$$)'),
	(19, 'define a segment 16 levels deep', '00000', 'SELECT tagscrm.define_segment(''chain 16b'', $$segment(''chain 15'')$$)'),
	(20, 'define a segment 17 levels deep', '54000', 'SELECT tagscrm.define_segment(''chain 17'', $$segment(''chain 16'')$$)'),
	(21, 'a segment that names itself', '22023', 'SELECT tagscrm.define_segment(''seg 1'', $$tag(''garden'') or segment(''SEG 1'')$$)'),
	(22, 'a cycle through other segments', '22023', 'SELECT tagscrm.define_segment(''chain 1'', $$segment(''chain 3'')$$)'),
	(23, 'a segment name with a parenthesis', '22023', 'SELECT tagscrm.define_segment(''odd (name)'', $$tag(''garden'')$$)'),
	(24, 'a segment another one uses, dropped', '2BP01', 'SELECT tagscrm.drop_segment(''chain 15'')'),
	(25, 'an empty expression', '42601', 'SELECT tagscrm.segment_count('''')'),
	(26, 'spaces and line breaks only', '42601', format('SELECT tagscrm.segment_count(%L)', E' \t\n ')),
	(27, 'a tag that does not exist', '42704', 'SELECT tagscrm.segment_count($$tag(''gardens'')$$)'),
	(28, 'a group that does not exist', '42704', 'SELECT tagscrm.segment_count($$group(''channels'')$$)'),
	(29, 'a segment that does not exist', '42704', 'SELECT tagscrm.segment_count($$segment(''seg 99'')$$)'),
	(30, 'a number where a name goes', '42601', 'SELECT tagscrm.segment_count($$tag(2026)$$)'),
	(31, 'a number out of range', '42601', 'SELECT tagscrm.segment_count($$tag(1e999)$$)'),
	(32, 'a number of 200 digits', '42601', format('SELECT tagscrm.segment_count(%L)', 'tag(' || repeat('9', 200) || ')')),
	(33, 'segment_members of NULL', '22004', 'SELECT tagscrm.segment_members(NULL)'),
	(34, 'define_segment of a NULL expression', '22004', 'SELECT tagscrm.define_segment(''x'', NULL)'),
	(35, 'a name of 10,000 bytes in a term (no such tag)', '42704', format('SELECT tagscrm.segment_count(%L)', 'tag(''' || repeat('x', 9993) || ''')')),
	(36, 'a condition', '00000', 'SELECT tagscrm.segment_count($$tag(''garden'') and sum(order.amount, last 90 days) > 300$$)'),
	(37, 'a condition that is a number', '42804', 'SELECT tagscrm.segment_count($$tag(''garden'') and order_count$$)'),
	(38, 'a condition naming no measure', '42703', 'SELECT tagscrm.segment_count($$total_spent > 1$$)'),
	(39, 'a condition naming an attribute no watched column supplies', '42703', 'SELECT tagscrm.segment_count($$city = ''x''$$)'),
	(40, 'a condition naming no function', '42883', 'SELECT tagscrm.segment_count($$lower(city) = ''x''$$)'),
	(41, 'a number out of range in a condition', '22003', 'SELECT tagscrm.segment_count($$order_count > 1e999$$)'),
	(42, 'a condition nested 255 deep', '00000', format('SELECT tagscrm.segment_count(%L)', 'true = ' || repeat('(', 255) || 'true' || repeat(')', 255))),
	(43, 'a condition nested 256 deep', '54000', format('SELECT tagscrm.segment_count(%L)', 'true = ' || repeat('(', 256) || 'true' || repeat(')', 256))),
	(44, 'define a segment whose condition names an attribute no watched column supplies', '42703', 'SELECT tagscrm.define_segment(''by city'', $$city = ''x''$$)')
) v(n, name, want, q) ORDER BY n;
-- segment_count of NULL is NULL (STRICT), not an error
SELECT 'segment_count of NULL is NULL', 'true', (tagscrm.segment_count(NULL) IS NULL)::text;
