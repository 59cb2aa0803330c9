//! `lanner bench --cpus LIST`: every run (bare, agent, workload, peer) confined to some CPUs,
//! to measure what a smaller machine would see — a one-vCPU Fargate task, say, where the
//! tracer, the engine and the workload always share one CPU — on a bigger one.

use anyhow::{bail, Context, Result};

/// The CPUs of a list as `taskset -c` takes it: numbers and ranges, comma-separated (`0`,
/// `0-1`, `0,2-3`), in order, without repeats.
pub fn parse(list: &str) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let part = part.trim();
        let number = |s: &str| -> Result<usize> {
            s.trim()
                .parse()
                .with_context(|| format!("CPU list {list:?}: {s:?} is not a CPU number"))
        };
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (number(lo)?, number(hi)?),
            None => {
                let n = number(part)?;
                (n, n)
            }
        };
        if lo > hi {
            bail!("CPU list {list:?}: range {part:?} runs backwards");
        }
        if hi >= libc::CPU_SETSIZE as usize {
            bail!("CPU list {list:?}: CPU {hi} is beyond what an affinity mask holds");
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Confines this process (and so everything it starts afterwards) to `cpus`.
pub fn restrict_to(cpus: &[usize]) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET stays within it (`parse` bounds
    // every number by CPU_SETSIZE).
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("running on CPUs {cpus:?} (sched_setaffinity)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_read_as_taskset_reads_them() {
        assert_eq!(parse("0").expect("a list"), vec![0]);
        assert_eq!(parse("2-3,0").expect("a list"), vec![0, 2, 3]);
        assert_eq!(parse("1,1-2").expect("a list"), vec![1, 2]);
    }

    #[test]
    fn bad_lists_say_what_is_wrong() {
        let err = parse("0,x").expect_err("refused").to_string();
        assert!(err.contains("\"x\" is not a CPU number"), "{err}");
        let err = parse("3-1").expect_err("refused").to_string();
        assert!(err.contains("runs backwards"), "{err}");
        let err = parse("0-99999").expect_err("refused").to_string();
        assert!(err.contains("beyond"), "{err}");
    }

    /// In a thread of its own: affinity is per thread, and the harness's threads keep theirs.
    #[test]
    fn a_restricted_thread_reports_only_those_cpus() {
        std::thread::spawn(|| {
            restrict_to(&[0]).expect("CPU 0 exists everywhere");
            assert_eq!(
                std::thread::available_parallelism().map(usize::from).ok(),
                Some(1)
            );
        })
        .join()
        .expect("the thread ran");
    }
}
