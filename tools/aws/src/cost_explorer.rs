//! Month-to-date actuals from Cost Explorer (`GetCostAndUsage`): unblended cost of the
//! resources carrying the management tag, by the group tag. Both tags must be activated as
//! cost allocation tags in the billing console for Cost Explorer to see them.

use aws_sdk_costexplorer::types::{
    DateInterval, Expression, Granularity, GroupDefinition, GroupDefinitionType, TagValues,
};
use steward_tools::provider::ProviderError;

use crate::error::classify;
use crate::settings::AwsSettings;

/// What Cost Explorer says managed resources cost this month.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthToDate {
    /// `[start, end)`, `YYYY-MM-DD`.
    pub start: String,
    pub end: String,
    /// USD by group tag value; resources with the management tag but no group tag are under "".
    pub by_group: Vec<(String, f64)>,
    /// Cost Explorer marks the figures of a month still running as estimated.
    pub estimated: bool,
    /// Requests made (Cost Explorer charges per request).
    pub requests: u32,
}

impl MonthToDate {
    pub fn total(&self) -> f64 {
        self.by_group.iter().map(|(_, usd)| usd).sum()
    }
}

/// Month-to-date unblended cost of managed resources from `start` to `end` (exclusive,
/// `YYYY-MM-DD`), by group, following `NextPageToken`.
pub async fn month_to_date(settings: &AwsSettings, start: &str, end: &str) -> Result<MonthToDate, ProviderError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        // Cost Explorer answers in us-east-1 only.
        .region(aws_config::Region::new("us-east-1"));
    if let Some(url) = settings.cost_explorer.endpoint_url.as_ref().or(settings.endpoint_url.as_ref()) {
        loader = loader.endpoint_url(url);
    }
    let client = aws_sdk_costexplorer::Client::new(&loader.load().await);
    let (key, value) = &settings.managed_tag;
    let managed = Expression::builder().tags(TagValues::builder().key(key).values(value).build()).build();
    let interval = DateInterval::builder()
        .start(start)
        .end(end)
        .build()
        .map_err(|e| ProviderError::Refused(format!("GetCostAndUsage period: {e}")))?;
    let by_group = GroupDefinition::builder().r#type(GroupDefinitionType::Tag).key(&settings.group_tag).build();
    let mut out = MonthToDate {
        start: start.to_string(),
        end: end.to_string(),
        by_group: Vec::new(),
        estimated: false,
        requests: 0,
    };
    let mut token: Option<String> = None;
    loop {
        let page = client
            .get_cost_and_usage()
            .time_period(interval.clone())
            .granularity(Granularity::Monthly)
            .metrics("UnblendedCost")
            .filter(managed.clone())
            .group_by(by_group.clone())
            .set_next_page_token(token.take())
            .send()
            .await
            .map_err(|e| classify("GetCostAndUsage", e))?;
        out.requests += 1;
        for period in page.results_by_time() {
            out.estimated |= period.estimated();
            for group in period.groups() {
                // Tag group keys read `steward:group$web`; an untagged resource's is `steward:group$`.
                let name = group.keys().first().map(|k| k.split_once('$').map_or(k.as_str(), |(_, v)| v)).unwrap_or("");
                let usd = group
                    .metrics()
                    .and_then(|m| m.get("UnblendedCost"))
                    .and_then(|m| m.amount())
                    .and_then(|a| a.parse::<f64>().ok())
                    .filter(|u| u.is_finite())
                    .unwrap_or(0.0);
                add(&mut out.by_group, name, usd);
            }
            // Without groups a period carries its total.
            if period.groups().is_empty() {
                if let Some(usd) = period
                    .total()
                    .and_then(|t| t.get("UnblendedCost"))
                    .and_then(|m| m.amount())
                    .and_then(|a| a.parse::<f64>().ok())
                {
                    add(&mut out.by_group, "", usd);
                }
            }
        }
        token = page.next_page_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out.by_group.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn add(groups: &mut Vec<(String, f64)>, name: &str, usd: f64) {
    match groups.iter_mut().find(|(n, _)| n == name) {
        Some((_, total)) => *total += usd,
        None => groups.push((name.to_string(), usd)),
    }
}
