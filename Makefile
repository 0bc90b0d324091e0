# ngx_webpush — build, run and test.
#
#   make          build the nginx module, webpush-sender, webpush-cli, tests
#   make run      build, then start the whole stack on loopback (Ctrl-C stops)
#   make stop     stop what `make run` started
#   make test     build and run every suite against a throwaway stack
#
# Missing Debian packages are installed by util/deps.sh (as root).

SHELL    := /bin/bash
BUILD    ?= build
CC       ?= cc
FUZZ_CC  ?= clang
PKGS     := openssl hiredis yajl libcurl libnghttp2 libpq libcares

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) -Ilib -Isender \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined

LIB_SRCS    := $(wildcard lib/*.c)
LIB_HDRS    := $(wildcard lib/*.h)
SHARED_SRCS := $(filter-out sender/sender_main.c sender/cli_%.c, \
                 $(wildcard sender/*.c))
SENDER_SRCS := sender/sender_main.c $(SHARED_SRCS)
CLI_SRCS    := $(wildcard sender/cli_*.c) $(SHARED_SRCS)
SENDER_HDRS := $(wildcard sender/*.h)
UNIT_SRCS   := $(wildcard t/unit/test_*.c)
FUZZ_SRCS   := $(wildcard t/fuzz/fuzz_*.c)

LIB_A       := $(BUILD)/libwebpush.a
LIB_ASAN_A  := $(BUILD)/asan/libwebpush.a
UNIT_BINS   := $(UNIT_SRCS:t/unit/%.c=$(BUILD)/test/%)
UNIT_ASAN   := $(UNIT_SRCS:t/unit/%.c=$(BUILD)/asan/%)
FUZZ_BINS   := $(FUZZ_SRCS:t/fuzz/%.c=$(BUILD)/fuzz/%)
MODULE      := $(BUILD)/nginx/ngx_http_webpush_module.so

.PHONY: all deps deps-run deps-test module bins bins-asan unit unit-asan fuzz \
        fuzz-smoke run stop test test-unit test-nginx test-e2e clean bench

all: deps module bins unit

deps:
	@util/deps.sh build
deps-run:
	@util/deps.sh run
deps-test:
	@util/deps.sh test

# ---- lib/ ---------------------------------------------------------------

$(BUILD)/lib/%.o: lib/%.c $(LIB_HDRS) | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

$(LIB_A): $(LIB_SRCS:%.c=$(BUILD)/%.o)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/asan/lib/%.o: lib/%.c $(LIB_HDRS) | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -c $< -o $@

$(LIB_ASAN_A): $(LIB_SRCS:%.c=$(BUILD)/asan/%.o)
	@rm -f $@
	ar rcs $@ $^

# ---- sender/ and cli ----------------------------------------------------

bins: $(BUILD)/webpush-sender $(BUILD)/webpush-cli

$(BUILD)/sender/%.o: sender/%.c $(SENDER_HDRS) $(LIB_HDRS) | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/webpush-sender: $(SENDER_SRCS:%.c=$(BUILD)/%.o) $(LIB_A)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/webpush-cli: $(CLI_SRCS:%.c=$(BUILD)/%.o) $(LIB_A)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The same two under ASan+UBSan: make test runs the sender and cli
# end-to-end files with them too (util/test-all.sh).
bins-asan: $(BUILD)/asan/bin/webpush-sender $(BUILD)/asan/bin/webpush-cli

$(BUILD)/asan/sender/%.o: sender/%.c $(SENDER_HDRS) $(LIB_HDRS) | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/asan/bin/webpush-sender: $(SENDER_SRCS:%.c=$(BUILD)/asan/%.o) \
                                  $(LIB_ASAN_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/bin/webpush-cli: $(CLI_SRCS:%.c=$(BUILD)/asan/%.o) $(LIB_ASAN_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

# ---- the nginx module ---------------------------------------------------

module: $(MODULE)

$(MODULE): config ngx_http_webpush_module.c $(wildcard src/*.c src/*.h) \
           $(LIB_SRCS) $(LIB_HDRS) util/build-module.sh | deps
	util/build-module.sh $(BUILD)/nginx

# ---- unit tests, sanitizers, fuzzing ------------------------------------

unit: $(UNIT_BINS)

$(BUILD)/test/%: t/unit/%.c t/unit/tap.h t/unit/vectors.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -It/unit -o $@ $(filter %.c,$^) $(LIB_A) $(LDLIBS)

# test_aredis: sender/aredis.c against a private redis-server
AREDIS_SRCS := sender/aredis.c sender/log.c

$(BUILD)/test/test_aredis: t/unit/test_aredis.c t/unit/tap.h $(AREDIS_SRCS) \
                           sender/aredis.h sender/log.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -It/unit -o $@ $< $(AREDIS_SRCS) $(LIB_A) $(LDLIBS)

unit-asan: $(UNIT_ASAN)

$(BUILD)/asan/test_aredis: t/unit/test_aredis.c t/unit/tap.h $(AREDIS_SRCS) \
                           sender/aredis.h sender/log.h $(LIB_ASAN_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -It/unit -o $@ $< $(AREDIS_SRCS) \
	    $(LIB_ASAN_A) $(LDLIBS)

$(BUILD)/asan/%: t/unit/%.c t/unit/tap.h t/unit/vectors.h $(LIB_ASAN_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN) -It/unit -o $@ $(filter %.c,$^) \
	    $(LIB_ASAN_A) $(LDLIBS)

# Unit tests of sender/ files that do no I/O link those files as well.
$(BUILD)/test/test_dnscache $(BUILD)/asan/test_dnscache: \
    sender/dnscache.c sender/dnscache.h
$(BUILD)/test/test_origin $(BUILD)/asan/test_origin: \
    sender/origin.c sender/origin.h

$(BUILD)/fuzz/%: t/fuzz/%.c $(LIB_SRCS) $(LIB_HDRS) | deps-test
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -Ilib \
	    -fsanitize=fuzzer,address,undefined \
	    $(shell pkg-config --cflags $(PKGS)) -o $@ $< $(LIB_SRCS) $(LDLIBS)

FUZZ_SECONDS ?= 60
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); \
	    mkdir -p $(BUILD)/fuzz/corpus/$$n; \
	    echo "== $$n ($(FUZZ_SECONDS)s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $(BUILD)/fuzz/corpus/$$n t/fuzz/corpus/$$n || exit 1; done

fuzz-smoke: $(FUZZ_BINS)
	util/fuzz-smoke.sh $(FUZZ_BINS)

# ---- the two commands ---------------------------------------------------

run: deps-run all
	util/stack.sh run

stop:
	util/stack.sh stop

test: deps-test all unit-asan bins-asan $(FUZZ_BINS)
	util/test-all.sh

# Test::Nginx files on another Test::Nginx (TEST_NGINX_LIB=DIR), same stack.
test-nginx: deps-test all
	util/test-all.sh nginx

$(BUILD)/bench/%: bench/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

bench: all $(BUILD)/bench/ece_bench
	@util/deps.sh bench
	bench/run.sh

clean:
	rm -rf $(BUILD)
