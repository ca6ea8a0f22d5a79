package SpiffeStream;

# Shared pieces of the stream suites (t/06*-stream*.t): the modules to load,
# in the README's order -- nginx's stream module, the http object, then the
# stream object, derived from TEST_NGINX_LOAD_MODULES (which "make test"
# sets to the http object) --, the plain http backends of the stream servers
# under test (backends(), which blocks name in their --- http_config),
# waiting for a log to have its lines, "nginx -t" on a configuration written
# by the suite, and a rotation under load.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use SpiffeMTLS qw(start_load stop_load agent_cmd);

use Exporter 'import';
our @EXPORT_OK = qw($STREAM_CORE $HTTP_SO $STREAM_SO $MODULES $SLOW
                    $ERROR_BUT_502 $ERROR_BUT_PLAIN $CRIT_BUT_SHUTDOWN
                    slurp wait_log nginx_t rotate_under_load
                    backends);

# nginx's own stream module: Debian's, or that of the nginx under test
our $STREAM_CORE = $ENV{TEST_NGINX_STREAM_MODULE}
                  || '/usr/lib/nginx/modules/ngx_stream_module.so';
our ($HTTP_SO) = grep { /ngx_http_spiffe_module\.so$/ }
                 split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
$HTTP_SO //= abs_path('build/ngx_http_spiffe_module.so');
(our $STREAM_SO = $HTTP_SO)
    =~ s{ngx_http_spiffe_module\.so$}{ngx_stream_spiffe_module.so};
our $MODULES = "$STREAM_CORE $HTTP_SO $STREAM_SO";

for my $so ($STREAM_CORE, $HTTP_SO, $STREAM_SO) {
    die "$0: no $so (make modules; libnginx-mod-stream)\n" unless -f $so;
}

# waits for nginx are longer under valgrind (the runner's request timeouts
# are 10 times longer there), and so is the load of the rotation blocks
our $SLOW = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

# What a refusal logs besides the module's lines: the outer client's 502,
# and (a bug) nginx's SSL_shutdown() complaint about the request
# it never read.  Only those two lines are let through in refusal blocks,
# and the second in blocks whose stream server answers with "return",
# which does not read the request either.
our $ERROR_BUT_502 = qr/\[error\](?!.*(?:upstream prematurely closed connection while reading response header from upstream|SSL_write\(\) failed \(32: Broken pipe\) while sending request to upstream))/;
# a plain connection closed with the request unread: a reset, or not
our $ERROR_BUT_PLAIN = qr/\[error\](?!.*(?:upstream prematurely closed connection|recv\(\) failed \(104: Connection reset by peer\)) while reading response header from upstream)/;
our $CRIT_BUT_SHUTDOWN = qr/\[crit\](?!.*SSL_shutdown\(\) failed \(SSL: error:0A000123:SSL routines::application data after close notify\))/;

# The backends of the stream servers under test (t/060-stream.t,
# t/062-stream-config.t), plain http servers of the same nginx that a
# block's --- http_config names: backend.sock answers "backend: URI",
# backend2.sock "backend2: URI"
sub backends {
    return <<'EOC';
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/backend.sock;
        return 200 "backend: $request_uri\n";
    }

    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/backend2.sock;
        return 200 "backend2: $request_uri\n";
    }
EOC
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh> // '';
}

# the text of logs/FILE once it has n lines (3 s at most): a stream session
# is logged when it ends, which may be just after the outer response
sub wait_log {
    my ($file, $want) = @_;
    $file = "$ENV{TEST_NGINX_SERVROOT}/logs/$file";
    my $deadline = time + 3 * $SLOW;
    while (time < $deadline) {
        my $lines = () = slurp($file) =~ /\n/g;
        last if $lines >= $want;
        sleep 0.02;
    }
    # let a line too many show up
    sleep 0.1;
    return slurp($file);
}

# "nginx -t" on a configuration (line numbers matter: four lines come
# before it, the load_module lines and error_log): the exit code, each
# [emerg] line (the file named FILE) and the text of the line that it
# names.  AGENT, SOCK and CERTS are replaced.
sub nginx_t {
    my ($conf) = @_;
    my $dir = tempdir('spiffe-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$dir/logs";
    my $top = join('', map { "load_module $_;\n" } split ' ', $MODULES)
              . "error_log stderr;\n";
    $conf =~ s/SOCK/$dir\/x.sock/g;
    $conf =~ s/AGENT/$ENV{TEST_NGINX_AGENT_SOCKET}/g;
    $conf =~ s/CERTS/$ENV{TEST_NGINX_CERTS}/g;
    my $file = "$dir/nginx.conf";
    open my $fh, '>', $file or return "cannot write $file\n";
    print {$fh} $top, $conf;
    close $fh;
    my @conf = split /\n/, $top . $conf;

    my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my $text = `'$bin' -t -p '$dir/' -c '$file' 2>&1`;
    my $rc = $? >> 8;
    my $out = "exit $rc\n";
    for my $line (split /\n/, $text) {
        next unless $line =~ /\[emerg\]/;
        $line =~ s/^.*?\[emerg\]\s*(?:\d+#\d+: )?//;
        $line =~ s/\Q$file\E:(\d+)/FILE:$1/g;
        $out .= "$line\n";
        $out .= "line $1: " . ($conf[$1 - 1] =~ s/^\s+//r) . "\n"
            if $line =~ /FILE:(\d+)/;
    }
    return $out;
}

# rotate_under_load(cmd => AGENT COMMAND, want => BODY, paths => [...],
# seen => sub { my ($serial, $timeout) = @_; seconds or undef }, what =>
# TEXT): the command while a client per path GETs it in a loop through the
# outer server (every answer must be BODY); whether what the command made
# was seen within 1 s, and whether any connection failed
sub rotate_under_load {
    my (%q) = @_;
    start_load($q{want}, @{ $q{paths} });
    sleep 0.3 * $SLOW;
    my $reply = agent_cmd($q{cmd});
    my ($serial) = $reply =~ /\bserial=(\w+)/;
    my $took = defined $serial
               ? $q{seen}->(lc $serial =~ s/^0+(?=.)//r, 3 * $SLOW)
               : undef;
    sleep 0.3 * $SLOW;
    my ($n, $bad, $first) = stop_load();

    return "command: " . ($reply =~ /^OK/ ? 'OK' : $reply) . "\n"
           . "$q{what} within 1 s: "
           . (defined $took && $took < 1 ? 'yes'
                                         : 'no (' . ($took // 'never') . ')')
           . "\n"
           . "connections: " . ($n >= 20 ? '20 or more' : $n) . "\n"
           . "failed: $bad" . ($bad ? " (first: $first)" : '') . "\n";
}

1;
