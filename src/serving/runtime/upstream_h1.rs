//! The inference path to a plain-HTTP upstream: a small pool of hyper HTTP/1.1 client
//! connections, each driven by the request that uses it (its protocol state machine is
//! polled alongside the exchange, as `loadtest` does). reqwest runs every connection as a
//! task of its own and hands requests and answers to it over channels — two task wake-ups
//! per request, which on a lightly loaded gateway cost more than the rest of the proxying
//! (`bench/proxy_overhead.sh`). An idle pooled connection the upstream closed is noticed
//! when it is taken and replaced; a request that never went out on a dead connection is
//! sent again on a fresh one, once.

use std::pin::Pin;
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 64;

type Driver = Connection<TokioIo<TcpStream>, Full<Bytes>>;

struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// `None` once the connection has ended.
    driver: Option<Pin<Box<Driver>>>,
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum H1Error {
    Connect(std::io::Error),
    /// The connection broke or the answer was not HTTP/1.1.
    Exchange(hyper::Error),
    /// The answer's body is larger than the limit.
    TooLarge,
}

impl std::fmt::Display for H1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            H1Error::Connect(e) => write!(f, "connect: {e}"),
            H1Error::Exchange(e) => write!(f, "{e}"),
            H1Error::TooLarge => f.write_str("answer too large"),
        }
    }
}

/// Connections to one `host:port`.
pub struct H1Pool {
    addr: String,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for H1Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Pool")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl H1Pool {
    pub fn new(addr: String) -> H1Pool {
        H1Pool {
            addr,
            idle: Mutex::new(Vec::new()),
        }
    }

    async fn connect(&self) -> Result<Conn, H1Error> {
        let tcp = TcpStream::connect(&self.addr).await.map_err(H1Error::Connect)?;
        let _ = tcp.set_nodelay(true);
        let (sender, driver) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(H1Error::Exchange)?;
        Ok(Conn {
            sender,
            driver: Some(Box::pin(driver)),
        })
    }

    fn pop_idle(&self) -> Option<Conn> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    }

    /// An idle connection ready for a request (its driver polled until it is, which also
    /// finishes the previous exchange's bookkeeping), or `None`.
    async fn take_idle(&self) -> Option<Conn> {
        while let Some(mut c) = self.pop_idle() {
            let Conn { sender, driver } = &mut c;
            let Some(driver) = driver.as_mut() else { continue };
            let ready = tokio::select! {
                biased;
                r = sender.ready() => r.is_ok(),
                _ = driver.as_mut() => false,
            };
            if ready {
                return Some(c);
            }
        }
        None
    }

    fn put_back(&self, c: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(c);
        }
    }

    /// Send `req` and read the whole answer, at most `limit` bytes of body. The caller
    /// bounds the time.
    pub async fn send(&self, req: Request<Full<Bytes>>, limit: usize) -> Result<(Response<()>, Bytes), H1Error> {
        let (conn, req) = match self.take_idle().await {
            Some(mut c) => match exchange(&mut c, req, limit).await {
                Ok(answer) => return self.finish(c, answer),
                // Not sent: the pooled connection had died meanwhile. Once more, fresh.
                Err(Failed::NotSent(req)) => (self.connect().await?, *req),
                Err(Failed::Error(e)) => return Err(e),
            },
            None => (self.connect().await?, req),
        };
        let mut conn = conn;
        match exchange(&mut conn, req, limit).await {
            Ok(answer) => self.finish(conn, answer),
            Err(Failed::NotSent(_)) => Err(H1Error::Connect(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the upstream closed a new connection",
            ))),
            Err(Failed::Error(e)) => Err(e),
        }
    }

    fn finish(&self, c: Conn, answer: Answer) -> Result<(Response<()>, Bytes), H1Error> {
        if answer.reusable {
            self.put_back(c);
        }
        Ok((answer.head, answer.body))
    }
}

struct Answer {
    head: Response<()>,
    body: Bytes,
    reusable: bool,
}

enum Failed {
    NotSent(Box<Request<Full<Bytes>>>),
    Error(H1Error),
}

/// One exchange on `c`, its driver polled alongside.
async fn exchange(c: &mut Conn, req: Request<Full<Bytes>>, limit: usize) -> Result<Answer, Failed> {
    let Conn { sender, driver } = c;
    let (result, alive) = {
        let work = async {
            let resp = match sender.try_send_request(req).await {
                Ok(r) => r,
                Err(mut e) => {
                    return Err(match e.take_message() {
                        Some(req) => Failed::NotSent(Box::new(req)),
                        None => Failed::Error(H1Error::Exchange(e.into_error())),
                    });
                }
            };
            let (parts, mut body) = resp.into_parts();
            let mut buf = BytesMut::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Failed::Error(H1Error::Exchange(e)))?;
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > limit {
                        return Err(Failed::Error(H1Error::TooLarge));
                    }
                    buf.extend_from_slice(&data);
                }
            }
            Ok((Response::from_parts(parts, ()), buf.freeze()))
        };
        tokio::pin!(work);
        tokio::select! {
            biased;
            r = &mut work => (r, true),
            // The connection ended (closed after this answer, or broken). Dropping its state
            // machine fails whatever was still waiting on it (a request not yet written comes
            // back, to be sent on a fresh connection); finish on what came.
            _ = async {
                match driver.as_mut() {
                    Some(d) => {
                        let _ = d.as_mut().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            } => {
                *driver = None;
                (work.await, false)
            }
        }
    };
    let (head, body) = result?;
    let reusable = alive && driver.is_some() && !sender.is_closed();
    Ok(Answer { head, body, reusable })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering `per_conn` requests per connection (then closing it), counting
    /// the connections it accepted.
    async fn server(per_conn: usize) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    for _ in 0..per_conn {
                        let mut got = Vec::new();
                        while !got.windows(4).any(|w| w == b"\r\n\r\n") || !got.ends_with(b"{}") {
                            let n = s.read(&mut buf).await.unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            got.extend_from_slice(&buf[..n]);
                        }
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").await;
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn request() -> Request<Full<Bytes>> {
        Request::post("/v2/models/m/infer")
            .header("host", "x")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    }

    #[tokio::test]
    async fn connections_are_reused_and_a_closed_one_is_replaced() {
        let (addr, accepted) = server(100).await;
        let pool = H1Pool::new(addr);
        for _ in 0..5 {
            let (head, body) = pool.send(request(), 1 << 20).await.unwrap();
            assert_eq!((head.status().as_u16(), body.as_ref()), (200, &b"hello"[..]));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one keep-alive connection");

        // One answer per connection, then the server closes it while it sits in the pool.
        let (addr, accepted) = server(1).await;
        let pool = H1Pool::new(addr);
        for _ in 0..3 {
            let (head, _) = pool.send(request(), 1 << 20).await.unwrap();
            assert_eq!(head.status().as_u16(), 200);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn answers_over_the_limit_and_refused_connections_are_errors() {
        let (addr, _) = server(10).await;
        let pool = H1Pool::new(addr);
        assert!(matches!(pool.send(request(), 4).await, Err(H1Error::TooLarge)));
        // The refused connection: nothing listens on a port just freed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pool = H1Pool::new(format!("127.0.0.1:{port}"));
        assert!(matches!(pool.send(request(), 1 << 20).await, Err(H1Error::Connect(_))));
    }
}
