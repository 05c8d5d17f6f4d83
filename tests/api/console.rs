//! The operators' console (issue 17): roles on every route, the dashboard's numbers,
//! CSV exports, sessions, disable reasons, assisted mobile changes, the searches.

use crate::helpers::*;

const CUSTOMER: &str = "13800138000";

struct Console {
    app: TestApp,
    /// A superuser (as `createsuperuser` makes them), logged in.
    root: Browser,
    root_user: qqbind::db::users::User,
    /// A staff member made by the superuser, logged in.
    staff: Browser,
    customer: qqbind::db::users::User,
}

async fn console(kind: Setup) -> Console {
    let app = spawn_app(kind).await;
    let root_user = app.create_staff("rootop", "13100000000").await;
    assert!(root_user.is_superuser, "createsuperuser makes a superuser");
    app.bind_new_account(OPENID, CUSTOMER).await;
    let customer = app.user_by_mobile(CUSTOMER).await.unwrap();
    let helper = app.create_user("13200000000", STAFF_PASSWORD).await;
    let root = app.logged_in("rootop", STAFF_PASSWORD).await;
    let r = post(
        &root,
        &format!("/admin/users/{}/staff/", helper.id),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(app.user(helper.id).await.is_staff);
    let staff = app.logged_in("13200000000", STAFF_PASSWORD).await;
    Console {
        app,
        root,
        root_user,
        staff,
        customer,
    }
}

async fn post(b: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = b.csrf_from("/info/").await;
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post_form(path, &all).await
}

/// Who may do what: anonymous → the login page, customers → 403, staff read and
/// disable/enable/unbind, superusers also export, change mobiles and make staff.
async fn every_admin_route_checks_its_role(kind: Setup) {
    let c = console(kind).await;
    let id = c.customer.id;
    let reads = [
        "/admin/".to_owned(),
        "/admin/users/".to_owned(),
        format!("/admin/users/{id}/"),
        "/admin/bindings/".to_owned(),
        "/admin/audit/".to_owned(),
    ];
    let exports = [
        "/admin/users/export.csv",
        "/admin/bindings/export.csv",
        "/admin/audit/export.csv",
    ];
    let customer = c.app.logged_in(CUSTOMER, PASSWORD).await;
    let anonymous = c.app.browser();
    for path in reads.iter().map(String::as_str).chain(exports) {
        assert_eq!(anonymous.get(path).await.status(), 302, "{path}");
        assert_eq!(customer.get(path).await.status(), 403, "{path}");
        assert_eq!(c.root.get(path).await.status(), 200, "{path}");
    }
    for path in &reads {
        assert_eq!(c.staff.get(path).await.status(), 200, "staff reads {path}");
    }
    for path in exports {
        let r = c.staff.get(path).await;
        assert_eq!(r.status(), 403, "staff may not export {path}");
        assert!(r.text().await.unwrap().contains("需要超级管理员权限"));
    }
    let superuser_posts = [
        (
            format!("/admin/users/{id}/staff/"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/admin/users/{id}/unstaff/"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/admin/users/{id}/mobile/"),
            vec![("mobile", "13900139000"), ("reason", "客户来电")],
        ),
    ];
    for (path, fields) in &superuser_posts {
        assert_eq!(post(&c.staff, path, fields).await.status(), 403, "{path}");
        assert_eq!(post(&customer, path, fields).await.status(), 403, "{path}");
    }
    assert!(!c.app.user(id).await.is_staff);
    assert_eq!(c.app.user(id).await.mobile, CUSTOMER);
    // Staff may disable (with a reason) and enable.
    let r = post(
        &c.staff,
        &format!("/admin/users/{id}/disable/"),
        &[("reason", "客户申请冻结")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = post(
        &c.staff,
        &format!("/admin/users/{id}/enable/"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), 303);
}

/// A disable says why: refused without a reason; the reason shows on the user's page
/// and in the audit log.
async fn disabling_takes_a_reason_shown_on_the_page_and_in_the_log(kind: Setup) {
    let c = console(kind).await;
    let id = c.customer.id;
    let r = post(
        &c.root,
        &format!("/admin/users/{id}/disable/"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("请填写禁用原因"));
    // Asked first: the confirmation asks for the reason too.
    let r = post(&c.root, &format!("/admin/users/{id}/disable/"), &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("name=\"reason\""));
    assert!(c.app.user(id).await.is_active);
    let r = post(
        &c.root,
        &format!("/admin/users/{id}/disable/"),
        &[("reason", "账号被盗，客户来电冻结")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let user = c.app.user(id).await;
    assert!(!user.is_active);
    assert_eq!(user.disabled_reason, "账号被盗，客户来电冻结");
    let page = c
        .root
        .get(&format!("/admin/users/{id}/"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("禁用原因：账号被盗，客户来电冻结"));
    let entry = &c.app.audit_of(id).await[0];
    assert_eq!(
        (entry.action.as_str(), entry.detail.as_str()),
        ("user_disabled", "reason=账号被盗，客户来电冻结")
    );
    post(
        &c.root,
        &format!("/admin/users/{id}/enable/"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(c.app.user(id).await.disabled_reason, "");
}

/// The user's page lists their live sessions: 强制下线 one, or all (API tokens too).
async fn operators_end_a_customers_sessions(kind: Setup) {
    let c = console(kind).await;
    let id = c.customer.id;
    let (a, b) = (
        c.app.logged_in(CUSTOMER, PASSWORD).await,
        c.app.logged_in(CUSTOMER, PASSWORD).await,
    );
    let page = c
        .root
        .get(&format!("/admin/users/{id}/"))
        .await
        .text()
        .await
        .unwrap();
    let sessions = page
        .split("id=\"sessions\"")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap()
        .to_owned();
    // The bind's browser, a and b.
    assert_eq!(
        sessions.matches("<tr id=\"session-").count(),
        3,
        "{sessions}"
    );
    let handle = sessions
        .split("name=\"session\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = post(
        &c.root,
        &format!("/admin/users/{id}/logout/"),
        &[("session", &handle), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let page = c
        .root
        .get(&format!("/admin/users/{id}/"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("已强制下线1个会话"));
    assert_eq!(page.matches("<tr id=\"session-").count(), 2);
    let jwt = qqbind::web::api::jwt::issue(&c.app.state, &c.app.user(id).await).unwrap();
    let r = post(
        &c.root,
        &format!("/admin/users/{id}/logout/"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(!a.is_logged_in().await && !b.is_logged_in().await);
    let api = reqwest::Client::new()
        .get(format!("{}/api/user/", c.app.base))
        .header("Authorization", format!("JWT {jwt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401, "the API token ends too");
    assert!(c
        .app
        .audit_actions(id)
        .await
        .contains(&"sessions_ended".to_owned()));
}

/// A customer's new mobile: verified by a code sent to it, or on the operator's word
/// with a reason; taken mobiles refused; the account's sessions end.
async fn superusers_change_a_customers_mobile(kind: Setup) {
    let c = console(kind).await;
    let id = c.customer.id;
    let customer = c.app.logged_in(CUSTOMER, PASSWORD).await;
    let path = format!("/admin/users/{id}/mobile/");
    for (fields, says) in [
        (vec![("mobile", "123")], "请输入正确的手机号码"),
        (vec![("mobile", CUSTOMER)], "新手机号与原手机号相同"),
        (
            vec![("mobile", "13900139000")],
            "请填写客户收到的验证码，或填写更换原因",
        ),
        (
            vec![("mobile", "13900139000"), ("sms_code", "000000")],
            "无效的短信验证码",
        ),
    ] {
        let r = post(&c.root, &path, &fields).await;
        assert_eq!(r.status(), 400, "{fields:?}");
        assert!(r.text().await.unwrap().contains(says), "{says}");
    }
    let r = post(
        &c.root,
        &path,
        &[("mobile", "13900139000"), ("action", "send")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let code = c
        .app
        .sent_sms("13900139000")
        .expect("a code to the new mobile");
    let r = post(
        &c.root,
        &path,
        &[("mobile", "13900139000"), ("sms_code", &code)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(c.app.user(id).await.mobile, "13900139000");
    assert!(
        !customer.is_logged_in().await,
        "the account's sessions ended"
    );
    let entry = &c.app.audit_of(id).await[0];
    assert_eq!(entry.action, "mobile_changed");
    assert_eq!(entry.detail, "from=138****8000 to=139****9000 by=sms");
    // On the operator's word, with a reason; a taken mobile is a 409.
    let r = post(
        &c.root,
        &path,
        &[("mobile", "13200000000"), ("reason", "客户原号停用")],
    )
    .await;
    assert_eq!(r.status(), 409);
    let r = post(
        &c.root,
        &path,
        &[
            ("mobile", "13700137000"),
            ("reason", "客户原号停用，已核对身份证"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(c.app.user(id).await.mobile, "13700137000");
    assert!(c.app.audit_of(id).await[0]
        .detail
        .ends_with("by=operator reason=客户原号停用，已核对身份证"));
}

/// Gives account `id` the nickname `nickname`, straight in the database.
async fn rename(app: &TestApp, id: i32, nickname: &str) {
    use diesel::prelude::*;
    use qqbind::db::schema::tb_users;
    let nickname = nickname.to_owned();
    app.state
        .db
        .write(move |conn| {
            Ok(qqbind::per_backend!(conn, |c| diesel::update(
                tb_users::table.find(id)
            )
            .set(tb_users::nickname.eq(&nickname))
            .execute(c))?)
        })
        .await
        .unwrap();
}

fn rows(page: &str, table: &str) -> Vec<String> {
    let body = page
        .split(&format!("id=\"{table}\""))
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap()
        .to_owned();
    body.split("<tr>").skip(2).map(str::to_owned).collect()
}

/// Users by 尾号 and nickname, openids whatever their case, the audit log by day.
async fn the_searches_find_by_tail_nickname_openid_case_and_date(kind: Setup) {
    let c = console(kind).await;
    c.app.bind_new_account(OPENID_2, "13912345678").await;
    let nick = c.app.user_by_mobile("13912345678").await.unwrap();
    rename(&c.app, nick.id, "小明同学").await;
    let page = |p: &str| {
        let root = &c.root;
        let p = p.to_owned();
        async move {
            let r = root.get(&p).await;
            assert_eq!(r.status(), 200, "{p}");
            r.text().await.unwrap()
        }
    };
    let found = rows(&page("/admin/users/?tail=5678").await, "users");
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("13912345678"));
    assert_eq!(
        rows(&page("/admin/users/?nickname=明同").await, "users").len(),
        1
    );
    assert_eq!(
        rows(&page("/admin/users/?q=139&tail=8000").await, "users").len(),
        0
    );
    assert_eq!(c.root.get("/admin/users/?tail=12ab").await.status(), 400);
    let lower = OPENID.to_lowercase();
    let found = rows(
        &page(&format!("/admin/bindings/?openid={}", &lower[..8])).await,
        "bindings",
    );
    assert_eq!(found.len(), 1, "case-insensitive");
    // A `%` is a character, not a wildcard.
    assert_eq!(
        rows(&page("/admin/bindings/?openid=%25").await, "bindings").len(),
        0
    );
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string();
    let all = rows(
        &page(&format!("/admin/audit/?from={today}&until={today}")).await,
        "audit",
    )
    .len();
    assert!(all >= 4, "{all}");
    assert_eq!(
        rows(&page("/admin/audit/?until=2000-01-01").await, "audit").len(),
        0
    );
    assert_eq!(
        c.root.get("/admin/audit/?from=yesterday").await.status(),
        400
    );
    assert_eq!(
        c.root
            .get(&format!("/admin/audit/?from={today}&until=2000-01-01"))
            .await
            .status(),
        400
    );
    // Times to the second.
    let audit = page("/admin/audit/").await;
    let re = regex::Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").unwrap();
    assert!(re.is_match(&audit));
}

/// CSV of a list with its filters: UTF-8 with a BOM, a header, one line a row, no hash,
/// formulas defused; streamed; each export an audit entry.
async fn exports_are_csv_with_bom_and_the_lists_filters(kind: Setup) {
    let c = console(kind).await;
    c.app.bind_new_account(OPENID_2, "13912345678").await;
    let odd = c.app.user_by_mobile("13912345678").await.unwrap();
    rename(&c.app, odd.id, "=HYPERLINK(\"x\")").await;
    let r = c.root.get("/admin/users/export.csv?q=139").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"users-"));
    assert!(r.headers().get("content-length").is_none(), "streamed");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,用户名,手机号,昵称,状态,管理员,注册时间,最近登录,第三方账号"
    );
    assert_eq!(lines.len(), 2, "only the filtered account: {text}");
    assert!(
        lines[1].contains("13912345678") && lines[1].contains("\"'=HYPERLINK(\"\"x\"\")\""),
        "{}",
        lines[1]
    );
    assert!(!text.contains("$2b$"));
    let all = c
        .root
        .get("/admin/users/export.csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        all.lines().count(),
        1 + 4,
        "root, customer, staff, the new one"
    );

    let bindings = c
        .root
        .get("/admin/bindings/export.csv?provider=qq")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(bindings.lines().count(), 1 + 2);
    assert!(bindings.contains(OPENID) && bindings.contains(OPENID_2));
    let audit = c
        .root
        .get("/admin/audit/export.csv?action=qq_bind")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(audit.lines().count(), 1 + 2, "{audit}");
    assert_eq!(
        c.root
            .get("/admin/audit/export.csv?user=nobody")
            .await
            .status(),
        400
    );

    let exports: Vec<_> = c
        .app
        .audit_of(c.root_user.id)
        .await
        .into_iter()
        .filter(|e| e.action == "exported")
        .collect();
    // audit_of lists what was done *to* an account; exports have no target.
    assert!(exports.is_empty());
    let log = c
        .root
        .get("/admin/audit/?action=exported")
        .await
        .text()
        .await
        .unwrap();
    // Four exports went out (the one of no such user was refused before it began).
    assert_eq!(rows(&log, "audit").len(), 4, "each export is an entry");
    assert!(log.contains("users q=139"));
}

/// The dashboard's numbers are what was done: the QQ funnel, a refused bind, an SMS,
/// sign-ups and logins by method — counted from the database.
async fn the_dashboard_counts_what_happened(kind: Setup) {
    let c = console(kind).await;
    // One more QQ login to the bind form and a refused bind (row 5), one returning.
    let b = c.app.browser();
    let form = c.app.reach_bind_form(&b, OPENID_2, "/").await;
    c.app.give_sms_code("13912345678", "123456").await;
    assert_eq!(
        b.post_bind(&form, "13912345678", PASSWORD, "000000")
            .await
            .status(),
        400
    );
    let back = c.app.browser();
    let state = back.start_qq_login("/").await;
    assert_eq!(
        back.callback(&format!("code-{OPENID}"), &state)
            .await
            .status(),
        302
    );
    c.app.request_sms_code(&b, "13700137000").await;

    let page = c.root.get("/admin/").await.text().await.unwrap();
    // Each row's label and values; each value cell is labelled with its column's head
    // (a phone shows the table as cards, without the heads).
    let table = |id: &str| -> Vec<(String, Vec<i64>)> {
        let body = page
            .split(&format!("id=\"{id}-table\""))
            .nth(1)
            .unwrap()
            .split("</tbody>")
            .next()
            .unwrap();
        let heads: Vec<&str> = between(body, "<thead><tr><th></th>", "</tr></thead>")
            .unwrap()
            .split("<th>")
            .skip(1)
            .map(|h| h.split("</th>").next().unwrap())
            .collect();
        body.split("<tr><td data-label=\"\">")
            .skip(1)
            .map(|row| {
                let label = row.split("</td>").next().unwrap().to_owned();
                let cells: Vec<(&str, i64)> = row
                    .split("<td class=\"num\" data-label=\"")
                    .skip(1)
                    .map(|cell| {
                        let (head, rest) = cell.split_once("\">").unwrap();
                        (head, rest.split('<').next().unwrap().parse().unwrap())
                    })
                    .collect();
                let labels: Vec<&str> = cells.iter().map(|c| c.0).collect();
                assert_eq!(labels, heads, "{id}: {label}");
                (label, cells.into_iter().map(|c| c.1).collect())
            })
            .collect()
    };
    let funnel = table("qq-funnel");
    // Started: the first bind's, this bind form's, the returning login's.
    assert_eq!(
        funnel,
        [
            ("发起QQ登录".to_owned(), vec![3]),
            ("QQ回调成功".to_owned(), vec![3]),
            ("显示绑定页".to_owned(), vec![2]),
            ("绑定成功".to_owned(), vec![1]),
        ]
    );
    let refusals = table("bind-refusals");
    assert!(
        refusals.contains(&("5 短信验证码错误".to_owned(), vec![1])),
        "{refusals:?}"
    );
    let today = table("signups").into_iter().next().unwrap();
    assert_eq!(today.1, vec![3], "customer, helper and root joined today");
    let sms = table("sms").into_iter().next().unwrap();
    assert_eq!(sms.1, vec![1, 0, 0], "one code sent today: {sms:?}");
    let logins = table("logins").into_iter().next().unwrap();
    // password: root, staff; qq: the first bind's login and the returning one.
    assert_eq!(logins.1[0], 2, "{logins:?}");
    assert_eq!(logins.1[1], 2, "{logins:?}");
    assert!(page.contains("<svg viewBox"), "charts drawn in the page");
    assert!(!page.contains("<script src=\"http"), "no CDN");
}

crate::all_setups!(
    every_admin_route_checks_its_role,
    disabling_takes_a_reason_shown_on_the_page_and_in_the_log,
    operators_end_a_customers_sessions,
    superusers_change_a_customers_mobile,
    the_searches_find_by_tail_nickname_openid_case_and_date,
    exports_are_csv_with_bom_and_the_lists_filters,
    the_dashboard_counts_what_happened,
);
