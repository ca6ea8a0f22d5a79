# Stream servers (ngx_stream_spiffe_module), loading and configuration:
# the http object alone, the order of "make install", the stream object
# without the http one, and what "nginx -t" refuses, with the file and
# line.  The layout is t/060-stream.t's: the stream server under test
# listens on unix:$TEST_NGINX_SERVROOT/logs/tls.sock and proxies to the
# "backend" http server (SpiffeStream's backends()); the outer http
# locations of SpiffeMTLS are its clients.  Every block names them, in its
# --- http_config (main::backends() . main::outer_upstreams()) and its
# --- config (main::outer_locations()).
#
# /probe/nginx_t runs "nginx -t" on one of the configurations of %CONF.
#
# Modules: every block's --- init says which (SpiffeTest runs it before
# nginx.conf is written), most of them $MODULES of SpiffeStream (nginx's
# stream module, the http object, then the stream object).

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeMTLS qw(add_peer start_probe outer_locations outer_upstreams);
use SpiffeStream qw($STREAM_CORE $HTTP_SO $STREAM_SO $MODULES
                    $ERROR_BUT_502 $CRIT_BUT_SHUTDOWN backends);

# the "no identity source" blocks must not find one in the environment
delete $ENV{SPIFFE_ENDPOINT_SOCKET};

our $SELF = 'spiffe://mesh.test/ns/edge/sa/nginx';
our $WEB = 'spiffe://example.org/ns/prod/sa/web';
our $OTHER = 'spiffe://other.org/ns/prod/sa/web';

my $certs = SpiffeAgent::certs();
our $agent = SpiffeAgent->start(spiffe_id => $SELF);

$agent->control_ok("federate example.org $certs/ca-a.pem");
$agent->control_ok("federate other.org $certs/ca-b.pem");
add_peer($_, "$certs/$_.pem", "$certs/$_.key") for qw(good good-int good-other);

# "nginx -t" (SpiffeStream::nginx_t) on one of these configurations
our %CONF = (
    'server-pattern' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    server {
        listen unix:SOCK ssl;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_allow spiffe://example.org/ns/prod/sa/web;
        spiffe_allow spiffe://example.org/ns/web-*;
        proxy_pass unix:SOCK;
    }
}
EOC
    'main-pattern' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    spiffe_svid on;
    spiffe_verify_client on;

    spiffe_deny spiffe://Example.org/ns/prod/sa/web;

    server {
        listen unix:SOCK ssl;
        proxy_pass unix:SOCK;
    }
}
EOC
    'regex' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    server {
        listen unix:SOCK ssl;
        spiffe_svid on;
        spiffe_verify_client optional;
        spiffe_deny ~^spiffe://example\.org/(ns;
        proxy_pass unix:SOCK;
    }
}
EOC
    'svid-and-cert' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    spiffe_svid on;

    server {
        listen unix:SOCK ssl;
        ssl_certificate CERTS/nginx.pem;
        ssl_certificate_key CERTS/nginx.key;
        proxy_pass unix:SOCK;
    }
}
EOC
    'no-source' => <<'EOC',
events {}
stream {
    server {
        listen unix:SOCK ssl;
        ssl_certificate CERTS/nginx.pem;
        ssl_certificate_key CERTS/nginx.key;
        spiffe_verify_client on;
        proxy_pass unix:SOCK;
    }
}
EOC
    'plain-verify' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    server {
        listen unix:SOCK;
        spiffe_verify_client on;
        proxy_pass unix:SOCK;
    }
}
EOC
);

sub nginx_t {
    my (%q) = @_;
    my $conf = $CONF{$q{case} // ''} or return "no case\n";
    return SpiffeStream::nginx_t($conf);
}

start_probe(nginx_t => \&nginx_t);

log_level('info');

run_tests();

__DATA__

=== TEST 1: the http object loads and works alone (no stream module, no stream object)
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::HTTP_SO;
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::backends() . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        return 200 "$spiffe_verify|$spiffe_id\n";
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/good/", "GET /as/good-other/"]
--- response_body eval
["SUCCESS|$main::WEB\n", "SUCCESS|$main::OTHER\n"]
--- no_error_log
[error]
[crit]



=== TEST 2: the order of "make install" (modules-enabled: 50-mod-http-spiffe, 50-mod-stream, 70-mod-stream-spiffe) works too
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = "$main::HTTP_SO $main::STREAM_CORE $main::STREAM_SO";
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_allow spiffe://example.org/ns/prod/sa/web;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as/good/", "GET /as/good-int/"]
--- error_code eval
[200, 502]
--- error_log
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/api"
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 3: the stream object without the http object: nginx says which symbol is missing
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = "$main::STREAM_CORE $main::STREAM_SO";
--- main_config
stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- must_die
--- error_log eval
qr{\[emerg\] .*dlopen\(\) "\Q$main::STREAM_SO\E" failed \(.*undefined symbol: ngx_spiffe_\w+\)}



=== TEST 4: "spiffe_svid on" and "ssl_certificate" in one stream server
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::MODULES;
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_CERTS/nginx.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/nginx.key;
        spiffe_svid on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid on" cannot be combined with "ssl_certificate" in the server in \S+nginx\.conf:\d+}



=== TEST 5: "spiffe_svid on" at stream level and an ssl_certificate in a server
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::MODULES;
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    spiffe_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_CERTS/nginx.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/nginx.key;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid on" cannot be combined with "ssl_certificate" in the server in \S+nginx\.conf:\d+}



=== TEST 6: "spiffe_verify_client" and "ssl_verify_client" in one stream server
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::MODULES;
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        ssl_verify_client optional_no_ca;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_verify_client" cannot be combined with "ssl_verify_client" in the server in \S+nginx\.conf:\d+}



=== TEST 7: no identity source (no spiffe_workload_api, no SPIFFE_ENDPOINT_SOCKET)
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::MODULES;
--- main_config
stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_CERTS/nginx.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/nginx.key;
        spiffe_verify_client on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_verify_client" in \S+nginx\.conf:\d+ needs an identity source: "spiffe_workload_api", "spiffe_svid_dir" or SPIFFE_ENDPOINT_SOCKET}



=== TEST 8: "nginx -t" names the file and line: of a bad pattern (server and stream level), of a bad regex, of the server whose spiffe_svid meets an ssl_certificate, that has no identity source, that has no TLS
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::MODULES;
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /probe/nginx_t?case=server-pattern",
 "GET /probe/nginx_t?case=main-pattern",
 "GET /probe/nginx_t?case=regex",
 "GET /probe/nginx_t?case=svid-and-cert",
 "GET /probe/nginx_t?case=no-source",
 "GET /probe/nginx_t?case=plain-verify"]
--- response_body eval
['exit 1
invalid SPIFFE ID pattern "spiffe://example.org/ns/web-*" in "spiffe_allow": it has "*" inside a segment ("*" stands for a whole segment) in FILE:13
line 13: spiffe_allow spiffe://example.org/ns/web-*;
',
'exit 1
invalid SPIFFE ID pattern "spiffe://Example.org/ns/prod/sa/web" in "spiffe_deny": it has uppercase letters in the trust domain in FILE:11
line 11: spiffe_deny spiffe://Example.org/ns/prod/sa/web;
',
'exit 1
invalid regex "~^spiffe://example\.org/(ns" in "spiffe_deny": pcre2_compile() failed: missing closing parenthesis in "^spiffe://example\.org/(ns" in FILE:12
line 12: spiffe_deny ~^spiffe://example\.org/(ns;
',
'exit 1
"spiffe_svid on" cannot be combined with "ssl_certificate" in the server in FILE:10
line 10: server {
',
'exit 1
"spiffe_verify_client" in FILE:7 needs an identity source: "spiffe_workload_api", "spiffe_svid_dir" or SPIFFE_ENDPOINT_SOCKET
line 7: server {
',
'exit 1
"spiffe_verify_client" needs TLS in the server in FILE:8: add "ssl" to "listen" and "spiffe_svid on" or "ssl_certificate"
line 8: server {
']
--- no_error_log
[error]
[crit]



=== TEST 9: a stream server whose spiffe_verify_client is not on/optional/off
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::MODULES;
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client required;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "required" in \S+nginx\.conf:\d+}



=== TEST 10: "spiffe_svid on" at stream level, "spiffe_svid off" in a "listen ... ssl" server without a certificate: no certificate to serve, as without the module
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::MODULES;
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    spiffe_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid off;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- must_die
--- error_log eval
qr{\[emerg\] .*"ssl_certificate"}



=== TEST 11: spiffe_svid in a stream server without "listen ... ssl": refused on every nginx (from 1.25.5 such a server has an SSL context all the same)
--- init
$ENV{TEST_NGINX_LOAD_MODULES} = $main::MODULES;
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock;
        spiffe_svid on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid" needs TLS in the server in \S+nginx\.conf:\d+: add "ssl" to "listen"}
