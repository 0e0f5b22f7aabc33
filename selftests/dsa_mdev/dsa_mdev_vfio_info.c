// SPDX-License-Identifier: GPL-2.0
/*
 * What the driver reports of mdev device UUID through VFIO, for qemu.py,
 * which checks that QEMU shows the guest the same:
 *
 *   dsa_mdev_vfio_info UUID
 *
 * prints one line per region of VFIO_DEVICE_GET_INFO's num_regions and per
 * interrupt of num_irqs, from VFIO_DEVICE_GET_REGION_INFO and
 * VFIO_DEVICE_GET_IRQ_INFO:
 *
 *   region INDEX size SIZE flags FLAGS
 *   irq INDEX count COUNT flags FLAGS
 *
 * (the BARs are regions VFIO_PCI_BAR0_REGION_INDEX..5, MSI-X is interrupt
 * VFIO_PCI_MSIX_IRQ_INDEX), then closes the device: QEMU can open it after.
 * Exits 1, with the failed step on stderr, if any ioctl fails.
 *
 * A C program, not ioctls from Python: the ioctl numbers and the layouts of
 * the structures come from the uapi header linux/vfio.h, not copied by hand,
 * and lib/vfio.c opens the device as the C tests do (its cdev, else its
 * group in a type1 container).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "lib/vfio.h"

int main(int argc, char **argv)
{
	struct vfio_device_info dev = { .argsz = sizeof(dev) };
	struct vfio_handle h;
	char err[512];
	unsigned int i;
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s UUID\n", argv[0]);
		return 2;
	}
	if (vfio_open(&h, argv[1], err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", argv[1], err);
		return 1;
	}
	if (ioctl(h.device, VFIO_DEVICE_GET_INFO, &dev)) {
		fprintf(stderr, "VFIO_DEVICE_GET_INFO: %s\n", strerror(errno));
		ret = 1;
		dev.num_regions = dev.num_irqs = 0;
	}
	for (i = 0; i < dev.num_regions; i++) {
		struct vfio_region_info r = { .argsz = sizeof(r), .index = i };

		if (ioctl(h.device, VFIO_DEVICE_GET_REGION_INFO, &r)) {
			fprintf(stderr, "VFIO_DEVICE_GET_REGION_INFO %u: %s\n", i,
				strerror(errno));
			ret = 1;
			continue;
		}
		printf("region %u size %llu flags 0x%x\n", i, (unsigned long long)r.size,
		       r.flags);
	}
	for (i = 0; i < dev.num_irqs; i++) {
		struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = i };

		if (ioctl(h.device, VFIO_DEVICE_GET_IRQ_INFO, &irq)) {
			fprintf(stderr, "VFIO_DEVICE_GET_IRQ_INFO %u: %s\n", i, strerror(errno));
			ret = 1;
			continue;
		}
		printf("irq %u count %u flags 0x%x\n", i, irq.count, irq.flags);
	}
	i = -vfio_close(&h);
	if (i) {
		fprintf(stderr, "close: %s\n", strerror(i));
		ret = 1;
	}
	return ret;
}
