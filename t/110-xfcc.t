# Envoy's X-Forwarded-Client-Cert: $spiffe_xfcc_forward per
# spiffe_xfcc_forward (sanitize, forward_only, append_forward,
# sanitize_set), the optional parts of spiffe_xfcc_details (Cert, Chain,
# Subject, DNS) quoted and escaped as Envoy writes them, several header
# lines a client sent joined, and nothing forwarded for a client that is
# not verified.
#
# nginx is both sides (see t/lib/SpiffeMTLS.pm): the TLS server under test
# sets the header from the variable and proxies to the probe's echo
# backend, which answers with the X-* header lines it received.  A block
# names the outer side of t/lib/SpiffeMTLS.pm it goes through:
# main::outer_upstreams() in its http_config, main::outer_locations()
# (/as/PEER/, /fresh/PEER/, /nocert/, /ctl/, /probe/) as its config.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeAgent;
use SpiffeMTLS qw(add_peer leaf_sha256 outer_locations outer_upstreams
                  slurp start_probe);

our $SELF = 'spiffe://mesh.test/ns/edge/sa/gateway';

my $certs = SpiffeAgent::certs();
my $agent = SpiffeAgent->start(spiffe_id => $SELF);

$agent->control_ok("federate example.org $certs/ca-a.pem");

add_peer($_, "$certs/$_.pem", "$certs/$_.key")
    for qw(good good-xfcc no-uri);

start_probe();

# the element nginx adds for a peer, without details
sub element {
    my ($peer, $id) = @_;
    return "By=$SELF;Hash=" . leaf_sha256("$certs/$peer.pem") . ";URI=$id";
}

# a PEM text URL-encoded as Envoy does: all but RFC 3986's unreserved
sub url_encoded {
    my ($pem) = @_;
    $pem =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
    return $pem;
}

my @pems = slurp("$certs/good-xfcc.pem")
           =~ /(-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n)/gs;
die "good-xfcc.pem is not a leaf and an intermediate" unless @pems == 2;

our %E = (
    good  => element('good', 'spiffe://example.org/ns/prod/sa/web'),
    plain => element('good-xfcc', 'spiffe://example.org/ns/prod/sa/xfcc'),
);

# good-xfcc with every detail, in Envoy's order; the subject as RFC 2253
# escapes it ('"' and ',' with a backslash), always quoted.  A resumed
# session has no chain from the client: Chain is the leaf alone.
sub details {
    my @chain = @_;
    return "By=$SELF;Hash=" . leaf_sha256("$certs/good-xfcc.pem")
        . ';Cert="' . url_encoded($pems[0]) . '"'
        . ';Chain="' . url_encoded(join '', @chain) . '"'
        . ';Subject="CN=say \"hi\"\, web,O=ngx_spiffe test"'
        . ';URI=spiffe://example.org/ns/prod/sa/xfcc'
        . ';DNS=xfcc.example.org;DNS="a,b.example.org"';
}
$E{details} = details(@pems);
$E{resumed} = details($pems[0]);

# what clients send: two header lines, one with a quoted value
our $SENT = "X-Forwarded-Client-Cert: By=spiffe://a.test/x;URI=spiffe://a.test/c1\n"
    . "X-Forwarded-Client-Cert: By=spiffe://a.test/y;URI=\"spiffe://a.test/c2;x=1\"\n"
    . "X-Other: kept";
our $JOINED = 'By=spiffe://a.test/x;URI=spiffe://a.test/c1,'
    . 'By=spiffe://a.test/y;URI="spiffe://a.test/c2;x=1"';

our $SERVER = <<'EOC';
    server {
        listen unix:$TEST_NGINX_SERVROOT/logs/tls.sock ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        spiffe_svid on;
        spiffe_verify_client optional;
EOC

our $ECHO = <<'EOC';
            proxy_set_header X-Forwarded-Client-Cert $spiffe_xfcc_forward;
            proxy_pass http://unix:$TEST_NGINX_PROBE:/echo;
EOC

# the echo: our header, then the other X- lines
sub echo { join '', map { "$_\n" } grep { defined } @_, 'X-Other: kept' }

log_level('info');

run_tests();

__DATA__

=== TEST 1: sanitize_set (the default): our element only, whatever the client sent; nothing for a client that is not verified
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
"$main::SERVER
        location / {
$main::ECHO
        }
    }
"
. main::outer_upstreams()
--- config eval
main::outer_locations()
--- more_headers eval
$main::SENT
--- request eval
["GET /as/good/", "GET /as/no-uri/", "GET /nocert/"]
--- response_body eval
[main::echo("X-Forwarded-Client-Cert: $main::E{good}"), main::echo(),
 main::echo()]
--- no_error_log
[error]
[crit]



=== TEST 2: forward_only: the client's header lines as received, joined; nothing when it sent none or is not verified
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
"$main::SERVER
        location / {
            spiffe_xfcc_forward forward_only;
$main::ECHO
        }
    }
"
. main::outer_upstreams()
--- config eval
main::outer_locations()
--- more_headers eval
[$main::SENT, "X-Other: kept", $main::SENT, $main::SENT]
--- request eval
["GET /as/good/", "GET /as/good/", "GET /as/no-uri/", "GET /nocert/"]
--- response_body eval
[main::echo("X-Forwarded-Client-Cert: $main::JOINED"), main::echo(),
 main::echo(), main::echo()]
--- no_error_log
[error]
[crit]



=== TEST 3: append_forward: the client's lines, a comma, our element; our element alone when it sent none
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
"$main::SERVER
        location / {
            spiffe_xfcc_forward append_forward;
$main::ECHO
        }
    }
"
. main::outer_upstreams()
--- config eval
main::outer_locations()
--- more_headers eval
[$main::SENT, "X-Other: kept", $main::SENT, $main::SENT]
--- request eval
["GET /as/good/", "GET /as/good/", "GET /as/no-uri/", "GET /nocert/"]
--- response_body eval
[main::echo("X-Forwarded-Client-Cert: $main::JOINED,$main::E{good}"),
 main::echo("X-Forwarded-Client-Cert: $main::E{good}"),
 main::echo(), main::echo()]
--- no_error_log
[error]
[crit]



=== TEST 4: sanitize: nothing, even for a verified client that sent the header
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
"$main::SERVER
        location / {
            spiffe_xfcc_forward sanitize;
$main::ECHO
        }
    }
"
. main::outer_upstreams()
--- config eval
main::outer_locations()
--- more_headers eval
$main::SENT
--- request eval
["GET /as/good/", "GET /as/good-xfcc/"]
--- response_body eval
[main::echo(), main::echo()]
--- no_error_log
[error]
[crit]



=== TEST 5: spiffe_xfcc_details cert chain subject dns: Envoy's parts, quoted and escaped; TLS 1.2 too; a resumed session knows the leaf only
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
"$main::SERVER
        spiffe_xfcc_details cert chain subject dns;

        location / {
            spiffe_xfcc_forward append_forward;
$main::ECHO
        }

        location /var {
            return 200 \"\$spiffe_xfcc\\n\";
        }
    }
"
. main::outer_upstreams()
--- config eval
main::outer_locations()
--- more_headers eval
$main::SENT
--- request eval
["GET /as/good-xfcc/", "GET /as/good-xfcc/", "GET /fresh12/good-xfcc/",
 "GET /as/good-xfcc/var"]
--- response_body eval
[main::echo("X-Forwarded-Client-Cert: $main::JOINED,$main::E{details}"),
 main::echo("X-Forwarded-Client-Cert: $main::JOINED,$main::E{resumed}"),
 main::echo("X-Forwarded-Client-Cert: $main::JOINED,$main::E{details}"),
 "$main::E{resumed}\n"]
--- no_error_log
[error]
[crit]



=== TEST 6: inheritance: a location's mode and details win over the server's; "off" drops inherited details
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
"$main::SERVER
        spiffe_xfcc_forward sanitize;
        spiffe_xfcc_details subject;

        location / {
$main::ECHO
        }

        location /set/ {
            spiffe_xfcc_forward sanitize_set;
$main::ECHO
        }

        location /off/ {
            spiffe_xfcc_forward sanitize_set;
            spiffe_xfcc_details off;
$main::ECHO
        }
    }
"
. main::outer_upstreams()
--- config eval
main::outer_locations()
--- more_headers eval
$main::SENT
--- request eval
["GET /as/good-xfcc/", "GET /as/good-xfcc/set/", "GET /as/good-xfcc/off/"]
--- response_body eval
[main::echo(),
 main::echo("X-Forwarded-Client-Cert: By=$main::SELF;Hash="
            . main::leaf_sha256("$ENV{TEST_NGINX_CERTS}/good-xfcc.pem")
            . ';Subject="CN=say \"hi\"\, web,O=ngx_spiffe test"'
            . ';URI=spiffe://example.org/ns/prod/sa/xfcc'),
 main::echo("X-Forwarded-Client-Cert: $main::E{plain}")]
--- no_error_log
[error]
[crit]



=== TEST 7: long header lines are forwarded whole
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval
"$main::SERVER
        large_client_header_buffers 4 16k;

        location / {
            spiffe_xfcc_forward append_forward;
$main::ECHO
        }
    }
"
. main::outer_upstreams()
--- config eval
main::outer_locations()
--- more_headers eval
join "\n", (map { "X-Forwarded-Client-Cert: By=spiffe://a.test/$_;URI=spiffe://a.test/" . ('x' x 3000) } 1 .. 3), 'X-Other: kept'
--- request eval
["GET /as/good/"]
--- response_body eval
[main::echo("X-Forwarded-Client-Cert: "
            . join(',', map { "By=spiffe://a.test/$_;URI=spiffe://a.test/" . ('x' x 3000) } 1 .. 3)
            . ",$main::E{good}")]
--- no_error_log
[error]
[crit]



=== TEST 8: an unknown mode is refused
--- config
    spiffe_xfcc_forward append;
--- must_die
--- error_log eval
qr{invalid value "append" in \S+nginx\.conf:\d+}



=== TEST 9: an unknown detail is refused
--- config
    location / {
        spiffe_xfcc_details cert uri;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "uri" in "spiffe_xfcc_details", it must be "off" or any of "cert", "chain", "subject" and "dns" in \S+nginx\.conf:\d+}



=== TEST 10: "off" does not go with parts
--- config
    spiffe_xfcc_details off cert;
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "off" in "spiffe_xfcc_details", it must be}



=== TEST 11: a part named twice
--- config
    spiffe_xfcc_details cert cert;
--- must_die
--- error_log eval
qr{\[emerg\] .*duplicate value "cert" in "spiffe_xfcc_details" in \S+nginx\.conf:\d+}



=== TEST 12: the directive twice in one context
--- config
    location /a {
        spiffe_xfcc_details cert;
        spiffe_xfcc_details dns;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"spiffe_xfcc_details" directive is duplicate in \S+nginx\.conf:\d+}
