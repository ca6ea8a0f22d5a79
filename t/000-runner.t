# Self-test of the test runner (t/lib/Test/Nginx/Socket.pm), using stock
# nginx features only; it passes on the real Test::Nginx as well.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();

# real Test::Nginx does not set these itself
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();
$ENV{TEST_NGINX_SERVER_PORT} ||= server_port();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->error_log && !defined $block->no_error_log
        && !defined $block->must_die)
    {
        $block->set_value(no_error_log => "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: plain body
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello



=== TEST 2: HEAD has no body
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
HEAD /t
--- response_headers
Content-Length: 6
--- response_body chomp



=== TEST 3: response headers, present, absent, like
--- config
    location = /t {
        add_header X-Foo "bar baz";
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar baz
!X-Absent
Content-Type: text/plain
--- response_headers_like
Server: nginx(/[\d.]+)?
Date: \w{3}, .* GMT
--- response_body
ok



=== TEST 4: error_code
--- config
    location = /t {
        return 403;
    }
--- request
GET /t
--- error_code: 403
--- response_body_like: 403 Forbidden



=== TEST 5: more_headers reach $http_*
--- config
    location = /t {
        return 200 "x=$http_x_test ua=$http_user_agent\n";
    }
--- request
GET /t
--- more_headers
X-Test: abc def
# a comment line is ignored
User-Agent: runner
--- response_body
x=abc def ua=runner



=== TEST 6: error_log and no_error_log
--- config
--- request
GET /missing.html
--- error_code: 404
--- error_log
No such file or directory
[error]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 7: error_log as an eval'd list of regexes and strings
--- config
--- request
GET /nothere.html
--- error_code: 404
--- error_log eval
[qr/\[error\] \d+#\d+: \*\d+ open\(\) ".*nothere\.html" failed/,
 "request: \"GET /nothere.html HTTP/1.1\""]
--- no_error_log eval
[qr/\[alert\]/]



=== TEST 8: must_die on a bad directive
--- config
    no_such_directive on;
--- must_die
--- error_log
unknown directive "no_such_directive"
[emerg]



=== TEST 9: must_die with an error from http_config
--- http_config
    map $uri $m {
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected "\{" in .*nginx\.conf:\d+/



=== TEST 10: request eval with a body
--- config
    location = /len {
        return 200 "$request_method len=$content_length type=$content_type\n";
    }
--- more_headers
Content-Type: text/x-test
--- request eval
"POST /len\n" . ("a" x 100)
--- response_body
POST len=100 type=text/x-test



=== TEST 11: several requests, array expectations
--- config
    location = /a { return 200 "a\n"; }
    location = /b { return 201 "b\n"; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a\n", "b\n"]



=== TEST 12: grep_error_log with a string, after each request
--- config
--- request eval
["GET /nope1", "GET /nope2"]
--- error_code eval
[404, 404]
--- grep_error_log chop
No such file or directory
--- grep_error_log_out
No such file or directory
--- error_log
No such file or directory



=== TEST 13: grep_error_log with a regex
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- grep_error_log eval
qr/http request line: "[^"]*"/
--- grep_error_log_out
http request line: "GET /t HTTP/1.1"
--- no_error_log
[error]



=== TEST 14: response_body_like with chop
--- config
    location = /t {
        return 200 "pid $pid\n";
    }
--- request
GET /t
--- response_body_like chop
^pid \d+$



=== TEST 15: chunked response (HTTP/1.1)
--- config
    location = /t {
        sub_filter 'hello' 'bye';
        sub_filter_types text/plain;
        return 200 "hello world\n";
    }
--- request
GET /t
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
bye world



=== TEST 16: HTTP/1.0 request, no chunking
--- config
    location = /t {
        sub_filter 'hello' 'bye';
        sub_filter_types text/plain;
        return 200 "hello $server_protocol\n";
    }
--- request
GET /t HTTP/1.0
--- response_headers
!Transfer-Encoding
--- response_body
bye HTTP/1.0



=== TEST 17: user_files served from the default root location
--- config
--- user_files
>>> dir/hello.html
<p>hi</p>
>>> other.txt
other
--- request
GET /dir/hello.html
--- response_headers
Content-Type: text/html
--- response_body
<p>hi</p>



=== TEST 18: $TEST_NGINX_* in config and expectations, main_config
--- main_config
    worker_rlimit_nofile 1024;
--- http_config
    map $uri $where {
        default "$TEST_NGINX_SERVER_PORT";
    }
--- config
    location = /t {
        return 200 "port=$where html=$TEST_NGINX_HTML_DIR\n";
    }
--- request
GET /t
--- response_body
port=$TEST_NGINX_SERVER_PORT html=$TEST_NGINX_HTML_DIR



=== TEST 19: init and wait
--- config
--- init
open my $fh, '>', "$ENV{TEST_NGINX_HTML_DIR}/init.txt" or die "init: $!";
print $fh "written by init\n";
close $fh;
--- request
GET /init.txt
--- wait: 0.1
--- response_body
written by init



=== TEST 20: skip_eval skips the whole block
--- skip_eval: 1: 1
--- config
    this_would_not_start;
--- request
GET /t
