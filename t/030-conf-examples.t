# Every configuration in conf-examples/ passes "nginx -t" with the module
# as built, loaded the way the example loads it (modules/ under the prefix).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my ($module) = grep { /ngx_http_spiffe_module\.so$/ }
               split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
$module ||= abs_path('build/ngx_http_spiffe_module.so');
(my $stream = $module) =~ s/ngx_http_spiffe_module/ngx_stream_spiffe_module/;

ok(-f $module, "module built: $module") or BAIL_OUT("no module");
ok(-f $stream, "stream module built: $stream") or BAIL_OUT("no module");

my @confs = sort glob 'conf-examples/*.conf';
ok(@confs >= 5, scalar(@confs) . " example configurations");

for my $conf (@confs) {
    my $prefix = tempdir(CLEANUP => 1);
    mkdir "$prefix/$_" for qw(modules logs);
    symlink $module, "$prefix/modules/ngx_http_spiffe_module.so" or die $!;
    symlink $stream, "$prefix/modules/ngx_stream_spiffe_module.so" or die $!;
    symlink $ENV{TEST_NGINX_STREAM_MODULE}
            || '/usr/lib/nginx/modules/ngx_stream_module.so',
            "$prefix/modules/ngx_stream_module.so" or die $!;

    # demo.conf takes its module and agent from "make demo"
    my @args = ('-t', '-p', "$prefix/", '-c', abs_path($conf));
    local $ENV{SPIFFE_ENDPOINT_SOCKET} = 'unix:///tmp/ngx-spiffe-demo.sock';
    if ($conf =~ /demo\.conf$/) {
        push @args, '-g', "load_module $module;";
    }

    my $cmd = join ' ', map { "'$_'" } $nginx, @args;
    my $out = `$cmd 2>&1`;
    is($?, 0, "$conf: nginx -t") or diag($out);
    like($out, qr/test is successful/, "$conf: test is successful");
    unlike($out, qr/\[(warn|error|crit|alert|emerg)\]/, "$conf: no warnings");
}

done_testing();
