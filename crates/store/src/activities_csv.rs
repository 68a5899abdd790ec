//! The audit log as CSV, one format for the API's export and the web UI's
//! download, so a spreadsheet gets the same columns and the same defusing
//! of formulas from either.

use crate::Activity;

const HEADER: [&str; 14] = [
    "id",
    "created_at",
    "last_at",
    "action",
    "actor",
    "addr",
    "namespace",
    "repository",
    "tag",
    "digest",
    "team",
    "target",
    "count",
    "detail",
];

/// `rows` as RFC 4180 CSV with a header line and CRLF line ends.
pub fn activities_csv(rows: Vec<Activity>) -> String {
    let mut out = String::new();
    push_row(&mut out, &HEADER);
    for a in rows {
        let cells = [
            a.id.to_string(),
            a.created_at.to_rfc3339(),
            a.last_at.to_rfc3339(),
            a.action,
            a.actor_name.unwrap_or_default(),
            a.addr.unwrap_or_default(),
            a.namespace_name.unwrap_or_default(),
            a.repository.unwrap_or_default(),
            a.tag.unwrap_or_default(),
            a.digest.unwrap_or_default(),
            a.team_name.unwrap_or_default(),
            a.target.unwrap_or_default(),
            a.count.to_string(),
            a.detail.to_string(),
        ];
        push_row(&mut out, &cells);
    }
    out
}

fn push_row<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    let line: Vec<String> = cells.iter().map(|c| csv_cell(c.as_ref())).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, quote or line
/// break, quotes doubled. A cell a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a
/// leading `'`, so an image tag or username cannot smuggle one in.
pub fn csv_cell(raw: &str) -> String {
    let guarded = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell(""), "");
    }
}
