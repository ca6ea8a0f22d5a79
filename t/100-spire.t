# Real agents: nginx with the identity of a real SPIRE deployment, and
# go-spiffe workloads on the other side (issue 17).
#
# The file starts three SPIRE servers (trust domains a.test and b.test,
# each serving its bundle endpoint and federated with the other, and c.test
# serving its own with a WebPKI certificate) and one agent for each, all
# on 127.0.0.1 in a temporary directory.  Workloads are told apart by
# binary path (unix:path selectors): nginx is spiffe://a.test/nginx
# (X.509-SVIDs of 60 s, so SPIRE rotates them every half minute or so),
# and the go-spiffe peers of t/interop/peer run under names of their own:
# client-ok, client-bad, server and backend in a.test, client-b in b.test,
# client-c in c.test.  nginx runs a master and two workers.  The CA
# rotation comes last: it revokes the authority that the agent's own SVID
# came from, so that agent could not start again.  "make interop" builds
# SPIRE and the peers; without them, or without the Go module proxy to
# build them, the file skips.
#
# A block drives SPIRE and the peers through /run/ (Spire::Runner): a GET
# runs one action below and answers its output, so a request list tells
# the story in order.  The TLS server under test listens on
# $TEST_NGINX_TLS_PORT and passes the caller's ID to /echo.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Spire;

BEGIN {
    if (my $why = Spire::unavailable()) {
        print "1..0 # SKIP $why\n";
        exit 0;
    }
}

use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeStream qw($STREAM_CORE $STREAM_SO);
use Cwd qw(abs_path);
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);

no_shuffle();
master_on();
workers(2);

my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
my %P = (tls => 1, stream => 2, runner => 3, a => 4, a_bundle => 5,
         b => 6, b_bundle => 7, peer => 8, tcp => 9, backend => 10, c => 11,
         c_bundle => 12);
$P{$_} += $port for keys %P;

our $T = tempdir('spire-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{SPIRE_KEEP});
chmod 0755, $T;

my $nginx = abs_path($ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx');
# t/asan/nginx is a script that runs the stock binary
$nginx = '/usr/sbin/nginx' unless -B $nginx;

# ---- SPIRE ---------------------------------------------------------------

my $a = Spire::Server->new(dir => "$T/a", td => 'a.test', port => $P{a},
                           bundle_port => $P{a_bundle},
                           federates => [['b.test', $P{b_bundle}]]);
my $b = Spire::Server->new(dir => "$T/b", td => 'b.test',
                                    port => $P{b},
                                    bundle_port => $P{b_bundle},
                                    federates => [['a.test', $P{a_bundle}]]);
$a->trust($b);
$b->trust($a);

# what authenticates b.test's bundle endpoint to spiffe_federate
Spire::_write("$T/b-bundle.pem", $b->cli(qw(bundle show)));

# c.test serves its bundle with a WebPKI certificate (https_web) of a CA
# made here
my $web = "$T/web";
mkdir $web;
Spire::run(qw(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256
              -nodes -days 2 -subj /CN=web-ca -keyout), "$web/ca.key",
           '-out', "$web/ca.pem");
Spire::run(qw(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256
              -nodes -days 2 -subj /CN=localhost -addext),
           'subjectAltName=IP:127.0.0.1,DNS:localhost', '-CA', "$web/ca.pem",
           '-CAkey', "$web/ca.key", '-keyout', "$web/server.key", '-out',
           "$web/server.pem");
my $c = Spire::Server->new(dir => "$T/c", td => 'c.test', port => $P{c},
                           bundle_port => $P{c_bundle},
                           web => ["$web/server.pem", "$web/server.key"]);
$c->trust($a);

my %agent = (a => Spire::Agent->new(dir => "$T/aa", server => $a),
             b => Spire::Agent->new(dir => "$T/ba", server => $b),
             c => Spire::Agent->new(dir => "$T/ca", server => $c));

# each peer under its own name, for its own unix:path selector
mkdir "$T/bin";
for my $name (qw(client-ok client-bad server backend client-b client-c)) {
    copy("$Spire::BIN/peer", "$T/bin/$name") or die "copy: $!";
    chmod 0755, "$T/bin/$name";
}

$a->entry('spiffe://a.test/nginx', $agent{a}->node, ["unix:path:$nginx"],
          x509_ttl => 60, federates_with => ['b.test']);
for my $name (qw(client-ok client-bad server backend)) {
    $a->entry("spiffe://a.test/$name", $agent{a}->node,
              ["unix:path:$T/bin/$name"]);
}
$b->entry('spiffe://b.test/client', $agent{b}->node,
          ["unix:path:$T/bin/client-b"], federates_with => ['a.test']);
$c->entry('spiffe://c.test/client', $agent{c}->node,
          ["unix:path:$T/bin/client-c"], federates_with => ['a.test']);

# the peers that serve: an mTLS HTTP server and a TCP one that let nginx
# in, and a backend that validates nginx's JWT-SVIDs
sub peer {
    my ($name, @args) = @_;
    my ($side) = $name =~ /-([bc])\z/;
    $side //= 'a';
    return ("$T/bin/$name", $args[0], '-socket',
            'unix://' . $agent{$side}->socket, @args[1 .. $#args]);
}

for my $p (['server', 'server', '-listen', "127.0.0.1:$P{peer}",
            '-client-id', 'spiffe://a.test/nginx'],
           ['server', 'server', '-listen', "127.0.0.1:$P{tcp}", '-tcp',
            '-client-id', 'spiffe://a.test/nginx'],
           ['backend', 'backend', '-listen', "127.0.0.1:$P{backend}",
            '-audience', 'backend'])
{
    my $log = "$T/$p->[0]-" . scalar(@$p) . '.log';
    Spire::_spawn($log, peer(@$p));
    Spire::wait_for("$p->[0] to listen", 60, sub {
        -s $log && do { open my $fh, '<', $log; local $/; <$fh> =~ /LISTEN/ }
    });
}

# ---- what a block can run through /run/ ----------------------------------

my $servroot = $ENV{TEST_NGINX_SERVROOT} || abs_path('t') . '/servroot';

# the SVID lines of nginx's log: one per X509SVIDResponse taken in
sub svid_lines {
    open my $fh, '<', "$servroot/logs/error.log" or return 0;
    my $n = 0;
    /spiffe: SVID "spiffe:\/\/a\.test\/nginx"/ and $n++ while <$fh>;
    return $n;
}

my $mark = 0;

sub authority {
    my ($which) = @_;
    my $out = $a->cli(qw(localauthority x509 show -output json));
    my ($id) = $out =~ /"$which"\s*:\s*\{[^}]*?"authority_id"\s*:\s*"(\w+)"/s
        or die "no $which X.509 authority in: $out";
    return $id;
}

Spire::Runner->new(port => $P{runner}, actions => {
    # client NAME PATH [ARGS]: the go-spiffe client NAME, mTLS to nginx
    client => sub {
        my ($name, $path, @args) = @_;
        my $out = eval {
            Spire::run(peer($name, 'client', '-url',
                            "https://127.0.0.1:$P{tls}/$path",
                            '-server-id', 'spiffe://a.test/nginx', @args))
        };
        return $out // "ERROR $@";
    },
    # tcp: one line from nginx's stream server
    tcp => sub {
        my $c = IO::Socket::INET->new("127.0.0.1:$P{stream}") or die $!;
        my $line = <$c>;
        return $line // "EOF\n";
    },
    # mint NAME ID: an X.509-SVID from server a.test, in $T/mint/NAME/
    mint => sub {
        my ($name, $id) = @_;
        mkdir "$T/mint";
        mkdir "$T/mint/$name";
        $a->cli('x509', 'mint', '-spiffeID', $id, '-ttl', '1h', '-write',
                "$T/mint/$name");
        return "OK $name\n";
    },
    # ca prepare|activate|taint|revoke: a.test's X.509 authority
    ca => sub {
        my ($step) = @_;
        my @id = $step eq 'prepare' ? ()
               : ('-authorityID',
                  authority($step eq 'activate' ? 'prepared' : 'old'));
        $a->cli('localauthority', 'x509', $step, @id);
        return "OK $step\n";
    },
    # mark, then svids N: wait (60 s at most) for N more SVID lines
    mark => sub { $mark = svid_lines(); return "OK\n" },
    svids => sub {
        my ($n) = @_;
        Spire::wait_for("$n SVID updates in nginx", 60,
                        sub { svid_lines() >= $mark + $n });
        $mark = svid_lines();
        return "OK\n";
    },
    # wait-log REGEX [N]: until N processes of nginx (default 1) logged
    # a line that matches (30 s at most)
    'wait-log' => sub {
        my ($re, $n) = @_;
        Spire::wait_for("/$re/ in nginx's log", 30, sub {
            open my $fh, '<', "$servroot/logs/error.log" or return;
            my %pids;
            /$re/ && /\] (\d+)#/ and $pids{$1} = 1 while <$fh>;
            keys %pids >= ($n // 1);
        });
        return "OK\n";
    },
    # agent|server stop|start: a.test's
    agent => sub {
        my ($what) = @_;
        $what eq 'stop' ? $agent{a}->stop : $agent{a}->start;
        return "OK agent $what\n";
    },
    server => sub {
        my ($what) = @_;
        $what eq 'stop' ? $a->stop : $a->start;
        return "OK server $what\n";
    },
});

$ENV{TEST_NGINX_SPIRE_SOCKET} = $agent{a}->socket;
$ENV{TEST_NGINX_SPIRE_DIR} = $T;
$ENV{"TEST_NGINX_\U$_\E_PORT"} = $P{$_} for keys %P;

# ---- every block ---------------------------------------------------------

# Every block says: --- main_config, nginx's Workload API (the SPIRE agent
# of a.test, spiffe_startup_timeout 30s), --- http_config eval: $::TLS,
# the TLS server under test, --- config eval: $::LOCATIONS, the locations
# that drive the test (after its own), --- timeout: 120, and, unless its
# name says "[errors expected]", --- no_error_log [error] and [crit]
# (nginx 1.26 logs a refused upstream handshake at crit, 1.22 at error).

our $TLS = <<'EOC';
    log_format spire '$spiffe_id $status $request_uri';

    server {
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;
        spiffe_svid on;
        spiffe_verify_client on;
        access_log logs/spire.log spire;

        location / {
            spiffe_allow spiffe://a.test/client-ok;
            spiffe_allow spiffe://a.test/minted/*;
            spiffe_allow spiffe://b.test/client;
            spiffe_allow spiffe://c.test/client;
            spiffe_deny all;
            proxy_set_header X-Caller $spiffe_id;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo/;
        }

        location /jwt {
            spiffe_jwt on;
            spiffe_jwt_audience nginx;
            spiffe_jwt_allow spiffe://a.test/client-ok;
            spiffe_jwt_deny all;
            proxy_set_header X-Caller "jwt $spiffe_jwt_id";
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo/;
        }
    }
EOC

our $LOCATIONS = <<'EOC';
    location ^~ /echo/ {
        return 200 "hello $http_x_caller from $pid\n";
    }
    location /run/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RUNNER_PORT/;
        proxy_read_timeout 300s;
    }
    location /logs/ {
        root $TEST_NGINX_SERVROOT;
    }
    location /minted/ {
        proxy_pass https://127.0.0.1:$TEST_NGINX_TLS_PORT/api;
        proxy_ssl_certificate $TEST_NGINX_SPIRE_DIR/mint/$arg_as/svid.pem;
        proxy_ssl_certificate_key $TEST_NGINX_SPIRE_DIR/mint/$arg_as/key.pem;
        # a session of another certificate must not be resumed
        proxy_ssl_session_reuse off;
    }
EOC

run_tests();

__DATA__

=== TEST 1: nginx's SVID from SPIRE; a go-spiffe client allowed by spiffe_allow, another refused; $spiffe_id in the log
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/client/client-ok/api", "GET /run/client/client-bad/api",
 "GET /logs/spire.log"]
--- response_body_like eval
[qr{\A200 hello spiffe://a\.test/client-ok from \d+\n\z},
 qr{\A403 <html>\n\z},
 qr{\Aspiffe://a\.test/client-ok 200 /api\nspiffe://a\.test/client-bad 403 /api\n\z}]
--- error_log eval
[qr/\[info\] .*spiffe: SVID "spiffe:\/\/a\.test\/nginx" serial [0-9a-f]+, version 1\b/,
 qr/\[info\] .*spiffe: access forbidden by the rule at \S+\/conf\/nginx\.conf:\d+ for "spiffe:\/\/a\.test\/client-bad", client: 127\.0\.0\.1, server: , request: "GET \/api HTTP\/1\.1"/]
--- no_error_log
[error]
[crit]
--- timeout: 120



=== TEST 2: JWT-SVIDs from SPIRE: a go-spiffe client's token, with the JWT bundles streamed from the agent
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/client/client-ok/jwt?arg=-jwt&arg=nginx",
 "GET /run/client/client-bad/jwt?arg=-jwt&arg=nginx",
 "GET /run/client/client-ok/jwt?arg=-jwt&arg=other"]
--- response_body_like eval
[qr{\A200 hello jwt spiffe://a\.test/client-ok from \d+\n\z},
 qr{\A403 <html>\n\z},
 qr{\A401 <html>\n\z}]
--- error_log eval
[qr/\[info\] .*spiffe: JWT bundles of 2 trust domain\(s\)/,
 qr/\[info\] .*spiffe: access forbidden by the JWT rule at \S+\/conf\/nginx\.conf:\d+ for "spiffe:\/\/a\.test\/client-bad"/,
 qr/spiffe: JWT-SVID refused: audience/]
--- timeout: 120
--- no_error_log
[error]
[crit]



=== TEST 3: nginx's own JWT-SVID (spiffe_jwt_svid_audience) validated by go-spiffe's jwtsvid.ParseAndValidate
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
--- http_config eval: $::TLS
--- config eval
<<'EOC' . $::LOCATIONS
    location = /egress {
        spiffe_jwt_svid_audience backend;
        proxy_set_header Authorization "Bearer $spiffe_jwt_svid";
        proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT/;
    }
    location = /egress-other {
        spiffe_jwt_svid_audience other;
        proxy_set_header Authorization "Bearer $spiffe_jwt_svid";
        proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT/;
    }
EOC
--- request eval
["GET /egress", "GET /egress-other"]
--- error_code eval
[200, 401]
--- response_body_like eval
[qr{\Avalid sub=spiffe://a\.test/nginx aud=backend\n\z},
 qr{\Ainvalid: .*audience.*\n\z}]
--- error_log eval
qr/\[info\] .*spiffe: JWT-SVID "spiffe:\/\/a\.test\/nginx" for audience "backend", expires in \d+ s/
--- timeout: 120
--- no_error_log
[error]
[crit]



=== TEST 4: upstream: nginx presents its SPIRE SVID to a go-spiffe mTLS server and checks its ID [errors expected]
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
--- http_config eval: $::TLS
--- config eval
<<'EOC' . $::LOCATIONS
    location = /up {
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://a.test/server;
        proxy_pass https://127.0.0.1:$TEST_NGINX_PEER_PORT/;
    }
    location = /up-wrong {
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://a.test/other;
        proxy_pass https://127.0.0.1:$TEST_NGINX_PEER_PORT/;
    }
EOC
--- request eval
["GET /up", "GET /up-wrong"]
--- error_code eval
[200, 502]
--- response_body_like eval
[qr{\Aserver me=spiffe://a\.test/server peer=spiffe://a\.test/nginx\n\z},
 qr{502 Bad Gateway}]
--- grep_error_log eval
qr/\[error\] .*?spiffe: upstream X\.509-SVID "[^"]+" refused in location "[^"]+": [^,]+/
--- grep_error_log_out eval
qr{\A\[error\] .*spiffe: upstream X\.509-SVID "spiffe://a\.test/server" refused in location "/up-wrong": its ID matches no spiffe_proxy_verify pattern while SSL handshaking to upstream\n\z}
--- timeout: 120



=== TEST 5: stream: nginx's stream server presents its SVID to a go-spiffe TLS server over TCP and checks its ID
--- main_config eval
"spiffe_workload_api unix:\$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
load_module $SpiffeStream::STREAM_CORE;
load_module $SpiffeStream::STREAM_SO;
stream {
    server {
        listen 127.0.0.1:\$TEST_NGINX_STREAM_PORT;
        proxy_ssl on;
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://a.test/server;
        proxy_pass 127.0.0.1:\$TEST_NGINX_TCP_PORT;
    }
}\n"
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/tcp", "GET /run/tcp"]
--- response_body eval
[("tcp me=spiffe://a.test/server peer=spiffe://a.test/nginx\n") x 2]
--- timeout: 120
--- no_error_log
[error]
[crit]



=== TEST 6: federation through the agent (federates_with): a client of b.test is allowed by an ID rule
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/client/client-b/api", "GET /logs/spire.log"]
--- response_body_like eval
[qr{\A200 hello spiffe://b\.test/client from \d+\n\z},
 qr{\Aspiffe://b\.test/client 200 /api\n\z}]
--- timeout: 120
--- no_error_log
[error]
[crit]



=== TEST 7: federation through spiffe_federate: b.test's bundle from its SPIRE server's bundle endpoint (https_spiffe)
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
spiffe_federate b.test https://127.0.0.1:$TEST_NGINX_B_BUNDLE_PORT profile=https_spiffe endpoint_id=spiffe://b.test/spire/server bundle=$TEST_NGINX_SPIRE_DIR/b-bundle.pem;
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/wait-log?arg=federated+bundle+of+.b.test.,+generation&arg=2",
 "GET /run/client/client-b/api"]
--- response_body_like eval
["\\AOK\n\\z", qr{\A200 hello spiffe://b\.test/client from \d+\n\z}]
--- error_log eval
qr/\[info\] .*spiffe: federated bundle of "b\.test" from "https:\/\/127\.0\.0\.1:\d+": 1 X\.509 authorities, 1 JWT authorities, refresh in \d+ s/
--- timeout: 120
--- no_error_log
[error]
[crit]



=== TEST 8: federation through spiffe_federate with profile https_web: c.test's SPIRE server serves its bundle with a WebPKI certificate
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
spiffe_federate c.test https://127.0.0.1:$TEST_NGINX_C_BUNDLE_PORT profile=https_web bundle=$TEST_NGINX_SPIRE_DIR/web/ca.pem;
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/wait-log?arg=federated+bundle+of+.c.test.,+generation&arg=2",
 "GET /run/client/client-c/api", "GET /run/client/client-b/api"]
--- response_body_like eval
["\\AOK\n\\z", qr{\A200 hello spiffe://c\.test/client from \d+\n\z},
 qr{\A200 hello spiffe://b\.test/client from \d+\n\z}]
--- error_log eval
qr/\[info\] .*spiffe: federated bundle of "c\.test" from "https:\/\/127\.0\.0\.1:\d+": 1 X\.509 authorities, 1 JWT authorities, refresh in \d+ s/
--- timeout: 120
--- no_error_log
[error]
[crit]



=== TEST 9: rotation by SPIRE (60 s SVIDs): two rotations or more under continuous requests, none failed, same workers
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/client/client-ok/api?arg=-duration&arg=75s&arg=-interval&arg=250ms"]
--- response_body_like eval
qr{\Arequests=\d+ failed=0 server_serials=(?:[3-9]|\d\d+) bodies=hello spiffe://a\.test/client-ok from \d+(?:,hello spiffe://a\.test/client-ok from \d+)?\n\z}
--- grep_error_log eval
qr/start worker process \d+/
--- grep_error_log_out eval
qr/\Astart worker process \d+\nstart worker process \d+\n\z/
--- error_log eval
qr/spiffe: SVID "spiffe:\/\/a\.test\/nginx" serial \w+, version 3\b/
--- timeout: 120
--- no_error_log
[error]
[crit]



=== TEST 10: agent restart and server outage: nginx keeps its last good SVID and recovers by itself, one log line per change of state [errors expected]
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/mint/m?arg=spiffe://a.test/minted/m",
 "GET /run/agent/stop",
 "GET /run/wait-log?arg=FetchX509SVID+failed&arg=2",
 "GET /minted/?as=m",
 "GET /run/agent/start",
 "GET /run/wait-log?arg=notice.*FetchX509SVID+connected&arg=2",
 "GET /run/client/client-ok/api",
 "GET /run/server/stop",
 "GET /run/client/client-ok/api",
 "GET /minted/?as=m",
 "GET /run/server/start",
 "GET /run/client/client-ok/api"]
--- response_body_like eval
["OK m", "OK agent stop", "OK", "hello spiffe://a.test/minted/m from",
 "OK agent start", "OK", "200 hello spiffe://a.test/client-ok from",
 "OK server stop", "200 hello spiffe://a.test/client-ok from",
 "hello spiffe://a.test/minted/m from", "OK server start",
 "200 hello spiffe://a.test/client-ok from"]
--- grep_error_log eval
qr/\[\w+\] \S+ spiffe: Workload API "[^"]+": FetchX509SVID (?:connected|failed \([A-Z_]+)/
--- grep_error_log_out eval
qr/\A(?:\[info\] \S+ spiffe: Workload API "[^"]+": FetchX509SVID connected\n){2}(?:\[error\] \S+ spiffe: Workload API "[^"]+": FetchX509SVID failed \(UNAVAILABLE\n){2}(?:\[notice\] \S+ spiffe: Workload API "[^"]+": FetchX509SVID connected\n){2}\z/
--- timeout: 120




=== TEST 11: CA rotation with localauthority prepare / activate / taint / revoke: new clients accepted, the old authority's refused after revoke [errors expected]
--- main_config
spiffe_workload_api unix:$TEST_NGINX_SPIRE_SOCKET;
spiffe_startup_timeout 30s;
--- http_config eval: $::TLS
--- config eval: $::LOCATIONS
--- request eval
["GET /run/mint/old?arg=spiffe://a.test/minted/old",
 "GET /minted/?as=old",
 "GET /run/mark",
 "GET /run/ca/prepare", "GET /run/svids/1",
 "GET /run/ca/activate", "GET /run/svids/1",
 "GET /run/mint/new?arg=spiffe://a.test/minted/new",
 "GET /minted/?as=new", "GET /minted/?as=old",
 "GET /run/ca/taint", "GET /run/svids/1",
 "GET /run/ca/revoke", "GET /run/svids/1",
 "GET /minted/?as=new", "GET /minted/?as=old",
 "GET /run/client/client-ok/api"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200,
 200, 400, 200]
--- response_body_like eval
["OK old", "hello spiffe://a.test/minted/old from", "OK",
 "OK prepare", "OK", "OK activate", "OK", "OK new",
 "hello spiffe://a.test/minted/new from", "hello spiffe://a.test/minted/old from",
 "OK taint", "OK", "OK revoke", "OK",
 "hello spiffe://a.test/minted/new from", "400 The SSL certificate error",
 qr{\A200 hello spiffe://a\.test/client-ok from \d+\n\z}]
--- grep_error_log eval
qr/\[\w+\] .*?spiffe: (?:peer X\.509-SVID refused|client SVID refused)[^,]*/
--- grep_error_log_out eval
qr/\A\[info\] .*spiffe: peer X\.509-SVID refused: [^\n]+\n\[info\] .*spiffe: client SVID refused[^\n]*\n\z/
--- timeout: 120
