# Stream servers (ngx_stream_spiffe_module): SPIFFE mTLS in front of a TCP
# service, at run time (loading the modules and what the configuration
# may not say: t/062-stream-config.t).  The stream server under test
# serves the SVID, verifies the client against its own trust domain's
# bundle, and decides spiffe_allow / spiffe_deny after the handshake and
# before a byte is proxied: a refused connection is closed, logged, and has
# $status 403 in the stream log.
#
# Layout: the stream server under test listens on
# unix:$TEST_NGINX_SERVROOT/logs/tls.sock (in --- main_config), so that the
# outer http locations of SpiffeMTLS -- /as/PEER/, /as12/PEER/, /fresh/PEER/,
# /nocert/ ... -- are its TLS clients, presenting PEER's certificate.  It
# proxies to a plain http server of the same nginx that every block names
# in its --- http_config, SpiffeStream's backends() (the "backend",
# unix:$TEST_NGINX_SERVROOT/logs/backend.sock, answering "backend: URI";
# backend2.sock answers "backend2: URI"), with main::outer_upstreams(); its
# --- config names main::outer_locations().  A refused client
# sees the stream server close the connection: the outer location answers
# 502 and logs "upstream prematurely closed connection" (or, when it was
# still writing its request, "SSL_write() failed (32: Broken pipe)").
# Where a block needs the variables in a body, the stream server answers
# with "return" and a whole HTTP/1.0 response of its own.
#
# /probe/ runs Perl next to the test: the stream log once it has N lines,
# raw TLS connections with openssl s_client, load while the agent rotates.
#
# Trust, as in t/020-mtls-verify.t: the agent's trust domain is mesh.test;
# it federates example.org (CA A of t/cert/mkcerts.py) and other.org (CA B).
#
# Stream servers say "ssl_protocols TLSv1.2 TLSv1.3": nginx 1.22's default
# for stream stops at TLS 1.2.
#
# Modules: $MODULES of SpiffeStream (nginx's stream module, the http
# object, then the stream object), for every block.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use IPC::Open3 qw(open3);
use Symbol qw(gensym);
use Time::HiRes qw(sleep time);
use SpiffeAgent;
use SpiffeMTLS qw(add_peer peer_cert peer_key start_probe agent_cmd
                  cert_serial outer_locations outer_upstreams);
use SpiffeStream qw($SLOW $MODULES $ERROR_BUT_502 $ERROR_BUT_PLAIN
                    $CRIT_BUT_SHUTDOWN wait_log rotate_under_load backends);

# rules included from user files: their lines are known
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $SELF = 'spiffe://mesh.test/ns/edge/sa/nginx';
our $WEB = 'spiffe://example.org/ns/prod/sa/web';
our $DEV = 'spiffe://example.org/ns/dev/sa/web';
our $API = 'spiffe://example.org/ns/prod/sa/api';
our $OTHER = 'spiffe://other.org/ns/prod/sa/web';
our $MESH = 'spiffe://mesh.test/ns/prod/sa/db';

my $certs = SpiffeAgent::certs();
our $agent = SpiffeAgent->start(spiffe_id => $SELF, intermediate => 1);
our $state = $agent->state_dir;

$agent->control_ok("federate example.org $certs/ca-a.pem");
$agent->control_ok("federate other.org $certs/ca-b.pem");

# a client of the agent's own CA: the CA rotations concern it
sub mint_mesh {
    $agent->control_ok("mint $MESH mesh-db");
}

mint_mesh();
add_peer('mesh-db', "$state/mesh-db.pem", "$state/mesh-db.key");
add_peer($_, "$certs/$_.pem", "$certs/$_.key")
    for qw(good good-dev good-int good-other no-uri expired cross-domain
           unknown-td self-signed);

# refused by "spiffe_verify_client on", and why
our @HOSTILE = (
    ['no-uri',       'no URI SAN'],
    ['expired',      'certificate has expired'],
    ['cross-domain', 'unable to get local issuer certificate'],
    ['unknown-td',   'no bundle for trust domain'],
    ['self-signed',  'self-signed certificate'],
);

# What a refusal logs besides the module's lines: $ERROR_BUT_502,
# $ERROR_BUT_PLAIN and $CRIT_BUT_SHUTDOWN of SpiffeStream.

# ---- probe actions ------------------------------------------------------

# waits are $SLOW times longer under valgrind; the 1 s in which a new SVID
# must be served is not

# the stream access log once it has n lines
sub stream_log {
    my (%q) = @_;
    return wait_log($q{file} // 'stream.log', $q{n} // 1);
}

# A raw TLS connection to the stream server with openssl s_client: PEER's
# certificate (none without peer), TLS 1.3 (tls=1.2), SEND written once the
# handshake is done ("\n" for "|"), then everything read until the server
# closes.  Answers "handshake: yes|no" (within 5 s), what came back, and
# whether the server closed the connection within 5 s.
sub raw_tls {
    my (%q) = @_;
    my $sock = "$ENV{TEST_NGINX_SERVROOT}/logs/" . ($q{sock} // 'tls.sock');
    my @cmd = ('openssl', 's_client', '-unix', $sock,
               ($q{tls} // '') eq '1.2' ? '-tls1_2' : '-tls1_3',
               '-brief', '-ign_eof');
    # -cert sends the leaf only: the intermediates come from -cert_chain
    push @cmd, '-cert', peer_cert($q{peer}), '-key', peer_key($q{peer}),
               '-cert_chain', peer_cert($q{peer})
        if defined $q{peer};

    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, @cmd);
    my $done = 0;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 5 * $SLOW;
        while (my $line = <$err>) {
            if ($line =~ /^CONNECTION ESTABLISHED/) {
                $done = 1;
                last;
            }
        }
        alarm 0;
    };
    alarm 0;

    my $res = "handshake: " . ($done ? 'yes' : 'no') . "\n";
    if ($done) {
        my $send = $q{send} // '';
        $send =~ s/\|/\r\n/g;
        print {$in} $send;
        close $in;

        my ($got, $closed) = ('', 0);
        eval {
            local $SIG{ALRM} = sub { die "timeout\n" };
            alarm 5 * $SLOW;
            local $/;
            $got = <$out> // '';
            $closed = 1;
            alarm 0;
        };
        alarm 0;
        $got =~ s/\r//g;
        $res .= "received: " . (length $got ? $got : "nothing\n")
                . "closed by the server: " . ($closed ? 'yes' : 'no') . "\n";
    }

    kill 'TERM', $pid;
    waitpid($pid, 0);
    return $res;
}

# serial of the leaf served on SOCK (tls.sock), to a client presenting
# "good" (allowed by every server that rotates); undef when no handshake
sub served_serial {
    my ($sock) = @_;
    $sock //= 'tls.sock';
    my @cmd = ('openssl', 's_client', '-unix',
               "$ENV{TEST_NGINX_SERVROOT}/logs/$sock", '-tls1_3',
               '-cert', peer_cert('good'), '-key', peer_key('good'));
    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, @cmd);
    close $in;
    my $text = do { local $/; <$out> } // '';
    waitpid($pid, 0);
    return undef unless
        $text =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
    return cert_serial($1) =~ s/^0+(?=.)//r;
}

sub wait_serial {
    my ($serial, $timeout) = @_;
    my $t0 = time;
    while (1) {
        my $got = served_serial();
        return time - $t0 if defined $got && $got eq $serial;
        return undef if time - $t0 > $timeout;
        sleep 0.01;
    }
}

# CMD on the agent while four clients keep going through the stream
# server to the backend (full handshakes and resumed sessions, TLS 1.3 and
# 1.2); whether the SVID the command made was served within 1 s, and
# whether any connection failed
sub rotate {
    my (%q) = @_;
    return rotate_under_load(
        cmd => $q{cmd}, want => "backend: /load\n",
        paths => ['/fresh/mesh-db/load', '/fresh12/mesh-db/load',
                  '/as/mesh-db/load', '/as12/mesh-db/load'],
        seen => \&wait_serial, what => 'new SVID served');
}

# the SVID served by the stream (tls.sock) and the http (https.sock)
# servers, against the agent's, and how many Workload API streams the
# agent has open, once that number holds still for 0.5 s
sub one_source {
    my ($serial) = agent_cmd('status') =~ /\bserial=(\w+)/;
    $serial =~ s/^0+(?=.)//;
    my ($s, $h, $deadline) = ('', '', time + 2 * $SLOW);
    while (time < $deadline) {
        ($s, $h) = (served_serial('tls.sock'), served_serial('https.sock'));
        last if ($s // '') eq $serial && ($h // '') eq $serial;
        sleep 0.05;
    }
    $deadline = time + 3 * $SLOW;
    my $out = "stream server: " . (($s // '') eq $serial ? 'current SVID'
                                                         : $s // 'nothing')
              . "\nhttp server: " . (($h // '') eq $serial ? 'current SVID'
                                                          : $h // 'nothing')
              . "\n";
    my ($streams, $since) = (-1, time);
    while (time < $deadline) {
        my ($now) = agent_cmd('status') =~ /\bstreams=(\d+)/;
        ($streams, $since) = ($now, time) if $now != $streams;
        last if time - $since >= 0.5;
        sleep 0.05;
    }
    return $out . "Workload API streams: $streams\n";
}

# waits until the agent's current SVID is served (3 s at most): every
# message of the agent carries its whole state, so what a command changed
# before is in force then
sub synced {
    my ($serial) = agent_cmd('status') =~ /\bserial=(\w+)/
        or return "no serial from the agent\n";
    $serial =~ s/^0+(?=.)//;
    return defined wait_serial($serial, 3 * $SLOW) ? "synced\n"
           : "not synced: agent serial $serial, served "
             . (served_serial() // 'nothing') . "\n";
}

start_probe(log => \&stream_log, raw => \&raw_tls, rotate => \&rotate,
            synced => \&synced, one_source => \&one_source);

log_level('info');

# every block: nginx's stream module, the http object, the stream object
$ENV{TEST_NGINX_LOAD_MODULES} = $MODULES;

run_tests();

__DATA__

=== TEST 1: verified peers reach the backend (TLS 1.3 and 1.2, an intermediate, another trust domain); the stream log has their IDs and 200
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$spiffe_trust_domain|$spiffe_path|$ssl_protocol|$status';
    access_log logs/stream.log spiffe;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as/good/one", "GET /as12/good-int/two", "GET /as/good-other/three",
 "GET /as/mesh-db/four", "GET /probe/log?n=4"]
--- response_body eval
["backend: /one\n", "backend: /two\n", "backend: /three\n",
 "backend: /four\n",
 "SUCCESS|spiffe://example.org/ns/prod/sa/web|example.org|/ns/prod/sa/web|TLSv1.3|200
SUCCESS|spiffe://example.org/ns/prod/sa/api|example.org|/ns/prod/sa/api|TLSv1.2|200
SUCCESS|spiffe://other.org/ns/prod/sa/web|other.org|/ns/prod/sa/web|TLSv1.3|200
SUCCESS|spiffe://mesh.test/ns/prod/sa/db|mesh.test|/ns/prod/sa/db|TLSv1.3|200
"]
--- no_error_log
spiffe: peer X.509-SVID refused
spiffe: connection refused
spiffe: access forbidden
[error]
[crit]



=== TEST 2: raw TLS (openssl s_client): an allowed peer's bytes reach the backend and its answer comes back; a refused peer completes the handshake, then the server closes without a byte
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
["GET /probe/raw?peer=good&send=GET%20/raw%20HTTP/1.0||",
 "GET /probe/raw?peer=good&tls=1.2&send=GET%20/raw12%20HTTP/1.0||",
 "GET /probe/raw?peer=good-dev",
 "GET /probe/raw?peer=no-uri&tls=1.2",
 "GET /probe/raw"]
--- response_body_like eval
[qr{\Ahandshake: yes\nreceived: HTTP/1\.1 200 OK\n.*\n\nbackend: /raw\nclosed by the server: yes\n\z}s,
 qr{\Ahandshake: yes\nreceived: HTTP/1\.1 200 OK\n.*\n\nbackend: /raw12\nclosed by the server: yes\n\z}s,
 qr{\Ahandshake: yes\nreceived: nothing\nclosed by the server: yes\n\z},
 qr{\Ahandshake: yes\nreceived: nothing\nclosed by the server: yes\n\z},
 qr{\Ahandshake: yes\nreceived: nothing\nclosed by the server: yes\n\z}]
--- grep_error_log eval
qr/spiffe: .*? while (?:SSL handshaking|prereading client data)/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web" while prereading client data
spiffe: peer X.509-SVID refused: no URI SAN while SSL handshaking
spiffe: connection refused: no verified SPIFFE ID (FAILED:no URI SAN) while prereading client data
spiffe: connection refused: no verified SPIFFE ID (NONE) while prereading client data
--- no_error_log
[error]
[crit]



=== TEST 3: spiffe_allow: the ID allowed reaches the backend; any other verified ID is closed before proxying, logged, and has $status 403
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$status|$upstream_addr';
    access_log logs/stream.log spiffe;

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
["GET /as/good/a", "GET /as/good-int/b", "GET /as12/good-other/c",
 "GET /probe/log?n=3"]
--- error_code eval
[200, 502, 502, 200]
--- response_body_like eval
["^backend: /a\n\\z", "502 Bad Gateway", "502 Bad Gateway",
 "^SUCCESS\\|\Q$main::WEB\E\\|200\\|unix:\\S+/backend\\.sock
SUCCESS\\|\Q$main::API\E\\|403\\|-
SUCCESS\\|\Q$main::OTHER\E\\|403\\|-
\\z"]
--- grep_error_log eval
qr/spiffe: .*? while prereading client data/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/api" while prereading client data
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web" while prereading client data
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN,
 "spiffe: peer X.509-SVID refused"]



=== TEST 4: rules in order: an exact deny, "*" for a segment, "~regex", then "spiffe_deny all"; the log and $spiffe_rule name the rule that decided
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format spiffe '$spiffe_id|$status|$spiffe_rule';
    access_log logs/stream.log spiffe;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        include $TEST_NGINX_HTML_DIR/rules.conf;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- user_files
>>> rules.conf
spiffe_deny  spiffe://example.org/ns/dev/sa/web;
spiffe_allow spiffe://example.org/ns/*/sa/web;
spiffe_allow ~^spiffe://other\.org/ns/[a-z]+/sa/web$;
spiffe_deny  all;
--- request eval
["GET /as/good/", "GET /as/good-dev/", "GET /as/good-other/",
 "GET /as/good-int/", "GET /as/mesh-db/", "GET /probe/log?n=5"]
--- error_code eval
[200, 502, 200, 502, 502, 200]
--- response_body_like eval
my $r = "\\|\Q$ENV{TEST_NGINX_HTML_DIR}/rules.conf:\E";
["^backend: /\n\\z", "502 Bad Gateway", "^backend: /\n\\z",
 "502 Bad Gateway", "502 Bad Gateway",
 "^\Q$main::WEB\E\\|200${r}2\n\Q$main::DEV\E\\|403${r}1\n\Q$main::OTHER\E\\|200${r}3\n\Q$main::API\E\\|403${r}4\n\Q$main::MESH\E\\|403${r}4\n\\z"]
--- grep_error_log eval
qr/spiffe: .*? while prereading client data/
--- grep_error_log_out
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/rules.conf:1 for "spiffe://example.org/ns/dev/sa/web" while prereading client data
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/rules.conf:4 for "spiffe://example.org/ns/prod/sa/api" while prereading client data
spiffe: access forbidden by the rule at $TEST_NGINX_HTML_DIR/rules.conf:4 for "spiffe://mesh.test/ns/prod/sa/db" while prereading client data
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 5: the first match wins ("/**" before a deny of one of its IDs); "/**" is one or more segments of one trust domain only
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_allow spiffe://example.org/ns/**;
        spiffe_deny  spiffe://example.org/ns/dev/sa/web;
        spiffe_allow spiffe://mesh.test/ns/prod/sa/db/**;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as/good-dev/", "GET /as/good-int/", "GET /as/good-other/",
 "GET /as/mesh-db/"]
--- error_code eval
[200, 200, 502, 502]
--- grep_error_log eval
qr/spiffe: .*? while prereading client data/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web" while prereading client data
spiffe: access forbidden: no rule allows "spiffe://mesh.test/ns/prod/sa/db" while prereading client data
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 6: "spiffe_allow all" with "optional": every verified ID gets in, an unverified peer or no certificate does not
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$status';
    access_log logs/stream.log spiffe;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        spiffe_allow all;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as/good-other/", "GET /as/mesh-db/", "GET /as/expired/",
 "GET /nocert/", "GET /probe/log?n=4"]
--- error_code eval
[200, 200, 502, 502, 200]
--- response_body_like eval
["^backend: /\n\\z", "^backend: /\n\\z", "502 Bad Gateway",
 "502 Bad Gateway",
 "^SUCCESS\\|\Q$main::OTHER\E\\|200
SUCCESS\\|\Q$main::MESH\E\\|200
FAILED:certificate has expired\\|-\\|403
NONE\\|-\\|403
\\z"]
--- grep_error_log eval
qr/spiffe: .*? while (?:SSL handshaking|prereading client data)/
--- grep_error_log_out
spiffe: peer X.509-SVID refused: certificate has expired while SSL handshaking
spiffe: connection refused: no verified SPIFFE ID (FAILED:certificate has expired) while prereading client data
spiffe: connection refused: no verified SPIFFE ID (NONE) while prereading client data
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 7: "spiffe_verify_client on" without rules: no certificate (TLS 1.3, 1.2) is refused before proxying
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$ssl_protocol|$status';
    access_log logs/stream.log spiffe;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /nocert/", "GET /nocert12/", "GET /probe/log?n=2"]
--- error_code eval
[502, 502, 200]
--- response_body_like eval
["502 Bad Gateway", "502 Bad Gateway",
 "^NONE\\|-\\|TLSv1.3\\|403\nNONE\\|-\\|TLSv1.2\\|403\n\\z"]
--- grep_error_log eval
qr/spiffe: .*? while prereading client data/
--- grep_error_log_out
spiffe: connection refused: no verified SPIFFE ID (NONE) while prereading client data
spiffe: connection refused: no verified SPIFFE ID (NONE) while prereading client data
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 8: hostile peers of the matrix: refused before proxying, each with its reason, in the error log and in $spiffe_verify
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$status';
    access_log logs/stream.log spiffe;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
[(map { "GET /as/$_->[0]/" } @main::HOSTILE),
 "GET /as12/cross-domain/", "GET /probe/log?n=" . (@main::HOSTILE + 1)]
--- error_code eval
[(map { 502 } @main::HOSTILE), 502, 200]
--- response_body_like eval
[(map { "502 Bad Gateway" } @main::HOSTILE), "502 Bad Gateway",
 "^" . join('', map { "FAILED:\Q$_->[1]\E\\|-\\|403\n" } @main::HOSTILE,
                    $main::HOSTILE[2]) . "\\z"]
--- grep_error_log eval
qr/spiffe: .*? while (?:SSL handshaking|prereading client data)/
--- grep_error_log_out eval
join '', map { "spiffe: peer X.509-SVID refused: $_->[1] while SSL handshaking\nspiffe: connection refused: no verified SPIFFE ID (FAILED:$_->[1]) while prereading client data\n" } @main::HOSTILE, $main::HOSTILE[2]
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 9: "optional" without rules lets every peer through; the variables say who it is, or why not ("return" answers with them)
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        return "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n$spiffe_verify|$spiffe_id|$spiffe_trust_domain|$spiffe_path|$ssl_protocol\n";
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as/good/", "GET /as12/good-other/", "GET /as/no-uri/",
 "GET /as12/unknown-td/", "GET /nocert/", "GET /nocert12/"]
--- response_body eval
["SUCCESS|$main::WEB|example.org|/ns/prod/sa/web|TLSv1.3\n",
 "SUCCESS|$main::OTHER|other.org|/ns/prod/sa/web|TLSv1.2\n",
 "FAILED:no URI SAN||||TLSv1.3\n",
 "FAILED:no bundle for trust domain||||TLSv1.2\n",
 "NONE||||TLSv1.3\n", "NONE||||TLSv1.2\n"]
--- grep_error_log eval
qr/spiffe: .*? while (?:SSL handshaking|prereading client data)/
--- grep_error_log_out
spiffe: peer X.509-SVID refused: no URI SAN while SSL handshaking
spiffe: peer X.509-SVID refused: no bundle for trust domain while SSL handshaking
--- no_error_log eval
[$main::CRIT_BUT_SHUTDOWN]



=== TEST 10: stream-level spiffe_svid, spiffe_verify_client and rules are inherited by a server without its own; a server's own rules replace them
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    spiffe_svid on;
    spiffe_verify_client on;
    spiffe_allow spiffe://example.org/ns/prod/sa/web;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls2.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_allow spiffe://other.org/**;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend2.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location /s2/good/ {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/tls2.sock:/;
        proxy_ssl_session_reuse off;
        proxy_ssl_certificate $TEST_NGINX_CERTS/good.pem;
        proxy_ssl_certificate_key $TEST_NGINX_CERTS/good.key;
    }

    location /s2/good-other/ {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/tls2.sock:/;
        proxy_ssl_session_reuse off;
        proxy_ssl_certificate $TEST_NGINX_CERTS/good-other.pem;
        proxy_ssl_certificate_key $TEST_NGINX_CERTS/good-other.key;
    }

    location /s2/nocert/ {
        proxy_pass https://unix:$TEST_NGINX_SERVROOT/logs/tls2.sock:/;
        proxy_ssl_session_reuse off;
    }
EOC
--- request eval
["GET /as/good/1", "GET /as/good-other/1", "GET /nocert/1",
 "GET /s2/good/2", "GET /s2/good-other/2", "GET /s2/nocert/2",
 "GET /probe/raw?sock=tls2.sock&peer=good-other&send=GET%20/3%20HTTP/1.0||"]
--- error_code eval
[200, 502, 502, 502, 200, 502, 200]
--- response_body_like eval
["^backend: /1\n\\z", "502 Bad Gateway", "502 Bad Gateway",
 "502 Bad Gateway", "^backend2: /2\n\\z", "502 Bad Gateway",
 qr{\Ahandshake: yes\nreceived: HTTP/1\.1 200 OK\n.*\n\nbackend2: /3\nclosed by the server: yes\n\z}s]
--- grep_error_log eval
qr/spiffe: .*? while prereading client data/
--- grep_error_log_out
spiffe: access forbidden: no rule allows "spiffe://other.org/ns/prod/sa/web" while prereading client data
spiffe: connection refused: no verified SPIFFE ID (NONE) while prereading client data
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/web" while prereading client data
spiffe: connection refused: no verified SPIFFE ID (NONE) while prereading client data
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 11: "map" on $spiffe_id picks the backend, "map" on $spiffe_trust_domain feeds the log
# Under valgrind this block is where OpenSSL's default provider context,
# left at exit because nginx keeps upstream TLS sessions, is found with no
# pointer to it: see its entry in t/valgrind.supp.
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    map $spiffe_id $backend {
        spiffe://example.org/ns/prod/sa/web  unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
        ~^spiffe://other\.org/               unix:$TEST_NGINX_SERVROOT/logs/backend2.sock;
        default                              unix:$TEST_NGINX_SERVROOT/logs/backend2.sock;
    }

    map $spiffe_trust_domain $zone {
        example.org  inside;
        ""           anonymous;
        default      partner;
    }

    log_format spiffe '$zone|$spiffe_verify|$spiffe_path|$status';
    access_log logs/stream.log spiffe;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
        proxy_pass $backend;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as/good/a", "GET /as/good-other/b", "GET /as/good-dev/c",
 "GET /nocert/d", "GET /as/no-uri/e", "GET /probe/log?n=5"]
--- response_body eval
["backend: /a\n", "backend2: /b\n", "backend2: /c\n", "backend2: /d\n",
 "backend2: /e\n",
 "inside|SUCCESS|/ns/prod/sa/web|200
partner|SUCCESS|/ns/prod/sa/web|200
inside|SUCCESS|/ns/dev/sa/web|200
anonymous|NONE|-|200
anonymous|FAILED:no URI SAN|-|200
"]
--- no_error_log
[error]
[crit]



=== TEST 12: resumed TLS sessions (tickets; a shared cache with TLS 1.2) keep the ID verified at the full handshake, and the rules still apply to them
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:stream:1m;
        ssl_session_tickets off;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_deny spiffe://example.org/ns/dev/sa/web;
        spiffe_allow spiffe://example.org/**;
        return "HTTP/1.0 200 OK\r\n\r\n$spiffe_verify|$spiffe_id|$ssl_session_reused|$ssl_protocol\n";
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as13/good/", "GET /as13/good/", "GET /as12/good-int/",
 "GET /as12/good-int/", "GET /as13/good-dev/", "GET /as13/good-dev/"]
--- error_code eval
[200, 200, 200, 200, 502, 502]
--- response_body_like eval
["^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1.3\n\\z",
 "^SUCCESS\\|\Q$main::API\E\\|\\.\\|TLSv1.2\n\\z",
 "^SUCCESS\\|\Q$main::API\E\\|r\\|TLSv1.2\n\\z",
 "502 Bad Gateway", "502 Bad Gateway"]
--- grep_error_log eval
qr/spiffe: .*? while prereading client data/
--- grep_error_log_out eval
qr{\A(spiffe: access forbidden by the rule at \S+/nginx\.conf:\d+ for "spiffe://example\.org/ns/dev/sa/web" while prereading client data\n)\1\z}
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN,
 "spiffe: peer X.509-SVID refused"]



=== TEST 13: "spiffe_verify_client" in a server with an ssl_certificate of its own (no spiffe_svid anywhere), with a shared session cache
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_CERTS/nginx.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/nginx.key;
        ssl_session_cache shared:stream:1m;
        spiffe_verify_client on;
        return "HTTP/1.0 200 OK\r\n\r\n$spiffe_verify|$spiffe_id|$ssl_session_reused\n";
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as12/good/", "GET /as12/good/", "GET /as/good-other/",
 "GET /as/no-uri/"]
--- error_code eval
[200, 200, 200, 502]
--- response_body_like eval
["^SUCCESS\\|\Q$main::WEB\E\\|\\.\n\\z", "^SUCCESS\\|\Q$main::WEB\E\\|r\n\\z",
 "^SUCCESS\\|\Q$main::OTHER\E\\|\\.\n\\z", "502 Bad Gateway"]
--- error_log
spiffe: connection refused: no verified SPIFFE ID (FAILED:no URI SAN)
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 14: a plain (non-TLS) stream server: $spiffe_verify is NONE; rules there refuse every connection
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$status';
    access_log logs/stream.log spiffe;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/plain.sock;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/plain-rules.sock;
        spiffe_allow all;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
<<'EOC' . main::outer_locations()
    location = /plain {
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/plain.sock:;
    }

    location = /plain-rules {
        proxy_pass http://unix:$TEST_NGINX_SERVROOT/logs/plain-rules.sock:;
    }
EOC
--- request eval
["GET /plain", "GET /plain-rules", "GET /probe/log?n=2"]
--- error_code eval
[200, 502, 200]
--- response_body_like eval
["^backend: /plain\n\\z", "502 Bad Gateway",
 "^NONE\\|-\\|200\nNONE\\|-\\|403\n\\z"]
--- grep_error_log eval
qr/spiffe: .*? while prereading client data/
--- grep_error_log_out
spiffe: connection refused: no verified SPIFFE ID (NONE) while prereading client data
--- no_error_log eval
[$main::ERROR_BUT_PLAIN, '[crit]']



=== TEST 15: rotate-svid while connections flow through the stream server: none fails, the new SVID is served within 1 s
--- init
main::mint_mesh();
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_allow spiffe://mesh.test/ns/prod/sa/db;
        spiffe_allow spiffe://example.org/ns/prod/sa/web;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as/mesh-db/load", "GET /probe/rotate?cmd=rotate-svid",
 "GET /as/mesh-db/load", "GET /fresh12/mesh-db/load"]
--- response_body eval
["backend: /load\n",
 "command: OK
new SVID served within 1 s: yes
connections: 20 or more
failed: 0
",
 "backend: /load\n", "backend: /load\n"]
--- timeout: 15
--- no_error_log
spiffe: peer X.509-SVID refused
spiffe: connection refused
spiffe: access forbidden
[error]
[crit]



=== TEST 16: rotate-ca keep-old while connections flow: the old CA's client still gets through, the new CA's SVID is served within 1 s, a client of the new CA gets through too; once a second rotation drops the old CA, its client is refused, its TLS session too
--- init
main::mint_mesh();
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        spiffe_allow spiffe://mesh.test/**;
        spiffe_allow spiffe://example.org/ns/prod/sa/web;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /probe/rotate?cmd=rotate-ca%20keep-old",
 "GET /fresh/mesh-db/old", "GET /as12/mesh-db/old",
 "GET /ctl/mint?arg=$main::MESH&arg=mesh-db",
 "GET /probe/raw?peer=mesh-db&send=GET%20/new%20HTTP/1.0||",
 "GET /probe/raw?peer=mesh-db&tls=1.2&send=GET%20/new%20HTTP/1.0||",
 "GET /ctl/rotate-ca/keep-old", "GET /probe/synced",
 "GET /as/mesh-db/oldest", "GET /as12/mesh-db/oldest",
 "GET /fresh/mesh-db/oldest",
 "GET /probe/raw?peer=mesh-db&send=GET%20/new%20HTTP/1.0||",
 "GET /as/good/x"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 502, 502, 502, 200, 200]
--- response_body_like eval
["^command: OK
new SVID served within 1 s: yes
connections: 20 or more
failed: 0
\\z",
 "^backend: /old\n\\z", "^backend: /old\n\\z", "^OK ",
 qr{\Ahandshake: yes\nreceived: HTTP/1\.1 200 OK\n.*\n\nbackend: /new\nclosed by the server: yes\n\z}s,
 qr{\Ahandshake: yes\nreceived: HTTP/1\.1 200 OK\n.*\n\nbackend: /new\nclosed by the server: yes\n\z}s,
 "^OK serial=", "^synced\n\\z",
 "502 Bad Gateway", "502 Bad Gateway", "502 Bad Gateway",
 qr{\Ahandshake: yes\nreceived: HTTP/1\.1 200 OK\n.*\n\nbackend: /new\nclosed by the server: yes\n\z}s,
 "^backend: /x\n\\z"]
--- timeout: 15
--- grep_error_log eval
qr/spiffe: .*? while (?:SSL handshaking|prereading client data)/
--- grep_error_log_out
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
spiffe: connection refused: no verified SPIFFE ID (FAILED:unable to get local issuer certificate) while prereading client data
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
spiffe: connection refused: no verified SPIFFE ID (FAILED:unable to get local issuer certificate) while prereading client data
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
spiffe: connection refused: no verified SPIFFE ID (FAILED:unable to get local issuer certificate) while prereading client data
--- no_error_log eval
[$main::ERROR_BUT_502, $main::CRIT_BUT_SHUTDOWN]



=== TEST 17: one identity source for both modules: an http server and a stream server serve the same SVID, from one Workload API stream per worker
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
<<'EOC' . main::backends() . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/https.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;
        return 200 "https: $spiffe_id\n";
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /ctl/rotate-svid?wait_ms=300", "GET /probe/one_source",
 "GET /as/good/"]
--- response_body_like eval
["^OK serial=", "^stream server: current SVID
http server: current SVID
Workload API streams: 1
\\z", "^backend: /\n\\z"]
--- timeout: 10
--- no_error_log
[error]
[crit]



=== TEST 18: a refused client that had already sent its first bytes: the refusal is logged at info, nothing at crit
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
["GET /as/good-dev/", "GET /probe/raw?peer=good-int&send=GET%20/%20HTTP/1.0||"]
--- error_code eval
[502, 200]
--- response_body_like eval
["502 Bad Gateway",
 qr{\Ahandshake: yes\nreceived: nothing\nclosed by the server: yes\n\z}]
--- error_log
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/dev/sa/web"
spiffe: access forbidden: no rule allows "spiffe://example.org/ns/prod/sa/api"
--- no_error_log eval
[$main::ERROR_BUT_502, "[crit]"]



=== TEST 19: the spiffe variables and rules in a stream TLS server when no server anywhere has spiffe_svid or spiffe_verify_client
--- main_config
spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;

stream {
    log_format spiffe '$spiffe_verify|$spiffe_id|$status';
    access_log logs/stream.log spiffe;

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_CERTS/nginx.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/nginx.key;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls2.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_CERTS/nginx.pem;
        ssl_certificate_key $TEST_NGINX_CERTS/nginx.key;
        spiffe_allow all;
        proxy_pass unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
    }
}
--- http_config eval
main::backends() . main::outer_upstreams()
--- config eval
main::outer_locations()
--- request eval
["GET /as/good/", "GET /probe/raw?sock=tls2.sock&peer=good",
 "GET /probe/log?n=2"]
--- response_body_like eval
["^backend: /\n\\z",
 qr{\Ahandshake: yes\nreceived: nothing\nclosed by the server: yes\n\z},
 "^NONE\\|-\\|200\nNONE\\|-\\|403\n\\z"]
--- error_log
spiffe: connection refused: no verified SPIFFE ID (NONE)
--- no_error_log
[error]
[crit]
