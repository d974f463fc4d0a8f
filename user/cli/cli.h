/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SW_CLI_H
#define SW_CLI_H

/* Parse the command line and run the command; returns the exit code. */
int sw_cli_main(int argc, char **argv);

#endif
