//! Enumerated values by name: socket domains and protocols, ptrace requests, bpf commands,
//! fcntl commands, prctl options, lseek whence. x86_64 values.

use crate::spec::ConstKind;

/// A row straight from the `libc` constant of the same name.
macro_rules! c {
    ($name:ident) => {
        (libc::$name as i64, stringify!($name))
    };
}

// Rows given as numbers are ones `libc` lacks; they are the values of the kernel's UAPI headers.

/// `AF_*`, <sys/socket.h>.
const SOCKET_DOMAINS: &[(i64, &str)] = &[
    c!(AF_UNSPEC),
    c!(AF_UNIX),
    c!(AF_INET),
    c!(AF_AX25),
    c!(AF_IPX),
    c!(AF_APPLETALK),
    c!(AF_NETROM),
    c!(AF_BRIDGE),
    c!(AF_ATMPVC),
    c!(AF_X25),
    c!(AF_INET6),
    c!(AF_ROSE),
    c!(AF_DECnet),
    c!(AF_NETBEUI),
    c!(AF_SECURITY),
    c!(AF_KEY),
    c!(AF_NETLINK),
    c!(AF_PACKET),
    c!(AF_ASH),
    c!(AF_ECONET),
    c!(AF_ATMSVC),
    c!(AF_RDS),
    c!(AF_SNA),
    c!(AF_IRDA),
    c!(AF_PPPOX),
    c!(AF_WANPIPE),
    c!(AF_LLC),
    c!(AF_IB),
    c!(AF_MPLS),
    c!(AF_CAN),
    c!(AF_TIPC),
    c!(AF_BLUETOOTH),
    c!(AF_IUCV),
    c!(AF_RXRPC),
    c!(AF_ISDN),
    c!(AF_PHONET),
    c!(AF_IEEE802154),
    c!(AF_CAIF),
    c!(AF_ALG),
    c!(AF_NFC),
    c!(AF_VSOCK),
    (41, "AF_KCM"),
    (42, "AF_QIPCRTR"),
    (43, "AF_SMC"),
    c!(AF_XDP),
    (45, "AF_MCTP"),
];

/// `IPPROTO_*`, <linux/in.h> and <linux/in6.h>.
const PROTOCOLS: &[(i64, &str)] = &[
    c!(IPPROTO_IP),
    c!(IPPROTO_ICMP),
    c!(IPPROTO_IGMP),
    c!(IPPROTO_IPIP),
    c!(IPPROTO_TCP),
    c!(IPPROTO_EGP),
    c!(IPPROTO_PUP),
    c!(IPPROTO_UDP),
    c!(IPPROTO_IDP),
    c!(IPPROTO_TP),
    c!(IPPROTO_DCCP),
    c!(IPPROTO_IPV6),
    c!(IPPROTO_RSVP),
    c!(IPPROTO_GRE),
    c!(IPPROTO_ESP),
    c!(IPPROTO_AH),
    c!(IPPROTO_ICMPV6),
    c!(IPPROTO_MTP),
    c!(IPPROTO_BEETPH),
    c!(IPPROTO_ENCAP),
    c!(IPPROTO_PIM),
    c!(IPPROTO_COMP),
    (115, "IPPROTO_L2TP"),
    c!(IPPROTO_SCTP),
    c!(IPPROTO_UDPLITE),
    c!(IPPROTO_MPLS),
    c!(IPPROTO_ETHERNET),
    c!(IPPROTO_RAW),
    c!(IPPROTO_MPTCP),
];

/// `PTRACE_*` requests, <linux/ptrace.h> and x86's <asm/ptrace-abi.h>.
const PTRACE_REQUESTS: &[(i64, &str)] = &[
    c!(PTRACE_TRACEME),
    c!(PTRACE_PEEKTEXT),
    c!(PTRACE_PEEKDATA),
    c!(PTRACE_PEEKUSER),
    c!(PTRACE_POKETEXT),
    c!(PTRACE_POKEDATA),
    c!(PTRACE_POKEUSER),
    c!(PTRACE_CONT),
    c!(PTRACE_KILL),
    c!(PTRACE_SINGLESTEP),
    c!(PTRACE_GETREGS),
    c!(PTRACE_SETREGS),
    c!(PTRACE_GETFPREGS),
    c!(PTRACE_SETFPREGS),
    c!(PTRACE_ATTACH),
    c!(PTRACE_DETACH),
    c!(PTRACE_GETFPXREGS),
    c!(PTRACE_SETFPXREGS),
    (21, "PTRACE_OLDSETOPTIONS"),
    c!(PTRACE_SYSCALL),
    (25, "PTRACE_GET_THREAD_AREA"),
    (26, "PTRACE_SET_THREAD_AREA"),
    (30, "PTRACE_ARCH_PRCTL"),
    c!(PTRACE_SYSEMU),
    c!(PTRACE_SYSEMU_SINGLESTEP),
    (33, "PTRACE_SINGLEBLOCK"),
    c!(PTRACE_SETOPTIONS),
    c!(PTRACE_GETEVENTMSG),
    c!(PTRACE_GETSIGINFO),
    c!(PTRACE_SETSIGINFO),
    c!(PTRACE_GETREGSET),
    c!(PTRACE_SETREGSET),
    c!(PTRACE_SEIZE),
    c!(PTRACE_INTERRUPT),
    c!(PTRACE_LISTEN),
    c!(PTRACE_PEEKSIGINFO),
    c!(PTRACE_GETSIGMASK),
    c!(PTRACE_SETSIGMASK),
    (0x420c, "PTRACE_SECCOMP_GET_FILTER"),
    (0x420d, "PTRACE_SECCOMP_GET_METADATA"),
    c!(PTRACE_GET_SYSCALL_INFO),
    c!(PTRACE_GET_RSEQ_CONFIGURATION),
    c!(PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG),
    c!(PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG),
    c!(PTRACE_SET_SYSCALL_INFO),
];

/// `enum bpf_cmd`, <linux/bpf.h>, in order (`libc` has none of it). `BPF_PROG_RUN` is an alias
/// of `BPF_PROG_TEST_RUN`.
const BPF_CMDS: &[(i64, &str)] = &[
    (0, "BPF_MAP_CREATE"),
    (1, "BPF_MAP_LOOKUP_ELEM"),
    (2, "BPF_MAP_UPDATE_ELEM"),
    (3, "BPF_MAP_DELETE_ELEM"),
    (4, "BPF_MAP_GET_NEXT_KEY"),
    (5, "BPF_PROG_LOAD"),
    (6, "BPF_OBJ_PIN"),
    (7, "BPF_OBJ_GET"),
    (8, "BPF_PROG_ATTACH"),
    (9, "BPF_PROG_DETACH"),
    (10, "BPF_PROG_TEST_RUN"),
    (11, "BPF_PROG_GET_NEXT_ID"),
    (12, "BPF_MAP_GET_NEXT_ID"),
    (13, "BPF_PROG_GET_FD_BY_ID"),
    (14, "BPF_MAP_GET_FD_BY_ID"),
    (15, "BPF_OBJ_GET_INFO_BY_FD"),
    (16, "BPF_PROG_QUERY"),
    (17, "BPF_RAW_TRACEPOINT_OPEN"),
    (18, "BPF_BTF_LOAD"),
    (19, "BPF_BTF_GET_FD_BY_ID"),
    (20, "BPF_TASK_FD_QUERY"),
    (21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM"),
    (22, "BPF_MAP_FREEZE"),
    (23, "BPF_BTF_GET_NEXT_ID"),
    (24, "BPF_MAP_LOOKUP_BATCH"),
    (25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH"),
    (26, "BPF_MAP_UPDATE_BATCH"),
    (27, "BPF_MAP_DELETE_BATCH"),
    (28, "BPF_LINK_CREATE"),
    (29, "BPF_LINK_UPDATE"),
    (30, "BPF_LINK_GET_FD_BY_ID"),
    (31, "BPF_LINK_GET_NEXT_ID"),
    (32, "BPF_ENABLE_STATS"),
    (33, "BPF_ITER_CREATE"),
    (34, "BPF_LINK_DETACH"),
    (35, "BPF_PROG_BIND_MAP"),
    (36, "BPF_TOKEN_CREATE"),
    (37, "BPF_PROG_STREAM_READ_BY_FD"),
];

/// `F_*` commands, <fcntl.h> and <linux/fcntl.h>. The `F_*LK64` commands (12..=14) exist only on
/// 32-bit ABIs; on x86_64 `F_GETLK` and friends already take 64-bit offsets.
const FCNTL_CMDS: &[(i64, &str)] = &[
    c!(F_DUPFD),
    c!(F_GETFD),
    c!(F_SETFD),
    c!(F_GETFL),
    c!(F_SETFL),
    c!(F_GETLK),
    c!(F_SETLK),
    c!(F_SETLKW),
    c!(F_SETOWN),
    c!(F_GETOWN),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (17, "F_GETOWNER_UIDS"),
    c!(F_OFD_GETLK),
    c!(F_OFD_SETLK),
    c!(F_OFD_SETLKW),
    c!(F_SETLEASE),
    c!(F_GETLEASE),
    c!(F_NOTIFY),
    (1027, "F_DUPFD_QUERY"),
    (1028, "F_CREATED_QUERY"),
    c!(F_CANCELLK),
    c!(F_DUPFD_CLOEXEC),
    c!(F_SETPIPE_SZ),
    c!(F_GETPIPE_SZ),
    c!(F_ADD_SEALS),
    c!(F_GET_SEALS),
    (1035, "F_GET_RW_HINT"),
    (1036, "F_SET_RW_HINT"),
    (1037, "F_GET_FILE_RW_HINT"),
    (1038, "F_SET_FILE_RW_HINT"),
];

/// `PR_*` options, <linux/prctl.h> (the options only, not their sub-values).
const PRCTL_OPTIONS: &[(i64, &str)] = &[
    c!(PR_SET_PDEATHSIG),
    c!(PR_GET_PDEATHSIG),
    c!(PR_GET_DUMPABLE),
    c!(PR_SET_DUMPABLE),
    c!(PR_GET_UNALIGN),
    c!(PR_SET_UNALIGN),
    c!(PR_GET_KEEPCAPS),
    c!(PR_SET_KEEPCAPS),
    c!(PR_GET_FPEMU),
    c!(PR_SET_FPEMU),
    c!(PR_GET_FPEXC),
    c!(PR_SET_FPEXC),
    c!(PR_GET_TIMING),
    c!(PR_SET_TIMING),
    c!(PR_SET_NAME),
    c!(PR_GET_NAME),
    c!(PR_GET_ENDIAN),
    c!(PR_SET_ENDIAN),
    c!(PR_GET_SECCOMP),
    c!(PR_SET_SECCOMP),
    c!(PR_CAPBSET_READ),
    c!(PR_CAPBSET_DROP),
    c!(PR_GET_TSC),
    c!(PR_SET_TSC),
    c!(PR_GET_SECUREBITS),
    c!(PR_SET_SECUREBITS),
    c!(PR_SET_TIMERSLACK),
    c!(PR_GET_TIMERSLACK),
    c!(PR_TASK_PERF_EVENTS_DISABLE),
    c!(PR_TASK_PERF_EVENTS_ENABLE),
    c!(PR_MCE_KILL),
    c!(PR_MCE_KILL_GET),
    c!(PR_SET_MM),
    c!(PR_SET_CHILD_SUBREAPER),
    c!(PR_GET_CHILD_SUBREAPER),
    c!(PR_SET_NO_NEW_PRIVS),
    c!(PR_GET_NO_NEW_PRIVS),
    c!(PR_GET_TID_ADDRESS),
    c!(PR_SET_THP_DISABLE),
    c!(PR_GET_THP_DISABLE),
    c!(PR_MPX_ENABLE_MANAGEMENT),
    c!(PR_MPX_DISABLE_MANAGEMENT),
    c!(PR_SET_FP_MODE),
    c!(PR_GET_FP_MODE),
    c!(PR_CAP_AMBIENT),
    (50, "PR_SVE_SET_VL"),
    (51, "PR_SVE_GET_VL"),
    c!(PR_GET_SPECULATION_CTRL),
    c!(PR_SET_SPECULATION_CTRL),
    (54, "PR_PAC_RESET_KEYS"),
    (55, "PR_SET_TAGGED_ADDR_CTRL"),
    (56, "PR_GET_TAGGED_ADDR_CTRL"),
    (57, "PR_SET_IO_FLUSHER"),
    (58, "PR_GET_IO_FLUSHER"),
    (59, "PR_SET_SYSCALL_USER_DISPATCH"),
    (60, "PR_PAC_SET_ENABLED_KEYS"),
    (61, "PR_PAC_GET_ENABLED_KEYS"),
    c!(PR_SCHED_CORE),
    (63, "PR_SME_SET_VL"),
    (64, "PR_SME_GET_VL"),
    c!(PR_SET_MDWE),
    c!(PR_GET_MDWE),
    c!(PR_SET_MEMORY_MERGE),
    c!(PR_GET_MEMORY_MERGE),
    (69, "PR_RISCV_V_SET_CONTROL"),
    (70, "PR_RISCV_V_GET_CONTROL"),
    (71, "PR_RISCV_SET_ICACHE_FLUSH_CTX"),
    (72, "PR_PPC_GET_DEXCR"),
    (73, "PR_PPC_SET_DEXCR"),
    (74, "PR_GET_SHADOW_STACK_STATUS"),
    (75, "PR_SET_SHADOW_STACK_STATUS"),
    (76, "PR_LOCK_SHADOW_STACK_STATUS"),
    (77, "PR_TIMER_CREATE_RESTORE_IDS"),
    (78, "PR_FUTEX_HASH"),
    (0x41555856, "PR_GET_AUXV"),
    c!(PR_SET_VMA),
    c!(PR_SET_PTRACER),
];

/// `SEEK_*`, <unistd.h>.
const WHENCES: &[(i64, &str)] = &[
    c!(SEEK_SET),
    c!(SEEK_CUR),
    c!(SEEK_END),
    c!(SEEK_DATA),
    c!(SEEK_HOLE),
];

/// The table of a family.
fn table(kind: ConstKind) -> &'static [(i64, &'static str)] {
    match kind {
        ConstKind::SocketDomain => SOCKET_DOMAINS,
        ConstKind::PtraceRequest => PTRACE_REQUESTS,
        ConstKind::BpfCmd => BPF_CMDS,
        ConstKind::FcntlCmd => FCNTL_CMDS,
        ConstKind::PrctlOption => PRCTL_OPTIONS,
        ConstKind::Whence => WHENCES,
        ConstKind::Protocol => PROTOCOLS,
    }
}

/// The name of an enumerated value (`AF_INET`, `PTRACE_ATTACH`, `F_SETFL`, ...), or `None`
/// when the family has no name for it.
pub fn name(kind: ConstKind, value: i64) -> Option<&'static str> {
    // ptrace's request is a `long`; every other one of these parameters is a C `int` or
    // `unsigned int`, whose register's upper half the kernel ignores, and so do we.
    let value = match kind {
        ConstKind::PtraceRequest => value,
        _ => i64::from(value as i32),
    };
    table(kind)
        .iter()
        .find(|&&(v, _)| v == value)
        .map(|&(_, n)| n)
}

/// The value of a name [`name`] gives (`AF_INET` is 2). Used to read back recorded events.
pub fn value(kind: ConstKind, name: &str) -> Option<i64> {
    table(kind)
        .iter()
        .find(|&&(_, n)| n == name)
        .map(|&(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [ConstKind; 7] = [
        ConstKind::SocketDomain,
        ConstKind::PtraceRequest,
        ConstKind::BpfCmd,
        ConstKind::FcntlCmd,
        ConstKind::PrctlOption,
        ConstKind::Whence,
        ConstKind::Protocol,
    ];

    #[test]
    fn socket_domains() {
        let n = |v| name(ConstKind::SocketDomain, v);
        assert_eq!(n(0), Some("AF_UNSPEC"));
        assert_eq!(n(1), Some("AF_UNIX"));
        assert_eq!(n(2), Some("AF_INET"));
        assert_eq!(n(10), Some("AF_INET6"));
        assert_eq!(n(12), Some("AF_DECnet"));
        assert_eq!(n(16), Some("AF_NETLINK"));
        assert_eq!(n(17), Some("AF_PACKET"));
        assert_eq!(n(38), Some("AF_ALG"));
        assert_eq!(n(40), Some("AF_VSOCK"));
        assert_eq!(n(44), Some("AF_XDP"));
        assert_eq!(n(45), Some("AF_MCTP"));
        assert_eq!(n(46), None);
        assert_eq!(n(-1), None);
        // Every domain 0..=45 has a name.
        assert!((0..=45).all(|v| n(v).is_some()));
    }

    #[test]
    fn protocols() {
        let n = |v| name(ConstKind::Protocol, v);
        assert_eq!(n(0), Some("IPPROTO_IP"));
        assert_eq!(n(1), Some("IPPROTO_ICMP"));
        assert_eq!(n(6), Some("IPPROTO_TCP"));
        assert_eq!(n(17), Some("IPPROTO_UDP"));
        assert_eq!(n(41), Some("IPPROTO_IPV6"));
        assert_eq!(n(47), Some("IPPROTO_GRE"));
        assert_eq!(n(58), Some("IPPROTO_ICMPV6"));
        assert_eq!(n(115), Some("IPPROTO_L2TP"));
        assert_eq!(n(132), Some("IPPROTO_SCTP"));
        assert_eq!(n(255), Some("IPPROTO_RAW"));
        assert_eq!(n(262), Some("IPPROTO_MPTCP"));
        assert_eq!(n(3), None);
    }

    #[test]
    fn ptrace_requests() {
        let n = |v| name(ConstKind::PtraceRequest, v);
        assert_eq!(n(0), Some("PTRACE_TRACEME"));
        assert_eq!(n(3), Some("PTRACE_PEEKUSER"));
        assert_eq!(n(16), Some("PTRACE_ATTACH"));
        assert_eq!(n(24), Some("PTRACE_SYSCALL"));
        assert_eq!(n(30), Some("PTRACE_ARCH_PRCTL"));
        assert_eq!(n(33), Some("PTRACE_SINGLEBLOCK"));
        assert_eq!(n(0x4200), Some("PTRACE_SETOPTIONS"));
        assert_eq!(n(0x4206), Some("PTRACE_SEIZE"));
        assert_eq!(n(0x420e), Some("PTRACE_GET_SYSCALL_INFO"));
        assert_eq!(n(0x4211), Some("PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG"));
        assert_eq!(n(10), None);
        // A `long`: the upper half counts.
        assert_eq!(n(0x1_0000_0010), None);
    }

    #[test]
    fn bpf_cmds() {
        let n = |v| name(ConstKind::BpfCmd, v);
        assert_eq!(n(0), Some("BPF_MAP_CREATE"));
        assert_eq!(n(5), Some("BPF_PROG_LOAD"));
        assert_eq!(n(10), Some("BPF_PROG_TEST_RUN"));
        assert_eq!(n(18), Some("BPF_BTF_LOAD"));
        assert_eq!(n(28), Some("BPF_LINK_CREATE"));
        assert_eq!(n(35), Some("BPF_PROG_BIND_MAP"));
        assert_eq!(n(36), Some("BPF_TOKEN_CREATE"));
        for (i, &(v, _)) in BPF_CMDS.iter().enumerate() {
            assert_eq!(v, i as i64);
        }
    }

    #[test]
    fn fcntl_cmds() {
        let n = |v| name(ConstKind::FcntlCmd, v);
        assert_eq!(n(i64::from(libc::F_DUPFD)), Some("F_DUPFD"));
        assert_eq!(n(2), Some("F_SETFD"));
        assert_eq!(n(4), Some("F_SETFL"));
        assert_eq!(n(7), Some("F_SETLKW"));
        assert_eq!(n(37), Some("F_OFD_SETLK"));
        assert_eq!(n(1024), Some("F_SETLEASE"));
        assert_eq!(n(1030), Some("F_DUPFD_CLOEXEC"));
        assert_eq!(n(1031), Some("F_SETPIPE_SZ"));
        assert_eq!(n(1033), Some("F_ADD_SEALS"));
        assert_eq!(n(1034), Some("F_GET_SEALS"));
        assert_eq!(n(12), None);
    }

    #[test]
    fn prctl_options() {
        let n = |v| name(ConstKind::PrctlOption, v);
        assert_eq!(n(1), Some("PR_SET_PDEATHSIG"));
        assert_eq!(n(4), Some("PR_SET_DUMPABLE"));
        assert_eq!(n(15), Some("PR_SET_NAME"));
        assert_eq!(n(22), Some("PR_SET_SECCOMP"));
        assert_eq!(n(24), Some("PR_CAPBSET_DROP"));
        assert_eq!(n(35), Some("PR_SET_MM"));
        assert_eq!(n(36), Some("PR_SET_CHILD_SUBREAPER"));
        assert_eq!(n(38), Some("PR_SET_NO_NEW_PRIVS"));
        assert_eq!(n(39), Some("PR_GET_NO_NEW_PRIVS"));
        assert_eq!(n(47), Some("PR_CAP_AMBIENT"));
        assert_eq!(n(65), Some("PR_SET_MDWE"));
        assert_eq!(n(0x5961_6d61), Some("PR_SET_PTRACER"));
        assert_eq!(n(0x5356_4d41), Some("PR_SET_VMA"));
        assert_eq!(n(0), None);
        assert_eq!(n(17), None);
        // An `int`: the register's upper half is ignored.
        assert_eq!(n(0xdead_0000_0000 | 38), Some("PR_SET_NO_NEW_PRIVS"));
    }

    #[test]
    fn whence() {
        let n = |v| name(ConstKind::Whence, v);
        assert_eq!(n(0), Some("SEEK_SET"));
        assert_eq!(n(1), Some("SEEK_CUR"));
        assert_eq!(n(2), Some("SEEK_END"));
        assert_eq!(n(3), Some("SEEK_DATA"));
        assert_eq!(n(4), Some("SEEK_HOLE"));
        assert_eq!(n(5), None);
    }

    #[test]
    fn tables_are_unambiguous() {
        for kind in KINDS {
            let rows = table(kind);
            for (i, a) in rows.iter().enumerate() {
                for b in &rows[i + 1..] {
                    assert_ne!(a.0, b.0, "{kind:?}: {} and {}", a.1, b.1);
                }
                assert_eq!(name(kind, a.0), Some(a.1));
            }
        }
    }
}
