//! The Platform API client against the stand-in on a loopback port: paging, the 429
//! back-off, 401 and 404 in one line, the two changes a migration makes, and the key kept
//! out of `Debug`.

use std::time::{Duration, Instant};

use steward_heroku::testing::{shop, HerokuStandIn};
use steward_heroku::{FormationUpdate, HerokuApi, HerokuError, HerokuSource};
use steward_tools::Secret;

const KEY: &str = "heroku-test-key-6b1f0c2e";

async fn stand_in() -> HerokuStandIn {
    let heroku = HerokuStandIn::start(KEY).await;
    let mut app =
        shop("shop", "postgres://u:p@db.example:5432/shop", &[("SECRET_KEY_BASE", "s3cr3t")], "www.shop.example");
    app.releases =
        (1..=5).map(|v| steward_heroku::Release { version: v, description: format!("Deploy {v}") }).collect();
    heroku.add_app(app);
    heroku
}

fn client(heroku: &HerokuStandIn, key: &str) -> HerokuApi {
    HerokuApi::new(&heroku.url, Secret::new(key.to_string()))
        .expect("client")
        .with_backoff(Duration::from_millis(20), 4)
}

#[tokio::test]
async fn reads_the_whole_app_across_pages_with_the_documented_headers() {
    let heroku = stand_in().await;
    heroku.set_page_size(1);
    let app = client(&heroku, KEY).app("shop").await.expect("app");
    assert_eq!((app.name.as_str(), app.region.as_str(), app.stack.as_str()), ("shop", "us", "container"));
    let formation: Vec<(&str, u32, &str)> =
        app.formation.iter().map(|p| (p.process_type.as_str(), p.quantity, p.size.as_str())).collect();
    assert_eq!(formation, [("web", 2, "standard-2x"), ("worker", 1, "standard-1x")], "both pages of the formation");
    assert_eq!(app.domains.len(), 2, "both pages of the domains");
    assert_eq!(app.addons[0].config_vars, ["DATABASE_URL"]);
    assert_eq!(app.config_vars["SECRET_KEY_BASE"].expose(), "s3cr3t");
    assert_eq!(app.release.as_ref().map(|r| r.version), Some(5), "the newest release, in one request");

    let requests = heroku.requests();
    assert!(requests.iter().all(|r| r.authorization == format!("Bearer {KEY}")), "the bearer token on every request");
    let formation_pages: Vec<Option<String>> =
        requests.iter().filter(|r| r.path == "/apps/shop/formation").map(|r| r.range.clone()).collect();
    assert_eq!(formation_pages, [None, Some("type ]web..; max=1".to_string())], "Next-Range is followed");
    assert_eq!(requests.iter().filter(|r| r.path == "/apps/shop/releases").count(), 1, "one page of releases");
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_the_answer_says() {
    let heroku = stand_in().await;
    // With Retry-After: the wait it names (one second), then the answer.
    heroku.rate_limit_next(1, Some(1));
    let started = Instant::now();
    client(&heroku, KEY).app("shop").await.expect("after the wait");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After is honoured: {:?}", started.elapsed());

    // Without: the doubling back-off, then success.
    heroku.rate_limit_next(3, None);
    client(&heroku, KEY).app("shop").await.expect("after three 429s");

    // Past the attempts: one line saying so.
    heroku.rate_limit_next(10, None);
    let err = client(&heroku, KEY).app("shop").await.expect_err("still limited");
    assert_eq!(err, HerokuError::RateLimited { attempts: 4 });
    assert!(err.is_retryable());
    assert_eq!(err.to_string().lines().count(), 1);
}

#[tokio::test]
async fn a_refused_key_an_unknown_app_and_a_dead_endpoint_are_one_line_each() {
    let heroku = stand_in().await;
    let err = client(&heroku, "wrong-key").app("shop").await.expect_err("401");
    assert_eq!(err, HerokuError::Unauthorized);
    assert!(err.to_string().contains("HEROKU_API_KEY") && !err.is_retryable(), "{err}");

    let err = client(&heroku, KEY).app("no-such-app").await.expect_err("404");
    assert_eq!(err, HerokuError::NoSuchApp("no-such-app".into()));

    let dead = HerokuApi::new("http://127.0.0.1:9", Secret::new(KEY.into())).expect("client");
    let err = dead.app("shop").await.expect_err("nothing listens");
    assert!(matches!(err, HerokuError::Unreachable { .. }) && err.is_retryable(), "{err}");
    assert_eq!(err.to_string().lines().count(), 1, "{err}");
    assert!(!err.to_string().contains(KEY), "the key never appears in an error");
}

#[tokio::test]
async fn maintenance_and_the_formation_change_at_heroku_and_the_key_stays_out_of_debug() {
    let heroku = stand_in().await;
    let api = client(&heroku, KEY);
    api.set_maintenance("shop", true).await.expect("maintenance on");
    assert!(heroku.app("shop").expect("app").maintenance);
    let updates = [FormationUpdate { process_type: "web".into(), quantity: 0, size: None }];
    let after = api.scale("shop", &updates).await.expect("scale");
    assert_eq!(after.iter().find(|p| p.process_type == "web").map(|p| p.quantity), Some(0));
    assert_eq!(heroku.app("shop").expect("app").formation[1].quantity, 1, "worker untouched");
    api.set_maintenance("shop", false).await.expect("maintenance off");
    assert!(!heroku.app("shop").expect("app").maintenance);
    let patch = heroku.requests().into_iter().find(|r| r.method == "PATCH" && r.path == "/apps/shop/formation");
    assert_eq!(patch.expect("PATCH formation").body["updates"][0]["type"], "web");

    let app = api.app("shop").await.expect("app");
    for shown in [format!("{api:?}"), format!("{app:?}")] {
        assert!(!shown.contains(KEY) && !shown.contains("s3cr3t"), "{shown}");
    }
}
