/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The layout shared by the kernel-side programs and the driver: the one definition of every
 * record in the ring buffer and of the per-syscall capture plan. libbpf-cargo turns these into
 * Rust types (the skeleton's `types` module); a test compares the sizes and offsets each side
 * sees (`lanner_layout` in lanner.bpf.c).
 */
#ifndef LANNER_H
#define LANNER_H

/* Syscall numbers below this, per ABI. */
#define LANNER_NR_SPACE 512
/* Plan slots: x86_64 numbers, then i386 numbers, then i386 socketcall operations. */
#define LANNER_PLAN_I386 512
#define LANNER_PLAN_SOCKETCALL 1024
#define LANNER_SOCKETCALL_OPS 32
#define LANNER_PLAN_SLOTS (LANNER_PLAN_SOCKETCALL + LANNER_SOCKETCALL_OPS)

/* Longest string read (the ptrace driver's MAX_STRING); one more byte tells truncation. */
#define LANNER_MAX_STRING 4096
/* Most argv strings and bytes captured per exec. */
#define LANNER_MAX_ARGV 64
#define LANNER_MAX_ARGV_BYTES 16384
/* Largest socket address read (sizeof(struct sockaddr_storage)). */
#define LANNER_MAX_SOCKADDR 128
/* Largest record; larger captures are cut and marked truncated. */
#define LANNER_MAX_RECORD 32768

enum lanner_abi {
	LANNER_ABI_X86_64 = 0,
	LANNER_ABI_I386 = 1,
	LANNER_ABI_X32 = 2,
};

/* What to read for one argument. */
enum lanner_capture {
	LANNER_CAP_NONE = 0,
	LANNER_CAP_STR = 1,          /* NUL-terminated path or string, at entry */
	LANNER_CAP_SOCKADDR = 2,     /* aux: index of the length argument, at entry */
	LANNER_CAP_ARGV = 3,         /* char *const[], at entry */
	LANNER_CAP_SOCKADDR_OUT = 4, /* aux: index of the socklen_t * argument, at exit */
	LANNER_CAP_FDPAIR = 5,       /* int[2], at exit */
};

/* What the driver wants for one syscall number. */
/* lanner_plan.traced */
#define LANNER_TRACED 1
#define LANNER_ONE_RECORD 2 /* one record, at exit, input arguments read there (all but execs) */

struct lanner_plan {
	__u8 traced;     /* LANNER_TRACED | LANNER_ONE_RECORD, or 0 */
	__u8 entry_only; /* reported at entry; no exit record */
	__u8 exit_caps;  /* some argument is read at exit */
	__u8 words;      /* socketcall operations: the words of arguments */
	__u8 cap[6];     /* enum lanner_capture per argument */
	__u8 aux[6];
	__u8 span;       /* arguments the capture loop visits: 1 + the last with a capture */
	__u8 res_filter; /* report only results in res_lo..=res_hi (one-record syscalls here) */
	__u8 fd_marks;   /* LANNER_MARK_*: the descriptors a record of this call tells of */
	__u8 lazy_close; /* close(2): not reported (below LANNER_KNOWN_FDS): the descriptor's
			  * known bit is cleared, and a later record using it marks it stale */
	__u8 open_path;  /* open family under an open filter: 1 + the path argument, or 0 */
	__u8 open_flags; /* 1 + the O_* flags argument, or 0: none (taken to read and write) */
	__u8 pad[2];
	__s64 res_lo;
	__s64 res_hi;
};

/* lanner_plan.fd_marks: bits 0-5, the arguments that are descriptors (an FDPAIR argument
 * points to two, written by the call); and: */
#define LANNER_MARK_RESULT 0x40 /* the result may be a descriptor */

/* Descriptors below this are followed per traced process (the value of the `scope` map): a
 * bit is set when a record tells the agent of the descriptor and cleared when it is closed, so
 * closes need no record; a record whose descriptor argument has its bit clear marks it stale
 * (what the agent holds for that number is out of date). */
#define LANNER_KNOWN_FDS 1024
struct lanner_known {
	__u64 bits[LANNER_KNOWN_FDS / 64];
};

enum lanner_kind {
	LANNER_REC_ENTER = 1,
	LANNER_REC_EXIT = 2,
	LANNER_REC_FORK = 3,
	LANNER_REC_EXEC = 4,
	LANNER_REC_TASK_EXIT = 5,
	LANNER_REC_WHOLE = 6, /* a syscall with nothing read at entry, reported once at exit */
};

struct lanner_hdr {
	__u64 ts;   /* CLOCK_BOOTTIME ns (bpf_ktime_get_boot_ns) */
	__u32 pid;  /* tgid */
	__u32 tid;
	__u32 size; /* the whole record, captures included */
	__u16 kind; /* enum lanner_kind */
	__u16 abi;  /* enum lanner_abi */
};

/* A syscall's entry (args and at-entry captures) or exit (ret and at-exit captures). */
struct lanner_sys {
	struct lanner_hdr hdr;
	__u32 nr;    /* as entered (x32 bit kept) */
	__u32 op;    /* i386 socketcall operation, or 0 */
	__s64 ret;   /* exit records */
	__u64 args[6];
	__u32 ncap;  /* struct lanner_cap items that follow */
	__u8 entry_only;
	__u8 stale_fds; /* bit i: descriptor argument i was closed since a record told of it */
	__u16 pad;
};

enum lanner_cap_status {
	LANNER_CAPST_BYTES = 0,      /* whole */
	LANNER_CAPST_TRUNCATED = 1,  /* cut at the limit */
	LANNER_CAPST_NULL = 2,       /* NULL pointer */
	LANNER_CAPST_UNREADABLE = 3, /* err: the read's errno (positive) */
	LANNER_CAPST_LIST = 4,       /* an argv starts; ITEMs follow */
	LANNER_CAPST_ITEM = 5,       /* one argv string */
	LANNER_CAPST_ITEM_UNREADABLE = 6,
};

/* One captured argument; `len` payload bytes follow, padded to 8. */
struct lanner_cap {
	__u8 arg;
	__u8 status; /* enum lanner_cap_status */
	__u16 pad;
	__s32 err;
	__u32 len;
	__u32 pad2;
};

enum lanner_fork_kind {
	LANNER_FORK = 0,
	LANNER_VFORK = 1,
	LANNER_CLONE = 2,
};

struct lanner_fork {
	struct lanner_hdr hdr; /* the parent */
	__u32 child_pid;
	__u32 child_tid;
	__u32 fork_kind; /* enum lanner_fork_kind */
	__u32 thread;
};

/* A successful exec: `exe_len` bytes of the executable's path, padded to 8, then `args_len`
 * bytes of the new argv (NUL-separated, as /proc/PID/cmdline), padded to 8, then `cgroup_len`
 * bytes of the process's cgroup v2 path (`/system.slice/docker-<id>.scope`). */
struct lanner_exec {
	struct lanner_hdr hdr;
	__u32 former_tid;
	__u32 exe_len;   /* 0: unknown */
	__u32 args_len;
	__u32 args_truncated;
	__u32 uids[4];   /* real, effective, saved, filesystem: as the new program runs */
	__u32 gids[4];
	__u64 caps[3];   /* effective, permitted, inheritable */
	__u32 cgroup_len; /* 0: unknown (too deep or too long) */
	__u32 filename_len; /* the name asked for (bprm->filename); 0: unknown */
};

struct lanner_task_exit {
	struct lanner_hdr hdr;
	__s32 exit_code; /* a wait status */
	__u32 group_dead;
};

/* The open filter's tries (keys: a path's first bytes, or its last bytes reversed; values:
 * LANNER_ACCESS_* bits, each entry's or-ed with those of the shorter entries it extends, so
 * the longest match answers alone). */
#define LANNER_PREFIX_MAX 64
#define LANNER_SUFFIX_MAX 32
#define LANNER_ACCESS_READ 1
#define LANNER_ACCESS_WRITE 2
struct lanner_prefix_key {
	__u32 prefixlen; /* bits */
	__u8 data[LANNER_PREFIX_MAX];
};
struct lanner_suffix_key {
	__u32 prefixlen;
	__u8 data[LANNER_SUFFIX_MAX];
};

/* Per-CPU counters. */
enum lanner_counter {
	LANNER_CNT_LOST = 1,    /* records the ring buffer had no room for */
	LANNER_CNT_SCOPE_FULL = 2, /* processes the scope map had no room for */
	LANNER_CNT_OPENS_LEFT_OUT = 3, /* opens no rule could match, not written */
	LANNER_CNT_MAX = 4,
};

#endif
