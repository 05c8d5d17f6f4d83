//! A fake QQ Connect on a random loopback port that can answer anything QQ might.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;

use super::*;

// ---------------------------------------------------------------- fake QQ

/// What the fake QQ's token endpoint answers.
#[derive(Debug, Clone)]
pub enum TokenReply {
    QueryString,
    Json,
    JsonpError,
    PlainJsonError,
    CodeMsgError,
    Garbage,
    Http500,
    Redirect,
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub enum MeReply {
    Jsonp,
    JsonpError,
    WrongClientId,
    Garbage,
    BadOpenId,
}

#[derive(Debug, Clone)]
pub enum InfoReply {
    Ok,
    Error,
    Garbage,
}

#[derive(Debug)]
pub struct FakeQqState {
    pub token: TokenReply,
    pub me: MeReply,
    pub info: InfoReply,
    pub token_calls: usize,
    pub last_redirect_uri: Option<String>,
    pub last_client_secret: Option<String>,
    /// Whether the last `/me` asked for the unionid (`unionid=1`).
    pub me_asked_unionid: bool,
}

/// A QQ Connect look-alike on a random loopback port. A code `code-<openid>` gives the
/// token `tok-<openid>`, which `/me` turns into `<openid>`.
pub struct FakeQq {
    pub url: String,
    pub state: Arc<Mutex<FakeQqState>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeQq {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeQqState {
            token: TokenReply::QueryString,
            me: MeReply::Jsonp,
            info: InfoReply::Ok,
            token_calls: 0,
            last_redirect_uri: None,
            last_client_secret: None,
            me_asked_unionid: false,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/oauth2.0/token", web::get().to(fake_token))
                .route("/oauth2.0/me", web::get().to(fake_me))
                .route("/user/get_user_info", web::get().to(fake_info))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    pub fn set_token(&self, r: TokenReply) {
        self.state.lock().unwrap().token = r;
    }
    pub fn set_me(&self, r: MeReply) {
        self.state.lock().unwrap().me = r;
    }
    pub fn set_info(&self, r: InfoReply) {
        self.state.lock().unwrap().info = r;
    }
    pub fn token_calls(&self) -> usize {
        self.state.lock().unwrap().token_calls
    }
}

impl Drop for FakeQq {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

#[derive(Deserialize)]
struct TokenQ {
    code: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    grant_type: Option<String>,
}

fn html(body: impl Into<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html")
        .body(body.into())
}

async fn fake_token(s: web::Data<Arc<Mutex<FakeQqState>>>, q: web::Query<TokenQ>) -> HttpResponse {
    let reply = {
        let mut st = s.lock().unwrap();
        st.token_calls += 1;
        st.last_redirect_uri = q.redirect_uri.clone();
        st.last_client_secret = q.client_secret.clone();
        st.token.clone()
    };
    let openid = q
        .code
        .as_deref()
        .and_then(|c| c.strip_prefix("code-"))
        .unwrap_or("");
    let valid = !openid.is_empty()
        && q.client_id.as_deref() == Some(CLIENT_ID)
        && q.client_secret.as_deref() == Some(CLIENT_SECRET)
        && q.redirect_uri.as_deref() == Some(REDIRECT_URI)
        && q.grant_type.as_deref() == Some("authorization_code");
    if !valid {
        return html("callback( {\"error\":100019,\"error_description\":\"code to access token error\"} );\n");
    }
    match reply {
        TokenReply::QueryString => html(format!(
            "access_token=tok-{openid}&expires_in=7776000&refresh_token=ref-{openid}"
        )),
        TokenReply::Json => html(format!(
            r#"{{"access_token":"tok-{openid}","expires_in":"5184000","refresh_token":"ref-{openid}"}}"#
        )),
        TokenReply::JsonpError => {
            html("callback( {\"error\":100020,\"error_description\":\"code is reused error\"} );\n")
        }
        TokenReply::PlainJsonError => {
            html(r#"{"error":100019,"error_description":"code to access token error"}"#)
        }
        TokenReply::CodeMsgError => html("code=100010&msg=redirect%20uri%20is%20illegal"),
        TokenReply::Garbage => html("<html><body>502 Bad Gateway</body></html>"),
        TokenReply::Http500 => HttpResponse::InternalServerError().body("oops"),
        TokenReply::Redirect => HttpResponse::Found()
            .insert_header(("Location", "http://127.0.0.1:9/elsewhere"))
            .finish(),
        TokenReply::Slow(d) => {
            tokio::time::sleep(d).await;
            html(format!("access_token=tok-{openid}&expires_in=7776000"))
        }
    }
}

#[derive(Deserialize)]
struct MeQ {
    access_token: Option<String>,
    unionid: Option<String>,
}

async fn fake_me(s: web::Data<Arc<Mutex<FakeQqState>>>, q: web::Query<MeQ>) -> HttpResponse {
    let reply = {
        let mut st = s.lock().unwrap();
        st.me_asked_unionid = q.unionid.as_deref() == Some("1");
        st.me.clone()
    };
    let asked = q.unionid.as_deref() == Some("1");
    let Some(openid) = q
        .access_token
        .as_deref()
        .and_then(|t| t.strip_prefix("tok-"))
    else {
        return html("callback( {\"error\":100016,\"error_description\":\"access token check failed\",} );\n");
    };
    match reply {
        MeReply::Jsonp if asked => html(format!(
            "callback( {{\"client_id\":\"{CLIENT_ID}\",\"openid\":\"{openid}\",\"unionid\":\"UID_{openid}\"}} );\n"
        )),
        MeReply::Jsonp => html(format!(
            "callback( {{\"client_id\":\"{CLIENT_ID}\",\"openid\":\"{openid}\"}} );\n"
        )),
        MeReply::JsonpError => html("callback( {\"error\":100016,\"error_description\":\"access token check failed\",} );\n"),
        MeReply::WrongClientId => html(format!(
            "callback( {{\"client_id\":\"999\",\"openid\":\"{openid}\"}} );\n"
        )),
        MeReply::Garbage => html("callback( not json );"),
        MeReply::BadOpenId => html(format!(
            "callback( {{\"client_id\":\"{CLIENT_ID}\",\"openid\":\"<script>x</script>\"}} );\n"
        )),
    }
}

#[derive(Deserialize)]
struct InfoQ {
    openid: Option<String>,
}

async fn fake_info(s: web::Data<Arc<Mutex<FakeQqState>>>, q: web::Query<InfoQ>) -> HttpResponse {
    let reply = s.lock().unwrap().info.clone();
    match reply {
        InfoReply::Ok => html(format!(
            r#"{{"ret":0,"msg":"","nickname":"QQ用户{}","gender":"男","figureurl_qq_1":"http://thirdqq.qlogo.cn/40","figureurl_qq_2":"http://thirdqq.qlogo.cn/100","vip":"0"}}"#,
            &q.openid
                .clone()
                .unwrap_or_default()
                .chars()
                .take(4)
                .collect::<String>()
        )),
        InfoReply::Error => html(r#"{"ret":-23,"msg":"token is invalid"}"#),
        InfoReply::Garbage => html("}{"),
    }
}
