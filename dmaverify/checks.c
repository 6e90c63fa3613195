// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: the rules of the DMA API, checked on every call of a verified
 * device.  Each check names its violation from the table in report.c; the
 * forwarding code in ops.c decides what happens to the offending call.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/hash.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/preempt.h>
#include <linux/sched/task_stack.h>
#include <linux/scatterlist.h>
#include <linux/vmalloc.h>

#include "dmaverify.h"

/* === Context rules (0x13, 0x14) === */

/**
 * dmaverify_check_context() - the calling context may make this call
 * @ctx: device context
 * @may_sleep_alloc: the call allocates with a GFP mask that may sleep
 * @is_free: the call frees a coherent buffer
 *
 * Must run before dmaverify takes any lock or disables preemption itself.
 * An observed device is checked from a kprobe handler, which runs with
 * preemption disabled: only interrupts and softirq/hardirq context count.
 */
void dmaverify_check_context(struct dmaverify_dev *ctx, bool may_sleep_alloc,
			     bool is_free)
{
	bool irqs_off = irqs_disabled();

	if (in_nmi()) {
		if (dmaverify_check_on(DV_CALL_IN_NMI))
			dmaverify_violation(ctx, DV_CALL_IN_NMI, NULL, 0, 0, DMA_NONE,
					    NULL);
		return;
	}
	if (may_sleep_alloc && dmaverify_check_on(DV_ALLOC_ATOMIC)) {
		/*
		 * Without CONFIG_PREEMPT_COUNT a spinlock leaves no trace that
		 * could be checked, so only what is always visible counts.
		 */
		bool atomic = IS_ENABLED(CONFIG_PREEMPT_COUNT) && !ctx->observe ?
			      !preemptible() : (irqs_off || in_interrupt());

		if (atomic)
			dmaverify_violation(ctx, DV_ALLOC_ATOMIC, NULL, 0, 0, DMA_NONE,
					    "GFP flags allow sleeping, but %s",
					    in_hardirq() ? "in hardirq" :
					    in_serving_softirq() ? "in softirq" :
					    irqs_off ? "interrupts are disabled" :
					    "preemption is disabled");
	}
	if (is_free && (irqs_off || in_hardirq()) &&
	    dmaverify_check_on(DV_FREE_IRQS_OFF))
		dmaverify_violation(ctx, DV_FREE_IRQS_OFF, NULL, 0, 0, DMA_NONE,
				    "%s", in_hardirq() ? "in hardirq" :
				    "interrupts are disabled");
}

/* === Buffer rules (0x1F, 0x21, 0x1D, 0x0C) === */

/* Physical ranges of the kernel image's text and rodata. */
static phys_addr_t text_start, text_end, rodata_start, rodata_end;

/*
 * The linker symbols (_stext, __start_rodata) are not exported to modules;
 * the kernel registers the same ranges as "Kernel code" and "Kernel rodata"
 * resources (x86; arm64 has "Kernel code").  Read them once.
 */
static void find_kernel_image(void)
{
	struct resource *ram, *r;

	for (ram = iomem_resource.child; ram; ram = ram->sibling) {
		for (r = ram->child; r; r = r->sibling) {
			if (!r->name)
				continue;
			if (!strcmp(r->name, "Kernel code")) {
				text_start = r->start;
				text_end = r->end + 1;
			} else if (!strcmp(r->name, "Kernel rodata")) {
				rodata_start = r->start;
				rodata_end = r->end + 1;
			}
		}
	}
}

static bool phys_overlaps(phys_addr_t p, size_t size, phys_addr_t lo, phys_addr_t hi)
{
	return lo < hi && p < hi && p + size > lo;
}

/*
 * The shared zero page is read-only data since 7.x ("mm: Make
 * empty_zero_page[] const"), and drivers legitimately map it for the device
 * to read (the block layer writes zeroes from it).
 */
static bool in_zero_page(phys_addr_t phys, size_t size)
{
	phys_addr_t zero = page_to_phys(ZERO_PAGE(0));

	return phys >= zero && phys + size <= zero + PAGE_SIZE;
}

/* Is the page at @phys one of the current task's stack pages? */
static bool on_current_stack(phys_addr_t phys, size_t size)
{
	void *stack = task_stack_page(current);

	if (!in_task() || !stack)
		return false;
#ifdef CONFIG_VMAP_STACK
	if (is_vmalloc_addr(stack)) {
		struct vm_struct *vm = task_stack_vm_area(current);
		unsigned long off;

		/* The stack's own pages: no page-table walk on every map. */
		if (vm && vm->pages) {
			struct page *page = pfn_to_page(PHYS_PFN(phys));
			unsigned int i;

			for (i = 0; i < vm->nr_pages; i++)
				if (vm->pages[i] == page)
					return true;
			return false;
		}
		for (off = 0; off < THREAD_SIZE; off += PAGE_SIZE)
			if (page_to_pfn(vmalloc_to_page(stack + off)) == PHYS_PFN(phys))
				return true;
		return false;
	}
#endif
	return phys_overlaps(phys, size, virt_to_phys(stack),
			virt_to_phys(stack) + THREAD_SIZE);
}

/**
 * dmaverify_check_map_buffer() - the CPU buffer may be mapped
 * @ctx: device context
 * @phys: physical address of the buffer
 * @vaddr: unused (reserved for callers that know it)
 * @size: bytes
 * @dir: direction
 *
 * Return: false if the buffer cannot be mapped at all (not RAM): the caller
 * still forwards the call, whose result the DMA core decides.
 */
bool dmaverify_check_map_buffer(struct dmaverify_dev *ctx, phys_addr_t phys,
				const void *vaddr, size_t size, int dir)
{
	bool ok = true;

	if (!size && dmaverify_check_on(DV_ZERO_LENGTH))
		dmaverify_violation(ctx, DV_ZERO_LENGTH, NULL, phys, size, dir,
				    "%s of 0 bytes", dmaverify_dir_name(dir));
	if (!pfn_valid(PHYS_PFN(phys))) {
		ok = false;
		if (dmaverify_check_on(DV_MAP_INVALID))
			dmaverify_violation(ctx, DV_MAP_INVALID, NULL, phys, size, dir,
					    "page frame %#lx has no struct page",
					    (unsigned long)PHYS_PFN(phys));
	}
	if (dmaverify_check_on(DV_MAP_STACK) && on_current_stack(phys, size))
		dmaverify_violation(ctx, DV_MAP_STACK, NULL, phys, size, dir,
				    "%zu bytes of the stack of task %s/%d", size,
				    current->comm, task_pid_nr(current));
	if (dmaverify_check_on(DV_MAP_RODATA) && !in_zero_page(phys, size) &&
	    (phys_overlaps(phys, size, text_start, text_end) ||
	     phys_overlaps(phys, size, rodata_start, rodata_end)))
		dmaverify_violation(ctx, DV_MAP_RODATA, NULL, phys, size, dir,
				    "%zu bytes of the kernel image's %s", size,
				    phys_overlaps(phys, size, text_start, text_end) ?
				    "text" : "read-only data");
	if (dmaverify_check_on(DV_MAP_TOO_LARGE)) {
		/* An observed device has no twin: its own DMA path is intact. */
		size_t max = ctx->twin && !ctx->orig_ops ? READ_ONCE(ctx->max_map) :
				dma_max_mapping_size(ctx->twin ?: ctx->dev);

		if (size > max)
			dmaverify_violation(ctx, DV_MAP_TOO_LARGE, NULL, phys, size,
					    dir, "%zu bytes, the device maps at most %zu",
					    size, max);
	}
	return ok;
}

/* Out of line: its object on the stack is zeroed at every call. */
static noinline void find_overlap(struct dmaverify_dev *ctx, phys_addr_t phys,
				  size_t size, int dir,
				  const struct dmaverify_obj *self)
{
	struct dmaverify_obj other;

	if (!dmaverify_find_overlap(&ctx->tracker, phys, size, self, &other))
		return;
	/* A missed unmap would leave a stale mapping to overlap with. */
	if (dmaverify_observe_stale(ctx, &other))
		dmaverify_unverifiable(ctx, 1);
	else
		dmaverify_violation(ctx, DV_OVERLAP, &other, phys, size, dir,
				    "%zu bytes %s at physical %pa overlap a mapping the device may also write%s",
				    size, dmaverify_dir_name(dir), &phys,
				    other.flags & DV_OBJ_RESERVED ?
				    " (being made by another call right now)" : "");
}

/**
 * dmaverify_check_overlap() - a device-writable map overlaps another
 * @ctx: device context
 * @phys: physical start of the new mapping
 * @size: bytes
 * @dir: its direction
 * @self: the new mapping's own reservation in the index, or NULL
 *
 * Only mappings the device may write (FROM_DEVICE, BIDIRECTIONAL) count,
 * and only if their bytes overlap: buffers that merely share a cache line
 * are fine on cache-coherent machines (dma-debug's known false positive).
 */
void dmaverify_check_overlap(struct dmaverify_dev *ctx, phys_addr_t phys,
			     size_t size, int dir,
			     const struct dmaverify_obj *self)
{
	if (dir != DMA_TO_DEVICE && size && dmaverify_check_on(DV_OVERLAP))
		find_overlap(ctx, phys, size, dir, self);
}

/* The mask a DMA address must fit: the device's, within its bus limit. */
static u64 dma_limit(struct device *dev, bool coherent)
{
	u64 mask = coherent ? dev->coherent_dma_mask :
		   (dev->dma_mask ? *dev->dma_mask : 0);

	if (mask && dev->bus_dma_limit)
		mask = min_t(u64, mask, dev->bus_dma_limit);
	return mask;
}

/**
 * dmaverify_dma_addr_ok() - a DMA range fits the device's mask
 * @dev: the device
 * @addr: first DMA address
 * @size: bytes
 * @coherent: check against the coherent mask (else the streaming one)
 *
 * Return: true if it fits, or if the device has no mask.
 */
bool dmaverify_dma_addr_ok(struct device *dev, dma_addr_t addr, size_t size,
			   bool coherent)
{
	u64 mask = dma_limit(dev, coherent);
	u64 last = addr + (size ? size - 1 : 0);

	return !mask || (last <= mask && last >= addr);
}

/**
 * dmaverify_check_dma_addr() - the DMA address fits the device's mask
 * @ctx: device context
 * @obj: the new object
 * @addr: DMA address returned by the DMA implementation
 * @size: bytes
 * @coherent: check against the coherent mask
 */
void dmaverify_check_dma_addr(struct dmaverify_dev *ctx,
			      const struct dmaverify_obj *obj, dma_addr_t addr,
			      size_t size, bool coherent)
{
	if (!dmaverify_check_on(DV_ADDR_OUTSIDE_MASK) ||
	    dmaverify_dma_addr_ok(ctx->dev, addr, size, coherent))
		return;
	dmaverify_violation(ctx, DV_ADDR_OUTSIDE_MASK, obj, addr, size,
			    obj ? obj->dir : DMA_NONE,
			    "DMA address %pad + %zu bytes, %s mask %#llx", &addr,
			    size, coherent ? "coherent" : "streaming",
			    dma_limit(ctx->dev, coherent));
}

/* === S/G rules === */

/**
 * dmaverify_sg_csum() - fingerprint of an S/G list's entries
 * @sgl: the list
 * @nents: entries passed to map
 *
 * Covers what the driver owns while the list is mapped: pages, offsets and
 * lengths.  A change between map and unmap ("mangled MDL" on Windows) means
 * the unmap cannot release what was mapped.
 */
u32 dmaverify_sg_csum(struct scatterlist *sgl, int nents)
{
	struct scatterlist *s;
	u64 h = nents;
	int i;

	for_each_sg(sgl, s, nents, i)
		h = hash_64(h ^ (u64)(unsigned long)sg_page(s) ^
			    ((u64)s->offset << 32) ^ s->length, 32) + h * 31;
	return (u32)(h ^ (h >> 32));
}

/**
 * dmaverify_check_sg_segments() - the mapped segments fit the device
 * @ctx: device context
 * @sgl: the mapped list
 * @mapped: segments the mapping produced
 */
void dmaverify_check_sg_segments(struct dmaverify_dev *ctx,
				 struct scatterlist *sgl, int mapped)
{
	unsigned int max_seg = dma_get_max_seg_size(ctx->dev);
	unsigned long boundary = dma_get_seg_boundary(ctx->dev);
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, mapped, i) {
		dma_addr_t start = sg_dma_address(s);
		u64 end = start + (sg_dma_len(s) ? sg_dma_len(s) - 1 : 0);

		if (sg_dma_len(s) > max_seg && dmaverify_check_on(DV_SG_SEG_TOO_LONG))
			dmaverify_violation(ctx, DV_SG_SEG_TOO_LONG, NULL,
					    (unsigned long)sgl, sg_dma_len(s), DMA_NONE,
					    "segment %d: %u bytes, the device allows %u",
					    i, sg_dma_len(s), max_seg);
		if (((start ^ end) & ~(u64)boundary) &&
		    dmaverify_check_on(DV_SG_SEG_BOUNDARY))
			dmaverify_violation(ctx, DV_SG_SEG_BOUNDARY, NULL,
					    (unsigned long)sgl, sg_dma_len(s), DMA_NONE,
					    "segment %d: %pad-%#llx crosses boundary mask %#lx",
					    i, &start, end, boundary);
	}
}

/* === Release rules === */

/**
 * dmaverify_check_release() - an unmap or free matches what was created
 * @ctx: device context
 * @obj: the tracked object being released
 * @kind: the kind of release call (&enum dmaverify_kind)
 * @size: size passed (ignored for S/G lists)
 * @dir: direction passed (ignored for coherent buffers)
 * @cpu_addr: CPU address passed to a coherent free, or S/G list pointer
 * @nents: entries passed to an S/G unmap
 *
 * Return: true if the release may be forwarded as is; false if the caller
 * must forward it with the object's own values (the release was wrong, and
 * passing the wrong values on would corrupt swiotlb or IOMMU state).
 */
bool dmaverify_check_release(struct dmaverify_dev *ctx,
			     const struct dmaverify_obj *obj, int kind,
			     size_t size, int dir, unsigned long cpu_addr,
			     int nents)
{
	unsigned long key = dmaverify_obj_key(obj);
	bool ok = true;

	if (obj->kind != kind) {
		ok = false;
		if (dmaverify_check_on(DV_WRONG_FUNCTION))
			dmaverify_violation(ctx, DV_WRONG_FUNCTION, obj, key, size,
					    dir, "created as %s, released as %s",
					    dmaverify_kind_names[obj->kind],
					    dmaverify_kind_names[kind]);
		return ok;
	}
	if (kind != DV_KIND_SG && size != obj->size) {
		ok = false;
		if (dmaverify_check_on(DV_WRONG_SIZE))
			dmaverify_violation(ctx, DV_WRONG_SIZE, obj, key, size, dir,
					    "mapped %zu bytes, released %zu bytes",
					    (size_t)obj->size, size);
	}
	if (kind != DV_KIND_COHERENT && dir != obj->dir) {
		ok = false;
		if (dmaverify_check_on(DV_WRONG_DIRECTION))
			dmaverify_violation(ctx, DV_WRONG_DIRECTION, obj, key, size,
					    dir, "mapped with %s, unmapped with %s",
					    dmaverify_dir_name(obj->dir),
					    dmaverify_dir_name(dir));
	}
	if (kind == DV_KIND_COHERENT && cpu_addr != obj->phys) {
		ok = false;
		if (dmaverify_check_on(DV_WRONG_CPU_ADDR))
			dmaverify_violation(ctx, DV_WRONG_CPU_ADDR, obj, key, size,
					    dir, "allocated at %p, freed with %p",
					    (void *)obj->phys, (void *)cpu_addr);
	}
	if (kind == DV_KIND_SG) {
		if (nents != obj->nents) {
			ok = false;
			if (dmaverify_check_on(DV_WRONG_NENTS))
				dmaverify_violation(ctx, DV_WRONG_NENTS, obj, cpu_addr,
						    0, dir, "mapped %u entries, unmapped %d",
						    obj->nents, nents);
		} else if (dmaverify_sg_csum((struct scatterlist *)cpu_addr, nents) !=
			   obj->csum) {
			/* The list itself is what is wrong: nothing to correct. */
			if (dmaverify_check_on(DV_SG_MANGLED))
				dmaverify_violation(ctx, DV_SG_MANGLED, obj, cpu_addr,
						    0, dir,
						    "pages, offsets or lengths of the %u entries differ from those mapped",
						    obj->nents);
		}
	}
	return ok;
}

/* === Sync rules (0x16, 0x20, 0x00/0x01) === */

static void check_sync_direction(struct dmaverify_dev *ctx,
				 const struct dmaverify_obj *obj,
				 unsigned long addr, size_t size, int dir,
				 bool for_cpu)
{
	if (obj->dir == DMA_BIDIRECTIONAL || dir == obj->dir)
		return;
	if (for_cpu && obj->dir == DMA_TO_DEVICE) {
		if (dmaverify_check_on(DV_SYNC_TO_CPU_RO))
			dmaverify_violation(ctx, DV_SYNC_TO_CPU_RO, obj, addr, size, dir,
					    "mapped with %s, synced for the CPU with %s",
					    dmaverify_dir_name(obj->dir),
					    dmaverify_dir_name(dir));
	} else if (!for_cpu && obj->dir == DMA_FROM_DEVICE) {
		if (dmaverify_check_on(DV_SYNC_TO_DEV_WO))
			dmaverify_violation(ctx, DV_SYNC_TO_DEV_WO, obj, addr, size, dir,
					    "mapped with %s, synced for the device with %s",
					    dmaverify_dir_name(obj->dir),
					    dmaverify_dir_name(dir));
	} else if (dmaverify_check_on(DV_SYNC_DIRECTION)) {
		dmaverify_violation(ctx, DV_SYNC_DIRECTION, obj, addr, size, dir,
				    "mapped with %s, synced with %s",
				    dmaverify_dir_name(obj->dir),
				    dmaverify_dir_name(dir));
	}
}

/**
 * dmaverify_check_sync() - a single-range sync is inside a mapping
 * @ctx: device context
 * @obj: the mapping containing @addr
 * @addr: DMA address passed
 * @size: bytes passed
 * @dir: direction passed
 * @for_cpu: sync_single_for_cpu (else _for_device)
 */
void dmaverify_check_sync(struct dmaverify_dev *ctx,
			  const struct dmaverify_obj *obj, dma_addr_t addr,
			  size_t size, int dir, bool for_cpu)
{
	u64 off = addr - obj->dma;

	if (off + size > obj->size && dmaverify_check_on(DV_SYNC_OVERFLOW))
		dmaverify_violation(ctx, DV_SYNC_OVERFLOW, obj, addr, size, dir,
				    "sync of %zu bytes at offset %llu of a %zu-byte mapping",
				    size, off, (size_t)obj->size);
	check_sync_direction(ctx, obj, addr, size, dir, for_cpu);
}

/**
 * dmaverify_check_sync_sg() - an S/G sync matches the mapped list
 * @ctx: device context
 * @obj: the S/G list
 * @nents: entries passed
 * @dir: direction passed
 * @for_cpu: sync_sg_for_cpu (else _for_device)
 */
void dmaverify_check_sync_sg(struct dmaverify_dev *ctx,
			     const struct dmaverify_obj *obj, int nents, int dir,
			     bool for_cpu)
{
	if (nents != obj->nents && dmaverify_check_on(DV_WRONG_NENTS))
		dmaverify_violation(ctx, DV_WRONG_NENTS, obj, dmaverify_obj_key(obj), 0, dir,
				    "mapped %u entries, synced %d", obj->nents, nents);
	check_sync_direction(ctx, obj, dmaverify_obj_key(obj), obj->size, dir,
			     for_cpu);
}

int dmaverify_checks_init(void)
{
	find_kernel_image();
	if (!text_end)
		pr_info("kernel image ranges unknown: map-rodata is not checked\n");
	return 0;
}
