//! Who may approve what: the approver groups a policy names, from the config, and never the
//! person who asked for the change.

use anyhow::bail;
use steward_memory::ProposalRecord;

use crate::config::Config;

pub fn check_approver(config: &Config, p: &ProposalRecord, who: &str) -> anyhow::Result<()> {
    if p.proposer == format!("person:{who}") {
        bail!("{who} proposed #{} and cannot approve it: another person must", p.id);
    }
    if p.requested_by.as_deref() == Some(who) {
        bail!("{who} asked for #{} and cannot approve it: another person must", p.id);
    }
    if !config.may_approve(who, &p.approvers) {
        bail!(
            "{who} may not approve #{}: it needs a member of {} (approvals.groups in the config)",
            p.id,
            p.approvers.join(" or ")
        );
    }
    Ok(())
}
