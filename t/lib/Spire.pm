package Spire;

# Real SPIRE for a .t file: servers and agents built by "make interop" into
# build/interop, the go-spiffe peers (t/interop/peer), and a small HTTP
# runner through which a test block drives them from nginx.  Documentation
# at the end (perldoc t/lib/Spire.pm).

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Spec;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our $ROOT = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)),
                                        File::Spec->updir, File::Spec->updir));
our $BIN = "$ROOT/build/interop";

my @children;
my $owner = $$;

# why the suite cannot run here, or undef
sub unavailable {
    if (-s "$BIN/unavailable") {
        open my $fh, '<', "$BIN/unavailable" or die $!;
        my $why = <$fh>;
        chomp $why;
        return $why;
    }
    for my $b (qw(spire-server spire-agent peer)) {
        return "build/interop/$b is missing: run \"make interop\""
            unless -x "$BIN/$b";
    }
    return 'the SPIRE suite does not run under valgrind: SPIRE sets the '
           . 'pace (rotations, attestation), not a factor'
        if $ENV{TEST_NGINX_USE_VALGRIND};
    return undef;
}

sub _spawn {
    my ($log, @cmd) = @_;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        { exec @cmd }
        POSIX::_exit(127);
    }
    push @children, $pid;
    return $pid;
}

# spire-server or spire-agent "run", until it is healthy (60 s at most)
sub _daemon {
    my ($self, $kind, $td, @args) = @_;
    my $bin = "$BIN/spire-$kind";
    $self->{pid} = _spawn($self->{log}, $bin, 'run', '-config',
                          "$self->{dir}/$kind.conf", @args);
    wait_for("spire-$kind of $td", 60, sub {
        croak("spire-$kind of $td exited, see $self->{log}")
            if waitpid($self->{pid}, WNOHANG) == $self->{pid};
        system("$bin healthcheck -socketPath $self->{socket} "
               . ">/dev/null 2>&1") == 0
    });
}

sub _reap {
    my ($pid, $signal) = @_;
    return unless $pid;
    kill $signal // 'TERM', $pid;
    my $deadline = time + 10;

    # a child of another process of ours (the runner's) cannot be waited
    # for: it is gone when kill 0 fails
    while (waitpid($pid, WNOHANG) == 0
           || (kill(0, $pid) && waitpid($pid, WNOHANG) != $pid))
    {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            last;
        }
        sleep 0.05;
    }
    @children = grep { $_ != $pid } @children;
}

# run a command, its output; dies when it fails
sub run {
    my (@cmd) = @_;
    my $out = qx{@{[ join ' ', map { _quote($_) } @cmd ]} 2>&1};
    croak "@cmd: exit " . ($? >> 8) . ": $out" if $?;
    return $out;
}

sub _quote {
    my ($s) = @_;
    return $s if $s =~ m{\A[\w./:=,@+-]+\z};
    $s =~ s/'/'\\''/g;
    return "'$s'";
}

# until $probe returns true, every 0.2 s, at most $seconds
sub wait_for {
    my ($what, $seconds, $probe) = @_;
    my $deadline = time + $seconds;
    until ($probe->()) {
        croak "timed out after $seconds s waiting for $what"
            if time > $deadline;
        sleep 0.2;
    }
}

sub _write {
    my ($path, $text) = @_;
    open my $fh, '>', $path or croak "$path: $!";
    print $fh $text;
    close $fh or croak "$path: $!";
}

END {
    # the runner (which stops its own children), then ours, newest first;
    # not in a forked copy of this process
    _reap($_) for $$ == $owner ? reverse @{[ @children ]} : ();
}


package Spire::Server;

use Carp qw(croak);

# Spire::Server->new(dir => D, td => TD, port => P, bundle_port => P2,
#                    federates => [[TD, PORT], ...], web => [CERT, KEY])
sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    my $d = $self->{dir};
    File::Path::make_path($d);
    $self->{socket} = "$d/api.sock";
    $self->{log} = "$d/server.log";

    my $federation = '';
    if ($o{bundle_port}) {
        my $with = '';
        for my $f (@{ $o{federates} || [] }) {
            my ($td, $port) = @$f;
            $with .= <<"EOF";
    federates_with "$td" {
      bundle_endpoint_url = "https://127.0.0.1:$port"
      bundle_endpoint_profile "https_spiffe" {
        endpoint_spiffe_id = "spiffe://$td/spire/server"
      }
    }
EOF
        }
        my $profile = !$o{web} ? 'profile "https_spiffe" {}' : <<"EOF";
profile "https_web" {
        serving_cert_file {
          cert_file_path = "$o{web}[0]"
          key_file_path = "$o{web}[1]"
          file_sync_interval = "1h"
        }
      }
EOF
        $federation = <<"EOF";
  federation {
    bundle_endpoint {
      address = "127.0.0.1"
      port = $o{bundle_port}
      refresh_hint = "1m"
      $profile
    }
$with  }
EOF
    }

    Spire::_write("$d/server.conf", <<"EOF");
server {
  bind_address = "127.0.0.1"
  bind_port = "$o{port}"
  socket_path = "$self->{socket}"
  trust_domain = "$o{td}"
  data_dir = "$d/data"
  log_level = "DEBUG"
  ca_ttl = "24h"
  default_x509_svid_ttl = "1h"
  default_jwt_svid_ttl = "5m"
  experimental { cache_reload_interval = "1s" }
  ratelimit { attestation = false }
$federation}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "$d/data/datastore.sqlite3"
    }
  }
  KeyManager "disk" { plugin_data { keys_path = "$d/data/keys.json" } }
  NodeAttestor "join_token" { plugin_data {} }
}
EOF
    $self->start;
    return $self;
}

sub start { Spire::_daemon($_[0], 'server', $_[0]{td}) }
sub stop  { Spire::_reap(delete $_[0]{pid}) }

sub td { $_[0]{td} }

# spire-server SUBCOMMAND... -socketPath S
sub cli {
    my ($self, @args) = @_;
    return Spire::run("$Spire::BIN/spire-server", @args,
                      '-socketPath', $self->{socket});
}

# entry(ID, PARENT, [SELECTORS], x509_ttl => S, federates_with => [TD...],
#       hint => H)
sub entry {
    my ($self, $id, $parent, $selectors, %o) = @_;
    my @args = ('entry', 'create', '-spiffeID', $id, '-parentID', $parent,
                map { ('-selector', $_) } @$selectors);
    push @args, '-x509SVIDTTL', $o{x509_ttl} if $o{x509_ttl};
    push @args, '-hint', $o{hint} if $o{hint};
    push @args, map { ('-federatesWith', "spiffe://$_") }
                @{ $o{federates_with} || [] };
    return $self->cli(@args);
}

# the other server's bundle, so that the two federate from the start
sub trust {
    my ($self, $other) = @_;
    my $doc = "$self->{dir}/" . $other->td . '.json';
    Spire::_write($doc, $other->cli('bundle', 'show', '-format', 'spiffe'));
    $self->cli('bundle', 'set', '-format', 'spiffe', '-id',
               'spiffe://' . $other->td, '-path', $doc);
}


package Spire::Agent;

# Spire::Agent->new(dir => D, server => $server)
sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    my $d = $self->{dir};
    my $s = $self->{server};
    File::Path::make_path("$d/data");
    chmod 0755, $d;
    $self->{socket} = "$d/api.sock";
    $self->{log} = "$d/agent.log";
    $self->{node} = 'spiffe://' . $s->td . '/node/' . ($o{name} // 'a');

    Spire::_write("$d/bootstrap.pem", $s->cli('bundle', 'show'));
    Spire::_write("$d/agent.conf", <<"EOF");
agent {
  server_address = "127.0.0.1"
  server_port = "$s->{port}"
  socket_path = "$self->{socket}"
  trust_domain = "${\ $s->td }"
  data_dir = "$d/data"
  trust_bundle_path = "$d/bootstrap.pem"
  log_level = "DEBUG"
  experimental { sync_interval = "1s" }
}
plugins {
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "disk" { plugin_data { directory = "$d/data" } }
  WorkloadAttestor "unix" { plugin_data { discover_workload_path = true } }
}
EOF
    my $out = $s->cli('token', 'generate', '-spiffeID', $self->{node},
                      '-ttl', 600);
    ($self->{token}) = $out =~ /Token: (\S+)/
        or Carp::croak("no join token in: $out");
    $self->start('-joinToken', $self->{token});
    return $self;
}

# later starts use the SVID the agent keeps in its data_dir
sub start {
    my ($self, @args) = @_;
    Spire::_daemon($self, 'agent', $self->{server}->td, @args);
}

sub stop { Spire::_reap(delete $_[0]{pid}) }

sub socket { $_[0]{socket} }
sub node   { $_[0]{node} }


package Spire::Runner;

# An HTTP server (one request at a time) that a test block reaches through
# an nginx location; each GET runs one action (see the POD) and answers
# 200 with its output, or 500 with the error.

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    my $ln = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                   LocalPort => $o{port}, Listen => 16,
                                   ReuseAddr => 1)
        or Carp::croak("runner on port $o{port}: $!");
    my $pid = fork;
    Carp::croak("fork: $!") unless defined $pid;
    if ($pid == 0) {
        @children = ();
        $self->_serve($ln);
        POSIX::_exit(0);
    }
    close $ln;
    push @children, $pid;
    return $self;
}

sub _serve {
    my ($self, $ln) = @_;
    $SIG{TERM} = sub { Spire::_reap($_) for reverse @{[ @children ]};
                       POSIX::_exit(0) };
    while (my $c = $ln->accept) {
        my $line = <$c> // next;
        while (my $h = <$c>) { last if $h =~ /^\r?\n\z/ }
        my ($path, $query) = $line =~ m{^GET (/[^ ?]*)(?:\?(\S*))? HTTP}
            or next;
        my @words = map { _unescape($_) } grep { length } split m{/}, $path;
        my @args = map { _unescape(s/^arg=//r) }
                   grep { /^arg=/ } split /&/, $query // '';
        my $code = $self->{actions}{ shift(@words) // '' };
        my ($status, $body) = (404, "no such action\n");
        if ($code) {
            $body = eval { $code->(@words, @args) };
            ($status, $body) = $@ ? (500, "ERROR $@") : (200, $body // '');
        }
        print $c "HTTP/1.0 $status X\r\nContent-Type: text/plain\r\n"
                 . "Content-Length: " . length($body) . "\r\n\r\n$body";
        close $c;
    }
}

sub _unescape {
    my ($s) = @_;
    $s =~ tr/+/ /;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

1;

__END__

=head1 NAME

Spire - SPIRE servers, agents and go-spiffe peers for Test::Nginx suites

=head1 SYNOPSIS

    use Spire;
    BEGIN {
        if (my $why = Spire::unavailable()) {
            print "1..0 # SKIP $why\n";
            exit 0;
        }
    }
    my $a = Spire::Server->new(dir => "$tmp/a", td => 'a.test',
                               port => 2181);
    my $agent = Spire::Agent->new(dir => "$tmp/aa", server => $a);
    $a->entry('spiffe://a.test/nginx', $agent->node,
              ['unix:path:/usr/sbin/nginx'], x509_ttl => 60);

=head1 DESCRIPTION

C<make interop> builds C<spire-server>, C<spire-agent> (the version that
F<t/interop/spire/go.mod> names) and C<peer> (F<t/interop/peer>) into
F<build/interop>; when the Go module proxy cannot be reached it writes the
reason to F<build/interop/unavailable> instead, and C<unavailable()>
returns it, for the suite to skip with.

=over

=item Spire::Server->new(dir, td, port, bundle_port, federates)

A SPIRE server on 127.0.0.1:port, SQLite datastore, join_token node
attestation, keys on disk, cache reload every second.  With
C<bundle_port>, it serves its bundle there (profile https_spiffe, or
https_web with the certificate and key files of C<web>; refresh hint 1
min) and federates with each C<[TD, PORT]> of C<federates>
(https_spiffe).  C<cli(ARGS)> runs C<spire-server ARGS -socketPath ...>;
C<entry(ID, PARENT, [SELECTORS], x509_ttl, federates_with, hint)>
registers a workload; C<trust($other)> sets the other server's bundle
(C<bundle set>) so that federation starts at once.  C<stop>, C<start>.

=item Spire::Agent->new(dir, server, name)

A SPIRE agent attested with a join token whose node alias is
C<node> (C<spiffe://TD/node/NAME>); unix workload attestor with
C<discover_workload_path>, so that entries may select by binary path;
sync every second; keys on disk, so that C<stop> then C<start> comes
back without a new token.  C<socket> is its Workload API socket.

=item Spire::Runner->new(port, actions => { NAME => CODE, ... })

A forked HTTP server: C<GET /NAME/W1/W2?arg=A> calls C<CODE(W1, W2, A)>
and answers its return value (200) or its error (500).  Actions run one
at a time, in the runner's process: what they start is the runner's.

=back

Every process started here is stopped when the test file ends.

=cut
