//! Kubernetes resource quantities (`500m`, `1.5`, `2Gi`, `1e3`, `128M`) as exact integers:
//! milli-units for CPU and GPUs, bytes for memory and storage.

/// Parses a quantity into thousandths of its base unit (`"500m"` → 500, `"2"` → 2000,
/// `"1Ki"` → 1_024_000). Rounds up, as Kubernetes does for requests.
pub(crate) fn parse_milli(q: &str) -> Result<u128, String> {
    let q = q.trim();
    if q.is_empty() {
        return Err("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into());
    }
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let number = number.strip_prefix('+').unwrap_or(number);
    if number.is_empty() || number.matches('.').count() > 1 || number == "." {
        return Err("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into());
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    // value = digits / 10^frac_len
    let digits: u128 = format!("{int_part}{frac_part}")
        .parse::<u128>()
        .unwrap_or(0);
    let frac_len = frac_part.len() as u32;
    // multiplier as (numerator, denominator) over the base unit, then ×1000 for milli.
    let (num, den): (u128, u128) = match suffix {
        "" => (1, 1),
        "n" => (1, 1_000_000_000),
        "u" => (1, 1_000_000),
        "m" => (1, 1000),
        "k" => (1000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        s if s.starts_with(['e', 'E']) => {
            let exp: i32 = s[1..].parse().map_err(|_| format!("invalid quantity {q:?}"))?;
            if !(0..=18).contains(&exp) {
                return Err(format!("quantity {q:?} is out of range"));
            }
            (10u128.pow(exp as u32), 1)
        }
        _ => return Err("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into()),
    };
    let den = den
        .checked_mul(
            10u128
                .checked_pow(frac_len)
                .ok_or("quantity has too many decimals")?,
        )
        .ok_or("quantity out of range")?;
    let value = digits
        .checked_mul(num)
        .and_then(|v| v.checked_mul(1000))
        .ok_or_else(|| format!("quantity {q:?} is out of range"))?;
    Ok(value.div_ceil(den))
}

/// Parses into whole base units, rounding up (`"1Gi"` → 1073741824 bytes; `"500m"` → 1).
pub(crate) fn parse_units(q: &str) -> Result<u128, String> {
    Ok(parse_milli(q)?.div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_milli("500m"), Ok(500));
        assert_eq!(parse_milli("2"), Ok(2000));
        assert_eq!(parse_milli("1.5"), Ok(1500));
        assert_eq!(parse_milli("0.1"), Ok(100));
        assert_eq!(parse_units("1Gi"), Ok(1 << 30));
        assert_eq!(parse_units("128M"), Ok(128_000_000));
        assert_eq!(parse_units("1e3"), Ok(1000));
        assert_eq!(parse_units("1.5Gi"), Ok(1_610_612_736));
        assert_eq!(parse_units("100n"), Ok(1));
        assert!(parse_milli("abc").is_err());
        assert!(parse_milli("1Qi").is_err());
        assert!(parse_milli("").is_err());
        assert!(parse_milli("-1").is_err());
    }
}
