//! WeChat and Weibo beside QQ (issue 16), in the browser: the login page's buttons, each
//! simulator's consent page, the bind form, the user centre, and the returning login.

use crate::driver::{App, Browser, Viewport};
use crate::{common, get_sms_code, header_username, mobile_for, PASSWORD};

/// The provider's button on the login page, its simulator's consent page as `nickname`.
async fn provider_login(b: &mut Browser, slug: &str, nickname: &str) {
    b.goto("/login/?next=/info/").await;
    b.click(&format!("#{slug}-login")).await;
    b.find("#nickname").await;
    b.fill("#nickname", nickname).await;
    b.step(&format!("{slug}-consent")).await;
    b.click("form button.btn-primary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_and_weibo_bind_and_come_back_straight_in() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "wechat-weibo").await;
        b.goto("/login/").await;
        for slug in ["qq", "wechat", "weibo"] {
            assert!(b.exists(&format!("#{slug}-login")).await, "{slug} button");
        }
        b.step("three-buttons").await;
        for (n, slug, label) in [(10, "wechat", "微信"), (11, "weibo", "微博")] {
            let nickname = format!("{label}用户-{}", vp.name());
            provider_login(&mut b, slug, &nickname).await;
            b.find("#bind-form").await;
            assert!(
                b.text("h1").await.contains(&nickname),
                "greeted by {label} nickname"
            );
            b.step(&format!("{slug}-bind-form")).await;
            let mobile = mobile_for(vp, n);
            b.fill("#mobile", &mobile).await;
            b.fill("#password", PASSWORD).await;
            let code = get_sms_code(&mut b, &app, &mobile).await;
            b.fill("#sms_code", &code).await;
            b.click("button.btn-primary[value=bind]").await;
            b.wait_for_path("/info/").await;
            let binding = b.text(&format!("#{slug}-binding")).await;
            assert!(
                binding.contains(&format!("已绑定{label}")) && binding.contains(&nickname),
                "{binding}"
            );
            b.step(&format!("{slug}-bound")).await;
            b.click("form[action='/logout/'] button").await;
            b.wait_for_path("/login/").await;
            // The same person again: straight in.
            provider_login(&mut b, slug, &nickname).await;
            b.wait_for_path("/info/").await;
            assert_eq!(header_username(&b).await.as_deref(), Some(mobile.as_str()));
            b.step(&format!("{slug}-returning")).await;
            b.click("form[action='/logout/'] button").await;
            b.wait_for_path("/login/").await;
        }
        b.close().await;
    }
}
