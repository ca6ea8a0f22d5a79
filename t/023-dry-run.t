# spiffe_dry_run: the rules (spiffe_allow/deny, spiffe_jwt_allow/deny) are
# decided as always, and $spiffe_rule names the rule that decided, but a
# refusal lets the request through, logged at warn with "(dry run)" and
# counted as dry_run_denied on the status page and in Prometheus.  What dry
# run does not relax: "spiffe_verify_client on" (400), a missing or invalid
# JWT-SVID under "spiffe_jwt on" (401).  A refusal in dry run has no say
# under "satisfy any".  Inheritance (http, server, location; stream, server),
# "off" in a location, stream servers, bad values at "nginx -t".
#
# Layout as in t/021-mtls-rules.t: the TLS server under test listens on
# logs/tls.sock (spiffe_verify_client optional unless a block says else)
# and proxies to the probe's echo backend, which answers with the X-*
# headers it got; the outer locations of SpiffeMTLS are its clients
# (/as/PEER/, /nocert/).  The stream blocks put a stream server on
# logs/tls.sock instead, in front of a plain http backend.
# Every block names the outer upstreams and locations itself
# (main::outer_upstreams() in its --- http_config, main::outer_locations()
# in its --- config, with /status and /metrics), and the agent.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeMTLS qw(add_peer outer_locations outer_upstreams start_probe);
use SpiffeStatus qw(request status_json check_schema prom_expected
                    compare_series);
use SpiffeStream qw($MODULES wait_log);
use PromCheck;

my $agent = SpiffeAgent->start(
    spiffe_id => 'spiffe://example.org/ns/edge/sa/nginx');
my $state = $agent->state_dir;

# peers of the agent's trust domain: web allowed, dev denied by a rule,
# ops allowed by none
our %ID = map { $_ => "spiffe://example.org/ns/$_/sa/web" } qw(dev ops);
$ID{web} = 'spiffe://example.org/ns/prod/sa/web';
for my $name (sort keys %ID) {
    $agent->control_ok("mint $ID{$name} $name");
    add_peer($name, "$state/$name.pem", "$state/$name.key");
}

# dev's certificate for a location of TEST 8's own
$ENV{TEST_NGINX_DEV_PEM} = "$state/dev.pem";
$ENV{TEST_NGINX_DEV_KEY} = "$state/dev.key";

# a peer of a CA that example.org's bundle does not hold
add_peer('untrusted', SpiffeAgent::certs() . '/good.pem',
         SpiffeAgent::certs() . '/good.key');

$ENV{TEST_NGINX_JWT_WEB} =
    $agent->mint_jwt('spiffe://example.org/ns/jwt-web', 'api');
$ENV{TEST_NGINX_JWT_DEV} =
    $agent->mint_jwt('spiffe://example.org/ns/jwt-dev', 'api');
$ENV{TEST_NGINX_JWT_OPS} =
    $agent->mint_jwt('spiffe://example.org/ns/jwt-ops', 'api');
$ENV{TEST_NGINX_JWT_AUD} =
    $agent->mint_jwt('spiffe://example.org/ns/jwt-web', 'other');

# The decision counters of the status page (/status, /metrics of every
# block), once the JSON page has passed its schema and the Prometheus page
# parses and agrees with it
sub counters {
    my ($json) = status_json('/status');
    my @err = check_schema($json);
    my $res = request('GET', '/metrics');
    my ($perr, $samples) = PromCheck::check($res->{body});
    push @err, @$perr,
         compare_series(prom_expected($json), $samples);
    return join('', map { "$_\n" } @err) if @err;

    return join '', map {
        my $k = $_;
        "$k: " . join(' ', map { "$_=$json->{$k}{$_}" }
                           qw(allowed denied dry_run_denied)) . "\n"
    } qw(access jwt);
}

# the stream log once it has n lines
sub stream_log {
    my (%q) = @_;
    return wait_log('stream.log', $q{n} // 1);
}

start_probe(counters => \&counters, log => \&stream_log);

# the echo of a request as PEER, with $spiffe_rule when one decided
sub echo {
    my ($peer, $rule) = @_;
    return "X-Spiffe-Id: $main::ID{$peer}\n"
           . (defined $rule ? "X-Spiffe-Rule: $rule\n" : '');
}

# the same, as the whole body
sub echo_only { qr/^\Q${\ echo(@_) }\E\z/ }

log_level('info');

# the stream blocks need nginx's stream module and ours
$ENV{TEST_NGINX_LOAD_MODULES} = $MODULES;

run_tests();

__DATA__

=== TEST 1: X.509 rules in dry run: every refusal goes through, logged at warn with the ID and the rule, counted; $spiffe_rule names the rule; an allowed caller is not logged.  The same rules enforced refuse, at info
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

        location /dry {
            spiffe_dry_run on;
            include $TEST_NGINX_HTML_DIR/api.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /enforced {
            include $TEST_NGINX_HTML_DIR/api.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- user_files
>>> api.conf
spiffe_deny  spiffe://example.org/ns/dev/**;
spiffe_allow spiffe://example.org/ns/prod/sa/*;
--- request eval
["GET /as/web/dry", "GET /as/dev/dry", "GET /as/ops/dry",
 "GET /nocert/dry", "GET /as/untrusted/dry",
 "GET /as/web/enforced", "GET /as/dev/enforced", "GET /as/ops/enforced",
 "GET /nocert/enforced", "GET /probe/counters"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 403, 403, 403, 200]
--- response_body_like eval
my $f = "$ENV{TEST_NGINX_HTML_DIR}/api.conf";
[main::echo_only('web', "$f:2"),
 main::echo_only('dev', "$f:1"),
 main::echo_only('ops'), "^\\z", "^\\z",
 main::echo_only('web', "$f:2"),
 "403 Forbidden", "403 Forbidden", "403 Forbidden",
 "^access: allowed=2 denied=2 dry_run_denied=4\n"
 . "jwt: allowed=0 denied=0 dry_run_denied=0\n\\z"]
--- grep_error_log eval
qr/\[(?:warn|info)\] .*?spiffe: access.*?(?=, client)/
--- grep_error_log_out eval
my $f = "$ENV{TEST_NGINX_HTML_DIR}/api.conf";
qr{\A\[warn\] [^\n]* spiffe: access would be forbidden by the rule at \Q$f\E:1 for "spiffe://example\.org/ns/dev/sa/web" \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no rule allows "spiffe://example\.org/ns/ops/sa/web" \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no verified SPIFFE ID \(NONE\) \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no verified SPIFFE ID \(FAILED:unable to get local issuer certificate\) \(dry run\)
\[info\] [^\n]* spiffe: access forbidden by the rule at \Q$f\E:1 for "spiffe://example\.org/ns/dev/sa/web"
\[info\] [^\n]* spiffe: access forbidden: no rule allows "spiffe://example\.org/ns/ops/sa/web"
\[info\] [^\n]* spiffe: access forbidden: no verified SPIFFE ID \(NONE\)
\z}
--- no_error_log
[error]
[crit]



=== TEST 2: inheritance: http-level dry run, server-level rules; "off" in a location enforces them, "on" in a location nested in it relaxes them again; a location's own rules keep the inherited dry run
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    spiffe_dry_run on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        spiffe_deny  spiffe://example.org/ns/dev/**;
        spiffe_allow all;

        location /inherit {
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /off {
            spiffe_dry_run off;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;

            location /off/on {
                spiffe_dry_run on;
                proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
            }
        }

        location /own {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request eval
["GET /as/dev/inherit", "GET /as/dev/off", "GET /as/web/off",
 "GET /as/dev/off/on", "GET /as/ops/own", "GET /as/web/own"]
--- error_code eval
[200, 403, 200, 200, 200, 200]
--- response_body_like eval
[main::echo_only('dev'), "403 Forbidden",
 main::echo_only('web'), main::echo_only('dev'),
 main::echo_only('ops'), main::echo_only('web')]
--- grep_error_log eval
qr/\[(?:warn|info)\] .*?spiffe: access.*?(?=, client)/
--- grep_error_log_out eval
qr{\A\[warn\] [^\n]* spiffe: access would be forbidden by the rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/dev/sa/web" \(dry run\)
\[info\] [^\n]* spiffe: access forbidden by the rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/dev/sa/web"
\[warn\] [^\n]* spiffe: access would be forbidden by the rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/dev/sa/web" \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no rule allows "spiffe://example\.org/ns/ops/sa/web" \(dry run\)
\z}
--- no_error_log
[error]
[crit]



=== TEST 3: "satisfy any": a refusal in dry run grants nothing (nginx's "deny all" still refuses), as if there were no rules
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
            spiffe_dry_run on;
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            deny all;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }

        location /any-allow {
            satisfy any;
            spiffe_dry_run on;
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            allow unix:;
            deny all;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request eval
["GET /as/web/any-deny", "GET /as/dev/any-deny", "GET /as/dev/any-allow"]
--- error_code eval
[200, 403, 200]
--- response_body_like eval
[main::echo_only('web'), "403 Forbidden",
 main::echo_only('dev')]
--- error_log eval
qr{\[error\] .*: \*\d+ access forbidden by rule, client: unix:, server: , request: "GET /any-deny HTTP/1.0", host: "tls_as_dev"}
--- grep_error_log eval
qr/spiffe: access.*?(?=, client)/
--- grep_error_log_out
spiffe: access would be forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web" (dry run)
spiffe: access would be forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web" (dry run)
--- no_error_log
[crit]



=== TEST 4: JWT rules in dry run: a refused or missing token goes through, logged at warn, counted; $spiffe_rule names the JWT rule
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        proxy_set_header X-Spiffe-Jwt-Id $spiffe_jwt_id;
        proxy_set_header X-Spiffe-Rule $spiffe_rule;

        location /jwt {
            spiffe_dry_run on;
            spiffe_jwt optional;
            spiffe_jwt_audience api;
            include $TEST_NGINX_HTML_DIR/jwt.conf;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- user_files
>>> jwt.conf
spiffe_jwt_deny  spiffe://example.org/ns/jwt-dev;
spiffe_jwt_allow spiffe://example.org/ns/jwt-web;
--- request eval
["GET /nocert/jwt", "GET /nocert/jwt", "GET /nocert/jwt", "GET /nocert/jwt",
 "GET /nocert/jwt", "GET /probe/counters"]
--- more_headers eval
["Authorization: Bearer \$TEST_NGINX_JWT_WEB",
 "Authorization: Bearer \$TEST_NGINX_JWT_DEV",
 "Authorization: Bearer \$TEST_NGINX_JWT_OPS",
 "Authorization: Bearer \$TEST_NGINX_JWT_AUD",
 "Accept: */*", "Accept: */*"]
--- response_body eval
my $f = "$ENV{TEST_NGINX_HTML_DIR}/jwt.conf";
["X-Spiffe-Jwt-Id: spiffe://example.org/ns/jwt-web\nX-Spiffe-Rule: $f:2\n",
 "X-Spiffe-Jwt-Id: spiffe://example.org/ns/jwt-dev\nX-Spiffe-Rule: $f:1\n",
 "X-Spiffe-Jwt-Id: spiffe://example.org/ns/jwt-ops\n", "", "",
 "access: allowed=0 denied=0 dry_run_denied=0\n"
 . "jwt: allowed=1 denied=0 dry_run_denied=4\n"]
--- grep_error_log eval
qr/\[(?:warn|info)\] .*?spiffe: access.*?(?=, client)/
--- grep_error_log_out eval
my $f = "$ENV{TEST_NGINX_HTML_DIR}/jwt.conf";
qr{\A\[warn\] [^\n]* spiffe: access would be forbidden by the JWT rule at \Q$f\E:1 for "spiffe://example\.org/ns/jwt-dev" \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no JWT rule allows "spiffe://example\.org/ns/jwt-ops" \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no verified JWT-SVID \(FAILED:[^)]*audience[^)]*\) \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no verified JWT-SVID \(NONE\) \(dry run\)
\z}
--- no_error_log
[error]
[crit]



=== TEST 5: dry run does not relax "spiffe_jwt on": a missing or invalid token is 401; a valid one the rules refuse goes through
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        proxy_set_header X-Spiffe-Jwt-Id $spiffe_jwt_id;

        location /jwt-on {
            spiffe_dry_run on;
            spiffe_jwt on;
            spiffe_jwt_audience api;
            spiffe_jwt_deny all;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request eval
["GET /nocert/jwt-on", "GET /nocert/jwt-on", "GET /nocert/jwt-on"]
--- more_headers eval
["Accept: */*", "Authorization: Bearer \$TEST_NGINX_JWT_AUD",
 "Authorization: Bearer \$TEST_NGINX_JWT_WEB"]
--- error_code eval
[401, 401, 200]
--- response_body_like eval
["401 Authorization Required", "401 Authorization Required",
 "^X-Spiffe-Jwt-Id: spiffe://example.org/ns/jwt-web\n\\z"]
--- grep_error_log eval
qr/spiffe: (?:access|no JWT|JWT-SVID refused).*?(?=, client)/
--- grep_error_log_out eval
qr{\Aspiffe: no JWT-SVID in the request
spiffe: JWT-SVID refused: [^\n]*audience[^\n]*
spiffe: access would be forbidden by the JWT rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/jwt-web" \(dry run\)
\z}
--- no_error_log
[error]
[crit]



=== TEST 6: dry run does not relax "spiffe_verify_client on": no certificate or an untrusted one is 400; a verified caller the rules refuse goes through
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_dry_run on;
        spiffe_deny all;
        proxy_set_header X-Spiffe-Id $spiffe_id;

        location /x {
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request eval
["GET /nocert/x", "GET /as/untrusted/x", "GET /as/dev/x"]
--- error_code eval
[400, 400, 200]
--- response_body_like eval
["No required SSL certificate was sent",
 "The SSL certificate error", main::echo_only('dev')]
--- grep_error_log eval
qr/spiffe: (?:access|client).*?(?=, client)/
--- grep_error_log_out eval
qr{\Aspiffe: client sent no required SPIFFE SVID
spiffe: client SVID refused \(FAILED:unable to get local issuer certificate\)
spiffe: access would be forbidden by the rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/dev/sa/web" \(dry run\)
\z}
--- no_error_log
[error]
[crit]



=== TEST 7: a stream server in dry run (stream-level "spiffe_dry_run on", "optional"): refused and unverified clients reach the backend; $spiffe_rule and the counters as in http
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$status|$spiffe_rule';
    access_log logs/stream.log spiffe;

    spiffe_dry_run on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        include $TEST_NGINX_HTML_DIR/rules.conf;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
        return 200 "backend: $request_uri\n";
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- user_files
>>> rules.conf
spiffe_deny  spiffe://example.org/ns/dev/**;
spiffe_allow spiffe://example.org/ns/prod/sa/web;
--- request eval
["GET /as/web/a", "GET /as/dev/b", "GET /as/ops/c", "GET /nocert/d",
 "GET /probe/log?n=4", "GET /probe/counters"]
--- response_body eval
my $f = "$ENV{TEST_NGINX_HTML_DIR}/rules.conf";
["backend: /a\n", "backend: /b\n", "backend: /c\n", "backend: /d\n",
 "SUCCESS|$main::ID{web}|200|$f:2\n"
 . "SUCCESS|$main::ID{dev}|200|$f:1\n"
 . "SUCCESS|$main::ID{ops}|200|-\n"
 . "NONE|-|200|-\n",
 "access: allowed=1 denied=0 dry_run_denied=3\n"
 . "jwt: allowed=0 denied=0 dry_run_denied=0\n"]
--- grep_error_log eval
qr/\[(?:warn|info)\] .*?spiffe: (?:access|connection).*?(?= while)/
--- grep_error_log_out eval
my $f = "$ENV{TEST_NGINX_HTML_DIR}/rules.conf";
qr{\A\[warn\] [^\n]* spiffe: access would be forbidden by the rule at \Q$f\E:1 for "spiffe://example\.org/ns/dev/sa/web" \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no rule allows "spiffe://example\.org/ns/ops/sa/web" \(dry run\)
\[warn\] [^\n]* spiffe: access would be forbidden: no verified SPIFFE ID \(NONE\) \(dry run\)
\z}
--- no_error_log
[error]
[crit]



=== TEST 8: a stream server in dry run does not relax "spiffe_verify_client on"; "spiffe_dry_run off" in a server enforces the stream level's rules
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$status';
    access_log logs/stream.log spiffe;

    spiffe_dry_run on;
    spiffe_deny spiffe://example.org/ns/dev/**;
    spiffe_allow all;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls2.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_dry_run off;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
        return 200 "backend: $request_uri\n";
    }

    upstream tls2_dev {
        server unix:$TEST_NGINX_SERVROOT/logs/tls2.sock;
    }
EOC
--- config eval
<<'EOC' . main::outer_locations()
    location /enforced/dev/ {
        proxy_pass https://tls2_dev/;
        proxy_ssl_protocols TLSv1.2 TLSv1.3;
        proxy_ssl_certificate $TEST_NGINX_DEV_PEM;
        proxy_ssl_certificate_key $TEST_NGINX_DEV_KEY;
    }
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request eval
["GET /as/dev/a", "GET /nocert/b", "GET /enforced/dev/c",
 "GET /probe/log?n=3"]
--- error_code eval
[200, 502, 502, 200]
--- response_body_like eval
["^backend: /a\n\\z", "502 Bad Gateway", "502 Bad Gateway",
 "^SUCCESS\\|\Q$main::ID{dev}\E\\|200\nNONE\\|-\\|403\nSUCCESS\\|\Q$main::ID{dev}\E\\|403\n\\z"]
--- grep_error_log eval
qr/\[(?:warn|info)\] .*?spiffe: (?:access|connection).*?(?= while)/
--- grep_error_log_out eval
qr{\A\[warn\] [^\n]* spiffe: access would be forbidden by the rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/dev/sa/web" \(dry run\)
\[info\] [^\n]* spiffe: connection refused: no verified SPIFFE ID \(NONE\)
\[info\] [^\n]* spiffe: access forbidden by the rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/dev/sa/web"
\z}
--- no_error_log eval
[qr/\[error\](?!.*(?:upstream prematurely closed connection|SSL_write\(\) failed \(32: Broken pipe\)))/,
 qr/\[crit\](?!.*SSL_shutdown\(\) failed)/]



=== TEST 9: "spiffe_dry_run" takes "on" or "off" (http location): nginx -t names the file and line
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location /x {
        spiffe_dry_run maybe;
    }
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "maybe" in "spiffe_dry_run" directive, it must be "on" or "off" in \S+nginx\.conf:\d+}



=== TEST 10: "spiffe_dry_run" twice in one location
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location /x {
        spiffe_dry_run on;
        spiffe_dry_run off;
    }
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_dry_run" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 11: "spiffe_dry_run" takes "on" or "off" (stream server)
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_dry_run yes;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location = /status  { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "yes" in "spiffe_dry_run" directive, it must be "on" or "off" in \S+nginx\.conf:\d+}
