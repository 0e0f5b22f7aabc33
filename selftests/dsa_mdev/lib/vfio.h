/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A dsa_mdev device through VFIO, for the samples and the selftests:
 *
 *   - opening it through its iommufd cdev (/dev/vfio/devices/vfioN,
 *     VFIO_DEVICE_BIND_IOMMUFD, IOMMU_IOAS_ALLOC,
 *     VFIO_DEVICE_ATTACH_IOMMUFD_PT) or through its group (/dev/vfio/<group>
 *     in a /dev/vfio/vfio container with VFIO_TYPE1v2_IOMMU,
 *     VFIO_GROUP_GET_DEVICE_FD), and closing it;
 *   - its regions (VFIO_DEVICE_GET_REGION_INFO, pread() and pwrite() of
 *     the device fd), DMA mappings of either path, MSI-X eventfds;
 *   - the migration uAPI, v2 (VFIO_DEVICE_FEATURE_MIGRATION,
 *     _MIG_DEVICE_STATE, _MIG_DATA_SIZE, VFIO_MIG_GET_PRECOPY_INFO), and
 *     DMA dirty logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*).
 *
 * Every function that can fail returns a negative errno and neither prints
 * nor exits; the open functions also describe the step that failed in
 * @err, for the caller's message.
 */
#ifndef DSA_MDEV_LIB_VFIO_H
#define DSA_MDEV_LIB_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/types.h>
#include <linux/vfio.h>

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

/*
 * Open device @uuid through its cdev, bound to a new iommufd and attached
 * to a new IOAS.  0, or -errno with nothing left open (*@h closed) and the
 * failed step in @err.
 */
int vfio_open_cdev(struct vfio_handle *h, const char *uuid, char *err, size_t size);
/*
 * Put the group of @uuid in a new type1 container and, if @get_device, get
 * the device fd from it (else h->device stays -1: what a test of
 * VFIO_GROUP_GET_DEVICE_FD needs).  0, or -errno as vfio_open_cdev().
 */
int vfio_open_group(struct vfio_handle *h, const char *uuid, bool get_device, char *err,
		    size_t size);
/* Through the cdev if that opens, else through the group. */
int vfio_open(struct vfio_handle *h, const char *uuid, char *err, size_t size);
/*
 * Close the device first (that is what ends the VFIO open), then the rest;
 * every fd is -1 afterwards.  0, or the -errno of the first failed close.
 */
int vfio_close(struct vfio_handle *h);

/*
 * The offset of region @index in the device fd, from
 * VFIO_DEVICE_GET_REGION_INFO: 0, -errno, or -ENODEV for an absent one.
 */
int vfio_region_offset(int device, unsigned int index, uint64_t *offset);
/* pread()/pwrite() of the device fd at @offset: bytes transferred or -errno. */
ssize_t vfio_pread(int device, void *buf, size_t len, uint64_t offset);
ssize_t vfio_pwrite(int device, const void *buf, size_t len, uint64_t offset);

/*
 * Map @size bytes at @buf to @iova in the device's IOMMU domain (its IOAS
 * or its container), for reads only unless @writable.  0 or -errno.
 */
int vfio_dma_map(const struct vfio_handle *h, void *buf, uint64_t iova, uint64_t size,
		 bool writable);
int vfio_dma_unmap(const struct vfio_handle *h, uint64_t iova, uint64_t size);

/*
 * VFIO_DEVICE_SET_IRQS with @flags on @count vectors of interrupt @index
 * from @start, with @len bytes of @data (at most 512).  0 or -errno.
 */
int vfio_set_irqs(int device, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		  const void *data, size_t len);

/* VFIO_DEVICE_FEATURE_MIGRATION GET: the VFIO_MIGRATION_* flags.  0 or -errno. */
int mig_get_flags(int device, uint64_t *flags);
/* VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE GET: the state, or -errno. */
int mig_get_state(int device);
/*
 * VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE SET to @state.  0 or -errno; either
 * way *@data_fd is what the kernel returned in data_fd (-1 when the arc
 * opens no data transfer session), or -2 if the ioctl did not return it.
 */
int mig_set_state(int device, uint32_t state, int *data_fd);
/*
 * VFIO_DEVICE_FEATURE_MIG_DATA_SIZE GET: the bytes still to be read to
 * finish STOP_COPY, or -errno.
 */
long long mig_data_size(int device);
/* VFIO_MIG_GET_PRECOPY_INFO on a data fd.  0 or -errno. */
int mig_precopy_info_v2(int device);
int mig_precopy_info(int data_fd, uint64_t *initial_bytes, uint64_t *dirty_bytes);
/* The name of a VFIO_DEVICE_STATE_* value, for messages. */
const char *mig_state_name(int state);

/*
 * VFIO_DEVICE_FEATURE_PROBE of DMA_LOGGING_START, as QEMU asks whether a
 * device tracks its own DMA: 0 if it does, else -errno (-ENOTTY: no).
 */
int dma_log_probe(int device);
/*
 * VFIO_DEVICE_FEATURE_DMA_LOGGING_START of @count @ranges with the page
 * size hint *@page_size, which gets the page size the device picked.
 * 0 or -errno.
 */
int dma_log_start(int device, const struct vfio_device_feature_dma_logging_range *ranges,
		  uint32_t count, uint64_t *page_size);
/* VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP.  0 or -errno. */
int dma_log_stop(int device);
/*
 * VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT of @length bytes at @iova into
 * @bitmap, a bit per @page_size bytes (set bits are ORed in), which the
 * device clears.  0 or -errno.
 */
int dma_log_report(int device, uint64_t iova, uint64_t length, uint64_t page_size,
		   uint64_t *bitmap);

#endif /* DSA_MDEV_LIB_VFIO_H */
