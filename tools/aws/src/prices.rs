//! What managed capacity costs an hour: the shipped table ([`steward_tools::prices`]),
//! refreshed from AWS when `prices.refresh` is on: on-demand from the Price List API
//! (`GetProducts`), spot from EC2 `DescribeSpotPriceHistory` (the median over the region's
//! zones), for the instance types the fleet runs, once a day.
//!
//! Outside the shipped regions and before a refresh, a type is priced at its us-east-1
//! figure, logged once as an estimate. Spot capacity with no spot figure is priced at
//! on-demand: burn is overstated rather than understated.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_pricing::types::{Filter as PriceFilter, FilterType};
use steward_tools::provider::ProviderError;

use crate::error::classify;

/// How an instance is billed (the same type the tool calls and observations use).
pub use steward_tools::Market;

/// Refreshed figures, by `(region, instance type)`.
#[derive(Debug, Default)]
pub struct PriceBook {
    on_demand: RwLock<HashMap<(String, String), f64>>,
    spot: RwLock<HashMap<(String, String), f64>>,
    /// Pairs already logged as estimated.
    estimated: Mutex<HashSet<(String, String)>>,
}

impl PriceBook {
    /// USD per hour for one instance of `instance_type` in `region`, billed as `market`.
    pub fn hourly(&self, region: &str, instance_type: &str, market: Market) -> Option<f64> {
        let key = (region.to_string(), instance_type.to_string());
        let shipped = steward_tools::prices::shipped(region, instance_type);
        let on_demand = read(&self.on_demand).get(&key).copied().or(shipped.map(|p| p.on_demand)).or_else(|| {
            let estimate = steward_tools::prices::hourly_price(instance_type)?;
            if self.estimated.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone()) {
                tracing::warn!(
                    region,
                    instance_type,
                    usd_per_hour = estimate,
                    "No price for this type in this region; using its us-east-1 price. Turn on aws.prices.refresh for the region's own."
                );
            }
            Some(estimate)
        })?;
        match market {
            Market::OnDemand => Some(on_demand),
            Market::Spot => {
                Some(read(&self.spot).get(&key).copied().or(shipped.and_then(|p| p.spot)).unwrap_or(on_demand))
            }
        }
    }

    pub fn set_on_demand(&self, region: &str, instance_type: &str, usd: f64) {
        write(&self.on_demand).insert((region.to_string(), instance_type.to_string()), usd);
    }

    pub fn set_spot(&self, region: &str, instance_type: &str, usd: f64) {
        write(&self.spot).insert((region.to_string(), instance_type.to_string()), usd);
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// The Linux on-demand hourly price in one `GetProducts` price list entry (a JSON document
/// per product, with its terms), if it is one.
pub fn on_demand_from_product(document: &str, instance_type: &str) -> Option<f64> {
    let product: serde_json::Value = serde_json::from_str(document).ok()?;
    let attributes = product.pointer("/product/attributes")?;
    if attributes.get("instanceType").and_then(|v| v.as_str()) != Some(instance_type) {
        return None;
    }
    // Bring-your-own-license and reserved-capacity products carry other prices.
    if attributes.get("licenseModel").and_then(|v| v.as_str()).is_some_and(|l| l != "No License required") {
        return None;
    }
    let mut best: Option<f64> = None;
    for term in product.pointer("/terms/OnDemand")?.as_object()?.values() {
        for dimension in term.get("priceDimensions").and_then(|d| d.as_object()).into_iter().flat_map(|d| d.values()) {
            if dimension.get("unit").and_then(|u| u.as_str()) != Some("Hrs") {
                continue;
            }
            let usd = dimension.pointer("/pricePerUnit/USD").and_then(|v| v.as_str()).and_then(|v| v.parse().ok());
            if let Some(usd) = usd.filter(|u: &f64| u.is_finite() && *u > 0.0) {
                // Several products for one filter: the dearest, so burn is not understated.
                best = Some(best.map_or(usd, |b| b.max(usd)));
            }
        }
    }
    best
}

/// The median of some prices.
fn median(mut prices: Vec<f64>) -> Option<f64> {
    prices.sort_by(f64::total_cmp);
    let n = prices.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(prices[n / 2]),
        _ => Some((prices[n / 2 - 1] + prices[n / 2]) / 2.0),
    }
}

/// When prices were last refreshed (or tried), per provider.
#[derive(Debug, Default)]
pub(crate) struct RefreshState {
    last: Mutex<Option<Instant>>,
}

impl RefreshState {
    /// Whether a refresh is due, without marking it started.
    pub(crate) fn is_due(&self, every: Duration) -> bool {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.is_none_or(|at| at.elapsed() >= every)
    }

    /// Whether a refresh is due, marking it started if so (a failed refresh is retried an
    /// hour later, not every tick).
    pub(crate) fn due(&self, every: Duration) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < every => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    pub(crate) fn retry_in(&self, wait: Duration, every: Duration) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        *last = Instant::now().checked_sub(every.saturating_sub(wait));
    }
}

/// The clients a refresh asks.
pub struct PriceSources<'a> {
    pub pricing: &'a aws_sdk_pricing::Client,
    pub ec2: &'a aws_sdk_ec2::Client,
}

impl PriceBook {
    /// Refresh the on-demand and spot prices of `types` in `region` from AWS. Counts its
    /// calls. Types the Price List does not know keep their current figure.
    pub async fn refresh(
        &self,
        sources: PriceSources<'_>,
        region: &str,
        types: &[String],
        calls: &mut u64,
    ) -> Result<usize, ProviderError> {
        let PriceSources { pricing, ec2 } = sources;
        let region = region.to_string();
        let mut refreshed = 0;
        for instance_type in types {
            let term = |field: &str, value: &str| {
                PriceFilter::builder().r#type(FilterType::TermMatch).field(field).value(value).build()
            };
            let filters = [
                ("instanceType", instance_type.as_str()),
                ("regionCode", region.as_str()),
                ("operatingSystem", "Linux"),
                ("tenancy", "Shared"),
                ("preInstalledSw", "NA"),
                ("capacitystatus", "Used"),
            ]
            .into_iter()
            .map(|(f, v)| term(f, v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProviderError::Refused(format!("GetProducts filter: {e}")))?;
            let mut pages = pricing
                .get_products()
                .service_code("AmazonEC2")
                .format_version("aws_v1")
                .set_filters(Some(filters))
                .max_results(100)
                .into_paginator()
                .send();
            let mut found: Option<f64> = None;
            while let Some(page) = pages.next().await {
                *calls += 1;
                let page = page.map_err(|e| classify("GetProducts", e))?;
                for document in page.price_list() {
                    if let Some(usd) = on_demand_from_product(document, instance_type) {
                        found = Some(found.map_or(usd, |f| f.max(usd)));
                    }
                }
            }
            if let Some(usd) = found {
                self.set_on_demand(&region, instance_type, usd);
                refreshed += 1;
            }
        }
        // Spot: the current price in each zone (a start time of now asks for exactly that).
        let mut by_type: HashMap<String, Vec<f64>> = HashMap::new();
        let mut pages = ec2
            .describe_spot_price_history()
            .set_instance_types(Some(
                types.iter().map(|t| aws_sdk_ec2::types::InstanceType::from(t.as_str())).collect(),
            ))
            .product_descriptions("Linux/UNIX")
            .start_time(aws_sdk_ec2::primitives::DateTime::from(std::time::SystemTime::now()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            *calls += 1;
            let page = page.map_err(|e| classify("DescribeSpotPriceHistory", e))?;
            for entry in page.spot_price_history() {
                let (Some(t), Some(price)) = (entry.instance_type(), entry.spot_price()) else { continue };
                if let Ok(usd) = price.parse::<f64>() {
                    if usd.is_finite() && usd > 0.0 {
                        by_type.entry(t.as_str().to_string()).or_default().push(usd);
                    }
                }
            }
        }
        for (instance_type, prices) in by_type {
            if let Some(usd) = median(prices) {
                self.set_spot(&region, &instance_type, usd);
            }
        }
        Ok(refreshed)
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::price_list_product as product;

    #[test]
    fn a_product_document_yields_its_hourly_on_demand_price() {
        assert_eq!(on_demand_from_product(&product("g5.xlarge", "1.0060000000"), "g5.xlarge"), Some(1.006));
        assert_eq!(on_demand_from_product(&product("g5.xlarge", "1.006"), "g6.xlarge"), None, "another type");
        assert_eq!(on_demand_from_product(&product("g5.xlarge", "0.0000000000"), "g5.xlarge"), None, "a zero rate");
        assert_eq!(on_demand_from_product("not json", "g5.xlarge"), None);
        let byol = product("g5.xlarge", "0.9").replace("No License required", "Bring your own license");
        assert_eq!(on_demand_from_product(&byol, "g5.xlarge"), None);
    }

    #[test]
    fn refreshed_figures_win_spot_falls_back_to_on_demand_and_estimates_are_us_east_1() {
        let book = PriceBook::default();
        assert_eq!(book.hourly("us-east-2", "g5.xlarge", Market::OnDemand), Some(1.006));
        assert_eq!(book.hourly("us-east-2", "g5.xlarge", Market::Spot), Some(0.3651));
        assert_eq!(book.hourly("us-east-1", "t3.medium", Market::Spot), Some(0.0416), "no spot figure: on-demand");
        assert_eq!(book.hourly("eu-west-1", "g5.xlarge", Market::OnDemand), Some(1.006), "estimated from us-east-1");
        book.set_on_demand("eu-west-1", "g5.xlarge", 1.123);
        book.set_spot("eu-west-1", "g5.xlarge", 0.4);
        assert_eq!(book.hourly("eu-west-1", "g5.xlarge", Market::OnDemand), Some(1.123));
        assert_eq!(book.hourly("eu-west-1", "g5.xlarge", Market::Spot), Some(0.4));
        assert_eq!(book.hourly("eu-west-1", "x9.unknown", Market::OnDemand), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
    }
}
