#!/bin/sh
# t/nginx/source.sh VERSION DIR: nginx-VERSION.tar.gz in DIR, the upstream
# tarball of a Debian source package (see the table below), fetched with
# apt-get from the configured Debian mirror under a source list of its own:
# the system's lists are neither read nor changed.  apt-get may refuse the
# .dsc and still fetch the tarball: the tarball decides, not its exit code.

set -eu

version=$1
dir=$2

# nginx version: Debian suite and package version that ship it
case $version in
1.26.3) suite=trixie package=1.26.3-3+deb13u10 ;;
*)
    echo "$0: no Debian source package known for nginx $version" >&2
    exit 1
    ;;
esac

tarball=$dir/nginx-$version.tar.gz

if [ -s "$tarball" ]; then
    exit 0
fi

mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' \
             /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}

apt=$dir/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
     "$mirror $suite main" > "$apt/sources.list"

set -- -o Dir::Etc::sourcelist="$PWD/$apt/sources.list" \
       -o Dir::Etc::sourceparts=/dev/null \
       -o Dir::State::Lists="$PWD/$apt/lists" \
       -o Dir::Cache="$PWD/$apt/cache" \
       -o APT::Sandbox::User=root -qq

apt-get "$@" update
(cd "$apt" && apt-get "$@" source --download-only "nginx=$package") || :

if [ ! -s "$apt/nginx_$version.orig.tar.gz" ]; then
    echo "$0: apt-get did not fetch nginx_$version.orig.tar.gz" \
         "(nginx=$package from $mirror $suite)" >&2
    exit 1
fi

mv "$apt/nginx_$version.orig.tar.gz" "$tarball"
rm -rf "$apt"
