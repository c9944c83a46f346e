//! Article text → feed-ready HTML: Markdown rendered with pulldown-cmark, then sanitised with
//! ammonia (no scripts, no event handlers, no `javascript:` links) with every relative link
//! made absolute against the article's URL. Also the first paragraph as plain text, for summaries.

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};
use url::Url;

use crate::text::{escape_html, xml_safe};

fn markdown_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION
}

/// Sanitises `html` for a reader's screen or inbox, resolving relative URLs against `base`.
pub fn sanitize(html: &str, base: &str) -> String {
    let mut builder = Builder::default();
    builder.link_rel(Some("noopener noreferrer"));
    match Url::parse(base) {
        Ok(base) => builder.url_relative(UrlRelative::RewriteWithBase(base)),
        Err(_) => builder.url_relative(UrlRelative::Deny),
    };
    // Character references (`&#1;`, `&#xFFFE;`) are decoded by the Markdown and HTML parsers,
    // after the raw text was cleaned: clean the result again.
    let clean = builder.clean(html).to_string();
    match xml_safe(&clean) {
        std::borrow::Cow::Borrowed(_) => clean,
        std::borrow::Cow::Owned(safe) => safe,
    }
}

/// Renders Markdown `body` to sanitised HTML with links absolute against `base`.
pub fn markdown_to_html(body: &str, base: &str) -> String {
    let mut raw = String::with_capacity(body.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(body, markdown_options()));
    sanitize(&raw, base)
}

/// The text of the first paragraph of Markdown `body` that has any, with markup removed.
pub fn markdown_first_paragraph(body: &str) -> String {
    let mut text = String::new();
    let mut in_paragraph = false;
    for event in Parser::new_ext(body, markdown_options()) {
        match event {
            Event::Start(Tag::Paragraph) => in_paragraph = true,
            Event::End(TagEnd::Paragraph) => {
                if !text.trim().is_empty() {
                    break;
                }
                in_paragraph = false;
            }
            Event::Text(t) | Event::Code(t) if in_paragraph => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak if in_paragraph => text.push(' '),
            _ => {}
        }
    }
    text
}

/// Plain paragraphs (a press release's) as escaped HTML `<p>` elements.
pub fn paragraphs_to_html(paragraphs: &[String]) -> String {
    let mut out = String::new();
    for p in paragraphs {
        out.push_str("<p>");
        out.push_str(&escape_html(&xml_safe(p)));
        out.push_str("</p>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://news.example.gov.cn/en/articles/visit/";

    #[test]
    fn strips_scripts_handlers_and_javascript_links() {
        let html = markdown_to_html(
            "Hi <script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1)) <a href=\"JaVaScRiPt:alert(1)\">y</a>",
            BASE,
        );
        for bad in ["<script", "onerror", "javascript:", "JaVaScRiPt"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }

    #[test]
    fn drops_forbidden_characters_written_as_references() {
        let html = markdown_to_html("a&#1;b &#x1b; <p title=\"x&#1;y\">&#xFFFE;</p>", BASE);
        assert!(!html.contains(['\u{1}', '\u{1b}', '\u{FFFE}']), "{html:?}");
    }

    #[test]
    fn makes_relative_links_absolute() {
        let html = markdown_to_html("![map](map.png) [home](/zh/)", BASE);
        assert!(html.contains("src=\"https://news.example.gov.cn/en/articles/visit/map.png\""), "{html}");
        assert!(html.contains("href=\"https://news.example.gov.cn/zh/\""), "{html}");
    }

    #[test]
    fn first_paragraph_skips_headings_and_drops_markup() {
        let body = "# Heading\n\nThe **Consul** visited `Shenyang`\non Monday.\n\nSecond.";
        assert_eq!(markdown_first_paragraph(body), "The Consul visited Shenyang on Monday.");
    }

    #[test]
    fn escapes_press_release_paragraphs() {
        assert_eq!(paragraphs_to_html(&["A & <b> ]]>".into()]), "<p>A &amp; &lt;b&gt; ]]&gt;</p>\n");
    }
}
