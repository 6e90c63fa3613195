// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: putting devices under verification and taking them out.
 *
 * A bus notifier sees BUS_NOTIFY_BIND_DRIVER, which the driver core sends
 * after dma_configure() and before the driver's probe, with the device
 * locked.  If the driver is selected, the device gets a twin (twin.c) and
 * its own dma_map_ops (ops.c), and a devres action is added.  The devres
 * list is empty before probe, so this action is released last, after every
 * managed buffer of the driver was freed: the leak check runs there, on
 * unbind and on probe failure alike.  After that the device stays hooked in
 * the "released" state, where any DMA call is a violation (0x18), until it
 * is bound again, deleted, or dmaverify is unloaded.
 *
 * Lock order: the device lock (held by the driver core around notifiers and
 * devres release) before dmaverify_devices_lock.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/kallsyms.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include <linux/wait_bit.h>

#include "dmaverify.h"

LIST_HEAD(dmaverify_devices);
/* Guards dmaverify_devices and each context's list entry. */
DEFINE_MUTEX(dmaverify_devices_lock);

struct release_res {
	struct dmaverify_dev *ctx;
};

/* Precondition: dmaverify_devices_lock is held. */
static struct dmaverify_dev *find_ctx(struct device *dev)
{
	struct dmaverify_dev *ctx;

	lockdep_assert_held(&dmaverify_devices_lock);
	list_for_each_entry(ctx, &dmaverify_devices, list)
		if (ctx->dev == dev && !ctx->port)
			return ctx;
	return NULL;
}

static const char *path_name(struct dmaverify_dev *ctx, char *buf, size_t size)
{
	if (ctx->observe)
		return "unchanged";
	if (ctx->orig_iommu)
		return "iommu-dma";
	if (!ctx->orig_ops)
		return "dma-direct";
	snprintf(buf, size, "%ps", ctx->orig_ops);
	return buf;
}

/* The debugfs layer's, set before the first attach and after the last. */
static const struct dmaverify_dev_hooks *dev_hooks;

/**
 * dmaverify_set_dev_hooks() - who is told of attached and detached devices
 * @hooks: the hooks, or NULL
 *
 * Context: module init, before the bus notifiers; exit, after every device
 * was detached.
 */
void dmaverify_set_dev_hooks(const struct dmaverify_dev_hooks *hooks)
{
	dev_hooks = hooks;
}

/**
 * dmaverify_announce_dev() - tell the layers above of a context made elsewhere
 * @ctx: a context of a driver verified through a port (indirect.c)
 * @added: true when it was added, false when it is being removed
 */
void dmaverify_announce_dev(struct dmaverify_dev *ctx, bool added)
{
	if (dev_hooks)
		(added ? dev_hooks->added : dev_hooks->removed)(ctx);
}

/* === Leak check === */

/*
 * Leaks are reported per call site: a driver that leaks a mapping per
 * request leaks hundreds from one line, and one report with the count says
 * more than a screenful of the same stack.  A site is an object's saved
 * stack (one per call site unless object_stacks=1) and its rule.
 */
#define DV_LEAK_SITES	16

struct leak_site {
	unsigned long stack;
	enum dmaverify_violation v;
	unsigned long count;
	unsigned long bytes;
	struct dmaverify_obj first;
};

struct leak_walk {
	struct dmaverify_dev *ctx;
	unsigned long total;
	unsigned long stale;
	unsigned long unlisted;
	unsigned int nr_sites;
	struct leak_site sites[DV_LEAK_SITES];
};

static const enum dmaverify_violation leak_code[DV_KIND_COUNT] = {
	[DV_KIND_COHERENT] = DV_LEAK_COHERENT,
	[DV_KIND_PAGES] = DV_LEAK_COHERENT,
	[DV_KIND_MAP] = DV_LEAK_MAP,
	[DV_KIND_RESOURCE] = DV_LEAK_MAP,
	[DV_KIND_SG] = DV_LEAK_SG,
};

/* Under the tracker's walk: only counting, no reports. */
static void count_leak(const struct dmaverify_obj *obj, void *arg)
{
	struct leak_walk *w = arg;
	enum dmaverify_violation v = leak_code[obj->kind];
	struct leak_site *site;
	unsigned int i;

	/* Its release may be one the observer missed. */
	if (dmaverify_observe_stale(w->ctx, obj)) {
		w->stale++;
		return;
	}
	if (!dmaverify_check_on(v))
		return;
	for (i = 0; i < w->nr_sites; i++) {
		site = &w->sites[i];
		if (site->stack == obj->stack && site->v == v) {
			site->count++;
			site->bytes += obj->size;
			return;
		}
	}
	if (w->nr_sites == ARRAY_SIZE(w->sites)) {
		/* More sites than reported: counted only. */
		w->unlisted++;
		atomic_long_inc(&w->ctx->violations[v]);
		atomic_long_inc(&dmaverify_total_violations[v]);
		return;
	}
	site = &w->sites[w->nr_sites++];
	site->stack = obj->stack;
	site->v = v;
	site->count = 1;
	site->bytes = obj->size;
	site->first = *obj;
}

/* The function that made a site's objects, for the summary. */
static unsigned long site_caller(const struct leak_site *site)
{
	unsigned long entries[16];
	unsigned int n = dmaverify_fetch_stack(site->stack, entries,
					       ARRAY_SIZE(entries));
	unsigned int i;

	/* A frame of a module unloaded since is the creator's (no symbol). */
	for (i = 0; i < n; i++)
		if (dmaverify_frame_gone(entries[i], site->first.when, NULL, 0) ||
		    !dmaverify_own_frame(entries[i]))
			return entries[i];
	return 0;
}

struct gone_walk {
	struct dmaverify_gone *g;
	struct module *mod;
};

static void gone_obj(const struct dmaverify_obj *obj, void *arg)
{
	struct gone_walk *w = arg;

	dmaverify_gone_note(w->g, w->mod, obj->stack);
}

/**
 * dmaverify_gone_objects() - keep a going module's frames of every object
 * @g: from dmaverify_gone_start(), or NULL
 * @mod: the going module
 *
 * For stack.c's module notifier: the objects that module created may
 * outlive it on another driver's device and be reported later.
 * Context: process context, may sleep.
 */
void dmaverify_gone_objects(struct dmaverify_gone *g, struct module *mod)
{
	struct gone_walk w = { .g = g, .mod = mod };
	struct dmaverify_dev *ctx;

	if (!g)
		return;
	mutex_lock(&dmaverify_devices_lock);
	list_for_each_entry(ctx, &dmaverify_devices, list)
		dmaverify_tracker_for_each(&ctx->tracker, gone_obj, &w);
	mutex_unlock(&dmaverify_devices_lock);
}

/*
 * After the reports, one line per leaking call site (reported or only
 * counted), so that a driver that leaks from many places sees them all.
 */
static void leak_summary(struct leak_walk *w)
{
	unsigned int i;

	if (!w->nr_sites)
		return;
	dev_info(w->ctx->dev, "dmaverify: %lu DMA objects outstanding at release of driver %s, by call site:\n",
		 w->total, w->ctx->driver);
	for (i = 0; i < w->nr_sites; i++) {
		const struct leak_site *site = &w->sites[i];

		char caller[KSYM_SYMBOL_LEN];

		/* Created by a module unloaded since: as it was then. */
		if (!dmaverify_frame_gone(site_caller(site), site->first.when,
					  caller, sizeof(caller)))
			snprintf(caller, sizeof(caller), "%pS",
				 (void *)site_caller(site));
		dev_info(w->ctx->dev, "dmaverify:   %lu %s (%lu bytes) from %s\n",
			 site->count, dmaverify_codes[site->v].slug, site->bytes,
			 caller);
	}
	if (w->unlisted)
		dev_info(w->ctx->dev, "dmaverify:   %lu more from other call sites (counted, not listed)\n",
			 w->unlisted);
}

/* The site that leaked most first. */
static int more_leaked(const void *a, const void *b)
{
	const struct leak_site *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static void report_site(struct leak_walk *w, struct leak_site *site,
			unsigned int nr)
{
	struct dmaverify_obj *obj = &site->first;
	struct dmaverify_report r = {
		.v = site->v, .ctx = w->ctx, .obj = obj,
		.addr = dmaverify_obj_key(obj),
		.size = obj->size, .dir = obj->dir, .leak = true,
	};
	char detail[160];

	/* The site's other objects count as violations too. */
	atomic_long_add(site->count - 1, &w->ctx->violations[site->v]);
	atomic_long_add(site->count - 1, &dmaverify_total_violations[site->v]);
	if (nr >= READ_ONCE(dmaverify_leak_report_max)) {
		atomic_long_inc(&w->ctx->violations[site->v]);
		atomic_long_inc(&dmaverify_total_violations[site->v]);
		return;
	}
	snprintf(detail, sizeof(detail),
		 "%lu object%s (%lu bytes) from this call site, of %lu outstanding; the first:",
		 site->count, site->count == 1 ? "" : "s", site->bytes, w->total);
	r.detail = detail;
	dmaverify_report(&r);
}

/**
 * dmaverify_check_leaks() - report every object still outstanding
 * @ctx: a device whose driver is being released
 *
 * One report per call site (the creating stack) and rule, with the count
 * and bytes of the site's objects, for up to leak_report_max sites; every
 * object counts as a violation.
 *
 * Context: process context, may sleep.
 */
void dmaverify_check_leaks(struct dmaverify_dev *ctx)
{
	struct leak_walk *w;
	unsigned int i;

	if (!dmaverify_tracker_count(&ctx->tracker) || !READ_ONCE(dmaverify_enabled))
		return;
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return;
	w->ctx = ctx;
	w->total = dmaverify_tracker_count(&ctx->tracker);
	dmaverify_tracker_for_each(&ctx->tracker, count_leak, w);
	sort(w->sites, w->nr_sites, sizeof(w->sites[0]), more_leaked, NULL);
	for (i = 0; i < w->nr_sites; i++)
		report_site(w, &w->sites[i], i);
	leak_summary(w);
	if (w->stale) {
		dmaverify_unverifiable(ctx, w->stale);
		dev_info(ctx->dev, "dmaverify: %lu DMA objects outstanding at release not reported: the observer missed DMA calls since they were created\n",
			 w->stale);
	}
	kfree(w);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_check_leaks);

/* === Attach and release === */

static void release_action(struct device *dev, void *res)
{
	dmaverify_release(((struct release_res *)res)->ctx);
}

static int match_ctx(struct device *dev, void *res, void *data)
{
	return ((struct release_res *)res)->ctx == data;
}

/**
 * dmaverify_release() - the device's driver is gone (or its probe failed)
 * @ctx: the device
 *
 * Context: devres release, device locked, after every managed resource of
 * the driver was released.
 */
void dmaverify_release(struct dmaverify_dev *ctx)
{
	dmaverify_dmaengine_release(ctx);
	dmaverify_check_leaks(ctx);
	WRITE_ONCE(ctx->state, DV_STATE_RELEASED);
	dmaverify_reclaim(ctx);
	if (ctx->twin) {
		dmaverify_twin_release(ctx->twin);
		dmaverify_twin_release(ctx->probe);
	}
	dev_dbg(ctx->dev, "dmaverify: driver %s released\n", ctx->driver);
}

/* Give the device back its original DMA personality. */
static void restore(struct dmaverify_dev *ctx)
{
	struct device *dev = ctx->dev;

	if (ctx->observe) {
		dmaverify_observe_detach(ctx);
		return;
	}

	/*
	 * A later dma_configure() may have replaced them already.  The core
	 * tests dma_iommu first: set it before the ops go, so that a port
	 * (still doing DMA) never goes to dma-direct in between.
	 */
	if (get_dma_ops(dev) == &ctx->ops) {
		if (ctx->orig_iommu)
			dv_set_dma_iommu(dev, true);
		set_dma_ops(dev, ctx->orig_ops);
	}
}

static void free_ctx_memory(struct rcu_head *rcu)
{
	kvfree(container_of(rcu, struct dmaverify_dev, rcu));
}

/*
 * Context: process context, dmaverify_devices_lock not held: removing the
 * debugfs files waits for their readers, which take that lock.
 */
static void free_ctx(struct dmaverify_dev *ctx)
{
	if (dev_hooks)
		dev_hooks->removed(ctx);
	/* Bounce buffers are freed through the twin: before it goes. */
	dmaverify_quarantine_flush(ctx);
	dmaverify_reclaim(ctx);
	if (ctx->twin) {
		dmaverify_twin_destroy(ctx->twin);
		dmaverify_twin_destroy(ctx->probe);
	}
	dmaverify_tracker_destroy(&ctx->tracker);
	dmaverify_objects_destroy(ctx);
	dmaverify_iommu_free(ctx);
	put_device(ctx->dev);
	/*
	 * The context holds the device's former ops table.  A task may have
	 * read the device's ops in the DMA core, then been preempted before
	 * calling through them: that call still loads its callback from this
	 * memory (the callback then forwards on the device, see ops.c).  A
	 * tasks-RCU grace period (a voluntary context switch of every task)
	 * proves no task is there any more.  Without tasks-RCU the kernel
	 * does not preempt such a task, and call_rcu_tasks() is call_rcu().
	 */
	call_rcu_tasks(&ctx->rcu, free_ctx_memory);
}

/*
 * Take a context out of service: unhook it and move it to @graveyard, to be
 * freed by the caller once no CPU can still be inside one of its callbacks.
 * Precondition: dmaverify_devices_lock is held; the device is locked.
 */
static void retire(struct dmaverify_dev *ctx, struct list_head *graveyard)
{
	long left = dmaverify_tracker_count(&ctx->tracker);

	restore(ctx);
	dmaverify_dmaengine_forget(ctx);
	/* Its devres action must never run with the context gone. */
	devres_destroy(ctx->dev, release_action, match_ctx, ctx);
	list_move(&ctx->list, graveyard);
	if (left)
		dev_info(ctx->dev, "dmaverify: %ld DMA objects still outstanding; they stay valid and are released through the original DMA path\n",
			 left);
}

/* Free retired contexts.  Context: process context, may sleep. */
static void bury(struct list_head *graveyard)
{
	struct dmaverify_dev *ctx, *tmp;

	if (list_empty(graveyard))
		return;
	/*
	 * Wait for callbacks that were running when the ops were restored:
	 * they run with preemption disabled, or count themselves in
	 * ->sleepers with preemption disabled (ops.c).
	 */
	synchronize_rcu();
	list_for_each_entry_safe(ctx, tmp, graveyard, list) {
		wait_var_event(&ctx->sleepers, !atomic_read(&ctx->sleepers));
		free_ctx(ctx);
	}
}

/* Install the interposer: a twin and the context's own dma_map_ops. */
static int interpose(struct dmaverify_dev *ctx)
{
	struct device *dev = ctx->dev;

	ctx->orig_ops = get_dma_ops(dev);
	ctx->orig_iommu = dv_dma_iommu(dev);
	ctx->twin = dmaverify_twin_create(dev, ctx->orig_ops, ctx->orig_iommu);
	if (!ctx->twin)
		return -ENOMEM;
	ctx->direct = dmaverify_twin_direct(ctx->twin);
	ctx->max_map = dma_max_mapping_size(ctx->twin);
	ctx->probe = dmaverify_twin_create(dev, ctx->orig_ops, ctx->orig_iommu);
	if (!ctx->probe) {
		dmaverify_twin_destroy(ctx->twin);
		ctx->twin = NULL;
		return -ENOMEM;
	}
	dmaverify_init_ops(&ctx->ops);
#ifdef DMAVERIFY_HAVE_DMA_OPS_FLAGS
	if (ctx->orig_ops)
		ctx->ops.flags = ctx->orig_ops->flags;
#endif
	return 0;
}

/* Make the prepared interposer live (the devres action is in place). */
static void interpose_live(struct dmaverify_dev *ctx)
{
	struct device *dev = ctx->dev;

	/*
	 * The core tests dma_iommu before dma_ops (6.12+), and refuses masks
	 * when both are set; skip-sync would hide the syncs from dmaverify.
	 * The ops go first: a port is attached while it does DMA, and must
	 * not go to dma-direct in between.
	 */
	set_dma_ops(dev, &ctx->ops);
	dv_set_dma_iommu(dev, false);
	dv_clear_skip_sync(dev);
}

static bool attached_already(struct dmaverify_dev *old)
{
	if (!old || old->state != DV_STATE_ATTACHED)
		return false;
	/* Bound twice without unbind (DEBUG_TEST_DRIVER_REMOVE). */
	return old->observe || get_dma_ops(old->dev) == &old->ops;
}

/* === Selection by driver or module name === */

/*
 * driver= names drivers as the driver core knows them (xhci_hcd), but
 * users often give the module (xhci_pci): a name that no driver on the
 * watched buses has selects the drivers the module of that name registers.
 * Module names compare with '-' and '_' alike, as modprobe does.
 */

static bool names_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}

/* The module a driver was registered from (KBUILD_MODNAME if built in). */
static const char *drv_module(const struct device_driver *drv)
{
	if (drv->owner)
		return module_name(drv->owner);
	return drv->mod_name;
}

/**
 * dmaverify_attach_mode() - put a device under verification
 * @dev: a device whose driver is about to probe
 * @mode: &enum dmaverify_mode: interpose (dma_map_ops), observe (probes),
 *	or auto (interpose where the kernel can)
 *
 * Context: process context, device locked (bus notifier).
 * Return: 0 or a negative errno; on error the device is left untouched.
 */
static int attach_ctx(struct device *dev, int mode, bool partial,
		      struct dmaverify_dev **out)
{
	struct dmaverify_dev *ctx, *old;
	struct release_res *res;
	LIST_HEAD(graveyard);
	char buf[64];
	int ret = -ENOMEM;

	if (mode == DV_MODE_AUTO)
		mode = dmaverify_interposer_available() ? DV_MODE_OPS : DV_MODE_OBSERVE;
	if (mode == DV_MODE_OPS && !dmaverify_interposer_available())
		return -EOPNOTSUPP;

	mutex_lock(&dmaverify_devices_lock);
	old = find_ctx(dev);
	if (attached_already(old)) {
		if (out)
			*out = old;
		mutex_unlock(&dmaverify_devices_lock);
		return 0;
	}
	if (old)
		retire(old, &graveyard);

	ctx = kvzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		goto out;
	if (dmaverify_tracker_init(&ctx->tracker, dmaverify_hash_bits))
		goto out_ctx;
	if (dmaverify_objects_init(ctx))
		goto out_tracker;
	dmaverify_quarantine_init(ctx);
	strscpy(ctx->driver, dev->driver ? dev->driver->name : dev_driver_string(dev),
		sizeof(ctx->driver));
	if (dev->driver && drv_module(dev->driver))
		strscpy(ctx->module, drv_module(dev->driver), sizeof(ctx->module));
	ctx->dev = dev;
	/* Sampled or full verification: chosen here, for the context's life. */
	ctx->sampled = !partial && mode == DV_MODE_OPS &&
		       READ_ONCE(dmaverify_sample_interval);
	ctx->partial = partial;
	if (mode == DV_MODE_OPS && interpose(ctx))
		goto out_tracker;

	res = devres_alloc(release_action, sizeof(*res), GFP_KERNEL);
	if (!res)
		goto out_twin;
	res->ctx = ctx;
	ctx->state = DV_STATE_ATTACHED;
	if (mode == DV_MODE_OBSERVE) {
		ret = dmaverify_observe_attach(ctx);
		if (ret) {
			devres_free(res);
			goto out_tracker;
		}
	}
	get_device(dev);
	devres_add(dev, res);
	if (mode == DV_MODE_OPS)
		interpose_live(ctx);

	list_add_tail(&ctx->list, &dmaverify_devices);
	if (out)
		*out = ctx;
	mutex_unlock(&dmaverify_devices_lock);
	/* The old context's files (same name) go first, without the lock. */
	bury(&graveyard);
	dmaverify_dmaengine_attach(ctx);
	if (dev_hooks)
		dev_hooks->added(ctx);
	if (partial) {
		dev_info(dev, "dmaverify: port of indirect verification: DMA calls made for selected drivers above driver %s are verified, others forwarded untracked (mode: dma_map_ops, forwarding to %s)\n",
			 ctx->driver, path_name(ctx, buf, sizeof(buf)));
		return 0;
	}
	dmaverify_iommu_attach(ctx);
	if (ctx->observe)
		dev_info(dev, "dmaverify: verifying DMA of driver %s (mode: observe, %s on the DMA API; no redzones or bounce buffers)\n",
			 ctx->driver, dmaverify_observe_probes());
	else
		dev_info(dev, "dmaverify: verifying DMA of driver %s (mode: dma_map_ops%s, forwarding to %s)\n",
			 ctx->driver, ctx->sampled ? " sampled" : "",
			 path_name(ctx, buf, sizeof(buf)));
	return 0;

out_twin:
	if (ctx->twin) {
		dmaverify_twin_destroy(ctx->twin);
		dmaverify_twin_destroy(ctx->probe);
	}
out_tracker:
	dmaverify_tracker_destroy(&ctx->tracker);
	dmaverify_objects_destroy(ctx);
out_ctx:
	kvfree(ctx);
out:
	mutex_unlock(&dmaverify_devices_lock);
	bury(&graveyard);
	dev_warn(dev, "dmaverify: cannot attach (%d); the device is not verified\n", ret);
	return ret;
}

static int dmaverify_attach_mode(struct device *dev, int mode)
{
	return attach_ctx(dev, mode, false, NULL);
}

/**
 * dmaverify_attach_port() - make a bound device the port of indirect DMA
 * @dev: a controller (a USB host controller's DMA device), bound, maybe
 *	doing DMA now
 *
 * The device gets dmaverify's dma_map_ops in the "partial" mode: calls
 * made on behalf of a selected driver above it (indirect.c) are verified in
 * that driver's context, every other call is forwarded untracked.  A
 * device verified as a whole (its own driver selected) cannot be a port.
 *
 * Context: process context; the device need not be locked (its devres
 * action is added while it is bound, and runs when its driver goes).
 * Return: the port's context, or an ERR_PTR().
 */
struct dmaverify_dev *dmaverify_attach_port(struct device *dev)
{
	struct dmaverify_dev *ctx = NULL;
	int ret;

	if (!dmaverify_interposer_available())
		return ERR_PTR(-EOPNOTSUPP);
	ret = attach_ctx(dev, DV_MODE_OPS, true, &ctx);
	if (ret)
		return ERR_PTR(ret);
	if (!ctx->partial || ctx->observe)
		return ERR_PTR(-EBUSY);
	return ctx;
}

/**
 * dmaverify_port_refused() - say why a driver above a port is not verified
 * @dev: the selected driver's device
 * @port: the device dmaverify_attach_port() refused
 * @busy: the reason when @port is verified as a whole (-EBUSY)
 * @err: the error dmaverify_attach_port() gave
 */
void dmaverify_port_refused(struct device *dev, struct device *port,
			    const char *busy, long err)
{
	dev_warn(dev, "dmaverify: driver %s does its DMA through %s %s, which cannot be verified for it (%s): not verified\n",
		 dev->driver->name, dev_driver_string(port), dev_name(port),
		 err == -EBUSY ? busy :
		 err == -EOPNOTSUPP ? "no per-device dma_map_ops in this kernel" :
		 "out of memory");
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_attach_port);

/**
 * dmaverify_ctx_create() - a context for a driver verified through a port
 * @dev: the port's device (masks, limits)
 *
 * Return: a context with its tracker and statistics, not on any list, or
 * NULL.  The caller fills in the rest (indirect.c).
 */
struct dmaverify_dev *dmaverify_ctx_create(struct device *dev)
{
	struct dmaverify_dev *ctx = kvzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return NULL;
	if (dmaverify_tracker_init(&ctx->tracker, dmaverify_hash_bits))
		goto out_ctx;
	if (dmaverify_objects_init(ctx))
		goto out_tracker;
	dmaverify_quarantine_init(ctx);
	ctx->dev = dev;
	ctx->state = DV_STATE_ATTACHED;
	return ctx;

out_tracker:
	dmaverify_tracker_destroy(&ctx->tracker);
	dmaverify_objects_destroy(ctx);
out_ctx:
	kvfree(ctx);
	return NULL;
}

/**
 * dmaverify_ctx_destroy() - free a context from dmaverify_ctx_create()
 * @ctx: not on any list; no callback can use it any more
 *
 * Context: process context.
 */
void dmaverify_ctx_destroy(struct dmaverify_dev *ctx)
{
	dmaverify_quarantine_flush(ctx);
	dmaverify_reclaim(ctx);
	dmaverify_tracker_destroy(&ctx->tracker);
	dmaverify_objects_destroy(ctx);
	kvfree(ctx);
}

/**
 * dmaverify_attach() - put a device under verification, as mode= says
 * @dev: a device whose driver is about to probe
 *
 * Context: process context, device locked (bus notifier).
 * Return: 0 or a negative errno; on error the device is left untouched.
 */
int dmaverify_attach(struct device *dev)
{
	return dmaverify_attach_mode(dev, dmaverify_mode);
}

/* A device leaves: unhook it if it is still hooked. */
static void device_gone(struct device *dev, bool selected)
{
	struct dmaverify_dev *ctx;
	LIST_HEAD(graveyard);

	mutex_lock(&dmaverify_devices_lock);
	ctx = find_ctx(dev);
	if (ctx && (!selected || ctx->state == DV_STATE_RELEASED))
		retire(ctx, &graveyard);
	mutex_unlock(&dmaverify_devices_lock);
	bury(&graveyard);
}

/**
 * dmaverify_attach_device() - verify a device without a bus notifier
 * @dev: a device with a DMA mask, not yet doing DMA
 *
 * For KUnit: the test's device is created after dmaverify is loaded.
 *
 * Return: 0 or a negative errno.
 */
int dmaverify_attach_device(struct device *dev)
{
	return dmaverify_attach(dev);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_attach_device);

/**
 * dmaverify_attach_device_mode() - verify a device in a given mode
 * @dev: a device with a DMA mask, not yet doing DMA
 * @mode: &enum dmaverify_mode
 *
 * For KUnit: observe-only mode tested on kernels that can interpose too.
 *
 * Return: 0 or a negative errno.
 */
int dmaverify_attach_device_mode(struct device *dev, int mode)
{
	return dmaverify_attach_mode(dev, mode);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_attach_device_mode);

/**
 * dmaverify_detach_device() - release and unhook a device now
 * @dev: a device attached with dmaverify_attach_device()
 *
 * Runs the leak check, as an unbind would.
 */
void dmaverify_detach_device(struct device *dev)
{
	struct dmaverify_dev *ctx;

	mutex_lock(&dmaverify_devices_lock);
	ctx = find_ctx(dev);
	mutex_unlock(&dmaverify_devices_lock);
	if (!ctx)
		return;
	devres_release(dev, release_action, match_ctx, ctx);
	device_gone(dev, false);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_detach_device);

/**
 * dmaverify_release_device() - release a device's driver, keep the hooks
 * @dev: a device attached with dmaverify_attach_device()
 *
 * For KUnit: what an unbind does (leak check, then the released state in
 * which any DMA call is a violation).
 */
void dmaverify_release_device(struct device *dev)
{
	struct dmaverify_dev *ctx;

	mutex_lock(&dmaverify_devices_lock);
	ctx = find_ctx(dev);
	mutex_unlock(&dmaverify_devices_lock);
	if (ctx)
		devres_release(dev, release_action, match_ctx, ctx);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_release_device);

/* === Selection: which names select a driver === */

/* A driver of that name on a bus dmaverify watches. */
static const char *watched_bus(const char *name)
{
#ifdef CONFIG_PCI
	if (driver_find(name, &pci_bus_type))
		return "pci";
#endif
	if (driver_find(name, &platform_bus_type))
		return "platform";
	return NULL;
}

/* Whether @drv is selected, by its own name or by its module's. */
static bool drv_selected(const struct device_driver *drv, const char *only)
{
	const char *mod = drv_module(drv);
	char *list, *name, *p;
	bool found = false;

	if (only)
		return !strcmp(drv->name, only) ||
		       (mod && names_eq(mod, only) && !watched_bus(only));
	if (dmaverify_driver_selected(drv->name))
		return true;
	if (!mod)
		return false;
	list = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!list)
		return false;
	dmaverify_drivers_show(list, PAGE_SIZE);
	p = list;
	while (!found && (name = strsep(&p, ",")))
		found = *name && names_eq(mod, name) && !watched_bus(name);
	kfree(list);
	return found;
}

struct module_drivers {
	const char *module;	/* The module name asked for. */
	const char *bus;	/* The bus walked. */
	char names[128];	/* "pci:xhci_hcd platform:..." */
	int n;			/* Drivers found. */
};

static int match_module(struct device_driver *drv, void *data)
{
	struct module_drivers *m = data;
	const char *mod = drv_module(drv);
	size_t len = strlen(m->names);

	if (mod && names_eq(mod, m->module)) {
		scnprintf(m->names + len, sizeof(m->names) - len, "%s%s:%s",
			  m->n ? " " : "", m->bus, drv->name);
		m->n++;
	}
	return 0;
}

/* The drivers the module @name registered on the watched buses. */
static void module_drivers(const char *name, struct module_drivers *m)
{
	memset(m, 0, sizeof(*m));
	m->module = name;
#ifdef CONFIG_PCI
	m->bus = "pci";
	bus_for_each_drv(&pci_bus_type, NULL, m, match_module);
#endif
	m->bus = "platform";
	bus_for_each_drv(&platform_bus_type, NULL, m, match_module);
}

/* Whether a module of that name is loaded (or built in with parameters). */
static bool module_present(const char *name)
{
	char mod[MODULE_NAME_LEN];
	struct kobject *k;
	int i;

	/* /sys/module/NAME: modules are in the kset of our own. */
	strscpy(mod, name, sizeof(mod));
	for (i = 0; mod[i]; i++)
		if (mod[i] == '-')
			mod[i] = '_';
	k = kset_find_obj(THIS_MODULE->mkobj.kobj.kset, mod);
	kobject_put(k);
	return !!k;
}

/* === Buses whose drivers are verified through a port === */

static LIST_HEAD(port_buses);
static DEFINE_MUTEX(port_buses_lock);

/**
 * dmaverify_register_port_bus() - learn of a bus of drivers above a port
 * @pb: the bus (indirect.c: USB; whole.c: virtio, mmc), with its names and
 *	callbacks set
 *
 * A name given to driver= that is a driver of that bus is then explained
 * in the log and in stats, and the rebind command reaches its devices.
 * Calls flow one way: the buses call into attach.c (dmaverify_attach_port(),
 * dmaverify_check_leaks()), attach.c into them only through @pb.
 */
void dmaverify_register_port_bus(struct dmaverify_port_bus *pb)
{
	mutex_lock(&port_buses_lock);
	list_add_tail(&pb->node, &port_buses);
	mutex_unlock(&port_buses_lock);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_register_port_bus);

/**
 * dmaverify_unregister_port_bus() - forget a bus of dmaverify_register_port_bus()
 * @pb: the bus
 */
void dmaverify_unregister_port_bus(struct dmaverify_port_bus *pb)
{
	mutex_lock(&port_buses_lock);
	list_del(&pb->node);
	mutex_unlock(&port_buses_lock);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_unregister_port_bus);

/* The port bus a driver or module of that name is on, or NULL. */
static struct dmaverify_port_bus *port_bus_of(const char *name)
{
	struct dmaverify_port_bus *pb, *found = NULL;

	mutex_lock(&port_buses_lock);
	list_for_each_entry(pb, &port_buses, node)
		if (pb->has_driver(pb, name)) {
			found = pb;
			break;
		}
	mutex_unlock(&port_buses_lock);
	return found;
}

/**
 * dmaverify_names_eq() - whether two driver or module names are one
 * @a: a name
 * @b: another
 *
 * Return: true if they differ at most by '-' for '_'.
 */
bool dmaverify_names_eq(const char *a, const char *b)
{
	return names_eq(a, b);
}

/**
 * dmaverify_selection_feedback() - say in the log what a selected name means
 * @name: a name given to driver= or to the "attach" command
 *
 * Silent for a driver on a watched bus; otherwise says which drivers a
 * module name stands for, or that the name is unknown or on a bus that
 * dmaverify does not watch.
 */
void dmaverify_selection_feedback(const char *name)
{
	struct dmaverify_port_bus *pb;
	struct module_drivers *m;

	if (watched_bus(name))
		return;
	pb = port_bus_of(name);
	if (pb) {
		pr_info("driver=%s: %s (indirect); devices it binds from now on are verified\n",
			name, pb->what);
		return;
	}
	m = kmalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return;
	module_drivers(name, m);
	if (m->n)
		pr_info("driver=%s: no driver has that name; module %s registers %s: its devices are verified\n",
			name, name, m->names);
	else if (module_present(name))
		pr_warn("driver=%s: module %s registers no PCI or platform driver: dmaverify verifies devices on the PCI and platform buses only\n",
			name, name);
	else
		pr_info("driver=%s: no PCI or platform driver or module of that name is registered now (see /sys/bus/pci/drivers, /sys/bus/platform/drivers); one registered later under that name will be verified\n",
			name);
	kfree(m);
}

/**
 * dmaverify_selection_show() - per selected name, the devices it selects
 * @seq: debugfs "stats"
 *
 * One line per name: "selected NAME devices N ops A observe B as HOW",
 * HOW being "driver", "usb-driver" (verified through its host controller),
 * "virtio-driver" (through its transport), "mmc-driver" (through its SD
 * host): a port bus's kind (dmaverify_register_port_bus()),
 * "module:<bus>:<driver>,...", "unwatched-module" or
 * "unregistered".
 */
void dmaverify_selection_show(struct seq_file *seq)
{
	struct module_drivers *m = kmalloc(sizeof(*m), GFP_KERNEL);
	char *list = kmalloc(PAGE_SIZE, GFP_KERNEL), *p, *name;
	struct dmaverify_port_bus *pb;
	struct dmaverify_dev *ctx;

	if (!m || !list)
		goto out;
	dmaverify_drivers_show(list, PAGE_SIZE);
	p = list;
	while ((name = strsep(&p, ","))) {
		bool by_driver = watched_bus(name);
		int ops = 0, observe = 0;
		char *c;

		if (!*name)
			continue;
		if (!by_driver)
			module_drivers(name, m);
		mutex_lock(&dmaverify_devices_lock);
		list_for_each_entry(ctx, &dmaverify_devices, list) {
			if (READ_ONCE(ctx->state) != DV_STATE_ATTACHED ||
			    (strcmp(ctx->driver, name) &&
			     (by_driver || !names_eq(ctx->module, name))))
				continue;
			if (ctx->observe)
				observe++;
			else
				ops++;
		}
		mutex_unlock(&dmaverify_devices_lock);
		seq_printf(seq, "selected %s devices %d ops %d observe %d as ", name,
			   ops + observe, ops, observe);
		pb = by_driver ? NULL : port_bus_of(name);
		if (by_driver) {
			seq_puts(seq, "driver\n");
		} else if (pb) {
			seq_printf(seq, "%s\n", pb->kind);
		} else if (m->n) {
			for (c = m->names; *c; c++)
				if (*c == ' ')
					*c = ',';
			seq_printf(seq, "module:%s\n", m->names);
		} else {
			seq_printf(seq, "%s\n", module_present(name) ?
				   "unwatched-module" : "unregistered");
		}
	}
out:
	kfree(list);
	kfree(m);
}

/* === Bus notifier === */

static int bus_notify(struct notifier_block *nb, unsigned long action,
		      void *data)
{
	struct device *dev = data;

	switch (action) {
	case BUS_NOTIFY_BIND_DRIVER:
		if (READ_ONCE(dmaverify_enabled) && dev->driver &&
		    drv_selected(dev->driver, NULL))
			dmaverify_attach(dev);
		else
			device_gone(dev, false);
		break;
	case BUS_NOTIFY_REMOVED_DEVICE:
		/*
		 * Not BUS_NOTIFY_DEL_DEVICE: it comes before the driver is
		 * unbound, and the unbind still needs the context.
		 */
		device_gone(dev, false);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block pci_nb = { .notifier_call = bus_notify };
static struct notifier_block platform_nb = { .notifier_call = bus_notify };

int dmaverify_bus_init(void)
{
	int ret;

#ifdef CONFIG_PCI
	ret = bus_register_notifier(&pci_bus_type, &pci_nb);
	if (ret)
		return ret;
#endif
	ret = bus_register_notifier(&platform_bus_type, &platform_nb);
#ifdef CONFIG_PCI
	if (ret)
		bus_unregister_notifier(&pci_bus_type, &pci_nb);
#endif
	if (!ret)
		dmaverify_set_selection_hook(dmaverify_selection_feedback);
	return ret;
}

/**
 * dmaverify_detach_all() - unhook every device (module unload)
 *
 * Devices keep their drivers; objects still outstanding stay valid and are
 * released through the original DMA path.  Waits until no CPU can be in a
 * dmaverify callback any more.
 */
void dmaverify_detach_all(void)
{
	struct dmaverify_dev *ctx, *tmp;
	LIST_HEAD(graveyard);

	dmaverify_set_selection_hook(NULL);
	bus_unregister_notifier(&platform_bus_type, &platform_nb);
#ifdef CONFIG_PCI
	bus_unregister_notifier(&pci_bus_type, &pci_nb);
#endif
	for (;;) {
		struct device *dev;

		mutex_lock(&dmaverify_devices_lock);
		ctx = list_first_entry_or_null(&dmaverify_devices,
					       struct dmaverify_dev, list);
		dev = ctx ? get_device(ctx->dev) : NULL;
		mutex_unlock(&dmaverify_devices_lock);
		if (!dev)
			break;
		/* Lock order: device, then the list. */
		device_lock(dev);
		mutex_lock(&dmaverify_devices_lock);
		ctx = find_ctx(dev);
		if (ctx) {
			/* retire() removes the devres action: its code is going away. */
			retire(ctx, &graveyard);
		}
		mutex_unlock(&dmaverify_devices_lock);
		device_unlock(dev);
		put_device(dev);
	}
	/*
	 * A CPU may have loaded the ops pointer just before restore() and not
	 * yet entered a callback, or be preempted inside one: only a tasks-RCU
	 * grace period (a voluntary context switch of every task) proves it
	 * left dmaverify's text, as for ftrace trampolines.  Callbacks that
	 * may sleep (allocations) count themselves in ->sleepers instead.
	 */
	synchronize_rcu();
#ifdef CONFIG_TASKS_RCU
	synchronize_rcu_tasks();
#endif
	list_for_each_entry_safe(ctx, tmp, &graveyard, list) {
		wait_var_event(&ctx->sleepers, !atomic_read(&ctx->sleepers));
		free_ctx(ctx);
	}
	/* free_ctx_memory() is this module's code: wait for every call. */
#ifdef CONFIG_TASKS_RCU
	rcu_barrier_tasks();
#else
	rcu_barrier();
#endif
}

struct rebind_walk {
	struct device *devs[64];
	unsigned int n;
	const char *only;
};

static int collect(struct device *dev, void *data)
{
	struct rebind_walk *w = data;

	if (w->n >= ARRAY_SIZE(w->devs) || !dev->driver)
		return 0;
	if (!drv_selected(dev->driver, w->only))
		return 0;
	w->devs[w->n++] = get_device(dev);
	return 0;
}

/**
 * dmaverify_reprobe() - reprobe the devices a rebind walk collected
 * @devs: the devices, each with a reference, which is dropped
 * @n: how many
 *
 * Return: @n.
 */
int dmaverify_reprobe(struct device **devs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		dev_info(devs[i], "dmaverify: rebinding driver %s\n",
			 devs[i]->driver ? devs[i]->driver->name : "?");
		if (device_reprobe(devs[i]))
			dev_warn(devs[i], "dmaverify: reprobe failed\n");
		put_device(devs[i]);
	}
	return n;
}

/**
 * dmaverify_rebind_selected() - reprobe devices already bound
 * @only: a driver name, or NULL for every selected driver
 *
 * Only on request (rebind=1 or the "rebind" command): unbinding the driver
 * of the root disk can hang a machine.
 *
 * Return: the number of devices reprobed.
 */
int dmaverify_rebind_selected(const char *only)
{
	struct rebind_walk *w = kzalloc(sizeof(*w), GFP_KERNEL);
	struct dmaverify_port_bus *pb;
	int n;

	if (!w)
		return -ENOMEM;
	w->only = only;
#ifdef CONFIG_PCI
	bus_for_each_dev(&pci_bus_type, NULL, w, collect);
#endif
	bus_for_each_dev(&platform_bus_type, NULL, w, collect);
	n = dmaverify_reprobe(w->devs, w->n);
	kfree(w);
	mutex_lock(&port_buses_lock);
	list_for_each_entry(pb, &port_buses, node)
		if (pb->rebind)
			n += max(pb->rebind(pb, only), 0);
	mutex_unlock(&port_buses_lock);
	return n;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_rebind_selected);
