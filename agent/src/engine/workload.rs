//! The workload's container, when the agent is told it rather than finding it in `/proc`: on
//! ECS, the task metadata endpoint names the container the agent wraps (its id, name and
//! image), which `/proc` cannot (a private cgroup namespace hides even the id, and names and
//! images are only in the runtime's API).

/// The container every process of the workload is in, and what alerts should carry about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkloadContainer {
    /// The runtime's id, whole (`container.id` shortens a 64-hex-digit id as Falco does).
    pub id: String,
    /// `container.name`.
    pub name: String,
    /// `container.image`: the reference as the task or pod gave it (`registry/repo:tag`).
    pub image: String,
    /// `container.image.id` (`sha256:...`), when known.
    pub image_id: Option<String>,
    /// `container.type` (`ecs`).
    pub runtime: &'static str,
    /// Fields added to every alert's `output_fields` beyond the rule's own (`ecs.task_arn`,
    /// ...), as Falco's `append_output` does; the container's own fields are added too.
    pub extra_fields: Vec<(String, serde_json::Value)>,
}

impl WorkloadContainer {
    /// The id as `container.id` shows it: the first 12 digits of a 64-hex-digit id (as Falco
    /// and `docker ps` show it), other shapes (Fargate's `<task>-<number>`) whole.
    pub fn short_id(&self) -> &str {
        let id = self.id.as_str();
        if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            &id[..12]
        } else {
            id
        }
    }

    /// The image reference without its digest (`repo:tag@sha256:...` -> `repo:tag`).
    fn without_digest(&self) -> &str {
        self.image
            .split_once('@')
            .map_or(&self.image, |(name, _)| name)
    }

    /// Where the tag starts: after the last `:` of the last path segment (a `:` before the
    /// last `/` is a registry's port).
    fn tag_split(&self) -> Option<(&str, &str)> {
        let name = self.without_digest();
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let colon = name[last_slash..].rfind(':')? + last_slash;
        Some((&name[..colon], &name[colon + 1..]))
    }

    /// `container.image.repository`: the image without tag or digest.
    pub fn repository(&self) -> &str {
        self.tag_split()
            .map_or_else(|| self.without_digest(), |(repo, _)| repo)
    }

    /// `container.image.tag`, when the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag_split().map(|(_, tag)| tag)
    }

    /// What every alert carries about the container: its id, name and image, then the extra
    /// fields.
    pub fn alert_fields(&self) -> Vec<(String, serde_json::Value)> {
        let mut fields = vec![
            ("container.id".to_owned(), self.short_id().into()),
            ("container.name".to_owned(), self.name.as_str().into()),
            ("container.image".to_owned(), self.image.as_str().into()),
        ];
        fields.extend(self.extra_fields.iter().cloned());
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(image: &str) -> WorkloadContainer {
        WorkloadContainer {
            image: image.to_owned(),
            ..WorkloadContainer::default()
        }
    }

    #[test]
    fn repository_and_tag() {
        for (reference, repo, tag) in [
            (
                "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
                "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest",
                Some("latest"),
            ),
            ("nginx", "nginx", None),
            ("registry:5000/team/app", "registry:5000/team/app", None),
            (
                "registry:5000/team/app:1.2",
                "registry:5000/team/app",
                Some("1.2"),
            ),
            ("app:1@sha256:abcd", "app", Some("1")),
            ("app@sha256:abcd", "app", None),
        ] {
            let c = image(reference);
            assert_eq!((c.repository(), c.tag()), (repo, tag), "{reference}");
        }
    }

    #[test]
    fn ids_are_shortened_as_falco_does() {
        let long = "a".repeat(64);
        let c = WorkloadContainer {
            id: long,
            ..WorkloadContainer::default()
        };
        assert_eq!(c.short_id(), "aaaaaaaaaaaa");
        let fargate = WorkloadContainer {
            id: "cd189a933e5849daa93386466019ab50-2495160603".into(),
            ..WorkloadContainer::default()
        };
        assert_eq!(fargate.short_id(), fargate.id);
    }
}
