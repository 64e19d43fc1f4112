// Package jsontype names the JSON type of a value decoded by encoding/json,
// for error messages that say what was expected and what was seen.
package jsontype

// Of returns "null", "a string", "a number", "a boolean", "an array" or
// "an object" for a value decoded into any by encoding/json.
func Of(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, int, int64:
		return "a number"
	case bool:
		return "a boolean"
	case []any, []string:
		return "an array"
	default:
		return "an object"
	}
}
