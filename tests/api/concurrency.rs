//! Two simultaneous binds of one openid with two mobiles: exactly one wins.

use crate::helpers::*;

async fn two_racing_binds_of_one_openid_leave_exactly_one_account(kind: Setup) {
    let app = spawn_app(kind).await;
    for round in 0..3 {
        let openid = format!("RACE{round}0000000000000000000000000");
        let (a, b) = (app.browser(), app.browser());
        let fa = app.reach_bind_form(&a, &openid, "/").await;
        let fb = app.reach_bind_form(&b, &openid, "/").await;
        let (ma, mb) = (format!("1380000{round:04}"), format!("1390000{round:04}"));
        app.give_sms_code(&ma, "111111").await;
        app.give_sms_code(&mb, "222222").await;
        let post = |br: &Browser, f: &BindForm, m: &str, code: &str| {
            let (br, f, m, code) = (br.clone(), f.clone(), m.to_owned(), code.to_owned());
            async move {
                br.post_form(
                    "/oauth_callback/",
                    &[
                        ("mobile", m.as_str()),
                        ("password", PASSWORD),
                        ("sms_code", code.as_str()),
                        ("access_token", f.access_token.as_str()),
                        ("csrf_token", f.csrf_token.as_str()),
                    ],
                )
                .await
            }
        };
        let (ra, rb) = tokio::join!(post(&a, &fa, &ma, "111111"), post(&b, &fb, &mb, "222222"));
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [302, 400], "round {round}");
        let loser = if ra.status() == 400 { ra } else { rb };
        let page = loser.text().await.unwrap();
        assert_eq!(
            slot_message(&page, "qq-login-error").as_deref(),
            Some("QQ登录失败")
        );

        let owners = [app.user_by_mobile(&ma).await, app.user_by_mobile(&mb).await];
        assert_eq!(
            owners.iter().flatten().count(),
            1,
            "exactly one account, no orphan"
        );
        let binding = app.binding_of(&openid).await.expect("bound once");
        assert_eq!(
            Some(binding.user_id),
            owners.iter().flatten().next().map(|u| u.id)
        );
    }
    assert_eq!(app.user_count().await, 3);
    assert_eq!(app.binding_count().await, 3);
}

async fn one_sms_code_cannot_be_used_by_two_racing_requests(kind: Setup) {
    let app = spawn_app(kind).await;
    let (a, b) = (app.browser(), app.browser());
    let fa = app.reach_bind_form(&a, OPENID, "/").await;
    let fb = app.reach_bind_form(&b, OPENID_2, "/").await;
    app.give_sms_code("13800138000", "123456").await;
    let send = |br: Browser, f: BindForm| async move {
        br.post_form(
            "/oauth_callback/",
            &[
                ("mobile", "13800138000"),
                ("password", PASSWORD),
                ("sms_code", "123456"),
                ("access_token", f.access_token.as_str()),
                ("csrf_token", f.csrf_token.as_str()),
            ],
        )
        .await
        .status()
        .as_u16()
    };
    let (sa, sb) = tokio::join!(send(a, fa), send(b, fb));
    assert_eq!(
        [sa, sb].iter().filter(|s| **s == 302).count(),
        1,
        "{sa} {sb}"
    );
    assert_eq!(app.binding_count().await, 1);
}

crate::all_setups!(
    two_racing_binds_of_one_openid_leave_exactly_one_account,
    one_sms_code_cannot_be_used_by_two_racing_requests,
);
