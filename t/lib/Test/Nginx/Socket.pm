package Test::Nginx::Socket;

# A small stand-in for openresty's Test::Nginx::Socket, used when the real
# module is not installed (it is not packaged in Debian 12).  The .t files
# append t/lib to @INC, so an installed Test::Nginx always wins.
#
# Supported (details and environment in t/lib/README.md):
#
#   exports   run_tests repeat_each workers master_on master_process_enabled
#             log_level no_shuffle no_long_string no_root_location
#             env_to_nginx add_block_preprocessor server_port server_addr
#             server_root html_dir timeout $ServerPort $ServRoot
#             add_test_cleanup_handler check_accum_error_log, and
#             Test::Base's own (plan blocks is like ok diag ...)
#   sections  main_config http_config config request more_headers
#             response_body response_body_like response_headers
#             response_headers_like error_code error_log no_error_log
#             grep_error_log grep_error_log_out must_die init wait timeout
#             user_files skip_nginx skip_eval, markers ONLY SKIP LAST
#   filters   all of Test::Base's (eval, chomp, chop, ...)
#
# Anything else -- an unknown section, a block without "--- config", an
# "eval" filter that dies, an undefined $TEST_NGINX_* variable -- FAILS
# the block with a test naming the problem: what the real runner would
# refuse, or run differently, is refused here.  A worker crash, a sanitizer report or a valgrind error
# fails the block whatever it expects.

use strict;
use warnings;

use Test::Base -base;
use Test::Base::Filter ();
use IO::Socket::INET;
use IO::Select;
use POSIX qw(WNOHANG);
use Fcntl qw(:flock);
use Time::HiRes qw(time sleep);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Basename qw(dirname);

our $VERSION = '0.01';

our @EXPORT = qw(
    run_tests repeat_each workers master_on master_process_enabled
    log_level no_shuffle no_long_string no_root_location env_to_nginx
    add_block_preprocessor server_port server_addr server_root html_dir
    timeout $ServerPort $ServRoot add_test_cleanup_handler
    check_accum_error_log
);

our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                  || 1984;
our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT}
                                    || 't/servroot');
our $ServerAddr = '127.0.0.1';

my ($RepeatEach, $Workers, $MasterOn, $NoRootLocation, $Timeout) =
   (1, 1, 0, 0, 3);
my $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
my $Valgrind = $ENV{TEST_NGINX_USE_VALGRIND};
my $Asan = $ENV{TEST_NGINX_USE_ASAN};
# seconds nginx may take to start, and to stop (under ASan: whole stacks,
# when asked for with ASAN_OPTIONS=fast_unwind_on_malloc=0, are slow)
my $StartStop = $Valgrind ? 120 : $Asan ? 60 : 10;
my $NoClean = $ENV{TEST_NGINX_NO_CLEAN};
my $ValgrindSupp = File::Spec->rel2abs('t/valgrind.supp');
my (@EnvToNginx, @Preprocessors, $RunningPid, $RunningIsChild, $Lock);
my (@TestCleanupHandlers, $LogPos);
my $AccumLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};

# sections in which $TEST_NGINX_* variables are replaced, the real
# runner's: in the others they stay as written
my @Expanded = qw(
    main_config http_config config request user_files response_body
    grep_error_log_out
);

my %Supported = map { $_ => 1 } @Expanded, qw(
    more_headers response_body_like response_headers response_headers_like
    error_code error_log no_error_log grep_error_log
    must_die init wait timeout skip_nginx skip_eval ONLY SKIP LAST
);

# what Test::Base keeps in a block object besides the sections
my %Internal = map { $_ => 1 } qw(
    name description seq_num is_filtered blocks_object original_values
);

# a crash must never pass, whatever the block expects
my @CrashPatterns = (qr/exited on signal/, qr/AddressSanitizer/,
                     qr/LeakSanitizer/, qr/\d+:\d+: runtime error: /);


# ---- settings exported to the .t files ---------------------------------

sub repeat_each (@) { $RepeatEach = shift if @_; $RepeatEach }
sub workers (@) { $Workers = shift if @_; $Workers }
sub master_on () { $MasterOn = 1 }
sub master_process_enabled (@) { $MasterOn = shift ? 1 : 0 if @_; $MasterOn }
sub log_level (@) { $LogLevel = shift if @_; $LogLevel }
sub no_shuffle () { 1 }         # blocks always run in file order
sub no_long_string () { 1 }     # plain is() is used; nothing to turn off
sub no_root_location () { $NoRootLocation = 1 }
sub env_to_nginx (@) { push @EnvToNginx, @_ }
sub add_block_preprocessor (&) { unshift @Preprocessors, shift }  # as real
sub server_port (@) { $ServerPort = shift if @_; $ServerPort }
sub server_addr (@) { $ServerAddr = shift if @_; $ServerAddr }
sub server_root () { $ServRoot }
sub html_dir () { "$ServRoot/html" }
sub timeout (@) { $Timeout = shift if @_; $Timeout }
sub check_accum_error_log () { $AccumLog = 1 }
# run after each block, before its nginx stops (the real runner: later)
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

sub _export_env {
    $ENV{TEST_NGINX_SERVROOT} = $ServRoot;
    $ENV{TEST_NGINX_HTML_DIR} = html_dir();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
}

_export_env();

# AddressSanitizer's reports from any nginx a block runs, a suite's own
# "nginx -t" included, go to files of the servroot that _check_crash
# reads; UBSan's go to stderr, that is to stderr.log or error.log
if ($Asan) {
    $ENV{ASAN_OPTIONS} = join ':', grep { defined && $_ ne '' }
                         $ENV{ASAN_OPTIONS}, "log_path=$ServRoot/logs/asan";
}


# ---- the block loop -----------------------------------------------------

sub run_tests () {
    _export_env();

    my $bin = _nginx_binary();
    if (!defined $bin) {
        fail("nginx binary not found: set TEST_NGINX_BINARY");
        return;
    }

    # runs sharing a servroot (prove -j) would kill each other's nginx;
    # the lock sits beside the servroot, which the real runner wants to
    # hold nothing but its own folders
    make_path(dirname($ServRoot));
    if (!open($Lock, '>>', "$ServRoot.lock")) {
        fail("cannot open $ServRoot.lock: $!");
        return;
    }
    if (!flock($Lock, LOCK_EX | LOCK_NB)) {
        diag("waiting for another test run using $ServRoot");
        flock($Lock, LOCK_EX);
    }

    # filters run per block, so that a dying "eval" fails its block only
    filters_delay(1);
    my @blocks = blocks();

    for my $i (0 .. $#blocks) {
        my $block = $blocks[$i];
        my $name = $block->name;

        my $ok = eval {
            $block->run_filters unless $block->is_filtered;
            $_->($block) for @Preprocessors;
            1;
        };
        if (!$ok) {
            fail("$name - cannot prepare the block");
            diag($@);
            next;
        }

        my @bad = grep { !$Supported{$_} && !$Internal{$_} && !/^_/ }
                  sort keys %$block;
        if (@bad) {
            fail("$name - section(s) not supported by the t/lib runner: "
                 . join(', ', map { "--- $_" } @bad));
            next;
        }

        # the real runner reuses the previous block's nginx
        if (!defined $block->config) {
            fail("$name - no '--- config' section");
            next;
        }

        for my $rep (1 .. $RepeatEach) {
            _run_block($bin, $block, $rep,
                       $i == $#blocks && $rep == $RepeatEach);
        }
    }
}

sub _run_block {
    my ($bin, $block, $rep, $last) = @_;
    my $name = $block->name;

    if (my ($n, $why) = _skip_reason($bin, $block)) {
        SKIP: { skip("$name - $why", $n) }
        return;
    }

    _kill_stale();

    # wipe only what looks like a servroot, never a mistyped directory
    my @foreign = grep { !m{/(?:conf|logs|html|\w+_temp)$} }
                  glob("$ServRoot/*");
    if (@foreign) {
        fail("$name - $ServRoot holds $foreign[0]: not a servroot, "
             . "refusing to wipe it");
        return;
    }
    remove_tree(glob("$ServRoot/*"));
    make_path("$ServRoot/conf", "$ServRoot/logs", html_dir());

    my ($v, $err) = _sections($block, grep { !/^[A-Z]/ } keys %Supported);
    if ($err) {
        fail("$name - $err");
        return;
    }
    my %v = %$v;

    $err = _write_user_files($v{user_files}) || _write_config(\%v);
    if ($err) {
        fail("$name - $err");
        return;
    }

    my ($pid, $start_err) = _start($bin);

    if (defined $block->must_die) {
        if (defined $pid) {
            fail("$name - nginx should have failed to start");
            _stop($pid, $name);
        } else {
            pass("$name - die as expected");
        }
        _check_log($name, \%v, _slurp("$ServRoot/logs/stderr.log")
                               . _slurp("$ServRoot/logs/error.log"), $rep);
        _check_crash($name, undef);
        return;
    }

    if (!defined $pid) {
        fail("$name - nginx failed to start: $start_err");
        diag(_tail(_slurp("$ServRoot/logs/stderr.log")
                   . _slurp("$ServRoot/logs/error.log"), 30));
        _check_crash($name, undef);
        return;
    }

    # as the real runner does: after the start, before the requests, so
    # what it sets in %ENV does not reach this block's config
    if (defined(my $code = $block->init)) {
        if (!eval "package main; $code; 1") {
            fail("$name - --- init died");
            diag($@);
        }
    }

    my $tmo = $block->timeout;
    $tmo = $Timeout unless defined $tmo && $tmo =~ /^\s*[\d.]+\s*$/;
    $tmo *= 10 if $Valgrind;

    # the log is checked after each request, on what it logged since the
    # previous check (all of it after check_accum_error_log())
    $LogPos = 0;
    my $wait = $block->wait;
    _run_requests($name, \%v, $tmo, sub {
        sleep($wait) if $wait;
        _check_log($name, \%v, _log_since(), $rep);
    }) if defined $v{request};

    sleep($wait) if $wait;

    if (!_alive($pid)) {
        fail("$name - nginx (pid $pid) died during the test");
        diag(_tail(_slurp("$ServRoot/logs/error.log"), 30));
        $RunningPid = undef;
    }

    _check_log($name, \%v, _log_since(), $rep);
    $_->($block) for @TestCleanupHandlers;

    if ($last && $NoClean) {
        diag("TEST_NGINX_NO_CLEAN: nginx (pid $pid) left running");
        return;
    }

    my $exit_ok = $RunningPid ? _stop($pid, $name) : 0;
    _check_crash($name, $exit_ok ? $pid : undef);
}

sub _skip_reason {
    my ($bin, $block) = @_;

    if (defined(my $s = $block->skip_eval)) {
        my ($n, $code) = $s =~ /^\s*(\d+)\s*:\s*(.*?)\s*$/s
            or return (1, "bad --- skip_eval (want 'N: perl code')");
        my $r = eval "package main; $code";
        return (1, "--- skip_eval died: $@") if $@;
        return ($n, "skip_eval: $code") if $r;
    }

    if (defined(my $s = $block->skip_nginx)) {
        my ($n, $op, $want) =
            $s =~ /^\s*(\d+)\s*:\s*(<=?|>=?|==|!=)\s*([\d.]+)\s*$/
            or return (1, "bad --- skip_nginx (want 'N: < 1.2.3')");
        my $ver = _nginx_version($bin);
        my ($h, $w) = (_version_num($ver), _version_num($want));
        my %cmp = ('<' => $h < $w, '<=' => $h <= $w, '>' => $h > $w,
                   '>=' => $h >= $w, '==' => $h == $w, '!=' => $h != $w);
        return ($n, "nginx $ver $op $want") if $cmp{$op};
    }

    return;
}

# the block's sections by name, $TEST_NGINX_* replaced where the real
# runner replaces them; or (undef, error)
sub _sections {
    my ($block, @names) = @_;
    my (%v, @missing, %seen);
    my %exp = map { $_ => 1 } @Expanded;

    for my $sec (@names) {
        my $val = $block->$sec;
        next unless defined $val;
        $v{$sec} = $exp{$sec} ? _expand($val, \@missing) : $val;
    }
    return (undef, "no environment variable "
                   . join(', ', grep { !$seen{$_}++ } @missing) . " defined")
        if @missing;
    return \%v;
}

sub _expand {
    my ($val, $missing) = @_;

    return [map { _expand($_, $missing) } @$val] if ref $val eq 'ARRAY';
    return $val if ref $val;

    $val =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{
        defined $ENV{$1} ? $ENV{$1} : do { push @$missing, $1; "\$$1" }
    }ge;
    return $val;
}


# ---- nginx.conf, user files --------------------------------------------

sub _write_config {
    my ($v) = @_;
    my ($main, $http, $config) =
        map { $v->{$_} // '' } qw(main_config http_config config);
    my $daemon = $Valgrind ? 'off' : 'on';
    my $master = $MasterOn && !$Valgrind ? 'on' : 'off';
    my $html = html_dir();

    my $top = join '', map { "load_module $_;\n" }
                       split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';

    # workers must read test files and connect to test sockets
    $top .= "user root;\n" if $> == 0 && $main !~ /^\s*user\s/m;

    my $env = join '', map { "env $_;\n" } @EnvToNginx;

    # the compiled-in temp paths, under /var/lib/nginx, are root's
    my $temp = $> == 0 ? '' : join '',
        map { "    ${_}_temp_path $ServRoot/${_}_temp;\n" }
            qw(client_body proxy fastcgi uwsgi scgi);

    my $root = $NoRootLocation ? '' : <<"EOC";
        location / {
            root $html;
            index index.html index.htm;
        }
EOC

    return _spew("$ServRoot/conf/nginx.conf", <<"EOC");
${top}worker_processes $Workers;
daemon $daemon;
master_process $master;
error_log logs/error.log $LogLevel;
pid logs/nginx.pid;
$env
$main

events {
    accept_mutex off;
    worker_connections 1024;
}

http {
    access_log logs/access.log;
    default_type text/plain;
    keepalive_timeout 68;
$temp
$http

    server {
        listen $ServerPort;
        server_name localhost;
        client_max_body_size 30M;

$config

$root    }
}
EOC
}

sub _write_user_files {
    my ($spec) = @_;
    my @files;

    return undef unless defined $spec;

    if (ref $spec eq 'ARRAY') {
        @files = map { ref $_ eq 'ARRAY' ? [@$_[0, 1]] : [$_, ''] } @$spec;
    } elsif (ref $spec) {
        return "--- user_files must be text or an array of [name, body]";
    } else {
        for my $chunk (split /^>>>[ \t]*/m, $spec) {
            next unless $chunk =~ /\S/;
            my ($head, $body) = split /\n/, $chunk, 2;
            push @files, [(split ' ', $head)[0], $body // ''];
        }
    }

    for my $f (@files) {
        my ($file, $body) = @$f;
        return "bad file name in --- user_files"
            if !defined $file || $file =~ m{(?:^|/)\.\.(?:/|$)};
        my $path = html_dir() . "/$file";
        make_path(dirname($path));
        my $err = _spew($path, $body // '');
        return $err if $err;
    }
    return undef;
}


# ---- starting and stopping nginx ---------------------------------------

sub _nginx_binary {
    return $ENV{TEST_NGINX_BINARY} if $ENV{TEST_NGINX_BINARY};
    for my $dir (File::Spec->path) {
        return "$dir/nginx" if -x "$dir/nginx" && !-d _;
    }
    return -x '/usr/sbin/nginx' ? '/usr/sbin/nginx' : undef;
}

my %Version;

sub _nginx_version {
    my ($bin) = @_;
    return $Version{$bin} //= `'$bin' -v 2>&1` =~ m{nginx/([\d.]+)}
                               ? $1 : '0';
}

sub _version_num {
    my @p = (split(/\./, shift), 0, 0, 0);
    return $p[0] * 1e6 + $p[1] * 1e3 + $p[2];
}

# Start nginx; return its pid, or (undef, reason) if it did not start.
sub _start {
    my ($bin) = @_;
    my @cmd = ($bin, '-p', "$ServRoot/", '-c', 'conf/nginx.conf');

    if ($Valgrind) {
        # nginx unloads the modules before the exit-time leak check:
        # --keep-debuginfo names their functions all the same
        my @vg = ('valgrind', '--tool=memcheck', '--leak-check=full',
                  '--show-leak-kinds=definite',
                  '--errors-for-leak-kinds=definite', '--num-callers=30',
                  '--keep-debuginfo=yes',
                  "--log-file=$ServRoot/logs/valgrind.%p.log");
        push @vg, "--suppressions=$ValgrindSupp" if -f $ValgrindSupp;
        push @vg, split ' ', $Valgrind if $Valgrind =~ /[^\d\s]/;
        unshift @cmd, @vg;
    }

    my $child = fork;
    return (undef, "fork: $!") unless defined $child;

    if ($child == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$ServRoot/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        exec { $cmd[0] } @cmd or print STDERR "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }

    my $deadline = time + $StartStop;
    my $exited;

    # daemon on: the launcher exits once nginx has forked; under
    # valgrind (daemon off) the child is nginx itself
    while (time < $deadline) {
        if (!$exited && waitpid($child, WNOHANG) == $child) {
            return (undef, _status_str($?)) if $? || $Valgrind;
            $exited = 1;
        }
        if (_slurp("$ServRoot/logs/nginx.pid") =~ /^(\d+)\s*$/) {
            ($RunningPid, $RunningIsChild) = ($1, $Valgrind ? 1 : 0);
            waitpid($child, 0) unless $exited || $Valgrind;
            return $1;
        }
        sleep 0.02;
    }

    if (!$exited) {
        kill 'KILL', $child;
        waitpid($child, 0);
    }
    return (undef, "no pid file after the startup timeout");
}

sub _status_str {
    my ($st) = @_;
    return $st & 127 ? "killed by signal " . ($st & 127)
                     : "exit code " . ($st >> 8);
}

sub _alive {
    my ($pid) = @_;

    if ($RunningIsChild) {
        return 1 if waitpid($pid, WNOHANG) == 0;
        $RunningPid = undef;
        return 0;
    }

    # a daemon whose zombie nobody reaps still answers kill 0
    return kill(0, $pid) && _slurp("/proc/$pid/stat") !~ /^\d+ \(.*\) [ZX]/s;
}

# SIGQUIT, wait for the master to exit; returns true on a clean exit.
# Without a master, nginx looks at its signal flags only between two event
# waits: a signal handled just before an epoll_wait() with no timer to
# end it is not seen until the next event, which may never come (under
# valgrind, which delivers signals late, one stop in a few hangs so).
# The signal is sent again every second then.
sub _stop {
    my ($pid, $name) = @_;
    my $deadline = time + $StartStop;
    my $single = !$MasterOn || $Valgrind;
    my $again = time + 1;

    kill 'QUIT', $pid;
    while (time < $deadline) {
        if (!_alive($pid)) {
            $RunningPid = undef;
            return 1 unless $RunningIsChild && $?;
            fail("$name - nginx exited badly: " . _status_str($?));
            return 0;
        }
        if ($single && time > $again) {
            kill 'QUIT', $pid;
            $again = time + 1;
        }
        sleep 0.02;
    }

    kill 'KILL', $pid;
    sleep 0.2 while _alive($pid);
    $RunningPid = undef;
    fail("$name - nginx did not exit on SIGQUIT, killed");
    diag(_tail(_slurp("$ServRoot/logs/error.log"), 30));
    return 0;
}

sub _kill_stale {
    if ($RunningPid) {
        kill 'KILL', $RunningPid;
        sleep 0.05 while _alive($RunningPid);
    }

    return unless _slurp("$ServRoot/logs/nginx.pid") =~ /^(\d+)\s*$/;
    my $pid = $1;
    $RunningIsChild = 0;
    return unless _alive($pid);

    kill 'QUIT', $pid;
    my $deadline = time + 5;
    sleep 0.05 while _alive($pid) && time < $deadline;
    kill 'KILL', $pid if _alive($pid);
}

END {
    kill 'QUIT', $RunningPid if $RunningPid && !$NoClean;
}


# ---- the HTTP client ----------------------------------------------------

sub _run_requests {
    my ($name, $v, $tmo, $between) = @_;
    my $req = $v->{request};
    my @reqs = ref $req eq 'ARRAY' ? @$req : ($req);

    for my $i (0 .. $#reqs) {
        my $sfx = @reqs > 1 ? " (req $i)" : '';
        my %exp;

        # an expectation given as an array has one entry per request
        for my $sec (qw(more_headers error_code response_body
                        response_body_like response_headers
                        response_headers_like))
        {
            my $e = $v->{$sec};
            if (ref $e eq 'ARRAY') {
                if (@$e != @reqs) {
                    fail("$name - --- $sec has " . @$e . " entries for "
                         . @reqs . " requests");
                    return;
                }
                $e = $e->[$i];
            }
            $exp{$sec} = $e;
        }

        my ($raw, $meth, $close) = _build_request($reqs[$i],
                                                  $exp{more_headers});
        if (!defined $raw) {
            fail("$name - $meth$sfx");
            return;
        }

        my $res = _http($raw, $meth, $tmo, $close);
        diag("$name - request failed: $res->{error}$sfx") if $res->{error};

        _check_response($name, $sfx, $res, \%exp);
        $between->() if $i < $#reqs;
    }
}

# returns (raw request, method, sent "Connection: close") or (undef, error)
sub _build_request {
    my ($req, $more) = @_;

    return (undef, "--- request must be text") if ref $req;

    $req =~ s/\A(?:\s*#[^\n]*\n|\s+)+//;
    my ($first, $body) = split /\n/, $req, 2;
    my ($meth, $uri, $ver) = split ' ', $first // '';
    return (undef, "--- request is empty") unless defined $meth;

    $uri //= '/';
    $ver //= 'HTTP/1.1';
    $body //= '';

    my ($hdrs, %has) = ('');
    for my $line (split /\n+/, $more // '') {
        next if $line =~ /^\s*(?:#|$)/;
        my ($k, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $has{lc $k} = lc $val;
        $hdrs .= "$k: $val\r\n";
    }

    if ($body ne '' && ($has{'transfer-encoding'} // '') ne 'chunked'
        && !exists $has{'content-length'})
    {
        $body =~ s/^\s+|\s+$//gs;
        $hdrs .= "Content-Length: " . length($body) . "\r\n";
    }
    $hdrs = "Host: localhost\r\n$hdrs" unless exists $has{host};
    $hdrs .= "Connection: close\r\n" unless exists $has{connection};

    return ("$meth $uri $ver\r\n$hdrs\r\n$body", $meth,
            ($has{connection} // 'close') eq 'close');
}

# One request on a new connection; returns {status, headers, body, error}.
# After "Connection: close" read up to EOF: nginx closes the connection
# only once the request is finalized, so its log lines are written then.
sub _http {
    my ($raw, $meth, $tmo, $to_eof) = @_;
    my $deadline = time + $tmo;

    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $ServerPort,
                                     Proto => 'tcp', Timeout => $tmo)
        or return { error => "connect to $ServerAddr:$ServerPort: $@" };
    binmode $sock;

    local $SIG{PIPE} = 'IGNORE';
    my $sel = IO::Select->new($sock);

    my $off = 0;
    while ($off < length $raw) {
        last unless $sel->can_write($deadline - time);
        my $n = syswrite($sock, $raw, length($raw) - $off, $off);
        last unless $n;         # a response may still have been sent
        $off += $n;
    }

    my ($buf, $res, $done) = ('');
    while (!$done) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) {
            ($res) = _parse_response($buf, $meth);
            $res ||= {};
            $res->{error} = "timeout after ${tmo}s";
            return $res;
        }
        last unless sysread($sock, $buf, 65536, length $buf);
        ($res, $done) = _parse_response($buf, $meth);
        $done = 0 if $to_eof;
    }
    close $sock;

    ($res) = _parse_response($buf, $meth, 1);
    return $res || { error => "no response (" . length($buf) . " bytes)" };
}

# returns (response, complete), or () while the header is incomplete
sub _parse_response {
    my ($buf, $meth, $eof) = @_;

    my $end = index($buf, "\r\n\r\n");
    return if $end < 0;

    my ($line, @lines) = split /\r\n/, substr($buf, 0, $end);
    my $rest = substr($buf, $end + 4);
    my $h = {};
    my $res = { headers => $h, body => '' };

    if ($line !~ m{^HTTP/\d\.\d\s+(\d{3})}) {
        $res->{error} = "bad status line: $line";
        return ($res, 1);
    }
    $res->{status} = $1;

    for (@lines) {
        my ($k, $val) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $h->{lc $k} = defined $h->{lc $k} ? "$h->{lc $k}, $val" : $val;
    }

    return ($res, 1)
        if $meth eq 'HEAD' || $res->{status} =~ /^(?:1..|204|304)$/;

    my ($done, $body) = (0, '');

    if (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        while ($rest =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            if ($len == 0) {
                $done = 1;
                last;
            }
            last if length($rest) < $len + 2;
            $body .= substr($rest, 0, $len);
            substr($rest, 0, $len + 2) = '';
        }

    } elsif (defined(my $len = $h->{'content-length'})) {
        $body = substr($rest, 0, $len);
        $done = length($rest) >= $len;

    } else {
        $body = $rest;
        $done = $eof;
    }

    $res->{body} = $body;
    $res->{error} = "truncated response body" if $eof && !$done;
    return ($res, $done);
}


# ---- expectations -------------------------------------------------------

sub _check_response {
    my ($name, $sfx, $res, $exp) = @_;

    my $code = $exp->{error_code} // 200;
    $code =~ s/^\s+|\s+$//g;
    is($res->{status}, $code, "$name - status code ok$sfx");

    for my $sec (qw(response_headers response_headers_like)) {
        for my $line (split /\n+/, $exp->{$sec} // '') {
            next if $line =~ /^\s*(?:#|$)/;

            if ($line =~ /^\s*!\s*([^\s:]+)\s*$/) {
                ok(!defined $res->{headers}{lc $1},
                   "$name - header $1 not present$sfx");
                next;
            }

            my ($k, $want) = $line =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/;
            if (!defined $k) {
                fail("$name - bad --- $sec line: $line");
                next;
            }
            my $got = $res->{headers}{lc $k} // '';

            if ($sec eq 'response_headers') {
                is($got, $want, "$name - header $k ok$sfx");
            } else {
                like($got, qr/^$want$/, "$name - header $k like ok$sfx");
            }
        }
    }

    if (defined(my $want = $exp->{response_body})) {
        if (ref $want eq 'Regexp') {
            like($res->{body}, $want,
                 "$name - response_body - like expected$sfx");
        } else {
            is($res->{body}, $want,
               "$name - response_body - response is expected$sfx");
        }
    }

    if (defined(my $want = $exp->{response_body_like})) {
        like($res->{body}, ref $want ? $want : qr/$want/s,
             "$name - response_body_like - response is expected$sfx");
    }
}

sub _patterns {
    my ($v) = @_;
    return () unless defined $v;
    return @$v if ref $v eq 'ARRAY';
    return ($v) if ref $v;
    return grep { /\S/ } split /\n+/, $v;
}

# the error log from where the last check stopped, or all of it
sub _log_since {
    my $log = _slurp("$ServRoot/logs/error.log");
    my $from = $AccumLog ? 0 : $LogPos;
    $LogPos = length $log;
    return substr($log, $from < length $log ? $from : length $log);
}

# the real runner's function of that name, which suites call from a
# cleanup handler: the block's log expectations, checked now
sub check_error_log ($$$$) {
    my ($block, $res, $dry_run, $rep_idx) = @_;
    my ($v, $err) = _sections($block, qw(error_log no_error_log
                                         grep_error_log grep_error_log_out));
    if ($err) {
        fail($block->name . " - $err");
        return;
    }
    _check_log($block->name, $v, _log_since(), $rep_idx + 1);
}

sub _check_log {
    my ($name, $v, $log, $rep) = @_;
    my @lines = split /\n/, $log;
    my $match = sub {
        my ($pat) = @_;
        return ref $pat ? grep { $_ =~ $pat } @lines
                        : grep { index($_, $pat) >= 0 } @lines;
    };

    for my $pat (_patterns($v->{error_log})) {
        ok(scalar $match->($pat),
           "$name - pattern \"$pat\" matches a line in error.log");
    }

    for my $pat (_patterns($v->{no_error_log})) {
        my @hits = $match->($pat);
        ok(!@hits,
           "$name - pattern \"$pat\" should not match any line in error.log")
            or diag("matched: $hits[0]");
    }

    my $pat = $v->{grep_error_log};
    return unless defined $pat;

    my $want = $v->{grep_error_log_out};
    if (!defined $want) {
        fail("$name - --- grep_error_log without --- grep_error_log_out");
        return;
    }
    $want = $want->[$rep - 1] if ref $want eq 'ARRAY';

    my $got = '';
    for my $line (@lines) {
        $got .= "$&\n" if ref $pat ? $line =~ $pat : $line =~ /\Q$pat\E/;
    }

    if (ref $want eq 'Regexp') {
        like($got, $want, "$name - grep_error_log_out (repeat $rep)");
    } else {
        is($got, $want // '', "$name - grep_error_log_out (repeat $rep)");
    }
}

# After nginx stopped: crashes, sanitizers, valgrind.  $pid is set when
# nginx exited on our SIGQUIT and so must have logged its "exit" notice.
sub _check_crash {
    my ($name, $pid) = @_;
    my $log = _slurp("$ServRoot/logs/error.log")
              . _slurp("$ServRoot/logs/stderr.log");

    for my $re (@CrashPatterns) {
        my ($line) = grep { $_ =~ $re } split /\n/, $log;
        next unless defined $line;
        fail("$name - nginx crashed or a sanitizer fired");
        diag($line);
    }

    if (defined $pid && $LogLevel =~ /^(?:debug|info|notice)$/
        && $log !~ /\[notice\] $pid#\d+: exit\s*$/m)
    {
        fail("$name - nginx (pid $pid) stopped without its exit notice");
        diag(_tail($log, 20));
    }

    # TEST_NGINX_USE_ASAN: the log_path files, one per process reporting
    for my $file (glob "$ServRoot/logs/asan.*") {
        my $report = _slurp($file);
        next unless $report =~ /\S/;
        fail("$name - sanitizer report in $file");
        diag(_tail($report, 200));
    }

    return unless $Valgrind;

    for my $file (glob "$ServRoot/logs/valgrind.*.log") {
        my $vlog = _slurp($file);
        my ($errs) = $vlog =~ /ERROR SUMMARY: ([\d,]+) errors/;
        my ($lost) = $vlog =~ /definitely lost: ([\d,]+) bytes/;
        tr/,//d for grep { defined } $errs, $lost;
        $lost //= 0;

        if (!defined $errs) {
            fail("$name - valgrind log $file has no ERROR SUMMARY");
        } elsif ($errs > 0 || $lost > 0) {
            fail("$name - valgrind: $errs errors, "
                 . "$lost bytes definitely lost");
        } else {
            next;
        }
        $vlog =~ s/\A.*?^==\d+== Command:[^\n]*\n//ms;
        diag(_tail($vlog, 200));
    }
}


# ---- small helpers ------------------------------------------------------

sub _slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh> // '';
}

sub _spew {
    my ($file, $data) = @_;
    open my $fh, '>', $file or return "cannot write $file: $!";
    print $fh $data;
    close $fh or return "cannot write $file: $!";
    return undef;
}

sub _tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    splice @l, 0, @l - $n if @l > $n;
    return join "\n", @l;
}


# Test::Base's "eval" filter returns $@ as the section's value when the
# code dies, which would let a broken expectation pass; ours dies.
package Test::Nginx::Socket::Filter;

our @ISA = ('Test::Base::Filter');

sub eval {
    my $self = shift;
    my @r = CORE::eval(shift);
    die "--- section with an eval filter died: $@" if $@;
    return @r;
}

1;
