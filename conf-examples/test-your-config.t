# Test your own SPIFFE configuration before rollout: a Test::Nginx suite
# to copy.  It runs on openresty's Test::Nginx (and on the fallback runner
# of t/lib), with the test Workload API agent of t/agent standing in for
# SPIRE or tbot.  From the repository root:
#
#     TEST_NGINX_LOAD_MODULES=$PWD/build/ngx_http_spiffe_module.so \
#         prove conf-examples/test-your-config.t
#
# What the kit (t/lib/SpiffeTest.pm) gives a block:
#   --- spiffe_agent: ID ...    a fresh agent serving nginx that SVID
#   --- spiffe_client: ID       the requests are sent over mTLS with an
#                               X.509-SVID for ID, minted on the fly, to
#                               the TLS server on $TEST_NGINX_TLS_PORT;
#                               "none": TLS without a client certificate
#   --- spiffe_jwt: SUB AUD     an "Authorization: Bearer" JWT-SVID
#   spiffe_agent(%opts), spiffe_cert(ID), spiffe_jwt(SUB, AUD),
#   spiffe_control(CMD)         the same from Perl
#   GET /.spiffe-agent/CMD      drives the agent between two requests:
#                               rotate-svid, rotate-ca, down, up, ...

use strict;
use warnings;

# push, not "use lib": an installed Test::Nginx must win over t/lib's
BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;

# One agent for the whole file: nginx is spiffe://example.org/nginx, and
# the agent also has the CA and JWT key of a federated partner.org.
spiffe_agent(
    spiffe_id => 'spiffe://example.org/nginx',
    federate  => ['partner.org'],
);

# the certificate and key an upstream payments service presents, and one
# of a workload that is not payments
@ENV{qw(TEST_NGINX_PAYMENTS_CERT TEST_NGINX_PAYMENTS_KEY)} =
    spiffe_cert('spiffe://example.org/ns/prod/sa/payments');
@ENV{qw(TEST_NGINX_IMPOSTOR_CERT TEST_NGINX_IMPOSTOR_KEY)} =
    spiffe_cert('spiffe://example.org/ns/prod/sa/batch');

# The configuration under test, as your nginx.conf would have it: every
# block names it (--- http_config eval: $::HTTP_CONFIG), says which
# Workload API nginx uses (--- main_config), adds its own locations with
# --- config, and says what must not be logged.
our $HTTP_CONFIG = <<'EOC';
    # ingress: mTLS, callers authorized by SPIFFE ID
    server {
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;
        spiffe_svid on;
        spiffe_verify_client on;

        # the rules run in the access phase: a "return" here would
        # answer before them, so the app is behind proxy_pass
        location /orders/ {
            spiffe_deny  spiffe://example.org/ns/prod/sa/batch;
            spiffe_allow spiffe://example.org/ns/prod/sa/*;
            spiffe_allow spiffe://partner.org/shop;
            proxy_set_header X-Spiffe-Id $spiffe_id;
            proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/app.sock:;
        }

        location /api/ {
            spiffe_jwt           on;
            spiffe_jwt_audience  api;
            spiffe_jwt_allow     spiffe://example.org/ns/prod/**;
            spiffe_jwt_deny      all;
            proxy_set_header X-Spiffe-Id $spiffe_jwt_id;
            proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/app.sock:;
        }
    }

    # the application: says who called it
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/app.sock;

        location / {
            return 200 "$uri for $http_x_spiffe_id\n";
        }
    }

    # stand-ins for upstreams: payments, and a workload that is not
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/payments.sock ssl;
        ssl_certificate     $TEST_NGINX_PAYMENTS_CERT;
        ssl_certificate_key $TEST_NGINX_PAYMENTS_KEY;

        location / {
            return 200 "payments\n";
        }
    }
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/impostor.sock ssl;
        ssl_certificate     $TEST_NGINX_IMPOSTOR_CERT;
        ssl_certificate_key $TEST_NGINX_IMPOSTOR_KEY;

        location / {
            return 200 "impostor\n";
        }
    }
EOC

run_tests();

__DATA__

=== TEST 1: allow-list: a prod service gets in, its ID reaches the app
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: $::HTTP_CONFIG
--- spiffe_client: spiffe://example.org/ns/prod/sa/web
--- request
GET /orders/1
--- response_body
/orders/1 for spiffe://example.org/ns/prod/sa/web
--- no_error_log
[error]
[crit]



=== TEST 2: allow-list: the batch job is refused, whatever the later rules
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: $::HTTP_CONFIG
--- spiffe_client: spiffe://example.org/ns/prod/sa/batch
--- request
GET /orders/1
--- error_code: 403
--- error_log eval
qr{spiffe: access forbidden by the rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/prod/sa/batch"}



=== TEST 3: allow-list: a federated partner's workload gets in
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: $::HTTP_CONFIG
--- spiffe_client: spiffe://partner.org/shop
--- request
GET /orders/1
--- response_body
/orders/1 for spiffe://partner.org/shop
--- no_error_log
[error]
[crit]



=== TEST 4: no client certificate: refused before any location runs
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: $::HTTP_CONFIG
--- spiffe_client: none
--- request
GET /orders/1
--- error_code: 400
--- error_log
spiffe: client sent no required SPIFFE SVID



=== TEST 5: a JWT rule: prod subjects with a token for "api" get in
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: $::HTTP_CONFIG
--- spiffe_client: spiffe://example.org/ns/prod/sa/web
--- spiffe_jwt: spiffe://example.org/ns/prod/sa/web api
--- request
GET /api/x
--- response_body
/api/x for spiffe://example.org/ns/prod/sa/web
--- no_error_log
[error]
[crit]



=== TEST 6: a JWT rule: another audience or none gets 401, dev gets 403
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: $::HTTP_CONFIG
--- spiffe_client: spiffe://example.org/ns/prod/sa/web
--- request eval
["GET /api/x", "GET /api/x", "GET /api/x"]
--- more_headers eval
["Authorization: Bearer "
     . main::spiffe_jwt('spiffe://example.org/ns/prod/sa/web', 'web'),
 "Authorization: Bearer "
     . main::spiffe_jwt('spiffe://example.org/ns/dev/sa/web', 'api'),
 ""]
--- error_code eval
[401, 403, 401]
--- error_log
spiffe: JWT-SVID refused



=== TEST 7: an upstream pattern: only the payments workload may answer
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: $::HTTP_CONFIG
--- config
    location /pay/ {
        spiffe_proxy_svid    on;
        spiffe_proxy_verify  spiffe://example.org/ns/prod/sa/payments;
        proxy_pass           https://unix:$TEST_NGINX_SERVROOT/logs/payments.sock:/;
    }
    location /fake/ {
        spiffe_proxy_svid    on;
        spiffe_proxy_verify  spiffe://example.org/ns/prod/sa/payments;
        proxy_pass           https://unix:$TEST_NGINX_SERVROOT/logs/impostor.sock:/;
    }
--- request eval
["GET /pay/", "GET /fake/"]
--- error_code eval
[200, 502]
--- response_body_like eval
["\\Apayments\n\\z", "Bad Gateway"]
--- error_log
its ID matches no spiffe_proxy_verify pattern



=== TEST 8: an agent of its own; a rotation and an outage mid-block
--- spiffe_agent: spiffe://example.org/edge
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    # none of the servers above: this agent has no payments SVID
--- config
    location = /me {
        return 200 "$spiffe_svid_id\n";
    }
--- request eval
["GET /me",
 "GET /.spiffe-agent/rotate-svid?arg=spiffe://example.org/edge-2&wait_ms=500",
 "GET /me",
 "GET /.spiffe-agent/down?wait_ms=200",
 "GET /me",
 "GET /.spiffe-agent/up"]
--- response_body_like eval
["\\Aspiffe://example.org/edge\n\\z", "\\AOK ", "\\Aspiffe://example.org/edge-2\n\\z",
 "\\AOK", "\\Aspiffe://example.org/edge-2\n\\z", "\\AOK"]
--- no_error_log
[alert]
[crit]
