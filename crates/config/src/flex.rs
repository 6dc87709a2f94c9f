//! Lenient scalar readers for the places where Patroni accepts a string for a number or a boolean
//! (values from environment variables, `ttl: "30"`), and the list-or-comma-string form of host lists.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Patroni's `parse_bool`: `on/off/true/false/yes/no/1/0`, any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// Seconds from `30`, `"30"`, `"30s"`, `"2min"` (Patroni's durations with a unit).
pub fn seconds(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !c.is_ascii_digit() && c != '-')
                .unwrap_or(s.len());
            let (n, unit) = s.split_at(split);
            let n: i64 = n.parse().ok()?;
            let factor = match unit.trim() {
                "" | "s" => 1,
                "min" => 60,
                "h" => 3600,
                "d" => 86_400,
                "ms" => return Some(n / 1000),
                _ => return None,
            };
            n.checked_mul(factor)
        }
        _ => None,
    }
}

struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Ok(v as i64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean (true/false, on/off, yes/no)")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        parse_bool(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// Deserializes an optional integer that may be written as a string.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<Int>::deserialize(d).map(|o| o.map(|i| i.0))
}

/// Deserializes an optional boolean that may be written as a string.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Option::<Bool>::deserialize(d).map(|o| o.map(|b| b.0))
}

/// Deserializes a boolean that may be written as a string; absent or `null` is false.
pub fn bool_or_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    opt_bool(d).map(|b| b.unwrap_or(false))
}

/// An integer read leniently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor).map(Int)
    }
}

/// An integer read leniently, with the value as it was written: Patroni publishes tags such as
/// `failover_priority: '1'` in the member key unchanged (a string stays a string).
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenInt {
    pub value: i64,
    pub written: serde_json::Value,
}

impl<'de> Deserialize<'de> for WrittenInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let written = serde_json::Value::deserialize(d)?;
        let value = written
            .clone()
            .deserialize_any(IntVisitor)
            .map_err(de::Error::custom)?;
        Ok(WrittenInt { value, written })
    }
}

#[cfg(test)]
impl serde::Serialize for WrittenInt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.written.serialize(s)
    }
}

/// A boolean read leniently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bool(pub bool);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor).map(Bool)
    }
}

/// A list of `host:port` written either as a YAML list or as one comma-separated string
/// (`hosts: e1:2379, e2:2379`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct HostList(pub Vec<String>);

impl<'de> Deserialize<'de> for HostList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            List(Vec<String>),
        }
        let hosts = match Form::deserialize(d).map_err(|_| {
            de::Error::custom("expected a list of host:port or a comma-separated string of them")
        })? {
            Form::Text(text) => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            Form::List(list) => list.into_iter().map(|s| s.trim().to_string()).collect(),
        };
        Ok(HostList(hosts))
    }
}
