//! `SMS_PROVIDER=tencent` against a local fake of Tencent Cloud's SendSms that checks the
//! TC3-HMAC-SHA256 signature itself (its own implementation, not the app's).

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use qqbind::codes::keys;
use qqbind::config::{Secret, SmsProviderKind, TencentSms};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::*;

const SECRET_ID: &str = "AKIDfake0123456789";
const SECRET_KEY: &str = "fake-tencent-secret-key-0123456789";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    DailyLimit,
}

#[derive(Clone)]
struct Gateway {
    url: String,
    mode: Arc<Mutex<Mode>>,
    /// Every request body that carried a valid signature.
    accepted: Arc<Mutex<Vec<Value>>>,
    refused_signatures: Arc<Mutex<usize>>,
}

fn hmac_bytes(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// What Tencent Cloud computes for a request, from the documentation's steps.
fn expected_signature(host: &str, timestamp: i64, date: &str, body: &str) -> String {
    let hashed = hex::encode(Sha256::digest(body.as_bytes()));
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:{host}\n\ncontent-type;host\n{hashed}"
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac_bytes(format!("TC3{SECRET_KEY}").as_bytes(), date);
    let k = hmac_bytes(&k, "sms");
    let k = hmac_bytes(&k, "tc3_request");
    hex::encode(hmac_bytes(&k, &to_sign))
}

fn error(code: &str) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({"Response": {"Error": {"Code": code, "Message": code}, "RequestId": "r-1"}}))
}

async fn send_sms(req: HttpRequest, body: String, gw: web::Data<Gateway>) -> HttpResponse {
    let h = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if h("x-tc-action") != "SendSms"
        || h("x-tc-version") != "2021-01-11"
        || h("x-tc-region") != "ap-guangzhou"
        || h("content-type") != "application/json; charset=utf-8"
    {
        return error("InvalidParameter");
    }
    let timestamp: i64 = h("x-tc-timestamp").parse().unwrap_or(0);
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return error("AuthFailure.SignatureExpire");
    }
    let date = chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let expected = format!(
        "TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/sms/tc3_request, SignedHeaders=content-type;host, Signature={}",
        expected_signature(&h("host"), timestamp, &date, &body)
    );
    if h("authorization") != expected {
        *gw.refused_signatures.lock().unwrap() += 1;
        return error("AuthFailure.SignatureFailure");
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    gw.accepted.lock().unwrap().push(v.clone());
    let code = match *gw.mode.lock().unwrap() {
        Mode::Ok => "Ok",
        Mode::DailyLimit => "LimitExceeded.PhoneNumberDailyLimit",
    };
    HttpResponse::Ok().json(json!({"Response": {"SendStatusSet": [{
        "SerialNo": "5000:1045710669157053657849499619", "PhoneNumber": v["PhoneNumberSet"][0],
        "Fee": 1, "SessionContext": "", "Code": code, "Message": "send success", "IsoCode": "CN"
    }], "RequestId": "r-2"}}))
}

impl Gateway {
    async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gw = Self {
            url: format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port()),
            mode: Arc::new(Mutex::new(Mode::Ok)),
            accepted: Arc::default(),
            refused_signatures: Arc::default(),
        };
        let data = web::Data::new(gw.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/", web::post().to(send_sms))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        gw
    }
}

async fn app_with_gateway(kind: Setup, gw: &Gateway, secret_key: &str) -> TestApp {
    let (endpoint, key) = (url::Url::parse(&gw.url).unwrap(), secret_key.to_owned());
    spawn_app_with(kind, move |s| {
        s.sms_provider = SmsProviderKind::Tencent(Box::new(TencentSms {
            secret_id: SECRET_ID.to_owned(),
            secret_key: Secret::new(key),
            sdk_app_id: "1400006666".to_owned(),
            sign_name: "qqbind商城".to_owned(),
            template_id: "1234567".to_owned(),
            region: "ap-guangzhou".to_owned(),
            endpoint,
        }));
    })
    .await
}

async fn send(app: &TestApp, mobile: &str) -> (u16, Value) {
    let b = app.browser();
    let id = uuid::Uuid::new_v4().to_string();
    let text = app.captcha(&b, &id).await;
    let r = b
        .get(&format!(
            "/sms_codes/{mobile}/?image_code={text}&image_code_id={id}"
        ))
        .await;
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn a_code_goes_out_through_the_signed_gateway(kind: Setup) {
    let gw = Gateway::start().await;
    let app = app_with_gateway(kind, &gw, SECRET_KEY).await;
    let (status, body) = send(&app, "13800138000").await;
    assert_eq!(
        (status, body["errmsg"].as_str()),
        (200, Some("发送短信成功"))
    );
    let accepted = gw.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 1);
    let sent = &accepted[0];
    assert_eq!(sent["PhoneNumberSet"], json!(["+8613800138000"]));
    assert_eq!(sent["SmsSdkAppId"], "1400006666");
    assert_eq!(sent["SignName"], "qqbind商城");
    assert_eq!(sent["TemplateId"], "1234567");
    let stored = app
        .codes()
        .get(&keys::sms("13800138000"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sent["TemplateParamSet"],
        json!([stored, "5"]),
        "the stored code went out"
    );
    // No dev outbox with a real gateway.
    assert_eq!(app.browser().get("/dev/sms/").await.status(), 404);
}

async fn a_gateway_refusal_is_a_clear_json_error_and_leaves_no_code(kind: Setup) {
    let gw = Gateway::start().await;
    *gw.mode.lock().unwrap() = Mode::DailyLimit;
    let app = app_with_gateway(kind, &gw, SECRET_KEY).await;
    let (status, body) = send(&app, "13800138000").await;
    assert_eq!(status, 502);
    assert_eq!(body["code"], "5001");
    assert_eq!(body["errmsg"], "短信发送失败，请稍后再试");
    assert!(app
        .codes()
        .get(&keys::sms("13800138000"))
        .await
        .unwrap()
        .is_none());
    assert!(
        app.codes()
            .get(&keys::send_flag("13800138000"))
            .await
            .unwrap()
            .is_none(),
        "no 60 s wait after a failure: the customer may ask again at once"
    );
    *gw.mode.lock().unwrap() = Mode::Ok;
    assert_eq!(send(&app, "13800138000").await.0, 200);
}

async fn a_wrong_secret_key_is_refused_by_the_gateway_and_reported(kind: Setup) {
    let gw = Gateway::start().await;
    let app = app_with_gateway(kind, &gw, "not-the-right-key-0123456789").await;
    let (status, body) = send(&app, "13800138000").await;
    assert_eq!(status, 502);
    assert_eq!(body["errmsg"], "短信发送失败，请稍后再试");
    assert_eq!(*gw.refused_signatures.lock().unwrap(), 1);
    assert!(gw.accepted.lock().unwrap().is_empty());
    assert!(app
        .codes()
        .get(&keys::sms("13800138000"))
        .await
        .unwrap()
        .is_none());
}

crate::all_setups!(
    a_code_goes_out_through_the_signed_gateway,
    a_gateway_refusal_is_a_clear_json_error_and_leaves_no_code,
    a_wrong_secret_key_is_refused_by_the_gateway_and_reported,
);
