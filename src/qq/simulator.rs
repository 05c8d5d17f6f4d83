//! Dev mode's built-in QQ Connect (spec section 8): the simulated application and what
//! it has handed out (codes, tokens). Its HTTP face, under `/dev/qq/`, is
//! `web::routes::dev_qq`. The same nickname always gives the same openid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::config::random_hex;

const CODE_TTL: Duration = Duration::from_secs(600);
const TOKEN_TTL: Duration = Duration::from_secs(3600);
const MAX_ENTRIES: usize = 10_000;

struct Grant {
    nickname: String,
    /// An error the token endpoint answers for this code (the consent page's choice).
    fault: Option<String>,
    redirect_uri: String,
    issued: Instant,
    used: bool,
}

struct Token {
    nickname: String,
    issued: Instant,
}

/// The simulated application and what it has handed out.
#[derive(Clone)]
pub struct Simulator {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    grants: Arc<Mutex<HashMap<String, Grant>>>,
    tokens: Arc<Mutex<HashMap<String, Token>>>,
}

/// Why a code was not traded for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeem {
    /// Unknown or expired.
    Unknown,
    Used,
    /// Not the redirect_uri the code was issued for.
    Redirect,
    /// The consent page asked for this error.
    Fault(String),
}

impl Simulator {
    pub fn new(redirect_uri: String) -> Self {
        Self::app("100000001", redirect_uri)
    }

    /// A simulated application of any provider: its id, a fresh secret, its callback.
    pub fn app(client_id: &str, redirect_uri: String) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: random_hex(16),
            redirect_uri,
            grants: Arc::default(),
            tokens: Arc::default(),
        }
    }

    /// WeChat's ids for `nickname`: the openid in this application, and the unionid of
    /// the (simulated) Open Platform account, 28 characters starting with `o` each.
    pub fn wechat_ids(&self, nickname: &str) -> (String, String) {
        let id = |salt: &str| {
            let digest = Sha256::digest(format!("qqbind-simulator:{salt}:{nickname}"));
            let text =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, digest);
            format!("o{}", &text[..27])
        };
        (id(&self.client_id), id("wechat-open-platform"))
    }

    /// Weibo's uid for `nickname`: ten digits (a u64 past 2³²).
    pub fn weibo_uid(&self, nickname: &str) -> String {
        let digest = Sha256::digest(format!("qqbind-simulator:weibo:{nickname}"));
        let n = u64::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ]);
        format!("{}", 5_000_000_000 + n % 4_000_000_000)
    }

    /// The openid QQ would give this nickname in this application.
    pub fn openid_for(&self, nickname: &str) -> String {
        let digest = Sha256::digest(format!("qqbind-simulator:{}:{nickname}", self.client_id));
        hex::encode_upper(&digest[..16])
    }

    /// A fresh authorization code for `nickname`, valid for 10 minutes, once.
    pub fn issue_code(&self, nickname: &str, redirect_uri: &str) -> String {
        self.issue_code_with(nickname, redirect_uri, None)
    }

    /// [`Self::issue_code`], whose exchange answers `fault` instead of a token.
    pub fn issue_code_with(
        &self,
        nickname: &str,
        redirect_uri: &str,
        fault: Option<&str>,
    ) -> String {
        let code = random_hex(16).to_uppercase();
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        if grants.len() >= MAX_ENTRIES {
            grants.retain(|_, g| g.issued.elapsed() < CODE_TTL);
        }
        grants.insert(
            code.clone(),
            Grant {
                nickname: nickname.to_owned(),
                fault: fault.map(str::to_owned),
                redirect_uri: redirect_uri.to_owned(),
                issued: Instant::now(),
                used: false,
            },
        );
        code
    }

    /// Trades a code for an access token, or QQ's error (code, description).
    pub fn redeem_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<String, (i64, &'static str)> {
        self.redeem(code, Some(redirect_uri)).map_err(|e| match e {
            Redeem::Used => (100020, "code is reused error"),
            Redeem::Redirect => (100010, "redirect uri is illegal"),
            Redeem::Unknown | Redeem::Fault(_) => (100019, "code to access token error"),
        })
    }

    /// Trades a code for an access token, once; `redirect_uri` is checked when the
    /// provider sends one with the exchange (QQ, Weibo; WeChat does not).
    pub fn redeem(&self, code: &str, redirect_uri: Option<&str>) -> Result<String, Redeem> {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        let grant = grants
            .get_mut(code)
            .filter(|g| g.issued.elapsed() < CODE_TTL)
            .ok_or(Redeem::Unknown)?;
        if grant.used {
            return Err(Redeem::Used);
        }
        if redirect_uri.is_some_and(|r| r != grant.redirect_uri) {
            return Err(Redeem::Redirect);
        }
        grant.used = true;
        if let Some(fault) = grant.fault.clone() {
            return Err(Redeem::Fault(fault));
        }
        let nickname = grant.nickname.clone();
        drop(grants);

        let token = random_hex(16).to_uppercase();
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= MAX_ENTRIES {
            tokens.retain(|_, t| t.issued.elapsed() < TOKEN_TTL);
        }
        tokens.insert(
            token.clone(),
            Token {
                nickname,
                issued: Instant::now(),
            },
        );
        Ok(token)
    }

    /// Whose live access token `token` is.
    pub fn nickname_of(&self, token: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(token)
            .filter(|t| t.issued.elapsed() < TOKEN_TTL)
            .map(|t| t.nickname.clone())
    }
}
