// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_mdev concurrency stress: the control plane raced against itself for
 * a fixed time on two parents, then the invariants.
 *
 * Threads, each in a loop until the time is up (DSA_MDEV_STRESS_SECONDS,
 * default 20):
 *   - per parent, a creator and a remover over a small pool of UUIDs and
 *     both bases (dsa-1dwq, dsa-2dwq);
 *   - a writer of the types' aggregator files (good and bad values);
 *   - a writer of the devices' dsa/aggregator files;
 *   - a VFIO user: opens a device through its cdev, reads registers,
 *     closes it;
 *   - a reader of every file the driver exposes (state_dump()).
 * The operations fail as the ABI says they may (ENOENT, EEXIST, ENOSPC,
 * EBUSY, EAGAIN, EINVAL, ENODEV); any other errno is counted as a failure.
 *
 * Afterwards: on each parent, free plus held equals total, no WQ is held
 * twice, available_instances is exact (check_accounting()), and every
 * device can still be removed, giving every WQ back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"

#define MODULE_PARAMS	"parents=2 wqs=32 types=1,2"
#define POOL		6	/* UUIDs per parent */
#define TIMEOUT		900

static atomic_bool stop;
static atomic_int unexpected;
static atomic_long ops;
static char unexpected_what[256];

/* The UUID @i of parent @p's pool. */
static void pool_uuid(char out[DSA_UUID_LEN + 1], int p, int i)
{
	make_uuid(out, 100 * (p + 1) + i);
}

static unsigned int rnd(unsigned int *seed, unsigned int n)
{
	return rand_r(seed) % n;
}

/* Counts @ret as unexpected unless 0 or one of the errnos the ABI allows. */
static void expect(int ret, const char *what)
{
	static const int ok[] = { ENOENT, EEXIST, ENOSPC, EBUSY, EAGAIN, EINVAL, ENODEV };
	size_t i;

	atomic_fetch_add(&ops, 1);
	if (ret == 0)
		return;
	for (i = 0; i < ARRAY_SIZE(ok); i++)
		if (ret == -ok[i])
			return;
	if (atomic_fetch_add(&unexpected, 1) == 0)
		snprintf(unexpected_what, sizeof(unexpected_what), "%s: %s", what, strerror(-ret));
}

struct worker {
	int parent;
	unsigned int seed;
};

static void *creator(void *arg)
{
	struct worker *w = arg;
	char uuid[DSA_UUID_LEN + 1];

	while (!atomic_load(&stop)) {
		pool_uuid(uuid, w->parent, rnd(&w->seed, POOL));
		expect(mdev_create(w->parent, rnd(&w->seed, 2) ? 2 : 1, uuid), "create");
	}
	return NULL;
}

static void *remover(void *arg)
{
	struct worker *w = arg;
	char uuid[DSA_UUID_LEN + 1];

	while (!atomic_load(&stop)) {
		pool_uuid(uuid, w->parent, rnd(&w->seed, POOL));
		expect(mdev_remove(uuid), "remove");
	}
	return NULL;
}

static void *type_aggregators(void *arg)
{
	static const char *const values[] = { "1", "2", "3", "8", "16", "0", "x", "999" };
	struct worker *w = arg;

	while (!atomic_load(&stop)) {
		int base = rnd(&w->seed, 2) ? 2 : 1;
		const char *v = values[rnd(&w->seed, ARRAY_SIZE(values))];

		expect(sysfs_write_str(type_path(rnd(&w->seed, 2), base, "aggregator").s, v),
		       "type aggregator");
	}
	return NULL;
}

static void *device_aggregators(void *arg)
{
	struct worker *w = arg;
	char uuid[DSA_UUID_LEN + 1];

	while (!atomic_load(&stop)) {
		pool_uuid(uuid, rnd(&w->seed, 2), rnd(&w->seed, POOL));
		expect(set_dev_aggregator(uuid, 1 + rnd(&w->seed, 6)), "device aggregator");
	}
	return NULL;
}

/* Opens @uuid through its cdev, reads BAR0 registers, closes it. */
static int vfio_visit(const char *uuid)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	char path[PATH_MAX];
	uint64_t v;
	int dev, iommufd, ret = 0, i;

	ret = find_cdev(uuid, path, sizeof(path));
	if (ret)
		return ret == -ENOTDIR ? -ENOENT : ret;
	dev = open(path, O_RDWR | O_CLOEXEC);
	/*
	 * ENXIO: the device was removed between find_cdev() and open(); its
	 * node outlives its cdev for a moment (cdev_device_del() comes
	 * before devtmpfs removes the node), and chrdev_open() then finds no
	 * cdev.  The device is gone, as with ENOENT.
	 */
	if (dev < 0)
		return errno == ENXIO ? -ENOENT : -errno;
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd < 0) {
		ret = -errno;
		goto out_dev;
	}
	bind.iommufd = iommufd;
	if (ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		ret = -errno;
		goto out;
	}
	for (i = 0; i < 8; i++) {
		if (pread(dev, &v, 8, (uint64_t)VFIO_PCI_BAR0_REGION_INDEX << 40 | 8 * i) != 8) {
			ret = -errno;
			break;
		}
	}
out:
	close(iommufd);
out_dev:
	close(dev);
	return ret;
}

static void *vfio_user(void *arg)
{
	struct worker *w = arg;
	char uuid[DSA_UUID_LEN + 1];

	while (!atomic_load(&stop)) {
		pool_uuid(uuid, rnd(&w->seed, 2), rnd(&w->seed, POOL));
		expect(vfio_visit(uuid), "VFIO open and read");
	}
	return NULL;
}

static void *reader(void *arg)
{
	static char buf[DSA_STATE_MAX];

	(void)arg;
	while (!atomic_load(&stop)) {
		int ret = state_dump(buf, sizeof(buf));

		/* A file can vanish between listing and reading. */
		expect(ret == -ENOENT || ret == -ENODEV ? 0 : ret, "read the sysfs files");
	}
	return NULL;
}

FIXTURE(stress) {
	int baseline;
};

/* Skip, or load the module. */
FIXTURE_SETUP(stress)
{
	env_setup(_metadata, MODULE_PARAMS, &self->baseline);
}

/* In the parent, so the module is unloaded even after a crash or abort. */
FIXTURE_TEARDOWN_PARENT(stress)
{
	env_teardown(_metadata, self->baseline);
}

TEST_F_TIMEOUT(stress, control_plane, TIMEOUT)
{
	void *(*fns[])(void *) = {
		creator, remover, creator, remover, type_aggregators, device_aggregators,
		vfio_user, reader,
	};
	const char *env = getenv("DSA_MDEV_STRESS_SECONDS");
	int seconds = env ? atoi(env) : 20, p, i, left;
	struct worker w[ARRAY_SIZE(fns)];
	pthread_t t[ARRAY_SIZE(fns)];
	char uuid[DSA_UUID_LEN + 1], msg[256];

	for (i = 0; i < (int)ARRAY_SIZE(fns); i++) {
		/* The creator/remover pairs: parent 0, then parent 1. */
		w[i].parent = i < 4 ? i / 2 : 0;
		w[i].seed = 12345 + i;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fns[i], &w[i]));
	}
	sleep(seconds > 0 ? seconds : 1);
	atomic_store(&stop, true);
	for (i = 0; i < (int)ARRAY_SIZE(fns); i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));

	TH_LOG("%ld operations in %d s, %d unexpected", atomic_load(&ops), seconds,
	       atomic_load(&unexpected));
	ASSERT_EQ(0, atomic_load(&unexpected)) TH_LOG("first: %s", unexpected_what);
	ASSERT_EQ(0, check_accounting(msg, sizeof(msg))) TH_LOG("%s", msg);

	/* Every device can still be removed, and gives its WQs back. */
	for (p = 0; p < 2; p++) {
		for (i = 0; i < POOL; i++) {
			pool_uuid(uuid, p, i);
			if (path_exists(dev_path(uuid, "").s)) {
				ASSERT_EQ(0, mdev_remove(uuid)) TH_LOG("remove %s", uuid);
			}
		}
		left = (int)sysfs_read_num(parent_path(p, "free_wqs").s);
		ASSERT_EQ(32, left) TH_LOG("dsa%d: %d WQs free after removing everything", p, left);
	}
	ASSERT_EQ(0, check_accounting(msg, sizeof(msg))) TH_LOG("%s", msg);
}

TEST_HARNESS_MAIN
