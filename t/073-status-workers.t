# spiffe_status (issue 8), each worker's source on the page through agent
# faults (UNAVAILABLE, down and up, INVALID_ARGUMENT), a rotation and
# reloads (the counters kept, new workers, an old worker that still
# serves, a configuration without the page).  The fixture (agent, peers,
# the outer clients that blocks name with main::outer_http() and
# main::outer_config()) is t/lib/SpiffeStatusSuite.pm.  Blocks marked
# "Regression" failed before commit 702f420.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeStatusSuite;
use SpiffeMTLS qw(start_probe agent_cmd);
use SpiffeStatus qw(request counters delta_text);

use POSIX ();
use Time::HiRes qw(sleep time);

# the fixture's (t/lib/SpiffeStatusSuite.pm)
our ($NW, $SLOW, $PIDFILE);

# the requests around a reload: [path, count, expected status]
our %PLAN = (
    reload => [
        ['/fresh/good/allow',       3, 200],
        ['/fresh/good-int/allow',   2, 403],
        ['/fresh-nocert/allow',     1, 400],
    ],
);


# GET /probe/fault?mode=unavailable|down: the agent fails, then comes back
sub fault_report {
    my (%q) = @_;
    my ($on, $off) = $q{mode} eq 'down' ? ('down', 'up')
                                        : ("fail $q{mode}", 'fail off');
    my @out;
    my ($j0) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    my $agent = agent_svid();
    push @out, 'before: ' . states($j0);

    my $reply = agent_cmd($on);
    push @out, "agent: $on: $reply" unless $reply =~ /^OK/;
    my ($j1) = wait_page(sub { all_state($_[0], 'backoff') }, 3);
    push @out, "after $on: " . states($j1);
    for my $w (@{ $j1->{workers} }) {
        push @out, "worker $w->{worker}: " . svid_text($w, $agent),
                   "worker $w->{worker}: " . source_text($w);
    }
    push @out, 'deltas:', split(/\n/, delta_text(counters($j0),
                                                 counters($j1))),
               prom_brief();

    # at once: the worker's retry, a second after the failure, succeeds
    $reply = agent_cmd($off);
    push @out, "agent: $off: $reply" unless $reply =~ /^OK/;
    my ($j2) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    push @out, "after $off: " . states($j2);
    for my $w (@{ $j2->{workers} }) {
        push @out, "worker $w->{worker}: " . svid_text($w, $agent),
                   "worker $w->{worker}: " . source_text($w);
    }
    push @out, 'deltas:', split(/\n/, delta_text(counters($j1),
                                                 counters($j2))),
               prom_brief();
    return lines(@out);
}

# GET /probe/invalid: the agent answers INVALID_ARGUMENT: state "error",
# and no retry (until a reload) when the agent is fine again
sub invalid_report {
    my @out;
    my ($j0) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    my $agent = agent_svid();

    my $reply = agent_cmd('fail invalid_argument');
    push @out, "agent: $reply" unless $reply =~ /^OK/;
    my ($j1) = wait_page(sub { all_state($_[0], 'error') }, 3);
    push @out, 'after fail invalid_argument: ' . states($j1);
    for my $w (@{ $j1->{workers} }) {
        push @out, "worker $w->{worker}: " . svid_text($w, $agent),
                   "worker $w->{worker}: " . source_text($w);
    }
    push @out, 'deltas:', split(/\n/, delta_text(counters($j0),
                                                 counters($j1))),
               prom_brief();

    $reply = agent_cmd('fail off');
    push @out, "agent: $reply" unless $reply =~ /^OK/;
    sleep 1.5 * $SLOW;          # past the first retry of a backoff
    my $j2 = page();
    push @out, 'after fail off: ' . states($j2);
    push @out, 'deltas:', split /\n/, delta_text(counters($j1),
                                                 counters($j2));
    return lines(@out);
}

# GET /probe/rotate
sub rotate_report {
    my ($j0) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    my $old = agent_svid();
    my @out = map { "before: worker $_->{worker}: " . svid_text($_, $old) }
              @{ $j0->{workers} };

    my ($serial) = agent_cmd('rotate-svid') =~ /\bserial=(\w+)/;
    my ($j1, $ok) = wait_page(sub {
        my @w = @{ $_[0]{workers} };
        @w == $NW && !grep { ($_->{svid}{serial} // '') ne $serial } @w;
    }, 5);
    my $new = agent_svid();
    push @out, 'new serial: ' . ($serial ne $old->{serial} ? 'yes' : 'no');
    for my $w (@{ $j1->{workers} }) {
        push @out, "after: worker $w->{worker}: " . svid_text($w, $new),
                   "after: worker $w->{worker}: " . source_text($w);
    }
    push @out, 'deltas:', split(/\n/, delta_text(counters($j0),
                                                 counters($j1))),
               prom_brief();
    return lines(@out);
}

sub signal_nginx {
    my ($sig) = @_;
    my $reply = agent_cmd("signal $sig $PIDFILE");
    return $reply =~ /^OK/ ? () : ("agent: signal $sig: $reply");
}

sub wait_gone {
    my ($pids, $timeout) = @_;
    my $deadline = time + $timeout;
    while (grep { kill 0, $_ } @$pids) {
        return 0 if time > $deadline;
        sleep 0.05;
    }
    return 1;
}

# A reload is three requests of a block: GET /probe/mark, GET /probe/hup,
# then GET /probe/reloaded (or drained, dropped): the HUP and what follows
# must not be in one probe action, whose own request an old worker would
# serve until the action ends.

our (%OLD, $BASE, $HOLDER);

# GET /probe/mark[?plan=NAME][&hold=MS]: after the plan's requests, the
# workers and the counters; with hold, a request that an old worker will
# serve for MS ms after the reload
sub mark_report {
    my (%q) = @_;
    my @out;
    if ($q{plan}) {
        my ($plan) = run_plan($q{plan});
        push @out, @$plan;
    }
    my ($j) = wait_page(sub { all_state($_[0], 'connected') }, 5);
    %OLD = map { $_->{pid} => 1 } @{ $j->{workers} };
    $BASE = counters($j);
    if ($q{hold}) {
        $HOLDER = fork // die "fork: $!";
        if ($HOLDER == 0) {
            request('GET', "/ctl/status?wait_ms=$q{hold}");
            POSIX::_exit(0);
        }
        sleep 0.3;
    }
    push @out, 'workers before: ' . scalar(keys %OLD);
    return lines(@out);
}

sub new_workers {
    my ($j) = @_;
    return all_state($j, 'connected')
           && !grep { $OLD{ $_->{pid} } } @{ $j->{workers} };
}

sub old_or_new {
    my ($j) = @_;
    return join ' ', map {
        "worker $_->{worker}="
        . (!$OLD{ $_->{pid} } ? 'new' : kill(0, $_->{pid}) ? 'old'
                                                           : 'old(exited)')
    } @{ $j->{workers} };
}

# GET /probe/reloaded: the new workers, the counters since the mark
sub reloaded_report {
    my @out;
    my ($j, $ok) = wait_page(\&new_workers, 10);
    push @out, 'new workers: ' . ($ok ? 'yes' : 'no: ' . old_or_new($j));
    push @out, 'old workers exited: '
               . (wait_gone([keys %OLD], 10 * $SLOW) ? 'yes' : 'no');
    $j = page();
    push @out, workers_lines($j);
    push @out, 'deltas:', split /\n/, delta_text($BASE, counters($j));
    return lines(@out);
}

# GET /probe/drained: after a reload with an old worker held by a request,
# a rotation: which workers the page shows, then once the old one exited
sub drained_report {
    my @out;
    my ($j, $ok) = wait_page(\&new_workers, 10);
    push @out, 'new workers: ' . ($ok ? 'yes' : 'no: ' . old_or_new($j));

    my $deadline = time + 5 * $SLOW;
    my @alive;
    while (1) {
        @alive = grep { kill 0, $_ } keys %OLD;
        last if @alive <= 1 || time > $deadline;
        sleep 0.05;
    }
    push @out, 'old workers still running: ' . scalar @alive;

    # the old worker takes the rotation last: it is stopped until the new
    # ones show it (as a worker busy with its last connections would be)
    kill 'STOP', @alive;
    my ($serial) = agent_cmd('rotate-svid') =~ /\bserial=(\w+)/;
    my (undef, $took) = wait_page(sub {
        !grep { ($_->{svid}{serial} // '') ne $serial } @{ $_[0]{workers} };
    }, 5);
    push @out, 'new workers took the rotation: ' . ($took ? 'yes' : 'no');
    kill 'CONT', @alive;
    sleep 0.5 * $SLOW;
    push @out, 'after the rotation: ' . old_or_new(page());

    waitpid $HOLDER, 0;
    push @out, 'old workers exited: '
               . (wait_gone([keys %OLD], 10 * $SLOW) ? 'yes' : 'no');
    push @out, 'then: ' . old_or_new(page());
    return lines(@out);
}


# GET /probe/hup: the agent sends SIGHUP to the master; answers once every
# old worker has closed its listeners (its title says "shutting down") or
# exited, so that the block's next request goes to a new worker
sub hup_report {
    my @out = signal_nginx('HUP');
    my $deadline = time + 10 * $SLOW;
    my @busy;
    while (1) {
        @busy = grep {
            my $title = '';
            if (open my $fh, '<', "/proc/$_/cmdline") {
                local $/;
                $title = <$fh> // '';
            }
            kill(0, $_) && $title !~ /shutting down/;
        } keys %OLD;
        last if !@busy || time > $deadline;
        sleep 0.02;
    }
    push @out, @busy ? 'old workers still listening: ' . scalar @busy
                     : 'old workers shutting down';
    return lines(@out);
}

# GET /probe/write?file=PATH: the status.conf of the next config, without
# spiffe_status
sub write_report {
    my (%q) = @_;
    open my $fh, '>', $q{file} or die "$q{file}: $!";
    print {$fh} "location = /status { return 200 \"no status\\n\"; }\n";
    close $fh;
    return "written\n";
}

# GET /probe/dropped: after that reload
sub dropped_report {
    my @out;
    push @out, 'old workers exited: '
               . (wait_gone([keys %OLD], 10 * $SLOW) ? 'yes' : 'no');
    my $res = do {
        local $SpiffeStatus::TIMEOUT = 3;
        request('GET', '/status');
    };
    push @out, "/status: $res->{status} "
               . ($res->{error} ? "($res->{error})" : $res->{body} =~ s/\n\z//r);
    return lines(@out) if $res->{error};
    my ($plan) = run_plan('reload');
    push @out, @$plan;
    return lines(@out);
}

start_probe(
    fault    => \&fault_report,
    invalid  => \&invalid_report,
    rotate   => \&rotate_report,
    mark     => \&mark_report,
    reloaded => \&reloaded_report,
    drained  => \&drained_report,
    hup      => \&hup_report,
    write    => \&write_report,
    dropped  => \&dropped_report,
);

run_tests();

__DATA__

=== TEST 1: the agent fails the stream (UNAVAILABLE): every worker in backoff, last_error says why, failures; then connected again
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request
GET /probe/fault?mode=unavailable
--- response_body eval
my $err = 'FetchX509SVID failed: UNAVAILABLE: agent unavailable (test fault)';
"before: " . join(' ', ('connected') x $::NW) . "\n"
. "after fail unavailable: " . join(' ', ('backoff') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source backoff version=1 last_message=recent last_error=\"$err\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.failures +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
. "after fail off: " . join(' ', ('connected') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source connected version=2 last_message=recent last_error=\"\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.svid_updates +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
--- grep_error_log eval: $::ERRORS
--- grep_error_log_out eval
main::errors_re(('[error] spiffe: Workload API "unix:*": FetchX509SVID failed (UNAVAILABLE: agent unavailable (test fault)), retrying with backoff') x $::NW)
--- timeout: 30



=== TEST 2: the agent stops serving (down), then comes back (up)
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request
GET /probe/fault?mode=down
--- response_body_like eval
# the error depends on how the connection ends: "INTERNAL: the stream
# ended without grpc-status", "UNAVAILABLE: Send failure: Broken pipe", ...
my $text = "before: " . join(' ', ('connected') x $::NW) . "\n"
. "after down: " . join(' ', ('backoff') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source backoff version=1 last_message=recent last_error=\"FetchX509SVID failed: <ERR>\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.failures +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
. "after up: " . join(' ', ('connected') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source connected version=2 last_message=recent last_error=\"\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.svid_updates +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n";
my $re = quotemeta $text;
$re =~ s/\\<ERR\\>/(?:UNAVAILABLE|INTERNAL|UNKNOWN): [^"\\n]+/g;
qr/\A$re\z/
--- grep_error_log eval: $::ERRORS
--- grep_error_log_out eval
main::errors_re(('[error] spiffe: Workload API "unix:*": FetchX509SVID failed (*), retrying with backoff') x $::NW)
--- timeout: 30



=== TEST 3: the agent refuses the call as invalid (INVALID_ARGUMENT): state "error", no retry
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request
GET /probe/invalid
--- response_body eval
my $err = 'FetchX509SVID failed: INVALID_ARGUMENT: invalid argument (test fault)';
"after fail invalid_argument: " . join(' ', ('error') x $::NW) . "\n"
. join('', map { "worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "worker $_: source error version=1 last_message=recent last_error=\"$err\" failures=1\n" } 0 .. $::NW - 1)
. "deltas:\nsource.failures +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
. "after fail off: " . join(' ', ('error') x $::NW) . "\n"
. "deltas:\n(none)\n"
--- grep_error_log eval: $::ERRORS
--- grep_error_log_out eval
main::errors_re(('[alert] spiffe: Workload API "unix:*" refused FetchX509SVID as invalid (INVALID_ARGUMENT: invalid argument (test fault)): this is a bug in ngx_spiffe or in the agent; not retrying until nginx is reloaded') x $::NW)
--- timeout: 30



=== TEST 4: rotation: every worker shows the new serial, svid_updates and version move
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request
GET /probe/rotate
--- response_body eval
join('', map { "before: worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n" } 0 .. $::NW - 1)
. "new serial: yes\n"
. join('', map { "after: worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok\n"
                 . "after: worker $_: source connected version=2 last_message=recent last_error=\"\" failures=0\n" } 0 .. $::NW - 1)
. "deltas:\nsource.svid_updates +$::NW\n"
. "format: ok\nfamilies: as documented\nmetrics: same as json\n"
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 5: a reload (HUP) keeps the counters; the page shows the new workers
--- skip_eval: 1: $::VALGRIND
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;

        location /allow {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            alias $TEST_NGINX_HTML_DIR/ok.txt;
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
EOC
--- user_files
>>> ok.txt
ok
--- request eval
["GET /probe/mark?plan=reload",
 "GET /probe/hup",
 "GET /probe/reloaded"]
--- response_body eval
[<<"EOT", "old workers shutting down\n", <<"EOT2"]
/fresh/good/allow: 200 x3
/fresh/good-int/allow: 403 x2
/fresh-nocert/allow: 400 x1
workers before: $::NW
EOT
new workers: yes
old workers exited: yes
workers: @{[ join ',', 0 .. $::NW - 1 ]}
worker pids: distinct
@{[ join '', map { "worker $_ pid: nginx\n" } 0 .. $::NW - 1 ]}answered by: a worker
deltas:
source.svid_updates +$::NW
EOT2
--- error_log eval
qr/\[notice\] \d+#\d+: signal 1 \(SIGHUP\) received/
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 6: a reload while an old worker still serves a request, then a rotation: the old worker does not take back its slot
# Regression (fixed in 702f420): an old worker keeps its Workload API
# stream while it drains its connections, and ngx_spiffe_source_report()
# wrote the slot ngx_worker of the shared zone, which the new worker of
# that number owns: after a rotation the page showed the old (exiting,
# then dead) worker in place of the new one, until the new one's next
# message
--- skip_eval: 1: $::VALGRIND
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
EOC
--- request eval
["GET /probe/mark?hold=3000",
 "GET /probe/hup",
 "GET /probe/drained"]
--- response_body eval
my $new = join ' ', map { "worker $_=new" } 0 .. $::NW - 1;
["workers before: $::NW\n", "old workers shutting down\n",
 "new workers: yes\nold workers still running: 1\n"
 . "new workers took the rotation: yes\n"
 . "after the rotation: $new\nold workers exited: yes\nthen: $new\n"]
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 7: a reload into a config without spiffe_status: the workers keep working
# Regression (fixed in 702f420): ngx_spiffe_stats (ngx_spiffe_stats.c)
# kept pointing at the zone of the previous cycle, which nginx unmaps when
# the new configuration has no spiffe_status: every new worker died with
# SIGSEGV at its first write (ngx_spiffe_stats_begin() from
# ngx_spiffe_source_start()), and the master respawned them in a loop
--- skip_eval: 1: $::VALGRIND
--- timeout: 8
--- init
workers($::NW);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
<<'EOC' . main::outer_http()
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        spiffe_svid on;
        spiffe_verify_client on;

        location /allow {
            spiffe_allow spiffe://example.org/ns/prod/sa/web;
            alias $TEST_NGINX_HTML_DIR/ok.txt;
        }
    }
EOC
--- config eval
<<'EOC' . main::outer_config()
    include $TEST_NGINX_HTML_DIR/status.conf;
EOC
--- user_files
>>> status.conf
location = /status { spiffe_status; }
>>> ok.txt
ok
--- request eval
["GET /probe/mark",
 "GET /probe/write?file=$ENV{TEST_NGINX_HTML_DIR}/status.conf",
 "GET /probe/hup",
 "GET /probe/dropped"]
--- response_body eval
["workers before: $::NW\n", "written\n", "old workers shutting down\n",
 <<'EOT']
old workers exited: yes
/status: 200 no status
/fresh/good/allow: 200 x3
/fresh/good-int/allow: 403 x2
/fresh-nocert/allow: 400 x1
EOT
--- no_error_log
[error]
[crit]
