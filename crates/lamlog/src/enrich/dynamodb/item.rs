//! DynamoDB items ↔ [`Resolved`] metadata.
//!
//! One item per key. The partition key attribute (default `pk`, a string)
//! holds `account#function`; the other attributes mirror the fields of
//! [`FunctionMeta`], with the same names and units:
//!
//! | attribute | type | example |
//! |---|---|---|
//! | `pk` | S | `123456789012#orders-api` |
//! | `architecture` | S | `arm64` (default `x86_64`) |
//! | `region` | S | `eu-west-1` |
//! | `runtime` | S | `python3.13` |
//! | `timeout_seconds` | N | `30` |
//! | `tenant` | S | `acme` |
//! | `tags` | M of S | `{"team": {"S": "checkout"}}` |
//! | `alerts` | M | `{"memory_used_ratio": {"N": "0.95"}, "cost_spike_min_usd": {"N": "2"}, "disabled": {"SS": ["slow_cold_start"]}}` |
//! | `log_group` | S | `/custom/orders` (informative) |
//! | `ephemeral_storage_mb` | N | `10240` (above 512 is charged) |
//! | `provisioned_concurrency` | BOOL | `true` (the provisioned duration price) |
//! | `function` | S | only on items keyed by a custom log group: the function it belongs to |
//!
//! A function that logs to a custom log group needs a second item, keyed
//! `account#<log group>` and carrying `function`, because the logs only know
//! the group. Attributes not in the table (an `updated_at`, say) are ignored;
//! an item whose known attributes have the wrong shape is reported by
//! [`resolve_item`] and treated by the caller as absent, so that one bad item
//! never blocks a Kinesis shard.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use lamlog_core::meta::{split_meta_key, FunctionMeta};
use serde_json::{Map, Number, Value};

use crate::enrich::Resolved;

/// The attributes read into [`FunctionMeta`]; anything else is ignored.
const META_ATTRIBUTES: [&str; 10] = [
    "architecture",
    "region",
    "runtime",
    "timeout_seconds",
    "tenant",
    "tags",
    "alerts",
    "log_group",
    "ephemeral_storage_mb",
    "provisioned_concurrency",
];

/// Reads one item: its key (the partition key attribute) and its metadata.
/// `Err` says what was wrong with it, naming the key when it has one.
pub fn resolve_item(
    item: &HashMap<String, AttributeValue>,
    partition_key: &str,
) -> Result<(String, Resolved), String> {
    let key = match item.get(partition_key) {
        Some(AttributeValue::S(key)) => key.clone(),
        _ => return Err(format!("item without a string attribute {partition_key:?}")),
    };
    let Some((_, function_in_key)) = split_meta_key(&key) else {
        return Err(format!(
            "key {key:?} is not of the form \"account#function\" \
             (a % or # in the account is written %25 or %23)"
        ));
    };
    let function = match item.get("function") {
        Some(AttributeValue::S(function)) => function.clone(),
        None => function_in_key,
        Some(_) => return Err(format!("{key}: attribute \"function\" is not a string")),
    };
    let mut object = Map::new();
    for name in META_ATTRIBUTES {
        if let Some(value) = item.get(name) {
            let json = to_json(value).map_err(|detail| format!("{key}: {name}: {detail}"))?;
            if !json.is_null() {
                object.insert(name.to_owned(), json);
            }
        }
    }
    let meta: FunctionMeta =
        serde_json::from_value(Value::Object(object)).map_err(|error| format!("{key}: {error}"))?;
    Ok((key, Resolved { function, meta }))
}

/// The item for `key` holding `meta` (what [`resolve_item`] reads back);
/// for seeding a table in tests and tools.
pub fn meta_item(
    partition_key: &str,
    key: &str,
    function: Option<&str>,
    meta: &FunctionMeta,
) -> Result<HashMap<String, AttributeValue>, serde_json::Error> {
    let mut item = HashMap::new();
    item.insert(partition_key.to_owned(), AttributeValue::S(key.to_owned()));
    if let Some(function) = function {
        item.insert(
            "function".to_owned(),
            AttributeValue::S(function.to_owned()),
        );
    }
    if let Value::Object(fields) = serde_json::to_value(meta)? {
        for (name, value) in fields {
            if let Some(attribute) = from_json(&value) {
                item.insert(name, attribute);
            }
        }
    }
    Ok(item)
}

/// DynamoDB's typed value → plain JSON. Numbers keep integers integral.
fn to_json(value: &AttributeValue) -> Result<Value, String> {
    Ok(match value {
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::N(text) => Value::Number(parse_number(text)?),
        AttributeValue::Bool(flag) => Value::Bool(*flag),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Ss(texts) => {
            Value::Array(texts.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(texts) => Value::Array(
            texts
                .iter()
                .map(|text| parse_number(text).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::L(values) => {
            Value::Array(values.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| to_json(value).map(|json| (name.clone(), json)))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err("unsupported attribute type (binary or unknown)".to_owned()),
    })
}

/// Plain JSON → DynamoDB's typed value; `None` for an empty collection or a
/// null, which DynamoDB would refuse or which means "absent".
fn from_json(value: &Value) -> Option<AttributeValue> {
    match value {
        Value::Null => None,
        Value::Bool(flag) => Some(AttributeValue::Bool(*flag)),
        Value::Number(number) => Some(AttributeValue::N(number.to_string())),
        Value::String(text) => Some(AttributeValue::S(text.clone())),
        Value::Array(values) => Some(AttributeValue::L(
            values.iter().filter_map(from_json).collect(),
        )),
        Value::Object(fields) => Some(AttributeValue::M(
            fields
                .iter()
                .filter_map(|(name, value)| {
                    from_json(value).map(|attribute| (name.clone(), attribute))
                })
                .collect(),
        )),
    }
}

fn parse_number(text: &str) -> Result<Number, String> {
    if let Ok(integer) = text.parse::<i64>() {
        return Ok(Number::from(integer));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("{text:?} is not a finite number"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lamlog_core::meta::{AlertThresholds, Architecture};

    use super::*;

    fn full_meta() -> FunctionMeta {
        FunctionMeta {
            tenant: Some("acme".to_owned()),
            architecture: Architecture::Arm64,
            region: Some("eu-west-1".to_owned()),
            runtime: Some("python3.13".to_owned()),
            timeout_seconds: Some(30.0),
            tags: BTreeMap::from([("team".to_owned(), "checkout".to_owned())]),
            alerts: AlertThresholds {
                memory_used_ratio: Some(0.95),
                error_rate_min_invocations: Some(50),
                cost_spike_multiple: Some(5.0),
                cost_spike_min_usd: Some(2.0),
                memory_growth_horizon: Some(5000),
                disabled: vec!["slow_cold_start".to_owned()],
                ..AlertThresholds::default()
            },
            log_group: Some("/custom/orders".to_owned()),
            ephemeral_storage_mb: Some(10_240),
            provisioned_concurrency: true,
        }
    }

    #[test]
    fn an_item_round_trips() {
        let meta = full_meta();
        let item = meta_item("pk", "1#orders", None, &meta).unwrap();
        let (key, resolved) = resolve_item(&item, "pk").unwrap();
        assert_eq!(key, "1#orders");
        assert_eq!(resolved.function, "orders");
        assert_eq!(resolved.meta, meta);
    }

    #[test]
    fn custom_log_group_items_name_their_function_and_string_sets_read_as_lists() {
        let mut item = meta_item("id", "1#/custom/orders", Some("orders"), &full_meta()).unwrap();
        let alerts = AttributeValue::M(HashMap::from([(
            "disabled".to_owned(),
            AttributeValue::Ss(vec!["timeout".to_owned()]),
        )]));
        item.insert("alerts".to_owned(), alerts);
        item.insert("updated_at".to_owned(), AttributeValue::N("17".to_owned()));
        let (key, resolved) = resolve_item(&item, "id").unwrap();
        assert_eq!(key, "1#/custom/orders");
        assert_eq!(resolved.function, "orders");
        assert_eq!(resolved.meta.alerts.disabled, ["timeout"]);
    }

    #[test]
    fn bad_items_say_which_key_and_attribute() {
        let mut item = meta_item("pk", "1#f", None, &FunctionMeta::default()).unwrap();
        item.insert(
            "architecture".to_owned(),
            AttributeValue::S("sparc".to_owned()),
        );
        let error = resolve_item(&item, "pk").unwrap_err();
        assert!(error.starts_with("1#f: "), "{error}");
        item.insert(
            "timeout_seconds".to_owned(),
            AttributeValue::N("x".to_owned()),
        );
        let error = resolve_item(&item, "pk").unwrap_err();
        assert!(error.contains("timeout_seconds"), "{error}");
        assert!(resolve_item(&HashMap::new(), "pk").is_err());
    }
}
