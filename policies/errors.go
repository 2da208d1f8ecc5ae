package policies

import (
	"fmt"
	"strings"
)

// Error is why a policy file was refused: the file, the line when the YAML
// parser knows it, the dotted path of the offending field and the problem,
// e.g.
//
//	policies/x.yaml:31: datasets.npr.columns.length_of_stay_days.bounds: lo 90 > hi 0
//
// Load and Parse return one *Error for the first problem they meet (in
// the order code_lists, datasets, roles, projects, templates; within a
// section in file order), so the same file always gives the same error.
type Error struct {
	// File is the policy file's path as given to Load or Parse.
	File string
	// Line is the 1-based line of the offending node; 0 when unknown.
	Line int
	// Field is the dotted path of the field, e.g. "projects.p1.members[0].role";
	// empty for a problem of the whole file.
	Field string
	// Problem says what is wrong.
	Problem string
	// Err is the underlying error (file system, YAML syntax), if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ParamError is a template parameter value that does not fit its
// declaration. Its text names the parameter and what is wrong and never
// echoes the value it was given.
type ParamError struct {
	// Param is the parameter's name.
	Param string
	// Problem says what is wrong, e.g. "must be an integer, not text".
	Problem string
}

// Error implements error.
func (e *ParamError) Error() string {
	return fmt.Sprintf("parameter %q %s", e.Param, e.Problem)
}
