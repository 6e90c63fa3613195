// SPDX-License-Identifier: GPL-2.0
/*
 * edu_sample: a driver for QEMU's "edu" device (docs/specs/edu.rst) with
 * switchable DMA bugs, to show dmaverify at work on a real DMA engine.
 *
 * The device copies between its 4 KiB internal buffer (device addresses
 * 0x40000-0x40fff) and RAM.  At probe the driver sends a pattern to the
 * device and reads it back, then commits the bug chosen by the "bug"
 * parameter:
 *
 *   none               correct use (the default)
 *   double-unmap       unmaps a streaming mapping twice
 *   double-free        frees a coherent buffer twice
 *   leak               keeps a mapping and a coherent buffer at unbind
 *   wrong-size         unmaps with a smaller size than mapped
 *   wrong-direction    unmaps with another direction
 *   sync-after-unmap   syncs a mapping after unmapping it
 *   unchecked-error    ignores dma_mapping_error() (use with fail_every)
 *   device-overrun     lets the device write 16 bytes past a 64-byte buffer
 *                      (caught with dmaverify bounce=1)
 *   write-after-unmap  lets the device write into a buffer after its unmap
 *                      (caught with dmaverify bounce=1)
 *   use-after-release  maps memory one second after the driver was unbound
 *   write-after-free   lets the device write into a coherent buffer after it
 *                      was freed (caught behind an IOMMU; never run it
 *                      without one: the device writes freed memory)
 *   virt-to-phys       gives the device virt_to_phys() of a mapped buffer
 *                      instead of its DMA address (caught behind an IOMMU;
 *                      without one it works by accident)
 *   write-to-device    lets the device write into a DMA_TO_DEVICE mapping
 *                      (caught behind an IOMMU, or with dmaverify bounce=1)
 *   iova-leak          links a buffer through the IOVA API (6.17+, behind an
 *                      IOMMU) and never unlinks it
 *   iova-sync-unlinked syncs a part of its IOVA range that it never linked
 *   iova-destroy-short destroys its IOVA range with a shorter length than it
 *                      linked: the second link stays mapped
 *
 * The device's DMA engine reaches RAM through the DMA address the driver
 * gives it, so overruns here are real device-side overruns.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/io.h>
#include <linux/iopoll.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "compat-autoconf.h"

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8

#define EDU_ID		0x00
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_COUNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_RUN	0x1
#define EDU_CMD_TO_RAM	0x2
#define EDU_BUF		0x40000
#define EDU_BUF_SIZE	4096

static char *bug = "none";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "DMA bug to commit at probe: none, double-unmap, double-free, leak, wrong-size, wrong-direction, sync-after-unmap, unchecked-error, device-overrun, write-after-unmap, use-after-release, write-after-free, virt-to-phys, write-to-device, iova-leak, iova-sync-unlinked, iova-destroy-short");

static unsigned int transfers = 1;
module_param(transfers, uint, 0444);
MODULE_PARM_DESC(transfers, "Correct round trips done at probe before the bug (default 1)");

struct edu {
	struct pci_dev *pdev;
	void __iomem *mmio;
	struct delayed_work late;	/* For use-after-release. */
};

static struct device *late_dev;

/* Run one DMA transfer and wait for it (the device's timer runs it). */
static int edu_dma(struct edu *edu, dma_addr_t ram, u64 dev_addr, u32 len,
		   bool to_ram)
{
	u64 cmd;

	writeq(to_ram ? dev_addr : ram, edu->mmio + EDU_DMA_SRC);
	writeq(to_ram ? ram : dev_addr, edu->mmio + EDU_DMA_DST);
	writeq(len, edu->mmio + EDU_DMA_COUNT);
	writeq(EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0), edu->mmio + EDU_DMA_CMD);
	return readq_poll_timeout(edu->mmio + EDU_DMA_CMD, cmd,
				  !(cmd & EDU_CMD_RUN), 1000, 5 * USEC_PER_SEC);
}

/* Send @len bytes of a pattern to the device and read them back. */
static int edu_round_trip(struct edu *edu, size_t len)
{
	struct device *dev = &edu->pdev->dev;
	u8 *out = kmalloc(len, GFP_KERNEL), *in = kzalloc(len, GFP_KERNEL);
	dma_addr_t a;
	int ret = -ENOMEM;
	size_t i;

	if (!out || !in)
		goto free;
	for (i = 0; i < len; i++)
		out[i] = i * 7 + 1;

	a = dma_map_single(dev, out, len, DMA_TO_DEVICE);
	ret = -EIO;
	if (dma_mapping_error(dev, a))
		goto free;
	ret = edu_dma(edu, a, EDU_BUF, len, false);
	dma_unmap_single(dev, a, len, DMA_TO_DEVICE);
	if (ret)
		goto free;

	a = dma_map_single(dev, in, len, DMA_FROM_DEVICE);
	ret = -EIO;
	if (dma_mapping_error(dev, a))
		goto free;
	ret = edu_dma(edu, a, EDU_BUF, len, true);
	dma_unmap_single(dev, a, len, DMA_FROM_DEVICE);
	if (!ret && memcmp(in, out, len)) {
		dev_err(dev, "data read back differs from data sent\n");
		ret = -EIO;
	}
free:
	kfree(out);
	kfree(in);
	return ret;
}

static int edu_bug_double_unmap(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	void *buf = kzalloc(256, GFP_KERNEL);
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	a = dma_map_single(dev, buf, 256, DMA_TO_DEVICE);
	if (!dma_mapping_error(dev, a)) {
		edu_dma(edu, a, EDU_BUF, 256, false);
		dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
		dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);	/* BUG */
	}
	kfree(buf);
	return 0;
}

static int edu_bug_double_free(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	dma_addr_t a;
	void *cpu = dma_alloc_coherent(dev, 4096, &a, GFP_KERNEL);

	if (!cpu)
		return -ENOMEM;
	edu_dma(edu, a, EDU_BUF, 64, true);
	dma_free_coherent(dev, 4096, cpu, a);
	dma_free_coherent(dev, 4096, cpu, a);	/* BUG */
	return 0;
}

static void *leaked_buf;

static int edu_bug_leak(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	dma_addr_t a, c;

	leaked_buf = kzalloc(512, GFP_KERNEL);
	if (!leaked_buf)
		return -ENOMEM;
	/* BUG: neither is released in edu_remove(). */
	a = dma_map_single(dev, leaked_buf, 512, DMA_FROM_DEVICE);
	if (dma_mapping_error(dev, a))
		return -EIO;
	if (!dma_alloc_coherent(dev, 8192, &c, GFP_KERNEL))
		return -ENOMEM;
	return 0;
}

#ifdef DMAVERIFY_HAVE_DMA_IOVA
static struct dma_iova_state leaked_iova;

static int edu_bug_iova_leak(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	phys_addr_t phys;
	int ret;

	leaked_buf = kzalloc(PAGE_SIZE, GFP_KERNEL);
	if (!leaked_buf)
		return -ENOMEM;
	phys = virt_to_phys(leaked_buf);
	if (!dma_iova_try_alloc(dev, &leaked_iova, phys, PAGE_SIZE)) {
		dev_info(dev, "no IOVA API on this device (no IOMMU)\n");
		return 0;
	}
	/* BUG: never unlinked nor destroyed in edu_remove(). */
	ret = dma_iova_link(dev, &leaked_iova, phys, 0, PAGE_SIZE,
			    DMA_TO_DEVICE, 0);
	if (ret)
		return ret;
	return dma_iova_sync(dev, &leaked_iova, 0, PAGE_SIZE);
}

/* Two pages linked in a range of four, then used as the bug says. */
static int edu_bug_iova_range(struct edu *edu, bool sync_unlinked)
{
	struct device *dev = &edu->pdev->dev;
	struct dma_iova_state st = {};
	phys_addr_t phys;
	int ret;

	leaked_buf = kzalloc(2 * PAGE_SIZE, GFP_KERNEL);
	if (!leaked_buf)
		return -ENOMEM;
	phys = virt_to_phys(leaked_buf);
	if (!dma_iova_try_alloc(dev, &st, phys, 4 * PAGE_SIZE)) {
		dev_info(dev, "no IOVA API on this device (no IOMMU)\n");
		return 0;
	}
	ret = dma_iova_link(dev, &st, phys, 0, PAGE_SIZE, DMA_TO_DEVICE, 0);
	if (!ret)
		ret = dma_iova_link(dev, &st, phys + PAGE_SIZE, PAGE_SIZE,
				    PAGE_SIZE, DMA_TO_DEVICE, 0);
	if (ret) {
		dma_iova_free(dev, &st);
		return ret;
	}
	if (sync_unlinked) {
		/* BUG: pages 2 and 3 of the range were never linked. */
		dma_iova_sync(dev, &st, 2 * PAGE_SIZE, 2 * PAGE_SIZE);
		dma_iova_destroy(dev, &st, 2 * PAGE_SIZE, DMA_TO_DEVICE, 0);
	} else {
		/* BUG: two pages were linked; the second stays mapped. */
		dma_iova_destroy(dev, &st, PAGE_SIZE, DMA_TO_DEVICE, 0);
	}
	return 0;
}
#else
static int edu_bug_iova_leak(struct edu *edu)
{
	dev_info(&edu->pdev->dev, "no IOVA API in this kernel\n");
	return 0;
}

static int edu_bug_iova_range(struct edu *edu, bool sync_unlinked)
{
	return edu_bug_iova_leak(edu);
}
#endif

static int edu_bug_wrong_size(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	void *buf = kzalloc(1024, GFP_KERNEL);
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	a = dma_map_single(dev, buf, 1024, DMA_FROM_DEVICE);
	if (!dma_mapping_error(dev, a)) {
		edu_dma(edu, a, EDU_BUF, 1024, true);
		dma_unmap_single(dev, a, 1000, DMA_FROM_DEVICE);	/* BUG */
	}
	kfree(buf);
	return 0;
}

static int edu_bug_wrong_direction(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	void *buf = kzalloc(128, GFP_KERNEL);
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);
	if (!dma_mapping_error(dev, a)) {
		edu_dma(edu, a, EDU_BUF, 128, true);
		dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);	/* BUG */
	}
	kfree(buf);
	return 0;
}

static int edu_bug_sync_after_unmap(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	void *buf = kzalloc(128, GFP_KERNEL);
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);
	if (!dma_mapping_error(dev, a)) {
		edu_dma(edu, a, EDU_BUF, 128, true);
		dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
		dma_sync_single_for_cpu(dev, a, 128, DMA_FROM_DEVICE);	/* BUG */
	}
	kfree(buf);
	return 0;
}

static int edu_bug_unchecked_error(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	void *buf = kzalloc(128, GFP_KERNEL);
	dma_addr_t a;
	int i;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < 4; i++) {
		/* BUG: no dma_mapping_error() check. */
		a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);
		dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
	}
	kfree(buf);
	return 0;
}

static int edu_bug_device_overrun(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	u8 *buf = kzalloc(256, GFP_KERNEL);
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	a = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);
	if (!dma_mapping_error(dev, a)) {
		/* BUG: the device is told to write 80 bytes into 64. */
		edu_dma(edu, a, EDU_BUF, 80, true);
		dma_unmap_single(dev, a, 64, DMA_FROM_DEVICE);
	}
	kfree(buf);
	return 0;
}

/*
 * The address a device-side bug has the device access, in the log: a test
 * can then show dmaverify the fault line of an IOMMU that raises none
 * (tests/sys-edu-iommu.sh, QEMU's amd-iommu).
 */
static void edu_say_addr(struct edu *edu, u64 addr)
{
	dev_info(&edu->pdev->dev, "bug '%s': the device writes at %#llx\n", bug, addr);
}

/* Not inlined: reports name it. */
static noinline int edu_bug_write_after_unmap(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	u8 *buf = kzalloc(256, GFP_KERNEL);
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	a = dma_map_single(dev, buf, 256, DMA_FROM_DEVICE);
	if (!dma_mapping_error(dev, a)) {
		dma_unmap_single(dev, a, 256, DMA_FROM_DEVICE);
		/* BUG: the device still has the address and writes to it. */
		edu_say_addr(edu, a);
		edu_dma(edu, a, EDU_BUF, 256, true);
	}
	kfree(buf);
	return 0;
}

/* Not inlined: reports name it. */
static noinline int edu_bug_write_after_free(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	dma_addr_t a;
	void *cpu;

	cpu = dma_alloc_coherent(dev, 4096, &a, GFP_KERNEL);
	if (!cpu)
		return -ENOMEM;
	dma_free_coherent(dev, 4096, cpu, a);
	/* BUG: the device still has the buffer's address and writes to it. */
	edu_say_addr(edu, a);
	edu_dma(edu, a, EDU_BUF, 256, true);
	return 0;
}

/* Not inlined: reports name it. */
static noinline int edu_bug_virt_to_phys(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	u8 *buf = kzalloc(256, GFP_KERNEL);
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	a = dma_map_single(dev, buf, 256, DMA_FROM_DEVICE);
	if (!dma_mapping_error(dev, a)) {
		/* BUG: a CPU physical address, not the DMA address @a. */
		edu_say_addr(edu, virt_to_phys(buf));
		edu_dma(edu, virt_to_phys(buf), EDU_BUF, 256, true);
		dma_unmap_single(dev, a, 256, DMA_FROM_DEVICE);
	}
	kfree(buf);
	return 0;
}

/* Not inlined: reports name it. */
static noinline int edu_bug_write_to_device(struct edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	u8 *buf = kmalloc(256, GFP_KERNEL);
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	/* Unlike what the round trips left in the device's buffer. */
	memset(buf, 0x5a, 256);
	a = dma_map_single(dev, buf, 256, DMA_TO_DEVICE);
	if (!dma_mapping_error(dev, a)) {
		/* BUG: the device may only read this mapping, and writes it. */
		edu_say_addr(edu, a);
		edu_dma(edu, a, EDU_BUF, 256, true);
		dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	}
	kfree(buf);
	return 0;
}

static void edu_late_work(struct work_struct *work)
{
	dma_addr_t a;
	void *cpu;

	/* BUG: the driver was unbound a second ago. */
	cpu = dma_alloc_coherent(late_dev, 4096, &a, GFP_KERNEL);
	if (cpu)
		dma_free_coherent(late_dev, 4096, cpu, a);
	put_device(late_dev);
	late_dev = NULL;
}

static DECLARE_DELAYED_WORK(late_work, edu_late_work);

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu *edu;
	unsigned int i;
	int ret;

	edu = devm_kzalloc(&pdev->dev, sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	edu->pdev = pdev;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	edu->mmio = pcim_iomap(pdev, 0, 0);
	if (!edu->mmio)
		return -ENOMEM;
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
	if (ret)
		return ret;
	pci_set_drvdata(pdev, edu);
	dev_info(&pdev->dev, "edu device id %#x, bug '%s'\n",
		 readl(edu->mmio + EDU_ID), bug);

	for (i = 0; i < transfers; i++) {
		ret = edu_round_trip(edu, 1 + (i * 997) % EDU_BUF_SIZE);
		if (ret) {
			dev_err(&pdev->dev, "round trip %u failed: %d\n", i, ret);
			return ret;
		}
	}
	dev_info(&pdev->dev, "%u DMA round trips verified\n", transfers);

	if (!strcmp(bug, "none") || !strcmp(bug, "use-after-release"))
		return 0;
	if (!strcmp(bug, "double-unmap"))
		return edu_bug_double_unmap(edu);
	if (!strcmp(bug, "double-free"))
		return edu_bug_double_free(edu);
	if (!strcmp(bug, "leak"))
		return edu_bug_leak(edu);
	if (!strcmp(bug, "wrong-size"))
		return edu_bug_wrong_size(edu);
	if (!strcmp(bug, "wrong-direction"))
		return edu_bug_wrong_direction(edu);
	if (!strcmp(bug, "sync-after-unmap"))
		return edu_bug_sync_after_unmap(edu);
	if (!strcmp(bug, "unchecked-error"))
		return edu_bug_unchecked_error(edu);
	if (!strcmp(bug, "device-overrun"))
		return edu_bug_device_overrun(edu);
	if (!strcmp(bug, "write-after-unmap"))
		return edu_bug_write_after_unmap(edu);
	if (!strcmp(bug, "write-after-free"))
		return edu_bug_write_after_free(edu);
	if (!strcmp(bug, "virt-to-phys"))
		return edu_bug_virt_to_phys(edu);
	if (!strcmp(bug, "write-to-device"))
		return edu_bug_write_to_device(edu);
	if (!strcmp(bug, "iova-leak"))
		return edu_bug_iova_leak(edu);
	if (!strcmp(bug, "iova-sync-unlinked"))
		return edu_bug_iova_range(edu, true);
	if (!strcmp(bug, "iova-destroy-short"))
		return edu_bug_iova_range(edu, false);
	dev_err(&pdev->dev, "unknown bug '%s'\n", bug);
	return -EINVAL;
}

static void edu_remove(struct pci_dev *pdev)
{
	if (!strcmp(bug, "use-after-release") && !late_dev) {
		late_dev = get_device(&pdev->dev);
		schedule_delayed_work(&late_work, HZ);
	}
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = "edu_sample",
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
};

static int __init edu_init(void)
{
	return pci_register_driver(&edu_driver);
}

static void __exit edu_exit(void)
{
	pci_unregister_driver(&edu_driver);
	flush_delayed_work(&late_work);
	kfree(leaked_buf);
}

module_init(edu_init);
module_exit(edu_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Driver for QEMU's edu device with switchable DMA bugs (dmaverify sample)");
