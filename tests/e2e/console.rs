//! Issue 17 in the browser: the customer's data page (logins, devices, the data file,
//! closing the account) and the operators' dashboard, at desktop and phone size.

use crate::driver::{App, Browser, Viewport};
use crate::journeys::log_in;
use crate::{common, get_sms_code, mobile_for, qq_login_to_bind_form, PASSWORD};

/// A customer binds, sees their logins and devices, then closes the account; the QQ
/// sees the bind form again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_sees_their_data_and_closes_the_account() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "close-account").await;
        let mobile = mobile_for(vp, 20);
        let nickname = format!("注销测试-{}", vp.name());
        qq_login_to_bind_form(&mut b, "/info/", &nickname).await;
        b.fill("#mobile", &mobile).await;
        b.fill("#password", PASSWORD).await;
        let code = get_sms_code(&mut b, &app, &mobile).await;
        b.fill("#sms_code", &code).await;
        b.click("button.btn-primary[value=bind]").await;
        b.wait_for_path("/info/").await;
        assert!(b.exists("#login-history").await && b.exists("#this-device").await);
        assert!(b.text("#login-history").await.contains("QQ登录"));
        b.step("data-page").await;

        b.click("#delete-account").await;
        b.wait_for_path("/info/delete/").await;
        assert!(b
            .text("#delete-statement")
            .await
            .contains("手机号和用户名被释放"));
        b.step("close-statement").await;
        b.fill("#password", "wrong-password").await;
        b.click("#delete-confirm").await;
        b.wait_for_message("#delete-error", "密码错误").await;
        b.step_refused("close-wrong-password", 400).await;
        b.fill("#password", PASSWORD).await;
        b.click("#delete-confirm").await;
        b.wait_for_path("/login/").await;
        assert!(b.text("#flash").await.contains("账号已注销"));
        b.step("closed").await;

        // The same QQ again: the bind form, as for anyone new.
        qq_login_to_bind_form(&mut b, "/info/", &nickname).await;
        b.step("qq-free-again").await;
        b.close().await;
    }
}

/// An operator's dashboard, drawn in the page: charts and their tables, no script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_draws_its_charts_in_the_page() {
    if !common::have(common::Need::Browser) {
        return;
    }
    let app = App::start().await;
    app.create_superuser("operator", "13100000009", "Operator2026")
        .await;
    for vp in Viewport::BOTH {
        let mut b = Browser::open(&app, vp, "dashboard").await;
        // Something to count: a QQ login to the bind form.
        qq_login_to_bind_form(&mut b, "/", &format!("看板-{}", vp.name())).await;
        log_in(&mut b, "operator", "Operator2026", "/admin/").await;
        for id in ["signups", "logins", "qq-funnel", "bind-refusals", "sms"] {
            assert!(b.exists(&format!("#{id} svg")).await, "{id} chart");
            assert!(b.exists(&format!("#{id}-table")).await, "{id} table");
        }
        assert!(b.text("#qq-funnel-table").await.contains("发起QQ登录"));
        assert_eq!(
            b.clipped_chart_labels("svg.chart").await,
            Vec::<String>::new(),
            "every value and date of the charts is drawn whole"
        );
        b.step("dashboard").await;
        b.goto("/admin/users/").await;
        b.step("users-list").await;

        b.close().await;
    }
}
