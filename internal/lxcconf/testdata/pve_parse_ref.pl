#!/usr/bin/perl
# Reference reader for the differential test of package lxcconf.
#
# It follows the line rules of parse_pct_config (pve-container,
# PVE::LXC::Config) with Perl's own regular expressions, so the Go parser can
# be compared with the Perl semantics it reimplements. It needs only core
# modules. Input: one config per line, hex encoded. Output per config: "S
# <name>" per section in file order, then "K <key> <value>" (sorted keys),
# "L <key> <value>" (raw LXC lines in order) and "D <description>", all hex
# encoded (the description as UTF-8), and "E" after the last section.
use strict;
use warnings;
use Encode;

sub decode_text {
    my ($data) = @_;
    $data =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/eg;
    my $text = Encode::decode('utf8', $data);
    # A Go string cannot carry surrogates or code points past U+10FFFF.
    return join('', map {
        my $o = ord($_);
        (($o >= 0xD800 && $o <= 0xDFFF) || $o > 0x10FFFF) ? "\x{FFFD}" : $_
    } split(//, $text));
}

sub hx { return unpack('H*', $_[0]); }

while (my $in = <STDIN>) {
    chomp $in;
    my $raw = pack('H*', $in);
    my @sections;
    my $conf = { name => '', keys => {}, lxc => [] };
    push @sections, $conf;
    my $descr = '';
    my $section = '';
    my $finish = sub { $conf->{keys}->{description} = $descr if $descr; $descr = ''; };
    foreach my $line (split(/\n/, $raw)) {
        next if $line =~ m/^\s*$/;
        if ($line =~ m/^\[pve:pending\]\s*$/i) {
            $finish->();
            $section = 'pending';
            $conf = { name => 'pve:pending', keys => {}, lxc => [] };
            push @sections, $conf;
            next;
        } elsif ($line =~ m/^\[([a-z][a-z0-9_\-]+)\]\s*$/i) {
            $finish->();
            $section = $1;
            $conf = { name => $1, keys => {}, lxc => [] };
            push @sections, $conf;
            next;
        }
        if ($line =~ m/^\#(.*)$/) {
            $descr .= decode_text($1) . "\n";
            next;
        }
        if ($line =~ m/^(lxc\.[a-z0-9_\-\.]+)(:|\s*=)\s*(.*?)\s*$/) {
            push @{ $conf->{lxc} }, [$1, $3];
        } elsif ($line =~ m/^(description):\s*(.*\S)\s*$/) {
            $descr .= decode_text($2);
        } elsif ($line =~ m/snapstate:\s*(prepare|delete)\s*$/) {
            $conf->{keys}->{snapstate} = $1;
        } elsif ($line =~ m/^delete:\s*(.*\S)\s*$/) {
            $conf->{keys}->{delete} = $1 if $section eq 'pending';
        } elsif ($line =~ m/^([a-z][a-z_]*\d*):\s*(.+?)\s*$/) {
            $conf->{keys}->{$1} = $2;
        }
    }
    $finish->();
    foreach my $s (@sections) {
        print 'S ', hx($s->{name}), "\n";
        foreach my $k (sort keys %{ $s->{keys} }) {
            my $v = $s->{keys}->{$k};
            if ($k eq 'description') {
                print 'D ', hx(Encode::encode('utf8', $v)), "\n";
            } else {
                print 'K ', hx($k), ' ', hx($v), "\n";
            }
        }
        foreach my $kv (@{ $s->{lxc} }) {
            print 'L ', hx($kv->[0]), ' ', hx($kv->[1]), "\n";
        }
    }
    print "E\n";
}
