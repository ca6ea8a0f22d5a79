package main;

# The fixture of the status suites (t/070-status.t: the pages,
# t/072-status-counters.t: the counters, t/073-status-workers.t: each
# worker's source): one agent and its peers, the outer upstreams and
# locations, reading and checking the pages, the plans of requests, and
# the suite-wide settings (master_on, workers(1), no
# SPIFFE_ENDPOINT_SOCKET).  It is code of package main, as
# the suites' blocks name its variables ($::NW, $::SELF, $::ERRORS) and
# functions (main::errors_re).  A suite says, after "use SpiffeTest":
#
#     use SpiffeStatusSuite;
#
# and then its own probe actions (start_probe) and blocks.
#
# nginx is both sides, as in t/020-mtls-verify.t: the TLS server under test
# is in --- http_config, on unix:$TEST_NGINX_SERVROOT/logs/tls.sock, with
# "add_header X-Inner-Pid $pid always" so that the worker that verified a
# client is known; the block's --- config names outer_config(): SpiffeMTLS's
# locations /fresh/PEER/ (a full handshake presenting PEER's certificate),
# /as/PEER/ (sessions reused), /nocert/, /ctl/ (the agent) and /probe/
# (actions of the suite), and /fresh-nocert/ (no certificate, no session
# reused); its --- http_config names outer_http(), their upstreams.
#
# $::NW is the number of workers: 2, or 1 under valgrind (the runner runs
# nginx without a master there); blocks that reload nginx, or need 32
# workers, are skipped then.

use strict;
use warnings;

use SpiffeAgent;
use SpiffeMTLS qw(add_peer outer_locations outer_upstreams agent_cmd);
use SpiffeStatus qw(request status_json counters compare_series
                    prom_expected);
use PromCheck;

use MIME::Base64 qw(decode_base64);
use Time::HiRes qw(sleep time);
use Time::Piece ();

delete $ENV{SPIFFE_ENDPOINT_SOCKET};

our $SELF = 'spiffe://mesh.test/ns/edge/sa/nginx';
our $HINT = 'edge';
our $TTL = 3600;
our $VALGRIND = $ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0;
our $NW = $VALGRIND ? 1 : 2;
our $SLOW = $VALGRIND ? 10 : 1;
our $PIDFILE = "$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid";

# ---- the agent and the peers ---------------------------------------------

my $certs = SpiffeAgent::certs();
our $AGENT = SpiffeAgent->start(spiffe_id => "$SELF,hint=$HINT", ttl => $TTL);
my $agent = $AGENT;
our $STATE = $agent->state_dir;

# a hint of 100 "é" (200 bytes of UTF-8), for the block that serves an SVID
# chosen by spiffe_svid_hint
our $LONG_HINT = "\xc3\xa9" x 100;
our $HINTED = 'spiffe://mesh.test/ns/edge/sa/hinted';

# a SPIFFE ID of 2048 bytes, the longest there is, in the agent's domain
our $LONG_ID = do {
    my $id = 'spiffe://mesh.test';
    $id .= sprintf '/seg%04d', length $id while length $id < 2040;
    $id . '/' . ('x' x (2047 - length $id));
};
die "LONG_ID is not 2048 bytes" unless length $LONG_ID == 2048;

$agent->control_ok("federate example.org $certs/ca-a.pem");

# a peer of the agent's own trust domain, and one whose serial is revoked
$agent->control_ok('mint spiffe://mesh.test/ns/prod/sa/web mesh-web');
my %revoked = $agent->control_ok('mint spiffe://mesh.test/ns/prod/sa/gone '
                                 . 'mesh-revoked');
$agent->control_ok('crl on');
$agent->control_ok("revoke $revoked{serial}");
add_peer($_, "$STATE/$_.pem", "$STATE/$_.key") for qw(mesh-web mesh-revoked);

# every hostile peer of t/cert/mkcerts.py, and the label of its refusal
# (only example.org is federated: other.org's cross-domain has no bundle)
our %LABEL = (
    'no-uri'        => 'bad_id',
    'two-uri'       => 'bad_id',
    'wrong-scheme'  => 'bad_id',
    'upper-td'      => 'bad_id',
    'dot-segment'   => 'bad_id',
    'percent'       => 'bad_id',
    'root-path'     => 'bad_id',
    'long-id'       => 'bad_id',
    'web'           => 'bad_id',
    'ca-leaf'       => 'leaf_rules',
    'keycertsign'   => 'leaf_rules',
    'crlsign'       => 'leaf_rules',
    'no-digsig'     => 'leaf_rules',
    'expired'       => 'expired',
    'not-yet-valid' => 'not_yet_valid',
    'self-signed'   => 'chain',
    'via-notca'     => 'chain',
    'unknown-td'    => 'no_bundle',
    'cross-domain'  => 'no_bundle',
    'mesh-revoked'  => 'revoked',
);

add_peer($_, "$certs/$_.pem", "$certs/$_.key")
    for 'good', 'good-int', grep { !/^mesh-/ } sort keys %LABEL;

# ---- reading the pages -----------------------------------------------------

sub page { return (status_json('/status'))[0] }

# polls the JSON page until $cond->($page) holds: ($page, held).  The page
# returned is read once more after that: a page is no snapshot, its
# counters may have been read before the slots of the workers, and a
# worker counts before it writes its slot, so the page after the one that
# shows a worker's new state has its counts too.
sub wait_page {
    my ($cond, $timeout) = @_;
    my $deadline = time + $timeout * $SLOW;
    while (1) {
        my $j = page();
        return (page(), 1) if $cond->($j);
        return ($j, 0) if time > $deadline;
        sleep 0.05;
    }
}

sub all_state {
    my ($j, $state, $n) = @_;
    my @w = @{ $j->{workers} };
    return @w == ($n // $NW) && !grep { $_->{source}{state} ne $state } @w;
}

sub states {
    my ($j) = @_;
    return join(' ', map { $_->{source}{state} } @{ $j->{workers} })
           || 'no workers';
}

sub lines { return join '', map { "$_\n" } @_ }

sub master_pid {
    open my $fh, '<', $PIDFILE or return 0;
    my $pid = <$fh> // '';
    chomp $pid;
    return $pid;
}

sub ppid_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    return $stat =~ /\) \S (\d+)/ ? $1 : 0;
}

# the agent's default SVID now: serial (as the agent prints it), notAfter
sub agent_svid {
    my ($serial) = agent_cmd('status') =~ /\bserial=(\w+)/;
    my $out = `openssl x509 -noout -enddate -dateopt iso_8601 -in '$STATE/svid.pem'`;
    my ($end) = $out =~ /notAfter=(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)/
        or die "no notAfter in $STATE/svid.pem: $out";
    return { serial => $serial // '?',
             not_after => Time::Piece->strptime($end, '%Y-%m-%d %H:%M:%SZ')
                                     ->epoch };
}

# one line for a worker's SVID; what matches the agent is said so
sub svid_text {
    my ($w, $agent) = @_;
    my $s = $w->{svid} or return 'svid null';
    my $left = $s->{not_after} - time;
    my $left_ok = abs($s->{seconds_left} - $left) <= 2
                  && $s->{seconds_left} > 0 && $s->{seconds_left} <= $TTL;
    return "svid $s->{id} serial="
           . ($s->{serial} eq $agent->{serial} ? 'agent' : $s->{serial})
           . " hint=$s->{hint} not_after="
           . ($s->{not_after} == $agent->{not_after} ? 'agent'
                                                     : $s->{not_after})
           . ' seconds_left=' . ($left_ok ? 'ok' : $s->{seconds_left});
}

sub source_text {
    my ($w) = @_;
    my $s = $w->{source};
    my $now = time;
    my $recent = $s->{last_message} >= $now - 60
                 && $s->{last_message} <= $now + 1;
    return "source $s->{state} version=$s->{version} last_message="
           . ($recent ? 'recent' : $s->{last_message})
           . " last_error=\"$s->{last_error}\" failures=$s->{failures}";
}

# who the workers are: numbers, distinct pids, processes of this nginx
sub workers_lines {
    my ($j) = @_;
    my @w = @{ $j->{workers} };
    my $master = master_pid();
    my %pids = map { $_->{pid} => 1 } @w;
    my @out = ('workers: ' . (@w ? join(',', map { $_->{worker} } @w)
                                 : 'none'));
    push @out, 'worker pids: ' . (keys %pids == @w ? 'distinct' : 'repeated');
    for my $w (@w) {
        my $pid = $w->{pid};
        my $of = $pid == $master              ? 'nginx'
               : ppid_of($pid) == $master     ? 'nginx'
               :                                "$pid, not nginx's";
        push @out, "worker $w->{worker} pid: $of";
    }
    my $by = $j->{pid};
    push @out, 'answered by: '
               . ($pids{$by}                                  ? 'a worker'
                  : $by == $master || ppid_of($by) == $master ? 'nginx, unlisted'
                  :                                             "pid $by");
    return @out;
}

# the times ("updated") are t/071-ready.t's
sub bundles_text {
    my ($j) = @_;
    my $b = $j->{bundles};
    return join(' ', map {
        my $td = $_;
        "$td\{" . join(',', map { "$_=$b->{$td}{$_}" } grep { $_ ne 'updated' }
                            sort keys %{ $b->{$td} }) . '}';
    } sort keys %$b) || 'none';
}

sub nonzero {
    my ($j) = @_;
    my $c = counters($j);
    return join(' ', map { "$_=$c->{$_}" } grep { $c->{$_} }
                     sort keys %$c) || 'all zero';
}

# the key material of the SVID: its PEM lines and its DER in hex
sub secrets_in {
    my ($body) = @_;
    my @found;
    push @found, 'PRIVATE KEY' if $body =~ /PRIVATE KEY/;
    push @found, '-----BEGIN' if $body =~ /-----BEGIN/;
    for my $file ("$STATE/svid_key.pem") {
        open my $fh, '<', $file or die "$file: $!";
        my @b64 = grep { !/^-----/ && length >= 16 } map { s/\s+\z//r } <$fh>;
        for my $l (@b64) {
            push @found, "a line of $file" if index($body, $l) >= 0;
        }
        my $hex = unpack 'H*', decode_base64(join '', @b64);
        for (my $i = 0; $i + 32 <= length $hex; $i += 2) {
            my $w = substr $hex, $i, 32;
            if (index(lc $body, $w) >= 0) {
                push @found, "16 bytes of $file";
                last;
            }
        }
    }
    return 'secrets: ' . (join(', ', @found) || 'none');
}

# ---- the Prometheus page -------------------------------------------------

# the Prometheus page, checked, and against the JSON page
sub prom_lines {
    my $res = request('GET', '/metrics');
    my @out = ("metrics: status $res->{status}"
               . ($res->{error} ? " ($res->{error})" : ''));
    push @out, 'metrics content-type: '
               . join(', ', @{ $res->{headers}{'content-type'} || [] });

    my ($err, $samples, $fam, $order) = PromCheck::check($res->{body});
    push @out, @$err ? map { "format: $_" } @$err : 'format: ok';

    my @fam;
    for my $name (@$order) {
        my $want = $SpiffeStatus::FAMILIES{$name};
        push @fam, "$name is not documented" unless $want;
        push @fam, "$name is a $fam->{$name}{type}, not a $want"
            if $want && ($fam->{$name}{type} // '') ne $want;
    }
    for my $name (sort keys %SpiffeStatus::FAMILIES) {
        push @fam, "$name is missing" unless $fam->{$name};
    }
    push @out, @fam ? map { "families: $_" } @fam
                    : 'families: as documented';
    push @out, 'metrics ' . secrets_in($res->{body});

    my $j = page();
    my @diff = compare_series(prom_expected($j), $samples);
    push @out, @diff ? map { "vs json: $_" } @diff : 'metrics: same as json';
    return @out;
}

# its lines on the format and the values only
sub prom_brief {
    return grep { /^(?:format|families|vs json): |^metrics: same as json/ }
           prom_lines();
}

# ---- plans of requests ---------------------------------------------------

# %PLAN, filled by the suite: NAME => [[path, count, expected status,
# extra header lines (a code ref, called per request), body wanted], ...]
our %PLAN;

# run a plan: lines "PATH: STATUS xN" (STATUS "BODY" xN with a true 5th
# element), and the pids that served inside
sub run_plan {
    my ($plan) = @_;
    my (@out, %inner);
    for my $step (@{ $PLAN{$plan} or die "no plan $plan" }) {
        my ($path, $n, $want, $headers, $body) = @$step;
        my %got;
        for (1 .. $n) {
            my $res = request('GET', $path,
                              $headers ? $headers->('spiffe://mesh.test')
                                       : ());
            my $st = $res->{status} . ($res->{error} ? " ($res->{error})"
                                                     : '');
            $st .= ' "' . ($res->{body} =~ s/\n\z//r) . '"' if $body;
            $got{$st}++;
            $inner{$_}++ for @{ $res->{headers}{'x-inner-pid'} || [] };
        }
        push @out, "$path: " . join(', ', map { "$_ x$got{$_}" }
                                         sort keys %got);
    }
    return (\@out, \%inner);
}

# a probe killed by a write to a request that nginx gave up on would fail
# every block after it
$SIG{PIPE} = 'IGNORE';

# ---- the blocks ------------------------------------------------------------

master_on();
workers(1);

# the level of nginx's line about a refused upstream handshake
use SpiffeUpstream ();

# the [error] lines of a block that expects some, with their text only: such
# a block lists every line of level warn and above with
# --- grep_error_log eval: $::ERRORS; the others say --- no_error_log
# [error] and [crit]
our $ERRORS = qr/\[(?:warn|error|alert|crit|emerg)\] \d+#\d+: (?:\*\d+ )?.*?(?= while |, client: |, context: |$)/;

# what $ERRORS must find, in order: "[level] text" lines ("*": any text)
sub errors_re {
    my $re = '';
    for my $line (@_) {
        my ($level, $text) = $line =~ /^\[(\w+)\] (.*)\z/
            or die "bad error line: $line";
        $text = quotemeta $text;
        $text =~ s/\\\*/.*/g;
        $re .= "\\[$level\\] \\d+#\\d+: (?:\\*\\d+ )?$text\\n";
    }
    return qr/\A$re\z/;
}

# The outer side of every block that starts nginx, which it names in its
# sections: --- http_config eval: main::outer_http() (after its TLS server
# under test), --- config eval: main::outer_config() (after its own
# locations).  SpiffeMTLS's upstreams and locations (/fresh/PEER/, /as/PEER/,
# /nocert/, /ctl/, /probe/: the probe must have started), and /fresh-nocert/:
# no certificate, and no session to resume either.
sub outer_http {
    return outer_upstreams() . <<'EOC';
    upstream tls_fresh_nocert {
        server unix:$TEST_NGINX_SERVROOT/logs/tls.sock;
    }
EOC
}

sub outer_config {
    return outer_locations() . <<'EOC';
    location /fresh-nocert/ {
        proxy_pass https://tls_fresh_nocert/;
        proxy_ssl_protocols TLSv1.2 TLSv1.3;
        proxy_ssl_session_reuse off;
    }
EOC
}

1;
