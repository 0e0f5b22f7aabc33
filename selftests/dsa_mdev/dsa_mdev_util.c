// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the dsa_mdev selftests.  See dsa_mdev_util.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dsa_mdev_util.h"

/* @name beside this program (/proc/self/exe) into @out, if that exists. */
static bool beside_program(const char *name, char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	return snprintf(out, size, "%s/%s", dirname(exe), name) < (int)size &&
	       access(out, R_OK) == 0;
}

/*
 * dsa_mdev.ko as installed by modules_install, from this kernel's
 * modules.dep ("extra/dsa_mdev.ko: kernel/drivers/vfio/mdev/mdev.ko").
 * Compressed modules are not taken: finit_module() gets them as they are.
 */
static bool from_modules_dep(char *out, size_t size)
{
	char dir[PATH_MAX], line[PATH_MAX];
	struct utsname u;
	bool found = false;
	FILE *f;

	if (uname(&u))
		return false;
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	snprintf(line, sizeof(line), "/lib/modules/%s/modules.dep", u.release);
	f = fopen(line, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		const char *base;

		if (!colon)
			continue;
		*colon = '\0';
		base = strrchr(line, '/');
		base = base ? base + 1 : line;
		if (strcmp(base, DSA_MODULE_NAME ".ko"))
			continue;
		found = snprintf(out, size, "%s%s%s", line[0] == '/' ? "" : dir,
				 line[0] == '/' ? "" : "/", line) < (int)size &&
			access(out, R_OK) == 0;
	}
	fclose(f);
	return found;
}

const char *module_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv(DSA_KO_ENV);

	if (env && *env)
		return env;
	if (path[0])
		return path;
	if (beside_program(DSA_MODULE_SUBDIR "/" DSA_MODULE_NAME ".ko", path, sizeof(path)) ||
	    from_modules_dep(path, sizeof(path)))
		return path;
	path[0] = '\0';
	return NULL;
}

const char *helper_path(const char *env_name, const char *name)
{
	static char path[PATH_MAX];
	const char *env = getenv(env_name);

	if (env && *env)
		return env;
	if (beside_program(name, path, sizeof(path)) && access(path, X_OK) == 0)
		return path;
	return NULL;
}

int module_load(const char *ko, const char *params)
{
	int fd, err = 0;

	if (!ko)
		return -ENOENT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(__NR_finit_module, fd, params, 0))
		err = -errno;
	close(fd);
	return err;
}

int module_unload(void)
{
	if (syscall(__NR_delete_module, DSA_MODULE_NAME, O_NONBLOCK))
		return -errno;
	return 0;
}

bool module_loaded(void)
{
	return path_exists(DSA_MODULE_DIR);
}

const char *skip_reason(void)
{
	if (geteuid())
		return "must run as root";
	/* The mdev core is a module wherever VFIO_MDEV=m, as in config. */
	if (!path_exists(MDEV_BUS_DIR)) {
		if (system("modprobe -q mdev") == -1 || !path_exists(MDEV_BUS_DIR))
			return "no mdev core: modprobe mdev failed (CONFIG_VFIO_MDEV, see config)";
	}
	return NULL;
}

void make_uuid(char out[DSA_UUID_LEN + 1], unsigned int n)
{
	snprintf(out, DSA_UUID_LEN + 1, "d5a0d5a0-0000-4000-8000-%012x", n);
}

int mdev_create(int parent, int base, const char *uuid)
{
	return sysfs_write_str(type_path(parent, base, "create").s, uuid);
}

int mdev_remove(const char *uuid)
{
	return sysfs_write_str(dev_path(uuid, "remove").s, "1");
}

int set_dev_aggregator(const char *uuid, int value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", value);
	return sysfs_write_str(dev_path(uuid, "dsa/aggregator").s, buf);
}

/* --- WQ accounting ----------------------------------------------------- */

static int failf(char *msg, size_t size, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Format @msg (newlines as a backslash and n, so it stays one line). */
static int failf(char *msg, size_t size, int ret, const char *fmt, ...)
{
	char raw[1024];
	size_t i, o = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	for (i = 0; raw[i] && o + 3 < size; i++) {
		if (raw[i] == '\n') {
			msg[o++] = '\\';
			msg[o++] = 'n';
		} else {
			msg[o++] = raw[i];
		}
	}
	if (size)
		msg[o] = '\0';
	return ret;
}

#define MAX_TYPE_DEVICES 4096

int check_parent_accounting(int parent, char *msg, size_t size)
{
	static const int bases[] = { 1, 2, 4, 8 };
	static unsigned char held[DSA_MAX_WQS], ids[DSA_MAX_WQS];
	static char names[MAX_TYPE_DEVICES][DSA_NAME_MAX];
	long long total, free, agg[4] = { 0 }, max, dev_agg, avail;
	int used = 0, ntypes = 0, ndev, count, i, d, id;
	char list[16384];

	total = sysfs_read_num(parent_path(parent, "total_wqs").s);
	if (total < 0)
		return failf(msg, size, total, "dsa%d/total_wqs: error %lld", parent, total);
	free = sysfs_read_num(parent_path(parent, "free_wqs").s);
	if (free < 0)
		return failf(msg, size, free, "dsa%d/free_wqs: error %lld", parent, free);
	if (total < 1 || total > DSA_MAX_WQS)
		return failf(msg, size, 1, "dsa%d/total_wqs is %lld", parent, total);
	memset(held, 0, sizeof(held));

	for (i = 0; i < 4; i++) {
		int base = bases[i];

		if (!path_exists(type_path(parent, base, "").s))
			continue;
		ntypes++;
		agg[i] = sysfs_read_num(type_path(parent, base, "aggregator").s);
		if (agg[i] < 1)
			return failf(msg, size, agg[i] < 0 ? agg[i] : 1,
				     "dsa%d/dsa-%ddwq/aggregator: %lld", parent, base, agg[i]);
		max = sysfs_read_num(type_path(parent, base, "max_aggregator").s);
		if (max != total / base)
			return failf(msg, size, max < 0 ? max : 1,
				     "dsa%d/dsa-%ddwq/max_aggregator: %lld, total_wqs %lld",
				     parent, base, max, total);

		ndev = list_dir(type_path(parent, base, "devices").s, names, MAX_TYPE_DEVICES);
		if (ndev < 0)
			return failf(msg, size, ndev, "dsa%d/dsa-%ddwq/devices: error %d",
				     parent, base, ndev);
		for (d = 0; d < ndev; d++) {
			count = sysfs_read(dev_path(names[d], "dsa/wq_ids").s, list, sizeof(list));
			if (count < 0)
				return failf(msg, size, count, "%s/dsa/wq_ids: error %d",
					     names[d], count);
			count = parse_id_list(list, ids, total);
			if (count < 1)
				return failf(msg, size, 1, "%s/dsa/wq_ids: bad list \"%.64s\"",
					     names[d], list);
			dev_agg = sysfs_read_num(dev_path(names[d], "dsa/aggregator").s);
			if (base * dev_agg != count)
				return failf(msg, size, dev_agg < 0 ? dev_agg : 1,
					     "%s holds %d WQs, base %d, dsa/aggregator %lld",
					     names[d], count, base, dev_agg);
			for (id = 0; id < total; id++) {
				if (ids[id] && held[id])
					return failf(msg, size, 1, "WQ %d of dsa%d held twice (%s)",
						     id, parent, names[d]);
				held[id] |= ids[id];
			}
			used += count;
		}
	}
	i = count_dir_entries(parent_path(parent, "mdev_supported_types").s);
	if (i != ntypes)
		return failf(msg, size, i < 0 ? i : 1,
			     "dsa%d: %d type directories, %d of them dsa-{1,2,4,8}dwq",
			     parent, i, ntypes);
	if (free != total - used)
		return failf(msg, size, 1, "dsa%d: free_wqs %lld, total_wqs %lld, held %d",
			     parent, free, total, used);

	for (i = 0; i < 4; i++) {
		if (!agg[i])
			continue;
		avail = sysfs_read_num(type_path(parent, bases[i], "available_instances").s);
		if (avail != free / (bases[i] * agg[i]))
			return failf(msg, size, avail < 0 ? avail : 1,
				     "dsa%d/dsa-%ddwq: available_instances %lld, free_wqs %lld, aggregator %lld",
				     parent, bases[i], avail, free, agg[i]);
	}
	return 0;
}

int check_accounting(char *msg, size_t size)
{
	int parents, parent, ret;

	parents = count_dir_entries(DSA_CLASS_DIR);
	if (parents < 0)
		return failf(msg, size, parents, DSA_CLASS_DIR ": error %d", parents);
	for (parent = 0; parent < parents; parent++) {
		ret = check_parent_accounting(parent, msg, size);
		if (ret)
			return ret;
	}
	return 0;
}

/* --- state_dump ------------------------------------------------------- */

struct dump {
	char *buf;
	size_t size, len;
	int err;
};

static void dump_printf(struct dump *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void dump_printf(struct dump *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(d->buf + d->len, d->size - d->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= d->size - d->len)
		d->err = -EOVERFLOW;
	else
		d->len += n;
}

/* Append "path=content" (content verbatim, newlines escaped as \n). */
static void dump_file(struct dump *d, const char *path)
{
	char val[4096], *nl;
	int ret;

	ret = sysfs_read(path, val, sizeof(val));
	if (ret < 0) {
		dump_printf(d, "%s=<error %d>\n", path, ret);
		return;
	}
	dump_printf(d, "%s=", path);
	for (char *s = val; *s; s = nl + 1) {
		nl = strchr(s, '\n');
		if (!nl) {
			dump_printf(d, "%s", s);
			break;
		}
		dump_printf(d, "%.*s\\n", (int)(nl - s), s);
	}
	dump_printf(d, "\n");
}

/* Calls @fn for every entry of @dir in sorted order; -errno if unreadable. */
static int for_each_entry(const char *dir, struct dump *d,
			  void (*fn)(struct dump *d, const char *dir, const char *name))
{
	struct dirent **names;
	int n, i;

	n = scan_dir(dir, &names);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		fn(d, dir, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return 0;
}

static void dump_type_device(struct dump *d, const char *dir, const char *name)
{
	dump_printf(d, "%s/%s\n", dir, name);
}

static void dump_type(struct dump *d, const char *dir, const char *name)
{
	static const char *const files[] = {
		"aggregator", "available_instances", "max_aggregator",
	};
	struct spath p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		p = spath_fmt("%s/%s/%s", dir, name, files[i]);
		dump_file(d, p.s);
	}
	p = spath_fmt("%s/%s/devices", dir, name);
	if (for_each_entry(p.s, d, dump_type_device))
		dump_printf(d, "%s=<unreadable>\n", p.s);
}

static void dump_parent(struct dump *d, const char *dir, const char *name)
{
	struct spath p;

	p = spath_fmt("%s/%s/total_wqs", dir, name);
	dump_file(d, p.s);
	p = spath_fmt("%s/%s/free_wqs", dir, name);
	dump_file(d, p.s);
	p = spath_fmt("%s/%s/mdev_supported_types", dir, name);
	if (for_each_entry(p.s, d, dump_type))
		dump_printf(d, "%s=<unreadable>\n", p.s);
}

static void dump_device(struct dump *d, const char *dir, const char *name)
{
	static const char *const files[] = {
		"dsa/aggregator", "dsa/wq_ids", "dsa/self",
	};
	struct spath p;
	size_t i;

	p = spath_fmt("%s/%s/dsa", dir, name);
	if (!path_exists(p.s)) {
		/* Not one of ours (e.g. an mtty device): just note it. */
		dump_printf(d, "%s/%s\n", dir, name);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		p = spath_fmt("%s/%s/%s", dir, name, files[i]);
		dump_file(d, p.s);
	}
}

int state_dump(char *buf, size_t size)
{
	struct dump d = { .buf = buf, .size = size };
	int ret;

	if (!size)
		return -EINVAL;
	buf[0] = '\0';
	ret = for_each_entry(DSA_CLASS_DIR, &d, dump_parent);
	if (ret == -ENOENT)
		dump_printf(&d, DSA_CLASS_DIR "=<absent>\n");
	else if (ret)
		return ret;
	ret = for_each_entry(MDEV_DEVICES_DIR, &d, dump_device);
	if (ret)
		return ret;
	return d.err;
}

int state_compare(const char *before, const char *after, char *msg, size_t size)
{
	const char *a = before, *b = after;
	int la, lb;

	while (*a && *b) {
		la = strchrnul(a, '\n') - a;
		lb = strchrnul(b, '\n') - b;
		if (la != lb || memcmp(a, b, la))
			break;
		a += la + (a[la] == '\n');
		b += lb + (b[lb] == '\n');
	}
	if (!*a && !*b)
		return 0;
	la = strchrnul(a, '\n') - a;
	lb = strchrnul(b, '\n') - b;
	snprintf(msg, size, "state changed: '%.*s' became '%.*s'",
		 la, *a ? a : "<nothing>", lb, *b ? b : "<nothing>");
	if (!*a)
		snprintf(msg, size, "state changed: '%.*s' appeared", lb, b);
	else if (!*b)
		snprintf(msg, size, "state changed: '%.*s' disappeared", la, a);
	return 1;
}
