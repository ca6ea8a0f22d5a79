# mTLS: which client X.509-SVIDs spiffe_verify_client accepts, what it
# says about the others (on: 400 and a log line; optional: $spiffe_verify),
# the variables, what reaches a backend, TLS 1.2 and 1.3, HTTP/2, curl.
#
# nginx is both sides (lua-nginx-module style): the TLS server under test
# is in --- http_config, on unix:$TEST_NGINX_SERVROOT/logs/tls.sock, and
# every block's --- config has SpiffeMTLS's outer_locations(): the
# plain locations /as/PEER/ (and /as12/, /as13/, /nocert/) that proxy to
# it presenting PEER's certificate, through the upstreams of
# outer_upstreams(), which every --- http_config appends.
#
# Trust: the agent's own trust domain is mesh.test (SVIDs from an
# intermediate CA); it federates example.org with the matrix's CA A and
# other.org with its CA B, so that the peers of t/cert/mkcerts.py are
# checked against the bundle of their own trust domain, and partner.test
# with a CA the agent makes (new-td).

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeMTLS qw(add_peer outer_locations outer_upstreams leaf_sha256
                  start_probe);

our $SELF = 'spiffe://mesh.test/ns/edge/sa/nginx';

my $certs = SpiffeAgent::certs();
my $agent = SpiffeAgent->start(spiffe_id => $SELF, intermediate => 1);
my $state = $agent->state_dir;

$agent->control_ok("federate example.org $certs/ca-a.pem");
$agent->control_ok("federate other.org $certs/ca-b.pem");
$agent->control_ok('new-td partner.test');
$agent->control_ok('federate partner.test');

# peers the agent issues
my %minted = (
    'mesh-web'       => ['spiffe://mesh.test/ns/prod/sa/web'],
    'partner-web'    => ['spiffe://partner.test/ns/prod/sa/web',
                         'ca=partner.test'],
    # partner.test's CA vouching for an ID of mesh.test
    'partner-forged' => ['spiffe://mesh.test/ns/prod/sa/web',
                         'ca=partner.test'],
    # mesh.test's CA vouching for an ID of partner.test
    'mesh-forged'    => ['spiffe://partner.test/ns/prod/sa/web'],
);
for my $name (sort keys %minted) {
    my ($id, @opt) = @{ $minted{$name} };
    $agent->control_ok("mint $id $name @opt");
    add_peer($name, "$state/$name.pem", "$state/$name.key");
}

# the peers that must be refused, and why
our @HOSTILE = (
    ['no-uri',          'no URI SAN'],
    ['two-uri',         '2 URI SANs'],
    ['ca-leaf',         'leaf is a CA'],
    ['keycertsign',     'leaf has keyCertSign'],
    ['crlsign',         'leaf has cRLSign'],
    ['no-digsig',       'no digitalSignature'],
    ['expired',         'certificate has expired'],
    ['not-yet-valid',   'certificate is not yet valid'],
    ['wrong-scheme',    'URI SAN does not start with "spiffe://"'],
    ['upper-td',        'URI SAN has uppercase letters in the trust domain'],
    ['dot-segment',     'URI SAN has a "." or ".." path segment'],
    ['percent',         'URI SAN has percent-encoding in the path'],
    ['root-path',       'SPIFFE ID has no path'],
    ['long-id',         'URI SAN is longer than 2048 bytes'],
    ['self-signed',     'self-signed certificate'],
    ['via-notca',       'invalid CA certificate'],
    ['cross-domain',    'unable to get local issuer certificate'],
    ['unknown-td',      'no bundle for trust domain'],
    ['web',             'no URI SAN'],
    ['partner-forged',  'unable to get local issuer certificate'],
    ['mesh-forged',     'unable to get local issuer certificate'],
);

sub uri_of {
    my ($pem) = @_;
    my $text = `openssl x509 -in $pem -noout -ext subjectAltName`;
    $text =~ /URI:(\S+)/ or die "no URI SAN in $pem";
    return $1;
}

# the peers that must be accepted: name => ID
our @GOOD = (
    ['good',        'spiffe://example.org/ns/prod/sa/web'],
    ['good-int',    'spiffe://example.org/ns/prod/sa/api'],
    ['good-other',  'spiffe://other.org/ns/prod/sa/web'],
    ['long-2048',   uri_of("$certs/long-2048.pem")],
    ['mesh-web',    'spiffe://mesh.test/ns/prod/sa/web'],
    ['partner-web', 'spiffe://partner.test/ns/prod/sa/web'],
);
die "long-2048 is not 2048 bytes" unless length $GOOD[3][1] == 2048;

add_peer($_, "$certs/$_.pem", "$certs/$_.key")
    for qw(good good-int good-other long-2048 no-uri two-uri ca-leaf
           keycertsign crlsign no-digsig expired not-yet-valid wrong-scheme
           upper-td dot-segment percent root-path long-id self-signed
           via-notca cross-domain unknown-td web);

our %HASH = map { $_ => leaf_sha256("$certs/$_.pem") } qw(good good-int);
$HASH{'mesh-web'} = leaf_sha256("$state/mesh-web.pem");

# $spiffe_svid_expires: the notAfter of the agent's SVID, as a Unix time
our $EXPIRES = do {
    my $end = `openssl x509 -in $state/svid.pem -noout -enddate`;
    require Time::Piece;
    $end =~ /notAfter=(.*?)\s*GMT/
        or die "no notAfter in $state/svid.pem";
    (my $date = $1) =~ s/\s+/ /g;
    Time::Piece->strptime($date, '%b %d %H:%M:%S %Y')->epoch;
};

start_probe();

sub id_td_path {
    my ($id) = @_;
    my ($td, $path) = $id =~ m{^spiffe://([^/]+)(/.*)$};
    return "$id|$td|$path";
}

log_level('info');

run_tests();

__DATA__

=== TEST 1: SVIDs that verify: direct, via an intermediate, other trust domains, the 2048-byte ID (TLS 1.3)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$spiffe_trust_domain|$spiffe_path|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
[map { "GET /as/$_->[0]/" } @main::GOOD]
--- response_body eval
[map { "SUCCESS|" . main::id_td_path($_->[1]) . "|TLSv1.3\n" } @main::GOOD]
--- no_error_log
[error]
spiffe: peer X.509-SVID refused
spiffe: client
[crit]



=== TEST 2: the same SVIDs over TLS 1.2
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$spiffe_trust_domain|$spiffe_path|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
[map { "GET /as12/$_->[0]/" } @main::GOOD]
--- response_body eval
[map { "SUCCESS|" . main::id_td_path($_->[1]) . "|TLSv1.2\n" } @main::GOOD]
--- no_error_log
[error]
spiffe: peer X.509-SVID refused
spiffe: client
[crit]



=== TEST 3: optional: each hostile peer gets in, $spiffe_verify says why it is not verified, the log too (TLS 1.3)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$spiffe_trust_domain|$spiffe_path|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
[map { "GET /as/$_->[0]/" } @main::HOSTILE]
--- response_body eval
[map { "FAILED:$_->[1]||||TLSv1.3\n" } @main::HOSTILE]
--- grep_error_log eval
qr/spiffe: peer X\.509-SVID refused: .*? while SSL handshaking/
--- grep_error_log_out eval
join '', map { "spiffe: peer X.509-SVID refused: $_->[1] while SSL handshaking\n" } @main::HOSTILE
--- no_error_log
[error]
spiffe: client
[crit]



=== TEST 4: optional, the hostile peers over TLS 1.2
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$spiffe_trust_domain|$spiffe_path|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
[map { "GET /as12/$_->[0]/" } @main::HOSTILE]
--- response_body eval
[map { "FAILED:$_->[1]||||TLSv1.2\n" } @main::HOSTILE]
--- grep_error_log eval
qr/spiffe: peer X\.509-SVID refused: .*? while SSL handshaking/
--- grep_error_log_out eval
join '', map { "spiffe: peer X.509-SVID refused: $_->[1] while SSL handshaking\n" } @main::HOSTILE
--- no_error_log
[error]
[crit]



=== TEST 5: on: each hostile peer gets 400 before the server's "return" runs, and the log says why (TLS 1.3)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        return 200 "served $spiffe_verify\n";
    }
EOC
--- config eval
main::outer_locations()
--- request eval
[map { "GET /as/$_->[0]/" } @main::HOSTILE]
--- error_code eval
[map { 400 } @main::HOSTILE]
--- response_body_like eval
[map { qr{<title>400 The SSL certificate error</title>} } @main::HOSTILE]
--- grep_error_log eval
qr/spiffe: (?:peer X\.509-SVID refused: .*? while SSL handshaking|client SVID refused \(.*?\))/
--- grep_error_log_out eval
join '', map { "spiffe: peer X.509-SVID refused: $_->[1] while SSL handshaking\nspiffe: client SVID refused (FAILED:$_->[1])\n" } @main::HOSTILE
--- no_error_log
[error]
[crit]



=== TEST 6: on, the hostile peers over TLS 1.2
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "served $spiffe_verify\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
[map { "GET /as12/$_->[0]/" } @main::HOSTILE]
--- error_code eval
[map { 400 } @main::HOSTILE]
--- response_body_like eval
[map { qr{<title>400 The SSL certificate error</title>} } @main::HOSTILE]
--- grep_error_log eval
qr/spiffe: (?:peer X\.509-SVID refused: .*? while SSL handshaking|client SVID refused \(.*?\))/
--- grep_error_log_out eval
join '', map { "spiffe: peer X.509-SVID refused: $_->[1] while SSL handshaking\nspiffe: client SVID refused (FAILED:$_->[1])\n" } @main::HOSTILE
--- no_error_log
[error]
[crit]



=== TEST 7: no client certificate: optional lets it in with NONE (TLS 1.3 and 1.2)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$spiffe_trust_domain|$spiffe_path|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /nocert/", "GET /nocert12/"]
--- response_body eval
["NONE||||TLSv1.3\n", "NONE||||TLSv1.2\n"]
--- no_error_log
[error]
spiffe: peer X.509-SVID refused
spiffe: client
[crit]



=== TEST 8: no client certificate: on answers 400 "No required SSL certificate was sent", also to a rewrite at server level
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        rewrite ^ /in last;

        location = /in {
            return 200 "served $spiffe_verify\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /nocert/", "GET /nocert12/"]
--- error_code eval
[400, 400]
--- response_body_like eval
[qr{<title>400 No required SSL certificate was sent</title>},
 qr{<title>400 No required SSL certificate was sent</title>}]
--- grep_error_log: spiffe: client sent no required SPIFFE SVID
--- grep_error_log_out
spiffe: client sent no required SPIFFE SVID
spiffe: client sent no required SPIFFE SVID
--- no_error_log
[error]
spiffe: peer X.509-SVID refused
[crit]



=== TEST 9: on: error_page 495 and 496 catch the refusals, with $spiffe_verify
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        error_page 495 = @bad;
        error_page 496 = @none;

        location / {
            return 200 "served $spiffe_verify\n";
        }

        location @bad {
            return 403 "bad SVID: $spiffe_verify|$spiffe_id|$ssl_protocol\n";
        }

        location @none {
            return 401 "no SVID: $spiffe_verify|$spiffe_id|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/expired/", "GET /as12/unknown-td/", "GET /nocert/", "GET /as/good/"]
--- error_code eval
[403, 403, 401, 200]
--- response_body eval
["bad SVID: FAILED:certificate has expired||TLSv1.3\n",
 "bad SVID: FAILED:no bundle for trust domain||TLSv1.2\n",
 "no SVID: NONE||TLSv1.3\n",
 "served SUCCESS\n"]
--- error_log
spiffe: client SVID refused (FAILED:certificate has expired)
spiffe: client SVID refused (FAILED:no bundle for trust domain)
spiffe: client sent no required SPIFFE SVID
--- no_error_log
[error]
[crit]



=== TEST 10: the backend gets the verified ID and XFCC from proxy_set_header; what the client sends under those names never reaches it
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            proxy_set_header X-Spiffe-Id $spiffe_id;
            proxy_set_header X-Spiffe-Verify $spiffe_verify;
            proxy_set_header X-Forwarded-Client-Cert $spiffe_xfcc;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- more_headers
X-Spiffe-Id: spiffe://mesh.test/ns/prod/sa/admin
X-Forwarded-Client-Cert: By=spiffe://mesh.test/x;URI=spiffe://mesh.test/ns/prod/sa/admin
X-Spiffe-Id: spiffe://mesh.test/ns/prod/sa/root
X-Other: kept
--- request eval
["GET /as/good/", "GET /as12/good-int/", "GET /as/mesh-web/", "GET /as/no-uri/", "GET /nocert/"]
--- response_body eval
["X-Spiffe-Id: spiffe://example.org/ns/prod/sa/web
X-Spiffe-Verify: SUCCESS
X-Forwarded-Client-Cert: By=$main::SELF;Hash=$main::HASH{good};URI=spiffe://example.org/ns/prod/sa/web
X-Other: kept
",
"X-Spiffe-Id: spiffe://example.org/ns/prod/sa/api
X-Spiffe-Verify: SUCCESS
X-Forwarded-Client-Cert: By=$main::SELF;Hash=$main::HASH{'good-int'};URI=spiffe://example.org/ns/prod/sa/api
X-Other: kept
",
"X-Spiffe-Id: spiffe://mesh.test/ns/prod/sa/web
X-Spiffe-Verify: SUCCESS
X-Forwarded-Client-Cert: By=$main::SELF;Hash=$main::HASH{'mesh-web'};URI=spiffe://mesh.test/ns/prod/sa/web
X-Other: kept
",
"X-Spiffe-Verify: FAILED:no URI SAN
X-Other: kept
",
"X-Spiffe-Verify: NONE
X-Other: kept
"]
--- no_error_log
[error]
[crit]



=== TEST 11: $spiffe_xfcc, $spiffe_svid_id and $spiffe_svid_expires as variables
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "xfcc=[$spiffe_xfcc] svid=[$spiffe_svid_id] expires=[$spiffe_svid_expires]\n";
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location = /plain {
        return 200 "xfcc=[$spiffe_xfcc] svid=[$spiffe_svid_id] expires=[$spiffe_svid_expires]\n";
    }
EOC
--- request eval
["GET /as/good/", "GET /nocert/", "GET /plain"]
--- response_body eval
["xfcc=[By=$main::SELF;Hash=$main::HASH{good};URI=spiffe://example.org/ns/prod/sa/web] svid=[$main::SELF] expires=[$main::EXPIRES]\n",
 "xfcc=[] svid=[$main::SELF] expires=[$main::EXPIRES]\n",
 "xfcc=[] svid=[$main::SELF] expires=[$main::EXPIRES]\n"]
--- no_error_log
[error]
[crit]



=== TEST 12: HTTP/2: two streams on one connection, each with the peer's ID and XFCC (curl --http2)
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl http2;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$server_protocol $spiffe_verify|$spiffe_id|$spiffe_xfcc";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /probe/curl?peer=good&h2=1&urls=/a,/b",
 "GET /probe/curl?peer=mesh-web&h2=1&urls=/a"]
--- response_body eval
["HTTP/2 200 new=1 HTTP/2.0 SUCCESS|spiffe://example.org/ns/prod/sa/web|By=$main::SELF;Hash=$main::HASH{good};URI=spiffe://example.org/ns/prod/sa/web
HTTP/2 200 new=0 HTTP/2.0 SUCCESS|spiffe://example.org/ns/prod/sa/web|By=$main::SELF;Hash=$main::HASH{good};URI=spiffe://example.org/ns/prod/sa/web
",
"HTTP/2 200 new=1 HTTP/2.0 SUCCESS|spiffe://mesh.test/ns/prod/sa/web|By=$main::SELF;Hash=$main::HASH{'mesh-web'};URI=spiffe://mesh.test/ns/prod/sa/web
"]
--- timeout: 10
--- no_error_log
[error]
spiffe: peer X.509-SVID refused
spiffe: client
[crit]



=== TEST 13: HTTP/2: a refused SVID and no certificate get 400 on every stream
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl http2;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "served $spiffe_verify";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /probe/curl?peer=two-uri&h2=1&urls=/a,/b",
 "GET /probe/curl?h2=1&urls=/a"]
--- response_body_like eval
[qr{^HTTP/2 400 new=1 <html>.*400 The SSL certificate error.*\nHTTP/2 400 new=[01] <html>.*400 The SSL certificate error.*</html>\n\z}s,
 qr{^HTTP/2 400 new=1 <html>.*400 No required SSL certificate was sent.*</html>\n\z}s]
--- timeout: 10
--- error_log
spiffe: peer X.509-SVID refused: 2 URI SANs
spiffe: client SVID refused (FAILED:2 URI SANs)
spiffe: client sent no required SPIFFE SVID
--- no_error_log
[error]
[crit]



=== TEST 14: plain curl with an SVID the agent issued reaches a location printing $spiffe_id
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location = /whoami {
            return 200 "$spiffe_id";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request
GET /probe/curl?peer=mesh-web&urls=/whoami
--- response_body
HTTP/1.1 200 new=1 spiffe://mesh.test/ns/prod/sa/web
--- timeout: 10
--- no_error_log
[error]
spiffe: peer X.509-SVID refused
spiffe: client
[crit]



=== TEST 15: withdrawing a federation refuses that trust domain at once; federating it again accepts it
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /fresh/partner-web/",
 "GET /ctl/unfederate/partner.test",
 "GET /ctl/rotate-svid",
 "GET /probe/sync",
 "GET /fresh/partner-web/",
 "GET /fresh/mesh-web/",
 "GET /ctl/federate/partner.test",
 "GET /ctl/rotate-svid",
 "GET /probe/sync",
 "GET /fresh/partner-web/"]
--- response_body_like eval
["^SUCCESS\\|spiffe://partner.test/ns/prod/sa/web\n\\z",
 "^OK td=spiffe://partner.test\n\\z",
 "^OK serial=",
 "^synced\n\\z",
 "^FAILED:no bundle for trust domain\\|\n\\z",
 "^SUCCESS\\|spiffe://mesh.test/ns/prod/sa/web\n\\z",
 "^OK td=spiffe://partner.test certs=1\n\\z",
 "^OK serial=",
 "^synced\n\\z",
 "^SUCCESS\\|spiffe://partner.test/ns/prod/sa/web\n\\z"]
--- timeout: 10
--- error_log
spiffe: peer X.509-SVID refused: no bundle for trust domain
--- no_error_log
[error]
[crit]



=== TEST 16: spiffe_verify_client in a server with an ssl_certificate of its own (no spiffe_svid anywhere)
# Regression (fixed in f4ef787): without a "spiffe_svid" directive the TLS
# ex_data indexes were never made; every handshake failed with "[crit]
# SSL_do_handshake() failed (... passed invalid argument:i=-1 ...)".
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_CERTS/nginx.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/nginx.key;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/good/", "GET /as/no-uri/", "GET /nocert/"]
--- response_body eval
["SUCCESS|spiffe://example.org/ns/prod/sa/web\n", "FAILED:no URI SAN|\n",
 "NONE|\n"]
--- no_error_log
[error]
[crit]



=== TEST 17: the same with a shared session cache
# Regression (as TEST 16): nginx did not start, "[emerg]
# SSL_CTX_set_ex_data() failed (... passed invalid argument:i=-1 ...)".
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_CERTS/nginx.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/nginx.key;
        ssl_session_cache shared:SSL:1m;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify|$spiffe_id\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/good/", "GET /as/good/"]
--- response_body eval
["SUCCESS|spiffe://example.org/ns/prod/sa/web\n",
 "SUCCESS|spiffe://example.org/ns/prod/sa/web\n"]
--- no_error_log
[error]
[crit]
