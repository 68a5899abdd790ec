//! Repository descriptions: Markdown rendered to HTML that cannot carry a
//! script. Raw HTML in the source is shown as text (never passed through),
//! and a link or image whose URL is not http(s), mailto, or relative loses
//! its URL, so `javascript:` and `data:` never reach an attribute; the CSP
//! forbids inline script besides.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

/// Whether `url` may stand in an `href` or `src`.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || lower.starts_with('#')
        || (lower.starts_with('/') && !lower.starts_with("//"))
    {
        return true;
    }
    // Relative (`docs/x.md`): no scheme before the first `/`, `?` or `#`.
    let head = lower.split(['/', '?', '#']).next().unwrap_or("");
    !head.contains(':') && !lower.starts_with("//") && !lower.is_empty()
}

fn neutralize(url: CowStr<'_>) -> CowStr<'_> {
    if safe_url(&url) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// HTML for a Markdown description, safe to put into a page unescaped.
pub(crate) fn render(source: &str) -> String {
    let parser = Parser::new_ext(
        source,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: neutralize(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: neutralize(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_raw_html_stays_text() {
        let html =
            render("# Title\n\n*bold* <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>bold</em>"));
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn script_urls_lose_their_target() {
        for bad in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](data:text/html,<script>)",
            "![x](javascript:alert(1))",
            "[x](//evil.example/)",
        ] {
            let html = render(bad);
            assert!(
                !html.to_lowercase().contains("javascript:"),
                "{bad}: {html}"
            );
            assert!(!html.contains("data:"), "{bad}: {html}");
            assert!(!html.contains("//evil"), "{bad}: {html}");
        }
        let ok = render("[docs](https://example.org/a) [here](#x) [rel](docs/a.md)");
        assert!(ok.contains("href=\"https://example.org/a\""));
        assert!(ok.contains("href=\"#x\"") && ok.contains("href=\"docs/a.md\""));
    }
}
