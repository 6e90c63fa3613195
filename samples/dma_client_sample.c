// SPDX-License-Identifier: GPL-2.0
/*
 * dma_client_sample: a dmaengine client with switchable bugs, for
 * dmaverify's tests.
 *
 * It registers a platform device and its driver (both named by @driver),
 * whose probe requests a memcpy channel (dma_request_chan_by_mask()), maps
 * its buffers on the channel's DMA device (dmaengine_get_dma_device()) and
 * copies @transfers buffers through it, checking the data.  It also cancels
 * a transfer with dmaengine_terminate_sync() and one with
 * dmaengine_terminate_async() + dmaengine_synchronize(), correctly.  Remove
 * releases the channel.  bug= makes it break one rule:
 *
 *   none                  correct use (the default)
 *   leak-channel          remove does not release the channel
 *   double-release        remove releases it twice
 *   use-after-release     remove issues pending descriptors after release
 *   unmap-in-flight       probe unmaps buffers of a transfer in flight
 *   terminate-no-sync     probe unmaps after dmaengine_terminate_async()
 *                         without dmaengine_synchronize()
 *   double-submit         probe submits a descriptor twice
 *   leak-mapping          probe leaves a buffer mapped on the channel's
 *                         DMA device
 *
 * Functions are named dvc_*: a name starting with "dma_" would be taken for
 * the DMA core's in reports.
 */

#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>

static char *driver = "dma_client_sample";
module_param(driver, charp, 0444);
MODULE_PARM_DESC(driver, "name of the platform driver and device (default dma_client_sample)");

static char *bug = "none";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "the rule to break: none, leak-channel, double-release, use-after-release, unmap-in-flight, terminate-no-sync, double-submit, leak-mapping");

static unsigned int transfers = 3;
module_param(transfers, uint, 0444);
MODULE_PARM_DESC(transfers, "checked copies at probe (default 3)");

#define LEN 4096

static struct platform_device *dvc_pdev;
static struct platform_driver dvc_driver;

static bool is_bug(const char *name)
{
	return !strcmp(bug, name);
}

/* One copy's buffers, mapped on the channel's DMA device. */
struct dvc_xfer {
	struct device *dev;
	u8 *src, *dst;
	dma_addr_t src_dma, dst_dma;
	struct completion done;
	dma_cookie_t cookie;
};

static void dvc_done(void *arg)
{
	complete(arg);
}

static int dvc_map(struct dma_chan *chan, struct dvc_xfer *x, u8 seed)
{
	int i;

	memset(x, 0, sizeof(*x));
	init_completion(&x->done);
	x->dev = dmaengine_get_dma_device(chan);
	x->src = kmalloc(LEN, GFP_KERNEL);
	x->dst = kzalloc(LEN, GFP_KERNEL);
	if (!x->src || !x->dst)
		goto err;
	for (i = 0; i < LEN; i++)
		x->src[i] = seed + i * 7;
	x->src_dma = dma_map_single(x->dev, x->src, LEN, DMA_TO_DEVICE);
	if (dma_mapping_error(x->dev, x->src_dma))
		goto err;
	x->dst_dma = dma_map_single(x->dev, x->dst, LEN, DMA_FROM_DEVICE);
	if (dma_mapping_error(x->dev, x->dst_dma)) {
		dma_unmap_single(x->dev, x->src_dma, LEN, DMA_TO_DEVICE);
		goto err;
	}
	return 0;
err:
	kfree(x->src);
	kfree(x->dst);
	return -ENOMEM;
}

static void dvc_unmap(struct dvc_xfer *x)
{
	dma_unmap_single(x->dev, x->src_dma, LEN, DMA_TO_DEVICE);
	dma_unmap_single(x->dev, x->dst_dma, LEN, DMA_FROM_DEVICE);
}

static void dvc_free(struct dvc_xfer *x)
{
	kfree(x->src);
	kfree(x->dst);
}

/* Prepare, submit (twice with bug=double-submit) and issue one copy. */
static int dvc_start(struct dma_chan *chan, struct dvc_xfer *x)
{
	struct dma_async_tx_descriptor *tx;

	tx = dmaengine_prep_dma_memcpy(chan, x->dst_dma, x->src_dma, LEN,
				       DMA_PREP_INTERRUPT | DMA_CTRL_ACK);
	if (!tx)
		return -EIO;
	tx->callback = dvc_done;
	tx->callback_param = &x->done;
	x->cookie = dmaengine_submit(tx);
	if (dma_submit_error(x->cookie))
		return -EIO;
	if (is_bug("double-submit"))
		x->cookie = dmaengine_submit(tx);
	dma_async_issue_pending(chan);
	return 0;
}

static int dvc_wait(struct dma_chan *chan, struct dvc_xfer *x)
{
	if (!wait_for_completion_timeout(&x->done, msecs_to_jiffies(5000)))
		return -ETIMEDOUT;
	if (dma_async_is_tx_complete(chan, x->cookie, NULL, NULL) != DMA_COMPLETE)
		return -EIO;
	return 0;
}

/* A checked copy; the bugs of the transfer path happen here. */
static noinline int dvc_copy(struct dma_chan *chan, u8 seed)
{
	struct dvc_xfer x;
	int ret;

	ret = dvc_map(chan, &x, seed);
	if (ret)
		return ret;
	ret = dvc_start(chan, &x);
	if (ret) {
		dvc_unmap(&x);
		dvc_free(&x);
		return ret;
	}
	if (is_bug("unmap-in-flight")) {
		/* The bug: the copy is still running. */
		dvc_unmap(&x);
		ret = dvc_wait(chan, &x);
		dvc_free(&x);
		return ret;
	}
	if (is_bug("leak-mapping") && !seed) {
		ret = dvc_wait(chan, &x);
		/* The bug: the source stays mapped (and allocated). */
		dma_unmap_single(x.dev, x.dst_dma, LEN, DMA_FROM_DEVICE);
		kfree(x.dst);
		return ret;
	}
	if (is_bug("terminate-no-sync")) {
		dmaengine_terminate_async(chan);
		/* The bug: the copy may still be running. */
		dvc_unmap(&x);
		dmaengine_synchronize(chan);
		dvc_free(&x);
		return 0;
	}
	ret = dvc_wait(chan, &x);
	dvc_unmap(&x);
	if (!ret && memcmp(x.src, x.dst, LEN))
		ret = -EILSEQ;
	dvc_free(&x);
	return ret;
}

/* A copy cancelled correctly: terminated (and synchronized) before unmap. */
static noinline int dvc_cancel(struct dma_chan *chan, bool async)
{
	struct dvc_xfer x;
	int ret;

	ret = dvc_map(chan, &x, 0x5a);
	if (ret)
		return ret;
	ret = dvc_start(chan, &x);
	if (async) {
		dmaengine_terminate_async(chan);
		dmaengine_synchronize(chan);
	} else {
		dmaengine_terminate_sync(chan);
	}
	dvc_unmap(&x);
	dvc_free(&x);
	return ret;
}

/* The driver's release (a devres action, so that no remove() is needed). */
static void dvc_remove(void *arg)
{
	struct dma_chan *chan = arg;

	if (is_bug("leak-channel"))
		return;
	dma_release_channel(chan);
	if (is_bug("double-release"))
		dma_release_channel(chan);
	if (is_bug("use-after-release"))
		dma_async_issue_pending(chan);
}

static int dvc_probe(struct platform_device *pdev)
{
	struct dma_chan *chan;
	dma_cap_mask_t mask;
	unsigned int i;
	int ret;

	dma_cap_zero(mask);
	dma_cap_set(DMA_MEMCPY, mask);
	chan = dma_request_chan_by_mask(&mask);
	if (IS_ERR(chan))
		return dev_err_probe(&pdev->dev, PTR_ERR(chan), "no memcpy channel\n");
	platform_set_drvdata(pdev, chan);
	for (i = 0; i < transfers; i++) {
		ret = dvc_copy(chan, i);
		if (ret)
			goto err;
	}
	if (is_bug("none")) {
		ret = dvc_cancel(chan, false);
		if (!ret)
			ret = dvc_cancel(chan, true);
		if (ret)
			goto err;
	}
	dev_info(&pdev->dev, "%u DMA copies verified on %s (bug=%s)\n",
		 transfers, dma_chan_name(chan), bug);
	return devm_add_action_or_reset(&pdev->dev, dvc_remove, chan);
err:
	dev_err(&pdev->dev, "DMA copy failed: %d\n", ret);
	dma_release_channel(chan);
	return ret;
}

static int __init dvc_init(void)
{
	struct platform_device_info info = {
		.id = PLATFORM_DEVID_NONE,
		.dma_mask = DMA_BIT_MASK(64),
	};
	int ret;

	dvc_driver.probe = dvc_probe;
	dvc_driver.driver.name = driver;
	ret = platform_driver_register(&dvc_driver);
	if (ret)
		return ret;
	info.name = driver;
	dvc_pdev = platform_device_register_full(&info);
	if (IS_ERR(dvc_pdev)) {
		platform_driver_unregister(&dvc_driver);
		return PTR_ERR(dvc_pdev);
	}
	return 0;
}

static void __exit dvc_exit(void)
{
	platform_device_unregister(dvc_pdev);
	platform_driver_unregister(&dvc_driver);
}

module_init(dvc_init);
module_exit(dvc_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dmaengine client with switchable bugs, for dmaverify's tests");
