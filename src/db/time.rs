//! Timestamps read from either backend, fast on SQLite.
//!
//! SQLite keeps a timestamp as text, and diesel reads it by trying chrono formats in
//! turn, each written out as a format string and parsed again at every value: a few
//! thousand instructions a column, and a returning login reads three. [`SqlTime`] reads
//! the one shape diesel writes (`YYYY-MM-DD HH:MM:SS` with 0 to 9 fraction digits)
//! digit by digit and hands anything else to diesel. A field uses it with
//! `#[diesel(deserialize_as = SqlTime)]` (or [`SqlOptTime`] for a nullable column)
//! and keeps its `NaiveDateTime` type.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::{Sqlite, SqliteType, SqliteValue};

use super::MultiBackend;

/// A `Timestamp` column's value.
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct SqlTime(pub NaiveDateTime);

/// A `Nullable<Timestamp>` column's value.
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct SqlOptTime(pub Option<NaiveDateTime>);

impl From<SqlTime> for NaiveDateTime {
    fn from(t: SqlTime) -> Self {
        t.0
    }
}

impl From<SqlOptTime> for Option<NaiveDateTime> {
    fn from(t: SqlOptTime) -> Self {
        t.0
    }
}

/// `YYYY-MM-DD HH:MM:SS[.f…]` (1 to 9 fraction digits), as diesel writes a SQLite
/// timestamp; None for any other text (left to diesel's own reading).
fn parse_written(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(20, b.len())? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?.and_hms_nano_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        nanos,
    )
}

impl FromSql<Timestamp, Sqlite> for SqlTime {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if value.value_type() == Some(SqliteType::Text) {
            if let Some(t) = parse_written(value.read_text()) {
                return Ok(Self(t));
            }
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Self)
    }
}

impl FromSql<Timestamp, Pg> for SqlTime {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Self)
    }
}

impl FromSql<Timestamp, MultiBackend> for SqlTime {
    fn from_sql(
        value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

impl<DB> FromSql<Nullable<Timestamp>, DB> for SqlOptTime
where
    DB: diesel::backend::Backend,
    SqlTime: FromSql<Timestamp, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        <SqlTime as FromSql<Timestamp, DB>>::from_sql(value).map(|t| Self(Some(t.0)))
    }

    fn from_nullable_sql(value: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        match value {
            Some(v) => Self::from_sql(v),
            None => Ok(Self(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_diesel_writes_and_leaves_the_rest() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        for (text, want) in [
            ("2026-12-07 16:21:07", day.and_hms_opt(16, 21, 7)),
            (
                "2026-12-07 16:21:07.5",
                day.and_hms_milli_opt(16, 21, 7, 500),
            ),
            (
                "2026-12-07 16:21:07.123456",
                day.and_hms_micro_opt(16, 21, 7, 123_456),
            ),
            (
                "2026-12-07 16:21:07.123456789",
                day.and_hms_nano_opt(16, 21, 7, 123_456_789),
            ),
            ("2026-12-07T16:21:07", None),
            ("2026-12-07 16:21:07.", None),
            ("2026-12-07 16:21:07.1234567890", None),
            ("2026-12-07 16:21:07+08:00", None),
            ("2026-13-07 16:21:07", None),
            ("2026-02-30 16:21:07", None),
            ("2026-12-07 24:00:00", None),
            ("2026-12-07 1a:21:07", None),
            ("２０２６-12-07 16:21:07", None),
            ("", None),
        ] {
            assert_eq!(parse_written(text), want, "{text}");
        }
        // What diesel writes reads back the same.
        let t = day.and_hms_nano_opt(23, 59, 59, 7_000).unwrap();
        assert_eq!(parse_written(&t.format("%F %T%.f").to_string()), Some(t));
    }
}
