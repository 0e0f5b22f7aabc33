/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the dsa_mdev selftests: sysfs access, module load and
 * unload, the kernel's list format, and a dump of all driver-visible state.
 *
 * Every function that can fail returns a negative errno; none of them
 * asserts, so the harness reports the failing step at the caller's line.
 */
#ifndef DSA_MDEV_UTIL_H
#define DSA_MDEV_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define DSA_MODULE_NAME		"dsa_mdev"
#define DSA_KO_ENV		"DSA_MDEV_KO"
#define DSA_MODULE_SUBDIR	"module"	/* lib.mk's TEST_GEN_MODS_DIR */
#define DSA_CLASS_DIR		"/sys/class/dsa"
#define DSA_MODULE_DIR		"/sys/module/" DSA_MODULE_NAME
#define MDEV_BUS_DIR		"/sys/bus/mdev"
#define MDEV_DEVICES_DIR	"/sys/bus/mdev/devices"
#define MDEV_BUS_CLASS_DIR	"/sys/class/mdev_bus"

#define DSA_MAX_WQS		4096	/* upper bound of the wqs parameter */
#define DSA_UUID_LEN		36
#define DSA_STATE_MAX		(256 * 1024)

/* A sysfs path, returned by value so calls can be nested in expressions. */
struct spath {
	char s[PATH_MAX];
};

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
/* Entries of a directory other than "." and "..", or -errno. */
int count_dir_entries(const char *path);

#define DSA_NAME_MAX 64
/*
 * Names in @path (sorted, without "." and "..") into @names, at most @max.
 * Returns how many, -ENOSPC if there are more, -ENAMETOOLONG, or -errno.
 */
int list_dir(const char *path, char (*names)[DSA_NAME_MAX], int max);

/*
 * dsa_mdev.ko to load: $DSA_MDEV_KO if set; else module/dsa_mdev.ko beside
 * this program, where make and make install put it; else the one this
 * kernel's modules.dep lists (make modules_install).  NULL if none is
 * found: then module_load() fails with -ENOENT and the test fails, it does
 * not skip.
 */
const char *module_path(void);
/*
 * A helper program: $@env_name if set, else @name beside this program if
 * executable, else NULL.  The string lasts until the next call.
 */
const char *helper_path(const char *env_name, const char *name);
/* finit_module(2) of @ko (may be NULL) with @params.  0 or -errno. */
int module_load(const char *ko, const char *params);
/* delete_module(2) of dsa_mdev, O_NONBLOCK as rmmod does.  0 or -errno. */
int module_unload(void);
bool module_loaded(void);
/*
 * Why the module tests cannot run here (not root, or no mdev core even
 * after modprobe mdev), or NULL.
 */
const char *skip_reason(void);

/* A deterministic lowercase UUID numbered @n. */
void make_uuid(char out[DSA_UUID_LEN + 1], unsigned int n);
/* Write @uuid to the type's create file.  0 or -errno. */
int mdev_create(int parent, int base, const char *uuid);
/* Write "1" to the device's remove file.  0 or -errno. */
int mdev_remove(const char *uuid);
/* Write @value to the device's dsa/aggregator file.  0 or -errno. */
int set_dev_aggregator(const char *uuid, int value);

/*
 * /dev/vfio/devices/vfioN of the device, from its vfio-dev/ directory, into
 * @out.  0, -errno, -ENOENT if there is not exactly one, or -ENAMETOOLONG.
 */
int find_cdev(const char *uuid, char *out, size_t size);
/* The number of the device's IOMMU group (its iommu_group link), or -errno. */
int find_group(const char *uuid);
bool is_char_device(const char *path);

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

/*
 * The WQ accounting invariant of parent dsa<parent>: every exposed type has
 * max_aggregator == total_wqs / base and a positive aggregator, no other
 * type directory exists, every device listed by a type holds exactly
 * base * its dsa/aggregator WQs with ids below total_wqs that no other
 * device holds, free_wqs == total_wqs - the WQs held, and every type's
 * available_instances == free_wqs / (base * type aggregator).
 * Returns 0, 1 if violated, or -errno if a file could not be read; in the
 * last two cases @msg says what is wrong.
 */
int check_parent_accounting(int parent, char *msg, size_t size);
/* check_parent_accounting() for every parent in /sys/class/dsa. */
int check_accounting(char *msg, size_t size);

/*
 * Everything the driver exposes, one "path=value" line per file, in sorted
 * order: per parent total/free, per type aggregator/available/max and the
 * devices it lists, per mdev device its dsa/ files.  Comparing two dumps
 * is the "nothing changed" check.  0 or -errno.
 */
int state_dump(char *buf, size_t size);
/*
 * 0 if two dumps are equal; otherwise 1, with the first line that differs
 * on each side described in @msg (one line, fit for a KTAP diagnostic).
 */
int state_compare(const char *before, const char *after, char *msg, size_t size);

#endif /* DSA_MDEV_UTIL_H */
