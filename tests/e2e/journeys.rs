//! The journeys of a shopper who makes an ordinary mistake: reloading the bind form,
//! a wrong SMS code, an expired QQ login, a forgotten password, binding from the user
//! centre, a QQ that belongs to another account, and the bind done by keyboard alone.

use std::time::Duration;

use super::{get_sms_code, header_username, mobile_for, qq_login_to_bind_form, PASSWORD};
use crate::common;
use crate::driver::{App, Browser, Viewport};

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

fn mobile(vp: Viewport, n: u32) -> String {
    mobile_for(vp, 100 + n)
}

/// The SMS button's count, while it counts down.
async fn seconds_left(b: &Browser) -> Option<u32> {
    b.text("#send-sms")
        .await
        .strip_suffix("秒后重新获取")
        .and_then(|n| n.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_or_back_keeps_the_bind_form() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "bind-reload").await;
        let nickname = format!("刷新-{}", vp.name());
        let mobile = mobile(vp, 1);
        qq_login_to_bind_form(&mut b, "/info/", &nickname).await;
        b.step("bind-form").await;
        b.reload().await;
        b.find("#bind-form").await;
        assert!(
            b.text("h1").await.contains(&nickname),
            "the same form after a reload"
        );
        b.step("after-reload").await;
        b.goto("/").await;
        b.back().await;
        b.find("#bind-form").await;
        assert!(b.text("h1").await.contains(&nickname), "and after Back");
        b.step("after-back").await;

        b.fill("#mobile", &mobile).await;
        b.fill("#password", PASSWORD).await;
        let code = get_sms_code(&mut b, &app, &mobile).await;
        // A reload now: the mobile is still there, and the SMS button still counts
        // down from what the store says is left.
        b.reload().await;
        b.find("#bind-form").await;
        assert_eq!(b.value("#mobile").await, mobile);
        let left = seconds_left(&b)
            .await
            .expect("still counting after the reload");
        assert!((45..=60).contains(&left), "{left}");
        b.step("reloaded-after-sms").await;
        b.fill("#password", PASSWORD).await;
        b.fill("#sms_code", &code).await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_path("/info/").await;
        assert!(b.text("#flash").await.contains("绑定成功"));
        b.step("bound").await;
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_sms_code_keeps_the_rest() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "wrong-sms").await;
        let mobile = mobile(vp, 2);
        qq_login_to_bind_form(&mut b, "/", &format!("输错-{}", vp.name())).await;
        b.fill("#mobile", &mobile).await;
        b.fill("#password", PASSWORD).await;
        let code = get_sms_code(&mut b, &app, &mobile).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        b.fill("#sms_code", wrong).await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_message("#sms-code-error", "输入短信验证码有误")
            .await;
        assert_eq!(b.value("#mobile").await, mobile, "the mobile is kept");
        assert_eq!(b.value("#password").await, "", "the password is not echoed");
        assert_eq!(
            b.value("#sms_code").await,
            "",
            "the refused code is not kept"
        );
        assert_eq!(
            b.message("#sms-notice").await,
            None,
            "no green notice beside the red error"
        );
        let left = seconds_left(&b)
            .await
            .expect("the SMS button still counts down");
        assert!((45..=60).contains(&left), "{left}");
        assert!(!b.find("#send-sms").await.is_enabled().await.unwrap());
        b.step_refused("wrong-code", 400).await;

        // Typing the right code clears the old message; the bind goes through.
        b.fill("#sms_code", &code).await;
        assert_eq!(b.message("#sms-code-error").await, None);
        b.fill("#password", PASSWORD).await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_path("/").await;
        assert!(
            b.text("h1").await.contains("欢迎加入"),
            "first-visit copy for a new account"
        );
        b.step("bound-new-account").await;
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_qq_login_leads_back_to_qq_with_the_same_next() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start_with(|s| s.openid_token_ttl = Duration::from_secs(3)).await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "expired-token").await;
        let mobile = mobile(vp, 3);
        let nickname = format!("过期-{}", vp.name());
        qq_login_to_bind_form(&mut b, "/info/", &nickname).await;
        b.fill("#mobile", &mobile).await;
        b.fill("#password", PASSWORD).await;
        let code = get_sms_code(&mut b, &app, &mobile).await;
        b.fill("#sms_code", &code).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_message("#openid-error", "无效的openid").await;
        b.step_refused("expired", 400).await;
        b.click("#qq-relogin").await;
        b.fill("#nickname", &nickname).await;
        b.click("button.btn-qq").await;
        b.find("#bind-form").await;
        b.fill("#mobile", &mobile).await;
        b.fill("#password", PASSWORD).await;
        b.fill("#sms_code", &code).await;
        b.step("fresh-form").await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_path("/info/").await;
        assert!(b.text("#qq-binding").await.contains(&nickname));
        b.step("bound").await;
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_recovered_then_used_to_bind() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mobile = mobile(vp, 4);
        let name = format!("forgot_{}", vp.name());
        app.create_user(&name, &mobile, "oldpass2020").await;
        let mut b = Browser::open(&app, vp, "forgot-password").await;
        qq_login_to_bind_form(&mut b, "/info/", &format!("忘记-{}", vp.name())).await;
        b.fill("#mobile", &mobile).await;
        b.fill("#password", PASSWORD).await;
        let code = get_sms_code(&mut b, &app, &mobile).await;
        b.fill("#sms_code", &code).await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_message("#account-error", "用户名或密码错误")
            .await;
        assert_eq!(b.value("#sms_code").await, code, "the SMS code is kept");
        b.step_refused("wrong-password", 400).await;

        b.click("#forgot-password").await;
        b.wait_for_path(&format!(
            "/password/reset/?mobile={mobile}&next=%2Fqq%2Fauthorize%2F%3Fnext%3D%252Finfo%252F%26intent%3Dlink"
        ))
        .await;
        assert_eq!(b.value("#mobile").await, mobile, "the mobile filled in");
        b.step("reset-form").await;
        let reset_code = get_sms_code(&mut b, &app, &mobile).await;
        assert_ne!(reset_code, code, "a code of its own");
        b.fill("#sms_code", &reset_code).await;
        b.fill("#password", PASSWORD).await;
        b.fill("#password2", PASSWORD).await;
        b.step("reset-filled").await;
        b.click("button.btn-primary[value=reset]").await;
        b.wait_for_path(
            "/login/?next=%2Fqq%2Fauthorize%2F%3Fnext%3D%252Finfo%252F%26intent%3Dlink",
        )
        .await;
        assert_eq!(b.text("#flash").await, "密码已重置，请用新密码登录");
        assert_eq!(b.value("#username").await, mobile, "the mobile filled in");
        b.step("reset-done").await;

        // Logged in with the new password, QQ again binds it to the account: one click.
        b.fill("#password", PASSWORD).await;
        b.click("button.btn-primary").await;
        b.fill("#nickname", &format!("忘记-{}", vp.name())).await;
        b.click("button.btn-qq").await;
        assert_eq!(
            b.text("#link-question").await,
            format!("将QQ 忘记-{} 绑定到账号 {name}？", vp.name())
        );
        b.step("confirm").await;
        b.click("#link-confirm").await;
        b.wait_for_path("/info/").await;
        assert_eq!(header_username(&b).await, Some(name.clone()));
        assert!(b.text("#qq-binding").await.contains("已绑定QQ"));
        b.step("bound").await;
        b.close().await;
    }
}

/// Logs in through the login form.
pub async fn log_in(b: &mut Browser, login: &str, password: &str, next: &str) {
    b.goto(&format!("/login/?next={next}")).await;
    b.fill("#username", login).await;
    b.fill("#password", password).await;
    b.click("button.btn-primary").await;
    b.wait_for_path(next).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_in_customer_binds_qq_from_the_user_centre() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mobile = mobile(vp, 5);
        let name = format!("centre_{}", vp.name());
        app.create_user(&name, &mobile, PASSWORD).await;
        let mut b = Browser::open(&app, vp, "bind-from-info").await;
        log_in(&mut b, &name, PASSWORD, "/info/").await;
        assert!(b.text("#qq-binding").await.contains("尚未绑定QQ"));
        b.step("info").await;
        b.click("#qq-binding a.btn-qq").await;
        let nickname = format!("中心-{}", vp.name());
        b.fill("#nickname", &nickname).await;
        b.click("button.btn-qq").await;
        let question = b.text("#link-question").await;
        assert_eq!(question, format!("将QQ {nickname} 绑定到账号 {name}？"));
        assert!(!b.exists("#mobile").await, "no mobile, no SMS");
        b.step("confirm").await;
        b.click("#link-confirm").await;
        b.wait_for_path("/info/").await;
        assert!(b.text("#flash").await.contains("绑定成功"));
        assert!(b.text("#qq-binding").await.contains(&nickname));
        b.step("bound").await;
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qq_of_another_account_is_named_masked_and_offers_to_switch() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        // The QQ's owner: a customer who bound it before.
        let owner_mobile = mobile(vp, 6);
        let nickname = format!("别人-{}", vp.name());
        let mut owner = Browser::open(&app, vp, "already-bound-owner").await;
        qq_login_to_bind_form(&mut owner, "/info/", &nickname).await;
        owner.fill("#mobile", &owner_mobile).await;
        owner.fill("#password", PASSWORD).await;
        let code = get_sms_code(&mut owner, &app, &owner_mobile).await;
        owner.fill("#sms_code", &code).await;
        owner.click("button.btn-primary[value=bind]").await;
        owner.wait_for_path("/info/").await;
        owner.close().await;

        let name = format!("other_{}", vp.name());
        app.create_user(&name, &mobile(vp, 7), PASSWORD).await;
        let mut b = Browser::open(&app, vp, "already-bound").await;
        log_in(&mut b, &name, PASSWORD, "/info/").await;
        b.click("#qq-binding a.btn-qq").await;
        b.fill("#nickname", &nickname).await;
        b.click("button.btn-qq").await;
        let message = b.text("#link-refused").await;
        let masked = format!("{}****{}", &owner_mobile[..3], &owner_mobile[7..]);
        assert_eq!(message, format!("该QQ已绑定账号 {masked}"));
        let page = b.client.source().await.unwrap();
        assert!(!page.contains(&owner_mobile), "never the full mobile");
        b.step_refused("already-bound", 409).await;
        // Out, and straight to QQ: one click, then QQ's page.
        b.click("#logout-and-switch").await;
        b.fill("#nickname", &nickname).await;
        b.click("button.btn-qq").await;
        b.wait_for_path("/info/").await;
        assert_eq!(
            header_username(&b).await,
            Some(owner_mobile.clone()),
            "in as the owner"
        );
        b.step("switched").await;
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bind_form_works_by_keyboard_alone() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "keyboard").await;
        let mobile = mobile(vp, 8);
        qq_login_to_bind_form(&mut b, "/info/", &format!("键盘-{}", vp.name())).await;
        b.find("#mobile").await.click().await.unwrap();
        let mut order = vec![b.focused().await];
        for _ in 0..8 {
            b.press(TAB).await;
            order.push(b.focused().await);
        }
        let expected = [
            "mobile",
            "password",
            "显示",
            "image_code",
            "captcha-refresh",
            "sms_code",
            "send-sms",
        ];
        assert_eq!(&order[..expected.len()], expected, "{order:?}");
        assert!(
            order[expected.len()..].iter().any(|e| e.contains("保")),
            "{order:?}"
        );

        // 换一张 by keyboard: a new picture.
        let before = b.value("#image_code_id").await;
        b.find("#captcha-refresh")
            .await
            .send_keys(ENTER)
            .await
            .unwrap();
        assert_ne!(b.value("#image_code_id").await, before, "a new captcha");
        assert_eq!(b.focused().await, "image_code", "back to typing the code");
        b.step("captcha-refreshed").await;

        // The whole bind: typed, Tab to the SMS button, Enter; then Enter to save.
        b.find("#mobile").await.click().await.unwrap();
        b.press(&mobile).await;
        b.press(TAB).await;
        b.press(PASSWORD).await;
        b.press(TAB).await; // the show-password toggle
        b.press(ENTER).await;
        assert_eq!(
            b.find("#password")
                .await
                .attr("type")
                .await
                .unwrap()
                .as_deref(),
            Some("text")
        );
        b.press(TAB).await;
        let id = b.value("#image_code_id").await;
        let text = app.captcha(&id).await;
        b.press(&text).await;
        b.press(TAB).await;
        b.press(TAB).await;
        b.press(TAB).await;
        assert_eq!(b.focused().await, "send-sms");
        b.press(ENTER).await;
        b.wait_for_message("#sms-notice", "短信验证码已发送，5分钟内有效")
            .await;
        let code = app.sms_from_outbox(&mobile).await;
        b.find("#sms_code").await.click().await.unwrap();
        b.press(&code).await;
        b.step("typed").await;
        b.press(ENTER).await;
        b.wait_for_path("/info/").await;
        assert!(b.text("#qq-binding").await.contains("已绑定QQ"));
        b.step("bound").await;
        b.close().await;
    }
}
