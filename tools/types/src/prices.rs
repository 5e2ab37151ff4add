//! On-demand prices of the instance types the simulated cloud and the demo fleet use.
//!
//! Figures are AWS us-east-1 Linux on-demand list prices (USD per hour) as published on the
//! EC2 pricing page in 2025; the AWS provider brings a fuller table of its own.

/// `(instance type, USD per hour)`.
pub const ON_DEMAND_USD_PER_HOUR: &[(&str, f64)] = &[
    ("t3.medium", 0.0416),
    ("m6i.large", 0.096),
    ("m6i.xlarge", 0.192),
    ("c6i.large", 0.085),
    ("c6i.xlarge", 0.17),
    ("g4dn.xlarge", 0.526),
    ("g5.xlarge", 1.006),
    ("g5.2xlarge", 1.212),
    ("g6.xlarge", 0.8048),
    ("g6e.xlarge", 1.861),
    ("p4d.24xlarge", 32.7726),
    ("p5.48xlarge", 98.32),
];

/// Price of one instance per hour, `None` for a type the table does not know.
pub fn hourly_price(instance_type: &str) -> Option<f64> {
    ON_DEMAND_USD_PER_HOUR.iter().find(|(name, _)| *name == instance_type).map(|(_, price)| *price)
}
