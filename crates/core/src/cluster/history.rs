//! DB size and in-use over the session, bounded, and the growth rate they show.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// At 2 s a point this is four hours, the window OpenShift's growth alert looks at.
const MAX_POINTS: usize = 7200;
/// A growth rate needs this much time behind it before it is worth projecting.
const MIN_SPAN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: Instant,
    pub db_size_bytes: u64,
    pub db_size_in_use_bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    points: VecDeque<Point>,
}

impl History {
    pub fn record(&mut self, at: Instant, db_size_bytes: u64, db_size_in_use_bytes: u64) {
        if self.points.len() == MAX_POINTS {
            self.points.pop_front();
        }
        self.points.push_back(Point { at, db_size_bytes, db_size_in_use_bytes });
    }

    pub fn points(&self) -> impl Iterator<Item = &Point> {
        self.points.iter()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn span(&self) -> Duration {
        match (self.points.front(), self.points.back()) {
            (Some(first), Some(last)) => last.at.saturating_duration_since(first.at),
            _ => Duration::ZERO,
        }
    }

    /// Least-squares slope of the DB size, in bytes per second, over the kept points.
    pub fn growth_bytes_per_sec(&self) -> Option<f64> {
        let first = self.points.front()?;
        if self.points.len() < 3 || self.span() < MIN_SPAN {
            return None;
        }
        let n = self.points.len() as f64;
        let xs = self.points.iter().map(|p| p.at.saturating_duration_since(first.at).as_secs_f64());
        let ys = self.points.iter().map(|p| p.db_size_bytes as f64);
        let mean_x = xs.clone().sum::<f64>() / n;
        let mean_y = ys.clone().sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (x, y) in xs.zip(ys) {
            sxy += (x - mean_x) * (y - mean_y);
            sxx += (x - mean_x) * (x - mean_x);
        }
        if sxx == 0.0 {
            return None;
        }
        Some(sxy / sxx)
    }

    /// How long until the DB reaches `quota_bytes` at the current growth rate.
    pub fn time_to_quota(&self, quota_bytes: u64) -> Option<Duration> {
        let rate = self.growth_bytes_per_sec()?;
        let last = self.points.back()?;
        if rate <= 0.0 {
            return None;
        }
        let remaining = quota_bytes.saturating_sub(last.db_size_bytes) as f64;
        Some(Duration::from_secs_f64((remaining / rate).min(1e9)))
    }

    /// Size predicted `ahead` from the last point (PromQL predict_linear).
    pub fn predict_size(&self, ahead: Duration) -> Option<f64> {
        let rate = self.growth_bytes_per_sec()?;
        let last = self.points.back()?;
        Some(last.db_size_bytes as f64 + rate * ahead.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_growth_projects_the_time_to_quota() {
        let t0 = Instant::now();
        let mut h = History::default();
        for i in 0..61u64 {
            // 1 MiB a minute from 100 MiB.
            h.record(t0 + Duration::from_secs(i * 60), (100 + i) << 20, 50 << 20);
        }
        let rate = h.growth_bytes_per_sec().unwrap_or_default();
        assert!((rate - (1u64 << 20) as f64 / 60.0).abs() < 1.0, "{rate}");
        // 160 MiB now, 200 MiB quota: 40 minutes left.
        let left = h.time_to_quota(200 << 20).map(|d| d.as_secs());
        assert_eq!(left, Some(40 * 60));
    }

    #[test]
    fn too_little_history_projects_nothing() {
        let t0 = Instant::now();
        let mut h = History::default();
        h.record(t0, 1 << 20, 1 << 20);
        h.record(t0 + Duration::from_secs(2), 2 << 20, 1 << 20);
        assert_eq!(h.growth_bytes_per_sec(), None);
        assert_eq!(h.time_to_quota(8 << 30), None);
    }

    #[test]
    fn memory_stays_bounded() {
        let t0 = Instant::now();
        let mut h = History::default();
        for i in 0..(MAX_POINTS as u64 + 50) {
            h.record(t0 + Duration::from_secs(i), i, i);
        }
        assert_eq!(h.len(), MAX_POINTS);
    }
}
