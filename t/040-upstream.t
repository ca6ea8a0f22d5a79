# Upstream mTLS (issue 5): spiffe_proxy_svid presents the worker's SVID to
# proxy_pass https:// and grpc_pass grpcs:// upstreams, and
# spiffe_proxy_verify refuses an upstream whose X.509-SVID does not match.
#
# The same nginx is both sides.  The outer locations (--- config) call TLS
# servers of $::UPSTREAMS, which every block names in its --- http_config,
# each on unix:$TEST_NGINX_SERVROOT/logs/NAME.sock:
#
#   up       spiffe_svid on: the worker's own SVID, spiffe://example.org/nginx
#   db       an SVID minted by the agent: spiffe://example.org/ns/db/sa/pg
#   expired  an agent-minted SVID whose notAfter was 10 s before it was made
#   web      an ordinary web certificate (no URI SAN)
#   cross    spiffe://other.org/x signed by CA A of t/cert/mkcerts.py, not
#            by other.org's CA B (impersonation)
#   unknown  spiffe://unknown.org/x (no bundle for unknown.org)
#   other    spiffe://other.org/ns/prod/sa/web from CA B (other.org is
#            federated by the agent with CA B: a valid foreign SVID)
#
# Every one of them has spiffe_verify_client on and answers
# "NAME saw $spiffe_id reused=$ssl_session_reused req=$connection_requests",
# so a body proves which SVID nginx presented, whether the TLS session was
# resumed and whether the connection was a kept-alive one.
#
# A gRPC-over-TLS server (t/lib/grpc_echo.py, Python grpcio) with an
# agent-minted SVID, spiffe://example.org/ns/grpc/sa/echo, stands for a
# non-nginx grpcs upstream.  /ctl/, in each block's --- config, drives the
# agent mid-block over its HTTP control interface.
#
# Refusals are expected errors: a block that expects them lists every
# [error] line of the log, in order, with --- grep_error_log $::LOG (the
# message without its context, and the module's debug lines on kept-alive
# connections and sessions), so no other error can slip in.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeUpstream qw(matrix_servers tls_servers);

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

# the identity source of the config-error blocks must be only what they say
delete $ENV{SPIFFE_ENDPOINT_SOCKET};

my $certs = SpiffeAgent::certs();
our $agent = SpiffeAgent->start();       # spiffe://example.org/nginx
my $state = $agent->state_dir;

$agent->control_ok("federate other.org $certs/ca-b.pem");
$agent->control_ok('mint spiffe://example.org/ns/db/sa/pg db');
$agent->control_ok('mint spiffe://example.org/ns/db/sa/old expired ttl=-10');
$agent->control_ok('mint spiffe://example.org/ns/grpc/sa/echo grpc-echo');

# ---- the gRPC-over-TLS upstream ------------------------------------------

our $ECHO_SOCK = "$state/echo.sock";
my $echo_pid = start_grpc_echo();

sub start_grpc_echo {
    my $script = dirname(abs_path(__FILE__)) . '/lib/grpc_echo.py';
    my $pidfile = "$state/echo.pid";
    unlink $pidfile;

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$state/echo.log";
        open STDERR, '>&', \*STDOUT;
        exec $SpiffeAgent::PYTHON, $script, '--listen', "unix:$ECHO_SOCK",
             '--cert', "$state/grpc-echo.pem", '--key', "$state/grpc-echo.key",
             '--ca', "$state/bundle.pem", '--pidfile', $pidfile
            or print STDERR "exec $SpiffeAgent::PYTHON: $!\n";
        POSIX::_exit(127);
    }

    my $deadline = time + 15;
    until (-s $pidfile && -S $ECHO_SOCK) {
        die "grpc_echo.py exited: see $state/echo.log\n"
            if waitpid($pid, WNOHANG) == $pid;
        die "grpc_echo.py not ready after 15 s\n" if time > $deadline;
        sleep 0.05;
    }
    return $pid;
}

END {
    if ($echo_pid) {
        kill 'TERM', $echo_pid;
        waitpid($echo_pid, 0);
    }
}

# ---- shared configuration ------------------------------------------------

# Every [error] line reduced to its message (without nginx's context), and
# [crit] ones (nginx 1.26 logs a refused upstream handshake at crit), and
# the module's debug lines about reusing upstream connections and sessions:
# in the order they were logged.
my $error = qr/\[(?:error|crit)\] \d+#\d+: (?:\*\d+ )?\K.*?(?= while |, client: |$)/;
my $debug = join '|', 'kept-alive upstream connection(?= \S+ not allowed)',
                      'kept-alive upstream peer no longer trusted: [^,\n]*',
                      'upstream session not allowed here',
                      'kept-alive upstream connection made presenting another client identity',
                      'upstream session made presenting another client identity',
                      'session not resumed: [^,\n]*';
our $LOG = qr/$error|spiffe: (?:$debug)/;

# the debug lines: a kept-alive connection not taken, a session not offered
# by the client (nginx), a session ticket refused by the server (nginx)
our $KA = "spiffe: kept-alive upstream connection\n";
our $SESS = "spiffe: upstream session not allowed here\n";
# the same, made presenting another identity (spiffe_proxy_svid)
our $OTHER_KA = "spiffe: kept-alive upstream connection made presenting "
                . "another client identity\n";
our $OTHER_SESS = "spiffe: upstream session made presenting another "
                  . "client identity\n";
our $STALE = "spiffe: session not resumed: resumed session predates a "
             . "bundle change\n";
# a kept-alive connection closed: its peer was verified under another
# bundle of its trust domain
our $UNTRUSTED = "spiffe: kept-alive upstream peer no longer trusted: "
                 . "resumed session predates a bundle change\n";

# one refused handshake in location LOC: the module's line, then nginx's
sub refused {
    my ($id, $loc, $reason) = @_;
    return SpiffeUpstream::refused($id, qq{location "$loc"}, $reason);
}

our $NOMATCH = 'its ID matches no spiffe_proxy_verify pattern';

my %servers = matrix_servers($state, $certs);

# up has a second address: an upstream {} of two servers with one ID
our $UPSTREAMS = tls_servers(\%servers, <<'EOC', up => 'up2.sock');
        location / {
            return 200 "NAME saw $spiffe_id reused=$ssl_session_reused req=$connection_requests\n";
        }
EOC

no_shuffle();

run_tests();

__DATA__

=== TEST 1: allowed upstream: 200, and the upstream saw our SVID
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    location /t {
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request
GET /t
--- response_body
up saw spiffe://example.org/nginx reused=. req=1
--- no_error_log
spiffe: kept-alive upstream connection
spiffe: upstream session not allowed here
[error]
[crit]



=== TEST 2: without spiffe_proxy_svid no client certificate is sent: the upstream refuses
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    location /nosvid {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request
GET /nosvid
--- error_code: 400
--- response_body_like: No required SSL certificate was sent
--- no_error_log
[error]
[crit]



=== TEST 3: spiffe_proxy_svid alone presents the SVID and checks nothing
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    # /off must not resume the session that /db made with our SVID
    upstream db_off {
        server unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }
EOC
--- config
    spiffe_proxy_svid on;
    location /db {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /web {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/web.sock:/;
    }
    location /off {
        spiffe_proxy_svid off;
        proxy_pass https://db_off/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /db", "GET /web", "GET /off"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
["\\Adb saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "\\Aweb saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "No required SSL certificate was sent"]
--- no_error_log
[error]
[crit]



=== TEST 4: an upstream with another ID: 502, and the log names its ID and the location
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    spiffe_proxy_svid on;
    location /api/ {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location ~ ^/re(/|$) {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
    location = /db {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /api/x", "GET /re/x", "GET /db"]
--- error_code eval
[502, 502, 502]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
::refused('spiffe://example.org/nginx', '/api/', $::NOMATCH)
. ::refused('spiffe://example.org/nginx', '^/re(/|$)', $::NOMATCH)
. ::refused('spiffe://example.org/ns/db/sa/pg', '/db', $::NOMATCH)



=== TEST 5: upstreams without a valid SVID: 502 and the reason; a federated one passes
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://example.org/** spiffe://other.org/**
                        spiffe://unknown.org/**;
    location /web {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/web.sock:/;
    }
    location /expired {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/expired.sock:/;
    }
    location /cross {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/cross.sock:/;
    }
    location /unknown {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/unknown.sock:/;
    }
    location /other {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/other.sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /web", "GET /expired", "GET /cross", "GET /unknown", "GET /other"]
--- error_code eval
[502, 502, 502, 502, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/502 Bad Gateway/, qr/502 Bad Gateway/,
 qr/502 Bad Gateway/,
 qr{\Aother saw spiffe://example\.org/nginx reused=\. req=1\n\z}]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
::refused('', '/web', 'no URI SAN')
. ::refused('spiffe://example.org/ns/db/sa/old', '/expired',
            'certificate has expired')
. ::refused('spiffe://other.org/x', '/cross',
            'unable to get local issuer certificate')
. ::refused('spiffe://unknown.org/x', '/unknown',
            'no bundle for trust domain')



=== TEST 6: patterns: exact, "*", "/**", regex, "all", several; sessions resume only where the peer matches
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    spiffe_proxy_svid on;
    location /ok/exact {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ok/star {
        spiffe_proxy_verify spiffe://example.org/ns/*/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ok/star2 {
        spiffe_proxy_verify spiffe://example.org/*/db/*/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ok/td {
        spiffe_proxy_verify spiffe://example.org/**;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ok/sub {
        spiffe_proxy_verify spiffe://example.org/ns/db/**;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ok/re {
        spiffe_proxy_verify "~^spiffe://example\.org/ns/db/sa/[a-z]+$";
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ok/all {
        spiffe_proxy_verify all;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ok/several {
        spiffe_proxy_verify spiffe://example.org/nginx
                            "~^spiffe://other\.org/"
                            spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }

    location /no/star {
        spiffe_proxy_verify spiffe://example.org/ns/*/sa/other;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /no/star-depth {
        spiffe_proxy_verify spiffe://example.org/*/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /no/td {
        spiffe_proxy_verify spiffe://other.org/**;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /no/below {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg/**;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /no/prefix {
        spiffe_proxy_verify spiffe://example.org/ns/db;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /no/case {
        spiffe_proxy_verify spiffe://example.org/ns/DB/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /no/re {
        spiffe_proxy_verify "~^spiffe://example\.org/ns/db$";
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /no/several {
        spiffe_proxy_verify spiffe://example.org/nginx "~/sa/web$"
                            spiffe://example.org/ns/db/sa/*/x;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
[map { "GET /$_" } qw(ok/exact ok/star ok/star2 ok/td ok/sub ok/re ok/all
                      ok/several no/star no/star-depth no/td no/below
                      no/prefix no/case no/re no/several)]
--- error_code eval
[(200) x 8, (502) x 8]
--- response_body_like eval
["\\Adb saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 ("\\Adb saw spiffe://example\\.org/nginx reused=r req=1\\n\\z") x 7,
 (qr/502 Bad Gateway/) x 8]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
join '', map { $::SESS . ::refused('spiffe://example.org/ns/db/sa/pg',
                                   "/no/$_", $::NOMATCH) }
         qw(star star-depth td below prefix case re several)



=== TEST 7: inherited from http and server, overridden in a location and a nested one
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://example.org/nginx;
EOC
--- config
    location /inherit {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /override {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /inherit-db {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /outer/ {
        spiffe_proxy_verify spiffe://example.org/ns/*/sa/pg;
        location /outer/db {
            proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
        }
        location /outer/up {
            proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
        }
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /inherit", "GET /override", "GET /inherit-db", "GET /outer/db",
 "GET /outer/up"]
--- error_code eval
[200, 200, 502, 200, 502]
--- response_body_like eval
["\\Aup saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "\\Adb saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "502 Bad Gateway",
 "\\Adb saw spiffe://example\\.org/nginx reused=r req=1\\n\\z",
 "502 Bad Gateway"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
$::SESS
. ::refused('spiffe://example.org/ns/db/sa/pg', '/inherit-db', $::NOMATCH)
. $::SESS
. ::refused('spiffe://example.org/nginx', '/outer/up', $::NOMATCH)



=== TEST 8: with proxy_ssl_verify on: SPIFFE decides, the host name is not checked
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    spiffe_proxy_svid on;
    proxy_ssl_verify on;
    proxy_ssl_session_reuse off;
    location /ok {
        proxy_ssl_trusted_certificate $TEST_NGINX_AGENT_STATE/bundle.pem;
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /name {
        proxy_ssl_trusted_certificate $TEST_NGINX_AGENT_STATE/bundle.pem;
        proxy_ssl_name wrong.example.com;
        proxy_ssl_server_name on;
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/db.sock:/;
    }
    location /wrong-id {
        proxy_ssl_trusted_certificate $TEST_NGINX_AGENT_STATE/bundle.pem;
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    # nginx's own check would pass this web server: SPIFFE still refuses it
    location /web {
        proxy_ssl_trusted_certificate $TEST_NGINX_CERTS/ca-web.pem;
        proxy_ssl_name localhost;
        spiffe_proxy_verify spiffe://example.org/**;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/web.sock:/;
    }
    # README: SPIFFE replaces nginx's checks, proxy_ssl_trusted_certificate
    # included: the SVID is verified with the bundle of its trust domain
    location /other-ca {
        proxy_ssl_trusted_certificate $TEST_NGINX_CERTS/ca-web.pem;
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /ok", "GET /name", "GET /wrong-id", "GET /web", "GET /other-ca"]
--- error_code eval
[200, 200, 502, 502, 200]
--- response_body_like eval
["\\Aup saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "\\Adb saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "502 Bad Gateway",
 "502 Bad Gateway",
 "\\Aup saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
::refused('spiffe://example.org/nginx', '/wrong-id', $::NOMATCH)
. ::refused('', '/web', 'no URI SAN')



=== TEST 9: keepalive: a kept-alive connection serves only locations whose patterns its peer matches
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream ka {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
        keepalive 8;
    }
EOC
--- config
    spiffe_proxy_svid on;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /plain {
        proxy_pass https://ka/;
    }
    location /allowed {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://ka/;
    }
    location /also {
        spiffe_proxy_verify spiffe://example.org/**;
        proxy_pass https://ka/;
    }
    location /other {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://ka/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
[map { "GET /$_" } qw(plain allowed also other allowed other allowed
                      allowed plain other also also)]
--- error_code eval
[200, 200, 200, 502, 200, 502, 200, 200, 200, 502, 200, 200]
--- response_body eval
["up saw spiffe://example.org/nginx reused=. req=1\n",
 # /plain's connection and session were never verified: not taken
 "up saw spiffe://example.org/nginx reused=. req=1\n",
 "up saw spiffe://example.org/nginx reused=. req=2\n",
 qr/502 Bad Gateway/,
 "up saw spiffe://example.org/nginx reused=r req=1\n",
 qr/502 Bad Gateway/,
 "up saw spiffe://example.org/nginx reused=r req=1\n",
 "up saw spiffe://example.org/nginx reused=r req=2\n",
 "up saw spiffe://example.org/nginx reused=r req=3\n",
 qr/502 Bad Gateway/,
 "up saw spiffe://example.org/nginx reused=r req=1\n",
 "up saw spiffe://example.org/nginx reused=r req=2\n"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
$::KA . $::SESS
. ($::KA . $::SESS . ::refused('spiffe://example.org/nginx', '/other',
                               $::NOMATCH)) x 3



=== TEST 10: keepalive: a kept-alive connection is reused only while its peer's trust stands
# A CRL that revokes rv changes example.org's bundle: both kept
# connections were verified under the old one and are closed.  up is
# trusted under the new bundle and gets a new connection; rv is refused.
--- init
my %r = $::agent->control_ok('mint spiffe://example.org/ns/rv/sa/x rv');
$ENV{TEST_NGINX_RV_SERIAL} = $r{serial};
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream kb {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
        keepalive 8;
    }
    upstream kr {
        server unix:$TEST_NGINX_SERVROOT/logs/rv.sock;
        keepalive 8;
    }
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/rv.sock ssl;
        ssl_certificate $TEST_NGINX_AGENT_STATE/rv.pem;
        ssl_certificate_key $TEST_NGINX_AGENT_STATE/rv.key;
        location / {
            return 200 "rv req=$connection_requests\n";
        }
    }
EOC
--- config
    spiffe_proxy_svid on;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /kb {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://kb/;
    }
    location /kr {
        spiffe_proxy_verify spiffe://example.org/ns/rv/sa/x;
        proxy_pass https://kr/;
    }
    # the serial is known once --- init has run: in the config, not in
    # the requests (an eval, read before it)
    location = /revoke-rv {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/revoke/$TEST_NGINX_RV_SERIAL?wait_ms=200;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /kb", "GET /kb", "GET /kr", "GET /kr",
 "GET /revoke-rv",
 "GET /ctl/wait-streams/1?wait_ms=100",
 "GET /kb", "GET /kb", "GET /kr"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 502]
--- response_body eval
my $up = 'up saw spiffe://example.org/nginx';
["$up reused=. req=1\n", "$up reused=. req=2\n", "rv req=1\n", "rv req=2\n",
 "OK revoked=1\n", qr/\AOK ready=1\n?\z/,
 "$up reused=. req=1\n", "$up reused=. req=2\n", qr/502 Bad Gateway/]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
$::UNTRUSTED . $::SESS
. $::UNTRUSTED . $::SESS
. ::refused('spiffe://example.org/ns/rv/sa/x', '/kr', 'revoked')



=== TEST 11: an upstream {} with a zone: sessions kept in shared memory resume where the peer matches
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream z {
        zone z 64k;
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
EOC
--- config
    spiffe_proxy_svid on;
    location /allowed {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://z/;
    }
    location /other {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://z/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /allowed", "GET /allowed", "GET /other", "GET /allowed"]
--- error_code eval
[200, 200, 502, 200]
--- response_body eval
["up saw spiffe://example.org/nginx reused=. req=1\n",
 "up saw spiffe://example.org/nginx reused=r req=1\n",
 qr/502 Bad Gateway/,
 "up saw spiffe://example.org/nginx reused=r req=1\n"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
$::SESS . ::refused('spiffe://example.org/nginx', '/other', $::NOMATCH)



=== TEST 12: proxy_pass with variables (no upstream {} to wrap): every handshake is still checked
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    spiffe_proxy_svid on;
    set $up_sock $TEST_NGINX_SERVROOT/logs/up.sock;
    location /allowed {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:$up_sock:/;
    }
    location /other {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$up_sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /allowed", "GET /other", "GET /allowed"]
--- error_code eval
[200, 502, 200]
--- response_body eval
["up saw spiffe://example.org/nginx reused=. req=1\n",
 qr/502 Bad Gateway/,
 "up saw spiffe://example.org/nginx reused=. req=1\n"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
::refused('spiffe://example.org/nginx', '/other', $::NOMATCH)



=== TEST 13: a refused server is skipped for the next one, as after a connection error
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream mixed {
        server unix:$TEST_NGINX_SERVROOT/logs/db.sock max_fails=0;
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock max_fails=0;
    }
EOC
--- config
    spiffe_proxy_svid on;
    location /to-up {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://mixed/;
    }
    location /to-db {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://mixed/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
[map { "GET /$_" } qw(to-up to-up to-db to-db to-up to-db)]
--- response_body_like eval
["\\Aup saw spiffe://example\\.org/nginx reused=[.r] req=1\\n\\z",
 "\\Aup saw spiffe://example\\.org/nginx reused=[.r] req=1\\n\\z",
 "\\Adb saw spiffe://example\\.org/nginx reused=[.r] req=1\\n\\z",
 "\\Adb saw spiffe://example\\.org/nginx reused=[.r] req=1\\n\\z",
 "\\Aup saw spiffe://example\\.org/nginx reused=[.r] req=1\\n\\z",
 "\\Adb saw spiffe://example\\.org/nginx reused=[.r] req=1\\n\\z"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
# round robin starts with db.sock; a session saved under one location's
# patterns is not offered under the other's
::refused('spiffe://example.org/ns/db/sa/pg', '/to-up', $::NOMATCH)
. $::SESS . ::refused('spiffe://example.org/nginx', '/to-db', $::NOMATCH)
. $::SESS . ::refused('spiffe://example.org/ns/db/sa/pg', '/to-up', $::NOMATCH)
. $::SESS . ::refused('spiffe://example.org/nginx', '/to-db', $::NOMATCH)



=== TEST 14: a location whose patterns an upstream does not match does not take it down for the others
# A pattern refusal is the location's policy, not a failure of the server:
# it counts against neither max_fails nor fail_timeout.
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream two {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
        server unix:$TEST_NGINX_SERVROOT/logs/up2.sock;
    }
EOC
--- config
    spiffe_proxy_svid on;
    location /right {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://two/;
    }
    location /wrong {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://two/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /right", "GET /wrong", "GET /right", "GET /right"]
--- error_code eval
[200, 502, 200, 200]
--- response_body_like eval
["\\Aup saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "502 Bad Gateway",
 "\\Aup saw spiffe://example\\.org/nginx reused=[.r] req=1\\n\\z",
 "\\Aup saw spiffe://example\\.org/nginx reused=[.r] req=1\\n\\z"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
# /wrong tries both servers: up2.sock (no session yet), then up.sock
::refused('spiffe://example.org/nginx', '/wrong', $::NOMATCH)
. $::SESS . ::refused('spiffe://example.org/nginx', '/wrong', $::NOMATCH)



=== TEST 15: grpc_pass grpcs:// to a gRPC server (Python grpcio) with an SVID
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    log_format grpc '$request_uri $status $upstream_http_content_type '
                    'grpc-status=$upstream_trailer_grpc_status '
                    'echo-done=$upstream_trailer_x_echo_done';
EOC
--- config
    spiffe_proxy_svid on;
    location /test.Echo/ {
        spiffe_proxy_verify spiffe://example.org/ns/grpc/sa/*;
        access_log logs/grpc.log grpc;
        grpc_pass grpcs://unix:$TEST_NGINX_AGENT_STATE/echo.sock;
    }
    location /wrong/ {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        rewrite ^/wrong(/.*)$ $1 break;
        access_log logs/grpc.log grpc;
        grpc_pass grpcs://unix:$TEST_NGINX_AGENT_STATE/echo.sock;
    }
    location = /grpc.log {
        alias $TEST_NGINX_SERVROOT/logs/grpc.log;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- more_headers
Content-Type: application/grpc
TE: trailers
--- request eval
# HTTP/1.0: no chunked answer with trailers, which Test::Nginx cannot read
["POST /test.Echo/Say HTTP/1.0\n\x00\x00\x00\x00\x05hello",
 "POST /wrong/test.Echo/Say HTTP/1.0\n\x00\x00\x00\x00\x05hello",
 "GET /grpc.log"]
--- error_code eval
[200, 502, 200]
--- response_headers eval
["Content-Type: application/grpc\nX-Echo-Peer: spiffe://example.org/nginx",
 "", ""]
--- response_body eval
[do { my $m = 'saw spiffe://example.org/nginx said hello';
      "\x00" . pack('N', length $m) . $m },
 qr/502 Bad Gateway/,
 "/test.Echo/Say 200 application/grpc grpc-status=0 echo-done=yes\n"
 . "/wrong/test.Echo/Say 502 - grpc-status=- echo-done=-\n"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
# the session saved by /test.Echo/ is not offered under /wrong/'s patterns
$::SESS
. ::refused('spiffe://example.org/ns/grpc/sa/echo', '/wrong/', $::NOMATCH)



=== TEST 16: SVID rotation on both sides under a stream of requests loses none; new connections use the new SVIDs
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream ka {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
        keepalive 8;
    }
EOC
--- config
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://example.org/nginx spiffe://example.org/nginx-2;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # a full handshake for every request
    location /fresh {
        proxy_ssl_session_reuse off;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /ka {
        proxy_pass https://ka/;
    }
    # only the upstream's new SVID
    location /only2 {
        spiffe_proxy_verify spiffe://example.org/nginx-2;
        proxy_ssl_session_reuse off;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    # SSI: the rotation back amid 24 requests in parallel
    location = /burst.html {
        default_type text/html;
        ssi on;
        root $TEST_NGINX_HTML_DIR;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- user_files eval
my $reqs = join '', map { qq{<!--# include virtual="/$_" -->} }
                        (qw(fresh ka)) x 6;
[['burst.html', $reqs
  . '<!--# include virtual="/ctl/rotate-svid?arg=spiffe://example.org/nginx" -->'
  . "\n" . $reqs]]
--- request eval
[
 "GET /ka",
 "GET /fresh",
 "GET /only2",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=200",
 "GET /ctl/wait-streams/1?wait_ms=100",
 # the kept-alive connection stays up with the SVIDs it was made with
 "GET /ka",
 "GET /fresh",
 "GET /only2",
 (map { ("GET /fresh", "GET /ka") } 1 .. 5),
 "GET /burst.html",
 "GET /ctl/wait-streams/1?wait_ms=100",
 "GET /fresh",
 "GET /only2",
 (map { ("GET /fresh", "GET /ka") } 1 .. 5),
]
--- error_code eval
[200, 200, 502, 200, 200, 200, 200, 200, (200) x 10, 200, 200, 200, 502,
 (200) x 10]
--- response_body_like eval
my $n1 = 'up saw spiffe://example\.org/nginx reused=';
my $n2 = 'up saw spiffe://example\.org/nginx-2 reused=';
[
 "\\A${n1}\\. req=1\\n\\z",
 "\\A${n1}\\. req=1\\n\\z",
 "502 Bad Gateway",
 "\\AOK serial=[0-9a-f]+ id=spiffe://example\\.org/nginx-2\\n?\\z",
 "\\AOK ready=1\\n?\\z",
 "\\A${n1}\\. req=2\\n\\z",
 "\\A${n2}\\. req=1\\n\\z",
 "\\A${n2}\\. req=1\\n\\z",
 (map { ("\\A${n2}\\. req=1\\n\\z", "\\A${n1}\\. req=\\d+\\n\\z") } 1 .. 5),
 do { my $up = "(?:up saw spiffe://example\\.org/nginx(?:-2)? "
              . "reused=[.r] req=\\d+\\n){12}";
      "\\A${up}OK serial=[0-9a-f]+ id=spiffe://example\\.org/nginx\\n?\\n"
      . "$up\\z" },
 "\\AOK ready=1\\n?\\z",
 "\\A${n1}\\. req=1\\n\\z",
 "502 Bad Gateway",
 (map { ("\\A${n1}\\. req=1\\n\\z",
         "\\Aup saw spiffe://example\\.org/nginx(?:-2)? reused=[.r] "
         . "req=\\d+\\n\\z") } 1 .. 5),
]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
::refused('spiffe://example.org/nginx', '/only2', $::NOMATCH) x 2



=== TEST 17: SVIDs expire: a kept-alive connection to an expired peer is closed, a session is not offered, a new handshake fails
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream ka {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
        keepalive 8;
    }
EOC
--- config
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://example.org/nginx;
    location /ka {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass https://ka/;
    }
    location /t {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- timeout: 6
--- request eval
[
 # SVIDs valid for 3 s from now (2 s and more: notAfter has no fraction)
 "GET /ctl/ttl/3",
 "GET /ctl/rotate-svid?wait_ms=100",
 "GET /ctl/wait-streams/1?wait_ms=100",
 "GET /ka", "GET /ka", "GET /t", "GET /t",
 # until both SVIDs have expired
 "GET /ctl/status?wait_ms=3300",
 "GET /ka", "GET /t",
 "GET /ctl/ttl/3600",
 "GET /ctl/rotate-svid?wait_ms=100",
 "GET /ctl/wait-streams/1?wait_ms=100",
 "GET /t", "GET /ka",
]
--- response_body eval
my $up = 'up saw spiffe://example.org/nginx';
[
 "OK ttl=3\n",
 qr/\AOK serial=/, qr/\AOK ready=1/,
 "$up reused=. req=1\n", "$up reused=. req=2\n",
 "$up reused=. req=1\n", "$up reused=r req=1\n",
 qr/\AOK serial=/,
 qr/502 Bad Gateway/, qr/502 Bad Gateway/,
 "OK ttl=3600\n",
 qr/\AOK serial=/, qr/\AOK ready=1/,
 "$up reused=. req=1\n",
 "$up reused=. req=1\n",
]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 502, 502, 200, 200, 200, 200, 200]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
my $failed = "SSL_do_handshake() failed (SSL: error:0A000438:SSL routines::"
             . "tlsv1 alert internal error:SSL alert number 80)\n";
# /ka: the kept connection's peer has expired: closed; its session is not
# offered either, and the server has no SVID
"spiffe: kept-alive upstream peer no longer trusted: certificate has expired\n"
. $::SESS
. qq{spiffe: SVID "spiffe://example.org/nginx" has expired and no new one came\n}
. $failed
# /t: the same, but the server said why once already
. $::SESS . $failed
# after the rotation: the saved sessions are still the expired ones
. $::SESS . $::SESS



=== TEST 18: sessions resume, but not across a bundle change (client and server side)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    # its own session slot: the server alone judges its session
    upstream nv {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
EOC
--- config
    spiffe_proxy_svid on;
    location /t {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /any {
        spiffe_proxy_verify spiffe://example.org/**;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /db-only {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /noverify {
        proxy_pass https://nv/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
[
 "GET /t", "GET /t", "GET /any", "GET /db-only", "GET /t",
 "GET /noverify", "GET /noverify",
 "GET /ctl/rotate-ca?arg=keep-old&wait_ms=200",
 "GET /ctl/wait-streams/1?wait_ms=100",
 "GET /t", "GET /t",
 "GET /noverify", "GET /noverify",
 "GET /any",
]
--- error_code eval
[200, 200, 200, 502, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body eval
my $up = 'up saw spiffe://example.org/nginx';
[
 "$up reused=. req=1\n", "$up reused=r req=1\n", "$up reused=r req=1\n",
 qr/502 Bad Gateway/, "$up reused=r req=1\n",
 "$up reused=. req=1\n", "$up reused=r req=1\n",
 qr/\AOK serial=[0-9a-f]+ ca=[0-9a-f:]+\n?\z/i,
 qr/\AOK ready=1\n?\z/,
 # the client does not offer the session: the bundle changed
 "$up reused=. req=1\n", "$up reused=r req=1\n",
 # the client offers it, the server refuses its ticket
 "$up reused=. req=1\n", "$up reused=r req=1\n",
 "$up reused=r req=1\n",
]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
$::SESS . ::refused('spiffe://example.org/nginx', '/db-only', $::NOMATCH)
. $::SESS
. $::STALE



=== TEST 19: spiffe_proxy_svid and proxy_ssl_certificate in one location
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location /x {
        spiffe_proxy_svid on;
        proxy_ssl_certificate $TEST_NGINX_CERTS/web.pem;
        proxy_ssl_certificate_key $TEST_NGINX_CERTS/web.key;
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_svid" cannot be combined with "proxy_ssl_certificate" in location "/x" in \S+nginx\.conf:\d+}



=== TEST 20: no identity source
--- config
    location /x {
        spiffe_proxy_svid on;
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_svid" needs an identity source: "spiffe_workload_api", "spiffe_svid_dir" or SPIFFE_ENDPOINT_SOCKET in \S+nginx\.conf:\d+}



=== TEST 21: no identity source, spiffe_proxy_verify alone
--- config
    location /x {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_verify" needs an identity source: "spiffe_workload_api", "spiffe_svid_dir" or SPIFFE_ENDPOINT_SOCKET in \S+nginx\.conf:\d+}



=== TEST 22: spiffe_proxy_svid inherited from the server, proxy_ssl_certificate in a location
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    spiffe_proxy_svid on;
    location /fine {
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
    location /cert/ {
        proxy_ssl_certificate $TEST_NGINX_CERTS/web.pem;
        proxy_ssl_certificate_key $TEST_NGINX_CERTS/web.key;
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_svid" cannot be combined with "proxy_ssl_certificate" in location "/cert/" in \S+nginx\.conf:\d+}



=== TEST 23: spiffe_proxy_svid and grpc_ssl_certificate in one location
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location /x {
        spiffe_proxy_svid on;
        grpc_ssl_certificate $TEST_NGINX_CERTS/web.pem;
        grpc_ssl_certificate_key $TEST_NGINX_CERTS/web.key;
        grpc_pass grpcs://unix:/nonexistent/up.sock;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_svid" cannot be combined with "grpc_ssl_certificate" in location "/x" in \S+nginx\.conf:\d+}



=== TEST 24: a bad pattern, with file and line
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location /x {
        spiffe_proxy_verify spiffe://example.org/ns/web-*;
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID pattern "spiffe://example\.org/ns/web-\*" in "spiffe_proxy_verify": it has "\*" inside a segment \("\*" stands for a whole segment\) in \S+nginx\.conf:\d+$}m



=== TEST 25: a bad pattern after a good one
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location /x {
        spiffe_proxy_verify spiffe://example.org/nginx
                            spiffe://Example.org/ns/web;
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID pattern "spiffe://Example\.org/ns/web" in "spiffe_proxy_verify": it has uppercase letters in the trust domain in \S+nginx\.conf:\d+$}m



=== TEST 26: a pattern without a path
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    spiffe_proxy_verify spiffe://example.org;
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID pattern "spiffe://example\.org" in "spiffe_proxy_verify": it has no path and so matches no workload .* in \S+nginx\.conf:\d+$}m



=== TEST 27: a bad regex
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location /x {
        spiffe_proxy_verify "~^spiffe://(example";
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid regex "~\^spiffe://\(example" in "spiffe_proxy_verify": .* in \S+nginx\.conf:\d+$}m



=== TEST 28: spiffe_proxy_verify twice in one context
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location /x {
        spiffe_proxy_verify spiffe://example.org/nginx;
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_verify" directive is duplicate in \S+nginx\.conf:\d+$}m



=== TEST 29: spiffe_proxy_verify without a pattern
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location /x {
        spiffe_proxy_verify;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid number of arguments in "spiffe_proxy_verify" directive in \S+nginx\.conf:\d+$}m



=== TEST 30: spiffe_proxy_svid takes on, off, hint=HINT or a SPIFFE ID
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    spiffe_proxy_svid yes;
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "yes" in "spiffe_proxy_svid" directive, it must be "on", "off", "hint=HINT" or a SPIFFE ID in \S+nginx\.conf:\d+$}m



=== TEST 31: spiffe_proxy_verify with a cleartext proxy_pass: refused, naming the directive's file and line
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location /x {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass http://unix:/nonexistent/up.sock:/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_verify" in \S+nginx\.conf:\d+ needs TLS to the upstream of location "/x": its "proxy_pass" is cleartext}



=== TEST 32: spiffe_proxy_verify inherited by a location with a cleartext grpc_pass: refused
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    spiffe_proxy_verify spiffe://example.org/nginx;
    location /x {
        grpc_pass grpc://unix:/nonexistent/up.sock;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_verify" in \S+nginx\.conf:\d+ needs TLS to the upstream of location "/x": its "grpc_pass" is cleartext}



=== TEST 33: "spiffe_proxy_verify off" lets one location of a verifying server proxy in cleartext
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://example.org/nginx;
    location /tls {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /clear {
        spiffe_proxy_verify off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/target;
    }
    location = /target {
        return 200 "cleartext target\n";
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /tls", "GET /clear"]
--- response_body eval
["up saw spiffe://example.org/nginx reused=. req=1\n",
 "cleartext target\n"]
--- no_error_log
[error]
[crit]



=== TEST 34: a location without spiffe directives next to one with spiffe_proxy_svid, no proxy_ssl_* anywhere, one upstream: neither resumes the TLS session of the other
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::UPSTREAMS
--- config
    location /plain {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /svid {
        spiffe_proxy_svid on;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /verify {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
[map { "GET /$_" } qw(svid svid plain verify svid)]
--- error_code eval
[200, 200, 400, 400, 200]
--- response_body_like eval
["\\Aup saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "\\Aup saw spiffe://example\\.org/nginx reused=r req=1\\n\\z",
 # /svid's session would show the upstream our SVID
 "No required SSL certificate was sent",
 "No required SSL certificate was sent",
 # /verify's session was made presenting nothing
 "\\Aup saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
"$::OTHER_SESS$::SESS$::OTHER_SESS"



=== TEST 35: a keepalive upstream {} shared by a location with spiffe_proxy_svid and one without: a connection kept for one does not serve the other
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream ka {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
        keepalive 8;
    }
EOC
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /plain {
        proxy_pass https://ka/;
    }
    location /svid {
        spiffe_proxy_svid on;
        proxy_pass https://ka/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
[map { "GET /$_" } qw(svid svid plain svid)]
--- error_code eval
[200, 200, 400, 200]
--- response_body_like eval
["\\Aup saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z",
 "\\Aup saw spiffe://example\\.org/nginx reused=\\. req=2\\n\\z",
 # not /svid's kept connection, nor its session
 "No required SSL certificate was sent",
 # nor /plain's session
 "\\Aup saw spiffe://example\\.org/nginx reused=\\. req=1\\n\\z"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
"$::OTHER_KA$::OTHER_SESS$::OTHER_SESS"



=== TEST 36: proxy_pass with a variable to a keepalive upstream {} that locations verifying other patterns, nothing, or with proxy_ssl_* of their own share
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::UPSTREAMS
    upstream ka {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
        keepalive 8;
    }
EOC
--- config
    spiffe_proxy_svid on;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    set $ka ka;
    location /plain {
        proxy_pass https://ka/;
    }
    location /own {
        proxy_ssl_protocols TLSv1.2 TLSv1.3;
        proxy_pass https://ka/;
    }
    location /var {
        spiffe_proxy_verify spiffe://example.org/nginx;
        proxy_pass https://$ka/;
    }
    location /var-other {
        spiffe_proxy_verify spiffe://example.org/ns/db/sa/pg;
        proxy_pass https://$ka/;
    }
    location /ctl/ {
        spiffe_proxy_verify off;
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
[map { "GET /$_" } qw(plain var var own var var-other var)]
--- error_code eval
[200, 200, 200, 200, 200, 502, 200]
--- response_body eval
["up saw spiffe://example.org/nginx reused=. req=1\n",
 # /plain's connection and session were never verified: not taken
 "up saw spiffe://example.org/nginx reused=. req=1\n",
 "up saw spiffe://example.org/nginx reused=. req=2\n",
 # /own takes a kept-alive connection, as it verifies nothing
 qr/\Aup saw spiffe:\/\/example\.org\/nginx reused=[.r] req=\d+\n\z/,
 qr/\Aup saw spiffe:\/\/example\.org\/nginx reused=[.r] req=\d+\n\z/,
 qr/502 Bad Gateway/,
 qr/\Aup saw spiffe:\/\/example\.org\/nginx reused=[.r] req=\d+\n\z/]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
qr/\A\Q$::KA$::SESS\E(?:\Q$::KA\E)*\Q$::KA$::SESS\E\Q@{[::refused('spiffe:\/\/example.org\/nginx', '\/var-other', $::NOMATCH)]}\E/
