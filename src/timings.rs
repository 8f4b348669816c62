//! --timings: microseconds from sandbox's start to each phase, printed as one line at exit.
//! CLOCK_MONOTONIC is one clock for every process of the machine, so a phase stamped inside the
//! sandbox (root ready) lines up with those stamped outside.

use crate::out::Buf;
use crate::sys;

pub struct Timings {
    pub on: bool,
    t0: u64,
    marks: [(&'static [u8], u64); 8],
    n: usize,
}

impl Timings {
    pub fn start() -> Timings {
        Timings { on: false, t0: sys::now_ns(), marks: [(b"", 0); 8], n: 0 }
    }

    pub fn mark_at(&mut self, phase: &'static [u8], ns: u64) {
        if self.on && self.n < self.marks.len() {
            // A phase stamped in another process (root, by PID 1) can come before the outer
            // process stamped the one before it (clone), when PID 1 ran first: it is shown as
            // done at that moment, so that the line reads in order.
            let ns = if self.n > 0 { ns.max(self.marks[self.n - 1].1) } else { ns };
            self.marks[self.n] = (phase, ns);
            self.n += 1;
        }
    }

    pub fn mark(&mut self, phase: &'static [u8]) {
        if self.on {
            self.mark_at(phase, sys::now_ns());
        }
    }

    pub fn line(&self, b: &mut Buf<256>) {
        b.push(b"sandbox: timings (us since start):");
        for (phase, ns) in &self.marks[..self.n] {
            b.push(b" ").push(phase).push(b"=").push_u64(ns.saturating_sub(self.t0) / 1000);
        }
        b.push(b"\n");
    }

    /// The line on stderr, if any phase happened (a rejected run prints only its error).
    pub fn print(&self) {
        if self.on && self.n > 0 {
            let mut b = Buf::<256>::new();
            self.line(&mut b);
            let _ = sys::write_all(sys::STDERR, b.bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_in_order_in_microseconds() {
        let mut t = Timings::start();
        t.on = true;
        let t0 = t.t0;
        t.mark_at(b"clone", t0 + 85_000);
        t.mark_at(b"exec", t0 + 1_200_400);
        let mut b = Buf::<256>::new();
        t.line(&mut b);
        assert_eq!(b.bytes(), b"sandbox: timings (us since start): clone=85 exec=1200\n");
    }
}
