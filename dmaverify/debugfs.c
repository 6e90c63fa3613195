// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify DebugFS interface: runtime control, statistics, the violation
 * log and the per-device state dump (the analogue of Windows' !dma).
 *
 * /sys/kernel/debug/dmaverify/
 *   control     commands, one per write (see Documentation/dmaverify.rst)
 *   stats       global and per-device counters, like "verifier /query"
 *   violations  the last reports, one machine-readable line each
 *   reports     the last report_ring reports, whole, as printed
 *   devices/<device>/objects  one line per outstanding DMA object
 *   devices/<device>/stacks   the same, each with its creating stack
 *   devices/<device>/faults   how its IOMMU's faults are seen, and the faults
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/debugfs.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/fault-inject.h>

#include "dmaverify.h"

static struct dentry *root_dir, *devices_dir;

/* Serialises control commands. */
static DEFINE_MUTEX(control_lock);

/* === stats === */

static const char *const kind_titles[DV_KIND_COUNT] = {
	[DV_KIND_COHERENT] = "coherent buffers",
	[DV_KIND_PAGES] = "noncoherent pages",
	[DV_KIND_MAP] = "streaming maps",
	[DV_KIND_RESOURCE] = "resource maps",
	[DV_KIND_SG] = "scatter/gather lists",
};

static void show_dev_stats(struct seq_file *seq, struct dmaverify_dev *ctx)
{
	unsigned long buckets;
	int k, v;

	seq_printf(seq, "device %s driver %s state %s mode %s", dev_name(dmaverify_ctx_dev(ctx)),
		   ctx->driver,
		   READ_ONCE(ctx->state) == DV_STATE_ATTACHED ? "attached" : "released",
		   ctx->observe ? "observe" : ctx->sampled ? "sampled" :
		   ctx->partial ? "port" : "ops");
	if (ctx->port)
		seq_printf(seq, " through %s %s", ctx->port->driver,
			   dev_name(ctx->dev));
	seq_putc(seq, '\n');
	for (k = 0; k < DV_KIND_COUNT; k++) {
		struct dmaverify_kind_stats s;

		dmaverify_kind_stats(ctx, k, &s);
		seq_printf(seq, "  %-22s allocated %ld freed %ld outstanding %ld peak %ld bytes %ld\n",
			   kind_titles[k], s.allocated, s.freed, s.outstanding,
			   s.peak, s.bytes);
	}
	if (ctx->sampled)
		seq_printf(seq, "  sampled outstanding %ld (other objects are not tracked nor counted)\n",
			   atomic_long_read(&ctx->sample_live));
	seq_printf(seq, "  tracked %ld untracked %ld (outstanding %ld)\n",
		   dmaverify_tracker_count(&ctx->tracker),
		   dmaverify_untracked_total(ctx), dmaverify_untracked(ctx));
	buckets = dmaverify_tracker_buckets(&ctx->tracker);
	seq_printf(seq, "  index buckets %lu (%lu KiB; they grow with the load)\n",
		   buckets, buckets * sizeof(void *) / 1024);
	if (atomic_long_read(&ctx->bounce_skipped))
		seq_printf(seq, "  bounce skipped %ld (released bounce buffers waiting to be freed)\n",
			   atomic_long_read(&ctx->bounce_skipped));
	if (atomic_long_read(&ctx->bounce_failed))
		seq_printf(seq, "  bounce failed %ld (no bounce buffer: out of memory, or outside the DMA mask; mapped unbounced)\n",
			   atomic_long_read(&ctx->bounce_failed));
	dmaverify_bounce_show(seq, ctx);
	if (ctx->observe) {
		seq_printf(seq, "  observer: missed %lu calls since load (%lu creations since attach), unverifiable %ld\n",
			   dmaverify_observe_missed(),
			   dmaverify_observe_missed_creations() - ctx->missed_base,
			   atomic_long_read(&ctx->unverifiable));
		if (dmaverify_observe_lossy(ctx) ||
		    atomic_long_read(&ctx->unverifiable))
			seq_puts(seq, "  degraded: the observer missed calls; unknown releases and leaks are not reported\n");
	}
	dmaverify_iommu_show(seq, ctx);
	for (v = 0; v < DV_VIOLATION_COUNT; v++) {
		long n = atomic_long_read(&ctx->violations[v]);

		if (n)
			seq_printf(seq, "  violation 0x%02x/0x%02x %s: %ld\n",
				   dmaverify_codes[v].code, dmaverify_codes[v].sub,
				   dmaverify_codes[v].slug, n);
	}
}

static int stats_show(struct seq_file *seq, void *unused)
{
	struct dmaverify_dev *ctx;
	char buf[512];
	long total = 0;
	int v;

	seq_printf(seq, "enabled: %d\n", READ_ONCE(dmaverify_enabled));
	dmaverify_drivers_show(buf, sizeof(buf));
	seq_printf(seq, "drivers: %s\n", buf);
	dmaverify_selection_show(seq);
	seq_printf(seq, "action: %s\n", dmaverify_action_name(READ_ONCE(dmaverify_action)));
	dmaverify_checks_show(buf, sizeof(buf), READ_ONCE(dmaverify_checks));
	seq_printf(seq, "checks: %s\n", buf);
	for (v = 0; v < DV_VIOLATION_COUNT; v++)
		total += atomic_long_read(&dmaverify_total_violations[v]);
	seq_printf(seq, "violations: %ld\n", total);
	for (v = 0; v < DV_VIOLATION_COUNT; v++)
		if (atomic_long_read(&dmaverify_total_violations[v]))
			seq_printf(seq, "  0x%02x/0x%02x %s: %ld\n",
				   dmaverify_codes[v].code, dmaverify_codes[v].sub,
				   dmaverify_codes[v].slug,
				   atomic_long_read(&dmaverify_total_violations[v]));
	dmaverify_sample_show(seq);
	dmaverify_observe_show(seq);
	dmaverify_stack_show(seq);
	mutex_lock(&dmaverify_devices_lock);
	list_for_each_entry(ctx, &dmaverify_devices, list)
		show_dev_stats(seq, ctx);
	mutex_unlock(&dmaverify_devices_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/* === violations === */

static int violations_show(struct seq_file *seq, void *unused)
{
	return dmaverify_violations_show(seq);
}
DEFINE_SHOW_ATTRIBUTE(violations);

static int reports_show(struct seq_file *seq, void *unused)
{
	return dmaverify_reports_show(seq);
}
DEFINE_SHOW_ATTRIBUTE(reports);

/* === devices/<device>/{objects,stacks} === */

struct dump_arg {
	struct seq_file *seq;
	bool stacks;
};

static void dump_obj(const struct dmaverify_obj *obj, void *arg)
{
	struct dump_arg *d = arg;
	unsigned int ms = jiffies_to_msecs((u32)jiffies - obj->when);

	dmaverify_print_obj(d->seq, obj);
	seq_printf(d->seq, " age %u.%03us\n", ms / 1000, ms % 1000);
	if (d->stacks)
		dmaverify_print_creator(d->seq, obj->stack, obj->when);
}

/*
 * The file's private data is the struct device: a context may be retired
 * (and freed) while the file is open, so look it up again under the lock.
 */
static int dump_show(struct seq_file *seq, bool stacks)
{
	struct device *dev = seq->private;
	struct dump_arg d = { .seq = seq, .stacks = stacks };
	struct dmaverify_dev *ctx;

	mutex_lock(&dmaverify_devices_lock);
	list_for_each_entry(ctx, &dmaverify_devices, list) {
		if (dmaverify_ctx_dev(ctx) != dev)
			continue;
		seq_printf(seq, "# device %s driver %s: %ld outstanding objects",
			   dev_name(dev), ctx->driver,
			   dmaverify_tracker_count(&ctx->tracker));
		if (ctx->port)
			seq_printf(seq, ", DMA through %s %s", ctx->port->driver,
				   dev_name(ctx->dev));
		seq_putc(seq, '\n');
		dmaverify_tracker_for_each(&ctx->tracker, dump_obj, &d);
		dmaverify_dmaengine_show(seq, ctx);
	}
	mutex_unlock(&dmaverify_devices_lock);
	return 0;
}

static int objects_show(struct seq_file *seq, void *unused)
{
	return dump_show(seq, false);
}
DEFINE_SHOW_ATTRIBUTE(objects);

static int stacks_show(struct seq_file *seq, void *unused)
{
	return dump_show(seq, true);
}
DEFINE_SHOW_ATTRIBUTE(stacks);

static void add_dev(struct dmaverify_dev *ctx)
{
	struct dentry *d;

	if (IS_ERR_OR_NULL(devices_dir))
		return;
	d = debugfs_create_dir(dev_name(dmaverify_ctx_dev(ctx)), devices_dir);
	debugfs_create_file("objects", 0400, d, dmaverify_ctx_dev(ctx), &objects_fops);
	debugfs_create_file("stacks", 0400, d, dmaverify_ctx_dev(ctx), &stacks_fops);
	if (!ctx->port)
		debugfs_create_file("faults", 0400, d, ctx->dev, &dmaverify_faults_fops);
}

static void remove_dev(struct dmaverify_dev *ctx)
{
	if (!IS_ERR_OR_NULL(devices_dir))
		debugfs_lookup_and_remove(dev_name(dmaverify_ctx_dev(ctx)), devices_dir);
}

/* Each attached device gets its directory under devices/. */
static const struct dmaverify_dev_hooks dev_hooks = {
	.added = add_dev,
	.removed = remove_dev,
};

/* === control === */

static void reset_counters(void)
{
	struct dmaverify_dev *ctx;
	int v;

	mutex_lock(&dmaverify_devices_lock);
	list_for_each_entry(ctx, &dmaverify_devices, list)
		for (v = 0; v < DV_VIOLATION_COUNT; v++)
			atomic_long_set(&ctx->violations[v], 0);
	mutex_unlock(&dmaverify_devices_lock);
	dmaverify_reports_reset();
}

/*
 * Commands:
 *   enable | disable          verify, or only forward
 *   attach DRIVER             verify DRIVER's devices bound from now on
 *   detach DRIVER             stop selecting DRIVER (bound devices stay)
 *   rebind DRIVER             reprobe DRIVER's bound devices (attach them)
 *   action warn|log|panic
 *   checks SPEC               as the checks= parameter
 *   multishot on|off
 *   reset                     zero the violation counters and the log
 *   scan                      check every redzone now
 */
static int run_command(char *cmd)
{
	char *arg = strim(cmd), *verb = strsep(&arg, " \t");
	unsigned long mask;
	int a;

	if (arg)
		arg = strim(arg);
	if (!strcmp(verb, "enable") && !arg) {
		WRITE_ONCE(dmaverify_enabled, true);
	} else if (!strcmp(verb, "disable") && !arg) {
		WRITE_ONCE(dmaverify_enabled, false);
	} else if (!strcmp(verb, "attach") && arg) {
		return dmaverify_add_driver(arg);
	} else if (!strcmp(verb, "detach") && arg) {
		return dmaverify_remove_driver(arg);
	} else if (!strcmp(verb, "rebind") && arg) {
		if (!dmaverify_driver_selected(arg))
			return -ENOENT;
		a = dmaverify_rebind_selected(arg);
		return a < 0 ? a : 0;
	} else if (!strcmp(verb, "action") && arg) {
		a = dmaverify_parse_action(arg);
		if (a < 0)
			return a;
		WRITE_ONCE(dmaverify_action, a);
	} else if (!strcmp(verb, "checks") && arg) {
		a = dmaverify_parse_checks(arg, &mask);
		if (a)
			return a;
		WRITE_ONCE(dmaverify_checks, mask);
	} else if (!strcmp(verb, "multishot") && arg &&
		   (!strcmp(arg, "on") || !strcmp(arg, "off"))) {
		WRITE_ONCE(dmaverify_multishot, !strcmp(arg, "on"));
	} else if (!strcmp(verb, "reset") && !arg) {
		reset_counters();
	} else if (!strcmp(verb, "scan") && !arg) {
		dmaverify_scan_all();
	} else {
		return -EINVAL;
	}
	return 0;
}

static ssize_t control_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char buf[128];
	int ret;

	if (!count || count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (strlen(buf) != count)	/* Embedded NUL: binary input. */
		return -EINVAL;
	mutex_lock(&control_lock);
	ret = run_command(buf);
	mutex_unlock(&control_lock);
	return ret ? ret : count;
}

static int control_show(struct seq_file *seq, void *unused)
{
	seq_puts(seq, "enable | disable | attach DRIVER | detach DRIVER | rebind DRIVER | action warn|log|panic | checks SPEC | multishot on|off | reset | scan\n");
	return 0;
}

static int control_open(struct inode *inode, struct file *file)
{
	return single_open(file, control_show, NULL);
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.open = control_open,
	.read = seq_read,
	.write = control_write,
	.llseek = seq_lseek,
	.release = single_release,
};

int dmaverify_debugfs_init(void)
{
	root_dir = debugfs_create_dir("dmaverify", NULL);
	debugfs_create_file("control", 0600, root_dir, NULL, &control_fops);
	debugfs_create_file("stats", 0400, root_dir, NULL, &stats_fops);
	debugfs_create_file("violations", 0400, root_dir, NULL, &violations_fops);
	debugfs_create_file("reports", 0400, root_dir, NULL, &reports_fops);
	devices_dir = debugfs_create_dir("devices", root_dir);
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	/* Fault injection (Documentation/fault-injection): the driver's maps, */
	fault_create_debugfs_attr("fail_map", root_dir, &dmaverify_fail_map);
	/* and dmaverify's own allocations. */
	fault_create_debugfs_attr("fail_track", root_dir, &dmaverify_fail_track);
	fault_create_debugfs_attr("fail_bounce", root_dir, &dmaverify_fail_bounce);
#endif
	dmaverify_set_dev_hooks(&dev_hooks);
	return 0;
}

void dmaverify_debugfs_exit(void)
{
	dmaverify_set_dev_hooks(NULL);
	debugfs_remove_recursive(root_dir);
	root_dir = NULL;
	devices_dir = NULL;
}
