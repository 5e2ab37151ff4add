//! For tests against an AWS API emulator (moto server, started by `./deploy/test.sh` at
//! `STEWARD_TEST_AWS_ENDPOINT`).

/// The emulator's address; `None` skips the test (it fails under `CI=true` instead). Sets
/// the emulator's credentials for the SDK's default chain.
pub fn emulator() -> Option<String> {
    match std::env::var("STEWARD_TEST_AWS_ENDPOINT") {
        Ok(url) if !url.is_empty() => {
            // moto accepts any credentials.
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            Some(url)
        }
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "STEWARD_TEST_AWS_ENDPOINT is not set: run the tests with ./deploy/test.sh, which starts moto server"
            )
        }
        _ => {
            eprintln!("skipped: no AWS emulator (run ./deploy/test.sh, which starts moto server)");
            None
        }
    }
}

/// SDK configuration for `region` at the emulator.
pub async fn emulator_config(url: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(url)
        .load()
        .await
}
