//! Socket addresses as the kernel lays them out (`struct sockaddr_*`).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A decoded socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SockAddr {
    /// `AF_INET`.
    Inet {
        /// Address.
        addr: Ipv4Addr,
        /// Port (host order).
        port: u16,
    },
    /// `AF_INET6`.
    Inet6 {
        /// Address.
        addr: Ipv6Addr,
        /// Port (host order).
        port: u16,
        /// Scope id.
        scope_id: u32,
    },
    /// `AF_UNIX`: a path, an abstract name (leading NUL), or unnamed.
    Unix {
        /// The path bytes (for an abstract name, without the leading NUL).
        path: Vec<u8>,
        /// Whether it is in the abstract namespace.
        abstract_name: bool,
    },
    /// `AF_NETLINK`.
    Netlink {
        /// Port id.
        pid: u32,
        /// Multicast groups.
        groups: u32,
    },
    /// Any other family, or a truncated address: the family (if present) and the raw bytes.
    Other {
        /// The `sa_family` field, when at least two bytes were given.
        family: Option<u16>,
        /// The bytes after the family.
        data: Vec<u8>,
    },
}

impl SockAddr {
    /// Parses the bytes of a `struct sockaddr_*` (as many as the caller's length said).
    pub fn parse(bytes: &[u8]) -> SockAddr {
        if bytes.len() < 2 {
            return SockAddr::Other {
                family: None,
                data: bytes.to_vec(),
            };
        }
        let family = u16::from_ne_bytes([bytes[0], bytes[1]]);
        let be16 = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let ne32 =
            |i: usize| u32::from_ne_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        match i32::from(family) {
            libc::AF_INET if bytes.len() >= 8 => SockAddr::Inet {
                port: be16(2),
                addr: Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]),
            },
            libc::AF_INET6 if bytes.len() >= 24 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&bytes[8..24]);
                let scope_id = if bytes.len() >= 28 { ne32(24) } else { 0 };
                SockAddr::Inet6 {
                    port: be16(2),
                    addr: Ipv6Addr::from(octets),
                    scope_id,
                }
            }
            libc::AF_UNIX => {
                let path = &bytes[2..];
                match path.first() {
                    // Abstract names are length-delimited and may hold NULs.
                    Some(0) if path.len() > 1 => SockAddr::Unix {
                        path: path[1..].to_vec(),
                        abstract_name: true,
                    },
                    _ => {
                        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                        SockAddr::Unix {
                            path: path[..end].to_vec(),
                            abstract_name: false,
                        }
                    }
                }
            }
            libc::AF_NETLINK if bytes.len() >= 12 => SockAddr::Netlink {
                pid: ne32(4),
                groups: ne32(8),
            },
            _ => SockAddr::Other {
                family: Some(family),
                data: bytes[2..].to_vec(),
            },
        }
    }

    /// The address the [`Display`](fmt::Display) form `text` shows; used to read back
    /// recorded events. IPv6 scope ids are not shown, so they come back as 0.
    pub fn from_display(text: &str) -> SockAddr {
        let unix = |path: &str, abstract_name: bool| SockAddr::Unix {
            path: path.as_bytes().to_vec(),
            abstract_name,
        };
        if text.is_empty() || text.starts_with('/') {
            return unix(text, false);
        }
        if let Some(name) = text.strip_prefix('@') {
            return unix(name, true);
        }
        if let Some((pid, groups)) = text
            .strip_prefix("netlink:")
            .and_then(|rest| rest.split_once(':'))
        {
            let groups = groups.strip_prefix("0x").unwrap_or(groups);
            if let (Ok(pid), Ok(groups)) = (pid.parse(), u32::from_str_radix(groups, 16)) {
                return SockAddr::Netlink { pid, groups };
            }
        }
        if let Some((addr, port)) = text.rsplit_once(':') {
            if let (Ok(addr), Ok(port)) = (addr.parse::<std::net::IpAddr>(), port.parse()) {
                return match addr {
                    std::net::IpAddr::V4(addr) => SockAddr::Inet { addr, port },
                    std::net::IpAddr::V6(addr) => SockAddr::Inet6 {
                        addr,
                        port,
                        scope_id: 0,
                    },
                };
            }
            if let Some(data) = addr.starts_with("AF_").then(|| hex_bytes(port)).flatten() {
                let family = super::consts::value(crate::spec::ConstKind::SocketDomain, addr)
                    .and_then(|f| u16::try_from(f).ok());
                return SockAddr::Other { family, data };
            }
        }
        unix(text, false)
    }

    /// The address family name (`AF_INET`, ...).
    pub fn family_name(&self) -> &'static str {
        match self {
            SockAddr::Inet { .. } => "AF_INET",
            SockAddr::Inet6 { .. } => "AF_INET6",
            SockAddr::Unix { .. } => "AF_UNIX",
            SockAddr::Netlink { .. } => "AF_NETLINK",
            SockAddr::Other {
                family: Some(f), ..
            } => super::consts::name(crate::spec::ConstKind::SocketDomain, i64::from(*f))
                .unwrap_or("AF_?"),
            SockAddr::Other { family: None, .. } => "AF_?",
        }
    }
}

/// `0a0b` as `[10, 11]`; `None` unless `text` is whole hex bytes.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl fmt::Display for SockAddr {
    /// Falco's forms: `1.2.3.4:80`, `[::1]:80` is shown as `::1:80`, unix paths as themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Inet { addr, port } => write!(f, "{addr}:{port}"),
            SockAddr::Inet6 { addr, port, .. } => write!(f, "{addr}:{port}"),
            SockAddr::Unix {
                path,
                abstract_name,
            } => {
                if *abstract_name {
                    f.write_str("@")?;
                }
                f.write_str(&String::from_utf8_lossy(path))
            }
            SockAddr::Netlink { pid, groups } => write!(f, "netlink:{pid}:{groups:#x}"),
            SockAddr::Other { family, data } => {
                write!(f, "{}:", self.family_name())?;
                let _ = family;
                for b in data {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet() {
        let mut b = vec![0u8; 16];
        b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        b[2..4].copy_from_slice(&8080u16.to_be_bytes());
        b[4..8].copy_from_slice(&[127, 0, 0, 1]);
        let a = SockAddr::parse(&b);
        assert_eq!(
            a,
            SockAddr::Inet {
                addr: Ipv4Addr::LOCALHOST,
                port: 8080
            }
        );
        assert_eq!(a.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn inet6() {
        let mut b = vec![0u8; 28];
        b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        b[2..4].copy_from_slice(&443u16.to_be_bytes());
        b[23] = 1;
        let a = SockAddr::parse(&b);
        assert_eq!(a.to_string(), "::1:443");
    }

    #[test]
    fn unix_path_and_abstract() {
        let mut b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        b.extend_from_slice(b"/run/docker.sock\0garbage");
        assert_eq!(SockAddr::parse(&b).to_string(), "/run/docker.sock");
        let mut b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        b.extend_from_slice(b"\0hidden");
        assert_eq!(
            SockAddr::parse(&b),
            SockAddr::Unix {
                path: b"hidden".to_vec(),
                abstract_name: true
            }
        );
    }

    #[test]
    fn truncated_is_other() {
        assert_eq!(
            SockAddr::parse(&[2]),
            SockAddr::Other {
                family: None,
                data: vec![2]
            }
        );
        let b = (libc::AF_INET as u16).to_ne_bytes();
        assert!(matches!(
            SockAddr::parse(&b),
            SockAddr::Other {
                family: Some(2),
                ..
            }
        ));
    }
}
