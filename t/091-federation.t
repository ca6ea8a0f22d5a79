# Federation: spiffe_federate fetches a trust domain's bundle from a SPIFFE
# bundle endpoint, on nginx's events, once per nginx instance (worker 0,
# shared memory), refreshed per spiffe_refresh_hint (30 s at the least),
# never going back in spiffe_sequence; a federated domain's peers are
# verified against that bundle only.
#
# The bundle endpoint is a server of the nginx under test itself (the
# fetch does not block the worker, so it can answer its own request):
#   https_web     127.0.0.1:$TEST_NGINX_WEB_PORT, a certificate for
#                 "localhost" from a test web CA made here with openssl;
#   https_spiffe  127.0.0.1:$TEST_NGINX_SPIFFE_PORT, serving nginx's own
#                 SVID (spiffe_svid on), or an SVID of other.org.
# Both serve $ENDPOINT_DIR, where doc() writes other.org's bundle: the
# agent's SPIFFE JWKS of other.org with the sequence and refresh hint a
# block wants.  Their access log, logs/bundle.log, counts the fetches.
#
# The mTLS layout is t/020-mtls-verify.t's: the TLS server under test on
# unix:$TEST_NGINX_SERVROOT/logs/tls.sock, /as/PEER/ and /fresh/PEER/ its
# clients, /probe/ Perl next to the test.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use File::Copy ();
use File::Temp qw(tempdir);
use JSON::PP ();
use SpiffeAgent;
use SpiffeMTLS qw(add_peer outer_upstreams outer_locations slurp
                  wait_lines start_probe agent_cmd http_get);
use Time::HiRes qw(sleep time);

our $SELF = 'spiffe://example.org/ns/edge/sa/nginx';
our $WEB = 'spiffe://example.org/ns/prod/sa/web';
our $OTHER = 'spiffe://other.org/ns/prod/sa/db';
our $ENDPOINT = 'spiffe://other.org/bundle-endpoint';

our $agent = SpiffeAgent->start(spiffe_id => $SELF);
our $state = $agent->state_dir;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
$ENV{TEST_NGINX_WEB_PORT} = $port + 2;
$ENV{TEST_NGINX_SPIFFE_PORT} = $port + 3;

our $DIR = tempdir('spiffe-fed-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $DIR;
mkdir "$DIR/www";
chmod 0755, "$DIR/www";
$ENV{TEST_NGINX_FED_DIR} = $DIR;

# the web PKI of the https_web endpoint, and a CA that did not sign it
sub web_pki {
    open my $stderr, '>&', \*STDERR or die;
    open STDERR, '>', '/dev/null' or die;
    for my $ca (qw(webca wrongca)) {
        system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
               'ec_paramgen_curve:P-256', '-nodes', '-keyout',
               "$DIR/$ca.key", '-out', "$DIR/$ca.pem", '-days', '2',
               '-subj', "/CN=$ca", '-addext',
               'basicConstraints=critical,CA:TRUE', '-addext',
               'keyUsage=critical,keyCertSign,cRLSign') == 0
            or die "openssl req $ca failed\n";
    }
    open my $ext, '>', "$DIR/web.ext" or die;
    print {$ext} "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                 . "basicConstraints=CA:FALSE\n"
                 . "keyUsage=critical,digitalSignature\n"
                 . "extendedKeyUsage=serverAuth\n";
    close $ext;
    system('openssl', 'req', '-newkey', 'ec', '-pkeyopt',
           'ec_paramgen_curve:P-256', '-nodes', '-keyout', "$DIR/web.key",
           '-out', "$DIR/web.csr", '-subj', '/CN=localhost') == 0
        or die "openssl req web failed\n";
    system('openssl', 'x509', '-req', '-in', "$DIR/web.csr", '-CA',
           "$DIR/webca.pem", '-CAkey', "$DIR/webca.key", '-CAcreateserial',
           '-days', '2', '-extfile', "$DIR/web.ext", '-out',
           "$DIR/web.pem") == 0
        or die "openssl x509 web failed\n";
    open STDERR, '>&', $stderr or die;
}

web_pki();

sub mint {
    my ($name, $id, @opt) = @_;
    $agent->control_ok("mint $id $name @opt");
    add_peer($name, "$state/$name.pem", "$state/$name.key");
}

# other.org: a CA (the agent's "new-td"), its peer o1, and the SVID of its
# bundle endpoint
sub new_other {
    $agent->control_ok('new-td other.org');
    $agent->control_ok('federate other.org');
    $agent->control_ok("mint $OTHER o1 ca=other.org");
    $agent->control_ok("mint $ENDPOINT endpoint ca=other.org");
}

mint('c1', $WEB);
$agent->control_ok('new-td other.org');
mint('o1', $OTHER, 'ca=other.org');
mint('o2', $OTHER, 'ca=other.org');
new_other();

# doc(seq => N, hint => S): the agent's JWKS of other.org, as the endpoint
# serves it; keep => NAME saves its CA for later blocks
sub doc {
    my (%o) = @_;
    open my $fh, '<', "$state/jwks/other.org.json" or die $!;
    my $doc = JSON::PP::decode_json(do { local $/; <$fh> });
    close $fh;
    if (exists $o{seq}) {
        $doc->{spiffe_sequence} = $o{seq} + 0;
    }
    if (defined $o{hint}) {
        $doc->{spiffe_refresh_hint} = $o{hint} + 0;
    } else {
        delete $doc->{spiffe_refresh_hint};
    }
    my $tmp = "$DIR/www/.other.json";
    open $fh, '>', $tmp or die $!;
    print {$fh} JSON::PP->new->canonical->encode($doc);
    close $fh;
    rename $tmp, "$DIR/www/other.json" or die $!;
}

start_probe(
    # the fetches the endpoint answered: how many, and the seconds
    # between the first two and between the last two
    fetches => sub {
        my (%q) = @_;
        my @t = map { /^(\d+\.\d+) GET/ ? $1 : () }
                wait_lines("$ENV{TEST_NGINX_SERVROOT}/logs/bundle.log",
                           qr/GET/, $q{n} // 1, $q{secs} // 0);
        my $out = scalar(@t) . " fetches\n";
        $out .= sprintf "%d s apart\n", $t[-1] - $t[-2] if @t >= 2;
        return $out;
    },

    # the endpoint's document changes (seq=N, hint=S, new=1: a new CA)
    doc => sub {
        my (%q) = @_;
        new_other() if $q{new};
        doc(seq => $q{seq}, hint => $q{hint});
        return "written\n";
    },

    # requests until two workers have answered for PEER (or 200 tries):
    # how many workers, and the answers that were not SUCCESS
    workers => sub {
        my (%q) = @_;
        my (%pids, %bad);
        for (1 .. 200) {
            my ($st, $body) = http_get("/fresh/$q{peer}/");
            if ($st == 200 && $body =~ /^SUCCESS\|\Q$OTHER\E\|(\d+)$/) {
                $pids{$1} = 1;
            } else {
                $bad{"$st $body"}++;
            }
            last if keys %pids >= 2;
        }
        return scalar(keys %pids) . " workers\n"
               . join('', map { "bad: $_" } sort keys %bad);
    },

    # the generations of other.org's bundle the workers took in
    generations => sub {
        my $log = slurp("$ENV{TEST_NGINX_SERVROOT}/logs/debug.log");
        my %g = map { $_ => 1 }
                $log =~ /spiffe: federated bundle of "other\.org", generation (\d+)/g;
        return join '', map { "generation $_\n" } sort { $a <=> $b } keys %g;
    },

    # nginx -s reload, then the first request of PEER at once
    reload => sub {
        my (%q) = @_;
        my $pid = slurp("$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid");
        chomp $pid;
        kill 'HUP', $pid or return "no master\n";
        wait_lines("$ENV{TEST_NGINX_SERVROOT}/logs/error.log",
                   qr/gracefully shutting down/, 1, 5);
        my ($st, $body) = http_get("/fresh/$q{peer}/");
        return "$st $body";
    },
);

log_level('info');
master_on();

workers(1);

# nginx's own clients of the TLS server under test (SpiffeMTLS): an
# upstream and a location /as/PEER/, /fresh/PEER/, ... for each peer
# minted above, /nocert/, /ctl/ and /probe/.  Every block that starts nginx
# names them: --- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS and
# --- config eval: $::OUTER_LOCATIONS (after its own locations).
our $OUTER_UPSTREAMS = outer_upstreams();
our $OUTER_LOCATIONS = outer_locations();

# the TLS server under test and the bundle endpoints
our $SERVERS = <<'END';
    log_format  fetch  '$msec $request';

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$pid";
        }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_WEB_PORT ssl;
        ssl_certificate $TEST_NGINX_FED_DIR/web.pem;
        ssl_certificate_key $TEST_NGINX_FED_DIR/web.key;
        access_log logs/bundle.log fetch;
        root $TEST_NGINX_FED_DIR/www;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_SPIFFE_PORT ssl;
        spiffe_svid on;
        access_log logs/bundle.log fetch;
        root $TEST_NGINX_FED_DIR/www;
    }
END

our $WAPI = "spiffe_workload_api unix:$ENV{TEST_NGINX_AGENT_SOCKET};";

sub web {
    my ($opt) = @_;
    return "$WAPI\nspiffe_federate other.org "
           . "https://localhost:$ENV{TEST_NGINX_WEB_PORT}/other.json "
           . ($opt // "bundle=$DIR/webca.pem") . ";\n";
}

run_tests();

__DATA__

=== TEST 1: https_web: the bundle is fetched once at start and its peers verified
--- init
main::doc(seq => 1);
--- main_config eval: main::web()
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /as/o1/", "GET /fresh/c1/",
 "GET /probe/fetches"]
--- response_body_like eval
["^1\n\\z", "^SUCCESS\\|\Q$::OTHER\E\\|\\d+\\z",
 "^SUCCESS\\|\Q$::WEB\E\\|\\d+\\z", "^1 fetches\n\\z"]
--- error_log eval
qr{\[info\] .*spiffe: federated bundle of "other\.org" from "https://localhost:\d+/other\.json": 1 X\.509 authorities, 1 JWT authorities, refresh in 300 s}
--- no_error_log
[error]
[crit]



=== TEST 2: a federated domain's peers are verified against its fetched bundle only, not the Workload API's
# The endpoint serves other.org's CA of now; then the agent makes a new
# CA for other.org and gives it over the Workload API: o2 of the new CA
# is refused, o1 of the fetched one is accepted.
--- init
$::agent->control_ok("mint $::OTHER o1 ca=other.org");
main::doc(seq => 1);
$::agent->control_ok('new-td other.org');
$::agent->control_ok('federate other.org');
$::agent->control_ok("mint $::OTHER o2 ca=other.org");
--- main_config eval: main::web()
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /fresh/o1/", "GET /fresh/o2/"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
["^1\n\\z", "^SUCCESS\\|\Q$::OTHER\E\\|", "certificate"]
--- error_log eval
qr{spiffe: peer X\.509-SVID refused: .* while SSL handshaking}
--- no_error_log
[error]
[crit]



=== TEST 3: https_web against a CA that did not sign the endpoint: logged once, the domain's peers refused
--- init
main::new_other(); main::doc(seq => 1);
--- main_config eval: main::web("bundle=$::DIR/wrongca.pem")
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /fresh/o1/", "GET /fresh/c1/",
 "GET /probe/fetches"]
--- error_code eval
[200, 400, 200, 200]
--- response_body_like eval
["^1\n\\z", "certificate", "^SUCCESS\\|\Q$::WEB\E\\|", "^0 fetches\n\\z"]
--- error_log eval
qr{\[error\] .*spiffe: federated bundle of "other\.org" from "https://localhost:\d+/other\.json" not used: SSL certificate problem: unable to get local issuer certificate; its peers are refused, retry in 30 s}
--- no_error_log
[crit]



=== TEST 4: https_spiffe: the endpoint presents nginx's own SVID, checked against the Workload API's bundle of its trust domain
--- init
main::new_other(); main::doc(seq => 1);
--- main_config eval
"$::WAPI
 spiffe_federate other.org https://127.0.0.1:$ENV{TEST_NGINX_SPIFFE_PORT}/other.json profile=https_spiffe endpoint_id=$::SELF;"
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /fresh/o1/"]
--- response_body_like eval
["^1\n\\z", "^SUCCESS\\|\Q$::OTHER\E\\|"]
--- error_log eval
qr{\[info\] .*spiffe: federated bundle of "other\.org" from "https://127\.0\.0\.1:\d+/other\.json": 1 X\.509 authorities}
--- no_error_log
[error]
[crit]



=== TEST 5: https_spiffe: another endpoint_id is refused, and the log names both
--- init
main::new_other(); main::doc(seq => 1);
--- main_config eval
"$::WAPI
 spiffe_federate other.org https://127.0.0.1:$ENV{TEST_NGINX_SPIFFE_PORT}/other.json profile=https_spiffe endpoint_id=spiffe://example.org/ns/bundles/sa/server;"
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /fresh/o1/"]
--- error_code eval
[200, 400]
--- response_body_like eval
["^1\n\\z", "certificate"]
--- error_log eval
qr{\[error\] .*spiffe: federated bundle of "other\.org" from "[^"]+" not used: the endpoint is "\Q$::SELF\E", not endpoint_id "spiffe://example\.org/ns/bundles/sa/server"; its peers are refused, retry in 30 s}
--- no_error_log
[crit]



=== TEST 6: https_spiffe: the endpoint in the domain it serves, bootstrapped with bundle=FILE
--- init
main::new_other(); main::doc(seq => 1);
--- main_config eval
"$::WAPI
 spiffe_federate other.org https://127.0.0.1:$ENV{TEST_NGINX_SPIFFE_PORT}/other.json profile=https_spiffe endpoint_id=$::ENDPOINT bundle=$::state/other.org/ca.pem;"
--- http_config eval
my $s = $::SERVERS;
$s =~ s{(listen 127\.0\.0\.1:\$TEST_NGINX_SPIFFE_PORT ssl;\n)\s+spiffe_svid on;}
       {$1        ssl_certificate $::state/endpoint.pem;\n        ssl_certificate_key $::state/endpoint.key;};
$s . $::OUTER_UPSTREAMS;
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /fresh/o1/"]
--- response_body_like eval
["^1\n\\z", "^SUCCESS\\|\Q$::OTHER\E\\|"]
--- error_log eval
qr{\[info\] .*spiffe: federated bundle of "other\.org" from "[^"]+": 1 X\.509 authorities}
--- no_error_log
[error]
[crit]



=== TEST 7: the refresh hint, at least 30 s; an older spiffe_sequence is refused; a new CA replaces the old one
# hint 1 is raised to 30 s.  Fetch 1: sequence 5.  Fetch 2, 30 s later:
# sequence 4, refused, o1 still trusted.  Fetch 3, 30 s later: sequence 6
# with a new CA: o1 of the old CA (what /fresh/o1/ presents, read at
# start) is refused, o1 of the new CA (curl reads the new files) trusted.
--- init
main::new_other(); main::doc(seq => 5, hint => 1);
File::Copy::copy("$::state/o1.pem", "$::DIR/old-o1.pem");
--- main_config eval: main::web()
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /fresh/o1/",
 "GET /probe/doc?seq=4&hint=1",
 "GET /probe/fetches?n=2&secs=35",
 "GET /probe/log?re=not%20used&secs=2", "GET /fresh/o1/",
 "GET /probe/doc?seq=6&hint=1&new=1",
 "GET /probe/fetches?n=3&secs=35",
 "GET /probe/log?re=federated%20bundle.*authorities&n=2&secs=2",
 "GET /fresh/o1/", "GET /probe/curl?peer=o1&urls=/"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 200]
--- response_body_like eval
["^1\n\\z", "^SUCCESS\\|\Q$::OTHER\E\\|", "written",
 "^2 fetches\n(?:29|30|31) s apart\n\\z",
 "^1\n\\z", "^SUCCESS\\|\Q$::OTHER\E\\|", "written",
 "^3 fetches\n(?:29|30|31) s apart\n\\z",
 "^2\n\\z", "certificate",
 "^HTTP/1\\.1 200 new=1 SUCCESS\\|\Q$::OTHER\E\\|\\d+\n\\z"]
--- timeout: 40
--- grep_error_log eval
qr/spiffe: federated bundle of "other\.org" from "[^"]+"(?::| not used:) [^,;]+/
--- grep_error_log_out eval
qr{\Aspiffe: federated bundle of "other\.org" from "[^"]+": 1 X\.509 authorities
spiffe: federated bundle of "other\.org" from "[^"]+" not used: its spiffe_sequence 4 is older than 5
spiffe: federated bundle of "other\.org" from "[^"]+": 1 X\.509 authorities
\z}
--- error_log eval
[qr{\[info\] .*refresh in 30 s},
 qr{\[error\] .*not used: its spiffe_sequence 4 is older than 5; keeping the last good one, retry in 30 s},
 qr{\[notice\] .*spiffe: federated bundle of "other\.org" .*refresh in 30 s}]
--- no_error_log
[crit]



=== TEST 8: the endpoint fails at start: logged once, peers refused; it recovers by itself 30 s later
--- init
main::new_other(); unlink "$::DIR/www/other.json";
--- main_config eval: main::web()
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=not%20used", "GET /fresh/o1/", "GET /probe/doc?seq=1",
 "GET /probe/log?re=federated%20bundle.*authorities&secs=35",
 "GET /fresh/o1/"]
--- error_code eval
[200, 400, 200, 200, 200]
--- response_body_like eval
["^1\n\\z", "certificate", "written", "^1\n\\z", "^SUCCESS\\|\Q$::OTHER\E\\|"]
--- timeout: 40
--- error_log eval
[qr{\[error\] .*spiffe: federated bundle of "other\.org" from "[^"]+" not used: HTTP status 404; its peers are refused, retry in 30 s},
 qr{\[notice\] .*spiffe: federated bundle of "other\.org" from "[^"]+": 1 X\.509 authorities}]
--- no_error_log
[crit]



=== TEST 9: a refresh hint whose milliseconds overflow 64 bits: clamped to one day, never a refetch loop
# 18446744073709552 s is 384 ms once multiplied by 1000 modulo 2^64
--- init
main::new_other(); main::doc(seq => 1, hint => '18446744073709552');
--- main_config eval: main::web()
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /probe/sleep?ms=2000",
 "GET /probe/fetches", "GET /fresh/o1/"]
--- response_body_like eval
["^1\n\\z", "^slept\n\\z", "^1 fetches\n\\z", "^SUCCESS\\|\Q$::OTHER\E\\|"]
--- error_log eval
qr{\[info\] .*spiffe: federated bundle of "other\.org" from "[^"]+": 1 X\.509 authorities, 1 JWT authorities, refresh in 86400 s}
--- no_error_log
[error]
[crit]



=== TEST 10: an unchanged document fetched again: the workers keep their bundle (no new generation), the log says so
# the workers' debug lines go to logs/debug.log
--- init
main::new_other(); main::doc(seq => 1, hint => 1);
--- main_config eval
main::web() . "error_log logs/debug.log debug;\n"
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /probe/fetches?n=2&secs=35",
 "GET /probe/log?re=unchanged&secs=2", "GET /fresh/o1/",
 "GET /probe/generations"]
--- response_body_like eval
["^1\n\\z", "^2 fetches\n(?:29|30|31) s apart\n\\z", "^1\n\\z",
 "^SUCCESS\\|\Q$::OTHER\E\\|", "^generation 1\n\\z"]
--- timeout: 40
--- grep_error_log eval
qr/spiffe: federated bundle of "other\.org" from "[^"]+"(?:: [^,;]+| unchanged)/
--- grep_error_log_out eval
qr{\Aspiffe: federated bundle of "other\.org" from "[^"]+": 1 X\.509 authorities
spiffe: federated bundle of "other\.org" from "[^"]+" unchanged
\z}
--- error_log eval
qr{\[info\] .*spiffe: federated bundle of "other\.org" from "[^"]+" unchanged, refresh in 30 s}
--- no_error_log
[error]
[crit]



=== TEST 11: two workers, one fetch: both trust the federated domain
--- skip_eval: 4: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
main::new_other(); main::doc(seq => 1); workers(2);
--- main_config eval: main::web()
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /probe/sleep?ms=1500",
 "GET /probe/workers?peer=o1", "GET /probe/fetches"]
--- response_body eval
["1\n", "slept\n", "2 workers\n", "1 fetches\n"]
--- no_error_log
[error]
[crit]



=== TEST 12: a reload keeps the federated bundle: the new workers trust at once and do not fetch again
--- skip_eval: 4: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
main::new_other(); main::doc(seq => 1); workers(1);
--- main_config eval: main::web()
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /probe/reload?peer=o1",
 "GET /probe/fetches"]
--- timeout: 10
--- response_body_like eval
["^1\n\\z", "^200 SUCCESS\\|\Q$::OTHER\E\\|", "^1 fetches\n\\z"]
--- no_error_log
[error]
[crit]



=== TEST 13: JWT-SVIDs of a federated domain, against its fetched JWT authorities
--- init
main::new_other(); main::doc(seq => 1);
$ENV{TEST_NGINX_JWT} = $::agent->mint_jwt($::OTHER, 'api', td => 'other.org');
--- main_config eval: main::web()
--- http_config eval: $::SERVERS . $::OUTER_UPSTREAMS
--- config eval
<<'EOC' . $::OUTER_LOCATIONS
    location = /jwt {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify|$spiffe_jwt_id\n";
    }
EOC
--- request eval
["GET /probe/log?re=federated%20bundle", "GET /jwt"]
--- more_headers eval
["", 'Authorization: Bearer $TEST_NGINX_JWT']
--- response_body eval
["1\n", "SUCCESS|$::OTHER\n"]
--- no_error_log
[error]
[crit]



=== TEST 14: config: not an https URL
--- main_config eval
"$::WAPI spiffe_federate other.org http://localhost/other.json;"
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_federate" needs an https:// URL, not "http://localhost/other\.json" in \S+nginx\.conf:\d+}



=== TEST 15: config: an unknown profile
--- main_config eval
"$::WAPI spiffe_federate other.org https://localhost/b profile=spiffe;"
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid profile "spiffe" in "spiffe_federate": https_web or https_spiffe in \S+nginx\.conf:\d+}



=== TEST 16: config: https_spiffe without endpoint_id
--- main_config eval
"$::WAPI spiffe_federate other.org https://localhost/b profile=https_spiffe;"
--- must_die
--- error_log eval
qr{\[emerg\] .*"profile=https_spiffe" needs "endpoint_id" in "spiffe_federate" in \S+nginx\.conf:\d+}



=== TEST 17: config: endpoint_id with https_web
--- main_config eval
"$::WAPI spiffe_federate other.org https://localhost/b endpoint_id=$::SELF;"
--- must_die
--- error_log eval
qr{\[emerg\] .*"endpoint_id" needs "profile=https_spiffe" in "spiffe_federate" in \S+nginx\.conf:\d+}



=== TEST 18: config: an endpoint_id that is not a SPIFFE ID
--- main_config eval
"$::WAPI spiffe_federate other.org https://localhost/b profile=https_spiffe endpoint_id=https://x;"
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid endpoint_id "https://x" in "spiffe_federate": SPIFFE ID .+ in \S+nginx\.conf:\d+}



=== TEST 19: config: https_spiffe with the endpoint in the fetched domain needs bundle=FILE
--- main_config eval
"$::WAPI spiffe_federate other.org https://localhost/b profile=https_spiffe endpoint_id=$::ENDPOINT;"
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_federate" needs "bundle=FILE": the endpoint "\Q$::ENDPOINT\E" is in the trust domain being fetched in \S+nginx\.conf:\d+}



=== TEST 20: config: bundle=FILE that cannot be read
--- main_config eval
"$::WAPI spiffe_federate other.org https://localhost/b bundle=$::DIR/none.pem;"
--- must_die
--- error_log eval
qr{\[emerg\] .*bundle "[^"]+/none\.pem": no such file in \S+nginx\.conf:\d+}



=== TEST 21: config: an unknown parameter
--- main_config eval
"$::WAPI spiffe_federate other.org https://localhost/b refresh=10s;"
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "refresh=10s" in "spiffe_federate" in \S+nginx\.conf:\d+}



=== TEST 22: config: a trust domain both federated and a spiffe_bundle
--- main_config eval
"$::WAPI
 spiffe_bundle other.org $::DIR/webca.pem;
 spiffe_federate other.org https://localhost/b;"
--- must_die
--- error_log eval
qr{\[emerg\] .*trust domain "other\.org" is already configured in \S+nginx\.conf:\d+ in \S+nginx\.conf:\d+}
