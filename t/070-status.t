# spiffe_status (issue 8): the JSON page (every documented field, with its
# JSON type, and values that match the agent's SVID), the Prometheus page
# (a strict format check, t/lib/PromCheck.pm, and the same values as the
# JSON page), counters summed over all workers, each worker's source state
# through agent faults, rotations and reloads, and the directive's errors.
#
# nginx is both sides, as in t/020-mtls-verify.t: the TLS server under test
# is in --- http_config, on unix:$TEST_NGINX_SERVROOT/logs/tls.sock, with
# "add_header X-Inner-Pid $pid always" so that the worker that verified a
# client is known; SpiffeMTLS appends the locations /fresh/PEER/ (a full
# handshake presenting PEER's certificate), /as/PEER/ (sessions reused),
# /nocert/, /ctl/ (the agent) and /probe/ (actions of this file), and the
# preprocessor /fresh-nocert/ (no certificate, no session reused).
#
# Counters are checked as deltas: a probe action reads the page, makes its
# requests, reads it again and answers with every counter that moved, so a
# block's --- response_body states exactly which counters move, and by how
# much.  The probe runs its requests one by one on new connections, which
# both workers accept (the "inner workers" line says how many served).
#
# $::NW is the number of workers: 2, or 1 under valgrind (the runner runs
# nginx without a master there); blocks that reload nginx, or need 32
# workers, are skipped then.  Blocks marked "Regression" failed before
# commit 702f420.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeMTLS qw(add_peer outer_locations outer_upstreams start_probe
                  agent_cmd curl);
use SpiffeStatus qw(request status_json counters delta_text check_schema
                    prom_expected compare_series);
use PromCheck;

use Encode ();
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use POSIX ();
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

# ---- the checker checks -------------------------------------------------

{
    my $good = <<'EOT';
# HELP a_total Things, with a \\ and a \n in the help.
# TYPE a_total counter
a_total{x="1",y="q\"uo\\te\nnl"} 3
a_total{x="2"} 0
# TYPE b gauge
# HELP b A gauge.
b -1.5e3
b{k="v"} +Inf
EOT
    my ($err, $samples) = PromCheck::check($good);
    is(join("\n", @$err), '', 'PromCheck accepts a valid text');
    is(scalar @$samples, 4, 'PromCheck finds its 4 samples');
    is($samples->[0]{labels}{y}, "q\"uo\\te\nnl",
       'PromCheck unescapes label values');

    # each bad text, and the error it must get
    my $head = "# HELP a_total H.\n# TYPE a_total counter\n";
    my %bad = (
        'no final newline' => ["${head}a_total 1", qr/not end with a newline/],
        'empty line'       => ["${head}\na_total 1\n", qr/line 3: empty line/],
        'other comment'    => ["# hello\n${head}a_total 1\n",
                               qr/line 1: a comment that is not HELP/],
        'empty HELP'       => ["# HELP a_total \n# TYPE a_total counter\n"
                               . "a_total 1\n", qr/line 1: a comment/],
        'bad HELP escape'  => ["# HELP a_total H \\x.\n# TYPE a_total counter\n"
                               . "a_total 1\n", qr/line 1: bad escape in HELP/],
        'untyped sample'   => ["x 1\n", qr/sample x before any TYPE/],
        'another name'     => ["${head}a_total_sum 1\n",
                               qr/sample a_total_sum under TYPE a_total/],
        'counter name'     => ["# HELP a H.\n# TYPE a counter\na 1\n",
                               qr/counter a does not end in _total/],
        'unknown type'     => ["# HELP a H.\n# TYPE a summary\na 1\n",
                               qr/type "summary" is not counter or gauge/],
        'no HELP'          => ["# TYPE a gauge\na 1\n",
                               qr/family a: no HELP line/],
        'HELP after'       => ["# TYPE a gauge\na 1\n# HELP a H.\n",
                               qr/HELP for a after its samples/],
        'TYPE after'       => ["# HELP a H.\n# TYPE a gauge\na 1\n"
                               . "# TYPE a gauge\n",
                               qr/TYPE for a after its samples/],
        'two HELP'         => ["${head}# HELP a_total H.\na_total 1\n",
                               qr/second HELP for a_total/],
        'two TYPE'         => ["${head}# TYPE a_total counter\na_total 1\n",
                               qr/second TYPE for a_total/],
        'family split'     => ["${head}a_total 1\n# HELP b H.\n# TYPE b gauge\n"
                               . "b 1\na_total{x=\"1\"} 2\n",
                               qr/a_total after its family's lines ended/],
        'bad label name'   => ["${head}a_total{1x=\"1\"} 1\n",
                               qr/bad label name/],
        'reserved label'   => ["${head}a_total{__x=\"1\"} 1\n",
                               qr/reserved label name __x/],
        'repeated label'   => ["${head}a_total{x=\"1\",x=\"2\"} 1\n",
                               qr/label x repeated/],
        'bad escape'       => ["${head}a_total{x=\"a\\tb\"} 1\n",
                               qr/bad escape \\t in label x/],
        'unescaped quote'  => ["${head}a_total{x=\"a\"b\"} 1\n",
                               qr/expected "," or "}"/],
        'unterminated'     => ["${head}a_total{x=\"a} 1\n",
                               qr/unterminated value of label x/],
        'trailing comma'   => ["${head}a_total{x=\"1\",} 1\n",
                               qr/trailing comma/],
        'space in labels'  => ["${head}a_total{x=\"1\", y=\"2\"} 1\n",
                               qr/bad label name/],
        'duplicate series' => ["${head}a_total{x=\"1\",y=\"2\"} 1\n"
                               . "a_total{y=\"2\",x=\"1\"} 2\n",
                               qr/line 4: duplicate series/],
        'not a float'      => ["${head}a_total 0x10\n", qr/text after the value/],
        'no value'         => ["${head}a_total\n", qr/one space and a float/],
        'two spaces'       => ["${head}a_total  1\n", qr/one space and a float/],
        'timestamp'        => ["${head}a_total 1 1700000000000\n",
                               qr/text after the value/],
        'negative counter' => ["${head}a_total -1\n", qr/has value -1/],
        'NaN counter'      => ["${head}a_total NaN\n", qr/has value NaN/],
        'CRLF'             => ["${head}a_total 1\r\n", qr/carriage return/],
        'not UTF-8'        => ["${head}a_total{x=\"\xff\"} 1\n",
                               qr/not valid UTF-8/],
    );
    for my $what (sort keys %bad) {
        my ($text, $want) = @{ $bad{$what} };
        my ($e) = PromCheck::check($text);
        like(join("\n", @$e), $want, "PromCheck refuses: $what");
    }
}

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

# ---- the probe's actions -------------------------------------------------

# GET /probe/json[?workers=N]: the JSON page, checked, once N workers (by
# default $NW) are connected: a worker that still waits for its first SVID
# does not accept connections yet, but another one may already answer
sub json_report {
    my (%q) = @_;
    my $n = $q{workers} // $NW;
    wait_page(sub { all_state($_[0], 'connected', $n) }, 5) if $n;
    my $res = request('GET', '/status');
    my @out = ("status $res->{status}"
               . ($res->{error} ? " ($res->{error})" : ''));
    push @out, 'content-type: '
               . join(', ', @{ $res->{headers}{'content-type'} || [] });
    my $body = $res->{body};
    push @out, 'body: ' . ($body =~ /\A[^\n]+\n\z/
                           ? 'one line' : 'not one line and a newline');

    my $j = eval { JSON::PP->new->utf8->decode($body) };
    return lines(@out, "not JSON: $@") unless ref $j eq 'HASH';
    my @err = check_schema($j);
    return lines(@out, map { "schema: $_" } @err) if @err;
    push @out, 'schema: ok';

    my $agent = agent_svid();
    push @out, secrets_in($body), workers_lines($j);
    for my $w (@{ $j->{workers} }) {
        push @out, "worker $w->{worker}: " . svid_text($w, $agent);
        push @out, "worker $w->{worker}: " . source_text($w);
    }
    push @out, 'bundles: ' . bundles_text($j), 'counters: ' . nonzero($j);
    return lines(@out);
}

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

# GET /probe/prom[?workers=N]: the Prometheus page, checked, once N
# workers (by default $NW) are connected
sub prom_report {
    my (%q) = @_;
    my $n = $q{workers} // $NW;
    wait_page(sub { all_state($_[0], 'connected', $n) }, 10);
    return lines(prom_lines());
}

# its lines on the format and the values only
sub prom_brief {
    return grep { /^(?:format|families|vs json): |^metrics: same as json/ }
           prom_lines();
}

# The requests of a traffic block: [path, count, expected status, extra
# header lines (a code ref, called per request)]
our %PLAN = (
    verify_on => [
        ['/fresh/good/allow',       6, 200],
        ['/fresh/good-int/allow',   4, 403],
        ['/fresh/good/deny',        2, 403],
        ['/fresh/good-int/deny',    2, 200],
        ['/fresh-nocert/allow',     3, 400],
        ['/fresh/ca-leaf/allow',    3, 400],
        ['/fresh/no-digsig/allow',  2, 400],
        ['/fresh/unknown-td/allow', 2, 400],
        ['/fresh/good/',            2, 200],
    ],
    optional => [
        ['/fresh/good/allow',       4, 200],
        ['/fresh/mesh-web/allow',   2, 403],
        ['/fresh-nocert/allow',     4, 403],
        ['/fresh/no-uri/allow',     2, 403],
        ['/fresh-nocert/',          2, 200],
        ['/fresh/ca-leaf/',         2, 200],
    ],
    reasons => [
        map { ["/fresh/$_/", 1, 400] } sort keys %LABEL
    ],
    resumed => [
        ['/as/good/allow',          3, 200],
    ],
    resume_unverified => [
        ['/as/ca-leaf/',            3, 200, undef, 1],
        ['/nocert/',                3, 200, undef, 1],
    ],
    upstream => [
        ['/up/ok/',                 4, 200],
        ['/up/wrong/',              2, 502],
    ],
    jwt => [
        ['/jwt', 3, 200, sub { bearer('mint-jwt', $_[0] . '/ns/prod/sa/web') }],
        ['/jwt', 2, 403, sub { bearer('mint-jwt', $_[0] . '/ns/dev/sa/web') }],
        ['/jwt', 2, 403, sub { bearer('forge-jwt badsig',
                                      $_[0] . '/ns/prod/sa/web') }],
        ['/jwt', 1, 403, sub { bearer('mint-jwt', $_[0] . '/ns/prod/sa/web',
                                      'other-audience') }],
        ['/jwt', 1, 403],
    ],
    reload => [
        ['/fresh/good/allow',       3, 200],
        ['/fresh/good-int/allow',   2, 403],
        ['/fresh-nocert/allow',     1, 400],
    ],
);

# the plans with enough connections that every worker serves some: their
# report says how many workers served inside
our %SPREAD = map { $_ => 1 } qw(verify_on optional);

sub bearer {
    my ($cmd, $sub, $aud) = @_;
    my $reply = agent_cmd("$cmd $sub " . ($aud // 'status-test'));
    my ($token) = $reply =~ /\btoken=(\S+)/
        or die "agent: $cmd: $reply";
    return (Authorization => "Bearer $token");
}

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

# the status page from every worker: their counters must be the same
sub pages_from_workers {
    my ($n) = @_;
    my (%seen, $first, @diff);
    for (1 .. 60) {
        my $j = page();
        my $c = counters($j);
        $first //= $c;
        my $d = delta_text($first, $c);
        push @diff, "worker pid $j->{pid}: $d" if $d ne "(none)\n";
        $seen{ $j->{pid} } = 1;
        last if keys %seen >= $n;
    }
    return 'status pages from ' . scalar(keys %seen) . ' worker(s): '
           . (@diff ? 'different counters: ' . join(' ', @diff)
                    : 'same counters');
}

# GET /probe/traffic?plan=NAME
sub traffic_report {
    my (%q) = @_;
    my ($j0) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    my $before = counters($j0);
    my ($out, $inner) = run_plan($q{plan});
    my @out = @$out;
    push @out, 'inner workers: ' . scalar(keys %$inner) if $SPREAD{ $q{plan} };
    push @out, 'deltas:', split /\n/, delta_text($before, counters(page()));
    push @out, pages_from_workers($NW), prom_lines();
    return lines(@out);
}

# GET /probe/h2?peer=NAME: three requests on one HTTP/2 connection
sub h2_report {
    my (%q) = @_;
    my $before = counters(page());
    my $out = curl(peer => $q{peer} || undef, h2 => 1,
                   urls => ['/allow', '/allow', '/allow']);
    my @out = map { m{^(HTTP/\S+ \d+ new=\d+)} ? $1 : "? $_" }
              grep { m{^HTTP/|^curl:} } split /\n/, $out;
    push @out, 'deltas:', split /\n/, delta_text($before, counters(page()));
    return lines(@out);
}

# GET /probe/fault?mode=unavailable|down: the agent fails, then comes back
sub fault_report {
    my (%q) = @_;
    my ($on, $off) = $q{mode} eq 'down' ? ('down', 'up')
                                        : ("fail $q{mode}", 'fail off');
    my @out;
    my ($j0) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    my $agent = agent_svid();
    push @out, 'before: ' . states($j0);

    my $reply = agent_cmd($on);
    push @out, "agent: $on: $reply" unless $reply =~ /^OK/;
    my ($j1) = wait_page(sub { all_state($_[0], 'backoff') }, 3);
    push @out, "after $on: " . states($j1);
    for my $w (@{ $j1->{workers} }) {
        push @out, "worker $w->{worker}: " . svid_text($w, $agent),
                   "worker $w->{worker}: " . source_text($w);
    }
    push @out, 'deltas:', split(/\n/, delta_text(counters($j0),
                                                 counters($j1))),
               prom_brief();

    # at once: the worker's retry, a second after the failure, succeeds
    $reply = agent_cmd($off);
    push @out, "agent: $off: $reply" unless $reply =~ /^OK/;
    my ($j2) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    push @out, "after $off: " . states($j2);
    for my $w (@{ $j2->{workers} }) {
        push @out, "worker $w->{worker}: " . svid_text($w, $agent),
                   "worker $w->{worker}: " . source_text($w);
    }
    push @out, 'deltas:', split(/\n/, delta_text(counters($j1),
                                                 counters($j2))),
               prom_brief();
    return lines(@out);
}

# GET /probe/invalid: the agent answers INVALID_ARGUMENT: state "error",
# and no retry (until a reload) when the agent is fine again
sub invalid_report {
    my @out;
    my ($j0) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    my $agent = agent_svid();

    my $reply = agent_cmd('fail invalid_argument');
    push @out, "agent: $reply" unless $reply =~ /^OK/;
    my ($j1) = wait_page(sub { all_state($_[0], 'error') }, 3);
    push @out, 'after fail invalid_argument: ' . states($j1);
    for my $w (@{ $j1->{workers} }) {
        push @out, "worker $w->{worker}: " . svid_text($w, $agent),
                   "worker $w->{worker}: " . source_text($w);
    }
    push @out, 'deltas:', split(/\n/, delta_text(counters($j0),
                                                 counters($j1))),
               prom_brief();

    $reply = agent_cmd('fail off');
    push @out, "agent: $reply" unless $reply =~ /^OK/;
    sleep 1.5 * $SLOW;          # past the first retry of a backoff
    my $j2 = page();
    push @out, 'after fail off: ' . states($j2);
    push @out, 'deltas:', split /\n/, delta_text(counters($j1),
                                                 counters($j2));
    return lines(@out);
}

# GET /probe/rotate
sub rotate_report {
    my ($j0) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    my $old = agent_svid();
    my @out = map { "before: worker $_->{worker}: " . svid_text($_, $old) }
              @{ $j0->{workers} };

    my ($serial) = agent_cmd('rotate-svid') =~ /\bserial=(\w+)/;
    my ($j1, $ok) = wait_page(sub {
        my @w = @{ $_[0]{workers} };
        @w == $NW && !grep { ($_->{svid}{serial} // '') ne $serial } @w;
    }, 5);
    my $new = agent_svid();
    push @out, 'new serial: ' . ($serial ne $old->{serial} ? 'yes' : 'no');
    for my $w (@{ $j1->{workers} }) {
        push @out, "after: worker $w->{worker}: " . svid_text($w, $new),
                   "after: worker $w->{worker}: " . source_text($w);
    }
    push @out, 'deltas:', split(/\n/, delta_text(counters($j0),
                                                 counters($j1))),
               prom_brief();
    return lines(@out);
}

sub signal_nginx {
    my ($sig) = @_;
    my $reply = agent_cmd("signal $sig $PIDFILE");
    return $reply =~ /^OK/ ? () : ("agent: signal $sig: $reply");
}

sub wait_gone {
    my ($pids, $timeout) = @_;
    my $deadline = time + $timeout;
    while (grep { kill 0, $_ } @$pids) {
        return 0 if time > $deadline;
        sleep 0.05;
    }
    return 1;
}

# A reload is three requests of a block: GET /probe/mark, GET /probe/hup,
# then GET /probe/reloaded (or drained, dropped): the HUP and what follows
# must not be in one probe action, whose own request an old worker would
# serve until the action ends.

our (%OLD, $BASE, $HOLDER);

# GET /probe/mark[?plan=NAME][&hold=MS]: after the plan's requests, the
# workers and the counters; with hold, a request that an old worker will
# serve for MS ms after the reload
sub mark_report {
    my (%q) = @_;
    my @out;
    if ($q{plan}) {
        my ($plan) = run_plan($q{plan});
        push @out, @$plan;
    }
    my ($j) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    %OLD = map { $_->{pid} => 1 } @{ $j->{workers} };
    $BASE = counters($j);
    if ($q{hold}) {
        $HOLDER = fork // die "fork: $!";
        if ($HOLDER == 0) {
            request('GET', "/ctl/status?wait_ms=$q{hold}");
            POSIX::_exit(0);
        }
        sleep 0.3;
    }
    push @out, 'workers before: ' . scalar(keys %OLD);
    return lines(@out);
}

sub new_workers {
    my ($j) = @_;
    return all_state($j, 'connected')
           && !grep { $OLD{ $_->{pid} } } @{ $j->{workers} };
}

sub old_or_new {
    my ($j) = @_;
    return join ' ', map {
        "worker $_->{worker}="
        . (!$OLD{ $_->{pid} } ? 'new' : kill(0, $_->{pid}) ? 'old'
                                                           : 'old(exited)')
    } @{ $j->{workers} };
}

# GET /probe/reloaded: the new workers, the counters since the mark
sub reloaded_report {
    my @out;
    my ($j, $ok) = wait_page(\&new_workers, 10);
    push @out, 'new workers: ' . ($ok ? 'yes' : 'no: ' . old_or_new($j));
    push @out, 'old workers exited: '
               . (wait_gone([keys %OLD], 10 * $SLOW) ? 'yes' : 'no');
    $j = page();
    push @out, workers_lines($j);
    push @out, 'deltas:', split /\n/, delta_text($BASE, counters($j));
    return lines(@out);
}

# GET /probe/drained: after a reload with an old worker held by a request,
# a rotation: which workers the page shows, then once the old one exited
sub drained_report {
    my @out;
    my ($j, $ok) = wait_page(\&new_workers, 10);
    push @out, 'new workers: ' . ($ok ? 'yes' : 'no: ' . old_or_new($j));

    my $deadline = time + 5 * $SLOW;
    my @alive;
    while (1) {
        @alive = grep { kill 0, $_ } keys %OLD;
        last if @alive <= 1 || time > $deadline;
        sleep 0.05;
    }
    push @out, 'old workers still running: ' . scalar @alive;

    # the old worker takes the rotation last: it is stopped until the new
    # ones show it (as a worker busy with its last connections would be)
    kill 'STOP', @alive;
    my ($serial) = agent_cmd('rotate-svid') =~ /\bserial=(\w+)/;
    my (undef, $took) = wait_page(sub {
        !grep { ($_->{svid}{serial} // '') ne $serial } @{ $_[0]{workers} };
    }, 5);
    push @out, 'new workers took the rotation: ' . ($took ? 'yes' : 'no');
    kill 'CONT', @alive;
    sleep 0.5 * $SLOW;
    push @out, 'after the rotation: ' . old_or_new(page());

    waitpid $HOLDER, 0;
    push @out, 'old workers exited: '
               . (wait_gone([keys %OLD], 10 * $SLOW) ? 'yes' : 'no');
    push @out, 'then: ' . old_or_new(page());
    return lines(@out);
}

# GET /probe/hint: the workers of the JSON page, their SVID and hint
sub hint_report {
    # a worker may still be in its start (the agent saw its stream before
    # the worker applied the answer): wait until every worker has an SVID
    my ($j) = wait_page(sub {
        my ($p) = @_;
        return ref $p eq 'HASH' && ref $p->{workers} eq 'ARRAY'
               && @{ $p->{workers} } == $NW
               && !grep { !$_->{svid} } @{ $p->{workers} };
    }, 5);
    return "no page" unless ref $j eq 'HASH';
    my $want = Encode::decode('UTF-8', $LONG_HINT);
    my @out = ('workers: ' . scalar @{ $j->{workers} });
    for my $w (@{ $j->{workers} }) {
        my $s = $w->{svid} or do {
            push @out, "worker $w->{worker}: svid null";
            next;
        };
        push @out, "worker $w->{worker}: svid $s->{id} hint="
                   . ($s->{hint} eq $want ? 'the configured one'
                      : 'of ' . length($s->{hint}) . ' characters: '
                        . Encode::encode('UTF-8', $s->{hint}));
    }
    return lines(@out);
}

# GET /probe/hup: the agent sends SIGHUP to the master; answers once every
# old worker has closed its listeners (its title says "shutting down") or
# exited, so that the block's next request goes to a new worker
sub hup_report {
    my @out = signal_nginx('HUP');
    my $deadline = time + 10 * $SLOW;
    my @busy;
    while (1) {
        @busy = grep {
            my $title = '';
            if (open my $fh, '<', "/proc/$_/cmdline") {
                local $/;
                $title = <$fh> // '';
            }
            kill(0, $_) && $title !~ /shutting down/;
        } keys %OLD;
        last if !@busy || time > $deadline;
        sleep 0.02;
    }
    push @out, @busy ? 'old workers still listening: ' . scalar @busy
                     : 'old workers shutting down';
    return lines(@out);
}

# GET /probe/write?file=PATH: the status.conf of the next config, without
# spiffe_status
sub write_report {
    my (%q) = @_;
    open my $fh, '>', $q{file} or die "$q{file}: $!";
    print {$fh} "location = /status { return 200 \"no status\\n\"; }\n";
    close $fh;
    return "written\n";
}

# GET /probe/dropped: after that reload
sub dropped_report {
    my @out;
    push @out, 'old workers exited: '
               . (wait_gone([keys %OLD], 10 * $SLOW) ? 'yes' : 'no');
    my $res = do {
        local $SpiffeStatus::TIMEOUT = 3;
        request('GET', '/status');
    };
    push @out, "/status: $res->{status} "
               . ($res->{error} ? "($res->{error})" : $res->{body} =~ s/\n\z//r);
    return lines(@out) if $res->{error};
    my ($plan) = run_plan('reload');
    push @out, @$plan;
    return lines(@out);
}

# a probe killed by a write to a request that nginx gave up on would fail
# every block after it
$SIG{PIPE} = 'IGNORE';

start_probe(
    json    => \&json_report,
    prom    => \&prom_report,
    traffic => \&traffic_report,
    h2      => \&h2_report,
    fault   => \&fault_report,
    invalid => \&invalid_report,
    rotate  => \&rotate_report,
    mark     => \&mark_report,
    reloaded => \&reloaded_report,
    drained  => \&drained_report,
    hup      => \&hup_report,
    hint     => \&hint_report,
    write    => \&write_report,
    dropped  => \&dropped_report,
);

# ---- the blocks ------------------------------------------------------------

master_on();

# the level of nginx's line about a refused upstream handshake
use SpiffeUpstream ();

# the [error] lines of a block that expects some, with their text only
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

add_block_preprocessor(sub {
    my $block = shift;

    workers(1);

    # /fresh-nocert/: no certificate, and no session to resume either
    $block->set_value(http_config => ($block->http_config // '')
                                     . outer_upstreams() . <<'EOC');
    upstream tls_fresh_nocert {
        server unix:$TEST_NGINX_SERVROOT/logs/tls.sock;
    }
EOC
    $block->set_value(config => ($block->config // '') . outer_locations()
                                . <<'EOC');
    location /fresh-nocert/ {
        proxy_pass https://tls_fresh_nocert/;
        proxy_ssl_protocols TLSv1.2 TLSv1.3;
        proxy_ssl_session_reuse off;
    }
EOC
    $block->set_value(timeout => 30) unless defined $block->timeout;

    return if defined $block->must_die;

    # a block that expects errors lists every line of level warn and above
    # with --- grep_error_log $::ERRORS; the others must have none
    $block->set_value(no_error_log => join "\n",
                      grep { defined } $block->no_error_log,
                      (defined $block->grep_error_log
                       ? () : ('[error]', '[alert]', '[crit]', '[emerg]')),
                      'exited on signal');
});

run_tests();

__DATA__

=== TEST 1: JSON page: every documented field with its type; the SVID is the agent's; two workers
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
--- request eval
["GET /ctl/wait-streams/$::NW/5000", "GET /probe/json"]
--- response_body eval
["OK ready=$::NW\n", <<"EOT" . join('', map { <<"EOW" } 0 .. $::NW - 1) . <<"EOT2"]
status 200
content-type: application/json
body: one line
schema: ok
secrets: none
workers: @{[ join ',', 0 .. $::NW - 1 ]}
worker pids: distinct
@{[ join '', map { "worker $_ pid: nginx\n" } 0 .. $::NW - 1 ]}answered by: a worker
EOT
worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok
worker $_: source connected version=1 last_message=recent last_error="" failures=0
EOW
bundles: example.org{source=workload_api,x509_authorities=1} mesh.test{source=workload_api,x509_authorities=1}
counters: source.svid_updates=$::NW
EOT2



=== TEST 2: Prometheus page: strict format, documented families, same values as JSON
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- request eval
["GET /ctl/wait-streams/$::NW/5000", "GET /probe/prom"]
--- response_body eval
["OK ready=$::NW\n", <<'EOT']
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT



=== TEST 3: "json" and "prometheus" said explicitly; HEAD has the headers only; other methods get 405
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status json; }
    location = /metrics { spiffe_status prometheus; }
--- request eval
["HEAD /status", "POST /status\nx=1", "HEAD /metrics", "DELETE /metrics"]
--- error_code eval
[200, 405, 200, 405]
--- response_headers eval
["Content-Type: application/json", "Content-Type: text/html",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Content-Type: text/html"]
--- response_body eval
["", qr/405 Not Allowed/, "", qr/405 Not Allowed/]



=== TEST 4: counters of both workers: allowed, denied, no certificate, hostile certificates (spiffe_verify_client on)
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;
        add_header X-Inner-Pid $pid always;

        # content from a file: "return" would answer before the access phase
        location /allow {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            alias $TEST_NGINX_HTML_DIR/ok.txt;
        }
        location /deny {
            spiffe_deny spiffe://example.org/ns/prod/sa/web;
            spiffe_allow all;
            alias $TEST_NGINX_HTML_DIR/ok.txt;
        }
        location / {
            return 200 "$spiffe_verify\n";
        }
    }
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- user_files
>>> ok.txt
ok
--- request
GET /probe/traffic?plan=verify_on
--- response_body eval
<<"EOT"
/fresh/good/allow: 200 x6
/fresh/good-int/allow: 403 x4
/fresh/good/deny: 403 x2
/fresh/good-int/deny: 200 x2
/fresh-nocert/allow: 400 x3
/fresh/ca-leaf/allow: 400 x3
/fresh/no-digsig/allow: 400 x2
/fresh/unknown-td/allow: 400 x2
/fresh/good/: 200 x2
inner workers: $::NW
deltas:
access.allowed +8
access.denied +6
handshakes.client.refused.leaf_rules +5
handshakes.client.refused.no_bundle +2
handshakes.client.refused.no_certificate +3
handshakes.client.verified +16
status pages from $::NW worker(s): same counters
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT



=== TEST 5: spiffe_verify_client optional: no verified ID is its own decision; a refused certificate still counts as refused
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client optional;
        add_header X-Inner-Pid $pid always;

        location /allow {
            spiffe_allow spiffe://example.org/**;
            alias $TEST_NGINX_HTML_DIR/ok.txt;
        }
        location / {
            return 200 "$spiffe_verify\n";
        }
    }
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- user_files
>>> ok.txt
ok
--- request
GET /probe/traffic?plan=optional
--- response_body eval
<<"EOT"
/fresh/good/allow: 200 x4
/fresh/mesh-web/allow: 403 x2
/fresh-nocert/allow: 403 x4
/fresh/no-uri/allow: 403 x2
/fresh-nocert/: 200 x2
/fresh/ca-leaf/: 200 x2
inner workers: $::NW
deltas:
access.allowed +4
access.denied +2
access.no_verified_id +6
handshakes.client.refused.bad_id +2
handshakes.client.refused.leaf_rules +2
handshakes.client.verified +6
status pages from $::NW worker(s): same counters
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT



=== TEST 6: each refusal reason has its label: one peer of each kind
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;
        add_header X-Inner-Pid $pid always;

        location / {
            return 200 "$spiffe_verify\n";
        }
    }
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- request
GET /probe/traffic?plan=reasons
--- response_body eval
my %n;
$n{$_}++ for values %::LABEL;
join('', map { "/fresh/$_/: 400 x1\n" } sort keys %::LABEL)
. "deltas:\n"
. join('', map { "handshakes.client.refused.$_ +$n{$_}\n" } sort keys %n)
. <<'EOT'
status pages from 1 worker(s): same counters
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT



=== TEST 7: a resumed TLS session counts as resumed, not as a new verification (one worker)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;
        add_header X-Inner-Pid $pid always;

        location /allow {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            alias $TEST_NGINX_HTML_DIR/ok.txt;
        }
    }
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- user_files
>>> ok.txt
ok
--- request
GET /probe/traffic?plan=resumed
--- response_body
/as/good/allow: 200 x3
deltas:
access.allowed +3
handshakes.client.verified +1
handshakes.resumed +2
status pages from 1 worker(s): same counters
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json



=== TEST 8: sessions without a verified ID (refused certificate, no certificate) are not counted as resumed (one worker)
# Regression (fixed in 702f420): such a session has no SPIFFE data, and
# ngx_spiffe_ssl_session_resume() took the NGX_DECLINED of
# ngx_spiffe_ssl_session_check() as a success: the session was resumed with
# peer status NONE and counted in handshakes.resumed, and a refused
# certificate's $spiffe_verify turned from FAILED:... into NONE
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client optional;
        add_header X-Inner-Pid $pid always;

        location / {
            return 200 "$spiffe_verify\n";
        }
    }
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- request
GET /probe/traffic?plan=resume_unverified
--- response_body
/as/ca-leaf/: 200 "FAILED:leaf is a CA" x3
/nocert/: 200 "NONE" x3
deltas:
handshakes.client.refused.leaf_rules +3
status pages from 1 worker(s): same counters
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json



=== TEST 9: upstream side: spiffe_proxy_verify verified and refused (not_allowed)
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    upstream tls_up {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/up.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_allow spiffe://mesh.test/ns/edge/sa/nginx;
        add_header X-Inner-Pid $pid always;

        location / {
            root $TEST_NGINX_HTML_DIR;
            try_files /ok.txt =404;
        }
    }
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
    location /up/ok/ {
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/**;
        proxy_ssl_session_reuse off;
        proxy_pass https://tls_up/;
    }
    location /up/wrong/ {
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/**;
        proxy_ssl_session_reuse off;
        proxy_pass https://tls_up/;
    }
--- user_files
>>> ok.txt
ok
--- request
GET /probe/traffic?plan=upstream
--- response_body eval
<<"EOT"
/up/ok/: 200 x4
/up/wrong/: 502 x2
deltas:
access.allowed +4
handshakes.client.verified +4
handshakes.upstream.refused.not_allowed +2
handshakes.upstream.verified +4
status pages from $::NW worker(s): same counters
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT
--- grep_error_log eval: $::ERRORS
--- grep_error_log_out eval
main::errors_re(('[error] spiffe: upstream X.509-SVID "spiffe://mesh.test/ns/edge/sa/nginx" refused in location "/up/wrong/": its ID matches no spiffe_proxy_verify pattern',
                 "[$SpiffeUpstream::REFUSED_LEVEL] SSL_do_handshake() failed (SSL: error:0A0000EA:SSL routines::callback failed error:0A000086:SSL routines::certificate verify failed)") x 2)



=== TEST 10: JWT-SVID counters: valid, invalid, missing; spiffe_jwt_allow/deny decisions; the JWT bundle in "bundles"
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
    location = /jwt {
        spiffe_jwt optional;
        spiffe_jwt_audience status-test;
        spiffe_jwt_allow spiffe://mesh.test/ns/prod/**;
        spiffe_jwt_deny all;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request eval
["GET /ctl/wait-streams/$::NW/5000", "GET /probe/traffic?plan=jwt",
 "GET /status"]
--- response_body eval
["OK ready=$::NW\n", <<"EOT", qr/"bundles":\{(?=.*"mesh\.test":\{(?=[^}]*"jwt_keys":1[,}])(?![^}]*"spiffe_sequence")(?=[^}]*"x509_authorities":1[,}]))/]
/jwt: 200 x3
/jwt: 403 x2
/jwt: 403 x2
/jwt: 403 x1
/jwt: 403 x1
deltas:
jwt.allowed +3
jwt.denied +2
jwt.invalid +3
jwt.missing +1
jwt.valid +5
status pages from $::NW worker(s): same counters
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT



=== TEST 11: HTTP/2, three requests on one connection with a refused certificate: one refused handshake
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl http2;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify\n";
        }
    }
--- config
    location = /status { spiffe_status; }
--- request
GET /probe/h2?peer=ca-leaf
--- response_body
HTTP/2 400 new=1
HTTP/2 400 new=0
HTTP/2 400 new=0
deltas:
handshakes.client.refused.leaf_rules +1



=== TEST 12: HTTP/2, three requests on one connection without a certificate: one refused handshake
# Regression (fixed in 702f420): the no_certificate refusal was counted
# per request (in the verify handler), not per handshake: three requests on
# one HTTP/2 connection counted 3 refused handshakes (TEST 11, a refused
# certificate on the same path, counts 1)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl http2;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify\n";
        }
    }
--- config
    location = /status { spiffe_status; }
--- request
GET /probe/h2
--- response_body
HTTP/2 400 new=1
HTTP/2 400 new=0
HTTP/2 400 new=0
deltas:
handshakes.client.refused.no_certificate +1



=== TEST 13: the agent fails the stream (UNAVAILABLE): every worker in backoff, last_error says why, failures; then connected again
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- request
GET /probe/fault?mode=unavailable
--- response_body eval
my $err = 'FetchX509SVID failed: UNAVAILABLE: agent unavailable (test fault)';
"before: " . join(' ', ('connected') x $::NW) . "\n"
. "after fail unavailable: " . join(' ', ('backoff') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source backoff version=1 last_message=recent last_error=\"$err\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.failures +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
. "after fail off: " . join(' ', ('connected') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source connected version=2 last_message=recent last_error=\"\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.svid_updates +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
--- grep_error_log eval: $::ERRORS
--- grep_error_log_out eval
main::errors_re(('[error] spiffe: Workload API "unix:*": FetchX509SVID failed (UNAVAILABLE: agent unavailable (test fault)), retrying with backoff') x $::NW)



=== TEST 14: the agent stops serving (down), then comes back (up)
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- request
GET /probe/fault?mode=down
--- response_body_like eval
# the error depends on how the connection ends: "INTERNAL: the stream
# ended without grpc-status", "UNAVAILABLE: Send failure: Broken pipe", ...
my $text = "before: " . join(' ', ('connected') x $::NW) . "\n"
. "after down: " . join(' ', ('backoff') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source backoff version=1 last_message=recent last_error=\"FetchX509SVID failed: <ERR>\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.failures +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
. "after up: " . join(' ', ('connected') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source connected version=2 last_message=recent last_error=\"\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.svid_updates +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n";
my $re = quotemeta $text;
$re =~ s/\\<ERR\\>/(?:UNAVAILABLE|INTERNAL|UNKNOWN): [^"\\n]+/g;
qr/\A$re\z/
--- grep_error_log eval: $::ERRORS
--- grep_error_log_out eval
main::errors_re(('[error] spiffe: Workload API "unix:*": FetchX509SVID failed (*), retrying with backoff') x $::NW)



=== TEST 15: the agent refuses the call as invalid (INVALID_ARGUMENT): state "error", no retry
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- request
GET /probe/invalid
--- response_body eval
my $err = 'FetchX509SVID failed: INVALID_ARGUMENT: invalid argument (test fault)';
"after fail invalid_argument: " . join(' ', ('error') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source error version=1 last_message=recent last_error=\"$err\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.failures +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
. "after fail off: " . join(' ', ('error') x $::NW) . "\n"
. "deltas:\n(none)\n"
--- grep_error_log eval: $::ERRORS
--- grep_error_log_out eval
main::errors_re(('[alert] spiffe: Workload API "unix:*" refused FetchX509SVID as invalid (INVALID_ARGUMENT: invalid argument (test fault)): this is a bug in ngx_spiffe or in the agent; not retrying until nginx is reloaded') x $::NW)



=== TEST 16: rotation: every worker shows the new serial, svid_updates and version move
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- request
GET /probe/rotate
--- response_body eval
join('', map { "before: worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n" } 0 .. $::NW - 1)
. "new serial: yes\n"
. join('', map { "after: worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "after: worker $_: source connected version=2 last_message=recent last_error=\"\" failures=0\n" } 0 .. $::NW - 1)
. "deltas:\nsource.svid_updates +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"



=== TEST 17: a reload (HUP) keeps the counters; the page shows the new workers
--- skip_eval: 1: $::VALGRIND
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;

        location /allow {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            alias $TEST_NGINX_HTML_DIR/ok.txt;
        }
    }
--- config
    location = /status { spiffe_status; }
--- user_files
>>> ok.txt
ok
--- request eval
["GET /probe/mark?plan=reload",
 "GET /probe/hup",
 "GET /probe/reloaded"]
--- response_body eval
[<<"EOT", "old workers shutting down\n", <<"EOT2"]
/fresh/good/allow: 200 x3
/fresh/good-int/allow: 403 x2
/fresh-nocert/allow: 400 x1
workers before: $::NW
EOT
new workers: yes
old workers exited: yes
workers: @{[ join ',', 0 .. $::NW - 1 ]}
worker pids: distinct
@{[ join '', map { "worker $_ pid: nginx\n" } 0 .. $::NW - 1 ]}answered by: a worker
deltas:
source.svid_updates +$::NW
EOT2
--- error_log eval
qr/\[notice\] \d+#\d+: signal 1 \(SIGHUP\) received/



=== TEST 18: a reload while an old worker still serves a request, then a rotation: the old worker does not take back its slot
# Regression (fixed in 702f420): an old worker keeps its Workload API
# stream while it drains its connections, and ngx_spiffe_source_report()
# wrote the slot ngx_worker of the shared zone, which the new worker of
# that number owns: after a rotation the page showed the old (exiting,
# then dead) worker in place of the new one, until the new one's next
# message
--- skip_eval: 1: $::VALGRIND
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
--- request eval
["GET /probe/mark?hold=3000",
 "GET /probe/hup",
 "GET /probe/drained"]
--- response_body eval
my $new = join ' ', map { "worker $_=new" } 0 .. $::NW - 1;
["workers before: $::NW\n", "old workers shutting down\n",
 "new workers: yes\nold workers still running: 1\n"
 . "new workers took the rotation: yes\n"
 . "after the rotation: $new\nold workers exited: yes\nthen: $new\n"]



=== TEST 19: a reload into a config without spiffe_status: the workers keep working
# Regression (fixed in 702f420): ngx_spiffe_stats (ngx_spiffe_stats.c)
# kept pointing at the zone of the previous cycle, which nginx unmaps when
# the new configuration has no spiffe_status: every new worker died with
# SIGSEGV at its first write (ngx_spiffe_stats_begin() from
# ngx_spiffe_source_start()), and the master respawned them in a loop
--- skip_eval: 1: $::VALGRIND
--- timeout: 8
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;

        location /allow {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            alias $TEST_NGINX_HTML_DIR/ok.txt;
        }
    }
--- config
    include $TEST_NGINX_HTML_DIR/status.conf;
--- user_files
>>> status.conf
location = /status { spiffe_status; }
>>> ok.txt
ok
--- request eval
["GET /probe/mark",
 "GET /probe/write?file=$ENV{TEST_NGINX_HTML_DIR}/status.conf",
 "GET /probe/hup",
 "GET /probe/dropped"]
--- response_body eval
["workers before: $::NW\n", "written\n", "old workers shutting down\n",
 <<'EOT']
old workers exited: yes
/status: 200 no status
/fresh/good/allow: 200 x3
/fresh/good-int/allow: 403 x2
/fresh-nocert/allow: 400 x1
EOT



=== TEST 20: 32 workers whose SVID has a 2048-byte ID: the Prometheus page is whole and valid
# Regression (fixed in 702f420): the page was written into a fixed 64 KiB
# buffer; one expiry line per worker takes about 2.2 KB with such an ID, so
# from about 30 workers (64 are shown) the page was cut in the middle of a
# label, without its last families or final newline, and served with 200
# (the log only warned "spiffe: status page truncated")
--- skip_eval: 1: $::VALGRIND
--- init
$::AGENT->control_ok("rotate-svid $::LONG_ID");
workers(32);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
--- request eval
["GET /ctl/wait-streams/32/10000", "GET /probe/prom?workers=32",
 "GET /ctl/rotate-svid?arg=$::SELF"]
--- response_body eval
["OK ready=32\n", <<'EOT', qr/\AOK serial=\w+ id=\Q$::SELF\E\n\z/]
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT



=== TEST 21: an SVID chosen by a long non-ASCII spiffe_svid_hint: the page shows the workers and the whole hint
# Regression (fixed in 702f420): the worker slot kept 127 bytes of the
# hint (char hint[128]); cut inside a UTF-8 character, jansson refused the
# string, json_pack() of the worker failed and the worker was left out of
# "workers" without a word
--- init
$::AGENT->control_ok("add-svid $::HINTED,hint=$::LONG_HINT")
    unless $::AGENT->status->{svids} > 1;
workers($::NW);
--- main_config eval
"    spiffe_workload_api unix:\$TEST_NGINX_AGENT_SOCKET;\n"
. "    spiffe_svid_hint $::LONG_HINT;\n"
--- config
    location = /status { spiffe_status; }
--- request eval
["GET /ctl/wait-streams/$::NW/5000", "GET /probe/hint"]
--- response_body eval
["OK ready=$::NW\n",
 "workers: $::NW\n"
 . join('', map { "worker $_: svid $::HINTED hint=the configured one\n" }
                0 .. $::NW - 1)]



=== TEST 22: without a Workload API: no workers, no bundles, counters at zero
--- config
    location = /status { spiffe_status; }
--- request
GET /probe/json?workers=0
--- response_body
status 200
content-type: application/json
body: one line
schema: ok
secrets: none
workers: none
worker pids: distinct
answered by: nginx, unlisted
bundles: none
counters: all zero



=== TEST 23: spiffe_status with an unknown format
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status {
        include $TEST_NGINX_HTML_DIR/bad.conf;
    }
--- user_files
>>> bad.conf
# the format
spiffe_status xml;
--- must_die
--- error_log
[emerg]
invalid value "xml" in "spiffe_status", it must be "json", "prometheus" or "ready" in $TEST_NGINX_HTML_DIR/bad.conf:2



=== TEST 24: spiffe_status twice in a location
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status {
        include $TEST_NGINX_HTML_DIR/bad.conf;
    }
--- user_files
>>> bad.conf
spiffe_status;
spiffe_status prometheus;
--- must_die
--- error_log
[emerg]
"spiffe_status" directive is duplicate in $TEST_NGINX_HTML_DIR/bad.conf:2



=== TEST 25: spiffe_status in a server block
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    include $TEST_NGINX_HTML_DIR/bad.conf;
--- user_files
>>> bad.conf

spiffe_status;
--- must_die
--- error_log
[emerg]
"spiffe_status" directive is not allowed here in $TEST_NGINX_HTML_DIR/bad.conf:2



=== TEST 26: spiffe_status in http{}
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    include $TEST_NGINX_HTML_DIR/bad.conf;
--- user_files
>>> bad.conf
spiffe_status json;
--- must_die
--- error_log
[emerg]
"spiffe_status" directive is not allowed here in $TEST_NGINX_HTML_DIR/bad.conf:1



=== TEST 27: spiffe_status in an "if" in a location
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status {
        if ($arg_x) {
            include $TEST_NGINX_HTML_DIR/bad.conf;
        }
    }
--- user_files
>>> bad.conf
spiffe_status;
--- must_die
--- error_log
[emerg]
"spiffe_status" directive is not allowed here in $TEST_NGINX_HTML_DIR/bad.conf:1



=== TEST 28: spiffe_status with two formats
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status {
        include $TEST_NGINX_HTML_DIR/bad.conf;
    }
--- user_files
>>> bad.conf
spiffe_status json prometheus;
--- must_die
--- error_log
[emerg]
invalid number of arguments in "spiffe_status" directive in $TEST_NGINX_HTML_DIR/bad.conf:1
