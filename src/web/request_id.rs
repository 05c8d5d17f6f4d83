//! `X-Request-Id`: every answer carries one, and every log line of the request names it
//! (the `request` span, entered in the blocking pool too). It is taken from a trusted
//! proxy's header when that is a short, safe token; otherwise made here.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpMessage;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// This request's id (in the request's extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Whether a proxy's id may be kept: 1–64 letters, digits, `.`, `_`, `-` or `:`.
pub fn is_safe(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// The id of `req`: the trusted proxy's, or a new one; noted in its extensions.
pub fn assign(req: &ServiceRequest, trusted: &[ipnet::IpNet]) -> String {
    let from_proxy = req
        .peer_addr()
        .filter(|peer| trusted.iter().any(|net| net.contains(&peer.ip())))
        .and_then(|_| req.headers().get(&HEADER))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| is_safe(id))
        .map(str::to_owned);
    let id = from_proxy.unwrap_or_else(|| crate::config::random_hex(8));
    req.extensions_mut().insert(RequestId(id.clone()));
    id
}

/// The header value of `id` (always valid: ids are safe tokens).
pub fn header_value(id: &str) -> HeaderValue {
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// The id of a request, where one was assigned.
pub fn of(req: &actix_web::HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.0.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_safe_tokens_are_kept() {
        assert!(is_safe("f3a9c2e1-77b0-4d1e-9a43-0c2b5e6d7f80"));
        assert!(is_safe("lb-01.edge:4f2a_77"));
        assert!(!is_safe("Root=1-67891233-abcdef0123"), "no '='");
        for bad in ["", "a b", "<script>", "x\ny", &"a".repeat(65), "日志"] {
            assert!(!is_safe(bad), "{bad:?}");
        }
    }
}
