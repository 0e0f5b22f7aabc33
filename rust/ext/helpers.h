/* SPDX-License-Identifier: GPL-2.0 */
/* The C helpers of rust/helpers.c. */
#ifndef DSA_MDEV_HELPERS_H
#define DSA_MDEV_HELPERS_H

#include <linux/types.h>

struct page;

void dsa_mdev_cond_resched(void);
bool dsa_mdev_fatal_signal_pending(void);
void dsa_mdev_copy_page(struct page *dst, size_t dst_off, struct page *src,
			size_t src_off, size_t len);

#endif
