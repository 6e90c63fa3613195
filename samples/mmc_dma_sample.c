// SPDX-License-Identifier: GPL-2.0
/*
 * mmc_dma_sample: an MMC/SD card driver for QEMU's sd-card with a
 * switchable DMA bug, to show dmaverify verifying a card driver whose DMA
 * is done by its host (indirect DMA).
 *
 * At probe it reads the card's first block with its own request: the host
 * driver (sdhci-pci) maps the data on the host's device, as it does for
 * mmc_block.  The "bug" parameter:
 *
 *   none      correct use (the default)
 *   leak-map  also maps a buffer on the host's device itself (as a card
 *             driver that prepares a buffer for its host might) and never
 *             unmaps it: the mapping leaks when the driver goes
 *
 * mmc_block can have no such bug (it never calls the DMA API): this sample
 * plants one on an SD card.  The card must not be bound to mmcblk.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/mmc/card.h>
#include <linux/mmc/core.h>
#include <linux/mmc/host.h>
#include <linux/mmc/mmc.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

/* struct mmc_driver and host claiming, private to the MMC core. */
#include "compat.h"

#define BLK	512

static char *bug = "none";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "none or leak-map");

/* Read block 0 with a request of our own: the host maps @buf. */
static noinline int sample_read(struct mmc_card *card, void *buf)
{
	struct mmc_request mrq = {};
	struct mmc_command cmd = {};
	struct mmc_data data = {};
	struct scatterlist sg;

	cmd.opcode = MMC_READ_SINGLE_BLOCK;
	cmd.arg = 0;
	cmd.flags = MMC_RSP_SPI_R1 | MMC_RSP_R1 | MMC_CMD_ADTC;
	data.blksz = BLK;
	data.blocks = 1;
	data.flags = MMC_DATA_READ;
	data.sg = &sg;
	data.sg_len = 1;
	sg_init_one(&sg, buf, BLK);
	mrq.cmd = &cmd;
	mrq.data = &data;
	mmc_set_data_timeout(&data, card);
	__mmc_claim_host(card->host, NULL, NULL);
	mmc_wait_for_req(card->host, &mrq);
	mmc_release_host(card->host);
	return cmd.error ? cmd.error : data.error;
}

/* bug=leak-map: a mapping of our own on the host's device, never unmapped. */
static noinline void sample_map(struct mmc_card *card, void *buf)
{
	struct device *dev = mmc_dev(card->host);
	dma_addr_t dma = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);

	if (dma_mapping_error(dev, dma))
		dev_warn(&card->dev, "cannot map the buffer\n");
}

static int sample_probe(struct mmc_card *card)
{
	void *buf = kzalloc(BLK, GFP_KERNEL);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = sample_read(card, buf);
	dev_info(&card->dev, "read block 0: %d; bug=%s\n", ret, bug);
	if (!strcmp(bug, "leak-map"))
		sample_map(card, buf);
	dev_set_drvdata(&card->dev, buf);
	return 0;
}

static void sample_remove(struct mmc_card *card)
{
	/* bug=leak-map: the memory under the leaked mapping is not freed. */
	if (strcmp(bug, "leak-map"))
		kfree(dev_get_drvdata(&card->dev));
}

static struct dv_mmc_driver sample_driver = {
	.drv.name = "mmc_dma_sample",
	.probe = sample_probe,
	.remove = sample_remove,
};

static int __init sample_init(void)
{
	return mmc_register_driver((struct mmc_driver *)&sample_driver);
}

static void __exit sample_exit(void)
{
	mmc_unregister_driver((struct mmc_driver *)&sample_driver);
}

module_init(sample_init);
module_exit(sample_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("An MMC/SD card driver with a switchable DMA bug, for dmaverify");
