//! Human-readable durations ("150ms", "10s", "2m") and sizes ("512MiB",
//! "1GiB", "1GB"). Owns only parsing: the one duration parser of the
//! program (simulated durations in scenario files use it too, through
//! `crate::time::parse_duration`).
use std::time::Duration;

/// Parses a duration into nanoseconds: a decimal number followed by a unit
/// (`ns`, `us`/`µs`, `ms`, `s`, `m`/`min`, `h`). Exact integer arithmetic:
/// `"1.5ms"` is 1,500,000 ns; digits below a nanosecond are an error, as is
/// anything beyond `u64` nanoseconds. `None` when `text` is not a duration.
pub fn parse_nanos(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = trimmed.split_at(split);
    let scale: u128 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole.checked_mul(scale)?;
    let mut place = scale;
    for digit in frac.chars() {
        let d = u128::from(digit.to_digit(10)?);
        if place % 10 != 0 {
            return None;
        }
        place /= 10;
        total += d * place;
    }
    u64::try_from(total).ok()
}

/// Parses a wall-clock duration (e.g. `--timeout 1.5s`); see [`parse_nanos`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_nanos(text).map(Duration::from_nanos).ok_or_else(|| {
        format!("expected a duration such as 150ms, 10s or 2m, found `{text}` (unit must be ns, us, ms, s, m or h)")
    })
}

/// Parses a size in bytes: a number followed by `B`, `KB`, `MB`, `GB`
/// (powers of 1000) or `KiB`, `MiB`, `GiB` (powers of 1024); no unit = bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let (number, unit) = split_number(text)?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "expected a size such as 512MiB or 1GB, found `{text}`"
            ))
        }
    };
    let bytes = number * scale;
    if !(0.0..=1e18).contains(&bytes) {
        return Err(format!("size `{text}` is out of range"));
    }
    Ok(bytes as usize)
}

fn split_number(text: &str) -> Result<(f64, &str), String> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(text.len(), |e| e);
    let (number, unit) = text.split_at(end);
    let value = number
        .parse::<f64>()
        .map_err(|_| format!("expected a number followed by a unit, found `{text}`"))?;
    Ok((value, unit.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1 parsec").is_err());
    }
}
