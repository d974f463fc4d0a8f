/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers for every value an operator types: in the config file and on the
 * command line. Each returns 0 on success, or -1 with a message in @err
 * (a short phrase such as "invalid prefix length 33 (IPv4 allows 0-32)")
 * that the caller prefixes with file:line:key or the CLI argument.
 */
#ifndef SW_PARSE_H
#define SW_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "smtpwall.h"

#define SW_ERR_LEN 256

/* An address prefix: family SW_AF_INET/SW_AF_INET6, addr in network byte order. */
struct sw_cidr {
	uint8_t family;
	uint8_t prefixlen;
	uint8_t addr[16];	/* IPv4 in the first 4 bytes; host bits are zero */
};

/*
 * "192.0.2.0/24", "2001:db8::/32", or a bare address (/32 or /128).
 * Host bits set beyond the prefix ("192.0.2.1/24") are an error: the
 * operator almost certainly meant something else.
 */
int sw_parse_cidr(const char *s, struct sw_cidr *out, char err[SW_ERR_LEN]);
/* Format as "a.b.c.d/n" or "x::/n" (bare address form if the prefix is full when @bare_if_host). */
void sw_format_cidr(const struct sw_cidr *c, bool bare_if_host, char *buf, size_t len);
/* A single address (no prefix) into a /32 or /128 cidr. */
int sw_parse_addr(const char *s, struct sw_cidr *out, char err[SW_ERR_LEN]);

/* "90", "90s", "15m", "2h", "7d", "1h30m", "500ms": nanoseconds. "0" is allowed. */
int sw_parse_duration(const char *s, uint64_t *ns, char err[SW_ERR_LEN]);
/* Shortest exact form: "90s", "15m", "1h30m", "500ms", "0s". */
void sw_format_duration(uint64_t ns, char *buf, size_t len);

/* An SMTP phase (enum sw_phase) by name: "greeted", "helo", ... */
const char *sw_phase_name(unsigned phase);

/*
 * A probation failure (sw_source.probation_detail) as an operator reads
 * it: "no progress for 3.2s in phase helo (limit 3s)" or "lifetime 61.0s
 * used up in phase mail (limit 60s)". @limit_ns: the limit it broke; 0
 * leaves it out.
 */
void sw_probation_text(uint32_t detail, uint64_t limit_ns, char *buf, size_t len);

/*
 * A rate "N/s", "N/min" (or "N/m"), "N/h"; N > 0 integer; "off" or "0"
 * disables (interval 0). Output: the GCRA emission interval in ns.
 */
int sw_parse_rate(const char *s, uint64_t *interval_ns, char err[SW_ERR_LEN]);

/* Unsigned integer within [min, max]. */
int sw_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char err[SW_ERR_LEN]);
/* yes/no/true/false/on/off/1/0 */
int sw_parse_bool(const char *s, bool *out, char err[SW_ERR_LEN]);

/* "25, 465 587" or "25,465,587-590": sets bits in a SW_PORT_WORDS bitmap (cleared first). */
int sw_parse_ports(const char *s, uint64_t bitmap[SW_PORT_WORDS], char err[SW_ERR_LEN]);
/* Back to "25,465,587" with ranges as "a-b". */
void sw_format_ports(const uint64_t bitmap[SW_PORT_WORDS], char *buf, size_t len);

/* Mask of @prefixlen bits for a source key: IPv4 into *v4 (network order), IPv6 into v6[4]. */
void sw_prefix_mask_v4(unsigned prefixlen, uint32_t *v4);
void sw_prefix_mask_v6(unsigned prefixlen, uint32_t v6[4]);

/* Is the address @addr (4 or 16 bytes, network order, of @family) inside @c? */
bool sw_cidr_contains(const struct sw_cidr *c, uint8_t family, const uint8_t *addr);

/* The name of an enum sw_reason ("rate", "probation"); "unknown" beyond them. */
const char *sw_reason_name(unsigned reason);

/* A letter's index in the alphabet (either case), -1 for anything else. */
int sw_country_letter(char c);
/* "JP" (either case) -> 1..676; -1 unless exactly two ASCII letters. */
int sw_country_id(const char *code);
/* "JP" for 1..676, "--" for SW_COUNTRY_UNKNOWN, "" for SW_COUNTRY_NONE, "??" otherwise. */
void sw_country_code(unsigned id, char out[3]);

#endif
