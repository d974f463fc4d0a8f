#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The mail-log follower beside fail2ban in the lab, small: 40 sources, 5
# time-to-drop samples (~40 s). smtpwall must drop within a second, ban
# every source and lose none across its restart; with fail2ban installed it
# must ban every source too and smtpwall be at least 10 x faster to drop.
# See tests/bench/bench_maillog.sh (make bench runs it with 1,000).
exec "$(dirname "$0")/../bench/bench_maillog.sh" -n 40 -k 5 -t 60
