//! The webhook signature: HMAC-SHA256 under the webhook's secret over `TIMESTAMP.BODY` (the
//! `X-Xsignal-Timestamp` header, a dot, the exact request body), sent as
//! `X-Xsignal-Signature: sha256=HEX`. Signing the timestamp with the body lets a receiver refuse
//! replays of an old request.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header: the signature, `sha256=` and 64 lowercase hex digits.
pub const SIGNATURE_HEADER: &str = "X-Xsignal-Signature";
/// Header: the Unix time in seconds at which the request was signed.
pub const TIMESTAMP_HEADER: &str = "X-Xsignal-Timestamp";
/// Header: the event's feed `seq`.
pub const SEQ_HEADER: &str = "X-Xsignal-Seq";
/// Header: the event kind (`opened`, `updated`, `closed`).
pub const EVENT_HEADER: &str = "X-Xsignal-Event";
/// Header: the attempt number of this event at this webhook, from 1.
pub const ATTEMPT_HEADER: &str = "X-Xsignal-Attempt";
/// Header: the idempotency key, the event's feed `seq`.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "sha256={}",
        crate::hex::encode(&mac.finalize().into_bytes())
    )
}

/// True when `header` is the signature of `body` sent at `timestamp` (compared in constant time).
pub fn verify(secret: &[u8], timestamp: u64, body: &[u8], header: &str) -> bool {
    let Some(digest) = header.strip_prefix("sha256=").and_then(crate::hex::decode) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_openssl_and_verifies() {
        // printf '%s' '1767225600.{"seq":1}' | openssl dgst -sha256 -hmac 'whsec_test'
        let expected = "sha256=4f056b143a222ba7a11c00facb2da948961c8b7c07b09c4b1d3a855699f03e7c";
        let body = br#"{"seq":1}"#;
        assert_eq!(signature(b"whsec_test", 1_767_225_600, body), expected);
        assert!(verify(b"whsec_test", 1_767_225_600, body, expected));
        assert!(!verify(b"whsec_test", 1_767_225_601, body, expected));
        assert!(!verify(b"other", 1_767_225_600, body, expected));
        assert!(!verify(
            b"whsec_test",
            1_767_225_600,
            br#"{"seq":2}"#,
            expected
        ));
        assert!(!verify(b"whsec_test", 1_767_225_600, body, "sha256=zz"));
        assert!(!verify(
            b"whsec_test",
            1_767_225_600,
            body,
            expected.trim_start_matches("sha256=")
        ));
    }
}
