/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening a dsa_mdev device through VFIO, for the harness-based selftests:
 * lib/vfio.h's opens (the iommufd cdev, or the group in a type1
 * container), asserting.
 *
 * Include after kselftest_harness.h: unlike dsa_mdev_util.h and lib/,
 * these helpers assert, so the harness reports the failing step.
 */
#ifndef DSA_MDEV_VFIO_H
#define DSA_MDEV_VFIO_H

#include <stdbool.h>
#include <stdio.h>

#include "dsa_mdev_util.h"
#include "lib/vfio.h"

static inline void open_cdev(struct __test_metadata *_metadata, const char *uuid,
			     struct vfio_handle *h)
{
	char err[512];

	ASSERT_EQ(0, vfio_open_cdev(h, uuid, err, sizeof(err))) TH_LOG("%s", err);
}

/*
 * The group of @uuid in a new type1 container, without a device fd yet
 * (h->device is -1): what VFIO_GROUP_GET_DEVICE_FD needs.
 */
static inline void open_group_only(struct __test_metadata *_metadata, const char *uuid,
				   struct vfio_handle *h)
{
	char err[512];

	ASSERT_EQ(0, vfio_open_group(h, uuid, false, err, sizeof(err))) TH_LOG("%s", err);
}

static inline void open_group(struct __test_metadata *_metadata, const char *uuid,
			      struct vfio_handle *h)
{
	char err[512];

	ASSERT_EQ(0, vfio_open_group(h, uuid, true, err, sizeof(err))) TH_LOG("%s", err);
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
	ASSERT_EQ(0, vfio_close(h));
}

#endif /* DSA_MDEV_VFIO_H */
