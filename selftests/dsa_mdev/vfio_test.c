// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_mdev VFIO open selftest.
 *
 * Every test loads dsa_mdev.ko (path in $DSA_MDEV_KO) with parents=1 wqs=64,
 * creates one dsa-2dwq device and unloads the module afterwards.  The
 * device is opened either through the iommufd cdev (/dev/vfio/devices/vfioN,
 * VFIO_DEVICE_BIND_IOMMUFD, IOMMU_IOAS_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT)
 * or through its group (/dev/vfio/<group>, the /dev/vfio/vfio container,
 * VFIO_TYPE1v2_IOMMU, VFIO_GROUP_GET_DEVICE_FD).  "Open" means the VFIO
 * core has opened the device: after the bind, or after GET_DEVICE_FD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"

/*
 * Note: ASSERT_*() and EXPECT_*() expand to two statements (the check and
 * the optional TH_LOG handler), so an if or for around one needs braces.
 */

#define WQS		64
#define BASE		2
#define MODULE_PARAMS	"parents=1 wqs=64"

/* Everything one open of a device holds; -1 for what a path does not use. */
struct vfio_handle {
	int container;
	int group;
	int iommufd;
	int device;
};

/* --- helpers ------------------------------------------------------------ */

static const char *skip_reason(void)
{
	const char *ko = getenv(DSA_KO_ENV);

	if (geteuid())
		return "must run as root";
	if (!ko || !*ko)
		return "set " DSA_KO_ENV " to the path of dsa_mdev.ko";
	return NULL;
}

/* /dev/vfio/devices/vfioN of the device, from its vfio-dev/ directory. */
static int find_cdev(const char *uuid, char *out, size_t size)
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

/* The number of the device's IOMMU group, from its iommu_group link. */
static int find_group(const char *uuid)
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

static bool is_char_device(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

static int set_dev_aggregator(const char *uuid, int value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", value);
	return sysfs_write_str(dev_path(uuid, "dsa/aggregator").s, buf);
}

static void open_cdev(struct __test_metadata *_metadata, const char *uuid,
		      struct vfio_handle *h)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char path[PATH_MAX];

	*h = (struct vfio_handle){ -1, -1, -1, -1 };
	ASSERT_EQ(0, find_cdev(uuid, path, sizeof(path)));
	h->device = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, h->device) TH_LOG("open %s: %s", path, strerror(errno));
	h->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, h->iommufd) TH_LOG("open /dev/iommu: %s", strerror(errno));

	bind.iommufd = h->iommufd;
	ASSERT_EQ(0, ioctl(h->device, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		TH_LOG("VFIO_DEVICE_BIND_IOMMUFD: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(h->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		TH_LOG("IOMMU_IOAS_ALLOC: %s", strerror(errno));
	attach.pt_id = alloc.out_ioas_id;
	ASSERT_EQ(0, ioctl(h->device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		TH_LOG("VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", strerror(errno));
}

static void open_group(struct __test_metadata *_metadata, const char *uuid,
		       struct vfio_handle *h)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int group;

	*h = (struct vfio_handle){ -1, -1, -1, -1 };
	group = find_group(uuid);
	ASSERT_LE(0, group);
	h->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, h->container) TH_LOG("open /dev/vfio/vfio: %s", strerror(errno));
	ASSERT_EQ(VFIO_API_VERSION, ioctl(h->container, VFIO_GET_API_VERSION));
	ASSERT_LT(0, ioctl(h->container, VFIO_CHECK_EXTENSION, (unsigned long)VFIO_TYPE1v2_IOMMU));

	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	h->group = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, h->group) TH_LOG("open %s: %s", path, strerror(errno));
	ASSERT_EQ(0, ioctl(h->group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_TRUE((status.flags & VFIO_GROUP_FLAGS_VIABLE) != 0);

	ASSERT_EQ(0, ioctl(h->group, VFIO_GROUP_SET_CONTAINER, &h->container))
		TH_LOG("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(h->container, VFIO_SET_IOMMU, (unsigned long)VFIO_TYPE1v2_IOMMU))
		TH_LOG("VFIO_SET_IOMMU: %s", strerror(errno));
	h->device = ioctl(h->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	ASSERT_LE(0, h->device) TH_LOG("VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));
}

static void open_device(struct __test_metadata *_metadata, bool via_group,
			const char *uuid, struct vfio_handle *h)
{
	if (via_group)
		open_group(_metadata, uuid, h);
	else
		open_cdev(_metadata, uuid, h);
}

/* Close the device first (that is what ends the VFIO open), then the rest. */
static void close_device(struct __test_metadata *_metadata, struct vfio_handle *h)
{
	int *fds[] = { &h->device, &h->group, &h->container, &h->iommufd };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] < 0)
			continue;
		ASSERT_EQ(0, close(*fds[i]));
		*fds[i] = -1;
	}
}

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

/* Load the module with one parent and create one dsa-2dwq device. */
static void env_setup(struct __test_metadata *_metadata, struct env *env)
{
	const char *ko = getenv(DSA_KO_ENV);
	int ret;

	ASSERT_TRUE(path_exists(MDEV_BUS_DIR)) TH_LOG("mdev core not loaded (modprobe mdev)");
	if (module_loaded()) {
		ASSERT_EQ(0, module_unload()) TH_LOG("a stale dsa_mdev could not be unloaded");
	}
	env->baseline_devices = count_dir_entries(MDEV_DEVICES_DIR);
	ASSERT_LE(0, env->baseline_devices);
	ASSERT_EQ(0, module_load(ko, MODULE_PARAMS)) TH_LOG("insmod %s " MODULE_PARAMS, ko);

	make_uuid(env->uuid, 1);
	ret = mdev_create(0, BASE, env->uuid);
	if (ret)
		module_unload();	/* the teardown does not run after setup fails */
	ASSERT_EQ(0, ret) TH_LOG("create %s", env->uuid);
}

static void env_teardown(struct __test_metadata *_metadata, struct env *env)
{
	int rmmod_ret = module_loaded() ? module_unload() : 0;

	/* No TH_LOG here: a failed assertion of the test leaves the trigger set. */
	EXPECT_EQ(0, rmmod_ret);
	EXPECT_FALSE(path_exists(DSA_CLASS_DIR));
	EXPECT_EQ(env->baseline_devices, count_dir_entries(MDEV_DEVICES_DIR));
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
	const char *why = skip_reason();

	if (why)
		SKIP(return, "%s", why);
	env_setup(_metadata, &self->env);
}

/* In the parent: the test's process, and so its VFIO fds, are gone by then. */
FIXTURE_TEARDOWN_PARENT(vfio)
{
	env_teardown(_metadata, &self->env);
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
	const char *why = skip_reason();

	if (why)
		SKIP(return, "%s", why);
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(vfio_paths)
{
	env_teardown(_metadata, &self->env);
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
