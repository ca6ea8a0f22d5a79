# Upstream mTLS for stream servers: with "proxy_ssl on", spiffe_proxy_svid
# presents the worker's SVID to the TLS upstream, and spiffe_proxy_verify
# refuses an upstream whose X.509-SVID is not valid for its own trust
# domain's bundle or matches none of the patterns.  A refusal fails the
# handshake: the next upstream server is tried, as after any connection
# error, and no byte of the client reaches a refused upstream.
#
# The stream servers under test (--- main_config) listen on plain unix
# sockets, unix:$TEST_NGINX_SERVROOT/logs/pNAME.sock; the http location
# /p/NAME/URI of the outer server is their client (it sends "GET /URI" and
# logs its own errors to logs/outer.log; every block has it in its
# --- config, with main::outer_locations()).  Their TLS upstreams are http
# servers of the same nginx, $::UPSTREAMS, which every block names in its
# --- http_config (with main::outer_upstreams()), each on
# unix:$TEST_NGINX_SERVROOT/logs/NAME.sock:
#
#   up          spiffe_svid on: the worker's own SVID, $SELF (also on
#               logs/tls.sock, for SpiffeMTLS's "sync")
#   db          an SVID minted by the agent, $DB
#   expired     an agent-minted SVID whose notAfter had passed when made
#   web         an ordinary web certificate (no URI SAN)
#   cross       spiffe://other.org/x signed by CA A of t/cert/mkcerts.py,
#               that is example.org's CA (impersonation)
#   unknown     spiffe://unknown.org/x (no bundle for unknown.org)
#   selfsigned  spiffe://example.org/ns/prod/sa/web signed by itself
#   good        spiffe://example.org/ns/prod/sa/web from CA A (federated)
#   other       spiffe://other.org/ns/prod/sa/web from CA B (federated)
#
# Each has spiffe_verify_client on and answers "NAME saw $spiffe_id
# serial=$ssl_client_serial reused=$ssl_session_reused": the ID and the
# serial that the stream server presented, and whether the TLS session was
# resumed.  db-nv serves db's SVID without checking its clients (so that
# only the stream server's side can refuse a TLS session), and says which
# TLS version; backend (plain) answers "backend: URI".
#
# Trust: the agent's trust domain is mesh.test; it federates example.org
# (CA A) and other.org (CA B).
#
# /probe/errors lists the [error] lines of error.log (their message, and
# the module's debug lines about TLS sessions), the server named in a
# refusal replaced by [pNAME], the socket it listens on: a block that
# expects errors ends with it, so that no other error can slip in.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use Time::HiRes qw(sleep time);
use SpiffeAgent;
use SpiffeMTLS qw(outer_locations outer_upstreams start_probe agent_cmd
                  http_get);
use SpiffeStream qw($MODULES slurp wait_log nginx_t rotate_under_load);
use SpiffeUpstream qw(matrix_servers tls_servers);

# the "no identity source" cases must not find one in the environment
delete $ENV{SPIFFE_ENDPOINT_SOCKET};

our $SELF = 'spiffe://mesh.test/ns/edge/sa/nginx';
our $DB = 'spiffe://mesh.test/ns/db/sa/pg';

my $certs = SpiffeAgent::certs();
our $agent = SpiffeAgent->start(spiffe_id => $SELF);
my $state = $agent->state_dir;

$agent->control_ok("federate example.org $certs/ca-a.pem");
$agent->control_ok("federate other.org $certs/ca-b.pem");
$agent->control_ok('mint spiffe://mesh.test/ns/db/sa/old expired ttl=-10');

# from the agent's current CA: the CA rotations concern it
sub mint_db {
    $agent->control_ok("mint $DB db");
}

mint_db();

# one refused handshake in the stream server listening on SERVER.sock: the
# module's line (as /probe/errors shows it), then nginx's
sub refused {
    my ($id, $server, $reason) = @_;
    return SpiffeUpstream::refused($id, "the server at [$server]", $reason);
}

our $NOMATCH = 'its ID matches no spiffe_proxy_verify pattern';
our $SESS = "spiffe: upstream session not allowed here\n";
# a session made presenting another identity (spiffe_proxy_svid) not offered
our $OTHER_SESS = "spiffe: upstream session made presenting another "
                  . "client identity\n";


# ---- the TLS upstreams -----------------------------------------------------

my %upstreams = (
    matrix_servers($state, $certs),
    selfsigned => ["$certs/self-signed.pem", "$certs/self-signed.key"],
    good       => ["$certs/good.pem", "$certs/good.key"],
);

our $UPSTREAMS = tls_servers(\%upstreams, <<'EOC', up => 'tls.sock')
        location / {
            return 200 "NAME saw $spiffe_id serial=$ssl_client_serial reused=$ssl_session_reused\n";
        }
        location = /load {
            return 200 "load: $spiffe_id\n";
        }
EOC
    . <<"EOC";
    server {
        listen unix:\$TEST_NGINX_SERVROOT/logs/db-nv.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $state/db.pem;
        ssl_certificate_key $state/db.key;
        return 200 "db-nv reused=\$ssl_session_reused \$ssl_protocol\\n";
    }

    server {
        listen unix:\$TEST_NGINX_SERVROOT/logs/backend.sock;
        return 200 "backend: \$request_uri\\n";
    }
EOC


# ---- probe actions ---------------------------------------------------------

# the server block that begins at line n of the file: the name of the
# first socket it listens on
sub server_at {
    my ($file, $n) = @_;
    my @conf = split /\n/, slurp($file);
    return "line $n is not a server" unless ($conf[$n - 1] // '') =~ /^\s*server\s*\{/;
    for my $line (@conf[$n .. $#conf]) {
        return $1 if $line =~ m{^\s*listen\s+unix:\S*/logs/([\w-]+)\.sock};
    }
    return "no listen after line $n";
}

# error.log: each [error] or [crit] line's message (nginx 1.26 logs a
# refused upstream handshake at crit), and the debug lines about TLS
# sessions to upstreams, in order
sub errors {
    my $debug = qr/spiffe: (?:upstream session (?:not allowed here|made presenting another client identity)|session not resumed: [^,\n]*)/;
    my $out = '';
    for (split /\n/, slurp("$ENV{TEST_NGINX_SERVROOT}/logs/error.log")) {
        my ($msg) = /\[(?:error|crit)\] \d+#\d+: (?:\*\d+ )?(.*?)(?= while |, client: |$)/;
        ($msg) = /($debug)/ unless defined $msg;
        next unless defined $msg;
        $msg =~ s{the server at (\S+):(\d+):}{"the server at [" . server_at($1, $2) . "]:"}e;
        $out .= "$msg\n";
    }
    return $out || "none\n";
}

# the stream log once it has n lines, the servroot's socket directory cut
sub stream_log {
    my (%q) = @_;
    my $text = wait_log($q{file} // 'stream.log', $q{n} // 1);
    $text =~ s{unix:\Q$ENV{TEST_NGINX_SERVROOT}\E/logs/}{}g;
    return $text;
}

sub norm_serial { lc($_[0]) =~ s/^0+(?=.)//r }

# GET PATH through the outer server; the serial the upstream saw, replaced
# by "CURRENT" when it is the agent's current SVID's
sub via {
    my (%q) = @_;
    my ($serial) = agent_cmd('status') =~ /\bserial=(\w+)/;
    my ($status, $body) = http_get($q{path});
    $body =~ s/serial=(\w+)/'serial=' . (norm_serial($1) eq norm_serial($serial) ? 'CURRENT' : "OLD($1)")/e;
    return "$status $body";
}

# the first time (3 s at most) that a full handshake through p1fresh
# shows the upstream this serial
sub upstream_saw {
    my ($serial, $timeout) = @_;
    my $t0 = time;
    while (time - $t0 < $timeout) {
        my (undef, $body) = http_get('/p/1fresh/');
        return time - $t0
            if $body =~ /serial=(\w+)/ && norm_serial($1) eq $serial;
        sleep 0.01;
    }
    return undef;
}

# rotate-svid while four clients keep going through p1 (TLS sessions
# resumed) and p1fresh (full handshakes)
sub rotate {
    return rotate_under_load(
        cmd => 'rotate-svid', want => "load: $SELF\n",
        paths => ['/p/1/load', '/p/1/load', '/p/1fresh/load',
                  '/p/1fresh/load'],
        seen => \&upstream_saw, what => 'the upstream saw the new SVID');
}

# "nginx -t" on these (SpiffeStream::nginx_t: four lines come first)
our %CONF = (
    'no-proxy-ssl' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    server {
        listen unix:SOCK;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:SOCK;
    }
}
EOC
    'svid-no-proxy-ssl' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    spiffe_proxy_svid on;

    server {
        listen unix:SOCK;
        proxy_ssl on;
        proxy_pass unix:SOCK;
    }

    server {
        listen unix:SOCK-2;
        proxy_pass unix:SOCK;
    }
}
EOC
    'svid-and-cert' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    server {
        listen unix:SOCK;
        proxy_ssl on;
        spiffe_proxy_svid on;
        proxy_ssl_certificate CERTS/good.pem;
        proxy_ssl_certificate_key CERTS/good.key;
        proxy_pass unix:SOCK;
    }
}
EOC
    'main-svid-and-cert' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    proxy_ssl on;
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://mesh.test/**;

    server {
        listen unix:SOCK;
        proxy_pass unix:SOCK;
    }

    server {
        listen unix:SOCK-2;
        proxy_ssl_certificate CERTS/good.pem;
        proxy_ssl_certificate_key CERTS/good.key;
        proxy_pass unix:SOCK;
    }
}
EOC
    'no-source' => <<'EOC',
events {}
stream {
    server {
        listen unix:SOCK;
        proxy_ssl on;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:SOCK;
    }
}
EOC
    'bad-pattern' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    proxy_ssl on;
    spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg
                        spiffe://mesh.test/ns/db-*;
    server {
        listen unix:SOCK;
        proxy_pass unix:SOCK;
    }
}
EOC
    'bad-regex' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    server {
        listen unix:SOCK;
        proxy_ssl on;
        spiffe_proxy_verify "~^spiffe://(mesh";
        proxy_pass unix:SOCK;
    }
}
EOC
    'duplicate' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    server {
        listen unix:SOCK;
        proxy_ssl on;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/old;
        proxy_pass unix:SOCK;
    }
}
EOC
    'no-pattern' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    spiffe_proxy_verify;
}
EOC
    'svid-value' => <<'EOC',
spiffe_workload_api unix:AGENT;
events {}
stream {
    spiffe_proxy_svid yes;
}
EOC
);

start_probe(errors => \&errors, log => \&stream_log, via => \&via,
            rotate => \&rotate,
            nginx_t => sub { my (%q) = @_;
                             nginx_t($CONF{$q{case} // ''} // '') });

# every block: nginx's stream module, the http object, the stream object
$ENV{TEST_NGINX_LOAD_MODULES} = $MODULES;

run_tests();

__DATA__

=== TEST 1: an allowed upstream: the client's bytes reach it, it saw our current SVID, and the stream log has it
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format up '$status|$upstream_addr';
    access_log logs/stream.log up;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p1.sock;
        proxy_ssl on;
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/1/a", "GET /probe/via?path=/p/1/b", "GET /probe/log?n=2"]
--- response_body_like eval
[qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr{\A200 up saw \Q$::SELF\E serial=CURRENT reused=r\n\z},
 qr{\A200\|up\.sock\n200\|up\.sock\n\z}]
--- no_error_log
[error]
[crit]



=== TEST 2: without spiffe_proxy_svid no client certificate is sent: the upstream refuses it (400 before any location)
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p1.sock;
        proxy_ssl on;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request
GET /p/1/
--- error_code: 400
--- response_body_like: No required SSL certificate was sent
--- error_log
spiffe: client sent no required SPIFFE SVID
--- no_error_log
[error]
[crit]



=== TEST 3: spiffe_proxy_svid alone presents the SVID and checks nothing (a web server's certificate passes)
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    proxy_ssl on;
    spiffe_proxy_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pweb.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/web.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pdb.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/web/", "GET /p/db/"]
--- response_body_like eval
[qr{\Aweb saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr{\Adb saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z}]
--- no_error_log
[error]
[crit]



=== TEST 4: an upstream with another ID: the connection is closed before a byte is proxied, and the log names the upstream's ID and the server
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format up '$status|$upstream_addr|$upstream_bytes_sent';
    access_log logs/stream.log up;

    proxy_ssl on;
    spiffe_proxy_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p1.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pdb.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx
                            "~^spiffe://mesh\.test/ns/db/sa/(?!pg$)";
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/1/", "GET /p/db/", "GET /probe/log?n=2", "GET /probe/errors"]
--- error_code eval
[502, 502, 200, 200]
--- response_body eval
[qr/502 Bad Gateway/, qr/502 Bad Gateway/,
 "502|up.sock|0\n502|db.sock|0\n",
 ::refused($::SELF, 'p1', $::NOMATCH) . ::refused($::DB, 'pdb', $::NOMATCH)]



=== TEST 5: upstreams without a valid SVID are refused with the reason; federated ones pass, each verified with its own trust domain's bundle only
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    proxy_ssl on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://mesh.test/** spiffe://example.org/**
                        spiffe://other.org/** spiffe://unknown.org/**;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pweb.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/web.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pexpired.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/expired.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pcross.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/cross.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/punknown.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/unknown.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pselfsigned.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/selfsigned.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pgood.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/good.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pother.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/other.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/web/", "GET /p/expired/", "GET /p/cross/", "GET /p/unknown/",
 "GET /p/selfsigned/", "GET /p/good/", "GET /p/other/", "GET /probe/errors"]
--- error_code eval
[502, 502, 502, 502, 502, 200, 200, 200]
--- response_body eval
[(qr/502 Bad Gateway/) x 5,
 qr{\Agood saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr{\Aother saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 ::refused('', 'pweb', 'no URI SAN')
 . ::refused('spiffe://mesh.test/ns/db/sa/old', 'pexpired',
             'certificate has expired')
 . ::refused('spiffe://other.org/x', 'pcross',
             'unable to get local issuer certificate')
 . ::refused('spiffe://unknown.org/x', 'punknown',
             'no bundle for trust domain')
 . ::refused('spiffe://example.org/ns/prod/sa/web', 'pselfsigned',
             'self-signed certificate')]



=== TEST 6: patterns (exact, "*", "/**", regex, "all", several); the servers share the upstream's TLS session only where its peer matches
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    proxy_ssl on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;
    spiffe_proxy_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pexact.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pstar.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/*/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/ptd.sock;
        spiffe_proxy_verify spiffe://mesh.test/**;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pre.sock;
        spiffe_proxy_verify "~^spiffe://mesh\.test/ns/db/sa/[a-z]+$";
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pall.sock;
        spiffe_proxy_verify all;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pseveral.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx
                            spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pbelow.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg/**;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pothertd.sock;
        spiffe_proxy_verify spiffe://example.org/**;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pcase.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/DB/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
[map({ "GET /p/$_/" } qw(exact star td re all several below othertd case)),
 "GET /probe/errors"]
--- error_code eval
[(200) x 6, (502) x 3, 200]
--- response_body eval
[qr{\Adb saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 (qr{\Adb saw \Q$::SELF\E serial=[0-9A-F]+ reused=r\n\z}) x 5,
 (qr/502 Bad Gateway/) x 3,
 join '', map { $::SESS . ::refused($::DB, "p$_", $::NOMATCH) }
              qw(below othertd case)]



=== TEST 7: inherited from the stream level, replaced by a server's own
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    proxy_ssl on;
    proxy_ssl_session_reuse off;
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pinherit.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pinherit-db.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/poverride.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/poverride-up.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/inherit/", "GET /p/inherit-db/", "GET /p/override/",
 "GET /p/override-up/", "GET /probe/errors"]
--- error_code eval
[200, 502, 200, 502, 200]
--- response_body eval
[qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr/502 Bad Gateway/,
 qr{\Adb saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr/502 Bad Gateway/,
 ::refused($::DB, 'pinherit-db', $::NOMATCH)
 . ::refused($::SELF, 'poverride-up', $::NOMATCH)]



=== TEST 8: with proxy_ssl_verify on, SPIFFE decides: the host name is not checked, and a certificate that nginx's own check would pass is refused
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    proxy_ssl on;
    proxy_ssl_verify on;
    proxy_ssl_session_reuse off;
    spiffe_proxy_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pok.sock;
        proxy_ssl_trusted_certificate $TEST_NGINX_AGENT_STATE/bundle.pem;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pname.sock;
        proxy_ssl_trusted_certificate $TEST_NGINX_AGENT_STATE/bundle.pem;
        proxy_ssl_name wrong.example.com;
        proxy_ssl_server_name on;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/db.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pweb.sock;
        proxy_ssl_trusted_certificate $TEST_NGINX_CERTS/ca-web.pem;
        proxy_ssl_name localhost;
        spiffe_proxy_verify spiffe://mesh.test/**;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/web.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pother-ca.sock;
        proxy_ssl_trusted_certificate $TEST_NGINX_CERTS/ca-web.pem;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/ok/", "GET /p/name/", "GET /p/web/", "GET /p/other-ca/",
 "GET /probe/errors"]
--- error_code eval
[200, 200, 502, 200, 200]
--- response_body eval
[qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr{\Adb saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr/502 Bad Gateway/,
 qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 ::refused('', 'pweb', 'no URI SAN')]



=== TEST 9: a refused server is skipped for the next one; a pattern refusal is no failure of the server, which stays up for the others
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format up '$status|$upstream_addr';
    access_log logs/stream.log up;

    upstream two {
        server unix:$TEST_NGINX_SERVROOT/logs/db.sock;
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }

    proxy_ssl on;
    spiffe_proxy_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pto-up.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;
        proxy_pass two;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pto-db.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass two;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
[map({ "GET /p/$_/" } qw(to-up to-up to-db to-db to-up to-db)),
 "GET /probe/log?n=6", "GET /probe/errors"]
--- response_body eval
[qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=[.r]\n\z},
 qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=[.r]\n\z},
 qr{\Adb saw \Q$::SELF\E serial=[0-9A-F]+ reused=[.r]\n\z},
 qr{\Adb saw \Q$::SELF\E serial=[0-9A-F]+ reused=[.r]\n\z},
 qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=[.r]\n\z},
 qr{\Adb saw \Q$::SELF\E serial=[0-9A-F]+ reused=[.r]\n\z},
 # round robin: db, up, db, up...; a refusal by pattern takes the next
 "200|db.sock, up.sock\n200|up.sock\n200|db.sock\n200|up.sock, db.sock\n"
 . "200|db.sock, up.sock\n200|up.sock, db.sock\n",
 # a TLS session saved under one server's patterns is not offered under
 # the other's
 ::refused($::DB, 'pto-up', $::NOMATCH)
 . $::SESS . ::refused($::SELF, 'pto-db', $::NOMATCH)
 . $::SESS . ::refused($::DB, 'pto-up', $::NOMATCH)
 . $::SESS . ::refused($::SELF, 'pto-db', $::NOMATCH)]



=== TEST 10: a stream TLS upstream (spiffe_svid, spiffe_verify_client, spiffe_allow) of the same nginx: it lets us in with our ID; refused where it does not match
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format up '$spiffe_id|$ssl_protocol|$status';

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/stream-up.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_allow spiffe://mesh.test/ns/edge/sa/nginx;
        access_log logs/stream-up.log up;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p1.sock;
        proxy_ssl on;
        proxy_ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/stream-up.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p12.sock;
        proxy_ssl on;
        proxy_ssl_protocols TLSv1.2;
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://mesh.test/ns/*/sa/nginx;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/stream-up.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pdb.sock;
        proxy_ssl on;
        proxy_ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_proxy_svid on;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/stream-up.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/1/a", "GET /p/12/b", "GET /p/db/c",
 "GET /probe/log?file=stream-up.log&n=3", "GET /probe/errors"]
--- error_code eval
[200, 200, 502, 200, 200]
--- response_body eval
["backend: /a\n", "backend: /b\n", qr/502 Bad Gateway/,
 # the third: its handshake failed, the client refused the certificate
 "$::SELF|TLSv1.3|200\n$::SELF|TLSv1.2|200\n-|TLSv1.3|500\n",
 $::SESS . ::refused($::SELF, 'pdb', $::NOMATCH)]



=== TEST 11: TLS sessions resume (TLS 1.3 and 1.2, kept by the worker or in a zone) where the peer matches; a session saved under other patterns is not offered, even to an upstream that would resume it
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    upstream nv {
        server unix:$TEST_NGINX_SERVROOT/logs/db-nv.sock;
    }

    upstream nv12 {
        server unix:$TEST_NGINX_SERVROOT/logs/db-nv.sock;
    }

    upstream z {
        zone z 64k;
        server unix:$TEST_NGINX_SERVROOT/logs/db-nv.sock;
    }

    map $server_port $nv {
        default nv;
    }

    proxy_ssl on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;
    spiffe_proxy_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pdb.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass nv;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pany.sock;
        spiffe_proxy_verify spiffe://mesh.test/**;
        proxy_pass nv;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pother.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/other/**;
        proxy_pass nv;
    }

    # no spiffe_proxy_verify: it resumes what it is offered
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pplain.sock;
        proxy_pass nv;
    }

    # the upstream named by a variable
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pvar.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/other/**;
        proxy_pass $nv;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pdb12.sock;
        proxy_ssl_protocols TLSv1.2;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass nv12;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pother12.sock;
        proxy_ssl_protocols TLSv1.2;
        spiffe_proxy_verify spiffe://mesh.test/ns/other/**;
        proxy_pass nv12;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pzdb.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass z;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pzother.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/other/**;
        proxy_pass z;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/db/", "GET /p/db/", "GET /p/any/", "GET /p/other/", "GET /p/var/",
 "GET /p/plain/", "GET /p/db/",
 "GET /p/db12/", "GET /p/db12/", "GET /p/other12/", "GET /p/db12/",
 "GET /p/zdb/", "GET /p/zdb/", "GET /p/zother/", "GET /p/zdb/",
 "GET /probe/errors"]
--- error_code eval
[200, 200, 200, 502, 502, 200, 200, 200, 200, 502, 200,
 200, 200, 502, 200, 200]
--- response_body eval
["db-nv reused=. TLSv1.3\n", "db-nv reused=r TLSv1.3\n",
 "db-nv reused=r TLSv1.3\n", qr/502 Bad Gateway/, qr/502 Bad Gateway/,
 "db-nv reused=r TLSv1.3\n", "db-nv reused=r TLSv1.3\n",
 "db-nv reused=. TLSv1.2\n", "db-nv reused=r TLSv1.2\n",
 qr/502 Bad Gateway/, "db-nv reused=r TLSv1.2\n",
 "db-nv reused=. TLSv1.3\n", "db-nv reused=r TLSv1.3\n",
 qr/502 Bad Gateway/, "db-nv reused=r TLSv1.3\n",
 $::SESS . ::refused($::DB, 'pother', $::NOMATCH)
 . $::SESS . ::refused($::DB, 'pvar', $::NOMATCH)
 . $::SESS . ::refused($::DB, 'pother12', $::NOMATCH)
 . $::SESS . ::refused($::DB, 'pzother', $::NOMATCH)]



=== TEST 12: rotate-svid while connections flow through the stream server (sessions resumed and full handshakes): none fails, and the upstream sees the new SVID's serial within 1 s
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    proxy_ssl on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;
    spiffe_proxy_svid on;
    spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p1.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p1fresh.sock;
        proxy_ssl_session_reuse off;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /probe/via?path=/p/1fresh/", "GET /probe/rotate",
 "GET /probe/via?path=/p/1fresh/", "GET /probe/via?path=/p/1/"]
--- response_body eval
["200 up saw $::SELF serial=CURRENT reused=.\n",
 "command: OK
the upstream saw the new SVID within 1 s: yes
connections: 20 or more
failed: 0
",
 "200 up saw $::SELF serial=CURRENT reused=.\n",
 qr{\A200 up saw \Q$::SELF\E serial=(?:CURRENT|OLD\(\w+\)) reused=[.r]\n\z}]
--- timeout: 15
--- no_error_log
[error]
[crit]



=== TEST 13: once a CA rotation drops the CA of an upstream's SVID, its TLS session is not offered any more (the bundle changed) and the full handshake refuses it
--- init
main::mint_db();
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    upstream nv {
        server unix:$TEST_NGINX_SERVROOT/logs/db-nv.sock;
    }

    upstream nv12 {
        server unix:$TEST_NGINX_SERVROOT/logs/db-nv.sock;
    }

    proxy_ssl on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;
    spiffe_proxy_svid on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pdb.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass nv;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pdb12.sock;
        proxy_ssl_protocols TLSv1.2;
        spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;
        proxy_pass nv12;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pup.sock;
        spiffe_proxy_verify spiffe://mesh.test/ns/edge/sa/nginx;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
["GET /p/db/", "GET /p/db/", "GET /p/db12/", "GET /p/db12/",
 "GET /ctl/rotate-ca", "GET /probe/sync",
 "GET /p/db/", "GET /p/db12/", "GET /p/up/", "GET /probe/errors"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 502, 502, 200, 200]
--- response_body eval
["db-nv reused=. TLSv1.3\n", "db-nv reused=r TLSv1.3\n",
 "db-nv reused=. TLSv1.2\n", "db-nv reused=r TLSv1.2\n",
 qr/\AOK serial=/, "synced\n",
 qr/502 Bad Gateway/, qr/502 Bad Gateway/,
 qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 ($::SESS . ::refused($::DB, 'pdb', 'unable to get local issuer certificate')
  . $::SESS . ::refused($::DB, 'pdb12',
                        'unable to get local issuer certificate'))]



=== TEST 14: "nginx -t" refuses, with the file and line: spiffe_proxy_verify or spiffe_proxy_svid (inherited too) without "proxy_ssl on", spiffe_proxy_svid with a proxy_ssl_certificate (in the server, or under a stream-level one), no identity source, bad patterns, a duplicate, no pattern, a bad flag
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
[map { "GET /probe/nginx_t?case=$_" }
 qw(no-proxy-ssl svid-no-proxy-ssl svid-and-cert main-svid-and-cert
    no-source bad-pattern bad-regex duplicate no-pattern svid-value)]
--- response_body eval
['exit 1
"spiffe_proxy_verify" needs "proxy_ssl on" in the server in FILE:8
line 8: server {
',
'exit 1
"spiffe_proxy_svid" needs "proxy_ssl on" in the server in FILE:16
line 16: server {
',
'exit 1
"spiffe_proxy_svid" cannot be combined with "proxy_ssl_certificate" in the server in FILE:8
line 8: server {
',
'exit 1
"spiffe_proxy_svid" cannot be combined with "proxy_ssl_certificate" in the server in FILE:17
line 17: server {
',
'exit 1
"spiffe_proxy_verify" in FILE:7 needs an identity source: "spiffe_workload_api", "spiffe_svid_dir" or SPIFFE_ENDPOINT_SOCKET
line 7: server {
',
'exit 1
invalid SPIFFE ID pattern "spiffe://mesh.test/ns/db-*" in "spiffe_proxy_verify": it has "*" inside a segment ("*" stands for a whole segment) in FILE:10
line 10: spiffe://mesh.test/ns/db-*;
',
'exit 1
invalid regex "~^spiffe://(mesh" in "spiffe_proxy_verify": pcre2_compile() failed: missing closing parenthesis in "^spiffe://(mesh" in FILE:11
line 11: spiffe_proxy_verify "~^spiffe://(mesh";
',
'exit 1
"spiffe_proxy_verify" directive is duplicate in FILE:12
line 12: spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/old;
',
'exit 1
invalid number of arguments in "spiffe_proxy_verify" directive in FILE:8
line 8: spiffe_proxy_verify;
',
'exit 1
invalid value "yes" in "spiffe_proxy_svid" directive, it must be "on", "off", "hint=HINT" or a SPIFFE ID in FILE:8
line 8: spiffe_proxy_svid yes;
']
--- no_error_log
[error]
[crit]



=== TEST 15: nginx does not start with spiffe_proxy_verify in a server without "proxy_ssl on"
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    spiffe_proxy_verify spiffe://mesh.test/ns/db/sa/pg;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p1.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
}
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_verify" needs "proxy_ssl on" in the server in \S+nginx\.conf:\d+}



=== TEST 16: nginx does not start with spiffe_proxy_svid and proxy_ssl_certificate in one server
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/p1.sock;
        proxy_ssl on;
        proxy_ssl_certificate $TEST_NGINX_CERTS/good.pem;
        proxy_ssl_certificate_key $TEST_NGINX_CERTS/good.key;
        spiffe_proxy_svid on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }
}
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_proxy_svid" cannot be combined with "proxy_ssl_certificate" in the server in \S+nginx\.conf:\d+}



=== TEST 17: a server with spiffe_proxy_svid and one without share an upstream: neither resumes the TLS session of the other
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    upstream u {
        server unix:$TEST_NGINX_SERVROOT/logs/up.sock;
    }

    proxy_ssl on;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/psvid.sock;
        spiffe_proxy_svid on;
        proxy_pass u;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/pplain.sock;
        proxy_pass u;
    }
}
--- http_config eval
$::UPSTREAMS . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location ~ ^/p/(?<psock>[\w-]+)(?<rest>/.*)$ {
        error_log logs/outer.log info;
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/p$psock.sock:$rest;
    }
EOC
--- request eval
[map({ "GET /p/$_/" } qw(svid svid plain svid)), "GET /probe/errors"]
--- error_code eval
[200, 200, 400, 200, 200]
--- response_body_like eval
[qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=r\n\z},
 # psvid's session would show the upstream our SVID
 qr{No required SSL certificate was sent},
 # pplain's session was made presenting nothing
 qr{\Aup saw \Q$::SELF\E serial=[0-9A-F]+ reused=\.\n\z},
 qr{\A\Q$::OTHER_SESS$::OTHER_SESS\E\z}]
