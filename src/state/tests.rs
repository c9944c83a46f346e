//! The state's own test suite, run on each backend (a SQLite file and a PostgreSQL database):
//! what the interface promises, whichever database answers. The subscription rules on top of
//! it are tested in [`crate::subscription`].

use super::{NewsItem, Outcome, Preferences, Run, State, Status, each_backend};
use crate::subscription::{Address, Giver};

/// Claims every pending delivery of `run` for a sender of the test's, and records `outcomes`
/// as that sender's.
fn record(state: &mut State, run: &Run, outcomes: &[(i64, Outcome)], now: i64) {
    state.claim(run.id, "test", &[], 60, 10_000).unwrap();
    let recorded = state.record_outcomes(run, "test", outcomes, now).unwrap();
    assert_eq!(recorded.len(), outcomes.len(), "every one recorded");
}

#[test]
fn a_run_offers_its_articles_in_the_order_recorded_ties_included() {
    for (_db, mut state) in each_backend() {
        let run = state.open_run("daily", None, 1_000).unwrap();
        let item =
            |lang: &str, slug: &str| NewsItem { lang: lang.into(), slug: slug.into(), at: 900, is_fallback: false };
        // Same time: the order given (the messages' order) is kept, not the alphabet's.
        let offered = [("en", item("zh", "b")), ("en", item("en", "a")), ("zh", item("zh", "b"))];
        state.record_news(&run, &offered).unwrap();
        let en = state.run_news(run.id, "en").unwrap().unwrap().articles;
        assert_eq!(en, [item("zh", "b"), item("en", "a")]);
        assert_eq!(state.run_news(run.id, "zh").unwrap().unwrap().articles, [item("zh", "b")]);
    }
}

#[test]
fn pruning_drops_the_deliveries_of_old_finished_runs_and_keeps_the_runs_news() {
    for (_db, mut state) in each_backend() {
        let address = Address::parse("li@example.org", Giver::Operator).unwrap();
        let prefs = Preferences { name: None, language: "en".into(), sectors: vec![], digest: "daily".into() };
        let li = state.write(|tx| tx.add_subscriber(&address, &prefs, Status::Confirmed, "cli", 1)).unwrap();
        let mut runs = Vec::new();
        for day in [10, 20, 30] {
            let run = state.open_run("daily", None, day * 86_400).unwrap();
            let fair = NewsItem { lang: "en".into(), slug: "fair".into(), at: day * 86_400 - 5, is_fallback: false };
            state.record_news(&run, &[("en", fair.clone())]).unwrap();
            // Recorded once: a resumed run offers what it offered when it opened.
            let late = NewsItem { slug: "late".into(), ..fair };
            state.record_news(&run, &[("en", late)]).unwrap();
            record(&mut state, &run, &[(li, Outcome::Sent)], day * 86_400);
            assert!(state.finish_run(run.id, day * 86_400).unwrap());
            runs.push(run.id);
        }
        let open = state.open_run("daily", None, 40 * 86_400).unwrap();
        let all = [runs[0], runs[1], runs[2], open.id];
        let deliveries =
            |s: &State| -> i64 { all.iter().flat_map(|&run| s.run_counts(run).unwrap()).map(|(_, n)| n).sum() };
        let runs_kept = |s: &State| all.iter().filter(|&&run| s.run_report(run).unwrap().is_some()).count();
        // Runs finished before day 25: day 10 and day 20. The unfinished run stays whatever.
        assert_eq!(state.prune(25 * 86_400).unwrap(), (2, 2));
        assert_eq!((runs_kept(&state), deliveries(&state)), (4, 2));
        assert_eq!(state.prune(25 * 86_400).unwrap(), (0, 0), "nothing left to prune");
        // What the pruned runs offered is still there for their web copies.
        let first = state.run_news(runs[0], "en").unwrap().unwrap();
        assert_eq!((first.digest.as_str(), first.cutoff), ("daily", 10 * 86_400));
        let fair = NewsItem { lang: "en".into(), slug: "fair".into(), at: 10 * 86_400 - 5, is_fallback: false };
        assert_eq!(first.articles, [fair]);
        assert!(state.run_news(runs[0], "zh").unwrap().unwrap().articles.is_empty(), "nothing for zh");
        assert_eq!(state.previous_cutoff("daily", open.id).unwrap(), Some(30 * 86_400));
        assert_eq!(state.previous_cutoff("daily", runs[0]).unwrap(), None);
        assert!(state.run_news(open.id, "en").unwrap().unwrap().articles.is_empty(), "recorded nothing");
        assert!(state.run_news(999, "en").unwrap().is_none(), "no such run");
        record(&mut state, &open, &[(li, Outcome::Sent)], 40 * 86_400);
        state.finish_run(open.id, 40 * 86_400).unwrap();
        assert_eq!(state.prune(100 * 86_400).unwrap(), (2, 2));
        let next = state.open_run("daily", None, 1).unwrap();
        assert!(next.cutoff > 40 * 86_400, "the next cutoff still follows the last run's");
        // Walked newest first from before a run, and oldest first from after one.
        let walk = |before, after| {
            let mut seen = Vec::new();
            state
                .for_each_run_news("en", before, after, |n| {
                    seen.push(n.run);
                    Ok(seen.len() < 2)
                })
                .unwrap();
            seen
        };
        assert_eq!(walk(None, None), [runs[2], runs[1]]);
        assert_eq!(walk(Some(runs[1]), None), [runs[0]]);
        assert_eq!(walk(None, Some(runs[0])), [runs[1], runs[2]]);
        let mut in_zh = 0;
        state
            .for_each_run_news("zh", None, None, |_| {
                Ok({
                    in_zh += 1;
                    true
                })
            })
            .unwrap();
        assert_eq!(in_zh, 0, "no run offered zh anything");
    }
}

/// A database with a row in every table, made through the interface.
fn fill(state: &mut State) -> (i64, i64) {
    let li = Address::parse("li@example.org", Giver::Operator).unwrap();
    let ann = Address::parse("ann@例子.中国", Giver::Operator).unwrap();
    let gone = Address::parse("gone@example.org", Giver::Operator).unwrap();
    let prefs = |lang: &str, sectors: &[&str]| Preferences {
        name: Some("Li Wei".into()),
        language: lang.into(),
        sectors: sectors.iter().map(|s| s.to_string()).collect(),
        digest: "daily".into(),
    };
    let (li_id, ann_id) = state
        .write(|tx| {
            let li_id = tx.add_subscriber(&li, &prefs("zh", &["trade", "consular"]), Status::Confirmed, "cli", 10)?;
            let ann_id = tx.add_subscriber(&ann, &prefs("ru", &[]), Status::Confirmed, "web:192.0.2.1", 11)?;
            tx.set_bounce_score(ann_id, 0.5, 12)?;
            let gone_id = tx.add_subscriber(&gone, &prefs("en", &[]), Status::Confirmed, "cli", 12)?;
            tx.delete_subscriber(gone_id)?;
            tx.suppress_key(&gone.key(), "removed", 13)?;
            tx.add_signup(&Address::parse("new@example.org", Giver::Public)?, &prefs("en", &[]), "web:192.0.2.9", 14)?;
            Ok((li_id, ann_id))
        })
        .unwrap();
    let run = state.open_run("daily", None, 100).unwrap();
    state.see_articles(&run, &[("zh", "fair", 90)], 100).unwrap();
    let fair = NewsItem { lang: "zh".into(), slug: "fair".into(), at: 90, is_fallback: false };
    let fallback = NewsItem { is_fallback: true, ..fair.clone() };
    state.record_news(&run, &[("zh", fair), ("ru", fallback)]).unwrap();
    state.claim(run.id, "test", &[], 60, 10).unwrap();
    state
        .write(|tx| {
            tx.record_outcomes(&run, "test", &[(li_id, Outcome::Sent)], 101)?;
            let entry = crate::state::ReturnEntry {
                kind: "soft".into(),
                subscriber: Some(li_id),
                run: Some(run.id),
                signup: None,
                status: Some("4.2.2".into()),
                diagnostic: Some("mailbox full".into()),
            };
            tx.log_return(b"fingerprint", &entry, 102)?;
            tx.mark_returned(run.id, li_id, "soft", 102)
        })
        .unwrap();
    state.job_started("digest:daily", 100, 100, None).unwrap();
    state.job_finished("digest:daily", 103, "ok").unwrap();
    let hub = crate::state::HubSubscription {
        id: 0,
        topic: "zh/atom.xml".into(),
        callback: "https://reader.example.org/cb".into(),
        secret: Some("s3cret".into()),
        expires_at: 10_000,
    };
    let limits = crate::state::HubLimits { per_topic: 10, per_callback_host: 10 };
    assert_eq!(state.hub_activate(&hub, "reader.example.org", limits, 100).unwrap(), None);
    state.hub_enqueue(&["zh/atom.xml".to_owned()], 100_000).unwrap();
    (li_id, ann_id)
}

/// What the interface says of a filled database, to compare two of them.
fn described(state: &State, li: i64, ann: i64) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        state.subscribers().unwrap(),
        state.signup(1).unwrap(),
        state.run_report(1).unwrap(),
        (state.run_news(1, "zh").unwrap(), state.run_news(1, "ru").unwrap()),
        state.seen_articles(&[("zh", "fair")]).unwrap(),
        state.job_due("digest:daily").unwrap(),
        (
            state.hub_subscription("zh/atom.xml", "https://reader.example.org/cb", 100).unwrap(),
            state.hub_next_due().unwrap()
        ),
        state.count_by_status().unwrap(),
        (li, ann),
    )
}

#[test]
fn a_copy_holds_everything_the_original_did_and_goes_on_from_there() {
    let sqlite = super::scratch_sqlite();
    let postgres = super::scratch_postgres();
    let back = super::scratch_sqlite();
    let (li, ann) = fill(&mut sqlite.db.get().unwrap());
    let copied = super::copy::copy(&sqlite.db, &postgres.db).unwrap();
    let rows = |table: &str| copied.iter().find(|(t, _)| *t == table).map(|(_, n)| *n);
    assert_eq!(rows("subscribers"), Some(2));
    assert_eq!(rows("suppressed"), Some(1));
    assert_eq!(rows("run_news"), Some(2));
    assert_eq!(copied.len(), super::copy::TABLES.len(), "every table is copied and counted");
    let original = described(&sqlite.db.get().unwrap(), li, ann);
    assert_eq!(described(&postgres.db.get().unwrap(), li, ann), original);
    // And back again, from PostgreSQL into a new SQLite file.
    super::copy::copy(&postgres.db, &back.db).unwrap();
    assert_eq!(described(&back.db.get().unwrap(), li, ann), original);

    // The copy goes on where the original left off: new ids after the copied ones, the
    // suppression list still holding, the next run's cutoff after the last one's.
    let mut state = postgres.db.get().unwrap();
    let new = Address::parse("zhang@example.org", Giver::Operator).unwrap();
    let prefs = Preferences { name: None, language: "en".into(), sectors: vec![], digest: "daily".into() };
    let id = state.write(|tx| tx.add_subscriber(&new, &prefs, Status::Confirmed, "cli", 200)).unwrap();
    assert!(id > li.max(ann), "{id} follows the copied ids");
    let gone = Address::parse("gone@example.org", Giver::Operator).unwrap();
    assert!(state.write(|tx| tx.is_suppressed(&gone)).unwrap());
    let run = crate::state::Run { id: 1, cutoff: 100, is_resumed: true };
    assert_eq!(state.count_pending(1).unwrap(), 1, "ann's delivery is still pending in the copy");
    record(&mut state, &run, &[(ann, Outcome::Skipped)], 300);
    assert!(state.finish_run(1, 300).unwrap());
    let next = state.open_run("daily", None, 50).unwrap();
    assert!(next.cutoff > 100, "the next cutoff follows the copied run's");
    assert_eq!(state.previous_cutoff("daily", next.id).unwrap(), Some(100));

    // A database that holds anything is never written into.
    let err = format!("{:#}", super::copy::copy(&sqlite.db, &postgres.db).unwrap_err());
    assert!(err.contains("already holds") && err.contains("subscribers"), "{err}");
}

#[test]
fn senders_of_one_run_claim_each_delivery_once_and_take_over_what_a_dead_one_held() {
    for (scratch, mut state) in each_backend() {
        let prefs = Preferences { name: None, language: "en".into(), sectors: vec![], digest: "daily".into() };
        state
            .write(|tx| {
                for i in 0..10 {
                    let address = Address::parse(&format!("r{i}@example.org"), Giver::Operator)?;
                    tx.add_subscriber(&address, &prefs, Status::Confirmed, "cli", 1)?;
                }
                Ok(())
            })
            .unwrap();
        // Two schedules due at the same moment open one run; a run an operator asks for while
        // it is unfinished joins it too.
        let run = state.open_run("daily", Some(500), 1_000).unwrap();
        let mut other = scratch.db.get().unwrap();
        assert_eq!(other.open_run("daily", Some(500), 1_001).unwrap().id, run.id);
        assert_eq!(other.open_run("daily", None, 1_002).unwrap().id, run.id);
        let ids = |page: Vec<crate::state::Subscriber>| page.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let mut a = ids(state.claim(run.id, "a", &[], 60, 4).unwrap());
        assert_eq!(a.len(), 4);
        let more = ids(state.claim(run.id, "a", &a, 60, 4).unwrap());
        assert!(more.iter().all(|id| !a.contains(id)), "what a holds is not claimed again");
        a.extend(more);
        assert_eq!(state.record_outcomes(&run, "a", &[(a[0], Outcome::Sent)], 1_001).unwrap(), [a[0]]);
        let a = a.split_off(1);
        // Sender b gets none of a's while a's leases hold (on SQLite the digest's lock keeps a
        // second sender out, and a claim of another is taken: it is of a process that ended).
        // b's leases are short: the server's clock (not the test's) ends them, below.
        const SHORT: i64 = 4;
        let b = ids(other.claim(run.id, "b", &[], SHORT, 10).unwrap());
        if scratch.db.url().sqlite_path().is_some() {
            assert_eq!(b.len(), 9, "all that is pending, a's included");
            continue;
        }
        assert_eq!(b.len(), 2, "the two nobody held");
        assert_eq!(state.renew_claims(run.id, "a", &a, 60).unwrap().len(), 7, "a renews what it holds");
        assert!(other.claim(run.id, "b", &b, SHORT, 10).unwrap().is_empty(), "renewed: still a's");
        // a gives back what it has not got to (it stops); b takes it at once.
        assert_eq!(state.release_claims(run.id, "a").unwrap(), 7);
        let taken = ids(other.claim(run.id, "b", &b, SHORT, 10).unwrap());
        let b_claimed = std::time::Instant::now();
        assert_eq!(taken.len(), 7);
        // What a sent of them is not a's to record, nor a's to renew: b's now.
        assert!(state.record_outcomes(&run, "a", &[(taken[0], Outcome::Sent)], 1_072).unwrap().is_empty());
        assert!(state.renew_claims(run.id, "a", &a, 60).unwrap().is_empty());
        // c takes over b's once b's leases run out (b died), and none of them twice.
        assert!(ids(state.claim(run.id, "c", &[], 60, 10).unwrap()).is_empty(), "b's leases hold");
        // A lease is whole seconds, rounded up when taken and down when compared.
        std::thread::sleep(std::time::Duration::from_secs(SHORT as u64 + 2).saturating_sub(b_claimed.elapsed()));
        let c = ids(state.claim(run.id, "c", &[], 60, 10).unwrap());
        assert_eq!(c.len(), 9);
        assert!(other.renew_claims(run.id, "b", &taken, 60).unwrap().is_empty(), "b's were taken over");
        // A claim whose answer c never got (a lost connection) is c's to claim again.
        assert_eq!(ids(state.claim(run.id, "c", &[], 60, 10).unwrap()), c);
        assert!(state.claim(run.id, "c", &c, 60, 10).unwrap().is_empty());
        let outcomes: Vec<_> = c.iter().map(|&id| (id, Outcome::Sent)).collect();
        assert_eq!(state.write(|tx| tx.record_outcomes(&run, "c", &outcomes, 1_140)).unwrap().len(), 9);
        assert!(state.record_outcomes(&run, "c", &outcomes, 1_141).unwrap().is_empty(), "recorded once");
        assert_eq!(state.count_pending(run.id).unwrap(), 0);
        assert!(other.finish_run(run.id, 1_141).unwrap());
        assert!(state.finish_run(run.id, 1_142).unwrap(), "finished already counts");
        // The same due time again (a catch-up after a restart) is the run already sent.
        let again = state.open_run("daily", Some(500), 2_000).unwrap();
        assert_eq!((again.id, again.is_resumed), (run.id, true));
        assert_eq!(state.count_pending(run.id).unwrap(), 0);
        assert_ne!(state.open_run("daily", Some(600), 2_000).unwrap().id, run.id, "the next due time is a new run");
    }
}
