//! What the migration's parts cost an hour, for the plan's $/h figures and policy's cost
//! facts. List prices in us-east-1 (Linux, on demand), as published on the AWS and Heroku
//! pricing pages (checked 2026-11); estimates, not quotes: load balancer capacity units,
//! data transfer and request charges come on top.

/// Fargate, per vCPU-hour and per GB-hour (x86, Linux).
pub const FARGATE_VCPU_HOUR: f64 = 0.04048;
pub const FARGATE_GB_HOUR: f64 = 0.004445;
/// An Application Load Balancer, per hour (before capacity units).
pub const ALB_HOUR: f64 = 0.0225;
/// gp3 storage for RDS, per GB-month.
pub const RDS_GP3_GB_MONTH: f64 = 0.115;
const HOURS_PER_MONTH: f64 = 730.0;

/// RDS for PostgreSQL, single-AZ, per hour; Multi-AZ is twice that.
pub fn rds_hour(instance_class: &str) -> f64 {
    match instance_class {
        "db.t4g.micro" => 0.016,
        "db.t4g.small" => 0.032,
        "db.t4g.medium" => 0.065,
        "db.m6g.large" => 0.152,
        "db.m6g.xlarge" => 0.304,
        "db.m6g.2xlarge" => 0.608,
        "db.m6g.4xlarge" => 1.216,
        "db.m6g.8xlarge" => 2.432,
        _ => 0.0,
    }
}

pub fn fargate_hour(cpu_units: u32, memory_mb: u32) -> f64 {
    f64::from(cpu_units) / 1024.0 * FARGATE_VCPU_HOUR + f64::from(memory_mb) / 1024.0 * FARGATE_GB_HOUR
}

pub fn storage_hour(gb: u32) -> f64 {
    f64::from(gb) * RDS_GP3_GB_MONTH / HOURS_PER_MONTH
}

/// A dyno of `size` at Heroku, per hour (the monthly price spread over 730 hours).
pub fn dyno_hour(size: &str) -> f64 {
    let month = match size.to_ascii_lowercase().as_str() {
        "eco" => 5.0,
        "basic" => 7.0,
        "standard-1x" => 25.0,
        "standard-2x" => 50.0,
        "performance-m" | "private-m" | "shield-m" => 250.0,
        "performance-l" | "private-l" | "shield-l" => 500.0,
        "performance-l-ram" | "private-l-ram" | "shield-l-ram" => 500.0,
        "performance-xl" | "private-xl" | "shield-xl" => 750.0,
        "performance-2xl" | "private-2xl" | "shield-2xl" => 1500.0,
        _ => 25.0,
    };
    month / HOURS_PER_MONTH
}

pub fn cents(usd_per_hour: f64) -> i64 {
    let c = (usd_per_hour * 100.0).round();
    if c.is_finite() {
        c as i64
    } else {
        0
    }
}
