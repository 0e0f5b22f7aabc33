/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dsa_mdev devices in sysfs, for the samples and the selftests: paths,
 * reading and writing sysfs files, directories, a device's VFIO nodes (its
 * cdev and its IOMMU group) and the kernel's list format of its WQ ids.
 *
 * Every function that can fail returns a negative errno; none of them
 * prints or exits, so the caller says which step failed.
 */
#ifndef DSA_MDEV_LIB_SYSFS_H
#define DSA_MDEV_LIB_SYSFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define DSA_CLASS_DIR		"/sys/class/dsa"
#define MDEV_DEVICES_DIR	"/sys/bus/mdev/devices"

#define DSA_MAX_WQS		4096	/* upper bound of the wqs parameter */
#define DSA_UUID_LEN		36
#define DSA_NAME_MAX		64

/* A sysfs path, returned by value so calls can be nested in expressions. */
struct spath {
	char s[PATH_MAX];
};

/* A path from a format, truncated to fit. */
struct spath spath_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* /sys/class/dsa/dsa<parent>/<file> */
struct spath parent_path(int parent, const char *file);
/* /sys/class/dsa/dsa<parent>/mdev_supported_types/dsa-<base>dwq/<file> */
struct spath type_path(int parent, int base, const char *file);
/* /sys/bus/mdev/devices/<uuid>/<file> */
struct spath dev_path(const char *uuid, const char *file);

/*
 * Read a whole sysfs file into @buf (NUL-terminated).  Returns the number of
 * bytes read, -errno, or -EOVERFLOW if the content does not fit.
 */
int sysfs_read(const char *path, char *buf, size_t size);
/*
 * One write(2) of exactly @len bytes to a freshly opened file.  Returns 0,
 * -errno (of open or write), or -EIO for a short write.
 */
int sysfs_write(const char *path, const void *data, size_t len);
int sysfs_write_str(const char *path, const char *str);
/*
 * Read a file that must hold exactly "<decimal>\n" (no sign, no leading
 * zeros).  Returns the value, -errno, or -EBADMSG for any other content.
 */
long long sysfs_read_num(const char *path);

bool path_exists(const char *path);
bool is_char_device(const char *path);
/* Entries of a directory other than "." and "..", or -errno. */
int count_dir_entries(const char *path);
/*
 * scandir(3) of @path without "." and "..", sorted: the count (the caller
 * frees each entry and the array), or -errno.
 */
struct dirent;
int scan_dir(const char *path, struct dirent ***entries);
/*
 * Names in @path (sorted, without "." and "..") into @names, at most @max.
 * Returns how many, -ENOSPC if there are more, -ENAMETOOLONG, or -errno.
 */
int list_dir(const char *path, char (*names)[DSA_NAME_MAX], int max);

/*
 * /dev/vfio/devices/vfioN of the device, from its vfio-dev/ directory, into
 * @out.  0, -errno, -ENOENT if there is not exactly one, or -ENAMETOOLONG.
 */
int find_cdev(const char *uuid, char *out, size_t size);
/* The number of the device's IOMMU group (its iommu_group link), or -errno. */
int find_group(const char *uuid);

/*
 * Parse the kernel's list format ("0-29,32\n", "\n" for the empty set) as
 * printed by "%*pbl\n": ascending, ranges only for runs of two or more,
 * no overlaps or adjacent pieces, exactly one trailing newline.  Marks
 * every id in @set (which has @nset entries, ids must be below it) and
 * returns how many there are, or -EBADMSG.
 */
int parse_id_list(const char *text, unsigned char *set, unsigned int nset);
/* Number of WQs in the device's dsa/wq_ids, or -errno / -EBADMSG. */
int dev_wq_count(const char *uuid);

#endif /* DSA_MDEV_LIB_SYSFS_H */
