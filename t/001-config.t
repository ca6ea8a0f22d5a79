# Configuration: every directive's syntax, and every invalid pattern or
# address refused at "nginx -t" with the directive, the value, file:line.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;

SpiffeAgent::certs();
no_shuffle();

run_tests();

__DATA__

=== TEST 1: every kind of pattern is accepted at every level
--- http_config
    spiffe_allow spiffe://example.org/ns/prod/sa/web;
--- config
    spiffe_deny spiffe://example.org/ns/*/sa/db;
    location = /t {
        spiffe_allow spiffe://example.org/ns/prod/sa/web;
        spiffe_allow spiffe://example.org/ns/*/sa/web;
        spiffe_allow spiffe://example.org/**;
        spiffe_allow spiffe://example.org/*/x/**;
        spiffe_deny "~^spiffe://example\.org/ns/[a-z]+/sa/db$";
        spiffe_deny all;
    }
    location = /open {
        return 200 "open\n";
    }
--- request
GET /open
--- response_body
open
--- no_error_log
[error]
[crit]



=== TEST 2: rules without a verified peer: 403, and the log says why
--- config
    location = /t {
        spiffe_allow all;
    }
--- request
GET /t
--- error_code: 403
--- error_log
spiffe: access forbidden: no verified SPIFFE ID (NONE)
--- no_error_log
[error]



=== TEST 3: a location without rules inherits none and is not checked
--- config
    location = /t {
        return 200 "$spiffe_verify|$spiffe_id|\n";
    }
--- request
GET /t
--- response_body
NONE||
--- no_error_log
[error]
[crit]



=== TEST 4: uppercase trust domain
--- config
    location = /t {
        spiffe_allow spiffe://Example.org/ns/web;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID pattern "spiffe://Example\.org/ns/web" in "spiffe_allow": it has uppercase letters in the trust domain in \S+nginx\.conf:\d+}



=== TEST 5: not a SPIFFE ID
--- config
    location = /t {
        spiffe_deny https://example.org/ns/web;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID pattern "https://example\.org/ns/web" in "spiffe_deny": it does not start with "spiffe://" in \S+nginx\.conf:\d+}



=== TEST 6: a pattern without a path matches no workload
--- config
    spiffe_allow spiffe://example.org;
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe://example\.org" in "spiffe_allow": it has no path and so matches no workload \("spiffe://TD/\*\*" matches any workload of TD\) in \S+nginx\.conf:\d+}



=== TEST 7: "**" only at the end
--- config
    spiffe_allow spiffe://example.org/**/web;
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe://example\.org/\*\*/web" in "spiffe_allow": it has "\*\*" before the last segment in \S+nginx\.conf:\d+}



=== TEST 8: "*" stands for a whole segment
--- config
    spiffe_allow spiffe://example.org/ns/web-*;
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe://example\.org/ns/web-\*" in "spiffe_allow": it has "\*" inside a segment}



=== TEST 9: "*" is not allowed in the trust domain
--- config
    spiffe_allow spiffe://*/ns/web;
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe://\*/ns/web" in "spiffe_allow": it has a character not allowed in a trust domain}



=== TEST 10: dot segments, percent-encoding, queries, ports, trailing slash
--- config
    spiffe_allow spiffe://example.org/ns/../web;
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe://example\.org/ns/\.\./web" in "spiffe_allow": it has a "\." or "\.\." path segment}



=== TEST 11: percent-encoding
--- config
    spiffe_allow spiffe://example.org/ns%2fweb;
--- must_die
--- error_log eval
qr{\[emerg\] .*it has percent-encoding in the path}



=== TEST 12: query
--- config
    spiffe_allow spiffe://example.org/ns/web?x=1;
--- must_die
--- error_log eval
qr{\[emerg\] .*it has a query}



=== TEST 13: port
--- config
    spiffe_allow spiffe://example.org:443/ns/web;
--- must_die
--- error_log eval
qr{\[emerg\] .*it has a port in the trust domain}



=== TEST 14: trailing slash
--- config
    spiffe_allow spiffe://example.org/ns/;
--- must_die
--- error_log eval
qr{\[emerg\] .*it has an empty path segment or a trailing "/"}



=== TEST 15: bad regex
--- config
    spiffe_allow "~^spiffe://(example";
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid regex "~\^spiffe://\(example" in "spiffe_allow": .*missing}



=== TEST 16: over-long pattern
--- config eval
"spiffe_allow spiffe://example.org/" . ("a" x 2040) . ";"
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID pattern "spiffe://example\.org/a{100,}\.\.\." in "spiffe_allow": it is longer than 2048 bytes in \S+nginx\.conf:\d+}



=== TEST 17: spiffe_allow takes one argument
--- config
    spiffe_allow spiffe://example.org/a spiffe://example.org/b;
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid number of arguments in "spiffe_allow" directive in \S+nginx\.conf:\d+}



=== TEST 18: spiffe_workload_api: relative unix path
--- main_config
    spiffe_workload_api unix:agent.sock;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid Workload API address "unix:agent\.sock" in "spiffe_workload_api": .* in \S+nginx\.conf:\d+}



=== TEST 19: spiffe_workload_api: hostnames are not allowed
--- main_config
    spiffe_workload_api tcp://localhost:8081;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid Workload API address "tcp://localhost:8081" in "spiffe_workload_api"}



=== TEST 20: spiffe_workload_api: no port
--- main_config
    spiffe_workload_api tcp://127.0.0.1;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid Workload API address "tcp://127\.0\.0\.1" in "spiffe_workload_api"}



=== TEST 21: spiffe_workload_api: unknown scheme
--- main_config
    spiffe_workload_api http://127.0.0.1:8081;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid Workload API address "http://127\.0\.0\.1:8081" in "spiffe_workload_api"}



=== TEST 22: spiffe_workload_api is duplicate
--- main_config
    spiffe_workload_api unix:/tmp/a.sock;
    spiffe_workload_api unix:/tmp/b.sock;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_workload_api" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 23: spiffe_workload_api only in the main context
--- config
    spiffe_workload_api unix:/tmp/a.sock;
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_workload_api" directive is not allowed here in \S+nginx\.conf:\d+}



=== TEST 24: spiffe_svid needs an identity source
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT ssl;
        server_name tls;
        spiffe_svid on;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid" in \S+nginx\.conf:\d+ needs an identity source: "spiffe_workload_api", "spiffe_svid_dir" or SPIFFE_ENDPOINT_SOCKET}



=== TEST 25: spiffe_svid cannot be combined with ssl_certificate
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
    spiffe_startup_timeout 1ms;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT ssl;
        server_name tls;
        ssl_certificate $TEST_NGINX_CERTS/web.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/web.key;
        spiffe_svid on;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid on" cannot be combined with "ssl_certificate" in the server in \S+nginx\.conf:\d+}



=== TEST 26: spiffe_verify_client cannot be combined with ssl_verify_client
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
    spiffe_startup_timeout 1ms;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT ssl;
        server_name tls;
        spiffe_svid on;
        ssl_verify_client optional_no_ca;
        spiffe_verify_client on;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_verify_client" cannot be combined with "ssl_verify_client" in the server in \S+nginx\.conf:\d+}



=== TEST 27: spiffe_verify_client needs TLS
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- config
    spiffe_verify_client on;
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_verify_client" needs TLS in the server in \S+nginx\.conf:\d+}



=== TEST 28: spiffe_verify_client takes on, optional or off
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- config
    spiffe_verify_client maybe;
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "maybe" in \S+nginx\.conf:\d+}



=== TEST 29: spiffe_verify_client is not a location directive
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- config
    location / {
        spiffe_verify_client on;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_verify_client" directive is not allowed here in \S+nginx\.conf:\d+}



=== TEST 30: spiffe_startup_timeout needs a time
--- main_config
    spiffe_startup_timeout soon;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_startup_timeout" directive invalid value in \S+nginx\.conf:\d+}



=== TEST 31: identity variables cannot be set
--- config
    location = /t {
        set $spiffe_id "spiffe://example.org/forged";
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*the duplicate "spiffe_id" variable in \S+nginx\.conf:\d+}



=== TEST 32: spiffe_svid_hint is duplicate
--- main_config
    spiffe_svid_hint a;
    spiffe_svid_hint b;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid_hint" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 33: spiffe_svid in a server with "listen ... quic" (HTTP/3, nginx 1.25 and later): refused, not served without it
--- skip_nginx: 2: < 1.25.0
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT quic;
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT ssl;
        server_name h3;
        spiffe_svid on;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid" is not supported over QUIC: the server in \S+nginx\.conf:\d+ has "listen \.\.\. quic"}



=== TEST 34: spiffe_verify_client in a server with "listen ... quic", a certificate of its own: refused
--- skip_nginx: 2: < 1.25.0
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT quic;
        server_name h3;
        ssl_certificate $TEST_NGINX_CERTS/web.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/web.key;
        spiffe_verify_client on;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_verify_client" is not supported over QUIC: the server in \S+nginx\.conf:\d+ has "listen \.\.\. quic"}



=== TEST 35: spiffe_svid takes on, off, hint=HINT or a SPIFFE ID: anything else is refused with the file and line
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- http_config
    spiffe_svid yes;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "yes" in "spiffe_svid" directive, it must be "on", "off", "hint=HINT" or a SPIFFE ID in \S+nginx\.conf:\d+}



=== TEST 36: spiffe_svid with an empty hint
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- http_config
    spiffe_svid hint=;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "hint=" in "spiffe_svid" directive, it must be "on", "off", "hint=HINT" or a SPIFFE ID in \S+nginx\.conf:\d+}



=== TEST 37: spiffe_svid with an invalid SPIFFE ID
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- http_config
    spiffe_svid spiffe://Example.org/web;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID "spiffe://Example\.org/web" in "spiffe_svid": .+ in \S+nginx\.conf:\d+}



=== TEST 38: spiffe_svid twice in a server
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT ssl;
        server_name tls;
        spiffe_svid hint=a;
        spiffe_svid on;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 39: spiffe_proxy_svid with an invalid SPIFFE ID
--- main_config
    spiffe_workload_api unix:/tmp/ngx-spiffe-none.sock;
--- config
    location /x {
        spiffe_proxy_svid spiffe://example.org/a/../b;
        proxy_pass https://127.0.0.1:1/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID "spiffe://example\.org/a/\.\./b" in "spiffe_proxy_svid": .+ in \S+nginx\.conf:\d+}
