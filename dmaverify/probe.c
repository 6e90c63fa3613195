// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: how the observer sees the DMA API's calls.
 *
 * The observer (observe.c) names the DMA API's entry points and what to do
 * at their entry and return; this file puts a probe on each and hands the
 * handlers the call's arguments, return value and caller, whatever the
 * probe.  Two kinds:
 *
 *  - fprobes (ftrace), where the kernel has them with entry data (6.2 and
 *    later with CONFIG_FPROBE, as Debian's 6.12 and 7.x kernels): ftrace's
 *    recursion guard is per context, so a DMA call from an interrupt that
 *    arrives while a handler runs in a task is seen too, and one in the
 *    interrupt's softirq as well.  Nothing is missed but a call in the
 *    same context as a running handler (a handler does not call the DMA
 *    API) or, before 6.14, one for which no return slot was left;
 *  - kprobes and kretprobes on ftrace otherwise (6.1): they do not nest,
 *    and a DMA call from an interrupt that lands while any kprobe handler
 *    runs on the same CPU is missed.  The kprobe core counts those, and
 *    the observer treats a device with missed calls as degraded.
 *
 * Either way the handlers run from ftrace with preemption disabled, never
 * from an int3 trap (which counts as NMI): registration fails where that
 * is not so.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/cpumask.h>
#include <linux/minmax.h>
#include <linux/ptrace.h>
#include <linux/string.h>

#include "dmaverify.h"
#include "probe.h"

/* Calls of one probe in flight at once, sleeping allocations included. */
static int max_active(void)
{
	return max_t(int, 64, 16 * num_possible_cpus());
}

/*
 * The handlers tell stack traces taken inside them where the DMA API was
 * called from (see dmaverify_stack_start()).
 */
static int run_entry(struct dmaverify_probe *p, void *data,
		     const struct dmaverify_call *c)
{
	int ret;

	dmaverify_set_observed_caller(c->caller);
	ret = p->entry(data, c);
	dmaverify_set_observed_caller(0);
	return ret;
}

static void run_ret(struct dmaverify_probe *p, void *data,
		    const struct dmaverify_call *c)
{
	dmaverify_set_observed_caller(c->caller);
	p->ret(data, c);
	dmaverify_set_observed_caller(0);
}

static void run_pre(struct dmaverify_probe *p, const struct dmaverify_call *c)
{
	dmaverify_set_observed_caller(c->caller);
	p->pre(c);
	dmaverify_set_observed_caller(0);
}

/* === kprobes === */

static void regs_args(struct pt_regs *regs, struct dmaverify_call *c)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c->arg); i++)
		c->arg[i] = regs_get_kernel_argument(regs, i);
}

/* At the probed function's entry: its return address, the DMA API's caller. */
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

static int kp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dmaverify_probe *p = container_of(get_kretprobe(ri),
						 struct dmaverify_probe, rp);
	struct dmaverify_call c;

	regs_args(regs, &c);
	c.ret = 0;
	c.caller = caller_of(regs);
	return run_entry(p, ri->data, &c);
}

static int kp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dmaverify_probe *p = container_of(get_kretprobe(ri),
						 struct dmaverify_probe, rp);
	struct dmaverify_call c = {
		.ret = regs_return_value(regs),
		.caller = (unsigned long)get_kretprobe_retaddr(ri),
	};

	run_ret(p, ri->data, &c);
	return 0;
}

static int kp_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct dmaverify_probe *p = container_of(kp, struct dmaverify_probe, kp);
	struct dmaverify_call c;

	regs_args(regs, &c);
	c.ret = 0;
	c.caller = caller_of(regs);
	run_pre(p, &c);
	return 0;
}

static int use_kprobes(struct dmaverify_probe *p, const char *name)
{
	struct kprobe *kp = p->entry ? &p->rp.kp : &p->kp;
	int ret;

	memset(&p->rp, 0, sizeof(p->rp));
	memset(&p->kp, 0, sizeof(p->kp));
	kp->symbol_name = name;
	if (p->entry) {
		p->rp.entry_handler = kp_entry;
		p->rp.handler = kp_ret;
		p->rp.data_size = p->data_size;
		p->rp.maxactive = max_active();
		ret = register_kretprobe(&p->rp);
	} else {
		kp->pre_handler = kp_pre;
		ret = register_kprobe(kp);
	}
	if (ret)
		return ret;
	/* From an int3 trap the handler would run as if in NMI: unusable. */
	if (!(kp->flags & KPROBE_FLAG_FTRACE)) {
		pr_err("observe: the probe on %s is not ftrace-based (needs CONFIG_KPROBES_ON_FTRACE)\n",
		       name);
		if (p->entry)
			unregister_kretprobe(&p->rp);
		else
			unregister_kprobe(kp);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* === fprobes === */

#ifdef DMAVERIFY_FPROBES
#ifdef DMAVERIFY_HAVE_FPROBE_FTRACE_REGS
#define dv_fregs			ftrace_regs
#define dv_fregs_arg(regs, n)		ftrace_regs_get_argument(regs, n)
#define dv_fregs_ret(regs)		ftrace_regs_get_return_value(regs)
#else
#define dv_fregs			pt_regs
#define dv_fregs_arg(regs, n)		regs_get_kernel_argument(regs, n)
#define dv_fregs_ret(regs)		regs_return_value(regs)
#endif

static int fp_entry(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		    struct dv_fregs *regs, void *data)
{
	struct dmaverify_probe *p = container_of(fp, struct dmaverify_probe, fp);
	struct dmaverify_call c;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c.arg); i++)
		c.arg[i] = dv_fregs_arg(regs, i);
	c.ret = 0;
	c.caller = ret_ip;
	if (p->entry)
		return run_entry(p, data, &c);
	run_pre(p, &c);
	return 0;
}

static void fp_exit(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		    struct dv_fregs *regs, void *data)
{
	struct dmaverify_probe *p = container_of(fp, struct dmaverify_probe, fp);
	struct dmaverify_call c = {
		.ret = dv_fregs_ret(regs),
		.caller = ret_ip,
	};

	run_ret(p, data, &c);
}

static int use_fprobes(struct dmaverify_probe *p, const char *name)
{
	memset(&p->fp, 0, sizeof(p->fp));
	p->fp.entry_handler = fp_entry;
	if (p->entry) {
		p->fp.exit_handler = fp_exit;
		p->fp.entry_data_size = p->data_size;
#ifdef DMAVERIFY_HAVE_FPROBE_PT_REGS
		p->fp.nr_maxactive = max_active();
#endif
	}
	return register_fprobe_syms(&p->fp, &name, 1);
}
#else
static int use_fprobes(struct dmaverify_probe *p, const char *name)
{
	return -EOPNOTSUPP;
}
#endif

/**
 * dmaverify_probe_register() - put a probe on a DMA API entry point
 * @p: the entry point and its handlers
 * @use_fprobe: an fprobe if the kernel can, else kprobes
 *
 * Context: process, may sleep.
 * Return: 0; -ENOENT if the kernel has none of @p's names, -EOPNOTSUPP if
 * its probe would not be ftrace-based, or another negative errno.
 */
int dmaverify_probe_register(struct dmaverify_probe *p, bool use_fprobe)
{
	int i, ret = -ENOENT;

	for (i = 0; i < ARRAY_SIZE(p->names) && p->names[i] && ret == -ENOENT; i++) {
		p->fprobe = false;
		if (use_fprobe) {
			ret = use_fprobes(p, p->names[i]);
			p->fprobe = !ret;
			/* No such function is -ENOENT for kprobes too. */
			if (ret && ret != -ENOENT)
				ret = use_kprobes(p, p->names[i]);
		} else {
			ret = use_kprobes(p, p->names[i]);
		}
		if (!ret)
			p->names[0] = p->names[i];
	}
	p->on = !ret;
	return ret;
}

/**
 * dmaverify_probe_unregister() - remove a registered probe
 * @p: a probe dmaverify_probe_register() put on
 *
 * Context: process, may sleep.  No handler runs once it returns.
 */
void dmaverify_probe_unregister(struct dmaverify_probe *p)
{
	if (!p->on)
		return;
	p->on = false;
#ifdef DMAVERIFY_FPROBES
	if (p->fprobe) {
		unregister_fprobe(&p->fp);
		return;
	}
#endif
	if (p->entry)
		unregister_kretprobe(&p->rp);
	else
		unregister_kprobe(&p->kp);
}

/**
 * dmaverify_probe_missed() - calls a probe did not hand to its handlers
 * @p: a probe
 *
 * Return: the probe core's count (kprobes: nesting on one CPU, no free
 * kretprobe instance; fprobes: recursion in one context, no return slot).
 */
unsigned long dmaverify_probe_missed(const struct dmaverify_probe *p)
{
	if (!READ_ONCE(p->on))
		return 0;
#ifdef DMAVERIFY_FPROBES
	if (p->fprobe)
		return READ_ONCE(p->fp.nmissed);
#endif
	if (p->entry)
		return READ_ONCE(p->rp.kp.nmissed) + READ_ONCE(p->rp.nmissed);
	return READ_ONCE(p->kp.nmissed);
}

/**
 * dmaverify_probe_symbol() - the function a probe is on
 * @p: a registered probe
 *
 * Return: its name in this kernel.
 */
const char *dmaverify_probe_symbol(const struct dmaverify_probe *p)
{
	return p->names[0];
}
