// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers: what Rust cannot reach because it is a macro or a static
 * inline with no symbol, the way the kernel's rust/helpers/ does it.  Each
 * is declared in rust/ext/helpers.h, which bindgen reads.
 */

#include <linux/highmem.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "ext/helpers.h"

/* cond_resched() is a macro (and a static call on PREEMPT_DYNAMIC). */
void dsa_mdev_cond_resched(void)
{
	cond_resched();
}

/* fatal_signal_pending() is a static inline. */
bool dsa_mdev_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/*
 * kmap_local_page() and kunmap_local() are static inlines: one helper maps
 * two pages, copies between them and unmaps them.  memmove(), as the two
 * may be the same page.
 */
void dsa_mdev_copy_page(struct page *dst, size_t dst_off, struct page *src,
			size_t src_off, size_t len)
{
	void *to = kmap_local_page(dst);
	void *from = kmap_local_page(src);

	memmove(to + dst_off, from + src_off, len);
	kunmap_local(from);
	kunmap_local(to);
}
