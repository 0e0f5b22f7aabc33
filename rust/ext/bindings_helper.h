/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers bindgen reads for rust/ext/bindings_generated.rs: the mdev and
 * VFIO APIs and anon_inode_getfile(), which the kernel crate's bindings do
 * not cover.
 */

#include <linux/anon_inodes.h>
#include <linux/mdev.h>
#include <linux/vfio.h>

#include "helpers.h"
