// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: MMC/SD card drivers (mmc_block, whose driver is "mmcblk")
 * verified through their host.
 *
 * A card driver never calls the DMA API: it queues requests, and the host
 * driver (sdhci-pci, ...) maps their data on the host's device
 * (mmc_dev(host), the PCI function) with dma_map_sg(), and allocates its
 * descriptor tables there.  A host (a slot) carries one card, so while
 * the card's driver is bound every DMA call on the host's device is made
 * on its behalf (whole.c): the card's own requests, and those the MMC core
 * sends the card meanwhile (retuning, a re-initialisation after an error),
 * which are the driver's as far as the host can tell.  The host's own
 * buffers, allocated at its probe, come before and are not attributed.
 *
 * Not attributed, and said so: a PCI function with several slots (several
 * hosts on one device: sdhci-pci can have up to 6), and kernels without
 * per-device dma_map_ops.  Hosts that do their DMA through a dmaengine
 * channel map on the channel's device, not the host's: nothing is seen.
 *
 * The MMC bus type is private to the MMC core: registering a driver is the
 * only way to learn it (mmc_register_driver() sets its bus).  That driver
 * is unregistered at once; the MMC core stays loaded while dmaverify is
 * (dmaverify uses its symbols).
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include "dmaverify.h"

#if IS_REACHABLE(CONFIG_MMC)
#include <linux/kallsyms.h>
#include <linux/mmc/card.h>
#include <linux/mmc/host.h>

struct host_count {
	typeof(((struct device *)NULL)->class) class;
	unsigned int n;
};

static int count_host(struct device *child, void *data)
{
	struct host_count *c = data;

	if (child->class == c->class)
		c->n++;
	return 0;
}

/* A card's DMA device: its host's (mmc_dev()), if it carries one host. */
static struct device *mmc_port(struct device *dev, const char **why)
{
	struct mmc_host *host = container_of(dev, struct mmc_card, dev)->host;
	struct host_count c = { .class = host->class_dev.class };

	device_for_each_child(mmc_dev(host), &c, count_host);
	if (c.n > 1) {
		*why = "its device carries several SD/MMC hosts, whose DMA cannot be told apart";
		return NULL;
	}
	*why = "the host has no DMA device";
	return mmc_dev(host);
}

/*
 * mmc_register_driver() sets no owner: a card driver's module is the one
 * its probe() is in ("mmc_blk_probe [mmc_block]"), so that driver=mmc_block
 * selects "mmcblk".
 */
static const char *mmc_drv_module(struct device_driver *drv, char *buf)
{
	struct dv_mmc_driver *mdrv = container_of(drv, struct dv_mmc_driver, drv);
	char sym[KSYM_SYMBOL_LEN], *mod, *end;

	if (!mdrv->probe)
		return NULL;
	sprint_symbol_no_offset(sym, (unsigned long)mdrv->probe);
	mod = strchr(sym, '[');
	end = mod ? strpbrk(mod + 1, " ]") : NULL;
	if (!end)
		return NULL;
	*end = '\0';
	strscpy(buf, mod + 1, MODULE_NAME_LEN);
	return buf;
}

static struct dmaverify_whole_bus mmc_wb = {
	.pb.kind = "mmc-driver",
	.pb.what = "an MMC/SD card driver: its DMA is verified through its host controller",
	.port_name = "SD/MMC host",
	.port = mmc_port,
	.drv_module = mmc_drv_module,
};

static int never_probe(struct mmc_card *card)
{
	return -ENODEV;
}

static struct dv_mmc_driver dv_mmc_driver = {
	.drv.name = "dmaverify",
	.probe = never_probe,
};

static bool registered;

/**
 * dmaverify_mmc_init() - start watching MMC/SD cards
 *
 * Return: 0 (without the MMC core, nothing is watched).
 */
int dmaverify_mmc_init(void)
{
	if (mmc_register_driver((struct mmc_driver *)&dv_mmc_driver))
		return 0;
	mmc_wb.bus = dv_mmc_driver.drv.bus;
	/* Only the bus was wanted (a card it was offered meanwhile: -ENODEV). */
	mmc_unregister_driver((struct mmc_driver *)&dv_mmc_driver);
	registered = !dmaverify_whole_register(&mmc_wb);
	return 0;
}

/**
 * dmaverify_mmc_exit() - stop; forget every selected card
 *
 * Context: module unload, before the ports are detached.
 */
void dmaverify_mmc_exit(void)
{
	if (registered)
		dmaverify_whole_unregister(&mmc_wb);
	registered = false;
}

#else /* !CONFIG_MMC */

int dmaverify_mmc_init(void)
{
	return 0;
}

void dmaverify_mmc_exit(void)
{
}

#endif /* CONFIG_MMC */
