package PromCheck;

# A strict checker of the Prometheus text exposition format (version
# 0.0.4), for the status suites (t/07*-status*.t).  Stricter than Prometheus's own parser on
# purpose: it accepts only what a careful exporter writes.
#
#   my ($errors, $samples, $families) = PromCheck::check($text);
#
# $errors:   list of "line N: what is wrong" (empty: the text is valid)
# $samples:  list of { name, labels => {NAME => VALUE}, value, line }
#            (label values unescaped, value as a Perl number)
# $families: NAME => { type, help, samples => N }, in order in @{$order}
#
# The rules:
#   - the text is UTF-8, not empty, and ends with "\n"; no "\r", no empty
#     line, no comment other than "# HELP" and "# TYPE";
#   - "# HELP NAME TEXT": TEXT not empty, its only escapes "\\" and "\n";
#   - "# TYPE NAME counter|gauge";
#   - each family has exactly one HELP and one TYPE, both before its first
#     sample, and its lines form one group (no family comes back later);
#   - a sample is NAME or NAME{LABELS}, one space, a float, and no
#     timestamp; NAME is the family declared by the last "# TYPE" exactly
#     (a counter's name, and so its family's, ends in "_total");
#   - LABELS: NAME="VALUE" pairs separated by ",", no trailing comma, no
#     spaces; label names [a-zA-Z_][a-zA-Z0-9_]*, not "__"-prefixed, not
#     repeated in a sample; values escape only "\\", "\"" and "\n";
#   - no two samples with the same name and label set;
#   - a counter's value is a finite number >= 0.

use strict;
use warnings;

use Encode ();

my $NAME  = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LNAME = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $FLOAT = qr/[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
                     |Inf|NaN)/x;

sub check {
    my ($text) = @_;
    my (@err, @samples, %fam, @order, %series, %closed);

    my $bytes = $text;
    if (!eval { Encode::decode('UTF-8', $bytes, Encode::FB_CROAK); 1 }) {
        push @err, "line 0: not valid UTF-8";
    }
    push @err, "line 0: empty text" if $text eq '';
    push @err, "line 0: does not end with a newline"
        if $text ne '' && substr($text, -1) ne "\n";

    my @lines = split /\n/, $text, -1;
    pop @lines if @lines && $lines[-1] eq '';     # after the last "\n"

    my $current;     # the family of the last TYPE line

    for my $i (0 .. $#lines) {
        my $n = $i + 1;
        my $l = $lines[$i];

        if ($l =~ /\r/) {
            push @err, "line $n: carriage return";
            next;
        }
        if ($l eq '') {
            push @err, "line $n: empty line";
            next;
        }

        if ($l =~ /^#/) {
            if ($l =~ /^# HELP ($NAME) (.+)\z/) {
                my ($name, $help) = ($1, $2);
                my $f = _family(\%fam, \@order, $name);
                push @err, "line $n: second HELP for $name" if $f->{help_line};
                push @err, "line $n: HELP for $name after its samples"
                    if $f->{samples};
                push @err, "line $n: HELP for $name, whose lines ended"
                    if $closed{$name};
                (my $rest = $help) =~ s/\\[\\n]//g;
                push @err, "line $n: bad escape in HELP text" if $rest =~ /\\/;
                $f->{help} = $help;
                $f->{help_line} = $n;
                _close(\%closed, $current, $name);
                $current = $name if defined $f->{type};
            } elsif ($l =~ /^# TYPE ($NAME) (\S+)\z/) {
                my ($name, $type) = ($1, $2);
                my $f = _family(\%fam, \@order, $name);
                push @err, "line $n: type \"$type\" is not counter or gauge"
                    unless $type eq 'counter' || $type eq 'gauge';
                push @err, "line $n: second TYPE for $name" if $f->{type};
                push @err, "line $n: TYPE for $name after its samples"
                    if $f->{samples};
                push @err, "line $n: TYPE for $name, whose lines ended"
                    if $closed{$name};
                push @err, "line $n: counter $name does not end in _total"
                    if $type eq 'counter' && $name !~ /_total\z/;
                $f->{type} = $type;
                $f->{type_line} = $n;
                _close(\%closed, $current, $name);
                $current = $name;
            } else {
                push @err, "line $n: a comment that is not HELP or TYPE, or "
                           . "a malformed one: $l";
            }
            next;
        }

        my ($name, $labels, $value, $lerr) = _sample($l);
        if (defined $lerr) {
            push @err, "line $n: $lerr: $l";
            next;
        }

        if (!defined $current) {
            push @err, "line $n: sample $name before any TYPE line";
        } elsif ($name ne $current) {
            push @err, "line $n: sample $name under TYPE $current";
        }

        my $f = $fam{$name};
        if (!$f || !defined $f->{type}) {
            push @err, "line $n: sample $name has no TYPE line"
                if defined $current && $name eq $current;
        } else {
            push @err, "line $n: sample $name has no HELP line before it"
                unless $f->{help_line};
            push @err, "line $n: sample $name after its family's lines ended"
                if $closed{$name};
            if ($f->{type} eq 'counter'
                && !($value >= 0 && $value < 9**9**9))
            {
                push @err, "line $n: counter $name has value $value";
            }
            $f->{samples}++;
        }

        my $key = series_key($name, $labels);
        if ($series{$key}) {
            push @err, "line $n: duplicate series $key (line $series{$key})";
        }
        $series{$key} = $n;

        push @samples, { name => $name, labels => $labels, value => $value,
                         line => $n };
    }

    for my $name (@order) {
        my $f = $fam{$name};
        push @err, "family $name: no TYPE line" unless $f->{type};
        push @err, "family $name: no HELP line" unless $f->{help_line};
    }

    return (\@err, \@samples, \%fam, \@order);
}

# a series' identity: NAME{a="x",b="y"} with the labels sorted
sub series_key {
    my ($name, $labels) = @_;
    return $name . '{' . join(',', map {
        my $v = $labels->{$_};
        $v =~ s/([\\"])/\\$1/g;
        $v =~ s/\n/\\n/g;
        "$_=\"$v\"";
    } sort keys %$labels) . '}';
}

sub _family {
    my ($fam, $order, $name) = @_;
    push @$order, $name unless $fam->{$name};
    return $fam->{$name} //= { samples => 0 };
}

# a HELP or TYPE of another family ends the lines of the current one
sub _close {
    my ($closed, $current, $name) = @_;
    $closed->{$current} = 1 if defined $current && $current ne $name;
}

# one sample line: (name, {labels}, value) or (..., error)
sub _sample {
    my ($l) = @_;

    $l =~ /\G($NAME)/gc or return (undef, undef, undef, 'no metric name');
    my $name = $1;
    my %labels;

    if ($l =~ /\G\{/gc) {
        my $first = 1;
        while (1) {
            last if $l =~ /\G\}/gc;
            if (!$first) {
                $l =~ /\G,/gc
                    or return ($name, undef, undef, 'expected "," or "}"');
                return ($name, undef, undef, 'trailing comma in labels')
                    if $l =~ /\G\}/gc;
            }
            $first = 0;
            $l =~ /\G($LNAME)/gc
                or return ($name, undef, undef, 'bad label name');
            my $ln = $1;
            return ($name, undef, undef, "reserved label name $ln")
                if $ln =~ /^__/;
            $l =~ /\G="/gc
                or return ($name, undef, undef, "no =\"...\" after $ln");
            my $v = '';
            while (1) {
                if ($l =~ /\G([^"\\]+)/gc) {
                    $v .= $1;
                } elsif ($l =~ /\G\\(.)/gc) {
                    my $c = $1;
                    if ($c eq 'n') { $v .= "\n" }
                    elsif ($c eq '\\' || $c eq '"') { $v .= $c }
                    else {
                        return ($name, undef, undef,
                                "bad escape \\$c in label $ln");
                    }
                } elsif ($l =~ /\G"/gc) {
                    last;
                } else {
                    return ($name, undef, undef,
                            "unterminated value of label $ln");
                }
            }
            return ($name, undef, undef, "label $ln repeated")
                if exists $labels{$ln};
            $labels{$ln} = $v;
        }
    }

    $l =~ /\G ($FLOAT)/gc
        or return ($name, undef, undef, 'expected one space and a float');
    my $raw = $1;
    return ($name, undef, undef, 'text after the value')
        unless $l =~ /\G\z/gc;

    my $inf = 9**9**9;
    my $value = $raw =~ /Inf/ ? ($raw =~ /^-/ ? -$inf : $inf)
              : $raw =~ /NaN/ ? $inf - $inf
              : 0 + $raw;

    return ($name, \%labels, $value, undef);
}

1;
