//! Headless Chromium for tests, driven over WebDriver: Debian's `chromedriver` started on a free
//! port and a fantoccini session to it, wrapped for plain blocking tests, with a phone screen,
//! full-page screenshots (`target/browser-screenshots/`), phone-fit measurements and Deque's
//! axe-core accessibility checks. `scripts/test` installs chromium, chromium-driver and axe-core
//! (`GAZETTE_AXE`); without them a test fails, never skips.

use std::fmt;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::runtime::Runtime;

use crate::helpers::repo;
use crate::mailsink::free_port;

/// Debian's browser, the one `scripts/test` installs with its driver.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The width of the phone screen the pages must fit, in CSS pixels.
const PHONE_WIDTH: f64 = 375.0;
/// Longest wait for a page or for chromedriver to come up.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `chromedriver` on a free loopback port; killed when dropped.
struct Chromedriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Chromedriver {
    fn start(dir: &Path) -> Chromedriver {
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run chromedriver ({e}): run scripts/test, which installs Debian's chromium-driver")
            });
        let mut driver = Chromedriver { child, port, log };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited with {status}:\n{}", driver.log());
            }
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen on {port}:\n{}", driver.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chromedriver extension command: a Chrome DevTools Protocol call in the session's tab.
#[derive(Debug)]
struct Cdp(Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.0.to_string()))
    }
}

/// One headless Chromium session, used from plain (blocking) test code; every call waits for
/// its answer. Dropping it ends the session, then chromedriver.
pub struct Browser {
    client: Option<Client>,
    runtime: Runtime,
    driver: Chromedriver,
    _profile: TempDir,
}

impl Browser {
    pub fn open() -> Browser {
        assert!(Path::new(CHROMIUM).exists(), "no {CHROMIUM}: run scripts/test, which installs Debian's chromium");
        let profile = tempfile::Builder::new().prefix("gazette-chromium-").tempdir().expect("temp dir");
        let driver = Chromedriver::start(profile.path());
        let runtime = Runtime::new().expect("a tokio runtime");
        let user_data = profile.path().join("profile");
        // Without the background-networking flags Chromium calls Google, which a closed network
        // answers slowly or never.
        let options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", format!("--user-data-dir={}", user_data.display()),
            ],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = runtime
            .block_on(builder.connect(&url))
            .unwrap_or_else(|e| panic!("no Chromium session ({e}):\n{}", driver.log()));
        Browser { client: Some(client), runtime, driver, _profile: profile }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Where the browser is and what it shows, for failure messages.
    fn whereabouts(&self) -> String {
        let url = self.runtime.block_on(self.client().current_url()).map(|u| u.to_string()).unwrap_or_default();
        let script = "return document.body ? document.body.innerText : ''";
        let text = self.runtime.block_on(self.client().execute(script, vec![])).unwrap_or_default();
        let text: String = text.as_str().unwrap_or_default().chars().take(1500).collect();
        format!("at {url}, showing:\n{text}")
    }

    pub fn goto(&self, url: &str) {
        if let Err(e) = self.runtime.block_on(self.client().goto(url)) {
            panic!("cannot open {url}: {e}\n{}", self.driver.log());
        }
    }

    pub fn url(&self) -> String {
        self.runtime.block_on(self.client().current_url()).expect("current URL").to_string()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.runtime
            .block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}\n{}", self.whereabouts()))
    }

    /// A DevTools Protocol call.
    fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.runtime
            .block_on(self.client().issue_cmd(Cdp(json!({ "cmd": cmd, "params": params }))))
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn find(&self, css: &str) -> Element {
        self.runtime
            .block_on(self.client().find(Locator::Css(css)))
            .unwrap_or_else(|e| panic!("no element '{css}' ({e}) {}", self.whereabouts()))
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        if let Err(e) = self.runtime.block_on(element.click()) {
            panic!("cannot click '{css}': {e} {}", self.whereabouts());
        }
    }

    /// Clicks the link whose text is `text`.
    pub fn click_link(&self, text: &str) {
        let clicked = self.runtime.block_on(async {
            let link = self.client().find(Locator::LinkText(text)).await?;
            link.click().await
        });
        if let Err(e) = clicked {
            panic!("cannot click the link '{text}': {e} {}", self.whereabouts());
        }
    }

    /// Types `text` into the field `css`, as a person would.
    pub fn fill(&self, css: &str, text: &str) {
        let field = self.find(css);
        if let Err(e) = self.runtime.block_on(async { field.send_keys(text).await }) {
            panic!("cannot type into '{css}': {e} {}", self.whereabouts());
        }
    }

    pub fn choose(&self, select_css: &str, value: &str) {
        let select = self.find(select_css);
        if let Err(e) = self.runtime.block_on(select.select_by_value(value)) {
            panic!("cannot choose {value} in '{select_css}': {e} {}", self.whereabouts());
        }
    }

    pub fn is_checked(&self, css: &str) -> bool {
        self.runtime.block_on(self.find(css).is_selected()).expect("is_selected")
    }

    pub fn text(&self, css: &str) -> String {
        self.runtime.block_on(self.find(css).text()).expect("element text")
    }

    /// Waits until the page is in `lang` with the heading `heading`.
    #[track_caller]
    pub fn expect_page(&self, lang: &str, heading: &str) {
        let script = "const h = document.querySelector('h1'); \
                      return [document.readyState, document.documentElement.lang, h ? h.textContent.trim() : null]";
        let want = json!(["complete", lang, heading]);
        let started = Instant::now();
        loop {
            // A script sent while a page is being replaced may fail: ask again.
            if self.runtime.block_on(self.client().execute(script, vec![])).is_ok_and(|seen| seen == want) {
                return;
            }
            if started.elapsed() > PATIENCE {
                panic!("expected the {lang} page '{heading}' {}", self.whereabouts());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until some element `css` has the text `text`.
    #[track_caller]
    pub fn expect_text(&self, css: &str, text: &str) {
        let script =
            "return [...document.querySelectorAll(arguments[0])].some(e => e.textContent.trim() === arguments[1])";
        let started = Instant::now();
        while self.runtime.block_on(self.client().execute(script, vec![json!(css), json!(text)])).ok()
            != Some(json!(true))
        {
            assert!(started.elapsed() < PATIENCE, "no '{css}' reads '{text}' {}", self.whereabouts());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens the HTML part of an email as a mail client shows it: from a local file.
    pub fn open_html(&self, dir: &Path, name: &str, html: &str) {
        let path = dir.join(name);
        std::fs::write(&path, html).expect("write the email's HTML");
        self.goto(url::Url::from_file_path(&path).expect("an absolute path").as_str());
    }

    /// From now on the tab is a 375 × 800 CSS-pixel phone screen (mobile viewport rules, 2×).
    pub fn phone(&self) {
        let metrics = json!({ "width": PHONE_WIDTH, "height": 800, "deviceScaleFactor": 2, "mobile": true });
        self.cdp("Emulation.setDeviceMetricsOverride", metrics);
    }

    /// Saves the whole page as `target/browser-screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) {
        let shot = self.cdp("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true }));
        let data = shot["data"].as_str().unwrap_or_else(|| panic!("no screenshot data in {shot}"));
        let png = base64::engine::general_purpose::STANDARD.decode(data).expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
        let dir = repo().join("target/browser-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes Chromium; only then is chromedriver killed (on drop).
        if let Some(client) = self.client.take() {
            let _ =
                self.runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        }
    }
}

/// What a page measures at phone width.
struct Fit {
    inner_width: f64,
    scroll_width: f64,
    /// Elements past the right edge of the screen, or whose content spills out (for the
    /// failure message).
    overflowing: Vec<String>,
    /// How many elements hold body text, and those under 14 px.
    text_count: usize,
    small_text: Vec<String>,
    /// Tap targets and their height.
    targets: Vec<(String, f64)>,
}

const MEASURE: &str = r#"
const [textSelector, targetSelector, width] = arguments;
const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '')
    + ' "' + (el.innerText || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 50) + '"';
const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0
    && getComputedStyle(el).visibility !== 'hidden'; };
const size = el => parseFloat(getComputedStyle(el).fontSize);
const text = [...document.querySelectorAll(textSelector)].filter(shown);
return {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    overflowing: [...document.body.querySelectorAll('*')].filter(shown).flatMap(el => {
        const right = el.getBoundingClientRect().right;
        const spills = el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible';
        return right > width + 0.5 ? [describe(el) + ' ends at ' + Math.round(right) + ' px']
            : spills ? [describe(el) + ' spills ' + (el.scrollWidth - el.clientWidth) + ' px'] : [];
    }),
    textCount: text.length,
    smallText: text.filter(el => size(el) < 14).map(el => describe(el) + ' ' + size(el) + 'px'),
    targets: targetSelector ? [...document.querySelectorAll(targetSelector)].filter(shown)
        .map(el => [describe(el), el.getBoundingClientRect().height]) : [],
};
"#;

impl Browser {
    fn measure(&self, text: &str, targets: &str) -> Fit {
        let v = self.js(MEASURE, vec![json!(text), json!(targets), json!(PHONE_WIDTH)]);
        let strings = |key: &str| -> Vec<String> {
            v[key].as_array().expect(key).iter().map(|s| s.as_str().unwrap_or_default().to_owned()).collect()
        };
        Fit {
            inner_width: v["innerWidth"].as_f64().expect("innerWidth"),
            scroll_width: v["scrollWidth"].as_f64().expect("scrollWidth"),
            overflowing: strings("overflowing"),
            text_count: v["textCount"].as_u64().expect("textCount") as usize,
            small_text: strings("smallText"),
            targets: v["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .map(|t| (t[0].as_str().unwrap_or_default().to_owned(), t[1].as_f64().unwrap_or_default()))
                .collect(),
        }
    }

    /// Checks the page fits a phone: the 375 px viewport is used (the page declares it), nothing
    /// scrolls sideways, the body text (`text`) is 14 px or more, and the tap targets
    /// (`targets`, when given) are there and at least 40 px tall. Then saves a screenshot.
    #[track_caller]
    pub fn assert_fits_a_phone(&self, name: &str, text: &str, targets: &str) {
        let fit = self.measure(text, targets);
        self.screenshot(name);
        let at = self.url();
        // A page wider than the screen is zoomed out by a phone (a wider `innerWidth`), or
        // scrolls sideways (`scrollWidth`); one with no viewport tag is laid out 980 px wide.
        assert!(
            fit.inner_width == PHONE_WIDTH && fit.scroll_width <= PHONE_WIDTH,
            "{name} does not fit a {PHONE_WIDTH} px screen: laid out {} px wide, {} px of content, at {at}; \
             past the edge: {:#?}",
            fit.inner_width,
            fit.scroll_width,
            fit.overflowing
        );
        assert!(fit.text_count > 0, "{name}: no body text '{text}' at {at}");
        assert!(fit.small_text.is_empty(), "{name}: body text under 14 px at {at}: {:#?}", fit.small_text);
        if !targets.is_empty() {
            assert!(!fit.targets.is_empty(), "{name}: no tap target '{targets}' at {at}");
            let small: Vec<_> = fit.targets.iter().filter(|(_, height)| *height < 40.0).collect();
            assert!(small.is_empty(), "{name}: tap targets under 40 px tall at {at}: {small:#?}");
        }
    }
}

/// The WCAG 2.0 and 2.1 success criteria, levels A and AA, that axe checks a page against.
pub const WCAG_AA: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// The text of `axe.min.js`, from the path in `GAZETTE_AXE` (which `scripts/test` sets).
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = std::env::var_os("GAZETTE_AXE").unwrap_or_else(|| {
            panic!("GAZETTE_AXE is not set: run scripts/test, which installs axe-core and sets it to axe.min.js")
        });
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("cannot read axe-core at GAZETTE_AXE={} ({e}): run scripts/test, which installs it", path.display())
        });
        assert!(source.contains("axe v"), "{} is not axe-core's axe.min.js", path.display());
        source
    })
}

/// One rule an axe run found broken, with the elements that break it.
#[derive(Debug)]
pub struct Violation {
    /// The rule (`color-contrast`).
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    /// What the rule asks, in a line.
    pub help: String,
    /// Deque's page on the rule.
    pub help_url: String,
    /// The elements that break it.
    pub nodes: Vec<FailingNode>,
}

/// An element that breaks a rule.
#[derive(Debug)]
pub struct FailingNode {
    /// CSS selectors that reach it (one per frame).
    pub target: Vec<String>,
    /// Its HTML, as axe shows it (cut short when long).
    pub html: String,
    /// What is wrong with it, and how to fix it.
    pub summary: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({}): {} <{}>", self.id, self.impact, self.help, self.help_url)?;
        for node in &self.nodes {
            let html = node.html.split_whitespace().collect::<Vec<_>>().join(" ");
            writeln!(f, "  at {}: {html}", node.target.join(" "))?;
            for line in node.summary.lines() {
                writeln!(f, "    {line}")?;
            }
        }
        Ok(())
    }
}

/// Runs axe on the page and hands back its result (or the error it threw, as `{error}`).
const AXE_RUN: &str = r#"
const [tags, done] = arguments;
axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
    .then(result => done({ violations: result.violations.map(v => ({
        id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map(n => ({ target: n.target.map(String), html: n.html, summary: n.failureSummary || '' })),
    })) }))
    .catch(e => done({ error: String(e && e.stack || e) }));
"#;

impl Browser {
    /// Checks the current page with axe-core against [`WCAG_AA`] and returns what it breaks.
    /// axe is injected into the page first: its text runs as a WebDriver script, which the
    /// pages' Content-Security-Policy (no scripts at all) does not apply to.
    pub fn axe(&self) -> Vec<Violation> {
        let loaded = format!("{}\n;return typeof window.axe === 'object';", axe_source());
        assert_eq!(self.js(&loaded, vec![]), json!(true), "axe-core did not load {}", self.whereabouts());
        let result = self
            .runtime
            .block_on(self.client().execute_async(AXE_RUN, vec![json!(WCAG_AA)]))
            .unwrap_or_else(|e| panic!("axe.run failed: {e} {}", self.whereabouts()));
        if let Some(error) = result.get("error") {
            panic!("axe.run threw {} {}", error.as_str().unwrap_or_default(), self.whereabouts());
        }
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
        result["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("no violations list from axe: {result}"))
            .iter()
            .map(|v| Violation {
                id: text(v, "id"),
                impact: text(v, "impact"),
                help: text(v, "help"),
                help_url: text(v, "helpUrl"),
                nodes: v["nodes"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|n| FailingNode {
                        target: n["target"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .map(|t| t.as_str().unwrap_or_default().to_owned())
                            .collect(),
                        html: text(n, "html"),
                        summary: text(n, "summary"),
                    })
                    .collect(),
            })
            .collect()
    }
}
