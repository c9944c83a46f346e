//! A person's way through the history, over HTTP against the running service: front and
//! sector pages page back through every article, the month archive lists every month and
//! every article of it, every article is a few clicks from its front page, and the sitemap
//! lists every article page with its translations.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use crate::helpers::Site;
use crate::service::{Daemon, get, served_site};
use crate::validators::xmllint_well_formed;

/// 130 English articles over five months, every other one in the trade sector, and 3 with a
/// Chinese translation: more than two front pages.
fn many_articles(site: &Site) -> BTreeSet<String> {
    let mut slugs = BTreeSet::new();
    for n in 0..130 {
        let month = 7 + n % 5;
        let day = 1 + n % 27;
        let sectors = if n % 2 == 0 { "sectors = [\"trade\"]\n" } else { "sectors = [\"foreign-affairs\"]\n" };
        let slug = format!("bulletin-{n:03}");
        site.write_article(
            &format!("many/{slug}.en.md"),
            &format!(
                "+++\ntitle = \"Bulletin {n}\"\ndate = 2023-{month:02}-{day:02}T{:02}:00:00+08:00\n{sectors}+++\n\nText {n}.\n",
                n % 24
            ),
        );
        if n < 3 {
            site.write_article(
                &format!("many/{slug}.zh.md"),
                &format!("+++\ntitle = \"简报{n}\"\ndate = 2023-{month:02}-{day:02}T08:00:00+08:00\n+++\n\n正文。\n"),
            );
        }
        slugs.insert(slug);
    }
    slugs
}

/// Every `href` in `html` that stays on the site, as a path.
fn links(html: &str, base: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .filter_map(|href| {
            if let Some(path) = href.strip_prefix(base) {
                Some(path.to_owned())
            } else if href.starts_with('/') && !href.starts_with("//") {
                Some(href)
            } else {
                None
            }
        })
        .collect()
}

fn started(site: &Site, port: u16) -> Daemon {
    let daemon = Daemon::start(site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(30));
    daemon
}

#[test]
fn front_and_sector_pages_page_back_through_every_article() {
    let (site, port) = served_site("file://outbox", |_| {});
    let ours = many_articles(&site);
    let daemon = started(&site, port);
    let base = format!("http://127.0.0.1:{port}");

    for (start, wanted) in [("/en/", ours.len()), ("/en/sectors/trade/", ours.len() / 2)] {
        let mut url = Some(start.to_owned());
        let mut seen = Vec::new();
        let mut pages = 0;
        while let Some(path) = url {
            let page = daemon.send(&get(&path));
            assert_eq!(page.status, 200, "{path}");
            let html = page.text();
            pages += 1;
            seen.extend(links(&html, &base).into_iter().filter(|l| l.contains("/articles/bulletin-")));
            let next = html.split("<link rel=\"next\" href=\"").nth(1).and_then(|r| r.split('"').next());
            url = next.map(|n| n.strip_prefix(&base).unwrap_or(n).replace("&amp;", "&"));
            if let Some(next) = &url {
                assert!(html.contains("rel=\"next\">"), "{path}: a visible link to {next}");
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{start}: no article on two pages");
        assert_eq!(unique.len(), wanted, "{start}: every one of our articles on some page ({pages} pages)");
        assert!(pages >= 2, "{start} pages");
    }
    let second = daemon.send(&get("/en/?page=2")).text();
    assert!(second.contains("<link rel=\"prev\""), "page 2 links back to page 1");
    assert!(second.contains(&format!("<link rel=\"canonical\" href=\"{base}/en/?page=2\">")), "{second}");
    for bad in ["/en/?page=0", "/en/?page=abc", "/en/?page=999", "/en/?page=-1", "/en/sectors/trade/?page=99"] {
        assert_eq!(daemon.send(&get(bad)).status, 404, "{bad}");
    }
    assert_eq!(daemon.send(&get("/en/?page=1")).status, 200);
}

#[test]
fn every_article_is_a_few_clicks_from_its_front_page_and_in_the_month_archive() {
    let (site, port) = served_site("file://outbox", |_| {});
    let ours = many_articles(&site);
    let daemon = started(&site, port);
    let base = format!("http://127.0.0.1:{port}");

    // Breadth-first from the front page, following links within the English pages.
    let mut depth_of = std::collections::BTreeMap::new();
    let mut queue = VecDeque::from([("/en/".to_owned(), 0)]);
    let mut visited = BTreeSet::new();
    while let Some((path, depth)) = queue.pop_front() {
        if depth > 3 || !visited.insert(path.clone()) {
            continue;
        }
        let page = daemon.send(&get(&path));
        if page.status != 200 || !page.header("content-type").is_some_and(|t| t.starts_with("text/html")) {
            continue;
        }
        for link in links(&page.text(), &base) {
            if let Some(slug) = link.strip_prefix("/en/articles/bulletin-") {
                depth_of.entry(format!("bulletin-{}", slug.trim_end_matches('/'))).or_insert(depth + 1);
            }
            if link.starts_with("/en/") && !link.contains("/articles/") {
                queue.push_back((link, depth + 1));
            }
        }
    }
    let reached: BTreeSet<String> = depth_of.keys().cloned().collect();
    assert_eq!(reached, ours, "every article within three clicks of /en/");

    // The month archive: five months of ours, each listing exactly its articles.
    let archive = daemon.send(&get("/en/archive/"));
    assert_eq!(archive.status, 200);
    let archive = archive.text();
    assert!(archive.contains("July 2023") && archive.contains("November 2023"), "months are named:\n{archive}");
    assert!(archive.contains("26 articles"), "with how many articles each holds (130 over five months)");
    let mut in_months = Vec::new();
    for month in 7..=11 {
        let page = daemon.send(&get(&format!("/en/archive/2023/{month:02}/")));
        assert_eq!(page.status, 200, "month {month}");
        let found: Vec<String> =
            links(&page.text(), &base).into_iter().filter(|l| l.contains("/articles/bulletin-")).collect();
        assert_eq!(found.len(), 26, "2023-{month:02} lists its 26 articles");
        in_months.extend(found);
    }
    let unique: BTreeSet<&String> = in_months.iter().collect();
    assert_eq!(unique.len(), ours.len(), "each article in exactly one month");
    let july = daemon.send(&get("/en/archive/2023/07/")).text();
    assert!(july.contains(&format!("href=\"{base}/en/archive/2023/08/\" rel=\"prev\"")), "July links to August");
    for missing in ["/en/archive/2023/13/", "/en/archive/1999/01/", "/en/archive/2023/7/", "/xx/archive/"] {
        assert_eq!(daemon.send(&get(missing)).status, 404, "{missing}");
    }
}

#[test]
fn the_sitemap_lists_every_article_page_with_its_translations_and_robots_points_to_it() {
    let (site, port) = served_site("file://outbox", |_| {});
    let ours = many_articles(&site);
    let daemon = started(&site, port);
    let base = format!("http://127.0.0.1:{port}");

    let robots = daemon.send(&get("/robots.txt"));
    assert_eq!(robots.status, 200);
    assert!(robots.text().contains(&format!("Sitemap: {base}/sitemap.xml")), "{}", robots.text());

    let sitemap = daemon.send(&get("/sitemap.xml"));
    assert_eq!(sitemap.status, 200);
    assert_eq!(sitemap.header("content-type"), Some("application/xml; charset=utf-8"));
    let text = sitemap.text();
    let file = site.root.join("sitemap.xml");
    std::fs::write(&file, &text).expect("write");
    xmllint_well_formed(&file);
    assert!(text.contains("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\""));
    for slug in &ours {
        let loc = format!("<loc>{base}/en/articles/{slug}/</loc>");
        assert_eq!(text.matches(&loc).count(), 1, "{slug} listed once");
    }
    let translated = text
        .split("<url>")
        .find(|u| u.contains(&format!("<loc>{base}/en/articles/bulletin-000/</loc>")))
        .expect("bulletin-000");
    assert!(translated.contains(&format!("hreflang=\"zh\" href=\"{base}/zh/articles/bulletin-000/\"")), "{translated}");
    assert!(translated.contains(&format!("hreflang=\"en\" href=\"{base}/en/articles/bulletin-000/\"")), "{translated}");
    assert!(translated.contains("<lastmod>2023-"), "{translated}");
    assert_eq!(daemon.send(&get("/sitemap-1.xml")).status, 404, "a small sitemap has no parts");
}

#[test]
fn a_feed_link_leads_to_a_page_that_explains_the_feed() {
    let (site, port) = served_site("file://outbox", |_| {});
    let daemon = started(&site, port);
    let base = format!("http://127.0.0.1:{port}");
    let front = daemon.send(&get("/en/")).text();
    assert!(front.contains("href=\"/en/feed/\""), "the front page links its feed page");
    assert!(
        front.contains("<link rel=\"alternate\" type=\"application/atom+xml\""),
        "readers still discover the feed itself"
    );
    let page = daemon.send(&get("/en/sectors/trade/feed/"));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&format!("value=\"{base}/feeds/en/trade/atom.xml\"")), "the address to copy:\n{html}");
    for format in ["rss.xml", "feed.json"] {
        assert!(html.contains(&format!("href=\"{base}/feeds/en/trade/{format}\"")), "{format}");
    }
    assert!(html.contains("href=\"/zh/sectors/trade/feed/\""), "the same feed in Chinese");
    assert_eq!(daemon.send(&get("/en/sectors/sport/feed/")).status, 404);
    assert_eq!(daemon.send(&get("/xx/feed/")).status, 404);
}

/// The links to past digests' copies on a page of the list, each once, in order.
fn listed_runs(html: &str, base: &str) -> Vec<String> {
    let mut runs: Vec<String> = Vec::new();
    for link in links(html, base).into_iter().filter(|l| l.starts_with("/en/digests/daily/")) {
        if !runs.contains(&link) {
            runs.push(link);
        }
    }
    runs
}

/// The `<link rel="…">` of a page, as a path.
fn rel_link(html: &str, rel: &str, base: &str) -> Option<String> {
    let href = html.split(&format!("<link rel=\"{rel}\" href=\"")).nth(1)?.split('"').next()?;
    Some(href.strip_prefix(base).unwrap_or(href).replace("&amp;", "&"))
}

/// More past digests than one page holds (20): the list pages back through every one of them
/// and forward again, each run on one page, each article in one run.
#[test]
fn the_past_digests_page_back_and_forth_through_every_run() {
    let (site, port) = served_site("file://outbox", |_| {});
    let articles: i64 = 25;
    for i in 0..articles {
        site.write_article(
            &format!("runs/run-{i:02}.en.md"),
            &format!(
                "+++\ntitle = \"Run article {i:02}\"\ndate = 2024-03-{:02}\nsectors = [\"trade\"]\n+++\n\nText.\n",
                i + 1
            ),
        );
    }
    let daemon = started(&site, port);
    let base = format!("http://127.0.0.1:{port}");
    // One run per article, each offering its article to English readers, through the state's
    // own interface (sending 25 digests a second apart would be slower and no truer).
    let db = site.state();
    let mut state = db.get().expect("a connection");
    for i in 0..articles {
        let run = state.open_run("daily", None, 1_800_000_000 + i * 86_400).expect("a run");
        let offered = gazette::state::NewsItem {
            lang: "en".into(),
            slug: format!("run-{i:02}"),
            at: run.cutoff - 60,
            is_fallback: false,
        };
        state.record_news(&run, &[("en", offered)]).expect("recorded");
        assert!(state.finish_run(run.id, run.cutoff).expect("finished"));
    }
    drop(state);

    let mut pages = Vec::new();
    let mut url = Some("/en/digests/".to_owned());
    while let Some(path) = url {
        let page = daemon.send(&get(&path));
        assert_eq!(page.status, 200, "{path}");
        let html = page.text();
        url = rel_link(&html, "next", &base);
        pages.push((path, html));
    }
    let runs: Vec<String> = pages.iter().flat_map(|(_, html)| listed_runs(html, &base)).collect();
    let unique: BTreeSet<&String> = runs.iter().collect();
    assert_eq!(unique.len(), runs.len(), "no run on two pages");
    assert_eq!(runs.len(), 25, "every run listed");
    assert!(pages.len() >= 2, "{} pages", pages.len());
    assert_eq!(listed_runs(&pages[0].1, &base).len(), 20, "a full first page");
    let all: String = pages.iter().map(|(_, html)| html.as_str()).collect();
    for i in 0..articles {
        assert_eq!(all.matches(&format!("<li>Run article {i:02}</li>")).count(), 1, "article {i} in one run");
    }
    // Newest first, the same order walking back from the last page.
    let ids: Vec<i64> = runs.iter().filter_map(|r| r.trim_end_matches('/').rsplit('/').next()?.parse().ok()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let mut back = Vec::new();
    let mut url = rel_link(&pages[pages.len() - 1].1, "prev", &base);
    while let Some(path) = url {
        let html = daemon.send(&get(&path)).text();
        url = rel_link(&html, "prev", &base);
        back.splice(0..0, listed_runs(&html, &base));
    }
    back.extend(listed_runs(&pages[pages.len() - 1].1, &base));
    assert_eq!(back, runs, "the same runs walking back");
}
