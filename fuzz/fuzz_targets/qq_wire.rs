//! QQ's answers are untrusted input: no body may panic a parser, and what parses must
//! hold what the types promise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qqbind::qq::wire;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(grant) = wire::parse_token_body(body) {
        assert!(!format!("{grant:?}").is_empty());
    }
    if let Ok(me) = wire::parse_me_body(body) {
        // What the client then does with it: an openid is kept only if it is one.
        if let Some(id) = qqbind::domain::OpenId::parse(&me.openid) {
            assert_eq!(id.as_str(), me.openid);
        }
    }
    let _ = wire::parse_user_info(body);
});
