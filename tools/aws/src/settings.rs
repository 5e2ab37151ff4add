//! What the AWS provider is told: region and endpoint, the tags that make a resource
//! Steward's, GPU pools, configured metrics, the price refresh and Cost Explorer. Plain data,
//! resolved from the `[aws]` config section by the agent.

use std::time::Duration;

use steward_tools::{Budget, Environment, LaunchOption};

/// Most queries one `GetMetricData` call takes (the API's limit).
pub const MAX_QUERIES_PER_CALL: usize = 500;

/// Where and how to look.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: String,
    /// An emulator or LocalStack (`AWS_ENDPOINT_URL` works too, through the SDK).
    pub endpoint_url: Option<String>,
    /// The tag that makes a resource Steward's to manage (`steward:managed` = `true`).
    pub managed_tag: (String, String),
    /// The tag naming a resource's group (`steward:group`); the ASG's name when absent.
    pub group_tag: String,
    /// The tag naming a group's environment (`steward:environment`, default `prod`).
    pub environment_tag: String,
    /// Queries per `GetMetricData` call (at most [`MAX_QUERIES_PER_CALL`]).
    pub metric_batch: usize,
    /// GPU pools: EC2 instances Steward launches and terminates itself.
    pub pools: Vec<PoolSettings>,
    /// Most mutating calls (scale, launch, terminate) per minute in this account and
    /// region, whatever the daemon's own execution limit.
    pub mutating_calls_per_minute: u32,
    /// Metrics read for Auto Scaling groups instead of, or besides, their average CPU.
    pub metrics: Vec<GroupMetric>,
    /// Price refresh from the Price List API and the spot price history.
    pub prices: PriceSettings,
    /// Month-to-date actuals from Cost Explorer.
    pub cost_explorer: CostExplorerSettings,
}

/// Which reading of a group a configured metric fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricField {
    /// What the target-tracking planners scale on (default: the group's average
    /// `CPUUtilization`).
    CpuPercent,
    RequestsPerMinute,
    QueueDepth,
}

impl MetricField {
    pub fn parse(text: &str) -> Option<MetricField> {
        match text {
            "cpu_percent" => Some(MetricField::CpuPercent),
            "requests_per_minute" => Some(MetricField::RequestsPerMinute),
            "queue_depth" => Some(MetricField::QueueDepth),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MetricField::CpuPercent => "cpu_percent",
            MetricField::RequestsPerMinute => "requests_per_minute",
            MetricField::QueueDepth => "queue_depth",
        }
    }
}

/// A CloudWatch metric read for one managed Auto Scaling group, in the same batched
/// `GetMetricData` round as the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMetric {
    /// The group (its `steward:group` name).
    pub group: String,
    pub field: MetricField,
    pub namespace: String,
    pub metric: String,
    /// `(name, value)`; a value of `{asg}` stands for the group's Auto Scaling group name.
    pub dimensions: Vec<(String, String)>,
    /// `Average`, `Maximum`, `Sum`, `p90`, ...
    pub stat: String,
}

/// A pool of GPU workers on EC2, draining a job queue whose depth CloudWatch reports.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSettings {
    /// The region the pool's workers run in.
    pub region: String,
    pub name: String,
    /// The pool's first option's type: what it is priced at before it has workers.
    pub instance_type: String,
    pub image_id: String,
    /// Where workers may launch, in preference order (never empty). An option's `zone` is
    /// an availability zone, or a subnet id (`subnet-…`), which places it in that subnet.
    pub options: Vec<LaunchOption>,
    /// The pool's dollar caps.
    pub budget: Budget,
    pub min: u32,
    pub max: u32,
    pub environment: Environment,
    /// The queue-depth metric: namespace, name, and dimensions (`Name=Value`).
    pub queue_namespace: String,
    pub queue_metric: String,
    pub queue_dimensions: Vec<(String, String)>,
    /// Beside it (same namespace and dimensions): a metric whose per-minute `Sum` is the
    /// jobs started (SQS: `NumberOfMessagesReceived`), and one holding the oldest queued
    /// job's age in seconds (SQS: `ApproximateAgeOfOldestMessage`).
    pub jobs_metric: Option<String>,
    pub age_metric: Option<String>,
}

impl AwsSettings {
    pub fn new(region: impl Into<String>) -> Self {
        AwsSettings {
            region: region.into(),
            endpoint_url: None,
            managed_tag: ("steward:managed".into(), "true".into()),
            group_tag: "steward:group".into(),
            environment_tag: "steward:environment".into(),
            metric_batch: MAX_QUERIES_PER_CALL,
            pools: Vec::new(),
            mutating_calls_per_minute: 300,
            metrics: Vec::new(),
            prices: PriceSettings::default(),
            cost_explorer: CostExplorerSettings::default(),
        }
    }
}

/// How a price list refresh is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSettings {
    /// Refresh from the Price List API and the spot price history (off: the shipped table).
    pub refresh: bool,
    /// The Price List API's endpoint (default: AWS's, in `region`).
    pub endpoint_url: Option<String>,
    /// Where the Price List API is asked (it answers in us-east-1, eu-central-1, ap-south-1).
    pub region: String,
    /// How often prices are refreshed.
    pub every: Duration,
}

impl Default for PriceSettings {
    fn default() -> Self {
        PriceSettings {
            refresh: false,
            endpoint_url: None,
            region: "us-east-1".into(),
            every: Duration::from_secs(24 * 3600),
        }
    }
}

/// How Cost Explorer is asked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostExplorerSettings {
    /// Ask Cost Explorer in `steward cost` (it charges per request).
    pub enabled: bool,
    /// Its endpoint (default: AWS's, in us-east-1).
    pub endpoint_url: Option<String>,
}
