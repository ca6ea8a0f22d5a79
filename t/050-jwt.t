# JWT-SVIDs (issue 6).  Ingress: spiffe_jwt validates the caller's token
# against the JWT bundle of its subject's trust domain, which the worker
# streams from the agent's FetchJWTBundles; spiffe_jwt_allow/deny decide on
# its subject.  Egress: spiffe_jwt_svid_audience keeps a JWT-SVID of our
# own fresh (FetchJWTSVID, again at half its lifetime) as $spiffe_jwt_svid.
#
# Every block but those nginx must refuse starts a fresh t/agent/agent.py
# in its --- init (forget(); agent();), points nginx at it
# (spiffe_workload_api in its --- main_config), and has its own /ctl/
# location where it drives the agent's control socket.  The tokens are
# made by the agent in --- init (mint()/forge() below) and reach the
# requests as $TEST_NGINX_<NAME>.
#
# "access" locations answer with a static file (alias html/ok.txt), never
# with "return": "return" answers in the rewrite phase, before the access
# phase that spiffe_jwt runs in.  Their X-Jwt header shows the variables.
#
# --- grep_error_log_out holds the story of a block (see story()): every
# [error] and worse line, and the module's JWT lines at info and above, in
# order.  Every block also checks that no token reaches the log: no line
# above debug looks like a JWT, no module line at all does, and no line
# holds the signature of a token the block sent, except nginx's own debug
# dump of the request headers ("http header: ..."): every such block's
# --- no_error_log eval holds @main::LEAKS, and [crit], and [error] unless
# its story (--- grep_error_log) has them.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use File::Temp qw(tempdir);

no_shuffle();

delete $ENV{SPIFFE_ENDPOINT_SOCKET};

# one state directory for the agents of this file: the gRPC stubs are
# generated once, and the socket paths are known before a block runs
our $State = tempdir('spiffe-050-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $Sock = "$State/agent.sock";
our $Agent;

# how long nginx gets to take in what the agent pushed
our $Valgrind = $ENV{TEST_NGINX_USE_VALGRIND};
$ENV{TEST_NGINX_PUSH_MS} = $Valgrind ? 3000 : 300;

# a new agent for the block, replacing the previous block's
sub agent {
    my (%opt) = @_;
    $Agent->stop if $Agent;
    $Agent = SpiffeAgent->start(state_dir => $State, %opt);
    return $Agent;
}

# ---- tokens --------------------------------------------------------------

# the signatures of the tokens of the block: none may reach the log
our @Secrets;
our $SecretRe = qr/(?!)/;

# the tokens of the previous block forgotten: the first line of an --- init
sub forget {
    @Secrets = ();
    $SecretRe = qr/(?!)/;
}

# $ENV{TEST_NGINX_<NAME>} = the token
sub secret {
    my ($name, $token) = @_;
    $ENV{"TEST_NGINX_$name"} = $token;
    my ($sig) = $token =~ /"signature":"([^"]+)"/;     # JSON serialization
    ($sig) = $token =~ /\.([^.]+)\z/ unless defined $sig;
    $sig = (split /\./, $token)[1] unless defined $sig;    # alg none
    push @Secrets, $sig;
    my $any = join '|', map { quotemeta } @Secrets;
    $SecretRe = qr/$any/;
    return $token;
}

sub mint {
    my ($name, @args) = @_;
    return secret($name, $Agent->mint_jwt(@args));
}

sub forge {
    my ($name, @args) = @_;
    return secret($name, $Agent->forge_jwt(@args));
}

our $WEB = 'spiffe://example.org/ns/web';

# rules included from user files: their lines are known
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# forge-jwt kinds and the reason each one must be refused for
our @FORGED = (
    none         => 'alg not allowed',
    hs256        => 'alg not allowed',
    badsig       => 'bad signature',
    wrongkid     => 'unknown kid',
    nokid        => 'no kid',
    untrusted    => 'bad signature',
    expired      => 'expired',
    'future-nbf' => 'not yet valid',
    typ          => 'bad typ',
    json         => 'JSON serialization not supported',
    long         => 'token too long',
    truncated    => 'bad base64url',
    keyalg       => 'key does not fit alg',
    crit         => 'crit not supported',
);
our @KINDS = @FORGED[grep { $_ % 2 == 0 } 0 .. $#FORGED];
our %REASON = @FORGED;

sub kind_var { my $k = uc shift; $k =~ tr/-/_/; return "F_$k" }

# one token of each kind, for $WEB and audience "api"
sub forge_all {
    forge(kind_var($_), $_, $WEB, 'api') for @KINDS;
}

# "Authorization: Bearer $TEST_NGINX_<NAME>" for each name
sub bearer {
    return [map { "Authorization: Bearer \$TEST_NGINX_$_" } @_];
}

# ---- the story of a block ------------------------------------------------

# every [error] and worse line, and the module's JWT lines at info and
# above, without nginx's request context
our $Story = qr/
    \[(?:error|alert|crit|emerg)\]\ .*?(?=,\ client:\ |$)
  | \[(?:info|notice|warn)\]\ \d+\#\d+:\ (?:\*\d+\ )?spiffe:\ (?:
        JWT\ bundles\ | JWT-SVID\ refused | no\ JWT-SVID | access\ forbidden
      | Workload\ API\ "[^"]*":\ FetchJWT ) .*?(?=,\ client:\ |$)
/x;

# what the story must be: one "[level] text" per line; in the text "*"
# stands for any text, {sock} for the agent's socket
sub story {
    my $re = '';
    for my $line (@_) {
        my ($level, $text) = $line =~ /^\[(\w+)\] (.*)\z/
            or die "bad story line: $line";
        $text = quotemeta $text;
        $text =~ s/\\\*/.*/g;
        $text =~ s/\\\{sock\\\}/\Q$Sock\E/g;
        $re .= "\\[$level\\] \\d+#\\d+: (?:\\*\\d+ )?$text\\n";
    }
    return qr/\A$re\z/;
}

# the start of every story: the first JWT bundles
sub boot {
    my ($tds) = @_;
    return ("[info] spiffe: JWT bundles of " . ($tds // 1)
            . " trust domain(s)",
            '[info] spiffe: Workload API "unix:{sock}": FetchJWTBundles '
            . 'connected');
}

sub refused { map { "[info] spiffe: JWT-SVID refused: $_" } @_ }

# ---- the leak checks -----------------------------------------------------

our @LEAKS = (
    # no line above debug holds anything like a JWT (base64url of '{"')
    qr/\[(?:info|notice|warn|error|crit|alert|emerg)\] .*eyJ/,
    # no line of the module, at any level
    qr/spiffe: .*eyJ/,
    # no signature of a token of the block, but in nginx's debug dump of
    # the request headers
    qr/^(?!.*\[debug\] \d+#\d+: \*\d+ http header: ").*?(??{ $main::SecretRe })/,
);

run_tests();

__DATA__

=== TEST 1: a valid JWT-SVID: 200, the variables, the JWT bundle stream
--- init
forget();
agent();
mint(TOKEN => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
        add_header X-Jwt "$spiffe_jwt_verify id=$spiffe_jwt_id td=$spiffe_jwt_trust_domain path=$spiffe_jwt_path" always;
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t", "GET /ctl/status"]
--- more_headers eval
["Authorization: Bearer \$TEST_NGINX_TOKEN", ""]
--- response_body_like eval
["\\Aok\\n\\z", "jwt_streams=1 jwt_svid_calls=0 "]
--- response_headers eval
["X-Jwt: SUCCESS id=spiffe://example.org/ns/web td=example.org path=/ns/web",
 "!X-Jwt"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot())
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 2: $spiffe_jwt_claims: the verified claims, compact JSON, keys sorted
--- init
forget();
agent();
mint(TOKEN => $main::WEB, 'api,other', exp => 4102444800, iat => 1700000000,
     'claim.scope' => 'read write', 'claim.n' => 5, 'claim.obj' => '{"z":1,"a":[true,null]}');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify $spiffe_jwt_claims\n";
    }
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN
--- request
GET /t
--- response_body
SUCCESS {"aud":["api","other"],"exp":4102444800,"iat":1700000000,"n":5,"obj":{"a":[true,null],"z":1},"scope":"read write","sub":"spiffe://example.org/ns/web"}
--- no_error_log eval
['[crit]', @main::LEAKS, '[error]']



=== TEST 3: no token, spiffe_jwt on: 401 with a bare "WWW-Authenticate: Bearer"
--- init
forget();
agent();
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["", "Authorization: "]
--- error_code eval
[401, 401]
--- response_headers eval
["WWW-Authenticate: Bearer", "WWW-Authenticate: Bearer"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), ('[info] spiffe: no JWT-SVID in the request') x 2)
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 4: spiffe_jwt optional: NONE without a token, SUCCESS with one
--- init
forget();
agent();
mint(TOKEN => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        alias html/ok.txt;
        add_header X-Jwt "$spiffe_jwt_verify id=$spiffe_jwt_id" always;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["", "Authorization: Bearer \$TEST_NGINX_TOKEN"]
--- response_headers eval
["X-Jwt: NONE id=", "X-Jwt: SUCCESS id=spiffe://example.org/ns/web"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot())
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 5: every forged token under optional: FAILED:reason, variables empty
--- init
forget();
agent();
main::forge_all();
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    # the "long" tokens are 23 KiB
    large_client_header_buffers 4 32k;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        alias html/ok.txt;
        add_header X-Jwt "$spiffe_jwt_verify id=$spiffe_jwt_id td=$spiffe_jwt_trust_domain path=$spiffe_jwt_path claims=$spiffe_jwt_claims" always;
    }
--- request eval
[("GET /t") x @main::KINDS]
--- more_headers eval
main::bearer(map { main::kind_var($_) } @main::KINDS)
--- response_headers eval
[map { "X-Jwt: FAILED:$main::REASON{$_} id= td= path= claims=" } @main::KINDS]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused(map { $main::REASON{$_} } @main::KINDS))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 6: every forged token under on: 401 invalid_token
--- init
forget();
agent();
main::forge_all();
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    # the "long" tokens are 23 KiB
    large_client_header_buffers 4 32k;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x @main::KINDS]
--- more_headers eval
main::bearer(map { main::kind_var($_) } @main::KINDS)
--- error_code eval
[(401) x @main::KINDS]
--- response_headers eval
[('WWW-Authenticate: Bearer error="invalid_token"') x @main::KINDS]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused(map { $main::REASON{$_} } @main::KINDS))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 7: times: exp, nbf and iat with 60 s of leeway
--- init
forget();
agent();
mint(EXP_30 => $main::WEB, 'api', exp => '-30');
mint(EXP_120 => $main::WEB, 'api', exp => '-120', iat => '-400');
mint(NBF_30 => $main::WEB, 'api', nbf => '+30');
mint(NBF_120 => $main::WEB, 'api', nbf => '+120');
mint(IAT_30 => $main::WEB, 'api', iat => '+30');
mint(IAT_120 => $main::WEB, 'api', iat => '+120');
mint(NO_EXP => $main::WEB, 'api', exp => 'none');
mint(STR_EXP => $main::WEB, 'api', 'claim.exp' => 'soon');
mint(FRAC_EXP => $main::WEB, 'api', 'claim.exp' => time() + 100.5);
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify\n";
    }
--- request eval
[("GET /t") x 9]
--- more_headers eval
main::bearer(qw(EXP_30 EXP_120 NBF_30 NBF_120 IAT_30 IAT_120 NO_EXP STR_EXP FRAC_EXP))
--- response_body eval
["SUCCESS\n", "FAILED:expired\n", "SUCCESS\n", "FAILED:not yet valid\n",
 "SUCCESS\n", "FAILED:issued in the future\n", "FAILED:no exp\n",
 "FAILED:bad exp\n", "SUCCESS\n"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused('expired', 'not yet valid',
            'issued in the future', 'no exp', 'bad exp'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 8: audiences: a string, an array, several configured, none, wrong
--- init
forget();
agent();
mint(API => $main::WEB, 'api');
mint(ARRAY => $main::WEB, 'x,y,api');
mint(SECOND => $main::WEB, 'billing');
mint(WRONG => $main::WEB, 'apix');
mint(WRONG_ARRAY => $main::WEB, 'x,y');
mint(NO_AUD => $main::WEB, '-');
mint(BAD_AUD => $main::WEB, 'api', 'claim.aud' => '["api",1]');
mint(EMPTY_ARRAY => $main::WEB, 'api', 'claim.aud' => '[]');
mint(CASE => $main::WEB, 'API');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api billing;
        return 200 "$spiffe_jwt_verify\n";
    }
--- request eval
[("GET /t") x 9]
--- more_headers eval
main::bearer(qw(API ARRAY SECOND WRONG WRONG_ARRAY NO_AUD BAD_AUD EMPTY_ARRAY CASE))
--- response_body eval
["SUCCESS\n", "SUCCESS\n", "SUCCESS\n", "FAILED:audience mismatch\n",
 "FAILED:audience mismatch\n", "FAILED:no aud\n", "FAILED:bad aud\n",
 "FAILED:audience mismatch\n", "FAILED:audience mismatch\n"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused('audience mismatch',
            'audience mismatch', 'no aud', 'bad aud', 'audience mismatch',
            'audience mismatch'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 9: subjects: not a SPIFFE ID, no path, no sub, an unknown trust domain
--- init
forget();
agent();
$main::Agent->control_ok('new-td unknown.org');
mint(NOT_ID => 'https://example.org/ns/web', 'api');
mint(UPPER => 'spiffe://Example.org/ns/web', 'api');
mint(NO_PATH => 'spiffe://example.org', 'api');
mint(NO_SUB => '-', 'api');
mint(NUM_SUB => '-', 'api', 'claim.sub' => '42');
mint(UNKNOWN => 'spiffe://unknown.org/ns/web', 'api');
mint(OWN_KEY => 'spiffe://unknown.org/ns/web', 'api', td => 'own');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify\n";
    }
--- request eval
[("GET /t") x 7]
--- more_headers eval
main::bearer(qw(NOT_ID UPPER NO_PATH NO_SUB NUM_SUB UNKNOWN OWN_KEY))
--- response_body eval
["FAILED:sub is not a SPIFFE ID\n", "FAILED:sub is not a SPIFFE ID\n",
 "FAILED:sub has no path\n", "FAILED:no sub\n",
 "FAILED:sub is not a SPIFFE ID\n", "FAILED:no bundle for trust domain\n",
 "FAILED:no bundle for trust domain\n"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused('sub is not a SPIFFE ID',
            'sub is not a SPIFFE ID', 'sub has no path', 'no sub',
            'sub is not a SPIFFE ID', 'no bundle for trust domain',
            'no bundle for trust domain'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 10: spiffe_jwt_allow/deny: exact, "*", "/**", regex, order, all
--- init
forget();
agent();
mint(WEB => $main::WEB, 'api');
mint(PROD_WEB => 'spiffe://example.org/ns/prod/sa/web', 'api');
mint(PROD_DB => 'spiffe://example.org/ns/prod/sa/db', 'api');
mint(DEEP => 'spiffe://example.org/ns/a/b/c', 'api');
mint(TOP => 'spiffe://example.org/x', 'api');
mint(TEST_WEB => 'spiffe://example.org/ns/test/sa/web', 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    spiffe_jwt on;
    spiffe_jwt_audience api;

    location = /exact {
        spiffe_jwt_allow spiffe://example.org/ns/web;
        alias html/ok.txt;
    }
    location = /star {
        spiffe_jwt_allow spiffe://example.org/ns/*/sa/web;
        alias html/ok.txt;
    }
    location = /glob {
        spiffe_jwt_allow spiffe://example.org/ns/**;
        alias html/ok.txt;
    }
    location = /regex {
        spiffe_jwt_allow ~^spiffe://example\.org/ns/(prod|dev)/;
        alias html/ok.txt;
    }
    location = /order {
        spiffe_jwt_deny spiffe://example.org/ns/web;
        spiffe_jwt_allow spiffe://example.org/**;
        alias html/ok.txt;
    }
    location = /all {
        spiffe_jwt_deny all;
        alias html/ok.txt;
    }
    location = /open {
        spiffe_jwt off;
        alias html/ok.txt;
    }
--- request eval
["GET /exact", "GET /exact",
 "GET /star", "GET /star", "GET /star",
 "GET /glob", "GET /glob", "GET /glob",
 "GET /regex", "GET /regex",
 "GET /order", "GET /order",
 "GET /all", "GET /open"]
--- more_headers eval
[@{ main::bearer(qw(WEB PROD_WEB  PROD_WEB TEST_WEB PROD_DB  DEEP WEB TOP
                    PROD_DB TEST_WEB  WEB TOP  PROD_WEB)) }, ""]
--- error_code eval
[200, 403,  200, 200, 403,  200, 200, 403,  200, 403,  403, 200,  403, 200]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(),
    '[info] spiffe: access forbidden: no JWT rule allows "spiffe://example.org/ns/prod/sa/web"',
    '[info] spiffe: access forbidden: no JWT rule allows "spiffe://example.org/ns/prod/sa/db"',
    '[info] spiffe: access forbidden: no JWT rule allows "spiffe://example.org/x"',
    '[info] spiffe: access forbidden: no JWT rule allows "spiffe://example.org/ns/test/sa/web"',
    '[info] spiffe: access forbidden by the JWT rule at */nginx.conf:* for "spiffe://example.org/ns/web"',
    '[info] spiffe: access forbidden by the JWT rule at */nginx.conf:* for "spiffe://example.org/ns/prod/sa/web"')
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 11: rules without spiffe_jwt: no valid token is 403, not 401
--- init
forget();
agent();
mint(WEB => $main::WEB, 'api');
forge(BAD => 'badsig', $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt_audience api;
        spiffe_jwt_allow spiffe://example.org/ns/web;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["Authorization: Bearer \$TEST_NGINX_WEB", "", "Authorization: Bearer \$TEST_NGINX_BAD"]
--- error_code eval
[200, 403, 403]
--- response_headers eval
["!WWW-Authenticate", "!WWW-Authenticate", "!WWW-Authenticate"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(),
    '[info] spiffe: access forbidden: no verified JWT-SVID (NONE)',
    '[info] spiffe: JWT-SVID refused: bad signature',
    '[info] spiffe: access forbidden: no verified JWT-SVID (FAILED:bad signature)')
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 12: satisfy any: a valid token lets the request in past "deny all"
--- init
forget();
agent();
mint(WEB => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        satisfy any;
        deny all;
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: Bearer \$TEST_NGINX_WEB", ""]
--- error_code eval
[200, 401]
--- response_headers eval
["!WWW-Authenticate", "WWW-Authenticate: Bearer"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), '[info] spiffe: no JWT-SVID in the request')
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 13: spiffe_jwt_header: another header, with or without "Bearer "
--- init
forget();
agent();
mint(WEB => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        spiffe_jwt_header X-Jwt-Svid;
        alias html/ok.txt;
    }
    location = /lower {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /lower", "GET /lower"]
--- more_headers eval
["X-Jwt-Svid: \$TEST_NGINX_WEB",
 "x-jwt-svid: Bearer \$TEST_NGINX_WEB",
 "Authorization: Bearer \$TEST_NGINX_WEB",
 "Authorization: bearer \$TEST_NGINX_WEB",
 "Authorization: Bearer    \$TEST_NGINX_WEB"]
--- error_code eval
[200, 200, 401, 200, 200]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), '[info] spiffe: no JWT-SVID in the request')
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 14: two token headers: refused, whatever their order (a backend could read the other one)
# nginx itself answers 400 to a second Authorization line; other headers
# may repeat
--- init
forget();
agent();
mint(WEB => $main::WEB, 'api');
mint(API => 'spiffe://example.org/ns/api', 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        spiffe_jwt_header X-Jwt-Svid;
        alias html/ok.txt;
    }
    location = /opt {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        spiffe_jwt_header X-Jwt-Svid;
        return 200 "$spiffe_jwt_verify|$spiffe_jwt_id\n";
    }
--- request eval
["GET /t", "GET /t", "GET /opt", "GET /t"]
--- more_headers eval
["X-Jwt-Svid: \$TEST_NGINX_WEB\nX-Jwt-Svid: \$TEST_NGINX_API",
 "X-Jwt-Svid: \$TEST_NGINX_API\nx-jwt-svid: \$TEST_NGINX_WEB",
 "X-Jwt-Svid: \$TEST_NGINX_WEB\nX-Jwt-Svid: \$TEST_NGINX_WEB",
 "X-Jwt-Svid: \$TEST_NGINX_WEB"]
--- error_code eval
[401, 401, 200, 200]
--- response_body_like eval
["401", "401", "\\AFAILED:more than one token header\\|\\n\\z", "\\Aok\\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused(('more than one token header') x 3))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 15: signing algorithms: ES256/384/512, RS256/384/512, PS256/384/512
--- init
forget();
agent();
mint("T_$_" => $main::WEB, 'api', alg => $_)
    for qw(ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512);
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify\n";
    }
--- request eval
[("GET /t") x 9]
--- more_headers eval
main::bearer(map { "T_$_" } qw(ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512))
--- response_body eval
[("SUCCESS\n") x 9]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot())
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 16: a federated trust domain's JWT bundle; keys never cross trust domains
--- init
forget();
agent();
$main::Agent->control_ok('new-td other.org jwt-alg=RS256');
$main::Agent->control_ok('federate other.org');
mint(OTHER => 'spiffe://other.org/ns/web', 'api');
# impersonation: a token for other.org signed by example.org's key, and
# the other way round (each kid is in the other trust domain's bundle)
mint(OTHER_OWN_KEY => 'spiffe://other.org/ns/web', 'api', td => 'own');
mint(OWN_OTHER_KEY => $main::WEB, 'api', td => 'other.org');
mint(WEB => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify $spiffe_jwt_trust_domain\n";
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
main::bearer(qw(OTHER OTHER_OWN_KEY OWN_OTHER_KEY WEB))
--- response_body eval
["SUCCESS other.org\n", "FAILED:unknown kid \n", "FAILED:unknown kid \n",
 "SUCCESS example.org\n"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(2), main::refused('unknown kid', 'unknown kid'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 17: federation pushed mid-block: a trust domain's tokens count from its bundle on, and no longer after it goes
--- init
forget();
agent();
$main::Agent->control_ok('new-td third.org');
mint(THIRD => 'spiffe://third.org/ns/web', 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/federate?arg=third.org&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/unfederate?arg=third.org&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- more_headers eval
["Authorization: Bearer \$TEST_NGINX_THIRD", "",
 "Authorization: Bearer \$TEST_NGINX_THIRD", "",
 "Authorization: Bearer \$TEST_NGINX_THIRD"]
--- response_body eval
["FAILED:no bundle for trust domain\n", "OK td=spiffe://third.org certs=1\n",
 "SUCCESS\n", "OK td=spiffe://third.org\n",
 "FAILED:no bundle for trust domain\n"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused('no bundle for trust domain'),
            '[info] spiffe: JWT bundles of 2 trust domain(s)',
            '[info] spiffe: JWT bundles of 1 trust domain(s)',
            main::refused('no bundle for trust domain'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 18: JWT key rotation: the old key's tokens are refused after the push, the new key's accepted
--- init
forget();
agent();
mint(OLD => $main::WEB, 'api');
mint(NEW => $main::WEB, 'api', key => 'next');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t", "GET /t",
 "GET /ctl/rotate-jwt-key?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t", "GET /t"]
--- more_headers eval
["Authorization: Bearer \$TEST_NGINX_OLD",
 "Authorization: Bearer \$TEST_NGINX_NEW", "",
 "Authorization: Bearer \$TEST_NGINX_OLD",
 "Authorization: Bearer \$TEST_NGINX_NEW"]
--- error_code eval
[200, 401, 200, 401, 200]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused('unknown kid'),
            '[info] spiffe: JWT bundles of 1 trust domain(s)',
            main::refused('unknown kid'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 19: JWT key rotation with keep-old: both keys count, then only the last two
--- init
forget();
agent();
mint(OLD => $main::WEB, 'api');
mint(NEW => $main::WEB, 'api', key => 'next');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t", "GET /t",
 "GET /ctl/rotate-jwt-key/keep-old?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t", "GET /t",
 "GET /ctl/rotate-jwt-key/keep-old?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t", "GET /t"]
--- more_headers eval
[map { $_ ? "Authorization: Bearer \$TEST_NGINX_$_" : "" }
     qw(OLD NEW 0 OLD NEW 0 OLD NEW)]
--- error_code eval
[200, 401, 200, 200, 200, 200, 401, 200]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused('unknown kid'),
            '[info] spiffe: JWT bundles of 1 trust domain(s)',
            '[info] spiffe: JWT bundles of 1 trust domain(s)',
            main::refused('unknown kid'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 20: bad JWTBundlesResponses are discarded, the last good bundles stay; an empty one trusts nothing
--- init
forget();
agent();
mint(WEB => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
[map { ("GET /ctl/send-jwt-bundles/$_?wait_ms=$ENV{TEST_NGINX_PUSH_MS}", "GET /t") }
     qw(garbage not-json no-keys bad-td empty state)]
--- more_headers eval
[map { ("", "Authorization: Bearer \$TEST_NGINX_WEB") } 1 .. 6]
--- response_body eval
[map { ("OK sent=1\n", $_) } "SUCCESS\n", "SUCCESS\n", "SUCCESS\n",
     "SUCCESS\n", "FAILED:no bundle for trust domain\n", "SUCCESS\n"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(),
    '[error] spiffe: JWTBundlesResponse discarded: malformed: *',
    '[error] spiffe: JWTBundlesResponse discarded: *',
    '[error] spiffe: JWTBundlesResponse discarded: *',
    '[error] spiffe: JWTBundlesResponse discarded: *',
    '[info] spiffe: JWT bundles of 0 trust domain(s)',
    main::refused('no bundle for trust domain'),
    '[info] spiffe: JWT bundles of 1 trust domain(s)')
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 21: FetchJWTBundles fails: the last bundles stay; on recovery the stream brings the rotated key
# nginx retries with a backoff that doubles from 1 s while the agent
# fails: under valgrind the failure lasts longer, and the retry after
# "fail off" may be 8 s away
--- init
forget();
agent();
mint(OLD => $main::WEB, 'api');
mint(NEW => $main::WEB, 'api', key => 'next');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/fail/unavailable?arg=FetchJWTBundles&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t", "GET /t",
 "GET /ctl/rotate-jwt-key",
 "GET /ctl/fail/off?wait_ms=" . ($main::Valgrind ? 10000 : 1500),
 "GET /t", "GET /t"]
--- more_headers eval
[map { $_ ? "Authorization: Bearer \$TEST_NGINX_$_" : "" }
     qw(OLD 0 OLD NEW 0 0 OLD NEW)]
--- response_body_like eval
["\\ASUCCESS\n\\z", "\\AOK fail=unavailable ended=1\n\\z",
 "\\ASUCCESS\n\\z", "\\AFAILED:unknown kid\n\\z", "\\AOK td=example.org ",
 "\\AOK fail=off\n\\z", "\\AFAILED:unknown kid\n\\z", "\\ASUCCESS\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(),
    '[error] spiffe: Workload API "unix:{sock}": FetchJWTBundles failed (UNAVAILABLE: agent unavailable (test fault)), retrying with backoff',
    main::refused('unknown kid'),
    '[info] spiffe: JWT bundles of 1 trust domain(s)',
    '[notice] spiffe: Workload API "unix:{sock}": FetchJWTBundles connected',
    main::refused('unknown kid'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 22: the agent ends FetchJWTBundles: nginx reconnects at once and takes later pushes
--- init
forget();
agent();
mint(OLD => $main::WEB, 'api');
mint(NEW => $main::WEB, 'api', key => 'next');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /ctl/end-stream?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/rotate-jwt-key?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t", "GET /t", "GET /ctl/status"]
--- more_headers eval
["", "", "Authorization: Bearer \$TEST_NGINX_OLD",
 "Authorization: Bearer \$TEST_NGINX_NEW", ""]
--- response_body_like eval
["\\AOK ended=2\n\\z", "\\AOK td=example.org ",
 "\\AFAILED:unknown kid\n\\z", "\\ASUCCESS\n\\z", " jwt_streams=1 "]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(),
    '[info] spiffe: Workload API "unix:{sock}": FetchJWTBundles ended, reconnecting',
    main::boot(),
    '[info] spiffe: JWT bundles of 1 trust domain(s)',
    main::refused('unknown kid'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 23: no JWT bundles yet: tokens are refused until they come
--- init
forget();
agent()->control_ok('stall on');
mint(WEB => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 300ms;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t", "GET /ctl/stall/off?wait_ms=$ENV{TEST_NGINX_PUSH_MS}", "GET /t"]
--- more_headers eval
["Authorization: Bearer \$TEST_NGINX_WEB", "",
 "Authorization: Bearer \$TEST_NGINX_WEB"]
--- response_body eval
["FAILED:no JWT bundles yet\n", "OK stall=off\n", "SUCCESS\n"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::refused('no JWT bundles yet'), main::boot())
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 24: no JWT checks configured: no FetchJWTBundles stream, no FetchJWTSVID call
--- init
forget();
agent();
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "[$spiffe_jwt_verify] [$spiffe_jwt_svid]\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t", "GET /ctl/status"]
--- more_headers eval
["Authorization: Bearer x.y.z", ""]
--- response_body_like eval
["\\A\\[FAILED:no spiffe_jwt_audience here\\] \\[\\]\\n\\z",
 " jwt_streams=0 jwt_svid_calls=0 "]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story()
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 25: egress: our JWT-SVID reaches a backend that validates it
--- init
forget();
agent();
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /egress {
        spiffe_jwt_svid_audience backend;
        proxy_set_header Authorization "Bearer $spiffe_jwt_svid";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        spiffe_jwt on;
        spiffe_jwt_audience backend;
        spiffe_jwt_allow spiffe://example.org/nginx;
        alias html/ok.txt;
        add_header X-Jwt "$spiffe_jwt_verify $spiffe_jwt_id $spiffe_jwt_claims" always;
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /egress", "GET /ctl/status"]
--- response_headers_like eval
['X-Jwt: SUCCESS spiffe://example\.org/nginx \{"aud":"backend","exp":\d+,"iat":\d+,"sub":"spiffe://example\.org/nginx"\}',
 ""]
--- response_body_like eval
["\\Aok\\n\\z", " jwt_streams=1 jwt_svid_calls=1 "]
--- error_log eval
[qr/\[info\] \d+#\d+: spiffe: JWT-SVID "spiffe:\/\/example\.org\/nginx" for audience "backend", expires in (?:29[5-9]|300) s$/]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot())
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 26: egress: the JWT-SVID is fetched again at half its lifetime
# a 5 s token: asked again 2 s later (half of the 4 to 5 s left, whole
# seconds), so the agent sees 3 calls 2 s apart within 4.6 s
--- init
forget();
agent(jwt_ttl => 5);
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /egress {
        spiffe_jwt_svid_audience backend;
        proxy_set_header Authorization "Bearer $spiffe_jwt_svid";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        spiffe_jwt on;
        spiffe_jwt_audience backend;
        alias html/ok.txt;
        add_header X-Jwt "$spiffe_jwt_verify $spiffe_jwt_id" always;
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /egress", "GET /ctl/jwt-ttl/5?wait_ms=" . ($main::Valgrind ? 4200 : 4600),
 "GET /ctl/status",
 "GET /ctl/jwt-svid-calls", "GET /egress"]
--- response_headers eval
["X-Jwt: SUCCESS spiffe://example.org/nginx", "", "", "",
 "X-Jwt: SUCCESS spiffe://example.org/nginx"]
--- response_body_like eval
["\\Aok\\n\\z", "\\AOK jwt_ttl=5\\n\\z", " jwt_svid_calls=3 ",
 "\\AOK calls=3 intervals_ms=(?:1[89]\\d\\d|2[0-5]\\d\\d),(?:1[89]\\d\\d|2[0-5]\\d\\d)\\n\\z",
 "\\Aok\\n\\z"]
--- grep_error_log eval
qr/spiffe: JWT-SVID "spiffe:\/\/example\.org\/nginx" for audience "backend", expires in [45] s$/m
--- grep_error_log_out eval
qr/\A(?:spiffe: JWT-SVID "[^"]+" for audience "backend", expires in [45] s\n){3}\z/
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 27: egress: a JWT-SVID whose half lifetime overflows in milliseconds is asked again after a day, not in a loop
# 36893488147419104 s: half of it is 384 ms once multiplied by 1000 modulo
# 2^64
--- init
forget();
agent(jwt_ttl => '36893488147419104');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /svid {
        spiffe_jwt_svid_audience backend;
        return 200 "[$spiffe_jwt_svid]\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /svid", "GET /ctl/status?wait_ms=1500", "GET /ctl/jwt-svid-calls"]
--- response_body_like eval
["\\A\\[eyJ[\\w-]+\\.eyJ[\\w-]+\\.[\\w-]+\\]\\n\\z", "\\AOK ", "\\AOK calls=1 "]
--- grep_error_log eval
qr/spiffe: JWT-SVID "[^"]+" for audience "backend", expires in \d+ s/
--- grep_error_log_out eval
qr/\Aspiffe: JWT-SVID "spiffe:\/\/example\.org\/nginx" for audience "backend", expires in 3689348814741910[34] s\n\z/
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 28: egress: the agent refuses FetchJWTSVID: $spiffe_jwt_svid empty and the log says why, until it recovers
--- init
forget();
agent()->control_ok('fail permission_denied FetchJWTSVID');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 300ms;
--- config
    location = /svid {
        spiffe_jwt_svid_audience backend;
        return 200 "[$spiffe_jwt_svid]\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /svid",
 "GET /ctl/fail/off?wait_ms=" . ($main::Valgrind ? 4000 : 1500),
 "GET /svid"]
--- response_body_like eval
["\\A\\[\\]\\n\\z", "\\AOK fail=off\\n\\z", "\\A\\[eyJ[\\w-]+\\.eyJ[\\w-]+\\.[\\w-]+\\]\\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[error] spiffe: Workload API "unix:{sock}": FetchJWTSVID failed (PERMISSION_DENIED: no identity issued), retrying with backoff',
    '[warn] spiffe: no JWT-SVID for audience "backend": FetchJWTSVID failed: PERMISSION_DENIED: no identity issued',
    '[notice] spiffe: Workload API "unix:{sock}": FetchJWTSVID connected')
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 29: egress: a JWTSVIDResponse whose spiffe_id is not a SPIFFE ID is discarded, and that text never reaches the log
# a terminal escape sequence in the ID
--- init
forget();
agent()->control_ok("jwt-svid-id spiffe://example.org/\e[31mred");
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 300ms;
--- config
    location = /svid {
        spiffe_jwt_svid_audience backend;
        return 200 "[$spiffe_jwt_svid]\n";
    }
--- request eval
["GET /svid"]
--- response_body
[]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
# discarded on each try
qr{\A(?:\[error\] \d+#\d+: spiffe: JWTSVIDResponse for audience "backend" discarded: its spiffe_id is not a SPIFFE ID
(?:\[error\] \d+#\d+: spiffe: Workload API "[^"]+": FetchJWTSVID failed \(UNAVAILABLE: no usable answer\), retrying with backoff
)?)+\[warn\] \d+#\d+: \*\d+ spiffe: no JWT-SVID for audience "backend": FetchJWTSVID failed: UNAVAILABLE: no usable answer
\z}
--- no_error_log eval
["\e[31m", "red", '[crit]', @main::LEAKS]



=== TEST 30: egress: a JWT-SVID that expires without a new one is not used
--- init
forget();
agent(jwt_ttl => 2);
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /svid {
        spiffe_jwt_svid_audience backend;
        return 200 "[$spiffe_jwt_svid]\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /svid",
 "GET /ctl/stall/on?wait_ms=" . ($main::Valgrind ? 6000 : 3500),
 "GET /svid"]
--- response_body_like eval
["\\A\\[eyJ[\\w-]+\\.eyJ[\\w-]+\\.[\\w-]+\\]\\n\\z", "\\AOK stall=on\\n\\z",
 "\\A\\[\\]\\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[warn] spiffe: no JWT-SVID for audience "backend": it expired and no new one came')
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 31: egress: one JWT-SVID per audience, each valid for its own audience only
--- init
forget();
agent();
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /to-a {
        spiffe_jwt_svid_audience aud-a;
        proxy_set_header Authorization "Bearer $spiffe_jwt_svid";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/a;
    }
    location = /b-to-a {
        spiffe_jwt_svid_audience aud-b;
        proxy_set_header Authorization "Bearer $spiffe_jwt_svid";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/a;
    }
    location = /a {
        spiffe_jwt optional;
        spiffe_jwt_audience aud-a;
        return 200 "$spiffe_jwt_verify\n";
    }
    location = /svid {
        return 200 "[$spiffe_jwt_svid]\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /to-a", "GET /b-to-a", "GET /svid", "GET /ctl/status"]
--- response_body_like eval
["\\ASUCCESS\\n\\z", "\\AFAILED:audience mismatch\\n\\z", "\\A\\[\\]\\n\\z",
 " jwt_svid_calls=2 "]
--- error_log eval
[qr/spiffe: JWT-SVID "spiffe:\/\/example\.org\/nginx" for audience "aud-a", expires in/,
 qr/spiffe: JWT-SVID "spiffe:\/\/example\.org\/nginx" for audience "aud-b", expires in/]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused('audience mismatch'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 32: egress: spiffe_svid_hint picks the JWT-SVID of that SVID
--- init
forget();
agent(spiffe_id => 'spiffe://example.org/nginx',
      svids => ['spiffe://example.org/nginx-b,hint=b']);
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_svid_hint b;
--- config
    location = /egress {
        spiffe_jwt_svid_audience backend;
        proxy_set_header Authorization "Bearer $spiffe_jwt_svid";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        spiffe_jwt optional;
        spiffe_jwt_audience backend;
        return 200 "$spiffe_jwt_verify $spiffe_jwt_id $spiffe_svid_id\n";
    }
--- request
GET /egress
--- response_body
SUCCESS spiffe://example.org/nginx-b spiffe://example.org/nginx-b
--- error_log
spiffe: JWT-SVID "spiffe://example.org/nginx-b" for audience "backend", expires in
--- no_error_log eval
['[crit]', @main::LEAKS, '[error]']



=== TEST 33: egress with RSA-PSS keys (an agent with --jwt-alg PS256)
--- init
forget();
agent(jwt_alg => 'PS256');
mint(WEB => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /egress {
        spiffe_jwt_svid_audience api;
        proxy_set_header Authorization "Bearer $spiffe_jwt_svid";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
        add_header X-Jwt "$spiffe_jwt_verify $spiffe_jwt_id" always;
    }
--- request eval
["GET /egress", "GET /backend"]
--- more_headers eval
["", "Authorization: Bearer \$TEST_NGINX_WEB"]
--- response_headers eval
["X-Jwt: SUCCESS spiffe://example.org/nginx", "X-Jwt: SUCCESS spiffe://example.org/ns/web"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot())
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 34: a verdict taken in a location is not reused after "rewrite ... last" to a location with another audience
--- init
forget();
agent();
mint(FOR_A => $main::WEB, 'a');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    location = /a {
        spiffe_jwt_audience a;
        set $seen $spiffe_jwt_verify;
        rewrite ^ /b last;
    }
    location = /b {
        spiffe_jwt on;
        spiffe_jwt_audience b;
        alias html/ok.txt;
        add_header X-Jwt "$spiffe_jwt_verify" always;
    }
--- request eval
["GET /b", "GET /a"]
--- more_headers eval
main::bearer(qw(FOR_A FOR_A))
--- error_code eval
[401, 401]
--- response_headers eval
['X-Jwt: FAILED:audience mismatch', 'X-Jwt: FAILED:audience mismatch']
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(), main::refused('audience mismatch', 'audience mismatch'))
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 35: a JWT variable read at server level does not decide for the location
--- init
forget();
agent();
mint(WEB => $main::WEB, 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
--- config
    set $early $spiffe_jwt_verify;
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        alias html/ok.txt;
        add_header X-Jwt "$spiffe_jwt_verify" always;
    }
--- more_headers
Authorization: Bearer $TEST_NGINX_WEB
--- request
GET /t
--- response_headers
X-Jwt: SUCCESS
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot())
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 36: $spiffe_svid_id and $spiffe_jwt_svid in add_header and the access log of a slow response, across rotations and token refreshes
# The header goes out at once, the body at 4 KiB/s for about 3 s, while
# the agent rotates the SVID every second (a 2 s SVID, at half-life) and
# the 2 s JWT-SVID is fetched again every second.  A value read for the
# header must stay valid for the whole request, whatever reads it later:
# it is a copy, never a pointer into the snapshot or the token that the
# worker frees on the next swap (the ASan build reports such a read; the
# access log's escape=none copies the value with memcpy, which it checks).
# The log reads the token again when the response ends: on a slow machine
# the 2 s token may then be between two fetches, and the value empty.
--- init
forget();
agent(ttl => 2, auto_rotate => 1, jwt_ttl => 2);
--- http_config
    log_format vars escape=none '$spiffe_svid_id $spiffe_jwt_svid';
--- config
    location = /slow {
        spiffe_jwt_svid_audience backend;
        add_header X-Svid $spiffe_svid_id;
        add_header X-Jwt $spiffe_jwt_svid;
        limit_rate 4k;
        alias html/big.txt;
        access_log logs/vars.log vars;
    }
    location = /vars {
        alias $TEST_NGINX_SERVROOT/logs/vars.log;
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- user_files eval
">>> big.txt\n" . ("x" x 99 . "\n") x 120
--- request eval
["GET /slow", "GET /vars", "GET /ctl/jwt-svid-calls"]
--- response_headers_like eval
["X-Svid: spiffe://example\\.org/nginx\nX-Jwt: eyJ[\\w-]+\\.eyJ[\\w-]+\\.[\\w-]+",
 "", ""]
--- response_body_like eval
["\\A(?:x{99}\\n){120}\\z",
 "\\Aspiffe://example\\.org/nginx (?:eyJ[\\w-]+\\.eyJ[\\w-]+\\.[\\w-]+)?\\n\\z",
 "\\AOK calls=(?:[3-9]|\\d\\d) "]
--- error_log eval
qr/spiffe: SVID "spiffe:\/\/example\.org\/nginx" serial \w+, version 3$/m
--- timeout: 15
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- no_error_log eval
['[crit]', @main::LEAKS, '[error]']



=== TEST 37: config: spiffe_jwt in a location without spiffe_jwt_audience
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location = /t {
        spiffe_jwt on;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_jwt" and "spiffe_jwt_allow" need "spiffe_jwt_audience" in location "/t" in \S+nginx\.conf:\d+}



=== TEST 38: config: spiffe_jwt_allow without spiffe_jwt_audience
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location = /t {
        spiffe_jwt_allow spiffe://example.org/**;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_jwt" and "spiffe_jwt_allow" need "spiffe_jwt_audience" in location "/t" in \S+nginx\.conf:\d+}



=== TEST 39: config: spiffe_jwt at server level without spiffe_jwt_audience
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    spiffe_jwt optional;
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_jwt" and "spiffe_jwt_allow" need "spiffe_jwt_audience" in \S+nginx\.conf:\d+}



=== TEST 40: config: an empty audience
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api "";
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*empty audience in "spiffe_jwt_audience" in \S+nginx\.conf:\d+}



=== TEST 41: config: spiffe_jwt_audience twice in one place
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        spiffe_jwt_audience other;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_jwt_audience" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 42: config: a bad spiffe_jwt value
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location = /t {
        spiffe_jwt required;
        spiffe_jwt_audience api;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "required" in \S+nginx\.conf:\d+}



=== TEST 43: config: a bad pattern in spiffe_jwt_allow
--- main_config
    spiffe_workload_api unix:/nonexistent/agent.sock;
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        spiffe_jwt_allow spiffe://Example.org/ns/web;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE ID pattern "spiffe://Example\.org/ns/web" in "spiffe_jwt_allow": it has uppercase letters in the trust domain in \S+nginx\.conf:\d+}



=== TEST 44: config: spiffe_jwt without an identity source
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*JWT-SVID validation needs an identity source: "spiffe_workload_api", "spiffe_svid_dir" or SPIFFE_ENDPOINT_SOCKET in \S+nginx\.conf:\d+}



=== TEST 45: config: spiffe_jwt_svid_audience without an identity source
--- config
    location = /t {
        spiffe_jwt_svid_audience backend;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_jwt_svid_audience" needs the Workload API: "spiffe_workload_api" or SPIFFE_ENDPOINT_SOCKET in \S+nginx\.conf:\d+}



=== TEST 46: $spiffe_rule and the log name the JWT rule that decided, by file and line; empty when none did
--- init
forget();
agent();
mint(WEB => $main::WEB, 'api');
mint(PROD_WEB => 'spiffe://example.org/ns/prod/sa/web', 'api');
mint(DEV_WEB => 'spiffe://example.org/ns/dev/sa/web', 'api');
mint(TOP => 'spiffe://example.org/x', 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- user_files
>>> ok.txt
ok
>>> jwt-rules.conf
spiffe_jwt_deny  spiffe://example.org/ns/dev/**;
spiffe_jwt_allow spiffe://example.org/ns/*/sa/web;
spiffe_jwt_allow spiffe://example.org/ns/web;
--- config
    spiffe_jwt on;
    spiffe_jwt_audience api;
    error_page 403 /refused;

    location = /t {
        include $TEST_NGINX_HTML_DIR/jwt-rules.conf;
        add_header X-Spiffe-Rule $spiffe_rule;
        alias html/ok.txt;
    }
    location = /refused {
        internal;
        spiffe_jwt off;
        return 403 "refused by [$spiffe_rule]\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
main::bearer(qw(PROD_WEB WEB DEV_WEB TOP))
--- error_code eval
[200, 200, 403, 403]
--- response_headers eval
["X-Spiffe-Rule: $ENV{TEST_NGINX_HTML_DIR}/jwt-rules.conf:2",
 "X-Spiffe-Rule: $ENV{TEST_NGINX_HTML_DIR}/jwt-rules.conf:3",
 "!X-Spiffe-Rule", "!X-Spiffe-Rule"]
--- response_body eval
["ok\n", "ok\n",
 "refused by [$ENV{TEST_NGINX_HTML_DIR}/jwt-rules.conf:1]\n",
 "refused by []\n"]
--- error_log eval
["spiffe: access allowed by the JWT rule at $ENV{TEST_NGINX_HTML_DIR}/jwt-rules.conf:2 for \"spiffe://example.org/ns/prod/sa/web\"",
 "spiffe: access allowed by the JWT rule at $ENV{TEST_NGINX_HTML_DIR}/jwt-rules.conf:3 for \"spiffe://example.org/ns/web\""]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(),
    "[info] spiffe: access forbidden by the JWT rule at $ENV{TEST_NGINX_HTML_DIR}/jwt-rules.conf:1 for \"spiffe://example.org/ns/dev/sa/web\"",
    '[info] spiffe: access forbidden: no JWT rule allows "spiffe://example.org/x"')
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 47: the agents' forms: SPIRE's JWK Set without "use", the SPIFFE bundle document, bare trust-domain keys
--- init
forget();
agent();
$main::Agent->control_ok('new-td other.org');
$main::Agent->control_ok('federate other.org');
mint(WEB => $main::WEB, 'api');
mint(OTHER => 'spiffe://other.org/ns/web', 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        spiffe_jwt optional;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify $spiffe_jwt_trust_domain\n";
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /ctl/status", "GET /t", "GET /t",
 "GET /ctl/keys/bare?wait_ms=$ENV{TEST_NGINX_PUSH_MS}", "GET /t", "GET /t",
 "GET /ctl/jwks/spiffe?wait_ms=$ENV{TEST_NGINX_PUSH_MS}", "GET /t", "GET /t"]
--- more_headers eval
["", main::bearer(qw(WEB OTHER))->@*, "", main::bearer(qw(WEB OTHER))->@*,
 "", main::bearer(qw(WEB OTHER))->@*]
--- response_body_like eval
[" jwks=spire keys=spiffe\n",
 "\\ASUCCESS example.org\n\\z", "\\ASUCCESS other.org\n\\z", "\\AOK keys=bare\n\\z",
 "\\ASUCCESS example.org\n\\z", "\\ASUCCESS other.org\n\\z", "\\AOK jwks=spiffe\n\\z",
 "\\ASUCCESS example.org\n\\z", "\\ASUCCESS other.org\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(main::boot(2), ('[info] spiffe: JWT bundles of 2 trust domain(s)') x 2)
--- error_log eval
qr/\[info\] .*spiffe: SVID "spiffe:\/\/example\.org\/nginx" serial \w+, version 2\b/
--- no_error_log eval
['[crit]', @main::LEAKS]



=== TEST 48: an empty federated bundle (a JWT-only trust domain): our SVID stays and rotates, its JWT-SVIDs validate, its X.509-SVIDs are refused, said once
--- init
forget();
agent();
$main::Agent->control_ok('new-td jwt.test');
$main::Agent->control_ok('federate jwt.test jwt-only');
$main::Agent->control_ok('mint spiffe://jwt.test/ns/web jwtpeer ca=jwt.test');
$ENV{TEST_NGINX_STATE} = $main::State;
mint(JWT => 'spiffe://jwt.test/ns/web', 'api');
--- timeout: 10
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client optional;
        location / {
            return 200 "$spiffe_verify $spiffe_svid_id\n";
        }
    }
--- config
    location = /t {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify $spiffe_jwt_trust_domain\n";
    }
    location = /peer {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/tls.sock:/;
        proxy_ssl_certificate $TEST_NGINX_STATE/jwtpeer.pem;
        proxy_ssl_certificate_key $TEST_NGINX_STATE/jwtpeer.key;
    }

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /ctl/status", "GET /t", "GET /peer",
 "GET /ctl/rotate-svid?wait_ms=$ENV{TEST_NGINX_PUSH_MS}", "GET /t",
 "GET /peer"]
--- more_headers eval
["", "Authorization: Bearer \$TEST_NGINX_JWT", "", "",
 "Authorization: Bearer \$TEST_NGINX_JWT", ""]
--- response_body_like eval
[" federated=1 ",
 "\\ASUCCESS jwt.test\n\\z",
 "\\AFAILED:no bundle for trust domain spiffe://example.org/nginx\n\\z",
 "\\AOK serial=",
 "\\ASUCCESS jwt.test\n\\z",
 "\\AFAILED:no bundle for trust domain spiffe://example.org/nginx\n\\z"]
--- grep_error_log eval
qr/\[(?:notice|error)\] \d+#\d+: spiffe: (?:no X\.509 authority|X509SVIDResponse discarded|SVID ").*/
--- grep_error_log_out eval
qr/\A\[info\]|\A\[notice\] \d+#\d+: spiffe: no X\.509 authority for jwt\.test \(empty federated bundle from the Workload API\): its X\.509-SVIDs are refused\n\z/
--- error_log eval
[qr/\[info\] .*spiffe: SVID "spiffe:\/\/example\.org\/nginx" serial \w+, version 1\b/,
 qr/\[info\] .*spiffe: SVID "spiffe:\/\/example\.org\/nginx" serial \w+, version 2\b/]
--- no_error_log eval
['[error]', '[crit]', @main::LEAKS]
