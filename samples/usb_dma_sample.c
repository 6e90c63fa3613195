// SPDX-License-Identifier: GPL-2.0
/*
 * usb_dma_sample: a USB class driver for QEMU's "usb-storage" device (bulk-
 * only transport) with switchable DMA bugs, to show dmaverify verifying a
 * driver that does its DMA through a host controller driver (indirect DMA).
 *
 * The driver never calls the DMA API: its URBs are mapped by the host
 * controller driver, and its coherent buffers come from usb_alloc_coherent()
 * on the controller.  At probe it sends SCSI commands to the device (TEST
 * UNIT READY from a usb_alloc_coherent() buffer submitted with
 * URB_NO_TRANSFER_DMA_MAP, INQUIRY with kmalloc() buffers mapped by the host
 * controller driver), then commits the bug chosen by the "bug" parameter:
 *
 *   none             correct use (the default)
 *   leak-coherent    keeps a usb_alloc_coherent() buffer at disconnect
 *   double-free      frees a usb_alloc_coherent() buffer twice (a large
 *                    one: the second free is held back by dmaverify; a
 *                    double free of a small one corrupts the controller's
 *                    dma_pool, which dmaverify reports but cannot prevent)
 *   submit-unmapped  submits an URB_NO_TRANSFER_DMA_MAP URB whose buffer
 *                    it freed with usb_free_coherent() (the freed block is
 *                    still the pool's: the device reads stale memory)
 *
 * Bind it to a usb-storage device that usb-storage does not have: load it
 * with usb-storage not loaded (modprobe.blacklist=usb_storage), or unbind
 * the interface from usb-storage first.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/usb.h>

#define QEMU_VENDOR	0x46f4
#define QEMU_STORAGE	0x0001

#define CBW_LEN		31
#define CSW_LEN		13
#define CBW_SIG		0x43425355
#define CSW_SIG		0x53425355
#define BIG		8192	/* Above the controller's pools. */

static char *bug = "none";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "none, leak-coherent, double-free or submit-unmapped");

struct sample {
	struct usb_device *udev;
	unsigned int in, out;		/* Bulk pipes. */
	void *kept;			/* bug=leak-coherent: never freed. */
	dma_addr_t kept_dma;
	u32 tag;
};

static void fill_cbw(struct sample *s, u8 *cbw, u32 len, bool in, u8 op)
{
	memset(cbw, 0, CBW_LEN);
	*(__le32 *)cbw = cpu_to_le32(CBW_SIG);
	*(__le32 *)(cbw + 4) = cpu_to_le32(++s->tag);
	*(__le32 *)(cbw + 8) = cpu_to_le32(len);
	cbw[12] = in ? 0x80 : 0;
	cbw[14] = 6;			/* CDB length */
	cbw[15] = op;
	if (op == 0x12)			/* INQUIRY: allocation length */
		cbw[19] = len;
}

static void done(struct urb *urb)
{
	complete(urb->context);
}

/* Send a CBW from a buffer the driver has a DMA address for. */
static int send_dma(struct sample *s, void *buf, dma_addr_t dma)
{
	DECLARE_COMPLETION_ONSTACK(finished);
	struct urb *urb = usb_alloc_urb(0, GFP_KERNEL);
	int ret;

	if (!urb)
		return -ENOMEM;
	usb_fill_bulk_urb(urb, s->udev, s->out, buf, CBW_LEN, done, &finished);
	urb->transfer_dma = dma;
	urb->transfer_flags |= URB_NO_TRANSFER_DMA_MAP;
	ret = usb_submit_urb(urb, GFP_KERNEL);
	if (!ret) {
		if (!wait_for_completion_timeout(&finished, HZ))
			usb_kill_urb(urb);
		ret = urb->status;
	}
	usb_free_urb(urb);
	return ret;
}

static int read_csw(struct sample *s)
{
	u8 *csw = kmalloc(CSW_LEN, GFP_KERNEL);
	int len = 0, ret;

	if (!csw)
		return -ENOMEM;
	ret = usb_bulk_msg(s->udev, s->in, csw, CSW_LEN, &len, 1000);
	if (!ret && (len != CSW_LEN || le32_to_cpu(*(__le32 *)csw) != CSW_SIG))
		ret = -EPROTO;
	kfree(csw);
	return ret;
}

/* TEST UNIT READY, its CBW in a usb_alloc_coherent() buffer. */
static int test_unit_ready(struct sample *s)
{
	dma_addr_t dma;
	u8 *cbw = usb_alloc_coherent(s->udev, CBW_LEN, GFP_KERNEL, &dma);
	int ret;

	if (!cbw)
		return -ENOMEM;
	fill_cbw(s, cbw, 0, false, 0x00);
	ret = send_dma(s, cbw, dma);
	usb_free_coherent(s->udev, CBW_LEN, cbw, dma);
	return ret ?: read_csw(s);
}

/* INQUIRY, with kmalloc() buffers the host controller driver maps. */
static int inquiry(struct sample *s)
{
	u8 *cbw = kmalloc(CBW_LEN, GFP_KERNEL), *data = kzalloc(36, GFP_KERNEL);
	int len = 0, ret = -ENOMEM;

	if (!cbw || !data)
		goto out;
	fill_cbw(s, cbw, 36, true, 0x12);
	ret = usb_bulk_msg(s->udev, s->out, cbw, CBW_LEN, &len, 1000);
	if (!ret)
		ret = usb_bulk_msg(s->udev, s->in, data, 36, &len, 1000);
	if (!ret)
		ret = read_csw(s);
	if (!ret)
		pr_info("INQUIRY: %.8s %.16s\n", data + 8, data + 16);
out:
	kfree(data);
	kfree(cbw);
	return ret;
}

static noinline void bug_double_free(struct sample *s)
{
	dma_addr_t dma;
	void *buf = usb_alloc_coherent(s->udev, BIG, GFP_KERNEL, &dma);

	if (!buf)
		return;
	usb_free_coherent(s->udev, BIG, buf, dma);
	usb_free_coherent(s->udev, BIG, buf, dma);
}

static noinline void bug_submit_unmapped(struct sample *s)
{
	dma_addr_t dma;
	u8 *cbw = usb_alloc_coherent(s->udev, CBW_LEN, GFP_KERNEL, &dma);

	if (!cbw)
		return;
	fill_cbw(s, cbw, 0, false, 0x00);
	usb_free_coherent(s->udev, CBW_LEN, cbw, dma);
	/* The bug: the buffer is no longer the driver's. */
	if (!send_dma(s, cbw, dma))
		read_csw(s);
}

static int sample_probe(struct usb_interface *intf,
			const struct usb_device_id *id)
{
	struct usb_endpoint_descriptor *in, *out;
	struct sample *s;
	int ret;

	ret = usb_find_common_endpoints(intf->cur_altsetting, &in, &out, NULL, NULL);
	if (ret)
		return ret;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->udev = interface_to_usbdev(intf);
	s->in = usb_rcvbulkpipe(s->udev, usb_endpoint_num(in));
	s->out = usb_sndbulkpipe(s->udev, usb_endpoint_num(out));
	usb_set_intfdata(intf, s);

	ret = test_unit_ready(s);
	if (!ret)
		ret = inquiry(s);
	dev_info(&intf->dev, "TEST UNIT READY and INQUIRY: %d; bug=%s\n", ret, bug);

	if (!strcmp(bug, "leak-coherent"))
		s->kept = usb_alloc_coherent(s->udev, 512, GFP_KERNEL, &s->kept_dma);
	else if (!strcmp(bug, "double-free"))
		bug_double_free(s);
	else if (!strcmp(bug, "submit-unmapped"))
		bug_submit_unmapped(s);
	return 0;
}

static void sample_disconnect(struct usb_interface *intf)
{
	struct sample *s = usb_get_intfdata(intf);

	/* bug=leak-coherent: s->kept is not freed. */
	kfree(s);
}

/* No MODULE_DEVICE_TABLE: never loaded for a disk that usb-storage should have. */
static const struct usb_device_id sample_ids[] = {
	{ USB_DEVICE(QEMU_VENDOR, QEMU_STORAGE) },
	{ }
};

static struct usb_driver sample_driver = {
	.name = "usb_dma_sample",
	.probe = sample_probe,
	.disconnect = sample_disconnect,
	.id_table = sample_ids,
};
module_usb_driver(sample_driver);

MODULE_DESCRIPTION("A USB class driver with switchable DMA bugs, for dmaverify");
MODULE_LICENSE("GPL");
