//! Prices and cost: the spot share of a pool and the spot price history through moto
//! server; the Price List API (`GetProducts`) and Cost Explorer (`GetCostAndUsage`) through
//! a local server replaying their documented responses, because moto answers the first with
//! HTTP 500 and the second with empty results.

use aws_sdk_ec2::types::{InstanceMarketOptionsRequest, MarketType, ResourceType, Tag, TagSpecification};
use serde_json::json;
use steward_aws::testing::{
    emulator as endpoint, emulator_config as sdk, gpu_pool, price_list_product, Answer, Replay,
};
use steward_aws::{AwsProvider, AwsSettings, Market};
use steward_tools::provider::CloudProvider;

const GET_PRODUCTS: &str = "AWSPriceListService.GetProducts";
const GET_COST: &str = "AWSInsightsIndexService.GetCostAndUsage";

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn a_pool_is_billed_at_spot_for_its_spot_workers() {
    let url = endpoint();
    let region = "us-east-2";
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&url, region).await);
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key("steward:managed").value("true").build())
        .tags(Tag::builder().key("steward:group").value("spotty").build())
        .build();
    let launch = |spot: bool| {
        let mut run = ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(aws_sdk_ec2::types::InstanceType::G5Xlarge)
            .min_count(1)
            .max_count(1)
            .tag_specifications(tags.clone());
        if spot {
            run = run
                .instance_market_options(InstanceMarketOptionsRequest::builder().market_type(MarketType::Spot).build());
        }
        run.send()
    };
    launch(true).await.expect("spot worker");
    launch(false).await.expect("on-demand worker");

    let mut settings = AwsSettings::new(region);
    settings.endpoint_url = Some(url.clone());
    settings.pools.push(gpu_pool(region, "spotty"));
    let aws = AwsProvider::connect(settings).await;
    let o = aws.observe().await.expect("observe");
    let spotty = o.group("spotty").expect("the pool");
    assert_eq!(spotty.instances.len(), 2);
    // The shipped table: g5.xlarge at $1.006 on demand, $0.3651 on spot.
    assert!(close(spotty.hourly_price, (1.006 + 0.3651) / 2.0), "{}", spotty.hourly_price);
    assert!(close(spotty.hourly_burn(), 1.006 + 0.3651));
}

#[tokio::test]
async fn prices_refresh_from_the_price_list_and_the_spot_history_once_a_day() {
    let url = endpoint();
    // Two pages: the first holds another type's product (and a token), the second ours.
    let first = json!({ "FormatVersion": "aws_v1", "NextToken": "page-2",
                        "PriceList": [price_list_product("g5.2xlarge", "1.2120000000")] });
    let second = json!({ "FormatVersion": "aws_v1", "PriceList": [price_list_product("g5.xlarge", "1.2340000000")] });
    let prices = Replay::start(vec![(GET_PRODUCTS, vec![Answer::Ok(first), Answer::Ok(second)])]).await;

    let region = "us-east-1";
    let mut settings = AwsSettings::new(region);
    settings.endpoint_url = Some(url.clone());
    settings.pools.push(gpu_pool(region, "priced"));
    settings.prices.refresh = true;
    settings.prices.endpoint_url = Some(prices.url.clone());
    let aws = AwsProvider::connect(settings).await;
    assert_eq!(aws.prices().hourly(region, "g5.xlarge", Market::OnDemand), Some(1.006), "shipped before a refresh");

    let o = aws.observe().await.expect("observe");
    let priced = o.group("priced").expect("the pool");
    assert!(close(priced.hourly_price, 1.234), "the Price List's figure: {}", priced.hourly_price);
    // moto's spot price history answers $0.00001 in every zone.
    assert_eq!(aws.prices().hourly(region, "g5.xlarge", Market::Spot), Some(0.00001));

    let asked = prices.requests(GET_PRODUCTS);
    assert_eq!(asked.len(), 2, "two pages");
    assert_eq!(asked[0]["ServiceCode"], "AmazonEC2");
    let filters = asked[0]["Filters"].as_array().expect("filters");
    let filter = |field: &str| filters.iter().find(|f| f["Field"] == field).map(|f| f["Value"].clone());
    assert_eq!(filter("instanceType"), Some(json!("g5.xlarge")));
    assert_eq!(filter("regionCode"), Some(json!("us-east-1")));
    assert_eq!(filter("operatingSystem"), Some(json!("Linux")));
    assert_eq!(filters[0]["Type"], "TERM_MATCH");
    assert_eq!(asked[1]["NextToken"], "page-2");
    // DescribeAutoScalingGroups, DescribeInstances, GetMetricData, two GetProducts pages,
    // DescribeSpotPriceHistory.
    assert_eq!(aws.api_calls(), Some(6));

    aws.observe().await.expect("observe again");
    assert_eq!(prices.requests(GET_PRODUCTS).len(), 2, "not again within the day");
    assert_eq!(aws.api_calls(), Some(3));
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_prices_there_are() {
    let url = endpoint();
    let denied =
        Answer::Error(400, "AccessDeniedException".into(), "not authorized to perform pricing:GetProducts".into());
    let prices = Replay::start(vec![(GET_PRODUCTS, vec![denied])]).await;
    let region = "us-west-2";
    let mut settings = AwsSettings::new(region);
    settings.endpoint_url = Some(url.clone());
    settings.pools.push(gpu_pool(region, "kept"));
    settings.prices.refresh = true;
    settings.prices.endpoint_url = Some(prices.url.clone());
    let aws = AwsProvider::connect(settings).await;
    let o = aws.observe().await.expect("the tick goes on");
    assert!(o.complete);
    assert!(close(o.group("kept").expect("pool").hourly_price, 1.006), "the shipped price stays");
    aws.observe().await.expect("observe again");
    assert_eq!(prices.requests(GET_PRODUCTS).len(), 1, "retried in an hour, not every tick");
}

fn cost_page(groups: &[(&str, &str)], token: Option<&str>) -> Answer {
    let groups: Vec<_> = groups
        .iter()
        .map(|(key, usd)| json!({ "Keys": [key], "Metrics": { "UnblendedCost": { "Amount": usd, "Unit": "USD" } } }))
        .collect();
    let mut page = json!({
        "GroupDefinitions": [{ "Type": "TAG", "Key": "steward:group" }],
        "ResultsByTime": [{ "TimePeriod": { "Start": "2026-11-01", "End": "2026-11-28" },
                            "Total": {}, "Groups": groups, "Estimated": true }],
        "DimensionValueAttributes": []
    });
    if let Some(t) = token {
        page["NextPageToken"] = json!(t);
    }
    Answer::Ok(page)
}

#[tokio::test]
async fn month_to_date_comes_from_cost_explorer_by_group_tag() {
    let first = cost_page(&[("steward:group$web", "412.5031"), ("steward:group$", "3.2")], Some("next"));
    let second = cost_page(&[("steward:group$gpu", "1290.77"), ("steward:group$web", "0.4969")], None);
    let ce = Replay::start(vec![(GET_COST, vec![first, second])]).await;
    let mut settings = AwsSettings::new("eu-west-1");
    settings.cost_explorer.enabled = true;
    settings.cost_explorer.endpoint_url = Some(ce.url.clone());
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let mtd = steward_aws::month_to_date(&settings, "2026-11-01", "2026-11-28").await.expect("month to date");
    assert_eq!(mtd.requests, 2);
    assert!(mtd.estimated);
    let names: Vec<&str> = mtd.by_group.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["", "gpu", "web"]);
    assert!(close(mtd.by_group[2].1, 413.0), "pages add up: {:?}", mtd.by_group);
    assert!(close(mtd.total(), 3.2 + 1290.77 + 413.0));

    let asked = ce.requests(GET_COST);
    assert_eq!(asked[0]["TimePeriod"], json!({ "Start": "2026-11-01", "End": "2026-11-28" }));
    assert_eq!(asked[0]["Granularity"], "MONTHLY");
    assert_eq!(asked[0]["Metrics"], json!(["UnblendedCost"]));
    assert_eq!(asked[0]["Filter"]["Tags"], json!({ "Key": "steward:managed", "Values": ["true"] }));
    assert_eq!(asked[0]["GroupBy"], json!([{ "Type": "TAG", "Key": "steward:group" }]));
    assert_eq!(asked[1]["NextPageToken"], "next");

    let unavailable = Replay::start(vec![(
        GET_COST,
        vec![Answer::Error(400, "DataUnavailableException".into(), "Data is not available yet".into())],
    )])
    .await;
    settings.cost_explorer.endpoint_url = Some(unavailable.url.clone());
    let e = steward_aws::month_to_date(&settings, "2026-11-01", "2026-11-28").await.expect_err("refused");
    assert!(e.to_string().contains("DataUnavailableException"), "{e}");
    assert!(!e.to_string().contains('\n'), "one line: {e}");
}
