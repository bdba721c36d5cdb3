//! The ownership marker's token with a cluster name (issue 25, point 2): derived from the
//! cluster name and the resource's kind, namespace and name, so a cluster rebuilt from the same
//! manifests (new UIDs, no status) re-finds its models, and two clusters sharing a service
//! instance never take each other's. Pure; the shell ([`crate`]'s users) writes and recognises
//! markers with it.

use sha2::Digest;

/// The first 8 hex digits of the SHA-256 of a cluster name (the `c` of a named token).
pub fn cluster_tag(cluster: &str) -> String {
    let digest = sha2::Sha256::digest(format!("wso-cluster-v1\0{cluster}").as_bytes());
    hex::encode(digest)[..8].to_string()
}

/// The token of the object `kind` `namespace/name` in the cluster named `cluster`:
/// `n-<8 hex: the cluster>-<25 hex: cluster, kind, namespace and name>`, 36 characters like a
/// UID, so the marker fits where the UID-based one fits (IBM's 128-character description). A
/// contract: changing it makes every model created with a cluster name unrecognised.
pub fn named_token(cluster: &str, kind: &str, namespace: &str, name: &str) -> String {
    let digest = sha2::Sha256::digest(
        format!("wso-owner-v1\0{cluster}\0{kind}\0{namespace}\0{name}").as_bytes(),
    );
    format!("n-{}-{}", cluster_tag(cluster), &hex::encode(digest)[..25])
}

/// The cluster tag of a named token (`None`: a UID token of an earlier release or of no
/// cluster name).
pub fn token_cluster(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("n-")?;
    let (tag, object) = rest.split_once('-')?;
    (tag.len() == 8 && object.len() == 25).then_some(tag)
}
