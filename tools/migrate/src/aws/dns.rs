//! Route 53: the hosted zone that holds a domain (never made by Steward), its records, and
//! one change batch of upserts and deletes.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use steward_aws::classify;
use steward_tools::{DnsRecord, ProviderError};

use crate::target::Zone;

fn record_set(r: &DnsRecord) -> Result<ResourceRecordSet, ProviderError> {
    let bad = |e: aws_sdk_route53::error::BuildError| ProviderError::Refused(format!("DNS record {}: {e}", r.name));
    let builder = ResourceRecordSet::builder().name(&r.name).r#type(RrType::from(r.record_type.as_str()));
    let builder = match r.values.as_slice() {
        [alias, zone, dns] if alias == "ALIAS" => builder.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone)
                .dns_name(dns)
                .evaluate_target_health(false)
                .build()
                .map_err(bad)?,
        ),
        values => {
            let mut b = builder.ttl(i64::from(r.ttl));
            for v in values {
                b = b.resource_records(ResourceRecord::builder().value(v).build().map_err(bad)?);
            }
            b
        }
    };
    builder.build().map_err(bad)
}

pub(crate) async fn zone_for(route53: &Client, domain: &str) -> Result<Option<Zone>, ProviderError> {
    let fqdn = format!("{}.", domain.trim_end_matches('.'));
    let mut best: Option<Zone> = None;
    let mut marker: Option<String> = None;
    loop {
        let out = route53
            .list_hosted_zones()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| classify("ListHostedZones", e))?;
        for z in out.hosted_zones() {
            let name = z.name();
            let holds = fqdn == name || fqdn.ends_with(&format!(".{name}"));
            let private = z.config().is_some_and(|c| c.private_zone());
            if holds && !private && best.as_ref().is_none_or(|b| b.name.len() < name.len()) {
                best = Some(Zone { id: z.id().to_string(), name: name.to_string() });
            }
        }
        match (out.is_truncated(), out.next_marker()) {
            (true, Some(next)) => marker = Some(next.to_string()),
            _ => return Ok(best),
        }
    }
}

pub(crate) async fn records(route53: &Client, zone: &Zone, name: &str) -> Result<Vec<DnsRecord>, ProviderError> {
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let out = route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .start_record_name(&fqdn)
        .max_items(20)
        .send()
        .await
        .map_err(|e| classify("ListResourceRecordSets", e))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().trim_end_matches('.') == name.trim_end_matches('.'))
        .map(|r| DnsRecord {
            name: name.to_string(),
            record_type: r.r#type().as_str().to_string(),
            ttl: r.ttl().and_then(|t| u32::try_from(t).ok()).unwrap_or(0),
            values: match r.alias_target() {
                Some(a) => vec!["ALIAS".into(), a.hosted_zone_id().to_string(), a.dns_name().to_string()],
                None => r.resource_records().iter().map(|v| v.value().to_string()).collect(),
            },
        })
        .collect())
}

pub(crate) async fn change_records(
    route53: &Client,
    zone: &Zone,
    upserts: &[DnsRecord],
    deletes: &[DnsRecord],
) -> Result<(), ProviderError> {
    let mut changes: Vec<Change> = Vec::new();
    for (action, r) in
        deletes.iter().map(|r| (ChangeAction::Delete, r)).chain(upserts.iter().map(|r| (ChangeAction::Upsert, r)))
    {
        let change = Change::builder()
            .action(action)
            .resource_record_set(record_set(r)?)
            .build()
            .map_err(|e| ProviderError::Refused(format!("DNS change for {}: {e}", r.name)))?;
        changes.push(change);
    }
    if changes.is_empty() {
        return Ok(());
    }
    let batch = ChangeBatch::builder()
        .comment("steward migration")
        .set_changes(Some(changes))
        .build()
        .map_err(|e| ProviderError::Refused(format!("change batch: {e}")))?;
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| classify("ChangeResourceRecordSets", e))?;
    Ok(())
}
