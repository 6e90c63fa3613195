// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: virtio drivers (virtio_blk, virtio_net, virtio_scsi) verified
 * through their transport.
 *
 * A virtio driver never calls the DMA API: virtio_ring maps its buffers and
 * allocates its rings on the transport's device (the virtio-pci PCI
 * function, vdev->dev.parent).  That device carries one virtio device, so
 * all its DMA is done for the one virtio driver: with that driver
 * selected, the transport becomes a port whose every call is the
 * driver's (whole.c).
 *
 * A device without VIRTIO_F_ACCESS_PLATFORM (QEMU without iommu_platform=on)
 * bypasses the DMA API, as Linux allows it to (virtio_has_dma_quirk()):
 * nothing to verify, and the log says so.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include "dmaverify.h"

#if IS_REACHABLE(CONFIG_VIRTIO)
#include <linux/virtio.h>
#include <linux/virtio_config.h>

/* A virtio device's DMA device: its transport's (a virtio-pci function). */
static struct device *vport(struct device *dev, const char **why)
{
	*why = "the transport has no DMA device";
	return dev->parent;
}

/* No VIRTIO_F_ACCESS_PLATFORM: virtio_ring uses physical addresses. */
static const char *vbypass(struct device *dev)
{
	return virtio_has_dma_quirk(dev_to_virtio(dev)) ?
	       "no VIRTIO_F_ACCESS_PLATFORM; QEMU: iommu_platform=on" : NULL;
}

static struct dmaverify_whole_bus virtio_wb = {
	.pb.kind = "virtio-driver",
	.pb.what = "a virtio driver: its DMA is verified through its transport",
	.port_name = "virtio transport",
	.port = vport,
	.bypass = vbypass,
};

static int never_probe(struct virtio_device *vdev)
{
	return -ENODEV;
}

static const struct virtio_device_id no_ids[] = { { 0 } };

/* The virtio bus type is not exported: a driver of ours says where it is. */
static struct virtio_driver dv_virtio_driver = {
	.driver.name = "dmaverify",
	.id_table = no_ids,
	.probe = never_probe,
};

static bool registered;

/**
 * dmaverify_virtio_init() - start watching virtio devices
 *
 * Return: 0 (without virtio, nothing is watched).
 */
int dmaverify_virtio_init(void)
{
	if (register_virtio_driver(&dv_virtio_driver))
		return 0;
	virtio_wb.bus = dv_virtio_driver.driver.bus;
	/* Only the bus was wanted: no device is ever offered to us. */
	unregister_virtio_driver(&dv_virtio_driver);
	registered = !dmaverify_whole_register(&virtio_wb);
	return 0;
}

/**
 * dmaverify_virtio_exit() - stop; forget every selected virtio device
 *
 * Context: module unload, before the ports are detached.
 */
void dmaverify_virtio_exit(void)
{
	if (registered)
		dmaverify_whole_unregister(&virtio_wb);
	registered = false;
}

#else /* !CONFIG_VIRTIO */

int dmaverify_virtio_init(void)
{
	return 0;
}

void dmaverify_virtio_exit(void)
{
}

#endif /* CONFIG_VIRTIO */
