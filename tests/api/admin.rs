//! `/admin/` (spec section 7): access, lists, searches, confirmed and audited changes.

use crate::helpers::*;

const STAFF_MOBILE: &str = "13100000000";
const CUSTOMER_MOBILE: &str = "13800138000";

struct Admin {
    app: TestApp,
    staff: qqbind::db::users::User,
    operator: Browser,
    customer: qqbind::db::users::User,
}

/// An app with one operator (logged in) and one customer bound to `OPENID`.
async fn admin(kind: Setup) -> Admin {
    let app = spawn_app(kind).await;
    let staff = app.create_staff("operator", STAFF_MOBILE).await;
    app.bind_new_account(OPENID, CUSTOMER_MOBILE).await;
    let customer = app.user_by_mobile(CUSTOMER_MOBILE).await.unwrap();
    let operator = app.logged_in("operator", STAFF_PASSWORD).await;
    Admin {
        app,
        staff,
        operator,
        customer,
    }
}

impl Admin {
    async fn page(&self, path: &str) -> String {
        let r = self.operator.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        r.text().await.unwrap()
    }

    /// Posts a change with the operator's CSRF token, confirmed or not.
    async fn change(&self, user_id: i32, what: &str, confirm: bool) -> reqwest::Response {
        // One token per session: the user centre's logout form carries it.
        let csrf = self.operator.csrf_from("/info/").await;
        let mut fields = vec![("csrf_token", csrf.as_str())];
        if confirm {
            fields.push(("confirm", "yes"));
            if what == "disable" {
                // Disabling says why (issue 17).
                fields.push(("reason", "测试禁用"));
            }
        }
        self.operator
            .post_form(&format!("/admin/users/{user_id}/{what}/"), &fields)
            .await
    }
}

async fn every_admin_route_is_for_staff_only(kind: Setup) {
    let a = admin(kind).await;
    let id = a.customer.id;
    let gets = [
        "/admin/".to_owned(),
        "/admin/users/".to_owned(),
        "/admin/users/?q=138".to_owned(),
        format!("/admin/users/{id}/"),
        "/admin/bindings/".to_owned(),
        "/admin/audit/".to_owned(),
    ];
    let posts = ["disable", "enable", "unbind"].map(|w| format!("/admin/users/{id}/{w}/"));

    let anonymous = a.app.browser();
    for path in &gets {
        let r = anonymous.get(path).await;
        assert_is_redirect_to(&r, &format!("/login/?next={path}"));
    }
    let csrf = anonymous.csrf_from("/login/").await;
    for path in &posts {
        let r = anonymous
            .post_form(path, &[("csrf_token", &csrf), ("confirm", "yes")])
            .await;
        assert_is_redirect_to(&r, "/login/?next=/admin/");
    }

    let customer = a.app.logged_in(CUSTOMER_MOBILE, PASSWORD).await;
    let csrf = customer.csrf_from("/info/").await;
    for path in &gets {
        let r = customer.get(path).await;
        assert_eq!(r.status(), 403, "{path}");
        assert!(r.text().await.unwrap().contains("您没有权限访问此页面"));
    }
    for path in &posts {
        let r = customer
            .post_form(path, &[("csrf_token", &csrf), ("confirm", "yes")])
            .await;
        assert_eq!(r.status(), 403, "{path}");
    }

    for path in &gets {
        a.page(path).await;
    }
    for what in ["disable", "enable", "unbind"] {
        let r = a.change(id, what, false).await;
        assert_eq!(r.status(), 200, "{what} asks first");
    }
    // Nothing above changed anything.
    let customer_now = a.app.user(id).await;
    assert!(customer_now.is_active);
    assert!(a.app.binding_of(OPENID).await.is_some());
    assert_eq!(
        a.app.audit_actions(id).await,
        ["qq_bind", "user_created_by_qq"]
    );
}

async fn the_admin_link_shows_on_the_operators_user_centre_only(kind: Setup) {
    let a = admin(kind).await;
    assert!(a.page("/info/").await.contains("href=\"/admin/\""));
    let customer = a.app.logged_in(CUSTOMER_MOBILE, PASSWORD).await;
    let info = customer.get("/info/").await.text().await.unwrap();
    assert!(!info.contains("href=\"/admin/\""));
}

/// The `<tbody>` rows of the table with this id, as text.
fn rows(page: &str, table: &str) -> Vec<String> {
    let start = format!("id=\"{table}\"");
    let table = between(page, &start, "</tbody>").unwrap();
    table.split("<tr>").skip(2).map(str::to_owned).collect()
}

async fn the_user_list_is_newest_first_50_a_page_with_bindings(kind: Setup) {
    let a = admin(kind).await;
    for i in 0..60 {
        a.app.create_user(&format!("1590000{i:04}"), PASSWORD).await;
    }
    let page = a.page("/admin/users/").await;
    let first = rows(&page, "users");
    assert_eq!(first.len(), 50);
    assert!(first[0].contains("15900000059"), "newest first");
    assert!(page.contains("共 62 条"));
    assert!(page.contains("href=\"/admin/users/?page=2\""));

    let page = a.page("/admin/users/?page=2").await;
    let second = rows(&page, "users");
    assert_eq!(second.len(), 12);
    let last = second.last().unwrap();
    assert!(last.contains("operator"), "oldest last");
    let customer_row = second.iter().find(|r| r.contains(CUSTOMER_MOBILE)).unwrap();
    assert!(
        customer_row.contains(&format!("<td data-label=\"第三方绑定\"><span class=\"tag\">QQ</span> <code>{OPENID}</code></td>")),
        "with its binding: {customer_row}"
    );
    assert!(
        last.contains("<td data-label=\"第三方绑定\"><span class=\"hint\">未绑定</span></td>"),
        "{last}"
    );

    // Past the end: the last page.
    let page = a.page("/admin/users/?page=99").await;
    assert!(page.contains("第 2/2 页"));
}

/// `n` accounts `bulk000000…` with mobiles `15000000000…`, oldest first, in one go.
async fn seed_bulk(app: &TestApp, n: i64) {
    use diesel::prelude::*;
    use qqbind::db::schema::tb_users::dsl::*;
    db_run(app, move |c| {
        let rows: Vec<_> = (0..n)
            .map(|i| {
                (
                    username.eq(format!("bulk{i:06}")),
                    mobile.eq(format!("15{i:09}")),
                    password.eq("-"),
                    date_joined.eq(qqbind::db::now()),
                )
            })
            .collect();
        qqbind::db::transaction(c, |c| {
            for chunk in rows.chunks(1000) {
                qqbind::per_backend!(c, |c| diesel::insert_into(tb_users)
                    .values(chunk)
                    .execute(c))?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    })
    .await;
}

async fn db_run<T: Send + 'static>(
    app: &TestApp,
    f: impl FnOnce(&mut qqbind::db::AnyConnection) -> Result<T, qqbind::db::DbError> + Send + 'static,
) -> T {
    app.state.db.write(f).await.unwrap()
}

async fn a_search_matching_over_10000_accounts_still_pages_newest_first(kind: Setup) {
    let a = admin(kind).await;
    seed_bulk(&a.app, 10_050).await;

    let page = a.page("/admin/users/?q=15").await;
    assert!(page.contains("共 10000+ 条"), "the count stops at the cap");
    let first = rows(&page, "users");
    assert_eq!(first.len(), 50);
    assert!(first[0].contains("15000010049"), "newest first");
    assert!(first[49].contains("15000010000"));
    assert!(first.iter().all(|r| r.contains(">15")));

    let page = a.page("/admin/users/?q=15&page=2").await;
    let second = rows(&page, "users");
    assert!(second[0].contains("15000009999"));
    assert!(second[49].contains("15000009950"));

    // A narrow search counts exactly.
    let page = a.page("/admin/users/?q=bulk00000").await;
    assert!(page.contains("共 10 条"));
    assert_eq!(rows(&page, "users").len(), 10);
    // The whole list counts exactly too.
    assert!(a.page("/admin/users/").await.contains("共 10052 条"));
}

async fn users_are_found_by_username_or_mobile(kind: Setup) {
    let a = admin(kind).await;
    a.app.create_user("15900001111", PASSWORD).await; // username user1111
    a.app.create_user("15900002222", PASSWORD).await; // username user2222

    let page = a.page("/admin/users/?q=1590000").await;
    assert_eq!(rows(&page, "users").len(), 2, "mobile prefix");
    let page = a.page("/admin/users/?q=15900002222").await;
    let found = rows(&page, "users");
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("user2222"));
    let page = a.page("/admin/users/?q=user1").await;
    let found = rows(&page, "users");
    assert_eq!(found.len(), 1, "username prefix");
    assert!(found[0].contains("15900001111"));
    assert!(page.contains("value=\"user1\""), "the search is kept");
    let page = a.page("/admin/users/?q=nobody").await;
    assert!(rows(&page, "users").is_empty());
    assert!(page.contains("没有找到用户"));
}

async fn one_users_page_shows_details_binding_and_audit(kind: Setup) {
    let a = admin(kind).await;
    let page = a.page(&format!("/admin/users/{}/", a.customer.id)).await;
    assert!(page.contains(CUSTOMER_MOBILE));
    assert!(page.contains(OPENID));
    assert!(page.contains("绑定QQ"));
    assert!(page.contains("QQ绑定时创建账号"));
    assert!(page.contains("id=\"disable-user\""));
    assert!(page.contains("id=\"unbind-qq\""));
    let own = a.page(&format!("/admin/users/{}/", a.staff.id)).await;
    assert!(
        !own.contains("id=\"disable-user\""),
        "no button to lock yourself out"
    );

    let r = a.operator.get("/admin/users/99999/").await;
    assert_eq!(r.status(), 404);
    let r = a.operator.get("/admin/users/abc/").await;
    assert_eq!(r.status(), 400);
}

async fn disabling_asks_first_then_locks_the_account_out_and_is_audited(kind: Setup) {
    let a = admin(kind).await;
    let id = a.customer.id;
    let customer = a.app.logged_in(CUSTOMER_MOBILE, PASSWORD).await;

    let r = a.change(id, "disable", false).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("确定禁用账号"));
    assert!(
        page.contains("不能再以任何方式登录"),
        "every way in is named: {page}"
    );
    assert!(page.contains(CUSTOMER_MOBILE));
    assert!(a.app.user(id).await.is_active);

    let r = a.change(id, "disable", true).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("/admin/users/{id}/"));
    assert!(!a.app.user(id).await.is_active);
    let page = a.page(&format!("/admin/users/{id}/")).await;
    assert!(page.contains("已禁用该账号"));
    assert!(page.contains("禁用账号"));

    let entry = &a.app.audit_of(id).await[0];
    assert_eq!(entry.action, "user_disabled");
    assert_eq!(entry.actor_id, Some(a.staff.id));
    assert_eq!(entry.target_user_id, Some(id));
    assert_eq!(
        (entry.ip.as_str(), entry.channel.as_str()),
        ("127.0.0.1", "admin")
    );
    let age = qqbind::db::now() - entry.created_at;
    assert!(age.num_seconds().abs() < 60, "stamped now");

    assert!(
        !customer.is_logged_in().await,
        "the customer's session ended"
    );
    let r = {
        let b = a.app.browser();
        let csrf = b.csrf_from("/login/").await;
        b.post_form(
            "/login/",
            &[
                ("username", CUSTOMER_MOBILE),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await
    };
    assert_eq!(r.status(), 403);

    // Disabling again changes nothing and writes nothing.
    let r = a.change(id, "disable", true).await;
    assert_eq!(r.status(), 303);
    let page = a.page(&format!("/admin/users/{id}/")).await;
    assert!(page.contains("该账号本来就是禁用状态"));
    assert_eq!(
        a.app
            .audit_actions(id)
            .await
            .iter()
            .filter(|x| *x == "user_disabled")
            .count(),
        1
    );

    // Enabling lets the customer back in.
    let r = a.change(id, "enable", true).await;
    assert_eq!(r.status(), 303);
    assert!(a.app.user(id).await.is_active);
    let entry = &a.app.audit_of(id).await[0];
    assert_eq!(entry.action, "user_enabled");
    assert_eq!(entry.actor_id, Some(a.staff.id));
    a.app.logged_in(CUSTOMER_MOBILE, PASSWORD).await;
}

async fn an_operator_cannot_disable_themselves(kind: Setup) {
    let a = admin(kind).await;
    let r = a.change(a.staff.id, "disable", true).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("不能禁用自己的账号"));
    assert!(a.app.user(a.staff.id).await.is_active);
}

async fn an_operator_unbinds_a_qq_and_it_is_audited(kind: Setup) {
    let a = admin(kind).await;
    let id = a.customer.id;
    let r = a.change(id, "unbind", false).await;
    assert!(r.text().await.unwrap().contains("确定解除账号"));
    assert!(a.app.binding_of(OPENID).await.is_some());

    let r = a.change(id, "unbind", true).await;
    assert_eq!(r.status(), 303);
    assert!(a.app.binding_of(OPENID).await.is_none());
    let entry = &a.app.audit_of(id).await[0];
    assert_eq!(entry.action, "qq_unbind");
    assert_eq!(entry.actor_id, Some(a.staff.id));
    assert_eq!(entry.detail, format!("openid={OPENID}"));
    let page = a.page(&format!("/admin/users/{id}/")).await;
    assert!(page.contains("已解除该账号的QQ绑定"));
    assert!(page.contains("未绑定QQ"));

    // The QQ sees the bind form again.
    let b = a.app.browser();
    a.app.reach_bind_form(&b, OPENID, "/").await;
}

async fn changes_without_a_valid_csrf_token_are_refused(kind: Setup) {
    let a = admin(kind).await;
    let id = a.customer.id;
    for what in ["disable", "unbind", "enable"] {
        for fields in [
            vec![("confirm", "yes")],
            vec![("confirm", "yes"), ("csrf_token", "forged")],
        ] {
            let r = a
                .operator
                .post_form(&format!("/admin/users/{id}/{what}/"), &fields)
                .await;
            assert_eq!(r.status(), 403, "{what}");
        }
    }
    assert!(a.app.user(id).await.is_active);
    assert!(a.app.binding_of(OPENID).await.is_some());
    assert_eq!(a.app.audit_actions(id).await.len(), 2);
}

async fn bindings_are_found_by_openid(kind: Setup) {
    let a = admin(kind).await;
    a.app.bind_new_account(OPENID_2, "13900139000").await;
    let page = a.page("/admin/bindings/").await;
    assert_eq!(rows(&page, "bindings").len(), 2);
    let page = a.page("/admin/bindings/?openid=4F65").await;
    let found = rows(&page, "bindings");
    assert_eq!(found.len(), 1);
    assert!(found[0].contains(OPENID) && found[0].contains(CUSTOMER_MOBILE));
    assert!(found[0].contains(&format!("/admin/users/{}/unbind/", a.customer.id)));
    let page = a.page(&format!("/admin/bindings/?openid={OPENID_2}")).await;
    assert_eq!(rows(&page, "bindings").len(), 1);
    let page = a.page("/admin/bindings/?openid=ZZZ").await;
    assert!(page.contains("没有找到绑定"));
}

async fn the_audit_log_filters_by_user_and_by_action(kind: Setup) {
    let a = admin(kind).await;
    let other = a.app.create_user("13900139000", PASSWORD).await;
    a.change(other.id, "disable", true).await;
    a.change(a.customer.id, "unbind", true).await;

    let page = a.page("/admin/audit/").await;
    // superuser_created, user_created_by_qq, qq_bind, user_disabled, qq_unbind
    assert_eq!(rows(&page, "audit").len(), 5);
    assert!(
        rows(&page, "audit")[0].contains("解除QQ绑定"),
        "newest first"
    );
    // Where each change came from: the operator's address on the operators' pages, the
    // command line with none.
    assert!(rows(&page, "audit")[0].contains("后台 · <code>127.0.0.1</code>"));
    assert!(rows(&page, "audit")[4].contains("命令行"));

    let page = a.page("/admin/audit/?action=user_disabled").await;
    let found = rows(&page, "audit");
    assert_eq!(found.len(), 1);
    assert!(found[0].contains(&other.username) && found[0].contains("operator"));

    let page = a
        .page(&format!("/admin/audit/?user={CUSTOMER_MOBILE}"))
        .await;
    assert_eq!(rows(&page, "audit").len(), 3, "created, bound, unbound");
    let page = a
        .page(&format!(
            "/admin/audit/?user={CUSTOMER_MOBILE}&action=qq_bind"
        ))
        .await;
    assert_eq!(rows(&page, "audit").len(), 1);
    let page = a.page("/admin/audit/?user=operator").await;
    assert_eq!(
        rows(&page, "audit").len(),
        3,
        "what the operator did, and was done to"
    );

    let page = a.page("/admin/audit/?user=nobody").await;
    assert!(page.contains("没有这个用户"));
    assert!(rows(&page, "audit").is_empty());
    let r = a.operator.get("/admin/audit/?action=drop_tables").await;
    assert_eq!(r.status(), 400);
}

async fn bad_list_parameters_get_a_400(kind: Setup) {
    let a = admin(kind).await;
    for path in [
        "/admin/users/?page=abc".to_owned(),
        "/admin/users/?page=-1".to_owned(),
        format!("/admin/users/?q={}", "x".repeat(65)),
        format!("/admin/bindings/?openid={}", "x".repeat(65)),
        "/admin/audit/?page=1e9".to_owned(),
        "/admin/users/?q=13%00".to_owned(),
        "/admin/bindings/?openid=%00".to_owned(),
        "/admin/audit/?user=a%00b".to_owned(),
    ] {
        let r = a.operator.get(&path).await;
        assert_eq!(r.status(), 400, "{path}");
    }
    let r = a
        .operator
        .get("/admin/users/?q=%27%20OR%201%3D1%20--")
        .await;
    assert_eq!(r.status(), 200);
    assert!(rows(&r.text().await.unwrap(), "users").is_empty());
}

crate::all_setups!(
    every_admin_route_is_for_staff_only,
    the_admin_link_shows_on_the_operators_user_centre_only,
    the_user_list_is_newest_first_50_a_page_with_bindings,
    users_are_found_by_username_or_mobile,
    a_search_matching_over_10000_accounts_still_pages_newest_first,
    one_users_page_shows_details_binding_and_audit,
    disabling_asks_first_then_locks_the_account_out_and_is_audited,
    an_operator_cannot_disable_themselves,
    an_operator_unbinds_a_qq_and_it_is_audited,
    changes_without_a_valid_csrf_token_are_refused,
    bindings_are_found_by_openid,
    the_audit_log_filters_by_user_and_by_action,
    bad_list_parameters_get_a_400,
);
