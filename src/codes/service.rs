//! Issuing image captchas and sending SMS codes (spec section 5): the rules, once.

use rand::Rng;
use uuid::Uuid;

use super::sms::SmsProvider;
use super::{captcha, keys, CodeStore, Purpose, StoreError};
use crate::domain::Mobile;
use crate::fault::Unavailable;
use crate::limits;

/// A refused SMS request: each maps to the exact status, code and errmsg of the table.
#[derive(Debug, thiserror::Error)]
pub enum SendSmsError {
    #[error("缺少必传参数")]
    Missing,
    #[error("请输入正确的手机号码")]
    BadMobile,
    #[error("图形验证码失效")]
    ImageExpired,
    #[error("输入图形验证码有误")]
    ImageWrong,
    #[error("发送短信过于频繁")]
    TooFrequent,
    #[error("短信发送失败，请稍后再试")]
    Gateway,
    /// Too many codes sent from this client IP.
    #[error("{0}")]
    Limited(crate::limits::Limited),
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] Unavailable),
}

impl From<StoreError> for SendSmsError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.into())
    }
}

impl From<Unavailable> for SendSmsError {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable(e)
    }
}

/// A captcha that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImageCodeError {
    /// Not an id we could have issued (a UUID).
    #[error("无效的图形验证码编号")]
    BadId,
    #[error("captcha drawing failed")]
    Drawing,
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[source] crate::fault::Unavailable),
}

/// Makes a captcha for `image_code_id`, stores its text, returns the PNG.
pub async fn new_image_code(
    codes: &CodeStore,
    image_code_id: &str,
) -> Result<Vec<u8>, ImageCodeError> {
    let id = Uuid::parse_str(image_code_id).map_err(|_| ImageCodeError::BadId)?;
    let (text, png) = crate::telemetry::spawn_blocking(captcha::generate)
        .await
        .map_err(|e| ImageCodeError::Unavailable(e.into()))?
        .ok_or(ImageCodeError::Drawing)?;
    codes
        .set_ex(&keys::image(&id.to_string()), &text, keys::IMAGE_CODE_TTL)
        .await
        .map_err(|e| ImageCodeError::Unavailable(e.into()))?;
    Ok(png)
}

/// What a "获取短信验证码" request names: the mobile, the captcha answer, the purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmsRequest<'a> {
    pub mobile: &'a str,
    pub image_code: &'a str,
    pub image_code_id: &'a str,
    pub purpose: Purpose,
}

/// Whether a code is really sent to the mobile of an accepted request. The answer is
/// the same either way, so it tells nothing about who has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// Store the code and send it.
    Send,
    /// Nobody to send to (password recovery for a mobile with no account): set the send
    /// flag and keep a marker that no typed code can match, send nothing.
    Nobody,
}

/// Decides, once the captcha is right, who a code goes to (see [`Recipient`]).
pub type Recipients = Box<
    dyn FnOnce(
            Mobile,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Recipient, Unavailable>> + Send>,
        > + Send,
>;

/// Who gets a bind or register code: whoever asks (nothing to look up).
pub fn anyone() -> Recipients {
    Box::new(|_| Box::pin(async { Ok(Recipient::Send) }))
}

/// Checks the image code (one use) and sends a fresh 6-digit code to `mobile`, for the
/// client at `ip` (at most `limits::SMS_PER_IP` codes a window), as a bind or register
/// code.
pub async fn send_sms_code(
    codes: &CodeStore,
    sms: &SmsProvider,
    limits_on: bool,
    ip: &str,
    mobile: &str,
    image_code: &str,
    image_code_id: &str,
) -> Result<(), SendSmsError> {
    let request = SmsRequest {
        mobile,
        image_code,
        image_code_id,
        purpose: Purpose::Bind,
    };
    send_code(codes, sms, limits_on, ip, request, anyone()).await
}

/// [`send_sms_code`] for any purpose: `recipient` decides, once the captcha is right,
/// whether the code is really sent (see [`Recipient`]).
pub async fn send_code<F, Fut>(
    codes: &CodeStore,
    sms: &SmsProvider,
    limits_on: bool,
    ip: &str,
    request: SmsRequest<'_>,
    recipient: F,
) -> Result<(), SendSmsError>
where
    F: FnOnce(Mobile) -> Fut,
    Fut: std::future::Future<Output = Result<Recipient, Unavailable>>,
{
    let (mobile, image_code, image_code_id) = (
        request.mobile.trim(),
        request.image_code.trim(),
        request.image_code_id.trim(),
    );
    if mobile.is_empty() || image_code.is_empty() || image_code_id.is_empty() {
        return Err(SendSmsError::Missing);
    }
    let mobile = Mobile::parse(mobile).ok_or(SendSmsError::BadMobile)?;
    // Counted first (so a burst cannot pass the limit), given back when nothing is sent.
    let enabled = limits_on;
    limits::count_strict(codes, enabled, &limits::SMS_PER_IP, ip)
        .await
        .map_err(|e| match e {
            limits::Refused::Limited(l) => SendSmsError::Limited(l),
            limits::Refused::Unavailable(e) => SendSmsError::Unavailable(e.into()),
        })?;
    let sent = async {
        check_image_code(codes, image_code, image_code_id)
            .await
            .map_err(|e| match e {
                CaptchaError::Missing | CaptchaError::Expired => SendSmsError::ImageExpired,
                CaptchaError::Wrong => SendSmsError::ImageWrong,
                CaptchaError::Store(e) => SendSmsError::Unavailable(e.into()),
            })?;
        let to = recipient(mobile.clone()).await?;
        put_and_send(codes, sms, request.purpose, &mobile, to).await
    }
    .await;
    if sent.is_err() {
        limits::refund(codes, enabled, &limits::SMS_PER_IP, ip).await;
    }
    sent
}

/// Sends a code of `purpose` to a logged-in owner's own `mobile` (closing the account):
/// the login stands in for the captcha; the per-client limit and the 60 s flag hold.
pub async fn send_own_code(
    codes: &CodeStore,
    sms: &SmsProvider,
    limits_on: bool,
    ip: &str,
    mobile: &Mobile,
    purpose: Purpose,
) -> Result<(), SendSmsError> {
    limits::count_strict(codes, limits_on, &limits::SMS_PER_IP, ip)
        .await
        .map_err(|e| match e {
            limits::Refused::Limited(l) => SendSmsError::Limited(l),
            limits::Refused::Unavailable(e) => SendSmsError::Unavailable(e.into()),
        })?;
    let sent = put_and_send(codes, sms, purpose, mobile, Recipient::Send).await;
    if sent.is_err() {
        limits::refund(codes, limits_on, &limits::SMS_PER_IP, ip).await;
    }
    sent
}

/// What is kept for a request with nobody to send to: not six digits, so no typed code
/// matches it (a typed code is trimmed; this one has no digits at all).
pub const NOBODY_MARKER: &str = "-nobody-";

async fn put_and_send(
    codes: &CodeStore,
    sms: &SmsProvider,
    purpose: Purpose,
    mobile: &Mobile,
    to: Recipient,
) -> Result<(), SendSmsError> {
    let code = match to {
        Recipient::Send => format!("{:06}", rand::thread_rng().gen_range(0..1_000_000)),
        Recipient::Nobody => NOBODY_MARKER.to_owned(),
    };
    if !codes.put_code(purpose, mobile.as_str(), &code).await? {
        return Err(SendSmsError::TooFrequent);
    }
    if to == Recipient::Nobody {
        return Ok(());
    }
    if let Err(e) = sms.send_code(mobile.as_str(), &code).await {
        tracing::error!(error = %e, mobile = %mobile.masked(), "SMS send failed");
        // Leave nothing behind: the user may ask again at once.
        let _ = codes.delete(&purpose.code_key(mobile.as_str())).await;
        let _ = codes.delete(&purpose.flag_key(mobile.as_str())).await;
        return Err(SendSmsError::Gateway);
    }
    Ok(())
}

/// Seconds until `mobile` may be sent another code for `purpose` (0: now). Read from the
/// store's send flag, so a page rendered after a reload counts down from the truth.
pub async fn resend_wait(codes: &CodeStore, purpose: Purpose, mobile: &Mobile) -> u64 {
    match codes.ttl(&purpose.flag_key(mobile.as_str())).await {
        Ok(Some(left)) => left.as_secs() + u64::from(left.subsec_millis() > 0),
        _ => 0,
    }
}

/// A refused image captcha answer.
#[derive(Debug, thiserror::Error)]
pub enum CaptchaError {
    /// Asked for (the account is under attack) but not given.
    #[error("请输入图形验证码")]
    Missing,
    #[error("图形验证码失效")]
    Expired,
    #[error("输入图形验证码有误")]
    Wrong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks an answer to the captcha `image_code_id`, using the captcha up (one try per
/// picture, right or wrong), case-insensitively.
pub async fn check_image_code(
    codes: &CodeStore,
    image_code: &str,
    image_code_id: &str,
) -> Result<(), CaptchaError> {
    let (image_code, image_code_id) = (image_code.trim(), image_code_id.trim());
    if image_code.is_empty() || image_code_id.is_empty() {
        return Err(CaptchaError::Missing);
    }
    // Only ids we could have issued are looked up (keeps junk out of the key space).
    let id = Uuid::parse_str(image_code_id).map_err(|_| CaptchaError::Expired)?;
    let stored = codes
        .take(&keys::image(&id.to_string()))
        .await?
        .ok_or(CaptchaError::Expired)?;
    if !stored.eq_ignore_ascii_case(image_code) {
        return Err(CaptchaError::Wrong);
    }
    Ok(())
}

/// What a form or an API body gave for the image captcha; checked at most once per
/// request, however many rules ask for it.
#[derive(Debug, Default)]
pub struct CaptchaAnswer {
    pub image_code: String,
    pub image_code_id: String,
    passed: bool,
}

impl CaptchaAnswer {
    pub fn new(image_code: &str, image_code_id: &str) -> Self {
        Self {
            image_code: image_code.to_owned(),
            image_code_id: image_code_id.to_owned(),
            passed: false,
        }
    }

    /// Checks the answer (using the captcha up); once passed, passes again for free.
    pub async fn verify(&mut self, codes: &CodeStore) -> Result<(), CaptchaError> {
        if !self.passed {
            check_image_code(codes, &self.image_code, &self.image_code_id).await?;
            self.passed = true;
        }
        Ok(())
    }
}

/// A refused SMS code (the seed's two messages).
#[derive(Debug, thiserror::Error)]
pub enum SmsCodeError {
    /// None was sent to this mobile, it expired, or it was used up.
    #[error("无效的短信验证码")]
    Missing,
    #[error("输入短信验证码有误")]
    Wrong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `code` against the one sent to `mobile` without using it up. Wrong guesses
/// are counted: the fifth kills the code, so six digits cannot be walked.
pub async fn check_sms_code(
    codes: &CodeStore,
    purpose: Purpose,
    mobile: &Mobile,
    code: &str,
) -> Result<(), SmsCodeError> {
    let key = purpose.code_key(mobile.as_str());
    let stored = codes.get(&key).await?.ok_or(SmsCodeError::Missing)?;
    if stored == code.trim() && stored != NOBODY_MARKER {
        return Ok(());
    }
    let tries = codes
        .incr(&purpose.tries_key(mobile.as_str()), keys::SMS_CODE_TTL)
        .await?;
    if tries >= keys::SMS_MAX_TRIES {
        codes.delete(&key).await?;
    }
    Err(SmsCodeError::Wrong)
}

/// Uses the code up, atomically: of two racing requests only one gets `Ok`.
pub async fn consume_sms_code(
    codes: &CodeStore,
    purpose: Purpose,
    mobile: &Mobile,
    code: &str,
) -> Result<(), SmsCodeError> {
    if code.trim() == NOBODY_MARKER
        || !codes
            .take_if_equals(&purpose.code_key(mobile.as_str()), code.trim())
            .await?
    {
        return Err(SmsCodeError::Missing);
    }
    // Best effort: the counter expires by itself anyway.
    let _ = codes.delete(&purpose.tries_key(mobile.as_str())).await;
    Ok(())
}

/// Puts back a code used up by a bind whose write then failed (a lock, the database
/// down): nothing was bound, so the customer may submit the same code again.
pub async fn restore_sms_code(
    codes: &CodeStore,
    purpose: Purpose,
    mobile: &Mobile,
    code: &str,
    left: std::time::Duration,
) {
    let key = purpose.code_key(mobile.as_str());
    if let Err(e) = codes.set_ex(&key, code.trim(), left).await {
        tracing::warn!(error = %e, mobile = %mobile.masked(), "SMS code could not be put back");
    }
}

/// Shown under the SMS field once a code is on its way.
pub const SMS_SENT_NOTICE: &str = "短信验证码已发送，5分钟内有效";
