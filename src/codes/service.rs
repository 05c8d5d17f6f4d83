//! Issuing image captchas and sending SMS codes (spec section 5): the rules, once.

use rand::Rng;
use uuid::Uuid;

use super::{captcha, keys, StoreError};
use crate::domain::Mobile;
use crate::error::AppError;
use crate::state::AppState;

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
    #[error("服务暂时不可用，请稍后再试")]
    Unavailable(#[from] StoreError),
}

impl SendSmsError {
    /// `(HTTP status, code)` as in the spec's table.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            Self::Missing => (400, "4003"),
            Self::BadMobile => (400, "4007"),
            Self::ImageExpired | Self::ImageWrong => (400, "4001"),
            Self::TooFrequent => (429, "4002"),
            Self::Gateway => (502, "5001"),
            Self::Unavailable(_) => (503, "5000"),
        }
    }
}

/// Makes a captcha for `image_code_id`, stores its text, returns the PNG.
pub async fn new_image_code(state: &AppState, image_code_id: &str) -> Result<Vec<u8>, AppError> {
    let id = Uuid::parse_str(image_code_id)
        .map_err(|_| AppError::BadRequest("无效的图形验证码编号".into()))?;
    let (text, png) = actix_web::web::block(captcha::generate)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(|| AppError::internal("captcha generation failed"))?;
    state
        .codes
        .set_ex(&keys::image(&id.to_string()), &text, keys::IMAGE_CODE_TTL)
        .await?;
    Ok(png)
}

/// Checks the image code (one use) and sends a fresh 6-digit code to `mobile`.
pub async fn send_sms_code(
    state: &AppState,
    mobile: &str,
    image_code: &str,
    image_code_id: &str,
) -> Result<(), SendSmsError> {
    let (mobile, image_code, image_code_id) =
        (mobile.trim(), image_code.trim(), image_code_id.trim());
    if mobile.is_empty() || image_code.is_empty() || image_code_id.is_empty() {
        return Err(SendSmsError::Missing);
    }
    let mobile = Mobile::parse(mobile).ok_or(SendSmsError::BadMobile)?;
    // Only ids we could have issued are looked up (keeps junk out of the key space).
    let id = Uuid::parse_str(image_code_id).map_err(|_| SendSmsError::ImageExpired)?;
    let stored = state
        .codes
        .take(&keys::image(&id.to_string()))
        .await?
        .ok_or(SendSmsError::ImageExpired)?;
    if !stored.eq_ignore_ascii_case(image_code) {
        return Err(SendSmsError::ImageWrong);
    }

    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
    if !state.codes.put_sms_code(mobile.as_str(), &code).await? {
        return Err(SendSmsError::TooFrequent);
    }
    if let Err(e) = state.sms.send_code(mobile.as_str(), &code).await {
        tracing::error!(error = %e, mobile = %mobile.masked(), "SMS send failed");
        // Leave nothing behind: the user may ask again at once.
        let _ = state.codes.delete(&keys::sms(mobile.as_str())).await;
        let _ = state.codes.delete(&keys::send_flag(mobile.as_str())).await;
        return Err(SendSmsError::Gateway);
    }
    Ok(())
}
