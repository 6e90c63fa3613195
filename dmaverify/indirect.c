// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: indirect DMA, the DMA a driver does through a port driver.
 *
 * A USB class driver (usb-storage, uas) never calls the DMA API: the host
 * controller driver maps its URBs on the controller's device, and
 * usb_alloc_coherent() allocates on that device too.  With such a driver
 * selected, the controller becomes a "port": it gets dmaverify's
 * dma_map_ops in the partial mode (attach.c), where a call is verified only
 * if it is made on behalf of a selected driver, in that driver's own
 * context (struct dmaverify_dev with @port set: its tracker, its reports,
 * its leak check when it unbinds); every other call is forwarded untracked
 * to the controller's twin, at the cost of a counter read.
 *
 * On whose behalf a call is made is learnt from kretprobes on the USB
 * core's entry points: usb_hcd_map_urb_for_dma(), usb_hcd_unmap_urb_for_dma()
 * and the host driver's own map_urb_for_dma/unmap_urb_for_dma (xhci has
 * them), which see the URB, and usb_alloc_coherent()/usb_free_coherent(),
 * which see the USB device.  An URB is the selected driver's if it goes to
 * an endpoint of the selected interface (endpoint 0 is shared with the USB
 * core: not attributed); a coherent buffer if its device has a selected
 * interface.  While such a call runs, a "frame" says so, keyed by the task
 * (or, in interrupt context, by the CPU and the interrupt level); the ops
 * look the frame up only while one exists.
 *
 * usb_alloc_coherent() buffers are tracked at the USB level (small ones
 * come from the controller's dma_pool, whose pages are shared): leaks,
 * double frees, frees with the wrong size or address.  A URB submitted
 * with URB_NO_TRANSFER_DMA_MAP must name a buffer the driver still has:
 * one it released lately is reported (0x90).  A release through the port
 * of an address the selected driver never had is forwarded silently (the
 * port may have mapped it for itself); one it released lately is a double
 * release.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/kprobes.h>
#include <linux/list.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>

#include "dmaverify.h"

/**
 * dmaverify_indirect_new() - the context of a driver verified through a port
 * @port: the port's context (dmaverify_attach_port())
 * @dev: the device the driver is bound to (a USB interface, a virtio
 *	device), about to probe
 *
 * The context borrows the port's twin; it is listed (debugfs, stats) under
 * @dev's name.
 *
 * Context: process context.
 * Return: the context, or NULL (out of memory).
 */
struct dmaverify_dev *dmaverify_indirect_new(struct dmaverify_dev *port,
					     struct device *dev)
{
	struct dmaverify_dev *ctx = dmaverify_ctx_create(port->dev);

	if (!ctx)
		return NULL;
	ctx->port = port;
	ctx->twin = port->twin;
	ctx->probe = port->probe;
	ctx->orig_ops = port->orig_ops;
	ctx->orig_iommu = port->orig_iommu;
	ctx->direct = port->direct;
	ctx->max_map = port->max_map;
	ctx->on = get_device(dev);
	strscpy(ctx->driver, dev_driver_string(dev), sizeof(ctx->driver));
	if (dev->driver && dev->driver->owner)
		strscpy(ctx->module, module_name(dev->driver->owner),
			sizeof(ctx->module));
	mutex_lock(&dmaverify_devices_lock);
	list_add_tail(&ctx->list, &dmaverify_devices);
	mutex_unlock(&dmaverify_devices_lock);
	dmaverify_announce_dev(ctx, true);
	return ctx;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_indirect_new);

/**
 * dmaverify_indirect_free() - free a context of dmaverify_indirect_new()
 * @ctx: no port callback can find it any more
 *
 * Context: process context.
 */
void dmaverify_indirect_free(struct dmaverify_dev *ctx)
{
	/* Allocations that found it before it was unpublished (ops.c). */
	wait_var_event(&ctx->sleepers, !atomic_read(&ctx->sleepers));
	mutex_lock(&dmaverify_devices_lock);
	list_del(&ctx->list);
	mutex_unlock(&dmaverify_devices_lock);
	dmaverify_announce_dev(ctx, false);
	put_device(ctx->on);
	dmaverify_ctx_destroy(ctx);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_indirect_free);

#if IS_REACHABLE(CONFIG_USB)
#include <linux/usb.h>
#include <linux/usb/hcd.h>

/* A usb_driver's device_driver (in a struct usbdrv_wrap before 6.8). */
#ifdef DMAVERIFY_HAVE_USB_DRIVER_DRIVER
#define dv_usb_drv(d)	(&(d)->driver)
#else
#define dv_usb_drv(d)	(&(d)->drvwrap.driver)
#endif

/**
 * struct dv_sel - an interface whose driver is selected
 * @node: entry in sels (RCU)
 * @intf: the interface
 * @udev: its USB device
 * @ctx: the selected driver's context (@ctx->port: the controller's)
 * @users: frames that use @ctx now
 * @missed: calls the probes had missed when @ctx was created
 */
struct dv_sel {
	struct list_head node;
	struct usb_interface *intf;
	struct usb_device *udev;
	struct dmaverify_dev *ctx;
	atomic_t users;
	unsigned long missed;
};

static LIST_HEAD(sels);
/* Guards changes of sels, and the probes on host drivers. */
static DEFINE_MUTEX(sels_lock);
static bool indirect_on;

/* === Frames: on whose behalf the running call is made === */

/**
 * struct dv_frame - a call of the USB core for a selected driver, running
 * @node: entry in frames
 * @key: the task, or the CPU and interrupt level (frame_key())
 * @sel: the selected interface (a @sel->users reference)
 * @urb: the URB, for URB calls
 * @dma: usb_alloc_coherent(): where the DMA address is returned
 * @size: usb_alloc_coherent(): the size asked for
 * @stack: usb_alloc_coherent(): the creating stack
 * @forward: false if the port must not forward a free (a double free)
 * @pushed: in frames
 */
struct dv_frame {
	struct hlist_node node;
	unsigned long key;
	struct dv_sel *sel;
	struct urb *urb;
	dma_addr_t *dma;
	size_t size;
	unsigned long stack;
	bool forward;
	bool pushed;
};

#define FRAME_BITS 6
static struct hlist_head frames[1 << FRAME_BITS];
static DEFINE_RAW_SPINLOCK(frames_lock);
static atomic_t nr_frames = ATOMIC_INIT(0);

/*
 * A task's calls are its own wherever it runs; an interrupt's are the
 * CPU's, at its level (a softirq may be interrupted by a hardirq, which
 * must not see the softirq's frame).
 */
static unsigned long frame_key(void)
{
	unsigned long level;

	if (in_hardirq())
		level = 2;
	else if (in_serving_softirq())
		level = 1;
	else
		return (unsigned long)current;
	return ((unsigned long)raw_smp_processor_id() << 2) | level;
}

static struct dv_frame *frame_find(unsigned long key, struct dmaverify_dev *port,
				   struct urb *urb)
{
	struct dv_frame *f;

	hlist_for_each_entry(f, &frames[hash_long(key, FRAME_BITS)], node)
		if (f->key == key && (!port || f->sel->ctx->port == port) &&
		    (!urb || f->urb == urb))
			return f;
	return NULL;
}

static void frame_push(struct dv_frame *f)
{
	unsigned long flags;

	f->key = frame_key();
	raw_spin_lock_irqsave(&frames_lock, flags);
	hlist_add_head(&f->node, &frames[hash_long(f->key, FRAME_BITS)]);
	atomic_inc(&nr_frames);
	raw_spin_unlock_irqrestore(&frames_lock, flags);
	f->pushed = true;
}

static void sel_put(struct dv_sel *sel)
{
	if (atomic_dec_and_test(&sel->users))
		wake_up_var(&sel->users);
}

static void frame_pop(struct dv_frame *f)
{
	unsigned long flags;

	if (f->pushed) {
		raw_spin_lock_irqsave(&frames_lock, flags);
		hlist_del(&f->node);
		atomic_dec(&nr_frames);
		raw_spin_unlock_irqrestore(&frames_lock, flags);
		f->pushed = false;
	}
	sel_put(f->sel);
}

/**
 * dmaverify_indirect_ctx() - the selected driver a port's call is made for
 * @port: a port's context (@port->partial)
 * @forward: if not NULL, set to false when the call must not be forwarded
 *	(a coherent free the USB level found to be a double free)
 *
 * Context: any but NMI (NULL there); preemption disabled.
 * Return: the selected driver's context, or NULL: the call is the port's
 * own or another driver's, and is forwarded untracked.
 */
struct dmaverify_dev *dmaverify_indirect_ctx(struct dmaverify_dev *port,
					     bool *forward)
{
	struct dmaverify_dev *ctx = READ_ONCE(port->whole);
	struct dv_frame *f;
	unsigned long flags;

	/* A port for one driver only (virtio.c): every call is that driver's. */
	if (ctx)
		return ctx;
	if (likely(!atomic_read(&nr_frames)) || in_nmi() ||
	    !READ_ONCE(indirect_on))
		return NULL;
	raw_spin_lock_irqsave(&frames_lock, flags);
	f = frame_find(frame_key(), port, NULL);
	if (f) {
		ctx = f->sel->ctx;
		if (forward && !f->forward)
			*forward = false;
	}
	raw_spin_unlock_irqrestore(&frames_lock, flags);
	return ctx;
}

/* === Which calls are a selected driver's === */

static bool intf_selected(struct usb_interface *intf)
{
	struct dv_sel *sel;

	list_for_each_entry_rcu(sel, &sels, node)
		if (sel->intf == intf)
			return true;
	return false;
}

/*
 * The device's coherent buffers are the selected driver's: a buffer names
 * the device, not the interface, so every bound interface must be
 * selected (a composite device with another driver is not attributed).
 */
static struct dv_sel *udev_sel(struct usb_device *udev)
{
	struct usb_host_config *cfg = READ_ONCE(udev->actconfig);
	struct dv_sel *found = NULL, *sel;
	int i;

	list_for_each_entry_rcu(sel, &sels, node)
		if (sel->udev == udev) {
			found = sel;
			break;
		}
	for (i = 0; found && cfg && i < USB_MAXINTERFACES; i++) {
		struct usb_interface *intf = READ_ONCE(cfg->interface[i]);

		if (!intf)
			break;
		if (READ_ONCE(intf->dev.driver) && !intf_selected(intf))
			return NULL;
	}
	return found;
}

/* The URB goes to an endpoint of a selected interface (not endpoint 0). */
static struct dv_sel *urb_sel(struct urb *urb)
{
	struct usb_host_interface *alt;
	struct dv_sel *sel;
	int i;

	if (!usb_pipeendpoint(urb->pipe))
		return NULL;
	list_for_each_entry_rcu(sel, &sels, node) {
		if (sel->udev != urb->dev)
			continue;
		alt = READ_ONCE(sel->intf->cur_altsetting);
		for (i = 0; alt && i < alt->desc.bNumEndpoints; i++)
			if (&alt->endpoint[i] == urb->ep)
				return sel;
	}
	return NULL;
}

/**
 * dmaverify_indirect_owner() - the selected driver that has an object
 * @port: a port's context
 * @key: the DMA address (or scatterlist) a release names
 * @sg: @key is a scatterlist
 *
 * For a release through the port that no selected call is running for: a
 * probe may have missed the call, and the object must not stay tracked
 * (a false leak).  Only for keys that one driver alone can have (lists).
 *
 * Context: preemption disabled (the contexts are freed after an RCU grace
 * period).
 * Return: the context of the selected driver tracking @key, or NULL.
 */
struct dmaverify_dev *dmaverify_indirect_owner(struct dmaverify_dev *port,
					       unsigned long key, bool sg)
{
	struct dmaverify_dev *ctx = NULL;
	struct dmaverify_obj copy;
	struct dv_sel *sel;

	if (list_empty(&sels) || in_nmi() || !READ_ONCE(indirect_on))
		return NULL;
	rcu_read_lock();
	list_for_each_entry_rcu(sel, &sels, node) {
		if (sel->ctx->port != port ||
		    !dmaverify_tracker_used(&sel->ctx->tracker) ||
		    !dmaverify_lookup(&sel->ctx->tracker, key, sg, &copy))
			continue;
		ctx = sel->ctx;
		break;
	}
	rcu_read_unlock();
	return ctx;
}

/* Take a reference on @sel for a frame.  Context: RCU (kprobe handler). */
static struct dv_sel *sel_get(struct dv_sel *sel)
{
	if (sel)
		atomic_inc(&sel->users);
	return sel;
}

/* === Probes === */

static unsigned long arg(struct pt_regs *regs, unsigned int n)
{
	return regs_get_kernel_argument(regs, n);
}

static unsigned long caller_of(struct pt_regs *regs)
{
#if defined(CONFIG_X86)
	return regs_get_kernel_stack_nth(regs, 0);
#elif defined(CONFIG_ARM64)
	return procedure_link_pointer(regs);
#else
	return 0;
#endif
}

static struct dv_frame *frame_of(struct kretprobe_instance *ri)
{
	return (struct dv_frame *)ri->data;
}

static bool contains(const struct dmaverify_obj *obj, const void *arg)
{
	dma_addr_t addr = *(const dma_addr_t *)arg;

	return !dmaverify_obj_is_sg(obj) && addr >= obj->dma &&
	       addr - obj->dma < obj->size;
}

/*
 * A URB the driver mapped itself (URB_NO_TRANSFER_DMA_MAP): its buffer
 * must still be the driver's.  Only a buffer the driver released lately is
 * reported: an address never seen may be one it mapped itself.
 */
static noinline void check_submit(struct dmaverify_dev *ctx, struct urb *urb)
{
	dma_addr_t addr = urb->transfer_dma;
	struct dmaverify_report r = {
		.v = DV_SUBMIT_UNMAPPED, .ctx = ctx, .addr = addr,
		.size = urb->transfer_buffer_length,
		.dir = usb_urb_dir_in(urb) ? DMA_FROM_DEVICE : DMA_TO_DEVICE,
	};
	struct dmaverify_freed freed;
	struct dmaverify_obj copy;
	char detail[112];

	if (!dmaverify_check_on(DV_SUBMIT_UNMAPPED) ||
	    dmaverify_lookup_containing(&ctx->tracker, addr, &copy) ||
	    !dmaverify_find_freed_match(ctx, contains, &addr, &freed))
		return;
	snprintf(detail, sizeof(detail),
		 "URB_NO_TRANSFER_DMA_MAP URB to endpoint %d %s, transfer_dma %pad, %u bytes",
		 usb_pipeendpoint(urb->pipe), usb_urb_dir_in(urb) ? "in" : "out",
		 &addr, urb->transfer_buffer_length);
	r.detail = detail;
	r.obj = &freed.obj;
	r.freed = &freed;
	dmaverify_report(&r);
}

/* usb_hcd_map_urb_for_dma(hcd, urb, mem_flags) and the HCD's own. */
static int map_urb_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct usb_hcd *hcd = (struct usb_hcd *)arg(regs, 0);
	struct urb *urb = (struct urb *)arg(regs, 1);
	struct dv_frame *f = frame_of(ri);
	unsigned long flags;
	bool nested;

	if (list_empty(&sels))
		return 1;
	memset(f, 0, sizeof(*f));
	f->sel = sel_get(urb_sel(urb));
	if (!f->sel)
		return 1;
	f->urb = urb;
	f->forward = true;
	raw_spin_lock_irqsave(&frames_lock, flags);
	nested = frame_find(frame_key(), NULL, urb);
	raw_spin_unlock_irqrestore(&frames_lock, flags);
	if (!nested && (urb->transfer_flags & URB_NO_TRANSFER_DMA_MAP) &&
	    urb->transfer_buffer_length && hcd_uses_dma(hcd) &&
	    dmaverify_verifying())
		check_submit(f->sel->ctx, urb);
	frame_push(f);
	return 0;
}

/* usb_hcd_unmap_urb_for_dma(hcd, urb) and the HCD's own. */
static int unmap_urb_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct urb *urb = (struct urb *)arg(regs, 1);
	struct dv_frame *f = frame_of(ri);

	if (list_empty(&sels))
		return 1;
	memset(f, 0, sizeof(*f));
	f->sel = sel_get(urb_sel(urb));
	if (!f->sel)
		return 1;
	f->urb = urb;
	f->forward = true;
	frame_push(f);
	return 0;
}

static int frame_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	frame_pop(frame_of(ri));
	return 0;
}

/* usb_alloc_coherent(udev, size, mem_flags, dma) */
static int alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dv_frame *f = frame_of(ri);

	if (list_empty(&sels))
		return 1;
	memset(f, 0, sizeof(*f));
	f->sel = sel_get(udev_sel((struct usb_device *)arg(regs, 0)));
	if (!f->sel)
		return 1;
	f->size = arg(regs, 1);
	f->dma = (dma_addr_t *)arg(regs, 3);
	f->stack = dmaverify_verifying() ?
		   dmaverify_creator_stack(NULL, caller_of(regs)) : 0;
	return 0;
}

static int alloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dv_frame *f = frame_of(ri);
	struct dmaverify_dev *ctx = f->sel->ctx;
	void *cpu = (void *)regs_return_value(regs);
	struct dmaverify_obj *obj;
	dma_addr_t dma;

	if (cpu && f->dma && READ_ONCE(ctx->state) == DV_STATE_ATTACHED) {
		dma = *f->dma;
		/* A controller without DMA gives ~0: nothing to verify. */
		if (dma != DMA_MAPPING_ERROR) {
			obj = dmaverify_obj_new(ctx, DV_KIND_COHERENT, dma, f->size,
						DMA_BIDIRECTIONAL);
			if (obj) {
				obj->dma = dma;
				obj->phys = (unsigned long)cpu;
				obj->stack = f->stack;
				dmaverify_check_dma_addr(ctx, obj, dma, f->size, true);
				dmaverify_track_created(ctx, obj, NULL);
			}
		}
	}
	sel_put(f->sel);
	return 0;
}

/* usb_free_coherent(udev, size, addr, dma) */
static int free_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dv_frame *f = frame_of(ri);
	void *cpu = (void *)arg(regs, 2);
	struct dmaverify_obj *obj;
	bool forward = true;

	if (list_empty(&sels) || !cpu)
		return 1;
	memset(f, 0, sizeof(*f));
	f->sel = sel_get(udev_sel((struct usb_device *)arg(regs, 0)));
	if (!f->sel)
		return 1;
	obj = dmaverify_find_release(f->sel->ctx, DV_DOUBLE_FREE,
				     DV_KIND_COHERENT, arg(regs, 3), arg(regs, 1),
				     DMA_BIDIRECTIONAL, (unsigned long)cpu,
				     &forward);
	if (obj)
		dmaverify_released(f->sel->ctx, obj);
	/* A double free of a pool buffer cannot be held back (see above). */
	f->forward = obj || forward;
	frame_push(f);
	return 0;
}

/**
 * struct dv_probe - a kretprobe on a USB core or host driver function
 * @name: its symbol, or NULL for a host driver's (found by address)
 * @entry: entry handler (1: not this call)
 * @ret: return handler
 * @on: registered
 * @rp: the kretprobe
 */
struct dv_probe {
	const char *name;
	kretprobe_handler_t entry, ret;
	bool on;
	struct kretprobe rp;
};

static struct dv_probe core_probes[] = {
	{ "usb_hcd_map_urb_for_dma", map_urb_entry, frame_return },
	{ "usb_hcd_unmap_urb_for_dma", unmap_urb_entry, frame_return },
	{ "usb_alloc_coherent", alloc_entry, alloc_return },
	{ "usb_free_coherent", free_entry, frame_return },
};

/* Host drivers' own map_urb_for_dma and unmap_urb_for_dma, by address. */
#define DV_HCD_PROBES 8
static struct dv_probe hcd_probes[DV_HCD_PROBES];

static int run_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dv_probe *p = container_of(get_kretprobe(ri), struct dv_probe, rp);
	unsigned long ip = caller_of(regs);
	int ret;

	if (!READ_ONCE(indirect_on))
		return 1;
	rcu_read_lock();
	/* usb_submit_urb() calls the map: the stack has the driver above. */
	dmaverify_set_observed_caller(dmaverify_own_frame(ip) ? 0 : ip);
	ret = p->entry(ri, regs);
	dmaverify_set_observed_caller(0);
	rcu_read_unlock();
	return ret;
}

static int run_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dv_probe *p = container_of(get_kretprobe(ri), struct dv_probe, rp);

	return p->ret(ri, regs);
}

static int probe_register(struct dv_probe *p, void *addr)
{
	int ret;

	memset(&p->rp, 0, sizeof(p->rp));
	if (addr)
		p->rp.kp.addr = addr;
	else
		p->rp.kp.symbol_name = p->name;
	p->rp.entry_handler = run_entry;
	p->rp.handler = run_return;
	p->rp.data_size = sizeof(struct dv_frame);
	p->rp.maxactive = max_t(int, 64, 16 * num_possible_cpus());
	ret = register_kretprobe(&p->rp);
	p->on = !ret;
	return ret;
}

/*
 * Calls the probes missed so far: too many at once, or (kprobes do not
 * nest) from an interrupt that came while a handler ran.
 */
static unsigned long missed(void)
{
	unsigned long n = 0;
	int i;

	/* The kprobe's count (nested hits), and the kretprobe's (maxactive). */
	for (i = 0; i < ARRAY_SIZE(core_probes); i++)
		if (core_probes[i].on)
			n += READ_ONCE(core_probes[i].rp.kp.nmissed) +
			     READ_ONCE(core_probes[i].rp.nmissed);
	for (i = 0; i < DV_HCD_PROBES; i++)
		if (hcd_probes[i].on)
			n += READ_ONCE(hcd_probes[i].rp.kp.nmissed) +
			     READ_ONCE(hcd_probes[i].rp.nmissed);
	return n;
}

/*
 * Whether a call for @ctx may have been missed since it was created: a
 * release or a leak may then be one whose other half was not seen.  Only
 * USB drivers' calls are learnt from probes (virtio.c needs none).
 */
static bool lossy(struct dmaverify_dev *ctx)
{
	struct dv_sel *sel;
	bool ret = false;

	rcu_read_lock();
	list_for_each_entry_rcu(sel, &sels, node)
		if (sel->ctx == ctx)
			ret = missed() != sel->missed;
	rcu_read_unlock();
	return ret;
}

/**
 * dmaverify_indirect_released() - whether an unknown release is a violation
 * @ctx: a driver verified through a port
 * @key: the address (or list) released
 * @sg: @key is a scatterlist
 *
 * Return: true if the driver released that object lately (a double
 * release); false if it never had it (the port's own, forwarded silently).
 */
bool dmaverify_indirect_released(struct dmaverify_dev *ctx, unsigned long key,
				 bool sg)
{
	struct dmaverify_freed freed;

	if (lossy(ctx)) {
		atomic_long_inc(&ctx->unverifiable);
		return false;
	}
	return dmaverify_find_freed(ctx, key, sg, &freed);
}

/* Probe the host driver's own map/unmap_urb_for_dma.  Context: sels_lock. */
static void probe_hcd(struct usb_hcd *hcd)
{
	void *fns[2] = { hcd->driver->map_urb_for_dma,
			 hcd->driver->unmap_urb_for_dma };
	kretprobe_handler_t entries[2] = { map_urb_entry, unmap_urb_entry };
	int i, j, ret;

	for (i = 0; i < 2; i++) {
		struct dv_probe *free = NULL;

		if (!fns[i])
			continue;
		for (j = 0; j < DV_HCD_PROBES; j++) {
			if (hcd_probes[j].on &&
			    hcd_probes[j].rp.kp.addr == fns[i])
				break;
			if (!hcd_probes[j].on && !free)
				free = &hcd_probes[j];
		}
		if (j < DV_HCD_PROBES || !free)
			continue;
		free->entry = entries[i];
		free->ret = frame_return;
		ret = probe_register(free, fns[i]);
		if (ret)
			pr_warn("indirect: cannot probe %ps (%d): URBs it maps itself are not verified\n",
				fns[i], ret);
	}
}

/* === Selected interfaces === */

static bool is_interface(struct device *dev)
{
	return dev->type && dev->type->name &&
	       !strcmp(dev->type->name, "usb_interface");
}

static struct dv_sel *find_sel(struct usb_interface *intf)
{
	struct dv_sel *sel;

	lockdep_assert_held(&sels_lock);
	list_for_each_entry(sel, &sels, node)
		if (sel->intf == intf)
			return sel;
	return NULL;
}

/* A selected driver is about to probe an interface: verify it. */
static void select_intf(struct device *dev)
{
	struct usb_interface *intf = to_usb_interface(dev);
	struct usb_device *udev = interface_to_usbdev(intf);
	struct usb_hcd *hcd = bus_to_hcd(udev->bus);
	struct device *ctrl = hcd->self.sysdev;
	struct dmaverify_dev *port, *ctx;
	struct dv_sel *sel;

	if (!ctrl || !ctrl->driver) {
		dev_info(dev, "dmaverify: driver %s is selected, but its host controller has no DMA device: not verified\n",
			 dev->driver->name);
		return;
	}
	mutex_lock(&sels_lock);
	if (find_sel(intf))
		goto out;
	port = dmaverify_attach_port(ctrl);
	if (IS_ERR(port)) {
		dmaverify_port_refused(dev, ctrl, "the controller is verified as a whole",
				       PTR_ERR(port));
		goto out;
	}
	probe_hcd(hcd);
	sel = kzalloc(sizeof(*sel), GFP_KERNEL);
	ctx = sel ? dmaverify_indirect_new(port, dev) : NULL;
	if (!ctx) {
		kfree(sel);
		dev_warn(dev, "dmaverify: out of memory: driver %s not verified\n",
			 dev->driver->name);
		goto out;
	}
	sel->intf = intf;
	sel->udev = udev;
	sel->ctx = ctx;
	sel->missed = missed();
	list_add_tail_rcu(&sel->node, &sels);
	dev_info(dev, "dmaverify: verifying DMA of driver %s on %s, DMA through %s %s (mode: dma_map_ops on the port: its URBs and usb_alloc_coherent buffers)\n",
		 ctx->driver, dev_name(dev), port->driver, dev_name(ctrl));
out:
	mutex_unlock(&sels_lock);
}

/* Stop verifying @sel and free it.  Context: sels_lock held. */
static void forget(struct dv_sel *sel)
{
	struct dmaverify_dev *ctx = sel->ctx;

	list_del_rcu(&sel->node);
	synchronize_rcu();
	wait_var_event(&sel->users, !atomic_read(&sel->users));
	dmaverify_indirect_free(ctx);
	kfree(sel);
}

/* Streaming objects the driver still has (not its coherent buffers). */
static long streaming(struct dmaverify_dev *ctx)
{
	struct dmaverify_kind_stats s;

	dmaverify_kind_stats(ctx, DV_KIND_COHERENT, &s);
	return dmaverify_tracker_count(&ctx->tracker) - s.outstanding;
}

/* The selected driver left the interface: check for leaks. */
static void release_intf(struct device *dev)
{
	struct dv_sel *sel;
	int i;

	mutex_lock(&sels_lock);
	sel = find_sel(to_usb_interface(dev));
	if (!sel)
		goto out;
	/*
	 * The USB core gives killed URBs back (and unmaps them) from a
	 * bottom half that may still run: give it a moment.
	 */
	for (i = 0; i < 40 && streaming(sel->ctx) > 0; i++)
		usleep_range(5000, 10000);
	if (lossy(sel->ctx)) {
		long n = dmaverify_tracker_count(&sel->ctx->tracker);

		atomic_long_add(n, &sel->ctx->unverifiable);
		if (n)
			dev_info(dev, "dmaverify: %ld DMA objects outstanding at release not reported: the probes of the USB core missed %lu calls since the driver was bound\n",
				 n, missed() - sel->missed);
	} else {
		dmaverify_check_leaks(sel->ctx);
	}
	WRITE_ONCE(sel->ctx->state, DV_STATE_RELEASED);
	dev_dbg(dev, "dmaverify: driver %s released\n", sel->ctx->driver);
	forget(sel);
out:
	mutex_unlock(&sels_lock);
}

/* Selected by its name, or by its module's ('-' and '_' alike). */
static bool usb_drv_selected(struct device_driver *drv)
{
	char mod[MODULE_NAME_LEN];
	int i;

	if (dmaverify_driver_selected(drv->name))
		return true;
	if (!drv->owner)
		return false;
	strscpy(mod, module_name(drv->owner), sizeof(mod));
	if (dmaverify_driver_selected(mod))
		return true;
	for (i = 0; mod[i]; i++)
		if (mod[i] == '_')
			mod[i] = '-';
	return dmaverify_driver_selected(mod);
}

static int usb_notify_bus(struct notifier_block *nb, unsigned long action,
			  void *data)
{
	struct device *dev = data;

	if (!is_interface(dev))
		return NOTIFY_DONE;
	switch (action) {
	case BUS_NOTIFY_BIND_DRIVER:
		if (READ_ONCE(dmaverify_enabled) && dev->driver &&
		    usb_drv_selected(dev->driver))
			select_intf(dev);
		break;
	case BUS_NOTIFY_UNBOUND_DRIVER:
	case BUS_NOTIFY_DRIVER_NOT_BOUND:
		release_intf(dev);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block usb_bus_nb = { .notifier_call = usb_notify_bus };

static int never_probe(struct usb_interface *intf, const struct usb_device_id *id)
{
	return -ENODEV;
}

/*
 * The USB bus type is not exported: a driver of ours (with no ID table, it
 * matches no device) says where it is.
 */
static struct usb_driver dv_usb_driver = {
	.name = "dmaverify",
	.probe = never_probe,
};

static typeof(((struct device *)NULL)->bus) usb_bus;
static bool usb_registered;

static int module_is(struct device_driver *drv, void *data)
{
	return drv->owner && dmaverify_names_eq(module_name(drv->owner), data);
}

/* Whether a driver of that name, or of a module of that name, is on USB. */
static bool usb_has_driver(struct dmaverify_port_bus *pb, const char *name)
{
	typeof(usb_bus) bus = READ_ONCE(usb_bus);

	return bus && (driver_find(name, bus) ||
		       bus_for_each_drv(bus, NULL, (void *)name, module_is));
}

struct rebind_walk {
	struct device *devs[16];
	unsigned int n;
	const char *only;
};

static int collect(struct usb_device *udev, void *data)
{
	struct usb_host_config *cfg = udev->actconfig;
	struct rebind_walk *w = data;
	int i;

	for (i = 0; cfg && i < cfg->desc.bNumInterfaces; i++) {
		struct usb_interface *intf = cfg->interface[i];
		struct device_driver *drv = intf ? intf->dev.driver : NULL;

		if (!drv || w->n >= ARRAY_SIZE(w->devs))
			continue;
		if (w->only ? strcmp(drv->name, w->only) : !usb_drv_selected(drv))
			continue;
		w->devs[w->n++] = get_device(&intf->dev);
	}
	return 0;
}

/* Reprobe selected USB interfaces (@only: that driver's); how many. */
static int usb_rebind(struct dmaverify_port_bus *pb, const char *only)
{
	struct rebind_walk *w;
	int n;

	if (!READ_ONCE(usb_bus))
		return 0;
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	w->only = only;
	usb_for_each_dev(w, collect);
	n = dmaverify_reprobe(w->devs, w->n);
	kfree(w);
	return n;
}

static struct dmaverify_port_bus usb_pb = {
	.kind = "usb-driver",
	.what = "a USB driver: its DMA is verified through its host controller",
	.has_driver = usb_has_driver,
	.rebind = usb_rebind,
};

static int already_bound(struct usb_device *udev, void *data)
{
	struct usb_host_config *cfg = udev->actconfig;
	int i;

	for (i = 0; cfg && i < cfg->desc.bNumInterfaces; i++) {
		struct usb_interface *intf = cfg->interface[i];

		if (intf && intf->dev.driver && usb_drv_selected(intf->dev.driver))
			dev_info(&intf->dev, "dmaverify: driver %s was bound before dmaverify: not verified (rebind=1, or the \"rebind\" command)\n",
				 intf->dev.driver->name);
	}
	return 0;
}

/**
 * dmaverify_indirect_init() - start watching USB interfaces
 *
 * Return: 0 or a negative errno.
 */
int dmaverify_indirect_init(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(core_probes); i++) {
		int ret = probe_register(&core_probes[i], NULL);

		if (ret) {
			pr_info("indirect: cannot probe %s (%d): drivers above USB host controllers are not verified\n",
				core_probes[i].name, ret);
			dmaverify_indirect_exit();
			return 0;
		}
	}
	usb_registered = !usb_register(&dv_usb_driver);
	if (!usb_registered ||
	    bus_register_notifier(dv_usb_drv(&dv_usb_driver)->bus, &usb_bus_nb)) {
		pr_info("indirect: cannot watch the USB bus: drivers above USB host controllers are not verified\n");
		dmaverify_indirect_exit();
		return 0;
	}
	WRITE_ONCE(usb_bus, dv_usb_drv(&dv_usb_driver)->bus);
	WRITE_ONCE(indirect_on, true);
	dmaverify_register_port_bus(&usb_pb);
	if (!dmaverify_rebind)
		usb_for_each_dev(NULL, already_bound);
	return 0;
}

/**
 * dmaverify_indirect_exit() - stop; forget every selected interface
 *
 * Objects still outstanding stay valid (as on unload for other devices).
 * Context: module unload, before the ports are detached.
 */
void dmaverify_indirect_exit(void)
{
	struct dv_sel *sel, *tmp;
	int i;

	WRITE_ONCE(indirect_on, false);
	if (usb_bus) {
		dmaverify_unregister_port_bus(&usb_pb);
		bus_unregister_notifier(usb_bus, &usb_bus_nb);
		WRITE_ONCE(usb_bus, NULL);
	}
	if (usb_registered)
		usb_deregister(&dv_usb_driver);
	usb_registered = false;
	for (i = 0; i < ARRAY_SIZE(core_probes); i++)
		if (core_probes[i].on)
			unregister_kretprobe(&core_probes[i].rp);
	for (i = 0; i < DV_HCD_PROBES; i++)
		if (hcd_probes[i].on)
			unregister_kretprobe(&hcd_probes[i].rp);
	/* No port callback looks at frames any more (indirect_on). */
	synchronize_rcu();
	for (i = 0; i < ARRAY_SIZE(frames); i++)
		INIT_HLIST_HEAD(&frames[i]);
	atomic_set(&nr_frames, 0);
	mutex_lock(&sels_lock);
	list_for_each_entry_safe(sel, tmp, &sels, node) {
		/* Frames cut short by the unregistration never return. */
		atomic_set(&sel->users, 0);
		forget(sel);
	}
	mutex_unlock(&sels_lock);
}

#else /* !CONFIG_USB */

struct dmaverify_dev *dmaverify_indirect_ctx(struct dmaverify_dev *port,
					     bool *forward)
{
	return READ_ONCE(port->whole);
}

/* Without USB a port is one driver's (virtio, mmc): no probe can miss. */
bool dmaverify_indirect_released(struct dmaverify_dev *ctx, unsigned long key,
				 bool sg)
{
	struct dmaverify_freed freed;

	return dmaverify_find_freed(ctx, key, sg, &freed);
}

struct dmaverify_dev *dmaverify_indirect_owner(struct dmaverify_dev *port,
					       unsigned long key, bool sg)
{
	return NULL;
}

int dmaverify_indirect_init(void)
{
	return 0;
}

void dmaverify_indirect_exit(void)
{
}

#endif /* CONFIG_USB */
