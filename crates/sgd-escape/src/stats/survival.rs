//! Kaplan–Meier estimate of the survival function `S(t) = P(escape time > t)`.

use crate::escape::{ReplicaOutcome, Status};

/// One step of the Kaplan–Meier curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurvivalPoint {
    /// Event time t.
    pub time: f64,
    /// Replicas still at risk just before t.
    pub at_risk: usize,
    /// Escapes at t.
    pub events: usize,
    /// `S(t)` just after t.
    pub survival: f64,
    /// Greenwood standard error of `S(t)`.
    pub stderr: f64,
}

/// Kaplan–Meier curve from outcomes: escaped replicas are events, censored and diverged ones
/// are right-censored at their time. One point per distinct event time, in increasing time.
pub fn kaplan_meier(outcomes: &[ReplicaOutcome]) -> Vec<SurvivalPoint> {
    let mut times: Vec<(f64, bool)> = outcomes.iter().map(|o| (o.time, o.status == Status::Escaped)).collect();
    // Events before censorings at equal times (the usual convention).
    times.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut at_risk = times.len();
    let mut survival = 1.0;
    let mut greenwood = 0.0;
    let mut curve = Vec::new();
    let mut i = 0;
    while i < times.len() {
        let t = times[i].0;
        let mut events = 0;
        let mut removed = 0;
        while i < times.len() && times[i].0 == t {
            events += times[i].1 as usize;
            removed += 1;
            i += 1;
        }
        if events > 0 {
            let n = at_risk as f64;
            let d = events as f64;
            survival *= 1.0 - d / n;
            if at_risk > events {
                greenwood += d / (n * (n - d));
            }
            curve.push(SurvivalPoint { time: t, at_risk, events, survival, stderr: survival * greenwood.sqrt() });
        }
        at_risk -= removed;
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(time: f64, status: Status) -> ReplicaOutcome {
        ReplicaOutcome { replica: 0, steps: 0, time, status, final_theta: vec![] }
    }

    #[test]
    fn textbook_example() {
        // Times 1, 2+, 3, 3, 4+ (+ = censored): S(1) = 4/5, S(3) = 4/5 · (1 − 2/3) = 4/15.
        let o = [
            outcome(3.0, Status::Escaped),
            outcome(1.0, Status::Escaped),
            outcome(2.0, Status::Censored),
            outcome(4.0, Status::Censored),
            outcome(3.0, Status::Escaped),
        ];
        let km = kaplan_meier(&o);
        assert_eq!(km.len(), 2);
        assert_eq!((km[0].time, km[0].at_risk, km[0].events), (1.0, 5, 1));
        assert!((km[0].survival - 0.8).abs() < 1e-15);
        assert_eq!((km[1].time, km[1].at_risk, km[1].events), (3.0, 3, 2));
        assert!((km[1].survival - 4.0 / 15.0).abs() < 1e-15);
        // Greenwood: S² Σ d/(n(n−d)) = (4/15)² (1/20 + 2/3).
        let se = 4.0 / 15.0 * (1.0_f64 / 20.0 + 2.0 / 3.0).sqrt();
        assert!((km[1].stderr - se).abs() < 1e-15);
    }
}
