/* SPDX-License-Identifier: GPL-2.0 */
/* The C helpers of rust/helpers.c. */
#ifndef DSA_MDEV_HELPERS_H
#define DSA_MDEV_HELPERS_H

void dsa_mdev_cond_resched(void);

#endif
