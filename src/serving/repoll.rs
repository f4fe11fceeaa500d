//! Polling a connection again at once when it wakes itself.
//!
//! A connection's task wakes *itself* several times per request: hyper's HTTP/1 server
//! hands the request body to the handler through a channel, and the upstream pool's
//! connection state machine is polled by the request that uses it (`runtime::upstream_h1`)
//! and is woken through its own channels. Each time, tokio's multi-thread scheduler sees a
//! task notified while it ran, treats it as a yield, queues it and wakes a sleeping worker
//! to steal it: a futex or eventfd write, an inter-processor interrupt on a VM, and a worker
//! that wakes to find nothing. Measured at one connection in front of an upstream (perf,
//! 2 cores): ≈ 2 eventfd writes and 1 futex wake per request, and most of the gateway's
//! CPU in the kernel's wake-up paths.
//!
//! [`Repoll`] polls its future with a waker of its own. A wake that arrives while the
//! future is being polled only sets a flag, and the future is polled again at once; a wake
//! from anywhere else (a socket became readable, a timer fired) wakes the task as before.
//! Fairness is kept: at most [`MAX_REPOLLS`] polls in a row, and none once tokio's
//! cooperative budget is spent (then the task yields as it would have).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Polls in a row before the task yields to the scheduler like any other.
pub const MAX_REPOLLS: usize = 16;

struct Flag {
    /// The future is being polled by [`Repoll::poll`].
    polling: AtomicBool,
    /// A wake arrived since the current poll began.
    woken: AtomicBool,
    /// The task's own waker, registered at every poll.
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Flag first, then look: if the poll has already ended (`polling` false), the task
        // is woken; if not, the poller reads `woken` after it clears `polling`, so it sees
        // this wake and polls again (SeqCst orders the two pairs of accesses).
        self.woken.store(true, SeqCst);
        if !self.polling.load(SeqCst) {
            self.task.wake();
        }
    }
}

/// `fut`, polled again at once when it wakes itself during a poll. See the module doc.
pub struct Repoll<F> {
    fut: Pin<Box<F>>,
    flag: Arc<Flag>,
    waker: Waker,
}

impl<F: Future> Repoll<F> {
    pub fn new(fut: F) -> Repoll<F> {
        let flag = Arc::new(Flag {
            polling: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(flag.clone());
        Repoll {
            fut: Box::pin(fut),
            flag,
            waker,
        }
    }
}

impl<F: Future> Future for Repoll<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.flag.task.register(cx.waker());
        let mut inner = Context::from_waker(&this.waker);
        for _ in 0..MAX_REPOLLS {
            this.flag.woken.store(false, SeqCst);
            this.flag.polling.store(true, SeqCst);
            let r = this.fut.as_mut().poll(&mut inner);
            this.flag.polling.store(false, SeqCst);
            if r.is_ready() {
                return r;
            }
            if !this.flag.woken.swap(false, SeqCst) {
                return Poll::Pending;
            }
            if !tokio::task::coop::has_budget_remaining() {
                break;
            }
        }
        // Woken during the last poll: yield, and be polled again by the scheduler.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Wakes itself `n` times during its polls, then finishes; counts its polls.
    struct SelfWaking {
        left: usize,
        polls: Arc<AtomicUsize>,
    }

    impl Future for SelfWaking {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, SeqCst);
            if self.left == 0 {
                return Poll::Ready(());
            }
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    struct Counter(AtomicUsize);
    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn poll_once<F: Future>(f: &mut Pin<Box<Repoll<F>>>, wakes: &Arc<Counter>) -> Poll<F::Output> {
        let waker = Waker::from(wakes.clone());
        f.as_mut().poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn self_wakes_are_polled_again_without_waking_the_task() {
        let polls = Arc::new(AtomicUsize::new(0));
        let wakes = Arc::new(Counter(AtomicUsize::new(0)));
        let mut f = Box::pin(Repoll::new(SelfWaking {
            left: 5,
            polls: polls.clone(),
        }));
        assert!(poll_once(&mut f, &wakes).is_ready());
        assert_eq!(polls.load(SeqCst), 6);
        assert_eq!(wakes.0.load(SeqCst), 0, "the task was never woken");
    }

    #[test]
    fn a_future_that_keeps_waking_itself_yields_after_the_bound() {
        let polls = Arc::new(AtomicUsize::new(0));
        let wakes = Arc::new(Counter(AtomicUsize::new(0)));
        let mut f = Box::pin(Repoll::new(SelfWaking {
            left: MAX_REPOLLS + 3,
            polls: polls.clone(),
        }));
        assert!(poll_once(&mut f, &wakes).is_pending());
        assert_eq!(polls.load(SeqCst), MAX_REPOLLS);
        assert_eq!(wakes.0.load(SeqCst), 1, "yielded: the task woke itself once");
        assert!(poll_once(&mut f, &wakes).is_ready());
        assert_eq!(polls.load(SeqCst), MAX_REPOLLS + 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_from_elsewhere_still_wake_the_task() {
        // A channel filled by another thread: every value must arrive, none is lost
        // between a poll's end and the next wake.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
        let sender = std::thread::spawn(move || {
            for i in 0..20_000 {
                tx.blocking_send(i).unwrap();
            }
        });
        let got = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            Repoll::new(async move {
                let mut n = 0u32;
                while let Some(i) = rx.recv().await {
                    assert_eq!(i, n);
                    n += 1;
                }
                n
            }),
        )
        .await
        .expect("no wake was lost");
        sender.join().unwrap();
        assert_eq!(got, 20_000);
    }
}
