//! The price table Steward ships: Linux on-demand and typical spot prices, USD per
//! instance-hour, for the common general-purpose and compute types and every current GPU
//! family (g4dn, g5, g6, g6e, p4d, p5), in the regions [`SHIPPED_REGIONS`].
//!
//! Where the figures come from, and when:
//! - **On-demand**: the AWS Price List API's us-east-1 Linux, shared-tenancy figures as
//!   generated into Karpenter's price table (`aws/karpenter-provider-aws`,
//!   `pkg/providers/pricing/zz_generated.pricing_aws.go`, generated 2026-01-19). AWS charges
//!   the same list price in us-east-2 and us-west-2 for these types (checked for the g5
//!   family in instances.vantage.sh's Price List data of 2026-08-26).
//! - **Spot**: the lowest Linux spot price in us-east-2 in AWS's public spot price feed (the
//!   one behind aws.amazon.com/ec2/spot/pricing), as embedded in the spotinfo project
//!   (`alexei-led/spotinfo`, fetched 2026-08-10). Spot prices move by the hour and differ
//!   by zone and region, so these are typical figures, not quotes; a type without a
//!   figure here is priced at on-demand until a refresh brings one.
//!
//! The AWS provider refreshes both from the AWS APIs when `aws.prices.refresh` is on
//! (Price List `GetProducts`, EC2 `DescribeSpotPriceHistory`), which also covers regions
//! and types this table lacks.

/// Regions the shipped figures are for.
pub const SHIPPED_REGIONS: &[&str] = &["us-east-1", "us-east-2", "us-west-2"];

/// Where the shipped figures come from, in one line (for logs and `steward cost`).
pub const SOURCE: &str = "shipped table: on-demand from the AWS Price List (us-east-1, 2026-01-19), \
                          spot from AWS's spot price feed (us-east-2, 2026-08-10)";

/// `(instance type, on-demand USD per hour, typical spot USD per hour)`.
pub const SHIPPED: &[(&str, f64, Option<f64>)] = &[
    // General purpose and compute.
    ("t3.medium", 0.0416, None),
    ("m5.large", 0.096, Some(0.0338)),
    ("m5.xlarge", 0.192, Some(0.0572)),
    ("m6i.large", 0.096, Some(0.0365)),
    ("m6i.xlarge", 0.192, Some(0.0519)),
    ("m7i.large", 0.1008, Some(0.0354)),
    ("m7i.xlarge", 0.2016, Some(0.0629)),
    ("c6i.large", 0.085, Some(0.0265)),
    ("c6i.xlarge", 0.17, Some(0.0801)),
    ("c7i.large", 0.08925, None),
    ("c7i.xlarge", 0.1785, None),
    ("r6i.large", 0.126, None),
    ("r6i.xlarge", 0.252, None),
    // GPU: NVIDIA T4.
    ("g4dn.xlarge", 0.526, Some(0.1964)),
    ("g4dn.2xlarge", 0.752, Some(0.2249)),
    ("g4dn.12xlarge", 3.912, Some(1.1482)),
    // NVIDIA A10G.
    ("g5.xlarge", 1.006, Some(0.3651)),
    ("g5.2xlarge", 1.212, Some(0.421)),
    ("g5.12xlarge", 5.672, Some(3.1747)),
    ("g5.48xlarge", 16.288, Some(5.285)),
    // NVIDIA L4.
    ("g6.xlarge", 0.8048, Some(0.3897)),
    ("g6.2xlarge", 0.9776, Some(0.3153)),
    ("g6.12xlarge", 4.6016, Some(1.5915)),
    // NVIDIA L40S.
    ("g6e.xlarge", 1.861, Some(1.1075)),
    ("g6e.2xlarge", 2.24208, Some(1.6995)),
    ("g6e.12xlarge", 10.49264, Some(4.9297)),
    // NVIDIA A100.
    ("p4d.24xlarge", 21.957642, Some(6.0795)),
    // NVIDIA H100.
    ("p5.4xlarge", 6.88, Some(2.6295)),
    ("p5.48xlarge", 55.04, Some(20.3632)),
];

/// A shipped price: on-demand, and typical spot where the table has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShippedPrice {
    pub on_demand: f64,
    pub spot: Option<f64>,
}

/// The shipped price of `instance_type` in `region`; `None` outside [`SHIPPED_REGIONS`] or
/// for a type the table lacks.
pub fn shipped(region: &str, instance_type: &str) -> Option<ShippedPrice> {
    if !SHIPPED_REGIONS.contains(&region) {
        return None;
    }
    SHIPPED
        .iter()
        .find(|(name, _, _)| *name == instance_type)
        .map(|(_, on_demand, spot)| ShippedPrice { on_demand: *on_demand, spot: *spot })
}

/// What one instance costs per hour in us-east-1 in `market`, from the shipped table: spot
/// at its typical figure, or on demand where the table has no spot figure.
pub fn market_price(instance_type: &str, market: crate::capacity::Market) -> Option<f64> {
    let p = shipped("us-east-1", instance_type)?;
    Some(match market {
        crate::capacity::Market::OnDemand => p.on_demand,
        crate::capacity::Market::Spot => p.spot.unwrap_or(p.on_demand),
    })
}

/// On-demand price of one instance per hour in us-east-1 (the simulated cloud's region and
/// the reference figure policy falls back to), `None` for a type the table does not know.
pub fn hourly_price(instance_type: &str) -> Option<f64> {
    shipped("us-east-1", instance_type).map(|p| p.on_demand)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_current_gpu_family_is_priced_on_demand_and_spot() {
        for family in ["g4dn.", "g5.", "g6.", "g6e.", "p4d.", "p5."] {
            let rows: Vec<_> = SHIPPED.iter().filter(|(t, _, _)| t.starts_with(family)).collect();
            assert!(!rows.is_empty(), "{family} is in the table");
            assert!(rows.iter().all(|(_, _, spot)| spot.is_some()), "{family} has spot figures");
        }
    }

    #[test]
    fn spot_is_below_on_demand_and_lookups_respect_the_region() {
        for (t, on_demand, spot) in SHIPPED {
            assert!(*on_demand > 0.0, "{t}");
            if let Some(s) = spot {
                assert!(*s > 0.0 && s < on_demand, "{t}: spot {s} below on-demand {on_demand}");
            }
        }
        assert_eq!(shipped("us-west-2", "g5.xlarge").map(|p| p.on_demand), Some(1.006));
        assert_eq!(shipped("eu-west-1", "g5.xlarge"), None, "no shipped figure outside the shipped regions");
        assert_eq!(hourly_price("no.such"), None);
    }
}
