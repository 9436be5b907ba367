#!/usr/bin/perl
# Prints every ereport(ERROR|WARNING ...) call without an errcode; exits 1 if any.
use strict;
my $bad = 0;
for my $file (@ARGV) {
	local $/;
	open my $fh, '<', $file or die "$file: $!";
	my $src = <$fh>;
	while ($src =~ /ereport\s*\((.*?)\)\s*\)\s*;/sg) {
		my $call = $1;
		next unless $call =~ /^\s*(ERROR|WARNING|FATAL)/;
		next if $call =~ /errcode/;
		print "$file: ereport without errcode: ", substr($call, 0, 80), "\n";
		$bad = 1;
	}
}
exit $bad;
