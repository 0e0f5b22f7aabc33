// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_mdev VFIO open selftest.
 *
 * Every test loads dsa_mdev.ko (module_path(): module/ beside the test, or
 * $DSA_MDEV_KO) with parents=1 wqs=64, creates one dsa-2dwq device and
 * unloads the module afterwards.  The
 * device is opened either through the iommufd cdev (/dev/vfio/devices/vfioN,
 * VFIO_DEVICE_BIND_IOMMUFD, IOMMU_IOAS_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT)
 * or through its group (/dev/vfio/<group>, the /dev/vfio/vfio container,
 * VFIO_TYPE1v2_IOMMU, VFIO_GROUP_GET_DEVICE_FD).  "Open" means the VFIO
 * core has opened the device: after the bind, or after GET_DEVICE_FD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"

/*
 * The harness's 30 s per test is too short on the debug kernel (KASAN,
 * lockdep, kmemleak) under TCG, where everything runs ~35x slower; the
 * test macros expand this at their use below.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300
#include "dsa_mdev_vfio.h"

/*
 * Note: ASSERT_*() and EXPECT_*() expand to two statements (the check and
 * the optional TH_LOG handler), so an if or for around one needs braces.
 */

#define WQS		64
#define BASE		2
#define MODULE_PARAMS	"parents=1 wqs=64"

/* --- helpers ------------------------------------------------------------ */

static void assert_device_info(struct __test_metadata *_metadata, int fd)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_GET_INFO, &info))
		TH_LOG("VFIO_DEVICE_GET_INFO: %s", strerror(errno));
	ASSERT_TRUE((info.flags & VFIO_DEVICE_FLAGS_PCI) != 0);
	ASSERT_EQ((__u32)VFIO_PCI_NUM_REGIONS, info.num_regions);
	ASSERT_EQ((__u32)VFIO_PCI_NUM_IRQS, info.num_irqs);
}

/* The WQ accounting holds (see check_parent_accounting). */
static void assert_consistent(struct __test_metadata *_metadata)
{
	char msg[512];

	ASSERT_EQ(0, check_accounting(msg, sizeof(msg))) TH_LOG("%s", msg);
}

/* dsa0 has @expected free WQs, and the accounting holds. */
static void assert_free_wqs(struct __test_metadata *_metadata, long long expected)
{
	ASSERT_EQ(expected, sysfs_read_num(parent_path(0, "free_wqs").s));
	assert_consistent(_metadata);
}

/* Writing the device's aggregator fails with EBUSY and changes nothing. */
static void assert_busy(struct __test_metadata *_metadata, const char *uuid)
{
	static char before[DSA_STATE_MAX], after[DSA_STATE_MAX];
	char diff[1024];

	ASSERT_EQ(0, state_dump(before, sizeof(before)));
	ASSERT_EQ(-EBUSY, set_dev_aggregator(uuid, 3));
	ASSERT_EQ(0, state_dump(after, sizeof(after)));
	ASSERT_EQ(0, state_compare(before, after, diff, sizeof(diff))) TH_LOG("%s", diff);
}

/* Growing to aggregator 3 works: the device is not open. */
static void assert_writable(struct __test_metadata *_metadata, const char *uuid)
{
	ASSERT_EQ(0, set_dev_aggregator(uuid, 3));
	ASSERT_EQ(3 * BASE, dev_wq_count(uuid));
	assert_consistent(_metadata);
	ASSERT_EQ(0, set_dev_aggregator(uuid, 1));
	ASSERT_EQ(BASE, dev_wq_count(uuid));
	assert_consistent(_metadata);
}

/* --- common setup ------------------------------------------------------- */

struct env {
	int baseline_devices;
	char uuid[DSA_UUID_LEN + 1];
};

/* Skip, or load the module with one parent and create one dsa-2dwq device. */
static void setup(struct __test_metadata *_metadata, struct env *env)
{
	env_setup_device(_metadata, MODULE_PARAMS, &env->baseline_devices, BASE, 1, env->uuid);
}

/* --- tests on both open paths ------------------------------------------ */

FIXTURE(vfio) {
	struct env env;
};

FIXTURE_VARIANT(vfio) {
	bool via_group;
};

FIXTURE_VARIANT_ADD(vfio, cdev) {
	.via_group = false,
};

FIXTURE_VARIANT_ADD(vfio, group) {
	.via_group = true,
};

FIXTURE_SETUP(vfio)
{
	setup(_metadata, &self->env);
}

/* In the parent: the test's process, and so its VFIO fds, are gone by then. */
FIXTURE_TEARDOWN_PARENT(vfio)
{
	env_teardown(_metadata, self->env.baseline_devices);
}

TEST_F(vfio, get_info_reports_vfio_pci)
{
	struct vfio_handle h;

	open_device(_metadata, variant->via_group, self->env.uuid, &h);
	assert_device_info(_metadata, h.device);
	close_device(_metadata, &h);
}

TEST_F(vfio, aggregator_write_is_ebusy_while_open)
{
	struct vfio_handle h;

	open_device(_metadata, variant->via_group, self->env.uuid, &h);
	assert_busy(_metadata, self->env.uuid);
	ASSERT_EQ(BASE, dev_wq_count(self->env.uuid));
	assert_free_wqs(_metadata, WQS - BASE);
	close_device(_metadata, &h);
}

TEST_F(vfio, aggregator_writable_again_after_close)
{
	struct vfio_handle h;

	open_device(_metadata, variant->via_group, self->env.uuid, &h);
	ASSERT_EQ(-EBUSY, set_dev_aggregator(self->env.uuid, 3));
	close_device(_metadata, &h);

	ASSERT_EQ(0, set_dev_aggregator(self->env.uuid, 3));
	ASSERT_EQ(3 * BASE, dev_wq_count(self->env.uuid));
	assert_free_wqs(_metadata, WQS - 3 * BASE);
}

TEST_F(vfio, device_can_be_opened_again)
{
	struct vfio_handle h;

	open_device(_metadata, variant->via_group, self->env.uuid, &h);
	assert_device_info(_metadata, h.device);
	close_device(_metadata, &h);

	open_device(_metadata, variant->via_group, self->env.uuid, &h);
	assert_device_info(_metadata, h.device);
	assert_busy(_metadata, self->env.uuid);
	close_device(_metadata, &h);
	assert_writable(_metadata, self->env.uuid);
}

TEST_F(vfio, other_devices_stay_writable_while_open)
{
	char other[DSA_UUID_LEN + 1], third[DSA_UUID_LEN + 1];
	struct vfio_handle h;

	make_uuid(other, 2);
	make_uuid(third, 3);
	ASSERT_EQ(0, mdev_create(0, 1, other));
	assert_free_wqs(_metadata, WQS - BASE - 1);
	open_device(_metadata, variant->via_group, self->env.uuid, &h);

	/* Only the open device is busy: its siblings and the types are not. */
	ASSERT_EQ(0, set_dev_aggregator(other, 4));
	ASSERT_EQ(4, dev_wq_count(other));
	assert_consistent(_metadata);
	ASSERT_EQ(0, sysfs_write_str(type_path(0, BASE, "aggregator").s, "5"));
	ASSERT_EQ(0, mdev_create(0, BASE, third));
	ASSERT_EQ(5 * BASE, dev_wq_count(third));
	assert_free_wqs(_metadata, WQS - BASE - 4 - 5 * BASE);
	ASSERT_EQ(0, mdev_remove(third));
	assert_free_wqs(_metadata, WQS - BASE - 4);
	ASSERT_EQ(0, mdev_remove(other));
	assert_free_wqs(_metadata, WQS - BASE);

	assert_busy(_metadata, self->env.uuid);
	close_device(_metadata, &h);
}

TEST_F(vfio, remove_after_close_releases_wqs)
{
	struct vfio_handle h;

	open_device(_metadata, variant->via_group, self->env.uuid, &h);
	close_device(_metadata, &h);
	ASSERT_EQ(0, mdev_remove(self->env.uuid));
	ASSERT_FALSE(path_exists(dev_path(self->env.uuid, "").s));
	assert_free_wqs(_metadata, WQS);
	ASSERT_EQ(self->env.baseline_devices, count_dir_entries(MDEV_DEVICES_DIR));
}

/* --- tests across paths ------------------------------------------------ */

FIXTURE(vfio_paths) {
	struct env env;
};

FIXTURE_SETUP(vfio_paths)
{
	setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(vfio_paths)
{
	env_teardown(_metadata, self->env.baseline_devices);
}

TEST_F(vfio_paths, device_has_cdev_and_group_nodes)
{
	char cdev[PATH_MAX], group[64];
	int id;

	ASSERT_TRUE(is_char_device("/dev/iommu"));
	ASSERT_TRUE(is_char_device("/dev/vfio/vfio"));
	ASSERT_EQ(0, find_cdev(self->env.uuid, cdev, sizeof(cdev)));
	ASSERT_TRUE(is_char_device(cdev)) TH_LOG("%s", cdev);
	id = find_group(self->env.uuid);
	ASSERT_LE(0, id);
	snprintf(group, sizeof(group), "/dev/vfio/%d", id);
	ASSERT_TRUE(is_char_device(group)) TH_LOG("%s", group);
}

TEST_F(vfio_paths, cdev_and_group_opens_alternate)
{
	struct vfio_handle h;

	open_cdev(_metadata, self->env.uuid, &h);
	assert_busy(_metadata, self->env.uuid);
	close_device(_metadata, &h);

	open_group(_metadata, self->env.uuid, &h);
	assert_busy(_metadata, self->env.uuid);
	close_device(_metadata, &h);

	open_cdev(_metadata, self->env.uuid, &h);
	assert_device_info(_metadata, h.device);
	close_device(_metadata, &h);
	assert_writable(_metadata, self->env.uuid);
}

TEST_F(vfio_paths, busy_until_last_group_device_fd_closed)
{
	struct vfio_handle h;
	int second;

	open_group(_metadata, self->env.uuid, &h);
	second = ioctl(h.group, VFIO_GROUP_GET_DEVICE_FD, self->env.uuid);
	ASSERT_LE(0, second) TH_LOG("second VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));

	ASSERT_EQ(0, close(h.device));
	h.device = -1;
	assert_busy(_metadata, self->env.uuid);

	ASSERT_EQ(0, close(second));
	assert_writable(_metadata, self->env.uuid);
	close_device(_metadata, &h);
}

TEST_HARNESS_MAIN
