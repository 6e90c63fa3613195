// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: virtio drivers (virtio_blk, virtio_net, virtio_scsi) verified
 * through their transport.
 *
 * A virtio driver never calls the DMA API: virtio_ring maps its buffers and
 * allocates its rings on the transport's device (the virtio-pci PCI
 * function, vdev->dev.parent).  That device carries one virtio device, so
 * all its DMA is done for the one virtio driver: with that driver
 * selected, the transport becomes a port (attach.c, partial mode) whose
 * every call is the driver's (@whole), verified in the driver's own
 * context, leak-checked when the driver unbinds.
 *
 * A device without VIRTIO_F_ACCESS_PLATFORM (QEMU without iommu_platform=on)
 * bypasses the DMA API, as Linux allows it to (virtio_has_dma_quirk()):
 * nothing to verify, and the log says so.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/slab.h>

#include "dmaverify.h"

#if IS_REACHABLE(CONFIG_VIRTIO)
#include <linux/virtio.h>
#include <linux/virtio_config.h>

/**
 * struct dv_vsel - a virtio device whose driver is selected
 * @node: entry in vsels
 * @dev: the virtio device
 * @ctx: the driver's context
 */
struct dv_vsel {
	struct list_head node;
	struct device *dev;
	struct dmaverify_dev *ctx;
};

static LIST_HEAD(vsels);
static DEFINE_MUTEX(vsels_lock);

static struct dv_vsel *find_vsel(struct device *dev)
{
	struct dv_vsel *v;

	lockdep_assert_held(&vsels_lock);
	list_for_each_entry(v, &vsels, node)
		if (v->dev == dev)
			return v;
	return NULL;
}

static bool vdrv_selected(struct device_driver *drv)
{
	return dmaverify_driver_selected(drv->name) ||
	       (drv->owner && dmaverify_driver_selected(module_name(drv->owner)));
}

/* Stop verifying @v and free it.  Context: vsels_lock held. */
static void vforget(struct dv_vsel *v)
{
	struct dmaverify_dev *port = v->ctx->port;

	list_del(&v->node);
	WRITE_ONCE(port->whole, NULL);
	/* Callbacks that found it run with preemption disabled (ops.c). */
	synchronize_rcu();
	dmaverify_indirect_free(v->ctx);
	put_device(v->dev);
	kfree(v);
}

/* A selected driver is about to probe a virtio device. */
static void vselect(struct device *dev)
{
	struct device *parent = dev->parent;
	struct dmaverify_dev *port;
	struct dv_vsel *v;

	if (!parent || !parent->driver || !parent->dma_mask) {
		dev_info(dev, "dmaverify: driver %s is selected, but its virtio transport has no DMA device: not verified\n",
			 dev->driver->name);
		return;
	}
	mutex_lock(&vsels_lock);
	if (find_vsel(dev))
		goto out;
	port = dmaverify_attach_port(parent);
	if (IS_ERR(port)) {
		dev_warn(dev, "dmaverify: driver %s does its DMA through %s %s, which cannot be verified for it (%s): not verified\n",
			 dev->driver->name, dev_driver_string(parent), dev_name(parent),
			 PTR_ERR(port) == -EBUSY ? "the transport is verified as a whole" :
			 PTR_ERR(port) == -EOPNOTSUPP ? "no per-device dma_map_ops in this kernel" :
			 "out of memory");
		goto out;
	}
	v = kzalloc(sizeof(*v), GFP_KERNEL);
	if (v)
		v->ctx = dmaverify_indirect_new(port, dev);
	if (!v || !v->ctx || READ_ONCE(port->whole)) {
		if (v && v->ctx)
			dmaverify_indirect_free(v->ctx);
		kfree(v);
		dev_warn(dev, "dmaverify: driver %s not verified (out of memory, or its transport carries another verified driver)\n",
			 dev->driver->name);
		goto out;
	}
	v->dev = get_device(dev);
	list_add_tail(&v->node, &vsels);
	WRITE_ONCE(port->whole, v->ctx);
out:
	mutex_unlock(&vsels_lock);
}

/* The driver probed: its features are known now. */
static void vbound(struct device *dev)
{
	struct dv_vsel *v;

	mutex_lock(&vsels_lock);
	v = find_vsel(dev);
	if (!v)
		goto out;
	if (virtio_has_dma_quirk(dev_to_virtio(dev))) {
		dev_info(dev, "dmaverify: driver %s: the device bypasses the DMA API (no VIRTIO_F_ACCESS_PLATFORM; QEMU: iommu_platform=on): its DMA cannot be verified\n",
			 v->ctx->driver);
		vforget(v);
		goto out;
	}
	dev_info(dev, "dmaverify: verifying DMA of driver %s on %s, DMA through %s %s (mode: dma_map_ops on the port: all its DMA)\n",
		 v->ctx->driver, dev_name(dev), v->ctx->port->driver,
		 dev_name(v->ctx->port->dev));
out:
	mutex_unlock(&vsels_lock);
}

/* The driver left the device (or failed to probe): check for leaks. */
static void vrelease(struct device *dev)
{
	struct dv_vsel *v;

	mutex_lock(&vsels_lock);
	v = find_vsel(dev);
	if (v) {
		dmaverify_check_leaks(v->ctx);
		WRITE_ONCE(v->ctx->state, DV_STATE_RELEASED);
		vforget(v);
	}
	mutex_unlock(&vsels_lock);
}

static int virtio_notify_bus(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	struct device *dev = data;

	switch (action) {
	case BUS_NOTIFY_BIND_DRIVER:
		if (READ_ONCE(dmaverify_enabled) && dev->driver &&
		    vdrv_selected(dev->driver))
			vselect(dev);
		break;
	case BUS_NOTIFY_BOUND_DRIVER:
		vbound(dev);
		break;
	case BUS_NOTIFY_UNBOUND_DRIVER:
	case BUS_NOTIFY_DRIVER_NOT_BOUND:
		vrelease(dev);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block virtio_bus_nb = { .notifier_call = virtio_notify_bus };

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

static typeof(dv_virtio_driver.driver.bus) virtio_bus;

/**
 * dmaverify_virtio_bus() - whether a name is a virtio driver's
 * @name: a name given to driver=
 *
 * Return: true if a driver of that name is registered on the virtio bus.
 */
bool dmaverify_virtio_bus(const char *name)
{
	typeof(virtio_bus) bus = READ_ONCE(virtio_bus);

	return bus && driver_find(name, bus);
}

/**
 * dmaverify_virtio_init() - start watching virtio devices
 *
 * Return: 0 (without virtio, nothing is watched).
 */
int dmaverify_virtio_init(void)
{
	if (register_virtio_driver(&dv_virtio_driver))
		return 0;
	if (bus_register_notifier(dv_virtio_driver.driver.bus, &virtio_bus_nb)) {
		unregister_virtio_driver(&dv_virtio_driver);
		return 0;
	}
	WRITE_ONCE(virtio_bus, dv_virtio_driver.driver.bus);
	return 0;
}

/**
 * dmaverify_virtio_exit() - stop; forget every selected virtio device
 *
 * Context: module unload, before the ports are detached.
 */
void dmaverify_virtio_exit(void)
{
	struct dv_vsel *v, *tmp;

	if (!virtio_bus)
		return;
	bus_unregister_notifier(virtio_bus, &virtio_bus_nb);
	unregister_virtio_driver(&dv_virtio_driver);
	WRITE_ONCE(virtio_bus, NULL);
	mutex_lock(&vsels_lock);
	list_for_each_entry_safe(v, tmp, &vsels, node)
		vforget(v);
	mutex_unlock(&vsels_lock);
}

#else /* !CONFIG_VIRTIO */

bool dmaverify_virtio_bus(const char *name)
{
	return false;
}

int dmaverify_virtio_init(void)
{
	return 0;
}

void dmaverify_virtio_exit(void)
{
}

#endif /* CONFIG_VIRTIO */
