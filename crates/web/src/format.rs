//! How values read to people: relative times with the exact time beside
//! them, sizes in KB/MB/GB, and pages of long lists.

use chrono::{DateTime, Utc};

/// A time as "3 minutes ago", with the exact UTC time for hovering.
#[derive(Debug, Clone)]
pub(crate) struct When {
    pub human: String,
    pub exact: String,
}

impl When {
    pub fn new(t: DateTime<Utc>) -> Self {
        Self::at(t, Utc::now())
    }

    pub fn opt(t: Option<DateTime<Utc>>) -> Option<Self> {
        t.map(Self::new)
    }

    fn at(t: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let secs = (now - t).num_seconds();
        let (n, future) = if secs < 0 {
            (-secs, true)
        } else {
            (secs, false)
        };
        let human = match n {
            0..=44 => "just now".to_owned(),
            45..=89 => phrase(1, "minute", future),
            90..=3_599 => phrase((n + 30) / 60, "minute", future),
            3_600..=86_399 => phrase((n + 1_800) / 3_600, "hour", future),
            86_400..=2_591_999 => phrase((n + 43_200) / 86_400, "day", future),
            2_592_000..=31_535_999 => phrase(n / 2_592_000, "month", future),
            _ => phrase(n / 31_536_000, "year", future),
        };
        Self {
            human,
            exact: t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        }
    }
}

fn phrase(n: i64, unit: &str, future: bool) -> String {
    let s = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{s}")
    } else {
        format!("{n} {unit}{s} ago")
    }
}

/// Bytes as people read them: "812 B", "3.4 MB".
pub(crate) fn size(bytes: Option<i64>) -> String {
    let Some(b) = bytes else {
        return "unknown".to_owned();
    };
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{b} {name}")
    } else if v < 10.0 {
        format!("{v:.1} {name}")
    } else {
        format!("{v:.0} {name}")
    }
}

/// Rows per page of every list.
pub(crate) const PER_PAGE: i64 = 30;

/// Where page `page` (1-based, as asked) starts; a page past the end is
/// empty, and the pager built from the total then offers the last one.
pub(crate) fn offset(page: Option<i64>) -> i64 {
    (page.unwrap_or(1).clamp(1, 1_000_000) - 1) * PER_PAGE
}

/// One page of a list: where it starts and the links around it.
#[derive(Debug, Clone)]
pub(crate) struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    /// The list's URL up to where `page=N` is appended (`/x?q=a&`).
    pub base: String,
    /// The query parameter of this list's page number: `page`, or the
    /// list's own name where a page has several lists.
    pub param: &'static str,
}

impl Pager {
    pub fn new(page: Option<i64>, total: i64, base: String) -> Self {
        Self::named("page", page, total, base)
    }

    /// The pager of one of several lists on a page, numbered by `?{param}=N`.
    pub fn named(param: &'static str, page: Option<i64>, total: i64, base: String) -> Self {
        let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
        let page = page.unwrap_or(1).clamp(1, pages);
        Self {
            page,
            pages,
            total,
            base,
            param,
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * PER_PAGE
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.pages
    }

    pub fn prev(&self) -> String {
        format!("{}{}={}", self.base, self.param, self.page - 1)
    }

    pub fn next(&self) -> String {
        format!("{}{}={}", self.base, self.param, self.page + 1)
    }

    /// A slice of an in-memory list (small lists: teams, members, users).
    pub fn slice<'a, T>(&self, all: &'a [T]) -> &'a [T] {
        let start = usize::try_from(self.offset()).unwrap_or(0).min(all.len());
        let end = (start + PER_PAGE as usize).min(all.len());
        all.get(start..end).unwrap_or(&[])
    }
}

/// Percent-encodes a query value for a link.
pub(crate) fn query_value(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_say_them() {
        let now = Utc::now();
        let ago = |s: i64| When::at(now - chrono::Duration::seconds(s), now).human;
        assert_eq!(ago(3), "just now");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(180), "3 minutes ago");
        assert_eq!(ago(7_200), "2 hours ago");
        assert_eq!(ago(86_400 * 3), "3 days ago");
        assert_eq!(ago(-600), "in 10 minutes");
        assert!(When::at(now, now).exact.ends_with(" UTC"));
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size(Some(812)), "812 B");
        assert_eq!(size(Some(3_400_000)), "3.4 MB");
        assert_eq!(size(Some(45_000_000)), "45 MB");
        assert_eq!(size(None), "unknown");
    }

    #[test]
    fn pages_clamp_and_slice() {
        let p = Pager::new(Some(9), 61, "/x?".into());
        assert_eq!((p.page, p.pages), (3, 3));
        assert!(p.has_prev() && !p.has_next());
        let all: Vec<i64> = (0..61).collect();
        assert_eq!(p.slice(&all), &[60]);
        let first = Pager::new(None, 0, "/x?".into());
        assert_eq!((first.page, first.pages, first.offset()), (1, 1, 0));
        let named = Pager::named("members", Some(1), 31, "/teams/3?".into());
        assert_eq!(named.next(), "/teams/3?members=2");
    }
}
