// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify reporting: the violation table, report formatting, rate
 * limiting and the action taken (warn, log or panic).
 *
 * Reports are formatted like KASAN and KFENCE reports; see
 * Documentation/dmaverify.rst, "Error reports".
 */

/* Report lines carry no prefix, like KASAN and KFENCE reports. */
#define pr_fmt(fmt) fmt

#include <linux/cred.h>
#include <linux/jiffies.h>
#include <linux/kallsyms.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/lockdep.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/panic.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/smp.h>
#include <linux/stacktrace.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/vmalloc.h>

#include "dmaverify.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* === The violation table === */

#define CODE(_v, _code, _sub, _slug, _check, _title)			\
	[_v] = { .code = _code, .sub = _sub, .slug = _slug,		\
		 .check = _check, .title = _title }

/*
 * Codes below 0x80 are Windows' bug check 0xE6 parameter 1 values, reused
 * where the Linux rule is the analogue of the Windows one; 0x80 and up are
 * rules only Linux has.  Documentation/dmaverify.rst lists every row with a
 * real report, and the KUnit suite has a case for each.
 */
const struct dmaverify_code dmaverify_codes[DV_VIOLATION_COUNT] = {
	CODE(DV_SYNC_OVERFLOW, 0x00, 0x01, "sync-overflow", "sync",
	     "sync past the end of a mapping"),
	CODE(DV_DOUBLE_FREE, 0x03, 0, "double-free", "free",
	     "free of a coherent buffer that is not allocated"),
	CODE(DV_DOUBLE_UNMAP, 0x05, 0, "double-unmap", "free",
	     "unmap of an address that is not mapped"),
	CODE(DV_DOUBLE_UNMAP_SG, 0x06, 0, "double-unmap-sg", "free",
	     "unmap of a scatter/gather list that is not mapped"),
	CODE(DV_LEAK_COHERENT, 0x07, 0, "leak-coherent", "leak",
	     "coherent buffers still allocated when the driver was released"),
	CODE(DV_LEAK_MAP, 0x09, 0, "leak-map", "leak",
	     "streaming mappings still mapped when the driver was released"),
	CODE(DV_LEAK_SG, 0x0A, 0, "leak-sg", "leak",
	     "scatter/gather lists still mapped when the driver was released"),
	CODE(DV_MAP_TOO_LARGE, 0x0C, 0, "map-too-large", "limits",
	     "mapping larger than the device can map at once"),
	CODE(DV_OVERRUN_BEFORE, 0x0F, 0x04, "overrun-before", "redzone",
	     "memory before a DMA buffer was overwritten"),
	CODE(DV_OVERRUN_AFTER, 0x0F, 0x05, "overrun-after", "redzone",
	     "memory after a DMA buffer was overwritten"),
	CODE(DV_WRITE_AFTER_UNMAP, 0x0F, 0x03, "write-after-unmap", "redzone",
	     "a released DMA buffer was written"),
	CODE(DV_ALLOC_ATOMIC, 0x13, 0x01, "alloc-in-atomic", "context",
	     "allocation that may sleep in atomic context"),
	CODE(DV_FREE_IRQS_OFF, 0x13, 0x02, "free-irqs-off", "context",
	     "coherent free with interrupts disabled"),
	CODE(DV_CALL_IN_NMI, 0x14, 0, "call-in-nmi", "context",
	     "DMA API call from NMI context"),
	CODE(DV_TOO_MANY_MAPS, 0x15, 0, "too-many-maps", "limits",
	     "too many outstanding DMA objects on the device"),
	CODE(DV_SYNC_UNMAPPED, 0x16, 0, "sync-unmapped", "sync",
	     "sync of an address that is not mapped"),
	CODE(DV_USE_AFTER_RELEASE, 0x18, 0, "use-after-release", "release",
	     "DMA API call on a device whose driver was released"),
	CODE(DV_OVERLAP, 0x1D, 0, "overlapping-map", "overlap",
	     "mapping of a range that is already mapped"),
	CODE(DV_MAP_STACK, 0x1F, 0x10, "map-stack", "buffer",
	     "mapping of memory on a task stack"),
	CODE(DV_MAP_RODATA, 0x1F, 0x11, "map-rodata", "buffer",
	     "mapping of kernel text or read-only data"),
	CODE(DV_MAP_INVALID, 0x1F, 0x12, "map-invalid", "buffer",
	     "mapping of memory outside the kernel's linear map"),
	CODE(DV_SYNC_SG_UNMAPPED, 0x20, 0, "sync-sg-unmapped", "sync",
	     "sync of a scatter/gather list that is not mapped"),
	CODE(DV_ZERO_LENGTH, 0x21, 0, "zero-length", "buffer",
	     "mapping of a zero-length buffer"),
	CODE(DV_DEVICE_USED_RELEASED, 0x26, 0x01, "device-used-released", "fault",
	     "device accessed a DMA buffer after the driver released it"),
	CODE(DV_DEVICE_USED_UNMAPPED, 0x26, 0x02, "device-used-unmapped", "fault",
	     "device accessed an address the DMA API never gave out"),
	CODE(DV_DEVICE_WRONG_DIRECTION, 0x26, 0x03, "device-wrong-direction", "fault",
	     "device wrote a DMA_TO_DEVICE mapping or read a DMA_FROM_DEVICE one"),
	CODE(DV_WRONG_SIZE, 0x80, 0, "wrong-size", "free",
	     "release with a size other than the mapped one"),
	CODE(DV_WRONG_FUNCTION, 0x81, 0, "wrong-function", "free",
	     "release with a function that does not match the mapping"),
	CODE(DV_WRONG_CPU_ADDR, 0x82, 0, "wrong-cpu-address", "free",
	     "coherent free with a CPU address other than the allocated one"),
	CODE(DV_WRONG_NENTS, 0x83, 0, "wrong-nents", "free",
	     "scatter/gather call with an entry count other than the mapped one"),
	CODE(DV_WRONG_DIRECTION, 0x84, 0, "wrong-direction", "free",
	     "unmap with a direction other than the mapped one"),
	CODE(DV_SYNC_DIRECTION, 0x85, 0, "sync-wrong-direction", "sync",
	     "sync with a direction other than the mapped one"),
	CODE(DV_SYNC_TO_CPU_RO, 0x86, 0, "sync-readonly-for-cpu", "sync",
	     "sync for the CPU of a mapping the device only reads"),
	CODE(DV_SYNC_TO_DEV_WO, 0x87, 0, "sync-writeonly-for-device", "sync",
	     "sync for the device of a mapping the device only writes"),
	CODE(DV_UNCHECKED_ERROR, 0x88, 0, "unchecked-map-error", "error",
	     "use of a failed mapping: the driver did not check dma_mapping_error()"),
	CODE(DV_SG_SEG_TOO_LONG, 0x89, 0, "sg-segment-too-long", "sg",
	     "scatter/gather segment longer than the device allows"),
	CODE(DV_SG_SEG_BOUNDARY, 0x8A, 0, "sg-segment-boundary", "sg",
	     "scatter/gather segment crossing the device's boundary"),
	CODE(DV_ADDR_OUTSIDE_MASK, 0x8B, 0, "outside-dma-mask", "mask",
	     "DMA address beyond the device's DMA mask"),
	CODE(DV_SG_MANGLED, 0x8C, 0, "sg-mangled", "sg",
	     "scatter/gather list changed between map and unmap"),
	CODE(DV_STALE_TO_DEVICE, 0x8D, 0, "stale-to-device", "csum",
	     "CPU wrote a TO_DEVICE buffer while the device owned it"),
	CODE(DV_CPU_WRITE_LOST, 0x8E, 0, "cpu-write-lost", "csum",
	     "CPU wrote a FROM_DEVICE buffer while the device owned it"),
	CODE(DV_CHAN_LEAK, 0x08, 0, "dma-channel-leak", "dmaengine",
	     "dmaengine channel still held when the driver was released"),
	CODE(DV_CHAN_DOUBLE_RELEASE, 0x04, 0x01, "dma-channel-double-release", "dmaengine",
	     "dmaengine channel released twice"),
	CODE(DV_CHAN_USE_AFTER_RELEASE, 0x04, 0x02, "dma-channel-use-after-release", "dmaengine",
	     "dmaengine channel used after the driver released it"),
	CODE(DV_DMA_IN_FLIGHT, 0x23, 0x01, "dma-buffer-in-flight", "dmaengine",
	     "buffer released while a dmaengine transfer using it was in flight"),
	CODE(DV_TERMINATE_NO_SYNC, 0x23, 0x02, "terminate-without-synchronize", "dmaengine",
	     "buffer released after dmaengine_terminate_async() without dmaengine_synchronize()"),
	CODE(DV_DESC_DOUBLE_SUBMIT, 0x98, 0, "dma-descriptor-double-submit", "dmaengine",
	     "dmaengine descriptor submitted twice"),
	CODE(DV_SUBMIT_UNMAPPED, 0x90, 0, "submit-unmapped", "release",
	     "request handed to a port driver with a DMA buffer that is no longer mapped"),
};
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_codes);

const char *const dmaverify_kind_names[DV_KIND_COUNT] = {
	[DV_KIND_COHERENT] = "coherent",
	[DV_KIND_PAGES] = "pages",
	[DV_KIND_MAP] = "map",
	[DV_KIND_RESOURCE] = "resource",
	[DV_KIND_SG] = "sg",
};

const char *dmaverify_dir_name(int dir)
{
	switch (dir) {
	case DMA_BIDIRECTIONAL: return "DMA_BIDIRECTIONAL";
	case DMA_TO_DEVICE: return "DMA_TO_DEVICE";
	case DMA_FROM_DEVICE: return "DMA_FROM_DEVICE";
	case DMA_NONE: return "DMA_NONE";
	default: return "DMA_<invalid>";
	}
}

/* === Output to the console buffer or a seq_file === */

#define REPORT_BUF	8192

/* The report being built, and its title's function; guarded by report_lock. */
static char report_buf[REPORT_BUF];
static size_t report_len;
static char title_fn[KSYM_SYMBOL_LEN];

/*
 * Serialises reports so that two CPUs never interleave their lines, and
 * guards report_buf and the rate-limit table.  Raw: reports come from
 * hardirq and NMI context.
 */
static DEFINE_RAW_SPINLOCK(report_lock);

static __printf(2, 3) void out(struct seq_file *seq, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	if (seq) {
		seq_vprintf(seq, fmt, args);
	} else if (report_len < REPORT_BUF) {
		report_len += vscnprintf(report_buf + report_len,
					 REPORT_BUF - report_len, fmt, args);
	}
	va_end(args);
}

/*
 * Frames to skip so that a stack starts at the caller of the DMA API.
 * @when: when a saved stack was taken, or NULL for the running one.  A
 * frame of a module unloaded since is the driver's: it has no symbol left,
 * which dmaverify_own_frame() would take for a trampoline of its own.
 */
static unsigned int skipnr(const unsigned long *entries, unsigned int nr,
			   const u32 *when)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if ((when && dmaverify_frame_gone(entries[i], *when, NULL, 0)) ||
		    !dmaverify_own_frame(entries[i]))
			return i;
	return 0;
}

/* Scratch for a frame of an unloaded module; guarded by report_lock. */
static char gone_sym[KSYM_SYMBOL_LEN];

/*
 * A frame: "%pS", or for a saved stack (@when not NULL) whose module was
 * unloaded since, the symbol it had then (stack.c).  Only the report being
 * built (@seq NULL, report_lock held) and the process-context dumps print
 * saved stacks.
 */
static void print_frame(struct seq_file *seq, unsigned long ip, const u32 *when)
{
	char buf[KSYM_SYMBOL_LEN], *sym = seq ? buf : gone_sym;

	if (when && dmaverify_frame_gone(ip, *when, sym, KSYM_SYMBOL_LEN))
		out(seq, " %s\n", sym);
	else
		out(seq, " %pS\n", (void *)ip);
}

static void print_stack(struct seq_file *seq, const unsigned long *entries,
			unsigned int nr, const u32 *when)
{
	unsigned int i;

	for (i = skipnr(entries, nr, when); i < nr; i++)
		print_frame(seq, entries[i], when);
}

/**
 * dmaverify_print_stack() - print a saved stack without dmaverify's frames
 * @seq: a seq_file, or NULL for the report being built
 * @handle: from dmaverify_save_stack()
 * @when: jiffies when it was saved (a frame of a module unloaded since
 *	prints as it was resolved at the unload)
 */
void dmaverify_print_stack(struct seq_file *seq, unsigned long handle, u32 when)
{
	unsigned long entries[32];
	unsigned int nr = dmaverify_fetch_stack(handle, entries, ARRAY_SIZE(entries));

	if (!nr)
		out(seq, " (no stack recorded)\n");
	else
		print_stack(seq, entries, nr, &when);
}

/*
 * " at T.TTTs (A.AAAs ago)" for an event at jiffies @when: T on the clock
 * of the kernel log's timestamps (local_clock()), so that it can be found
 * in dmesg, to the jiffy.
 */
static void print_when(struct seq_file *seq, u32 when)
{
	unsigned int ms = jiffies_to_msecs((u32)jiffies - when);
	u64 now = div_u64(local_clock(), NSEC_PER_MSEC);
	u64 at = now > ms ? now - ms : 0;
	u32 at_ms;

	at = div_u64_rem(at, MSEC_PER_SEC, &at_ms);
	out(seq, " at %llu.%03us (%u.%03us ago)", at, at_ms, ms / 1000, ms % 1000);
}

/* " by task N on cpu M": who made a call; nothing if not recorded. */
static void print_task(struct seq_file *seq, int pid, int cpu)
{
	if (pid >= 0)
		out(seq, " by task %d on cpu %d", pid, cpu);
}

/**
 * dmaverify_print_creator() - print the stack that created an object
 * @seq: a seq_file, or NULL for the report being built
 * @handle: the object's stack, from dmaverify_creator_stack()
 * @when: jiffies at the object's creation
 *
 * A full stack, or (by default) the object's caller followed by the stack
 * its call site keeps: one earlier creation from the same place, with the
 * task, CPU and time of that creation.
 */
void dmaverify_print_creator(struct seq_file *seq, unsigned long handle,
			     u32 when)
{
	struct dmaverify_site site;

	dmaverify_print_stack(seq, handle, when);
	if (!dmaverify_site_stack(handle, &site))
		return;
	out(seq, "a mapping from this call site was created");
	print_task(seq, site.pid, site.cpu);
	print_when(seq, site.when);
	out(seq, ":\n");
	dmaverify_print_stack(seq, site.stack, site.when);
}

/**
 * dmaverify_print_obj() - one line describing an object
 * @seq: a seq_file, or NULL for the report being built
 * @obj: the object
 *
 * CPU addresses are printed with %p, hashed unless the kernel was booted
 * with no_hash_pointers.  DMA addresses are bus addresses, printed in full
 * as dma-debug does.
 */
void dmaverify_print_obj(struct seq_file *seq, const struct dmaverify_obj *obj)
{
	dma_addr_t end = obj->dma + (obj->size ? obj->size - 1 : 0);

	out(seq, "%s [dma %pad-%pad, size=%zu, %s", dmaverify_kind_names[obj->kind],
	    &obj->dma, &end, (size_t)obj->size, dmaverify_dir_name(obj->dir));
	if (obj->kind == DV_KIND_SG)
		out(seq, ", nents=%u, mapped=%u, sgl=%p", obj->nents,
		    obj->mapped, (void *)obj->phys);
	else if (obj->kind == DV_KIND_COHERENT)
		out(seq, ", cpu=%p", (void *)obj->phys);
	if (obj->flags & DV_OBJ_BOUNCED)
		out(seq, ", bounced");
	if (obj->flags & DV_OBJ_REDZONED)
		out(seq, ", redzoned");
	if (obj->flags & DV_OBJ_SAMPLED)
		out(seq, ", sampled");
	out(seq, "]");
}

/* === Rate limiting === */

#define SEEN_SLOTS 256

/* (violation, call site) pairs already reported; guarded by report_lock. */
static struct {
	unsigned long ip;
	u8 v;
} seen[SEEN_SLOTS];
static unsigned int nr_seen;

/* Precondition: report_lock is held. */
static bool already_reported(enum dmaverify_violation v, unsigned long ip)
{
	unsigned int i;

	if (READ_ONCE(dmaverify_multishot))
		return false;
	for (i = 0; i < nr_seen; i++)
		if (seen[i].v == v && seen[i].ip == ip)
			return true;
	if (nr_seen < SEEN_SLOTS) {
		seen[nr_seen].v = v;
		seen[nr_seen].ip = ip;
		nr_seen++;
	}
	return false;
}

/* === Violation log (debugfs "violations") === */

#define VLOG_SIZE 64

/* The last reports, one record each; guarded by report_lock. */
static struct dmaverify_vlog {
	u64 ns;			/* Boot time of the report. */
	char dev[32];		/* Device name. */
	char drv[24];		/* Driver name. */
	unsigned long addr;	/* Address passed by the call. */
	char site[96];		/* Call site, resolved when it was logged. */
	u64 report;		/* Its number in the report ring; 0: none. */
	u8 v;			/* Violation. */
	bool shown;		/* Printed (not rate-limited). */
} vlog[VLOG_SIZE];
static unsigned int vlog_head;
static unsigned long vlog_total;

/*
 * "%pS" of a call site, or (@ip_when: when the stack holding it was saved)
 * its symbol when its module was unloaded since.
 */
static void site_name(char *buf, size_t size, unsigned long ip,
		      const u32 *ip_when)
{
	if (!ip_when || !dmaverify_frame_gone(ip, *ip_when, buf, size))
		snprintf(buf, size, "%pS", (void *)ip);
}

/*
 * @ip_when: when the stack holding @ip was saved, NULL for the running one.
 * The site is resolved now, not when the log is read: its module may be
 * gone by then, and another one loaded at its address.
 */
static void log_violation(const struct dmaverify_report *r, unsigned long ip,
			  const u32 *ip_when, bool shown)
{
	struct dmaverify_vlog *l = &vlog[vlog_head];

	l->ns = ktime_get_boot_fast_ns();
	strscpy(l->dev, dev_name(dmaverify_ctx_dev(r->ctx)), sizeof(l->dev));
	strscpy(l->drv, r->ctx->driver, sizeof(l->drv));
	l->addr = r->addr;
	site_name(l->site, sizeof(l->site), ip, ip_when);
	l->v = r->v;
	l->shown = shown;
	l->report = 0;
	vlog_head = (vlog_head + 1) % VLOG_SIZE;
	vlog_total++;
}

/* The report just printed was kept in the ring as number @n. */
static void log_report(u64 n)
{
	vlog[(vlog_head + VLOG_SIZE - 1) % VLOG_SIZE].report = n;
}

/**
 * dmaverify_violations_show() - print the violation log, one line each
 * @seq: the debugfs file
 *
 * Return: 0.
 */
int dmaverify_violations_show(struct seq_file *seq)
{
	struct dmaverify_vlog *copy;
	unsigned int i, n, head;
	unsigned long flags, total;

	copy = kmalloc_array(VLOG_SIZE, sizeof(*copy), GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	raw_spin_lock_irqsave(&report_lock, flags);
	memcpy(copy, vlog, sizeof(vlog));
	head = vlog_head;
	total = vlog_total;
	raw_spin_unlock_irqrestore(&report_lock, flags);

	n = min_t(unsigned long, total, VLOG_SIZE);
	for (i = 0; i < n; i++) {
		const struct dmaverify_vlog *l = &copy[(head + VLOG_SIZE - n + i) % VLOG_SIZE];
		const struct dmaverify_code *c = &dmaverify_codes[l->v];

		/* Hashed (%p): the key may be a CPU address (an S/G list). */
		seq_printf(seq, "%llu.%06llu device=%s driver=%s code=0x%02x sub=0x%02x slug=%s addr=%p site=%s shown=%d report=%llu\n",
			   l->ns / NSEC_PER_SEC, (l->ns % NSEC_PER_SEC) / 1000,
			   l->dev, l->drv, c->code, c->sub, c->slug,
			   (void *)l->addr, l->site, l->shown, l->report);
	}
	kfree(copy);
	return 0;
}

/* === Report ring (debugfs "reports") === */

/*
 * The last report_ring reports, whole, as printed, for tools (dmaverify
 * violations --json): a slot per report, allocated at load (report_ring
 * times 8 KiB) so that a report in any context can be kept.  Each carries
 * the number of its line in the violation log ("report=N"); numbers grow
 * from 1 for the module's life, a reset included, so that a reader polling
 * the file sees each report once.
 */
struct dmaverify_ring_slot {
	u64 seq;		/* 0: empty. */
	u64 ns;			/* Boot time of the report. */
	char dev[32];		/* Device name. */
	char drv[24];		/* Driver name. */
	u8 v;			/* Violation. */
	size_t len;		/* Of @text. */
	char text[REPORT_BUF];	/* The report, as printed. */
};

/* Guarded by report_lock (the pointer and size are set at load). */
static struct dmaverify_ring_slot *ring;
static unsigned int ring_size;
static u64 ring_seq;

/* Precondition: report_lock is held; the report is in report_buf. */
static u64 ring_keep(const struct dmaverify_report *r)
{
	struct dmaverify_ring_slot *slot;

	if (!ring_size)
		return 0;
	slot = &ring[ring_seq % ring_size];
	slot->seq = ++ring_seq;
	/* The time of its line in the violation log (log_violation()). */
	slot->ns = vlog[(vlog_head + VLOG_SIZE - 1) % VLOG_SIZE].ns;
	strscpy(slot->dev, dev_name(dmaverify_ctx_dev(r->ctx)), sizeof(slot->dev));
	strscpy(slot->drv, r->ctx->driver, sizeof(slot->drv));
	slot->v = r->v;
	slot->len = min_t(size_t, report_len, REPORT_BUF - 1);
	memcpy(slot->text, report_buf, slot->len);
	slot->text[slot->len] = '\0';
	return slot->seq;
}

/**
 * dmaverify_reports_show() - print the kept reports, oldest first
 * @seq: the debugfs file
 *
 * Each as "report N time=S.US device=D driver=R code=C sub=S slug=G", its
 * lines as printed, then "end N".
 *
 * Return: 0, or -ENOMEM.
 */
int dmaverify_reports_show(struct seq_file *seq)
{
	struct dmaverify_ring_slot *copy;
	unsigned long flags;
	u64 next = 0, last;

	if (!ring_size)
		return 0;
	copy = kmalloc(sizeof(*copy), GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	for (;;) {
		const struct dmaverify_code *c;
		unsigned int i, oldest;

		/* The oldest slot numbered above @next, one copy at a time. */
		raw_spin_lock_irqsave(&report_lock, flags);
		last = ring_seq;
		for (i = 0, oldest = ring_size; i < ring_size; i++)
			if (ring[i].seq > next &&
			    (oldest == ring_size || ring[i].seq < ring[oldest].seq))
				oldest = i;
		copy->seq = 0;
		if (oldest < ring_size)
			memcpy(copy, &ring[oldest], sizeof(*copy));
		raw_spin_unlock_irqrestore(&report_lock, flags);
		if (!copy->seq || copy->seq > last)
			break;
		next = copy->seq;
		c = &dmaverify_codes[copy->v];
		seq_printf(seq, "report %llu time=%llu.%06llu device=%s driver=%s code=0x%02x sub=0x%02x slug=%s\n",
			   copy->seq, copy->ns / NSEC_PER_SEC,
			   (copy->ns % NSEC_PER_SEC) / 1000, copy->dev, copy->drv,
			   c->code, c->sub, c->slug);
		seq_write(seq, copy->text, copy->len);
		seq_printf(seq, "end %llu\n", copy->seq);
	}
	kfree(copy);
	return 0;
}

/**
 * dmaverify_unverifiable() - findings not reported: the observer missed calls
 * @ctx: an observed device
 * @n: how many
 *
 * The first one says in dmesg that the device is degraded.
 */
void dmaverify_unverifiable(struct dmaverify_dev *ctx, long n)
{
	if (atomic_long_fetch_add(n, &ctx->unverifiable) == 0 && n)
		dev_warn(ctx->dev, "dmaverify: degraded: the observer missed DMA calls; releases of unknown objects and leaks are counted as unverifiable, not reported\n");
}

void dmaverify_reports_reset(void)
{
	unsigned long flags;
	int i;

	for (i = 0; i < DV_VIOLATION_COUNT; i++)
		atomic_long_set(&dmaverify_total_violations[i], 0);
	raw_spin_lock_irqsave(&report_lock, flags);
	nr_seen = 0;
	vlog_head = 0;
	vlog_total = 0;
	for (i = 0; i < ring_size; i++)
		ring[i].seq = 0;
	raw_spin_unlock_irqrestore(&report_lock, flags);
}

/* === Reports === */

/* Violations per code since load (or reset), across devices and rebinds. */
atomic_long_t dmaverify_total_violations[DV_VIOLATION_COUNT];

static dmaverify_report_hook_t report_hook;

void dmaverify_set_report_hook(dmaverify_report_hook_t hook)
{
	WRITE_ONCE(report_hook, hook);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_set_report_hook);

static void print_freed(const struct dmaverify_freed *f)
{
	out(NULL, "\nreleased");
	print_task(NULL, f->free_pid, f->free_cpu);
	print_when(NULL, f->free_when);
	if (!f->free_stack) {
		out(NULL, " (free_stacks=1 records where)\n");
		return;
	}
	out(NULL, ":\n");
	dmaverify_print_stack(NULL, f->free_stack, f->free_when);
}

/*
 * The taint flags as the kernel's "Tainted:" field shows them.
 * print_tainted() is not exported: the letters are include/linux/panic.h's
 * flags in order (taint_flags[] in kernel/panic.c); a flag newer than this
 * list shows as '?'.
 */
static void print_taint(void)
{
	static const char letters[] = "PFSRMBUDAWCIOELKXTNJ";
	bool any = false;
	int i;

	for (i = 0; i < TAINT_FLAGS_COUNT; i++)
		any |= test_taint(i);
	if (!any) {
		out(NULL, "Not tainted");
		return;
	}
	out(NULL, "Tainted: %c", test_taint(TAINT_PROPRIETARY_MODULE) ? 'P' : 'G');
	for (i = 1; i < TAINT_FLAGS_COUNT; i++)
		out(NULL, "%c", !test_taint(i) ? ' ' :
		    i < ARRAY_SIZE(letters) - 1 ? letters[i] : '?');
}

/*
 * The last line, as dump_stack_print_info() (not exported) prints it:
 * "CPU: 1 UID: 0 PID: 166 Comm: modprobe Tainted: G   O  6.12.118 #1".
 */
static void print_context(void)
{
	const struct new_utsname *u = init_utsname();

	out(NULL, "CPU: %d UID: %u PID: %d Comm: %.20s ", raw_smp_processor_id(),
	    __kuid_val(current_euid()), task_pid_nr(current), current->comm);
	print_taint();
	out(NULL, " %s %.*s\n", u->release, (int)strcspn(u->version, " "),
	    u->version);
}

/*
 * The function that made the call, without offset, module or the suffix of
 * a compiler's clone (edu_probe.cold, foo.isra.0, bar.constprop.0), for the
 * title: the same on every build and compiler, so that tools that group
 * reports by title (syzkaller, whose function pattern also stops at the
 * '.') see one bug.  The stack below the title has the full symbol.
 */
static void title_function(char *buf, size_t size, unsigned long ip,
			   const u32 *when)
{
	/* A module unloaded since: the name its symbol had then. */
	if (!when || !dmaverify_frame_gone(ip, *when, buf, size))
		snprintf(buf, size, "%ps", (void *)ip);
	buf[strcspn(buf, " .+")] = '\0';
}

/* === panic_on_warn and warn_limit === */

/*
 * action=warn is a WARN: it honours panic_on_warn and warn_limit as KASAN
 * and KFENCE do, through check_panic_on_warn().  No kernel exports it (nor
 * panic_on_warn): its address is looked up at load through a kprobe, the
 * only exported name lookup, and it is called only if an indirect call can
 * reach it (a function nothing takes the address of loses its ENDBR on an
 * x86 kernel with IBT, and a CPU enforcing IBT would fault).
 */
static void (*check_panic_on_warn_fn)(const char *origin);

#ifdef CONFIG_KPROBES
static unsigned long lookup_function(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	char sym[KSYM_SYMBOL_LEN];
	unsigned long addr, off;
	const char *plus;

	if (register_kprobe(&kp))
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	/* The probe may sit past the entry (after an ENDBR): find the entry. */
	sprint_symbol(sym, addr);
	plus = strchr(sym, '+');
	if (!plus || strncmp(sym, name, plus - sym) || plus - sym != strlen(name) ||
	    sscanf(plus, "+%lx", &off) != 1 || off > addr)
		return 0;
	return addr - off;
}

static bool indirect_call_ok(unsigned long addr)
{
#ifdef CONFIG_X86_KERNEL_IBT
	/* ENDBR64 (f3 0f 1e fa), as asm/ibt.h's is_endbr() tests it. */
	u32 insn;

	if (cpu_feature_enabled(X86_FEATURE_IBT) &&
	    (get_kernel_nofault(insn, (u32 *)addr) || insn != 0xfa1e0ff3))
		return false;
#endif
	return true;
}
#endif

/**
 * dmaverify_reports_init() - allocate the report ring, and find
 *	check_panic_on_warn() for action=warn
 *
 * Without it, action=warn only reports and taints; the log says so.
 */
void dmaverify_reports_init(void)
{
	unsigned int n = min(READ_ONCE(dmaverify_report_ring), 64U);

	ring = n ? vzalloc(array_size(n, sizeof(*ring))) : NULL;
	if (n && !ring)
		pr_warn("dmaverify: report_ring=%u: no memory, no report is kept\n",
			n);
	ring_size = ring ? n : 0;

#ifdef CONFIG_KPROBES
	unsigned long addr = lookup_function("check_panic_on_warn");

	if (addr && indirect_call_ok(addr)) {
		check_panic_on_warn_fn = (void (*)(const char *))addr;
		return;
	}
#endif
	pr_info("dmaverify: action=warn cannot honour panic_on_warn and warn_limit on this kernel (check_panic_on_warn() not callable)\n");
}

/**
 * dmaverify_reports_exit() - free the report ring
 *
 * Context: at unload, when no device is verified any more.
 */
void dmaverify_reports_exit(void)
{
	vfree(ring);
	ring = NULL;
	ring_size = 0;
}

/**
 * dmaverify_report() - report a violation and take the configured action
 * @r: what was found
 *
 * Counts the violation on the device, then (unless this violation was
 * already reported from the same call site and multishot is off) prints a
 * report, records it for debugfs and calls the test hook.  Then warns
 * (taint), only logs, or panics, per the "action" parameter.  Safe in any
 * context: the report is built in a static buffer under a raw lock.
 */
void dmaverify_report(const struct dmaverify_report *r)
{
	const struct dmaverify_code *c = &dmaverify_codes[r->v];
	unsigned long entries[32], flags, ip;
	const u32 *ip_when = NULL;
	unsigned int nr, skip;
	dmaverify_report_hook_t hook;
	int action = READ_ONCE(dmaverify_action);
	bool shown;

	atomic_long_inc(&r->ctx->violations[r->v]);
	atomic_long_inc(&dmaverify_total_violations[r->v]);
	if (r->obj && (r->obj->flags & DV_OBJ_SAMPLED))
		atomic_long_inc(&dmaverify_sample_hits);
	nr = stack_trace_save(entries, ARRAY_SIZE(entries), 1);
	skip = dmaverify_stack_start(entries, nr);
	ip = nr ? entries[skip] : 0;
	if ((r->leak || r->creator_title) && r->obj) {
		/* A leak is the creator's bug: title it with the creator. */
		unsigned long created[32];
		unsigned int n = dmaverify_fetch_stack(r->obj->stack, created,
						       ARRAY_SIZE(created));

		if (n) {
			ip = created[skipnr(created, n, &r->obj->when)];
			ip_when = &r->obj->when;
		}
	} else if (r->leak && r->stack) {
		unsigned long created[32];
		unsigned int n = dmaverify_fetch_stack(r->stack, created,
						       ARRAY_SIZE(created));

		if (n)
			ip = created[skipnr(created, n, NULL)];
	}
	/* The site of the report's title; the address hashed, as in the log. */
	if (trace_violation_enabled()) {
		char site[96];

		site_name(site, sizeof(site), ip, ip_when);
		trace_violation(r->ctx->dev, r->ctx->driver, c->code, c->sub,
				c->slug, r->addr, ip, site);
	}

	/*
	 * Printing can take locks that lockdep would see nested in whatever
	 * the driver holds; the report must not add a lockdep splat to the
	 * real bug (as in mm/kfence/report.c).
	 */
	lockdep_off();
	/* In NMI the lock may be held by the interrupted report: skip it. */
	if (in_nmi()) {
		local_irq_save(flags);
		if (!raw_spin_trylock(&report_lock)) {
			local_irq_restore(flags);
			lockdep_on();
			return;
		}
	} else {
		raw_spin_lock_irqsave(&report_lock, flags);
	}
	shown = r->leak || !already_reported(r->v, ip);
	log_violation(r, ip, ip_when, shown);
	if (!shown)
		goto unlock;

	title_function(title_fn, sizeof(title_fn), ip, ip_when);
	report_len = 0;
	out(NULL, "==================================================================\n");
	out(NULL, "BUG: dmaverify: %s in %s\n\n", c->slug, title_fn);
	out(NULL, "%s", c->title);
	if (r->detail)
		out(NULL, ": %s", r->detail);
	out(NULL, "\n");
	print_stack(NULL, entries + skip, nr - skip, NULL);
	if (r->obj) {
		/*
		 * An object records the time of its creation, not the task
		 * or CPU (it is kept small); its call site's stack has them.
		 */
		out(NULL, "\n");
		dmaverify_print_obj(NULL, r->obj);
		out(NULL, " created");
		print_when(NULL, r->obj->when);
		out(NULL, ":\n");
		dmaverify_print_creator(NULL, r->obj->stack, r->obj->when);
	}
	if (r->freed)
		print_freed(r->freed);
	if (r->stack) {
		out(NULL, "\n%s:\n", r->stack_what ? r->stack_what : "stack");
		dmaverify_print_creator(NULL, r->stack, (u32)jiffies);
	}
	if (r->ctx->port)
		out(NULL, "\ndriver %s on %s, DMA through %s %s: ", r->ctx->driver,
		    dev_name(r->ctx->on), r->ctx->port->driver,
		    dev_name(r->ctx->dev));
	else
		out(NULL, "\ndevice %s, driver %s: ", dev_name(r->ctx->dev),
		    r->ctx->driver);
	out(NULL, "DRIVER_VERIFIER_DMA_VIOLATION (0xE6), parameter 1 0x%02x, ", c->code);
	out(NULL, "parameter 2 0x%02x, count %ld\n", c->sub,
	    atomic_long_read(&r->ctx->violations[r->v]));
	out(NULL,
	    "how to fix: dmaverify explain %s, or Documentation/dmaverify.rst, section \"%s\"\n",
	    c->slug, c->slug);
	print_context();
	out(NULL, "==================================================================\n");

	log_report(ring_keep(r));
	hook = READ_ONCE(report_hook);
	if (hook)
		hook(r, report_buf);
	{
		char *line = report_buf, *nl;

		while (*line && (nl = strchr(line, '\n'))) {
			*nl = '\0';
			pr_err("%s\n", line);
			line = nl + 1;
		}
	}
unlock:
	raw_spin_unlock_irqrestore(&report_lock, flags);
	lockdep_on();

	if (action == DV_ACTION_PANIC)
		panic("dmaverify: DMA violation 0xE6/0x%02x/0x%02x (%s)\n", c->code,
		      c->sub, c->slug);
	if (action == DV_ACTION_WARN) {
		void (*check)(const char *origin) = READ_ONCE(check_panic_on_warn_fn);

		/* As KFENCE: a printed report counts as a warning. */
		if (shown && check)
			check("dmaverify");
		add_taint(TAINT_WARN, LOCKDEP_STILL_OK);
	}
}

static void vviolation(struct dmaverify_dev *ctx, enum dmaverify_violation v,
		       const struct dmaverify_obj *obj, unsigned long addr,
		       size_t size, int dir, bool creator, const char *fmt,
		       va_list args)
{
	struct dmaverify_report r = {
		.v = v, .ctx = ctx, .obj = obj, .addr = addr, .size = size,
		.dir = dir, .creator_title = creator,
	};
	char detail[256];

	if (fmt) {
		vscnprintf(detail, sizeof(detail), fmt, args);
		r.detail = detail;
	}
	dmaverify_report(&r);
}

/**
 * dmaverify_violation() - build a report and hand it to dmaverify_report()
 * @ctx: device context
 * @v: the violation
 * @obj: the object concerned, or NULL
 * @addr: the address the call passed
 * @size: the size the call passed
 * @dir: the direction the call passed
 * @fmt: detail line (printf format), or NULL
 *
 * The report's title names the caller of the DMA API.
 */
void dmaverify_violation(struct dmaverify_dev *ctx, enum dmaverify_violation v,
			 const struct dmaverify_obj *obj, unsigned long addr,
			 size_t size, int dir, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vviolation(ctx, v, obj, addr, size, dir, false, fmt, args);
	va_end(args);
}

/**
 * dmaverify_violation_found() - report what a scan found on an object
 * @ctx: device context
 * @v: the violation
 * @obj: the object concerned
 * @fmt: detail line (printf format)
 *
 * For violations found later than the call that caused them (a redzone
 * scan, the quarantine): the title names the function that created the
 * object, not whoever happened to trigger the scan.
 */
void dmaverify_violation_found(struct dmaverify_dev *ctx,
			       enum dmaverify_violation v,
			       const struct dmaverify_obj *obj,
			       const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vviolation(ctx, v, obj, obj->dma, obj->size, obj->dir, true, fmt, args);
	va_end(args);
}
