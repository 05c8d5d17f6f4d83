//! Security headers on every answer, and pages the Content-Security-Policy can hold to.

use crate::helpers::*;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn assert_security_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    assert_eq!(h["content-security-policy"], CSP, "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["referrer-policy"], "same-origin", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
}

/// No inline script and no inline event handler: the policy forbids both.
fn assert_no_inline_script(page: &str, what: &str) {
    for tag in page.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src=\"/static/"), "{what}: inline script");
        assert!(
            tag[tag.find('>').unwrap() + 1..].starts_with("</script>"),
            "{what}"
        );
    }
    let lower = page.to_ascii_lowercase();
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " onchange=",
        "javascript:",
    ] {
        assert!(!lower.contains(handler), "{what}: {handler}");
    }
    assert!(!lower.contains(" style=\""), "{what}: inline style");
}

async fn every_answer_carries_the_security_headers(kind: Setup) {
    let app = spawn_app(kind).await;
    app.create_user("13800138000", PASSWORD).await;
    let anonymous = app.browser();
    let b = app.logged_in("13800138000", PASSWORD).await;
    let pages = ["/", "/login/", "/register/", "/info/"];
    for path in pages {
        let r = b.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_security_headers(&r, path);
        assert_no_inline_script(&r.text().await.unwrap(), path);
    }
    let form = app.reach_bind_form(&anonymous, OPENID, "/").await;
    let r = anonymous
        .post_bind(&form, "13900139000", PASSWORD, "000000")
        .await;
    assert_eq!(r.status(), 400);
    assert_security_headers(&r, "bind form refused");
    assert_no_inline_script(&r.text().await.unwrap(), "bind form");
    for (path, status) in [
        ("/static/css/site.css", 200),
        ("/static/js/forms.js", 200),
        (&*format!("/image_codes/{}/", uuid::Uuid::new_v4()), 200),
        ("/healthz", 200),
        ("/no/such/page", 404),
        ("/api/user/", 401),
        ("/api/openapi.json", 200),
        ("/sms_codes/1/?image_code=x&image_code_id=y", 400),
    ] {
        let r = anonymous.get(path).await;
        assert_eq!(r.status(), status, "{path}");
        assert_security_headers(&r, path);
    }
    let r = anonymous.get("/info/").await;
    assert_eq!(r.status(), 302);
    assert_security_headers(&r, "redirect");
    let r = anonymous.post_form("/logout/", &[]).await;
    assert_eq!(r.status(), 403);
    assert_security_headers(&r, "CSRF refusal");
}

crate::all_setups!(every_answer_carries_the_security_headers);
