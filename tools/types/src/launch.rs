//! The one launch loop every provider drives: a pool's options in order, those cooling off
//! skipped, each asked for what is still missing; an option that answers with a capacity
//! code ([`CAPACITY_CODES`]) is cooled off and the next one is tried. Any other error stops
//! the launch: it is not about capacity.

use crate::capacity::{CoolOff, LaunchOption, Placement, Skipped, CAPACITY_CODES, COOL_OFF_MS};
use crate::provider::{ActionReceipt, ProviderError};

/// What one option's launch attempt gave: workers placed (possibly fewer than asked, when
/// the option has less capacity), or an error.
pub type Attempt = Result<Placement, ProviderError>;

/// The capacity code in a provider error's text, if it is one of [`CAPACITY_CODES`].
pub fn capacity_code(error: &ProviderError) -> Option<&'static str> {
    let text = match error {
        ProviderError::InsufficientCapacity(t) | ProviderError::Refused(t) | ProviderError::Unsupported(t) => t,
        _ => return None,
    };
    CAPACITY_CODES.iter().copied().find(|code| text.contains(code))
}

/// What a launch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchOutcome {
    pub placements: Vec<Placement>,
    pub skipped: Vec<Skipped>,
}

impl LaunchOutcome {
    pub fn launched(&self) -> u32 {
        self.placements.iter().map(|p| p.count).sum()
    }

    /// The receipt of a launch into `pool`: the workers this action launched before (found
    /// by its tag after a retry or a restart), then what this launch placed, and what it
    /// passed over.
    pub fn receipt(self, action_id: &str, pool: &str, earlier: Vec<String>) -> ActionReceipt {
        let mut launched = earlier;
        launched.extend(self.placements.iter().flat_map(|pl| pl.instance_ids.iter().cloned()));
        ActionReceipt {
            action_id: action_id.to_string(),
            summary: format!("{pool} launched {} ({})", launched.join(", "), Placement::describe_all(&self.placements)),
            replaced_desired: None,
            launched,
            terminated: Vec::new(),
            terminated_type: None,
            undo: None,
            manual: Vec::new(),
            placements: self.placements,
            skipped: self.skipped,
        }
    }
}

/// One launch of `count` workers across a pool's options, in order: options cooling off are
/// skipped; each option is asked for what is still missing; a capacity answer cools the
/// option off and moves on; any other error ends the launch. The caller asks each option
/// itself (synchronously on the simulated cloud, through the SDK on AWS):
///
/// ```text
/// let mut launch = Launch::new(&options, count, now_ms);
/// while let Some((index, option, missing)) = launch.next(&mut cache) {
///     let attempt = ask(index, &option, missing).await;
///     launch.record(&mut cache, &option, missing, attempt)?;
/// }
/// let outcome = launch.finish()?;
/// ```
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    options: &'a [LaunchOption],
    count: u32,
    now_ms: i64,
    next_index: usize,
    outcome: LaunchOutcome,
}

impl<'a> Launch<'a> {
    pub fn new(options: &'a [LaunchOption], count: u32, now_ms: i64) -> Launch<'a> {
        Launch { options, count, now_ms, next_index: 0, outcome: LaunchOutcome::default() }
    }

    /// The next option to ask, with its index and how many workers are still missing.
    pub fn next(&mut self, cache: &CoolOff) -> Option<(usize, LaunchOption, u32)> {
        while self.next_index < self.options.len() {
            let missing = self.count.saturating_sub(self.outcome.launched());
            if missing == 0 {
                return None;
            }
            let index = self.next_index;
            self.next_index += 1;
            let option = &self.options[index];
            let key = option.key();
            match cache.get(&key, self.now_ms) {
                Some(u) => {
                    self.outcome.skipped.push(Skipped { option: key, code: u.code.clone(), until_ms: u.until_ms })
                }
                None => return Some((index, option.clone(), missing)),
            }
        }
        None
    }

    /// What asking `option` for `asked` workers gave. An error that is not about capacity
    /// ends the launch: it is returned with what was placed before it.
    pub fn record(
        &mut self,
        cache: &mut CoolOff,
        option: &LaunchOption,
        asked: u32,
        attempt: Attempt,
    ) -> Result<(), (ProviderError, LaunchOutcome)> {
        let key = option.key();
        let mut cool = |code: &str, outcome: &mut LaunchOutcome| {
            cache.mark(&key, code, self.now_ms);
            outcome.skipped.push(Skipped {
                option: key.clone(),
                code: code.into(),
                until_ms: self.now_ms + COOL_OFF_MS,
            });
        };
        match attempt {
            Ok(placed) => {
                if placed.count < asked {
                    // Less than asked: the rest of the capacity here is gone for now.
                    cool("InsufficientInstanceCapacity", &mut self.outcome);
                }
                if placed.count > 0 {
                    self.outcome.placements.push(placed);
                }
                Ok(())
            }
            Err(e) => match capacity_code(&e) {
                Some(code) => {
                    cool(code, &mut self.outcome);
                    Ok(())
                }
                None => Err((e, std::mem::take(&mut self.outcome))),
            },
        }
    }

    /// What was placed; when nothing could be placed anywhere for lack of capacity, an
    /// `InsufficientCapacity` error naming every option passed over (retryable: the
    /// cool-off ends).
    pub fn finish(self) -> Result<LaunchOutcome, (ProviderError, LaunchOutcome)> {
        if self.outcome.launched() == 0 {
            let tried: Vec<String> =
                self.outcome.skipped.iter().map(|s| format!("{} ({})", s.option, s.code)).collect();
            let error =
                ProviderError::InsufficientCapacity(format!("no launch option has capacity: {}", tried.join(", ")));
            return Err((error, self.outcome));
        }
        Ok(self.outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Market;

    fn option(t: &str, market: Market) -> LaunchOption {
        LaunchOption { instance_type: t.into(), zone: Some("z1".into()), market, max_price: None }
    }

    fn placed(o: &LaunchOption, count: u32) -> Attempt {
        Ok(Placement {
            instance_type: o.instance_type.clone(),
            zone: o.zone.clone(),
            market: o.market,
            count,
            price: 1.0,
            instance_ids: (0..count).map(|i| format!("i-{i}")).collect(),
        })
    }

    /// Drive a launch with `answer(index, option, missing)`; the indexes asked, and the end.
    fn run(
        options: &[LaunchOption],
        count: u32,
        cache: &mut CoolOff,
        now: i64,
        answer: impl Fn(usize, &LaunchOption, u32) -> Attempt,
    ) -> (Vec<usize>, Result<LaunchOutcome, (ProviderError, LaunchOutcome)>) {
        let mut launch = Launch::new(options, count, now);
        let mut asked = Vec::new();
        while let Some((i, o, missing)) = launch.next(cache) {
            asked.push(i);
            if let Err(stop) = launch.record(cache, &o, missing, answer(i, &o, missing)) {
                return (asked, Err(stop));
            }
        }
        (asked, launch.finish())
    }

    #[test]
    fn falls_back_in_order_splits_the_count_and_cools_off() {
        let options = [
            option("g5.xlarge", Market::Spot),
            option("g5.xlarge", Market::OnDemand),
            option("g6.xlarge", Market::OnDemand),
        ];
        let mut cache = CoolOff::default();
        // Spot: no capacity. g5 on demand: 1 left. g6: plenty.
        let (asked, outcome) = run(&options, 3, &mut cache, 0, |i, o, n| match i {
            0 => Err(ProviderError::InsufficientCapacity("InsufficientInstanceCapacity: none".into())),
            1 => placed(o, n.min(1)),
            _ => placed(o, n),
        });
        assert_eq!(asked, [0, 1, 2]);
        let outcome = outcome.expect("placed");
        assert_eq!(outcome.launched(), 3);
        let where_: Vec<_> = outcome.placements.iter().map(|p| (p.instance_type.as_str(), p.count)).collect();
        assert_eq!(where_, [("g5.xlarge", 1), ("g6.xlarge", 2)]);
        let skipped: Vec<_> = outcome.skipped.iter().map(|s| s.option.as_str()).collect();
        assert_eq!(skipped, ["g5.xlarge/z1/spot", "g5.xlarge/z1/on_demand"]);
        // Within the cool-off both are passed over without asking; after it, asked again.
        let (asked, _) = run(&options, 1, &mut cache, COOL_OFF_MS - 1, |_, o, n| placed(o, n));
        assert_eq!(asked, [2]);
        let (asked, _) = run(&options, 1, &mut cache, COOL_OFF_MS, |_, o, n| placed(o, n));
        assert_eq!(asked, [0]);
    }

    #[test]
    fn other_errors_stop_and_no_capacity_anywhere_names_every_option() {
        let options = [option("g5.xlarge", Market::Spot), option("g5.xlarge", Market::OnDemand)];
        let mut cache = CoolOff::default();
        let (asked, end) =
            run(&options, 1, &mut cache, 0, |_, _, _| Err(ProviderError::Refused("UnauthorizedOperation: no".into())));
        assert_eq!(asked, [0]);
        assert!(matches!(end, Err((ProviderError::Refused(_), _))));
        assert!(cache.get("g5.xlarge/z1/spot", 0).is_none(), "not a capacity answer: not cooled off");
        let (_, end) = run(&options, 1, &mut cache, 0, |_, _, _| {
            Err(ProviderError::InsufficientCapacity("SpotMaxPriceTooLow: bid".into()))
        });
        let (e, outcome) = end.expect_err("nothing anywhere");
        assert_eq!(outcome.skipped.len(), 2);
        assert_eq!(
            e.to_string(),
            "the cloud is out of capacity: no launch option has capacity: \
             g5.xlarge/z1/spot (SpotMaxPriceTooLow), g5.xlarge/z1/on_demand (SpotMaxPriceTooLow)"
        );
    }
}
