// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures, each in turn (fault injection with failslab and
 * /proc/thread-self/fail-nth; CONFIG_FAILSLAB, so the debug kernel only).
 *
 * For each operation a user or an administrator can start, the test fails
 * its first allocation, then its second, and so on, until the operation
 * completes without reaching the injected failure.  Every failed attempt
 * must return an errno, leave nothing half-made (every file the driver
 * exposes reads as before), keep the WQ accounting exact, and log no
 * WARNING or BUG.  kmemleak, which scans after the run (scripts/
 * vm-guest.sh), must find nothing.  The operations:
 *
 *   insmod, create, a device's aggregator write, VFIO open through the
 *   iommufd cdev and through the group, the STOP_COPY and RESUMING arcs of
 *   migration, VFIO_DEVICE_SET_IRQS, and the start of DMA dirty logging
 *   (after a failed start the device must not log: a report fails).
 *
 * failslab is set to fail sleeping allocations too (ignore-gfp-wait=N), as
 * nearly all of these are GFP_KERNEL.  Allocation-failure reports of the
 * page allocator ("page allocation failure", "vmalloc error") are expected
 * here and not counted as problems.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"
#include "dsa_mdev_vfio.h"
#include "dsa_mdev_mig.h"

#define MODULE_PARAMS	"parents=2 wqs=16"
/* For the insmod sweep: one parent and type (the loader's allocations are most). */
#define INSMOD_PARAMS	"parents=1 wqs=8 types=1"
#define TIMEOUT		3000
/* A bound on the allocations of one operation, to end a runaway loop. */
#define MAX_NTH		3000

#define FAILSLAB	"/sys/kernel/debug/failslab"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define UNUSED		__attribute__((unused))

static char before[DSA_STATE_MAX], after[DSA_STATE_MAX];
static char klog[1 << 20];

/* Arms the @n-th fault-injectable call of this thread to fail. */
static int arm(int n)
{
	char buf[16];
	int fd = open(FAIL_NTH, O_WRONLY | O_CLOEXEC), len, ret = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d", n);
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* Disarms; returns whether the armed failure was injected. */
static bool disarm(void)
{
	char buf[16] = "";
	int fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	bool injected;

	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	injected = atoi(buf) == 0;
	if (write(fd, "0", 1) != 1)
		injected = false;
	close(fd);
	return injected;
}

/* Kernel reports that are bugs, not the injected failures. */
static const char *const bad[] = {
	"WARNING:", "BUG:", "Oops", "KASAN", "UBSAN", "refcount_t:", "list_add corruption",
	"list_del corruption", "circular locking", "possible recursive locking",
	"unreferenced object", "blocked for more than",
};

static const char *first_bad(const char *log)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (strstr(log, bad[i]))
			return bad[i];
	return NULL;
}

struct fault_ctx {
	char uuid[DSA_UUID_LEN + 1];
	char uuid2[DSA_UUID_LEN + 1];
	struct vfio_handle h;
	int tries, injected, failed;
};

/*
 * One attempt of an operation: @op does it with the @n-th allocation
 * armed to fail (through arm()), returns 0 if it succeeded (and undid
 * it), -errno if it failed; @setup and @cleanup run outside the injection.
 */
typedef int (*op_fn)(struct __test_metadata *, struct fault_ctx *, int n);

static void sweep(struct __test_metadata *_metadata, struct fault_ctx *c, const char *name,
		  op_fn op, bool check_state)
{
	char msg[256];
	int n, kfd, len, ret;

	c->tries = c->injected = c->failed = 0;
	for (n = 1; n <= MAX_NTH; n++) {
		if (check_state) {
			ASSERT_EQ(0, state_dump(before, sizeof(before)));
		}
		kfd = kmsg_mark();
		ASSERT_LE(0, kfd);
		ret = op(_metadata, c, n);
		len = kmsg_since(kfd, klog, sizeof(klog));
		close(kfd);
		ASSERT_LE(0, len);
		c->tries++;
		ASSERT_EQ(NULL, first_bad(klog))
			TH_LOG("%s, allocation %d failed: the kernel reported:\n%s", name, n, klog);
		if (ret == 1)
			break;	/* done without reaching allocation n */
		c->injected++;
		if (ret < 0) {
			c->failed++;
			/* An errno, nothing half-made. */
			ASSERT_TRUE(ret > -4096);
			if (check_state) {
				ASSERT_EQ(0, state_dump(after, sizeof(after)));
				ASSERT_EQ(0, state_compare(before, after, msg, sizeof(msg)))
					TH_LOG("%s, allocation %d failed (%s): %s", name, n,
					       strerror(-ret), msg);
			}
		}
		if (path_exists(DSA_CLASS_DIR)) {
			ASSERT_EQ(0, check_accounting(msg, sizeof(msg)))
				TH_LOG("%s, allocation %d: %s", name, n, msg);
		}
	}
	TH_LOG("%s: %d attempts, %d with a failure injected, %d of those failed cleanly", name,
	       c->tries, c->injected, c->failed);
	ASSERT_GT(n, 1) TH_LOG("%s: no allocation was ever failed", name);
	ASSERT_LE(n, MAX_NTH) TH_LOG("%s: still allocating after %d", name, MAX_NTH);
}

/* Returns 1 if the armed failure was not injected, else @ret. */
static int result(int ret)
{
	return disarm() ? ret : 1;
}

static int op_insmod(struct __test_metadata *_metadata UNUSED, struct fault_ctx *c UNUSED, int n)
{
	const char *ko = module_path();
	int fd = open(ko, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	if (module_loaded())
		module_unload();
	arm(n);
	ret = syscall(__NR_finit_module, fd, INSMOD_PARAMS, 0) ? -errno : 0;
	ret = result(ret);
	close(fd);
	if (ret < 0) {
		/* Nothing of it is left. */
		EXPECT_FALSE(module_loaded()) TH_LOG("insmod failed (%s), the module stayed",
						     strerror(-ret));
		EXPECT_FALSE(path_exists(DSA_CLASS_DIR));
	}
	return ret;
}

static int op_create(struct __test_metadata *_metadata UNUSED, struct fault_ctx *c UNUSED, int n)
{
	struct spath create = type_path(0, 2, "create");
	int fd = open(create.s, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	arm(n);
	ret = write(fd, c->uuid2, DSA_UUID_LEN) == DSA_UUID_LEN ? 0 : -errno;
	ret = result(ret);
	close(fd);
	if (path_exists(dev_path(c->uuid2, "").s))
		mdev_remove(c->uuid2);
	return ret;
}

static int op_aggregator(struct __test_metadata *_metadata UNUSED, struct fault_ctx *c UNUSED, int n)
{
	struct spath p = dev_path(c->uuid, "dsa/aggregator");
	int fd = open(p.s, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	arm(n);
	ret = write(fd, "3", 1) == 1 ? 0 : -errno;
	ret = result(ret);
	close(fd);
	set_dev_aggregator(c->uuid, 1);
	return ret;
}

static int op_open_cdev(struct __test_metadata *_metadata UNUSED, struct fault_ctx *c UNUSED, int n)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	char path[PATH_MAX];
	int dev, iommufd, ret;

	if (find_cdev(c->uuid, path, sizeof(path)))
		return -ENOENT;
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd < 0)
		return -errno;
	arm(n);
	dev = open(path, O_RDWR | O_CLOEXEC);
	ret = dev < 0 ? -errno : 0;
	if (!ret) {
		bind.iommufd = iommufd;
		ret = ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) ? -errno : 0;
	}
	ret = result(ret);
	if (dev >= 0)
		close(dev);
	close(iommufd);
	return ret;
}

static int op_open_group(struct __test_metadata *_metadata UNUSED, struct fault_ctx *c UNUSED, int n)
{
	struct vfio_handle h;
	int dev, ret;

	open_group_only(_metadata, c->uuid, &h);
	arm(n);
	dev = ioctl(h.group, VFIO_GROUP_GET_DEVICE_FD, c->uuid);
	ret = result(dev < 0 ? -errno : 0);
	if (dev >= 0)
		close(dev);
	h.device = -1;
	close_device(_metadata, &h);
	return ret;
}

/* The device open through its cdev in c->h, in @state. */
static void mig_to(struct __test_metadata *_metadata, struct fault_ctx *c, uint32_t state)
{
	int fd = -1;

	ASSERT_EQ(0, mig_set_state(c->h.device, state, &fd));
	if (fd >= 0)
		close(fd);
}

static int mig_arc(struct __test_metadata *_metadata, struct fault_ctx *c, int n, uint32_t to)
{
	int fd = -1, ret;

	open_cdev(_metadata, c->uuid, &c->h);
	mig_to(_metadata, c, VFIO_DEVICE_STATE_STOP);
	arm(n);
	ret = result(mig_set_state(c->h.device, to, &fd));
	if (fd >= 0)
		close(fd);
	ioctl(c->h.device, VFIO_DEVICE_RESET);
	close_device(_metadata, &c->h);
	return ret;
}

static int op_stop_copy(struct __test_metadata *_metadata UNUSED, struct fault_ctx *c UNUSED, int n)
{
	return mig_arc(_metadata, c, n, VFIO_DEVICE_STATE_STOP_COPY);
}

static int op_resuming(struct __test_metadata *_metadata UNUSED, struct fault_ctx *c UNUSED, int n)
{
	return mig_arc(_metadata, c, n, VFIO_DEVICE_STATE_RESUMING);
}

static int op_set_irqs(struct __test_metadata *_metadata UNUSED, struct fault_ctx *c UNUSED, int n)
{
	int32_t fds[2];
	int ret;

	open_cdev(_metadata, c->uuid, &c->h);
	fds[0] = eventfd(0, EFD_CLOEXEC);
	fds[1] = eventfd(0, EFD_CLOEXEC);
	arm(n);
	ret = result(vfio_set_irqs(c->h.device,
				   VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_EVENTFD,
				   VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, fds, sizeof(fds)));
	close_device(_metadata, &c->h);
	close(fds[0]);
	close(fds[1]);
	return ret;
}

/*
 * DMA_LOGGING_START of 16 ranges, the whole address space among them (the
 * largest bitmap the device allocates).  A failed start leaves the device
 * not logging; a successful one is stopped.
 */
static int op_dma_log_start(struct __test_metadata *_metadata, struct fault_ctx *c, int n)
{
	struct vfio_device_feature_dma_logging_range r[16];
	uint64_t page_size = 4096, bitmap[1];
	int i, ret, report;

	for (i = 0; i < 15; i++)
		r[i] = (struct vfio_device_feature_dma_logging_range){
			.iova = (uint64_t)i << 30, .length = 1 << 20 };
	r[15] = (struct vfio_device_feature_dma_logging_range){ .iova = 15ULL << 30,
							       .length = -(16ULL << 30) - 8192 };
	open_cdev(_metadata, c->uuid, &c->h);
	arm(n);
	ret = result(dma_log_start(c->h.device, r, 16, &page_size));
	report = dma_log_report(c->h.device, 0, 4096, 4096, bitmap);
	if (ret < 0) {
		ASSERT_EQ(-EINVAL, report) TH_LOG("logging after a failed start (%d)", ret);
	} else {
		ASSERT_EQ(0, report);
	}
	ASSERT_EQ(0, dma_log_stop(c->h.device));
	close_device(_metadata, &c->h);
	return ret;
}

FIXTURE(fault) {
	struct fault_ctx c;
};

/* One variant per operation: the sweep of its allocations. */
FIXTURE_VARIANT(fault) {
	const char *name;	/* for the log */
	op_fn op;
	/*
	 * Swept without the module loaded: the state dumps are empty, so only
	 * the accounting is checked.
	 */
	bool unloaded;
};

FIXTURE_VARIANT_ADD(fault, create) {
	.name = "create", .op = op_create,
};

FIXTURE_VARIANT_ADD(fault, device_aggregator) {
	.name = "dsa/aggregator write", .op = op_aggregator,
};

FIXTURE_VARIANT_ADD(fault, vfio_open_cdev) {
	.name = "VFIO open (cdev)", .op = op_open_cdev,
};

FIXTURE_VARIANT_ADD(fault, vfio_open_group) {
	.name = "VFIO open (group)", .op = op_open_group,
};

FIXTURE_VARIANT_ADD(fault, stop_copy) {
	.name = "STOP -> STOP_COPY", .op = op_stop_copy,
};

FIXTURE_VARIANT_ADD(fault, resuming) {
	.name = "STOP -> RESUMING", .op = op_resuming,
};

FIXTURE_VARIANT_ADD(fault, set_irqs) {
	.name = "VFIO_DEVICE_SET_IRQS", .op = op_set_irqs,
};

FIXTURE_VARIANT_ADD(fault, dma_log_start) {
	.name = "DMA_LOGGING_START", .op = op_dma_log_start,
};

FIXTURE_VARIANT_ADD(fault, insmod) {
	.name = "insmod", .op = op_insmod, .unloaded = true,
};

FIXTURE_SETUP(fault)
{
	const char *why = skip_reason();
	const char *ko = module_path();

	if (why)
		SKIP(return, "%s", why);
	if (!path_exists(FAIL_NTH) || !path_exists(FAILSLAB))
		SKIP(return, "no failslab or fail-nth (a kernel without CONFIG_FAILSLAB)");
	ASSERT_EQ(0, sysfs_write_str(FAILSLAB "/ignore-gfp-wait", "N"));
	ASSERT_EQ(0, sysfs_write_str(FAILSLAB "/verbose", "0"));
	if (module_loaded()) {
		ASSERT_EQ(0, module_unload());
	}
	ASSERT_EQ(0, module_load(ko, MODULE_PARAMS));
	make_uuid(self->c.uuid, 1);
	make_uuid(self->c.uuid2, 2);
	ASSERT_EQ(0, mdev_create(0, 1, self->c.uuid));
}

FIXTURE_TEARDOWN(fault)
{
	disarm();
	if (module_loaded()) {
		EXPECT_EQ(0, module_unload());
	}
}

TEST_F_TIMEOUT(fault, allocation_failures, TIMEOUT)
{
	if (variant->unloaded) {
		ASSERT_EQ(0, module_unload());
	}
	sweep(_metadata, &self->c, variant->name, variant->op, !variant->unloaded);
}

TEST_HARNESS_MAIN
