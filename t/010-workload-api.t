# The Workload API source: each worker streams its X.509-SVID from the
# agent, keeps it current without reload, keeps the last good one through
# every fault, logs each fault once and recovers by itself.
#
# Every block starts a fresh t/agent/agent.py in its --- init (agent()), and
# most have a /ctl/ location that proxies to the agent's control socket,
# so that the block acts on the agent between its requests over HTTP:
# "GET /ctl/rotate-svid?arg=ID&wait_ms=N" runs "rotate-svid ID" and answers
# N ms later.  "--- grep_error_log_out" holds the story of a block: every
# line the module logs at info level and above, in order (see story()).

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(time);
use Time::Piece ();

master_on();
no_shuffle();

# one state directory for all the agents of this file: the gRPC stubs are
# generated once, and the socket paths are known before a block runs
our $State = tempdir('spiffe-010-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $Sock = "$State/agent.sock";
our $Tcp = '127.0.0.1:' . free_port();
our $Agent;

# how long nginx gets to take in what the agent pushed
$ENV{TEST_NGINX_PUSH_MS} = $ENV{TEST_NGINX_USE_VALGRIND} ? 3000 : 300;

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $@";
    return $s->sockport;
}

# a new agent for the block, replacing the previous block's
sub agent {
    my (%opt) = @_;
    $Agent->stop if $Agent;
    $Agent = SpiffeAgent->start(state_dir => $State, %opt);
    return $Agent;
}

# The lines the module logs at info level and above ...
our $Story =
    qr/\[(?:info|notice|warn|error|alert|crit|emerg)\] \d+#\d+: spiffe: .*/;

# ... and what they must be: one "[level] text" per line; in the text "*"
# stands for any text, {sock} for the agent's unix socket, {tcp} for its
# TCP address.
sub story {
    my $re = '';
    for my $line (@_) {
        my ($level, $text) = $line =~ /^\[(\w+)\] (.*)\z/
            or die "bad story line: $line";
        $text = quotemeta $text;
        $text =~ s/\\\*/.*/g;
        $text =~ s/\\\{sock\\\}/\Q$Sock\E/g;
        $text =~ s/\\\{tcp\\\}/\Q$Tcp\E/g;
        $re .= "\\[$level\\] \\d+#\\d+: $text\\n";
    }
    return qr/\A$re\z/;
}

# the notAfter of an SVID minted now for $ttl seconds, as a regex
sub expires_re {
    my ($ttl) = @_;
    my $now = int(time);
    return '(?:' . join('|', map { $now + $ttl + $_ } -1 .. 30) . ')';
}

# $ENV{TEST_NGINX_SVID_SERIAL} and $ENV{TEST_NGINX_SVID_EXPIRES}: the
# serial (as the agent prints it) and the notAfter (unix time) of the
# agent's default SVID
sub svid_facts {
    my $out = `openssl x509 -noout -enddate -dateopt iso_8601 \\
               -in '$State/svid.pem'`;
    my ($end) = $out =~ /^notAfter=(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)$/m
        or die "no notAfter in $State/svid.pem: $out";
    $ENV{TEST_NGINX_SVID_EXPIRES} =
        Time::Piece->strptime($end, '%Y-%m-%d %H:%M:%SZ')->epoch;
    $ENV{TEST_NGINX_SVID_SERIAL} = $Agent->status->{serial};
}

workers(1);
timeout(10);
delete $ENV{SPIFFE_ENDPOINT_SOCKET};

run_tests();

__DATA__

=== TEST 1: the SVID is there at the very first request
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "id=$spiffe_svid_id expires=$spiffe_svid_expires\n";
    }
--- request
GET /t
--- response_body_like eval
'\Aid=spiffe://example\.org/nginx expires=' . main::expires_re(3600) . '\n\z'
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[error]
[crit]



=== TEST 2: the startup wait: the worker serves once its SVID has come
--- init
# the first message comes 700 ms after the stream opens
agent()->control_ok('stall on 700');
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t", "GET /ctl/status"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK .* streams=1 calls=1 .*stall=off ']
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[error]
[crit]



=== TEST 3: spiffe_startup_timeout expires: nginx serves, the SVID comes later
--- init
agent()->control_ok('stall on ' . 5 * $ENV{TEST_NGINX_PUSH_MS});
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 200ms;
--- config
    location = /t {
        return 200 "id=$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/wait-streams/1/30000?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aid=\n\\z",
 '\AOK ready=1\n\z',
 "\\Aid=spiffe://example\\.org/nginx\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[warn] spiffe: no SVID from "unix:{sock}" within 200 ms, serving without one until it comes',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal



=== TEST 4: the serial logged and $spiffe_svid_expires are the SVID's own
--- init
agent(ttl => 600);
main::svid_facts();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_expires\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t", "GET /ctl/status"]
--- response_body eval
# $TEST_NGINX_* is replaced in text, not in a regex
['$TEST_NGINX_SVID_EXPIRES' . "\n",
 qr/\AOK serial=[0-9a-f]+ .* streams=1 calls=1 .*ttl=600\b.*\n\z/]
--- grep_error_log eval: qr/spiffe: SVID .*/
--- grep_error_log_out
spiffe: SVID "spiffe://example.org/nginx" serial $TEST_NGINX_SVID_SERIAL, version 1
--- no_error_log
[error]
[crit]



=== TEST 5: without a Workload API the variables are empty
--- init
agent();
--- config
    location = /t {
        return 200 "id=$spiffe_svid_id expires=$spiffe_svid_expires\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t", "GET /ctl/status"]
--- response_body_like eval
["\\Aid= expires=\n\\z", '\AOK .* streams=0 calls=0 ']
--- grep_error_log eval: $main::Story
--- grep_error_log_out
--- no_error_log
[error]
[crit]



=== TEST 6: spiffe_svid_hint picks the SVID with that hint
--- init
agent(spiffe_id => 'spiffe://example.org/nginx,hint=internal',
      svids => ['spiffe://example.org/nginx-ext,hint=external']);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_svid_hint external;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/rotate-svid?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx-ext\n\\z",
 '\AOK serial=[0-9a-f]+ id=spiffe://example\.org/nginx\n\z',
 "\\Aspiffe://example\\.org/nginx-ext\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx-ext" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/nginx-ext" serial *, version 2',
)
--- no_error_log
[error]
[crit]



=== TEST 7: an unknown hint: each message discarded, no SVID, nginx serves
--- init
agent(spiffe_id => 'spiffe://example.org/nginx,hint=internal',
      svids => ['spiffe://example.org/nginx-ext,hint=external']);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_svid_hint nope;
    spiffe_startup_timeout 300ms;
--- config
    location = /t {
        return 200 "id=$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/rotate-svid?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aid=\n\\z", '\AOK serial=', "\\Aid=\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[error] spiffe: X509SVIDResponse discarded: no SVID with the requested hint (spiffe_svid_hint "nope")',
    '[warn] spiffe: no SVID from "unix:{sock}" within 300 ms, serving without one until it comes',
    '[error] spiffe: X509SVIDResponse discarded: no SVID with the requested hint (spiffe_svid_hint "nope")',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 8: the hinted SVID dropped by the agent: discarded, last one kept
--- init
agent(spiffe_id => 'spiffe://example.org/nginx,hint=internal',
      svids => ['spiffe://example.org/nginx-ext,hint=external']);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_svid_hint external;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /ctl/drop-svid?arg=spiffe://example.org/nginx-ext&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/add-svid?arg=spiffe://example.org/nginx-ext2,hint=external&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
['\AOK svids=1\n\z',
 "\\Aspiffe://example\\.org/nginx-ext\n\\z",
 '\AOK serial=[0-9a-f]+ svids=2\n\z',
 "\\Aspiffe://example\\.org/nginx-ext2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx-ext" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: no SVID with the requested hint (spiffe_svid_hint "external")',
    '[info] spiffe: SVID "spiffe://example.org/nginx-ext2" serial *, version 2',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 9: messages of about 64 KiB, over several HTTP/2 frames
--- init
agent(spiffe_id => 'spiffe://example.org/nginx',
      svids => [map { "spiffe://example.org/w$_" } 1 .. 44]);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-3&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z",
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-3\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
    '[info] spiffe: SVID "spiffe://example.org/nginx-3" serial *, version 3',
)
--- no_error_log
[error]
[crit]



=== TEST 10: a rotation reaches $spiffe_svid_id within 1 s, without reload
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/rotate-svid?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK serial=[0-9a-f]+ id=spiffe://example\.org/nginx-2\n\z',
 "\\Aspiffe://example\\.org/nginx-2\n\\z",
 '\AOK serial=[0-9a-f]+ id=spiffe://example\.org/nginx-2\n\z',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 3',
)
--- no_error_log
[error]
[crit]



=== TEST 11: PermissionDenied: last SVID kept, one error, retries, recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/fail/permission_denied?wait_ms=1400",
 "GET /ctl/status",
 "GET /t",
 "GET /ctl/fail/off",
 "GET /ctl/wait-streams/1/3000?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/status",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK fail=permission_denied ended=1\n\z',
 '\AOK .* streams=0 calls=2 .*fail=permission_denied ',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK fail=off\n\z',
 '\AOK ready=1\n\z',
 '\AOK .* streams=1 calls=3 .*fail=off ',
 "\\Aspiffe://example\\.org/nginx\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (PERMISSION_DENIED: no identity issued), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 12: Unavailable: last SVID kept, one error, retries, recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/fail/unavailable?wait_ms=1400",
 "GET /ctl/status",
 "GET /t",
 "GET /ctl/fail/off",
 "GET /ctl/wait-streams/1/3000?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/status",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK fail=unavailable ended=1\n\z',
 '\AOK .* streams=0 calls=2 .*fail=unavailable ',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK fail=off\n\z',
 '\AOK ready=1\n\z',
 '\AOK .* streams=1 calls=3 .*fail=off ',
 "\\Aspiffe://example\\.org/nginx\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: agent unavailable (test fault)), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 13: InvalidArgument: one alert, no retry, last SVID kept
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/fail/invalid_argument?wait_ms=1500",
 "GET /ctl/fail/off?wait_ms=1000",
 "GET /ctl/status",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK fail=invalid_argument ended=1\n\z',
 '\AOK fail=off\n\z',
 '\AOK .* streams=0 calls=1 ',
 "\\Aspiffe://example\\.org/nginx\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[alert] spiffe: Workload API "unix:{sock}" refused FetchX509SVID as invalid (INVALID_ARGUMENT: invalid argument (test fault)): this is a bug in ngx_spiffe or in the agent; not retrying until nginx is reloaded',
)
--- no_error_log
[error]
[crit]
[emerg]
exited on signal



=== TEST 14: after InvalidArgument, a reload starts over
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /ctl/fail/invalid_argument?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/fail/off",
 "GET /ctl/signal/HUP?arg=$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/status"]
--- response_body_like eval
['\AOK fail=invalid_argument ended=1\n\z',
 '\AOK fail=off\n\z',
 '\AOK pid=\d+ signal=HUP\n\z',
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z",
 '\AOK .* streams=1 calls=2 ']
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[alert] spiffe: Workload API "unix:{sock}" refused FetchX509SVID as invalid (INVALID_ARGUMENT: invalid argument (test fault)): this is a bug in ngx_spiffe or in the agent; not retrying until nginx is reloaded',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
)
--- no_error_log
[error]
[crit]
[emerg]
exited on signal



=== TEST 15: a stream that ends cleanly is reopened at once
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/end-stream",
 "GET /ctl/wait-streams/1/500?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/status",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK ended=1\n\z',
 '\AOK ready=1\n\z',
 '\AOK .* streams=1 calls=2 ',
 "\\Aspiffe://example\\.org/nginx\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID ended, reconnecting',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 2',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[error]
[crit]



=== TEST 16: an agent that ends every stream at once: reopened at once the first time, then after a growing backoff, logged once
# "end-stream always": each stream ends right after its first message.
# The first stream lives over a second: its end is an ordinary one.
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/status?wait_ms=1200",
 "GET /ctl/end-stream/always?wait_ms="
 . ($ENV{TEST_NGINX_USE_VALGRIND} ? 9000 : 3500),
 "GET /ctl/status",
 "GET /ctl/end-stream/off",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK ',
 '\AOK ended=1\n\z',
 '\AOK .* calls=[3-7] ',
 '\AOK end_always=off\n\z',
 "\\Aspiffe://example\\.org/nginx\n\\z"]
--- grep_error_log eval
qr/\[(?!debug)\w+\] \d+#\d+: spiffe: Workload API "[^"]+": FetchX509SVID (?:connected|ended.*)/
--- grep_error_log_out eval
main::story(
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID ended, reconnecting',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID ended, reconnecting',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[warn] spiffe: Workload API "unix:{sock}": FetchX509SVID ended again within 1000 ms of its start, reconnecting in 1000 ms',
)
--- no_error_log
[error]
[crit]



=== TEST 17: a stalled agent: the last SVID is served until it speaks again
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/stall/on",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 # a new stream while stalled: opened, but nothing comes
 "GET /ctl/end-stream?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/status",
 "GET /t",
 "GET /ctl/stall/off",
 "GET /ctl/wait-streams/1/1000?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK stall=on\n\z',
 '\AOK serial=[0-9a-f]+ id=spiffe://example\.org/nginx-2\n\z',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK ended=1\n\z',
 '\AOK .* streams=1 calls=2 .*stall=on ',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK stall=off\n\z',
 '\AOK ready=1\n\z',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID ended, reconnecting',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[error]
[crit]



=== TEST 18: garbage: discarded once, last SVID kept, the next message taken
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/send/garbage?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK sent=1\n\z',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: malformed: length past the end of the message',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 19: an expired SVID: discarded once, last SVID kept
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/send/expired?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK sent=1\n\z',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: certificate has expired',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 20: a key that does not match the certificate: discarded once
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/send/mismatched?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK sent=1\n\z',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: private key does not match the certificate',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 21: an SVID without its certificate: discarded once
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/send/missing-fields?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK sent=1\n\z',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: SVID has no certificate',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 22: zero SVIDs: discarded once, the last SVID is not dropped
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/send/empty?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK sent=1\n\z',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: no SVIDs',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 23: a message over 4 MiB: the call fails once, then recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/send/oversized?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/wait-streams/1/3000?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/status",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK sent=1\n\z',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK ready=1\n\z',
 '\AOK .* streams=1 calls=2 ',
 "\\Aspiffe://example\\.org/nginx\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (RESOURCE_EXHAUSTED: message larger than the limit), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 24: the agent killed and started again: last SVID kept, reconnects
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 # the agent process dies and comes back without the Workload API
 "GET /ctl/restart/down",
 "GET /ctl/status?wait_ms=1400",
 "GET /t",
 "GET /ctl/up",
 "GET /ctl/wait-streams/1/3000?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/status",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK restarting\n\z',
 '\AOK .* streams=0 calls=0 ',
 "\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK up\n\z',
 '\AOK ready=1\n\z',
 '\AOK .* streams=1 calls=1 ',
 "\\Aspiffe://example\\.org/nginx\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: *), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 25: no agent at start: nginx serves without an SVID, then takes it
--- init
agent(down => 1);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 200ms;
--- config
    location = /t {
        return 200 "id=$spiffe_svid_id expires=$spiffe_svid_expires\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/up",
 "GET /ctl/wait-streams/1/3000?wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aid= expires=\n\\z",
 '\AOK up\n\z',
 '\AOK ready=1\n\z',
 '\Aid=spiffe://example\.org/nginx expires=\d{10}\n\z']
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: *), retrying with backoff',
    '[warn] spiffe: no SVID from "unix:{sock}" within 200 ms, serving without one until it comes',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal



=== TEST 26: two workers: each holds its own stream and its own SVID
# Each worker takes version 1, then version 2; a slow worker may take its
# first message after the other has taken both.
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
agent();
workers(2);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /ctl/wait-streams/2/1000",
 ("GET /t") x 4,
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 ("GET /t") x 4,
 "GET /ctl/status"]
--- response_body_like eval
['\AOK ready=2\n\z',
 ("\\Aspiffe://example\\.org/nginx\n\\z") x 4,
 '\AOK serial=',
 ("\\Aspiffe://example\\.org/nginx-2\n\\z") x 4,
 '\AOK .* streams=2 calls=2 ']
--- grep_error_log eval
qr/spiffe: SVID "[^"]+" serial [0-9a-f]+, version \d+/
--- grep_error_log_out eval
qr{\A(spiffe: SVID "spiffe://example\.org/nginx" serial [0-9a-f]+, version 1\n)(?:\1(spiffe: SVID "spiffe://example\.org/nginx-2" serial [0-9a-f]+, version 2\n)\2|(spiffe: SVID "spiffe://example\.org/nginx-2" serial [0-9a-f]+, version 2\n)\1\3)\z}
--- no_error_log
[error]
[crit]



=== TEST 27: SPIFFE_ENDPOINT_SOCKET (unix:///path) when there is no directive
--- init
# TEST 26 ran two workers
workers(1);
agent();
$ENV{SPIFFE_ENDPOINT_SOCKET} = "unix://$ENV{TEST_NGINX_AGENT_SOCKET}";
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
--- request
GET /t
--- response_body
spiffe://example.org/nginx
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix://{sock}": FetchX509SVID connected',
)
--- no_error_log
[error]
[crit]



=== TEST 28: SPIFFE_ENDPOINT_SOCKET with tcp://IP:PORT
--- init
agent(tcp => $main::Tcp);
$ENV{SPIFFE_ENDPOINT_SOCKET} = "tcp://$ENV{TEST_NGINX_AGENT_TCP}";
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "tcp://{tcp}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
)
--- no_error_log
[error]
[crit]



=== TEST 29: SPIFFE_ENDPOINT_SOCKET without a scheme is refused
--- init
agent();
$ENV{SPIFFE_ENDPOINT_SOCKET} = "/run/spire/agent.sock";
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE_ENDPOINT_SOCKET "/run/spire/agent\.sock": has an unknown scheme, expected "unix:" or "tcp:"$}



=== TEST 30: SPIFFE_ENDPOINT_SOCKET with a host name is refused
--- init
agent();
$ENV{SPIFFE_ENDPOINT_SOCKET} = "tcp://localhost:8081";
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid SPIFFE_ENDPOINT_SOCKET "tcp://localhost:8081": has a host that is not an IP address}



=== TEST 31: the directive wins over SPIFFE_ENDPOINT_SOCKET, even a bad one
--- init
agent();
$ENV{SPIFFE_ENDPOINT_SOCKET} = "unix:relative.sock";
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
--- request
GET /t
--- response_body
spiffe://example.org/nginx
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log
[error]
[crit]



=== TEST 32: spiffe_workload_api tcp://IP:PORT, and a fault over TCP
--- init
# set by TESTs 27 to 31
delete $ENV{SPIFFE_ENDPOINT_SOCKET};
agent(tcp => $main::Tcp);
--- main_config
    spiffe_workload_api tcp://$TEST_NGINX_AGENT_TCP;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/end-stream",
 "GET /ctl/wait-streams/1/500",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK ended=1\n\z',
 '\AOK ready=1\n\z',
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z"]
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "tcp://{tcp}": FetchX509SVID connected',
    '[info] spiffe: Workload API "tcp://{tcp}": FetchX509SVID ended, reconnecting',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 2',
    '[info] spiffe: Workload API "tcp://{tcp}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 3',
)
--- no_error_log
[error]
[crit]



=== TEST 33: spiffe_workload_api unix:///path
--- init
agent();
--- main_config
    spiffe_workload_api unix://$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
--- request
GET /t
--- response_body
spiffe://example.org/nginx
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix://{sock}": FetchX509SVID connected',
)
--- no_error_log
[error]
[crit]



=== TEST 34: reload: the old worker leaves cleanly, the new one streams
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 "GET /ctl/signal/HUP?arg=$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=$ENV{TEST_NGINX_PUSH_MS}",
 "GET /t",
 "GET /ctl/status?wait_ms=$ENV{TEST_NGINX_PUSH_MS}"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK pid=\d+ signal=HUP\n\z',
 '\AOK serial=',
 "\\Aspiffe://example\\.org/nginx-2\n\\z",
 '\AOK .* streams=1 calls=2 ']
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/nginx-2" serial *, version 2',
)
--- error_log eval
[qr/\[notice\] \d+#\d+: gracefully shutting down/,
 qr/\[notice\] \d+#\d+: worker process \d+ exited with code 0/]
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal



=== TEST 35: graceful shutdown of a worker holding a stream: no alert
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /t {
        return 200 "$spiffe_svid_id\n";
    }
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
--- request eval
["GET /t",
 # WINCH: the master stops its workers as on QUIT, and stays
 "GET /ctl/signal/WINCH?arg=$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid&wait_ms=$ENV{TEST_NGINX_PUSH_MS}"]
--- response_body_like eval
["\\Aspiffe://example\\.org/nginx\n\\z",
 '\AOK pid=\d+ signal=WINCH\n\z']
--- wait: 0.5
--- grep_error_log eval: $main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- error_log eval
[qr/\[notice\] \d+#\d+: gracefully shutting down/,
 qr/\[notice\] \d+#\d+: exit$/,
 qr/\[notice\] \d+#\d+: worker process \d+ exited with code 0/]
--- no_error_log
[error]
[alert]
[crit]
[emerg]
exited on signal
