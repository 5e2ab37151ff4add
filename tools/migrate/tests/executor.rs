//! The step executor against the Platform API stand-in and the simulated target: a domain
//! no hosted zone holds becomes a manual step naming the record to create; steps run twice
//! make nothing twice; each receipt carries its inverse.

use std::sync::Arc;

use steward_heroku::testing::{shop, HerokuStandIn};
use steward_heroku::HerokuApi;
use steward_migrate::{plan, Migrator, NoInputs, PlanOptions, SimCopier, SimTarget};
use steward_tools::{Environment, Secret, StepAction};

#[tokio::test]
async fn a_domain_without_a_zone_is_a_manual_step_and_steps_run_twice_make_nothing_twice() {
    let heroku = HerokuStandIn::start("key").await;
    let db = "postgres://u:p@db.example:5432/shop";
    heroku.add_app(shop("noz", db, &[("SECRET_KEY_BASE", "v")], "www.nozone.example"));
    let api = HerokuApi::new(&heroku.url, Secret::new("key".into())).expect("client");
    let source: Arc<dyn steward_heroku::HerokuSource> = Arc::new(api);
    let app = source.app("noz").await.expect("app");
    let target = Arc::new(SimTarget::new());
    let migrator =
        Migrator { heroku: source, target: target.clone(), copier: Arc::new(SimCopier), inputs: Arc::new(NoInputs) };
    let plan = plan(
        &app,
        &PlanOptions { environment: Environment::Staging, image: Some("i".into()), ..PlanOptions::default() },
    );
    let steps: Vec<_> = plan.calls(1).into_iter().map(|c| c.migration_step().cloned().expect("a step")).collect();

    for step in
        steps.iter().filter(|s| !matches!(s.action, StepAction::CopyData { .. } | StepAction::ScaleDownHeroku { .. }))
    {
        let first = migrator.execute("a1", step).await.expect("execute");
        let again = migrator.execute("a1", step).await.expect("execute again");
        assert_eq!(first.undo, again.undo, "the same inverse either way: {}", step.action.kind());
        migrator.check(step, &again).await.unwrap_or_else(|e| panic!("{}: {e}", step.action.kind()));
        if let StepAction::CutOverDns { domain } = &step.action {
            assert_eq!(domain, "www.nozone.example");
            assert!(again.undo.is_none(), "nothing changed, nothing to undo");
            assert_eq!(again.manual.len(), 1);
            assert!(again.manual[0].contains("CNAME record www.nozone.example → st-noz-"), "{:?}", again.manual);
        } else {
            assert!(again.undo.is_some(), "{} records its inverse", step.action.kind());
        }
    }
    let (parameters, databases, services, load_balancers) = target.counts();
    assert_eq!(
        (parameters, databases, services, load_balancers),
        (2, 1, 2, 1),
        "secrets + the database URL, once each"
    );
    assert!(target.zone_records("nozone.example.").is_empty(), "Steward never makes a zone");
}
