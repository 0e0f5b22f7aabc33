// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for driving a dsa_mdev device.  See dsa_mdev_dev.h; the helpers
 * that assert are there, static inline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "dsa_mdev_dev.h"

/* --- what dsa_mdev's model defines -------------------------------------- */

/* The smallest power of two not below @v. */
static uint64_t pow2_ceil(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/*
 * BAR0: the registers, the WQCFG table, then the MSI-X table and PBA in
 * the page after it; BAR2: the portals; one vector for the device and one
 * per WQ, at most MAX_VECTORS.
 */
struct layout layout_for(unsigned int wqs)
{
	uint64_t table = (WQCFG_TABLE + (uint64_t)wqs * WQCFG_BYTES + 0xfff) & ~0xfffULL;

	return (struct layout){
		.bar0_size = pow2_ceil(table + 0x1000),
		.bar2_size = pow2_ceil((uint64_t)wqs * PORTAL_STRIDE),
		.vectors = 1 + (wqs < MAX_VECTORS - 1 ? wqs : MAX_VECTORS - 1),
		.msix_table = table,
		.msix_pba = table + 0x800,
	};
}

/* --- regions and the DMA space ------------------------------------------ */

/* VFIO_PCI_INDEX_TO_OFFSET(). */
uint64_t region_offset(unsigned int index)
{
	return (uint64_t)index << 40;
}

/* IOVA + @off. */
uint64_t iova_of(size_t off)
{
	return IOVA + off;
}

/* The records are 32 bytes apart from CR_OFF on. */
uint64_t cr_iova(unsigned int slot)
{
	return iova_of(CR_OFF + 32 * slot);
}

/* A xorshift32 sequence, the top byte of each step. */
void fill(void *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761U + 1;
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x >> 24;
	}
}

/* --- descriptors -------------------------------------------------------- */

/* All other fields zero. */
struct dsa_hw_desc mkdesc(uint8_t opcode, uint32_t flags, uint64_t addr1, uint64_t addr2,
			  uint32_t size)
{
	struct dsa_hw_desc desc;

	memset(&desc, 0, sizeof(desc));
	desc.opcode = opcode;
	desc.flags = flags;
	desc.src_addr = addr1;	/* pattern, desc_list_addr */
	desc.dst_addr = addr2;	/* src2_addr, comp_pattern */
	desc.xfer_size = size;	/* desc_count */
	return desc;
}

/* Bit by bit: speed does not matter here. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	int bit;

	while (len--) {
		crc ^= *p++;
		for (bit = 0; bit < 8; bit++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return crc;
}

/* --- interrupts --------------------------------------------------------- */

/* One poll(), then one read() of the eventfd's counter. */
uint64_t signalled(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t count = 0;

	if (poll(&p, 1, timeout_ms) != 1 || read(fd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}
