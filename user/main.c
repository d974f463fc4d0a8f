// SPDX-License-Identifier: GPL-2.0
/* smtpwall: packet-level SMTP rate enforcer. One binary: daemon and CLI. */
#include "cli.h"

int main(int argc, char **argv)
{
	return sw_cli_main(argc, argv);
}
