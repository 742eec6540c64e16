// SPDX-License-Identifier: GPL-2.0

//! Parsing of boolean module parameters, as the kernel's `param_set_bool()` does it.

/// Parses a boolean parameter value exactly like `param_set_bool()` of Linux 6.12.
///
/// `None` stands for a NULL value, a bare `damon_stat.enabled` on the kernel command
/// line, which `param_set_bool()` treats as `"1"`: it gives `Some(true)`. Otherwise the
/// bytes (up to, not including, a terminating NUL) are judged like `kstrtobool()` of
/// `lib/kstrtox.c`, which looks at the first one or two bytes only:
///
/// - `y`, `Y`, `t`, `T` or `1` first: true;
/// - `n`, `N`, `f`, `F` or `0` first: false;
/// - `o` or `O` followed by `n` or `N`: true, by `f` or `F`: false;
/// - anything else, including an empty value or a leading space: `None` (`-EINVAL`).
///
/// The rest is ignored, so `"yes"` and `"1\n"` are true but so is `"yellow"`, and
/// `"nonsense"`, `"0x1"` and `"off-by-one"` are false. Writes through sysfs usually carry
/// a trailing newline, which this ignores as well.
pub fn parse_bool(input: Option<&[u8]>) -> Option<bool> {
    let Some(bytes) = input else {
        return Some(true);
    };
    match bytes {
        [b'y' | b'Y' | b't' | b'T' | b'1', ..] => Some(true),
        [b'n' | b'N' | b'f' | b'F' | b'0', ..] => Some(false),
        [b'o' | b'O', b'n' | b'N', ..] => Some(true),
        [b'o' | b'O', b'f' | b'F', ..] => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_means_set() {
        assert_eq!(parse_bool(None), Some(true));
    }

    #[test]
    fn first_bytes_only() {
        assert_eq!(parse_bool(Some(b"Y")), Some(true));
        assert_eq!(parse_bool(Some(b"N\n")), Some(false));
        assert_eq!(parse_bool(Some(b"on")), Some(true));
        assert_eq!(parse_bool(Some(b"OFF")), Some(false));
        assert_eq!(parse_bool(Some(b"nonsense")), Some(false));
        assert_eq!(parse_bool(Some(b"o")), None);
        assert_eq!(parse_bool(Some(b"")), None);
        assert_eq!(parse_bool(Some(b" y")), None);
        assert_eq!(parse_bool(Some(b"o\0n")), None);
    }
}
