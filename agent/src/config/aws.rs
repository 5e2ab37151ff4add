//! `[aws]`: the AWS provider's regions, endpoint, tags, GPU pools, configured metrics, price
//! refresh and Cost Explorer, resolved into the provider's settings (one per region).
//! Credentials come from the standard chain, never from here.

use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use steward_tools::Environment;

use super::values::{nonempty, parse_duration, Env};

/// The `[aws]` section, for `provider = "aws"`. Credentials come from the standard chain
/// (environment, profile, SSO, instance metadata, IRSA), never from here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsFileConfig {
    /// Default: `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// Several regions in one daemon (instead of `region`).
    pub regions: Vec<String>,
    /// An emulator or LocalStack; default `AWS_ENDPOINT_URL` when set, else AWS.
    pub endpoint_url: Option<String>,
    /// `KEY=VALUE` of the management tag (default `steward:managed=true`).
    pub managed_tag: Option<String>,
    /// The tag naming a resource's group (default `steward:group`).
    pub group_tag: Option<String>,
    /// The tag naming a group's environment (default `steward:environment`; absent: prod).
    pub environment_tag: Option<String>,
    /// GPU pools: EC2 workers Steward launches (tagged) and terminates itself.
    pub pools: Vec<AwsPoolConfig>,
    /// Most mutating calls a minute in the account and region (default 300).
    pub mutating_calls_per_minute: Option<u32>,
    /// `[[aws.metrics]]`: metrics read for Auto Scaling groups instead of, or besides, their
    /// average CPU.
    pub metrics: Vec<AwsMetricConfig>,
    /// `[aws.prices]`: refresh the shipped price table from AWS.
    pub prices: AwsPricesFileConfig,
    /// `[aws.cost_explorer]`: month-to-date actuals in `steward cost`.
    pub cost_explorer: AwsCostExplorerFileConfig,
}

/// One `[[aws.metrics]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsMetricConfig {
    /// The managed group (its `steward:group` name).
    pub group: String,
    /// `cpu_percent` (replaces the default CPU), `requests_per_minute` or `queue_depth`.
    #[serde(default = "default_metric_field")]
    pub field: String,
    pub namespace: String,
    pub metric: String,
    /// `Name=Value`; a value of `{asg}` stands for the group's Auto Scaling group name.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Default `Average`.
    #[serde(default = "default_metric_stat")]
    pub stat: String,
}

fn default_metric_field() -> String {
    "cpu_percent".into()
}

fn default_metric_stat() -> String {
    "Average".into()
}

/// `Name=Value` pairs.
fn dimensions(field: &str, pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|d| {
            let (k, v) = d.split_once('=').with_context(|| format!("{field}: `{d}` is not Name=Value"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// The `[aws.prices]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsPricesFileConfig {
    /// Refresh on-demand prices from the Price List API and spot prices from the spot price
    /// history (default off: the shipped table).
    pub refresh: bool,
    /// The Price List API's endpoint (default: AWS's).
    pub endpoint_url: Option<String>,
    /// Where the Price List API is asked (default us-east-1; it also answers in
    /// eu-central-1 and ap-south-1).
    pub region: Option<String>,
    /// How often (default 24h).
    pub every: Option<String>,
}

/// The `[aws.cost_explorer]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsCostExplorerFileConfig {
    /// Ask Cost Explorer for month-to-date actuals in `steward cost` (default off; AWS
    /// charges per request).
    pub enabled: bool,
    /// Its endpoint (default: AWS's).
    pub endpoint_url: Option<String>,
}

/// One `[[aws.pools]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsPoolConfig {
    pub name: String,
    /// With no `options`: the one type the pool launches, on demand.
    pub instance_type: Option<String>,
    pub image_id: String,
    /// With no `options`: the subnet workers launch in.
    pub subnet_id: Option<String>,
    /// `[[aws.pools.options]]`: where workers may launch, in preference order.
    #[serde(default)]
    pub options: Vec<AwsPoolOptionConfig>,
    /// Most the pool may burn, USD per hour (worst-case prices); a launch past it is denied.
    pub max_usd_per_hour: Option<f64>,
    /// Most the pool may cost in a calendar month, USD.
    pub max_usd_per_month: Option<f64>,
    #[serde(default)]
    pub min: u32,
    pub max: u32,
    pub environment: Environment,
    /// The pool's region (default: the first configured region).
    pub region: Option<String>,
    /// The CloudWatch metric holding the pool's queue depth.
    pub queue_namespace: String,
    pub queue_metric: String,
    /// Its dimensions, `Name=Value`.
    #[serde(default)]
    pub queue_dimensions: Vec<String>,
    /// Beside the queue metric (same namespace and dimensions): one whose per-minute Sum is
    /// the jobs started (SQS: `NumberOfMessagesReceived`), for the planner to learn a job's
    /// duration; one holding the oldest job's age in seconds (SQS:
    /// `ApproximateAgeOfOldestMessage`).
    pub jobs_metric: Option<String>,
    pub age_metric: Option<String>,
}

/// One `[[aws.pools.options]]` entry: an instance type in a zone (or subnet) and a market.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsPoolOptionConfig {
    pub instance_type: String,
    /// An availability zone (`us-east-1a`); or give `subnet`.
    pub zone: Option<String>,
    /// A subnet id (`subnet-…`), which also fixes the zone.
    pub subnet: Option<String>,
    /// `spot` or `on_demand` (default).
    #[serde(default = "on_demand")]
    pub market: steward_tools::Market,
    /// Spot: the most to pay per hour (default, as on AWS: the on-demand price).
    pub max_price: Option<f64>,
}

fn on_demand() -> steward_tools::Market {
    steward_tools::Market::OnDemand
}

/// A pool's options as the provider takes them: `[[aws.pools.options]]`, or its one type.
fn pool_options(i: usize, p: &AwsPoolConfig, refresh: bool) -> anyhow::Result<Vec<steward_tools::LaunchOption>> {
    let field = format!("aws.pools[{i}] ({})", p.name);
    let options: Vec<steward_tools::LaunchOption> = if p.options.is_empty() {
        let instance_type =
            p.instance_type.clone().with_context(|| format!("{field}: give instance_type or [[aws.pools.options]]"))?;
        vec![steward_tools::LaunchOption {
            instance_type,
            zone: p.subnet_id.clone(),
            market: steward_tools::Market::OnDemand,
            max_price: None,
        }]
    } else {
        if p.instance_type.is_some() || p.subnet_id.is_some() {
            bail!("{field}: with [[aws.pools.options]], give instance_type and subnet in each option");
        }
        let mut out = Vec::new();
        for (j, o) in p.options.iter().enumerate() {
            let field = format!("{field}.options[{j}]");
            let zone = match (&o.zone, &o.subnet) {
                (Some(_), Some(_)) => bail!("{field}: give zone or subnet, not both"),
                (None, Some(s)) if !s.starts_with("subnet-") => bail!("{field}: subnet `{s}` is not a subnet id"),
                (Some(z), None) if z.starts_with("subnet-") => {
                    bail!("{field}: `{z}` is a subnet: write subnet = \"{z}\"")
                }
                (z, s) => z.clone().or(s.clone()),
            };
            if let Some(max) = o.max_price {
                if !(max.is_finite() && max > 0.0) {
                    bail!("{field}.max_price: must be a positive number of dollars per hour");
                }
                if o.market != steward_tools::Market::Spot {
                    bail!("{field}.max_price: only a spot option has a max price");
                }
            }
            let option = steward_tools::LaunchOption {
                instance_type: o.instance_type.clone(),
                zone,
                market: o.market,
                max_price: o.max_price,
            };
            if out.iter().any(|seen: &steward_tools::LaunchOption| seen.key() == option.key()) {
                bail!("{field}: `{}` is listed twice", option.key());
            }
            out.push(option);
        }
        out
    };
    for o in &options {
        if !refresh && steward_tools::prices::hourly_price(&o.instance_type).is_none() {
            bail!("{field}: the shipped price table has no `{}`; turn on aws.prices.refresh", o.instance_type);
        }
    }
    Ok(options)
}

/// Resolve `[aws]` for `provider = "aws"`.
pub fn resolve_aws(file: &AwsFileConfig, env: Env<'_>) -> anyhow::Result<Vec<steward_aws::AwsSettings>> {
    let regions: Vec<String> = if file.regions.is_empty() {
        vec![nonempty(file.region.clone())
            .or_else(|| nonempty(env("AWS_REGION")))
            .or_else(|| nonempty(env("AWS_DEFAULT_REGION")))
            .context("aws.region: set it, or AWS_REGION, for provider = \"aws\"")?]
    } else {
        if file.region.is_some() {
            bail!("aws: give region or regions, not both");
        }
        file.regions.clone()
    };
    let mut settings = steward_aws::AwsSettings::new(regions[0].clone());
    settings.endpoint_url = nonempty(file.endpoint_url.clone()).or_else(|| nonempty(env("AWS_ENDPOINT_URL")));
    if let Some(tag) = &file.managed_tag {
        let (k, v) = tag.split_once('=').context("aws.managed_tag: write KEY=VALUE, like steward:managed=true")?;
        if k.trim().is_empty() || v.trim().is_empty() {
            bail!("aws.managed_tag: write KEY=VALUE, like steward:managed=true");
        }
        settings.managed_tag = (k.trim().to_string(), v.trim().to_string());
    }
    if let Some(t) = nonempty(file.group_tag.clone()) {
        settings.group_tag = t;
    }
    if let Some(t) = nonempty(file.environment_tag.clone()) {
        settings.environment_tag = t;
    }
    if let Some(n) = file.mutating_calls_per_minute {
        if n == 0 {
            bail!("aws.mutating_calls_per_minute: must be at least 1");
        }
        settings.mutating_calls_per_minute = n;
    }
    settings.prices.refresh = file.prices.refresh;
    settings.prices.endpoint_url = nonempty(file.prices.endpoint_url.clone());
    if let Some(r) = nonempty(file.prices.region.clone()) {
        settings.prices.region = r;
    }
    if let Some(every) = &file.prices.every {
        settings.prices.every = parse_duration("aws.prices.every", every)?;
        if settings.prices.every < Duration::from_secs(60) {
            bail!("aws.prices.every: at least 1m");
        }
    }
    for (i, m) in file.metrics.iter().enumerate() {
        let field = steward_aws::MetricField::parse(&m.field).with_context(|| {
            format!(
                "aws.metrics[{i}] ({}): field `{}` is not cpu_percent, requests_per_minute or queue_depth",
                m.group, m.field
            )
        })?;
        if m.stat.trim().is_empty() || m.namespace.trim().is_empty() || m.metric.trim().is_empty() {
            bail!("aws.metrics[{i}] ({}): namespace, metric and stat must not be empty", m.group);
        }
        settings.metrics.push(steward_aws::GroupMetric {
            group: m.group.clone(),
            field,
            namespace: m.namespace.clone(),
            metric: m.metric.clone(),
            dimensions: dimensions(&format!("aws.metrics[{i}].dimensions"), &m.dimensions)?,
            stat: m.stat.trim().to_string(),
        });
    }
    settings.cost_explorer.enabled = file.cost_explorer.enabled;
    settings.cost_explorer.endpoint_url = nonempty(file.cost_explorer.endpoint_url.clone());
    for (i, p) in file.pools.iter().enumerate() {
        if p.max < p.min || p.max == 0 {
            bail!("aws.pools[{i}] ({}): max must be at least 1 and not below min", p.name);
        }
        let options = pool_options(i, p, settings.prices.refresh)?;
        let budget =
            steward_tools::Budget { max_usd_per_hour: p.max_usd_per_hour, max_usd_per_month: p.max_usd_per_month };
        budget.check(&format!("aws.pools[{i}] ({})", p.name)).map_err(anyhow::Error::msg)?;
        let dimensions = dimensions(&format!("aws.pools[{i}].queue_dimensions"), &p.queue_dimensions)?;
        let region = p.region.clone().unwrap_or_else(|| regions[0].clone());
        if !regions.contains(&region) {
            bail!("aws.pools[{i}] ({}): region `{region}` is not one of aws.regions", p.name);
        }
        settings.pools.push(steward_aws::PoolSettings {
            region,
            name: p.name.clone(),
            instance_type: options[0].instance_type.clone(),
            image_id: p.image_id.clone(),
            options,
            budget,
            min: p.min,
            max: p.max,
            environment: p.environment,
            queue_namespace: p.queue_namespace.clone(),
            queue_metric: p.queue_metric.clone(),
            queue_dimensions: dimensions,
            jobs_metric: nonempty(p.jobs_metric.clone()),
            age_metric: nonempty(p.age_metric.clone()),
        });
    }
    // One settings per region, each with the pools that live there.
    Ok(regions
        .iter()
        .map(|region| {
            let mut s = settings.clone();
            s.region = region.clone();
            s.pools.retain(|p| &p.region == region);
            s
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> anyhow::Result<Vec<steward_aws::AwsSettings>> {
        let file: AwsFileConfig = toml::from_str(text)?;
        resolve_aws(&file, &|name| (name == "AWS_REGION").then(|| "eu-west-1".to_string()))
    }

    #[test]
    fn the_example_pool_resolves_to_its_options_and_budget() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/steward.toml");
        let text = std::fs::read_to_string(path).expect("the example");
        let block: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# [[aws.pools]]"))
            .take_while(|l| !l.starts_with("# (Instead"))
            .map(|l| l.trim_start_matches('#').trim_start().replace("[[aws.pools", "[[pools") + "\n")
            .collect();
        let pools = &resolve(&block).expect("the example's pool resolves")[0].pools;
        let pool = &pools[0];
        let options: Vec<String> = pool.options.iter().map(|o| o.key()).collect();
        assert_eq!(options, ["g5.xlarge/eu-west-1a/spot", "g5.xlarge/any/on_demand"]);
        assert_eq!(pool.options[0].max_price, Some(0.6));
        assert_eq!(pool.budget.max_usd_per_hour, Some(12.0));
        assert_eq!(pool.budget.max_usd_per_month, Some(4000.0));
        assert_eq!(pool.instance_type, "g5.xlarge");
    }

    #[test]
    fn bad_values_are_named() {
        let pool = "[[pools]]\nname = \"gpu\"\nimage_id = \"ami-1\"\nmax = 2\nenvironment = \"prod\"\n\
                    queue_namespace = \"Jobs\"\nqueue_metric = \"QueueDepth\"\n";
        let metric = "[[metrics]]\ngroup = \"web\"\nnamespace = \"App\"\nmetric = \"Latency\"\n";
        for (text, expect) in [
            ("managed_tag = \"steward\"".to_string(), "KEY=VALUE"),
            (format!("{pool}instance_type = \"z9.huge\""), "price table has no `z9.huge`"),
            (format!("{pool}instance_type = \"g5.xlarge\"\nregion = \"us-east-1\""), "not one of aws.regions"),
            ("region = \"eu-west-1\"\nregions = [\"us-east-1\"]".to_string(), "not both"),
            (format!("{pool}instance_type = \"g5.xlarge\"\nqueue_dimensions = [\"Queue\"]"), "not Name=Value"),
            (format!("{metric}field = \"latency_ms\""), "is not cpu_percent, requests_per_minute or queue_depth"),
            (format!("{metric}dimensions = [\"Service\"]"), "aws.metrics[0].dimensions: `Service` is not Name=Value"),
            (format!("{metric}stat = \" \""), "must not be empty"),
            ("[prices]\nevery = \"10s\"".to_string(), "at least 1m"),
            (pool.to_string(), "give instance_type or [[aws.pools.options]]"),
            (format!("{pool}instance_type = \"g5.xlarge\"\nmax_usd_per_hour = 0"), "max_usd_per_hour: must be a positive"),
            (format!("{pool}[[pools.options]]\ninstance_type = \"g5.xlarge\"\nmarket = \"reserved\""), "unknown variant `reserved`"),
            (
                format!("{pool}[[pools.options]]\ninstance_type = \"g5.xlarge\"\nmax_price = 0.5"),
                "options[0].max_price: only a spot option has a max price",
            ),
            (
                format!("{pool}[[pools.options]]\ninstance_type = \"g5.xlarge\"\nzone = \"subnet-1\""),
                "is a subnet: write subnet",
            ),
            (
                format!("{pool}[[pools.options]]\ninstance_type = \"g5.xlarge\"\n[[pools.options]]\ninstance_type = \"g5.xlarge\""),
                "`g5.xlarge/any/on_demand` is listed twice",
            ),
        ] {
            let message = format!("{:#}", resolve(&text).expect_err(&text));
            assert!(message.contains(expect), "{text}: {message}");
        }
        assert_eq!(resolve("").expect("region from the environment")[0].region, "eu-west-1");
    }
}
