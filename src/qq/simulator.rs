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

impl Simulator {
    pub fn new(redirect_uri: String) -> Self {
        Self {
            client_id: "100000001".to_owned(),
            client_secret: random_hex(16),
            redirect_uri,
            grants: Arc::default(),
            tokens: Arc::default(),
        }
    }

    /// The openid QQ would give this nickname in this application.
    pub fn openid_for(&self, nickname: &str) -> String {
        let digest = Sha256::digest(format!("qqbind-simulator:{}:{nickname}", self.client_id));
        hex::encode_upper(&digest[..16])
    }

    /// A fresh authorization code for `nickname`, valid for 10 minutes, once.
    pub fn issue_code(&self, nickname: &str, redirect_uri: &str) -> String {
        let code = random_hex(16).to_uppercase();
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        if grants.len() >= MAX_ENTRIES {
            grants.retain(|_, g| g.issued.elapsed() < CODE_TTL);
        }
        grants.insert(
            code.clone(),
            Grant {
                nickname: nickname.to_owned(),
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
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        let grant = grants
            .get_mut(code)
            .filter(|g| g.issued.elapsed() < CODE_TTL)
            .ok_or((100019, "code to access token error"))?;
        if grant.used {
            return Err((100020, "code is reused error"));
        }
        if grant.redirect_uri != redirect_uri {
            return Err((100010, "redirect uri is illegal"));
        }
        grant.used = true;
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
