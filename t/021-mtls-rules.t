# spiffe_allow / spiffe_deny on the verified peer's X.509 SPIFFE ID: exact,
# "*" (one segment), trailing "/**" (one or more), "~regex", "all"; first
# match wins; no match with rules is 403; no verified ID with rules is 403;
# inheritance server -> location; cooperation with "satisfy"; the rule
# that decided, by file and line, in the log and in $spiffe_rule (rules
# are included from user files there, so that their lines are known).
#
# The TLS server under test verifies with "optional", so that its rules,
# not the handshake, decide; its protected locations proxy to the probe's
# echo backend (a "return" would answer before the access phase), which
# shows the X-Spiffe-Id the backend got.  Peers are issued by the agent
# (trust domain example.org, no intermediate) and by a federated
# other.org.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeMTLS qw(add_peer outer_locations outer_upstreams start_probe);

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

my $certs = SpiffeAgent::certs();
my $agent = SpiffeAgent->start(
    spiffe_id => 'spiffe://example.org/ns/edge/sa/nginx');
my $state = $agent->state_dir;

$agent->control_ok('new-td other.org');
$agent->control_ok('federate other.org');

our %ID = (
    web   => 'spiffe://example.org/ns/prod/sa/web',
    dev   => 'spiffe://example.org/ns/dev/sa/web',
    db    => 'spiffe://example.org/ns/prod/sa/db',
    deep  => 'spiffe://example.org/ns/prod/sa/web/replica/1',
    admin => 'spiffe://example.org/admin',
    other => 'spiffe://other.org/ns/prod/sa/web',
);
for my $name (sort keys %ID) {
    my $ca = $name eq 'other' ? 'ca=other.org' : '';
    $agent->control_ok("mint $ID{$name} $name $ca");
    add_peer($name, "$state/$name.pem", "$state/$name.key");
}

# JWT-SVIDs of example.org (the agent's own keys) for the block with both
# kinds of rules
$ENV{TEST_NGINX_JWT_WEB} = $agent->mint_jwt('spiffe://example.org/ns/jwt-web', 'api');
$ENV{TEST_NGINX_JWT_DEV} = $agent->mint_jwt('spiffe://example.org/ns/jwt-dev', 'api');

# CA A of the matrix is not example.org's CA here: this one never verifies
add_peer('untrusted', "$certs/good.pem", "$certs/good.key");

start_probe();

# what a request as PEER gets: the echo, or nginx's 403 page
sub ok_as     { qr/^\QX-Spiffe-Id: $main::ID{$_[0]}\E\n\z/ }
sub forbidden { qr{^<html>\r?\n<head><title>403 Forbidden</title>} }

log_level('info');

run_tests();

__DATA__

=== TEST 1: an exact ID: only that ID, not another trust domain, not a longer path
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /exact {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/web/exact", "GET /as/dev/exact", "GET /as/other/exact",
 "GET /as/deep/exact"]
--- error_code eval
[200, 403, 403, 403]
--- response_body_like eval
[main::ok_as('web'), main::forbidden(), main::forbidden(), main::forbidden()]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web/replica/1"
--- no_error_log
[error]
[crit]



=== TEST 2: "*" stands for exactly one whole segment
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /ns-star {
            spiffe_allow spiffe://example.org/ns/*/sa/web;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /top-star {
            spiffe_allow spiffe://example.org/*;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/web/ns-star", "GET /as/dev/ns-star", "GET /as/db/ns-star",
 "GET /as/deep/ns-star", "GET /as/other/ns-star", "GET /as/admin/top-star",
 "GET /as/web/top-star"]
--- error_code eval
[200, 200, 403, 403, 403, 200, 403]
--- response_body_like eval
[main::ok_as('web'), main::ok_as('dev'), main::forbidden(), main::forbidden(),
 main::forbidden(), main::ok_as('admin'), main::forbidden()]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web/replica/1"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"
--- no_error_log
[error]
[crit]



=== TEST 3: a trailing "/**" stands for one or more segments, never none
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /prod {
            spiffe_allow spiffe://example.org/ns/prod/**;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /under-web {
            spiffe_allow spiffe://example.org/ns/prod/sa/web/**;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /td {
            spiffe_allow spiffe://example.org/**;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/web/prod", "GET /as/db/prod", "GET /as/deep/prod",
 "GET /as/dev/prod", "GET /as/other/prod", "GET /as/deep/under-web",
 "GET /as/web/under-web", "GET /as/admin/td", "GET /as/deep/td",
 "GET /as/other/td"]
--- error_code eval
[200, 200, 200, 403, 403, 200, 403, 200, 200, 403]
--- response_body_like eval
[main::ok_as('web'), main::ok_as('db'), main::ok_as('deep'),
 main::forbidden(), main::forbidden(), main::ok_as('deep'), main::forbidden(),
 main::ok_as('admin'), main::ok_as('deep'), main::forbidden()]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
--- no_error_log
[error]
[crit]



=== TEST 4: "~regex": the whole ID, anchored only where the regex says, case-sensitive
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /anchored {
            spiffe_allow "~^spiffe://example\.org/ns/(prod|dev)/sa/web$";
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /loose {
            spiffe_allow ~/sa/web;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /case {
            spiffe_allow "~^spiffe://example\.org/NS/";
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/web/anchored", "GET /as/dev/anchored", "GET /as/deep/anchored",
 "GET /as/other/anchored", "GET /as/db/anchored", "GET /as/deep/loose",
 "GET /as/other/loose", "GET /as/db/loose", "GET /as/web/case"]
--- error_code eval
[200, 200, 403, 403, 403, 200, 200, 403, 403]
--- response_body_like eval
[main::ok_as('web'), main::ok_as('dev'), main::forbidden(), main::forbidden(),
 main::forbidden(), main::ok_as('deep'), main::ok_as('other'),
 main::forbidden(), main::forbidden()]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web/replica/1"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"
--- no_error_log
[error]
[crit]



=== TEST 5: "all": every verified peer; nobody without a verified ID, and the log says why
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /all {
            spiffe_allow all;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /nobody {
            include $TEST_NGINX_HTML_DIR/nobody.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- user_files
>>> nobody.conf
spiffe_deny all;
--- request eval
["GET /as/web/all", "GET /as/other/all", "GET /nocert/all",
 "GET /as/untrusted/all", "GET /as/web/nobody", "GET /nocert/nobody"]
--- error_code eval
[200, 200, 403, 403, 403, 403]
--- response_body_like eval
[qr/^\QX-Spiffe-Id: spiffe:\/\/example.org\/ns\/prod\/sa\/web\E\n\z/,
 qr/^\QX-Spiffe-Id: spiffe:\/\/other.org\/ns\/prod\/sa\/web\E\n\z/,
 main::forbidden(), main::forbidden(), main::forbidden(),
 main::forbidden()]
--- grep_error_log eval
qr/spiffe: access forbidden.*?(?=, client)/
--- grep_error_log_out
spiffe: access forbidden: no verified SPIFFE ID (NONE)
spiffe: access forbidden: no verified SPIFFE ID (FAILED:unable to get local issuer certificate)
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/nobody.conf:1 for "spiffe://example.org/ns/prod/sa/web"
spiffe: access forbidden: no verified SPIFFE ID (NONE)
--- no_error_log
[error]
[crit]



=== TEST 6: the first matching rule wins, whatever follows
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /deny-first {
            include $TEST_NGINX_HTML_DIR/deny-first.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /allow-first {
            include $TEST_NGINX_HTML_DIR/allow-first.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /mixed {
            include $TEST_NGINX_HTML_DIR/mixed.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- user_files
>>> deny-first.conf
spiffe_deny spiffe://example.org/ns/dev/**;
spiffe_allow spiffe://example.org/**;
>>> allow-first.conf
spiffe_allow spiffe://example.org/**;
spiffe_deny spiffe://example.org/ns/dev/**;
>>> mixed.conf
spiffe_allow spiffe://example.org/ns/prod/sa/web;
spiffe_deny spiffe://example.org/ns/prod/**;
spiffe_allow spiffe://example.org/ns/**;
--- request eval
["GET /as/dev/deny-first", "GET /as/web/deny-first",
 "GET /as/dev/allow-first", "GET /as/web/mixed", "GET /as/db/mixed",
 "GET /as/deep/mixed", "GET /as/dev/mixed", "GET /as/admin/mixed"]
--- error_code eval
[403, 200, 200, 200, 403, 403, 200, 403]
--- response_body_like eval
[main::forbidden(), main::ok_as('web'), main::ok_as('dev'),
 main::ok_as('web'), main::forbidden(), main::forbidden(), main::ok_as('dev'),
 main::forbidden()]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/deny-first.conf:1 for "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/mixed.conf:2 for "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/mixed.conf:2 for "spiffe://example.org/ns/prod/sa/web/replica/1"
spiffe: access forbidden: no rule allows "spiffe://example.org/admin"
--- no_error_log
[error]
[crit]



=== TEST 7: inheritance: a location without rules takes the server's, a location with rules replaces them, a nested location takes its parent's
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        spiffe_allow spiffe://example.org/ns/prod/sa/web;

        location /inherit {
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /own {
            spiffe_allow spiffe://example.org/ns/dev/sa/web;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /parent {
            spiffe_allow spiffe://example.org/ns/prod/sa/db;

            location /parent/child {
                proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
            }
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/web/inherit", "GET /as/dev/inherit", "GET /as/dev/own",
 "GET /as/web/own", "GET /as/db/parent/child", "GET /as/web/parent/child"]
--- error_code eval
[200, 403, 200, 403, 200, 403]
--- response_body_like eval
[main::ok_as('web'), main::forbidden(), main::ok_as('dev'), main::forbidden(),
 main::ok_as('db'), main::forbidden()]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"
--- no_error_log
[error]
[crit]



=== TEST 8: no rules, no check: a client without an SVID gets in (optional), and a "return" answers before a location's rules
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;
        proxy_set_header X-Spiffe-Verify $spiffe_verify;

        location /open {
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /returns {
            spiffe_deny all;
            return 200 "rewrite phase first: $spiffe_verify\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /nocert/open", "GET /as/untrusted/open", "GET /as/web/open",
 "GET /nocert/returns"]
--- response_body eval
["X-Spiffe-Verify: NONE\n",
 "X-Spiffe-Verify: FAILED:unable to get local issuer certificate\n",
 "X-Spiffe-Id: spiffe://example.org/ns/prod/sa/web\nX-Spiffe-Verify: SUCCESS\n",
 "rewrite phase first: NONE\n"]
--- no_error_log
spiffe: access forbidden
[error]
[crit]



=== TEST 9: "satisfy any": the ID or nginx's allow; "satisfy all": both
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /any-deny {
            satisfy any;
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            deny all;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /any-allow {
            satisfy any;
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            allow unix:;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /all-allow {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            allow unix:;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/web/any-deny", "GET /as/dev/any-deny", "GET /as/dev/any-allow",
 "GET /as/web/all-allow", "GET /as/dev/all-allow"]
--- error_code eval
[200, 403, 200, 200, 403]
--- response_body_like eval
[main::ok_as('web'), main::forbidden(), main::ok_as('dev'),
 main::ok_as('web'), main::forbidden()]
--- error_log eval
qr{\[error\] .*: \*\d+ access forbidden by rule, client: unix:, server: , request: "GET /any-deny HTTP/1.0", host: "tls_as_dev"}
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
--- no_error_log
[crit]



=== TEST 10: an ID only counts when spiffe_verify_client verified it: nginx's own ssl_verify_client is not enough
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        ssl_verify_client optional_no_ca;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /all {
            spiffe_allow all;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /who {
            return 200 "$ssl_client_verify|$spiffe_verify|$spiffe_id\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/web/all", "GET /as/web/all", "GET /fresh/web/who"]
--- error_code eval
[403, 403, 200]
--- response_body_like eval
[main::forbidden(), main::forbidden(),
 qr/^FAILED:unable to verify the first certificate\|(?!SUCCESS)[^|]+\|\n\z/]
--- grep_error_log eval
qr/spiffe: access forbidden: no verified SPIFFE ID/
--- grep_error_log_out
spiffe: access forbidden: no verified SPIFFE ID
spiffe: access forbidden: no verified SPIFFE ID
--- no_error_log
[error]
[crit]



=== TEST 11: rules on a resumed TLS session use the ID verified when it began
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;
        proxy_set_header X-Reused $ssl_session_reused;

        location /web {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/web/web", "GET /as/web/web", "GET /as12/dev/web",
 "GET /as12/dev/web", "GET /as12/web/web", "GET /as12/web/web"]
--- error_code eval
[200, 200, 403, 403, 200, 200]
--- response_body_like eval
[qr/^X-Spiffe-Id: spiffe:\/\/example.org\/ns\/prod\/sa\/web\nX-Reused: \.\n\z/,
 qr/^X-Spiffe-Id: spiffe:\/\/example.org\/ns\/prod\/sa\/web\nX-Reused: r\n\z/,
 main::forbidden(), main::forbidden(),
 qr/^X-Spiffe-Id: spiffe:\/\/example.org\/ns\/prod\/sa\/web\nX-Reused: \.\n\z/,
 qr/^X-Spiffe-Id: spiffe:\/\/example.org\/ns\/prod\/sa\/web\nX-Reused: r\n\z/]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
--- no_error_log
[error]
[crit]



=== TEST 12: $spiffe_rule and the log name the rule that decided, by file and line; empty when none did
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;
        proxy_set_header X-Spiffe-Rule $spiffe_rule;
        error_page 403 /refused;

        location /api {
            include $TEST_NGINX_HTML_DIR/api.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /inline {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /open {
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location = /refused {
            internal;
            return 403 "refused by [$spiffe_rule]\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- user_files
>>> api.conf
spiffe_deny  spiffe://example.org/ns/dev/**;
spiffe_allow spiffe://example.org/ns/*/sa/web;
spiffe_allow "~^spiffe://other\.org/";
spiffe_allow spiffe://example.org/ns/prod/sa/web/replica/1;
spiffe_deny  all;
--- request eval
["GET /as/web/api", "GET /as/other/api", "GET /as/deep/api",
 "GET /as/dev/api", "GET /as/db/api", "GET /nocert/api",
 "GET /as/web/inline", "GET /as/dev/inline", "GET /as/web/open"]
--- error_code eval
[200, 200, 200, 403, 403, 403, 200, 403, 200]
--- response_body_like eval
my $d = quotemeta $ENV{TEST_NGINX_HTML_DIR};
[qr{^X-Spiffe-Id: \Q$main::ID{web}\E\nX-Spiffe-Rule: $d/api\.conf:2\n\z},
 qr{^X-Spiffe-Id: \Q$main::ID{other}\E\nX-Spiffe-Rule: $d/api\.conf:3\n\z},
 qr{^X-Spiffe-Id: \Q$main::ID{deep}\E\nX-Spiffe-Rule: $d/api\.conf:4\n\z},
 qr{^refused by \[$d/api\.conf:1\]\n\z},
 qr{^refused by \[$d/api\.conf:5\]\n\z},
 qr{^refused by \[\]\n\z},
 qr{^X-Spiffe-Id: \Q$main::ID{web}\E\nX-Spiffe-Rule: \S+/nginx\.conf:\d+\n\z},
 qr{^refused by \[\]\n\z},
 qr{^X-Spiffe-Id: \Q$main::ID{web}\E\n\z}]
--- grep_error_log eval
qr/spiffe: access forbidden.*?(?=, client)/
--- grep_error_log_out
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/api.conf:1 for "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/api.conf:5 for "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden: no verified SPIFFE ID (NONE)
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
--- no_error_log
[error]
[crit]



=== TEST 13: JWT and X.509 rules in one location: the JWT rules are decided first; $spiffe_rule names the rule that refused, else the X.509 rule that allowed
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;
        proxy_set_header X-Spiffe-Rule $spiffe_rule;
        error_page 403 /refused;

        location /both {
            spiffe_jwt_audience api;
            include $TEST_NGINX_HTML_DIR/both.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location = /refused {
            internal;
            return 403 "refused by [$spiffe_rule]\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- user_files
>>> both.conf
spiffe_jwt_deny  spiffe://example.org/ns/jwt-dev;
spiffe_jwt_allow all;
spiffe_deny  spiffe://example.org/ns/dev/**;
spiffe_allow spiffe://example.org/**;
--- request eval
["GET /as/web/both", "GET /as/web/both", "GET /as/dev/both",
 "GET /as/other/both", "GET /nocert/both"]
--- more_headers eval
["Authorization: Bearer \$TEST_NGINX_JWT_WEB",
 "Authorization: Bearer \$TEST_NGINX_JWT_DEV",
 "Authorization: Bearer \$TEST_NGINX_JWT_WEB",
 "Authorization: Bearer \$TEST_NGINX_JWT_WEB",
 "Authorization: Bearer \$TEST_NGINX_JWT_WEB"]
--- error_code eval
[200, 403, 403, 403, 403]
--- response_body_like eval
my $d = quotemeta $ENV{TEST_NGINX_HTML_DIR};
[qr{^X-Spiffe-Id: \Q$main::ID{web}\E\nX-Spiffe-Rule: $d/both\.conf:4\n\z},
 qr{^refused by \[$d/both\.conf:1\]\n\z},
 qr{^refused by \[$d/both\.conf:3\]\n\z},
 qr{^refused by \[\]\n\z}, qr{^refused by \[\]\n\z}]
--- grep_error_log eval
qr/spiffe: access forbidden.*?(?=, client)/
--- grep_error_log_out
spiffe: access forbidden by the JWT rule at $TEST_NGINX_HTML_DIR/both.conf:1 for "spiffe://example.org/ns/jwt-dev"
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/both.conf:3 for "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no verified SPIFFE ID (NONE)
--- no_error_log
[error]
[crit]
