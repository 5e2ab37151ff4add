//! Names Steward gives what it makes on AWS for an app (each found again by its name before
//! anything is created), the management tag, and which error codes mean "not there".

/// The web load balancer's name (ALB names are at most 32 characters).
pub fn lb_name(app: &str) -> String {
    format!("st-{app}").chars().take(32).collect::<String>().trim_end_matches('-').to_string()
}

/// The web target group's name.
pub fn target_group_name(app: &str) -> String {
    format!("st-{app}-web").chars().take(32).collect::<String>().trim_end_matches('-').to_string()
}

/// A process type's ECS service name.
pub fn service_name(app: &str, process_type: &str) -> String {
    format!("{app}-{process_type}")
}

/// The final snapshot of a database deleted now: named for the time, so a database made and
/// deleted again (a second migration, a second rollback) never collides with the first's.
pub(crate) fn final_snapshot_now(identifier: &str) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{identifier}-final-{secs}")
}

/// An error whose code says the thing is not there.
pub(crate) fn not_found(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ParameterNotFound"
                | "DBInstanceNotFound"
                | "DBInstanceNotFoundFault"
                | "LoadBalancerNotFound"
                | "TargetGroupNotFound"
                | "ServiceNotFoundException"
                | "ServiceNotActiveException"
                | "ClusterNotFoundException"
                | "NoSuchHostedZone"
        )
    )
}

/// The management tag every resource Steward makes carries.
pub(crate) const MANAGED: (&str, &str) = ("steward:managed", "true");
