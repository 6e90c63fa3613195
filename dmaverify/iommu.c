// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: faults of verified devices behind an IOMMU, attributed to the
 * driver's DMA objects.
 *
 * When a device behind an IOMMU accesses an IOVA that is not mapped (or
 * not mapped for that access), the IOMMU records a fault.  How software
 * learns of it depends on the IOMMU driver (see Documentation/dmaverify.rst,
 * "Device faults"):
 *
 *  - intel-iommu (6.1 to 7.x) never calls report_iommu_fault(): dmar_fault(),
 *    the fault interrupt's handler, reads each fault record and passes it to
 *    the static dmar_fault_do_one(), which only logs it.  The compiler
 *    inlines that function in every kernel tested (Debian's 6.1, 6.12 and
 *    7.3, the test kernel): no kprobe can be put there.  dmaverify reads the
 *    line it logs instead, through the printk:console tracepoint (the format
 *    is the same from 6.1 to 7.x; the tracepoint is registered when the
 *    first such device is verified).  Without that tracepoint, a kprobe on
 *    dmar_fault_do_one() is used where the symbol exists (untested: no
 *    kernel at hand has it).  dmar_fault() skips dmar_fault_do_one() for
 *    faults beyond its rate limit (10 per 5 s): those are not seen either.
 *  - arm-smmu-v3 (6.1, 6.12) passes only the events of stalling masters on
 *    (iommu_report_device_fault(), for I/O page faults); a PCI device's
 *    translation or permission fault is logged as "event 0x10 received:"
 *    and four raw event words.  No hook: its devices' faults are not seen
 *    (the log says so when such a device is attached).
 *  - IOMMU drivers that call report_iommu_fault() (amd-iommu in Debian's
 *    6.1, 6.12 and 7.3, arm-smmu (v2), ...): its "iommu:io_page_fault"
 *    tracepoint fires for every fault, whether a domain fault handler is
 *    installed or not.  dmaverify attaches a probe to it.  It does not use
 *    iommu_set_fault_handler(): the handler is per domain (shared by the
 *    group), its return value changes what the IOMMU driver logs, and since
 *    6.15 a DMA domain's handler shares its storage with the IOVA cookie
 *    (the call WARNs).
 *  - amd-iommu also logs each DMA fault ("AMD-Vi: Event logged
 *    [IO_PAGE_FAULT ...]") when no handler took it, right after the
 *    tracepoint.  A 2025 patch ("iommu/amd: Don't call report_iommu_fault()")
 *    leaves only that line.  dmaverify reads amd-iommu's lines too, until
 *    the tracepoint fires for an amd-iommu device: from then on the line
 *    repeats a fault already queued and is ignored.
 *
 * Both hooks run only when a fault happens: the cost without faults is nil.
 * A hook queues the fault in a small ring (it runs in hard interrupt
 * context, or in a kprobe handler) and a work item attributes it in process
 * context, under dmaverify_devices_lock:
 *
 *  - the faulting page overlaps a live mapping, and the access is one the
 *    mapping's direction forbids: device-wrong-direction;
 *  - it overlaps a released object still in the device's history of
 *    releases (release_history per CPU): device-used-released;
 *  - else device-used-unmapped, saying whether the address is the CPU
 *    physical address of one of the driver's buffers or of RAM (the driver
 *    programmed virt_to_phys() instead of a DMA address).
 *
 * Each object is reported once, then counted (debugfs devices/DEV/faults);
 * at most 10 reports per device per 5 seconds.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/debugfs.h>
#include <linux/iommu.h>
#include <linux/jiffies.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/ratelimit.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <linux/workqueue.h>

#include "dmaverify.h"

/* IOMMUs report faults per page of this size (VT-d: bits 63:12). */
#define DV_FAULT_GRANULE	4096UL

/* How a device's faults reach dmaverify. */
enum dmaverify_fault_source {
	DV_FAULTS_NONE,		/* Not at all (see &dmaverify_iommu.why). */
	DV_FAULTS_INTEL,	/* kprobe on intel-iommu's dmar_fault_do_one(). */
	DV_FAULTS_INTEL_LOG,	/* intel-iommu's log line (printk:console). */
	DV_FAULTS_TRACEPOINT,	/* iommu:io_page_fault (report_iommu_fault()). */
	DV_FAULTS_AMD,		/* The tracepoint, or amd-iommu's log line. */
};

static const char *const source_names[] = {
	[DV_FAULTS_NONE] = "none",
	[DV_FAULTS_INTEL] = "intel-iommu (kprobe on dmar_fault_do_one)",
	[DV_FAULTS_INTEL_LOG] = "intel-iommu (its fault lines, printk:console tracepoint)",
	[DV_FAULTS_TRACEPOINT] = "iommu:io_page_fault tracepoint (report_iommu_fault)",
	[DV_FAULTS_AMD] = "amd-iommu (iommu:io_page_fault tracepoint, or its fault lines)",
};

/* Long texts of reports and of the log. */
enum {
	TEXT_RAM,
	TEXT_NO_IOMMU,
	TEXT_IDENTITY,
	TEXT_NO_DMAR_PROBE,
	TEXT_SMMU_V3,
};

static const char *const texts[] = {
	[TEXT_RAM] =
	"; it is the physical address of kernel RAM: the driver gave the device a CPU physical address (virt_to_phys(), page_to_phys()) instead of a DMA address",
	[TEXT_NO_IOMMU] =
	"the device is not behind an IOMMU: device faults cannot be seen (bounce=1 catches some device writes at unmap)",
	[TEXT_IDENTITY] =
	"the IOMMU does not translate the device's DMA (identity or blocked domain): no fault to see",
	[TEXT_NO_DMAR_PROBE] =
	"intel-iommu only logs its faults: dmar_fault_do_one() cannot be probed here (inlined or renamed by the compiler), and there is no printk:console tracepoint",
	[TEXT_SMMU_V3] =
	"arm-smmu-v3 only logs the events of devices that do not stall (\"event 0x.. received\"), without report_iommu_fault()",
};

/* Objects whose faults were reported already, and how many each drew. */
#define SEEN_MAX	32
/* The last faults of a device, for debugfs. */
#define LOG_MAX		16

/* What happened to one fault. */
enum dmaverify_fault_verdict {
	DV_VERDICT_RELEASED,	/* In a released object. */
	DV_VERDICT_UNMAPPED,	/* In nothing the DMA API gave out. */
	DV_VERDICT_DIRECTION,	/* Against a live mapping's direction. */
	DV_VERDICT_PERMITTED,	/* In a live mapping that permits the access. */
	DV_VERDICT_COUNT
};

static const char *const verdict_names[DV_VERDICT_COUNT] = {
	[DV_VERDICT_RELEASED] = "released",
	[DV_VERDICT_UNMAPPED] = "unmapped",
	[DV_VERDICT_DIRECTION] = "direction",
	[DV_VERDICT_PERMITTED] = "permitted",
};

/**
 * struct dmaverify_iommu - a verified device's IOMMU, and the faults seen
 * @source: &enum dmaverify_fault_source
 * @why: why faults cannot be seen (@source none), or NULL
 * @iommu: name of the IOMMU's driver (its iommu_ops), or "" without one
 * @verdicts: faults seen, per &enum dmaverify_fault_verdict
 * @repeats: faults not reported because their object was reported already
 * @limited: faults not reported because of the rate limit
 * @rs: at most 10 reports per 5 seconds
 * @seen: the objects reported, with the number of faults each drew
 * @nr_seen: entries of @seen used
 * @log: the last faults (ring)
 * @nr_log: faults ever logged in @log
 *
 * Written by the fault work and read by debugfs, both under
 * dmaverify_devices_lock.
 */
struct dmaverify_iommu {
	int source;
	const char *why;
	char iommu[32];
	unsigned long verdicts[DV_VERDICT_COUNT];
	unsigned long repeats;
	unsigned long limited;
	struct ratelimit_state rs;
	struct {
		dma_addr_t dma;
		size_t size;
		u32 when;
		u8 v;
		unsigned long count;
	} seen[SEEN_MAX];
	unsigned int nr_seen;
	struct {
		u64 iova;
		u32 when;
		u8 access;
		u8 verdict;
	} log[LOG_MAX];
	unsigned long nr_log;
};

/* === Fault hooks: queue the fault, attribute it later === */

struct fault_rec {
	struct device *dev;	/* From the tracepoint; compared, never used. */
	u64 iova;
	u32 when;
	u16 sid;		/* PCI requester id (intel-iommu). */
	int seg;		/* Its PCI segment, or -1 if not reported. */
	u8 access;		/* DV_FAULT_READ, DV_FAULT_WRITE, or 0: unknown. */
};

#define RING_SIZE	64

static struct fault_rec ring[RING_SIZE];
static unsigned int ring_head, ring_len;
static unsigned long ring_dropped, faults_unverified, faults_total;
/* Guards the ring and its counters.  Raw: taken in hard interrupt context. */
static DEFINE_RAW_SPINLOCK(ring_lock);

static void fault_work_fn(struct work_struct *work);
static DECLARE_WORK(fault_work, fault_work_fn);
static bool hooks_live;

/* Queue a fault (@seg: its PCI segment, or -1); context: any but NMI. */
static void queue_fault(struct device *dev, u16 source_id, int seg, u64 iova,
			unsigned int access)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ring_lock, flags);
	faults_total++;
	if (ring_len == RING_SIZE) {
		ring_dropped++;
	} else {
		struct fault_rec *r = &ring[(ring_head + ring_len) % RING_SIZE];

		r->dev = dev;
		r->sid = source_id;
		r->seg = seg;
		r->iova = iova;
		r->access = access;
		r->when = (u32)jiffies;
		ring_len++;
	}
	raw_spin_unlock_irqrestore(&ring_lock, flags);
	schedule_work(&fault_work);
}

/**
 * dmaverify_iommu_fault() - an IOMMU reported a DMA fault
 * @dev: the faulting device, or NULL if only @source_id is known
 * @source_id: PCI requester id (bus << 8 | devfn) when @dev is NULL
 * @iova: the faulting address (a page address on intel-iommu)
 * @access: DV_FAULT_READ or DV_FAULT_WRITE, or 0 if not reported
 *
 * Context: any, including hard interrupt and kprobe handlers.  The fault
 * is attributed later, in process context.  Also the entry point of the
 * KUnit suite, which has no IOMMU.
 */
void dmaverify_iommu_fault(struct device *dev, u16 source_id, u64 iova,
			   unsigned int access)
{
	queue_fault(dev, source_id, -1, iova, access);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_iommu_fault);

/*
 * dmar_fault_do_one(struct intel_iommu *iommu, int type, u8 fault_reason,
 *		     u32 pasid, u16 source_id, unsigned long long addr)
 * (6.1 to 7.x; type 0 is a write, 1 a read).  Reasons 0x20-0x2f are
 * interrupt-remapping faults, not DMA.
 */
static int dmar_pre(struct kprobe *p, struct pt_regs *regs)
{
	int type = (int)regs_get_kernel_argument(regs, 1);
	u8 reason = regs_get_kernel_argument(regs, 2);
	u16 sid = regs_get_kernel_argument(regs, 4);
	u64 addr = regs_get_kernel_argument(regs, 5);

	if (reason >= 0x20 && reason < 0x30)
		return 0;
	dmaverify_iommu_fault(NULL, sid, addr, type ? DV_FAULT_READ : DV_FAULT_WRITE);
	return 0;
}

static struct kprobe dmar_kp = {
	.symbol_name = "dmar_fault_do_one",
	.pre_handler = dmar_pre,
};

static int dmar_kp_err = -ENODEV;

/* amd-iommu's iommu_ops, once a device behind it is verified. */
static const void *amd_ops;
/* amd-iommu calls report_iommu_fault(): its fault lines repeat the tracepoint. */
static bool amd_tracepoint_seen;

static void io_page_fault_probe(void *data, struct device *dev,
				unsigned long iova, int flags)
{
	const void *ops = READ_ONCE(amd_ops);
	unsigned int access = 0;

	if (!dev)
		return;
	if (ops && dev->iommu && dev->iommu->iommu_dev &&
	    dev->iommu->iommu_dev->ops == ops && !READ_ONCE(amd_tracepoint_seen))
		WRITE_ONCE(amd_tracepoint_seen, true);
	if (flags & IOMMU_FAULT_WRITE)
		access = DV_FAULT_WRITE;
	else if (flags & IOMMU_FAULT_READ)
		access = DV_FAULT_READ;
	dmaverify_iommu_fault(dev, 0, iova, access);
}

/*
 * Where dmar_fault_do_one() was inlined: its log line, seen through the
 * printk:console tracepoint (every printk, before the console), is
 *
 *   DMAR: [DMA Write NO_PASID] Request device [00:03.0] fault addr 0x... [fault reason 0x05] ...
 *
 * with "DMA Read", or "PASID 0x..." for NO_PASID, in 6.1 and 6.12; 7.3
 * names the device with its PCI segment ([0000:00:03.0]).
 * Interrupt-remapping faults say "[INTR-REMAP]".
 */
static bool parse_intel(const char *text, const char *end,
			struct dmaverify_fault_line *fl)
{
	unsigned int seg, bus, slot, fn;
	unsigned long long addr;
	const char *p;

	if (!strncmp(text + 11, "Write", 5))
		fl->access = DV_FAULT_WRITE;
	else if (!strncmp(text + 11, "Read", 4))
		fl->access = DV_FAULT_READ;
	else
		return false;
	p = strnstr(text, "] Request device [", end - text);
	if (!p)
		return false;
	if (sscanf(p + 18, "%x:%x:%x.%x", &seg, &bus, &slot, &fn) == 4) {
		fl->seg = seg;
	} else {
		fl->seg = -1;
		if (sscanf(p + 18, "%x:%x.%x", &bus, &slot, &fn) != 3)
			return false;
	}
	p = strnstr(p, " fault addr ", end - p);
	if (!p || sscanf(p + 12, "%llx", &addr) != 1)
		return false;
	fl->sid = (bus << 8) | PCI_DEVFN(slot, fn);
	fl->iova = addr;
	return true;
}

/*
 * amd-iommu's line for a DMA fault of a device it knows (dev_err(), with
 * the driver's name and the device's first; 6.1 to 7.3):
 *
 *   nvme 0000:00:03.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x000b
 *   address=0xfffff000 flags=0x0020]
 *
 * (one line)
 *
 * flags is the event's: 0x020 (RW) a write, 0x008 (I) an interrupt request
 * (not DMA).
 */
static bool parse_amd(const char *text, const char *end, const char *p,
		      struct dmaverify_fault_line *fl)
{
	unsigned int seg, bus, slot, fn, flags;
	unsigned long long addr;
	const char *q = p;

	/* The device's name is the word before ": AMD-Vi: ". */
	while (q > text && q[-1] != ' ')
		q--;
	if (sscanf(q, "%x:%x:%x.%x:", &seg, &bus, &slot, &fn) != 4)
		return false;
	p = strnstr(p, " address=", end - p);
	if (!p || sscanf(p + 9, "%llx", &addr) != 1)
		return false;
	p = strnstr(p, " flags=", end - p);
	if (!p || sscanf(p + 7, "%x", &flags) != 1 || (flags & 0x008))
		return false;
	fl->access = flags & 0x020 ? DV_FAULT_WRITE : DV_FAULT_READ;
	fl->seg = seg;
	fl->sid = (bus << 8) | PCI_DEVFN(slot, fn);
	fl->iova = addr;
	fl->amd = true;
	return true;
}

/**
 * dmaverify_iommu_parse_line() - read an IOMMU driver's fault line
 * @text: a kernel log line (without its level), not NUL-terminated
 * @len: its length
 * @fl: the fault, if it is one
 *
 * Return: true if @text is intel-iommu's or amd-iommu's line for a DMA
 * fault (not an interrupt-remapping one).  Context: any but NMI.
 */
bool dmaverify_iommu_parse_line(const char *text, size_t len,
				struct dmaverify_fault_line *fl)
{
	char buf[192];
	const char *p;

	memset(fl, 0, sizeof(*fl));
	if (len < 40)
		return false;
	if (!strncmp(text, "DMAR: [DMA ", 11)) {
		/* A copy that ends: sscanf() must not read past the line. */
		len = min(len, sizeof(buf) - 1);
		memcpy(buf, text, len);
		buf[len] = '\0';
		return parse_intel(buf, buf + len, fl);
	}
	p = strnstr(text, ": AMD-Vi: Event logged [IO_PAGE_FAULT domain=", len);
	if (!p)
		return false;
	len = min(len, sizeof(buf) - 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	return parse_amd(buf, buf + len, buf + (p - text), fl);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_iommu_parse_line);

static void console_probe(void *data, const char *text, size_t len)
{
	struct dmaverify_fault_line fl;

	if (in_nmi() || len < 40)
		return;
	/* amd-iommu's lines are searched for only while they may be needed. */
	if (strncmp(text, "DMAR: [DMA ", 11) &&
	    (!READ_ONCE(amd_ops) || READ_ONCE(amd_tracepoint_seen)))
		return;
	if (!dmaverify_iommu_parse_line(text, len, &fl))
		return;
	/* The tracepoint had this one (see the top of the file). */
	if (fl.amd && (!READ_ONCE(amd_ops) || READ_ONCE(amd_tracepoint_seen)))
		return;
	queue_fault(NULL, fl.sid, fl.seg, fl.iova, fl.access);
}

static struct tracepoint *io_page_fault_tp, *console_tp;
static bool tp_registered, console_registered;
/* Guards the lazy registration of console_probe(). */
static DEFINE_MUTEX(console_lock);

static void find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "io_page_fault"))
		io_page_fault_tp = tp;
	else if (!strcmp(tp->name, "console"))
		console_tp = tp;
}

/* Listen to the IOMMUs' fault lines once a device needs it: a test per printk. */
static bool console_hook(void)
{
	mutex_lock(&console_lock);
	if (!console_registered && console_tp && READ_ONCE(hooks_live) &&
	    !tracepoint_probe_register(console_tp, (void *)console_probe, NULL))
		console_registered = true;
	mutex_unlock(&console_lock);
	return console_registered;
}

/* === Attribution === */

struct live_find {
	u64 lo;
	size_t len;
	struct dmaverify_obj obj;
	bool found;
	bool by_phys;		/* Look at the CPU buffer, not the DMA range. */
};

/* Physical address of an object's CPU buffer, or -1 if it has none. */
static phys_addr_t obj_phys(const struct dmaverify_obj *obj)
{
	switch (obj->kind) {
	case DV_KIND_MAP:
		return obj->phys;
	case DV_KIND_COHERENT:
	case DV_KIND_PAGES:
		if (virt_addr_valid((void *)obj->phys))
			return virt_to_phys((void *)obj->phys);
		return (phys_addr_t)-1;
	default:
		return (phys_addr_t)-1;
	}
}

/* Whether @obj's DMA range (or CPU buffer, by_phys) overlaps @w's range. */
static bool overlaps(const struct dmaverify_obj *obj, const void *arg)
{
	const struct live_find *w = arg;
	size_t size = max_t(size_t, obj->size, 1);
	u64 start = obj->dma;

	if (obj->flags & DV_OBJ_RESERVED)
		return false;
	if (w->by_phys) {
		start = obj_phys(obj);
		if (start == (phys_addr_t)-1)
			return false;
	}
	return start < w->lo + w->len && w->lo < start + size;
}

static void find_live(const struct dmaverify_obj *obj, void *arg)
{
	struct live_find *w = arg;

	if (w->found || !overlaps(obj, w))
		return;
	w->obj = *obj;
	w->found = true;
}

/* Whether a live mapping of direction @dir forbids an @access. */
static bool against_direction(int dir, unsigned int access)
{
	return (dir == DMA_TO_DEVICE && access == DV_FAULT_WRITE) ||
	       (dir == DMA_FROM_DEVICE && access == DV_FAULT_READ);
}

static const char *access_name(unsigned int access)
{
	switch (access) {
	case DV_FAULT_WRITE: return "DMA write";
	case DV_FAULT_READ: return "DMA read";
	default: return "DMA access (read or write: not reported)";
	}
}

/*
 * Once per object (and per address, for faults in no object): false if
 * reported already, the fault being counted on it.
 */
static bool first_fault(struct dmaverify_iommu *im, enum dmaverify_violation v,
			dma_addr_t dma, size_t size, u32 when)
{
	unsigned int i;

	for (i = 0; i < im->nr_seen; i++) {
		if (im->seen[i].v == v && im->seen[i].dma == dma &&
		    im->seen[i].size == size && im->seen[i].when == when) {
			im->seen[i].count++;
			im->repeats++;
			return false;
		}
	}
	i = im->nr_seen < SEEN_MAX ? im->nr_seen++ : (im->nr_seen - 1);
	im->seen[i].v = v;
	im->seen[i].dma = dma;
	im->seen[i].size = size;
	im->seen[i].when = when;
	im->seen[i].count = 1;
	return true;
}

static void report_fault(struct dmaverify_dev *ctx, enum dmaverify_violation v,
			 const struct dmaverify_obj *obj,
			 const struct dmaverify_freed *freed,
			 const struct fault_rec *f, const char *detail)
{
	struct dmaverify_iommu *im = ctx->iommu;
	struct dmaverify_report r = {
		.v = v, .ctx = ctx, .obj = obj, .freed = freed, .addr = f->iova,
		.size = DV_FAULT_GRANULE, .dir = obj ? obj->dir : DMA_NONE,
		.detail = detail, .creator_title = !!obj,
	};

	if (!dmaverify_check_on(v))
		return;
	if (!first_fault(im, v, obj ? obj->dma : f->iova, obj ? obj->size : 0,
			 obj ? obj->when : 0))
		return;
	if (!__ratelimit(&im->rs)) {
		im->limited++;
		return;
	}
	dmaverify_report(&r);
}

static void attribute(struct dmaverify_dev *ctx, const struct fault_rec *f)
{
	struct dmaverify_iommu *im = ctx->iommu;
	u64 page = f->iova & ~(u64)(DV_FAULT_GRANULE - 1);
	unsigned int ms = jiffies_to_msecs((u32)jiffies - f->when);
	struct live_find w = { .lo = page, .len = DV_FAULT_GRANULE };
	struct dmaverify_freed freed;
	enum dmaverify_fault_verdict verdict;
	char detail[320];

	dmaverify_tracker_for_each(&ctx->tracker, find_live, &w);
	if (!(w.found && against_direction(w.obj.dir, f->access)) &&
	    dmaverify_find_freed_match(ctx, overlaps, &w, &freed)) {
		/*
		 * The fault is attributed after the fact: a buffer released
		 * after the fault (by the jiffies), or in the same jiffy when
		 * the access is one its direction forbids, was still mapped
		 * when the device accessed it.
		 */
		s32 after = (s32)(freed.free_when - f->when);

		if (after > 0 || (!after && against_direction(freed.obj.dir, f->access))) {
			if (against_direction(freed.obj.dir, f->access)) {
				w.obj = freed.obj;
				w.found = true;
			} else {
				verdict = DV_VERDICT_PERMITTED;
				goto log;
			}
		} else {
			verdict = DV_VERDICT_RELEASED;
			snprintf(detail, sizeof(detail),
				 "%s at IOVA 0x%llx, %u ms ago, after the driver released the buffer there",
				 access_name(f->access), f->iova, ms);
			report_fault(ctx, DV_DEVICE_USED_RELEASED, &freed.obj,
				     &freed, f, detail);
			goto log;
		}
	}
	if (w.found && against_direction(w.obj.dir, f->access)) {
		verdict = DV_VERDICT_DIRECTION;
		snprintf(detail, sizeof(detail),
			 "%s at IOVA 0x%llx of a %s mapping, %u ms ago: the IOMMU refused it",
			 access_name(f->access), f->iova,
			 dmaverify_dir_name(w.obj.dir), ms);
		report_fault(ctx, DV_DEVICE_WRONG_DIRECTION, &w.obj, NULL, f, detail);
	} else if (w.found) {
		/* Mapped, and the access is allowed: nothing to blame. */
		verdict = DV_VERDICT_PERMITTED;
	} else {
		struct live_find p = { .lo = page, .len = DV_FAULT_GRANULE,
				       .by_phys = true };
		unsigned long pfn = PHYS_PFN(page);
		struct dmaverify_freed *gone = NULL;

		verdict = DV_VERDICT_UNMAPPED;
		dmaverify_tracker_for_each(&ctx->tracker, find_live, &p);
		/* The driver may have unmapped it since. */
		if (!p.found && dmaverify_find_freed_match(ctx, overlaps, &p, &freed)) {
			p.obj = freed.obj;
			p.found = true;
			gone = &freed;
		}
		if (p.found) {
			snprintf(detail, sizeof(detail),
				 "%s at IOVA 0x%llx, %u ms ago, which is no DMA address of the device but the CPU physical address of this buffer's page: the driver gave the device a physical address (virt_to_phys(), page_to_phys()) instead of the DMA address %pad",
				 access_name(f->access), f->iova, ms, &p.obj.dma);
			report_fault(ctx, DV_DEVICE_USED_UNMAPPED, &p.obj, gone,
				     f, detail);
		} else {
			snprintf(detail, sizeof(detail),
				 "%s at IOVA 0x%llx, %u ms ago, in no mapping of the device, live or among its last releases%s",
				 access_name(f->access), f->iova, ms,
				 pfn_valid(pfn) && page_is_ram(pfn) ?
				 texts[TEXT_RAM] :
				 "");
			report_fault(ctx, DV_DEVICE_USED_UNMAPPED, NULL, NULL, f,
				     detail);
		}
	}
log:
	im->verdicts[verdict]++;
	im->log[im->nr_log % LOG_MAX].iova = f->iova;
	im->log[im->nr_log % LOG_MAX].when = f->when;
	im->log[im->nr_log % LOG_MAX].access = f->access;
	im->log[im->nr_log % LOG_MAX].verdict = verdict;
	im->nr_log++;
}

/*
 * The requester id may be the device's, or a bridge's above it (a PCIe to
 * PCI bridge takes over the transactions of the devices behind it; they
 * share its id).  pci_for_each_dma_alias() is not exported.
 */
static bool requester_matches(struct pci_dev *pdev, u16 sid)
{
	for (; pdev; pdev = pci_upstream_bridge(pdev))
		if (pci_dev_id(pdev) == sid)
			return true;
	return false;
}

/* Precondition: dmaverify_devices_lock is held. */
static bool fault_of(struct dmaverify_dev *ctx, const struct fault_rec *f)
{
	if (!ctx->iommu || ctx->iommu->source == DV_FAULTS_NONE)
		return f->dev && ctx->dev == f->dev;	/* KUnit */
	if (f->dev)
		return ctx->dev == f->dev;
	if ((ctx->iommu->source != DV_FAULTS_INTEL &&
	     ctx->iommu->source != DV_FAULTS_INTEL_LOG &&
	     ctx->iommu->source != DV_FAULTS_AMD) || !dev_is_pci(ctx->dev))
		return false;
	if (f->seg >= 0 && f->seg != pci_domain_nr(to_pci_dev(ctx->dev)->bus))
		return false;
	return requester_matches(to_pci_dev(ctx->dev), f->sid);
}

static void fault_work_fn(struct work_struct *work)
{
	struct dmaverify_dev *ctx;
	struct fault_rec f;
	unsigned long flags;

	for (;;) {
		bool found = false;

		raw_spin_lock_irqsave(&ring_lock, flags);
		if (!ring_len) {
			raw_spin_unlock_irqrestore(&ring_lock, flags);
			return;
		}
		f = ring[ring_head];
		ring_head = (ring_head + 1) % RING_SIZE;
		ring_len--;
		raw_spin_unlock_irqrestore(&ring_lock, flags);

		mutex_lock(&dmaverify_devices_lock);
		list_for_each_entry(ctx, &dmaverify_devices, list) {
			if (!ctx->iommu || !fault_of(ctx, &f))
				continue;
			attribute(ctx, &f);
			found = true;
			break;
		}
		mutex_unlock(&dmaverify_devices_lock);
		if (!found) {
			raw_spin_lock_irqsave(&ring_lock, flags);
			faults_unverified++;
			raw_spin_unlock_irqrestore(&ring_lock, flags);
		}
		cond_resched();
	}
}

/**
 * dmaverify_iommu_flush() - wait until every fault queued was attributed
 *
 * For KUnit, and before devices are detached.
 */
void dmaverify_iommu_flush(void)
{
	flush_work(&fault_work);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_iommu_flush);

/* === Devices === */

/*
 * The driver of the IOMMU that translates @dev's DMA: the parent of the
 * IOMMU's sysfs device is the hardware device ("" when not known).
 */
static const char *iommu_hw_driver(struct device *dev)
{
	struct device *idev = dev->iommu->iommu_dev->dev;

	return idev && idev->parent && idev->parent->driver ?
		idev->parent->driver->name : "";
}

/* How @dev's faults can reach dmaverify; sets @im's source and why. */
static void find_source(struct dmaverify_iommu *im, struct device *dev)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(dev);

	im->source = DV_FAULTS_NONE;
	if (!dom || !dev->iommu || !dev->iommu->iommu_dev) {
		im->why = texts[TEXT_NO_IOMMU];
		return;
	}
	snprintf(im->iommu, sizeof(im->iommu), "%ps", dev->iommu->iommu_dev->ops);
	if (!(dom->type & __IOMMU_DOMAIN_PAGING)) {
		im->why = texts[TEXT_IDENTITY];
		return;
	}
	if (!strcmp(im->iommu, "intel_iommu_ops")) {
		/*
		 * The log line first: the kernels tested (Debian's 6.1, 6.12
		 * and 7.3, and the test kernel) all inline dmar_fault_do_one().
		 */
		if (console_hook())
			im->source = DV_FAULTS_INTEL_LOG;
		else if (!dmar_kp_err)
			im->source = DV_FAULTS_INTEL;
		else
			im->why = texts[TEXT_NO_DMAR_PROBE];
		return;
	}
	/*
	 * arm-smmu-v3 (6.1 to 6.12 at least) passes only stalled events on
	 * (iommu_report_device_fault(), for I/O page faults); a PCI device's
	 * faults are logged as raw event words.  Its ops are named
	 * arm_smmu_ops as arm-smmu's (v2, which calls report_iommu_fault()).
	 */
	if (!strcmp(iommu_hw_driver(dev), "arm-smmu-v3")) {
		im->why = texts[TEXT_SMMU_V3];
		return;
	}
	if (!strcmp(im->iommu, "amd_iommu_ops")) {
		/* Its lines, for a kernel that does not call report_iommu_fault(). */
		WRITE_ONCE(amd_ops, dev->iommu->iommu_dev->ops);
		if (console_hook() || tp_registered)
			im->source = DV_FAULTS_AMD;
		else
			im->why = "no tracepoint to see amd-iommu's faults";
		return;
	}
	if (tp_registered) {
		/* Only if the IOMMU's driver calls report_iommu_fault(). */
		im->source = DV_FAULTS_TRACEPOINT;
		return;
	}
	im->why = "this IOMMU's faults cannot be seen (no hook for its driver)";
}

/**
 * dmaverify_iommu_attach() - learn how a new device's faults can be seen
 * @ctx: the device, just attached
 *
 * Says in the log whether the device's DMA faults will be reported.
 */
void dmaverify_iommu_attach(struct dmaverify_dev *ctx)
{
	struct dmaverify_iommu *im = kzalloc(sizeof(*im), GFP_KERNEL);

	if (!im)
		return;
	ratelimit_state_init(&im->rs, 5 * HZ, 10);
	ratelimit_set_flags(&im->rs, RATELIMIT_MSG_ON_RELEASE);
	find_source(im, ctx->dev);
	mutex_lock(&dmaverify_devices_lock);
	ctx->iommu = im;
	mutex_unlock(&dmaverify_devices_lock);
	if (im->source == DV_FAULTS_NONE && im->iommu[0])
		dev_info(ctx->dev, "dmaverify: device faults not verified: %s (IOMMU %s)\n",
			 im->why, im->iommu);
	else if (im->source == DV_FAULTS_NONE)
		dev_dbg(ctx->dev, "dmaverify: device faults not verified: %s\n",
			im->why);
	else
		dev_info(ctx->dev, "dmaverify: device faults verified (IOMMU %s, through %s)\n",
			 im->iommu, source_names[im->source]);
}

/* Context: the context is unreachable (out of dmaverify_devices). */
void dmaverify_iommu_free(struct dmaverify_dev *ctx)
{
	kfree(ctx->iommu);
	ctx->iommu = NULL;
}

/**
 * dmaverify_iommu_show() - one line of statistics for debugfs "stats"
 * @seq: the file
 * @ctx: the device; dmaverify_devices_lock is held
 */
void dmaverify_iommu_show(struct seq_file *seq, struct dmaverify_dev *ctx)
{
	struct dmaverify_iommu *im = ctx->iommu;

	if (!im)
		return;
	if (im->source == DV_FAULTS_NONE) {
		seq_printf(seq, "  device faults: not verified: %s\n", im->why);
		return;
	}
	seq_printf(seq, "  device faults: %s: released %lu unmapped %lu direction %lu permitted %lu (repeats %lu, rate-limited %lu)\n",
		   source_names[im->source], im->verdicts[DV_VERDICT_RELEASED],
		   im->verdicts[DV_VERDICT_UNMAPPED],
		   im->verdicts[DV_VERDICT_DIRECTION],
		   im->verdicts[DV_VERDICT_PERMITTED], im->repeats, im->limited);
}

/* debugfs devices/DEV/faults */
static int faults_show(struct seq_file *seq, void *unused)
{
	struct device *dev = seq->private;
	struct dmaverify_dev *ctx;
	unsigned long flags, total, dropped, unverified;
	unsigned int i, n;

	raw_spin_lock_irqsave(&ring_lock, flags);
	total = faults_total;
	dropped = ring_dropped;
	unverified = faults_unverified;
	raw_spin_unlock_irqrestore(&ring_lock, flags);
	seq_printf(seq, "# hooks: intel-iommu kprobe %s, console %s, io_page_fault tracepoint %s%s; faults seen %lu (of unverified devices %lu, dropped %lu)\n",
		   dmar_kp_err ? "absent" : "on", console_registered ? "on" : "off",
		   tp_registered ? "on" : "absent",
		   READ_ONCE(amd_tracepoint_seen) ? " (amd-iommu calls it)" : "",
		   total, unverified, dropped);
	mutex_lock(&dmaverify_devices_lock);
	list_for_each_entry(ctx, &dmaverify_devices, list) {
		struct dmaverify_iommu *im = ctx->iommu;

		if (ctx->dev != dev || !im)
			continue;
		seq_printf(seq, "source: %s\n", source_names[im->source]);
		seq_printf(seq, "iommu: %s\n", im->iommu[0] ? im->iommu : "none");
		if (im->why)
			seq_printf(seq, "not verified: %s\n", im->why);
		for (i = 0; i < DV_VERDICT_COUNT; i++)
			seq_printf(seq, "%s: %lu\n", verdict_names[i], im->verdicts[i]);
		seq_printf(seq, "repeats: %lu\nrate-limited: %lu\n", im->repeats,
			   im->limited);
		for (i = 0; i < im->nr_seen; i++)
			seq_printf(seq, "object %s dma %pad size %zu faults %lu\n",
				   dmaverify_codes[im->seen[i].v].slug,
				   &im->seen[i].dma, im->seen[i].size,
				   im->seen[i].count);
		n = min_t(unsigned long, im->nr_log, LOG_MAX);
		for (i = 0; i < n; i++) {
			unsigned int k = (im->nr_log - n + i) % LOG_MAX;

			seq_printf(seq, "fault iova 0x%llx %s %s\n", im->log[k].iova,
				   im->log[k].access == DV_FAULT_WRITE ? "write" :
				   im->log[k].access == DV_FAULT_READ ? "read" : "access",
				   verdict_names[im->log[k].verdict]);
		}
	}
	mutex_unlock(&dmaverify_devices_lock);
	return 0;
}

static int faults_open(struct inode *inode, struct file *file)
{
	return single_open(file, faults_show, inode->i_private);
}

const struct file_operations dmaverify_faults_fops = {
	.owner = THIS_MODULE,
	.open = faults_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

/* === Load and unload === */

int dmaverify_iommu_init(void)
{
	dmar_kp_err = register_kprobe(&dmar_kp);
	if (dmar_kp_err)
		pr_debug("no kprobe on dmar_fault_do_one (%d): intel-iommu faults are not seen\n",
			 dmar_kp_err);
	for_each_kernel_tracepoint(find_tracepoint, NULL);
	if (io_page_fault_tp &&
	    !tracepoint_probe_register(io_page_fault_tp, (void *)io_page_fault_probe, NULL))
		tp_registered = true;
	hooks_live = true;
	return 0;
}

void dmaverify_iommu_exit(void)
{
	if (!hooks_live)
		return;
	if (!dmar_kp_err)
		unregister_kprobe(&dmar_kp);
	mutex_lock(&console_lock);
	WRITE_ONCE(hooks_live, false);
	if (console_registered)
		tracepoint_probe_unregister(console_tp, (void *)console_probe, NULL);
	console_registered = false;
	mutex_unlock(&console_lock);
	if (tp_registered)
		tracepoint_probe_unregister(io_page_fault_tp,
					    (void *)io_page_fault_probe, NULL);
	tracepoint_synchronize_unregister();
	dmar_kp_err = -ENODEV;
	tp_registered = false;
	WRITE_ONCE(amd_ops, NULL);
	WRITE_ONCE(amd_tracepoint_seen, false);
	/* Every fault queued is attributed before the devices go. */
	flush_work(&fault_work);
}
