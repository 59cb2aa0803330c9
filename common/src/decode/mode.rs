//! File modes as Falco shows them: `0644`, `S_IFREG|0644`, `4755`.

use std::fmt::Write as _;

/// The file types of `S_IFMT`.
const TYPES: &[(u32, &str)] = &[
    (libc::S_IFSOCK, "S_IFSOCK"),
    (libc::S_IFLNK, "S_IFLNK"),
    (libc::S_IFREG, "S_IFREG"),
    (libc::S_IFBLK, "S_IFBLK"),
    (libc::S_IFDIR, "S_IFDIR"),
    (libc::S_IFCHR, "S_IFCHR"),
    (libc::S_IFIFO, "S_IFIFO"),
];

/// Permission bits, with setuid, setgid and sticky.
const PERMS: u32 = 0o7777;

/// Formats a mode: the permission and special bits as four octal digits (`0644`, `4755`),
/// prefixed by the file type's name when `S_IFMT` bits are set (`S_IFDIR|0755`). A type that
/// is not one of the seven is shown in octal (`030000|0644`), and any bits above `S_IFMT`
/// are appended in hex.
pub fn format(mode: u32) -> String {
    let mut out = String::new();
    let ftype = mode & libc::S_IFMT;
    if ftype != 0 {
        match TYPES.iter().find(|&&(v, _)| v == ftype) {
            Some(&(_, name)) => out.push_str(name),
            None => {
                let _ = write!(out, "0{ftype:o}");
            }
        }
        out.push('|');
    }
    let _ = write!(out, "{:04o}", mode & PERMS);
    let high = mode & !(libc::S_IFMT | PERMS);
    if high != 0 {
        let _ = write!(out, "|{high:#x}");
    }
    out
}

/// The mode [`format`] shows as `text` (`S_IFREG|0644`, `4755`, `030000|0644|0x10000`).
/// Used to read back recorded events.
pub fn parse(text: &str) -> Option<u32> {
    let mut mode = 0u32;
    for part in text.split('|') {
        mode |= if let Some(&(v, _)) = TYPES.iter().find(|&&(_, n)| n == part) {
            v
        } else if let Some(hex) = part.strip_prefix("0x") {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            u32::from_str_radix(part, 8).ok()?
        };
    }
    Some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_only() {
        assert_eq!(format(0o644), "0644");
        assert_eq!(format(0), "0000");
        assert_eq!(format(0o7), "0007");
        assert_eq!(format(0o4755), "4755");
        assert_eq!(format(0o1777), "1777");
        assert_eq!(format(0o2755), "2755");
    }

    #[test]
    fn with_type() {
        assert_eq!(format(libc::S_IFREG | 0o644), "S_IFREG|0644");
        assert_eq!(format(0o100644), "S_IFREG|0644");
        assert_eq!(format(0o040755), "S_IFDIR|0755");
        assert_eq!(format(0o120777), "S_IFLNK|0777");
        assert_eq!(format(0o140755), "S_IFSOCK|0755");
        assert_eq!(format(0o060660), "S_IFBLK|0660");
        assert_eq!(format(0o020620), "S_IFCHR|0620");
        assert_eq!(format(0o010600), "S_IFIFO|0600");
        assert_eq!(format(0o104755), "S_IFREG|4755");
    }

    #[test]
    fn odd_bits() {
        assert_eq!(format(0o030644), "030000|0644");
        assert_eq!(format(0x8000_0000 | 0o644), "0644|0x80000000");
    }
}
