//! `/admin/`: the dashboard. Sign-ups and logins per day, the QQ funnel, failed binds by
//! row, SMS sent and refused — the last 30 days, as SVG drawn here (no script, no CDN)
//! with the numbers in a table beside each chart. Counted from the database (accounts,
//! the login history, the daily event counts), so every instance shows the same.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;

use super::admin::{Frame, Tab};
use crate::db;
use crate::domain::Provider;
use crate::state::AppState;
use crate::web::auth::Staff;
use crate::web::error::AppError;
use crate::web::session::TypedSession;
use crate::web::views::{render, Nav};

const DAYS: i64 = 30;

/// A daily series: its name and 30 values, oldest day first.
pub struct Series {
    pub name: &'static str,
    pub color: &'static str,
    pub values: Vec<i64>,
}

/// One chart: its title, its days, its series, the SVG, and the table's rows.
pub struct Chart {
    pub id: String,
    pub title: String,
    pub svg: String,
    /// Column heads and rows (label, one value per column).
    pub columns: Vec<&'static str>,
    pub rows: Vec<(String, Vec<i64>)>,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    nav: Nav,
    frame: Frame,
    charts: Vec<Chart>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Bars per day, the series side by side (stacked would hide the small ones).
fn daily_svg(title: &str, days: &[NaiveDate], series: &[Series]) -> String {
    // The plot sits inside margins that hold its labels: the values at the left (the
    // top one is half above the top line), the dates below (the last one is centred
    // under the last bar, half past it).
    let (w, h) = (720.0_f64, 220.0_f64);
    let (left, right, top_margin, bottom) = (36.0_f64, 24.0_f64, 10.0_f64, 24.0_f64);
    let plot_h = h - bottom - top_margin;
    // A top that four grid lines divide into whole numbers.
    let top = series
        .iter()
        .flat_map(|s| s.values.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let max = ((top.max(1) + 3) / 4 * 4) as f64;
    let slot = (w - left - right) / days.len().max(1) as f64;
    let bar = (slot * 0.8 / series.len().max(1) as f64).max(1.0);
    let mut out = format!(
        r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="{}" class="chart" xmlns="http://www.w3.org/2000/svg">"#,
        escape(title)
    );
    for k in 0..=4 {
        let y = top_margin + plot_h * (1.0 - k as f64 / 4.0);
        let v = (max * k as f64 / 4.0).round();
        out.push_str(&format!(
            r#"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="axis" text-anchor="end">{v}</text>"#,
            w - right,
            left - 4.0,
            y + 4.0
        ));
    }
    for (d, day) in days.iter().enumerate() {
        let x0 = left + d as f64 * slot + slot * 0.1;
        for (i, s) in series.iter().enumerate() {
            let v = s.values.get(d).copied().unwrap_or(0);
            let bh = plot_h * v as f64 / max;
            out.push_str(&format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{bh:.1}" fill="{}"><title>{} {}: {v}</title></rect>"#,
                x0 + i as f64 * bar,
                h - bottom - bh,
                s.color,
                day.format("%m-%d"),
                escape(s.name),
            ));
        }
        if d % 5 == 0 || d + 1 == days.len() {
            out.push_str(&format!(
                r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="middle">{}</text>"#,
                x0 + slot * 0.4,
                h - 6.0,
                day.format("%m-%d")
            ));
        }
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per step or reason.
fn bars_svg(title: &str, items: &[(String, i64)], color: &str) -> String {
    let (w, row) = (720.0_f64, 28.0_f64);
    let h = row * items.len().max(1) as f64 + 8.0;
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let label_w = 220.0;
    let mut out = format!(
        r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="{}" class="chart" xmlns="http://www.w3.org/2000/svg">"#,
        escape(title)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let bw = (w - label_w - 60.0) * *v as f64 / max;
        out.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="end">{}</text><rect x="{label_w}" y="{y:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" class="axis">{v}</text>"#,
            label_w - 8.0,
            y + row * 0.6,
            escape(label),
            row * 0.7,
            label_w + bw + 6.0,
            y + row * 0.6,
        ));
    }
    out.push_str("</svg>");
    out
}

fn beijing_day(t: chrono::NaiveDateTime) -> NaiveDate {
    (t + chrono::Duration::hours(8)).date()
}

/// The spec's bind rows, as operators read them.
const BIND_ROWS: &[(&str, &str)] = &[
    ("1", "1 缺少必传参数"),
    ("2", "2 手机号格式错误"),
    ("3", "3 密码格式错误"),
    ("4", "4 短信验证码失效"),
    ("5", "5 短信验证码错误"),
    ("6", "6 openid无效"),
    ("7", "7 用户名或密码错误"),
    ("8", "8 账号已绑定其他QQ"),
    ("9", "9 QQ登录失败"),
    ("captcha", "图形验证码"),
    ("limited", "超过频率限制"),
    ("disabled", "账号已禁用"),
];

/// Everything the dashboard counts, from the database.
pub struct Counts {
    pub days: Vec<NaiveDate>,
    pub signups: Vec<i64>,
    /// Logins per method and day.
    pub logins: BTreeMap<String, Vec<i64>>,
    /// Event totals over the 30 days and per day (`login_started:qq`, `sms:sent`…).
    pub events: BTreeMap<String, Vec<i64>>,
}

impl Counts {
    pub fn total(&self, event: &str) -> i64 {
        self.events.get(event).map_or(0, |v| v.iter().sum())
    }

    fn daily(&self, event: &str) -> Vec<i64> {
        self.events
            .get(event)
            .cloned()
            .unwrap_or_else(|| vec![0; self.days.len()])
    }
}

/// The last 30 days' counts, up to `today` (Beijing).
pub async fn counts(state: &AppState, today: NaiveDate) -> Result<Counts, AppError> {
    state.counts.flush(&state.db).await;
    state.logins.flush(&state.db).await;
    let first = today - chrono::Duration::days(DAYS - 1);
    let since = first.and_hms_opt(0, 0, 0).unwrap_or_default() - chrono::Duration::hours(8);
    let (joined, logins, events) = state
        .db
        .read(move |c| {
            Ok((
                db::users::joined_since(c, since)?,
                db::login_history::per_day(c, since)?,
                db::events::since(c, first)?,
            ))
        })
        .await?;
    let days: Vec<NaiveDate> = (0..DAYS)
        .map(|i| first + chrono::Duration::days(i))
        .collect();
    let index = |d: NaiveDate| (d - first).num_days();
    let mut signups = vec![0; DAYS as usize];
    for t in joined {
        if let Ok(i) = usize::try_from(index(beijing_day(t))) {
            if let Some(v) = signups.get_mut(i) {
                *v += 1;
            }
        }
    }
    let mut by_method: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (t, method) in logins {
        if let Ok(i) = usize::try_from(index(beijing_day(t))) {
            if i < DAYS as usize {
                by_method
                    .entry(method)
                    .or_insert_with(|| vec![0; DAYS as usize])[i] += 1;
            }
        }
    }
    let mut by_event: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (day, event, n) in events {
        if let Ok(i) = usize::try_from(index(day)) {
            if i < DAYS as usize {
                by_event
                    .entry(event)
                    .or_insert_with(|| vec![0; DAYS as usize])[i] += n;
            }
        }
    }
    Ok(Counts {
        days,
        signups,
        logins: by_method,
        events: by_event,
    })
}

fn table(days: &[NaiveDate], series: &[Series]) -> (Vec<&'static str>, Vec<(String, Vec<i64>)>) {
    let columns = series.iter().map(|s| s.name).collect();
    let rows = days
        .iter()
        .enumerate()
        .rev()
        .map(|(d, day)| {
            (
                day.format("%Y-%m-%d").to_string(),
                series.iter().map(|s| s.values[d]).collect(),
            )
        })
        .collect();
    (columns, rows)
}

fn daily_chart(
    id: &'static str,
    title: &'static str,
    days: &[NaiveDate],
    series: Vec<Series>,
) -> Chart {
    let svg = daily_svg(title, days, &series);
    let (columns, rows) = table(days, &series);
    Chart {
        id: id.to_owned(),
        title: title.to_owned(),
        svg,
        columns,
        rows,
    }
}

fn bars_chart(id: String, title: String, items: Vec<(String, i64)>, color: &str) -> Chart {
    let svg = bars_svg(&title, &items, color);
    Chart {
        id,
        title,
        svg,
        columns: vec!["次数"],
        rows: items.into_iter().map(|(l, v)| (l, vec![v])).collect(),
    }
}

const METHODS: &[(&str, &str, &str)] = &[
    ("password", "密码", "#2563eb"),
    ("qq", "QQ", "#12b7f5"),
    ("wechat", "微信", "#07c160"),
    ("weibo", "微博", "#e6162d"),
    ("register", "注册", "#9333ea"),
    ("api", "API", "#64748b"),
];

/// A provider's login, step by step over the 30 days: started, back from the provider
/// with an identity, shown the bind form, bound.
fn funnel_chart(c: &Counts, provider: Provider) -> Chart {
    let (p, label) = (provider.as_str(), provider.label());
    let callback_ok: i64 = ["bound", "bind_form", "link_form", "same_person"]
        .iter()
        .map(|o| c.total(&format!("login:{p}:{o}")))
        .sum();
    let steps = vec![
        (
            format!("发起{label}登录"),
            c.total(&format!("login_started:{p}")),
        ),
        (format!("{label}回调成功"), callback_ok),
        (
            "显示绑定页".to_owned(),
            c.total(&format!("login:{p}:bind_form")),
        ),
        ("绑定成功".to_owned(), c.total(&format!("bound:{p}"))),
    ];
    let color = METHODS
        .iter()
        .find(|(m, _, _)| *m == p)
        .map_or("#12b7f5", |(_, _, color)| color);
    bars_chart(
        format!("{p}-funnel"),
        format!("{label}登录漏斗（30天）"),
        steps,
        color,
    )
}

/// The charts of `c`, with a login funnel for each of `providers` (those that are on).
pub fn charts(c: &Counts, providers: &[Provider]) -> Vec<Chart> {
    let login_series = METHODS
        .iter()
        .map(|(m, name, color)| Series {
            name,
            color,
            values: c
                .logins
                .get(*m)
                .cloned()
                .unwrap_or_else(|| vec![0; c.days.len()]),
        })
        .collect();
    let refusals = BIND_ROWS
        .iter()
        .map(|(row, label)| ((*label).to_owned(), c.total(&format!("bind_refused:{row}"))))
        .collect();
    let mut charts = vec![
        daily_chart(
            "signups",
            "每日新增账号",
            &c.days,
            vec![Series {
                name: "新增账号",
                color: "#e4393c",
                values: c.signups.clone(),
            }],
        ),
        daily_chart("logins", "每日登录（按方式）", &c.days, login_series),
    ];
    charts.extend(providers.iter().map(|p| funnel_chart(c, *p)));
    charts.push(bars_chart(
        "bind-refusals".to_owned(),
        "绑定失败原因（30天）".to_owned(),
        refusals,
        "#f59e0b",
    ));
    charts.push(daily_chart(
        "sms",
        "每日短信",
        &c.days,
        vec![
            Series {
                name: "已发送",
                color: "#16a34a",
                values: c.daily("sms:sent"),
            },
            Series {
                name: "被拒绝",
                color: "#f59e0b",
                values: c.daily("sms:refused"),
            },
            Series {
                name: "发送失败",
                color: "#dc2626",
                values: c.daily("sms:failed"),
            },
        ],
    ));
    charts
}

/// `GET /admin/`: the dashboard.
pub async fn dashboard(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    Staff(operator): Staff,
) -> Result<HttpResponse, AppError> {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let c = counts(&state, today).await?;
    render(
        StatusCode::OK,
        &DashboardPage {
            nav: Nav::from_request(&req),
            frame: Frame::new(&session, &operator, Tab::Dashboard)?,
            charts: charts(&c, &state.providers.enabled()),
        },
    )
}
