//! Property tests: `next` sanitising and the signer hold for any input, not just the
//! examples the unit tests name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use qqbind::domain::{NextPath, OpenId};
use qqbind::signer::{ApiState, Signer, TokenError};

const NOW: i64 = 1_800_000_000;

fn signer() -> Signer {
    Signer::new(b"property-test-secret-key-0123456789")
}

fn openid() -> impl Strategy<Value = OpenId> {
    "[0-9A-Za-z_-]{1,64}".prop_map(|s| OpenId::parse(&s).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever comes in, what goes out is a local path that no browser reads as
    /// another host: one leading slash, no backslash, no control character, bounded.
    #[test]
    fn next_is_always_a_local_path(raw in prop_oneof![
        any::<String>(),
        "/.{0,300}",
        "//.{0,40}",
        "/[\\\\/%2fF5cC:.@a-z]{0,20}",
        "(https?:|javascript:|/\\\\|\\\\\\\\)[a-z./]{0,20}",
    ]) {
        let next = NextPath::sanitise(Some(&raw));
        let s = next.as_str();
        prop_assert!(s.starts_with('/'));
        prop_assert!(!s.starts_with("//"));
        prop_assert!(!s.contains('\\'));
        prop_assert!(!s.chars().any(char::is_control));
        prop_assert!(s.len() <= NextPath::MAX_LEN);
        let lower = s.to_ascii_lowercase();
        prop_assert!(!lower.starts_with("/%2f") && !lower.starts_with("/%5c"));
        // Resolved against our own origin, it stays on our origin.
        let base = url::Url::parse("https://shop.example/").unwrap();
        let joined = base.join(s).unwrap();
        prop_assert_eq!(joined.host_str(), Some("shop.example"));
        // Sanitising is idempotent, and good paths pass unchanged.
        let again = NextPath::sanitise(Some(s));
        prop_assert_eq!(again.as_str(), s);
    }

    #[test]
    fn local_paths_pass_unchanged(path in "/[a-z0-9_./?=&-]{0,100}") {
        prop_assume!(!path.starts_with("//"));
        let next = NextPath::sanitise(Some(&path));
        prop_assert_eq!(next.as_str(), path.as_str());
    }

    /// A token verifies for its session until it expires, and never for another
    /// session, another key, or after any change to it.
    #[test]
    fn openid_tokens_verify_only_as_signed(
        id in openid(),
        ttl in 1i64..100_000,
        sid in "[0-9a-f]{32}",
        other_sid in "[0-9a-f]{32}",
        flip in any::<prop::sample::Index>(),
    ) {
        let s = signer();
        let token = s.sign_openid(&id, NOW + ttl, &sid);
        prop_assert_eq!(s.verify_openid(&token, &sid, NOW), Ok(id.clone()));
        prop_assert_eq!(s.verify_openid(&token, &sid, NOW + ttl), Err(TokenError::Expired));
        if other_sid != sid {
            prop_assert!(s.verify_openid(&token, &other_sid, NOW).is_err());
        }
        let other_key = Signer::new(b"another-secret-key-0123456789abcdef");
        prop_assert!(other_key.verify_openid(&token, &sid, NOW).is_err());
        // Any one character changed: refused.
        let mut bytes = token.clone().into_bytes();
        let i = flip.index(bytes.len());
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        if altered != token {
            prop_assert!(s.verify_openid(&altered, &sid, NOW).is_err());
        }
    }

    /// Garbage never verifies and never panics.
    #[test]
    fn garbage_is_refused(token in any::<String>(), sid in any::<String>(), now in any::<i64>()) {
        let s = signer();
        prop_assert!(s.verify_openid(&token, &sid, now).is_err());
        prop_assert!(s.verify_state(&token, now).is_err());
        prop_assert!(!s.verify_csrf(&sid, &token));
    }

    #[test]
    fn api_states_round_trip_any_next(
        nonce in "[0-9a-f]{32}",
        challenge in "[A-Za-z0-9_-]{43}",
        next in any::<String>(),
    ) {
        let s = signer();
        let state = ApiState { nonce, challenge, next };
        let token = s.sign_state(&state, NOW + 600);
        prop_assert_eq!(s.verify_state(&token, NOW), Ok(state));
    }

    /// Only the verifier a challenge was made from redeems it.
    #[test]
    fn only_its_own_verifier_answers_a_challenge(
        verifier in "[A-Za-z0-9._~-]{43,128}",
        other in "[A-Za-z0-9._~-]{43,128}",
    ) {
        let challenge = qqbind::signer::s256_challenge(&verifier);
        prop_assert!(qqbind::signer::is_code_challenge(&challenge));
        prop_assert!(qqbind::signer::verifier_matches(&verifier, &challenge));
        prop_assert_eq!(qqbind::signer::verifier_matches(&other, &challenge), other == verifier);
    }

    #[test]
    fn csrf_tokens_belong_to_their_seed(seed in "[0-9a-f]{32}", other in "[0-9a-f]{32}") {
        let s = signer();
        let token = s.csrf_token(&seed);
        prop_assert!(s.verify_csrf(&seed, &token));
        if other != seed {
            prop_assert!(!s.verify_csrf(&other, &token));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Any bytes at WeChat's and Weibo's parsers: an answer, never a panic; what parses
    /// holds what its type promises.
    #[test]
    fn provider_parsers_take_any_bytes(body in prop_oneof![
        any::<Vec<u8>>(),
        ".{0,200}".prop_map(String::into_bytes),
        // JSON-shaped noise with the keys the parsers look for.
        (
            prop::sample::select(vec!["errcode", "errmsg", "access_token", "openid", "unionid", "scope", "is_snapshotuser", "error", "error_code", "uid", "appkey", "idstr", "id", "expires_in"]),
            prop::sample::select(vec!["0", "-1", "40029", "\"\"", "\" \"", "null", "[]", "{}", "\"x,,y\"", "1e400", "\"12345\"", "true"]),
            prop::sample::select(vec!["access_token", "openid", "uid", "appkey", "idstr"]),
            "[ -~]{0,12}",
        )
            .prop_map(|(k1, v1, k2, v2)| {
                format!("{{\"{k1}\":{v1},\"{k2}\":{:?}}}", v2).into_bytes()
            }),
    ]) {
        use qqbind::providers::{wechat_wire, weibo_wire};
        if let Ok(t) = wechat_wire::parse_token(&body) {
            prop_assert!(!t.access_token.trim().is_empty() && !t.openid.trim().is_empty());
            prop_assert!(t.scope.iter().all(|s| !s.is_empty() && !s.contains(',')));
        }
        if let Ok(u) = wechat_wire::parse_user(&body) {
            prop_assert!(!u.openid.trim().is_empty());
        }
        if let Ok(t) = weibo_wire::parse_token(&body) {
            prop_assert!(!t.access_token.trim().is_empty() && !t.uid.is_empty());
        }
        if let Ok(i) = weibo_wire::parse_token_info(&body) {
            prop_assert!(!i.uid.is_empty() && !i.appkey.is_empty());
        }
        let _ = weibo_wire::parse_user(&body);
    }
}
