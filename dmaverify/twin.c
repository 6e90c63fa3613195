// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: twin devices.
 *
 * dmaverify cannot call dma-direct or iommu-dma itself (neither is exported)
 * and must not guess which of them a device uses.  So at attach it gives the
 * device a twin: an unregistered struct device (inside a copy of its struct
 * pci_dev, for a PCI device) that carries the device's original DMA
 * personality (its dma_ops, iommu-dma flag, masks, DMA ranges, parameters,
 * swiotlb pool, IOMMU group).  The verified device gets
 * dmaverify's ops, and every callback forwards through the public DMA API on
 * the twin, which dispatches exactly as the device would have.
 *
 * Borrowed pointers (DMA range map, IOMMU group and data, DMA parameters)
 * are not owned by the twin and are cleared before it is put: the device's
 * release would otherwise free them (device_release() kfree()s
 * dma_range_map).
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/cc_platform.h>
#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>

#include "dmaverify.h"

static void twin_release(struct device *twin)
{
	kfree(twin);
}

#ifdef CONFIG_PCI
static void pci_twin_release(struct device *twin)
{
	kfree(to_pci_dev(twin));
}
#endif

/*
 * A twin, initialised.  The twin of a PCI device is a PCI device too: DMA
 * code asks dev_is_pci() and reads the struct pci_dev behind it.  iommu-dma
 * before 6.5 tries a 32-bit IOVA first only for PCI devices (a twin that is
 * not one gets IOVAs at the top of the IOMMU's aperture), dev_is_untrusted()
 * reads pci_dev->untrusted, PCI peer-to-peer measures the distance between
 * PCI devices.  So it is a copy of the device's struct pci_dev whose
 * embedded struct device is made anew: read by that code, never registered,
 * never on any of the PCI core's lists.
 */
static struct device *twin_alloc(struct device *dev)
{
	struct device *twin;

#ifdef CONFIG_PCI
	if (dev_is_pci(dev)) {
		struct pci_dev *pdev = kmemdup(to_pci_dev(dev), sizeof(*pdev),
					       GFP_KERNEL);

		if (!pdev)
			return NULL;
		twin = &pdev->dev;
		memset(twin, 0, sizeof(*twin));
		device_initialize(twin);
		twin->bus = &pci_bus_type;
		twin->release = pci_twin_release;
		return twin;
	}
#endif
	twin = kzalloc(sizeof(*twin), GFP_KERNEL);
	if (!twin)
		return NULL;
	device_initialize(twin);
	twin->release = twin_release;
	return twin;
}

/**
 * dmaverify_twin_refresh() - copy the fields a driver may change
 * @twin: the twin
 * @dev: the verified device
 *
 * The streaming mask is shared by pointer, so dma_set_mask() on the device
 * is seen at once; a driver may still point dma_mask elsewhere, or change
 * the coherent mask, the bus limit or its DMA parameters.
 */
void dmaverify_twin_refresh(struct device *twin, struct device *dev)
{
	twin->dma_mask = dev->dma_mask;
	twin->coherent_dma_mask = dev->coherent_dma_mask;
	twin->bus_dma_limit = dev->bus_dma_limit;
	twin->dma_parms = dev->dma_parms;
	twin->dma_range_map = dev->dma_range_map;
}

/**
 * dmaverify_twin_create() - make the twin of a device about to be verified
 * @dev: the device, with its original DMA personality still in place
 * @orig_ops: @dev's dma_ops
 * @orig_iommu: @dev's iommu-dma flag
 *
 * Context: process context; @dev is locked by the driver core.
 * Return: the twin, or NULL.
 */
struct device *dmaverify_twin_create(struct device *dev,
				     const struct dma_map_ops *orig_ops,
				     bool orig_iommu)
{
	/* Initialised: its own swiotlb pool list and lock, among others. */
	struct device *twin = twin_alloc(dev);

	if (!twin)
		return NULL;
	/* Kernel messages about the twin (swiotlb, IOMMU) name the real device. */
	if (dev_set_name(twin, "%s", dev_name(dev))) {
		put_device(twin);
		return NULL;
	}
	dmaverify_twin_refresh(twin, dev);
#ifdef CONFIG_DMA_CMA
	twin->cma_area = dev->cma_area;
#endif
#ifdef CONFIG_SWIOTLB
	twin->dma_io_tlb_mem = dev->dma_io_tlb_mem;
#endif
#if defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_DEVICE) || \
	defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU) || \
	defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU_ALL)
	twin->dma_coherent = dev->dma_coherent;
#endif
#ifdef CONFIG_DMA_OPS_BYPASS
	twin->dma_ops_bypass = dev->dma_ops_bypass;
#endif
	set_dev_node(twin, dev_to_node(dev));
	twin->iommu_group = dev->iommu_group;
#ifdef CONFIG_IOMMU_API
	twin->iommu = dev->iommu;
#endif
	set_dma_ops(twin, orig_ops);
	dv_set_dma_iommu(twin, orig_iommu);
	return twin;
}

/**
 * dmaverify_twin_direct() - whether a twin maps by plain dma-direct
 * @twin: the twin, as dmaverify_twin_create() made it
 *
 * Plain: no dma_map_ops, no IOMMU, a cache-coherent device, no forced
 * bouncing through the swiotlb and no memory encryption.  Such a device's
 * streaming map of RAM it reaches is phys_to_dma() and nothing else, and
 * an unmap or sync of it does nothing.  None of this changes while the
 * twin lives (the masks, which may, are read at each map).
 *
 * Return: true if ops.c may forward such calls in place.
 */
bool dmaverify_twin_direct(struct device *twin)
{
	if (!IS_ENABLED(CONFIG_ARCH_DMA_ADDR_T_64BIT) || get_dma_ops(twin) ||
	    dv_dma_iommu(twin) || !dev_is_dma_coherent(twin) ||
	    is_swiotlb_force_bounce(twin) || cc_platform_has(CC_ATTR_MEM_ENCRYPT))
		return false;
	return true;
}

/**
 * dmaverify_twin_release() - the device's driver is gone
 * @twin: the twin
 *
 * The driver core is about to free the device's DMA range map; the twin
 * stops borrowing it.  Calls after this (use after release) are still
 * forwarded, with the device's post-unbind personality.
 */
void dmaverify_twin_release(struct device *twin)
{
	twin->dma_range_map = NULL;
}

/**
 * dmaverify_twin_destroy() - drop a twin
 * @twin: the twin
 */
void dmaverify_twin_destroy(struct device *twin)
{
	twin->dma_range_map = NULL;
	twin->dma_parms = NULL;
	twin->iommu_group = NULL;
#ifdef CONFIG_IOMMU_API
	twin->iommu = NULL;
#endif
	put_device(twin);
}
