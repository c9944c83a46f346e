//! The `broken` fixture store: good articles among broken files, a draft, an article dated
//! 2099 and a language config does not publish. `check` must name every problem with its path
//! and line; `build` must skip them, publish the rest and still exit 0.

use crate::helpers::Site;
use crate::validators::validate_all;

/// The errors of the broken store: file, line (`None`: the whole file) and a word of the message.
const ERRORS: [(&str, Option<usize>, &str); 6] = [
    ("2023/impossible-date.en.md", Some(3), "date"),
    ("2023/no-title.zh.md", Some(2), "title"),
    ("2023/unclosed.en.md", Some(1), "never closed"),
    ("2023/undecodable.zh.md", Some(6), "undecodable"),
    ("2023/unknown-sector.en.md", Some(4), "sport"),
    ("2024/visit.en.md", None, "duplicate slug 'visit'"),
];

/// Titles of the articles that must be published.
const PUBLISHED: [(&str, &str); 5] = [
    ("zh", "友好城市代表团访问沈阳"),
    ("zh", "中韩企业对接会在沈举办"),
    ("zh", "新版网站上线"),
    ("en", "Sister City Delegation Visits Shenyang"),
    ("en", "First Visit Story"),
];

fn titles(site: &Site, dir: &str) -> Vec<String> {
    let feed = site.json_feed(dir);
    feed["items"].as_array().expect("items").iter().map(|i| i["title"].as_str().expect("title").to_owned()).collect()
}

/// Panics if any output file contains `needle`.
#[track_caller]
fn appears_nowhere(site: &Site, needle: &str) {
    for rel in site.files() {
        assert!(!site.read(&rel).contains(needle), "{rel} contains {needle:?}");
    }
}

#[test]
fn check_lists_every_problem_with_path_and_line_and_fails() {
    let site = Site::with_store("broken");
    let run = site.check();
    run.code(1);
    let errors: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("error: ")).collect();
    for (rel, line, word) in ERRORS {
        let path = site.store.join(rel);
        let prefix = match line {
            Some(line) => format!("error: {}:{line}: ", path.display()),
            None => format!("error: {}: ", path.display()),
        };
        let found = errors.iter().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix:?}\n{run}"));
        assert!(found.contains(word), "{found:?} does not mention {word:?}");
    }
    assert_eq!(errors.len(), ERRORS.len(), "one error line per problem, no more\n{run}");
    let summary = run.stdout.lines().last().unwrap_or_default();
    for part in ["5 articles publishable", "1 drafts", "1 held back", "6 errors", "1 notices"] {
        assert!(summary.contains(part), "summary {summary:?} lacks {part:?}");
    }
}

#[test]
fn build_exits_zero_despite_broken_articles() {
    let site = Site::with_store("broken");
    let run = site.build();
    run.success();
    for (rel, _, _) in ERRORS {
        let path = site.store.join(rel);
        let logged = run.stderr.lines().any(|l| l.contains("ERROR") && l.contains(&path.display().to_string()));
        assert!(logged, "build logged no error for {}\n{run}", path.display());
    }
    assert_eq!(run.summary_field("errors"), ERRORS.len() as u64, "{run}");
}

#[test]
fn skips_malformed_article_and_publishes_the_rest() {
    let site = Site::with_store("broken");
    site.build().success();
    validate_all(&site.out);
    for (lang, title) in PUBLISHED {
        assert!(titles(&site, lang).iter().any(|t| t == title), "{lang}/feed.json lacks {title:?}");
    }
    assert_eq!(titles(&site, "zh").len() + titles(&site, "en").len(), PUBLISHED.len());
    for broken in ["Front Matter Never Closed", "February the Thirtieth", "坏字节", "Football", "Second Visit Story"]
    {
        appears_nowhere(&site, broken);
    }
    for dir in ["zh", "en", "zh/trade", "en/foreign-affairs"] {
        crate::readback::assert_reads_back(&site, dir);
    }
}

#[test]
fn drafts_are_never_published() {
    let site = Site::with_store("broken");
    site.build().success();
    appears_nowhere(&site, "Draft: China-ROK Business Matchmaking");
    appears_nowhere(&site, "/en/articles/good-trade/");
    let zh = site.json_feed("zh");
    let trade = zh["items"].as_array().expect("items").iter().find(|i| i["title"] == "中韩企业对接会在沈举办");
    let trade = trade.expect("the published half of the draft's pair");
    assert!(trade.get("_gazette").is_none(), "the zh entry links its draft translation: {trade}");
    assert!(site.check().stdout.contains("1 drafts"));
}

#[test]
fn future_articles_are_held_back() {
    let site = Site::with_store("broken");
    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("held_back"), 1, "{run}");
    appears_nowhere(&site, "Website Relaunch Far in the Future");
    appears_nowhere(&site, "/en/articles/launch/");
    appears_nowhere(&site, "2099");
    let zh = site.json_feed("zh");
    let launch = zh["items"].as_array().expect("items").iter().find(|i| i["title"] == "新版网站上线");
    assert!(launch.expect("the zh launch article").get("_gazette").is_none(), "links its held-back translation");
}

#[test]
fn unconfigured_language_is_skipped_with_a_notice() {
    let site = Site::with_store("broken");
    let run = site.build();
    run.success();
    let path = site.store.join("2023/good-visit.fr.md");
    let notice = format!("notice: {}: language 'fr' is not configured; skipped", path.display());
    let check = site.check();
    assert!(check.stdout.lines().any(|l| l == notice), "no {notice:?}\n{check}");
    assert!(!check.stdout.lines().any(|l| l.starts_with("error:") && l.contains("good-visit.fr.md")), "{check}");
    let warned = run.stderr.lines().any(|l| l.contains("WARN") && l.contains(&path.display().to_string()));
    assert!(warned, "build did not warn about the fr file\n{run}");
    assert!(!site.out.join("fr").exists(), "a fr feed was written");
    appears_nowhere(&site, "délégation");
    appears_nowhere(&site, "/fr/");

    // A store whose only oddity is the notice passes `check`.
    let clean = Site::empty();
    std::fs::copy(&path, clean.store.join("good-visit.fr.md")).expect("copy");
    std::fs::copy(site.store.join("2023/good-visit.zh.md"), clean.store.join("good-visit.zh.md")).expect("copy");
    clean.check().success();
}

/// `check` promises every problem `build` would skip; an image URL `build` rejects is one.
#[test]
fn check_reports_an_image_url_that_build_rejects() {
    let site = Site::empty();
    site.write_article("good.en.md", "+++\ntitle = \"Good\"\ndate = 2023-05-08\n+++\nFine.\n");
    site.write_article(
        "bad-image.en.md",
        "+++\ntitle = \"Bad image\"\ndate = 2023-05-09\nimage = \"javascript:alert(1)\"\n+++\nBody.\n",
    );
    site.build().success();
    assert_eq!(titles(&site, "en"), ["Good"]);
    appears_nowhere(&site, "javascript:");
    let check = site.check();
    check.code(1);
    let prefix = format!("error: {}:4: field 'image'", site.store.join("bad-image.en.md").display());
    assert!(check.stdout.lines().any(|l| l.starts_with(&prefix)), "expected {prefix:?}\n{check}");
    assert!(check.stdout.contains("1 articles publishable"), "{check}");
}

#[test]
fn empty_title_is_reported_on_its_own_line() {
    let site = Site::empty();
    site.write_article("blank.en.md", "+++\ndate = 2023-05-08\nsectors = []\ntitle = \"   \"\n+++\nBody.\n");
    let check = site.check();
    check.code(1);
    let expected = format!("error: {}:4: field 'title' is empty", site.store.join("blank.en.md").display());
    assert!(check.stdout.lines().any(|l| l == expected), "expected {expected:?}\n{check}");
}
