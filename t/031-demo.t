# "make demo" end to end: conf-examples/demo.sh must show the allowed and
# the refused callers and a live rotation, leave nothing running, and log
# no error (it checks nginx's log itself and fails on any).

use strict;
use warnings;

use Test::More;

# the nginx and the module the other suites run: make test
# NGINX_VERSION=..., make test-asan
$ENV{DEMO_NGINX} = $ENV{TEST_NGINX_BINARY} if $ENV{TEST_NGINX_BINARY};
($ENV{DEMO_MODULE}) = split ' ', $ENV{TEST_NGINX_LOAD_MODULES}
    if $ENV{TEST_NGINX_LOAD_MODULES};

my $out = `conf-examples/demo.sh 2>&1`;
my $rc = $? >> 8;

is($rc, 0, 'demo.sh exits 0') or diag($out);

like($out, qr{hello, spiffe://example\.org/ns/demo/sa/web\n\s+HTTP 200},
     'the allowed workload gets 200 and the backend sees its ID');
like($out, qr{sa/batch.*?\n\s+HTTP\ 403\n
              .*access\ forbidden\ by\ the\ rule\ at\ \S+/demo\.conf:\d+\ for}sx,
     'the refused workload gets 403, and the log says why: which rule');
like($out, qr{without a SPIFFE identity.*?HTTP 400}s,
     'a client without an SVID gets 400');
like($out,
     qr{agent rotated to ([0-9a-f]+)\n\s+serving serial \1\n},
     'the rotated serial is served');
unlike($out, qr{unexpected|not served|nginx logged errors},
       'no step reported a failure');

my @left = grep { /ngx-spiffe-demo/ } `ps -eo args`;
is(scalar @left, 0, 'nothing left running') or diag(@left);

done_testing();
