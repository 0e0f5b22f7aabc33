/* SPDX-License-Identifier: GPL-2.0 */
/*
 * struct mdev_type_attribute, for kernels whose <linux/mdev.h> does not
 * define it (every kernel without the series in
 * patches/linux/mdev-type-groups/).
 *
 * The mdev core keeps the structure private to
 * drivers/vfio/mdev/mdev_sysfs.c, but its sysfs operations for type
 * directories cast every attribute there to it.  This copy is what bindgen
 * turns into the Rust type, and the module build compares it with the
 * kernel source's definition (rust/ext/mdev_mirror_check.sh) and fails on
 * any difference, so a changed core cannot be built against unnoticed.
 * The definition below is byte for byte the kernel's, from the struct line
 * to the closing brace.
 */
#ifndef DSA_MDEV_TYPE_ATTRIBUTE_H
#define DSA_MDEV_TYPE_ATTRIBUTE_H

struct mdev_type_attribute {
	struct attribute attr;
	ssize_t (*show)(struct mdev_type *mtype,
			struct mdev_type_attribute *attr, char *buf);
	ssize_t (*store)(struct mdev_type *mtype,
			 struct mdev_type_attribute *attr, const char *buf,
			 size_t count);
};

#endif /* DSA_MDEV_TYPE_ATTRIBUTE_H */
