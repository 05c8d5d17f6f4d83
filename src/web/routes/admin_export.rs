//! `/admin/{users,bindings,audit}/export.csv`: the lists as CSV (UTF-8 with a BOM, so
//! Excel reads Chinese right), with the list page's filters, streamed a batch at a time
//! so 100 000 rows never sit in memory. Superusers only; each export is an audit entry.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream;

use super::admin::{
    audit_query, bindings_filter, users_filter, AuditQuery, BindingsQuery, UsersQuery,
};
use crate::db::audit::{Action, Channel};
use crate::db::{self, admin, audit, identities, users};
use crate::state::AppState;
use crate::web::auth::Superuser;
use crate::web::error::AppError;
use crate::web::views::beijing_time;

/// Rows read from the database per batch.
const BATCH: i64 = 1_000;

/// Excel reads a cell starting with these as a formula: such a cell gets a leading `'`.
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let cleaned: Vec<String> = fields.iter().map(|f| cell(f)).collect();
    // Writing to a Vec cannot fail.
    let _ = w.write_record(&cleaned);
    w.into_inner().unwrap_or_default()
}

/// The id to continue below after a batch of `found` (None: it was the last batch).
fn next_after<T>(found: &[T], id: impl Fn(&T) -> i32) -> Option<i32> {
    match found.len() as i64 {
        BATCH => found.last().map(id),
        _ => None,
    }
}

/// One batch of an export: its CSV lines and the id to continue below (None: done).
type Batch = (Vec<u8>, Option<i32>);

/// The streamed answer: the BOM and header, then each batch `next` gives until it says
/// it is done. A failure mid-way ends the file early (logged; the download is cut short
/// rather than silently complete).
fn streamed<F, Fut>(name: &str, header_row: &[&str], next: F) -> HttpResponse
where
    F: Fn(Option<i32>) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<Batch, db::DbError>> + 'static,
{
    let mut head = vec![0xEF, 0xBB, 0xBF];
    head.extend(csv_line(
        &header_row
            .iter()
            .map(|h| (*h).to_owned())
            .collect::<Vec<_>>(),
    ));
    enum Step {
        Head(Vec<u8>),
        From(Option<i32>),
        Done,
    }
    let body = stream::unfold(Step::Head(head), move |step| {
        let fetch = match &step {
            Step::From(before) => Some(next(*before)),
            _ => None,
        };
        async move {
            match step {
                Step::Head(h) => Some((
                    Ok::<_, std::io::Error>(web::Bytes::from(h)),
                    Step::From(None),
                )),
                Step::Done => None,
                Step::From(_) => match fetch?.await {
                    Ok((lines, Some(more))) => {
                        Some((Ok(web::Bytes::from(lines)), Step::From(Some(more))))
                    }
                    Ok((lines, None)) => Some((Ok(web::Bytes::from(lines)), Step::Done)),
                    Err(e) => {
                        tracing::error!(error = %e, "export cut short");
                        Some((Err(std::io::Error::other("export cut short")), Step::Done))
                    }
                },
            }
        }
    });
    let date = chrono::Utc::now().format("%Y%m%d");
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}-{date}.csv\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

async fn record_export(
    state: &AppState,
    req: &HttpRequest,
    operator: &users::User,
    what: &str,
) -> Result<(), AppError> {
    let origin = super::origin(state, req, Channel::Admin);
    let (actor, detail) = (operator.id, format!("{what} {}", req.query_string()));
    state
        .db
        .write(move |c| {
            Ok(audit::record(
                c,
                Some(actor),
                Action::Exported,
                None,
                detail.trim(),
                db::now(),
                &origin,
            )?)
        })
        .await?;
    tracing::info!(operator = actor, export = what, "list exported");
    Ok(())
}

fn time(at: Option<chrono::NaiveDateTime>) -> String {
    at.map(beijing_time).unwrap_or_default()
}

/// `GET /admin/users/export.csv?q=&tail=&nickname=`.
pub async fn users_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    Superuser(operator): Superuser,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = users_filter(&query)?;
    record_export(&state, &req, &operator, "users").await?;
    let state = state.into_inner();
    Ok(streamed(
        "users",
        &[
            "id",
            "用户名",
            "手机号",
            "昵称",
            "状态",
            "管理员",
            "注册时间",
            "最近登录",
            "第三方账号",
        ],
        move |before| {
            let (state, filter) = (state.clone(), filter.clone());
            async move {
                state
                    .db
                    .read(move |c| {
                        let found = users::export_batch(c, &filter, before, BATCH)?;
                        let ids: Vec<i32> = found.iter().map(|u| u.id).collect();
                        let bound = identities::of_users(c, &ids)?;
                        let mut out = Vec::new();
                        for u in &found {
                            let mine: Vec<&str> = bound
                                .iter()
                                .filter(|i| i.user_id == u.id)
                                .map(|i| i.provider_label())
                                .collect();
                            out.extend(csv_line(&[
                                u.id.to_string(),
                                u.username.clone(),
                                u.mobile.clone(),
                                u.nickname.clone(),
                                if u.is_active { "启用" } else { "禁用" }.to_owned(),
                                if u.is_superuser {
                                    "超级管理员"
                                } else if u.is_staff {
                                    "管理员"
                                } else {
                                    ""
                                }
                                .to_owned(),
                                beijing_time(u.date_joined),
                                time(u.last_login),
                                mine.join(" "),
                            ]));
                        }
                        let more = next_after(&found, |u| u.id);
                        Ok((out, more))
                    })
                    .await
            }
        },
    ))
}

/// `GET /admin/bindings/export.csv?provider=&openid=`.
pub async fn bindings_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    Superuser(operator): Superuser,
    query: web::Query<BindingsQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = bindings_filter(&query)?;
    record_export(&state, &req, &operator, "bindings").await?;
    let state = state.into_inner();
    Ok(streamed(
        "bindings",
        &[
            "方式",
            "openid",
            "unionid",
            "用户id",
            "用户名",
            "手机号",
            "昵称",
            "绑定时间",
            "最近登录",
        ],
        move |before| {
            let (state, filter) = (state.clone(), filter.clone());
            async move {
                state
                    .db
                    .read(move |c| {
                        let found = identities::export_batch(c, &filter, before, BATCH)?;
                        let mut out = Vec::new();
                        for (i, u) in &found {
                            out.extend(csv_line(&[
                                i.provider_label().to_owned(),
                                i.openid.clone(),
                                i.unionid.clone().unwrap_or_default(),
                                u.id.to_string(),
                                u.username.clone(),
                                u.mobile.clone(),
                                i.nickname.clone(),
                                beijing_time(i.bound_at),
                                time(i.last_login_at),
                            ]));
                        }
                        let more = next_after(&found, |(i, _)| i.id);
                        Ok((out, more))
                    })
                    .await
            }
        },
    ))
}

/// `GET /admin/audit/export.csv?user=&action=&from=&until=`.
pub async fn audit_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    Superuser(operator): Superuser,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let (who, action, range) = audit_query(&query)?;
    let found = state
        .db
        .read(move |c| Ok(admin::audit_filter(c, &who, action, range)?))
        .await?;
    let Some(filter) = found else {
        return Err(AppError::BadRequest("没有这个用户".into()));
    };
    record_export(&state, &req, &operator, "audit").await?;
    let state = state.into_inner();
    Ok(streamed(
        "audit",
        &["时间", "操作", "操作人", "对象", "详情", "渠道", "IP"],
        move |before| {
            let (state, filter) = (state.clone(), filter.clone());
            async move {
                state
                    .db
                    .read(move |c| {
                        let found = audit::export_batch(c, &filter, before, BATCH)?;
                        let more = next_after(&found, |e| e.id);
                        let named = admin::name_entries(c, found)?;
                        let mut out = Vec::new();
                        for n in named {
                            let who = |p: &Option<(i32, String)>| {
                                p.as_ref().map(|(_, n)| n.clone()).unwrap_or_default()
                            };
                            out.extend(csv_line(&[
                                beijing_time(n.entry.created_at),
                                Action::describe(&n.entry.action, &n.entry.detail),
                                who(&n.actor),
                                who(&n.target),
                                n.entry.detail.clone(),
                                n.entry.channel.clone(),
                                n.entry.ip.clone(),
                            ]));
                        }
                        Ok((out, more))
                    })
                    .await
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_never_formulas() {
        let line = String::from_utf8(csv_line(&[
            "小明".into(),
            "a,b".into(),
            "say \"hi\"".into(),
            "=1+1".into(),
            "-2".into(),
        ]))
        .unwrap();
        assert_eq!(line, "小明,\"a,b\",\"say \"\"hi\"\"\",'=1+1,'-2\n");
    }
}
