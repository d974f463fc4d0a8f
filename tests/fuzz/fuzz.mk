# SPDX-License-Identifier: GPL-2.0
#
# libFuzzer harnesses for every parser of hostile input (tests/fuzz/README.md),
# included by the top Makefile.
#
# make fuzz-build   build every tests/fuzz/fuzz_*.c into $(BUILD)/fuzz/
# make fuzz         build, then fuzz each harness for FUZZ_SECONDS (default
#                   60) on a copy of its corpus, then replay its regress/
#                   inputs (tests/fuzz/run.sh)
# make fuzz-seeds   rewrite the generated seeds (frames, databases) with
#                   tests/fuzz/mkseeds.c
#
# The user/ sources are compiled a second time, with clang's sanitizers and
# coverage, into $(BUILD)/fuzz/obj/ (the same paths as the sources), and
# archived: a harness links only the objects it needs.

# The top Makefile gives one -I per user/ folder; this is for a tree without.
USER_INC ?= -Iuser

FUZZ_CC	     ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# -O1 after the Makefile's -O2: cheaper to instrument, and stack traces stay readable.
FUZZ_CFLAGS   = $(CFLAGS) -O1 -g $(FUZZ_SAN) -Itests/fuzz -Itests/lib
# The packet harness compiles the BPF headers natively: bpf/parse.h must win
# over user/core/parse.h, so the user/ folders stay off its include path;
# tests/fuzz/shim/bpf/bpf_helpers.h stands in for libbpf's.
FUZZ_BPF_CFLAGS = $(filter-out $(USER_INC),$(CFLAGS)) -O1 -g $(FUZZ_SAN) -Itests/fuzz/shim -Ibpf -Itests/fuzz -Itests/lib

FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(USER_SRCS))
FUZZ_LIB  := $(FUZZ_DIR)/libsmtpwall-fuzz.a
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRCS))
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))

.PHONY: fuzz fuzz-build fuzz-seeds

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_DIR=$(FUZZ_DIR) tests/fuzz/run.sh $(FUZZ_NAMES)

$(FUZZ_DIR)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_packet: tests/fuzz/fuzz_packet.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_BPF_CFLAGS) -fsanitize=fuzzer $(DEPFLAGS) $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB) | $(SKELS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(DEPFLAGS) $< $(FUZZ_LIB) -o $@ $(LDLIBS)

# The seeds that are built rather than written by hand; the output is kept
# in git, so this is needed only when pkt.h, mmdb_writer.h or mkseeds.c change.
$(FUZZ_DIR)/mkseeds: tests/fuzz/mkseeds.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib $< -o $@

fuzz-seeds: $(FUZZ_DIR)/mkseeds
	$(FUZZ_DIR)/mkseeds tests/fuzz/corpus
