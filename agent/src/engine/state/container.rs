//! Which container a process is in, from what `/proc` shows of it: the container runtimes put
//! the container id in the process's cgroup path. Where a private cgroup namespace hides the
//! path (`0::/`, Docker's default on cgroup v2), the bind mounts the runtime adds for
//! `/etc/hostname` and friends still name the container's directory.

use std::sync::Arc;

/// A container, as `container.id` and `container.type` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The id: the first 12 hex digits of a 64-digit id (as Falco and `docker ps` show it), or
    /// the whole id for runtimes with other shapes (ECS on Fargate: `<task>-<number>`).
    pub id: Arc<str>,
    /// The runtime, when the path tells it (`docker`, `containerd`, `cri-o`, `podman`, `ecs`).
    pub runtime: Option<&'static str>,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// ECS on Fargate names containers `<32-hex task id>-<decimal number>`.
fn is_fargate_id(s: &str) -> bool {
    match s.split_once('-') {
        Some((task, n)) => {
            task.len() == 32
                && task.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn container(id: &str, runtime: Option<&'static str>) -> Container {
    let short = if is_hex64(id) { &id[..12] } else { id };
    Container {
        id: Arc::from(short),
        runtime,
    }
}

/// Systemd-driver scope names: `<prefix><id>.scope`.
const SCOPE_PREFIXES: &[(&str, &str)] = &[
    ("docker-", "docker"),
    ("cri-containerd-", "containerd"),
    ("crio-", "cri-o"),
    ("libpod-", "podman"),
];

/// One cgroup path segment, if it names a container. `parent` is the segment before it; `ecs`
/// says whether the path is under ECS's `/ecs/<task>/`.
fn from_segment(segment: &str, parent: Option<&str>, ecs: bool) -> Option<Container> {
    if let Some(scope) = segment.strip_suffix(".scope") {
        // `crio-conmon-<id>.scope` is the runtime's monitor, not the container.
        if scope.starts_with("crio-conmon-") {
            return None;
        }
        for (prefix, runtime) in SCOPE_PREFIXES {
            if let Some(id) = scope.strip_prefix(prefix) {
                return is_hex64(id).then(|| container(id, Some(runtime)));
            }
        }
        return None;
    }
    let runtime = match parent {
        _ if ecs => Some("ecs"),
        Some("docker") => Some("docker"),
        _ => None,
    };
    if is_hex64(segment) {
        return Some(container(segment, runtime));
    }
    if runtime == Some("ecs") && is_fargate_id(segment) {
        return Some(container(segment, runtime));
    }
    None
}

/// The container in a `/proc/PID/cgroup` file; `None` on the host (or when the path is hidden).
pub fn from_cgroup(cgroup: &str) -> Option<Container> {
    for line in cgroup.lines() {
        // `hierarchy-id:controllers:path`; the path may itself hold colons.
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let ecs = segments.first() == Some(&"ecs");
        for (i, segment) in segments.iter().enumerate().rev() {
            let parent = i.checked_sub(1).and_then(|p| segments.get(p)).copied();
            if let Some(found) = from_segment(segment, parent, ecs) {
                return Some(found);
            }
        }
    }
    None
}

/// Whether a cgroup file shows only the root path (a private cgroup namespace, typically).
pub fn cgroup_is_root(cgroup: &str) -> bool {
    cgroup
        .lines()
        .filter_map(|line| line.splitn(3, ':').nth(2))
        .all(|path| path == "/")
}

/// The container named by a runtime's bind mounts in `/proc/PID/mountinfo`:
/// `/var/lib/docker/containers/<id>/hostname`,
/// `/var/run/containers/storage/overlay-containers/<id>/userdata/hostname` (cri-o, podman).
pub fn from_mountinfo(mountinfo: &str) -> Option<Container> {
    for line in mountinfo.lines() {
        // The fourth field is the mount's root within its filesystem.
        let Some(root) = line.split(' ').nth(3) else {
            continue;
        };
        let mut segments = root.split('/').peekable();
        while let Some(segment) = segments.next() {
            let runtime = match segment {
                "containers" => "docker",
                "overlay-containers" => "cri-o",
                _ => continue,
            };
            if let Some(id) = segments.peek().filter(|id| is_hex64(id)) {
                return Some(container(id, Some(runtime)));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f0c8a5e9b1d2c4f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f";

    fn id_of(cgroup: &str) -> Option<(String, Option<&'static str>)> {
        from_cgroup(cgroup).map(|c| (c.id.to_string(), c.runtime))
    }

    #[test]
    fn ids_from_the_usual_runtimes() {
        let short = Some(ID[..12].to_owned());
        for (cgroup, runtime) in [
            (format!("0::/docker/{ID}\n"), Some("docker")),
            (format!("0::/system.slice/docker-{ID}.scope\n"), Some("docker")),
            (
                format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{ID}.scope\n"),
                Some("containerd"),
            ),
            (format!("0::/kubepods/burstable/pod1/crio-{ID}.scope\n"), Some("cri-o")),
            (format!("0::/machine.slice/libpod-{ID}.scope/container\n"), Some("podman")),
            (format!("0::/kubepods/besteffort/pod1/{ID}\n"), None),
            (format!("12:memory:/ecs/task1/{ID}\n"), Some("ecs")),
        ] {
            let got = id_of(&cgroup);
            assert_eq!(got.as_ref().map(|g| Some(g.0.clone())), Some(short.clone()), "{cgroup}");
            assert_eq!(got.and_then(|g| g.1), runtime, "{cgroup}");
        }
    }

    #[test]
    fn fargate_ids_are_kept_whole() {
        let task = "0123456789abcdef0123456789abcdef";
        let cgroup = format!("0::/ecs/{task}/{task}-3862148426\n");
        assert_eq!(
            id_of(&cgroup),
            Some((format!("{task}-3862148426"), Some("ecs")))
        );
    }

    #[test]
    fn the_host_has_none() {
        for cgroup in [
            "0::/user.slice/user-1000.slice/session-1.scope\n",
            "0::/init.scope\n",
            &format!("0::/system.slice/crio-conmon-{ID}.scope\n"),
            "",
        ] {
            assert_eq!(id_of(cgroup), None, "{cgroup}");
        }
        assert!(cgroup_is_root("0::/\n"));
        assert!(!cgroup_is_root("0::/init.scope\n"));
    }

    #[test]
    fn hidden_cgroups_fall_back_to_the_runtimes_mounts() {
        let mountinfo = format!(
            "1 0 0:1 / / rw - overlay overlay rw\n\
             2 1 8:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n"
        );
        let found = from_mountinfo(&mountinfo).expect("docker container");
        assert_eq!((&*found.id, found.runtime), (&ID[..12], Some("docker")));
        assert_eq!(from_mountinfo("1 0 0:1 / / rw - ext4 /dev/sda1 rw\n"), None);
    }
}
