//! The pieces of a browser test: Debian's chromium driven through chromedriver, the app in
//! dev mode (built-in QQ simulator) on a random loopback port, screenshots, console logs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use qqbind::codes::keys;
use qqbind::config::Settings;
use qqbind::startup::Application;
use qqbind::state::AppState;
use serde_json::json;

/// Browsers started at once (each is a chromium; the machine has two cores).
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    Desktop,
    Phone,
}

impl Viewport {
    pub const BOTH: [Self; 2] = [Self::Desktop, Self::Phone];

    fn size(self) -> (u32, u32) {
        match self {
            Self::Desktop => (1280, 800),
            Self::Phone => (390, 844),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Phone => "phone",
        }
    }
}

/// The app under test, in dev mode, with its state at hand (the test reads captchas from
/// its code store, as a person reads the picture).
pub struct App {
    pub base: String,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

impl App {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`App::start`] with settings changed by `tweak` (a short openid token, say).
    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e2e.db").to_string_lossy().into_owned();
        let mut settings = Settings::from_lookup(|name| match name {
            "DATABASE_URL" => Some(db.clone()),
            "QQBIND_LISTEN" => Some("127.0.0.1:0".to_owned()),
            _ => None,
        })
        .unwrap();
        settings.bcrypt_cost = 4;
        tweak(&mut settings);
        let app = Application::build(settings).await.unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        Self {
            base,
            state,
            _dir: dir,
        }
    }

    /// The captcha text behind `image_code_id`, once the browser has loaded the picture.
    pub async fn captcha(&self, image_code_id: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(text) = self
                .state
                .codes
                .get(&keys::image(image_code_id))
                .await
                .unwrap()
            {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "captcha never loaded"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn outbox(&self) -> String {
        reqwest::get(format!("{}/dev/sms/", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// How many codes the dev outbox `/dev/sms/` shows for `mobile`.
    pub async fn sms_count(&self, mobile: &str) -> usize {
        self.outbox()
            .await
            .matches(&format!("class=\"mobile\">{mobile}<"))
            .count()
    }

    /// The newest code sent to `mobile`, read from the dev outbox page `/dev/sms/`.
    pub async fn sms_from_outbox(&self, mobile: &str) -> String {
        let page = self.outbox().await;
        let row = page
            .split("<tr>")
            .find(|row| row.contains(&format!("class=\"mobile\">{mobile}<")))
            .unwrap_or_else(|| panic!("no SMS to {mobile} in the outbox"));
        let code = row.split("class=\"code\">").nth(1).unwrap();
        code[..6].to_owned()
    }

    /// An operator, as `qqbind createsuperuser` makes one.
    pub async fn create_superuser(&self, username: &str, mobile: &str, password: &str) {
        let names = qqbind::accounts::superuser_names(username, mobile).unwrap();
        let password = password.to_owned();
        self.state
            .db
            .write(move |c| {
                Ok(
                    qqbind::accounts::create_superuser(c, &names.0, &names.1, &password, 4)
                        .unwrap(),
                )
            })
            .await
            .unwrap();
    }

    /// An account made straight in the database, as registration would.
    pub async fn create_user(&self, username: &str, mobile: &str, password: &str) {
        let (u, m, hash) = (
            username.to_owned(),
            mobile.to_owned(),
            bcrypt::hash(password, 4).unwrap(),
        );
        self.state
            .db
            .write(move |c| {
                Ok(qqbind::db::users::insert(
                    c,
                    &qqbind::db::users::NewUser {
                        username: &u,
                        mobile: &m,
                        password: &hash,
                        nickname: "",
                        avatar_url: "",
                        is_staff: false,
                        is_active: true,
                        date_joined: qqbind::db::now(),
                    },
                )?)
            })
            .await
            .unwrap();
    }
}

/// chromedriver on a free loopback port, stopped on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    /// chromedriver on a free port, proven ours by its own start-up line; a port another
    /// process took meanwhile means another try on another port.
    fn start() -> Self {
        for _ in 0..5 {
            if let Some(driver) = Self::try_start() {
                return driver;
            }
        }
        panic!("chromedriver did not start (.ci/run installs chromium-driver)");
    }

    fn try_start() -> Option<Self> {
        use std::io::{BufRead, BufReader};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut driver = Self {
            child: Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver is installed (.ci/run installs chromium-driver)"),
            url: format!("http://127.0.0.1:{port}"),
        };
        let stdout = driver.child.stdout.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("started successfully") {
                    let _ = tx.send(());
                }
            }
        });
        // Dropped (and so killed) when it never says it listens, or when what answers on
        // 127.0.0.1 at that port is not it (it may have got only the IPv6 address).
        rx.recv_timeout(Duration::from_secs(20)).ok()?;
        is_chromedriver(port).then_some(driver)
    }
}

/// Whether `GET /status` on 127.0.0.1:`port` is answered by a WebDriver.
fn is_chromedriver(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("\"ready\"")
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver's log endpoint (`goog:loggingPrefs` turns it on).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// One headless chromium at one viewport, against one app.
pub struct Browser {
    pub client: Client,
    pub base: String,
    viewport: Viewport,
    scenario: &'static str,
    step: u32,
    _profile: tempfile::TempDir,
    _driver: ChromeDriver,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-screenshots")
}

impl Browser {
    pub async fn open(app: &App, viewport: Viewport, scenario: &'static str) -> Self {
        let slot = SLOTS.acquire().await.unwrap();
        let driver = ChromeDriver::start();
        let profile = tempfile::tempdir().unwrap();
        let (w, h) = viewport.size();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--lang=zh-CN", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                // The page's viewport exactly (a window's size would include its frame,
                // and a window cannot be narrower than 500 px).
                "mobileEmulation": {
                    "deviceMetrics": {
                        "width": w, "height": h, "pixelRatio": 1.0,
                        "mobile": viewport == Viewport::Phone,
                        "touch": viewport == Viewport::Phone,
                    },
                },
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("a chromium session at {}: {e}", driver.url));
        std::fs::create_dir_all(screenshot_dir()).unwrap();
        Self {
            client,
            base: app.base.clone(),
            viewport,
            scenario,
            step: 0,
            _profile: profile,
            _driver: driver,
            _slot: slot,
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits (up to 10 s) until the page's path is `path`.
    pub async fn wait_for_path(&self, path: &str) {
        let started = Instant::now();
        while self.path().await != path {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "still at {} instead of {path}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// The visible message in the element `css`, or `None` while it is hidden.
    pub async fn message(&self, css: &str) -> Option<String> {
        let e = self.find(css).await;
        if e.is_displayed().await.unwrap() {
            Some(e.text().await.unwrap().trim_start_matches("⚠ ").to_owned())
        } else {
            None
        }
    }

    /// Each `(css, message)` shows its message.
    pub async fn assert_messages(&self, expected: &[(&str, &str)]) {
        for (css, msg) in expected {
            assert_eq!(self.message(css).await.as_deref(), Some(*msg), "{css}");
        }
    }

    /// Waits (up to 10 s) for `css` to show `expected`.
    pub async fn wait_for_message(&self, css: &str, expected: &str) {
        let started = Instant::now();
        loop {
            // The page may be going to its next one meanwhile (a form submitted): an
            // element gone stale, or not there yet, is "not yet".
            let now = match self.client.find(Locator::Css(css)).await {
                Ok(e) => match e.is_displayed().await {
                    Ok(true) => e.text().await.ok(),
                    _ => None,
                },
                Err(_) => None,
            };
            if now.as_deref().map(|t| t.trim_start_matches("⚠ ")) == Some(expected) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{css} shows {:?}, not {expected:?}",
                self.message(css).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Marks the loaded page, so that [`Self::same_page`] tells whether a click navigated.
    pub async fn mark_page(&self) {
        self.client
            .execute("window.__e2e_mark = true", vec![])
            .await
            .unwrap();
    }

    /// Waits (up to 10 s) until the page marked by [`Self::mark_page`] has been left
    /// for another (a submit answered): a check right after a submit to the same URL
    /// would otherwise read the old page, or an element of it gone stale.
    pub async fn wait_for_new_page(&self) {
        let started = Instant::now();
        loop {
            // While the next page loads, the script may not run: that is "not yet".
            let marked = self
                .client
                .execute("return window.__e2e_mark === true", vec![])
                .await;
            if matches!(marked, Ok(v) if v != json!(true)) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the page was not left"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn same_page(&self) -> bool {
        self.client
            .execute("return window.__e2e_mark === true", vec![])
            .await
            .unwrap()
            == json!(true)
    }

    /// The labels of the charts in `css` that are drawn, even in part, outside their
    /// chart's box (the browser clips them): `"<text>" in #<chart id>`.
    pub async fn clipped_chart_labels(&self, css: &str) -> Vec<String> {
        let script = r#"
            var out = [];
            document.querySelectorAll(arguments[0]).forEach(function (svg) {
                var box = svg.viewBox.baseVal;
                svg.querySelectorAll("text").forEach(function (t) {
                    var b = t.getBBox();
                    if (b.x < box.x || b.y < box.y || b.x + b.width > box.x + box.width
                        || b.y + b.height > box.y + box.height) {
                        out.push('"' + t.textContent + '" in #' + svg.closest("section").id);
                    }
                });
            });
            return out;"#;
        let v = self.client.execute(script, vec![json!(css)]).await.unwrap();
        v.as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The id (or, without one, the text) of the element that has the focus.
    pub async fn focused(&self) -> String {
        self.client
            .execute(
                "var e = document.activeElement; return e.id || e.textContent.trim();",
                vec![],
            )
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Presses `keys` (WebDriver key codes: Tab is `\u{E004}`) on the focused element.
    pub async fn press(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(keys)
            .await
            .unwrap();
    }

    /// Reloads the page, as the browser's reload button does.
    pub async fn reload(&self) {
        self.client.refresh().await.unwrap();
    }

    /// The browser's Back button.
    pub async fn back(&self) {
        self.client.back().await.unwrap();
    }

    /// Leaves `css` the way a person does (Tab), so its blur check runs.
    pub async fn blur(&self, css: &str) {
        self.find(css).await.send_keys("\u{E004}").await.unwrap();
    }

    /// Saves `target/e2e-screenshots/<scenario>-<viewport>-<nn>-<step>.png` and fails on
    /// any console error the page logged since the last step.
    pub async fn step(&mut self, name: &str) {
        self.step_answered(name, None).await;
    }

    /// [`Self::step`] for a page the server refused with `status` on purpose (a form
    /// shown again with its messages): Chromium logs that status of the document itself
    /// as a console error; that one line is expected, nothing else is.
    pub async fn step_refused(&mut self, name: &str, status: u16) {
        self.step_answered(name, Some(status)).await;
    }

    async fn step_answered(&mut self, name: &str, refused: Option<u16>) {
        self.step += 1;
        let png = self.client.screenshot().await.unwrap();
        let file = screenshot_dir().join(format!(
            "{}-{}-{:02}-{name}.png",
            self.scenario,
            self.viewport.name(),
            self.step
        ));
        std::fs::write(&file, png).unwrap();
        let document = self.client.current_url().await.unwrap();
        let expected = refused.map(|status| {
            format!(
                "{} - Failed to load resource: the server responded with a status of {status} ",
                &document[..url::Position::AfterQuery]
            )
        });
        let log = self.client.issue_cmd(BrowserLog).await.unwrap();
        let errors: Vec<String> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .filter(|m| expected.as_ref().is_none_or(|x| !m.starts_with(x.as_str())))
            .collect();
        assert!(errors.is_empty(), "console errors at {name}: {errors:#?}");
    }

    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}
