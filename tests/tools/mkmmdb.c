// SPDX-License-Identifier: GPL-2.0
/*
 * mkmmdb: write MaxMind-format (.mmdb) country databases for tests and the
 * bench, from a prefix list, at random, or damaged on purpose
 * (tests/lib/mmdb_writer.h does the work).
 *
 *   mkmmdb [--ip-version 4|6] [--record-size 24|28|32] [--alias] [--type NAME]
 *          [--epoch N] [--schema geoip2|registered|flat] -o OUT.mmdb [SPEC]
 *   mkmmdb --random N [--v6-share PERCENT] [--seed S] [--ip-version 6] -o OUT.mmdb
 *   mkmmdb --synthetic V4,V6 [--seed S] -o OUT.mmdb
 *   mkmmdb --corrupt truncate|magic|tree|loop|data|type -i GOOD.mmdb -o BAD.mmdb
 *
 * SPEC lines (a file, or standard input): "CIDR CODE [SCHEMA]", CODE two
 * letters or '-' for a record without a country; '#' starts a comment.
 * Without -o, a single operand is the output and SPEC is standard input.
 * Exit status: 0, 1 on error, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmdb_writer.h"

static const char usage_text[] =
	"usage: mkmmdb [--ip-version 4|6] [--record-size 24|28|32] [--alias] [--type NAME]\n"
	"              [--epoch N] [--schema geoip2|registered|flat] -o OUT.mmdb [SPEC]\n"
	"       mkmmdb --random N [--v6-share PERCENT] [--seed S] [--ip-version 4|6] -o OUT.mmdb\n"
	"       mkmmdb --synthetic V4,V6 [--seed S] -o OUT.mmdb\n"
	"       mkmmdb --corrupt truncate|magic|tree|loop|data|type -i GOOD.mmdb -o BAD.mmdb\n"
	"  SPEC lines (file or stdin): CIDR CODE [SCHEMA]; CODE is two letters or '-' (no country);\n"
	"  SCHEMA (geoip2, registered, flat) overrides --schema; '#' comments, blank lines.\n"
	"  --record-size defaults to the smallest that fits; --ip-version to 6.\n"
	"  --random writes N non-overlapping prefixes (default 30 % IPv6), the same for a seed;\n"
	"  --synthetic the same with exact IPv4 and IPv6 counts.\n";

static __attribute__((noreturn, format(printf, 1, 2))) void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mkmmdb: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage_text, stderr);
	exit(2);
}

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mkmmdb: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	exit(1);
}

static uint64_t number(const char *opt, const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *s == '-' || *end || errno || v > max)
		usage_error("%s: \"%s\" is not a number up to %llu", opt, s,
			    (unsigned long long)max);
	return v;
}

static int schema_parse(const char *s)
{
	if (!strcmp(s, "geoip2"))
		return MMDBW_GEOIP2;
	if (!strcmp(s, "registered"))
		return MMDBW_GEOIP2_REGISTERED;
	if (!strcmp(s, "flat"))
		return MMDBW_FLAT;
	return -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool two_letters(const char *s)
{
	for (int i = 0; i < 2; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return !s[2];
}

/* Add every line of @f; errors name @name:line and stop at the first. */
static void read_spec(struct mmdbw *w, FILE *f, const char *name, enum mmdbw_schema schema)
{
	char line[1024];
	unsigned lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *field[4], *p, *save = NULL;
		int n = 0, s = schema;
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n')
			die("%s:%u: line too long", name, lineno);
		p = strchr(line, '#');
		if (p)
			*p = 0;
		for (p = strtok_r(line, " \t\r\n", &save); p && n < 4;
		     p = strtok_r(NULL, " \t\r\n", &save))
			field[n++] = p;
		if (!n)
			continue;
		if (n < 2)
			die("%s:%u: \"%s\": expected CIDR CODE [SCHEMA]", name, lineno, field[0]);
		if (n > 3)
			die("%s:%u: too many fields (expected CIDR CODE [SCHEMA])", name, lineno);
		if (strcmp(field[1], "-") && !two_letters(field[1]))
			die("%s:%u: country \"%s\" is neither two letters nor '-'", name, lineno,
			    field[1]);
		if (n == 3 && (s = schema_parse(field[2])) < 0)
			die("%s:%u: unknown schema \"%s\" (geoip2, registered, flat)", name, lineno,
			    field[2]);
		if (mmdbw_add(w, field[0], strcmp(field[1], "-") ? field[1] : NULL, s))
			die("%s:%u: %s", name, lineno, mmdbw_error(w));
	}
	if (ferror(f))
		die("%s: %s", name, strerror(errno));
}

int main(int argc, char **argv)
{
	enum { O_IPV = 256, O_RS, O_ALIAS, O_TYPE, O_EPOCH, O_SCHEMA, O_RANDOM, O_SHARE, O_SEED,
	       O_SYNTH, O_CORRUPT };
	static const struct option opts[] = {
		{ "ip-version", required_argument, NULL, O_IPV },
		{ "record-size", required_argument, NULL, O_RS },
		{ "alias", no_argument, NULL, O_ALIAS },
		{ "type", required_argument, NULL, O_TYPE },
		{ "epoch", required_argument, NULL, O_EPOCH },
		{ "schema", required_argument, NULL, O_SCHEMA },
		{ "random", required_argument, NULL, O_RANDOM },
		{ "v6-share", required_argument, NULL, O_SHARE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "synthetic", required_argument, NULL, O_SYNTH },
		{ "corrupt", required_argument, NULL, O_CORRUPT },
		{ "output", required_argument, NULL, 'o' },
		{ "input", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *in = NULL, *spec = NULL, *type = NULL;
	unsigned ipv = 6, rs = 0, share = 30;
	bool alias = false, random = false, synth = false, share_set = false, ipv_set = false;
	uint64_t epoch = 0, seed = 1, n = 0, n4 = 0, n6 = 0;
	bool epoch_set = false;
	int schema = MMDBW_GEOIP2, corrupt = -1, o;
	struct mmdbw_stats st;
	struct mmdbw *w;
	double t0;

	while ((o = getopt_long(argc, argv, "o:i:h", opts, NULL)) != -1) {
		switch (o) {
		case O_IPV:
			ipv = number("--ip-version", optarg, 6);
			if (ipv != 4 && ipv != 6)
				usage_error("--ip-version is 4 or 6");
			ipv_set = true;
			break;
		case O_RS:
			rs = number("--record-size", optarg, 32);
			if (rs != 24 && rs != 28 && rs != 32)
				usage_error("--record-size is 24, 28 or 32");
			break;
		case O_ALIAS:
			alias = true;
			break;
		case O_TYPE:
			type = optarg;
			break;
		case O_EPOCH:
			epoch = number("--epoch", optarg, UINT64_MAX);
			epoch_set = true;
			break;
		case O_SCHEMA:
			schema = schema_parse(optarg);
			if (schema < 0)
				usage_error("--schema is geoip2, registered or flat");
			break;
		case O_RANDOM:
			n = number("--random", optarg, 100000000);
			random = true;
			break;
		case O_SHARE:
			share = number("--v6-share", optarg, 100);
			share_set = true;
			break;
		case O_SEED:
			seed = number("--seed", optarg, UINT64_MAX);
			break;
		case O_SYNTH: {
			char *comma = strchr(optarg, ',');

			if (!comma)
				usage_error("--synthetic takes V4,V6 (prefix counts)");
			*comma = 0;
			n4 = number("--synthetic", optarg, 100000000);
			n6 = number("--synthetic", comma + 1, 100000000);
			synth = true;
			break;
		}
		case O_CORRUPT:
			corrupt = mmdbw_corruption_parse(optarg);
			if (corrupt < 0)
				usage_error("--corrupt: truncate, magic, tree, loop, data or type");
			break;
		case 'o':
			out = optarg;
			break;
		case 'i':
			in = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	/* The bench's older form: the output as the only operand, SPEC on standard input. */
	if (!out && optind == argc - 1 && corrupt < 0)
		out = argv[optind++];
	if (optind < argc - 1)
		usage_error("one SPEC file at most");
	if (optind < argc)
		spec = argv[optind];
	if (!out)
		usage_error("no output: -o OUT.mmdb");
	if (random + synth + (corrupt >= 0) > 1)
		usage_error("--random, --synthetic and --corrupt exclude each other");

	if (corrupt >= 0) {
		if (!in)
			usage_error("--corrupt needs -i GOOD.mmdb");
		if (spec)
			usage_error("--corrupt takes no SPEC");
		if (mmdbw_corrupt_file(in, out, corrupt))
			die("%s -> %s: %s", in, out,
			    errno == EINVAL ? "not a MaxMind DB file we can read"
			    : errno == ENOENT ? "nothing to damage that way (no country strings?)"
					      : strerror(errno));
		fprintf(stderr, "mkmmdb: wrote %s: %s, damaged (%s)\n", out, in,
			mmdbw__corruption_names[corrupt]);
		return 0;
	}
	if (in)
		usage_error("-i is for --corrupt");
	if ((random || synth) && spec)
		usage_error("--random and --synthetic take no SPEC");
	if (synth && ipv_set && ipv == 4 && n6)
		usage_error("--synthetic with IPv6 prefixes needs --ip-version 6");
	if (random && ipv == 4 && share_set && share)
		usage_error("--v6-share needs --ip-version 6");

	t0 = now_s();
	w = mmdbw_new(ipv, rs);
	if (!w)
		die("%s", strerror(errno));
	if (type)
		mmdbw_set_type(w, type);
	if (epoch_set)
		mmdbw_set_epoch(w, epoch);
	if (random || synth) {
		int r = synth ? mmdbw_add_random_split(w, n4, n6, seed, schema, NULL, NULL)
			      : mmdbw_add_random(w, n, share, seed, schema, NULL, NULL);

		if (r)
			die("%s", mmdbw_error(w));
	} else if (!spec || !strcmp(spec, "-")) {
		read_spec(w, stdin, "<stdin>", schema);
	} else {
		FILE *f = fopen(spec, "re");

		if (!f)
			die("%s: %s", spec, strerror(errno));
		read_spec(w, f, spec, schema);
		fclose(f);
	}
	if (alias) {
		mmdbw_alias_ipv4(w);
		if (w->alias_conflict)
			die("--alias: %s", mmdbw_error(w));
	}
	if (mmdbw_stats(w, &st) || mmdbw_write(w, out))
		die("%s: %s", out,
		    errno == E2BIG ? "the tree does not fit that record size" : strerror(errno));
	fprintf(stderr,
		"mkmmdb: wrote %s: %llu prefixes (%llu IPv4, %llu IPv6), %llu nodes, "
		"%u-bit records, %u data records, %llu bytes, %.2f s\n",
		out, (unsigned long long)(st.v4_prefixes + st.v6_prefixes),
		(unsigned long long)st.v4_prefixes, (unsigned long long)st.v6_prefixes,
		(unsigned long long)st.nodes, st.record_size, st.data_records,
		(unsigned long long)st.bytes, now_s() - t0);
	mmdbw_free(w);
	return 0;
}
