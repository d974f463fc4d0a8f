#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Emergency probation over IPv4 against attackers that keep every session
# "alive" with a harmless command every 2 s (NOOP, RSET, EHLO, HELP,
# VRFY): none of it is progress. See probation.sh.
PROB_FAMILY=4 PROB_DRIP_MS=2000 . "$(dirname "$0")/probation.sh"
