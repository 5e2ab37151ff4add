//! For tests against an AWS API emulator (moto server, started by `./deploy/test.sh` at
//! `STEWARD_TEST_AWS_ENDPOINT`).

/// The emulator's address. A test that needs it fails, saying how to start one, when it is
/// not set. Sets the emulator's credentials for the SDK's default chain.
pub fn emulator() -> String {
    match std::env::var("STEWARD_TEST_AWS_ENDPOINT") {
        Ok(url) if !url.is_empty() => {
            // moto accepts any credentials.
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            url
        }
        _ => panic!(
            "STEWARD_TEST_AWS_ENDPOINT is not set: run the tests with ./deploy/test.sh, which starts moto server (or point it at an AWS API emulator you run)"
        ),
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

/// One product as the Price List API's `GetProducts` returns it in `PriceList` (a JSON
/// document per product, in the shape of the documented price list file), priced at `usd`
/// per hour on demand.
pub fn price_list_product(instance_type: &str, usd: &str) -> String {
    serde_json::json!({
        "product": {
            "productFamily": "Compute Instance",
            "attributes": {
                "instanceType": instance_type, "regionCode": "us-east-1", "operatingSystem": "Linux",
                "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
                "licenseModel": "No License required", "servicecode": "AmazonEC2"
            },
            "sku": "8XVSDJDZPDT2XA7V"
        },
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                "8XVSDJDZPDT2XA7V.JRTCKXETXF": {
                    "priceDimensions": {
                        "8XVSDJDZPDT2XA7V.JRTCKXETXF.6YS6EN2CT7": {
                            "unit": "Hrs", "endRange": "Inf", "beginRange": "0",
                            "description": format!("${usd} per On Demand Linux {instance_type} Instance Hour"),
                            "appliesTo": [], "rateCode": "8XVSDJDZPDT2XA7V.JRTCKXETXF.6YS6EN2CT7",
                            "pricePerUnit": { "USD": usd }
                        }
                    },
                    "sku": "8XVSDJDZPDT2XA7V", "effectiveDate": "2026-11-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF", "termAttributes": {}
                }
            }
        },
        "version": "20261120013245",
        "publicationDate": "2026-11-20T01:32:45Z"
    })
    .to_string()
}

/// What a [`Replay`] server answers one call with.
#[derive(Debug, Clone)]
pub enum Answer {
    /// HTTP 200 with this JSON body.
    Ok(serde_json::Value),
    /// An AWS JSON-protocol error: status, error code (`__type`), message.
    Error(u16, String, String),
}

/// A local HTTP server speaking the AWS JSON 1.1 protocol for APIs the emulator lacks or
/// answers uselessly (moto answers Price List `GetProducts` with HTTP 500 and Cost
/// Explorer with empty results): each call, told apart by its `X-Amz-Target` header, gets
/// the next recorded answer (the last one repeats), and every request body is kept.
pub struct Replay {
    pub url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Replay {
    /// Serve `answers`: `(target, answers in order)`, e.g.
    /// `("AWSPriceListService.GetProducts", vec![...])`.
    pub async fn start(answers: Vec<(&str, Vec<Answer>)>) -> Replay {
        use std::collections::{HashMap, VecDeque};
        use std::sync::{Arc, Mutex};
        let queues: HashMap<String, VecDeque<Answer>> =
            answers.into_iter().map(|(t, a)| (t.to_string(), a.into_iter().collect())).collect();
        let queues = Arc::new(Mutex::new(queues));
        let requests: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
        let seen = requests.clone();
        let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let queues = queues.clone();
            let seen = seen.clone();
            async move {
                let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                seen.lock().unwrap_or_else(|e| e.into_inner()).push((target.clone(), body));
                let answer = {
                    let mut queues = queues.lock().unwrap_or_else(|e| e.into_inner());
                    match queues.get_mut(&target) {
                        Some(q) if q.len() > 1 => q.pop_front(),
                        Some(q) => q.front().cloned(),
                        None => None,
                    }
                };
                let (status, body) = match answer {
                    Some(Answer::Ok(v)) => (200, v),
                    Some(Answer::Error(status, code, message)) => {
                        (status, serde_json::json!({ "__type": code, "message": message }))
                    }
                    None => (
                        400,
                        serde_json::json!({ "__type": "UnknownOperationException", "message": format!("no answer for `{target}`") }),
                    ),
                };
                axum::response::Response::builder()
                    .status(status)
                    .header("content-type", "application/x-amz-json-1.1")
                    .body(axum::body::Body::from(body.to_string()))
                    .unwrap_or_default()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Replay { url, requests, task }
    }

    /// The bodies of the requests made to `target`, in order.
    pub fn requests(&self, target: &str) -> Vec<serde_json::Value> {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests.iter().filter(|(t, _)| t == target).map(|(_, b)| b.clone()).collect()
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A GPU pool of g5.xlarge workers named `name` in `region`, its queue depth in
/// `Steward/Jobs` `QueueDepth` with the dimension `Pool` = `name`.
pub fn gpu_pool(region: &str, name: &str) -> crate::PoolSettings {
    crate::PoolSettings {
        region: region.into(),
        name: name.into(),
        instance_type: "g5.xlarge".into(),
        image_id: "ami-12c6146b".into(),
        subnet_id: None,
        min: 0,
        max: 8,
        environment: steward_tools::Environment::Prod,
        queue_namespace: "Steward/Jobs".into(),
        queue_metric: "QueueDepth".into(),
        queue_dimensions: vec![("Pool".into(), name.into())],
    }
}
