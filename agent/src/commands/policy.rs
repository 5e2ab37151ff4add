//! `steward policy test` and `steward policy explain`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use steward_policies::cases::{parse_cases, PolicyCase};
use steward_policies::{defaults, run_cases, Guardrails, PolicySource, ProposalFile};
use steward_tools::validate;

use super::BadInput;
use crate::config::Config;

/// Read a policy directory laid out like `policies/`: `schema.cedarschema` (optional: the
/// built-in schema otherwise), `*.cedar` in the directory and its subdirectories.
pub fn read_policy_dir(dir: &Path) -> anyhow::Result<(String, Vec<PolicySource>)> {
    let schema_path = dir.join("schema.cedarschema");
    let schema = if schema_path.exists() {
        std::fs::read_to_string(&schema_path).with_context(|| format!("reading {}", schema_path.display()))?
    } else {
        defaults::SCHEMA.to_string()
    };
    let mut files = Vec::new();
    collect(dir, "cedar", 1, &mut files).with_context(|| format!("reading policy directory {}", dir.display()))?;
    let sources = files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok(PolicySource { name: path.display().to_string(), text })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((schema, sources))
}

fn collect(dir: &Path, ext: &str, depth: u32, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() && depth > 0 && path.file_name().is_some_and(|n| n != "tests") {
            collect(&path, ext, depth - 1, out)?;
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    Ok(())
}

/// A fingerprint of the policy text in force, recorded when enforcement changes.
pub fn fingerprint(config: &Config) -> anyhow::Result<String> {
    let (schema, sources) = match &config.policies_dir {
        Some(dir) => read_policy_dir(dir)?,
        None => (defaults::SCHEMA.to_string(), defaults::policies()),
    };
    let mut hasher = Sha256::new();
    hasher.update(schema.as_bytes());
    for s in &sources {
        hasher.update(s.name.as_bytes());
        hasher.update(s.text.as_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}

fn load_cases(dir: Option<&Path>) -> anyhow::Result<Vec<(String, Vec<PolicyCase>)>> {
    let texts: Vec<(String, String)> = match dir {
        None => defaults::CASES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        Some(dir) => {
            let mut files = Vec::new();
            let tests = dir.join("tests");
            if tests.is_dir() {
                collect(&tests, "json", 0, &mut files)?;
            }
            files
                .into_iter()
                .map(|p| {
                    Ok((
                        p.display().to_string(),
                        std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?,
                    ))
                })
                .collect::<anyhow::Result<_>>()?
        }
    };
    texts
        .into_iter()
        .map(|(name, text)| {
            let cases = parse_cases(&text).map_err(|e| BadInput(format!("{name}: {e}")))?;
            Ok((name, cases))
        })
        .collect()
}

/// Run every case; print one line per case and a closing count. Returns whether all passed.
pub fn test(config: &Config, dir: Option<&Path>) -> anyhow::Result<bool> {
    let dir = dir.or(config.policies_dir.as_deref());
    let guardrails = match dir {
        Some(d) => {
            let (schema, sources) = read_policy_dir(d)?;
            Guardrails::load(&schema, &sources, config.limits.clone())?
        }
        None => crate::daemon::load_guardrails(config)?,
    };
    let files = load_cases(dir)?;
    if files.iter().all(|(_, cases)| cases.is_empty()) {
        return Err(BadInput("no policy test cases found (looked for tests/*.json)".into()).into());
    }
    let (mut passed, mut failed) = (0, 0);
    for (name, cases) in files {
        for outcome in run_cases(&guardrails, &cases) {
            if outcome.passed {
                passed += 1;
                println!("ok    {name}: {}", outcome.name);
            } else {
                failed += 1;
                println!("FAIL  {name}: {} — got {}", outcome.name, outcome.got);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// Decide one proposal file and print the decision and the policies behind it.
pub fn explain(config: &Config, file: &Path, json: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let proposal = ProposalFile::from_json(&text).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let guardrails = crate::daemon::load_guardrails(config)?;
    let validated = validate(proposal.call.clone(), &proposal.observation())
        .map_err(|e| BadInput(format!("{}: call: {e}", file.display())))?;
    let decision = guardrails.decide(&validated, &proposal.input());
    if json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
        return Ok(());
    }
    println!("call:     {}", proposal.call);
    println!("cost:     {:+.2} $/h", decision.cost_delta_per_hour);
    println!(
        "decision: {}",
        match &decision.verdict {
            steward_policies::Verdict::Allow => "allow".to_string(),
            steward_policies::Verdict::Deny => "deny".to_string(),
            steward_policies::Verdict::NeedsApproval { approvals, approvers } if approvers.is_empty() => {
                format!("needs {approvals} approval(s)")
            }
            steward_policies::Verdict::NeedsApproval { approvals, approvers } => {
                format!("needs {approvals} approval(s) from {}", approvers.join(" or "))
            }
        }
    );
    for reason in &decision.reasons {
        println!("  {}: {}", reason.policy, reason.message);
    }
    if let Some(shadow) = &decision.shadow {
        println!("shadow:   would be {}", shadow.would_be);
        for reason in &shadow.reasons {
            println!("  {}: {}", reason.policy, reason.message);
        }
    }
    Ok(())
}
