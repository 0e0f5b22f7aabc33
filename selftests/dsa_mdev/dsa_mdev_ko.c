// SPDX-License-Identifier: GPL-2.0
/*
 * Prints the dsa_mdev.ko the tests load, as module_path() of
 * dsa_mdev_util.c finds it, so that the shell tests (lib.sh) and qemu.py
 * load the one the C tests do: $DSA_MDEV_KO, else module/dsa_mdev.ko
 * beside the programs, else the one modules.dep names.  Exits 1 if there
 * is none.
 */
#include <stdio.h>

#include "dsa_mdev_util.h"

int main(void)
{
	const char *ko = module_path();

	if (!ko)
		return 1;
	puts(ko);
	return 0;
}
