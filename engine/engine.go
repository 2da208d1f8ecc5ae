// Package engine ties the pipeline together: parse and check (query),
// bound (plan), debit (budget), execute (exec), protect (protect) and
// audit (audit), in that order and only that order.
package engine
