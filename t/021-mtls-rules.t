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
sub ok_as     { "X-Spiffe-Id: $main::ID{$_[0]}\n" }
sub forbidden { qr{^<html>\r?\n<head><title>403 Forbidden</title>} }

# "GET /as/PEER/URI" for each [PEER, URI, allowed?], with the expected
# codes and bodies
sub cases {
    my @c = @_;
    return {
        request => [map { "GET /as/$_->[0]$_->[1]" } @c],
        code    => [map { $_->[2] ? 200 : 403 } @c],
        body    => [map { $_->[2] ? qr/^\Q${\ ok_as($_->[0])}\E\z/
                                  : forbidden() } @c],
    };
}

log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => ($block->http_config // '')
                                     . outer_upstreams());
    $block->set_value(config => ($block->config // '') . outer_locations());

    # "[error]" too, unless the block expects one of nginx's own
    my @never = ('[crit]');
    unshift @never, '[error]'
        unless grep { "$_" =~ /\berror\\?\]/ } $block->error_log;
    $block->set_value(no_error_log => join "\n",
                      grep { defined } $block->no_error_log, @never);

    $block->set_value(main_config =>
        "spiffe_workload_api unix:\$TEST_NGINX_AGENT_SOCKET;\n"
        . ($block->main_config // ''));

    # "--- cases eval": [PEER, URI, allowed?]... gives the requests, their
    # codes and bodies
    if (my $c = delete $block->{cases}) {
        my $cases = cases(@{ $c->[0] });
        $block->set_value(request => $cases->{request});
        $block->set_value(error_code => $cases->{code});
        $block->set_value(response_body_like => $cases->{body});
    }
});

run_tests();

__DATA__

=== TEST 1: an exact ID: only that ID, not another trust domain, not a longer path
--- http_config
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
--- cases eval
[['web', '/exact', 1], ['dev', '/exact', 0], ['other', '/exact', 0],
 ['deep', '/exact', 0]]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web/replica/1"



=== TEST 2: "*" stands for exactly one whole segment
--- http_config
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
--- cases eval
[['web', '/ns-star', 1], ['dev', '/ns-star', 1], ['db', '/ns-star', 0],
 ['deep', '/ns-star', 0], ['other', '/ns-star', 0],
 ['admin', '/top-star', 1], ['web', '/top-star', 0]]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web/replica/1"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"



=== TEST 3: a trailing "/**" stands for one or more segments, never none
--- http_config
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
--- cases eval
[['web', '/prod', 1], ['db', '/prod', 1], ['deep', '/prod', 1],
 ['dev', '/prod', 0], ['other', '/prod', 0],
 ['deep', '/under-web', 1], ['web', '/under-web', 0],
 ['admin', '/td', 1], ['deep', '/td', 1], ['other', '/td', 0]]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"



=== TEST 4: "~regex": the whole ID, anchored only where the regex says, case-sensitive
--- http_config
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
--- cases eval
[['web', '/anchored', 1], ['dev', '/anchored', 1], ['deep', '/anchored', 0],
 ['other', '/anchored', 0], ['db', '/anchored', 0],
 ['deep', '/loose', 1], ['other', '/loose', 1], ['db', '/loose', 0],
 ['web', '/case', 0]]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web/replica/1"
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"



=== TEST 5: "all": every verified peer; nobody without a verified ID, and the log says why
--- http_config
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



=== TEST 6: the first matching rule wins, whatever follows
--- http_config
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
--- cases eval
[['dev', '/deny-first', 0], ['web', '/deny-first', 1],
 ['dev', '/allow-first', 1],
 ['web', '/mixed', 1], ['db', '/mixed', 0], ['deep', '/mixed', 0],
 ['dev', '/mixed', 1], ['admin', '/mixed', 0]]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/deny-first.conf:1 for "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/mixed.conf:2 for "spiffe://example.org/ns/prod/sa/db"
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/mixed.conf:2 for "spiffe://example.org/ns/prod/sa/web/replica/1"
spiffe: access forbidden: no rule allows "spiffe://example.org/admin"



=== TEST 7: inheritance: a location without rules takes the server's, a location with rules replaces them, a nested location takes its parent's
--- http_config
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
--- cases eval
[['web', '/inherit', 1], ['dev', '/inherit', 0],
 ['dev', '/own', 1], ['web', '/own', 0],
 ['db', '/parent/child', 1], ['web', '/parent/child', 0]]
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web"



=== TEST 8: no rules, no check: a client without an SVID gets in (optional), and a "return" answers before a location's rules
--- http_config
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



=== TEST 9: "satisfy any": the ID or nginx's allow; "satisfy all": both
--- http_config
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
--- cases eval
[['web', '/any-deny', 1], ['dev', '/any-deny', 0],
 ['dev', '/any-allow', 1],
 ['web', '/all-allow', 1], ['dev', '/all-allow', 0]]
--- error_log eval
qr{\[error\] .*: \*\d+ access forbidden by rule, client: unix:, server: , request: "GET /any-deny HTTP/1.0", host: "tls_as_dev"}
--- grep_error_log eval
qr/spiffe: access forbidden[^"]*"[^"]*"/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"



=== TEST 10: an ID only counts when spiffe_verify_client verified it: nginx's own ssl_verify_client is not enough
--- http_config
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



=== TEST 11: rules on a resumed TLS session use the ID verified when it began
--- http_config
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



=== TEST 12: $spiffe_rule and the log name the rule that decided, by file and line; empty when none did
--- http_config
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



=== TEST 13: JWT and X.509 rules in one location: the JWT rules are decided first; $spiffe_rule names the rule that refused, else the X.509 rule that allowed
--- http_config
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
