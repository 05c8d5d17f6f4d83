//! Tencent Cloud SMS: `SendSms` (API version 2021-01-11), signed with TC3-HMAC-SHA256
//! (Tencent Cloud API v3 signing), composed from `hmac` + `sha2`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::sms::SmsError;
use crate::config::TencentSms;

const SERVICE: &str = "sms";
const ACTION: &str = "SendSms";
const VERSION: &str = "2021-01-11";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// The code's lifetime as the message tells it (`sms_<mobile>` lives 300 s).
const MINUTES: &str = "5";

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

/// The UTC date of `timestamp`, as the credential scope names it.
fn utc_date(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// The TC3-HMAC-SHA256 signature of a JSON POST to `/` of `host` at `timestamp`.
pub fn signature(
    secret_key: &str,
    service: &str,
    host: &str,
    timestamp: i64,
    payload: &str,
) -> String {
    let date = utc_date(timestamp);
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\n\ncontent-type;host\n{}",
        sha256_hex(payload)
    );
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        sha256_hex(&canonical_request)
    );
    let secret_date = hmac(format!("TC3{secret_key}").as_bytes(), &date);
    let secret_service = hmac(&secret_date, service);
    let secret_signing = hmac(&secret_service, "tc3_request");
    hex::encode(hmac(&secret_signing, &string_to_sign))
}

/// The `Authorization` header for that request.
pub fn authorization(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    host: &str,
    timestamp: i64,
    payload: &str,
) -> String {
    let date = utc_date(timestamp);
    format!(
        "TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/tc3_request, \
         SignedHeaders=content-type;host, Signature={}",
        signature(secret_key, service, host, timestamp, payload)
    )
}

#[derive(Clone)]
pub struct TencentProvider {
    http: reqwest::Client,
    cfg: TencentSms,
}

impl TencentProvider {
    pub fn new(cfg: TencentSms) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { http, cfg }
    }

    /// Sends `code` to `mobile` (+86). The error says what the gateway said, never the
    /// code or a key.
    pub async fn send(&self, mobile: &str, code: &str) -> Result<(), SmsError> {
        let host = match (self.cfg.endpoint.host_str(), self.cfg.endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(SmsError("endpoint without a host".into())),
        };
        let payload = json!({
            "PhoneNumberSet": [format!("+86{mobile}")],
            "SmsSdkAppId": self.cfg.sdk_app_id,
            "SignName": self.cfg.sign_name,
            "TemplateId": self.cfg.template_id,
            "TemplateParamSet": [code, MINUTES],
        })
        .to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let auth = authorization(
            &self.cfg.secret_id,
            self.cfg.secret_key.expose(),
            SERVICE,
            &host,
            timestamp,
            &payload,
        );
        let resp = self
            .http
            .post(self.cfg.endpoint.clone())
            .header("Authorization", auth)
            .header("Content-Type", CONTENT_TYPE)
            .header("Host", &host)
            .header("X-TC-Action", ACTION)
            .header("X-TC-Version", VERSION)
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Region", &self.cfg.region)
            .body(payload)
            .send()
            .await
            .map_err(|e| SmsError(format!("request failed: {}", e.without_url())))?;
        let status = resp.status();
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|_| SmsError(format!("HTTP {status}, not a Tencent Cloud answer")))?;
        let r = &body["Response"];
        if let Some(err) = r.get("Error") {
            return Err(SmsError(format!(
                "{}: {}",
                err["Code"].as_str().unwrap_or("?"),
                err["Message"].as_str().unwrap_or("")
            )));
        }
        match r["SendStatusSet"][0]["Code"].as_str() {
            Some("Ok") => Ok(()),
            Some(other) => Err(SmsError(format!("not sent: {other}"))),
            None => Err(SmsError(format!("HTTP {status}, no send status"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's "签名方法 v3" documentation (CVM
    /// DescribeInstances at 1551113065, with the documentation's placeholder key).
    #[test]
    fn the_documentations_example_signs_as_documented() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        assert_eq!(
            sha256_hex(payload),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        let sig = signature(
            "Gu5t9xGARNpq86cd98joQYCN3*******",
            "cvm",
            "cvm.tencentcloudapi.com",
            1_551_113_065,
            payload,
        );
        assert_eq!(
            sig,
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
        let auth = authorization(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            "Gu5t9xGARNpq86cd98joQYCN3*******",
            "cvm",
            "cvm.tencentcloudapi.com",
            1_551_113_065,
            payload,
        );
        assert_eq!(
            auth,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }
}
