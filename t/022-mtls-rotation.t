# mTLS across changes of identity, live: the agent rotates nginx's SVID and
# its CA while requests flow; TLS sessions resume with the ID verified when
# they began, but never across a change of the peer's bundle (CA rotation,
# revocation) nor past the peer certificate's expiry.
#
# Layout as in t/020-mtls-verify.t: the TLS server under test is on
# unix:$TEST_NGINX_SERVROOT/logs/tls.sock, nginx's own /as/PEER/,
# /as12/PEER/, /as13/PEER/ (session reuse on, nginx's default) and
# /fresh/PEER/, /fresh12/PEER/ (reuse off) locations are the clients,
# /ctl/ drives the agent, /probe/ runs openssl and load from Perl: each
# block names them, SpiffeMTLS's outer_locations() and outer_upstreams().
#
# The agent's state outlives the blocks: each block that needs a client
# certificate from the current CA mints it again in --- init.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeMTLS qw(add_peer outer_locations outer_upstreams start_probe
                  start_load stop_load wait_served served_cert agent_cmd
                  cert_serial);
use Time::HiRes qw(sleep time);

our $SELF = 'spiffe://example.org/ns/edge/sa/nginx';
our $WEB = 'spiffe://example.org/ns/prod/sa/web';
our $API = 'spiffe://example.org/ns/prod/sa/api';

# waits for nginx are longer under valgrind (the runner's request timeouts
# are 10 times longer there), and so is the load of the rotation blocks;
# the 1 s in which a new SVID must be served is not
our $SLOW = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

our $agent = SpiffeAgent->start(spiffe_id => $SELF);
our $state = $agent->state_dir;

# c1, c2: clients from the current CA; short: one that expires soon
sub mint {
    my ($name, $id, @opt) = @_;
    $agent->control_ok("mint $id $name @opt");
}

mint('c1', $WEB);
mint('c2', $API);
mint('short', $WEB, 'ttl=' . 4 * $SLOW);
add_peer($_, "$state/$_.pem", "$state/$_.key") for qw(c1 c2 short);

start_probe(
    # run an agent command while clients keep requesting $WEB's page;
    # report whether the SVID the command made was served, how fast, and
    # whether any request failed
    rotate => sub {
        my (%q) = @_;
        start_load("SUCCESS|$WEB\n", '/fresh/c1/', '/fresh12/c1/',
                   '/as/c1/', '/as12/c1/');
        sleep 0.3 * $SLOW;
        my $reply = agent_cmd($q{cmd});
        my ($serial) = $reply =~ /\bserial=(\w+)/;
        my $took = defined $serial ? wait_served($serial, 3 * $SLOW) : undef;
        sleep 0.3 * $SLOW;
        my ($n, $bad, $first) = stop_load();

        my $out = "command: " . ($reply =~ /^OK/ ? 'OK' : $reply) . "\n"
                  . "new SVID served: " . (defined $took ? 'yes' : 'no')
                  . "\n" . "within 1 s: "
                  . (defined $took && $took < 1 ? 'yes'
                                                : 'no (' . ($took // '-') . ')')
                  . "\n";

        if ($q{ca}) {
            # issued by the agent's new root CA
            my ($leaf) = served_pem();
            $out .= "issued by the new CA: "
                    . (verify_pem($leaf, "$state/ca.pem") ? 'yes' : 'no')
                    . "\n";
        }

        return $out . "requests: " . ($n >= 20 ? '20 or more' : $n) . "\n"
               . "failed: $bad" . ($bad ? " (first: $first)" : '') . "\n";
    },

    # revoke a peer's certificate by its serial
    revoke => sub {
        my (%q) = @_;
        my $serial = cert_serial("$state/$q{peer}.pem");
        my $reply = agent_cmd("revoke $serial");
        return $reply =~ /^OK/ ? "revoked\n" : "$reply\n";
    },

    # wait until a peer's certificate has expired, and a second more
    expire => sub {
        my (%q) = @_;
        my $end = `openssl x509 -in $state/$q{peer}.pem -noout -enddate`;
        $end =~ /notAfter=(.*?)\s*GMT/ or return "no notAfter\n";
        (my $date = $1) =~ s/\s+/ /g;
        require Time::Piece;
        my $left = Time::Piece->strptime($date, '%b %d %H:%M:%S %Y')->epoch
                   - time + 1.1;
        sleep $left if $left > 0;
        return "expired\n";
    },

    # A TLS session of PEER is resumed (s_client -sess_in), and only then,
    # before the request is sent on it, the agent runs CMD; the body of
    # the answer to that request.
    resume_then => sub {
        my (%q) = @_;
        my $sess = "$state/$q{peer}.sess";
        my @cmd = ('openssl', 's_client', '-unix',
                   "$ENV{TEST_NGINX_SERVROOT}/logs/tls.sock",
                   '-cert', "$state/$q{peer}.pem",
                   '-key', "$state/$q{peer}.key",
                   $q{tls} eq '1.2' ? '-tls1_2' : '-tls1_3',
                   '-brief', '-ign_eof');
        my $req = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";

        unlink $sess;
        my $first = s_client([@cmd, '-sess_out', $sess], sub { $req });
        return "no session saved: $first" unless -s $sess;

        my $second = s_client([@cmd, '-sess_in', $sess], sub {
            my $reply = agent_cmd($q{cmd});
            my ($serial) = $reply =~ /\bserial=(\w+)/;
            return undef unless defined $serial
                                && defined wait_served($serial,
                                                       3 * $SLOW);
            return $req;
        });
        return "first: $first" . "then: $second";
    },

    # a request from client PEER, issued now for ID if given
    client => sub {
        my (%q) = @_;
        if (defined $q{id}) {
            my $reply = agent_cmd("mint $q{id} $q{peer}");
            return "$reply\n" unless $reply =~ /^OK/;
        }
        return s_client(['openssl', 's_client', '-unix',
                         "$ENV{TEST_NGINX_SERVROOT}/logs/tls.sock",
                         '-cert', "$state/$q{peer}.pem",
                         '-key', "$state/$q{peer}.key", '-tls1_3', '-brief',
                         '-ign_eof'],
                        sub { "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" });
    },

    # the URI SAN of the certificate served
    served => sub {
        my (undef, $uri) = served_cert();
        return ($uri // 'nothing') . "\n";
    },
);

# s_client(\@cmd, $between): runs it, waits until its handshake is done,
# then writes what $between returns (undef: gives up) and answers with the
# HTTP body it reads, or why there is none
sub s_client {
    my ($cmd, $between) = @_;
    require IPC::Open3;
    require Symbol;
    my $err = Symbol::gensym();
    my $pid = IPC::Open3::open3(my $in, my $out, $err, @$cmd);
    my $done;
    while (my $line = <$err>) {
        if ($line =~ /^CONNECTION ESTABLISHED/) {
            $done = 1;
            last;
        }
    }
    my $res = "no handshake\n";
    if ($done) {
        # let the server take in the client's Finished
        sleep 0.1 * $SLOW;
        my $req = $between->();
        if (defined $req) {
            print {$in} $req;
            close $in;
            local $/;
            my $http = <$out> // '';
            $res = $http =~ m{^HTTP/1\.1 (\d+).*?\r\n\r\n(.*)\z}s
                   ? "$1 $2" : "no HTTP answer\n";
        } else {
            $res = "the agent's change was not served\n";
        }
    }
    kill 'TERM', $pid;
    waitpid($pid, 0);
    return $res;
}

# the leaf served on the TLS socket, PEM
sub served_pem {
    my $out = `openssl s_client -unix $ENV{TEST_NGINX_SERVROOT}/logs/tls.sock -tls1_3 </dev/null 2>/dev/null`;
    return $out =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n)/s;
}

sub verify_pem {
    my ($pem, $ca) = @_;
    return 0 unless defined $pem;
    my $file = "$state/served.pem";
    open my $fh, '>', $file or return 0;
    print {$fh} $pem;
    close $fh;
    return `openssl verify -CAfile $ca $file 2>&1` =~ /: OK$/m;
}

log_level('info');

run_tests();

__DATA__

=== TEST 1: rotate-svid while requests flow: none fails, the new SVID is served within 1 s
--- init
main::mint('c1', $main::WEB);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify|$spiffe_id\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/c1/", "GET /probe/rotate?cmd=rotate-svid", "GET /as/c1/",
 "GET /fresh12/c1/"]
--- response_body eval
["SUCCESS|$main::WEB\n",
 "command: OK
new SVID served: yes
within 1 s: yes
requests: 20 or more
failed: 0
",
 "SUCCESS|$main::WEB\n", "SUCCESS|$main::WEB\n"]
--- timeout: 10
--- no_error_log
spiffe: peer X.509-SVID refused
spiffe: client
[error]
[crit]



=== TEST 2: rotate-ca keep-old while requests flow: clients of the old CA still verify, the new CA's too; a second rotation drops the first CA and refuses its clients only
# The bundle goes CA1 -> CA2+CA1 -> CA3+CA2: c1 is from CA1, c3 from CA2.
# This block can fail intermittently through the bug TEST 8 shows
# deterministically: a session resumed just before the bundle changes.
--- init
main::mint('c1', $main::WEB);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify|$spiffe_id\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /probe/rotate?cmd=rotate-ca%20keep-old&ca=1", "GET /as/c1/",
 "GET /probe/client?peer=c3&id=$main::API",
 "GET /ctl/rotate-ca/keep-old", "GET /probe/sync",
 "GET /as/c1/", "GET /fresh12/c1/",
 "GET /probe/client?peer=c3"]
--- error_code eval
[200, 200, 200, 200, 200, 400, 400, 200]
--- response_body_like eval
["^command: OK
new SVID served: yes
within 1 s: yes
issued by the new CA: yes
requests: 20 or more
failed: 0
\\z",
 "^SUCCESS\\|\Q$main::WEB\E\n\\z",
 "^200 SUCCESS\\|\Q$main::API\E\n\\z",
 "^OK serial=\\w+ ca=\\w+\n\\z",
 "^synced\n\\z",
 "400 The SSL certificate error",
 "400 The SSL certificate error",
 "^200 SUCCESS\\|\Q$main::API\E\n\\z"]
--- timeout: 10
--- grep_error_log eval
qr/spiffe: (?:peer X\.509-SVID refused: .*? while SSL handshaking|client SVID refused \(.*?\))/
--- grep_error_log_out
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
spiffe: client SVID refused (FAILED:unable to get local issuer certificate)
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
spiffe: client SVID refused (FAILED:unable to get local issuer certificate)
--- no_error_log
[error]
[crit]



=== TEST 3: session tickets (TLS 1.3, 1.2): resumed with the same ID; after a CA rotation a full handshake verifies again; once the peer's CA left the bundle its session is not resumed
--- init
main::mint('c1', $main::WEB);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$ssl_session_reused|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as13/c1/", "GET /as13/c1/", "GET /as12/c1/", "GET /as12/c1/",
 "GET /ctl/rotate-ca/keep-old", "GET /probe/sync",
 "GET /as13/c1/", "GET /as13/c1/", "GET /as12/c1/", "GET /as12/c1/",
 "GET /ctl/rotate-ca/keep-old", "GET /probe/sync",
 "GET /as13/c1/", "GET /as12/c1/"]
--- response_body_like eval
["^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.2\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.2\n\\z",
 "^OK serial=", "^synced\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.2\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.2\n\\z",
 "^OK serial=", "^synced\n\\z",
 "^FAILED:unable to get local issuer certificate\\|\\|\\.\\|TLSv1\\.3\n\\z",
 "^FAILED:unable to get local issuer certificate\\|\\|\\.\\|TLSv1\\.2\n\\z"]
--- grep_error_log eval
qr/spiffe: peer X\.509-SVID refused: .*? while SSL handshaking/
--- grep_error_log_out
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
--- no_error_log
[error]
[crit]



=== TEST 4: the same through the shared session cache, tickets off (TLS 1.2 session IDs, TLS 1.3 stateful tickets)
--- init
main::mint('c1', $main::WEB);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:1m;
        ssl_session_tickets off;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$ssl_session_reused|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as13/c1/", "GET /as13/c1/", "GET /as12/c1/", "GET /as12/c1/",
 "GET /ctl/rotate-ca/keep-old", "GET /probe/sync",
 "GET /as13/c1/", "GET /as13/c1/", "GET /as12/c1/", "GET /as12/c1/",
 "GET /ctl/rotate-ca/keep-old", "GET /probe/sync",
 "GET /as13/c1/", "GET /as12/c1/"]
--- response_body_like eval
["^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.2\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.2\n\\z",
 "^OK serial=", "^synced\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.2\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.2\n\\z",
 "^OK serial=", "^synced\n\\z",
 "^FAILED:unable to get local issuer certificate\\|\\|\\.\\|TLSv1\\.3\n\\z",
 "^FAILED:unable to get local issuer certificate\\|\\|\\.\\|TLSv1\\.2\n\\z"]
--- grep_error_log eval
qr/spiffe: peer X\.509-SVID refused: .*? while SSL handshaking/
--- grep_error_log_out
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
--- no_error_log
[error]
[crit]



=== TEST 5: a revoked client's session is not resumed: the full handshake refuses it; another client is not affected
--- init
main::mint('c1', $main::WEB);
main::mint('c2', $main::API);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$ssl_session_reused|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as13/c1/", "GET /as13/c1/", "GET /as12/c1/", "GET /as12/c1/",
 "GET /probe/revoke?peer=c1", "GET /ctl/rotate-svid", "GET /probe/sync",
 "GET /as13/c1/", "GET /as12/c1/", "GET /as13/c2/", "GET /as13/c2/"]
--- response_body_like eval
["^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|\\.\\|TLSv1\\.2\n\\z",
 "^SUCCESS\\|\Q$main::WEB\E\\|r\\|TLSv1\\.2\n\\z",
 "^revoked\n\\z", "^OK serial=", "^synced\n\\z",
 "^FAILED:revoked\\|\\|\\.\\|TLSv1\\.3\n\\z",
 "^FAILED:revoked\\|\\|\\.\\|TLSv1\\.2\n\\z",
 "^SUCCESS\\|\Q$main::API\E\\|\\.\\|TLSv1\\.3\n\\z",
 "^SUCCESS\\|\Q$main::API\E\\|r\\|TLSv1\\.3\n\\z"]
--- grep_error_log eval
qr/spiffe: peer X\.509-SVID refused: .*? while SSL handshaking/
--- grep_error_log_out
spiffe: peer X.509-SVID refused: revoked while SSL handshaking
spiffe: peer X.509-SVID refused: revoked while SSL handshaking
--- no_error_log
[error]
[crit]



=== TEST 6: a session is not resumed past its peer certificate's expiry
# the peer's certificate must outlive nginx's start and four requests
--- init
main::mint('short', $main::WEB, 'ttl=' . 4 * $main::SLOW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$ssl_session_reused|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as13/short/", "GET /as13/short/", "GET /as12/short/",
 "GET /as12/short/", "GET /probe/expire?peer=short",
 "GET /as13/short/", "GET /as12/short/"]
--- response_body eval
["SUCCESS|$main::WEB|.|TLSv1.3\n", "SUCCESS|$main::WEB|r|TLSv1.3\n",
 "SUCCESS|$main::WEB|.|TLSv1.2\n", "SUCCESS|$main::WEB|r|TLSv1.2\n",
 "expired\n",
 "FAILED:certificate has expired||.|TLSv1.3\n",
 "FAILED:certificate has expired||.|TLSv1.2\n"]
--- timeout: 10
--- grep_error_log eval
qr/spiffe: peer X\.509-SVID refused: .*? while SSL handshaking/
--- grep_error_log_out
spiffe: peer X.509-SVID refused: certificate has expired while SSL handshaking
spiffe: peer X.509-SVID refused: certificate has expired while SSL handshaking
--- no_error_log
[error]
[crit]



=== TEST 7: the SVID rotates to a new ID: served at once, and $spiffe_svid_id and $spiffe_xfcc say so
--- init
main::mint('c1', $main::WEB);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_svid_id|$spiffe_xfcc\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /as/c1/", "GET /probe/served",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/ns/edge/sa/nginx-2",
 "GET /probe/sync", "GET /probe/served", "GET /as/c1/"]
--- response_body_like eval
["^\Q$main::SELF|By=$main::SELF;Hash=\E[0-9a-f]{64}\Q;URI=$main::WEB\E\n\\z",
 "^\Q$main::SELF\E\n\\z",
 "^OK serial=\\w+ id=spiffe://example.org/ns/edge/sa/nginx-2\n\\z",
 "^synced\n\\z",
 "^spiffe://example.org/ns/edge/sa/nginx-2\n\\z",
 "^spiffe://example.org/ns/edge/sa/nginx-2\\|By=spiffe://example.org/ns/edge/sa/nginx-2;Hash=[0-9a-f]{64}\Q;URI=$main::WEB\E\n\\z"]
--- no_error_log
spiffe: peer X.509-SVID refused
spiffe: client
[error]
[crit]



=== TEST 8: a session resumed before a CA rotation (keep-old) keeps its verified ID for the request sent after it
# The session is judged once, at the handshake, as a full handshake is: a
# bundle change between the handshake and the first request does not
# concern it.
--- init
main::mint('c1', $main::WEB);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_upstreams()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;

        location / {
            return 200 "$spiffe_verify|$spiffe_id|$ssl_session_reused|$ssl_protocol\n";
        }
    }
EOC
--- config eval
main::outer_locations()
--- request eval
["GET /probe/resume_then?peer=c1&tls=1.3&cmd=rotate-ca%20keep-old",
 "GET /probe/resume_then?peer=c1&tls=1.2&cmd=rotate-ca%20keep-old"]
--- response_body eval
["first: 200 SUCCESS|$main::WEB|.|TLSv1.3\nthen: 200 SUCCESS|$main::WEB|r|TLSv1.3\n",
 "first: 200 SUCCESS|$main::WEB|.|TLSv1.2\nthen: 200 SUCCESS|$main::WEB|r|TLSv1.2\n"]
--- timeout: 10
--- no_error_log
spiffe: peer X.509-SVID refused
[error]
[crit]
