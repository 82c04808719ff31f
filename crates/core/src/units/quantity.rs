//! Kubernetes resource quantities: `500m`, `2`, `1.5Gi`, `100M`, `1e3`.
//!
//! A quantity is kept exactly, to the nanounit, with the format it was written in. The HPA
//! works in milli-units (`MilliValue()`, rounded up); printing uses the canonical form the API
//! server and kubectl use, so a target written as `500Mi` prints as `500Mi` and a current
//! average built from milli-units prints as `19600m` or `314572800`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a quantity prints: the suffix family it was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuantityFormat {
    /// `n u m "" k M G T P E`.
    DecimalSI,
    /// `Ki Mi Gi Ti Pi Ei` (falls back to decimal for values below 1024 or with fractions).
    BinarySI,
    /// `1e3`, `12e-3`.
    DecimalExponent,
}

/// A Kubernetes `resource.Quantity`.
#[derive(Clone, Copy)]
pub struct Quantity {
    /// Value in nano-units (10⁻⁹).
    nanos: i128,
    format: QuantityFormat,
}

/// Why a quantity string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid quantity {0:?}: expected a number with an optional suffix, like 500m, 2, 1.5Gi, 100M or 1e3"
)]
pub struct QuantityError(pub String);

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Zero, decimal.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: QuantityFormat::DecimalSI,
    };

    /// A quantity of `milli` thousandths (Kubernetes `NewMilliQuantity`).
    pub const fn from_milli(milli: i64, format: QuantityFormat) -> Self {
        Quantity {
            nanos: milli as i128 * 1_000_000,
            format,
        }
    }

    /// A quantity of whole units (Kubernetes `NewQuantity`).
    pub const fn from_units(units: i64, format: QuantityFormat) -> Self {
        Quantity {
            nanos: units as i128 * NANO,
            format,
        }
    }

    /// The value in thousandths, rounded up, saturating at the i64 range (`MilliValue()`).
    pub fn milli_value(&self) -> i64 {
        saturate(div_ceil(self.nanos, 1_000_000))
    }

    /// The value in whole units, rounded up, saturating at the i64 range (`Value()`).
    pub fn value(&self) -> i64 {
        saturate(div_ceil(self.nanos, NANO))
    }

    /// The value as a float (for display and ratios only).
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / 1e9
    }

    /// The format this quantity prints with.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// True when strictly greater than zero.
    pub fn is_positive(&self) -> bool {
        self.nanos > 0
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(input: &str) -> Result<Self, QuantityError> {
        let err = || QuantityError(input.to_string());
        let s = input.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = s
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (number, suffix) = s.split_at(num_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err());
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));

        // Suffix: (base, exponent, format).
        let (base, exponent, format): (i128, i32, QuantityFormat) = match suffix {
            "" => (10, 0, QuantityFormat::DecimalSI),
            "n" => (10, -9, QuantityFormat::DecimalSI),
            "u" => (10, -6, QuantityFormat::DecimalSI),
            "m" => (10, -3, QuantityFormat::DecimalSI),
            "k" => (10, 3, QuantityFormat::DecimalSI),
            "M" => (10, 6, QuantityFormat::DecimalSI),
            "G" => (10, 9, QuantityFormat::DecimalSI),
            "T" => (10, 12, QuantityFormat::DecimalSI),
            "P" => (10, 15, QuantityFormat::DecimalSI),
            "E" => (10, 18, QuantityFormat::DecimalSI),
            "Ki" => (2, 10, QuantityFormat::BinarySI),
            "Mi" => (2, 20, QuantityFormat::BinarySI),
            "Gi" => (2, 30, QuantityFormat::BinarySI),
            "Ti" => (2, 40, QuantityFormat::BinarySI),
            "Pi" => (2, 50, QuantityFormat::BinarySI),
            "Ei" => (2, 60, QuantityFormat::BinarySI),
            other => {
                let exp = other.strip_prefix(['e', 'E']).ok_or_else(err)?;
                let digits = exp.trim_start_matches(['+', '-']);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err());
                }
                let e: i32 = exp.parse().map_err(|_| err())?;
                if !(-30..=30).contains(&e) {
                    return Err(err());
                }
                (10, e, QuantityFormat::DecimalExponent)
            }
        };

        // Mantissa as an integer with `frac_len` implied decimals.
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err(err());
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| err())?
        };
        let frac_len = frac_part.len() as i32;

        // nanos = mantissa * 10^-frac_len * base^exponent * 10^9, rounded up to the nanounit.
        let mut num = mantissa;
        let mut den: i128 = 1;
        let mut pow10 = 9 - frac_len;
        if base == 10 {
            pow10 += exponent;
        } else {
            num = num.checked_mul(1_i128 << exponent).ok_or_else(err)?;
        }
        if pow10 >= 0 {
            num = num
                .checked_mul(10_i128.checked_pow(pow10 as u32).ok_or_else(err)?)
                .ok_or_else(err)?;
        } else {
            den = 10_i128.checked_pow((-pow10) as u32).ok_or_else(err)?;
        }
        let nanos = div_ceil(num, den);
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        if self.format == QuantityFormat::BinarySI && self.nanos % NANO == 0 {
            let units = self.nanos / NANO;
            if units.abs() >= 1024 {
                let mut m = units;
                let mut power = 0;
                while m % 1024 == 0 && power < 6 {
                    m /= 1024;
                    power += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
                return write!(f, "{m}{suffix}");
            }
        }
        // Decimal: mantissa * 10^e with e a multiple of 3 and the mantissa an integer.
        let mut m = self.nanos;
        let mut e: i32 = -9;
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        while e.rem_euclid(3) != 0 {
            m *= 10;
            e -= 1;
        }
        if self.format == QuantityFormat::DecimalExponent {
            return if e == 0 {
                write!(f, "{m}")
            } else {
                write!(f, "{m}e{e}")
            };
        }
        while e > 18 {
            m *= 1000;
            e -= 3;
        }
        let suffix = match e {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        write!(f, "{m}{suffix}")
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({self})")
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity like 500m, 2, 1.5Gi or 100M")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity {
                    nanos: i128::from(v) * NANO,
                    format: QuantityFormat::DecimalSI,
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity {
                    nanos: i128::from(v) * NANO,
                    format: QuantityFormat::DecimalSI,
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                v.to_string().parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Kubernetes writes quantities as a number or a string (`2`, `"500m"`): the schema says so in
/// the form the API server accepts for structural schemas.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A Kubernetes quantity: a number or a string like 500m, 2, 1.5Gi or 100M.",
            "x-kubernetes-int-or-string": true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    #[test]
    fn milli_values_of_what_users_write() {
        let cases = [
            ("500m", 500),
            ("2", 2000),
            ("0.5", 500),
            ("1.5Gi", 1_610_612_736_000),
            ("100M", 100_000_000_000),
            ("1e3", 1_000_000),
            ("1k", 1_000_000),
            ("100Mi", 104_857_600_000),
            ("1n", 1), // rounded up
            ("-250m", -250),
            ("+3", 3000),
        ];
        for (text, milli) in cases {
            assert_eq!(q(text).milli_value(), milli, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_quantities() {
        for bad in ["", "m", "1.2.3", "10K", "abc", "1e", "1ex", "5mi", "."] {
            assert!(
                bad.parse::<Quantity>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn canonical_formatting_matches_kubernetes() {
        let cases = [
            (
                Quantity::from_milli(19600, QuantityFormat::DecimalSI),
                "19600m",
            ),
            (Quantity::from_milli(500, QuantityFormat::DecimalSI), "500m"),
            (Quantity::from_milli(5000, QuantityFormat::DecimalSI), "5"),
            (
                Quantity::from_milli(2_000_000, QuantityFormat::DecimalSI),
                "2k",
            ),
            (
                Quantity::from_milli(314_572_800_000, QuantityFormat::DecimalSI),
                "314572800",
            ),
            (
                Quantity::from_milli(6667, QuantityFormat::DecimalSI),
                "6667m",
            ),
            (Quantity::from_milli(0, QuantityFormat::DecimalSI), "0"),
        ];
        for (quantity, text) in cases {
            assert_eq!(quantity.to_string(), text);
        }
        assert_eq!(q("500Mi").to_string(), "500Mi");
        assert_eq!(q("1.5Gi").to_string(), "1536Mi");
        assert_eq!(q("1000Mi").to_string(), "1000Mi");
        assert_eq!(q("1.5").to_string(), "1500m");
        assert_eq!(q("0.1").to_string(), "100m");
        assert_eq!(q("1e3").to_string(), "1e3");
        assert_eq!(q("1500e0").to_string(), "1500");
    }

    #[test]
    fn numbers_deserialize_as_quantities() {
        let v: Quantity = serde_json::from_str("100").unwrap();
        assert_eq!(v.milli_value(), 100_000);
        let v: Quantity = serde_json::from_str("0.5").unwrap();
        assert_eq!(v.milli_value(), 500);
        let v: Quantity = serde_json::from_str("\"1Gi\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"1Gi\"");
    }

    proptest::proptest! {
        #[test]
        fn canonical_form_parses_back_to_the_same_value(milli in -10_i64.pow(15)..10_i64.pow(15)) {
            for format in [QuantityFormat::DecimalSI, QuantityFormat::BinarySI, QuantityFormat::DecimalExponent] {
                let quantity = Quantity::from_milli(milli, format);
                let back: Quantity = quantity.to_string().parse().unwrap();
                proptest::prop_assert_eq!(back.milli_value(), milli);
            }
        }
    }
}
