//! The robustness scenarios disturb what the planner is shown, not the load: metric gaps
//! hide CPU and requests for ten minutes at a time, noisy CPU is off by up to ±20 %, and
//! the SLO is judged on the true load either way.

use steward_evals::replay::{replay_web, Disturbance};
use steward_evals::scenarios::{disturbance, generate};
use steward_evals::{eval_guardrails, ReplaySettings};
use steward_planners::{Plan, Planner};
use steward_tools::Observation;

/// Holds its group as it is, remembering what it was shown.
#[derive(Default)]
struct Watcher {
    cpu: Vec<Option<f64>>,
    requests: Vec<Option<f64>>,
}

impl Planner for Watcher {
    fn name(&self) -> &'static str {
        "watcher"
    }

    fn plan(&mut self, o: &Observation) -> Vec<Plan> {
        let web = o.group("web").expect("web");
        self.cpu.push(web.cpu_percent);
        self.requests.push(web.requests_per_minute);
        Vec::new()
    }
}

async fn watch(name: &str, shown: &Disturbance) -> (Watcher, u64) {
    let settings = ReplaySettings::default();
    let trace = settings.normalise(&generate(name, 2, 42).expect("scenario"));
    let mut watcher = Watcher::default();
    let (score, _) =
        replay_web(&settings, &eval_guardrails().expect("guardrails"), (&trace, shown), &mut watcher, 40).await;
    (watcher, score.slo_violation_minutes)
}

#[tokio::test]
async fn metric_gaps_hide_ten_minutes_three_times_a_day_and_nothing_else() {
    let gaps = disturbance("metric-gaps", 2 * 1_440);
    assert_eq!(gaps.metric_gaps.len(), 6);
    let (seen, _) = watch("metric-gaps", &gaps).await;
    let missing: Vec<usize> = (0..seen.cpu.len()).filter(|m| seen.cpu[*m].is_none()).collect();
    assert_eq!(missing.len(), 60, "six gaps of ten minutes");
    assert!(missing.iter().all(|m| seen.requests[*m].is_none()), "no requests either in a gap");
    assert_eq!(missing[..10], (420..430).collect::<Vec<_>>(), "the first gap is 07:00-07:10 on day one");
    assert!(seen.requests.iter().filter(|r| r.is_some()).count() == seen.requests.len() - 60);
}

#[tokio::test]
async fn noisy_cpu_misreads_each_minute_within_twenty_percent_and_the_slo_is_judged_on_the_truth() {
    let (clean, clean_violations) = watch("noisy-cpu", &Disturbance::default()).await;
    let (noisy, noisy_violations) = watch("noisy-cpu", &disturbance("noisy-cpu", 2 * 1_440)).await;
    assert_eq!(clean_violations, noisy_violations, "the same capacity and load, whatever the metric says");
    let pairs: Vec<(f64, f64)> = clean.cpu.iter().zip(&noisy.cpu).filter_map(|(c, n)| Some(((*c)?, (*n)?))).collect();
    assert_eq!(pairs.len(), clean.cpu.len());
    let off = pairs.iter().filter(|(c, n)| (c - n).abs() > 1e-9).count();
    assert!(off > pairs.len() * 9 / 10, "nearly every minute is off: {off} of {}", pairs.len());
    assert!(pairs.iter().all(|(c, n)| (n - c).abs() <= c * 0.2 + 1e-9), "within ±20 %");
    assert_eq!(clean.requests, noisy.requests, "only CPU is noisy");
}

#[test]
fn the_level_shift_doubles_for_good_and_the_holiday_is_a_quiet_monday() {
    let shift = generate("level-shift", 3, 42).expect("level-shift");
    let day = |t: &[f64], d: usize| t[d * 1_440..(d + 1) * 1_440].iter().copied().fold(0.0, f64::max);
    assert!(day(&shift.per_minute, 2) > 1.8 * day(&shift.per_minute, 0));
    let holiday = generate("holiday-week", 3, 42).expect("holiday-week");
    assert_eq!(holiday.per_minute.len(), 9 * 1_440, "always nine days, Monday to Tuesday");
    let peaks: Vec<f64> = (0..9).map(|d| day(&holiday.per_minute, d)).collect();
    assert!(peaks[7] < 0.4 * peaks[0] && peaks[8] > 0.9 * peaks[0], "{peaks:?}");
    assert!(peaks[5] < 0.7 * peaks[0] && peaks[5] > 0.5 * peaks[0], "{peaks:?}");
}
