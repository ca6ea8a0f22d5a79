# spiffe_status (issue 8), the counters, summed over all workers: client
# handshakes verified and refused by reason (spiffe_verify_client on and
# optional), resumed sessions, upstream verification, JWT-SVIDs, HTTP/2.
# The fixture (agent, peers, the outer clients that blocks name with
# main::outer_http() and main::outer_config()) is
# t/lib/SpiffeStatusSuite.pm.
#
# Counters are checked as deltas: a probe action reads the page, makes its
# requests, reads it again and answers with every counter that moved, so a
# block's --- response_body states exactly which counters move, and by how
# much.  The probe runs its requests one by one on new connections, which
# both workers accept (the "inner workers" line says how many served).

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeStatusSuite;
use SpiffeMTLS qw(start_probe agent_cmd curl);
use SpiffeStatus qw(request counters delta_text);

# the fixture's (t/lib/SpiffeStatusSuite.pm)
our ($NW, %LABEL);

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

start_probe(
    traffic => \&traffic_report,
    h2      => \&h2_report,
);

run_tests();

__DATA__

=== TEST 1: counters of both workers: allowed, denied, no certificate, hostile certificates (spiffe_verify_client on)
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
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
EOC
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
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
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 2: spiffe_verify_client optional: no verified ID is its own decision; a refused certificate still counts as refused
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
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
EOC
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
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
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 3: each refusal reason has its label: one peer of each kind
--- init
workers(1);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;
        add_header X-Inner-Pid $pid always;

        location / {
            return 200 "$spiffe_verify\n";
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
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
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 4: a resumed TLS session counts as resumed, not as a new verification (one worker)
--- init
workers(1);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
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
EOC
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
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
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 5: sessions without a verified ID (refused certificate, no certificate) are not counted as resumed (one worker)
# Regression (fixed in 702f420): such a session has no SPIFFE data, and
# ngx_spiffe_ssl_session_resume() took the NGX_DECLINED of
# ngx_spiffe_ssl_session_check() as a success: the session was resumed with
# peer status NONE and counted in handshakes.resumed, and a refused
# certificate's $spiffe_verify turned from FAILED:... into NONE
--- init
workers(1);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client optional;
        add_header X-Inner-Pid $pid always;

        location / {
            return 200 "$spiffe_verify\n";
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
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
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 6: upstream side: spiffe_proxy_verify verified and refused (not_allowed)
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
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
EOC
--- config eval
<<'EOC' . main::outer_config()
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
EOC
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
--- timeout: 30



=== TEST 7: JWT-SVID counters: valid, invalid, missing; spiffe_jwt_allow/deny decisions; the JWT bundle in "bundles"
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
    location = /jwt {
        spiffe_jwt optional;
        spiffe_jwt_audience status-test;
        spiffe_jwt_allow spiffe://mesh.test/ns/prod/**;
        spiffe_jwt_deny all;
        alias $TEST_NGINX_HTML_DIR/ok.txt;
    }
EOC
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
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 8: HTTP/2, three requests on one connection with a refused certificate: one refused handshake
--- init
workers(1);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl http2;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify\n";
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
EOC
--- request
GET /probe/h2?peer=ca-leaf
--- response_body
HTTP/2 400 new=1
HTTP/2 400 new=0
HTTP/2 400 new=0
deltas:
handshakes.client.refused.leaf_rules +1
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 9: HTTP/2, three requests on one connection without a certificate: one refused handshake
# Regression (fixed in 702f420): the no_certificate refusal was counted
# per request (in the verify handler), not per handshake: three requests on
# one HTTP/2 connection counted 3 refused handshakes (TEST 8, a refused
# certificate on the same path, counts 1)
--- init
workers(1);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl http2;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify\n";
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
EOC
--- request
GET /probe/h2
--- response_body
HTTP/2 400 new=1
HTTP/2 400 new=0
HTTP/2 400 new=0
deltas:
handshakes.client.refused.no_certificate +1
--- timeout: 30
--- no_error_log
[error]
[crit]
