//! User and group names from `/etc/passwd` and `/etc/group`, read once and cached. In a
//! container these are the container's files, which is what a rule about users means.

use std::collections::HashMap;
use std::path::Path;

/// One `/etc/passwd` entry's fields the rules read.
#[derive(Debug, Clone, Default)]
pub struct User {
    pub name: Vec<u8>,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
}

/// The cached tables.
#[derive(Debug, Default)]
pub struct Users {
    users: HashMap<u32, User>,
    groups: HashMap<u32, Vec<u8>>,
}

impl Users {
    /// Reads a passwd and a group file (a missing one gives an empty table).
    pub fn from_files(passwd: &Path, group: &Path) -> Self {
        let read = |path: &Path| {
            std::fs::read(path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        Self::parse(&read(passwd), &read(group))
    }

    /// Parses passwd and group text.
    pub fn parse(passwd: &str, group: &str) -> Self {
        let mut users = HashMap::new();
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(name), Some(uid)) = (f.first(), f.get(2).and_then(|v| v.parse().ok())) {
                users.entry(uid).or_insert_with(|| User {
                    name: name.as_bytes().to_vec(),
                    home: f.get(5).unwrap_or(&"").as_bytes().to_vec(),
                    shell: f.get(6).unwrap_or(&"").as_bytes().to_vec(),
                });
            }
        }
        let mut groups = HashMap::new();
        for line in group.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(name), Some(gid)) = (f.first(), f.get(2).and_then(|v| v.parse().ok())) {
                groups
                    .entry(gid)
                    .or_insert_with(|| name.as_bytes().to_vec());
            }
        }
        Users { users, groups }
    }

    /// A user by uid.
    pub fn user(&self, uid: u32) -> Option<&User> {
        self.users.get(&uid)
    }

    /// A group name by gid.
    pub fn group(&self, gid: u32) -> Option<&[u8]> {
        self.groups.get(&gid).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_group() {
        let users = Users::parse(
            "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n",
            "root:x:0:\nshadow:x:42:\n",
        );
        assert_eq!(
            users.user(33).map(|u| u.name.as_slice()),
            Some(&b"www-data"[..])
        );
        assert_eq!(
            users.user(0).map(|u| u.shell.as_slice()),
            Some(&b"/bin/bash"[..])
        );
        assert_eq!(users.group(42), Some(&b"shadow"[..]));
        assert!(users.user(1000).is_none());
    }
}
