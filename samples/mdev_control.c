// SPDX-License-Identifier: GPL-2.0
/*
 * mdev_control: what the mdev control plane costs with one mdev type, of
 * any vendor driver (make bench runs it for dsa_mdev and for the kernel's
 * sample driver mtty, to compare them).
 *
 *   mdev_control [-n DEVICES] [-c CYCLES] [-r RUNS] NAME TYPE_DIR
 *
 * TYPE_DIR is the type's directory, e.g.
 * /sys/class/mdev_bus/dsa0/mdev_supported_types/dsa-1dwq; NAME labels the
 * output.  Run as root, with no device of the type left.  It measures:
 *
 *   - a create+remove cycle: "echo UUID > TYPE_DIR/create" then
 *     "echo 1 > /sys/bus/mdev/devices/UUID/remove", each one open() and
 *     write() of the file; after CYCLES / 4 untimed cycles, RUNS runs
 *     (default 3) of CYCLES cycles (default 100): the median per cycle, with
 *     the lowest and the highest run, and the medians of its create and
 *     remove halves;
 *   - one read of TYPE_DIR/available_instances, with no device (the
 *     median of RUNS runs of 100 reads);
 *   - growth, RUNS times: DEVICES devices (default 4096) created one
 *     after the other, each create timed, then one read of
 *     available_instances (the median of 100) with all of them there, then
 *     their removal.  Of each run: the mean time of a create over the
 *     first tenth and over the last tenth, their ratio, the read, and the
 *     mean time of a remove; printed are the medians of the runs, and the
 *     lowest and highest ratio.  A type that has fewer
 *     available_instances grows to its limit, and the output says so.
 *
 * The last line sums the figures up for scripts/bench-guest.sh:
 *
 *   control: name=NAME devices=N cycle_us=C create_first_us=F
 *            create_last_us=L growth=G avail_us=A avail_full_us=B
 *
 * (one line; N the devices it grew to, G the median of the runs' ratios
 * of the last tenth to the first, A and B the reads with none and with N
 * devices).  A benchmark, not a test: it judges no figure, and
 * fails (exit 1) only when a create, a remove or a read does; devices it
 * created go away when it exits.  2 is a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/sysfs.h"
#include "sample.h"

#define MAX_DEVICES	65536
#define MAX_RUNS	99
#define READS		100	/* available_instances reads per run */

static const char *type_dir;
/* The devices that exist: uuids[0 .. live). */
static char (*uuids)[DSA_UUID_LEN + 1];
static unsigned int live;
static unsigned int serial;
static uint32_t tag;

/* A UUID of its own for each device: tag, then a serial number. */
static const char *next_uuid(char *buf)
{
	unsigned int n = serial++;

	snprintf(buf, DSA_UUID_LEN + 1, "%08x-%04x-4%03x-8000-%012x", tag, n >> 12 & 0xffff,
		 n & 0xfff, n);
	return buf;
}

/* Creates device @uuid, pushing it on uuids[]; returns the nanoseconds. */
static uint64_t create(const char *uuid)
{
	struct spath p = spath_fmt("%s/create", type_dir);
	uint64_t t = now_ns();
	int ret = sysfs_write_str(p.s, uuid);

	t = now_ns() - t;
	if (ret)
		die("create %s (device %u): %s", uuid, live, strerror(-ret));
	strcpy(uuids[live++], uuid);
	return t;
}

/* Removes the last device created; returns the nanoseconds. */
static uint64_t remove_last(void)
{
	struct spath p = dev_path(uuids[live - 1], "remove");
	uint64_t t = now_ns();
	int ret = sysfs_write_str(p.s, "1");

	t = now_ns() - t;
	if (ret)
		die("remove %s: %s", uuids[live - 1], strerror(-ret));
	live--;
	return t;
}

static void remove_all(void)
{
	while (live) {
		struct spath p = dev_path(uuids[live - 1], "remove");

		sysfs_write_str(p.s, "1");
		live--;
	}
}

static long long available(void)
{
	struct spath p = spath_fmt("%s/available_instances", type_dir);
	long long n = sysfs_read_num(p.s);

	if (n < 0)
		die("read %s: %s", p.s, strerror((int)-n));
	return n;
}

/* The median of @runs runs of READS reads of available_instances, in us. */
static double time_available(unsigned int runs)
{
	double us[MAX_RUNS];
	unsigned int r, i;

	for (i = 0; i < READS / 10; i++)
		available();
	for (r = 0; r < runs; r++) {
		uint64_t t = now_ns();

		for (i = 0; i < READS; i++)
			available();
		us[r] = (now_ns() - t) / 1e3 / READS;
	}
	return median(us, runs);
}

static unsigned long arg_num(const char *what, const char *s, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '-' || *end || v < 1 || v > max) {
		fprintf(stderr, "%s: %s must be an integer in 1-%lu, not '%s'\n",
			program_invocation_short_name, what, max, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned int devices = 4096, cycles = 100, runs = 3, n, decile, i, r;
	double cyc[MAX_RUNS], cre[MAX_RUNS], rem[MAX_RUNS];
	double g_first[MAX_RUNS], g_last[MAX_RUNS], g_ratio[MAX_RUNS], g_avail[MAX_RUNS];
	double g_remove[MAX_RUNS];
	double cycle_us, avail_us, avail_full_us, first_us, last_us, ratio;
	uint64_t *t_create, t;
	const char *name;
	char uuid[DSA_UUID_LEN + 1];
	long long avail0;
	int opt;

	while ((opt = getopt(argc, argv, "n:c:r:")) != -1) {
		switch (opt) {
		case 'n':
			devices = arg_num("DEVICES", optarg, MAX_DEVICES);
			break;
		case 'c':
			cycles = arg_num("CYCLES", optarg, 1000000);
			break;
		case 'r':
			runs = arg_num("RUNS", optarg, MAX_RUNS);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2) {
usage:
		fprintf(stderr, "usage: %s [-n DEVICES] [-c CYCLES] [-r RUNS] NAME TYPE_DIR\n"
			"  time create+remove cycles of the mdev type TYPE_DIR, and its growth to\n"
			"  DEVICES (default 4096) devices\n", argv[0]);
		return 2;
	}
	name = argv[optind];
	type_dir = argv[optind + 1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	tag = (uint32_t)(now_ns() ^ (uint64_t)getpid() << 16);
	uuids = calloc(devices + 1, sizeof(*uuids));
	t_create = calloc(devices, sizeof(*t_create));
	if (!uuids || !t_create)
		die("out of memory");
	atexit(remove_all);

	avail0 = available();
	if (avail0 < 1)
		die("%s: no instance available", type_dir);
	printf("mdev_control: %s, type %s; %lld instance(s) available\n", name, type_dir,
	       avail0);

	/* Create+remove cycles, warmed up by a quarter as many untimed ones. */
	for (i = 0; i < (cycles + 3) / 4; i++) {
		create(next_uuid(uuid));
		remove_last();
	}
	for (r = 0; r < runs; r++) {
		uint64_t tc = 0, tr = 0;

		for (i = 0; i < cycles; i++) {
			tc += create(next_uuid(uuid));
			tr += remove_last();
		}
		cre[r] = tc / 1e3 / cycles;
		rem[r] = tr / 1e3 / cycles;
		cyc[r] = cre[r] + rem[r];
	}
	cycle_us = median(cyc, runs);	/* sorts cyc[] */
	printf("  %-44s %10.1f us (%.1f-%.1f; create %.1f, remove %.1f)\n",
	       "create+remove cycle (median of runs)", cycle_us, cyc[0], cyc[runs - 1],
	       median(cre, runs), median(rem, runs));

	avail_us = time_available(runs);
	printf("  %-44s %10.1f us\n", "available_instances read, no device", avail_us);

	/*
	 * Growth, RUNS times: one run creates the devices one after the other,
	 * reads available_instances with all of them there, and removes them.
	 * The medians of the runs' figures are printed, with the lowest and
	 * the highest ratio; one run of 4096 creates varies by half between
	 * boots, its medians much less.
	 */
	n = avail0 < devices ? (unsigned int)avail0 : devices;
	decile = n / 10 ? n / 10 : 1;
	for (r = 0; r < runs; r++) {
		double first = 0, last = 0;

		for (i = 0; i < n; i++)
			t_create[i] = create(next_uuid(uuid));
		for (i = 0; i < decile; i++) {
			first += t_create[i] / 1e3;
			last += t_create[n - decile + i] / 1e3;
		}
		g_first[r] = first / decile;
		g_last[r] = last / decile;
		g_ratio[r] = g_last[r] / g_first[r];
		g_avail[r] = time_available(1);
		t = now_ns();
		while (live)
			remove_last();
		g_remove[r] = (now_ns() - t) / 1e3 / n;
	}
	first_us = median(g_first, runs);
	last_us = median(g_last, runs);
	ratio = median(g_ratio, runs);	/* sorts g_ratio[] */
	avail_full_us = median(g_avail, runs);
	printf("  growth to %u devices, %u run(s)", n, runs);
	if (n < devices)
		printf(" (not %u: the type has %lld instances)", devices, avail0);
	printf(":\n");
	printf("  %-44s %10.1f us\n", "create, mean over the first tenth", first_us);
	printf("  %-44s %10.1f us\n", "create, mean over the last tenth", last_us);
	printf("  %-44s %10.2f (%.2f-%.2f)\n", "last tenth / first tenth, of each run", ratio,
	       g_ratio[0], g_ratio[runs - 1]);
	printf("  %-44s %10.1f us\n", "available_instances read, all created", avail_full_us);
	printf("  %-44s %10.1f us\n", "remove, mean over all of them", median(g_remove, runs));

	printf("control: name=%s devices=%u cycle_us=%.1f create_first_us=%.1f "
	       "create_last_us=%.1f growth=%.3f avail_us=%.1f avail_full_us=%.1f\n",
	       name, n, cycle_us, first_us, last_us, ratio, avail_us, avail_full_us);
	return 0;
}
