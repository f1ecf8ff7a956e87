//! Decimal amounts in a chain's base units: `1.5` XRP is 1 500 000 drops, `0.25` SOL is
//! 250 000 000 lamports. One rule for every chain: plain digits with at most one point and at
//! most `places` digits after it (`.5` and `5.` are fine); no sign, no exponent, no rounding —
//! an amount that does not fit the base unit exactly is refused rather than silently cut.

/// `text` in base units with `places` decimals, or `None` when it is not such an amount or
/// does not fit in a `u128`.
pub fn parse_decimal(text: &str, places: usize) -> Option<u128> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !digits(whole)
        || !digits(fraction)
        || fraction.len() > places
    {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u128 = if places == 0 {
        0
    } else {
        format!("{fraction:0<places$}").parse().ok()?
    };
    10u128
        .checked_pow(u32::try_from(places).ok()?)?
        .checked_mul(whole)?
        .checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::parse_decimal;

    #[test]
    fn decimals_in_base_units() {
        assert_eq!(parse_decimal("1", 6), Some(1_000_000));
        assert_eq!(parse_decimal("1.5", 6), Some(1_500_000));
        assert_eq!(parse_decimal(".5", 6), Some(500_000));
        assert_eq!(parse_decimal("5.", 6), Some(5_000_000));
        assert_eq!(parse_decimal("0.000001", 6), Some(1));
        assert_eq!(parse_decimal("007", 0), Some(7));
        for bad in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            "1.2.3",
            " 1",
            "0.0000001",
            "abc",
            "1.5",
        ] {
            let places = if bad == "1.5" { 0 } else { 6 };
            assert_eq!(parse_decimal(bad, places), None, "{bad:?}");
        }
        assert_eq!(parse_decimal(&"9".repeat(40), 0), None);
        assert_eq!(parse_decimal(&"9".repeat(30), 24), None);
    }
}
