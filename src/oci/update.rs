//! update: new limits for a container's cgroup, from a JSON object of linux.resources
//! (`--resources FILE`, `-` for stdin: podman's and containerd's form) or runc's options for
//! them (the others, for what sandbox does not limit, are unknown options).

use super::config::{self, Resources};
use super::create::{self, CONFIG, TOKENS};
use super::record::Status;
use super::{each_option, take_id, why, Done, Fail, Global, OptTable, Opts, Step, VALUE};
use crate::sys::{self, Errno};

pub fn update(g: &Global, o: &mut Opts) -> Done<'static> {
    const OPTIONS: &OptTable = &(b"resources r memory memory-reservation memory-swap pids-limit cpu-quota cpu-period cpu-share", &[VALUE, VALUE, 1 | VALUE, 2 | VALUE, 3 | VALUE, 4 | VALUE, 5 | VALUE, 6 | VALUE, 7 | VALUE]);
    let mut file = None;
    let mut r = Resources::default();
    let mut swap: Option<i64> = None;
    each_option(o, OPTIONS, &mut |i, v| {
        let b = v.to_bytes();
        if i == 0 {
            file = Some(v);
            return Ok(());
        }
        // -1 (and 0 for the pids): no limit.
        let n: i64 = match b {
            b"-1" => -1,
            _ => crate::cgroup::parse_u64(b).filter(|&n| n <= i64::MAX as u64).ok_or(Fail::usage(Step::Usage, b, why::A_NUMBER_IS_NEEDED))? as i64,
        };
        let limit = if n > 0 { n as u64 } else { u64::MAX };
        match i {
            1 => r.memory = Some(limit),
            2 => r.reservation = Some(limit),
            3 => swap = Some(n),
            4 => r.pids = Some(limit),
            5 => r.cpu_quota = Some(limit),
            6 => r.cpu_period = Some(limit),
            _ => r.cpu_weight = Some(1 + ((limit.clamp(2, 262144) - 2) * 9999) / 262142),
        }
        Ok(())
    })?;
    let id = take_id(g, o)?;
    if let Some(path) = file {
        let text = CONFIG.take().ok_or(Fail::new(Step::Config, b"", Errno::EBUSY))?;
        let toks = TOKENS.take().ok_or(Fail::new(Step::Config, b"", Errno::EBUSY))?;
        // `-`: the engine's stdin.
        let f = match path.to_bytes() {
            b"-" => sys::fcntl(sys::Fd(0), libc::F_DUPFD_CLOEXEC, 3).map(|fd| sys::Fd(fd as i32)).map_err(|e| Fail::new(Step::Config, b"-", e)),
            _ => super::record::engines_file(path, Step::Config),
        };
        let doc = create::read_json(f, path.to_bytes(), Step::Config, text, toks)?;
        let mut from = Resources::default();
        config::resources(doc.root(), &mut from).map_err(config::Refused::fail)?;
        // What the options say besides goes over what the file says.
        r = Resources {
            memory: r.memory.or(from.memory),
            swap: from.swap,
            reservation: r.reservation.or(from.reservation),
            pids: r.pids.or(from.pids),
            cpu_weight: r.cpu_weight.or(from.cpu_weight),
            default_shares: false,
            cpu_quota: r.cpu_quota.or(from.cpu_quota),
            cpu_period: r.cpu_period.or(from.cpu_period),
        };
    }
    // memory.swap.max holds the swap alone; --memory-swap is memory and swap together.
    match (swap, r.memory) {
        (Some(-1), _) => r.swap = Some(u64::MAX),
        (Some(s), Some(m)) if s > 0 && m != u64::MAX && s as u64 >= m => r.swap = Some(s as u64 - m),
        (Some(_), _) => return Err(Fail::usage(Step::Usage, b"--memory-swap", why::NOT_SUPPORTED)),
        (None, _) => {}
    }
    let rec = create::open(g, id)?;
    if rec.status == Status::Stopped {
        return Err(Fail::usage(Step::Status, rec.status.name(), why::CONTAINER_NOT_RUNNING));
    }
    if rec.cgroup.is_empty() {
        return Err(Fail::usage(Step::Cgroup, b"", why::NO_CGROUP_V2));
    }
    create::limits(rec.cgroup, r)?;
    Ok(0)
}
