/* SPDX-License-Identifier: GPL-2.0 */
/* The country commands: geo lookup, geo status, countries. */
#ifndef SW_CLI_GEO_H
#define SW_CLI_GEO_H

#include <stdbool.h>
#include "config.h"
#include "geo.h"
#include "kernel.h"

int sw_cmd_geo_lookup(const struct sw_kernel *k, const char *arg, bool json);
int sw_cmd_geo_status(const struct sw_kernel *k, const struct sw_settings *s, bool json);
int sw_cmd_countries(const struct sw_kernel *k, const struct sw_settings *set, bool json);

/* "allow", "monitor", "limit", "block". */
const char *sw_country_action_name(unsigned action);

/*
 * A source's country as shown to the operator: "JP", "unknown" or "none":
 * the kernel's cached classification while it is current, else a lookup
 * in the kernel's tables (@v may be NULL or not loaded).
 */
void sw_cli_source_country(const struct sw_kernel *k, const struct sw_geo_view *v,
			   const struct sw_src_key *key, const struct sw_source *src, char out[8]);

#endif
