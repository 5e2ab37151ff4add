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
        options: vec![steward_tools::LaunchOption {
            instance_type: "g5.xlarge".into(),
            zone: None,
            market: steward_tools::Market::OnDemand,
            max_price: None,
        }],
        budget: steward_tools::Budget::default(),
        min: 0,
        max: 8,
        environment: steward_tools::Environment::Prod,
        queue_namespace: "Steward/Jobs".into(),
        queue_metric: "QueueDepth".into(),
        queue_dimensions: vec![("Pool".into(), name.into())],
        jobs_metric: None,
        age_metric: None,
    }
}

/// What the [`FaultProxy`] breaks.
#[derive(Debug, Default)]
struct Faults {
    /// `RunInstances` for these `(instance type, zone, market)` answers
    /// `InsufficientInstanceCapacity` (`None` matches any zone).
    no_capacity: Vec<(String, Option<String>, crate::Market)>,
    /// Spot workers with an interruption notice (`marked-for-termination`).
    notices: Vec<String>,
    /// Most workers one `RunInstances` of an instance type gets (AWS launches as many as
    /// it has between `MinCount` and `MaxCount`; the emulator only `MinCount`).
    room: Vec<(String, u32)>,
    /// Every EC2 action seen, with the launch's type, zone and market for `RunInstances`.
    seen: Vec<String>,
}

/// A fault-injecting HTTP proxy in front of the AWS API emulator, for what the emulator
/// cannot produce: `RunInstances` answering `InsufficientInstanceCapacity` (as EC2 does,
/// HTTP 500 with the EC2 error XML) for chosen options, and spot requests under an
/// interruption notice (`DescribeSpotInstanceRequests` answered with
/// `marked-for-termination` for chosen instances). Everything else goes to the emulator.
pub struct FaultProxy {
    pub url: String,
    faults: std::sync::Arc<std::sync::Mutex<Faults>>,
    task: tokio::task::JoinHandle<()>,
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
                (b'%', Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, v)| (decode(k), decode(v))))
        .collect()
}

/// The room left for `instance_type` per launch, when one was set.
fn room_for(faults: &std::sync::Mutex<Faults>, instance_type: &str) -> Option<u32> {
    let faults = faults.lock().unwrap_or_else(|e| e.into_inner());
    faults.room.iter().find(|(t, _)| t == instance_type).map(|(_, n)| *n)
}

fn encode_form(params: &[(String, String)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

impl FaultProxy {
    /// Start a proxy to `upstream` (the emulator's URL).
    pub async fn start(upstream: &str) -> FaultProxy {
        use std::sync::{Arc, Mutex};
        let faults: Arc<Mutex<Faults>> = Arc::default();
        let state = faults.clone();
        let upstream = upstream.trim_end_matches('/').to_string();
        let client = reqwest::Client::new();
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let state = state.clone();
                let upstream = upstream.clone();
                let client = client.clone();
                async move {
                    let params = form(&body);
                    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
                    let action = get("Action").unwrap_or_default();
                    let xml = |status: u16, body: String| {
                        axum::response::Response::builder()
                            .status(status)
                            .header("content-type", "text/xml")
                            .body(axum::body::Body::from(body))
                            .unwrap_or_default()
                    };
                    if action == "RunInstances" {
                        let instance_type = get("InstanceType").unwrap_or_default();
                        let zone = get("Placement.AvailabilityZone").or_else(|| get("SubnetId"));
                        let market = match get("InstanceMarketOptions.MarketType").as_deref() {
                            Some("spot") => crate::Market::Spot,
                            _ => crate::Market::OnDemand,
                        };
                        let refused = {
                            let mut f = state.lock().unwrap_or_else(|e| e.into_inner());
                            f.seen.push(format!(
                                "RunInstances {instance_type} {} {}",
                                zone.as_deref().unwrap_or("any"),
                                market.as_str()
                            ));
                            f.no_capacity.iter().any(|(t, z, m)| {
                                *t == instance_type && *m == market && (z.is_none() || *z == zone)
                            })
                        };
                        if refused || room_for(&state, &instance_type) == Some(0) {
                            return xml(
                                500,
                                format!(
                                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error>\
                                     <Code>InsufficientInstanceCapacity</Code><Message>We currently do not have \
                                     sufficient {instance_type} capacity in the Availability Zone you requested \
                                     ({}).</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>",
                                    zone.as_deref().unwrap_or("any")
                                ),
                            );
                        }
                    } else if !action.is_empty() {
                        state.lock().unwrap_or_else(|e| e.into_inner()).seen.push(action.clone());
                    }
                    if action == "DescribeSpotInstanceRequests" {
                        let noticed = state.lock().unwrap_or_else(|e| e.into_inner()).notices.clone();
                        let asked: Vec<String> =
                            params.iter().filter(|(k, _)| k.starts_with("Filter.1.Value.")).map(|(_, v)| v.clone()).collect();
                        let items: String = noticed
                            .iter()
                            .filter(|id| asked.contains(id))
                            .enumerate()
                            .map(|(i, id)| {
                                format!(
                                    "<item><spotInstanceRequestId>sir-fault{i}</spotInstanceRequestId>\
                                     <instanceId>{id}</instanceId><state>active</state><status>\
                                     <code>marked-for-termination</code><updateTime>2026-12-02T12:00:00.000Z</updateTime>\
                                     <message>Spot Instance is marked for termination.</message></status></item>"
                                )
                            })
                            .collect();
                        return xml(
                            200,
                            format!(
                                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeSpotInstanceRequestsResponse \
                                 xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>fault-proxy</requestId>\
                                 <spotInstanceRequestSet>{items}</spotInstanceRequestSet></DescribeSpotInstanceRequestsResponse>"
                            ),
                        );
                    }
                    // As AWS: as many as there is room for, up to MaxCount.
                    let body = if action == "RunInstances" {
                        let max: u32 = get("MaxCount").and_then(|v| v.parse().ok()).unwrap_or(1);
                        let instance_type = get("InstanceType").unwrap_or_default();
                        let room = room_for(&state, &instance_type).map_or(max, |n| n.min(max));
                        let params: Vec<(String, String)> = params
                            .into_iter()
                            .map(|(k, v)| match k.as_str() {
                                "MinCount" | "MaxCount" => (k, room.to_string()),
                                _ => (k, v),
                            })
                            .collect();
                        axum::body::Bytes::from(encode_form(&params))
                    } else {
                        body
                    };
                    let path = uri.path_and_query().map_or("/", |p| p.as_str());
                    let mut request = client.request(method, format!("{upstream}{path}")).body(body.to_vec());
                    for (name, value) in &headers {
                        if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
                            request = request.header(name, value);
                        }
                    }
                    match request.send().await {
                        Ok(answer) => {
                            let status = answer.status().as_u16();
                            let mut response = axum::response::Response::builder().status(status);
                            for (name, value) in answer.headers() {
                                if name != axum::http::header::CONTENT_LENGTH && name != axum::http::header::TRANSFER_ENCODING
                                {
                                    response = response.header(name, value);
                                }
                            }
                            let bytes = answer.bytes().await.unwrap_or_default();
                            response.body(axum::body::Body::from(bytes)).unwrap_or_default()
                        }
                        Err(e) => xml(502, format!("fault proxy: the emulator did not answer: {e}")),
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy { url, faults, task }
    }

    /// From now on, `RunInstances` of `instance_type` in `zone` (any, when `None`) on
    /// `market` answers `InsufficientInstanceCapacity`.
    pub fn no_capacity(&self, instance_type: &str, zone: Option<&str>, market: crate::Market) {
        let mut f = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        f.no_capacity.push((instance_type.to_string(), zone.map(str::to_string), market));
    }

    /// From now on, one `RunInstances` of `instance_type` gets at most `workers` (0: none,
    /// answered `InsufficientInstanceCapacity`).
    pub fn room(&self, instance_type: &str, workers: u32) {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).room.push((instance_type.to_string(), workers));
    }

    /// Give `instance` a spot interruption notice.
    pub fn notice(&self, instance: &str) {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).notices.push(instance.to_string());
    }

    /// Every EC2 action the proxy saw (launches as `RunInstances TYPE ZONE MARKET`).
    pub fn seen(&self) -> Vec<String> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).seen.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
