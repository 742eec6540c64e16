// SPDX-License-Identifier: GPL-2.0

//! Formatting of module parameter values into the page-sized buffer sysfs gives a
//! parameter's `get`.

use core::fmt::{self, Write};

/// Writes formatted text into a fixed buffer and reports overflow instead of growing.
pub struct ParamWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> ParamWriter<'a> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// The number of bytes written.
    pub fn bytes_written(&self) -> usize {
        self.len
    }
}

impl Write for ParamWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `values` as the kernel prints an array parameter: comma separated, one
/// newline at the end (`param_array_get()`).
pub fn write_list<T: fmt::Display>(out: &mut impl Write, values: &[T]) -> fmt::Result {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.write_char(',')?;
        }
        write!(out, "{value}")?;
    }
    out.write_char('\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_list_like_param_array_get() {
        let mut buf = [0u8; 64];
        let mut w = ParamWriter::new(&mut buf);
        write_list(&mut w, &[-3i64, 0, 12]).unwrap();
        let len = w.bytes_written();
        assert_eq!(&buf[..len], b"-3,0,12\n");
    }

    #[test]
    fn reports_overflow_without_writing_past_the_buffer() {
        let mut buf = [0u8; 8];
        let mut w = ParamWriter::new(&mut buf);
        assert!(write_list(&mut w, &[123456i64, 7890]).is_err());
        assert!(w.bytes_written() <= 8);
    }

    #[test]
    fn the_longest_percentile_list_fits_in_a_page() {
        let mut buf = [0u8; 4096];
        let mut w = ParamWriter::new(&mut buf);
        write_list(&mut w, &[i64::MIN; 101]).unwrap();
        assert_eq!(w.bytes_written(), 101 * 20 + 100 + 1);
    }
}
