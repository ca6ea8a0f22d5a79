# The fault matrix of the Workload API source (issue 10): every way the
# agent can fail, one block each, walked the same way.  For each fault:
#
#   - what nginx serves meanwhile, seen by a real TLS client (the serial of
#     the certificate served, and the body of an mTLS request whose answer
#     is the client's verified $spiffe_id): the last good SVID and bundle
#     are kept until the SVID expires; without a valid SVID, handshakes are
#     refused (README, "Security model", spiffe_startup_timeout);
#   - that it recovers by itself once the fault is cleared: the SVID the
#     agent made meanwhile (or after) is served, with no reload;
#   - the log: "--- grep_error_log_out" holds every line the source logs
#     at info and above, in order (see story()): one line per change of
#     state, none for each retry, though the probe waits until several
#     calls failed (the debug log counts them); and the lines about a
#     connection are one per handshake refused for want of a valid SVID,
#     or per client refused by verification (connection_lines());
#   - no crash: the worker PIDs are the same before the fault and after the
#     recovery, and no "exited on signal" in the log;
#   - no descriptor leak: the worker's open descriptors (/proc/PID/fd, by
#     kind: socket, pipe, anon_inode:[eventpoll], file path) are the same
#     before the fault and after the recovery, and the same after the
#     first failed call and after the last one.
#
# The whole walk of a fault runs in the probe (t/lib/SpiffeMTLS.pm), a
# child process that nginx reaches at /probe/walk?fault=NAME; it drives the
# agent on its control socket, makes the TLS connections with curl
# straight to the server under test (unix:.../logs/tls.sock), and answers
# with its report, which the block checks line by line.  The
# report names SVIDs, not serials: "SVID 1" is the one nginx served first,
# "SVID 2" the next one the agent made, and so on.
#
# Every block starts a fresh agent in its --- init (agent(); state in
# $State: the same socket paths for every block, which the probe, forked
# once, relies on), names the TLS server under test ($TLS_SERVER) and the
# probe's location ($PROBE), and has one nginx worker.  Its --- grep_error_log is $Story, and its
# --- no_error_log allows only the module's own [error] lines (all in the
# story).  Timing: nothing is a fixed sleep but the window in which nothing
# may happen (stall) and the wait for an SVID to expire; everything else
# polls with a deadline, longer under valgrind ($SLOW).  Retries back off
# 1 s, 2 s, 4 s..., so a block that waits for 3 failed calls and then for
# the recovery takes about 8 s.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeMTLS qw(start_probe agent_cmd);
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(sleep time);

master_on();
workers(1);

delete $ENV{SPIFFE_ENDPOINT_SOCKET};

our $SELF = 'spiffe://example.org/ns/edge/sa/nginx';
our $WEB = 'spiffe://example.org/ns/prod/sa/web';
our $SLOW = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

our $State = tempdir('spiffe-080-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $Agent;

# the paths every agent of this file uses, known to the probe from the start
$ENV{TEST_NGINX_AGENT_SOCKET} = "$State/agent.sock";
$ENV{TEST_NGINX_AGENT_CONTROL} = "$State/control.sock";

my $LOG = "$ENV{TEST_NGINX_SERVROOT}/logs/error.log";
my $TLS_SOCK = "$ENV{TEST_NGINX_SERVROOT}/logs/tls.sock";
my $PIDFILE = "$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid";

# a new agent for the block, and "web", a client of its CA
sub agent {
    my (%opt) = @_;
    $Agent->stop if $Agent;
    $Agent = SpiffeAgent->start(state_dir => $State, spiffe_id => $SELF,
                                %opt);
    $Agent->control_ok("mint $WEB web");
}

# The lines the module logs at info level and above, but for those about a
# connection (they have its number, "*N "; see connection_lines()), and
# what they must be: one "[level] text" per line; in the text "*" stands
# for any text, {sock} for the agent's socket.
our $Story =
    qr/\[(?:info|notice|warn|error|alert|crit|emerg)\] \d+#\d+: spiffe: .*/;

sub story {
    my $re = '';
    for my $line (@_) {
        my ($level, $text) = $line =~ /^\[(\w+)\] (.*)\z/
            or die "bad story line: $line";
        $text = quotemeta $text;
        $text =~ s/\\\*/.*/g;
        $text =~ s/\\\{sock\\\}/\Q$State\/agent.sock\E/g;
        $re .= "\\[$level\\] \\d+#\\d+: $text\\n";
    }
    return qr/\A$re\z/;
}


# ---- what the probe sees ------------------------------------------------

sub slurp {
    my ($file, $offset) = @_;
    open my $fh, '<', $file or return '';
    seek $fh, $offset, 0 if $offset;
    local $/;
    return <$fh> // '';
}

# polls $cond until it returns true, or $secs (times $SLOW) have passed;
# returns its last value
sub poll {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs * $SLOW;
    while (1) {
        my $v = $cond->();
        return $v if $v || time > $deadline;
        sleep 0.05;
    }
}

my %names;      # serial -> "SVID N"
my %refused;    # what tls_get() saw refused: handshake => N, client => N

# the agent's reply to a command; dies on "ERR" (the replies a report shows
# hold no serial)
sub cmd {
    my ($c) = @_;
    my $reply = agent_cmd($c);
    die "agent: '$c': $reply\n" unless $reply =~ /^OK\b/;
    return $reply;
}

sub agent_serial {
    my ($s) = cmd('status') =~ /\bserial=(\w+)/;
    return $s =~ s/^0+(?=.)//r;
}

# gives the agent's current SVID the next name, "SVID N"
sub name_svid {
    my $serial = agent_serial();
    my $n = 1 + keys %names;
    $names{$serial} //= "SVID $n";
    return $names{$serial};
}

# One TLS connection to the server under test, presenting $peer's
# certificate (from the agent's state directory) and sending a GET: the
# serial of the certificate served (undef when the handshake failed), the
# HTTP status and body of the answer, and the certificate (PEM).  curl
# gives the certificate it was served with %{certs}; -k: an X.509-SVID
# names no host.
sub tls_get {
    my ($peer) = @_;
    my @cmd = ('curl', '-sS', '-k', '--max-time', 10 * $SLOW, '--http1.1',
               '--tlsv1.3', '--unix-socket', $TLS_SOCK,
               '--cert', "$State/$peer.pem", '--key', "$State/$peer.key",
               '-H', 'Connection: close',
               '-w', '\n<<%{http_code}>>\n%{certs}', 'https://localhost/');
    my $pid = open my $out, '-|';
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    my $text = do { local $/; <$out> } // '';
    close $out;

    my ($body, $status, $certs) = $text =~ /\A(.*)\n<<(\d+)>>\n(.*)\z/s;
    my ($serial) = ($certs // '') =~ /^Serial Number:\s*([0-9a-fA-F:]+)$/m;
    if (!defined $serial) {
        $refused{handshake}++;
        return (undef, '-', '', undef);
    }
    my ($pem) = $certs
        =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n)/s;
    $serial = lc($serial =~ s/://gr) =~ s/^0+(?=.)//r;
    $refused{client}++ if $status == 400;
    return ($serial, $status, $body, $pem);
}

# The connection lines the module logged at info and above, each with how
# many times: as many as the clients refused by verification that
# tls_get() saw, or once for all the handshakes it saw refused for want of
# a valid SVID.
sub connection_lines {
    my $text = slurp($LOG);
    my %n;
    $n{"[$1] $2"}++ while $text =~ m{
        \[(info|notice|warn|error|alert|crit)\] \s \d+\#\d+: \s \*\d+ \s
        (spiffe: .*?) (?:, \s client: .*)? $}xmg;
    my %per = (($refused{handshake} // -1) => 'refused handshake',
               ($refused{client} // -1) => 'refused client');
    # a handshake refused for want of an SVID is logged once until one
    # comes, however many are refused
    return map { $n{$_} == 1 && ($refused{handshake} // 0) >= 1
                 && /no SVID to serve|has expired/
                     ? "logged once for all refused handshakes: $_"
                 : $per{$n{$_}} ? "logged once per $per{$n{$_}}: $_"
                 : "logged $n{$_} times: $_" } sort keys %n;
}

# what a client sees: the SVID served, and the answer to $peer
sub look {
    my ($peer) = @_;
    $peer //= 'web';
    my ($serial, $status, $body) = tls_get($peer);
    return "handshake refused, no certificate served" unless defined $serial;
    my $svid = $names{$serial} // "an unknown SVID ($serial)";
    # a refused client gets nginx's HTML page: its title
    ($body) = $body =~ m{<title>(.*?)</title>}s if $body =~ /<title>/;
    chomp $body;
    return "serves $svid; $peer gets $status $body";
}

# waits (deadline $secs) until nginx serves the agent's current SVID
sub wait_current {
    my ($secs) = @_;
    my $svid = name_svid();
    my $serial = agent_serial();
    my $t0 = time;
    my $ok = poll($secs, sub { ((tls_get('web'))[0] // '') eq $serial });
    return "$svid served: " . ($ok ? 'yes' : 'no, after '
                                     . sprintf('%.1f s', time - $t0));
}

# nginx's workers: the children of the master, or nginx itself when it
# runs without one (under valgrind)
sub workers_now {
    my ($master) = slurp($PIDFILE) =~ /(\d+)/ or return ();
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $text = slurp($stat);
        # pid (comm) state ppid ...
        push @w, $1 if $text =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $master;
    }
    return @w ? sort { $a <=> $b } @w : ($master);
}

# a worker's open descriptors by kind, sorted
sub fds {
    my ($pid) = @_;
    my @k;
    opendir my $d, "/proc/$pid/fd" or return "none: $!";
    for my $fd (grep { /^\d+\z/ } readdir $d) {
        my $to = readlink "/proc/$pid/fd/$fd" // next;
        $to =~ s/^(socket|pipe):\[\d+\]\z/$1/;
        push @k, $to;
    }
    return join ', ', sort @k;
}

# every worker's descriptors
sub snapshot {
    my @w = workers_now();
    return { workers => "@w", fds => { map { $_ => fds($_) } @w } };
}

# a snapshot once the descriptors hold still for 0.3 s (3 s at most): the
# client connections of a look() are gone
sub settled {
    my ($snap, $since) = (snapshot(), time);
    poll(3, sub {
        my $now = snapshot();
        ($snap, $since) = ($now, time)
            if join(';', %{ $now->{fds} }) ne join(';', %{ $snap->{fds} });
        return time - $since >= 0.3;
    });
    return $snap;
}

# how a snapshot compares with an earlier one, the descriptors allowed
# $secs to settle (a client connection just closed, say)
sub compare {
    my ($before, $secs) = @_;
    my $now;
    poll($secs, sub {
        $now = snapshot();
        return $now->{workers} eq $before->{workers}
               && !grep { $now->{fds}{$_} ne $before->{fds}{$_} }
                        keys %{ $before->{fds} };
    });
    my $w = $now->{workers} eq $before->{workers}
            ? 'the same' : "were $before->{workers}, now $now->{workers}";
    my @d = map { "worker: $before->{fds}{$_}\n   now: "
                  . ($now->{fds}{$_} // 'gone') }
            grep { ($now->{fds}{$_} // '') ne $before->{fds}{$_} }
            sort keys %{ $before->{fds} };
    return ("workers: $w", 'descriptors: ' . (@d ? "changed:\n@d"
                                                  : 'the same'));
}

sub log_mark { -s $LOG // 0 }

# calls of FetchX509SVID that failed since $mark: the error logged on a
# change of state, and the debug line of each further failure
sub failures {
    my ($mark) = @_;
    my $text = slurp($LOG, $mark);
    my $n = () = $text =~ m{spiffe: \s (?:Workload \s API \s "[^"]*": \s
                                     FetchX509SVID \s failed \s \(
                                   | FetchX509SVID \s still \s failing)}xg;
    return $n;
}

# Waits for $want failed calls since $mark (and so for $want - 1 retries).
# With 2 or more, the descriptors must be the same after the last as after
# an earlier one (nginx is then between two calls, waiting for its backoff
# timer; the first snapshot waits until any client connection is gone).
sub wait_failures {
    my ($mark, $want) = @_;
    # 1 + 2 + 4 ... s of backoff, and slack
    my $secs = 2 ** ($want - 1) + 5;
    poll($secs, sub { failures($mark) >= 1 });
    my @out;
    if ($want >= 2) {
        my $first = settled();
        # at least one failure after the first snapshot
        my $until = failures($mark) + 1;
        $until = $want if $until < $want;
        poll(2 ** ($until - 1) + 5, sub { failures($mark) >= $until });
        push @out, map { "between retries, $_" } compare($first, 0);
    }
    my $n = failures($mark);
    return ("failed calls: " . ($n >= $want ? "$want or more" : $n), @out);
}

# the lines the source logged at info and above since $mark
sub source_lines {
    my ($mark) = @_;
    my $text = slurp($LOG, $mark);
    my $n = () = $text =~ m{
        \[(?:info|notice|warn|error|alert|crit)\] \s \d+\#\d+: \s spiffe: \s
        (?:Workload \s API | SVID \s "[^"]*" \s serial | X509SVIDResponse
           | no \s SVID \s from)}xg;
    return $n;
}

# waits until the log has a line matching $re since $mark
sub wait_log {
    my ($mark, $re) = @_;
    return poll(5, sub { slurp($LOG, $mark) =~ $re }) ? 'logged' : 'not logged';
}

# streams and calls the agent counts
sub agent_calls {
    my ($calls) = cmd('status') =~ /\bcalls=(\d+)/;
    return $calls;
}

# does the served certificate chain to the CA the agent has now?
sub issued_by_current_ca {
    my $pem = (tls_get('web'))[3] // return 'no certificate';
    open my $fh, '>', "$State/served.pem" or return "cannot write: $!";
    print {$fh} $pem;
    close $fh;
    return `openssl verify -CAfile $State/ca.pem $State/served.pem 2>&1`
           =~ /: OK$/m ? 'yes' : 'no';
}


# ---- the walks ----------------------------------------------------------

# The part every fault shares: SVID 1 served and the snapshot before;
# $fault->() makes the fault and reports what it sees; then the
# comparison with the snapshot.
sub walk {
    my ($fault) = @_;
    my @out = (wait_current(5));
    push @out, 'before: ' . look();
    my $before = settled();
    push @out, $fault->();
    push @out, 'after: ' . look();
    push @out, compare($before, 3);
    return join '', map { "$_\n" } @out;
}

# A fault that lasts: $make (commands) makes it, the probe waits for 3
# failed calls (several retries), the agent rotates the SVID meanwhile,
# $clear (commands) clears it: SVID 2 must be served.
sub lasting {
    my ($make, $clear, %opt) = @_;
    return walk(sub {
        my $mark = log_mark();
        my @out = map { "fault: " . cmd($_) } @$make;
        push @out, wait_failures($mark, 3);
        push @out, 'during: ' . look();
        cmd('rotate-svid');
        name_svid();
        push @out, 'source lines logged during the fault: '
                   . source_lines($mark);
        push @out, map { "cleared: " . cmd($_) } @$clear;
        # the next retry comes after a backoff of 4 s, 8 s at most
        push @out, wait_current(10);
        # a new agent process has a new CA: "web" again, from it
        cmd("mint $WEB web") if $opt{new_ca};
        return @out;
    });
}

# A bad message on the open stream: discarded, the stream stays open, and
# the next good message (a rotation) is taken.
sub bad_message {
    my ($what, $re) = @_;
    return walk(sub {
        my $mark = log_mark();
        my $calls = agent_calls();
        my @out = ("fault: " . cmd("send $what"));
        push @out, "discarded: " . wait_log($mark, $re);
        push @out, 'during: ' . look();
        push @out, 'stream kept open: '
                   . (agent_calls() == $calls ? 'yes' : 'no');
        push @out, 'source lines logged during the fault: '
                   . source_lines($mark);
        cmd('rotate-svid');
        push @out, wait_current(3);
        return @out;
    });
}

my %walks = (
    'permission-denied' => sub {
        lasting(['fail permission_denied'], ['fail off']);
    },

    'unavailable' => sub {
        lasting(['fail unavailable'], ['fail off']);
    },

    # the agent process dies with the stream open, and stays away
    'killed' => sub {
        lasting(['restart down'], ['up'], new_ca => 1);
    },

    # junk on a new connection: the open stream is ended cleanly, nginx
    # reconnects at once and gets bytes that are not HTTP/2
    'junk-bytes' => sub {
        lasting(['junk bytes', 'end-stream'], ['junk off']);
    },

    # ... or an HTTP/2 answer whose gRPC message prefix is invalid
    'junk-grpc' => sub {
        lasting(['junk grpc', 'end-stream'], ['junk off']);
    },

    # the agent restarts (a new process: a new CA, a new SVID) while nginx
    # streams; the new bundle applies at once: the old CA's client is
    # refused, the new CA's accepted
    'new-ca' => sub {
        walk(sub {
            my $mark = log_mark();
            my @out = ("fault: " . cmd('restart'));
            push @out, wait_failures($mark, 1);
            push @out, wait_current(5);
            push @out, 'issued by the new CA: ' . issued_by_current_ca();
            cmd("mint $WEB web2");
            push @out, 'client of the new CA: ' . look('web2');
            push @out, 'source lines logged: ' . source_lines($mark);
            return @out;
        });
    },

    # the agent accepts the call and answers nothing: an open stream is
    # quiet anyway, so nothing is logged and the last SVID is served; when
    # it answers again, what it made meanwhile is taken
    'stalled' => sub {
        walk(sub {
            my $mark = log_mark();
            my @out = ("fault: " . cmd('stall on'));
            # a new call, which gets no answer either
            push @out, "fault: " . cmd('end-stream');
            cmd('rotate-svid');
            name_svid();
            push @out, 'agent streams: ' . (poll(3, sub {
                cmd('status') =~ /\bstreams=1\b/ && agent_calls() == 2 })
                ? 'the new call is open' : cmd('status'));
            # as long as three retries would take
            sleep 3 * $SLOW;
            push @out, 'during: ' . look();
            push @out, 'source lines logged during the fault: '
                       . source_lines($mark);
            push @out, "cleared: " . cmd('stall off');
            push @out, wait_current(3);
            return @out;
        });
    },

    'garbage' => sub {
        bad_message('garbage', qr/X509SVIDResponse discarded: malformed/);
    },

    'expired' => sub {
        bad_message('expired',
                    qr/X509SVIDResponse discarded: certificate has expired/);
    },

    'mismatched' => sub {
        bad_message('mismatched',
                    qr/X509SVIDResponse discarded: private key does not/);
    },

    # over 4 MiB: the call fails, the next one (1 s later) gets the agent's
    # state again, then a rotation is taken
    'oversized' => sub {
        walk(sub {
            my $mark = log_mark();
            my @out = ("fault: " . cmd('send oversized'));
            push @out, wait_failures($mark, 1);
            push @out, 'during: ' . look();
            push @out, 'reconnected: '
                       . wait_log($mark, qr/FetchX509SVID connected/);
            push @out, 'source lines logged during the fault: '
                       . source_lines($mark);
            cmd('rotate-svid');
            push @out, wait_current(3);
            return @out;
        });
    },

    # the SVID nginx holds expires while the agent is unavailable: served
    # until then, handshakes refused after; SVID 3 once the agent is back
    'expires-in-outage' => sub {
        my $ttl = 3 + 2 * $SLOW;
        walk(sub {
            cmd("ttl $ttl");
            cmd('rotate-svid');
            my @out = ("SVIDs from now on: short-lived (3 + 2 x \$SLOW s)");
            push @out, wait_current(3);
            my $minted = time;
            my $mark = log_mark();
            push @out, "fault: " . cmd('fail unavailable');
            push @out, wait_failures($mark, 2);
            push @out, 'during, valid: ' . look();
            # notAfter is $ttl s after the minting, and has no fraction
            my $left = $minted + $ttl + 1.2 - time;
            sleep $left if $left > 0;
            push @out, 'during, expired: ' . look();
            cmd('ttl 3600');
            cmd('rotate-svid');
            name_svid();
            push @out, 'source lines logged during the fault: '
                       . source_lines($mark);
            push @out, "cleared: " . cmd('fail off');
            push @out, wait_current(10);
            return @out;
        });
    },

    # no agent when nginx starts: no SVID, handshakes refused, the retries
    # back off; SVID 1 once the agent is up.  The descriptors after the
    # recovery are those between the retries plus one socket, the stream.
    'absent' => sub {
        my @out = ('before: ' . look());
        push @out, wait_failures(0, 3);
        my $down = snapshot();
        push @out, 'source lines logged during the fault: '
                   . source_lines(0);
        push @out, "cleared: " . cmd('up');
        push @out, wait_current(5);
        push @out, 'after: ' . look();
        $down->{fds}{$_} = join ', ', sort split(/, /, $down->{fds}{$_}),
                                           'socket'
            for keys %{ $down->{fds} };
        my ($w, $d) = compare($down, 3);
        push @out, $w, $d =~ s/the same/the same plus a socket/r;
        return join '', map { "$_\n" } @out;
    },
);

start_probe(walk => sub {
    my (%q) = @_;
    my $w = $walks{$q{fault} // ''} or return "no fault \"$q{fault}\"\n";
    %names = ();
    %refused = ();
    my $out = $w->();
    return $out . join '', map { "$_\n" } connection_lines();
});


# the TLS server under test, which every block names as its http_config;
# curl reaches it at $TLS_SOCK
our $TLS_SERVER = <<'EOC';
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client on;

        location / {
            return 200 "$spiffe_id\n";
        }
    }
EOC

# the probe's location, which every block names as its config
our $PROBE = <<'EOC';
    location /probe/ {
        proxy_pass http://unix:$TEST_NGINX_PROBE:;
        proxy_read_timeout 600s;
    }
EOC

run_tests();

__DATA__

=== TEST 1: PermissionDenied: last SVID kept, one error over several retries, recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=permission-denied
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK fail=permission_denied ended=1
failed calls: 3 or more
between retries, workers: the same
between retries, descriptors: the same
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
source lines logged during the fault: 1
cleared: OK fail=off
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (PERMISSION_DENIED: no identity issued), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 2: Unavailable: last SVID kept, one error over several retries, recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=unavailable
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK fail=unavailable ended=1
failed calls: 3 or more
between retries, workers: the same
between retries, descriptors: the same
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
source lines logged during the fault: 1
cleared: OK fail=off
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: agent unavailable (test fault)), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 3: the agent killed mid-stream and away: last SVID kept, one error over several retries, recovers
# a new agent process has a new CA: SVID 2 comes from it, and "web" is
# minted again from it after the recovery
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=killed
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK restarting
failed calls: 3 or more
between retries, workers: the same
between retries, descriptors: the same
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
source lines logged during the fault: 1
cleared: OK up
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
logged once per refused client: [info] spiffe: client SVID refused (FAILED:unable to get local issuer certificate)
logged once per refused client: [info] spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: *), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 4: the agent restarted with a new CA: the new SVID and the new bundle apply at once
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=new-ca
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK restarting
failed calls: 1 or more
SVID 2 served: yes
issued by the new CA: yes
client of the new CA: serves SVID 2; web2 gets 200 spiffe://example.org/ns/prod/sa/web
source lines logged: 3
after: serves SVID 2; web gets 400 400 The SSL certificate error
workers: the same
descriptors: the same
logged once per refused client: [info] spiffe: client SVID refused (FAILED:unable to get local issuer certificate)
logged once per refused client: [info] spiffe: peer X.509-SVID refused: unable to get local issuer certificate while SSL handshaking
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: *), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 5: stalled: the agent answers nothing; nothing logged, last SVID kept; its next answer is taken
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=stalled
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK stall=on
fault: OK ended=1
agent streams: the new call is open
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
source lines logged during the fault: 1
cleared: OK stall=off
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID ended, reconnecting',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 6: garbage in a message (not a protobuf): discarded once, the stream stays, the next message is taken
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=garbage
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK sent=1
discarded: logged
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
stream kept open: yes
source lines logged during the fault: 1
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: malformed: length past the end of the message',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 7: garbage on the connection (not HTTP/2): one error over several retries, last SVID kept, recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=junk-bytes
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK junk=bytes
fault: OK ended=1
failed calls: 3 or more
between retries, workers: the same
between retries, descriptors: the same
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
source lines logged during the fault: 2
cleared: OK junk=off
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID ended, reconnecting',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: Empty reply from server), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 8: an invalid gRPC frame in an HTTP/2 answer: one error over several retries, last SVID kept, recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=junk-grpc
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK junk=grpc
fault: OK ended=1
failed calls: 3 or more
between retries, workers: the same
between retries, descriptors: the same
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
source lines logged during the fault: 2
cleared: OK junk=off
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID ended, reconnecting',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (INTERNAL: bad message flags), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 9: a message over 4 MiB: the call fails once, the next one recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=oversized
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK sent=1
failed calls: 1 or more
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
reconnected: logged
source lines logged during the fault: 3
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (RESOURCE_EXHAUSTED: message larger than the limit), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 3',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 10: an expired SVID delivered: discarded once, the last SVID kept
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=expired
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK sent=1
discarded: logged
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
stream kept open: yes
source lines logged during the fault: 1
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: certificate has expired',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 11: a key that does not match the certificate: discarded once, the last SVID kept
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=mismatched
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
fault: OK sent=1
discarded: logged
during: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
stream kept open: yes
source lines logged during the fault: 1
SVID 2 served: yes
after: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[error] spiffe: X509SVIDResponse discarded: private key does not match the certificate',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 12: the SVID expires during an outage: served until it expires, then handshakes are refused; recovers
--- init
agent();
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=expires-in-outage
--- response_body
SVID 1 served: yes
before: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
SVIDs from now on: short-lived (3 + 2 x $SLOW s)
SVID 2 served: yes
fault: OK fail=unavailable ended=1
failed calls: 2 or more
between retries, workers: the same
between retries, descriptors: the same
during, valid: serves SVID 2; web gets 200 spiffe://example.org/ns/prod/sa/web
during, expired: handshake refused, no certificate served
source lines logged during the fault: 1
cleared: OK fail=off
SVID 3 served: yes
after: serves SVID 3; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same
logged once for all refused handshakes: [error] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" has expired and no new one came while SSL handshaking
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[info] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 2',
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: agent unavailable (test fault)), retrying with backoff',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 3',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']



=== TEST 13: no agent when nginx starts: handshakes refused, one error over several retries; the SVID once it is up
--- init
agent(down => 1);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    spiffe_startup_timeout 300ms;
--- http_config eval
$main::TLS_SERVER
--- config eval
$main::PROBE
--- timeout: 60
--- request
GET /probe/walk?fault=absent
--- response_body
before: handshake refused, no certificate served
failed calls: 3 or more
between retries, workers: the same
between retries, descriptors: the same
source lines logged during the fault: 2
cleared: OK up
SVID 1 served: yes
after: serves SVID 1; web gets 200 spiffe://example.org/ns/prod/sa/web
workers: the same
descriptors: the same plus a socket
logged once for all refused handshakes: [error] spiffe: no SVID to serve yet while SSL handshaking
--- grep_error_log eval
$main::Story
--- grep_error_log_out eval
main::story(
    '[error] spiffe: Workload API "unix:{sock}": FetchX509SVID failed (UNAVAILABLE: cannot connect to {sock}: No such file or directory), retrying with backoff',
    '[warn] spiffe: no SVID from "unix:{sock}" within 300 ms, serving without one until it comes',
    '[info] spiffe: SVID "spiffe://example.org/ns/edge/sa/nginx" serial *, version 1',
    '[notice] spiffe: Workload API "unix:{sock}": FetchX509SVID connected',
)
--- no_error_log eval
[qr/\[error\](?!.* spiffe: )/, '[crit]']
