package SpiffeStatus;

# Reading and checking the spiffe_status page, for t/07*-status*.t: HTTP
# requests to the nginx under test, the JSON page's schema (the README's
# table of fields) with JSON types, the counters as a flat list and their
# deltas, and the JSON page against the Prometheus one.

use strict;
use warnings;

use B ();
use Carp qw(croak);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time);
use PromCheck;

use Exporter 'import';
our @EXPORT_OK = qw(request status_json counters delta_text check_schema
                    prom_expected compare_series);

our $TIMEOUT = 10;

# request(METHOD, PATH, [Header => value, ...]): one HTTP/1.0 request to
# 127.0.0.1:$TEST_NGINX_SERVER_PORT; { status, headers => {lc name =>
# [values]}, body, error }, error set when the answer is not well formed
sub request {
    my ($method, $path, @headers) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $res = { status => 0, headers => {}, body => '' };

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10);
    if (!$s) {
        $res->{error} = "connect: $@";
        return $res;
    }

    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    while (my ($k, $v) = splice @headers, 0, 2) {
        $req .= "$k: $v\r\n";
    }
    print {$s} "$req\r\n";

    # read to the end, for $TIMEOUT s at most (3 times that under valgrind)
    my $raw = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + $TIMEOUT * ($ENV{TEST_NGINX_USE_VALGRIND} ? 3 : 1);
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) {
            $res->{error} = 'timeout reading the answer';
            last;
        }
        my $n = sysread($s, $raw, 65536, length $raw);
        last unless $n;
    }
    close $s;

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my @lines = split /\r\n/, $head // '';
    my $first = shift @lines // '';
    if ($first !~ m{^HTTP/1\.[01] (\d{3}) }) {
        $res->{error} = $res->{error} || "no status line: $first";
        return $res;
    }
    $res->{status} = $1;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)\z/ or next;
        push @{ $res->{headers}{lc $k} }, $v;
    }
    $res->{body} = $body // '';

    my $cl = $res->{headers}{'content-length'};
    if ($cl && $method ne 'HEAD' && !$res->{error}
        && $cl->[0] != length $res->{body})
    {
        $res->{error} = "Content-Length $cl->[0], body of "
                        . length($res->{body}) . " bytes";
    }

    return $res;
}

# GET the JSON page: (decoded object, response); dies on an answer that is
# not a 200 with a JSON object
sub status_json {
    my ($path) = @_;
    my $res = request('GET', $path);
    croak "GET $path: $res->{error}" if $res->{error};
    croak "GET $path: status $res->{status}: $res->{body}"
        unless $res->{status} == 200;
    my $json = eval { JSON::PP->new->utf8->decode($res->{body}) };
    croak "GET $path: not JSON ($@): $res->{body}" unless defined $json;
    croak "GET $path: not a JSON object" unless ref $json eq 'HASH';
    return ($json, $res);
}

# the counters of a page as { "handshakes.client.verified" => N, ... }
sub counters {
    my ($json) = @_;
    my %c;
    my $walk;
    $walk = sub {
        my ($prefix, $v) = @_;
        if (ref $v eq 'HASH') {
            $walk->("$prefix.$_", $v->{$_}) for keys %$v;
        } else {
            $c{$prefix} = $v;
        }
    };
    $walk->($_, $json->{$_}) for grep { exists $json->{$_} }
                                 qw(handshakes access jwt source);
    return \%c;
}

# "name +N" for each counter that moved, sorted; "(none)" when none did
sub delta_text {
    my ($before, $after) = @_;
    my @out;
    my %keys = map { $_ => 1 } keys %$before, keys %$after;
    for my $k (sort keys %keys) {
        if (!exists $before->{$k} || !exists $after->{$k}) {
            push @out, "$k " . (exists $after->{$k} ? 'appeared' : 'gone');
            next;
        }
        my $d = $after->{$k} - $before->{$k};
        push @out, sprintf("%s %s%d", $k, $d < 0 ? '' : '+', $d) if $d;
    }
    return @out ? join('', map { "$_\n" } @out) : "(none)\n";
}

# ---- the schema -------------------------------------------------------

# Leaf types: uint, int (JSON integers), str (JSON string), hex (a string
# of lowercase hex digits), state (one of the documented states).  A "?"
# before a key's type makes the key optional.  { ... } is an object with
# exactly these keys, [LIST, ELEM] an array of ELEM, [MAP, ELEM] an object
# with any keys whose values are ELEM, [NULLABLE, ELEM] null or ELEM.

my %REFUSED = map { $_ => 'uint' }
    qw(bad_id leaf_rules no_bundle expired not_yet_valid revoked
       not_allowed chain no_certificate);

our $SCHEMA = {
    pid     => 'uint',
    workers => ['LIST', {
        worker => 'uint',
        pid    => 'uint',
        svid   => ['NULLABLE', {
            id           => 'str',
            serial       => 'hex',
            hint         => 'str',
            not_after    => 'uint',
            seconds_left => 'int',
            updated      => 'uint',
        }],
        source => {
            state        => 'state',
            version      => 'uint',
            last_message => 'uint',
            last_error   => 'str',
            failures     => 'uint',
        },
    }],
    svids   => ['MAP', ['NULLABLE', {
        id        => 'str',
        serial    => 'hex',
        hint      => 'str',
        not_after => 'uint',
    }]],
    bundles => ['MAP', {
        x509_authorities => '?uint',
        jwt_keys         => '?uint',
        spiffe_sequence  => '?uint',
        updated          => '?uint',
        source           => 'str',
    }],
    handshakes => {
        client   => { verified => 'uint', refused => {%REFUSED} },
        upstream => { verified => 'uint', refused => {%REFUSED} },
        resumed  => 'uint',
    },
    access => { map { $_ => 'uint' } qw(allowed denied no_verified_id
                                        dry_run_denied) },
    jwt    => { map { $_ => 'uint' } qw(valid invalid missing allowed
                                        denied dry_run_denied) },
    source => { map { $_ => 'uint' } qw(svid_updates messages_discarded
                                        failures) },
};

our %STATES = map { $_ => 1 } qw(connecting connected backoff error);

# the problems of a freshly decoded page against the schema (call it
# before anything else reads the values: Perl caches a number's string
# form, and a JSON number would then look like a string too)
sub check_schema {
    my ($json, $schema) = @_;
    my @err;
    _check(\@err, '$', $json, $schema // $SCHEMA);
    return @err;
}

sub _is_number {
    my $f = B::svref_2object(\$_[0])->FLAGS;
    return ($f & (B::SVp_IOK | B::SVp_NOK)) && !($f & B::SVp_POK);
}

sub _is_string {
    my $f = B::svref_2object(\$_[0])->FLAGS;
    return defined $_[0] && !ref $_[0] && ($f & B::SVp_POK)
           && !($f & (B::SVp_IOK | B::SVp_NOK));
}

sub _check {
    my ($err, $at, $v, $t) = @_;

    if (ref $t eq 'HASH') {
        if (ref $v ne 'HASH') {
            push @$err, "$at: not an object";
            return;
        }
        for my $k (sort keys %$t) {
            my $kt = $t->{$k};
            my $opt = !ref $kt && $kt =~ s/^\?//;
            if (!exists $v->{$k}) {
                push @$err, "$at.$k: missing" unless $opt;
                next;
            }
            _check($err, "$at.$k", $v->{$k}, $kt);
        }
        for my $k (sort keys %$v) {
            push @$err, "$at.$k: not documented" unless exists $t->{$k};
        }
        return;
    }

    if (ref $t eq 'ARRAY') {
        my ($kind, $elem) = @$t;
        if ($kind eq 'NULLABLE') {
            _check($err, $at, $v, $elem) if defined $v;
        } elsif ($kind eq 'LIST') {
            if (ref $v ne 'ARRAY') {
                push @$err, "$at: not an array";
                return;
            }
            _check($err, "$at\[$_]", $v->[$_], $elem) for 0 .. $#$v;
        } elsif ($kind eq 'MAP') {
            if (ref $v ne 'HASH') {
                push @$err, "$at: not an object";
                return;
            }
            _check($err, "$at\{$_}", $v->{$_}, $elem) for sort keys %$v;
        }
        return;
    }

    if ($t eq 'uint' || $t eq 'int') {
        if (!defined $v || ref $v || !_is_number($v)) {
            push @$err, "$at: not a JSON number";
        } elsif ($v != int $v || ($t eq 'uint' && $v < 0)) {
            push @$err, "$at: $v is not " . ($t eq 'uint' ? 'an unsigned '
                                                          : 'an ')
                        . 'integer';
        }
    } elsif ($t eq 'str' || $t eq 'hex' || $t eq 'state') {
        if (!_is_string($v)) {
            push @$err, "$at: not a JSON string";
        } elsif ($t eq 'hex' && $v !~ /\A[0-9a-f]+\z/) {
            push @$err, "$at: \"$v\" is not lowercase hex";
        } elsif ($t eq 'state' && !$STATES{$v}) {
            push @$err, "$at: \"$v\" is not a documented state";
        }
    } else {
        croak "schema: unknown type $t";
    }
}

# ---- JSON against Prometheus ------------------------------------------

# The documented families and their types
our %FAMILIES = (
    spiffe_handshakes_total                 => 'counter',
    spiffe_sessions_resumed_total           => 'counter',
    spiffe_access_decisions_total           => 'counter',
    spiffe_jwt_validations_total            => 'counter',
    spiffe_svid_updates_total               => 'counter',
    spiffe_messages_discarded_total         => 'counter',
    spiffe_source_failures_total            => 'counter',
    spiffe_svid_expiry_timestamp_seconds    => 'gauge',
    spiffe_svid_updated_timestamp_seconds   => 'gauge',
    spiffe_source_up                        => 'gauge',
    spiffe_bundle_x509_authorities          => 'gauge',
    spiffe_bundle_updated_timestamp_seconds => 'gauge',
);

# { series key => value } that the Prometheus page must hold for a JSON
# page, by the README's table of metrics
sub prom_expected {
    my ($j) = @_;
    my %e;
    my $add = sub {
        my ($name, $labels, $v) = @_;
        $e{ PromCheck::series_key($name, $labels) } = $v;
    };

    for my $side (qw(client upstream)) {
        my $h = $j->{handshakes}{$side};
        $add->('spiffe_handshakes_total',
               { side => $side, result => 'verified' }, $h->{verified});
        for my $r (sort keys %{ $h->{refused} }) {
            $add->('spiffe_handshakes_total',
                   { side => $side, result => 'refused', reason => $r },
                   $h->{refused}{$r});
        }
    }
    $add->('spiffe_sessions_resumed_total', {}, $j->{handshakes}{resumed});
    for my $d (qw(allowed denied no_verified_id dry_run_denied)) {
        $add->('spiffe_access_decisions_total',
               { kind => 'x509', decision => $d }, $j->{access}{$d});
    }
    for my $d (qw(allowed denied dry_run_denied)) {
        $add->('spiffe_access_decisions_total',
               { kind => 'jwt', decision => $d }, $j->{jwt}{$d});
    }
    for my $r (qw(valid invalid missing)) {
        $add->('spiffe_jwt_validations_total', { result => $r },
               $j->{jwt}{$r});
    }
    $add->('spiffe_svid_updates_total', {}, $j->{source}{svid_updates});
    $add->('spiffe_messages_discarded_total', {},
           $j->{source}{messages_discarded});
    $add->('spiffe_source_failures_total', {}, $j->{source}{failures});

    for my $w (@{ $j->{workers} }) {
        if ($w->{svid}) {
            $add->('spiffe_svid_expiry_timestamp_seconds',
                   { worker => $w->{worker}, pid => $w->{pid},
                     spiffe_id => $w->{svid}{id},
                     serial => $w->{svid}{serial} },
                   $w->{svid}{not_after});
            $add->('spiffe_svid_updated_timestamp_seconds',
                   { worker => $w->{worker}, pid => $w->{pid},
                     spiffe_id => $w->{svid}{id} },
                   $w->{svid}{updated});
        }
        $add->('spiffe_source_up',
               { worker => $w->{worker}, pid => $w->{pid},
                 state => $w->{source}{state} },
               $w->{source}{state} eq 'connected' ? 1 : 0);
    }

    for my $td (sort keys %{ $j->{bundles} }) {
        my $n = $j->{bundles}{$td}{x509_authorities};
        $add->('spiffe_bundle_x509_authorities', { trust_domain => $td }, $n)
            if defined $n;
        my $u = $j->{bundles}{$td}{updated};
        $add->('spiffe_bundle_updated_timestamp_seconds',
               { trust_domain => $td }, $u)
            if defined $u;
    }

    return \%e;
}

# the differences between expected series and the samples of a page
sub compare_series {
    my ($expected, $samples) = @_;
    my (%got, @diff);
    $got{ PromCheck::series_key($_->{name}, $_->{labels}) } = $_->{value}
        for @$samples;
    for my $k (sort keys %$expected) {
        if (!exists $got{$k}) {
            push @diff, "missing in prometheus: $k $expected->{$k}";
        } elsif ($got{$k} != $expected->{$k}) {
            push @diff, "$k: prometheus $got{$k}, json $expected->{$k}";
        }
    }
    for my $k (sort keys %got) {
        push @diff, "not in json: $k $got{$k}" unless exists $expected->{$k};
    }
    return @diff;
}

1;
