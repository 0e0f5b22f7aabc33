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
 * Opening, registers, commands and the migration uAPI are those of the
 * library the samples share with the selftests (selftests/dsa_mdev/lib/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/dsa.h"
#include "lib/sysfs.h"
#include "lib/vfio.h"
#include "sample.h"

#define DEFAULT_ITERATIONS	50
#define MAX_ITERATIONS		100000
#define TIMEOUT_MS		5000	/* for one device command */

/* An open device: its VFIO fds, its regions and its capabilities. */
struct vdev {
	const char *name;	/* "source" or "target", for messages */
	const char *uuid;
	struct vfio_handle h;
	struct dsa_mmio m;
	struct dsa_caps caps;
	unsigned int wqs;	/* from dsa/wq_ids */
};

/* --- the devices --------------------------------------------------------- */

/*
 * Opens device @uuid (iommufd cdev, else its group), turns on memory
 * decoding and bus mastering (as a VMM's guest would; ENABLE_DEVICE needs
 * the latter) and resets it.
 */
static void open_device(struct vdev *d, const char *name, const char *uuid)
{
	char err[512];
	int n;

	*d = (struct vdev){ .name = name, .uuid = uuid };
	n = dev_wq_count(uuid);
	if (n < 0)
		die("%s: %s/dsa/wq_ids: %s (create the device first, see README.md)", name,
		    uuid, strerror(-n));
	if (!n)
		die("%s: %s holds no WQ", name, uuid);
	d->wqs = n;
	if (vfio_open(&d->h, uuid, err, sizeof(err)))
		die("%s: open %s: %s", name, uuid, err);
	n = dsa_mmio_init(&d->m, d->h.device);
	if (n)
		die("%s: the device's regions: %s", name, strerror(-n));
	if (dsa_reset(&d->m, TIMEOUT_MS, &d->caps, err, sizeof(err)))
		die("%s: %s", name, err);
}

/*
 * Configures every WQ as dsa_copy.c configures WQ 0, with an equal share
 * of the device's WQ entries, then enables the device and every WQ.
 */
static void enable_all(struct vdev *d)
{
	char err[512];

	if (dsa_enable_wqs(&d->m, &d->caps, d->wqs, TIMEOUT_MS, err, sizeof(err)))
		die("%s: %s", d->name, err);
}

static uint32_t gensts(struct vdev *d)
{
	uint32_t v;
	int ret = dsa_read(&d->m, IDXD_GENSTATS_OFFSET, &v, sizeof(v));

	if (ret)
		die("%s: read GENSTS: %s", d->name, strerror(-ret));
	return v;
}

/* The target's GENSTS and WQCFG table read back as the source's. */
static void check_same(struct vdev *src, struct vdev *dst)
{
	unsigned int wq, i, words = src->caps.wqcfg_size / 4;
	union wqcfg s, t;
	int ret;

	if (gensts(src) != gensts(dst))
		die("after the load, the target's GENSTS is 0x%08x, the source's 0x%08x",
		    gensts(dst), gensts(src));
	if (dst->caps.wqcfg_size != src->caps.wqcfg_size)
		die("the target's WQCFG entries are not the source's size");
	if (words > ARRAY_SIZE(s.bits))
		words = ARRAY_SIZE(s.bits);
	for (wq = 0; wq < src->wqs; wq++) {
		ret = dsa_wqcfg_read(&src->m, &src->caps, wq, &s);
		if (!ret)
			ret = dsa_wqcfg_read(&dst->m, &dst->caps, wq, &t);
		if (ret)
			die("read WQCFG[%u]: %s", wq, strerror(-ret));
		for (i = 0; i < words; i++) {
			if (s.bits[i] != t.bits[i])
				die("after the load, WQCFG[%u] word %u: target 0x%08x, source 0x%08x",
				    wq, i, t.bits[i], s.bits[i]);
		}
	}
}

/* --- VFIO migration ----------------------------------------------------- */

/*
 * Moves the device from @from (for messages) to @to; returns the data fd
 * the arc opens (to STOP_COPY, to RESUMING), or -1.
 */
static int set_state(struct vdev *d, uint32_t from, uint32_t to)
{
	int data_fd, ret = mig_set_state(d->h.device, to, &data_fd);

	if (ret) {
		int now = mig_get_state(d->h.device);

		die("%s: %s -> %s: %s (the device is now in %s)", d->name, mig_state_name(from),
		    mig_state_name(to), strerror(-ret),
		    now < 0 ? "an unknown state" : mig_state_name(now));
	}
	if ((to == VFIO_DEVICE_STATE_STOP_COPY || to == VFIO_DEVICE_STATE_RESUMING) &&
	    data_fd < 0)
		die("%s: %s -> %s returned no data fd", d->name, mig_state_name(from),
		    mig_state_name(to));
	return data_fd;
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
static void write_stream(struct vdev *d, int fd, struct stream *s)
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

/*
 * One side of a migration: RUNNING -> STOP, then STOP -> @state (STOP_COPY
 * on the source, RESUMING on the target), @move carries the stream through
 * the data fd, and the device returns to STOP; then it runs again.
 * Returns the nanoseconds from STOP back to STOP.
 */
static uint64_t migrate_side(struct vdev *d, uint32_t state,
			     void (*move)(struct vdev *, int, struct stream *),
			     struct stream *s)
{
	uint64_t t0, t;
	int fd;

	set_state(d, VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP);
	t0 = now_ns();
	fd = set_state(d, VFIO_DEVICE_STATE_STOP, state);
	move(d, fd, s);
	close(fd);
	set_state(d, state, VFIO_DEVICE_STATE_STOP);
	t = now_ns() - t0;
	set_state(d, VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING);
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
	if (mig_get_flags(src.h.device, &flags))
		flags = 0;
	if (!(flags & VFIO_MIGRATION_STOP_COPY))
		die("source: no VFIO migration (VFIO_DEVICE_FEATURE_MIGRATION flags 0x%" PRIx64 ")",
		    flags);
	if (mig_get_flags(dst.h.device, &flags))
		flags = 0;
	if (!(flags & VFIO_MIGRATION_STOP_COPY))
		die("target: no VFIO migration (VFIO_DEVICE_FEATURE_MIGRATION flags 0x%" PRIx64 ")",
		    flags);
	if (enable)
		enable_all(&src);

	for (i = 0; i < iterations; i++) {
		save_ns += migrate_side(&src, VFIO_DEVICE_STATE_STOP_COPY, read_stream, &s);
		if (!i)
			stream_len = s.len;
		else if (s.len != stream_len)
			die("iteration %lu: the stream has %zu bytes, the first had %zu", i + 1,
			    s.len, stream_len);
		load_ns += migrate_side(&dst, VFIO_DEVICE_STATE_RESUMING, write_stream, &s);
	}
	check_same(&src, &dst);

	printf("migrate: wqs=%u stream=%zu bytes save=%.1f us load=%.1f us (mean of %lu%s)\n",
	       src.wqs, stream_len, save_ns / 1e3 / iterations, load_ns / 1e3 / iterations,
	       iterations, enable ? ", device and WQs enabled" : "");
	free(s.data);
	/* Closing the fds releases the devices: nothing else to undo. */
	return 0;
}
