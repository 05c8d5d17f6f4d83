//! Signed values: the openid token of the bind form (and of the JSON API), the JSON API's
//! `state`, CSRF tokens, and the key of the API's JWTs.
//!
//! All are HMAC-SHA256 under keys derived from `SECRET_KEY`, one per purpose, so a
//! value signed for one purpose never verifies for another. Verification goes through
//! `Mac::verify_slice`, which compares in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{ExternalId, OpenId};

type HmacSha256 = Hmac<Sha256>;

/// Why a signed openid token was refused. The page shows one message for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature (altered, another key, or another session)")]
    BadSignature,
    #[error("token expired")]
    Expired,
}

/// What the JSON API's signed `state` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiState {
    /// Single use: the API records it when the state comes back.
    pub nonce: String,
    /// The client's PKCE `code_challenge` (S256): only who holds its verifier may
    /// redeem the state.
    pub challenge: String,
    pub next: String,
}

/// Whether `v` is a PKCE `code_verifier` (RFC 7636: 43–128 of `A-Z a-z 0-9 - . _ ~`).
pub fn is_code_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `c` is an S256 `code_challenge`: 43 characters of unpadded base64url.
pub fn is_code_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The S256 challenge of `verifier`: base64url(SHA-256(verifier)), unpadded.
pub fn s256_challenge(verifier: &str) -> String {
    use sha2::Digest as _;
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` answers `challenge`. (A plain comparison: the challenge is no
/// secret, and a match needs a SHA-256 preimage, not a timing.)
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    is_code_verifier(verifier) && s256_challenge(verifier) == challenge
}

#[derive(Clone)]
pub struct Signer {
    openid_key: [u8; 32],
    csrf_key: [u8; 32],
    state_key: [u8; 32],
    jwt_key: [u8; 32],
}

impl Signer {
    pub fn new(secret_key: &[u8]) -> Self {
        Self {
            openid_key: derive(secret_key, b"qqbind openid-token v1"),
            csrf_key: derive(secret_key, b"qqbind csrf v1"),
            state_key: derive(secret_key, b"qqbind api-state v1"),
            jwt_key: derive(secret_key, b"qqbind jwt v1"),
        }
    }

    /// The HS256 key of the JSON API's JWTs.
    pub fn jwt_key(&self) -> &[u8] {
        &self.jwt_key
    }

    /// A token carrying `openid`, valid until `expires_at` (unix seconds), and only
    /// for the session whose binding value is `session_id`.
    pub fn sign_openid(&self, openid: &OpenId, expires_at: i64, session_id: &str) -> String {
        self.sign_identity(&ExternalId::qq(openid.clone()), expires_at, session_id)
    }

    /// The bind form's `access_token` for any provider's identity.
    pub fn sign_identity(&self, id: &ExternalId, expires_at: i64, session_id: &str) -> String {
        seal(&self.openid_key, &id.to_payload(), expires_at, session_id)
    }

    /// The identity in `token` when it is intact, unexpired at `now` and was made for
    /// `session_id`.
    pub fn verify_identity(
        &self,
        token: &str,
        session_id: &str,
        now: i64,
    ) -> Result<ExternalId, TokenError> {
        let payload = open(&self.openid_key, token, session_id, now)?;
        ExternalId::from_payload(&payload).ok_or(TokenError::Malformed)
    }

    /// The QQ openid in `token` ([`Self::verify_identity`] for a QQ identity only).
    pub fn verify_openid(
        &self,
        token: &str,
        session_id: &str,
        now: i64,
    ) -> Result<OpenId, TokenError> {
        match self.verify_identity(token, session_id, now)? {
            ExternalId {
                provider: crate::domain::Provider::Qq,
                openid,
                ..
            } => Ok(openid),
            _ => Err(TokenError::Malformed),
        }
    }

    /// The JSON API's `state`: a nonce, the client's code challenge and `next`, valid
    /// until `expires_at`.
    pub fn sign_state(&self, state: &ApiState, expires_at: i64) -> String {
        let payload = format!("{}|{}|{}", state.nonce, state.challenge, state.next);
        seal(&self.state_key, &payload, expires_at, "")
    }

    pub fn verify_state(&self, token: &str, now: i64) -> Result<ApiState, TokenError> {
        let payload = open(&self.state_key, token, "", now)?;
        let mut parts = payload.splitn(3, '|');
        let (Some(nonce), Some(challenge), Some(next)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        Ok(ApiState {
            nonce: nonce.to_owned(),
            challenge: challenge.to_owned(),
            next: next.to_owned(),
        })
    }

    /// The CSRF token for a session's CSRF seed.
    pub fn csrf_token(&self, seed: &str) -> String {
        hex::encode(
            mac(&self.csrf_key, &[seed.as_bytes()])
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `token` is the CSRF token of `seed` (constant-time).
    pub fn verify_csrf(&self, seed: &str, token: &str) -> bool {
        match hex::decode(token) {
            Ok(tag) => mac(&self.csrf_key, &[seed.as_bytes()])
                .verify_slice(&tag)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// `base64(value|expires_at).base64(tag)`, the tag also covering `binding`.
fn seal(key: &[u8], value: &str, expires_at: i64, binding: &str) -> String {
    let payload = format!("{value}|{expires_at}");
    let tag = mac(key, &[payload.as_bytes(), binding.as_bytes()]).finalize();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(tag.into_bytes())
    )
}

/// The value sealed in `token`, when its tag holds for `binding` and it is unexpired.
fn open(key: &[u8], token: &str, binding: &str, now: i64) -> Result<String, TokenError> {
    let (payload_b64, tag_b64) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag_b64)
        .map_err(|_| TokenError::Malformed)?;
    mac(key, &[&payload, binding.as_bytes()])
        .verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    // Only a payload we signed gets this far.
    let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
    let (value, expires_at) = payload.rsplit_once('|').ok_or(TokenError::Malformed)?;
    let expires_at: i64 = expires_at.parse().map_err(|_| TokenError::Malformed)?;
    if now >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(value.to_owned())
}

fn derive(secret: &[u8], purpose: &[u8]) -> [u8; 32] {
    mac(secret, &[purpose]).finalize().into_bytes().into()
}

/// HMAC over the parts, each preceded by its length so that no two different lists
/// of parts hash alike.
fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for part in parts {
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn openid() -> OpenId {
        OpenId::parse("4F65D2442D41B0D1639FD7FC14123B11").unwrap()
    }

    fn signer() -> Signer {
        Signer::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_fresh_token_verifies_in_its_session() {
        let t = signer().sign_openid(&openid(), NOW + 600, "sid-a");
        assert_eq!(signer().verify_openid(&t, "sid-a", NOW), Ok(openid()));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let t = signer().sign_openid(&openid(), NOW + 600, "sid-a");
        assert_eq!(
            signer().verify_openid(&t, "sid-a", NOW + 600),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_from_another_session_is_refused() {
        let t = signer().sign_openid(&openid(), NOW + 600, "sid-a");
        assert_eq!(
            signer().verify_openid(&t, "sid-b", NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_token_under_another_key_is_refused() {
        let t = Signer::new(b"another-key-another-key-another-key").sign_openid(
            &openid(),
            NOW + 600,
            "sid-a",
        );
        assert_eq!(
            signer().verify_openid(&t, "sid-a", NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let t = signer().sign_openid(&openid(), NOW + 600, "sid-a");
        let (_, tag) = t.split_once('.').unwrap();
        // Another openid, or a later expiry, under the old tag.
        for payload in [
            "AAAAD2442D41B0D1639FD7FC14123B11|1800000600",
            "4F65D2442D41B0D1639FD7FC14123B11|1900000600",
        ] {
            let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(payload));
            assert_eq!(
                signer().verify_openid(&forged, "sid-a", NOW),
                Err(TokenError::BadSignature)
            );
        }
        // One flipped character of the tag.
        let mut chars: Vec<char> = t.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let flipped: String = chars.into_iter().collect();
        assert!(signer().verify_openid(&flipped, "sid-a", NOW).is_err());
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for junk in ["", ".", "abc", "a.b.c", "!!!.???", "\u{0}.\u{0}"] {
            assert!(
                signer().verify_openid(junk, "sid-a", NOW).is_err(),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn csrf_tokens_verify_for_their_seed_only() {
        let s = signer();
        let t = s.csrf_token("seed-1");
        assert!(s.verify_csrf("seed-1", &t));
        assert!(!s.verify_csrf("seed-2", &t));
        assert!(!s.verify_csrf("seed-1", ""));
        assert!(!s.verify_csrf("seed-1", "zz"));
        // A CSRF token is not an openid token and the other way round.
        let o = s.sign_openid(&openid(), NOW + 600, "seed-1");
        assert!(!s.verify_csrf("seed-1", &o));
    }

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_code_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(verifier_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!verifier_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_code_verifier("short"));
        assert!(!is_code_verifier(&"a".repeat(129)));
        assert!(!is_code_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c="
        ));
    }

    #[test]
    fn an_api_state_carries_its_nonce_and_next_until_it_expires() {
        let s = signer();
        let state = ApiState {
            nonce: "abc123".into(),
            challenge: s256_challenge(&"v".repeat(43)),
            next: "/goods/1.html?a=1|b".into(),
        };
        let token = s.sign_state(&state, NOW + 600);
        assert_eq!(s.verify_state(&token, NOW), Ok(state.clone()));
        assert_eq!(s.verify_state(&token, NOW + 600), Err(TokenError::Expired));
        let other = Signer::new(b"another key, another key, another");
        assert_eq!(
            other.verify_state(&token, NOW),
            Err(TokenError::BadSignature)
        );
        // A state is not an openid token, nor the other way round.
        assert!(s.verify_openid(&token, "", NOW).is_err());
        let openid_token = s.sign_openid(&openid(), NOW + 600, "");
        assert!(s.verify_state(&openid_token, NOW).is_err());
    }
}
