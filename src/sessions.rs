//! The registry of each account's live sessions, in the code store: what the customer's
//! list shows (created, last seen, IP, device) so one device can be logged out, or all
//! the others; and an operator can do the same (强制下线).
//!
//! A session is live while its `live_session` key is (the login rules); the registry
//! only describes it. An entry whose session is no longer live is dropped when listed.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codes::{keys, CodeStore, StoreError};

/// What the list says of one session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    /// Unix seconds.
    pub created: i64,
    pub ip: String,
    pub device: String,
    /// Unix seconds of its last request (noted once a minute); 0: none since created.
    #[serde(default)]
    pub seen: i64,
}

/// One live session as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// A name for the session that is safe to show and post back (not its id).
    pub handle: String,
    pub info: SessionInfo,
    /// Unix seconds of its last request (as noted, once a minute).
    pub last_seen: i64,
}

/// The handle of session `sid`: a digest, so a page never shows a session id.
pub fn handle(sid: &str) -> String {
    let digest = Sha256::digest(format!("qqbind-session-handle:{sid}").as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Notes a new session of `user_id` (kept as long as the session may last).
pub async fn register(
    codes: &CodeStore,
    user_id: i32,
    sid: &str,
    info: &SessionInfo,
    lasts: Duration,
) -> Result<(), StoreError> {
    let value = serde_json::to_string(info).unwrap_or_default();
    codes
        .hset(&keys::sessions_of(user_id), sid, &value, lasts)
        .await
}

/// Notes that session `sid` was seen at `now` (once a minute: a read and a write).
pub async fn seen(
    codes: &CodeStore,
    user_id: i32,
    sid: &str,
    now: i64,
    lasts: Duration,
) -> Result<(), StoreError> {
    let key = keys::sessions_of(user_id);
    let Some(mut info) = codes
        .hgetall(&key)
        .await?
        .into_iter()
        .find(|(k, _)| k == sid)
        .and_then(|(_, v)| serde_json::from_str::<SessionInfo>(&v).ok())
    else {
        return Ok(());
    };
    info.seen = now;
    let value = serde_json::to_string(&info).unwrap_or_default();
    codes.hset(&key, sid, &value, lasts).await
}

/// The account's live sessions, newest first, each with its id (for the caller only).
async fn live(codes: &CodeStore, user_id: i32) -> Result<Vec<(String, LiveSession)>, StoreError> {
    let all = codes.hgetall(&keys::sessions_of(user_id)).await?;
    let mut out = Vec::new();
    for (sid, value) in all {
        let owner = codes.get(&keys::live_session(&sid)).await?;
        let info: Option<SessionInfo> = serde_json::from_str(&value).ok();
        match (owner, info) {
            (Some(o), Some(info)) if o == user_id.to_string() => {
                let last_seen = info.seen.max(info.created);
                out.push((
                    sid.clone(),
                    LiveSession {
                        handle: handle(&sid),
                        info,
                        last_seen,
                    },
                ));
            }
            _ => forget(codes, user_id, &sid).await?,
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.1.info.created));
    Ok(out)
}

/// The account's live sessions, newest first.
pub async fn list(codes: &CodeStore, user_id: i32) -> Result<Vec<LiveSession>, StoreError> {
    Ok(live(codes, user_id)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

/// Drops session `sid` from the account's list (it ended).
pub async fn forget(codes: &CodeStore, user_id: i32, sid: &str) -> Result<(), StoreError> {
    codes.hdel(&keys::sessions_of(user_id), sid).await
}

/// Ends the account's session named `handle`; false when there is none (ended already,
/// or not this account's).
pub async fn end(codes: &CodeStore, user_id: i32, handle: &str) -> Result<bool, StoreError> {
    for (sid, s) in live(codes, user_id).await? {
        if s.handle == handle {
            codes.delete(&keys::live_session(&sid)).await?;
            forget(codes, user_id, &sid).await?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Ends every session of the account but `keep` (its id); how many ended.
pub async fn end_all_but(
    codes: &CodeStore,
    user_id: i32,
    keep: Option<&str>,
) -> Result<usize, StoreError> {
    let mut ended = 0;
    for (sid, _) in live(codes, user_id).await? {
        if Some(sid.as_str()) != keep {
            codes.delete(&keys::live_session(&sid)).await?;
            forget(codes, user_id, &sid).await?;
            ended += 1;
        }
    }
    Ok(ended)
}

/// A person's words for a User-Agent: "iPhone · 微信", "Windows · Chrome".
pub fn device(ua: &str) -> String {
    let os = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("HarmonyOS", "HarmonyOS"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "Mac"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(m, _)| ua.contains(m))
    .map_or("未知设备", |(_, n)| n);
    // The apps' own browsers first: their User-Agents also name the engine's browser.
    let browser = [
        ("MicroMessenger", "微信"),
        ("__weibo__", "微博"),
        ("AlipayClient", "支付宝"),
        ("DingTalk", "钉钉"),
        ("baiduboxapp", "百度"),
        ("QQBrowser", "QQ浏览器"),
        (" QQ/", "QQ"),
        ("UCBrowser", "UC浏览器"),
        ("Quark/", "夸克"),
        ("HuaweiBrowser", "华为浏览器"),
        ("MiuiBrowser", "小米浏览器"),
        ("HeyTapBrowser", "OPPO浏览器"),
        ("VivoBrowser", "vivo浏览器"),
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(m, _)| ua.contains(m))
    .map_or("浏览器", |(_, n)| n);
    format!("{os} · {browser}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_as_people_say_them() {
        assert_eq!(device("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47"), "iPhone · 微信");
        assert_eq!(device("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"), "Windows · Chrome");
        assert_eq!(device("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15"), "Mac · Safari");
        assert_eq!(device(""), "未知设备 · 浏览器");
        // The browsers of the apps and makers Chinese customers use, not "Safari" or
        // "Chrome" for the engine they carry.
        for (ua, name) in [
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Weibo (iPhone14,2__weibo__13.1.3__iphone__os16.1)", "iPhone · 微博"),
            ("Mozilla/5.0 (Linux; U; Android 13; zh-CN; V2227A Build/TP1A.220624.014) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/16.3.0.1260 Mobile Safari/537.36", "Android · UC浏览器"),
            ("Mozilla/5.0 (Linux; U; Android 12; zh-cn; 22081212C Build/SKQ1.220303.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.127 Mobile Safari/537.36 XiaoMi/MiuiBrowser/17.2.70718", "Android · 小米浏览器"),
            ("Mozilla/5.0 (Linux; Android 10; HarmonyOS; NOH-AN00; HMSCore 6.11.0.302) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.1.303 Mobile Safari/537.36", "HarmonyOS · 华为浏览器"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Quark/6.9.1.2055 Mobile", "iPhone · 夸克"),
            ("Mozilla/5.0 (Linux; U; Android 13; zh-CN; PGZ110 Build/TP1A.220905.001) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 Mobile Safari/537.36 AlipayClient/10.5.36.8000 Language/zh-Hans", "Android · 支付宝"),
        ] {
            assert_eq!(device(ua), name, "{ua}");
        }
    }

    #[test]
    fn a_handle_names_its_session_and_hides_its_id() {
        let h = handle("0123456789abcdef");
        assert_eq!(h.len(), 16);
        assert_eq!(h, handle("0123456789abcdef"));
        assert_ne!(h, handle("0123456789abcdee"));
        assert!(!h.contains("0123456789"));
    }
}
