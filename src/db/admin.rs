//! The operators' lists and searches, with their paging: what `/admin/` shows, as queries.
//! The pages only call these and lay the rows out.

use std::collections::HashMap;

use diesel::QueryResult;

use super::audit::{self, Action, AuditEntry};
use super::identities::{self, Identity};
use super::users::{self, User};

/// One row of the operators' user list: the account and its bound identities.
pub type UserRow = (User, Vec<Identity>);
use super::AnyConnection;

/// Rows on a list page.
pub const PAGE_SIZE: i64 = 50;

/// Which page of a list: its number (clamped into range), how many there are, and how
/// many rows (a floor when `capped`: the search matched more than it counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: i64,
    pub pages: i64,
    pub total: i64,
    pub capped: bool,
}

impl Page {
    /// Page `requested` of `total` rows, counted up to `cap` when one is given.
    pub fn new(requested: Option<u32>, total: i64, cap: Option<i64>) -> Self {
        let capped = cap.is_some_and(|cap| total > cap);
        let total = cap.map_or(total, |cap| total.min(cap));
        let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        let number = i64::from(requested.unwrap_or(1)).clamp(1, pages);
        Self {
            number,
            pages,
            total,
            capped,
        }
    }

    pub fn offset(&self) -> i64 {
        (self.number - 1) * PAGE_SIZE
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct Listed<T> {
    pub rows: Vec<T>,
    pub page: Page,
}

/// Accounts whose username or mobile starts with `search` (all when empty), newest
/// first, with their QQ binding.
pub fn users(
    c: &mut AnyConnection,
    search: &users::Filter,
    page: Option<u32>,
) -> QueryResult<Listed<UserRow>> {
    let total = users::search_count(c, search)?;
    let cap = (!search.q.is_empty() || !search.is_plain()).then_some(users::SEARCH_COUNT_CAP);
    let page = Page::new(page, total, cap);
    let found = users::search(c, search, page.capped, page.offset(), PAGE_SIZE)?;
    let ids: Vec<i32> = found.iter().map(|u| u.id).collect();
    let mut of_found = identities::of_users(c, &ids)?;
    let rows = found
        .into_iter()
        .map(|u| {
            let (mine, rest) = of_found.drain(..).partition(|i| i.user_id == u.id);
            of_found = rest;
            (u, mine)
        })
        .collect();
    Ok(Listed { rows, page })
}

/// Identities (of one provider, or all) whose openid or unionid starts with the
/// filter's prefix, with their accounts.
pub fn bindings(
    c: &mut AnyConnection,
    filter: &identities::Filter,
    page: Option<u32>,
) -> QueryResult<Listed<(Identity, User)>> {
    let total = identities::search_count(c, filter)?;
    let page = Page::new(page, total, None);
    let rows = identities::search(c, filter, page.offset(), PAGE_SIZE)?;
    Ok(Listed { rows, page })
}

/// An audit entry with its actor and target named (`(id, username)`; `#id` for an
/// account that is gone).
#[derive(Debug)]
pub struct NamedEntry {
    pub entry: AuditEntry,
    pub actor: Option<(i32, String)>,
    pub target: Option<(i32, String)>,
}

/// Names the actors and targets of `entries` (one query for all of them).
fn named(c: &mut AnyConnection, entries: Vec<AuditEntry>) -> QueryResult<Vec<NamedEntry>> {
    let mut ids: Vec<i32> = entries
        .iter()
        .flat_map(|e| [e.actor_id, e.target_user_id])
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<i32, String> = users::usernames(c, &ids)?;
    let name = |id: Option<i32>| {
        id.map(|id| {
            let n = names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
            (id, n)
        })
    };
    Ok(entries
        .into_iter()
        .map(|entry| NamedEntry {
            actor: name(entry.actor_id),
            target: name(entry.target_user_id),
            entry,
        })
        .collect())
}

/// The audit log, newest first: entries done by or to the account `who` names (a
/// username or mobile; all when empty) and of `action`. `None` when `who` names no one.
pub fn audit_log(
    c: &mut AnyConnection,
    who: &str,
    action: Option<Action>,
    range: (Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>),
    page: Option<u32>,
) -> QueryResult<Option<Listed<NamedEntry>>> {
    let Some(filter) = audit_filter(c, who, action, range)? else {
        return Ok(None);
    };
    let page = Page::new(page, audit::count(c, &filter)?, None);
    let entries = audit::list(c, &filter, page.offset(), PAGE_SIZE)?;
    Ok(Some(Listed {
        rows: named(c, entries)?,
        page,
    }))
}

/// The audit filter of the page's fields (`None` when `who` names no one).
pub fn audit_filter(
    c: &mut AnyConnection,
    who: &str,
    action: Option<Action>,
    (from, until): (Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>),
) -> QueryResult<Option<audit::Filter>> {
    let user_id = if who.is_empty() {
        None
    } else {
        match users::find_by_login(c, who)? {
            Some(u) => Some(u.id),
            None => return Ok(None),
        }
    };
    Ok(Some(audit::Filter {
        user_id,
        action,
        from,
        until,
    }))
}

/// Entries with their actor and target named (for an export batch).
pub fn name_entries(
    c: &mut AnyConnection,
    entries: Vec<AuditEntry>,
) -> QueryResult<Vec<NamedEntry>> {
    named(c, entries)
}

/// One account as its page shows it: the account, its identities, its latest audit entries.
pub type UserDetails = (User, Vec<Identity>, Vec<NamedEntry>);

/// The account `id` for its page.
pub fn user_details(c: &mut AnyConnection, id: i32) -> QueryResult<Option<UserDetails>> {
    let Some(user) = users::find_by_id(c, id)? else {
        return Ok(None);
    };
    let binding = identities::all_of_user(c, id)?;
    let filter = audit::Filter {
        user_id: Some(id),
        ..Default::default()
    };
    let entries = audit::list(c, &filter, 0, PAGE_SIZE)?;
    Ok(Some((user, binding, named(c, entries)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_clamped_and_says_when_it_stopped_counting() {
        let p = Page::new(Some(2), 120, None);
        assert_eq!((p.number, p.pages, p.total, p.capped), (2, 3, 120, false));
        assert_eq!(p.offset(), 50);
        assert_eq!(Page::new(Some(99), 120, None).number, 3);
        let p = Page::new(Some(0), 0, None);
        assert_eq!((p.number, p.pages), (1, 1));
        let cap = users::SEARCH_COUNT_CAP;
        let p = Page::new(None, cap + 1, Some(cap));
        assert_eq!((p.total, p.capped, p.pages), (cap, true, cap / PAGE_SIZE));
        assert!(!Page::new(None, cap, Some(cap)).capped);
    }
}
