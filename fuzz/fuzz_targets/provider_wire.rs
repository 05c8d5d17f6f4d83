//! WeChat's and Weibo's answers are untrusted input too: no body may panic a parser, and
//! what parses must hold what the types promise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qqbind::providers::{wechat_wire, weibo_wire};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = wechat_wire::parse_token(data) {
        assert!(!t.access_token.trim().is_empty() && !t.openid.trim().is_empty());
        assert!(t.scope.iter().all(|s| !s.is_empty() && !s.contains(',')));
    }
    if let Ok(u) = wechat_wire::parse_user(data) {
        assert!(!u.openid.trim().is_empty());
    }
    if let Ok(t) = weibo_wire::parse_token(data) {
        assert!(!t.access_token.trim().is_empty() && !t.uid.is_empty());
    }
    if let Ok(i) = weibo_wire::parse_token_info(data) {
        assert!(!i.uid.is_empty() && !i.appkey.is_empty());
    }
    let _ = weibo_wire::parse_user(data);
});
