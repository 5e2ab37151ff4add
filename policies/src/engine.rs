//! The policy engine: Cedar access and approval rules plus the stateful limits, one
//! decision per proposal.
//!
//! Flow of one decision: build the Cedar request from the validated call and the facts;
//! check the limits; evaluate the access rules (permit/forbid, default deny); if access
//! allows and no limit failed, evaluate the approval rules; the most restrictive outcome
//! wins. Shadow policies are evaluated the same way beside the enforced set, and only
//! recorded. Guarantee: `decide` never panics and never errs; anything unexpected (a request
//! that does not fit the schema, a policy that fails to evaluate) is a deny with a reason.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};

use steward_tools::{GroupKind, ToolCall, ValidatedCall};

use crate::decision::{Decision, Reason, ShadowNote, Verdict};
use crate::facts::DecisionInput;
use crate::limits::Limits;

/// One policy file's text and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    pub name: String,
    pub text: String,
}

/// Why a policy set cannot be loaded. The daemon refuses to start on any of these rather
/// than run without guardrails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the Cedar schema does not parse: {0}")]
    Schema(String),
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: every policy needs an @id(\"...\") annotation")]
    MissingId { file: String },
    #[error("policy id `{0}` is used twice")]
    DuplicateId(String),
    #[error("policy `{policy}`: {message}")]
    BadAnnotation { policy: String, message: String },
    #[error("the policy set does not validate against the schema: {0}")]
    Validation(String),
    #[error("the policy set has no enforced access policy: every proposal would be denied; refusing to run with an empty guardrail set")]
    Empty,
}

#[derive(Debug, Clone)]
struct Meta {
    reason: String,
    approvals: Option<u32>,
    approvers: Vec<String>,
    shadow: bool,
    /// `@self_approval("allowed")`: the person who asked may approve.
    self_approval: bool,
}

/// One layer of rules: access (grants and forbids) and approval (asks for people).
#[derive(Debug, Clone)]
struct Layer {
    access: PolicySet,
    approval: PolicySet,
}

/// The loaded guardrails.
#[derive(Debug)]
pub struct Guardrails {
    schema: Schema,
    enforced: Layer,
    /// Enforced and shadow policies together; `None` when there are no shadow policies.
    with_shadow: Option<Layer>,
    /// The shadow policies alone: evaluated first, and only when one of them is satisfied
    /// is the full `with_shadow` layer evaluated (adding unsatisfied policies changes no
    /// decision), which keeps the common case to one small extra evaluation.
    shadow_only: Option<PolicySet>,
    meta: HashMap<String, Meta>,
    limits: Limits,
    authorizer: Authorizer,
}

const NAMESPACE: &str = "Steward";

impl Guardrails {
    /// Parse, annotate and validate a policy set. Fails on any policy without an `@id`, a
    /// duplicate id, a malformed annotation, a schema violation, or an empty enforced set.
    pub fn load(schema_text: &str, sources: &[PolicySource], limits: Limits) -> Result<Guardrails, LoadError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(schema_text).map_err(|e| LoadError::Schema(e.to_string()))?;
        let mut all = PolicySet::new();
        let mut meta = HashMap::new();
        for source in sources {
            let parsed = PolicySet::from_str(&source.text)
                .map_err(|e| LoadError::Parse { file: source.name.clone(), message: e.to_string() })?;
            for policy in parsed.policies() {
                let id = policy
                    .annotation("id")
                    .ok_or_else(|| LoadError::MissingId { file: source.name.clone() })?
                    .to_string();
                if meta.contains_key(&id) {
                    return Err(LoadError::DuplicateId(id));
                }
                let approvals = match policy.annotation("approvals") {
                    None => None,
                    Some(text) => Some(text.parse::<u32>().ok().filter(|n| (1..=10).contains(n)).ok_or_else(|| {
                        LoadError::BadAnnotation { policy: id.clone(), message: "@approvals must be 1 to 10".into() }
                    })?),
                };
                if approvals.is_some() && policy.effect() != cedar_policy::Effect::Permit {
                    return Err(LoadError::BadAnnotation {
                        policy: id,
                        message: "an approval rule (@approvals) must be a permit".into(),
                    });
                }
                let approvers = policy
                    .annotation("approvers")
                    .map(|s| s.split(',').map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect())
                    .unwrap_or_default();
                let shadow = match policy.annotation("shadow") {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(_) => {
                        return Err(LoadError::BadAnnotation {
                            policy: id,
                            message: "@shadow must be \"true\" or \"false\"".into(),
                        })
                    }
                };
                let self_approval = match policy.annotation("self_approval") {
                    None | Some("forbidden") => false,
                    Some("allowed") if approvals.is_some() => true,
                    Some(_) => {
                        return Err(LoadError::BadAnnotation {
                            policy: id,
                            message: "@self_approval is \"allowed\" or \"forbidden\", on an approval rule".into(),
                        })
                    }
                };
                let reason = policy.annotation("reason").unwrap_or("no @reason given").to_string();
                let renamed = policy.new_id(PolicyId::new(id.clone()));
                all.add(renamed).map_err(|e| LoadError::Parse { file: source.name.clone(), message: e.to_string() })?;
                meta.insert(id, Meta { reason, approvals, approvers, shadow, self_approval });
            }
        }
        let validation = Validator::new(schema.clone()).validate(&all, ValidationMode::Strict);
        if !validation.validation_passed() {
            let errors: Vec<String> = validation.validation_errors().map(|e| e.to_string()).collect();
            return Err(LoadError::Validation(errors.join("; ")));
        }
        let layer = |include_shadow: bool| -> Result<Layer, LoadError> {
            let mut access = PolicySet::new();
            let mut approval = PolicySet::new();
            for policy in all.policies() {
                let Some(m) = meta.get(id_str(policy.id())) else {
                    continue;
                };
                if m.shadow && !include_shadow {
                    continue;
                }
                let target = if m.approvals.is_some() { &mut approval } else { &mut access };
                target.add(policy.clone()).map_err(|e| LoadError::Validation(e.to_string()))?;
            }
            Ok(Layer { access, approval })
        };
        let enforced = layer(false)?;
        if enforced.access.policies().next().is_none() {
            return Err(LoadError::Empty);
        }
        let (with_shadow, shadow_only) = if meta.values().any(|m| m.shadow) {
            let mut only = PolicySet::new();
            for policy in all.policies().filter(|p| meta.get(id_str(p.id())).is_some_and(|m| m.shadow)) {
                only.add(policy.clone()).map_err(|e| LoadError::Validation(e.to_string()))?;
            }
            (Some(layer(true)?), Some(only))
        } else {
            (None, None)
        };
        Ok(Guardrails { schema, enforced, with_shadow, shadow_only, meta, limits, authorizer: Authorizer::new() })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Ids of every loaded policy, enforced or shadow.
    pub fn policy_ids(&self) -> BTreeSet<String> {
        self.meta.keys().cloned().collect()
    }

    /// Decide one validated call.
    pub fn decide(&self, call: &ValidatedCall, input: &DecisionInput) -> Decision {
        let cost_delta_per_hour = call.facts().cost_delta_per_hour();
        let limit_denials = self.limits.check(call.call(), call.facts(), input);
        let (verdict, reasons) = match self.request(call, input) {
            Ok((request, entities)) => {
                let (verdict, reasons) = self.evaluate(&self.enforced, &request, &entities, limit_denials.clone());
                let shadow_fired = self.shadow_only.as_ref().is_some_and(|only| {
                    let response = self.authorizer.is_authorized(&request, only, &entities);
                    response.diagnostics().reason().next().is_some() || response.diagnostics().errors().next().is_some()
                });
                let shadow = self.with_shadow.as_ref().filter(|_| shadow_fired).and_then(|layer| {
                    let (would_be, shadow_reasons) = self.evaluate(layer, &request, &entities, limit_denials);
                    (would_be != verdict).then(|| ShadowNote {
                        would_be: would_be.kind().to_string(),
                        reasons: shadow_reasons.into_iter().filter(|r| self.is_shadow(&r.policy)).collect(),
                    })
                });
                return Decision { verdict, reasons, shadow, cost_delta_per_hour };
            }
            Err(message) => (Verdict::Deny, vec![Reason::new("policy-input", message)]),
        };
        Decision { verdict, reasons, shadow: None, cost_delta_per_hour }
    }

    fn is_shadow(&self, id: &str) -> bool {
        self.meta.get(id).is_some_and(|m| m.shadow)
    }

    fn reason_for(&self, id: &PolicyId) -> Reason {
        let message = self.meta.get(id_str(id)).map_or("", |m| m.reason.as_str());
        Reason::new(id_str(id), message)
    }

    fn evaluate(
        &self,
        layer: &Layer,
        request: &Request,
        entities: &Entities,
        limit_denials: Vec<Reason>,
    ) -> (Verdict, Vec<Reason>) {
        let access = self.authorizer.is_authorized(request, &layer.access, entities);
        let errors: Vec<Reason> = access
            .diagnostics()
            .errors()
            .map(|e| Reason::new("policy-error", format!("a policy failed to evaluate, so the call is denied: {e}")))
            .collect();
        let determining: Vec<Reason> = access.diagnostics().reason().map(|id| self.reason_for(id)).collect();
        if access.decision() == CedarDecision::Deny || !errors.is_empty() || !limit_denials.is_empty() {
            let mut reasons = limit_denials;
            reasons.extend(errors);
            if access.decision() == CedarDecision::Deny {
                if determining.is_empty() {
                    reasons.push(Reason::new("default-deny", "no policy permits this call"));
                } else {
                    reasons.extend(determining);
                }
            }
            return (Verdict::Deny, reasons);
        }
        let approval = self.authorizer.is_authorized(request, &layer.approval, entities);
        let rules: Vec<&PolicyId> = if approval.decision() == CedarDecision::Allow {
            approval.diagnostics().reason().collect()
        } else {
            Vec::new()
        };
        let approval_errors = approval.diagnostics().errors().count();
        if rules.is_empty() && approval_errors == 0 {
            return (Verdict::Allow, determining);
        }
        let mut approvals = 1;
        let mut approvers: BTreeSet<String> = BTreeSet::new();
        let mut reasons = Vec::new();
        // The person who asked may approve only when every rule that asks for people says so.
        let mut requester_may_approve = approval_errors == 0;
        for id in rules {
            if let Some(m) = self.meta.get(id_str(id)) {
                approvals = approvals.max(m.approvals.unwrap_or(1));
                approvers.extend(m.approvers.iter().cloned());
                requester_may_approve &= m.self_approval;
            }
            reasons.push(self.reason_for(id));
        }
        if approval_errors > 0 {
            reasons.push(Reason::new("policy-error", "an approval rule failed to evaluate; asking for approval"));
        }
        let approvers = approvers.into_iter().collect();
        (Verdict::NeedsApproval { approvals, approvers, requester_may_approve }, reasons)
    }

    /// The Cedar request and entities for a call. They are built from typed values in the
    /// shape the schema declares (the policies were validated against it at load time), so
    /// they are not validated again on every decision; `schema_checks_the_request` in the
    /// tests keeps the two in step through [`Guardrails::check_request_shape`].
    fn request(&self, call: &ValidatedCall, input: &DecisionInput) -> Result<(Request, Entities), String> {
        self.build_request(call, input, None)
    }

    /// Build the request for `call` and validate it and its entities against the schema.
    pub fn check_request_shape(&self, call: &ValidatedCall, input: &DecisionInput) -> Result<(), String> {
        self.build_request(call, input, Some(&self.schema)).map(|_| ())
    }

    fn build_request(
        &self,
        call: &ValidatedCall,
        input: &DecisionInput,
        schema: Option<&Schema>,
    ) -> Result<(Request, Entities), String> {
        let facts = call.facts();
        let uid = |ty: &str, id: &str| -> Result<EntityUid, String> {
            let name = EntityTypeName::from_str(&format!("{NAMESPACE}::{ty}")).map_err(|e| e.to_string())?;
            Ok(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
        };
        let principal = uid("Proposer", &input.proposer.to_string())?;
        let resource = uid("Group", call.call().target())?;
        let action = uid("Action", call.call().policy_action())?;
        let string = |s: &str| RestrictedExpression::new_string(s.to_string());
        let entities = Entities::from_entities(
            [
                Entity::new(
                    principal.clone(),
                    HashMap::from([("kind".to_string(), string(input.proposer.kind.as_str()))]),
                    HashSet::new(),
                )
                .map_err(|e| e.to_string())?,
                Entity::new(
                    resource.clone(),
                    HashMap::from([
                        ("environment".to_string(), string(facts.environment.as_str())),
                        ("kind".to_string(), string(facts.kind.as_str())),
                        ("instance_type".to_string(), string(&facts.instance_type)),
                    ]),
                    HashSet::new(),
                )
                .map_err(|e| e.to_string())?,
            ],
            schema,
        )
        .map_err(|e| e.to_string())?;
        let before = i64::from(facts.capacity_before);
        let after = i64::from(facts.capacity_after);
        let reduction_percent = if after < before && before > 0 { (before - after) * 100 / before } else { 0 };
        let cents = |usd: f64| -> i64 {
            let c = (usd * 100.0).round();
            if c.is_finite() {
                c.clamp(-1e15, 1e15) as i64
            } else {
                0
            }
        };
        let delta = facts.cost_delta_per_hour();
        let long = RestrictedExpression::new_long;
        let context = Context::from_pairs([
            ("capacity_before".to_string(), long(before)),
            ("capacity_after".to_string(), long(after)),
            ("capacity_delta".to_string(), long(after - before)),
            ("reduces_capacity".to_string(), RestrictedExpression::new_bool(after < before)),
            ("reduction_percent".to_string(), long(reduction_percent)),
            ("cost_delta_cents_per_hour".to_string(), long(cents(delta))),
            ("hourly_burn_after_cents".to_string(), long(cents(input.hourly_burn_usd + delta))),
            ("gpu".to_string(), RestrictedExpression::new_bool(facts.kind == GroupKind::GpuPool)),
            ("tainted".to_string(), RestrictedExpression::new_bool(input.tainted)),
            (
                "idle_only".to_string(),
                RestrictedExpression::new_bool(matches!(call.call(), ToolCall::TerminateWorkers(_)) && input.idle_only),
            ),
            ("hour_utc".to_string(), long(input.now_ms.div_euclid(3_600_000).rem_euclid(24))),
            ("migration".to_string(), RestrictedExpression::new_bool(facts.step.is_some())),
            (
                "data_at_risk".to_string(),
                RestrictedExpression::new_bool(facts.step.as_ref().is_some_and(|s| s.data_at_risk)),
            ),
            ("downtime_minutes".to_string(), long(facts.step.as_ref().map_or(0, |s| i64::from(s.downtime_minutes)))),
        ])
        .map_err(|e| e.to_string())?;
        let request = Request::new(principal, action, resource, context, schema).map_err(|e| e.to_string())?;
        Ok((request, entities))
    }
}

fn id_str(id: &PolicyId) -> &str {
    AsRef::<str>::as_ref(id)
}
