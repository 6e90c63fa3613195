// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_dma_sample: a virtio driver for QEMU's virtio-rng device with a
 * switchable DMA bug, to show dmaverify verifying a driver that does its
 * DMA through a virtio transport (indirect DMA).
 *
 * The driver never calls the DMA API: virtio_ring maps the buffers it adds
 * to its virtqueue on the transport's device (virtio-pci).  At probe it
 * reads random bytes from the device twice; the "bug" parameter:
 *
 *   none      correct use (the default)
 *   leak-map  removes the virtqueue with a buffer still on it (neither
 *             taken back with virtqueue_get_buf() nor detached): its
 *             mapping leaks
 *
 * The device must offer VIRTIO_F_ACCESS_PLATFORM (QEMU: iommu_platform=on),
 * otherwise virtio_ring does not use the DMA API at all.  virtio_rng must
 * not have the device.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#define BUF	64

static char *bug = "none";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "none or leak-map");

struct sample {
	struct virtqueue *vq;
	struct completion done;
	void *kept;		/* bug=leak-map: left on the virtqueue. */
};

static void done(struct virtqueue *vq)
{
	struct sample *s = vq->vdev->priv;

	complete(&s->done);
}

/* Add a buffer for the device to fill, and wait for it. */
static noinline int sample_fill(struct sample *s, void *buf, bool wait)
{
	struct scatterlist sg;
	unsigned int len;
	int ret;

	sg_init_one(&sg, buf, BUF);
	reinit_completion(&s->done);
	ret = virtqueue_add_inbuf(s->vq, &sg, 1, buf, GFP_KERNEL);
	if (ret)
		return ret;
	virtqueue_kick(s->vq);
	if (!wait)
		return 0;
	if (!wait_for_completion_timeout(&s->done, HZ))
		return -ETIMEDOUT;
	return virtqueue_get_buf(s->vq, &len) == buf ? 0 : -EIO;
}

static int sample_probe(struct virtio_device *vdev)
{
	struct sample *s = kzalloc(sizeof(*s), GFP_KERNEL);
	void *buf;
	int ret;

	if (!s)
		return -ENOMEM;
	init_completion(&s->done);
	vdev->priv = s;
	s->vq = virtio_find_single_vq(vdev, done, "input");
	if (IS_ERR(s->vq)) {
		ret = PTR_ERR(s->vq);
		kfree(s);
		return ret;
	}
	virtio_device_ready(vdev);
	buf = kmalloc(BUF, GFP_KERNEL);
	ret = buf ? sample_fill(s, buf, true) : -ENOMEM;
	if (!ret)
		ret = sample_fill(s, buf, true);
	kfree(buf);
	dev_info(&vdev->dev, "two reads of %d random bytes: %d; bug=%s\n", BUF,
		 ret, bug);
	if (!strcmp(bug, "leak-map")) {
		s->kept = kmalloc(BUF, GFP_KERNEL);
		if (s->kept && sample_fill(s, s->kept, false)) {
			kfree(s->kept);
			s->kept = NULL;
		}
	}
	return 0;
}

static void sample_remove(struct virtio_device *vdev)
{
	struct sample *s = vdev->priv;
	unsigned int len;
	void *buf;

	virtio_reset_device(vdev);
	if (strcmp(bug, "leak-map")) {
		while ((buf = virtqueue_get_buf(s->vq, &len)))
			kfree(buf);
		while ((buf = virtqueue_detach_unused_buf(s->vq)))
			kfree(buf);
	}
	/* bug=leak-map: s->kept is still mapped when the queue goes. */
	vdev->config->del_vqs(vdev);
	kfree(s->kept);
	kfree(s);
}

static const struct virtio_device_id sample_ids[] = {
	{ VIRTIO_ID_RNG, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static struct virtio_driver sample_driver = {
	.driver.name = KBUILD_MODNAME,
	.id_table = sample_ids,
	.probe = sample_probe,
	.remove = sample_remove,
};
module_virtio_driver(sample_driver);

MODULE_DESCRIPTION("A virtio driver with a switchable DMA bug, for dmaverify");
MODULE_LICENSE("GPL");
