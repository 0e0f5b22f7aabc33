// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_migrate: how big a dsa_mdev device's migration stream is, and how
 * long the device takes to save and to load it, through VFIO live
 * migration (v2) and nothing else.
 *
 *   dsa_migrate [-e] SRC_UUID DST_UUID [ITERATIONS]
 *
 * SRC_UUID and DST_UUID name two existing, compatible devices (same type,
 * same aggregator: create them first, see README.md), for instance
 * dsa-1dwq devices with aggregator 512 on dsa0 and on dsa1.  Run as root.
 * The program opens both (iommufd cdev, else the group, as dsa_copy.c
 * does), resets them, and with -e configures, on the source, every WQ as
 * a dedicated WQ and enables the device and every WQ, so that the stream
 * carries an enabled device.  Then, ITERATIONS times (default 50):
 *
 *   source: RUNNING -> STOP                  (not timed)
 *           STOP -> STOP_COPY, read() the data fd to its end, close it,
 *           STOP_COPY -> STOP                (save)
 *           STOP -> RUNNING                  (not timed)
 *   target: RUNNING -> STOP                  (not timed)
 *           STOP -> RESUMING, write() the stream to the data fd, close it,
 *           RESUMING -> STOP: the device checks and applies it  (load)
 *           STOP -> RUNNING                  (not timed)
 *
 * and prints one line:
 *
 *   migrate: wqs=W stream=B bytes save=S us load=L us (mean of N)
 *
 * W is the device's WQ count (its dsa/wq_ids), B the bytes the source's
 * data fd gave (the same every time, or the program fails), S and L the
 * mean times of the two timed parts, in microseconds, N the iterations;
 * with -e the line ends in "(mean of N, device and WQs enabled)".  After
 * the last iteration the target's GENSTS and WQCFG table must read back
 * as the source's: the load took effect.
 *
 * A benchmark, not a test: it judges no figure.  It fails (exit 1, with a
 * message naming the step) if either device refuses a step, e.g. when the
 * target is not compatible (the kernel log says why); 2 is a usage error.
 * `make bench` runs it in the test VM for 1 and for 512 WQs.  The
 * migration states and the data fd are those of <linux/vfio.h>
 * (VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE); the stream is opaque here.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/idxd.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

/* DSA registers (drivers/dma/idxd/registers.h); see dsa_copy.c. */
#define IDXD_GENCAP_OFFSET		0x10
#define IDXD_WQCAP_OFFSET		0x20
#define IDXD_TABLE_OFFSET		0x60
#define IDXD_GENSTATS_OFFSET		0x90
#define IDXD_CMD_OFFSET			0xa0
#define IDXD_CMDSTS_OFFSET		0xa8
#define GENCAP_MAX_XFER_SHIFT(v)	(((v) >> 16) & 0x1f)
#define GENCAP_MAX_BATCH_SHIFT(v)	(((v) >> 21) & 0xf)
#define WQCAP_TOTAL_WQ_SIZE(v)		((v) & 0xffff)
#define WQCAP_WQCFG_SIZE(v)		(((v) >> 24) & 0xf)
#define IDXD_WQCFG_MIN			5
#define TABLE_WQCFG(v)			(((v) >> 16) & 0xffff)
#define IDXD_TABLE_MULT			0x100
#define WQCFG_WORDS_MAX			16
#define IDXD_CMD(cmd, operand)		((uint32_t)(cmd) << 20 | (operand))
#define IDXD_CMD_ENABLE_DEVICE		1
#define IDXD_CMD_RESET_DEVICE		5
#define IDXD_CMD_ENABLE_WQ		6
#define IDXD_CMDSTS_ACTIVE		0x80000000u
#define IDXD_CMDSTS_ERR_MASK		0xff

#define PCI_COMMAND			0x04
#define PCI_COMMAND_MEMORY		0x0002
#define PCI_COMMAND_MASTER		0x0004
#define PCI_COMMAND_INTX_DISABLE	0x0400

#define DEFAULT_ITERATIONS	50
#define MAX_ITERATIONS		100000
#define TIMEOUT_NS		5000000000ull	/* for one device command */

/* An open device: its fd and where its regions are in that fd. */
struct vdev {
	const char *name;	/* "source" or "target", for messages */
	const char *uuid;
	int fd, iommufd, container, group;
	uint32_t ioas_id;
	uint64_t bar0, config;	/* region offsets in fd */
	unsigned int wqs;	/* from dsa/wq_ids */
};

/* --- helpers ------------------------------------------------------------ */

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "dsa_migrate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void region_rw(struct vdev *d, bool write, uint64_t base, uint64_t off, void *buf,
		      size_t len)
{
	ssize_t n = write ? pwrite(d->fd, buf, len, base + off) :
			    pread(d->fd, buf, len, base + off);

	if (n != (ssize_t)len)
		die("%s: %s %zu bytes at region offset 0x%" PRIx64 ": %s", d->name,
		    write ? "write" : "read", len, off, n < 0 ? strerror(errno) : "short");
}

static uint64_t rd64(struct vdev *d, uint64_t reg)
{
	uint64_t v;

	region_rw(d, false, d->bar0, reg, &v, sizeof(v));
	return v;
}

static uint32_t rd32(struct vdev *d, uint64_t reg)
{
	uint32_t v;

	region_rw(d, false, d->bar0, reg, &v, sizeof(v));
	return v;
}

static void wr32(struct vdev *d, uint64_t reg, uint32_t v)
{
	region_rw(d, true, d->bar0, reg, &v, sizeof(v));
}

/* A device command; dies unless CMDSTS reports success. */
static void command(struct vdev *d, const char *name, uint32_t cmd, uint32_t operand)
{
	uint64_t deadline = now_ns() + TIMEOUT_NS;
	uint32_t sts;

	wr32(d, IDXD_CMD_OFFSET, IDXD_CMD(cmd, operand));
	while ((sts = rd32(d, IDXD_CMDSTS_OFFSET)) & IDXD_CMDSTS_ACTIVE) {
		if (now_ns() > deadline)
			die("%s: %s: no completion", d->name, name);
		usleep(1000);
	}
	if (sts & IDXD_CMDSTS_ERR_MASK)
		die("%s: %s (operand %u): CMDSTS 0x%08x", d->name, name, operand, sts);
}

/* --- opening a device (dsa_copy.c, step 1) ------------------------------ */

static bool open_cdev(struct vdev *d)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char dir[PATH_MAX], path[PATH_MAX] = "";
	struct dirent *e;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/sys/bus/mdev/devices/%s/vfio-dev", d->uuid);
	dp = opendir(dir);
	if (!dp)
		return false;
	while ((e = readdir(dp)))
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s", e->d_name);
	closedir(dp);
	if (!path[0])
		return false;

	d->fd = open(path, O_RDWR | O_CLOEXEC);
	d->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	bind.iommufd = d->iommufd;
	if (d->fd < 0 || d->iommufd < 0 || ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) ||
	    ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &alloc)) {
		if (d->fd >= 0)
			close(d->fd);
		if (d->iommufd >= 0)
			close(d->iommufd);
		d->fd = d->iommufd = -1;
		return false;
	}
	d->ioas_id = alloc.out_ioas_id;
	attach.pt_id = d->ioas_id;
	if (ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		die("%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", d->name, strerror(errno));
	return true;
}

static void open_group(struct vdev *d)
{
	char link[PATH_MAX], target[PATH_MAX], path[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/sys/bus/mdev/devices/%s/iommu_group", d->uuid);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		die("%s: readlink %s: %s (is %s a device?)", d->name, link, strerror(errno),
		    d->uuid);
	target[len] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(target));
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->container < 0 || d->group < 0)
		die("%s: open /dev/vfio/vfio or %s: %s", d->name, path, strerror(errno));
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container) ||
	    ioctl(d->container, VFIO_SET_IOMMU, (unsigned long)VFIO_TYPE1v2_IOMMU))
		die("%s: %s: cannot set up the container: %s", d->name, path, strerror(errno));
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->uuid);
	if (d->fd < 0)
		die("%s: VFIO_GROUP_GET_DEVICE_FD: %s", d->name, strerror(errno));
}

static uint64_t region(struct vdev *d, unsigned int index)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	errno = 0;
	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &info) || !info.size)
		die("%s: region %u: %s", d->name, index, errno ? strerror(errno) : "absent");
	return info.offset;
}

/* The number of WQs in dsa/wq_ids, a list such as "0-29,32". */
static unsigned int count_wqs(struct vdev *d)
{
	char path[PATH_MAX], buf[16384], *p, *end;
	unsigned long lo, hi, n = 0;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/dsa/wq_ids", d->uuid);
	f = fopen(path, "re");
	if (!f)
		die("%s: %s: %s (create the device first, see README.md)", d->name, path,
		    strerror(errno));
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (p = buf; *p && *p != '\n'; p = end) {
		lo = strtoul(p, &end, 10);
		hi = lo;
		if (end == p)
			die("%s: %s: cannot parse '%s'", d->name, path, buf);
		if (*end == '-') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
			if (end == p || hi < lo)
				die("%s: %s: cannot parse '%s'", d->name, path, buf);
		}
		n += hi - lo + 1;
		if (n > 65536)
			die("%s: %s: more WQs than a parent can have: '%s'", d->name, path, buf);
		if (*end == ',')
			end++;
	}
	if (!n)
		die("%s: %s: the device holds no WQ", d->name, path);
	return (unsigned int)n;
}

/*
 * Opens device @uuid, turns on memory decoding and bus mastering (as a
 * VMM's guest would; ENABLE_DEVICE needs the latter) and resets it.
 */
static void open_device(struct vdev *d, const char *name, const char *uuid)
{
	uint16_t cmd;

	*d = (struct vdev){ .name = name, .uuid = uuid, .fd = -1, .iommufd = -1,
			    .container = -1, .group = -1 };
	d->wqs = count_wqs(d);
	if (!open_cdev(d))
		open_group(d);
	d->bar0 = region(d, VFIO_PCI_BAR0_REGION_INDEX);
	d->config = region(d, VFIO_PCI_CONFIG_REGION_INDEX);

	region_rw(d, false, d->config, PCI_COMMAND, &cmd, sizeof(cmd));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
	region_rw(d, true, d->config, PCI_COMMAND, &cmd, sizeof(cmd));
	command(d, "RESET_DEVICE", IDXD_CMD_RESET_DEVICE, 0);
}

/* --- the WQs ------------------------------------------------------------ */

static uint64_t wqcfg_table(struct vdev *d)
{
	return TABLE_WQCFG(rd64(d, IDXD_TABLE_OFFSET)) * IDXD_TABLE_MULT;
}

static unsigned int wqcfg_bytes(struct vdev *d)
{
	return 1u << (WQCAP_WQCFG_SIZE(rd64(d, IDXD_WQCAP_OFFSET)) + IDXD_WQCFG_MIN);
}

/*
 * Configures every WQ as dsa_copy.c configures WQ 0, with an equal share
 * of the device's WQ entries, then enables the device and every WQ.
 */
static void enable_all(struct vdev *d)
{
	uint64_t gencap = rd64(d, IDXD_GENCAP_OFFSET), wqcap = rd64(d, IDXD_WQCAP_OFFSET);
	uint32_t words[WQCFG_WORDS_MAX] = { 0 };
	uint64_t table = wqcfg_table(d);
	unsigned int entry = wqcfg_bytes(d), n = entry / 4, wq, i;

	if (n > WQCFG_WORDS_MAX)
		n = WQCFG_WORDS_MAX;
	words[0] = WQCAP_TOTAL_WQ_SIZE(wqcap) / d->wqs;		/* wq_size */
	if (!words[0])
		die("%s: %u WQ entries cannot be shared by %u WQs", d->name,
		    (unsigned int)WQCAP_TOTAL_WQ_SIZE(wqcap), d->wqs);
	words[2] = 1u << 0 | 1u << 4;				/* dedicated, priority 1 */
	words[3] = GENCAP_MAX_XFER_SHIFT(gencap) | GENCAP_MAX_BATCH_SHIFT(gencap) << 5;
	words[8] = 1u << DSA_OPCODE_MEMMOVE | 1u << DSA_OPCODE_BATCH;	/* op_config */
	for (wq = 0; wq < d->wqs; wq++)
		for (i = 0; i < n; i++)
			wr32(d, table + (uint64_t)wq * entry + 4 * i, words[i]);
	command(d, "ENABLE_DEVICE", IDXD_CMD_ENABLE_DEVICE, 0);
	for (wq = 0; wq < d->wqs; wq++)
		command(d, "ENABLE_WQ", IDXD_CMD_ENABLE_WQ, wq);
}

/* The target's GENSTS and WQCFG table read back as the source's. */
static void check_same(struct vdev *src, struct vdev *dst)
{
	uint64_t st = wqcfg_table(src), dt = wqcfg_table(dst);
	unsigned int entry = wqcfg_bytes(src), wq, i;
	uint32_t s, t;

	s = rd32(src, IDXD_GENSTATS_OFFSET);
	t = rd32(dst, IDXD_GENSTATS_OFFSET);
	if (s != t)
		die("after the load, the target's GENSTS is 0x%08x, the source's 0x%08x", t, s);
	if (wqcfg_bytes(dst) != entry)
		die("the target's WQCFG entries are not the source's size");
	for (wq = 0; wq < src->wqs; wq++) {
		for (i = 0; i < entry / 4; i++) {
			s = rd32(src, st + (uint64_t)wq * entry + 4 * i);
			t = rd32(dst, dt + (uint64_t)wq * entry + 4 * i);
			if (s != t)
				die("after the load, WQCFG[%u] word %u: target 0x%08x, source 0x%08x",
				    wq, i, t, s);
		}
	}
}

/* --- VFIO migration ----------------------------------------------------- */

static const char *state_name(uint32_t state)
{
	static const char *const names[] = {
		[VFIO_DEVICE_STATE_ERROR] = "ERROR",
		[VFIO_DEVICE_STATE_STOP] = "STOP",
		[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
		[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
		[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
		[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
		[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "?";
}

/*
 * VFIO_DEVICE_FEATURE on @d with @flags (GET or SET, and the feature):
 * the header, then @len bytes of the feature's data, copied in from @data
 * and back out to it.  Returns the ioctl's result, errno intact.
 */
static int feature(struct vdev *d, uint32_t flags, void *data, size_t len)
{
	/* The header and up to 56 bytes of data, 8-byte aligned. */
	uint64_t buf[8] = { 0 };
	struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
	int ret;

	if (sizeof(*f) + len > sizeof(buf))
		die("feature data of %zu bytes does not fit", len);
	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	memcpy(f->data, data, len);
	ret = ioctl(d->fd, VFIO_DEVICE_FEATURE, f);
	memcpy(data, f->data, len);
	return ret;
}

/* The migration flags (VFIO_MIGRATION_*); 0 if the device has none. */
static uint64_t mig_flags(struct vdev *d)
{
	struct vfio_device_feature_migration mig = { 0 };

	if (feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig,
		    sizeof(mig)))
		return 0;
	return mig.flags;
}

/* The device's migration state, or -1. */
static int64_t get_state(struct vdev *d)
{
	struct vfio_device_feature_mig_state mig = { .data_fd = -1 };

	if (feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig,
		    sizeof(mig)))
		return -1;
	return mig.device_state;
}

/*
 * Moves the device from @from (for messages) to @to; returns the data fd
 * the arc opens (to STOP_COPY, to RESUMING), or -1.
 */
static int set_state(struct vdev *d, uint32_t from, uint32_t to)
{
	struct vfio_device_feature_mig_state mig = { .device_state = to, .data_fd = -1 };

	if (feature(d, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig,
		    sizeof(mig))) {
		int err = errno;
		int64_t now = get_state(d);

		die("%s: %s -> %s: %s (the device is now in %s)", d->name, state_name(from),
		    state_name(to), strerror(err),
		    now < 0 ? "an unknown state" : state_name((uint32_t)now));
	}
	if ((to == VFIO_DEVICE_STATE_STOP_COPY || to == VFIO_DEVICE_STATE_RESUMING) &&
	    mig.data_fd < 0)
		die("%s: %s -> %s returned no data fd", d->name, state_name(from),
		    state_name(to));
	return mig.data_fd;
}

/* A growing buffer for the stream. */
struct stream {
	uint8_t *data;
	size_t len, cap;
};

/* Reads the data fd @fd to its end into @s. */
static void read_stream(struct vdev *d, int fd, struct stream *s)
{
	ssize_t n;

	s->len = 0;
	for (;;) {
		if (s->cap - s->len < 4096) {
			s->cap = s->cap ? 2 * s->cap : 65536;
			s->data = realloc(s->data, s->cap);
			if (!s->data)
				die("out of memory for a %zu-byte stream", s->cap);
		}
		n = read(fd, s->data + s->len, s->cap - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("%s: read the data fd after %zu bytes: %s", d->name, s->len,
			    strerror(errno));
		if (!n)
			break;
		s->len += n;
	}
	if (!s->len)
		die("%s: STOP_COPY gave an empty stream", d->name);
}

/* Writes @s whole to the data fd @fd. */
static void write_stream(struct vdev *d, int fd, const struct stream *s)
{
	size_t done = 0;
	ssize_t n;

	while (done < s->len) {
		n = write(fd, s->data + done, s->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: write the stream to the data fd at byte %zu of %zu: %s%s",
			    d->name, done, s->len, n < 0 ? strerror(errno) : "wrote nothing",
			    n < 0 && errno == EINVAL ? " (refused: the kernel log says why)" : "");
		done += n;
	}
}

/* Saves the source's state into @s; returns the nanoseconds it took. */
static uint64_t save(struct vdev *src, struct stream *s)
{
	uint64_t t0, t;
	int fd;

	set_state(src, VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP);
	t0 = now_ns();
	fd = set_state(src, VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_STOP_COPY);
	read_stream(src, fd, s);
	close(fd);
	set_state(src, VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_STOP);
	t = now_ns() - t0;
	set_state(src, VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING);
	return t;
}

/* Loads @s into the target; returns the nanoseconds it took. */
static uint64_t load(struct vdev *dst, const struct stream *s)
{
	uint64_t t0, t;
	int fd;

	set_state(dst, VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP);
	t0 = now_ns();
	fd = set_state(dst, VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RESUMING);
	write_stream(dst, fd, s);
	close(fd);
	set_state(dst, VFIO_DEVICE_STATE_RESUMING, VFIO_DEVICE_STATE_STOP);
	t = now_ns() - t0;
	set_state(dst, VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING);
	return t;
}

/* --- main --------------------------------------------------------------- */

static void __attribute__((noreturn)) usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-e] SRC_UUID DST_UUID [ITERATIONS]\n"
		"  migrate the state of dsa_mdev device SRC_UUID to DST_UUID (same type and\n"
		"  aggregator) ITERATIONS times (default %d, at most %d) through VFIO\n"
		"  migration, and print the stream size and the mean save and load times;\n"
		"  -e: first enable the source device and all its WQs\n",
		prog, DEFAULT_ITERATIONS, MAX_ITERATIONS);
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t save_ns = 0, load_ns = 0, flags;
	unsigned long iterations = DEFAULT_ITERATIONS, i;
	struct vdev src, dst;
	struct stream s = { 0 };
	size_t stream_len = 0;
	bool enable = false;
	int opt;

	while ((opt = getopt(argc, argv, "eh")) != -1) {
		if (opt != 'e')
			usage(argv[0]);
		enable = true;
	}
	if (argc - optind < 2 || argc - optind > 3)
		usage(argv[0]);
	if (argc - optind == 3) {
		const char *arg = argv[optind + 2];
		char *end;

		errno = 0;
		iterations = strtoul(arg, &end, 10);
		if (errno || *end || arg[0] == '-' || !iterations || iterations > MAX_ITERATIONS) {
			fprintf(stderr, "%s: ITERATIONS must be an integer in 1-%d, not '%s'\n",
				argv[0], MAX_ITERATIONS, arg);
			return 2;
		}
	}
	if (!strcmp(argv[optind], argv[optind + 1])) {
		fprintf(stderr, "%s: the source and the target must be two devices\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	open_device(&src, "source", argv[optind]);
	open_device(&dst, "target", argv[optind + 1]);
	if (src.wqs != dst.wqs)
		die("the source holds %u WQs, the target %u: not compatible", src.wqs, dst.wqs);
	flags = mig_flags(&src);
	if (!(flags & VFIO_MIGRATION_STOP_COPY))
		die("source: no VFIO migration (VFIO_DEVICE_FEATURE_MIGRATION flags 0x%" PRIx64 ")",
		    flags);
	flags = mig_flags(&dst);
	if (!(flags & VFIO_MIGRATION_STOP_COPY))
		die("target: no VFIO migration (VFIO_DEVICE_FEATURE_MIGRATION flags 0x%" PRIx64 ")",
		    flags);
	if (enable)
		enable_all(&src);

	for (i = 0; i < iterations; i++) {
		save_ns += save(&src, &s);
		if (!i)
			stream_len = s.len;
		else if (s.len != stream_len)
			die("iteration %lu: the stream has %zu bytes, the first had %zu", i + 1,
			    s.len, stream_len);
		load_ns += load(&dst, &s);
	}
	check_same(&src, &dst);

	printf("migrate: wqs=%u stream=%zu bytes save=%.1f us load=%.1f us (mean of %lu%s)\n",
	       src.wqs, stream_len, save_ns / 1e3 / iterations, load_ns / 1e3 / iterations,
	       iterations, enable ? ", device and WQs enabled" : "");
	free(s.data);
	/* Closing the fds releases the devices: nothing else to undo. */
	return 0;
}
