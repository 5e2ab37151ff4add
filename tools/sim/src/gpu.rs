//! GPU pools on the simulated cloud: launch options tried through the one launch loop, each
//! with its capacity, shortages and spot price; spot interruptions at a monthly rate or in a
//! storm.

use steward_tools::launch::Launch;
use steward_tools::prices::{hourly_price, market_price};
use steward_tools::provider::{ActionReceipt, ProviderError};
use steward_tools::{GroupKind, LaunchOption, Market, Placement, ProvisionGpuWorkers};

use crate::fleet::{GroupSpec, SimOption};
use crate::state::{Placed, SimInstance, State, MINUTE_MS, MONTH_MINUTES};

impl State {
    /// Ask one launch option for `count` workers of `pool` now: a shortage or a full option
    /// answers as EC2 does; a spot max price under the spot price too. Places what fits.
    pub(crate) fn try_option(
        &mut self,
        action_id: &str,
        pool: &str,
        option: &SimOption,
        count: u32,
    ) -> Result<Placement, ProviderError> {
        let minute = self.minute();
        let o = &option.option;
        let key = o.key();
        if option.shortages.iter().any(|(from, to)| (*from..*to).contains(&minute)) {
            return Err(ProviderError::InsufficientCapacity(format!(
                "InsufficientInstanceCapacity: no {} capacity in {} ({}) right now",
                o.instance_type,
                o.zone.as_deref().unwrap_or("the region"),
                o.market.as_str()
            )));
        }
        let price = price_now(option);
        if let (Market::Spot, Some(max)) = (o.market, o.max_price) {
            if max < price {
                return Err(ProviderError::InsufficientCapacity(format!(
                    "SpotMaxPriceTooLow: max price ${max:.4}/h is below the spot price ${price:.4}/h for {}",
                    o.instance_type
                )));
            }
        }
        let in_use = self
            .groups
            .iter()
            .flat_map(|g| g.instances.iter())
            .filter(|i| i.placed.as_ref().is_some_and(|p| p.key == key))
            .count();
        let room = option.capacity.map_or(count, |cap| cap.saturating_sub(u32::try_from(in_use).unwrap_or(u32::MAX)));
        if room == 0 {
            return Err(ProviderError::InsufficientCapacity(format!(
                "InsufficientInstanceCapacity: {} in {} is full",
                o.instance_type,
                o.zone.as_deref().unwrap_or("the region")
            )));
        }
        let count = count.min(room);
        let now = self.now_ms;
        let delay = self.group_mut(pool)?.spec.launch_delay_minutes;
        let mut ids = Vec::new();
        for _ in 0..count {
            let id = self.instance_id(pool);
            let mut worker = SimInstance::new(id.clone(), &o.instance_type, now + i64::from(delay) * MINUTE_MS, true);
            worker.launched_by = Some(action_id.to_string());
            worker.placed = Some(placed(option));
            self.group_mut(pool)?.instances.push(worker);
            ids.push(id);
        }
        Ok(Placement {
            instance_type: o.instance_type.clone(),
            zone: o.zone.clone(),
            market: o.market,
            count,
            price,
            instance_ids: ids,
        })
    }

    /// `provision_gpu_workers`: the pool's options the call may use, in order, through the
    /// one launch loop.
    pub(crate) fn provision(
        &mut self,
        action_id: &str,
        p: &ProvisionGpuWorkers,
    ) -> Result<ActionReceipt, ProviderError> {
        let spec = {
            let group = self.group_mut(&p.pool)?;
            if group.spec.kind != GroupKind::GpuPool {
                return Err(ProviderError::Refused(format!("`{}` is not a GPU pool", p.pool)));
            }
            let managed = group.instances.iter().filter(|i| i.managed).count() as u32;
            if managed + p.count > group.spec.max {
                return Err(ProviderError::Refused(format!(
                    "`{}` would have {} workers, above its max {}",
                    p.pool,
                    managed + p.count,
                    group.spec.max
                )));
            }
            group.spec.clone()
        };
        let usable: Vec<SimOption> = if spec.pool.options.is_empty() {
            // A pool without options: the type asked for (or its own), on demand.
            let instance_type = p.instance_type.clone().unwrap_or(spec.instance_type.clone());
            vec![SimOption::new(LaunchOption { instance_type, zone: None, market: Market::OnDemand, max_price: None })]
        } else {
            options(&spec).into_iter().filter(|o| p.allows(&o.option)).collect()
        };
        if usable.is_empty() {
            return Err(ProviderError::Refused(format!("`{}` has no launch option the call may use", p.pool)));
        }
        let list: Vec<LaunchOption> = usable.iter().map(|o| o.option.clone()).collect();
        let now = self.now_ms;
        let mut cache = std::mem::take(&mut self.cool_off);
        let mut launch = Launch::new(&list, p.count, now);
        let mut stopped = None;
        while let Some((index, _, missing)) = launch.next(&cache) {
            let attempt = self.try_option(action_id, &p.pool, &usable[index], missing);
            if let Err(stop) = launch.record(&mut cache, &list[index], missing, attempt) {
                stopped = Some(stop);
                break;
            }
        }
        self.cool_off = cache;
        let outcome = match stopped {
            Some((e, _)) => return Err(e),
            None => launch.finish().map_err(|(e, _)| e)?,
        };
        Ok(outcome.receipt(action_id, &p.pool, Vec::new()))
    }
}

/// A pool's options; none configured: its own type on demand, unlimited.
pub(crate) fn options(spec: &GroupSpec) -> Vec<SimOption> {
    if spec.pool.options.is_empty() {
        vec![SimOption::new(LaunchOption {
            instance_type: spec.instance_type.clone(),
            zone: None,
            market: Market::OnDemand,
            max_price: None,
        })]
    } else {
        spec.pool.options.clone()
    }
}

pub(crate) fn on_demand(instance_type: &str) -> f64 {
    hourly_price(instance_type).unwrap_or(0.0)
}

/// What a worker in `option` costs per hour now.
pub(crate) fn price_now(option: &SimOption) -> f64 {
    let o = &option.option;
    let configured = option.spot_price.filter(|_| o.market == Market::Spot);
    configured.or_else(|| market_price(&o.instance_type, o.market)).unwrap_or(0.0)
}

pub(crate) fn placed(option: &SimOption) -> Placed {
    Placed {
        key: option.option.key(),
        zone: option.option.zone.clone(),
        market: option.option.market,
        price: price_now(option),
        reclaim_at_ms: None,
    }
}

/// The chance a spot worker in `option` gets its notice in `minute`.
pub(crate) fn interruption_chance(option: &SimOption, minute: u32) -> f64 {
    let monthly = option.interruptions_per_month.clamp(0.0, 0.999_999);
    let mut survive = (1.0 - monthly).powf(1.0 / MONTH_MINUTES);
    for (from, minutes, share) in &option.storms {
        if (*from..from.saturating_add(*minutes)).contains(&minute) {
            survive *= (1.0 - share.clamp(0.0, 0.999_999)).powf(1.0 / f64::from((*minutes).max(1)));
        }
    }
    1.0 - survive
}
