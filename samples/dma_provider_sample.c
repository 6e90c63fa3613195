// SPDX-License-Identifier: GPL-2.0
/*
 * dma_provider_sample: a software dmaengine provider for dmaverify's tests.
 *
 * QEMU's x86 machines have no dmaengine controller.  This module registers
 * one: a platform device with @channels memcpy channels, whose "hardware"
 * is a workqueue copying through the kernel's linear map (so it works only
 * where DMA addresses are physical addresses: dma-direct without an offset,
 * as on QEMU's x86 machines without an IOMMU).  Each descriptor takes
 * @delay_ms, so that a client's bugs meet descriptors in flight.
 *
 * It behaves like a virt-dma provider: cookies as the dmaengine core's
 * helpers keep them, a descriptor submitted twice moves to the end of the
 * queue with a new cookie, terminate_all drops what has not started and
 * synchronize waits for the one that has.  Its functions are named swdma_*:
 * a name starting with "dma_" would be taken for the DMA core's in reports.
 */

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#define DRV_NAME "dma_provider_sample"
#define MAX_CHANNELS 8

static unsigned int channels = 2;
module_param(channels, uint, 0444);
MODULE_PARM_DESC(channels, "memcpy channels (1-8, default 2)");

static unsigned int delay_ms = 100;
module_param(delay_ms, uint, 0644);
MODULE_PARM_DESC(delay_ms, "time each descriptor takes, in milliseconds (default 100)");

struct swdma_desc {
	struct dma_async_tx_descriptor tx;
	struct list_head node;
	dma_addr_t src, dst;
	size_t len;
};

struct swdma_chan {
	struct dma_chan chan;
	spinlock_t lock;		/* Guards the lists and the cookies. */
	struct list_head submitted;	/* Submitted, not yet issued. */
	struct list_head issued;	/* Issued, waiting for the worker. */
	struct work_struct work;
	struct dma_slave_config config;
};

struct swdma {
	struct dma_device dd;
	struct swdma_chan chans[MAX_CHANNELS];
};

static struct platform_device *swdma_pdev;

static struct swdma_chan *to_swchan(struct dma_chan *chan)
{
	return container_of(chan, struct swdma_chan, chan);
}

static struct swdma_desc *to_swdesc(struct dma_async_tx_descriptor *tx)
{
	return container_of(tx, struct swdma_desc, tx);
}

/* dma_cookie_assign(), as drivers/dma/dmaengine.h has it (lock held). */
static dma_cookie_t swdma_cookie_assign(struct dma_async_tx_descriptor *tx)
{
	struct dma_chan *chan = tx->chan;
	dma_cookie_t cookie = chan->cookie + 1;

	if (cookie < DMA_MIN_COOKIE)
		cookie = DMA_MIN_COOKIE;
	tx->cookie = cookie;
	chan->cookie = cookie;
	return cookie;
}

static dma_cookie_t swdma_tx_submit(struct dma_async_tx_descriptor *tx)
{
	struct swdma_chan *sc = to_swchan(tx->chan);
	struct swdma_desc *d = to_swdesc(tx);
	unsigned long flags;
	dma_cookie_t cookie;

	spin_lock_irqsave(&sc->lock, flags);
	cookie = swdma_cookie_assign(tx);
	/* As vchan_tx_submit(): a second submit moves the descriptor. */
	list_move_tail(&d->node, &sc->submitted);
	spin_unlock_irqrestore(&sc->lock, flags);
	return cookie;
}

static struct dma_async_tx_descriptor *
swdma_prep_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		  size_t len, unsigned long flags)
{
	struct swdma_desc *d = kzalloc(sizeof(*d), GFP_NOWAIT);

	if (!d)
		return NULL;
	dma_async_tx_descriptor_init(&d->tx, chan);
	d->tx.tx_submit = swdma_tx_submit;
	d->tx.flags = flags;
	INIT_LIST_HEAD(&d->node);
	d->src = src;
	d->dst = dst;
	d->len = len;
	return &d->tx;
}

static void swdma_issue_pending(struct dma_chan *chan)
{
	struct swdma_chan *sc = to_swchan(chan);
	unsigned long flags;

	spin_lock_irqsave(&sc->lock, flags);
	list_splice_tail_init(&sc->submitted, &sc->issued);
	spin_unlock_irqrestore(&sc->lock, flags);
	queue_work(system_unbound_wq, &sc->work);
}

/* The "hardware": one descriptor at a time, then its completion. */
static void swdma_work(struct work_struct *work)
{
	struct swdma_chan *sc = container_of(work, struct swdma_chan, work);
	struct dmaengine_result res = { .result = DMA_TRANS_NOERROR };
	dma_async_tx_callback_result cb_result;
	dma_async_tx_callback cb;
	struct swdma_desc *d;
	void *param;
	unsigned long flags;

	for (;;) {
		spin_lock_irqsave(&sc->lock, flags);
		d = list_first_entry_or_null(&sc->issued, struct swdma_desc, node);
		if (d)
			list_del_init(&d->node);
		spin_unlock_irqrestore(&sc->lock, flags);
		if (!d)
			return;
		msleep(READ_ONCE(delay_ms));
		memcpy(phys_to_virt(d->dst), phys_to_virt(d->src), d->len);
		spin_lock_irqsave(&sc->lock, flags);
		/* dma_cookie_complete() */
		sc->chan.completed_cookie = d->tx.cookie;
		d->tx.cookie = 0;
		spin_unlock_irqrestore(&sc->lock, flags);
		cb = d->tx.callback;
		cb_result = d->tx.callback_result;
		param = d->tx.callback_param;
		if (cb_result)
			cb_result(param, &res);
		else if (cb)
			cb(param);
		if (!(d->tx.flags & DMA_CTRL_REUSE))
			kfree(d);
	}
}

static enum dma_status swdma_tx_status(struct dma_chan *chan,
				       dma_cookie_t cookie,
				       struct dma_tx_state *state)
{
	struct swdma_chan *sc = to_swchan(chan);
	dma_cookie_t used, done;
	unsigned long flags;

	spin_lock_irqsave(&sc->lock, flags);
	used = chan->cookie;
	done = chan->completed_cookie;
	spin_unlock_irqrestore(&sc->lock, flags);
	dma_set_tx_state(state, done, used, 0);
	return dma_async_is_complete(cookie, done, used);
}

static int swdma_terminate_all(struct dma_chan *chan)
{
	struct swdma_chan *sc = to_swchan(chan);
	struct swdma_desc *d, *tmp;
	unsigned long flags;
	LIST_HEAD(dead);

	spin_lock_irqsave(&sc->lock, flags);
	list_splice_tail_init(&sc->submitted, &dead);
	list_splice_tail_init(&sc->issued, &dead);
	spin_unlock_irqrestore(&sc->lock, flags);
	list_for_each_entry_safe(d, tmp, &dead, node) {
		list_del(&d->node);
		kfree(d);
	}
	return 0;
}

static void swdma_synchronize(struct dma_chan *chan)
{
	flush_work(&to_swchan(chan)->work);
}

static int swdma_config(struct dma_chan *chan, struct dma_slave_config *config)
{
	to_swchan(chan)->config = *config;
	return 0;
}

static int swdma_alloc_chan_resources(struct dma_chan *chan)
{
	return 0;
}

static void swdma_free_chan_resources(struct dma_chan *chan)
{
	swdma_terminate_all(chan);
	swdma_synchronize(chan);
}

static int swdma_probe(struct platform_device *pdev)
{
	struct swdma *sw;
	unsigned int i;
	int ret;

	sw = devm_kzalloc(&pdev->dev, sizeof(*sw), GFP_KERNEL);
	if (!sw)
		return -ENOMEM;
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	INIT_LIST_HEAD(&sw->dd.channels);
	dma_cap_set(DMA_MEMCPY, sw->dd.cap_mask);
	sw->dd.dev = &pdev->dev;
	sw->dd.device_alloc_chan_resources = swdma_alloc_chan_resources;
	sw->dd.device_free_chan_resources = swdma_free_chan_resources;
	sw->dd.device_prep_dma_memcpy = swdma_prep_memcpy;
	sw->dd.device_issue_pending = swdma_issue_pending;
	sw->dd.device_tx_status = swdma_tx_status;
	sw->dd.device_terminate_all = swdma_terminate_all;
	sw->dd.device_synchronize = swdma_synchronize;
	sw->dd.device_config = swdma_config;
	sw->dd.copy_align = DMAENGINE_ALIGN_1_BYTE;
	for (i = 0; i < clamp(channels, 1U, (unsigned int)MAX_CHANNELS); i++) {
		struct swdma_chan *sc = &sw->chans[i];

		spin_lock_init(&sc->lock);
		INIT_LIST_HEAD(&sc->submitted);
		INIT_LIST_HEAD(&sc->issued);
		INIT_WORK(&sc->work, swdma_work);
		sc->chan.device = &sw->dd;
		sc->chan.cookie = DMA_MIN_COOKIE;
		sc->chan.completed_cookie = DMA_MIN_COOKIE;
		list_add_tail(&sc->chan.device_node, &sw->dd.channels);
	}
	ret = dmaenginem_async_device_register(&sw->dd);
	if (ret)
		return ret;
	dev_info(&pdev->dev, "%u memcpy channels, %u ms per descriptor\n",
		 i, delay_ms);
	return 0;
}

static struct platform_driver swdma_driver = {
	.probe = swdma_probe,
	.driver = { .name = DRV_NAME },
};

static int __init swdma_init(void)
{
	struct platform_device_info info = {
		.name = DRV_NAME,
		.id = PLATFORM_DEVID_NONE,
		.dma_mask = DMA_BIT_MASK(64),
	};
	int ret;

	ret = platform_driver_register(&swdma_driver);
	if (ret)
		return ret;
	swdma_pdev = platform_device_register_full(&info);
	if (IS_ERR(swdma_pdev)) {
		platform_driver_unregister(&swdma_driver);
		return PTR_ERR(swdma_pdev);
	}
	return 0;
}

static void __exit swdma_exit(void)
{
	platform_device_unregister(swdma_pdev);
	platform_driver_unregister(&swdma_driver);
}

module_init(swdma_init);
module_exit(swdma_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Software dmaengine provider (memcpy channels) for dmaverify's tests");
