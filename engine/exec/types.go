package exec

import "strings"

// integerTypes are DuckDB's integer types.
var integerTypes = map[string]bool{
	"TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true, "HUGEINT": true,
	"UTINYINT": true, "USMALLINT": true, "UINTEGER": true, "UBIGINT": true, "UHUGEINT": true,
}

// isIntegerType reports whether duckType (a DuckDB type name) is an integer type.
func isIntegerType(duckType string) bool { return integerTypes[duckType] }

// isNumericType reports whether duckType is an integer, floating point or
// decimal type.
func isNumericType(duckType string) bool {
	return isIntegerType(duckType) || duckType == "FLOAT" || duckType == "DOUBLE" ||
		strings.HasPrefix(duckType, "DECIMAL")
}

// floorDiv divides rounding toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
