#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Emergency probation over IPv6: every attacker in its own /64, dripping
# harmless commands. See probation.sh.
PROB_FAMILY=6 PROB_DRIP_MS=2000 . "$(dirname "$0")/probation.sh"
