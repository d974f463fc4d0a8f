# SPDX-License-Identifier: GPL-2.0
#
# make            build build/smtpwall (BPF objects, skeletons, daemon/CLI)
# make test       build and run every test suite (tests/run.sh)
# make bench      ns per packet by BPF_PROG_TEST_RUN, beside an empty program;
#                 country classification beside an LPM trie; the policy
#                 service beside postfwd (tests/bench/bench_policy.sh) and
#                 during a flood (tests/bench/bench_policy_flood.sh); the
#                 mail-log follower beside fail2ban (tests/bench/bench_maillog.sh)
# make install    smtpwall, its man pages, the example config and the systemd
#                 unit, under DESTDIR and PREFIX (/usr/local); make uninstall
# make clean

CC	?= cc
CLANG	?= clang
BPFTOOL ?= bpftool
ARCH	:= $(shell uname -m)
BPF_ARCH := $(subst x86_64,x86,$(subst aarch64,arm64,$(ARCH)))

BUILD	:= build
CFLAGS	?= -O2 -g
# user/ is in folders by concern (core, config, store, kernel, geo, accounts,
# maillog, daemon, cli); every folder is on the include path, headers are included by name.
USER_DIRS := $(sort $(dir $(wildcard user/*/*.c user/*/*.h)))
USER_INC  := $(patsubst %/,-I%,$(USER_DIRS))
DEPFLAGS   = -MMD -MP
# The build's version, for smtpwall_build_info: the commit, or what make is given.
VERSION	?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
CFLAGS	+= -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	   -D_GNU_SOURCE -DSW_VERSION='"$(VERSION)"' -Iinclude -I$(BUILD) $(USER_INC) -I/usr/include/libnl3
LDLIBS	:= -lbpf -lelf -lz -linih -lsqlite3 -lmaxminddb -lnl-route-3 -lnl-3 -levent_core -levent_extra -levent_pthreads -lpthread \
	   $(shell pkg-config --libs libsystemd)
BPF_CFLAGS := -O2 -g -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) \
	   -I/usr/include/$(ARCH)-linux-gnu -Iinclude -Ibpf $(DEPFLAGS)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS	  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

USER_SRCS := $(wildcard user/*/*.c)
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
LIB	  := $(BUILD)/libsmtpwall.a
# Every header compiles on its own (make headers; part of make tests):
# user/ and include/ (with its smtpwall/ parts) natively, bpf/ for BPF.
HDRS	  := $(wildcard user/*/*.h include/*.h include/*/*.h bpf/*.h)
HDR_OKS   := $(patsubst %.h,$(BUILD)/headers/%.ok,$(HDRS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

.PHONY: all test bench clean tests headers install uninstall
.SECONDARY:

all: $(BUILD)/smtpwall

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# The skeletons first: dependency files know them only after a first build.
$(BUILD)/user/%.o: user/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB): $(USER_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/smtpwall: user/main.c $(LIB) | $(SKELS)
	$(CC) $(CFLAGS) $(DEPFLAGS) $< $(LIB) -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/bpf/%.c $(LIB) | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib $< -o $@

$(BUILD)/bench: tests/bench/bench.c $(LIB) | $(SKELS)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lm

$(BUILD)/bench_geo: tests/bench/bench_geo.c $(LIB) | $(SKELS)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lm

$(BUILD)/bench_metrics: tests/bench/bench_metrics.c $(LIB) | $(SKELS)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib $< $(LIB) -o $@ $(LDLIBS) -lm

# A header is self-contained when a file holding only its #include compiles.
$(BUILD)/headers/%.ok: %.h | $(SKELS)
	@mkdir -p $(@D)
	@echo '#include "$(notdir $<)"' | $(CC) $(CFLAGS) -I$(<D) -Itests/lib -fsyntax-only -x c - \
		-MMD -MP -MT $@ -MF $(@:.ok=.d) && touch $@

# include/ headers by their path below include/, as their users include them.
$(BUILD)/headers/include/%.ok: include/%.h
	@mkdir -p $(@D)
	@echo '#include "$*.h"' | $(CC) $(CFLAGS) -fsyntax-only -x c - \
		-MMD -MP -MT $@ -MF $(@:.ok=.d) && touch $@

$(BUILD)/headers/bpf/%.ok: bpf/%.h
	@mkdir -p $(@D)
	@echo '#include "$*.h"' | $(CLANG) $(BPF_CFLAGS) -fsyntax-only -x c - \
		-MT $@ -MF $(@:.ok=.d) && touch $@

headers: $(HDR_OKS)

tests: all headers $(UNIT_BINS) $(BPFT_BINS) $(TOOL_BINS)

test: tests
	tests/run.sh

bench: $(BUILD)/bench $(BUILD)/bench_geo $(BUILD)/bench_metrics $(BUILD)/tools/mkmmdb $(BUILD)/smtpwall $(BUILD)/tools/policyload \
	$(BUILD)/tools/smtpload
	$(BUILD)/bench
	$(BUILD)/bench_geo
	$(BUILD)/bench_metrics
	tests/bench/bench_scrape.sh
	tests/bench/bench_policy.sh
	tests/bench/bench_policy_flood.sh
	tests/bench/bench_maillog.sh

clean:
	rm -rf $(BUILD)

# Installed paths. The unit goes where systemd looks for local units; the
# config is written only if there is none (an upgrade keeps yours), the
# example beside it always.
PREFIX	   ?= /usr/local
SBINDIR	   ?= $(PREFIX)/sbin
MANDIR	   ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR	   ?= $(PREFIX)/lib/systemd/system
DATADIR	   ?= $(PREFIX)/share/smtpwall

$(BUILD)/smtpwall.service: scripts/systemd/smtpwall.service.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< >$@

install: $(BUILD)/smtpwall $(BUILD)/smtpwall.service
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(SYSCONFDIR)/smtpwall $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/smtpwall $(DESTDIR)$(SBINDIR)/smtpwall
	install -m 0644 user/man/smtpwall.8 $(DESTDIR)$(MANDIR)/man8/smtpwall.8
	install -m 0644 user/man/smtpwall.conf.5 $(DESTDIR)$(MANDIR)/man5/smtpwall.conf.5
	install -m 0644 user/smtpwall.conf.example $(DESTDIR)$(SYSCONFDIR)/smtpwall/smtpwall.conf.example
	[ -e $(DESTDIR)$(SYSCONFDIR)/smtpwall/smtpwall.conf ] || \
		install -m 0640 user/smtpwall.conf.example $(DESTDIR)$(SYSCONFDIR)/smtpwall/smtpwall.conf
	install -m 0644 $(BUILD)/smtpwall.service $(DESTDIR)$(UNITDIR)/smtpwall.service
	install -d $(DESTDIR)$(DATADIR)/prometheus $(DESTDIR)$(DATADIR)/grafana
	install -m 0644 scripts/prometheus/smtpwall-alerts.yml scripts/prometheus/smtpwall-alerts.test.yml \
		scripts/prometheus/prometheus.yml.example $(DESTDIR)$(DATADIR)/prometheus/
	install -m 0644 scripts/grafana/smtpwall-dashboard.json $(DESTDIR)$(DATADIR)/grafana/

# The config stays: it is yours.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/smtpwall $(DESTDIR)$(MANDIR)/man8/smtpwall.8 \
		$(DESTDIR)$(MANDIR)/man5/smtpwall.conf.5 $(DESTDIR)$(UNITDIR)/smtpwall.service \
		$(DESTDIR)$(SYSCONFDIR)/smtpwall/smtpwall.conf.example
	rm -rf $(DESTDIR)$(DATADIR)

# libFuzzer harnesses (make fuzz): tests/fuzz/fuzz.mk
-include tests/fuzz/fuzz.mk

# Header dependencies, as the compiler found them (-MMD -MP).
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
