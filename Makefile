# SPDX-License-Identifier: GPL-2.0
#
# make            build build/smtpwall (BPF objects, skeletons, daemon/CLI)
# make test       build and run every test suite (tests/run.sh)
# make bench      ns per packet by BPF_PROG_TEST_RUN, beside an empty program;
#                 country classification beside an LPM trie
# make clean

CC	?= cc
CLANG	?= clang
BPFTOOL ?= bpftool
ARCH	:= $(shell uname -m)
BPF_ARCH := $(subst x86_64,x86,$(subst aarch64,arm64,$(ARCH)))

BUILD	:= build
CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	   -D_GNU_SOURCE -Iinclude -I$(BUILD) -Iuser -I/usr/include/libnl3
LDLIBS	:= -lbpf -lelf -lz -linih -lsqlite3 -lmaxminddb -lnl-route-3 -lnl-3
BPF_CFLAGS := -O2 -g -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) \
	   -I/usr/include/$(ARCH)-linux-gnu -Iinclude -Ibpf

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS	  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_DEPS  := $(wildcard bpf/*.h maps/*.h include/*.h)

USER_SRCS := $(filter-out user/main.c,$(wildcard user/*.c))
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
USER_HDRS := $(wildcard user/*.h include/*.h)
LIB	  := $(BUILD)/libsmtpwall.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
TEST_HDRS := $(wildcard tests/lib/*.h tests/bpf/*.h)

.PHONY: all test bench clean tests
.SECONDARY:

all: $(BUILD)/smtpwall

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_DEPS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/user/%.o: user/%.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(USER_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/smtpwall: user/main.c $(LIB) $(USER_HDRS) $(SKELS)
	$(CC) $(CFLAGS) $< $(LIB) -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(TEST_HDRS) $(USER_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/bpf/%.c $(LIB) $(TEST_HDRS) $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c $(TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib $< -o $@

$(BUILD)/bench: tests/bench/bench.c $(LIB) $(TEST_HDRS) $(USER_HDRS) $(SKELS)
	$(CC) $(CFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lm

$(BUILD)/bench_geo: tests/bench/bench_geo.c $(LIB) $(TEST_HDRS) $(USER_HDRS) $(SKELS)
	$(CC) $(CFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lm

tests: all $(UNIT_BINS) $(BPFT_BINS) $(TOOL_BINS)

test: tests
	tests/run.sh

bench: $(BUILD)/bench $(BUILD)/bench_geo $(BUILD)/tools/mkmmdb
	$(BUILD)/bench
	$(BUILD)/bench_geo

clean:
	rm -rf $(BUILD)
