// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lanner's kernel-side programs: syscalls of the interest set and the process lifecycle of the
 * traced processes, written as records to one ring buffer (layout in lanner.h).
 *
 * Cost discipline: an untraced syscall costs one array lookup (the plan for its number); a
 * traced syscall of a process outside the scope one more hash lookup. Records are written
 * without waking the reader, which polls, unless `wake_bytes` are waiting.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "kernel.h"
#include "lanner.h"

/* The probe-read helpers are GPL-only; this file is dual-licensed so that it may use them. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the driver before loading. */
const volatile __u32 agent_tgid = 0;
const volatile __u32 system_wide = 0;
const volatile __u64 wake_bytes = 1 << 20;
/* Benchmarks: the syscall programs return at once (the verifier drops the rest as dead code),
 * so a run costs what the attach mechanism alone costs. */
const volatile __u32 floor_only = 0;
/* The open filter (see open_left_out): keep every open that may write or create a file; look
 * suffixes up (the suffix trie has entries). Written by the driver at start and at a rules
 * reload, hence not read-only. */
volatile __u32 open_keep_writes = 0;
volatile __u32 open_suffixes = 0;
/* Leave out read-only opens of directories whatever their path (OpenFilter::
 * directories_left_out: every rule on opens needs a file). */
volatile __u32 open_skip_dirs = 0;
/* The prefix trie's entries' first bytes (up to eight, as a little-endian word, with the mask
 * of the bytes that count), so that a path no entry starts like is judged without a trie
 * lookup, which costs more than the record it saves. Used while open_heads_on is set (the
 * driver clears it while it rewrites them, and leaves it clear for an empty prefix or more
 * than LANNER_HEADS_MAX heads). */
#define LANNER_HEADS_MAX 16
volatile __u32 open_heads_on = 0;
volatile __u32 open_nheads = 0;
volatile __u64 open_heads[LANNER_HEADS_MAX][2];

/* The shared layout as this compiler sees it, for the driver's layout test. */
const volatile __u32 lanner_layout[] = {
	sizeof(struct lanner_plan),
	sizeof(struct lanner_hdr),
	__builtin_offsetof(struct lanner_hdr, size),
	__builtin_offsetof(struct lanner_hdr, kind),
	sizeof(struct lanner_sys),
	__builtin_offsetof(struct lanner_sys, ret),
	__builtin_offsetof(struct lanner_sys, args),
	__builtin_offsetof(struct lanner_sys, ncap),
	sizeof(struct lanner_cap),
	__builtin_offsetof(struct lanner_cap, len),
	sizeof(struct lanner_fork),
	__builtin_offsetof(struct lanner_fork, fork_kind),
	sizeof(struct lanner_exec),
	__builtin_offsetof(struct lanner_exec, args_len),
	__builtin_offsetof(struct lanner_exec, caps),
	__builtin_offsetof(struct lanner_exec, cgroup_len),
	__builtin_offsetof(struct lanner_exec, filename_len),
	sizeof(struct lanner_task_exit),
	__builtin_offsetof(struct lanner_task_exit, group_dead),
};

/* One instance of each record type, never written: it puts their BTF in the object, so that
 * the skeleton generates the Rust types the driver reads records with. */
struct lanner_records {
	struct lanner_sys sys;
	struct lanner_cap cap;
	struct lanner_fork fork;
	struct lanner_exec exec;
	struct lanner_task_exit exit;
} lanner_records;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24); /* resized by the driver */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LANNER_PLAN_SLOTS);
	__type(key, __u32);
	__type(value, struct lanner_plan);
} plans SEC(".maps");

/* The traced processes (tgids) with the descriptors records told the agent of (see mark_fds);
 * system-wide, every process that made a traced call (the scope is then everything). Allocated
 * as processes start: preallocating 64 K entries of them would hold ~12 MiB of kernel memory
 * for nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct lanner_known);
} scope SEC(".maps");

/* A process that starts the scope: the agent knows none of its descriptors yet. */
static const struct lanner_known no_fds = {};

/* The agent thread starting the workload: its child joins the scope at fork. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} spawner SEC(".maps");

/* Tasks whose string arguments could not be read at entry (a page not yet faulted in): bit i
 * for argument i, read again at exit, when the kernel has touched them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} retry SEC(".maps");

/* Entries in `retry` (counted where they are added and removed): while it is zero, which is
 * nearly always, exits skip the hash lookup. */
volatile __u64 retry_pending = 0;

#define SCRATCH_REC (2 * LANNER_MAX_RECORD)
#define PATH_END 4096
struct scratch {
	__u8 rec[SCRATCH_REC];
	__u8 path[PATH_END + 256];
	/* The write offset while captures are appended. Kept in map memory on purpose: the
	 * verifier does not know its value, only the bound each use checks, so the paths through
	 * the six arguments converge instead of multiplying. */
	__u64 cursor;
	__u32 ncap;   /* captures written */
	__u32 failed; /* arguments to read again at exit */
	__s32 argv;   /* the argv argument, or -1 */
	__u32 ppos;   /* where the path being built starts in `path` */
	__u32 open_cap; /* where the capture of an open's path starts in `rec`, or NO_CAP */
	/* The open filter's lookup keys: here rather than on the stack, where the verifier
	 * refuses the unaligned word stores that fill them. */
	struct lanner_prefix_key prefix_key;
	struct lanner_suffix_key suffix_key;
};
#define NO_CAP 0xffffffff

/* One scratch area per CPU (programs on tracepoints run with preemption off). A plain array
 * indexed by CPU: per-CPU array values are limited to 32 KiB. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to SLOTS_PER_CPU x possible CPUs by the driver */
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LANNER_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* The open filter's tries, filled by the driver. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lanner_prefix_key);
	__type(value, __u8);
} open_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lanner_suffix_key);
	__type(value, __u8);
} open_suffixes_trie SEC(".maps");

#define REC_MASK (LANNER_MAX_RECORD - 1)

/* An offset the verifier knows is below LANNER_MAX_RECORD. The mask is applied in asm because
 * the compiler drops a C mask it can prove redundant, and the verifier, tracking another
 * register, then cannot bound the access. */
static __always_inline __u64 rec_off(__u64 off)
{
	asm volatile("%[off] &= %[mask]" : [off] "+r"(off) : [mask] "i"(REC_MASK));
	return off;
}
#define PAD8(n) (((n) + 7) & ~7U)

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += 1;
}

/* Scratch slots per CPU, one per kind of program. Syscall tracepoints may run their programs
 * with preemption enabled (only migration disabled), so a program can be preempted and another
 * kind of program run on the same CPU meanwhile; the kernel never runs one program twice at
 * once on a CPU (it skips and counts the second), so one slot per kind is exclusive. */
#define SLOT_ENTER 0
#define SLOT_EXIT 1
#define SLOT_SCHED 2
#define SLOTS_PER_CPU 3

static __always_inline struct scratch *scratch_area(__u32 slot)
{
	__u32 key = bpf_get_smp_processor_id() * SLOTS_PER_CPU + slot;
	return bpf_map_lookup_elem(&scratch, &key);
}

static __always_inline int wanted(__u32 tgid)
{
	if (system_wide)
		return tgid != agent_tgid;
	return bpf_map_lookup_elem(&scope, &tgid) != 0;
}

/* Bytes this CPU wrote since it last asked how full the ring is: asking reads the consumer's
 * position, a cache line the reader on another CPU writes, so it is asked once per
 * QUERY_EVERY bytes rather than on every record. */
#define QUERY_EVERY (64 * 1024)
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} unqueried SEC(".maps");

/* Returns whether the record was written. */
static __always_inline int submit(void *rec, __u32 size)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 zero = 0;
	__u64 *since = bpf_map_lookup_elem(&unqueried, &zero);
	if (since) {
		*since += size;
		if (*since >= QUERY_EVERY) {
			*since = 0;
			if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes)
				flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	if (bpf_ringbuf_output(&events, rec, size & (SCRATCH_REC - 1), flags)) {
		count(LANNER_CNT_LOST);
		return 0;
	}
	return 1;
}

static __always_inline void fill_hdr(struct lanner_hdr *h, __u16 kind, __u16 abi, __u32 pid,
				     __u32 tid)
{
	h->ts = bpf_ktime_get_boot_ns();
	h->pid = pid;
	h->tid = tid;
	h->kind = kind;
	h->abi = abi;
	h->size = 0;
}

/* Room left for one more capture of the largest kind. */
static __always_inline int room(__u32 off)
{
	return off <= LANNER_MAX_RECORD - sizeof(struct lanner_cap) - LANNER_MAX_STRING - 16;
}

static __always_inline struct lanner_cap *cap_at(struct scratch *s, __u32 off, __u8 arg,
						 __u8 status)
{
	struct lanner_cap *c = (void *)&s->rec[rec_off(off)];
	c->arg = arg;
	c->status = status;
	c->pad = 0;
	c->err = 0;
	c->len = 0;
	c->pad2 = 0;
	return c;
}

/* A NUL-terminated string; returns the bytes used, 0 when out of room. Sets *efault when the
 * read failed with EFAULT on a non-NULL pointer (worth retrying at exit). */
static __always_inline __u32 cap_string(struct scratch *s, __u32 off, __u8 arg, __u8 item,
					__u64 ptr, __u32 max, int *efault)
{
	if (!room(off))
		return 0;
	if (!ptr && !item) {
		cap_at(s, off, arg, LANNER_CAPST_NULL);
		return sizeof(struct lanner_cap);
	}
	__u64 data = rec_off(off + sizeof(struct lanner_cap));
	long n = bpf_probe_read_user_str(&s->rec[data], (max & 8191) + 1, (void *)ptr);
	struct lanner_cap *c = cap_at(s, off, arg, item ? LANNER_CAPST_ITEM : LANNER_CAPST_BYTES);
	if (n < 0) {
		c->status = item ? LANNER_CAPST_ITEM_UNREADABLE : LANNER_CAPST_UNREADABLE;
		c->err = -n;
		if (n == -14 && efault)
			*efault = 1;
		return sizeof(struct lanner_cap);
	}
	__u32 len = n > 0 ? n - 1 : 0;
	if (len >= max) {
		len = max;
		if (!item)
			c->status = LANNER_CAPST_TRUNCATED;
	}
	c->len = len;
	return sizeof(struct lanner_cap) + PAD8(len & 8191);
}

/* `len` bytes of user memory (a socket address, an fd pair). */
static __always_inline __u32 cap_bytes(struct scratch *s, __u32 off, __u8 arg, __u64 ptr,
				       __u32 len, int *efault)
{
	if (!room(off))
		return 0;
	if (!ptr) {
		cap_at(s, off, arg, LANNER_CAPST_NULL);
		return sizeof(struct lanner_cap);
	}
	len &= 255;
	if (len > LANNER_MAX_SOCKADDR)
		len = LANNER_MAX_SOCKADDR;
	__u64 data = rec_off(off + sizeof(struct lanner_cap));
	long err = bpf_probe_read_user(&s->rec[data], len, (void *)ptr);
	struct lanner_cap *c = cap_at(s, off, arg, LANNER_CAPST_BYTES);
	if (err < 0) {
		c->status = LANNER_CAPST_UNREADABLE;
		c->err = -err;
		if (err == -14 && efault)
			*efault = 1;
		return sizeof(struct lanner_cap);
	}
	c->len = len;
	return sizeof(struct lanner_cap) + PAD8(len);
}

struct argv_walk {
	__u64 ptr;
	__u32 width;
	__u32 ncap;
	__u32 total;
	__s32 err;
	__u8 arg;
};

/* One argv string per bpf_loop iteration: the loop body is verified once, not 64 times. */
static long argv_item(__u64 index, void *data)
{
	struct argv_walk *w = data;
	struct scratch *s = scratch_area(SLOT_ENTER);
	if (!s)
		return 1;
	__u64 item = 0;
	long err;
	if (w->width == 4)
		err = bpf_probe_read_user(&item, 4, (void *)(w->ptr + index * 4));
	else
		err = bpf_probe_read_user(&item, 8, (void *)(w->ptr + index * 8));
	if (err < 0) {
		if (index == 0)
			w->err = -err;
		return 1;
	}
	if (!item || w->total >= LANNER_MAX_ARGV_BYTES)
		return 1;
	__u64 off = s->cursor;
	__u32 used = cap_string(s, off, w->arg, 1, item, LANNER_MAX_STRING, 0);
	if (!used)
		return 1;
	struct lanner_cap *c = (void *)&s->rec[rec_off(off)];
	w->total += c->len + 1;
	s->cursor = off + used;
	w->ncap += 1;
	return 0;
}

/* execve's argv: a LIST marker, then one ITEM per string. */
static __always_inline __u32 cap_argv(struct scratch *s, __u32 off, __u8 arg, __u64 ptr,
				      __u32 width, __u32 *ncap)
{
	if (!room(off))
		return 0;
	*ncap += 1;
	if (!ptr) {
		cap_at(s, off, arg, LANNER_CAPST_NULL);
		return sizeof(struct lanner_cap);
	}
	cap_at(s, off, arg, LANNER_CAPST_LIST);
	struct argv_walk w = {
		.ptr = ptr,
		.width = width,
		.arg = arg,
	};
	s->cursor = off + sizeof(struct lanner_cap);
	bpf_loop(LANNER_MAX_ARGV, argv_item, &w, 0);
	if (w.err) {
		struct lanner_cap *c = cap_at(s, off, arg, LANNER_CAPST_UNREADABLE);
		c->err = w.err;
		return sizeof(struct lanner_cap);
	}
	*ncap += w.ncap;
	return (__u32)s->cursor - off;
}

/* a[i] of a six-element array, for an index the verifier cannot bound (one from the plan map
 * or a bpf_loop counter): a switch over constant offsets, which it accepts, instead of a
 * variable offset into the stack, which it does not. */
#define ONE_OF_SIX(a, i)                                                                   \
	({                                                                                 \
		__typeof__((a)[0]) one_;                                                   \
		switch (i) {                                                               \
		case 0: one_ = (a)[0]; break;                                              \
		case 1: one_ = (a)[1]; break;                                              \
		case 2: one_ = (a)[2]; break;                                              \
		case 3: one_ = (a)[3]; break;                                              \
		case 4: one_ = (a)[4]; break;                                              \
		default: one_ = (a)[5]; break;                                             \
		}                                                                          \
		one_;                                                                      \
	})

static __always_inline __u64 arg_at(__u64 *args, __u8 i)
{
	return ONE_OF_SIX(args, i);
}

/* The syscall's six arguments, as its ABI passes them. `regs` is a BTF pointer (a tp_btf
 * argument or bpf_task_pt_regs), so these are direct loads the JIT guards with an exception
 * entry, not bpf_probe_read_kernel calls: about 20 ns less each, on every traced syscall. */
static __always_inline void read_args(struct pt_regs *regs, __u32 abi, __u64 *args)
{
	if (abi == LANNER_ABI_I386) {
		args[0] = regs->bx & 0xffffffff;
		args[1] = regs->cx & 0xffffffff;
		args[2] = regs->dx & 0xffffffff;
		args[3] = regs->si & 0xffffffff;
		args[4] = regs->di & 0xffffffff;
		args[5] = regs->bp & 0xffffffff;
	} else {
		args[0] = regs->di;
		args[1] = regs->si;
		args[2] = regs->dx;
		args[3] = regs->r10;
		args[4] = regs->r8;
		args[5] = regs->r9;
	}
}

/* A call with nothing to read at entry, reported in one record at its exit. */
static __always_inline int reported_at_exit(struct lanner_plan *plan)
{
	return (plan->traced & LANNER_ONE_RECORD) && !plan->entry_only;
}

/* Descriptor `fd`'s word and bit in a process's known set; 0 when it is not followed. */
static __always_inline __u64 *known_word(struct lanner_known *known, __s64 fd, __u64 *bit)
{
	if (fd < 0 || fd >= LANNER_KNOWN_FDS)
		return 0;
	*bit = 1ULL << (fd & 63);
	/* The word's index masked in asm, like rec_off: the compiler drops a mask the check above
	 * makes redundant, and older verifiers (6.1's) lose that check's bound on the copy of fd
	 * they see shifted. */
	__u64 word = (__u64)fd >> 6;
	asm volatile("%[w] &= %[mask]" : [w] "+r"(word) : [mask] "i"(LANNER_KNOWN_FDS / 64 - 1));
	return &known->bits[word];
}

static __always_inline void mark_fd(struct lanner_known *known, __s64 fd)
{
	__u64 bit;
	__u64 *word = known_word(known, fd, &bit);
	if (word)
		__sync_fetch_and_or(word, bit);
}

/* Sets r->stale_fds: the descriptor arguments whose bits are clear (closed since a record told
 * the agent of them, or never told of: the agent reads /proc for those either way). Taken
 * before mark_fds sets them. The bits are or-ed into the record, in map memory, rather than
 * gathered in a register: the verifier would follow every combination of them apart. */
static __always_inline void mark_stale(struct lanner_sys *r, struct lanner_known *known,
				       struct lanner_plan *plan, __u64 *args)
{
	__u8 marks = plan->fd_marks;
	if (!known || !(marks & 0x3f))
		return;
	for (int i = 0; i < 6; i++) {
		if (!(marks & (1U << i)) || plan->cap[i] == LANNER_CAP_FDPAIR)
			continue;
		__u64 bit;
		__u64 *word = known_word(known, (__s32)args[i], &bit);
		if (word && !(*word & bit))
			r->stale_fds |= 1U << i;
	}
}

/* After a record of the call was written: the descriptors it told the agent of, which the
 * agent may now hold state for (it learns descriptors from records only: their results and
 * arguments, and /proc for an argument it had not seen). Another thread of the process may
 * mark or clear bits at the same time, hence the atomics. */
static __always_inline void mark_fds(struct lanner_known *known, struct lanner_plan *plan,
				     __u64 *args, __s64 ret, int at_exit)
{
	__u8 marks = plan->fd_marks;
	if (!known || !marks)
		return;
	if (at_exit && (marks & LANNER_MARK_RESULT) && ret >= 0)
		mark_fd(known, ret);
	for (int i = 0; i < 6; i++) {
		if (!(marks & (1U << i)))
			continue;
		if (plan->cap[i] == LANNER_CAP_FDPAIR) {
			__s32 pair[2];
			if (at_exit && ret == 0 &&
			    bpf_probe_read_user(pair, sizeof(pair), (void *)args[i]) == 0) {
				mark_fd(known, pair[0]);
				mark_fd(known, pair[1]);
			}
		} else {
			mark_fd(known, (__s32)args[i]);
		}
	}
}

/* At exit, a one-record call whose result no rule can match (every dup above 2, under the
 * default rules): it ends before anything else is looked up or read. (A call with an entry
 * record is judged by the driver, which holds the entry.) */
static __always_inline int left_out_by_result(struct lanner_plan *plan, int at_entry, __u32 abi,
					      __s64 ret)
{
	if (at_entry || !plan->res_filter || !(plan->traced & LANNER_ONE_RECORD))
		return 0;
	__s64 res = abi == LANNER_ABI_I386 ? (__s32)ret : ret;
	return res < plan->res_lo || res > plan->res_hi;
}

/* The plan for this syscall, with its ABI and (for i386 socketcall) the real arguments;
 * NULL when it is not traced, not for this process, or left out by its result. *known_out is
 * the process's known descriptors (NULL when the scope map had no room for them). */
static __always_inline struct lanner_plan *plan_for(struct pt_regs *regs, __u64 nr, int at_entry,
						    __s64 ret, __u32 *abi_out, __u32 *op_out,
						    __u64 *args, struct lanner_known **known_out)
{
	/* A direct load through the BTF pointer: this runs for every syscall in raw mode. */
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 abi, slot;
	if (task->thread_info.status & TS_COMPAT) {
		abi = LANNER_ABI_I386;
		if (nr >= LANNER_NR_SPACE)
			return 0;
		slot = LANNER_PLAN_I386 + nr;
	} else {
		abi = (nr & X32_SYSCALL_BIT) ? LANNER_ABI_X32 : LANNER_ABI_X86_64;
		nr &= ~(__u64)X32_SYSCALL_BIT;
		if (nr >= LANNER_NR_SPACE)
			return 0;
		slot = nr;
	}
	struct lanner_plan *plan = bpf_map_lookup_elem(&plans, &slot);
	if (!plan || !(plan->traced & LANNER_TRACED))
		return 0;
	/* Nothing to read at entry: the exit reports the whole call (the argument registers are
	 * unchanged at exit), so the entry stops here, before the scope lookup and the register
	 * reads. */
	if (at_entry && reported_at_exit(plan))
		return 0;
	/* Reported at entry: nothing to do at exit. */
	if (!at_entry && plan->entry_only)
		return 0;
	if (left_out_by_result(plan, at_entry, abi, ret))
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct lanner_known *known = bpf_map_lookup_elem(&scope, &tgid);
	if (system_wide) {
		if (tgid == agent_tgid)
			return 0;
		/* Whole-system: a process gets its set of known descriptors at its first traced
		 * call (none known: what it opened before, the agent reads from /proc). A full map
		 * leaves it without one: its closes are reported, its descriptors never marked. */
		if (!known) {
			bpf_map_update_elem(&scope, &tgid, &no_fds, BPF_NOEXIST);
			known = bpf_map_lookup_elem(&scope, &tgid);
		}
	} else if (!known) {
		return 0;
	}
	*known_out = known;
	read_args(regs, abi, args);
	/* A close is not reported: its descriptor's bit is cleared, and the next record that
	 * uses the number (reopened by a call no record tells of) marks it stale instead. What
	 * the agent holds for it is harmless meanwhile: nothing refers to a closed descriptor. */
	if (plan->lazy_close && known) {
		__u64 bit;
		__u64 *word = known_word(known, (__s32)args[0], &bit);
		if (word) {
			__sync_fetch_and_and(word, ~bit);
			return 0;
		}
	}
	*abi_out = abi;
	*op_out = 0;
	if (abi == LANNER_ABI_I386 && nr == 102) {
		/* socketcall(op, words): judge and decode the operation it multiplexes. */
		__u32 op = args[0];
		if (op >= LANNER_SOCKETCALL_OPS)
			return 0;
		slot = LANNER_PLAN_SOCKETCALL + op;
		plan = bpf_map_lookup_elem(&plans, &slot);
		if (!plan || !(plan->traced & LANNER_TRACED))
			return 0;
		/* The same for the operation, before its words are read. */
		if (at_entry && reported_at_exit(plan))
			return 0;
		if (left_out_by_result(plan, at_entry, abi, ret))
			return 0;
		__u32 words[6] = {};
		__u32 n = plan->words;
		if (n > 6)
			n = 6;
		if (n && bpf_probe_read_user(words, n * 4, (void *)args[1]) < 0)
			return 0;
		for (int i = 0; i < 6; i++)
			args[i] = words[i];
		*op_out = op;
	}
	return plan;
}

static __always_inline __u32 sys_record(struct scratch *s, __u16 kind, __u32 abi, __u64 nr,
					__u32 op, __u64 *args, __s64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lanner_sys *r = (void *)s->rec;
	r->hdr.pid = pid_tgid >> 32;
	r->hdr.tid = (__u32)pid_tgid;
	r->hdr.kind = kind;
	r->hdr.abi = abi;
	r->hdr.size = 0;
	r->nr = nr;
	r->op = op;
	r->ret = ret;
	for (int i = 0; i < 6; i++)
		r->args[i] = args[i];
	r->ncap = 0;
	r->entry_only = 0;
	r->stale_fds = 0;
	r->pad = 0;
	/* Stamped just before it is submitted: a call left out reads no clock. */
	r->hdr.ts = 0;
	return sizeof(struct lanner_sys);
}

/* What the per-argument capture loop works on. */
struct cap_walk {
	__u64 args[6];
	__u32 slot; /* the scratch slot of the program that runs the walk */
	struct lanner_plan plan;
	__u32 at_exit;
	__u32 retry; /* exit: arguments to read now (their entry read failed, or a one-record
		      * call, which reads everything at exit) */
	__s64 ret;
};

/* A plan's per-argument byte (cap, aux) for argument i. */
static __always_inline __u8 byte_at(__u8 *bytes, __u64 i)
{
	return ONE_OF_SIX(bytes, i);
}

/* One argument per bpf_loop iteration (verified once, whatever the plan says). */
static long capture_arg(__u64 i, void *data)
{
	struct cap_walk *w = data;
	struct scratch *s = scratch_area(w->slot);
	if (!s || i > 5)
		return 1;
	__u8 cap = byte_at(w->plan.cap, i);
	__u64 arg = arg_at(w->args, i);
	__u32 used = 0;
	int efault = 0;
	int input = cap == LANNER_CAP_STR || cap == LANNER_CAP_SOCKADDR || cap == LANNER_CAP_ARGV;
	if (input && (!w->at_exit || (w->retry & (1U << i)))) {
		if (cap == LANNER_CAP_STR) {
			__u64 at = s->cursor;
			used = cap_string(s, at, i, 0, arg, LANNER_MAX_STRING, &efault);
			/* (Nothing written, nothing to judge: the filter keeps the call.) */
			if (used && i + 1 == w->plan.open_path)
				s->open_cap = at;
		} else if (cap == LANNER_CAP_SOCKADDR) {
			used = cap_bytes(s, s->cursor, i, arg,
					 arg_at(w->args, byte_at(w->plan.aux, i)), &efault);
		} else if (cap == LANNER_CAP_ARGV && !w->at_exit) {
			s->argv = i;
		}
		if (efault && !w->at_exit)
			s->failed |= 1U << i;
	} else if (input) {
		/* Read at entry. */
	} else if (w->ret >= 0 && cap == LANNER_CAP_SOCKADDR_OUT) {
		__u32 len = 0;
		__u64 len_ptr = arg_at(w->args, byte_at(w->plan.aux, i));
		if (arg && len_ptr && bpf_probe_read_user(&len, 4, (void *)len_ptr) < 0) {
			if (room(s->cursor)) {
				struct lanner_cap *c =
					cap_at(s, s->cursor, i, LANNER_CAPST_UNREADABLE);
				c->err = 14;
				used = sizeof(struct lanner_cap);
			}
		} else {
			used = cap_bytes(s, s->cursor, i, len_ptr ? arg : 0, len, 0);
		}
	} else if (w->ret >= 0 && cap == LANNER_CAP_FDPAIR) {
		used = cap_bytes(s, s->cursor, i, arg, 8, 0);
	}
	if (used) {
		s->ncap += 1;
		s->cursor += used;
	}
	return 0;
}

/* A syscall's entry, whichever tracepoint saw it. */
static __always_inline int on_enter(struct pt_regs *regs, long id)
{
	/* The walk is set up only for a traced call: zeroing it first cost every syscall. */
	__u64 args[6];
	__u32 abi, op;
	struct lanner_known *known = 0;
	struct lanner_plan *plan = plan_for(regs, id, 1, 0, &abi, &op, args, &known);
	if (!plan)
		return 0;
	struct cap_walk w = {.slot = SLOT_ENTER};
	for (int i = 0; i < 6; i++)
		w.args[i] = args[i];
	struct scratch *s = scratch_area(SLOT_ENTER);
	if (!s)
		return 0;
	w.plan = *plan;
	s->cursor = sys_record(s, LANNER_REC_ENTER, abi, id, op, w.args, 0);
	s->ncap = 0;
	s->failed = 0;
	s->argv = -1;
	if (w.plan.span)
		bpf_loop(w.plan.span, capture_arg, &w, 0);
	/* Last, so that the strings before it are never crowded out by a long argv. */
	__s32 argv = s->argv;
	if (argv >= 0 && argv < 6) {
		__u32 ncap = 0;
		__u32 width = abi == LANNER_ABI_X86_64 ? 8 : 4;
		__u32 used = cap_argv(s, s->cursor, argv, arg_at(w.args, argv), width, &ncap);
		s->cursor += used;
		s->ncap += ncap;
	}
	struct lanner_sys *r = (void *)s->rec;
	r->entry_only = w.plan.entry_only;
	mark_stale(r, known, &w.plan, w.args);
	r->ncap = s->ncap;
	__u32 off = s->cursor;
	r->hdr.size = off;
	r->hdr.ts = bpf_ktime_get_boot_ns();
	/* A lost record told the agent of nothing: its descriptors stay unmarked, so that their
	 * next use is marked stale. */
	if (submit(s->rec, off))
		mark_fds(known, &w.plan, w.args, 0, 0);
	__u32 failed = s->failed;
	if (failed && !w.plan.entry_only) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		if (bpf_map_update_elem(&retry, &tid, &failed, BPF_NOEXIST) == 0)
			__sync_fetch_and_add(&retry_pending, 1);
		else
			bpf_map_update_elem(&retry, &tid, &failed, BPF_EXIST);
	}
	return 0;
}

/* `raw` mode: every syscall of every ABI passes here; most return at the plan lookup. */
SEC("tp_btf/sys_enter")
int BPF_PROG(lanner_sys_enter, struct pt_regs *regs, long id)
{
	if (floor_only)
		return 0;
	return on_enter(regs, id);
}

/* The open filter: lanner_common::paths::OpenFilter::keeps, mirrored. An open whose path no
 * rule can match, in the access mode it asks for, is left out before its record is written.
 * It is judged on the path as the call named it, which is what the rules see (made absolute and
 * normalized) only when it already is; any other path is kept. */

#define ONES 0x0101010101010101ULL
#define LOW7 0x7f7f7f7f7f7f7f7fULL
/* Longest path scanned; a longer one is kept (common::paths::SCAN_MAX). */
#define SCAN_MAX 256

/* 0x80 in each byte of `w` equal to `c`, 0 elsewhere (exact: no carry crosses a byte). */
static __always_inline __u64 bytes_equal(__u64 w, __u8 c)
{
	__u64 x = w ^ (c * ONES);
	return ~(((x & LOW7) + LOW7) | x | LOW7);
}

/* Whether the `len` bytes at rec[data] (a NUL after them) are not an absolute, normalized path:
 * relative, "//", "/./", any "..", a trailing "/" or "/.". Eight bytes at a time, every six
 * bytes, so that each three-byte window lies whole in some word.
 *
 * This and suffix_access are global functions, each checked once by the verifier on its own:
 * inlined, every way out of one loop went on through the other (each loop stops at a length
 * the verifier does not know), and the product was more than it checks. */
__noinline int needs_resolving(struct scratch *s, __u32 data, __u32 len)
{
	if (!s || len == 0 || len > SCAN_MAX)
		return 1;
	if (s->rec[rec_off(data)] != '/')
		return 1;
	if (len > 1) {
		__u8 last = s->rec[rec_off(data + len - 1)];
		if (last == '/' || (last == '.' && s->rec[rec_off(data + len - 2)] == '/'))
			return 1;
	}
	for (__u32 i = 0; i < SCAN_MAX; i += 6) {
		if (i >= len)
			break;
		__u64 w = *(__u64 *)&s->rec[rec_off(data + i)];
		__u64 dot = bytes_equal(w, '.');
		__u64 slash = bytes_equal(w, '/');
		__u64 bad = (dot & (dot >> 8)) | (slash & (slash >> 8)) |
			    (slash & (dot >> 8) & (slash >> 16));
		/* Windows starting in this word's first six bytes, within the path. */
		__u32 left = len - i;
		__u64 starts = left >= 6 ? 0xffffffffffffULL : (1ULL << (left * 8)) - 1;
		if (bad & starts)
			return 1;
	}
	return 0;
}

/* The access modes the longest stored prefix of the path allows. A global function, like
 * needs_resolving, for its loop. */
__noinline int prefix_access(__u32 data, __u32 len)
{
	/* The exit slot's area, looked up here rather than passed: a global function's pointer
	 * argument is plain memory to the verifier, which older kernels (6.1, Debian 12's and
	 * Amazon Linux 2023's, among them) refuse as a map key; a map value they take. An array
	 * lookup is inlined: a few instructions. */
	struct scratch *s = scratch_area(SLOT_EXIT);
	if (!s)
		return 0;
	if (open_heads_on) {
		/* The path's first eight bytes; a shorter path has its NUL among them, which no
		 * head has, so the words can only agree where the path does. */
		__u64 first = *(__u64 *)&s->rec[rec_off(data)];
		__u32 n = open_nheads;
		int near = 0;
		for (__u32 i = 0; i < LANNER_HEADS_MAX; i++) {
			if (i >= n)
				break;
			if ((first & open_heads[i][1]) == open_heads[i][0]) {
				near = 1;
				break;
			}
		}
		if (!near)
			return 0;
	}
	struct lanner_prefix_key *key = &s->prefix_key;
	__u32 n = len < LANNER_PREFIX_MAX ? len : LANNER_PREFIX_MAX;
	key->prefixlen = n * 8;
	/* Bytes past the NUL are left over from earlier records; the key's length hides them. */
	for (int i = 0; i < LANNER_PREFIX_MAX; i += 8)
		*(__u64 *)&key->data[i] = *(__u64 *)&s->rec[rec_off(data + i)];
	__u8 *access = bpf_map_lookup_elem(&open_prefixes, key);
	return access ? *access : 0;
}

/* The same for the longest stored suffix: the trie holds suffixes reversed. */
__noinline int suffix_access(__u32 data, __u32 len)
{
	/* Looked up here, as in prefix_access. */
	struct scratch *s = scratch_area(SLOT_EXIT);
	if (!s)
		return 0;
	struct lanner_suffix_key *key = &s->suffix_key;
	__u32 n = len < LANNER_SUFFIX_MAX ? len : LANNER_SUFFIX_MAX;
	key->prefixlen = n * 8;
	for (__u32 j = 0; j < LANNER_SUFFIX_MAX; j++) {
		if (j >= n)
			break;
		key->data[j] = s->rec[rec_off(data + len - 1 - j)];
	}
	__u8 *access = bpf_map_lookup_elem(&open_suffixes_trie, key);
	return access ? *access : 0;
}

#define O_ACCMODE_BITS 3
#define O_CREAT_BIT 0100
#define O_TRUNC_BIT 01000
#define O_DIRECTORY_BIT 0200000
/* O_TMPFILE without O_DIRECTORY's bit, which it includes. */
#define O_TMPFILE_ONLY_BIT 020000000

/* Whether an x86_64 open whose path capture starts at s->open_cap, with `flags` (when
 * `has_flags`), is left out (counted). A global function: the verifier checks it once, on its
 * own, instead of along every path of the exit program that calls it. */
__noinline int open_left_out(struct scratch *s, __u32 has_flags, __u64 flags)
{
	if (!s)
		return 0;
	__u8 access = LANNER_ACCESS_READ | LANNER_ACCESS_WRITE;
	int creates = 1;
	if (has_flags) {
		__u64 mode = flags & O_ACCMODE_BITS;
		if (mode == 0)
			access = LANNER_ACCESS_READ;
		else if (mode == 1)
			access = LANNER_ACCESS_WRITE;
		creates = (flags & O_CREAT_BIT) != 0;
	}
	if (open_keep_writes && ((access & LANNER_ACCESS_WRITE) || creates))
		return 0;
	__u32 off = s->open_cap;
	if (off == NO_CAP)
		return 0;
	struct lanner_cap *c = (void *)&s->rec[rec_off(off)];
	if (c->status != LANNER_CAPST_BYTES)
		return 0;
	__u32 len = c->len;
	__u32 data = off + sizeof(struct lanner_cap);
	if (needs_resolving(s, data, len))
		return 0;
	if (prefix_access(data, len) & access)
		return 0;
	if (open_suffixes && (suffix_access(data, len) & access))
		return 0;
	count(LANNER_CNT_OPENS_LEFT_OUT);
	return 1;
}

/* lanner_common::paths::opens_a_directory: read only, O_DIRECTORY, nothing created or
 * truncated. */
static __always_inline int directory_read(__u64 flags)
{
	return (flags & O_DIRECTORY_BIT) && (flags & O_ACCMODE_BITS) == 0 &&
	       !(flags & (O_CREAT_BIT | O_TRUNC_BIT | O_TMPFILE_ONLY_BIT));
}

/* A syscall's exit, whichever tracepoint saw it. */
static __always_inline int on_exit(struct pt_regs *regs, long ret)
{
	__u64 args[6];
	__u32 abi, op;
	__u64 nr = regs->orig_ax;
	struct lanner_known *known = 0;
	struct lanner_plan *plan = plan_for(regs, nr, 0, ret, &abi, &op, args, &known);
	if (!plan)
		return 0;
	/* A read of a directory the open filter leaves out is judged by its flags alone, before
	 * its path is read. */
	if (open_skip_dirs && plan->open_path && plan->open_flags && abi == LANNER_ABI_X86_64 &&
	    directory_read(arg_at(args, plan->open_flags - 1))) {
		count(LANNER_CNT_OPENS_LEFT_OUT);
		return 0;
	}
	struct cap_walk w = {.slot = SLOT_EXIT};
	for (int i = 0; i < 6; i++)
		w.args[i] = args[i];
	if (abi == LANNER_ABI_I386)
		ret = (__s32)ret;
	struct scratch *s = scratch_area(SLOT_EXIT);
	if (!s)
		return 0;
	w.plan = *plan;
	w.at_exit = 1;
	w.ret = ret;
	/* A one-record call reads its input arguments now: the registers still hold the
	 * pointers, and memory the call only read is as the caller left it (the kernel's own copy
	 * was made in between, so a racing thread could change it as well before an entry read
	 * as after; and a page the call faulted in is readable now, where an entry read fails).
	 * Otherwise, entry reads to try again: none anywhere while no entry has left any. */
	if (w.plan.traced & LANNER_ONE_RECORD) {
		w.retry = 0x3f;
	} else if (retry_pending) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		__u32 *failed = bpf_map_lookup_elem(&retry, &tid);
		if (failed) {
			w.retry = *failed;
			if (bpf_map_delete_elem(&retry, &tid) == 0)
				__sync_fetch_and_add(&retry_pending, -1);
		}
	}
	__u16 kind = (w.plan.traced & LANNER_ONE_RECORD) ? LANNER_REC_WHOLE : LANNER_REC_EXIT;
	s->cursor = sys_record(s, kind, abi, nr, op, w.args, ret);
	s->ncap = 0;
	s->open_cap = NO_CAP;
	if (w.plan.span && (w.retry || (ret >= 0 && w.plan.exit_caps)))
		bpf_loop(w.plan.span, capture_arg, &w, 0);
	if (w.plan.open_path && abi == LANNER_ABI_X86_64 &&
	    open_left_out(s, w.plan.open_flags != 0,
			  w.plan.open_flags ? arg_at(w.args, w.plan.open_flags - 1) : 0))
		return 0;
	struct lanner_sys *r = (void *)s->rec;
	/* (An exit record's marks are not read: a call with an entry record was judged there.) */
	mark_stale(r, known, &w.plan, w.args);
	r->ncap = s->ncap;
	__u32 off = s->cursor;
	r->hdr.size = off;
	r->hdr.ts = bpf_ktime_get_boot_ns();
	if (submit(s->rec, off))
		mark_fds(known, &w.plan, w.args, ret, 1);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(lanner_sys_exit, struct pt_regs *regs, long ret)
{
	if (floor_only)
		return 0;
	return on_exit(regs, ret);
}

/* `per-syscall` mode: the same bodies, attached to syscalls:sys_enter_<name> and
 * sys_exit_<name> for just the interest set, so untraced syscalls run no program at all. These
 * tracepoints never fire for 32-bit syscalls. The context is the tracepoint's record (fixed
 * layout: 8 bytes of common fields, then the syscall number); the registers come from the
 * task. */
struct syscall_enter_record {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

struct syscall_exit_record {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

SEC("tracepoint")
int lanner_tp_enter(struct syscall_enter_record *ctx)
{
	if (floor_only)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	return on_enter(regs, ctx->nr);
}

SEC("tracepoint")
int lanner_tp_exit(struct syscall_exit_record *ctx)
{
	if (floor_only)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	return on_exit(regs, ctx->ret);
}

/* Loaded alone by the driver's probe, to learn whether this kernel accepts trampoline
 * (fentry) programs. Some kernels refuse them (EPERM); `lanner drivers` says which. */
SEC("fentry/__x64_sys_openat")
int BPF_PROG(lanner_fentry_probe)
{
	return 0;
}

/* `fentry` mode: untraced syscalls run nothing at all, not even the syscall tracepoints' slow
 * path. A trampoline program is bound at load to one kernel function, and the bodies are
 * large (each load is a long verification), so each traced syscall's function
 * (`__x64_sys_<name>`) gets a stub of a few instructions, made by the driver, that tail-calls
 * the one body of its kind through these arrays. Every `__x64_sys_*` function has the same
 * prototype, (const struct pt_regs *), so the body, loaded against `__x64_sys_close`, reads its
 * context the same whichever function the stub is on (the kernel's BTF holds two copies of that
 * prototype, and a tail call must stay within one: fentry.rs puts each stub on the right
 * entry). Like the per-syscall tracepoints, these
 * functions see x86_64 syscalls only. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fentry_bodies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fexit_bodies SEC(".maps");

SEC("fentry/__x64_sys_close")
int BPF_PROG(lanner_fentry_body, struct pt_regs *regs)
{
	if (floor_only)
		return 0;
	return on_enter(regs, regs->orig_ax);
}

SEC("fexit/__x64_sys_close")
int BPF_PROG(lanner_fexit_body, struct pt_regs *regs, long ret)
{
	if (floor_only)
		return 0;
	return on_exit(regs, ret);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(lanner_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ptid = BPF_CORE_READ(parent, pid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u32 ctid = BPF_CORE_READ(child, pid);
	struct lanner_known *parent_known = 0;
	if (system_wide) {
		if (ptgid == agent_tgid)
			return 0;
		/* A child starts with a copy of its parent's set, as the agent's state does (a
		 * parent without one: the child gets its own at its first traced call). */
		parent_known = bpf_map_lookup_elem(&scope, &ptgid);
		if (parent_known && ctgid != ptgid)
			bpf_map_update_elem(&scope, &ctgid, parent_known, BPF_ANY);
	} else if (!(parent_known = bpf_map_lookup_elem(&scope, &ptgid))) {
		__u32 zero = 0;
		__u32 *sp = bpf_map_lookup_elem(&spawner, &zero);
		if (sp && *sp && *sp == ptid && ctgid != ptgid &&
		    bpf_map_update_elem(&scope, &ctgid, &no_fds, BPF_ANY))
			count(LANNER_CNT_SCOPE_FULL);
		return 0;
	} else if (ctgid != ptgid &&
		   bpf_map_update_elem(&scope, &ctgid, parent_known, BPF_ANY)) {
		/* The child starts with a copy of its parent's descriptors, as the agent's state
		 * does. */
		count(LANNER_CNT_SCOPE_FULL);
	}

	/* How it was created, as ptrace tells it: vfork, else fork when the child signals
	 * SIGCHLD at exit, else clone. The flags come from the parent's syscall. */
	struct task_struct *cur = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(cur);
	__u64 nr = BPF_CORE_READ(regs, orig_ax);
	int compat = BPF_CORE_READ(cur, thread_info.status) & TS_COMPAT;
	__u64 flags = 0;
	int vfork = compat ? nr == 190 : nr == 58;
	if (nr == 435) {
		bpf_probe_read_user(&flags, 8, (void *)(compat ? BPF_CORE_READ(regs, bx)
							       : BPF_CORE_READ(regs, di)));
	} else if (compat ? nr == 120 : nr == 56) {
		flags = compat ? BPF_CORE_READ(regs, bx) : BPF_CORE_READ(regs, di);
	}
	if (flags & CLONE_VFORK)
		vfork = 1;

	struct scratch *s = scratch_area(SLOT_SCHED);
	if (!s)
		return 0;
	struct lanner_fork *r = (void *)s->rec;
	fill_hdr(&r->hdr, LANNER_REC_FORK, 0, ptgid, ptid);
	r->child_pid = ctgid;
	r->child_tid = ctid;
	r->thread = ctgid == ptgid;
	if (vfork)
		r->fork_kind = LANNER_VFORK;
	else if (BPF_CORE_READ(child, exit_signal) == SIGCHLD)
		r->fork_kind = LANNER_FORK;
	else
		r->fork_kind = LANNER_CLONE;
	r->hdr.size = sizeof(*r);
	submit(s->rec, sizeof(*r));
	return 0;
}

struct path_walk {
	struct dentry *d;
	struct mount *m;
	struct vfsmount *vm;
	__u64 mnt_off;
	/* Where the walk ends: the task's root, as d_path() has it, so that a chrooted task's
	 * paths are the ones it sees (and the ones /proc/<pid>/exe shows a reader in the same
	 * root); NULL walks up to the mount namespace's root. */
	struct dentry *root_d;
	struct vfsmount *root_vm;
	__s32 result; /* 0: walking, 1: done, -1: cannot tell */
};

/* Paths are built backwards in s->path, ending at PATH_END, one component at a time (the
 * walks go from a leaf up to the root); the start is kept in s->ppos (map memory: see
 * `cursor`). */

/* "/" and `len` bytes at `name` (kernel memory) before the path built so far; 0 when they do
 * not fit. */
static __always_inline int path_prepend(struct scratch *s, const void *name, __u32 len)
{
	__u64 pos = s->ppos;
	len &= 255;
	if (pos > PATH_END || pos < len + 2)
		return 0;
	pos -= len;
	/* The size bounded again, in asm, on the register the call takes: 6.12's verifier loses
	 * the unsigned bound of `len` through the comparison above. */
	__u64 size = len;
	asm volatile("%[size] &= 255" : [size] "+r"(size));
	bpf_probe_read_kernel(&s->path[pos & (PATH_END - 1)], size, name);
	pos -= 1;
	s->path[pos & (PATH_END - 1)] = '/';
	s->ppos = pos;
	return 1;
}

/* The walk reached the root: a path of no component is "/". */
static __always_inline void path_at_root(struct scratch *s)
{
	if (s->ppos == PATH_END) {
		s->ppos = PATH_END - 1;
		s->path[PATH_END - 1] = '/';
	}
}

/* One path component per bpf_loop iteration. */
static long path_step(__u64 index, void *data)
{
	struct path_walk *w = data;
	struct scratch *s = scratch_area(SLOT_SCHED);
	if (!s) {
		w->result = -1;
		return 1;
	}
	/* Locals: BPF_CORE_READ would relocate w->... too, and path_walk is not a kernel type. */
	struct dentry *d = w->d;
	struct vfsmount *vm = w->vm;
	struct mount *m = w->m;
	if (d == w->root_d && vm == w->root_vm) {
		path_at_root(s);
		w->result = 1;
		return 1;
	}
	struct dentry *root = BPF_CORE_READ(vm, mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == root || d == parent) {
		if (d != root) {
			w->result = -1; /* not reachable from its mount's root */
			return 1;
		}
		struct mount *up = BPF_CORE_READ(m, mnt_parent);
		if (up == m) {
			path_at_root(s);
			w->result = 1;
			return 1;
		}
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->m = up;
		w->vm = (void *)up + w->mnt_off;
		return 0;
	}
	__u32 len = BPF_CORE_READ(d, d_name.len);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	if (!path_prepend(s, name, len)) {
		w->result = -1;
		return 1;
	}
	w->d = parent;
	return 0;
}

/* The path of `file` as `task` sees it, into s->path, ending at PATH_END; returns where it
 * starts, or 0 when it cannot be told (too deep, too long, not reachable from the root). */
static __always_inline __u32 file_path(struct scratch *s, struct file *file,
				       struct task_struct *task)
{
	struct path_walk w = {};
	w.root_d = BPF_CORE_READ(task, fs, root.dentry);
	w.root_vm = BPF_CORE_READ(task, fs, root.mnt);
	w.d = BPF_CORE_READ(file, f_path.dentry);
	w.vm = BPF_CORE_READ(file, f_path.mnt);
	w.mnt_off = bpf_core_field_offset(struct mount, mnt);
	w.m = (void *)w.vm - w.mnt_off;
	s->ppos = PATH_END;
	bpf_loop(128, path_step, &w, 0);
	if (w.result != 1)
		return 0;
	return s->ppos;
}

struct cgroup_walk {
	struct kernfs_node *kn;
	__s32 result; /* 0: walking, 1: done, -1: cannot tell */
};

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___rcu, __parent))
		return BPF_CORE_READ((struct kernfs_node___rcu *)kn, __parent);
	return BPF_CORE_READ(kn, parent);
}

/* One cgroup directory per bpf_loop iteration; the root's own name (empty) is not part of
 * the path. */
static long cgroup_step(__u64 index, void *data)
{
	struct cgroup_walk *w = data;
	struct scratch *s = scratch_area(SLOT_SCHED);
	if (!s) {
		w->result = -1;
		return 1;
	}
	struct kernfs_node *kn = w->kn;
	struct kernfs_node *parent = kn ? kn_parent(kn) : 0;
	if (!parent) {
		path_at_root(s);
		w->result = 1;
		return 1;
	}
	const char *name = BPF_CORE_READ(kn, name);
	/* A cgroup's name is at most NAME_MAX (255) bytes; kernfs keeps no length, so the name
	 * is read as a string first to learn it. */
	char part[256];
	long n = bpf_probe_read_kernel_str(part, sizeof(part), name);
	if (n <= 1 || !path_prepend(s, part, n - 1)) {
		w->result = -1;
		return 1;
	}
	w->kn = parent;
	return 0;
}

/* The task's cgroup v2 path into s->path, ending at PATH_END; returns where it starts, or 0
 * when it cannot be told. The path is the one the host sees, whatever cgroup namespace the
 * task is in (where /proc/PID/cgroup of a namespaced container shows `/`). */
static __always_inline __u32 cgroup_path(struct scratch *s, struct task_struct *task)
{
	struct cgroup_walk w = {};
	w.kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	if (!w.kn)
		return 0;
	s->ppos = PATH_END;
	bpf_loop(64, cgroup_step, &w, 0);
	if (w.result != 1)
		return 0;
	return s->ppos;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(lanner_exec, struct task_struct *task, int old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (!wanted(tgid))
		return 0;
	struct scratch *s = scratch_area(SLOT_SCHED);
	if (!s)
		return 0;
	/* The exec closed the close-on-exec descriptors without a close call, and the agent
	 * cannot tell every one of them (fcntl's F_SETFD is not traced): none is known any more,
	 * so that the next use of each is marked stale and the agent asks /proc. */
	struct lanner_known *known = bpf_map_lookup_elem(&scope, &tgid);
	if (known) {
		for (int i = 0; i < LANNER_KNOWN_FDS / 64; i++)
			known->bits[i] = 0;
	}
	struct lanner_exec *r = (void *)s->rec;
	fill_hdr(&r->hdr, LANNER_REC_EXEC, 0, tgid, BPF_CORE_READ(task, pid));
	r->former_tid = old_pid;
	r->exe_len = 0;
	r->args_len = 0;
	r->args_truncated = 0;
	/* The credentials the exec installed (a setuid program's among them), read here: the
	 * agent reading /proc later may find them changed again, or the process gone. */
	const struct cred *cred = BPF_CORE_READ(task, cred);
	r->uids[0] = BPF_CORE_READ(cred, uid.val);
	r->uids[1] = BPF_CORE_READ(cred, euid.val);
	r->uids[2] = BPF_CORE_READ(cred, suid.val);
	r->uids[3] = BPF_CORE_READ(cred, fsuid.val);
	r->gids[0] = BPF_CORE_READ(cred, gid.val);
	r->gids[1] = BPF_CORE_READ(cred, egid.val);
	r->gids[2] = BPF_CORE_READ(cred, sgid.val);
	r->gids[3] = BPF_CORE_READ(cred, fsgid.val);
	bpf_core_read(&r->caps[0], 8, &cred->cap_effective);
	bpf_core_read(&r->caps[1], 8, &cred->cap_permitted);
	bpf_core_read(&r->caps[2], 8, &cred->cap_inheritable);
	__u32 off = sizeof(*r);
	__u32 pos = file_path(s, BPF_CORE_READ(bprm, file), task);
	if (pos) {
		__u32 len = (PATH_END - pos) & (PATH_END - 1);
		bpf_probe_read_kernel(&s->rec[rec_off(off)], len, &s->path[pos & (PATH_END - 1)]);
		r->exe_len = len;
		off += PAD8(len);
	}
	__u64 start = BPF_CORE_READ(task, mm, arg_start);
	__u64 end = BPF_CORE_READ(task, mm, arg_end);
	__u64 n = end > start ? end - start : 0;
	if (n > LANNER_MAX_ARGV_BYTES) {
		n = LANNER_MAX_ARGV_BYTES;
		r->args_truncated = 1;
	}
	if (n && bpf_probe_read_user(&s->rec[rec_off(off)], n & (2 * LANNER_MAX_ARGV_BYTES - 1),
				     (void *)start) == 0) {
		r->args_len = n;
		off += PAD8(n);
	}
	/* The cgroup, here where it is exact: a process that ends at once is gone before the
	 * agent could read /proc, and its container with it. */
	r->cgroup_len = 0;
	pos = cgroup_path(s, task);
	if (pos) {
		__u32 len = (PATH_END - pos) & (PATH_END - 1);
		bpf_probe_read_kernel(&s->rec[rec_off(off)], len, &s->path[pos & (PATH_END - 1)]);
		r->cgroup_len = len;
		off += PAD8(len);
	}
	/* The name the exec was asked for, from the kernel's own copy: the entry's read of the
	 * caller's string fails where its page was not resident (a vfork child's first touch of
	 * its parent's memory, say), and the caller's memory is gone now. */
	r->filename_len = 0;
	long named = bpf_probe_read_kernel_str(&s->rec[rec_off(off)], PATH_END,
					       BPF_CORE_READ(bprm, filename));
	if (named > 1) {
		r->filename_len = named - 1;
		off += PAD8(named - 1);
	}
	r->hdr.size = off;
	submit(s->rec, off);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(lanner_task_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (!wanted(tgid))
		return 0;
	struct scratch *s = scratch_area(SLOT_SCHED);
	if (!s)
		return 0;
	struct lanner_task_exit *r = (void *)s->rec;
	fill_hdr(&r->hdr, LANNER_REC_TASK_EXIT, 0, tgid, BPF_CORE_READ(task, pid));
	r->exit_code = BPF_CORE_READ(task, exit_code);
	r->group_dead = BPF_CORE_READ(task, signal, live.counter) == 0;
	r->hdr.size = sizeof(*r);
	submit(s->rec, sizeof(*r));
	if (r->group_dead)
		bpf_map_delete_elem(&scope, &tgid);
	/* A syscall cut short by the exit leaves its retry mark behind; a reused tid must not
	 * inherit it. */
	__u32 tid = r->hdr.tid;
	if (retry_pending && bpf_map_delete_elem(&retry, &tid) == 0)
		__sync_fetch_and_add(&retry_pending, -1);
	return 0;
}
