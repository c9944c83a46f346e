//! The subscription pages. `/subscribe` signs an address up (double opt-in: a confirmation
//! email, the same answer whether or not the address was known, a rate limit per client and
//! per address, cross-site posts refused). `/confirm`, `/unsubscribe` and `/preferences` open
//! from signed links in emails: a `GET` only shows a page with a button (mail scanners follow
//! links), the button's `POST` acts. A `POST` of `List-Unsubscribe=One-Click` to the
//! unsubscribe URL (RFC 8058) unsubscribes and answers 200, no redirect, no cookie. A token
//! that does not verify gets a page that says so and changes nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use minijinja::{Value, context};
use serde::Deserialize;

use super::pages::{Caching, message, render};
use super::{Shared, Site, guard};
use crate::links;
use crate::mail::message::confirmation_message;
use crate::mail::retry::send_with_retries;
use crate::mail::transport::Gate;
use crate::returns::verp::{ReturnOf, return_path};
use crate::state::{SignUp, State as Db, Subscriber};
use crate::subscription::{self, Address, Giver, SignedUp};
use crate::tokens::{Purpose, Token};

/// Sending attempts for a confirmation email (the person is waiting for it).
const CONFIRM_ATTEMPTS: u32 = 5;

/// The fields of the subscribe and preferences forms (the names of the CSV import).
#[derive(Debug, Default, Deserialize)]
pub struct SignUpForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    sectors: Vec<String>,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    token: String,
    #[serde(default, rename = "List-Unsubscribe")]
    list_unsubscribe: String,
    #[serde(default)]
    lang: String,
}

/// `?token=` and `?lang=`.
#[derive(Debug, Default, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
    #[serde(default)]
    lang: String,
}

/// A form body; one that does not parse counts as empty (every field is then checked).
fn parse_form(body: &Bytes) -> SignUpForm {
    serde_html_form::from_bytes(body).unwrap_or_default()
}

/// Runs `work` on the database off the async threads.
async fn with_db<T: Send + 'static>(
    shared: &Arc<Shared>,
    work: impl FnOnce(&mut Db) -> Result<T> + Send + 'static,
) -> Result<T> {
    shared.live.db.with(work).await
}

fn failed(site: &Site, lang: &str, e: &anyhow::Error) -> Response {
    tracing::error!(error = format!("{e:#}"), "a subscription request failed");
    let text = vec![site.renderer.string(lang, "error_text")];
    // The database away (a restart) is worth trying again soon; anything else is ours.
    if crate::state::is_unavailable(e) {
        let mut response = message(site, lang, "error_title", &text, None, StatusCode::SERVICE_UNAVAILABLE);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(30));
        return response;
    }
    message(site, lang, "error_title", &text, None, StatusCode::INTERNAL_SERVER_ERROR)
}

/// The form values, the sectors and digests to choose from, for `form.html`.
fn form_context(site: &Site, lang: &str, form: &SignUpForm) -> Value {
    let config = &site.config;
    let all_sectors: Vec<Value> = config
        .sectors
        .iter()
        .map(|s| {
            context! {
                id => &s.id,
                name => s.name(lang, &config.site.default_language),
                checked => form.sectors.contains(&s.id),
            }
        })
        .collect();
    let digests: Vec<Value> = config
        .digests
        .iter()
        .map(|d| context! { id => &d.id, name => site.renderer.string(lang, &format!("digest_{}", d.id)) })
        .collect();
    let digest =
        if form.digest.is_empty() { config.digests.first().map(|d| d.id.clone()) } else { Some(form.digest.clone()) };
    let language = if form.language.is_empty() { lang.to_owned() } else { form.language.clone() };
    context! {
        all_sectors,
        digests,
        form => context! { email => &form.email, language, digest },
    }
}

/// The subscribe form; `error` is the message and the field it is about (`email`, `choice`),
/// which the page marks invalid and ties to the message for screen readers.
fn form_page(
    site: &Site,
    lang: &str,
    form: &SignUpForm,
    error: Option<(String, &str)>,
    status: StatusCode,
) -> Response {
    let title = site.renderer.string(lang, "subscribe_title");
    let (error, error_field) = error.map_or((None, None), |(e, f)| (Some(e), Some(f)));
    let button = site.renderer.string(lang, "subscribe_button");
    let extra = context! {
        ..form_context(site, lang, form),
        ..context! { action => "/subscribe", button, error, error_field }
    };
    // The form's language follows `Accept-Language`, and after a post it holds what was typed.
    render(site, lang, "pages/form.html", &title, extra, status, Caching::Uncached)
}

/// `GET /subscribe`: the form, in the language of `?lang=` or `Accept-Language`.
pub async fn subscribe_form(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<LinkQuery>,
    headers: HeaderMap,
) -> Response {
    let site = shared.live.site.load();
    let lang = guard::language(&site.config, Some(&query.lang), &headers);
    form_page(&site, &lang, &SignUpForm::default(), None, StatusCode::OK)
}

/// `POST /subscribe`: signs the address up and sends the confirmation email.
pub async fn subscribe(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let site = shared.live.site.load_full();
    let config = &site.config;
    let form = parse_form(&body);
    let lang = guard::language(
        config,
        Some(form.lang.as_str()).filter(|l| !l.is_empty()).or(Some(form.language.as_str())),
        &headers,
    );
    if guard::is_cross_site(config, &headers) {
        let text = vec![site.renderer.string(&lang, "cross_site_text")];
        return message(&site, &lang, "cross_site_title", &text, None, StatusCode::FORBIDDEN);
    }
    let client = guard::client_ip(config, peer, &headers);
    // Counted in the state: every instance on the database takes from one allowance.
    let quota =
        subscription::allowance::Quota::per(config.http.subscribe_per_hour, std::time::Duration::from_secs(3600));
    let key = format!("signup:{}", guard::rate_key(client));
    let now_ms = Utc::now().timestamp_millis();
    let allowed =
        with_db(&shared, move |db| db.write(|tx| subscription::allowance::take(tx, &key, quota, now_ms))).await;
    if let Err(e) = &allowed {
        return failed(&site, &lang, e);
    }
    if allowed.is_ok_and(|allowed| !allowed) {
        tracing::info!(client = %client, "sign-up refused: rate limit");
        let text = vec![site.renderer.string(&lang, "too_many_text")];
        let mut response = message(&site, &lang, "too_many_title", &text, None, StatusCode::TOO_MANY_REQUESTS);
        let wait = 3600 / config.http.subscribe_per_hour.max(1);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    let address = match Address::parse(&form.email, Giver::Public) {
        Ok(address) => address,
        Err(refused) => {
            let error = site.renderer.string(&lang, refused.string_key());
            return form_page(&site, &lang, &form, Some((error, "email")), StatusCode::BAD_REQUEST);
        }
    };
    let preferences =
        match subscription::preferences(config, None, &form.language, &form.sectors.join(","), &form.digest) {
            Ok(p) => p,
            Err(_) => {
                let error = site.renderer.string(&lang, "bad_choice");
                return form_page(&site, &lang, &form, Some((error, "choice")), StatusCode::BAD_REQUEST);
            }
        };
    let now = Utc::now().timestamp();
    let consent = format!("web:{client}");
    let limits = config.subscriptions.clone();
    let to = address.clone();
    let signed_up =
        with_db(&shared, move |db| subscription::sign_up(db, &to, &preferences, &consent, now, &limits)).await;
    match signed_up {
        Ok(SignedUp::Pending(signup)) => {
            let token = site.signer.sign(Purpose::Confirm, signup.id, "", signup.created_at);
            let link = links::confirm_url(config, &token);
            let lang = signup.preferences.language.clone();
            let reference = (ReturnOf::SignUp(signup.id), format!("signup.{}", signup.id));
            send_confirmation(&shared, &site, &address, &lang, &link, false, reference, now);
        }
        Ok(SignedUp::Subscribed(subscriber)) => {
            let token = site.signer.sign(Purpose::Preferences, subscriber.id, subscriber.link_binding(), now);
            let link = links::preferences_url(config, &token);
            let lang = subscriber.preferences.language.clone();
            let what = ReturnOf::Subscriber { id: subscriber.id, since: subscriber.created_at };
            let reference = (what, format!("subscriber.{}", subscriber.id));
            send_confirmation(&shared, &site, &address, &lang, &link, true, reference, now);
        }
        Ok(SignedUp::MailLimited) => tracing::info!("confirmation email not sent again so soon"),
        Ok(SignedUp::Full) => {
            tracing::warn!(domain = address.registrable_domain(), "sign-up refused: too many wait for confirmation");
            let text = vec![site.renderer.string(&lang, "domain_full_text")];
            let mut response = message(&site, &lang, "too_many_title", &text, None, StatusCode::SERVICE_UNAVAILABLE);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(3600));
            return response;
        }
        Err(e) => return failed(&site, &lang, &e),
    }
    // The same answer whether the address was new, pending or already subscribed.
    let text = vec![site.renderer.string(&lang, "subscribe_sent")];
    message(&site, &lang, "subscribe_sent_title", &text, None, StatusCode::OK)
}

/// Sends a confirmation email (`link` confirms a sign-up, or when `already`, opens the
/// preferences of a subscriber) in the background: the page does not wait for the mail
/// server, and its timing tells nothing. `reference` names what it is for: in its return path,
/// and in logs and its `Message-ID` (`signup.12`).
#[allow(clippy::too_many_arguments)]
fn send_confirmation(
    shared: &Arc<Shared>,
    site: &Arc<Site>,
    to: &Address,
    lang: &str,
    link: &str,
    already: bool,
    (what, reference): (ReturnOf, String),
    now: i64,
) {
    let config = &site.config;
    let reference = reference.as_str();
    let outgoing = site
        .renderer
        .confirmation(lang, link, already)
        .and_then(|body| confirmation_message(config, to.as_str(), lang, reference, now, &body));
    let outgoing = match outgoing {
        Ok(outgoing) => match &config.mail.returns {
            Some(returns) => outgoing.returning_to(return_path(&site.signer, &returns.address, what)),
            None => outgoing,
        },
        Err(e) => {
            tracing::error!(reference, error = format!("{e:#}"), "cannot make the confirmation email");
            return;
        }
    };
    let mut conn = site.mailer.connection();
    let shared = shared.clone();
    let stop = shared.stop.clone();
    let reference = reference.to_owned();
    let email = to.as_str().to_owned();
    shared.clone().mail_tasks.spawn(async move {
        // `mail.rate` holds for confirmations as a whole, however many sign-ups come.
        let result = send_with_retries(
            &mut conn,
            &outgoing,
            CONFIRM_ATTEMPTS,
            &shared.confirm_rate,
            &mut Gate::default(),
            &stop,
        )
        .await;
        conn.close().await;
        match result {
            Ok(()) => {
                crate::metrics::metrics().confirmations.inc();
                tracing::info!(reference, "confirmation email sent");
            }
            // Server replies quote the address; logs name the sign-up or subscriber only.
            Err(e) => tracing::warn!(
                reference,
                error = e.to_string().replace(&email, "<address>"),
                "confirmation email not sent"
            ),
        }
    });
}

/// How a token checked out.
enum Checked<T> {
    Valid(Box<T>),
    Invalid,
    Expired,
}

/// Checks a confirmation `token`: its signature first (no database needed, so a forged token
/// costs the same whatever it names), then whether its sign-up still waits.
async fn check_signup(shared: &Arc<Shared>, site: &Arc<Site>, token: &str) -> Result<Checked<SignUp>> {
    let Ok(token) = Token::parse(token) else { return Ok(Checked::Invalid) };
    if site.signer.verify(&token, Purpose::Confirm, Some("")).is_err() {
        return Ok(Checked::Invalid);
    }
    let limits = site.config.subscriptions.clone();
    with_db(shared, move |db| {
        let live = subscription::pending_signup(db, token.id, token.issued, Utc::now().timestamp(), &limits)?;
        Ok(live.map_or(Checked::Expired, |s| Checked::Valid(Box::new(s))))
    })
    .await
}

/// Checks an unsubscribe or preferences `token` against the subscriber it names.
async fn check(shared: &Arc<Shared>, site: &Arc<Site>, token: String, purpose: Purpose) -> Result<Checked<Subscriber>> {
    let Ok(token) = Token::parse(&token) else { return Ok(Checked::Invalid) };
    let signer = site.signer.clone();
    with_db(shared, move |db| {
        let subscriber = db.subscriber_by_id(token.id)?;
        Ok(match signer.verify(&token, purpose, subscriber.as_ref().map(Subscriber::link_binding)) {
            Ok(()) => subscriber.map_or(Checked::Invalid, |s| Checked::Valid(Box::new(s))),
            Err(_) => Checked::Invalid,
        })
    })
    .await
}

/// The page for a link that did not verify.
fn bad_link(site: &Site, lang: &str, expired: bool) -> Response {
    let key = if expired { "expired_link_text" } else { "invalid_link_text" };
    let text = vec![site.renderer.string(lang, key)];
    message(site, lang, "invalid_link_title", &text, None, StatusCode::BAD_REQUEST)
}

/// Checks the token, then runs `then` with the subscriber, or answers with the right page.
async fn with_subscriber(
    shared: &Arc<Shared>,
    token: String,
    lang_hint: &str,
    headers: &HeaderMap,
    purpose: Purpose,
    then: impl FnOnce(Arc<Shared>, Arc<Site>, Subscriber) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>>,
) -> Response {
    let site = shared.live.site.load_full();
    let lang = guard::language(&site.config, Some(lang_hint), headers);
    match check(shared, &site, token, purpose).await {
        Ok(Checked::Valid(subscriber)) => then(shared.clone(), site, *subscriber).await,
        Ok(Checked::Invalid) => bad_link(&site, &lang, false),
        Ok(Checked::Expired) => bad_link(&site, &lang, true),
        Err(e) => failed(&site, &lang, &e),
    }
}

/// `GET /confirm?token=`: a button that confirms.
pub async fn confirm_page(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<LinkQuery>,
    headers: HeaderMap,
) -> Response {
    let site = shared.live.site.load_full();
    let hint = guard::language(&site.config, Some(&q.lang), &headers);
    match check_signup(&shared, &site, &q.token).await {
        Ok(Checked::Valid(signup)) => {
            let lang = &signup.preferences.language;
            let text = vec![site.renderer.string(lang, "confirm_text"), choices_text(&site, lang, &signup.preferences)];
            let button = site.renderer.string(lang, "confirm_button");
            message(&site, lang, "confirm_title", &text, Some(("/confirm", &q.token, &button)), StatusCode::OK)
        }
        Ok(Checked::Invalid) => bad_link(&site, &hint, false),
        Ok(Checked::Expired) => bad_link(&site, &hint, true),
        Err(e) => failed(&site, &hint, &e),
    }
}

/// What a sign-up asks for, in words: the person confirming sees the choices they confirm
/// (a later sign-up by someone else would show other ones).
fn choices_text(site: &Site, lang: &str, choices: &crate::state::Preferences) -> String {
    let config = &site.config;
    let sectors: Vec<&str> = config
        .sectors
        .iter()
        .filter(|s| choices.sectors.contains(&s.id))
        .map(|s| s.name(lang, &config.site.default_language))
        .collect();
    let sectors = if sectors.is_empty() { site.renderer.string(lang, "all_sectors") } else { sectors.join(", ") };
    site.renderer
        .string(lang, "confirm_choices")
        .replace("{digest}", &site.renderer.string(lang, &format!("digest_{}", choices.digest)))
        .replace("{language}", &site.renderer.string(&choices.language, "language_name"))
        .replace("{sectors}", &sectors)
}

/// `POST /confirm`: confirms the sign-up the token names.
pub async fn confirm(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    if guard::is_cross_site(&shared.live.site.load().config, &headers) {
        return refuse_cross_site(&shared, &form.lang, &headers);
    }
    let site = shared.live.site.load_full();
    let hint = guard::language(&site.config, Some(&form.lang), &headers);
    let Ok(token) = Token::parse(&form.token) else { return bad_link(&site, &hint, false) };
    if site.signer.verify(&token, Purpose::Confirm, Some("")).is_err() {
        return bad_link(&site, &hint, false);
    }
    let limits = site.config.subscriptions.clone();
    let confirmed =
        with_db(&shared, move |db| subscription::confirm(db, token.id, token.issued, Utc::now().timestamp(), &limits))
            .await;
    match confirmed {
        Ok(Some(subscriber)) => {
            tracing::info!(subscriber = subscriber.id, "subscription confirmed");
            let lang = &subscriber.preferences.language;
            let text = vec![site.renderer.string(lang, "confirmed_text")];
            message(&site, lang, "confirmed_title", &text, None, StatusCode::OK)
        }
        // Replaced by a later sign-up, confirmed already, withdrawn by an unsubscribe, or
        // too old: the link has done all it can.
        Ok(None) => bad_link(&site, &hint, true),
        Err(e) => failed(&site, &hint, &e),
    }
}

fn refuse_cross_site(shared: &Shared, lang: &str, headers: &HeaderMap) -> Response {
    let site = shared.live.site.load();
    let lang = guard::language(&site.config, Some(lang), headers);
    let text = vec![site.renderer.string(&lang, "cross_site_text")];
    message(&site, &lang, "cross_site_title", &text, None, StatusCode::FORBIDDEN)
}

/// `GET /unsubscribe?token=`: a button that unsubscribes.
pub async fn unsubscribe_page(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<LinkQuery>,
    headers: HeaderMap,
) -> Response {
    let token = q.token.clone();
    with_subscriber(&shared, q.token, &q.lang, &headers, Purpose::Unsubscribe, move |_, site, s| {
        Box::pin(async move {
            let lang = &s.preferences.language;
            let text = vec![site.renderer.string(lang, "unsubscribe_text").replace("{email}", &s.email)];
            let button = site.renderer.string(lang, "unsubscribe_button");
            message(&site, lang, "unsubscribe_title", &text, Some(("/unsubscribe", &token, &button)), StatusCode::OK)
        })
    })
    .await
}

/// `POST /unsubscribe`: the page's button (token in the form), or RFC 8058 one-click (token
/// in the URL, `List-Unsubscribe=One-Click` in the body), which gets a plain 200.
pub async fn unsubscribe(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<LinkQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let one_click = form.list_unsubscribe == "One-Click";
    let token = if form.token.is_empty() { q.token } else { form.token };
    let site = shared.live.site.load_full();
    let checked = check(&shared, &site, token, Purpose::Unsubscribe).await;
    let hint = if form.lang.is_empty() { &q.lang } else { &form.lang };
    let lang = guard::language(&site.config, Some(hint), &headers);
    let subscriber = match checked {
        Ok(Checked::Valid(s)) => *s,
        Ok(Checked::Invalid | Checked::Expired) if one_click => {
            return (StatusCode::BAD_REQUEST, "invalid unsubscribe link; nothing was changed\n").into_response();
        }
        Ok(Checked::Invalid) => return bad_link(&site, &lang, false),
        Ok(Checked::Expired) => return bad_link(&site, &lang, true),
        Err(e) => return failed(&site, &lang, &e),
    };
    let id = subscriber.id;
    let done = with_db(&shared, move |db| subscription::unsubscribe(db, id, Utc::now().timestamp())).await;
    match done {
        Ok(changed) => {
            if changed {
                tracing::info!(subscriber = id, one_click, "unsubscribed");
            }
            if one_click {
                return (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "unsubscribed\n").into_response();
            }
            let lang = &subscriber.preferences.language;
            let text = vec![site.renderer.string(lang, "unsubscribed_text")];
            message(&site, lang, "unsubscribed_title", &text, None, StatusCode::OK)
        }
        Err(e) if one_click => {
            tracing::error!(error = format!("{e:#}"), "one-click unsubscribe failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again later\n").into_response()
        }
        Err(e) => failed(&site, &lang, &e),
    }
}

fn preferences_form(
    site: &Site,
    s: &Subscriber,
    token: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let lang = &s.preferences.language;
    let form = SignUpForm {
        email: s.email.clone(),
        language: s.preferences.language.clone(),
        sectors: s.preferences.sectors.clone(),
        digest: s.preferences.digest.clone(),
        ..SignUpForm::default()
    };
    let title = site.renderer.string(lang, "preferences_title");
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    // The page's own unsubscribe link needs a token for that purpose.
    let unsubscribe_token = site.signer.sign(Purpose::Unsubscribe, s.id, s.link_binding(), Utc::now().timestamp());
    let extra = context! {
        ..form_context(site, lang, &form),
        ..context! {
            action => "/preferences",
            token,
            unsubscribe_token,
            button => site.renderer.string(lang, "preferences_button"),
            intro => notice,
            error,
        }
    };
    render(site, lang, "pages/form.html", &title, extra, status, Caching::Private)
}

/// `GET /preferences?token=`: the subscriber's choices, in a form.
pub async fn preferences_page(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<LinkQuery>,
    headers: HeaderMap,
) -> Response {
    let token = q.token.clone();
    with_subscriber(&shared, q.token, &q.lang, &headers, Purpose::Preferences, move |_, site, s| {
        Box::pin(async move { preferences_form(&site, &s, &token, None, None) })
    })
    .await
}

/// `POST /preferences`: saves the choices.
pub async fn save_preferences(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    if guard::is_cross_site(&shared.live.site.load().config, &headers) {
        return refuse_cross_site(&shared, &form.lang, &headers);
    }
    let token = form.token.clone();
    with_subscriber(&shared, form.token.clone(), &form.lang, &headers, Purpose::Preferences, move |shared, site, s| {
        Box::pin(async move {
            let config = &site.config;
            let chosen = subscription::preferences(config, None, &form.language, &form.sectors.join(","), &form.digest);
            let Ok(preferences) = chosen else {
                let error = site.renderer.string(&s.preferences.language, "bad_choice");
                return preferences_form(&site, &s, &token, None, Some(error));
            };
            let id = s.id;
            match with_db(&shared, move |db| subscription::change_preferences(db, id, &preferences)).await {
                Ok(Some(updated)) => {
                    tracing::info!(subscriber = id, "preferences changed");
                    let notice = site.renderer.string(&updated.preferences.language, "preferences_saved");
                    preferences_form(&site, &updated, &token, Some(notice), None)
                }
                Ok(None) => bad_link(&site, &s.preferences.language, false),
                Err(e) => failed(&site, &s.preferences.language, &e),
            }
        })
    })
    .await
}
