# ngx_spiffe: build, test, demo, benchmarks and fuzzing.
#
#   make         build/ngx_http_spiffe_module.so and
#                build/ngx_stream_spiffe_module.so against Debian's nginx-dev
#   make deps    install the Debian packages needed to build and test,
#                and openresty's Test::Nginx from Debian sid
#   make test    deps, build, unit tests, then the Test::Nginx suites on
#                Test::Nginx (the fallback runner of t/lib without it)
#   make test-fallback
#                the suites on the fallback runner of t/lib
#   make interop SPIRE server and agent, go-spiffe peers (t/interop) into
#                build/interop, for the SPIRE suite t/100-spire.t
#   make test-asan, make test-valgrind
#                the suites again, on the ASan/UBSan build of the module
#                and under valgrind, on the fallback runner (memory
#                checks, run by CI too)
#   make fuzz    the libFuzzer targets of t/fuzz, FUZZ_SECONDS (60) each;
#                make fuzz-replay runs t/fuzz/regressions/ once

NGINX_SRC   ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
BUILD       := build
NGX_BUILD   := $(BUILD)/nginx
MODULES     := $(BUILD)/ngx_http_spiffe_module.so \
               $(BUILD)/ngx_stream_spiffe_module.so
PYTHON      := /usr/bin/python3
# every suite, and the example suite users copy
SUITES      := t conf-examples/test-your-config.t

# NGINX_VERSION=1.26.3: nginx built from that version's source (its
# tarball fetched by t/nginx/source.sh), the modules built against it
# under build/1.26.3/, and the suites run with that nginx
NGINX_VERSION ?=
ifneq ($(NGINX_VERSION),)
BUILD       := build/$(NGINX_VERSION)
NGX_BUILD   := $(BUILD)/nginx
NGINX       := $(CURDIR)/$(NGX_BUILD)/objs/nginx
MODULES     := $(BUILD)/ngx_http_spiffe_module.so \
               $(BUILD)/ngx_stream_spiffe_module.so
export TEST_NGINX_STREAM_MODULE ?= $(CURDIR)/$(NGX_BUILD)/objs/ngx_stream_module.so
endif
# the flags of nginx.org's packages that matter to the module, as modules:
# the stream one as Debian builds it; debug: the suites read debug lines
NGINX_FLAGS := --with-compat --with-debug --with-threads \
               --with-http_ssl_module --with-http_v2_module \
               --with-http_v3_module --with-http_sub_module \
               --with-stream=dynamic --with-stream_ssl_module

# the same modules built with AddressSanitizer and UBSan, run by the stock
# nginx with the runtimes preloaded (t/asan/nginx)
ASAN_BUILD  := $(BUILD)/asan
ASAN_NGX    := $(ASAN_BUILD)/nginx
ASAN_MODS   := $(MODULES:$(BUILD)/%=$(ASAN_BUILD)/%)
ASAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
# kept mapped after nginx's dlclose() at exit: reports then still name
# the module's functions
ASAN_LINK   := $(CC) $(ASAN_CFLAGS) -Wl,-z,nodelete

# make install, where Debian's nginx looks for modules
DESTDIR     ?=
MODDIR      ?= /usr/lib/nginx/modules
AVAILDIR    ?= /usr/share/nginx/modules-available
ENABLEDDIR  ?= /etc/nginx/modules-enabled

CC          ?= cc
CFLAGS      ?= -g -O1
UNIT_CFLAGS := $(CFLAGS) -Wall -Wextra -Werror -Iinclude
UNIT_LIBS   := -lcmocka -lssl -lcrypto -ljansson -lcurl -lpcre2-8

CORE_SRCS   := $(wildcard module/spiffe_*.c)
CORE_HDRS   := $(wildcard include/*.h)
GLUE_SRCS   := $(wildcard module/ngx_*.c)
UNIT_SRCS   := $(wildcard t/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:t/unit/%.c=$(BUILD)/unit/%)

DEBS := build-essential nginx nginx-dev libnginx-mod-stream \
        libssl-dev libpcre2-dev zlib1g-dev libjansson-dev \
        libcurl4-openssl-dev libcmocka-dev libtest-base-perl \
        python3 python3-grpcio python3-grpc-tools python3-protobuf \
        python3-cryptography openssl curl valgrind procps \
        clang-14 libclang-rt-14-dev libasan8 libubsan1

export TEST_NGINX_BINARY        ?= $(NGINX)
export TEST_NGINX_LOAD_MODULES  ?= $(CURDIR)/$(BUILD)/ngx_http_spiffe_module.so

.PHONY: all deps modules modules-asan unit test test-fallback test-asan \
        test-valgrind fuzz fuzz-replay demo bench install clean

all: modules

deps:
	@missing=$$(for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then \
	    echo "deps: all Debian packages are installed"; \
	elif [ "$$(id -u)" != 0 ]; then \
	    echo "deps: run as root:"; \
	    echo "  apt-get update && apt-get install -y" $$missing; \
	    exit 1; \
	else \
	    echo "deps: installing" $$missing; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null; \
	fi
	@t/lib/install-test-nginx

modules: $(MODULES)

modules-asan: $(ASAN_MODS)

# $(call configure,NGINX BUILD DIR,EXTRA CONFIGURE FLAGS)
define configure
	rm -rf $(1)
	mkdir -p $(dir $(1))
	cp -r $(NGINX_SRC) $(1)
	cd $(1) && bash -c '. ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-stream=dynamic --with-stream_ssl_module \
	        --add-dynamic-module=$(CURDIR) $(2)' > ../configure.log \
	    || { cat ../configure.log; exit 1; }
endef

# $(call build,NGINX BUILD DIR,OUTPUT DIR,EXTRA MAKE ARGUMENTS)
define build
	$(MAKE) -s -C $(1) -f objs/Makefile $(3) \
	    $(MODULES:$(BUILD)/%=objs/%)
	@# a new file, not a rewrite: running nginx processes map the old one
	for m in $(MODULES:$(BUILD)/%=%); do \
	    cp $(1)/objs/$$m $(2)/$$m.new && mv -f $(2)/$$m.new $(2)/$$m; \
	done
endef

ifeq ($(NGINX_VERSION),)
$(NGX_BUILD)/objs/Makefile: config
	$(call configure,$(NGX_BUILD))

$(MODULES) &: $(NGX_BUILD)/objs/Makefile $(CORE_SRCS) $(CORE_HDRS) $(GLUE_SRCS)
	$(call build,$(NGX_BUILD),$(BUILD))
else
build/dl/nginx-%.tar.gz:
	t/nginx/source.sh $* build/dl

$(NGX_BUILD)/objs/Makefile: config build/dl/nginx-$(NGINX_VERSION).tar.gz
	rm -rf $(NGX_BUILD)
	mkdir -p $(NGX_BUILD)
	tar -xzf build/dl/nginx-$(NGINX_VERSION).tar.gz --strip-components=1 \
	    -C $(NGX_BUILD)
	cd $(NGX_BUILD) && ./configure $(NGINX_FLAGS) \
	    --add-dynamic-module=$(CURDIR) > ../configure.log \
	    || { cat ../configure.log; exit 1; }

# nginx and its stream module are targets too
$(MODULES) &: $(NGX_BUILD)/objs/Makefile $(CORE_SRCS) $(CORE_HDRS) $(GLUE_SRCS)
	$(call build,$(NGX_BUILD),$(BUILD),objs/nginx objs/ngx_stream_module.so)
endif

$(ASAN_NGX)/objs/Makefile: config
	$(call configure,$(ASAN_NGX),--with-cc-opt="$(ASAN_CFLAGS)")

$(ASAN_MODS) &: $(ASAN_NGX)/objs/Makefile $(CORE_SRCS) $(CORE_HDRS) \
                $(GLUE_SRCS)
	$(call build,$(ASAN_NGX),$(ASAN_BUILD),LINK="$(ASAN_LINK)")

$(BUILD)/unit/%: t/unit/%.c $(CORE_SRCS) $(CORE_HDRS) $(wildcard t/unit/*.h)
	@mkdir -p $(BUILD)/unit
	@echo "CC $@"
	@$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) $(UNIT_LIBS)

# memory given back is watched for what it must no longer hold
# (test_grpc.c, test_jwt.c)
$(BUILD)/unit/test_grpc: UNIT_LIBS += -Wl,--wrap=free,--wrap=realloc
$(BUILD)/unit/test_jwt: UNIT_LIBS += -Wl,--wrap=free

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do echo "== $$t"; $$t || exit 1; done

# without Go or the Go module proxy: build/interop/unavailable says why,
# and the SPIRE suite skips with that line; one for every nginx version,
# where t/100-spire.t looks
.PHONY: interop
interop:
	t/interop/build.sh build/interop

test: deps
	$(MAKE) modules
	$(MAKE) unit
	$(MAKE) interop
	t/fuzz/run.sh --replay
	prove -r $(SUITES)

# the suites on the fallback runner: prove's -I puts t/lib first
test-fallback: deps
	$(MAKE) modules
	prove -It/lib -r $(SUITES)

# the suites again on the ASan/UBSan build of the module: memory errors
# and undefined behaviour (t/asan/nginx says why leaks are valgrind's)
test-asan: deps
	$(MAKE) modules modules-asan
	TEST_NGINX_USE_ASAN=1 TEST_NGINX_BINARY=$(CURDIR)/t/asan/nginx \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(ASAN_BUILD)/ngx_http_spiffe_module.so \
	    prove -It/lib -r $(SUITES)

# the suites again with every nginx under valgrind: errors and leaks
test-valgrind: deps
	$(MAKE) modules
	TEST_NGINX_USE_VALGRIND=1 prove -It/lib -r t

# libFuzzer targets of the core, FUZZ_SECONDS each (t/fuzz/README.md)
FUZZ_SECONDS ?= 60

fuzz: deps
	t/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-replay: deps
	t/fuzz/run.sh --replay

demo: deps
	$(MAKE) modules
	@conf-examples/demo.sh

bench: deps
	$(MAKE) modules
	t/bench/run.sh

install: modules
	install -d $(DESTDIR)$(MODDIR) $(DESTDIR)$(AVAILDIR) \
	    $(DESTDIR)$(ENABLEDDIR)
	install -m 644 $(MODULES) $(DESTDIR)$(MODDIR)/
	echo "load_module modules/ngx_http_spiffe_module.so;" \
	    > $(DESTDIR)$(AVAILDIR)/mod-http-spiffe.conf
	echo "load_module modules/ngx_stream_spiffe_module.so;" \
	    > $(DESTDIR)$(AVAILDIR)/mod-stream-spiffe.conf
	ln -sf $(AVAILDIR)/mod-http-spiffe.conf \
	    $(DESTDIR)$(ENABLEDDIR)/50-mod-http-spiffe.conf
	if [ -e $(ENABLEDDIR)/50-mod-stream.conf ]; then \
	    ln -sf $(AVAILDIR)/mod-stream-spiffe.conf \
	        $(DESTDIR)$(ENABLEDDIR)/70-mod-stream-spiffe.conf; \
	fi

clean:
	rm -rf $(BUILD) t/servroot*
