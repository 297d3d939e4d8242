//! Object keys and content hashes, laid out as Python's S3 driver lays them out
//! (`v0/ns/{namespace}/wt/{workflow type}/wi/{workflow id}/ri/{run id}/d/sha256/{hash}`,
//! or `at`/`ai`/`ri` for a standalone activity), so that objects from every SDK sort the
//! same way under one prefix policy.

use ring::digest::{digest, SHA256};

use crate::codec::SerializationContext;

/// The hash algorithm claims name.
pub(crate) const HASH_ALGORITHM: &str = "sha256";
/// S3 limits keys to 1024 bytes; a longer one keeps only the namespace and the hash.
const MAX_KEY_BYTES: usize = 1024;

/// The lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    digest(&SHA256, bytes)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The key of an object holding `hash`, stored for `context`.
pub(crate) fn object_key(context: &SerializationContext, hash: &str) -> String {
    let namespace = format!("/ns/{}", segment(Some(&context.namespace)));
    let owner = match &context.workflow_id {
        Some(workflow_id) => format!(
            "/wt/{}/wi/{}/ri/{}",
            segment(context.workflow_type.as_deref()),
            segment(Some(workflow_id)),
            segment(context.workflow_run_id.as_deref()),
        ),
        None => format!(
            "/at/{}/ai/{}/ri/{}",
            segment(context.activity_type.as_deref()),
            segment(context.activity_id.as_deref()),
            segment(context.activity_run_id.as_deref()),
        ),
    };
    let digest = format!("/d/{HASH_ALGORITHM}/{hash}");
    let key = format!("v0{namespace}{owner}{digest}");
    if key.len() > MAX_KEY_BYTES {
        format!("v0{namespace}{digest}")
    } else {
        key
    }
}

/// A path segment with every byte outside S3's safe set as `%XX`; `null` when empty.
fn segment(value: Option<&str>) -> String {
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        return "null".to_owned();
    };
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"!-_.*'()".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_python_s3_driver_layout() {
        let mut context = SerializationContext {
            namespace: "default".into(),
            workflow_id: Some("order/7".into()),
            workflow_type: Some("Checkout".into()),
            ..Default::default()
        };
        assert_eq!(
            object_key(&context, "ab"),
            "v0/ns/default/wt/Checkout/wi/order%2F7/ri/null/d/sha256/ab"
        );
        context.workflow_id = None;
        context.activity_type = Some("report".into());
        context.activity_id = Some("r-1".into());
        assert_eq!(
            object_key(&context, "ab"),
            "v0/ns/default/at/report/ai/r-1/ri/null/d/sha256/ab"
        );
        context.activity_id = Some("x".repeat(1100));
        assert_eq!(object_key(&context, "ab"), "v0/ns/default/d/sha256/ab");
    }

    #[test]
    fn the_hash_is_lower_case_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
