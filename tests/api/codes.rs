//! `/image_codes/<uuid>/` and `/sms_codes/<mobile>/` (spec section 5).

use std::time::Duration;

use qqbind::codes::keys;

use crate::helpers::*;

const MOBILE: &str = "13800138000";

/// `GET /sms_codes/<mobile>/?image_code=&image_code_id=`: (status, code, errmsg).
async fn sms_request(
    b: &Browser,
    mobile: &str,
    image_code: &str,
    image_code_id: &str,
) -> (u16, String, String) {
    let r = b
        .get(&format!(
            "/sms_codes/{mobile}/?image_code={image_code}&image_code_id={image_code_id}"
        ))
        .await;
    json_of(r).await
}

fn answer(status: u16, code: &str, errmsg: &str) -> (u16, String, String) {
    (status, code.to_owned(), errmsg.to_owned())
}

async fn json_of(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    (
        status,
        v["code"].as_str().unwrap().to_owned(),
        v["errmsg"].as_str().unwrap().to_owned(),
    )
}

async fn an_image_code_is_a_png_of_four_characters_kept_300_seconds(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    let r = b.get(&format!("/image_codes/{id}/")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let png = r.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let text = app.codes().get(&keys::image(&id)).await.unwrap().unwrap();
    assert_eq!(text.chars().count(), 4);
    let ttl = app.codes().ttl(&keys::image(&id)).await.unwrap().unwrap();
    assert!(
        ttl <= Duration::from_secs(300) && ttl > Duration::from_secs(290),
        "{ttl:?}"
    );
}

async fn an_image_code_id_that_is_not_a_uuid_is_400(kind: Setup) {
    let app = spawn_app(kind).await;
    let r = app.browser().get("/image_codes/not-a-uuid/").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("无效的图形验证码编号"));
}

async fn a_right_image_code_sends_an_sms_code(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    // Case-insensitive.
    assert_eq!(
        sms_request(&b, MOBILE, &text.to_lowercase(), &id).await,
        answer(200, "0", "发送短信成功")
    );
    let code = app.codes().get(&keys::sms(MOBILE)).await.unwrap().unwrap();
    assert!(
        code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(
        app.codes()
            .get(&keys::send_flag(MOBILE))
            .await
            .unwrap()
            .as_deref(),
        Some("1")
    );
    let sms_ttl = app.codes().ttl(&keys::sms(MOBILE)).await.unwrap().unwrap();
    let flag_ttl = app
        .codes()
        .ttl(&keys::send_flag(MOBILE))
        .await
        .unwrap()
        .unwrap();
    assert!(sms_ttl > Duration::from_secs(290) && sms_ttl <= Duration::from_secs(300));
    assert!(flag_ttl > Duration::from_secs(50) && flag_ttl <= Duration::from_secs(60));
    assert_eq!(
        app.codes().get(&keys::image(&id)).await.unwrap(),
        None,
        "image code used up"
    );
    assert_eq!(
        app.sent_sms(MOBILE),
        Some(code),
        "the SMS provider got the code"
    );
    // With QQ_CLIENT_ID set, the outbox is never a page.
    assert_eq!(b.get("/dev/sms/").await.status(), 404);
}

async fn missing_parameters_are_4003(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    for q in [
        format!("?image_code_id={id}"),
        "?image_code=abcd".to_owned(),
        "".to_owned(),
        format!("?image_code=&image_code_id={id}"),
    ] {
        let r = b.get(&format!("/sms_codes/{MOBILE}/{q}")).await;
        assert_eq!(json_of(r).await, answer(400, "4003", "缺少必传参数"), "{q}");
    }
    assert_nothing_sent(&app, MOBILE).await;
}

/// No code stored, no send flag set.
async fn assert_nothing_sent(app: &TestApp, mobile: &str) {
    assert_eq!(app.codes().get(&keys::sms(mobile)).await.unwrap(), None);
    assert_eq!(
        app.codes().get(&keys::send_flag(mobile)).await.unwrap(),
        None
    );
}

async fn a_malformed_mobile_is_4007(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    for m in ["12800138000", "1380013800", "abc", "%E6%89%8B%E6%9C%BA"] {
        assert_eq!(
            sms_request(&b, m, "abcd", &id).await,
            answer(400, "4007", "请输入正确的手机号码"),
            "{m}"
        );
    }
    assert_nothing_sent(&app, "12800138000").await;
}

async fn an_unknown_or_used_image_code_is_expired(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        assert_eq!(
            sms_request(&b, MOBILE, "abcd", &id).await,
            answer(400, "4001", "图形验证码失效")
        );
    }
    assert_nothing_sent(&app, MOBILE).await;
}

async fn a_wrong_image_code_is_refused_and_used_up(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    assert_eq!(
        sms_request(&b, MOBILE, "zzzz", &id).await,
        answer(400, "4001", "输入图形验证码有误")
    );
    // One use: the right answer afterwards is too late.
    assert_eq!(
        sms_request(&b, MOBILE, &text, &id).await,
        answer(400, "4001", "图形验证码失效")
    );
    assert_nothing_sent(&app, MOBILE).await;
}

async fn a_second_sms_within_60_seconds_is_429(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let first = app.request_sms_code(&b, MOBILE).await;
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    assert_eq!(
        sms_request(&b, MOBILE, &text, &id).await,
        answer(429, "4002", "发送短信过于频繁")
    );
    assert_eq!(
        app.codes().get(&keys::sms(MOBILE)).await.unwrap(),
        Some(first),
        "first code kept"
    );
}

async fn one_image_code_cannot_send_two_messages_even_when_racing(kind: Setup) {
    let app = spawn_app(kind).await;
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    let urls: Vec<String> = ["13800000001", "13800000002", "13800000003", "13800000004"]
        .iter()
        .map(|m| format!("/sms_codes/{m}/?image_code={text}&image_code_id={id}"))
        .collect();
    let results = futures::future::join_all(urls.iter().map(|u| b.get(u))).await;
    assert_eq!(results.iter().filter(|r| r.status() == 200).count(), 1);
}

crate::all_setups!(
    an_image_code_is_a_png_of_four_characters_kept_300_seconds,
    an_image_code_id_that_is_not_a_uuid_is_400,
    a_right_image_code_sends_an_sms_code,
    missing_parameters_are_4003,
    a_malformed_mobile_is_4007,
    an_unknown_or_used_image_code_is_expired,
    a_wrong_image_code_is_refused_and_used_up,
    a_second_sms_within_60_seconds_is_429,
    one_image_code_cannot_send_two_messages_even_when_racing,
);
