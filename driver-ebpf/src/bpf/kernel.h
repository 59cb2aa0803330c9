/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types the programs read, declared with only the fields used. With
 * preserve_access_index every field access is a CO-RE relocation: libbpf finds each field by
 * name in the running kernel's BTF, so no vmlinux.h of a particular kernel is needed.
 */
#ifndef LANNER_KERNEL_H
#define LANNER_KERNEL_H

#define __core __attribute__((preserve_access_index))

struct pt_regs {
	unsigned long bp;
	unsigned long bx;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
} __core;

struct thread_info {
	__u32 status;
} __core;

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
} __core;

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
} __core;

struct qstr {
	__u32 len;
	const unsigned char *name;
} __core;

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
} __core;

struct vfsmount {
	struct dentry *mnt_root;
} __core;

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __core;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __core;

struct file {
	struct path f_path;
} __core;

struct linux_binprm {
	struct file *file;
	/* The kernel's copy of the name the exec was asked for ("/dev/fd/<n>/..." for an
	 * execveat relative to a descriptor). */
	const char *filename;
} __core;

/* Ids and capabilities. Only the capability fields' addresses are taken, never a member of
 * theirs: kernel_cap_t is one u64 since Linux 6.3 and two u32s before, 8 bytes either way. */
typedef struct {
	__u32 val;
} kuid_t;

typedef struct {
	__u32 val;
} kgid_t;

typedef struct {
	__u64 val;
} kernel_cap_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t suid;
	kgid_t sgid;
	kuid_t euid;
	kgid_t egid;
	kuid_t fsuid;
	kgid_t fsgid;
	kernel_cap_t cap_inheritable;
	kernel_cap_t cap_permitted;
	kernel_cap_t cap_effective;
} __core;

/* A cgroup's directory: its name, and its parent (`__parent` since Linux 6.15, when it became
 * an RCU pointer; `parent` before: the flavour below names the new spelling). */
struct kernfs_node {
	struct kernfs_node *parent;
	const char *name;
} __core;

struct kernfs_node___rcu {
	struct kernfs_node *__parent;
} __core;

struct cgroup {
	struct kernfs_node *kn;
} __core;

/* The cgroups of a task: `dfl_cgrp` is its cgroup in the unified (v2) hierarchy. */
struct css_set {
	struct cgroup *dfl_cgrp;
} __core;

/* A task's root and working directory (a chroot changes `root`). */
struct fs_struct {
	struct path root;
} __core;

struct task_struct {
	struct thread_info thread_info;
	struct fs_struct *fs;
	struct css_set *cgroups;
	const struct cred *cred;
	int pid;
	int tgid;
	int exit_code;
	int exit_signal;
	struct signal_struct *signal;
	struct mm_struct *mm;
} __core;

/* x86: a 32-bit syscall is active (arch/x86/include/asm/thread_info.h). */
#define TS_COMPAT 0x0002
#define X32_SYSCALL_BIT 0x40000000
#define CLONE_VFORK 0x00004000
#define SIGCHLD 17

#endif
