package SpiffeMTLS;

# Shared pieces of the mTLS suites (t/02*-mtls-*.t), lua-nginx-module style:
# the block's --- http_config holds the TLS server under test, listening on
# unix:$TEST_NGINX_SERVROOT/logs/tls.sock (and 127.0.0.1:$TEST_NGINX_TLS_PORT
# for curl), and names outer_upstreams(); its --- config names
# outer_locations(), the plain locations through which nginx itself is the
# mTLS client:
#
#   /as/NAME/...      proxy_pass https://<upstream: tls.sock>/... presenting
#                     peer NAME's certificate (TLS 1.2 or 1.3: 1.3)
#   /as12/NAME/...    the same, TLS 1.2 only
#   /as13/NAME/...    the same, TLS 1.3 only
#   /fresh/NAME/...   the same, proxy_ssl_session_reuse off (every request
#                     is a full handshake); /fresh12/NAME/: TLS 1.2 only
#   /nocert/... /nocert12/...   no client certificate
#   /ctl/CMD...       the test agent's HTTP control interface
#   /probe/ACTION     the probe (below)
#
# The probe is a small HTTP server in a child process, on a unix socket,
# that runs Perl actions registered by the test file (curl, openssl
# s_client, agent commands under load) and answers with their text, so that
# a block checks them with --- response_body like any other request.
# The built-in action "echo" answers with the request's X-* header lines:
# the TLS server under test proxies to it as its backend.

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(sha256_hex);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);

use Exporter 'import';
our @EXPORT_OK = qw(add_peer peer_cert peer_key outer_upstreams
                    outer_locations start_probe agent_cmd http_get curl
                    served_cert wait_served start_load stop_load
                    leaf_sha256 cert_serial slurp wait_lines);

my (%peers, @order);

# the TCP TLS listener, for curl
$ENV{TEST_NGINX_TLS_PORT} //= ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 1;

# add_peer(NAME, CERT, KEY): a client identity the outer locations present
sub add_peer {
    my ($name, $cert, $key) = @_;
    croak "peer $name: no file $cert" unless -r $cert;
    croak "peer $name: no file $key" unless -r $key;
    croak "bad peer name $name" unless $name =~ /^[\w.-]+\z/;
    push @order, $name unless $peers{$name};
    $peers{$name} = [$cert, $key];
}

sub peer_cert { $peers{$_[0]} ? $peers{$_[0]}[0] : croak "no peer $_[0]" }
sub peer_key  { $peers{$_[0]} ? $peers{$_[0]}[1] : croak "no peer $_[0]" }

sub tls_sock { "$ENV{TEST_NGINX_SERVROOT}/logs/tls.sock" }

# nginx keeps the TLS session to reuse per upstream, and every proxy_pass
# to the same "unix:" URL shares one implicit upstream: each location gets
# an upstream of its own, or it would resume another peer's session.

sub outer_upstreams {
    my $conf = '';
    for my $u (_outer()) {
        $conf .= "    upstream $u->{upstream} {\n"
                 . "        server unix:\$TEST_NGINX_SERVROOT/logs/tls.sock;\n"
                 . "    }\n";
    }
    return $conf;
}

sub outer_locations {
    my $conf = '';
    for my $u (_outer()) {
        $conf .= "    location $u->{location} {\n"
                 . "        proxy_pass https://$u->{upstream}/;\n"
                 . join('', map { "        $_;\n" } @{ $u->{directives} })
                 . "    }\n";
    }

    $conf .= <<'EOC' if defined $ENV{TEST_NGINX_AGENT_CONTROL};
    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
        proxy_read_timeout 60s;
    }
EOC

    $conf .= <<'EOC' if defined $ENV{TEST_NGINX_PROBE};
    location /probe/ {
        proxy_pass http://unix:$TEST_NGINX_PROBE:;
        proxy_read_timeout 60s;
    }
EOC

    return $conf;
}

sub _outer {
    my @out;

    # nginx 1.22 offers TLS 1.0 to 1.2 to upstreams by default
    my %variant = (
        as     => ['proxy_ssl_protocols TLSv1.2 TLSv1.3'],
        as12   => ['proxy_ssl_protocols TLSv1.2'],
        as13   => ['proxy_ssl_protocols TLSv1.3'],
        fresh  => ['proxy_ssl_protocols TLSv1.2 TLSv1.3',
                   'proxy_ssl_session_reuse off'],
        fresh12 => ['proxy_ssl_protocols TLSv1.2',
                    'proxy_ssl_session_reuse off'],
    );

    for my $v (sort keys %variant) {
        for my $name (@order) {
            my ($cert, $key) = @{ $peers{$name} };
            (my $id = "${v}_$name") =~ tr/.-/__/;
            push @out, { upstream => "tls_$id", location => "/$v/$name/",
                         directives => [@{ $variant{$v} },
                                        "proxy_ssl_certificate $cert",
                                        "proxy_ssl_certificate_key $key"] };
        }
    }

    push @out, { upstream => 'tls_nocert', location => '/nocert/',
                 directives => ['proxy_ssl_protocols TLSv1.2 TLSv1.3'] },
               { upstream => 'tls_nocert12', location => '/nocert12/',
                 directives => ['proxy_ssl_protocols TLSv1.2'] };

    return @out;
}

# SHA-256 (lowercase hex) of the DER of the first certificate of a PEM file
sub leaf_sha256 {
    my ($pem) = @_;
    open my $fh, '-|', 'openssl', 'x509', '-in', $pem, '-outform', 'DER'
        or croak "openssl: $!";
    binmode $fh;
    local $/;
    my $der = <$fh>;
    close $fh or croak "openssl x509 -in $pem failed";
    return sha256_hex($der);
}

# serial of the first certificate of a PEM file or PEM text, lowercase hex
# without leading zeros (the agent prints whole bytes)
sub cert_serial {
    my ($pem) = @_;
    my $out;
    if ($pem =~ /-----BEGIN/) {
        $out = _run_in($pem, 'openssl', 'x509', '-noout', '-serial');
    } else {
        $out = _run_in(undef, 'openssl', 'x509', '-in', $pem, '-noout',
                       '-serial');
    }
    return undef unless defined $out && $out =~ /serial=([0-9A-Fa-f]+)/;
    return _norm_serial($1);
}

sub _norm_serial {
    my $s = lc shift;
    $s =~ s/^0+(?=.)//;
    return $s;
}

# The certificate served on the TLS socket: (serial, URI SAN), or () when
# no handshake; TLS 1.3, no client certificate.
sub served_cert {
    my $pem = _run_in('', 'openssl', 's_client', '-unix', tls_sock(),
                      '-tls1_3', '-showcerts');
    return () unless defined $pem
        && $pem =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
    my $leaf = $1;
    my $text = _run_in($leaf, 'openssl', 'x509', '-noout', '-serial',
                       '-ext', 'subjectAltName');
    return () unless defined $text && $text =~ /serial=([0-9A-Fa-f]+)/;
    my $serial = _norm_serial($1);
    my ($uri) = $text =~ /URI:(\S+)/;
    return ($serial, $uri);
}

# run a command with $in on stdin; stdout, or undef when it cannot start
# (the probe's child exits without File::Temp's cleanup at exit: the
# temporary file goes with its object)
sub _run_in {
    my ($in, @cmd) = @_;
    my $tmp = File::Temp->new(TMPDIR => 1);
    print {$tmp} $in // '';
    close $tmp;
    my $pid = open my $r, '-|';
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', $tmp->filename;
        open STDERR, '>', '/dev/null';
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    local $/;
    my $out = <$r>;
    close $r;
    return $? >> 8 == 127 ? undef : $out // '';
}

# One HTTP/1.0 GET to the outer server: (status, body); status 0 on a
# connection error.
sub http_get {
    my ($path, %opt) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $opt{timeout} || 5)
        or return (0, "connect: $@");
    print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    close $s;
    my ($status) = $res =~ m{^HTTP/\d\.\d (\d{3})};
    my ($body) = $res =~ /\r\n\r\n(.*)\z/s;
    return ($status || 0, $body // '');
}

# curl(peer => NAME|undef, h2 => 1, urls => [...]) on the TCP listener;
# one line per URL, "HTTP/<version> <code> new=<connects> <body>", or
# "curl: exit N" (-k: an X.509-SVID has no DNS name for curl to check)
sub curl {
    my (%opt) = @_;
    my $port = $ENV{TEST_NGINX_TLS_PORT};
    my @cmd = ('curl', '-sS', '-k', '--max-time', '5',
               '-w', '\n<<%{http_version} %{response_code} %{num_connects}>>\n');
    push @cmd, $opt{h2} ? '--http2' : '--http1.1';
    push @cmd, '--cert', peer_cert($opt{peer}), '--key', peer_key($opt{peer})
        if defined $opt{peer};
    push @cmd, map { "https://127.0.0.1:$port$_" } @{ $opt{urls} };
    my $out = _run_in('', @cmd);
    my $rc = $? >> 8;
    return "curl: cannot run\n" unless defined $out;
    return "curl: exit $rc\n" if $rc;
    my $res = '';
    while ($out =~ /\G(.*?)\n<<(\S+) (\d+) (\d+)>>\n/sg) {
        my ($body, $version, $code, $connects) = ($1, $2, $3, $4);
        $body =~ s/\r?\n\z//;
        $res .= "HTTP/$version $code new=$connects $body\n";
    }
    return $res;
}

# Waits until the TLS socket serves a certificate with this serial;
# returns the seconds it took, or undef after $timeout seconds.
sub wait_served {
    my ($serial, $timeout) = @_;
    $serial = _norm_serial($serial);
    my $t0 = time;
    while (1) {
        my ($got) = served_cert();
        return time - $t0 if defined $got && $got eq $serial;
        return undef if time - $t0 > $timeout;
        sleep 0.01;
    }
}

# Background load through the outer server: start_load($want, @paths)
# runs a client per path that GETs it in a loop; stop_load() returns
# (requests, failures, first failure), a failure being a status other than
# 200 or a body other than $want.
my (@loaders, $load_dir);

sub start_load {
    my ($want, @paths) = @_;
    my $dir = $load_dir = tempdir('spiffe-load-XXXXXX', TMPDIR => 1);
    for my $i (0 .. $#paths) {
        my $path = $paths[$i];
        my $pid = fork;
        croak "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my ($ok, $bad, $first, $stop) = (0, 0, '', 0);
            $SIG{TERM} = sub { $stop = 1 };
            until ($stop) {
                my ($st, $body) = http_get($path);
                if ($st == 200 && $body eq $want) {
                    $ok++;
                } else {
                    $bad++;
                    $first ||= "$st $body";
                }
            }
            open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
            print {$fh} "$ok $bad $first";
            close $fh;
            POSIX::_exit(0);
        }
        push @loaders, [$pid, "$dir/$i"];
    }
}

sub stop_load {
    my ($total, $bad, $first) = (0, 0, '');
    kill 'TERM', map { $_->[0] } @loaders;
    for my $l (@loaders) {
        waitpid($l->[0], 0);
        open my $fh, '<', $l->[1] or do { $bad++; next };
        my ($o, $b, $f) = split / /, do { local $/; <$fh> }, 3;
        $total += $o + $b;
        $bad += $b;
        $first ||= $f // '';
    }
    @loaders = ();
    remove_tree($load_dir);
    return ($total, $bad, $first);
}


sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

# the lines of $file matching $re, once there are $n of them, or after
# $secs seconds
sub wait_lines {
    my ($file, $re, $n, $secs) = @_;
    my $deadline = time + $secs;
    my @lines;
    while (1) {
        @lines = grep { /$re/ } split /\n/, slurp($file);
        return @lines if @lines >= $n || time > $deadline;
        sleep 0.05;
    }
}


# ---- the probe ----------------------------------------------------------

my ($probe_pid, $probe_dir);

# actions every probe has:
#   curl?peer=NAME&h2=1&urls=/a,/b    see curl()
#   sync      wait until the TLS socket serves the agent's current SVID
#             (every message carries the whole state: what the agent
#             changed before is then in force too)
#   sleep?ms=N
#   log?re=RE&n=N&secs=S   how many lines of error.log match RE, once
#             there are N of them (1), or after S seconds (5)
my %builtin = (
    curl => sub {
        my (%q) = @_;
        return curl(peer => $q{peer}, h2 => $q{h2},
                    urls => [split /,/, $q{urls} // '/']);
    },
    sync => sub {
        my ($serial) = agent_cmd('status') =~ /\bserial=(\w+)/
            or return "no serial from the agent\n";
        return defined wait_served($serial, 5) ? "synced\n"
               : "not synced: agent serial $serial, served "
                 . ((served_cert())[0] // 'nothing') . "\n";
    },
    sleep => sub {
        my (%q) = @_;
        sleep(($q{ms} // 0) / 1000);
        return "slept\n";
    },
    log => sub {
        my (%q) = @_;
        my @lines = wait_lines("$ENV{TEST_NGINX_SERVROOT}/logs/error.log",
                               qr/$q{re}/, $q{n} // 1, $q{secs} // 5);
        return scalar(@lines) . "\n";
    },
);

# one command on the agent's control socket (line protocol); its reply
sub agent_cmd {
    my ($cmd) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM,
                                  Peer => $ENV{TEST_NGINX_AGENT_CONTROL})
        or croak "agent control socket: $!";
    print {$s} "$cmd\n";
    my $reply = <$s> // '';
    close $s;
    $reply =~ s/\r?\n\z//;
    return $reply;
}

# start_probe(NAME => sub { my (%query) = @_; return TEXT }, ...)
sub start_probe {
    my (%actions) = @_;
    croak "probe already started" if $probe_pid;

    $probe_dir = tempdir('spiffe-probe-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $probe_dir;
    my $path = "$probe_dir/probe.sock";
    my $srv = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path,
                                    Listen => 16)
        or croak "probe: listen on $path: $!";
    chmod 0666, $path;

    my $parent = $$;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;

    if ($pid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (1) {
            POSIX::_exit(0) if getppid() != $parent;
            my $c = $srv->accept or next;
            _probe_serve($c, \%actions);
            close $c;
        }
    }

    close $srv;
    $probe_pid = $pid;
    $ENV{TEST_NGINX_PROBE} = $path;
    return $path;
}

sub _probe_serve {
    my ($c, $actions) = @_;
    my $head = '';
    while ($head !~ /\r?\n\r?\n/) {
        my $n = sysread($c, $head, 4096, length $head);
        return unless $n;
    }
    my ($target) = $head =~ m{^[A-Z]+ (\S+)};
    my ($name, $q) = ($target // '') =~ m{^/(?:probe/)?([\w.-]*)\??(.*)};
    my %query = map { my ($k, $v) = split /=/, $_, 2;
                      $v //= '';
                      $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
                      ($k => $v) } grep { length } split /&/, $q // '';

    my ($status, $body) = (200, '');
    if (($name // '') eq 'echo') {
        # the X-* header lines as the backend received them, in order
        $body = join '', map { "$_\n" } grep { /^X-/i }
                         split /\r?\n/, $head;
    } elsif (my $fn = $actions->{$name // ''} || $builtin{$name // ''}) {
        $body = eval { $fn->(%query) };
        ($status, $body) = (500, "probe action $name died: $@") if $@;
    } else {
        ($status, $body) = (404, "no probe action \"$name\"\n");
    }

    my $res = "HTTP/1.0 $status X\r\nContent-Type: text/plain\r\n"
              . "Content-Length: " . length($body) . "\r\n\r\n$body";
    syswrite($c, $res);
}

END {
    if ($probe_pid) {
        kill 'TERM', $probe_pid;
        waitpid($probe_pid, 0);
    }
}

1;
