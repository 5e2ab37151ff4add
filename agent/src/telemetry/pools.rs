//! GPU pools in the metrics: each launch option's availability (the cool-off cache), the
//! pool's burn against its budget, and workers under a spot interruption notice. Rendered
//! from the latest observation, in the Prometheus text format.

use std::fmt::Write;

use steward_tools::Observation;

/// A label value with `\` and `"` escaped, as the text format wants.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The GPU pool metrics of `o` (nothing when it has no pool).
pub fn render(o: &Observation) -> String {
    let pools: Vec<_> = o.groups.iter().filter_map(|g| g.pool.as_ref().map(|p| (g, p))).collect();
    if pools.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let mut options = Vec::new();
    let mut cooling = Vec::new();
    for (g, p) in &pools {
        for o in &p.options {
            let labels = format!("pool=\"{}\",option=\"{}\"", label(&g.name), label(&o.option.key()));
            options.push((labels.clone(), if o.unavailable.is_some() { "0" } else { "1" }.to_string()));
            if let Some(u) = &o.unavailable {
                cooling.push((
                    format!("{labels},code=\"{}\"", label(&u.code)),
                    format!("{:.3}", u.until_ms as f64 / 1000.0),
                ));
            }
        }
    }
    family(
        "steward_gpu_launch_option_available",
        "gauge",
        "1 when a pool's launch option may be used; 0 while it cools off after a capacity error or a spot interruption.",
        options,
    );
    family(
        "steward_gpu_launch_option_unavailable_until_seconds",
        "gauge",
        "Until when a cooling-off launch option is skipped, Unix seconds, with the cloud's code.",
        cooling,
    );
    let per_pool = |f: &dyn Fn(&steward_tools::GroupSnapshot, &steward_tools::PoolState) -> Option<f64>| {
        pools
            .iter()
            .filter_map(|(g, p)| f(g, p).map(|v| (format!("pool=\"{}\"", label(&g.name)), format!("{v:.4}"))))
            .collect::<Vec<_>>()
    };
    family(
        "steward_gpu_pool_burn_usd_per_hour",
        "gauge",
        "What a GPU pool burns now, USD per hour.",
        per_pool(&|g, _| Some(g.hourly_burn())),
    );
    family(
        "steward_gpu_pool_budget_usd_per_hour",
        "gauge",
        "A GPU pool's hourly budget, USD (absent: none).",
        per_pool(&|_, p| p.budget.max_usd_per_hour),
    );
    family(
        "steward_gpu_pool_budget_usd_per_month",
        "gauge",
        "A GPU pool's monthly budget, USD (absent: none).",
        per_pool(&|_, p| p.budget.max_usd_per_month),
    );
    family(
        "steward_gpu_workers_under_interruption_notice",
        "gauge",
        "Spot workers of a pool under an interruption notice.",
        per_pool(&|g, _| Some(f64::from(u32::try_from(g.instances.len()).unwrap_or(u32::MAX) - g.staying()))),
    );
    out
}
