/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmaverify: differences between kernel versions, decided by the Kbuild-time
 * probes of scripts/compat-probe (compat-autoconf.h), never by version
 * numbers.
 */
#ifndef DMAVERIFY_COMPAT_H
#define DMAVERIFY_COMPAT_H

#include <linux/device.h>
#include <linux/dma-map-ops.h>

#include "compat-autoconf.h"

/*
 * Without per-device dma_ops (no CONFIG_ARCH_HAS_DMA_OPS, CONFIG_DMA_OPS
 * before 6.x) the interposer is built but never used: get_dma_ops() and
 * set_dma_ops() are stubs, and every device is observed (observe.c).
 */

#if !defined(DMAVERIFY_HAVE_OPS_MAP_PAGE) && !defined(DMAVERIFY_HAVE_OPS_MAP_PHYS)
#error "struct dma_map_ops has neither map_page nor map_phys"
#endif

/*
 * Since 6.12 an iommu-dma device is flagged by dev->dma_iommu and the core
 * calls iommu-dma directly, before looking at dma_ops; 7.x reads the flag
 * through generated accessors.
 */
static inline bool dv_dma_iommu(struct device *dev)
{
#if defined(DMAVERIFY_HAVE_DEV_DMA_IOMMU_ACCESSOR)
	return dev_dma_iommu(dev);
#elif defined(DMAVERIFY_HAVE_DEV_DMA_IOMMU_FIELD)
	return dev->dma_iommu;
#else
	return false;
#endif
}

static inline void dv_set_dma_iommu(struct device *dev, bool on)
{
#if defined(DMAVERIFY_HAVE_DEV_DMA_IOMMU_ACCESSOR)
	dev_assign_dma_iommu(dev, on);
#elif defined(DMAVERIFY_HAVE_DEV_DMA_IOMMU_FIELD)
	dev->dma_iommu = on;
#endif
}

/*
 * Since 6.12 the dma_sync_*() wrappers are inline and skip the call when
 * dma_skip_sync is set: the verified device must have it clear, or syncs
 * never reach dmaverify (and a bounced buffer would go stale).
 */
static inline void dv_clear_skip_sync(struct device *dev)
{
#if defined(DMAVERIFY_HAVE_DEV_DMA_SKIP_SYNC_ACCESSOR)
	dev_assign_dma_skip_sync(dev, false);
#elif defined(DMAVERIFY_HAVE_DEV_DMA_SKIP_SYNC_FIELD)
	dev->dma_skip_sync = false;
#endif
}

/*
 * The MMC core's struct mmc_driver, private to it (drivers/mmc/core/bus.h)
 * and the same from 6.1 to 7.x; mmc_register_driver() is exported, but
 * declared there only.  mmc.c registers one to learn the MMC bus.
 */
struct mmc_card;
struct mmc_driver;

struct dv_mmc_driver {
	struct device_driver drv;
	int (*probe)(struct mmc_card *card);
	void (*remove)(struct mmc_card *card);
	void (*shutdown)(struct mmc_card *card);
};

int mmc_register_driver(struct mmc_driver *drv);
void mmc_unregister_driver(struct mmc_driver *drv);

/* Claiming a host, exported, declared in drivers/mmc/core/core.h (samples). */
struct mmc_ctx;
struct mmc_host;
int __mmc_claim_host(struct mmc_host *host, struct mmc_ctx *ctx, atomic_t *abort);
void mmc_release_host(struct mmc_host *host);

#endif /* DMAVERIFY_COMPAT_H */
