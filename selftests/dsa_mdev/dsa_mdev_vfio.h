/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening a dsa_mdev device through VFIO, for the harness-based selftests:
 * through its iommufd cdev (/dev/vfio/devices/vfioN, VFIO_DEVICE_BIND_IOMMUFD,
 * IOMMU_IOAS_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT) or through its group
 * (/dev/vfio/<group>, the /dev/vfio/vfio container, VFIO_TYPE1v2_IOMMU,
 * VFIO_GROUP_GET_DEVICE_FD).
 *
 * Include after kselftest_harness.h: unlike dsa_mdev_util.h, these helpers
 * assert, so the harness reports the failing step.
 */
#ifndef DSA_MDEV_VFIO_H
#define DSA_MDEV_VFIO_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "dsa_mdev_util.h"

/*
 * Everything one open of a device holds; -1 for the fds a path does not
 * use.  @ioas is the IOAS the cdev is attached to (cdev path only).
 */
struct vfio_handle {
	int container;
	int group;
	int iommufd;
	int device;
	__u32 ioas;
};

#define VFIO_HANDLE_CLOSED \
	((struct vfio_handle){ .container = -1, .group = -1, .iommufd = -1, .device = -1 })

static inline void open_cdev(struct __test_metadata *_metadata, const char *uuid,
			     struct vfio_handle *h)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char path[PATH_MAX];

	*h = VFIO_HANDLE_CLOSED;
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
	h->ioas = alloc.out_ioas_id;
}

/*
 * The group of @uuid in a new type1 container, without a device fd yet
 * (h->device is -1): what VFIO_GROUP_GET_DEVICE_FD needs.
 */
static inline void open_group_only(struct __test_metadata *_metadata, const char *uuid,
				   struct vfio_handle *h)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int group;

	*h = VFIO_HANDLE_CLOSED;
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
}

static inline void open_group(struct __test_metadata *_metadata, const char *uuid,
			      struct vfio_handle *h)
{
	open_group_only(_metadata, uuid, h);
	h->device = ioctl(h->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	ASSERT_LE(0, h->device) TH_LOG("VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));
}

static inline void open_device(struct __test_metadata *_metadata, bool via_group,
			       const char *uuid, struct vfio_handle *h)
{
	if (via_group)
		open_group(_metadata, uuid, h);
	else
		open_cdev(_metadata, uuid, h);
}

/* Close the device first (that is what ends the VFIO open), then the rest. */
static inline void close_device(struct __test_metadata *_metadata, struct vfio_handle *h)
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

#endif /* DSA_MDEV_VFIO_H */
