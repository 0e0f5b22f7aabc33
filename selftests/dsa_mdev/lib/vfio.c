// SPDX-License-Identifier: GPL-2.0
/*
 * A dsa_mdev device through VFIO.  See vfio.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "sysfs.h"
#include "vfio.h"

/* --- opening and closing --------------------------------------------------- */

static int open_failed(struct vfio_handle *h, int ret, char *err, size_t size,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * A step of an open failed with @ret: close what is open, describe the step
 * and the error in @err, return @ret.
 */
static int open_failed(struct vfio_handle *h, int ret, char *err, size_t size,
		       const char *fmt, ...)
{
	va_list ap;
	int n;

	vfio_close(h);
	if (!size)
		return ret;
	va_start(ap, fmt);
	n = vsnprintf(err, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < size)
		snprintf(err + n, size - n, ": %s", strerror(-ret));
	return ret;
}

int vfio_open_cdev(struct vfio_handle *h, const char *uuid, char *err, size_t size)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char path[PATH_MAX];
	int ret;

	*h = VFIO_HANDLE_CLOSED;
	ret = find_cdev(uuid, path, sizeof(path));
	if (ret)
		return open_failed(h, ret, err, size, "the VFIO cdev of %s", uuid);
	h->device = open(path, O_RDWR | O_CLOEXEC);
	if (h->device < 0)
		return open_failed(h, -errno, err, size, "open %s", path);
	h->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (h->iommufd < 0)
		return open_failed(h, -errno, err, size, "open /dev/iommu");

	/* The bind is what opens the device. */
	bind.iommufd = h->iommufd;
	if (ioctl(h->device, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return open_failed(h, -errno, err, size, "VFIO_DEVICE_BIND_IOMMUFD");
	if (ioctl(h->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return open_failed(h, -errno, err, size, "IOMMU_IOAS_ALLOC");
	attach.pt_id = alloc.out_ioas_id;
	if (ioctl(h->device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return open_failed(h, -errno, err, size, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	h->ioas = alloc.out_ioas_id;
	return 0;
}

int vfio_open_group(struct vfio_handle *h, const char *uuid, bool get_device, char *err,
		    size_t size)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	unsigned long type1 = VFIO_TYPE1v2_IOMMU;
	char path[64];
	int group, ret;

	*h = VFIO_HANDLE_CLOSED;
	group = find_group(uuid);
	if (group < 0)
		return open_failed(h, group, err, size, "the IOMMU group of %s", uuid);
	h->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (h->container < 0)
		return open_failed(h, -errno, err, size, "open /dev/vfio/vfio");
	ret = ioctl(h->container, VFIO_GET_API_VERSION);
	if (ret != VFIO_API_VERSION)
		return open_failed(h, ret < 0 ? -errno : -EPROTONOSUPPORT, err, size,
				   "VFIO_GET_API_VERSION %d", ret);
	ret = ioctl(h->container, VFIO_CHECK_EXTENSION, type1);
	if (ret <= 0)
		return open_failed(h, ret < 0 ? -errno : -EOPNOTSUPP, err, size,
				   "VFIO_CHECK_EXTENSION VFIO_TYPE1v2_IOMMU");

	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	h->group = open(path, O_RDWR | O_CLOEXEC);
	if (h->group < 0)
		return open_failed(h, -errno, err, size, "open %s", path);
	if (ioctl(h->group, VFIO_GROUP_GET_STATUS, &status))
		return open_failed(h, -errno, err, size, "VFIO_GROUP_GET_STATUS");
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return open_failed(h, -EPERM, err, size, "%s is not viable", path);
	if (ioctl(h->group, VFIO_GROUP_SET_CONTAINER, &h->container))
		return open_failed(h, -errno, err, size, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(h->container, VFIO_SET_IOMMU, type1))
		return open_failed(h, -errno, err, size, "VFIO_SET_IOMMU");
	if (!get_device)
		return 0;

	/* Within its group, the device is named by its UUID. */
	h->device = ioctl(h->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (h->device < 0)
		return open_failed(h, -errno, err, size, "VFIO_GROUP_GET_DEVICE_FD");
	return 0;
}

int vfio_open(struct vfio_handle *h, const char *uuid, char *err, size_t size)
{
	char cdev[256], group[256];
	int ret;

	if (!vfio_open_cdev(h, uuid, cdev, sizeof(cdev)))
		return 0;
	ret = vfio_open_group(h, uuid, true, group, sizeof(group));
	if (ret && size)
		snprintf(err, size, "%s; %s", cdev, group);
	return ret;
}

int vfio_close(struct vfio_handle *h)
{
	int *fds[] = { &h->device, &h->group, &h->container, &h->iommufd };
	int ret = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] < 0)
			continue;
		if (close(*fds[i]) && !ret)
			ret = -errno;
		*fds[i] = -1;
	}
	return ret;
}

/* --- regions, DMA, interrupts ---------------------------------------------- */

int vfio_region_offset(int device, unsigned int index, uint64_t *offset)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	if (!info.size)
		return -ENODEV;
	*offset = info.offset;
	return 0;
}

ssize_t vfio_pread(int device, void *buf, size_t len, uint64_t offset)
{
	ssize_t n = pread(device, buf, len, offset);

	return n < 0 ? -errno : n;
}

ssize_t vfio_pwrite(int device, const void *buf, size_t len, uint64_t offset)
{
	ssize_t n = pwrite(device, buf, len, offset);

	return n < 0 ? -errno : n;
}

static int ioas_map(const struct vfio_handle *h, void *buf, uint64_t iova, uint64_t size,
		    bool writable)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 (writable ? IOMMU_IOAS_MAP_WRITEABLE : 0),
		.ioas_id = h->ioas,
		.user_va = (uintptr_t)buf,
		.length = size,
		.iova = iova,
	};

	return ioctl(h->iommufd, IOMMU_IOAS_MAP, &map) ? -errno : 0;
}

static int type1_map(const struct vfio_handle *h, void *buf, uint64_t iova, uint64_t size,
		     bool writable)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | (writable ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = (uintptr_t)buf,
		.iova = iova,
		.size = size,
	};

	return ioctl(h->container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

/* The cdev path maps into its IOAS, the group path into its container. */
int vfio_dma_map(const struct vfio_handle *h, void *buf, uint64_t iova, uint64_t size,
		 bool writable)
{
	if (h->iommufd >= 0)
		return ioas_map(h, buf, iova, size, writable);
	return type1_map(h, buf, iova, size, writable);
}

int vfio_dma_unmap(const struct vfio_handle *h, uint64_t iova, uint64_t size)
{
	struct iommu_ioas_unmap ioas = {
		.size = sizeof(ioas),
		.ioas_id = h->ioas,
		.iova = iova,
		.length = size,
	};
	struct vfio_iommu_type1_dma_unmap type1 = {
		.argsz = sizeof(type1),
		.iova = iova,
		.size = size,
	};

	if (h->iommufd >= 0)
		return ioctl(h->iommufd, IOMMU_IOAS_UNMAP, &ioas) ? -errno : 0;
	return ioctl(h->container, VFIO_IOMMU_UNMAP_DMA, &type1) ? -errno : 0;
}

int vfio_set_irqs(int device, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		  const void *data, size_t len)
{
	uint64_t buf[(sizeof(struct vfio_irq_set) + 512) / 8 + 1];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;

	if (len > 512)
		return -E2BIG;
	memset(buf, 0, sizeof(buf));
	set->argsz = sizeof(*set) + len;
	set->flags = flags;
	set->index = index;
	set->start = start;
	set->count = count;
	if (len)
		memcpy(set->data, data, len);
	return ioctl(device, VFIO_DEVICE_SET_IRQS, set) ? -errno : 0;
}

/* --- the migration uAPI ------------------------------------------------------ */

/* The largest payload of the features used here (struct vfio_device_feature_*). */
#define FEATURE_PAYLOAD	32

/*
 * VFIO_DEVICE_FEATURE with @flags (GET or SET and the feature number) and
 * @len bytes of payload in and out of @data.  0 or -errno.
 */
static int device_feature(int device, uint32_t flags, void *data, size_t len)
{
	uint64_t buf[(sizeof(struct vfio_device_feature) + FEATURE_PAYLOAD) / 8];
	struct vfio_device_feature *f = (struct vfio_device_feature *)buf;

	if (len > FEATURE_PAYLOAD)
		return -E2BIG;
	memset(buf, 0, sizeof(buf));
	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	memcpy(f->data, data, len);
	if (ioctl(device, VFIO_DEVICE_FEATURE, f))
		return -errno;
	memcpy(data, f->data, len);
	return 0;
}

int mig_get_flags(int device, uint64_t *flags)
{
	struct vfio_device_feature_migration mig = { 0 };
	int ret;

	ret = device_feature(device, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
			     &mig, sizeof(mig));
	if (!ret)
		*flags = mig.flags;
	return ret;
}

int mig_get_state(int device)
{
	struct vfio_device_feature_mig_state st = { .data_fd = -2 };
	int ret;

	ret = device_feature(device,
			     VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			     &st, sizeof(st));
	return ret ? ret : (int)st.device_state;
}

int mig_set_state(int device, uint32_t state, int *data_fd)
{
	uint64_t buf[(sizeof(struct vfio_device_feature) +
		      sizeof(struct vfio_device_feature_mig_state)) / 8];
	struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
	struct vfio_device_feature_mig_state *st = (void *)f->data;
	int ret = 0;

	/* Not device_feature(): data_fd comes back even when the SET fails. */
	memset(buf, 0, sizeof(buf));
	f->argsz = sizeof(buf);
	f->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	st->device_state = state;
	st->data_fd = -2;
	if (ioctl(device, VFIO_DEVICE_FEATURE, f))
		ret = -errno;
	*data_fd = st->data_fd;
	return ret;
}

long long mig_data_size(int device)
{
	struct vfio_device_feature_mig_data_size ds = { 0 };
	int ret;

	ret = device_feature(device, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
			     &ds, sizeof(ds));
	return ret ? ret : (long long)ds.stop_copy_length;
}

/*
 * Opts in to version 2 of VFIO_MIG_GET_PRECOPY_INFO
 * (VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2): its flags become output.
 */
int mig_precopy_info_v2(int device)
{
	uint8_t none = 0;

	return device_feature(device,
			      VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
			      &none, 0);
}

/* Version 1 of the ioctl: its flags are not looked at. */
int mig_precopy_info(int data_fd, uint64_t *initial_bytes, uint64_t *dirty_bytes)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };

	if (ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info))
		return -errno;
	*initial_bytes = info.initial_bytes;
	*dirty_bytes = info.dirty_bytes;
	return 0;
}

/* The enum vfio_device_mig_state names, without their prefix. */
const char *mig_state_name(int state)
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

	if (state < 0)
		return "<error>";
	if ((size_t)state >= ARRAY_SIZE(names) || !names[state])
		return "<unknown>";
	return names[state];
}

int dma_log_probe(int device)
{
	return device_feature(device, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			      VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
}

int dma_log_start(int device, const struct vfio_device_feature_dma_logging_range *ranges,
		  uint32_t count, uint64_t *page_size)
{
	struct vfio_device_feature_dma_logging_control c = {
		.page_size = *page_size,
		.num_ranges = count,
		.ranges = (uintptr_t)ranges,
	};
	int ret;

	ret = device_feature(device, VFIO_DEVICE_FEATURE_SET |
			     VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &c, sizeof(c));
	if (!ret)
		*page_size = c.page_size;
	return ret;
}

int dma_log_stop(int device)
{
	return device_feature(device, VFIO_DEVICE_FEATURE_SET |
			      VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0);
}

int dma_log_report(int device, uint64_t iova, uint64_t length, uint64_t page_size,
		   uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report r = {
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return device_feature(device, VFIO_DEVICE_FEATURE_GET |
			      VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, &r, sizeof(r));
}
