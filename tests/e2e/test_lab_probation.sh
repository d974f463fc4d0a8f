#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Emergency probation over IPv4, attackers silent after EHLO; a slow
# sender and a slow large upload arrive during the attack too. See
# probation.sh.
PROB_FAMILY=4 PROB_SLOW=1 . "$(dirname "$0")/probation.sh"
