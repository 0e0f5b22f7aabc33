// SPDX-License-Identifier: GPL-2.0
/*
 * The dsa_mdev devices in sysfs.  See sysfs.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysfs.h"

struct spath spath_fmt(const char *fmt, ...)
{
	struct spath p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p.s, sizeof(p.s), fmt, ap);
	va_end(ap);
	return p;
}

struct spath parent_path(int parent, const char *file)
{
	return spath_fmt(DSA_CLASS_DIR "/dsa%d/%s", parent, file);
}

struct spath type_path(int parent, int base, const char *file)
{
	return spath_fmt(DSA_CLASS_DIR "/dsa%d/mdev_supported_types/dsa-%ddwq/%s",
			 parent, base, file);
}

struct spath dev_path(const char *uuid, const char *file)
{
	return spath_fmt(MDEV_DEVICES_DIR "/%s/%s", uuid, file);
}

int sysfs_read(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd, err = 0;

	if (!size)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == size - 1) {
			char extra;

			/* Full buffer: only fine if the file ends here. */
			n = read(fd, &extra, 1);
			if (n > 0)
				err = -EOVERFLOW;
			else if (n < 0)
				err = -errno;
			break;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return err ? err : (int)len;
}

int sysfs_write(const char *path, const void *data, size_t len)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

int sysfs_write_str(const char *path, const char *str)
{
	return sysfs_write(path, str, strlen(str));
}

long long sysfs_read_num(const char *path)
{
	char buf[64];
	long long val = 0;
	int len, i;

	len = sysfs_read(path, buf, sizeof(buf));
	if (len < 0)
		return len;
	/* "<digits>\n": at least one digit, no leading zero unless "0". */
	if (len < 2 || buf[len - 1] != '\n' || len > 19)
		return -EBADMSG;
	if (buf[0] == '0' && len != 2)
		return -EBADMSG;
	for (i = 0; i < len - 1; i++) {
		if (!isdigit((unsigned char)buf[i]))
			return -EBADMSG;
		val = val * 10 + (buf[i] - '0');
	}
	return val;
}

bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

bool is_char_device(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

int count_dir_entries(const char *path)
{
	struct dirent *de;
	int count = 0;
	DIR *dir;

	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			count++;
	}
	closedir(dir);
	return count;
}

static int no_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
}

int scan_dir(const char *path, struct dirent ***entries)
{
	int n = scandir(path, entries, no_dots, alphasort);

	return n < 0 ? -errno : n;
}

int list_dir(const char *path, char (*names)[DSA_NAME_MAX], int max)
{
	struct dirent **ents;
	int n, i, err = 0;

	n = scan_dir(path, &ents);
	if (n < 0)
		return n;
	if (n > max)
		err = -ENOSPC;
	for (i = 0; i < n; i++) {
		size_t len = strlen(ents[i]->d_name);

		if (!err && len >= DSA_NAME_MAX)
			err = -ENAMETOOLONG;
		if (!err)
			memcpy(names[i], ents[i]->d_name, len + 1);
		free(ents[i]);
	}
	free(ents);
	return err ? err : n;
}

int find_cdev(const char *uuid, char *out, size_t size)
{
	char names[4][DSA_NAME_MAX];
	int n;

	n = list_dir(dev_path(uuid, "vfio-dev").s, names, 4);
	if (n < 0)
		return n;
	if (n != 1 || strncmp(names[0], "vfio", 4))
		return -ENOENT;
	if (snprintf(out, size, "/dev/vfio/devices/%s", names[0]) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

int find_group(const char *uuid)
{
	char target[PATH_MAX], *end;
	ssize_t len;
	long id;

	len = readlink(dev_path(uuid, "iommu_group").s, target, sizeof(target) - 1);
	if (len < 0)
		return -errno;
	target[len] = '\0';
	id = strtol(basename(target), &end, 10);
	if (*end || id < 0)
		return -EBADMSG;
	return id;
}

/* Parse a decimal id without sign or leading zeros; advances *p. */
static int parse_id(const char **p, unsigned int *id)
{
	const char *s = *p;
	unsigned long val = 0;

	if (!isdigit((unsigned char)*s) || (s[0] == '0' && isdigit((unsigned char)s[1])))
		return -EBADMSG;
	while (isdigit((unsigned char)*s)) {
		val = val * 10 + (*s - '0');
		if (val > UINT_MAX)
			return -EBADMSG;
		s++;
	}
	*p = s;
	*id = val;
	return 0;
}

int parse_id_list(const char *text, unsigned char *set, unsigned int nset)
{
	const char *p = text;
	unsigned int lo, hi, id;
	long long prev_hi = -2;
	int count = 0;

	memset(set, 0, nset);
	if (!strcmp(text, "\n"))
		return 0;
	for (;;) {
		if (parse_id(&p, &lo))
			return -EBADMSG;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_id(&p, &hi) || hi <= lo)
				return -EBADMSG;
		}
		/* Pieces ascend and never touch: "1,2" would print as "1-2". */
		if ((long long)lo <= prev_hi + 1 || hi >= nset)
			return -EBADMSG;
		for (id = lo; id <= hi; id++)
			set[id] = 1;
		count += hi - lo + 1;
		prev_hi = hi;
		if (*p == ',') {
			p++;
			continue;
		}
		if (p[0] == '\n' && p[1] == '\0')
			return count;
		return -EBADMSG;
	}
}

/* Room for the list of any device: "0,2,4,...,4094\n" is 9 KiB. */
int dev_wq_count(const char *uuid)
{
	static unsigned char set[DSA_MAX_WQS];
	static char buf[32768];
	int ret;

	ret = sysfs_read(dev_path(uuid, "dsa/wq_ids").s, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	return parse_id_list(buf, set, sizeof(set));
}
