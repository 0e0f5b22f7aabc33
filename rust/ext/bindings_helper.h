/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers bindgen reads for rust/ext/bindings_generated.rs: the mdev and
 * VFIO APIs, anon_inode_getfile(), and what DMA logging hands a driver (the
 * interval tree of ranges, the IOVA bitmap), which the kernel crate's
 * bindings do not cover.
 */

#include <linux/anon_inodes.h>
#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/mdev.h>
#include <linux/vfio.h>

/*
 * struct mdev_type_attribute: the kernel's own, if <linux/mdev.h> has it
 * (with the helpers patches/linux/mdev-type-groups/ adds), else the checked
 * copy of the mdev core's private definition.
 */
#ifndef MDEV_TYPE_ATTR_RO
#include "mdev_type_attribute.h"
#endif

#include "helpers.h"
