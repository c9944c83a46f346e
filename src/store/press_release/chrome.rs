//! Page chrome: the lines a government CMS page puts around the text (font-size and print
//! controls, share bars, "scan to open on your phone", previous/next links, related-article
//! lists, view counters). Whole lines only: a line is chrome when one pattern matches all of
//! it. The defaults cover the common layouts; `[store.press_release] strip` adds patterns and
//! `default_strip = false` leaves only those (see the README's store section).

use std::sync::LazyLock;

use anyhow::{Context, Result};
use regex::Regex;

use super::{Dropped, Line, meta};
use crate::locale::script_of;

/// The built-in patterns, each with the name `check --explain` gives it. Each must match a
/// whole (trimmed) line.
const DEFAULTS: [(&str, &str); 4] = [
    (
        "page controls",
        r"(?ix)(?:
            [【\[(（]?\s*(?:
                (?:字体|字号|文字)\s*[：:]?\s*(?:[大中小默认]\s*)+
              | [大中小] | T\s*[|｜]?\s*T
              | 打印(?:本页|此页|文章|页面)? | 关闭(?:窗口|本页|页面)? | 收藏(?:本页)? | 加入收藏
              | 返回(?:顶部|首页|列表)? | 我要纠错 | 纠错 | 保存(?:本页)?
              | (?:分享到|分享)\s*[：:]?\s*(?:(?:微信|微博|新浪微博|腾讯微博|QQ空间|QQ|朋友圈|人人网|豆瓣|抖音|更多)\s*[、,，]?\s*)*
              | [^。\s]{0,8}扫一扫[^。]{0,24} | (?:用)?手机扫描二维码[^。]{0,20}
              | (?:浏览次数|点击数|点击量|浏览量|阅读量|访问量|阅读|浏览)\s*[：:]?\s*\d*\s*次?
              | print(?:\s+this\s+page)? | close(?:\s+window)? | font\s*size\s*[：:]?\s*(?:[asml]\s*[+-]?\s*)*
              | share(?:\s+to|\s+this)?\s*[：:]?\s*(?:(?:wechat|weibo|facebook|twitter|x|linkedin|e-?mail|whatsapp|telegram|vk)\s*[,|/]?\s*)*
              | scan\s+(?:the\s+)?qr\s+code[^.]{0,40} | (?:views?|hits?)\s*[：:]\s*\d+
              | поделиться\s*[：:]?[^.]{0,40} | печать | версия\s+для\s+печати | закрыть(?:\s+окно)?
            )\s*[】\])）]?[\s|｜/·]*
        )+",
    ),
    (
        "previous/next article links",
        r"(?i)[【\[]?\s*(?:上一篇|下一篇|上一条|下一条|上篇|下篇|previous(?:\s+(?:article|story|post))?|next(?:\s+(?:article|story|post))?|предыдущая(?:\s+статья)?|следующая(?:\s+статья)?)\s*[：:】\]].*",
    ),
    ("related-article heading", RELATED),
    ("scan to open on the phone", r"[【\[]?[^。]{0,12}(?:扫一扫|扫描二维码|二维码)[^。]{0,24}[】\]]?"),
];

/// A heading that opens a list of related articles; the list's lines follow it.
const RELATED: &str = r"(?i)[【\[]?\s*(?:相关(?:文章|新闻|链接|阅读|稿件|信息|推荐)|推荐阅读|延伸阅读|related(?:\s+(?:articles|news|stories|links))?|читайте\s+также|по\s+теме)\s*[：:】\]]?";

/// Longest line taken for an item of a related-article list.
const MAX_RELATED_ITEM: usize = 60;

/// Compiled chrome patterns.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// (name, pattern anchored to the whole line), defaults first.
    patterns: Vec<(String, Regex)>,
    related: Option<Regex>,
    /// The patterns as configured, for the index fingerprint.
    source: String,
}

static DEFAULT_CHROME: LazyLock<Chrome> =
    LazyLock::new(|| Chrome::new(true, &[]).unwrap_or_else(|e| unreachable!("the default patterns compile: {e:#}")));

impl Chrome {
    /// The default patterns alone.
    pub fn defaults() -> &'static Chrome {
        &DEFAULT_CHROME
    }

    /// The defaults (when `with_defaults`) and the configured `strip` patterns; an error names
    /// the pattern that does not compile.
    pub fn new(with_defaults: bool, strip: &[String]) -> Result<Chrome> {
        let mut patterns = Vec::new();
        let whole = |pattern: &str| Regex::new(&format!("^(?:{pattern})$"));
        if with_defaults {
            for (name, pattern) in DEFAULTS {
                let regex = whole(pattern).with_context(|| format!("default pattern '{name}'"))?;
                patterns.push((format!("page chrome ({name})"), regex));
            }
        }
        for (i, pattern) in strip.iter().enumerate() {
            let regex = whole(pattern)
                .with_context(|| format!("store.press_release.strip[{i}]: '{pattern}' is not a regular expression"))?;
            patterns.push((format!("strip pattern {} `{pattern}`", i + 1), regex));
        }
        let related = with_defaults.then(|| whole(RELATED)).transpose().context("default related-article pattern")?;
        let source = format!("{with_defaults}|{}", strip.join("\u{1f}"));
        Ok(Chrome { patterns, related, source })
    }

    /// What the index cache must know: a change of patterns rereads every file.
    pub fn fingerprint(&self) -> &str {
        &self.source
    }

    /// The name of the first pattern that matches all of `text`.
    pub fn matches(&self, text: &str) -> Option<&str> {
        self.patterns.iter().find(|(_, regex)| regex.is_match(text)).map(|(name, _)| name.as_str())
    }

    /// Drops chrome lines, noting each in `dropped`. A line that carries the publication date
    /// is never dropped (its chrome is cut from the values, [`Chrome::clean_value`]); the lines
    /// after a related-article heading go with it while they are short items in its script.
    pub(super) fn strip<'a>(&self, lines: Vec<Line<'a>>, dropped: &mut Vec<Dropped>) -> Vec<Line<'a>> {
        let mut kept = Vec::with_capacity(lines.len());
        let mut related_script = None;
        for line in lines {
            let drop = |why: &str| Dropped { line: line.number, text: line.text.to_owned(), why: why.to_owned() };
            if let Some(script) = related_script {
                let is_item = line.text.chars().count() <= MAX_RELATED_ITEM
                    && !line.text.contains(['。', '！', '？'])
                    && script_of(line.text) == Some(script);
                if is_item {
                    dropped.push(drop("page chrome (related-article list)"));
                    continue;
                }
                related_script = None;
            }
            if meta::has_date_field(line.text) {
                kept.push(line);
                continue;
            }
            if let Some(why) = self.matches(line.text) {
                if self.related.as_ref().is_some_and(|r| r.is_match(line.text)) {
                    related_script = script_of(line.text);
                }
                dropped.push(drop(why));
                continue;
            }
            kept.push(line);
        }
        kept
    }

    /// A metadata value with the chrome that shares its line cut off: everything from an
    /// opening bracket or a `|` on (`市外办 【打印本页】`), and trailing words that are chrome
    /// by themselves (`市外办 打印本页 关闭窗口`).
    pub fn clean_value<'v>(&self, value: &'v str) -> &'v str {
        let cut = value.find(['【', '[', '|', '｜']).map_or(value, |at| &value[..at]).trim();
        let mut end = cut;
        while let Some((rest, last)) = end.rsplit_once(char::is_whitespace) {
            if self.matches(last).is_none() {
                break;
            }
            end = rest.trim_end();
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_patterns_match_whole_chrome_lines_only() {
        let chrome = Chrome::defaults();
        for line in [
            "【字体：大 中 小】 【打印本页】 【关闭窗口】",
            "【大】【中】【小】",
            "分享到： 微信 微博 QQ空间",
            "扫一扫在手机打开当前页",
            "上一篇：市外办召开2024年工作会议",
            "阅读：356次",
            "Share to: WeChat | Weibo",
            "[Print] [Close]",
        ] {
            assert!(chrome.matches(line).is_some(), "{line}");
        }
        for line in ["会议要求各处室打印本页材料。", "The delegation will close the forum.", "上一篇文章提到的问题"]
        {
            assert!(chrome.matches(line).is_none(), "{line}");
        }
    }

    #[test]
    fn configured_patterns_add_to_or_replace_the_defaults() {
        let strip = vec!["本文已被浏览\\d+次".to_owned()];
        let added = Chrome::new(true, &strip).unwrap();
        assert_eq!(added.matches("本文已被浏览12次"), Some("strip pattern 1 `本文已被浏览\\d+次`"));
        assert!(added.matches("【打印本页】").is_some());
        // Anchored: a pattern matches a whole line, never part of one.
        assert!(added.matches("正文。本文已被浏览12次").is_none());
        let alone = Chrome::new(false, &strip).unwrap();
        assert!(alone.matches("【打印本页】").is_none());
        let error = Chrome::new(true, &["(".to_owned()]).unwrap_err();
        assert!(format!("{error:#}").starts_with("store.press_release.strip[0]: '(' is not a regular expression"));
    }

    #[test]
    fn chrome_is_cut_from_metadata_values() {
        let chrome = Chrome::defaults();
        assert_eq!(chrome.clean_value("市外办 【字体：大 中 小】【打印本页】"), "市外办");
        assert_eq!(chrome.clean_value("市外办 打印本页 关闭窗口"), "市外办");
        assert_eq!(chrome.clean_value("张三 李四"), "张三 李四");
    }
}
