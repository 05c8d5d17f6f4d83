//! End-to-end: a person's journeys in headless Chromium (through chromedriver) against the
//! app in dev mode, at desktop (1280×800) and phone (390×844) size. Every step saves a
//! screenshot under `target/e2e-screenshots/` and fails on any console error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod console;
mod driver;
mod journeys;
mod providers;

use driver::{App, Browser, Viewport};

const PASSWORD: &str = "abcd1234";

fn mobile_for(viewport: Viewport, n: u32) -> String {
    let v = match viewport {
        Viewport::Desktop => 1,
        Viewport::Phone => 2,
    };
    format!("1390000{v}{n:03}")
}

/// From the login page through the simulator to the bind form, as `nickname`.
async fn qq_login_to_bind_form(b: &mut Browser, next: &str, nickname: &str) {
    b.goto(&format!("/login/?next={next}")).await;
    b.find("a.btn-qq").await;
    b.step("login").await;
    b.click("a.btn-qq").await;
    b.fill("#nickname", nickname).await;
    b.step("qq-consent").await;
    b.click("button.btn-qq").await;
    b.find("#bind-form").await;
}

/// Types the captcha (read from the code store) and presses "获取短信验证码"; returns the
/// code from the dev outbox.
async fn get_sms_code(b: &mut Browser, app: &App, mobile: &str) -> String {
    let id = b.value("#image_code_id").await;
    let text = app.captcha(&id).await;
    b.fill("#image_code", &text).await;
    b.click("#send-sms").await;
    b.wait_for_message("#sms-notice", "短信验证码已发送，5分钟内有效")
        .await;
    b.step("sms-sent").await;
    app.sms_from_outbox(mobile).await
}

async fn header_username(b: &Browser) -> Option<String> {
    if b.exists(".user-nav .hello em").await {
        Some(b.text(".user-nav .hello em").await)
    } else {
        None
    }
}

/// Scenarios 1, 2 and 6: a new customer binds a new account through QQ and lands on
/// `next`; comes back through QQ straight in; logs out and the header forgets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_customer_binds_comes_back_straight_in_and_logs_out() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "new-customer").await;
        let mobile = mobile_for(vp, 1);
        let nickname = format!("小明-{}", vp.name());
        qq_login_to_bind_form(&mut b, "/info/", &nickname).await;
        assert!(
            b.text("h1").await.contains(&nickname),
            "greeted by QQ nickname"
        );
        b.step("bind-form").await;

        b.fill("#mobile", &mobile).await;
        b.fill("#password", PASSWORD).await;
        let code = get_sms_code(&mut b, &app, &mobile).await;
        b.fill("#sms_code", &code).await;
        b.step("bind-filled").await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_path("/info/").await;
        let binding = b.text("#qq-binding").await;
        assert!(
            binding.contains("已绑定QQ") && binding.contains(&nickname),
            "{binding}"
        );
        assert_eq!(header_username(&b).await.as_deref(), Some(mobile.as_str()));
        b.step("info-bound").await;

        // 6: log out; the header's username goes.
        b.click("form[action='/logout/'] button").await;
        b.wait_for_path("/login/").await;
        assert_eq!(header_username(&b).await, None);
        assert!(b.exists(".user-nav a[href='/login/']").await);
        b.step("logged-out").await;

        // 2: the same QQ again: straight in, no form.
        b.goto("/login/?next=/info/").await;
        b.click("a.btn-qq").await;
        b.fill("#nickname", &nickname).await;
        b.click("button.btn-qq").await;
        b.wait_for_path("/info/").await;
        assert_eq!(header_username(&b).await.as_deref(), Some(mobile.as_str()));
        b.step("returning-straight-in").await;
        b.close().await;
    }
}

/// Scenario 3: an existing account binds with its password; a wrong one first shows
/// "用户名或密码错误" and keeps the SMS code usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_account_binds_with_its_password() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mobile = mobile_for(vp, 2);
        app.create_user(&format!("member_{}", vp.name()), &mobile, PASSWORD)
            .await;
        let mut b = Browser::open(&app, vp, "existing-account").await;
        qq_login_to_bind_form(&mut b, "/info/", &format!("老会员-{}", vp.name())).await;
        b.fill("#mobile", &mobile).await;
        b.fill("#password", "wrongpass1").await;
        let code = get_sms_code(&mut b, &app, &mobile).await;
        b.fill("#sms_code", &code).await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_message("#account-error", "用户名或密码错误")
            .await;
        assert_eq!(b.value("#mobile").await, mobile, "the mobile is kept");
        assert_eq!(b.value("#password").await, "", "the password is not");
        b.step_refused("wrong-password", 400).await;

        b.fill("#password", PASSWORD).await;
        b.fill("#sms_code", &code).await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_path("/info/").await;
        assert_eq!(
            header_username(&b).await,
            Some(format!("member_{}", vp.name()))
        );
        assert!(b.text("#qq-binding").await.contains("已绑定QQ"));
        b.step("bound").await;
        b.close().await;
    }
}

/// Submits the form without its script (`form.submit()` fires no submit event), so the
/// server answers for the same input.
async fn submit_to_server(b: &Browser, form: &str, path: &str) {
    b.mark_page().await;
    b.client
        .execute(
            &format!("document.querySelector({form:?}).submit()"),
            vec![],
        )
        .await
        .unwrap();
    b.wait_for_new_page().await;
    b.wait_for_path(path).await;
    b.find(form).await;
}

/// Scenario 4, the bind form: each check shows before submit, with the server's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bind_forms_checks_show_the_servers_messages_before_submit() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "bind-checks").await;
        qq_login_to_bind_form(&mut b, "/", &format!("检查-{}", vp.name())).await;

        // Tabbing through empty fields flags nothing: checks wait for typing or submit.
        b.find("#mobile").await.click().await.unwrap();
        b.press("\u{E004}").await;
        b.press("\u{E004}").await;
        for slot in ["#mobile-error", "#password-error", "#sms-code-error"] {
            assert_eq!(b.message(slot).await, None, "{slot} before any typing");
        }
        // Empty: the script stops the submit and says, by field, what to type.
        b.mark_page().await;
        b.click("button.btn-primary[value=bind]").await;
        b.assert_messages(&[
            ("#mobile-error", "请输入手机号"),
            ("#password-error", "请输入密码"),
            ("#sms-code-error", "请输入短信验证码"),
        ])
        .await;
        assert!(b.same_page().await, "nothing was sent");
        b.step("empty-client").await;
        submit_to_server(&b, "#bind-form", "/oauth_callback/").await;
        assert_eq!(
            b.message("#form-error").await.as_deref(),
            Some("缺少必传参数")
        );
        b.step_refused("empty-server", 400).await;

        for (mobile, password, slot, expected) in [
            (
                "1380013800",
                PASSWORD,
                "#mobile-error",
                "请输入正确的手机号码",
            ),
            (
                "13800138000",
                "short",
                "#password-error",
                "请输入8-20位的密码",
            ),
        ] {
            b.fill("#mobile", mobile).await;
            b.fill("#password", password).await;
            b.fill("#sms_code", "123456").await;
            b.blur("#password").await;
            b.mark_page().await;
            b.click("button.btn-primary[value=bind]").await;
            assert_eq!(b.message(slot).await.as_deref(), Some(expected));
            assert!(b.same_page().await, "nothing was sent");
            b.step("bad-field-client").await;
            submit_to_server(&b, "#bind-form", "/oauth_callback/").await;
            assert_eq!(
                b.message(slot).await.as_deref(),
                Some(expected),
                "the server says the same, in the same place"
            );
            b.step_refused("bad-field-server", 400).await;
        }
        // Ten characters with a space: the rule, not only the length, is what is said;
        // the hint has said it before any error.
        assert_eq!(
            b.text("#password-hint").await,
            "8-20位字母或数字；已有账号请输入该账号的密码"
        );
        b.fill("#password", "abcd 12345").await;
        b.blur("#password").await;
        assert_eq!(
            b.message("#password-error").await.as_deref(),
            Some("密码只能包含字母和数字（不能有空格或符号）")
        );
        b.step("password-rule").await;
        b.close().await;
    }
}

/// Scenario 4, the register form: format checks, then the live "taken" checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_forms_checks_show_the_servers_messages_before_submit() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    app.create_user("taken_name", "13700137000", PASSWORD).await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "register-checks").await;
        b.goto("/register/").await;
        b.mark_page().await;
        b.click("button.btn-primary[value=register]").await;
        let empty = [
            ("#username-error", "请输入5-20个字符的用户名"),
            ("#password-error", "请输入8-20位的密码"),
            ("#mobile-error", "请输入正确的手机号码"),
            ("#sms-code-error", "请填写短信验证码"),
            ("#allow-error", "请勾选用户协议"),
        ];
        b.assert_messages(&empty).await;
        assert!(b.same_page().await, "nothing was sent");
        b.step("empty-client").await;
        submit_to_server(&b, "#register-form", "/register/?next=%2F").await;
        b.assert_messages(&empty).await;
        b.step_refused("empty-server", 400).await;

        b.fill("#username", "13800138000").await;
        b.blur("#username").await;
        b.fill("#password", PASSWORD).await;
        b.fill("#password2", "abcd12345").await;
        b.blur("#password2").await;
        let format = [
            ("#username-error", "用户名不能是手机号"),
            ("#password2-error", "两次输入的密码不一致"),
        ];
        b.assert_messages(&format).await;
        b.step("format-client").await;
        submit_to_server(&b, "#register-form", "/register/?next=%2F").await;
        b.assert_messages(&format).await;
        b.step_refused("format-server", 400).await;

        // Taken: the script asks the server as soon as a field is left.
        b.fill("#username", "taken_name").await;
        b.blur("#username").await;
        b.wait_for_message("#username-error", "用户名已存在").await;
        b.fill("#mobile", "13700137000").await;
        b.blur("#mobile").await;
        b.wait_for_message("#mobile-error", "手机号已存在").await;
        b.step("taken-client").await;
        b.fill("#password", PASSWORD).await;
        b.fill("#password2", PASSWORD).await;
        b.fill("#sms_code", "123456").await;
        b.click("#allow").await;
        submit_to_server(&b, "#register-form", "/register/?next=%2F").await;
        b.assert_messages(&[
            ("#username-error", "用户名已存在"),
            ("#mobile-error", "手机号已存在"),
        ])
        .await;
        b.step_refused("taken-server", 400).await;
        b.close().await;
    }
}

/// Scenario 5: the SMS button counts down from 60 s and cannot be pressed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sms_button_counts_down_and_cannot_be_pressed_meanwhile() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "sms-countdown").await;
        let mobile = mobile_for(vp, 5);
        qq_login_to_bind_form(&mut b, "/", &format!("倒计时-{}", vp.name())).await;
        b.fill("#mobile", &mobile).await;
        get_sms_code(&mut b, &app, &mobile).await;
        let button = b.find("#send-sms").await;
        assert!(!button.is_enabled().await.unwrap());
        let first = button.text().await.unwrap();
        assert!(
            first == "60秒后重新获取" || first == "59秒后重新获取",
            "{first}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2_300)).await;
        let later = button.text().await.unwrap();
        let left: u32 = later.trim_end_matches("秒后重新获取").parse().unwrap();
        let start: u32 = first.trim_end_matches("秒后重新获取").parse().unwrap();
        // Counting down (a loaded machine may run the page's timer late, never early).
        assert!(left < start && left >= 50, "{first} → {later}");
        assert!(!button.is_enabled().await.unwrap());
        // A press does nothing: no second SMS.
        b.client
            .execute("document.getElementById('send-sms').click()", vec![])
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.sms_count(&mobile).await, 1);
        b.step("counting-down").await;

        if vp == Viewport::Desktop {
            // The whole minute once: then the button is back, and a new captcha sends again
            // (the 60 s send_flag has expired with it).
            let started = std::time::Instant::now();
            while !button.is_enabled().await.unwrap() {
                assert!(started.elapsed().as_secs() < 120, "still counting");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            assert!(
                started.elapsed().as_secs() >= 55,
                "counted the whole minute"
            );
            assert_eq!(button.text().await.unwrap(), "获取短信验证码");
            b.click("#captcha").await;
            get_sms_code(&mut b, &app, &mobile).await;
            assert_eq!(
                app.sms_count(&mobile).await,
                2,
                "a second code once the minute is over"
            );
        }
        b.close().await;
    }
}

/// Registration in the browser: captcha, SMS, agreement, in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_registers_and_lands_on_next() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "register").await;
        let mobile = mobile_for(vp, 7);
        let name = format!("shopper_{}", vp.name());
        b.goto("/login/?next=/info/").await;
        b.click("#register-link").await;
        b.wait_for_path("/register/?next=%2Finfo%2F").await;
        b.fill("#username", &name).await;
        b.fill("#password", PASSWORD).await;
        b.fill("#password2", PASSWORD).await;
        b.fill("#mobile", &mobile).await;
        let code = get_sms_code(&mut b, &app, &mobile).await;
        b.fill("#sms_code", &code).await;
        b.click("#allow").await;
        b.step("register-filled").await;
        b.click("button.btn-primary[value=register]").await;
        b.wait_for_path("/info/").await;
        assert_eq!(header_username(&b).await, Some(name.clone()));
        assert!(b.text("#qq-binding").await.contains("尚未绑定QQ"));
        b.step("registered").await;
        b.close().await;
    }
}

/// The console guard itself: a page that logs an error fails its step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_error_fails_the_step() {
    use futures::FutureExt;
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    let mut b = Browser::open(&app, Viewport::Desktop, "console-guard").await;
    b.goto("/login/").await;
    b.client
        .execute("console.error('boom')", vec![])
        .await
        .unwrap();
    let failed = std::panic::AssertUnwindSafe(b.step("after-error"))
        .catch_unwind()
        .await
        .expect_err("the step fails");
    let message = failed
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| failed.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(
        message.contains("console errors at after-error"),
        "{message}"
    );
}
