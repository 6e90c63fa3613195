/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmaverify trace events: one per violation, printed or not, for trace-cmd,
 * perf and BPF (trace-cmd record -e dmaverify:violation).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM dmaverify

#if !defined(DMAVERIFY_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define DMAVERIFY_TRACE_H

#include <linux/device.h>
#include <linux/tracepoint.h>

/* Fixed arrays: __assign_str() changed its arguments in 6.10. */
TRACE_EVENT(violation,
	    TP_PROTO(struct device *dev, const char *driver, u8 code, u8 sub,
		     const char *slug, unsigned long addr, unsigned long ip,
		     const char *site),
	    TP_ARGS(dev, driver, code, sub, slug, addr, ip, site),
	    TP_STRUCT__entry(__array(char, device, 32)
			     __array(char, driver, 32)
			     __array(char, slug, 32)
			     __field(u8, code)
			     __field(u8, sub)
			     __field(unsigned long, addr)
			     __field(unsigned long, ip)
			     __array(char, site, 96)),
	    TP_fast_assign(strscpy(__entry->device, dev_name(dev), sizeof(__entry->device));
			   strscpy(__entry->driver, driver, sizeof(__entry->driver));
			   strscpy(__entry->slug, slug, sizeof(__entry->slug));
			   __entry->code = code;
			   __entry->sub = sub;
			   __entry->addr = addr;
			   __entry->ip = ip;
			   strscpy(__entry->site, site, sizeof(__entry->site));),
	    /* The site as resolved at the event: its module may go before a read. */
	    TP_printk("device=%s driver=%s code=0x%02x sub=0x%02x slug=%s addr=%p site=%s",
		      __entry->device, __entry->driver, __entry->code,
		      __entry->sub, __entry->slug, (void *)__entry->addr,
		      __entry->site)
);

#endif /* DMAVERIFY_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
