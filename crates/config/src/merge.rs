//! Deep merge of configuration trees, with Patroni's `patch_config` rules: mappings merge key by key,
//! a `null` in the overlay removes the key, anything else replaces it.

use serde_json::Value;

/// Merges `overlay` into `base`.
pub fn deep_merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                if value.is_null() {
                    base.remove(&key);
                    continue;
                }
                match base.get_mut(&key) {
                    Some(existing @ Value::Object(_)) if value.is_object() => {
                        deep_merge(existing, value)
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_nested_maps_replaces_scalars_and_lists_and_null_removes() {
        let mut base = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": 1});
        deep_merge(
            &mut base,
            json!({"a": {"c": [3], "f": true}, "d": {"g": 1}, "e": null}),
        );
        assert_eq!(
            base,
            json!({"a": {"b": 1, "c": [3], "f": true}, "d": {"g": 1}})
        );
    }
}
