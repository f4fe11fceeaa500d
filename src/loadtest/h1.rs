//! The load generator's HTTP/1.1 connection: one request in flight, pipelining off, the
//! request written from one reused buffer and the answer parsed in place with `httparse`
//! (wrk's model). Nothing is allocated per request: no `Request`, no `HeaderMap`, no body
//! frames — the answer's body is framed (RFC 9112 §6.3: `Content-Length`, `chunked`, or
//! until close) and discarded.
//!
//! The framing is pure (`parse_head`, `Chunked`) and fuzzed below; `Conn` only moves bytes.

use std::io;
use std::ops::Range;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Header fields read from one answer head; more is a malformed answer.
const MAX_HEADERS: usize = 64;
/// An answer head larger than this is refused (the buffer grows to it, never beyond).
const MAX_HEAD: usize = 64 * 1024;
const BUFFER: usize = 16 * 1024;

/// How an answer's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: HEAD requests, 1xx, 204 and 304 answers.
    Empty,
    Length(u64),
    Chunked,
    /// Neither length nor chunked: the body ends when the server closes.
    UntilClose,
}

/// A parsed answer head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Bytes of the head, including the blank line.
    pub len: usize,
    pub status: u16,
    pub framing: Framing,
    /// `Connection: close` (or an HTTP/1.0 answer without keep-alive).
    pub close: bool,
    /// Where the value of the header named by `parse_head`'s `variant` is, in the buffer.
    pub variant: Option<Range<usize>>,
}

/// Why an answer could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    Head,
    Length,
    Chunk,
    TooLarge,
}

/// Parse an answer head at the start of `buf`. `Ok(None)`: more bytes are needed.
/// `variant` is a lower-case header name whose value's position is reported.
pub fn parse_head(buf: &[u8], head_request: bool, variant: &str) -> Result<Option<Head>, Malformed> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err(Malformed::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Malformed::TooLarge),
        Err(_) => return Err(Malformed::Head),
    };
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoded = false;
    let mut close = http10;
    let mut found = None;
    let base = buf.as_ptr() as usize;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or(Malformed::Length)?;
            // Repeated lengths must agree (RFC 9110 §8.6).
            if length.is_some_and(|l| l != v) {
                return Err(Malformed::Length);
            }
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoded = true;
            // chunked must be the final coding for the body to be delimited by it.
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    close = false;
                }
            }
        } else if h.name.eq_ignore_ascii_case(variant) {
            let start = h.value.as_ptr() as usize - base;
            found = Some(start..start + h.value.len());
        }
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if transfer_encoded {
        // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3 item 3); a final coding
        // other than chunked runs to the close.
        if chunked { Framing::Chunked } else { Framing::UntilClose }
    } else if let Some(l) = length {
        Framing::Length(l)
    } else {
        Framing::UntilClose
    };
    let close = close || (transfer_encoded && !chunked) || framing == Framing::UntilClose;
    Ok(Some(Head {
        len,
        status,
        framing,
        close,
        variant: found,
    }))
}

/// A chunked body decoder (RFC 9112 §7.1) that discards the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chunked {
    /// Expecting a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk's data: bytes left.
    Data(u64),
    /// After a chunk's data: expecting CRLF.
    DataEnd,
    /// After the last chunk: trailer lines until a blank one.
    Trailer,
    Done,
}

impl Chunked {
    /// Consume what can be consumed from `buf`; returns the bytes used. Stops at `Done`,
    /// or when more input is needed.
    pub fn feed(&mut self, buf: &[u8]) -> Result<usize, Malformed> {
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            match *self {
                Chunked::Done => return Ok(at),
                Chunked::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, 0))) => {
                        at += n;
                        *self = Chunked::Trailer;
                    }
                    Ok(httparse::Status::Complete((n, size))) => {
                        at += n;
                        *self = Chunked::Data(size);
                    }
                    Ok(httparse::Status::Partial) if rest.len() > 4096 => return Err(Malformed::Chunk),
                    Ok(httparse::Status::Partial) => return Ok(at),
                    Err(_) => return Err(Malformed::Chunk),
                },
                Chunked::Data(left) => {
                    if rest.is_empty() {
                        return Ok(at);
                    }
                    let take = left.min(rest.len() as u64);
                    at += take as usize;
                    *self = if take == left {
                        Chunked::DataEnd
                    } else {
                        Chunked::Data(left - take)
                    };
                }
                Chunked::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(at);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(Malformed::Chunk);
                    }
                    at += 2;
                    *self = Chunked::Size;
                }
                Chunked::Trailer => match memchr::memmem::find(rest, b"\r\n") {
                    Some(0) => {
                        at += 2;
                        *self = Chunked::Done;
                    }
                    Some(i) => at += i + 2,
                    None if rest.len() > MAX_HEAD => return Err(Malformed::Chunk),
                    None => return Ok(at),
                },
            }
        }
    }
}

/// Why an exchange failed (all of them count as a broken connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A read or write error: reset, refused, broken pipe.
    Io,
    /// The answer was not HTTP/1.x, or its framing was invalid.
    Malformed,
    /// The connection closed before the answer was complete.
    Closed,
}

impl From<io::Error> for Failure {
    fn from(_: io::Error) -> Self {
        Failure::Io
    }
}

impl From<Malformed> for Failure {
    fn from(_: Malformed) -> Self {
        Failure::Malformed
    }
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

/// An answer: status, the id the caller gave the variant header's value, and whether the
/// connection may carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub variant: Option<u16>,
    pub reusable: bool,
}

impl Conn {
    pub async fn open(addr: std::net::SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
        })
    }

    /// Whether the server has closed this idle connection (or sent something unasked).
    /// Costs no system call unless the socket was reported readable.
    pub fn is_stale(&mut self) -> bool {
        if self.start != self.end {
            return true;
        }
        let mut probe = [0u8; 1];
        !matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Write `request` (a complete HTTP/1.1 request) and read the answer, discarding its
    /// body. `variant` names the header whose value `intern` turns into an id.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head_request: bool,
        variant: &str,
        mut intern: impl FnMut(&[u8]) -> u16,
    ) -> Result<Answer, Failure> {
        self.stream.write_all(request).await?;
        self.start = 0;
        self.end = 0;
        let head = loop {
            if let Some(h) = parse_head(&self.buf[self.start..self.end], head_request, variant)? {
                if (100..200).contains(&h.status) && h.status != 101 {
                    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                    self.start += h.len;
                    continue;
                }
                break h;
            }
            self.fill(true).await?;
        };
        let variant = head
            .variant
            .clone()
            .map(|r| intern(&self.buf[self.start + r.start..self.start + r.end]));
        self.start += head.len;
        let mut reusable = !head.close;
        match head.framing {
            Framing::Empty => {}
            Framing::Length(mut left) => loop {
                let take = left.min((self.end - self.start) as u64);
                self.start += take as usize;
                left -= take;
                if left == 0 {
                    break;
                }
                self.fill(false).await?;
            },
            Framing::Chunked => {
                let mut state = Chunked::default();
                loop {
                    let used = state.feed(&self.buf[self.start..self.end])?;
                    self.start += used;
                    if state == Chunked::Done {
                        break;
                    }
                    self.fill(false).await?;
                }
            }
            Framing::UntilClose => {
                loop {
                    self.start = self.end;
                    if !self.fill_inner(false).await? {
                        break;
                    }
                }
                reusable = false;
            }
        }
        // Bytes past the answer were not asked for (pipelining is off): do not reuse.
        if self.start != self.end {
            reusable = false;
        }
        Ok(Answer {
            status: head.status,
            variant,
            reusable,
        })
    }

    /// Read more; the end of the stream here is a truncated answer.
    async fn fill(&mut self, keep: bool) -> Result<(), Failure> {
        if self.fill_inner(keep).await? {
            Ok(())
        } else {
            Err(Failure::Closed)
        }
    }

    /// Make room and read once. `keep`: the unread bytes are a head still being parsed,
    /// so they are kept (moved to the front, the buffer grown up to `MAX_HEAD`); otherwise
    /// they are body bytes already accounted for and only the unread tail is kept.
    async fn fill_inner(&mut self, keep: bool) -> Result<bool, Failure> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if keep && self.end == self.buf.len() {
                if self.buf.len() >= MAX_HEAD {
                    return Err(Failure::Malformed);
                }
                self.buf.resize((self.buf.len() * 2).min(MAX_HEAD), 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head(s: &str) -> Head {
        parse_head(s.as_bytes(), false, "x-mlctl-variant").unwrap().unwrap()
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Mlctl-Variant: v2\r\n\r\nhello");
        assert_eq!((h.status, h.framing, h.close), (200, Framing::Length(12), false));
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Mlctl-Variant: v2\r\n\r\n";
        assert_eq!(&raw[h.variant.unwrap()], "v2");
        assert_eq!(h.len, raw.len());
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n");
        assert_eq!((h.framing, h.close), (Framing::Chunked, false));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
        let h = head("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n\r\n");
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
        for s in [
            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\n\r\n",
        ] {
            assert_eq!(head(s).framing, Framing::Empty);
        }
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, "x")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Empty);
        assert!(head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").close);
        assert!(!head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n").close);
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false, "x"), Ok(None));
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTPT/1.1 200 OK\r\n\r\n",
        ] {
            assert!(parse_head(bad.as_bytes(), false, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn chunked_bodies_are_skipped_whole() {
        let body = b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let mut c = Chunked::default();
        let used = c.feed(body).unwrap();
        assert_eq!(c, Chunked::Done);
        assert_eq!(&body[used..], b"NEXT");
        assert!(Chunked::default().feed(b"5\r\nhelloXX").is_err());
        assert!(Chunked::default().feed(b"zz\r\n").is_err());
    }

    /// Split `input` at the given cut points and feed the pieces one at a time, as reads do.
    fn feed_in_pieces(input: &[u8], cuts: &[usize]) -> Result<(Chunked, usize), Malformed> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(input.len());
        let (mut state, mut consumed) = (Chunked::default(), 0);
        for &end in &cuts {
            consumed += state.feed(&input[consumed..end])?;
            if state == Chunked::Done {
                break;
            }
        }
        Ok((state, consumed))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any chunked encoding of any body, delivered in any pieces, ends exactly at its end.
        #[test]
        fn chunked_decoding_ends_where_the_body_ends(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..6),
            cuts in prop::collection::vec(any::<usize>(), 0..6),
            upper in any::<bool>(),
        ) {
            let mut wire = Vec::new();
            for c in &chunks {
                let size = if upper { format!("{:X}", c.len()) } else { format!("{:x}", c.len()) };
                wire.extend_from_slice(size.as_bytes());
                wire.extend_from_slice(b"\r\n");
                wire.extend_from_slice(c);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            let n = wire.len();
            wire.extend_from_slice(b"HTTP/1.1");
            let (state, used) = feed_in_pieces(&wire, &cuts).unwrap();
            prop_assert_eq!(state, Chunked::Done);
            prop_assert_eq!(used, n);
        }

        /// Arbitrary bytes never panic either parser.
        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
            let _ = parse_head(&bytes, false, "x-mlctl-variant");
            let mut with_head = b"HTTP/1.1 200 OK\r\n".to_vec();
            with_head.extend_from_slice(&bytes);
            let _ = parse_head(&with_head, false, "x-mlctl-variant");
            let _ = feed_in_pieces(&bytes, &cuts);
        }
    }

    /// A scripted server answering in small writes: content-length, chunked, 100-continue,
    /// a 204 and a close-delimited answer, on one connection where allowed.
    #[tokio::test]
    async fn answers_are_read_whole_over_a_real_socket() {
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answers: Vec<&'static [u8]> = vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-mlctl-variant: blue\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 500 Oops\r\n\r\nuntil the end",
        ];
        let script = answers.clone();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 1024];
            for a in script {
                let _ = s.read(&mut req).await.unwrap();
                for piece in a.chunks(3) {
                    s.write_all(piece).await.unwrap();
                    s.flush().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
        });
        let mut conn = Conn::open(addr).await.unwrap();
        let req = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let mut seen = Vec::new();
        let mut intern = |v: &[u8]| {
            seen.push(v.to_vec());
            7
        };
        let a = conn.exchange(req, false, "x-mlctl-variant", &mut intern).await.unwrap();
        assert_eq!(
            a,
            Answer {
                status: 200,
                variant: Some(7),
                reusable: true
            }
        );
        assert!(!conn.is_stale());
        let a = conn.exchange(req, false, "x-mlctl-variant", &mut intern).await.unwrap();
        assert_eq!(
            a,
            Answer {
                status: 201,
                variant: None,
                reusable: true
            }
        );
        let a = conn.exchange(req, false, "x-mlctl-variant", &mut intern).await.unwrap();
        assert_eq!(
            a,
            Answer {
                status: 204,
                variant: None,
                reusable: true
            }
        );
        let a = conn.exchange(req, false, "x-mlctl-variant", &mut intern).await.unwrap();
        assert_eq!(
            a,
            Answer {
                status: 500,
                variant: None,
                reusable: false
            }
        );
        assert_eq!(seen, vec![b"blue".to_vec()]);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_truncated_answer_is_an_error_and_a_closed_idle_connection_is_stale() {
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            drop(s);
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.read(&mut req).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
                .await
                .unwrap();
        });
        let req = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let mut conn = Conn::open(addr).await.unwrap();
        let a = conn.exchange(req, false, "v", |_| 0).await.unwrap();
        assert!(a.reusable);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(conn.is_stale(), "the server closed the idle connection");
        let mut conn = Conn::open(addr).await.unwrap();
        let e = conn.exchange(req, false, "v", |_| 0).await.unwrap_err();
        assert_eq!(e, Failure::Closed);
        server.await.unwrap();
    }
}
