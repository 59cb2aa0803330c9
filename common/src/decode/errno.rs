//! errno names: the Linux x86_64 errno values and the kernel-internal codes above 511.

/// An errno row straight from the `libc` constant of the same name.
macro_rules! e {
    ($name:ident) => {
        (libc::$name, stringify!($name))
    };
}

/// The user-visible errno values, 1..=133. Where names alias (`EWOULDBLOCK`, `EDEADLOCK`,
/// `ENOTSUP`) the canonical one is listed; 41 and 58 are unassigned on x86_64.
const ERRNOS: &[(i32, &str)] = &[
    e!(EPERM),
    e!(ENOENT),
    e!(ESRCH),
    e!(EINTR),
    e!(EIO),
    e!(ENXIO),
    e!(E2BIG),
    e!(ENOEXEC),
    e!(EBADF),
    e!(ECHILD),
    e!(EAGAIN),
    e!(ENOMEM),
    e!(EACCES),
    e!(EFAULT),
    e!(ENOTBLK),
    e!(EBUSY),
    e!(EEXIST),
    e!(EXDEV),
    e!(ENODEV),
    e!(ENOTDIR),
    e!(EISDIR),
    e!(EINVAL),
    e!(ENFILE),
    e!(EMFILE),
    e!(ENOTTY),
    e!(ETXTBSY),
    e!(EFBIG),
    e!(ENOSPC),
    e!(ESPIPE),
    e!(EROFS),
    e!(EMLINK),
    e!(EPIPE),
    e!(EDOM),
    e!(ERANGE),
    e!(EDEADLK),
    e!(ENAMETOOLONG),
    e!(ENOLCK),
    e!(ENOSYS),
    e!(ENOTEMPTY),
    e!(ELOOP),
    e!(ENOMSG),
    e!(EIDRM),
    e!(ECHRNG),
    e!(EL2NSYNC),
    e!(EL3HLT),
    e!(EL3RST),
    e!(ELNRNG),
    e!(EUNATCH),
    e!(ENOCSI),
    e!(EL2HLT),
    e!(EBADE),
    e!(EBADR),
    e!(EXFULL),
    e!(ENOANO),
    e!(EBADRQC),
    e!(EBADSLT),
    e!(EBFONT),
    e!(ENOSTR),
    e!(ENODATA),
    e!(ETIME),
    e!(ENOSR),
    e!(ENONET),
    e!(ENOPKG),
    e!(EREMOTE),
    e!(ENOLINK),
    e!(EADV),
    e!(ESRMNT),
    e!(ECOMM),
    e!(EPROTO),
    e!(EMULTIHOP),
    e!(EDOTDOT),
    e!(EBADMSG),
    e!(EOVERFLOW),
    e!(ENOTUNIQ),
    e!(EBADFD),
    e!(EREMCHG),
    e!(ELIBACC),
    e!(ELIBBAD),
    e!(ELIBSCN),
    e!(ELIBMAX),
    e!(ELIBEXEC),
    e!(EILSEQ),
    e!(ERESTART),
    e!(ESTRPIPE),
    e!(EUSERS),
    e!(ENOTSOCK),
    e!(EDESTADDRREQ),
    e!(EMSGSIZE),
    e!(EPROTOTYPE),
    e!(ENOPROTOOPT),
    e!(EPROTONOSUPPORT),
    e!(ESOCKTNOSUPPORT),
    e!(EOPNOTSUPP),
    e!(EPFNOSUPPORT),
    e!(EAFNOSUPPORT),
    e!(EADDRINUSE),
    e!(EADDRNOTAVAIL),
    e!(ENETDOWN),
    e!(ENETUNREACH),
    e!(ENETRESET),
    e!(ECONNABORTED),
    e!(ECONNRESET),
    e!(ENOBUFS),
    e!(EISCONN),
    e!(ENOTCONN),
    e!(ESHUTDOWN),
    e!(ETOOMANYREFS),
    e!(ETIMEDOUT),
    e!(ECONNREFUSED),
    e!(EHOSTDOWN),
    e!(EHOSTUNREACH),
    e!(EALREADY),
    e!(EINPROGRESS),
    e!(ESTALE),
    e!(EUCLEAN),
    e!(ENOTNAM),
    e!(ENAVAIL),
    e!(EISNAM),
    e!(EREMOTEIO),
    e!(EDQUOT),
    e!(ENOMEDIUM),
    e!(EMEDIUMTYPE),
    e!(ECANCELED),
    e!(ENOKEY),
    e!(EKEYEXPIRED),
    e!(EKEYREVOKED),
    e!(EKEYREJECTED),
    e!(EOWNERDEAD),
    e!(ENOTRECOVERABLE),
    e!(ERFKILL),
    e!(EHWPOISON),
];

/// The kernel-internal codes of <linux/errno.h>. They should never reach user space, but a
/// tracer sees them: a syscall interrupted by a signal returns `-ERESTARTSYS` and friends at its
/// exit stop before the kernel restarts it or turns it into `EINTR`. `libc` has none of them.
const INTERNAL: &[(i32, &str)] = &[
    (512, "ERESTARTSYS"),
    (513, "ERESTARTNOINTR"),
    (514, "ERESTARTNOHAND"),
    (515, "ENOIOCTLCMD"),
    (516, "ERESTART_RESTARTBLOCK"),
    (517, "EPROBE_DEFER"),
    (518, "EOPENSTALE"),
    (519, "ENOPARAM"),
    // 520 is unassigned; 521..=531 are the NFS codes.
    (521, "EBADHANDLE"),
    (522, "ENOTSYNC"),
    (523, "EBADCOOKIE"),
    (524, "ENOTSUPP"),
    (525, "ETOOSMALL"),
    (526, "ESERVERFAULT"),
    (527, "EBADTYPE"),
    (528, "EJUKEBOX"),
    (529, "EIOCBQUEUED"),
    (530, "ERECALLCONFLICT"),
    (531, "ENOGRACE"),
];

/// The symbolic name of an errno value (`ENOENT`), including the kernel-internal codes
/// (`ERESTARTSYS`); `None` for values with no name. Takes the positive value.
pub fn name(errno: i32) -> Option<&'static str> {
    ERRNOS
        .iter()
        .chain(INTERNAL)
        .find(|&&(v, _)| v == errno)
        .map(|&(_, n)| n)
}

/// Whether `errno` is one of the restart codes (`ERESTARTSYS`, `ERESTARTNOINTR`,
/// `ERESTARTNOHAND`, `ERESTART_RESTARTBLOCK`): the syscall was interrupted and the kernel will
/// restart it (or fail it with `EINTR`), so its exit is not final.
pub fn is_restart(errno: i32) -> bool {
    matches!(errno, 512..=514 | 516)
}

/// The value of an errno name (`ENOENT` is 2). Used to read back recorded events.
pub fn from_name(name: &str) -> Option<i32> {
    ERRNOS
        .iter()
        .chain(INTERNAL)
        .find(|&&(_, n)| n == name)
        .map(|&(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common() {
        assert_eq!(name(1), Some("EPERM"));
        assert_eq!(name(2), Some("ENOENT"));
        assert_eq!(name(11), Some("EAGAIN"));
        assert_eq!(name(13), Some("EACCES"));
        assert_eq!(name(14), Some("EFAULT"));
        assert_eq!(name(22), Some("EINVAL"));
        assert_eq!(name(35), Some("EDEADLK"));
        assert_eq!(name(38), Some("ENOSYS"));
        assert_eq!(name(95), Some("EOPNOTSUPP"));
        assert_eq!(name(110), Some("ETIMEDOUT"));
        assert_eq!(name(111), Some("ECONNREFUSED"));
        assert_eq!(name(133), Some("EHWPOISON"));
    }

    #[test]
    fn gaps_and_range() {
        assert_eq!(name(0), None);
        assert_eq!(name(-2), None);
        assert_eq!(name(41), None);
        assert_eq!(name(58), None);
        assert_eq!(name(134), None);
        assert_eq!(name(520), None);
        assert_eq!(name(532), None);
        let named = (1..=133).filter(|&e| name(e).is_some()).count();
        assert_eq!(named, 131);
    }

    #[test]
    fn internal() {
        assert_eq!(name(512), Some("ERESTARTSYS"));
        assert_eq!(name(513), Some("ERESTARTNOINTR"));
        assert_eq!(name(514), Some("ERESTARTNOHAND"));
        assert_eq!(name(515), Some("ENOIOCTLCMD"));
        assert_eq!(name(516), Some("ERESTART_RESTARTBLOCK"));
        assert_eq!(name(517), Some("EPROBE_DEFER"));
        assert_eq!(name(524), Some("ENOTSUPP"));
        assert_eq!(name(531), Some("ENOGRACE"));
    }

    #[test]
    fn restart() {
        assert!(is_restart(512));
        assert!(is_restart(513));
        assert!(is_restart(514));
        assert!(is_restart(516));
        assert!(!is_restart(515));
        assert!(!is_restart(libc::EINTR));
        assert!(!is_restart(0));
    }

    #[test]
    fn unique() {
        let all: Vec<_> = ERRNOS.iter().chain(INTERNAL).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.0, b.0, "{} and {}", a.1, b.1);
                assert_ne!(a.1, b.1);
            }
        }
    }
}
