//! Where a message body ends, for bodies the lean path passes through
//! without decoding: a length, the end of a chunked body, or the close of
//! the connection. Pure: no I/O, so every edge is unit-tested.

/// How a body is delimited on the wire (RFC 9112, section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (a request without one, a `HEAD` answer, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`, passed through as it is.
    Chunked,
    /// Until the sender closes the connection.
    UntilClose,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ChunkError {
    #[error("a chunk size is not hexadecimal")]
    BadSize,
    #[error("a chunk size is too large")]
    SizeOverflow,
    #[error("a chunk is not followed by CRLF")]
    MissingCrlf,
}

/// Follows a chunked body byte by byte, without copying it, to find where
/// it ends: chunk sizes and extensions, data, the last chunk, trailers.
#[derive(Debug, Default)]
pub(crate) struct ChunkedScanner {
    state: State,
    size: u64,
    digits: u8,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk size's hex digits.
    #[default]
    Size,
    /// After the size: an extension (`;name=value`) up to the line end.
    Extension,
    /// The LF that ends a size line.
    SizeLf,
    /// Chunk data still to pass.
    Data(u64),
    /// The CRLF after chunk data.
    DataCr,
    DataLf,
    /// The start of a trailer line, or the empty line that ends the body.
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// The LF of the empty line that ends the body.
    EndLf,
    Done,
}

impl ChunkedScanner {
    /// Scans the next bytes of the body. `Some(n)` when the body ends
    /// after the first `n` bytes of `bytes`; `None` when all of them are
    /// body and more is to come.
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> Result<Option<usize>, ChunkError> {
        let mut i = 0;
        while i < bytes.len() {
            if let State::Data(rest) = self.state {
                let available = (bytes.len() - i) as u64;
                let take = rest.min(available);
                // `take` <= the bytes left, so it fits in usize.
                i += usize::try_from(take).unwrap_or(usize::MAX);
                self.state = if take == rest {
                    State::DataCr
                } else {
                    State::Data(rest - take)
                };
                continue;
            }
            let byte = bytes[i];
            i += 1;
            self.state = match (self.state, byte) {
                (State::Size, b'\r') if self.digits > 0 => State::SizeLf,
                (State::Size, b'\n') if self.digits > 0 => self.size_line_end(),
                (State::Size, b';' | b' ' | b'\t') if self.digits > 0 => State::Extension,
                (State::Size, b) => {
                    let digit = (b as char).to_digit(16).ok_or(ChunkError::BadSize)?;
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(digit)))
                        .ok_or(ChunkError::SizeOverflow)?;
                    self.digits = self.digits.saturating_add(1);
                    State::Size
                }
                (State::Extension, b'\r') => State::SizeLf,
                (State::Extension, b'\n') | (State::SizeLf, b'\n') => self.size_line_end(),
                (State::Extension, _) => State::Extension,
                (State::SizeLf, _) => return Err(ChunkError::MissingCrlf),
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataCr, b'\n') | (State::DataLf, b'\n') => State::Size,
                (State::DataCr | State::DataLf, _) => return Err(ChunkError::MissingCrlf),
                (State::TrailerStart, b'\r') => State::EndLf,
                (State::TrailerStart, b'\n') | (State::EndLf, b'\n') => State::Done,
                (State::TrailerStart, _) | (State::Trailer, _) if byte != b'\n' => State::Trailer,
                (State::Trailer, _) => State::TrailerStart,
                (State::EndLf, _) => return Err(ChunkError::MissingCrlf),
                // Not reached: data is skipped in bulk above, `TrailerStart`
                // with LF is matched earlier, and the scan returns at `Done`.
                (State::Data(_) | State::TrailerStart | State::Done, _) => {
                    return Err(ChunkError::MissingCrlf)
                }
            };
            if self.state == State::Done {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn size_line_end(&mut self) -> State {
        let size = std::mem::take(&mut self.size);
        self.digits = 0;
        if size == 0 {
            State::TrailerStart
        } else {
            State::Data(size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` in pieces of `step` bytes; returns where it ended.
    fn end_of(body: &[u8], step: usize) -> Result<Option<usize>, ChunkError> {
        let mut scanner = ChunkedScanner::default();
        let mut offset = 0;
        for piece in body.chunks(step) {
            if let Some(n) = scanner.scan(piece)? {
                return Ok(Some(offset + n));
            }
            offset += piece.len();
        }
        Ok(None)
    }

    #[test]
    fn finds_the_end_however_the_bytes_arrive() {
        let body = b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nNEXT";
        let end = body.len() - 4;
        for step in 1..body.len() {
            assert_eq!(end_of(body, step), Ok(Some(end)), "step {step}");
        }
    }

    #[test]
    fn trailers_are_part_of_the_body() {
        let body = b"3\r\nabc\r\n0\r\nx-sum: 1\r\ny: 2\r\n\r\nNEXT";
        assert_eq!(end_of(body, 1), Ok(Some(body.len() - 4)));
        assert_eq!(end_of(body, 100), Ok(Some(body.len() - 4)));
    }

    #[test]
    fn bare_lf_line_ends_are_tolerated() {
        let body = b"3\nabc\n0\n\nNEXT";
        assert_eq!(end_of(body, 1), Ok(Some(body.len() - 4)));
    }

    #[test]
    fn an_unfinished_body_needs_more() {
        assert_eq!(end_of(b"5\r\nhel", 2), Ok(None));
        assert_eq!(end_of(b"0\r\nx: 1\r\n", 2), Ok(None));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert_eq!(end_of(b"zz\r\n", 1), Err(ChunkError::BadSize));
        assert_eq!(end_of(b"\r\n", 1), Err(ChunkError::BadSize));
        assert_eq!(end_of(b"3\r\nabcX", 1), Err(ChunkError::MissingCrlf));
        assert_eq!(
            end_of(b"fffffffffffffffff\r\n", 1),
            Err(ChunkError::SizeOverflow)
        );
    }
}
