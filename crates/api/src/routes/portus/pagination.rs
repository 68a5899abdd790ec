//! Portus list conventions: `page`, `per_page` (15), `all`, `sort_attr`,
//! `sort_order`, and the `X-Total`/`X-Page`/... and `Link` headers.

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Pagination {
    page: Option<usize>,
    per_page: Option<usize>,
    all: Option<bool>,
    sort_attr: Option<String>,
    sort_order: Option<String>,
}

pub(crate) type PageQuery = Query<Pagination>;

/// Orders two JSON field values: numbers by value, everything else as text,
/// missing fields last.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Greater,
        (_, Value::Null) => std::cmp::Ordering::Less,
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

/// One page of `items`, sorted as asked, with Portus's pagination headers.
pub(crate) fn paginate<T: Serialize>(items: Vec<T>, q: &Pagination) -> Response {
    let mut items: Vec<Value> = items
        .iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect();
    if let Some(attr) = q.sort_attr.as_deref() {
        items.sort_by(|a, b| compare(&a[attr], &b[attr]));
        if q.sort_order.as_deref() == Some("desc") {
            items.reverse();
        }
    }
    let total = items.len();
    let per_page = q.per_page.unwrap_or(15).clamp(1, 1000);
    let page = q.page.unwrap_or(1).max(1);
    let pages = total.div_ceil(per_page).max(1);
    let shown: Vec<Value> = if q.all.unwrap_or(false) {
        items
    } else {
        items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect()
    };
    let next = (page < pages).then(|| page + 1);
    let prev = (page > 1).then(|| page - 1);
    let link = |p: usize, rel: &str| format!("<?page={p}&per_page={per_page}>; rel=\"{rel}\"");
    let mut links = vec![link(1, "first")];
    links.extend(prev.map(|p| link(p, "prev")));
    links.extend(next.map(|p| link(p, "next")));
    links.push(link(pages, "last"));
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    set("x-total", total.to_string());
    set("x-total-pages", pages.to_string());
    set("x-per-page", per_page.to_string());
    set("x-page", page.to_string());
    set(
        "x-next-page",
        next.map(|p| p.to_string()).unwrap_or_default(),
    );
    set(
        "x-prev-page",
        prev.map(|p| p.to_string()).unwrap_or_default(),
    );
    set("link", links.join(", "));
    (StatusCode::OK, headers, Json(shown)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_an_attribute_and_pages() {
        let q = Pagination {
            page: Some(2),
            per_page: Some(1),
            sort_attr: Some("name".into()),
            sort_order: Some("desc".into()),
            ..Default::default()
        };
        let items = vec![
            serde_json::json!({"name": "a"}),
            serde_json::json!({"name": "c"}),
            serde_json::json!({"name": "b"}),
        ];
        let r = paginate(items, &q);
        let h = r.headers();
        assert_eq!(h["x-total"], "3");
        assert_eq!(h["x-next-page"], "3");
        assert!(h["link"].to_str().unwrap().contains("rel=\"last\""));
    }
}
