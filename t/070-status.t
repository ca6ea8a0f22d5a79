# spiffe_status (issue 8), the pages: the JSON page (every documented
# field, with its JSON type, and values that match the agent's SVID), the
# Prometheus page (a strict format check, t/lib/PromCheck.pm, and the same
# values as the JSON page), the SVID chosen by a long hint, 32 workers, no
# Workload API, and the directive's errors.  The counters are
# t/072-status-counters.t's, each worker's source through faults, rotations
# and reloads t/073-status-workers.t's; the fixture they share (agent,
# peers, the outer clients that blocks name with main::outer_http() and
# main::outer_config()) is t/lib/SpiffeStatusSuite.pm.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';
use SpiffeTest;
use SpiffeStatusSuite;
use SpiffeMTLS qw(start_probe);
use SpiffeStatus qw(request check_schema);

use Encode ();
use JSON::PP ();

# the fixture's (t/lib/SpiffeStatusSuite.pm)
our ($NW, $LONG_HINT);

# ---- the checker checks -------------------------------------------------

{
    my $good = <<'EOT';
# HELP a_total Things, with a \\ and a \n in the help.
# TYPE a_total counter
a_total{x="1",y="q\"uo\\te\nnl"} 3
a_total{x="2"} 0
# TYPE b gauge
# HELP b A gauge.
b -1.5e3
b{k="v"} +Inf
EOT
    my ($err, $samples) = PromCheck::check($good);
    is(join("\n", @$err), '', 'PromCheck accepts a valid text');
    is(scalar @$samples, 4, 'PromCheck finds its 4 samples');
    is($samples->[0]{labels}{y}, "q\"uo\\te\nnl",
       'PromCheck unescapes label values');

    # each bad text, and the error it must get
    my $head = "# HELP a_total H.\n# TYPE a_total counter\n";
    my %bad = (
        'no final newline' => ["${head}a_total 1", qr/not end with a newline/],
        'empty line'       => ["${head}\na_total 1\n", qr/line 3: empty line/],
        'other comment'    => ["# hello\n${head}a_total 1\n",
                               qr/line 1: a comment that is not HELP/],
        'empty HELP'       => ["# HELP a_total \n# TYPE a_total counter\n"
                               . "a_total 1\n", qr/line 1: a comment/],
        'bad HELP escape'  => ["# HELP a_total H \\x.\n# TYPE a_total counter\n"
                               . "a_total 1\n", qr/line 1: bad escape in HELP/],
        'untyped sample'   => ["x 1\n", qr/sample x before any TYPE/],
        'another name'     => ["${head}a_total_sum 1\n",
                               qr/sample a_total_sum under TYPE a_total/],
        'counter name'     => ["# HELP a H.\n# TYPE a counter\na 1\n",
                               qr/counter a does not end in _total/],
        'unknown type'     => ["# HELP a H.\n# TYPE a summary\na 1\n",
                               qr/type "summary" is not counter or gauge/],
        'no HELP'          => ["# TYPE a gauge\na 1\n",
                               qr/family a: no HELP line/],
        'HELP after'       => ["# TYPE a gauge\na 1\n# HELP a H.\n",
                               qr/HELP for a after its samples/],
        'TYPE after'       => ["# HELP a H.\n# TYPE a gauge\na 1\n"
                               . "# TYPE a gauge\n",
                               qr/TYPE for a after its samples/],
        'two HELP'         => ["${head}# HELP a_total H.\na_total 1\n",
                               qr/second HELP for a_total/],
        'two TYPE'         => ["${head}# TYPE a_total counter\na_total 1\n",
                               qr/second TYPE for a_total/],
        'family split'     => ["${head}a_total 1\n# HELP b H.\n# TYPE b gauge\n"
                               . "b 1\na_total{x=\"1\"} 2\n",
                               qr/a_total after its family's lines ended/],
        'bad label name'   => ["${head}a_total{1x=\"1\"} 1\n",
                               qr/bad label name/],
        'reserved label'   => ["${head}a_total{__x=\"1\"} 1\n",
                               qr/reserved label name __x/],
        'repeated label'   => ["${head}a_total{x=\"1\",x=\"2\"} 1\n",
                               qr/label x repeated/],
        'bad escape'       => ["${head}a_total{x=\"a\\tb\"} 1\n",
                               qr/bad escape \\t in label x/],
        'unescaped quote'  => ["${head}a_total{x=\"a\"b\"} 1\n",
                               qr/expected "," or "}"/],
        'unterminated'     => ["${head}a_total{x=\"a} 1\n",
                               qr/unterminated value of label x/],
        'trailing comma'   => ["${head}a_total{x=\"1\",} 1\n",
                               qr/trailing comma/],
        'space in labels'  => ["${head}a_total{x=\"1\", y=\"2\"} 1\n",
                               qr/bad label name/],
        'duplicate series' => ["${head}a_total{x=\"1\",y=\"2\"} 1\n"
                               . "a_total{y=\"2\",x=\"1\"} 2\n",
                               qr/line 4: duplicate series/],
        'not a float'      => ["${head}a_total 0x10\n", qr/text after the value/],
        'no value'         => ["${head}a_total\n", qr/one space and a float/],
        'two spaces'       => ["${head}a_total  1\n", qr/one space and a float/],
        'timestamp'        => ["${head}a_total 1 1700000000000\n",
                               qr/text after the value/],
        'negative counter' => ["${head}a_total -1\n", qr/has value -1/],
        'NaN counter'      => ["${head}a_total NaN\n", qr/has value NaN/],
        'CRLF'             => ["${head}a_total 1\r\n", qr/carriage return/],
        'not UTF-8'        => ["${head}a_total{x=\"\xff\"} 1\n",
                               qr/not valid UTF-8/],
    );
    for my $what (sort keys %bad) {
        my ($text, $want) = @{ $bad{$what} };
        my ($e) = PromCheck::check($text);
        like(join("\n", @$e), $want, "PromCheck refuses: $what");
    }
}

# ---- the probe's actions -------------------------------------------------

# GET /probe/json[?workers=N]: the JSON page, checked, once N workers (by
# default $NW) are connected: a worker that still waits for its first SVID
# does not accept connections yet, but another one may already answer
sub json_report {
    my (%q) = @_;
    my $n = $q{workers} // $NW;
    wait_page(sub { all_state($_[0], 'connected', $n) }, 5) if $n;
    my $res = request('GET', '/status');
    my @out = ("status $res->{status}"
               . ($res->{error} ? " ($res->{error})" : ''));
    push @out, 'content-type: '
               . join(', ', @{ $res->{headers}{'content-type'} || [] });
    my $body = $res->{body};
    push @out, 'body: ' . ($body =~ /\A[^\n]+\n\z/
                           ? 'one line' : 'not one line and a newline');

    my $j = eval { JSON::PP->new->utf8->decode($body) };
    return lines(@out, "not JSON: $@") unless ref $j eq 'HASH';
    my @err = check_schema($j);
    return lines(@out, map { "schema: $_" } @err) if @err;
    push @out, 'schema: ok';

    my $agent = agent_svid();
    push @out, secrets_in($body), workers_lines($j);
    for my $w (@{ $j->{workers} }) {
        push @out, "worker $w->{worker}: " . svid_text($w, $agent);
        push @out, "worker $w->{worker}: " . source_text($w);
    }
    push @out, 'bundles: ' . bundles_text($j), 'counters: ' . nonzero($j);
    return lines(@out);
}

# GET /probe/prom[?workers=N]: the Prometheus page, checked, once N
# workers (by default $NW) are connected
sub prom_report {
    my (%q) = @_;
    my $n = $q{workers} // $NW;
    wait_page(sub { all_state($_[0], 'connected', $n) }, 10);
    return lines(prom_lines());
}

# GET /probe/hint: the workers of the JSON page, their SVID and hint
sub hint_report {
    # a worker may still be in its start (the agent saw its stream before
    # the worker applied the answer): wait until every worker has an SVID
    my ($j) = wait_page(sub {
        my ($p) = @_;
        return ref $p eq 'HASH' && ref $p->{workers} eq 'ARRAY'
               && @{ $p->{workers} } == $NW
               && !grep { !$_->{svid} } @{ $p->{workers} };
    }, 5);
    return "no page" unless ref $j eq 'HASH';
    my $want = Encode::decode('UTF-8', $LONG_HINT);
    my @out = ('workers: ' . scalar @{ $j->{workers} });
    for my $w (@{ $j->{workers} }) {
        my $s = $w->{svid} or do {
            push @out, "worker $w->{worker}: svid null";
            next;
        };
        push @out, "worker $w->{worker}: svid $s->{id} hint="
                   . ($s->{hint} eq $want ? 'the configured one'
                      : 'of ' . length($s->{hint}) . ' characters: '
                        . Encode::encode('UTF-8', $s->{hint}));
    }
    return lines(@out);
}

start_probe(
    json => \&json_report,
    prom => \&prom_report,
    hint => \&hint_report,
);

run_tests();

__DATA__

=== TEST 1: JSON page: every documented field with its type; the SVID is the agent's; two workers
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
["GET /ctl/wait-streams/$::NW/5000", "GET /probe/json"]
--- response_body eval
["OK ready=$::NW\n", <<"EOT" . join('', map { <<"EOW" } 0 .. $::NW - 1) . <<"EOT2"]
status 200
content-type: application/json
body: one line
schema: ok
secrets: none
workers: @{[ join ',', 0 .. $::NW - 1 ]}
worker pids: distinct
@{[ join '', map { "worker $_ pid: nginx\n" } 0 .. $::NW - 1 ]}answered by: a worker
EOT
worker $_: svid $::SELF serial=agent hint=$::HINT not_after=agent seconds_left=ok
worker $_: source connected version=1 last_message=recent last_error="" failures=0
EOW
bundles: example.org{source=workload_api,x509_authorities=1} mesh.test{source=workload_api,x509_authorities=1}
counters: source.svid_updates=$::NW
EOT2
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 2: Prometheus page: strict format, documented families, same values as JSON
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
--- request eval
["GET /ctl/wait-streams/$::NW/5000", "GET /probe/prom"]
--- response_body eval
["OK ready=$::NW\n", <<'EOT']
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 3: "json" and "prometheus" said explicitly; HEAD has the headers only; other methods get 405
--- init
workers(1);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status json; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request eval
["HEAD /status", "POST /status\nx=1", "HEAD /metrics", "DELETE /metrics"]
--- error_code eval
[200, 405, 200, 405]
--- response_headers eval
["Content-Type: application/json", "Content-Type: text/html",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Content-Type: text/html"]
--- response_body eval
["", qr/405 Not Allowed/, "", qr/405 Not Allowed/]
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 4: 32 workers whose SVID has a 2048-byte ID: the Prometheus page is whole and valid
# Regression (fixed in 702f420): the page was written into a fixed 64 KiB
# buffer; one expiry line per worker takes about 2.2 KB with such an ID, so
# from about 30 workers (64 are shown) the page was cut in the middle of a
# label, without its last families or final newline, and served with 200
# (the log only warned "spiffe: status page truncated")
--- skip_eval: 1: $::VALGRIND
--- init
$::AGENT->control_ok("rotate-svid $::LONG_ID");
workers(32);
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
    location = /metrics { spiffe_status prometheus; }
EOC
--- request eval
["GET /ctl/wait-streams/32/10000", "GET /probe/prom?workers=32",
 "GET /ctl/rotate-svid?arg=$::SELF"]
--- response_body eval
["OK ready=32\n", <<'EOT', qr/\AOK serial=\w+ id=\Q$::SELF\E\n\z/]
metrics: status 200
metrics content-type: text/plain; version=0.0.4; charset=utf-8
format: ok
families: as documented
metrics secrets: none
metrics: same as json
EOT
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 5: an SVID chosen by a long non-ASCII spiffe_svid_hint: the page shows the workers and the whole hint
# Regression (fixed in 702f420): the worker slot kept 127 bytes of the
# hint (char hint[128]); cut inside a UTF-8 character, jansson refused the
# string, json_pack() of the worker failed and the worker was left out of
# "workers" without a word
--- init
$::AGENT->control_ok("add-svid $::HINTED,hint=$::LONG_HINT")
    unless $::AGENT->status->{svids} > 1;
workers($::NW);
--- main_config eval
"    spiffe_workload_api unix:\$TEST_NGINX_AGENT_SOCKET;\n"
. "    spiffe_svid_hint $::LONG_HINT;\n"
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
EOC
--- request eval
["GET /ctl/wait-streams/$::NW/5000", "GET /probe/hint"]
--- response_body eval
["OK ready=$::NW\n",
 "workers: $::NW\n"
 . join('', map { "worker $_: svid $::HINTED hint=the configured one\n" }
                0 .. $::NW - 1)]
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 6: without a Workload API: no workers, no bundles, counters at zero
--- init
workers(1);
--- http_config eval: main::outer_http()
--- config eval
<<'EOC' . main::outer_config()
    location = /status { spiffe_status; }
EOC
--- request
GET /probe/json?workers=0
--- response_body
status 200
content-type: application/json
body: one line
schema: ok
secrets: none
workers: none
worker pids: distinct
answered by: nginx, unlisted
bundles: none
counters: all zero
--- timeout: 30
--- no_error_log
[error]
[crit]



=== TEST 7: spiffe_status with an unknown format
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status {
        include $TEST_NGINX_HTML_DIR/bad.conf;
    }
--- user_files
>>> bad.conf
# the format
spiffe_status xml;
--- must_die
--- error_log
[emerg]
invalid value "xml" in "spiffe_status", it must be "json", "prometheus" or "ready" in $TEST_NGINX_HTML_DIR/bad.conf:2



=== TEST 8: spiffe_status twice in a location
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status {
        include $TEST_NGINX_HTML_DIR/bad.conf;
    }
--- user_files
>>> bad.conf
spiffe_status;
spiffe_status prometheus;
--- must_die
--- error_log
[emerg]
"spiffe_status" directive is duplicate in $TEST_NGINX_HTML_DIR/bad.conf:2



=== TEST 9: spiffe_status in a server block
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    include $TEST_NGINX_HTML_DIR/bad.conf;
--- user_files
>>> bad.conf

spiffe_status;
--- must_die
--- error_log
[emerg]
"spiffe_status" directive is not allowed here in $TEST_NGINX_HTML_DIR/bad.conf:2



=== TEST 10: spiffe_status in http{}
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- http_config
    include $TEST_NGINX_HTML_DIR/bad.conf;
--- user_files
>>> bad.conf
spiffe_status json;
--- must_die
--- error_log
[emerg]
"spiffe_status" directive is not allowed here in $TEST_NGINX_HTML_DIR/bad.conf:1



=== TEST 11: spiffe_status in an "if" in a location
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status {
        if ($arg_x) {
            include $TEST_NGINX_HTML_DIR/bad.conf;
        }
    }
--- user_files
>>> bad.conf
spiffe_status;
--- must_die
--- error_log
[emerg]
"spiffe_status" directive is not allowed here in $TEST_NGINX_HTML_DIR/bad.conf:1



=== TEST 12: spiffe_status with two formats
--- main_config
    spiffe_workload_api unix:$TEST_NGINX_AGENT_SOCKET;
--- config
    location = /status {
        include $TEST_NGINX_HTML_DIR/bad.conf;
    }
--- user_files
>>> bad.conf
spiffe_status json prometheus;
--- must_die
--- error_log
[emerg]
invalid number of arguments in "spiffe_status" directive in $TEST_NGINX_HTML_DIR/bad.conf:1
