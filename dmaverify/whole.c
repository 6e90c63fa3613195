// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: drivers verified through a port that carries their device
 * alone.
 *
 * A virtio driver's buffers are mapped by virtio_ring on the transport's
 * device (a virtio-pci function carries one virtio device); an SD card
 * driver's requests are mapped by the SD host driver on the host's device
 * (an SD slot carries one card).  With such a driver selected, the port
 * becomes a port of indirect verification (attach.c, partial mode) every
 * call of which, while the driver is bound, is the driver's (@whole in
 * &struct dmaverify_dev): verified in the driver's own context, leak-checked
 * when the driver unbinds.  The port's own DMA outside that time (what its
 * driver allocated at its probe) is forwarded untracked; its releases of
 * objects it mapped before are unknown to the driver's context and let
 * through (objects.c).
 *
 * Each bus (virtio.c, mmc.c) says how to find the bus, which device is the
 * port of a device of it, and, once the driver has probed, whether the
 * device bypasses the DMA API; this file does the rest, on the bus's
 * notifier.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/slab.h>

#include "dmaverify.h"

/**
 * struct dv_whole - a device whose driver is selected
 * @node: entry in wholes
 * @wb: its bus
 * @dev: the device (a reference is held)
 * @ctx: the driver's context
 */
struct dv_whole {
	struct list_head node;
	struct dmaverify_whole_bus *wb;
	struct device *dev;
	struct dmaverify_dev *ctx;
};

static LIST_HEAD(wholes);
static DEFINE_MUTEX(wholes_lock);

static struct dv_whole *find_whole(struct device *dev)
{
	struct dv_whole *w;

	lockdep_assert_held(&wholes_lock);
	list_for_each_entry(w, &wholes, node)
		if (w->dev == dev)
			return w;
	return NULL;
}

/* The module that registered @drv, in @buf, or NULL if unknown. */
static const char *drv_module(struct dmaverify_whole_bus *wb,
			      struct device_driver *drv, char *buf)
{
	if (drv->owner)
		return module_name(drv->owner);
	return wb->drv_module ? wb->drv_module(drv, buf) : NULL;
}

/* Whether @drv is that driver, or a driver of that module. */
static bool drv_is(struct dmaverify_whole_bus *wb, struct device_driver *drv,
		   const char *name)
{
	char buf[MODULE_NAME_LEN];
	const char *mod;

	if (dmaverify_names_eq(drv->name, name))
		return true;
	mod = drv_module(wb, drv, buf);
	return mod && dmaverify_names_eq(mod, name);
}

static bool drv_selected(struct dmaverify_whole_bus *wb, struct device_driver *drv)
{
	char buf[MODULE_NAME_LEN];
	const char *mod;

	if (dmaverify_driver_selected(drv->name))
		return true;
	mod = drv_module(wb, drv, buf);
	return mod && dmaverify_driver_selected(mod);
}

/* Stop verifying @w and free it.  Context: wholes_lock held. */
static void forget(struct dv_whole *w)
{
	struct dmaverify_dev *port = w->ctx->port;

	list_del(&w->node);
	WRITE_ONCE(port->whole, NULL);
	/* Callbacks that found it run with preemption disabled (ops.c). */
	synchronize_rcu();
	dmaverify_indirect_free(w->ctx);
	put_device(w->dev);
	kfree(w);
}

/* A selected driver is about to probe @dev. */
static void select_dev(struct dmaverify_whole_bus *wb, struct device *dev)
{
	const char *why = "it has no DMA device";
	struct device *pdev = wb->port(dev, &why);
	struct dmaverify_dev *port;
	struct dv_whole *w;

	if (!pdev || !pdev->driver || !pdev->dma_mask) {
		dev_info(dev, "dmaverify: driver %s is selected, but its %s cannot be verified for it (%s): not verified\n",
			 dev->driver->name, wb->port_name, why);
		return;
	}
	mutex_lock(&wholes_lock);
	if (find_whole(dev))
		goto out;
	port = dmaverify_attach_port(pdev);
	if (IS_ERR(port)) {
		dmaverify_port_refused(dev, pdev, "the port is verified as a whole",
				       PTR_ERR(port));
		goto out;
	}
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (w)
		w->ctx = dmaverify_indirect_new(port, dev);
	if (!w || !w->ctx || READ_ONCE(port->whole)) {
		if (w && w->ctx)
			dmaverify_indirect_free(w->ctx);
		kfree(w);
		dev_warn(dev, "dmaverify: driver %s not verified (out of memory, or its %s carries another verified driver)\n",
			 dev->driver->name, wb->port_name);
		goto out;
	}
	if (!w->ctx->module[0]) {
		char buf[MODULE_NAME_LEN];
		const char *mod = drv_module(wb, dev->driver, buf);

		if (mod)
			strscpy(w->ctx->module, mod, sizeof(w->ctx->module));
	}
	w->wb = wb;
	w->dev = get_device(dev);
	list_add_tail(&w->node, &wholes);
	WRITE_ONCE(port->whole, w->ctx);
out:
	mutex_unlock(&wholes_lock);
}

/* The driver probed: what the device does with the DMA API is known now. */
static void bound(struct device *dev)
{
	const char *bypass;
	struct dv_whole *w;

	mutex_lock(&wholes_lock);
	w = find_whole(dev);
	if (!w)
		goto out;
	bypass = w->wb->bypass ? w->wb->bypass(dev) : NULL;
	if (bypass) {
		dev_info(dev, "dmaverify: driver %s: the device bypasses the DMA API (%s): its DMA cannot be verified\n",
			 w->ctx->driver, bypass);
		forget(w);
		goto out;
	}
	dev_info(dev, "dmaverify: verifying DMA of driver %s on %s, DMA through %s %s (mode: dma_map_ops on the port: all its DMA)\n",
		 w->ctx->driver, dev_name(dev), w->ctx->port->driver,
		 dev_name(w->ctx->port->dev));
out:
	mutex_unlock(&wholes_lock);
}

/* The driver left the device (or failed to probe): check for leaks. */
static void release(struct device *dev)
{
	struct dv_whole *w;

	mutex_lock(&wholes_lock);
	w = find_whole(dev);
	if (w) {
		dmaverify_check_leaks(w->ctx);
		WRITE_ONCE(w->ctx->state, DV_STATE_RELEASED);
		forget(w);
	}
	mutex_unlock(&wholes_lock);
}

static int notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct dmaverify_whole_bus *wb = container_of(nb, struct dmaverify_whole_bus, nb);
	struct device *dev = data;

	switch (action) {
	case BUS_NOTIFY_BIND_DRIVER:
		if (READ_ONCE(dmaverify_enabled) && dev->driver &&
		    drv_selected(wb, dev->driver))
			select_dev(wb, dev);
		break;
	case BUS_NOTIFY_BOUND_DRIVER:
		bound(dev);
		break;
	case BUS_NOTIFY_UNBOUND_DRIVER:
	case BUS_NOTIFY_DRIVER_NOT_BOUND:
		release(dev);
		break;
	}
	return NOTIFY_DONE;
}

struct name_walk {
	struct dmaverify_whole_bus *wb;
	const char *name;
};

static int drv_named(struct device_driver *drv, void *data)
{
	struct name_walk *nw = data;

	return drv_is(nw->wb, drv, nw->name);
}

static bool whole_has_driver(struct dmaverify_port_bus *pb, const char *name)
{
	struct name_walk nw = {
		.wb = container_of(pb, struct dmaverify_whole_bus, pb),
		.name = name,
	};

	return bus_for_each_drv(nw.wb->bus, NULL, &nw, drv_named);
}

struct whole_walk {
	struct dmaverify_whole_bus *wb;
	struct device *devs[16];
	unsigned int n;
	const char *only;
};

static int collect(struct device *dev, void *data)
{
	struct whole_walk *walk = data;
	struct device_driver *drv = READ_ONCE(dev->driver);

	if (!drv || walk->n >= ARRAY_SIZE(walk->devs) ||
	    !(walk->only ? drv_is(walk->wb, drv, walk->only) :
			   drv_selected(walk->wb, drv)))
		return 0;
	walk->devs[walk->n++] = get_device(dev);
	return 0;
}

static int whole_rebind(struct dmaverify_port_bus *pb, const char *only)
{
	struct dmaverify_whole_bus *wb = container_of(pb, struct dmaverify_whole_bus, pb);
	struct whole_walk *walk = kzalloc(sizeof(*walk), GFP_KERNEL);
	int n;

	if (!walk)
		return -ENOMEM;
	walk->wb = wb;
	walk->only = only;
	bus_for_each_dev(wb->bus, NULL, walk, collect);
	n = dmaverify_reprobe(walk->devs, walk->n);
	kfree(walk);
	return n;
}

static int already_bound(struct device *dev, void *data)
{
	struct device_driver *drv = READ_ONCE(dev->driver);

	if (drv && drv_selected(data, drv))
		dev_info(dev, "dmaverify: driver %s was bound before dmaverify: not verified (rebind=1, or the \"rebind\" command)\n",
			 drv->name);
	return 0;
}

/**
 * dmaverify_whole_register() - watch a bus whose ports carry one device
 * @wb: the bus: @wb->bus, @wb->port and the names set by the caller
 *
 * Its selected drivers are verified from then on, and attach.c knows the
 * names of its drivers (dmaverify_register_port_bus()).
 *
 * Return: 0, or the notifier's error.
 */
int dmaverify_whole_register(struct dmaverify_whole_bus *wb)
{
	int ret;

	wb->nb.notifier_call = notify;
	ret = bus_register_notifier(wb->bus, &wb->nb);
	if (ret)
		return ret;
	wb->pb.has_driver = whole_has_driver;
	wb->pb.rebind = whole_rebind;
	dmaverify_register_port_bus(&wb->pb);
	if (!dmaverify_rebind)
		bus_for_each_dev(wb->bus, NULL, wb, already_bound);
	return 0;
}

/**
 * dmaverify_whole_unregister() - stop watching; forget the bus's devices
 * @wb: a bus dmaverify_whole_register() took
 *
 * Context: module unload, before the ports are detached.  A driver still
 * bound is not leak-checked: its objects stay valid.
 */
void dmaverify_whole_unregister(struct dmaverify_whole_bus *wb)
{
	struct dv_whole *w, *tmp;

	dmaverify_unregister_port_bus(&wb->pb);
	bus_unregister_notifier(wb->bus, &wb->nb);
	mutex_lock(&wholes_lock);
	list_for_each_entry_safe(w, tmp, &wholes, node)
		if (w->wb == wb)
			forget(w);
	mutex_unlock(&wholes_lock);
}
