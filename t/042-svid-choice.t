# An identity per server and per upstream (issue 22, part 1): the agent
# serves three SVIDs in one X509SVIDResponse,
#
#   spiffe://example.org/nginx         the first, hint "default"
#   spiffe://example.org/ns/web/sa/a   hint "web"
#   spiffe://example.org/ns/api/sa/b   hint "api"
#
# and "spiffe_svid" / "spiffe_proxy_svid" choose one of them: on (the
# first), hint=HINT or the SPIFFE ID.  Stream servers under test proxy to
# logs/plain.sock, an http server that answers "s".
#
# Servers chosen by SNI on one address (logs/sni.sock) each present their
# own SVID: a.test hint=web, b.test on, c.test the ID of "api", d.test
# hint=missing (no such SVID).  The outer locations /a ... /d call them with
# that server name and check with spiffe_proxy_verify which SVID they
# presented; each answers "NAME $spiffe_svid_id".  The upstream "up"
# (logs/up.sock, spiffe_verify_client on) answers with the ID that a
# location presented to it, and whether the TLS session was resumed.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeStream qw($MODULES);
use SpiffeMTLS qw(start_probe agent_cmd slurp wait_lines);

our $WEB = 'spiffe://example.org/ns/web/sa/a';
our $API = 'spiffe://example.org/ns/api/sa/b';

our $agent = SpiffeAgent->start(
    spiffe_id => 'spiffe://example.org/nginx,hint=default',
    svids => ["$WEB,hint=web", "$API,hint=api"]);

# the module's [error] line about a server's missing choice, and nginx's
# about the failed handshakes, reduced to their message
our $LOG = qr/\[error\] [^\n]*?\K(?:spiffe: no SVID for "[^"]*" in the current X509SVIDResponse|SSL_do_handshake\(\) failed(?= \(SSL:))/;

our $SELF = 'spiffe://example.org/nginx';

sub sni_server {
    my ($name, $svid) = @_;
    return <<"EOC";
    server {
        listen unix:\$TEST_NGINX_SERVROOT/logs/sni.sock ssl;
        server_name $name.test;
        spiffe_svid $svid;
        return 200 "$name \$spiffe_svid_id\\n";
    }
EOC
}

# one TLS session per upstream peer, whatever proxy_ssl_name says: a
# session of one name resumed under another would skip the certificate
sub sni_location {
    my ($name, $pattern) = @_;
    return <<"EOC";
    location /$name {
        proxy_ssl_server_name on;
        proxy_ssl_session_reuse off;
        proxy_ssl_name $name.test;
        proxy_set_header Host $name.test;
        spiffe_proxy_verify $pattern;
        proxy_pass https://unix:\$TEST_NGINX_SERVROOT/logs/sni.sock:/;
    }
EOC
}

# /probe/update?cmd=CMD: the agent runs CMD, and the worker has taken in
# the message it sent (one more "spiffe: SVID ..., version N" line)
my $UPDATE = qr/spiffe: SVID "[^"]*" serial \w+, version \d+/;

start_probe(update => sub {
    my (%q) = @_;
    my $log = "$ENV{TEST_NGINX_SERVROOT}/logs/error.log";
    my $n = () = slurp($log) =~ /$UPDATE/g;
    my $reply = agent_cmd($q{cmd});
    return "$reply\n" unless $reply =~ /^OK/;
    return wait_lines($log, $UPDATE, $n + 1, 5) > $n ? "updated\n"
                                                    : "no update\n";
});

# stream servers have server names from nginx 1.25.5 on
our $STREAM_SNI = do {
    my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my ($x, $y, $z) = `'$bin' -v 2>&1` =~ m{nginx/(\d+)\.(\d+)\.(\d+)};
    defined $z && $x * 1e6 + $y * 1e3 + $z >= 1025005;
};

# every block loads nginx's stream module and both of ours
$ENV{TEST_NGINX_LOAD_MODULES} = $MODULES;

# The servers every block has (its --- http_config names $::SERVERS): the
# upstream "up", the plain backend of the stream servers, and the servers
# picked by SNI on logs/sni.sock
our $SERVERS = <<'EOC'
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/up.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;
        return 200 "up saw $spiffe_id reused=$ssl_session_reused\n";
    }
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/plain.sock;
        return 200 "s\n";
    }
EOC
    . join '', map { sni_server(@$_) } [b => 'on'], [a => 'hint=web'],
          [c => $API], [d => 'hint=missing'];

# The locations every block has (its --- config names $::LOCATIONS): /a to
# /d, which call the SNI servers, and /probe/
our $LOCATIONS = join('',
    map { sni_location(@$_) } [a => $WEB], [b => $SELF], [c => $API],
                              [d => 'spiffe://example.org/**'])
    . <<'EOC';
    location /probe/ {
        proxy_pass http://unix:$TEST_NGINX_PROBE:;
    }
EOC

no_shuffle();
run_tests();

__DATA__

=== TEST 1: servers picked by SNI on one address each present their own choice, and $spiffe_svid_id is that SVID's ID
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::SERVERS
--- config eval
$::LOCATIONS
--- request eval
[map { "GET /$_" } qw(a b c a)]
--- response_body eval
["a $::WEB\n", "b $::SELF\n", "c $::API\n", "a $::WEB\n"]
--- no_error_log
[error]
[crit]



=== TEST 2: a server whose choice the current message lacks fails its handshakes, said once; the others on its address are unaffected
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::SERVERS
--- config eval
$::LOCATIONS
--- request eval
[map { "GET /$_" } qw(d b d b)]
--- error_code eval
[502, 200, 502, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, "\\Ab \Q$::SELF\E\\n\\z",
 qr/502 Bad Gateway/, "\\Ab \Q$::SELF\E\\n\\z"]
--- grep_error_log eval: $::LOG
--- grep_error_log_out eval
qr/\A(?:SSL_do_handshake\(\) failed\n)*spiffe: no SVID for "hint=missing" in the current X509SVIDResponse\n(?:SSL_do_handshake\(\) failed\n)+\z/



=== TEST 3: spiffe_proxy_svid presents the chosen SVID to the upstream; a TLS session serves only the locations that present the same choice
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::SERVERS
--- config eval
<<'EOC' . $::LOCATIONS
    location /on {
        spiffe_proxy_svid on;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /web {
        spiffe_proxy_svid hint=web;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
    location /api {
        spiffe_proxy_svid spiffe://example.org/ns/api/sa/b;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
EOC
--- request eval
[map { "GET /$_" } qw(web web on api web)]
--- response_body eval
["up saw $::WEB reused=.\n", "up saw $::WEB reused=r\n",
 "up saw spiffe://example.org/nginx reused=.\n", "up saw $::API reused=.\n",
 "up saw $::WEB reused=.\n"]
--- no_error_log
[error]
[crit]



=== TEST 4: a stream server presents its choice
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    stream {
        server {
            listen unix:$TEST_NGINX_SERVROOT/logs/s.sock ssl;
            spiffe_svid hint=api;
            proxy_pass unix:$TEST_NGINX_SERVROOT/logs/plain.sock;
        }
    }
--- http_config eval
$::SERVERS
--- config eval
<<'EOC' . $::LOCATIONS
    location /s {
        spiffe_proxy_verify spiffe://example.org/ns/api/sa/b;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/s.sock:/;
    }
EOC
--- request
GET /s
--- response_body_like: \As\n
--- no_error_log
[error]
[crit]



=== TEST 5: the missing choice is logged again after each new message while it is missing, and served once a message has it
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::SERVERS
--- config eval
$::LOCATIONS
--- request eval
["GET /d", "GET /d", "GET /probe/update?cmd=rotate-svid", "GET /d",
 "GET /probe/update?cmd=add-svid%20spiffe://example.org/ns/m/sa/x,hint=missing",
 "GET /d", "GET /b",
 "GET /probe/update?cmd=drop-svid%20spiffe://example.org/ns/m/sa/x"]
--- error_code eval
[502, 502, 200, 502, 200, 200, 200, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/502 Bad Gateway/, "\\Aupdated\\n\\z",
 qr/502 Bad Gateway/, "\\Aupdated\\n\\z",
 "\\Ad spiffe://example\\.org/ns/m/sa/x\\n\\z",
 "\\Ab \Q$::SELF\E\\n\\z", "\\Aupdated\\n\\z"]
--- grep_error_log eval: qr/\[error\] [^\n]*?\Kspiffe: no SVID for "[^"]*"/
--- grep_error_log_out
spiffe: no SVID for "hint=missing"
spiffe: no SVID for "hint=missing"



=== TEST 6: $spiffe_xfcc names the server's chosen SVID in By=
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . $::SERVERS
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/x.sock ssl;
        spiffe_svid hint=web;
        spiffe_verify_client on;
        return 200 "$spiffe_xfcc\n";
    }
EOC
--- config eval
<<'EOC' . $::LOCATIONS
    location /x {
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://example.org/ns/web/sa/a;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/x.sock:/;
    }
EOC
--- request
GET /x
--- response_body_like eval
qr{\ABy=\Q$::WEB\E;Hash=[0-9a-f]{64};URI=spiffe://example\.org/nginx\n\z}
--- no_error_log
[error]
[crit]



=== TEST 7: the status page shows the SVID of each choice (null for a missing one)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::SERVERS
--- config eval
<<'EOC' . $::LOCATIONS
    location = /status {
        spiffe_status;
    }
EOC
--- request
GET /status
--- response_body_like eval
qr{"svids":\s*\{(?=.*"on":\s*\{[^{}]*"id":\s*"spiffe://example\.org/nginx")
   (?=.*"hint=web":\s*\{[^{}]*"id":\s*"\Q$::WEB\E"[^{}]*"hint":\s*"web")
   (?=.*"\Q$::API\E":\s*\{[^{}]*"id":\s*"\Q$::API\E"[^{}]*"hint":\s*"api")
   (?=.*"hint=missing":\s*null)}sx
--- no_error_log
[error]
[crit]



=== TEST 8: spiffe_proxy_svid with a choice the current message lacks: the handshake to the upstream fails, and the log says which choice
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$::SERVERS
--- config eval
<<'EOC' . $::LOCATIONS
    location /pm {
        spiffe_proxy_svid hint=missing;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/up.sock:/;
    }
EOC
--- request
GET /pm
--- error_code: 502
--- grep_error_log eval: qr/\[error\] [^\n]*?\Kspiffe: no SVID for "[^"]*"/
--- grep_error_log_out
spiffe: no SVID for "hint=missing"



=== TEST 9: stream servers picked by SNI on one address (nginx 1.25.5 and later) each present their own choice
--- skip_eval: 4: !$::STREAM_SNI
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    stream {
        server {
            listen unix:$TEST_NGINX_SERVROOT/logs/ss.sock ssl;
            server_name sa.test;
            spiffe_svid hint=web;
            proxy_pass unix:$TEST_NGINX_SERVROOT/logs/plain.sock;
        }
        server {
            listen unix:$TEST_NGINX_SERVROOT/logs/ss.sock ssl;
            server_name sb.test;
            spiffe_svid spiffe://example.org/ns/api/sa/b;
            proxy_pass unix:$TEST_NGINX_SERVROOT/logs/plain.sock;
        }
    }
--- http_config eval
$::SERVERS
--- config eval
<<'EOC' . $::LOCATIONS
    proxy_ssl_server_name on;
    proxy_ssl_session_reuse off;
    location /sa {
        proxy_ssl_name sa.test;
        spiffe_proxy_verify spiffe://example.org/ns/web/sa/a;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/ss.sock:/;
    }
    location /sb {
        proxy_ssl_name sb.test;
        spiffe_proxy_verify spiffe://example.org/ns/api/sa/b;
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/ss.sock:/;
    }
EOC
--- request eval
["GET /sa", "GET /sb"]
--- response_body eval
["s\n", "s\n"]
--- no_error_log eval
# a skipped block's log is the previous block's
$::STREAM_SNI ? ['[error]', '[crit]'] : []
