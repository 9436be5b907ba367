#!/usr/bin/perl
# flow.pl: the SQL parts call each other only downstream.
#
# The install order (SQL_PARTS in the Makefile) is the data flow, each part
# in a stage below.  Inside the stages, a function that acts (VOLATILE) is
# called only from its own stage or an earlier one, never from a later one:
# facts do not call triggers, models do not call facts, and so on.  Reads
# (STABLE and IMMUTABLE functions) may be called from anywhere downstream,
# since data flows down.  Entry points (the commands users call, SECURITY
# DEFINER, and the trigger functions) may call any stage; the jobs sit on top,
# and nothing but another job calls them.  Also: each table is created once
# and altered only in the part that creates it.  Prints each violation;
# exits 1 if there is any.
use strict;
use warnings;

my %stage = (
	'src/tagscrm.sql' => 0, 'src/library.sql' => 0,   # the foundation: anyone calls it
	'src/watch.sql' => 1,
	'src/triggers.sql' => 2, 'src/pending.sql' => 2,
	'src/maintain.sql' => 3,
	'src/facts.sql' => 4,
	'src/rfm.sql' => 5, 'src/churn.sql' => 5, 'src/churn_validate.sql' => 5, 'src/settings.sql' => 5, 'src/churn_predict.sql' => 5, 'src/models.sql' => 5,
	'src/rule.sql' => 6, 'src/rule_values.sql' => 6, 'src/tag_rules.sql' => 6,
	'src/tags.sql' => 7, 'src/segments.sql' => 7, 'src/history.sql' => 7, 'src/housekeeping.sql' => 7, 'src/campaigns.sql' => 7,
	'src/views.sql' => 8,
	'src/jobs.sql' => 9, 'src/permissions.sql' => 9,
);
my $jobs = 9;

open(my $mk, '<', 'Makefile') or die "Makefile: $!";
my $make = do { local $/; <$mk> };
$make =~ s/\\\n/ /g;
my ($parts) = $make =~ /^SQL_PARTS\s*=\s*(.*)$/m or die "no SQL_PARTS in the Makefile\n";
my @files = split ' ', $parts;

my (%def, @funcs, %table, $bad);
for my $file (@files) {
	unless (exists $stage{$file}) { print "$file: not assigned a stage in test/lint/flow.pl\n"; $bad++; next; }
	open(my $fh, '<', $file) or die "$file: $!";
	my $text = do { local $/; <$fh> };
	while ($text =~ /^CREATE TABLE \@extschema\@\.(\w+)/mg) {
		if ($table{$1}) { print "$file: table $1 is created again (first in $table{$1})\n"; $bad++; }
		$table{$1} //= $file;
	}
	while ($text =~ /^ALTER TABLE \@extschema\@\.(\w+)/mg) {
		next if ($table{$1} // '') eq $file;
		print "$file: alters table $1 of " . ($table{$1} // 'a later part') . "\n"; $bad++;
	}
	# each function: from its CREATE to the next top-level CREATE or COMMENT
	while ($text =~ /^CREATE FUNCTION \@extschema\@\.(\w+)\s*\((.*?)(?=^CREATE |^COMMENT ON |\z)/msg) {
		my ($name, $rest) = ($1, $2);
		my $volatile = $rest =~ /\b(IMMUTABLE|STABLE)\b/ ? 0 : 1;
		my $entry = $rest =~ /\bSECURITY DEFINER\b|RETURNS (event_)?trigger\b/ ? 1 : 0;
		push @funcs, { name => $name, file => $file, body => $rest, entry => $entry };
		# overloads share a name; they live in one file
		$def{$name} = { file => $file, volatile => $volatile };
	}
}

for my $f (@funcs) {
	my $from = $stage{$f->{file}};
	my %seen;
	while ($f->{body} =~ /\@extschema\@\.(\w+)\s*\(/g) {
		my $callee = $1;
		next if $callee eq $f->{name} || $seen{$callee}++ || !$def{$callee};
		my $to = $stage{$def{$callee}{file}};
		my $why;
		if ($to == $jobs && $from != $jobs) {
			$why = 'calls a job';
		} elsif (!$f->{entry} && $from != $jobs && $to != 0 && $to < $from && $def{$callee}{volatile}) {
			$why = 'calls an action of an earlier stage';
		}
		next unless $why;
		print "$f->{file}: $f->{name}() $why: $callee() of $def{$callee}{file}\n";
		$bad++;
	}
}
exit($bad ? 1 : 0);
