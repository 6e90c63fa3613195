// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: dmaengine channels of selected clients (Windows' adapter
 * channels and system DMA).
 *
 * A dmaengine client requests a channel, maps its buffers on the provider's
 * device (dmaengine_get_dma_device()), prepares and submits descriptors, and
 * must terminate (and synchronize) the channel before it unmaps buffers the
 * hardware may still access, then release the channel.  The dmaengine entry
 * points clients call are static inlines that call the provider's
 * struct dma_device ops, so they are seen here by:
 *
 * - kretprobes on the exported dma_request_chan() and
 *   __dma_request_channel() (dma_request_chan_by_mask(), dma_request_channel()
 *   and the devm variant end there): the channel, the requesting stack and
 *   the client, told by the device passed in or by the first module on the
 *   stack;
 * - a kretprobe on dma_release_channel(): releases, and double releases;
 * - wrappers put in the provider's struct dma_device ops (memcpy prep,
 *   issue_pending, terminate_all, synchronize, config) the first time a
 *   selected client gets one of its channels, and in each descriptor's
 *   tx_submit between prep and submit (restored by the first submit);
 *   they act only on channels of selected clients.  A kprobe on
 *   dma_async_device_unregister() puts the provider's ops back before its
 *   structure goes away; unloading dmaverify does too;
 * - the release of a mapping on the provider's device, when that device is
 *   verified as well (objects.c calls dmaverify_dmaengine_unmapped()).
 *
 * A descriptor is in flight from its submit until the channel's completed
 * cookie reaches its cookie, or until the channel is terminated and
 * synchronized.  Providers that complete descriptors with the dmaengine
 * cookie helpers (all in-tree virt-dma drivers) keep chan->completed_cookie.
 *
 * For more info please see Documentation/dmaverify.rst, "dmaengine".
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/dmaengine.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>

#include "dmaverify.h"

#define DV_MAX_DESCS	256	/* Descriptors tracked per channel. */

enum dv_desc_state {
	DV_DESC_PREPARED,	/* Prepared; its tx_submit is wrapped. */
	DV_DESC_SUBMITTED,	/* Submitted: in flight until its cookie completes. */
	DV_DESC_TERMINATED,	/* Terminated, not yet synchronized. */
};

/* One descriptor of a verified channel. */
struct dv_desc {
	struct list_head node;
	struct dma_async_tx_descriptor *tx;
	dma_cookie_t (*orig_submit)(struct dma_async_tx_descriptor *tx);
	dma_cookie_t cookie;
	int state;
	dma_addr_t src, dst;
	size_t len;
};

/**
 * struct dv_chan - a channel held (or released) by a selected client
 * @node: entry in dv_chans
 * @chan: the channel
 * @ctx: the context reports are made on: the client's device, or (for a
 *	client that is a module without a device, like dmatest) the
 *	provider's device
 * @dma_dev: the device the client maps its buffers on
 * @client: the client's driver or module name
 * @req_stack: the requesting stack
 * @rel_stack: the releasing stack, once released
 * @released: released by the client
 * @descs: its descriptors (&struct dv_desc)
 * @ndescs: entries in @descs
 */
struct dv_chan {
	struct list_head node;
	struct dma_chan *chan;
	struct dmaverify_dev *ctx;
	struct device *dma_dev;
	char client[MODULE_NAME_LEN];
	unsigned long req_stack;
	unsigned long rel_stack;
	bool released;
	struct list_head descs;
	unsigned int ndescs;
};

/* A provider whose ops are wrapped, and its original ops. */
struct dv_prov {
	struct list_head node;
	struct dma_device *dd;
	bool wrapped;
	struct dma_async_tx_descriptor *(*prep_memcpy)(struct dma_chan *chan,
						       dma_addr_t dst,
						       dma_addr_t src,
						       size_t len,
						       unsigned long flags);
	void (*issue_pending)(struct dma_chan *chan);
	int (*terminate_all)(struct dma_chan *chan);
	void (*synchronize)(struct dma_chan *chan);
	int (*config)(struct dma_chan *chan, struct dma_slave_config *config);
};

/* A verified device, mirrored from attach.c for lookups in probes. */
struct dv_client {
	struct list_head node;
	struct dmaverify_dev *ctx;
};

/* Guards every list below and their entries.  Raw: unmaps come from hardirq. */
static DEFINE_RAW_SPINLOCK(dv_lock);
static LIST_HEAD(dv_chans);
static LIST_HEAD(dv_provs);
static LIST_HEAD(dv_clients);
static atomic_t dv_active = ATOMIC_INIT(0);	/* Calls inside a wrapper. */
static bool dv_probes_on;
static unsigned long dv_untracked;

/* === Lookups (dv_lock held) === */

static struct dv_chan *find_chan(struct dma_chan *chan)
{
	struct dv_chan *c;

	list_for_each_entry(c, &dv_chans, node)
		if (c->chan == chan)
			return c;
	return NULL;
}

static struct dv_prov *find_prov(struct dma_device *dd)
{
	struct dv_prov *p;

	list_for_each_entry(p, &dv_provs, node)
		if (p->dd == dd)
			return p;
	return NULL;
}

static struct dv_desc *find_desc(struct dv_chan *c,
				 struct dma_async_tx_descriptor *tx)
{
	struct dv_desc *d;

	list_for_each_entry(d, &c->descs, node)
		if (d->tx == tx)
			return d;
	return NULL;
}

static struct dmaverify_dev *find_client_ctx(struct device *dev,
					     const char *name)
{
	struct dv_client *cl;

	list_for_each_entry(cl, &dv_clients, node) {
		struct dmaverify_dev *ctx = cl->ctx;

		if (READ_ONCE(ctx->state) != DV_STATE_ATTACHED)
			continue;
		if (dev ? ctx->dev == dev :
		    (name[0] && (!strcmp(ctx->module, name) ||
				 !strcmp(ctx->driver, name))))
			return ctx;
	}
	return NULL;
}

/* Whether @cookie has completed on @chan (dma_async_is_complete()). */
static bool cookie_done(struct dma_chan *chan, dma_cookie_t cookie)
{
	dma_cookie_t done = READ_ONCE(chan->completed_cookie);
	dma_cookie_t used = READ_ONCE(chan->cookie);

	if (done <= used)
		return cookie <= done || cookie > used;
	return cookie <= done && cookie > used;
}

static void drop_desc(struct dv_chan *c, struct dv_desc *d)
{
	list_del(&d->node);
	c->ndescs--;
	kfree(d);
}

/* Forget the completed descriptors of @c. */
static void prune(struct dv_chan *c)
{
	struct dv_desc *d, *tmp;

	list_for_each_entry_safe(d, tmp, &c->descs, node)
		if (d->state == DV_DESC_SUBMITTED &&
		    cookie_done(c->chan, d->cookie))
			drop_desc(c, d);
}

/* Give a prepared descriptor its own tx_submit back. */
static void unwrap_desc(struct dv_desc *d)
{
	if (d->state == DV_DESC_PREPARED && d->orig_submit)
		WRITE_ONCE(d->tx->tx_submit, d->orig_submit);
	d->orig_submit = NULL;
}

static void drop_chan(struct dv_chan *c, bool unwrap)
{
	struct dv_desc *d, *tmp;

	list_for_each_entry_safe(d, tmp, &c->descs, node) {
		if (unwrap)
			unwrap_desc(d);
		drop_desc(c, d);
	}
	list_del(&c->node);
	kfree(c);
}

/* === Reports === */

struct dv_finding {
	enum dmaverify_violation v;
	struct dmaverify_dev *ctx;
	unsigned long stack;
	const char *stack_what;
	bool leak;
	unsigned long addr;
	size_t size;
	char detail[160];
};

static void report(struct dv_finding *f)
{
	struct dmaverify_report r = {
		.v = f->v, .ctx = f->ctx, .addr = f->addr, .size = f->size,
		.dir = DMA_NONE, .detail = f->detail, .leak = f->leak,
		.stack = f->stack, .stack_what = f->stack_what,
	};

	if (dmaverify_check_on(f->v))
		dmaverify_report(&r);
}

static void chan_detail(struct dv_finding *f, const struct dv_chan *c,
			const char *what)
{
	snprintf(f->detail, sizeof(f->detail), "%s%schannel %s of %s, client %s",
		 what, *what ? " on " : "", dma_chan_name(c->chan),
		 dev_name(c->chan->device->dev), c->client);
}

/*
 * A call on a released channel: reported once per call site (the report
 * rate limit).  Context: a wrapper; takes dv_lock.
 */
static void check_use(struct dma_chan *chan, const char *op)
{
	struct dv_finding f = { .v = DV_CHAN_USE_AFTER_RELEASE };
	unsigned long flags;
	struct dv_chan *c;

	raw_spin_lock_irqsave(&dv_lock, flags);
	c = find_chan(chan);
	if (c && c->released) {
		f.ctx = c->ctx;
		f.stack = c->rel_stack;
		f.stack_what = "released";
		chan_detail(&f, c, op);
	}
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	if (f.ctx)
		report(&f);
}

/* === Wrappers of the provider's ops === */

static struct dv_prov *enter(struct dma_chan *chan)
{
	struct dv_prov *p;
	unsigned long flags;

	atomic_inc(&dv_active);
	raw_spin_lock_irqsave(&dv_lock, flags);
	p = find_prov(chan->device);
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	/* Wrappers are installed only with their record, kept until exit. */
	return p;
}

static void leave(void)
{
	if (atomic_dec_and_test(&dv_active))
		wake_up_var(&dv_active);
}

static dma_cookie_t dv_tx_submit(struct dma_async_tx_descriptor *tx)
{
	dma_cookie_t (*orig)(struct dma_async_tx_descriptor *tx) = NULL;
	struct dv_desc *d = NULL;
	unsigned long flags;
	struct dv_chan *c;
	dma_cookie_t cookie;

	atomic_inc(&dv_active);
	check_use(tx->chan, "dmaengine_submit");
	raw_spin_lock_irqsave(&dv_lock, flags);
	c = find_chan(tx->chan);
	if (c)
		d = find_desc(c, tx);
	if (d && d->orig_submit) {
		orig = d->orig_submit;
		/* From now on the descriptor does not refer to dmaverify. */
		WRITE_ONCE(tx->tx_submit, orig);
		d->orig_submit = NULL;
	}
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	if (WARN_ON_ONCE(!orig)) {
		leave();
		return -EINVAL;
	}
	cookie = orig(tx);
	raw_spin_lock_irqsave(&dv_lock, flags);
	c = find_chan(tx->chan);
	d = c ? find_desc(c, tx) : NULL;
	if (d) {
		if (cookie < 0) {
			drop_desc(c, d);
		} else {
			d->cookie = cookie;
			d->state = DV_DESC_SUBMITTED;
		}
	}
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	leave();
	return cookie;
}

static struct dma_async_tx_descriptor *
dv_prep_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
	       size_t len, unsigned long flags)
{
	struct dv_prov *p = enter(chan);
	struct dma_async_tx_descriptor *tx;
	struct dv_desc *d, *old;
	unsigned long irqflags;
	struct dv_chan *c;

	check_use(chan, "dmaengine_prep_dma_memcpy");
	tx = p->prep_memcpy(chan, dst, src, len, flags);
	if (!tx || tx->chan != chan) {
		leave();
		return tx;
	}
	d = kzalloc(sizeof(*d), GFP_NOWAIT);
	raw_spin_lock_irqsave(&dv_lock, irqflags);
	c = find_chan(chan);
	if (!c || c->released) {
		raw_spin_unlock_irqrestore(&dv_lock, irqflags);
		kfree(d);
		leave();
		return tx;
	}
	/* The provider reuses a descriptor: its old record is stale. */
	old = find_desc(c, tx);
	if (old) {
		if (old->state == DV_DESC_PREPARED && old->orig_submit &&
		    tx->tx_submit == dv_tx_submit)
			WRITE_ONCE(tx->tx_submit, old->orig_submit);
		drop_desc(c, old);
	}
	if (c->ndescs >= DV_MAX_DESCS)
		prune(c);
	if (!d || c->ndescs >= DV_MAX_DESCS || tx->tx_submit == dv_tx_submit ||
	    !tx->tx_submit) {
		dv_untracked++;
		raw_spin_unlock_irqrestore(&dv_lock, irqflags);
		kfree(d);
		leave();
		return tx;
	}
	d->tx = tx;
	d->src = src;
	d->dst = dst;
	d->len = len;
	d->state = DV_DESC_PREPARED;
	d->orig_submit = tx->tx_submit;
	WRITE_ONCE(tx->tx_submit, dv_tx_submit);
	list_add_tail(&d->node, &c->descs);
	c->ndescs++;
	raw_spin_unlock_irqrestore(&dv_lock, irqflags);
	leave();
	return tx;
}

/*
 * A descriptor submitted twice: the provider gave it a new cookie (as
 * virt-dma does) while the first submit had not completed.  Checked when
 * the client issues the pending descriptors.
 */
static void check_resubmit(struct dma_chan *chan)
{
	struct dv_finding f = { .v = DV_DESC_DOUBLE_SUBMIT };
	unsigned long flags;
	struct dv_desc *d;
	struct dv_chan *c;

	raw_spin_lock_irqsave(&dv_lock, flags);
	c = find_chan(chan);
	if (!c || c->released)
		goto out;
	prune(c);
	list_for_each_entry(d, &c->descs, node) {
		dma_cookie_t now;

		if (d->state != DV_DESC_SUBMITTED)
			continue;
		/* Not completed, so not freed: its cookie can be read. */
		/* 0: completed (dma_cookie_complete()); < 0: an error. */
		if (copy_from_kernel_nofault(&now, &d->tx->cookie, sizeof(now)) ||
		    now <= 0 || now == d->cookie || cookie_done(chan, d->cookie))
			continue;
		if (d->tx->flags & DMA_CTRL_REUSE)
			continue;
		f.ctx = c->ctx;
		f.addr = (unsigned long)d->tx;
		chan_detail(&f, c, "");
		snprintf(f.detail, sizeof(f.detail),
			 "cookie %d, then %d before the first completed, on channel %s, client %s",
			 d->cookie, now, dma_chan_name(chan), c->client);
		d->cookie = now;
		break;
	}
out:
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	if (f.ctx)
		report(&f);
}

static void dv_issue_pending(struct dma_chan *chan)
{
	struct dv_prov *p = enter(chan);

	check_use(chan, "dma_async_issue_pending");
	check_resubmit(chan);
	p->issue_pending(chan);
	leave();
}

static int dv_terminate_all(struct dma_chan *chan)
{
	struct dv_prov *p = enter(chan);
	unsigned long flags;
	struct dv_desc *d, *tmp;
	struct dv_chan *c;
	int ret;

	check_use(chan, "dmaengine_terminate");
	raw_spin_lock_irqsave(&dv_lock, flags);
	c = find_chan(chan);
	if (c && !c->released) {
		prune(c);
		list_for_each_entry_safe(d, tmp, &c->descs, node) {
			if (d->state != DV_DESC_SUBMITTED)
				continue;
			/* Without a synchronize op, terminate_all is final. */
			if (p->synchronize)
				d->state = DV_DESC_TERMINATED;
			else
				drop_desc(c, d);
		}
	}
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	ret = p->terminate_all(chan);
	leave();
	return ret;
}

static void dv_synchronize(struct dma_chan *chan)
{
	struct dv_prov *p = enter(chan);
	unsigned long flags;
	struct dv_desc *d, *tmp;
	struct dv_chan *c;

	check_use(chan, "dmaengine_synchronize");
	p->synchronize(chan);
	raw_spin_lock_irqsave(&dv_lock, flags);
	c = find_chan(chan);
	if (c)
		list_for_each_entry_safe(d, tmp, &c->descs, node)
			if (d->state == DV_DESC_TERMINATED)
				drop_desc(c, d);
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	leave();
}

static int dv_config(struct dma_chan *chan, struct dma_slave_config *config)
{
	struct dv_prov *p = enter(chan);
	int ret;

	check_use(chan, "dmaengine_slave_config");
	ret = p->config(chan, config);
	leave();
	return ret;
}

/* Put the wrappers in @p's ops (dv_lock held). */
static void wrap(struct dv_prov *p)
{
	struct dma_device *dd = p->dd;

	p->prep_memcpy = dd->device_prep_dma_memcpy;
	p->issue_pending = dd->device_issue_pending;
	p->terminate_all = dd->device_terminate_all;
	p->synchronize = dd->device_synchronize;
	p->config = dd->device_config;
	/* A NULL op means "not supported": it stays NULL. */
	if (p->prep_memcpy)
		WRITE_ONCE(dd->device_prep_dma_memcpy, dv_prep_memcpy);
	if (p->issue_pending)
		WRITE_ONCE(dd->device_issue_pending, dv_issue_pending);
	if (p->terminate_all)
		WRITE_ONCE(dd->device_terminate_all, dv_terminate_all);
	if (p->synchronize)
		WRITE_ONCE(dd->device_synchronize, dv_synchronize);
	if (p->config)
		WRITE_ONCE(dd->device_config, dv_config);
	p->wrapped = true;
}

/* Give @p's provider its ops back (dv_lock held). */
static void unwrap(struct dv_prov *p)
{
	struct dma_device *dd = p->dd;

	if (!p->wrapped)
		return;
	if (dd->device_prep_dma_memcpy == dv_prep_memcpy)
		WRITE_ONCE(dd->device_prep_dma_memcpy, p->prep_memcpy);
	if (dd->device_issue_pending == dv_issue_pending)
		WRITE_ONCE(dd->device_issue_pending, p->issue_pending);
	if (dd->device_terminate_all == dv_terminate_all)
		WRITE_ONCE(dd->device_terminate_all, p->terminate_all);
	if (dd->device_synchronize == dv_synchronize)
		WRITE_ONCE(dd->device_synchronize, p->synchronize);
	if (dd->device_config == dv_config)
		WRITE_ONCE(dd->device_config, p->config);
	p->wrapped = false;
}

/* === Channel requests and releases === */

/* What a release's entry handler saw: the channel, if it is to be marked. */
struct dv_rel {
	struct dma_chan *chan;
	unsigned long stack;
};

/* What a request's entry handler saw. */
struct dv_req {
	struct device *dev;
	unsigned long stack;
	char module[MODULE_NAME_LEN];
};

/* The module of the first frame of @stack that is not dmaverify's or the DMA core's. */
static void stack_module(unsigned long stack, char *mod, size_t size)
{
	unsigned long entries[16];
	unsigned int n = dmaverify_fetch_stack(stack, entries, ARRAY_SIZE(entries));
	char sym[KSYM_SYMBOL_LEN], *open, *close;
	unsigned int i;

	mod[0] = '\0';
	for (i = 0; i < n && dmaverify_own_frame(entries[i]); i++)
		;
	if (i == n)
		return;
	sprint_symbol(sym, entries[i]);
	open = strrchr(sym, '[');
	close = open ? strchr(open, ']') : NULL;
	if (!close)
		return;
	*close = '\0';
	strscpy(mod, open + 1, size);
	/* "[mod]" or "[mod build-id]" */
	mod[strcspn(mod, " ")] = '\0';
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

static int req_entry(struct kretprobe_instance *ri, struct pt_regs *regs,
		     struct device *dev)
{
	struct dv_req *req = (struct dv_req *)ri->data;
	unsigned long caller = caller_of(regs);

	req->dev = dev;
	/* The client, when it called directly (dma_request_channel()). */
	if (caller && !dmaverify_own_frame(caller))
		dmaverify_set_observed_caller(caller);
	req->stack = dmaverify_save_stack();
	dmaverify_set_observed_caller(0);
	stack_module(req->stack, req->module, sizeof(req->module));
	return 0;
}

static int request_chan_entry(struct kretprobe_instance *ri,
			      struct pt_regs *regs)
{
	return req_entry(ri, regs,
			 (struct device *)regs_get_kernel_argument(regs, 0));
}

static int request_mask_entry(struct kretprobe_instance *ri,
			      struct pt_regs *regs)
{
	return req_entry(ri, regs, NULL);
}

static int req_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dma_chan *chan = (struct dma_chan *)regs_return_value(regs);
	struct dv_req *req = (struct dv_req *)ri->data;
	struct dmaverify_dev *ctx;
	struct device *dma_dev;
	struct dv_chan *c, *nc;
	struct dv_prov *p, *np;
	bool selected, moduleonly = false;
	unsigned long flags;

	if (IS_ERR_OR_NULL(chan))
		return 0;
	dma_dev = dmaengine_get_dma_device(chan);
	selected = !req->dev && req->module[0] &&
		   dmaverify_driver_selected(req->module);
	nc = kzalloc(sizeof(*nc), GFP_ATOMIC);
	np = kzalloc(sizeof(*np), GFP_ATOMIC);

	raw_spin_lock_irqsave(&dv_lock, flags);
	ctx = find_client_ctx(req->dev, req->module);
	/* A selected module without a device (dmatest): the provider's. */
	if (!ctx && selected) {
		ctx = find_client_ctx(dma_dev, "");
		moduleonly = true;
	}
	c = find_chan(chan);
	/* The same request seen by a nested probe (the _by_mask variant). */
	if (c && !c->released && c->ctx == ctx)
		goto out;
	/* Whoever had it before released it: its record is over. */
	if (c)
		drop_chan(c, false);
	if (!ctx || !nc || !np)
		goto out;
	nc->chan = chan;
	nc->ctx = ctx;
	nc->dma_dev = dma_dev;
	nc->req_stack = req->stack;
	strscpy(nc->client, moduleonly ? req->module : ctx->driver,
		sizeof(nc->client));
	INIT_LIST_HEAD(&nc->descs);
	list_add_tail(&nc->node, &dv_chans);
	nc = NULL;
	p = find_prov(chan->device);
	if (!p) {
		np->dd = chan->device;
		list_add_tail(&np->node, &dv_provs);
		p = np;
		np = NULL;
	}
	if (!p->wrapped)
		wrap(p);
out:
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	kfree(nc);
	kfree(np);
	return 0;
}

/*
 * dma_release_channel(): a second release is reported at its entry; the
 * first marks the channel released at its return, after the core's own
 * calls of the channel's ops (synchronize, free_chan_resources).
 */
static int release_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dma_chan *chan = (struct dma_chan *)regs_get_kernel_argument(regs, 0);
	struct dv_finding f = { .v = DV_CHAN_DOUBLE_RELEASE };
	struct dv_rel *rel = (struct dv_rel *)ri->data;
	unsigned long flags;
	struct dv_chan *c;

	rel->chan = NULL;
	raw_spin_lock_irqsave(&dv_lock, flags);
	c = find_chan(chan);
	if (c && c->released) {
		f.ctx = c->ctx;
		f.stack = c->rel_stack;
		f.stack_what = "first released";
		chan_detail(&f, c, "");
	} else if (c) {
		rel->chan = chan;
	}
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	dmaverify_set_observed_caller(caller_of(regs));
	if (f.ctx)
		report(&f);
	else if (rel->chan)
		rel->stack = dmaverify_save_stack();
	dmaverify_set_observed_caller(0);
	return 0;
}

static int release_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dv_rel *rel = (struct dv_rel *)ri->data;
	struct dv_desc *d, *tmp;
	unsigned long flags;
	struct dv_chan *c;

	if (!rel->chan)
		return 0;
	raw_spin_lock_irqsave(&dv_lock, flags);
	c = find_chan(rel->chan);
	if (c && !c->released) {
		c->released = true;
		c->rel_stack = rel->stack;
		list_for_each_entry_safe(d, tmp, &c->descs, node) {
			unwrap_desc(d);
			drop_desc(c, d);
		}
	}
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	return 0;
}

/* A provider goes: its ops back, its channels forgotten. */
static int unregister_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct dma_device *dd = (struct dma_device *)regs_get_kernel_argument(regs, 0);
	struct dv_chan *c, *tmp;
	unsigned long flags;
	struct dv_prov *p;

	raw_spin_lock_irqsave(&dv_lock, flags);
	p = find_prov(dd);
	/* Kept: a call already in a wrapper still needs the original op. */
	if (p)
		unwrap(p);
	list_for_each_entry_safe(c, tmp, &dv_chans, node)
		if (c->chan->device == dd)
			drop_chan(c, false);
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	return 0;
}

/*
 * The exported ways to get a channel.  dma_request_chan_by_mask() and
 * devm_dma_request_chan() call the others, but the compiler may inline
 * those into them: each is probed, and a nested hit is seen as one request.
 */
static struct kretprobe request_rps[] = {
	{ .kp.symbol_name = "dma_request_chan",
	  .entry_handler = request_chan_entry },
	{ .kp.symbol_name = "__dma_request_channel",
	  .entry_handler = request_mask_entry },
	{ .kp.symbol_name = "dma_request_chan_by_mask",
	  .entry_handler = request_mask_entry },
	{ .kp.symbol_name = "devm_dma_request_chan",
	  .entry_handler = request_chan_entry },
};

/* The first two are required; a kernel may lack or inline the others. */
#define DV_REQUIRED_RPS	2
static bool request_rp_on[ARRAY_SIZE(request_rps)];

static struct kretprobe release_rp = {
	.kp.symbol_name = "dma_release_channel",
	.entry_handler = release_entry,
	.handler = release_return,
	.data_size = sizeof(struct dv_rel),
	.maxactive = 32,
};

static struct kprobe unregister_kp = {
	.symbol_name = "dma_async_device_unregister",
	.pre_handler = unregister_pre,
};

static void unregister_probes(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(request_rps); i++) {
		if (request_rp_on[i])
			unregister_kretprobe(&request_rps[i]);
		request_rp_on[i] = false;
	}
}

/* === Hooks from the rest of dmaverify === */

/* The release of an object while selected clients have channels. */
static noinline void unmapped_in_flight(struct dmaverify_dev *ctx,
					const struct dmaverify_obj *obj)
{
	struct dv_finding f = { .ctx = NULL };
	dma_addr_t lo = obj->dma, hi = obj->dma + obj->size;
	unsigned long flags;
	struct dv_desc *d;
	struct dv_chan *c;

	raw_spin_lock_irqsave(&dv_lock, flags);
	list_for_each_entry(c, &dv_chans, node) {
		if (c->dma_dev != ctx->dev || c->released)
			continue;
		prune(c);
		list_for_each_entry(d, &c->descs, node) {
			bool src = d->src < hi && lo < d->src + d->len;
			bool dst = d->dst < hi && lo < d->dst + d->len;

			if (d->state == DV_DESC_PREPARED || (!src && !dst))
				continue;
			f.ctx = c->ctx;
			f.addr = obj->dma;
			f.size = obj->size;
			if (d->state == DV_DESC_TERMINATED) {
				f.v = DV_TERMINATE_NO_SYNC;
				snprintf(f.detail, sizeof(f.detail),
					 "%pad (%zu bytes) is the %s of a descriptor (cookie %d) terminated on channel %s without dmaengine_synchronize(), client %s",
					 &obj->dma, (size_t)obj->size,
					 dst ? "destination" : "source",
					 d->cookie, dma_chan_name(c->chan),
					 c->client);
			} else {
				f.v = DV_DMA_IN_FLIGHT;
				snprintf(f.detail, sizeof(f.detail),
					 "%pad (%zu bytes) is the %s of a descriptor (cookie %d) in flight on channel %s, client %s",
					 &obj->dma, (size_t)obj->size,
					 dst ? "destination" : "source",
					 d->cookie, dma_chan_name(c->chan),
					 c->client);
			}
			goto out;
		}
	}
out:
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	if (f.ctx)
		report(&f);
}

/**
 * dmaverify_dmaengine_unmapped() - a mapping of a verified device is released
 * @ctx: the device
 * @obj: the mapping
 *
 * Reports the release of a buffer that a submitted descriptor of a selected
 * client still uses: in flight (no completion, no terminate), or terminated
 * without dmaengine_synchronize().
 */
void dmaverify_dmaengine_unmapped(struct dmaverify_dev *ctx,
				  const struct dmaverify_obj *obj)
{
	/* Every release comes here: nothing more while no channel is watched. */
	if (!list_empty_careful(&dv_chans) && !dmaverify_obj_is_sg(obj))
		unmapped_in_flight(ctx, obj);
}

/**
 * dmaverify_dmaengine_attach() - a device is now verified
 * @ctx: its context
 *
 * Its driver's channel requests are verified from now on.
 */
void dmaverify_dmaengine_attach(struct dmaverify_dev *ctx)
{
	struct dv_client *cl = kzalloc(sizeof(*cl), GFP_KERNEL);
	unsigned long flags;

	if (!cl)
		return;
	cl->ctx = ctx;
	raw_spin_lock_irqsave(&dv_lock, flags);
	list_add_tail(&cl->node, &dv_clients);
	raw_spin_unlock_irqrestore(&dv_lock, flags);
}

/* A walk of a provider's objects for those a client's module created. */
struct dv_map_walk {
	struct dmaverify_dev *client;
	struct dmaverify_dev *prov;
	unsigned long seen;
	char detail[96];
};

static void client_leak(const struct dmaverify_obj *obj, void *arg)
{
	struct dv_map_walk *w = arg;
	struct dmaverify_report r = {
		.ctx = w->client, .obj = obj, .addr = dmaverify_obj_key(obj),
		.size = obj->size, .dir = obj->dir, .leak = true,
		.detail = w->detail,
	};
	char mod[MODULE_NAME_LEN];

	if (dmaverify_observe_stale(w->prov, obj))
		return;
	stack_module(obj->stack, mod, sizeof(mod));
	if (strcmp(mod, w->client->module))
		return;
	r.v = dmaverify_obj_is_sg(obj) ? DV_LEAK_SG :
	      obj->kind == DV_KIND_COHERENT || obj->kind == DV_KIND_PAGES ?
	      DV_LEAK_COHERENT : DV_LEAK_MAP;
	if (!dmaverify_check_on(r.v))
		return;
	if (++w->seen > READ_ONCE(dmaverify_leak_report_max)) {
		atomic_long_inc(&w->client->violations[r.v]);
		return;
	}
	dmaverify_report(&r);
}

/*
 * Whether another verified device is bound to a driver of @ctx's module:
 * mappings are told apart by module only, so its could be taken for @ctx's.
 */
static bool module_shared(struct dmaverify_dev *ctx)
{
	struct dv_client *cl;
	unsigned long flags;
	bool shared = false;

	raw_spin_lock_irqsave(&dv_lock, flags);
	list_for_each_entry(cl, &dv_clients, node)
		shared |= cl->ctx != ctx && !strcmp(cl->ctx->module, ctx->module) &&
			  READ_ONCE(cl->ctx->state) == DV_STATE_ATTACHED;
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	return shared;
}

/*
 * The mappings the client's module made on a provider's device (verified
 * too) and did not release, unless another device of the module is bound:
 * leaks of the client, reported at its unbind (the provider's own unbind
 * reports them again, as the provider's).
 */
static void check_client_maps(struct dmaverify_dev *ctx, struct device *dma_dev)
{
	struct dv_map_walk *w;
	struct dmaverify_dev *prov;

	if (!ctx->module[0] || !READ_ONCE(dmaverify_enabled) ||
	    module_shared(ctx))
		return;
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return;
	w->client = ctx;
	snprintf(w->detail, sizeof(w->detail),
		 "mapped on %s, the DMA device of its dmaengine channel",
		 dev_name(dma_dev));
	mutex_lock(&dmaverify_devices_lock);
	list_for_each_entry(prov, &dmaverify_devices, list) {
		if (prov->dev != dma_dev || prov == ctx ||
		    READ_ONCE(prov->state) != DV_STATE_ATTACHED)
			continue;
		w->prov = prov;
		dmaverify_tracker_for_each(&prov->tracker, client_leak, w);
	}
	mutex_unlock(&dmaverify_devices_lock);
	kfree(w);
}

/**
 * dmaverify_dmaengine_release() - a verified device's driver is gone
 * @ctx: its context
 *
 * Reports every channel the driver still holds (0x08), with the stack that
 * requested it, then the mappings its module left on the channels' DMA
 * devices, and forgets the driver's channels.
 */
void dmaverify_dmaengine_release(struct dmaverify_dev *ctx)
{
	struct device *dma_devs[4];
	unsigned int ndevs = 0, i;
	struct dv_finding *f;
	struct dv_chan *c;
	unsigned long flags;
	bool found;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return;
	for (;;) {
		f->ctx = NULL;
		found = false;
		raw_spin_lock_irqsave(&dv_lock, flags);
		list_for_each_entry(c, &dv_chans, node) {
			if (c->ctx != ctx)
				continue;
			found = true;
			/* Not the provider's own: a module's channels (dmatest). */
			for (i = 0; i < ndevs && dma_devs[i] != c->dma_dev; i++)
				;
			if (i == ndevs && ndevs < ARRAY_SIZE(dma_devs) &&
			    c->dma_dev != ctx->dev)
				dma_devs[ndevs++] = c->dma_dev;
			if (!c->released) {
				f->v = DV_CHAN_LEAK;
				f->ctx = ctx;
				f->leak = true;
				f->stack = c->req_stack;
				f->stack_what = "requested";
				f->addr = (unsigned long)c->chan;
				chan_detail(f, c, "");
			}
			drop_chan(c, true);
			break;
		}
		raw_spin_unlock_irqrestore(&dv_lock, flags);
		if (!found)
			break;
		if (f->ctx)
			report(f);
	}
	kfree(f);
	/* The provider devices are still there: their channels are not freed. */
	for (i = 0; i < ndevs; i++)
		check_client_maps(ctx, dma_devs[i]);
}

/**
 * dmaverify_dmaengine_forget() - a context is retired: no record may keep it
 * @ctx: its context
 */
void dmaverify_dmaengine_forget(struct dmaverify_dev *ctx)
{
	struct dv_client *cl, *tcl;
	struct dv_chan *c, *tmp;
	unsigned long flags;

	raw_spin_lock_irqsave(&dv_lock, flags);
	list_for_each_entry_safe(c, tmp, &dv_chans, node)
		if (c->ctx == ctx)
			drop_chan(c, true);
	list_for_each_entry_safe(cl, tcl, &dv_clients, node)
		if (cl->ctx == ctx) {
			list_del(&cl->node);
			kfree(cl);
		}
	raw_spin_unlock_irqrestore(&dv_lock, flags);
}

/**
 * dmaverify_dmaengine_show() - the channels a device's driver holds
 * @seq: the dump file
 * @ctx: the device
 *
 * One line per channel held (or released) by the device's driver, or
 * requested by a module whose reports go to this device, then one per
 * descriptor in flight.
 */
void dmaverify_dmaengine_show(struct seq_file *seq, struct dmaverify_dev *ctx)
{
	struct dv_desc *d;
	struct dv_chan *c;
	unsigned long flags;

	raw_spin_lock_irqsave(&dv_lock, flags);
	if (dv_untracked)
		seq_printf(seq, "dmaengine descriptors not tracked (no memory, or %d in flight on a channel): %lu\n",
			   DV_MAX_DESCS, dv_untracked);
	list_for_each_entry(c, &dv_chans, node) {
		if (c->ctx != ctx)
			continue;
		seq_printf(seq, "dmaengine channel %s provider %s client %s %s descriptors %u\n",
			   dma_chan_name(c->chan), dev_name(c->chan->device->dev),
			   c->client, c->released ? "released" : "held",
			   c->ndescs);
		list_for_each_entry(d, &c->descs, node)
			seq_printf(seq, "dmaengine   descriptor cookie %d %s src %pad dst %pad len %zu\n",
				   d->cookie,
				   d->state == DV_DESC_PREPARED ? "prepared" :
				   d->state == DV_DESC_SUBMITTED ? "in-flight" :
				   "terminated-unsynchronized",
				   &d->src, &d->dst, d->len);
	}
	raw_spin_unlock_irqrestore(&dv_lock, flags);
}

/**
 * dmaverify_dmaengine_init() - watch channel requests and releases
 *
 * Without kprobes (or on a kernel without the functions), dmaengine clients
 * are not verified; the log says so.
 */
void dmaverify_dmaengine_init(void)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(request_rps); i++) {
		struct kretprobe *rp = &request_rps[i];
		int err;

		rp->handler = req_return;
		rp->data_size = sizeof(struct dv_req);
		rp->maxactive = 32;
		err = register_kretprobe(rp);
		request_rp_on[i] = !err;
		if (err && i < DV_REQUIRED_RPS)
			ret = err;
	}
	if (!ret) {
		ret = register_kretprobe(&release_rp);
		if (!ret) {
			ret = register_kprobe(&unregister_kp);
			if (ret)
				unregister_kretprobe(&release_rp);
		}
	}
	if (ret) {
		unregister_probes();
		pr_info("dmaengine clients are not verified: cannot probe the dmaengine core (%d)\n",
			ret);
		return;
	}
	dv_probes_on = true;
}

/**
 * dmaverify_dmaengine_exit() - stop watching; give providers their ops back
 *
 * Context: module unload, before the devices are detached.
 */
void dmaverify_dmaengine_exit(void)
{
	struct dv_client *cl, *tcl;
	struct dv_chan *c, *tmp;
	struct dv_prov *p, *tp;
	unsigned long flags;

	if (dv_probes_on) {
		unregister_kprobe(&unregister_kp);
		unregister_kretprobe(&release_rp);
		unregister_probes();
	}
	raw_spin_lock_irqsave(&dv_lock, flags);
	list_for_each_entry(p, &dv_provs, node)
		unwrap(p);
	list_for_each_entry_safe(c, tmp, &dv_chans, node)
		drop_chan(c, true);
	raw_spin_unlock_irqrestore(&dv_lock, flags);
	/*
	 * A call that loaded a wrapper's address before it was put back may
	 * be preempted before the wrapper counts itself in dv_active: as for
	 * ftrace trampolines, wait until every task has passed a voluntary
	 * context switch, then for the calls still inside a wrapper.
	 */
#ifdef CONFIG_TASKS_RCU
	synchronize_rcu_tasks();
#else
	synchronize_rcu();
#endif
	wait_var_event(&dv_active, !atomic_read(&dv_active));
	list_for_each_entry_safe(p, tp, &dv_provs, node) {
		list_del(&p->node);
		kfree(p);
	}
	list_for_each_entry_safe(cl, tcl, &dv_clients, node) {
		list_del(&cl->node);
		kfree(cl);
	}
}
