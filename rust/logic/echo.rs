// SPDX-License-Identifier: GPL-2.0

//! Quoting user input in log lines.

use core::fmt;

/// The most input bytes [`Echo`] shows.
pub const ECHO_MAX: usize = 24;

/// Shows bytes a user wrote, for a log line: quoted, with anything but
/// printable ASCII escaped (`\n`, `\xff`), and cut after [`ECHO_MAX`] bytes
/// with `...`, so that hostile input cannot forge or flood log lines.
pub struct Echo<'a>(pub &'a [u8]);

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'")?;
        for &c in self.0.iter().take(ECHO_MAX) {
            match c {
                b'\n' => f.write_str("\\n")?,
                b'\t' => f.write_str("\\t")?,
                b'\'' | b'\\' => write!(f, "\\{}", c as char)?,
                0x20..=0x7e => write!(f, "{}", c as char)?,
                _ => write!(f, "\\x{c:02x}")?,
            }
        }
        f.write_str("'")?;
        if self.0.len() > ECHO_MAX {
            f.write_str("...")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn escapes_and_cuts() {
        assert_eq!(Echo(b"").to_string(), "''");
        assert_eq!(Echo(b"0x10\n").to_string(), "'0x10\\n'");
        assert_eq!(
            Echo(b"a'b\\\t\xff\x00").to_string(),
            "'a\\'b\\\\\\t\\xff\\x00'"
        );
        assert_eq!(
            Echo(b"99999999999999999999999999999").to_string(),
            "'999999999999999999999999'..."
        );
    }
}
