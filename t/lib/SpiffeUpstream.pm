package SpiffeUpstream;

# Shared pieces of the upstream mTLS suites (t/040-upstream.t,
# t/061-stream-upstream.t): the TLS upstream servers of the same nginx,
# and the lines that a refused upstream handshake logs.

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(matrix_servers tls_servers refused $REFUSED_LEVEL);

# the level of nginx's own line about an upstream handshake that the module
# refused: nginx 1.22 classifies an SSL error by OpenSSL's first error
# ("callback failed": error), 1.26 by its last ("certificate verify
# failed": crit); the change came with nginx 1.23.4's new SSL log levels
our $REFUSED_LEVEL = do {
    my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my ($x, $y, $z) = `'$bin' -v 2>&1` =~ m{nginx/(\d+)\.(\d+)\.(\d+)};
    defined $z && $x * 1e6 + $y * 1e3 + $z >= 1023004 ? 'crit' : 'error';
};

# The upstreams both suites have, for tls_servers: STATE is the agent's
# state directory, where the suite minted db (a valid SVID of the agent's
# trust domain) and expired; CERTS has t/cert/mkcerts.py's matrix.
sub matrix_servers {
    my ($state, $certs) = @_;
    return (
        up      => [],
        db      => ["$state/db.pem", "$state/db.key"],
        expired => ["$state/expired.pem", "$state/expired.key"],
        web     => ["$certs/web.pem", "$certs/web.key"],
        cross   => ["$certs/cross-domain.pem", "$certs/cross-domain.key"],
        unknown => ["$certs/unknown-td.pem", "$certs/unknown-td.key"],
        other   => ["$certs/good-other.pem", "$certs/good-other.key"],
    );
}

# tls_servers(\%servers, $config, %listen): an http server for each NAME of
# %servers on unix:$TEST_NGINX_SERVROOT/logs/NAME.sock, and on the socket
# $listen{NAME} of logs/ too; TLS 1.2 and 1.3, spiffe_verify_client on, with
# the [CERT, KEY] of NAME or, when it has none, spiffe_svid on.  $config,
# NAME replaced, is the rest of its server {} (its locations).
sub tls_servers {
    my ($servers, $config, %listen) = @_;
    my $conf = '';
    for my $name (sort keys %$servers) {
        my ($cert, $key) = @{ $servers->{$name} };
        my $extra = !$listen{$name} ? '' : "\n        listen unix:"
                    . "\$TEST_NGINX_SERVROOT/logs/$listen{$name} ssl;";
        my $tls = $cert ? "ssl_certificate $cert;\n"
                          . "        ssl_certificate_key $key;"
                        : 'spiffe_svid on;';
        (my $rest = $config) =~ s/NAME/$name/g;
        $conf .= <<"EOC";
    server {
        listen unix:\$TEST_NGINX_SERVROOT/logs/$name.sock ssl;$extra
        ssl_protocols TLSv1.2 TLSv1.3;
        $tls
        spiffe_verify_client on;
$rest    }
EOC
    }
    return $conf;
}

# one refused upstream handshake: the module's line (ID empty when the
# upstream had none; WHERE: 'location "/api/"', 'the server at ...'), then
# nginx's
sub refused {
    my ($id, $where, $reason) = @_;
    my $svid = $id eq '' ? 'X.509-SVID' : qq{X.509-SVID "$id"};
    return "spiffe: upstream $svid refused in $where: $reason\n"
           . "SSL_do_handshake() failed (SSL: error:0A0000EA:SSL routines::"
           . "callback failed error:0A000086:SSL routines::certificate verify "
           . "failed)\n";
}

1;
