// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's services, in start order (stopped in reverse). The data
 * flow: the lists and the geo tables feed the kernel's verdicts; the links
 * service keeps the program attached; the sessions service expires state
 * and judges session health and emergencies; the events service turns the
 * kernel's ring buffer into bus events (and hands penalised sources to the
 * sessions service for teardown); the policy service answers Postfix for
 * accounts (and keeps their ledger in state.db); the mail-log follower
 * turns Postfix's log into kernel penalties and known-good sources (and
 * hands distributed guesses to the ledger); the metrics service serves
 * all of their figures to Prometheus; the control socket streams the bus
 * to `smtpwall events`.
 */
#include <stddef.h>
#include "service.h"

const struct sw_service *const sw_services[] = {
	&sw_svc_lists,
	&sw_svc_geo,
	&sw_svc_links,
	&sw_svc_sessions,
	&sw_svc_events,
	&sw_svc_policy,
	&sw_svc_maillog,
	&sw_svc_metrics,
	&sw_svc_control,
	NULL,
};
