// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify parameters: the settings every layer reads, the driver
 * selection and their parsing.  The bottom floor: it calls no other file;
 * what a change of the selection means is told by the attach layer,
 * through the hook it registers (dmaverify_set_selection_hook()).
 *
 * For more info please see Documentation/dmaverify.rst.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "dmaverify.h"

/* === Settings === */

bool dmaverify_enabled = true;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_enabled);
int dmaverify_action = DV_ACTION_WARN;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_action);
unsigned long dmaverify_checks = ~0UL;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_checks);
unsigned int dmaverify_max_objects = 1U << 20;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_max_objects);
unsigned int dmaverify_stack_depth = 16;
unsigned int dmaverify_hash_bits = 14;
bool dmaverify_multishot;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_multishot);
bool dmaverify_free_stacks;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_free_stacks);
bool dmaverify_object_stacks;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_object_stacks);
bool dmaverify_rebind;
unsigned int dmaverify_leak_report_max = 10;
unsigned int dmaverify_fail_every;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_fail_every);
unsigned int dmaverify_report_ring = 8;

/* === Driver selection === */

/* Names of the selected drivers; guarded by drivers_lock. */
static char drivers[MAX_DRIVERS][DRIVER_NAME_MAX];
static unsigned int nr_drivers;
static DEFINE_SPINLOCK(drivers_lock);

static bool valid_driver_name(const char *s, size_t len)
{
	size_t i;

	if (!len || len >= DRIVER_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		/* isalnum() alone accepts Latin-1 letters. */
		if (!isascii(s[i]) || (!isalnum(s[i]) && s[i] != '_' && s[i] != '-' &&
				       s[i] != '.'))
			return false;
	return true;
}

/**
 * dmaverify_parse_drivers() - parse and validate a driver list
 * @val: comma-separated driver names ("nvme,e1000e"); empty selects none
 * @out: receives MAX_DRIVERS names of DRIVER_NAME_MAX bytes, or NULL
 * @outsz: size of @out in bytes
 *
 * Return: the number of names, or -EINVAL with a message saying why.
 */
int dmaverify_parse_drivers(const char *val, char *out, size_t outsz)
{
	const char *p = val, *end;
	int n = 0;

	while (*p && *p != '\n') {
		size_t len;
		int i;

		end = p + strcspn(p, ",\n");
		len = end - p;
		if (!valid_driver_name(p, len)) {
			pr_err("driver=: '%.*s' is not a driver name (letters, digits, '_', '-', '.'; at most %d characters)\n",
			       (int)min_t(size_t, len, 64), p, DRIVER_NAME_MAX - 1);
			return -EINVAL;
		}
		if (n >= MAX_DRIVERS) {
			pr_err("driver=: more than %d drivers\n", MAX_DRIVERS);
			return -EINVAL;
		}
		for (i = 0; out && i < n; i++) {
			if (!strncmp(out + i * DRIVER_NAME_MAX, p, len) &&
			    !out[i * DRIVER_NAME_MAX + len]) {
				pr_err("driver=: '%.*s' given twice\n", (int)len, p);
				return -EINVAL;
			}
		}
		if (out && (n + 1) * DRIVER_NAME_MAX <= outsz) {
			memcpy(out + n * DRIVER_NAME_MAX, p, len);
			out[n * DRIVER_NAME_MAX + len] = '\0';
		}
		n++;
		p = end;
		if (*p == ',') {
			p++;
			if (!*p || *p == '\n') {
				pr_err("driver=: trailing ','\n");
				return -EINVAL;
			}
		}
	}
	return n;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_parse_drivers);

/* What a selected name means, said by the attach layer (NULL: nothing). */
static void (*selection_hook)(const char *name);

/**
 * dmaverify_set_selection_hook() - who explains a newly selected name
 * @hook: called with each name selected from then on, or NULL
 *
 * Context: process; before the module's parameters can change at run time
 * (module init) and after they no longer can (exit).
 */
void dmaverify_set_selection_hook(void (*hook)(const char *name))
{
	WRITE_ONCE(selection_hook, hook);
}

static void explain(const char *name)
{
	void (*hook)(const char *name) = READ_ONCE(selection_hook);

	if (hook)
		hook(name);
}

/* explain() each name in @list (@n names). */
static void feedback(char (*list)[DRIVER_NAME_MAX], int n)
{
	int i;

	for (i = 0; i < n; i++)
		explain(list[i]);
}

/**
 * dmaverify_selection_feedback_all() - explain every selected name (load)
 *
 * At load, the names were parsed before the module could look at others:
 * the feedback waits for the module's init.
 */
void dmaverify_selection_feedback_all(void)
{
	char (*list)[DRIVER_NAME_MAX];
	int n;

	list = kcalloc(MAX_DRIVERS, DRIVER_NAME_MAX, GFP_KERNEL);
	if (!list)
		return;
	spin_lock(&drivers_lock);
	memcpy(list, drivers, sizeof(drivers));
	n = nr_drivers;
	spin_unlock(&drivers_lock);
	feedback(list, n);
	kfree(list);
}

int dmaverify_set_drivers(const char *val)
{
	char (*list)[DRIVER_NAME_MAX];
	int n;

	list = kcalloc(MAX_DRIVERS, DRIVER_NAME_MAX, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	n = dmaverify_parse_drivers(val, (char *)list, MAX_DRIVERS * DRIVER_NAME_MAX);
	if (n >= 0) {
		spin_lock(&drivers_lock);
		memcpy(drivers, list, sizeof(drivers));
		nr_drivers = n;
		spin_unlock(&drivers_lock);
		/* Not while loading: see dmaverify_selection_feedback_all(). */
		if (THIS_MODULE->state == MODULE_STATE_LIVE)
			feedback(list, n);
	}
	kfree(list);
	return n < 0 ? n : 0;
}

int dmaverify_add_driver(const char *name)
{
	int ret = 0;
	unsigned int i;

	if (!valid_driver_name(name, strlen(name)))
		return -EINVAL;
	spin_lock(&drivers_lock);
	for (i = 0; i < nr_drivers; i++)
		if (!strcmp(drivers[i], name))
			goto out;
	if (nr_drivers >= MAX_DRIVERS) {
		ret = -ENOSPC;
		goto out;
	}
	strscpy(drivers[nr_drivers++], name, DRIVER_NAME_MAX);
	spin_unlock(&drivers_lock);
	explain(name);
	return 0;
out:
	spin_unlock(&drivers_lock);
	return ret;
}

int dmaverify_remove_driver(const char *name)
{
	unsigned int i;
	int ret = -ENOENT;

	spin_lock(&drivers_lock);
	for (i = 0; i < nr_drivers; i++) {
		if (!strcmp(drivers[i], name)) {
			memmove(drivers[i], drivers[i + 1],
				(nr_drivers - i - 1) * DRIVER_NAME_MAX);
			nr_drivers--;
			ret = 0;
			break;
		}
	}
	spin_unlock(&drivers_lock);
	return ret;
}

bool dmaverify_driver_selected(const char *name)
{
	unsigned int i;
	bool found = false;

	spin_lock(&drivers_lock);
	for (i = 0; i < nr_drivers && !found; i++)
		found = !strcmp(drivers[i], name);
	spin_unlock(&drivers_lock);
	return found;
}

int dmaverify_drivers_show(char *buf, size_t size)
{
	unsigned int i;
	int len = 0;

	spin_lock(&drivers_lock);
	for (i = 0; i < nr_drivers; i++)
		len += scnprintf(buf + len, size - len, "%s%s", i ? "," : "",
				 drivers[i]);
	spin_unlock(&drivers_lock);
	return len;
}

static int driver_param_set(const char *val, const struct kernel_param *kp)
{
	return dmaverify_set_drivers(val);
}

static int driver_param_get(char *buf, const struct kernel_param *kp)
{
	int len = dmaverify_drivers_show(buf, PAGE_SIZE - 1);

	buf[len++] = '\n';
	return len;
}

static const struct kernel_param_ops driver_ops = {
	.set = driver_param_set,
	.get = driver_param_get,
};
module_param_cb(driver, &driver_ops, NULL, 0644);
MODULE_PARM_DESC(driver, "Comma-separated drivers whose devices are verified, e.g. nvme,e1000e (default: none). Applies to devices bound from then on");

/* === Action === */

static const char *const action_names[] = {
	[DV_ACTION_WARN] = "warn",
	[DV_ACTION_LOG] = "log",
	[DV_ACTION_PANIC] = "panic",
};

const char *dmaverify_action_name(int action)
{
	return action_names[action];
}

int dmaverify_parse_action(const char *val)
{
	int i = sysfs_match_string(action_names, val);

	if (i < 0)
		pr_err("action=: '%s' is not one of warn, log, panic\n", val);
	return i < 0 ? -EINVAL : i;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_parse_action);

static int action_set(const char *val, const struct kernel_param *kp)
{
	int a = dmaverify_parse_action(val);

	if (a < 0)
		return a;
	WRITE_ONCE(dmaverify_action, a);
	return 0;
}

static int action_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", action_names[READ_ONCE(dmaverify_action)]);
}

static const struct kernel_param_ops action_ops = {
	.set = action_set,
	.get = action_get,
};
module_param_cb(action, &action_ops, NULL, 0644);
MODULE_PARM_DESC(action, "On a violation: warn (report and taint, default), log (report only) or panic (report, then panic: the 0xE6 bug check)");

/* === Mode === */

int dmaverify_mode = DV_MODE_AUTO;

static const char * const mode_names[] = {
	[DV_MODE_AUTO] = "auto",
	[DV_MODE_OPS] = "ops",
	[DV_MODE_OBSERVE] = "observe",
};

static int mode_set(const char *val, const struct kernel_param *kp)
{
	int m = sysfs_match_string(mode_names, val);

	if (m < 0) {
		pr_err("mode=: '%s' is not one of auto, ops, observe\n", val);
		return -EINVAL;
	}
	if (m == DV_MODE_OPS && !dmaverify_interposer_available()) {
		pr_err("mode=ops: this kernel has no per-device dma_map_ops (CONFIG_ARCH_HAS_DMA_OPS)\n");
		return -EINVAL;
	}
	dmaverify_mode = m;
	return 0;
}

/**
 * dmaverify_mode_name() - the name of a mode= value
 * @mode: an &enum dmaverify_mode
 *
 * Return: "auto", "ops" or "observe".
 */
const char *dmaverify_mode_name(int mode)
{
	return mode_names[mode];
}

static int mode_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", mode_names[dmaverify_mode]);
}

static const struct kernel_param_ops mode_ops = {
	.set = mode_set,
	.get = mode_get,
};
module_param_cb(mode, &mode_ops, NULL, 0444);
MODULE_PARM_DESC(mode, "How calls are seen: auto (default: ops where the kernel has per-device dma_map_ops, else observe), ops (interpose: every check, redzones, bounce buffers) or observe (kprobes on the DMA API: tracking checks only, the calls go through unchanged)");

/* === Checks === */

/*
 * dmaverify_parse_checks() - parse a check selection
 * @val: "all", "none", or comma-separated group names, each optionally
 *	prefixed by '-' to remove it from what came before ("all,-leak").
 *	Groups are the "check" column of the violation table; a slug selects
 *	a single rule.
 * @mask: receives one bit per &enum dmaverify_violation
 *
 * Return: 0 or -EINVAL with a message.
 */
int dmaverify_parse_checks(const char *val, unsigned long *mask)
{
	unsigned long m = 0;
	char *copy, *tok, *cur;
	int ret = 0;

	copy = kstrdup(val, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	cur = strim(copy);
	if (!*cur) {
		pr_err("checks=: empty (use \"none\" to check nothing)\n");
		ret = -EINVAL;
	}
	while (!ret && (tok = strsep(&cur, ",")) != NULL) {
		bool minus = *tok == '-';
		unsigned long bits = 0;
		int v;

		if (minus)
			tok++;
		if (!strcmp(tok, "all")) {
			bits = BIT(DV_VIOLATION_COUNT) - 1;
		} else if (!strcmp(tok, "none")) {
			bits = 0;
			if (!minus)
				m = 0;
		} else {
			for (v = 0; v < DV_VIOLATION_COUNT; v++)
				if (!strcmp(tok, dmaverify_codes[v].check) ||
				    !strcmp(tok, dmaverify_codes[v].slug))
					bits |= BIT(v);
			if (!bits) {
				pr_err("checks=: unknown check '%s'\n", tok);
				ret = -EINVAL;
			}
		}
		if (minus)
			m &= ~bits;
		else
			m |= bits;
	}
	kfree(copy);
	if (!ret)
		*mask = m;
	return ret;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_parse_checks);

int dmaverify_checks_show(char *buf, size_t size, unsigned long mask)
{
	const char *last = NULL;
	int v, len = 0;

	if (mask == BIT(DV_VIOLATION_COUNT) - 1)
		return scnprintf(buf, size, "all");
	for (v = 0; v < DV_VIOLATION_COUNT; v++) {
		if (!(mask & BIT(v)))
			continue;
		len += scnprintf(buf + len, size - len, "%s%s", len ? "," : "",
				 dmaverify_codes[v].slug);
		last = dmaverify_codes[v].slug;
	}
	if (!last)
		len = scnprintf(buf, size, "none");
	return len;
}

static int checks_set(const char *val, const struct kernel_param *kp)
{
	unsigned long mask;
	int ret = dmaverify_parse_checks(val, &mask);

	if (!ret)
		WRITE_ONCE(dmaverify_checks, mask);
	return ret;
}

static int checks_get(char *buf, const struct kernel_param *kp)
{
	int len = dmaverify_checks_show(buf, PAGE_SIZE - 1,
					READ_ONCE(dmaverify_checks));

	buf[len++] = '\n';
	return len;
}

static const struct kernel_param_ops checks_ops = {
	.set = checks_set,
	.get = checks_get,
};
module_param_cb(checks, &checks_ops, NULL, 0644);
MODULE_PARM_DESC(checks, "Rules to check: all (default), none, or groups/slugs, '-' to remove: buffer,context,csum,error,fault,free,leak,limits,mask,overlap,redzone,release,sg,sync (e.g. all,-leak)");

/* === Numbers === */

/* An unsigned int parameter that rejects values outside [lo, hi]. */
struct ranged {
	unsigned int *var;
	unsigned int lo;
	unsigned int hi;
};

static int ranged_set(const char *val, const struct kernel_param *kp)
{
	const struct ranged *r = kp->arg;
	unsigned int n;

	if (kstrtouint(val, 0, &n) || n < r->lo || n > r->hi) {
		pr_err("%s=: '%s' is not a number from %u to %u\n", kp->name,
		       strim((char *)val), r->lo, r->hi);
		return -EINVAL;
	}
	WRITE_ONCE(*r->var, n);
	return 0;
}

static int ranged_get(char *buf, const struct kernel_param *kp)
{
	const struct ranged *r = kp->arg;

	return sysfs_emit(buf, "%u\n", READ_ONCE(*r->var));
}

static const struct kernel_param_ops ranged_ops = {
	.set = ranged_set,
	.get = ranged_get,
};

static struct ranged max_objects_range = { &dmaverify_max_objects, 1, INT_MAX };
module_param_cb(max_objects, &ranged_ops, &max_objects_range, 0644);
MODULE_PARM_DESC(max_objects, "Outstanding DMA objects per device above which too-many-maps (0x15) is reported (default 1048576)");

static struct ranged stack_depth_range = { &dmaverify_stack_depth, 0, 32 };
module_param_cb(stack_depth, &ranged_ops, &stack_depth_range, 0644);
MODULE_PARM_DESC(stack_depth, "Frames saved per stack (one per call site, or per object with object_stacks=1): 0 or 1 keeps each object's caller only, cheapest (default 16)");

static struct ranged hash_bits_range = { &dmaverify_hash_bits, 8, 20 };
module_param_cb(hash_bits, &ranged_ops, &hash_bits_range, 0444);
MODULE_PARM_DESC(hash_bits, "log2 of the tracker's hash buckets per device to begin with; they grow with the load (default 14: 16384 buckets)");

static struct ranged leak_report_max_range = { &dmaverify_leak_report_max, 0, 100000 };
module_param_cb(leak_report_max, &ranged_ops, &leak_report_max_range, 0644);
MODULE_PARM_DESC(leak_report_max, "Leak reports printed per device at release, one per call site (with its count; the sites that leaked most first); every object is counted (default 10)");

static struct ranged fail_every_range = { &dmaverify_fail_every, 0, INT_MAX };
module_param_cb(fail_every, &ranged_ops, &fail_every_range, 0644);
MODULE_PARM_DESC(fail_every, "Fault injection: fail every Nth streaming map of verified devices, to expose unchecked mapping errors (default 0: never)");

static struct ranged report_ring_range = { &dmaverify_report_ring, 0, 64 };
module_param_cb(report_ring, &ranged_ops, &report_ring_range, 0444);
MODULE_PARM_DESC(report_ring, "Complete reports kept for debugfs \"reports\" (dmaverify violations --json), the last N, 8 KiB each, allocated at load; 0-64 (default 8)");

module_param_named(enabled, dmaverify_enabled, bool, 0644);
MODULE_PARM_DESC(enabled, "Verify (Y, default) or only forward (N); objects mapped while N are never reported");
module_param_named(free_stacks, dmaverify_free_stacks, bool, 0644);
MODULE_PARM_DESC(free_stacks, "Also save the stack of every unmap and free, for double-free reports (default N: costs a stack unwind per release)");
module_param_named(object_stacks, dmaverify_object_stacks, bool, 0644);
MODULE_PARM_DESC(object_stacks, "Save a full stack for every DMA object (default N: each object records its caller's address, and each call site keeps one stack; Y costs a stack unwind per mapping)");
module_param_named(multishot, dmaverify_multishot, bool, 0644);
MODULE_PARM_DESC(multishot, "Print every report, not once per violation and call site (default N)");
module_param_named(rebind, dmaverify_rebind, bool, 0444);
MODULE_PARM_DESC(rebind, "At load, rebind devices already bound to a selected driver so they are verified (default N: unbinding the root disk's driver can hang a machine)");

