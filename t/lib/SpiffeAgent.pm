package SpiffeAgent;

# Start and drive t/agent/agent.py, the test SPIFFE Workload API server,
# from a .t file.  Documentation at the end (perldoc t/lib/SpiffeAgent.pm).

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);

our $VERSION = '0.01';

our $PYTHON = $ENV{SPIFFE_AGENT_PYTHON} || '/usr/bin/python3';
our $AGENT = File::Spec->catfile(dirname(abs_path(__FILE__)),
                                 File::Spec->updir, 'agent', 'agent.py');

my @running;

sub start {
    my ($class, %opt) = @_;

    my $dir = $opt{state_dir};
    if (defined $dir) {
        mkdir $dir unless -d $dir;
        $dir = abs_path($dir);
    } else {
        $dir = tempdir('spiffe-agent-XXXXXX', TMPDIR => 1,
                       CLEANUP => !$opt{keep});
    }
    # nginx workers may run as another user: let them reach the socket
    chmod 0755, $dir;

    my $self = bless {
        dir     => $dir,
        socket  => $opt{socket}  // "$dir/agent.sock",
        control => $opt{control} // "$dir/control.sock",
        pidfile => "$dir/agent.pid",
        log     => $opt{log}     // "$dir/agent.log",
        owner   => $$,
    }, $class;

    my @args = ('--state', $dir, '--socket', $self->{socket},
                '--control', $self->{control},
                '--pidfile', $self->{pidfile}, '--log', $self->{log});
    push @args, '--trust-domain', $opt{trust_domain}
        if defined $opt{trust_domain};
    push @args, '--spiffe-id', $opt{spiffe_id} if defined $opt{spiffe_id};
    push @args, map { ('--svid', $_) } @{ $opt{svids} || [] };
    push @args, '--ttl', $opt{ttl} if defined $opt{ttl};
    push @args, '--tcp', $opt{tcp} if defined $opt{tcp};
    push @args, '--intermediate' if $opt{intermediate};
    push @args, '--auto-rotate' if $opt{auto_rotate};
    push @args, '--down' if $opt{down};
    push @args, '--jwt-alg', $opt{jwt_alg} if defined $opt{jwt_alg};
    push @args, '--jwt-ttl', $opt{jwt_ttl} if defined $opt{jwt_ttl};
    push @args, @{ $opt{args} || [] };

    unlink $self->{pidfile};
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec $PYTHON, $AGENT, @args;
        warn "exec $PYTHON: $!\n";
        POSIX::_exit(127);
    }
    $self->{pid} = $pid;

    # the agent writes its pidfile last, once both sockets listen
    my $deadline = time + ($opt{timeout} // 10);
    until (-s $self->{pidfile}) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            croak "test agent exited with status $? before it was ready"
                  . $self->_log_tail;
        }
        if (time > $deadline) {
            $self->stop;
            croak "test agent not ready after "
                  . ($opt{timeout} // 10) . " s" . $self->_log_tail;
        }
        sleep 0.02;
    }

    # the READY line is logged before the pidfile is written
    if (defined $opt{tcp}) {
        my ($host, $port) = $opt{tcp} =~ /^(.*):(\d+)\z/
            or croak "tcp must be HOST:PORT";
        my @ready = $self->_log_text =~ /agent\[$pid\] READY .* tcp=(\d+)/g;
        $port = $ready[-1] if @ready;
        croak "tcp port 0 with down: the agent has no port yet"
            if $port == 0;
        $self->{tcp} = "$host:$port";
        $ENV{TEST_NGINX_AGENT_TCP} = $self->{tcp};
    }

    $ENV{TEST_NGINX_AGENT_SOCKET} = $self->{socket};
    $ENV{TEST_NGINX_AGENT_STATE} = $dir;
    $ENV{TEST_NGINX_AGENT_CONTROL} = $self->{control};
    push @running, $self;
    return $self;
}

sub socket    { $_[0]{socket} }
sub tcp       { $_[0]{tcp} }
sub state_dir { $_[0]{dir} }
sub pid       { $_[0]{pid} }
sub log_file  { $_[0]{log} }

sub control {
    my ($self, $cmd) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM,
                                  Peer => $self->{control})
        or croak "connect to $self->{control}: $!";
    print {$s} "$cmd\n";
    my $reply = <$s>;
    close $s;
    croak "no reply from the test agent to '$cmd'" unless defined $reply;
    $reply =~ s/\r?\n\z//;
    return $reply;
}

sub control_ok {
    my ($self, $cmd) = @_;
    my $reply = $self->control($cmd);
    croak "test agent: '$cmd': $reply" unless $reply =~ /^OK\b/;
    return $reply unless wantarray;
    return map { /^([^=]+)=(.*)\z/ ? ($1, $2) : () } split ' ', $reply;
}

sub status {
    my ($self) = @_;
    return { $self->control_ok('status') };
}

sub wait_streams {
    my ($self, $n, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (1) {
        my $streams = $self->status->{streams};
        return $streams if $streams >= $n;
        return 0 if time > $deadline;
        sleep 0.05;
    }
}

# JWT-SVIDs signed by the agent's keys (see "mint-jwt" and "forge-jwt" in
# t/agent/agent.py): the token, or die with the agent's reply

sub mint_jwt {
    my ($self, $sub, $aud, %opt) = @_;
    return $self->_jwt('mint-jwt', $sub, $aud, %opt);
}

sub forge_jwt {
    my ($self, $kind, $sub, $aud, %opt) = @_;
    return $self->_jwt("forge-jwt $kind", $sub, $aud, %opt);
}

sub _jwt {
    my ($self, $cmd, $sub, $aud, %opt) = @_;
    $aud = join ',', @$aud if ref $aud eq 'ARRAY';
    my @words = ($sub, $aud, map { "$_=$opt{$_}" } sort keys %opt);
    my %r = $self->control_ok(join ' ', $cmd, map { _quote($_) } @words);
    croak "test agent: '$cmd': no token in the reply" unless $r{token};
    return $r{token};
}

# one word for the agent's shlex.split()
sub _quote {
    my ($word) = @_;
    return $word if $word =~ m{\A[\w\-.,:/=+\@%]+\z};
    $word =~ s/'/'"'"'/g;
    return "'$word'";
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    @running = grep { $_ != $self } @running;
    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            last;
        }
        sleep 0.02;
    }
    for my $var (qw(SOCKET STATE CONTROL TCP)) {
        my $name = "TEST_NGINX_AGENT_$var";
        delete $ENV{$name}
            if defined $ENV{$name}
               && grep { defined && $ENV{$name} eq $_ }
                       @$self{qw(socket dir control tcp)};
    }
    return 1;
}

# The peer certificate matrix of t/cert/mkcerts.py, made once per test
# file; $ENV{TEST_NGINX_CERTS} names its folder.

my $certs_dir;

sub certs {
    return $certs_dir if defined $certs_dir;

    my $dir = tempdir('spiffe-certs-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;
    my $mk = File::Spec->catfile(dirname(abs_path(__FILE__)),
                                 File::Spec->updir, 'cert', 'mkcerts.py');
    system($PYTHON, $mk, $dir) == 0
        or croak "$mk failed: exit " . ($? >> 8);

    $ENV{TEST_NGINX_CERTS} = $certs_dir = $dir;
    return $dir;
}

sub _log_text {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return '';
    local $/;
    return <$fh> // '';
}

sub _log_tail {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return '';
    my @lines = <$fh>;
    splice @lines, 0, -10;
    return @lines ? "; $self->{log} ends with:\n" . join('', @lines) : '';
}

END {
    # only the process that started an agent stops it, not a forked child
    my @agents = reverse @running;
    $_->{owner} == $$ and $_->stop for @agents;
}

1;

__END__

=head1 NAME

SpiffeAgent - run the test SPIFFE Workload API server from a test file

=head1 SYNOPSIS

    use lib 't/lib';
    use SpiffeAgent;

    my $agent = SpiffeAgent->start(
        spiffe_id => 'spiffe://example.org/nginx',
        ttl       => 3600,
    );

    # nginx.conf in the test block:
    #     spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    #     ssl_trusted_certificate $TEST_NGINX_AGENT_STATE/bundle.pem;

    my $reply = $agent->control('rotate-svid');   # "OK serial=..."
    my %r = $agent->control_ok('mint spiffe://example.org/client client');
    # $r{cert}, $r{key}, $r{serial}

    $agent->stop;    # also done at END

=head1 DESCRIPTION

Spawns C</usr/bin/python3 t/agent/agent.py> (override with
C<$SPIFFE_AGENT_PYTHON>) with a state directory, waits until it is ready
(its pidfile exists, written after both sockets listen) and returns an
object to drive it.  Agents still running at END are stopped.  It does not
depend on Test::Nginx.

C<start> sets C<$ENV{TEST_NGINX_AGENT_SOCKET}> (the Workload API socket),
C<$ENV{TEST_NGINX_AGENT_STATE}> (the state directory: C<ca.pem>,
C<bundle.pem>, C<svid.pem>, C<svid_key.pem>, ...; see the docstring of
F<t/agent/agent.py>), C<$ENV{TEST_NGINX_AGENT_CONTROL}> (the control
socket) and, with C<tcp>, C<$ENV{TEST_NGINX_AGENT_TCP}> (C<IP:PORT>, the
port found when C<tcp> asked for port 0), so that Test::Nginx configs can
name them.  C<stop> removes them again.

=head2 Driving the agent from inside a test block

The control socket also answers HTTP (see F<t/agent/agent.py>), so a test
block can act on the agent between its requests through nginx itself:

    location /ctl/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }

    --- request eval
    ["GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=300",
     "GET /t"]

The path segments are the command's words, C<arg> query values more words
(nginx decodes C<%2F> before it proxies, so a word with C</> must go in
C<arg>), and C<wait_ms> a pause after the command and before the reply.
The status is 200 for C<OK>, 409 for C<ERR>.  C<wait-streams N [MS]> waits
until N FetchX509SVID streams have received all that was queued for them
(e.g. nginx reconnected); C<down>/C<up> take the Workload API away and
back; C<restart [down]> kills and starts the agent process as one (its
connections drop without a status; the control socket keeps its backlog);
C<signal HUP PIDFILE> reloads the nginx under test.

=head1 METHODS

=over 4

=item SpiffeAgent->start(%opts)

Options: C<trust_domain>, C<spiffe_id> (C<ID[,hint=H]>, the default SVID),
C<svids> (array ref of more C<ID[,hint=H]>), C<ttl> (SVID lifetime, s),
C<intermediate> (issue from an intermediate CA), C<auto_rotate>, C<tcp>
(C<127.0.0.1:PORT>, port 0 for any), C<down> (start with the Workload API
down until the C<up> command; the control socket is ready), C<state_dir>
(default: a new directory under C<$TMPDIR>, removed at exit unless
C<keep>), C<socket>, C<control>, C<log> (default C<STATE/agent.log>),
C<jwt_alg> (C<--jwt-alg>: ES256, the default, ES384, ES512, RS256, ...,
PS512), C<jwt_ttl> (C<--jwt-ttl>, lifetime of the JWT-SVIDs of
FetchJWTSVID, s), C<args> (array ref of more agent arguments),
C<timeout> (readiness wait, default 10 s).  Dies, with the end of the agent's
log, if the agent does not come up.

Unix socket paths are limited to 107 bytes: keep C<state_dir> short.

=item $agent->socket, $agent->tcp, $agent->state_dir, $agent->pid

=item $agent->log_file

=item $agent->control($command)

Sends one control command (see F<t/agent/agent.py>: C<rotate-svid>,
C<rotate-ca [keep-old]>, C<new-td TD>, C<federate TD [PEM|jwt-only]>,
C<unfederate TD>, C<jwks spire|spiffe>, C<keys bare|spiffe>,
C<mint ID PREFIX [ca=own|TD] [ttl=S]>, C<fail MODE>, C<end-stream [always|off]>,
C<stall on|off>, C<send KIND>, C<crl on|off>, C<revoke SERIAL>, C<status>,
C<ttl S>, C<wait-streams N [MS]>, C<down>, C<up>, C<restart [down]>,
C<signal SIG PIDFILE>, ...) and returns the reply line, C<OK ...> or
C<ERR ...>.

=item $agent->control_ok($command)

The same, but dies unless the reply is C<OK>.  In list context returns the
reply's C<key=value> pairs (C<serial>, C<cert>, C<ca>, ...).

=item $agent->status

A hash ref of the C<status> reply: C<serial>, C<ca> (SHA-256 fingerprint of
the current CA), C<streams>, C<calls>, C<svids>, C<federated>, C<fail>,
C<stall>, C<ttl>.

=item $agent->wait_streams($n [, $timeout])

Waits (default 5 s) until at least C<$n> streams are open, e.g. until nginx's
workers are connected; returns the count, or 0 on timeout.

=item $agent->mint_jwt($sub, $aud [, %opts])

A JWT-SVID for C<$sub>, signed by the agent: C<mint-jwt> of
F<t/agent/agent.py>.  C<$aud> is one audience (a string claim), an array
ref or a comma-separated list (an array claim), or C<-> (no C<aud>).
C<%opts> are its options: C<ttl>, C<alg> (a key of another family is made
and pushed in the bundle), C<td> (whose key signs; default that of
C<$sub>'s trust domain when the agent has one, else its own), C<kid>,
C<key =E<gt> 'next'> (the staged key of C<next-jwt-key>), C<exp>, C<nbf>,
C<iat> (UNIX time, C<+N>/C<-N> from now, or C<none>), C<typ>,
C<'claim.NAME' =E<gt> VALUE> (JSON if it parses, else a string).  Returns
the token; dies on an C<ERR> reply.

    my $t = $agent->mint_jwt('spiffe://example.org/ns/web', 'api',
                             ttl => 60, 'claim.scope' => 'read');

=item $agent->forge_jwt($kind, $sub, $aud [, %opts])

A token that a validator must refuse, made as C<mint_jwt> makes one and
then spoilt: C<$kind> is C<none>, C<hs256>, C<badsig>, C<wrongkid>,
C<nokid>, C<untrusted>, C<expired>, C<future-nbf>, C<typ>, C<json>,
C<long>, C<truncated>, C<keyalg> or C<crit> (see C<forge-jwt> in
F<t/agent/agent.py>).  Returns the token.

Key rotation and the JWT bundle are driven with C<control>:
C<rotate-jwt-key [keep-old] [td=TD]>, C<next-jwt-key [td=TD]>,
C<jwt-ttl S>, C<jwt-svid-id [TEXT]>, C<new-td TD [jwt-alg=ALG]>,
C<send-jwt-bundles KIND>,
C<fail MODE FetchJWTSVID>; C<status> also has C<jwt_kid>, C<jwt_seq>,
C<jwt_streams>, C<jwt_svid_calls>, ...

=item $agent->stop

Sends SIGTERM (SIGKILL after 5 s) and reaps the agent; the agent removes its
sockets.

=back

=cut
