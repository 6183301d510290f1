//! XCDR1 ("classic" CDR) as ROS 2 serialises messages: a 4-byte encapsulation header
//! (`00 00` big endian, `00 01` little endian, then two option bytes), then the fields,
//! each primitive aligned to its own size counted from the byte after the header.
//!
//! The reader never trusts a length field: a string or sequence length is checked against
//! the bytes left before anything is allocated, so a corrupted message is an error, not an
//! out-of-memory abort.

use crate::error::CdrError;

const HEADER_LEN: usize = 4;

/// Reads fields in order from one serialised message; borrows byte sequences from it.
pub struct CdrReader<'a> {
    body: &'a [u8],
    pos: usize,
    little_endian: bool,
}

impl<'a> CdrReader<'a> {
    /// Checks the encapsulation header and positions the reader at the first field.
    pub fn new(bytes: &'a [u8]) -> Result<Self, CdrError> {
        if bytes.len() < HEADER_LEN {
            return Err(CdrError::NoHeader { len: bytes.len() });
        }
        let little_endian = match u16::from_be_bytes([bytes[0], bytes[1]]) {
            0x0000 => false,
            0x0001 => true,
            other => return Err(CdrError::Representation(other)),
        };
        Ok(CdrReader {
            body: &bytes[HEADER_LEN..],
            pos: 0,
            little_endian,
        })
    }

    pub fn little_endian(&self) -> bool {
        self.little_endian
    }

    /// Bytes after the last field read (padding or trailing data).
    pub fn remaining(&self) -> usize {
        self.body.len().saturating_sub(self.pos)
    }

    fn take(&mut self, field: &'static str, align: usize, n: usize) -> Result<&'a [u8], CdrError> {
        let start = self.pos.div_ceil(align) * align;
        let available = self.body.len().saturating_sub(start);
        if n > available {
            return Err(CdrError::Truncated {
                field,
                offset: start,
                needed: n,
                available,
            });
        }
        self.pos = start + n;
        Ok(&self.body[start..start + n])
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], CdrError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N, N)?);
        if !self.little_endian {
            out.reverse();
        }
        Ok(out)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, CdrError> {
        Ok(self.take(field, 1, 1)?[0])
    }

    pub fn bool(&mut self, field: &'static str) -> Result<bool, CdrError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(CdrError::BadBool { field, value }),
        }
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, CdrError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub fn i32(&mut self, field: &'static str) -> Result<i32, CdrError> {
        Ok(i32::from_le_bytes(self.array(field)?))
    }

    pub fn f64(&mut self, field: &'static str) -> Result<f64, CdrError> {
        Ok(f64::from_le_bytes(self.array(field)?))
    }

    /// A length prefix, checked against what is left assuming `elem_size` bytes per element.
    pub fn length(&mut self, field: &'static str, elem_size: usize) -> Result<usize, CdrError> {
        let offset = self.pos.div_ceil(4) * 4;
        let len = self.u32(field)?;
        let available = self.remaining();
        let needed = (len as u64).saturating_mul(elem_size as u64);
        if needed > available as u64 {
            return Err(CdrError::BadLength {
                field,
                offset,
                len,
                available,
            });
        }
        Ok(len as usize)
    }

    /// A string: length including the terminating NUL, the bytes, the NUL.
    pub fn string(&mut self, field: &'static str) -> Result<String, CdrError> {
        let len = self.length(field, 1)?;
        if len == 0 {
            // Not valid CDR, but some writers emit it for "".
            return Ok(String::new());
        }
        let bytes = self.take(field, 1, len)?;
        match bytes.split_last() {
            Some((0, text)) => Ok(String::from_utf8_lossy(text).into_owned()),
            _ => Err(CdrError::NoNul { field }),
        }
    }

    /// A `uint8[]`, borrowed from the message.
    pub fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], CdrError> {
        let len = self.length(field, 1)?;
        self.take(field, 1, len)
    }

    /// A `float64[]`.
    pub fn f64_seq(&mut self, field: &'static str) -> Result<Vec<f64>, CdrError> {
        let len = self.length(field, 8)?;
        // Alignment padding may make the checked length fall short by up to 7 bytes; the
        // element reads below are checked again.
        (0..len).map(|_| self.f64(field)).collect()
    }

    /// A `float64[N]`.
    pub fn f64_array<const N: usize>(&mut self, field: &'static str) -> Result<[f64; N], CdrError> {
        let mut out = [0.0; N];
        for v in &mut out {
            *v = self.f64(field)?;
        }
        Ok(out)
    }
}

/// Writes a little-endian XCDR1 message (the encoding every ROS 2 middleware emits on x86/arm).
pub struct CdrWriter {
    buf: Vec<u8>,
}

impl Default for CdrWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CdrWriter {
    pub fn new() -> Self {
        CdrWriter {
            buf: vec![0x00, 0x01, 0x00, 0x00],
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn align(&mut self, n: usize) {
        let body = self.buf.len() - HEADER_LEN;
        let pad = body.div_ceil(n) * n - body;
        self.buf.resize(self.buf.len() + pad, 0);
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn f64(&mut self, v: f64) {
        self.align(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A sequence length. Lengths beyond `u32::MAX` cannot be expressed in CDR; callers only
    /// pass lengths of in-memory collections far below that.
    pub fn length(&mut self, len: usize) {
        self.u32(u32::try_from(len).unwrap_or(u32::MAX));
    }

    pub fn string(&mut self, s: &str) {
        self.length(s.len() + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.length(b.len());
        self.buf.extend_from_slice(b);
    }

    pub fn f64_seq(&mut self, v: &[f64]) {
        self.length(v.len());
        v.iter().for_each(|&x| self.f64(x));
    }

    pub fn f64_array(&mut self, v: &[f64]) {
        v.iter().for_each(|&x| self.f64(x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-assembled big-endian message: u8, (pad 3) u32, (pad 4... none) f64, string.
    #[test]
    fn reads_big_endian_with_alignment_from_after_header() {
        let mut m = vec![0x00, 0x00, 0xAB, 0xCD]; // CDR_BE, options ignored
        m.push(7); // u8 at body offset 0
        m.extend_from_slice(&[0, 0, 0]); // pad to 4
        m.extend_from_slice(&0x01020304u32.to_be_bytes()); // offset 4
        m.extend_from_slice(&2.5f64.to_be_bytes()); // offset 8: already 8-aligned
        m.extend_from_slice(&3u32.to_be_bytes());
        m.extend_from_slice(b"hi\0");
        let mut r = CdrReader::new(&m).unwrap();
        assert!(!r.little_endian());
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u32("b").unwrap(), 0x01020304);
        assert_eq!(r.f64("c").unwrap(), 2.5);
        assert_eq!(r.string("d").unwrap(), "hi");
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn writer_and_reader_agree_on_padding() {
        let mut w = CdrWriter::new();
        w.u8(1);
        w.f64(-1.25);
        w.string("abc");
        w.f64_seq(&[1.0, 2.0]);
        w.bytes(&[9, 8, 7]);
        w.bool(true);
        w.i32(-5);
        let bytes = w.finish();
        // u8 at 0, f64 at 8 (7 pad bytes), so the f64 starts 4 + 8 bytes into the message.
        assert_eq!(&bytes[12..20], &(-1.25f64).to_le_bytes());
        let mut r = CdrReader::new(&bytes).unwrap();
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.f64("b").unwrap(), -1.25);
        assert_eq!(r.string("c").unwrap(), "abc");
        assert_eq!(r.f64_seq("d").unwrap(), vec![1.0, 2.0]);
        assert_eq!(r.bytes("e").unwrap(), &[9, 8, 7]);
        assert!(r.bool("f").unwrap());
        assert_eq!(r.i32("g").unwrap(), -5);
    }

    #[test]
    fn huge_length_is_an_error_not_an_allocation() {
        let mut m = vec![0x00, 0x01, 0, 0];
        m.extend_from_slice(&u32::MAX.to_le_bytes());
        m.extend_from_slice(&[1, 2, 3]);
        let err = CdrReader::new(&m).unwrap().bytes("data").unwrap_err();
        assert!(
            matches!(
                err,
                CdrError::BadLength {
                    field: "data",
                    len: u32::MAX,
                    available: 3,
                    ..
                }
            ),
            "{err}"
        );
        let err = CdrReader::new(&m).unwrap().f64_seq("d").unwrap_err();
        assert!(matches!(err, CdrError::BadLength { .. }), "{err}");
    }

    #[test]
    fn rejects_bad_headers_truncation_and_bad_values() {
        assert!(matches!(
            CdrReader::new(&[0, 1]),
            Err(CdrError::NoHeader { len: 2 })
        ));
        assert!(matches!(
            CdrReader::new(&[0, 7, 0, 0]),
            Err(CdrError::Representation(7))
        ));
        let mut r = CdrReader::new(&[0, 1, 0, 0, 1, 2]).unwrap();
        assert!(matches!(
            r.u32("x"),
            Err(CdrError::Truncated {
                field: "x",
                needed: 4,
                ..
            })
        ));
        let mut r = CdrReader::new(&[0, 1, 0, 0, 2]).unwrap();
        assert!(matches!(
            r.bool("flag"),
            Err(CdrError::BadBool { value: 2, .. })
        ));
        let mut m = vec![0, 1, 0, 0];
        m.extend_from_slice(&2u32.to_le_bytes());
        m.extend_from_slice(b"ab");
        let mut r = CdrReader::new(&m).unwrap();
        assert!(matches!(r.string("s"), Err(CdrError::NoNul { field: "s" })));
    }
}
