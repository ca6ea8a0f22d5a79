package SpiffeTest;

# The kit for Test::Nginx suites of SPIFFE configurations, and what makes
# a suite run the same on openresty's Test::Nginx and on the fallback
# runner of t/lib.  Documentation at the end (perldoc t/lib/SpiffeTest.pm).
# A suite says, after its Test::Nginx::Socket line:
#
#     use SpiffeTest;
#
# and then, on either runner:
#
#   - blocks run in file order (no_shuffle);
#   - $TEST_NGINX_SERVROOT, $TEST_NGINX_HTML_DIR and
#     $TEST_NGINX_SERVER_PORT are set, as the fallback sets them;
#   - a block without "--- config" gets an empty one (the real runner
#     would reuse the previous block's nginx);
#   - "--- init" runs once per block, after the previous block's nginx
#     has stopped and before this block's config is read, so that what it
#     sets in %ENV (an agent's socket) reaches the config.  The real
#     runner would run it after nginx has started.
#   - no block may log [alert] or [emerg] lines, nor a process that died
#     of a signal, unless it names them itself: they are added to its
#     "--- no_error_log" (not to a "--- must_die" block's);
#   - the error log of a block that sends several requests is checked
#     once, after its last request, on the whole log: "--- error_log",
#     "--- no_error_log" and "--- grep_error_log_out" speak of the whole
#     block.  Both runners would check them after each request, on the
#     lines logged since the previous check; here they are left to the
#     end, where the runner's own check_error_log runs on the whole log
#     (check_accum_error_log).
#
# Its block preprocessor is the only one: a suite adds none, and a block
# writes in its own sections whatever else it needs (t/lib/README.md, 8).

use strict;
use warnings;

use Carp qw(croak);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use SpiffeAgent;

our $VERSION = '0.01';

our @EXPORT = qw(spiffe_agent spiffe_cert spiffe_jwt spiffe_control);

# the agent blocks use now: the file's, or the last "--- spiffe_agent"
my $Agent;
my $Minted = 0;

sub import {
    my $runner = 'Test::Nginx::Socket';
    my $caller = caller;

    no strict 'refs';
    *{"${caller}::$_"} = \&$_ for @EXPORT;
    use strict 'refs';

    # the TLS server under test listens here, the client of
    # "--- spiffe_client" connects here
    $ENV{TEST_NGINX_TLS_PORT} //= $runner->can('server_port')->() + 1;

    $runner->can('no_shuffle')->();
    $ENV{TEST_NGINX_SERVROOT} //= $runner->can('server_root')->();
    $ENV{TEST_NGINX_HTML_DIR} //= $runner->can('html_dir')->();
    $ENV{TEST_NGINX_SERVER_PORT} //= $runner->can('server_port')->();

    $runner->can('add_block_preprocessor')->(\&_prepare);
    $runner->can('add_test_cleanup_handler')->(\&_check_log_once);
    $runner->can('check_accum_error_log')->();
}

# the log expectations a block with several requests leaves to the end
my @LogSections = qw(error_log no_error_log grep_error_log
                     grep_error_log_out);
my %Deferred;

# the sections in which Test::Nginx leaves $TEST_NGINX_* as written
my @Unexpanded = qw(more_headers error_code response_body_like
                    response_headers response_headers_like error_log
                    no_error_log grep_error_log);

sub _prepare {
    my ($block) = @_;

    $block->set_value(config => '') unless defined $block->config;

    my $name = $block->name;
    my $code = $block->init;
    my $agent = delete $block->{spiffe_agent};

    if (defined $agent || defined $code && $code ne '') {
        stop_nginx();
    }
    if (defined $agent) {
        eval { spiffe_agent(_agent_options($agent->[0])); 1 }
            or die "$name - --- spiffe_agent: $@";
    }
    if (defined $code && $code ne '') {
        eval "package main; $code; 1"
            or die "$name - --- init died: $@";
        $block->set_value(init => '');
    }

    _never($block);

    for my $sec (@Unexpanded) {
        my $val = $block->$sec;
        $block->set_value($sec => _expand($val, $name)) if defined $val;
    }

    my $req = $block->request;
    if (ref $req eq 'ARRAY' && @$req > 1) {
        my %log = map { $_ => scalar $block->$_ } @LogSections;
        $block->set_value($_ => undef) for @LogSections;
        $Deferred{$block} = \%log;
    }

    eval { _client($block); 1 } or die "$name - $@";

    # the real runner reads TEST_NGINX_LOAD_MODULES once, at its start
    no warnings 'once';
    $Test::Nginx::Util::LoadModules = $ENV{TEST_NGINX_LOAD_MODULES};
}

# What no block may log, whatever it expects: nginx's [alert] and [emerg]
# lines, and a process that died of a signal.  They are added to the
# block's "--- no_error_log" unless the block expects them (names them in
# its error_log or grep_error_log), already has them there as they are,
# or nginx must not start ("--- must_die").  What a suite allows of
# [error] and [crit] is its own, written in its blocks.
my @Never = ('[alert]', '[emerg]', 'exited on signal');

sub _never {
    my ($block) = @_;
    return if defined $block->must_die;

    my @expected = map { ref $_ eq 'ARRAY' ? @$_ : $_ } grep { defined }
                   map { scalar $block->$_ } qw(error_log grep_error_log);

    my $v = $block->no_error_log;
    my @pats = !defined $v ? () : ref $v eq 'ARRAY' ? @$v
             : grep { /\S/ } split /\n+/, $v;

    my @add = grep {
        my ($never, $word) = ($_, s/^\[|\]\z//gr);
        !grep { "$_" =~ /\Q$word\E/ } @expected
            and !grep { !ref $_ && $_ eq $never } @pats;
    } @Never;
    return unless @add;

    $block->set_value(no_error_log => [@pats, @add]);
}

# $TEST_NGINX_* replaced in a text, or in each text of an array
sub _expand {
    my ($val, $name) = @_;
    return [map { _expand($_, $name) } @$val] if ref $val eq 'ARRAY';
    return $val if ref $val;
    $val =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{
        $ENV{$1} // die "$name - No environment $1 defined.\n"
    }ge;
    return $val;
}

# "--- spiffe_agent: ID [svid=ID[,hint=H]]... [federate=TD,...]
# [ttl=S] [jwt_alg=ALG]"
sub _agent_options {
    my ($text) = @_;
    my (%opt, @svids);
    for my $word (split ' ', $text) {
        if ($word =~ m{^spiffe://}) {
            $opt{spiffe_id} = $word;
        } elsif ($word =~ /^(svid)=(.+)\z/) {
            push @svids, $2;
        } elsif ($word =~ /^(federate|ttl|jwt_alg)=(.+)\z/) {
            $opt{$1} = $2;
        } else {
            croak "unknown word '$word'";
        }
    }
    $opt{svids} = \@svids if @svids;
    $opt{federate} = [split /,/, $opt{federate}] if $opt{federate};
    return %opt;
}

# "--- spiffe_client: ID" or "none", "--- spiffe_jwt: SUB AUD": the
# requests of the block go through a TLS client to the server under test
sub _client {
    my ($block) = @_;
    my ($id, $jwt) = map { my $v = delete $block->{$_}; $v && $v->[0] }
                     qw(spiffe_client spiffe_jwt);
    return unless $Agent || defined $id || defined $jwt;
    my $config = $block->config;

    if ($Agent) {
        $config .= <<'EOC';

    location /.spiffe-agent/ {
        proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/;
    }
EOC
    }

    if (defined $id) {
        $id =~ s/^\s+|\s+\z//g;
        my $cert = '';
        if ($id ne 'none') {
            my ($crt, $key) = spiffe_cert($id);
            $cert = "proxy_ssl_certificate $crt;\n"
                    . "        proxy_ssl_certificate_key $key;";
        }
        $config .= <<"EOC";

    location /.spiffe-client/ {
        proxy_pass https://127.0.0.1:\$TEST_NGINX_TLS_PORT/;
        proxy_set_header Host \$host;
        proxy_ssl_session_reuse off;
        $cert
    }
EOC
        $block->set_value(request => _map(scalar $block->request, sub {
            my ($req) = @_;
            $req =~ s{\A(\s*[A-Z]+\s+)(/(?!\.spiffe-))}
                     {$1/.spiffe-client$2};
            return $req;
        }));
    }

    if (defined $jwt) {
        my ($sub, $aud) = split ' ', $jwt;
        croak "--- spiffe_jwt: want 'SUB AUDIENCE'" unless defined $aud;
        my $line = 'Authorization: Bearer ' . spiffe_jwt($sub, $aud);
        $block->set_value(more_headers => _map(scalar $block->more_headers, sub {
            my ($h) = @_;
            return defined $h && $h =~ /\S/ ? "$h\n$line" : $line;
        }));
    }

    $block->set_value(config => $config);
}

# $f applied to a section's value, or to each value of an array of them
sub _map {
    my ($val, $f) = @_;
    return [map { $f->($_) } @$val] if ref $val eq 'ARRAY';
    return $f->($val);
}

# ---- for the suites -------------------------------------------------------

# Starts the test agent that the next blocks use (SpiffeAgent's options,
# plus federate => [TD...]: trust domains with a CA and JWT key of their
# own, whose bundles the agent serves as federated)
sub spiffe_agent {
    my (%opt) = @_;
    my $federate = delete $opt{federate} || [];
    $Agent->stop if $Agent;
    $Agent = SpiffeAgent->start(%opt);
    for my $td (@$federate) {
        $Agent->control_ok("new-td $td");
        $Agent->control_ok("federate $td");
    }
    return $Agent;
}

sub _agent {
    return $Agent || croak "no test agent: call spiffe_agent() or add"
                           . " --- spiffe_agent";
}

# an X.509-SVID for ID, from the CA of its trust domain (the agent's own or
# a federated one): (cert file, key file)
sub spiffe_cert {
    my ($id, %opt) = @_;
    my $agent = _agent();
    my ($td) = $id =~ m{^spiffe://([^/]+)} or croak "not a SPIFFE ID: $id";
    my $ca = -d $agent->state_dir . "/$td" ? $td : 'own';
    my $prefix = 'client-' . ++$Minted;
    my %r = $agent->control_ok(join ' ', 'mint', $id, $prefix, "ca=$ca",
                               map { "$_=$opt{$_}" } sort keys %opt);
    return ($r{cert}, $r{key});
}

# a JWT-SVID for SUB and AUDIENCE, signed by the key of SUB's trust domain
sub spiffe_jwt {
    my ($sub, $aud, %opt) = @_;
    return _agent()->mint_jwt($sub, $aud, %opt);
}

sub spiffe_control {
    my ($cmd) = @_;
    return _agent()->control_ok($cmd);
}

# once the block is done, its nginx still running: the log expectations
# of a block with several requests, on the whole log
sub _check_log_once {
    my ($block) = @_;
    my $log = delete $Deferred{$block} or return;
    return if defined $block->must_die;
    if (defined(my $skip = $block->skip_eval)) {
        my ($code) = $skip =~ /^\s*\d+\s*:\s*(.*)/s;
        return if eval "package main; $code";
    }

    $block->set_value($_ => $log->{$_}) for @LogSections;
    Test::Nginx::Socket::check_error_log($block, undef, 0, 0);
}

# Stops the nginx of the previous block, if it still runs: the real
# runner stops it only when it starts the next one.
sub stop_nginx {
    my $pidfile = "$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid";
    open my $fh, '<', $pidfile or return;
    my ($pid) = <$fh> =~ /(\d+)/;
    close $fh;
    return unless $pid && _alive($pid);

    kill 'QUIT', $pid;
    my $deadline = time + ($ENV{TEST_NGINX_USE_VALGRIND} ? 120 : 10);
    while (_alive($pid)) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            last;
        }
        sleep 0.02;
    }
    unlink $pidfile;
}

# not a zombie: a daemon's may wait long for its reaper
sub _alive {
    my ($pid) = @_;
    waitpid($pid, WNOHANG);
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    return <$fh> !~ /^\d+ \(.*\) [ZX]/s;
}

1;

__END__

=head1 NAME

SpiffeTest - test nginx configurations that use ngx_spiffe, on
Test::Nginx or on the fallback runner of t/lib

=head1 SYNOPSIS

    BEGIN { push @INC, 't/lib' }    # appended: Test::Nginx wins
    use Test::Nginx::Socket 'no_plan';
    use SpiffeTest;

    spiffe_agent(spiffe_id => 'spiffe://example.org/nginx',
                 federate  => ['partner.org']);
    run_tests();

    __DATA__

    === TEST 1: a prod service gets in
    --- main_config
        spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
    --- http_config
        server {
            listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;
            spiffe_svid on;
            spiffe_verify_client on;
            location / {
                spiffe_allow spiffe://example.org/ns/prod/**;
                proxy_pass http://backend;
            }
        }
    --- spiffe_client: spiffe://example.org/ns/prod/sa/web
    --- request
    GET /orders/1

=head1 DESCRIPTION

C<use SpiffeTest> makes a suite run the same on both runners (see
F<t/lib/README.md>, "One suite, two runners") and gives its blocks a test
SPIFFE Workload API agent (F<t/agent/agent.py>, through L<SpiffeAgent>)
and SPIFFE clients.

Its block preprocessor is the only one a suite has: besides the above,
it adds C<[alert]>, C<[emerg]> and C<exited on signal> to every block's
C<--- no_error_log>, unless the block expects them (names them in
C<error_log> or C<grep_error_log>), has them there already, or has
C<--- must_die>.  Everything else a block needs is written in the block.

=head2 Sections

=over 4

=item --- spiffe_agent: ID [svid=ID[,hint=H]]... [federate=TD,...] [ttl=S] [jwt_alg=ALG]

Before the block, after the previous block's nginx has stopped: a fresh
agent serving nginx the X.509-SVID ID (and the further SVIDs), with the
CAs and JWT keys of the federated trust domains.  It replaces the
agent of the file or of an earlier block, and stays for the blocks that
follow.  nginx reads it at C<unix:$TEST_NGINX_AGENT_SOCKET>; its state
directory is C<$TEST_NGINX_AGENT_STATE> (C<bundle.pem>, ...).

=item --- spiffe_client: ID

The requests of the block are sent through a TLS client that presents an
X.509-SVID for ID, minted for the block by the CA of ID's trust domain
(the agent's own, or a federated one), to
C<127.0.0.1:$TEST_NGINX_TLS_PORT> (default: the server port plus one),
where the block's TLS server under test listens.  C<none>: TLS without a
client certificate.  The client is a location of the runner's own
server, C</.spiffe-client/>, which the request URIs are moved under; it
logs into the same F<error.log>.

=item --- spiffe_jwt: SUB AUDIENCE

Every request carries C<Authorization: Bearer> and a JWT-SVID for SUB
and AUDIENCE, signed by the key of SUB's trust domain.

=back

While an agent of the kit runs, every block's server also has
C</.spiffe-agent/>, the agent's HTTP control interface: a request
C<GET /.spiffe-agent/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=500>
between two others rotates the SVID in the middle of the block,
C<GET /.spiffe-agent/down> and C</up> take the Workload API away and back
(the commands: F<t/agent/agent.py>).

=head2 Functions

=over 4

=item spiffe_agent(%opts)

Starts the agent for the blocks that follow (stopping the previous one):
the options of C<< SpiffeAgent->start >> (C<spiffe_id>, C<svids>,
C<ttl>, C<jwt_alg>, ...) and C<federate> (array ref of trust domains).
Returns the L<SpiffeAgent>.

=item spiffe_cert($id [, ttl => S])

An X.509-SVID for C<$id> from the CA of its trust domain: the certificate
(leaf and chain) and key file names.  A client's, or an upstream's to put
in C<ssl_certificate>.

=item spiffe_jwt($sub, $audience [, %opts])

A JWT-SVID (C<mint_jwt> of L<SpiffeAgent>).

=item spiffe_control($command)

Any command of the agent; dies unless it answers C<OK>.

=item SpiffeTest::stop_nginx()

Stops the previous block's nginx, if it still runs.

=back

=cut
