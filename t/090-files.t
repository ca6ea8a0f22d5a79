# SVIDs and bundles from files: spiffe_svid_dir reads what tbot's
# workload-identity-x509 output (or spiffe-helper) writes, spiffe_bundle a
# static bundle of a trust domain, PEM or SPIFFE JWKS; both are watched.
#
# The test agent is only a CA here (except where a block says
# spiffe_workload_api): publish() copies its SVID into $SVID_DIR the way
# tbot writes it: the key, then the certificate, then the bundle, each in
# place (truncated, then written), with a pause in between if asked.
#
# Layout as in t/020-mtls-verify.t: the TLS server under test is on
# unix:$TEST_NGINX_SERVROOT/logs/tls.sock; nginx's own /as/PEER/ and
# /fresh/PEER/ locations are its clients; /probe/ runs Perl next to the
# test: publishing files, load while they change, the serial served.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use File::Copy qw(copy);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use SpiffeAgent;
use SpiffeMTLS qw(add_peer outer_upstreams outer_locations slurp
                  wait_lines start_probe start_load stop_load wait_served
                  served_cert agent_cmd cert_serial);
use POSIX ();
use Time::HiRes qw(sleep time);

our $SELF = 'spiffe://example.org/ns/edge/sa/nginx';
our $WEB = 'spiffe://example.org/ns/prod/sa/web';
our $API = 'spiffe://example.org/ns/prod/sa/api';
our $OTHER = 'spiffe://other.org/ns/prod/sa/db';

# under valgrind, nginx answers a few requests a second
our $MIN_REQUESTS = $ENV{TEST_NGINX_USE_VALGRIND} ? 3 : 20;

our $agent = SpiffeAgent->start(spiffe_id => $SELF);
our $state = $agent->state_dir;

our $SVID_DIR = tempdir('spiffe-svid-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $SVID_DIR;
$ENV{TEST_NGINX_SVID_DIR} = $SVID_DIR;

# the other trust domain and its bundle file
our $BUNDLE_DIR = tempdir('spiffe-bundle-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $BUNDLE_DIR;
$ENV{TEST_NGINX_BUNDLE_DIR} = $BUNDLE_DIR;

sub mint {
    my ($name, $id, @opt) = @_;
    $agent->control_ok("mint $id $name @opt");
    add_peer($name, "$state/$name.pem", "$state/$name.key");
}

mint('c1', $WEB);
mint('c2', $API);

# peers of other.org; blocks mint them again from the CA they need
$agent->control_ok('new-td other.org');
mint('o1', $OTHER, 'ca=other.org');
mint('o2', $OTHER, 'ca=other.org');

# write in place, as tbot does: truncate, then write (a FIFO is replaced)
sub put {
    my ($file, $text) = @_;
    unlink $file if -p $file;
    open my $fh, '>', $file or die "$file: $!";
    print {$fh} $text;
    close $fh or die "$file: $!";
}

# publish(key => NAME, cert => NAME, bundle => NAME, pause => S,
#         from => PREFIX): the agent's current SVID (or the minted PREFIX
# with its CA's bundle) into $SVID_DIR, key first
sub publish {
    my (%o) = @_;
    my ($cert, $key) = defined $o{from}
        ? ("$state/$o{from}.pem", "$state/$o{from}.key")
        : ("$state/svid.pem", "$state/svid_key.pem");
    put("$SVID_DIR/" . ($o{key} // 'svid_key.pem'), slurp($key));
    sleep $o{pause} if $o{pause};
    put("$SVID_DIR/" . ($o{cert} // 'svid.pem'), slurp($cert));
    sleep $o{pause} if $o{pause};
    put("$SVID_DIR/" . ($o{bundle} // 'svid_bundle.pem'),
        slurp("$state/bundle.pem"));
}

sub clear_dir {
    remove_tree($SVID_DIR, { keep_root => 1 });
}

start_probe(
    # an agent command, then its SVID published in tbot's order with
    # pauses, while clients keep requesting; whether the new SVID was
    # served and whether any request failed
    tbot => sub {
        my (%q) = @_;
        start_load("SUCCESS|$WEB\n", '/fresh/c1/', '/as/c1/');
        sleep 0.3;
        my $reply = agent_cmd($q{cmd});
        publish(pause => $q{pause} / 1000);
        my $took = wait_served(cert_serial("$state/svid.pem"), 3);
        sleep 0.3;
        my ($n, $bad, $first) = stop_load();
        return "command: " . ($reply =~ /^OK/ ? 'OK' : $reply) . "\n"
               . "new SVID served: " . (defined $took ? 'yes' : 'no') . "\n"
               . "requests: " . ($n >= $MIN_REQUESTS ? 'enough' : $n) . "\n"
               . "failed: $bad" . ($bad ? " (first: $first)" : '') . "\n";
    },

    # publish the agent's SVID (after CMD) and wait until it is served
    publish => sub {
        my (%q) = @_;
        agent_cmd($q{cmd}) if defined $q{cmd};
        publish(from => $q{from});
        my $serial = cert_serial("$SVID_DIR/svid.pem");
        return defined wait_served($serial, 3) ? "served\n"
                                               : "not served\n";
    },

    # damage one file of $SVID_DIR: garbage, a directory, a foreign key
    damage => sub {
        my (%q) = @_;
        my $file = "$SVID_DIR/$q{file}";
        if ($q{how} eq 'garbage') {
            put($file, "-----BEGIN CERTIFICATE-----\nnot base64\n");
        } elsif ($q{how} eq 'dir') {
            unlink $file;
            mkdir $file;
        } elsif ($q{how} eq 'fifo') {
            unlink $file;
            POSIX::mkfifo($file, 0644) or return "mkfifo: $!\n";
        } elsif ($q{how} eq 'key') {
            put($file, slurp("$state/$q{from}.key"));
        }
        # long enough for several intervals of 200 ms
        sleep 1.2;
        return "damaged\n";
    },

    # whether the served certificate is the one of the files now, or the
    # agent's SVID of serial S
    served => sub {
        my (%q) = @_;
        my ($serial) = served_cert();
        my $want = cert_serial($q{of} eq 'files' ? "$SVID_DIR/svid.pem"
                                                 : "$state/svid.pem");
        return !defined $serial ? "nothing served\n"
               : $serial eq $want ? "the same\n" : "another: $serial\n";
    },

    # the served serial, to compare later
    serial => sub {
        my ($serial) = served_cert();
        return ($serial // 'none') . "\n";
    },


    # write the bundle file of other.org: the CA of PREFIX's trust domain
    bundle => sub {
        my (%q) = @_;
        if (($q{how} // '') eq 'garbage') {
            put("$BUNDLE_DIR/other.pem", "garbage\n");
        } else {
            copy($q{from}, "$BUNDLE_DIR/other.pem") or return "copy: $!\n";
        }
        return "written\n";
    },
);

log_level('info');

# nginx's own clients of the TLS server under test (SpiffeMTLS): an
# upstream and a location /as/PEER/, /fresh/PEER/, ... for each peer
# minted above, /nocert/, /ctl/ and /probe/.  Every block that starts nginx
# names them: --- http_config eval: $::TLS . $::OUTER_UPSTREAMS and
# --- config eval: $::OUTER_LOCATIONS (after its own locations).
our $OUTER_UPSTREAMS = outer_upstreams();
our $OUTER_LOCATIONS = outer_locations();

# the TLS server under test
our $TLS = <<'END';
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_verify|$spiffe_id\n";
        }
    }
END

run_tests();

__DATA__

=== TEST 1: the SVID of tbot's files is served and the client verified against svid_bundle.pem
--- init
main::clear_dir(); main::publish();
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /as/c1/", "GET /fresh/c2/", "GET /probe/served?of=files"]
--- response_body eval
["SUCCESS|$::WEB\n", "SUCCESS|$::API\n", "the same\n"]
--- error_log eval
qr{\[info\] .*spiffe: SVID "spiffe://example\.org/ns/edge/sa/nginx" serial \w+ from "/\S+", version 1$}m
--- no_error_log
[warn]
Workload API
[error]
[crit]



=== TEST 2: the other names: svid.key and bundle.pem
--- init
main::clear_dir(); main::publish(key => 'svid.key', bundle => 'bundle.pem');
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /as/c1/", "GET /probe/served?of=files"]
--- response_body eval
["SUCCESS|$::WEB\n", "the same\n"]
--- no_error_log
[warn]
[error]
[crit]



=== TEST 3: names of one's own: cert=, key=, bundle=, an absolute one too
--- init
main::clear_dir();
main::publish(cert => 'tls.crt', key => 'tls.key', bundle => 'ca.crt');
--- main_config eval
"spiffe_svid_dir $::SVID_DIR cert=tls.crt key=tls.key bundle=$::SVID_DIR/ca.crt interval=200ms;"
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /as/c1/"]
--- response_body eval
["SUCCESS|$::WEB\n"]
--- no_error_log
[warn]
[error]
[crit]



=== TEST 4: tbot rotates: key, certificate, bundle written in place with pauses; no request fails, the new SVID is served
--- init
main::clear_dir(); main::publish();
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/tbot?cmd=rotate-svid&pause=500", "GET /as/c1/"]
--- response_body eval
["command: OK
new SVID served: yes
requests: enough
failed: 0
", "SUCCESS|$::WEB\n"]
--- timeout: 10
--- error_log eval
qr{\[(?:info|notice)\] .*spiffe: SVID "\Q$::SELF\E" serial \w+ from "/\S+", version 2$}m
--- no_error_log
[error]
[crit]



=== TEST 5: tbot after a CA rotation: the new certificate waits for its bundle; no request fails
# Between the certificate and the bundle the new SVID does not chain to
# the bundle on disk: it is not used until the bundle comes.  Whether a
# half-written set stays long enough to be tried (and logged) depends on
# timing; that it is never served does not.
--- init
main::clear_dir(); main::publish();
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/tbot?cmd=rotate-ca%20keep-old&pause=500", "GET /as/c1/"]
--- response_body eval
["command: OK
new SVID served: yes
requests: enough
failed: 0
", "SUCCESS|$::WEB\n"]
--- timeout: 10
--- grep_error_log eval
qr/spiffe: SVID files in "[^"]+" not used: [^;]+; keeping the last good set/
--- grep_error_log_out eval
qr/\A(?:spiffe: SVID files in "[^"]+" not used: (?:private key does not match the certificate|unable to get local issuer certificate|[^;\n]+); keeping the last good set\n){0,2}\z/
--- no_error_log
[error]
[crit]



=== TEST 6: no files at start: logged once, handshakes refused; the files come and are served without a reload
--- init
main::clear_dir();
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /as/c1/", "GET /probe/sleep?ms=1000", "GET /probe/publish",
 "GET /as/c1/"]
--- error_code eval
[502, 200, 200, 200]
--- response_body_like eval
["", "slept", "served", "SUCCESS\\|\Q$::WEB\E"]
--- grep_error_log eval
qr/\[(?:error|warn|notice|info)\] .*spiffe: SVID (?:files in "[^"]+" not used: .*|"[^"]+" serial \w+ from)/
--- grep_error_log_out eval
qr{\A\[error\] .*spiffe: SVID files in "[^"]+" not used: "[^"]+/svid\.pem": no such file\n\[notice\] .*spiffe: SVID "\Q$::SELF\E" serial \w+ from\n\z}
--- no_error_log
[crit]



=== TEST 7: a garbage certificate is logged once and survived; the next good set is served
--- init
main::clear_dir(); main::publish();
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/serial", "GET /probe/damage?file=svid.pem&how=garbage",
 "GET /as/c1/", "GET /fresh/c1/", "GET /probe/log?re=not%20used&n=2&secs=1",
 "GET /probe/publish?cmd=rotate-svid", "GET /fresh/c1/"]
--- response_body_like eval
["^[0-9a-f]+\n\\z", "damaged", "SUCCESS\\|\Q$::WEB\E",
 "SUCCESS\\|\Q$::WEB\E", "^1\n\\z", "served", "SUCCESS\\|\Q$::WEB\E"]
--- error_log eval
[qr{\[warn\] .*spiffe: SVID files in "[^"]+" not used: "[^"]+/svid\.pem": bad PEM; keeping the last good set},
 qr{\[notice\] .*spiffe: SVID "\Q$::SELF\E" serial \w+ from "[^"]+", version 2$}m]
--- no_error_log
[error]
[crit]



=== TEST 8: a key that does not match the certificate, left there: logged once, the last good set stays
--- init
main::clear_dir(); main::publish(); main::mint('other', $::WEB);
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/damage?file=svid_key.pem&how=key&from=other",
 "GET /probe/served?of=agent", "GET /fresh/c1/",
 "GET /probe/log?re=not%20used&n=2&secs=1"]
--- response_body eval
["damaged\n", "the same\n", "SUCCESS|$::WEB\n", "1\n"]
--- error_log eval
qr{\[warn\] .*spiffe: SVID files in "[^"]+" not used: private key does not match the certificate; keeping the last good set}
--- no_error_log
[error]
[crit]



=== TEST 9: a key that cannot be read (a directory in its place): logged once, the last good set stays
--- init
main::clear_dir(); main::publish();
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/damage?file=svid_key.pem&how=dir", "GET /fresh/c1/",
 "GET /probe/log?re=not%20used&n=2&secs=1"]
--- response_body eval
["damaged\n", "SUCCESS|$::WEB\n", "1\n"]
--- error_log eval
qr{\[warn\] .*spiffe: SVID files in "[^"]+" not used: "[^"]+/svid_key\.pem": not a regular file; keeping the last good set}
--- no_error_log
[error]
[crit]



=== TEST 10: a FIFO in place of the certificate: never opened blocking, logged once, the last good set stays until the file is back
# opening a FIFO for reading waits for a writer: a worker that did would
# serve nobody from then on, even after the file is back
--- init
main::clear_dir(); main::publish();
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /probe/damage?file=svid.pem&how=fifo", "GET /fresh/c1/",
 "GET /probe/log?re=not%20used&n=2&secs=1", "GET /probe/served?of=agent",
 "GET /probe/publish?cmd=rotate-svid", "GET /fresh/c1/"]
--- response_body eval
["damaged\n", "SUCCESS|$::WEB\n", "1\n", "the same\n", "served\n",
 "SUCCESS|$::WEB\n"]
--- error_log eval
[qr{\[warn\] .*spiffe: SVID files in "[^"]+" not used: "[^"]+/svid\.pem": not a regular file; keeping the last good set},
 qr{\[notice\] .*spiffe: SVID "\Q$::SELF\E" serial \w+ from "[^"]+", version 2$}m]
--- no_error_log
[error]
[crit]



=== TEST 11: an expired SVID in the files is not served
--- init
main::clear_dir(); main::mint('old', $::SELF, 'ttl=1'); sleep 2;
main::publish(from => 'old');
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /as/c1/", "GET /probe/served?of=files"]
--- error_code eval
[502, 200]
--- response_body_like eval
["", "nothing served"]
--- error_log eval
qr{\[error\] .*spiffe: SVID files in "[^"]+" not used: .*expired}
--- no_error_log
[crit]



=== TEST 12: svid_crl.pem: a revoked client is refused
--- init
main::clear_dir(); main::mint('c2', $::API);
$::agent->control_ok("revoke " . SpiffeMTLS::cert_serial("$::state/c2.pem"));
main::publish();
File::Copy::copy("$::state/crl.pem", "$::SVID_DIR/svid_crl.pem") or die;
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /as/c1/", "GET /fresh/c2/"]
--- error_code eval
[200, 400]
--- response_body_like eval
["SUCCESS\\|\Q$::WEB\E", "certificate"]
--- error_log eval
qr{spiffe: peer X\.509-SVID refused: .*revoked.* while SSL handshaking}
--- no_error_log
[error]
[crit]



=== TEST 13: the status page in files mode
--- init
main::clear_dir(); $::agent->control_ok("crl off"); main::publish();
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval
<<'EOC' . $::OUTER_LOCATIONS
    location = /status {
        spiffe_status json;
    }
EOC
--- request
GET /status
--- response_body_like eval
qr{"id": ?"\Q$::SELF\E".*"state": ?"loaded"}s
--- no_error_log
[error]
[crit]



=== TEST 14: SPIFFE_ENDPOINT_SOCKET in the environment: spiffe_svid_dir wins
--- init
main::clear_dir(); main::publish();
$ENV{SPIFFE_ENDPOINT_SOCKET} = "unix:$ENV{TEST_NGINX_AGENT_SOCKET}";
--- main_config
    spiffe_svid_dir $TEST_NGINX_SVID_DIR interval=200ms;
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /as/c1/"]
--- response_body eval
["SUCCESS|$::WEB\n"]
--- error_log eval
qr{spiffe: SVID "\Q$::SELF\E" serial \w+ from "/}
--- no_error_log
Workload API
FetchX509SVID
[error]
[crit]



=== TEST 15: spiffe_bundle PEM: a peer of another trust domain is verified against that file only
--- init
delete $ENV{SPIFFE_ENDPOINT_SOCKET};
main::clear_dir(); main::publish();
$::agent->control_ok('new-td other.org');
$::agent->control_ok("mint $::OTHER o1 ca=other.org");
File::Copy::copy("$::state/other.org/ca.pem", "$::BUNDLE_DIR/other.pem") or die;
--- main_config eval
"spiffe_svid_dir $::SVID_DIR interval=200ms;
 spiffe_bundle other.org $::BUNDLE_DIR/other.pem;"
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /as/o1/", "GET /as/c1/"]
--- response_body eval
["SUCCESS|$::OTHER\n", "SUCCESS|$::WEB\n"]
--- error_log eval
qr{\[info\] .*spiffe: bundle of "other\.org" from "[^"]+/other\.pem": 1 X\.509 authorities, 0 JWT authorities}
--- no_error_log
[error]
[crit]



=== TEST 16: spiffe_bundle changes: garbage is logged once and the last good bundle stays; a new CA replaces the old one
--- init
main::clear_dir(); main::publish();
$::agent->control_ok('new-td other.org');
$::agent->control_ok("mint $::OTHER o1 ca=other.org");
File::Copy::copy("$::state/other.org/ca.pem", "$::BUNDLE_DIR/other.pem") or die;
File::Copy::copy("$::state/other.org/ca.pem", "$::BUNDLE_DIR/old.pem") or die;
$::agent->control_ok('new-td other.org');
$::agent->control_ok("mint $::OTHER o2 ca=other.org");
--- main_config eval
"spiffe_svid_dir $::SVID_DIR interval=200ms;
 spiffe_bundle spiffe://other.org $::BUNDLE_DIR/other.pem;"
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /fresh/o1/", "GET /fresh/o2/",
 "GET /probe/bundle?how=garbage",
 "GET /probe/log?re=bundle%20of.*not%20used&n=1&secs=12",
 "GET /fresh/o1/",
 "GET /probe/bundle?from=$::state/other.org/ca.pem",
 "GET /probe/log?re=bundle%20of.*from&n=2&secs=12",
 "GET /fresh/o1/", "GET /fresh/o2/"]
--- error_code eval
[200, 400, 200, 200, 200, 200, 200, 400, 200]
--- response_body_like eval
["SUCCESS\\|\Q$::OTHER\E", "certificate", "written", "^1\n\\z",
 "SUCCESS\\|\Q$::OTHER\E", "written", "^2\n\\z", "certificate",
 "SUCCESS\\|\Q$::OTHER\E"]
--- timeout: 15
--- error_log eval
[qr{\[warn\] .*spiffe: bundle of "other\.org" not used: "[^"]+/other\.pem": no certificate; keeping the last good one},
 qr{\[notice\] .*spiffe: bundle of "other\.org" from "[^"]+/other\.pem": 1 X\.509 authorities}]
--- no_error_log
[error]
[crit]



=== TEST 17: spiffe_bundle wins over the Workload API for its trust domain
# The agent federates other.org with its current CA; the file has the
# previous one: only the file's peers are verified.
--- init
$::agent->control_ok('new-td other.org');
$::agent->control_ok("mint $::OTHER o1 ca=other.org");
File::Copy::copy("$::state/other.org/ca.pem", "$::BUNDLE_DIR/other.pem") or die;
$::agent->control_ok('new-td other.org');
$::agent->control_ok("mint $::OTHER o2 ca=other.org");
$::agent->control_ok('federate other.org');
--- main_config eval
"spiffe_workload_api unix:$ENV{TEST_NGINX_AGENT_SOCKET};
 spiffe_bundle other.org $::BUNDLE_DIR/other.pem;"
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval: $::OUTER_LOCATIONS
--- request eval
["GET /fresh/o1/", "GET /fresh/o2/", "GET /fresh/c1/"]
--- error_code eval
[200, 400, 200]
--- response_body_like eval
["SUCCESS\\|\Q$::OTHER\E", "certificate", "SUCCESS\\|\Q$::WEB\E"]
--- error_log eval
qr{spiffe: peer X\.509-SVID refused: .*while SSL handshaking}
--- no_error_log
[error]
[crit]



=== TEST 18: spiffe_bundle as SPIFFE JWKS: X.509 and JWT authorities, with SVIDs from files
--- init
$::agent->control_ok('unfederate other.org');
main::clear_dir(); main::publish();
$::agent->control_ok('new-td other.org');
$::agent->control_ok('federate other.org');
$::agent->control_ok("mint $::OTHER o1 ca=other.org");
File::Copy::copy("$::state/jwks/other.org.json", "$::BUNDLE_DIR/other.json") or die;
$ENV{TEST_NGINX_JWT} = $::agent->mint_jwt($::OTHER, 'api', td => 'other.org');
--- main_config eval
"spiffe_svid_dir $::SVID_DIR interval=200ms;
 spiffe_bundle other.org $::BUNDLE_DIR/other.json;"
--- http_config eval: $::TLS . $::OUTER_UPSTREAMS
--- config eval
<<'EOC' . $::OUTER_LOCATIONS
    location = /jwt {
        spiffe_jwt on;
        spiffe_jwt_audience api;
        return 200 "$spiffe_jwt_verify|$spiffe_jwt_id\n";
    }
EOC
--- request eval
["GET /as/o1/", "GET /jwt"]
--- more_headers eval
["", 'Authorization: Bearer $TEST_NGINX_JWT']
--- response_body eval
["SUCCESS|$::OTHER\n", "SUCCESS|$::OTHER\n"]
--- error_log eval
qr{spiffe: bundle of "other\.org" from "[^"]+/other\.json": 1 X\.509 authorities, 1 JWT authorities}
--- no_error_log
[error]
[crit]



=== TEST 19: config: spiffe_svid_dir after spiffe_workload_api
--- main_config eval
"spiffe_workload_api unix:/tmp/none.sock;
 spiffe_svid_dir $::SVID_DIR;"
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid_dir" directive cannot be used with "spiffe_workload_api" in \S+nginx\.conf:\d+}



=== TEST 20: config: spiffe_workload_api after spiffe_svid_dir
--- main_config eval
"spiffe_svid_dir $::SVID_DIR;
 spiffe_workload_api unix:/tmp/none.sock;"
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_workload_api" directive cannot be used with "spiffe_svid_dir" in \S+nginx\.conf:\d+}



=== TEST 21: config: spiffe_svid_dir twice
--- main_config eval
"spiffe_svid_dir $::SVID_DIR;
 spiffe_svid_dir $::SVID_DIR;"
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_svid_dir" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 22: config: a bad interval
--- main_config eval
"spiffe_svid_dir $::SVID_DIR interval=soon;"
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid interval "soon" in "spiffe_svid_dir" in \S+nginx\.conf:\d+}



=== TEST 23: config: an unknown parameter, an empty name
--- main_config eval
"spiffe_svid_dir $::SVID_DIR cert=;"
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "cert=" in "spiffe_svid_dir" in \S+nginx\.conf:\d+}



=== TEST 24: config: spiffe_jwt_svid_audience needs the Workload API
--- main_config eval
"spiffe_svid_dir $::SVID_DIR;"
--- config
    location = /t {
        spiffe_jwt_svid_audience backend;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_jwt_svid_audience" needs the Workload API: "spiffe_workload_api" or SPIFFE_ENDPOINT_SOCKET in \S+nginx\.conf:\d+}



=== TEST 25: config: spiffe_bundle of a missing file
--- main_config eval
"spiffe_svid_dir $::SVID_DIR;
 spiffe_bundle other.org $::BUNDLE_DIR/none.pem;"
--- must_die
--- error_log eval
qr{\[emerg\] .*bundle "[^"]+/none\.pem": no such file in \S+nginx\.conf:\d+}



=== TEST 26: config: spiffe_bundle of garbage, of a JWKS that is not a bundle
--- init
main::put("$::BUNDLE_DIR/bad.json", '{"keys": 1}');
--- main_config eval
"spiffe_svid_dir $::SVID_DIR;
 spiffe_bundle other.org $::BUNDLE_DIR/bad.json;"
--- must_die
--- error_log eval
qr{\[emerg\] .*bundle "[^"]+/bad\.json": .+ in \S+nginx\.conf:\d+}



=== TEST 27: config: spiffe_bundle with a bad trust domain
--- main_config eval
"spiffe_svid_dir $::SVID_DIR;
 spiffe_bundle Other.org $::BUNDLE_DIR/other.pem;"
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid trust domain "Other\.org" in "spiffe_bundle": .+ in \S+nginx\.conf:\d+}



=== TEST 28: config: a trust domain configured twice
--- init
main::put("$::BUNDLE_DIR/twice.pem", SpiffeMTLS::slurp("$::state/bundle.pem"));
--- main_config eval
"spiffe_svid_dir $::SVID_DIR;
 spiffe_bundle other.org $::BUNDLE_DIR/twice.pem;
 spiffe_bundle spiffe://other.org $::BUNDLE_DIR/twice.pem;"
--- must_die
--- error_log eval
qr{\[emerg\] .*trust domain "other\.org" is already configured in \S+nginx\.conf:\d+ in \S+nginx\.conf:\d+}
