# Readiness (spiffe_status ready): 200 and {"ready":true} when every worker
# holds a valid SVID and every configured trust domain (spiffe_bundle,
# spiffe_federate) has a bundle, else 503 and what is missing; and the
# times of the last SVID and bundle updates on the JSON and Prometheus
# pages.
#
# The agent starts down: the first block sees nginx without an SVID.
# /probe/ready polls the readiness page until it answers the status asked
# for (bounded), and reports it as text: pids and times are checked there
# and written as words, so that a block states the whole answer.  A block
# names the pages under test ($STATUS) and the outer side of
# t/lib/SpiffeMTLS.pm (/ctl/, /probe/): main::outer_upstreams() in its
# http_config, main::outer_locations() after its own locations.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use JSON::PP ();
use SpiffeAgent;
use SpiffeMTLS qw(outer_locations outer_upstreams start_probe slurp);
use SpiffeStatus qw(request status_json check_schema prom_expected
                    compare_series);
use PromCheck;
use Time::HiRes qw(sleep time);

delete $ENV{SPIFFE_ENDPOINT_SOCKET};

our $SELF = 'spiffe://mesh.test/ns/edge/sa/gateway';
our $VALGRIND = $ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0;
our $NW = $VALGRIND ? 1 : 2;
our $SLOW = $VALGRIND ? 10 : 1;
our $T0 = time;

my $certs = SpiffeAgent::certs();
our $agent = SpiffeAgent->start(spiffe_id => $SELF, down => 1);

sub lines { join '', map { "$_\n" } @_ }

# a worker of the readiness page, as words
sub worker_text {
    my ($w) = @_;
    my $pid = !defined $w->{pid} ? 'no pid'
              : $w->{pid} =~ /^[1-9]\d*\z/ ? 'pid' : "pid=$w->{pid}";
    my $text = "worker $w->{worker}: $w->{svid} ($pid";
    $text .= ", source $w->{source}" if defined $w->{source};
    $text .= ", id $w->{id}" if defined $w->{id};
    $text .= ', not_after ' . ($w->{not_after} <= time ? 'past' : 'future')
        if defined $w->{not_after};
    return "$text)";
}

# GET /probe/ready?status=N[&secs=S]: the readiness page once it answers
# N, or the last answer after S seconds
sub ready_report {
    my (%q) = @_;
    my $deadline = time + ($q{secs} // 5) * $SLOW;
    my ($res, $j);
    while (1) {
        $res = request('GET', '/ready');
        $j = eval { JSON::PP->new->utf8->decode($res->{body}) };

        # a worker just forked may not have said who it is yet
        last if $res->{status} == $q{status}
                && !grep { !defined $_->{pid} }
                        @{ $j->{workers_without_svid} || [] };
        last if time > $deadline;
        sleep 0.05;
    }
    my @out = ("status $res->{status}",
               'content-type: ' . join(', ', @{ $res->{headers}{'content-type'}
                                                || [] }));
    return lines(@out, "not JSON: $res->{body}") unless ref $j eq 'HASH';
    push @out, 'ready ' . ($j->{ready} ? 'true' : 'false');
    return lines(@out, "body $res->{body}" =~ s/\n\z//r) if $j->{ready};

    # a worker may still be starting, its slot empty or not: workers are
    # sorted, and a source in "connecting" or "backoff" is "down"
    for my $w (@{ $j->{workers_without_svid} }) {
        $w->{source} = 'down'
            if defined $w->{source} && $w->{source} =~ /^(?:connecting|backoff)\z/;
        push @out, worker_text($w);
    }
    push @out, 'trust domains without bundle: '
               . (join(' ', @{ $j->{trust_domains_without_bundle} }) || '-');
    return lines(@out);
}

# GET /probe/times: the SVID and bundle times of the JSON page (between
# this file's start and now) and the Prometheus page, checked
sub times_report {
    my ($j, $res) = status_json('/status');
    my @out = map { "schema: $_" } check_schema($j);
    my $now = time;
    my $when = sub {
        my ($t) = @_;
        return $t >= int($T0) && $t <= $now + 1 ? 'recent' : "at $t";
    };
    for my $w (sort { $a->{worker} <=> $b->{worker} } @{ $j->{workers} }) {
        push @out, "worker $w->{worker}: "
                   . ($w->{svid} ? "$w->{svid}{id} taken "
                                   . $when->($w->{svid}{updated})
                                 : 'no svid');
    }
    for my $td (sort keys %{ $j->{bundles} }) {
        my $u = $j->{bundles}{$td}{updated};
        push @out, "bundle $td: "
                   . (defined $u ? 'changed ' . $when->($u) : 'no time')
                   . ", from $j->{bundles}{$td}{source}";
    }

    my $prom = request('GET', '/metrics');
    my ($err, $samples) = PromCheck::check($prom->{body});
    push @out, @$err ? map { "format: $_" } @$err : 'format: ok';
    my @diff = compare_series(prom_expected($j), $samples);
    push @out, @diff ? map { "vs json: $_" } @diff : 'metrics: same as json';
    return lines(@out);
}

# GET /probe/svids: waits until every worker of this nginx holds an SVID
# (the agent may still count streams of the previous block's nginx)
sub svids_report {
    my $deadline = time + 5 * $SLOW;
    while (1) {
        my ($j) = status_json('/status');
        my $n = grep { $_->{svid} } @{ $j->{workers} };
        return "svids: $n\n" if $n >= $NW || time > $deadline;
        sleep 0.05;
    }
}

$SIG{PIPE} = 'IGNORE';

start_probe(ready => \&ready_report, times => \&times_report,
            svids => \&svids_report);

# the pages under test, which every block names before the outer locations
our $STATUS = <<'EOC';
    location = /ready { spiffe_status ready; }
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC

master_on();
workers($NW);
log_level('info');

run_tests();

__DATA__

=== TEST 1: no SVID yet (the agent is down): 503 and the workers without one; the agent comes up: 200
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 100ms;
--- http_config eval
main::outer_upstreams()
--- config eval
$main::STATUS . main::outer_locations()
--- timeout: 20
--- request eval
["GET /probe/ready?status=503", "GET /ctl/up",
 "GET /probe/ready?status=200&secs=10"]
--- response_body eval
[main::lines('status 503', 'content-type: application/json', 'ready false',
             map({ "worker $_: none (pid, source down)" } 0 .. $::NW - 1),
             'trust domains without bundle: -'),
 "OK up\n",
 main::lines('status 200', 'content-type: application/json', 'ready true',
             'body {"ready":true}')]
--- error_log eval
qr{\[error\] .*spiffe: Workload API "unix:\S+": FetchX509SVID failed \(UNAVAILABLE: }
--- no_error_log
[emerg]
[crit]



=== TEST 2: ready; the JSON and Prometheus pages say when each worker took its SVID and when each bundle changed
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 100ms;
--- http_config eval
main::outer_upstreams()
--- config eval
$main::STATUS . main::outer_locations()
--- timeout: 20
--- request eval
["GET /probe/svids", "GET /probe/ready?status=200",
 "GET /probe/times", "HEAD /ready"]
--- response_body eval
["svids: $::NW\n",
 main::lines('status 200', 'content-type: application/json', 'ready true',
             'body {"ready":true}'),
 main::lines(map({ "worker $_: $::SELF taken recent" } 0 .. $::NW - 1),
             'bundle mesh.test: changed recent, from workload_api',
             'format: ok',
             'metrics: same as json'),
 ""]
--- no_error_log
[error]
[crit]



=== TEST 3: an expired SVID: 503 and which worker holds it; a new one: 200
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 100ms;
--- http_config eval
main::outer_upstreams()
--- config eval
$main::STATUS . main::outer_locations()
--- request eval
["GET /probe/svids", "GET /ctl/ttl/2",
 "GET /ctl/rotate-svid", "GET /probe/ready?status=503&secs=6",
 "GET /ctl/ttl/3600", "GET /ctl/rotate-svid",
 "GET /probe/ready?status=200"]
--- response_body eval
["svids: $::NW\n", "OK ttl=2\n", qr/^OK /,
 main::lines('status 503', 'content-type: application/json', 'ready false',
             map({ "worker $_: expired (pid, id $::SELF, not_after past)" }
                 0 .. $::NW - 1),
             'trust domains without bundle: -'),
 "OK ttl=3600\n", qr/^OK /,
 main::lines('status 200', 'content-type: application/json', 'ready true',
             'body {"ready":true}')]
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 4: configured trust domains: one with its bundle file, one whose bundle endpoint does not answer: 503 names that one
--- main_config eval
"spiffe_workload_api unix:\$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 100ms;
    spiffe_bundle partner.test \$TEST_NGINX_HTML_DIR/partner.pem;
    spiffe_federate other.org https://127.0.0.1:1/bundle.json;"
--- user_files eval
[["partner.pem", main::slurp("$ENV{TEST_NGINX_CERTS}/ca-b.pem")]]
--- http_config eval
main::outer_upstreams()
--- config eval
$main::STATUS . main::outer_locations()
--- timeout: 20
--- request eval
["GET /probe/svids", "GET /probe/ready?status=503",
 "GET /probe/times"]
--- response_body eval
["svids: $::NW\n",
 main::lines('status 503', 'content-type: application/json', 'ready false',
             'trust domains without bundle: other.org'),
 main::lines(map({ "worker $_: $::SELF taken recent" } 0 .. $::NW - 1),
             'bundle mesh.test: changed recent, from workload_api',
             'bundle partner.test: changed recent, from spiffe_bundle',
             'format: ok',
             'metrics: same as json')]
--- error_log
spiffe: federated bundle of "other.org" from "https://127.0.0.1:1/bundle.json" not used
--- no_error_log
[crit]



=== TEST 5: a spiffe_bundle file without any authority: 503 names its trust domain
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 100ms;
    spiffe_bundle partner.test $TEST_NGINX_HTML_DIR/empty.json;
--- user_files
>>> empty.json
{"keys": []}
--- http_config eval
main::outer_upstreams()
--- config eval
$main::STATUS . main::outer_locations()
--- timeout: 20
--- request eval
["GET /probe/svids", "GET /probe/ready?status=503"]
--- response_body eval
["svids: $::NW\n",
 main::lines('status 503', 'content-type: application/json', 'ready false',
             'trust domains without bundle: partner.test')]
--- error_log
spiffe: bundle of "partner.test" from "$TEST_NGINX_HTML_DIR/empty.json": 0 X.509 authorities, 0 JWT authorities
--- no_error_log
[error]
[crit]



=== TEST 6: "ready" takes no other argument
--- config
    location = /r { spiffe_status ready json; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid number of arguments in "spiffe_status" directive in \S+nginx\.conf:\d+}
